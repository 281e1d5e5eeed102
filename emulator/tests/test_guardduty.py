"""GuardDuty detector API (extension 7)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID


def test_second_detector_in_the_same_region_is_rejected(aws):
    """"You can have only one detector per account per Region." A second
    CreateDetector fails with BadRequestException (HTTP 400) "The request is
    rejected because a detector already exists for the current account.";
    another Region gets its own detector.
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateDetector.html
    """
    gd = aws("guardduty")
    first = gd.create_detector(Enable=True)["DetectorId"]
    with pytest.raises(ClientError) as err:
        gd.create_detector(Enable=True)
    error = err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "BadRequestException"
    assert error["Message"] == "The request is rejected because a detector already exists for the current account."
    assert gd.list_detectors()["DetectorIds"] == [first]
    other = aws("guardduty", region="eu-west-1")
    assert other.create_detector(Enable=True)["DetectorId"] != first


def test_detector_lifecycle_and_tags(aws):
    """GetDetector reports Status ENABLED/DISABLED and the Tags;
    UpdateDetector(Enable=false) disables it; TagResource / UntagResource /
    ListTagsForResource work on the detector ARN
    (arn:aws:guardduty:<region>:<account>:detector/<id>); DeleteDetector removes
    it, and calls on an unknown detector fail with BadRequestException.
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetDetector.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_UpdateDetector.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_TagResource.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_ListTagsForResource.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DeleteDetector.html
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonguardduty.html (detector ARN format)
    """
    gd = aws("guardduty")
    detector_id = gd.create_detector(
        Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES", Tags={"irlab:lab": "t1"}
    )["DetectorId"]
    detector = gd.get_detector(DetectorId=detector_id)
    assert detector["Status"] == "ENABLED"
    assert detector["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    assert detector["Tags"] == {"irlab:lab": "t1"}

    gd.update_detector(DetectorId=detector_id, Enable=False)
    assert gd.get_detector(DetectorId=detector_id)["Status"] == "DISABLED"
    gd.update_detector(DetectorId=detector_id, Enable=True)
    assert gd.get_detector(DetectorId=detector_id)["Status"] == "ENABLED"

    arn = f"arn:aws:guardduty:us-east-1:{ACCOUNT_ID}:detector/{detector_id}"
    gd.tag_resource(ResourceArn=arn, Tags={"owner": "irlab"})
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"irlab:lab": "t1", "owner": "irlab"}
    gd.untag_resource(ResourceArn=arn, TagKeys=["irlab:lab"])
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"owner": "irlab"}
    assert gd.get_detector(DetectorId=detector_id)["Tags"] == {"owner": "irlab"}

    gd.delete_detector(DetectorId=detector_id)
    assert gd.list_detectors()["DetectorIds"] == []
    for call in (
        lambda: gd.get_detector(DetectorId=detector_id),
        lambda: gd.delete_detector(DetectorId=detector_id),
        lambda: gd.list_tags_for_resource(ResourceArn=arn),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "BadRequestException"
    # after the delete a new detector may be created again
    assert gd.create_detector(Enable=True)["DetectorId"]
