"""Each statement of each lab role is needed, and the stand-in enforces it.

For every role of stacks/playbook-*.yaml (the engine's role and the role
EventBridge assumes for its target) and the audit recorder's role of
stacks/detection.yaml, a variant of the template with ONE statement removed
(made here, in the test; the shipped templates are untouched) is deployed on a
lab of its own and a finding about its victim is put on the bus.  The
stand-in denies the call that statement allowed, the way AWS does, and the
run ends the way the playbook handles that failure:

* a statement of the engine's role: the playbook takes its failure path and
  its failure notification (recorded in the audit log) names the denied
  action ("User: ... is not authorized to perform: ec2:CreateTags ...") -
  except when the statement is the one that lets it notify (the denial is in
  the function's log, the execution's cause, the step's failure message) or
  the one that lets Lambda write the function's log (Lambda writes nothing and
  the containment still succeeds, as on AWS);
* a statement of the EventBridge target role: the engine never starts and
  the event is in the rule's dead-letter queue with ERROR_CODE NO_PERMISSIONS
  and the denial in ERROR_MESSAGE;
* the statement that lets the playbook disassociate Elastic IPs: the call is
  made only when the victim has one, so the test associates one first;
* the Automation role's ReadExecutions: only the failure path reads the
  execution, so a failure is provoked (the quarantine group is gone) and the
  playbook falls back to its brief notice;
* the audit recorder's only statement: the audit log stays empty;
* a statement of the eradication after an approval (issue 13: the lab is
  deployed with ApprovalTimeoutSeconds and the eradication parameters, and
  the test approves once the playbook waits): the eradication fails, the
  victim is tagged irlab:eradication=failed and stays contained, no profile
  is left on it, and the failure notice (or the engine's record) names the
  denied action.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-troubleshooting.html
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lab_stacks
from conftest import REGION, REPO_ROOT, create_stack, wait_idle
from test_lab_playbooks import audit_records
from test_stepfunctions import set_wait_scale

STACKS = REPO_ROOT / "stacks"
DETECTION, VICTIM = STACKS / "detection.yaml", STACKS / "victim.yaml"
SHARED = "shared"
ACTION = re.compile(r"\b(?:ec2|sns|ssm|states|logs|iam|lambda|sqs|s3|cloudformation|events):[A-Z][A-Za-z]+")

# (engine, role, Sid or None for a role's only statement, what the run shows)
VARIANTS = [
    *[("lambda", "FunctionRole", sid, "notice") for sid in (
        "Describe", "TagLabInstance", "RevokeInstanceRoleSessions", "IsolateInLabSubnet", "RevokeAndProtectLabInstance",
        "SnapshotLabVolume", "CreateLabSnapshot", "TagSnapshotsOnCreate")],
    ("lambda", "FunctionRole", "DisassociateLabAddresses", "notice-eip"),
    ("lambda", "FunctionRole", "Notify", "engine-log"),
    ("lambda", "FunctionRole", "WriteOwnLogs", "no-function-log"),
    # the collection is best effort: a denial there is a gap of the evidence, not a failure
    *[("lambda", "FunctionRole", sid, "collect-gap") for sid in (
        "SendCollectDocument", "CollectFromLabInstances", "FollowCollection", "SealEvidence")],
    *[("stepfunctions", "StateMachineRole", sid, "notice") for sid in (
        "Describe", "TagLabInstance", "RevokeInstanceRoleSessions", "IsolateInLabSubnet", "RevokeAndProtectLabInstance",
        "SnapshotLabVolume", "CreateLabSnapshot", "TagSnapshotsOnCreate")],
    ("stepfunctions", "StateMachineRole", "DisassociateLabAddresses", "notice-eip"),
    ("stepfunctions", "StateMachineRole", "Notify", "engine-log"),
    ("stepfunctions", "EventsRole", None, "dead-letter"),
    *[("stepfunctions", "StateMachineRole", sid, "collect-gap") for sid in (
        "SendCollectDocument", "CollectFromLabInstances", "FollowCollection", "SealEvidence")],
    # with --memory (MemoryTool set), the memory document's SendCommand: a gap too
    ("stepfunctions", "StateMachineRole", "SendMemoryDocument", "memory-gap"),
    *[("ssm", "AutomationRole", sid, "notice") for sid in (
        "Describe", "TagLabInstance", "RevokeInstanceRoleSessions", "IsolateInLabSubnet", "RevokeAndProtectLabInstance",
        "SnapshotLabVolume", "CreateLabSnapshot", "TagSnapshotsOnCreate")],
    ("ssm", "AutomationRole", "DisassociateLabAddresses", "notice-eip"),
    ("ssm", "AutomationRole", "Notify", "engine-log"),
    ("ssm", "AutomationRole", "ReadExecutions", "brief-notice"),
    ("ssm", "EventsRole", "StartRunbook", "dead-letter"),
    ("ssm", "EventsRole", "PassAutomationRole", "dead-letter"),
    *[("ssm", "AutomationRole", sid, "collect-gap") for sid in (
        "SendCollectDocument", "CollectFromLabInstances", "FollowCollection", "SealEvidence")],
    ("ssm", "AutomationRole", "SendMemoryDocument", "memory-gap"),
    # after an approval: the eradication (EradicationRunbook for ssm, started by the runbook)
    *[(engine, role, sid, "eradication-denied") for engine, role in (
        ("stepfunctions", "StateMachineRole"), ("ssm", "AutomationRole")) for sid in (
        "AssociateEradicationProfile", "PassEradicateRole", "SendEradicateDocument", "AgentStatus")],
    ("ssm", "AutomationRole", "StartEradication", "eradication-denied"),
    # after the eradication: the recovery (the Step Functions playbook stops the compromised
    # instance and updates the victim stack and its own)
    *[("stepfunctions", "StateMachineRole", sid, "recovery-denied") for sid in ("StopLabInstance", "UpdateLabStacks")],
    *[("ssm", "AutomationRole", sid, "recovery-denied") for sid in ("StopLabInstance", "UpdateLabStacks", "StartRecovery")],
]
# Statements that allow a call only through CloudFormation (aws:CalledVia): what CloudFormation
# does with the playbook role's permissions while it updates a stack. The stand-in's
# CloudFormation does not evaluate the caller's permissions for what it creates (COVERAGE.md,
# cloudformation:UpdateStack), so no run here can show them denied; they are checked by their
# shape instead (test_calledvia_statements_allow_only_through_cloudformation).
THROUGH_CLOUDFORMATION = {
    (engine, role, sid) for engine, role in (("stepfunctions", "StateMachineRole"), ("ssm", "AutomationRole")) for sid in (
        "LaunchRecoveredVictimThroughCloudFormation", "ReadForCloudFormation", "PassVictimRoleThroughCloudFormation",
        "RepointRuleThroughCloudFormation", "PassEventsRoleThroughCloudFormation")
}
WAIT_SCALE = {"lambda": 0.05, "stepfunctions": 0.01, "ssm": 0.05}


# ---------------------------------------------------------------- templates


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def without_statement(text: str, role: str, sid: str | None) -> tuple[str, list[str]]:
    """The template without statement ``sid`` of ``role``'s policies (without
    the role's ``Policies`` when ``sid`` is None: its only statement), and the
    actions the removed text allowed."""
    lines = text.split("\n")
    start = lines.index(f"  {role}:")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() and _indent(lines[i]) <= 2)
    if sid is None:
        first = next(i for i in range(start, end) if lines[i].strip() == "Policies:")
    else:
        first = next(i for i in range(start, end) if lines[i].strip() == f"- Sid: {sid}")
        if lines[first - 2].strip() == "- !If" and _indent(lines[first - 2]) < _indent(lines[first]):
            first -= 2  # a statement only under a condition: the whole Fn::If goes
    level = _indent(lines[first])
    last = first + 1
    while last < end and (not lines[last].strip() or _indent(lines[last]) > level):
        last += 1
    removed = "\n".join(lines[first:last])
    actions = sorted(set(ACTION.findall(removed)))
    assert actions, f"{role}/{sid}: no action in the removed text:\n{removed}"
    return "\n".join(lines[:first] + lines[last:]), actions


def _role_blocks(text: str) -> dict[str, str]:
    """Each AWS::IAM::Role of a template: its logical id -> its Policies text."""
    lines = text.split("\n")
    out = {}
    for i, line in enumerate(lines[:-1]):
        if re.fullmatch(r"  \w+:", line) and lines[i + 1].strip() == "Type: AWS::IAM::Role":
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() and _indent(lines[j]) <= 2), len(lines))
            block = "\n".join(lines[i:end])
            out[line.strip()[:-1]] = block.split("Policies:", 1)[1] if "Policies:" in block else ""
    return out


def test_variants_cover_every_statement_of_every_role():
    """The variants list every statement of every role in the playbook
    templates (a role with one unnamed statement as None), so a statement
    added later gets a variant or fails here."""
    found = set()
    for engine in ("lambda", "stepfunctions", "ssm"):
        for role, policies in _role_blocks((STACKS / f"playbook-{engine}.yaml").read_text()).items():
            sids = re.findall(r"^\s+- Sid: (\w+)$", policies, re.M)
            found |= {(engine, role, sid) for sid in sids}
            if not sids and "Effect: Allow" in policies:
                found.add((engine, role, None))
    assert found == {(e, r, s) for e, r, s, _ in VARIANTS} | THROUGH_CLOUDFORMATION
    assert list(_role_blocks(DETECTION.read_text())) == ["AuditRecorderRole"]


def test_calledvia_statements_allow_only_through_cloudformation():
    """A statement the runs cannot judge here (THROUGH_CLOUDFORMATION) allows
    its actions only when CloudFormation makes the call for the role
    (ForAnyValue:StringEquals aws:CalledVia cloudformation.amazonaws.com: "the
    list of services that made the request on the principal's behalf"), and
    names no action of a service the recovery does not need: without the
    condition, the playbook role could launch instances or change rules by
    itself.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-calledvia
    """
    for engine, role, sid in THROUGH_CLOUDFORMATION:
        policies = _role_blocks((STACKS / f"playbook-{engine}.yaml").read_text())[role]
        start = policies.index(f"- Sid: {sid}\n")
        end = min((i for i in (policies.find("- !If", start), policies.find("- Sid:", start + 1)) if i > 0),
                  default=len(policies))
        statement = policies[start:end]
        assert "ForAnyValue:StringEquals:" in statement and "aws:CalledVia: cloudformation.amazonaws.com" in statement, sid
        actions = set(re.findall(r"\b([a-z0-9]+):[A-Z]\w+", statement)) - {"aws"}
        assert actions <= {"ec2", "iam", "ssm", "events"}, (sid, actions)


# ---------------------------------------------------------------- running a variant


def _client(emulator: Any, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _stack(cf: Any, name: str, body: str, params: dict[str, str], lab: str) -> dict[str, str]:
    stack = create_stack(cf, name, body, params, Tags=[{"Key": "irlab:lab", "Value": lab}])
    if stack["StackStatus"] != "CREATE_COMPLETE":
        reasons = [
            (e["LogicalResourceId"], e.get("ResourceStatusReason"))
            for e in cf.describe_stack_events(StackName=name)["StackEvents"]
            if e["ResourceStatus"].endswith("FAILED")
        ]
        pytest.fail(f"{name}: {stack['StackStatus']} {reasons}")
    return _outputs(stack)


def _detection(emulator: Any, lab: str = SHARED, body: str | None = None) -> dict[str, str]:
    """The detection stack of ``lab`` (deployed again if the stand-in was
    reset by another test meanwhile)."""
    cf = _client(emulator, "cloudformation")
    name = f"irlab-{lab}-detection"
    try:
        stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        if stack["StackStatus"] == "CREATE_COMPLETE":
            return _outputs(stack)
    except cf.exceptions.ClientError:
        pass
    return _stack(cf, name, body or DETECTION.read_text(), {"LabName": lab}, lab)


def _lab(emulator: Any, engine: str, playbook: str, detection: dict[str, str], lab: str, eradicate: bool = False,
         **parameters: str) -> tuple[dict[str, str], dict[str, str]]:
    cf = _client(emulator, "cloudformation")
    victim = _stack(cf, f"irlab-{lab}-victim", VICTIM.read_text(), lab_stacks.victim_parameters(cf, lab), lab)
    if eradicate:
        # `irlab up --approval-timeout 7d`: ask after containment, eradicate once approved (the
        # test approves at once; the longest timeout leaves it time on a busy machine)
        parameters = {
            "ApprovalTimeoutSeconds": "604800",
            "EradicateDocumentName": detection["EradicateDocumentName"],
            "EradicateInstanceProfileArn": victim["EradicateInstanceProfileArn"],
            "EradicateRoleArn": victim["EradicateRoleArn"],
            "EradicateCommands": json.dumps(["true"]),
            **({"Approvers": _client(emulator, "sts").get_caller_identity()["Arn"]} if engine == "ssm" else {}),
            **parameters,
        }
    outputs = _stack(
        cf,
        f"irlab-{lab}-playbook",
        playbook,
        {
            "LabName": lab,
            "AlertTopicArn": detection["AlertTopicArn"],
            "AuditRecorderArn": detection["AuditRecorderArn"],
            "InstanceId": victim["InstanceId"],
            "QuarantineSecurityGroupId": victim["QuarantineSecurityGroupId"],
            "UntrackSecurityGroupId": victim["UntrackSecurityGroupId"],
            "InstanceRoleArn": victim["InstanceRoleArn"],
            "SubnetId": victim["SubnetId"],
            **({"EvidenceBucketName": detection["EvidenceBucketName"], "CollectDocumentName": detection["CollectDocumentName"]}
               if "CollectDocumentName:" in playbook else {}),
            **parameters,
        },
        lab,
    )
    return victim, outputs


def _inject(emulator: Any, instance_id: str) -> str:
    finding_id = uuid.uuid4().hex
    detail = {
        "schemaVersion": "2.0", "accountId": "123456789012", "region": REGION, "partition": "aws", "id": finding_id,
        "type": "UnauthorizedAccess:EC2/TorClient", "severity": 8,
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": instance_id}},
        "service": {"serviceName": "guardduty", "additionalInfo": {"sample": False}},
    }
    result = _client(emulator, "events").put_events(
        Entries=[{"Source": "irlab.simulation", "DetailType": "GuardDuty Finding", "Detail": json.dumps(detail)}]
    )
    assert result["FailedEntryCount"] == 0, result
    return finding_id


def _finished(emulator: Any, engine: str, playbook: dict[str, str], timeout: float = 90) -> list[str]:
    """Wait for the lab's engine to end its runs; what it reports (statuses,
    errors, causes, failure messages, log lines)."""
    deadline = time.monotonic() + timeout
    while True:
        wait_idle(emulator.endpoint, timeout=max(1.0, deadline - time.monotonic()))
        report, running = [], False
        if engine == "stepfunctions":
            sfn = _client(emulator, "stepfunctions")
            for execution in sfn.list_executions(stateMachineArn=playbook["PlaybookArn"])["executions"]:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                running |= described["status"] == "RUNNING"
                report.append(f"{described['status']} {described.get('error')} {described.get('cause')}")
        elif engine == "ssm":
            ssm = _client(emulator, "ssm")
            metas = ssm.describe_automation_executions(
                Filters=[{"Key": "DocumentNamePrefix", "Values": [playbook["PlaybookName"]]}]
            )["AutomationExecutionMetadataList"]
            for meta in metas:
                execution = ssm.get_automation_execution(AutomationExecutionId=meta["AutomationExecutionId"])["AutomationExecution"]
                running |= execution["AutomationExecutionStatus"] in ("Pending", "InProgress", "Cancelling")
                report.append(f"{execution['AutomationExecutionStatus']} {execution.get('FailureMessage')}")
                report += [f"{s['StepName']}: {s.get('FailureMessage')}" for s in execution["StepExecutions"] if s.get("FailureMessage")]
        else:
            logs = _client(emulator, "logs")
            report = [e["message"] for e in logs.filter_log_events(logGroupName=playbook["LogGroupName"]).get("events", [])]
        if not running or time.monotonic() > deadline:
            return report
        time.sleep(0.2)


def _approve(emulator: Any, engine: str, playbook: dict[str, str], instance_id: str, timeout: float = 120) -> None:
    """Approve the eradication once the playbook waits for it (as `irlab approve` does)."""
    deadline = time.monotonic() + timeout
    ec2 = _client(emulator, "ec2")
    while True:
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        if {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get("irlab:approval") == "waiting":
            break
        assert time.monotonic() < deadline, f"{instance_id} never waited for an approval"
        time.sleep(0.3)
    while True:
        if engine == "ssm":
            ssm = _client(emulator, "ssm")
            waiting = ssm.describe_automation_executions(Filters=[
                {"Key": "DocumentNamePrefix", "Values": [playbook["PlaybookName"]]},
                {"Key": "ExecutionStatus", "Values": ["Waiting"]}])["AutomationExecutionMetadataList"]
            for execution in waiting:
                ssm.send_automation_signal(AutomationExecutionId=execution["AutomationExecutionId"], SignalType="Approve")
                return
        else:
            sfn = _client(emulator, "stepfunctions")
            for execution in sfn.list_executions(stateMachineArn=playbook["PlaybookArn"], statusFilter="RUNNING")["executions"]:
                token = None  # the open callback task's, as `irlab approve` reads it
                for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"]):
                    for event in page["events"]:
                        details = event.get("taskScheduledEventDetails") or {}
                        if details.get("resource", "").endswith(".waitForTaskToken"):
                            token = json.loads(details["parameters"])["MessageAttributes"]["irlab.task-token"]["StringValue"]
                        elif event["type"] in ("TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskStartFailed"):
                            token = None
                if token:
                    sfn.send_task_success(taskToken=token, output=json.dumps({"decision": "approved", "by": "test"}))
                    return
        assert time.monotonic() < deadline, f"no {engine} run waits for an approval about {instance_id}"
        time.sleep(0.3)


def _notices(emulator: Any, detection: dict[str, str], instance_id: str) -> list[dict[str, Any]]:
    wait_idle(emulator.endpoint)
    group = f"/irlab/{detection.get('LabName') or SHARED}/audit"
    return [r for r in audit_records(_client(emulator, "logs"), group, term=instance_id) if r.get("Type") == "Notification"]


def _status(emulator: Any, instance_id: str) -> str | None:
    instance = _client(emulator, "ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get("irlab:ir-status")


def _release(emulator: Any, instance_id: str) -> None:
    """The variant's victim terminated once it is judged (the contained one
    keeps its termination and stop protection, lifted first): the variants
    share a stand-in without a reset between them, and victims left running
    would reach the account's vCPU quota of running instances."""
    ec2 = _client(emulator, "ec2")
    try:
        ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": False})
        ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiStop={"Value": False})
        ec2.terminate_instances(InstanceIds=[instance_id])
    except ClientError:
        pass  # the stand-in was reset meanwhile: nothing left to release


def _names(text: str, actions: list[str]) -> bool:
    """``text`` tells of an IAM denial of one of ``actions``."""
    lowered = text.lower()
    return "is not authorized to perform" in lowered and any(a.lower() in lowered for a in actions)


@pytest.mark.parametrize(
    "engine, role, sid, shows", VARIANTS, ids=[f"{e}-{r}-{s or 'only'}" for e, r, s, _ in VARIANTS]
)
def test_a_role_without_one_statement_is_denied_that_call(emulator, caplog, request, engine, role, sid, shows):
    from test_ssm_instance import _service_scale

    # A collection runs in real seconds on the victim while its budget (615 s at most) passes
    # at the wait scale: at 0.01 that is 6 s, which a busy machine's collection overran (the
    # gap then named the timeout, not the denied statement). Collect-gap runs get 0.05 (31 s).
    gap = shows in ("collect-gap", "memory-gap")
    set_wait_scale(emulator, max(WAIT_SCALE[engine], 0.05) if gap else WAIT_SCALE[engine])
    _service_scale(emulator, None)  # AWS's delays follow the wait scale (a collect-gap run sets them to 1)
    template, actions = without_statement((STACKS / f"playbook-{engine}.yaml").read_text(), role, sid)
    lab = f"v{uuid.uuid4().hex[:8]}"
    memory = shows == "memory-gap"
    if memory:
        shows = "collect-gap"
    if shows == "collect-gap":
        # the lab's own evidence bucket (its policy admits the lab's roles), a managed victim
        detection = _detection(emulator, lab)
        detection["LabName"] = lab
    else:
        detection = _detection(emulator)
        detection["LabName"] = SHARED
    # The collection's budget is in the engine's time (scaled Waits for Step Functions and SSM),
    # the victim's script runs in real seconds: the longest budget leaves it real time to finish.
    budget = {"EvidenceBudgetSeconds": "600"} if shows == "collect-gap" else {}
    if memory:
        # `irlab up --memory`: the user's AVML in tools/ of the lab's bucket, pinned by its SHA-256
        from test_memory_capture import AVML_STUB

        tool = AVML_STUB.read_bytes()
        _client(emulator, "s3").put_object(Bucket=detection["EvidenceBucketName"], Key="tools/avml", Body=tool)
        budget.update(MemoryDocumentName=detection["MemoryDocumentName"],
                      MemoryTool=f"s3://{detection['EvidenceBucketName']}/tools/avml",
                      MemoryToolSha256=hashlib.sha256(tool).hexdigest(), MemoryBudgetSeconds="1800")
    eradicate = shows in ("eradication-denied", "recovery-denied")
    victim, playbook = _lab(emulator, engine, template, detection, lab, eradicate=eradicate, **budget)
    instance_id = victim["InstanceId"]
    request.addfinalizer(lambda: _release(emulator, instance_id))
    if shows == "collect-gap":
        from test_ssm import managed

        managed(_client(emulator, "ssm"), instance_id)
        _service_scale(emulator, 1.0)  # the victim's collection runs in real seconds
    if shows == "brief-notice":
        # a failure after the guard: the interfaces cannot be given a group that is gone
        _client(emulator, "ec2").delete_security_group(GroupId=victim["QuarantineSecurityGroupId"])
    if shows == "notice-eip":
        ec2 = _client(emulator, "ec2")
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.associate_address(AllocationId=allocation, InstanceId=instance_id)
        shows = "notice"
    caplog.set_level(logging.WARNING, logger="irlab_emulator")
    _inject(emulator, instance_id)
    if eradicate:
        _approve(emulator, engine, playbook, instance_id)
    if shows == "collect-gap":
        # once the playbook records (the step after the collection), AWS's delays follow the wait
        # scale again: the engines that await their snapshots need not wait their real minutes
        deadline = time.monotonic() + 180
        while _status(emulator, instance_id) is None and time.monotonic() < deadline:
            time.sleep(0.3)
        _service_scale(emulator, None)
    report = _finished(emulator, engine, playbook)
    notices = _notices(emulator, detection, instance_id)
    failed = [n for n in notices if "containment FAILED" in (n.get("Subject") or "")]
    context = {"report": report[-12:], "notices": [n.get("Subject") for n in notices]}

    if shows == "notice":
        assert failed, context
        assert _names(failed[0]["Message"], actions), (actions, failed[0]["Message"])
        assert _status(emulator, instance_id) != "contained"
    elif shows == "engine-log":
        # nothing can be published: the denial is where the engine reports it
        assert not failed, context
        assert any(_names(line, actions) for line in report), (actions, context)
        assert _status(emulator, instance_id) != "contained"
    elif shows == "no-function-log":
        # Lambda writes no log for the function; the containment is unaffected
        assert report == [], report
        assert _status(emulator, instance_id) == "contained"
        assert any(_names(r.getMessage(), actions) for r in caplog.records), [r.getMessage() for r in caplog.records]
    elif shows == "brief-notice":
        assert [n for n in failed if "could not read why" in n["Message"]], context
        assert any(_names(line, actions) for line in report), (actions, context)
    elif shows == "dead-letter":
        sqs = _client(emulator, "sqs")
        url = sqs.get_queue_url(QueueName=f"irlab-{lab}-playbook-{engine}-dlq")["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
        attributes = [{k: v["StringValue"] for k, v in m["MessageAttributes"].items()} for m in messages]
        playbook_target = [a for a in attributes if a["TARGET_ARN"] != detection["AuditRecorderArn"]]
        assert playbook_target and playbook_target[0]["ERROR_CODE"] == "NO_PERMISSIONS", attributes
        assert _names(playbook_target[0]["ERROR_MESSAGE"], actions), (actions, playbook_target)
        assert report == [] and not notices, context  # the engine never started
    elif shows == "collect-gap":
        # contained all the same; the notice's collect line tells what is missing and why
        assert _status(emulator, instance_id) == "contained" and not failed, context
        [contained] = [n for n in notices if (n.get("Subject") or "").endswith(" contained")]
        [line] = [x for x in contained["Message"].split("\n") if x.startswith("  1. collect at ")]
        assert "gaps: " in line, line
        # (HeadObject's 403 has no body: boto3 says "HeadObject operation: Forbidden", Step
        # Functions "Forbidden (Service: S3, Status Code: 403, ...)")
        assert _names(line, actions) or ("s3:GetObject" in actions and (
            "HeadObject operation: Forbidden" in line or "(Service: S3, Status Code: 403" in line)), (actions, line)
    elif shows == "eradication-denied":
        # contained, approved, not eradicated; nothing lent is left on the victim
        ec2 = _client(emulator, "ec2")
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        assert (tags.get("irlab:ir-status"), tags.get("irlab:approval"), tags.get("irlab:eradication")) == (
            "contained", "approved", "failed"), (tags, context)
        associations = ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}])["IamInstanceProfileAssociations"]
        assert [a for a in associations if a["State"] in ("associating", "associated")] == [], associations
        eradication = [n for n in notices if "eradication FAILED" in (n.get("Subject") or "")]
        assert eradication, context
        assert _names(eradication[0]["Message"], actions) or any(_names(line, actions) for line in report), (
            actions, eradication[0]["Message"], context)
    elif shows == "recovery-denied":
        # contained, approved, eradicated, not recovered: the victim stack still names it
        ec2 = _client(emulator, "ec2")
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        assert (tags.get("irlab:ir-status"), tags.get("irlab:eradication"), tags.get("irlab:recovery")) == (
            "contained", "eradicated", "failed"), (tags, context)
        assert victim["InstanceId"] == instance_id
        recovery = [n for n in notices if "recovery FAILED" in (n.get("Subject") or "")]
        assert recovery, context
        assert _names(recovery[0]["Message"], actions), (actions, recovery[0]["Message"], context)
    else:  # pragma: no cover
        raise AssertionError(shows)


def test_the_audit_recorder_without_its_statement_records_nothing(emulator, caplog):
    """detection.yaml's recorder role has one statement (write the audit log):
    without it Lambda cannot write the recorder's output and the audit log
    stays empty, while the playbook still contains the victim."""
    set_wait_scale(emulator, WAIT_SCALE["lambda"])
    template, actions = without_statement(DETECTION.read_text(), "AuditRecorderRole", None)
    lab = f"r{uuid.uuid4().hex[:8]}"
    detection = _detection(emulator, lab, template)
    caplog.set_level(logging.WARNING, logger="irlab_emulator")
    victim, playbook = _lab(emulator, "lambda", (STACKS / "playbook-lambda.yaml").read_text(), detection, lab)
    _inject(emulator, victim["InstanceId"])
    _finished(emulator, "lambda", playbook)
    wait_idle(emulator.endpoint)
    assert _status(emulator, victim["InstanceId"]) == "contained"
    assert audit_records(_client(emulator, "logs"), f"/irlab/{lab}/audit") == []
    assert any(_names(r.getMessage(), actions) for r in caplog.records), [r.getMessage() for r in caplog.records]
