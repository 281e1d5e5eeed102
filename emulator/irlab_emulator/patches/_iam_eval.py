"""IAM policy evaluation, as AWS documents it (pure: no moto, no I/O).

"Policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html),
for a request in one account:

1. an explicit ``Deny`` in any applicable policy (identity-based,
   resource-based, permissions boundary, session policy) denies;
2. a resource-based policy that allows the principal itself (its role ARN,
   its session ARN, or ``*``) allows (a permissions boundary still limits a
   grant to the role ARN); a grant to the account only delegates to the
   account's identity-based policies;
3. otherwise an identity-based policy must allow, and so must the
   permissions boundary and the session policy when there are any;
4. otherwise the request is implicitly denied.

A statement applies when its ``Effect`` is Allow/Deny, its ``Principal``
(resource-based policies) names the caller, its ``Action``/``NotAction``
matches (case-insensitive, ``*`` and ``?``), its ``Resource``/``NotResource``
matches (case-sensitive; a ``*`` that ends a colon-separated segment may run
past colons, one inside a segment may not; policy variables ``${aws:...}``,
``${*}``, ``${?}``, ``${$}`` and ``${key, 'default'}`` in policies of version
2012-10-17) and every ``Condition`` holds:

* several operators, and several keys under one operator: all must hold
  (AND); several values for one key: any (OR) - NOR for the negated
  operators ("Conditions with multiple context keys or values",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html);
* a key absent from the request context: the condition is false, except for
  the negated operators (``StringNotEquals``, ``ArnNotLike`` ...), which are
  true; ``...IfExists`` is true when the key is absent; ``Null`` tests
  presence ("Condition operators",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html);
* ``ForAllValues:`` holds when every value of a multivalued key matches (and
  when the key is absent or empty); ``ForAnyValue:`` when at least one does
  (false when absent) ("Set operators for multivalued context keys",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html);
* condition key names are case-insensitive, values case-sensitive except for
  the ``...IgnoreCase`` operators; ``Bool`` compares ``true``/``false``.

What the evaluator cannot decide faithfully fails loudly with
:class:`Unevaluable` instead of matching or not matching silently: an unknown
condition operator, a multivalued key under an operator without a set
operator (AWS requires one), a key the request context cannot supply (see
:class:`Context`).
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import functools
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


class Unevaluable(Exception):
    """A policy, condition or request the stand-in cannot evaluate as AWS
    would; the request is refused with this message rather than decided
    silently."""


ABSENT = None

IDENTITY = "identity-based"
RESOURCE = "resource-based"
BOUNDARY = "permissions boundary"
SESSION = "session"


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


# --------------------------------------------------------------------------
# the request


class Context:
    """Condition keys of one request.  ``values`` maps keys (any case) to a
    string (single-valued key), a list of strings (multivalued key) or None
    (known to be absent).  A key not in ``values`` goes to ``resolve`` (which
    returns a value, None for absent, or raises :class:`Unevaluable`);
    without a resolver it is absent when ``strict`` is false, else
    unevaluable."""

    def __init__(
        self,
        values: dict[str, Any] | None = None,
        resolve: Callable[[str], Any] | None = None,
        strict: bool = False,
    ):
        self.values = {k.lower(): v for k, v in (values or {}).items()}
        self.resolve = resolve
        self.strict = strict

    def get(self, key: str) -> Any:
        lowered = key.lower()
        if lowered in self.values:
            value = self.values[lowered]
        elif self.resolve is not None:
            value = self.resolve(key)
            self.values[lowered] = value
        elif self.strict:
            raise Unevaluable(f"the condition key {key} is not known to the irlab stand-in for this request")
        else:
            value = ABSENT
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        return value


@dataclass
class Principal:
    """Who makes the request: an IAM role session (``arn`` the session ARN
    ``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION``, ``role_arn`` the
    role's ARN) or a service principal (``service``, e.g.
    ``events.amazonaws.com``)."""

    account: str
    arn: str = ""
    role_arn: str = ""
    service: str = ""

    def names(self) -> set[str]:
        return {n for n in (self.arn, self.role_arn) if n}


@dataclass
class Request:
    action: str  # "ec2:CreateTags"
    resource: str  # an ARN, or "*" for actions without resource types
    principal: Principal
    context: Context = field(default_factory=Context)


@dataclass
class Decision:
    allowed: bool
    explicit: bool = False  # denied by a Deny statement
    policy_type: str = IDENTITY  # which kind of policy denied (or failed to allow)
    statement: str | None = None  # Sid (or index) of the deciding statement

    def reason(self, action: str) -> str:
        """The end of AWS's access-denied message."""
        if self.explicit:
            return f"with an explicit deny in {_article(self.policy_type)} {self.policy_type} policy"
        return f"because no {self.policy_type} policy allows the {action} action"


def _article(policy_type: str) -> str:
    return "a" if policy_type in (RESOURCE, BOUNDARY, SESSION) else "an"


def denied_message(principal_arn: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's text for a denied request: "User: ARN is not authorized to
    perform: ACTION on resource: RESOURCE because no identity-based policy
    allows the ACTION action" ("Troubleshoot access denied error messages",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)."""
    return (
        f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} "
        f"{decision.reason(action)}"
    )


# --------------------------------------------------------------------------
# policies


def parse(document: Any) -> dict[str, Any]:
    """A policy document from its JSON text (or URL-encoded JSON, as IAM
    returns it) or as an object."""
    if isinstance(document, (bytes, bytearray)):
        document = document.decode("utf-8")
    if isinstance(document, str):
        text = document.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            from urllib.parse import unquote

            text = unquote(text)
        try:
            document = json.loads(text)
        except ValueError:
            import ast

            try:  # moto stores some documents as Python reprs
                document = ast.literal_eval(text)
            except (ValueError, SyntaxError) as exc:
                raise Unevaluable(f"a policy document is not JSON: {text[:200]}") from exc
    if not isinstance(document, dict):
        raise Unevaluable(f"a policy document is not a JSON object: {str(document)[:200]}")
    return document


def statements(document: Any) -> list[dict[str, Any]]:
    doc = parse(document)
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, dict)]


def _version(document: Any) -> str:
    try:
        return str(parse(document).get("Version") or "2008-10-17")
    except Unevaluable:
        return "2008-10-17"


# --------------------------------------------------------------------------
# matching


@functools.lru_cache(maxsize=4096)
def _action_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern.lower()), re.DOTALL)


def action_matches(patterns: Any, action: str) -> bool:
    lowered = action.lower()
    return any(_action_regex(str(p)).match(lowered) for p in as_list(patterns))


@functools.lru_cache(maxsize=4096)
def _arn_regex(pattern: str) -> re.Pattern[str]:
    """``*`` within a colon-separated segment matches inside it; a ``*`` that
    ends a segment may run past colons ("IAM JSON policy elements: Resource",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html)."""
    out = []
    for i, char in enumerate(pattern):
        if char == "*":
            following = pattern[i + 1] if i + 1 < len(pattern) else ""
            out.append(".*" if following in ("", ":") else "[^:]*")
        elif char == "?":
            out.append("[^:]")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def arn_matches(pattern: str, arn: str) -> bool:
    if pattern == "*":
        return True
    if arn == "*":
        return pattern == "*"
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return bool(_arn_regex(pattern).match(arn))
    for want, have in zip(pattern_parts[:5], arn_parts[:5]):
        if not _arn_regex(want).match(have):
            return False
    return bool(_arn_regex(pattern_parts[5]).match(arn_parts[5]))


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class _Missing(Exception):
    pass


def substitute(text: str, context: Context, version: str) -> str:
    """Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team}``,
    ``${*}``, ``${?}``, ``${$}``, ``${key, 'default'}``) in policies of
    version 2012-10-17 ("IAM policy elements: Variables and tags",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
    Raises _Missing when a variable without a default has no value: the
    element then does not match."""
    if version != "2012-10-17" or "${" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        if inner in ("*", "?", "$"):
            return inner
        key, _, default = inner.partition(",")
        value = context.get(key.strip())
        if isinstance(value, list):
            raise Unevaluable(f"the multivalued key {key.strip()} cannot be a policy variable")
        if value is ABSENT:
            default = default.strip()
            if default.startswith("'") and default.endswith("'") and len(default) >= 2:
                return default[1:-1]
            raise _Missing(key)
        return str(value)

    return _VARIABLE.sub(replace, text)


def resource_matches(statement: dict[str, Any], resource: str, context: Context, version: str) -> bool:
    if "Resource" in statement:
        patterns, negated = as_list(statement["Resource"]), False
    elif "NotResource" in statement:
        patterns, negated = as_list(statement["NotResource"]), True
    else:
        return True  # a resource-based policy's statement about the resource it is attached to
    hit = False
    for pattern in patterns:
        try:
            if arn_matches(substitute(str(pattern), context, version), resource):
                hit = True
                break
        except _Missing:
            continue
    return hit != negated


def _service_names(service: str) -> set[str]:
    """A service principal and its Regional form (``states.amazonaws.com``,
    ``states.us-east-1.amazonaws.com``)."""
    return {service.lower()}


def principal_matches(element: Any, principal: Principal) -> tuple[bool, bool]:
    """(matches, direct): whether a ``Principal`` element names the caller,
    and whether it names the caller itself (role, session, service or ``*``)
    rather than only its account."""
    if element == "*":
        return True, True
    if not isinstance(element, dict):
        return False, False
    if principal.service:
        wanted = principal.service.lower()
        for name in as_list(element.get("Service")):
            name = str(name).lower()
            if name == wanted or (
                name.endswith(".amazonaws.com")
                and wanted.endswith(".amazonaws.com")
                and name.split(".")[0] == wanted.split(".")[0]
            ):
                return True, True
        if "*" in [str(a) for a in as_list(element.get("AWS"))]:
            return True, True
        return False, False
    account_hit = False
    for name in as_list(element.get("AWS")):
        name = str(name)
        if name == "*":
            return True, True
        if name in principal.names():
            return True, True
        if name == principal.account or name == f"arn:aws:iam::{principal.account}:root" or re.fullmatch(
            rf"arn:aws[a-z-]*:iam::{principal.account}:root", name
        ):
            account_hit = True
    return account_hit, False


# --------------------------------------------------------------------------
# conditions

_STRING_OPS = {
    "StringEquals": (False, lambda have, want: have == want),
    "StringNotEquals": (True, lambda have, want: have == want),
    "StringEqualsIgnoreCase": (False, lambda have, want: have.lower() == want.lower()),
    "StringNotEqualsIgnoreCase": (True, lambda have, want: have.lower() == want.lower()),
    "StringLike": (False, lambda have, want: bool(_like(want).match(have))),
    "StringNotLike": (True, lambda have, want: bool(_like(want).match(have))),
    "ArnEquals": (False, lambda have, want: arn_matches(want, have)),
    "ArnLike": (False, lambda have, want: arn_matches(want, have)),
    "ArnNotEquals": (True, lambda have, want: arn_matches(want, have)),
    "ArnNotLike": (True, lambda have, want: arn_matches(want, have)),
}
# operators whose values may hold policy variables
_VARIABLE_OPS = set(_STRING_OPS)


@functools.lru_cache(maxsize=4096)
def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.DOTALL)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _date(text: str) -> datetime.datetime | None:
    text = str(text).strip()
    number = _number(text)
    if number is not None:
        return datetime.datetime.fromtimestamp(number, tz=datetime.timezone.utc)
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def _compare(kind: Callable[[str], Any], op: Callable[[Any, Any], bool]) -> Callable[[str, str], bool]:
    def check(have: str, want: str) -> bool:
        a, b = kind(have), kind(want)
        return a is not None and b is not None and op(a, b)

    return check


def _ip(have: str, want: str) -> bool:
    try:
        return ipaddress.ip_address(have) in ipaddress.ip_network(want, strict=False)
    except ValueError:
        return False


def _binary(have: str, want: str) -> bool:
    try:
        return base64.b64decode(want) == (have.encode() if isinstance(have, str) else have)
    except ValueError:
        return False


_OTHER_OPS = {
    "NumericEquals": (False, _compare(_number, lambda a, b: a == b)),
    "NumericNotEquals": (True, _compare(_number, lambda a, b: a == b)),
    "NumericLessThan": (False, _compare(_number, lambda a, b: a < b)),
    "NumericLessThanEquals": (False, _compare(_number, lambda a, b: a <= b)),
    "NumericGreaterThan": (False, _compare(_number, lambda a, b: a > b)),
    "NumericGreaterThanEquals": (False, _compare(_number, lambda a, b: a >= b)),
    "DateEquals": (False, _compare(_date, lambda a, b: a == b)),
    "DateNotEquals": (True, _compare(_date, lambda a, b: a == b)),
    "DateLessThan": (False, _compare(_date, lambda a, b: a < b)),
    "DateLessThanEquals": (False, _compare(_date, lambda a, b: a <= b)),
    "DateGreaterThan": (False, _compare(_date, lambda a, b: a > b)),
    "DateGreaterThanEquals": (False, _compare(_date, lambda a, b: a >= b)),
    "Bool": (False, lambda have, want: str(have).lower() == str(want).lower()),
    "BinaryEquals": (False, _binary),
    "IpAddress": (False, _ip),
    "NotIpAddress": (True, _ip),
}
OPERATORS = {**_STRING_OPS, **_OTHER_OPS}


def _policy_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def condition_holds(condition: Any, context: Context, version: str = "2012-10-17") -> bool:
    """Whether a statement's ``Condition`` element holds in ``context``."""
    if not condition:
        return True
    if not isinstance(condition, dict):
        raise Unevaluable(f"a Condition element is not an object: {condition!r}")
    for operator, clauses in condition.items():
        if not isinstance(clauses, dict):
            raise Unevaluable(f"the condition operator {operator} has no key/value block")
        for key, wanted in clauses.items():
            if not _clause_holds(str(operator), str(key), wanted, context, version):
                return False
    return True


def _clause_holds(operator: str, key: str, wanted: Any, context: Context, version: str) -> bool:
    set_op = ""
    name = operator
    if ":" in operator:
        set_op, _, name = operator.partition(":")
        if set_op not in ("ForAllValues", "ForAnyValue"):
            raise Unevaluable(f"unknown condition set operator {set_op!r} in {operator!r}")
    if_exists = name.endswith("IfExists") and name != "IfExists"
    base = name[: -len("IfExists")] if if_exists else name
    values = [_policy_value(v) for v in as_list(wanted)]

    if base == "Null":
        if set_op or if_exists:
            raise Unevaluable(f"the condition operator {operator} is not valid")
        have = context.get(key)
        absent = have is ABSENT or (isinstance(have, list) and not have)
        return any((absent if v.lower() == "true" else not absent) for v in values)

    if base not in OPERATORS:
        raise Unevaluable(f"unknown condition operator {operator!r} (key {key})")
    negated, match = OPERATORS[base]
    if base in _VARIABLE_OPS:
        expanded = []
        for v in values:
            try:
                expanded.append(substitute(v, context, version))
            except _Missing:
                continue  # a value whose variable has no value matches nothing
        values = expanded

    have = context.get(key)
    if have is ABSENT:
        if set_op == "ForAllValues":
            return True
        if set_op == "ForAnyValue":
            return False
        return True if (if_exists or negated) else False

    def one(item: str) -> bool:
        hit = any(match(item, v) for v in values)
        return not hit if negated else hit

    if set_op:
        items = [str(i) for i in as_list(have)]
        if set_op == "ForAllValues":
            return all(one(i) for i in items)
        return bool(items) and any(one(i) for i in items)
    if isinstance(have, list):
        raise Unevaluable(
            f"the condition key {key} has several values in this request and {operator} has no set "
            "operator (ForAllValues: or ForAnyValue:); AWS requires one for a multivalued key"
        )
    return one(str(have))


# --------------------------------------------------------------------------
# statements and policies


def _statement_id(statement: dict[str, Any], index: int) -> str:
    return str(statement.get("Sid") or f"#{index}")


def matching(
    document: Any,
    request: Request,
    effect: str,
    resource_based: bool = False,
) -> list[tuple[str, bool]]:
    """(statement id, direct principal) of each statement of ``document``
    with ``effect`` that applies to ``request``."""
    if document is None:
        return []
    version = _version(document)
    found = []
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") != effect:
            continue
        direct = True
        if resource_based:
            if "Principal" in statement:
                hit, direct = principal_matches(statement["Principal"], request.principal)
                if not hit:
                    continue
            elif "NotPrincipal" in statement:
                hit, _ = principal_matches(statement["NotPrincipal"], request.principal)
                if hit:
                    continue
            else:
                continue
        if "Action" in statement:
            if not action_matches(statement["Action"], request.action):
                continue
        elif "NotAction" in statement:
            if action_matches(statement["NotAction"], request.action):
                continue
        else:
            continue
        if not resource_matches(statement, request.resource, request.context, version):
            continue
        if not condition_holds(statement.get("Condition"), request.context, version):
            continue
        found.append((_statement_id(statement, index), direct))
    return found


def _first_deny(kind: str, documents: Iterable[Any], request: Request, resource_based: bool = False) -> Decision | None:
    for document in documents:
        hits = matching(document, request, "Deny", resource_based)
        if hits:
            return Decision(False, explicit=True, policy_type=kind, statement=hits[0][0])
    return None


def _allows(documents: Iterable[Any], request: Request) -> str | None:
    for document in documents:
        hits = matching(document, request, "Allow")
        if hits:
            return hits[0][0]
    return None


def evaluate(
    request: Request,
    identity_policies: Iterable[Any] = (),
    resource_policy: Any = None,
    boundary: Any = None,
    session_policies: Iterable[Any] = (),
) -> Decision:
    """The decision for ``request`` in one account (see the module doc)."""
    identity_policies = list(identity_policies)
    session_policies = list(session_policies)
    for kind, documents, resource_based in (
        (RESOURCE, [resource_policy] if resource_policy is not None else [], True),
        (IDENTITY, identity_policies, False),
        (BOUNDARY, [boundary] if boundary is not None else [], False),
        (SESSION, session_policies, False),
    ):
        denied = _first_deny(kind, documents, request, resource_based)
        if denied:
            return denied
    if resource_policy is not None:
        grants = matching(resource_policy, request, "Allow", resource_based=True)
        direct = [sid for sid, is_direct in grants if is_direct]
        if direct:
            # a grant to the session ARN itself is not limited by a boundary
            by_session = bool(request.principal.arn) and _names_session(resource_policy, request.principal)
            if boundary is None or by_session or _allows([boundary], request):
                return Decision(True, statement=direct[0])
    allowed_by = _allows(identity_policies, request)
    if allowed_by is None:
        return Decision(False, policy_type=IDENTITY)
    if boundary is not None and _allows([boundary], request) is None:
        return Decision(False, policy_type=BOUNDARY)
    if session_policies and _allows(session_policies, request) is None:
        return Decision(False, policy_type=SESSION)
    return Decision(True, statement=allowed_by)


def _names_session(document: Any, principal: Principal) -> bool:
    for statement in statements(document):
        element = statement.get("Principal")
        if isinstance(element, dict) and principal.arn in [str(a) for a in as_list(element.get("AWS"))]:
            return True
    return False


def service_allowed(policy: Any, request: Request) -> Decision:
    """The decision for a service principal (``request.principal.service``)
    acting on a resource through its resource-based policy alone (EventBridge
    delivering to a queue, SNS invoking a function, a service assuming a role
    through the role's trust policy)."""
    if policy is None:
        return Decision(False, policy_type=RESOURCE)
    denied = _first_deny(RESOURCE, [policy], request, resource_based=True)
    if denied:
        return denied
    grants = matching(policy, request, "Allow", resource_based=True)
    if grants:
        return Decision(True, statement=grants[0][0])
    return Decision(False, policy_type=RESOURCE)
