"""The lab's Lambda playbook (stacks/playbook-lambda.yaml) on top of
stacks/detection.yaml and stacks/victim.yaml: an injected GuardDuty finding
contains the victim; the other two playbooks' rules start their engines; a
finding about any other instance (another lab's victim, GuardDuty's sample
placeholder) starts nothing in the lab; the audit log group keeps each lab's own
runs. For every engine: the same finding delivered again (overlapping, later, as
GuardDuty's update) contains the victim once, a run that loses its claim leaves
the rest to the winner, a new finding on a contained victim contains it again,
and two findings at once are both answered."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from conftest import REPO_ROOT, eventually, wait_idle
from test_lab_playbooks import assert_contained, audit_records, deploy

STACKS = REPO_ROOT / "stacks"
DETECTION, VICTIM, PLAYBOOK = (STACKS / f for f in ("detection.yaml", "victim.yaml", "playbook-lambda.yaml"))
LAB = "t1"
ENGINES = ("lambda", "stepfunctions", "ssm")

pytestmark = pytest.mark.skipif(
    not all(p.exists() for p in (DETECTION, VICTIM, PLAYBOOK)), reason="the lab templates are not in stacks/"
)


def _finding(
    instance_id: str, finding_id: str = "irlab-sim-tor-0001", count: int = 1, finding_type: str = "UnauthorizedAccess:EC2/TorClient"
) -> dict:
    return {
        "schemaVersion": "2.0",
        "accountId": "123456789012",
        "region": "us-east-1",
        "partition": "aws",
        "id": finding_id,
        "arn": f"arn:aws:guardduty:us-east-1:123456789012:detector/d1/finding/{finding_id}",
        "type": finding_type,
        "title": "EC2 instance communicating with Tor entry nodes.",
        "severity": 8,
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": instance_id}},
        "service": {"serviceName": "guardduty", "count": count, "additionalInfo": {"sample": False}},
    }


def _inject(events: Any, instance_id: str, finding_id: str) -> str:
    """A finding on the default bus as `irlab attack --mode inject` sends it; the event id."""
    return _inject_all(events, [_finding(instance_id, finding_id)])[0]


def _inject_all(events: Any, findings: list[dict]) -> list[str]:
    """Findings on the default bus in one PutEvents call, delivered back to
    back (the engines' runs overlap); the event ids."""
    result = events.put_events(
        Entries=[
            {"Source": "irlab.simulation", "DetailType": "GuardDuty Finding", "Detail": json.dumps(finding)}
            for finding in findings
        ]
    )
    assert result["FailedEntryCount"] == 0, result
    return [e["EventId"] for e in result["Entries"]]


def _simulate_guardduty(emulator: Any, detector_id: str, instance_id: str) -> str:
    """A real-shaped (non-sample) GuardDuty finding for a real instance, through
    the stand-in's simulation hook; it reaches the default bus as aws.guardduty.
    Returns the finding id."""
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/irlab/guardduty/findings",
        data=json.dumps({"detectorId": detector_id, "type": "UnauthorizedAccess:EC2/TorClient", "instanceId": instance_id}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # pragma: no cover - the message is the point
        raise AssertionError(f"simulation hook: {exc.code} {exc.read()!r}") from exc
    assert body["delivered"], body
    return body["findingId"]


def _status(aws: Any, instance_id: str) -> str | None:
    instance = aws("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    value = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get("irlab:ir-status")
    return value if value in ("contained", "failed") else None


def _runs(aws: Any, engine: str, lab: str) -> list[str]:
    """Every run the lab's engine has started (executions, automations,
    invocations of the playbook function)."""
    if engine == "stepfunctions":
        sfn = aws("stepfunctions")
        return [
            e["executionArn"]
            for m in sfn.list_state_machines()["stateMachines"]
            if m["name"] == f"irlab-{lab}-playbook-stepfunctions"
            for e in sfn.list_executions(stateMachineArn=m["stateMachineArn"])["executions"]
        ]
    if engine == "ssm":
        ssm = aws("ssm")
        # the runbook's name is generated; the tests deploy one ssm lab
        return [e["AutomationExecutionId"] for e in ssm.describe_automation_executions()["AutomationExecutionMetadataList"]]
    logs, group = aws("logs"), f"irlab-{lab}-playbook-lambda"
    return [
        e["message"]
        for e in logs.filter_log_events(logGroupName=group).get("events", [])
        if e["message"].startswith("START RequestId: ")
    ]


def _notifications(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("Type") == "Notification"]


def _engine_failures(aws, engine: str) -> list:
    """What the engine says went wrong (for the assertion message)."""
    found: list = []
    if engine == "ssm":
        ssm = aws("ssm")
        for meta in ssm.describe_automation_executions()["AutomationExecutionMetadataList"]:
            execution = ssm.get_automation_execution(AutomationExecutionId=meta["AutomationExecutionId"])["AutomationExecution"]
            found.append((execution["AutomationExecutionStatus"], execution.get("FailureMessage")))
            found.extend((s["StepName"], s.get("FailureMessage")) for s in execution["StepExecutions"] if s["StepStatus"] != "Success")
    elif engine == "stepfunctions":
        sfn = aws("stepfunctions")
        for machine in sfn.list_state_machines()["stateMachines"]:
            for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                found.append((described["status"], described.get("error"), described.get("cause")))
    else:
        logs = aws("logs")
        found.extend(e["message"] for e in logs.filter_log_events(logGroupName=f"irlab-{LAB}-playbook-lambda").get("events", []))
    return found


def _dead_letters(aws: Any, lab: str, engine: str) -> list[dict]:
    sqs = aws("sqs")
    dlq = sqs.get_queue_url(QueueName=f"irlab-{lab}-playbook-{engine}-dlq")["QueueUrl"]
    return sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])


def test_lambda_playbook_contains_the_victim(aws, emulator):
    """With detection, victim and the Lambda playbook deployed (parameters from
    the first two stacks' outputs - AlertTopicArn, AuditRecorderArn,
    InstanceId, QuarantineSecurityGroupId, SubnetId - stack tag irlab:lab), a
    GuardDuty finding event (source irlab.simulation, type
    UnauthorizedAccess:EC2/TorClient, severity 8, naming the victim) is
    delivered by the rule to the function and to the audit recorder. The
    function contains the instance as the playbook describes, through the EC2
    and SNS APIs: every network interface carries only the quarantine group, no
    instance profile is associated, termination and stop protection are on,
    every volume has a snapshot tagged with the lab, the instance is tagged
    irlab:ir-status=contained. The audit log group holds the event (unchanged,
    found by its finding id with FilterLogEvents) and the SNS notification
    (the envelope: Type Notification, TopicArn, Subject, Message), each one
    JSON line.
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html
    https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyNetworkInterfaceAttribute.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisassociateIamInstanceProfile.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshot.html
    """
    ec2, events, logs = (aws(s) for s in ("ec2", "events", "logs"))
    started_ms = int(time.time() * 1000) - 1000
    d_out, v_out, p_out = deploy(aws("cloudformation"), PLAYBOOK, "playbook")
    instance_id = v_out["InstanceId"]

    event_id = _inject(events, instance_id, "irlab-sim-tor-0001")

    def tags() -> dict[str, str]:
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}

    status = eventually(lambda: _status(aws, instance_id), timeout=60)
    wait_idle(emulator.endpoint)
    log_lines = [e["message"] for e in logs.filter_log_events(logGroupName=p_out["LogGroupName"])["events"]]
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

    # The audit trail, selectively: everything naming the finding id since the
    # run started - the event itself and the notification that quotes the id.
    group = d_out["AuditLogGroupName"]
    assert group == f"/irlab/{LAB}/audit"
    records: list[dict] = []

    def audit() -> bool:
        records[:] = audit_records(logs, group, term="irlab-sim-tor-0001", start_ms=started_ms)
        return any(r.get("id") == event_id for r in records) and bool(_notifications(records))

    assert eventually(audit, timeout=20), records
    event = next(r for r in records if r.get("id") == event_id)
    assert event["detail-type"] == "GuardDuty Finding" and event["source"] == "irlab.simulation"
    assert event["detail"] == _finding(instance_id)
    notification = _notifications(records)[0]
    assert notification["TopicArn"] == d_out["AlertTopicArn"]
    assert instance_id in notification["Subject"] and "contained" in notification["Subject"]
    assert "Finding id: irlab-sim-tor-0001" in notification["Message"]
    # ... and completely: nothing but this run's event and notification.
    assert sorted(r.get("id") or r.get("MessageId") for r in audit_records(logs, group)) == sorted(
        r.get("id") or r.get("MessageId") for r in records
    )
    assert _dead_letters(aws, LAB, "lambda") == []


@pytest.mark.parametrize("engine", ["stepfunctions", "ssm"])
def test_playbook_rules_start_their_engines(aws, emulator, engine):
    """The rules of stacks/playbook-stepfunctions.yaml and playbook-ssm.yaml
    route the same injected finding to their engine through EventBridge: a
    Step Functions target (StartExecution with the event as input, the
    target's RoleArn) or an SSM Automation target (automation-definition ARN,
    RoleArn, InputTransformer giving the runbook parameters). The engine
    contains the victim; the audit log group gets the event (the recorder is
    a Lambda target, allowed by the playbook stack's permission) and the
    engine's notification; the dead-letter queue stays empty.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-cwe-target.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
    """
    template = STACKS / f"playbook-{engine}.yaml"
    if not template.exists():
        pytest.skip(f"stacks/{template.name} is not there")
    from test_stepfunctions import set_wait_scale

    events, logs = aws("events"), aws("logs")
    # The Step Functions playbook waits 60 s between snapshot checks; the SSM
    # one has executeScript steps with 60-120 s timeouts, which the scale
    # shortens too (0.01 would leave a Python start-up 0.6 s).
    set_wait_scale(emulator, 0.01 if engine == "stepfunctions" else 0.2)
    detection, victim, _ = deploy(aws("cloudformation"), template, "playbook")
    instance_id = victim["InstanceId"]
    event_id = _inject(events, instance_id, "irlab-sim-tor-0001")

    outcome = eventually(lambda: _status(aws, instance_id), timeout=60)
    assert outcome == "contained", _engine_failures(aws, engine)
    assert_contained(aws, victim)
    records: list[dict] = []

    def audit() -> bool:
        records[:] = audit_records(logs, detection["AuditLogGroupName"], term="irlab-sim-tor-0001")
        return any(r.get("id") == event_id for r in records) and bool(_notifications(records))

    assert eventually(audit, timeout=20), records
    assert all(n["TopicArn"] == detection["AlertTopicArn"] for n in _notifications(records))
    assert _dead_letters(aws, LAB, engine) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_findings_for_other_instances_start_nothing(aws, emulator, engine):
    """Each playbook rule matches only findings naming the victim its stack was
    given (pattern detail.resource.instanceDetails.instanceId = parameter
    InstanceId: an exact match on the event's field). Findings delivered on the
    default bus for any other instance - a real-shaped GuardDuty finding
    (source aws.guardduty) for an instance of another lab, an injected one
    (irlab.simulation) for it, and GuardDuty's sample finding for the
    placeholder i-99999999 (CreateSampleFindings) - start no execution,
    automation or invocation, write nothing to the audit log group and publish
    no notification (an SQS probe subscribed to the alert topic sees none).
    The same kind of finding for the lab's own victim, sent last, does all of
    that: the probes work.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateSampleFindings.html
    https://docs.aws.amazon.com/guardduty/latest/ug/sample_findings.html
    """
    from test_stepfunctions import set_wait_scale

    set_wait_scale(emulator, 0.01 if engine != "ssm" else 0.2)
    ec2, events, logs, sqs, sns, gd = (aws(s) for s in ("ec2", "events", "logs", "sqs", "sns", "guardduty"))
    detection, victim, _ = deploy(aws("cloudformation"), STACKS / f"playbook-{engine}.yaml", "playbook")
    group = detection["AuditLogGroupName"]
    probe = sqs.create_queue(QueueName=f"probe-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    probe_arn = sqs.get_queue_attributes(QueueUrl=probe, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=probe,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": probe_arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": detection["AlertTopicArn"]}},
                        }
                    ],
                }
            )
        },
    )
    sns.subscribe(TopicArn=detection["AlertTopicArn"], Protocol="sqs", Endpoint=probe_arn, Attributes={"RawMessageDelivery": "true"})

    # another lab's victim: an instance of this account and Region, tagged
    # with that lab, in a VPC of its own
    other_vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.43.0.0/24")["Subnet"]["SubnetId"]
    image = aws("ssm").get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]
    other = ec2.run_instances(
        ImageId=image,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=other_subnet,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "irlab:lab", "Value": "t2"}]}],
    )["Instances"][0]["InstanceId"]
    detector = gd.create_detector(Enable=True)["DetectorId"]

    foreign = [
        _simulate_guardduty(emulator, detector, other),
        "irlab-sim-foreign-0001",
    ]
    _inject(events, other, foreign[1])
    gd.create_sample_findings(DetectorId=detector, FindingTypes=["UnauthorizedAccess:EC2/TorClient"])
    samples = [f for f in gd.list_findings(DetectorId=detector)["FindingIds"] if f != foreign[0]]
    assert len(samples) == 1, samples
    foreign.extend(samples)
    wait_idle(emulator.endpoint)
    time.sleep(0.5)  # an engine that had started would have left a trace by now
    wait_idle(emulator.endpoint)

    assert _runs(aws, engine, LAB) == []
    assert audit_records(logs, group) == []
    assert sqs.receive_message(QueueUrl=probe, MaxNumberOfMessages=10).get("Messages") is None
    for instance in (victim["InstanceId"], other):
        assert _status(aws, instance) is None
    assert _dead_letters(aws, LAB, engine) == []

    # the control: the lab's own victim
    own = _inject(events, victim["InstanceId"], "irlab-sim-own-0001")
    assert eventually(lambda: _status(aws, victim["InstanceId"]), timeout=60) == "contained", _engine_failures(aws, engine)
    wait_idle(emulator.endpoint)  # the function's log is complete when its invocation is over
    assert len(_runs(aws, engine, LAB)) == 1
    assert eventually(lambda: sqs.receive_message(QueueUrl=probe).get("Messages"), timeout=20)

    def own_records() -> list[dict]:
        records = audit_records(logs, group)
        return records if any(r.get("id") == own for r in records) and _notifications(records) else []

    records = eventually(own_records, timeout=20)
    assert records, audit_records(logs, group)
    assert [r["id"] for r in records if "detail-type" in r] == [own]
    for finding_id in foreign:
        assert audit_records(logs, group, term=finding_id) == []
    assert _status(aws, other) is None


def test_two_labs_side_by_side_answer_their_own_findings(aws, emulator):
    """Two labs in one account and Region (t1 and t2, each with detection,
    victim and the Lambda playbook; same default bus). A finding for t2's
    victim contains t2's victim only; t2's audit log group has the event and
    t2's notification, t1's audit log group has nothing and t1's function was
    not invoked; then a finding for t1's victim does the same the other way
    round. Each lab's resources are its own: log group /irlab/<lab>/audit,
    recorder irlab-<lab>-audit-recorder, rule irlab-<lab>-playbook-lambda.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html
    """
    cf, events, logs = aws("cloudformation"), aws("events"), aws("logs")
    labs = {lab: deploy(cf, PLAYBOOK, "playbook", lab=lab) for lab in ("t1", "t2")}
    assert labs["t1"][0]["AuditLogGroupName"] != labs["t2"][0]["AuditLogGroupName"]
    assert labs["t1"][0]["AuditRecorderArn"] != labs["t2"][0]["AuditRecorderArn"]

    for lab, other in (("t2", "t1"), ("t1", "t2")):
        detection, victim, _ = labs[lab]
        finding_id = f"irlab-sim-{lab}-0001"
        event_id = _inject(events, victim["InstanceId"], finding_id)
        assert eventually(lambda: _status(aws, victim["InstanceId"]), timeout=60) == "contained"

        def recorded() -> list[dict]:
            records = audit_records(logs, detection["AuditLogGroupName"], term=finding_id)
            return records if any(r.get("id") == event_id for r in records) and _notifications(records) else []

        assert eventually(recorded, timeout=20), audit_records(logs, detection["AuditLogGroupName"])
        wait_idle(emulator.endpoint)
        other_detection = labs[other][0]
        assert audit_records(logs, other_detection["AuditLogGroupName"], term=finding_id) == []
        if lab == "t2":  # t1 has not run yet: nothing at all
            assert audit_records(logs, other_detection["AuditLogGroupName"]) == []
            assert _runs(aws, "lambda", "t1") == []
            assert _status(aws, labs["t1"][1]["InstanceId"]) is None
    assert len(_runs(aws, "lambda", "t1")) == 1 and len(_runs(aws, "lambda", "t2")) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_guard_skips_the_victim_once_it_is_not_the_labs(aws, emulator, engine):
    """Defence in depth behind the rule: each engine acts only on an instance
    tagged irlab:lab=<lab>. With that tag removed from the victim, a finding
    naming it (the rule still matches: same instance id) starts the engine,
    which changes nothing - same security groups, instance profile still
    associated, no ir-status tag, no snapshot - and notifies that it skipped
    the finding and why; the audit log group has the event and that notice.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteTags.html
    """
    from test_stepfunctions import set_wait_scale

    set_wait_scale(emulator, 0.01 if engine != "ssm" else 0.2)
    ec2, events, logs = aws("ec2"), aws("events"), aws("logs")
    detection, victim, _ = deploy(aws("cloudformation"), STACKS / f"playbook-{engine}.yaml", "playbook")
    instance_id = victim["InstanceId"]
    before = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": "irlab:lab"}])

    event_id = _inject(events, instance_id, "irlab-sim-untagged-0001")

    def skipped() -> list[dict]:
        records = audit_records(logs, detection["AuditLogGroupName"], term=instance_id)
        return [n for n in _notifications(records) if "skipped" in n["Subject"]] if any(r.get("id") == event_id for r in records) else []

    notices = eventually(skipped, timeout=60)
    assert notices, (_engine_failures(aws, engine), audit_records(logs, detection["AuditLogGroupName"]))
    [notice] = notices
    assert notice["Subject"] == f"[irlab {LAB}] playbook skipped: {instance_id}"
    assert f"the {engine} playbook skipped a finding and changed nothing" in notice["Message"]
    assert f"no instance {instance_id} in this region carries the tag irlab:lab={LAB}" in notice["Message"]
    assert "(parameter InstanceId)" in notice["Message"]
    wait_idle(emulator.endpoint)
    after = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert [[g["GroupId"] for g in n["Groups"]] for n in after["NetworkInterfaces"]] == [
        [g["GroupId"] for g in n["Groups"]] for n in before["NetworkInterfaces"]
    ]
    assert after.get("IamInstanceProfile") == before.get("IamInstanceProfile") and "IamInstanceProfile" in after
    assert not any(t["Key"].startswith("irlab:") for t in after.get("Tags", []))
    assert ec2.describe_snapshots(Filters=[{"Name": "tag:irlab:instance", "Values": [instance_id]}])["Snapshots"] == []
    assert len(_runs(aws, engine, LAB)) == 1


# ------------------------------------------------------------ duplicate delivery
#
# EventBridge hands an event to its targets at least once, Lambda's
# asynchronous queue may invoke a function twice with the same event, and
# GuardDuty re-sends a finding it updates (same id, service.count + 1). Each
# delivery starts a run of the engine; the playbooks make the extra runs end
# as successes that change nothing and notify nobody.

# The Step Functions playbook's waits (snapshot checks, the settle, following
# another execution) and the SSM runbook's (settle, polls) at a scale where
# two runs started back to back still meet in the settle.
WAIT_SCALE = {"lambda": 0.05, "stepfunctions": 0.05, "ssm": 0.2}
CRYPTO = "CryptoCurrency:EC2/BitcoinTool.B!DNS"


def _lambda_requests(logs: Any, group: str) -> dict[str, list[str]]:
    """The function's log lines per request id (START ... REPORT, and the
    handler's `[LEVEL]\\ttime\\trequest id\\tmessage` lines)."""
    requests: dict[str, list[str]] = {}
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
        for event in page["events"]:
            line = event["message"]
            if line.startswith(("START RequestId: ", "END RequestId: ", "REPORT RequestId: ")):
                request = line.split()[2]
            elif line.startswith("[") and line.count("\t") >= 3:
                request = line.split("\t")[2]
            else:
                continue
            requests.setdefault(request, []).append(line)
    return requests


def _outcomes(aws: Any, engine: str, lab: str = LAB) -> list[str]:
    """How each run of the lab's engine ended: "contained", "already" (it found
    the work done and changed nothing), "running", or "failed: why"."""
    outcomes = []
    if engine == "stepfunctions":
        sfn = aws("stepfunctions")
        for arn in _runs(aws, engine, lab):
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] == "RUNNING":
                outcomes.append("running")
            elif described["status"] != "SUCCEEDED":
                outcomes.append(f"failed: {described['status']} {described.get('error')} {described.get('cause')}")
            else:
                outcomes.append("already" if "already contained" in described.get("output", "") else "contained")
    elif engine == "ssm":
        ssm = aws("ssm")
        for execution_id in _runs(aws, engine, lab):
            execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
            status, ran = execution["AutomationExecutionStatus"], [s["StepName"] for s in execution["StepExecutions"]]
            if status in ("Pending", "InProgress", "Waiting", "Cancelling"):
                outcomes.append("running")
            elif status != "Success":
                failed = [(s["StepName"], s.get("FailureMessage")) for s in execution["StepExecutions"] if s["StepStatus"] != "Success"]
                outcomes.append(f"failed: {status} {execution.get('FailureMessage')} {failed}")
            else:
                outcomes.append("already" if "alreadyContained" in ran else "contained" if "tagContained" in ran else f"failed: {ran}")
    else:
        for lines in _lambda_requests(aws("logs"), f"irlab-{lab}-playbook-lambda").values():
            text = "\n".join(lines)
            if not any(line.startswith("REPORT RequestId: ") for line in lines):
                outcomes.append("running")
            elif "[ERROR]" in text or "errorType" in text or "Traceback" in text:
                outcomes.append(f"failed: {text[-3000:]}")
            elif "duplicate delivery ignored" in text:
                outcomes.append("already")
            else:
                outcomes.append("contained" if ": contained" in text else f"failed: no outcome: {text[-3000:]}")
    return outcomes


def _settled(aws: Any, emulator: Any, engine: str, runs: int, timeout: float = 120) -> list[str]:
    """The outcomes once `runs` runs have ended, sorted."""

    def ended() -> list[str]:
        outcomes = _outcomes(aws, engine)
        return sorted(outcomes) if len(outcomes) >= runs and "running" not in outcomes else []

    outcomes = eventually(ended, timeout=timeout, interval=0.3)
    assert outcomes, (_outcomes(aws, engine), _engine_failures(aws, engine))
    wait_idle(emulator.endpoint)  # the notifications' audit records too
    return outcomes


def _tags(aws: Any, instance_id: str) -> dict[str, str]:
    instance = aws("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def _volumes(aws: Any, instance_id: str) -> list[str]:
    instance = aws("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return sorted(m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"])


def _evidence(aws: Any, instance_id: str, finding_id: str) -> list[str]:
    """The volumes of the snapshots taken of the instance for the finding."""
    snapshots = aws("ec2").describe_snapshots(
        OwnerIds=["self"],
        Filters=[
            {"Name": "tag:irlab:instance", "Values": [instance_id]},
            {"Name": "tag:irlab:finding-id", "Values": [finding_id]},
        ],
    )["Snapshots"]
    return sorted(s["VolumeId"] for s in snapshots)


def _notices(aws: Any, detection: dict[str, str], instance_id: str, finding_id: str) -> dict[str, int]:
    """The alert topic's notifications about the finding, by kind, from the
    lab's audit trail."""
    counts = {"contained": 0, "failed": 0, "skipped": 0}
    for notice in _notifications(audit_records(aws("logs"), detection["AuditLogGroupName"], term=finding_id)):
        if f"Finding id: {finding_id}\n" not in notice["Message"]:
            continue
        subject = notice["Subject"]
        kind = "failed" if "FAILED" in subject else "skipped" if "skipped" in subject else "contained"
        assert kind != "contained" or subject == f"[irlab {LAB}] {instance_id} contained", subject
        counts[kind] += 1
    return counts


def _assert_contained_for(aws: Any, victim: dict[str, str], finding_id: str, finding_type: str, engine: str) -> None:
    # the Lambda playbook starts the snapshots and does not wait for them
    assert_contained(aws, victim, snapshots_awaited=engine != "lambda")
    tags = _tags(aws, victim["InstanceId"])
    assert tags["irlab:ir-status"] == "contained" and tags["irlab:finding-id"] == finding_id, tags
    assert tags["irlab:finding-type"] == finding_type, tags
    # the groups the victim had before the first isolation, never the quarantine group
    groups = tags["irlab:original-groups"]
    assert victim["AppSecurityGroupId"] in groups and victim["QuarantineSecurityGroupId"] not in groups, groups


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_deliveries_contain_once(aws, emulator, engine):
    """The same finding delivered again and again contains the victim once.
    EventBridge delivers events at least once and retries a target; Lambda's
    asynchronous queue "is eventually consistent", so a function may receive
    the same event more than once; GuardDuty sends an existing finding again,
    under the same finding id, when it aggregates subsequent occurrences into
    it (service.count grows). Here, through the playbook's rule: the same
    finding twice in one PutEvents call (the two runs overlap), once more after
    they ended, then its update with service.count 2. Every run ends as a
    success (Step Functions SUCCEEDED, Automation Success, no function error):
    one contains the victim, the others find the work done (or being done, and
    wait for it) and change nothing. The victim is contained for the finding,
    irlab:original-groups still names the app group (never the quarantine
    group), each volume has one snapshot for the finding, the topic sent one
    "contained" notification for it and no failure notice, and the dead-letter
    queue is empty.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-delivery-level.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_Service.html
    """
    from test_stepfunctions import set_wait_scale

    set_wait_scale(emulator, WAIT_SCALE[engine])
    events = aws("events")
    detection, victim, _ = deploy(aws("cloudformation"), STACKS / f"playbook-{engine}.yaml", "playbook")
    instance_id, finding_id = victim["InstanceId"], "irlab-sim-dup-0001"
    finding = _finding(instance_id, finding_id)

    _inject_all(events, [finding, finding])  # back to back: the runs overlap
    assert _settled(aws, emulator, engine, 2) == ["already", "contained"]
    _inject_all(events, [finding])  # after the first ones ended
    assert _settled(aws, emulator, engine, 3) == ["already", "already", "contained"]
    _inject_all(events, [_finding(instance_id, finding_id, count=2)])  # GuardDuty's update
    assert _settled(aws, emulator, engine, 4) == ["already", "already", "already", "contained"]

    _assert_contained_for(aws, victim, finding_id, finding["type"], engine)
    assert _evidence(aws, instance_id, finding_id) == _volumes(aws, instance_id)
    assert _notices(aws, detection, instance_id, finding_id) == {"contained": 1, "failed": 0, "skipped": 0}
    assert _dead_letters(aws, LAB, engine) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_a_new_finding_on_a_contained_victim_contains_it_again(aws, emulator, engine):
    """Another attack on a victim that is still contained (`irlab attack
    --force`) brings a finding with a new id: the playbook runs every step
    again - the groups, profile and protection are already as they should be,
    so nothing fails - takes this finding's own snapshots, notifies it, and
    tags irlab:finding-id (and irlab:finding-type) with it, while
    irlab:original-groups keeps the groups from before the first isolation.
    The first finding, sent again by GuardDuty after that (service.count 2),
    changes nothing: it was answered (its snapshots exist), the victim is
    contained, and its tags keep naming the newer finding.
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateTags.html
    """
    from test_stepfunctions import set_wait_scale

    set_wait_scale(emulator, WAIT_SCALE[engine])
    events = aws("events")
    detection, victim, _ = deploy(aws("cloudformation"), STACKS / f"playbook-{engine}.yaml", "playbook")
    instance_id, first, second = victim["InstanceId"], "irlab-sim-first-0001", "irlab-sim-second-0001"

    _inject_all(events, [_finding(instance_id, first)])
    assert _settled(aws, emulator, engine, 1) == ["contained"]
    _assert_contained_for(aws, victim, first, "UnauthorizedAccess:EC2/TorClient", engine)

    _inject_all(events, [_finding(instance_id, second, finding_type=CRYPTO)])
    assert _settled(aws, emulator, engine, 2) == ["contained", "contained"]
    _assert_contained_for(aws, victim, second, CRYPTO, engine)

    _inject_all(events, [_finding(instance_id, first, count=2)])
    assert _settled(aws, emulator, engine, 3) == ["already", "contained", "contained"]
    _assert_contained_for(aws, victim, second, CRYPTO, engine)

    volumes = _volumes(aws, instance_id)
    for finding_id in (first, second):
        assert _evidence(aws, instance_id, finding_id) == volumes, finding_id
        assert _notices(aws, detection, instance_id, finding_id) == {"contained": 1, "failed": 0, "skipped": 0}, finding_id
    assert _dead_letters(aws, LAB, engine) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_two_findings_at_once_are_both_answered(aws, emulator, engine):
    """Two different findings about the victim at the same moment (`irlab
    attack --all`, or GuardDuty reporting two finding types of one attack):
    both runs contain it side by side and both succeed. Both see the instance
    profile associated and one of the two disassociations finds it gone, which
    is the goal, not a failure. Each finding gets its snapshots and its
    notification; the victim ends contained for one of them, with the original
    groups recorded.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisassociateIamInstanceProfile.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeIamInstanceProfileAssociations.html
    """
    from test_stepfunctions import set_wait_scale

    set_wait_scale(emulator, WAIT_SCALE[engine])
    detection, victim, _ = deploy(aws("cloudformation"), STACKS / f"playbook-{engine}.yaml", "playbook")
    instance_id, tor, crypto = victim["InstanceId"], "irlab-sim-tor-0002", "irlab-sim-crypto-0002"

    _inject_all(aws("events"), [_finding(instance_id, tor), _finding(instance_id, crypto, finding_type=CRYPTO)])
    assert _settled(aws, emulator, engine, 2) == ["contained", "contained"]

    last = _tags(aws, instance_id)["irlab:finding-id"]
    assert last in (tor, crypto)
    _assert_contained_for(aws, victim, last, CRYPTO if last == crypto else "UnauthorizedAccess:EC2/TorClient", engine)
    volumes = _volumes(aws, instance_id)
    for finding_id in (tor, crypto):
        assert _evidence(aws, instance_id, finding_id) == volumes, finding_id
        assert _notices(aws, detection, instance_id, finding_id) == {"contained": 1, "failed": 0, "skipped": 0}, finding_id
    assert _dead_letters(aws, LAB, engine) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_a_run_that_loses_its_claim_leaves_the_rest_to_the_winner(aws, emulator, engine):
    """Two runs for the same finding that looked at the victim at the same
    moment both claim it (tag irlab:playbook-run = "<finding id> <run id>");
    EC2 keeps the last CreateTags value, and each run reads the claim back a
    settle time later. Here the other run is played by the test: right after
    the engine's run claimed the victim (ir-status containing), the test writes
    its own claim for the same finding and, as that run would on finishing,
    ir-status=contained. The engine's run has isolated, revoked and protected
    (steps that change nothing when repeated), but on reading the claim back it
    leaves snapshots and notification to the winner, sees the victim contained
    for its finding, and ends as a success without having taken a snapshot or
    notified anyone.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateTags.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeTags.html
    """
    from test_stepfunctions import set_wait_scale

    set_wait_scale(emulator, 0.5)  # the settle wait (2 s) takes 1 s in the two engines that scale it
    ec2 = aws("ec2")
    detection, victim, _ = deploy(aws("cloudformation"), STACKS / f"playbook-{engine}.yaml", "playbook")
    instance_id, finding_id = victim["InstanceId"], "irlab-sim-race-0001"
    _inject_all(aws("events"), [_finding(instance_id, finding_id)])

    def claimed() -> str | None:
        tags = _tags(aws, instance_id)
        return tags.get("irlab:playbook-run") if tags.get("irlab:ir-status") == "containing" else None

    claim = eventually(claimed, timeout=60, interval=0.02)
    assert claim and claim.startswith(f"{finding_id} "), claim
    ec2.create_tags(
        Resources=[instance_id],
        Tags=[
            {"Key": "irlab:playbook-run", "Value": f"{finding_id} the-other-run"},
            {"Key": "irlab:ir-status", "Value": "contained"},
        ],
    )
    assert _settled(aws, emulator, engine, 1) == ["already"]
    tags = _tags(aws, instance_id)
    assert tags["irlab:playbook-run"] == f"{finding_id} the-other-run" and tags["irlab:finding-id"] == finding_id
    assert victim["AppSecurityGroupId"] in tags["irlab:original-groups"]
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert [[g["GroupId"] for g in n["Groups"]] for n in instance["NetworkInterfaces"]] == [[victim["QuarantineSecurityGroupId"]]]
    assert "IamInstanceProfile" not in instance
    assert _evidence(aws, instance_id, finding_id) == []
    assert _notices(aws, detection, instance_id, finding_id) == {"contained": 0, "failed": 0, "skipped": 0}
