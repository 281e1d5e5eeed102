"""Lambda runtime details of the stand-in's runner (patches/awslambda.py,
_lambda_bootstrap.py): the function's MemorySize is enforced, and the
declared Python version runs when this machine has it (else the REPORT line
says which version stood in)."""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_lambda import _function, _zip

OWN = f"python{sys.version_info.major}.{sys.version_info.minor}"
MEMORY_HANDLER = '''import subprocess, sys


def handler(event, context):
    if event.get("child_mb"):
        # another process of the function: it counts against the same limit
        subprocess.run([sys.executable, "-c",
                        "import time; x = bytearray(%d * 2**20); time.sleep(30)" % event["child_mb"]])
    held = []
    try:
        for _ in range(event.get("mb", 0)):
            held.append(bytearray(2**20))
    except MemoryError:
        return {"caught": True}
    return {"held_mb": len(held)}
'''
VERSION_HANDLER = '''import os, sys
import boto3


def handler(event, context):
    account = boto3.client("sts").get_caller_identity()["Account"]
    return {
        "version": "python%d.%d" % sys.version_info[:2],
        "executionEnv": os.environ.get("AWS_EXECUTION_ENV"),
        "account": account,
    }
'''


def _report(log_result: str) -> str:
    [report] = [line for line in base64.b64decode(log_result).decode().splitlines() if line.startswith("REPORT ")]
    return report


def _fields(report: str) -> dict[str, str]:
    return dict(field.split(": ", 1) for field in report.split("\t")[1:])


def test_memory_size_is_enforced_like_the_sandbox_limit(aws):
    """A function gets the memory its MemorySize configures (128 MB to
    10,240 MB); an invocation that uses more is stopped by the sandbox - the
    runtime process is killed, so the handler cannot catch it (no
    MemoryError). The invocation fails (FunctionError Unhandled) with
    errorType Runtime.OutOfMemory and "RequestId: ... Error: Runtime exited
    with error: signal: killed", and its REPORT line shows Max Memory Used
    equal to Memory Size and Status: error. Memory of every process of the
    function counts, and they all end with it. Within the limit the handler
    runs normally and Max Memory Used reports what it used. (moto ran no
    handler without Docker; the stand-in's runner did not limit memory and
    its Max Memory Used was the stand-in's own peak, read through
    getrusage, which survives exec.)
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
    https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-configuration.html (Memory configurations)
    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html (the REPORT line: Memory Size, Max Memory Used)
    https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html (platform.report: status error, errorType)
    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html (FunctionError)
    """
    lam = aws("lambda")
    _function(aws, "hog", Code={"ZipFile": _zip(MEMORY_HANDLER)}, MemorySize=128, Timeout=60)

    response = lam.invoke(FunctionName="hog", Payload=json.dumps({"mb": 400}), LogType="Tail")
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Runtime.OutOfMemory"
    request_id = error["errorMessage"].split()[1]
    assert error["errorMessage"] == f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
    report = _report(response["LogResult"])
    assert report.startswith(f"REPORT RequestId: {request_id}\t")
    fields = _fields(report)
    assert fields["Memory Size"] == "128 MB" and fields["Max Memory Used"] == "128 MB"
    assert fields["Status"] == "error" and fields["Error Type"] == "Runtime.OutOfMemory"
    assert "Runtime exited with error: signal: killed" in base64.b64decode(response["LogResult"]).decode()

    started = time.monotonic()
    response = lam.invoke(FunctionName="hog", Payload=json.dumps({"child_mb": 300}), LogType="Tail")
    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.OutOfMemory"
    # the child (which would sleep 30 s holding the output open) ended with it
    assert time.monotonic() - started < 20

    lam.update_function_configuration(FunctionName="hog", MemorySize=512)
    response = lam.invoke(FunctionName="hog", Payload=json.dumps({"mb": 200}), LogType="Tail")
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"held_mb": 200}
    fields = _fields(_report(response["LogResult"]))
    assert fields["Memory Size"] == "512 MB"
    assert 200 <= int(fields["Max Memory Used"].split()[0]) < 512
    assert "Status" not in fields


def _broken_interpreter(directory: Path, name: str) -> None:
    """Like a pyenv shim for a version that is not installed: on PATH, fails."""
    path = directory / name
    path.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
    path.chmod(0o755)


def _other_python() -> tuple[str, str] | None:
    """(runtime, executable) of a working Python other than the stand-in's."""
    for minor in (13, 12, 14, 10, 9):
        name = f"python3.{minor}"
        if name == OWN:
            continue
        candidates = [shutil.which(name), f"/usr/bin/{name}", f"/usr/local/bin/{name}"]
        candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}*/bin/{name}")))
        for candidate in filter(None, candidates):
            try:
                out = subprocess.run(
                    [candidate, "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
                    capture_output=True, text=True, timeout=30,
                )
            except (OSError, subprocess.SubprocessError):
                continue
            if out.returncode == 0 and out.stdout.strip() == name:
                return name, candidate
    return None


def test_the_declared_python_runs_when_this_machine_has_it(aws, monkeypatch, tmp_path):
    """A function runs on the Python runtime it declares (Runtime
    python3.13 runs Python 3.13, with the AWS SDK for Python available and
    AWS_EXECUTION_ENV AWS_Lambda_python3.13). The stand-in runs that
    interpreter when it is on PATH and works; the REPORT line then has no
    extra field.
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html (the runtime includes the SDK for Python, Boto3)
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html (AWS_EXECUTION_ENV)
    """
    other = _other_python()
    if other is None:
        pytest.skip(f"no working Python other than {OWN} on this machine")
    runtime, executable = other
    monkeypatch.setenv("PATH", str(Path(executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    _function(aws, "versioned", Runtime=runtime, Code={"ZipFile": _zip(VERSION_HANDLER)}, Timeout=30)
    response = aws("lambda").invoke(FunctionName="versioned", Payload=b"{}", LogType="Tail")
    assert "FunctionError" not in response, response["Payload"].read()
    result = json.loads(response["Payload"].read())
    assert result == {"version": runtime, "executionEnv": f"AWS_Lambda_{runtime}", "account": "123456789012"}
    assert "Runtime Emulated" not in _fields(_report(response["LogResult"]))


def test_without_the_declared_python_the_report_line_names_the_stand_in(aws, monkeypatch, tmp_path):
    """Stand-in only: when the declared version's interpreter is missing or
    does not work (a pyenv shim for an uninstalled version), the handler runs
    on the stand-in's own Python, and the REPORT line says so with an extra
    field "Runtime Emulated: python3.X for python3.Y" - nobody mistakes the
    run for one on the declared version. Lambda itself always runs the
    declared runtime.
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html (the REPORT line)
    """
    declared = "python3.13" if OWN != "python3.13" else "python3.12"
    _broken_interpreter(tmp_path, declared)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    _function(aws, "emulated", Runtime=declared, Code={"ZipFile": _zip(VERSION_HANDLER)}, Timeout=30)
    response = aws("lambda").invoke(FunctionName="emulated", Payload=b"{}", LogType="Tail")
    assert "FunctionError" not in response, response["Payload"].read()
    result = json.loads(response["Payload"].read())
    assert result == {"version": OWN, "executionEnv": f"AWS_Lambda_{declared}", "account": "123456789012"}
    fields = _fields(_report(response["LogResult"]))
    assert fields["Runtime Emulated"] == f"{OWN} for {declared}"
