"""Updates and change sets on an existing stack (extension 8, last item; 5)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import create_stack, physical_ids, resource_events, stack_events, unique

BASE = """
Parameters:
  Retention: {Type: Number, Default: 345600}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: !Ref Retention
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: updatable
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIp: 10.0.0.0/8}
Outputs:
  QueueUrl: {Value: !Ref Queue}
"""


def test_change_set_without_changes_fails_with_reason(aws):
    """CreateChangeSet on an existing stack with the same template and
    parameters is accepted, and the change set ends with Status FAILED and the
    StatusReason "The submitted information didn't contain changes. Submit
    different information to create a change set." (ExecutionStatus
    UNAVAILABLE). DescribeChangeSet: "StatusReason - A description of the change
    set's status. For example, if your attempt to create a change set failed,
    CloudFormation shows the error message." (The message text itself is what
    AWS returns - see e.g. ansible-collections/amazon.aws#507 - the API
    reference does not spell it out.)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-create.html
    """
    cf = aws("cloudformation")
    name = unique("cs")
    create_stack(cf, name, BASE)
    response = cf.create_change_set(
        StackName=name, ChangeSetName="same", TemplateBody=BASE, ChangeSetType="UPDATE"
    )
    described = cf.describe_change_set(ChangeSetName=response["Id"])
    assert described["Status"] == "FAILED"
    assert described["ExecutionStatus"] == "UNAVAILABLE"
    assert described["StatusReason"] == (
        "The submitted information didn't contain changes. Submit different information to create a change set."
    )
    with pytest.raises(ClientError) as err:
        cf.execute_change_set(ChangeSetName=response["Id"])
    assert err.value.response["Error"]["Code"] == "InvalidChangeSetStatus"


def test_change_set_on_existing_stack_updates_only_what_changed(aws):
    """CreateChangeSet (UPDATE) lists the changes; ExecuteChangeSet updates the
    stack (UPDATE_IN_PROGRESS ... UPDATE_COMPLETE) with an UPDATE_IN_PROGRESS /
    UPDATE_COMPLETE event for each changed resource, adds new resources
    (CREATE_*) and removes deleted ones (DELETE_* during
    UPDATE_COMPLETE_CLEANUP_IN_PROGRESS); unchanged resources are left alone.
    A security group whose rules change is updated in place ("Update requires:
    No interruption"), keeping its id.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html
    """
    cf, ec2, sns = aws("cloudformation"), aws("ec2"), aws("sns")
    name = unique("cs")
    create_stack(cf, name, BASE)
    before = physical_ids(cf, name)
    changed = BASE.replace("CidrIp: 10.0.0.0/8", "CidrIp: 192.168.0.0/16").replace(
        "Outputs:", "  Topic:\n    Type: AWS::SNS::Topic\nOutputs:"
    )
    response = cf.create_change_set(
        StackName=name, ChangeSetName="rules", TemplateBody=changed, ChangeSetType="UPDATE"
    )
    described = cf.describe_change_set(ChangeSetName="rules", StackName=name)
    assert described["Status"] == "CREATE_COMPLETE" and described["ExecutionStatus"] == "AVAILABLE"
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]["Action"] for c in described["Changes"]}
    assert changes == {"Group": "Modify", "Topic": "Add"}

    cf.execute_change_set(ChangeSetName=response["Id"])
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert cf.describe_change_set(ChangeSetName=response["Id"])["ExecutionStatus"] == "EXECUTE_COMPLETE"
    after = physical_ids(cf, name)
    assert after["Group"] == before["Group"] and after["Queue"] == before["Queue"]
    assert resource_events(cf, name, "Group")[-2:] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert resource_events(cf, name, "Queue") == ["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert resource_events(cf, name, "Topic")[-1] == "CREATE_COMPLETE"
    rules = ec2.describe_security_groups(GroupIds=[after["Group"]])["SecurityGroups"][0]["IpPermissions"]
    assert [r["IpRanges"][0]["CidrIp"] for r in rules] == ["192.168.0.0/16"]
    stack_statuses = [e["ResourceStatus"] for e in reversed(stack_events(cf, name)) if e["LogicalResourceId"] == name]
    assert stack_statuses[-3:] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]

    # removing the topic again deletes it in the cleanup phase
    cf.create_change_set(StackName=name, ChangeSetName="back", TemplateBody=BASE, ChangeSetType="UPDATE")
    cf.execute_change_set(ChangeSetName="back", StackName=name)
    assert resource_events(cf, name, "Topic")[-2:] == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    assert sns.list_topics()["Topics"] == []
    assert "Topic" not in physical_ids(cf, name)


def test_parameter_change_updates_resources_that_use_it(aws):
    """An update with a new parameter value changes the resources whose
    properties reference the parameter (here the queue's retention), in place.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html
    """
    cf, sqs = aws("cloudformation"), aws("sqs")
    name = unique("cs")
    create_stack(cf, name, BASE)
    cf.create_change_set(
        StackName=name,
        ChangeSetName="retention",
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "86400"}],
        ChangeSetType="UPDATE",
    )
    changes = cf.describe_change_set(ChangeSetName="retention", StackName=name)["Changes"]
    assert [c["ResourceChange"]["LogicalResourceId"] for c in changes] == ["Queue"]
    cf.execute_change_set(ChangeSetName="retention", StackName=name)
    url = physical_ids(cf, name)["Queue"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    assert attributes["MessageRetentionPeriod"] == "86400"
    assert resource_events(cf, name, "Group")[-1] == "CREATE_COMPLETE"


def test_update_stack_without_changes_is_rejected(aws):
    """UpdateStack with the same template and parameters fails with
    ValidationError "No updates are to be performed." (the message AWS returns -
    e.g. aws/aws-toolkit-azure-devops#536 - the API reference lists no message).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-direct.html
    """
    cf = aws("cloudformation")
    name = unique("upd")
    create_stack(cf, name, BASE)
    with pytest.raises(ClientError) as err:
        cf.update_stack(StackName=name, TemplateBody=BASE)
    assert err.value.response["Error"]["Message"] == "No updates are to be performed."


def test_create_change_set_for_a_new_stack(aws):
    """A CREATE change set makes the stack exist in REVIEW_IN_PROGRESS; executing
    it creates the resources with per-resource events and ends CREATE_COMPLETE.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html (ChangeSetType)
    """
    cf = aws("cloudformation")
    name = unique("new")
    response = cf.create_change_set(StackName=name, ChangeSetName="create", TemplateBody=BASE, ChangeSetType="CREATE")
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    cf.execute_change_set(ChangeSetName=response["Id"])
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert resource_events(cf, name, "Queue")[-1] == "CREATE_COMPLETE"
    assert set(physical_ids(cf, name)) == {"Queue", "Group"}


def test_a_parameter_passed_as_its_default_is_no_change(aws):
    """CloudFormation resolves a parameter left out to the template's Default
    ("A value of the appropriate type for the template to use if no value is
    specified"), so a change set that passes a parameter's default explicitly
    where the stack left it out (or the other way round) changes nothing and
    ends "didn't contain changes"; a different value is a change.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html"""
    cf = aws("cloudformation")
    template = BASE.replace(
        "Retention: {Type: Number, Default: 345600}",
        'Retention: {Type: Number, Default: 345600}\n  Note: {Type: String, Default: ""}',
    )
    name = unique("cs-default")
    create_stack(cf, name, template)

    def change_set(label, parameters):
        r = cf.create_change_set(
            StackName=name, ChangeSetName=label, TemplateBody=template, ChangeSetType="UPDATE", Parameters=parameters
        )
        return cf.describe_change_set(ChangeSetName=r["Id"])

    same = change_set(
        "explicit-defaults",
        [{"ParameterKey": "Note", "ParameterValue": ""}, {"ParameterKey": "Retention", "ParameterValue": "345600"}],
    )
    assert same["Status"] == "FAILED"
    assert "didn't contain changes" in same["StatusReason"]
    other = change_set("other-value", [{"ParameterKey": "Note", "ParameterValue": "x"}])
    assert other["Status"] == "CREATE_COMPLETE"


def test_use_previous_value_keeps_a_parameter_that_took_its_default(aws):
    """UsePreviousValue keeps "the existing parameter value that the stack is
    using", also when that value is the template's default because the
    parameter was left out at create (moto answered 500): the update applies
    the other, changed value and keeps the default.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html"""
    cf = aws("cloudformation")
    template = BASE.replace(
        "Retention: {Type: Number, Default: 345600}",
        'Retention: {Type: Number, Default: 345600}\n  Note: {Type: String, Default: "kept"}',
    )
    name = unique("previous-default")
    create_stack(cf, name, template)
    cf.update_stack(
        StackName=name,
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "Note", "UsePreviousValue": True},
            {"ParameterKey": "Retention", "ParameterValue": "86400"},
        ],
    )
    cf.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    params = {p["ParameterKey"]: p["ParameterValue"] for p in cf.describe_stacks(StackName=name)["Stacks"][0]["Parameters"]}
    assert params == {"Note": "kept", "Retention": "86400"}
