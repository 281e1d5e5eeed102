"""SSM Automation: runbooks (schemaVersion 0.3 documents) really run.

moto 5.2.5 answers HTTP 500 to every Automation execution API and stores an
``AWS::SSM::Document`` whose ``Content`` is an object so that DescribeDocument
answers 500.  This module adds:

* ``StartAutomationExecution`` (``DocumentName``, ``DocumentVersion`` - a
  number, ``$DEFAULT`` or ``$LATEST`` -, ``Parameters`` as lists of strings,
  checked against the document: unknown or missing required parameters,
  ``allowedValues``/``allowedPattern``), ``GetAutomationExecution``,
  ``DescribeAutomationExecutions`` (filters ``DocumentNamePrefix``,
  ``ExecutionStatus``, ``ExecutionId``, ``StartTimeBefore``/``After``,
  ``CurrentAction``), ``DescribeAutomationStepExecutions`` (filters
  ``StepName``, ``Action``, ``StepExecutionStatus``, ``StepExecutionId``,
  ``ReverseOrder``) and ``StopAutomationExecution`` (Cancelling, then
  Cancelled; ``Type: Complete`` is treated as Cancel);
* an executor: each execution runs in its own thread (Pending -> InProgress ->
  Success / Failed / TimedOut / Cancelled).  ``{{ Param }}``,
  ``{{ Step.Output }}``, ``{{ global:ACCOUNT_ID|REGION|DATE|DATE_TIME }}``,
  ``{{ automation:EXECUTION_ID }}`` and ``{{ ssm:name }}`` are interpolated (a
  value that is exactly one reference keeps its type, e.g. a StringList; a
  list element that is a list reference is spliced in).  AWS calls are made
  in the execution's account against the stand-in itself, with the
  credentials of the runbook's ``assumeRole`` (``AutomationAssumeRole``):
  StartAutomationExecution needs ``iam:PassRole`` on it for
  ``ssm.amazonaws.com`` (``AccessDeniedException`` otherwise) and a trust
  policy that lets ``ssm.amazonaws.com`` assume it (with ``aws:SourceAccount``
  and ``aws:SourceArn`` = the automation-execution ARN), else
  ``InvalidAutomationExecutionParametersException`` "The defined assume role
  is unable to be assumed." ("Troubleshooting Systems Manager Automation",
  https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-troubleshooting.html).
  Without ``assumeRole`` the steps run with the starting caller's
  permissions (a role session's credentials; an administrator call stays
  one); ``ExecutedBy`` is the caller's ARN.  ``executeAwsApi``, the waiting
  and asserting actions and ``executeScript``'s boto3 calls all use them.  Step properties
  ``onFailure`` (Abort / Continue / ``step:NAME``), ``isEnd``, ``nextStep``,
  ``maxAttempts``, ``timeoutSeconds`` and ``isCritical`` (default true unless
  ``onFailure: Continue``) behave as the actions reference describes;
* actions ``aws:executeAwsApi`` (``Service``/``Api`` -> the boto3 call;
  outputs by JSONPath ``Selector`` with ``Type``), ``aws:waitForAwsResourceProperty``
  (polls every 2 s - AWS documents no interval - until the ``PropertySelector``
  value, or every value it selects, is one of ``DesiredValues``; default
  timeout 3600 s), ``aws:assertAwsResourceProperty``, ``aws:branch``
  (``Choices`` with the documented string / numeric / boolean operators,
  ``And``/``Or``/``Not``, ``Default``), ``aws:sleep`` (``Duration`` or
  ``Timestamp``), ``aws:executeScript`` (Python runtimes: the handler runs in a
  subprocess whose boto3 calls go to the stand-in; ``Payload`` is its return
  value), ``aws:loop`` (``Iterators`` or ``LoopCondition``/``MaxIterations``;
  the loop inherits the ``onFailure`` of a step inside it, so ``step:NAME``
  may leave the loop), ``aws:createTags``, ``aws:changeInstanceState``,
  ``aws:invokeLambdaFunction`` and ``aws:approve`` (below); any other action
  fails its step with a reason;
* ``aws:approve`` (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html):
  the step and the automation are ``Waiting`` (the step's output
  ``ApprovalStatus`` Waiting) until ``SendAutomationSignal`` Approve from
  ``MinRequiredApprovals`` (default 1) of the ``Approvers`` (an IAM user name,
  user ARN, role ARN - any session of the role - or assumed-role ARN, matched
  against the caller's GetCallerIdentity ARN) resumes it (Success,
  ApprovalStatus Approved), or a Reject fails the step (ApprovalStatus
  Rejected), or ``timeoutSeconds`` (default 7 days, at most 30; a wait for a
  human, so at the wait scale as aws:sleep) times it out; ``ApproverDecisions``
  lists each signal (Approver, Decision, ApprovalDecisionTime, Comment - the
  Payload's); ``onFailure``/``isCritical`` then decide as for any step.
  ``NotificationArn`` (a topic named Automation...) gets a request whose
  wording is the stand-in's; the inputs are checked again when the step runs;
* ``SendAutomationSignal`` Approve / Reject (``Payload`` ``Comment``): only to
  an execution whose aws:approve step waits, from a listed approver not yet
  heard, else ``InvalidAutomationSignalException`` (the API's one error for a
  signal "not valid for the current Automation execution"); the other signal
  types (aws:pause, step-by-step executions) are not modelled and refused the
  same way;
* CreateDocument / UpdateDocument refuse an Automation runbook AWS refuses
  (``InvalidDocumentContent``: missing ``mainSteps``, an unknown action, a
  duplicate step name, a step reference to no step, an ``aws:executeAwsApi``
  service, API or input name botocore does not know; see
  ``_automation_validate``);
* ``AWS::SSM::Document`` with ``Content`` given as an object (stored as JSON
  or YAML per ``DocumentFormat``), ``DocumentType``, ``Name``, ``Tags``
  (plus the stack tags), ``UpdateMethod`` (``Replace`` / ``NewVersion``).

``POST /moto-api/reset`` stops the running executions first.  Waits
(``aws:sleep``, the polling interval) and the timeouts of the waiting
actions (sleep, waitForAwsResourceProperty, changeInstanceState) follow the
wait scale of ``_clock``; other timeouts are real time.

In-process entry point (for EventBridge targets): :func:`start_automation_execution`.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

import yaml
from botocore import xform_name
from botocore.exceptions import ClientError
from jsonpath_ng.ext import parse as jsonpath_parse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.ssm.exceptions import InvalidDocumentContent
from moto.ssm.models import Document, SimpleSystemManagerBackend, ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from . import _automation_validate, _cfn, _clock, _iam_enforce, _local

log = logging.getLogger("irlab_emulator.ssm_automation")

POLL_SECONDS = 2.0
WAIT_TIMEOUT_DEFAULT = 3600.0  # aws:waitForAwsResourceProperty
APPROVE_TIMEOUT_DEFAULT = 604800.0  # aws:approve: 7 days
APPROVE_TIMEOUT_MAX = 2592000.0  # aws:approve: 30 days
SCRIPT_TIMEOUT_MAX = 600.0  # aws:executeScript
MAX_ITERATIONS = 100  # aws:loop

FINAL = {"Success", "Failed", "TimedOut", "Cancelled"}
# actions that mostly wait: their timeoutSeconds follows the wait scale
WAITING_ACTIONS = {"aws:sleep", "aws:waitForAwsResourceProperty", "aws:changeInstanceState", "aws:approve"}


# ---------------------------------------------------------------- errors


class AutomationDefinitionNotFoundException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("AutomationDefinitionNotFoundException", message)


class AutomationDefinitionVersionNotFoundException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("AutomationDefinitionVersionNotFoundException", message)


class InvalidAutomationExecutionParametersException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("InvalidAutomationExecutionParametersException", message)


class AutomationExecutionNotFoundException(JsonRESTError):
    def __init__(self, execution_id: str):
        super().__init__(
            "AutomationExecutionNotFoundException", f"Automation execution {execution_id} not found."
        )


class InvalidAutomationStatusUpdateException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("InvalidAutomationStatusUpdateException", message)


class InvalidAutomationSignalException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("InvalidAutomationSignalException", message)


# the API reference's description of InvalidAutomationSignalException
SIGNAL_INVALID = "The signal isn't valid for the current Automation execution."


class AccessDeniedException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("AccessDeniedException", message)


class UnevaluablePolicy(JsonRESTError):
    def __init__(self, message: str):
        super().__init__(_iam_enforce.UNEVALUABLE_CODE, message)


ASSUME_ROLE_FAILED = "The defined assume role is unable to be assumed."


class InvalidFilterKey(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("InvalidFilterKey", message)


class StepFailed(Exception):
    """The step's action failed; ``str()`` is the step's FailureMessage.
    ``on_failure`` overrides the step's own (a loop inherits the onFailure of
    the step inside it that failed)."""

    def __init__(self, message: str, on_failure: str | None = None):
        super().__init__(message)
        self.on_failure = on_failure


class StepTimedOut(Exception):
    pass


class StepCancelled(Exception):
    pass


class _Aborted(Exception):
    """The backends were reset under the execution: stop quietly."""


def failure_message(detail: str) -> str:
    # the wording of SSM Automation's step failures
    detail = detail.rstrip(".")
    return (
        f"Step fails when it is Execute/Cancelling action. {detail}. "
        "Please refer to Automation Service Troubleshooting Guide for more diagnosis details."
    )


def client_error_text(exc: ClientError) -> str:
    """boto3's wording of an API error (without its retry note)."""
    error = exc.response.get("Error", {})
    return (
        f"An error occurred ({error.get('Code', 'Unknown')}) when calling the "
        f"{exc.operation_name} operation: {error.get('Message', '')}"
    )


# ---------------------------------------------------------------- values


def as_json(value: Any) -> Any:
    """An SDK response as plain JSON values (timestamps as ISO 8601)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "read"):  # a streaming body
        return value.read().decode("utf-8", errors="replace")
    return value


def text(value: Any) -> str:
    """A value as it appears inside a string, in Inputs and in Outputs."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def typed(value: Any, typ: str | None) -> Any:
    """Convert an output or parameter value to its declared type."""
    typ = typ or "String"
    if typ == "StringList" or typ.startswith("List<"):
        if value is None:
            return []
        if isinstance(value, list):
            return [text(v) for v in value]
        return [text(value)]
    if typ == "MapList":
        items = value if isinstance(value, list) else [value]
        return [json.loads(v) if isinstance(v, str) else v for v in items]
    if typ == "StringMap":
        if isinstance(value, list):
            value = value[0] if value else {}
        return json.loads(value) if isinstance(value, str) else (value or {})
    if typ == "Integer":
        if isinstance(value, list):
            value = value[0]
        return int(value)
    if typ == "Boolean":
        if isinstance(value, list):
            value = value[0]
        return as_bool(value)
    if isinstance(value, list):
        if len(value) == 1:
            return text(value[0])
        return text(value)
    return text(value)


def api_values(value: Any) -> list[str]:
    """An output or parameter value as the API lists it (a list of strings)."""
    if isinstance(value, list):
        return [text(v) for v in value]
    return [text(value)]


_DEFINITE_PATH = re.compile(r"""^\$(?:\.[^.\[\]*?()@,:'"]+|\[-?\d+\]|\['[^']*'\]|\["[^"]*"\])*$""")
_MISSING = object()


def select(data: Any, selector: str) -> Any:
    """JSONPath ``selector`` on ``data``: a definite path selects one value
    (``_MISSING`` when absent), any other path the list of matches."""
    selector = selector.strip()
    matches = jsonpath_parse(selector).find(data)
    if _DEFINITE_PATH.match(selector):
        return matches[0].value if matches else _MISSING
    return [m.value for m in matches]


_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def duration_seconds(value: str) -> float:
    match = _DURATION.match(value.strip())
    if not match or value.strip() in ("P", "PT"):
        raise StepFailed(failure_message(f"Duration {value!r} is not an ISO 8601 duration"))
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return (
        parts.get("days", 0) * 86400 + parts.get("hours", 0) * 3600 + parts.get("minutes", 0) * 60 + parts.get("seconds", 0)
    )


# ---------------------------------------------------------------- the model


class StepRecord:
    def __init__(self, step: dict[str, Any], parent: dict[str, Any] | None = None):
        self.step_name = step.get("name", "")
        self.action = step.get("action", "")
        self.on_failure = step.get("onFailure", "Abort")
        self.max_attempts = int(step.get("maxAttempts", 1) or 1)
        self.timeout_seconds = step.get("timeoutSeconds")
        self.is_end = as_bool(step.get("isEnd", False))
        self.next_step = step.get("nextStep")
        self.is_critical = as_bool(step["isCritical"]) if "isCritical" in step else self.on_failure != "Continue"
        self.step_execution_id = str(uuid.uuid4())
        self.status = "Pending"
        self.start: datetime.datetime | None = None
        self.end: datetime.datetime | None = None
        self.inputs: dict[str, str] = {}
        self.outputs: dict[str, list[str]] = {}
        self.failure_message: str | None = None
        self.response: str | None = None
        self.parent = parent
        choices = (step.get("inputs") or {}).get("Choices") if self.action == "aws:branch" else None
        self.valid_next_steps = [c["NextStep"] for c in choices or [] if isinstance(c, dict) and c.get("NextStep")]

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StepName": self.step_name,
            "Action": self.action,
            "OnFailure": self.on_failure,
            "MaxAttempts": self.max_attempts,
            "StepStatus": self.status,
            "Inputs": dict(self.inputs),
            "StepExecutionId": self.step_execution_id,
            "IsEnd": self.is_end,
            "IsCritical": self.is_critical,
        }
        if self.timeout_seconds is not None:
            out["TimeoutSeconds"] = int(self.timeout_seconds)
        if self.start:
            out["ExecutionStartTime"] = self.start
        if self.end:
            out["ExecutionEndTime"] = self.end
        if self.outputs:
            out["Outputs"] = {k: list(v) for k, v in self.outputs.items()}
        if self.failure_message:
            out["FailureMessage"] = self.failure_message
            out["FailureDetails"] = {"FailureStage": "Invocation", "FailureType": "Unknown"}
        if self.response:
            out["Response"] = self.response
        if self.next_step:
            out["NextStep"] = self.next_step
        if self.valid_next_steps:
            out["ValidNextSteps"] = list(self.valid_next_steps)
        if self.parent:
            out["ParentStepDetails"] = dict(self.parent)
        return out


class AutomationExecution:
    """One execution of a runbook, run by a thread of its own."""

    def __init__(
        self,
        backend: SimpleSystemManagerBackend,
        document: Document,
        content: dict[str, Any],
        parameters: dict[str, Any],
        api_parameters: dict[str, list[str]],
        executed_by: str,
        mode: str = "Auto",
    ):
        self.backend = backend
        self.account_id = backend.account_id
        self.region_name = backend.region_name
        self.execution_id = str(uuid.uuid4())
        self.document_name = document.name
        self.document_version = document.document_version
        self.content = content
        self.parameters = parameters  # typed values
        self.api_parameters = api_parameters
        self.executed_by = executed_by
        self.mode = mode
        self.status = "Pending"
        self.start = datetime.datetime.now(datetime.timezone.utc)
        self.end: datetime.datetime | None = None
        self.steps: list[StepRecord] = []
        self.values: dict[str, Any] = {}  # "Step.Output" -> typed value
        self.outputs: dict[str, list[str]] = {}
        self.failure_message: str | None = None
        self.current: StepRecord | None = None
        self.stop_event = threading.Event()
        self.lock = threading.RLock()
        self._critical: StepRecord | None = None
        self.assume_role: str | None = None  # the runbook's assumeRole, resolved
        self.caller_credentials: _local.Credentials | None = None  # without one: the caller's
        self.approval: Approval | None = None  # the aws:approve step waiting for signals, if any

    @property
    def arn(self) -> str:
        return f"arn:aws:ssm:{self.region_name}:{self.account_id}:automation-execution/{self.execution_id}"

    def credentials(self) -> _local.Credentials | None:
        """The credentials the steps call AWS with: the assume role's session
        (Automation assumes it; the session is named after the execution),
        else the caller's, else none (an administrator's execution)."""
        if self.assume_role:
            try:
                return _local.service_credentials(
                    self.assume_role,
                    "ssm.amazonaws.com",
                    session_name=self.execution_id,
                    source_arn=self.arn,
                    source_account=self.account_id,
                    region=self.region_name,
                )
            except _local.CannotAssume as exc:
                raise StepFailed(failure_message(f"{ASSUME_ROLE_FAILED} {exc}")) from exc
        return self.caller_credentials

    # ------------------------------------------------------------ API views

    def metadata(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "AutomationExecutionId": self.execution_id,
                "DocumentName": self.document_name,
                "DocumentVersion": self.document_version,
                "AutomationExecutionStatus": self.status,
                "ExecutionStartTime": self.start,
                "ExecutedBy": self.executed_by,
                "Mode": self.mode,
                "AutomationType": "Local",
                "Outputs": {k: list(v) for k, v in self.outputs.items()},
            }
            if self.end:
                out["ExecutionEndTime"] = self.end
            if self.failure_message:
                out["FailureMessage"] = self.failure_message
            if self.current is not None and self.status not in FINAL:
                out["CurrentStepName"] = self.current.step_name
                out["CurrentAction"] = self.current.action
            return out

    def to_api(self) -> dict[str, Any]:
        with self.lock:
            out = self.metadata()
            out.pop("AutomationType", None)
            out["Parameters"] = {k: list(v) for k, v in self.api_parameters.items()}
            out["StepExecutions"] = [s.to_api() for s in self.steps]
            out["StepExecutionsTruncated"] = False
            return out

    # ------------------------------------------------------------ interpolation

    _REF = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")

    def lookup(self, name: str) -> Any:
        now = datetime.datetime.now(datetime.timezone.utc)
        system = {
            "global:ACCOUNT_ID": self.account_id,
            "global:REGION": self.region_name,
            "global:DATE": now.strftime("%Y-%m-%d"),
            "global:DATE_TIME": now.strftime("%Y-%m-%d_%H.%M.%S"),
            "global:AWS_PARTITION": "aws",
            "automation:EXECUTION_ID": self.execution_id,
        }
        if name in system:
            return system[name]
        if name.startswith("ssm:"):
            parameter = self.backend.get_parameter(name[4:])
            return parameter.value if parameter is not None else _MISSING
        if name in self.values:
            return self.values[name]
        if name in self.parameters:
            return self.parameters[name]
        return _MISSING

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            whole = self._REF.fullmatch(value.strip())
            if whole:
                found = self.lookup(whole.group(1))
                return value if found is _MISSING else copy.deepcopy(found)

            def sub(match: re.Match[str]) -> str:
                found = self.lookup(match.group(1))
                return match.group(0) if found is _MISSING else text(found)

            return self._REF.sub(sub, value)
        if isinstance(value, list):
            out: list[Any] = []
            for item in value:
                resolved = self.resolve(item)
                if isinstance(item, str) and self._REF.fullmatch(item.strip()) and isinstance(resolved, list):
                    out.extend(resolved)
                else:
                    out.append(resolved)
            return out
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    # ------------------------------------------------------------ running

    def check(self) -> None:
        if self.stop_event.is_set():
            raise StepCancelled()
        try:
            current = ssm_backends[self.account_id][self.region_name]
        except Exception:
            current = None
        if current is not self.backend:
            raise _Aborted()

    def client(self, service: str) -> Any:
        return _local.client(service, self.region_name, self.account_id, credentials=self.credentials())

    def run(self) -> None:
        try:
            with self.lock:
                self.status = "InProgress"
            result, failed = self.run_sequence(self.content.get("mainSteps") or [])
            with self.lock:
                if result == "Cancelled":
                    self.status = "Cancelled"
                elif result in ("Failed", "TimedOut"):
                    self.status = result
                    self.failure_message = failed.failure_message if failed else None
                elif self._critical is not None:
                    self.status = "Failed"
                    self.failure_message = self._critical.failure_message
                else:
                    self.status = "Success"
                self._collect_outputs()
        except StepCancelled:
            with self.lock:
                self.status = "Cancelled"
        except _Aborted:
            log.info("automation %s dropped: the stand-in was reset", self.execution_id)
            with self.lock:
                self.status = "Cancelled"
        except Exception as exc:  # a bug of the stand-in: fail the execution, say why
            log.exception("automation %s failed unexpectedly", self.execution_id)
            with self.lock:
                self.status = "Failed"
                self.failure_message = f"Internal error of the irlab stand-in: {exc!r}"
        finally:
            with self.lock:
                self.end = datetime.datetime.now(datetime.timezone.utc)
                self.current = None

    def _collect_outputs(self) -> None:
        for ref in self.content.get("outputs") or []:
            name = str(ref).strip()
            if name in self.values:
                self.outputs[name] = api_values(self.values[name])

    def run_sequence(
        self, steps: list[dict[str, Any]], parent: dict[str, Any] | None = None
    ) -> tuple[str, StepRecord | None]:
        """Run steps from the first; returns ("Success" | "Failed" |
        "TimedOut" | "Cancelled", the step that aborted the sequence)."""
        index = {s.get("name"): i for i, s in enumerate(steps)}
        i: int | None = 0
        while i is not None and i < len(steps):
            step = steps[i]
            if self.stop_event.is_set():
                return "Cancelled", None
            self.check()
            record, chosen = self.run_step(step, parent)
            if record.status == "Cancelled":
                return "Cancelled", record
            if record.status == "Success":
                if chosen:
                    i = self._index(index, chosen, record)
                elif record.is_end:
                    i = None
                elif record.next_step:
                    i = self._index(index, record.next_step, record)
                else:
                    i += 1
                continue
            # Failed or TimedOut
            if record.is_critical and self._critical is None:
                self._critical = record
            on_failure = str(record.on_failure or "Abort")
            if on_failure.lower() == "abort":
                return record.status, record
            if on_failure.startswith("step:") and on_failure[5:].strip() not in index:
                # a step inside a loop going to a step outside it: the loop
                # fails and takes the jump (it inherits the onFailure)
                if parent is None:
                    self._index(index, on_failure[5:].strip(), record)
                return record.status, record
            if record.is_end:
                i = None
            elif on_failure.startswith("step:"):
                i = self._index(index, on_failure[5:].strip(), record)
            elif record.next_step:
                i = self._index(index, record.next_step, record)
            else:
                i += 1
        return "Success", None

    @staticmethod
    def _index(index: dict[str, int], name: str, record: StepRecord) -> int:
        if name not in index:
            raise RuntimeError(f"step {record.step_name} names a step that does not exist: {name}")
        return index[name]

    def run_step(self, step: dict[str, Any], parent: dict[str, Any] | None) -> tuple[StepRecord, str | None]:
        record = StepRecord(step, parent)
        with self.lock:
            self.steps.append(record)
            self.current = record
            record.status = "InProgress"
            record.start = datetime.datetime.now(datetime.timezone.utc)
        action = record.action
        handler = ACTIONS.get(action)
        chosen: str | None = None
        timeout = record.timeout_seconds
        if timeout is None and action == "aws:waitForAwsResourceProperty":
            timeout = WAIT_TIMEOUT_DEFAULT
        if action == "aws:approve":
            timeout = min(float(timeout if timeout is not None else APPROVE_TIMEOUT_DEFAULT), APPROVE_TIMEOUT_MAX)
        if action == "aws:executeScript":
            timeout = min(float(timeout or SCRIPT_TIMEOUT_MAX), SCRIPT_TIMEOUT_MAX)
        status, message = "Success", None
        for attempt in range(max(record.max_attempts, 1)):
            deadline = None
            if timeout is not None:
                # waiting actions wait in scaled time; the others do real work
                real = _clock.seconds(float(timeout)) if action in WAITING_ACTIONS else float(timeout)
                deadline = time.monotonic() + real
            try:
                inputs = self.resolve(step.get("inputs") or {}) if action != "aws:loop" else step.get("inputs") or {}
                if action != "aws:loop":
                    record.inputs = {k: text(v) for k, v in inputs.items() if k not in ("Script",)}
                    if "Script" in inputs:
                        record.inputs["Script"] = str(inputs["Script"])
                if handler is None:
                    raise StepFailed(
                        failure_message(f"The action {action} is not supported by the irlab local AWS stand-in")
                    )
                chosen = handler(self, step, inputs, record, deadline)
                status, message = "Success", None
                break
            except StepCancelled:
                status, message = "Cancelled", None
                break
            except _Aborted:
                raise
            except StepTimedOut as exc:
                status, message = "TimedOut", str(exc) or f"Step timed out after {timeout} seconds."
            except StepFailed as exc:
                status, message = "Failed", str(exc)
                if exc.on_failure:
                    record.on_failure = exc.on_failure
            except ClientError as exc:
                status, message = "Failed", failure_message(client_error_text(exc))
            except Exception as exc:
                log.info("step %s failed", record.step_name, exc_info=True)
                status, message = "Failed", failure_message(f"{type(exc).__name__}: {exc}")
            if self.stop_event.is_set():
                status, message = "Cancelled", None
                break
        with self.lock:
            record.status = status
            record.failure_message = message
            record.end = datetime.datetime.now(datetime.timezone.utc)
        return record, chosen

    def set_outputs(self, step: dict[str, Any], record: StepRecord, data: Any) -> None:
        """Evaluate the step's declared outputs (Name / Selector / Type) on ``data``."""
        for spec in step.get("outputs") or []:
            name, selector = spec.get("Name"), spec.get("Selector")
            if not name or not selector:
                continue
            found = select(data, selector)
            if found is _MISSING:
                continue
            try:
                value = typed(found, spec.get("Type"))
            except (TypeError, ValueError) as exc:
                raise StepFailed(
                    failure_message(f"The output {name} ({selector}) is not of type {spec.get('Type')}: {exc}")
                ) from exc
            self.values[f"{record.step_name}.{name}"] = value
            record.outputs[name] = api_values(value)

    def sleep(self, seconds: float, deadline: float | None) -> None:
        """Wait ``seconds`` document seconds, honouring Stop and the step deadline."""
        end = time.monotonic() + _clock.seconds(seconds)
        while True:
            self.check()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise StepTimedOut("Step timed out.")
            if now >= end:
                return
            limit = end if deadline is None else min(end, deadline)
            self.stop_event.wait(max(min(limit - now, 1.0), 0.0))


# ---------------------------------------------------------------- actions


_NOT_API_INPUTS = {"Service", "Api", "PropertySelector", "DesiredValues"}


def _call(execution: AutomationExecution, inputs: dict[str, Any]) -> Any:
    service, api = inputs.get("Service"), inputs.get("Api")
    if not service or not api:
        raise StepFailed(failure_message("Service and Api are required inputs"))
    client = execution.client(str(service))
    method = getattr(client, xform_name(str(api)), None)
    if method is None:
        raise StepFailed(failure_message(f"{service} has no API operation {api}"))
    params = {k: v for k, v in inputs.items() if k not in _NOT_API_INPUTS}
    return as_json(method(**params))


def _matches(value: Any, desired: list[str]) -> bool:
    wanted = [text(d) for d in desired]
    if isinstance(value, list):
        return bool(value) and all(text(v) in wanted for v in value)
    return value is not _MISSING and text(value) in wanted


def execute_aws_api(execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any) -> None:
    response = _call(execution, inputs)
    execution.set_outputs(step, record, response)


def wait_for_aws_resource_property(
    execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any
) -> None:
    selector, desired = inputs.get("PropertySelector"), inputs.get("DesiredValues")
    if not selector or desired is None:
        raise StepFailed(failure_message("PropertySelector and DesiredValues are required inputs"))
    desired = desired if isinstance(desired, list) else [desired]
    while True:
        execution.check()
        response = _call(execution, inputs)
        value = select(response, str(selector))
        if _matches(value, desired):
            execution.set_outputs(step, record, response)
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise StepTimedOut(
                f"Step timed out while waiting for {selector} to be one of {json.dumps([text(d) for d in desired])}."
            )
        execution.sleep(POLL_SECONDS, deadline)


def assert_aws_resource_property(
    execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any
) -> None:
    selector, desired = inputs.get("PropertySelector"), inputs.get("DesiredValues")
    if not selector or desired is None:
        raise StepFailed(failure_message("PropertySelector and DesiredValues are required inputs"))
    desired = desired if isinstance(desired, list) else [desired]
    response = _call(execution, inputs)
    value = select(response, str(selector))
    if not _matches(value, desired):
        shown = "(nothing)" if value is _MISSING else text(value)
        raise StepFailed(
            failure_message(
                f"Resource property {selector} value {shown} does not match any of the desired values "
                f"{json.dumps([text(d) for d in desired])}"
            )
        )
    execution.set_outputs(step, record, response)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise StepFailed(failure_message(f"{text(value)!r} is not a number")) from exc


_OPERATORS = {
    "StringEquals": lambda a, b: text(a) == text(b),
    "EqualsIgnoreCase": lambda a, b: text(a).lower() == text(b).lower(),
    "StartsWith": lambda a, b: text(a).startswith(text(b)),
    "EndsWith": lambda a, b: text(a).endswith(text(b)),
    "Contains": lambda a, b: (text(b) in [text(x) for x in a]) if isinstance(a, list) else text(b) in text(a),
    "NumericEquals": lambda a, b: _number(a) == _number(b),
    "NumericGreater": lambda a, b: _number(a) > _number(b),
    "NumericLesser": lambda a, b: _number(a) < _number(b),
    "NumericGreaterOrEquals": lambda a, b: _number(a) >= _number(b),
    "NumericLesserOrEquals": lambda a, b: _number(a) <= _number(b),
    "BooleanEquals": lambda a, b: as_bool(a) == as_bool(b),
}


def evaluate_choice(execution: AutomationExecution, choice: dict[str, Any]) -> bool:
    if "And" in choice:
        return all(evaluate_choice(execution, c) for c in choice["And"])
    if "Or" in choice:
        return any(evaluate_choice(execution, c) for c in choice["Or"])
    if "Not" in choice:
        return not evaluate_choice(execution, choice["Not"])
    variable = execution.resolve(choice.get("Variable"))
    for name, operator in _OPERATORS.items():
        if name in choice:
            return bool(operator(variable, execution.resolve(choice[name])))
    raise StepFailed(failure_message(f"choice has no supported operator: {json.dumps(choice)}"))


def branch(execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any) -> str | None:
    # the raw inputs: each Variable is resolved when its choice is evaluated
    raw = step.get("inputs") or {}
    for choice in raw.get("Choices") or []:
        if evaluate_choice(execution, choice):
            record.outputs["NextStep"] = [choice["NextStep"]]
            return str(choice["NextStep"])
    default = raw.get("Default")
    if default:
        record.outputs["NextStep"] = [str(default)]
        return str(default).strip()
    return None


def sleep(execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any) -> None:
    if inputs.get("Duration"):
        seconds = duration_seconds(str(inputs["Duration"]))
    elif inputs.get("Timestamp"):
        try:
            until = datetime.datetime.fromisoformat(str(inputs["Timestamp"]).replace("Z", "+00:00"))
        except ValueError as exc:
            raise StepFailed(failure_message(f"Timestamp {inputs['Timestamp']!r} is not an ISO 8601 timestamp")) from exc
        if until.tzinfo is None:
            until = until.replace(tzinfo=datetime.timezone.utc)
        seconds = max((until - datetime.datetime.now(datetime.timezone.utc)).total_seconds(), 0.0)
    else:
        raise StepFailed(failure_message("aws:sleep needs Duration or Timestamp"))
    execution.sleep(min(seconds, 604800.0), deadline)


_SCRIPT_RUNNER = r"""
import json, os, sys, traceback
spec = json.load(open(sys.argv[1]))
account = os.environ.get("IRLAB_ACCOUNT_ID")
if account:
    import botocore.session
    _create = botocore.session.Session.create_client
    def _add_account(request, **kwargs):
        request.headers["x-moto-account-id"] = account
    def create_client(self, *args, **kwargs):
        client = _create(self, *args, **kwargs)
        client.meta.events.register_first("before-sign.*.*", _add_account)
        return client
    botocore.session.Session.create_client = create_client
def default(o):
    import datetime
    if isinstance(o, (datetime.date, datetime.datetime)):
        return o.isoformat()
    return str(o)
try:
    namespace = {"__name__": "__irlab_script__"}
    exec(compile(spec["script"], "<script>", "exec"), namespace)
    handler = namespace[spec["handler"]]
    result = {"ok": True, "payload": handler(spec["events"], spec["context"])}
except BaseException as exc:
    result = {"ok": False, "error": type(exc).__name__, "message": str(exc), "trace": traceback.format_exc()}
with open(spec["result"], "w") as out:
    json.dump(result, out, default=default)
"""


def execute_script(execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any) -> None:
    runtime = str(inputs.get("Runtime") or "")
    if not runtime.startswith("python3"):
        raise StepFailed(failure_message(f"The runtime {runtime or '(none)'} is not supported by the irlab local AWS stand-in"))
    script, handler = inputs.get("Script"), inputs.get("Handler")
    if not script or not handler:
        raise StepFailed(failure_message("Script and Handler are required inputs (attachments are not supported)"))
    payload = inputs.get("InputPayload") or {}
    if isinstance(payload, str):
        try:
            payload = yaml.safe_load(payload) or {}
        except yaml.YAMLError:
            pass
    with tempfile.TemporaryDirectory(prefix="irlab-script-") as workdir:
        spec_path = os.path.join(workdir, "spec.json")
        result_path = os.path.join(workdir, "result.json")
        with open(spec_path, "w") as f:
            json.dump(
                {
                    "script": str(script),
                    "handler": str(handler),
                    "events": payload,
                    "context": {
                        "automation:EXECUTION_ID": execution.execution_id,
                        "global:ACCOUNT_ID": execution.account_id,
                        "global:REGION": execution.region_name,
                    },
                    "result": result_path,
                },
                f,
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(_local.environment(execution.account_id, execution.credentials()))
        env.update({"AWS_DEFAULT_REGION": execution.region_name, "AWS_REGION": execution.region_name})
        env.setdefault("NO_PROXY", "127.0.0.1,localhost")
        runner = os.path.join(workdir, "runner.py")
        with open(runner, "w") as f:
            f.write(_SCRIPT_RUNNER)
        process = subprocess.Popen(
            [sys.executable, runner, spec_path],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            while process.poll() is None:
                if execution.stop_event.is_set():
                    raise StepCancelled()
                if deadline is not None and time.monotonic() >= deadline:
                    raise StepTimedOut("Step timed out.")
                try:
                    process.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        console = (process.stdout.read() if process.stdout else b"").decode("utf-8", errors="replace")
        if not os.path.exists(result_path):
            raise StepFailed(failure_message(f"The script ended without a result (exit {process.returncode}): {console[-2000:]}"))
        with open(result_path) as f:
            result = json.load(f)
    if console:
        record.response = console[-4000:]
    if not result.get("ok"):
        raise StepFailed(failure_message(f"{result.get('error')}: {result.get('message')}\n{result.get('trace', '')}"))
    data = {"Payload": result.get("payload")}
    execution.values[f"{record.step_name}.Payload"] = result.get("payload")
    execution.set_outputs(step, record, data)


def loop(execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any) -> None:
    raw = step.get("inputs") or {}
    body = raw.get("Steps") or []
    name = record.step_name
    max_iterations = int(execution.resolve(raw.get("MaxIterations", MAX_ITERATIONS)) or MAX_ITERATIONS)
    max_iterations = min(max_iterations, MAX_ITERATIONS)
    record.inputs = {k: text(execution.resolve(v)) for k, v in raw.items() if k != "Steps"}
    record.on_failure = step.get("onFailure", "Abort")
    if "Iterators" in raw:
        items = execution.resolve(raw["Iterators"])
        if not isinstance(items, list):
            items = [items]
        data_type = raw.get("IteratorDataType") or "String"
        iterations: list[Any] = [typed(i, data_type) for i in items][:MAX_ITERATIONS]
        condition = None
    else:
        iterations = list(range(max_iterations))
        condition = raw.get("LoopCondition")
        if not condition:
            raise StepFailed(failure_message("aws:loop needs Iterators or LoopCondition"))
    count = 0
    for item in iterations:
        count += 1
        execution.values[f"{name}.CurrentIteration"] = count
        record.outputs["CurrentIteration"] = [str(count)]
        parent = {"StepExecutionId": record.step_execution_id, "StepName": name, "Action": "aws:loop", "Iteration": count}
        if condition is None:
            execution.values[f"{name}.CurrentIteratorValue"] = item
            record.outputs["CurrentIteratorValue"] = api_values(item)
            parent["IteratorValue"] = text(item)
        result, failed = execution.run_sequence(body, parent)
        if result == "Cancelled":
            raise StepCancelled()
        if result in ("Failed", "TimedOut"):
            message = failed.failure_message if failed and failed.failure_message else failure_message("a step of the loop failed")
            inner = next((s for s in body if failed and s.get("name") == failed.step_name), {})
            raise StepFailed(message, on_failure=inner.get("onFailure"))
        if condition is not None and not evaluate_choice(execution, condition):
            break


def create_tags(execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any) -> None:
    resource_type = inputs.get("ResourceType") or "EC2"
    ids = inputs.get("ResourceIds") or []
    ids = ids if isinstance(ids, list) else [ids]
    tags = inputs.get("Tags") or []
    if resource_type == "EC2":
        execution.client("ec2").create_tags(Resources=ids, Tags=tags)
    else:
        ssm = execution.client("ssm")
        for resource_id in ids:
            ssm.add_tags_to_resource(ResourceType=resource_type, ResourceId=resource_id, Tags=tags)


def change_instance_state(execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any) -> None:
    ids = inputs.get("InstanceIds") or []
    ids = ids if isinstance(ids, list) else [ids]
    desired = str(inputs.get("DesiredState") or "")
    ec2 = execution.client("ec2")
    if not as_bool(inputs.get("CheckStateOnly", False)):
        if desired == "running":
            ec2.start_instances(InstanceIds=ids)
        elif desired == "stopped":
            ec2.stop_instances(InstanceIds=ids, Force=as_bool(inputs.get("Force", False)))
        elif desired == "terminated":
            ec2.terminate_instances(InstanceIds=ids)
        else:
            raise StepFailed(failure_message(f"DesiredState {desired!r} is not supported"))
    while True:
        execution.check()
        reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
        if states and all(s == desired for s in states):
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise StepTimedOut("Step timed out.")
        execution.sleep(POLL_SECONDS, deadline)


def invoke_lambda_function(execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any) -> None:
    params = {k: inputs[k] for k in ("FunctionName", "Qualifier", "InvocationType", "LogType", "ClientContext") if inputs.get(k)}
    if "Payload" in inputs:
        payload = inputs["Payload"]
        params["Payload"] = payload if isinstance(payload, str) else json.dumps(payload)
    response = execution.client("lambda").invoke(**params)
    body = response.get("Payload")
    payload_text = body.read().decode("utf-8", errors="replace") if body is not None else ""
    record.outputs["StatusCode"] = [str(response.get("StatusCode", ""))]
    if response.get("FunctionError"):
        record.outputs["FunctionError"] = [response["FunctionError"]]
    if response.get("LogResult"):
        record.outputs["LogResult"] = [response["LogResult"]]
    record.outputs["Payload"] = [payload_text]
    for key in ("StatusCode", "FunctionError", "LogResult"):
        if response.get(key) is not None:
            execution.values[f"{record.step_name}.{key}"] = response[key]
    execution.values[f"{record.step_name}.Payload"] = payload_text


# ---------------------------------------------------------------- aws:approve

# Principals an aws:approve step may name (automation-action-approve.html):
# an IAM user name, an IAM user ARN, an IAM role ARN, an assumed-role user ARN.
_USER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):user/(?:[^/]+/)*([^/]+)$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[^/]+/)*([^/]+)$")
_ASSUMED_ARN = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/(.+)$")


def approver_matches(entry: str, caller: str) -> bool:
    """Whether the principal ``caller`` (the ARN GetCallerIdentity gives it) is
    the approver ``entry``: the same ARN; a session of the role ``entry``
    names; or the IAM user ``entry`` names by user name (same account)."""
    entry = entry.strip()
    if not entry:
        return False
    if entry == caller:
        return True
    role, session = _ROLE_ARN.match(entry), _ASSUMED_ARN.match(caller)
    if role and session:
        return role.group(1) == session.group(1) and role.group(2) == session.group(2)
    user = _USER_ARN.match(caller)
    if not entry.startswith("arn:") and user:
        return user.group(2) == entry
    return False


class Approval:
    """An aws:approve step waiting for SendAutomationSignal Approve/Reject."""

    def __init__(self, step_name: str, approvers: list[str], required: int):
        self.step_name = step_name
        self.approvers = approvers
        self.required = required
        self.decisions: list[dict[str, str]] = []
        self.changed = threading.Event()

    def outcome(self) -> str:
        if any(d["Decision"] == "Reject" for d in self.decisions):
            return "Rejected"
        if sum(d["Decision"] == "Approve" for d in self.decisions) >= self.required:
            return "Approved"
        return "Waiting"

    def decide(self, caller: str, decision: str, comment: str | None) -> None:
        """Record a signal (the caller holds the execution's lock)."""
        if not any(approver_matches(a, caller) for a in self.approvers):
            raise InvalidAutomationSignalException(
                f"{SIGNAL_INVALID} {caller} is not an approver of step {self.step_name}."
            )
        if any(d["Approver"] == caller for d in self.decisions):
            raise InvalidAutomationSignalException(
                f"{SIGNAL_INVALID} {caller} has already decided on step {self.step_name}."
            )
        now = datetime.datetime.now(datetime.timezone.utc)
        entry = {"Approver": caller, "Decision": decision, "ApprovalDecisionTime": now.isoformat().replace("+00:00", "Z")}
        if comment:
            entry["Comment"] = comment
        self.decisions.append(entry)
        self.changed.set()


def _approval_outputs(execution: AutomationExecution, record: StepRecord, approval: Approval, status: str) -> None:
    decisions = [dict(d) for d in approval.decisions]
    execution.values[f"{record.step_name}.ApprovalStatus"] = status
    execution.values[f"{record.step_name}.ApproverDecisions"] = decisions
    record.outputs["ApprovalStatus"] = [status]
    record.outputs["ApproverDecisions"] = [json.dumps(d) for d in decisions]


def _approve_problem(inputs: dict[str, Any]) -> tuple[list[str], int, str | None]:
    """The approvers, the approvals needed and what is wrong with the inputs
    (``_automation_validate`` refuses the same at CreateDocument when the
    values are literal)."""
    raw = inputs.get("Approvers")
    listed = [text(a).strip() for a in (raw if isinstance(raw, list) else [raw] if raw is not None else [])]
    approvers = [a for a in listed if a]
    if not approvers:
        return [], 0, "Approvers must name at least one principal"
    if len(approvers) > _automation_validate.MAX_APPROVERS:
        return approvers, 0, f"Approvers names {len(approvers)} principals; the maximum is {_automation_validate.MAX_APPROVERS}"
    try:
        required = int(text(inputs.get("MinRequiredApprovals", 1)) or 1)
    except ValueError:
        return approvers, 0, f"MinRequiredApprovals {text(inputs.get('MinRequiredApprovals'))!r} is not a number"
    if required < 1 or required > len(approvers):
        return approvers, required, (
            f"MinRequiredApprovals {required} must be positive and at most the number of approvers ({len(approvers)})"
        )
    message = inputs.get("Message")
    if message is not None and len(text(message)) > _automation_validate.MAX_APPROVE_MESSAGE:
        return approvers, required, f"Message is longer than {_automation_validate.MAX_APPROVE_MESSAGE} characters"
    topic = inputs.get("NotificationArn")
    if topic and not _automation_validate.automation_topic(text(topic)):
        return approvers, required, f"NotificationArn {text(topic)} is not an SNS topic whose name begins with Automation"
    return approvers, required, None


def approve(execution: AutomationExecution, step: dict, inputs: dict, record: StepRecord, deadline: Any) -> None:
    approvers, required, problem = _approve_problem(inputs)
    if problem:
        raise StepFailed(failure_message(problem))
    topic = inputs.get("NotificationArn")
    if topic:
        # The request's wording is the stand-in's: AWS documents only that
        # Automation sends one to the topic.
        execution.client("sns").publish(
            TopicArn=text(topic),
            Subject=f"Automation {execution.execution_id}: approval requested"[:99],
            Message=(
                f"Automation execution {execution.execution_id} of {execution.document_name} waits for the approval "
                f"of step {record.step_name} ({required} of: {', '.join(approvers)}).\n\n"
                f"{text(inputs.get('Message') or '')}\n\n"
                "Approve or reject with SendAutomationSignal (SignalType Approve or Reject)."
            ),
        )
    approval = Approval(record.step_name, approvers, required)
    with execution.lock:
        execution.approval = approval
        record.status = "Waiting"
        if execution.status == "InProgress":
            execution.status = "Waiting"
        _approval_outputs(execution, record, approval, "Waiting")
    try:
        while True:
            execution.check()
            with execution.lock:
                outcome = approval.outcome()
                _approval_outputs(execution, record, approval, "Waiting")
            if outcome != "Waiting":
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise StepTimedOut("Step timed out.")
            approval.changed.wait(min(0.5, max(deadline - now, 0.0)) if deadline is not None else 0.5)
            approval.changed.clear()
    finally:
        with execution.lock:
            execution.approval = None
            if execution.status == "Waiting":
                execution.status = "InProgress"
            record.status = "InProgress"
    with execution.lock:
        _approval_outputs(execution, record, approval, outcome)
        rejected = [d["Approver"] for d in approval.decisions if d["Decision"] == "Reject"]
    if outcome == "Rejected":
        raise StepFailed(failure_message(f"The approval was rejected by {', '.join(rejected)}"))


ACTIONS = {
    "aws:executeAwsApi": execute_aws_api,
    "aws:waitForAwsResourceProperty": wait_for_aws_resource_property,
    "aws:assertAwsResourceProperty": assert_aws_resource_property,
    "aws:branch": branch,
    "aws:sleep": sleep,
    "aws:executeScript": execute_script,
    "aws:loop": loop,
    "aws:createTags": create_tags,
    "aws:changeInstanceState": change_instance_state,
    "aws:invokeLambdaFunction": invoke_lambda_function,
    "aws:approve": approve,
}


# ---------------------------------------------------------------- starting


def _executions(backend: SimpleSystemManagerBackend) -> dict[str, AutomationExecution]:
    store = getattr(backend, "irlab_automation_executions", None)
    if store is None:
        store = {}
        backend.irlab_automation_executions = store  # type: ignore[attr-defined]
    return store


def _document(backend: SimpleSystemManagerBackend, name: str, version: str | None) -> Document:
    documents = backend._documents.get(name)
    if documents is None and name.startswith("arn:"):
        documents = backend._documents.get(name.rsplit("/", 1)[-1])
    if documents is None:
        raise AutomationDefinitionNotFoundException(f"Document {name} does not exist.")
    if version in (None, "", "$DEFAULT"):
        document = documents.get_default_version()
    else:
        document = documents.find(version, None, strict=False)
        if document is None:
            raise AutomationDefinitionVersionNotFoundException(
                f"Document {name} with version {version} does not exist."
            )
    if document.document_type != "Automation":
        raise AutomationDefinitionNotFoundException(f"Document {name} is not an Automation document.")
    return document


def _parameters(content: dict[str, Any], given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    declared: dict[str, Any] = content.get("parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InvalidAutomationExecutionParametersException(
            f"Parameters {json.dumps(unknown)} are not defined in the document."
        )
    values: dict[str, Any] = {}
    shown: dict[str, list[str]] = {}
    for name, spec in declared.items():
        spec = spec or {}
        typ = spec.get("type") or "String"
        if name in given:
            raw = given[name]
            strings = raw if isinstance(raw, list) else [raw]
            try:
                value = typed([str(s) if not isinstance(s, str) else s for s in strings], typ)
            except (TypeError, ValueError) as exc:
                raise InvalidAutomationExecutionParametersException(
                    f"Parameter {name} is not a valid {typ}: {exc}"
                ) from exc
        elif "default" in spec:
            default = spec["default"]
            try:
                value = typed(default, typ)
            except (TypeError, ValueError):
                value = default
        else:
            raise InvalidAutomationExecutionParametersException(
                f"Parameter {name} is required and has no default value."
            )
        allowed = spec.get("allowedValues")
        for item in value if isinstance(value, list) else [value]:
            if allowed and name in given and text(item) not in [text(a) for a in allowed]:
                raise InvalidAutomationExecutionParametersException(
                    f"Parameter {name} value {text(item)} is not one of {json.dumps([text(a) for a in allowed])}."
                )
            pattern = spec.get("allowedPattern")
            if pattern and name in given and re.search(pattern, text(item)) is None:
                raise InvalidAutomationExecutionParametersException(
                    f"Parameter {name} value {text(item)} does not match the allowed pattern {pattern}."
                )
        values[name] = value
        shown[name] = api_values(value)
    return values, shown


def start_automation_execution(
    account_id: str,
    region_name: str,
    document_name: str,
    parameters: dict[str, Any] | None = None,
    document_version: str | None = None,
    executed_by: str | None = None,
) -> str:
    """Start ``document_name`` (an Automation document) with ``parameters``
    (name -> list of strings, or a single string); returns the execution id.
    The runbook runs in a background thread; follow it with
    GetAutomationExecution.  Raises the API's errors (unknown document or
    version, invalid parameters)."""
    backend = ssm_backends[account_id][region_name]
    document = _document(backend, document_name, document_version)
    content = document.content_json if isinstance(document.content_json, dict) else {}
    if str(content.get("schemaVersion")) != "0.3":
        raise InvalidAutomationExecutionParametersException(
            f"Document {document_name} has schemaVersion {content.get('schemaVersion')}; Automation needs 0.3."
        )
    values, shown = _parameters(content, parameters or {})
    caller = _iam_enforce.current()
    execution = AutomationExecution(
        backend,
        document,
        content,
        values,
        shown,
        executed_by or (caller.arn if caller else f"arn:aws:iam::{account_id}:root"),
    )
    _assume(execution, content, caller)
    _executions(backend)[execution.execution_id] = execution
    threading.Thread(
        target=execution.run, name=f"irlab-automation-{execution.execution_id[:8]}", daemon=True
    ).start()
    return execution.execution_id


def _assume(execution: AutomationExecution, content: dict[str, Any], caller: _iam_enforce.Session | None) -> None:
    """The runbook's assumeRole: the caller must be allowed to pass it to
    Systems Manager, and Automation must be able to assume it."""
    role = execution.resolve(content.get("assumeRole")) if content.get("assumeRole") else None
    if not isinstance(role, str) or not role.strip() or "{{" in role:
        if caller is not None:
            execution.caller_credentials = _iam_enforce.credentials_of(caller)
        return
    role = role.strip()
    try:
        _iam_enforce.require("iam:PassRole", role, {"iam:PassedToService": "ssm.amazonaws.com"}, execution.region_name)
    except _iam_enforce.AccessDenied as denied:
        raise AccessDeniedException(denied.message) from denied
    except _iam_enforce._iam_eval.Unevaluable as exc:
        raise UnevaluablePolicy(f"The irlab stand-in cannot evaluate IAM for this request: {exc}") from exc
    try:
        _local.service_credentials(
            role,
            "ssm.amazonaws.com",
            session_name=execution.execution_id,
            source_arn=execution.arn,
            source_account=execution.account_id,
            region=execution.region_name,
        )
    except _local.CannotAssume as exc:
        log.info("automation %s: %s", execution.execution_id, exc)
        raise InvalidAutomationExecutionParametersException(ASSUME_ROLE_FAILED) from exc
    execution.assume_role = role


def get_automation_execution(account_id: str, region_name: str, execution_id: str) -> AutomationExecution:
    execution = _executions(ssm_backends[account_id][region_name]).get(execution_id)
    if execution is None:
        raise AutomationExecutionNotFoundException(execution_id)
    return execution


# ---------------------------------------------------------------- API


def _paginate(items: list[Any], max_results: Any, next_token: Any) -> tuple[list[Any], str | None]:
    start = int(next_token or 0)
    size = int(max_results or 50)
    page = items[start : start + size]
    return page, (str(start + size) if start + size < len(items) else None)


def _time_filter(value: str) -> datetime.datetime:
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _response_start(self: SimpleSystemManagerResponse) -> ActionResult:
    if self._get_param("Targets") or self._get_param("TargetParameterName"):
        raise InvalidAutomationExecutionParametersException(
            "Rate-controlled executions (Targets) are not supported by the irlab local AWS stand-in."
        )
    execution_id = start_automation_execution(
        self.current_account,
        self.region,
        self._get_param("DocumentName"),
        self._get_param("Parameters") or {},
        self._get_param("DocumentVersion"),
    )
    return ActionResult({"AutomationExecutionId": execution_id})


def _response_get(self: SimpleSystemManagerResponse) -> ActionResult:
    execution = get_automation_execution(self.current_account, self.region, self._get_param("AutomationExecutionId"))
    return ActionResult({"AutomationExecution": execution.to_api()})


def _response_describe(self: SimpleSystemManagerResponse) -> ActionResult:
    executions = list(_executions(self.ssm_backend).values())
    for flt in self._get_param("Filters") or []:
        key, values = flt.get("Key"), flt.get("Values") or []
        if key == "DocumentNamePrefix":
            executions = [e for e in executions if any(e.document_name.startswith(v) for v in values)]
        elif key == "ExecutionStatus":
            executions = [e for e in executions if e.status in values]
        elif key == "ExecutionId":
            executions = [e for e in executions if e.execution_id in values]
        elif key == "CurrentAction":
            executions = [e for e in executions if e.current is not None and e.current.action in values]
        elif key == "StartTimeBefore":
            executions = [e for e in executions if e.start <= _time_filter(values[0])]
        elif key == "StartTimeAfter":
            executions = [e for e in executions if e.start >= _time_filter(values[0])]
        elif key == "AutomationType":
            executions = [e for e in executions if "Local" in values]
        else:
            raise InvalidFilterKey(f"The filter key {key} is not supported by the irlab local AWS stand-in.")
    executions.sort(key=lambda e: e.start, reverse=True)
    page, token = _paginate(executions, self._get_param("MaxResults"), self._get_param("NextToken"))
    result: dict[str, Any] = {"AutomationExecutionMetadataList": [e.metadata() for e in page]}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def _response_describe_steps(self: SimpleSystemManagerResponse) -> ActionResult:
    execution = get_automation_execution(self.current_account, self.region, self._get_param("AutomationExecutionId"))
    with execution.lock:
        steps = list(execution.steps)
    for flt in self._get_param("Filters") or []:
        key, values = flt.get("Key"), flt.get("Values") or []
        if key == "StepName":
            steps = [s for s in steps if s.step_name in values]
        elif key == "Action":
            steps = [s for s in steps if s.action in values]
        elif key == "StepExecutionStatus":
            steps = [s for s in steps if s.status in values]
        elif key == "StepExecutionId":
            steps = [s for s in steps if s.step_execution_id in values]
        elif key == "StartTimeBefore":
            steps = [s for s in steps if s.start and s.start <= _time_filter(values[0])]
        elif key == "StartTimeAfter":
            steps = [s for s in steps if s.start and s.start >= _time_filter(values[0])]
        else:
            raise InvalidFilterKey(f"The filter key {key} is not supported.")
    if self._get_param("ReverseOrder"):
        steps.reverse()
    page, token = _paginate(steps, self._get_param("MaxResults"), self._get_param("NextToken"))
    with execution.lock:
        result: dict[str, Any] = {"StepExecutions": [s.to_api() for s in page]}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def _response_stop(self: SimpleSystemManagerResponse) -> Any:
    execution = get_automation_execution(self.current_account, self.region, self._get_param("AutomationExecutionId"))
    with execution.lock:
        if execution.status in FINAL:
            raise InvalidAutomationStatusUpdateException(
                f"Automation execution {execution.execution_id} has already ended ({execution.status})."
            )
        execution.status = "Cancelling"
        execution.stop_event.set()
    return EmptyResult()


def _signal_caller(response: SimpleSystemManagerResponse) -> str:
    """The ARN GetCallerIdentity gives the caller of this request."""
    session = _iam_enforce.current()
    if session is not None:
        return session.arn
    from moto.sts.models import sts_backends

    _, arn, _ = sts_backends[response.current_account]["aws"].get_caller_identity(response.get_access_key(), response.region)
    return arn


def _response_signal(self: SimpleSystemManagerResponse) -> Any:
    execution = get_automation_execution(self.current_account, self.region, self._get_param("AutomationExecutionId"))
    signal = self._get_param("SignalType")
    payload = self._get_param("Payload") or {}
    if signal not in ("Approve", "Reject"):
        raise InvalidAutomationSignalException(
            f"{SIGNAL_INVALID} The signal {signal} is not supported by the irlab local AWS stand-in (aws:pause and "
            "step-by-step executions are not modelled)."
        )
    comment = payload.get("Comment") if isinstance(payload, dict) else None
    comment = " ".join(comment) if isinstance(comment, list) else comment
    caller = _signal_caller(self)
    with execution.lock:
        approval = execution.approval
        if approval is None or execution.status != "Waiting":
            raise InvalidAutomationSignalException(
                f"{SIGNAL_INVALID} Automation execution {execution.execution_id} is {execution.status}, "
                "not waiting for an approval."
            )
        approval.decide(caller, signal, comment)
    return EmptyResult()


# ---------------------------------------------------------------- CreateDocument / UpdateDocument


def _parsed(content: Any, document_format: str | None) -> Any:
    if isinstance(content, dict):
        return content
    try:
        if (document_format or "JSON") == "YAML":
            return yaml.safe_load(content)
        return json.loads(content)
    except (ValueError, yaml.YAMLError):
        return None  # moto answers the parse error itself


def check_runbook(content: Any, document_format: str | None) -> None:
    """Refuse an Automation runbook AWS refuses (``_automation_validate``)."""
    parsed = _parsed(content, document_format)
    if parsed is None:
        return
    found = _automation_validate.problems(parsed)
    if found:
        raise InvalidDocumentContent(" ".join(found))


_orig_create_document = SimpleSystemManagerBackend.create_document
_orig_update_document = SimpleSystemManagerBackend.update_document


def _create_document(self: SimpleSystemManagerBackend, content: Any, *args: Any, **kwargs: Any) -> Any:
    if kwargs.get("document_type") == "Automation":
        check_runbook(content, kwargs.get("document_format"))
    return _orig_create_document(self, content, *args, **kwargs)


def _update_document(self: SimpleSystemManagerBackend, content: Any, *args: Any, **kwargs: Any) -> Any:
    documents = self._documents.get(kwargs.get("name"))
    if documents is not None and documents.get_default_version().document_type == "Automation":
        check_runbook(content, kwargs.get("document_format"))
    return _orig_update_document(self, content, *args, **kwargs)


# ---------------------------------------------------------------- CloudFormation


def document_text(content: Any, document_format: str) -> str:
    if isinstance(content, str):
        return content
    if document_format == "YAML":
        return yaml.safe_dump(content, sort_keys=False, default_flow_style=False)
    return json.dumps(content)


class DocumentHandler(Document):
    """AWS::SSM::Document (Ref: the document name)."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SSM::Document"

    @classmethod
    def _create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str) -> Document:
        backend: SimpleSystemManagerBackend = ssm_backends[account_id][region_name]
        document_format = props.get("DocumentFormat") or "JSON"
        documents = backend.create_document(
            content=document_text(props.get("Content"), document_format),
            requires=props.get("Requires"),
            attachments=props.get("Attachments"),
            name=name,
            version_name=props.get("VersionName"),
            document_type=props.get("DocumentType") or "Command",
            document_format=document_format,
            target_type=props.get("TargetType"),
            tags=[{"Key": k, "Value": v} for k, v in _cfn.tag_list_to_dict(props.get("Tags")).items()] or None,
        )
        document = documents.get_default_version()
        document.__class__ = cls
        return document

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Document:
        props = _cfn.props_of(cloudformation_json)
        return cls._create(props.get("Name") or resource_name, props, account_id, region_name)

    @classmethod
    def irlab_update(
        cls, resource: Any, old_props: dict, new_props: dict, logical_id: str, account_id: str, region_name: str
    ) -> Any:
        if old_props.get("Name") != new_props.get("Name") or old_props.get("DocumentType") != new_props.get("DocumentType"):
            raise _cfn.NeedsReplacement()
        backend: SimpleSystemManagerBackend = ssm_backends[account_id][region_name]
        name = resource.name
        content_keys = ("Content", "DocumentFormat", "TargetType", "VersionName", "Attachments", "Requires")
        if any(old_props.get(k) != new_props.get(k) for k in content_keys):
            if (new_props.get("UpdateMethod") or "Replace") == "NewVersion":
                document_format = new_props.get("DocumentFormat") or "JSON"
                described = backend.update_document(
                    content=document_text(new_props.get("Content"), document_format),
                    attachments=new_props.get("Attachments"),
                    name=name,
                    version_name=new_props.get("VersionName"),
                    document_version="$LATEST",
                    document_format=document_format,
                    target_type=new_props.get("TargetType"),
                )
                backend.update_document_default_version(name, described["DocumentVersion"])
                resource = backend._get_documents(name).get_default_version()
                resource.__class__ = cls
            else:
                backend.delete_document(name=name, document_version="", version_name="", force=True)
                return cls._create(name, new_props, account_id, region_name)
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        removed = [k for k in old_tags if k not in new_tags]
        if removed:
            backend.remove_tags_from_resource("Document", name, removed)
        if new_tags:
            backend.add_tags_to_resource("Document", name, new_tags)
        return resource

    @classmethod
    def irlab_delete(cls, resource: Any, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend: SimpleSystemManagerBackend = ssm_backends[account_id][region_name]
        if resource.name in backend._documents:
            backend.delete_document(name=resource.name, document_version="", version_name="", force=True)

    @classmethod
    def irlab_tag(cls, resource: Any, tags: dict[str, str], account_id: str, region_name: str) -> None:
        ssm_backends[account_id][region_name].add_tags_to_resource("Document", resource.name, tags)


# ---------------------------------------------------------------- apply


def stop_all_executions() -> None:
    """Stop every running execution (``POST /moto-api/reset`` does it first)."""
    for regions in list(ssm_backends.values()):
        for backend in list(regions.values()):
            for execution in list(_executions(backend).values()):
                execution.stop_event.set()


def _hook_reset() -> None:
    from moto.moto_api._internal.models import MotoAPIBackend

    if getattr(MotoAPIBackend.reset, "_irlab_ssm_automation", False):
        return
    original_reset = MotoAPIBackend.reset

    def reset(self: Any) -> None:
        stop_all_executions()
        original_reset(self)

    reset._irlab_ssm_automation = True  # type: ignore[attr-defined]
    MotoAPIBackend.reset = reset  # type: ignore[method-assign]


def apply() -> None:
    SimpleSystemManagerBackend.create_document = _create_document  # type: ignore[method-assign]
    SimpleSystemManagerBackend.update_document = _update_document  # type: ignore[method-assign]
    SimpleSystemManagerResponse.start_automation_execution = _response_start  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.get_automation_execution = _response_get  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.describe_automation_executions = _response_describe  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.describe_automation_step_executions = _response_describe_steps  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.stop_automation_execution = _response_stop  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.send_automation_signal = _response_signal  # type: ignore[attr-defined]
    _cfn.register(DocumentHandler)
    _cfn.keep_literal_nulls("AWS::SSM::Document", "Content")
    _clock.apply()
    _hook_reset()
