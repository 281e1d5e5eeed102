"""Every AWS API request is checked against botocore's input shape of the
operation it calls before moto sees it, and refused the way the service
refuses it (moto 5.2.5 accepted misspelled, missing and out-of-range
parameters silently).

One hook where every request passes: moto's ``DomainDispatcherApplication``
(``faults`` wraps it outside this one, so an injected fault comes first, as
AWS throttles before it reads a request). ``_request_wire`` finds the
operation and deserializes the parameters per protocol; ``_request_check``
finds the violations; this module answers them:

* EC2 (``<Response><Errors>``, 400): an unknown parameter ``UnknownParameter``
  "The parameter Foo is not recognized"; a missing one ``MissingParameter``
  "The request must contain the parameter groupId"; a wrong type or value
  ``InvalidParameterValue`` "Value (x) for parameter maxResults is invalid. ...".
  One error per answer, as EC2 gives.
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
* Query services (IAM, STS, SNS, CloudFormation; ``<ErrorResponse>``, 400):
  ``ValidationError`` "1 validation error detected: Value null at 'roleName'
  failed to satisfy constraint: Member must not be null" (every violation,
  "N validation errors detected: ...; ..."); a value that is not of its type
  ``InvalidParameterValue``.
* JSON and REST-JSON services: ``ValidationException`` with the same message
  (CloudWatch Logs: ``InvalidParameterException``; GuardDuty:
  ``BadRequestException``; SQS, JSON with query compatibility: the query codes
  ``MissingParameter`` / ``InvalidParameterValue`` in ``x-amzn-query-error``); a
  JSON value of the wrong type ``SerializationException`` ("STRING_VALUE can
  not be converted to an Integer"), as the services' JSON front end answers
  before it validates.
* S3 (``<Error>``): a body element the schema lacks, or a body that breaks it,
  ``MalformedXML``; a bad header or query value ``InvalidArgument`` with
  ``ArgumentName``/``ArgumentValue``.
  https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html

Unknown members. EC2 refuses them (``UnknownParameter``) and S3 refuses a body
element outside its schema (``MalformedXML``). For the other protocols AWS
documents no server answer, but every AWS client refuses the mistake before
it is sent: the SDKs' parameter validation (botocore: "Unknown parameter in
input"), the AWS CLI, Step Functions' AWS SDK integrations and Automation's
``aws:executeAwsApi``. So the stand-in refuses it too, with the service's
validation error and botocore's wording (``Unknown parameter in input: "Nmae",
must be one of: Name, Tags``), so a misspelling never works locally.

A newer model than botocore's. irlab's Rust SDK crates are generated from AWS's
current models, which can be newer than the pinned botocore: a member or an
enum value botocore does not know yet may be real. A typed SDK cannot
misspell a member (its builders name them), so for a client whose model may
be newer - a User-Agent of another AWS SDK (``aws-sdk-rust``, ``aws-sdk-java``,
...), the AWS CLI v2, or a botocore newer than the stand-in's - an unknown
member or enum value is accepted and logged (WARNING on
``irlab_emulator.request_validation``); everything else (missing members,
types, lengths, ranges, patterns) is enforced for every client. The
stand-in's own engines (Step Functions tasks, Automation steps, Lambda code)
use its botocore and get everything checked.

Not checked: unsigned requests, ``/moto-api``, CBOR bodies, protocols the model
does not list for the service, bodies that are not JSON/XML (moto answers those),
streaming payloads; an empty list or map passes a minimum length (botocore sends
one without complaint and no service is known to refuse it). Where several
models share a signing name (``lambda``, ``lambda-core``, ...) the one moto
serves is meant. ``IRLAB_REQUEST_VALIDATION=off`` turns the check off, ``warn``
logs what would be refused and lets it through.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore

from . import _request_wire as wire
from ._request_check import Violation, Walk, check

log = logging.getLogger("irlab_emulator.request_validation")

_BODY_LIMIT = 16 * 1024 * 1024  # larger bodies are payloads, not parameters: not read

# The code of each kind of refusal, by service (protocol defaults below).
_CODES: dict[str, dict[str, str]] = {
    "logs": {"missing": "InvalidParameterException", "constraint": "InvalidParameterException", "unknown": "InvalidParameterException"},
    "guardduty": {"missing": "BadRequestException", "constraint": "BadRequestException", "unknown": "BadRequestException", "type": "BadRequestException"},
    "sqs": {"missing": "MissingParameter", "constraint": "InvalidParameterValue", "unknown": "InvalidParameterValue", "type": "InvalidParameterValue"},
}
_PROTOCOL_CODES: dict[str, dict[str, str]] = {
    "ec2": {"unknown": "UnknownParameter", "missing": "MissingParameter", "type": "InvalidParameterValue", "constraint": "InvalidParameterValue"},
    "query": {"unknown": "ValidationError", "missing": "ValidationError", "type": "InvalidParameterValue", "constraint": "ValidationError"},
    "json": {"unknown": "ValidationException", "missing": "ValidationException", "type": "SerializationException", "constraint": "ValidationException"},
    "rest-json": {"unknown": "ValidationException", "missing": "ValidationException", "type": "SerializationException", "constraint": "ValidationException"},
    "rest-xml": {"unknown": "MalformedXML", "missing": "InvalidArgument", "type": "InvalidArgument", "constraint": "InvalidArgument"},
}
_MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema"


def _mode() -> str:
    return (os.environ.get("IRLAB_REQUEST_VALIDATION") or "on").strip().lower()


# --------------------------------------------------------------------------
# clients whose model may be newer than ours

_BOTOCORE_UA = re.compile(r"\bBotocore/(\d+)\.(\d+)\.(\d+)", re.IGNORECASE)
_OTHER_SDK_UA = re.compile(r"\b(aws-sdk-(?!python)[a-z0-9-]+|aws-cli/2\.\S*)", re.IGNORECASE)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def newer_model_client(environ: dict[str, Any]) -> str | None:
    """The client, when its service models may be newer than the stand-in's
    botocore (another AWS SDK, the AWS CLI v2, a newer botocore); else None."""
    agent = f"{environ.get('HTTP_USER_AGENT') or ''} {environ.get('HTTP_X_AMZ_USER_AGENT') or ''}"
    other = _OTHER_SDK_UA.search(agent)
    if other:
        return other.group(1)
    found = _BOTOCORE_UA.search(agent)
    if found and tuple(int(g) for g in found.groups()) > _version(botocore.__version__):
        return found.group(0)
    return None


# --------------------------------------------------------------------------
# messages


def _java(value: Any) -> str:
    """A value as the services' Java front end prints it in a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return "[" + ", ".join(_java(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_java(k)}={_java(v)}" for k, v in value.items()) + "}"
    return str(value)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def coral_path(path: tuple[Any, ...]) -> str:
    """``("Tags", 0, "Value")`` -> ``tags.1.member.value``."""
    parts = []
    for segment in path:
        parts.append(f"{segment + 1}.member" if isinstance(segment, int) else _lower_first(str(segment)))
    return ".".join(parts)


def _coral_line(v: Violation) -> str:
    if v.kind == "missing":
        shown = "null"
    elif v.sensitive:
        shown = ""
    else:
        shown = f"'{_java(v.value)}'"
    where = f"Value {shown} at" if shown else "Value at"
    if v.aggregate:
        constraint = f"{v.aggregate} must satisfy constraint: [{', '.join(v.constraints)}]"
    else:
        constraint = v.constraints[0]
    return f"{where} '{coral_path(v.path)}' failed to satisfy constraint: {constraint}"


def coral_message(violations: list[Violation]) -> str:
    """AWS's validation message: ``1 validation error detected: Value 'x' at
    'name' failed to satisfy constraint: ...`` (``; `` between several)."""
    lines = [_coral_line(v) for v in violations]
    return f"{len(lines)} validation error{'s' if len(lines) != 1 else ''} detected: " + "; ".join(lines)


def unknown_message(violations: list[Violation]) -> str:
    """botocore's words for the mistake every AWS client refuses before sending it."""
    parts = []
    for v in violations:
        where = "input" if len(v.path) <= 1 else _boto_path(v.path[:-1])
        allowed = f", must be one of: {', '.join(v.allowed)}" if v.allowed else ""
        parts.append(f'Unknown parameter in {where}: "{v.path[-1]}"{allowed}')
    return "\n".join(parts)


def _boto_path(path: tuple[Any, ...]) -> str:
    out = ""
    for segment in path:
        out += f"[{segment}]" if isinstance(segment, int) else (f".{segment}" if out else str(segment))
    return out


_JSON_TOKENS = {str: "STRING_VALUE", bool: "BOOLEAN_VALUE", int: "NUMBER_VALUE", float: "NUMBER_VALUE"}


def serialization_message(v: Violation) -> str:
    """The JSON front end's answer to a value of the wrong JSON type."""
    if isinstance(v.value, dict):
        return "Start of structure or map found where not expected."
    if isinstance(v.value, list):
        return "Start of list found where not expected"
    token = _JSON_TOKENS.get(type(v.value), "VALUE")
    return f"{token} can not be converted to {'an' if (v.expected or '')[:1] in 'AEIOU' else 'a'} {v.expected}"


def _ec2_name(wire_path: tuple[str, ...]) -> str:
    return ".".join(_lower_first(p) for p in wire_path)


def _ec2_message(v: Violation) -> str:
    if v.kind == "unknown":
        return f"The parameter {v.wire[0] if v.wire else v.path[-1]} is not recognized"
    if v.kind == "missing":
        return f"The request must contain the parameter {_ec2_name(v.wire)}"
    shown = "" if v.sensitive else _java(v.value)
    if v.kind == "type":
        return f"Value ({shown}) for parameter {_ec2_name(v.wire)} is invalid. Expected: '{v.expected}'."
    detail = v.constraints[0] if not v.aggregate else f"{v.aggregate} must satisfy constraint: [{', '.join(v.constraints)}]"
    return f"Value ({shown}) for parameter {_ec2_name(v.wire)} is invalid. {detail}."


# --------------------------------------------------------------------------
# answers


def _pick(violations: list[Violation], protocol: str) -> tuple[str, list[Violation]]:
    """Which violations the service reports first, and as what kind."""
    by_kind: dict[str, list[Violation]] = {}
    for v in violations:
        by_kind.setdefault(v.kind, []).append(v)
    if protocol == "ec2":
        order = ["unknown", "missing", "type", "constraint"]
    elif protocol in ("json", "rest-json"):
        order = ["type", "unknown", "missing", "constraint"]
    else:
        order = ["unknown", "type", "missing", "constraint"]
    for kind in order:
        if kind in by_kind:
            if kind in ("missing", "constraint") and protocol != "ec2":
                # one message lists both, in the order they were found
                return kind, [v for v in violations if v.kind in ("missing", "constraint")]
            return kind, by_kind[kind]
    return "constraint", violations


def refusal(route: wire.Route, violations: list[Violation], environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes, str, str]:
    """(status, headers, body, code, message) of the service's answer."""
    protocol = route.protocol
    kind, chosen = _pick(violations, protocol)
    codes = {**_PROTOCOL_CODES[protocol], **_CODES.get(route.service, {})}
    code = codes[kind]
    argument: tuple[str, str] | None = None
    if protocol == "ec2":
        message = _ec2_message(chosen[0])
    elif protocol == "rest-xml":
        payload = (route.operation.input_shape.serialization.get("payload") if route.operation.input_shape else None) or ""
        in_body = [v for v in chosen if v.kind == "unknown" or (v.path and v.path[0] == payload)]
        if in_body:
            code, message = "MalformedXML", _MALFORMED_XML
        else:
            v = chosen[0]
            name = v.wire[0] if v.wire else str(v.path[0])
            argument = (name, "" if v.kind == "missing" or v.sensitive else _java(v.value))
            message = (
                f"Missing required argument: {name}"
                if v.kind == "missing"
                else f"Invalid argument: {name}: " + (f"expected {v.expected}" if v.kind == "type" else v.constraints[0])
            )
    elif kind == "unknown":
        message = unknown_message(chosen)
    elif kind == "type":
        v = chosen[0]
        if protocol in ("json", "rest-json"):
            message = serialization_message(v)
        else:
            message = f"Value ({'' if v.sensitive else _java(v.value)}) for parameter {'.'.join(v.wire)} is invalid. Expected: '{v.expected}'."
    else:
        message = coral_message(chosen)
    return (*_render(route, environ, code, message, argument), code, message)


def _render(
    route: wire.Route, environ: dict[str, Any], code: str, message: str, argument: tuple[str, str] | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    status = 400
    request_id = str(uuid.uuid4())
    headers: list[tuple[str, str]] = []
    protocol = route.protocol
    if protocol == "ec2":
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
    elif protocol == "query":
        model = route.operation.service_model
        namespace = model.metadata.get("xmlNamespace")
        xmlns = f' xmlns="{namespace}"' if isinstance(namespace, str) else ""
        headers += [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>\n"
        )
    elif protocol == "rest-xml":
        headers += [
            ("Content-Type", "application/xml"),
            ("x-amz-request-id", request_id.replace("-", "")[:16].upper()),
            ("x-amz-id-2", uuid.uuid4().hex),
        ]
        extra = ""
        if argument is not None:
            extra = f"<ArgumentName>{escape(argument[0])}</ArgumentName><ArgumentValue>{escape(argument[1])}</ArgumentValue>"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
    elif protocol == "json":
        content_type = environ.get("CONTENT_TYPE") or "application/x-amz-json-1.1"
        headers += [("Content-Type", content_type), ("x-amzn-RequestId", request_id)]
        if "awsQueryCompatible" in route.operation.service_model.metadata:
            headers.append(("x-amzn-query-error", f"{code};Sender"))
        body = json.dumps({"__type": code, "message": message})
    else:  # rest-json
        headers += [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)]
        payload: dict[str, Any] = {"message": message}
        if route.service == "lambda":
            payload = {"Type": "User", "message": message}
        body = json.dumps(payload)
    data = body.encode()
    if environ.get("REQUEST_METHOD") == "HEAD":
        data = b""
    headers.append(("Content-Length", str(len(data))))
    return status, headers, data


# --------------------------------------------------------------------------
# the request


def take_body(environ: dict[str, Any], limit: int = _BODY_LIMIT) -> bytes | None:
    """Read the body and put it back for moto (None: larger than ``limit``, not read)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > limit:
        return None
    if length > 0:
        data = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        data = stream.read(limit + 1)
        if len(data) > limit:  # put back what was read and the rest
            rest = stream.read()
            environ["wsgi.input"] = io.BytesIO(data + rest)
            environ["CONTENT_LENGTH"] = str(len(data) + len(rest))
            environ.pop("wsgi.input_terminated", None)
            return None
    else:
        data = b""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("wsgi.input_terminated", None)
    return data


def _wire_namer(route: wire.Route) -> Any:
    if route.protocol in ("query", "ec2"):
        return lambda shape, name: wire.query_wire_name(route.protocol, shape, name)
    return lambda shape, name: str(shape.serialization.get("name", name))


def inspect(environ: dict[str, Any]) -> tuple[wire.Route, list[Violation]] | None:
    """The operation a request calls and what is wrong with it (None: not an
    AWS API request the stand-in can read)."""
    from .faults import service_of

    path = environ.get("PATH_INFO") or ""
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    if path.startswith("/moto-api"):
        return None
    signing_name = service_of(environ)
    if signing_name is None:
        return None
    query_string = environ.get("QUERY_STRING") or ""
    query = parse_qs(query_string, keep_blank_values=True)
    content_type = (environ.get("CONTENT_TYPE") or "").lower()
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        body = take_body(environ)
        route = wire.route(environ, signing_name, None)
        if route is None or route.protocol != "json" or body is None:
            return None
        decoded = wire.decode_json(route, body)
    elif content_type.startswith("application/x-www-form-urlencoded") or "Action" in query:
        body = b""
        if content_type.startswith("application/x-www-form-urlencoded"):
            body = take_body(environ)
            if body is None:
                return None
        values = dict(query)
        for key, items in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
            values.setdefault(key, []).extend(items)
        route = wire.route(environ, signing_name, values)
        if route is None or route.protocol not in ("query", "ec2"):
            return None
        decoded = wire.decode_query(route, values)
    else:
        route = wire.route(environ, signing_name, None)
        if route is None or route.protocol not in ("rest-json", "rest-xml"):
            return None
        body = None
        encoding = (environ.get("HTTP_CONTENT_ENCODING") or "").lower()
        if wire.rest_reads_body(route) and "aws-chunked" not in encoding:
            body = take_body(environ)
            if body is None:
                return None
        decoded = wire.decode_rest(route, environ, query, body)
    if decoded is None:
        return None
    walk = Walk(
        _wire_namer(route),
        check_unknown_keys=True,
        json_names=route.protocol in ("json", "rest-json"),
        top_by_member_name=route.protocol == "rest-json",
    )
    violations = [
        Violation("unknown", (name,), (name,), allowed=allowed, newer_model_excusable=True) for name, allowed in decoded.unknown
    ]
    violations += check(route.operation.input_shape, decoded.params, walk)
    return route, violations


def _judge(environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes] | None:
    found = inspect(environ)
    if found is None:
        log.debug(
            "not checked: %s %s (target %s, %s)",
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            environ.get("HTTP_X_AMZ_TARGET"),
            environ.get("CONTENT_TYPE"),
        )
        return None
    route, violations = found
    log.debug("checked %s %s (%s): %d violation(s)", route.service, route.operation.name, route.protocol, len(violations))
    if not violations:
        return None
    client = newer_model_client(environ)
    if client is not None:
        excused = [v for v in violations if v.newer_model_excusable]
        if excused:
            log.warning(
                "%s %s from %s: %s not in botocore %s's model; accepted (the client's model may be newer)",
                route.service,
                route.operation.name,
                client,
                ", ".join(f"{_boto_path(v.path)}={_java(v.value)}"[:200] for v in excused),
                botocore.__version__,
            )
        violations = [v for v in violations if not v.newer_model_excusable]
        if not violations:
            return None
    status, headers, body, code, message = refusal(route, violations, environ)
    if _mode() == "warn":
        log.warning("would refuse %s %s: %s %s", route.service, route.operation.name, code, message)
        return None
    log.info("refused %s %s: %s %s", route.service, route.operation.name, code, message)
    return status, headers, body


def _validating_call(original: Any) -> Any:
    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if _mode() == "off":
            return original(self, environ, start_response)
        try:
            verdict = _judge(environ)
        except Exception:  # noqa: BLE001 - a checker bug must never break a request
            log.warning("request validation skipped for %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), exc_info=True)
            verdict = None
        if verdict is None:
            return original(self, environ, start_response)
        status, headers, body = verdict
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    __call__._irlab_request_validation = True  # type: ignore[attr-defined]
    return __call__


def apply() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if not getattr(DomainDispatcherApplication.__call__, "_irlab_request_validation", False):
        DomainDispatcherApplication.__call__ = _validating_call(DomainDispatcherApplication.__call__)  # type: ignore[method-assign]
