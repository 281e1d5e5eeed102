"""Security group connection tracking (patches/ec2_conntrack.py): which flows
are tracked, and what swapping groups or changing rules does to them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from conftest import REGION, eventually

ATTACKER = "203.0.113.5"
TRACKING_PAGE = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html"


def _call(emulator: Any, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{emulator.endpoint}/moto-api/irlab/ec2/{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _open(emulator: Any, **body: Any) -> dict[str, Any]:
    status, flow = _call(emulator, "POST", "flows", {"region": REGION, **body})
    assert status == 200, flow
    return flow


def _flow(emulator: Any, flow_id: str) -> dict[str, Any]:
    status, body = _call(emulator, "GET", f"flows?region={REGION}")
    assert status == 200
    return next(f for f in body["flows"] if f["flowId"] == flow_id)


def _network(ec2: Any) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    return vpc, subnet


def _group(ec2: Any, vpc: str, name: str, ingress: list[dict[str, Any]], egress: list[dict[str, Any]] | None = None) -> str:
    """A group with exactly these rules (egress None keeps the default allow-all)."""
    group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
    if ingress:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=ingress)
    if egress is not None:
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        if egress:
            ec2.authorize_security_group_egress(GroupId=group, IpPermissions=egress)
    return group


ALL = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]


def _victim(ec2: Any, subnet: str, group: str) -> tuple[str, str]:
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["al2023-ami-2023*"]}])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet, SecurityGroupIds=[group])[
        "Instances"
    ][0]

    def running() -> bool:
        described = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
        return described["State"]["Name"] == "running"

    assert eventually(running, timeout=30)
    return instance["InstanceId"], instance["NetworkInterfaces"][0]["NetworkInterfaceId"]


def _ssh_only(ec2: Any, vpc: str) -> str:
    return _group(ec2, vpc, "web", [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": f"{ATTACKER}/32"}]}])


def test_a_swap_straight_to_the_quarantine_group_leaves_a_tracked_flow_alive(aws, emulator):
    """A flow allowed by a narrow rule (SSH from one address) is tracked; when
    the rule that allowed it goes - here the instance's groups are swapped for
    an empty quarantine group - a tracked flow is not interrupted: it lives
    until it has been idle for its tracking timeout (TCP established: 432000 s
    by default), and after that its packets need the rules again.
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ConnectionTrackingConfiguration.html
    """
    ec2 = aws("ec2")
    vpc, subnet = _network(ec2)
    web = _ssh_only(ec2, vpc)
    quarantine = _group(ec2, vpc, "quarantine", [], egress=[])
    instance, eni = _victim(ec2, subnet, web)

    shell = _open(emulator, instanceId=instance, protocol="tcp", remoteIp=ATTACKER, localPort=22, direction="inbound")
    assert shell["tracked"] is True and shell["state"] == "alive" and shell["networkInterfaceId"] == eni
    status, refused = _call(
        emulator, "POST", "flows", {"region": REGION, "instanceId": instance, "protocol": "tcp", "remoteIp": "198.51.100.7", "localPort": 22, "direction": "inbound"}
    )
    assert status == 409, refused

    ec2.modify_instance_attribute(InstanceId=instance, Groups=[quarantine])
    assert _flow(emulator, shell["flowId"])["state"] == "alive"

    status, quiet = _call(emulator, "POST", "flows/idle", {"flowId": shell["flowId"], "seconds": 3600})
    assert status == 200 and quiet["state"] == "alive"
    status, timed_out = _call(emulator, "POST", "flows/idle", {"flowId": shell["flowId"], "seconds": 432000})
    assert status == 200 and timed_out["state"] == "dropped" and "tracking timeout" in timed_out["reason"]


def test_the_all_access_group_first_then_the_quarantine_group_cuts_the_flow(aws, emulator):
    """AWS's containment runbook moves every interface first to an "all
    access" group (all traffic both ways for 0.0.0.0/0 and ::/0), which makes
    TCP/UDP flows untracked, then to the containment group: an untracked flow
    is interrupted at once when the rule that enables it is removed, so the
    attacker's established session is cut. Changing the interface's groups
    with ModifyNetworkInterfaceAttribute works like ModifyInstanceAttribute.
    https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-awssupport-containec2instance.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html
    """
    ec2 = aws("ec2")
    vpc, subnet = _network(ec2)
    web = _ssh_only(ec2, vpc)
    all_access = _group(ec2, vpc, "all-access", ALL, egress=ALL)
    quarantine = _group(ec2, vpc, "quarantine", [], egress=[])
    instance, eni = _victim(ec2, subnet, web)
    shell = _open(emulator, instanceId=instance, protocol="tcp", remoteIp=ATTACKER, localPort=22, direction="inbound")
    beacon = _open(emulator, networkInterfaceId=eni, protocol="tcp", remoteIp="45.33.32.156", remotePort=80, direction="outbound")
    assert shell["tracked"] and beacon["tracked"]  # the inbound rule is narrow; egress alone is not enough

    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[all_access])
    moved = _flow(emulator, shell["flowId"])
    assert moved["state"] == "alive" and moved["tracked"] is False
    assert _flow(emulator, beacon["flowId"])["tracked"] is False

    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[quarantine])
    for flow_id in (shell["flowId"], beacon["flowId"]):
        cut = _flow(emulator, flow_id)
        assert cut["state"] == "dropped" and cut["droppedAt"], cut
    status, body = _call(emulator, "GET", f"flows?region={REGION}&instanceId={instance}")
    assert status == 200 and {f["state"] for f in body["flows"]} == {"dropped"}


def test_which_flows_are_untracked(aws, emulator):
    """A TCP or UDP flow is untracked when a rule permits it for all traffic
    (0.0.0.0/0, ::/0 for IPv6) and a rule in the other direction permits all
    response traffic for all ports; ICMP is always tracked; IPv4 and IPv6 rules
    count apart; removing the outbound rule makes the traffic tracked; an
    untracked flow is dropped at once when the rule enabling it is removed,
    a tracked one is not. Flows through a NAT gateway are tracked whatever the
    rules.
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html
    """
    ec2 = aws("ec2")
    vpc, subnet = _network(ec2)
    http = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    icmp = [{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ssh = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": f"{ATTACKER}/32"}]}]
    web = _group(ec2, vpc, "web", http + icmp + ssh, egress=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    instance, eni = _victim(ec2, subnet, web)

    def flow(**kwargs: Any) -> dict[str, Any]:
        return _open(emulator, instanceId=instance, direction="inbound", **kwargs)

    web_v4 = flow(protocol="tcp", remoteIp="198.51.100.20", localPort=80)
    ping = flow(protocol="icmp", remoteIp="198.51.100.20")
    shell = flow(protocol="tcp", remoteIp=ATTACKER, localPort=22)
    assert (web_v4["tracked"], ping["tracked"], shell["tracked"]) == (False, True, True)

    # IPv6 needs its own ::/0 rules
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    web_v6 = flow(protocol="tcp", remoteIp="2001:db8::7", localPort=80)
    assert web_v6["tracked"] is True
    ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    assert _flow(emulator, web_v6["flowId"])["tracked"] is False

    # removing the outbound IPv4 rule: the IPv4 flow is tracked now (its inbound rule still allows it)
    ec2.revoke_security_group_egress(GroupId=web, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert _flow(emulator, web_v4["flowId"])["tracked"] is True
    assert _flow(emulator, web_v6["flowId"])["tracked"] is False

    # removing the inbound IPv6 rule that enabled the untracked flow drops it at once; tracked flows survive
    ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=http + ssh)
    assert _flow(emulator, web_v6["flowId"])["state"] == "dropped"
    assert _flow(emulator, web_v4["flowId"])["state"] == "alive"
    assert _flow(emulator, shell["flowId"])["state"] == "alive"

    # behind a NAT gateway: tracked even with all-traffic rules both ways
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24")["Subnet"]["SubnetId"]
    public = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "cidr-block", "Values": ["10.20.1.0/24"]}])["Subnets"][0]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.associate_route_table(RouteTableId=table, SubnetId=private)
    open_group = _group(ec2, vpc, "open", ALL, egress=ALL)
    worker, _ = _victim(ec2, private, open_group)
    out = _open(emulator, instanceId=worker, protocol="tcp", remoteIp="45.33.32.156", remotePort=443, direction="outbound")
    assert out["tracked"] is True


def test_flows_end_with_their_instance(aws, emulator):
    """A flow needs its interface: when the instance stops or terminates its
    connections end. Opening a flow on an unknown instance is 404; a malformed
    request 400.
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html
    """
    ec2 = aws("ec2")
    vpc, subnet = _network(ec2)
    instance, _ = _victim(ec2, subnet, _ssh_only(ec2, vpc))
    shell = _open(emulator, instanceId=instance, protocol="tcp", remoteIp=ATTACKER, localPort=22, direction="inbound")
    ec2.terminate_instances(InstanceIds=[instance])
    assert _flow(emulator, shell["flowId"])["state"] == "dropped"
    assert _call(emulator, "POST", "flows", {"region": REGION, "instanceId": "i-0123456789abcdef0", "remoteIp": ATTACKER, "localPort": 22, "direction": "inbound"})[0] == 404
    assert _call(emulator, "POST", "flows", {"region": REGION, "instanceId": instance, "remoteIp": "not-an-ip", "direction": "inbound"})[0] == 400
