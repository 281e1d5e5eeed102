"""CloudTrail records the management events of every API call the stand-in
answers, for ``LookupEvents`` (event history) and the trails' log files
(moto 5.2.5 recorded nothing: ``LookupEvents`` answered 500 and no trail wrote
a log file, ``/work/shared/probes/moto-5.2.5/cloudtrail_events.py``).

What AWS does, and what the stand-in does the same way:

* Every API request becomes an event in the account and Region it was made in
  ("CloudTrail record contents",
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html):
  ``eventVersion`` 1.11, ``userIdentity``, ``eventTime``, ``eventSource``
  (``ec2.amazonaws.com``: the model's endpoint prefix), ``eventName`` (the
  operation), ``awsRegion``, ``sourceIPAddress``, ``userAgent``,
  ``requestParameters`` (the parameters as sent, member names in camelCase),
  ``responseElements`` (for calls that change something; null for read-only
  ones and failures), ``errorCode``/``errorMessage`` for failed calls (EC2's
  codes as ``Client.``/``Server.`` + code), ``requestID``, ``eventID``,
  ``readOnly``, ``eventType`` ``AwsApiCall``, ``managementEvent`` true,
  ``recipientAccountId``, ``eventCategory`` ``Management``.  Global services
  (IAM, Organizations, CloudFront, Route 53) are recorded in us-east-1; STS in
  the Region its request was signed for (the global endpoint signs for
  us-east-1).
* ``userIdentity`` ("CloudTrail userIdentity element",
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html):
  ``IAMUser`` for an IAM user's access key (``principalId`` the user id,
  ``userName``); ``AssumedRole`` for STS session credentials (``principalId``
  ``ROLEID:session``, ``arn`` the assumed-role ARN, ``sessionContext`` with the
  role as ``sessionIssuer`` and ``attributes.creationDate``/``mfaAuthenticated``);
  the stand-in's default credentials (``testing``, irlab's CLI) are the
  identity ``GetCallerIdentity`` answers them (``IAMUser`` ``moto``).  The
  engines' calls are their role sessions (Step Functions tasks, Automation
  steps, EventBridge targets: ``sourceIPAddress``/``userAgent`` the service's
  DNS name, as for calls AWS services make; Lambda code: its own requests).
  CloudFormation's calls for a stack's resources are recorded as the caller's
  (or the stack role's session) with ``invokedBy`` ``cloudformation.amazonaws.com``.
* Data events are not recorded without a trail selecting them ("Logging data
  events",
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html):
  S3 object-level calls, Lambda ``Invoke``, SNS ``Publish``/``PublishBatch``,
  SQS message calls (SQS "Logging ... using AWS CloudTrail").  The stand-in
  records none of them (it has no data-event selectors).
* ``LookupEvents`` (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html):
  management events of the caller's account and Region of the last 90 days,
  newest first, one ``LookupAttributes`` item (``EventId``, ``EventName``,
  ``ReadOnly``, ``Username``, ``ResourceType``, ``ResourceName``,
  ``EventSource``, ``AccessKeyId``), ``StartTime``/``EndTime``, ``MaxResults``
  1-50 (default 50), ``NextToken`` valid only with the same parameters; each
  event with ``Resources`` (type/name pairs) and ``CloudTrailEvent`` (the
  record as JSON).  Errors: ``InvalidLookupAttributesException`` (more than
  one attribute), ``InvalidTimeRangeException`` (start after end),
  ``InvalidNextTokenException``, ``InvalidEventCategoryException``; AWS
  publishes no message texts, so the stand-in's say what was wrong.
  ``EventCategory: insight`` answers no events (the stand-in has no Insights).
* Delivery ("CloudTrail log file examples",
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html):
  a logging trail writes ``[prefix/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
  <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz`` objects,
  gzipped ``{"Records": [...]}``, about every 5 minutes
  (``_timing.CLOUDTRAIL_DELIVERY_S``, at the service scale); a single-Region
  trail gets its Region's events (global services' only in us-east-1 and with
  ``IncludeGlobalServiceEvents``), a multi-Region trail every Region's.  Events
  from before ``StartLogging`` are not delivered; ``StopLogging`` (and
  ``DeleteTrail``) stops delivery at once - events not yet delivered are
  dropped, so nothing lands in the bucket after it returns.

Bounded and cheap: the last :data:`MAX_EVENTS` events per account and Region
are kept; a request is stored raw (its parameters and answer are parsed when a
lookup or a delivery first needs them); request bodies over 64 KiB keep no
parameters, answers over 32 KiB no response elements.  Requests of the
stand-in's own administrator clients (``irlab-local`` keys) are its plumbing,
not API calls of the account, and are not recorded.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import io
import itertools
import json
import logging
import re
import secrets
import string
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from moto.core.exceptions import JsonRESTError

from . import _clock, _timing
from .request_validation import take_body

log = logging.getLogger("irlab_emulator.cloudtrail_events")

EVENT_VERSION = "1.11"
MAX_EVENTS = 20_000  # per account and Region
HISTORY = datetime.timedelta(days=90)
_BODY_LIMIT = 64 * 1024
_RESPONSE_LIMIT = 32 * 1024
GLOBAL_SIGNING_NAMES = {"iam", "organizations", "cloudfront", "route53"}
_READ_ONLY = ("Describe", "Get", "List", "Lookup", "Head", "BatchGet", "Search")
# Data events (not recorded): by signing name, the operations (a prefix test for S3)
_DATA_EVENTS = {
    "lambda": {"Invoke", "InvokeAsync", "InvokeWithResponseStream"},
    "sns": {"Publish", "PublishBatch"},
    "sqs": {
        "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
        "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
    },
}
_DATA_EVENT_REST = {"s3", "lambda"}  # REST services with data events: their operation is read at once
_S3_DATA = re.compile(r"Object|MultipartUpload|UploadPart|ListParts")
_SKIPPED_HEADERS = {"HTTP_AUTHORIZATION", "HTTP_X_AMZ_SECURITY_TOKEN", "HTTP_COOKIE"}


# --------------------------------------------------------------------------
# the store


@dataclass(eq=False)
class Record:
    seq: int
    time: datetime.datetime
    event_id: str
    account: str
    region: str
    signing_name: str
    operation: str | None
    identity: dict[str, Any]
    access_key: str
    source_ip: str
    user_agent: str
    environ: dict[str, Any] | None = None  # method, path, query, headers (for the lazy parse)
    body: bytes | None = None
    status: int = 200
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes | None = None
    event: dict[str, Any] | None = None  # the CloudTrail record, once built
    resources: list[dict[str, str]] | None = None
    text: str | None = None  # the record as JSON


_seq = itertools.count(1)
_stores: dict[tuple[str, str], deque[Record]] = {}
_stores_lock = threading.Lock()


def _store(account: str, region: str) -> deque[Record]:
    key = (account, region)
    store = _stores.get(key)
    if store is None:
        with _stores_lock:
            store = _stores.setdefault(key, deque(maxlen=MAX_EVENTS))
    return store


def _add(record: Record) -> None:
    store = _store(record.account, record.region)
    with _stores_lock:  # numbered as stored: a delivery's cursor never skips one
        record.seq = next(_seq)
        store.append(record)


def records(account: str, region: str | None = None) -> list[Record]:
    """The stored records of an account (one Region, or all), oldest first."""
    with _stores_lock:
        if region is not None:
            return list(_stores.get((account, region), ()))
        found = [r for (a, _), store in _stores.items() if a == account for r in store]
    found.sort(key=lambda r: r.seq)
    return found


def reset() -> None:
    with _stores_lock:
        _stores.clear()
    with _identity_lock:
        _identities.clear()
    with _delivery_lock:
        _trail_state.clear()


# --------------------------------------------------------------------------
# who called


_identities: dict[tuple[str, str], dict[str, Any]] = {}
_identity_lock = threading.Lock()


def _iso(value: datetime.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _engine_service(access_key: str) -> str | None:
    """The service principal an engine session belongs to (``_local.service_credentials``)."""
    from . import _local

    with _local._sessions_lock:
        for (_role, service, _name), (credentials, _assumed) in _local._sessions.items():
            if credentials.access_key == access_key:
                return service
    return None


def _role_identity(assumed: Any, access_key: str) -> dict[str, Any]:
    from moto.iam.models import iam_backends

    role_name = assumed.role_arn.split("/")[-1]
    role_id = None
    try:
        role_id = iam_backends[assumed.account_id]["aws"].get_role_by_arn(arn=assumed.role_arn).id
    except Exception:  # noqa: BLE001 - a role that does not exist (moto's account switch)
        pass
    user_id = assumed.user_id
    issued = getattr(assumed, "irlab_issued", None) or (assumed.expiration - datetime.timedelta(hours=1))
    return {
        "type": "AssumedRole",
        "principalId": user_id,
        "arn": assumed.arn,
        "accountId": assumed.account_id,
        "accessKeyId": access_key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id or user_id.split(":")[0],
                "arn": assumed.role_arn,
                "accountId": assumed.account_id,
                "userName": role_name,
            },
            "attributes": {"creationDate": _iso(issued), "mfaAuthenticated": "false"},
        },
    }


def identity_of(access_key: str, account: str) -> dict[str, Any]:
    """The ``userIdentity`` of a request signed with ``access_key`` (cached:
    an identity does not change, and a user deleted later stays who called)."""
    key = (access_key, account)
    found = _identities.get(key)
    if found is not None:
        return found
    identity: dict[str, Any] | None = None
    if access_key.startswith("ASIA"):
        from moto.sts.models import sts_backends

        for partitions in list(sts_backends.values()):
            for backend in list(partitions.values()):
                assumed = backend.get_assumed_role_from_access_key(access_key)
                if assumed is not None:
                    identity = _role_identity(assumed, access_key)
                    break
            if identity:
                break
    if identity is None:
        from moto.iam.models import iam_backends

        for partitions in list(iam_backends.values()):
            backend = partitions.get("aws") if hasattr(partitions, "get") else None
            if backend is None or access_key not in backend.access_keys:
                continue
            user = backend.get_user_from_access_key_id(access_key)
            if user is not None:
                identity = {
                    "type": "IAMUser",
                    "principalId": user.id,
                    "arn": user.arn,
                    "accountId": user.account_id,
                    "accessKeyId": access_key,
                    "userName": user.name,
                }
                break
    if identity is None:  # moto's default credentials: what GetCallerIdentity answers for them
        identity = {
            "type": "IAMUser",
            "principalId": "AKIAIOSFODNN7EXAMPLE",
            "arn": f"arn:aws:sts::{account}:user/moto",
            "accountId": account,
            "accessKeyId": access_key,
            "userName": "moto",
        }
    with _identity_lock:
        _identities[key] = identity
    return identity


def username_of(identity: dict[str, Any]) -> str | None:
    """LookupEvents' ``Username``: the user's name, a role session's name."""
    if identity.get("type") == "AssumedRole":
        return str(identity.get("arn", "")).rsplit("/", 1)[-1]
    if identity.get("type") == "Root":
        return "root"
    return identity.get("userName")


# --------------------------------------------------------------------------
# recording a request


_current = threading.local()


def current_caller() -> tuple[dict[str, Any], str, str] | None:
    """(identity, source IP, user agent) of the request this thread answers."""
    return getattr(_current, "caller", None)


def _credential_scope(environ: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    from ._iam_enforce import _credential_scope as scope

    return scope(environ)


_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z0-9]+)")


def _operation_of(environ: dict[str, Any], signing_name: str, body: bytes | None) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rpartition(".")[2] or None
    query = environ.get("QUERY_STRING") or ""
    if "Action=" in query:
        return (parse_qs(query).get("Action") or [None])[0]
    if body and (environ.get("CONTENT_TYPE") or "").startswith("application/x-www-form-urlencoded"):
        found = _ACTION.search(body)
        if found:
            return found.group(1).decode()
    if signing_name not in _DATA_EVENT_REST:
        return None  # a REST call of a service without data events: named when its record is built
    from . import _request_wire as wire

    try:
        route = wire.route(environ, signing_name, None)
    except Exception:  # noqa: BLE001 - an unknown route is recorded without a name
        return None
    return route.operation.name if route else None


def is_data_event(signing_name: str, operation: str | None) -> bool:
    if operation is None:
        return False
    if signing_name == "s3":
        return bool(_S3_DATA.search(operation))
    return operation in _DATA_EVENTS.get(signing_name, ())


def _account_of(environ: dict[str, Any], access_key: str) -> str:
    header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return header
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def _status_code(status: str) -> int:
    try:
        return int(status.split(" ", 1)[0])
    except ValueError:
        return 0


def _recording_call(original: Any) -> Any:
    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or ""
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if path.startswith("/moto-api"):
            return original(self, environ, start_response)
        access_key, scope_region, signing_name = _credential_scope(environ)
        if not signing_name or not access_key or access_key == "irlab-local":
            return original(self, environ, start_response)
        try:
            body = take_body(environ, _BODY_LIMIT)
            operation = _operation_of(environ, signing_name, body)
            if is_data_event(signing_name, operation):
                return original(self, environ, start_response)
            account = _account_of(environ, access_key)
            identity = identity_of(access_key, account)
        except Exception:  # noqa: BLE001 - recording must never break a request
            log.warning("CloudTrail: not recording %s %s", environ.get("REQUEST_METHOD"), path, exc_info=True)
            return original(self, environ, start_response)
        engine = _engine_service(access_key) if access_key.startswith("ASIA") else None
        if engine and engine != "lambda.amazonaws.com":
            source_ip = user_agent = engine
        else:
            source_ip = str(environ.get("REMOTE_ADDR") or "127.0.0.1")
            user_agent = str(environ.get("HTTP_USER_AGENT") or "")
        captured: dict[str, Any] = {}

        def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
            captured["status"] = status
            captured["headers"] = headers
            return start_response(status, headers, exc_info)

        _current.caller = (identity, source_ip, user_agent)
        try:
            answer = original(self, environ, capture)
            try:
                data = b"".join(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
        finally:
            _current.caller = None
        try:
            region = "us-east-1" if signing_name in GLOBAL_SIGNING_NAMES else (scope_region or "us-east-1")
            kept_environ = {
                k: v
                for k, v in environ.items()
                if isinstance(v, str)
                and (k.startswith("HTTP_") and k not in _SKIPPED_HEADERS or k in ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE"))
            }
            headers = {str(k).lower(): str(v) for k, v in captured.get("headers") or []}
            _add(
                Record(
                    seq=next(_seq),
                    time=datetime.datetime.now(datetime.timezone.utc),
                    event_id=str(uuid.uuid4()),
                    account=account,
                    region=region,
                    signing_name=signing_name,
                    operation=operation,
                    identity=identity,
                    access_key=access_key,
                    source_ip=source_ip,
                    user_agent=user_agent,
                    environ=kept_environ,
                    body=body,
                    status=_status_code(str(captured.get("status") or "0")),
                    response_headers=headers,
                    response_body=data if len(data) <= _RESPONSE_LIMIT else None,
                )
            )
        except Exception:  # noqa: BLE001
            log.warning("CloudTrail: could not record %s %s", environ.get("REQUEST_METHOD"), path, exc_info=True)
        return [data]

    __call__._irlab_cloudtrail_events = True  # type: ignore[attr-defined]
    return __call__


# --------------------------------------------------------------------------
# building the record (lazily)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:] if name else name


_HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
_SECRET_KEY = re.compile(r"secret|password|privatekey", re.IGNORECASE)


def _plain(value: Any, camel: bool = True) -> Any:
    """A value as CloudTrail shows it: camelCase member names, times as text,
    secrets and binary data hidden."""
    from ._request_check import Bad

    if isinstance(value, dict):
        return {
            (_camel(str(k)) if camel else str(k)): (_HIDDEN if _SECRET_KEY.search(str(k)) else _plain(v, camel))
            for k, v in value.items()
            if k != "ResponseMetadata"
        }
    if isinstance(value, (list, tuple)):
        return [_plain(v, camel) for v in value]
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.timezone.utc) if value.tzinfo else value
        return f"{value:%b} {value.day}, {value.year}, {value.hour % 12 or 12}:{value:%M:%S %p}"  # "Oct 6, 2023, 1:02:03 AM"
    if isinstance(value, (bytes, bytearray)):
        return _HIDDEN
    if isinstance(value, Bad):
        return value.text
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _decode(record: Record) -> tuple[Any, dict[str, Any] | None]:
    """(botocore route, parameters as sent) of a recorded request."""
    from . import _request_wire as wire

    environ = dict(record.environ or {})
    body = record.body
    environ["wsgi.input"] = io.BytesIO(body or b"")
    environ["CONTENT_LENGTH"] = str(len(body or b""))
    query_string = environ.get("QUERY_STRING") or ""
    query = parse_qs(query_string, keep_blank_values=True)
    content_type = (environ.get("CONTENT_TYPE") or "").lower()
    if environ.get("HTTP_X_AMZ_TARGET"):
        route = wire.route(environ, record.signing_name, None)
        if route is None or body is None:
            return route, None
        decoded = wire.decode_json(route, body)
    elif content_type.startswith("application/x-www-form-urlencoded") or "Action" in query:
        values = dict(query)
        if body is None and content_type.startswith("application/x-www-form-urlencoded"):
            route = wire.route(environ, record.signing_name, {**values, "Action": [record.operation or ""]})
            return route, None
        for key, items in parse_qs((body or b"").decode("utf-8", "replace"), keep_blank_values=True).items():
            values.setdefault(key, []).extend(items)
        route = wire.route(environ, record.signing_name, values)
        if route is None or route.protocol not in ("query", "ec2"):
            return route, None
        decoded = wire.decode_query(route, values)
    else:
        route = wire.route(environ, record.signing_name, None)
        if route is None or route.protocol not in ("rest-json", "rest-xml"):
            return route, None
        rest_body = body if wire.rest_reads_body(route) else None
        if wire.rest_reads_body(route) and body is None:
            return route, None
        decoded = wire.decode_rest(route, environ, query, rest_body)
    return route, (decoded.params if decoded is not None else None)


def _parse_response(route: Any, record: Record) -> dict[str, Any] | None:
    if record.response_body is None:
        return None
    from botocore.parsers import create_parser

    parser = create_parser(route.protocol)
    shape = route.operation.output_shape
    if record.status < 300 and shape is not None and any(
        m.serialization.get("streaming") or m.type_name == "blob" and shape.serialization.get("payload") == n
        for n, m in shape.members.items()
    ):
        return None
    return parser.parse(
        {"body": record.response_body, "headers": record.response_headers, "status_code": record.status},
        shape,
    )


def _event_source(route: Any, signing_name: str) -> str:
    if route is not None:
        prefix = route.operation.service_model.metadata.get("endpointPrefix")
        if prefix:
            return f"{prefix}.amazonaws.com"
    return f"{signing_name}.amazonaws.com"


def _request_id(record: Record, parsed: dict[str, Any] | None) -> str:
    for header in ("x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"):
        if record.response_headers.get(header):
            return record.response_headers[header]
    meta = (parsed or {}).get("ResponseMetadata") or {}
    return str(meta.get("RequestId") or record.event_id)


def build(record: Record) -> dict[str, Any]:
    """The CloudTrail record of a recorded call (built once)."""
    if record.event is not None:
        return record.event
    route = params = parsed = None
    try:
        route, params = _decode(record)
    except Exception:  # noqa: BLE001 - a request the model cannot read keeps no parameters
        log.debug("CloudTrail: parameters of %s unread", record.operation, exc_info=True)
    name = route.operation.name if route is not None else (record.operation or "Unknown")
    read_only = name.startswith(_READ_ONLY)
    try:
        if route is not None and (record.status >= 300 or not read_only):
            parsed = _parse_response(route, record)
    except Exception:  # noqa: BLE001
        log.debug("CloudTrail: answer of %s unread", name, exc_info=True)
    event: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": record.identity,
        "eventTime": _iso(record.time),
        "eventSource": _event_source(route, record.signing_name),
        "eventName": name,
        "awsRegion": record.region,
        "sourceIPAddress": record.source_ip,
        "userAgent": record.user_agent,
    }
    if record.status >= 300 or record.status == 0:
        error = (parsed or {}).get("Error") or {}
        code = str(error.get("Code") or f"HTTP{record.status}")
        if record.signing_name == "ec2" and not code.startswith(("Client.", "Server.")):
            code = ("Server." if record.status >= 500 else "Client.") + code
        event["errorCode"] = code
        event["errorMessage"] = str(error.get("Message") or "")
    event["requestParameters"] = _plain(params) if params else None
    event["responseElements"] = (
        (_plain(parsed) or None) if parsed is not None and record.status < 300 and not read_only else None
    )
    event.update(
        {
            "requestID": _request_id(record, parsed),
            "eventID": record.event_id,
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": record.account,
            "eventCategory": "Management",
        }
    )
    record.resources = resources_of(record.signing_name, params, parsed if record.status < 300 else None)
    record.event = event
    record.text = json.dumps(event, separators=(",", ":"), default=str)
    record.environ = record.body = record.response_body = None  # built: the raw request is no longer needed
    record.response_headers = {}
    return event


# Resources of a call: parameters (and answer values) that name them.
_EC2_PREFIXES = {
    "i": "AWS::EC2::Instance",
    "eni": "AWS::EC2::NetworkInterface",
    "sg": "AWS::EC2::SecurityGroup",
    "vol": "AWS::EC2::Volume",
    "snap": "AWS::EC2::Snapshot",
    "vpc": "AWS::EC2::VPC",
    "subnet": "AWS::EC2::Subnet",
    "ami": "AWS::EC2::Ami",
    "igw": "AWS::EC2::InternetGateway",
    "rtb": "AWS::EC2::RouteTable",
    "acl": "AWS::EC2::NetworkAcl",
    "eipalloc": "AWS::EC2::EIP",
    "iip-assoc": "AWS::EC2::IamInstanceProfileAssociation",
}
_EC2_ID = re.compile(r"^(i|eni|sg|vol|snap|vpc|subnet|ami|igw|rtb|acl|eipalloc|iip-assoc)-[0-9a-f]{8,17}$")
_KEYS: dict[str, dict[str, str]] = {
    "iam": {
        "RoleName": "AWS::IAM::Role",
        "UserName": "AWS::IAM::User",
        "PolicyArn": "AWS::IAM::Policy",
        "PolicyName": "AWS::IAM::Policy",
        "InstanceProfileName": "AWS::IAM::InstanceProfile",
        "GroupName": "AWS::IAM::Group",
        "AccessKeyId": "AWS::IAM::AccessKey",
    },
    "s3": {"Bucket": "AWS::S3::Bucket"},
    "cloudformation": {"StackName": "AWS::CloudFormation::Stack", "StackId": "AWS::CloudFormation::Stack"},
    "cloudtrail": {"Name": "AWS::CloudTrail::Trail", "TrailName": "AWS::CloudTrail::Trail", "TrailARN": "AWS::CloudTrail::Trail"},
    "lambda": {"FunctionName": "AWS::Lambda::Function"},
    "states": {"stateMachineArn": "AWS::StepFunctions::StateMachine", "executionArn": "AWS::StepFunctions::Execution"},
    "sns": {"TopicArn": "AWS::SNS::Topic"},
    "sqs": {"QueueUrl": "AWS::SQS::Queue"},
    "guardduty": {"DetectorId": "AWS::GuardDuty::Detector"},
    "logs": {"logGroupName": "AWS::Logs::LogGroup"},
    "events": {"Rule": "AWS::Events::Rule"},
    "ssm": {"AutomationExecutionId": "AWS::SSM::AutomationExecution", "CommandId": "AWS::SSM::Command"},
}


def resources_of(signing_name: str, params: Any, answer: Any) -> list[dict[str, str]]:
    keys = _KEYS.get(signing_name, {})
    found: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def add(rtype: str, name: str) -> None:
        if (rtype, name) not in seen and len(found) < 50:
            seen.add((rtype, name))
            found.append({"ResourceType": rtype, "ResourceName": name})

    def walk(value: Any, key: str | None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k != "ResponseMetadata":
                    walk(v, str(k))
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, key)
        elif isinstance(value, str):
            if signing_name == "ec2":
                match = _EC2_ID.match(value)
                if match:
                    add(_EC2_PREFIXES[match.group(1)], value)
            elif key in keys:
                add(keys[key], value)

    walk(params, None)
    walk(answer, None)
    return found


# --------------------------------------------------------------------------
# events the stand-in's CloudFormation engine causes


# resource type -> (event source, create, update, delete, global)
_CFN_CALLS: dict[str, tuple[str, str, str | None, str, bool]] = {
    "AWS::EC2::Instance": ("ec2", "RunInstances", "ModifyInstanceAttribute", "TerminateInstances", False),
    "AWS::EC2::SecurityGroup": ("ec2", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "DeleteSecurityGroup", False),
    "AWS::EC2::VPC": ("ec2", "CreateVpc", "ModifyVpcAttribute", "DeleteVpc", False),
    "AWS::EC2::Subnet": ("ec2", "CreateSubnet", "ModifySubnetAttribute", "DeleteSubnet", False),
    "AWS::EC2::InternetGateway": ("ec2", "CreateInternetGateway", None, "DeleteInternetGateway", False),
    "AWS::EC2::RouteTable": ("ec2", "CreateRouteTable", None, "DeleteRouteTable", False),
    "AWS::EC2::NetworkInterface": ("ec2", "CreateNetworkInterface", "ModifyNetworkInterfaceAttribute", "DeleteNetworkInterface", False),
    "AWS::EC2::Volume": ("ec2", "CreateVolume", "ModifyVolume", "DeleteVolume", False),
    "AWS::IAM::Role": ("iam", "CreateRole", "UpdateRole", "DeleteRole", True),
    "AWS::IAM::Policy": ("iam", "PutRolePolicy", "PutRolePolicy", "DeleteRolePolicy", True),
    "AWS::IAM::ManagedPolicy": ("iam", "CreatePolicy", "CreatePolicyVersion", "DeletePolicy", True),
    "AWS::IAM::InstanceProfile": ("iam", "CreateInstanceProfile", None, "DeleteInstanceProfile", True),
    "AWS::IAM::User": ("iam", "CreateUser", "UpdateUser", "DeleteUser", True),
    "AWS::S3::Bucket": ("s3", "CreateBucket", "PutBucketTagging", "DeleteBucket", False),
    "AWS::S3::BucketPolicy": ("s3", "PutBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", False),
    "AWS::CloudTrail::Trail": ("cloudtrail", "CreateTrail", "UpdateTrail", "DeleteTrail", False),
    "AWS::SNS::Topic": ("sns", "CreateTopic", "SetTopicAttributes", "DeleteTopic", False),
    "AWS::SQS::Queue": ("sqs", "CreateQueue", "SetQueueAttributes", "DeleteQueue", False),
    "AWS::Lambda::Function": ("lambda", "CreateFunction20150331", "UpdateFunctionConfiguration20150331v2", "DeleteFunction20150331", False),
    "AWS::Events::Rule": ("events", "PutRule", "PutRule", "DeleteRule", False),
    "AWS::StepFunctions::StateMachine": ("states", "CreateStateMachine", "UpdateStateMachine", "DeleteStateMachine", False),
    "AWS::GuardDuty::Detector": ("guardduty", "CreateDetector", "UpdateDetector", "DeleteDetector", False),
    "AWS::Logs::LogGroup": ("logs", "CreateLogGroup", "PutRetentionPolicy", "DeleteLogGroup", False),
    "AWS::SSM::Document": ("ssm", "CreateDocument", "UpdateDocument", "DeleteDocument", False),
}
_CFN = "cloudformation.amazonaws.com"
_CFN_STATUS = {
    "CREATE_COMPLETE": 1, "CREATE_FAILED": 1, "UPDATE_COMPLETE": 2, "UPDATE_FAILED": 2,
    "DELETE_COMPLETE": 3, "DELETE_FAILED": 3,
}


def _stack_role_identity(role_arn: str, account: str) -> dict[str, Any]:
    from moto.iam.models import iam_backends

    name = role_arn.split("/")[-1]
    try:
        role_id = iam_backends[account]["aws"].get_role_by_arn(arn=role_arn).id
    except Exception:  # noqa: BLE001
        role_id = "AROA" + hashlib.sha1(role_arn.encode()).hexdigest()[:17].upper()
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:AWSCloudFormation",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/AWSCloudFormation",
        "accountId": account,
        "accessKeyId": "",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": account, "userName": name},
            "attributes": {"creationDate": _iso(datetime.datetime.now(datetime.timezone.utc)), "mfaAuthenticated": "false"},
        },
    }


def record_cloudformation_call(stack: Any, resource_type: str, status: str, physical_id: str | None, reason: str | None) -> None:
    """The call CloudFormation made for a resource reaching ``status``, as the
    stack's role or the caller, ``invokedBy`` CloudFormation."""
    calls = _CFN_CALLS.get(resource_type)
    which = _CFN_STATUS.get(status)
    if calls is None or which is None or stack is None:
        return
    service, operation = calls[0], calls[which]
    if operation is None:
        return
    account, region = stack.account_id, ("us-east-1" if calls[4] else stack.region_name)
    role_arn = getattr(stack, "role_arn", None)
    caller = current_caller()
    if role_arn:
        identity = dict(_stack_role_identity(role_arn, account))
    elif caller is not None:
        identity = dict(caller[0])
    else:
        return  # nobody known to have called (a background StackSets operation without a role)
    identity["invokedBy"] = _CFN
    now = datetime.datetime.now(datetime.timezone.utc)
    event_id = str(uuid.uuid4())
    read_only = False
    source = {"lambda": "lambda", "states": "states", "events": "events"}.get(service, service)
    event: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": _iso(now),
        "eventSource": f"{source}.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": _CFN,
        "userAgent": _CFN,
    }
    if status.endswith("FAILED"):
        event["errorCode"] = "ResourceHandlerFailure"  # the stand-in knows only the stack event's reason
        event["errorMessage"] = reason or ""
    event.update(
        {
            "requestParameters": {"physicalResourceId": physical_id} if physical_id else None,
            "responseElements": None,
            "requestID": str(uuid.uuid4()),
            "eventID": event_id,
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
    )
    resources: list[dict[str, str]] = []
    if physical_id:
        name = physical_id.split("/")[-1] if resource_type.startswith("AWS::IAM::") and physical_id.startswith("arn:") else physical_id
        resources.append({"ResourceType": resource_type, "ResourceName": name})
    record = Record(
        seq=next(_seq),
        time=now,
        event_id=event_id,
        account=account,
        region=region,
        signing_name=service,
        operation=operation,
        identity=identity,
        access_key=identity.get("accessKeyId") or "",
        source_ip=_CFN,
        user_agent=_CFN,
        event=event,
        resources=resources,
        text=json.dumps(event, separators=(",", ":")),
    )
    _add(record)


# --------------------------------------------------------------------------
# LookupEvents


class _CloudTrailError(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__(type(self).__name__, message)


class InvalidLookupAttributesException(_CloudTrailError):
    pass


class InvalidTimeRangeException(_CloudTrailError):
    pass


class InvalidNextTokenException(_CloudTrailError):
    pass


class InvalidEventCategoryException(_CloudTrailError):
    pass


class InvalidMaxResultsException(_CloudTrailError):
    pass


def _timestamp(value: Any, name: str) -> datetime.datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc)
        text = str(value)
        try:
            return datetime.datetime.fromtimestamp(float(text), datetime.timezone.utc)
        except ValueError:
            parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
    except (ValueError, OverflowError, OSError) as exc:
        raise InvalidTimeRangeException(f"{name} is not a valid time: {value}") from exc


def _matches(record: Record, key: str, value: str) -> bool:
    event = build(record)
    if key == "EventId":
        return record.event_id == value
    if key == "EventName":
        return event["eventName"] == value
    if key == "ReadOnly":
        return str(event["readOnly"]).lower() == value.lower()
    if key == "Username":
        return username_of(record.identity) == value
    if key == "ResourceType":
        return any(r["ResourceType"] == value for r in record.resources or ())
    if key == "ResourceName":
        return any(r["ResourceName"] == value for r in record.resources or ())
    if key == "EventSource":
        return event["eventSource"] == value
    if key == "AccessKeyId":
        return record.access_key == value
    raise InvalidLookupAttributesException(f"The attribute key {key} is not valid.")


def _token_digest(params: dict[str, Any]) -> str:
    fixed = {k: params.get(k) for k in ("LookupAttributes", "StartTime", "EndTime", "EventCategory")}
    return hashlib.sha256(json.dumps(fixed, sort_keys=True, default=str).encode()).hexdigest()[:16]


def lookup_events(account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise InvalidLookupAttributesException(
            "You cannot specify more than one lookup attribute; LookupAttributes can contain only one item."
        )
    category = params.get("EventCategory")
    if category is not None and category != "insight":
        raise InvalidEventCategoryException(f"The event category {category} is not valid.")
    start = _timestamp(params.get("StartTime"), "StartTime")
    end = _timestamp(params.get("EndTime"), "EndTime")
    if start and end and start > end:
        raise InvalidTimeRangeException("The start time is after the end time.")
    max_results = params.get("MaxResults")
    if max_results is None:
        max_results = 50
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= 50:
        raise InvalidMaxResultsException("MaxResults must be between 1 and 50.")
    digest = _token_digest(params)
    before: int | None = None
    token = params.get("NextToken")
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
            before = int(decoded["before"])
            if decoded["query"] != digest:
                raise ValueError("parameters changed")
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidNextTokenException(
                "The token is not valid, or was returned for a request with different parameters."
            ) from exc
    if category == "insight":
        return {"Events": []}
    oldest = datetime.datetime.now(datetime.timezone.utc) - HISTORY
    events: list[dict[str, Any]] = []
    next_before: int | None = None
    for record in reversed(records(account, region)):
        if before is not None and record.seq >= before:
            continue
        if record.time < oldest or (start and record.time < start) or (end and record.time > end):
            continue
        if attributes:
            attribute = attributes[0]
            if not _matches(record, str(attribute.get("AttributeKey")), str(attribute.get("AttributeValue"))):
                continue
        if len(events) == max_results:
            next_before = events[-1]["_seq"]
            break
        event = build(record)
        events.append(
            {
                "_seq": record.seq,
                "EventId": record.event_id,
                "EventName": event["eventName"],
                "ReadOnly": "true" if event["readOnly"] else "false",
                "AccessKeyId": record.access_key,
                "EventTime": record.time.timestamp(),
                "EventSource": event["eventSource"],
                "Username": username_of(record.identity),
                "Resources": list(record.resources or []),
                "CloudTrailEvent": record.text,
            }
        )
    for event in events:
        event.pop("_seq")
        if not event["AccessKeyId"]:
            event.pop("AccessKeyId")
        if event["Username"] is None:
            event.pop("Username")
    answer: dict[str, Any] = {"Events": events}
    if next_before is not None:
        answer["NextToken"] = base64.urlsafe_b64encode(
            json.dumps({"before": next_before, "query": digest}).encode()
        ).decode()
    return answer


def _response_lookup_events(self: Any) -> str:
    params = json.loads(self.body or "{}") if isinstance(self.body, (str, bytes)) else {}
    return json.dumps(lookup_events(self.current_account, self.region, params))


# --------------------------------------------------------------------------
# delivery to the trails' buckets


_delivery_lock = threading.RLock()
_trail_state: dict[str, dict[str, Any]] = {}  # trail ARN -> {"started", "cursor", "due"}
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()
_UNIQUE = string.ascii_letters + string.digits


def _trails() -> list[Any]:
    from moto.cloudtrail.models import cloudtrail_backends

    found = []
    for _account, regions in list(cloudtrail_backends.items()):
        for _region, backend in list(regions.items()):
            found.extend(list(backend.trails.values()))
    return found


def _wanted(trail: Any, record: Record) -> bool:
    if record.account != trail.account_id:
        return False
    is_global = record.signing_name in GLOBAL_SIGNING_NAMES
    if is_global and not trail.include_global_service_events:
        return False
    if trail.is_multi_region:
        return True
    return record.region == trail.region_name


def _key(trail: Any, region: str, now: datetime.datetime) -> str:
    prefix = f"{trail.s3_key_prefix.strip('/')}/" if trail.s3_key_prefix else ""
    unique = "".join(secrets.choice(_UNIQUE) for _ in range(16))
    account = trail.account_id
    return (
        f"{prefix}AWSLogs/{account}/CloudTrail/{region}/{now:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{now:%Y%m%dT%H%MZ}_{unique}.json.gz"
    )


def _deliver(trail: Any, state: dict[str, Any]) -> None:
    from moto.s3.models import s3_backends

    started = state["started"]
    cursor = state["cursor"]
    pending: list[Record] = []
    with _stores_lock:  # newest first, back to what the last delivery took
        for (account, _region), store in _stores.items():
            if account != trail.account_id:
                continue
            for r in reversed(store):
                if (r.seq <= cursor) if cursor is not None else (r.time < started):
                    break
                if _wanted(trail, r):
                    pending.append(r)
    if not pending:
        return
    state["cursor"] = max(r.seq for r in pending)
    by_region: dict[str, list[Record]] = {}
    for r in pending:
        by_region.setdefault(r.region, []).append(r)
    backend = s3_backends[trail.account_id]["aws"]
    now = datetime.datetime.now(datetime.timezone.utc)
    for region, found in by_region.items():
        for r in found:
            build(r)
        body = '{"Records":[' + ",".join(r.text or "" for r in found) + "]}"
        data = gzip.compress(body.encode())
        try:
            backend.put_object(trail.bucket_name, _key(trail, region, now), data)
        except Exception:  # noqa: BLE001 - a bucket gone: CloudTrail cannot deliver (it keeps retrying)
            log.warning("CloudTrail: trail %s cannot deliver to bucket %s", trail.trail_name, trail.bucket_name, exc_info=True)
            state["cursor"] = cursor
            return
    trail.status.latest_delivery_time = int(now.timestamp())


def deliver_due(force: bool = False) -> None:
    """Deliver the log files that are due (all pending ones with ``force``)."""
    with _delivery_lock:
        live: set[str] = set()
        for trail in _trails():
            status = trail.status
            if not status.is_logging or status.started is None:
                continue
            arn = trail.arn
            live.add(arn)
            state = _trail_state.get(arn)
            started = status.started if status.started.tzinfo else status.started.replace(tzinfo=datetime.timezone.utc)
            if state is None or state["started"] != started:
                state = _trail_state[arn] = {
                    "started": started,
                    "cursor": None,
                    "due": _clock.now() + _timing.CLOUDTRAIL_DELIVERY_S,
                }
            if force or _clock.now() >= state["due"]:
                state["due"] = _clock.now() + _timing.CLOUDTRAIL_DELIVERY_S
                try:
                    _deliver(trail, state)
                except Exception:  # noqa: BLE001
                    log.exception("CloudTrail: delivery for %s failed", arn)
        for arn in set(_trail_state) - live:  # stopped or deleted: nothing more is delivered
            _trail_state.pop(arn, None)


def _deliveries() -> None:
    while True:
        try:
            deliver_due()
        except Exception:  # noqa: BLE001
            log.exception("CloudTrail: delivery loop")
        interval = _timing.CLOUDTRAIL_DELIVERY_S * _clock.service_scale() / 5
        time.sleep(min(max(interval, 0.05), 5.0))


def _start_deliveries() -> None:
    global _thread
    with _thread_lock:
        if _thread is None:
            _thread = threading.Thread(target=_deliveries, name="irlab-cloudtrail-delivery", daemon=True)
            _thread.start()


def _stop_logging(original: Any) -> Any:
    def stop_logging(self: Any) -> None:
        with _delivery_lock:  # a delivery under way finishes first; none starts after
            original(self)

    stop_logging._irlab_cloudtrail_events = True  # type: ignore[attr-defined]
    return stop_logging


def _start_logging(original: Any) -> Any:
    def start_logging(self: Any) -> None:
        original(self)
        _start_deliveries()

    start_logging._irlab_cloudtrail_events = True  # type: ignore[attr-defined]
    return start_logging


def _delete_trail(original: Any) -> Any:
    def delete_trail(self: Any, name: str) -> None:
        with _delivery_lock:
            original(self, name)

    delete_trail._irlab_cloudtrail_events = True  # type: ignore[attr-defined]
    return delete_trail


def _cfn_event(original: Any) -> Any:
    def _irlab_event(self: Any, logical_id: str, resource_type: str, status: str, physical_id: str | None = None, reason: str | None = None, track: bool = True) -> None:
        original(self, logical_id, resource_type, status, physical_id, reason, track)
        try:
            shown = physical_id
            if shown is None:
                shown = (getattr(self, "_irlab_res", {}).get(logical_id) or {}).get("PhysicalResourceId") or None
            record_cloudformation_call(getattr(self, "_irlab_stack", None), resource_type, status, shown, reason)
        except Exception:  # noqa: BLE001
            log.warning("CloudTrail: could not record CloudFormation's call for %s", logical_id, exc_info=True)

    _irlab_event._irlab_cloudtrail_events = True  # type: ignore[attr-defined]
    return _irlab_event


def apply() -> None:
    from moto.cloudformation.parsing import ResourceMap
    from moto.cloudtrail.models import CloudTrailBackend, TrailStatus
    from moto.cloudtrail.responses import CloudTrailResponse
    from moto.moto_api._internal.models import MotoAPIBackend
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication.__call__, "_irlab_cloudtrail_events", False):
        return
    DomainDispatcherApplication.__call__ = _recording_call(DomainDispatcherApplication.__call__)  # type: ignore[method-assign]
    CloudTrailResponse.lookup_events = _response_lookup_events  # type: ignore[attr-defined]
    TrailStatus.stop_logging = _stop_logging(TrailStatus.stop_logging)  # type: ignore[method-assign]
    TrailStatus.start_logging = _start_logging(TrailStatus.start_logging)  # type: ignore[method-assign]
    CloudTrailBackend.delete_trail = _delete_trail(CloudTrailBackend.delete_trail)  # type: ignore[method-assign]
    ResourceMap._irlab_event = _cfn_event(ResourceMap._irlab_event)  # type: ignore[attr-defined]

    original_reset = MotoAPIBackend.reset

    def reset_all(self: Any) -> None:
        with _delivery_lock:
            original_reset(self)
            reset()

    MotoAPIBackend.reset = reset_all  # type: ignore[method-assign]
