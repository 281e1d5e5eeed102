"""Nested stacks (``AWS::CloudFormation::Stack``) as CloudFormation runs them.

A nested stack is a stack of its own in the parent's account and Region, created
by the parent's engine while the parent waits, and visible to DescribeStacks and
ListStacks there
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stack.html):

* its name is ``<parent name>-<logical id>-<random suffix>`` (two parents from one
  wrapper never collide); ``ParentId`` is the direct parent's stack id and ``RootId``
  the top-level stack's; ``Ref`` answers the nested stack's ARN (its stack id);
  ``Fn::GetAtt [Child, Outputs.Name]`` its output (and ``StackId``, ``StackStatus``,
  ``ParentId``, ``RootId``, ``CreationTime``);
* it carries the parent's stack-level tags and the resource's ``Tags``, gets the
  resource's ``Parameters`` (resolved in the parent), ``NotificationARNs`` and
  ``TimeoutInMinutes``, and the parent's service role;
* the template is read from ``TemplateURL`` - an https S3 URL, virtual-hosted or
  path style, with or without the Region - in whichever account owns the bucket;
  another account's bucket must grant ``s3:GetObject`` to the reading account through
  its bucket policy (the account, or ``*`` with ``aws:PrincipalOrgID`` equal to the
  reader's organization); otherwise the resource fails with S3's "Access Denied";
* a nested stack that fails to create stays ``CREATE_FAILED`` (it does not roll back
  on its own) and fails the parent's resource with "Embedded stack ARN was not
  successfully created: <its reason>"; the parent's rollback then deletes it;
* updating the parent updates the nested stack in place (same stack id) when its
  TemplateURL, Parameters or the template behind the URL changed; deleting the parent
  deletes it, in reverse dependency order;
* a nested stack may be deleted directly, except while its root stack has termination
  protection ("Stack [NAME] cannot be deleted while TerminationProtection is enabled",
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html).

moto 5.2.5 created the nested stack named exactly the logical id, ignored its tags,
set no ParentId/RootId, updated it by delete and create and read TemplateURL from the
caller's own account without a permission check.
"""

from __future__ import annotations

import contextvars
import logging
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from moto.cloudformation import models as cfn_models
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException, ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.utils import generate_stack_id
from moto.core.common_models import CloudFormationModel

from . import _cfn, _iam_eval

log = logging.getLogger("irlab_emulator.cloudformation")

STACK_TYPE = "AWS::CloudFormation::Stack"
MAX_STACK_NAME = 128
# S3's error document, which CloudFormation names after "S3 error: Access Denied"
S3_ERRORS_DOC = "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
S3_ACCESS_DENIED = f"S3 error: Access Denied For more information check {S3_ERRORS_DOC}"

# set while the engine deletes a nested stack for its parent (not a user's DeleteStack)
_DELETING_FOR_PARENT: contextvars.ContextVar[bool] = contextvars.ContextVar("irlab_nested_delete", default=False)


class NestedStackFailure(Exception):
    """A nested stack resource failed; ``irlab_reason`` is the resource's status
    reason as CloudFormation words it (not a resource handler's message), and
    ``irlab_resource`` the nested stack when it exists (the parent's rollback or
    delete then removes it)."""

    def __init__(self, reason: str, resource: Any = None):
        super().__init__(reason)
        self.irlab_reason = reason
        self.irlab_resource = resource


# --------------------------------------------------------------------------
# TemplateURL


_S3_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?s3(?:[.-](?P<region>[a-z]{2}(?:-[a-z]+)+-\d))?(?:\.dualstack\.[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$"
)
_LOCAL_HOSTS = {"localhost", "127.0.0.1"}


def parse_template_url(url: str) -> tuple[str, str, str | None]:
    """(bucket, key, versionId) of an S3 TemplateURL: virtual-hosted
    (``https://BUCKET.s3.REGION.amazonaws.com/KEY``, also ``s3-REGION`` and no
    Region) or path style (``https://s3.REGION.amazonaws.com/BUCKET/KEY``); the
    stand-in's own endpoint (``http://localhost:PORT/BUCKET/KEY``) is read like
    a path-style URL. Anything else is refused as CloudFormation refuses it."""
    parsed = urlparse(url or "")
    host = (parsed.hostname or "").lower()
    version = (parse_qs(parsed.query).get("versionId") or [None])[0]
    path = unquote(parsed.path or "")
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        bucket, _, key = path.lstrip("/").partition("/")
        if bucket and key:
            return bucket, key, version
        raise NestedStackFailure("TemplateURL must be a supported URL.")
    match = _S3_HOST.match(host)
    if parsed.scheme != "https" or match is None:
        raise NestedStackFailure("TemplateURL must be a supported URL.")
    if match.group("bucket"):
        bucket, key = match.group("bucket"), path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key:
        raise NestedStackFailure("TemplateURL must be a supported URL.")
    return bucket, key, version


def organization_id(account: str) -> str | None:
    """The id of the organization ``account`` belongs to (moto's Organizations
    backend: the management account holds the organization, members are
    listed in ``master_accounts``), or None."""
    from moto.organizations.models import organizations_backends

    try:
        backend = organizations_backends[account]["aws"]
    except KeyError:
        return None
    if backend.org is not None:
        return backend.org.id
    management = organizations_backends.master_accounts.get(account)
    if management is None:
        return None
    org = organizations_backends[management[0]][management[1]].org
    return org.id if org is not None else None


def _reader(account: str) -> _iam_eval.Principal:
    """Who reads the template: the role session that asked for the stack
    operation when it is one of ``account``, else the account itself (an
    administrator's call, which the stand-in does not evaluate)."""
    from . import _iam_enforce

    session = _iam_enforce.current()
    if session is not None and session.account == account:
        return session.principal()
    return _iam_eval.Principal(account=account, arn=f"arn:aws:iam::{account}:root")


def _request_context(principal: _iam_eval.Principal) -> _iam_eval.Context:
    from . import _iam_sar

    values: dict[str, Any] = {
        "aws:principalaccount": principal.account,
        "aws:principalarn": principal.role_arn or principal.arn,
        "aws:principalorgid": organization_id(principal.account),
        "aws:principaltype": "AssumedRole" if principal.role_arn else "Account",
        "aws:securetransport": "true",
        "aws:principalisawsservice": "false",
    }

    def resolve(key: str) -> Any:
        lowered = key.lower()
        if lowered.startswith(("aws:requesttag/", "aws:resourcetag/")) or lowered == "aws:tagkeys":
            return None
        if _iam_sar.is_global_key(key):
            raise _iam_eval.Unevaluable(
                f"the irlab stand-in does not model the key {key} for CloudFormation reading a TemplateURL"
            )
        if _iam_sar.key_listed(key, _iam_sar.service_keys("s3")):
            raise _iam_eval.Unevaluable(
                f"the irlab stand-in does not model the key {key} for CloudFormation reading a TemplateURL"
            )
        raise _iam_eval.Unevaluable(f"unknown condition key {key}: the Service Authorization Reference has no such key")

    return _iam_eval.Context(values, resolve=resolve)


def _bucket_allows(bucket: Any, owner: str, principal: _iam_eval.Principal, action: str, resource: str) -> bool:
    """The bucket policy's part of S3's decision. In the bucket owner's account
    only an explicit Deny refuses (the identity side is the caller's, an
    administrator's here); from another account the policy must also grant the
    action to the reader (its account, its principal, or ``*`` under conditions)
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html
    """
    policy = bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy
    request = _iam_eval.Request(action, resource, principal, _request_context(principal))
    if policy:
        if _iam_eval.matching(policy, request, "Deny", resource_based=True):
            return False
        if _iam_eval.matching(policy, request, "Allow", resource_based=True):
            return True
    return principal.account == owner


def read_template(url: str, reader_account: str) -> str:
    """The template body at ``url`` as CloudFormation reads it for a stack in
    ``reader_account``, or :class:`NestedStackFailure` with S3's error."""
    from moto.s3.models import s3_backends

    bucket_name, key, version = parse_template_url(url)
    located = s3_backends.bucket_accounts.get(bucket_name)
    if located is None:
        raise NestedStackFailure("S3 error: The specified bucket does not exist")
    partition, owner = located
    backend = s3_backends[owner][partition]
    bucket = backend.buckets.get(bucket_name)
    if bucket is None:
        raise NestedStackFailure("S3 error: The specified bucket does not exist")
    principal = _reader(reader_account)
    try:
        if not _bucket_allows(bucket, owner, principal, "s3:GetObject", f"arn:aws:s3:::{bucket_name}/{key}"):
            raise NestedStackFailure(S3_ACCESS_DENIED)
        obj = backend.get_object(bucket_name, key, version_id=version)
        if obj is None:
            # S3 answers 404 only to a caller who may list the bucket, else 403
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
            if _bucket_allows(bucket, owner, principal, "s3:ListBucket", f"arn:aws:s3:::{bucket_name}"):
                raise NestedStackFailure("S3 error: The specified key does not exist.")
            raise NestedStackFailure(S3_ACCESS_DENIED)
    except _iam_eval.Unevaluable as exc:
        log.error("cannot evaluate the bucket policy of %s for TemplateURL %s: %s", bucket_name, url, exc)
        raise NestedStackFailure(f"IrlabUnevaluablePolicy: {exc}") from exc
    value = obj.value
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# --------------------------------------------------------------------------
# the resource


def _engine() -> Any:
    from . import cloudformation

    return cloudformation


def _backend(account_id: str, region_name: str) -> CloudFormationBackend:
    return cfn_models.cloudformation_backends[account_id][region_name]


def _parameters(props: dict[str, Any]) -> dict[str, str]:
    """Parameters as the nested stack receives them: strings (a list, which a
    CommaDelimitedList would be, joined with commas)."""
    out: dict[str, str] = {}
    for key, value in (props.get("Parameters") or {}).items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[str(key)] = str(value)
    return out


def _tags(parent: Stack | None, props: dict[str, Any]) -> dict[str, str]:
    """The parent's stack-level tags (those of the operation under way: an
    update sets the resource map's before it touches the resources), then the
    resource's own ``Tags``."""
    source = parent.resource_map.tags if parent is not None else {}
    tags = {k: v for k, v in (source or {}).items() if not k.startswith("aws:")}
    tags.update(_cfn.tag_list_to_dict(props.get("Tags")))
    return tags


def _nested_name(resource_name: str) -> str:
    if len(resource_name) <= MAX_STACK_NAME:
        return resource_name
    prefix, suffix = resource_name.rsplit("-", 1)
    return f"{prefix[: MAX_STACK_NAME - len(suffix) - 1].rstrip('-')}-{suffix}"


def _last_reason(stack: Stack, status: str) -> str:
    for event in reversed(stack.events):
        if event.logical_resource_id == stack.name and event.resource_status == status:
            return (event.resource_status_reason or "").strip()
    return (stack.status_reason or "").strip()


class NestedStack(CloudFormationModel):
    """The parent's view of a nested stack: ``Ref`` is its ARN."""

    def __init__(self, stack: Stack, props: dict[str, Any]):
        self.stack = stack
        self.resource_tags = _cfn.tag_list_to_dict(props.get("Tags"))

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return STACK_TYPE

    @property
    def physical_resource_id(self) -> str:
        return self.stack.stack_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr.startswith("Outputs.") or attr in {
            "StackId", "StackStatus", "ParentId", "RootId", "CreationTime",
        }

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name.startswith("Outputs."):
            wanted = attribute_name[len("Outputs."):]
            for output in self.stack.outputs or []:
                if output["OutputKey"] == wanted:
                    return output["OutputValue"]
            raise UnformattedGetAttTemplateException()
        if attribute_name == "StackId":
            return self.stack.stack_id
        if attribute_name == "StackStatus":
            return self.stack.status
        if attribute_name == "ParentId":
            return self.stack.parent_id
        if attribute_name == "RootId":
            return self.stack.root_id
        if attribute_name == "CreationTime":
            return self.stack.creation_time.isoformat()
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> NestedStack:
        engine = _engine()
        props = _cfn.props_of(cloudformation_json)
        backend = _backend(account_id, region_name)
        parent = backend.stacks.get(kwargs.get("StackId") or "")
        body = read_template(props.get("TemplateURL", ""), account_id)
        name = _nested_name(resource_name)
        timeout = _cfn.as_int(props.get("TimeoutInMinutes"))
        try:
            with engine._names_lock:
                stack = Stack(
                    stack_id=generate_stack_id(name, region_name, account_id),
                    name=name,
                    template=body,
                    parameters=_parameters(props),
                    account_id=account_id,
                    region_name=region_name,
                    notification_arns=list(props.get("NotificationARNs") or []),
                    tags=_tags(parent, props),
                    role_arn=getattr(parent, "role_arn", None),
                    cross_stack_resources=backend.exports,
                    timeout_in_mins=timeout,
                )
                engine.dependency_order(stack.template_dict.get("Resources") or {})
                stack.parent_id = parent.stack_id if parent is not None else None
                stack.root_id = (getattr(parent, "root_id", None) or parent.stack_id) if parent is not None else None
                # a nested stack does not roll back on its own: its root does
                stack.irlab_on_failure = "DO_NOTHING"
                stack.status = "CREATE_IN_PROGRESS"
                backend.stacks[stack.stack_id] = stack
        except ValidationError as exc:
            raise NestedStackFailure(exc.message) from exc
        except Exception as exc:  # moto's parameter and template errors
            raise NestedStackFailure(getattr(exc, "message", None) or str(exc)) from exc
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.create_resources()
        backend._irlab_register_exports(stack)
        resource = cls(stack, props)
        if stack.status != "CREATE_COMPLETE":
            reason = _last_reason(stack, "CREATE_FAILED")
            raise NestedStackFailure(
                f"Embedded stack {stack.stack_id} was not successfully created: {reason}", resource
            )
        return resource

    @classmethod
    def irlab_has_changes(cls, resource: NestedStack, props: dict[str, Any], account_id: str, region_name: str) -> bool:
        """CloudFormation reads TemplateURL again on every update of the parent:
        a changed object behind an unchanged URL updates the nested stack."""
        try:
            body = read_template(props.get("TemplateURL", ""), account_id)
        except NestedStackFailure:
            return True  # the update reports why it cannot read it
        return _engine().parse_template(body) != resource.stack.template_dict

    @classmethod
    def irlab_update(
        cls,
        resource: NestedStack,
        old_props: dict[str, Any],
        new_props: dict[str, Any],
        logical_id: str,
        account_id: str,
        region_name: str,
    ) -> NestedStack:
        """In place: the nested stack keeps its stack id (an update never
        replaces a nested stack)."""
        stack = resource.stack
        body = read_template(new_props.get("TemplateURL", ""), account_id)
        parent = _backend(account_id, region_name).stacks.get(stack.parent_id or "")
        try:
            stack.update(body, parameters=_parameters(new_props), tags=_tags(parent, new_props))
        except ValidationError as exc:
            raise NestedStackFailure(exc.message) from exc
        if new_props.get("NotificationARNs") is not None:
            stack.notification_arns = list(new_props["NotificationARNs"])
        if stack.status != "UPDATE_COMPLETE":
            reason = _last_reason(stack, "UPDATE_ROLLBACK_IN_PROGRESS")
            raise NestedStackFailure(
                f"Embedded stack {stack.stack_id} was not successfully updated. "
                f"Currently in UPDATE_ROLLBACK_IN_PROGRESS with reason: {reason}"
            )
        resource.resource_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        return resource

    @classmethod
    def irlab_tag(cls, resource: NestedStack, tags: dict[str, str], account_id: str, region_name: str) -> None:
        """The parent's stack-level tags reach the nested stack (and, through its
        own update, its resources) when they change."""
        wanted = {k: v for k, v in tags.items() if not k.startswith("aws:")}
        wanted.update(resource.resource_tags)
        stack = resource.stack
        if wanted == (stack.tags or {}) or stack.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return
        stack.update(stack.template, parameters=dict(stack.parameters or {}), tags=wanted)

    @classmethod
    def irlab_delete(cls, resource: NestedStack, props: dict[str, Any], account_id: str, region_name: str) -> None:
        stack = resource.stack
        backend = _backend(account_id, region_name)
        if stack.stack_id not in backend.stacks:
            return  # deleted directly already
        reset = _DELETING_FOR_PARENT.set(True)
        token = _engine()._REQUEST_TOKEN.set(None)
        try:
            backend.delete_stack(stack.stack_id)
        finally:
            _engine()._REQUEST_TOKEN.reset(token)
            _DELETING_FOR_PARENT.reset(reset)
        if stack.status != "DELETE_COMPLETE":
            reason = _last_reason(stack, "DELETE_FAILED")
            raise NestedStackFailure(f"Embedded stack {stack.stack_id} was not successfully deleted: {reason}")


# --------------------------------------------------------------------------
# DeleteStack of a nested stack


def _root_of(backend: CloudFormationBackend, stack: Stack) -> Stack | None:
    root_id = getattr(stack, "root_id", None)
    if not root_id:
        return None
    return backend.stacks.get(root_id) or backend.deleted_stacks.get(root_id)


def _wrap_delete_stack(original: Any) -> Any:
    def delete_stack(self: CloudFormationBackend, name_or_stack_id: str, *args: Any, **kwargs: Any) -> Any:
        if not _DELETING_FOR_PARENT.get():
            stack = _engine()._find_stack(self, name_or_stack_id)
            root = _root_of(self, stack) if stack is not None else None
            if root is not None and root.enable_termination_protection:
                raise ValidationError(
                    message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
                )
        return original(self, name_or_stack_id, *args, **kwargs)

    delete_stack.__name__ = "delete_stack"
    return delete_stack


def apply() -> None:
    _cfn.register(NestedStack)
    # DescribeStacks / ListStacks members (None: not a nested stack)
    Stack.parent_id = None  # type: ignore[attr-defined]
    Stack.root_id = None  # type: ignore[attr-defined]
    CloudFormationBackend.delete_stack = _wrap_delete_stack(CloudFormationBackend.delete_stack)

