"""EventBridge Scheduler: one-time schedules fire their target, as on AWS.

moto 5.2.5 stores schedules and groups (Create/Get/Update/Delete/List) but
never invokes a target, accepts any expression, name, time zone or retry
policy, answers 500 for an unknown group, drops ``ActionAfterCompletion`` on
UpdateSchedule, and its CloudFormation knows neither ``AWS::Scheduler::Schedule``
nor ``AWS::Scheduler::ScheduleGroup`` (measured by
``tests/probes/scheduler_budgets_probe.py``).  Here:

* a one-time schedule (``at(yyyy-mm-ddThh:mm:ss)`` in ``ScheduleExpressionTimezone``,
  default UTC) fires once at its time.  The wait from now to that time runs on
  the clock of AWS's own delays (``_clock.now``: compressed by the service
  scale, which follows the wait scale unless set apart), and follows changes of
  scale at once.  AWS invokes "with 60 second precision" (between hh:mm:00 and
  hh:mm:59); the stand-in fires at the time itself.  ``FlexibleTimeWindow``
  ``FLEXIBLE`` lets AWS fire anywhere in the window: the stand-in fires at its
  start.  A time already past fires at once (AWS's pages say nothing about it;
  see emulator/README.md).  Rate and cron schedules are stored, never fired;
* UpdateSchedule replaces the schedule (omitted fields return to their
  defaults, as the API documents) and reschedules it: the old time no longer
  fires.  DeleteSchedule (or DeleteScheduleGroup) before the time cancels it;
  ``State: DISABLED`` does not fire;
* the target is called as the schedule's execution role: EventBridge Scheduler
  assumes ``Target.RoleArn`` as ``scheduler.amazonaws.com`` (trust policy
  evaluated, ``aws:SourceAccount`` = the account, ``aws:SourceArn`` = the
  schedule group's ARN) and calls the target API with the session through the
  stand-in's own API, so ``_iam_enforce`` judges it (resource policies of the
  target play no part).  Templated targets: SQS ``SendMessage`` (``SqsParameters.
  MessageGroupId``), SNS ``Publish``, Lambda ``Invoke`` (asynchronous), Step
  Functions ``StartExecution``, each with ``Input`` as the payload (``{}`` when
  there is none).  Universal targets ``arn:aws:scheduler:::aws-sdk:<service>:<action>``
  (service named as the AWS SDKs name it, action in camelCase, ``Input`` the
  request in PascalCase), e.g. ``aws-sdk:ssm:startAutomationExecution``.
  Context attributes ``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.scheduled-time>``,
  ``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>`` in Input
  are replaced.  The call itself is ``events.call_target`` (EventBridge's);
* a failed invocation is classified as EventBridge's (throttling, 5xx, lost
  connections, timeouts are retried; missing permissions or resources are not)
  and retried with EventBridge's backoff (``events.backoff_delay``, at the wait
  scale) under ``Target.RetryPolicy`` (default 185 retries, 86400 s); then the
  ``Input`` goes to ``Target.DeadLetterConfig`` (sent with the execution role,
  which needs ``sqs:SendMessage`` on the queue) with the attributes
  ``X-Amz-Scheduler-Attempt``, ``-Error-Code``, ``-Error-Message``, ``-Group``,
  ``-Schedule``, ``-Schedule-Arn``, ``-Target-Arn``, or is dropped (WARNING on
  ``irlab_emulator.scheduler``).  An invocation is background work for
  ``GET /moto-api/irlab/idle`` (a schedule waiting for its time is not);
* after a one-time schedule has fired (success or dead letter),
  ``ActionAfterCompletion: DELETE`` deletes it; ``NONE`` (the default) keeps it,
  ``State`` still ``ENABLED`` (the only states are ENABLED and DISABLED);
* validation before moto stores anything (API and CloudFormation): the
  expression (``at(...)`` with a real date and time, ``rate(n unit)``,
  ``cron(six fields)``), the time zone (IANA name), ``FLEXIBLE`` needs
  ``MaximumWindowInMinutes``, Input must be JSON for Lambda and Step Functions
  targets, a universal target must name an operation the AWS SDK has and not a
  read-only one (``get``, ``describe``, ``list``... prefixes), an unknown group is
  ``ResourceNotFoundException`` - all ``ValidationException`` (400) otherwise.
  AWS publishes no messages for these; the stand-in's say what is wrong.  Names,
  lengths, enums and ``RetryPolicy`` ranges are refused by the botocore model
  check (``request_validation``);
* CloudFormation: ``AWS::Scheduler::Schedule`` (Ref: name; GetAtt Arn; updates in
  place, a new ``Name`` or ``GroupName`` replaces it) and
  ``AWS::Scheduler::ScheduleGroup`` (Ref: name; GetAtt Arn; Tags).  The
  resource schema has no ``ActionAfterCompletion``: a template that sets it fails
  as CloudFormation fails an unknown property.
"""

from __future__ import annotations

import copy
import datetime
import heapq
import itertools
import json
import logging
import re
import threading
import uuid
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.scheduler import responses as scheduler_responses
from moto.scheduler.exceptions import ScheduleGroupNotFound, ScheduleNotFound, ValidationException
from moto.scheduler.models import EventBridgeSchedulerBackend, Schedule, scheduler_backends

from . import _cfn, _clock, _local, _runtime, _sdk_models, events

log = logging.getLogger("irlab_emulator.scheduler")

SERVICE_PRINCIPAL = "scheduler.amazonaws.com"
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE_S = 86400

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\(([1-9]\d*) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(\S+( \S+){5}\)$")
_UNIVERSAL = re.compile(r"^arn:aws[a-z-]*:scheduler:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$")
# "EventBridge Scheduler does not support read-only API actions ... that begin with"
# https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html
READ_ONLY_PREFIXES = (
    "get", "describe", "list", "poll", "receive", "search", "scan", "query", "select", "read", "lookup",
    "discover", "validate", "batchGet", "batchDescribe", "batchRead", "transactGet", "adminGet", "adminList",
    "testMigration", "retrieve", "testConnection", "translateDocument", "isAuthorized", "invokeModel",
)  # fmt: skip
_JSON_INPUT_SERVICES = ("lambda", "states", "events")


# --------------------------------------------------------------------------
# validation


def at_time(expression: str | None, timezone: str | None) -> datetime.datetime | None:
    """The UTC time of a one-time schedule (``None`` for rate and cron schedules)."""
    match = _AT.match(expression or "")
    if not match:
        return None
    local = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    return local.replace(tzinfo=_zone(timezone)).astimezone(datetime.timezone.utc)


def _zone(timezone: str | None) -> datetime.tzinfo:
    import zoneinfo

    if not timezone or timezone == "UTC":
        return datetime.timezone.utc
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationException(f"Invalid ScheduleExpressionTimezone {timezone}: not a time zone of the IANA database.") from exc


def _validate(
    expression: str | None, timezone: str | None, window: dict[str, Any] | None, target: dict[str, Any] | None, group: str | None,
    backend: EventBridgeSchedulerBackend,
) -> None:  # fmt: skip
    backend.get_schedule_group(group)  # ResourceNotFoundException (moto: KeyError, 500)
    expression = expression or ""
    _zone(timezone)
    if _AT.match(expression):
        try:
            at_time(expression, timezone)
        except ValueError as exc:
            raise ValidationException(f"Invalid Schedule Expression {expression}: {exc}.") from exc
    elif not (_RATE.match(expression) or _CRON.match(expression)):
        raise ValidationException(
            f"Invalid Schedule Expression {expression}: expected at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields)."
        )
    window = window or {}
    if window.get("Mode") == "FLEXIBLE" and window.get("MaximumWindowInMinutes") is None:
        raise ValidationException("FlexibleTimeWindow.MaximumWindowInMinutes is required when FlexibleTimeWindow.Mode is FLEXIBLE.")
    target = target or {}
    arn = str(target.get("Arn") or "")
    universal = _UNIVERSAL.match(arn)
    if arn.startswith("arn:") and ":scheduler:::aws-sdk:" in arn:
        if not universal:
            raise ValidationException(f"Invalid target ARN {arn}: expected arn:aws:scheduler:::aws-sdk:service:apiAction.")
        service, action = universal.groups()
        if action.startswith(READ_ONLY_PREFIXES):
            raise ValidationException(f"Invalid target ARN {arn}: EventBridge Scheduler does not support the read-only action {action}.")
        if _sdk_models.sfn_operation(service, action) is None:
            raise ValidationException(f"Invalid target ARN {arn}: {service} has no API action {action}.")
        _request(target.get("Input"), arn)  # well-formed JSON
    elif _service_of(arn) in _JSON_INPUT_SERVICES and target.get("Input") is not None:
        try:
            json.loads(target["Input"])
        except ValueError as exc:
            raise ValidationException(f"Target.Input must be well-formed JSON for the target {arn}.") from exc


def _service_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 5 else ""


def _request(text: Any, arn: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text is not None else {}
    except ValueError as exc:
        raise ValidationException(f"Target.Input must be well-formed JSON (the request of {arn}).") from exc
    if not isinstance(value, dict):
        raise ValidationException(f"Target.Input must be a JSON object (the request of {arn}).")
    return value


# --------------------------------------------------------------------------
# the backend: validate, store, (re)schedule


_orig_create = EventBridgeSchedulerBackend.create_schedule
_orig_update = EventBridgeSchedulerBackend.update_schedule


def _create_schedule(self: EventBridgeSchedulerBackend, **kwargs: Any) -> Schedule:
    _validate(
        kwargs.get("schedule_expression"),
        kwargs.get("schedule_expression_timezone"),
        kwargs.get("flexible_time_window"),
        kwargs.get("target"),
        kwargs.get("group_name"),
        self,
    )
    kwargs["action_after_completion"] = kwargs.get("action_after_completion") or "NONE"
    schedule = _orig_create(self, **kwargs)
    _arm(self, schedule)
    return schedule


def _update_schedule(self: EventBridgeSchedulerBackend, action_after_completion: str | None = None, **kwargs: Any) -> Schedule:
    self.get_schedule(kwargs.get("group_name"), kwargs["name"])  # ResourceNotFoundException first
    _validate(
        kwargs.get("schedule_expression"),
        kwargs.get("schedule_expression_timezone"),
        kwargs.get("flexible_time_window"),
        kwargs.get("target"),
        kwargs.get("group_name"),
        self,
    )
    kwargs["state"] = kwargs.get("state") or "ENABLED"
    schedule = _orig_update(self, **kwargs)
    schedule.action_after_completion = action_after_completion or "NONE"
    _arm(self, schedule)
    return schedule


def _response_update_schedule(self: Any) -> str:
    """moto's UpdateSchedule without dropping ActionAfterCompletion."""
    schedule = self.scheduler_backend.update_schedule(
        description=self._get_param("Description"),
        end_date=self._get_param("EndDate"),
        flexible_time_window=self._get_param("FlexibleTimeWindow"),
        group_name=self._get_param("GroupName"),
        kms_key_arn=self._get_param("KmsKeyArn"),
        name=self.uri.split("?")[0].split("/")[-1],
        schedule_expression=self._get_param("ScheduleExpression"),
        schedule_expression_timezone=self._get_param("ScheduleExpressionTimezone"),
        start_date=self._get_param("StartDate"),
        state=self._get_param("State"),
        target=self._get_param("Target"),
        action_after_completion=self._get_param("ActionAfterCompletion"),
    )
    return json.dumps({"ScheduleArn": schedule.arn})


def _delete_schedule_group(self: EventBridgeSchedulerBackend, name: str | None) -> None:
    """Deleting a group deletes its schedules (moto kept them reachable) and
    fails for an unknown group (moto: KeyError, 500)."""
    self.get_schedule_group(name)
    if (name or "default") == "default":
        raise ValidationException("The default schedule group cannot be deleted.")
    self.schedule_groups.pop(name)


# --------------------------------------------------------------------------
# the clock: one thread waits for the next due schedule

_versions = itertools.count(1)
_due: list[tuple[float, int, tuple[str, str, str, str], int, int]] = []  # (deadline, seq, key, version, generation)
_due_lock = threading.Condition()
_timer_started = False
_invocations = _runtime.Worker("scheduler-invocations", threads=4)


def _arm(backend: EventBridgeSchedulerBackend, schedule: Schedule) -> None:
    """(Re)schedule the firing of ``schedule``: a new version makes any earlier
    pending firing of it stale."""
    version = next(_versions)
    schedule.irlab_version = version  # type: ignore[attr-defined]
    schedule.irlab_fired = False  # type: ignore[attr-defined]
    when = at_time(schedule.schedule_expression, schedule.schedule_expression_timezone)
    if when is None or schedule.state != "ENABLED":
        return
    delay = max((when - datetime.datetime.now(datetime.timezone.utc)).total_seconds(), 0.0)
    key = (backend.account_id, backend.region_name, schedule.group_name, schedule.name)
    log.info("schedule %s fires in %.0f s (AWS time, at the service scale)", schedule.arn, delay)
    _start_timer()
    with _due_lock:
        heapq.heappush(_due, (_clock.now() + delay, version, key, version, _runtime.generation()))
        _due_lock.notify_all()


def _start_timer() -> None:
    global _timer_started
    with _due_lock:
        if _timer_started:
            return
        _timer_started = True
    threading.Thread(target=_timer_loop, name="irlab-scheduler-clock", daemon=True).start()


def _timer_loop() -> None:
    while True:
        with _due_lock:
            current = _runtime.generation()
            while _due and _due[0][4] != current:
                heapq.heappop(_due)  # armed before a reset
            if not _due:
                _due_lock.wait(1.0)
                continue
            remaining = _clock.real_until(_due[0][0])
            if remaining > 0:
                _due_lock.wait(min(remaining, 0.25))
                continue
            _, _, key, version, generation = heapq.heappop(_due)
        _invocations.submit(_fire, key, version, generation)


def _current(key: tuple[str, str, str, str], version: int) -> Schedule | None:
    account, region, group, name = key
    backend: EventBridgeSchedulerBackend = scheduler_backends[account][region]
    schedule = backend.schedule_groups.get(group, None)
    schedule = schedule.schedules.get(name) if schedule is not None else None
    if schedule is None or getattr(schedule, "irlab_version", None) != version:
        return None  # deleted, or updated since (its new version has its own firing)
    return schedule


# --------------------------------------------------------------------------
# firing: invoke, retry, dead-letter, delete


def _fire(key: tuple[str, str, str, str], version: int, generation: int) -> None:
    if _runtime.generation() != generation:
        return
    schedule = _current(key, version)
    if schedule is None or schedule.state != "ENABLED" or getattr(schedule, "irlab_fired", False):
        return
    schedule.irlab_fired = True  # type: ignore[attr-defined]
    account, region, group, _ = key
    target = copy.deepcopy(schedule.target)
    scheduled_time = at_time(schedule.schedule_expression, schedule.schedule_expression_timezone)
    execution_id = str(uuid.uuid4())
    policy = target.get("RetryPolicy") or {}
    max_retries = int(policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS))
    max_age = int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_S))
    age = 0.0
    attempt = 0
    payload = ""
    while True:
        attempt += 1
        payload = _payload(target.get("Input"), schedule.arn, scheduled_time, execution_id, attempt)
        try:
            _invoke(schedule.arn, group, account, region, target, payload)
        except events.DeliveryFailure as failure:
            retries = attempt - 1
            delay = events.backoff_delay(retries)
            if not failure.retriable or retries >= max_retries or age + delay >= max_age:
                _dead_letter(schedule.arn, schedule.name, group, account, region, target, payload, attempt, failure)
                break
            log.info("schedule %s: target %s failed (%s), retry %d in %.3f s", schedule.arn, target.get("Arn"), failure.message, attempt, delay)
            age += delay
            _clock.sleep(delay)
            if _runtime.generation() != generation:
                return
        else:
            log.info("schedule %s invoked %s (attempt %d)", schedule.arn, target.get("Arn"), attempt)
            break
    if str(schedule.action_after_completion or "NONE") == "DELETE" and _current(key, version) is schedule:
        scheduler_backends[account][region].schedule_groups[group].schedules.pop(schedule.name, None)
        log.info("schedule %s deleted after completion (ActionAfterCompletion DELETE)", schedule.arn)


def _payload(text: Any, arn: str, when: datetime.datetime | None, execution_id: str, attempt: int) -> str:
    payload = "{}" if text is None else str(text)
    for name, value in (
        ("schedule-arn", arn),
        ("scheduled-time", (when or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("execution-id", execution_id),
        ("attempt-number", str(attempt)),
    ):
        payload = payload.replace(f"<aws.scheduler.{name}>", value)
    return payload


def _credentials(role_arn: str | None, group: str, account: str, region: str) -> _local.Credentials:
    if not role_arn:
        raise events.DeliveryFailure("NO_PERMISSIONS", "the schedule's target has no RoleArn", target_code="AccessDeniedException")
    try:
        return _local.service_credentials(
            role_arn,
            SERVICE_PRINCIPAL,
            session_name=None,
            source_arn=f"arn:aws:scheduler:{region}:{account}:schedule-group/{group}",
            source_account=account,
            region=region,
        )
    except _local.CannotAssume as exc:
        raise events.DeliveryFailure(
            "NO_PERMISSIONS", f"EventBridge Scheduler cannot assume {role_arn}: {exc}", target_code="AccessDeniedException"
        ) from exc


def _invoke(schedule_arn: str, group: str, account: str, region: str, target: dict[str, Any], payload: str) -> None:
    """One call of the target API as the execution role."""
    arn = str(target.get("Arn") or "")
    credentials = _credentials(target.get("RoleArn"), group, account, region)
    universal = _UNIVERSAL.match(arn)
    if universal:
        operation = _sdk_models.sfn_operation(*universal.groups())
        if operation is None:
            raise events.DeliveryFailure("NO_RESOURCE", f"no API action behind {arn}")
        params = _sdk_models.to_boto_request(json.loads(payload), operation.input_shape)
        service = operation.service_model.service_name
        from botocore import xform_name

        events.call_target(service, xform_name(operation.name), params, account, region, credentials)
        return
    parts = arn.split(":")
    if len(parts) < 6:
        raise events.DeliveryFailure("INVALID_PARAMETER", f"the target ARN {arn} is malformed")
    service, target_region, target_account, resource = parts[2], parts[3] or region, parts[4] or account, ":".join(parts[5:])
    if service == "sqs":
        params: dict[str, Any] = {"QueueUrl": f"{_local.endpoint()}/{target_account}/{resource}", "MessageBody": payload}
        group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group_id:
            params["MessageGroupId"] = group_id
        events.call_target("sqs", "send_message", params, target_account, target_region, credentials)
    elif service == "sns":
        events.call_target("sns", "publish", {"TopicArn": arn, "Message": payload}, target_account, target_region, credentials)
    elif service == "lambda":
        params = {"FunctionName": arn, "InvocationType": "Event", "Payload": payload.encode()}
        events.call_target("lambda", "invoke", params, target_account, target_region, credentials)
    elif service == "states":
        params = {"stateMachineArn": arn, "input": payload}
        events.call_target("stepfunctions", "start_execution", params, target_account, target_region, credentials)
    else:
        log.error("schedule %s: the irlab stand-in does not invoke the target %s", schedule_arn, arn)
        raise events.DeliveryFailure("INVALID_PARAMETER", f"the irlab stand-in does not invoke the target {arn}")


def _dead_letter(
    schedule_arn: str, name: str, group: str, account: str, region: str, target: dict[str, Any], payload: str, attempt: int,
    failure: events.DeliveryFailure,
) -> None:  # fmt: skip
    log.warning(
        "schedule %s: invoking %s failed after %d attempt(s): %s", schedule_arn, target.get("Arn"), attempt, failure.message
    )
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not dlq:
        return
    parts = dlq.split(":")
    attributes = {
        "X-Amz-Scheduler-Attempt": ("Number", str(attempt)),
        "X-Amz-Scheduler-Error-Code": ("String", failure.target_code or failure.code),
        "X-Amz-Scheduler-Error-Message": ("String", failure.message[:1024]),
        "X-Amz-Scheduler-Group": ("String", group),
        "X-Amz-Scheduler-Schedule": ("String", name),
        "X-Amz-Scheduler-Schedule-Arn": ("String", schedule_arn),
        "X-Amz-Scheduler-Target-Arn": ("String", str(target.get("Arn") or "")),
    }
    try:
        credentials = _credentials(target.get("RoleArn"), group, account, region)
        events.call_target(
            "sqs",
            "send_message",
            {
                "QueueUrl": f"{_local.endpoint()}/{parts[4]}/{parts[5]}",
                "MessageBody": payload,
                "MessageAttributes": {k: {"DataType": t, "StringValue": v} for k, (t, v) in attributes.items()},
            },
            parts[4],
            parts[3],
            credentials,
        )
    except (events.DeliveryFailure, IndexError) as exc:
        log.warning("schedule %s: could not send to the dead-letter queue %s: %s", schedule_arn, dlq, exc)


# --------------------------------------------------------------------------
# CloudFormation


def _cfn_target(target: Any) -> dict[str, Any]:
    target = copy.deepcopy(target or {})
    if "Input" in target and not isinstance(target["Input"], str):
        target["Input"] = json.dumps(target["Input"])
    policy = target.get("RetryPolicy")
    if isinstance(policy, dict):
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in policy and policy[key] is not None:
                policy[key] = int(policy[key])  # a template's numbers may arrive as text
    return target


def _cfn_window(window: Any) -> dict[str, Any]:
    window = dict(window or {})
    if window.get("MaximumWindowInMinutes") is not None:
        window["MaximumWindowInMinutes"] = int(window["MaximumWindowInMinutes"])
    return window


SCHEDULE_PROPERTIES = {
    "Description", "EndDate", "FlexibleTimeWindow", "GroupName", "KmsKeyArn", "Name", "ScheduleExpression",
    "ScheduleExpressionTimezone", "StartDate", "State", "Target",
}  # fmt: skip


class ScheduleResource(Schedule, CloudFormationModel):
    """AWS::Scheduler::Schedule (Ref: the name; GetAtt Arn)."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::Schedule"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    @staticmethod
    def _props(props: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(props) - SCHEDULE_PROPERTIES)
        if unknown:
            raise ValidationException(f"Encountered unsupported property {unknown[0]}")
        return {
            "description": props.get("Description"),
            "end_date": props.get("EndDate"),
            "flexible_time_window": _cfn_window(props.get("FlexibleTimeWindow")),
            "group_name": props.get("GroupName"),
            "kms_key_arn": props.get("KmsKeyArn"),
            "schedule_expression": props.get("ScheduleExpression"),
            "schedule_expression_timezone": props.get("ScheduleExpressionTimezone"),
            "start_date": props.get("StartDate"),
            "state": props.get("State"),
            "target": _cfn_target(props.get("Target")),
        }

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Schedule:
        props = _cfn.props_of(cloudformation_json)
        backend: EventBridgeSchedulerBackend = scheduler_backends[account_id][region_name]
        schedule = backend.create_schedule(name=resource_name, action_after_completion=None, **cls._props(props))
        schedule.__class__ = cls  # Ref / GetAtt through this class
        return schedule

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def irlab_update(
        cls, schedule: Schedule, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> Schedule:
        for key in ("Name", "GroupName"):
            if old_props.get(key) != new_props.get(key):
                raise _cfn.NeedsReplacement()
        backend: EventBridgeSchedulerBackend = scheduler_backends[account_id][region_name]
        updated = backend.update_schedule(name=schedule.name, **cls._props(new_props))
        updated.__class__ = cls
        return updated

    @classmethod
    def irlab_delete(cls, schedule: Schedule, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend: EventBridgeSchedulerBackend = scheduler_backends[account_id][region_name]
        try:
            backend.delete_schedule(schedule.group_name, schedule.name)
        except (ScheduleNotFound, ScheduleGroupNotFound):  # already gone (after completion, or with its group)
            log.info("schedule %s was already deleted", schedule.arn)


class ScheduleGroupResource(CloudFormationModel):
    """AWS::Scheduler::ScheduleGroup (Ref: the name; GetAtt Arn; Tags)."""

    def __init__(self, group: Any, account_id: str, region_name: str):
        self.group = group
        self.account_id = account_id
        self.region_name = region_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::ScheduleGroup"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    @property
    def physical_resource_id(self) -> str:
        return str(self.group.name)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.group.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> ScheduleGroupResource:
        props = _cfn.props_of(cloudformation_json)
        backend: EventBridgeSchedulerBackend = scheduler_backends[account_id][region_name]
        if resource_name in backend.schedule_groups:
            from moto.scheduler.exceptions import ScheduleExists

            raise ScheduleExists(resource_name)
        tags = [{"Key": k, "Value": v} for k, v in _cfn.tag_list_to_dict(props.get("Tags")).items()]
        return cls(backend.create_schedule_group(resource_name, tags), account_id, region_name)

    @classmethod
    def irlab_update(
        cls, resource: ScheduleGroupResource, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str,
        region_name: str,
    ) -> ScheduleGroupResource:  # fmt: skip
        if old_props.get("Name") != new_props.get("Name"):
            raise _cfn.NeedsReplacement()
        backend: EventBridgeSchedulerBackend = scheduler_backends[account_id][region_name]
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            backend.untag_resource(resource.group.arn, gone)
        if new_tags:
            backend.tag_resource(resource.group.arn, [{"Key": k, "Value": v} for k, v in new_tags.items()])
        return resource

    @classmethod
    def irlab_delete(cls, resource: ScheduleGroupResource, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend: EventBridgeSchedulerBackend = scheduler_backends[account_id][region_name]
        try:
            backend.delete_schedule_group(resource.group.name)
        except ScheduleGroupNotFound:
            log.info("schedule group %s was already deleted", resource.group.name)


def apply() -> None:
    EventBridgeSchedulerBackend.create_schedule = _create_schedule  # type: ignore[method-assign]
    EventBridgeSchedulerBackend.update_schedule = _update_schedule  # type: ignore[method-assign]
    EventBridgeSchedulerBackend.delete_schedule_group = _delete_schedule_group  # type: ignore[method-assign]
    scheduler_responses.EventBridgeSchedulerResponse.update_schedule = _response_update_schedule  # type: ignore[method-assign]
    _cfn.register(ScheduleResource)
    _cfn.register(ScheduleGroupResource)
