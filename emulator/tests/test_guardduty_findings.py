"""GuardDuty findings: sample findings, the finding APIs, EventBridge delivery
and the finding simulation hook (patches/guardduty_findings.py)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, eventually, unique, wait_idle

TOR = "UnauthorizedAccess:EC2/TorClient"
BITCOIN = "CryptoCurrency:EC2/BitcoinTool.B!DNS"
CUSTOM = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"
SSH = "UnauthorizedAccess:EC2/SSHBruteForce"
C2 = "Backdoor:EC2/C&CActivity.B!DNS"


def _queue_for_findings(aws, pattern: dict) -> str:
    """A queue that receives what a default-bus rule with ``pattern`` matches."""
    sqs, events = aws("sqs"), aws("events")
    url = sqs.create_queue(QueueName=unique("findings"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("guardduty-findings")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(pattern))["RuleArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def _events(sqs, url: str, expected: int) -> list[dict]:
    got: list[dict] = []

    def poll() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(got) >= expected

    eventually(poll, timeout=15)
    return got


def _findings(gd, detector_id: str, **criteria) -> list[dict]:
    kwargs = {"FindingCriteria": {"Criterion": criteria}} if criteria else {}
    ids = gd.list_findings(DetectorId=detector_id, **kwargs)["FindingIds"]
    return gd.get_findings(DetectorId=detector_id, FindingIds=ids)["Findings"] if ids else []


def _additional(finding: dict) -> dict:
    return json.loads(finding["Service"]["AdditionalInfo"]["Value"])


def test_sample_findings_reach_eventbridge_like_real_findings(aws, emulator):
    """End to end. CreateSampleFindings generates one sample finding per given
    type; samples are approximations with placeholder values (instance
    i-99999999) marked by service.additionalInfo.sample = true. GuardDuty sends
    each new finding, samples included ("you can use them to test ... your
    EventBridge events"), to the default event bus as source aws.guardduty,
    detail-type "GuardDuty Finding", detail = the complete finding, so a rule with
    a prefix on detail.type and an SQS target receives both. A suspended detector
    "no longer monitors ... or generates new findings": nothing is generated or
    sent.
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateSampleFindings.html
    https://docs.aws.amazon.com/guardduty/latest/ug/sample_findings.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-guardduty.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_suspend-disable.html
    """
    gd, sqs = aws("guardduty"), aws("sqs")
    url = _queue_for_findings(
        aws,
        {
            "source": ["aws.guardduty"],
            "detail-type": ["GuardDuty Finding"],
            "detail": {"type": [{"prefix": "UnauthorizedAccess:EC2/"}, {"prefix": "CryptoCurrency:EC2/"}]},
        },
    )
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[TOR, BITCOIN])

    findings = _findings(gd, detector_id)
    assert sorted(f["Type"] for f in findings) == sorted([TOR, BITCOIN])
    for finding in findings:
        assert _additional(finding)["sample"] is True
        assert finding["Resource"]["ResourceType"] == "Instance"
        assert finding["Resource"]["InstanceDetails"]["InstanceId"] == "i-99999999"
    assert {f["Id"] for f in _findings(gd, detector_id, **{"service.additionalInfo.sample": {"Equals": ["true"]}})} == {
        f["Id"] for f in findings
    }

    received = _events(sqs, url, 2)
    assert len(received) == 2
    by_type = {e["detail"]["type"]: e for e in received}
    assert set(by_type) == {TOR, BITCOIN}
    for event in received:
        assert event["source"] == "aws.guardduty" and event["detail-type"] == "GuardDuty Finding"
        assert event["account"] == ACCOUNT_ID and event["region"] == REGION and event["resources"] == []
        detail = event["detail"]
        assert detail["service"]["additionalInfo"]["sample"] is True
        assert detail["resource"]["instanceDetails"]["instanceId"] == "i-99999999"
        assert detail["id"] in {f["Id"] for f in findings} and detail["severity"] == 8

    gd.update_detector(DetectorId=detector_id, Enable=False)
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[SSH])
    wait_idle(emulator.endpoint)
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []) == []
    assert len(gd.list_findings(DetectorId=detector_id)["FindingIds"]) == 2


def test_sample_finding_format_and_default_severities(aws):
    """A finding has accountId, arn (arn:aws:guardduty:REGION:ACCOUNT:detector/
    DETECTOR/finding/ID), createdAt, id, partition, region, resource,
    schemaVersion 2.0, severity, title, description, type, updatedAt; service has
    serviceName guardduty, detectorId, action, resourceRole, archived, count,
    eventFirstSeen/eventLastSeen and additionalInfo (API form {value, type}).
    Severity is the type's default: UnauthorizedAccess:EC2/TorClient and
    CryptoCurrency:EC2/BitcoinTool.B!DNS High (8),
    UnauthorizedAccess:EC2/MaliciousIPCaller.Custom Medium (5),
    UnauthorizedAccess:EC2/SSHBruteForce Low (2); DNS findings carry a
    DNS_REQUEST action. Without FindingTypes every supported type gets a sample;
    repeating a sample updates it (count) instead of adding another.
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_Finding.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_Service.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateSampleFindings.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-ec2.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings.html (severity levels)
    """
    gd = aws("guardduty")
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[TOR, BITCOIN, CUSTOM, SSH])
    by_type = {f["Type"]: f for f in _findings(gd, detector_id)}
    assert {t: f["Severity"] for t, f in by_type.items()} == {TOR: 8.0, BITCOIN: 8.0, CUSTOM: 5.0, SSH: 2.0}

    tor = by_type[TOR]
    assert tor["Arn"] == f"arn:aws:guardduty:{REGION}:{ACCOUNT_ID}:detector/{detector_id}/finding/{tor['Id']}"
    assert len(tor["Id"]) == 32 and tor["AccountId"] == ACCOUNT_ID and tor["Region"] == REGION
    assert tor["Partition"] == "aws" and tor["SchemaVersion"] == "2.0" and tor["Title"] and tor["Description"]
    assert tor["CreatedAt"].endswith("Z") and tor["UpdatedAt"] == tor["CreatedAt"]
    service = tor["Service"]
    assert service["ServiceName"] == "guardduty" and service["DetectorId"] == detector_id
    assert service["Archived"] is False and service["Count"] == 1 and service["EventFirstSeen"]
    assert service["AdditionalInfo"]["Type"] == "default" and _additional(tor) == {"sample": True}
    assert service["Action"]["ActionType"] == "NETWORK_CONNECTION" and service["ResourceRole"] == "ACTOR"
    details = tor["Resource"]["InstanceDetails"]
    assert details["ImageId"] == "ami-99999999" and details["InstanceType"] == "m3.xlarge"
    interface = details["NetworkInterfaces"][0]
    assert interface["NetworkInterfaceId"] == "eni-bfcffe88" and interface["PrivateIpAddress"] == "10.0.0.1"
    assert by_type[BITCOIN]["Service"]["Action"]["ActionType"] == "DNS_REQUEST"
    assert by_type[SSH]["Service"]["ResourceRole"] == "TARGET"
    assert _additional(by_type[CUSTOM])["threatListName"]

    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[TOR])
    again = gd.get_findings(DetectorId=detector_id, FindingIds=[tor["Id"]])["Findings"][0]
    assert again["Service"]["Count"] == 2 and again["UpdatedAt"] >= tor["UpdatedAt"]

    gd.create_sample_findings(DetectorId=detector_id)
    every = gd.get_paginator("list_findings").paginate(DetectorId=detector_id).build_full_result()["FindingIds"]
    types = [
        f["Type"]
        for start in range(0, len(every), 50)
        for f in gd.get_findings(DetectorId=detector_id, FindingIds=every[start : start + 50])["Findings"]
    ]
    assert len(every) > 30 and len(types) == len(set(types)) == len(every)
    assert {TOR, BITCOIN, CUSTOM, SSH, C2} <= set(types)


def test_list_findings_criteria_sorting_archiving_and_statistics(aws):
    """ListFindings filters with FindingCriteria: a Criterion per attribute
    (type, severity, id, updatedAt in epoch milliseconds, service.archived,
    service.additionalInfo.sample, resource.instanceDetails.instanceId, ...) with
    Equals/NotEquals (Eq/Neq) value lists and GreaterThan/GreaterThanOrEqual/
    LessThan/LessThanOrEqual (Gt/Gte/Lt/Lte) numbers; "matches" is only for
    filters. SortCriteria orders, MaxResults (at most 50) and NextToken page.
    GetFindings leaves unknown ids out. ArchiveFindings/UnarchiveFindings set
    service.archived. GetFindingsStatistics COUNT_BY_SEVERITY counts per
    severity. Findings belong to their detector and go with DeleteDetector.
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_ListFindings.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_Condition.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_SortCriteria.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetFindings.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_ArchiveFindings.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_UnarchiveFindings.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetFindingsStatistics.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_suspend-disable.html (findings lost with the detector)
    """
    gd = aws("guardduty")
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    before = int(time.time() * 1000) - 1000
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[TOR, BITCOIN, CUSTOM, SSH])
    ids = {f["Type"]: f["Id"] for f in _findings(gd, detector_id)}

    def listed(**criteria) -> set[str]:
        found = gd.list_findings(DetectorId=detector_id, FindingCriteria={"Criterion": criteria})["FindingIds"]
        return {t for t, i in ids.items() if i in found}

    assert listed(type={"Equals": [TOR, SSH]}) == {TOR, SSH}
    assert listed(type={"Eq": [TOR]}) == {TOR}
    assert listed(type={"NotEquals": [TOR]}) == {BITCOIN, CUSTOM, SSH}
    assert listed(severity={"GreaterThanOrEqual": 7}) == {TOR, BITCOIN}
    assert listed(severity={"Gt": 2, "Lt": 8}) == {CUSTOM}
    assert listed(severity={"Lte": 2}) == {SSH}
    assert listed(severity={"Equals": ["7", "8", "9"]}) == {TOR, BITCOIN}
    assert listed(id={"Equals": [ids[CUSTOM]]}) == {CUSTOM}
    assert listed(updatedAt={"GreaterThan": before}) == set(ids)
    assert listed(updatedAt={"LessThan": before}) == set()
    assert listed(**{"resource.instanceDetails.instanceId": {"Equals": ["i-99999999"]}}) == set(ids)
    assert listed(**{"service.additionalInfo.sample": {"Equals": ["true"]}}) == set(ids)

    gd.archive_findings(DetectorId=detector_id, FindingIds=[ids[SSH], ids[CUSTOM]])
    assert listed(**{"service.archived": {"Equals": ["true"]}}) == {SSH, CUSTOM}
    assert listed(**{"service.archived": {"Equals": ["false"]}}) == {TOR, BITCOIN}
    gd.unarchive_findings(DetectorId=detector_id, FindingIds=[ids[CUSTOM]])
    assert listed(**{"service.archived": {"Equals": ["true"]}}) == {SSH}

    ordered = gd.list_findings(DetectorId=detector_id, SortCriteria={"AttributeName": "severity", "OrderBy": "ASC"})["FindingIds"]
    assert ordered[0] == ids[SSH] and ordered[1] == ids[CUSTOM]
    first = gd.list_findings(DetectorId=detector_id, MaxResults=3)
    rest = gd.list_findings(DetectorId=detector_id, MaxResults=3, NextToken=first["NextToken"])
    assert len(first["FindingIds"]) == 3 and len(rest["FindingIds"]) == 1 and "NextToken" not in rest
    assert set(first["FindingIds"]) | set(rest["FindingIds"]) == set(ids.values())

    got = gd.get_findings(DetectorId=detector_id, FindingIds=[ids[TOR], "0" * 32])["Findings"]
    assert [f["Id"] for f in got] == [ids[TOR]]
    statistics = gd.get_findings_statistics(DetectorId=detector_id, FindingStatisticTypes=["COUNT_BY_SEVERITY"])
    assert statistics["FindingStatistics"]["CountBySeverity"] == {"8.0": 2, "5.0": 1, "2.0": 1}

    with pytest.raises(ClientError) as err:
        gd.list_findings(DetectorId=detector_id, FindingCriteria={"Criterion": {"type": {"Matches": ["Unauthorized*"]}}})
    assert err.value.response["Error"]["Code"] == "BadRequestException"

    gd.delete_detector(DetectorId=detector_id)
    with pytest.raises(ClientError) as err:
        gd.list_findings(DetectorId=detector_id)
    assert err.value.response["Error"]["Code"] == "BadRequestException"
    assert gd.list_findings(DetectorId=gd.create_detector(Enable=True)["DetectorId"])["FindingIds"] == []


def _simulate(emulator, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/irlab/guardduty/findings",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_simulated_finding_for_a_real_instance(aws, emulator):
    """Stand-in-only simulation hook (the stand-in sees no traffic):
    POST /moto-api/irlab/guardduty/findings raises the finding GuardDuty would for
    a real instance. Its resource is the instance as GuardDuty describes it
    (InstanceDetails: instanceId, instanceType, imageId, launchTime, state,
    availabilityZone, tags, and per interface networkInterfaceId, vpcId, subnetId,
    securityGroups, privateIpAddress, publicIp); it is no sample; it reaches
    EventBridge as aws.guardduty. GuardDuty "generates findings based on activity
    that involves IP addresses ... in your threat lists" (the .Custom types,
    additionalInfo.threatListName) and none for IPs on a trusted IP list; a
    suspended detector generates no new findings.
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_InstanceDetails.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_NetworkInterface.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_upload-lists.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_suspend-disable.html
    """
    gd, ec2, s3, sqs = aws("guardduty"), aws("ec2"), aws("s3"), aws("sqs")
    url = _queue_for_findings(aws, {"source": ["aws.guardduty"], "detail": {"type": [{"prefix": "UnauthorizedAccess:EC2/"}]}})
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=unique("victim"), Description="victim", VpcId=vpc)["GroupId"]
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["al2023-ami-2023*"]}])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group], "AssociatePublicIpAddress": True}],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "irlab:lab", "Value": "t1"}]}],
    )["Instances"][0]
    instance_id = instance["InstanceId"]

    def described() -> dict:
        return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]

    # pending for a while after RunInstances: traffic, and so a finding, comes once it runs
    assert eventually(lambda: described()["State"]["Name"] == "running")
    described = described()
    detector_id = gd.create_detector(Enable=True)["DetectorId"]

    status, body = _simulate(emulator, {"detectorId": detector_id, "type": TOR, "instanceId": instance_id, "remoteIp": "203.0.113.9"})
    assert status == 200 and body["delivered"] is True
    finding = body["finding"]
    details = finding["resource"]["instanceDetails"]
    assert finding["type"] == TOR and finding["severity"] == 8 and finding["service"]["additionalInfo"] == {}
    assert details["instanceId"] == instance_id and details["instanceType"] == "t3.micro" and details["imageId"] == image
    assert details["instanceState"] == "running" and details["tags"] == [{"key": "irlab:lab", "value": "t1"}]
    (interface,) = details["networkInterfaces"]
    assert interface["vpcId"] == vpc and interface["subnetId"] == subnet
    assert [g["groupId"] for g in interface["securityGroups"]] == [group]
    assert interface["privateIpAddress"] == described["PrivateIpAddress"] and interface["publicIp"] == described["PublicIpAddress"]
    action = finding["service"]["action"]["networkConnectionAction"]
    assert action["remoteIpDetails"]["ipAddressV4"] == "203.0.113.9" and action["connectionDirection"] == "OUTBOUND"

    (listed,) = _findings(gd, detector_id, **{"resource.instanceDetails.instanceId": {"Equals": [instance_id]}})
    assert listed["Id"] == body["findingId"] and _additional(listed) == {}
    (event,) = _events(sqs, url, 1)
    assert event["source"] == "aws.guardduty" and event["detail"]["id"] == body["findingId"]

    assert _simulate(emulator, {"detectorId": detector_id, "type": C2, "instanceId": "i-0000000000000dead"})[0] == 404
    assert _simulate(emulator, {"detectorId": detector_id, "type": TOR})[0] == 400
    status, body = _simulate(emulator, {"detectorId": detector_id, "type": CUSTOM, "instanceId": instance_id})
    assert status == 409 and "threat list" in body["message"]

    s3.create_bucket(Bucket="irlab-lists")
    s3.put_object(Bucket="irlab-lists", Key="threats.txt", Body=b"203.0.113.66\n198.51.100.0/24\n")
    s3.put_object(Bucket="irlab-lists", Key="trusted.txt", Body=b"192.0.2.10\n")
    gd.create_threat_intel_set(DetectorId=detector_id, Name="lab-threats", Format="TXT", Location="s3://irlab-lists/threats.txt", Activate=True)
    gd.create_ip_set(DetectorId=detector_id, Name="lab-trusted", Format="TXT", Location="s3://irlab-lists/trusted.txt", Activate=True)
    status, body = _simulate(emulator, {"detectorId": detector_id, "type": CUSTOM, "instanceId": instance_id, "remoteIp": "203.0.113.66"})
    assert status == 200 and body["finding"]["severity"] == 5
    assert body["finding"]["service"]["additionalInfo"] == {"threatListName": "lab-threats"}
    status, body = _simulate(emulator, {"detectorId": detector_id, "type": TOR, "instanceId": instance_id, "remoteIp": "192.0.2.10"})
    assert status == 409 and "trusted" in body["message"]
    status, body = _simulate(emulator, {"detectorId": detector_id, "type": C2, "instanceId": instance_id, "severity": 9})
    assert status == 200 and body["finding"]["severity"] == 9
    assert body["finding"]["service"]["action"]["dnsRequestAction"]["domain"] == "guarddutyc2activityb.com"

    gd.update_detector(DetectorId=detector_id, Enable=False)
    status, body = _simulate(emulator, {"detectorId": detector_id, "type": TOR, "instanceId": instance_id})
    assert status == 409 and "suspended" in body["message"]
