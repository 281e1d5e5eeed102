"""Step Functions: a task that waits for a callback with its task token
(``.waitForTaskToken``), answered by SendTaskSuccess / SendTaskFailure or
ended by its timeout: the approval the playbooks ask for after containment."""

from __future__ import annotations

import json
import time

from conftest import unique
from test_stepfunctions import finish, history, machine, set_wait_scale


def _approval_machine(sfn, topic_arn: str, timeout_seconds: int) -> str:
    return machine(
        sfn,
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                    "TimeoutSeconds": timeout_seconds,
                    "Parameters": {
                        "TopicArn": topic_arn,
                        "Message": "approve?",
                        "MessageAttributes": {
                            "irlab.task-token": {"DataType": "String", "StringValue.$": "$$.Task.Token"}
                        },
                    },
                    "ResultPath": "$.answer",
                    "Catch": [
                        {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"},
                        {"ErrorEquals": ["irlab.Rejected"], "ResultPath": "$.error", "Next": "Rejected"},
                    ],
                    "Next": "Approved",
                },
                "Approved": {"Type": "Pass", "Result": "approved", "ResultPath": "$.outcome", "End": True},
                "Rejected": {"Type": "Pass", "Result": "rejected", "ResultPath": "$.outcome", "End": True},
                "TimedOut": {"Type": "Pass", "Result": "timed-out", "ResultPath": "$.outcome", "End": True},
            },
        },
    )


def _token(sfn, execution_arn: str) -> str:
    """The task token, read back from the TaskScheduled event's parameters."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in history(sfn, execution_arn):
            details = event.get("taskScheduledEventDetails")
            if details and details["resource"] == "publish.waitForTaskToken":
                params = json.loads(details["parameters"])
                return params["MessageAttributes"]["irlab.task-token"]["StringValue"]
        time.sleep(0.05)
    raise AssertionError("no TaskScheduled event with the token")


def test_a_callback_task_waits_for_its_token_and_is_answered_or_times_out(aws, emulator):
    """"Wait for a Callback with Task Token": the task publishes (here to SNS)
    with the token from the context object ($$.Task.Token) and pauses until
    SendTaskSuccess or SendTaskFailure is called with that token; the
    execution stays RUNNING meanwhile. SendTaskSuccess's output becomes the
    task's result; SendTaskFailure's error is the task's error, caught by
    name. "If the time to complete the task exceeds TimeoutSeconds, the
    task fails with States.Timeout" - here after 60 s of the wait scale
    (0.01: 0.6 s), as a wait for someone's answer. A token answered once
    cannot be answered again (TaskTimedOut / InvalidToken).
    https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
    """
    sfn, sns = aws("stepfunctions"), aws("sns")
    topic = sns.create_topic(Name=unique("approvals"))["TopicArn"]
    set_wait_scale(emulator, 0.01)
    try:
        arn = _approval_machine(sfn, topic, 300)  # 3 s at this scale: time to answer, once scaled

        approved = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        token = _token(sfn, approved)
        time.sleep(0.5)  # scaled twice, the wait would be over by now (0.03 s)
        assert sfn.describe_execution(executionArn=approved)["status"] == "RUNNING"
        sfn.send_task_success(taskToken=token, output=json.dumps({"by": "someone"}))
        done = finish(sfn, approved, timeout=10)
        assert done["status"] == "SUCCEEDED"
        assert json.loads(done["output"]) == {"answer": {"by": "someone"}, "outcome": "approved"}

        rejected = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        sfn.send_task_failure(taskToken=_token(sfn, rejected), error="irlab.Rejected", cause="not now")
        done = finish(sfn, rejected, timeout=10)
        assert json.loads(done["output"])["outcome"] == "rejected"
        assert json.loads(done["output"])["error"]["Cause"] == "not now"

        silent = sfn.start_execution(stateMachineArn=_approval_machine(sfn, topic, 60), input="{}")["executionArn"]
        _token(sfn, silent)
        done = finish(sfn, silent, timeout=10)
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"])["outcome"] == "timed-out"
    finally:
        set_wait_scale(emulator, 1.0)
