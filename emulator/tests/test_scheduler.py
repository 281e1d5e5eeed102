"""EventBridge Scheduler one-time schedules (patches/scheduler.py): a schedule fires its
target once at its time, as its execution role, with retries and a dead-letter queue;
UpdateSchedule reschedules, DeleteSchedule cancels, ActionAfterCompletion DELETE removes it;
AWS::Scheduler::Schedule / ScheduleGroup in CloudFormation.

Times are compressed: each test sets the wait scale and the scale of AWS's delays to 0.01
(``POST /moto-api/irlab/wait-scale``), so a schedule 100 s ahead fires after about 1 s."""

from __future__ import annotations

import datetime
import json
import time
import urllib.request
import zoneinfo
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, create_stack, eventually, unique, wait_idle
from iam_roles import service_role, trust

SCALE = 0.01
PASS_MACHINE = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def _post(emulator: Any, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{emulator.endpoint}{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def fast(emulator, aws):
    """Both scales at 0.01 (after the ``aws`` fixture's reset)."""
    _post(emulator, "/moto-api/irlab/wait-scale", {"scale": SCALE, "serviceScale": SCALE})
    return emulator


def _at(seconds: float, zone: str = "UTC") -> str:
    when = datetime.datetime.now(zoneinfo.ZoneInfo(zone)) + datetime.timedelta(seconds=seconds)
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})"


def _scheduler_role(aws, allow: list[str], name: str | None = None) -> str:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": allow, "Resource": "*"}]}
    return service_role(aws("iam"), "scheduler.amazonaws.com", name or unique("scheduler"), policy)


def _queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _receive(sqs, url: str, wait: float = 0.0) -> list[dict]:
    got: list[dict] = []
    deadline = time.monotonic() + wait
    while True:
        got.extend(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", []))
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(0.1)


def _schedule(scheduler, name: str, expression: str, target: dict, **kwargs: Any) -> str:
    return scheduler.create_schedule(
        Name=name, ScheduleExpression=expression, FlexibleTimeWindow=kwargs.pop("FlexibleTimeWindow", {"Mode": "OFF"}), Target=target, **kwargs
    )["ScheduleArn"]


def test_one_time_schedule_starts_the_state_machine_with_its_input_at_its_time_in_its_time_zone(aws, fast):
    """A one-time schedule (ScheduleExpression at(yyyy-mm-ddThh:mm:ss), evaluated in
    ScheduleExpressionTimezone) invokes its target once, at that date and time: a Step
    Functions templated target starts one execution (StartExecution) whose input is the
    target's Input, called with the schedule's execution role (trusting
    scheduler.amazonaws.com, allowed states:StartExecution). Nothing starts before the time;
    a time read as UTC instead of Asia/Tokyo would lie nine hours away and never fire here.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets.html
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html
    """
    sfn, scheduler = aws("stepfunctions"), aws("scheduler")
    machine = sfn.create_state_machine(
        name=unique("teardown"), roleArn=service_role(aws("iam"), "states.amazonaws.com", unique("sm")), definition=PASS_MACHINE
    )["stateMachineArn"]
    role = _scheduler_role(aws, ["states:StartExecution"])
    payload = {"lab": "irlab-t1", "reason": "expiry"}
    _schedule(
        scheduler, "expiry", _at(150, "Asia/Tokyo"), {"Arn": machine, "RoleArn": role, "Input": json.dumps(payload)},
        ScheduleExpressionTimezone="Asia/Tokyo",
    )  # fmt: skip
    assert scheduler.get_schedule(Name="expiry")["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    time.sleep(0.5)  # 50 s of schedule time: not yet
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    executions = eventually(lambda: sfn.list_executions(stateMachineArn=machine)["executions"], timeout=10)
    assert len(executions) == 1
    assert json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"]) == payload
    wait_idle(fast.endpoint)
    time.sleep(0.5)
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1  # once


def test_updated_schedule_fires_at_the_new_time_and_not_the_old(aws, fast):
    """UpdateSchedule replaces a schedule's settings; a one-time schedule moved to a later
    time before it fired invokes its target at the new time only (how irlab extend
    postpones a lab's expiry): nothing arrives at the old time, one message at the new.
    https://docs.aws.amazon.com/scheduler/latest/APIReference/API_UpdateSchedule.html
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
    """
    sqs, scheduler = aws("sqs"), aws("scheduler")
    url, arn = _queue(sqs, unique("teardown"))
    target = {"Arn": arn, "RoleArn": _scheduler_role(aws, ["sqs:SendMessage"]), "Input": '{"n": 1}'}
    _schedule(scheduler, "expiry", _at(100), target, ActionAfterCompletion="DELETE")
    scheduler.update_schedule(
        Name="expiry", ScheduleExpression=_at(400), FlexibleTimeWindow={"Mode": "OFF"}, Target={**target, "Input": '{"n": 2}'},
        ActionAfterCompletion="DELETE",
    )  # fmt: skip
    assert _receive(sqs, url, wait=2.5) == []  # the old time (about 1 s) has passed
    [message] = _receive(sqs, url, wait=6)
    assert json.loads(message["Body"]) == {"n": 2}
    wait_idle(fast.endpoint)
    assert _receive(sqs, url, wait=0.5) == []


def test_deleted_or_disabled_schedule_does_not_fire(aws, fast):
    """A schedule deleted before its time never invokes its target (DeleteSchedule); a
    schedule whose State is DISABLED does not invoke it either.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-delete.html
    https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
    """
    sqs, scheduler = aws("sqs"), aws("scheduler")
    url, arn = _queue(sqs, unique("teardown"))
    target = {"Arn": arn, "RoleArn": _scheduler_role(aws, ["sqs:SendMessage"])}
    _schedule(scheduler, "deleted", _at(60), target)
    scheduler.delete_schedule(Name="deleted")
    _schedule(scheduler, "disabled", _at(30), target, State="DISABLED")
    _schedule(scheduler, "control", _at(90), target)
    [message] = _receive(sqs, url, wait=6)  # the control schedule fired ...
    wait_idle(fast.endpoint)
    assert _receive(sqs, url, wait=0.5) == []  # ... and nothing else
    assert message["Body"] == "{}"
    assert scheduler.get_schedule(Name="disabled")["State"] == "DISABLED"


def test_action_after_completion_delete_removes_the_schedule_and_none_keeps_it(aws, fast):
    """ActionAfterCompletion DELETE: EventBridge Scheduler deletes a one-time schedule after
    it has invoked its target once; NONE (the default) keeps it, still ENABLED.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-delete.html
    """
    sqs, scheduler = aws("sqs"), aws("scheduler")
    url, arn = _queue(sqs, unique("teardown"))
    target = {"Arn": arn, "RoleArn": _scheduler_role(aws, ["sqs:SendMessage"])}
    _schedule(scheduler, "once-delete", _at(30), target, ActionAfterCompletion="DELETE")
    _schedule(scheduler, "once-keep", _at(30), target)
    assert scheduler.get_schedule(Name="once-keep")["ActionAfterCompletion"] == "NONE"
    assert scheduler.get_schedule(Name="once-delete")["ActionAfterCompletion"] == "DELETE"
    eventually(lambda: len(_receive(sqs, url)) >= 2 or None, timeout=10)
    wait_idle(fast.endpoint)
    with pytest.raises(ClientError) as err:
        scheduler.get_schedule(Name="once-delete")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert scheduler.get_schedule(Name="once-keep")["State"] == "ENABLED"
    assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["once-keep"]


def test_a_role_that_may_not_start_the_target_does_not_start_it_and_the_dlq_gets_the_input(aws, fast):
    """EventBridge Scheduler calls the target API with the schedule's execution role: a role
    without states:StartExecution starts nothing; the failed invocation (a permission
    error, not retried) goes to the target's dead-letter queue - sent with the execution
    role, which needs sqs:SendMessage on it - with the invocation details as message
    attributes (X-Amz-Scheduler-Attempt, -Error-Code, -Error-Message, -Group, -Schedule,
    -Schedule-Arn, -Target-Arn). A role scheduler.amazonaws.com may not assume starts
    nothing either.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html
    """
    sfn, sqs, scheduler, iam = aws("stepfunctions"), aws("sqs"), aws("scheduler"), aws("iam")
    machine = sfn.create_state_machine(
        name=unique("teardown"), roleArn=service_role(iam, "states.amazonaws.com", unique("sm")), definition=PASS_MACHINE
    )["stateMachineArn"]
    dlq_url, dlq_arn = _queue(sqs, unique("dlq"))
    only_dlq = _scheduler_role(aws, ["sqs:SendMessage"])
    untrusted = service_role(iam, "events.amazonaws.com", unique("events-only"))
    arn = _schedule(
        scheduler, "denied", _at(30), {"Arn": machine, "RoleArn": only_dlq, "Input": '{"lab": "t1"}', "DeadLetterConfig": {"Arn": dlq_arn}}
    )
    _schedule(scheduler, "untrusted", _at(30), {"Arn": machine, "RoleArn": untrusted})
    [dead] = _receive(sqs, dlq_url, wait=8)
    wait_idle(fast.endpoint)
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    assert dead["Body"] == '{"lab": "t1"}'
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["X-Amz-Scheduler-Attempt"] == "1"  # not retried
    assert attributes["X-Amz-Scheduler-Error-Code"] == "AccessDeniedException"
    assert "states:StartExecution" in attributes["X-Amz-Scheduler-Error-Message"]
    assert attributes["X-Amz-Scheduler-Schedule-Arn"] == arn
    assert attributes["X-Amz-Scheduler-Schedule"] == "denied" and attributes["X-Amz-Scheduler-Group"] == "default"
    assert attributes["X-Amz-Scheduler-Target-Arn"] == machine


def test_retriable_failures_are_retried_per_retry_policy_then_dead_lettered(aws, fast):
    """A target that throttles is retried with exponential backoff until
    RetryPolicy.MaximumRetryAttempts retries are made (0-185, default 185; or the event is
    MaximumEventAgeInSeconds old, 60-86400, default 86400), then the dead-letter queue gets
    the event; the default RetryPolicy shows in GetSchedule. Out-of-range values are refused.
    https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
    """
    ssm, sqs, scheduler = aws("ssm"), aws("sqs"), aws("scheduler")
    document = unique("teardown")
    ssm.create_document(
        Name=document, DocumentType="Automation", DocumentFormat="JSON",
        Content=json.dumps({"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}]}),
    )  # fmt: skip
    dlq_url, dlq_arn = _queue(sqs, unique("dlq"))
    target = {
        "Arn": "arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution",
        "RoleArn": _scheduler_role(aws, ["ssm:StartAutomationExecution", "sqs:SendMessage"]),
        "Input": json.dumps({"DocumentName": document}),
        "DeadLetterConfig": {"Arn": dlq_arn},
    }
    _schedule(scheduler, "default-policy", "at(2099-01-01T00:00:00)", target)
    assert scheduler.get_schedule(Name="default-policy")["Target"]["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185,
    }  # fmt: skip
    with pytest.raises(ClientError) as err:
        _schedule(scheduler, "bad-policy", "at(2099-01-01T00:00:00)", {**target, "RetryPolicy": {"MaximumRetryAttempts": 186}})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    _post(fast, "/moto-api/irlab/faults", {"rate": 1.0, "kinds": ["throttle"], "services": ["ssm"]})
    try:
        _schedule(scheduler, "throttled", _at(20), {**target, "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}})
        [dead] = _receive(sqs, dlq_url, wait=10)
        wait_idle(fast.endpoint)
    finally:
        with urllib.request.urlopen(f"{fast.endpoint}/moto-api/irlab/faults", timeout=10) as response:
            counters = json.loads(response.read())
        _post(fast, "/moto-api/irlab/faults", {"rate": 0})
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["X-Amz-Scheduler-Attempt"] == "3"  # the first attempt and two retries
    assert attributes["X-Amz-Scheduler-Error-Code"] == "ThrottlingException"
    assert counters["injected"]["throttle"] == 3
    assert ssm.describe_automation_executions()["AutomationExecutionMetadataList"] == []


def test_universal_target_starts_the_automation_with_the_request_in_input(aws, fast):
    """A universal target arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution calls
    Systems Manager's StartAutomationExecution with Input as the request (PascalCase members,
    as in the API reference), as the execution role (ssm:StartAutomationExecution).
    Read-only actions (get..., describe..., list...) are refused as targets.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html
    """
    ssm, scheduler = aws("ssm"), aws("scheduler")
    document = unique("teardown")
    ssm.create_document(
        Name=document, DocumentType="Automation", DocumentFormat="JSON",
        Content=json.dumps({
            "schemaVersion": "0.3", "parameters": {"Lab": {"type": "String"}},
            "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}],
        }),
    )  # fmt: skip
    role = _scheduler_role(aws, ["ssm:StartAutomationExecution"])
    request = {"DocumentName": document, "Parameters": {"Lab": ["irlab-t1"]}}
    _schedule(scheduler, "expiry", _at(30), {"Arn": "arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution", "RoleArn": role, "Input": json.dumps(request)})
    executions = eventually(lambda: ssm.describe_automation_executions()["AutomationExecutionMetadataList"], timeout=10)
    assert [e["DocumentName"] for e in executions] == [document]
    detail = ssm.get_automation_execution(AutomationExecutionId=executions[0]["AutomationExecutionId"])["AutomationExecution"]
    assert detail["Parameters"] == {"Lab": ["irlab-t1"]}
    with pytest.raises(ClientError) as err:
        _schedule(scheduler, "read-only", _at(30), {"Arn": "arn:aws:scheduler:::aws-sdk:ssm:getParameter", "RoleArn": role, "Input": "{}"})
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_sns_and_lambda_targets_get_the_input(aws, fast):
    """Templated targets: an SNS topic publishes Input as the message (sns:Publish); a Lambda
    function is invoked asynchronously with Input as the event (lambda:InvokeFunction);
    context attributes such as <aws.scheduler.schedule-arn> in Input are replaced.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets.html
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
    """
    from test_lambda import _function, _log_lines

    sqs, sns, scheduler, logs = aws("sqs"), aws("sns"), aws("scheduler"), aws("logs")
    sub_url, sub_arn = _queue(sqs, unique("subscriber"))
    sqs.set_queue_attributes(
        QueueUrl=sub_url,
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": sub_arn}]})},
    )
    topic = sns.create_topic(Name=unique("expiry"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sub_arn)
    function = _function(aws, unique("teardown"))
    role = _scheduler_role(aws, ["sns:Publish", "lambda:InvokeFunction"])
    arn = _schedule(scheduler, "to-topic", _at(30), {"Arn": topic, "RoleArn": role, "Input": '{"arn": "<aws.scheduler.schedule-arn>"}'})
    _schedule(scheduler, "to-function", _at(30), {"Arn": function, "RoleArn": role, "Input": '{"lab": "t1"}'})
    [envelope] = _receive(sqs, sub_url, wait=8)
    assert json.loads(json.loads(envelope["Body"])["Message"]) == {"arn": arn}
    wait_idle(fast.endpoint)
    group = f"/aws/lambda/{function.split(':')[-1]}"

    def event_lines() -> list[str]:
        try:
            return [line.strip() for line in _log_lines(logs, group) if line.startswith("event:")]
        except ClientError:  # the log group comes with the first invocation
            return []

    assert eventually(event_lines, timeout=15) == ['event: {"lab": "t1"}']


def test_a_time_in_the_past_and_a_flexible_window_fire(aws, fast):
    """A one-time schedule whose time has already passed fires at once (the stand-in's
    choice, see emulator/README.md); FlexibleTimeWindow FLEXIBLE lets EventBridge Scheduler
    invoke the target any time within MaximumWindowInMinutes after the time (the stand-in
    invokes at its start), OFF at the time (within its 60-second precision); FLEXIBLE without
    MaximumWindowInMinutes is refused.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
    https://docs.aws.amazon.com/scheduler/latest/APIReference/API_FlexibleTimeWindow.html
    """
    sqs, scheduler = aws("sqs"), aws("scheduler")
    url, arn = _queue(sqs, unique("teardown"))
    target = {"Arn": arn, "RoleArn": _scheduler_role(aws, ["sqs:SendMessage"])}
    _schedule(scheduler, "past", _at(-3600), {**target, "Input": "past"})
    _schedule(scheduler, "flexible", _at(60), {**target, "Input": "flexible"}, FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})
    got: list[dict] = []
    eventually(lambda: got.extend(_receive(sqs, url)) or len(got) >= 2, timeout=8)
    assert sorted(m["Body"] for m in got) == ["flexible", "past"]
    with pytest.raises(ClientError) as err:
        _schedule(scheduler, "no-window", _at(60), target, FlexibleTimeWindow={"Mode": "FLEXIBLE"})
    assert err.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(
    ("name", "expression", "extra", "code"),
    [
        ("tomorrow", "at(tomorrow)", {}, "ValidationException"),
        ("no-such-day", "at(2030-02-30T00:00:00)", {}, "ValidationException"),
        ("minutes-only", "at(2030-01-01T00:00)", {}, "ValidationException"),
        ("zone", "at(2030-01-01T00:00:00)", {"ScheduleExpressionTimezone": "Mars/Olympus"}, "ValidationException"),
        ("a b", "at(2030-01-01T00:00:00)", {}, "ValidationException"),
        ("group", "at(2030-01-01T00:00:00)", {"GroupName": "nope"}, "ResourceNotFoundException"),
    ],
)
def test_create_schedule_refuses_what_aws_refuses(aws, name, expression, extra, code):
    """CreateSchedule validates its input: a name of [0-9a-zA-Z-_.]{1,64}, a schedule
    expression at(yyyy-mm-ddThh:mm:ss) (or rate/cron), a time zone AWS knows -
    ValidationException (400); a group that does not exist - ResourceNotFoundException (404).
    moto stored all of these (and answered 500 for the group).
    https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
    """
    scheduler = aws("scheduler")
    target = {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:q", "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/r"}
    with pytest.raises(ClientError) as err:
        _schedule(scheduler, name, expression, target, **extra)
    assert err.value.response["Error"]["Code"] == code
    assert scheduler.list_schedules()["Schedules"] == []


SCHEDULE_TEMPLATE = """
Parameters:
  At: {Type: String}
Resources:
  Queue: {Type: AWS::SQS::Queue}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: %(trust)s
      Policies:
        - PolicyName: send
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Queue.Arn}]
  Group:
    Type: AWS::Scheduler::ScheduleGroup
    Properties:
      Name: irlab-lab
      Tags: [{Key: irlab:lab, Value: t1}]
  Expiry:
    Type: AWS::Scheduler::Schedule
    Properties:
      Name: irlab-expiry
      GroupName: !Ref Group
      ScheduleExpression: !Ref At
      FlexibleTimeWindow: {Mode: "OFF"}
      Target:
        Arn: !GetAtt Queue.Arn
        RoleArn: !GetAtt Role.Arn
        Input: '{"lab": "t1"}'
        RetryPolicy: {MaximumRetryAttempts: 3}
Outputs:
  ScheduleArn: {Value: !GetAtt Expiry.Arn}
  GroupArn: {Value: !GetAtt Group.Arn}
  QueueUrl: {Value: !Ref Queue}
"""


def test_cloudformation_schedule_and_group_are_created_updated_and_deleted(aws, fast):
    """AWS::Scheduler::Schedule (Ref: the name; Fn::GetAtt Arn; required FlexibleTimeWindow,
    ScheduleExpression, Target) and AWS::Scheduler::ScheduleGroup (Ref: the name; GetAtt
    Arn) are created with the stack, updated in place (a new ScheduleExpression reschedules:
    the target is invoked at the new time) and deleted with it. The resource has no
    ActionAfterCompletion property: a template that sets it fails.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-scheduler-schedule.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-scheduler-schedulegroup.html
    """
    cf, scheduler, sqs = aws("cloudformation"), aws("scheduler"), aws("sqs")
    body = SCHEDULE_TEMPLATE % {"trust": json.dumps(trust("scheduler.amazonaws.com"))}
    stack = create_stack(cf, "irlab-expiry", body, {"At": "at(2099-01-01T00:00:00)"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    schedule = scheduler.get_schedule(Name="irlab-expiry", GroupName="irlab-lab")
    assert outputs["ScheduleArn"] == schedule["Arn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/irlab-lab/irlab-expiry"
    assert outputs["GroupArn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule-group/irlab-lab"
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert scheduler.list_tags_for_resource(ResourceArn=outputs["GroupArn"])["Tags"] == [{"Key": "irlab:lab", "Value": "t1"}]

    cf.update_stack(
        StackName="irlab-expiry", TemplateBody=body, Parameters=[{"ParameterKey": "At", "ParameterValue": _at(30)}],
        Capabilities=["CAPABILITY_IAM"],
    )  # fmt: skip
    assert cf.describe_stacks(StackName="irlab-expiry")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    [message] = _receive(sqs, outputs["QueueUrl"], wait=8)
    assert json.loads(message["Body"]) == {"lab": "t1"}
    wait_idle(fast.endpoint)
    assert scheduler.get_schedule(Name="irlab-expiry", GroupName="irlab-lab")["State"] == "ENABLED"  # NONE: kept

    cf.delete_stack(StackName="irlab-expiry")
    assert [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]] == ["default"]
    assert scheduler.list_schedules()["Schedules"] == []

    bad = body.replace("      FlexibleTimeWindow: {Mode: \"OFF\"}", "      FlexibleTimeWindow: {Mode: \"OFF\"}\n      ActionAfterCompletion: DELETE")
    failed = create_stack(cf, "irlab-expiry-bad", bad, {"At": _at(600)}, OnFailure="DO_NOTHING")
    assert failed["StackStatus"] == "CREATE_FAILED"
    reasons = [e.get("ResourceStatusReason", "") for e in cf.describe_stack_events(StackName="irlab-expiry-bad")["StackEvents"] if e["LogicalResourceId"] == "Expiry"]
    assert any("ActionAfterCompletion" in r for r in reasons), reasons
