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


def test_concurrent_create_detector_creates_one_detector(aws, monkeypatch):
    """"You can have only one detector per account per Region": of many
    CreateDetector requests arriving at the same moment exactly one creates the
    detector; every other one fails with BadRequestException "The request is
    rejected because a detector already exists for the current account.".
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateDetector.html
    """
    import threading
    import time

    from irlab_emulator.patches import guardduty as patch

    # widen the moment between "no detector yet" and "detector stored", as a
    # busy server would (the stand-in runs in this process)
    slow_create = patch._orig_create_detector

    def create_slowly(*args, **kwargs):
        time.sleep(0.05)
        return slow_create(*args, **kwargs)

    monkeypatch.setattr(patch, "_orig_create_detector", create_slowly)
    clients = [aws("guardduty") for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    created: list[str] = []
    refused: list[dict] = []
    unexpected: list[BaseException] = []

    def create(gd) -> None:
        barrier.wait()
        try:
            created.append(gd.create_detector(Enable=True)["DetectorId"])
        except ClientError as exc:
            refused.append(exc.response)
        except BaseException as exc:  # noqa: BLE001 - reported below
            unexpected.append(exc)

    threads = [threading.Thread(target=create, args=(gd,)) for gd in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not unexpected
    assert len(created) == 1 and len(refused) == len(clients) - 1
    for response in refused:
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert response["Error"]["Code"] == "BadRequestException"
        assert response["Error"]["Message"] == (
            "The request is rejected because a detector already exists for the current account."
        )
    assert clients[0].list_detectors()["DetectorIds"] == created


def test_create_detector_client_token_is_an_idempotency_token(aws):
    """CreateDetector's ClientToken is "the idempotency token for the create
    request": retrying the same request with the same token returns the
    detector that request created instead of failing; a different token (or the
    same token with different parameters) is a new request and fails while the
    detector exists. After DeleteDetector a new detector can be created.
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateDetector.html (clientToken)
    https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html (idempotent retries)
    """
    gd = aws("guardduty")
    first = gd.create_detector(Enable=True, ClientToken="irlab-up-1", Tags={"irlab:lab": "t1"})["DetectorId"]
    again = gd.create_detector(Enable=True, ClientToken="irlab-up-1", Tags={"irlab:lab": "t1"})["DetectorId"]
    assert again == first
    assert gd.list_detectors()["DetectorIds"] == [first]
    for kwargs in (
        {"ClientToken": "irlab-up-2", "Tags": {"irlab:lab": "t1"}},
        {"ClientToken": "irlab-up-1", "Tags": {"irlab:lab": "t2"}},
        {"Tags": {"irlab:lab": "t1"}},  # boto3 fills in a fresh token
    ):
        with pytest.raises(ClientError) as err:
            gd.create_detector(Enable=True, **kwargs)
        assert err.value.response["Error"]["Code"] == "BadRequestException"
    assert gd.list_detectors()["DetectorIds"] == [first]

    gd.delete_detector(DetectorId=first)
    new = gd.create_detector(Enable=True, ClientToken="irlab-up-1", Tags={"irlab:lab": "t1"})["DetectorId"]
    assert new != first
    assert gd.list_detectors()["DetectorIds"] == [new]
