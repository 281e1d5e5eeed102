"""EC2 calls the containment playbooks make, on an instance from a stack."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import create_stack, physical_ids, stack_events, template, unique


def _instance(ec2, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def test_modify_instance_groups_replaces_the_groups(aws):
    """ModifyInstanceAttribute ``Groups``: "Replaces the security groups of the
    instance with the specified security groups" - the instance (its primary
    network interface) then carries only the quarantine group. DescribeInstances
    filter ``network-interface.group-id`` ("The ID of a security group
    associated with the network interface") finds it by that group.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = unique("net")
    create_stack(cf, name, template("network.yaml"))
    ids = physical_ids(cf, name)
    ec2.modify_instance_attribute(InstanceId=ids["Instance"], Groups=[ids["QuarantineSg"]])
    instance = _instance(ec2, ids["Instance"])
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [ids["QuarantineSg"]]
    assert [[g["GroupId"] for g in n["Groups"]] for n in instance["NetworkInterfaces"]] == [[ids["QuarantineSg"]]]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    described = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    assert [g["GroupId"] for g in described["Groups"]] == [ids["QuarantineSg"]]

    found = ec2.describe_instances(Filters=[{"Name": "network-interface.group-id", "Values": [ids["QuarantineSg"]]}])
    assert [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]] == [ids["Instance"]]
    assert ec2.describe_instances(Filters=[{"Name": "network-interface.group-id", "Values": [ids["AppSg"]]}])["Reservations"] == []

    # and back through the interface: the instance view follows its primary interface
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[ids["AppSg"]])
    assert [g["GroupId"] for g in _instance(ec2, ids["Instance"])["SecurityGroups"]] == [ids["AppSg"]]


def test_termination_protection_blocks_the_stack_delete(aws):
    """With ``DisableApiTermination`` set (ModifyInstanceAttribute), the instance
    "can't be terminated using the Amazon EC2 console, CLI, or API" - so a stack
    delete fails on it (DELETE_FAILED) until the protection is removed.
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_ChangingDisableAPITermination.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = unique("net")
    stack_id = create_stack(cf, name, template("network.yaml"))["StackId"]
    instance_id = physical_ids(cf, name)["Instance"]
    ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})
    cf.delete_stack(StackName=name)
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    failed = [e for e in stack_events(cf, name) if e["ResourceStatus"] == "DELETE_FAILED" and e["LogicalResourceId"] != name]
    assert [e["LogicalResourceId"] for e in failed] == ["Instance"]
    assert _instance(ec2, instance_id)["State"]["Name"] == "running"
    ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": False})
    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError):
        cf.describe_stacks(StackName=name)


def test_an_unknown_instance_type_is_refused(aws):
    """RunInstances refuses an instance type that does not exist (an
    ``InvalidInstanceType`` / ``InvalidParameterValue`` client error), so a stack
    with a mistyped ``InstanceType`` fails at the instance and rolls back.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    """
    ec2 = aws("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=image, InstanceType="t3.bogus", MinCount=1, MaxCount=1)
    assert "t3.bogus" in str(err.value)
    assert ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"]


def test_isolating_into_a_missing_group_is_refused(aws):
    """ModifyNetworkInterfaceAttribute with a security group id that does not
    exist fails with ``InvalidGroup.NotFound`` and leaves the interface's groups
    as they were, so a playbook whose quarantine group was deleted fails loudly.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyNetworkInterfaceAttribute.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = unique("net")
    create_stack(cf, name, template("network.yaml"))
    ids = physical_ids(cf, name)
    eni = _instance(ec2, ids["Instance"])["NetworkInterfaces"][0]["NetworkInterfaceId"]
    before = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["Groups"]
    with pytest.raises(ClientError) as err:
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=["sg-0123456789abcdef0"])
    assert err.value.response["Error"]["Code"] == "InvalidGroup.NotFound"
    after = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["Groups"]
    assert after == before


def test_a_resource_deleted_outside_the_stack_does_not_block_its_deletion(aws):
    """A stack whose resource was deleted outside CloudFormation still deletes:
    the resource's delete handler answers NotFound ("if the resource did not exist
    prior to the delete request") and CloudFormation takes the resource as gone.
    https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-test-contract.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = unique("net")
    create_stack(cf, name, template("network.yaml"))
    ids = physical_ids(cf, name)
    ec2.delete_security_group(GroupId=ids["QuarantineSg"])
    stack_id = cf.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    left = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    assert left == []


def test_the_interface_made_at_launch_goes_with_the_instance(aws):
    """The network interface RunInstances creates for an instance is deleted when
    the instance terminates ("DeleteOnTermination ... default is true for network
    interfaces that are created with the instance"), releasing its security groups.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceNetworkInterfaceSpecification.html
    """
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=unique("g"), Description="x", VpcId=vpc)["GroupId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[group])
    instance = inst["Instances"][0]["InstanceId"]
    eni = inst["Instances"][0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
    ec2.terminate_instances(InstanceIds=[instance])
    assert ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": [eni]}])["NetworkInterfaces"] == []
    ec2.delete_security_group(GroupId=group)
    ec2.delete_subnet(SubnetId=subnet)
