"""Lambda: Python handlers run without Docker (patches/awslambda.py), and the
CloudFormation resources around a function."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, create_stack, physical_ids, unique, wait_idle
from iam_roles import service_role

HANDLER = '''import json, logging, os
import boto3

log = logging.getLogger()
log.setLevel(logging.INFO)


def handler(event, context):
    print("event:", json.dumps(event, sort_keys=True))
    log.info("tagging %s", event.get("instance"))
    if event.get("fail"):
        raise ValueError("cannot contain " + event["fail"])
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    if event.get("instance"):
        boto3.client("ec2").create_tags(Resources=[event["instance"]], Tags=[{"Key": "irlab:ir-status", "Value": "contained"}])
    return {
        "function": context.function_name,
        "requestId": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remainingMs": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "logGroup": context.log_group_name,
        "env": {k: os.environ.get(k) for k in ("LAB", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_LAMBDA_LOG_GROUP_NAME")},
    }
'''


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def _function(aws, name: str, **kwargs) -> str:
    role = service_role(aws("iam"), "lambda.amazonaws.com", unique("fn-role"))
    spec = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": role,
        "Handler": "index.handler",
        "Code": {"ZipFile": _zip(HANDLER)},
        "Timeout": 5,
        "Environment": {"Variables": {"LAB": "t1"}},
    }
    spec.update(kwargs)
    return aws("lambda").create_function(**spec)["FunctionArn"]


def _instance(ec2) -> str:
    image = ec2.describe_images()["Images"][0]["ImageId"]
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]["InstanceId"]


def _log_lines(logs, group: str) -> list[str]:
    lines: list[str] = []
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        lines.extend(e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"])
    return lines


def test_request_response_runs_the_python_handler_against_the_stand_in(aws, emulator):
    """Invoke (RequestResponse) runs the handler with the event and a context
    object (function_name, aws_request_id, invoked_function_arn,
    memory_limit_in_mb, log_group_name, get_remaining_time_in_millis() within
    the Timeout) and returns its JSON result; the environment holds the
    function's variables and the reserved ones (AWS_REGION,
    AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_LOG_GROUP_NAME ...), and the SDK's
    calls (here EC2 CreateTags, through AWS_ENDPOINT_URL) reach the stand-in.
    The output and the START / END / REPORT RequestId lines go to the log group
    /aws/lambda/NAME, in a stream named YYYY/MM/DD/[$LATEST]...; LogType Tail
    returns the end of that log base64-encoded.
    https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html
    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html (defined runtime environment variables)
    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
    """
    lam, ec2, logs = aws("lambda"), aws("ec2"), aws("logs")
    arn = _function(aws, "contain")
    instance = _instance(ec2)
    response = lam.invoke(FunctionName="contain", Payload=json.dumps({"instance": instance}), LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    assert result["function"] == "contain" and result["arn"] == arn and result["memory"] == 128
    assert 0 < result["remainingMs"] <= 5000
    assert result["logGroup"] == "/aws/lambda/contain"
    env = dict(result["env"])
    # the execution role's session: temporary credentials STS issued (ASIA...)
    assert env.pop("AWS_ACCESS_KEY_ID").startswith("ASIA")
    assert env == {
        "LAB": "t1",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": "contain",
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/contain",
    }
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance]}])["Tags"]
    assert {(t["Key"], t["Value"]) for t in tags} == {("irlab:ir-status", "contained")}

    request_id = result["requestId"]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {request_id}" in tail and f"REPORT RequestId: {request_id}" in tail
    [stream] = logs.describe_log_streams(logGroupName="/aws/lambda/contain")["logStreams"]
    assert stream["logStreamName"].split("/")[3].startswith("[$LATEST]")
    lines = _log_lines(logs, "/aws/lambda/contain")
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert f'event: {{"instance": "{instance}"}}' in lines
    assert any(line.startswith("[INFO]\t") and line.endswith(f"\t{request_id}\ttagging {instance}") for line in lines)
    assert lines[-2] == f"END RequestId: {request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ") and "\tBilled Duration: " in lines[-1]
    assert "\tMemory Size: 128 MB\tMax Memory Used: " in lines[-1]


def test_handler_errors_and_timeouts(aws):
    """An exception in the handler: the invocation returns 200 with
    X-Amz-Function-Error Unhandled and the runtime's error document
    (errorMessage, errorType, requestId, stackTrace), and the error is logged.
    A handler still running at the function's Timeout is stopped: the error
    type is Sandbox.Timedout ("Task timed out after N seconds") and the REPORT
    line ends with "Status: timeout". A missing handler is
    Runtime.HandlerNotFound.
    https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html
    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html (FunctionError)
    """
    lam, logs = aws("lambda"), aws("logs")
    _function(aws, "fails", Timeout=1)
    response = lam.invoke(FunctionName="fails", Payload=json.dumps({"fail": "i-1"}))
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "cannot contain i-1"
    assert error["requestId"] and any("in handler" in line for line in error["stackTrace"])
    assert any(line.startswith("[ERROR] ValueError: cannot contain i-1") for line in _log_lines(logs, "/aws/lambda/fails"))

    response = lam.invoke(FunctionName="fails", Payload=json.dumps({"sleep": 5}))
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout" and "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert any(line.endswith("\tStatus: timeout") for line in _log_lines(logs, "/aws/lambda/fails"))

    lam.update_function_configuration(FunctionName="fails", Handler="index.missing")
    response = lam.invoke(FunctionName="fails", Payload=b"{}")
    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.HandlerNotFound"

    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="fails", Payload=b"{not json")
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_event_invocation_runs_in_the_background_and_logs_to_logging_config_group(aws, emulator):
    """InvocationType Event queues the event and answers 202 at once; the
    function runs afterwards. DryRun only checks (204) and runs nothing. With
    LoggingConfig.LogGroup the function logs to that group instead of
    /aws/lambda/NAME; GetFunctionConfiguration returns LoggingConfig (LogFormat
    Text and the default group when none was given).
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html
    https://docs.aws.amazon.com/lambda/latest/api/API_LoggingConfig.html
    """
    lam, ec2, logs = aws("lambda"), aws("ec2"), aws("logs")
    logs.create_log_group(logGroupName="irlab-t1-playbook")
    _function(aws, "async-contain", LoggingConfig={"LogFormat": "Text", "LogGroup": "irlab-t1-playbook"})
    assert lam.get_function_configuration(FunctionName="async-contain")["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "irlab-t1-playbook",
    }
    _function(aws, "plain")
    assert lam.get_function(FunctionName="plain")["Configuration"]["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/aws/lambda/plain",
    }
    instance = _instance(ec2)
    assert lam.invoke(FunctionName="async-contain", InvocationType="DryRun", Payload=json.dumps({"instance": instance}))["StatusCode"] == 204
    response = lam.invoke(FunctionName="async-contain", InvocationType="Event", Payload=json.dumps({"instance": instance}))
    assert response["StatusCode"] == 202
    wait_idle(emulator.endpoint)
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("irlab:ir-status", "contained")]
    lines = _log_lines(logs, "irlab-t1-playbook")
    assert len([line for line in lines if line.startswith("START RequestId: ")]) == 1
    assert any(line.startswith("REPORT RequestId: ") for line in lines)
    with pytest.raises(ClientError):
        logs.describe_log_streams(logGroupName="/aws/lambda/async-contain")["logStreams"][0]


def test_cfn_function_with_inline_code_logging_config_permission_and_log_group(aws):
    """AWS::Lambda::Function with Code.ZipFile: CloudFormation puts the inline
    source in a file named index (Handler index.handler) next to the
    cfnresponse module; LoggingConfig, Environment, Timeout, MemorySize and
    Tags apply, the stack tags propagate. AWS::Logs::LogGroup takes
    RetentionInDays and Tags (GetAtt Arn ends in ":*"); AWS::Lambda::Permission
    adds a statement to the function policy; AWS::Lambda::EventInvokeConfig
    sets the asynchronous settings. An update of the inline code or of the
    retention happens in place; deleting the stack removes everything.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-function.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-function-code.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-logs-loggroup.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-permission.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-eventinvokeconfig.html
    """
    cf, lam, logs = aws("cloudformation"), aws("lambda"), aws("logs")
    body = """
Parameters:
  Retention: {Type: Number, Default: 7}
  Greeting: {Type: String, Default: hello}
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: irlab-cfn-fn
      RetentionInDays: !Ref Retention
      Tags: [{Key: purpose, Value: playbook}]
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}]}
      ManagedPolicyArns: [!Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Timeout: 30
      MemorySize: 256
      LoggingConfig: {LogGroup: !Ref Logs, LogFormat: Text}
      Environment: {Variables: {GREETING: !Ref Greeting}}
      Tags: [{Key: engine, Value: lambda}]
      Code:
        ZipFile: !Sub |
          import os, cfnresponse
          def handler(event, context):
              print("${Greeting} from", context.function_name)
              return {"greeting": os.environ["GREETING"], "cfnresponse": cfnresponse.SUCCESS}
  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Fn
      Action: lambda:InvokeFunction
      Principal: events.amazonaws.com
      SourceAccount: !Ref AWS::AccountId
  InvokeConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Fn
      Qualifier: $LATEST
      MaximumRetryAttempts: 0
Outputs:
  LogGroupArn: {Value: !GetAtt Logs.Arn}
"""
    name = unique("fn")
    stack = create_stack(cf, name, body, Tags=[{"Key": "irlab:lab", "Value": "t1"}])
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    ids = physical_ids(cf, name)
    fn = ids["Fn"]
    config = lam.get_function(FunctionName=fn)
    assert config["Configuration"]["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "irlab-cfn-fn"}
    assert config["Configuration"]["Timeout"] == 30 and config["Configuration"]["MemorySize"] == 256
    assert config["Tags"]["engine"] == "lambda" and config["Tags"]["irlab:lab"] == "t1"
    assert stack["Outputs"][0]["OutputValue"] == f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:irlab-cfn-fn:*"
    [group] = logs.describe_log_groups(logGroupNamePrefix="irlab-cfn-fn")["logGroups"]
    assert group["retentionInDays"] == 7
    tags = logs.list_tags_log_group(logGroupName="irlab-cfn-fn")["tags"]
    assert tags["purpose"] == "playbook" and tags["irlab:lab"] == "t1"
    assert tags["aws:cloudformation:logical-id"] == "Logs"
    policy = json.loads(lam.get_policy(FunctionName=fn)["Policy"])
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "events.amazonaws.com"}]
    assert lam.get_function_event_invoke_config(FunctionName=fn)["MaximumRetryAttempts"] == 0

    result = json.loads(lam.invoke(FunctionName=fn, Payload=b"{}")["Payload"].read())
    assert result == {"greeting": "hello", "cfnresponse": "SUCCESS"}
    assert any(line == f"hello from {fn}" for line in _log_lines(logs, "irlab-cfn-fn"))

    cf.update_stack(
        StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "14"}, {"ParameterKey": "Greeting", "ParameterValue": "hi"}],
    )
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert physical_ids(cf, name) == ids
    assert logs.describe_log_groups(logGroupNamePrefix="irlab-cfn-fn")["logGroups"][0]["retentionInDays"] == 14
    assert json.loads(lam.invoke(FunctionName=fn, Payload=b"{}")["Payload"].read())["greeting"] == "hi"

    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert lam.list_functions()["Functions"] == []
    assert logs.describe_log_groups(logGroupNamePrefix="irlab-cfn-fn")["logGroups"] == []
