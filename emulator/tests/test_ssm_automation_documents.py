"""SSM Automation: CreateDocument and UpdateDocument refuse a runbook AWS refuses
(patches/_automation_validate.py, hooked in by patches/ssm_automation.py), and
accept the lab's own runbook."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from cfn_template import properties
from conftest import ACCOUNT_ID, REGION, REPO_ROOT, create_stack, unique

PLAYBOOK = REPO_ROOT / "stacks" / "playbook-ssm.yaml"


def runbook(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": "0.3", "description": "test", "mainSteps": list(steps)}


def sleep(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "action": "aws:sleep", "inputs": {"Duration": "PT1S"}, **fields}


def refused(ssm: Any, content: dict[str, Any]) -> str:
    """CreateDocument's InvalidDocumentContent message (HTTP 400) for ``content``."""
    name = unique("rb")
    with pytest.raises(ClientError) as caught:
        ssm.create_document(Name=name, DocumentType="Automation", DocumentFormat="JSON", Content=json.dumps(content))
    error = caught.value.response
    assert error["Error"]["Code"] == "InvalidDocumentContent", error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert not ssm.list_documents(Filters=[{"Key": "Name", "Values": [name]}])["DocumentIdentifiers"]
    return error["Error"]["Message"]


def test_a_runbook_without_main_steps_is_refused(aws):
    """CreateDocument: "InvalidDocumentContent: The content for the document
    isn't valid" (HTTP 400); a runbook's steps are "defined in the mainSteps
    section of your runbook".
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html
    """
    message = refused(aws("ssm"), {"schemaVersion": "0.3", "description": "no steps"})
    assert "mainSteps" in message


def test_an_unknown_action_is_refused(aws):
    """"action: The name of the action the step is to run", one of the Automation
    actions reference (aws:runShellScript is a Command document plugin, not an
    Automation action).
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html
    """
    ssm = aws("ssm")
    message = refused(ssm, runbook({"name": "run", "action": "aws:runShellScript", "inputs": {"runCommand": ["date"]}}))
    assert message == "Action aws:runShellScript in step: run is not a supported Automation action."
    assert "aws:sleeep" in refused(ssm, runbook(sleep("a"), {"name": "b", "action": "aws:sleeep", "inputs": {"Duration": "PT1S"}}))


@pytest.mark.parametrize(
    "steps, expected",
    [
        ([sleep("a", nextStep="c"), sleep("b")], "Step c referenced by nextStep in step: a does not exist."),
        ([sleep("a", onFailure="step:c"), sleep("b")], "Step c referenced by onFailure in step: a does not exist."),
        ([sleep("a", onCancel="step:c"), sleep("b")], "Step c referenced by onCancel in step: a does not exist."),
        ([{"name": "a", "action": "aws:branch", "inputs": {
            "Choices": [{"NextStep": "c", "Variable": "x", "StringEquals": "x"}], "Default": "b"}}, sleep("b")],
         "Step c referenced by NextStep in step: a does not exist."),
        ([{"name": "a", "action": "aws:branch", "inputs": {
            "Choices": [{"NextStep": "b", "Variable": "x", "StringEquals": "x"}], "Default": "c"}}, sleep("b")],
         "Step c referenced by Default in step: a does not exist."),
        ([{"name": "loop", "action": "aws:loop", "inputs": {"Iterators": ["1"], "Steps": [sleep("inner", nextStep="c")]}}],
         "Step c referenced by nextStep in step: inner does not exist."),
    ],
    ids=["nextStep", "onFailure", "onCancel", "branch-NextStep", "branch-Default", "inside-loop"],
)
def test_a_reference_to_a_missing_step_is_refused(aws, steps, expected):
    """nextStep "Specifies which step in an Automation workflow to process next",
    onFailure / onCancel "step:step_name" go to a step, and an aws:branch
    choice's NextStep and its Default name the step to run; each must name a
    step of the runbook.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-branch.html
    """
    assert refused(aws("ssm"), runbook(*steps)) == expected


def test_duplicate_step_names_are_refused(aws):
    """A step's name is "An identifier that must be unique across all step names
    in the document" - the steps inside an aws:loop included.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-loop.html
    """
    ssm = aws("ssm")
    assert refused(ssm, runbook(sleep("a"), sleep("a"))) == (
        "Duplicate step name: a. Step names must be unique across all steps in the document."
    )
    assert "Duplicate step name: a." in refused(
        ssm, runbook(sleep("a"), {"name": "loop", "action": "aws:loop", "inputs": {"Iterators": ["1"], "Steps": [sleep("a")]}})
    )


def test_execute_aws_api_with_an_unknown_service_api_or_input_is_refused(aws):
    """aws:executeAwsApi: Service is "The AWS service namespace that contains the
    API operation" (the Boto3 client name), Api "The name of the API operation",
    and "Inputs are defined by the API operation that you choose"; an unknown
    input name is answered "Unknown input names provided. Known=[ [...] ],
    Provided=[ [...] ]." The same holds for aws:waitForAwsResourceProperty and
    aws:assertAwsResourceProperty, which add PropertySelector and DesiredValues.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-waitForAwsResourceProperty.html
    """
    ssm = aws("ssm")

    def api(action: str = "aws:executeAwsApi", **inputs: Any) -> dict[str, Any]:
        return runbook({"name": "call", "action": action, "inputs": inputs})

    assert refused(ssm, api(Service="ec3", Api="DescribeInstances")) == (
        "Service ec3 in step: call is not a valid AWS service namespace."
    )
    assert refused(ssm, api(Service="ec2", Api="DescribeInstance")) == (
        "Api DescribeInstance in step: call is not a valid API operation of service ec2."
    )
    message = refused(ssm, api(Service="ec2", Api="DescribeInstances", InstanceId=["i-0123456789abcdef0"]))
    assert message.startswith("Unknown input names provided. Known=[ [Service, Api, ") and "InstanceIds" in message
    assert message.endswith("Provided=[ [Service, Api, InstanceId] ].")
    assert "Unknown input names provided." in refused(ssm, api(
        "aws:waitForAwsResourceProperty", Service="ec2", Api="DescribeSnapshots", SnapshotId=["snap-1"],
        PropertySelector="$.Snapshots[0].State", DesiredValues=["completed"]))
    # the Boto3 method name, parameter references and a Service given by reference pass
    ssm.create_document(Name=unique("rb"), DocumentType="Automation", Content=json.dumps(runbook(
        {"name": "a", "action": "aws:executeAwsApi", "inputs": {"Service": "ssm", "Api": "get_parameter", "Name": "{{ P }}"}},
        {"name": "b", "action": "aws:assertAwsResourceProperty", "inputs": {
            "Service": "ec2", "Api": "DescribeInstances", "InstanceIds": ["i-1"],
            "PropertySelector": "$.Reservations[0].Instances[0].State.Name", "DesiredValues": ["running"]}},
        {"name": "c", "action": "aws:executeAwsApi", "inputs": {"Service": "{{ S }}", "Api": "Anything", "Whatever": 1}},
    ) | {"parameters": {"P": {"type": "String"}, "S": {"type": "String"}}}))


def test_update_document_refuses_an_invalid_runbook(aws):
    """UpdateDocument answers InvalidDocumentContent like CreateDocument, and the
    document keeps its versions.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_UpdateDocument.html
    """
    ssm = aws("ssm")
    name = unique("rb")
    ssm.create_document(Name=name, DocumentType="Automation", Content=json.dumps(runbook(sleep("a"))))
    with pytest.raises(ClientError) as caught:
        ssm.update_document(Name=name, DocumentVersion="$LATEST", Content=json.dumps(runbook(sleep("a", nextStep="b"))))
    assert caught.value.response["Error"]["Code"] == "InvalidDocumentContent"
    assert ssm.describe_document(Name=name)["Document"]["LatestVersion"] == "1"


def test_cloudformation_fails_a_document_with_an_invalid_runbook(aws):
    """CloudFormation creates an AWS::SSM::Document through CreateDocument: an
    invalid runbook fails the resource with the InvalidDocumentContent message
    and the stack rolls back.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-document.html
    """
    cf = aws("cloudformation")
    body = {"Resources": {"Runbook": {"Type": "AWS::SSM::Document", "Properties": {
        "DocumentType": "Automation", "DocumentFormat": "YAML", "Content": runbook(sleep("a", onFailure="step:gone"))}}}}
    name = unique("bad-rb")
    stack = create_stack(cf, name, json.dumps(body))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in cf.describe_stack_events(StackName=name)["StackEvents"]
               if e["LogicalResourceId"] == "Runbook" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert reasons and "Step gone referenced by onFailure in step: a does not exist." in reasons[0], reasons


def lab_runbook(logical_id: str = "Runbook") -> dict[str, Any]:
    """The SSM playbook's runbook content (or its EradicationRunbook's or RecoveryRunbook's) as
    CloudFormation passes it, with the template's references filled with
    plausible values (a lab that asks for an approval)."""
    props = properties(PLAYBOOK, logical_id, {
        "AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "LabName": "t1",
        "QuarantineSecurityGroupId": "sg-0123456789abcdef0",
        "UntrackSecurityGroupId": "sg-0fedcba9876543210",
        "InstanceRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/irlab/t1/{REGION}/irlab-t1-victim-InstanceRole-ABC",
        "AlertTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:irlab-t1-alerts",
        "EvidenceBucketName": "irlab-t1-detection-evidencebucket-abc",
        "CollectDocumentName": "irlab-t1-detection-CollectDocument-ABC",
        "EvidenceBudgetSeconds": "120",
        "Indicators": "{}",
        "MemoryDocumentName": "irlab-t1-detection-MemoryDocument-ABC",
        "MemoryTool": "",
        "MemoryToolSha256": "",
        "MemoryBudgetSeconds": "300",
        "AutomationRole.Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/irlab-t1-automation",
        "ApprovalTimeoutSeconds": "3600",
        "Condition:AsksApproval": True,
        "Approvers": f"arn:aws:iam::{ACCOUNT_ID}:role/Admin",
        "EradicateDocumentName": "irlab-t1-detection-EradicateDocument-ABC",
        "EradicateInstanceProfileArn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/irlab/t1/{REGION}/irlab-t1-victim-EradicateInstanceProfile-ABC",
        "EradicateCommands": '["pkill -f xmrig || true"]',
        "EradicateTimeoutSeconds": "300",
        "EradicationRunbook": "irlab-t1-playbook-EradicationRunbook-ABC",
        "RecoveryRunbook": "irlab-t1-playbook-RecoveryRunbook-ABC",
        "SubnetId": "subnet-0123456789abcdef0",
        "AWS::StackName": "irlab-t1-playbook-ssm",
    })
    assert props["DocumentType"] == "Automation" and props["DocumentFormat"] == "YAML"
    return props["Content"]


@pytest.mark.parametrize("logical_id", ["Runbook", "EradicationRunbook", "RecoveryRunbook"])
def test_the_lab_runbook_is_accepted(aws, logical_id):
    """The lab's runbooks (stacks/playbook-ssm.yaml: the playbook, the
    eradication it starts after an approval and the recovery that follows it) pass every check CreateDocument
    makes: their actions, step references (out of a loop too), the
    executeAwsApi / waitForAwsResourceProperty / assertAwsResourceProperty
    calls with their inputs, and the aws:approve inputs.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html
    """
    ssm = aws("ssm")
    content = lab_runbook(logical_id)
    name = unique("rb")
    ssm.create_document(Name=name, DocumentType="Automation", DocumentFormat="YAML", Content=yaml.safe_dump(content, sort_keys=False))
    stored = yaml.safe_load(ssm.get_document(Name=name)["Content"])
    assert [s["name"] for s in stored["mainSteps"]] == [s["name"] for s in content["mainSteps"]]
    ssm.update_document(Name=name, DocumentVersion="$LATEST", DocumentFormat="JSON", Content=json.dumps(content))
