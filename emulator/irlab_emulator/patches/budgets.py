"""AWS Budgets: ``AWS::Budgets::Budget`` in CloudFormation, the subscriber calls, AWS's limits.

moto 5.2.5 (measured by ``tests/probes/scheduler_budgets_probe.py``) keeps budgets
(CreateBudget, DescribeBudget(s), DeleteBudget) and their notifications (CreateNotification,
DescribeNotificationsForBudget, DeleteNotification) in ``budgets_backends[account][partition]``
(the backend of the partition - ``aws`` for every commercial Region - since budgets are global
to an account, then a dict by the request's ``AccountId``).  It answers 500 for CreateSubscriber
and DescribeSubscribersForNotification (not implemented) and for DescribeNotificationsForBudget
of a budget that does not exist, accepts any number of notifications and subscribers, refuses a
budget of any type without ``BudgetLimit``/``PlannedBudgetLimits`` (also an auto-adjusting one,
and RI / Savings Plans budgets, which need none), and its CloudFormation skips
``AWS::Budgets::Budget`` (the stand-in failed the resource as not implemented).  Here:

* CloudFormation ``AWS::Budgets::Budget`` (``Budget`` = BudgetData, ``NotificationsWithSubscribers``,
  ``ResourceTags``) creates the budget, its notifications and their subscribers in moto's
  backend of the stack's account.  ``Ref`` and ``Fn::GetAtt Id`` give the budget's name (the
  resource schema's primary identifier is ``Id``, and Ref returns the name); without
  ``BudgetName`` the budget gets a generated name (``<stack>-<logical id>-<random>``).  Deleting
  the stack deletes the budget (with its notifications and subscribers, as DeleteBudget does); a
  budget already deleted is passed over.  Updates follow the schema's ``createOnlyProperties``:
  a new ``Budget.BudgetName`` or any change of ``NotificationsWithSubscribers`` replaces the
  budget (create the new one, then delete the old: under an unchanged ``BudgetName`` the new one
  cannot be created, the name being taken, so the update fails and rolls back); any other change
  of ``Budget`` (and ``ResourceTags``) updates it in place, as UpdateBudget does (its
  notifications stay).
* Validation before anything is stored, in CloudFormation's order: the template's properties
  against the resource schema (required ``Budget``, ``Budget.TimeUnit``, ``Budget.BudgetType``,
  ``Spend.Amount``/``Unit``, ``Notification.NotificationType``/``ComparisonOperator``/``Threshold``,
  ``Subscriber.SubscriptionType``/``Address``; no unknown property; ``Threshold`` from 0.1 to
  1,000,000,000) - "Properties validation failed for resource R with message: #/...: ...";
  then the CreateBudget request the handler would send against botocore's model (enum values,
  the name's pattern - no ``:`` or ``\\``, 1-100 characters -, 1 to 11 subscribers) -
  ``ValidationException`` with AWS's "1 validation error detected: ..."; then the service's own
  rules, which also apply to the API: a ``COST`` or ``USAGE`` budget needs ``BudgetLimit``,
  ``PlannedBudgetLimits`` or ``AutoAdjustData`` (``InvalidParameterException``, moto's words), not
  both limits (``InvalidParameterException``); at most 5 notifications per budget and, per
  notification, 10 email and 1 SNS subscribers (``CreationLimitExceededException``: "You've
  exceeded the notification or subscriber limit").  AWS publishes no messages for these: the
  stand-in's say what is wrong.  A failure fails the resource (CREATE_FAILED / UPDATE_FAILED with
  the reason) and the stack rolls back as for any resource.
* API: CreateSubscriber and DescribeSubscribersForNotification (``NotFoundException`` for an
  unknown budget or notification, ``DuplicateRecordException`` for a subscriber already there,
  the limits above); CreateNotification refuses a notification the budget already has
  (``DuplicateRecordException``) and a sixth one; DescribeNotificationsForBudget of an unknown
  budget is ``NotFoundException``.  A notification is found by its type, operator, threshold and
  threshold type (an omitted threshold type counts as ``PERCENTAGE``, the stand-in's choice: the
  API documents no default).

No spend: nothing in the stand-in is billed, so a budget tracks nothing.  DescribeBudget shows
moto's ``CalculatedSpend`` of 0 (actual and forecasted), a notification never reaches
``ALARM``, no alert is ever sent to its subscribers (no SNS publish, no email), and
``CostFilters`` (``TagKeyValue``: ``user:irlab:lab$alice``...) are stored, never applied.
Not modelled: UpdateBudget, UpdateNotification, UpdateSubscriber, DeleteSubscriber, budget
actions, budget tags through the API (``ResourceTags`` are checked and kept with the resource
only), pagination.

Sources: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-budgets-budget.html,
the resource schema (cfn-lint's copy: ``createOnlyProperties``, ``primaryIdentifier``, the
Threshold range), https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudget.html
("A budget can have up to five notifications, and each notification can have one SNS subscriber
and up to 10 email subscribers"; the API's Notification page says "up to ten notifications" and
botocore's model allows 10 in one request: the stand-in keeps 5), ``API_budgets_Budget.html``
(BudgetLimit "is required for cost or usage budgets").
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import re
from typing import Any

from moto.budgets import responses as budgets_responses
from moto.budgets.exceptions import BudgetMissingLimit, DuplicateRecordException, NotFoundException
from moto.budgets.models import Budget, BudgetsBackend, Notification, budgets_backends
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.utilities.utils import get_partition

from . import _cfn

log = logging.getLogger("irlab_emulator.budgets")

MAX_NOTIFICATIONS = 5
MAX_EMAIL_SUBSCRIBERS = 10
MAX_SNS_SUBSCRIBERS = 1
# The resource schema's Notification.Threshold range (CloudFormation checks it before the handler
# runs; the API itself takes 0 to 15,000,000,000,000).
THRESHOLD_MIN = 0.1
THRESHOLD_MAX = 1_000_000_000
LIMITED_TYPES = ("COST", "USAGE")


class CreationLimitExceededException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("CreationLimitExceededException", message)


class InvalidParameterException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("InvalidParameterException", message)


class ValidationException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("ValidationException", message)


class PropertiesInvalid(Exception):
    """The template's properties break the resource schema (CloudFormation's own check)."""

    def __init__(self, logical_id: str, problems: list[str]):
        shown = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
        self.irlab_reason = f"Properties validation failed for resource {logical_id} with message: {shown}"
        super().__init__(self.irlab_reason)


# --------------------------------------------------------------------------
# the service's own rules (API and CloudFormation)


def check_limit(budget: dict[str, Any]) -> None:
    """BudgetLimit "is required for cost or usage budgets, but optional for RI or Savings Plans
    utilization or coverage budgets"; an auto-adjusting budget computes its own; "Only one of
    BudgetLimit or PlannedBudgetLimits can be present"."""
    has_limit, planned = budget.get("BudgetLimit") is not None, budget.get("PlannedBudgetLimits") is not None
    if has_limit and planned:
        raise InvalidParameterException(
            "Unable to create/update budget - only one of BudgetLimit or PlannedBudgetLimits can be present"
        )
    if budget.get("BudgetType") in LIMITED_TYPES and not (has_limit or planned or budget.get("AutoAdjustData")):
        raise BudgetMissingLimit()


# CreateBudget's BudgetName pattern as botocore's model gives it; its mid-pattern ``(?i)`` is
# Java's (Python's ``re`` takes inline flags only at the start), so the generic model check
# (``_request_check``) cannot read it and passes every name: the scoped form below is checked here.
NAME_PATTERN = r"^(?![^:\\]*/action/|(?i).*<script>.*</script>.*)[^:\\]+$"
_NAME = re.compile(r"^(?![^:\\]*/action/|(?i:.*<script>.*</script>.*))[^:\\]+$", re.DOTALL)


def check_name(budget: dict[str, Any]) -> None:
    """A budget name: no ``:`` or ``\\``, no ``/action/`` (length is the model check's)."""
    name = budget.get("BudgetName")
    if isinstance(name, str) and name and not _NAME.fullmatch(name):
        raise ValidationException(
            f"1 validation error detected: Value '{name}' at 'budget.budgetName' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
        )


def check_subscribers(subscribers: list[dict[str, Any]], existing: list[dict[str, Any]] | None = None) -> None:
    every = list(existing or []) + list(subscribers)
    emails = sum(1 for s in every if s.get("SubscriptionType") == "EMAIL")
    sns = sum(1 for s in every if s.get("SubscriptionType") == "SNS")
    if emails > MAX_EMAIL_SUBSCRIBERS:
        raise CreationLimitExceededException(
            f"A notification can have up to {MAX_EMAIL_SUBSCRIBERS} email subscribers; this one would have {emails}."
        )
    if sns > MAX_SNS_SUBSCRIBERS:
        raise CreationLimitExceededException(
            f"A notification can have up to {MAX_SNS_SUBSCRIBERS} SNS subscriber; this one would have {sns}."
        )


def check_notifications(notifications: list[dict[str, Any]], existing: int = 0) -> None:
    total = existing + len(notifications)
    if total > MAX_NOTIFICATIONS:
        raise CreationLimitExceededException(
            f"A budget can have up to {MAX_NOTIFICATIONS} notifications; this one would have {total}."
        )
    for item in notifications:
        check_subscribers(item.get("Subscribers") or [])


def same_notification(a: dict[str, Any], b: dict[str, Any]) -> bool:
    try:
        same_threshold = float(a.get("Threshold")) == float(b.get("Threshold"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        same_threshold = a.get("Threshold") == b.get("Threshold")
    return (
        same_threshold
        and a.get("NotificationType") == b.get("NotificationType")
        and a.get("ComparisonOperator") == b.get("ComparisonOperator")
        and (a.get("ThresholdType") or "PERCENTAGE") == (b.get("ThresholdType") or "PERCENTAGE")
    )


def _describe(notification: dict[str, Any]) -> str:
    kind = "%" if (notification.get("ThresholdType") or "PERCENTAGE") == "PERCENTAGE" else ""
    return (
        f"{notification.get('NotificationType')} {notification.get('ComparisonOperator')} "
        f"{notification.get('Threshold')}{kind}"
    )


# --------------------------------------------------------------------------
# moto's backend, completed


def _budget_init(self: Budget, budget: dict[str, Any], notifications: list[dict[str, Any]]) -> None:
    """moto's ``Budget.__init__`` with AWS's rule for the limit (moto wanted one for every type)."""
    check_limit(budget)
    self.budget = budget
    self.notifications = [Notification(details=x["Notification"], subscribers=list(x["Subscribers"])) for x in notifications]
    self.budget["LastUpdatedTime"] = unix_time()
    if "TimePeriod" not in self.budget:
        first_day_of_month = datetime.datetime.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        self.budget["TimePeriod"] = {"Start": unix_time(first_day_of_month), "End": 3706473600}


def _stored(backend: BudgetsBackend, account_id: str, budget_name: str, doing: str) -> Budget:
    budget = backend.budgets[account_id].get(budget_name)
    if budget is None:
        raise NotFoundException(f"Unable to {doing} - the budget {budget_name} doesn't exist.")
    return budget


def _notification(budget: Budget, details: dict[str, Any], budget_name: str) -> Notification:
    for notification in budget.notifications:
        if same_notification(notification.details, details):
            return notification
    raise NotFoundException(f"Unable to find notification {_describe(details)} of budget {budget_name}.")


_orig_create_budget = BudgetsBackend.create_budget
_orig_create_notification = BudgetsBackend.create_notification


def _create_budget(self: BudgetsBackend, account_id: str, budget: dict[str, Any], notifications: list[dict[str, Any]]) -> None:
    check_name(budget)
    check_notifications(notifications or [])
    _orig_create_budget(self, account_id, budget, notifications or [])


def _create_notification(
    self: BudgetsBackend, account_id: str, budget_name: str, notification: dict[str, Any], subscribers: Any
) -> None:
    budget = _stored(self, account_id, budget_name, "create notification")
    if any(same_notification(n.details, notification) for n in budget.notifications):
        raise DuplicateRecordException(record_type="notification", record_name=_describe(notification))
    check_notifications([{"Notification": notification, "Subscribers": subscribers or []}], existing=len(budget.notifications))
    _orig_create_notification(self, account_id, budget_name, notification, list(subscribers or []))


def _describe_notifications_for_budget(self: BudgetsBackend, account_id: str, budget_name: str) -> list[dict[str, Any]]:
    return list(_stored(self, account_id, budget_name, "describe notifications").get_notifications())


def _create_subscriber(
    self: BudgetsBackend, account_id: str, budget_name: str, notification: dict[str, Any], subscriber: dict[str, Any]
) -> None:
    found = _notification(_stored(self, account_id, budget_name, "create subscriber"), notification, budget_name)
    if subscriber in found.subscribers:
        raise DuplicateRecordException(record_type="subscriber", record_name=str(subscriber.get("Address")))
    check_subscribers([subscriber], existing=found.subscribers)
    found.subscribers.append(dict(subscriber))


def _describe_subscribers_for_notification(
    self: BudgetsBackend, account_id: str, budget_name: str, notification: dict[str, Any]
) -> list[dict[str, Any]]:
    found = _notification(_stored(self, account_id, budget_name, "describe subscribers"), notification, budget_name)
    return copy.deepcopy(list(found.subscribers))


def _response_create_subscriber(self: Any) -> str:
    self.backend.create_subscriber(
        account_id=self._get_param("AccountId"),
        budget_name=self._get_param("BudgetName"),
        notification=self._get_param("Notification"),
        subscriber=self._get_param("Subscriber"),
    )
    return json.dumps({})


def _response_describe_subscribers_for_notification(self: Any) -> str:
    subscribers = self.backend.describe_subscribers_for_notification(
        account_id=self._get_param("AccountId"),
        budget_name=self._get_param("BudgetName"),
        notification=self._get_param("Notification"),
    )
    return json.dumps({"Subscribers": subscribers})


def backend_of(account_id: str, region_name: str) -> BudgetsBackend:
    """Budgets are global to an account: moto keeps them in the backend of the Region's partition."""
    return budgets_backends[account_id][get_partition(region_name)]


# --------------------------------------------------------------------------
# CloudFormation: the resource schema (AWS::Budgets::Budget, as cfn-lint ships it)

_STR, _NUM, _INT, _BOOL, _JSON = {"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "boolean"}, {"type": "json"}
_SPEND = {"type": "object", "required": ["Amount", "Unit"], "properties": {"Amount": _NUM, "Unit": _STR}}
_VALUES = {"type": "object", "properties": {"Key": _STR, "MatchOptions": {"type": "array", "items": _STR},
                                             "Values": {"type": "array", "items": _STR}}}  # fmt: skip
_EXPRESSION: dict[str, Any] = {"type": "object", "properties": {"CostCategories": _VALUES, "Dimensions": _VALUES, "Tags": _VALUES}}
_EXPRESSION["properties"].update(
    {"And": {"type": "array", "items": _EXPRESSION}, "Or": {"type": "array", "items": _EXPRESSION}, "Not": _EXPRESSION}
)
_BUDGET_DATA = {
    "type": "object",
    "required": ["TimeUnit", "BudgetType"],
    "properties": {
        "AutoAdjustData": {
            "type": "object",
            "required": ["AutoAdjustType"],
            "properties": {
                "AutoAdjustType": _STR,
                "HistoricalOptions": {
                    "type": "object", "required": ["BudgetAdjustmentPeriod"], "properties": {"BudgetAdjustmentPeriod": _INT},
                },
            },
        },
        "BillingViewArn": _STR,
        "BudgetLimit": _SPEND,
        "BudgetName": _STR,
        "BudgetType": _STR,
        "CostFilters": _JSON,
        "CostTypes": {
            "type": "object",
            "properties": {
                k: _BOOL
                for k in (
                    "IncludeCredit", "IncludeDiscount", "IncludeOtherSubscription", "IncludeRecurring", "IncludeRefund",
                    "IncludeSubscription", "IncludeSupport", "IncludeTax", "IncludeUpfront", "UseAmortized", "UseBlended",
                )
            },
        },
        "FilterExpression": _EXPRESSION,
        "Metrics": {"type": "array", "items": _STR},
        "PlannedBudgetLimits": _JSON,
        "TimePeriod": {"type": "object", "properties": {"End": _STR, "Start": _STR}},
        "TimeUnit": _STR,
    },
}  # fmt: skip
_NOTIFICATION = {
    "type": "object",
    "required": ["ComparisonOperator", "NotificationType", "Threshold"],
    "properties": {
        "ComparisonOperator": _STR,
        "NotificationType": _STR,
        "Threshold": {"type": "number", "minimum": THRESHOLD_MIN, "maximum": THRESHOLD_MAX},
        "ThresholdType": _STR,
    },
}
SCHEMA = {
    "type": "object",
    "required": ["Budget"],
    "properties": {
        "Budget": _BUDGET_DATA,
        "NotificationsWithSubscribers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["Subscribers", "Notification"],
                "properties": {
                    "Notification": _NOTIFICATION,
                    "Subscribers": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["SubscriptionType", "Address"],
                            "properties": {"Address": _STR, "SubscriptionType": _STR},
                        },
                    },
                },
            },
        },
        "ResourceTags": {
            "type": "array",
            "items": {"type": "object", "required": ["Key"], "properties": {"Key": _STR, "Value": _STR}},
        },
    },
}


def _number(value: Any) -> float | None:
    """A template's number: CloudFormation takes a number or its text (a parameter's value)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _found(value: Any) -> str:
    if isinstance(value, dict):
        return "JSONObject"
    if isinstance(value, list):
        return "JSONArray"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    return "String"


def _shown(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def schema_problems(schema: dict[str, Any], value: Any, path: str = "#") -> list[str]:
    """What CloudFormation's check of the properties against the resource schema reports."""
    kind = schema["type"]
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path}: expected type: JSONObject, found: {_found(value)}"]
        out = [f"{path}: required key [{key}] not found" for key in schema.get("required", []) if value.get(key) is None]
        properties = schema.get("properties", {})
        out += [f"{path}: extraneous key [{key}] is not permitted" for key in value if key not in properties]
        for key, item in value.items():
            if key in properties and item is not None:
                out += schema_problems(properties[key], item, f"{path}/{key}")
        return out
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected type: JSONArray, found: {_found(value)}"]
        return [p for i, item in enumerate(value) for p in schema_problems(schema["items"], item, f"{path}/{i}")]
    if kind in ("number", "integer"):
        number = _number(value)
        if number is None or (kind == "integer" and not number.is_integer()):
            return [f"{path}: expected type: {'Number' if kind == 'number' else 'Integer'}, found: {_found(value)}"]
        if "minimum" in schema and number < schema["minimum"]:
            return [f"{path}: {_shown(number)} is not greater or equal to {_shown(float(schema['minimum']))}"]
        if "maximum" in schema and number > schema["maximum"]:
            return [f"{path}: {_shown(number)} is not less or equal to {_shown(float(schema['maximum']))}"]
        return []
    if kind == "boolean":
        if isinstance(value, bool) or str(value).lower() in ("true", "false"):
            return []
        return [f"{path}: expected type: Boolean, found: {_found(value)}"]
    if kind == "string":
        return [] if isinstance(value, (str, int, float)) and not isinstance(value, bool) else [
            f"{path}: expected type: String, found: {_found(value)}"
        ]  # fmt: skip
    if kind == "json":
        return [] if isinstance(value, (dict, str)) else [f"{path}: expected type: JSONObject, found: {_found(value)}"]
    return []


# --------------------------------------------------------------------------
# CloudFormation: from the template's properties to the CreateBudget request


def _amount(value: Any) -> str:
    if isinstance(value, str):
        return value
    number = float(value)
    return str(int(number)) if number.is_integer() and not isinstance(value, float) else str(value)


def _spend(value: dict[str, Any]) -> dict[str, Any]:
    return {"Amount": _amount(value["Amount"]), "Unit": str(value["Unit"])}


def _json(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise InvalidParameterException(f"{name} is not valid JSON: {exc}") from exc
    return copy.deepcopy(value)


def _timestamp(value: Any, name: str) -> float:
    number = _number(value)
    if number is not None:
        return number
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidParameterException(f"{name} {value!r} is neither epoch seconds nor an ISO 8601 date") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def budget_request(props: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``Budget`` of CreateBudget (UpdateBudget's ``NewBudget``) from the template's BudgetData."""
    data = props["Budget"]
    budget: dict[str, Any] = {"BudgetName": str(data.get("BudgetName") or name)}
    for key in ("TimeUnit", "BudgetType", "BillingViewArn"):
        if data.get(key) is not None:
            budget[key] = str(data[key])
    if data.get("BudgetLimit") is not None:
        budget["BudgetLimit"] = _spend(data["BudgetLimit"])
    if data.get("PlannedBudgetLimits") is not None:
        planned = _json(data["PlannedBudgetLimits"], "PlannedBudgetLimits")
        budget["PlannedBudgetLimits"] = {str(k): _spend(v) if isinstance(v, dict) else v for k, v in planned.items()}
    if data.get("CostFilters") is not None:
        budget["CostFilters"] = _json(data["CostFilters"], "CostFilters")
    if data.get("CostTypes") is not None:
        budget["CostTypes"] = {k: _cfn.as_bool(v) for k, v in data["CostTypes"].items()}
    if data.get("TimePeriod") is not None:
        budget["TimePeriod"] = {
            k: _timestamp(v, f"TimePeriod.{k}") for k, v in data["TimePeriod"].items() if v is not None
        }
    if data.get("AutoAdjustData") is not None:
        adjust = copy.deepcopy(data["AutoAdjustData"])
        options = adjust.get("HistoricalOptions")
        if isinstance(options, dict) and options.get("BudgetAdjustmentPeriod") is not None:
            options["BudgetAdjustmentPeriod"] = int(float(options["BudgetAdjustmentPeriod"]))
        budget["AutoAdjustData"] = adjust
    for key in ("FilterExpression", "Metrics"):
        if data.get(key) is not None:
            budget[key] = copy.deepcopy(data[key])
    return budget


def notifications_request(props: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in props.get("NotificationsWithSubscribers") or []:
        notification = {k: str(v) for k, v in item["Notification"].items() if v is not None and k != "Threshold"}
        notification["Threshold"] = float(_number(item["Notification"]["Threshold"]))  # type: ignore[arg-type]
        subscribers = [{k: str(v) for k, v in s.items() if v is not None} for s in item.get("Subscribers") or []]
        out.append({"Notification": notification, "Subscribers": subscribers})
    return out


def _model_check(request: dict[str, Any]) -> None:
    """The CreateBudget request against botocore's model, as the Budgets front end checks it."""
    from . import _request_check, _sdk_models
    from .request_validation import coral_message

    model = _sdk_models.service_model("budgets")
    if model is None:
        return
    walk = _request_check.Walk(lambda shape, name: name, check_unknown_keys=True, json_names=True)
    violations = _request_check.check(model.operation_model("CreateBudget").input_shape, request, walk)
    if violations:
        raise ValidationException(coral_message(violations))


def from_template(props: dict[str, Any], name: str, logical_id: str, account_id: str) -> dict[str, Any]:
    """The CreateBudget request the resource's handler makes, after every check AWS makes first."""
    problems = schema_problems(SCHEMA, props)
    if problems:
        raise PropertiesInvalid(logical_id, problems)
    request: dict[str, Any] = {
        "AccountId": account_id,
        "Budget": budget_request(props, name),
        "NotificationsWithSubscribers": notifications_request(props),
    }
    tags = props.get("ResourceTags")
    if tags:
        request["ResourceTags"] = [{k: str(v) for k, v in tag.items() if v is not None} for tag in tags]
    _model_check(request)
    check_name(request["Budget"])
    check_limit(request["Budget"])
    check_notifications(request["NotificationsWithSubscribers"])
    return request


def handler_reason(exc: JsonRESTError) -> str:
    """The resource's failure as CloudFormation shows a handler's error (the stand-in's usual form)."""
    return (
        f'Resource handler returned message: "{exc.message} (Service: Budgets, Status Code: {exc.code}, '
        f'Error Code: {exc.error_type})" (HandlerErrorCode: GeneralServiceException)'
    )


class BudgetResource(CloudFormationModel):
    """AWS::Budgets::Budget (Ref and GetAtt Id: the budget's name)."""

    def __init__(self, name: str, account_id: str, region_name: str, tags: list[dict[str, str]] | None = None):
        self.name = name
        self.account_id = account_id
        self.region_name = region_name
        self.tags = tags or []  # ResourceTags: kept here only (moto has no tag API for budgets)

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""  # the name is Budget.BudgetName, nested: read by the handler itself

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Budgets::Budget"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Id":
            return self.name
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> BudgetResource:
        props = _cfn.props_of(cloudformation_json)
        logical_id = kwargs.get("LogicalId") or resource_name
        try:
            request = from_template(props, resource_name, logical_id, account_id)
            backend_of(account_id, region_name).create_budget(
                account_id=account_id, budget=request["Budget"], notifications=request["NotificationsWithSubscribers"]
            )
        except JsonRESTError as exc:
            exc.irlab_reason = handler_reason(exc)  # type: ignore[attr-defined]
            raise
        log.info("budget %s created (%d notifications)", request["Budget"]["BudgetName"], len(request["NotificationsWithSubscribers"]))
        return cls(request["Budget"]["BudgetName"], account_id, region_name, request.get("ResourceTags"))

    @classmethod
    def irlab_update(
        cls, resource: BudgetResource, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str,
        region_name: str,
    ) -> BudgetResource:  # fmt: skip
        old_data, new_data = old_props.get("Budget") or {}, new_props.get("Budget") or {}
        if old_data.get("BudgetName") != new_data.get("BudgetName") or old_props.get("NotificationsWithSubscribers") != new_props.get(
            "NotificationsWithSubscribers"
        ):
            raise _cfn.NeedsReplacement()  # createOnlyProperties
        backend = backend_of(account_id, region_name)
        try:
            request = from_template(new_props, resource.name, logical_id, account_id)
            stored = _stored(backend, account_id, resource.name, "update budget")
            updated = Budget(request["Budget"], [])
            updated.notifications = stored.notifications
        except JsonRESTError as exc:
            exc.irlab_reason = handler_reason(exc)  # type: ignore[attr-defined]
            raise
        backend.budgets[account_id][resource.name] = updated
        resource.tags = request.get("ResourceTags") or []
        log.info("budget %s updated in place", resource.name)
        return resource

    @classmethod
    def irlab_delete(cls, resource: BudgetResource, props: dict[str, Any], account_id: str, region_name: str) -> None:
        try:
            backend_of(account_id, region_name).delete_budget(account_id, resource.name)
        except NotFoundException:
            log.info("budget %s was already deleted", resource.name)


def apply() -> None:
    Budget.__init__ = _budget_init  # type: ignore[method-assign]
    BudgetsBackend.create_budget = _create_budget  # type: ignore[method-assign]
    BudgetsBackend.create_notification = _create_notification  # type: ignore[method-assign]
    BudgetsBackend.describe_notifications_for_budget = _describe_notifications_for_budget  # type: ignore[method-assign]
    BudgetsBackend.create_subscriber = _create_subscriber  # type: ignore[attr-defined]
    BudgetsBackend.describe_subscribers_for_notification = _describe_subscribers_for_notification  # type: ignore[attr-defined]
    budgets_responses.BudgetsResponse.create_subscriber = _response_create_subscriber  # type: ignore[attr-defined]
    budgets_responses.BudgetsResponse.describe_subscribers_for_notification = (  # type: ignore[attr-defined]
        _response_describe_subscribers_for_notification
    )
    _cfn.register(BudgetResource)
