"""EventBridge target retries (patches/events.py): RetryPolicy, exponential
backoff with jitter, dead-letter queues after the retries, order per target.

Retriable failures come from the stand-in's fault injection
(``POST /moto-api/irlab/faults``, patches/faults.py) on the SSM Automation
target, which EventBridge reaches through the stand-in's own SSM API; backoff
delays follow the wait scale (``POST /moto-api/irlab/wait-scale``)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, eventually, unique, wait_idle
from iam_roles import service_role
from test_events import PATTERN, _allow_events, _metric_sum, _queue

DOCUMENT = "irlab-retry-target"
TARGET_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:automation-definition/{DOCUMENT}:$DEFAULT"


def _post(emulator: Any, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{emulator.endpoint}{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _get(emulator: Any, path: str) -> dict:
    with urllib.request.urlopen(f"{emulator.endpoint}{path}", timeout=10) as response:
        return json.loads(response.read())


def _idle_now(emulator: Any) -> bool:
    try:
        with urllib.request.urlopen(f"{emulator.endpoint}/moto-api/irlab/idle?timeout=0.2", timeout=10) as response:
            return bool(json.loads(response.read())["idle"])
    except urllib.error.HTTPError as exc:
        assert exc.code == 408
        return False


def _throttle_ssm(emulator: Any, kinds: list[str] | None = None) -> None:
    """Every SSM API request fails (only SSM: EventBridge, SQS, CloudWatch stay up)."""
    _post(emulator, "/moto-api/irlab/faults", {"rate": 1.0, "kinds": kinds or ["throttle"], "services": ["ssm"]})


def _faults_off(emulator: Any) -> dict:
    counters = _get(emulator, "/moto-api/irlab/faults")
    _post(emulator, "/moto-api/irlab/faults", {"rate": 0})
    return counters


def _runbook_target(aws, retry_policy: dict | None = None, dlq_arn: str | None = None) -> dict:
    """An SSM Automation runbook as the target of rule "findings"; its
    FindingId parameter is the event's detail.id."""
    ssm, iam = aws("ssm"), aws("iam")
    document = {
        "schemaVersion": "0.3",
        "parameters": {"FindingId": {"type": "String"}},
        "mainSteps": [{"name": "wait", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}],
    }
    ssm.create_document(Name=DOCUMENT, DocumentType="Automation", DocumentFormat="JSON", Content=json.dumps(document))
    role = service_role(iam, "events.amazonaws.com", unique("events"))
    target: dict[str, Any] = {
        "Id": "runbook",
        "Arn": TARGET_ARN,
        "RoleArn": role,
        "InputTransformer": {"InputPathsMap": {"id": "$.detail.id"}, "InputTemplate": '{"FindingId": [<id>]}'},
    }
    if retry_policy is not None:
        target["RetryPolicy"] = retry_policy
    if dlq_arn:
        target["DeadLetterConfig"] = {"Arn": dlq_arn}
    rule_arn = aws("events").put_rule(Name="findings", EventPattern=json.dumps(PATTERN))["RuleArn"]
    aws("events").put_targets(Rule="findings", Targets=[target])
    return {"rule_arn": rule_arn, **target}


def _runbook_target_spec(aws) -> dict:
    """The runbook target as it is, without RetryPolicy and DeadLetterConfig."""
    [target] = aws("events").list_targets_by_rule(Rule="findings")["Targets"]
    return {k: v for k, v in target.items() if k in ("Id", "Arn", "RoleArn", "InputTransformer")}


def _put_finding(events, finding_id: str) -> str:
    detail = {
        "id": finding_id,
        "type": "UnauthorizedAccess:EC2/TorClient",
        "severity": 8,
    }
    entry = {"Source": "irlab.simulation", "DetailType": "GuardDuty Finding", "Detail": json.dumps(detail)}
    return events.put_events(Entries=[entry])["Entries"][0]["EventId"]


def _dead_letters(sqs, url: str, expected: int) -> list[dict]:
    got: list[dict] = []

    def poll() -> bool:
        got.extend(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", []))
        return len(got) >= expected

    eventually(poll, timeout=15)
    return got


def _attributes(message: dict) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}


def test_retriable_failures_are_retried_up_to_maximum_retry_attempts_then_dead_lettered(aws, emulator):
    """A delivery that fails with a retriable error (the target throttles,
    answers 5xx, or is unreachable) is retried with exponential backoff and
    jitter until RetryPolicy.MaximumRetryAttempts retries have been made (or
    the event is MaximumEventAgeInSeconds old); then the event goes to the
    target's dead-letter queue with the attributes RULE_ARN, TARGET_ARN,
    ERROR_CODE (THROTTLING), ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION
    (MaximumRetryAttempts) and RETRY_ATTEMPTS. CloudWatch counts each attempt
    (InvocationAttempts), each retry (RetryInvocationAttempts), the event sent
    to the DLQ (InvocationsSentToDlq) and one Invocation; a dead-lettered
    event is not in FailedInvocations. (The stand-in did not retry before: the
    first failure went to the DLQ.)
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
    https://repost.aws/knowledge-center/eventbridge-resolve-failedinvocation-errors ("EventBridge retries responses sent with a 5xx or 429 HTTP status code ... doesn't retry other 4xx HTTP errors")
    """
    events, sqs, cw = aws("events"), aws("sqs"), aws("cloudwatch")
    dlq_url, dlq_arn = _queue(sqs, unique("dlq"))
    target = _runbook_target(aws, {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}, dlq_arn)
    _post(emulator, "/moto-api/irlab/wait-scale", {"scale": 0.001})
    _throttle_ssm(emulator)
    try:
        event_id = _put_finding(events, "f-throttled")
        wait_idle(emulator.endpoint)
    finally:
        counters = _faults_off(emulator)
    assert counters["injected"]["throttle"] == 4 and counters["seen"] == 4  # 1 attempt + 3 retries

    [dead] = _dead_letters(sqs, dlq_url, 1)
    assert json.loads(dead["Body"])["id"] == event_id
    attributes = _attributes(dead)
    assert attributes["RULE_ARN"] == target["rule_arn"] and attributes["TARGET_ARN"] == TARGET_ARN
    assert attributes["ERROR_CODE"] == "THROTTLING" and "ThrottlingException" in attributes["ERROR_MESSAGE"]
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "3"
    assert aws("ssm").describe_automation_executions()["AutomationExecutionMetadataList"] == []
    assert _metric_sum(cw, "InvocationAttempts", "findings") == 4
    assert _metric_sum(cw, "RetryInvocationAttempts", "findings") == 3
    assert _metric_sum(cw, "InvocationsSentToDlq", "findings") == 1
    assert _metric_sum(cw, "Invocations", "findings") == 1
    assert _metric_sum(cw, "FailedInvocations", "findings") == 0


@pytest.mark.parametrize("kind", ["5xx", "reset"])
def test_server_errors_and_lost_connections_are_retriable_too(aws, emulator, kind):
    """5xx answers (500 InternalFailure, 503 ServiceUnavailable) and a
    connection closed before any answer are service-side failures EventBridge
    retries, like throttling; with MaximumRetryAttempts 0 the first failure
    already goes to the dead-letter queue (RETRY_ATTEMPTS 0).
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html ("If the target resource is unavailable; Due to network conditions")
    https://repost.aws/knowledge-center/eventbridge-resolve-failedinvocation-errors
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html (MaximumRetryAttempts 0 to 185)
    """
    events, sqs = aws("events"), aws("sqs")
    dlq_url, dlq_arn = _queue(sqs, unique("dlq"))
    _runbook_target(aws, {"MaximumRetryAttempts": 2}, dlq_arn)
    _post(emulator, "/moto-api/irlab/wait-scale", {"scale": 0.001})
    _throttle_ssm(emulator, [kind])
    try:
        _put_finding(events, "f-1")
        wait_idle(emulator.endpoint)
    finally:
        counters = _faults_off(emulator)
    assert counters["seen"] == 3
    [dead] = _dead_letters(sqs, dlq_url, 1)
    attributes = _attributes(dead)
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["ERROR_CODE"] == ("SDK_CLIENT_ERROR" if kind == "5xx" else "CONNECTION_FAILURE")

    spec = _runbook_target_spec(aws)
    aws("events").put_targets(
        Rule="findings", Targets=[{**spec, "RetryPolicy": {"MaximumRetryAttempts": 0}, "DeadLetterConfig": {"Arn": dlq_arn}}]
    )
    _throttle_ssm(emulator, [kind])
    try:
        _put_finding(events, "f-2")
        wait_idle(emulator.endpoint)
    finally:
        counters = _faults_off(emulator)
    assert counters["seen"] == 1
    [dead] = _dead_letters(sqs, dlq_url, 1)
    assert _attributes(dead)["RETRY_ATTEMPTS"] == "0"


def test_maximum_event_age_ends_the_retries(aws, emulator):
    """Retries also stop when the event is MaximumEventAgeInSeconds old,
    whichever limit comes first; the dead-letter message then says
    EXHAUSTED_RETRY_CONDITION MaximumEventAgeInSeconds with the retries made.
    Without a dead-letter queue the event is dropped and counted in
    FailedInvocations. (Event age is counted at the wait scale, like the
    backoff delays.)
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html ("Retry attempts continue until either the maximum number of attempts is made or until the duration of the MaximumEventAgeInSeconds is met")
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html (FailedInvocations: invocations that failed permanently)
    """
    events, sqs, cw = aws("events"), aws("sqs"), aws("cloudwatch")
    dlq_url, dlq_arn = _queue(sqs, unique("dlq"))
    _runbook_target(aws, {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60}, dlq_arn)
    _post(emulator, "/moto-api/irlab/wait-scale", {"scale": 0.001})
    _throttle_ssm(emulator)
    try:
        _put_finding(events, "f-old")
        wait_idle(emulator.endpoint)
    finally:
        counters = _faults_off(emulator)
    [dead] = _dead_letters(sqs, dlq_url, 1)
    attributes = _attributes(dead)
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    retries = int(attributes["RETRY_ATTEMPTS"])
    # delays drawn between 0 and 1, 2, 4, ... s: 60 s allow a handful of retries, never 185
    assert 1 <= retries < 20 and counters["seen"] == retries + 1

    spec = _runbook_target_spec(aws)
    aws("events").put_targets(Rule="findings", Targets=[{**spec, "RetryPolicy": {"MaximumEventAgeInSeconds": 60}}])
    _throttle_ssm(emulator)
    try:
        _put_finding(events, "f-dropped")
        wait_idle(emulator.endpoint)
    finally:
        _faults_off(emulator)
    assert _metric_sum(cw, "FailedInvocations", "findings") == 1
    assert _metric_sum(cw, "InvocationsSentToDlq", "findings") == 1


def test_a_retried_delivery_arrives_once_and_later_events_wait_behind_it(aws, emulator):
    """While the target throttles, EventBridge keeps the event and retries
    it (the stand-in counts the held event as pending work: GET
    /moto-api/irlab/idle answers 408); once the target recovers the event is
    delivered exactly once, and the events put after it reach that target
    after it, in order.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-cwe-target.html
    """
    events, ssm, cw = aws("events"), aws("ssm"), aws("cloudwatch")
    _runbook_target(aws)  # the default policy: 185 retries, 24 hours
    _post(emulator, "/moto-api/irlab/wait-scale", {"scale": 0.02})  # delays up to 0.02, 0.04, 0.08 ... s
    _throttle_ssm(emulator)
    try:
        for n in range(3):
            _put_finding(events, f"f-{n}")
        assert eventually(lambda: _get(emulator, "/moto-api/irlab/faults")["seen"] >= 4, timeout=15)
        assert not _idle_now(emulator)
    finally:
        counters = _faults_off(emulator)
    wait_idle(emulator.endpoint)
    executions = ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
    assert len(executions) == 3
    by_start = sorted(executions, key=lambda e: e["ExecutionStartTime"])
    findings = [
        ssm.get_automation_execution(AutomationExecutionId=e["AutomationExecutionId"])["AutomationExecution"]["Parameters"]["FindingId"]
        for e in by_start
    ]
    assert findings == [["f-0"], ["f-1"], ["f-2"]]
    # every retry was the first event's (the others waited behind it and
    # were attempted once each); its successful attempt was a retry as well
    attempts = _metric_sum(cw, "InvocationAttempts", "findings")
    retries = _metric_sum(cw, "RetryInvocationAttempts", "findings")
    assert attempts - retries == 3 and retries >= counters["seen"] >= 4
    assert _metric_sum(cw, "Invocations", "findings") == 3


def test_missing_permissions_and_resources_are_not_retried(aws, emulator):
    """Errors that need someone to act - EventBridge lacks the permission, the
    target resource does not exist - are not retried whatever the
    RetryPolicy says: the event goes to the dead-letter queue at once
    (RETRY_ATTEMPTS 0, ERROR_CODE NO_PERMISSIONS / NO_RESOURCE).
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html ("for errors that result from missing permissions to a target, or if a target resource that no longer exists, no retry attempts will happen")
    https://aws.amazon.com/blogs/compute/improved-failure-recovery-for-amazon-eventbridge/ (client-side errors are not retried)
    """
    events, sqs, iam, cw = aws("events"), aws("sqs"), aws("iam"), aws("cloudwatch")
    _post(emulator, "/moto-api/irlab/wait-scale", {"scale": 1.0})  # a retry would take seconds
    dlq_url, dlq_arn = _queue(sqs, unique("dlq"))
    _, locked_arn = _queue(sqs, unique("locked"), allow_events=False)
    role = service_role(iam, "events.amazonaws.com", unique("events"))
    events.put_rule(Name="findings", EventPattern=json.dumps(PATTERN))
    policy = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    dead_letter = {"Arn": dlq_arn}
    events.put_targets(
        Rule="findings",
        Targets=[
            {"Id": "locked", "Arn": locked_arn, "RetryPolicy": policy, "DeadLetterConfig": dead_letter},
            {"Id": "gone", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{unique('gone')}", "RetryPolicy": policy, "DeadLetterConfig": dead_letter},
            {
                "Id": "no-machine",
                "Arn": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{unique('gone')}",
                "RoleArn": role,
                "RetryPolicy": policy,
                "DeadLetterConfig": dead_letter,
            },
        ],
    )
    started = time.monotonic()
    _put_finding(events, "f-1")
    wait_idle(emulator.endpoint, timeout=10)
    assert time.monotonic() - started < 5
    dead = _dead_letters(sqs, dlq_url, 3)
    codes = sorted(_attributes(m)["ERROR_CODE"] for m in dead)
    assert codes == ["NO_PERMISSIONS", "NO_RESOURCE", "NO_RESOURCE"]
    assert all(_attributes(m)["RETRY_ATTEMPTS"] == "0" for m in dead)
    assert _metric_sum(cw, "RetryInvocationAttempts", "findings") == 0


def test_put_targets_refuses_retry_policies_out_of_range(aws, emulator):
    """RetryPolicy.MaximumRetryAttempts is 0 to 185 and
    MaximumEventAgeInSeconds 60 to 86400: PutTargets with a value outside
    fails with ValidationException (moto stored any number).
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutTargets.html
    """
    unchecked = boto3.client(
        "events",
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    aws("events").put_rule(Name="findings", EventPattern=json.dumps(PATTERN))
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:q"
    for policy, message in [
        ({"MaximumRetryAttempts": 186}, "Member must have value less than or equal to 185"),
        ({"MaximumRetryAttempts": -1}, "Member must have value greater than or equal to 0"),
        ({"MaximumEventAgeInSeconds": 59}, "Member must have value greater than or equal to 60"),
        ({"MaximumEventAgeInSeconds": 86401}, "Member must have value less than or equal to 86400"),
    ]:
        with pytest.raises(ClientError) as err:
            unchecked.put_targets(Rule="findings", Targets=[{"Id": "q", "Arn": queue_arn, "RetryPolicy": policy}])
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert message in err.value.response["Error"]["Message"]
        assert "targets.1.member.retryPolicy." in err.value.response["Error"]["Message"]
    assert aws("events").list_targets_by_rule(Rule="findings")["Targets"] == []
    aws("events").put_targets(
        Rule="findings",
        Targets=[{"Id": "q", "Arn": queue_arn, "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}}],
    )


def test_reset_drops_held_retries(aws, emulator):
    """Stand-in control: ``POST /moto-api/reset`` drops the events waiting
    for a retry (the stand-in is idle at once) and later deliveries retry
    again as before. (No AWS counterpart: a reset is the stand-in's own.)
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html
    """
    from conftest import _reset

    events = aws("events")
    _runbook_target(aws)
    _post(emulator, "/moto-api/irlab/wait-scale", {"scale": 0.02})
    _throttle_ssm(emulator)
    _put_finding(events, "f-held")
    assert eventually(lambda: _get(emulator, "/moto-api/irlab/faults")["seen"] >= 2, timeout=15)
    assert not _idle_now(emulator)
    _reset(emulator.endpoint)  # faults off, scale back to its default, held retries gone
    wait_idle(emulator.endpoint, timeout=5)

    dlq_url, dlq_arn = _queue(aws("sqs"), unique("dlq"))
    _runbook_target(aws, {"MaximumRetryAttempts": 1}, dlq_arn)
    _post(emulator, "/moto-api/irlab/wait-scale", {"scale": 0.001})
    _throttle_ssm(emulator)
    try:
        _put_finding(aws("events"), "f-after-reset")
        wait_idle(emulator.endpoint)
    finally:
        counters = _faults_off(emulator)
    assert counters["seen"] == 2
    [dead] = _dead_letters(aws("sqs"), dlq_url, 1)
    assert _attributes(dead)["RETRY_ATTEMPTS"] == "1"
