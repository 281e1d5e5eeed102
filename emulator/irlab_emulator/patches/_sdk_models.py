"""botocore's service models as the two playbook engines name them, for the
checks CreateStateMachine and CreateDocument make before they store a
definition (``_asl_validate``, ``_automation_validate``).

* Step Functions names a service in ``arn:aws:states:::aws-sdk:<service>:<action>``
  after the AWS SDK for Java 2.x client: the model's ``serviceId`` in
  PascalCase without a leading ``Amazon``/``Aws`` or a trailing ``Service``,
  lower-cased (``CloudWatch Logs`` -> ``cloudwatchlogs``, ``EventBridge`` ->
  ``eventbridge``, ``SFN`` -> ``sfn``, ``Database Migration Service`` ->
  ``databasemigration``); the action is the operation name with a lower-case
  first letter (``describeInstances``), and parameters are the input members
  in PascalCase (a member ``Equals`` is ``EqualsValue``).
  https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
* SSM Automation's ``aws:executeAwsApi`` names a service by its Boto3 client
  name (``ec2``, ``ssm``, ``logs``) and the operation by its API name
  (``DescribeInstances``).
  https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html

Only the ``serviceId`` of each model is read up front (the first few KB of
each file, once per process); a whole model is loaded when a definition
names its service.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import threading
from typing import Any

from botocore import xform_name
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape

_loader = Loader()
_lock = threading.Lock()
_SERVICE_ID = re.compile(rb'"serviceId"\s*:\s*"([^"]+)"')


def boto_services() -> list[str]:
    """Every Boto3 client name botocore has a model for."""
    return list(_service_ids())


@functools.lru_cache(maxsize=1)
def _service_ids() -> dict[str, str]:
    """Boto3 client name -> the model's ``metadata.serviceId``."""
    out: dict[str, str] = {}
    for name in _loader.list_available_services("service-2"):
        version = _loader.determine_latest_version(name, "service-2")
        service_id = None
        for root in _loader.search_paths:
            for filename, opener in (("service-2.json", open), ("service-2.json.gz", gzip.open)):
                path = os.path.join(root, name, version, filename)
                if os.path.isfile(path):
                    with opener(path, "rb") as f:  # type: ignore[operator]
                        match = _SERVICE_ID.search(f.read(16384))
                    if match:
                        service_id = match.group(1).decode("utf-8")
                    break
            if service_id:
                break
        if service_id is None:  # the header did not have it: read the whole model
            service_id = str(_loader.load_service_model(name, "service-2")["metadata"].get("serviceId") or name)
        out[name] = service_id
    return out


def sfn_service_name(service_id: str) -> str:
    """The name Step Functions' ``aws-sdk`` integrations give a service."""
    pascal = "".join(w[:1].upper() + w[1:].lower() for w in re.split(r"[^A-Za-z0-9]+", service_id) if w)
    for prefix in ("Amazon", "Aws"):
        if pascal.startswith(prefix) and len(pascal) > len(prefix):
            pascal = pascal[len(prefix) :]
    if pascal.endswith("Service") and len(pascal) > len("Service"):
        pascal = pascal[: -len("Service")]
    return pascal.lower()


@functools.lru_cache(maxsize=1)
def _sfn_names() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for boto_name, service_id in _service_ids().items():
        out.setdefault(sfn_service_name(service_id), []).append(boto_name)
    return out


def boto_names_for_sfn(name: str) -> list[str]:
    """The Boto3 client names behind a Step Functions service name (empty
    when botocore has no such service)."""
    return list(_sfn_names().get(name, []))


@functools.lru_cache(maxsize=64)
def service_model(boto_name: str) -> ServiceModel | None:
    with _lock:
        try:
            return ServiceModel(_loader.load_service_model(boto_name, "service-2"), service_name=boto_name)
        except Exception:
            return None


def sfn_operation(sfn_service: str, action: str) -> OperationModel | None:
    """The operation ``arn:aws:states:::aws-sdk:<sfn_service>:<action>`` calls."""
    for boto_name in boto_names_for_sfn(sfn_service):
        model = service_model(boto_name)
        if model is None:
            continue
        for op_name in model.operation_names:
            if op_name[:1].lower() + op_name[1:] == action:
                return model.operation_model(op_name)
    return None


def automation_operation(service: str, api: str) -> tuple[bool, OperationModel | None]:
    """``(service known, operation)`` for ``aws:executeAwsApi``'s ``Service``
    (a Boto3 client name) and ``Api`` (the API name, or the Boto3 method name)."""
    if service not in _service_ids():
        return False, None
    model = service_model(service)
    if model is None:
        return False, None
    for op_name in model.operation_names:
        if api in (op_name, xform_name(op_name)):
            return True, model.operation_model(op_name)
    return True, None


def sfn_member_name(member: str) -> str:
    name = member[:1].upper() + member[1:]
    return "EqualsValue" if name == "Equals" else name


def structure_members(shape: Shape | None) -> dict[str, Any] | None:
    """A structure's members (``None`` for anything else, and for document
    types, whose keys are free)."""
    if shape is None or shape.type_name != "structure" or getattr(shape, "is_document_type", False):
        return None
    return dict(shape.members)  # type: ignore[attr-defined]


def to_boto_request(value: Any, shape: Shape | None) -> Any:
    """A Step Functions payload (PascalCase names) with the model's member
    names (``LogGroupNamePrefix`` -> ``logGroupNamePrefix``), recursively."""
    members = structure_members(shape)
    if isinstance(value, dict) and members is not None:
        by_sfn = {sfn_member_name(m): (m, s) for m, s in members.items()}
        return {
            by_sfn[k][0] if k in by_sfn else k: to_boto_request(v, by_sfn[k][1] if k in by_sfn else None)
            for k, v in value.items()
        }
    if shape is not None and isinstance(value, list) and shape.type_name == "list":
        return [to_boto_request(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if shape is not None and isinstance(value, dict) and shape.type_name == "map":
        return {k: to_boto_request(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


def to_sfn_result(value: Any, shape: Shape | None) -> Any:
    """An SDK response with Step Functions' PascalCase names (``logGroups`` ->
    ``LogGroups``), recursively."""
    members = structure_members(shape)
    if isinstance(value, dict) and members is not None:
        return {sfn_member_name(k) if k in members else k: to_sfn_result(v, members.get(k)) for k, v in value.items()}
    if shape is not None and isinstance(value, list) and shape.type_name == "list":
        return [to_sfn_result(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if shape is not None and isinstance(value, dict) and shape.type_name == "map":
        return {k: to_sfn_result(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    return value
