"""EC2 and IAM calls the playbooks' new containment steps make, as AWS answers
and authorises them: DisassociateAddress (idempotent; IAM authorises the
Elastic IP and the network interface its association names) and PutRolePolicy
on a role with a path (its ARN holds the path)."""

from __future__ import annotations

import json
from typing import Any

from conftest import ACCOUNT_ID, REGION, eventually, unique
from test_iam_enforcement import _error, _role, _session

SAR_EC2 = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html"


def _running_instance(ec2: Any, subnet: str) -> str:
    instance_id = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]["InstanceId"]

    def running() -> bool:
        return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"

    assert eventually(running, timeout=30)
    return instance_id


def _subnets(ec2: Any) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    return tuple(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.31.{n}.0/24")["Subnet"]["SubnetId"] for n in (1, 2))  # type: ignore[return-value]


def test_disassociate_address_is_idempotent(aws):
    """DisassociateAddress "Disassociates an Elastic IP address from the
    instance or network interface it's associated with. This is an idempotent
    operation. If you perform the operation more than once, Amazon EC2 doesn't
    return an error." The Elastic IP stays allocated (DescribeAddresses lists
    it without an association); an association id that never existed still
    fails (InvalidAssociationID.NotFound).
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisassociateAddress.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeAddresses.html
    """
    ec2 = aws("ec2")
    subnet, _ = _subnets(ec2)
    instance_id = _running_instance(ec2, subnet)
    allocation = ec2.allocate_address(Domain="vpc")
    association = ec2.associate_address(AllocationId=allocation["AllocationId"], InstanceId=instance_id)["AssociationId"]
    [address] = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Addresses"]
    assert address["AllocationId"] == allocation["AllocationId"] and address["AssociationId"] == association

    ec2.disassociate_address(AssociationId=association)
    ec2.disassociate_address(AssociationId=association)  # again: no error
    assert ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Addresses"] == []
    [kept] = ec2.describe_addresses(AllocationIds=[allocation["AllocationId"]])["Addresses"]
    assert kept["PublicIp"] == allocation["PublicIp"] and not kept.get("AssociationId")
    assert _error(lambda: ec2.disassociate_address(AssociationId="eipassoc-0123456789abcdef0"))["code"] == "InvalidAssociationID.NotFound"


def test_disassociate_address_authorises_the_elastic_ip_and_the_interface(aws, emulator):
    """The Service Authorization Reference lists two resource types for
    ec2:DisassociateAddress, elastic-ip (condition keys ec2:AllocationId,
    ec2:PublicIpAddress, aws:ResourceTag ...) and network-interface (ec2:Subnet,
    ec2:Vpc ...): the request names only the association, and IAM authorises
    the Elastic IP and the network interface it is associated with. A policy
    allowing elastic-ip/* and network-interface/* with ArnEqualsIfExists
    ec2:Subnet = one subnet lets a role disassociate an address from an
    instance in that subnet, and not from one in another subnet (EC2's
    UnauthorizedOperation naming the network interface); a policy naming only
    another Elastic IP's ARN is refused on the Elastic IP. Disassociating the
    same association again is authorised on the same two resources.
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists
    """
    ec2 = aws("ec2")
    lab_subnet, other_subnet = _subnets(ec2)
    subnet_arn = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:subnet/{lab_subnet}"
    role = _role(
        aws,
        [
            {
                "Effect": "Allow",
                "Action": "ec2:DisassociateAddress",
                "Resource": [f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:elastic-ip/*", f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:network-interface/*"],
                "Condition": {"ArnEqualsIfExists": {"ec2:Subnet": subnet_arn}},
            }
        ],
    )
    session = _session(aws, emulator, role)("ec2")
    associations = {}
    for subnet in (lab_subnet, other_subnet):
        instance_id = _running_instance(ec2, subnet)
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        associations[subnet] = ec2.associate_address(AllocationId=allocation, InstanceId=instance_id)["AssociationId"]

    session.disassociate_address(AssociationId=associations[lab_subnet])
    session.disassociate_address(AssociationId=associations[lab_subnet])
    denied = _error(lambda: session.disassociate_address(AssociationId=associations[other_subnet]))
    assert denied["code"] == "UnauthorizedOperation" and denied["status"] == 403, denied
    assert "ec2:DisassociateAddress on resource: arn:aws:ec2:" in denied["message"] and ":network-interface/eni-" in denied["message"], denied
    assert ec2.describe_addresses(Filters=[{"Name": "association-id", "Values": [associations[other_subnet]]}])["Addresses"]

    narrow = _role(
        aws,
        [
            {
                "Effect": "Allow",
                "Action": "ec2:DisassociateAddress",
                "Resource": [f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:elastic-ip/eipalloc-0123456789abcdef0", f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:network-interface/*"],
            }
        ],
    )
    denied = _error(lambda: _session(aws, emulator, narrow)("ec2").disassociate_address(AssociationId=associations[other_subnet]))
    assert denied["code"] == "UnauthorizedOperation" and ":elastic-ip/eipalloc-" in denied["message"], denied


def test_put_role_policy_is_authorised_on_the_role_arn_with_its_path(aws, emulator):
    """The IAM role ARN of the Service Authorization Reference is
    arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}: a role created
    with a path (/irlab/lab/us-east-1/) has the ARN
    arn:aws:iam::ACCOUNT:role/irlab/lab/us-east-1/NAME, and iam:PutRolePolicy
    (RoleName only in the request) is authorised on that ARN. A policy naming
    the ARN with the path allows it; one naming the ARN without the path does
    not (AccessDenied naming the role's ARN with its path).
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
    """
    iam = aws("iam")
    name = unique("victim")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    target = iam.create_role(RoleName=name, Path="/irlab/lab/us-east-1/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    assert target == f"arn:aws:iam::{ACCOUNT_ID}:role/irlab/lab/us-east-1/{name}"
    document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})

    with_path = _session(aws, emulator, _role(aws, [{"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": target}]))("iam")
    with_path.put_role_policy(RoleName=name, PolicyName="irlab-revoke-sessions", PolicyDocument=document)
    assert iam.get_role_policy(RoleName=name, PolicyName="irlab-revoke-sessions")["PolicyName"] == "irlab-revoke-sessions"

    pathless = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
    without_path = _session(aws, emulator, _role(aws, [{"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": pathless}]))("iam")
    denied = _error(lambda: without_path.put_role_policy(RoleName=name, PolicyName="other", PolicyDocument=document))
    assert denied["code"] == "AccessDenied" and f"on resource: {target}" in denied["message"], denied
