"""Fault injection (stand-in test control; AWS has no such switch, but every
AWS API throttles, fails with 5xx now and then, and drops connections - also
after it has done what was asked).

``POST /moto-api/irlab/faults`` with::

    {"rate": 0.1,                         # fraction of matching requests to fail, 0 <= rate <= 1
     "kinds": ["throttle", "5xx", "reset"],   # optional, default these three ("lost" only when listed)
     "seed": 7,                           # optional integer, default 0
     "services": ["cloudformation", "ec2"],   # optional SigV4 signing names, default every service
     "user_agent": "aws-sdk-rust"}        # optional substring of User-Agent, default any client

makes that fraction of the matching AWS API requests fail *before* moto sees
them (nothing they ask for happens) - except ``lost``, which fails them after.
A request matches when it is SigV4-signed (``Authorization`` header or a
presigned ``X-Amz-Credential``), its credential scope names one of
``services`` (the signing name, ``.../<region>/<service>/aws4_request``, as
moto reads it; moto's alias - ``eventbridge`` for ``events``
- matches too) and its ``User-Agent`` contains ``user_agent``.  ``/moto-api/...``
requests (these hooks, reset, ...) and unsigned requests are never faulted.

Deterministic: every POST starts a new ``random.Random(seed)`` and zeroes the
counters.  Each matching request, in the order the stand-in takes them (under a
lock), draws ``rng.random()``; it fails when the draw is below ``rate``, and
then ``kinds[rng.randrange(len(kinds))]`` picks the kind; a ``5xx`` draws once
more, ``rng.random() < 0.5`` answering 500, otherwise 503 (no other kind draws
more).  The same seed and the same sequence of requests give the same faults.

* ``throttle`` - the service's throttling error, in its protocol's error format,
  so SDKs classify it as throttling (see :data:`THROTTLE`): EC2 503
  ``RequestLimitExceeded``; query services (CloudFormation, IAM, STS, SNS) 400
  ``Throttling``; JSON services (SSM, CloudWatch Logs, EventBridge, Step
  Functions, CloudTrail) 400 ``ThrottlingException``; SQS 400
  ``RequestThrottled``; Lambda and GuardDuty 429 ``TooManyRequestsException``;
  S3 503 ``SlowDown``.
* ``5xx`` - 500 ``InternalFailure`` (EC2 and S3 ``InternalError``, Lambda
  ``ServiceException``, GuardDuty ``InternalServerErrorException``) or 503
  ``ServiceUnavailable`` (EC2 ``Unavailable``).
* ``reset`` - the request is read, then the connection is closed without a byte
  of answer (the client sees the connection closed or reset before a response).
* ``lost`` - the request *is* processed by moto (its effect happens: a stack is
  created, an event delivered), then the connection is closed without a byte of
  moto's answer, as for ``reset``.  The client cannot tell it from ``reset``
  and retries: the "answer lost" case idempotency tokens exist for
  (CloudFormation ``ClientRequestToken``, GuardDuty ``clientToken``); a retried
  EventBridge ``PutEvents`` delivers its events twice.  Not in the default
  ``kinds`` (so seeded sequences of the other kinds stay as they were): list it.
* ``denied`` - the caller lacks the permission: EC2 403 ``UnauthorizedOperation``,
  SNS 403 ``AuthorizationError``, the other query services and S3 403
  ``AccessDenied``, SQS 403 ``AccessDenied`` (query-compatible header), the
  JSON and REST-JSON services ``AccessDeniedException`` (400 for JSON 1.x, 403
  for Lambda and GuardDuty).  SDKs do not retry it, so a test can make one call
  fail for good in a fraction of a second, as a restricted account does.  Not in
  the default ``kinds``: list it.

``GET`` answers the settings and counters ``{"rate", "kinds", "seed",
"services", "user_agent", "injected": {"throttle": n, "5xx": n, "reset": n,
"lost": n, "denied": n}, "seen": n}`` (``seen``: matching requests since the POST); POST
answers the same for the new settings; a malformed body is 400 ``{"message"}``. ``{"rate": 0}``
turns faults off (read the counters first: a POST zeroes them), and so does
``POST /moto-api/reset``.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import struct
import threading
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

log = logging.getLogger("irlab_emulator.faults")

KINDS = ("throttle", "5xx", "reset", "lost", "denied")
DEFAULT_KINDS = ("throttle", "5xx", "reset")  # "lost" only when asked for


class _Settings:
    def __init__(
        self,
        rate: float = 0.0,
        kinds: tuple[str, ...] = DEFAULT_KINDS,
        seed: int = 0,
        services: tuple[str, ...] | None = None,
        user_agent: str | None = None,
    ):
        self.rate = rate
        self.kinds = kinds
        self.seed = seed
        self.services = services
        self.user_agent = user_agent
        self.rng = random.Random(seed)
        self.injected = {kind: 0 for kind in KINDS}
        self.seen = 0

    def describe(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "kinds": list(self.kinds),
            "seed": self.seed,
            "services": None if self.services is None else list(self.services),
            "user_agent": self.user_agent,
            "injected": dict(self.injected),
            "seen": self.seen,
        }


_lock = threading.Lock()
_settings = _Settings()


def settings() -> dict[str, Any]:
    with _lock:
        return _settings.describe()


def configure(body: Any) -> dict[str, Any]:
    """Validate a hook body and make it the settings (ValueError when malformed)."""
    global _settings
    if not isinstance(body, dict):
        raise ValueError('expected a JSON object such as {"rate": 0.1, "kinds": ["throttle"], "seed": 7}')
    unknown = set(body) - {"rate", "kinds", "seed", "services", "user_agent"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    if "rate" not in body:
        raise ValueError('"rate" is required')
    rate = body["rate"]
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError('"rate" must be a number between 0 and 1')
    kinds = body.get("kinds", list(DEFAULT_KINDS))
    if (
        not isinstance(kinds, list)
        or not kinds
        or any(not isinstance(k, str) or k not in KINDS for k in kinds)
    ):
        raise ValueError(f'"kinds" must be a non-empty list of {", ".join(KINDS)}')
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError('"seed" must be an integer')
    services = body.get("services")
    if services is not None and (
        not isinstance(services, list) or any(not isinstance(s, str) or not s for s in services)
    ):
        raise ValueError('"services" must be a list of service names (SigV4 signing names such as "ec2")')
    user_agent = body.get("user_agent")
    if user_agent is not None and (not isinstance(user_agent, str) or not user_agent):
        raise ValueError('"user_agent" must be a non-empty string')
    new = _Settings(
        float(rate),
        tuple(kinds),
        seed,
        None if services is None else tuple(s.lower() for s in services),
        user_agent,
    )
    with _lock:
        _settings = new
        described = new.describe()
    log.info("fault injection: %s", described)
    return described


def turn_off() -> None:
    global _settings
    with _lock:
        _settings = _Settings()


# --------------------------------------------------------------------------
# which requests


def service_of(environ: dict[str, Any]) -> str | None:
    """The service of the SigV4 credential scope (``AKID/date/region/service/aws4_request``)."""
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    scope = None
    if auth.startswith("AWS4-"):
        for part in auth.replace(",", " ").split():
            if part.startswith("Credential="):
                scope = part[len("Credential="):]
                break
    else:
        query = parse_qs(environ.get("QUERY_STRING") or "")
        scope = (query.get("X-Amz-Credential") or [None])[0]
    if not scope:
        return None
    parts = scope.split("/")
    if len(parts) < 4 or parts[-1] != "aws4_request":
        return None
    return parts[-2].lower() or None


def _matches(current: _Settings, environ: dict[str, Any], service: str) -> bool:
    if current.services is not None:
        from moto.moto_server.werkzeug_app import SIGNING_ALIASES

        if service not in current.services and SIGNING_ALIASES.get(service, service) not in current.services:
            return False
    if current.user_agent is not None and current.user_agent not in (environ.get("HTTP_USER_AGENT") or ""):
        return False
    return True


def _decide(environ: dict[str, Any]) -> tuple[str, int, str] | None:
    """(kind, status, service) when this request is to fail, else None."""
    current = _settings
    if current.rate <= 0:
        return None
    path = environ.get("PATH_INFO") or ""
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    if path.startswith("/moto-api"):
        return None
    service = service_of(environ)
    if service is None or not _matches(current, environ, service):
        return None
    with _lock:
        if current is not _settings:  # reconfigured meanwhile: the new settings decide
            return None
        current.seen += 1
        if current.rng.random() >= current.rate:
            return None
        kind = current.kinds[current.rng.randrange(len(current.kinds))]
        status = 0
        if kind == "5xx":
            status = 500 if current.rng.random() < 0.5 else 503
        current.injected[kind] += 1
    return kind, status, service


# --------------------------------------------------------------------------
# error shapes


def protocol_of(environ: dict[str, Any], service: str) -> str:
    """``ec2`` | ``query`` | ``json`` | ``cbor`` | ``rest-xml`` | ``rest-json``, from the request."""
    if (environ.get("HTTP_SMITHY_PROTOCOL") or "").lower() == "rpc-v2-cbor":
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if service == "ec2":
        return "ec2"
    if service == "s3":
        return "rest-xml"
    if (environ.get("CONTENT_TYPE") or "").startswith("application/x-www-form-urlencoded") or service in _QUERY_SERVICES:
        return "query"
    return "rest-json"


_QUERY_SERVICES = {"cloudformation", "iam", "sts", "sns", "sqs", "monitoring", "autoscaling", "elasticloadbalancing", "rds"}

# (status, code, message); a service entry wins over its protocol's default.
THROTTLE: dict[str, tuple[int, str, str]] = {
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "sqs": (400, "RequestThrottled", "Rate exceeded"),
    "s3": (503, "SlowDown", "Please reduce your request rate."),
    "lambda": (429, "TooManyRequestsException", "Rate exceeded"),
    "guardduty": (429, "TooManyRequestsException", "Rate exceeded"),
    "query": (400, "Throttling", "Rate exceeded"),
    "json": (400, "ThrottlingException", "Rate exceeded"),
    "cbor": (400, "ThrottlingException", "Rate exceeded"),
    "rest-json": (400, "ThrottlingException", "Rate exceeded"),
}
_INTERNAL = "The request processing has failed because of an unknown error, exception or failure."
_UNAVAILABLE = "The request has failed due to a temporary failure of the server."
_DENIED_MESSAGE = "User is not authorized to perform this action (fault injected by the stand-in)"
DENIED: dict[str, tuple[int, str, str]] = {
    "ec2": (403, "UnauthorizedOperation", "You are not authorized to perform this operation."),
    "sns": (403, "AuthorizationError", _DENIED_MESSAGE),
    "sqs": (403, "AccessDenied", _DENIED_MESSAGE),
    "s3": (403, "AccessDenied", "Access Denied"),
    "lambda": (403, "AccessDeniedException", _DENIED_MESSAGE),
    "guardduty": (403, "AccessDeniedException", _DENIED_MESSAGE),
    "query": (403, "AccessDenied", _DENIED_MESSAGE),
    "json": (400, "AccessDeniedException", _DENIED_MESSAGE),
    "cbor": (400, "AccessDeniedException", _DENIED_MESSAGE),
    "rest-json": (403, "AccessDeniedException", _DENIED_MESSAGE),
    "rest-xml": (403, "AccessDenied", "Access Denied"),
}

SERVER_ERROR: dict[str, dict[int, tuple[int, str, str]]] = {
    "ec2": {
        500: (500, "InternalError", "An internal error has occurred."),
        503: (503, "Unavailable", "The server is overloaded and can't handle the request."),
    },
    "s3": {
        500: (500, "InternalError", "We encountered an internal error. Please try again."),
        503: (503, "ServiceUnavailable", "Service is unable to handle request."),
    },
    "lambda": {
        500: (500, "ServiceException", "The Lambda service encountered an internal error."),
        503: (503, "ServiceUnavailable", _UNAVAILABLE),
    },
    "guardduty": {
        500: (500, "InternalServerErrorException", "Internal server error."),
        503: (503, "ServiceUnavailable", _UNAVAILABLE),
    },
    "default": {
        500: (500, "InternalFailure", _INTERNAL),
        503: (503, "ServiceUnavailable", _UNAVAILABLE),
    },
}

_QUERY_NAMESPACES = {
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
    "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/",
}


def _cbor_text(value: str) -> bytes:
    data = value.encode()
    n = len(data)
    if n < 24:
        head = bytes([0x60 | n])
    elif n < 0x100:
        head = bytes([0x78, n])
    else:
        head = bytes([0x79]) + n.to_bytes(2, "big")
    return head + data


def _cbor_map(items: dict[str, str]) -> bytes:
    out = bytes([0xA0 | len(items)])
    for key, value in items.items():
        out += _cbor_text(key) + _cbor_text(value)
    return out


def error_response(
    environ: dict[str, Any], service: str, kind: str, status: int, message: str | None = None, code: str | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The (status, headers, body) AWS answers for a ``throttle``, ``5xx`` or
    ``denied`` fault; ``message`` (and ``code`` with ``status``) replace the
    default text (IAM's denials name the principal, action and resource)."""
    protocol = protocol_of(environ, service)
    default_message = message
    if kind == "throttle":
        status, code_, message = THROTTLE.get(service) or THROTTLE[protocol]
    elif kind == "denied":
        status_, code_, message = DENIED.get(service) or DENIED[protocol]
        status = status if code else status_
    else:
        status, code_, message = (SERVER_ERROR.get(service) or SERVER_ERROR["default"])[status]
    code = code or code_
    message = default_message or message
    request_id = str(uuid.uuid4())
    sender = "Sender" if status < 500 else "Receiver"
    headers: list[tuple[str, str]] = []
    if protocol == "ec2":
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
    elif protocol == "query":
        namespace = _QUERY_NAMESPACES.get(service)
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        headers += [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>{sender}</Type><Code>{code}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>\n"
        ).encode()
    elif protocol == "rest-xml":
        headers += [
            ("Content-Type", "application/xml"),
            ("x-amz-request-id", request_id.replace("-", "")[:16].upper()),
            ("x-amz-id-2", uuid.uuid4().hex),
        ]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
    elif protocol == "cbor":
        headers += [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("x-amzn-RequestId", request_id),
        ]
        body = _cbor_map({"__type": code, "message": message})
    elif protocol == "json":
        content_type = environ.get("CONTENT_TYPE") or "application/x-amz-json-1.1"
        headers += [("Content-Type", content_type), ("x-amzn-RequestId", request_id)]
        if service == "sqs":  # query-compatible JSON: the query error code in a header
            headers.append(("x-amzn-query-error", f"{code};{sender}"))
        body = json.dumps({"__type": code, "message": message}).encode()
    else:  # rest-json
        headers += [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
        payload: dict[str, Any] = {"message": message}
        if service == "lambda":
            payload["Type"] = "User" if status < 500 else "Service"
            if code == "TooManyRequestsException":
                payload["Reason"] = "CallerRateLimitExceeded"
        body = json.dumps(payload).encode()
    if environ.get("REQUEST_METHOD") == "HEAD":
        body = b""
    headers.append(("Content-Length", str(len(body))))
    return status, headers, body


def _consume_body(environ: dict[str, Any]) -> None:
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    try:
        if length > 0:
            stream.read(length)
        elif environ.get("wsgi.input_terminated"):
            stream.read()
    except OSError:
        pass


def _drop_connection(environ: dict[str, Any], consume: bool = True) -> None:
    """Close the client's connection without an answer (raises). ``consume``:
    read the request body first (not when moto already has: ``wsgi.input`` is
    the socket itself, and reading it again would wait for bytes that never come)."""
    if consume:
        _consume_body(environ)
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:  # linger 0: the final close resets instead of lingering
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:  # the client sees end-of-stream before any response byte
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    # werkzeug treats ConnectionError as "client went away": it answers nothing
    # and closes the connection.
    raise ConnectionAbortedError("irlab fault injection: connection dropped without an answer")


def _lose_answer(original: Any, app: Any, environ: dict[str, Any]) -> None:
    """Let moto process the request to the end, then drop the connection
    instead of sending its answer (raises)."""

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return lambda data: None  # moto's answer goes nowhere: werkzeug never sees it

    try:
        answer = original(app, environ, start_response)
        try:
            for _ in answer:  # a streamed answer may do its work while iterated
                pass
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
    except Exception:  # noqa: BLE001 - the answer (an error 500 here) is lost either way
        log.exception("fault injection: moto failed on a request whose answer is lost")
    _drop_connection(environ, consume=False)


def _faulting_call(original: Any) -> Any:
    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        fault = _decide(environ)
        if fault is None:
            return original(self, environ, start_response)
        kind, status, service = fault
        log.info(
            "fault injection: %s for %s %s (%s)", kind, environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), service
        )
        if kind == "reset":
            _drop_connection(environ)
        if kind == "lost":
            _lose_answer(original, self, environ)
        _consume_body(environ)
        status, headers, body = error_response(environ, service, kind, status)
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    __call__._irlab_faults = True  # type: ignore[attr-defined]
    return __call__


# --------------------------------------------------------------------------
# moto-api


def _faults_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """``GET``/``POST /moto-api/irlab/faults``."""
    json_headers = {"Content-Type": "application/json"}
    if request.method == "POST":
        try:
            length = int(headers.get("Content-Length") or 0)
            body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
            return 200, json_headers, json.dumps(configure(body))
        except (TypeError, ValueError) as exc:
            return 400, json_headers, json.dumps({"message": str(exc)})
    if request.method != "GET":
        return 405, json_headers, json.dumps({"message": "use GET or POST"})
    return 200, json_headers, json.dumps(settings())


def apply() -> None:
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    moto_api_urls.url_paths["{0}/moto-api/irlab/faults"] = _faults_response
    if not getattr(DomainDispatcherApplication.__call__, "_irlab_faults", False):
        DomainDispatcherApplication.__call__ = _faulting_call(DomainDispatcherApplication.__call__)  # type: ignore[method-assign]
    if not getattr(MotoAPIBackend.reset, "_irlab_faults", False):
        original_reset = MotoAPIBackend.reset

        def reset(self: Any) -> None:
            turn_off()
            original_reset(self)

        reset._irlab_faults = True  # type: ignore[attr-defined]
        MotoAPIBackend.reset = reset  # type: ignore[method-assign]
