"""SSM Automation: runbooks run (patches/ssm_automation.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, create_stack, template, unique
from test_stepfunctions import set_wait_scale


def document(ssm: Any, content: dict[str, Any], name: str | None = None) -> str:
    name = name or unique("runbook")
    ssm.create_document(Name=name, Content=json.dumps(content), DocumentType="Automation", DocumentFormat="JSON")
    return name


def finish(ssm: Any, execution_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        if execution["AutomationExecutionStatus"] not in ("Pending", "InProgress", "Cancelling") or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)


def run(ssm: Any, name: str, parameters: dict[str, list[str]] | None = None, timeout: float = 30) -> dict[str, Any]:
    execution_id = ssm.start_automation_execution(DocumentName=name, Parameters=parameters or {})["AutomationExecutionId"]
    return finish(ssm, execution_id, timeout)


def steps(execution: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["StepName"], s["StepStatus"]) for s in execution["StepExecutions"]]


def test_cloudformation_document_with_object_content(aws):
    """AWS::SSM::Document ``Content`` is "The content for the new SSM document
    in JSON or YAML" - given as an object it is stored in ``DocumentFormat``
    (YAML here), so DescribeDocument and GetDocument answer: DocumentType
    Automation, the parameters, the tags (and the stack tags); ``Ref`` is the
    name. An update with ``UpdateMethod: NewVersion`` creates version 2 and
    makes it the default; deleting the stack deletes the document.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-document.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeDocument.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetDocument.html
    """
    cf, ssm = aws("cloudformation"), aws("ssm")
    stack_name = unique("rb")
    params = {"QuarantineSecurityGroupId": "sg-0123456789abcdef0", "AlertTopicArn": "arn:aws:sns:us-east-1:123456789012:alerts"}
    stack = create_stack(cf, stack_name, template("ssm_runbook.yaml"), params, Tags=[{"Key": "irlab:lab", "Value": "t1"}])
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    name = stack["Outputs"][0]["OutputValue"]
    assert name == f"{stack_name}-contain"
    described = ssm.describe_document(Name=name)["Document"]
    assert (described["DocumentType"], described["DocumentFormat"], described["SchemaVersion"]) == ("Automation", "YAML", "0.3")
    assert {p["Name"] for p in described["Parameters"]} == {"InstanceId", "QuarantineGroupId", "AutomationAssumeRole"}
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags["purpose"] == "test" and tags["irlab:lab"] == "t1"
    content = yaml.safe_load(ssm.get_document(Name=name, DocumentFormat="YAML")["Content"])
    assert content["parameters"]["QuarantineGroupId"]["default"] == "sg-0123456789abcdef0"
    assert content["mainSteps"][0]["inputs"]["InstanceIds"] == ["{{ InstanceId }}"]
    assert json.loads(ssm.get_document(Name=name)["Content"]) == content  # JSON by default

    cf.update_stack(
        StackName=stack_name,
        TemplateBody=template("ssm_runbook.yaml").replace("description: contain an EC2 instance", "description: contain it"),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Tags=[{"Key": "irlab:lab", "Value": "t1"}],
    )
    assert cf.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    described = ssm.describe_document(Name=name)["Document"]
    assert (described["DocumentVersion"], described["DefaultVersion"], described["LatestVersion"]) == ("2", "2", "2")
    assert described["Description"] == "contain it"
    cf.delete_stack(StackName=stack_name)
    with pytest.raises(ClientError):
        ssm.describe_document(Name=name)


def test_start_checks_document_and_parameters(aws):
    """StartAutomationExecution fails with AutomationDefinitionNotFoundException
    for an unknown document, AutomationDefinitionVersionNotFoundException for
    an unknown version, and InvalidAutomationExecutionParametersException for
    a parameter the document does not define, a required one that is missing,
    or a value outside allowedValues/allowedPattern; GetAutomationExecution of
    an unknown id fails with AutomationExecutionNotFoundException.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StartAutomationExecution.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetAutomationExecution.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html
    """
    ssm = aws("ssm")
    name = document(ssm, {"schemaVersion": "0.3", "parameters": {
        "Mode": {"type": "String", "allowedValues": ["contain", "release"]},
        "InstanceId": {"type": "String", "allowedPattern": "^i-[0-9a-f]+$"},
        "Note": {"type": "String", "default": "none"}},
        "mainSteps": [{"name": "Nothing", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]})

    def error(**kwargs: Any) -> str:
        with pytest.raises(ClientError) as info:
            ssm.start_automation_execution(**kwargs)
        return info.value.response["Error"]["Code"]

    assert error(DocumentName="no-such-runbook") == "AutomationDefinitionNotFoundException"
    assert error(DocumentName=name, DocumentVersion="7", Parameters={"Mode": ["contain"], "InstanceId": ["i-1"]}) == "AutomationDefinitionVersionNotFoundException"
    invalid = "InvalidAutomationExecutionParametersException"
    assert error(DocumentName=name, Parameters={"Mode": ["contain"]}) == invalid
    assert error(DocumentName=name, Parameters={"Mode": ["contain"], "InstanceId": ["i-1"], "Extra": ["x"]}) == invalid
    assert error(DocumentName=name, Parameters={"Mode": ["delete"], "InstanceId": ["i-1"]}) == invalid
    assert error(DocumentName=name, Parameters={"Mode": ["contain"], "InstanceId": ["vol-1"]}) == invalid
    execution = run(ssm, name, {"Mode": ["contain"], "InstanceId": ["i-1"]})
    assert execution["AutomationExecutionStatus"] == "Success"
    assert execution["Parameters"] == {"Mode": ["contain"], "InstanceId": ["i-1"], "Note": ["none"]}
    assert execution["DocumentVersion"] == "1"
    with pytest.raises(ClientError) as info:
        ssm.get_automation_execution(AutomationExecutionId="00000000-0000-0000-0000-000000000000")
    assert info.value.response["Error"]["Code"] == "AutomationExecutionNotFoundException"


def test_steps_branch_outputs_failure_handling_and_script(aws, emulator):
    """Runbook semantics: ``{{ Param }}`` and ``{{ Step.Output }}`` are
    interpolated (outputs by JSONPath Selector, typed String/StringList/
    Integer/Boolean/StringMap), ``aws:branch`` evaluates Choices in order
    (And/Or/Not, string/numeric/boolean operators) and falls back to Default;
    ``onFailure: Continue`` goes on (isCritical then defaults to false, so the
    execution can still succeed), ``maxAttempts`` retries, ``step:NAME`` jumps
    (from inside an ``aws:loop`` too: the loop "inherits those properties");
    ``aws:sleep`` waits its ISO 8601 Duration; ``aws:executeScript`` runs the
    Python handler with boto3 (its ``Payload`` is the returned object); the
    document's ``outputs`` become the execution's Outputs. A failed critical
    step makes the final status Failed even when onFailure moved on.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-branch.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeScript.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-sleep.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-loop.html
    """
    ssm = aws("ssm")
    set_wait_scale(emulator, 0.01)
    ssm.put_parameter(Name="/irlab/threshold", Value="7", Type="String")
    content = {
        "schemaVersion": "0.3",
        "parameters": {"Severity": {"type": "Integer"}, "Names": {"type": "StringList", "default": ["a", "b"]},
                       "Strict": {"type": "Boolean", "default": False}},
        "outputs": ["Read.Name", "Script.Doubled", "Script.Info"],
        "mainSteps": [
            {"name": "Read", "action": "aws:executeAwsApi",
             "inputs": {"Service": "ssm", "Api": "GetParameter", "Name": "/irlab/threshold"},
             "outputs": [{"Name": "Name", "Selector": "$.Parameter.Name", "Type": "String"},
                         {"Name": "Value", "Selector": "$.Parameter.Value", "Type": "Integer"},
                         {"Name": "Parameter", "Selector": "$.Parameter", "Type": "StringMap"}]},
            {"name": "Decide", "action": "aws:branch", "inputs": {"Choices": [
                {"NextStep": "Wrong", "Variable": "{{ Severity }}", "NumericLesser": "{{ Read.Value }}"},
                {"NextStep": "Flaky", "And": [
                    {"Variable": "{{ Severity }}", "NumericGreaterOrEquals": "{{ ssm:/irlab/threshold }}"},
                    {"Variable": "{{ Names }}", "Contains": "b"},
                    {"Not": {"Variable": "{{ Strict }}", "BooleanEquals": True}},
                    {"Or": [{"Variable": "{{ Read.Name }}", "StartsWith": "/irlab/"}, {"Variable": "x", "EqualsIgnoreCase": "Y"}]}]}],
                "Default": "Wrong"}},
            {"name": "Wrong", "action": "aws:executeAwsApi", "isEnd": True,
             "inputs": {"Service": "ssm", "Api": "PutParameter", "Name": "/irlab/wrong", "Value": "x", "Type": "String"}},
            {"name": "Flaky", "action": "aws:executeAwsApi", "onFailure": "Continue", "maxAttempts": 2,
             "inputs": {"Service": "ec2", "Api": "DescribeVolumes", "VolumeIds": ["vol-0000000000000dead"]}},
            {"name": "Nap", "action": "aws:sleep", "inputs": {"Duration": "PT1M"}},
            {"name": "Script", "action": "aws:executeScript", "inputs": {
                "Runtime": "python3.11", "Handler": "handler",
                "InputPayload": {"names": "{{ Names }}", "severity": "{{ Severity }}", "parameter": "{{ Read.Parameter }}"},
                "Script": "import boto3\n\ndef handler(events, context):\n"
                          "    value = boto3.client('ssm').get_parameter(Name=events['parameter']['Name'])['Parameter']['Value']\n"
                          "    return {'doubled': events['severity'] * 2, 'names': events['names'], 'value': value,\n"
                          "            'execution': context['automation:EXECUTION_ID']}\n"},
             "outputs": [{"Name": "Doubled", "Selector": "$.Payload.doubled", "Type": "Integer"},
                         {"Name": "Info", "Selector": "$.Payload", "Type": "StringMap"}]},
        ],
    }
    name = document(ssm, content)
    started = time.monotonic()
    execution = run(ssm, name, {"Severity": ["8"]})
    assert time.monotonic() - started < 15  # a minute of sleep at scale 0.01
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    assert steps(execution) == [("Read", "Success"), ("Decide", "Success"), ("Flaky", "Failed"), ("Nap", "Success"), ("Script", "Success")]
    flaky = execution["StepExecutions"][2]
    assert "InvalidVolume.NotFound" in flaky["FailureMessage"] and flaky["IsCritical"] is False
    assert json.loads(flaky["Inputs"]["VolumeIds"]) == ["vol-0000000000000dead"]
    assert execution["StepExecutions"][1]["Outputs"]["NextStep"] == ["Flaky"]
    assert execution["Outputs"]["Read.Name"] == ["/irlab/threshold"]
    assert execution["Outputs"]["Script.Doubled"] == ["16"]
    info = json.loads(execution["Outputs"]["Script.Info"][0])
    assert info == {"doubled": 16, "names": ["a", "b"], "value": "7", "execution": execution["AutomationExecutionId"]}

    # the same runbook below the threshold takes the first choice
    assert steps(run(ssm, name, {"Severity": ["3"]})) == [("Read", "Success"), ("Decide", "Success"), ("Wrong", "Success")]

    # a critical failure that jumps elsewhere still fails the execution
    failing = document(ssm, {"schemaVersion": "0.3", "mainSteps": [
        {"name": "Break", "action": "aws:executeAwsApi", "onFailure": "step:Cleanup",
         "inputs": {"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": ["i-0000000000000dead"]}},
        {"name": "Skipped", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
        {"name": "Cleanup", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]})
    execution = run(ssm, failing)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert steps(execution) == [("Break", "Failed"), ("Cleanup", "Success")]
    assert "InvalidInstanceID.NotFound" in execution["FailureMessage"]

    # a step inside a loop that fails with step:NAME leaves the loop for NAME
    looping = document(ssm, {"schemaVersion": "0.3", "mainSteps": [
        {"name": "Each", "action": "aws:loop", "inputs": {"Iterators": ["i-0000000000000dead", "i-0000000000000beef"], "Steps": [
            {"name": "Inner", "action": "aws:executeAwsApi", "onFailure": "step:Cleanup",
             "inputs": {"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": ["{{ Each.CurrentIteratorValue }}"]}}]}},
        {"name": "Skipped", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
        {"name": "Cleanup", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]})
    execution = run(ssm, looping)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert steps(execution) == [("Each", "Failed"), ("Inner", "Failed"), ("Cleanup", "Success")]
    assert execution["StepExecutions"][1]["ParentStepDetails"]["IteratorValue"] == "i-0000000000000dead"


def test_wait_timeout_stop_and_listing(aws, emulator):
    """``aws:waitForAwsResourceProperty`` polls until the PropertySelector
    value is one of DesiredValues, and a step that exceeds ``timeoutSeconds``
    ends TimedOut (so does the execution it aborts);
    StopAutomationExecution cancels a running execution (Cancelled);
    DescribeAutomationExecutions filters by DocumentNamePrefix and
    ExecutionStatus, DescribeAutomationStepExecutions by StepName.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-waitForAwsResourceProperty.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StopAutomationExecution.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeAutomationExecutions.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeAutomationStepExecutions.html
    """
    ssm, ec2 = aws("ssm"), aws("ec2")
    set_wait_scale(emulator, 0.01)
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=4)["VolumeId"]
    wait = document(ssm, {"schemaVersion": "0.3", "parameters": {"VolumeId": {"type": "String"}, "State": {"type": "String"}},
                          "mainSteps": [{"name": "WaitForVolume", "action": "aws:waitForAwsResourceProperty", "timeoutSeconds": 60,
                                         "inputs": {"Service": "ec2", "Api": "DescribeVolumes", "VolumeIds": ["{{ VolumeId }}"],
                                                    "PropertySelector": "$.Volumes[0].State", "DesiredValues": ["{{ State }}"]}}]},
                    name=unique("irlab-wait"))
    assert run(ssm, wait, {"VolumeId": [volume], "State": ["available"]})["AutomationExecutionStatus"] == "Success"
    timed_out = run(ssm, wait, {"VolumeId": [volume], "State": ["in-use"]})
    assert timed_out["AutomationExecutionStatus"] == "TimedOut"
    assert steps(timed_out) == [("WaitForVolume", "TimedOut")]

    long = document(ssm, {"schemaVersion": "0.3", "mainSteps": [
        {"name": "Long", "action": "aws:sleep", "inputs": {"Duration": "P1D"}},
        {"name": "Never", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]})
    execution_id = ssm.start_automation_execution(DocumentName=long)["AutomationExecutionId"]
    time.sleep(0.3)
    running = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    assert running["AutomationExecutionStatus"] == "InProgress" and running["CurrentStepName"] == "Long"
    ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    stopped = finish(ssm, execution_id, timeout=5)
    assert stopped["AutomationExecutionStatus"] == "Cancelled"
    assert steps(stopped) == [("Long", "Cancelled")]

    listed = ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": ["irlab-wait"]}])
    assert sorted(e["AutomationExecutionStatus"] for e in listed["AutomationExecutionMetadataList"]) == ["Success", "TimedOut"]
    cancelled = ssm.describe_automation_executions(Filters=[{"Key": "ExecutionStatus", "Values": ["Cancelled"]}])
    assert [e["AutomationExecutionId"] for e in cancelled["AutomationExecutionMetadataList"]] == [execution_id]
    step = ssm.describe_automation_step_executions(
        AutomationExecutionId=timed_out["AutomationExecutionId"], Filters=[{"Key": "StepName", "Values": ["WaitForVolume"]}]
    )["StepExecutions"]
    assert [(s["StepName"], s["Action"], s["StepStatus"]) for s in step] == [("WaitForVolume", "aws:waitForAwsResourceProperty", "TimedOut")]


def test_cloudformation_runbook_contains_an_instance(aws, emulator):
    """End to end on a small lab of its own: a runbook created by
    CloudFormation (object Content) isolates every network interface
    (``aws:loop`` over them, ModifyNetworkInterfaceAttribute), snapshots each
    volume and waits until it is ``completed``
    (aws:waitForAwsResourceProperty), asserts the isolation
    (aws:assertAwsResourceProperty), tags the instance and summarises with
    aws:executeScript: Success, with every step in StepExecutions.  For an
    instance that does not exist the first step fails, its ``onFailure:
    step:NotifyFailure`` publishes to SNS, and the execution is Failed with
    the EC2 error in FailureMessage.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-loop.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-assertAwsResourceProperty.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetAutomationExecution.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyNetworkInterfaceAttribute.html
    """
    cf, ssm, ec2, sqs = aws("cloudformation"), aws("ssm"), aws("ec2"), aws("sqs")
    set_wait_scale(emulator, 0.01)
    lab = create_stack(cf, unique("lab"), template("containment_lab.yaml"))
    assert lab["StackStatus"] == "CREATE_COMPLETE", lab.get("StackStatusReason")
    out = {o["OutputKey"]: o["OutputValue"] for o in lab["Outputs"]}
    runbook = create_stack(cf, unique("rb"), template("ssm_runbook.yaml"), {
        "QuarantineSecurityGroupId": out["QuarantineSecurityGroupId"], "AlertTopicArn": out["AlertTopicArn"]})
    assert runbook["StackStatus"] == "CREATE_COMPLETE", runbook.get("StackStatusReason")
    name = runbook["Outputs"][0]["OutputValue"]
    quarantine, instance_id = out["QuarantineSecurityGroupId"], out["InstanceId"]

    execution = run(ssm, name, {"InstanceId": [instance_id], "AutomationAssumeRole": [out["PlaybookRoleArn"]]})
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert len(instance["NetworkInterfaces"]) == 2
    for interface in instance["NetworkInterfaces"]:
        assert [g["GroupId"] for g in interface["Groups"]] == [quarantine]
    assert {t["Key"]: t["Value"] for t in instance["Tags"]}["irlab:ir-status"] == "contained"
    volumes = sorted(m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"])
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "tag:irlab:evidence", "Values": ["true"]}])["Snapshots"]
    assert sorted(s["VolumeId"] for s in snapshots) == volumes and len(volumes) == 2
    assert {s["State"] for s in snapshots} == {"completed"}
    assert all(execution["AutomationExecutionId"] in s["Description"] for s in snapshots)
    assert steps(execution) == [
        ("DescribeInstance", "Success"), ("Running", "Success"), ("Isolate", "Success"),
        ("Quarantine", "Success"), ("Quarantine", "Success"), ("Preserve", "Success"),
        ("CreateSnapshot", "Success"), ("WaitForSnapshot", "Success"), ("CreateSnapshot", "Success"), ("WaitForSnapshot", "Success"),
        ("Settle", "Success"), ("AssertIsolated", "Success"), ("TagInstance", "Success"), ("Summarise", "Success")]
    loop_steps = [s for s in execution["StepExecutions"] if s["StepName"] == "Quarantine"]
    assert [s["ParentStepDetails"]["IteratorValue"] for s in loop_steps] == execution["Outputs"]["DescribeInstance.Interfaces"]
    assert execution["Outputs"]["Summarise.Summary"] == [f"{instance_id}: 2 interfaces isolated, 2 snapshots completed"]
    assert execution["Parameters"]["QuarantineGroupId"] == [quarantine]

    failed = run(ssm, name, {"InstanceId": ["i-0123456789abcdef0"]})
    assert failed["AutomationExecutionStatus"] == "Failed"
    assert steps(failed) == [("DescribeInstance", "Failed"), ("NotifyFailure", "Success")]
    assert "InvalidInstanceID.NotFound" in failed["FailureMessage"] and "i-0123456789abcdef0" in failed["FailureMessage"]
    body = sqs.receive_message(QueueUrl=out["AlertQueueUrl"], WaitTimeSeconds=1)["Messages"][0]["Body"]
    assert body == f"could not contain i-0123456789abcdef0 (execution {failed['AutomationExecutionId']})"
    assert ACCOUNT_ID in failed["ExecutedBy"]


def test_reset_stops_running_playbooks(aws, emulator):
    """Stand-in behaviour (no AWS counterpart): ``POST /moto-api/reset`` stops
    running Step Functions executions and automations, so a playbook started
    before a reset does not write into the fresh stand-in afterwards.  Both
    playbooks here wait 1 s, then write an SSM parameter (PutParameter).
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
    """
    import urllib.request

    ssm, sfn = aws("ssm"), aws("stepfunctions")
    runbook = document(ssm, {"schemaVersion": "0.3", "mainSteps": [
        {"name": "Wait", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
        {"name": "Write", "action": "aws:executeAwsApi",
         "inputs": {"Service": "ssm", "Api": "PutParameter", "Name": "/irlab/after-reset/ssm", "Value": "x", "Type": "String"}}]})
    machine = sfn.create_state_machine(name=unique("sm"), roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/playbook", definition=json.dumps(
        {"StartAt": "Wait", "States": {
            "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Write"},
            "Write": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ssm:putParameter",
                      "Parameters": {"Name": "/irlab/after-reset/sfn", "Value": "x", "Type": "String"}, "End": True}}}))["stateMachineArn"]
    ssm.start_automation_execution(DocumentName=runbook)
    sfn.start_execution(stateMachineArn=machine)
    time.sleep(0.2)
    request = urllib.request.Request(f"{emulator.endpoint}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(request, timeout=30).read()
    time.sleep(1.5)
    assert ssm.describe_parameters(ParameterFilters=[{"Key": "Path", "Values": ["/irlab/after-reset"]}])["Parameters"] == []
