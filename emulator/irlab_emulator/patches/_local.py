"""The stand-in's own endpoint, for engines inside it that call AWS.

Step Functions tasks, SSM Automation steps (and their ``aws:executeScript``
subprocesses) call AWS APIs the way the real services do: over HTTP, through
boto3, against the stand-in itself.  :class:`~irlab_emulator.server.EmulatorServer`
records its address here when it binds; without a server (``MOTO_PORT`` or
moto's default 5000) the address is moto's own convention.

Calls are made in the account of the resource that makes them (moto's
``x-moto-account-id`` header), so executions in another account stay there.
"""

from __future__ import annotations

import os
import re
import threading
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


def client(service: str, region: str, account_id: str | None = None, **config: Any) -> Any:
    """A boto3 client for ``service`` that calls the stand-in itself.

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
            aws_access_key_id="irlab-local",
            aws_secret_access_key="irlab-local",
            config=Config(**options),
        )
    if account_id:

        def _add_account(request: Any, **kwargs: Any) -> None:
            request.headers["x-moto-account-id"] = account_id

        new.meta.events.register_first("before-sign.*.*", _add_account)
    return new


def environment(account_id: str | None = None) -> dict[str, str]:
    """Environment variables that point an AWS SDK in a child process at the
    stand-in (the endpoint, dummy credentials, no profile files); remove the
    parent's other ``AWS_*`` variables (``AWS_PROFILE``) before applying them."""
    env = {
        "AWS_ENDPOINT_URL": endpoint(),
        "AWS_ACCESS_KEY_ID": "irlab-local",
        "AWS_SECRET_ACCESS_KEY": "irlab-local",
        "AWS_EC2_METADATA_DISABLED": "true",
        # not the user's profiles: a child SDK must reach the stand-in only
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if account_id:
        env["IRLAB_ACCOUNT_ID"] = account_id
    return env
