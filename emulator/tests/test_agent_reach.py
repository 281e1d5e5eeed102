"""The SSM Agent's network path to Systems Manager (patches/ssm.py
``agent_reaches_systems_manager``, patches/ec2_endpoints.py), on the lab's real
stacks: stacks/shared.yaml (the VPC and its ssm, ssmmessages and ec2messages
interface endpoints) and stacks/victim.yaml (the victim, its quarantine group,
its EradicateInstanceProfile)."""

from __future__ import annotations

import json
from typing import Any

import lab_stacks
from conftest import REPO_ROOT, create_stack, eventually

VICTIM = REPO_ROOT / "stacks" / "victim.yaml"
SERVICES = ("ssm", "ssmmessages", "ec2messages")


def _lab(aws: Any, lab: str = "reach") -> tuple[dict[str, str], dict[str, str]]:
    cf = aws("cloudformation")
    shared = lab_stacks.shared(cf)
    stack = create_stack(cf, f"irlab-{lab}-victim", VICTIM.read_text(), lab_stacks.victim_parameters(cf, lab, 9))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return shared, lab_stacks.outputs(stack)


def _status(ssm: Any, instance_id: str) -> str | None:
    nodes = ssm.describe_instance_information()["InstanceInformationList"]
    return next((n["PingStatus"] for n in nodes if n["InstanceId"] == instance_id), None)


def _becomes(ssm: Any, instance_id: str, status: str, timeout: float = 30.0) -> str | None:
    eventually(lambda: _status(ssm, instance_id) == status, timeout=timeout)
    return _status(ssm, instance_id)


def _primary_eni(ec2: Any, instance_id: str) -> str:
    [instance] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    return next(n["NetworkInterfaceId"] for n in instance["NetworkInterfaces"] if n["Attachment"]["DeviceIndex"] == 0)


def _quarantine(ec2: Any, victim: dict[str, str]) -> None:
    ec2.modify_network_interface_attribute(
        NetworkInterfaceId=_primary_eni(ec2, victim["InstanceId"]), Groups=[victim["QuarantineSecurityGroupId"]]
    )


def _contain_identity(ec2: Any, iam: Any, victim: dict[str, str]) -> None:
    """What the playbooks do to the victim's identity: disassociate its profile
    and deny the instance role's sessions issued before now."""
    for association in ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [victim["InstanceId"]]}]
    )["IamInstanceProfileAssociations"]:
        ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])
    iam.put_role_policy(
        RoleName=victim["InstanceRoleName"],
        PolicyName="irlab-revoke-sessions",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2100-01-01T00:00:00Z"}},
            }],
        }),
    )


def test_shared_stack_creates_the_three_agent_endpoints_in_its_endpoint_subnet(aws):
    """An interface endpoint gets, in each of its subnets, a requester-managed
    network interface with a private address of that subnet and the endpoint's
    security groups; with private DNS the service's default name resolves to
    those addresses inside the VPC. The agent needs com.amazonaws.<region>.ssm,
    .ssmmessages and .ec2messages.
    https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html"""
    ec2 = aws("ec2")
    shared = lab_stacks.shared(aws("cloudformation"))
    [subnet] = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.42.255.0/24"]}])["Subnets"]
    assert subnet["VpcId"] == shared["VpcId"] and not subnet["MapPublicIpOnLaunch"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [shared["VpcId"]]}])["VpcEndpoints"]
    assert sorted(e["ServiceName"] for e in endpoints) == sorted(f"com.amazonaws.us-east-1.{s}" for s in SERVICES)
    for endpoint in endpoints:
        assert endpoint["VpcEndpointType"] == "Interface" and endpoint["PrivateDnsEnabled"] is True
        assert endpoint["SubnetIds"] == [subnet["SubnetId"]]
        assert [g["GroupId"] for g in endpoint["Groups"]] == [shared["EndpointSecurityGroupId"]]
        [eni] = ec2.describe_network_interfaces(NetworkInterfaceIds=endpoint["NetworkInterfaceIds"])["NetworkInterfaces"]
        assert eni["SubnetId"] == subnet["SubnetId"]
        assert eni["PrivateIpAddress"].startswith("10.42.255.")
        assert [g["GroupId"] for g in eni["Groups"]] == [shared["EndpointSecurityGroupId"]]
        assert eni["InterfaceType"] == "vpc_endpoint" and eni["RequesterManaged"] is True
    [group] = ec2.describe_security_groups(GroupIds=[shared["EndpointSecurityGroupId"]])["SecurityGroups"]
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in group["IpPermissions"]] == [
        ("tcp", 443, 443, ["10.42.0.0/16"])
    ]
    assert [r["CidrIp"] for p in group["IpPermissionsEgress"] for r in p["IpRanges"]] == ["127.0.0.1/32"]


def test_victim_in_the_app_group_is_online(aws):
    """A running instance whose profile role allows ssm:UpdateInstanceInformation
    and whose agent reaches ssm, ssmmessages and ec2messages over HTTPS is a
    managed node, Online. The app group allows all egress; with the shared VPC's
    private-DNS endpoints the agent goes through them, whose group lets 443 in
    from the VPC. The lab's subnet has MapPublicIpOnLaunch, so the victim also
    has a public IPv4 address (the scenarios' way out).
    https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-instance-addressing.html"""
    _, victim = _lab(aws)
    assert _becomes(aws("ssm"), victim["InstanceId"], "Online") == "Online"
    [instance] = aws("ec2").describe_instances(InstanceIds=[victim["InstanceId"]])["Reservations"][0]["Instances"]
    assert instance.get("PublicIpAddress")


def test_quarantined_victim_without_endpoints_loses_its_connection(aws):
    """Without interface endpoints the agent uses the services' public
    endpoints; the quarantine group allows 443 only to the endpoints' group, so
    with none the agent reaches nothing and the node shows ConnectionLost, even
    with its profile still associated; SendCommand refuses it.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html"""
    ec2, ssm = aws("ec2"), aws("ssm")
    shared, victim = _lab(aws)
    assert _becomes(ssm, victim["InstanceId"], "Online") == "Online"
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [shared["VpcId"]]}])["VpcEndpoints"]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[e["VpcEndpointId"] for e in endpoints])
    assert _status(ssm, victim["InstanceId"]) == "Online"  # the app group and a public IP: the internet path
    _quarantine(ec2, victim)
    assert _status(ssm, victim["InstanceId"]) == "ConnectionLost"


def test_quarantined_victim_with_endpoints_stays_online(aws):
    """The quarantine group's only egress rule, tcp 443 to the endpoints'
    security group, and the endpoints' ingress, 443 from the VPC CIDR, are all
    the agent needs: the isolated victim stays Online while its profile is
    associated.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html"""
    ec2, ssm = aws("ec2"), aws("ssm")
    _, victim = _lab(aws)
    assert _becomes(ssm, victim["InstanceId"], "Online") == "Online"
    _quarantine(ec2, victim)
    assert _status(ssm, victim["InstanceId"]) == "Online"


def test_eradicate_profile_brings_the_contained_victim_back_online(aws):
    """After containment (profile disassociated, the instance role's earlier
    sessions denied) the agent cannot register: ConnectionLost. Associating the
    EradicateInstanceProfile (AmazonSSMManagedInstanceCore only) gives the
    agent credentials that allow ssm:UpdateInstanceInformation; through the
    endpoints the node is Online again and Run Command accepts it; once the
    profile is disassociated it is ConnectionLost again.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-instance-permissions.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AssociateIamInstanceProfile.html"""
    ec2, ssm, iam = aws("ec2"), aws("ssm"), aws("iam")
    _, victim = _lab(aws)
    assert _becomes(ssm, victim["InstanceId"], "Online") == "Online"
    _quarantine(ec2, victim)
    _contain_identity(ec2, iam, victim)
    assert _status(ssm, victim["InstanceId"]) == "ConnectionLost"
    association = ec2.associate_iam_instance_profile(
        InstanceId=victim["InstanceId"], IamInstanceProfile={"Arn": victim["EradicateInstanceProfileArn"]}
    )["IamInstanceProfileAssociation"]
    assert _becomes(ssm, victim["InstanceId"], "Online") == "Online"
    command = ssm.send_command(
        InstanceIds=[victim["InstanceId"]], DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]}
    )["Command"]
    assert command["InstanceIds"] == [victim["InstanceId"]]
    ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])
    assert _status(ssm, victim["InstanceId"]) == "ConnectionLost"


def test_eradicate_role_has_only_the_managed_instance_core_policy(aws):
    """AmazonSSMManagedInstanceCore grants the agent's own calls (ssm:
    UpdateInstanceInformation and the other node calls, ssmmessages:*Channel,
    ec2messages:*Message) and nothing else; the EradicateRole has it and no
    other policy, and only EC2 may assume it.
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html"""
    iam = aws("iam")
    _, victim = _lab(aws)
    profile = iam.get_instance_profile(InstanceProfileName=victim["EradicateInstanceProfileName"])["InstanceProfile"]
    [role] = profile["Roles"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]] == [
        "AmazonSSMManagedInstanceCore"
    ]
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == []
    version = iam.get_policy_version(
        PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", VersionId="v2"
    )["PolicyVersion"]["Document"]
    actions = {a for s in version["Statement"] for a in s["Action"]}
    assert "ssm:UpdateInstanceInformation" in actions and "ec2messages:GetMessages" in actions
    assert {a.split(":")[0] for a in actions} == {"ssm", "ssmmessages", "ec2messages"}


def test_without_the_endpoint_groups_ingress_the_victim_stays_connection_lost(aws):
    """The endpoints' security group must allow incoming HTTPS from the managed
    node; without that rule the agent cannot connect through them, whatever its
    credentials: the contained victim with the EradicateInstanceProfile stays
    ConnectionLost.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html"""
    ec2, ssm, iam = aws("ec2"), aws("ssm"), aws("iam")
    shared, victim = _lab(aws)
    assert _becomes(ssm, victim["InstanceId"], "Online") == "Online"
    _quarantine(ec2, victim)
    _contain_identity(ec2, iam, victim)
    ec2.revoke_security_group_ingress(
        GroupId=shared["EndpointSecurityGroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.42.0.0/16"}]}],
    )
    ec2.associate_iam_instance_profile(
        InstanceId=victim["InstanceId"], IamInstanceProfile={"Arn": victim["EradicateInstanceProfileArn"]}
    )
    assert eventually(lambda: _status(ssm, victim["InstanceId"]) == "Online", timeout=2) is False
    assert _status(ssm, victim["InstanceId"]) == "ConnectionLost"


def test_default_vpc_instance_reaches_the_public_endpoints(aws):
    """AWS's default VPC has an internet gateway and a 0.0.0.0/0 route to it in
    its main route table, and its default subnets give instances a public IPv4
    address, so an instance there with the default group (all egress) reaches
    the public Systems Manager endpoints and comes Online.
    https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html"""
    ec2, ssm, iam = aws("ec2"), aws("ssm"), aws("iam")
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    [igw] = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])["InternetGateways"]
    [main] = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw["InternetGatewayId"]}.items() <= next(
        r for r in main["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    ).items()
    iam.create_role(RoleName="node", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }))
    iam.attach_role_policy(RoleName="node", PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    iam.create_instance_profile(InstanceProfileName="node")
    iam.add_role_to_instance_profile(InstanceProfileName="node", RoleName="node")
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["al2023-ami-2023*"]}])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", IamInstanceProfile={"Name": "node"}
    )["Instances"][0]["InstanceId"]
    assert _becomes(ssm, instance, "Online") == "Online"
    ec2.delete_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")
    assert _status(ssm, instance) == "ConnectionLost"
