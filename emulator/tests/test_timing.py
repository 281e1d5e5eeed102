"""What takes time in AWS takes time in the stand-in (patches/_timing.py, at the
wait scale of patches/_clock.py): instances are pending before they run, EBS
snapshots are pending for a time that grows with the volume and can end in
error, the SSM Agent comes online a while after its instance runs, GuardDuty
sends a finding to EventBridge minutes after it is generated - and the
playbooks that wait for snapshots take their failure path when one fails.

The tests compare and order; they assert no absolute durations, except lower
bounds (a wait that must have happened). They move the scale of AWS's own
delays (``serviceScale``) to hold a state still (1 or more) or to let time pass
at once (0)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import REPO_ROOT, create_stack, eventually, unique
from test_lab_playbooks import audit_records, deploy, finding_event
from test_ssm import SSM_CORE, _nodes, _profile, _run
from test_ssm_automation import finish as finish_automation
from test_stepfunctions import finish as finish_execution
from test_stepfunctions import history, set_wait_scale

STACKS = REPO_ROOT / "stacks"
LAB = "t1"


def _call(emulator: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{emulator.endpoint}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def set_service_scale(emulator: Any, value: float) -> None:
    """The scale of AWS's own delays alone (the playbooks' waits keep theirs)."""
    status, body = _call(emulator, "POST", "/moto-api/irlab/wait-scale", {"serviceScale": value})
    assert status == 200 and body["serviceScale"] == value, body


def _volume(ec2: Any, size: int) -> str:
    return ec2.create_volume(AvailabilityZone="us-east-1a", Size=size, VolumeType="gp3")["VolumeId"]


def _snapshot(ec2: Any, snapshot_id: str) -> dict[str, Any]:
    return ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]


def _percent(snapshot: dict[str, Any]) -> int:
    return int(snapshot["Progress"].rstrip("%"))


def _instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


# ----------------------------------------------------------------- snapshots


def test_a_snapshot_of_a_bigger_volume_stays_pending_longer(aws, emulator):
    """"Snapshot creation is asynchronous. The snapshot is created immediately,
    but it remains in the pending state until all of data has been transferred
    to Amazon S3. This can take several hours to complete, depending on the
    number of modified blocks on the volume." CreateSnapshot answers State
    pending; DescribeSnapshots shows pending with a Progress that moves, then
    completed with Progress 100%. Of two snapshots started together, the one of
    the 1 GiB volume completes while the one of the 100 GiB volume is still
    pending. "The first snapshot that you create from a volume is always a full
    snapshot ... Subsequent snapshots of the same volume are incremental": a
    second snapshot of the big volume completes before a first one of another
    volume of the same size.
    https://docs.aws.amazon.com/ebs/latest/userguide/ebs-creating-snapshot.html
    https://docs.aws.amazon.com/ebs/latest/userguide/how_snapshots_work.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html
    """
    ec2 = aws("ec2")
    set_service_scale(emulator, 0.01)
    small, big = _volume(ec2, 1), _volume(ec2, 100)
    created_small = ec2.create_snapshot(VolumeId=small)
    created_big = ec2.create_snapshot(VolumeId=big)
    assert created_small["State"] == created_big["State"] == "pending"

    assert eventually(lambda: _snapshot(ec2, created_small["SnapshotId"])["State"] == "completed", timeout=60)
    assert _snapshot(ec2, created_small["SnapshotId"])["Progress"] == "100%"
    first = _snapshot(ec2, created_big["SnapshotId"])
    assert first["State"] == "pending" and 0 <= _percent(first) < 100, first
    moved = eventually(lambda: _percent(_snapshot(ec2, created_big["SnapshotId"])) > _percent(first), timeout=30)
    assert moved, "Progress of the pending snapshot did not move"
    pending = ec2.describe_snapshots(Filters=[{"Name": "status", "Values": ["pending"]}])["Snapshots"]
    assert [s["SnapshotId"] for s in pending] == [created_big["SnapshotId"]]

    set_service_scale(emulator, 0)  # let the rest of the time pass
    done = eventually(lambda: _snapshot(ec2, created_big["SnapshotId"])["State"] == "completed", timeout=10)
    assert done and _snapshot(ec2, created_big["SnapshotId"])["Progress"] == "100%"

    set_service_scale(emulator, 0.01)
    other = _volume(ec2, 100)
    incremental = ec2.create_snapshot(VolumeId=big)["SnapshotId"]
    full = ec2.create_snapshot(VolumeId=other)["SnapshotId"]
    assert eventually(lambda: _snapshot(ec2, incremental)["State"] == "completed", timeout=60)
    assert _snapshot(ec2, full)["State"] == "pending"


def test_snapshots_created_at_once_all_succeed(aws):
    """Two playbooks (or a playbook and a responder) snapshot at the same moment: each
    CreateSnapshot is its own request, and AWS answers each with a pending snapshot
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshot.html). The
    stand-in answers requests on several threads; reading its snapshots while another request
    adds one must not fail the call."""
    import concurrent.futures

    ec2 = aws("ec2")
    volumes = [_volume(ec2, 1) for _ in range(4)]

    def snap(volume: str) -> str:
        return aws("ec2").create_snapshot(VolumeId=volume)["State"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        states = list(pool.map(snap, volumes * 20))
    assert states == ["pending"] * 80, states


def test_create_snapshot_answers_pending_even_when_the_snapshot_is_already_done(aws, emulator):
    """AWS answers CreateSnapshot with the snapshot pending: "The snapshot is created
    immediately, but it remains in the pending state until all of data has been transferred"
    (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-creating-snapshot.html). On a busy
    machine at a small wait scale the stand-in's snapshot can finish before its answer is
    written (CI once saw one CreateSnapshot of 80 answer completed); at scale 0 every
    snapshot finishes at once, and the answers must still say pending, while the next
    DescribeSnapshots says completed."""
    ec2 = aws("ec2")
    volume = _volume(ec2, 1)
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    set_service_scale(emulator, 0)  # every snapshot finishes the moment it is made

    created = ec2.create_snapshot(VolumeId=volume)
    many = ec2.create_snapshots(InstanceSpecification={"InstanceId": instance})["Snapshots"]
    assert created["State"] == "pending" and created["Progress"] != "100%", created
    assert many and all(s["State"] == "pending" for s in many), many
    now = _snapshot(ec2, created["SnapshotId"])
    assert now["State"] == "completed" and now["Progress"] == "100%", now
    assert all(_snapshot(ec2, s["SnapshotId"])["State"] == "completed" for s in many)


def test_a_snapshot_error_rule_makes_the_next_snapshots_fail(aws, emulator):
    """Stand-in control (AWS gives no way to make a snapshot fail): POST
    /moto-api/irlab/ec2/snapshot-errors {"volumeId"?, "count"?} makes the next
    ``count`` snapshots of that volume (of any volume without ``volumeId``;
    every later one without ``count``) end in state error after a while
    pending, with a StateMessage; GET lists the rules, DELETE and a reset drop
    them; a malformed rule is a 400. Snapshot states are pending | completed |
    error | recoverable | recovering, and DescribeSnapshots filters on status.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html
    """
    ec2 = aws("ec2")
    set_service_scale(emulator, 0)
    first, second = _volume(ec2, 8), _volume(ec2, 8)

    status, body = _call(emulator, "POST", "/moto-api/irlab/ec2/snapshot-errors", {"volumeId": first, "count": 1})
    assert status == 200 and body["rules"] == [{"volumeId": first, "remaining": 1}]
    failed = ec2.create_snapshot(VolumeId=first)["SnapshotId"]
    assert _call(emulator, "GET", "/moto-api/irlab/ec2/snapshot-errors") == (200, {"rules": []})
    fine = [ec2.create_snapshot(VolumeId=v)["SnapshotId"] for v in (first, second)]
    assert eventually(lambda: _snapshot(ec2, failed)["State"] == "error", timeout=10)
    snapshot = _snapshot(ec2, failed)
    assert _percent(snapshot) < 100 and snapshot["StateMessage"], snapshot
    assert eventually(lambda: {_snapshot(ec2, s)["State"] for s in fine} == {"completed"}, timeout=10)
    errors = ec2.describe_snapshots(Filters=[{"Name": "status", "Values": ["error"]}])["Snapshots"]
    assert [s["SnapshotId"] for s in errors] == [failed]

    assert _call(emulator, "POST", "/moto-api/irlab/ec2/snapshot-errors", {})[0] == 200  # any volume, until cleared
    both = [ec2.create_snapshot(VolumeId=v)["SnapshotId"] for v in (first, second, second)]
    assert eventually(lambda: {_snapshot(ec2, s)["State"] for s in both} == {"error"}, timeout=10)
    assert _call(emulator, "DELETE", "/moto-api/irlab/ec2/snapshot-errors") == (200, {"rules": []})
    after = ec2.create_snapshot(VolumeId=second)["SnapshotId"]
    assert eventually(lambda: _snapshot(ec2, after)["State"] == "completed", timeout=10)

    for bad in ({"volumeId": "i-0123456789abcdef0"}, {"count": 0}, {"count": True}, {"volume": first}, b"not json", [1]):
        status, body = _call(emulator, "POST", "/moto-api/irlab/ec2/snapshot-errors", bad)
        assert status == 400 and body["message"], (bad, body)
    _call(emulator, "POST", "/moto-api/irlab/ec2/snapshot-errors", {"volumeId": first})
    _call(emulator, "POST", "/moto-api/reset", b"")
    assert _call(emulator, "GET", "/moto-api/irlab/ec2/snapshot-errors") == (200, {"rules": []})


# ----------------------------------------------------------------- instances


def test_instances_pass_through_pending_and_stopping(aws, emulator):
    """"When you launch or start an instance, it enters the pending state and
    then the running state. When you stop an instance, it enters the stopping
    state and then the stopped state." RunInstances answers State pending
    (code 0); DescribeInstances shows pending, then running (16); StopInstances
    answers stopping (64), then stopped (80); StartInstances answers pending,
    then running. An instance terminated while pending stays terminated.
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceState.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
    """
    ec2 = aws("ec2")

    def state(instance_id: str) -> tuple[str, int]:
        s = _instance(ec2, instance_id)["State"]
        return s["Name"], s["Code"]

    set_service_scale(emulator, 1)  # a launch takes 30 s: hold it still
    instance_id = _run(ec2)
    launched = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert launched["State"] == {"Code": 0, "Name": "pending"}
    assert ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["pending"]}])["Reservations"]
    set_service_scale(emulator, 0)
    assert eventually(lambda: state(instance_id) == ("running", 16), timeout=10)

    set_service_scale(emulator, 1)
    stopping = ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
    assert stopping["PreviousState"]["Name"] == "running" and stopping["CurrentState"] == {"Code": 64, "Name": "stopping"}
    assert state(instance_id) == ("stopping", 64)
    set_service_scale(emulator, 0)
    assert eventually(lambda: state(instance_id) == ("stopped", 80), timeout=10)

    set_service_scale(emulator, 1)
    starting = ec2.start_instances(InstanceIds=[instance_id])["StartingInstances"][0]
    assert starting["PreviousState"]["Name"] == "stopped" and starting["CurrentState"] == {"Code": 0, "Name": "pending"}
    assert state(instance_id) == ("pending", 0)
    set_service_scale(emulator, 0)
    assert eventually(lambda: state(instance_id) == ("running", 16), timeout=10)

    set_service_scale(emulator, 1)
    doomed = _run(ec2)
    ec2.terminate_instances(InstanceIds=[doomed])
    set_service_scale(emulator, 0)
    time.sleep(0.2)
    assert state(doomed) == ("terminated", 48)


def test_cloudformation_instance_is_complete_once_it_runs(aws, emulator):
    """CloudFormation creates an AWS::EC2::Instance (CREATE_IN_PROGRESS
    "Resource creation Initiated") and reports it CREATE_COMPLETE once the
    instance is running, not while it is pending (without a CreationPolicy it
    does not wait for software on it): when the stack is CREATE_COMPLETE the
    instance runs, and its CREATE_COMPLETE event comes at least the launch time
    after its "Resource creation Initiated" event.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-creationpolicy.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html
    """
    cf, ec2 = aws("cloudformation"), aws("ec2")
    launch_s = 30 * 0.05  # _timing.INSTANCE_PENDING_S at this scale
    set_service_scale(emulator, 0.05)
    body = """
Parameters:
  ImageId: {Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", Default: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64}
Resources:
  Box:
    Type: AWS::EC2::Instance
    Properties: {ImageId: !Ref ImageId, InstanceType: t3.micro}
Outputs:
  InstanceId: {Value: !Ref Box}
"""
    started = time.monotonic()
    stack = create_stack(cf, unique("box"), body)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    assert time.monotonic() - started >= launch_s
    instance_id = stack["Outputs"][0]["OutputValue"]
    assert _instance(ec2, instance_id)["State"]["Name"] == "running"
    events = {
        (e["ResourceStatus"], e.get("ResourceStatusReason")): e["Timestamp"]
        for e in cf.describe_stack_events(StackName=stack["StackId"])["StackEvents"]
        if e["LogicalResourceId"] == "Box"
    }
    initiated = events[("CREATE_IN_PROGRESS", "Resource creation Initiated")]
    complete = next(t for (status, _), t in events.items() if status == "CREATE_COMPLETE")
    assert (complete - initiated).total_seconds() >= launch_s - 0.01


# ---------------------------------------------------------------- SSM Agent


def test_the_ssm_agent_comes_online_a_while_after_its_instance_runs(aws, emulator):
    """An EC2 instance becomes a managed node when the SSM Agent on it registers,
    some time after the instance runs: until then DescribeInstanceInformation
    does not list it and SendCommand refuses it (InvalidInstanceId: "SSM Agent
    isn't registered with the SSM endpoint"); then it is listed PingStatus
    Online and SendCommand reaches it.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/troubleshooting-managed-nodes.html
    """
    ec2, iam, ssm = aws("ec2"), aws("iam"), aws("ssm")
    set_service_scale(emulator, 0.05)  # launch 1.5 s, then the agent 6 s after
    instance_id = _run(ec2, _profile(iam, [SSM_CORE]))
    assert eventually(lambda: _instance(ec2, instance_id)["State"]["Name"] == "running", timeout=30)
    set_service_scale(emulator, 10)  # hold the agent's start-up still
    assert instance_id not in _nodes(ssm)
    with pytest.raises(ClientError) as err:
        ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[instance_id], Parameters={"commands": ["uptime"]})
    assert err.value.response["Error"]["Code"] == "InvalidInstanceId"

    set_service_scale(emulator, 0)
    nodes = eventually(lambda: _nodes(ssm).get(instance_id), timeout=10)
    assert nodes and nodes["PingStatus"] == "Online"
    command = ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[instance_id], Parameters={"commands": ["uptime"]})
    assert command["Command"]["InstanceIds"] == [instance_id]


# ---------------------------------------------------------------- GuardDuty


def test_guardduty_sends_a_finding_to_eventbridge_minutes_after_it_is_generated(aws, emulator):
    """"GuardDuty sends a notification within 5 minutes of the finding" (the
    first notification of a finding also covers its occurrences in those 5
    minutes). A sample finding is listed by GuardDuty at once; its
    EventBridge event (source aws.guardduty) reaches a rule's target only
    later, meanwhile the stand-in counts it as pending work (GET
    /moto-api/irlab/idle answers 408).
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateSampleFindings.html
    """
    gd, events, sqs = aws("guardduty"), aws("events"), aws("sqs")
    url = sqs.create_queue(QueueName=unique("findings"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn}]})})
    events.put_rule(Name="findings", EventPattern=json.dumps({"source": ["aws.guardduty"]}))
    events.put_targets(Rule="findings", Targets=[{"Id": "q", "Arn": arn}])
    detector = gd.create_detector(Enable=True)["DetectorId"]

    set_service_scale(emulator, 1)  # 5 minutes: hold it still
    gd.create_sample_findings(DetectorId=detector, FindingTypes=["UnauthorizedAccess:EC2/TorClient"])
    assert len(gd.list_findings(DetectorId=detector)["FindingIds"]) == 1
    time.sleep(0.5)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None
    assert _call(emulator, "GET", "/moto-api/irlab/idle?timeout=0")[0] == 408

    set_service_scale(emulator, 0)
    messages = eventually(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), timeout=10)
    assert messages, "the finding never reached EventBridge"
    event = json.loads(messages[0]["Body"])
    assert event["source"] == "aws.guardduty" and event["detail"]["type"] == "UnauthorizedAccess:EC2/TorClient"


def test_wait_scale_sets_the_playbooks_waits_and_aws_delays(aws, emulator):
    """Stand-in control: GET /moto-api/irlab/wait-scale shows the scale of the
    playbooks' waits ("scale") and of AWS's own delays ("serviceScale"); POST
    {"scale"} sets the first, which the second follows unless set apart with
    {"serviceScale": n}; {"serviceScale": null} makes it follow again;
    anything else is a 400; a reset restores the defaults (environment
    IRLAB_WAIT_SCALE, IRLAB_SERVICE_SCALE). (No AWS counterpart; the delays
    it scales cite their AWS pages in patches/_timing.py.)
    https://docs.aws.amazon.com/ebs/latest/userguide/ebs-creating-snapshot.html
    """

    def post(body: Any) -> tuple[int, dict[str, Any]]:
        return _call(emulator, "POST", "/moto-api/irlab/wait-scale", body)

    defaults = _call(emulator, "GET", "/moto-api/irlab/wait-scale")
    assert post({"scale": 0.2, "serviceScale": None}) == (200, {"scale": 0.2, "serviceScale": 0.2})
    assert post({"scale": 0.3}) == (200, {"scale": 0.3, "serviceScale": 0.3})
    assert post({"serviceScale": 0.5}) == (200, {"scale": 0.3, "serviceScale": 0.5})
    assert post({"scale": 0.4}) == (200, {"scale": 0.4, "serviceScale": 0.5})
    assert post({"serviceScale": None}) == (200, {"scale": 0.4, "serviceScale": 0.4})
    assert post({"scale": 0.1, "serviceScale": 0}) == (200, {"scale": 0.1, "serviceScale": 0})
    assert _call(emulator, "GET", "/moto-api/irlab/wait-scale") == (200, {"scale": 0.1, "serviceScale": 0})
    for bad in ({}, {"scale": -1}, {"scale": "fast"}, {"serviceScale": True}, b"[", [0.1]):
        status, body = post(bad)
        assert status == 400 and body["error"], (bad, body)
    _call(emulator, "POST", "/moto-api/reset", b"")
    assert _call(emulator, "GET", "/moto-api/irlab/wait-scale") == defaults


# ------------------------------------------- a failed snapshot in the playbooks


def _fail_snapshots_of(emulator: Any, ec2: Any, instance_id: str) -> list[str]:
    volumes = [m["Ebs"]["VolumeId"] for m in _instance(ec2, instance_id)["BlockDeviceMappings"]]
    for volume in volumes:
        status, _ = _call(emulator, "POST", "/moto-api/irlab/ec2/snapshot-errors", {"volumeId": volume})
        assert status == 200
    return volumes


def _failure_notice(aws: Any, detection: dict[str, str], instance_id: str) -> dict[str, Any]:
    def notice() -> dict[str, Any] | None:
        records = audit_records(aws("logs"), detection["AuditLogGroupName"], term=instance_id)
        failed = [r for r in records if r.get("Type") == "Notification" and "containment FAILED" in r.get("Subject", "")]
        return failed[0] if failed else None

    found = eventually(notice, timeout=30)
    assert found, "no failure notification reached the alert topic's audit recorder"
    return found


def _status_tag(ec2: Any, instance_id: str) -> str | None:
    return {t["Key"]: t["Value"] for t in _instance(ec2, instance_id).get("Tags", [])}.get("irlab:ir-status")


@pytest.mark.skipif(not (STACKS / "playbook-stepfunctions.yaml").exists(), reason="no stacks/playbook-stepfunctions.yaml")
def test_a_failed_snapshot_fails_the_stepfunctions_playbook_and_its_notice_says_so(aws, emulator):
    """stacks/playbook-stepfunctions.yaml waits for its evidence snapshots with
    a Wait -> describeSnapshots -> Choice loop. When EBS reports a snapshot in
    state error, the execution takes its failure path: the loop ran (it saw
    the snapshot pending first), "Snapshot failed" records irlab.SnapshotFailed,
    the instance is tagged irlab:ir-status=failed, the failure notification
    (SNS, read back from the audit recorder) names the error, and the execution
    FAILS with irlab.ContainmentFailed.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html
    https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
    """
    cf, ec2, sfn = aws("cloudformation"), aws("ec2"), aws("stepfunctions")
    set_wait_scale(emulator, 0.01)  # a check every 0.6 s
    detection, victim, playbook = deploy(cf, STACKS / "playbook-stepfunctions.yaml", "playbook")
    instance_id = victim["InstanceId"]
    _fail_snapshots_of(emulator, ec2, instance_id)
    set_service_scale(emulator, 0.05)  # the 8 GiB snapshot fails after 4.5 s: checks see it pending first

    arn = sfn.start_execution(stateMachineArn=playbook["PlaybookArn"], input=json.dumps(finding_event(instance_id)))["executionArn"]
    described = finish_execution(sfn, arn, timeout=90)
    assert described["status"] == "FAILED", described
    assert described["error"] == "irlab.ContainmentFailed" and "irlab.SnapshotFailed" in described["cause"], described
    entered = [e["stateEnteredEventDetails"]["name"] for e in history(sfn, arn) if "stateEnteredEventDetails" in e]
    assert entered.count("Wait for snapshots") >= 2, entered  # a check found it pending
    assert "Snapshot failed" in entered and "Notify failure" in entered, entered
    assert _status_tag(ec2, instance_id) == "failed"
    notice = _failure_notice(aws, detection, instance_id)
    assert instance_id in notice["Subject"]
    assert "irlab.SnapshotFailed" in notice["Message"] and "state error" in notice["Message"], notice["Message"]


@pytest.mark.skipif(not (STACKS / "playbook-ssm.yaml").exists(), reason="no stacks/playbook-ssm.yaml")
def test_a_failed_snapshot_fails_the_ssm_playbook_and_its_notice_says_so(aws, emulator):
    """stacks/playbook-ssm.yaml waits for each evidence snapshot with
    aws:waitForAwsResourceProperty (completed or error), then asserts it is
    completed. When EBS reports the snapshot in state error, the assertion
    fails and the runbook takes its failure path (onFailure step:markFailed):
    the instance is tagged irlab:ir-status=failed, the failure notification
    names the failed step and the state it found, and the automation is
    Failed.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-waitForAwsResourceProperty.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-assertAwsResourceProperty.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetAutomationExecution.html
    """
    cf, ec2, ssm = aws("cloudformation"), aws("ec2"), aws("ssm")
    set_wait_scale(emulator, 0.01)
    detection, victim, playbook = deploy(cf, STACKS / "playbook-ssm.yaml", "playbook")
    instance_id = victim["InstanceId"]
    _fail_snapshots_of(emulator, ec2, instance_id)
    detail = finding_event(instance_id)["detail"]
    parameters = {
        "FindingId": [detail["id"]],
        "FindingType": [detail["type"]],
        "InstanceId": [instance_id],
        "Severity": [str(detail["severity"])],
        "AutomationAssumeRole": [playbook["PlaybookRoleArn"]],
    }
    execution_id = ssm.start_automation_execution(DocumentName=playbook["PlaybookName"], Parameters=parameters)[
        "AutomationExecutionId"
    ]
    execution = finish_automation(ssm, execution_id, timeout=90)
    assert execution["AutomationExecutionStatus"] == "Failed", execution.get("FailureMessage")
    ran = {s["StepName"]: s for s in execution["StepExecutions"]}
    assert "tagContained" not in ran and "notifyFailure" in ran, list(ran)
    failed = [s for s in execution["StepExecutions"] if s["StepStatus"] == "Failed"]
    assert failed and failed[0]["StepName"] in ("waitForSnapshots", "assertSnapshotCompleted"), [
        (s["StepName"], s["StepStatus"], s.get("FailureMessage")) for s in execution["StepExecutions"]
    ]
    assert ran["notifyFailure"]["StepStatus"] == "Success"
    assert _status_tag(ec2, instance_id) == "failed"
    notice = _failure_notice(aws, detection, instance_id)
    assert instance_id in notice["Subject"] and f"Failed step: {failed[0]['StepName']}" in notice["Message"]
    # the assertion's own words: the state it found
    assert "State value error does not match" in notice["Message"], notice["Message"]
