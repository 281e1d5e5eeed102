"""Fault injection (stand-in test control, patches/faults.py):
``POST /moto-api/irlab/faults`` makes a seeded fraction of AWS API requests
fail before moto sees them - throttled, 5xx, or the connection dropped - in the
error format each service's protocol uses, so SDK retry logic can be tested;
or (``lost``) after moto has done what they ask, the answer never sent."""

from __future__ import annotations

import json
import random
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode, urlparse

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.retries import standard

from conftest import ACCOUNT_ID, REGION, _reset, eventually, stack_events, unique, wait_idle


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
    "services", "user_agent", "injected": {"throttle", "5xx", "reset", "lost", "denied"},
    "seen"}; POST takes {"rate" (0..1, required), "kinds" (non-empty subset of
    throttle, 5xx, reset, lost, denied; default throttle, 5xx, reset), "seed" (integer, default 0), "services" (SigV4
    signing names; default all), "user_agent" (substring; default any)} and
    answers the same shape with zeroed counters; anything else is 400 {"message"};
    {"rate": 0} and POST /moto-api/reset turn faults off.
    https://docs.aws.amazon.com/general/latest/gr/signature-v4-create-string-to-sign.html (credential scope)
    """
    off = {
        "rate": 0.0, "kinds": ["throttle", "5xx", "reset"], "seed": 0, "services": None,
        "user_agent": None, "injected": {"throttle": 0, "5xx": 0, "reset": 0, "lost": 0, "denied": 0}, "seen": 0,
    }
    assert _faults(emulator, method="GET") == (200, off)
    on = {"rate": 0.25, "kinds": ["throttle"], "seed": 7, "services": ["EC2", "sts"], "user_agent": "aws-sdk-rust"}
    status, body = _faults(emulator, on)
    assert status == 200
    zero = {"throttle": 0, "5xx": 0, "reset": 0, "lost": 0, "denied": 0}
    assert body == {**on, "services": ["ec2", "sts"], "injected": zero, "seen": 0}
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
    every = {"rate": 0.5, "kinds": ["lost", "throttle", "5xx", "reset"]}
    assert _faults(emulator, every) == (200, {**off, **every, "injected": zero})
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
    assert _faults(emulator, method="GET")[1]["injected"] == {"throttle": 1, "5xx": 0, "reset": 0, "lost": 0, "denied": 0}


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


def _raw_query(emulator: Any, service: str, params: dict[str, str]) -> bytes:
    """POST a query-protocol request over a bare socket (signed in form only:
    the stand-in does not check signatures); every byte received until the
    connection ends."""
    body = urlencode(params).encode()
    url = urlparse(emulator.endpoint)
    request = (
        b"POST / HTTP/1.1\r\n"
        + f"Host: {url.netloc}\r\n".encode()
        + f"Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, ".encode()
        + b"SignedHeaders=host, Signature=0000\r\n"
        b"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    received = b""
    with socket.create_connection((url.hostname, url.port), timeout=10) as raw:
        raw.sendall(request)
        try:
            while chunk := raw.recv(4096):
                received += chunk
        except ConnectionResetError:
            pass
    return received


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
    assert _raw_query(emulator, "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}) == b""
    assert _faults(emulator, method="GET")[1]["injected"] == {"throttle": 0, "5xx": 0, "reset": 2, "lost": 0, "denied": 0}


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
    the kind; a 5xx draws random() < 0.5 for 500, else 503; no other kind
    draws more."""
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
            "lost": 0,
            "denied": 0,
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


def test_a_lost_pick_draws_nothing_more(emulator, client):
    """"lost" is one more kind in the documented draw order: randrange picks it
    like any other and it draws nothing after (only a 5xx does), so a sequence
    mixing the two is still the one _expected computes. To the client a lost
    answer looks like a reset (ConnectionClosedError).
    https://docs.python.org/3/library/random.html#notes-on-reproducibility
    """
    sts = client("sts")
    kinds = ["5xx", "lost"]
    _faults(emulator, {"rate": 0.6, "kinds": kinds, "seed": 3, "services": ["sts"]})
    outcomes = [_outcome(sts.get_caller_identity) for _ in range(30)]
    assert outcomes == ["reset" if o == "lost" else o for o in _expected(3, 0.6, kinds, 30)]
    assert "reset" in outcomes and {500, 503} & set(outcomes) and None in outcomes
    assert _faults(emulator, method="GET")[1]["injected"] == {
        "throttle": 0,
        "5xx": outcomes.count(500) + outcomes.count(503),
        "reset": 0,
        "lost": outcomes.count("reset"),
        "denied": 0,
    }


QUEUE_TEMPLATE = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
"""


def _retrying(emulator: Any, service: str, agent: str) -> Any:
    """A client that retries as the SDKs do by default (standard mode, 3 attempts)."""
    return boto3.client(
        service,
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 3, "mode": "standard"}, user_agent_extra=agent),
    )


def _faults_for_first_attempt_only(emulator: Any, sdk: Any) -> dict[str, Any]:
    """Before this client sends its second attempt, read the counters (into
    ["state"]) and turn faults off: the first attempt alone meets them."""
    seen: dict[str, Any] = {"attempts": 0}

    def before_send(**kwargs: Any) -> None:
        seen["attempts"] += 1
        if seen["attempts"] == 2:
            seen["state"] = _faults(emulator, method="GET")[1]
            _faults(emulator, {"rate": 0})

    sdk.meta.events.register("before-send", before_send)
    return seen


def test_lost_answer_the_request_took_effect(emulator, client):
    """A "lost" fault lets moto process the request - its effect happens - and
    then closes the connection without a byte of the answer, as a reset does:
    the client sees ConnectionClosedError ("socket-level failures where no HTTP
    response was received ... server-closed connections", which the SDKs
    retry) and cannot tell whether anything happened. AWS warns of exactly
    this: "Operations might also time out or encounter other server issues
    before they complete, even though the request has already returned a
    result. This could make it difficult to determine whether the request
    succeeded or not" - here a CreateStack whose answer was lost still created
    the stack, which is there once faults are off.
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
    https://docs.aws.amazon.com/sdk-for-python/v1/guide/config-retries.html (Retryable errors)
    https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    """
    cf = client("cloudformation")
    name, raw_name = unique("lost"), unique("lost-raw")
    _faults(emulator, {"rate": 1, "kinds": ["lost"], "services": ["cloudformation"]})
    with pytest.raises(ConnectionClosedError):
        cf.create_stack(StackName=name, TemplateBody=QUEUE_TEMPLATE)
    received = _raw_query(
        emulator,
        "cloudformation",
        {"Action": "CreateStack", "Version": "2010-05-15", "StackName": raw_name, "TemplateBody": QUEUE_TEMPLATE},
    )
    assert received == b""  # not a status line, not a byte
    state = _faults(emulator, method="GET")[1]
    assert state["injected"] == {"throttle": 0, "5xx": 0, "reset": 0, "lost": 2, "denied": 0} and state["seen"] == 2

    _faults(emulator, {"rate": 0})
    for stack in (name, raw_name):
        described = eventually(
            lambda stack=stack: [
                s for s in cf.describe_stacks(StackName=stack)["Stacks"] if s["StackStatus"] == "CREATE_COMPLETE"
            ]
        )
        assert len(described) == 1, stack
        assert cf.describe_stack_resource(StackName=stack, LogicalResourceId="Queue")["StackResourceDetail"][
            "PhysicalResourceId"
        ]
    names = [s["StackName"] for s in cf.list_stacks()["StackSummaries"]]
    assert sorted(names) == sorted([name, raw_name])


def test_create_stack_retried_after_a_lost_answer_with_its_token_is_one_stack(emulator, client):
    """The case ClientRequestToken exists for: "Specify this token if you plan
    to retry requests so that CloudFormation knows that you're not attempting
    to create a stack with the same name. You might retry CreateStack requests
    to ensure that CloudFormation successfully received them." The first
    attempt's answer is lost (the stack is created), boto3 retries the same
    request - same name, same token - and the retry answers the StackId of the
    stack the first attempt created: one stack, one CREATE_IN_PROGRESS for it,
    every event carrying the token.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html (ClientRequestToken)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackEvent.html (ClientRequestToken)
    https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html ("Idempotency ensures that an API request completes no more than one time")
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
    """
    agent = "irlab-lost-probe/1"
    cf = _retrying(emulator, "cloudformation", agent)
    attempts = _faults_for_first_attempt_only(emulator, cf)
    name, token = unique("lost-token"), unique("token")
    _faults(emulator, {"rate": 1, "kinds": ["lost"], "services": ["cloudformation"], "user_agent": agent})
    answer = cf.create_stack(StackName=name, TemplateBody=QUEUE_TEMPLATE, ClientRequestToken=token)
    assert attempts["attempts"] == 2 and answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert attempts["state"]["injected"]["lost"] == 1 and attempts["state"]["seen"] == 1

    check = client("cloudformation")
    stacks = [s for s in check.list_stacks()["StackSummaries"] if s["StackName"] == name]
    assert [s["StackId"] for s in stacks] == [answer["StackId"]]
    assert check.describe_stacks(StackName=name)["Stacks"][0]["StackId"] == answer["StackId"]
    events = stack_events(check, name)
    starts = [e for e in events if e["LogicalResourceId"] == name and e["ResourceStatus"] == "CREATE_IN_PROGRESS"]
    assert len(starts) == 1
    assert {e.get("ClientRequestToken") for e in events} == {token}


def test_put_events_retried_after_a_lost_answer_delivers_the_event_twice(emulator, client):
    """PutEvents has no idempotency token: an entry whose answer was lost has
    been accepted and is delivered to the rule's targets; the SDK's retry sends
    it again as a new event (a new EventId), and the target gets two copies -
    EventBridge delivery is at least once ("Durable delivery means the service
    will successfully attempt to deliver events to EventBridge at least once";
    a target retried "due to network conditions"), so consumers deduplicate.
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-delivery-level.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
    """
    sqs = client("sqs")
    queue_url = sqs.create_queue(QueueName=unique("lost-target"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
        }],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    setup = client("events")
    setup.put_rule(Name="lost-probe", EventPattern=json.dumps({"source": ["irlab.lost-probe"]}))
    setup.put_targets(Rule="lost-probe", Targets=[{"Id": "queue", "Arn": queue_arn}])

    agent = "irlab-lost-probe/1"
    events = _retrying(emulator, "events", agent)
    attempts = _faults_for_first_attempt_only(emulator, events)
    _faults(emulator, {"rate": 1, "kinds": ["lost"], "services": ["events"], "user_agent": agent})
    detail = {"probe": unique("p")}
    answer = events.put_events(
        Entries=[{"Source": "irlab.lost-probe", "DetailType": "Lost answer", "Detail": json.dumps(detail)}]
    )
    assert attempts["attempts"] == 2 and answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert attempts["state"]["injected"]["lost"] == 1
    assert answer["FailedEntryCount"] == 0

    wait_idle(emulator.endpoint)
    got: list[dict] = []

    def two() -> bool:
        got.extend(sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []))
        return len(got) >= 2

    assert eventually(two, timeout=15)
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages") is None  # no third
    delivered = [json.loads(m["Body"]) for m in got]
    assert len(delivered) == 2
    assert all(e["detail"] == detail and e["source"] == "irlab.lost-probe" for e in delivered)
    ids = {e["id"] for e in delivered}
    assert len(ids) == 2 and answer["Entries"][0]["EventId"] in ids


@pytest.mark.parametrize(
    "service, call, code",
    [
        ("ec2", lambda c: c.describe_instances(), "UnauthorizedOperation"),
        ("sqs", lambda c: c.list_queues(), "AccessDenied"),
        ("sns", lambda c: c.list_topics(), "AuthorizationError"),
        ("cloudformation", lambda c: c.describe_stacks(), "AccessDenied"),
        ("ssm", lambda c: c.describe_parameters(), "AccessDeniedException"),
        ("logs", lambda c: c.describe_log_groups(), "AccessDeniedException"),
        ("lambda", lambda c: c.list_functions(), "AccessDeniedException"),
        ("guardduty", lambda c: c.list_detectors(), "AccessDeniedException"),
        ("s3", lambda c: c.list_buckets(), "AccessDenied"),
    ],
)
def test_denied_is_each_services_access_error_and_is_not_retried(emulator: Any, service: str, call: Any, code: str) -> None:
    """A caller without the permission gets the service's own authorization error, which SDKs
    do not retry (unlike throttling and 5xx): one attempt, then the error.

    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html (UnauthorizedOperation)
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html (AccessDenied, AccessDeniedException)
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html (which errors are retried)
    """
    _faults(emulator, {"rate": 1, "kinds": ["denied"], "seed": 1})
    client = boto3.client(
        service,
        endpoint_url=emulator.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 5}),
    )
    try:
        with pytest.raises(ClientError) as err:
            call(client)
        assert err.value.response["Error"]["Code"] == code
        assert err.value.response["ResponseMetadata"].get("RetryAttempts", 0) == 0, "an access error is not retried"
    finally:
        _faults(emulator, {"rate": 0})
