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


def test_tampered_evidence_is_detectable_and_locked_versions_need_a_bypass(aws, emulator):
    """Object Lock protects object versions, not keys: an administrator who
    writes processes.txt again only adds a new version, whose SHA-256 no
    longer matches collection.json's record, while the collected version
    stays, unchanged and locked (GOVERNANCE, retain-until a day later). A
    locked version cannot be deleted (DeleteObject with its VersionId ->
    AccessDenied; DeleteObjects reports AccessDenied for it) unless the
    request carries x-amz-bypass-governance-retention: true and the caller may
    s3:BypassGovernanceRetention (an administrator may); a delete without a
    VersionId only adds a delete marker.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
    """
    d_out, v_out = _lab(aws, "ev2")
    prefix = "volatile/f-tor/exec-2"
    invocation = _collect(aws, emulator, d_out, v_out["InstanceId"], prefix)
    assert invocation["Status"] == "Success", invocation["StandardErrorContent"]
    record = {i["name"]: i for i in json.loads(invocation["StandardOutputContent"])["items"]}
    s3, bucket, key = aws("s3"), d_out["EvidenceBucketName"], f"{prefix}/processes.txt"

    s3.put_object(Bucket=bucket, Key=key, Body=b"pid\tppid\nnothing to see\n", ChecksumAlgorithm="SHA256")
    versions = [v for v in s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"] if v["Key"] == key]
    assert len(versions) == 2
    latest = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert latest["ChecksumSHA256"] != record["processes.txt"]["s3ChecksumSHA256"]
    original_id = record["processes.txt"]["versionId"]
    original = s3.get_object(Bucket=bucket, Key=key, VersionId=original_id, ChecksumMode="ENABLED")
    assert hashlib.sha256(original["Body"].read()).hexdigest() == record["processes.txt"]["sha256"]
    assert original["ObjectLockMode"] == "GOVERNANCE" and original["ObjectLockRetainUntilDate"] > latest["LastModified"]

    with pytest.raises(ClientError) as denied:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=original_id)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    batch = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": original_id}]})
    assert [e["Code"] for e in batch["Errors"]] == ["AccessDenied"]
    marker = s3.delete_object(Bucket=bucket, Key=key)
    assert marker["DeleteMarker"] is True
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=original_id)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=key, VersionId=original_id, BypassGovernanceRetention=True)
    remaining = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    assert original_id not in [v["VersionId"] for v in remaining]


def test_collection_without_credentials_records_the_upload_failures(aws, emulator):
    """On an instance whose profile gives no credentials (none associated:
    IMDS answers 404, as with Default Host Management, where the SSM Agent has
    credentials of its own but the instance's code has none) the AWS CLI says
    "Unable to locate credentials" and exits 253; the collection still runs
    every item, records each failed upload in collection.json, cannot store
    that record either, prints it and exits 2. The script is run as Run Command
    runs it on such a node (the stand-in only sends commands to nodes with a
    profile, so it is given to the same sandbox directly).
    https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/fleet-manager-default-host-management-configuration.html
    """
    from moto.ec2.models import ec2_backends

    from irlab_emulator.patches import ssm_instance

    cf = aws("cloudformation")
    stack = create_stack(cf, "irlab-ev3-detection", DETECTION.read_text(), {"LabName": "ev3"})
    bucket = _outputs(stack)["EvidenceBucketName"]
    instance_id = _run(aws("ec2"))
    instance = next(i for i in ec2_backends[ACCOUNT_ID][REGION].all_instances() if i.id == instance_id)
    content = _template()["Resources"]["CollectDocument"]["Properties"]["Content"]
    values = ssm_instance._values(
        content, {"Bucket": [bucket], "Prefix": ["volatile/f/e"], "Indicators": [json.dumps(INDICATORS)], "BudgetSeconds": ["60"]}
    )
    lines = ssm_instance._lines(content["mainSteps"][0]["inputs"]["runCommand"], values)
    state = ssm_instance.state_dir(ACCOUNT_ID, REGION, instance)
    code, out, err = ssm_instance.run_script(state, lines, "", 60, (ACCOUNT_ID, REGION, instance_id))

    assert code == 2, err
    record = json.loads(out)
    assert record["complete"] is False and [i["name"] for i in record["items"]] == ITEMS
    for item in record["items"]:
        assert item["status"] == "failed" and item["versionId"] == ""
        assert item["errors"] == ['upload failed (exit 253): Unable to locate credentials. You can configure credentials by running "aws configure".']
    assert "Unable to locate credentials" in err
    assert "Contents" not in aws("s3").list_objects_v2(Bucket=bucket)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_collect_script_passes_shellcheck():
    """The CollectDocument's script, as aws:runShellScript runs it (bash on
    Amazon Linux 2023), passes shellcheck.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    """
    done = subprocess.run(["shellcheck", "-s", "bash", "-"], input=collect_script(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


# ----------------------------------------------------------------------------
# the stand-in behaviours the collection rests on


def _role(iam: Any, path: str, statements: list[dict[str, Any]] | None = None) -> str:
    name = unique("role")
    arn = iam.create_role(
        RoleName=name,
        Path=path,
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT_ID}, "Action": "sts:AssumeRole"}]}
        ),
    )["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return arn


def _as(aws: Any, emulator: Any, role_arn: str) -> Any:
    import boto3
    from botocore.config import Config

    creds = aws("sts").assume_role(RoleArn=role_arn, RoleSessionName="test")["Credentials"]
    return boto3.client(
        "s3",
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def _locked_bucket(s3: Any) -> str:
    bucket = unique("locked")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}},
    )
    return bucket


def test_put_object_checksum_is_verified_stored_and_returned(aws):
    """PutObject with x-amz-checksum-sha256: S3 computes the SHA-256 of the
    body and rejects a mismatch with 400 BadDigest ("The SHA256 you specified
    did not match the calculated checksum.", nothing stored); a matching value
    is stored with the object and returned by PutObject, by HeadObject and
    GetObject with ChecksumMode ENABLED, and by GetObjectAttributes - also when
    the client sent the header without x-amz-sdk-checksum-algorithm.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html
    """
    s3 = aws("s3")
    bucket = unique("sums")
    s3.create_bucket(Bucket=bucket)
    body = b"evidence\n"
    right, wrong = _sha256_b64(body), _sha256_b64(b"other")
    with pytest.raises(ClientError) as bad:
        s3.put_object(Bucket=bucket, Key="bad", Body=body, ChecksumSHA256=wrong)
    assert bad.value.response["Error"]["Code"] == "BadDigest"
    assert bad.value.response["Error"]["Message"] == "The SHA256 you specified did not match the calculated checksum."
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)

    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumSHA256=right)
    assert put["ChecksumSHA256"] == right
    assert s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")["ChecksumSHA256"] == right
    assert s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")["ChecksumSHA256"] == right
    attributes = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Checksum", "ObjectSize"])
    assert attributes["Checksum"]["ChecksumSHA256"] == right and attributes["ObjectSize"] == len(body)
    computed = s3.put_object(Bucket=bucket, Key="sdk", Body=body, ChecksumAlgorithm="SHA256")
    assert computed["ChecksumSHA256"] == right


def test_bypassing_governance_retention_needs_the_permission(aws, emulator):
    """To delete a version under GOVERNANCE retention the request must carry
    x-amz-bypass-governance-retention: true and the caller must have
    s3:BypassGovernanceRetention: a role allowed s3:DeleteObjectVersion alone
    is refused (DeleteObject 403 AccessDenied; DeleteObjects an AccessDenied
    entry), a role also allowed s3:BypassGovernanceRetention deletes it; the
    header with another value than true bypasses nothing.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html
    """
    s3, iam = aws("s3"), aws("iam")
    bucket = _locked_bucket(s3)
    versions = [s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x", ChecksumAlgorithm="SHA256")["VersionId"] for i in range(3)]
    deleter = [{"Effect": "Allow", "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"], "Resource": f"arn:aws:s3:::{bucket}/*"}]
    weak = _as(aws, emulator, _role(iam, "/", deleter))
    with pytest.raises(ClientError) as denied:
        weak.delete_object(Bucket=bucket, Key="k0", VersionId=versions[0], BypassGovernanceRetention=True)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "s3:BypassGovernanceRetention" in denied.value.response["Error"]["Message"]
    batch = weak.delete_objects(Bucket=bucket, BypassGovernanceRetention=True, Delete={"Objects": [{"Key": "k1", "VersionId": versions[1]}]})
    assert [e["Code"] for e in batch.get("Errors", [])] == ["AccessDenied"]

    def with_header(value: str):
        def add(request: Any, **_: Any) -> None:
            request.headers["x-amz-bypass-governance-retention"] = value

        return add

    s3.meta.events.register_first("before-sign.s3.DeleteObject", with_header("false"))
    with pytest.raises(ClientError) as still:
        s3.delete_object(Bucket=bucket, Key="k2", VersionId=versions[2])
    assert still.value.response["Error"]["Code"] == "AccessDenied"

    strong = _as(aws, emulator, _role(iam, "/", deleter + [{"Effect": "Allow", "Action": "s3:BypassGovernanceRetention", "Resource": "*"}]))
    strong.delete_object(Bucket=bucket, Key="k0", VersionId=versions[0], BypassGovernanceRetention=True)
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == ["k1", "k2"]


def test_bucket_policy_lets_a_same_account_role_write(aws, emulator):
    """Within one account a request is allowed when either the identity-based
    or the resource-based policy allows it: a role without any policy of its
    own may put objects where the bucket policy allows it (Principal "*",
    aws:PrincipalAccount and aws:PrincipalArn - the role's ARN, path included -
    of the lab's roles), and nowhere else; a role on another path may not.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
    """
    s3, iam = aws("s3"), aws("iam")
    bucket = unique("policy")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{bucket}/volatile/*",
                        "Condition": {
                            "StringEquals": {"aws:PrincipalAccount": ACCOUNT_ID},
                            "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:role/irlab/lab1/*"},
                        },
                    }
                ],
            }
        ),
    )
    lab_role = _as(aws, emulator, _role(iam, f"/irlab/lab1/{REGION}/"))
    lab_role.put_object(Bucket=bucket, Key="volatile/a", Body=b"x")
    for client, key in ((lab_role, "other/a"), (_as(aws, emulator, _role(iam, f"/irlab/lab12/{REGION}/")), "volatile/b")):
        with pytest.raises(ClientError) as denied:
            client.put_object(Bucket=bucket, Key=key, Body=b"x")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["volatile/a"]


def test_aws_cli_in_the_sandbox_acts_as_the_instance_role(aws, emulator):
    """A script on the instance uploads with the AWS CLI v2 and the instance
    profile's credentials: `aws s3api put-object ... --checksum-algorithm
    SHA256` prints the response as JSON (ETag, ChecksumSHA256, VersionId) and
    exits 0, `aws s3 cp FILE s3://B/K` prints "upload: FILE to s3://B/K"; the
    request is the role's (it needs the role's permission: without it
    AccessDenied, "An error occurred (AccessDenied) when calling the PutObject
    operation: ...", exit 254; a missing bucket NoSuchBucket, 254); a failed
    s3 cp prints "upload failed: ..." and exits 1.
    https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html
    https://docs.aws.amazon.com/cli/latest/reference/s3api/put-object.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html
    """
    s3, iam, ec2, ssm = aws("s3"), aws("iam"), aws("ec2"), aws("ssm")
    bucket = unique("cli")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    writer = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::*/ok/*"}]}
    instance = _run(ec2, _profile(iam, [SSM_CORE], writer))
    managed(ssm, instance)
    script = [
        "echo evidence > /tmp/e.txt",
        f"aws s3api put-object --bucket {bucket} --key ok/e.txt --body /tmp/e.txt --checksum-algorithm SHA256; echo rc=$?",
        f"cd /tmp && aws s3 cp e.txt s3://{bucket}/ok/copy.txt; echo rc=$?",
        f"aws s3api put-object --bucket {bucket} --key denied/e.txt --body /tmp/e.txt; echo rc=$?",
        "aws s3api put-object --bucket no-such-bucket-irlab --key ok/e.txt --body /tmp/e.txt; echo rc=$?",
        f"aws s3 cp /tmp/e.txt s3://{bucket}/denied/copy.txt; echo rc=$?",
    ]
    command = ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[instance], Parameters={"commands": script})["Command"]
    invocation = finished(ssm, command["CommandId"], instance)
    out, err = invocation["StandardOutputContent"], invocation["StandardErrorContent"]
    first = json.loads(out[: out.index("rc=")])
    assert first["ChecksumSHA256"] == _sha256_b64(b"evidence\n") and first["VersionId"] and first["ETag"]
    assert "upload: e.txt to s3://%s/ok/copy.txt\nrc=0" % bucket in out
    assert [line for line in out.splitlines() if line.startswith("rc=")] == ["rc=0", "rc=0", "rc=254", "rc=254", "rc=1"]
    assert "An error occurred (AccessDenied) when calling the PutObject operation: " in err
    assert "An error occurred (NoSuchBucket) when calling the PutObject operation: " in err
    assert f"upload failed: /tmp/e.txt to s3://{bucket}/denied/copy.txt An error occurred (AccessDenied)" in err
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["ok/copy.txt", "ok/e.txt"]


def test_command_documents_of_schema_2_2_run_with_their_parameters(aws):
    """A Command document of one's own (schema 2.2, aws:runShellScript) runs
    on the node: its runCommand with every {{ Name }} replaced by the
    parameter's value or, when SendCommand leaves it out, its default; its
    timeoutSeconds (itself a parameter here) ends a longer script TimedOut.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html
    """
    iam, ec2, ssm = aws("iam"), aws("ec2"), aws("ssm")
    instance = _run(ec2, _profile(iam, [SSM_CORE]))
    managed(ssm, instance)
    content = {
        "schemaVersion": "2.2",
        "description": "test",
        "parameters": {
            "Greeting": {"type": "String"},
            "Name": {"type": "String", "default": "world"},
            "Seconds": {"type": "String", "default": "600"},
            "Pause": {"type": "String", "default": "0"},
        },
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": "greet",
                "inputs": {"timeoutSeconds": "{{ Seconds }}", "runCommand": ["echo '{{ Greeting }}, {{Name}}!'", "sleep {{ Pause }}"]},
            }
        ],
    }
    name = unique("greet")
    ssm.create_document(Name=name, DocumentType="Command", Content=json.dumps(content))
    ok = ssm.send_command(DocumentName=name, InstanceIds=[instance], Parameters={"Greeting": ["Hello"]})["Command"]
    done = finished(ssm, ok["CommandId"], instance)
    assert (done["Status"], done["StandardOutputContent"]) == ("Success", "Hello, world!\n")
    slow = ssm.send_command(
        DocumentName=name, InstanceIds=[instance], Parameters={"Greeting": ["Hi"], "Seconds": ["1"], "Pause": ["600"]}
    )
    late = finished(ssm, slow["Command"]["CommandId"], instance)
    assert late["Status"] == "TimedOut"


def test_head_object_is_authorised_as_get_object(aws, emulator):
    """HeadObject has no IAM action of its own: "To use HEAD, you must have
    the s3:GetObject permission" - a role allowed s3:GetObject on the key
    reads its metadata (with a VersionId and ChecksumMode ENABLED too), a role
    without it is refused 403.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    """
    s3, iam = aws("s3"), aws("iam")
    bucket = _locked_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="volatile/x", Body=b"x", ChecksumAlgorithm="SHA256")["VersionId"]
    reader = _as(aws, emulator, _role(iam, "/", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/volatile/*"}]))
    head = reader.head_object(Bucket=bucket, Key="volatile/x", VersionId=version, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == _sha256_b64(b"x")
    other = _as(aws, emulator, _role(iam, "/", [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]))
    with pytest.raises(ClientError) as denied:
        other.head_object(Bucket=bucket, Key="volatile/x")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_send_command_to_an_ec2_instance_is_authorised_on_the_instance(aws, emulator):
    """Run Command to an EC2 instance is authorised on the document and on the
    instance as arn:aws:ec2:REGION:ACCOUNT:instance/ID (tags: aws:ResourceTag);
    managed-instance/ID is a hybrid node's (mi-...), not an EC2 instance's: a
    role allowed the document and the instances tagged irlab:lab=ev9 sends to
    such an instance and is refused for an untagged one.
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/run-command-setting-up.html
    """
    import boto3
    from botocore.config import Config

    iam, ec2, ssm = aws("iam"), aws("ec2"), aws("ssm")
    tagged = _run(ec2, _profile(iam, [SSM_CORE]))
    plain = _run(ec2, _profile(iam, [SSM_CORE]))
    ec2.create_tags(Resources=[tagged], Tags=[{"Key": "irlab:lab", "Value": "ev9"}])
    managed(ssm, tagged, plain)
    role = _role(iam, "/", [
        {"Effect": "Allow", "Action": "ssm:SendCommand", "Resource": f"arn:aws:ssm:{REGION}:*:document/AWS-RunShellScript"},
        {"Effect": "Allow", "Action": "ssm:SendCommand", "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:instance/*",
         "Condition": {"StringEquals": {"aws:ResourceTag/irlab:lab": "ev9"}}},
    ])
    creds = aws("sts").assume_role(RoleArn=role, RoleSessionName="sender")["Credentials"]
    sender = boto3.client("ssm", endpoint_url=emulator.endpoint, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
                          config=Config(retries={"max_attempts": 1}))
    sent = sender.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[tagged], Parameters={"commands": ["true"]})
    assert sent["Command"]["CommandId"]
    with pytest.raises(ClientError) as denied:
        sender.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[plain], Parameters={"commands": ["true"]})
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"instance/{plain}" in denied.value.response["Error"]["Message"]
