"""Evidence before isolation, in the three playbooks
(stacks/playbook-{lambda,stepfunctions,ssm}.yaml on stacks/detection.yaml and
stacks/victim.yaml): the first containment step sends the detection stack's
CollectDocument to the victim (Run Command, really run in the stand-in's
sandbox), waits for it at most EvidenceBudgetSeconds plus 15 s, checks each
collected version in S3 and seals it with volatile/<finding>/<run>/manifest.json;
only then are the credentials revoked and the connections cut."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any

import pytest

from conftest import REPO_ROOT, eventually
from test_evidence_collection import ITEMS, _attack
from test_lab_containment import STEP_LINE, _contained_notice, _parse
from test_lab_playbook_lambda import WAIT_SCALE, _engine_failures, _finding, _inject_all, _runs, _settled, _tags
from test_lab_playbooks import LAB, deploy
from test_ssm import managed
from test_ssm_instance import _agent, _service_scale

STACKS = REPO_ROOT / "stacks"
ENGINES = ("lambda", "stepfunctions", "ssm")
INDICATORS = {"processes": ["tor"], "files": ["/etc/tor/torrc"], "domains": []}
GRACE_SECONDS = 15


# a mark of each engine's collect step in its template
COLLECT_STEP = {"lambda": "def _collect(", "stepfunctions": "Send collection:", "ssm": "name: collectEvidence"}


def _ready(engine: str) -> Any:
    path = STACKS / f"playbook-{engine}.yaml"
    text = path.read_text() if path.exists() else ""
    return pytest.param(engine, marks=pytest.mark.skipif(COLLECT_STEP[engine] not in text, reason="no collect step"))


PARAMS = [_ready(e) for e in ENGINES]


def _manifest(aws: Any, bucket: str, finding_id: str) -> tuple[str, dict[str, Any]]:
    s3 = aws("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"volatile/{finding_id}/").get("Contents", [])]
    [key] = [k for k in keys if k.endswith("/manifest.json")]
    return key, json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _steps(message: str) -> dict[str, tuple[int, datetime.datetime, str]]:
    found = [STEP_LINE.match(line) for line in message.split("\n")]
    return {m[2]: (int(m[1]), _parse(m[3]), m[4]) for m in found if m}


def _collection_over(aws: Any, emulator: Any, instance_id: str) -> None:
    """Once the playbook has recorded (the step after the collection, in
    every engine), AWS's delays follow the wait scale again: the engines that
    await their snapshots (Step Functions, SSM) need not wait the snapshots'
    real minutes."""
    assert eventually(lambda: _tags(aws, instance_id).get("irlab:ir-status"), timeout=180, interval=0.3)
    _service_scale(emulator, None)


def _lab(aws: Any, emulator: Any, engine: str, lab: str, **parameters: str) -> tuple[dict[str, str], dict[str, str]]:
    from test_stepfunctions import set_wait_scale

    set_wait_scale(emulator, WAIT_SCALE[engine])
    detection, victim, _ = deploy(aws("cloudformation"), STACKS / f"playbook-{engine}.yaml", "playbook", lab,
                                  {"Indicators": json.dumps(INDICATORS), **parameters})
    managed(aws("ssm"), victim["InstanceId"])
    _service_scale(emulator, 1.0)  # the collection's budget is the instance's real seconds
    return detection, victim


@pytest.mark.parametrize("engine", PARAMS)
def test_evidence_is_collected_and_sealed_before_isolation(aws, emulator, engine):
    """After the tor-client attack, the finding's playbook first runs the
    CollectDocument on the victim (SendCommand, then GetCommandInvocation until
    it ends) and checks each item it reported with HeadObject of the recorded
    VersionId, ChecksumMode ENABLED (S3 returns the SHA-256 it verified at
    upload, base64); manifest.json beside the items lists every planned item
    with its key, version, S3 checksum, size and collection time, names the
    lab, the instance, the finding and the engine's run (its execution ARN,
    automation execution id or request id), and is complete. Every checksum
    is that of the version's bytes. The notice's first line is the collect
    step, and its time is before the revoke and cut steps.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html
    """
    lab = LAB
    # The budget is in the engine's time (Step Functions and SSM Waits follow the wait scale) and
    # the victim's script runs in real seconds: the longest budget leaves it real time to finish.
    detection, victim = _lab(aws, emulator, engine, lab, EvidenceBudgetSeconds="600")
    instance_id, bucket = victim["InstanceId"], detection["EvidenceBucketName"]
    _attack(emulator, instance_id)
    finding_id = f"irlab-sim-evidence-{engine}"
    _inject_all(aws("events"), [_finding(instance_id, finding_id)])
    _collection_over(aws, emulator, instance_id)
    assert _settled(aws, emulator, engine, 1, timeout=180) == ["contained"], _engine_failures(aws, engine)

    key, manifest = _manifest(aws, bucket, finding_id)
    prefix = key.rsplit("/", 1)[0]
    assert manifest["gaps"] == [] and manifest["complete"] is True, manifest
    assert (manifest["version"], manifest["lab"], manifest["instance"], manifest["finding"]) == (1, lab, instance_id, finding_id)
    [run] = _runs(aws, engine, lab)
    run_id = run.split()[2] if engine == "lambda" else run  # "START RequestId: <id> Version: ..."
    assert manifest["execution"] == run_id, (manifest["execution"], run)
    assert prefix.split("/")[2] == run_id.rsplit(":", 1)[-1], prefix
    assert _parse(manifest["started_at"]) <= _parse(manifest["ended_at"])
    s3 = aws("s3")
    assert sorted(i["key"] for i in manifest["items"]) == sorted(f"{prefix}/{name}" for name in ITEMS)
    for item in manifest["items"]:
        body = s3.get_object(Bucket=bucket, Key=item["key"], VersionId=item["version_id"])["Body"].read()
        assert item["checksum_sha256"] == base64.b64encode(hashlib.sha256(body).digest()).decode(), item
        assert item["bytes"] == len(body) and item["collected_at"].endswith("Z"), item
    indicators = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/indicators.json")["Body"].read())
    assert indicators["processes"] == {"tor": True}, indicators

    steps = _steps(_contained_notice(aws, detection, finding_id))
    number, collected_at, detail = steps["collect"]
    assert number == 1 and detail == f"6 item(s) in s3://{bucket}/{prefix} (complete)", steps["collect"]
    assert collected_at < steps["revoke"][1] <= steps["cut"][1], steps
    assert _parse(manifest["ended_at"]) <= steps["revoke"][1] + datetime.timedelta(milliseconds=1), (manifest, steps)


@pytest.mark.parametrize("engine", PARAMS)
def test_a_collection_that_cannot_finish_does_not_hold_isolation_back(aws, emulator, engine):
    """A victim whose SSM Agent does not take the command (the invocation
    stays Pending, "The command hasn't been sent to the managed node"): the
    playbook waits for the collection at most EvidenceBudgetSeconds (10 here)
    plus 15 s from SendCommand, cancels the command (CancelCommand: the
    invocation ends Cancelled) and goes on; the victim is cut within the
    budget plus a few seconds of the finding, and manifest.json says
    complete false, with no item and the gap.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html
    """
    budget = 10
    detection, victim = _lab(aws, emulator, engine, LAB, EvidenceBudgetSeconds=str(budget))
    instance_id, bucket = victim["InstanceId"], detection["EvidenceBucketName"]
    _agent(emulator, instance_id, 3600)
    finding_id = f"irlab-sim-hang-{engine}"
    sent = datetime.datetime.now(datetime.timezone.utc)
    _inject_all(aws("events"), [_finding(instance_id, finding_id)])
    _collection_over(aws, emulator, instance_id)
    assert _settled(aws, emulator, engine, 1, timeout=180) == ["contained"], _engine_failures(aws, engine)

    _, manifest = _manifest(aws, bucket, finding_id)
    assert manifest["complete"] is False and manifest["items"] == [], manifest
    assert len(manifest["gaps"]) == 1 and "not finished within" in manifest["gaps"][0], manifest["gaps"]
    steps = _steps(_contained_notice(aws, detection, finding_id))
    assert "0 item(s)" in steps["collect"][2] and "gaps: collection not finished within" in steps["collect"][2], steps["collect"]
    held_back = (steps["cut"][1] - sent).total_seconds()
    assert held_back <= budget + GRACE_SECONDS + 5, held_back
    ssm = aws("ssm")
    [command] = [c for c in ssm.list_commands(InstanceId=instance_id)["Commands"] if c["DocumentName"] == detection["CollectDocumentName"]]
    assert command["Status"] == "Cancelled", command


# --------------------------------------------------------------------------
# --memory: an AVML image after the volatile items, before isolation

# the engines that can wait for a memory image (a Lambda run ends at 15 minutes)
MEMORY_ENGINES = [p for p in PARAMS if p.values[0] in ("stepfunctions", "ssm")]
LAMBDA_ONLY = [p for p in PARAMS if p.values[0] == "lambda"]


def _with_memory(aws: Any, engine: str, lab: str, detection: dict[str, str], budget: str = "300") -> str:
    """`irlab up --memory`: the user's AVML in tools/avml of the evidence
    bucket (here the sandbox's stand-in), and the playbook stack updated with
    MemoryDocumentName, MemoryTool, MemoryToolSha256 and MemoryBudgetSeconds
    (the bucket's name is known once the detection stack exists)."""
    from conftest import template_source
    from test_memory_capture import _place_tool

    bucket = detection["EvidenceBucketName"]
    sha = _place_tool(aws, bucket)
    cf = aws("cloudformation")
    name = f"irlab-{lab}-playbook"
    new = {
        "MemoryDocumentName": detection["MemoryDocumentName"],
        "MemoryTool": f"s3://{bucket}/tools/avml",
        "MemoryToolSha256": sha,
        "MemoryBudgetSeconds": budget,
    }
    previous = {p["ParameterKey"]: p["ParameterValue"] for p in cf.describe_stacks(StackName=name)["Stacks"][0]["Parameters"]}
    cf.update_stack(
        StackName=name,
        **template_source(cf, (STACKS / f"playbook-{engine}.yaml").read_text()),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in {**previous, **new}.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    return sha


@pytest.mark.parametrize("engine", MEMORY_ENGINES)
def test_memory_is_taken_before_isolation_into_the_same_manifest(aws, emulator, engine):
    """With MemoryTool set (`irlab up --memory`), right after the volatile
    collection and before the credentials are revoked and the connections
    cut (the isolated victim reaches neither SSM nor S3), the playbook sends
    the MemoryDocument with the same prefix, follows it within its own budget
    plus 15 s, checks memory.lime with HeadObject of the recorded VersionId
    (ChecksumMode ENABLED) and lists it in the same, single manifest.json
    beside the six volatile items: complete, each checksum that of the
    version's bytes; the notice's step 1 counts 7 items.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html
    """
    lab = LAB
    detection, victim = _lab(aws, emulator, engine, lab, EvidenceBudgetSeconds="600")
    _with_memory(aws, engine, lab, detection, budget="1800")
    instance_id, bucket = victim["InstanceId"], detection["EvidenceBucketName"]
    _attack(emulator, instance_id)
    finding_id = f"irlab-sim-memory-{engine}"
    _inject_all(aws("events"), [_finding(instance_id, finding_id)])
    _collection_over(aws, emulator, instance_id)
    assert _settled(aws, emulator, engine, 1, timeout=180) == ["contained"], _engine_failures(aws, engine)

    s3 = aws("s3")
    key, manifest = _manifest(aws, bucket, finding_id)
    prefix = key.rsplit("/", 1)[0]
    assert manifest["gaps"] == [] and manifest["complete"] is True, manifest
    assert sorted(i["key"] for i in manifest["items"]) == sorted(f"{prefix}/{name}" for name in ITEMS + ["memory.lime"])
    for item in manifest["items"]:
        body = s3.get_object(Bucket=bucket, Key=item["key"], VersionId=item["version_id"])["Body"].read()
        assert item["checksum_sha256"] == base64.b64encode(hashlib.sha256(body).digest()).decode(), item
        assert item["bytes"] == len(body), item
    [memory] = [i for i in manifest["items"] if i["key"].endswith("/memory.lime")]
    steps = _steps(_contained_notice(aws, detection, finding_id))
    number, collected_at, detail = steps["collect"]
    assert number == 1 and detail == f"7 item(s) in s3://{bucket}/{prefix} (complete)", steps["collect"]
    assert _parse(memory["collected_at"]) <= steps["cut"][1] and collected_at < steps["revoke"][1] <= steps["cut"][1], steps
    [command] = [c for c in aws("ssm").list_commands(InstanceId=instance_id)["Commands"] if c["DocumentName"] == detection["MemoryDocumentName"]]
    assert command["Parameters"]["Prefix"] == [prefix] and command["Status"] == "Success", command


@pytest.mark.parametrize("engine", MEMORY_ENGINES)
def test_a_memory_capture_that_cannot_finish_does_not_hold_isolation_back(aws, emulator, engine):
    """A memory capture the victim's SSM Agent does not take (Pending) is
    cancelled at its own budget (MemoryBudgetSeconds, 60 here) plus 15 s
    (CancelCommand: Cancelled) and isolation goes on: the manifest has the
    six volatile items and the memory gap, complete false; the victim is cut
    within the two budgets plus the grace of each.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html
    """
    detection, victim = _lab(aws, emulator, engine, LAB, EvidenceBudgetSeconds="600")
    _with_memory(aws, engine, LAB, detection, budget="60")
    instance_id, bucket = victim["InstanceId"], detection["EvidenceBucketName"]
    _agent_for(emulator, instance_id, detection["MemoryDocumentName"], 3600)
    finding_id = f"irlab-sim-memhang-{engine}"
    sent = datetime.datetime.now(datetime.timezone.utc)
    _inject_all(aws("events"), [_finding(instance_id, finding_id)])
    _collection_over(aws, emulator, instance_id)
    assert _settled(aws, emulator, engine, 1, timeout=180) == ["contained"], _engine_failures(aws, engine)

    key, manifest = _manifest(aws, bucket, finding_id)
    prefix = key.rsplit("/", 1)[0]
    assert manifest["complete"] is False, manifest
    assert sorted(i["key"] for i in manifest["items"]) == sorted(f"{prefix}/{name}" for name in ITEMS), manifest["items"]
    assert len(manifest["gaps"]) == 1 and manifest["gaps"][0].startswith("memory capture not finished within 75 s"), manifest["gaps"]
    steps = _steps(_contained_notice(aws, detection, finding_id))
    assert "6 item(s)" in steps["collect"][2] and "gaps: memory capture not finished within 75 s" in steps["collect"][2], steps["collect"]
    held_back = (steps["cut"][1] - sent).total_seconds()
    assert held_back <= 600 + 60 + 2 * GRACE_SECONDS + 5, held_back
    [command] = [c for c in aws("ssm").list_commands(InstanceId=instance_id)["Commands"] if c["DocumentName"] == detection["MemoryDocumentName"]]
    assert command["Status"] == "Cancelled", command


@pytest.mark.parametrize("engine", LAMBDA_ONLY)
def test_the_lambda_playbook_takes_no_memory_and_says_why(aws, emulator, engine):
    """A Lambda invocation ends at 15 minutes at most, and a memory image may
    take longer: with MemoryTool set the Lambda playbook collects the
    volatile items only, sends no MemoryDocument, its manifest is complete
    for what it planned (no memory.lime), and the notice's collect line says
    why memory was not taken.
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html
    """
    detection, victim = _lab(aws, emulator, engine, LAB, EvidenceBudgetSeconds="600")
    _with_memory(aws, engine, LAB, detection)
    instance_id, bucket = victim["InstanceId"], detection["EvidenceBucketName"]
    finding_id = "irlab-sim-nomemory-lambda"
    _inject_all(aws("events"), [_finding(instance_id, finding_id)])
    _collection_over(aws, emulator, instance_id)
    assert _settled(aws, emulator, engine, 1, timeout=180) == ["contained"], _engine_failures(aws, engine)

    key, manifest = _manifest(aws, bucket, finding_id)
    prefix = key.rsplit("/", 1)[0]
    assert manifest["complete"] is True and manifest["gaps"] == [], manifest
    assert sorted(i["key"] for i in manifest["items"]) == sorted(f"{prefix}/{name}" for name in ITEMS)
    steps = _steps(_contained_notice(aws, detection, finding_id))
    assert steps["collect"][2] == (
        f"6 item(s) in s3://{bucket}/{prefix} (complete); memory not taken: a Lambda run ends at 15 minutes "
        "(the stepfunctions and ssm playbooks take it)"
    ), steps["collect"]
    documents = {c["DocumentName"] for c in aws("ssm").list_commands(InstanceId=instance_id)["Commands"]}
    assert detection["MemoryDocumentName"] not in documents, documents


def _agent_for(emulator: Any, instance: str, document: str, hold: float) -> dict[str, Any]:
    """The stand-in's control: the instance's agent picks up the commands of
    ``document`` ``hold`` s late (the others as usual)."""
    import urllib.request

    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/irlab/ssm/agent",
        data=json.dumps({"instanceId": instance, "holdSeconds": hold, "documentName": document}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# --------------------------------------------------------------------------
# The SSM playbook's long wait for memory, on a simulated clock: the stand-in
# runs a runbook's scripts in real seconds, and a memory budget of 1,800 s
# would hold a test for half an hour.

# Runs the runbook's scripts from collectEvidence to sealEvidence with their
# aws:branch steps between, as Automation does, on a clock that only sleep()
# moves; boto3.client gives a fake SSM and S3 (see _simulate). Prints the
# trace as JSON.
_HARNESS = r'''
import base64, datetime, hashlib, json, re, sys, time, types

import botocore.config
from botocore.exceptions import ClientError

spec = json.load(sys.stdin)
clock = {"now": spec["start"]}
fake_time = types.ModuleType("time")
fake_time.__dict__.update({k: v for k, v in vars(time).items() if not k.startswith("__")})
fake_time.time = lambda: clock["now"]
fake_time.monotonic = lambda: clock["now"]
fake_time.sleep = lambda s: clock.__setitem__("now", clock["now"] + s)
sys.modules["time"] = fake_time  # the scripts import time inside their handler

calls, objects = [], {}
commands = {}  # id -> {"document", "sent"}
ends = spec["ends"]  # document -> seconds after SendCommand when it ends (absent: never delivered)


def record(document, prefix):
    names = ["memory.lime"] if document == "memory" else spec["items"]
    items = []
    for name in names:
        body = f"{name} bytes".encode()
        key = f"{prefix}/{name}"
        objects[key] = body
        items.append({"name": name, "key": key, "status": "stored", "versionId": "v1",
                      "sha256": hashlib.sha256(body).hexdigest(), "collected": "2026-01-01T00:00:00.000Z",
                      "errors": []})
    return json.dumps({"version": "x", "items": items})


class Ssm:
    def send_command(self, **kw):
        command_id = f"cmd-{len(commands)}"
        commands[command_id] = {"document": kw["DocumentName"], "sent": clock["now"], "prefix": kw["Parameters"]["Prefix"][0]}
        calls.append(["send_command", kw["DocumentName"], clock["now"], kw.get("TimeoutSeconds")])
        return {"Command": {"CommandId": command_id}}

    def get_command_invocation(self, CommandId, InstanceId):
        command = commands[CommandId]
        end = ends.get(command["document"])
        if command.get("cancelled") is not None:
            return {"Status": "Cancelled"}
        if end is None:
            raise ClientError({"Error": {"Code": "InvocationDoesNotExist", "Message": ""}}, "GetCommandInvocation")
        if clock["now"] < command["sent"] + end:
            return {"Status": "InProgress"}
        return {"Status": "Success", "ResponseCode": 0, "StandardErrorContent": "",
                "StandardOutputContent": record(command["document"], command["prefix"])}

    def cancel_command(self, CommandId, InstanceIds):
        commands[CommandId]["cancelled"] = clock["now"]
        calls.append(["cancel_command", commands[CommandId]["document"], clock["now"]])


class S3:
    def head_object(self, Bucket, Key, VersionId, ChecksumMode):
        body = objects[Key]
        return {"ChecksumSHA256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
                "VersionId": VersionId, "ContentLength": len(body)}

    def put_object(self, Bucket, Key, Body, **kw):
        objects[Key] = Body


boto3 = types.ModuleType("boto3")
boto3.client = lambda service, config=None: Ssm() if service == "ssm" else S3()
sys.modules["boto3"] = boto3

steps = {s["name"]: s for s in spec["steps"]}
values = dict(spec["values"])
ref = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def resolve(value):
    if isinstance(value, str):
        whole = ref.fullmatch(value.strip())
        if whole:
            return values.get(whole.group(1), value)
        return ref.sub(lambda m: str(values.get(m.group(1), m.group(0))), value)
    return value


# The collection ends where the runbook triages again before its claim (then the record).
trace, name = [], "collectEvidence"
while name not in ("triage", "tagContaining"):
    step = steps[name]
    if step["action"] == "aws:branch":
        name = step["inputs"]["Default"]
        for choice in step["inputs"]["Choices"]:
            if resolve(choice["Variable"]) == choice["StringEquals"]:
                name = choice["NextStep"]
        continue
    inputs = step["inputs"]
    namespace = {}
    exec(inputs["Script"], namespace)
    events = {k: resolve(v) for k, v in inputs["InputPayload"].items()}
    began = clock["now"]
    payload = namespace[inputs["Handler"]](events, None)
    for output in step.get("outputs", []):
        values[f"{name}.{output['Name']}"] = payload[output["Selector"].rsplit(".", 1)[-1]]
    trace.append([name, began, clock["now"], step["timeoutSeconds"]])
    name = step["nextStep"]
manifest = json.loads([v for k, v in objects.items() if k.endswith("/manifest.json")][0])
print(json.dumps({"trace": trace, "calls": calls, "manifest": manifest, "line": values["sealEvidence.Line"]}))
'''


def _simulate(memory_budget: int, ends: dict[str, float]) -> dict[str, Any]:
    """The runbook's collect steps of the SSM playbook with MemoryTool set,
    CloudFormation's parameters resolved, run by _HARNESS: ``ends`` gives
    the seconds after its SendCommand at which each command ("collect",
    "memory") ends; a command not in it is never delivered."""
    import subprocess
    import sys
    import time

    from cfn_template import properties

    params = {
        "LabName": LAB, "EvidenceBucketName": "bucket", "CollectDocumentName": "collect", "EvidenceBudgetSeconds": "120",
        "Indicators": "{}", "MemoryDocumentName": "memory", "MemoryTool": "s3://bucket/tools/avml",
        "MemoryToolSha256": "0" * 64, "MemoryBudgetSeconds": str(memory_budget), "AutomationRole.Arn": "arn:aws:iam::1:role/r",
        "AlertTopicArn": "topic", "QuarantineSecurityGroupId": "sg-q", "UntrackSecurityGroupId": "sg-u",
        "InstanceRoleArn": "arn:aws:iam::1:role/i", "SubnetId": "subnet-1",
        "ApprovalTimeoutSeconds": "0", "Condition:AsksApproval": False, "Approvers": "", "EradicationRunbook": "eradicate",
    }
    content = properties(STACKS / "playbook-ssm.yaml", "Runbook", params)["Content"]
    names = ["collectEvidence", "checkEvidence", "memoryToFollow", "followMemory", "memoryStillRunning", "sealEvidence"]
    steps = [s for s in content["mainSteps"] if s["name"] in names]
    start = time.time()
    started = datetime.datetime.fromtimestamp(start, datetime.timezone.utc).isoformat(timespec="seconds")
    spec = {
        "start": start, "steps": steps, "ends": ends, "items": ITEMS,
        "values": {"InstanceId": "i-0123456789abcdef0", "FindingId": "f1", "automation:EXECUTION_ID": "exec-1",
                   "triage.StartedAt": started},
    }
    done = subprocess.run([sys.executable, "-c", _HARNESS], input=json.dumps(spec), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_ssm_playbook_waits_out_a_long_memory_budget_across_its_script_steps():
    """One aws:executeScript step runs at most 600 s, and a memory capture
    may take MemoryBudgetSeconds (at most 1,800) plus 15 s: the SSM playbook
    follows it through followMemory again while its deadline is later, every
    script step ending within its timeoutSeconds, and cancels a capture never
    delivered at its SendCommand + 1,815 s (CancelCommand), the volatile items
    sealed all the same; a capture that ends after 1,000 s is read and sealed
    in the same manifest, complete, not cancelled. (On a simulated clock: the
    stand-in runs scripts in real seconds.)
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeScript.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-branch.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html
    """
    held = _simulate(1800, {"collect": 30})
    assert all(end - began < timeout for _, began, end, timeout in held["trace"]), held["trace"]
    assert [t[0] for t in held["trace"]] == ["collectEvidence", "checkEvidence"] + ["followMemory"] * 3 + ["sealEvidence"], held["trace"]
    [(_, _, sent, timeout)] = [c for c in held["calls"] if c[:2] == ["send_command", "memory"]]
    [(_, _, cancelled)] = [c for c in held["calls"] if c[0] == "cancel_command"]
    assert timeout == 1815 and 1815 <= cancelled - sent <= 1815 + 2, (sent, cancelled)
    manifest = held["manifest"]
    assert manifest["complete"] is False and len(manifest["items"]) == 6, manifest
    assert manifest["gaps"] == ["memory capture not finished within 1815 s (command cmd-1 not yet delivered, cancelled)"], manifest
    assert held["line"].endswith("6 item(s) in s3://bucket/volatile/f1/exec-1 (gaps: " + manifest["gaps"][0] + ")"), held["line"]

    ended = _simulate(1800, {"collect": 30, "memory": 1000})
    assert all(end - began < timeout for _, began, end, timeout in ended["trace"]), ended["trace"]
    assert not [c for c in ended["calls"] if c[0] == "cancel_command"], ended["calls"]
    manifest = ended["manifest"]
    assert manifest["complete"] is True and manifest["gaps"] == [], manifest
    assert sorted(i["key"].rsplit("/", 1)[-1] for i in manifest["items"]) == sorted(ITEMS + ["memory.lime"])
    assert ended["line"].endswith("7 item(s) in s3://bucket/volatile/f1/exec-1 (complete)"), ended["line"]


def test_the_victim_may_write_its_items_but_never_a_manifest(aws, emulator):
    """The evidence bucket's policy (stacks/detection.yaml, DenyInstancesWritingManifests):
    the victim's collection puts its items under volatile/ with the instance role, but
    a manifest - the chain-of-custody record only the engines write - may never be put or
    deleted with an instance's credentials, so a compromised victim cannot rewrite an item
    and a manifest to match it. The request carries ec2:SourceInstanceARN because it is
    signed with the instance's role credentials
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-ec2-source-instance-arn),
    and an explicit deny wins over the bucket's allow
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    from botocore.exceptions import ClientError

    import lab_stacks
    from conftest import create_stack
    from test_lab_playbooks import DETECTION, VICTIM, _outputs
    from test_session_revocation import _client, _credentials, _running

    cf, lab = aws("cloudformation"), "custody"
    tags = [{"Key": "irlab:lab", "Value": lab}]
    detection = _outputs(create_stack(cf, f"irlab-{lab}-detection", DETECTION.read_text(), {"LabName": lab}, Tags=tags))
    victim = _outputs(create_stack(cf, f"irlab-{lab}-victim", VICTIM.read_text(),
                                   lab_stacks.victim_parameters(cf, lab), Tags=tags))
    bucket, instance = detection["EvidenceBucketName"], victim["InstanceId"]
    _running(aws("ec2"), instance)
    status, document = _credentials(emulator, instance)
    assert status == 200, document
    s3 = _client(emulator, "s3", document)
    run = "volatile/f1/exec-1"

    s3.put_object(Bucket=bucket, Key=f"{run}/processes.txt", Body=b"ps", ChecksumAlgorithm="SHA256")
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key=f"{run}/manifest.json", Body=b"{}", ChecksumAlgorithm="SHA256"),
        lambda: s3.delete_object(Bucket=bucket, Key=f"{run}/manifest.json"),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == "AccessDenied", denied.value.response
    # the engines' roles are no instances: their manifests go in (the evidence tests above)
    aws("s3").put_object(Bucket=bucket, Key=f"{run}/manifest.json", Body=b"{}", ChecksumAlgorithm="SHA256")
