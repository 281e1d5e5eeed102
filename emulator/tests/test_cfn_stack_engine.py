"""Stack engine behaviour: events, ordering, failure, deletion (extensions 4, 5)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import create_stack, physical_ids, resource_events, stack_events, template, unique

NETWORK_RESOURCES = [
    "Vpc", "Igw", "IgwAttach", "Subnet", "RouteTable", "DefaultRoute", "SubnetRta",
    "AppSg", "OtherSg", "QuarantineSg", "EmptyEgressSg", "Role", "Profile", "Instance",
]


def test_describe_stack_events_has_an_event_per_resource_status_change(aws):
    """DescribeStackEvents "Returns all stack related events for a specified
    stack in reverse chronological order": besides the stack's own events, one
    event per resource status change (CREATE_IN_PROGRESS, CREATE_COMPLETE, ...)
    with LogicalResourceId, PhysicalResourceId, ResourceType, Timestamp,
    EventId, StackId and StackName.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackEvent.html
    """
    cf = aws("cloudformation")
    name = unique("events")
    stack = create_stack(cf, name, template("network.yaml"))
    events = stack_events(cf, name)
    timestamps = [e["Timestamp"] for e in events]
    assert timestamps == sorted(timestamps, reverse=True)  # newest first
    assert events[0]["LogicalResourceId"] == name and events[0]["ResourceStatus"] == "CREATE_COMPLETE"
    assert events[-1]["LogicalResourceId"] == name and events[-1]["ResourceStatus"] == "CREATE_IN_PROGRESS"
    assert len({e["EventId"] for e in events}) == len(events)
    ids = physical_ids(cf, name)
    for logical_id in NETWORK_RESOURCES:
        statuses = resource_events(cf, name, logical_id)
        assert statuses[0] == "CREATE_IN_PROGRESS" and statuses[-1] == "CREATE_COMPLETE", (logical_id, statuses)
        complete = next(
            e for e in events if e["LogicalResourceId"] == logical_id and e["ResourceStatus"] == "CREATE_COMPLETE"
        )
        assert complete["PhysicalResourceId"] == ids[logical_id] != ""
        assert complete["StackId"] == stack["StackId"] and complete["StackName"] == name
        assert complete["ResourceType"].startswith("AWS::")
    # dependencies complete before their dependents start
    oldest_first = list(reversed(events))

    def index(logical_id: str, status: str) -> int:
        return next(
            i for i, e in enumerate(oldest_first)
            if e["LogicalResourceId"] == logical_id and e["ResourceStatus"] == status
        )

    assert index("Vpc", "CREATE_COMPLETE") < index("Subnet", "CREATE_IN_PROGRESS")
    assert index("IgwAttach", "CREATE_COMPLETE") < index("DefaultRoute", "CREATE_IN_PROGRESS")
    assert index("Profile", "CREATE_COMPLETE") < index("Instance", "CREATE_IN_PROGRESS")
    summaries = cf.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert {s["LogicalResourceId"]: s["ResourceStatus"] for s in summaries} == {
        r: "CREATE_COMPLETE" for r in NETWORK_RESOURCES
    }
    detail = cf.describe_stack_resource(StackName=name, LogicalResourceId="Instance")["StackResourceDetail"]
    assert detail["PhysicalResourceId"] == ids["Instance"] and detail["ResourceType"] == "AWS::EC2::Instance"


def test_stack_delete_removes_everything_in_reverse_dependency_order(aws):
    """"If the properties of resource A use a !Ref to resource B ... Resource A is
    deleted before resource B" (DependsOn attribute). Deleting the stack removes
    every resource (instances end terminated) and leaves the stack
    DELETE_COMPLETE, visible only by stack id: "Deleted stacks: You must specify
    the unique stack ID."
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
    """
    cf, ec2, iam = aws("cloudformation"), aws("ec2"), aws("iam")
    name = unique("del")
    stack_id = create_stack(cf, name, template("network.yaml"))["StackId"]
    ids = physical_ids(cf, name)
    cf.delete_stack(StackName=name)

    stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError) as err:
        cf.describe_stacks(StackName=name)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "does not exist" in err.value.response["Error"]["Message"]

    oldest_first = list(reversed(stack_events(cf, stack_id)))
    deleted = [e["LogicalResourceId"] for e in oldest_first if e["ResourceStatus"] == "DELETE_COMPLETE"]
    assert sorted(deleted[:-1]) == sorted(NETWORK_RESOURCES) and deleted[-1] == name
    position = {logical_id: i for i, logical_id in enumerate(deleted)}
    for first, then in [
        ("Instance", "Subnet"), ("Instance", "AppSg"), ("Instance", "Profile"), ("Profile", "Role"),
        ("SubnetRta", "RouteTable"), ("DefaultRoute", "IgwAttach"), ("IgwAttach", "Igw"),
        ("Subnet", "Vpc"), ("AppSg", "Vpc"), ("RouteTable", "Vpc"), ("IgwAttach", "Vpc"),
    ]:
        assert position[first] < position[then], (first, then)

    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    # the default VPC keeps its own internet gateway, as in AWS
    default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]}
    assert [
        g for g in ec2.describe_internet_gateways()["InternetGateways"]
        if not {a["VpcId"] for a in g["Attachments"]} & default_vpcs
    ] == []
    assert [t for t in ec2.describe_route_tables()["RouteTables"] if t["VpcId"] == ids["Vpc"]] == []
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [ids["Vpc"]]}])["Subnets"] == []
    assert ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [ids["Vpc"]]}])["SecurityGroups"] == []
    states = [
        i["State"]["Name"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
    ]
    assert states == ["terminated"]
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
    assert ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"] == []
    assert [r for r in iam.list_roles()["Roles"] if r["RoleName"] == ids["Role"]] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []
    summaries = cf.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    assert {s["ResourceStatus"] for s in summaries} == {"DELETE_COMPLETE"}


def test_delete_stack_while_it_is_being_deleted_starts_nothing_more(aws, monkeypatch):
    """Several callers deleting one stack at once (the last labs of a class
    leaving together) get one deletion: DeleteStack on a stack already being
    deleted is accepted - its only documented error is
    TokenAlreadyExistsException - and the deletion under way goes on to
    DELETE_COMPLETE.  moto ran a second deletion of the same resources beside
    the first, which failed on what the first had removed and left the stack
    DELETE_FAILED.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
    """
    import time
    from concurrent.futures import ThreadPoolExecutor

    from moto.cloudformation.parsing import ResourceMap

    cf = aws("cloudformation")
    name = unique("deltwice")
    stack_id = create_stack(cf, name, template("network.yaml"))["StackId"]
    # The stand-in runs in this process: its deletions take half a second before they start, so
    # the other calls arrive while the first one is under way, as they do at a class's end.
    delete = ResourceMap.delete

    def slow_delete(self, *args, **kwargs):
        time.sleep(0.5)
        return delete(self, *args, **kwargs)

    monkeypatch.setattr(ResourceMap, "delete", slow_delete)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: cf.delete_stack(StackName=stack_id), range(8)))
    assert len(answers) == 8  # every call accepted
    stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_COMPLETE", stack.get("StackStatusReason")
    statuses = [e["ResourceStatus"] for e in stack_events(cf, stack_id) if e["LogicalResourceId"] == name]
    assert statuses.count("DELETE_IN_PROGRESS") == 1 and "DELETE_FAILED" not in statuses, statuses


def test_failed_resource_delete_leaves_stack_delete_failed(aws):
    """A bucket must be empty - all objects, object versions and delete markers -
    before it can be deleted ("The bucket you tried to delete is not empty").
    When a resource cannot be deleted, CloudFormation marks it DELETE_FAILED
    with the reason and the stack DELETE_FAILED, keeps the stack (still found by
    name), and a later DeleteStack retries.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html (stack status codes: DELETE_FAILED)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html ("Retaining
    resources is useful when you can't delete a resource, such as a non-empty S3 bucket")
    """
    cf, s3 = aws("cloudformation"), aws("s3")
    body = """
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {VersioningConfiguration: {Status: Enabled}}
  Topic:
    Type: AWS::SNS::Topic
"""
    name = unique("delfail")
    create_stack(cf, name, body)
    bucket = physical_ids(cf, name)["Bucket"]
    s3.put_object(Bucket=bucket, Key="evidence.txt", Body=b"one")
    s3.delete_object(Bucket=bucket, Key="evidence.txt")  # leaves a version and a delete marker

    cf.delete_stack(StackName=name)
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Bucket]. "
    failed = next(
        e for e in stack_events(cf, name) if e["LogicalResourceId"] == "Bucket" and e["ResourceStatus"] == "DELETE_FAILED"
    )
    assert "The bucket you tried to delete is not empty" in failed["ResourceStatusReason"]
    assert resource_events(cf, name, "Topic")[-1] == "DELETE_COMPLETE"
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    versions = s3.list_object_versions(Bucket=bucket)
    objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    assert len(objects) == 2
    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    stack_id = stack["StackId"]
    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_create_failure_rolls_back(aws):
    """When a resource fails to create, CloudFormation records CREATE_FAILED with
    the ResourceStatusReason and, by default (OnFailure ROLLBACK), rolls the
    stack back: ROLLBACK_IN_PROGRESS, every created resource deleted,
    ROLLBACK_COMPLETE. With OnFailure DO_NOTHING the stack stays CREATE_FAILED
    and keeps what it created.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html (OnFailure, DisableRollback)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    body = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.70.0.0/16}}
  Broken:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.99.0.0/24}
"""
    name = unique("rb")
    stack = create_stack(cf, name, body)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    statuses = resource_events(cf, name, "Broken")
    assert statuses == ["CREATE_IN_PROGRESS", "CREATE_FAILED", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    failed = next(
        e for e in stack_events(cf, name) if e["LogicalResourceId"] == "Broken" and e["ResourceStatus"] == "CREATE_FAILED"
    )
    assert "10.99.0.0/24" in failed["ResourceStatusReason"]
    stack_statuses = [e["ResourceStatus"] for e in reversed(stack_events(cf, name)) if e["LogicalResourceId"] == name]
    assert stack_statuses == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    assert resource_events(cf, name, "Vpc")[-1] == "DELETE_COMPLETE"
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.70.0.0/16"] == []

    kept = unique("keep")
    stack = create_stack(cf, kept, body, OnFailure="DO_NOTHING")
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to create: [Broken]. "
    assert len([v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.70.0.0/16"]) == 1


def test_resource_type_the_stand_in_lacks_fails_loudly(aws):
    """AWS creates every resource type of the template (here a GuardDuty
    detector). The stand-in does not implement this type; instead of silently
    skipping it (and reporting success) it fails the resource with a reason, so
    a test never passes on a resource that was not created.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-guardduty-detector.html
    """
    cf = aws("cloudformation")
    body = "Resources:\n  Detector: {Type: AWS::GuardDuty::Detector, Properties: {Enable: true}}\n"
    name = unique("unsupported")
    stack = create_stack(cf, name, body, OnFailure="DO_NOTHING")
    assert stack["StackStatus"] == "CREATE_FAILED"
    failed = next(e for e in stack_events(cf, name) if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] == "Detector")
    assert "AWS::GuardDuty::Detector" in failed["ResourceStatusReason"]


def test_deletion_policy_retain_keeps_the_resource(aws):
    """``DeletionPolicy: Retain`` - "CloudFormation keeps the resource without
    deleting the resource or its contents when its stack is deleted"; the event
    is DELETE_SKIPPED.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
    """
    cf, sqs = aws("cloudformation"), aws("sqs")
    body = "Resources:\n  Queue: {Type: AWS::SQS::Queue, DeletionPolicy: Retain}\n"
    name = unique("retain")
    stack_id = create_stack(cf, name, body)["StackId"]
    url = physical_ids(cf, name)["Queue"]
    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert resource_events(cf, stack_id, "Queue")[-1] == "DELETE_SKIPPED"
    queue_name = url.rsplit("/", 1)[1]
    assert [u.rsplit("/", 1)[1] for u in sqs.list_queues().get("QueueUrls", [])] == [queue_name]


def test_delete_failed_stack_keeps_its_outputs_and_recreates_nothing(aws):
    """A DELETE_FAILED stack is still described by name with its last outputs;
    the resources that were deleted stay deleted (only the failed one remains).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html (DELETE_FAILED)
    """
    cf, s3, ct, sns = aws("cloudformation"), aws("s3"), aws("cloudtrail"), aws("sns")
    name = unique("alerts")
    trail_name = unique("trail")
    # no DescribeStacks before the delete: nothing has read the outputs yet
    cf.create_stack(
        StackName=name,
        TemplateBody=template("alerts.yaml"),
        Parameters=[{"ParameterKey": "TrailName", "ParameterValue": trail_name}],
    )
    bucket = physical_ids(cf, name)["Bucket"]
    s3.put_object(Bucket=bucket, Key="AWSLogs/x", Body=b"x")
    cf.delete_stack(StackName=name)
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["TrailName"] == trail_name and outputs["BucketName"] == bucket
    assert ct.describe_trails()["trailList"] == []
    assert sns.list_topics()["Topics"] == []
    summaries = {s["LogicalResourceId"]: s["ResourceStatus"] for s in cf.list_stack_resources(StackName=name)["StackResourceSummaries"]}
    assert summaries["Bucket"] == "DELETE_FAILED" and summaries["Trail"] == "DELETE_COMPLETE"


def test_retain_resources_finishes_a_failed_delete(aws):
    """DeleteStack ``RetainResources``: "For stacks in the DELETE_FAILED state, a
    list of resource logical IDs that are associated with the resources you want
    to retain. During deletion, CloudFormation deletes the stack but doesn't
    delete the retained resources." (Only allowed for DELETE_FAILED stacks.)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
    """
    cf, s3 = aws("cloudformation"), aws("s3")
    name = unique("retainres")
    stack_id = create_stack(cf, name, "Resources:\n  Bucket: {Type: AWS::S3::Bucket}\n")["StackId"]
    bucket = physical_ids(cf, name)["Bucket"]
    with pytest.raises(ClientError):
        cf.delete_stack(StackName=name, RetainResources=["Bucket"])
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "DELETE_FAILED"
    cf.delete_stack(StackName=name, RetainResources=["Bucket"])
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert resource_events(cf, stack_id, "Bucket")[-1] == "DELETE_SKIPPED"
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_a_number_parameter_is_a_string_where_it_is_used(aws):
    """A Number parameter is validated as a number, but "when you use the
    parameter elsewhere in your template (for example, by using the Ref
    intrinsic function), the parameter value becomes a string", as written; a
    List<Number> becomes a list of strings. So a resource property given its
    Ref (a Lambda function's environment variable, an SSM parameter's Value)
    and an output are the string "120".
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    cf, ssm = aws("cloudformation"), aws("ssm")
    name = unique("num")
    body = f"""
Parameters:
  Budget: {{Type: Number, Default: 120, MinValue: 10, MaxValue: 600}}
  Ratio: {{Type: Number}}
  Ports: {{Type: "List<Number>"}}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: sts:AssumeRole}}]
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.13
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code: {{ZipFile: "def handler(event, context):\n    return None\n"}}
      Environment: {{Variables: {{BUDGET: !Ref Budget}}}}
  Value:
    Type: AWS::SSM::Parameter
    Properties: {{Name: /{name}/budget, Type: String, Value: !Ref Budget}}
Outputs:
  Budget: {{Value: !Ref Budget}}
  Ratio: {{Value: !Ref Ratio}}
  Ports: {{Value: !Join [";", !Ref Ports]}}
"""
    stack = create_stack(cf, name, body, {"Ratio": "0.5", "Ports": "80, 443"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {"Budget": "120", "Ratio": "0.5", "Ports": "80;443"}, outputs
    assert ssm.get_parameter(Name=f"/{name}/budget")["Parameter"]["Value"] == "120"
    function = physical_ids(cf, name)["Function"]
    assert aws("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"] == {"BUDGET": "120"}


def test_a_systems_manager_parameter_is_described_by_its_name_and_resolved_value(aws):
    """For a Systems Manager parameter type, DescribeStacks returns the
    parameter's name as ParameterValue, as it was given (or the Default), and
    what it resolved to as ResolvedValue, "returned only for Systems Manager
    parameter types in the template": so a caller that passes the parameters
    back on an update passes the name again, and the update resolves it anew.
    Other parameters have no ResolvedValue.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html
    """
    cf, ssm = aws("cloudformation"), aws("ssm")
    name = unique("image-param")
    ssm.put_parameter(Name=f"/{name}/image", Type="String", Value="ami-0123456789abcdef0")
    ssm.put_parameter(Name=f"/{name}/other", Type="String", Value="ami-0fedcba9876543210")
    body = f"""
Parameters:
  Image: {{Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", Default: /{name}/image}}
  Plain: {{Type: String}}
Resources:
  Topic: {{Type: AWS::SNS::Topic}}
Outputs:
  Image: {{Value: !Ref Image}}
"""
    stack = create_stack(cf, name, body, {"Plain": "x"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    params = {p["ParameterKey"]: p for p in stack["Parameters"]}
    assert params["Image"]["ParameterValue"] == f"/{name}/image"
    assert params["Image"]["ResolvedValue"] == "ami-0123456789abcdef0"
    assert params["Plain"] == {"ParameterKey": "Plain", "ParameterValue": "x"}
    assert stack["Outputs"][0]["OutputValue"] == "ami-0123456789abcdef0"
    # Passed back by name on an update, it resolves to what the name holds now.
    cf.update_stack(
        StackName=name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": "Image", "ParameterValue": f"/{name}/other"}, {"ParameterKey": "Plain", "ParameterValue": "x"}],
    )
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    params = {p["ParameterKey"]: p for p in stack["Parameters"]}
    assert (params["Image"]["ParameterValue"], params["Image"]["ResolvedValue"]) == (f"/{name}/other", "ami-0fedcba9876543210")
