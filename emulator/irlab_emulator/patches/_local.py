"""The stand-in's own endpoint, for engines inside it that call AWS.

Step Functions tasks, SSM Automation steps (and their ``aws:executeScript``
subprocesses) call AWS APIs the way the real services do: over HTTP, through
boto3, against the stand-in itself.  :class:`~irlab_emulator.server.EmulatorServer`
records its address here when it binds; without a server (``MOTO_PORT`` or
moto's default 5000) the address is moto's own convention.

Calls are made in the account of the resource that makes them (moto's
``x-moto-account-id`` header), so executions in another account stay there.

Engines call with the credentials of their role, obtained as the AWS service
obtains them: :func:`service_credentials` has the service principal
(``lambda.amazonaws.com``, ``states.amazonaws.com``, ``ssm.amazonaws.com``,
``events.amazonaws.com``) assume the role through moto's STS backend
in-process, after the role's trust policy has been evaluated for that
principal (with ``aws:SourceAccount``/``aws:SourceArn`` as the service
supplies them); it raises :class:`CannotAssume` when the trust policy does not
let the service assume the role, or the role does not exist.  The stand-in
then authorises every request made with those credentials against the role's
policies (``_iam_enforce``).  Without credentials a client makes
administrator calls (dummy keys ``irlab-local``), which are not evaluated.
"""

from __future__ import annotations

import datetime
import os
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any

_endpoint: str | None = None
_session: Any = None
_session_lock = threading.Lock()  # creating clients from one session is not thread-safe

_ACCOUNT_IN_ARN = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:(\d{12}):")


def set_endpoint(url: str) -> None:
    global _endpoint
    _endpoint = url.rstrip("/")


def endpoint() -> str:
    if _endpoint:
        return _endpoint
    return f"http://127.0.0.1:{os.environ.get('MOTO_PORT') or '5000'}"


def account_of(arn: str | None) -> str | None:
    """The account id in an ARN (``None`` when there is none)."""
    match = _ACCOUNT_IN_ARN.match(arn or "")
    return match.group(1) if match else None


def _isolated_session() -> Any:
    """A boto3 session that ignores the user's AWS profile and files (an
    ``AWS_PROFILE`` naming a profile this machine lacks would fail every
    client)."""
    import tempfile

    import boto3
    import botocore.session

    fd, config_file = tempfile.mkstemp(prefix="irlab-emulator-aws-config-")
    with os.fdopen(fd, "w") as f:
        f.write("[default]\n")
    core = botocore.session.Session()
    core.set_config_variable("config_file", config_file)
    core.set_config_variable("credentials_file", os.devnull)
    core.set_config_variable("profile", "default")
    try:
        core.get_scoped_config()  # read (and cache) the file now
    finally:
        os.unlink(config_file)
    return boto3.session.Session(botocore_session=core)


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials of a role session issued by the stand-in's STS."""

    access_key: str
    secret_key: str
    token: str
    expiration: datetime.datetime
    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
    role_arn: str


class CannotAssume(Exception):
    """The service principal may not assume the role (its trust policy does
    not allow it, or the role does not exist)."""


_sessions: dict[tuple[str, str, str], tuple[Credentials, Any]] = {}
_sessions_lock = threading.Lock()
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")
REFRESH_BEFORE = datetime.timedelta(minutes=5)


def service_credentials(
    role_arn: str,
    service: str,
    session_name: str | None = None,
    source_arn: str | None = None,
    source_account: str | None = None,
    region: str = "us-east-1",
) -> Credentials:
    """Credentials of ``role_arn`` as the service principal ``service``
    obtains them (STS AssumeRole after the trust policy allowed it), reused
    until five minutes before they expire (one hour) while the stand-in still
    knows them.  Raises :class:`CannotAssume`."""
    from moto.sts.models import sts_backends

    from . import _iam_enforce

    name = _SESSION_NAME.sub("-", session_name or uuid.uuid4().hex)[:64]
    if len(name) < 2:
        name = (name + "--")[:2]
    _iam_enforce.check_trust(role_arn, service, name, source_arn, source_account, region)
    account = account_of(role_arn) or source_account or "123456789012"
    key = (role_arn, service, session_name or "")
    now = datetime.datetime.now(datetime.timezone.utc)
    backend = sts_backends[account]["aws"]
    with _sessions_lock:
        cached = _sessions.get(key)
        if cached is not None:
            credentials, assumed = cached
            if credentials.expiration - REFRESH_BEFORE > now and assumed in backend.assumed_roles:
                return credentials
        assumed = backend.assume_role(
            region_name=region,
            role_session_name=name,
            role_arn=role_arn,
            policy=None,
            duration=3600,
            external_id=None,
        )
        assumed.irlab_issued = now
        expiration = assumed.expiration
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=datetime.timezone.utc)
        credentials = Credentials(
            assumed.access_key_id, assumed.secret_access_key, assumed.session_token, expiration, assumed.arn, role_arn
        )
        _sessions[key] = (credentials, assumed)
        return credentials


def client(
    service: str, region: str, account_id: str | None = None, credentials: Credentials | None = None, **config: Any
) -> Any:
    """A boto3 client for ``service`` that calls the stand-in itself, with
    ``credentials`` (a role session: its calls are authorised) or as an
    administrator.

    ``config`` are :class:`botocore.config.Config` options; by default no
    retries (the engines have their own retry semantics)."""
    import boto3
    from botocore.config import Config

    global _session
    options: dict[str, Any] = {"retries": {"max_attempts": 0, "total_max_attempts": 1}}
    options.update(config)
    with _session_lock:
        if _session is None:
            _session = _isolated_session()
        new = _session.client(
            service,
            endpoint_url=endpoint(),
            region_name=region,
            aws_access_key_id=credentials.access_key if credentials else "irlab-local",
            aws_secret_access_key=credentials.secret_key if credentials else "irlab-local",
            aws_session_token=credentials.token if credentials else None,
            config=Config(**options),
        )
    if account_id:

        def _add_account(request: Any, **kwargs: Any) -> None:
            request.headers["x-moto-account-id"] = account_id

        new.meta.events.register_first("before-sign.*.*", _add_account)
    return new


def environment(account_id: str | None = None, credentials: Credentials | None = None) -> dict[str, str]:
    """Environment variables that point an AWS SDK in a child process at the
    stand-in (the endpoint, the role session's credentials - or dummy ones -,
    no profile files); remove the parent's other ``AWS_*`` variables
    (``AWS_PROFILE``) before applying them."""
    env = {
        "AWS_ENDPOINT_URL": endpoint(),
        "AWS_ACCESS_KEY_ID": credentials.access_key if credentials else "irlab-local",
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key if credentials else "irlab-local",
        "AWS_EC2_METADATA_DISABLED": "true",
        # not the user's profiles: a child SDK must reach the stand-in only
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if credentials:
        env["AWS_SESSION_TOKEN"] = credentials.token
    if account_id:
        env["IRLAB_ACCOUNT_ID"] = account_id
    return env
