"""Systems Manager managed nodes and Run Command targeting (patches/ssm.py)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import eventually, unique

SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def _profile(iam, managed: list[str] | None = None, inline: dict | None = None) -> str:
    role = unique("node-role")
    iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        ),
    )
    for arn in managed or []:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    if inline:
        iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=json.dumps(inline))
    profile = unique("node-profile")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    return profile


def _run(ec2, profile: str | None = None, tags: dict[str, str] | None = None) -> str:
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["al2023-ami-2023*"]}])["Images"][0]["ImageId"]
    kwargs: dict = {"ImageId": image, "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro"}
    if profile:
        kwargs["IamInstanceProfile"] = {"Name": profile}
    if tags:
        kwargs["TagSpecifications"] = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    return ec2.run_instances(**kwargs)["Instances"][0]["InstanceId"]


def _nodes(ssm, **kwargs) -> dict[str, dict]:
    return {n["InstanceId"]: n for n in ssm.describe_instance_information(**kwargs)["InstanceInformationList"]}


def managed(ssm, *instance_ids: str, timeout: float = 30.0) -> dict[str, dict]:
    """The managed nodes once those of ``instance_ids`` are listed: an instance
    is pending for a while after RunInstances, and its SSM Agent registers a
    while after it runs (patches/_timing.py, at the tests' wait scale)."""
    def listed() -> dict[str, dict] | None:
        nodes = _nodes(ssm)
        return nodes if set(instance_ids) <= set(nodes) else None

    nodes = eventually(listed, timeout=timeout)
    assert nodes, f"{sorted(instance_ids)} not managed nodes after {timeout} s: {sorted(_nodes(ssm))}"
    return nodes


def test_describe_instance_information_lists_managed_nodes(aws):
    """An EC2 instance is a managed node when SSM Agent runs on it (it comes
    with Amazon Linux) and its instance profile role allows Systems Manager
    (AmazonSSMManagedInstanceCore, or ssm:UpdateInstanceInformation in a
    policy of its own). DescribeInstanceInformation lists such nodes: PingStatus
    Online, ResourceType EC2Instance, PlatformType Linux, AgentVersion,
    IsLatestVersion, IPAddress, ComputerName, LastPingDateTime. An instance
    without such a role is not a managed node; the operation "does not return
    information for nodes that are either Stopped or Terminated"; a node whose
    instance profile is removed stops reporting (ConnectionLost).
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-instance-permissions.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/troubleshooting-managed-nodes.html
    """
    ec2, iam, ssm = aws("ec2"), aws("iam"), aws("ssm")
    core = _run(ec2, _profile(iam, [SSM_CORE]), {"irlab:lab": "t1"})
    inline = _run(ec2, _profile(iam, inline={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:Update*", "Resource": "*"}]}))
    unmanaged = _run(ec2, _profile(iam, inline={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    bare = _run(ec2)
    stopped = _run(ec2, _profile(iam, [SSM_CORE]))

    nodes = managed(ssm, core, inline, stopped)
    assert set(nodes) == {core, inline, stopped}
    node = nodes[core]
    instance = ec2.describe_instances(InstanceIds=[core])["Reservations"][0]["Instances"][0]
    assert node["PingStatus"] == "Online" and node["ResourceType"] == "EC2Instance"
    assert node["PlatformType"] == "Linux" and node["IsLatestVersion"] is True and node["AgentVersion"]
    assert node["IPAddress"] == instance["PrivateIpAddress"] and node["ComputerName"] == instance["PrivateDnsName"]
    assert node["LastPingDateTime"] and node["SourceType"] == "AWS::EC2::Instance"

    ec2.stop_instances(InstanceIds=[stopped])
    assert stopped not in _nodes(ssm)

    association = ec2.describe_iam_instance_profile_associations(Filters=[{"Name": "instance-id", "Values": [core]}])
    ec2.disassociate_iam_instance_profile(AssociationId=association["IamInstanceProfileAssociations"][0]["AssociationId"])
    nodes = _nodes(ssm)
    assert nodes[core]["PingStatus"] == "ConnectionLost" and nodes[inline]["PingStatus"] == "Online"
    assert unmanaged not in nodes and bare not in nodes


def test_describe_instance_information_filters(aws):
    """InstanceInformationFilterList (legacy: key/valueSet, no tags) and Filters
    (Key/Values, also tag:KEY and tag-key) narrow the list; using both at once is
    an error, and so is an instance id that is not valid.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationFilter.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationStringFilter.html
    """
    ec2, iam, ssm = aws("ec2"), aws("iam"), aws("ssm")
    profile = _profile(iam, [SSM_CORE])
    lab = _run(ec2, profile, {"irlab:lab": "t1"})
    other = _run(ec2, profile, {"team": "blue"})
    managed(ssm, lab, other)
    assert set(_nodes(ssm, InstanceInformationFilterList=[{"key": "InstanceIds", "valueSet": [lab]}])) == {lab}
    assert set(_nodes(ssm, InstanceInformationFilterList=[{"key": "PingStatus", "valueSet": ["Online"]}])) == {lab, other}
    assert set(_nodes(ssm, Filters=[{"Key": "InstanceIds", "Values": [other]}])) == {other}
    assert set(_nodes(ssm, Filters=[{"Key": "tag:irlab:lab", "Values": ["t1"]}])) == {lab}
    assert set(_nodes(ssm, Filters=[{"Key": "tag-key", "Values": ["team"]}])) == {other}
    assert set(_nodes(ssm, Filters=[{"Key": "PingStatus", "Values": ["ConnectionLost"]}])) == set()
    with pytest.raises(ClientError):
        ssm.describe_instance_information(
            InstanceInformationFilterList=[{"key": "InstanceIds", "valueSet": [lab]}],
            Filters=[{"Key": "InstanceIds", "Values": [lab]}],
        )
    with pytest.raises(ClientError) as err:
        ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": ["i-0000000000000dead"]}])
    assert err.value.response["Error"]["Code"] == "InvalidInstanceId"


def test_send_command_targets_only_the_requested_managed_nodes(aws):
    """SendCommand runs on the managed nodes named in InstanceIds, or selected
    by Targets (Key InstanceIds or tag:KEY) - not on every instance of the
    Region; a node that is not a managed node gives InvalidInstanceId.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Target.html
    """
    ec2, iam, ssm = aws("ec2"), aws("iam"), aws("ssm")
    profile = _profile(iam, [SSM_CORE])
    first = _run(ec2, profile, {"irlab:lab": "t1"})
    second = _run(ec2, profile)
    unmanaged = _run(ec2)
    managed(ssm, first, second)
    command = ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[first], Parameters={"commands": ["uptime"]})["Command"]
    assert command["InstanceIds"] == [first] and command["TargetCount"] == 1
    by_tag = ssm.send_command(
        DocumentName="AWS-RunShellScript", Targets=[{"Key": "tag:irlab:lab", "Values": ["t1"]}], Parameters={"commands": ["uptime"]}
    )["Command"]
    assert by_tag["InstanceIds"] == [first] and by_tag["Targets"] == [{"Key": "tag:irlab:lab", "Values": ["t1"]}]
    invocations = ssm.list_command_invocations(CommandId=command["CommandId"])["CommandInvocations"]
    assert [i["InstanceId"] for i in invocations] == [first]
    assert second not in command["InstanceIds"]
    with pytest.raises(ClientError) as err:
        ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[unmanaged], Parameters={"commands": ["uptime"]})
    assert err.value.response["Error"]["Code"] == "InvalidInstanceId"
