"""Systems Manager: managed nodes (``DescribeInstanceInformation``) and
``SendCommand`` targeting.

moto 5.2.5 answers HTTP 500 on DescribeInstanceInformation, and SendCommand
runs on every instance of the Region whatever ``InstanceIds`` says.  In AWS an
EC2 instance is a managed node when its SSM Agent (preinstalled on Amazon
Linux) registers, which needs an instance profile whose role allows
``ssm:UpdateInstanceInformation`` (as ``AmazonSSMManagedInstanceCore`` does).
Here (the stand-in has no agent, so every Linux instance is taken to run one):

* a running instance whose instance profile role allows
  ``ssm:UpdateInstanceInformation`` (managed or inline policy) and whose agent
  can reach Systems Manager over the network (below), once its agent
  has come up (``_timing.AGENT_ONLINE_AFTER_RUNNING_S`` after the instance
  entered ``running``, at the wait scale; until then it is not listed and
  SendCommand refuses it), is listed with
  ``PingStatus: Online``, ``ResourceType: EC2Instance``, ``PlatformType:
  Linux``, ``AgentVersion``, ``IsLatestVersion``, ``IPAddress`` (private),
  ``ComputerName`` (private DNS name), ``LastPingDateTime``, ...;
* once registered, a running node that loses that permission (profile
  disassociated, policy detached) or its network path shows ``ConnectionLost``
  with its last ping time; stopped and terminated instances are not returned (the API "does not
  return information for nodes that are either Stopped or Terminated");
* filters: ``InstanceInformationFilterList`` (``InstanceIds``, ``PingStatus``,
  ``PlatformTypes``, ``ResourceType``, ...) or ``Filters`` (same keys,
  ``tag-key``, ``tag:KEY``); both at once is an error; an unknown instance id
  is ``InvalidInstanceId``;
* SendCommand runs only on the given ``InstanceIds`` or the instances the
  ``Targets`` select (``InstanceIds``, ``tag:KEY``, ``tag-key``), all of which
  must be registered managed nodes (``InvalidInstanceId`` otherwise);
  ``ListCommandInvocations`` lists one invocation per instance.

The network path (``agent_reaches_systems_manager``). The agent calls three
services over HTTPS (tcp 443): ``ssm``, ``ssmmessages`` and ``ec2messages``
("Improve the security of EC2 instances by using VPC endpoints for Systems
Manager", https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html;
"Reference: ec2messages, ssmmessages, and other API operations",
https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-setting-up-messageAPIs.html).
For each service, judged on the instance's primary network interface:

* when the instance's VPC has an ``available`` interface endpoint of
  ``com.amazonaws.<region>.<service>`` with private DNS enabled (and the VPC's
  ``enableDnsSupport``), the service's usual name resolves to the endpoint's
  private addresses inside the VPC, so the agent must go through it: some
  network interface of the endpoint must be allowed both by the instance's
  egress (a tcp or all-traffic rule covering 443 to a CIDR containing the
  interface's address, or to a security group the interface carries) and by the
  endpoint interface's ingress (from a CIDR containing the instance's private
  address, or from a security group the instance's interface carries)
  (https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html);
* otherwise it goes to the service's public endpoint: the egress must allow
  443 to ``0.0.0.0/0``, the instance must have a public IPv4 address and its
  subnet's route table (its own association, else the VPC's main table) must
  send ``0.0.0.0/0`` to an internet gateway.

Security groups are stateful, so the answers need no rule of their own. Network
ACLs, NAT gateways, proxies and endpoint policies are not modelled (a node
without a public address behind a NAT gateway shows ``ConnectionLost`` here).

Parameter Store: ``PutParameter``'s check ("exists?") and store are one step
under a lock, as are ``DeleteParameter(s)`` - moto's were two, so concurrent
creates without ``Overwrite`` all "succeeded" (the last value won) where AWS
lets exactly one create the parameter and answers ``ParameterAlreadyExists``
to the others; the lab takes a per-lab lease that way. Creating a parameter
needs a ``Type`` also with ``Overwrite`` true (moto created one without a type).
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import threading
from typing import Any
from urllib.parse import unquote

from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ec2.models.iam_instance_profile import IamInstanceProfileAssociationBackend
from moto.iam.models import iam_backends
from moto.ssm import models as ssm_models
from moto.ssm import responses as ssm_responses
from moto.ssm.exceptions import SSMException, ValidationException
from moto.utilities.utils import get_partition

from . import _clock, _timing, ec2

AGENT_VERSION = "3.3.1802.0"
ACTION = "ssm:UpdateInstanceInformation"

_lock = threading.Lock()
# (account, region, instance id) -> {"registered": datetime, "last_ping": datetime}
_nodes: dict[tuple[str, str, str], dict[str, datetime.datetime]] = {}


class InvalidInstanceId(SSMException):
    code = "InvalidInstanceId"


class InvalidFilterKey(SSMException):
    code = "InvalidFilterKey"


class InvalidInstanceInformationFilterValue(SSMException):
    code = "InvalidInstanceInformationFilterValue"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _documents(role: Any) -> list[Any]:
    docs: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        for version in getattr(policy, "versions", []):
            if version.version_id == policy.default_version_id:
                docs.append(version.document)
    return docs


def _allows(documents: list[Any], action: str) -> bool:
    allowed = False
    for document in documents:
        if isinstance(document, str):
            try:
                document = json.loads(unquote(document) if document.startswith("%7B") else document)
            except ValueError:
                continue
        statements = document.get("Statement", []) if isinstance(document, dict) else []
        if isinstance(statements, dict):
            statements = [statements]
        for statement in statements:
            actions = statement.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            if not any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in actions):
                continue
            if statement.get("Effect") == "Deny" and not statement.get("Condition"):
                return False
            if statement.get("Effect") == "Allow":
                allowed = True
    return allowed


def agent_can_register(account_id: str, region_name: str, instance: Any) -> bool:
    """Whether the instance's profile role lets the SSM Agent register."""
    ec2 = ec2_backends[account_id][region_name]
    association = ec2.iam_instance_profile_associations.get(instance.id)
    if association is None:
        return False
    iam = iam_backends[account_id][get_partition(region_name)]
    try:
        profile = iam.get_instance_profile(association.iam_instance_profile.name)
    except Exception:  # noqa: BLE001 - the profile was deleted
        return False
    for role in profile.roles:
        try:
            role = iam.get_role(role.name)
        except Exception:  # noqa: BLE001
            continue
        if _allows(_documents(role), ACTION):
            return True
    return False


AGENT_SERVICES = ("ssm", "ssmmessages", "ec2messages")
HTTPS = 443


def _primary_interface(instance: Any) -> Any | None:
    nics = getattr(instance, "nics", None) or {}
    return nics.get(0)


def _egress_to(rules: list[Any], address: str | None, groups: set[str]) -> bool:
    """Whether one of the egress rules lets tcp 443 out to ``address`` (or to a
    member of one of ``groups``)."""
    import ipaddress

    from . import ec2_conntrack

    for rule in rules:
        if ec2_conntrack._rule_protocol(rule) not in ("-1", "6"):
            continue
        if not ec2_conntrack._rule_ports_cover(rule, "6", HTTPS):
            continue
        if (rule.source_group or {}).get("GroupId") in groups:
            return True
        cidr = (rule.ip_range or {}).get("CidrIp")
        if cidr and address:
            try:
                if ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False):
                    return True
            except ValueError:
                continue
    return False


def _route_table(backend: Any, subnet: Any) -> Any | None:
    main = None
    for table in list(backend.route_tables.values()):
        if table.vpc_id != subnet.vpc_id:
            continue
        if subnet.id in table._associations.values():
            return table
        if table.main_association_id is not None:
            main = table
    return main


def _internet_path(backend: Any, instance: Any, eni: Any, egress: list[Any]) -> bool:
    if not any(
        (r.ip_range or {}).get("CidrIp") == "0.0.0.0/0" and _egress_to([r], "0.0.0.0", set()) for r in egress
    ):
        return False
    if not (getattr(eni, "public_ip", None) or getattr(instance, "public_ip", None)):
        return False
    table = _route_table(backend, eni.subnet)
    if table is None:
        return False
    for route in table.routes.values() if isinstance(table.routes, dict) else table.routes:
        if route.destination_cidr_block != "0.0.0.0/0":
            continue
        gateway = getattr(route, "gateway", None)
        return gateway is not None and str(getattr(gateway, "id", "")).startswith("igw-")
    return False


def _endpoint_path(backend: Any, instance: Any, eni: Any, endpoint: Any) -> bool:
    from . import ec2_conntrack

    _, egress = ec2_conntrack._rules(eni)
    own_groups = {g.id for g in list(eni.group_set or [])}
    for endpoint_eni_id in endpoint.network_interface_ids or []:
        endpoint_eni = backend.enis.get(endpoint_eni_id)
        if endpoint_eni is None:
            continue
        their_groups = {g.id for g in list(endpoint_eni.group_set or [])}
        if not _egress_to(egress, endpoint_eni.private_ip_address, their_groups):
            continue
        ingress, _ = ec2_conntrack._rules(endpoint_eni)
        if _egress_to(ingress, instance.private_ip, own_groups):  # ingress rules read the same way
            return True
    return False


def agent_reaches_systems_manager(account_id: str, region_name: str, instance: Any) -> bool:
    """Whether the SSM Agent can reach ssm, ssmmessages and ec2messages over
    HTTPS from the instance's primary network interface (module doc)."""
    from . import ec2_conntrack

    backend = ec2_backends[account_id][region_name]
    eni = _primary_interface(instance)
    if eni is None or getattr(eni, "subnet", None) is None:
        return False
    vpc = backend.vpcs.get(eni.subnet.vpc_id)
    private_dns = vpc is not None and getattr(vpc, "enable_dns_support", True) not in (False, "false")
    _, egress = ec2_conntrack._rules(eni)
    for service in AGENT_SERVICES:
        name = f"com.amazonaws.{region_name}.{service}"
        endpoints = [
            e for e in list(backend.vpc_end_points.values())
            if e.vpc_id == eni.subnet.vpc_id and e.service_name == name and e.state == "available"
            and (e.vpc_endpoint_type or "").lower() == "interface"
        ]
        resolving = [e for e in endpoints if private_dns and e.private_dns_enabled in (True, "true", "True")]
        if resolving:
            if not any(_endpoint_path(backend, instance, eni, e) for e in resolving):
                return False
        elif not _internet_path(backend, instance, eni, egress):
            return False
    return True


def agent_started(instance: Any) -> bool:
    """Whether the instance's SSM Agent has come up: the instance has been
    running for ``_timing.AGENT_ONLINE_AFTER_RUNNING_S`` (document seconds)."""
    since = ec2.running_since(instance)
    return since is not None and _clock.now() >= since + _timing.AGENT_ONLINE_AFTER_RUNNING_S


def observe(account_id: str, region_name: str, instance: Any) -> str | None:
    """The node's ping status now (None: not a managed node / not listed)."""
    key = (account_id, region_name, instance.id)
    state = instance._state.name
    with _lock:
        node = _nodes.get(key)
        if (
            state == "running"
            and agent_started(instance)
            and agent_can_register(account_id, region_name, instance)
            and agent_reaches_systems_manager(account_id, region_name, instance)
        ):
            now = _now()
            if node is None:
                node = _nodes[key] = {"registered": now, "last_ping": now}
            node["last_ping"] = now
            return "Online"
        if node is None or state in ("terminated", "shutting-down"):
            return None
        if state != "running":
            return "Stopped"
        return "ConnectionLost"


def _platform(instance: Any, ec2: Any) -> tuple[str, str, str]:
    if (getattr(instance, "platform", None) or "").lower() == "windows":
        return "Windows", "Microsoft Windows Server 2022 Datacenter", "10.0.20348"
    image = getattr(ec2, "amis", {}).get(instance.image_id)
    name = f"{getattr(image, 'name', '') or ''} {getattr(image, 'description', '') or ''}".lower()
    if "al2023" in name or "2023" in name:
        return "Linux", "Amazon Linux", "2023"
    if "ubuntu" in name:
        return "Linux", "Ubuntu", "24.04"
    return "Linux", "Amazon Linux", "2023"


def _tags(instance: Any) -> dict[str, str]:
    return {t["key"]: t["value"] for t in instance.get_tags()}


def _describe(account_id: str, region_name: str, instance: Any, status: str) -> dict[str, Any]:
    ec2 = ec2_backends[account_id][region_name]
    node = _nodes[(account_id, region_name, instance.id)]
    platform_type, platform_name, platform_version = _platform(instance, ec2)
    info: dict[str, Any] = {
        "InstanceId": instance.id,
        "PingStatus": status,
        "LastPingDateTime": node["last_ping"],
        "AgentVersion": AGENT_VERSION,
        "IsLatestVersion": True,
        "PlatformType": platform_type,
        "PlatformName": platform_name,
        "PlatformVersion": platform_version,
        "ResourceType": "EC2Instance",
        "IPAddress": instance.private_ip,
        "ComputerName": instance.private_dns_name,
        "AssociationStatus": "Success",
        "LastAssociationExecutionDate": node["registered"],
        "LastSuccessfulAssociationExecutionDate": node["registered"],
        "SourceId": instance.id,
        "SourceType": "AWS::EC2::Instance",
    }
    return info


LEGACY_KEYS = {"InstanceIds", "AgentVersion", "PingStatus", "PlatformTypes", "ActivationIds", "IamRole", "ResourceType", "AssociationStatus"}
STRING_KEYS = LEGACY_KEYS | {"PlatformType", "SourceIds", "SourceTypes"}


def _matches(info: dict[str, Any], tags: dict[str, str], key: str, values: list[str]) -> bool:
    if key.startswith("tag:"):
        return tags.get(key[4:]) in values
    if key == "tag-key":
        return any(v in tags for v in values)
    field = {
        "InstanceIds": "InstanceId",
        "AgentVersion": "AgentVersion",
        "PingStatus": "PingStatus",
        "PlatformTypes": "PlatformType",
        "PlatformType": "PlatformType",
        "ResourceType": "ResourceType",
        "AssociationStatus": "AssociationStatus",
        "SourceIds": "SourceId",
        "SourceTypes": "SourceType",
    }.get(key)
    if field is None:  # ActivationIds, IamRole: hybrid (on-premises) nodes only
        return False
    return str(info.get(field)) in values


def describe_instance_information(
    account_id: str, region_name: str, legacy: list[dict[str, Any]] | None, filters: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    if legacy and filters:
        raise InvalidInstanceInformationFilterValue(
            "InstanceInformationFilterList and Filters can't be used together"
        )
    conditions: list[tuple[str, list[str]]] = []
    for item in legacy or []:
        key = item.get("key")
        if key not in LEGACY_KEYS:
            raise InvalidFilterKey(f"The filter key {key} is not valid.")
        conditions.append((key, list(item.get("valueSet") or [])))
    for item in filters or []:
        key = item.get("Key", "")
        if key not in STRING_KEYS and key != "tag-key" and not key.startswith("tag:"):
            raise InvalidFilterKey(f"The filter key {key} is not valid.")
        conditions.append((key, list(item.get("Values") or [])))
    ec2 = ec2_backends[account_id][region_name]
    wanted_ids = [v for k, vs in conditions if k == "InstanceIds" for v in vs]
    known = {i.id: i for i in ec2.all_instances()}
    unknown = [i for i in wanted_ids if i not in known]
    if unknown:
        raise InvalidInstanceId(f"Instance ids {unknown} are not valid")
    result = []
    for instance in known.values():
        status = observe(account_id, region_name, instance)
        if status not in ("Online", "ConnectionLost"):
            continue
        info = _describe(account_id, region_name, instance, status)
        tags = _tags(instance)
        if all(_matches(info, tags, k, vs) for k, vs in conditions):
            result.append(info)
    return result


def _response_describe_instance_information(self: Any) -> ActionResult:
    items = describe_instance_information(
        self.current_account,
        self.region,
        self._get_param("InstanceInformationFilterList"),
        self._get_param("Filters"),
    )
    max_results = int(self._get_param("MaxResults") or 50)
    start = int(self._get_param("NextToken") or 0)
    page = items[start : start + max_results]
    response: dict[str, Any] = {"InstanceInformationList": page}
    if start + max_results < len(items):
        response["NextToken"] = str(start + max_results)
    return ActionResult(response)


# --------------------------------------------------------------------------
# SendCommand


def _target_instance_ids(self: Any) -> list[str]:
    """The instances ``Targets`` select (moto took every instance of the Region
    when a key was not an EC2 filter name, or when there were no targets)."""
    ec2 = ec2_backends[self.account_id][self.backend_region]
    ids: list[str] = []
    for target in self.targets or []:
        key, values = target.get("Key", ""), list(target.get("Values") or [])
        if key == "InstanceIds":
            ids.extend(values)
        elif key.startswith("tag:") or key == "tag-key":
            for reservation in ec2.all_reservations(filters={key: values}):
                ids.extend(i.id for i in reservation.instances)
    return ids


def _command_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _orig_command_init(self, *args, **kwargs)
    ec2 = ec2_backends[self.account_id][self.backend_region]
    known = {i.id: i for i in ec2.all_instances()}
    invalid = [
        i for i in self.instance_ids
        if i not in known or observe(self.account_id, self.backend_region, known[i]) is None
    ]
    if invalid:
        raise InvalidInstanceId(f"Instances {invalid} not in a valid state for account {self.account_id}")
    # keep the order of the request, without duplicates
    self.instance_ids = list(dict.fromkeys(self.instance_ids))
    self.target_count = self.completed_count = len(self.instance_ids)
    self.invocations = [self.invocation_response(i, "aws:runShellScript") for i in self.instance_ids]


_orig_command_init = ssm_models.Command.__init__


def _response_list_command_invocations(self: Any) -> ActionResult:
    """ListCommandInvocations (moto 5.2.5 has none): one invocation per
    instance of each command, with the plugin results when Details is true."""
    command_id = self._get_param("CommandId")
    instance_id = self._get_param("InstanceId")
    details = bool(self._get_param("Details"))
    commands = self.ssm_backend.list_commands(command_id, instance_id)
    items = []
    for command in commands:
        for invocation in command.invocations:
            if instance_id and invocation["InstanceId"] != instance_id:
                continue
            item = {
                "CommandId": command.command_id,
                "InstanceId": invocation["InstanceId"],
                "Comment": command.comment,
                "DocumentName": command.document_name,
                "DocumentVersion": "$DEFAULT",
                "RequestedDateTime": command.requested_date_time,
                "Status": invocation["Status"],
                "StatusDetails": invocation["StatusDetails"],
                "StandardOutputUrl": "",
                "StandardErrorUrl": "",
                "ServiceRole": command.service_role_arn,
                "NotificationConfig": command.notification_config,
            }
            if details:
                item["CommandPlugins"] = [
                    {
                        "Name": invocation["PluginName"],
                        "Status": invocation["Status"],
                        "StatusDetails": invocation["StatusDetails"],
                        "ResponseCode": invocation["ResponseCode"],
                        "Output": invocation["StandardOutputContent"],
                    }
                ]
            items.append(item)
    return ActionResult({"CommandInvocations": items})


# --------------------------------------------------------------------------
# instance profile changes: a registered node keeps its registration


def _wrap_association_change(name: str) -> None:
    original = getattr(IamInstanceProfileAssociationBackend, name)

    def wrapper(self: Any, association_id: str, *args: Any, **kwargs: Any) -> Any:
        for instance_id, association in list(self.iam_instance_profile_associations.items()):
            if association.association_id == association_id:
                try:
                    observe(self.account_id, self.region_name, self.get_instance(instance_id))
                except Exception:  # noqa: BLE001
                    pass
        return original(self, association_id, *args, **kwargs)

    wrapper.__name__ = name
    setattr(IamInstanceProfileAssociationBackend, name, wrapper)


def _wrap_associate() -> None:
    original = IamInstanceProfileAssociationBackend.associate_iam_instance_profile

    def associate(self: Any, instance_id: str, *args: Any, **kwargs: Any) -> Any:
        association = original(self, instance_id, *args, **kwargs)
        try:
            observe(self.account_id, self.region_name, self.get_instance(instance_id))
        except Exception:  # noqa: BLE001
            pass
        return association

    IamInstanceProfileAssociationBackend.associate_iam_instance_profile = associate  # type: ignore[method-assign]


def _reset_nodes() -> None:
    with _lock:
        _nodes.clear()


# --------------------------------------------------------------------------
# Parameter Store

_parameters_lock = threading.Lock()
_orig_put_parameter = ssm_models.SimpleSystemManagerBackend.put_parameter
_orig_delete_parameter = ssm_models.SimpleSystemManagerBackend.delete_parameter
_orig_delete_parameters = ssm_models.SimpleSystemManagerBackend.delete_parameters


def _put_parameter(
    self: Any,
    name: str,
    description: str,
    value: str,
    parameter_type: str,
    allowed_pattern: str,
    keyid: str,
    overwrite: bool,
    tags: list[dict[str, str]],
    data_type: str,
    tier: str | None = None,
    policies: str | None = None,
) -> Any:
    with _parameters_lock:
        exists = name in self._parameters and bool(self._parameters[name])
        # moto asks for a Type only without Overwrite (its own checks of the value
        # and of tags with overwrite come first, as they do there)
        if overwrite and not tags and value and not parameter_type and not exists:
            raise ValidationException("A parameter type is required when you create a parameter.")
        return _orig_put_parameter(
            self, name, description, value, parameter_type, allowed_pattern, keyid, overwrite, tags, data_type,
            tier=tier, policies=policies,
        )


def _delete_parameter(self: Any, *args: Any, **kwargs: Any) -> Any:
    with _parameters_lock:
        return _orig_delete_parameter(self, *args, **kwargs)


def _delete_parameters(self: Any, *args: Any, **kwargs: Any) -> Any:
    with _parameters_lock:
        return _orig_delete_parameters(self, *args, **kwargs)


def apply() -> None:
    ssm_models.SimpleSystemManagerBackend.put_parameter = _put_parameter  # type: ignore[method-assign]
    ssm_models.SimpleSystemManagerBackend.delete_parameter = _delete_parameter  # type: ignore[method-assign]
    ssm_models.SimpleSystemManagerBackend.delete_parameters = _delete_parameters  # type: ignore[method-assign]
    ssm_responses.SimpleSystemManagerResponse.describe_instance_information = _response_describe_instance_information  # type: ignore[attr-defined]
    ssm_models.Command.__init__ = _command_init  # type: ignore[method-assign]
    ssm_models.Command._get_instance_ids_from_targets = _target_instance_ids  # type: ignore[method-assign]
    if not hasattr(ssm_responses.SimpleSystemManagerResponse, "list_command_invocations"):
        ssm_responses.SimpleSystemManagerResponse.list_command_invocations = _response_list_command_invocations  # type: ignore[attr-defined]
    _wrap_association_change("disassociate_iam_instance_profile")
    _wrap_association_change("replace_iam_instance_profile_association")
    _wrap_associate()

    from moto.moto_api._internal.models import MotoAPIBackend

    original_reset = MotoAPIBackend.reset

    def reset(self: Any) -> None:
        _reset_nodes()
        original_reset(self)

    MotoAPIBackend.reset = reset  # type: ignore[method-assign]
