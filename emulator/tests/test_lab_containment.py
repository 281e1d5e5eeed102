"""Containment that cuts the attacker off, in the three playbooks
(stacks/playbook-{lambda,stepfunctions,ssm}.yaml on stacks/detection.yaml and
stacks/victim.yaml): before the finding the attacker holds the instance role's
credentials (taken from IMDS), an open connection and an Elastic IP on the
victim; after the playbook, the credentials are denied, the connection is cut,
the volumes outlive the instance and the Elastic IP is off it, with what reset
needs to restore recorded in the instance's tags."""

from __future__ import annotations

import datetime
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, REPO_ROOT, create_stack
from test_lab_playbook_lambda import WAIT_SCALE, _engine_failures, _finding, _inject_all, _notifications, _settled, _tags
from test_lab_playbooks import LAB, assert_contained, audit_records, deploy

STACKS = REPO_ROOT / "stacks"
ENGINES = ("lambda", "stepfunctions", "ssm")
ATTACKER = "203.0.113.9"
REVOKE_POLICY = "irlab-revoke-sessions"
STEPS = ("collect", "record", "revoke", "cut", "preserve", "disassociate", "snapshot")
# the engines whose playbook collects evidence first (issue 12: all three once done)
COLLECTING = {e for e in ENGINES if (STACKS / f"playbook-{e}.yaml").exists()
              and "CollectFromLabInstances" in (STACKS / f"playbook-{e}.yaml").read_text()}
STEP_LINE = re.compile(r"^  (\d)\. ([a-z]+) at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z): (.+)$")

pytestmark = pytest.mark.skipif(
    not all((STACKS / f"playbook-{e}.yaml").exists() for e in ENGINES), reason="the lab templates are not in stacks/"
)


def _control(emulator: Any, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{emulator.endpoint}/moto-api/irlab/ec2/{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _stolen(emulator: Any, instance_id: str) -> dict[str, Any]:
    """The instance role's credentials as IMDS hands them (what an attacker on the victim takes)."""
    status, document = _control(emulator, "GET", f"instance-credentials?instanceId={instance_id}&region={REGION}")
    assert status == 200, document
    return document


def _ssm_as(emulator: Any, document: dict[str, Any]) -> Any:
    return boto3.client(
        "ssm",
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id=document["AccessKeyId"],
        aws_secret_access_key=document["SecretAccessKey"],
        aws_session_token=document["Token"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _use(ssm: Any) -> Any:
    """A call AmazonSSMManagedInstanceCore (the victim role's only policy) allows."""
    return ssm.get_document(Name="AWS-RunShellScript")


def _open_attacker_flow(emulator: Any, instance_id: str) -> dict[str, Any]:
    """The attacker's connection. The victim's app group has no inbound rule
    (victim.yaml), so it is the victim's outbound TCP connection to the
    attacker (a reverse shell), allowed by the default egress rule."""
    status, flow = _control(
        emulator,
        "POST",
        "flows",
        {"instanceId": instance_id, "region": REGION, "protocol": "tcp", "remoteIp": ATTACKER, "remotePort": 443, "direction": "outbound"},
    )
    assert status == 200, flow
    assert flow["tracked"] is True and flow["state"] == "alive", flow
    return flow


def _flow(emulator: Any, flow_id: str) -> dict[str, Any]:
    status, body = _control(emulator, "GET", f"flows?region={REGION}")
    assert status == 200, body
    return next(f for f in body["flows"] if f["flowId"] == flow_id)


def _instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def _parse(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _contained_notice(aws: Any, detection: dict[str, str], finding_id: str) -> str:
    notices = [
        n for n in _notifications(audit_records(aws("logs"), detection["AuditLogGroupName"], term=finding_id))
        if f"Finding id: {finding_id}\n" in n["Message"] and n["Subject"].endswith(" contained")
    ]
    assert len(notices) == 1, notices
    return notices[0]["Message"]


@pytest.mark.parametrize("engine", ENGINES)
def test_containment_cuts_the_attacker_off(aws, emulator, engine):
    """Before the finding the attacker has the victim role's credentials from
    IMDS (they work), an open TCP connection from the victim (tracked: the app
    group allows it) and an Elastic IP associated with the victim. The playbook,
    started by the finding on the bus, then:

    * revokes the role's active sessions with the inline policy
      irlab-revoke-sessions - exactly one statement, Deny * on * when
      aws:TokenIssueTime is before the containment time - so the stolen
      credentials are denied at once with an explicit deny, while a session
      issued after it (the instance's next credentials, once its profile is
      associated again) is not; and disassociates the instance profile;
    * moves every interface through the all-traffic group to the quarantine
      group, so the tracked connection becomes untracked and is cut;
    * sets DeleteOnTermination false on every volume (termination and stop
      protection as before);
    * disassociates the Elastic IP, which stays allocated;
    * records irlab:volumes (each volume's DeleteOnTermination before) and
      irlab:eip (<AllocationId>=<PublicIp>) for reset;
    * notifies with one line per step, "N. <step> at <UTC ms Z>: ...", in
      order and in time order, without the old caveats.

    A second finding on the contained victim leaves irlab:volumes and
    irlab:eip as the first containment recorded them.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-tokenissuetime
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html
    https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-awssupport-containec2instance.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisassociateAddress.html
    """
    from test_stepfunctions import set_wait_scale

    set_wait_scale(emulator, WAIT_SCALE[engine])
    ec2, iam = aws("ec2"), aws("iam")
    detection, victim, _ = deploy(aws("cloudformation"), STACKS / f"playbook-{engine}.yaml", "playbook")
    instance_id = victim["InstanceId"]
    role_name = victim["InstanceRoleArn"].rsplit("/", 1)[-1]

    stolen = _stolen(emulator, instance_id)
    attacker = _ssm_as(emulator, stolen)
    _use(attacker)
    flow = _open_attacker_flow(emulator, instance_id)
    allocation = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=allocation["AllocationId"], InstanceId=instance_id)
    before = _instance(ec2, instance_id)
    volumes_before = {m["Ebs"]["VolumeId"]: m["Ebs"]["DeleteOnTermination"] for m in before["BlockDeviceMappings"]}
    assert volumes_before and all(volumes_before.values()), volumes_before

    finding_id = f"irlab-sim-cut-{engine}"
    _inject_all(aws("events"), [_finding(instance_id, finding_id)])
    assert _settled(aws, emulator, engine, 1) == ["contained"], _engine_failures(aws, engine)
    assert_contained(aws, victim, snapshots_awaited=engine != "lambda")

    # sessions revoked
    policy = iam.get_role_policy(RoleName=role_name, PolicyName=REVOKE_POLICY)["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    [statement] = policy["Statement"]
    cut_time = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
    assert statement == {
        "Sid": "RevokeOlderSessions",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": cut_time}},
    }, statement
    assert cut_time.endswith("Z") and _parse(cut_time) > _parse(stolen["LastUpdated"]), (cut_time, stolen["LastUpdated"])
    with pytest.raises(ClientError) as denied:
        _use(attacker)
    error = denied.value.response["Error"]
    assert error["Code"] in ("AccessDeniedException", "AccessDenied"), error
    assert "with an explicit deny in an identity-based policy" in error["Message"], error

    # cut: the tracked connection became untracked in the all-traffic group, then stopped
    dropped = _flow(emulator, flow["flowId"])
    assert dropped["state"] == "dropped", dropped
    assert any(h.startswith("untracked") for h in dropped["history"]), dropped["history"]

    # preserved, disassociated, recorded
    after = _instance(ec2, instance_id)
    assert {m["Ebs"]["VolumeId"]: m["Ebs"]["DeleteOnTermination"] for m in after["BlockDeviceMappings"]} == {
        v: False for v in volumes_before
    }
    [address] = ec2.describe_addresses(AllocationIds=[allocation["AllocationId"]])["Addresses"]
    assert not address.get("AssociationId") and not address.get("InstanceId"), address
    assert ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Addresses"] == []
    tags = _tags(aws, instance_id)
    recorded = {"irlab:volumes": ";".join(f"{v}={'true' if d else 'false'}" for v, d in volumes_before.items()),
                "irlab:eip": f"{allocation['AllocationId']}={allocation['PublicIp']}"}
    assert {k: tags.get(k) for k in recorded} == recorded, tags
    assert victim["UntrackSecurityGroupId"] not in tags["irlab:original-groups"], tags

    # the notification: one timed line per step, in order
    message = _contained_notice(aws, detection, finding_id)
    lines = [STEP_LINE.match(line) for line in message.split("\n")]
    steps = [(int(m[1]), m[2], _parse(m[3]), m[4]) for m in lines if m]
    expected = STEPS if engine in COLLECTING else STEPS[1:]
    assert [(n, name) for n, name, _, _ in steps] == list(enumerate(expected, start=1)), message
    times = [at for _, _, at, _ in steps]
    assert times == sorted(times), message
    assert f"\n  {len(expected) + 1}. notify: this message" in message, message
    assert "may survive" not in message and "stay valid" not in message, message
    details = {name: detail for _, name, _, detail in steps}
    assert allocation["AllocationId"] in details["record"] and allocation["PublicIp"] in details["disassociate"], details
    assert cut_time in details["revoke"], (cut_time, details["revoke"])

    # a session issued after the containment is not denied: associate the
    # profile again (as reset does) and take the instance's next credentials
    ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": victim["InstanceProfileName"]}, InstanceId=instance_id)
    wait = (_parse(cut_time) - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 1.1
    time.sleep(max(0.0, wait))
    _use(_ssm_as(emulator, _stolen(emulator, instance_id)))

    # a new finding on the contained victim keeps what the first containment recorded
    second = f"irlab-sim-again-{engine}"
    _inject_all(aws("events"), [_finding(instance_id, second)])
    assert _settled(aws, emulator, engine, 2) == ["contained", "contained"], _engine_failures(aws, engine)
    again = _tags(aws, instance_id)
    assert again["irlab:finding-id"] == second and {k: again.get(k) for k in recorded} == recorded, again
    assert victim["AppSecurityGroupId"] in again["irlab:original-groups"], again


def test_a_direct_swap_leaves_the_attackers_connection_open(aws, emulator):
    """Why the playbooks pass through the all-traffic group: on the lab's
    victim (stacks/victim.yaml), the attacker's connection - tracked, since
    the app group's rules are not "all traffic both ways" - survives a swap
    straight to the quarantine group ("An existing flow of traffic that is
    tracked may not be interrupted when you remove the security group rule
    that enables that flow"). Moving the interface to UntrackSecurityGroup
    (all traffic in and out, 0.0.0.0/0 and ::/0) makes it untracked, and
    moving it on to the quarantine group then cuts it ("An untracked flow of
    traffic is immediately interrupted if the rule that enables the flow is
    removed or modified").
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html
    https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-awssupport-containec2instance.html
    """
    import lab_stacks

    ec2 = aws("ec2")
    cf = aws("cloudformation")
    stack = create_stack(cf, f"irlab-{LAB}-victim", (STACKS / "victim.yaml").read_text(), lab_stacks.victim_parameters(cf, LAB),
                         Tags=[{"Key": "irlab:lab", "Value": LAB}])
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    victim = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    instance_id = victim["InstanceId"]
    untrack = ec2.describe_security_groups(GroupIds=[victim["UntrackSecurityGroupId"]])["SecurityGroups"][0]
    everyone = {(p["IpProtocol"], r.get("CidrIp") or r.get("CidrIpv6")) for p in untrack["IpPermissions"] for r in p.get("IpRanges", []) + p.get("Ipv6Ranges", [])}
    assert everyone == {("-1", "0.0.0.0/0"), ("-1", "::/0")}, untrack["IpPermissions"]
    everyone_out = {(p["IpProtocol"], r.get("CidrIp") or r.get("CidrIpv6")) for p in untrack["IpPermissionsEgress"] for r in p.get("IpRanges", []) + p.get("Ipv6Ranges", [])}
    assert everyone_out == {("-1", "0.0.0.0/0"), ("-1", "::/0")}, untrack["IpPermissionsEgress"]

    [interface] = [i["NetworkInterfaceId"] for i in _instance(ec2, instance_id)["NetworkInterfaces"]]
    flow = _open_attacker_flow(emulator, instance_id)
    ec2.modify_network_interface_attribute(NetworkInterfaceId=interface, Groups=[victim["QuarantineSecurityGroupId"]])
    survived = _flow(emulator, flow["flowId"])
    assert survived["state"] == "alive" and survived["tracked"] is True, survived

    ec2.modify_network_interface_attribute(NetworkInterfaceId=interface, Groups=[victim["UntrackSecurityGroupId"]])
    assert _flow(emulator, flow["flowId"])["tracked"] is False
    ec2.modify_network_interface_attribute(NetworkInterfaceId=interface, Groups=[victim["QuarantineSecurityGroupId"]])
    cut = _flow(emulator, flow["flowId"])
    assert cut["state"] == "dropped", cut
