"""CloudTrail's record of API calls (patches/cloudtrail_events.py): event
history through LookupEvents, and the log files a logging trail delivers."""

from __future__ import annotations

import datetime
import gzip
import json
import re
import time
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, create_stack, eventually, template, unique

LOOKUP = "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html"
RECORD = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html"
IDENTITY = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html"
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"})


def _client(emulator: Any, service: str, key: str, secret: str, token: str | None = None, region: str = REGION) -> Any:
    return boto3.client(
        service,
        endpoint_url=emulator.endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=CONFIG,
    )


def _events(ct: Any, **kwargs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in ct.get_paginator("lookup_events").paginate(**kwargs):
        found.extend(page["Events"])
    return found


def _named(ct: Any, name: str) -> list[dict[str, Any]]:
    """Events of ``name``, newest first, each with its record parsed as ``Record``."""
    events = _events(ct, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
    for event in events:
        event["Record"] = json.loads(event["CloudTrailEvent"])
    return events


def _user(aws: Any, emulator: Any, name: str, region: str = REGION) -> tuple[str, Any]:
    """An IAM user allowed everything, and a client factory with its key."""
    iam = aws("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="all",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], lambda service, r=region: _client(emulator, service, key["AccessKeyId"], key["SecretAccessKey"], region=r)


def _role_session(aws: Any, emulator: Any, role: str, session: str, policy: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    iam, sts = aws("iam"), aws("sts")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="p",
        PolicyDocument=json.dumps(policy or {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
    return creds, lambda service, r=REGION: _client(
        emulator, service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], region=r
    )


def test_calls_recorded_in_their_account_and_region_with_the_users_identity(aws, emulator):
    """Every management API call is an event in the account and Region it was
    made in: an EC2 call in its Region, an IAM call (a global service) in
    us-east-1; the record holds eventVersion, userIdentity (IAMUser:
    principalId, arn, accountId, accessKeyId, userName), eventTime, eventSource,
    eventName, awsRegion, sourceIPAddress, userAgent, requestParameters,
    responseElements, requestID, eventID, readOnly, eventType AwsApiCall,
    managementEvent, recipientAccountId; LookupEvents answers the caller's
    account and Region only.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html#cloudtrail-concepts-global-service-events
    https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
    """
    key_id, as_user = _user(aws, emulator, "alice", region="eu-west-1")
    user = aws("iam").get_user(UserName="alice")["User"]
    group_id = as_user("ec2").create_security_group(GroupName="web", Description="web servers")["GroupId"]
    as_user("iam").create_role(RoleName="audit", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))

    eu = _named(aws("cloudtrail", "eu-west-1"), "CreateSecurityGroup")
    assert len(eu) == 1
    event, record = eu[0], eu[0]["Record"]
    assert event["Username"] == "alice" and event["AccessKeyId"] == key_id and event["ReadOnly"] == "false"
    assert event["EventSource"] == "ec2.amazonaws.com"
    assert {"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": group_id} in event["Resources"]
    assert record["userIdentity"] == {
        "type": "IAMUser",
        "principalId": user["UserId"],
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/alice",
        "accountId": ACCOUNT_ID,
        "accessKeyId": key_id,
        "userName": "alice",
    }
    assert record["eventVersion"] == "1.11" and record["eventType"] == "AwsApiCall"
    assert record["eventSource"] == "ec2.amazonaws.com" and record["eventName"] == "CreateSecurityGroup"
    assert record["awsRegion"] == "eu-west-1" and record["recipientAccountId"] == ACCOUNT_ID
    assert record["managementEvent"] is True and record["readOnly"] is False
    assert record["requestParameters"] == {"groupName": "web", "description": "web servers"}
    assert record["responseElements"]["groupId"] == group_id
    assert record["eventID"] == event["EventId"] and record["requestID"]
    assert record["sourceIPAddress"] == "127.0.0.1" and "Botocore" in record["userAgent"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["eventTime"])

    # the IAM call is a global service event: us-east-1, not eu-west-1
    assert _named(aws("cloudtrail", "eu-west-1"), "CreateRole") == []
    iam_events = _named(aws("cloudtrail"), "CreateRole")
    assert [e["Record"]["awsRegion"] for e in iam_events] == ["us-east-1"]
    assert iam_events[0]["Record"]["eventSource"] == "iam.amazonaws.com"
    assert {"ResourceType": "AWS::IAM::Role", "ResourceName": "audit"} in iam_events[0]["Resources"]
    assert _named(aws("cloudtrail"), "CreateSecurityGroup") == []

    # another account sees none of it
    other = aws("cloudtrail", "eu-west-1")
    other.meta.events.register_first("before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", "210987654321"))
    assert _named(other, "CreateSecurityGroup") == []


def test_assumed_role_session_is_recorded_with_its_issuer(aws, emulator):
    """A call made with temporary credentials of an assumed role records
    userIdentity type AssumedRole: principalId ``ROLEID:session``, the
    assumed-role ARN, the access key, and sessionContext with the role as
    sessionIssuer (type Role, principalId, arn, accountId, userName) and
    attributes creationDate and mfaAuthenticated; LookupEvents' Username is the
    session name. ModifyNetworkInterfaceAttribute names its interface and
    groups as resources.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
    https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
    """
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    quarantine = ec2.create_security_group(GroupName="quarantine", Description="q", VpcId=vpc)["GroupId"]
    creds, as_role = _role_session(aws, emulator, "responder", "incident-42")
    as_role("ec2").modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[quarantine])
    role = aws("iam").get_role(RoleName="responder")["Role"]

    events = _events(aws("cloudtrail"), LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "incident-42"}])
    assert [e["EventName"] for e in events] == ["ModifyNetworkInterfaceAttribute"]
    event = events[0]
    record = json.loads(event["CloudTrailEvent"])
    identity = record["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["principalId"] == f"{role['RoleId']}:incident-42"
    assert identity["arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/responder/incident-42"
    assert identity["accessKeyId"] == creds["AccessKeyId"] == event["AccessKeyId"]
    assert identity["sessionContext"]["sessionIssuer"] == {
        "type": "Role",
        "principalId": role["RoleId"],
        "arn": role["Arn"],
        "accountId": ACCOUNT_ID,
        "userName": "responder",
    }
    assert identity["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", identity["sessionContext"]["attributes"]["creationDate"])
    assert record["requestParameters"] == {"networkInterfaceId": eni, "groups": [quarantine]}
    assert {"ResourceType": "AWS::EC2::NetworkInterface", "ResourceName": eni} in event["Resources"]
    assert {"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": quarantine} in event["Resources"]
    # the AssumeRole call itself: STS, by the caller, the secret never shown
    assume = _named(aws("cloudtrail"), "AssumeRole")[0]["Record"]
    assert assume["eventSource"] == "sts.amazonaws.com"
    assert assume["responseElements"]["credentials"]["accessKeyId"] == creds["AccessKeyId"]
    assert assume["responseElements"]["credentials"]["secretAccessKey"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


def test_failed_calls_carry_error_code_and_message(aws, emulator):
    """A failed call is recorded with errorCode and errorMessage (EC2's codes
    as ``Client.<code>``), a denied one with the authorization error; failed
    calls have no responseElements.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html
    """
    ec2, iam = aws("ec2"), aws("iam")
    with pytest.raises(ClientError):
        ec2.delete_security_group(GroupId="sg-0123456789abcdef0")
    with pytest.raises(ClientError):
        iam.get_role(RoleName="missing")
    _, as_role = _role_session(
        aws, emulator, "reader", "s1",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]},
    )
    with pytest.raises(ClientError):
        as_role("ec2").create_security_group(GroupName="nope", Description="d")

    ct = aws("cloudtrail")
    deleted = _named(ct, "DeleteSecurityGroup")[0]["Record"]
    assert deleted["errorCode"] == "Client.InvalidGroup.NotFound"
    assert "sg-0123456789abcdef0" in deleted["errorMessage"]
    assert deleted["responseElements"] is None
    missing = _named(ct, "GetRole")[0]["Record"]
    assert missing["errorCode"] == "NoSuchEntity" and "missing" in missing["errorMessage"]
    denied = _named(ct, "CreateSecurityGroup")[0]["Record"]
    assert denied["errorCode"] == "Client.UnauthorizedOperation"
    assert denied["userIdentity"]["arn"].endswith("assumed-role/reader/s1")


def test_read_only_calls_and_lookup_attributes(aws, emulator):
    """Read-only calls (Describe*, Get*, List*, Lookup*) are recorded with
    readOnly true, the others false; LookupEvents filters on one attribute of
    EventId, EventName, ReadOnly, Username, ResourceType, ResourceName,
    EventSource, AccessKeyId.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html#read-write-events-mgmt
    https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
    """
    key_id, as_user = _user(aws, emulator, "bob")
    ec2 = as_user("ec2")
    group_id = ec2.create_security_group(GroupName="app", Description="app")["GroupId"]
    ec2.describe_security_groups(GroupIds=[group_id])
    as_user("iam").list_roles()
    ct = aws("cloudtrail")

    read = _events(ct, LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "true"}])
    names = {e["EventName"] for e in read}
    assert {"DescribeSecurityGroups", "ListRoles"} <= names and "CreateSecurityGroup" not in names
    assert all(json.loads(e["CloudTrailEvent"])["readOnly"] is True for e in read)
    assert all(json.loads(e["CloudTrailEvent"])["responseElements"] is None for e in read)
    write = {e["EventName"] for e in _events(ct, LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])}
    assert "CreateSecurityGroup" in write and "DescribeSecurityGroups" not in write

    by_key = {e["EventName"] for e in _events(ct, LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key_id}])}
    assert by_key == {"CreateSecurityGroup", "DescribeSecurityGroups", "ListRoles"}
    by_user = {e["EventName"] for e in _events(ct, LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "bob"}])}
    assert by_user == by_key
    by_source = {e["EventName"] for e in _events(ct, LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "ec2.amazonaws.com"}])}
    assert by_source == {"CreateSecurityGroup", "DescribeSecurityGroups"}
    by_name = _events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": group_id}])
    assert {e["EventName"] for e in by_name} == {"CreateSecurityGroup", "DescribeSecurityGroups"}
    by_type = _events(ct, LookupAttributes=[{"AttributeKey": "ResourceType", "AttributeValue": "AWS::EC2::SecurityGroup"}])
    assert {e["EventName"] for e in by_type} == {"CreateSecurityGroup", "DescribeSecurityGroups"}
    one = by_name[0]
    assert [e["EventId"] for e in _events(ct, LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": one["EventId"]}])] == [one["EventId"]]


def test_lookup_pages_newest_first_and_refuses_bad_requests(aws):
    """LookupEvents answers newest first, at most MaxResults (1-50) per page
    with a NextToken that is only valid with the same parameters;
    StartTime/EndTime bound the events; more than one lookup attribute is
    InvalidLookupAttributesException, a start after the end
    InvalidTimeRangeException, a token of other parameters
    InvalidNextTokenException.
    https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
    """
    ec2, ct = aws("ec2"), aws("cloudtrail")
    group_id = ec2.create_security_group(GroupName="tagged", Description="t")["GroupId"]
    before = datetime.datetime.now(datetime.timezone.utc)
    for i in range(7):
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": "n", "Value": str(i)}])
    attributes = [{"AttributeKey": "EventName", "AttributeValue": "CreateTags"}]
    first = ct.lookup_events(LookupAttributes=attributes, MaxResults=3)
    assert len(first["Events"]) == 3 and first["NextToken"]
    values = []
    token = None
    while True:
        page = ct.lookup_events(LookupAttributes=attributes, MaxResults=3, **({"NextToken": token} if token else {}))
        values += [json.loads(e["CloudTrailEvent"])["requestParameters"]["tags"][0]["value"] for e in page["Events"]]
        token = page.get("NextToken")
        if not token:
            break
    assert values == ["6", "5", "4", "3", "2", "1", "0"]
    times = [e["EventTime"] for e in _events(ct, LookupAttributes=attributes)]
    assert times == sorted(times, reverse=True)

    window = _events(ct, StartTime=before - datetime.timedelta(seconds=1), EndTime=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1))
    assert "CreateSecurityGroup" in {e["EventName"] for e in window}
    assert _events(ct, EndTime=before - datetime.timedelta(hours=1)) == []

    with pytest.raises(ClientError) as two:
        ct.lookup_events(LookupAttributes=attributes + [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])
    assert two.value.response["Error"]["Code"] == "InvalidLookupAttributesException"
    with pytest.raises(ClientError) as span:
        ct.lookup_events(StartTime=before, EndTime=before - datetime.timedelta(minutes=5))
    assert span.value.response["Error"]["Code"] == "InvalidTimeRangeException"
    with pytest.raises(ClientError) as token_error:
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}], NextToken=first["NextToken"])
    assert token_error.value.response["Error"]["Code"] == "InvalidNextTokenException"


def test_data_events_are_not_in_event_history(aws):
    """Data events - S3 object-level calls (PutObject, GetObject), Lambda
    Invoke, SNS Publish, SQS SendMessage - are not logged unless a trail selects
    them, and event history never holds them; bucket-level calls such as
    CreateBucket are management events.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/logging-using-cloudtrail.html
    """
    s3, sns, sqs = aws("s3"), aws("sns"), aws("sqs")
    bucket = unique("evidence")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="memory.lime", Body=b"x")
    s3.get_object(Bucket=bucket, Key="memory.lime")["Body"].read()
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.publish(TopicArn=topic, Message="hi")
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="m")
    names = {e["EventName"] for e in _events(aws("cloudtrail"))}
    assert {"CreateBucket", "CreateTopic", "CreateQueue"} <= names
    assert not names & {"PutObject", "GetObject", "Publish", "SendMessage"}
    created = _named(aws("cloudtrail"), "CreateBucket")[0]
    assert {"ResourceType": "AWS::S3::Bucket", "ResourceName": bucket} in created["Resources"]


def test_engine_calls_are_recorded_as_their_role_session(aws, emulator):
    """A call an AWS service makes with a role it assumed (a Step Functions
    task) is recorded with the role session as userIdentity (AssumedRole,
    sessionIssuer the state machine's role) and the service's DNS name as
    sourceIPAddress and userAgent.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
    """
    from test_stepfunctions import ROLE, machine, run

    ec2, sfn = aws("ec2"), aws("stepfunctions")
    group_id = ec2.create_security_group(GroupName="target", Description="t")["GroupId"]
    arn = machine(sfn, {
        "StartAt": "Tag",
        "States": {
            "Tag": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:ec2:createTags",
                "Parameters": {"Resources": [group_id], "Tags": [{"Key": "contained", "Value": "true"}]},
                "End": True,
            }
        },
    })
    assert run(sfn, arn)["status"] == "SUCCEEDED"
    record = _named(aws("cloudtrail"), "CreateTags")[0]["Record"]
    identity = record["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == ROLE
    assert identity["arn"].startswith(f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/playbook/")
    assert record["sourceIPAddress"] == record["userAgent"] == "states.amazonaws.com"
    assert record["requestParameters"]["resources"] == [group_id]
    start = _named(aws("cloudtrail"), "StartExecution")[0]["Record"]
    assert start["eventSource"] == "states.amazonaws.com" and start["userIdentity"]["type"] == "IAMUser"


def test_cloudformation_calls_are_invoked_by_cloudformation(aws):
    """The calls CloudFormation makes to create a stack's resources are
    recorded as the caller (or the stack's role) with invokedBy
    cloudformation.amazonaws.com, besides the caller's own CreateStack.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
    """
    cf = aws("cloudformation")
    body = "Resources:\n  Group:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      GroupDescription: cfn\n"
    create_stack(cf, unique("cfn"), body)
    group_id = cf.describe_stack_resources(StackName=cf.list_stacks()["StackSummaries"][0]["StackName"])["StackResources"][0]["PhysicalResourceId"]
    ct = aws("cloudtrail")
    created = _named(ct, "CreateSecurityGroup")
    assert len(created) == 1
    record = created[0]["Record"]
    assert record["userIdentity"]["invokedBy"] == "cloudformation.amazonaws.com"
    assert record["userIdentity"]["arn"] == f"arn:aws:sts::{ACCOUNT_ID}:user/moto"
    assert record["sourceIPAddress"] == "cloudformation.amazonaws.com"
    assert {"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": group_id} in created[0]["Resources"]
    assert _named(ct, "CreateStack")[0]["Record"]["eventSource"] == "cloudformation.amazonaws.com"


def _log_files(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_logging_trail_delivers_gzipped_log_files(aws):
    """A logging trail delivers its events to its bucket as gzipped JSON
    ``{"Records": [...]}`` objects named
    ``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz``
    (one file per Region for a multi-Region trail), about every 5 minutes.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/get-and-view-cloudtrail-log-files.html
    """
    cf, s3 = aws("cloudformation"), aws("s3")
    aws("ec2").create_security_group(GroupName="before-the-trail", Description="b")
    stack = create_stack(cf, unique("alerts"), template("alerts.yaml"), {"TrailName": unique("trail")})
    bucket = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "BucketName")
    group_id = aws("ec2").create_security_group(GroupName="logged", Description="l")["GroupId"]
    aws("ec2", "eu-west-1").create_security_group(GroupName="logged-eu", Description="l")

    def delivered() -> list[str]:
        keys = _log_files(s3, bucket)
        regions = {k.split("/")[3] for k in keys}
        return keys if {"us-east-1", "eu-west-1"} <= regions else []

    keys = eventually(delivered, timeout=30)
    assert keys, "no log file delivered"
    pattern = re.compile(
        rf"AWSLogs/{ACCOUNT_ID}/CloudTrail/(?P<r>[a-z0-9-]+)/\d{{4}}/\d\d/\d\d/{ACCOUNT_ID}_CloudTrail_(?P=r)_\d{{8}}T\d{{4}}Z_[A-Za-z0-9]{{16}}\.json\.gz"
    )
    assert all(pattern.fullmatch(k) for k in keys), keys
    records = []
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        document = json.loads(gzip.decompress(body))
        region = key.split("/")[3]
        assert all(r["awsRegion"] == region for r in document["Records"])
        records += document["Records"]
    created = [r for r in records if r["eventName"] == "CreateSecurityGroup"]
    # events from before the trail logged are not delivered
    assert {r["requestParameters"]["groupName"] for r in created} == {"logged", "logged-eu"}
    assert any(r.get("responseElements", {}) and r["responseElements"]["groupId"] == group_id for r in created)


def test_stop_logging_stops_delivery_so_the_bucket_can_be_emptied_and_deleted(aws):
    """StopLogging "suspends the recording of AWS API calls and log file
    delivery for the specified trail": after it, nothing new lands in the
    bucket, so emptying it (every version) lets the stack - bucket included -
    be deleted (irlab's ``down``).
    https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html
    """
    cf, s3, ct = aws("cloudformation"), aws("s3"), aws("cloudtrail")
    name = unique("alerts")
    trail = unique("trail")
    stack = create_stack(cf, name, template("alerts.yaml"), {"TrailName": trail})
    bucket = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "BucketName")
    aws("ec2").create_security_group(GroupName="before-stop", Description="b")
    assert eventually(lambda: _log_files(s3, bucket), timeout=30)
    ct.stop_logging(Name=trail)
    assert ct.get_trail_status(Name=trail)["IsLogging"] is False
    aws("ec2").create_security_group(GroupName="after-stop", Description="a")
    versions = s3.list_object_versions(Bucket=bucket)
    objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    time.sleep(3 * 300 * 0.005)  # three delivery intervals at the tests' service scale
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    # and the StopLogging call is itself in event history
    assert _named(ct, "StopLogging")[0]["Record"]["requestParameters"] == {"name": trail}


def test_history_is_bounded_per_account_and_region(aws, emulator, monkeypatch):
    """Event history keeps recent events (90 days on AWS); the stand-in keeps
    the newest ones per account and Region up to a bound, dropping the oldest.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html
    """
    from irlab_emulator.patches import cloudtrail_events

    monkeypatch.setattr(cloudtrail_events, "MAX_EVENTS", 5)
    request = urllib.request.Request(f"{emulator.endpoint}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(request, timeout=30).read()
    ec2 = aws("ec2", "ap-south-1")
    group_id = ec2.create_security_group(GroupName="bounded", Description="b")["GroupId"]
    for i in range(8):
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": "n", "Value": str(i)}])
    events = _events(aws("cloudtrail", "ap-south-1"))
    assert len(events) == 5
    assert [json.loads(e["CloudTrailEvent"])["requestParameters"]["tags"][0]["value"] for e in events] == ["7", "6", "5", "4", "3"]
