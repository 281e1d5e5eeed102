"""CloudFormation StackSets with service-managed permissions, and
Organizations trusted access, as AWS runs them.

moto 5.2.5's StackSets are thin (measured, ``/work/shared/probes/moto-5.2.5/
stacksets_test.py``): an OU deploy reaches the OU and its direct children only;
service-managed instances are hidden ``Stack`` objects no member account can
see; operations are SUCCEEDED at once with made-up results; DeleteStackInstances
by OU deletes nothing (so DeleteStackSet then fails); AutoDeployment,
OperationPreferences, CallAs and trusted access are ignored.  Here the stack set
calls are served by this module instead:

* Trusted access (``ActivateOrganizationsAccess`` / ``DeactivateOrganizationsAccess``
  / ``DescribeOrganizationsAccess``: ``ENABLED`` | ``DISABLED``) per organization,
  from its management account.  A ``SERVICE_MANAGED`` stack set needs it
  (ValidationError "You must enable organizations access to operate a service
  managed stack set") and a caller that is the management account, or a
  delegated administrator for ``member.org.stacksets.cloudformation.amazonaws.com``
  calling with ``CallAs=DELEGATED_ADMIN`` (ValidationError "You must be the
  management account or delegated admin account of an organization before
  operating a SERVICE_MANAGED stack set"); the delegated administrator works on
  the management account's stack sets.  ``AutoDeployment`` is required for
  ``SERVICE_MANAGED`` ("Required if the permissions model is SERVICE_MANAGED",
  API_CreateStackSet; the message is the stand-in's own, AWS does not publish it).
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ActivateOrganizationsAccess.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html
* Targets: ``DeploymentTargets.OrganizationalUnitIds`` reach every account of the
  OU and of all its descendant OUs, never the management account;
  ``AccountFilterType`` INTERSECTION / DIFFERENCE / UNION (the default) / NONE
  combine them with ``Accounts``.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html
* Each stack instance is a real stack in the target account and region, created,
  updated and deleted through the stack engine (``cloudformation.py``), named
  ``StackSet-<stack set name>-<uuid>``, with the stack set's tags and its
  parameters plus ``ParameterOverrides``.
* Operations run in the background, one at a time per stack set
  (``OperationInProgressException`` "Another Operation on StackSet ARN is in
  progress"; with ``ManagedExecution.Active`` a conflicting operation is QUEUED
  instead): QUEUED -> RUNNING -> SUCCEEDED | FAILED | STOPPED.  Regions one after
  the other in ``RegionOrder`` (``RegionConcurrencyType: PARALLEL``: together);
  within a region at most ``MaxConcurrentCount`` (or ``MaxConcurrentPercentage``,
  rounded down, at least 1) accounts at once; ``ConcurrencyMode``
  ``STRICT_FAILURE_TOLERANCE`` (default) starts at min(MaxConcurrentCount,
  FailureToleranceCount + 1) and lowers it by the failures so far,
  ``SOFT_FAILURE_TOLERANCE`` keeps MaxConcurrentCount.  Once more accounts of a
  region failed than ``FailureToleranceCount`` (``FailureTolerancePercentage``,
  rounded down) no account is started any more, in that region or later ones:
  their results are CANCELLED and the operation FAILED.  Accounts are taken in
  ascending account id order (AWS documents no order).
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-concepts.html
* ``ListStackSetOperationResults`` (Account, Region, Status PENDING | RUNNING |
  SUCCEEDED | FAILED | CANCELLED, StatusReason, OrganizationalUnitId),
  ``ListStackInstances`` / ``DescribeStackInstance`` (StackId of the member stack,
  Status CURRENT | OUTDATED | INOPERABLE, ``StackInstanceStatus.DetailedStatus``,
  StatusReason, OrganizationalUnitId, LastOperationId).  A failed member stack's
  reason is its first failed resource: "ResourceLogicalId:X,
  ResourceType:T, ResourceStatusReason:R".
* ``DeleteStackInstances`` (OUs and/or accounts, ``RetainStacks``) deletes the
  member stacks or only detaches them; ``DeleteStackSet`` fails
  ``StackSetNotEmptyException`` while instances remain; a deleted stack set is
  ``DELETED``: ``ListStackSets`` shows it only without a filter or with
  ``Status=DELETED``, DescribeStackSet by name no longer finds it.
  ``UpdateStackSet`` updates every instance's stack as an UPDATE operation.
* Auto-deployment: when an account is created in, moved into, moved out of or
  removed from the OUs a stack set with ``AutoDeployment.Enabled`` targets, the
  stack set creates its instances there (in the regions it targets that OU
  with) or deletes them (kept with ``RetainStacksOnAccountRemoval``), without a
  CloudFormation call; deletes run before creates, and a stack set listed in
  another's ``AutoDeployment.DependsOn`` completes first.  Operation
  preferences do not apply to these operations.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_AutoDeployment.html

Not modelled: self-managed permissions' administration and execution roles
(a SELF_MANAGED stack set deploys to the accounts it names), drift detection,
``AccountsUrl``, suspended accounts, the account gate, ImportStacksToStackSet.
``GET /moto-api/irlab/idle`` counts running stack set operations.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow

from . import _runtime

log = logging.getLogger("irlab_emulator.stacksets")

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
NOT_ADMIN = (
    "You must be the management account or delegated admin account of an organization "
    "before operating a SERVICE_MANAGED stack set"
)
NO_ACCESS = "You must enable organizations access to operate a service managed stack set"

_lock = threading.RLock()
# (home account, region) -> stack set id -> StackSetRecord
_stack_sets: dict[tuple[str, str], dict[str, StackSetRecord]] = {}
# organization id -> "ENABLED" | "DISABLED"
_access: dict[str, str] = {}


# ------------------------------------------------------------------ errors


class _Error(ServiceException):
    def __init__(self, message: str):
        super().__init__(message)


class ValidationError(_Error):
    code = "ValidationError"


class StackSetNotFound(_Error):
    code = "StackSetNotFoundException"


class StackSetNotEmpty(_Error):
    code = "StackSetNotEmptyException"


class OperationInProgress(_Error):
    code = "OperationInProgressException"


class OperationNotFound(_Error):
    code = "OperationNotFoundException"


class InvalidOperation(_Error):
    code = "InvalidOperationException"


class NameAlreadyExists(_Error):
    code = "NameAlreadyExistsException"


class StackInstanceNotFound(_Error):
    code = "StackInstanceNotFoundException"


class OperationIdAlreadyExists(_Error):
    code = "OperationIdAlreadyExistsException"


# ------------------------------------------------------------------ model


@dataclass
class Result:
    account: str
    region: str
    ou: str | None
    status: str = "PENDING"
    reason: str | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Account": self.account, "Region": self.region, "Status": self.status}
        if self.reason:
            out["StatusReason"] = self.reason
        if self.ou:
            out["OrganizationalUnitId"] = self.ou
        return out


@dataclass
class Operation:
    id: str
    action: str
    preferences: dict[str, Any]
    results: list[Result]
    status: str = "QUEUED"
    created: Any = field(default_factory=utcnow)
    ended: Any = None
    retain_stacks: bool | None = None
    deployment_targets: dict[str, Any] | None = None
    status_reason: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    overrides: list[dict[str, Any]] | None = None  # UPDATE of instances: new ParameterOverrides

    def describe(self, ss: StackSetRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "OperationId": self.id,
            "StackSetId": ss.id,
            "Action": self.action,
            "Status": self.status,
            "OperationPreferences": self.preferences,
            "CreationTimestamp": self.created,
            "StatusDetails": {"FailedStackInstancesCount": sum(r.status == "FAILED" for r in self.results)},
        }
        if ss.permission_model == "SELF_MANAGED":
            out["AdministrationRoleARN"] = ss.admin_role
            out["ExecutionRoleName"] = ss.exec_role
        if self.retain_stacks is not None:
            out["RetainStacks"] = self.retain_stacks
        if self.deployment_targets:
            out["DeploymentTargets"] = self.deployment_targets
        if self.ended is not None:
            out["EndTimestamp"] = self.ended
        if self.status_reason:
            out["StatusReason"] = self.status_reason
        return out

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "OperationId": self.id,
            "Action": self.action,
            "Status": self.status,
            "CreationTimestamp": self.created,
            "OperationPreferences": self.preferences,
            "StatusDetails": {"FailedStackInstancesCount": sum(r.status == "FAILED" for r in self.results)},
        }
        if self.ended is not None:
            out["EndTimestamp"] = self.ended
        if self.status_reason:
            out["StatusReason"] = self.status_reason
        return out


@dataclass
class Instance:
    account: str
    region: str
    ou: str | None
    overrides: list[dict[str, Any]] = field(default_factory=list)
    stack_id: str | None = None
    status: str = "OUTDATED"
    detailed: str = "PENDING"
    reason: str | None = None
    last_operation: str | None = None

    def summary(self, ss: StackSetRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StackSetId": ss.id,
            "Region": self.region,
            "Account": self.account,
            "Status": self.status,
            "StackInstanceStatus": {"DetailedStatus": self.detailed},
            "DriftStatus": "NOT_CHECKED",
        }
        if self.stack_id:
            out["StackId"] = self.stack_id
        if self.reason:
            out["StatusReason"] = self.reason
        if self.ou:
            out["OrganizationalUnitId"] = self.ou
        if self.last_operation:
            out["LastOperationId"] = self.last_operation
        return out


@dataclass
class Target:
    """An OU the stack set was deployed to, the regions, and the account filter
    it was deployed with: what auto-deployment follows."""

    ou: str
    regions: list[str]
    filter: str = "NONE"
    accounts: list[str] = field(default_factory=list)

    def covers(self, account: str, ancestry: list[str]) -> bool:
        if self.ou not in ancestry:
            return False
        if self.filter == "INTERSECTION":
            return account in self.accounts
        if self.filter == "DIFFERENCE":
            return account not in self.accounts
        return True


@dataclass
class StackSetRecord:
    id: str
    name: str
    arn: str
    home: str
    region: str
    template: str
    description: str | None
    parameters: list[dict[str, Any]]
    capabilities: list[str]
    tags: list[dict[str, str]]
    permission_model: str
    auto_deployment: dict[str, Any] | None
    managed_execution: dict[str, Any]
    admin_role: str
    exec_role: str
    status: str = "ACTIVE"
    targets: list[Target] = field(default_factory=list)
    instances: dict[tuple[str, str], Instance] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list)

    def running(self) -> Operation | None:
        return next((op for op in self.operations if op.status in ("QUEUED", "RUNNING", "STOPPING")), None)

    def ous(self) -> list[str]:
        seen: list[str] = []
        for t in self.targets:
            if t.ou not in seen:
                seen.append(t.ou)
        return seen

    def regions(self) -> list[str]:
        regions = {r for t in self.targets for r in t.regions} | {i.region for i in self.instances.values()}
        return sorted(regions)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StackSetName": self.name,
            "StackSetId": self.id,
            "Status": self.status,
            "TemplateBody": self.template,
            "Parameters": self.parameters,
            "Capabilities": self.capabilities,
            "Tags": self.tags,
            "StackSetARN": self.arn,
            "PermissionModel": self.permission_model,
            "ManagedExecution": self.managed_execution,
            "Regions": self.regions(),
        }
        if self.description is not None:
            out["Description"] = self.description
        if self.permission_model == "SELF_MANAGED":
            out["AdministrationRoleARN"] = self.admin_role
            out["ExecutionRoleName"] = self.exec_role
        else:
            out["OrganizationalUnitIds"] = self.ous()
        if self.auto_deployment is not None:
            out["AutoDeployment"] = self.auto_deployment
        return out

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StackSetName": self.name,
            "StackSetId": self.id,
            "Status": self.status,
            "PermissionModel": self.permission_model,
            "ManagedExecution": self.managed_execution,
            "DriftStatus": "NOT_CHECKED",
        }
        if self.description is not None:
            out["Description"] = self.description
        if self.auto_deployment is not None:
            out["AutoDeployment"] = self.auto_deployment
        return out


# ------------------------------------------------------------------ Organizations


def _partition(region: str) -> str:
    from moto.utilities.utils import get_partition

    return get_partition(region)


def _org_backend(account: str, region: str) -> Any | None:
    """The Organizations backend of the management account of ``account``'s
    organization (None when the account is in none)."""
    from moto.organizations.models import organizations_backends

    partition = _partition(region)
    own = organizations_backends[account][partition]
    if own.org is not None:
        return own
    master = organizations_backends.master_accounts.get(account)
    if master is None:
        return None
    backend = organizations_backends[master[0]][master[1]]
    return backend if backend.org is not None else None


def _ancestry(org: Any, account: str) -> list[str]:
    """The OU ids from the account's parent up to the root."""
    acct = next((a for a in org.accounts if a.id == account), None)
    if acct is None:
        return []
    parents = {ou.id: ou.parent_id for ou in org.ou}
    chain: list[str] = []
    node = acct.parent_id
    while node and node not in chain:
        chain.append(node)
        node = parents.get(node)
    return chain


def _members(org: Any) -> list[str]:
    """Accounts StackSets may deploy to: every account but the management account."""
    return sorted(a.id for a in org.accounts if a.id != org.org.master_account_id)


def _resolve_targets(org: Any | None, targets: dict[str, Any], service_managed: bool) -> dict[str, str | None]:
    """Account -> the targeted OU it was reached through (None for accounts named directly)."""
    ou_ids = list(targets.get("OrganizationalUnitIds") or [])
    accounts = list(targets.get("Accounts") or [])
    if not service_managed or org is None:
        return {a: None for a in sorted(set(accounts))}
    in_ous: dict[str, str] = {}
    for account in _members(org):
        ancestry = _ancestry(org, account)
        # the nearest targeted OU above the account
        for ou in ancestry:
            if ou in ou_ids:
                in_ous[account] = ou
                break
    kind = targets.get("AccountFilterType") or ("UNION" if accounts else "NONE")
    if kind == "INTERSECTION":
        chosen = {a: ou for a, ou in in_ous.items() if a in accounts}
    elif kind == "DIFFERENCE":
        chosen = {a: ou for a, ou in in_ous.items() if a not in accounts}
    elif kind == "UNION":
        chosen = dict(in_ous)
        for a in accounts:
            if a not in chosen and a != org.org.master_account_id:
                ancestry = _ancestry(org, a)
                chosen[a] = ancestry[0] if ancestry else None  # type: ignore[assignment]
    else:
        chosen = dict(in_ous)
    return {a: chosen[a] for a in sorted(chosen)}


def _access_status(org: Any) -> str:
    with _lock:
        return _access.get(org.org.id, "DISABLED")


def _is_delegated_admin(org: Any, account: str) -> bool:
    return any(
        admin.account.id == account and STACKSETS_PRINCIPAL in admin.services for admin in org.admins
    )


def _home(resp: Any, service_managed_needed: bool = False) -> tuple[str, Any | None]:
    """The account whose stack sets the request works on, and its organization.

    ``CallAs=DELEGATED_ADMIN`` from a registered delegated administrator works
    on the management account's stack sets."""
    caller = resp.current_account
    call_as = resp._get_param("CallAs") or "SELF"
    org = _org_backend(caller, resp.region)
    if call_as == "DELEGATED_ADMIN":
        if org is None or not _is_delegated_admin(org, caller):
            raise ValidationError(NOT_ADMIN)
        return org.org.master_account_id, org
    if service_managed_needed and (org is None or org.org.master_account_id != caller):
        raise ValidationError(NOT_ADMIN)
    return caller, org


def _require_access(org: Any | None) -> None:
    if org is None or _access_status(org) != "ENABLED":
        raise ValidationError(NO_ACCESS)


# ------------------------------------------------------------------ registry


def _registry(home: str, region: str) -> dict[str, StackSetRecord]:
    return _stack_sets.setdefault((home, region), {})


def _find(home: str, region: str, name_or_id: str) -> StackSetRecord:
    with _lock:
        sets = _registry(home, region)
        if name_or_id in sets:
            return sets[name_or_id]
        for ss in sets.values():
            if ss.name == name_or_id and ss.status == "ACTIVE":
                return ss
    raise StackSetNotFound(f"StackSet {name_or_id} not found")


def _active(resp: Any) -> tuple[StackSetRecord, Any | None]:
    home, org = _home(resp)
    ss = _find(home, resp.region, resp._get_param("StackSetName"))
    if ss.status != "ACTIVE":
        raise StackSetNotFound(f"StackSet {resp._get_param('StackSetName')} not found")
    return ss, org


def _all_stack_sets() -> list[StackSetRecord]:
    with _lock:
        return [ss for sets in _stack_sets.values() for ss in sets.values()]


# ------------------------------------------------------------------ member stacks


def _cfn(account: str, region: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account][region]


def _parameters(ss: StackSetRecord, overrides: list[dict[str, Any]]) -> dict[str, Any]:
    values = {p["ParameterKey"]: p.get("ParameterValue") for p in ss.parameters if "ParameterValue" in p}
    for p in overrides:
        if "ParameterValue" in p:
            values[p["ParameterKey"]] = p["ParameterValue"]
    return values


def _failure_reason(stack: Any) -> str:
    """The stack's first failed resource, as StackSets reports it."""
    for event in sorted(stack.events, key=lambda e: e.timestamp):
        if event.resource_status.endswith("_FAILED") and event.logical_resource_id != stack.name:
            return (
                f"ResourceLogicalId:{event.logical_resource_id}, ResourceType:{event.resource_type}, "
                f"ResourceStatusReason:{event.resource_status_reason}."
            )
    return stack.status_reason or f"Stack {stack.name} is {stack.status}"


def _find_stack(backend: Any, stack_id: str | None) -> Any | None:
    if not stack_id:
        return None
    return backend.stacks.get(stack_id)


def _deploy(ss: StackSetRecord, op: Operation, result: Result) -> tuple[bool, str | None]:
    """Create or update the member stack of one instance; (succeeded, reason)."""
    from moto.cloudformation.exceptions import ValidationError as CfnValidationError

    with _lock:
        inst = ss.instances[(result.account, result.region)]
        if op.overrides is not None:
            inst.overrides = list(op.overrides)
        params = _parameters(ss, inst.overrides)
        template, tags = ss.template, {t["Key"]: t["Value"] for t in ss.tags}
    backend = _cfn(result.account, result.region)
    stack = _find_stack(backend, inst.stack_id)
    try:
        if stack is not None and stack.status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"):
            backend.delete_stack(stack.stack_id)
            stack = None
        if stack is None:
            name = f"StackSet-{ss.name}-{uuid.uuid4()}"
            stack = backend.create_stack(name=name, template=template, parameters=params, tags=tags)
            stack.capabilities = list(ss.capabilities)
            with _lock:
                inst.stack_id = stack.stack_id
            if stack.status != "CREATE_COMPLETE":
                return False, _failure_reason(stack)
            return True, None
        incoming = [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]
        try:
            backend.update_stack(name=stack.stack_id, template=template, role_arn=None, parameters=incoming, tags=tags)
        except CfnValidationError as exc:
            if "No updates are to be performed" not in str(exc.message):
                raise
        stack.capabilities = list(ss.capabilities)
        if stack.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return False, _failure_reason(stack)
        return True, None
    except ServiceException as exc:
        return False, str(getattr(exc, "message", exc))
    except Exception as exc:  # a fault of the stand-in, not of the template
        log.exception("stack set %s: deploying to %s/%s failed", ss.name, result.account, result.region)
        return False, f"Internal error: {exc}"


def _remove(ss: StackSetRecord, op: Operation, result: Result) -> tuple[bool, str | None]:
    with _lock:
        inst = ss.instances.get((result.account, result.region))
    if inst is None:
        return True, None
    if op.retain_stacks or not inst.stack_id:
        return True, None
    backend = _cfn(result.account, result.region)
    stack = _find_stack(backend, inst.stack_id)
    if stack is None:
        return True, None
    try:
        backend.delete_stack(stack.stack_id)
    except ServiceException as exc:
        return False, str(getattr(exc, "message", exc))
    if stack.status != "DELETE_COMPLETE":
        return False, _failure_reason(stack)
    return True, None


# ------------------------------------------------------------------ operations


def _count(value: Any, percentage: Any, total: int, default: int) -> int:
    if value is not None:
        return int(value)
    if percentage is not None:
        return int(total * int(percentage) // 100)
    return default


def _run_one(ss: StackSetRecord, op: Operation, result: Result) -> None:
    with _lock:
        result.status = "RUNNING"
        inst = ss.instances.get((result.account, result.region))
        if inst is not None:
            inst.detailed = "RUNNING"
            inst.last_operation = op.id
    work = _remove if op.action == "DELETE" else _deploy
    ok, reason = work(ss, op, result)
    with _lock:
        result.status = "SUCCEEDED" if ok else "FAILED"
        result.reason = reason
        inst = ss.instances.get((result.account, result.region))
        if inst is None:
            return
        if op.action == "DELETE":
            if ok:
                ss.instances.pop((result.account, result.region), None)
            else:
                inst.status, inst.detailed, inst.reason = "INOPERABLE", "INOPERABLE", reason
        elif ok:
            inst.status, inst.detailed, inst.reason = "CURRENT", "SUCCEEDED", None
        else:
            inst.status, inst.detailed, inst.reason = "OUTDATED", "FAILED", reason


def _run_region(ss: StackSetRecord, op: Operation, results: list[Result]) -> bool:
    """Run one region's accounts; False when the failure tolerance was exceeded."""
    prefs = op.preferences
    total = len(results)
    tolerance = _count(prefs.get("FailureToleranceCount"), prefs.get("FailureTolerancePercentage"), total, 0)
    max_concurrent = max(_count(prefs.get("MaxConcurrentCount"), prefs.get("MaxConcurrentPercentage"), total, 1), 1)
    strict = (prefs.get("ConcurrencyMode") or "STRICT_FAILURE_TOLERANCE") == "STRICT_FAILURE_TOLERANCE"
    pending = list(results)
    running: dict[int, threading.Thread] = {}
    failures = 0
    cond = threading.Condition()

    def target(result: Result) -> None:
        try:
            _run_one(ss, op, result)
        finally:
            with cond:
                cond.notify_all()

    with cond:
        while pending or running:
            for key, thread in list(running.items()):
                if not thread.is_alive():
                    running.pop(key)
            failures = sum(r.status == "FAILED" for r in results)
            exceeded = failures > tolerance
            if exceeded or op.stop.is_set():
                if not running:
                    break
            else:
                allowed = min(max_concurrent, tolerance + 1 - failures) if strict else max_concurrent
                allowed = max(allowed, 1)
                while pending and len(running) < allowed:
                    result = pending.pop(0)
                    thread = threading.Thread(target=target, args=(result,), daemon=True, name=f"irlab-stackset-{op.id[:8]}")
                    running[id(result)] = thread
                    thread.start()
            if not pending and not running:
                break
            cond.wait(0.05)
    with _lock:
        for result in pending:
            result.status = "CANCELLED"
            inst = ss.instances.get((result.account, result.region))
            if inst is not None and inst.detailed in ("PENDING", "RUNNING"):
                inst.detailed = "CANCELLED"
                inst.last_operation = op.id
    return sum(r.status == "FAILED" for r in results) <= tolerance


def _run(ss: StackSetRecord, op: Operation) -> None:
    # one operation at a time per stack set, in the order they were accepted
    while True:
        with _lock:
            if op.status == "STOPPED" or op.stop.is_set() and op.status == "QUEUED":
                return
            earlier = ss.operations[: ss.operations.index(op)]
            if not any(o.status in ("QUEUED", "RUNNING", "STOPPING") for o in earlier):
                op.status = "RUNNING"
                break
        time.sleep(0.05)
    order = list(op.preferences.get("RegionOrder") or [])
    regions = order + sorted({r.region for r in op.results} - set(order))
    by_region = {region: [r for r in op.results if r.region == region] for region in regions}
    ok = True
    if op.preferences.get("RegionConcurrencyType") == "PARALLEL":
        outcomes: list[bool] = []
        threads = [
            threading.Thread(target=lambda rs=rs: outcomes.append(_run_region(ss, op, rs)), daemon=True)
            for rs in by_region.values()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = all(outcomes)
    else:
        for region in regions:
            if not ok or op.stop.is_set():
                with _lock:
                    for r in by_region[region]:
                        r.status = "CANCELLED"
                        inst = ss.instances.get((r.account, r.region))
                        if inst is not None and inst.detailed in ("PENDING", "RUNNING"):
                            inst.detailed = "CANCELLED"
                continue
            ok = _run_region(ss, op, by_region[region])
    with _lock:
        op.ended = utcnow()
        if op.stop.is_set():
            op.status = "STOPPED"
        elif ok:
            op.status = "SUCCEEDED"
        else:
            op.status = "FAILED"
            op.status_reason = "The operation failed because the failure tolerance was exceeded."


def _submit(ss: StackSetRecord, op: Operation) -> None:
    """Queue ``op`` behind the stack set's other operations."""
    with _lock:
        busy = ss.running()
        if busy is not None and not ss.managed_execution.get("Active"):
            arn = ss.arn
            raise OperationInProgress(f"Another Operation on StackSet {arn} is in progress")
        if any(existing.id == op.id for existing in ss.operations):
            raise OperationIdAlreadyExists(f"The operation id {op.id} already exists")
        ss.operations.append(op)
    _ops_worker.submit(_run, ss, op)


def _new_operation(resp: Any, action: str, results: list[Result], **kw: Any) -> Operation:
    prefs = resp._get_param("OperationPreferences") or {}
    if prefs.get("MaxConcurrentCount") is not None and prefs.get("MaxConcurrentPercentage") is not None:
        raise ValidationError("You can specify MaxConcurrentCount or MaxConcurrentPercentage, but not both.")
    if prefs.get("FailureToleranceCount") is not None and prefs.get("FailureTolerancePercentage") is not None:
        raise ValidationError("You can specify FailureToleranceCount or FailureTolerancePercentage, but not both.")
    return Operation(
        id=resp._get_param("OperationId") or str(uuid.uuid4()),
        action=action,
        preferences=prefs,
        results=results,
        **kw,
    )


# ------------------------------------------------------------------ API: trusted access


def _management_org(resp: Any) -> Any:
    org = _org_backend(resp.current_account, resp.region)
    if org is None:
        raise InvalidOperation("The account is not a member of an organization.")
    call_as = resp._get_param("CallAs") or "SELF"
    if org.org.master_account_id != resp.current_account and not (
        call_as == "DELEGATED_ADMIN" and _is_delegated_admin(org, resp.current_account)
    ):
        raise InvalidOperation(
            "Only the management account of the organization or a delegated administrator can do this."
        )
    return org


def activate_organizations_access(self: Any) -> ActionResult:
    org = _management_org(self)
    with _lock:
        _access[org.org.id] = "ENABLED"
    if not any(s.get("ServicePrincipal") == STACKSETS_PRINCIPAL for s in org.services):
        try:
            org.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
        except Exception:
            log.warning("could not list %s as trusted in Organizations", STACKSETS_PRINCIPAL)
    return EmptyResult()


def deactivate_organizations_access(self: Any) -> ActionResult:
    org = _management_org(self)
    with _lock:
        _access[org.org.id] = "DISABLED"
    org.services[:] = [s for s in org.services if s.get("ServicePrincipal") != STACKSETS_PRINCIPAL]
    return EmptyResult()


def describe_organizations_access(self: Any) -> ActionResult:
    org = _management_org(self)
    return ActionResult({"Status": _access_status(org)})


# ------------------------------------------------------------------ API: stack sets


def _template(resp: Any) -> str | None:
    body = resp._get_param("TemplateBody")
    url = resp._get_param("TemplateURL")
    if url:
        body = resp._get_stack_from_s3_url(url)
    return body


def _check_template(body: str) -> None:
    from .cloudformation import parse_template

    parse_template(body)  # ValidationError "Template format error: ..." as CreateStack gives


def create_stack_set(self: Any) -> ActionResult:
    import re

    from moto.cloudformation.utils import generate_stackset_arn, generate_stackset_id

    name = self._get_param("StackSetName")
    if not re.match(r"^[a-zA-Z][-a-zA-Z0-9]*$", name or ""):
        raise ValidationError(
            f"1 validation error detected: Value '{name}' at 'stackSetName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
        )
    model = self._get_param("PermissionModel") or "SELF_MANAGED"
    service_managed = model == "SERVICE_MANAGED"
    home, org = _home(self, service_managed_needed=service_managed)
    auto = self._get_param("AutoDeployment")
    if service_managed:
        _require_access(org)
        if auto is None:
            raise ValidationError("AutoDeployment must be specified for a stack set with SERVICE_MANAGED permissions.")
    body = _template(self)
    if not body:
        raise ValidationError("Either TemplateBody or TemplateURL must be specified.")
    _check_template(body)
    with _lock:
        if any(ss.name == name and ss.status == "ACTIVE" for ss in _registry(home, self.region).values()):
            raise NameAlreadyExists(f"StackSet {name} already exists")
        stackset_id = generate_stackset_id(name)
        partition = _partition(self.region)
        ss = StackSetRecord(
            id=stackset_id,
            name=name,
            arn=generate_stackset_arn(stackset_id, self.region, home),
            home=home,
            region=self.region,
            template=body,
            description=self._get_param("Description"),
            parameters=list(self._get_param("Parameters") or []),
            capabilities=list(self._get_param("Capabilities") or []),
            tags=list(self._get_param("Tags") or []),
            permission_model=model,
            auto_deployment=auto,
            managed_execution=self._get_param("ManagedExecution") or {"Active": False},
            admin_role=self._get_param("AdministrationRoleARN")
            or f"arn:{partition}:iam::{home}:role/AWSCloudFormationStackSetAdministrationRole",
            exec_role=self._get_param("ExecutionRoleName") or "AWSCloudFormationStackSetExecutionRole",
        )
        _registry(home, self.region)[stackset_id] = ss
    return ActionResult({"StackSetId": stackset_id})


def describe_stack_set(self: Any) -> ActionResult:
    ss, _ = _active(self)
    with _lock:
        out = ss.describe()
    # moto's response transformers turn these two maps into AWS's lists
    out["Parameters"] = {p["ParameterKey"]: p.get("ParameterValue") for p in out["Parameters"]}
    out["Tags"] = {t["Key"]: t["Value"] for t in out["Tags"]}
    return ActionResult({"StackSet": out})


def list_stack_sets(self: Any) -> ActionResult:
    home, _ = _home(self)
    status = self._get_param("Status")
    delegated = self._get_param("CallAs") == "DELEGATED_ADMIN"
    with _lock:
        sets = [
            ss
            for ss in _registry(home, self.region).values()
            if (not status or ss.status == status) and (not delegated or ss.permission_model == "SERVICE_MANAGED")
        ]
        return ActionResult({"Summaries": [ss.summary() for ss in sets]})


def delete_stack_set(self: Any) -> ActionResult:
    home, _ = _home(self)
    name = self._get_param("StackSetName")
    try:
        ss = _find(home, self.region, name)
    except StackSetNotFound:
        return EmptyResult()  # AWS: deleting a stack set that does not exist succeeds
    with _lock:
        if ss.status != "ACTIVE":
            return EmptyResult()
        if ss.running() is not None:
            raise OperationInProgress(f"Another Operation on StackSet {ss.arn} is in progress")
        if ss.instances:
            raise StackSetNotEmpty(
                "You can't yet delete this stack set, because it still contains one or more stack instances. "
                "Delete all stack instances from the stack set before deleting the stack set."
            )
        ss.status = "DELETED"
    return EmptyResult()


def update_stack_set(self: Any) -> ActionResult:
    ss, org = _active(self)
    if ss.permission_model == "SERVICE_MANAGED":
        _require_access(org)
    body = _template(self)
    if body:
        _check_template(body)
    with _lock:
        if ss.running() is not None and not ss.managed_execution.get("Active"):
            raise OperationInProgress(f"Another Operation on StackSet {ss.arn} is in progress")
        previous = {p["ParameterKey"]: p.get("ParameterValue") for p in ss.parameters}
        if body:
            ss.template = body
        if self._get_param("Parameters") is not None:
            params = []
            for p in self._get_param("Parameters"):
                value = previous.get(p["ParameterKey"]) if p.get("UsePreviousValue") else p.get("ParameterValue")
                params.append({"ParameterKey": p["ParameterKey"], "ParameterValue": value})
            ss.parameters = params
        for key, attr in (("Description", "description"), ("AdministrationRoleARN", "admin_role"), ("ExecutionRoleName", "exec_role")):
            if self._get_param(key) is not None:
                setattr(ss, attr, self._get_param(key))
        if self._get_param("Capabilities") is not None:
            ss.capabilities = list(self._get_param("Capabilities"))
        if self._get_param("Tags") is not None:
            ss.tags = list(self._get_param("Tags"))
        if self._get_param("AutoDeployment") is not None:
            ss.auto_deployment = self._get_param("AutoDeployment")
        if self._get_param("ManagedExecution") is not None:
            ss.managed_execution = self._get_param("ManagedExecution")
        # every instance, or those of the accounts/OUs and regions given
        targets = self._get_param("DeploymentTargets")
        accounts = self._get_param("Accounts")
        regions = self._get_param("Regions")
        chosen = list(ss.instances.values())
        if targets or accounts:
            wanted = _resolve_targets(org, targets or {"Accounts": accounts}, ss.permission_model == "SERVICE_MANAGED")
            chosen = [i for i in chosen if i.account in wanted]
        if regions:
            chosen = [i for i in chosen if i.region in regions]
        results = [Result(i.account, i.region, i.ou) for i in sorted(chosen, key=lambda i: (i.region, i.account))]
        for inst in chosen:
            inst.status, inst.detailed = "OUTDATED", "PENDING"
    op = _new_operation(self, "UPDATE", results)
    _submit(ss, op)
    return ActionResult({"OperationId": op.id})


# ------------------------------------------------------------------ API: stack instances


def create_stack_instances(self: Any) -> ActionResult:
    ss, org = _active(self)
    service_managed = ss.permission_model == "SERVICE_MANAGED"
    regions = list(self._get_param("Regions") or [])
    accounts = self._get_param("Accounts")
    targets = self._get_param("DeploymentTargets") or {}
    if not regions:
        raise ValidationError("Regions must be specified.")
    if service_managed:
        _home(self, service_managed_needed=self._get_param("CallAs") != "DELEGATED_ADMIN")
        _require_access(org)
        if accounts or not targets.get("OrganizationalUnitIds"):
            raise ValidationError(
                "StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
            )
    else:
        if targets.get("OrganizationalUnitIds"):
            raise ValidationError("StackSets with SELF_MANAGED permission model can only have accounts as target")
        targets = {"Accounts": accounts or targets.get("Accounts") or []}
    reached = _resolve_targets(org, targets, service_managed)
    overrides = list(self._get_param("ParameterOverrides") or [])
    with _lock:
        if ss.running() is not None and not ss.managed_execution.get("Active"):
            raise OperationInProgress(f"Another Operation on StackSet {ss.arn} is in progress")
        results: list[Result] = []
        for region in regions:
            for account, ou in reached.items():
                inst = ss.instances.get((account, region))
                if inst is None:
                    inst = ss.instances[(account, region)] = Instance(account, region, ou, overrides)
                elif overrides:
                    inst.overrides = overrides
                inst.status, inst.detailed = "OUTDATED", "PENDING"
                results.append(Result(account, region, ou))
        if service_managed:
            kind = targets.get("AccountFilterType") or ("UNION" if targets.get("Accounts") else "NONE")
            for ou in targets.get("OrganizationalUnitIds") or []:
                existing = next((t for t in ss.targets if t.ou == ou), None)
                if existing is None:
                    ss.targets.append(Target(ou, list(regions), kind, list(targets.get("Accounts") or [])))
                else:
                    existing.regions = existing.regions + [r for r in regions if r not in existing.regions]
    op = _new_operation(self, "CREATE", results, deployment_targets=targets if service_managed else None)
    _submit(ss, op)
    return ActionResult({"OperationId": op.id})


def update_stack_instances(self: Any) -> ActionResult:
    ss, org = _active(self)
    regions = list(self._get_param("Regions") or [])
    targets = self._get_param("DeploymentTargets") or {"Accounts": self._get_param("Accounts") or []}
    wanted = _resolve_targets(org, targets, ss.permission_model == "SERVICE_MANAGED")
    overrides = list(self._get_param("ParameterOverrides") or [])
    with _lock:
        if ss.running() is not None and not ss.managed_execution.get("Active"):
            raise OperationInProgress(f"Another Operation on StackSet {ss.arn} is in progress")
        chosen = [i for i in ss.instances.values() if i.account in wanted and i.region in regions]
        missing = [(a, r) for a in wanted for r in regions if (a, r) not in ss.instances]
        if missing and ss.permission_model == "SELF_MANAGED":
            raise StackInstanceNotFound(f"Stack instance {missing[0][0]}/{missing[0][1]} not found")
        results = [Result(i.account, i.region, i.ou) for i in chosen]
        for inst in chosen:
            inst.status, inst.detailed = "OUTDATED", "PENDING"
    op = _new_operation(self, "UPDATE", results, overrides=overrides)
    _submit(ss, op)
    return ActionResult({"OperationId": op.id})


def delete_stack_instances(self: Any) -> ActionResult:
    ss, org = _active(self)
    service_managed = ss.permission_model == "SERVICE_MANAGED"
    regions = list(self._get_param("Regions") or [])
    accounts = self._get_param("Accounts")
    targets = self._get_param("DeploymentTargets") or {}
    retain = bool(self._get_param("RetainStacks"))
    if service_managed:
        _home(self, service_managed_needed=self._get_param("CallAs") != "DELEGATED_ADMIN")
        _require_access(org)
        if accounts:
            raise ValidationError(
                "StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
            )
    else:
        targets = {"Accounts": accounts or targets.get("Accounts") or []}
    with _lock:
        if ss.running() is not None and not ss.managed_execution.get("Active"):
            raise OperationInProgress(f"Another Operation on StackSet {ss.arn} is in progress")
        ou_ids = list(targets.get("OrganizationalUnitIds") or [])
        if service_managed and ou_ids:
            # the instances reached through these OUs (the accounts now under them,
            # and those the stack set recorded under them when it deployed)
            reached = _resolve_targets(org, targets, True)
            wanted = set(reached) | {i.account for i in ss.instances.values() if i.ou in ou_ids}
            kind = targets.get("AccountFilterType") or ("UNION" if targets.get("Accounts") else "NONE")
            if kind == "INTERSECTION":
                wanted &= set(targets.get("Accounts") or [])
            elif kind == "DIFFERENCE":
                wanted -= set(targets.get("Accounts") or [])
            for t in list(ss.targets):
                if t.ou in ou_ids:
                    t.regions = [r for r in t.regions if r not in regions]
                    if not t.regions:
                        ss.targets.remove(t)
        else:
            wanted = set(targets.get("Accounts") or [])
        chosen = sorted(
            (i for i in ss.instances.values() if i.account in wanted and i.region in regions),
            key=lambda i: (i.region, i.account),
        )
        results = [Result(i.account, i.region, i.ou) for i in chosen]
        for inst in chosen:
            inst.detailed = "PENDING"
    op = _new_operation(
        self, "DELETE", results, retain_stacks=retain, deployment_targets=targets if service_managed else None
    )
    _submit(ss, op)
    return ActionResult({"OperationId": op.id})


def list_stack_instances(self: Any) -> ActionResult:
    ss, _ = _active(self)
    account = self._get_param("StackInstanceAccount")
    region = self._get_param("StackInstanceRegion")
    filters = self._get_param("Filters") or []
    with _lock:
        out = []
        for inst in sorted(ss.instances.values(), key=lambda i: (i.region, i.account)):
            if account and inst.account != account or region and inst.region != region:
                continue
            keep = True
            for f in filters:
                value = {"DETAILED_STATUS": inst.detailed, "LAST_OPERATION_ID": inst.last_operation, "DRIFT_STATUS": "NOT_CHECKED"}.get(f["Name"])
                if value != f.get("Values"):
                    keep = False
            if keep:
                out.append(inst.summary(ss))
        return ActionResult({"Summaries": out})


def describe_stack_instance(self: Any) -> ActionResult:
    ss, _ = _active(self)
    account = self._get_param("StackInstanceAccount")
    region = self._get_param("StackInstanceRegion")
    with _lock:
        inst = ss.instances.get((account, region))
        if inst is None:
            raise StackInstanceNotFound(
                f"Stack instance {account} {region} not found in StackSet {ss.name}"
            )
        out = inst.summary(ss)
        out["ParameterOverrides"] = inst.overrides
        return ActionResult({"StackInstance": out})


# ------------------------------------------------------------------ API: operations


def _operation(ss: StackSetRecord, operation_id: str) -> Operation:
    for op in ss.operations:
        if op.id == operation_id:
            return op
    raise OperationNotFound(f"Operation {operation_id} not found")


def describe_stack_set_operation(self: Any) -> ActionResult:
    ss, _ = _active(self)
    with _lock:
        op = _operation(ss, self._get_param("OperationId"))
        return ActionResult({"StackSetOperation": op.describe(ss)})


def list_stack_set_operations(self: Any) -> ActionResult:
    ss, _ = _active(self)
    with _lock:
        return ActionResult({"Summaries": [op.summary() for op in reversed(ss.operations)]})


def list_stack_set_operation_results(self: Any) -> ActionResult:
    ss, _ = _active(self)
    filters = self._get_param("Filters") or []
    with _lock:
        op = _operation(ss, self._get_param("OperationId"))
        rows = [r.summary() for r in op.results]
        for f in filters:
            if f.get("Name") == "OPERATION_RESULT_STATUS":
                rows = [r for r in rows if r["Status"] == f.get("Values")]
        return ActionResult({"Summaries": rows})


def stop_stack_set_operation(self: Any) -> ActionResult:
    ss, _ = _active(self)
    with _lock:
        op = _operation(ss, self._get_param("OperationId"))
        if op.status not in ("QUEUED", "RUNNING"):
            raise InvalidOperation(f"Operation {op.id} is not running")
        op.stop.set()
        if op.status == "QUEUED":
            op.status, op.ended = "STOPPED", utcnow()
            for r in op.results:
                r.status = "CANCELLED"
        else:
            op.status = "STOPPING"
    return EmptyResult()


# ------------------------------------------------------------------ auto-deployment


def _covered(ss: StackSetRecord, org: Any, account: str) -> dict[str, str]:
    """Region -> targeted OU for each region the stack set auto-deploys ``account`` to."""
    if account == org.org.master_account_id:
        return {}
    ancestry = _ancestry(org, account)
    regions: dict[str, str] = {}
    for t in ss.targets:
        if t.covers(account, ancestry):
            for r in t.regions:
                regions.setdefault(r, t.ou)
    return regions


def _auto_sets(org: Any) -> list[StackSetRecord]:
    home = org.org.master_account_id
    return [
        ss
        for ss in _all_stack_sets()
        if ss.home == home
        and ss.status == "ACTIVE"
        and ss.permission_model == "SERVICE_MANAGED"
        and (ss.auto_deployment or {}).get("Enabled")
    ]


def _dependency_order(sets: list[StackSetRecord]) -> list[StackSetRecord]:
    by_arn = {ss.arn: ss for ss in sets}
    by_id = {ss.id: ss for ss in sets}
    order: list[StackSetRecord] = []
    seen: set[str] = set()

    def visit(ss: StackSetRecord, stack: set[str]) -> None:
        if ss.id in seen or ss.id in stack:
            return
        stack.add(ss.id)
        for dep in (ss.auto_deployment or {}).get("DependsOn") or []:
            other = by_arn.get(dep) or by_id.get(dep)
            if other is not None:
                visit(other, stack)
        seen.add(ss.id)
        order.append(ss)

    for ss in sorted(sets, key=lambda s: s.name):
        visit(ss, set())
    return order


def _auto_deploy(org: Any, account: str, before: dict[str, dict[str, str]], removed: bool = False) -> None:
    """After ``account`` joined, moved or left: delete what no longer covers it,
    then create what now does, dependencies first."""
    deletes: list[tuple[StackSetRecord, Operation]] = []
    creates: list[tuple[StackSetRecord, Operation]] = []
    for ss in _dependency_order(_auto_sets(org)):
        now = {} if removed else _covered(ss, org, account)
        was = before.get(ss.id, {})
        with _lock:
            gone = [r for r in was if r not in now and (account, r) in ss.instances]
            new = {r: ou for r, ou in now.items() if (account, r) not in ss.instances}
            if gone:
                retain = bool((ss.auto_deployment or {}).get("RetainStacksOnAccountRemoval"))
                results = [Result(account, r, ss.instances[(account, r)].ou) for r in gone]
                deletes.append((ss, Operation(str(uuid.uuid4()), "DELETE", {}, results, retain_stacks=retain)))
            if new:
                for r, ou in new.items():
                    ss.instances[(account, r)] = Instance(account, r, ou)
                results = [Result(account, r, ou) for r, ou in sorted(new.items())]
                creates.append((ss, Operation(str(uuid.uuid4()), "CREATE", {}, results)))
    plan = deletes + creates
    with _lock:
        for ss, op in plan:
            ss.operations.append(op)  # QUEUED behind the stack set's own operations
    if plan:
        _auto_worker.submit(_run_auto, plan)


def _run_auto(plan: list[tuple[StackSetRecord, Operation]]) -> None:
    # one after the other: deletes first, then creates, dependencies first
    for ss, op in plan:
        _run(ss, op)


# the operations of every stack set (each waits for the earlier ones of its
# stack set); auto-deployment plans, each run in order
_ops_worker = _runtime.Worker("stacksets", threads=16)
_auto_worker = _runtime.Worker("stackset-auto")


def _coverage(org: Any, account: str) -> dict[str, dict[str, str]]:
    return {ss.id: _covered(ss, org, account) for ss in _auto_sets(org)}


def _hook_organizations() -> None:
    from moto.organizations.models import OrganizationsBackend

    if getattr(OrganizationsBackend.move_account, "_irlab_stacksets", False):
        return
    original_move = OrganizationsBackend.move_account
    original_create = OrganizationsBackend.create_account
    original_remove = OrganizationsBackend.remove_account_from_organization

    def move_account(self: Any, **kwargs: Any) -> None:
        account = kwargs["AccountId"]
        before = _coverage(self, account) if self.org else {}
        original_move(self, **kwargs)
        if self.org:
            _auto_deploy(self, account, before)

    def create_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        status = original_create(self, **kwargs)
        if self.org:
            _auto_deploy(self, status["CreateAccountStatus"]["AccountId"], {})
        return status

    def remove_account_from_organization(self: Any, **kwargs: Any) -> None:
        account = kwargs["AccountId"]
        before = _coverage(self, account) if self.org else {}
        original_remove(self, **kwargs)
        if self.org:
            _auto_deploy(self, account, before, removed=True)

    for fn in (move_account, create_account, remove_account_from_organization):
        fn._irlab_stacksets = True  # type: ignore[attr-defined]
    OrganizationsBackend.move_account = move_account  # type: ignore[method-assign]
    OrganizationsBackend.create_account = create_account  # type: ignore[method-assign]
    OrganizationsBackend.remove_account_from_organization = remove_account_from_organization  # type: ignore[method-assign]


# ------------------------------------------------------------------ apply


HANDLERS = {
    "activate_organizations_access": activate_organizations_access,
    "deactivate_organizations_access": deactivate_organizations_access,
    "describe_organizations_access": describe_organizations_access,
    "create_stack_set": create_stack_set,
    "describe_stack_set": describe_stack_set,
    "list_stack_sets": list_stack_sets,
    "delete_stack_set": delete_stack_set,
    "update_stack_set": update_stack_set,
    "create_stack_instances": create_stack_instances,
    "update_stack_instances": update_stack_instances,
    "delete_stack_instances": delete_stack_instances,
    "list_stack_instances": list_stack_instances,
    "describe_stack_instance": describe_stack_instance,
    "describe_stack_set_operation": describe_stack_set_operation,
    "list_stack_set_operations": list_stack_set_operations,
    "list_stack_set_operation_results": list_stack_set_operation_results,
    "stop_stack_set_operation": stop_stack_set_operation,
}


def apply() -> None:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.moto_api._internal.models import MotoAPIBackend

    from moto.organizations.models import FakeDelegatedAdministrator

    for name, handler in HANDLERS.items():
        setattr(CloudFormationResponse, name, handler)
    _hook_organizations()
    # StackSets' delegated administrators are registered for this principal
    # (moto's list of services that take one lacks it)
    if STACKSETS_PRINCIPAL not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
        FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(STACKSETS_PRINCIPAL)

    if not getattr(MotoAPIBackend.reset, "_irlab_stacksets", False):
        original_reset = MotoAPIBackend.reset

        def reset(self: Any) -> None:
            with _lock:
                for ss in _all_stack_sets():
                    for op in ss.operations:
                        op.stop.set()
                _stack_sets.clear()
                _access.clear()
            original_reset(self)

        reset._irlab_stacksets = True  # type: ignore[attr-defined]
        MotoAPIBackend.reset = reset  # type: ignore[method-assign]
