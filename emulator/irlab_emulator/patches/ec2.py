"""EC2: CloudFormation handlers for Instance, SecurityGroup, Route,
SubnetRouteTableAssociation and VPCGatewayAttachment, plus the dependency
checks EC2 makes on delete.

AWS behaviour reproduced (see the tests for the documentation references):

* ``AWS::EC2::Instance`` honours ``SecurityGroupIds`` / ``SecurityGroups`` /
  ``NetworkInterfaces[].GroupSet`` (the primary interface carries exactly those
  groups; none given: the VPC's default group), ``LaunchTemplate``,
  ``MetadataOptions``, ``BlockDeviceMappings`` (``Encrypted``),
  ``IamInstanceProfile`` (an instance profile association),
  ``PropagateTagsToVolumeOnCreation``; the network interface EC2 creates at
  launch is deleted when the instance terminates.
* ``AWS::EC2::Instance`` changes in place only for properties whose update needs
  no replacement (``IamInstanceProfile`` replaces the profile association); a change
  of ``ImageId``, ``PrivateIpAddress``, ``SubnetId`` and the like makes a new instance.
* ``PrivateIpAddress`` at launch must be in the subnet's range and free
  (``InvalidParameterValue``, ``InvalidIPAddress.InUse``; moto answered HTTP 500).
* ``AWS::EC2::SecurityGroup`` honours ``SecurityGroupEgress``: one or more
  egress rules replace the default allow-all rule; none (absent or ``[]``)
  keeps it.
* ``AWS::EC2::SubnetRouteTableAssociation`` really associates the route table
  with the subnet; ``Ref`` is the association id.
* Deleting a security group that a network interface uses, a subnet that still
  has network interfaces, a VPC that still has security groups or an attached
  internet gateway fails with ``DependencyViolation``.
* An instance's security groups are those of its primary network interface
  (``ModifyInstanceAttribute Groups`` replaces them); DescribeInstances filters
  ``network-interface.group-id`` / ``group-name`` / ``network-interface-id``.
* ``DisassociateAddress`` is idempotent, as the API reference says: the
  association id of an Elastic IP already disassociated succeeds again
  (moto answered ``InvalidAssociationID.NotFound``); an id that never existed
  still fails. :data:`DISASSOCIATED` remembers which Elastic IP and network
  interface each such association had (IAM authorises both).
* Types moto cannot delete through CloudFormation (route table, internet
  gateway, EIP, NAT gateway, ENI, volume, VPC endpoint, flow log) are deleted.

Time (the figures and their sources are in ``_timing.py``; all of them follow
the wait scale of ``_clock.py``):

* an instance is ``pending`` after RunInstances (and StartInstances) and
  ``running`` some time later; StopInstances leaves it ``stopping``, then
  ``stopped`` (moto made every change at once);
* ``AWS::EC2::Instance`` is complete once its instance runs (the stack engine
  calls :meth:`InstanceHandler.irlab_stabilize`);
* a snapshot is ``pending`` with a ``Progress`` that moves, for a time that
  grows with the volume's size (a later snapshot of a volume is incremental and
  shorter), then ``completed`` (moto: completed at once);
* stand-in control: ``POST /moto-api/irlab/ec2/snapshot-errors`` makes the next
  snapshots of a volume, or of any volume, end in state ``error``.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.ec2.exceptions import DependencyViolationError, InvalidAssociationIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import Instance
from moto.ec2.models.route_tables import Route
from moto.ec2.models.security_groups import SecurityGroup, SecurityGroupBackend, SecurityGroupRule
from moto.ec2.models.subnets import SubnetBackend
from moto.ec2.models.vpcs import VPCBackend
from moto.ec2.models.vpn_gateway import VPCGatewayAttachment
from moto.ec2.utils import parse_user_data

from . import _cfn, _clock, _timing


def _backend(account_id: str, region_name: str) -> Any:
    return ec2_backends[account_id][region_name]


# ----------------------------------------------------------------- Instance


def _nic_spec(cfn_nic: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"DeviceIndex": int(cfn_nic.get("DeviceIndex", 0))}
    for key in ("SubnetId", "PrivateIpAddress", "Description", "NetworkInterfaceId"):
        if cfn_nic.get(key):
            spec[key] = cfn_nic[key]
    groups = cfn_nic.get("GroupSet") or cfn_nic.get("Groups")
    if groups:
        spec["Groups"] = list(groups)
    if "AssociatePublicIpAddress" in cfn_nic:
        spec["AssociatePublicIpAddress"] = _cfn.as_bool(cfn_nic["AssociatePublicIpAddress"])
    if "DeleteOnTermination" in cfn_nic:
        spec["DeleteOnTermination"] = _cfn.as_bool(cfn_nic["DeleteOnTermination"])
    return spec


def _block_device_mappings(mappings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for mapping in mappings:
        ebs = mapping.get("Ebs") or {}
        item: dict[str, Any] = {"DeviceName": mapping.get("DeviceName")}
        if "NoDevice" in mapping:
            item["NoDevice"] = ""
        if mapping.get("VirtualName"):
            item["VirtualName"] = mapping["VirtualName"]
        size = _cfn.as_int(ebs.get("VolumeSize"))
        if size is None and not ebs.get("SnapshotId"):
            size = 8
        item["Ebs"] = {
            "VolumeSize": size,
            "VolumeType": ebs.get("VolumeType") or "gp2",
            "SnapshotId": ebs.get("SnapshotId"),
            "Encrypted": _cfn.as_bool(ebs.get("Encrypted")),
            # AWS: DeleteOnTermination defaults to true for EBS mappings
            "DeleteOnTermination": _cfn.as_bool(ebs.get("DeleteOnTermination"), True),
            "KmsKeyId": ebs.get("KmsKeyId"),
        }
        result.append(item)
    return result


def _metadata_options(*sources: dict[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for source in sources:
        merged.update(source or {})
    if "HttpPutResponseHopLimit" in merged:
        merged["HttpPutResponseHopLimit"] = int(merged["HttpPutResponseHopLimit"])
    return merged


def _resolve_groups(backend: Any, names_or_ids: list[str], vpc_id: str | None) -> list[SecurityGroup]:
    groups = []
    for value in names_or_ids:
        group = backend.get_security_group_from_id(value) or backend.get_security_group_by_name_or_id(value, vpc_id)
        if group is None:
            from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError

            raise InvalidSecurityGroupNotFoundError(value)
        groups.append(group)
    return groups


class InstanceHandler(Instance):
    """AWS::EC2::Instance"""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in (
            "AvailabilityZone",
            "InstanceId",
            "PrivateDnsName",
            "PrivateIp",
            "PublicDnsName",
            "PublicIp",
            "VpcId",
            "State.Code",
            "State.Name",
        )

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Instance:
        props = _cfn.props_of(cloudformation_json)
        backend = _backend(account_id, region_name)

        launch_template = None
        lt_data: dict[str, Any] = {}
        if props.get("LaunchTemplate"):
            lt = props["LaunchTemplate"]
            launch_template = {
                k: str(lt[k]) for k in ("LaunchTemplateId", "LaunchTemplateName", "Version") if lt.get(k)
            }
            lt_data = copy.deepcopy(backend._get_template_from_args(launch_template).data)

        def pick(key: str) -> Any:
            return props[key] if key in props else lt_data.get(key)

        cfn_nics = props.get("NetworkInterfaces") or lt_data.get("NetworkInterfaces") or []
        nics = [_nic_spec(n) for n in cfn_nics]
        subnet_id = props.get("SubnetId")
        if subnet_id is None and not nics:
            subnet_id = lt_data.get("SubnetId")
        vpc_id = None
        if subnet_id:
            vpc_id = backend.get_subnet(subnet_id).vpc_id
        elif nics and nics[0].get("SubnetId"):
            vpc_id = backend.get_subnet(nics[0]["SubnetId"]).vpc_id

        groups: list[SecurityGroup] = []
        if not nics:
            wanted = list(props.get("SecurityGroupIds") or []) + list(props.get("SecurityGroups") or [])
            if not wanted:
                wanted = list(lt_data.get("SecurityGroupIds") or []) + list(lt_data.get("SecurityGroups") or [])
            groups = _resolve_groups(backend, wanted, vpc_id)
            if not groups and vpc_id:
                default = backend.get_security_group_by_name_or_id("default", vpc_id)
                if default is not None:
                    groups = [default]
        else:
            for nic in nics:
                if not nic.get("Groups") and not nic.get("NetworkInterfaceId"):
                    nic_vpc = backend.get_subnet(nic["SubnetId"]).vpc_id if nic.get("SubnetId") else vpc_id
                    default = backend.get_security_group_by_name_or_id("default", nic_vpc)
                    if default is not None:
                        nic["Groups"] = [default.id]

        instance_type = props.get("InstanceType") or lt_data.get("InstanceType")
        run_kwargs: dict[str, Any] = {
            "instance_type": instance_type or "m1.small",
            "is_instance_type_default": not instance_type,
            "region_name": region_name,
            "subnet_id": None if nics else subnet_id,
            "key_name": pick("KeyName"),
            "private_ip": props.get("PrivateIpAddress"),
            "security_group_ids": [g.id for g in groups],
            "nics": nics,
            "tags": {},
            "metadata_options": _metadata_options(lt_data.get("MetadataOptions"), props.get("MetadataOptions")),
            "disable_api_termination": _cfn.as_bool(pick("DisableApiTermination")),
            "disable_api_stop": _cfn.as_bool(pick("DisableApiStop")),
            "ebs_optimized": _cfn.as_bool(pick("EbsOptimized")),
            "instance_initiated_shutdown_behavior": pick("InstanceInitiatedShutdownBehavior"),
            "monitoring_state": "enabled" if _cfn.as_bool(props.get("Monitoring")) else "disabled",
        }
        placement = props.get("AvailabilityZone") or (lt_data.get("Placement") or {}).get("AvailabilityZone")
        if placement and not subnet_id and not nics:
            run_kwargs["placement"] = placement
        if launch_template:
            run_kwargs["launch_template"] = launch_template
        mappings = props.get("BlockDeviceMappings") or lt_data.get("BlockDeviceMappings")
        if mappings:
            run_kwargs["block_device_mappings"] = _block_device_mappings(mappings)
        user_data = props.get("UserData") if "UserData" in props else lt_data.get("UserData")

        reservation = backend.run_instances(
            pick("ImageId"), 1, parse_user_data(user_data), [], **run_kwargs
        )
        instance = reservation.instances[0]

        # EC2 deletes the network interfaces it created at launch when the
        # instance terminates (unless DeleteOnTermination is false).
        for nic in instance.nics.values():
            spec = next((n for n in nics if int(n["DeviceIndex"]) == nic.device_index), {})
            if spec.get("NetworkInterfaceId"):
                continue
            nic.delete_on_termination = spec.get("DeleteOnTermination", True)

        instance_tags = _cfn.tag_list_to_dict(props.get("Tags"))
        instance.add_tags(instance_tags)
        if _cfn.as_bool(props.get("PropagateTagsToVolumeOnCreation")) and instance_tags:
            for _, device in instance.get_block_device_mapping:
                for volume in backend.describe_volumes(volume_ids=[device.volume_id]):
                    volume.add_tags(instance_tags)

        profile = props.get("IamInstanceProfile")
        lt_profile = lt_data.get("IamInstanceProfile") or {}
        if profile:
            backend.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_name=profile)
        elif lt_profile.get("Arn"):
            backend.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_arn=lt_profile["Arn"])
        elif lt_profile.get("Name"):
            backend.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_name=lt_profile["Name"])
        return instance

    @classmethod
    def irlab_stabilize(cls, instance: Instance, account_id: str, region_name: str) -> None:
        """CloudFormation reports the instance CREATE_COMPLETE once it runs:
        wait out its ``pending`` (at the wait scale)."""
        wait_until_running(instance)

    # Properties whose change the resource page lists as "No interruption" or "Some
    # interruptions"; every other change (ImageId, PrivateIpAddress, SubnetId, KeyName,
    # NetworkInterfaces, LaunchTemplate, AvailabilityZone, SecurityGroups, ...) is
    # "Replacement": a new instance, the old one then deleted or kept by UpdateReplacePolicy.
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html
    IN_PLACE = {
        "IamInstanceProfile",
        "SecurityGroupIds",
        "Tags",
        "DisableApiTermination",
        "DisableApiStop",
        "InstanceType",
        "UserData",
        "Monitoring",
        "MetadataOptions",
        "PropagateTagsToVolumeOnCreation",
        "EbsOptimized",
        "InstanceInitiatedShutdownBehavior",
    }

    @classmethod
    def irlab_update(
        cls,
        instance: Instance,
        old_props: dict[str, Any],
        new_props: dict[str, Any],
        logical_id: str,
        account_id: str,
        region_name: str,
    ) -> Instance:
        changed = {k for k in set(old_props) | set(new_props) if old_props.get(k) != new_props.get(k)}
        if not changed <= cls.IN_PLACE:
            raise _cfn.NeedsReplacement()
        backend = _backend(account_id, region_name)
        if "SecurityGroupIds" in changed:
            groups = _resolve_groups(backend, list(new_props.get("SecurityGroupIds") or []), instance.vpc_id)
            if not groups:
                groups = [backend.get_security_group_by_name_or_id("default", instance.vpc_id)]
            instance.security_groups = groups
            primary = instance.nics.get(0)
            if primary is not None:
                primary._group_set = list(groups)
        if "Tags" in changed:
            old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
            new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                backend.delete_tags([instance.id], {k: None for k in gone})
            instance.add_tags(new_tags)
        if "InstanceType" in changed and new_props.get("InstanceType"):
            instance.instance_type = new_props["InstanceType"]
        if "DisableApiTermination" in changed:
            instance.disable_api_termination = _cfn.as_bool(new_props.get("DisableApiTermination"))
        if "DisableApiStop" in changed:
            instance.disable_api_stop = _cfn.as_bool(new_props.get("DisableApiStop"))
        if "UserData" in changed:
            instance.user_data = parse_user_data(new_props.get("UserData"))
        if "MetadataOptions" in changed:
            from moto.ec2.models.instances import MetadataOptions

            instance.metadata_options = MetadataOptions(_metadata_options(new_props.get("MetadataOptions")))
        if "Monitoring" in changed:
            instance.monitoring_state = "enabled" if _cfn.as_bool(new_props.get("Monitoring")) else "disabled"
        if "IamInstanceProfile" in changed:
            _set_instance_profile(backend, instance, new_props.get("IamInstanceProfile"))
        return instance

    @classmethod
    def irlab_delete(cls, instance: Instance, props: dict[str, Any], account_id: str, region_name: str) -> None:
        if instance.state != "terminated":
            # refuses while termination protection (DisableApiTermination) is on
            _backend(account_id, region_name).terminate_instances([instance.id])


def _set_instance_profile(backend: Any, instance: Instance, profile: str | None) -> None:
    """IamInstanceProfile changed in place: the instance's association is replaced,
    made, or removed (what ReplaceIamInstanceProfileAssociation / Associate /
    Disassociate do)."""
    association = backend.iam_instance_profile_associations.get(instance.id)
    if association is not None and profile:
        association = backend.replace_iam_instance_profile_association(
            association.association_id, iam_instance_profile_name=profile
        )
        # moto changes the association only; DescribeInstances reads the instance's own copy
        backend.modify_instance_attribute(
            instance.id,
            "iam_instance_profile",
            {"Arn": association.iam_instance_profile.arn, "Id": association.association_id},
        )
    elif association is not None:
        backend.disassociate_iam_instance_profile(association.association_id)
    elif profile:
        backend.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_name=profile)


def _subnet_request_ip(self: Any, ip: str, instance: Any) -> None:
    """A private IPv4 address asked for at launch (RunInstances ``PrivateIpAddress``, and so
    ``AWS::EC2::Instance``) must lie in the subnet's range and be free: EC2 answers
    ``InvalidParameterValue`` "Address X does not fall within the subnet's address range"
    and ``InvalidIPAddress.InUse`` "Address X is in use." (moto raised a bare exception, an
    HTTP 500). An address is in use while a network interface of the subnet holds it: the
    interface of a stopped instance keeps it, that of a terminated instance is gone.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html"""
    import ipaddress

    from moto.ec2.exceptions import EC2ClientError

    try:
        inside = ipaddress.ip_address(ip) in self.cidr
    except ValueError:
        inside = False
    if not inside:
        raise EC2ClientError("InvalidParameterValue", f"Address {ip} does not fall within the subnet's address range")
    holder = self._subnet_ips.get(ip)
    # instances hold addresses through their interfaces; other holders (an EFS mount
    # target) only through moto's record
    if ip in _held_addresses(self) or (holder is not None and not isinstance(holder, Instance)):
        raise EC2ClientError("InvalidIPAddress.InUse", f"Address {ip} is in use.")
    self._unused_ips.discard(ip)
    self._subnet_ips[ip] = instance


def _held_addresses(subnet: Any) -> set[str]:
    held: set[str] = set()
    for eni in list(subnet.ec2_backend.enis.values()):
        if getattr(eni.subnet, "id", None) == subnet.id:
            held.add(eni.private_ip_address)
            held.update(a.get("PrivateIpAddress") for a in eni.private_ip_addresses or [])
    return held


def _free_subnet_ip(original: Any) -> Any:
    """An address EC2 picks itself is one no interface of the subnet holds (moto's record
    of addresses can forget one that a launch asked for by name)."""

    def get_available_subnet_ip(self: Any, instance: Any) -> str:
        held = _held_addresses(self)
        for _ in range(self.cidr.num_addresses):
            ip = original(self, instance)
            if ip not in held:
                return ip
        return ip

    return get_available_subnet_ip


def _instance_get_cfn_attribute(self: Instance, attribute_name: str) -> Any:
    if attribute_name == "InstanceId":
        return self.id
    if attribute_name == "VpcId":
        return self.vpc_id
    if attribute_name == "State.Code":
        return str(self.state_code)
    if attribute_name == "State.Name":
        return self.state
    return _orig_instance_get_cfn_attribute(self, attribute_name)


_orig_instance_get_cfn_attribute = Instance.get_cfn_attribute


# ----------------------------------------------- instance groups and filters
#
# In EC2 an instance's security groups are those of its primary network
# interface: ModifyInstanceAttribute(Groups) "Replaces the security groups of
# the instance" (moto added them to the interface's own groups), and
# ModifyNetworkInterfaceAttribute on the primary interface changes what
# DescribeInstances shows. Every other interface keeps its own groups.


def _instance_groups_get(self: Instance) -> list[SecurityGroup]:
    nics = getattr(self, "nics", None)
    if nics and 0 in nics:
        return list(nics[0]._group_set)
    return list(getattr(self, "_irlab_security_groups", []))


def _instance_groups_set(self: Instance, groups: list[SecurityGroup]) -> None:
    self._irlab_security_groups = list(groups or [])
    nics = getattr(self, "nics", None)
    if nics and 0 in nics and groups:
        nics[0]._group_set = list(groups)


def _eni_group_set(self: Any) -> list[SecurityGroup]:
    return list(self._group_set)


def _nic_group_ids(self: Instance) -> list[str]:
    return [g.id for nic in self.nics.values() for g in nic._group_set]


def _nic_group_names(self: Instance) -> list[str]:
    return [g.name for nic in self.nics.values() for g in nic._group_set]


def _nic_ids(self: Instance) -> list[str]:
    return [nic.id for nic in self.nics.values()]


# ------------------------------------------------------------ SecurityGroup


def _rule_kwargs(rule: dict[str, Any], egress: bool) -> dict[str, Any]:
    protocol = str(rule.get("IpProtocol", "-1"))
    if protocol.lower() in ("-1", "all"):
        from_port = to_port = None
        protocol = "-1"
    else:
        from_port = rule.get("FromPort")
        to_port = rule.get("ToPort", from_port)
        from_port = None if from_port is None else int(from_port)
        to_port = None if to_port is None else int(to_port)
    description = rule.get("Description")
    ip_ranges: list[dict[str, str]] = []
    if rule.get("CidrIp"):
        ip_ranges.append({"CidrIp": rule["CidrIp"], **({"Description": description} if description else {})})
    if rule.get("CidrIpv6"):
        ip_ranges.append({"CidrIpv6": rule["CidrIpv6"], **({"Description": description} if description else {})})
    source_groups: list[dict[str, str]] = []
    group_key = "DestinationSecurityGroupId" if egress else "SourceSecurityGroupId"
    if rule.get(group_key):
        pair = {"GroupId": rule[group_key]}
        if description:
            pair["Description"] = description
        source_groups.append(pair)
    if not egress and rule.get("SourceSecurityGroupName"):
        source_groups.append({"GroupName": rule["SourceSecurityGroupName"]})
    prefix_key = "DestinationPrefixListId" if egress else "SourcePrefixListId"
    prefix_list_ids = [{"PrefixListId": rule[prefix_key]}] if rule.get(prefix_key) else []
    return {
        "ip_protocol": protocol,
        "from_port": from_port,
        "to_port": to_port,
        "ip_ranges": ip_ranges,
        "source_groups": source_groups,
        "prefix_list_ids": prefix_list_ids,
    }


def _default_egress_rules(group: SecurityGroup) -> list[SecurityGroupRule]:
    rules = [SecurityGroupRule(group.ec2_backend, "-1", group.id, None, None, {"CidrIp": "0.0.0.0/0"})]
    vpc = group.ec2_backend.vpcs.get(group.vpc_id) if group.vpc_id else None
    if vpc is not None and vpc.get_cidr_block_association_set(ipv6=True):
        rules.append(SecurityGroupRule(group.ec2_backend, "-1", group.id, None, None, {"CidrIpv6": "::/0"}))
    return rules


def _set_group_rules(backend: Any, group: SecurityGroup, props: dict[str, Any]) -> None:
    group.ingress_rules = []
    for rule in props.get("SecurityGroupIngress") or []:
        kwargs = _rule_kwargs(rule, egress=False)
        if kwargs["ip_ranges"] or kwargs["source_groups"] or kwargs["prefix_list_ids"]:
            backend.authorize_security_group_ingress(group.id, vpc_id=group.vpc_id, **kwargs)
    egress = props.get("SecurityGroupEgress") or []
    if egress:
        # "The default rule is removed only when you specify one or more egress rules."
        group.egress_rules = []
        for rule in egress:
            kwargs = _rule_kwargs(rule, egress=True)
            if kwargs["ip_ranges"] or kwargs["source_groups"] or kwargs["prefix_list_ids"]:
                backend.authorize_security_group_egress(group.id, vpc_id=group.vpc_id, **kwargs)
    else:
        group.egress_rules = _default_egress_rules(group)


class SecurityGroupHandler(SecurityGroup):
    """AWS::EC2::SecurityGroup"""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("GroupId", "VpcId")

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SecurityGroup:
        props = _cfn.props_of(cloudformation_json)
        backend = _backend(account_id, region_name)
        group = backend.create_security_group(
            name=resource_name,
            description=props.get("GroupDescription"),
            vpc_id=props.get("VpcId"),
            tags=_cfn.tag_list_to_dict(props.get("Tags")),
        )
        try:
            _set_group_rules(backend, group, props)
        except Exception:
            backend.delete_security_group(group_id=group.id)
            raise
        return group

    @classmethod
    def irlab_update(
        cls,
        group: SecurityGroup,
        old_props: dict[str, Any],
        new_props: dict[str, Any],
        logical_id: str,
        account_id: str,
        region_name: str,
    ) -> SecurityGroup:
        for key in ("GroupName", "GroupDescription", "VpcId"):
            if old_props.get(key) != new_props.get(key):
                raise _cfn.NeedsReplacement()
        backend = _backend(account_id, region_name)
        _set_group_rules(backend, group, new_props)
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            backend.delete_tags([group.id], {k: None for k in gone})
        group.add_tags(new_tags)
        return group

    @classmethod
    def irlab_delete(cls, group: SecurityGroup, props: dict[str, Any], account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).delete_security_group(group_id=group.id)


def _group_in_use(backend: Any, group_id: str) -> bool:
    for eni in list(backend.enis.values()):
        if any(getattr(g, "id", g) == group_id for g in eni.group_set):
            return True
    return False


_orig_delete_security_group = SecurityGroupBackend.delete_security_group


def _delete_security_group(self: Any, name: str | None = None, group_id: str | None = None) -> None:
    target = group_id
    if not target and name:
        group = self.get_security_group_by_name_or_id(name)
        target = group.id if group else None
    if target and _group_in_use(self, target):
        raise DependencyViolationError(f"resource {target} has a dependent object")
    return _orig_delete_security_group(self, name=name, group_id=group_id)


_orig_delete_subnet = SubnetBackend.delete_subnet


def _delete_subnet(self: Any, subnet_id: str) -> Any:
    for eni in list(self.enis.values()):
        if getattr(eni.subnet, "id", None) == subnet_id:
            raise DependencyViolationError(
                f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
            )
    return _orig_delete_subnet(self, subnet_id)


_orig_delete_vpc = VPCBackend.delete_vpc


# (account, region, association id) -> (allocation id, network interface id or
# None) of the Elastic IP associations that were disassociated
DISASSOCIATED: dict[tuple[str, str, str], tuple[str, str | None]] = {}
_disassociated_lock = threading.Lock()


def _disassociate_address(self: Any, address: str | None = None, association_id: str | None = None) -> None:
    key = (self.account_id, self.region_name, str(association_id))
    if association_id and not any(a.association_id == association_id for a in list(self.addresses)):
        with _disassociated_lock:
            if key in DISASSOCIATED:
                return None  # "If you perform the operation more than once, Amazon EC2 doesn't return an error."
    eip = None
    if association_id:
        eip = next((a for a in list(self.addresses) if a.association_id == association_id), None)
    before = (eip.allocation_id, eip.eni.id if eip.eni is not None else None) if eip is not None else None
    result = _orig_disassociate_address(self, address=address, association_id=association_id)
    if before is not None:
        with _disassociated_lock:
            DISASSOCIATED[key] = before
    return result


def _delete_vpc(self: Any, vpc_id: str) -> Any:
    for igw in self.internet_gateways.values():
        if igw.vpc is not None and igw.vpc.id == vpc_id:
            raise DependencyViolationError(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
    for group in self.groups.get(vpc_id, {}).values():
        if group.name != "default":
            raise DependencyViolationError(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
    return _orig_delete_vpc(self, vpc_id)


# ------------------------------------------------------------------ routing


class SubnetRouteTableAssociationHandler(_cfn.IdResource, CloudFormationModel):
    """AWS::EC2::SubnetRouteTableAssociation (Ref: the association id)."""

    def __init__(self, account_id: str, region_name: str, association_id: str, route_table_id: str, subnet_id: str):
        self.account_id = account_id
        self.region_name = region_name
        self.id = association_id
        self.route_table_id = route_table_id
        self.subnet_id = subnet_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::SubnetRouteTableAssociation"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> SubnetRouteTableAssociationHandler:
        props = _cfn.props_of(cloudformation_json)
        backend = _backend(account_id, region_name)
        association_id = backend.associate_route_table(props["RouteTableId"], subnet_id=props["SubnetId"])
        return cls(account_id, region_name, association_id, props["RouteTableId"], props["SubnetId"])

    @classmethod
    def irlab_update(cls, resource: Any, old_props: dict, new_props: dict, logical_id: str, account_id: str, region_name: str) -> Any:
        raise _cfn.NeedsReplacement()

    @classmethod
    def irlab_delete(cls, resource: Any, props: dict[str, Any], account_id: str, region_name: str) -> None:
        try:
            _backend(account_id, region_name).disassociate_route_table(resource.id)
        except InvalidAssociationIdError:
            pass  # already gone


class RouteHandler(Route):
    """AWS::EC2::Route (delete removes the route)."""

    @classmethod
    def irlab_delete(cls, route: Route, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if route.route_table.id not in backend.route_tables:
            return
        backend.delete_route(
            route.route_table.id,
            route.destination_cidr_block,
            destination_ipv6_cidr_block=route.destination_ipv6_cidr_block,
            destination_prefix_list_id=route.destination_prefix_list_id,
        )

    @classmethod
    def irlab_update(cls, route: Route, old_props: dict, new_props: dict, logical_id: str, account_id: str, region_name: str) -> Any:
        for key in ("RouteTableId", "DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId"):
            if old_props.get(key) != new_props.get(key):
                raise _cfn.NeedsReplacement()
        cls.irlab_delete(route, old_props, account_id, region_name)
        return cls.create_from_cloudformation_json("", {"Properties": new_props}, account_id, region_name)


class VPCGatewayAttachmentHandler(VPCGatewayAttachment):
    """AWS::EC2::VPCGatewayAttachment (delete detaches the gateway)."""

    @classmethod
    def irlab_delete(cls, attachment: Any, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if props.get("InternetGatewayId"):
            igw = backend.internet_gateways.get(props["InternetGatewayId"])
            if igw is not None and igw.vpc is not None and igw.vpc.id == props["VpcId"]:
                backend.detach_internet_gateway(props["InternetGatewayId"], props["VpcId"])
        elif props.get("VpnGatewayId"):
            backend.detach_vpn_gateway(props["VpnGatewayId"], props["VpcId"])

    @classmethod
    def irlab_update(cls, attachment: Any, old_props: dict, new_props: dict, logical_id: str, account_id: str, region_name: str) -> Any:
        raise _cfn.NeedsReplacement()


# Moto has no CloudFormation delete for these types: without one a stack
# delete reports them deleted and leaves them in place.


def _delete_internet_gateway(resource: Any, props: dict, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if resource.id in backend.internet_gateways:
        backend.delete_internet_gateway(resource.id)


def _delete_route_table(resource: Any, props: dict, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if resource.id in backend.route_tables:
        backend.delete_route_table(resource.id)


def _delete_eip(resource: Any, props: dict, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if resource in backend.addresses:
        if resource.allocation_id:
            backend.release_address(allocation_id=resource.allocation_id)
        else:
            backend.release_address(address=resource.public_ip)


def _delete_nat_gateway(resource: Any, props: dict, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if resource.id in backend.nat_gateways:
        backend.delete_nat_gateway(resource.id)


def _delete_network_interface(resource: Any, props: dict, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if resource.id in backend.enis:
        if resource.instance is not None:
            raise DependencyViolationError(f"Network interface '{resource.id}' is currently in use.")
        resource.delete()


def _delete_volume(resource: Any, props: dict, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if resource.id in backend.volumes:
        backend.delete_volume(resource.id)


def _delete_volume_attachment(resource: Any, props: dict, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    volume = backend.volumes.get(props.get("VolumeId"))
    if volume is not None and volume.attachment is not None:
        backend.detach_volume(props["VolumeId"], props["InstanceId"], props.get("Device"))


def _delete_vpc_endpoint(resource: Any, props: dict, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if resource.id in backend.vpc_end_points:
        backend.delete_vpc_endpoints([resource.id])


def _delete_flow_log(resource: Any, props: dict, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    if resource.id in backend.flow_logs:
        backend.delete_flow_logs([resource.id])


def _with_delete(base: type, fn: Any) -> type:
    return type(f"{base.__name__}Handler", (base,), {"irlab_delete": classmethod(lambda cls, *a: fn(*a))})


# --------------------------------------------------------------------- time
#
# Instance states change on the document clock of _clock.py: a state change
# that takes time is stored as (due, name, code) and made when the state is
# next read at or after ``due``.

PENDING, RUNNING, STOPPING, STOPPED = ("pending", 0), ("running", 16), ("stopping", 64), ("stopped", 80)


def _state_get(self: Instance) -> Any:
    state = self.__dict__["_irlab_state"]
    change = self.__dict__.get("_irlab_next")
    if change is not None and _clock.now() >= change[0]:
        state.name, state.code = change[1], change[2]
        self.__dict__["_irlab_next"] = None
        if change[1] == RUNNING[0]:
            self.__dict__["_irlab_running_since"] = change[0]
    return state


def _state_set(self: Instance, value: Any) -> None:
    self.__dict__["_irlab_state"] = value
    self.__dict__["_irlab_next"] = None


def _change_state(instance: Instance, now: tuple[str, int], then: tuple[str, int], seconds: float) -> None:
    state = instance._state
    state.name, state.code = now
    instance.__dict__["_irlab_next"] = (_clock.now() + seconds, *then)


def running_since(instance: Instance) -> float | None:
    """Document time at which the instance last entered ``running`` (None:
    not running now)."""
    if instance._state.name != RUNNING[0]:
        return None
    return instance.__dict__.get("_irlab_running_since", float("-inf"))


def wait_until_running(instance: Instance) -> None:
    """Block until a ``pending`` instance runs; raise if it ends otherwise."""
    while instance._state.name == PENDING[0]:
        change = instance.__dict__.get("_irlab_next")
        if change is None:
            break
        _clock.sleep_until(change[0])
    if instance._state.name != RUNNING[0]:
        raise RuntimeError(
            f"Instance {instance.id} failed to stabilize. Current state: {instance._state.name}."
        )


def _run_instances_pending(original: Any) -> Any:
    """RunInstances: each new instance is ``pending``, then ``running``."""

    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = original(self, *args, **kwargs)
        for instance in reservation.instances:
            _change_state(instance, PENDING, RUNNING, _timing.INSTANCE_PENDING_S)
        return reservation

    return run_instances


def _start_pending(original: Any) -> Any:
    def start(self: Instance) -> Any:
        previous = original(self)
        if previous.name == STOPPED[0]:
            _change_state(self, PENDING, RUNNING, _timing.INSTANCE_PENDING_S)
        return previous

    return start


def _stop_stopping(original: Any) -> Any:
    def stop(self: Instance) -> Any:
        previous = original(self)
        if previous.name in (PENDING[0], RUNNING[0]):
            _change_state(self, STOPPING, STOPPED, _timing.INSTANCE_STOPPING_S)
        return previous

    return stop


def _settles_at_once(original: Any) -> Any:
    """terminate / reboot: moto's state change stands; nothing is due after it."""

    def method(self: Instance, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        self.__dict__["_irlab_next"] = None
        return result

    return method


# Snapshots: pending for _timing.snapshot_seconds(size), on the document clock.

_snapshot_errors_lock = threading.Lock()
# {"volumeId": "vol-..." or None (any volume), "remaining": n or None (until cleared)}
_snapshot_errors: list[dict[str, Any]] = []


def _take_snapshot_error(volume_id: str) -> bool:
    """Whether a rule makes the new snapshot of ``volume_id`` fail (and count it)."""
    with _snapshot_errors_lock:
        for rule in _snapshot_errors:
            if rule["volumeId"] in (None, volume_id):
                if rule["remaining"] is not None:
                    rule["remaining"] -= 1
                    if rule["remaining"] <= 0:
                        _snapshot_errors.remove(rule)
                return True
    return False


def _snapshot_timing(snapshot: Any) -> tuple[float, float, bool] | None:
    return snapshot.__dict__.get("_irlab_timing")


def _snapshot_fraction(snapshot: Any) -> float:
    """How far the snapshot has come (0..1; a failing one stops at SNAPSHOT_ERROR_AT)."""
    timing = _snapshot_timing(snapshot)
    if timing is None:
        return 1.0
    started, duration, fails = timing
    fraction = 1.0 if duration <= 0 else min(max((_clock.now() - started) / duration, 0.0), 1.0)
    return min(fraction, _timing.SNAPSHOT_ERROR_AT) if fails else fraction


def _snapshot_status_get(self: Any) -> str:
    timing = _snapshot_timing(self)
    if timing is None:
        return self.__dict__.get("_irlab_status", "completed")
    started, duration, fails = timing
    end = started + duration * (_timing.SNAPSHOT_ERROR_AT if fails else 1.0)
    if _clock.now() < end:
        return "pending"
    return "error" if fails else "completed"


def _snapshot_status_set(self: Any, value: str) -> None:
    self.__dict__["_irlab_status"] = value
    self.__dict__.pop("_irlab_timing", None)


def _snapshot_progress(self: Any) -> str:
    status = self.status
    if status == "completed":
        return "100%"
    percent = int(_snapshot_fraction(self) * 100)
    return f"{min(percent, 99)}%"


def _snapshot_state_message(self: Any) -> str | None:
    if _snapshot_timing(self) is not None and self.status == "error":
        return (
            "The snapshot failed: a stand-in rule (POST /moto-api/irlab/ec2/snapshot-errors) "
            "made it end in the error state."
        )
    return None


def _create_snapshot_pending(original: Any) -> Any:
    """CreateSnapshot (and CreateSnapshots): the snapshot is pending, then
    completed - or error, when a snapshot-error rule names its volume.  The
    snapshots moto makes for AMIs (``from_ami``) exist long before and stay
    completed."""

    def create_snapshot(self: Any, volume_id: str, description: str, *args: Any, **kwargs: Any) -> Any:
        from_ami = kwargs.get("from_ami") or (args[1] if len(args) > 1 else None)
        # A copy: the server answers requests on several threads, and another CreateSnapshot
        # may add to the dict while this one reads it ("dictionary changed size during
        # iteration" answered 500 to one of two playbooks snapshotting at once).
        earlier = [
            s for s in list(self.snapshots.values()) if s.volume is not None and s.volume.id == volume_id
        ]
        snapshot = original(self, volume_id, description, *args, **kwargs)
        if from_ami:
            return snapshot
        incremental = any(s.status == "completed" for s in earlier)
        snapshot.__dict__["_irlab_timing"] = (
            _clock.now(),
            _timing.snapshot_seconds(snapshot.volume.size, incremental),
            _take_snapshot_error(volume_id),
        )
        return snapshot

    return create_snapshot


class _AsCreated:
    """A snapshot as CreateSnapshot(s) answers it. "The snapshot is created immediately,
    but it remains in the pending state until all of data has been transferred to
    Amazon S3" (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-creating-snapshot.html),
    so AWS answers pending.  The stand-in's snapshot may already have finished by the time
    its answer is written (a short one on a busy machine at a small --wait-scale): the
    answer still says pending, and the next DescribeSnapshots says what it is now."""

    def __init__(self, snapshot: Any) -> None:
        self._snapshot = snapshot

    def __getattr__(self, name: str) -> Any:
        return getattr(self._snapshot, name)

    @property
    def status(self) -> str:
        return "pending" if _snapshot_timing(self._snapshot) is not None else self._snapshot.status

    @property
    def state(self) -> str:
        """CreateSnapshots answers SnapshotInfo, whose State moto leaves out."""
        return self.status

    @property
    def progress(self) -> str:
        if _snapshot_timing(self._snapshot) is None:
            return self._snapshot.progress
        return f"{min(int(_snapshot_fraction(self._snapshot) * 100), 99)}%"


def _answer_as_created(original: Any, many: bool) -> Any:
    """CreateSnapshot / CreateSnapshots: answer with the snapshots as created (``_AsCreated``)."""

    def respond(self: Any) -> Any:
        from moto.core.responses import ActionResult

        result = original(self)
        if not isinstance(result, ActionResult):
            return result
        if many:
            body = dict(result.result)  # type: ignore[call-overload]
            body["Snapshots"] = [_AsCreated(s) for s in body.get("Snapshots", [])]
            return ActionResult(body)
        return ActionResult(_AsCreated(result.result))

    return respond


def _snapshot_errors_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """``GET``/``POST``/``DELETE /moto-api/irlab/ec2/snapshot-errors``."""
    json_headers = {"Content-Type": "application/json"}
    if request.method == "POST":
        try:
            length = int(headers.get("Content-Length") or 0)
            body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError('expected {"volumeId"?: "vol-...", "count"?: n}')
            unknown = sorted(set(body) - {"volumeId", "count"})
            if unknown:
                raise ValueError(f"unknown fields {unknown}: expected volumeId, count")
            volume_id = body.get("volumeId")
            if volume_id is not None and (not isinstance(volume_id, str) or not volume_id.startswith("vol-")):
                raise ValueError('"volumeId" must be a volume id (vol-...) or left out for any volume')
            count = body.get("count")
            if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
                raise ValueError('"count" must be a whole number >= 1, or left out for every later snapshot')
        except (TypeError, ValueError) as exc:
            return 400, json_headers, json.dumps({"message": str(exc)})
        with _snapshot_errors_lock:
            _snapshot_errors.append({"volumeId": volume_id, "remaining": count})
    elif request.method == "DELETE":
        with _snapshot_errors_lock:
            _snapshot_errors.clear()
    elif request.method != "GET":
        return 405, json_headers, json.dumps({"message": "use GET, POST or DELETE"})
    with _snapshot_errors_lock:
        rules = [dict(r) for r in _snapshot_errors]
    return 200, json_headers, json.dumps({"rules": rules})


def _apply_time() -> None:
    from moto.ec2.models.elastic_block_store import EBSBackend, Snapshot
    from moto.ec2.models.instances import InstanceBackend
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend

    if getattr(Instance, "_irlab_time", False):
        return
    Instance._state = property(_state_get, _state_set)  # type: ignore[assignment]
    InstanceBackend.run_instances = _run_instances_pending(InstanceBackend.run_instances)  # type: ignore[method-assign]
    Instance.start = _start_pending(Instance.start)  # type: ignore[method-assign]
    Instance.stop = _stop_stopping(Instance.stop)  # type: ignore[method-assign]
    Instance.terminate = _settles_at_once(Instance.terminate)  # type: ignore[method-assign]
    Instance.reboot = _settles_at_once(Instance.reboot)  # type: ignore[method-assign]
    Instance._irlab_time = True  # type: ignore[attr-defined]

    Snapshot.status = property(_snapshot_status_get, _snapshot_status_set)  # type: ignore[assignment]
    Snapshot.progress = property(_snapshot_progress)  # type: ignore[assignment]
    Snapshot.state_message = property(_snapshot_state_message)  # type: ignore[attr-defined]
    EBSBackend.create_snapshot = _create_snapshot_pending(EBSBackend.create_snapshot)  # type: ignore[method-assign]
    ElasticBlockStore.create_snapshot = _answer_as_created(ElasticBlockStore.create_snapshot, many=False)  # type: ignore[method-assign]
    ElasticBlockStore.create_snapshots = _answer_as_created(ElasticBlockStore.create_snapshots, many=True)  # type: ignore[method-assign]

    moto_api_urls.url_paths["{0}/moto-api/irlab/ec2/snapshot-errors"] = _snapshot_errors_response
    original_reset = MotoAPIBackend.reset

    def reset(self: Any) -> None:
        with _snapshot_errors_lock:
            _snapshot_errors.clear()
        with _disassociated_lock:
            DISASSOCIATED.clear()
        original_reset(self)

    MotoAPIBackend.reset = reset  # type: ignore[method-assign]


def _resource_tags(self: Any) -> list[dict[str, str]]:
    """One resource's tags, read from the backend's map by its id. moto's own
    TaggedEC2Resource.get_tags runs DescribeTags with a resource-id filter, a
    regex over every tag of the region, so a Describe* with a tag filter over N
    resources cost N times all tags: the class benchmark's 30 labs spent a third
    of the stand-in's time in DescribeSnapshots. Same result, same order."""
    resource_id = getattr(self, "id", None)
    if not resource_id:
        return []
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    tags = self.ec2_backend.tags.get(resource_id) or {}
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [{"resource_id": resource_id, "key": k, "value": v, "resource_type": resource_type} for k, v in list(tags.items())]


def apply() -> None:
    from moto.ec2.models.elastic_block_store import Volume, VolumeAttachment
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    from moto.ec2.models.flow_logs import FlowLogs
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.ec2.models.route_tables import RouteTable
    from moto.ec2.models.vpcs import VPCEndPoint

    for base, fn in (
        (InternetGateway, _delete_internet_gateway),
        (RouteTable, _delete_route_table),
        (ElasticAddress, _delete_eip),
        (NatGateway, _delete_nat_gateway),
        (NetworkInterface, _delete_network_interface),
        (Volume, _delete_volume),
        (VolumeAttachment, _delete_volume_attachment),
        (VPCEndPoint, _delete_vpc_endpoint),
        (FlowLogs, _delete_flow_log),
    ):
        _cfn.register(_with_delete(base, fn))
    for handler in (
        InstanceHandler,
        SecurityGroupHandler,
        SubnetRouteTableAssociationHandler,
        RouteHandler,
        VPCGatewayAttachmentHandler,
    ):
        _cfn.register(handler)
    from moto.ec2.models.core import TaggedEC2Resource

    TaggedEC2Resource.get_tags = _resource_tags
    Instance.get_cfn_attribute = _instance_get_cfn_attribute
    Instance.security_groups = property(_instance_groups_get, _instance_groups_set)
    NetworkInterface.group_set = property(_eni_group_set)
    Instance.irlab_nic_group_ids = property(_nic_group_ids)
    Instance.irlab_nic_group_names = property(_nic_group_names)
    Instance.irlab_nic_ids = property(_nic_ids)
    from moto.ec2 import utils as ec2_utils

    ec2_utils.filter_dict_attribute_mapping.update(
        {
            "network-interface.group-id": "irlab_nic_group_ids",
            "network-interface.group-name": "irlab_nic_group_names",
            "network-interface.network-interface-id": "irlab_nic_ids",
        }
    )
    SecurityGroupBackend.delete_security_group = _delete_security_group
    SubnetBackend.delete_subnet = _delete_subnet
    from moto.ec2.models.subnets import Subnet

    Subnet.request_ip = _subnet_request_ip
    if not getattr(Subnet.get_available_subnet_ip, "_irlab", False):
        Subnet.get_available_subnet_ip = _free_subnet_ip(Subnet.get_available_subnet_ip)
        Subnet.get_available_subnet_ip._irlab = True  # type: ignore[attr-defined]
    VPCBackend.delete_vpc = _delete_vpc
    global _orig_disassociate_address
    from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend

    if not getattr(ElasticAddressBackend.disassociate_address, "_irlab", False):
        _orig_disassociate_address = ElasticAddressBackend.disassociate_address
        _disassociate_address._irlab = True  # type: ignore[attr-defined]
        ElasticAddressBackend.disassociate_address = _disassociate_address  # type: ignore[method-assign]
    # AWS refuses RunInstances for an instance type that does not exist; moto only
    # checks when told to.
    from moto import settings

    settings.EC2_ENABLE_INSTANCE_TYPE_VALIDATION = True
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend

    NetworkInterfaceBackend.modify_network_interface_attribute = _checked_modify_eni(
        NetworkInterfaceBackend.modify_network_interface_attribute
    )
    Instance.prep_nics = _launch_nics_die_with_instance(Instance.prep_nics)
    _apply_time()


def _launch_nics_die_with_instance(original: Any) -> Any:
    """A network interface that RunInstances creates is deleted when the instance
    terminates (DeleteOnTermination defaults to true for it); moto kept it, and
    with it a hold on its security groups and subnet."""

    def prep_nics(self: Any, nic_spec: list[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
        original(self, nic_spec, *args, **kwargs)
        specs = {int(n.get("DeviceIndex", 0)): n for n in nic_spec or []}
        for index, eni in self.nics.items():
            spec = specs.get(int(index), {})
            if not spec.get("NetworkInterfaceId") and spec.get("DeleteOnTermination") is not False:
                eni.delete_on_termination = True

    return prep_nics


def _checked_modify_eni(original: Any) -> Any:
    """ModifyNetworkInterfaceAttribute refuses a group that does not exist
    (InvalidGroup.NotFound) and changes nothing; moto stored ``None`` in its place."""

    def modify(self: Any, eni_id: str, group_ids: list[str], *args: Any, **kwargs: Any) -> None:
        from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError

        for group_id in group_ids or []:
            if self.get_security_group_from_id(group_id) is None:
                raise InvalidSecurityGroupNotFoundError(group_id)
        return original(self, eni_id, group_ids, *args, **kwargs)

    return modify
