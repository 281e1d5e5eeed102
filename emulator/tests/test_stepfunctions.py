"""Step Functions: every state machine runs (patches/stepfunctions.py)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from conftest import ACCOUNT_ID, create_stack, template, unique
from iam_roles import service_role

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/playbook"


def set_wait_scale(emulator: Any, scale: float) -> None:
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/irlab/wait-scale", data=json.dumps({"scale": scale}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["scale"] == scale


def machine(sfn: Any, definition: dict[str, Any], name: str | None = None) -> str:
    service_role(sfn, "states.amazonaws.com", ROLE.rsplit("/", 1)[-1])  # Step Functions calls AWS with it
    return sfn.create_state_machine(name=name or unique("sm"), definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]


def run(sfn: Any, arn: str, execution_input: Any = None, timeout: float = 30) -> dict[str, Any]:
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input or {}))["executionArn"]
    return finish(sfn, execution_arn, timeout)


def finish(sfn: Any, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def test_every_state_machine_executes(aws, emulator):
    """StartExecution "Starts a state machine execution": a machine runs
    whatever moto's execute_state_machine switch says (also after it is
    switched off), DescribeExecution reports RUNNING then SUCCEEDED with
    input, output, startDate and stopDate, ListExecutions lists it, and an
    execution started without a name gets a UUID ("If you don't provide a name
    for the execution, Step Functions automatically generates a universally
    unique identifier (UUID) as the execution name").
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html
    """
    sfn = aws("stepfunctions")
    arn = machine(sfn, {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
                                                      "Done": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.done", "End": True}}})
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": False}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).read()
    started = time.monotonic()
    execution_arn = sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')["executionArn"]
    name = execution_arn.rsplit(":", 1)[1]
    assert len(name) == 36 and name.count("-") == 4
    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    described = finish(sfn, execution_arn)
    assert time.monotonic() - started >= 1.0  # the Wait state really waited
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["input"]) == {"a": 1}
    assert json.loads(described["output"]) == {"a": 1, "done": {"ok": True}}
    assert described["stopDate"] >= described["startDate"]
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [(e["executionArn"], e["status"], e["name"]) for e in listed] == [(execution_arn, "SUCCEEDED", name)]


def test_cloudformation_state_machine_definition_object(aws):
    """AWS::StepFunctions::StateMachine ``Definition`` is "The Amazon States
    Language definition of the state machine" as an object, and
    ``DefinitionSubstitutions`` "A map (string to string) that specifies the
    mappings for placeholder variables in the state machine definition" -
    DescribeStateMachine shows the definition as JSON with every ``${key}``
    replaced (and ``ResultPath: null`` kept); ``Ref`` is the ARN, ``GetAtt
    Name`` the name; the machine carries its Tags and the stack tags and runs.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html
    """
    cf, sfn = aws("cloudformation"), aws("stepfunctions")
    name = unique("pb")
    stack = create_stack(
        cf, name, template("sfn_playbook.yaml"),
        {"QuarantineSecurityGroupId": "sg-0123456789abcdef0", "RoleArn": ROLE, "AlertTopicArn": "arn:aws:sns:us-east-1:123456789012:alerts"},
        Tags=[{"Key": "irlab:lab", "Value": "t1"}],
    )
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["StateMachineArn"] == f"arn:aws:states:us-east-1:{ACCOUNT_ID}:stateMachine:{name}-contain"
    assert outputs["StateMachineName"] == f"{name}-contain"
    described = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
    definition = json.loads(described["definition"])
    isolate = definition["States"]["Isolate"]
    assert isolate["ResultPath"] is None
    assert isolate["ItemProcessor"]["States"]["MoveToQuarantine"]["Parameters"]["Groups"] == ["sg-0123456789abcdef0"]
    assert definition["States"]["NotifyFailure"]["Parameters"]["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:alerts"
    assert "${" not in described["definition"]
    assert described["roleArn"] == ROLE and described["type"] == "STANDARD"
    tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=outputs["StateMachineArn"])["tags"]}
    assert tags["purpose"] == "test" and tags["irlab:lab"] == "t1"
    assert tags["aws:cloudformation:logical-id"] == "Playbook"
    # a finding below the threshold takes the Choice default
    low = run(sfn, outputs["StateMachineArn"], {"detail": {"severity": 2, "resource": {"instanceDetails": {"instanceId": "i-1"}}}})
    assert low["status"] == "SUCCEEDED"
    # Definition: "Update requires: No interruption" - same ARN, new definition
    cf.update_stack(
        StackName=name,
        TemplateBody=template("sfn_playbook.yaml").replace("Comment: contain an EC2 instance", "Comment: contain it"),
        Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in ("QuarantineSecurityGroupId", "RoleArn", "AlertTopicArn")],
        Tags=[{"Key": "irlab:lab", "Value": "t1"}],
    )
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    updated = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
    assert json.loads(updated["definition"])["Comment"] == "contain it"
    cf.delete_stack(StackName=name)
    assert sfn.list_state_machines()["stateMachines"] == []


def test_sdk_integration_results_errors_retry_and_catch(aws):
    """AWS SDK integrations take PascalCase parameters and return the API's
    response (timestamps as ISO 8601 text, so DescribeExecution shows the
    output); an error "will be composed of the service name and the error
    name, separated by a period character: ServiceName.ErrorName", with the
    documented exception prefix (Ec2) - EC2's errors, which the SDKs do not
    model, arrive as ``Ec2.Ec2Exception`` with EC2's message in the cause.
    A Retrier re-runs the task MaxAttempts times; a Catcher with ResultPath
    adds {Error, Cause} to the input and goes on; an uncaught error fails the
    execution with that error and cause (TaskFailed, ExecutionFailed events).
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html
    """
    sfn, ec2 = aws("stepfunctions"), aws("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=4)["VolumeId"]
    retry = [{"ErrorEquals": ["Ec2.Ec2Exception"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 1}]
    arn = machine(sfn, {"StartAt": "Snapshot", "States": {
        "Snapshot": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ec2:createSnapshot",
                     "Parameters": {"VolumeId.$": "$.volume", "Description": "evidence"},
                     "ResultSelector": {"id.$": "$.SnapshotId", "state.$": "$.State", "started.$": "$.StartTime"},
                     "ResultPath": "$.snapshot", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ec2:createSnapshot",
                    "Parameters": {"VolumeId": "vol-0000000000000dead"}, "Retry": retry,
                    "Catch": [{"ErrorEquals": ["Ec2.Ec2Exception"], "ResultPath": "$.caught", "Next": "Uncaught"}],
                    "End": True},
        "Uncaught": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ec2:describeInstances",
                     "Parameters": {"InstanceIds": ["i-0000000000000dead"]}, "End": True}}})
    described = run(sfn, arn, {"volume": volume})
    assert described["status"] == "FAILED"
    assert described["error"] == "Ec2.Ec2Exception"
    assert "i-0000000000000dead" in described["cause"] and "Service: Ec2" in described["cause"]
    events = history(sfn, described["executionArn"])
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["Ec2.Ec2Exception"] * 3  # two attempts, then the uncaught one
    assert "vol-0000000000000dead" in failed[0]["cause"]
    assert failed[0]["resourceType"] == "aws-sdk:ec2" and failed[0]["resource"] == "createSnapshot"
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"]["error"] == "Ec2.Ec2Exception"
    # the caught error and the snapshot reached the last state's input
    entered = [e["stateEnteredEventDetails"] for e in events if e["type"] == "TaskStateEntered"]
    last_input = json.loads(entered[-1]["input"])
    assert last_input["caught"]["Error"] == "Ec2.Ec2Exception"
    # CreateSnapshot answers at once; the snapshot is pending until EBS has copied the volume
    assert last_input["snapshot"]["state"] == "pending" and last_input["snapshot"]["id"].startswith("snap-")
    assert last_input["snapshot"]["started"].endswith("Z")
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(SnapshotIds=[last_input["snapshot"]["id"]])["Snapshots"]]


def test_flow_states_paths_intrinsics_and_context(aws, emulator):
    """The Amazon States Language the lab's workflow uses: Pass with
    Parameters/Result, Choice (IsPresent, StringEquals, NumericGreaterThan,
    NumericLessThanPath, And/Or/Not, Default), Wait with SecondsPath,
    Parallel (outputs in branch order), Map (ItemsPath, ItemSelector with
    ``$$.Map.Item.Value``, MaxConcurrency), Fail, InputPath/ResultPath/
    OutputPath/ResultSelector; a definite path selects one value, a filter or
    wildcard path a list (empty when nothing matches); the intrinsics
    States.Format, Array, ArrayLength, ArrayGetItem, JsonToString, StringToJson,
    MathAdd, UUID; the context object's Execution.Id / Execution.StartTime /
    State.EnteredTime; a Fail state's Error and Cause become the execution's.
    https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html
    https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html
    https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html
    https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
    https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html
    https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html
    https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html
    """
    sfn = aws("stepfunctions")
    set_wait_scale(emulator, 0.01)
    definition = {"StartAt": "Shape", "States": {
        "Shape": {"Type": "Pass", "InputPath": "$.finding", "Parameters": {
            "id.$": "$.id", "severity.$": "$.severity",
            "groups.$": "$.interfaces[*].group", "admin.$": "$.interfaces[?(@.name == 'admin')].group",
            "none.$": "$.interfaces[?(@.name == 'nope')].group", "first.$": "$.interfaces[0].group",
            "count.$": "States.ArrayLength($.interfaces)", "second.$": "States.ArrayGetItem($.interfaces, 1)",
            "text.$": "States.Format('finding {} ({})', $.id, $.severity)",
            "json.$": "States.JsonToString($.interfaces[0])", "parsed.$": "States.StringToJson('{\"x\": [1]}')",
            "list.$": "States.Array($.id, 'b')", "sum.$": "States.MathAdd($.severity, 1)", "uuid.$": "States.UUID()",
            "execution.$": "$$.Execution.Id", "started.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime",
            "delay": 60}, "ResultPath": "$.shaped", "OutputPath": "$.shaped", "Next": "Severe?"},
        "Severe?": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.id", "IsPresent": True}, {"Variable": "$.severity", "NumericGreaterThan": 7},
                     {"Not": {"Variable": "$.missing", "IsPresent": True}},
                     {"Or": [{"Variable": "$.first", "StringEquals": "sg-app"}, {"Variable": "$.count", "NumericLessThanPath": "$.severity"}]}],
             "Next": "Pause"}], "Default": "Ignored"},
        "Ignored": {"Type": "Fail", "Error": "Wrong.Branch", "Cause": "the Choice took the default"},
        "Pause": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Both"},
        "Both": {"Type": "Parallel", "ResultSelector": {"left.$": "$[0]", "right.$": "$[1]"}, "ResultPath": "$.both",
                 "Branches": [
                     {"StartAt": "L", "States": {"L": {"Type": "Pass", "Result": "left", "End": True}}},
                     {"StartAt": "Each", "States": {"Each": {
                         "Type": "Map", "ItemsPath": "$.groups", "MaxConcurrency": 1,
                         "ItemSelector": {"group.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "id.$": "$.id"},
                         "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Tag", "States": {
                             "Tag": {"Type": "Pass", "Parameters": {"t.$": "States.Format('{}#{}:{}', $.id, $.index, $.group)"},
                                     "OutputPath": "$.t", "End": True}}},
                         "End": True}}}]},
        "Stop": {"Type": "Fail", "Error": "Playbook.Done", "Cause": "stopped on purpose"}}}
    definition["States"]["Both"]["Next"] = "Stop"
    arn = machine(sfn, definition)
    finding = {"id": "f-1", "severity": 8, "interfaces": [{"name": "app", "group": "sg-app"}, {"name": "admin", "group": "sg-admin"}]}
    started = time.monotonic()
    described = run(sfn, arn, {"finding": finding})
    assert time.monotonic() - started < 10  # 60 s of Wait at scale 0.01
    assert described["status"] == "FAILED"
    assert (described["error"], described["cause"]) == ("Playbook.Done", "stopped on purpose")
    events = history(sfn, described["executionArn"])
    types = [e["type"] for e in events]
    for expected in ("PassStateEntered", "ChoiceStateEntered", "WaitStateEntered", "WaitStateExited",
                     "ParallelStateEntered", "MapStateEntered", "MapIterationSucceeded", "FailStateEntered", "ExecutionFailed"):
        assert expected in types, expected
    stop_input = json.loads(next(e for e in events if e["type"] == "FailStateEntered")["stateEnteredEventDetails"]["input"])
    assert stop_input["groups"] == ["sg-app", "sg-admin"]
    assert stop_input["admin"] == ["sg-admin"] and stop_input["none"] == [] and stop_input["first"] == "sg-app"
    assert stop_input["count"] == 2 and stop_input["second"] == {"name": "admin", "group": "sg-admin"}
    assert stop_input["text"] == "finding f-1 (8)"
    assert json.loads(stop_input["json"]) == {"name": "app", "group": "sg-app"}
    assert stop_input["parsed"] == {"x": [1]} and stop_input["list"] == ["f-1", "b"] and stop_input["sum"] == 9
    assert len(stop_input["uuid"]) == 36
    assert stop_input["execution"] == described["executionArn"]
    assert stop_input["started"].endswith("Z") and stop_input["entered"].endswith("Z") and stop_input["started"] <= stop_input["entered"]
    assert stop_input["both"] == {"left": "left", "right": ["f-1#0:sg-app", "f-1#1:sg-admin"]}


def test_stop_execution_interrupts_a_wait(aws):
    """StopExecution "Stops an execution": a RUNNING execution waiting in a
    Wait state ends ABORTED at once, with stopDate (the Wait runs in the
    execution's own thread; the API keeps answering meanwhile).
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html
    https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html
    """
    sfn = aws("stepfunctions")
    arn = machine(sfn, {"StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    execution_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    time.sleep(0.2)
    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    sfn.stop_execution(executionArn=execution_arn, error="Operator", cause="stopped by the test")
    described = finish(sfn, execution_arn, timeout=5)
    assert described["status"] == "ABORTED" and "stopDate" in described


def test_cloudformation_playbook_contains_an_instance(aws, emulator):
    """End to end on a small lab of its own: a state machine created by
    CloudFormation (object Definition, DefinitionSubstitutions) moves every
    network interface of an instance to the quarantine group
    (ModifyNetworkInterfaceAttribute "Groups": replaces the interface's
    groups), snapshots each volume and waits until DescribeSnapshots says
    ``completed``, tags the instance, and SUCCEEDS; its history has the
    Task/Map/Wait/Choice events.  For an instance that does not exist the
    first task fails, the Catch runs (sns:publish "Publish a message to an
    Amazon SNS topic" reaches the subscribed queue) and the execution FAILS
    with the task's error and cause (Fail state ErrorPath/CausePath).
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyNetworkInterfaceAttribute.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html
    https://docs.aws.amazon.com/step-functions/latest/dg/connect-sns.html
    https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html
    """
    cf, sfn, ec2, sqs = aws("cloudformation"), aws("stepfunctions"), aws("ec2"), aws("sqs")
    set_wait_scale(emulator, 0.01)
    lab = create_stack(cf, unique("lab"), template("containment_lab.yaml"))
    assert lab["StackStatus"] == "CREATE_COMPLETE", lab.get("StackStatusReason")
    out = {o["OutputKey"]: o["OutputValue"] for o in lab["Outputs"]}
    playbook = create_stack(cf, unique("pb"), template("sfn_playbook.yaml"), {
        "QuarantineSecurityGroupId": out["QuarantineSecurityGroupId"], "RoleArn": out["PlaybookRoleArn"],
        "AlertTopicArn": out["AlertTopicArn"]})
    assert playbook["StackStatus"] == "CREATE_COMPLETE", playbook.get("StackStatusReason")
    arn = {o["OutputKey"]: o["OutputValue"] for o in playbook["Outputs"]}["StateMachineArn"]
    quarantine, instance_id = out["QuarantineSecurityGroupId"], out["InstanceId"]

    def finding(instance: str) -> dict[str, Any]:
        return {"source": "irlab.simulation", "detail-type": "GuardDuty Finding",
                "detail": {"type": "UnauthorizedAccess:EC2/TorClient", "severity": 8,
                           "resource": {"instanceDetails": {"instanceId": instance}}}}

    described = run(sfn, arn, finding(instance_id))
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    result = json.loads(described["output"])
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert len(instance["NetworkInterfaces"]) == 2
    for interface in instance["NetworkInterfaces"]:
        assert [g["GroupId"] for g in interface["Groups"]] == [quarantine]
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["irlab:ir-status"] == "contained"
    volumes = sorted(m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"])
    assert out["DataVolumeId"] in volumes and len(volumes) == 2
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "tag:irlab:evidence", "Values": ["true"]}])["Snapshots"]
    assert sorted(s["VolumeId"] for s in snapshots) == volumes
    assert {s["State"] for s in snapshots} == {"completed"}
    assert sorted(result["Snapshots"]) == sorted(s["SnapshotId"] for s in snapshots) and result["SnapshotCount"] == 2
    assert json.loads(tags["irlab:snapshots"]) == result["Snapshots"]
    types = [e["type"] for e in history(sfn, described["executionArn"])]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    # describe, 2 interfaces, 2 x (snapshot, describe until completed: once or more), tag
    assert types.count("TaskSucceeded") >= 1 + 2 + 2 * 2 + 1
    assert "MapIterationSucceeded" in types and "WaitStateExited" in types and "ChoiceStateExited" in types

    failed = run(sfn, arn, finding("i-0123456789abcdef0"))
    assert failed["status"] == "FAILED"
    assert failed["error"] == "Ec2.Ec2Exception" and "i-0123456789abcdef0" in failed["cause"]
    types = [e["type"] for e in history(sfn, failed["executionArn"])]
    assert types[-3:] == ["TaskStateExited", "FailStateEntered", "ExecutionFailed"]
    message = sqs.receive_message(QueueUrl=out["AlertQueueUrl"], WaitTimeSeconds=1)["Messages"][0]["Body"]
    assert message == "could not contain i-0123456789abcdef0 (Ec2.Ec2Exception)"
