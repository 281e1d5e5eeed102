"""Memory before isolation (`irlab up --memory`): the detection stack's
MemoryDocument run through Run Command on the lab's victim in the stand-in's
sandbox, fetching AVML from the evidence bucket's tools/ as the instance role,
checking it against its pinned SHA-256, and uploading the image beside the
volatile collection; and the sandbox's `aws s3api get-object` it rests on
(patches/_instance_aws.py). The sandbox has no memory of its own: its avml
(instance/bin/avml) writes a header and a short text, not an image."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from typing import Any

import pytest

from conftest import REPO_ROOT, unique
from test_evidence_collection import _lab, _sha256_b64, _template
from test_ssm import SSM_CORE, _profile, _run, managed
from test_ssm_instance import _service_scale
from test_ssm_run_command import finished

AVML_STUB = REPO_ROOT / "emulator" / "irlab_emulator" / "instance" / "bin" / "avml"


def memory_script() -> str:
    """The MemoryDocument's script, as the template holds it."""
    content = _template()["Resources"]["MemoryDocument"]["Properties"]["Content"]
    [step] = content["mainSteps"]
    return "\n".join(step["inputs"]["runCommand"])


def _place_tool(aws: Any, bucket: str) -> str:
    """The user's copy of AVML in tools/avml (irlab uploads it; here the
    sandbox's stand-in), and its SHA-256."""
    body = AVML_STUB.read_bytes()
    aws("s3").put_object(Bucket=bucket, Key="tools/avml", Body=body)
    return hashlib.sha256(body).hexdigest()


def _capture(aws: Any, emulator: Any, d_out: dict[str, str], instance: str, prefix: str, tool: str, sha: str) -> dict[str, Any]:
    ssm = aws("ssm")
    _service_scale(emulator, 1.0)
    command = ssm.send_command(
        DocumentName=d_out["MemoryDocumentName"],
        InstanceIds=[instance],
        Parameters={"Bucket": [d_out["EvidenceBucketName"]], "Prefix": [prefix], "Tool": [tool], "ToolSha256": [sha], "BudgetSeconds": ["60"]},
    )["Command"]
    return finished(ssm, command["CommandId"], instance, timeout=90)


def test_memory_image_is_stored_with_a_verified_sha256(aws, emulator):
    """The MemoryDocument (Command, schema 2.2; parameters Bucket, Prefix,
    Tool, ToolSha256, BudgetSeconds "300") fetches AVML from
    s3://<evidence bucket>/tools/avml with the instance role (the bucket
    policy lets lab instances read tools/, GetObject only), finds its SHA-256
    equal to ToolSha256, runs `avml --compress` and uploads the image as
    <Prefix>/memory.lime with x-amz-checksum-sha256, which S3 verifies and
    returns; the version is locked (GOVERNANCE). The command's output is one
    record in the collection's shape whose one item, memory.lime, has the
    image's key, size, SHA-256, version and S3 checksum. The stand-in's image
    starts with the compressed format's magic "AVML", version 2 (AVML's
    README: `avml --compress output.lime.compressed`).
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html
    https://docs.aws.amazon.com/cli/latest/reference/s3api/get-object.html
    https://docs.rs/crate/avml/0.8.0
    """
    d_out, v_out = _lab(aws, "mem1")
    ssm, s3 = aws("ssm"), aws("s3")
    document = ssm.describe_document(Name=d_out["MemoryDocumentName"])["Document"]
    assert (document["DocumentType"], document["SchemaVersion"]) == ("Command", "2.2")
    assert {p["Name"]: p.get("DefaultValue") for p in document["Parameters"]} == {
        "Bucket": None, "Prefix": None, "Tool": None, "ToolSha256": None, "BudgetSeconds": "300"
    }
    bucket, instance = d_out["EvidenceBucketName"], v_out["InstanceId"]
    sha = _place_tool(aws, bucket)
    prefix = "volatile/f-mem/exec-1"
    invocation = _capture(aws, emulator, d_out, instance, prefix, f"s3://{bucket}/tools/avml", sha)
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Success", 0), invocation["StandardErrorContent"]

    key = f"{prefix}/memory.lime"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"]] == [key]
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert head["ChecksumSHA256"] == _sha256_b64(body) and head["ObjectLockMode"] == "GOVERNANCE"
    assert body[:8] == b"AVML\x02\x00\x00\x00", body[:16]

    record = json.loads(invocation["StandardOutputContent"])
    assert record["version"] == "irlab-memory-1" and record["complete"] is True and record["prefix"] == prefix
    [item] = record["items"]
    assert (item["name"], item["key"], item["bytes"], item["sha256"], item["status"], item["errors"]) == (
        "memory.lime", key, len(body), hashlib.sha256(body).hexdigest(), "stored", []
    )
    assert item["versionId"] == head["VersionId"] and item["s3ChecksumSHA256"] == head["ChecksumSHA256"]
    assert item["collected"].endswith("Z")


def test_a_tool_whose_sha256_differs_is_refused(aws, emulator):
    """A tool whose SHA-256 is not ToolSha256 is never run: the command fails
    (exit 1), nothing is uploaded, and the record's item, not taken, says
    which hash it found and which was pinned. A tool that cannot be fetched
    (no such key: "An error occurred (NoSuchKey) when calling the GetObject
    operation", or an https URL that answers nothing in the stand-in's
    sandbox) is refused the same way.
    https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
    """
    d_out, v_out = _lab(aws, "mem2")
    bucket, instance, s3 = d_out["EvidenceBucketName"], v_out["InstanceId"], aws("s3")
    sha = _place_tool(aws, bucket)
    wrong = "0" * 64
    prefix = "volatile/f-mem/exec-2"
    cases = [
        (f"s3://{bucket}/tools/avml", wrong, f"avml refused: its SHA-256 is {sha}, not ToolSha256 {wrong}"),
        (f"s3://{bucket}/tools/missing", sha, "avml not fetched from s3://%s/tools/missing: An error occurred (NoSuchKey) when calling the GetObject operation" % bucket),
        ("https://github.com/microsoft/avml/releases/download/v0.14.0/avml", sha, f"avml refused: its SHA-256 is {hashlib.sha256(b'').hexdigest()}"),
    ]
    for tool, pinned, why in cases:
        invocation = _capture(aws, emulator, d_out, instance, prefix, tool, pinned)
        assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", 1), invocation
        record = json.loads(invocation["StandardOutputContent"])
        [item] = record["items"]
        assert record["complete"] is False and item["status"] == "not taken" and item["versionId"] == "", record
        assert len(item["errors"]) == 1 and item["errors"][0].startswith(why), item["errors"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="volatile/")


def test_aws_cli_get_object_in_the_sandbox_downloads_as_the_instance_role(aws, emulator):
    """`aws s3api get-object --bucket B --key K OUTFILE` writes the object's
    bytes to OUTFILE and prints the response without its body as JSON, exit
    0; the request is the instance role's (without s3:GetObject AccessDenied,
    "An error occurred (AccessDenied) when calling the GetObject operation:
    ...", exit 254, OUTFILE not written); without OUTFILE the CLI's usage
    error, exit 252.
    https://docs.aws.amazon.com/cli/latest/reference/s3api/get-object.html
    https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html
    """
    s3, iam, ec2, ssm = aws("s3"), aws("iam"), aws("ec2"), aws("ssm")
    bucket = unique("cliget")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="ok/tool", Body=b"\x7fELF tool bytes")
    s3.put_object(Bucket=bucket, Key="denied/tool", Body=b"secret")
    reader = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/ok/*"}]}
    instance = _run(ec2, _profile(iam, [SSM_CORE], reader))
    managed(ssm, instance)
    script = [
        f"cd /tmp && aws s3api get-object --bucket {bucket} --key ok/tool got; echo rc=$?",
        "sha256sum /tmp/got",
        f"aws s3api get-object --bucket {bucket} --key denied/tool /tmp/denied; echo rc=$?",
        "test -e /tmp/denied || echo not-written",
        f"aws s3api get-object --bucket {bucket} --key ok/tool; echo rc=$?",
    ]
    command = ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[instance], Parameters={"commands": script})["Command"]
    invocation = finished(ssm, command["CommandId"], instance)
    out, err = invocation["StandardOutputContent"], invocation["StandardErrorContent"]
    first = json.loads(out[: out.index("rc=")])
    assert first["ContentLength"] == len(b"\x7fELF tool bytes") and "Body" not in first and first["ETag"]
    assert hashlib.sha256(b"\x7fELF tool bytes").hexdigest() + "  /tmp/got" in out
    assert [line for line in out.splitlines() if line.startswith("rc=")] == ["rc=0", "rc=254", "rc=252"]
    assert "not-written" in out
    assert "An error occurred (AccessDenied) when calling the GetObject operation: " in err
    assert "the following arguments are required: outfile" in err


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_memory_script_and_avml_stub_pass_shellcheck():
    """The MemoryDocument's script, as aws:runShellScript runs it (bash on
    Amazon Linux 2023), and the sandbox's avml stand-in pass shellcheck.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    """
    done = subprocess.run(["shellcheck", "-s", "bash", "-"], input=memory_script(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    done = subprocess.run(["shellcheck", str(AVML_STUB)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


