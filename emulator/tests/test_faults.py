"""Fault injection (stand-in test control, patches/faults.py):
``POST /moto-api/irlab/faults`` makes a seeded fraction of AWS API requests
fail before moto sees them - throttled, 5xx, or the connection dropped - in the
error format each service's protocol uses, so SDK retry logic can be tested."""

from __future__ import annotations

import json
import random
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.retries import standard

from conftest import REGION, _reset


def _faults(emulator: Any, body: Any = None, method: str = "POST") -> tuple[int, dict]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{emulator.endpoint}/moto-api/irlab/faults", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def client(emulator: Any) -> Any:
    """A fresh stand-in (faults off); ``client("sts", agent="x")`` adds ``x`` to the
    User-Agent. No retries: each call is one request."""
    _reset(emulator.endpoint)

    def make(service: str, agent: str | None = None) -> Any:
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            s3={"addressing_style": "path"},
            user_agent_extra=agent,
        )
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    yield make
    _reset(emulator.endpoint)


# one cheap read per service; the protocol family each uses
CALLS: dict[str, tuple[str, Any]] = {
    "ec2": ("ec2", lambda c: c("ec2").describe_instances()),
    "cloudformation": ("query", lambda c: c("cloudformation").list_stacks()),
    "iam": ("query", lambda c: c("iam").list_roles()),
    "sts": ("query", lambda c: c("sts").get_caller_identity()),
    "sns": ("query", lambda c: c("sns").list_topics()),
    "ssm": ("json 1.1", lambda c: c("ssm").describe_parameters()),
    "logs": ("json 1.1", lambda c: c("logs").describe_log_groups()),
    "events": ("json 1.1", lambda c: c("events").list_rules()),
    "cloudtrail": ("json 1.1", lambda c: c("cloudtrail").describe_trails()),
    "states": ("json 1.0", lambda c: c("stepfunctions").list_state_machines()),
    "sqs": ("json 1.0, query-compatible", lambda c: c("sqs").list_queues()),
    "lambda": ("rest-json", lambda c: c("lambda").list_functions()),
    "guardduty": ("rest-json", lambda c: c("guardduty").list_detectors()),
    "s3": ("rest-xml", lambda c: c("s3").list_buckets()),
}

THROTTLED = {
    "ec2": (503, "RequestLimitExceeded"),
    "cloudformation": (400, "Throttling"),
    "iam": (400, "Throttling"),
    "sts": (400, "Throttling"),
    "sns": (400, "Throttling"),
    "ssm": (400, "ThrottlingException"),
    "logs": (400, "ThrottlingException"),
    "events": (400, "ThrottlingException"),
    "cloudtrail": (400, "ThrottlingException"),
    "states": (400, "ThrottlingException"),
    "sqs": (400, "RequestThrottled"),
    "lambda": (429, "TooManyRequestsException"),
    "guardduty": (429, "TooManyRequestsException"),
    "s3": (503, "SlowDown"),
}

SERVER_ERRORS = {
    "ec2": {500: "InternalError", 503: "Unavailable"},
    "s3": {500: "InternalError", 503: "ServiceUnavailable"},
    "lambda": {500: "ServiceException", 503: "ServiceUnavailable"},
    "guardduty": {500: "InternalServerErrorException", 503: "ServiceUnavailable"},
}
DEFAULT_SERVER_ERRORS = {500: "InternalFailure", 503: "ServiceUnavailable"}


def _retry_context(error: ClientError) -> standard.RetryContext:
    return standard.RetryContext(
        attempt_number=1,
        operation_model=None,
        parsed_response=error.response,
        http_response=type("R", (), {"status_code": error.response["ResponseMetadata"]["HTTPStatusCode"]})(),
        caught_exception=None,
    )


def test_hook_request_and_response_shapes(emulator, client):
    """Stand-in control, no AWS counterpart. GET answers {"rate", "kinds", "seed",
    "services", "user_agent", "injected": {"throttle", "5xx", "reset"}, "seen"};
    POST takes {"rate" (0..1, required), "kinds" (non-empty subset of throttle,
    5xx, reset; default all), "seed" (integer, default 0), "services" (SigV4
    signing names; default all), "user_agent" (substring; default any)} and
    answers the same shape with zeroed counters; anything else is 400 {"message"};
    {"rate": 0} and POST /moto-api/reset turn faults off.
    https://docs.aws.amazon.com/general/latest/gr/signature-v4-create-string-to-sign.html (credential scope)
    """
    off = {
        "rate": 0.0, "kinds": ["throttle", "5xx", "reset"], "seed": 0, "services": None,
        "user_agent": None, "injected": {"throttle": 0, "5xx": 0, "reset": 0}, "seen": 0,
    }
    assert _faults(emulator, method="GET") == (200, off)
    on = {"rate": 0.25, "kinds": ["throttle"], "seed": 7, "services": ["EC2", "sts"], "user_agent": "aws-sdk-rust"}
    status, body = _faults(emulator, on)
    assert status == 200
    assert body == {**on, "services": ["ec2", "sts"], "injected": {"throttle": 0, "5xx": 0, "reset": 0}, "seen": 0}
    assert _faults(emulator, method="GET") == (200, body)
    for bad in (
        {}, {"rate": 1.5}, {"rate": -0.1}, {"rate": "0.1"}, {"rate": True}, {"rate": 0.1, "kinds": []},
        {"rate": 0.1, "kinds": ["timeout"]}, {"rate": 0.1, "kinds": "throttle"}, {"rate": 0.1, "seed": 1.5},
        {"rate": 0.1, "services": "ec2"}, {"rate": 0.1, "services": [""]}, {"rate": 0.1, "user_agent": ""},
        {"rate": 0.1, "colour": "red"}, [0.1], b"not json",
    ):
        status, answer = _faults(emulator, bad)
        assert status == 400 and answer["message"], bad
    assert _faults(emulator, method="GET") == (200, body)  # a refused POST changes nothing
    assert _faults(emulator, {"rate": 0})[1] == off
    _faults(emulator, on)
    _reset(emulator.endpoint)
    assert _faults(emulator, method="GET") == (200, off)


@pytest.mark.parametrize("service", sorted(CALLS))
def test_throttle_in_each_protocol_is_a_throttling_error_to_the_sdk(emulator, client, service):
    """A throttled request gets the service's throttling error in its protocol's
    error format, which the SDK parses into the code and classifies as
    throttling (boto3's standard mode list, shared by the AWS SDKs: Throttling,
    ThrottlingException, RequestThrottled, TooManyRequestsException,
    RequestLimitExceeded, SlowDown ...):
    EC2 (ec2 query, <Response><Errors><Error>) HTTP 503 RequestLimitExceeded
    "Request limit exceeded." ("If you exceed an API throttling limit, you get
    the RequestLimitExceeded error code"; a server error code, answered with 503);
    query services (<ErrorResponse><Error>) 400 Throttling "Rate exceeded"; JSON
    services ({"__type"}) 400 ThrottlingException; SQS (query-compatible JSON,
    x-amzn-query-error) 400 RequestThrottled; Lambda and GuardDuty (REST-JSON,
    x-amzn-ErrorType) 429 TooManyRequestsException (Lambda's body adds Type and
    Reason CallerRateLimitExceeded); S3 (<Error>) 503 SlowDown "Please reduce
    your request rate.".
    https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    https://github.com/cloudfoundry/bosh-aws-cpi-release/issues/61 (Status Code: 503; Error Code: RequestLimitExceeded)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html (RequestThrottled)
    https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html (TooManyRequestsException, 429)
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ErrorBestPractices.html (SlowDown, 503)
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
    https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
    """
    protocol, call = CALLS[service]
    assert _faults(emulator, {"rate": 1, "kinds": ["throttle"], "services": [service]})[0] == 200
    with pytest.raises(ClientError) as err:
        call(client)
    status, code = THROTTLED[service]
    assert (err.value.response["ResponseMetadata"]["HTTPStatusCode"], err.value.response["Error"]["Code"]) == (
        status, code,
    ), protocol
    assert err.value.response["Error"]["Message"]
    assert standard.ThrottledRetryableChecker().is_retryable(_retry_context(err.value))
    assert _faults(emulator, method="GET")[1]["injected"] == {"throttle": 1, "5xx": 0, "reset": 0}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_5xx_in_each_protocol_is_a_transient_server_error(emulator, client, service):
    """A 5xx fault answers 500 (InternalFailure; EC2 and S3 InternalError,
    Lambda ServiceException, GuardDuty InternalServerErrorException) or 503
    (ServiceUnavailable; EC2 Unavailable), in the protocol's error format; SDKs
    retry 500/502/503/504 as transient. Which of the two: one more draw of the
    seeded generator.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html (InternalFailure 500, ServiceUnavailable 503)
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html (server errors: InternalError, Unavailable)
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ErrorBestPractices.html (retry InternalError)
    https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html (ServiceException, 500)
    https://docs.aws.amazon.com/guardduty/latest/APIReference/API_ListDetectors.html (InternalServerErrorException, 500)
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
    """
    protocol, call = CALLS[service]
    expected = SERVER_ERRORS.get(service, DEFAULT_SERVER_ERRORS)
    seen = set()
    for seed in range(12):
        _faults(emulator, {"rate": 1, "kinds": ["5xx"], "services": [service], "seed": seed})
        rng = random.Random(seed)
        rng.random()
        rng.randrange(1)
        want = 500 if rng.random() < 0.5 else 503
        with pytest.raises(ClientError) as err:
            call(client)
        status = err.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == want
        assert err.value.response["Error"]["Code"] == expected[status], protocol
        assert standard.TransientRetryableChecker().is_retryable(_retry_context(err.value))
        seen.add(status)
    assert seen == {500, 503}


def test_reset_drops_the_connection_without_an_answer(emulator, client):
    """A reset fault reads the request and closes the connection without sending
    a byte (a raw client gets end-of-stream or a reset, no status line); boto3
    reports ConnectionClosedError, which the SDKs retry like a connection
    reset ("socket-level failures where no HTTP response was received ...
    server-closed connections").
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
    """
    _faults(emulator, {"rate": 1, "kinds": ["reset"], "services": ["sts"]})
    with pytest.raises(ConnectionClosedError):
        client("sts").get_caller_identity()

    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    request = (
        b"POST / HTTP/1.1\r\n"
        + f"Host: {urlparse(emulator.endpoint).netloc}\r\n".encode()
        + b"Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sts/aws4_request, "
        b"SignedHeaders=host, Signature=0000\r\n"
        b"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    url = urlparse(emulator.endpoint)
    received = b""
    with socket.create_connection((url.hostname, url.port), timeout=10) as raw:
        raw.sendall(request)
        try:
            while chunk := raw.recv(4096):
                received += chunk
        except ConnectionResetError:
            pass
    assert received == b""
    assert _faults(emulator, method="GET")[1]["injected"] == {"throttle": 0, "5xx": 0, "reset": 2}


def _outcome(call: Any) -> Any:
    try:
        call()
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "Throttling":
            return "throttle"
        return exc.response["ResponseMetadata"]["HTTPStatusCode"]
    except ConnectionClosedError:
        return "reset"
    return None


def _expected(seed: int, rate: float, kinds: list[str], n: int) -> list[Any]:
    """The documented draws: random() < rate fails; randrange(len(kinds)) picks
    the kind; a 5xx draws random() < 0.5 for 500, else 503."""
    rng = random.Random(seed)
    out: list[Any] = []
    for _ in range(n):
        if rng.random() >= rate:
            out.append(None)
            continue
        kind = kinds[rng.randrange(len(kinds))]
        if kind == "5xx":
            kind = 500 if rng.random() < 0.5 else 503
        out.append(kind)
    return out


def test_the_seed_makes_the_fault_sequence_reproducible(emulator, client):
    """The same seed and requests give the same faults (a seeded random.Random
    drawn once per matching request, in a documented order); counters report
    what was injected and how many requests were considered.
    https://docs.python.org/3/library/random.html#notes-on-reproducibility
    """
    sts = client("sts")
    kinds = ["throttle", "5xx", "reset"]
    runs = []
    for seed in (7, 7, 8):
        _faults(emulator, {"rate": 0.5, "kinds": kinds, "seed": seed, "services": ["sts"]})
        runs.append([_outcome(sts.get_caller_identity) for _ in range(30)])
        state = _faults(emulator, method="GET")[1]
        assert state["seen"] == 30
        outcomes = runs[-1]
        assert state["injected"] == {
            "throttle": outcomes.count("throttle"),
            "5xx": outcomes.count(500) + outcomes.count(503),
            "reset": outcomes.count("reset"),
        }
    assert runs[0] == runs[1] == _expected(7, 0.5, kinds, 30)
    assert runs[2] == _expected(8, 0.5, kinds, 30) != runs[0]
    assert {o for o in runs[0] if o is not None} >= {"throttle", "reset"}
    assert None in runs[0]


def test_service_and_user_agent_filters(emulator, client):
    """Only requests whose SigV4 credential scope names a listed service (the
    signing name, as moto routes it; "states" is Step Functions), and whose
    User-Agent contains user_agent, are considered; others pass untouched and do
    not consume the generator. /moto-api requests are never faulted.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html
    """
    _faults(emulator, {"rate": 1, "kinds": ["throttle"], "services": ["sts", "states"]})
    with pytest.raises(ClientError):
        client("sts").get_caller_identity()
    with pytest.raises(ClientError):
        client("stepfunctions").list_state_machines()
    assert client("ec2").describe_vpcs()["Vpcs"]
    assert client("s3").list_buckets()["Buckets"] == []
    assert _faults(emulator, method="GET")[1]["seen"] == 2

    _faults(emulator, {"rate": 1, "kinds": ["throttle"], "user_agent": "irlab-fault-probe/1"})
    assert client("sts").get_caller_identity()["Account"]
    with pytest.raises(ClientError) as err:
        client("sts", agent="irlab-fault-probe/1").get_caller_identity()
    assert err.value.response["Error"]["Code"] == "Throttling"
    with pytest.raises(ClientError):
        client("ec2", agent="irlab-fault-probe/1").describe_vpcs()
    assert _faults(emulator, method="GET")[1]["seen"] == 2

    # /moto-api is never faulted, even when it looks like a signed AWS request
    _faults(emulator, {"rate": 1, "kinds": ["throttle"]})
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/irlab/faults",
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["seen"] == 0


def test_rate_zero_and_moto_reset_turn_faults_off(emulator, client):
    """{"rate": 0} stops injecting at once; so does POST /moto-api/reset (which
    also zeroes the counters).
    https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
    """
    sts = client("sts")
    _faults(emulator, {"rate": 1, "kinds": ["5xx"]})
    with pytest.raises(ClientError):
        sts.get_caller_identity()
    _faults(emulator, {"rate": 0})
    assert all(sts.get_caller_identity()["Account"] for _ in range(5))
    assert _faults(emulator, method="GET")[1]["seen"] == 0
    _faults(emulator, {"rate": 1, "kinds": ["throttle", "reset"]})
    _reset(emulator.endpoint)
    assert all(sts.get_caller_identity()["Account"] for _ in range(5))
