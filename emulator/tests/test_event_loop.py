"""End to end: a finding event, an EventBridge rule from CloudFormation, a
Python Lambda function that acts through the SDK, and a queue."""

from __future__ import annotations

import json

from conftest import create_stack, eventually, template, wait_idle

AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def _finding(instance_id: str, finding_type: str, severity: float, finding_id: str) -> dict:
    return {
        "schemaVersion": "2.0",
        "id": finding_id,
        "type": finding_type,
        "severity": severity,
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": instance_id}},
        "service": {"additionalInfo": {"sample": False}},
    }


def _put(events, detail: dict) -> str:
    result = events.put_events(
        Entries=[{"Source": "irlab.simulation", "DetailType": "GuardDuty Finding", "Detail": json.dumps(detail)}]
    )
    assert result["FailedEntryCount"] == 0
    return result["Entries"][0]["EventId"]


def _tags(ec2, instance_id: str) -> dict[str, str]:
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id]}])["Tags"]
    return {t["Key"]: t["Value"] for t in tags}


def test_finding_event_runs_the_lambda_playbook_and_reaches_the_queue(aws, emulator):
    """A stack with an AWS::Events::Rule (sources aws.guardduty and
    irlab.simulation, a prefix pattern on detail.type and numeric >= on
    detail.severity), a Lambda target (inline Python calling EC2 CreateTags
    through boto3, allowed by AWS::Lambda::Permission) and an SQS target
    (allowed by the queue policy): PutEvents with a matching finding makes
    EventBridge invoke the function asynchronously - the instance gets its
    tags, the function's log group (LoggingConfig) has the START, END and
    REPORT lines - and send the event to the queue. An event that does not
    match (severity, type) changes nothing; a DISABLED rule delivers nothing.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    """
    cf, ec2, events, sqs, logs, ssm = (aws(s) for s in ("cloudformation", "ec2", "events", "sqs", "logs", "ssm"))
    image = ssm.get_parameter(Name=AL2023)["Parameter"]["Value"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]["InstanceId"]
    stack = create_stack(cf, "loop", template("event_loop.yaml"))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    # not matching: severity too low, type outside the prefixes
    _put(events, _finding(instance, "UnauthorizedAccess:EC2/TorClient", 5, "low"))
    _put(events, _finding(instance, "Recon:EC2/PortProbeUnprotectedPort", 8, "other"))
    wait_idle(emulator.endpoint)
    assert _tags(ec2, instance) == {}
    assert sqs.receive_message(QueueUrl=out["QueueUrl"]).get("Messages") is None
    assert logs.describe_log_streams(logGroupName=out["LogGroupName"])["logStreams"] == []

    event_id = _put(events, _finding(instance, "UnauthorizedAccess:EC2/TorClient", 8, "tor-1"))
    assert eventually(lambda: _tags(ec2, instance).get("irlab:ir-status") == "contained", timeout=30)
    assert _tags(ec2, instance)["irlab:finding-id"] == "tor-1"
    messages = eventually(lambda: sqs.receive_message(QueueUrl=out["QueueUrl"]).get("Messages"))
    event = json.loads(messages[0]["Body"])
    assert event["id"] == event_id and event["detail"]["id"] == "tor-1" and event["source"] == "irlab.simulation"
    wait_idle(emulator.endpoint)
    lines = [
        e["message"]
        for s in logs.describe_log_streams(logGroupName=out["LogGroupName"])["logStreams"]
        for e in logs.get_log_events(logGroupName=out["LogGroupName"], logStreamName=s["logStreamName"])["events"]
    ]
    assert lines[0].startswith("START RequestId: ")
    assert f"containing {instance} for UnauthorizedAccess:EC2/TorClient" in lines
    assert lines[-2].startswith("END RequestId: ") and lines[-1].startswith("REPORT RequestId: ")
    assert "errorType" not in "".join(lines)

    # the same stack with the rule DISABLED
    ec2.delete_tags(Resources=[instance], Tags=[{"Key": "irlab:ir-status"}, {"Key": "irlab:finding-id"}])
    cf.update_stack(
        StackName="loop", TemplateBody=template("event_loop.yaml"), Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "State", "ParameterValue": "DISABLED"}],
    )
    assert events.describe_rule(Name=out["RuleName"])["State"] == "DISABLED"
    _put(events, _finding(instance, "CryptoCurrency:EC2/BitcoinTool.B!DNS", 8, "mining-1"))
    wait_idle(emulator.endpoint)
    assert _tags(ec2, instance) == {}
    assert sqs.receive_message(QueueUrl=out["QueueUrl"]).get("Messages") is None

    cf.delete_stack(StackName="loop")
    assert cf.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert events.list_rules()["Rules"] == [] and aws("lambda").list_functions()["Functions"] == []
