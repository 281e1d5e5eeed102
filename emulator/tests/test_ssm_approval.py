"""SSM Automation's aws:approve and SendAutomationSignal (patches/ssm_automation.py,
patches/_automation_validate.py), and the SSM playbook's approval after containment
(stacks/playbook-ssm.yaml, issue 13): approved, the runbook eradicates, then recovers
(a new victim through the victim stack, its own rule pointed at it); rejected or
unanswered, the victim stays contained.

AWS pages:
https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
https://docs.aws.amazon.com/systems-manager/latest/userguide/running-automations-require-approvals.html
https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendAutomationSignal.html
https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-statuses.html
https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-handling-timeouts.html
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

import lab_stacks
from conftest import ACCOUNT_ID, REPO_ROOT, create_stack, eventually, unique, wait_idle
from test_lab_playbooks import audit_records
from test_ssm import managed
from test_ssm_automation import document
from test_ssm_instance import _state
from test_stepfunctions import set_wait_scale

ENDED = ("Success", "Failed", "TimedOut", "Cancelled")


def caller_arn(aws: Any) -> str:
    """The ARN GetCallerIdentity gives the tests' administrator keys."""
    return aws("sts").get_caller_identity()["Arn"]


def approve_step(approvers: list[str], **fields: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {"Approvers": approvers, "Message": "eradicate now?"}
    inputs.update(fields.pop("inputs", {}))
    return {"name": "askApproval", "action": "aws:approve", "inputs": inputs, **fields}


def runbook(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": "0.3", "mainSteps": list(steps)}


def after() -> dict[str, Any]:
    return {"name": "afterwards", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}


def waiting(ssm: Any, execution_id: str, timeout: float = 20) -> dict[str, Any]:
    """The execution once it waits for an approval."""

    def check() -> dict[str, Any] | None:
        execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        return execution if execution["AutomationExecutionStatus"] == "Waiting" else None

    execution = eventually(check, timeout=timeout, interval=0.05)
    assert execution, ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    return execution


def finish(ssm: Any, execution_id: str, timeout: float = 30) -> dict[str, Any]:
    """The execution once it has ended (Waiting is not an end)."""
    deadline = time.monotonic() + timeout
    while True:
        execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        if execution["AutomationExecutionStatus"] in ENDED or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)


def start(ssm: Any, content: dict[str, Any]) -> str:
    return ssm.start_automation_execution(DocumentName=document(ssm, content))["AutomationExecutionId"]


def step(execution: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in execution["StepExecutions"] if s["StepName"] == name)


def signal_error(ssm: Any, execution_id: str, signal: str = "Approve", **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as info:
        ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType=signal, **kwargs)
    return info.value.response["Error"]


# ----------------------------------------------------------------------------
# the action and the signal


def test_approve_waits_and_an_approvers_approval_resumes(aws):
    """aws:approve "temporarily pauses an automation until designated
    principals either approve or reject"; while it waits, the step and the
    automation are Waiting ("waiting for input"), the step's output
    ApprovalStatus is Waiting, and DescribeAutomationExecutions finds the
    execution by ExecutionStatus Waiting. SendAutomationSignal Approve from a
    listed approver, with the optional Payload Comment, resumes it: the step
    ends Success with ApprovalStatus Approved and ApproverDecisions (a MapList:
    Approver, Decision, ApprovalDecisionTime, Comment), and the next step runs.
    SendAutomationSignal answers nothing.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-statuses.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendAutomationSignal.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/running-automations-require-approvals.html
    """
    ssm = aws("ssm")
    me = caller_arn(aws)
    execution_id = start(ssm, runbook(approve_step([me], inputs={"MinRequiredApprovals": 1}), after()))
    execution = waiting(ssm, execution_id)
    asked = step(execution, "askApproval")
    assert asked["StepStatus"] == "Waiting" and asked["Outputs"]["ApprovalStatus"] == ["Waiting"]
    assert (execution["CurrentStepName"], execution["CurrentAction"]) == ("askApproval", "aws:approve")
    listed = ssm.describe_automation_executions(Filters=[{"Key": "ExecutionStatus", "Values": ["Waiting"]}])
    assert [e["AutomationExecutionId"] for e in listed["AutomationExecutionMetadataList"]] == [execution_id]

    answer = ssm.send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Approve", Payload={"Comment": ["Looks good"]}
    )
    assert {k for k in answer if k != "ResponseMetadata"} == set()
    execution = finish(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    asked = step(execution, "askApproval")
    assert asked["StepStatus"] == "Success" and asked["Outputs"]["ApprovalStatus"] == ["Approved"]
    [decision] = [json.loads(d) for d in asked["Outputs"]["ApproverDecisions"]]
    assert (decision["Approver"], decision["Decision"], decision["Comment"]) == (me, "Approve", "Looks good")
    assert decision["ApprovalDecisionTime"].endswith("Z")
    assert step(execution, "afterwards")["StepStatus"] == "Success"


def test_a_rejection_fails_the_step_and_on_failure_decides_what_follows(aws):
    """A Reject signal ends the approval: the step's ApprovalStatus is
    Rejected and the step fails (the actions' statuses have no other terminal
    one than Success, TimedOut, Cancelled, Failed); with the default onFailure
    (Abort) the automation ends Failed and the next step does not run; with
    onFailure step:NAME and isCritical false it goes on to that step and the
    automation's status is unaffected (Success).
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-statuses.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html
    """
    ssm = aws("ssm")
    me = caller_arn(aws)
    execution_id = start(ssm, runbook(approve_step([me]), after()))
    waiting(ssm, execution_id)
    ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Reject", Payload={"Comment": ["no"]})
    execution = finish(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"
    asked = step(execution, "askApproval")
    assert (asked["StepStatus"], asked["Outputs"]["ApprovalStatus"]) == ("Failed", ["Rejected"])
    assert json.loads(asked["Outputs"]["ApproverDecisions"][0])["Decision"] == "Reject"
    assert "rejected" in asked["FailureMessage"]
    assert not [s for s in execution["StepExecutions"] if s["StepName"] == "afterwards" and s["StepStatus"] != "Pending"]

    handled = approve_step([me], onFailure="step:afterwards", isCritical=False)
    execution_id = start(ssm, runbook(handled, {**after(), "name": "skipped", "isEnd": True}, after()))
    waiting(ssm, execution_id)
    ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Reject")
    execution = finish(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    assert [s["StepName"] for s in execution["StepExecutions"]] == ["askApproval", "afterwards"]


def test_an_approval_that_never_comes_times_out(aws, emulator):
    """"If the automation step reaches the timeout value before receiving all
    required approval decisions, then the step and the automation stop
    running and return a status of Timed Out" (timeoutSeconds of the step;
    the default is 7 days). The timeout is a wait for a human, so it runs at
    the stand-in's wait scale, as aws:sleep does: 60 s at 0.01 is 0.6 s.
    With onFailure step:NAME and isCritical false a timeout goes on to that
    step and leaves the automation's status alone ("Handling timeouts in
    runbooks").
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-handling-timeouts.html
    """
    ssm = aws("ssm")
    set_wait_scale(emulator, 0.01)
    me = caller_arn(aws)
    execution_id = start(ssm, runbook(approve_step([me], timeoutSeconds=60), after()))
    execution = finish(ssm, execution_id, timeout=20)
    assert execution["AutomationExecutionStatus"] == "TimedOut"
    assert step(execution, "askApproval")["StepStatus"] == "TimedOut"
    assert step(execution, "askApproval")["TimeoutSeconds"] == 60
    with pytest.raises(StopIteration):
        step(execution, "afterwards")

    handled = approve_step([me], timeoutSeconds=60, onFailure="step:afterwards", isCritical=False)
    execution = finish(ssm, start(ssm, runbook(handled, after())), timeout=20)
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    assert [(s["StepName"], s["StepStatus"]) for s in execution["StepExecutions"]] == [
        ("askApproval", "TimedOut"), ("afterwards", "Success")]


def _role_session(aws: Any, name: str, statements: list[dict[str, Any]] | None = None, service: str = "ssm") -> Any:
    """The ARN of a new role (by default, one that may send automation signals)
    and a ``service`` client of a session of it."""
    import boto3

    iam, sts = aws("iam"), aws("sts")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=name, Path="/approvers/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    statements = statements or [{"Effect": "Allow", "Action": "ssm:SendAutomationSignal", "Resource": "*"}]
    iam.put_role_policy(RoleName=name, PolicyName="own", PolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                                    "Statement": statements}))
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="alice")["Credentials"]
    other = aws(service)
    return role["Arn"], boto3.client(
        service, endpoint_url=other.meta.endpoint_url, region_name=other.meta.region_name,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


@pytest.mark.parametrize("passed_to, allowed", [(None, False), ("ssm.amazonaws.com", False), ("ec2.amazonaws.com", True)],
                         ids=["no-passrole", "passed-to-ssm", "passed-to-ec2"])
def test_associating_an_instance_profile_needs_pass_role_of_its_role(aws, passed_to, allowed):
    """To "attach an IAM role to an instance" (AssociateIamInstanceProfile)
    an identity needs ec2:AssociateIamInstanceProfile and iam:PassRole on the
    profile's role (the eradicating runbook's PassEradicateRole statement,
    iam:PassedToService ec2.amazonaws.com); without it EC2 answers 403
    UnauthorizedOperation naming iam:PassRole and the role, and the instance
    keeps no profile.
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/permission-to-pass-iam-roles.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
    """
    from test_ssm import _profile, _run

    ec2, iam = aws("ec2"), aws("iam")
    profile = _profile(iam)
    [instance_role] = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"]
    instance = _run(ec2)
    statements: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "ec2:AssociateIamInstanceProfile", "Resource": "*"}]
    if passed_to:
        statements.append({"Effect": "Allow", "Action": "iam:PassRole", "Resource": instance_role["Arn"],
                           "Condition": {"StringEquals": {"iam:PassedToService": passed_to}}})
    _, as_role = _role_session(aws, unique("lender"), statements, service="ec2")
    call = {"InstanceId": instance, "IamInstanceProfile": {"Name": profile}}
    if allowed:
        as_role.associate_iam_instance_profile(**call)
        assert ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
        return
    with pytest.raises(ClientError) as info:
        as_role.associate_iam_instance_profile(**call)
    error = info.value.response["Error"]
    assert (info.value.response["ResponseMetadata"]["HTTPStatusCode"], error["Code"]) == (403, "UnauthorizedOperation")
    assert f"is not authorized to perform: iam:PassRole on resource: {instance_role['Arn']}" in error["Message"]
    assert ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"] == []


def test_only_a_listed_approver_may_signal(aws):
    """Approvers are "AWS authenticated principals who are able to either
    approve or reject the action", given as an IAM user name, a user ARN, a
    role ARN or an assumed-role user ARN: a session of a listed role may
    approve; anyone else - here the tests' own identity, not listed - is
    refused with InvalidAutomationSignalException ("The signal isn't valid for
    the current Automation execution"; AWS documents no other error for it)
    and the automation keeps waiting. An IAM user listed by user name may
    approve with its own keys.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendAutomationSignal.html
    """
    ssm = aws("ssm")
    role_arn, as_role = _role_session(aws, unique("approver"))
    execution_id = start(ssm, runbook(approve_step([role_arn]), after()))
    waiting(ssm, execution_id)
    error = signal_error(ssm, execution_id)
    assert error["Code"] == "InvalidAutomationSignalException", error
    assert "The signal isn't valid for the current Automation execution." in error["Message"]
    assert "not an approver" in error["Message"]
    assert ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"][
        "AutomationExecutionStatus"] == "Waiting"
    as_role.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    execution = finish(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    decision = json.loads(step(execution, "askApproval")["Outputs"]["ApproverDecisions"][0])
    assert decision["Approver"].startswith(f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/alice")

    iam = aws("iam")
    user = unique("bob")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="signal", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:SendAutomationSignal", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    import boto3

    as_user = boto3.client("ssm", endpoint_url=ssm.meta.endpoint_url, region_name=ssm.meta.region_name,
                           aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    execution_id = start(ssm, runbook(approve_step([user]), after()))
    waiting(ssm, execution_id)
    as_user.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Reject")
    assert finish(ssm, execution_id)["AutomationExecutionStatus"] == "Failed"


def test_min_required_approvals_and_one_decision_per_approver(aws):
    """MinRequiredApprovals is "the minimum number of approvals required to
    resume": with two approvers and 2 required, one approval leaves the
    automation Waiting (ApproverDecisions holds it) and the second resumes it;
    an approver's second signal is refused (InvalidAutomationSignalException).
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    """
    ssm = aws("ssm")
    me = caller_arn(aws)
    role_arn, as_role = _role_session(aws, unique("second"))
    execution_id = start(ssm, runbook(approve_step([me, role_arn], inputs={"MinRequiredApprovals": 2}), after()))
    waiting(ssm, execution_id)
    ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    time.sleep(0.5)
    execution = waiting(ssm, execution_id)
    assert len(step(execution, "askApproval")["Outputs"]["ApproverDecisions"]) == 1
    assert signal_error(ssm, execution_id)["Code"] == "InvalidAutomationSignalException"
    as_role.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    execution = finish(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    assert step(execution, "askApproval")["Outputs"]["ApprovalStatus"] == ["Approved"]


def test_a_signal_for_an_execution_that_is_not_waiting_is_refused(aws):
    """SendAutomationSignal answers InvalidAutomationSignalException ("The
    signal isn't valid for the current Automation execution") when no step of
    the execution waits for an approval - it has ended, or it runs another
    step - and AutomationExecutionNotFoundException for an unknown execution.
    The other signal types (Resume, StartStep, StopStep, Revoke) serve aws:pause
    and step-by-step executions, which the stand-in does not model: refused
    the same way. StopAutomationExecution of a waiting execution cancels it.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendAutomationSignal.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StopAutomationExecution.html
    """
    ssm = aws("ssm")
    me = caller_arn(aws)
    ended = finish(ssm, start(ssm, runbook(after())))
    assert signal_error(ssm, ended["AutomationExecutionId"])["Code"] == "InvalidAutomationSignalException"
    sleeping = start(ssm, runbook({"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT30S"}}))
    assert signal_error(ssm, sleeping, "Reject")["Code"] == "InvalidAutomationSignalException"
    ssm.stop_automation_execution(AutomationExecutionId=sleeping)
    error = signal_error(ssm, "00000000-0000-0000-0000-000000000000")
    assert error["Code"] == "AutomationExecutionNotFoundException"

    execution_id = start(ssm, runbook(approve_step([me]), after()))
    waiting(ssm, execution_id)
    assert signal_error(ssm, execution_id, "Resume", Payload={"StepName": ["askApproval"]})["Code"] == (
        "InvalidAutomationSignalException")
    ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    execution = finish(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert step(execution, "askApproval")["StepStatus"] == "Cancelled"


def test_notification_arn_gets_the_request(aws):
    """With NotificationArn, "Automation sends a message to this topic letting
    principals know that they must either approve or reject an Automation
    step" (the topic's name begins with "Automation"); the message names the
    execution and carries the step's Message (its wording is the stand-in's:
    AWS documents none).
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    """
    ssm, sns, sqs = aws("ssm"), aws("sns"), aws("sqs")
    topic = sns.create_topic(Name="AutomationApproval")["TopicArn"]
    queue = sqs.create_queue(QueueName=unique("approvals"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    execution_id = start(ssm, runbook(approve_step([caller_arn(aws)], inputs={"NotificationArn": topic}), after()))
    waiting(ssm, execution_id)
    messages = eventually(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"), timeout=10)
    assert messages and execution_id in messages[0]["Body"] and "eradicate now?" in messages[0]["Body"]
    ssm.stop_automation_execution(AutomationExecutionId=execution_id)


@pytest.mark.parametrize(
    "inputs, fields, expected",
    [
        ({"Approvers": [f"arn:aws:iam::{ACCOUNT_ID}:user/u{i}" for i in range(11)]}, {}, "must name 1 to 10"),
        ({"Approvers": []}, {}, "must name 1 to 10"),
        ({"Message": "x"}, {}, "Approvers is a required input"),
        ({"Approvers": ["a", "b"], "MinRequiredApprovals": 3}, {}, "MinRequiredApprovals"),
        ({"Approvers": ["a"], "MinRequiredApprovals": 0}, {}, "MinRequiredApprovals"),
        ({"Approvers": ["a"], "Message": "m" * 4097}, {}, "longer than 4096"),
        ({"Approvers": ["a"], "NotificationArn": f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:alerts"}, {}, "begins with Automation"),
        ({"Approvers": ["a"], "Approver": "b"}, {}, "Unknown input names provided"),
        ({"Approvers": ["a"]}, {"timeoutSeconds": 2592001}, "at most 2592000"),
    ],
    ids=["11-approvers", "no-approvers", "approvers-missing", "more-required-than-approvers", "zero-required",
         "long-message", "topic-not-automation", "unknown-input", "timeout-over-30-days"],
)
def test_create_document_refuses_invalid_approve_inputs(aws, inputs, fields, expected):
    """CreateDocument refuses (InvalidDocumentContent) an aws:approve step that
    breaks the action's documented limits: Approvers required, "the maximum
    number of approvers is 10"; MinRequiredApprovals "must be a positive
    number" and "can't exceed the number of approvers"; Message "maximum
    message length is 4096 characters"; the NotificationArn topic's name "must
    be prefixed with Automation"; only the action's four inputs; timeoutSeconds
    at most 30 days (2592000). (AWS documents the limits, not its wording.)
    A runbook within them is accepted, also with {{ }} references.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    """
    ssm = aws("ssm")
    content = runbook({"name": "askApproval", "action": "aws:approve", "inputs": inputs, **fields})
    with pytest.raises(ClientError) as info:
        document(ssm, content)
    assert info.value.response["Error"]["Code"] == "InvalidDocumentContent"
    assert expected in info.value.response["Error"]["Message"], info.value.response["Error"]["Message"]


def test_create_document_accepts_valid_and_referenced_approve_inputs(aws):
    """The documented example's inputs, and inputs given as {{ }} references
    (known only when the automation runs), are accepted.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    """
    ssm = aws("ssm")
    document(ssm, runbook(approve_step(
        ["IamUser1", "IamUser2", f"arn:aws:iam::{ACCOUNT_ID}:user/IamUser3", f"arn:aws:iam::{ACCOUNT_ID}:role/IamRole"],
        timeoutSeconds=1000,
        inputs={"NotificationArn": f"arn:aws:sns:us-west-1:{ACCOUNT_ID}:Automation-ApprovalRequest", "MinRequiredApprovals": 3},
    )))
    content = runbook(approve_step(["{{ Approver }}"], inputs={"MinRequiredApprovals": "{{ Needed }}"}))
    content["parameters"] = {"Approver": {"type": "String"}, "Needed": {"type": "Integer", "default": 1}}
    document(ssm, content)


# ----------------------------------------------------------------------------
# the lab's SSM playbook: contained, then asked


PLAYBOOK = REPO_ROOT / "stacks" / "playbook-ssm.yaml"
DETECTION, VICTIM = REPO_ROOT / "stacks" / "detection.yaml", REPO_ROOT / "stacks" / "victim.yaml"
MINER = "/opt/xmrig/xmrig -o pool.example:3333"
CRON = "/etc/cron.d/miner"
INDICATORS = {"processes": ["xmrig"], "files": [CRON], "domains": []}
CLEANS = ["pkill -f xmrig || true", f"rm -f {CRON}"]


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _lab(aws: Any, emulator: Any, lab: str, approval_timeout: int, commands: list[str],
         approvers: str | None = None) -> dict[str, Any]:
    """Detection, victim (a managed node, the miner running and its cron file
    in place) and the SSM playbook with the approval and eradication
    parameters as irlab passes them (every parameter given: a recovery updates
    both stacks with their previous values); the automation started for a
    finding as the rule starts it. Answers the lab's parts and the execution
    id."""
    cf, ssm = aws("cloudformation"), aws("ssm")
    tags = [{"Key": "irlab:lab", "Value": lab}]
    parts = {}
    victim_parameters = {**lab_stacks.victim_parameters(cf, lab), "InstanceType": "t3.micro",
                         "LatestAmiId": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}
    for part, body, params in (
        ("detection", DETECTION, {"LabName": lab}),
        ("victim", VICTIM, victim_parameters),
    ):
        stack = create_stack(cf, f"irlab-{lab}-{part}", body.read_text(), params, Tags=tags)
        assert stack["StackStatus"] == "CREATE_COMPLETE", (part, stack.get("StackStatusReason"))
        parts[part] = _outputs(stack)
    detection, victim = parts["detection"], parts["victim"]
    instance = victim["InstanceId"]
    managed(ssm, instance)
    status, answer = _state(emulator, "POST", body={"instanceId": instance, "files": {CRON: f"* * * * * root {MINER}\n"},
                                                     "processes": [MINER]})
    assert status == 200, answer
    parameters = {
        "LabName": lab,
        "AlertTopicArn": detection["AlertTopicArn"],
        "AuditRecorderArn": detection["AuditRecorderArn"],
        "EvidenceBucketName": detection["EvidenceBucketName"],
        "CollectDocumentName": detection["CollectDocumentName"],
        "InstanceId": instance,
        "QuarantineSecurityGroupId": victim["QuarantineSecurityGroupId"],
        "UntrackSecurityGroupId": victim["UntrackSecurityGroupId"],
        "InstanceRoleArn": victim["InstanceRoleArn"],
        "SubnetId": victim["SubnetId"],
        "Indicators": json.dumps(INDICATORS),
        "ApprovalTimeoutSeconds": str(approval_timeout),
        "Approvers": caller_arn(aws) if approvers is None else approvers,
        "EradicateDocumentName": detection["EradicateDocumentName"],
        "EradicateInstanceProfileArn": victim["EradicateInstanceProfileArn"],
        "EradicateRoleArn": victim["EradicateRoleArn"],
        "EradicateCommands": json.dumps(CLEANS if commands is None else commands),
        "EradicateTimeoutSeconds": "300",
        "MinSeverity": "4",
        "EvidenceBudgetSeconds": "120",
        "MemoryDocumentName": detection["MemoryDocumentName"],
        "MemoryTool": "",
        "MemoryToolSha256": "",
        "MemoryBudgetSeconds": "300",
    }
    stack = create_stack(cf, f"irlab-{lab}-playbook", PLAYBOOK.read_text(), parameters, Tags=tags)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    playbook = _outputs(stack)
    finding = uuid.uuid4().hex
    execution_id = ssm.start_automation_execution(DocumentName=playbook["PlaybookName"], Parameters={
        "FindingId": [finding], "FindingType": ["CryptoCurrency:EC2/BitcoinTool.B!DNS"], "InstanceId": [instance],
        "Severity": ["8"], "AutomationAssumeRole": [playbook["PlaybookRoleArn"]],
    })["AutomationExecutionId"]
    return {"lab": lab, "detection": detection, "victim": victim, "playbook": playbook, "instance": instance,
            "execution": execution_id}


def _tags(aws: Any, instance: str) -> dict[str, str]:
    found = aws("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in found.get("Tags", [])}


def _still_isolated(aws: Any, lab: dict[str, Any]) -> None:
    """Every interface carries only the quarantine group; no instance profile."""
    ec2 = aws("ec2")
    instance = ec2.describe_instances(InstanceIds=[lab["instance"]])["Reservations"][0]["Instances"][0]
    for interface in instance["NetworkInterfaces"]:
        assert [g["GroupId"] for g in interface["Groups"]] == [lab["victim"]["QuarantineSecurityGroupId"]]
    associations = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [lab["instance"]]}])["IamInstanceProfileAssociations"]
    assert [a for a in associations if a["State"] in ("associating", "associated")] == []


def _notices(aws: Any, emulator: Any, lab: dict[str, Any]) -> list[dict[str, Any]]:
    wait_idle(emulator.endpoint)
    return [r for r in audit_records(aws("logs"), f"/irlab/{lab['lab']}/audit", term=lab["instance"])
            if r.get("Type") == "Notification"]


def _asked(aws: Any, emulator: Any, lab: dict[str, Any]) -> dict[str, Any]:
    """The automation once it waits for the approval, after a containment that
    succeeded; the request names the commands to answer it with."""
    ssm = aws("ssm")
    execution = waiting(ssm, lab["execution"], timeout=120)
    assert step(execution, "tagContained")["StepStatus"] == "Success"
    assert step(execution, "askApproval")["StepStatus"] == "Waiting"
    tags = _tags(aws, lab["instance"])
    assert (tags["irlab:ir-status"], tags["irlab:approval"]) == ("contained", "waiting")
    name, execution_id = lab["lab"], lab["execution"]
    [request] = [n for n in _notices(aws, emulator, lab) if "approve eradication" in (n.get("Subject") or "")]
    assert request["Subject"] == f"[irlab {name}] approve eradication of {lab['instance']}?"
    for line in (f"irlab --lab {name} approve {execution_id}", f"irlab --lab {name} reject {execution_id}", "irlab --lab",
                 "recover", "leaves the instance contained"):
        assert line in request["Message"], (line, request["Message"])
    return execution


@pytest.mark.parametrize("commands, eradicated", [(CLEANS, True), (["true"], False)], ids=["cleans", "leaves-the-miner"])
def test_playbook_approved_eradicates(aws, emulator, commands, eradicated):
    """stacks/playbook-ssm.yaml with ApprovalTimeoutSeconds: after tagContained
    it tags irlab:approval=waiting, publishes the request (the irlab approve
    and reject commands with the automation's id) and waits (aws:approve:
    the automation is Waiting). Approved (SendAutomationSignal Approve by the
    listed approver), it tags irlab:approval=approved, associates the
    eradication profile, waits for the agent to be Online, sends the
    EradicateDocument with EradicateCommands and the Indicators, tags
    irlab:eradication-command with the command id, reads the checkIndicators
    step (GetCommandInvocation PluginName), takes the profile off again and
    tags irlab:eradication=eradicated when the record says so (all of it in
    the EradicationRunbook the playbook starts and follows); the instance
    stays isolated and tagged irlab:ir-status=contained, and the result is
    published. The automation ends Success; when the commands leave an
    indicator, irlab:eradication=failed, the notice names what is still
    present, and the automation ends Failed (confirmEradicated).
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendAutomationSignal.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AssociateIamInstanceProfile.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-assertAwsResourceProperty.html
    """
    set_wait_scale(emulator, 0.01)
    lab = _lab(aws, emulator, "ap1" if eradicated else "ap2", 3600, commands)
    ssm = aws("ssm")
    _asked(aws, emulator, lab)
    ssm.send_automation_signal(AutomationExecutionId=lab["execution"], SignalType="Approve", Payload={"Comment": ["go"]})
    execution = finish(ssm, lab["execution"], timeout=180)
    failed = [(s["StepName"], s.get("FailureMessage")) for s in execution["StepExecutions"] if s["StepStatus"] not in ("Success",)]
    tags = _tags(aws, lab["instance"])
    assert tags["irlab:approval"] == "approved"
    command_id = tags["irlab:eradication-command"]
    check = ssm.get_command_invocation(CommandId=command_id, InstanceId=lab["instance"], PluginName="checkIndicators")
    record = json.loads(check["StandardOutputContent"].strip().splitlines()[-1])
    assert record["eradicated"] is eradicated, record
    _still_isolated(aws, lab)
    notices = _notices(aws, emulator, lab)
    if eradicated:
        assert execution["AutomationExecutionStatus"] == "Success", (execution.get("FailureMessage"), failed)
        assert (tags["irlab:eradication"], tags["irlab:ir-status"]) == ("eradicated", "contained")
        [notice] = [n for n in notices if n.get("Subject") == f"[irlab {lab['lab']}] {lab['instance']} eradicated"]
        assert "Still present: none" in notice["Message"] and "processes:xmrig" in notice["Message"]
        assert f"irlab --lab {lab['lab']} recover" in notice["Message"] and command_id in notice["Message"]
    else:
        assert execution["AutomationExecutionStatus"] == "Failed"
        assert [name for name, _ in failed] == ["confirmEradicated"], failed
        assert (tags["irlab:eradication"], tags["irlab:ir-status"]) == ("failed", "contained")
        [notice] = [n for n in notices if n.get("Subject") == f"[irlab {lab['lab']}] eradication FAILED: {lab['instance']}"]
        assert "Still present: processes:xmrig, files:/etc/cron.d/miner" in notice["Message"], notice["Message"]
        assert f"irlab --lab {lab['lab']} eradicate" in notice["Message"]


def test_playbook_rejected_stays_contained(aws, emulator):
    """Rejected (SendAutomationSignal Reject), the runbook tags
    irlab:approval=rejected, publishes that the instance stays contained and
    how to eradicate and recover by hand, and ends: nothing is eradicated
    (the miner's file is still there), irlab:ir-status stays contained, the
    containment's steps stay Success and - the approval step not being
    critical - the automation ends Success.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-handling-timeouts.html
    """
    set_wait_scale(emulator, 0.01)
    lab = _lab(aws, emulator, "ap3", 3600, CLEANS)
    ssm = aws("ssm")
    _asked(aws, emulator, lab)
    ssm.send_automation_signal(AutomationExecutionId=lab["execution"], SignalType="Reject", Payload={"Comment": ["not now"]})
    execution = finish(ssm, lab["execution"], timeout=60)
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    assert execution["StepExecutions"][-1]["StepName"] == "notifyRejected"
    assert step(execution, "tagContained")["StepStatus"] == "Success"
    assert not [s for s in execution["StepExecutions"] if s["StepName"] in ("lendProfile", "sendEradication")]
    tags = _tags(aws, lab["instance"])
    assert (tags["irlab:ir-status"], tags["irlab:approval"]) == ("contained", "rejected")
    assert "irlab:eradication-command" not in tags and "irlab:eradication" not in tags
    _still_isolated(aws, lab)
    assert CRON in _state(emulator, "GET", lab["instance"])[1]["files"]
    [notice] = [n for n in _notices(aws, emulator, lab) if "eradication rejected" in (n.get("Subject") or "")]
    assert f"irlab --lab {lab['lab']} eradicate" in notice["Message"] and "recover" in notice["Message"]


def test_playbook_without_an_answer_stays_contained(aws, emulator):
    """No answer within ApprovalTimeoutSeconds (60 s, at wait scale 0.01): the
    approval step times out, the runbook tags irlab:approval=timed-out,
    publishes that the instance stays contained, and the automation ends
    Success with irlab:ir-status still contained.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-handling-timeouts.html
    """
    set_wait_scale(emulator, 0.01)
    lab = _lab(aws, emulator, "ap4", 60, CLEANS)
    ssm = aws("ssm")
    execution = finish(ssm, lab["execution"], timeout=180)
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    assert step(execution, "askApproval")["StepStatus"] == "TimedOut"
    assert execution["StepExecutions"][-1]["StepName"] == "notifyTimedOut"
    tags = _tags(aws, lab["instance"])
    assert (tags["irlab:ir-status"], tags["irlab:approval"]) == ("contained", "timed-out")
    _still_isolated(aws, lab)
    [notice] = [n for n in _notices(aws, emulator, lab) if "no approval" in (n.get("Subject") or "")]
    assert "within 60 seconds" in notice["Message"]


def test_playbook_runbook_fits_the_document_size_limit(aws, emulator):
    """The runbook as deployed with the approval and eradication parameters
    (the built-in scenarios' indicators and eradication commands), and each of
    the runbooks it starts (eradication, recovery), stays within SSM's
    document size limit, 64 KB ("The content of the document must not exceed
    64KB. This quota also includes the content specified for input parameters
    at runtime"), with 4 KB to spare for those.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html
    """
    import glob

    import yaml

    indicators: dict[str, list[str]] = {"processes": [], "files": [], "domains": []}
    commands: list[str] = []
    for path in sorted(glob.glob(str(REPO_ROOT / "scenarios" / "*.yaml"))):
        scenario = yaml.safe_load(open(path))
        for kind in indicators:
            indicators[kind] += [i for i in scenario["indicators"].get(kind, []) if i not in indicators[kind]]
        commands += scenario["eradicate"]["commands"]
    cf, ssm = aws("cloudformation"), aws("ssm")
    lab = "ap5"
    tags = [{"Key": "irlab:lab", "Value": lab}]
    detection = _outputs(create_stack(cf, f"irlab-{lab}-detection", DETECTION.read_text(), {"LabName": lab}, Tags=tags))
    victim = _outputs(create_stack(cf, f"irlab-{lab}-victim", VICTIM.read_text(), lab_stacks.victim_parameters(cf, lab), Tags=tags))
    stack = create_stack(cf, f"irlab-{lab}-playbook", PLAYBOOK.read_text(), {
        "LabName": lab, "AlertTopicArn": detection["AlertTopicArn"], "AuditRecorderArn": detection["AuditRecorderArn"],
        "EvidenceBucketName": detection["EvidenceBucketName"], "CollectDocumentName": detection["CollectDocumentName"],
        "MemoryDocumentName": detection["MemoryDocumentName"], "InstanceId": victim["InstanceId"],
        "QuarantineSecurityGroupId": victim["QuarantineSecurityGroupId"],
        "UntrackSecurityGroupId": victim["UntrackSecurityGroupId"], "InstanceRoleArn": victim["InstanceRoleArn"],
        "SubnetId": victim["SubnetId"], "Indicators": json.dumps(indicators), "ApprovalTimeoutSeconds": "604800",
        "Approvers": f"arn:aws:iam::{ACCOUNT_ID}:role/irlab/some-long-path/an-administrator-role-name",
        "EradicateDocumentName": detection["EradicateDocumentName"],
        "EradicateInstanceProfileArn": victim["EradicateInstanceProfileArn"], "EradicateRoleArn": victim["EradicateRoleArn"],
        "EradicateCommands": json.dumps(commands),
    }, Tags=tags)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    names = [r["PhysicalResourceId"] for r in cf.list_stack_resources(StackName=stack["StackName"])[
        "StackResourceSummaries"] if r["ResourceType"] == "AWS::SSM::Document"]
    assert _outputs(stack)["PlaybookName"] in names and len(names) == 3, names
    for name in names:
        for document_format in ("YAML", "JSON"):
            content = ssm.get_document(Name=name, DocumentFormat=document_format)["Content"]
            assert len(content.encode()) < 64 * 1024 - 4096, (name, document_format, len(content.encode()))


def test_playbook_with_no_approver_asks_nobody_and_stays_contained(aws, emulator):
    """With ApprovalTimeoutSeconds but no Approvers, the aws:approve step has
    nobody to ask and fails at once (the stand-in's reading: AWS requires at
    least one approver but documents no runtime error); the runbook tags
    irlab:approval=not-asked, publishes that the instance stays contained, and
    the automation ends Success with irlab:ir-status contained.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-handling-timeouts.html
    """
    set_wait_scale(emulator, 0.01)
    lab = _lab(aws, emulator, "ap6", 3600, CLEANS, approvers="")
    execution = finish(aws("ssm"), lab["execution"], timeout=180)
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    assert step(execution, "askApproval")["StepStatus"] == "Failed"
    assert execution["StepExecutions"][-1]["StepName"] == "notifyApprovalFailed"
    tags = _tags(aws, lab["instance"])
    assert (tags["irlab:ir-status"], tags["irlab:approval"]) == ("contained", "not-asked")
    _still_isolated(aws, lab)
    assert [n for n in _notices(aws, emulator, lab) if "approval FAILED" in (n.get("Subject") or "")]


# ----------------------------------------------------------------------------
# after the eradication, the recovery in the same automation


def _approved(aws: Any, emulator: Any, lab: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
    """Approve the waiting automation; the execution once it has ended."""
    ssm = aws("ssm")
    _asked(aws, emulator, lab)
    ssm.send_automation_signal(AutomationExecutionId=lab["execution"], SignalType="Approve")
    return finish(ssm, lab["execution"], timeout=timeout)


def _instance(aws: Any, instance: str) -> dict[str, Any]:
    return aws("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]


def _attribute(aws: Any, instance: str, name: str) -> bool:
    key = name[0].upper() + name[1:]
    return aws("ec2").describe_instance_attribute(InstanceId=instance, Attribute=name)[key]["Value"]


def test_playbook_approved_eradicates_then_recovers(aws, emulator):
    """After an approved eradication that left no indicator, the same
    automation recovers the lab through the victim stack, as `irlab recover`
    and the Step Functions playbook do: it lifts the compromised instance's
    stop protection, stops it (StopInstances) and protects it again once it
    is stopped; it updates the victim stack with its previous template
    (UsePreviousTemplate) and previous values (UsePreviousValue) but ImageId -
    the baseline: the stack's, else the image the compromised instance was
    launched from - and PrivateIpHost - the host after the stack's ("" counts
    as 10) not in use in the lab's subnet: 11 -; a new PrivateIpAddress
    requires replacement, so CloudFormation launches a new instance and,
    UpdateReplacePolicy Retain, keeps the old one outside the stack. It tags
    the compromised instance irlab:recovery=replaced and irlab:replaced-by,
    updates its own stack the same way but InstanceId (only the rule's
    pattern changes: the documents, and the automation running them, are not
    touched), waits for the new victim's agent, sends it the
    EradicateDocument with nothing to run (the indicator check), tags
    irlab:recovery=recovered with irlab:recovery-check, publishes a
    "recovered" notice, and ends Success with tagRecovered, its last step.
    CloudFormation makes its calls with the role session's permissions, which
    the role grants only through CloudFormation (aws:CalledVia).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-updatereplacepolicy.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-stop-protection.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-calledvia
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-waitForAwsResourceProperty.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeAutomationStepExecutions.html
    """
    set_wait_scale(emulator, 0.01)
    lab = _lab(aws, emulator, "rc1", 3600, CLEANS)
    cf, ssm, events = aws("cloudformation"), aws("ssm"), aws("events")
    old = lab["instance"]
    image = _instance(aws, old)["ImageId"]
    documents = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cf.list_stack_resources(
        StackName=f"irlab-{lab['lab']}-playbook")["StackResourceSummaries"] if r["ResourceType"] == "AWS::SSM::Document"}
    before = {name: ssm.get_document(Name=name)["Content"] for name in documents.values()}

    execution = _approved(aws, emulator, lab)
    failed = [(s["StepName"], s.get("FailureMessage")) for s in execution["StepExecutions"] if s["StepStatus"] != "Success"]
    assert execution["AutomationExecutionStatus"] == "Success", (execution.get("FailureMessage"), failed)
    names = [s["StepName"] for s in execution["StepExecutions"]]
    assert names[-5:] == ["confirmEradicated", "readRecovery", "followRecovery", "confirmRecovered", "tagRecovered"]

    # The victim stack names a new instance, from the baseline image, at host 11.
    victim = cf.describe_stacks(StackName=f"irlab-{lab['lab']}-victim")["Stacks"][0]
    assert victim["StackStatus"] == "UPDATE_COMPLETE"
    new = _outputs(victim)["InstanceId"]
    assert new != old
    values = {p["ParameterKey"]: p["ParameterValue"] for p in victim["Parameters"]}
    assert (values["ImageId"], values["PrivateIpHost"]) == (image, "11")
    replacement = _instance(aws, new)
    assert replacement["State"]["Name"] == "running" and replacement["ImageId"] == image
    assert replacement["PrivateIpAddress"].endswith(".11")

    # The compromised one: stopped, protected, isolated, kept, tagged with each step.
    kept = _instance(aws, old)
    assert kept["State"]["Name"] == "stopped"
    assert _attribute(aws, old, "disableApiStop") and _attribute(aws, old, "disableApiTermination")
    _still_isolated(aws, lab)
    tags = _tags(aws, old)
    assert (tags["irlab:ir-status"], tags["irlab:eradication"]) == ("contained", "eradicated")
    assert (tags["irlab:recovery"], tags["irlab:replaced-by"]) == ("recovered", new)
    check = tags["irlab:recovery-check"]

    # The rule (this stack updated, InstanceId only) names the new victim; the
    # documents that were running are unchanged.
    playbook = cf.describe_stacks(StackName=f"irlab-{lab['lab']}-playbook")["Stacks"][0]
    assert playbook["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in playbook["Parameters"]}["InstanceId"] == new
    pattern = json.loads(events.describe_rule(Name=f"irlab-{lab['lab']}-playbook-ssm")["EventPattern"])
    assert pattern["detail"]["resource"]["instanceDetails"]["instanceId"] == [new]
    assert {name: ssm.get_document(Name=name)["Content"] for name in documents.values()} == before

    # The new victim's check ran and found nothing.
    def checked() -> dict[str, Any] | None:
        out = ssm.get_command_invocation(CommandId=check, InstanceId=new, PluginName="checkIndicators")
        return out if out["Status"] in ("Success", "Failed", "TimedOut", "Cancelled") else None

    out = eventually(checked, timeout=60)
    assert out and out["Status"] == "Success", out
    record = json.loads(out["StandardOutputContent"].strip().splitlines()[-1])
    assert record["eradicated"] is True and record["present"] == [], record

    notices = _notices(aws, emulator, lab)
    [notice] = [n for n in notices if n.get("Subject") == f"[irlab {lab['lab']}] recovered: {new} replaces {old}"]
    for part in (image, check, f"irlab --lab {lab['lab']} verify --phase all", "kept as evidence"):
        assert part in notice["Message"], (part, notice["Message"])
    [eradicated] = [n for n in notices if n.get("Subject") == f"[irlab {lab['lab']}] {old} eradicated"]
    assert "a new victim from the baseline, in this automation" in eradicated["Message"]


def _deny(aws: Any, lab: dict[str, Any], sid: str) -> None:
    """The playbook role without its statement ``sid`` (as if the template
    lacked it)."""
    iam = aws("iam")
    role = lab["playbook"]["PlaybookRoleArn"].rsplit("/", 1)[-1]
    policy = iam.get_role_policy(RoleName=role, PolicyName="contain-lab-instance")["PolicyDocument"]
    statements = [s for s in policy["Statement"] if s.get("Sid") != sid]
    assert len(statements) == len(policy["Statement"]) - 1, sid
    iam.put_role_policy(RoleName=role, PolicyName="contain-lab-instance",
                        PolicyDocument=json.dumps({**policy, "Statement": statements}))


@pytest.mark.parametrize("sid, action, step", [
    ("StopLabInstance", "ec2:StopInstances", "stopCompromised"),
    ("UpdateLabStacks", "cloudformation:DescribeStacks", "chooseReplacement"),
    ("StartRecovery", "ssm:StartAutomationExecution", "startRecovery"),
], ids=["stop-denied", "stacks-denied", "start-denied"])
def test_playbook_recovery_that_fails_is_tagged_and_told(aws, emulator, sid, action, step):
    """A recovery that fails after the eradication leaves the eradication
    standing (irlab:eradication=eradicated, still contained and isolated),
    tags the compromised instance irlab:recovery=failed, publishes a notice
    that names the failed step, the error (here the action the role lacks:
    AWS denies a call no identity-based policy allows) and `irlab --lab LAB
    recover`, which finishes the job, and ends the automation Failed: its
    confirmRecovered, or followRecovery when the recovery could not even
    start, fails; no tagRecovered ran, the victim stack is not touched.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-assertAwsResourceProperty.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-statuses.html
    """
    set_wait_scale(emulator, 0.01)
    lab = _lab(aws, emulator, {"StopLabInstance": "rc2", "UpdateLabStacks": "rc3", "StartRecovery": "rc4"}[sid], 3600, CLEANS)
    cf = aws("cloudformation")
    _deny(aws, lab, sid)
    execution = _approved(aws, emulator, lab)
    assert execution["AutomationExecutionStatus"] == "Failed"
    failed = [s["StepName"] for s in execution["StepExecutions"] if s["StepStatus"] != "Success"]
    assert failed == (["followRecovery"] if sid == "StartRecovery" else ["confirmRecovered"]), failed
    assert "tagRecovered" not in [s["StepName"] for s in execution["StepExecutions"]]
    tags = _tags(aws, lab["instance"])
    assert (tags["irlab:eradication"], tags["irlab:ir-status"], tags["irlab:recovery"]) == (
        "eradicated", "contained", "failed")
    assert "irlab:recovery-check" not in tags
    _still_isolated(aws, lab)
    assert _outputs(cf.describe_stacks(StackName=f"irlab-{lab['lab']}-victim")["Stacks"][0])["InstanceId"] == lab["instance"]
    subject = f"[irlab {lab['lab']}] recovery FAILED after eradicating {lab['instance']}"
    [notice] = [n for n in _notices(aws, emulator, lab) if n.get("Subject") == subject]
    for part in (f"Failed step: {step}", f"is not authorized to perform: {action}", f"irlab --lab {lab['lab']} recover"):
        assert part in notice["Message"], (part, notice["Message"])
