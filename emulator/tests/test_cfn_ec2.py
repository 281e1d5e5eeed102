"""EC2 behaviour of CloudFormation stacks (extensions 2, 3 and part of 4)."""

from __future__ import annotations

from conftest import create_stack, physical_ids, template, unique


def _outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _instance(ec2, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def test_instance_security_group_ids_are_exactly_the_groups_of_its_primary_interface(aws):
    """AWS::EC2::Instance ``SecurityGroupIds``: "The IDs of the security groups";
    the instance's (primary) network interface is created with exactly those
    groups - not the VPC default group and not any other group of the stack.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html#cfn-ec2-instance-securitygroupids
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = unique("net")
    stack = create_stack(cf, name, template("network.yaml"))
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    ids = physical_ids(cf, name)
    instance = _instance(ec2, ids["Instance"])
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [ids["AppSg"]]
    assert len(instance["NetworkInterfaces"]) == 1
    eni = instance["NetworkInterfaces"][0]
    assert [g["GroupId"] for g in eni["Groups"]] == [ids["AppSg"]]
    assert eni["Attachment"]["DeleteOnTermination"] is True


def test_instance_profile_produces_an_association(aws):
    """AWS::EC2::Instance ``IamInstanceProfile`` launches the instance with the
    profile; EC2 reports it as an instance profile association (state
    ``associated``) in DescribeIamInstanceProfileAssociations.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html#cfn-ec2-instance-iaminstanceprofile
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeIamInstanceProfileAssociations.html
    """
    cf, ec2, iam = aws("cloudformation"), aws("ec2"), aws("iam")
    name = unique("net")
    create_stack(cf, name, template("network.yaml"))
    ids = physical_ids(cf, name)
    associations = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [ids["Instance"]]}]
    )["IamInstanceProfileAssociations"]
    assert len(associations) == 1
    assert associations[0]["State"] == "associated"
    profile_arn = iam.get_instance_profile(InstanceProfileName=ids["Profile"])["InstanceProfile"]["Arn"]
    assert associations[0]["IamInstanceProfile"]["Arn"] == profile_arn
    assert _instance(ec2, ids["Instance"])["IamInstanceProfile"]["Arn"] == profile_arn


def test_security_group_egress_replaces_the_default_rule(aws):
    """AWS::EC2::SecurityGroup: "When you create a VPC security group, Amazon EC2
    creates a default egress rule that allows egress traffic on all ports and IP
    protocols to any location. The default rule is removed only when you specify
    one or more egress rules." The documented way to leave no usable egress is a
    single rule to 127.0.0.1/32; an empty ``SecurityGroupEgress`` list specifies
    no rule, so the default allow-all rule stays.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-securitygroup.html
    (example "Remove Default Rule"; same text in the CloudFormation user guide source,
    doc_source/aws-properties-ec2-security-group.md)
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = unique("net")
    create_stack(cf, name, template("network.yaml"))
    ids = physical_ids(cf, name)
    groups = {
        g["GroupId"]: g
        for g in ec2.describe_security_groups(
            GroupIds=[ids["QuarantineSg"], ids["EmptyEgressSg"], ids["AppSg"]]
        )["SecurityGroups"]
    }
    quarantine = groups[ids["QuarantineSg"]]
    assert quarantine["IpPermissions"] == []
    assert len(quarantine["IpPermissionsEgress"]) == 1
    rule = quarantine["IpPermissionsEgress"][0]
    assert rule["IpProtocol"] == "-1"
    assert [r["CidrIp"] for r in rule["IpRanges"]] == ["127.0.0.1/32"]

    empty = groups[ids["EmptyEgressSg"]]
    assert [(r["IpProtocol"], [x["CidrIp"] for x in r["IpRanges"]]) for r in empty["IpPermissionsEgress"]] == [
        ("-1", ["0.0.0.0/0"])
    ]

    app = groups[ids["AppSg"]]
    assert [(r["IpProtocol"], [x["CidrIp"] for x in r["IpRanges"]]) for r in app["IpPermissionsEgress"]] == [
        ("-1", ["0.0.0.0/0"])
    ]
    ingress = app["IpPermissions"]
    assert len(ingress) == 1 and ingress[0]["FromPort"] == 443
    assert ingress[0]["IpRanges"] == [{"CidrIp": "10.60.0.0/16", "Description": "https from the vpc"}]


def test_subnet_route_table_association_associates(aws):
    """AWS::EC2::SubnetRouteTableAssociation "Associates a subnet with a route
    table ... This association causes traffic originating from the subnet to be
    routed according to the routes in the route table"; ``Ref`` returns the ID of
    the subnet route table association.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-subnetroutetableassociation.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = unique("net")
    stack = create_stack(cf, name, template("network.yaml"))
    ids = physical_ids(cf, name)
    table = ec2.describe_route_tables(RouteTableIds=[ids["RouteTable"]])["RouteTables"][0]
    explicit = [a for a in table["Associations"] if not a.get("Main")]
    assert [(a["SubnetId"], a["RouteTableAssociationId"]) for a in explicit] == [
        (ids["Subnet"], ids["SubnetRta"])
    ]
    assert _outputs(stack)["AssociationId"] == ids["SubnetRta"]
    by_subnet = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [ids["Subnet"]]}])
    assert [t["RouteTableId"] for t in by_subnet["RouteTables"]] == [ids["RouteTable"]]
    routes = {r.get("DestinationCidrBlock"): r.get("GatewayId") for r in table["Routes"]}
    assert routes["0.0.0.0/0"] == ids["Igw"]


def test_instance_honours_launch_template_metadata_options_and_encrypted_volumes(aws):
    """AWS::EC2::Instance ``LaunchTemplate`` (LaunchTemplateId + Version): the
    instance is launched with the template's parameters - here IMDSv2
    (``MetadataOptions.HttpTokens: required``: "IMDSv2 is required") and an
    encrypted EBS root volume (``BlockDeviceMappings[].Ebs.Encrypted``), and its
    InstanceType; EC2 adds the aws:ec2launchtemplate:id/version tags.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html#cfn-ec2-instance-launchtemplate
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ec2-launchtemplate-metadataoptions.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-launch-templates.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = unique("lt")
    stack = create_stack(cf, name, template("launch_template.yaml"))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    ids = physical_ids(cf, name)
    instance = _instance(ec2, ids["FromTemplate"])
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert instance["InstanceType"] == "t4g.micro"
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [ids["SgA"]]
    volume_ids = [m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"]]
    assert [m["DeviceName"] for m in instance["BlockDeviceMappings"]] == ["/dev/xvda"]
    volumes = ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"]
    assert [(v["Encrypted"], v["Size"], v["VolumeType"]) for v in volumes] == [(True, 10, "gp3")]
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["aws:ec2launchtemplate:id"] == ids["Template"]


def test_instance_metadata_options_and_block_devices_on_the_instance(aws):
    """AWS::EC2::Instance ``MetadataOptions`` ("Specifies the metadata options
    for the instance", ``HttpTokens: required`` = IMDSv2 required) and
    ``BlockDeviceMappings`` with ``Ebs.Encrypted: true`` given on the instance
    itself; ``PropagateTagsToVolumeOnCreation`` assigns the instance's tags to
    the volumes attached at launch.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ec2-instance-metadataoptions.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html#cfn-ec2-instance-propagatetagstovolumeoncreation
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    body = """
Parameters:
  Ami: {Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", Default: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64}
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.62.0.0/16}}
  Subnet: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.62.0.0/24}}
  Instance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: !Ref Ami
      InstanceType: t3.micro
      SubnetId: !Ref Subnet
      MetadataOptions: {HttpTokens: required, HttpEndpoint: enabled}
      BlockDeviceMappings:
        - {DeviceName: /dev/xvda, Ebs: {VolumeType: gp3, VolumeSize: 8, Encrypted: true, DeleteOnTermination: true}}
      PropagateTagsToVolumeOnCreation: true
      Tags: [{Key: Name, Value: victim}]
"""
    name = unique("md")
    assert create_stack(cf, name, body)["StackStatus"] == "CREATE_COMPLETE"
    ids = physical_ids(cf, name)
    instance = _instance(ec2, ids["Instance"])
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    # no SecurityGroupIds: the VPC's default group
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [ids["Vpc"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [default["GroupId"]]
    volume = ec2.describe_volumes(VolumeIds=[instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]])["Volumes"][0]
    assert volume["Encrypted"] is True
    assert {"Key": "Name", "Value": "victim"} in volume["Tags"]


def test_instance_network_interfaces_group_set(aws):
    """AWS::EC2::Instance ``NetworkInterfaces[].GroupSet``: "The IDs of the
    security groups for the network interface" - the interface carries exactly
    those groups.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ec2-instance-networkinterface.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    name = unique("lt")
    create_stack(cf, name, template("launch_template.yaml"))
    ids = physical_ids(cf, name)
    instance = _instance(ec2, ids["WithInterfaces"])
    assert instance["SubnetId"] == ids["Subnet"]
    assert [[g["GroupId"] for g in n["Groups"]] for n in instance["NetworkInterfaces"]] == [[ids["SgB"]]]
