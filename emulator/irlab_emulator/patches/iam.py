"""IAM: AWS managed policies on demand, ``AWS::IAM::Role`` ``ManagedPolicyArns``.

* moto only knows the AWS managed policies (``arn:aws:iam::aws:policy/...``)
  when ``MOTO_IAM_LOAD_MANAGED_POLICIES`` loads all ~1,300 of them into every
  account.  Here a policy from moto's bundled copy is loaded the first time an
  account attaches or reads it, so attaching ``AmazonSSMManagedInstanceCore``
  works as in AWS without the start-up cost.
* ``AWS::IAM::Role`` attaches ``ManagedPolicyArns`` (moto ignores them),
  updates them in place, and on delete detaches the managed policies and
  deletes the inline ones before deleting the role.
* ``ListInstanceProfiles`` filters by ``PathPrefix`` and pages by ``MaxItems``
  (100 when absent) and ``Marker``, as the API reference documents; moto
  returned every profile of the account on one page, whatever was asked.
* IAM is enforced for role sessions: every request signed with credentials
  STS issued to a role is authorised against the role's policies before moto
  answers it (``_iam_enforce``, installed here; the evaluator is
  ``_iam_eval``, the Service Authorization Reference ``_iam_sar``).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from moto.iam import models as iam_models
from moto.iam.models import AWSManagedPolicy, IAMBackend, Role, iam_backends
from moto.utilities.utils import get_partition

from . import _cfn

_AWS_POLICY_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::aws:policy(/(?:[^/]+/)*)([^/]+)$")
_data_lock = threading.Lock()
_aws_policy_data: dict[str, Any] | None = None


def _aws_policies() -> dict[str, Any]:
    global _aws_policy_data
    with _data_lock:
        if _aws_policy_data is None:
            from moto.iam.aws_managed_policies import aws_managed_policies_data

            _aws_policy_data = json.loads(aws_managed_policies_data)
        return _aws_policy_data


def ensure_aws_managed_policy(backend: IAMBackend, policy_arn: str) -> None:
    if not policy_arn or policy_arn in backend.managed_policies:
        return
    match = _AWS_POLICY_ARN.match(policy_arn)
    if not match:
        return
    data = _aws_policies().get(match.group(3))
    if data is None or data.get("Path", "/") != match.group(2):
        return
    policy = AWSManagedPolicy.from_data(match.group(3), backend.account_id, backend.region_name, data)
    if policy.arn == policy_arn:
        backend.managed_policies[policy_arn] = policy


def _wrap_first_arg(name: str) -> None:
    original = getattr(IAMBackend, name)

    def wrapper(self: IAMBackend, policy_arn: str, *args: Any, **kwargs: Any) -> Any:
        ensure_aws_managed_policy(self, policy_arn)
        return original(self, policy_arn, *args, **kwargs)

    wrapper.__name__ = name
    wrapper.__doc__ = original.__doc__
    setattr(IAMBackend, name, wrapper)


def _backend(account_id: str, region_name: str) -> IAMBackend:
    return iam_backends[account_id][get_partition(region_name)]


def _tag_dicts(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class RoleHandler(Role):
    """AWS::IAM::Role"""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Role:
        props = _cfn.props_of(cloudformation_json)
        role = Role.create_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        for policy in props.get("Policies") or []:  # moto stored the dict: GetRolePolicy answered its repr
            role.put_policy(policy["PolicyName"], _cfn.policy_text(policy["PolicyDocument"]))
        backend = _backend(account_id, region_name)
        try:
            for policy_arn in props.get("ManagedPolicyArns") or []:
                backend.attach_role_policy(policy_arn, role.name)
        except Exception:
            cls.irlab_delete(role, props, account_id, region_name)
            raise
        return role

    @classmethod
    def irlab_update(
        cls, role: Role, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> Role:
        for key in ("RoleName", "Path"):
            if old_props.get(key) != new_props.get(key):
                raise _cfn.NeedsReplacement()
        backend = _backend(account_id, region_name)
        if old_props.get("AssumeRolePolicyDocument") != new_props.get("AssumeRolePolicyDocument"):
            backend.update_assume_role_policy(role.name, _cfn.policy_text(new_props["AssumeRolePolicyDocument"]))
        if old_props.get("Description") != new_props.get("Description"):
            role.description = new_props.get("Description", "")
        if old_props.get("MaxSessionDuration") != new_props.get("MaxSessionDuration"):
            role.max_session_duration = int(new_props.get("MaxSessionDuration") or 3600)
        old_arns = set(old_props.get("ManagedPolicyArns") or [])
        new_arns = list(new_props.get("ManagedPolicyArns") or [])
        for policy_arn in new_arns:
            if policy_arn not in old_arns:
                backend.attach_role_policy(policy_arn, role.name)
        for policy_arn in old_arns - set(new_arns):
            if policy_arn in role.managed_policies:
                backend.detach_role_policy(policy_arn, role.name)
        new_inline = {p["PolicyName"]: p["PolicyDocument"] for p in new_props.get("Policies") or []}
        for policy in old_props.get("Policies") or []:
            if policy["PolicyName"] not in new_inline:
                role.delete_policy(policy["PolicyName"])
        for name, document in new_inline.items():
            role.put_policy(name, _cfn.policy_text(document))
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            backend.untag_role(role.name, gone)
        if new_tags:
            backend.tag_role(role.name, _tag_dicts(new_tags))
        return role

    @classmethod
    def irlab_delete(cls, role: Role, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if role.id not in backend.roles:
            return
        for policy_arn in list(role.managed_policies):
            backend.detach_role_policy(policy_arn, role.name)
        for policy_name in list(role.policies):
            role.delete_policy(policy_name)
        for policy in backend.inline_policies.values():
            policy.role_names = [n for n in (policy.role_names or []) if n != role.name]
        backend.delete_role(role.name)

    @classmethod
    def irlab_tag(cls, role: Role, tags: dict[str, str], account_id: str, region_name: str) -> None:
        existing = {t["Key"] for t in role.tags}
        new = {k: v for k, v in tags.items() if k not in existing}
        if new:
            _backend(account_id, region_name).tag_role(role.name, _tag_dicts(new))


class ManagedPolicyHandler(iam_models.ManagedPolicy):
    """AWS::IAM::ManagedPolicy (delete detaches it everywhere first)."""

    @classmethod
    def irlab_delete(cls, policy: Any, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if policy.arn not in backend.managed_policies:
            return
        for role in list(backend.roles.values()):
            if policy.arn in role.managed_policies:
                backend.detach_role_policy(policy.arn, role.name)
        for user in list(backend.users.values()):
            if policy.arn in user.managed_policies:
                backend.detach_user_policy(policy.arn, user.name)
        for group in list(backend.groups.values()):
            if policy.arn in group.managed_policies:
                backend.detach_group_policy(policy.arn, group.name)
        backend.delete_policy(policy.arn)


def _list_instance_profiles(self: Any) -> Any:
    """ListInstanceProfiles: "Lists the instance profiles that have the specified path prefix";
    "If you do not include this parameter [MaxItems], the number of items defaults to 100"
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListInstanceProfiles.html)."""
    from moto.core.responses import ActionResult

    prefix = self._get_param("PathPrefix") or "/"
    max_items = int(self._get_param("MaxItems") or 100)
    start = int(self._get_param("Marker") or 0)
    profiles = sorted(
        (p for p in self.backend.get_instance_profiles() if p.path.startswith(prefix)),
        key=lambda p: p.id,
    )
    page = profiles[start : start + max_items]
    truncated = start + max_items < len(profiles)
    result: dict[str, Any] = {"InstanceProfiles": page, "IsTruncated": truncated}
    if truncated:
        result["Marker"] = str(start + max_items)
    return ActionResult(result)


def apply() -> None:
    from moto.iam.responses import IamResponse

    IamResponse.list_instance_profiles = _list_instance_profiles  # type: ignore[method-assign]
    for name in (
        "attach_role_policy",
        "attach_user_policy",
        "attach_group_policy",
        "get_policy",
        "get_policy_version",
        "list_policy_versions",
        "list_entities_for_policy",
    ):
        if hasattr(IAMBackend, name):
            _wrap_first_arg(name)
    _cfn.register(RoleHandler)
    _cfn.register(ManagedPolicyHandler)
    from . import _iam_enforce

    _iam_enforce.apply()
    # IAM refuses tag keys with the reserved aws: prefix
    _cfn.NO_AWS_PREFIX_TAGS.add("AWS::IAM::Role")
