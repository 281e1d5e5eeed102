"""IAM enforced on every request made with credentials STS issued to a role.

The engines of the stand-in call it as AWS's do, with the credentials of a
role (the Lambda function's execution role, the state machine's role, the
runbook's ``AutomationAssumeRole``, an EventBridge target's ``RoleArn``:
``_local.service_credentials``), and tests may assume roles with
``sts:AssumeRole``.  Every request signed with such a session's access key is
authorised before moto sees it:

1. the API operation is read from the request as botocore's model describes
   it (``X-Amz-Target``, the query ``Action``, or the REST route), and its
   parameters are parsed with moto's protocol parsers;
2. the Service Authorization Reference (``_iam_sar``) gives the IAM action,
   the resource types of the action and their ARN formats; the ARN
   variables are filled from the parameters (``InstanceId`` ->
   ``${InstanceId}``, an ARN parameter that has the resource type's format,
   and a few service mappings such as EC2's ``Resources`` by id prefix); a
   required resource the request cannot name (the one being created) is
   ``*`` in its ARN;
3. each (action, resource) is evaluated (``_iam_eval``) against the role's
   inline and attached policies (AWS managed ones from moto's copy), its
   permissions boundary, the session policy given to ``AssumeRole``, and the
   resource's own policy where it has one
   (SNS topic, SQS queue, Lambda function, S3 bucket), with the condition keys of the
   request: the global keys (``aws:PrincipalArn``, ``aws:SecureTransport``
   - ``true``, the engines are HTTPS clients in AWS - ``aws:RequestedRegion``
   ...), the resource's tags (``aws:ResourceTag/*``), the request's tags
   (``aws:RequestTag/*``, ``aws:TagKeys``) and the service keys the stand-in
   computes (``ec2:Vpc``, ``ec2:Subnet``, ``ec2:CreateAction``,
   ``iam:PassedToService``, ``ec2:Region``, ``ssm:DocumentVersion``
   is not one of them);
4. EC2's tag-on-create (``TagSpecifications``) also needs ``ec2:CreateTags``
   on each created resource, with ``ec2:CreateAction`` = the creating API
   ("Grant permission to tag Amazon EC2 resources during creation",
   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html);
   giving an instance a role (``AssociateIamInstanceProfile``,
   ``ReplaceIamInstanceProfileAssociation``) also needs ``iam:PassRole`` on the
   instance profile's role, with ``iam:PassedToService`` =
   ``ec2.amazonaws.com`` ("Grant permissions to attach an IAM role to an
   instance",
   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/permission-to-pass-iam-roles.html;
   ``RunInstances`` with a profile is not checked yet);
5. a denied request gets the service's own error (EC2 403
   ``UnauthorizedOperation`` "You are not authorized to perform this
   operation. User: ... is not authorized to perform: ec2:CreateTags on
   resource: ... because no identity-based policy allows the ec2:CreateTags
   action. Encoded authorization failure message: ..."; SNS 403
   ``AuthorizationError``; the other query services 403 ``AccessDenied``;
   JSON services 400 and Lambda 403 ``AccessDeniedException``) and moto
   never sees it.

A condition key that applies to the action but that the stand-in does not
compute, a key that exists nowhere in the reference, an unknown operator or a
multivalued key without a set operator make the request fail with
``IrlabUnevaluablePolicy`` (400) and an ERROR log: the stand-in does not
pretend to have evaluated what it did not.

Requests signed with any other key (irlab's CLI, tests' ``testing`` keys, the
stand-in's internal calls) are administrator calls: nothing is evaluated; so
are sessions of a role that does not exist (moto lets ``AssumeRole`` name any
ARN to switch accounts; irlab's class mode does so locally).  moto's own IAM
authorisation stays off.

Services call :func:`require` during a request to authorise what only they
know (``iam:PassRole`` of the role an automation will assume), and
:func:`current` tells who is calling.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import logging
import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from . import _iam_eval, _iam_sar

log = logging.getLogger("irlab_emulator.iam")

UNEVALUABLE_CODE = "IrlabUnevaluablePolicy"

# --------------------------------------------------------------------------
# sessions


@dataclass
class Session:
    access_key: str
    account: str
    region: str
    role_arn: str
    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
    session_name: str
    user_id: str
    issued: datetime.datetime
    expiration: datetime.datetime
    policy: Any = None  # the session policy given to AssumeRole (Policy), if any
    # an instance profile's credentials (IMDS, ec2_imds.py): the instance's
    # ARN, VPC and private IPv4 address, for ec2:SourceInstanceARN and
    # aws:EC2InstanceSourceVPC / aws:EC2InstanceSourcePrivateIPv4
    source_instance: dict[str, str] | None = None

    def principal(self) -> _iam_eval.Principal:
        return _iam_eval.Principal(account=self.account, arn=self.arn, role_arn=self.role_arn)


def session_of(access_key: str | None) -> Session | None:
    """The role session STS issued ``access_key`` to, or None (an
    administrator call)."""
    if not access_key or not access_key.startswith("ASIA"):
        return None
    from moto.sts.models import sts_backends

    for account_id, partitions in list(sts_backends.items()):
        for backend in list(partitions.values()):
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is None:
                continue
            if role_by_arn(role.role_arn) is None:
                # moto lets AssumeRole name a role that does not exist, to act
                # in another account (irlab's class mode does so locally): such
                # a session is an administrator's, not a role's
                return None
            expiration = role.expiration
            if expiration.tzinfo is None:
                expiration = expiration.replace(tzinfo=datetime.timezone.utc)
            return Session(
                access_key=access_key,
                account=role.account_id,
                region=role.region_name,
                role_arn=role.role_arn,
                arn=role.arn,
                session_name=role.session_name,
                user_id=role.user_id,
                issued=getattr(role, "irlab_issued", None) or (expiration - datetime.timedelta(hours=1)),
                expiration=expiration,
                policy=role.policy or None,
                source_instance=getattr(role, "irlab_source_instance", None),
            )
    return None


def credentials_of(session: Session) -> Any:
    """The session's credentials (``_local.Credentials``), to act as its caller."""
    from moto.sts.models import sts_backends

    from ._local import Credentials

    role = sts_backends[session.account]["aws"].get_assumed_role_from_access_key(session.access_key)
    if role is None:
        return None
    return Credentials(
        role.access_key_id, role.secret_access_key, role.session_token, session.expiration, session.arn, session.role_arn
    )


_current = threading.local()


def current() -> Session | None:
    """The role session of the request being answered in this thread (None:
    an administrator call)."""
    return getattr(_current, "session", None)


# --------------------------------------------------------------------------
# policies of a role and of resources


def _iam_backend(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account]["aws"]


def role_by_arn(role_arn: str) -> Any | None:
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    try:
        return _iam_backend(account).get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - NoSuchEntity: a deleted role has no permissions
        return None


def _managed_document(backend: Any, policy_arn: str, fallback: Any = None) -> Any:
    from . import iam as iam_patch

    iam_patch.ensure_aws_managed_policy(backend, policy_arn)
    policy = backend.managed_policies.get(policy_arn) or fallback
    if policy is None:
        return None
    version = getattr(policy, "default_version_id", None)
    for candidate in getattr(policy, "versions", []) or []:
        if getattr(candidate, "version_id", None) == version or getattr(candidate, "is_default", False):
            return candidate.document
    return getattr(policy, "document", None)


def identity_policies(role: Any) -> list[Any]:
    """The role's inline policies and the documents of its attached managed
    policies (default versions)."""
    backend = _iam_backend(role.account_id)
    documents = list((role.policies or {}).values())
    for policy_arn, policy in list((role.managed_policies or {}).items()):
        document = _managed_document(backend, policy_arn, policy)
        if document is not None:
            documents.append(document)
    return documents


def boundary_of(role: Any) -> Any:
    arn = getattr(role, "permissions_boundary_arn", None)
    if not arn:
        return None
    document = _managed_document(_iam_backend(role.account_id), arn)
    return document if document is not None else {"Statement": []}


def resource_policy(arn: str) -> Any:
    """The resource-based policy of an SNS topic, SQS queue, Lambda
    function or S3 bucket (an object's: its bucket's policy) (None when the
    resource has none or is not one of these)."""
    parts = arn.split(":")
    if len(parts) < 6 or "*" in arn:
        return None
    service, region, account = parts[2], parts[3], parts[4]
    try:
        if service == "s3":
            from .s3 import bucket_policy

            return bucket_policy(parts[5].split("/", 1)[0])
        if service == "sns":
            from moto.sns.models import sns_backends

            return sns_backends[account][region].get_topic(arn).policy
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            return sqs_backends[account][region].get_queue(parts[5]).policy
        if service == "lambda":
            from moto.awslambda.models import lambda_backends

            fn = lambda_backends[account][region].get_function(parts[6] if len(parts) > 6 else parts[5])
            statements = list(getattr(fn.policy, "statements", []) or [])
            return {"Version": "2012-10-17", "Statement": statements} if statements else None
    except Exception:  # noqa: BLE001 - no such resource: no policy (the call itself will fail)
        return None
    return None


# --------------------------------------------------------------------------
# the request


@dataclass
class Call:
    signing_name: str  # IAM prefix as the SigV4 scope names it ("ec2", "states")
    service: str  # botocore's name ("stepfunctions")
    operation: str  # "StartExecution"
    params: dict[str, Any]
    region: str
    protocol: str


_SIGNING_NAMES: dict[str, str] | None = None
_signing_lock = threading.Lock()


def botocore_service(signing_name: str) -> str | None:
    """botocore's service name for a SigV4 signing name (``states`` ->
    ``stepfunctions``), from the models' ``signingName``/``endpointPrefix``."""
    global _SIGNING_NAMES
    from . import _sdk_models

    if signing_name in _sdk_models._service_ids():
        return signing_name
    with _signing_lock:
        if _SIGNING_NAMES is None:
            import gzip
            import os

            from botocore.loaders import Loader

            loader = Loader()
            found: dict[str, str] = {}
            pattern = re.compile(rb'"(?:signingName|endpointPrefix)"\s*:\s*"([^"]+)"')
            for name in loader.list_available_services("service-2"):
                version = loader.determine_latest_version(name, "service-2")
                for root in loader.search_paths:
                    for filename, opener in (("service-2.json", open), ("service-2.json.gz", gzip.open)):
                        path = os.path.join(root, name, version, filename)
                        if os.path.isfile(path):
                            with opener(path, "rb") as f:  # type: ignore[operator]
                                for match in pattern.finditer(f.read(16384)):
                                    found.setdefault(match.group(1).decode(), name)
            _SIGNING_NAMES = found
    return _SIGNING_NAMES.get(signing_name)


def _credential_scope(environ: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(access key, region, signing name) of a SigV4-signed request."""
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
        return None, None, None
    parts = scope.split("/")
    if len(parts) < 5:
        return None, None, None
    return parts[0], parts[2], parts[3]


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def parse_call(environ: dict[str, Any], region: str, signing_name: str) -> Call:
    """The operation and parameters of a request, read with botocore's model
    of the service (raises Unevaluable when the stand-in cannot tell)."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import Request, determine_request_protocol
    from moto.core.utils import get_service_model

    service = botocore_service(signing_name)
    if service is None:
        raise _iam_eval.Unevaluable(f"no service model signs as {signing_name!r}")
    model = get_service_model(service)
    body = _read_body(environ)
    copy = dict(environ)
    copy["wsgi.input"] = io.BytesIO(body)
    request = Request(copy)
    operation_name, uri_params = None, {}
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        operation_name = target.split(".")[-1]
    else:
        values = request.values
        operation_name = values.get("Action") if values else None
        if not operation_name:
            from moto.core.routing import get_service_router

            try:
                operation, uri_params = get_service_router(service).match(request)
                operation_name = operation.name
            except Exception as exc:  # noqa: BLE001 - routing failed: the operation is unknown
                raise _iam_eval.Unevaluable(
                    f"the {service} operation of {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')} is unknown"
                ) from exc
    try:
        operation_model = model.operation_model(operation_name)
    except Exception as exc:  # noqa: BLE001
        raise _iam_eval.Unevaluable(f"{service} has no operation {operation_name!r}") from exc
    try:
        protocol = determine_request_protocol(model, environ.get("CONTENT_TYPE"))
    except NotImplementedError:
        protocol = str(model.protocol)
    parser = PROTOCOL_PARSERS[protocol](operation_model)
    params = parser.parse(
        {
            "method": request.method,
            "values": request.values,
            "headers": request.headers,
            "body": body,
            "url_path": request.path,
            "url_params": uri_params,
        }
    )
    return Call(signing_name, service, operation_model.name, _plain(params), region, protocol)


def _plain(value: Any) -> Any:
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------
# what a call asks for: (action, resource ARN, resource type, extra context)


@dataclass
class Check:
    action: str  # "ec2:CreateTags"
    resource: str  # ARN or "*"
    resource_type: _iam_sar.ResourceType
    extra: dict[str, Any]  # condition keys this check adds (ec2:CreateAction ...)
    tags: dict[str, str] | None = None  # the request's tags for this resource (aws:RequestTag)


# EC2 resource id prefix -> resource type of the reference (for ``Resources``
# of CreateTags/DeleteTags, which holds ids of any type)
EC2_ID_PREFIXES = {
    "i-": "instance",
    "vol-": "volume",
    "snap-": "snapshot",
    "sg-": "security-group",
    "eni-": "network-interface",
    "subnet-": "subnet",
    "vpc-": "vpc",
    "ami-": "image",
    "igw-": "internet-gateway",
    "rtb-": "route-table",
    "acl-": "network-acl",
    "eipalloc-": "elastic-ip",
    "nat-": "natgateway",
    "vpce-": "vpc-endpoint",
    "lt-": "launch-template",
    "key-": "key-pair",
    "fl-": "vpc-flow-log",
    "dopt-": "dhcp-options",
    "pcx-": "vpc-peering-connection",
}

# ARN variable -> request parameters that hold it, where the names differ
# ((service prefix, variable) -> parameter names, first found wins)
PARAMETER_ALIASES: dict[tuple[str, str], tuple[str, ...]] = {
    ("ec2", "SecurityGroupId"): ("Groups", "GroupId", "GroupIds", "SecurityGroupIds", "SecurityGroupId"),
    ("ssm", "AutomationDefinitionName"): ("DocumentName",),
    ("ssm", "VersionId"): ("DocumentVersion",),
    ("iam", "RoleNameWithPath"): ("RoleName",),
    ("sqs", "QueueName"): ("QueueUrl",),
    ("logs", "LogGroupName"): ("logGroupName", "logGroupIdentifier"),
    ("logs", "LogStreamName"): ("logStreamName",),
    ("s3", "BucketName"): ("Bucket",),
    ("s3", "ObjectName"): ("Key",),
    # StartLogging, StopLogging, GetTrail, DeleteTrail... name the trail by `Name` (a name or an ARN).
    ("cloudtrail", "TrailName"): ("Name",),
}
# defaults AWS applies to an omitted parameter that names a resource
PARAMETER_DEFAULTS: dict[tuple[str, str], str] = {("ssm", "VersionId"): "$DEFAULT"}


def _strings(value: Any) -> list[str]:
    out: list[str] = []
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            out.extend(_strings(v))
    elif isinstance(value, list):
        for v in value:
            out.extend(_strings(v))
    return out


def _param(params: dict[str, Any], name: str) -> Any:
    lowered = name.lower()
    for key, value in params.items():
        if key.lower() == lowered:
            return value
    return None


def _variable_values(prefix: str, variable: str, call: Call, account: str) -> list[str] | None:
    if variable == "Partition":
        return ["aws"]
    if variable == "Region":
        return [call.region]
    if variable == "Account":
        return [account]
    names = PARAMETER_ALIASES.get((prefix, variable), ()) + (variable, variable + "s", variable[:1].lower() + variable[1:])
    for name in names:
        value = _param(call.params, name)
        if value is None or value == "" or value == []:
            continue
        values = [str(v) for v in (value if isinstance(value, list) else [value]) if not isinstance(v, dict)]
        if (prefix, variable) == ("sqs", "QueueName"):
            values = [v.rstrip("/").rsplit("/", 1)[-1] for v in values]
        if variable.endswith("Name") and values and all(v.startswith("arn:") for v in values):
            values = [v.rsplit(":", 1)[-1].rsplit("/", 1)[-1] for v in values]
        if (prefix, variable) == ("iam", "RoleNameWithPath"):
            values = [_role_name_with_path(account, v) for v in values]
        if values:
            return values
    if (prefix, variable) in PARAMETER_DEFAULTS:
        return [PARAMETER_DEFAULTS[(prefix, variable)]]
    derived = _derived(prefix, variable, call, account)
    return derived


def _role_name_with_path(account: str, name: str) -> str:
    """A role's ARN holds its path ("arn:aws:iam::123456789012:role/irlab/lab/r/NAME"):
    the role name a request gives, with the path of the role of that name."""
    try:
        role = _iam_backend(account).get_role(name)
    except Exception:  # noqa: BLE001 - no such role: the request fails on its own
        return name
    path = (getattr(role, "path", None) or "/").strip("/")
    return f"{path}/{name}" if path else name


def _elastic_ip_association(call: Call, account: str) -> Any | None:
    """The Elastic IP a DisassociateAddress request's AssociationId names."""
    association = _param(call.params, "AssociationId")
    if not association or not str(association).startswith("eipassoc-"):
        return None
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account][call.region]
    return next((a for a in list(backend.addresses) if getattr(a, "association_id", None) == association), None)


def _elastic_ip_resources(call: Call, account: str) -> tuple[str, str | None] | None:
    """(allocation id, network interface id) of the association a
    DisassociateAddress request names: current, or one already disassociated
    (the call is idempotent)."""
    address = _elastic_ip_association(call, account)
    if address is not None:
        eni = getattr(address, "eni", None)
        return address.allocation_id, eni.id if eni is not None else None
    from .ec2 import DISASSOCIATED

    return DISASSOCIATED.get((account, call.region, str(_param(call.params, "AssociationId"))))


def _derived(prefix: str, variable: str, call: Call, account: str) -> list[str] | None:
    """Variables a request names only indirectly."""
    if prefix == "ssm" and variable == "ParameterNameWithoutLeadingSlash":
        # A parameter is authorised as parameter/NAME without the name's leading slash
        # (GetParameter, GetParameters, DeleteParameter(s), PutParameter...), and
        # GetParametersByPath against the path it asks for, not the parameters it returns
        # ("How Parameter Store authorizes parameter retrieval",
        # https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-retrieval-authorization.html).
        given = _param(call.params, "Path") if call.operation == "GetParametersByPath" else None
        if given is None:
            given = _param(call.params, "Name") or _param(call.params, "Names")
        names = [str(n) for n in (given if isinstance(given, list) else [given]) if n]
        return [n[1:] if n.startswith("/") else n for n in names] or None
    if prefix == "ec2" and variable in ("AllocationId", "NetworkInterfaceId"):
        # DisassociateAddress names the association only; EC2 authorises the
        # Elastic IP and the network interface it is associated with.
        found = _elastic_ip_resources(call, account) if _param(call.params, "AssociationId") else None
        if found is not None:
            allocation_id, eni_id = found
            if variable == "AllocationId":
                return [allocation_id]
            return [eni_id] if eni_id else None
    if prefix == "s3" and variable == "ObjectName":
        # DeleteObjects names its objects in the body: each is authorised as s3:DeleteObject.
        delete = _param(call.params, "Delete") or {}
        keys = [str(o.get("Key")) for o in (delete.get("Objects") or []) if isinstance(o, dict) and o.get("Key")]
        return keys or None
    if prefix == "cloudformation" and variable == "Id":
        # A stack named by its name is authorised as its ARN, stack/NAME/ID: the id
        # is the stack's, which the request does not carry.
        return _cfn_stack_ids(call, account)
    if prefix == "ec2" and variable == "InstanceId":
        association = _param(call.params, "AssociationId")
        if association:
            from moto.ec2.models import ec2_backends

            backend = ec2_backends[account][call.region]
            for instance_id, found in list(backend.iam_instance_profile_associations.items()):
                if getattr(found, "association_id", None) == association:
                    return [instance_id]
    return None


def _cfn_stack_ids(call: Call, account: str) -> list[str] | None:
    """The id part of the ARN of the live stack a CloudFormation call names
    (``StackName``: a name, or an ARN that already carries it)."""
    name = _param(call.params, "StackName")
    if not name or str(name).startswith("arn:"):
        return None
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[account][call.region]
    for stack in list(backend.stacks.values()):
        if stack.name == name and stack.status != "DELETE_COMPLETE":
            return [stack.stack_id.rsplit("/", 1)[-1]]
    return None


def _fill(template: str, values: dict[str, list[str]]) -> list[str]:
    arns = [template]
    for variable, options in values.items():
        arns = [a.replace("${" + variable + "}", option) for a in arns for option in options]
    return arns


# The node ids each Run Command target resource type stands for.
SSM_NODE_PREFIXES = {"instance": "i-", "managed-instance": "mi-"}


def resource_arns(prefix: str, rtype: _iam_sar.ResourceType, call: Call, account: str) -> list[str] | None:
    """The ARNs of the resources of ``rtype`` a call names (None: it names
    none)."""
    regex = _iam_sar.arn_regex(rtype.arn)
    direct = [s for s in _strings(call.params) if s.startswith("arn:") and regex.match(s)]
    if direct:
        return list(dict.fromkeys(direct))
    values: dict[str, list[str]] = {}
    missing = False
    for variable in _iam_sar.arn_variables(rtype.arn):
        found = _variable_values(prefix, variable, call, account)
        if found is None:
            missing = True
            values[variable] = ["*"]
        else:
            values[variable] = found
    if missing and not rtype.required:
        return None
    arns = _fill(rtype.arn, values)
    if prefix == "ssm" and rtype.name in SSM_NODE_PREFIXES:
        # Run Command's targets: an EC2 instance (i-...) is authorised as
        # ec2:...:instance/ID, a hybrid node (mi-...) as ssm:...:managed-instance/ID
        # ("Setting up Run Command", the example policies).
        arns = [a for a in arns if a.rsplit("/", 1)[-1].startswith(SSM_NODE_PREFIXES[rtype.name])]
        return arns or None
    return arns


def _ec2_resources(call: Call, rtypes: list[_iam_sar.ResourceType], account: str) -> list[tuple[_iam_sar.ResourceType, str]]:
    """CreateTags/DeleteTags: each id of ``Resources`` as the resource type
    its prefix names."""
    by_name = {r.name: r for r in rtypes}
    out = []
    for resource_id in _param(call.params, "Resources") or []:
        for id_prefix, type_name in EC2_ID_PREFIXES.items():
            if str(resource_id).startswith(id_prefix) and type_name in by_name:
                rtype = by_name[type_name]
                variable = [v for v in _iam_sar.arn_variables(rtype.arn) if v not in ("Partition", "Region", "Account")][0]
                filled = {"Partition": ["aws"], "Region": [call.region], "Account": [account], variable: [str(resource_id)]}
                out.extend((rtype, arn) for arn in _fill(rtype.arn, filled))
                break
    return out


def request_tags(call: Call, resource_type: str | None = None) -> dict[str, str] | None:
    """The tags a request puts on a resource: EC2's ``TagSpecifications``
    for ``resource_type``, or the ``Tags``/``tags`` of the request (a list
    of Key/Value or a map)."""
    specs = _param(call.params, "TagSpecifications")
    if specs and call.signing_name == "ec2":
        found: dict[str, str] | None = None
        for spec in specs:
            if resource_type is None or str(spec.get("ResourceType")) == resource_type:
                found = found or {}
                for tag in spec.get("Tags") or []:
                    found[str(tag.get("Key"))] = str(tag.get("Value", ""))
        return found
    tags = _param(call.params, "Tags")
    if tags is None:
        return None
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    out = {}
    for tag in tags:
        if isinstance(tag, dict):
            key = tag.get("Key", tag.get("key"))
            if key is not None:
                out[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return out


def checks_for(call: Call, account: str) -> list[Check]:
    """What a call is authorised as."""
    prefix = call.signing_name
    if (prefix, call.operation) in _iam_sar.UNAUTHORISED_OPERATIONS:
        return []
    action_name = _iam_sar.action_for(prefix, call.operation)
    if action_name is None:
        raise _iam_eval.Unevaluable(
            f"the Service Authorization Reference has no {prefix} action for the operation {call.operation}"
        )
    action = f"{prefix}:{action_name}"
    rtypes = _iam_sar.resource_types(prefix, action_name)
    named = [r for r in rtypes if r.name]
    own = next((r for r in rtypes if not r.name), _iam_sar.ResourceType("", False, "*", ()))
    checks: list[Check] = []
    if not named:
        checks.append(Check(action, "*", own, {}, request_tags(call)))
    elif prefix == "ec2" and call.operation in ("CreateTags", "DeleteTags"):
        for rtype, arn in _ec2_resources(call, named, account):
            checks.append(Check(action, arn, rtype, {}, request_tags(call)))
    else:
        for rtype in named:
            arns = resource_arns(prefix, rtype, call, account)
            for arn in arns or []:
                checks.append(Check(action, arn, rtype, {}, request_tags(call, rtype.name)))
        if not checks:
            checks.append(Check(action, "*", own, {}, request_tags(call)))
    if prefix == "ec2" and _param(call.params, "TagSpecifications") and call.operation not in ("CreateTags",):
        checks.extend(_tag_on_create(call, account, action_name))
    if prefix == "ec2" and call.operation in PASSES_INSTANCE_ROLE:
        checks.extend(_passed_instance_roles(call, account))
    return checks


# EC2 calls that give an instance the role of an instance profile: iam:PassRole on it
PASSES_INSTANCE_ROLE = {"AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation"}


def _passed_instance_roles(call: Call, account: str) -> list[Check]:
    spec = _param(call.params, "IamInstanceProfile")
    spec = spec if isinstance(spec, dict) else {}
    name = _param(spec, "Name") or str(_param(spec, "Arn") or "").rsplit("/", 1)[-1]
    try:
        profile = _iam_backend(account).get_instance_profile(name)
    except Exception:  # noqa: BLE001 - no such profile: EC2 answers that itself
        return []
    rtype = next((r for r in _iam_sar.resource_types("iam", "PassRole") if r.name), _iam_sar.ResourceType("", False, "*", ()))
    return [Check("iam:PassRole", role.arn, rtype, {"iam:PassedToService": "ec2.amazonaws.com"}) for role in profile.roles]


def _tag_on_create(call: Call, account: str, action_name: str) -> list[Check]:
    create_tags = [r for r in _iam_sar.resource_types("ec2", "CreateTags") if r.name]
    by_name = {r.name: r for r in create_tags}
    out = []
    for spec in _param(call.params, "TagSpecifications") or []:
        type_name = str(spec.get("ResourceType"))
        rtype = by_name.get(type_name)
        if rtype is None:
            continue
        arn = _fill(
            rtype.arn,
            {"Partition": ["aws"], "Region": [call.region], "Account": [account]}
            | {v: ["*"] for v in _iam_sar.arn_variables(rtype.arn) if v not in ("Partition", "Region", "Account")},
        )[0]
        tags = {str(t.get("Key")): str(t.get("Value", "")) for t in spec.get("Tags") or []}
        out.append(Check("ec2:CreateTags", arn, rtype, {"ec2:CreateAction": action_name}, tags))
    return out


# --------------------------------------------------------------------------
# condition keys

# global keys that are absent from a role session's request made directly
# (not through a VPC endpoint, not on a service's behalf, no organization)
ABSENT_GLOBAL_KEYS = {
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:federatedprovider",
    "aws:multifactorauthage",
    "aws:multifactorauthpresent",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:principalservicenameslist",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceidentity",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpcarn",
    "aws:sourcevpce",
    "aws:vpcsourceip",
    "aws:ec2instancesourceprivateipv4",
    "aws:ec2instancesourcevpc",
    "aws:referer",
    "aws:username",
    "aws:ismcpserviceaction",
}


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag_value(tags: dict[str, str] | None, key: str) -> str | None:
    if tags is None:
        return None
    lowered = key.lower()
    for k, v in tags.items():
        if k.lower() == lowered:
            return v
    return None


def resource_tags(arn: str) -> dict[str, str] | None:
    """Tags of an existing resource (None: no such resource, or not one the
    stand-in reads tags of - then Unevaluable)."""
    parts = arn.split(":", 5)
    if arn == "*" or len(parts) < 6 or parts[5].endswith("*"):
        return None
    service, region, account, rest = parts[2], parts[3], parts[4], parts[5]
    if service == "ec2":
        from moto.ec2.models import ec2_backends

        resource_id = rest.rsplit("/", 1)[-1]
        account = account or _account_of_ec2(region, resource_id)
        if not account:
            return None
        return dict(ec2_backends[account][region].tags.get(resource_id, {}))
    try:
        if service == "sns":
            from moto.sns.models import sns_backends

            return dict(sns_backends[account][region].list_tags_for_resource(arn))
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            return dict(sqs_backends[account][region].get_queue(rest).tags or {})
        if service == "lambda":
            from moto.awslambda.models import lambda_backends

            return dict(lambda_backends[account][region].get_function(arn).tags or {})
        if service == "iam":
            role = role_by_arn(arn)
            return {t["Key"]: t["Value"] for t in (role.tags or [])} if role else None
        if service == "cloudformation" and rest.startswith("stack/"):
            # A stack's tags (aws:ResourceTag on DeleteStack, UpdateStack...): moto keys stacks by ARN.
            from moto.cloudformation.models import cloudformation_backends

            stack = cloudformation_backends[account][region].stacks.get(arn)
            return dict(stack.tags or {}) if stack is not None else None
    except Exception:  # noqa: BLE001 - no such resource
        return None
    raise _iam_eval.Unevaluable(f"the irlab stand-in does not read the tags of {service} resources ({arn})")


def _account_of_ec2(region: str, resource_id: str) -> str | None:
    """Snapshot and image ARNs carry no account: the account holding the id."""
    from moto.ec2.models import ec2_backends

    for account, regions in list(ec2_backends.items()):
        backend = regions.get(region) if hasattr(regions, "get") else None
        if backend is not None and resource_id in backend.tags:
            return account
    return None


def _ec2_vpc(arn: str, key: str) -> Any:
    """``ec2:Vpc`` / ``ec2:Subnet`` (ARNs) of an instance, interface, group or subnet."""
    from moto.ec2.models import ec2_backends

    parts = arn.split(":", 5)
    region, account, rest = parts[3], parts[4], parts[5]
    kind, _, resource_id = rest.partition("/")
    if not account or resource_id in ("", "*"):
        return None
    backend = ec2_backends[account][region]
    vpc_id = subnet_id = None
    try:
        if kind == "network-interface":
            eni = backend.get_network_interface(resource_id)
            subnet_id, vpc_id = eni.subnet.id, eni.subnet.vpc_id
        elif kind == "security-group":
            vpc_id = backend.get_security_group_from_id(resource_id).vpc_id
        elif kind == "subnet":
            subnet = backend.get_subnet(resource_id)
            subnet_id, vpc_id = subnet.id, subnet.vpc_id
        elif kind == "instance":
            instance = backend.get_instance(resource_id)
            subnet_id, vpc_id = instance.subnet_id, instance.vpc_id
        else:
            return None
    except Exception:  # noqa: BLE001 - no such resource
        return None
    chosen = vpc_id if key == "ec2:vpc" else subnet_id
    if not chosen:
        return None
    kind_name = "vpc" if key == "ec2:vpc" else "subnet"
    return f"arn:aws:ec2:{region}:{account}:{kind_name}/{chosen}"


def context_for(session: Session | None, call_region: str, check: Check, extra: dict[str, Any] | None = None) -> _iam_eval.Context:
    """The request context of one check (see the module doc)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    values: dict[str, Any] = {k.lower(): v for k, v in check.extra.items()}
    values.update({k.lower(): v for k, v in (extra or {}).items()})
    if session is not None:
        role = role_by_arn(session.role_arn)
        role_tags = {t["Key"]: t["Value"] for t in (getattr(role, "tags", None) or [])} if role else {}
        values.update(
            {
                "aws:principalarn": session.role_arn,
                "aws:principalaccount": session.account,
                "aws:principaltype": "AssumedRole",
                "aws:userid": session.user_id,
                "aws:principalisawsservice": "false",
                "aws:tokenissuetime": _iso(session.issued),
                "aws:viaawsservice": "false",
                # SNS's legacy key of its default topic policy: set when a
                # service publishes for an account, absent for an IAM
                # principal's own call (which needs an identity policy)
                "aws:sourceowner": None,
                # present only in an EC2 instance's role credentials
                "ec2:sourceinstancearn": (session.source_instance or {}).get("arn"),
                "aws:ec2instancesourcevpc": (session.source_instance or {}).get("vpc"),
                "aws:ec2instancesourceprivateipv4": (session.source_instance or {}).get("ip"),
            }
        )
    values.setdefault("aws:requestedregion", call_region)
    values.setdefault("aws:securetransport", "true")
    values.setdefault("aws:currenttime", _iso(now))
    values.setdefault("aws:epochtime", str(int(now.timestamp())))
    resource_parts = check.resource.split(":")
    if len(resource_parts) >= 6 and resource_parts[4]:
        values.setdefault("aws:resourceaccount", resource_parts[4])
    prefix = check.action.split(":")[0]
    allowed_templates = tuple(check.resource_type.condition_keys)

    def resolve(key: str) -> Any:
        lowered = key.lower()
        if lowered.startswith("aws:principaltag/"):
            return _tag_value(role_tags, key.split("/", 1)[1]) if session is not None else None
        if lowered.startswith(("aws:resourcetag/", f"{prefix}:resourcetag/")):
            if check.resource == "*" or check.resource.endswith("*"):
                return None  # the resource does not exist yet: it has no tags
            return _tag_value(resource_tags(check.resource), key.split("/", 1)[1])
        if lowered.startswith("aws:requesttag/"):
            return _tag_value(check.tags, key.split("/", 1)[1])
        if lowered == "aws:tagkeys":
            return list(check.tags) if check.tags else None
        if lowered in ("ec2:vpc", "ec2:subnet") and prefix == "ec2":
            if not _iam_sar.key_listed(key, allowed_templates):
                return None
            return _ec2_vpc(check.resource, lowered)
        if lowered == "ec2:region" and prefix == "ec2":
            return call_region
        if lowered == "ec2:createaction" and prefix == "ec2":
            return None  # only tag-on-create checks carry it
        if lowered in ABSENT_GLOBAL_KEYS:
            return None
        if _iam_sar.is_global_key(key):
            raise _iam_eval.Unevaluable(f"the irlab stand-in does not model the global condition key {key}")
        key_service = lowered.split(":", 1)[0]
        if key_service == prefix and _iam_sar.key_listed(key, allowed_templates):
            raise _iam_eval.Unevaluable(
                f"the condition key {key} applies to {check.action} on {check.resource_type.name or 'any resource'} "
                "but the irlab stand-in does not compute it"
            )
        if not _iam_sar.key_listed(key, _iam_sar.service_keys(key_service)):
            raise _iam_eval.Unevaluable(f"unknown condition key {key}: the Service Authorization Reference has no such key")
        return None  # a key of another action or service: not in this request

    return _iam_eval.Context(values, resolve=resolve)


# --------------------------------------------------------------------------
# deciding


class AccessDenied(Exception):
    def __init__(self, action: str, resource: str, message: str):
        super().__init__(message)
        self.action = action
        self.resource = resource
        self.message = message


def decide(session: Session, check: Check, region: str, extra: dict[str, Any] | None = None) -> _iam_eval.Decision:
    role = role_by_arn(session.role_arn)
    policies = identity_policies(role) if role is not None else []
    boundary = boundary_of(role) if role is not None else None
    request = _iam_eval.Request(check.action, check.resource, session.principal(), context_for(session, region, check, extra))
    sessions = [session.policy] if session.policy else []
    if check.action == "sts:AssumeRole":
        # the role's trust policy is the resource policy, and it must allow the caller
        target = role_by_arn(check.resource)
        trust = target.assume_role_policy_document if target is not None else None
        if trust is None or not _iam_eval.matching(trust, request, "Allow", resource_based=True):
            denied = _iam_eval.matching(trust, request, "Deny", resource_based=True) if trust else []
            return _iam_eval.Decision(False, explicit=bool(denied), policy_type=_iam_eval.RESOURCE)
        return _iam_eval.evaluate(request, policies, trust, boundary, sessions)
    return _iam_eval.evaluate(request, policies, resource_policy(check.resource), boundary, sessions)


def _shown_action(action: str) -> str:
    # SNS names its actions in capitals in its messages ("SNS:Publish")
    prefix, _, name = action.partition(":")
    return f"SNS:{name}" if prefix == "sns" else action


def authorise(session: Session, checks: list[Check], region: str, extra: dict[str, Any] | None = None) -> None:
    """Raise AccessDenied for the first check the session's policies deny."""
    for check in checks:
        decision = decide(session, check, region, extra)
        if not decision.allowed:
            shown = _shown_action(check.action)
            message = _iam_eval.denied_message(session.arn, shown, check.resource, decision)
            log.info("denied: %s", message)
            raise AccessDenied(check.action, check.resource, message)


def require(action: str, resource: str, extra: dict[str, Any] | None = None, region: str | None = None) -> None:
    """Authorise ``action`` on ``resource`` for the calling session (nothing
    for an administrator call); raises AccessDenied or Unevaluable."""
    session = current()
    if session is None:
        return
    prefix, _, name = action.partition(":")
    rtypes = [r for r in _iam_sar.resource_types(prefix, name) if r.name]
    rtype = next(
        (r for r in rtypes if _iam_sar.arn_regex(r.arn).match(resource)),
        _iam_sar.ResourceType("", False, "*", ()),
    )
    own = next((r for r in _iam_sar.resource_types(prefix, name) if not r.name), None)
    if own is not None:
        rtype = _iam_sar.ResourceType(rtype.name, rtype.required, rtype.arn, rtype.condition_keys + own.condition_keys)
    authorise(session, [Check(action, resource, rtype, dict(extra or {}))], region or session.region)


# --------------------------------------------------------------------------
# a service assuming a role: the trust policy


def trust_context(service: str, session_name: str, source_arn: str | None, source_account: str | None, region: str) -> _iam_eval.Context:
    now = datetime.datetime.now(datetime.timezone.utc)
    values: dict[str, Any] = {
        "aws:principalservicename": service,
        "aws:principalisawsservice": "true",
        "aws:securetransport": "true",
        "aws:requestedregion": region,
        "aws:currenttime": _iso(now),
        "aws:epochtime": str(int(now.timestamp())),
        "sts:rolesessionname": session_name,
        "aws:sourcearn": source_arn,
        "aws:sourceaccount": source_account,
        "aws:sourceowner": source_account,
    }

    def resolve(key: str) -> Any:
        lowered = key.lower()
        if lowered in ABSENT_GLOBAL_KEYS or lowered.startswith(("aws:requesttag/", "aws:principaltag/")):
            return None
        if lowered == "aws:tagkeys" or lowered.startswith("sts:"):
            if _iam_sar.key_listed(key, _iam_sar.service_keys("sts")) or lowered == "aws:tagkeys":
                return None  # a service's AssumeRole passes no external id, tags or source identity
        if _iam_sar.is_global_key(key):
            raise _iam_eval.Unevaluable(f"the irlab stand-in does not model the key {key} when a service assumes a role")
        if lowered.startswith("iam:resourcetag/"):
            return None
        raise _iam_eval.Unevaluable(f"unknown condition key {key} in a trust policy")

    return _iam_eval.Context(values, resolve=resolve)


def check_trust(
    role_arn: str, service: str, session_name: str, source_arn: str | None, source_account: str | None, region: str
) -> None:
    """Raise ``_local.CannotAssume`` unless the role exists and its trust
    policy lets ``service`` do ``sts:AssumeRole``."""
    from ._local import CannotAssume

    role = role_by_arn(role_arn)
    if role is None:
        raise CannotAssume(f"the role {role_arn} does not exist")
    account = role.account_id
    request = _iam_eval.Request(
        "sts:AssumeRole",
        role_arn,
        _iam_eval.Principal(account=account, service=service),
        trust_context(service, session_name, source_arn, source_account, region),
    )
    try:
        decision = _iam_eval.service_allowed(role.assume_role_policy_document or "{}", request)
    except _iam_eval.Unevaluable as exc:
        log.error("IAM: cannot evaluate the trust policy of %s for %s: %s", role_arn, service, exc)
        raise CannotAssume(f"the irlab stand-in cannot evaluate the trust policy of {role_arn}: {exc}") from exc
    if not decision.allowed:
        raise CannotAssume(f"the trust policy of {role_arn} does not let {service} assume it")


# --------------------------------------------------------------------------
# answering


def _encoded(session: Session, check_action: str, resource: str) -> str:
    payload = json.dumps(
        {"allowed": False, "explicitDeny": False, "context": {"principal": {"arn": session.arn}, "action": check_action, "resource": resource}}
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _answer(environ: dict[str, Any], signing_name: str, start_response: Any, status: int, code: str | None, message: str) -> list[bytes]:
    from . import faults

    status, headers, body = faults.error_response(environ, signing_name, "denied", status, message=message, code=code)
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]


def _expired_message() -> str:
    return "The security token included in the request is expired"


def _enforcing_call(original: Any) -> Any:
    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or ""
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if path.startswith("/moto-api"):
            return original(self, environ, start_response)
        access_key, region, signing_name = _credential_scope(environ)
        session = session_of(access_key)
        if session is None or not signing_name:
            _current.session = None
            return original(self, environ, start_response)
        if session.expiration <= datetime.datetime.now(datetime.timezone.utc):
            code = "ExpiredTokenException" if environ.get("HTTP_X_AMZ_TARGET") else "ExpiredToken"
            return _answer(environ, signing_name, start_response, 400, code, _expired_message())
        region = region or session.region
        try:
            call = parse_call(environ, region, signing_name)
            authorise(session, checks_for(call, session.account), region)
        except AccessDenied as denied:
            message = denied.message
            if signing_name == "ec2":
                message = (
                    f"You are not authorized to perform this operation. {message}. "
                    f"Encoded authorization failure message: {_encoded(session, denied.action, denied.resource)}"
                )
            return _answer(environ, signing_name, start_response, 0, None, message)
        except _iam_eval.Unevaluable as exc:
            log.error("IAM: cannot evaluate a request of %s: %s", session.arn, exc)
            return _answer(
                environ, signing_name, start_response, 400, UNEVALUABLE_CODE,
                f"The irlab stand-in cannot evaluate IAM for this request of {session.arn}: {exc}",
            )
        _current.session = session
        try:
            return original(self, environ, start_response)
        finally:
            _current.session = None

    __call__._irlab_iam = True  # type: ignore[attr-defined]
    return __call__


def apply() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if not getattr(DomainDispatcherApplication.__call__, "_irlab_iam", False):
        DomainDispatcherApplication.__call__ = _enforcing_call(DomainDispatcherApplication.__call__)  # type: ignore[method-assign]
