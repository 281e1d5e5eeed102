"""IAM enforced for role sessions (patches/_iam_enforce.py): requests signed
with credentials STS issued to a role are authorised against the role's
policies, with the condition keys the lab's policies use, and denied with each
service's own error; administrator calls (the tests' ``testing`` keys, irlab's
CLI) are not evaluated; the engines call with their roles' credentials.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, unique, wait_idle
from iam_roles import service_role, trust
from test_events import PATTERN, _messages, _put, _queue
from test_ssm_automation import finish as finish_automation
from test_stepfunctions import finish as finish_execution

ROOT = {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}


def _role(aws: Any, statements: list[dict[str, Any]], principal: Any = ROOT, managed: list[str] = (), name: str | None = None) -> str:
    iam = aws("iam")
    name = name or unique("role")
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    for policy_arn in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


def _session(aws: Any, emulator: Any, role_arn: str, name: str = "tester") -> Any:
    """``client("ec2")`` -> a client with the role's session credentials."""
    credentials = aws("sts").assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint,
            region_name=REGION,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    return client


def _instance(ec2: Any, lab: str, subnet: str | None = None) -> str:
    kwargs: dict[str, Any] = {"SubnetId": subnet} if subnet else {}
    return ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "irlab:lab", "Value": lab}]}], **kwargs,
    )["Instances"][0]["InstanceId"]


def _error(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return {"code": response["Error"]["Code"], "message": response["Error"].get("Message", ""),
            "status": response["ResponseMetadata"]["HTTPStatusCode"]}


def test_a_role_session_is_authorised_an_administrator_call_is_not(aws, emulator):
    """Only what the role's policies allow succeeds for its session; the
    tests' own calls (keys "testing") stay unevaluated. EC2 answers a denial
    with 403 UnauthorizedOperation: "You are not authorized to perform this
    operation. User: <session ARN> is not authorized to perform: <action> on
    resource: <ARN> because no identity-based policy allows the <action>
    action. Encoded authorization failure message: ..."."""
    role = _role(aws, [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}])
    session = _session(aws, emulator, role, "tester")
    ec2 = aws("ec2")
    instance = _instance(ec2, "t1")
    assert session("ec2").describe_instances(InstanceIds=[instance])["Reservations"]
    error = _error(lambda: session("ec2").create_tags(Resources=[instance], Tags=[{"Key": "k", "Value": "v"}]))
    session_arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role.rsplit('/', 1)[-1]}/tester"
    assert error["code"] == "UnauthorizedOperation" and error["status"] == 403
    assert error["message"].startswith(
        f"You are not authorized to perform this operation. User: {session_arn} is not authorized to perform: "
        f"ec2:CreateTags on resource: arn:aws:ec2:{REGION}:{ACCOUNT_ID}:instance/{instance} because no "
        "identity-based policy allows the ec2:CreateTags action. Encoded authorization failure message: "
    )
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "k", "Value": "v"}])  # the administrator's call
    assert aws("sts").get_caller_identity()["Arn"] != session_arn
    assert session("sts").get_caller_identity()["Arn"] == session_arn  # no permission needed


@pytest.mark.parametrize(
    "service, call, status, code, action",
    [
        ("sns", lambda c, a: c.publish(TopicArn=a["topic"], Message="x"), 403, "AuthorizationError", "SNS:Publish"),
        ("sqs", lambda c, a: c.send_message(QueueUrl=a["queue"], MessageBody="x"), 403, "AccessDenied", "sqs:SendMessage"),
        ("ssm", lambda c, a: c.get_parameter(Name="/irlab/x"), 400, "AccessDeniedException", "ssm:GetParameter"),
        ("stepfunctions", lambda c, a: c.list_state_machines(), 400, "AccessDeniedException", "states:ListStateMachines"),
        ("logs", lambda c, a: c.describe_log_groups(), 400, "AccessDeniedException", "logs:DescribeLogGroups"),
        ("lambda", lambda c, a: c.invoke(FunctionName="nope"), 403, "AccessDeniedException", "lambda:InvokeFunction"),
        ("iam", lambda c, a: c.list_roles(), 403, "AccessDenied", "iam:ListRoles"),
    ],
)
def test_each_service_denies_with_its_own_error(aws, emulator, service, call, status, code, action):
    """JSON services answer 400 AccessDeniedException, Lambda 403
    AccessDeniedException, the query services 403 AccessDenied, SNS 403
    AuthorizationError (naming "SNS:Publish"); every message says who was
    denied what on which resource."""
    targets = {
        "topic": aws("sns").create_topic(Name=unique("t"))["TopicArn"],
        "queue": aws("sqs").create_queue(QueueName=unique("q"))["QueueUrl"],
    }
    session = _session(aws, emulator, _role(aws, [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]))
    error = _error(lambda: call(session(service), targets))
    assert (error["status"], error["code"]) == (status, code)
    assert "is not authorized to perform: " + action in error["message"], error["message"]


def test_resource_tag_conditions_both_ways(aws, emulator):
    """aws:ResourceTag/irlab:lab = the role's lab: the lab's instance may be
    tagged, an instance of another lab may not; ForAllValues:StringEquals on
    aws:TagKeys limits the keys a request may write."""
    statement = {
        "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:instance/*",
        "Condition": {"StringEquals": {"aws:ResourceTag/irlab:lab": "t1"},
                      "ForAllValues:StringEquals": {"aws:TagKeys": ["irlab:ir-status"]}},
    }
    ec2 = _session(aws, emulator, _role(aws, [statement]))("ec2")
    mine, theirs = _instance(aws("ec2"), "t1"), _instance(aws("ec2"), "t2")
    ec2.create_tags(Resources=[mine], Tags=[{"Key": "irlab:ir-status", "Value": "contained"}])
    assert "ec2:CreateTags on resource: " in _error(
        lambda: ec2.create_tags(Resources=[theirs], Tags=[{"Key": "irlab:ir-status", "Value": "contained"}])
    )["message"]
    _error(lambda: ec2.create_tags(Resources=[mine], Tags=[{"Key": "irlab:lab", "Value": "t2"}]))


def test_parameters_are_authorised_by_name_and_by_path_by_the_path(aws, emulator):
    """A parameter is authorised as parameter/NAME (the name's leading slash
    dropped), and GetParametersByPath against the path in the request, not the
    parameters it returns: a role allowed /irlab/a/* reads and deletes there
    only, and one allowed the path /irlab lists every lab's parameters under it.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-retrieval-authorization.html"""
    admin = aws("ssm")
    a, b = f"/irlab/{unique('a')}", f"/irlab/{unique('b')}"
    for name in (f"{a}/state", f"{b}/state"):
        admin.put_parameter(Name=name, Value="{}", Type="String")
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter"
    ssm = _session(aws, emulator, _role(aws, [
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:DeleteParameter"], "Resource": f"{arn}{a}/*"},
        {"Effect": "Allow", "Action": "ssm:GetParametersByPath", "Resource": [f"{arn}/irlab", f"{arn}/irlab/*"]},
    ]))("ssm")
    assert ssm.get_parameter(Name=f"{a}/state")["Parameter"]["Value"] == "{}"
    denied = _error(lambda: ssm.get_parameter(Name=f"{b}/state"))
    assert denied["code"] == "AccessDeniedException" and f"{arn}{b}/state" in denied["message"], denied
    listed = {p["Name"] for p in ssm.get_parameters_by_path(Path="/irlab/", Recursive=True)["Parameters"]}
    assert {f"{a}/state", f"{b}/state"} <= listed
    assert f"{arn}/other" in _error(lambda: ssm.get_parameters_by_path(Path="/other"))["message"]
    _error(lambda: ssm.delete_parameter(Name=f"{b}/state"))
    ssm.delete_parameter(Name=f"{a}/state")
    admin.delete_parameter(Name=f"{b}/state")


def test_a_trail_named_in_a_request_is_authorised_as_its_arn(aws, emulator):
    """StopLogging names the trail by Name (a name or its ARN); IAM authorises
    the trail's ARN, trail/NAME (the Service Authorization Reference's trail
    resource), so a role allowed trail/irlab-shared-* stops that trail only.
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudtrail.html"""
    s3, trails = aws("s3"), aws("cloudtrail")
    bucket = unique("trail-bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
    ]}))
    mine, other = unique("irlab-shared"), unique("other")
    for name in (mine, other):
        trails.create_trail(Name=name, S3BucketName=bucket)
        trails.start_logging(Name=name)
    arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail"
    ct = _session(aws, emulator, _role(aws, [
        {"Effect": "Allow", "Action": "cloudtrail:StopLogging", "Resource": f"{arn}/irlab-shared-*"}]))("cloudtrail")
    ct.stop_logging(Name=mine)
    ct.stop_logging(Name=f"{arn}/{mine}")
    assert f"{arn}/{other}" in _error(lambda: ct.stop_logging(Name=other))["message"]
    assert trails.get_trail_status(Name=mine)["IsLogging"] is False
    assert trails.get_trail_status(Name=other)["IsLogging"] is True
    for name in (mine, other):
        trails.delete_trail(Name=name)


def test_a_stack_is_deleted_only_as_its_tags_allow(aws, emulator):
    """aws:ResourceTag/irlab:lab on cloudformation:DeleteStack: a role allowed
    the stacks named irlab-a-* and tagged irlab:lab=a deletes lab a's stack, not
    lab a-b's, whose name fits the same pattern (names alone cannot tell the
    labs apart; the stack's tags can).
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html"""
    cfn = aws("cloudformation")
    body = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    suffix = unique("s")
    mine, theirs = f"irlab-a-{suffix}", f"irlab-a-b-{suffix}"
    cfn.create_stack(StackName=mine, TemplateBody=body, Tags=[{"Key": "irlab:lab", "Value": "a"}])
    cfn.create_stack(StackName=theirs, TemplateBody=body, Tags=[{"Key": "irlab:lab", "Value": "a-b"}])
    ct = _session(aws, emulator, _role(aws, [{
        "Effect": "Allow", "Action": "cloudformation:DeleteStack",
        "Resource": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/irlab-a-*/*",
        "Condition": {"StringEquals": {"aws:ResourceTag/irlab:lab": "a"}}}]))("cloudformation")
    assert "cloudformation:DeleteStack" in _error(lambda: ct.delete_stack(StackName=theirs))["message"]
    ct.delete_stack(StackName=mine)
    statuses = {s["StackName"]: s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] in (mine, theirs)}
    assert statuses[theirs] == "CREATE_COMPLETE"
    cfn.delete_stack(StackName=theirs)


def test_budgets_are_read_as_view_budget_and_changed_as_modify_budget(aws, emulator):
    """AWS Budgets authorises DescribeBudget(s) as budgets:ViewBudget and
    CreateBudget/DeleteBudget as budgets:ModifyBudget, on budget/NAME: a role
    that may only view the lab's budget reads it and changes nothing.
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbudgetservice.html"""
    name = unique("irlab-b")
    budget = {"BudgetName": name, "BudgetType": "COST", "TimeUnit": "MONTHLY", "BudgetLimit": {"Amount": "5", "Unit": "USD"}}
    aws("budgets").create_budget(AccountId=ACCOUNT_ID, Budget=budget)
    viewer = _session(aws, emulator, _role(aws, [{"Effect": "Allow", "Action": "budgets:ViewBudget",
                                                  "Resource": f"arn:aws:budgets::{ACCOUNT_ID}:budget/irlab-b*"}]))("budgets")
    assert viewer.describe_budget(AccountId=ACCOUNT_ID, BudgetName=name)["Budget"]["BudgetName"] == name
    denied = _error(lambda: viewer.delete_budget(AccountId=ACCOUNT_ID, BudgetName=name))
    assert "budgets:ModifyBudget" in denied["message"], denied
    assert "budgets:ViewBudget" in _error(lambda: viewer.describe_budget(AccountId=ACCOUNT_ID, BudgetName="other"))["message"]
    aws("budgets").delete_budget(AccountId=ACCOUNT_ID, BudgetName=name)


def test_request_tags_and_tag_on_create(aws, emulator):
    """CreateSnapshot needs the volume (aws:ResourceTag) and the new snapshot
    (aws:RequestTag, aws:TagKeys from TagSpecifications); tagging on create
    also needs ec2:CreateTags on the snapshot, which ec2:CreateAction =
    CreateSnapshot confines to snapshots being created.
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html"""
    volume_statement = {"Effect": "Allow", "Action": "ec2:CreateSnapshot", "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:volume/*",
                        "Condition": {"StringEquals": {"aws:ResourceTag/irlab:lab": "t1"}}}
    snapshot_statement = {"Effect": "Allow", "Action": "ec2:CreateSnapshot", "Resource": f"arn:aws:ec2:{REGION}::snapshot/*",
                          "Condition": {"StringEquals": {"aws:RequestTag/irlab:lab": "t1"},
                                        "ForAllValues:StringEquals": {"aws:TagKeys": ["irlab:lab"]}}}
    tag_statement = {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": f"arn:aws:ec2:{REGION}::snapshot/*",
                     "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSnapshot"}}}
    admin = aws("ec2")
    volume = admin.create_volume(AvailabilityZone=f"{REGION}a", Size=8, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "irlab:lab", "Value": "t1"}]}])["VolumeId"]

    def snapshot(ec2: Any, lab: str) -> Any:
        return ec2.create_snapshot(VolumeId=volume, TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "irlab:lab", "Value": lab}]}])

    full = _session(aws, emulator, _role(aws, [volume_statement, snapshot_statement, tag_statement]))("ec2")
    assert snapshot(full, "t1")["SnapshotId"].startswith("snap-")
    assert "ec2:CreateSnapshot" in _error(lambda: snapshot(full, "t2"))["message"]
    no_tagging = _session(aws, emulator, _role(aws, [volume_statement, snapshot_statement]))("ec2")
    message = _error(lambda: snapshot(no_tagging, "t1"))["message"]
    assert f"ec2:CreateTags on resource: arn:aws:ec2:{REGION}::snapshot/*" in message
    # the tag statement does not let the role tag other snapshots afterwards
    snap = snapshot(full, "t1")["SnapshotId"]
    _error(lambda: full.create_tags(Resources=[snap], Tags=[{"Key": "x", "Value": "y"}]))


def test_ec2_vpc_condition(aws, emulator):
    """ec2:Vpc is the ARN of the VPC of the network interface (and of the
    security group): isolation in the victim VPC is allowed, elsewhere not."""
    admin = aws("ec2")
    vpcs, subnets, groups = [], [], []
    for cidr in ("10.1.0.0/16", "10.2.0.0/16"):
        vpc = admin.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        vpcs.append(vpc)
        subnets.append(admin.create_subnet(VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"))["Subnet"]["SubnetId"])
        groups.append(admin.create_security_group(GroupName=unique("q"), Description="q", VpcId=vpc)["GroupId"])
    statement = {
        "Effect": "Allow", "Action": "ec2:ModifyNetworkInterfaceAttribute",
        "Resource": [f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:network-interface/*", f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/*"],
        "Condition": {"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:vpc/{vpcs[0]}"}},
    }
    ec2 = _session(aws, emulator, _role(aws, [statement]))("ec2")
    enis = [admin.create_network_interface(SubnetId=s)["NetworkInterface"]["NetworkInterfaceId"] for s in subnets]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=enis[0], Groups=[groups[0]])
    assert f"network-interface/{enis[1]}" in _error(
        lambda: ec2.modify_network_interface_attribute(NetworkInterfaceId=enis[1], Groups=[groups[1]])
    )["message"]
    assert f"security-group/{groups[1]}" in _error(
        lambda: ec2.modify_network_interface_attribute(NetworkInterfaceId=enis[0], Groups=[groups[1]])
    )["message"]


def test_unevaluable_conditions_fail_loudly(aws, emulator):
    """A condition key the Service Authorization Reference does not know, or
    one that applies to the action but the stand-in does not compute, fails
    the request with IrlabUnevaluablePolicy instead of matching or not
    matching silently."""
    instance = _instance(aws("ec2"), "t1")
    for key in ("ec2:Vpcc", "ec2:InstanceType"):
        statement = {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                     "Condition": {"StringEquals": {key: "x"}}}
        ec2 = _session(aws, emulator, _role(aws, [statement]))("ec2")
        error = _error(lambda: ec2.create_tags(Resources=[instance], Tags=[{"Key": "k", "Value": "v"}]))
        assert error["code"] == "IrlabUnevaluablePolicy" and key in error["message"], error


def test_aws_managed_policies_resource_policies_and_explicit_denies(aws, emulator):
    """Attached AWS managed policies count (moto's copy, loaded on demand); a
    topic policy that names the role allows without an identity policy; a
    Deny in an identity policy wins over an attached Allow."""
    ec2_arn = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"
    role = _role(aws, [{"Effect": "Deny", "Action": "ec2:DescribeVolumes", "Resource": "*"}], managed=[ec2_arn])
    session = _session(aws, emulator, role)
    session("ec2").describe_instances()
    error = _error(lambda: session("ec2").describe_volumes())
    assert "with an explicit deny in an identity-based policy" in error["message"]
    sns = aws("sns")
    topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
    _error(lambda: session("sns").publish(TopicArn=topic, Message="x"))
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": topic,
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "sns:Publish", "Resource": topic},
        ],
    }))
    assert session("sns").publish(TopicArn=topic, Message="x")["MessageId"]


def test_a_session_policy_limits_the_session(aws, emulator):
    """A session policy passed to AssumeRole (Policy) limits the session to
    what both it and the role's policies allow.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session"""
    role = _role(aws, [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}])
    credentials = aws("sts").assume_role(RoleArn=role, RoleSessionName="narrow", Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]}
    ))["Credentials"]
    ec2 = boto3.client("ec2", endpoint_url=emulator.endpoint, region_name=REGION, aws_access_key_id=credentials["AccessKeyId"],
                       aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"])
    ec2.describe_instances()
    assert "because no session policy allows the ec2:DescribeVolumes action" in _error(lambda: ec2.describe_volumes())["message"]


def test_a_role_session_assumes_a_role_only_if_its_trust_policy_allows(aws, emulator):
    """To assume a role, the role's trust policy must allow the caller; when
    it names only the account, the caller's identity policies must allow
    sts:AssumeRole as well.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html"""
    caller = _role(aws, [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}])
    bare = _role(aws, [])
    trusts_caller = _role(aws, [], principal={"AWS": caller})
    trusts_account = _role(aws, [])
    trusts_lambda = _role(aws, [], principal={"Service": "lambda.amazonaws.com"})
    sts = _session(aws, emulator, caller)("sts")
    assert sts.assume_role(RoleArn=trusts_caller, RoleSessionName="s1")["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert sts.assume_role(RoleArn=trusts_account, RoleSessionName="s1")["Credentials"]
    error = _error(lambda: sts.assume_role(RoleArn=trusts_lambda, RoleSessionName="s1"))
    assert (error["status"], error["code"]) == (403, "AccessDenied") and f"sts:AssumeRole on resource: {trusts_lambda}" in error["message"]
    bare_sts = _session(aws, emulator, bare)("sts")
    _error(lambda: bare_sts.assume_role(RoleArn=trusts_caller, RoleSessionName="s1"))  # not named by the trust
    _error(lambda: bare_sts.assume_role(RoleArn=trusts_account, RoleSessionName="s1"))  # no identity policy allows it


# ---------------------------------------------------------------- the engines


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


WHO = '''import boto3
def handler(event, context):
    return boto3.client("sts").get_caller_identity()["Arn"]
'''


def test_lambda_runs_with_its_execution_role(aws, emulator):
    """Lambda assumes the execution role (its trust policy must allow
    lambda.amazonaws.com, else CreateFunction fails with
    InvalidParameterValueException "The role defined for the function cannot
    be assumed by Lambda."); the handler's calls are the role's session,
    named after the function.
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"""
    lam = aws("lambda")
    untrusted = _role(aws, [], principal={"Service": "states.amazonaws.com"})
    error = _error(lambda: lam.create_function(FunctionName="who", Runtime="python3.12", Role=untrusted,
                                               Handler="index.handler", Code={"ZipFile": _zip(WHO)}))
    assert error["code"] == "InvalidParameterValueException"
    assert error["message"] == "The role defined for the function cannot be assumed by Lambda."
    role = service_role(lam, "lambda.amazonaws.com", unique("fn"), policy=None)
    lam.create_function(FunctionName="who", Runtime="python3.12", Role=role, Handler="index.handler", Code={"ZipFile": _zip(WHO)})
    answer = json.loads(lam.invoke(FunctionName="who")["Payload"].read())
    assert answer == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role.rsplit('/', 1)[-1]}/who"
    # without logs permissions Lambda writes no log
    assert aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/who")["logGroups"] == []


def test_step_functions_calls_with_the_state_machine_role(aws, emulator):
    """SDK tasks are authorised as the state machine's role: a missing
    permission fails the task with Ec2.Ec2Exception and EC2's message in the
    cause; a role Step Functions may not assume fails the execution
    (States.Runtime, "Neither the global service principal
    states.amazonaws.com, nor the regional one is authorized to assume the
    provided role.").
    https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html"""
    sfn = aws("stepfunctions")
    definition = json.dumps({"StartAt": "Tag", "States": {"Tag": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ec2:describeInstances", "Parameters": {}, "End": True}}})
    limited = service_role(sfn, "states.amazonaws.com", unique("sm"), policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:DescribeVolumes", "Resource": "*"}]})
    arn = sfn.create_state_machine(name=unique("sm"), roleArn=limited, definition=definition)["stateMachineArn"]
    described = finish_execution(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert described["status"] == "FAILED" and described["error"] == "Ec2.Ec2Exception"
    assert "is not authorized to perform: ec2:DescribeInstances" in described["cause"]
    untrusted = _role(aws, [{"Effect": "Allow", "Action": "*", "Resource": "*"}], principal={"Service": "lambda.amazonaws.com"})
    arn = sfn.create_state_machine(name=unique("sm"), roleArn=untrusted, definition=definition)["stateMachineArn"]
    described = finish_execution(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert described["status"] == "FAILED", described
    assert "Neither the global service principal states.amazonaws.com" in (described.get("cause") or "")


RUNBOOK = {
    "schemaVersion": "0.3",
    "assumeRole": "{{ AutomationAssumeRole }}",
    "parameters": {"AutomationAssumeRole": {"type": "String"}},
    "mainSteps": [{"name": "look", "action": "aws:executeAwsApi",
                   "inputs": {"Service": "ec2", "Api": "DescribeInstances"}}],
}


def test_automation_passes_and_assumes_its_role(aws, emulator):
    """StartAutomationExecution needs iam:PassRole on the AutomationAssumeRole
    for ssm.amazonaws.com (iam:PassedToService), Automation must be able to
    assume it ("The defined assume role is unable to be assumed."), and the
    steps call AWS as that role.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-troubleshooting.html"""
    ssm = aws("ssm")
    ssm.create_document(Name="look", DocumentType="Automation", DocumentFormat="JSON", Content=json.dumps(RUNBOOK))
    limited = service_role(ssm, "ssm.amazonaws.com", unique("auto"), policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:DescribeVolumes", "Resource": "*"}]})
    untrusted = _role(aws, [], principal={"Service": "states.amazonaws.com"})

    def starter(passed_to: str) -> Any:
        return _session(aws, emulator, _role(aws, [
            {"Effect": "Allow", "Action": "ssm:StartAutomationExecution", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
             "Condition": {"StringEquals": {"iam:PassedToService": passed_to}}},
        ]))("ssm")

    wrong = starter("states.amazonaws.com")
    error = _error(lambda: wrong.start_automation_execution(DocumentName="look", Parameters={"AutomationAssumeRole": [limited]}))
    assert error["code"] == "AccessDeniedException" and f"iam:PassRole on resource: {limited}" in error["message"]
    right = starter("ssm.amazonaws.com")
    error = _error(lambda: right.start_automation_execution(DocumentName="look", Parameters={"AutomationAssumeRole": [untrusted]}))
    assert (error["code"], error["message"]) == ("InvalidAutomationExecutionParametersException", "The defined assume role is unable to be assumed.")
    execution_id = right.start_automation_execution(DocumentName="look", Parameters={"AutomationAssumeRole": [limited]})["AutomationExecutionId"]
    execution = finish_automation(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert execution["ExecutedBy"].startswith(f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/")
    assert f"assumed-role/{limited.rsplit('/', 1)[-1]}/{execution_id} is not authorized to perform: ec2:DescribeInstances" in (
        execution["StepExecutions"][0]["FailureMessage"]
    )


def test_eventbridge_calls_targets_with_their_role(aws, emulator):
    """EventBridge assumes a target's RoleArn (events.amazonaws.com must be
    trusted) and starts the state machine with it: a role without
    states:StartExecution, or one EventBridge may not assume, sends the
    event to the dead-letter queue with ERROR_CODE NO_PERMISSIONS and the
    denial in ERROR_MESSAGE.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html"""
    events, sqs, sfn = aws("events"), aws("sqs"), aws("stepfunctions")
    machine_role = service_role(sfn, "states.amazonaws.com", unique("sm"))
    machine = sfn.create_state_machine(name=unique("sm"), roleArn=machine_role, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    dlq_url, dlq_arn = _queue(sqs, unique("dlq"))
    allowed = service_role(sfn, "events.amazonaws.com", unique("ev"), policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine}]})
    nothing = service_role(sfn, "events.amazonaws.com", unique("ev"), policy=None)
    untrusted = _role(aws, [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    events.put_rule(Name="findings", EventPattern=json.dumps(PATTERN))
    events.put_targets(Rule="findings", Targets=[
        {"Id": name, "Arn": machine, "RoleArn": role, "DeadLetterConfig": {"Arn": dlq_arn}}
        for name, role in (("allowed", allowed), ("nothing", nothing), ("untrusted", untrusted))
    ])
    _put(events)
    wait_idle(emulator.endpoint)
    dead = {m["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]: m["MessageAttributes"]["ERROR_CODE"]["StringValue"]
            for m in _messages(sqs, dlq_url, 2)}
    assert set(dead.values()) == {"NO_PERMISSIONS"}
    assert any("is not authorized to perform: states:StartExecution" in m for m in dead), dead
    assert any("EventBridge cannot assume" in m for m in dead), dead
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
