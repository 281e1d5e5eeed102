"""Test fixtures: the patched stand-in served in-process on a free port,
reached with boto3 over HTTP exactly like a real client."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

EMULATOR_DIR = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "templates"
REPO_ROOT = EMULATOR_DIR.parent
sys.path.insert(0, str(EMULATOR_DIR))

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
# What AWS itself takes time for (instances pending, snapshots, the SSM Agent
# coming online, GuardDuty's 5 minutes to EventBridge: patches/_timing.py)
# runs at this scale, whatever wait scale a test gives the playbooks, unless
# it sets its own (POST /moto-api/irlab/wait-scale {"serviceScale"}); each
# reset restores it.
os.environ.setdefault("IRLAB_SERVICE_SCALE", "0.005")

from irlab_emulator.server import EmulatorServer  # noqa: E402

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer("127.0.0.1", 0).start()
    yield server
    server.stop()


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


@pytest.fixture
def aws(emulator: EmulatorServer) -> Callable[..., Any]:
    """``aws("ec2")`` -> a boto3 client of a freshly reset stand-in."""
    _reset(emulator.endpoint)
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"})

    def client(service: str, region: str = REGION) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    return client


def template(name: str) -> str:
    return (TEMPLATES / name).read_text()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def stack_events(cf: Any, stack: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in cf.get_paginator("describe_stack_events").paginate(StackName=stack):
        events.extend(page["StackEvents"])
    return events


def resource_events(cf: Any, stack: str, logical_id: str) -> list[str]:
    """Statuses of one resource, oldest first."""
    return [
        e["ResourceStatus"]
        for e in reversed(stack_events(cf, stack))
        if e["LogicalResourceId"] == logical_id
    ]


def physical_ids(cf: Any, stack: str) -> dict[str, str]:
    return {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    }


# CloudFormation takes at most 51,200 bytes of TemplateBody; bigger templates come by TemplateURL
# from S3, as irlab stages them (src/lab/stacks.rs stage_template).
MAX_TEMPLATE_BODY = 51_200


def template_source(cf: Any, body: str) -> dict[str, str]:
    """``TemplateBody``, or ``TemplateURL`` of a copy in a bucket of the caller's account when
    the template is too big for the request."""
    if len(body.encode()) <= MAX_TEMPLATE_BODY:
        return {"TemplateBody": body}
    import hashlib

    import boto3

    creds = cf._request_signer._credentials
    s3 = boto3.client(
        "s3",
        endpoint_url=cf.meta.endpoint_url,
        region_name=cf.meta.region_name,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
    )
    bucket = "irlab-test-templates"
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    key = hashlib.sha256(body.encode()).hexdigest() + ".yaml"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return {"TemplateURL": f"https://{bucket}.s3.{cf.meta.region_name}.amazonaws.com/{key}"}


def create_stack(cf: Any, name: str, body: str, params: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    cf.create_stack(
        StackName=name,
        **template_source(cf, body),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (params or {}).items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        **kwargs,
    )
    return cf.describe_stacks(StackName=name)["Stacks"][0]


def wait_idle(endpoint: str, timeout: float = 60.0) -> None:
    """Wait until the stand-in has no background work left (event deliveries,
    asynchronous Lambda invocations): ``GET /moto-api/irlab/idle``."""
    import urllib.error

    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/irlab/idle?timeout={timeout}", timeout=timeout + 10) as response:
            assert json.loads(response.read())["idle"]
    except urllib.error.HTTPError as exc:  # 408: still busy when the time ran out
        raise AssertionError(f"background work still running after {timeout} s: {exc.read()!r}") from exc


def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy (its value) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
