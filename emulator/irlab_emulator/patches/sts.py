"""STS ``AssumeRole`` refuses what AWS refuses.

moto 5.2.5 hands out credentials for any role ARN, existing or not, whatever
its trust policy says ("the role does not need to exist"), so a class roster
naming a role an attendee's account does not have, or one that does not trust
the instructor, works in the stand-in and fails in the workshop.  Here the role
must exist in its account and its trust policy must allow the caller (a user's
credentials, as the instructor's; a role session's AssumeRole is authorised by
``_iam_enforce.py`` with the session's policies too):

* an ``Allow`` statement for ``sts:AssumeRole`` (or ``sts:*`` / ``*``) whose
  ``Principal`` ``AWS`` names the caller's account (``123456789012`` or
  ``arn:aws:iam::123456789012:root``), the caller's own ARN, or ``*``;
* no ``Deny`` statement that matches;
* conditions: ``sts:ExternalId`` with ``StringEquals`` (the roster's
  ``external_id``); a statement with any other condition does not match, so a
  trust the stand-in cannot evaluate fails closed.

Otherwise ``AccessDenied``: "User: CALLER is not authorized to perform:
sts:AssumeRole on resource: ROLE" (with HTTP 400, where AWS answers 403).

https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html (sts:ExternalId)

Every role session records the moment STS issued it (``irlab_issued``), which
the IAM enforcement gives policies as ``aws:TokenIssueTime``; moto keeps only
the expiration, from which the issue time cannot be told when
``DurationSeconds`` was not the default.  That key is what revoking a role's
active sessions rests on: a deny-all inline policy conditioned on
``DateLessThan aws:TokenIssueTime`` (IAM user guide, "Revoke IAM role temporary
security credentials",
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, caller_account: str, caller_arn: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for p in _as_list(principal.get("AWS")):
        p = str(p)
        if p in ("*", caller_account, f"arn:aws:iam::{caller_account}:root", caller_arn):
            return True
    return False


def _action_matches(action: Any) -> bool:
    return any(str(a).lower() in ("sts:assumerole", "sts:*", "*") for a in _as_list(action))


def _conditions_hold(conditions: Any, external_id: str | None) -> bool:
    for operator, keys in (conditions or {}).items():
        for key, expected in (keys or {}).items():
            if operator == "StringEquals" and key.lower() == "sts:externalid":
                if external_id is None or external_id not in [str(v) for v in _as_list(expected)]:
                    return False
            else:
                return False
    return True


def trusts(document: Any, caller_account: str, caller_arn: str, external_id: str | None) -> bool:
    """AWS's trust evaluation, as far as the lab's rosters need it."""
    if isinstance(document, str):
        document = json.loads(unquote(document))
    allowed = False
    for st in _as_list(document.get("Statement")):
        if not (_action_matches(st.get("Action")) and _principal_matches(st.get("Principal"), caller_account, caller_arn)):
            continue
        if not _conditions_hold(st.get("Condition"), external_id):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow":
            allowed = True
    return allowed


def _find_role(role_arn: str) -> Any | None:
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) != 6 or not parts[5].startswith("role/"):
        return None
    account = parts[4]
    if account not in iam_backends:
        return None
    for role in iam_backends[account]["aws"].roles.values():
        if role.arn == role_arn:
            return role
    return None


def _record_issue_time() -> None:
    """``AssumedRole.irlab_issued``: when STS issued the session (UTC)."""
    import datetime

    from moto.sts.models import AssumedRole

    if getattr(AssumedRole.__init__, "_irlab", False):
        return
    original = AssumedRole.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        duration = kwargs.get("duration", args[6] if len(args) > 6 else 3600)
        expiration = self.expiration
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=datetime.timezone.utc)
        self.irlab_issued = expiration - datetime.timedelta(seconds=int(duration or 3600))

    __init__._irlab = True  # type: ignore[attr-defined]
    AssumedRole.__init__ = __init__  # type: ignore[method-assign]


def apply() -> None:
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import sts_backends
    from moto.sts.responses import TokenResponse

    _record_issue_time()
    if getattr(TokenResponse.assume_role, "_irlab", False):
        return
    original = TokenResponse.assume_role

    def assume_role(self: Any) -> Any:
        role_arn = self._get_param("RoleArn") or ""
        external_id = self._get_param("ExternalId")
        caller_account = self.current_account
        assumed = sts_backends[caller_account]["aws"].get_assumed_role_from_access_key(self.get_access_key())
        if assumed is not None:
            # A role session's AssumeRole is authorised by the IAM enforcement
            # (_iam_enforce.py): the trust policy and the session's own policies.
            return original(self)
        caller_arn = f"arn:aws:sts::{caller_account}:user/moto"
        role = _find_role(role_arn)
        if role is None or not trusts(role.assume_role_policy_document, caller_account, caller_arn, external_id):
            # STS's error document (the SDKs read the code and message from it). AWS answers
            # HTTP 403; moto's serializer gives an error its model lacks 400.
            raise STSClientError(
                "AccessDenied",
                f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            )
        return original(self)

    assume_role._irlab = True  # type: ignore[attr-defined]
    TokenResponse.assume_role = assume_role  # type: ignore[method-assign]
