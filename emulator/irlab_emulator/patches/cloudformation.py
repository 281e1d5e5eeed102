"""CloudFormation stack engine for the lab, on top of moto's resource models.

Moto 5.2.5 creates resources lazily, in no defined order, writes only
stack-level events, silently skips resource types it does not know, deletes
in arbitrary order (and loses the stack record when a delete fails).  This
module replaces the orchestration around moto's per-type models:

* resources are created in dependency order (``Ref``, ``Fn::GetAtt``,
  ``Fn::Sub`` and ``DependsOn``) and deleted in the reverse order;
* every resource status change is a stack event (``DescribeStackEvents``) and
  is reflected in ``ListStackResources`` / ``DescribeStackResource(s)``;
* a failed create rolls back (``OnFailure``/``DisableRollback`` honoured);
* a failed delete leaves the stack in ``DELETE_FAILED`` with a reason; a
  successful one leaves it ``DELETE_COMPLETE``, visible by stack id only;
* stack-level tags propagate to the resources (see ``_cfn.TAGGERS``);
* updates and change sets emit per-resource events and only touch resources
  whose resolved properties changed; a change set with no changes is FAILED;
* a resource replaced by an update follows its ``UpdateReplacePolicy``:
  ``Retain`` keeps the old physical resource outside the stack, ``Snapshot``
  snapshots a volume before deleting it, ``Delete`` (default) deletes it;
* a stack name (CreateStack, CREATE change sets) and a change set name are
  claimed atomically: concurrent requests never create two of them;
* a template that is not well-formed YAML or JSON, or not a mapping, fails
  with ValidationError "Template format error: ..." (moto answered HTTP 500);
* ``ClientRequestToken`` (CreateStack, UpdateStack, DeleteStack,
  ExecuteChangeSet) and CreateChangeSet's ``ClientToken`` make a retry the same
  request, answered without doing it again; every stack event carries the
  token of the operation that caused it.
"""

from __future__ import annotations

import collections
import contextvars
import copy
import inspect
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
from moto.cloudformation.models import CloudFormationBackend, Event, Stack
from moto.cloudformation.parsing import ResourceMap
from moto.cloudformation.utils import generate_stack_id, yaml_tag_constructor
from moto.core.exceptions import ServiceException
from moto.core.exceptions import _RESTError as RESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ec2.models.core import TaggedEC2Resource

from . import _cfn

log = logging.getLogger("irlab_emulator.cloudformation")

# OnFailure of the CreateStack request being served (DO_NOTHING | ROLLBACK | DELETE)
_ON_FAILURE: contextvars.ContextVar[str] = contextvars.ContextVar(
    "irlab_on_failure", default="ROLLBACK"
)
# ClientRequestToken of the stack operation being served: the idempotency token,
# and the token every event of the operation carries
_REQUEST_TOKEN: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "irlab_request_token", default=None
)
# ClientToken of the CreateChangeSet request being served
_CLIENT_TOKEN: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "irlab_client_token", default=None
)
# Check-and-claim of stack and change set names, change set execution: one at a time
_names_lock = threading.Lock()

LIVE_STATES = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_IN_PROGRESS",
    "UPDATE_FAILED",
    "DELETE_FAILED",
    "CREATE_IN_PROGRESS",
}
OUTPUT_STATES = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_IN_PROGRESS",
    "DELETE_FAILED",
    "DELETE_IN_PROGRESS",
}


class UnsupportedResourceType(Exception):
    pass


class ResourceFailure(Exception):
    def __init__(self, logical_id: str, reason: str, action: str = "create"):
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason
        self.action = action


class DeleteFailure(Exception):
    def __init__(self, logical_ids: list[str]):
        super().__init__(", ".join(logical_ids))
        self.logical_ids = logical_ids


class InvalidChangeSetStatus(ServiceException):
    code = "InvalidChangeSetStatus"


class ChangeSetNotFound(ServiceException):
    code = "ChangeSetNotFound"


# --------------------------------------------------------------------------
# dependency analysis


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def _collect_refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                out.add(value)
            elif key == "Fn::GetAtt":
                if isinstance(value, list) and value and isinstance(value[0], str):
                    out.add(value[0])
                    _collect_refs(value[1:], out)
                elif isinstance(value, str):
                    out.add(value.split(".")[0])
            elif key == "Fn::Sub":
                mapping: Any = {}
                template = value
                if isinstance(value, list) and value:
                    template = value[0]
                    mapping = value[1] if len(value) > 1 else {}
                if isinstance(template, str):
                    for match in _SUB_VAR.finditer(template):
                        name = match.group(1).strip().split(".")[0]
                        if not isinstance(mapping, dict) or name not in mapping:
                            out.add(name)
                _collect_refs(mapping, out)
            else:
                _collect_refs(value, out)
    elif isinstance(node, list):
        for item in node:
            _collect_refs(item, out)


def _depends_on(resource_json: dict[str, Any]) -> list[str]:
    deps = resource_json.get("DependsOn") or []
    if isinstance(deps, str):
        deps = [deps]
    return list(deps)


def dependencies(resources: dict[str, Any]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for logical_id, resource_json in resources.items():
        refs: set[str] = set()
        _collect_refs(resource_json.get("Properties") or {}, refs)
        refs.update(_depends_on(resource_json))
        graph[logical_id] = {r for r in refs if r in resources and r != logical_id}
    for logical_id, resource_json in resources.items():
        for dep in _depends_on(resource_json):
            if dep not in resources:
                raise ValidationError(
                    message=f"Template format error: Unresolved resource dependencies [{dep}] in the Resources block of the template"
                )
    return graph


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Topological order, template order as the tie-break."""
    graph = dependencies(resources)
    order: list[str] = []
    done: set[str] = set()
    remaining = list(resources)
    while remaining:
        progressed = False
        for logical_id in list(remaining):
            if graph[logical_id] <= done:
                order.append(logical_id)
                done.add(logical_id)
                remaining.remove(logical_id)
                progressed = True
                break
        if not progressed:
            raise ValidationError(
                message="Circular dependency between resources: ["
                + ", ".join(sorted(remaining))
                + "]"
            )
    return order


def _dependents_closure(graph: dict[str, set[str]], logical_id: str) -> set[str]:
    """Everything ``logical_id`` depends on, transitively."""
    seen: set[str] = set()
    stack = [logical_id]
    while stack:
        for dep in graph.get(stack.pop(), set()):
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


# --------------------------------------------------------------------------
# helpers


def _physical_id(resource: Any) -> str:
    if resource is None:
        return ""
    try:
        value = resource.physical_resource_id
    except Exception:  # some moto models raise for unsupported attributes
        return ""
    return "" if value is None else str(value)


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, UnsupportedResourceType):
        return str(exc)
    if getattr(exc, "irlab_reason", None):
        return exc.irlab_reason  # CloudFormation's own words (a nested stack's failure)
    message = getattr(exc, "message", None) or getattr(exc, "description", None)
    if not message:
        message = str(exc) or exc.__class__.__name__
    status: Any = 400
    code: Any = None
    if isinstance(exc, RESTError):
        code, status = exc.error_type, exc.code
    elif isinstance(exc, ServiceException):
        code = exc.code
    module = exc.__class__.__module__.split(".")
    service = module[1].capitalize() if len(module) > 1 and module[0] == "moto" else "CloudFormation"
    if not isinstance(status, int):
        status = 400
    if isinstance(code, str) and code and code not in message:
        message = f"{message} (Service: {service}, Status Code: {status}, Error Code: {code})"
    else:
        message = f"{message} (Service: {service}, Status Code: {status})"
    return f'Resource handler returned message: "{message}" (HandlerErrorCode: GeneralServiceException)'


def _stack_user_tags(resource_map: ResourceMap) -> dict[str, str]:
    return {k: v for k, v in resource_map.tags.items() if not k.startswith("aws:")}


def _call_delete(resource: Any, resource_type: str, props: dict[str, Any], account_id: str, region_name: str) -> None:
    cls = parsing.resource_class_from_type(resource_type)
    if cls is not None and hasattr(cls, "irlab_delete"):
        cls.irlab_delete(resource, props, account_id, region_name)
        return
    fn = getattr(resource, "delete", None)
    if callable(fn):
        try:
            inspect.signature(fn).bind(account_id, region_name)
            bindable = True
        except (TypeError, ValueError):
            bindable = False
        if bindable:
            fn(account_id, region_name)
            return
    if cls is None:
        return
    if hasattr(cls.delete_from_cloudformation_json, "__isabstractmethod__"):
        raise UnsupportedResourceType(
            f"The irlab local AWS stand-in cannot delete resources of type {resource_type}"
        )
    cls.delete_from_cloudformation_json(
        _physical_id(resource),
        {"Type": resource_type, "Properties": props},
        account_id,
        region_name,
    )


# --------------------------------------------------------------------------
# resource creation (replaces parsing.parse_and_create_resource)


def parse_and_create_resource(
    logical_id: str,
    resource_json: dict[str, Any],
    resources_map: ResourceMap,
    account_id: str,
    region_name: str,
) -> Any:
    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        return None
    resource_type = resource_json["Type"]
    resource_tuple = parsing.parse_resource_and_generate_name(
        logical_id, resource_json, resources_map
    )
    if not resource_tuple:
        return None
    resource_class, cleaned_json, physical_name = resource_tuple
    kwargs = {
        "LogicalId": logical_id,
        "StackId": resources_map.stack_id,
        "ResourceType": resource_type,
    }
    resource = resource_class.create_from_cloudformation_json(
        physical_name, cleaned_json, account_id, region_name, **kwargs
    )
    resource.cf_resource_type = resource_type
    resource.logical_resource_id = logical_id
    props = getattr(resources_map, "_irlab_props", None)
    if props is not None:
        props[logical_id] = copy.deepcopy(cleaned_json.get("Properties") or {})
    return resource


# Generated physical names. Without a name property CloudFormation names a resource
# `<stack name>-<logical id>-<random>` and, where the service caps the name's length, cuts the
# stack name's part so the whole fits (a nested stack's long generated name still gives a role
# name of at most 64 characters): "Physical resource id ... trimmed to maximum of 64 characters".
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (RoleName: 1-64)
# moto kept the whole stack name, so a lab nested in a StackSet's stack got role names IAM's
# own API then refused ("Member must have length less than or equal to 64").
NAME_LIMITS = {
    "AWS::IAM::Role": 64,
    "AWS::IAM::InstanceProfile": 128,
    "AWS::IAM::ManagedPolicy": 128,
    "AWS::Lambda::Function": 64,
    "AWS::SQS::Queue": 80,
    "AWS::SNS::Topic": 256,
    "AWS::Events::Rule": 64,
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::Logs::LogGroup": 512,
}
_orig_generate_resource_name = parsing.generate_resource_name


def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
    name = _orig_generate_resource_name(resource_type, stack_name, logical_id)
    limit = NAME_LIMITS.get(resource_type)
    if limit is None or len(name) <= limit:
        return name
    suffix = name.rsplit("-", 1)[-1]
    right = f"-{logical_id}-{suffix}"
    if len(right) >= limit:
        right = f"-{logical_id[: limit - len(suffix) - 3]}-{suffix}"
    return stack_name[: limit - len(right)].rstrip("-") + right


_orig_resource_class_from_type = parsing.resource_class_from_type


def resource_class_from_type(resource_type: str) -> Any:
    if resource_type in _cfn.OVERRIDES:
        return _cfn.OVERRIDES[resource_type]
    return _orig_resource_class_from_type(resource_type)


_orig_resource_name_property_from_type = parsing.resource_name_property_from_type


def resource_name_property_from_type(resource_type: str) -> str | None:
    if resource_type in _cfn.OVERRIDES:
        return _cfn.OVERRIDES[resource_type].cloudformation_name_type() or None
    return _orig_resource_name_property_from_type(resource_type)


# --------------------------------------------------------------------------
# ResourceMap


_orig_rm_init = ResourceMap.__init__


def _rm_init(self: ResourceMap, *args: Any, **kwargs: Any) -> None:
    _orig_rm_init(self, *args, **kwargs)
    self._irlab_res = {}  # logical id -> resource summary
    self._irlab_props = {}  # logical id -> resolved Properties
    self._irlab_stack = None
    # (logical id, type, resource, props, physical id, UpdateReplacePolicy) replaced by updates
    self._irlab_garbage = []
    self._irlab_failed_live = set()  # logical ids CREATE_FAILED whose resource exists (nested stacks)


_orig_rm_getitem = ResourceMap.__getitem__


def _rm_getitem(self: ResourceMap, key: str) -> Any:
    """moto creates a resource the first time anything reads it - also when
    the Outputs of a stack whose resource was deleted are read. Resources are
    only created by the engine here; reading one that does not exist (not
    created, or already deleted) gives None."""
    if key in self._parsed_resources or key not in self._resource_json_map:
        return _orig_rm_getitem(self, key)
    if getattr(self, "_irlab_allow_create", False):
        return _orig_rm_getitem(self, key)
    return None


def _rm_event(
    self: ResourceMap,
    logical_id: str,
    resource_type: str,
    status: str,
    physical_id: str | None = None,
    reason: str | None = None,
    track: bool = True,
) -> None:
    now = utcnow()
    if track:
        row = self._irlab_res.setdefault(
            logical_id, {"LogicalResourceId": logical_id, "PhysicalResourceId": ""}
        )
        if physical_id is not None:
            row["PhysicalResourceId"] = physical_id
        row["ResourceType"] = resource_type
        row["ResourceStatus"] = status
        row["ResourceStatusReason"] = reason
        row["Timestamp"] = now
        shown_physical_id = row["PhysicalResourceId"]
    else:
        shown_physical_id = physical_id or ""
    stack = self._irlab_stack
    if stack is None:
        return
    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=shown_physical_id,
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    event.timestamp = now
    event.event_id = f"{logical_id}-{status}-{now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}-{uuid.uuid4().hex[:8]}"
    try:
        event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    except Exception:  # a missing notification topic must not break the stack
        log.exception("could not send stack event to SNS")
    stack.events.append(event)


def _rm_is_live(self: ResourceMap, logical_id: str) -> bool:
    row = self._irlab_res.get(logical_id)
    return row is not None and row["ResourceStatus"] in LIVE_STATES | {"CREATE_FAILED"}


def _rm_propagate_tags(self: ResourceMap, logical_id: str, resource_type: str, resource: Any) -> None:
    if resource is None:
        return
    tags = dict(_stack_user_tags(self))
    if resource_type not in _cfn.NO_AWS_PREFIX_TAGS:
        tags.update(
            {
                "aws:cloudformation:stack-name": self["AWS::StackName"],
                "aws:cloudformation:stack-id": self["AWS::StackId"],
                "aws:cloudformation:logical-id": logical_id,
            }
        )
    if not tags:
        return
    cls = parsing.resource_class_from_type(resource_type)
    try:
        if cls is not None and hasattr(cls, "irlab_tag"):
            cls.irlab_tag(resource, tags, self._account_id, self._region_name)
        elif resource_type in _cfn.TAGGERS:
            _cfn.TAGGERS[resource_type](resource, tags, self._account_id, self._region_name)
        elif isinstance(resource, TaggedEC2Resource):
            existing = {t["key"] for t in resource.get_tags()}
            resource.ec2_backend.create_tags(
                [resource.physical_resource_id],
                {k: v for k, v in tags.items() if k.startswith("aws:") or k not in existing},
            )
    except Exception:
        log.exception("tag propagation failed for %s (%s)", logical_id, resource_type)


def _rm_create_one(self: ResourceMap, logical_id: str) -> Any:
    resource_json = self._resource_json_map[logical_id]
    condition = resource_json.get("Condition")
    if condition and not self.lazy_condition_map[condition]:
        return None
    resource_type = resource_json["Type"]
    self._irlab_event(logical_id, resource_type, "CREATE_IN_PROGRESS", physical_id="")
    try:
        if (
            parsing.resource_class_from_type(resource_type) is None
            and resource_type not in parsing.NULL_MODELS
        ):
            raise UnsupportedResourceType(
                f"Resource type {resource_type} is not implemented by the irlab local AWS stand-in"
            )
        self._irlab_allow_create = True
        try:
            resource = self[logical_id]
        finally:
            self._irlab_allow_create = False
    except Exception as exc:
        log.info("create of %s failed", logical_id, exc_info=True)
        reason = failure_reason(exc)
        failed = getattr(exc, "irlab_resource", None)
        if failed is not None:
            # exists although it failed (a nested stack): rollback and delete remove it
            self._parsed_resources[logical_id] = failed
            self._irlab_failed_live.add(logical_id)
            self._irlab_event(
                logical_id, resource_type, "CREATE_IN_PROGRESS",
                physical_id=_physical_id(failed), reason="Resource creation Initiated",
            )
        else:
            self._parsed_resources.pop(logical_id, None)
        self._irlab_event(
            logical_id, resource_type, "CREATE_FAILED", physical_id=_physical_id(failed) if failed is not None else None, reason=reason
        )
        raise ResourceFailure(logical_id, reason, "create") from exc
    physical_id = _physical_id(resource) or f"{self['AWS::StackName']}-{logical_id}"
    self._irlab_event(
        logical_id,
        resource_type,
        "CREATE_IN_PROGRESS",
        physical_id=physical_id,
        reason="Resource creation Initiated",
    )
    self._irlab_propagate_tags(logical_id, resource_type, resource)
    _stabilize(self, logical_id, resource_type, resource, "create")
    self._irlab_event(logical_id, resource_type, "CREATE_COMPLETE", physical_id=physical_id)
    return resource


def _stabilize(self: ResourceMap, logical_id: str, resource_type: str, resource: Any, operation: str) -> None:
    """A resource is complete once its service says it is ready, not when the
    create call returns: ``irlab_stabilize`` of the type's handler waits for
    that (AWS::EC2::Instance: until the instance runs, patches/ec2.py)."""
    stabilize = getattr(parsing.resource_class_from_type(resource_type), "irlab_stabilize", None)
    if stabilize is None:
        return
    try:
        stabilize(resource, self._account_id, self._region_name)
    except Exception as exc:
        reason = failure_reason(exc)
        status = "CREATE_FAILED" if operation == "create" else "UPDATE_FAILED"
        self._irlab_event(logical_id, resource_type, status, reason=reason)
        raise ResourceFailure(logical_id, reason, operation) from exc


def _rm_create(self: ResourceMap, template: dict[str, Any]) -> bool:
    self._template = template
    self._resource_json_map = template["Resources"]
    self.tags.update(
        {
            "aws:cloudformation:stack-name": self["AWS::StackName"],
            "aws:cloudformation:stack-id": self["AWS::StackId"],
        }
    )
    all_ready = True
    for logical_id in dependency_order(self._resource_json_map):
        resource = self._irlab_create_one(logical_id)
        if resource is not None and not resource.is_created():
            all_ready = False
    return all_ready


def _rm_delete_one(self: ResourceMap, logical_id: str, resource_type: str, resource: Any, props: dict[str, Any]) -> None:
    if resource is None:
        return
    try:
        _call_delete(resource, resource_type, props, self._account_id, self._region_name)
    except Exception as exc:
        # A resource deleted outside CloudFormation is already gone: the delete handler's
        # NotFound counts as success, and the stack deletion goes on.
        if not _is_not_found(exc):
            raise
        log.info("%s (%s) was already deleted: %s", logical_id, resource_type, exc)


def _is_not_found(exc: BaseException) -> bool:
    code = str(getattr(exc, "error_type", "") or getattr(exc, "code", "") or "")
    return code.endswith(".NotFound") or code.endswith("NotFound") or code in {"NoSuchEntity", "NoSuchBucket", "ResourceNotFoundException"}


def _rm_delete(self: ResourceMap, retain: Iterable[str] | None = None, rollback: bool = False) -> None:
    retain = set(retain or [])
    resources = self._resource_json_map
    graph = dependencies(resources)
    failed: list[str] = []
    blocked: set[str] = set()
    for logical_id in reversed(dependency_order(resources)):
        if not self._irlab_is_live(logical_id) or logical_id in blocked:
            continue
        resource_json = resources[logical_id]
        resource_type = resource_json["Type"]
        row = self._irlab_res[logical_id]
        never_created = row["ResourceStatus"] == "CREATE_FAILED" and logical_id not in self._irlab_failed_live
        policy = resource_json.get("DeletionPolicy", "Delete")
        if not never_created and (
            logical_id in retain
            or policy == "Retain"
            or (policy == "RetainExceptOnCreate" and not rollback)
        ):
            self._irlab_event(logical_id, resource_type, "DELETE_SKIPPED")
            self._parsed_resources.pop(logical_id, None)
            continue
        self._irlab_event(logical_id, resource_type, "DELETE_IN_PROGRESS")
        if not never_created and logical_id in self._parsed_resources:
            resource = self._parsed_resources.get(logical_id)
            try:
                self._irlab_delete_one(
                    logical_id, resource_type, resource, self._irlab_props.get(logical_id, {})
                )
            except Exception as exc:
                log.info("delete of %s failed", logical_id, exc_info=True)
                self._irlab_event(
                    logical_id, resource_type, "DELETE_FAILED", reason=failure_reason(exc)
                )
                failed.append(logical_id)
                blocked |= _dependents_closure(graph, logical_id)
                continue
        self._parsed_resources.pop(logical_id, None)
        self._irlab_failed_live.discard(logical_id)
        self._irlab_event(logical_id, resource_type, "DELETE_COMPLETE")
    if failed:
        raise DeleteFailure(failed)


def _rm_update_one(self: ResourceMap, logical_id: str) -> None:
    resource_json = self._resource_json_map[logical_id]
    resource_type = resource_json["Type"]
    old_resource = self._parsed_resources.get(logical_id)
    old_props = self._irlab_props.get(logical_id, {})
    row = self._irlab_res[logical_id]
    old_type = row.get("ResourceType")
    resource_class, cleaned, new_name = parsing.parse_resource_and_generate_name(
        logical_id, copy.deepcopy(resource_json), self
    )
    new_props = cleaned.get("Properties") or {}
    if new_props == old_props and old_type == resource_type:
        # a type whose resource can change behind unchanged properties (a
        # nested stack's template at the same TemplateURL) says so
        has_changes = getattr(resource_class, "irlab_has_changes", None)
        if has_changes is None or not has_changes(old_resource, new_props, self._account_id, self._region_name):
            return
    physical_id = row.get("PhysicalResourceId", "")
    self._irlab_event(logical_id, resource_type, "UPDATE_IN_PROGRESS", physical_id=physical_id)
    replaced = False
    try:
        new_resource = None
        if old_type != resource_type:
            raise _cfn.NeedsReplacement()
        if hasattr(resource_class, "irlab_update"):
            new_resource = resource_class.irlab_update(
                old_resource, old_props, new_props, logical_id, self._account_id, self._region_name
            )
        elif not hasattr(resource_class.update_from_cloudformation_json, "__isabstractmethod__"):
            name_prop = parsing.resource_name_property_from_type(resource_type)
            if not (name_prop and name_prop in new_props):
                new_name = getattr(old_resource, "name", None) or new_name
            new_resource = resource_class.update_from_cloudformation_json(
                original_resource=old_resource,
                new_resource_name=new_name,
                cloudformation_json=cleaned,
                account_id=self._account_id,
                region_name=self._region_name,
            )
        else:
            raise _cfn.NeedsReplacement()
    except _cfn.NeedsReplacement:
        replaced = True
        try:
            new_resource = resource_class.create_from_cloudformation_json(
                new_name,
                cleaned,
                self._account_id,
                self._region_name,
                LogicalId=logical_id,
                StackId=self.stack_id,
                ResourceType=resource_type,
            )
        except Exception as exc:
            reason = failure_reason(exc)
            self._irlab_event(logical_id, resource_type, "UPDATE_FAILED", reason=reason)
            raise ResourceFailure(logical_id, reason, "update") from exc
    except Exception as exc:
        log.info("update of %s failed", logical_id, exc_info=True)
        reason = failure_reason(exc)
        self._irlab_event(logical_id, resource_type, "UPDATE_FAILED", reason=reason)
        raise ResourceFailure(logical_id, reason, "update") from exc
    if new_resource is None:
        new_resource = old_resource
    new_resource.cf_resource_type = resource_type
    new_resource.logical_resource_id = logical_id
    if replaced:
        _stabilize(self, logical_id, resource_type, new_resource, "update")
        self._irlab_garbage.append(
            (
                logical_id, old_type, old_resource, old_props, physical_id,
                resource_json.get("UpdateReplacePolicy", "Delete"),
            )
        )
        self._irlab_event(
            logical_id,
            resource_type,
            "UPDATE_IN_PROGRESS",
            physical_id=_physical_id(new_resource),
            reason="Requested update requires the creation of a new physical resource; hence creating one.",
        )
    self._parsed_resources[logical_id] = new_resource
    self._irlab_props[logical_id] = copy.deepcopy(new_props)
    self._irlab_propagate_tags(logical_id, resource_type, new_resource)
    self._irlab_event(
        logical_id, resource_type, "UPDATE_COMPLETE", physical_id=_physical_id(new_resource) or physical_id
    )


def _rm_update(
    self: ResourceMap,
    template: dict[str, Any],
    parameters: dict[str, Any] | None = None,
    retag_all: bool = False,
) -> None:
    old = {
        "template": self._template,
        "json_map": self._resource_json_map,
        "input_parameters": self.input_parameters,
    }
    old_resources = self._resource_json_map
    new_resources = template.get("Resources") or {}
    dependency_order(new_resources)  # validates (cycles) before anything changes
    self._irlab_removed = [
        lid for lid in reversed(dependency_order(old_resources)) if lid not in new_resources
    ]
    self._irlab_old_json_map = old_resources
    self._template = template
    if parameters is not None:
        self.input_parameters = parameters
    self.load_mapping()
    self.load_parameters()
    self.load_conditions()
    self._resource_json_map = new_resources
    added: list[str] = []
    try:
        for logical_id in dependency_order(new_resources):
            condition = new_resources[logical_id].get("Condition")
            wanted = not condition or self.lazy_condition_map[condition]
            live = self._irlab_is_live(logical_id) and logical_id in old_resources
            if not live:
                if wanted:
                    added.append(logical_id)
                    self._irlab_create_one(logical_id)
            elif not wanted:
                self._irlab_removed.insert(0, logical_id)
            else:
                self._irlab_update_one(logical_id)
                if retag_all:
                    self._irlab_propagate_tags(
                        logical_id, new_resources[logical_id]["Type"], self._parsed_resources.get(logical_id)
                    )
    except ResourceFailure:
        # roll back: remove what this update created, restore the old template
        for logical_id in reversed(added):
            if not self._irlab_is_live(logical_id):
                continue
            resource_type = new_resources[logical_id]["Type"]
            self._irlab_event(logical_id, resource_type, "DELETE_IN_PROGRESS")
            try:
                self._irlab_delete_one(
                    logical_id,
                    resource_type,
                    self._parsed_resources.get(logical_id),
                    self._irlab_props.get(logical_id, {}),
                )
            except Exception as exc:
                self._irlab_event(logical_id, resource_type, "DELETE_FAILED", reason=failure_reason(exc))
                continue
            self._parsed_resources.pop(logical_id, None)
            self._irlab_failed_live.discard(logical_id)
            self._irlab_event(logical_id, resource_type, "DELETE_COMPLETE")
            self._irlab_res.pop(logical_id, None)
        self._template = old["template"]
        self._resource_json_map = old["json_map"]
        self.input_parameters = old["input_parameters"]
        self.load_mapping()
        self.load_parameters()
        self.load_conditions()
        self._irlab_removed = []
        raise


def _snapshot_volume(volume: Any, logical_id: str, account_id: str, region_name: str) -> None:
    from moto.ec2.models import ec2_backends

    ec2_backends[account_id][region_name].create_snapshot(
        volume.id, f"Created by CloudFormation for {logical_id} before its replacement"
    )


# Types whose UpdateReplacePolicy/DeletionPolicy may be Snapshot and that the stand-in
# models (AWS also lists ElastiCache, Neptune, RDS and Redshift types, absent here);
# AWS::EC2::Instance is not one of them.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
SNAPSHOT_TYPES: dict[str, Callable[[Any, str, str, str], None]] = {
    "AWS::EC2::Volume": _snapshot_volume,
}


def _rm_cleanup(self: ResourceMap) -> None:
    """UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: delete replaced and removed resources.

    A replaced resource follows its ``UpdateReplacePolicy``: ``Retain`` leaves the old
    physical resource in place and out of the stack (a later delete of the stack never
    touches it); ``Snapshot`` snapshots it first where the type supports snapshots
    (:data:`SNAPSHOT_TYPES`); ``Delete`` (the default) deletes it.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html"""
    for logical_id, resource_type, resource, props, physical_id, policy in self._irlab_garbage:
        if policy == "Retain":
            self._irlab_event(logical_id, resource_type, "DELETE_SKIPPED", physical_id=physical_id, track=False)
            continue
        self._irlab_event(logical_id, resource_type, "DELETE_IN_PROGRESS", physical_id=physical_id, track=False)
        try:
            if policy == "Snapshot" and resource_type in SNAPSHOT_TYPES:
                SNAPSHOT_TYPES[resource_type](resource, logical_id, self._account_id, self._region_name)
            self._irlab_delete_one(logical_id, resource_type, resource, props)
        except Exception as exc:
            self._irlab_event(
                logical_id, resource_type, "DELETE_FAILED", physical_id=physical_id,
                reason=failure_reason(exc), track=False,
            )
            continue
        self._irlab_event(logical_id, resource_type, "DELETE_COMPLETE", physical_id=physical_id, track=False)
    self._irlab_garbage = []
    old_resources = getattr(self, "_irlab_old_json_map", {}) or {}
    for logical_id in getattr(self, "_irlab_removed", []):
        if not self._irlab_is_live(logical_id):
            continue
        resource_json = old_resources.get(logical_id) or self._resource_json_map.get(logical_id)
        resource_type = resource_json["Type"]
        if resource_json.get("DeletionPolicy") == "Retain":
            self._irlab_event(logical_id, resource_type, "DELETE_SKIPPED")
        else:
            self._irlab_event(logical_id, resource_type, "DELETE_IN_PROGRESS")
            try:
                self._irlab_delete_one(
                    logical_id,
                    resource_type,
                    self._parsed_resources.get(logical_id),
                    self._irlab_props.get(logical_id, {}),
                )
            except Exception as exc:
                self._irlab_event(logical_id, resource_type, "DELETE_FAILED", reason=failure_reason(exc))
                continue
            self._irlab_event(logical_id, resource_type, "DELETE_COMPLETE")
        self._parsed_resources.pop(logical_id, None)
        self._irlab_res.pop(logical_id, None)
        self._irlab_props.pop(logical_id, None)
    self._irlab_removed = []


def _rm_validate_outputs(self: ResourceMap) -> None:
    outputs = self._template.get("Outputs") or {}
    for value in outputs.values():
        if "Condition" in value and not self.lazy_condition_map[value["Condition"]]:
            continue
        value = value.get("Value", {})
        if not isinstance(value, dict) or "Fn::GetAtt" not in value:
            continue
        getatt = value["Fn::GetAtt"]
        if isinstance(getatt, str):
            getatt = getatt.split(".", 1)
        resource_name, attr = getatt[0], getatt[1]
        resource = self._resource_json_map.get(resource_name)
        if resource is None:
            raise ValidationError(
                message=f"Template format error: Unresolved resource dependencies [{resource_name}] in the Outputs block of the template"
            )
        if "Condition" in resource and not self.lazy_condition_map[resource["Condition"]]:
            raise ValidationError(
                message=f"Unresolved resource dependencies [{resource_name}] in the Outputs block of the template"
            )
        resource_class = parsing.resource_class_from_type(resource["Type"])
        if resource_class is None or not isinstance(attr, str):
            continue
        if not resource_class.has_cfn_attr(attr):
            raise ValidationError(
                message=f"Template error: resource {resource_name} does not support attribute type {attr} in Fn::GetAtt"
            )


def _rm_summaries(self: ResourceMap) -> list[dict[str, Any]]:
    return [dict(row) for row in self._irlab_res.values()]


# --------------------------------------------------------------------------
# templates


def _yaml_tag_constructor(loader: Any, tag: str, node: Any) -> Any:
    """moto's short-form tags, with ``!GetAtt`` as CloudFormation reads it:
    ``!GetAtt Child.Outputs.Name`` splits at the first dot only (the attribute
    name may hold dots), and ``!GetAtt [Child, Outputs.Name]`` is a list of
    strings (moto split at every dot and kept the list's YAML nodes).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getatt.html"""
    if tag == "!GetAtt":
        if isinstance(node, yaml.SequenceNode):
            return {"Fn::GetAtt": loader.construct_sequence(node, deep=True)}
        if isinstance(node, yaml.ScalarNode):
            return {"Fn::GetAtt": str(node.value).split(".", 1)}
    return yaml_tag_constructor(loader, tag, node)


# Parsed template bodies by their text, most recent last: a lab's up, a class of 30 labs and
# the change sets of each send the same few bodies again and again, and PyYAML takes about
# 90 ms of the stand-in's one busy core to read the detection template (a copy takes well
# under 1 ms). Each caller gets its own deep copy, since moto writes into its template dicts.
_PARSED: "collections.OrderedDict[str, dict[str, Any]]" = collections.OrderedDict()
_PARSED_LOCK = threading.Lock()
_PARSED_KEEP = 32


def parse_template(template: Any) -> dict[str, Any]:
    """A template body as CloudFormation reads it (YAML, or JSON), with
    CloudFormation's ValidationError when it cannot be read - moto let the
    parser's exception through (HTTP 500). Reads exactly what moto reads."""
    if isinstance(template, dict):
        return template
    text = template or ""
    with _PARSED_LOCK:
        known = _PARSED.get(text)
        if known is not None:
            _PARSED.move_to_end(text)
    if known is not None:
        return copy.deepcopy(known)
    parsed = _parse_template_text(text)
    with _PARSED_LOCK:
        _PARSED[text] = copy.deepcopy(parsed)
        while len(_PARSED) > _PARSED_KEEP:
            _PARSED.popitem(last=False)
    return parsed


def _parse_template_text(text: str) -> dict[str, Any]:
    yaml.add_multi_constructor("", _yaml_tag_constructor)
    try:
        parsed = yaml.load(text, Loader=yaml.Loader)
    except yaml.MarkedYAMLError as yaml_error:
        if text.lstrip().startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    message=f"Template format error: JSON not well-formed. (line {exc.lineno}, column {exc.colno})"
                ) from exc
        else:
            mark = yaml_error.problem_mark or yaml_error.context_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            raise ValidationError(message=f"Template format error: YAML not well-formed.{where}") from yaml_error
    if not isinstance(parsed, dict):
        raise ValidationError(message="Template format error: unsupported structure.")
    return parsed


def _change_set_parse_template(self: Any) -> None:
    self.template_dict = parse_template(self.template)


# --------------------------------------------------------------------------
# Stack


_orig_stack_init = Stack.__init__


def _stack_init(self: Stack, *args: Any, **kwargs: Any) -> None:
    self.status_reason = None
    self.irlab_on_failure = _ON_FAILURE.get()
    _orig_stack_init(self, *args, **kwargs)


_orig_create_resource_map = Stack._create_resource_map


def _stack_create_resource_map(self: Stack) -> ResourceMap:
    resource_map = _orig_create_resource_map(self)
    resource_map._irlab_stack = self
    return resource_map


def _stack_create_resources(self: Stack) -> None:
    self.status = "CREATE_IN_PROGRESS"
    try:
        ready = self.resource_map.create(self.template_dict)
    except ResourceFailure as failure:
        self._irlab_fail_create(failure)
        return
    except ValidationError as exc:
        self._irlab_fail_create(ResourceFailure(self.name, exc.message, "create"))
        return
    self.description = self.template_dict.get("Description")
    if ready:
        self.mark_creation_complete()


def _stack_fail_create(self: Stack, failure: ResourceFailure) -> None:
    reason = f"The following resource(s) failed to create: [{failure.logical_id}]. "
    if self.irlab_on_failure == "DO_NOTHING":
        self.status = "CREATE_FAILED"
        self.status_reason = reason
        self._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
        return
    self.status = "ROLLBACK_IN_PROGRESS"
    self.status_reason = reason + "Rollback requested by user."
    self._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=self.status_reason)
    try:
        self.resource_map.delete(rollback=True)
    except DeleteFailure as df:
        self.status = "ROLLBACK_FAILED"
        self.status_reason = f"The following resource(s) failed to delete: [{', '.join(df.logical_ids)}]. "
        self._add_stack_event("ROLLBACK_FAILED", resource_status_reason=self.status_reason)
        return
    self.status = "ROLLBACK_COMPLETE"
    self.status_reason = None
    self._add_stack_event("ROLLBACK_COMPLETE")
    if self.irlab_on_failure == "DELETE":
        cfn_models.cloudformation_backends[self.account_id][self.region_name].delete_stack(
            self.stack_id
        )


def _stack_freeze_outputs(self: Stack) -> None:
    """Evaluate the Outputs now: AWS keeps a stack's outputs as they were
    when the stack last completed, whatever happens to the resources later."""
    try:
        for _ in self.output_map.values():
            pass
    except Exception:
        log.exception("could not evaluate the outputs of %s", self.name)


def _stack_mark_creation_complete(self: Stack) -> None:
    self.status = "CREATE_COMPLETE"
    self.status_reason = None
    self._irlab_freeze_outputs()
    self._add_stack_event("CREATE_COMPLETE")


def _stack_update(
    self: Stack,
    template: str,
    role_arn: str | None = None,
    parameters: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    new_template = self.parse_template(template)
    # template and parameter validation happen before the update starts
    dependency_order(new_template.get("Resources") or {})
    ResourceMap(
        self.stack_id,
        self.name,
        parameters if parameters is not None else self.resource_map.input_parameters,
        self.tags,
        region_name=self.region_name,
        account_id=self.account_id,
        template=new_template,
        cross_stack_resources=self.cross_stack_resources,
    ).load()
    self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
    self.status = "UPDATE_IN_PROGRESS"
    old_tags = dict(self.resource_map.tags)
    if tags is not None:
        self.resource_map.tags = {
            **copy.deepcopy(tags),
            **{k: v for k, v in old_tags.items() if k.startswith("aws:")},
        }
    try:
        self.resource_map.update(new_template, parameters, retag_all=tags is not None and tags != self.tags)
    except ResourceFailure as failure:
        self.resource_map.tags = old_tags
        verb = "update" if failure.action == "update" else "create"
        reason = f"The following resource(s) failed to {verb}: [{failure.logical_id}]. "
        self.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        self.status_reason = reason
        self._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
        self._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        self.status = "UPDATE_ROLLBACK_COMPLETE"
        self.status_reason = None
        self._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        return
    self.template = template
    self.template_dict = new_template
    self.description = new_template.get("Description")
    if role_arn:
        self.role_arn = role_arn
    if parameters is not None:
        self.parameters = parameters
    if tags is not None:
        self.tags = tags
    self.output_map = self._create_output_map()
    self._irlab_freeze_outputs()
    self.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    self._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    self.resource_map.irlab_cleanup()
    self.status = "UPDATE_COMPLETE"
    self.status_reason = None
    self._add_stack_event("UPDATE_COMPLETE")


def _stack_delete(self: Stack, retain: Iterable[str] | None = None) -> bool:
    """Returns True when every resource is gone (DELETE_COMPLETE)."""
    self.status = "DELETE_IN_PROGRESS"
    self.status_reason = "User Initiated"
    self._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
    try:
        self.resource_map.delete(retain=retain)
    except DeleteFailure as df:
        self.status = "DELETE_FAILED"
        self.status_reason = f"The following resource(s) failed to delete: [{', '.join(df.logical_ids)}]. "
        self._add_stack_event("DELETE_FAILED", resource_status_reason=self.status_reason)
        return False
    self.status = "DELETE_COMPLETE"
    self.status_reason = None
    self._add_stack_event("DELETE_COMPLETE")
    return True


_orig_outputs = Stack.outputs


def _stack_outputs(self: Stack) -> list[dict[str, Any]] | None:
    if self.status not in OUTPUT_STATES:
        return None
    try:
        return _orig_outputs.fget(self)  # type: ignore[attr-defined]
    except Exception:
        log.exception("could not evaluate the outputs of %s", self.name)
        return None


# --------------------------------------------------------------------------
# backend


def check_parameters_declared(template: Any, given: Iterable[str]) -> None:
    """A parameter the template does not declare is refused before anything happens: AWS answers
    ValidationError "Parameters: [Foo] do not exist in the template" (moto ignored it, so a
    parameter passed to a template that lost it, or never had it, went unnoticed).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html"""
    declared = set((parse_template(template).get("Parameters") or {}).keys()) if template else None
    if declared is None:
        return
    extra = sorted(k for k in given if k not in declared)
    if extra:
        raise ValidationError(message=f"Parameters: [{', '.join(extra)}] do not exist in the template")


def _backend_create_stack(
    self: CloudFormationBackend,
    name: str,
    template: str,
    parameters: dict[str, Any],
    notification_arns: list[str] | None = None,
    tags: dict[str, str] | None = None,
    role_arn: str | None = None,
    enable_termination_protection: bool | None = False,
    timeout_in_mins: int | None = None,
    stack_policy_body: str | None = None,
) -> Stack:
    check_parameters_declared(template, (parameters or {}).keys())
    token = _REQUEST_TOKEN.get()
    # The name check and the claim are one step: concurrent requests for one name
    # never create two stacks. The resources are created after the claim.
    with _names_lock:
        created_by_token: dict[tuple[str, str], str] = self.__dict__.setdefault("irlab_create_tokens", {})
        if token and (name, token) in created_by_token:
            earlier = self.stacks.get(created_by_token[(name, token)])
            if earlier is not None:  # a retry of the request that created it
                return earlier
        if name in [stack.name for stack in self.stacks.values()]:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        stack_id = generate_stack_id(name, self.region_name, self.account_id)
        new_stack = Stack(
            stack_id=stack_id,
            name=name,
            template=template,
            parameters=parameters,
            account_id=self.account_id,
            region_name=self.region_name,
            notification_arns=notification_arns,
            tags=tags,
            role_arn=role_arn,
            cross_stack_resources=self.exports,
            enable_termination_protection=enable_termination_protection,
            timeout_in_mins=timeout_in_mins,
            stack_policy_body=stack_policy_body,
        )
        dependency_order(new_stack.template_dict.get("Resources") or {})  # template validation
        new_stack.status = "CREATE_IN_PROGRESS"
        self.stacks[stack_id] = new_stack
        if token:
            created_by_token[(name, token)] = stack_id
    new_stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    new_stack.create_resources()
    self._irlab_register_exports(new_stack)
    return new_stack


def _backend_register_exports(self: CloudFormationBackend, stack: Stack) -> None:
    if stack.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return
    try:
        for export in stack.exports:
            self.exports[export.name] = export
    except Exception:
        log.exception("could not register the exports of %s", stack.name)


def _find_stack(self: CloudFormationBackend, name_or_stack_id: str) -> Stack | None:
    if name_or_stack_id in self.stacks:
        return self.stacks[name_or_stack_id]
    for stack in self.stacks.values():
        if stack.name == name_or_stack_id:
            return stack
    return None


def _seen_token(stack: Any, operation: str) -> bool:
    """Whether the token of the request being served already named an
    ``operation`` request on ``stack`` (a retry); records it otherwise."""
    token = _REQUEST_TOKEN.get()
    if not token:
        return False
    with _names_lock:
        tokens: set[tuple[str, str]] = stack.__dict__.setdefault("irlab_request_tokens", set())
        if (operation, token) in tokens:
            return True
        tokens.add((operation, token))
    return False


def _backend_delete_stack(self: CloudFormationBackend, name_or_stack_id: str, retain_resources: list[str] | None = None) -> None:
    stack = _find_stack(self, name_or_stack_id)
    if stack is None:
        return  # AWS: deleting a stack that does not exist succeeds
    if retain_resources and stack.status != "DELETE_FAILED":
        raise ValidationError(
            message=f"Invalid operation on stack [{stack.stack_id}]. RetainResources can only be specified when the stack is in the DELETE_FAILED state"
        )
    if _seen_token(stack, "DeleteStack"):
        return  # a retry of a delete that already ran
    with _names_lock:
        # A stack already being deleted goes on being deleted: DeleteStack is accepted (its only
        # documented error is TokenAlreadyExistsException) and starts nothing more.  moto ran a
        # second deletion of the same resources beside the first, which failed on what the first
        # had already removed (InternetGateway, Vpc) and left the stack DELETE_FAILED.
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
        if stack.status == "DELETE_IN_PROGRESS":
            return
        stack.status = "DELETE_IN_PROGRESS"
    try:
        export_names = [export.name for export in stack.exports]
    except Exception:
        export_names = []
    if not stack.delete(retain=retain_resources):
        return
    self.stacks.pop(stack.stack_id, None)
    self.deleted_stacks[stack.stack_id] = stack
    for export_name in export_names:
        export = self.exports.get(export_name)
        if export is not None and getattr(export, "exporting_stack_id", stack.stack_id) == stack.stack_id:
            self.exports.pop(export_name, None)


def _backend_update_stack(
    self: CloudFormationBackend,
    name: str,
    template: str,
    role_arn: str | None,
    parameters: list[dict[str, Any]],
    tags: dict[str, str] | None,
) -> Stack:
    stack = self.get_stack(name)
    token = _REQUEST_TOKEN.get()
    if token and ("UpdateStack", token) in stack.__dict__.get("irlab_request_tokens", set()):
        return stack  # a retry of an update that already ran
    resolved_parameters = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
    if (
        stack.has_template(template)
        and stack.has_parameters(resolved_parameters)
        and (tags is None or tags == stack.tags)
    ):
        raise ValidationError(stack.name, message="No updates are to be performed.")
    if _seen_token(stack, "UpdateStack"):
        return stack
    stack.update(template, role_arn, parameters=resolved_parameters, tags=tags)
    return stack


def _find_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None) -> Any:
    if change_set_name in self.change_sets:
        return self.change_sets[change_set_name]
    for change_set in self.change_sets.values():
        if change_set.change_set_name == change_set_name and (
            not stack_name or stack_name in (change_set.stack_name, change_set.stack_id)
        ):
            return change_set
    return None


def _backend_execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = _find_change_set(self, change_set_name, stack_name)
    if change_set is None:
        raise ChangeSetNotFound(f"ChangeSet [{change_set_name}] does not exist")
    token = _REQUEST_TOKEN.get()
    with _names_lock:
        if token and token == getattr(change_set, "irlab_execute_token", None):
            return  # a retry of the execution (done or still running)
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of [{change_set.status}]"
            )
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        change_set.irlab_execute_token = token
    stack = self.stacks[change_set.stack_id]
    if change_set.change_set_type == "CREATE":
        stack.template = change_set.template
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.parameters = change_set.parameters or {}
        if change_set.tags:
            stack.tags = change_set.tags
        stack.resource_map = stack._create_resource_map()
        stack.output_map = stack._create_output_map()
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.create_resources()
        self._irlab_register_exports(stack)
        ok = stack.status == "CREATE_COMPLETE"
    else:
        stack.update(
            change_set.template,
            role_arn=change_set.role_arn,
            parameters=change_set.parameters,
            tags=change_set.tags or None,
        )
        ok = stack.status == "UPDATE_COMPLETE"
    change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"
    # AWS deletes the stack's other change sets once one is executed
    for other_id in [
        cid for cid, cs in self.change_sets.items()
        if cs.stack_id == stack.stack_id and cs is not change_set
    ]:
        del self.change_sets[other_id]


_orig_create_change_set = CloudFormationBackend.create_change_set


def _backend_create_change_set(
    self: CloudFormationBackend,
    stack_name: str,
    change_set_name: str,
    template: str,
    parameters: dict[str, str],
    description: str,
    change_set_type: str,
    notification_arns: list[str] | None = None,
    tags: dict[str, str] | None = None,
    role_arn: str | None = None,
) -> tuple[str, str]:
    """A change set name is unique per stack (AlreadyExistsException), a retry
    with the same ClientToken answers the change set that request created, and
    a CREATE change set needs a stack name that is free (or a stack still in
    REVIEW_IN_PROGRESS); checked and claimed in one step."""
    token = _CLIENT_TOKEN.get()
    if template:
        parse_template(template)  # before moto makes the REVIEW_IN_PROGRESS stack of a CREATE change set
        check_parameters_declared(template, (parameters or {}).keys())
    with _names_lock:
        stack = next((s for s in self.stacks.values() if stack_name in (s.name, s.stack_id)), None)
        if stack is not None:
            for change_set in self.change_sets.values():
                if change_set.change_set_name != change_set_name or change_set.stack_id != stack.stack_id:
                    continue
                earlier = getattr(change_set, "irlab_client_token", None)
                if token and token == earlier:
                    return change_set.change_set_id, change_set.stack_id
                if token or earlier:
                    raise AlreadyExistsException(
                        f"ChangeSet {change_set_name} cannot be created due to a mismatch with existing attribute ClientToken"
                    )
                raise AlreadyExistsException("The resource with the name requested already exists.")
            if change_set_type == "CREATE" and stack.status != "REVIEW_IN_PROGRESS":
                raise ValidationError(
                    message=f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{change_set_name}]."
                )
        change_set_id, stack_id = _orig_create_change_set(
            self, stack_name, change_set_name, template, parameters, description, change_set_type,
            notification_arns=notification_arns, tags=tags, role_arn=role_arn,
        )
        self.change_sets[change_set_id].irlab_client_token = token
    return change_set_id, stack_id


def _change_set_diff(self: Any) -> list[Any]:
    """Changes of a change set: added, removed, and modified resources - those
    whose template JSON differs or that reference a parameter whose resolved
    value changes."""
    stack = self.stack
    rm = stack.resource_map
    new_resources = (self.template_dict or {}).get("Resources") or {}
    old_resources = rm._resource_json_map or {}
    changed_params: set[str] = set()
    if self.change_set_type == "UPDATE":
        probe = ResourceMap(
            stack.stack_id,
            stack.name,
            self.parameters if self.parameters else rm.input_parameters,
            stack.tags,
            region_name=stack.region_name,
            account_id=stack.account_id,
            template=self.template_dict,
            cross_stack_resources=stack.cross_stack_resources,
        )
        probe.load()
        old_values = rm.resolved_parameters
        new_values = probe.resolved_parameters
        changed_params = {
            k for k in set(old_values) | set(new_values) if old_values.get(k) != new_values.get(k)
        }
    changes = []
    live = {lid for lid in old_resources if rm._irlab_is_live(lid)}
    for logical_id, resource_json in new_resources.items():
        if logical_id not in live:
            action = "Add"
        else:
            refs: set[str] = set()
            _collect_refs(resource_json.get("Properties") or {}, refs)
            if resource_json == old_resources.get(logical_id) and not refs & changed_params:
                continue
            action = "Modify"
        change = cfn_models.Change(action, logical_id, resource_json.get("Type"))
        change.physical_resource_id = rm._irlab_res.get(logical_id, {}).get("PhysicalResourceId") or None
        changes.append(change)
    for logical_id in old_resources:
        if logical_id in live and logical_id not in new_resources:
            change = cfn_models.Change("Remove", logical_id, old_resources[logical_id]["Type"])
            change.physical_resource_id = rm._irlab_res[logical_id].get("PhysicalResourceId") or None
            changes.append(change)
    return changes


# --------------------------------------------------------------------------
# responses


_orig_response_create_stack = cfn_responses.CloudFormationResponse.create_stack
_orig_response_update_stack = cfn_responses.CloudFormationResponse.update_stack
_orig_response_execute_change_set = cfn_responses.CloudFormationResponse.execute_change_set
_orig_response_create_change_set = cfn_responses.CloudFormationResponse.create_change_set


def _with_request_token(handler: Any, contextvar: Any = _REQUEST_TOKEN, param: str = "ClientRequestToken") -> Any:
    """Serve ``handler`` with the request's idempotency token in ``contextvar``."""

    def serve(self: Any) -> Any:
        reset = contextvar.set(self._get_param(param) or None)
        try:
            return handler(self)
        finally:
            contextvar.reset(reset)

    serve.__name__ = handler.__name__
    return serve


def _response_create_stack(self: Any) -> ActionResult:
    on_failure = self._get_param("OnFailure")
    if not on_failure:
        on_failure = "DO_NOTHING" if self._get_bool_param("DisableRollback", False) else "ROLLBACK"
    token = _ON_FAILURE.set(on_failure)
    try:
        return _orig_response_create_stack(self)
    finally:
        _ON_FAILURE.reset(token)


def _response_delete_stack(self: Any) -> ActionResult:
    name_or_stack_id = self._get_param("StackName")
    retain = self._get_param("RetainResources", [])
    self.cloudformation_backend.delete_stack(name_or_stack_id, retain_resources=retain)
    return EmptyResult()


_orig_event_init = Event.__init__


def _event_init(self: Event, *args: Any, **kwargs: Any) -> None:
    _orig_event_init(self, *args, **kwargs)
    self.client_request_token = _REQUEST_TOKEN.get()


def _stack_for_resources(self: Any) -> Stack:
    stack_name = self._get_param("StackName")
    physical_id = self._get_param("PhysicalResourceId")
    backend = self.cloudformation_backend
    if not stack_name and physical_id:
        for stack in list(backend.stacks.values()) + list(backend.deleted_stacks.values()):
            if any(r.get("PhysicalResourceId") == physical_id for r in stack.resource_map.irlab_summaries()):
                return stack
        raise ValidationError(message=f"Stack for {physical_id} does not exist")
    return backend.get_stack(stack_name)


def _resource_detail(stack: Stack, row: dict[str, Any], detail: bool = False) -> dict[str, Any]:
    item = {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LogicalResourceId": row["LogicalResourceId"],
        "PhysicalResourceId": row.get("PhysicalResourceId") or None,
        "ResourceType": row["ResourceType"],
        "ResourceStatus": row["ResourceStatus"],
        "ResourceStatusReason": row.get("ResourceStatusReason"),
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
    }
    if detail:
        item["LastUpdatedTimestamp"] = row["Timestamp"]
        item["Metadata"] = json.dumps(
            (stack.template_dict.get("Resources", {}).get(row["LogicalResourceId"]) or {}).get("Metadata") or {}
        )
    else:
        item["Timestamp"] = row["Timestamp"]
    return item


def _response_list_stack_resources(self: Any) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    summaries = []
    for row in stack.resource_map.irlab_summaries():
        summaries.append(
            {
                "LogicalResourceId": row["LogicalResourceId"],
                "PhysicalResourceId": row.get("PhysicalResourceId") or None,
                "ResourceType": row["ResourceType"],
                "LastUpdatedTimestamp": row["Timestamp"],
                "ResourceStatus": row["ResourceStatus"],
                "ResourceStatusReason": row.get("ResourceStatusReason"),
                "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
            }
        )
    return ActionResult({"StackResourceSummaries": summaries})


def _response_describe_stack_resources(self: Any) -> ActionResult:
    stack = _stack_for_resources(self)
    logical_id = self._get_param("LogicalResourceId")
    physical_id = self._get_param("PhysicalResourceId")
    rows = [
        r
        for r in stack.resource_map.irlab_summaries()
        if (not logical_id or r["LogicalResourceId"] == logical_id)
        and (not physical_id or r.get("PhysicalResourceId") == physical_id)
    ]
    return ActionResult({"StackResources": [_resource_detail(stack, r) for r in rows]})


def _response_describe_stack_resource(self: Any) -> ActionResult:
    stack_name = self._get_param("StackName")
    stack = self.cloudformation_backend.get_stack(stack_name)
    logical_id = self._get_param("LogicalResourceId")
    for row in stack.resource_map.irlab_summaries():
        if row["LogicalResourceId"] == logical_id:
            return ActionResult({"StackResourceDetail": _resource_detail(stack, row, detail=True)})
    raise ValidationError(
        stack_name, message=f"Resource {logical_id} does not exist for stack {stack_name}"
    )


def _response_validate_different_update(self: Any, *args: Any, **kwargs: Any) -> None:
    # CreateChangeSet accepts an unchanged template (the change set then ends
    # FAILED); UpdateStack's "No updates are to be performed." check lives in
    # the backend.
    return None


# --------------------------------------------------------------------------


_moto_load_parameters = ResourceMap.load_parameters


def _rm_load_parameters(self: ResourceMap) -> None:
    """moto checks a Number (or List<Number>) parameter as a number and then
    keeps it as an int or float; CloudFormation validates it as a number, but
    "when you use the parameter elsewhere in your template (for example, by
    using the Ref intrinsic function), the parameter value becomes a string"
    (a list of strings). A Lambda environment variable given !Ref of a Number
    was an integer in moto, which no SDK reads as the string AWS returns.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html"""
    _moto_load_parameters(self)
    for key, slot in (self._template.get("Parameters") or {}).items():
        kind = slot.get("Type", "String")
        value = self.resolved_parameters.get(key)
        if kind == "Number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            text = _number_text(self.input_parameters.get(key), slot.get("Default"), value)
            self.resolved_parameters[key] = self._parsed_resources[key] = text
        elif kind == "List<Number>" and isinstance(value, list):
            strings = [str(v) for v in value]
            given = self.input_parameters.get(key)
            if isinstance(given, str):
                strings = [v.strip() for v in given.split(",")]
            self.resolved_parameters[key] = self._parsed_resources[key] = strings


def _stack_parameter_list(self: Stack) -> list[dict[str, Any]]:
    """DescribeStacks' Parameters. For a Systems Manager parameter type
    (``AWS::SSM::Parameter::Value<...>``) AWS returns the parameter's name as
    ``ParameterValue``, as it was given, and the value it resolved to as
    ``ResolvedValue`` ("the value that corresponds to a Systems Manager
    parameter key. This field is returned only for Systems Manager parameter
    types in the template"); moto returned the resolved value as the
    ParameterValue, so a caller that passed the parameters back on an update
    sent an AMI id where a parameter name belongs.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html"""
    rm = self.resource_map
    slots = rm._template.get("Parameters") or {}
    out = []
    for key, value in rm.resolved_parameters.items():
        if key in rm.no_echo_parameter_keys:
            out.append({"ParameterKey": key, "ParameterValue": "****"})
            continue
        kind = str((slots.get(key) or {}).get("Type", "String"))
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            given = rm.input_parameters.get(key, (slots.get(key) or {}).get("Default"))
            resolved = ",".join(value) if isinstance(value, list) else value
            out.append({"ParameterKey": key, "ParameterValue": given, "ResolvedValue": resolved})
        else:
            out.append({"ParameterKey": key, "ParameterValue": value})
    return out


def _stack_has_parameters(self: Stack, other_parameters: dict[str, Any]) -> bool:
    """Whether a change set's parameters are the stack's, compared as
    CloudFormation resolves them: a parameter left out takes the template's
    Default, so passing a parameter's default explicitly (or leaving out one
    that was passed as its default) is no change, and the change set ends
    "didn't contain changes". moto compared the dictionaries as given, so the
    same values spelled once with and once without a defaulted parameter were
    a change ("Parameters", Default: "A value of the appropriate type for the
    template to use if no value is specified when a stack is created. If you
    define constraints for the parameter, you must specify a value that adheres
    to those constraints."; UpdateStack's Parameter.UsePreviousValue is the way
    to keep a value, leaving it out takes the default).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html"""
    slots = (self.template_dict or {}).get("Parameters") or {}

    def effective(given: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, slot in slots.items():
            if key in given:
                out[key] = given[key]
            elif isinstance(slot, dict) and "Default" in slot:
                default = slot["Default"]
                if isinstance(default, bool):  # YAML true/false, written back as CloudFormation does
                    default = "true" if default else "false"
                out[key] = default if isinstance(default, str) else str(default)
        # A parameter the template does not declare is an error elsewhere; here it counts as given.
        out.update({k: v for k, v in given.items() if k not in slots})
        return out

    return effective(self.parameters or {}) == effective(other_parameters or {})


def _backend_resolve_update_parameters(self: Any, instance: Any, incoming_params: list[dict[str, Any]]) -> dict[str, Any]:
    """An update's parameters: the values given, and for ``UsePreviousValue``
    the value the stack uses now - the one given at create, or the template's
    default when none was ("UsePreviousValue: During a stack update, use the
    existing parameter value that the stack is using for a given parameter
    key"). moto looked the key up among the values given only, and a
    parameter that had taken its default failed the request with a 500.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html"""
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in incoming_params if "ParameterValue" in p}
    template = getattr(instance, "template_dict", None) or {}
    slots = template.get("Parameters") or {} if isinstance(template, dict) else {}
    for p in incoming_params:
        if not p.get("UsePreviousValue"):
            continue
        key = p["ParameterKey"]
        if key in (instance.parameters or {}):
            parameters[key] = instance.parameters[key]
        elif isinstance(slots.get(key), dict) and "Default" in slots[key]:
            default = slots[key]["Default"]
            parameters[key] = default if isinstance(default, str) else str(default)
        else:
            raise ValidationError(
                instance.name,
                message=f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template",
            )
    return parameters


def _number_text(given: Any, default: Any, value: int | float) -> str:
    """The number as it was written: the value passed, else the template's default."""
    for text in (given, default):
        if isinstance(text, str) and text.strip():
            return text.strip()
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            return str(text)
    return str(value)


def apply() -> None:
    parsing.parse_and_create_resource = parse_and_create_resource
    parsing.generate_resource_name = generate_resource_name
    parsing.resource_class_from_type = resource_class_from_type
    parsing.resource_name_property_from_type = resource_name_property_from_type

    ResourceMap.__init__ = _rm_init
    ResourceMap.load_parameters = _rm_load_parameters
    Stack.parameter_list = property(_stack_parameter_list)
    Stack.has_parameters = _stack_has_parameters
    CloudFormationBackend._resolve_update_parameters = _backend_resolve_update_parameters
    ResourceMap.__getitem__ = _rm_getitem
    ResourceMap._irlab_event = _rm_event
    ResourceMap._irlab_is_live = _rm_is_live
    ResourceMap._irlab_propagate_tags = _rm_propagate_tags
    ResourceMap._irlab_create_one = _rm_create_one
    ResourceMap._irlab_delete_one = _rm_delete_one
    ResourceMap._irlab_update_one = _rm_update_one
    ResourceMap.create = _rm_create
    ResourceMap.delete = _rm_delete
    ResourceMap.update = _rm_update
    ResourceMap.irlab_cleanup = _rm_cleanup
    ResourceMap.irlab_summaries = _rm_summaries
    ResourceMap.validate_outputs = _rm_validate_outputs

    Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign,assignment]
    cfn_models.ChangeSet._parse_template = _change_set_parse_template
    Stack.__init__ = _stack_init
    Stack._create_resource_map = _stack_create_resource_map
    Stack.create_resources = _stack_create_resources
    Stack._irlab_fail_create = _stack_fail_create
    Stack.mark_creation_complete = _stack_mark_creation_complete
    Stack._irlab_freeze_outputs = _stack_freeze_outputs
    Stack.update = _stack_update
    Stack.delete = _stack_delete
    Stack.outputs = property(_stack_outputs)

    cfn_models.ChangeSet.diff = _change_set_diff
    CloudFormationBackend.create_stack = _backend_create_stack
    CloudFormationBackend._irlab_register_exports = _backend_register_exports
    CloudFormationBackend.delete_stack = _backend_delete_stack
    CloudFormationBackend.update_stack = _backend_update_stack
    CloudFormationBackend.execute_change_set = _backend_execute_change_set

    CloudFormationBackend.create_change_set = _backend_create_change_set
    Event.__init__ = _event_init

    resp = cfn_responses.CloudFormationResponse
    resp.create_stack = _with_request_token(_response_create_stack)
    resp.delete_stack = _with_request_token(_response_delete_stack)
    resp.update_stack = _with_request_token(_orig_response_update_stack)
    resp.execute_change_set = _with_request_token(_orig_response_execute_change_set)
    resp.create_change_set = _with_request_token(_orig_response_create_change_set, _CLIENT_TOKEN, "ClientToken")
    resp.list_stack_resources = _response_list_stack_resources
    resp.describe_stack_resources = _response_describe_stack_resources
    resp.describe_stack_resource = _response_describe_stack_resource
    resp._validate_different_update = _response_validate_different_update

    from . import _cfn_nested

    _cfn_nested.apply()
