"""The checks SSM makes on an Automation runbook (``DocumentType:
Automation``) before CreateDocument / UpdateDocument store it; a problem is
``InvalidDocumentContent`` (HTTP 400).

* ``mainSteps`` is present and a list;
* every step has an ``action`` of the Automation actions reference
  (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html)
  and a ``name`` that is "unique across all step names in the document"
  (steps inside ``aws:loop`` included);
* ``nextStep``, ``onFailure: step:X``, ``onCancel: step:X`` and the
  ``NextStep``/``Default`` of an ``aws:branch`` name a step of the document
  (a step inside a loop may name one outside it: the loop "inherits" its
  steps' ``onFailure``,
  https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-loop.html);
* ``aws:executeAwsApi``, ``aws:waitForAwsResourceProperty`` and
  ``aws:assertAwsResourceProperty``: ``Service`` is a Boto3 client name and
  ``Api`` one of its operations (botocore's models, ``_sdk_models``), and the
  other inputs are the operation's input names (compared without regard to
  case, as SSM lists ``documentName`` as ``DocumentName`` in its answer) -
  AWS's answer for unknown inputs reads ``Unknown input names provided.
  Known=[ [..] ], Provided=[ [..] ].``.

* ``aws:approve`` (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html):
  its inputs are ``NotificationArn``, ``Message``, ``MinRequiredApprovals``
  and ``Approvers`` only (the same "Unknown input names provided" answer);
  ``Approvers`` is required and names at most 10 principals;
  ``MinRequiredApprovals`` is a positive number no larger than the number of
  approvers; ``Message`` has at most 4,096 characters; the topic of
  ``NotificationArn`` has a name beginning with "Automation"; the step's
  ``timeoutSeconds`` is at most 2,592,000 (30 days).  AWS documents these
  limits, not its wording when a runbook breaks them: the messages are the
  stand-in's.

A ``Service``/``Api`` or an input given as a ``{{ reference }}`` is only known
when the automation runs and is not checked here (the automation checks the
aws:approve inputs again when the step runs).
"""

from __future__ import annotations

import re
from typing import Any

from . import _sdk_models

# https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html
AUTOMATION_ACTIONS = frozenset(
    {
        "aws:approve",
        "aws:assertAwsResourceProperty",
        "aws:branch",
        "aws:changeInstanceState",
        "aws:copyImage",
        "aws:createImage",
        "aws:createStack",
        "aws:createTags",
        "aws:deleteImage",
        "aws:deleteStack",
        "aws:executeAutomation",
        "aws:executeAwsApi",
        "aws:executeScript",
        "aws:executeStateMachine",
        "aws:invokeLambdaFunction",
        "aws:invokeWebhook",
        "aws:loop",
        "aws:pause",
        "aws:runCommand",
        "aws:runInstances",
        "aws:sleep",
        "aws:updateVariable",
        "aws:waitForAwsResourceProperty",
    }
)
# aws:approve (automation-action-approve.html)
APPROVE_INPUTS = ("NotificationArn", "Message", "MinRequiredApprovals", "Approvers")
MAX_APPROVERS = 10
MAX_APPROVE_MESSAGE = 4096
MAX_APPROVE_TIMEOUT = 2592000
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:([A-Za-z0-9_-]{1,256})$")


def automation_topic(arn: str) -> bool:
    """An SNS topic ARN whose topic name begins with "Automation"."""
    match = _TOPIC_ARN.match(arn.strip())
    return bool(match) and match.group(1).startswith("Automation")


API_ACTIONS = {
    "aws:executeAwsApi": ("Service", "Api"),
    "aws:waitForAwsResourceProperty": ("Service", "Api", "PropertySelector", "DesiredValues"),
    "aws:assertAwsResourceProperty": ("Service", "Api", "PropertySelector", "DesiredValues"),
}


def problems(content: Any) -> list[str]:
    """Every problem found in an Automation runbook's parsed content (empty: valid
    as far as these checks go)."""
    if not isinstance(content, dict):
        return ['[message: "object has an invalid type" - parent node: /]']
    steps = content.get("mainSteps")
    if steps is None:
        return ['[message: "object has missing required properties ([\\"mainSteps\\"])" - parent node: /]']
    if not isinstance(steps, list) or not steps:
        return ["mainSteps must be a non-empty list of steps."]
    out: list[str] = []
    every: list[dict[str, Any]] = []
    _collect(steps, every)
    names: list[str] = []
    for step in every:
        name = step.get("name")
        if not isinstance(name, str) or not name:
            out.append("Each step needs a name.")
            continue
        if name in names:
            out.append(f"Duplicate step name: {name}. Step names must be unique across all steps in the document.")
        names.append(name)
    known = set(names)
    for step in every:
        _step(step, known, out)
    return out


def _collect(steps: list[Any], into: list[dict[str, Any]]) -> None:
    for step in steps:
        if not isinstance(step, dict):
            continue
        into.append(step)
        if step.get("action") == "aws:loop":
            inner = (step.get("inputs") or {}).get("Steps") if isinstance(step.get("inputs"), dict) else None
            if isinstance(inner, list):
                _collect(inner, into)


def _dynamic(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _step(step: dict[str, Any], known: set[str], out: list[str]) -> None:
    name = step.get("name")
    action = step.get("action")
    if action not in AUTOMATION_ACTIONS:
        out.append(f"Action {action} in step: {name} is not a supported Automation action.")

    def target(field: str, value: Any) -> None:
        if isinstance(value, str) and value.strip() not in known and not _dynamic(value):
            out.append(f"Step {value.strip()} referenced by {field} in step: {name} does not exist.")

    if "nextStep" in step:
        target("nextStep", step["nextStep"])
    for field in ("onFailure", "onCancel"):
        value = step.get(field)
        if isinstance(value, str) and value.strip().startswith("step:"):
            target(field, value.strip()[len("step:") :])
    inputs = step.get("inputs") if isinstance(step.get("inputs"), dict) else {}
    if action == "aws:branch":
        for choice in inputs.get("Choices") or []:
            if isinstance(choice, dict) and "NextStep" in choice:
                target("NextStep", choice["NextStep"])
        if "Default" in inputs:
            target("Default", inputs["Default"])
    if action in API_ACTIONS:
        _api(step, inputs, API_ACTIONS[action], out)
    if action == "aws:approve":
        _approve(step, inputs, out)


def _approve(step: dict[str, Any], inputs: dict[str, Any], out: list[str]) -> None:
    name = step.get("name")
    unknown = [k for k in inputs if k.lower() not in {i.lower() for i in APPROVE_INPUTS}]
    if unknown:
        out.append(f"Unknown input names provided. Known=[ [{', '.join(APPROVE_INPUTS)}] ], Provided=[ [{', '.join(inputs)}] ].")
    approvers = inputs.get("Approvers")
    count = None
    if approvers is None:
        out.append(f"Approvers is a required input of aws:approve in step: {name}.")
    elif isinstance(approvers, list):
        count = len(approvers)
        if not approvers or count > MAX_APPROVERS:
            out.append(f"Approvers in step: {name} must name 1 to {MAX_APPROVERS} principals; it names {count}.")
    elif not _dynamic(approvers):
        count = 1  # one principal given as a string
    required = inputs.get("MinRequiredApprovals")
    if required is not None and not _dynamic(required):
        try:
            number = int(str(required))
        except ValueError:
            number = None
        if number is None or number < 1 or (count is not None and number > count):
            out.append(
                f"MinRequiredApprovals in step: {name} must be a positive number no larger than the number of approvers."
            )
    message = inputs.get("Message")
    if isinstance(message, str) and not _dynamic(message) and len(message) > MAX_APPROVE_MESSAGE:
        out.append(f"Message in step: {name} is longer than {MAX_APPROVE_MESSAGE} characters.")
    topic = inputs.get("NotificationArn")
    if isinstance(topic, str) and not _dynamic(topic) and not automation_topic(topic):
        out.append(f"NotificationArn in step: {name} must be an SNS topic whose name begins with Automation.")
    timeout = step.get("timeoutSeconds")
    if timeout is not None and not _dynamic(timeout):
        try:
            seconds = int(str(timeout))
        except ValueError:
            seconds = None
        if seconds is None or seconds > MAX_APPROVE_TIMEOUT:
            out.append(f"timeoutSeconds in step: {name} must be at most {MAX_APPROVE_TIMEOUT} for aws:approve.")


def _api(step: dict[str, Any], inputs: dict[str, Any], own: tuple[str, ...], out: list[str]) -> None:
    name = step.get("name")
    service, api = inputs.get("Service"), inputs.get("Api")
    if not isinstance(service, str) or not isinstance(api, str) or _dynamic(service) or _dynamic(api):
        return
    service_known, operation = _sdk_models.automation_operation(service.strip(), api.strip())
    if not service_known:
        out.append(f"Service {service} in step: {name} is not a valid AWS service namespace.")
        return
    if operation is None:
        out.append(f"Api {api} in step: {name} is not a valid API operation of service {service}.")
        return
    members = list(_sdk_models.structure_members(operation.input_shape) or {})
    allowed = {m.lower() for m in members} | {o.lower() for o in own}
    if any(k.lower() not in allowed for k in inputs):
        known = ", ".join(list(own) + members)
        out.append(f"Unknown input names provided. Known=[ [{known}] ], Provided=[ [{', '.join(inputs)}] ].")
