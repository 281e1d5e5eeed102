"""Evidence before isolation: the detection stack's evidence bucket (S3 Object
Lock, governance mode) and CollectDocument, run through Run Command on the
lab's victim in the stand-in's sandbox, its ``aws`` uploading as the instance
role; and the S3, IAM and Run Command behaviours they rest on
(patches/s3.py, _iam_enforce.py, ssm_instance.py, _instance_aws.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

import lab_stacks
from conftest import ACCOUNT_ID, REGION, REPO_ROOT, create_stack, unique
from test_ssm import SSM_CORE, _profile, _run, managed
from test_ssm_instance import _service_scale, _state
from test_ssm_run_command import finished

DETECTION = REPO_ROOT / "stacks" / "detection.yaml"
VICTIM = REPO_ROOT / "stacks" / "victim.yaml"
ITEMS = ["processes.txt", "network.txt", "users.txt", "auth.txt", "persistence.txt", "indicators.json"]
INDICATORS = {"processes": ["tor", "xmrig"], "files": ["/etc/tor/torrc", "/tmp/.x/miner"], "domains": ["guarddutyc2activityb.com"]}


def _outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _template() -> dict[str, Any]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(DETECTION.read_text(), Loader=Loader)


def collect_script() -> str:
    """The CollectDocument's script, as the template holds it."""
    content = _template()["Resources"]["CollectDocument"]["Properties"]["Content"]
    [step] = content["mainSteps"]
    return "\n".join(step["inputs"]["runCommand"])


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _lab(aws: Any, lab: str) -> tuple[dict[str, str], dict[str, str]]:
    """The lab's detection and victim stacks (outputs), the victim a managed node."""
    cf = aws("cloudformation")
    tags = [{"Key": "irlab:lab", "Value": lab}]
    detection = create_stack(cf, f"irlab-{lab}-detection", DETECTION.read_text(), {"LabName": lab}, Tags=tags)
    assert detection["StackStatus"] == "CREATE_COMPLETE", detection.get("StackStatusReason")
    victim = create_stack(cf, f"irlab-{lab}-victim", VICTIM.read_text(), lab_stacks.victim_parameters(cf, lab), Tags=tags)
    assert victim["StackStatus"] == "CREATE_COMPLETE", victim.get("StackStatusReason")
    d_out, v_out = _outputs(detection), _outputs(victim)
    managed(aws("ssm"), v_out["InstanceId"])
    return d_out, v_out


def _attack(emulator: Any, instance: str) -> None:
    """What the tor-client scenario leaves running (scenarios/tor-client.yaml:
    Tor, started as the tester starts it), seeded through the stand-in's
    instance-state control."""
    status, _ = _state(
        emulator,
        "POST",
        body={
            "instanceId": instance,
            "processes": ["/usr/bin/tor --defaults-torrc /usr/share/tor/tor-service-defaults-torrc -f /etc/tor/torrc --RunAsDaemon 0"],
            "files": {"/etc/tor/torrc": "SocksPort 9050\n"},
        },
    )
    assert status == 200


def _collect(aws: Any, emulator: Any, d_out: dict[str, str], instance: str, prefix: str, budget: str = "60") -> dict[str, Any]:
    """SendCommand of the CollectDocument, as a playbook sends it; the
    instance's time runs at AWS's own pace meanwhile (the collection's budget
    is real seconds)."""
    ssm = aws("ssm")
    _service_scale(emulator, 1.0)
    command = ssm.send_command(
        DocumentName=d_out["CollectDocumentName"],
        InstanceIds=[instance],
        Parameters={
            "Bucket": [d_out["EvidenceBucketName"]],
            "Prefix": [prefix],
            "Indicators": [json.dumps(INDICATORS)],
            "BudgetSeconds": [budget],
        },
    )["Command"]
    return finished(ssm, command["CommandId"], instance, timeout=float(budget) + 30)


def test_evidence_bucket_and_collect_document_are_as_declared(aws):
    """The detection stack's evidence bucket has Object Lock with a default
    GOVERNANCE retention of EvidenceRetentionDays (1 by default), versioning
    (Object Lock comes with it), SSE-S3, every public access block, ACLs
    disabled (BucketOwnerEnforced) and a policy that denies non-TLS requests
    and lets only the lab's roles of this account put objects under
    volatile/. The CollectDocument is a Command document of schema 2.2 with
    the parameters Bucket, Prefix, Indicators ("{}") and BudgetSeconds ("120")
    and one aws:runShellScript step.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-objectlockconfiguration.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html
    """
    cf, s3, ssm = aws("cloudformation"), aws("s3"), aws("ssm")
    stack = create_stack(cf, "irlab-ev0-detection", DETECTION.read_text(), {"LabName": "ev0"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    out = _outputs(stack)
    bucket = out["EvidenceBucketName"]
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    allow = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert allow["Action"] == "s3:PutObject" and allow["Resource"] == f"arn:aws:s3:::{bucket}/volatile/*"
    assert allow["Condition"]["ArnLike"]["aws:PrincipalArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/irlab/ev0/*"

    document = ssm.describe_document(Name=out["CollectDocumentName"])["Document"]
    assert (document["DocumentType"], document["SchemaVersion"]) == ("Command", "2.2")
    assert {p["Name"]: p.get("DefaultValue") for p in document["Parameters"]} == {
        "Bucket": None, "Prefix": None, "Indicators": "{}", "BudgetSeconds": "120"
    }


def test_collection_stores_every_item_with_a_verified_sha256(aws, emulator):
    """The CollectDocument sent to the victim after the tor-client attack
    (SendCommand, schema 2.2, parameters substituted as {{ Bucket }}) runs its
    script within its budget and succeeds: every item is an object under
    the prefix, uploaded by the instance role (the bucket policy's only
    writer) with x-amz-checksum-sha256, which S3 verified and returns
    (HeadObject ChecksumMode ENABLED) and which matches the bytes; each version
    is locked in GOVERNANCE mode. processes.txt lists the tor process with the
    SHA-256 of its executable (in the stand-in /usr/bin/cat's), indicators.json
    says tor and its torrc are present and xmrig, an absent file and the
    domain absent, and collection.json lists every item with its key, size
    and SHA-256 (complete). The same record is the command's output.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
    """
    d_out, v_out = _lab(aws, "ev1")
    instance = v_out["InstanceId"]
    _attack(emulator, instance)
    prefix = "volatile/f-tor/exec-1"
    invocation = _collect(aws, emulator, d_out, instance, prefix)
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Success", 0), invocation["StandardErrorContent"]

    s3 = aws("s3")
    bucket = d_out["EvidenceBucketName"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"])
    assert keys == sorted(f"{prefix}/{i}" for i in ITEMS + ["collection.json"])
    bodies = {}
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert head["ChecksumSHA256"] == _sha256_b64(body), key
        assert head["ObjectLockMode"] == "GOVERNANCE"
        bodies[key.rsplit("/", 1)[1]] = body

    cat = hashlib.sha256(Path("/usr/bin/cat").read_bytes()).hexdigest()
    rows = [line.split("\t") for line in bodies["processes.txt"].decode().splitlines()]
    assert rows[0] == ["pid", "ppid", "user", "started", "exe", "sha256", "cmdline"]
    tor = [r for r in rows[1:] if r[6].startswith("/usr/bin/tor ")]
    assert len(tor) == 1 and tor[0][4] == "/usr/bin/cat" and tor[0][5] == cat

    indicators = json.loads(bodies["indicators.json"])
    assert indicators["processes"] == {"tor": True, "xmrig": False}
    assert indicators["files"] == {"/etc/tor/torrc": True, "/tmp/.x/miner": False}
    assert indicators["domains"] == {"guarddutyc2activityb.com": False}

    record = json.loads(bodies["collection.json"])
    assert record["complete"] is True and record["prefix"] == prefix and record["version"] == "irlab-collect-1"
    assert [i["name"] for i in record["items"]] == ITEMS
    for item in record["items"]:
        body = bodies[item["name"]]
        assert (item["key"], item["bytes"], item["sha256"], item["status"]) == (
            f"{prefix}/{item['name']}", len(body), hashlib.sha256(body).hexdigest(), "stored"
        )
        assert item["s3ChecksumSHA256"] == _sha256_b64(body) and item["errors"] == []
    assert json.loads(invocation["StandardOutputContent"]) == record
