"""Recovery through the victim stack (issue 13): an update of stacks/victim.yaml with the
baseline ImageId and a new PrivateIpHost replaces the victim instance, CloudFormation keeps
the compromised one (UpdateReplacePolicy Retain) out of the stack; and the parts of
CloudFormation and EC2 that this rests on: UpdateReplacePolicy, which AWS::EC2::Instance
changes replace the instance, and RunInstances' PrivateIpAddress."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import lab_stacks
from conftest import REPO_ROOT, create_stack, eventually, physical_ids, stack_events, unique

VICTIM = REPO_ROOT / "stacks" / "victim.yaml"
TAGS = [{"Key": "irlab:lab", "Value": "rec"}, {"Key": "irlab:part", "Value": "victim"}]
CAPS = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]

UPDATE_REPLACE_POLICY = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html"
)
EC2_INSTANCE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html"


def _params(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _instance(ec2, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def _state(ec2, instance_id: str) -> str:
    return _instance(ec2, instance_id)["State"]["Name"]


def _stack(cf, name: str) -> dict:
    return cf.describe_stacks(StackName=name)["Stacks"][0]


def _outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _amis(ec2, count: int) -> list[str]:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    ids = sorted({i["ImageId"] for i in images if i.get("Architecture", "x86_64") == "x86_64"})
    assert len(ids) >= count
    return ids[:count]


def test_recover_replaces_the_victim_and_keeps_the_compromised_one(aws):
    """stacks/victim.yaml updated as `irlab recover` does (the ImageId recorded at `up`,
    PrivateIpHost 11): PrivateIpAddress "Update requires: Replacement", so CloudFormation
    creates a new instance first, at 10.42.N.11, from the recorded image, with the app
    group, the lab's instance profile and the same tags, and points the stack's
    references (DescribeStackResources, the InstanceId output) at it. With
    ``UpdateReplacePolicy: Retain`` it then keeps the old physical instance instead of
    deleting it: "UpdateReplacePolicy retains the old physical resource ... but removes it
    from CloudFormation's scope" - the compromised instance stays as it was (stopped,
    termination protection on), and the old and new instance hold different private
    addresses ("The old and new instances cannot have the same private IP address").
    A later DeleteStack deletes the stack's own instance (DeletionPolicy Delete) and never
    the retained one; while the retained instance still uses the lab's subnet and app
    group, EC2 refuses to delete them (DependencyViolation), so the stack ends
    DELETE_FAILED until the retained instance is terminated; a new DeleteStack then
    completes.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSubnet.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = "irlab-rec-victim"
    params = lab_stacks.victim_parameters(cf, "rec", 21)
    stack = create_stack(cf, name, VICTIM.read_text(), params, Tags=TAGS)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    out = _outputs(stack)
    old_id = out["InstanceId"]
    old = _instance(ec2, old_id)
    baseline_image = old["ImageId"]
    old_ip = old["PrivateIpAddress"]
    assert old_ip != "10.42.21.11"

    # the compromised victim as irlab leaves it: protected and stopped
    ec2.modify_instance_attribute(InstanceId=old_id, DisableApiTermination={"Value": True})
    ec2.stop_instances(InstanceIds=[old_id])
    assert eventually(lambda: _state(ec2, old_id) == "stopped")

    cf.update_stack(
        StackName=name,
        TemplateBody=VICTIM.read_text(),
        Parameters=_params({**params, "ImageId": baseline_image, "PrivateIpHost": "11"}),
        Capabilities=CAPS,
        Tags=TAGS,
    )
    stack = _stack(cf, name)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    new_id = _outputs(stack)["InstanceId"]
    assert new_id != old_id

    new = _instance(ec2, new_id)
    assert new["PrivateIpAddress"] == "10.42.21.11"
    assert new["ImageId"] == baseline_image
    assert new["State"]["Name"] == "running"
    assert new["SubnetId"] == out["SubnetId"]
    assert [g["GroupId"] for g in new["SecurityGroups"]] == [out["AppSecurityGroupId"]]
    assert new["IamInstanceProfile"]["Arn"] == out["InstanceProfileArn"]
    tags = {t["Key"]: t["Value"] for t in new.get("Tags", [])}
    assert tags["Name"] == "irlab-rec-victim"
    assert tags["irlab:lab"] == "rec"
    assert tags["aws:cloudformation:logical-id"] == "VictimInstance"

    # the compromised instance is untouched and out of the stack
    old = _instance(ec2, old_id)
    assert old["State"]["Name"] == "stopped"
    assert old["PrivateIpAddress"] == old_ip
    protection = ec2.describe_instance_attribute(InstanceId=old_id, Attribute="disableApiTermination")
    assert protection["DisableApiTermination"]["Value"] is True
    resources = cf.describe_stack_resources(StackName=name)["StackResources"]
    assert [r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "VictimInstance"] == [new_id]
    assert old_id not in {r["PhysicalResourceId"] for r in resources}
    replaced = [
        e for e in stack_events(cf, name)
        if e["LogicalResourceId"] == "VictimInstance" and e.get("PhysicalResourceId") == old_id
    ]
    assert "DELETE_COMPLETE" not in {e["ResourceStatus"] for e in replaced}

    # down: the stack's instance goes, the retained one stays (and holds the subnet)
    cf.delete_stack(StackName=name)
    stack = _stack(cf, name)
    assert stack["StackStatus"] == "DELETE_FAILED"
    failed = {
        r["LogicalResourceId"]
        for r in cf.describe_stack_resources(StackName=name)["StackResources"]
        if r["ResourceStatus"] == "DELETE_FAILED"
    }
    assert {"PublicSubnet", "AppSecurityGroup"} <= failed
    assert _state(ec2, new_id) == "terminated"
    assert _state(ec2, old_id) == "stopped"

    ec2.modify_instance_attribute(InstanceId=old_id, DisableApiTermination={"Value": False})
    ec2.terminate_instances(InstanceIds=[old_id])
    assert eventually(lambda: _state(ec2, old_id) == "terminated")
    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert not ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.42.21.0/24"]}])["Subnets"]


NETWORK = """
Parameters:
  ImageId: {Type: String}
  Ip: {Type: String, Default: ""}
  Profile: {Type: String, Default: A}
Conditions:
  HasIp: !Not [!Equals [!Ref Ip, ""]]
  ProfileA: !Equals [!Ref Profile, A]
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.9.0.0/16}}
  Subnet: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.9.1.0/24}}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]
  ProfileA: {Type: AWS::IAM::InstanceProfile, Properties: {Roles: [!Ref Role]}}
  ProfileB: {Type: AWS::IAM::InstanceProfile, Properties: {Roles: [!Ref Role]}}
  Instance:
    Type: AWS::EC2::Instance
    %(policy)s
    Properties:
      ImageId: !Ref ImageId
      InstanceType: t3.micro
      SubnetId: !Ref Subnet
      PrivateIpAddress: !If [HasIp, !Ref Ip, !Ref AWS::NoValue]
      IamInstanceProfile: !If [ProfileA, !Ref ProfileA, !Ref ProfileB]
Outputs:
  InstanceId: {Value: !Ref Instance}
  SubnetId: {Value: !Ref Subnet}
"""


def _network(policy: str = "") -> str:
    return NETWORK % {"policy": policy}


def _update(cf, name: str, body: str, **params: str) -> dict:
    cf.update_stack(StackName=name, TemplateBody=body, Parameters=_params(params), Capabilities=CAPS)
    return _stack(cf, name)


def test_replacement_without_update_replace_policy_deletes_the_old_instance(aws):
    """Without UpdateReplacePolicy (default Delete), "CloudFormation creates the
    replacement resource first, and then changes references ... By default, CloudFormation
    then deletes the old resource": a change of PrivateIpAddress, then one of ImageId (both
    "Update requires: Replacement") each give a new instance and terminate the old one.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    first, second = _amis(ec2, 2)
    name = unique("replace")
    body = _network()
    stack = create_stack(cf, name, body, {"ImageId": first, "Ip": "10.9.1.10"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    one = _outputs(stack)["InstanceId"]
    assert _instance(ec2, one)["PrivateIpAddress"] == "10.9.1.10"

    stack = _update(cf, name, body, ImageId=first, Ip="10.9.1.11")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    two = _outputs(stack)["InstanceId"]
    assert two != one
    assert _instance(ec2, two)["PrivateIpAddress"] == "10.9.1.11"
    assert _state(ec2, one) == "terminated"

    # "If you make an update to an instance that requires replacement, you must assign a
    # new private IP address" (the same one fails: see the last test)
    stack = _update(cf, name, body, ImageId=second, Ip="10.9.1.12")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    three = _outputs(stack)["InstanceId"]
    assert three != two
    assert _instance(ec2, three)["ImageId"] == second
    assert _state(ec2, two) == "terminated"
    cf.delete_stack(StackName=name)
    assert _state(ec2, three) == "terminated"


def test_update_replace_policy_retain_keeps_the_replaced_instance_out_of_the_stack(aws):
    """``UpdateReplacePolicy: Retain`` on an instance: the replaced instance keeps running
    and "UpdateReplacePolicy retains the old physical resource ... but removes it from
    CloudFormation's scope"; DeletionPolicy, not UpdateReplacePolicy, governs the stack's
    delete ("UpdateReplacePolicy differs from the DeletionPolicy attribute in that it only
    applies to resources replaced during stack updates"), which deletes the current
    instance and not the retained one.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    [image] = _amis(ec2, 1)
    name = unique("retain")
    body = _network("UpdateReplacePolicy: Retain")
    stack = create_stack(cf, name, body, {"ImageId": image, "Ip": "10.9.1.10"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    old = _outputs(stack)["InstanceId"]
    stack = _update(cf, name, body, ImageId=image, Ip="10.9.1.11")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    new = _outputs(stack)["InstanceId"]
    assert new != old
    assert _state(ec2, old) == "running"
    assert physical_ids(cf, name)["Instance"] == new

    # the subnet stays while the retained instance is in it; terminate it, then delete
    cf.delete_stack(StackName=name)
    assert _state(ec2, new) == "terminated"
    assert _state(ec2, old) == "running"
    ec2.terminate_instances(InstanceIds=[old])
    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_instance_profile_change_is_an_update_without_replacement(aws):
    """AWS::EC2::Instance ``IamInstanceProfile``: "Update requires: No interruption" - the
    same instance, now associated with the new profile.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html#cfn-ec2-instance-iaminstanceprofile
    """
    cf, ec2, iam = aws("cloudformation"), aws("ec2"), aws("iam")
    [image] = _amis(ec2, 1)
    name = unique("profile")
    body = _network()
    stack = create_stack(cf, name, body, {"ImageId": image})
    instance_id = _outputs(stack)["InstanceId"]
    stack = _update(cf, name, body, ImageId=image, Profile="B")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    assert _outputs(stack)["InstanceId"] == instance_id
    profile_b = iam.get_instance_profile(InstanceProfileName=physical_ids(cf, name)["ProfileB"])["InstanceProfile"]
    assert _instance(ec2, instance_id)["IamInstanceProfile"]["Arn"] == profile_b["Arn"]
    associations = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}]
    )["IamInstanceProfileAssociations"]
    assert [a["IamInstanceProfile"]["Arn"] for a in associations] == [profile_b["Arn"]]


def test_private_ip_address_must_be_in_the_subnet_and_free(aws):
    """RunInstances ``PrivateIpAddress``: "The primary IPv4 address. You must specify a value
    from the IPv4 address range of the subnet." An address outside it fails with
    InvalidParameterValue; an address that a network interface of the subnet holds (that of
    a stopped instance too) fails with InvalidIPAddress.InUse ("The specified IP address is
    already in use"); once its instance is terminated the address can be used again.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    """
    ec2 = aws("ec2")
    [image] = _amis(ec2, 1)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]

    def run(ip: str) -> str:
        return ec2.run_instances(
            ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=subnet, PrivateIpAddress=ip
        )["Instances"][0]["InstanceId"]

    first = run("10.8.1.20")
    assert _instance(ec2, first)["PrivateIpAddress"] == "10.8.1.20"
    with pytest.raises(ClientError) as outside:
        run("10.8.2.20")
    assert outside.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert outside.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "10.8.2.20" in outside.value.response["Error"]["Message"]

    ec2.stop_instances(InstanceIds=[first])
    assert eventually(lambda: _state(ec2, first) == "stopped")
    with pytest.raises(ClientError) as in_use:
        run("10.8.1.20")
    assert in_use.value.response["Error"]["Code"] == "InvalidIPAddress.InUse"
    assert in_use.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    ec2.terminate_instances(InstanceIds=[first])
    assert eventually(lambda: _state(ec2, first) == "terminated")
    again = run("10.8.1.20")
    assert _instance(ec2, again)["PrivateIpAddress"] == "10.8.1.20"


def test_replacement_at_an_address_in_use_fails_and_keeps_the_instance(aws):
    """A replacement whose PrivateIpAddress is still held (here by the instance being
    replaced: "The old and new instances cannot have the same private IP address") fails
    to create; the update fails (UPDATE_FAILED with EC2's reason) and rolls back, and the
    stack keeps its instance.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html#cfn-ec2-instance-privateipaddress
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    first, second = _amis(ec2, 2)
    name = unique("inuse")
    body = _network("UpdateReplacePolicy: Retain")
    stack = create_stack(cf, name, body, {"ImageId": first, "Ip": "10.9.1.10"})
    old = _outputs(stack)["InstanceId"]
    stack = _update(cf, name, body, ImageId=second, Ip="10.9.1.10")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    failed = [
        e for e in stack_events(cf, name)
        if e["LogicalResourceId"] == "Instance" and e["ResourceStatus"] == "UPDATE_FAILED"
    ]
    assert failed and "InvalidIPAddress.InUse" in failed[0]["ResourceStatusReason"]
    assert physical_ids(cf, name)["Instance"] == old
    assert _state(ec2, old) == "running"
    assert _outputs(stack)["InstanceId"] == old


def test_update_replace_policy_snapshot_snapshots_a_replaced_volume(aws):
    """``UpdateReplacePolicy: Snapshot``: "For resources that support snapshots, such as
    AWS::EC2::Volume, specify Snapshot to have CloudFormation create a snapshot before
    deleting the old resource instance." AvailabilityZone of AWS::EC2::Volume requires
    replacement: the old volume is deleted, a snapshot of it remains.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-volume.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    body = """
Parameters:
  Zone: {Type: String}
Resources:
  Volume:
    Type: AWS::EC2::Volume
    UpdateReplacePolicy: Snapshot
    Properties: {AvailabilityZone: !Ref Zone, Size: 1}
"""
    name = unique("volume")
    stack = create_stack(cf, name, body, {"Zone": "us-east-1a"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    old = physical_ids(cf, name)["Volume"]
    stack = _update(cf, name, body, Zone="us-east-1b")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    assert physical_ids(cf, name)["Volume"] != old
    assert old not in {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [old]}])["Snapshots"]
    assert len(snapshots) == 1
