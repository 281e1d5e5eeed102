"""AWS Budgets (patches/budgets.py): AWS::Budgets::Budget in CloudFormation with its
notifications and subscribers, CreateSubscriber / DescribeSubscribersForNotification, and the
limits AWS documents. A budget tracks no spend in the stand-in: nothing is billed, no alert is
ever sent (the tests check what is stored, never an alarm)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, create_stack

LAB_FILTER = {"TagKeyValue": ["user:irlab:lab$alice"]}


def _notification(threshold: Any, kind: str = "ACTUAL") -> dict[str, Any]:
    return {"NotificationType": kind, "ComparisonOperator": "GREATER_THAN", "Threshold": threshold, "ThresholdType": "PERCENTAGE"}


def _template(name: str | None = "irlab-lab-alice", amount: Any = 10, thresholds: tuple[Any, ...] = (80, 100)) -> dict[str, Any]:
    """A lab's budget: COST, monthly, the lab's tag as filter, one SNS subscriber per notification."""
    budget: dict[str, Any] = {
        "BudgetLimit": {"Amount": amount, "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
        "CostFilters": LAB_FILTER,
        "CostTypes": {"IncludeCredit": False, "UseBlended": "false"},
    }
    if name is not None:
        budget["BudgetName"] = name
    return {
        "Resources": {
            "Alerts": {"Type": "AWS::SNS::Topic"},
            "Budget": {
                "Type": "AWS::Budgets::Budget",
                "Properties": {
                    "Budget": budget,
                    "NotificationsWithSubscribers": [
                        {"Notification": _notification(t), "Subscribers": [{"SubscriptionType": "SNS", "Address": {"Ref": "Alerts"}}]}
                        for t in thresholds
                    ],
                },
            },
        },
        "Outputs": {
            "BudgetName": {"Value": {"Ref": "Budget"}},
            "BudgetId": {"Value": {"Fn::GetAtt": ["Budget", "Id"]}},
            "TopicArn": {"Value": {"Ref": "Alerts"}},
        },
    }


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _budget_names(budgets) -> list[str]:
    return sorted(b["BudgetName"] for b in budgets.describe_budgets(AccountId=ACCOUNT_ID).get("Budgets", []))


def _reasons(cf, stack: str, logical_id: str = "Budget") -> list[str]:
    return [
        e.get("ResourceStatusReason", "")
        for e in cf.describe_stack_events(StackName=stack)["StackEvents"]
        if e["LogicalResourceId"] == logical_id and e["ResourceStatus"] in ("CREATE_FAILED", "UPDATE_FAILED")
    ]


def test_cloudformation_budget_with_two_sns_notifications_is_described_and_deleted_with_its_stack(aws):
    """AWS::Budgets::Budget creates the budget (BudgetData: BudgetName, BudgetLimit, TimeUnit,
    BudgetType, CostFilters, CostTypes) with its NotificationsWithSubscribers: DescribeBudget
    shows it, DescribeNotificationsForBudget its two notifications (ACTUAL, GREATER_THAN 80% and
    100%), DescribeSubscribersForNotification each one's SNS subscriber (the topic's ARN). "Ref
    returns the name of the budget"; Fn::GetAtt Id gives it too (the schema's identifier).
    Deleting the stack deletes the budget, and DeleteBudget "also deletes the notifications and
    subscribers". A budget in the stand-in tracks no spend: CalculatedSpend stays 0.
    moto's CloudFormation skipped the type (nothing was made), and DescribeSubscribersForNotification
    answered 500.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-budgets-budget.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_DescribeNotificationsForBudget.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_DescribeSubscribersForNotification.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_DeleteBudget.html
    """
    cf, budgets = aws("cloudformation"), aws("budgets")
    stack = create_stack(cf, "irlab-budget", json.dumps(_template()))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = _outputs(stack)
    assert outputs["BudgetName"] == outputs["BudgetId"] == "irlab-lab-alice"

    budget = budgets.describe_budget(AccountId=ACCOUNT_ID, BudgetName="irlab-lab-alice")["Budget"]
    assert budget["BudgetLimit"] == {"Amount": "10", "Unit": "USD"}
    assert (budget["TimeUnit"], budget["BudgetType"]) == ("MONTHLY", "COST")
    assert budget["CostFilters"] == LAB_FILTER
    assert budget["CostTypes"] == {"IncludeCredit": False, "UseBlended": False}
    assert budget["CalculatedSpend"]["ActualSpend"]["Amount"] == "0"  # nothing is billed in the stand-in

    notifications = budgets.describe_notifications_for_budget(AccountId=ACCOUNT_ID, BudgetName="irlab-lab-alice")["Notifications"]
    assert sorted(n["Threshold"] for n in notifications) == [80.0, 100.0]
    assert {(n["NotificationType"], n["ComparisonOperator"], n["ThresholdType"]) for n in notifications} == {
        ("ACTUAL", "GREATER_THAN", "PERCENTAGE")
    }
    for notification in notifications:
        subscribers = budgets.describe_subscribers_for_notification(
            AccountId=ACCOUNT_ID, BudgetName="irlab-lab-alice", Notification=notification
        )["Subscribers"]
        assert subscribers == [{"SubscriptionType": "SNS", "Address": outputs["TopicArn"]}]

    cf.delete_stack(StackName="irlab-budget")
    with pytest.raises(ClientError) as err:
        budgets.describe_budget(AccountId=ACCOUNT_ID, BudgetName="irlab-lab-alice")
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    assert _budget_names(budgets) == []


def test_cloudformation_budget_updates_in_place_and_a_new_name_or_new_notifications_replace_it(aws):
    """An update of BudgetData other than BudgetName changes the budget in place (UpdateBudget:
    "You can change every part of a budget except for the budgetName"; its notifications stay);
    a new BudgetName requires replacement (a new budget, the old one deleted); so does any change
    of NotificationsWithSubscribers (a create-only property) - without BudgetName the new budget
    gets a new generated name.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-budgets-budget-budgetdata.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_UpdateBudget.html
    """
    cf, budgets = aws("cloudformation"), aws("budgets")
    assert create_stack(cf, "irlab-budget", json.dumps(_template()))["StackStatus"] == "CREATE_COMPLETE"

    cf.update_stack(StackName="irlab-budget", TemplateBody=json.dumps(_template(amount=25)))
    assert cf.describe_stacks(StackName="irlab-budget")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    budget = budgets.describe_budget(AccountId=ACCOUNT_ID, BudgetName="irlab-lab-alice")["Budget"]
    assert budget["BudgetLimit"]["Amount"] == "25"
    assert len(budgets.describe_notifications_for_budget(AccountId=ACCOUNT_ID, BudgetName="irlab-lab-alice")["Notifications"]) == 2

    cf.update_stack(StackName="irlab-budget", TemplateBody=json.dumps(_template(name="irlab-lab-bob", amount=25)))
    stack = cf.describe_stacks(StackName="irlab-budget")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert _outputs(stack)["BudgetName"] == "irlab-lab-bob"
    assert _budget_names(budgets) == ["irlab-lab-bob"]

    cf.update_stack(StackName="irlab-budget", TemplateBody=json.dumps(_template(name=None, amount=25)))
    generated = _outputs(cf.describe_stacks(StackName="irlab-budget")["Stacks"][0])["BudgetName"]
    assert generated.startswith("irlab-budget-Budget-")
    cf.update_stack(StackName="irlab-budget", TemplateBody=json.dumps(_template(name=None, amount=25, thresholds=(50,))))
    replaced = _outputs(cf.describe_stacks(StackName="irlab-budget")["Stacks"][0])["BudgetName"]
    assert replaced != generated and _budget_names(budgets) == [replaced]
    assert [n["Threshold"] for n in budgets.describe_notifications_for_budget(AccountId=ACCOUNT_ID, BudgetName=replaced)["Notifications"]] == [50.0]

    cf.delete_stack(StackName="irlab-budget")
    assert _budget_names(budgets) == []


def _six_notifications(t: dict[str, Any]) -> None:
    items = t["Resources"]["Budget"]["Properties"]["NotificationsWithSubscribers"]
    for threshold in (50, 60, 70, 90):
        items.append({**copy.deepcopy(items[0]), "Notification": _notification(threshold)})


def _budget_data(t: dict[str, Any]) -> dict[str, Any]:
    return t["Resources"]["Budget"]["Properties"]["Budget"]


def _subscribers(t: dict[str, Any]) -> list[dict[str, Any]]:
    return t["Resources"]["Budget"]["Properties"]["NotificationsWithSubscribers"][0]["Subscribers"]


@pytest.mark.parametrize(
    ("case", "change", "expected"),
    [
        ("sixth notification", _six_notifications, ["CreationLimitExceededException", "up to 5 notifications"]),
        ("threshold above 1e9", lambda t: None, ["Properties validation failed for resource Budget",
                                                  "#/NotificationsWithSubscribers/1/Notification/Threshold", "1000000000"]),
        ("negative threshold", lambda t: None, ["Properties validation failed for resource Budget",
                                                 "#/NotificationsWithSubscribers/1/Notification/Threshold", "0.1"]),
        ("eleven email subscribers", lambda t: _subscribers(t).__setitem__(
            slice(None), [{"SubscriptionType": "EMAIL", "Address": f"a{i}@example.com"} for i in range(11)]),
         ["CreationLimitExceededException", "10 email subscribers"]),
        ("two SNS subscribers", lambda t: _subscribers(t).append({"SubscriptionType": "SNS", "Address": {"Ref": "Alerts"}}),
         ["CreationLimitExceededException", "1 SNS subscriber"]),
        ("colon in the name", lambda t: _budget_data(t).__setitem__("BudgetName", "lab:alice"),
         ["ValidationException", "at 'budget.budgetName' failed to satisfy constraint: Member must satisfy regular expression"]),
        ("no TimeUnit", lambda t: _budget_data(t).pop("TimeUnit"), ["#/Budget: required key [TimeUnit] not found"]),
        ("no BudgetType", lambda t: _budget_data(t).pop("BudgetType"), ["#/Budget: required key [BudgetType] not found"]),
        ("COST without BudgetLimit", lambda t: _budget_data(t).pop("BudgetLimit"), ["InvalidParameterException", "Budget Limit"]),
        ("unknown TimeUnit", lambda t: _budget_data(t).__setitem__("TimeUnit", "WEEKLY"),
         ["ValidationException", "Value 'WEEKLY' at 'budget.timeUnit' failed to satisfy constraint: Member must satisfy enum value set"]),
        ("unknown property", lambda t: _budget_data(t).__setitem__("Limit", 5),
         ["#/Budget: extraneous key [Limit] is not permitted"]),
    ],
)  # fmt: skip
def test_cloudformation_refuses_the_budget_aws_refuses_and_the_stack_rolls_back(aws, case, change, expected):
    """What AWS refuses fails the resource with the reason and rolls the stack back, leaving no
    budget: CloudFormation checks the properties against the resource schema first (required
    Budget.TimeUnit and Budget.BudgetType, no unknown property, Notification.Threshold from 0.1
    to 1,000,000,000: "Properties validation failed for resource ..."); then the handler's
    CreateBudget call fails as the Budgets API does: a BudgetName with ":" or "\\" and an unknown
    TimeUnit (ValidationException), a COST budget without BudgetLimit (BudgetLimit "is required
    for cost or usage budgets"), "A budget can have up to five notifications, and each
    notification can have one SNS subscriber and up to 10 email subscribers"
    (CreationLimitExceededException: "You've exceeded the notification or subscriber limit").
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-budgets-budget-notification.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudget.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_NotificationWithSubscribers.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Budget.html
    """
    cf, budgets = aws("cloudformation"), aws("budgets")
    thresholds = {"threshold above 1e9": (80, 1_000_000_001), "negative threshold": (80, -1)}.get(case, (80, 100))
    template = _template(thresholds=thresholds)
    change(template)
    stack = create_stack(cf, "irlab-budget-bad", json.dumps(template))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", (case, stack)
    reasons = _reasons(cf, "irlab-budget-bad")
    assert len(reasons) == 1 and all(text in reasons[0] for text in expected), (case, reasons)
    assert _budget_names(budgets) == []


def test_subscribers_and_notifications_through_the_api_within_aws_limits(aws):
    """CreateSubscriber adds a subscriber to a budget's notification and
    DescribeSubscribersForNotification lists them (moto answered 500 for both); a notification
    takes one SNS subscriber and 10 email subscribers, a budget five notifications
    (CreationLimitExceededException); a subscriber or notification already there is
    DuplicateRecordException; an unknown budget or notification is NotFoundException (moto
    answered 500 for DescribeNotificationsForBudget of an unknown budget).
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateSubscriber.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_DescribeSubscribersForNotification.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateNotification.html
    """
    budgets = aws("budgets")
    topic = aws("sns").create_topic(Name="irlab-budget-alerts")["TopicArn"]
    first = _notification(80.0)
    budgets.create_budget(
        AccountId=ACCOUNT_ID,
        Budget={"BudgetName": "lab", "BudgetLimit": {"Amount": "10", "Unit": "USD"}, "TimeUnit": "MONTHLY", "BudgetType": "COST"},
        NotificationsWithSubscribers=[{"Notification": first, "Subscribers": [{"SubscriptionType": "EMAIL", "Address": "a0@example.com"}]}],
    )

    def code(call, **kwargs: Any) -> str:
        with pytest.raises(ClientError) as err:
            call(AccountId=ACCOUNT_ID, **kwargs)
        return err.value.response["Error"]["Code"]

    budgets.create_subscriber(AccountId=ACCOUNT_ID, BudgetName="lab", Notification=first, Subscriber={"SubscriptionType": "SNS", "Address": topic})
    for i in range(1, 10):
        budgets.create_subscriber(
            AccountId=ACCOUNT_ID, BudgetName="lab", Notification=first, Subscriber={"SubscriptionType": "EMAIL", "Address": f"a{i}@example.com"}
        )
    listed = budgets.describe_subscribers_for_notification(AccountId=ACCOUNT_ID, BudgetName="lab", Notification=first)["Subscribers"]
    assert len(listed) == 11 and {"SubscriptionType": "SNS", "Address": topic} in listed
    tenth = {"SubscriptionType": "EMAIL", "Address": "a10@example.com"}
    assert code(budgets.create_subscriber, BudgetName="lab", Notification=first, Subscriber=tenth) == "CreationLimitExceededException"
    second_topic = {"SubscriptionType": "SNS", "Address": topic + "-2"}
    assert code(budgets.create_subscriber, BudgetName="lab", Notification=first, Subscriber=second_topic) == "CreationLimitExceededException"
    again = {"SubscriptionType": "EMAIL", "Address": "a1@example.com"}
    assert code(budgets.create_subscriber, BudgetName="lab", Notification=first, Subscriber=again) == "DuplicateRecordException"
    assert code(budgets.create_subscriber, BudgetName="nope", Notification=first, Subscriber=again) == "NotFoundException"
    assert code(budgets.describe_subscribers_for_notification, BudgetName="lab", Notification=_notification(99.0)) == "NotFoundException"

    subscriber = [{"SubscriptionType": "SNS", "Address": topic}]
    assert code(budgets.create_notification, BudgetName="lab", Notification=first, Subscribers=subscriber) == "DuplicateRecordException"
    for threshold in (50.0, 60.0, 90.0, 100.0):
        budgets.create_notification(AccountId=ACCOUNT_ID, BudgetName="lab", Notification=_notification(threshold), Subscribers=subscriber)
    assert code(budgets.create_notification, BudgetName="lab", Notification=_notification(110.0), Subscribers=subscriber) == (
        "CreationLimitExceededException"
    )
    assert len(budgets.describe_notifications_for_budget(AccountId=ACCOUNT_ID, BudgetName="lab")["Notifications"]) == 5
    assert code(budgets.describe_notifications_for_budget, BudgetName="nope") == "NotFoundException"


def test_create_budget_refuses_a_missing_or_double_limit_and_a_name_with_a_colon(aws):
    """BudgetLimit "is required for cost or usage budgets, but optional for RI or Savings Plans
    utilization or coverage budgets" (moto wanted one for every type); an auto-adjusting budget
    (AutoAdjustData) sets its own; "Only one of BudgetLimit or PlannedBudgetLimits can be
    present" - InvalidParameterException. "The : and \\ characters, and the "/action/"
    substring, aren't allowed in BudgetName" - ValidationException (moto stored such names).
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Budget.html
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudget.html
    """
    budgets = aws("budgets")
    base = {"TimeUnit": "MONTHLY", "BudgetType": "COST"}
    limit = {"Amount": "10", "Unit": "USD"}
    for budget in (
        {**base, "BudgetName": "no-limit"},
        {**base, "BudgetName": "usage", "BudgetType": "USAGE"},
        {**base, "BudgetName": "both", "BudgetLimit": limit, "PlannedBudgetLimits": {"1767225600": limit}},
    ):
        with pytest.raises(ClientError) as err:
            budgets.create_budget(AccountId=ACCOUNT_ID, Budget=budget)
        assert err.value.response["Error"]["Code"] == "InvalidParameterException", budget
    for name in ("lab:alice", "lab\\alice", "lab/action/alice"):
        with pytest.raises(ClientError) as err:
            budgets.create_budget(AccountId=ACCOUNT_ID, Budget={**base, "BudgetName": name, "BudgetLimit": limit})
        assert err.value.response["Error"]["Code"] == "ValidationException", name
        assert "at 'budget.budgetName' failed to satisfy constraint" in err.value.response["Error"]["Message"]
    budgets.create_budget(AccountId=ACCOUNT_ID, Budget={**base, "BudgetName": "ri", "BudgetType": "RI_UTILIZATION"})
    budgets.create_budget(
        AccountId=ACCOUNT_ID,
        Budget={**base, "BudgetName": "auto", "AutoAdjustData": {"AutoAdjustType": "HISTORICAL", "HistoricalOptions": {"BudgetAdjustmentPeriod": 3}}},
    )
    assert _budget_names(budgets) == ["auto", "ri"]
