"""What moto 5.2.5 itself does for EventBridge Scheduler and AWS Budgets (a measurement, not a test).

Runs plain moto (``moto.server.ThreadedMotoServer``, none of the stand-in's patches) on a free
port, or the stand-in with ``--emulator``, and prints one line per probe:

    ~/.cache/irlab/dev-venv/bin/python emulator/tests/probes/scheduler_budgets_probe.py [--emulator]

The results are summarised in emulator/README.md (the "Measured first" items of "EventBridge Scheduler" and
"AWS Budgets").
"""

from __future__ import annotations

import datetime
import json
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "123456789012"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(emulator: bool) -> tuple[str, Callable[[], None]]:
    if emulator:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from irlab_emulator.server import EmulatorServer

        server = EmulatorServer("127.0.0.1", 0).start()
        return server.endpoint, server.stop
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return f"http://127.0.0.1:{port}", server.stop


def _probe(name: str, fn: Callable[[], Any]) -> Any:
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - a probe reports what happened
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        print(f"{name}: ERROR {code}: {str(exc)[:200]}")
        return None
    text = json.dumps(result, default=str)
    print(f"{name}: {text[:300]}")
    return result


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # no request log, no tracebacks of moto's 500s
    emulator = "--emulator" in sys.argv
    endpoint, stop = _start(emulator)
    print(f"# {'stand-in' if emulator else 'plain moto'} at {endpoint}")

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

    try:
        sched, sqs, cf, budgets = client("scheduler"), client("sqs"), client("cloudformation"), client("budgets")
        queue_url = sqs.create_queue(QueueName="probe-target")["QueueUrl"]
        queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:probe-target"
        role = f"arn:aws:iam::{ACCOUNT}:role/probe"
        soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
        target = {"Arn": queue_arn, "RoleArn": role, "Input": '{"probe": 1}'}
        off = {"Mode": "OFF"}

        # -- Scheduler
        _probe("scheduler CreateSchedule at(+2s)", lambda: sched.create_schedule(
            Name="probe", ScheduleExpression=f"at({soon})", FlexibleTimeWindow=off, Target=target,
            ActionAfterCompletion="DELETE")["ScheduleArn"])
        _probe("scheduler GetSchedule", lambda: {k: v for k, v in sched.get_schedule(Name="probe").items() if k != "ResponseMetadata"})
        _probe("scheduler ListSchedules", lambda: [s["Name"] for s in sched.list_schedules()["Schedules"]])
        time.sleep(65 if "--wait" in sys.argv else 4)
        _probe("SQS target after the time (did it fire?)", lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []))
        _probe("scheduler GetSchedule after the time (DELETE honoured?)", lambda: sched.get_schedule(Name="probe")["State"])
        _probe("scheduler UpdateSchedule", lambda: sched.update_schedule(
            Name="probe", ScheduleExpression="at(2030-01-01T00:00:00)", FlexibleTimeWindow=off, Target=target)["ScheduleArn"])
        _probe("scheduler DeleteSchedule", lambda: sched.delete_schedule(Name="probe") and None)
        _probe("scheduler GetSchedule deleted", lambda: sched.get_schedule(Name="probe"))
        _probe("scheduler CreateSchedule bad expression at(tomorrow)", lambda: sched.create_schedule(
            Name="bad-expr", ScheduleExpression="at(tomorrow)", FlexibleTimeWindow=off, Target=target)["ScheduleArn"])
        _probe("scheduler CreateSchedule bad name 'a b'", lambda: sched.create_schedule(
            Name="a b", ScheduleExpression="at(2030-01-01T00:00:00)", FlexibleTimeWindow=off, Target=target)["ScheduleArn"])
        _probe("scheduler CreateSchedule unknown group", lambda: sched.create_schedule(
            Name="g", GroupName="nope", ScheduleExpression="at(2030-01-01T00:00:00)", FlexibleTimeWindow=off, Target=target)["ScheduleArn"])
        _probe("scheduler CreateSchedule FLEXIBLE without MaximumWindowInMinutes", lambda: sched.create_schedule(
            Name="flex", ScheduleExpression="at(2030-01-01T00:00:00)", FlexibleTimeWindow={"Mode": "FLEXIBLE"}, Target=target)["ScheduleArn"])
        _probe("scheduler CreateSchedule RetryPolicy out of range (186)", lambda: sched.create_schedule(
            Name="retry", ScheduleExpression="at(2030-01-01T00:00:00)", FlexibleTimeWindow=off,
            Target={**target, "RetryPolicy": {"MaximumRetryAttempts": 186}})["ScheduleArn"])
        _probe("scheduler CreateScheduleGroup", lambda: sched.create_schedule_group(Name="probe-group")["ScheduleGroupArn"])
        _probe("scheduler ListScheduleGroups", lambda: [g["Name"] for g in sched.list_schedule_groups()["ScheduleGroups"]])
        _probe("scheduler DeleteScheduleGroup", lambda: sched.delete_schedule_group(Name="probe-group") and None)

        # -- Budgets
        budget = {"BudgetName": "probe", "BudgetLimit": {"Amount": "10", "Unit": "USD"}, "TimeUnit": "MONTHLY", "BudgetType": "COST"}
        notification = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0}
        subscriber = [{"SubscriptionType": "EMAIL", "Address": "probe@example.com"}]
        _probe("budgets CreateBudget", lambda: budgets.create_budget(
            AccountId=ACCOUNT, Budget=budget, NotificationsWithSubscribers=[{"Notification": notification, "Subscribers": subscriber}]) and None)
        _probe("budgets DescribeBudgets", lambda: budgets.describe_budgets(AccountId=ACCOUNT)["Budgets"])
        _probe("budgets DescribeNotificationsForBudget", lambda: budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName="probe")["Notifications"])
        _probe("budgets DescribeSubscribersForNotification", lambda: budgets.describe_subscribers_for_notification(
            AccountId=ACCOUNT, BudgetName="probe", Notification=notification)["Subscribers"])
        _probe("budgets DeleteNotification", lambda: budgets.delete_notification(AccountId=ACCOUNT, BudgetName="probe", Notification=notification) and None)
        _probe("budgets CreateBudget again (duplicate)", lambda: budgets.create_budget(AccountId=ACCOUNT, Budget=budget) and None)
        _probe("budgets DeleteBudget", lambda: budgets.delete_budget(AccountId=ACCOUNT, BudgetName="probe") and None)
        _probe("budgets DescribeBudget deleted", lambda: budgets.describe_budget(AccountId=ACCOUNT, BudgetName="probe"))

        # -- CloudFormation
        for cfn_type, props in (
            ("AWS::Scheduler::Schedule", {"ScheduleExpression": "at(2030-01-01T00:00:00)", "FlexibleTimeWindow": off, "Target": target}),
            ("AWS::Scheduler::ScheduleGroup", {"Name": "cfn-group"}),
            ("AWS::Budgets::Budget", {"Budget": budget}),
        ):
            stack = "probe-" + uuid.uuid4().hex[:6]
            body = json.dumps({"Resources": {"R": {"Type": cfn_type, "Properties": props}}})

            def create(stack: str = stack, body: str = body) -> Any:
                cf.create_stack(StackName=stack, TemplateBody=body)
                status = cf.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
                try:
                    resources: Any = [
                        (r.get("ResourceType"), r.get("PhysicalResourceId"), r.get("ResourceStatus"), r.get("ResourceStatusReason"))
                        for r in cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]
                    ]
                except Exception as exc:  # noqa: BLE001 - moto fails to list a resource it skipped
                    resources = f"ListStackResources failed: {exc}"[:160]
                return {"status": status, "resources": resources}

            _probe(f"cloudformation CreateStack {cfn_type}", create)
        _probe("scheduler schedules after the stacks", lambda: [s["Name"] for s in sched.list_schedules()["Schedules"]])
        _probe("budgets after the stacks", lambda: [b["BudgetName"] for b in budgets.describe_budgets(AccountId=ACCOUNT).get("Budgets", [])])
    finally:
        stop()


if __name__ == "__main__":
    main()
