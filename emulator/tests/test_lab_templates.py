"""The lab's real templates (stacks/shared.yaml, stacks/detection.yaml,
stacks/victim.yaml) deployed and deleted on the stand-in, with their effects
checked directly."""

from __future__ import annotations

import ast
import json
from urllib.parse import unquote

import pytest

import lab_stacks
from conftest import ACCOUNT_ID, REPO_ROOT, create_stack, physical_ids, stack_events, wait_idle

DETECTION = REPO_ROOT / "stacks" / "detection.yaml"
VICTIM = REPO_ROOT / "stacks" / "victim.yaml"
TAGS = [{"Key": "irlab:lab", "Value": "t1"}]

pytestmark = pytest.mark.skipif(
    not (DETECTION.exists() and VICTIM.exists()), reason="the lab templates are not in stacks/"
)


def _outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _tags(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


def test_lab_stacks_deploy_and_leave_nothing_behind(aws, emulator):
    """The region's shared stack (stack tag irlab:part=shared), then both lab
    stacks, created with LabName=t1 and the stack tag irlab:lab=t1, do what the
    templates declare (as AWS would, per the resource reference pages cited in
    the other tests): the shared trail exists and logs, its bucket has the
    policy; the lab's subnet is a /24 of the shared VPC on its public route
    table; the audit log group /irlab/t1/audit keeps 30 days; the audit
    recorder (python3.13, 128 MB, its log in that group, 2 async retries) may
    only create streams in and put events to that group, may be invoked by the
    alert topic only, and is the topic's lambda subscriber: a published alert
    and an EventBridge event it is given each become one JSON line in the
    group (the SNS envelope; the event unchanged); the victim carries only the
    app group (IMDSv2 required, encrypted root volume), the quarantine group
    has no ingress and only the 127.0.0.1/32 egress rule, the instance profile
    is associated. Deleting the lab's stacks, then the shared one, removes every
    resource (DELETE_COMPLETE, by stack id), the log group, function and role
    included.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudtrail-trail.html
    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html
    https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-securitygroup.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
    """
    cf = aws("cloudformation")
    ec2, s3, ct, sns, sqs, iam = (aws(s) for s in ("ec2", "s3", "cloudtrail", "sns", "sqs", "iam"))
    logs, lam = aws("logs"), aws("lambda")

    s_out = lab_stacks.shared(cf)
    detection = create_stack(cf, "irlab-t1-detection", DETECTION.read_text(), {"LabName": "t1"}, Tags=TAGS)
    assert detection["StackStatus"] == "CREATE_COMPLETE", detection.get("StackStatusReason")
    victim = create_stack(cf, "irlab-t1-victim", VICTIM.read_text(), lab_stacks.victim_parameters(cf, "t1", 7), Tags=TAGS)
    assert victim["StackStatus"] == "CREATE_COMPLETE", victim.get("StackStatusReason")
    d_out, v_out = _outputs(detection), _outputs(victim)
    s_ids = physical_ids(cf, lab_stacks.SHARED_STACK)
    d_ids, v_ids = physical_ids(cf, "irlab-t1-detection"), physical_ids(cf, "irlab-t1-victim")
    for stack_name, ids in (("irlab-t1-detection", d_ids), ("irlab-t1-victim", v_ids), (lab_stacks.SHARED_STACK, s_ids)):
        completed = {
            e["LogicalResourceId"] for e in stack_events(cf, stack_name) if e["ResourceStatus"] == "CREATE_COMPLETE"
        }
        assert set(ids) <= completed

    # --- shared parts
    trail_arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/irlab-shared-us-east-1"
    assert s_out["TrailName"] == "irlab-shared-us-east-1" and s_out["TrailArn"] == trail_arn
    trail = ct.describe_trails(trailNameList=["irlab-shared-us-east-1"])["trailList"][0]
    assert trail["S3BucketName"] == s_out["TrailBucketName"]
    assert trail["IsMultiRegionTrail"] and trail["LogFileValidationEnabled"] and trail["IncludeGlobalServiceEvents"]
    assert ct.get_trail_status(Name="irlab-shared-us-east-1")["IsLogging"] is True
    bucket = s_out["TrailBucketName"]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {"DenyInsecureTransport", "AWSCloudTrailAclCheck", "AWSCloudTrailWrite"}
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    bucket_tags = _tags(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
    assert bucket_tags["irlab:part"] == "shared" and "irlab:lab" not in bucket_tags
    vpc = ec2.describe_vpcs(VpcIds=[s_out["VpcId"]])["Vpcs"][0]
    assert vpc["CidrBlock"] == s_out["VpcCidr"] == "10.42.0.0/16"
    # the TLS-only statement does not lock the stand-in's clients out
    s3.put_object(Bucket=bucket, Key=f"AWSLogs/{ACCOUNT_ID}/probe.txt", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key=f"AWSLogs/{ACCOUNT_ID}/probe.txt")["Body"].read() == b"x"

    topic = d_out["AlertTopicArn"]
    recorder = d_out["AuditRecorderArn"]
    group = d_out["AuditLogGroupName"]
    assert "events.amazonaws.com" in sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("lambda", recorder)]

    [log_group] = logs.describe_log_groups(logGroupNamePrefix="/irlab/")["logGroups"]
    assert log_group["logGroupName"] == group == "/irlab/t1/audit" and log_group["retentionInDays"] == 30
    assert "kmsKeyId" not in log_group  # CloudWatch Logs' own encryption at rest
    assert logs.list_tags_for_resource(resourceArn=log_group["arn"].removesuffix(":*"))["tags"]["irlab:lab"] == "t1"
    config = lam.get_function_configuration(FunctionName=recorder)
    assert config["FunctionName"] == "irlab-t1-audit-recorder" and config["Runtime"] == "python3.13"
    assert config["MemorySize"] == 128 and config["Timeout"] <= 30
    assert config["LoggingConfig"]["LogGroup"] == group and config["LoggingConfig"]["LogFormat"] == "Text"
    assert lam.get_function_event_invoke_config(FunctionName=recorder)["MaximumRetryAttempts"] == 2
    role_name = config["Role"].rsplit("/", 1)[1]
    assert iam.get_role(RoleName=role_name)["Role"]["Path"] == "/irlab/t1/us-east-1/"
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    documents = [
        iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    ]
    # boto3 decodes AWS's URL-encoded JSON document. moto 5.2.5 answers with
    # the Python repr of a role's inline policy created by CloudFormation (a
    # stand-in bug, not this template's), hence the literal_eval fallback.
    statements = [
        st
        for d in documents
        for st in (d if isinstance(d, dict) else ast.literal_eval(unquote(d)))["Statement"]
    ]
    assert [(st["Effect"], sorted(st["Action"]), st["Resource"]) for st in statements] == [
        ("Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], log_group["arn"])
    ]
    permissions = json.loads(lam.get_policy(FunctionName=recorder)["Policy"])["Statement"]
    assert [(p["Principal"], p["Condition"]["ArnLike"]["AWS:SourceArn"]) for p in permissions] == [
        ({"Service": "sns.amazonaws.com"}, topic)
    ]

    published = sns.publish(TopicArn=topic, Subject="irlab t1: probe", Message="incident summary\nsecond line")["MessageId"]
    event = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "GuardDuty Finding",
        "source": "irlab.simulation",
        "account": ACCOUNT_ID,
        "time": "2026-11-28T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"id": "probe-finding", "type": "UnauthorizedAccess:EC2/TorClient"},
    }
    invoked = lam.invoke(FunctionName=recorder, Payload=json.dumps(event).encode())
    assert "FunctionError" not in invoked, invoked["Payload"].read()
    wait_idle(emulator.endpoint)
    lines = [e["message"].rstrip("\n") for e in logs.filter_log_events(logGroupName=group)["events"]]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert all("\n" not in line for line in lines)  # one record, one line: the newline is escaped
    notification = next(r for r in records if r.get("Type") == "Notification")
    assert notification["MessageId"] == published and notification["TopicArn"] == topic
    assert notification["Message"] == "incident summary\nsecond line" and notification["Subject"] == "irlab t1: probe"
    assert event in records and len(records) == 2
    # selectively: the finding id as a quoted term
    [hit] = logs.filter_log_events(logGroupName=group, filterPattern='"probe-finding"')["events"]
    assert json.loads(hit["message"]) == event
    # anything else is an error, not a record
    refused = lam.invoke(FunctionName=recorder, Payload=b'{"hello": "world"}')
    assert refused.get("FunctionError") == "Unhandled"
    assert len([e for e in logs.filter_log_events(logGroupName=group)["events"] if e["message"].startswith("{")]) == 2

    # --- victim
    instance = ec2.describe_instances(InstanceIds=[v_out["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [v_out["AppSecurityGroupId"]]
    assert [[g["GroupId"] for g in n["Groups"]] for n in instance["NetworkInterfaces"]] == [[v_out["AppSecurityGroupId"]]]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["SubnetId"] == v_out["SubnetId"] and v_out["VpcId"] == s_out["VpcId"]
    subnet = ec2.describe_subnets(SubnetIds=[v_out["SubnetId"]])["Subnets"][0]
    assert subnet["MapPublicIpOnLaunch"] is True and instance.get("PublicIpAddress")
    assert subnet["CidrBlock"] == "10.42.7.0/24"
    assert _tags(subnet["Tags"])["irlab:lab"] == "t1"
    assert _tags(instance["Tags"])["irlab:lab"] == "t1"
    root = ec2.describe_volumes(VolumeIds=[instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]])["Volumes"][0]
    assert root["Encrypted"] is True and root["Size"] == 8 and root["VolumeType"] == "gp3"
    quarantine = ec2.describe_security_groups(GroupIds=[v_out["QuarantineSecurityGroupId"]])["SecurityGroups"][0]
    assert quarantine["IpPermissions"] == []
    # outbound only HTTPS to the shared Systems Manager endpoints' group (the default allow-all rule is gone)
    assert [
        (r["IpProtocol"], r.get("FromPort"), r.get("ToPort"), r["IpRanges"], [p["GroupId"] for p in r["UserIdGroupPairs"]])
        for r in quarantine["IpPermissionsEgress"]
    ] == [("tcp", 443, 443, [], [s_out["EndpointSecurityGroupId"]])]
    app = ec2.describe_security_groups(GroupIds=[v_out["AppSecurityGroupId"]])["SecurityGroups"][0]
    assert app["IpPermissions"] == []
    assert [(r["IpProtocol"], [x["CidrIp"] for x in r["IpRanges"]]) for r in app["IpPermissionsEgress"]] == [
        ("-1", ["0.0.0.0/0"])
    ]
    associations = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [v_out["InstanceId"]]}]
    )["IamInstanceProfileAssociations"]
    assert [a["IamInstanceProfile"]["Arn"] for a in associations] == [v_out["InstanceProfileArn"]]
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=v_out["InstanceRoleName"])["AttachedPolicies"]] == [
        "AmazonSSMManagedInstanceCore"
    ]
    table = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [v_out["SubnetId"]]}])
    assert s_out["RouteTableId"] == s_ids["PublicRouteTable"]
    assert [t["RouteTableId"] for t in table["RouteTables"]] == [s_out["RouteTableId"]]

    # --- teardown: the lab's stacks, then the shared parts; every resource goes
    victim_id, detection_id = victim["StackId"], detection["StackId"]
    shared_id = cf.describe_stacks(StackName=lab_stacks.SHARED_STACK)["Stacks"][0]["StackId"]
    cf.delete_stack(StackName="irlab-t1-victim")
    cf.delete_stack(StackName="irlab-t1-detection")
    # As `irlab down` does: the trail stops logging before its bucket is emptied, or a log file
    # delivered in between (about every 5 minutes, at the service scale) leaves the bucket not
    # empty, and CloudFormation cannot delete it (DELETE_FAILED).
    ct.stop_logging(Name=s_out["TrailName"])
    s3.delete_object(Bucket=bucket, Key=f"AWSLogs/{ACCOUNT_ID}/probe.txt")
    versions = s3.list_object_versions(Bucket=bucket)
    objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    cf.delete_stack(StackName=lab_stacks.SHARED_STACK)
    for stack_id in (victim_id, detection_id, shared_id):
        stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
        assert stack["StackStatus"] == "DELETE_COMPLETE", stack.get("StackStatusReason")
    assert [s["StackName"] for s in cf.describe_stacks()["Stacks"]] == []

    assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    # the default VPC keeps its own internet gateway, as in AWS
    default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]}
    assert [
        g for g in ec2.describe_internet_gateways()["InternetGateways"]
        if not {a["VpcId"] for a in g["Attachments"]} & default_vpcs
    ] == []
    assert [t for t in ec2.describe_route_tables()["RouteTables"] if t["VpcId"] == v_out["VpcId"]] == []
    assert [s for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] == v_out["VpcId"]] == []
    assert [g for g in ec2.describe_security_groups()["SecurityGroups"] if g.get("VpcId") == v_out["VpcId"]] == []
    assert {i["State"]["Name"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]} == {"terminated"}
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
    assert ec2.describe_volumes()["Volumes"] == []
    assert ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"] == []
    assert iam.list_roles(PathPrefix="/irlab/")["Roles"] == []
    assert iam.list_instance_profiles(PathPrefix="/irlab/")["InstanceProfiles"] == []
    assert ct.describe_trails()["trailList"] == []
    # the test's own bucket of staged templates (conftest.template_source) is not the stacks'
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] in ([], ["irlab-test-templates"])
    assert sns.list_topics()["Topics"] == [] and sns.list_subscriptions()["Subscriptions"] == []
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert logs.describe_log_groups()["logGroups"] == []
    assert lam.list_functions()["Functions"] == []


def test_detection_stack_with_notify_email(aws):
    """With NotifyEmail set, the HasNotifyEmail condition adds the email
    subscription to the alert topic (Conditions section: the resource is created
    only when its condition is true).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/conditions-section-structure.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sns-subscription.html
    """
    cf, sns = aws("cloudformation"), aws("sns")
    stack = create_stack(
        cf, "irlab-t2-detection", DETECTION.read_text(), {"LabName": "t2", "NotifyEmail": "soc@example.com"}, Tags=TAGS
    )
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=_outputs(stack)["AlertTopicArn"])["Subscriptions"]
    assert sorted(s["Protocol"] for s in subscriptions) == ["email", "lambda"]
    assert "AlertEmailSubscription" in physical_ids(cf, "irlab-t2-detection")


# The playbooks and the detection stack go by TemplateURL when they outgrow a request body
# (irlab stages them in the lab's prefix of the shared bucket: src/lab/stacks.rs
# stage_template, after the shared stack is up); the other templates are sent in the request
# itself (and org-lab.yaml in CreateStackSet's body).
STAGED = {"detection.yaml", "playbook-lambda.yaml", "playbook-stepfunctions.yaml", "playbook-ssm.yaml"}


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "stacks").glob("*.yaml")), ids=lambda p: p.name)
def test_lab_templates_fit_in_a_create_stack_request(path):
    """A TemplateBody is at most 51,200 bytes, a template read from S3 by TemplateURL at most
    1 MB; a bigger one is refused by CloudFormation before anything is created.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
    """
    size = len(path.read_bytes())
    assert size <= (1_048_576 if path.name in STAGED else 51_200), f"{path.name}: {size} bytes"
