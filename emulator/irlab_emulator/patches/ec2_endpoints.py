"""EC2 networking the SSM Agent's reach depends on (``ssm.agent_reaches_systems_manager``):
interface VPC endpoints' network interfaces, and the default VPC's internet path.

Interface endpoints. AWS creates, in each subnet of an interface endpoint, a
requester-managed network interface with a private address *of that subnet*,
carrying the endpoint's security groups (the VPC's default group when none is
given); its type is ``vpc_endpoint`` and its description "VPC Endpoint
Interface vpce-...". Traffic to the endpoint is judged by those groups.
https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html
moto 5.2.5 gave the interface a random 10.x address outside the subnet, the
VPC's default group whatever ``SecurityGroupIds`` said, type ``interface`` and
``RequesterManaged`` false; ``ModifyVpcEndpoint`` changed the endpoint's groups
but not its interfaces'. Here the interface gets a free address of its subnet,
the endpoint's groups (kept in step on ``ModifyVpcEndpoint``), type
``vpc_endpoint``, ``RequesterManaged`` true and AWS's description.

Default VPC. AWS's default VPC has an internet gateway attached and a route
0.0.0.0/0 to it in its main route table; its default subnets give instances a
public IPv4 address ("Default VPCs", Amazon VPC user guide,
https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html). moto's
default VPC had neither gateway nor route, so an instance there had a public
address and no way out. Here it gets both, as AWS creates them.

Public addresses at launch. An instance launched into a subnet whose
``MapPublicIpOnLaunch`` is true gets a public IPv4 address unless the request
says otherwise ("Amazon EC2 instance IP addressing", public IPv4 addresses,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-instance-addressing.html).
moto applies the subnet's setting only when the launch passes
``associate_public_ip=None``, which its RunInstances handler does and the stack
engine's ``AWS::EC2::Instance`` did not, and its ``AWS::EC2::Subnet`` ignored
``MapPublicIpOnLaunch``, so the lab's victim, in a public subnet, had no public
address. Here ``AWS::EC2::Subnet`` sets ``MapPublicIpOnLaunch`` (at create; an
update of it is not applied) and a launch that does not say takes the subnet's
setting.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.instances import InstanceBackend
from moto.ec2.models.subnets import Subnet
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint


def _free_ip(subnet: Any) -> str:
    try:
        return subnet.get_available_subnet_ip(instance=None)
    except Exception:  # noqa: BLE001 - a full subnet: AWS would refuse; keep moto's address
        return ""


def _sync_interface(backend: Any, endpoint: Any, eni: Any) -> None:
    groups = [backend.get_security_group_from_id(g) for g in endpoint.security_group_ids]
    groups = [g for g in groups if g is not None]
    if not groups:
        default = backend.get_default_security_group(endpoint.vpc_id)
        groups = [default] if default is not None else []
    eni._group_set = groups
    eni.interface_type = "vpc_endpoint"
    eni.requester_managed = True
    eni.description = f"VPC Endpoint Interface {endpoint.id}"


def _wrap_create() -> None:
    original = VPCBackend.create_vpc_endpoint

    def create_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = original(self, *args, **kwargs)
        if (endpoint.vpc_endpoint_type or "").lower() != "interface":
            return endpoint
        for eni_id in endpoint.network_interface_ids:
            eni = self.enis.get(eni_id)
            if eni is None:
                continue
            address = _free_ip(eni.subnet)
            if address:
                eni.private_ip_address = address
                eni.private_ip_addresses = [{"Primary": True, "PrivateIpAddress": address}]
            _sync_interface(self, endpoint, eni)
        return endpoint

    VPCBackend.create_vpc_endpoint = create_vpc_endpoint  # type: ignore[method-assign]


def _wrap_modify() -> None:
    original = VPCEndPoint.modify

    def modify(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if (self.vpc_endpoint_type or "").lower() != "interface":
            return
        for eni_id in self.network_interface_ids:
            eni = self.ec2_backend.enis.get(eni_id)
            if eni is not None:
                _sync_interface(self.ec2_backend, self, eni)

    VPCEndPoint.modify = modify  # type: ignore[method-assign]


def _wrap_default_vpc() -> None:
    original = VPCBackend.create_default_vpc

    def create_default_vpc(self: Any) -> Any:
        vpc = original(self)
        igw = self.create_internet_gateway()
        self.attach_internet_gateway(igw.id, vpc.id)
        main = next(
            (t for t in self.route_tables.values() if t.vpc_id == vpc.id and t.main_association_id is not None),
            None,
        )
        if main is not None:
            self.create_route(main.id, "0.0.0.0/0", gateway_id=igw.id)
        return vpc

    VPCBackend.create_default_vpc = create_default_vpc  # type: ignore[method-assign]


def _wrap_run_instances() -> None:
    original = InstanceBackend.run_instances

    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("associate_public_ip", None)
        return original(self, *args, **kwargs)

    InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]


def _wrap_cfn_subnet() -> None:
    from . import _cfn

    original = Subnet.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any) -> Any:
        subnet = original(cls, resource_name, cloudformation_json, *args, **kwargs)
        value = (cloudformation_json.get("Properties") or {}).get("MapPublicIpOnLaunch")
        if value is not None:
            subnet.map_public_ip_on_launch = _cfn.as_bool(value)
        return subnet

    Subnet.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]


def apply() -> None:
    _wrap_run_instances()
    _wrap_cfn_subnet()
    _wrap_create()
    _wrap_modify()
    _wrap_default_vpc()
