"""GuardDuty threat lists (ThreatIntelSet) and trusted IP lists (IPSet)
(patches/guardduty_lists.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION

BUCKET = "irlab-threat-lists"


def _code(call) -> str:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"]


def test_threat_intel_set_lifecycle(aws):
    """CreateThreatIntelSet(DetectorId, Name, Format TXT|STIX|OTX_CSV|
    ALIEN_VAULT|PROOF_POINT|FIRE_EYE, Location, Activate, Tags) returns a
    threatIntelSetId; GetThreatIntelSet shows Name, Format, Location, Tags and
    Status (INACTIVE, ACTIVATING, ACTIVE, DEACTIVATING, ERROR, DELETE_PENDING,
    DELETED): a list is ACTIVE once GuardDuty has read its S3 object, ERROR when
    it cannot (here: the object is missing), INACTIVE when not activated.
    UpdateThreatIntelSet renames, relocates, activates or deactivates;
    ListThreatIntelSets pages; DeleteThreatIntelSet removes it. The location is an
    S3 object URL (s3://bucket/key, https://s3.amazonaws.com/bucket/key, ...). At
    most six threat lists per account and Region. The set ARN
    (arn:aws:guardduty:R:A:detector/D/threatintelset/ID) takes TagResource /
    UntagResource / ListTagsForResource. The lists go with the detector.
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateThreatIntelSet.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetThreatIntelSet.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_UpdateThreatIntelSet.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_ListThreatIntelSets.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DeleteThreatIntelSet.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_upload-lists.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty-lists-create-activate.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_limits.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_TagResource.html
    """
    gd, s3 = aws("guardduty"), aws("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="threats.txt", Body=b"203.0.113.66\n198.51.100.0/24\n")
    detector_id = gd.create_detector(Enable=True)["DetectorId"]

    set_id = gd.create_threat_intel_set(
        DetectorId=detector_id,
        Name="lab-threats",
        Format="TXT",
        Location=f"https://s3.amazonaws.com/{BUCKET}/threats.txt",
        Activate=True,
        Tags={"irlab:lab": "t1"},
    )["ThreatIntelSetId"]
    got = gd.get_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=set_id)
    assert (got["Name"], got["Format"], got["Status"], got["Tags"]) == ("lab-threats", "TXT", "ACTIVE", {"irlab:lab": "t1"})
    assert got["Location"] == f"https://s3.amazonaws.com/{BUCKET}/threats.txt"

    missing = gd.create_threat_intel_set(
        DetectorId=detector_id, Name="missing", Format="TXT", Location=f"s3://{BUCKET}/nothing.txt", Activate=True
    )["ThreatIntelSetId"]
    assert gd.get_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=missing)["Status"] == "ERROR"
    gd.update_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=missing, Location=f"s3://{BUCKET}/threats.txt", Activate=True)
    assert gd.get_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=missing)["Status"] == "ACTIVE"
    gd.update_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=missing, Name="renamed", Activate=False)
    renamed = gd.get_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=missing)
    assert (renamed["Name"], renamed["Status"]) == ("renamed", "INACTIVE")
    inactive = gd.create_threat_intel_set(
        DetectorId=detector_id, Name="later", Format="OTX_CSV", Location=f"s3://{BUCKET}/threats.txt", Activate=False
    )["ThreatIntelSetId"]
    assert gd.get_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=inactive)["Status"] == "INACTIVE"

    arn = f"arn:aws:guardduty:{REGION}:{ACCOUNT_ID}:detector/{detector_id}/threatintelset/{set_id}"
    gd.tag_resource(ResourceArn=arn, Tags={"owner": "irlab"})
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"irlab:lab": "t1", "owner": "irlab"}
    gd.untag_resource(ResourceArn=arn, TagKeys=["irlab:lab"])
    assert gd.get_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=set_id)["Tags"] == {"owner": "irlab"}

    for bad in (
        {"Format": "CSV", "Location": f"s3://{BUCKET}/threats.txt"},
        {"Format": "TXT", "Location": "https://example.com/threats.txt"},
    ):
        assert _code(lambda: gd.create_threat_intel_set(DetectorId=detector_id, Name="bad", Activate=True, **bad)) == "BadRequestException"
    for i in range(3):
        gd.create_threat_intel_set(DetectorId=detector_id, Name=f"more-{i}", Format="TXT", Location=f"s3://{BUCKET}/threats.txt", Activate=False)
    assert _code(
        lambda: gd.create_threat_intel_set(DetectorId=detector_id, Name="seventh", Format="TXT", Location=f"s3://{BUCKET}/threats.txt", Activate=False)
    ) == "BadRequestException"

    first = gd.list_threat_intel_sets(DetectorId=detector_id, MaxResults=4)
    rest = gd.list_threat_intel_sets(DetectorId=detector_id, MaxResults=4, NextToken=first["NextToken"])
    assert len(first["ThreatIntelSetIds"] + rest["ThreatIntelSetIds"]) == 6 and "NextToken" not in rest

    gd.delete_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=inactive)
    assert inactive not in gd.list_threat_intel_sets(DetectorId=detector_id)["ThreatIntelSetIds"]
    assert _code(lambda: gd.get_threat_intel_set(DetectorId=detector_id, ThreatIntelSetId=inactive)) == "BadRequestException"

    gd.delete_detector(DetectorId=detector_id)
    assert _code(lambda: gd.list_threat_intel_sets(DetectorId=detector_id)) == "BadRequestException"
    assert _code(lambda: gd.list_tags_for_resource(ResourceArn=arn)) == "BadRequestException"
    assert gd.list_threat_intel_sets(DetectorId=gd.create_detector(Enable=True)["DetectorId"])["ThreatIntelSetIds"] == []


def test_ip_set_lifecycle_and_quota(aws):
    """CreateIPSet creates a trusted IP list (IPSet): Name (alphanumeric,
    whitespace, dash and underscore), Format, Location, Activate; GetIPSet shows
    its Status (ACTIVE once read, ERROR when the object cannot be read);
    UpdateIPSet / ListIPSets / DeleteIPSet; one trusted IP list per account and
    Region; the ARN ends in /ipset/ID and takes tags.
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateIPSet.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetIPSet.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_UpdateIPSet.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DeleteIPSet.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_upload-lists.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_limits.html
    """
    gd, s3 = aws("guardduty"), aws("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="trusted.txt", Body=b"192.0.2.10\n")
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    assert _code(
        lambda: gd.create_ip_set(DetectorId=detector_id, Name="bad/name", Format="TXT", Location=f"s3://{BUCKET}/trusted.txt", Activate=True)
    ) == "BadRequestException"
    ip_set = gd.create_ip_set(
        DetectorId=detector_id, Name="lab trusted", Format="TXT", Location=f"s3://{BUCKET}/trusted.txt", Activate=True, Tags={"a": "b"}
    )["IpSetId"]
    assert gd.get_ip_set(DetectorId=detector_id, IpSetId=ip_set)["Status"] == "ACTIVE"
    assert gd.list_ip_sets(DetectorId=detector_id)["IpSetIds"] == [ip_set]
    arn = f"arn:aws:guardduty:{REGION}:{ACCOUNT_ID}:detector/{detector_id}/ipset/{ip_set}"
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "b"}
    assert _code(
        lambda: gd.create_ip_set(DetectorId=detector_id, Name="second", Format="TXT", Location=f"s3://{BUCKET}/trusted.txt", Activate=False)
    ) == "BadRequestException"
    gd.update_ip_set(DetectorId=detector_id, IpSetId=ip_set, Location=f"s3://{BUCKET}/gone.txt", Activate=True)
    assert gd.get_ip_set(DetectorId=detector_id, IpSetId=ip_set)["Status"] == "ERROR"
    gd.delete_ip_set(DetectorId=detector_id, IpSetId=ip_set)
    assert gd.list_ip_sets(DetectorId=detector_id)["IpSetIds"] == []
    assert _code(lambda: gd.get_ip_set(DetectorId=detector_id, IpSetId=ip_set)) == "BadRequestException"
