"""Every request is checked against botocore's input shape of its operation and
refused as the service refuses it (patches/request_validation.py): unknown and
missing members, wrong types, enum values, lengths, ranges and patterns, in each
protocol family's error shape. boto3 sends the mistakes with its own
validation turned off (``Config(parameter_validation=False)``); what boto3
cannot send at all (a member its model lacks) goes as raw HTTP."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlencode
from xml.etree import ElementTree

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, create_stack, unique

RUST_AGENT = "aws-sdk-rust/1.3.9 os/linux lang/rust/1.88.0"


@pytest.fixture
def loose(aws, emulator):
    """``loose("iam")``: a boto3 client of a freshly reset stand-in that sends
    what it is given, unchecked (``parameter_validation=False``)."""

    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(
                parameter_validation=False,
                retries={"total_max_attempts": 1, "mode": "standard"},
                s3={"addressing_style": "path"},
            ),
        )

    return make


def send(
    emulator: Any,
    service: str,
    *,
    method: str = "POST",
    path: str = "/",
    body: bytes | str = b"",
    headers: dict[str, str] | None = None,
    agent: str = "irlab-test/1.0",
) -> tuple[int, dict[str, str], str]:
    """A raw request, SigV4-scoped to ``service`` (the stand-in reads the
    scope, not the signature). (status, headers, body)."""
    data = body.encode() if isinstance(body, str) else body
    all_headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0000",
        "X-Amz-Date": "20250101T000000Z",
        "User-Agent": agent,
        **(headers or {}),
    }
    request = urllib.request.Request(f"{emulator.endpoint}{path}", data=data or None, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def form(emulator: Any, service: str, params: dict[str, str], agent: str = "irlab-test/1.0") -> tuple[int, dict[str, str], str]:
    return send(
        emulator,
        service,
        body=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        agent=agent,
    )


def json_call(
    emulator: Any, service: str, target: str, payload: dict[str, Any], agent: str = "irlab-test/1.0"
) -> tuple[int, dict[str, str], Any]:
    status, headers, text = send(
        emulator,
        service,
        body=json.dumps(payload),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
        agent=agent,
    )
    return status, headers, json.loads(text) if text else None


def xml_error(text: str) -> tuple[str, str]:
    """(Code, Message) of an EC2, query or S3 error body."""
    root = ElementTree.fromstring(text)
    code = next(e.text for e in root.iter() if e.tag.split("}")[-1] == "Code")
    message = next(e.text for e in root.iter() if e.tag.split("}")[-1] == "Message")
    return code or "", message or ""


def error(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response


def test_ec2_refuses_unknown_missing_and_invalid_parameters(loose, emulator):
    """EC2's common client errors: "UnknownParameter: An unknown or unrecognized
    parameter was supplied", "MissingParameter: The request must contain the
    parameter ..." and "InvalidParameterValue: A value specified in a parameter
    is not valid", one per answer, 400, in ``<Response><Errors><Error>``
    ("The parameter Item is not recognized", "The request must contain the
    parameter groupId", "Value ( 1 ) for parameter maxResults is invalid").
    A refused CreateTags tags nothing.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    """
    ec2 = loose("ec2")
    status, _, text = form(emulator, "ec2", {"Action": "DescribeInstances", "Version": "2016-11-15", "Item.1.ToPort": "443"})
    assert status == 400
    assert xml_error(text) == ("UnknownParameter", "The parameter Item is not recognized")
    status, _, text = form(
        emulator, "ec2", {"Action": "DescribeInstances", "Version": "2016-11-15", "Filter.1.Nme": "tag:x", "Filter.1.Value.1": "y"}
    )
    assert xml_error(text) == ("UnknownParameter", "The parameter Filter.1.Nme is not recognized")

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    refused = error(lambda: ec2.create_tags(Resources=[vpc]))
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused["Error"] == {"Code": "MissingParameter", "Message": "The request must contain the parameter tag"}
    refused = error(lambda: ec2.describe_instances(MaxResults="ten"))
    assert refused["Error"]["Code"] == "InvalidParameterValue"
    assert refused["Error"]["Message"].startswith("Value (ten) for parameter maxResults is invalid.")
    refused = error(lambda: ec2.describe_instance_attribute(InstanceId="i-1234567890abcdef0", Attribute="groupSett"))
    assert refused["Error"]["Code"] == "InvalidParameterValue"
    assert refused["Error"]["Message"].startswith(
        "Value (groupSett) for parameter attribute is invalid. Member must satisfy enum value set: [instanceType, "
    )
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vpc]}])["Tags"] == []


def test_query_services_refuse_with_validation_error(loose, emulator):
    """The query services (IAM, STS, SNS, CloudFormation) answer a request that
    breaks the operation's constraints with ``ValidationError`` (400, Sender)
    "The input fails to satisfy the constraints specified by an AWS service":
    "1 validation error detected: Value null at 'roleName' failed to satisfy
    constraint: Member must not be null", and a value that is not of its type
    with ``InvalidParameterValue``. Nothing is created.
    https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html
    https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
    https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html
    """
    iam, sts, sns, cf = loose("iam"), loose("sts"), loose("sns"), loose("cloudformation")
    refused = error(lambda: iam.create_role(AssumeRolePolicyDocument="{}"))
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null",
    }
    assert error(lambda: iam.create_role(RoleName="r" * 65, AssumeRolePolicyDocument="{}"))["Error"]["Message"] == (
        f"1 validation error detected: Value '{'r' * 65}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )
    assert error(lambda: iam.list_roles(MaxItems=0))["Error"]["Message"] == (
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    assert error(lambda: iam.list_roles(MaxItems="many"))["Error"]["Code"] == "InvalidParameterValue"
    assert error(lambda: sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/x", RoleSessionName="has space"))["Error"][
        "Message"
    ] == (
        "1 validation error detected: Value 'has space' at 'roleSessionName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]*"
    )
    topic = sns.create_topic(Name=unique("t"))["TopicArn"]
    assert error(lambda: sns.publish(TopicArn=topic))["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null",
    }
    assert error(lambda: cf.list_stacks(StackStatusFilter=["CREATE_COMPLETED"]))["Error"]["Code"] == "ValidationError"
    # a member the model lacks: every AWS client refuses it before sending; the stand-in as well
    status, _, text = form(
        emulator,
        "iam",
        {"Action": "CreateRole", "Version": "2010-05-08", "RoleName": "r1", "AssumeRolePolicyDocument": "{}", "Tag.member.1.Key": "k"},
    )
    assert status == 400
    code, message = xml_error(text)
    assert code == "ValidationError" and message.startswith('Unknown parameter in input: "Tag", must be one of: Path, RoleName, ')
    assert iam.list_roles()["Roles"] == []


def test_json_services_refuse_with_validation_exception(loose, emulator):
    """The JSON services answer a constraint violation with
    ``ValidationException`` (400) and the same "N validation error(s)
    detected" message; CloudWatch Logs with ``InvalidParameterException`` ("A
    parameter is specified incorrectly"); a JSON value of the wrong type never
    reaches validation: ``SerializationException``; SQS (JSON, compatible with
    its query API) with the query code in ``x-amzn-query-error``. A member the
    model lacks is refused too. ``X-Amz-Target`` may name the service by its
    shape name alone (``CloudTrail_20131101.GetTrailStatus``).
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/CommonErrors.html
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html
    """
    ssm, sfn, events, logs, sqs = loose("ssm"), loose("stepfunctions"), loose("events"), loose("logs"), loose("sqs")
    refused = error(lambda: ssm.get_parameter())
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
    }
    assert error(lambda: ssm.put_parameter(Name="p", Value="v", Type="Strin"))["Error"]["Message"] == (
        "1 validation error detected: Value 'Strin' at 'type' failed to satisfy constraint: "
        "Member must satisfy enum value set: [String, StringList, SecureString]"
    )
    assert error(lambda: sfn.list_state_machines(maxResults=5000))["Error"]["Message"] == (
        "1 validation error detected: Value '5000' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000"
    )
    assert error(lambda: events.put_rule(Name="contain now", EventPattern="{}"))["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value 'contain now' at 'name' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+",
    }
    assert error(lambda: logs.create_log_group(logGroupName="/irlab/bad name"))["Error"] == {
        "Code": "InvalidParameterException",
        "Message": "1 validation error detected: Value '/irlab/bad name' at 'logGroupName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+",
    }
    assert error(lambda: ssm.describe_parameters(MaxResults="ten"))["Error"] == {
        "Code": "SerializationException",
        "Message": "STRING_VALUE can not be converted to an Integer",
    }
    refused = error(lambda: sqs.get_queue_url())
    assert refused["Error"]["Code"] == "MissingParameter"
    assert refused["ResponseMetadata"]["HTTPHeaders"]["x-amzn-query-error"] == "MissingParameter;Sender"
    status, _, body = json_call(emulator, "ssm", "AmazonSSM.GetParameter", {"Name": "p", "WithDecryptin": True})
    assert status == 400 and body["__type"] == "ValidationException"
    assert body["message"] == 'Unknown parameter in input: "WithDecryptin", must be one of: Name, WithDecryption'
    status, _, body = json_call(
        emulator,
        "events",
        "AWSEvents.PutTargets",
        {"Rule": "r", "Targets": [{"Id": "1", "Arn": "arn:aws:sns:us-east-1:123456789012:t", "RoleArnn": "x"}]},
    )
    assert status == 400 and body["message"].startswith('Unknown parameter in Targets[0]: "RoleArnn", must be one of: Id, Arn, ')
    # the target as a Smithy client (the Rust SDK) names it, without botocore's namespace
    status, _, body = json_call(emulator, "cloudtrail", "CloudTrail_20131101.GetTrailStatus", {})
    assert status == 400 and body["message"].endswith("Value null at 'name' failed to satisfy constraint: Member must not be null")
    assert logs.describe_log_groups()["logGroups"] == []
    assert events.list_rules()["Rules"] == []


def test_rest_json_services_refuse_in_their_error_shape(loose, emulator):
    """Lambda answers ``ValidationException`` (400, ``x-amzn-ErrorType``, a
    body with ``Type`` and ``message``: "1 validation error detected: Value
    '...' at 'functionName' failed to satisfy constraint: ..."), GuardDuty
    ``BadRequestException`` ("A bad request exception object"); members of a
    path, query string, header or JSON body are all checked.
    https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/CommonErrors.html
    """
    lam, gd = loose("lambda"), loose("guardduty")
    refused = error(lambda: lam.get_function(FunctionName="irlab playbook"))
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ValidationException"
    assert refused["Error"]["Code"] == "ValidationException"
    assert refused["Error"]["Message"].startswith(
        "1 validation error detected: Value 'irlab playbook' at 'functionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
    )
    assert error(lambda: lam.list_functions(MaxItems=100000))["Error"]["Message"] == (
        "1 validation error detected: Value '100000' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000"
    )
    assert error(lambda: lam.invoke(FunctionName="f", InvocationType="Async"))["Error"]["Message"] == (
        "1 validation error detected: Value 'Async' at 'invocationType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
    )
    refused = error(lambda: gd.list_detectors(MaxResults=1000))
    assert refused["Error"]["Code"] == "BadRequestException"
    assert refused["Error"]["Message"] == (
        "1 validation error detected: Value '1000' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"
    )
    status, headers, text = send(
        emulator,
        "lambda",
        method="PUT",
        path="/2015-03-31/functions/f/configuration",
        body=json.dumps({"Timeout": 5, "Timout": 3}),
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(text)["Type"] == "User"
    assert json.loads(text)["message"].startswith('Unknown parameter in input: "Timout", must be one of: ')
    status, headers, text = send(
        emulator, "guardduty", path="/detector", body=json.dumps({"enable": True, "findingPublishingFrequncy": "SIX_HOURS"}),
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and headers["x-amzn-ErrorType"] == "BadRequestException"
    assert gd.list_detectors()["DetectorIds"] == []


def test_s3_refuses_malformed_xml_and_invalid_arguments(loose, emulator):
    """S3 answers a request body that breaks its schema with ``MalformedXML``
    ("The XML you provided was not well-formed or did not validate against our
    published schema") and a bad argument with ``InvalidArgument``, both 400 in
    ``<Error>`` (the argument's name and value in ``ArgumentName`` and
    ``ArgumentValue``). Objects stay.
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
    """
    s3 = loose("s3")
    bucket = unique("validation")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="evidence.json", Body=b"{}")
    refused = error(lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys="ten"))
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused["Error"]["Code"] == "InvalidArgument"
    assert (refused["Error"]["ArgumentName"], refused["Error"]["ArgumentValue"]) == ("max-keys", "ten")
    body = (
        '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Kee>evidence.json</Kee></Object></Delete>'
    )
    status, _, text = send(
        emulator, "s3", path=f"/{bucket}?delete", body=body, headers={"Content-Type": "application/xml"}
    )
    assert status == 400
    assert xml_error(text) == (
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["evidence.json"]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "evidence.json"}]})
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_several_violations_and_nested_members_are_reported_like_aws(loose):
    """AWS lists every violation ("2 validation errors detected: Value '' at
    'stackName' failed to satisfy constraint: Member must satisfy regular
    expression pattern: ...; Value '' at 'stackName' failed to satisfy
    constraint: Member must have length greater than or equal to 1"), names a
    list member by position ("Value '...' at 'tags.1.member.value' failed to
    satisfy constraint: Member must have length less than or equal to 256"),
    and reports list elements and map values at the collection ("Value
    '[CAPABILITY_IAM, ...]' at 'capabilities' failed to satisfy constraint:
    Member must satisfy constraint: [Member must satisfy enum value set: ...]",
    "Map value must satisfy constraint: [Member must have length less than or
    equal to 256, Member must have length greater than or equal to 0, Member
    must satisfy regular expression pattern: ...]"). Java patterns work:
    ``\\p{L}`` takes letters of every script, ``!`` is no tag character.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html
    https://docs.aws.amazon.com/lambda/latest/api/API_TagResource.html
    """
    iam, cf, lam = loose("iam"), loose("cloudformation"), loose("lambda")
    assert error(lambda: iam.create_role(RoleName="", AssumeRolePolicyDocument="{}"))["Error"]["Message"] == (
        "2 validation errors detected: "
        r"Value '' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+; "
        "Value '' at 'roleName' failed to satisfy constraint: Member must have length greater than or equal to 1"
    )
    body = '{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}'
    assert error(lambda: cf.create_stack(StackName="s", TemplateBody=body, Tags=[{"Key": "irlab:lab", "Value": "x" * 257}]))[
        "Error"
    ]["Message"] == (
        f"1 validation error detected: Value '{'x' * 257}' at 'tags.1.member.value' failed to satisfy constraint: "
        "Member must have length less than or equal to 256"
    )
    assert error(lambda: cf.create_stack(StackName="s", TemplateBody=body, Capabilities=["CAPABILITY_IAM", "CAPABILITY_ALL"]))[
        "Error"
    ]["Message"] == (
        "1 validation error detected: Value '[CAPABILITY_IAM, CAPABILITY_ALL]' at 'capabilities' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND]]"
    )
    assert cf.list_stacks()["StackSummaries"] == []
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:f"
    assert error(lambda: lam.tag_resource(Resource=arn, Tags={"irlab:lab": "y" * 300}))["Error"]["Message"] == (
        f"1 validation error detected: Value '{{irlab:lab={'y' * 300}}}' at 'tags' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 256, "
        r"Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: ([\p{L}\p{Z}\p{N}_.:/=+\-@]*)]"
    )
    iam.create_role(RoleName="analyst", AssumeRolePolicyDocument="{}")
    iam.tag_role(RoleName="analyst", Tags=[{"Key": "équipe", "Value": "réponse à incident"}])
    assert error(lambda: iam.tag_role(RoleName="analyst", Tags=[{"Key": "k", "Value": "contained!"}]))["Error"]["Message"] == (
        "1 validation error detected: Value 'contained!' at 'tags.1.member.value' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*"
    )
    assert iam.list_role_tags(RoleName="analyst")["Tags"] == [{"Key": "équipe", "Value": "réponse à incident"}]


def test_a_newer_sdk_model_may_add_members_and_enum_values(aws, emulator, caplog):
    """irlab's Rust SDK crates come from AWS's current models, which can be
    newer than the stand-in's botocore: a member or enum value botocore lacks
    may be real. From another AWS SDK's client (its User-Agent) such a member is
    accepted and logged; a missing or malformed member is refused all the same,
    and a botocore client (the stand-in's own engines, the tests) gets the
    unknown member refused. The Rust SDK sends ``User-Agent: aws-sdk-rust/<version> ...``.
    https://docs.rs/aws-runtime/latest/aws_runtime/user_agent/index.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html
    """
    aws("ssm").put_parameter(Name="/irlab/lease", Value="lab", Type="String")
    payload = {"Name": "/irlab/lease", "WithDecryption": False, "NewerMember": "x"}
    with caplog.at_level(logging.WARNING, logger="irlab_emulator.request_validation"):
        status, _, body = json_call(emulator, "ssm", "AmazonSSM.GetParameter", payload, agent=RUST_AGENT)
    assert status == 200 and body["Parameter"]["Value"] == "lab"
    assert any("NewerMember" in r.getMessage() and "aws-sdk-rust" in r.getMessage() for r in caplog.records)
    rule = {"Name": "contain", "EventPattern": "{}", "State": "ENABLED_IN_A_NEWER_MODEL"}
    status, _, body = json_call(emulator, "events", "AWSEvents.PutRule", rule, agent=RUST_AGENT)
    assert status == 200 and body["RuleArn"].endswith(":rule/contain")
    status, _, body = json_call(emulator, "events", "AWSEvents.PutRule", {**rule, "Name": "contain2"})
    assert status == 400 and "Member must satisfy enum value set: [ENABLED, DISABLED, " in body["message"]
    status, _, body = json_call(emulator, "ssm", "AmazonSSM.GetParameter", {"WithDecryption": False}, agent=RUST_AGENT)
    assert status == 400 and body["message"].endswith("Value null at 'name' failed to satisfy constraint: Member must not be null")
    status, _, body = json_call(emulator, "ssm", "AmazonSSM.GetParameter", {"Name": "x" * 2049}, agent=RUST_AGENT)
    assert status == 400 and "Member must have length less than or equal to 2048" in body["message"]
    agent = "Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux lang/python#3.11.7 Botocore/1.44.8"
    status, _, body = json_call(emulator, "ssm", "AmazonSSM.GetParameter", payload, agent=agent)
    assert status == 400 and body["message"].startswith('Unknown parameter in input: "NewerMember"')


def test_the_engines_requests_are_validated(aws, emulator):
    """The playbook engines' calls are checked like any client's: an AWS SDK
    task of Step Functions whose parameters break a constraint fails with the
    service's error under its Step Functions name (``Ssm.ValidationException``,
    "<service>.<exception>"), and so does an Automation ``aws:executeAwsApi``
    step (the step fails with the service's message).
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html
    """
    sfn, ssm = aws("stepfunctions"), aws("ssm")
    definition = {
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:ssm:getParameter",
                "Parameters": {"Name.$": "$.name"},
                "End": True,
            }
        },
    }
    iam = aws("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=unique("playbook"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="all", PolicyDocument=json.dumps(everything))
    arn = sfn.create_state_machine(name=unique("sm"), definition=json.dumps(definition), roleArn=role["Arn"])[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"name": "x" * 2049}))["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert described["status"] == "FAILED"
    assert described["error"] == "Ssm.ValidationException"
    assert "Member must have length less than or equal to 2048" in described["cause"]

    runbook = unique("rb")
    ssm.create_document(
        Name=runbook,
        DocumentType="Automation",
        DocumentFormat="JSON",
        Content=json.dumps(
            {
                "schemaVersion": "0.3",
                "mainSteps": [
                    {
                        "name": "Tag",
                        "action": "aws:executeAwsApi",
                        "inputs": {"Service": "events", "Api": "PutRule", "Name": "contain now", "EventPattern": "{}"},
                    }
                ],
            }
        ),
    )
    execution_id = ssm.start_automation_execution(DocumentName=runbook)["AutomationExecutionId"]
    deadline = time.monotonic() + 30
    while (run := ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"])[
        "AutomationExecutionStatus"
    ] in ("Pending", "InProgress") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run["AutomationExecutionStatus"] == "Failed"
    [step] = run["StepExecutions"]
    assert "ValidationException" in step["FailureMessage"] and "at 'name' failed to satisfy constraint" in step["FailureMessage"]
    assert aws("events").list_rules()["Rules"] == []


def test_validation_can_warn_instead_of_refusing(loose, monkeypatch):
    """``IRLAB_REQUEST_VALIDATION=warn`` logs what would be refused and lets it
    through; ``off`` skips the check (a way out while a false refusal is fixed).
    The default refuses ("ValidationException ... 400").
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html
    """
    events = loose("events")
    assert error(lambda: events.put_rule(Name="contain now", EventPattern="{}"))["Error"]["Code"] == "ValidationException"
    monkeypatch.setenv("IRLAB_REQUEST_VALIDATION", "warn")
    events.put_rule(Name="contain now", EventPattern="{}")
    monkeypatch.setenv("IRLAB_REQUEST_VALIDATION", "off")
    events.put_rule(Name="contain later", EventPattern="{}")
    assert sorted(r["Name"] for r in events.list_rules()["Rules"]) == ["contain later", "contain now"]


def test_get_role_policy_returns_a_cloudformation_policy_as_url_encoded_json(aws, emulator):
    """GetRolePolicy: "The policy document returned in this structure is
    URL-encoded compliant with RFC 3986" - JSON, also for an inline policy
    that CloudFormation created from a template's ``Policies`` (moto answered the
    Python repr of the dict: ``{'Version': '2012-10-17', ...}``).
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html
    """
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ec2:CreateSnapshot"], "Resource": "*"}],
    }
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
                    },
                    "Policies": [{"PolicyName": "evidence", "PolicyDocument": document}],
                },
            }
        },
        "Outputs": {"Name": {"Value": {"Ref": "Role"}}},
    }
    cf, iam = aws("cloudformation"), aws("iam")
    stack = create_stack(cf, unique("role"), json.dumps(template))
    role = stack["Outputs"][0]["OutputValue"]
    assert iam.get_role_policy(RoleName=role, PolicyName="evidence")["PolicyDocument"] == document  # boto3 decodes it
    status, _, text = form(
        emulator, "iam", {"Action": "GetRolePolicy", "Version": "2010-05-08", "RoleName": role, "PolicyName": "evidence"}
    )
    assert status == 200
    encoded = next(e.text for e in ElementTree.fromstring(text).iter() if e.tag.endswith("PolicyDocument"))
    assert encoded is not None and encoded.startswith("%7B")  # URL-encoded, not a repr
    assert json.loads(unquote(encoded)) == document


def test_a_template_body_over_51200_bytes_is_refused(aws):
    """CloudFormation takes a TemplateBody of at most 51,200 bytes; a larger template must come by
    TemplateURL from S3 (up to 1 MB). botocore's model states only the minimum, so moto took any
    size and a template that grew past the limit passed here and failed on AWS.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"""
    cf = aws("cloudformation")
    padding = "#" + "x" * 99 + "\n"
    body = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
    big = body + padding * (51_200 // len(padding) + 1)
    assert len(big.encode()) > 51_200
    with pytest.raises(ClientError) as e:
        cf.create_stack(StackName=unique("too-big"), TemplateBody=big)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "Member must have length less than or equal to 51200" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        cf.create_change_set(StackName=unique("too-big"), ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=big)
    fits = body + padding * ((51_200 - len(body)) // len(padding))
    assert len(fits.encode()) <= 51_200
    name = unique("fits")
    cf.create_stack(StackName=name, TemplateBody=fits)
    cf.delete_stack(StackName=name)
