"""The lab's Lambda playbook (stacks/playbook-lambda.yaml) on top of
stacks/detection.yaml and stacks/victim.yaml: an injected GuardDuty finding
contains the victim."""

from __future__ import annotations

import json

import pytest

from conftest import REPO_ROOT, create_stack, eventually, wait_idle

STACKS = REPO_ROOT / "stacks"
DETECTION, VICTIM, PLAYBOOK = (STACKS / f for f in ("detection.yaml", "victim.yaml", "playbook-lambda.yaml"))
LAB = "t1"
TAGS = [{"Key": "irlab:lab", "Value": LAB}]

pytestmark = pytest.mark.skipif(
    not all(p.exists() for p in (DETECTION, VICTIM, PLAYBOOK)), reason="the lab templates are not in stacks/"
)


def _outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _finding(instance_id: str) -> dict:
    return {
        "schemaVersion": "2.0",
        "accountId": "123456789012",
        "region": "us-east-1",
        "partition": "aws",
        "id": "irlab-sim-tor-0001",
        "arn": "arn:aws:guardduty:us-east-1:123456789012:detector/d1/finding/irlab-sim-tor-0001",
        "type": "UnauthorizedAccess:EC2/TorClient",
        "title": "EC2 instance communicating with Tor entry nodes.",
        "severity": 8,
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": instance_id}},
        "service": {"serviceName": "guardduty", "count": 1, "additionalInfo": {"sample": False}},
    }


def test_lambda_playbook_contains_the_victim(aws, emulator):
    """With detection, victim and the Lambda playbook deployed (parameters from
    the first two stacks' outputs, stack tag irlab:lab), a GuardDuty finding
    event (source irlab.simulation, type UnauthorizedAccess:EC2/TorClient,
    severity 8, naming the victim) is delivered by the rule to the function and
    to the audit queue. The function contains the instance as the playbook
    describes, through the EC2 and SNS APIs: every network interface carries
    only the quarantine group, no instance profile is associated, termination
    and stop protection are on, every volume has a snapshot tagged with the
    lab, the instance is tagged irlab:ir-status=contained; the audit queue gets
    the event and the SNS notification.
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyNetworkInterfaceAttribute.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisassociateIamInstanceProfile.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshot.html
    """
    cf, ec2, events, sqs, logs = (aws(s) for s in ("cloudformation", "ec2", "events", "sqs", "logs"))
    detection = create_stack(cf, f"irlab-{LAB}-detection", DETECTION.read_text(), {"LabName": LAB}, Tags=TAGS)
    assert detection["StackStatus"] == "CREATE_COMPLETE", detection.get("StackStatusReason")
    victim = create_stack(cf, f"irlab-{LAB}-victim", VICTIM.read_text(), {"LabName": LAB}, Tags=TAGS)
    assert victim["StackStatus"] == "CREATE_COMPLETE", victim.get("StackStatusReason")
    d_out, v_out = _outputs(detection), _outputs(victim)
    playbook = create_stack(
        cf,
        f"irlab-{LAB}-playbook",
        PLAYBOOK.read_text(),
        {
            "LabName": LAB,
            "AlertTopicArn": d_out["AlertTopicArn"],
            "AuditQueueArn": d_out["AuditQueueArn"],
            "QuarantineSecurityGroupId": v_out["QuarantineSecurityGroupId"],
            "VpcId": v_out["VpcId"],
        },
        Tags=TAGS,
    )
    assert playbook["StackStatus"] == "CREATE_COMPLETE", playbook.get("StackStatusReason") or [
        e.get("ResourceStatusReason") for e in cf.describe_stack_events(StackName=f"irlab-{LAB}-playbook")["StackEvents"]
        if e["ResourceStatus"].endswith("FAILED")
    ]
    p_out = _outputs(playbook)
    instance_id = v_out["InstanceId"]

    result = events.put_events(
        Entries=[{"Source": "irlab.simulation", "DetailType": "GuardDuty Finding", "Detail": json.dumps(_finding(instance_id))}]
    )
    assert result["FailedEntryCount"] == 0
    event_id = result["Entries"][0]["EventId"]

    def tags() -> dict[str, str]:
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}

    status = eventually(lambda: tags().get("irlab:ir-status") in ("contained", "failed") and tags()["irlab:ir-status"], timeout=60)
    wait_idle(emulator.endpoint)
    log_lines = [
        e["message"]
        for s in logs.describe_log_streams(logGroupName=p_out["LogGroupName"])["logStreams"]
        for e in logs.get_log_events(logGroupName=p_out["LogGroupName"], logStreamName=s["logStreamName"])["events"]
    ]
    assert status == "contained", "\n".join(log_lines)
    assert log_lines[0].startswith("START RequestId: ") and log_lines[-1].startswith("REPORT RequestId: ")

    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    quarantine = v_out["QuarantineSecurityGroupId"]
    assert instance["NetworkInterfaces"]
    for interface in instance["NetworkInterfaces"]:
        assert [g["GroupId"] for g in interface["Groups"]] == [quarantine]
    assert ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}, {"Name": "state", "Values": ["associated"]}]
    )["IamInstanceProfileAssociations"] == []
    for attribute, key in (("disableApiTermination", "DisableApiTermination"), ("disableApiStop", "DisableApiStop")):
        assert ec2.describe_instance_attribute(InstanceId=instance_id, Attribute=attribute)[key]["Value"] is True
    volumes = [m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"]]
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "tag:irlab:lab", "Values": [LAB]}], OwnerIds=["self"])["Snapshots"]
    assert sorted(s["VolumeId"] for s in snapshots) == sorted(volumes)
    instance_tags = tags()
    assert instance_tags["irlab:ir-status"] == "contained" and instance_tags["irlab:finding-id"] == "irlab-sim-tor-0001"

    queue_url = sqs.get_queue_url(QueueName=d_out["AuditQueueArn"].rsplit(":", 1)[1])["QueueUrl"]
    bodies: list[dict] = []

    def audit() -> bool:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
        return any(b.get("id") == event_id for b in bodies) and any(b.get("Type") == "Notification" for b in bodies)

    assert eventually(audit, timeout=20), bodies
    notification = next(b for b in bodies if b.get("Type") == "Notification")
    assert notification["TopicArn"] == d_out["AlertTopicArn"]
    assert instance_id in notification["Subject"] and "contained" in notification["Subject"]
    dlq = sqs.get_queue_url(QueueName=f"irlab-{LAB}-playbook-lambda-dlq")["QueueUrl"]
    assert sqs.receive_message(QueueUrl=dlq).get("Messages") is None


def _engine_failures(aws, engine: str) -> list:
    """What the engine says went wrong (for the assertion message)."""
    found: list = []
    if engine == "ssm":
        ssm = aws("ssm")
        for meta in ssm.describe_automation_executions()["AutomationExecutionMetadataList"]:
            execution = ssm.get_automation_execution(AutomationExecutionId=meta["AutomationExecutionId"])["AutomationExecution"]
            found.append((execution["AutomationExecutionStatus"], execution.get("FailureMessage")))
            found.extend((s["StepName"], s.get("FailureMessage")) for s in execution["StepExecutions"] if s["StepStatus"] != "Success")
    else:
        sfn = aws("stepfunctions")
        for machine in sfn.list_state_machines()["stateMachines"]:
            for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                found.append((described["status"], described.get("error"), described.get("cause")))
    return found


@pytest.mark.parametrize("engine", ["stepfunctions", "ssm"])
def test_playbook_rules_start_their_engines(aws, emulator, engine):
    """The rules of stacks/playbook-stepfunctions.yaml and playbook-ssm.yaml
    route the same injected finding to their engine through EventBridge: a
    Step Functions target (StartExecution with the event as input, the
    target's RoleArn) or an SSM Automation target (automation-definition ARN,
    RoleArn, InputTransformer giving the runbook parameters). The engine
    contains the victim; the audit queue gets the event; the dead-letter queue
    stays empty.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-cwe-target.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
    """
    template = STACKS / f"playbook-{engine}.yaml"
    if not template.exists():
        pytest.skip(f"stacks/{template.name} is not there")
    from test_lab_playbooks import assert_contained, deploy
    from test_stepfunctions import set_wait_scale

    events, sqs = aws("events"), aws("sqs")
    # The Step Functions playbook waits 60 s between snapshot checks; the SSM
    # one has executeScript steps with 60-120 s timeouts, which the scale
    # shortens too (0.01 would leave a Python start-up 0.6 s).
    set_wait_scale(emulator, 0.01 if engine == "stepfunctions" else 0.2)
    detection, victim, _ = deploy(aws("cloudformation"), template, "playbook")
    instance_id = victim["InstanceId"]
    result = events.put_events(
        Entries=[{"Source": "irlab.simulation", "DetailType": "GuardDuty Finding", "Detail": json.dumps(_finding(instance_id))}]
    )
    assert result["FailedEntryCount"] == 0

    def status() -> str | None:
        instance = aws("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        value = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get("irlab:ir-status")
        return value if value in ("contained", "failed") else None

    outcome = eventually(status, timeout=60)
    assert outcome == "contained", _engine_failures(aws, engine)
    assert_contained(aws, victim)
    queue_url = sqs.get_queue_url(QueueName=detection["AuditQueueArn"].rsplit(":", 1)[1])["QueueUrl"]
    ids: list[str] = []

    def audit() -> bool:
        ids.extend(json.loads(m["Body"]).get("id", "") for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []))
        return result["Entries"][0]["EventId"] in ids

    assert eventually(audit, timeout=20)
    dlq = sqs.get_queue_url(QueueName=f"irlab-{LAB}-playbook-{engine}-dlq")["QueueUrl"]
    assert sqs.receive_message(QueueUrl=dlq).get("Messages") is None
