"""CloudFormation stack names are claimed atomically, and ClientRequestToken /
ClientToken make retried requests the same request (patches/cloudformation.py)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import stack_events, unique

BASE = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
"""
CHANGED = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 45
"""
BROKEN = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Gone:
    Type: AWS::Irlab::DoesNotExist
"""


def _concurrently(calls: list[Any]) -> tuple[list[Any], list[dict], list[BaseException]]:
    barrier = threading.Barrier(len(calls))
    done: list[Any] = []
    refused: list[dict] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Any) -> None:
        barrier.wait()
        try:
            result = call()
            with lock:
                done.append(result)
        except ClientError as exc:
            with lock:
                refused.append(exc.response)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            with lock:
                unexpected.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return done, refused, unexpected


@pytest.fixture
def slow_stack_init(monkeypatch):
    """Widen the moment between "no stack of that name" and "stack stored", as a
    busy server would (the stand-in runs in this process)."""
    from moto.cloudformation.models import Stack

    original = Stack.__init__

    def init_slowly(self, *args, **kwargs):
        time.sleep(0.05)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Stack, "__init__", init_slowly)


def test_concurrent_create_stack_with_one_name_creates_one_stack(aws, slow_stack_init):
    """"The name must be unique in the Region in which you are creating the
    stack": of CreateStack requests for one name arriving together exactly one
    creates the stack; every other one fails with AlreadyExistsException (HTTP
    400) "Stack [name] already exists" - moto checked the name and stored the
    stack in two steps, so concurrent requests created several stacks.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html (StackName, AlreadyExistsException)
    """
    cf = [aws("cloudformation") for _ in range(6)]
    name = unique("race")
    done, refused, unexpected = _concurrently(
        [lambda c=c: c.create_stack(StackName=name, TemplateBody=BASE)["StackId"] for c in cf]
    )
    assert not unexpected
    assert len(done) == 1 and len(refused) == len(cf) - 1
    for response in refused:
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert response["Error"]["Code"] == "AlreadyExistsException"
        assert response["Error"]["Message"] == f"Stack [{name}] already exists"
    stacks = [s for s in cf[0].list_stacks()["StackSummaries"] if s["StackName"] == name]
    assert [s["StackId"] for s in stacks] == done
    assert cf[0].describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_create_stack_retried_with_its_client_request_token_is_the_same_request(aws, slow_stack_init):
    """ClientRequestToken: "A unique identifier for this CreateStack request.
    Specify this token if you plan to retry requests so that CloudFormation
    knows that you're not attempting to create a stack with the same name." A
    retry with the same name and token answers the StackId of the stack that
    request created (also while it is still being created) and creates nothing
    more; another token, or none, is another request and fails with
    AlreadyExistsException. Once the stack is deleted, the name is free again.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html (ClientRequestToken)
    """
    cf = aws("cloudformation")
    name = unique("token")
    done, refused, unexpected = _concurrently(
        [lambda: aws("cloudformation").create_stack(StackName=name, TemplateBody=BASE, ClientRequestToken="up-1")["StackId"]] * 4
    )
    assert not unexpected and not refused
    assert len(set(done)) == 1
    stack_id = done[0]
    assert cf.create_stack(StackName=name, TemplateBody=BASE, ClientRequestToken="up-1")["StackId"] == stack_id
    starts = [e for e in stack_events(cf, name) if e["LogicalResourceId"] == name and e["ResourceStatus"] == "CREATE_IN_PROGRESS"]
    assert len(starts) == 1
    for kwargs in ({"ClientRequestToken": "up-2"}, {}):
        with pytest.raises(ClientError) as err:
            cf.create_stack(StackName=name, TemplateBody=BASE, **kwargs)
        assert err.value.response["Error"]["Code"] == "AlreadyExistsException"
    # the same token for another stack name is a different request
    other = cf.create_stack(StackName=unique("token-other"), TemplateBody=BASE, ClientRequestToken="up-1")["StackId"]
    assert other != stack_id

    cf.delete_stack(StackName=stack_id)
    again = cf.create_stack(StackName=name, TemplateBody=BASE, ClientRequestToken="up-1")["StackId"]
    assert again != stack_id
    assert cf.describe_stacks(StackName=again)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_stack_events_carry_the_client_request_token_of_their_operation(aws):
    """StackEvent.ClientRequestToken: "The token passed to the operation that
    generated this event. All events triggered by a given stack operation are
    assigned the same client request token ... if you execute a CreateStack
    operation with the token token1, then all the StackEvents generated by that
    operation will have ClientRequestToken set as token1." Stack and resource
    events alike; operations without a token leave it out.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackEvent.html
    """
    cf = aws("cloudformation")
    name = unique("evtoken")
    stack_id = cf.create_stack(StackName=name, TemplateBody=BASE, ClientRequestToken="create-1")["StackId"]
    cf.update_stack(StackName=name, TemplateBody=CHANGED, ClientRequestToken="update-1")
    cf.delete_stack(StackName=stack_id, ClientRequestToken="delete-1")
    events = list(reversed(stack_events(cf, stack_id)))
    by_token: dict[str | None, list[str]] = {}
    for event in events:
        by_token.setdefault(event.get("ClientRequestToken"), []).append(
            f"{event['LogicalResourceId']}:{event['ResourceStatus']}"
        )
    assert set(by_token) == {"create-1", "update-1", "delete-1"}
    assert by_token["create-1"][0] == f"{name}:CREATE_IN_PROGRESS" and by_token["create-1"][-1] == f"{name}:CREATE_COMPLETE"
    assert "Queue:CREATE_COMPLETE" in by_token["create-1"]
    assert by_token["update-1"][0] == f"{name}:UPDATE_IN_PROGRESS" and by_token["update-1"][-1] == f"{name}:UPDATE_COMPLETE"
    assert "Queue:UPDATE_COMPLETE" in by_token["update-1"]
    assert by_token["delete-1"] == [f"{name}:DELETE_IN_PROGRESS", "Queue:DELETE_IN_PROGRESS", "Queue:DELETE_COMPLETE", f"{name}:DELETE_COMPLETE"]

    plain = unique("evplain")
    cf.create_stack(StackName=plain, TemplateBody=BASE)
    assert all("ClientRequestToken" not in e for e in stack_events(cf, plain))


def test_update_stack_retried_with_its_token_does_not_update_again(aws):
    """UpdateStack ClientRequestToken: "Specify this token if you plan to retry
    requests so that CloudFormation knows that you're not attempting to update a
    stack with the same name." A retry of a successful update with its token
    answers the StackId and changes nothing (no second update, no "No updates
    are to be performed."); another token is a new request.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html (ClientRequestToken)
    """
    cf = aws("cloudformation")
    name = unique("updtoken")
    stack_id = cf.create_stack(StackName=name, TemplateBody=BASE)["StackId"]
    assert cf.update_stack(StackName=name, TemplateBody=CHANGED, ClientRequestToken="u-1")["StackId"] == stack_id
    count = len(stack_events(cf, name))
    assert cf.update_stack(StackName=name, TemplateBody=CHANGED, ClientRequestToken="u-1")["StackId"] == stack_id
    assert len(stack_events(cf, name)) == count
    with pytest.raises(ClientError) as err:
        cf.update_stack(StackName=name, TemplateBody=CHANGED, ClientRequestToken="u-2")
    assert err.value.response["Error"]["Message"] == "No updates are to be performed."


def test_delete_stack_is_idempotent_and_its_token_names_the_request(aws):
    """DeleteStack of a deleted or unknown stack succeeds. ClientRequestToken:
    "Specify this token if you plan to retry requests so that CloudFormation
    knows that you're not attempting to delete a stack with the same name": a
    retry of a delete that ended DELETE_FAILED, with that delete's token, is the
    same request and starts nothing; a new token tries the delete again.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html (ClientRequestToken)
    """
    cf, s3 = aws("cloudformation"), aws("s3")
    name = unique("deltoken")
    bucket = unique("irlab-deltoken")
    stack_id = cf.create_stack(
        StackName=name,
        TemplateBody=f"Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: {bucket}\n",
    )["StackId"]
    s3.put_object(Bucket=bucket, Key="evidence.txt", Body=b"keep")  # a bucket with objects cannot be deleted
    cf.delete_stack(StackName=stack_id, ClientRequestToken="down-1")
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_FAILED"
    count = len(stack_events(cf, stack_id))
    cf.delete_stack(StackName=stack_id, ClientRequestToken="down-1")
    assert len(stack_events(cf, stack_id)) == count

    s3.delete_object(Bucket=bucket, Key="evidence.txt")
    cf.delete_stack(StackName=stack_id, ClientRequestToken="down-2")
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    for _ in range(2):
        cf.delete_stack(StackName=stack_id, ClientRequestToken="down-2")
        cf.delete_stack(StackName=name)
        cf.delete_stack(StackName=unique("never-existed"))
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_execute_change_set_retried_with_its_token_succeeds_once(aws):
    """ExecuteChangeSet ClientRequestToken: "Specify this token if you plan to
    retry requests so that CloudFormation knows that you're not attempting to
    execute a change set to update a stack with the same name." A retry with the
    token of the execution answers success without executing again; without it
    an executed change set cannot be executed (InvalidChangeSetStatus). Two
    executions arriving together run the change set once.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html (ClientRequestToken, InvalidChangeSetStatus)
    """
    cf = aws("cloudformation")
    name = unique("exectoken")
    cf.create_stack(StackName=name, TemplateBody=BASE)
    cs = cf.create_change_set(StackName=name, ChangeSetName="one", TemplateBody=CHANGED, ChangeSetType="UPDATE")
    done, refused, unexpected = _concurrently(
        [lambda: aws("cloudformation").execute_change_set(ChangeSetName="one", StackName=name, ClientRequestToken="x-1")] * 3
    )
    assert not unexpected and not refused and len(done) == 3
    updates = [e for e in stack_events(cf, name) if e["LogicalResourceId"] == name and e["ResourceStatus"] == "UPDATE_COMPLETE"]
    assert len(updates) == 1 and updates[0]["ClientRequestToken"] == "x-1"
    assert cf.describe_change_set(ChangeSetName=cs["Id"])["ExecutionStatus"] == "EXECUTE_COMPLETE"
    cf.execute_change_set(ChangeSetName=cs["Id"], ClientRequestToken="x-1")
    with pytest.raises(ClientError) as err:
        cf.execute_change_set(ChangeSetName=cs["Id"], ClientRequestToken="x-2")
    assert err.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    assert len([e for e in stack_events(cf, name) if e["ResourceStatus"] == "UPDATE_COMPLETE" and e["LogicalResourceId"] == name]) == 1


def test_create_change_set_name_is_unique_and_client_token_makes_retries_safe(aws):
    """CreateChangeSet ClientToken: "Specify this token if you plan to retry
    requests so that CloudFormation knows that you're not attempting to create
    another change set with the same name." A retry with the same name and token
    answers the change set that request created; the same name with another
    token fails with AlreadyExistsException ("ChangeSet NAME cannot be created
    due to a mismatch with existing attribute ClientToken", as AWS answers), or
    without tokens "The resource with the name requested already exists." - moto
    created a second change set of the same name. A CREATE change set for a
    stack that exists fails: "Stack [NAME] already exists and cannot be created
    again with the changeSet [CS]." (moto created a second stack of that name).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html (ClientToken, AlreadyExistsException)
    https://github.com/awslabs/landing-zone-accelerator-on-aws/issues/442 (the ClientToken mismatch message)
    https://github.com/compose-x/ecs_composex/issues/785 (the CREATE-on-existing-stack message)
    """
    cf = aws("cloudformation")
    name = unique("cstoken")
    cf.create_stack(StackName=name, TemplateBody=BASE)
    first = cf.create_change_set(
        StackName=name, ChangeSetName="cs-1", TemplateBody=CHANGED, ChangeSetType="UPDATE", ClientToken="t-1"
    )
    again = cf.create_change_set(
        StackName=name, ChangeSetName="cs-1", TemplateBody=CHANGED, ChangeSetType="UPDATE", ClientToken="t-1"
    )
    assert (again["Id"], again["StackId"]) == (first["Id"], first["StackId"])
    with pytest.raises(ClientError) as err:
        cf.create_change_set(StackName=name, ChangeSetName="cs-1", TemplateBody=CHANGED, ChangeSetType="UPDATE", ClientToken="t-2")
    assert err.value.response["Error"]["Code"] == "AlreadyExistsException"
    assert err.value.response["Error"]["Message"] == "ChangeSet cs-1 cannot be created due to a mismatch with existing attribute ClientToken"
    cf.create_change_set(StackName=name, ChangeSetName="cs-2", TemplateBody=CHANGED, ChangeSetType="UPDATE")
    with pytest.raises(ClientError) as err:
        cf.create_change_set(StackName=name, ChangeSetName="cs-2", TemplateBody=CHANGED, ChangeSetType="UPDATE")
    assert err.value.response["Error"]["Code"] == "AlreadyExistsException"
    assert err.value.response["Error"]["Message"] == "The resource with the name requested already exists."
    names = sorted(s["ChangeSetName"] for s in cf.list_change_sets(StackName=name)["Summaries"])
    assert names == ["cs-1", "cs-2"]
    # the same name on another stack is another change set
    other = unique("cstoken-other")
    cf.create_stack(StackName=other, TemplateBody=BASE)
    assert cf.create_change_set(StackName=other, ChangeSetName="cs-1", TemplateBody=CHANGED, ChangeSetType="UPDATE", ClientToken="t-1")["Id"] != first["Id"]

    with pytest.raises(ClientError) as err:
        cf.create_change_set(StackName=name, ChangeSetName="again", TemplateBody=BASE, ChangeSetType="CREATE")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == (
        f"Stack [{name}] already exists and cannot be created again with the changeSet [again]."
    )
    assert len([s for s in cf.list_stacks()["StackSummaries"] if s["StackName"] == name]) == 1
