"""The lab's playbook templates (stacks/playbook-stepfunctions.yaml,
stacks/playbook-ssm.yaml) deployed on top of stacks/detection.yaml and
stacks/victim.yaml and started directly, with the containment checked in EC2;
started again for a finding the victim is already contained for, they only read."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

import lab_stacks
from conftest import REPO_ROOT, create_stack
from test_ssm_automation import finish as finish_automation
from test_stepfunctions import finish as finish_execution
from test_stepfunctions import history, set_wait_scale

STACKS = REPO_ROOT / "stacks"
DETECTION, VICTIM = STACKS / "detection.yaml", STACKS / "victim.yaml"
LAB = "t1"


def _needs(*paths: Path) -> Any:
    missing = [p.name for p in paths if not p.exists()]
    return pytest.mark.skipif(bool(missing), reason=f"not in stacks/: {', '.join(missing)}")


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def deploy(
    cf: Any, playbook: Path, part: str, lab: str = LAB, parameters: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Detection, victim and the playbook stack of lab ``lab``, as irlab deploys
    them: the playbook gets the detection stack's AlertTopicArn,
    AuditRecorderArn, EvidenceBucketName and CollectDocumentName and the victim
    stack's InstanceId, QuarantineSecurityGroupId and SubnetId (the victim's own
    subnet of the region's shared VPC); ``parameters`` adds or overrides."""
    tags = [{"Key": "irlab:lab", "Value": lab}]
    stacks = []
    for name, body in (("detection", DETECTION), ("victim", VICTIM)):
        params = lab_stacks.victim_parameters(cf, lab) if name == "victim" else {"LabName": lab}
        stack = create_stack(cf, f"irlab-{lab}-{name}", body.read_text(), params, Tags=tags)
        assert stack["StackStatus"] == "CREATE_COMPLETE", (name, stack.get("StackStatusReason"))
        stacks.append(_outputs(stack))
    detection, victim = stacks
    stack = create_stack(
        cf,
        f"irlab-{lab}-{part}",
        playbook.read_text(),
        {
            "LabName": lab,
            "AlertTopicArn": detection["AlertTopicArn"],
            "AuditRecorderArn": detection["AuditRecorderArn"],
            "InstanceId": victim["InstanceId"],
            "QuarantineSecurityGroupId": victim["QuarantineSecurityGroupId"],
            "UntrackSecurityGroupId": victim["UntrackSecurityGroupId"],
            "InstanceRoleArn": victim["InstanceRoleArn"],
            "SubnetId": victim["SubnetId"],
            **_evidence_parameters(playbook, detection),
            **(parameters or {}),
        },
        Tags=tags,
    )
    if stack["StackStatus"] != "CREATE_COMPLETE":
        failed = [
            (e["LogicalResourceId"], e.get("ResourceStatusReason"))
            for e in cf.describe_stack_events(StackName=f"irlab-{lab}-{part}")["StackEvents"]
            if e["ResourceStatus"].endswith("FAILED")
        ]
        pytest.fail(f"{playbook.name}: {stack['StackStatus']} {failed}")
    return detection, victim, _outputs(stack)


def _evidence_parameters(playbook: Path, detection: dict[str, str]) -> dict[str, str]:
    """The evidence bucket and collection document, for a playbook that collects
    (CloudFormation refuses a parameter the template does not declare)."""
    if "CollectDocumentName:" not in playbook.read_text():
        return {}
    return {"EvidenceBucketName": detection["EvidenceBucketName"], "CollectDocumentName": detection["CollectDocumentName"]}


def audit_records(logs: Any, group: str, term: str | None = None, start_ms: int | None = None) -> list[dict[str, Any]]:
    """The audit log group's records, oldest first: the lines the recorder
    printed, each one JSON object - an EventBridge event (with "detail-type")
    or an SNS notification envelope ("Type": "Notification") - read with
    FilterLogEvents: all of them (every page), or only those containing
    ``term`` (a quoted-term filter pattern, e.g. a finding id) at or after
    ``start_ms``. Lambda's own lines (START/END/REPORT, errors) are not
    records.
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
    """
    kwargs: dict[str, Any] = {"logGroupName": group}
    if term is not None:
        kwargs["filterPattern"] = f'"{term}"'
    if start_ms is not None:
        kwargs["startTime"] = start_ms
    records = []
    for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
        for event in page["events"]:
            line = event["message"].strip()
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and ("detail-type" in record or record.get("Type") == "Notification"):
                records.append(record)
    return records


def finding_event(instance_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "source": "irlab.simulation",
        "detail-type": "GuardDuty Finding",
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "id": uuid.uuid4().hex,
            "type": "UnauthorizedAccess:EC2/TorClient",
            "severity": 8,
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": instance_id}},
        },
    }


def assert_contained(aws: Any, victim: dict[str, str], snapshots_awaited: bool = True) -> None:
    """The containment effects irlab verifies, read from EC2 directly; the
    snapshots are completed when the playbook waits for them (Step Functions,
    SSM), at least under way when it does not (Lambda)."""
    ec2 = aws("ec2")
    instance_id, quarantine = victim["InstanceId"], victim["QuarantineSecurityGroupId"]
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert instance["NetworkInterfaces"]
    for interface in instance["NetworkInterfaces"]:
        assert [g["GroupId"] for g in interface["Groups"]] == [quarantine], interface["NetworkInterfaceId"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [quarantine]
    associations = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}]
    )["IamInstanceProfileAssociations"]
    assert [a for a in associations if a["State"] in ("associating", "associated")] == []
    assert "IamInstanceProfile" not in instance
    for attribute, key in (("disableApiTermination", "DisableApiTermination"), ("disableApiStop", "DisableApiStop")):
        assert ec2.describe_instance_attribute(InstanceId=instance_id, Attribute=attribute)[key]["Value"] is True, key
    volumes = {m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"]}
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "tag:irlab:lab", "Values": [LAB]}])["Snapshots"]
    assert volumes and {s["VolumeId"] for s in snapshots} >= volumes
    states = {s["State"] for s in snapshots if s["VolumeId"] in volumes}
    assert states == {"completed"} if snapshots_awaited else states <= {"pending", "completed"}, states
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["irlab:ir-status"] == "contained"


@_needs(DETECTION, VICTIM, STACKS / "playbook-stepfunctions.yaml")
def test_stepfunctions_playbook_contains_the_victim(aws, emulator):
    """stacks/playbook-stepfunctions.yaml on the lab: StartExecution with a
    GuardDuty finding event about the victim (source irlab.simulation,
    detail-type GuardDuty Finding, UnauthorizedAccess:EC2/TorClient, severity
    8) SUCCEEDS, and EC2 shows the containment: every interface carries only
    the quarantine group, no instance profile association, termination and
    stop protection on, completed snapshots of every volume tagged with the
    lab, the instance tagged irlab:ir-status=contained.  (Its 60-second Wait
    runs at wait scale 0.01.)
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
    https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyNetworkInterfaceAttribute.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisassociateIamInstanceProfile.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html
    """
    cf, sfn = aws("cloudformation"), aws("stepfunctions")
    set_wait_scale(emulator, 0.01)
    _, victim, playbook = deploy(cf, STACKS / "playbook-stepfunctions.yaml", "playbook")
    arn = playbook["PlaybookArn"]
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps(finding_event(victim["InstanceId"])))[
        "executionArn"
    ]
    described = finish_execution(sfn, execution_arn, timeout=60)
    failures = [e for e in history(sfn, execution_arn) if e["type"].endswith("Failed")]
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"), failures[:3])
    assert_contained(aws, victim)


@_needs(DETECTION, VICTIM, STACKS / "playbook-ssm.yaml")
def test_ssm_playbook_contains_the_victim(aws, emulator):
    """stacks/playbook-ssm.yaml on the lab: StartAutomationExecution of its
    runbook with the finding's parameters (FindingId, FindingType,
    InstanceId, Severity, AutomationAssumeRole - as the rule's input
    transformer passes them) ends Success, and EC2 shows the same containment
    as for the Step Functions playbook.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StartAutomationExecution.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetAutomationExecution.html
    """
    cf, ssm = aws("cloudformation"), aws("ssm")
    set_wait_scale(emulator, 0.01)
    _, victim, playbook = deploy(cf, STACKS / "playbook-ssm.yaml", "playbook")
    document = playbook["PlaybookName"]
    declared = {p["Name"] for p in ssm.describe_document(Name=document)["Document"].get("Parameters", [])}
    detail = finding_event(victim["InstanceId"])["detail"]
    # what the rule's input transformer hands the runbook (each value a list)
    candidates = {
        "FindingId": [detail["id"]],
        "FindingType": [detail["type"]],
        "InstanceId": [victim["InstanceId"]],
        "Severity": [str(detail["severity"])],
        "AutomationAssumeRole": [playbook["PlaybookRoleArn"]],
    }
    parameters = {k: v for k, v in candidates.items() if k in declared}
    execution_id = ssm.start_automation_execution(DocumentName=document, Parameters=parameters)["AutomationExecutionId"]
    execution = finish_automation(ssm, execution_id, timeout=60)
    failed = [(s["StepName"], s.get("FailureMessage")) for s in execution["StepExecutions"] if s["StepStatus"] != "Success"]
    assert execution["AutomationExecutionStatus"] == "Success", (execution.get("FailureMessage"), failed)
    assert_contained(aws, victim)


# The API calls a run makes when the victim is already contained for its
# finding: reads only.
READS = {"describeInstances", "describeSnapshots", "describeTags", "DescribeInstances", "DescribeTags", "DescribeSnapshots"}


@_needs(DETECTION, VICTIM, STACKS / "playbook-stepfunctions.yaml", STACKS / "playbook-ssm.yaml")
@pytest.mark.parametrize("engine", ["stepfunctions", "ssm"])
def test_a_finding_already_contained_is_not_contained_again(aws, emulator, engine):
    """A second run for a finding the victim is already contained for (a
    duplicate delivery, or GuardDuty's update of the finding) is a success that
    only reads: the Step Functions execution SUCCEEDS through its "Already
    contained" state having scheduled only Describe* tasks, the automation ends
    Success at its alreadyContained step having called only Describe* APIs.
    No tag is written, no snapshot taken, nothing published: the instance's
    tags and the lab's snapshots are as the first run left them.
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetAutomationExecution.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-delivery-level.html
    """
    set_wait_scale(emulator, 0.01 if engine == "stepfunctions" else 0.2)
    ec2 = aws("ec2")
    _, victim, playbook = deploy(aws("cloudformation"), STACKS / f"playbook-{engine}.yaml", "playbook")
    event = finding_event(victim["InstanceId"])
    detail = event["detail"]

    def run() -> Any:
        if engine == "stepfunctions":
            sfn = aws("stepfunctions")
            arn = sfn.start_execution(stateMachineArn=playbook["PlaybookArn"], input=json.dumps(event))["executionArn"]
            described = finish_execution(sfn, arn, timeout=60)
            assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
            return history(sfn, arn)
        ssm = aws("ssm")
        parameters = {
            "FindingId": [detail["id"]],
            "FindingType": [detail["type"]],
            "InstanceId": [victim["InstanceId"]],
            "Severity": [str(detail["severity"])],
            "AutomationAssumeRole": [playbook["PlaybookRoleArn"]],
        }
        execution_id = ssm.start_automation_execution(DocumentName=playbook["PlaybookName"], Parameters=parameters)[
            "AutomationExecutionId"
        ]
        execution = finish_automation(ssm, execution_id, timeout=60)
        assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
        return execution["StepExecutions"]

    def state() -> tuple[Any, ...]:
        instance = ec2.describe_instances(InstanceIds=[victim["InstanceId"]])["Reservations"][0]["Instances"][0]
        snapshots = ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "tag:irlab:lab", "Values": [LAB]}])["Snapshots"]
        return sorted((t["Key"], t["Value"]) for t in instance["Tags"]), sorted(s["SnapshotId"] for s in snapshots)

    run()
    assert_contained(aws, victim)
    before = state()
    second = run()
    if engine == "stepfunctions":
        entered = [e["stateEnteredEventDetails"]["name"] for e in second if "stateEnteredEventDetails" in e]
        assert entered[-1] == "Already contained", entered
        called = {e["taskScheduledEventDetails"]["resource"] for e in second if e["type"] == "TaskScheduled"}
    else:
        assert second[-1]["StepName"] == "alreadyContained", [s["StepName"] for s in second]
        # (the triage script only reads: DescribeInstances, DescribeSnapshots, GetAutomationExecution)
        called = {s["Inputs"]["Api"].strip('"') for s in second if s["Action"] == "aws:executeAwsApi"}
    assert called <= READS, called
    assert state() == before
