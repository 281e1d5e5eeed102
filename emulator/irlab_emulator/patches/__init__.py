"""The lab's patches to moto, one module per AWS service area.

Each module has an ``apply()``; :func:`apply_all` applies them once, in the
order of :data:`MODULES` (``cloudformation`` first: it installs the stack
engine and the resource-type registry the service modules add handlers to).
Later work (EventBridge target delivery, a Lambda runner, a Step Functions
executor, SSM Automation) adds modules here.
"""

from __future__ import annotations

import threading
from importlib import import_module

MODULES = [
    "cloudformation",
    # service-managed StackSets: member stacks through the stack engine above
    "stacksets",
    "ec2",
    "ec2_imds",
    "ec2_conntrack",
    # interface endpoints' network interfaces, the default VPC's internet path (SSM Agent reach)
    "ec2_endpoints",
    "iam",
    "s3",
    "sns",
    "sqs",
    "cloudtrail",
    "servicequotas",
    "sts",
    "organizations",
    "guardduty",
    "guardduty_lists",
    "guardduty_findings",
    "awslambda",
    "events",
    "logs",
    "ssm",
    "ssm_run_command",
    "ssm_instance",
    "stepfunctions",
    "ssm_automation",
    # EventBridge Scheduler: one-time schedules fire their targets (through events.py's calls)
    "scheduler",
    # AWS Budgets: AWS::Budgets::Budget in CloudFormation, subscribers, the documented limits (no spend)
    "budgets",
    # checks every request against botocore's input shape; inside faults, so
    # an injected fault (throttling) comes first, as it does on AWS
    "request_validation",
    # records every request as a CloudTrail event: outside request_validation (its
    # refusals are failed calls), inside faults (an injected fault is the network's)
    "cloudtrail_events",
    "faults",
]

_lock = threading.Lock()
_applied = False


def apply_all() -> None:
    global _applied
    with _lock:
        if _applied:
            return
        for name in MODULES:
            import_module(f"{__name__}.{name}").apply()
        _applied = True
