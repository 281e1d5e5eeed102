"""Resource-based policies as AWS evaluates them when a service principal
(``events.amazonaws.com``, ``sns.amazonaws.com`` ...) calls a resource on a
customer's behalf: EventBridge delivering to a queue, topic or function, SNS
invoking a function.

Only statements naming the service principal (or ``*``) count; an explicit
``Deny`` wins; the ``Condition`` operators ``String*``/``Arn*`` (with
``IfExists``) and ``Bool`` are evaluated against the request context the
service supplies (``aws:SourceArn``, ``aws:SourceAccount``,
``aws:SecureTransport`` ...; keys compare case-insensitively, as IAM's do). An
operator this evaluator does not know never matches, so an unknown condition
denies rather than allows.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        if "*" in as_list(principal.get("AWS")):
            return True
        return service in as_list(principal.get("Service"))
    return False


def action_matches(actions: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in as_list(actions))


def condition_matches(condition: Any, context: dict[str, str]) -> bool:
    for operator, clauses in (condition or {}).items():
        op = operator.split(":")[-1]  # ForAnyValue:/ForAllValues: on single values
        if_exists = op.endswith("IfExists")
        if if_exists:
            op = op[: -len("IfExists")]
        for key, expected in (clauses or {}).items():
            actual = context.get(key.lower())
            if actual is None:
                if if_exists:
                    continue
                return False
            wanted = [str(v) for v in as_list(expected)]
            if op in ("StringEquals", "ArnEquals"):
                ok = actual in wanted
            elif op == "StringEqualsIgnoreCase":
                ok = actual.lower() in [w.lower() for w in wanted]
            elif op in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(actual, w) for w in wanted)
            elif op in ("StringNotEquals", "ArnNotEquals"):
                ok = actual not in wanted
            elif op in ("StringNotLike", "ArnNotLike"):
                ok = not any(fnmatch.fnmatchcase(actual, w) for w in wanted)
            elif op == "Bool":
                ok = actual.lower() in [w.lower() for w in wanted]
            else:
                return False  # an operator this evaluator does not know never matches
            if not ok:
                return False
    return True


def service_allows(policy: Any, action: str, service: str, context: dict[str, str]) -> bool:
    """Whether ``policy`` (a document, its JSON text, or None) lets the
    service principal ``service`` do ``action`` in ``context`` (condition key
    -> value; the keys are lower-cased here)."""
    if not policy:
        return False
    document = json.loads(policy) if isinstance(policy, str) else policy
    context = {k.lower(): v for k, v in context.items()}
    context.setdefault("aws:principalservicename", service)
    allowed = False
    for statement in as_list(document.get("Statement")):
        if "NotPrincipal" in statement or "NotAction" in statement:
            continue
        if not principal_matches(statement.get("Principal"), service):
            continue
        if not action_matches(statement.get("Action"), action):
            continue
        if not condition_matches(statement.get("Condition"), context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed
