"""Systems Manager Run Command with AWS-RunShellScript (patches/ssm_run_command.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import eventually
from test_ssm import SSM_CORE, _profile, _run, managed

TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled")


def finished(ssm, command_id: str, instance_id: str, timeout: float = 30.0) -> dict:
    """The invocation once it has reached a terminal status (the agent runs
    the command after SendCommand has answered)."""

    def done() -> dict | None:
        invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        return invocation if invocation["Status"] in TERMINAL else None

    invocation = eventually(done, timeout=timeout, interval=0.05)
    assert invocation, f"{command_id} on {instance_id} did not finish within {timeout} s"
    return invocation


def _code(call) -> str:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"]


def test_run_shell_script_commands_are_recorded_per_instance(aws):
    """AWS-RunShellScript is an AWS-owned Command document (parameters
    commands - required - workingDirectory, executionTimeout). SendCommand with
    it and Parameters {"commands": [...]} runs on the given managed nodes;
    ListCommands shows exactly the commands sent (DocumentName, Parameters,
    InstanceIds, Status and StatusDetails Pending in SendCommand's answer and
    Success once done, NotificationConfig
    empty when none was given), filtered by CommandId or InstanceId;
    GetCommandInvocation gives one node's result (PluginName aws:runShellScript,
    Status Success) and InvocationDoesNotExist for a node the command did not
    target. An unknown document is InvalidDocument; a parameter the document
    does not define, or a missing required one, is InvalidParameters.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommands.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Command.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeDocument.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/run-command.html
    """
    ec2, iam, ssm = aws("ec2"), aws("iam"), aws("ssm")
    profile = _profile(iam, [SSM_CORE])
    victim, other = _run(ec2, profile), _run(ec2, profile)
    managed(ssm, victim, other)

    document = ssm.describe_document(Name="AWS-RunShellScript")["Document"]
    assert document["Owner"] == "Amazon" and document["DocumentType"] == "Command"
    assert {p["Name"] for p in document["Parameters"]} == {"commands", "workingDirectory", "executionTimeout"}

    first = ssm.send_command(
        DocumentName="AWS-RunShellScript", InstanceIds=[victim], Parameters={"commands": ["ss -tnp", "ps aux"]}, Comment="triage"
    )["Command"]
    second = ssm.send_command(
        DocumentName="AWS-RunShellScript", InstanceIds=[victim, other], Parameters={"commands": ["uptime"], "executionTimeout": ["60"]}
    )["Command"]
    assert first["StatusDetails"] == first["Status"] == "Pending"
    for command_id, instances in ((first["CommandId"], [victim]), (second["CommandId"], [victim, other])):
        for instance in instances:
            assert finished(ssm, command_id, instance)["Status"] == "Success"
    assert first["NotificationConfig"] == {"NotificationArn": "", "NotificationEvents": [], "NotificationType": ""}

    commands = {c["CommandId"]: c for c in ssm.list_commands()["Commands"]}
    assert set(commands) == {first["CommandId"], second["CommandId"]}
    listed = commands[first["CommandId"]]
    assert listed["DocumentName"] == "AWS-RunShellScript" and listed["Comment"] == "triage"
    assert listed["Parameters"] == {"commands": ["ss -tnp", "ps aux"]} and listed["InstanceIds"] == [victim]
    assert listed["Status"] == "Success" and listed["TargetCount"] == listed["CompletedCount"] == 1
    assert sorted(commands[second["CommandId"]]["InstanceIds"]) == sorted([victim, other])
    assert [c["CommandId"] for c in ssm.list_commands(CommandId=first["CommandId"])["Commands"]] == [first["CommandId"]]
    assert {c["CommandId"] for c in ssm.list_commands(InstanceId=other)["Commands"]} == {second["CommandId"]}

    invocation = ssm.get_command_invocation(CommandId=first["CommandId"], InstanceId=victim)
    assert invocation["Status"] == "Success" and invocation["PluginName"] == "aws:runShellScript"
    assert invocation["DocumentName"] == "AWS-RunShellScript" and invocation["ResponseCode"] == 0
    assert _code(lambda: ssm.get_command_invocation(CommandId=first["CommandId"], InstanceId=other)) == "InvocationDoesNotExist"

    assert _code(lambda: ssm.send_command(DocumentName="AWS-NoSuchDocument", InstanceIds=[victim])) == "InvalidDocument"
    assert _code(
        lambda: ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[victim], Parameters={"command": ["uptime"]})
    ) == "InvalidParameters"
    assert _code(lambda: ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[victim])) == "InvalidParameters"
    assert len(ssm.list_commands()["Commands"]) == 2
