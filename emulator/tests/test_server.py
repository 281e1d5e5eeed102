"""The command-line interface the irlab binary relies on:
``PYTHONPATH=<emulator dir> python -m irlab_emulator --host H --port P``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import EMULATOR_DIR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(EMULATOR_DIR)
    return env


def test_version_flag():
    """``--version`` prints the emulator version and the moto version it serves."""
    import moto

    from irlab_emulator import __version__

    out = subprocess.run(
        [sys.executable, "-m", "irlab_emulator", "--version"],
        env=_env(), capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert f"irlab-emulator {__version__}" in out
    assert f"moto {moto.__version__}" in out


def test_serves_patched_moto_until_sigterm():
    """The module serves every moto service with the lab's patches applied before
    the first answer (here: GuardDuty's one-detector-per-Region rule,
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateDetector.html),
    answers ``GET /moto-api/`` soon after start, and exits 0 on SIGTERM."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "irlab_emulator", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=30) as response:
                    assert response.status == 200
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() - started > 30:
                    pytest.fail(f"no answer: {process.communicate(timeout=5)}")
                time.sleep(0.05)
        assert time.monotonic() - started < 15

        def client(service: str):
            return boto3.client(
                service, endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )

        assert client("sts").get_caller_identity()["Account"] == "123456789012"
        gd = client("guardduty")
        gd.create_detector(Enable=True)
        with pytest.raises(ClientError) as err:
            gd.create_detector(Enable=True)
        assert err.value.response["Error"]["Code"] == "BadRequestException"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0
