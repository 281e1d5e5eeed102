"""EventBridge: rules deliver events to their targets, as in AWS.

moto 5.2.5 answers HTTP 500 on PutEvents when a matching rule has an SNS,
Lambda or Step Functions target, delivers to disabled rules, accepts sources
AWS reserves, and passes unknown pattern operators as "match".  Here:

* ``PutEvents`` (default and custom buses) validates each entry - a
  ``source`` beginning with ``aws.`` fails with
  ``NotAuthorizedForSourceException`` - returns at once and delivers in the
  background, in order (``GET /moto-api/irlab/idle`` waits for the delivery);
* a rule delivers only when its ``State`` is ENABLED and its pattern matches;
  the matcher (moto's ``prefix``/``suffix``/``anything-but``/``numeric``/
  ``exists``/``cidr``/``wildcard``/``equals-ignore-case``/``$or``) also
  reaches into arrays of objects and keeps JSON types apart (``[true]`` does
  not match ``1`` nor ``[1]`` ``true``; ``numeric`` matches numbers only -
  moto compared with Python's ``==``, where ``True == 1``), and PutRule
  refuses unknown operators;
* targets: SQS (``SqsParameters.MessageGroupId``), SNS (the event JSON is the
  message), Lambda (asynchronous invocation through the Lambda runner of
  ``awslambda.py``), Step Functions (``StartExecution`` with the event as
  input), SSM Automation
  (``arn:aws:ssm:REGION:ACCOUNT:automation-definition/NAME[:VERSION]``:
  ``StartAutomationExecution`` with the target's input as the parameters),
  CloudWatch Logs, another event bus; archives and API destinations stay
  moto's.  Step Functions and Automation targets need a ``RoleArn``:
  EventBridge assumes it as ``events.amazonaws.com`` (its trust policy is
  evaluated) and calls the stand-in with the session's credentials, so the
  role's policies are enforced (``states:StartExecution``,
  ``ssm:StartAutomationExecution``, ``iam:PassRole`` of the automation's role);
  a denial is ``NO_PERMISSIONS``;
* target input: ``Input``, ``InputPath``, ``InputTransformer``
  (``InputPathsMap`` + ``InputTemplate``, predefined ``aws.events.*``
  variables; a variable inside a JSON string is inserted as is, elsewhere as
  JSON);
* Lambda, SNS and SQS targets need a resource-based policy that lets
  ``events.amazonaws.com`` invoke/publish/send (conditions on
  ``aws:SourceArn``/``aws:SourceAccount`` are evaluated);
* retries: a retriable failure (the target throttles - 429 or a throttling
  code -, answers 5xx, drops the connection or times out) is retried with
  exponential backoff and full jitter (a delay drawn between 0 and
  min(900 s, 2**retry s)), scaled by the wait scale of ``_clock.py``, until the
  target's ``RetryPolicy.MaximumRetryAttempts`` (default 185) retries are made
  or the event is ``MaximumEventAgeInSeconds`` (default 86400) old - counted
  from PutEvents, the retry delays at the wait scale; failures that need
  someone to act (no permission, no such resource, invalid input) are not
  retried.  While an event waits for its retry, later events to the same
  target (rule and target id) wait behind it, so each target gets its events
  in order; a held retry is pending work for ``GET /moto-api/irlab/idle``;
  ``POST /moto-api/reset`` drops held retries.  PutTargets refuses RetryPolicy
  values out of range (``ValidationException``);
* a permanently failed delivery is logged (logger ``irlab_emulator.events``)
  and sent to the target's ``DeadLetterConfig`` queue with the attributes
  ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE`` (``THROTTLING``,
  ``SDK_CLIENT_ERROR``, ``CONNECTION_FAILURE``, ``TIMEOUT``,
  ``NO_PERMISSIONS``, ``NO_RESOURCE``, ``INVALID_PARAMETER``,
  ``INTERNAL_ERROR``), ``ERROR_MESSAGE``, ``EXHAUSTED_RETRY_CONDITION`` and
  ``RETRY_ATTEMPTS``, or dropped; CloudWatch ``AWS/Events`` (dimension
  ``RuleName``) counts ``FailedInvocations`` (dropped), ``InvocationsSentToDlq``,
  ``InvocationsFailedToBeSentToDlq``, ``Invocations`` (one per event and
  target), ``InvocationAttempts``, ``RetryInvocationAttempts``,
  ``TriggeredRules``;
* test control (stand-in only): ``POST /moto-api/irlab/events/delay`` with
  ``{"seconds": N}`` holds every later event N seconds before its rules
  deliver it (PutEvents still answers at once; order is kept; ``0`` delivers
  at once again; ``GET`` shows the delay; ``POST /moto-api/reset`` sets 0);
* ``TestEventPattern`` answers; ``AWS::Events::Rule`` takes ``EventPattern`` as
  an object, ``State``, ``Targets`` (with ``RoleArn``, ``Input*``,
  ``RetryPolicy``, ``DeadLetterConfig``), ``Tags``; updates in place.
"""

from __future__ import annotations

import collections
import copy
import datetime
import json
import logging
import operator
import random
import re
import threading
import time
import uuid
from typing import Any

from moto.core.utils import unix_time
from moto.events import responses as events_responses
from moto.events.exceptions import InvalidEventPatternException, ValidationException
from moto.events.models import UNDEFINED, EventPattern, EventPatternParser, EventsBackend, Rule, events_backends
from moto.utilities.arns import parse_arn

from . import _cfn, _clock, _local, _policy, _runtime

log = logging.getLogger("irlab_emulator.events")

_delivery = _runtime.Worker("events-delivery", threads=1)

OPERATORS = {
    "prefix",
    "suffix",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "wildcard",
    "equals-ignore-case",
}
NUMERIC_OPERATORS = {"<", "<=", "=", ">=", ">"}


class DeliveryFailure(Exception):
    """A failed target invocation: ``code`` is the dead-letter queue's
    ERROR_CODE; ``retriable`` failures (throttling, 5xx, connection failures,
    timeouts) are retried under the target's RetryPolicy, the others (missing
    permissions, missing resources, invalid input) are not."""

    def __init__(self, code: str, message: str, retriable: bool = False, target_code: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retriable = retriable
        # the target API's own error code ("AccessDeniedException"), when it answered one
        self.target_code = target_code


THROTTLING_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
}
NOT_FOUND_CODES = {
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NotFound",
    "NotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "NotFoundException",
    "StateMachineDoesNotExist",
    "InvalidDocument",
}
PERMISSION_CODES = {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation", "KMSAccessDeniedException"}


def _failure_of(exc: BaseException) -> DeliveryFailure:
    """Classify an exception raised while calling a target the way EventBridge
    does: 429/throttling and 5xx answers, lost connections and timeouts are
    retriable; other 4xx answers are not."""
    from botocore import exceptions as boto

    if isinstance(exc, (boto.ReadTimeoutError, boto.ConnectTimeoutError)):
        return DeliveryFailure("TIMEOUT", f"the target did not answer in time: {exc}", retriable=True)
    if isinstance(exc, (boto.HTTPClientError, boto.ConnectionError)):
        return DeliveryFailure("CONNECTION_FAILURE", f"the connection to the target failed: {exc}", retriable=True)
    code, status, message = "", 0, str(exc)
    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error") or {}
        code = str(error.get("Code") or "")
        status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        message = f"{code}: {error.get('Message') or exc}"
    else:
        from moto.core.exceptions import ServiceException, _RESTError

        if isinstance(exc, _RESTError):  # moto's errors: code = HTTP status
            code = str(getattr(exc, "error_type", "") or "")
            status = int(getattr(exc, "code", 0) or 0)
            message = f"{code}: {getattr(exc, 'message', '') or exc}"
        elif isinstance(exc, ServiceException):  # moto's newer errors: code = the error code
            code = str(exc.code)
            status = 400
            message = f"{code}: {exc.message}"
        else:
            # a failure inside the stand-in itself, not an answer of the target:
            # the same input fails the same way, so it is not retried
            return DeliveryFailure("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
    if code in THROTTLING_CODES or status == 429:
        return DeliveryFailure("THROTTLING", message, retriable=True)
    if status >= 500:
        return DeliveryFailure("SDK_CLIENT_ERROR", message, retriable=True)
    if code in NOT_FOUND_CODES or code.endswith(("NotFound", "NotFoundException", "DoesNotExist")) or status == 404:
        return DeliveryFailure("NO_RESOURCE", message)
    if code in PERMISSION_CODES or status == 403:
        return DeliveryFailure("NO_PERMISSIONS", message)
    return DeliveryFailure("SDK_CLIENT_ERROR", message)


# --------------------------------------------------------------------------
# event patterns


def _validate_filters(key: str, filters: list[Any]) -> None:
    for item in filters:
        if not isinstance(item, dict):
            continue
        if len(item) != 1:
            raise InvalidEventPatternException(
                reason=f"Only one key allowed in match expression for field {key}"
            )
        name, value = next(iter(item.items()))
        if name not in OPERATORS:
            raise InvalidEventPatternException(reason=f"Unrecognized match type {name}")
        if name == "numeric":
            if not isinstance(value, list) or not value or len(value) % 2 or len(value) > 4:
                raise InvalidEventPatternException(reason="Value of numeric must be an array.")
            for op, number in zip(value[::2], value[1::2], strict=False):
                if op not in NUMERIC_OPERATORS:
                    raise InvalidEventPatternException(reason=f"Unrecognized numeric range operator: {op}")
                if isinstance(number, bool) or not isinstance(number, (int, float)):
                    raise InvalidEventPatternException(reason=f"Value of {op} must be numeric")
        elif name == "exists" and not isinstance(value, bool):
            raise InvalidEventPatternException(reason="exists match pattern must be either true or false.")
        elif name in ("prefix", "suffix") and not isinstance(value, (str, dict)):
            raise InvalidEventPatternException(reason=f"{name} match pattern must be a string.")


_orig_validate = EventPatternParser._validate_event_pattern


def _validate_event_pattern(self: EventPatternParser, pattern: dict[str, Any]) -> None:
    _orig_validate(self, pattern)
    for key, value in pattern.items():
        if key == "$or" and isinstance(value, list):
            for alternative in value:
                if isinstance(alternative, dict):
                    _validate_event_pattern(self, alternative)
        elif isinstance(value, dict):
            _validate_event_pattern(self, value)
        elif isinstance(value, list):
            _validate_filters(key, value)


def _add_leaf(result: dict[str, Any], key: str, value: Any, merge: bool) -> None:
    if not merge or key not in result:
        result[key] = value
        return
    existing = result[key]
    merged = list(existing) if isinstance(existing, list) else [existing]
    merged.extend(value if isinstance(value, list) else [value])
    result[key] = merged


def _flatten_dict(node: Any, prefix: str = "", result: dict[str, Any] | None = None, merge: bool = False) -> dict[str, Any]:
    """Leaf paths of an event; the leaves inside arrays of objects become
    arrays of their values (a pattern field matches if any element does)."""
    if result is None:
        result = {}
    if isinstance(node, dict):
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict) and v:
                _flatten_dict(v, key, result, merge)
            elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
                for element in v:
                    if isinstance(element, dict):
                        _flatten_dict(element, key, result, True)
                    else:
                        _add_leaf(result, key, element, True)
            else:
                _add_leaf(result, key, v, merge)
    return result


def _same_value(a: Any, b: Any) -> bool:
    """JSON equality: true/false are not the numbers 1/0 (Python's ``True == 1``
    and ``isinstance(True, int)`` made moto match them)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _does_item_match_filters(self: EventPattern, item: Any, filters: list[Any]) -> bool:
    for f in filters:
        if isinstance(f, (str, bool, int, float)) or f is None:
            if item is UNDEFINED:
                continue
            values = item if isinstance(item, list) else [item]
            if any(_same_value(v, f) for v in values):
                return True
        elif isinstance(f, dict) and EventPattern._does_item_match_named_filter(item, f):
            return True
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_NUMERIC = {"<": operator.lt, "<=": operator.le, "=": operator.eq, ">=": operator.ge, ">": operator.gt}
_orig_named_filter = EventPattern._does_item_match_named_filter


def _does_item_match_named_filter(item: Any, pattern: dict[str, Any]) -> bool:
    """``numeric`` matches JSON numbers only; ``anything-but`` with values
    excludes only values of the same JSON type; the rest is moto's."""
    name, value = next(iter(pattern.items()))
    if item is UNDEFINED or name not in ("numeric", "anything-but") or (name == "anything-but" and isinstance(value, dict)):
        return _orig_named_filter(item, pattern)
    values = item if isinstance(item, list) else [item]
    if name == "numeric":
        pairs = list(zip(value[::2], value[1::2], strict=False))
        return any(_is_number(v) and all(_NUMERIC[op](v, bound) for op, bound in pairs) for v in values)
    excluded = value if isinstance(value, list) else [value]
    return any(not any(_same_value(v, e) for e in excluded) for v in values)


# --------------------------------------------------------------------------
# PutEvents


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_time(raw: Any) -> str:
    if raw in (None, ""):
        return _iso(datetime.datetime.now(datetime.timezone.utc))
    if isinstance(raw, (int, float)):
        return _iso(datetime.datetime.fromtimestamp(float(raw), datetime.timezone.utc))
    try:
        return _iso(datetime.datetime.fromisoformat(str(raw).replace("Z", "+00:00")))
    except ValueError:
        try:
            return _iso(datetime.datetime.fromtimestamp(float(raw), datetime.timezone.utc))
        except ValueError:
            return str(raw)


def _entry_error(entry: dict[str, Any]) -> dict[str, str] | None:
    source = entry.get("Source")
    if not source:
        return {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    if not entry.get("DetailType"):
        return {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter DetailType is not valid. Reason: DetailType is a required argument."}
    if not entry.get("Detail"):
        return {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required argument."}
    if str(source).lower().startswith("aws."):
        return {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    if not isinstance(detail, dict):
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    return None


def _put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(events) > 10:
        raise ValidationException(
            "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy "
            "constraint: Member must have length less than or equal to 10"
        )
    results: list[dict[str, Any]] = []
    for entry in events:
        error = _entry_error(entry)
        if error:
            results.append(error)
            continue
        bus_name = self._normalize_event_bus_arn(entry.get("EventBusName"))
        self.describe_event_bus(bus_name)  # ResourceNotFoundException for an unknown bus
        event_id = str(uuid.uuid4())
        event = {
            "version": "0",
            "id": event_id,
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": self.account_id,
            "time": _event_time(entry.get("Time")),
            "region": self.region_name,
            "resources": list(entry.get("Resources") or []),
            "detail": json.loads(entry["Detail"]),
        }
        results.append({"EventId": event_id})
        submit(self.account_id, self.region_name, bus_name, event)
    return results


def submit(account_id: str, region_name: str, bus_name: str, event: dict[str, Any], delayed: bool = True) -> None:
    """Queue ``event`` (an EventBridge event envelope) for delivery on a bus,
    held back by the delivery delay (see :func:`set_delivery_delay`) unless
    ``delayed`` is false (an event forwarded from another bus, already held)."""
    ingestion = _iso(datetime.datetime.now(datetime.timezone.utc))
    delay = _delivery_delay if delayed else 0.0
    if delay > 0:
        due = time.monotonic() + delay
        _delivery.submit(_deliver_when_due, due, _runtime.generation(), account_id, region_name, bus_name, event, ingestion)
    else:
        _delivery.submit(deliver, account_id, region_name, bus_name, event, ingestion)


# --------------------------------------------------------------------------
# delivery delay (test control: POST /moto-api/irlab/events/delay)

_delivery_delay = 0.0
MAX_DELIVERY_DELAY_S = 3600.0


def delivery_delay() -> float:
    return _delivery_delay


def set_delivery_delay(seconds: float) -> None:
    """Hold every later event ``seconds`` before its rules deliver it (0: at once)."""
    global _delivery_delay
    _delivery_delay = float(seconds)


def _deliver_when_due(due: float, generation: int, *args: Any) -> None:
    # The delivery worker has one thread: events wait in the order they came,
    # so holding each until its own due time keeps their order.
    while True:
        if _runtime.generation() != generation:
            log.info("event %s: dropped (the stand-in was reset while it was held)", args[3].get("id"))
            return
        remaining = due - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(remaining, 0.05))
    deliver(*args)


def _delay_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """``GET``/``POST /moto-api/irlab/events/delay`` (``{"seconds": N}``)."""
    json_headers = {"Content-Type": "application/json"}
    if request.method == "POST":
        try:
            length = int(headers.get("Content-Length") or 0)
            body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(body, dict) or "seconds" not in body:
                raise ValueError('expected {"seconds": <number>}')
            seconds = body["seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ValueError('"seconds" must be a number')
            if not 0 <= seconds <= MAX_DELIVERY_DELAY_S:
                raise ValueError(f'"seconds" must be between 0 and {MAX_DELIVERY_DELAY_S:g}')
        except (TypeError, ValueError) as exc:
            return 400, json_headers, json.dumps({"message": str(exc)})
        set_delivery_delay(float(seconds))
        log.info("EventBridge deliveries are now held %s s", seconds)
    elif request.method != "GET":
        return 405, json_headers, json.dumps({"message": "use GET or POST"})
    return 200, json_headers, json.dumps({"seconds": _delivery_delay})


def deliver(
    account_id: str, region_name: str, bus_name: str, event: dict[str, Any], ingestion_time: str, ingested: float | None = None
) -> None:
    """Match ``event`` against the bus's rules and send it to their targets
    (``ingested``: ``time.monotonic()`` when the event was put - its age)."""
    backend: EventsBackend = events_backends[account_id][region_name]
    bus = backend.event_buses.get(bus_name)
    if bus is None:
        log.warning("event %s: event bus %s no longer exists", event.get("id"), bus_name)
        return
    if ingested is None:
        ingested = time.monotonic()
    matched = False
    for rule in list(bus.rules.values()):
        if not str(rule.state or "ENABLED").startswith("ENABLED"):
            continue
        if not rule.event_pattern.get_pattern() or not rule.event_pattern.matches_event(event):
            continue
        matched = True
        _metric(account_id, region_name, "TriggeredRules", rule.name)
        for target in list(rule.targets):
            _invoke_target(backend, rule, target, event, ingestion_time, ingested)
    if matched:
        _metric(account_id, region_name, "MatchedEvents", None)


# --------------------------------------------------------------------------
# target invocations, retries (RetryPolicy) and dead-letter queues

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE_S = 86400
# Exponential backoff with "full jitter" (each delay drawn between 0 and
# min(cap, base * 2**retry), in document seconds, scaled by the wait scale):
# with the default policy 185 retries take about the 24 hours AWS names.
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 900.0
_jitter = random.Random()


class _Invocation:
    """One event on its way to one target (the unit that is retried)."""

    def __init__(
        self, backend: EventsBackend, rule: Rule, target: dict[str, Any], event: dict[str, Any], ingestion_time: str, ingested: float
    ):
        self.backend = backend
        self.rule = rule
        self.target = target
        self.event = event
        self.ingestion_time = ingestion_time
        self.ingested = ingested
        self.generation = _runtime.generation()
        self.key = (backend.account_id, backend.region_name, rule.arn, str(target.get("Id")))
        self.attempts = 0
        self.age_s: float | None = None  # document seconds, set at the first attempt
        self.due = 0.0  # time.monotonic() of the next attempt (0: at its turn)
        self.expires = False  # the next "attempt" is the end of MaximumEventAgeInSeconds
        self.failure: DeliveryFailure | None = None


def _retry_policy(target: dict[str, Any]) -> tuple[int, int]:
    policy = target.get("RetryPolicy") or {}
    attempts = policy.get("MaximumRetryAttempts")
    age = policy.get("MaximumEventAgeInSeconds")
    return (
        DEFAULT_MAXIMUM_RETRY_ATTEMPTS if attempts is None else int(attempts),
        DEFAULT_MAXIMUM_EVENT_AGE_S if age is None else int(age),
    )


def _invoke_target(
    backend: EventsBackend, rule: Rule, target: dict[str, Any], event: dict[str, Any], ingestion_time: str, ingested: float
) -> None:
    invocation = _Invocation(backend, rule, target, event, ingestion_time, ingested)
    with _held_lock:
        waiting = _held.get(invocation.key)
        if waiting is not None:
            # an earlier event to this target is waiting for its retry: keep
            # the target's order, this one goes after it
            waiting.append(invocation)
            return
    if _attempt(invocation) == "retry":
        _hold(invocation)


def _attempt(invocation: _Invocation) -> str:
    """Invoke the target once: "ok", "failed" (dead-lettered or dropped) or
    "retry" (``due`` says when)."""
    rule, target, event, backend = invocation.rule, invocation.target, invocation.event, invocation.backend
    account, region = backend.account_id, backend.region_name
    now = time.monotonic()
    if invocation.age_s is None:
        invocation.age_s = max(0.0, now - invocation.ingested)
    invocation.attempts += 1
    _metric(account, region, "InvocationAttempts", rule.name)
    if invocation.attempts > 1:
        _metric(account, region, "RetryInvocationAttempts", rule.name)
    try:
        payload = render_input(target, event, rule, invocation.ingestion_time)
        _send(backend, rule, target, event, payload)
    except DeliveryFailure as failure:
        invocation.failure = failure
    except Exception as exc:  # noqa: BLE001 - every failure must be visible
        log.debug("delivery error", exc_info=True)
        invocation.failure = _failure_of(exc)
    else:
        _metric(account, region, "Invocations", rule.name)
        return "ok"
    failure = invocation.failure
    retries = invocation.attempts - 1
    max_retries, max_age = _retry_policy(target)
    if not failure.retriable:
        _failed(invocation, "MaximumRetryAttempts")
        return "failed"
    if retries >= max_retries:
        _failed(invocation, "MaximumRetryAttempts")
        return "failed"
    if invocation.age_s >= max_age:
        _failed(invocation, "MaximumEventAgeInSeconds")
        return "failed"
    delay = backoff_delay(retries)
    if invocation.age_s + delay >= max_age:
        # no retry left before the event is too old: it waits out its age
        delay = max_age - invocation.age_s
        invocation.expires = True
    invocation.age_s += delay
    invocation.due = now + _clock.seconds(delay)
    log.info(
        "rule %s: event %s to target %s failed (%s: %s), retry %d in %.3f s (document time)%s",
        rule.arn,
        event.get("id"),
        target.get("Id"),
        failure.code,
        failure.message,
        retries + 1,
        delay,
        ", when the event reaches MaximumEventAgeInSeconds" if invocation.expires else "",
    )
    return "retry"


def _failed(invocation: _Invocation, condition: str) -> None:
    """A permanent failure: to the dead-letter queue, or dropped (counted in
    FailedInvocations)."""
    rule, target, event = invocation.rule, invocation.target, invocation.event
    failure = invocation.failure or DeliveryFailure("UNKNOWN", "unknown failure")
    retries = max(0, invocation.attempts - 1)
    log.warning(
        "rule %s: delivery of event %s to target %s (%s) failed after %d retries: %s: %s",
        rule.arn,
        event.get("id"),
        target.get("Id"),
        target.get("Arn"),
        retries,
        failure.code,
        failure.message,
    )
    account, region = invocation.backend.account_id, invocation.backend.region_name
    _metric(account, region, "Invocations", rule.name)
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not dlq:
        _metric(account, region, "FailedInvocations", rule.name)
        return
    try:
        arn = parse_arn(dlq)
        from moto.sqs.models import sqs_backends

        queue_backend = sqs_backends[arn.account or account][arn.region or region]
        queue = queue_backend.get_queue(arn.resource_id)
        _require_policy(queue.policy, "sqs:SendMessage", rule, f"queue {dlq}")
        attributes = {
            "RULE_ARN": rule.arn,
            "TARGET_ARN": target.get("Arn", ""),
            "ERROR_CODE": failure.code,
            "ERROR_MESSAGE": failure.message[:256],
            "EXHAUSTED_RETRY_CONDITION": condition,
            "RETRY_ATTEMPTS": str(retries),
        }
        queue_backend.send_message(
            queue_name=arn.resource_id,
            message_body=json.dumps(event, separators=(",", ":")),
            message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
        _metric(account, region, "InvocationsSentToDlq", rule.name)
    except Exception as exc:  # noqa: BLE001
        log.warning("rule %s: could not send event %s to the dead-letter queue %s: %s", rule.arn, event.get("id"), dlq, exc)
        _metric(account, region, "InvocationsFailedToBeSentToDlq", rule.name)
        _metric(account, region, "FailedInvocations", rule.name)


# Per target (account, Region, rule ARN, target id): the invocation waiting
# for its retry first, the later events to that target behind it.  One
# "events-retry" task runs while any target waits, so that ``GET
# /moto-api/irlab/idle`` counts held retries as pending work.
_held: dict[tuple[str, str, str, str], collections.deque[_Invocation]] = {}
_held_lock = threading.Condition()
_retry_worker = _runtime.Worker("events-retry", threads=1)
_retry_task: tuple[bool, int] = (False, -1)  # (submitted and not finished, generation at submit)


def _hold(invocation: _Invocation) -> None:
    global _retry_task
    with _held_lock:
        if invocation.generation != _runtime.generation():
            return  # the stand-in was reset meanwhile
        _held.setdefault(invocation.key, collections.deque()).appendleft(invocation)
        running, generation = _retry_task
        # a task submitted before a reset may have been dropped by the worker:
        # submit another (an extra one finds nothing to do and ends)
        if not running or generation != _runtime.generation():
            _retry_task = (True, _runtime.generation())
            _retry_worker.submit(_retry_loop)
        _held_lock.notify_all()


def _retry_loop() -> None:
    global _retry_task
    while True:
        with _held_lock:
            current = _runtime.generation()
            for key in [k for k, waiting in _held.items() if waiting[0].generation != current]:
                log.info("dropped %d held deliveries to target %s (the stand-in was reset)", len(_held[key]), key[3])
                del _held[key]
            if not _held:
                _retry_task = (False, -1)
                return
            now = time.monotonic()
            ready = [key for key, waiting in _held.items() if waiting[0].due <= now]
            if not ready:
                _held_lock.wait(min(min(w[0].due for w in _held.values()) - now, 0.25))
                continue
        for key in ready:
            _advance(key)


def _advance(key: tuple[str, str, str, str]) -> None:
    """Retry the head of one target's queue (or let it expire); when it is
    done, the next event to that target gets its first attempt."""
    with _held_lock:
        waiting = _held.get(key)
        if not waiting:
            return
        invocation = waiting[0]
    if invocation.expires:
        _failed(invocation, "MaximumEventAgeInSeconds")
        outcome = "failed"
    else:
        outcome = _attempt(invocation)
    with _held_lock:
        waiting = _held.get(key)
        if outcome == "retry" or not waiting or waiting[0] is not invocation:
            return
        waiting.popleft()
        if not waiting:
            del _held[key]


def _drop_held() -> None:
    with _held_lock:
        _held.clear()
        _held_lock.notify_all()


def held() -> int:
    """Invocations waiting for a retry or behind one."""
    with _held_lock:
        return sum(len(w) for w in _held.values())


def _metric(account_id: str, region_name: str, name: str, rule_name: str | None) -> None:
    try:
        from moto.cloudwatch.models import cloudwatch_backends

        datum: dict[str, Any] = {
            "MetricName": name,
            "Value": 1.0,
            "Unit": "Count",
        }
        if rule_name:
            datum["Dimensions"] = [{"Name": "RuleName", "Value": rule_name}]
        cloudwatch_backends[account_id][region_name].put_metric_data("AWS/Events", [datum])
    except Exception:  # noqa: BLE001 - metrics must never break delivery
        log.debug("could not record metric %s", name, exc_info=True)


# --------------------------------------------------------------------------
# target input


def _jsonpath(path: str, data: Any) -> tuple[bool, Any]:
    from jsonpath_ng.ext import parse

    try:
        matches = parse(path).find(data)
    except Exception as exc:  # noqa: BLE001
        raise DeliveryFailure("INVALID_PARAMETER", f"Invalid JSON path {path}: {exc}") from exc
    if not matches:
        return False, None
    if len(matches) == 1 and "*" not in path:
        return True, matches[0].value
    return True, [m.value for m in matches]


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def _transform(transformer: dict[str, Any], event: dict[str, Any], rule: Rule, ingestion_time: str) -> str:
    template = transformer.get("InputTemplate")
    if template is None:
        return json.dumps(event, separators=(",", ":"))
    values: dict[str, Any] = {}
    missing: set[str] = set()
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        found, value = _jsonpath(path, event)
        if found:
            values[name] = value
        else:
            missing.add(name)
    values.update(
        {
            "aws.events.rule-arn": rule.arn,
            "aws.events.rule-name": rule.name,
            "aws.events.event.ingestion-time": ingestion_time,
            "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
            "aws.events.event.json": event,
        }
    )
    is_json = template.lstrip()[:1] in ("{", "[", '"')
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        ch = template[i]
        if is_json and ch == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if is_json and ch == '"':
            in_string = not in_string
            out.append(ch)
            i += 1
            continue
        if ch == "<":
            match = _PLACEHOLDER.match(template, i)
            if match and (match.group(1) in values or match.group(1) in missing):
                name = match.group(1)
                value = values.get(name)
                if not is_json or in_string:
                    out.append("" if name in missing else (value if isinstance(value, str) else json.dumps(value)))
                else:
                    out.append("null" if name in missing else json.dumps(value))
                i = match.end()
                continue
        out.append(ch)
        i += 1
    text = "".join(out)
    if is_json:
        try:
            return json.dumps(json.loads(text), separators=(",", ":"))
        except ValueError:
            return text
    return text


def render_input(target: dict[str, Any], event: dict[str, Any], rule: Rule, ingestion_time: str = "") -> str:
    """What EventBridge sends to ``target`` for ``event`` (text)."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        found, value = _jsonpath(target["InputPath"], event)
        return json.dumps(value if found else None, separators=(",", ":"))
    if target.get("InputTransformer"):
        return _transform(target["InputTransformer"], event, rule, ingestion_time)
    return json.dumps(event, separators=(",", ":"))


# --------------------------------------------------------------------------
# resource-based policies


def policy_allows(policy: Any, action: str, rule: Rule, resource: str = "*") -> bool:
    """Whether a resource policy lets EventBridge (for ``rule``) do ``action``
    on ``resource`` (raises ``_policy.Unevaluable``)."""
    context = {
        "aws:SourceArn": rule.arn,
        "aws:SourceAccount": rule.account_id,
        "aws:SecureTransport": "true",
    }
    return _policy.service_allows(policy, action, "events.amazonaws.com", context, resource)


def _require_policy(policy: Any, action: str, rule: Rule, what: str, resource: str = "*") -> None:
    try:
        allowed = policy_allows(policy, action, rule, resource)
    except _policy.Unevaluable as exc:
        log.error("rule %s: cannot evaluate the resource-based policy of %s: %s", rule.arn, what, exc)
        raise DeliveryFailure("INTERNAL_ERROR", f"the irlab stand-in cannot evaluate the resource-based policy of {what}: {exc}") from exc
    if not allowed:
        raise DeliveryFailure(
            "NO_PERMISSIONS",
            f"EventBridge is not authorized to perform {action} on {what}: its resource-based policy "
            f"does not allow the service principal events.amazonaws.com for rule {rule.arn}",
        )


# --------------------------------------------------------------------------
# targets


def _send(backend: EventsBackend, rule: Rule, target: dict[str, Any], event: dict[str, Any], payload: str) -> None:
    arn_text = target["Arn"]
    arn = parse_arn(arn_text)
    account = arn.account or backend.account_id
    region = arn.region or backend.region_name
    if arn.service == "sqs":
        _send_sqs(rule, target, account, region, arn.resource_id, payload)
    elif arn.service == "sns":
        _send_sns(rule, account, region, arn_text, payload)
    elif arn.service == "lambda":
        _send_lambda(rule, account, region, arn_text, payload)
    elif arn.service == "states":
        _send_stepfunctions(rule, target, arn_text, payload, account, region)
    elif arn.service == "ssm" and arn.resource_type == "automation-definition":
        _send_automation(rule, target, account, region, arn.resource_id, payload)
    elif arn.service == "logs" and arn.resource_type == "log-group":
        _send_logs(account, region, arn.resource_id, payload)
    elif arn.service == "events" and arn.resource_type == "event-bus":
        bus = arn.resource_id
        if bus not in events_backends[account][region].event_buses:
            raise DeliveryFailure("NO_RESOURCE", f"Event bus {bus} does not exist.")
        submit(account, region, bus, copy.deepcopy(event), delayed=False)
    else:
        _send_with_moto(rule, target, event)


def _send_sqs(rule: Rule, target: dict[str, Any], account: str, region: str, queue_name: str, payload: str) -> None:
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[account][region]
    try:
        queue = backend.get_queue(queue_name)
    except QueueDoesNotExist as exc:
        raise DeliveryFailure("NO_RESOURCE", f"Queue {queue_name} does not exist.") from exc
    _require_policy(queue.policy, "sqs:SendMessage", rule, f"queue {queue_name}", queue.queue_arn)
    group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
    kwargs: dict[str, Any] = {}
    if queue.fifo_queue:
        if not group_id:
            raise DeliveryFailure("INVALID_PARAMETER", "A FIFO queue target needs SqsParameters.MessageGroupId")
        if str(queue.content_based_deduplication).lower() != "true":
            raise DeliveryFailure(
                "InvalidParameter",
                "To let EventBridge send messages to an SQS FIFO queue, enable content-based deduplication.",
            )
        kwargs["group_id"] = group_id
    backend.send_message(queue_name=queue_name, message_body=payload, **kwargs)


def _send_sns(rule: Rule, account: str, region: str, topic_arn: str, payload: str) -> None:
    from moto.sns.exceptions import TopicNotFound
    from moto.sns.models import sns_backends

    backend = sns_backends[account][region]
    try:
        topic = backend.get_topic(topic_arn)
    except TopicNotFound as exc:
        raise DeliveryFailure("NO_RESOURCE", f"Topic {topic_arn} does not exist.") from exc
    _require_policy(topic.policy, "sns:Publish", rule, f"topic {topic_arn}", topic_arn)
    backend.publish(payload, arn=topic_arn)


def _send_lambda(rule: Rule, account: str, region: str, function_arn: str, payload: str) -> None:
    from moto.awslambda.models import lambda_backends

    from . import awslambda

    try:
        fn = lambda_backends[account][region].get_function(function_arn)
    except Exception as exc:  # noqa: BLE001 - UnknownFunctionException and friends
        raise DeliveryFailure("NO_RESOURCE", f"Function not found: {function_arn}") from exc
    statements = getattr(fn.policy, "statements", [])
    _require_policy(
        {"Version": "2012-10-17", "Statement": statements} if statements else None,
        "lambda:InvokeFunction",
        rule,
        f"function {function_arn}",
        fn.function_arn,
    )
    try:
        event: Any = json.loads(payload)
    except ValueError:
        event = payload
    if awslambda.runs_locally(fn):
        awslambda.invoke_async(fn, event)
    else:
        fn.invoke(json.dumps(event), {"x-amz-invocation-type": "Event"}, {})


_clients: dict[tuple[str, str, str, str], Any] = {}
_clients_lock = threading.Lock()


def _client(service: str, region: str, account: str, credentials: _local.Credentials | None = None) -> Any:
    """A boto3 client of the stand-in (no SDK retries: EventBridge's own
    RetryPolicy retries), kept per service, Region, account and session."""
    key = (_local.endpoint(), service, region, account, credentials.access_key if credentials else "")
    with _clients_lock:
        client = _clients.get(key)
    if client is None:
        client = _local.client(service, region, account, credentials=credentials)
        with _clients_lock:
            _clients.setdefault(key, client)
    return client


def _require_role(rule: Rule, target: dict[str, Any]) -> _local.Credentials:
    """The credentials of the target's role, as EventBridge gets them: it
    assumes ``RoleArn`` as ``events.amazonaws.com`` (the trust policy must
    allow it; ``aws:SourceArn`` = the rule, ``aws:SourceAccount`` = its
    account), and calls the target's API with them, so the role's policies
    decide ("Using IAM roles to ... targets",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html).
    A missing role or a trust policy that does not allow EventBridge is a
    ``NO_PERMISSIONS`` failure, not retried."""
    role_arn = target.get("RoleArn")
    if not role_arn:
        raise DeliveryFailure(
            "NO_PERMISSIONS",
            f"target {target.get('Id')} of rule {rule.arn} has no RoleArn: EventBridge needs a role to call {target['Arn']}",
        )
    try:
        return _local.service_credentials(
            role_arn,
            "events.amazonaws.com",
            session_name=None,
            source_arn=rule.arn,
            source_account=rule.account_id,
            region=rule.region_name,
        )
    except _local.CannotAssume as exc:
        raise DeliveryFailure("NO_PERMISSIONS", f"EventBridge cannot assume {role_arn}: {exc}") from exc


def call_target(
    service: str, operation: str, params: dict[str, Any], account: str, region: str, credentials: _local.Credentials | None
) -> Any:
    """Call ``operation`` (a boto3 method name) of the stand-in's ``service`` API
    as a role session, the way EventBridge (and EventBridge Scheduler,
    ``scheduler.py``) call a target; a failure is a :class:`DeliveryFailure`
    classified as retriable or not, with the target's own error code."""
    try:
        return getattr(_client(service, region, account, credentials), operation)(**params)
    except Exception as exc:  # noqa: BLE001 - classified: retriable or not
        failure = _failure_of(exc)
        code = str(((getattr(exc, "response", None) or {}).get("Error") or {}).get("Code") or "")
        raise DeliveryFailure(failure.code, failure.message, failure.retriable, code) from exc


def backoff_delay(retries: int) -> float:
    """Document seconds before retry ``retries + 1``: exponential backoff with
    full jitter, between 0 and min(900 s, 2**retries s)."""
    return _jitter.uniform(0.0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**retries))


def _send_stepfunctions(rule: Rule, target: dict[str, Any], arn: str, payload: str, account: str, region: str) -> None:
    credentials = _require_role(rule, target)
    call_target("stepfunctions", "start_execution", {"stateMachineArn": arn, "input": payload}, account, region, credentials)


def automation_parameters(payload: str) -> dict[str, list[str]]:
    """The target input of an SSM Automation target is the automation's
    parameters: a JSON object of parameter name -> string or list of strings."""
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise DeliveryFailure("INVALID_PARAMETER", f"the input of an SSM Automation target must be a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise DeliveryFailure("INVALID_PARAMETER", "the input of an SSM Automation target must be a JSON object")
    params: dict[str, list[str]] = {}
    for name, item in value.items():
        items = item if isinstance(item, list) else [item]
        params[name] = [x if isinstance(x, str) else json.dumps(x) for x in items]
    return params


def _send_automation(rule: Rule, target: dict[str, Any], account: str, region: str, resource: str, payload: str) -> None:
    credentials = _require_role(rule, target)
    name, _, version = resource.partition(":")
    request: dict[str, Any] = {"DocumentName": name, "Parameters": automation_parameters(payload)}
    if version and version != "$DEFAULT":
        request["DocumentVersion"] = version
    call_target("ssm", "start_automation_execution", request, account, region, credentials)


def _send_logs(account: str, region: str, group: str, payload: str) -> None:
    from moto.core.utils import unix_time_millis
    from moto.logs.models import logs_backends

    backend = logs_backends[account][region]
    if group not in backend.groups:
        raise DeliveryFailure("NO_RESOURCE", f"Log group {group} does not exist.")
    stream = str(uuid.uuid4())
    backend.create_log_stream(group, stream)
    backend.put_log_events(group, stream, [{"timestamp": int(unix_time_millis()), "message": payload}])


def _send_with_moto(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    """Archives, API destinations: moto's own delivery, one target at a time."""
    single = copy.copy(rule)
    single.targets = [target]
    single.event_pattern = EventPattern(None, {})
    moto_event = copy.deepcopy(event)
    moto_event["time"] = unix_time()
    moto_event["ingestion-time"] = unix_time()
    try:
        single.send_to_targets(moto_event)
    except NotImplementedError as exc:
        raise DeliveryFailure("INVALID_PARAMETER", f"the stand-in does not deliver to {target['Arn']}") from exc


# --------------------------------------------------------------------------
# PutTargets


RETRY_POLICY_RANGES = {"MaximumRetryAttempts": (0, 185), "MaximumEventAgeInSeconds": (60, 86400)}
_orig_put_targets = EventsBackend.put_targets


def _put_targets(self: EventsBackend, name: str, event_bus_arn: str | None, targets: list[dict[str, Any]]) -> None:
    """RetryPolicy values outside their ranges fail the request, as in AWS
    (moto stored them)."""
    errors = []
    for index, target in enumerate(targets, start=1):
        for key, (low, high) in RETRY_POLICY_RANGES.items():
            value = (target.get("RetryPolicy") or {}).get(key)
            if value is None:
                continue
            member = f"targets.{index}.member.retryPolicy.{key[0].lower()}{key[1:]}"
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append(f"Value '{value}' at '{member}' failed to satisfy constraint: Member must be an integer")
            elif value < low:
                errors.append(
                    f"Value '{value}' at '{member}' failed to satisfy constraint: "
                    f"Member must have value greater than or equal to {low}"
                )
            elif value > high:
                errors.append(
                    f"Value '{value}' at '{member}' failed to satisfy constraint: "
                    f"Member must have value less than or equal to {high}"
                )
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        raise ValidationException(f"{len(errors)} validation {noun} detected: " + "; ".join(errors))
    _orig_put_targets(self, name, event_bus_arn, targets)


# --------------------------------------------------------------------------
# TestEventPattern


TEST_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


def _response_test_event_pattern(self: Any) -> str:
    pattern = EventPattern.load(self._get_param("EventPattern"))
    try:
        event = json.loads(self._get_param("Event") or "")
    except ValueError as exc:
        raise ValidationException("Parameter Event is not valid.") from exc
    if not isinstance(event, dict) or any(f not in event for f in TEST_EVENT_FIELDS):
        raise ValidationException(
            "Parameter Event is not valid. Reason: Provided Event must have the fields "
            + ", ".join(TEST_EVENT_FIELDS)
        )
    return json.dumps({"Result": pattern.matches_event(event)})


# --------------------------------------------------------------------------
# CloudFormation


def _pattern_text(pattern: Any) -> str | None:
    if pattern is None or pattern == "":
        return None
    return pattern if isinstance(pattern, str) else json.dumps(pattern)


def _targets(props: dict[str, Any]) -> list[dict[str, Any]]:
    targets = copy.deepcopy(props.get("Targets") or [])
    for target in targets:
        for key in ("Input",):
            if key in target and not isinstance(target[key], str):
                target[key] = json.dumps(target[key])
        transformer = target.get("InputTransformer")
        if transformer and not isinstance(transformer.get("InputTemplate", ""), str):
            transformer["InputTemplate"] = json.dumps(transformer["InputTemplate"])
        policy = target.get("RetryPolicy")
        for key in RETRY_POLICY_RANGES:
            if isinstance(policy, dict) and isinstance(policy.get(key), str) and policy[key].strip().lstrip("-").isdigit():
                policy[key] = int(policy[key])  # a template's numbers may arrive as text
    return targets


def _tag_list(tags: Any) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in _cfn.tag_list_to_dict(tags).items()]


class RuleHandler(Rule):
    """AWS::Events::Rule (Ref: the rule name; GetAtt Arn)."""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Rule:
        props = _cfn.props_of(cloudformation_json)
        backend: EventsBackend = events_backends[account_id][region_name]
        bus = props.get("EventBusName") or "default"
        rule = backend.put_rule(
            resource_name,
            scheduled_expression=props.get("ScheduleExpression"),
            event_pattern=_pattern_text(props.get("EventPattern")),
            state=props.get("State"),
            description=props.get("Description"),
            role_arn=props.get("RoleArn"),
            event_bus_arn=bus,
            tags=_tag_list(props.get("Tags")) or None,
        )
        targets = _targets(props)
        try:
            if targets:
                backend.put_targets(rule.name, bus, targets)
        except Exception:
            backend.delete_rule(rule.name, bus)
            raise
        return rule

    @classmethod
    def irlab_update(
        cls, rule: Rule, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> Rule:
        for key in ("Name", "EventBusName"):
            if old_props.get(key) != new_props.get(key):
                raise _cfn.NeedsReplacement()
        backend: EventsBackend = events_backends[account_id][region_name]
        bus = new_props.get("EventBusName") or "default"
        updated = backend.put_rule(
            rule.name,
            scheduled_expression=new_props.get("ScheduleExpression"),
            event_pattern=_pattern_text(new_props.get("EventPattern")),
            state=new_props.get("State"),
            description=new_props.get("Description"),
            role_arn=new_props.get("RoleArn"),
            event_bus_arn=bus,
        )
        targets = _targets(new_props)
        wanted = {t["Id"] for t in targets}
        gone = [t["Id"] for t in updated.targets if t["Id"] not in wanted]
        if gone:
            backend.remove_targets(updated.name, bus, gone)
        if targets:
            backend.put_targets(updated.name, bus, targets)
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        removed = [k for k in old_tags if k not in new_tags]
        if removed:
            backend.tagger.untag_resource_using_names(updated.arn, removed)
        if new_tags:
            backend.tagger.tag_resource(updated.arn, _tag_list(new_tags))
        return updated

    @classmethod
    def irlab_delete(cls, rule: Rule, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend: EventsBackend = events_backends[account_id][region_name]
        bus = props.get("EventBusName") or rule.event_bus_name or "default"
        try:
            current = backend.describe_rule(rule.name, bus)
        except Exception:  # noqa: BLE001 - already gone (or its bus is)
            return
        if current.targets:
            backend.remove_targets(rule.name, bus, [t["Id"] for t in current.targets])
        backend.delete_rule(rule.name, bus)

    @classmethod
    def irlab_tag(cls, rule: Rule, tags: dict[str, str], account_id: str, region_name: str) -> None:
        backend: EventsBackend = events_backends[account_id][region_name]
        existing = {t["Key"] for t in backend.tagger.list_tags_for_resource(rule.arn).get("Tags", [])}
        new = {k: v for k, v in tags.items() if k.startswith("aws:") or k not in existing}
        if new:
            backend.tagger.tag_resource(rule.arn, _tag_list(new))


def apply() -> None:
    _runtime.apply()
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend

    moto_api_urls.url_paths["{0}/moto-api/irlab/events/delay"] = _delay_response
    if not getattr(MotoAPIBackend.reset, "_irlab_events_delay", False):
        original_reset = MotoAPIBackend.reset

        def reset(self: Any) -> None:
            set_delivery_delay(0.0)
            original_reset(self)

        reset._irlab_events_delay = True  # type: ignore[attr-defined]
        MotoAPIBackend.reset = reset  # type: ignore[method-assign]
    EventPatternParser._validate_event_pattern = _validate_event_pattern  # type: ignore[method-assign]
    EventPattern._flatten_dict = staticmethod(_flatten_dict)  # type: ignore[method-assign]
    EventPattern._does_item_match_filters = _does_item_match_filters  # type: ignore[method-assign]
    EventPattern._does_item_match_named_filter = staticmethod(_does_item_match_named_filter)  # type: ignore[method-assign]
    EventsBackend.put_events = _put_events  # type: ignore[method-assign]
    EventsBackend.put_targets = _put_targets  # type: ignore[method-assign]
    events_responses.EventsHandler.test_event_pattern = _response_test_event_pattern  # type: ignore[attr-defined]
    _cfn.register(RuleHandler)
