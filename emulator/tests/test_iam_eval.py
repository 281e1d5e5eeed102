"""The stand-in's IAM policy evaluator (patches/_iam_eval.py) against AWS's
documented evaluation logic, without a server.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

from typing import Any

import pytest

from irlab_emulator.patches._iam_eval import (
    Context,
    Principal,
    Request,
    Unevaluable,
    condition_holds,
    denied_message,
    evaluate,
    service_allowed,
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/irlab/t1/playbook"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/playbook/run-1"
INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0"
ME = Principal(account=ACCOUNT, arn=SESSION, role_arn=ROLE)


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "ec2:CreateTags", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "ec2:CreateTags", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def request(action: str = "ec2:CreateTags", resource: str = INSTANCE, **context: Any) -> Request:
    return Request(action, resource, ME, Context(context))


def holds(condition: dict[str, Any], **context: Any) -> bool:
    return condition_holds(condition, Context(context))


# ---------------------------------------------------------------- decisions


def test_nothing_allows_is_an_implicit_deny():
    """"By default, all requests are implicitly denied" - and the message says
    no identity-based policy allows the action."""
    decision = evaluate(request(), [policy(allow("ec2:DescribeInstances"))])
    assert not decision.allowed and not decision.explicit
    assert denied_message(SESSION, "ec2:CreateTags", INSTANCE, decision) == (
        f"User: {SESSION} is not authorized to perform: ec2:CreateTags on resource: {INSTANCE} "
        "because no identity-based policy allows the ec2:CreateTags action"
    )


def test_an_explicit_deny_overrides_any_allow():
    """"An explicit deny in any policy overrides any allows", also across
    policies."""
    decision = evaluate(request(), [policy(allow("ec2:*")), policy(deny("ec2:Create*"))])
    assert not decision.allowed and decision.explicit
    assert decision.reason("ec2:CreateTags") == "with an explicit deny in an identity-based policy"
    assert evaluate(request(), [policy(allow("ec2:*"))]).allowed


def test_actions_match_case_insensitively_with_wildcards_and_not_action():
    assert evaluate(request(), [policy(allow("EC2:createtags"))]).allowed
    assert evaluate(request(), [policy(allow("ec2:Create?ags"))]).allowed
    assert evaluate(request(), [policy({"Effect": "Allow", "NotAction": "ec2:Delete*", "Resource": "*"})]).allowed
    assert not evaluate(request(), [policy({"Effect": "Allow", "NotAction": "ec2:Create*", "Resource": "*"})]).allowed


@pytest.mark.parametrize(
    "pattern, arn, matches",
    [
        (f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*", INSTANCE, True),
        ("arn:aws:ec2:*:*:instance/*", INSTANCE, True),
        (f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/*", INSTANCE, False),
        (f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef?", INSTANCE, True),
        # a * that ends a segment runs past colons: a log group's ARN ending in :* covers its streams
        (
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:irlab-t1:*",
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:irlab-t1:log-stream:2026/01/01/[$LATEST]abc",
            True,
        ),
        # a * inside a segment does not
        (
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:irlab-*-x",
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:irlab-t1:log-stream:a-x",
            False,
        ),
        # case-sensitive
        (f"arn:aws:ec2:us-east-1:{ACCOUNT}:Instance/*", INSTANCE, False),
    ],
)
def test_resources_match_segment_by_segment(pattern, arn, matches):
    """"You can use wildcard characters (* and ?) within any ARN segment ...
    If the * wildcard is the last character of a resource ARN segment, it can
    expand to match beyond the colon boundaries." Resource ARNs are
    case-sensitive."""
    assert evaluate(request(resource=arn), [policy(allow(resource=pattern))]).allowed is matches


def test_not_resource_matches_everything_else():
    statement = {"Effect": "Allow", "Action": "ec2:CreateTags", "NotResource": "arn:aws:ec2:*:*:volume/*"}
    assert evaluate(request(), [policy(statement)]).allowed
    assert not evaluate(request(resource=INSTANCE.replace("instance/", "volume/")), [policy(statement)]).allowed


def test_policy_variables_take_the_request_context():
    """${aws:PrincipalTag/team} in a Resource is the caller's tag; a variable
    without a value makes the element not match, unless it has a default;
    ${*} is a literal *; version 2008-10-17 has no variables."""
    statement = allow(resource="arn:aws:ec2:*:*:instance/${aws:PrincipalTag/instance}")
    assert evaluate(
        request(**{"aws:PrincipalTag/instance": "i-0123456789abcdef0"}), [policy(statement)]
    ).allowed
    assert not evaluate(request(), [policy(statement)]).allowed
    with_default = allow(resource="arn:aws:ec2:*:*:instance/${aws:PrincipalTag/instance, 'i-0123456789abcdef0'}")
    assert evaluate(request(), [policy(with_default)]).allowed
    literal = {"Version": "2008-10-17", "Statement": [allow(resource="arn:aws:ec2:*:*:instance/${*}")]}
    assert not evaluate(request(), [literal]).allowed


# ---------------------------------------------------------------- conditions


def test_several_operators_and_keys_are_anded_several_values_ored():
    condition = {
        "StringEquals": {"aws:ResourceTag/irlab:lab": ["t1", "t2"], "aws:RequestedRegion": "us-east-1"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    context = {"aws:ResourceTag/irlab:lab": "t2", "aws:RequestedRegion": "us-east-1", "aws:SecureTransport": "true"}
    assert holds(condition, **context)
    assert not holds(condition, **{**context, "aws:ResourceTag/irlab:lab": "t3"})
    assert not holds(condition, **{**context, "aws:SecureTransport": "false"})


def test_a_negated_operator_with_several_values_is_a_nor():
    condition = {"StringNotEquals": {"aws:ResourceTag/irlab:lab": ["t1", "t2"]}}
    assert holds(condition, **{"aws:ResourceTag/irlab:lab": "t3"})
    assert not holds(condition, **{"aws:ResourceTag/irlab:lab": "t2"})


def test_a_missing_key_fails_a_condition_except_negated_if_exists_and_null():
    """"If the key that you specify in a policy condition is not present in
    the request context, the values do not match and the condition is false.
    If the policy condition requires that the key is not matched, such as
    StringNotLike or ArnNotLike, and the right key is not present, the
    condition is true." ...IfExists is true without the key; Null tests
    presence."""
    assert not holds({"StringEquals": {"aws:ResourceTag/irlab:lab": "t1"}})
    assert holds({"StringNotLike": {"aws:ResourceTag/irlab:lab": "t*"}})
    assert holds({"ArnNotLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/x"}})
    assert holds({"StringEqualsIfExists": {"aws:ResourceTag/irlab:lab": "t1"}})
    assert not holds({"StringEqualsIfExists": {"aws:ResourceTag/irlab:lab": "t1"}}, **{"aws:ResourceTag/irlab:lab": "t2"})
    assert holds({"Null": {"aws:ResourceTag/irlab:lab": "true"}})
    assert not holds({"Null": {"aws:ResourceTag/irlab:lab": "false"}})
    assert holds({"Null": {"aws:ResourceTag/irlab:lab": "false"}}, **{"aws:ResourceTag/irlab:lab": "t1"})


def test_for_all_values_and_for_any_value_on_a_multivalued_key():
    """ForAllValues: every request value matches one of the policy's values,
    and true when the key is absent ("use ForAllValues with Allow carefully");
    ForAnyValue: at least one does, false when absent."""
    allowed_keys = {"ForAllValues:StringEquals": {"aws:TagKeys": ["irlab:lab", "irlab:instance"]}}
    assert holds(allowed_keys, **{"aws:TagKeys": ["irlab:lab"]})
    assert holds(allowed_keys, **{"aws:TagKeys": ["irlab:lab", "irlab:instance"]})
    assert not holds(allowed_keys, **{"aws:TagKeys": ["irlab:lab", "Name"]})
    assert holds(allowed_keys)  # no tags in the request: vacuously true
    any_key = {"ForAnyValue:StringLike": {"aws:TagKeys": "irlab:*"}}
    assert holds(any_key, **{"aws:TagKeys": ["Name", "irlab:lab"]})
    assert not holds(any_key, **{"aws:TagKeys": ["Name"]})
    assert not holds(any_key)
    assert not holds({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["irlab:lab"]}}, **{"aws:TagKeys": ["irlab:lab", "x"]})


def test_a_multivalued_key_needs_a_set_operator():
    """"Multivalued context keys require a condition set operator": the
    stand-in refuses to guess."""
    with pytest.raises(Unevaluable, match="set operator"):
        holds({"StringEquals": {"aws:TagKeys": "irlab:lab"}}, **{"aws:TagKeys": ["irlab:lab", "x"]})


def test_an_unknown_operator_fails_loudly_instead_of_matching():
    with pytest.raises(Unevaluable, match="unknown condition operator"):
        holds({"StringEqualz": {"aws:ResourceTag/irlab:lab": "t1"}}, **{"aws:ResourceTag/irlab:lab": "t1"})
    with pytest.raises(Unevaluable, match="set operator"):
        holds({"ForSomeValues:StringEquals": {"aws:TagKeys": "x"}}, **{"aws:TagKeys": ["x"]})


def test_a_key_the_context_cannot_supply_fails_loudly():
    strict = Context({}, strict=True)
    with pytest.raises(Unevaluable, match="ec2:Vpc"):
        condition_holds({"ArnEquals": {"ec2:Vpc": "arn:aws:ec2:us-east-1:1:vpc/vpc-1"}}, strict)


def test_key_names_are_case_insensitive_values_are_not():
    assert holds({"StringEquals": {"AWS:RESOURCETAG/irlab:lab": "t1"}}, **{"aws:ResourceTag/irlab:lab": "t1"})
    assert not holds({"StringEquals": {"aws:ResourceTag/irlab:lab": "T1"}}, **{"aws:ResourceTag/irlab:lab": "t1"})
    assert holds({"StringEqualsIgnoreCase": {"aws:ResourceTag/irlab:lab": "T1"}}, **{"aws:ResourceTag/irlab:lab": "t1"})


@pytest.mark.parametrize(
    "condition, context, expected",
    [
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": False}, True),
        ({"NumericLessThanEquals": {"ec2:VolumeSize": "100"}}, {"ec2:VolumeSize": "8"}, True),
        ({"NumericGreaterThan": {"ec2:VolumeSize": "100"}}, {"ec2:VolumeSize": "8"}, False),
        ({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2026-12-01T12:00:00Z"}, True),
        ({"DateGreaterThan": {"aws:TokenIssueTime": "2026-12-02T00:00:00Z"}}, {"aws:TokenIssueTime": "2026-12-01T12:00:00Z"}, False),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, True),
        ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:events:us-east-1:*:rule/irlab-*"}},
            {"aws:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/irlab-t1-playbook"},
            True,
        ),
        (
            {"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-1"}},
            {"ec2:Vpc": f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-2"},
            False,
        ),
        ({"StringLike": {"aws:ResourceTag/Name": "irlab-*-victim"}}, {"aws:ResourceTag/Name": "irlab-t1-victim"}, True),
    ],
)
def test_operator_families(condition, context, expected):
    assert holds(condition, **context) is expected


# ---------------------------------------------------------------- resource-based policies and boundaries


def test_a_resource_policy_naming_the_role_allows_without_an_identity_policy():
    """Within one account, a resource-based policy that grants the principal
    (its role or session ARN) allows the request even if no identity-based
    policy does; one that names only the account delegates to the identity
    policies."""
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
    grant = lambda principal: policy({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sns:Publish", "Resource": topic})  # noqa: E731
    publish = request("sns:Publish", topic)
    assert evaluate(publish, [], grant(ROLE)).allowed
    assert evaluate(publish, [], grant(SESSION)).allowed
    assert evaluate(publish, [], grant("*")).allowed
    assert not evaluate(publish, [], grant(ACCOUNT)).allowed
    assert evaluate(publish, [policy(allow("sns:Publish"))], grant(ACCOUNT)).allowed


def test_an_explicit_deny_in_a_resource_policy_wins():
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
    tls_only = policy(
        {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": topic,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    )
    plain = Request("sns:Publish", topic, ME, Context({"aws:SecureTransport": "false"}))
    decision = evaluate(plain, [policy(allow("sns:*"))], tls_only)
    assert not decision.allowed and decision.explicit
    assert decision.reason("sns:Publish") == "with an explicit deny in a resource-based policy"
    tls = Request("sns:Publish", topic, ME, Context({"aws:SecureTransport": "true"}))
    assert evaluate(tls, [policy(allow("sns:*"))], tls_only).allowed


def test_a_permissions_boundary_limits_what_identity_policies_allow():
    """"An entity's permissions boundary allows it to perform only the
    actions that are allowed by both its identity-based policies and its
    permissions boundaries.\""""
    boundary = policy(allow("ec2:Describe*"))
    decision = evaluate(request(), [policy(allow("ec2:*"))], boundary=boundary)
    assert not decision.allowed and decision.reason("ec2:CreateTags").endswith("no permissions boundary policy allows the ec2:CreateTags action")
    assert evaluate(request("ec2:DescribeInstances", "*"), [policy(allow("ec2:*"))], boundary=boundary).allowed


def test_a_service_principal_needs_the_resource_policy_and_its_conditions():
    """A service acting on a customer's behalf (EventBridge delivering, a
    service assuming a role) is allowed by the resource's policy only, for
    statements naming it (global or Regional name), under their conditions
    (aws:SourceArn, aws:SourceAccount)."""
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/irlab-t1-playbook"
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"
    queue_policy = policy(
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
         "Resource": queue, "Condition": {"ArnEquals": {"aws:SourceArn": rule}}}
    )
    events = Principal(account=ACCOUNT, service="events.amazonaws.com")
    assert service_allowed(queue_policy, Request("sqs:SendMessage", queue, events, Context({"aws:SourceArn": rule}))).allowed
    other = Context({"aws:SourceArn": rule.replace("t1", "t2")})
    assert not service_allowed(queue_policy, Request("sqs:SendMessage", queue, events, other)).allowed
    sns = Principal(account=ACCOUNT, service="sns.amazonaws.com")
    assert not service_allowed(queue_policy, Request("sqs:SendMessage", queue, sns, Context({"aws:SourceArn": rule}))).allowed
    trust = policy({"Effect": "Allow", "Principal": {"Service": "states.us-east-1.amazonaws.com"}, "Action": "sts:AssumeRole"})
    states = Principal(account=ACCOUNT, service="states.amazonaws.com")
    assert service_allowed(trust, Request("sts:AssumeRole", ROLE, states, Context())).allowed
