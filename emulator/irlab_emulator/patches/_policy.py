"""Resource-based policies as AWS evaluates them when a service principal
(``events.amazonaws.com``, ``sns.amazonaws.com`` ...) calls a resource on a
customer's behalf: EventBridge delivering to a queue, topic or function, SNS
invoking a function.

The decision is IAM's (``_iam_eval``): only statements whose ``Principal``
names the service principal (or ``*``) count, ``Action``/``NotAction`` and
``Resource``/``NotResource`` must match the request, an explicit ``Deny``
wins, and every ``Condition`` is evaluated against the request context the
service supplies (``aws:SourceArn``, ``aws:SourceAccount``,
``aws:SecureTransport`` ... - key names case-insensitive, as IAM's are).  A
condition the stand-in cannot evaluate (an unknown operator or key) raises
``_iam_eval.Unevaluable``: it neither allows nor denies silently.
"""

from __future__ import annotations

from typing import Any

from . import _iam_eval

Unevaluable = _iam_eval.Unevaluable

# keys a service principal's request carries, or is known not to carry
_SERVICE_ABSENT_KEYS = {
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:userid",
    "aws:username",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:viaawsservice",
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:multifactorauthpresent",
    "aws:multifactorauthage",
    "aws:referer",
    "aws:sourceidentity",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
}


def as_list(value: Any) -> list[Any]:
    return _iam_eval.as_list(value)


def service_context(service: str, context: dict[str, Any]) -> _iam_eval.Context:
    values = {k.lower(): v for k, v in context.items()}
    values.setdefault("aws:principalservicename", service)
    values.setdefault("aws:principalisawsservice", "true")
    values.setdefault("aws:securetransport", "true")
    if "aws:sourceaccount" in values:
        values.setdefault("aws:sourceowner", values["aws:sourceaccount"])

    def resolve(key: str) -> Any:
        from . import _iam_sar

        lowered = key.lower()
        if lowered in _SERVICE_ABSENT_KEYS or lowered.startswith(("aws:principaltag/", "aws:requesttag/")):
            return None
        if lowered in ("aws:sourcearn", "aws:sourceaccount", "aws:tagkeys"):
            return None
        if _iam_sar.is_global_key(key):
            raise Unevaluable(f"the irlab stand-in does not model the key {key} for a request of {service}")
        prefix = lowered.split(":", 1)[0]
        if _iam_sar.key_listed(key, _iam_sar.service_keys(prefix)):
            return None  # a service key that a delivery by a service principal does not carry
        raise Unevaluable(f"unknown condition key {key}: the Service Authorization Reference has no such key")

    return _iam_eval.Context(values, resolve=resolve)


def service_decision(policy: Any, action: str, service: str, context: dict[str, Any], resource: str) -> _iam_eval.Decision:
    account = str(context.get("aws:SourceAccount") or context.get("aws:sourceaccount") or "")
    request = _iam_eval.Request(
        action, resource, _iam_eval.Principal(account=account, service=service), service_context(service, context)
    )
    return _iam_eval.service_allowed(policy, request)


def service_allows(policy: Any, action: str, service: str, context: dict[str, Any], resource: str = "*") -> bool:
    """Whether ``policy`` (a document, its JSON text, or None) lets the
    service principal ``service`` do ``action`` on ``resource`` in
    ``context`` (condition key -> value).  Raises Unevaluable."""
    if not policy:
        return False
    if resource == "*":
        # the policy of the resource itself: its statements are about it
        document = _iam_eval.parse(policy)
        policy = {
            **document,
            "Statement": [
                {k: v for k, v in s.items() if k not in ("Resource", "NotResource")}
                for s in _iam_eval.statements(document)
                if "NotResource" not in s
            ],
        }
    return service_decision(policy, action, service, context, resource).allowed
