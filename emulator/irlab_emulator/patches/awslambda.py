"""Lambda: Python functions run without Docker; CloudFormation pieces.

moto 5.2.5 runs a function's code only in a Docker container; the lab's
machines have no Docker daemon.  Here a function with a ``python3.x`` runtime
and zip code (``ZipFile``, S3, or CloudFormation's inline ``Code.ZipFile``)
runs in a subprocess of the stand-in's own interpreter (boto3 available),
as the Python runtime would run it:

* the code is unpacked once per code hash; the handler gets the event and a
  context object (``function_name``, ``aws_request_id``,
  ``invoked_function_arn``, ``memory_limit_in_mb``, ``log_group_name``,
  ``log_stream_name``, ``get_remaining_time_in_millis()`` counting down the
  function's ``Timeout``); the Timeout is enforced (``Sandbox.Timedout``);
* the environment is the function's variables plus the runtime's reserved
  ones (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``, ``_HANDLER``,
  ``AWS_LAMBDA_LOG_GROUP_NAME`` ...) and ``AWS_ENDPOINT_URL`` = the stand-in,
  with the credentials ``testing``: the handler's AWS calls reach the stand-in;
* ``RequestResponse`` returns the handler's JSON result; an exception gives
  ``X-Amz-Function-Error: Unhandled`` and the runtime's
  ``errorMessage``/``errorType``/``requestId``/``stackTrace`` payload;
  ``LogType: Tail`` returns the last 4 KB of the log; ``Event`` runs in the
  background and answers 202; ``DryRun`` runs nothing;
* the output and the ``START``/``END``/``REPORT RequestId`` lines go to the
  function's log group (``LoggingConfig.LogGroup``, else ``/aws/lambda/NAME``)
  in a stream ``YYYY/MM/DD/[$LATEST]<id>``.

:func:`invoke_async` is the entry point of asynchronous invokers inside the
stand-in (EventBridge targets).

CloudFormation and configuration:

* ``LoggingConfig`` (``LogFormat``, ``LogGroup``, level settings) is kept,
  returned by ``GetFunction(Configuration)`` (default ``Text`` and
  ``/aws/lambda/NAME``) and updatable;
* ``AWS::Lambda::Function`` takes ``LoggingConfig``, ``Tags``,
  ``Architectures``, ``EphemeralStorage`` besides moto's properties, gets the
  stack tags, updates in place (inline ``Code.ZipFile`` too);
* ``AWS::Lambda::Permission`` gets a statement id (the generated physical
  id) so that deleting the stack removes the statement again;
* ``AWS::Lambda::EventInvokeConfig`` (new) sets the asynchronous invocation
  settings (the stand-in does not retry failed asynchronous invocations).
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction, Permission, lambda_backends
from moto.core.common_models import CloudFormationModel

from . import _cfn, _local, _runtime

log = logging.getLogger("irlab_emulator.awslambda")

BOOTSTRAP = Path(__file__).resolve().parents[1] / "_lambda_bootstrap.py"
PYTHON_RUNTIME = re.compile(r"^python3\.\d+$")
TAIL_BYTES = 4096
# Interpreter start and handler import may take this long beyond the Timeout
# before the process is killed (the bootstrap itself enforces the Timeout).
INIT_ALLOWANCE_S = 10.0

_code_lock = threading.Lock()
_code_root: Path | None = None
_async_worker = _runtime.Worker("lambda-async", threads=4)


class InvalidRequestContentException(LambdaClientError):
    def __init__(self, message: str):
        super().__init__("InvalidRequestContentException", message)


# --------------------------------------------------------------------------
# running a function


def runs_locally(fn: LambdaFunction) -> bool:
    return (
        bool(PYTHON_RUNTIME.match(fn.run_time or ""))
        and getattr(fn, "package_type", "Zip") == "Zip"
        and bool(getattr(fn, "code_bytes", b""))
    )


def log_group_of(fn: LambdaFunction) -> str:
    config = getattr(fn, "irlab_logging_config", None) or {}
    return config.get("LogGroup") or f"/aws/lambda/{fn.function_name}"


def _code_dir(fn: LambdaFunction) -> Path:
    """The function's code, unpacked once per code hash."""
    global _code_root
    digest = hashlib.sha256(fn.code_bytes).hexdigest()
    with _code_lock:
        if _code_root is None:
            _code_root = Path(tempfile.mkdtemp(prefix="irlab-lambda-"))
            import atexit

            atexit.register(shutil.rmtree, _code_root, True)
        target = _code_root / digest
        if not target.exists():
            staging = _code_root / f".{digest}.{uuid.uuid4().hex}"
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(target)
    return target


def _environment(fn: LambdaFunction, log_group: str, log_stream: str, code_dir: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(_local.environment(fn.account_id))
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "_HANDLER": fn.handler or "",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "IRLAB_ACCOUNT_ID": fn.account_id,
            "NO_PROXY": "*",
            "no_proxy": "*",
        }
    )
    return env


class Outcome:
    def __init__(self, payload: bytes, function_error: str | None, log_text: str, request_id: str):
        self.payload = payload
        self.function_error = function_error
        self.log_text = log_text
        self.request_id = request_id

    @property
    def tail(self) -> str:
        data = self.log_text.encode("utf-8")[-TAIL_BYTES:]
        return base64.b64encode(data).decode("ascii")


def run(fn: LambdaFunction, event: Any, request_id: str | None = None) -> Outcome:
    """Run ``fn`` once with ``event`` (a JSON value); write its log."""
    request_id = request_id or str(uuid.uuid4())
    version = str(fn.version)
    log_group = log_group_of(fn)
    now = datetime.datetime.now(datetime.timezone.utc)
    log_stream = f"{now:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"
    started_ms = int(time.time() * 1000)
    code_dir = _code_dir(fn)
    timeout_s = float(fn.timeout or 3)
    spec = {
        "handler": fn.handler or "",
        "event": event,
        "request_id": request_id,
        "timeout_ms": int(timeout_s * 1000),
        "function_name": fn.function_name,
        "function_version": version,
        "invoked_function_arn": fn.function_arn,
        "memory_size": fn.memory_size,
        "log_group_name": log_group,
        "log_stream_name": log_stream,
    }
    fd, result_path = tempfile.mkstemp(prefix="irlab-lambda-result-", suffix=".json")
    os.close(fd)
    outcome: dict[str, Any] = {}
    killed = False
    try:
        proc = subprocess.Popen(
            [sys.executable, "-u", "-s", str(BOOTSTRAP), result_path],
            cwd=code_dir,
            env=_environment(fn, log_group, log_stream, code_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            output, _ = proc.communicate(json.dumps(spec).encode("utf-8"), timeout=timeout_s + INIT_ALLOWANCE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            killed = True
        try:
            text = Path(result_path).read_text(encoding="utf-8")
            outcome = json.loads(text) if text else {}
        except (OSError, ValueError):
            outcome = {}
    finally:
        try:
            os.unlink(result_path)
        except OSError:
            pass
    output_text = output.decode("utf-8", errors="replace")
    lines = [line for line in output_text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()

    function_error: str | None = None
    status = ""
    if killed or outcome.get("timeout"):
        function_error = "Unhandled"
        status = "timeout"
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds")
        payload = json.dumps(
            {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds",
            }
        ).encode("utf-8")
    elif "error" in outcome:
        function_error = "Unhandled"
        payload = json.dumps(outcome["error"]).encode("utf-8")
    elif "result" in outcome:
        payload = outcome["result"].encode("utf-8")
    else:
        function_error = "Unhandled"
        status = "error"
        payload = json.dumps(
            {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {proc.returncode}",
            }
        ).encode("utf-8")

    duration = float(outcome.get("duration_ms") or (timeout_s * 1000 if status == "timeout" else 0.0))
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration))} ms\tMemory Size: {fn.memory_size} MB\t"
        f"Max Memory Used: {int(outcome.get('max_rss_mb') or 0)} MB\t"
        f"Init Duration: {float(outcome.get('init_ms') or 0.0):.2f} ms"
    )
    if status:
        report += f"\tStatus: {status}"
    events = [f"START RequestId: {request_id} Version: {version}", *lines, f"END RequestId: {request_id}", report]
    _write_log(fn, log_group, log_stream, events, started_ms)
    return Outcome(payload, function_error, "\n".join(events) + "\n", request_id)


def _write_log(fn: LambdaFunction, group: str, stream: str, lines: list[str], started_ms: int) -> None:
    from moto.logs.models import logs_backends

    backend = logs_backends[fn.account_id][fn.region]
    try:
        backend.ensure_log_group(group)
        backend.create_log_stream(group, stream)
        end_ms = max(started_ms, int(time.time() * 1000))
        events = []
        for i, line in enumerate(lines):
            stamp = started_ms if i == 0 else end_ms
            events.append({"timestamp": stamp, "message": line})
        backend.put_log_events(group, stream, events)
    except Exception:
        log.exception("could not write the log of %s to %s", fn.function_name, group)


def _parse_event(body: Any) -> Any:
    if body is None or body == b"" or body == "":
        return {}
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidRequestContentException(f"Could not parse request body into json: {exc}") from exc


def _header(headers: Any, name: str, default: str | None = None) -> str | None:
    if not headers:
        return default
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return value
    return default


def invoke_async(fn: LambdaFunction, event: Any) -> str:
    """Queue an asynchronous (``Event``) invocation; returns its request id."""
    request_id = str(uuid.uuid4())
    _async_worker.submit(_run_async, fn, event, request_id)
    return request_id


def _run_async(fn: LambdaFunction, event: Any, request_id: str) -> None:
    outcome = run(fn, event, request_id)
    if outcome.function_error:
        log.warning(
            "asynchronous invocation %s of %s failed: %s",
            request_id,
            fn.function_name,
            outcome.payload.decode("utf-8", errors="replace")[:500],
        )


_orig_invoke = LambdaFunction.invoke


def _invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> Any:
    if not runs_locally(self):
        return _orig_invoke(self, body, request_headers, response_headers)
    event = _parse_event(body)
    invocation_type = _header(request_headers, "x-amz-invocation-type", "RequestResponse")
    response_headers["x-amz-executed-version"] = str(self.version)
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        invoke_async(self, event)
        return b""
    outcome = run(self, event)
    if outcome.function_error:
        response_headers["x-amz-function-error"] = outcome.function_error
    response_headers["x-amz-log-result"] = outcome.tail
    return outcome.payload


# --------------------------------------------------------------------------
# LoggingConfig


def _logging_config(fn: LambdaFunction, config: dict[str, Any] | None) -> dict[str, Any]:
    config = dict(config or {})
    config.setdefault("LogFormat", "Text")
    config.setdefault("LogGroup", f"/aws/lambda/{fn.function_name}")
    if config["LogFormat"] == "JSON":
        config.setdefault("ApplicationLogLevel", "INFO")
        config.setdefault("SystemLogLevel", "INFO")
    return config


_orig_init = LambdaFunction.__init__


def _init(self: LambdaFunction, account_id: str, spec: dict[str, Any], region: str, version: Any = 1) -> None:
    _orig_init(self, account_id, spec, region, version)
    self.irlab_logging_config = _logging_config(self, spec.get("LoggingConfig"))
    self.logs_group_name = self.irlab_logging_config["LogGroup"]


_orig_get_configuration = LambdaFunction.get_configuration


def _get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
    config = _orig_get_configuration(self, on_create)
    if not hasattr(self, "irlab_logging_config"):
        self.irlab_logging_config = _logging_config(self, None)
    config["LoggingConfig"] = dict(self.irlab_logging_config)
    return config


_orig_update_configuration = LambdaFunction.update_configuration


def _update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
    if "LoggingConfig" in config_updates:
        merged = dict(getattr(self, "irlab_logging_config", {}) or {})
        merged.update(config_updates["LoggingConfig"] or {})
        self.irlab_logging_config = _logging_config(self, merged)
        self.logs_group_name = self.irlab_logging_config["LogGroup"]
    return _orig_update_configuration(self, config_updates)


# --------------------------------------------------------------------------
# CloudFormation


CONFIG_PROPERTIES = (
    "Description",
    "Handler",
    "MemorySize",
    "Role",
    "Runtime",
    "Timeout",
    "VpcConfig",
    "Environment",
    "Layers",
    "LoggingConfig",
)


def _code_spec(code: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's inline ``ZipFile`` is source text: AWS stores it as
    ``index`` (plus the ``cfnresponse`` module for Node.js/Python) in a zip."""
    code = copy.deepcopy(code)
    if "ZipFile" in code:
        code["ZipFile"] = base64.b64encode(LambdaFunction._create_zipfile_from_plaintext_code(code["ZipFile"]))
    return code


class FunctionHandler(LambdaFunction):
    """AWS::Lambda::Function"""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LambdaFunction:
        props = _cfn.props_of(cloudformation_json)
        spec: dict[str, Any] = {
            "FunctionName": resource_name,
            "Code": _code_spec(props["Code"]),
            "Handler": props.get("Handler"),
            "Role": props["Role"],
            "Runtime": props.get("Runtime"),
        }
        for key in (
            "Description",
            "MemorySize",
            "Publish",
            "Timeout",
            "VpcConfig",
            "Environment",
            "ReservedConcurrentExecutions",
            "LoggingConfig",
            "Architectures",
            "EphemeralStorage",
            "Layers",
            "PackageType",
            "KmsKeyArn",
            "TracingConfig",
        ):
            if key in props:
                spec[key] = copy.deepcopy(props[key])
        for key in ("MemorySize", "Timeout"):
            if key in spec:
                spec[key] = int(spec[key])
        tags = _cfn.tag_list_to_dict(props.get("Tags"))
        if tags:
            spec["Tags"] = tags
        return lambda_backends[account_id][region_name].create_function(spec)

    @classmethod
    def irlab_update(
        cls, fn: LambdaFunction, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> LambdaFunction:
        if old_props.get("FunctionName") != new_props.get("FunctionName") or old_props.get("PackageType") != new_props.get("PackageType"):
            raise _cfn.NeedsReplacement()
        updates: dict[str, Any] = {}
        for key in CONFIG_PROPERTIES:
            if old_props.get(key) != new_props.get(key):
                value = copy.deepcopy(new_props.get(key))
                if key == "Environment" and value is None:
                    value = {"Variables": {}}
                if key in ("MemorySize", "Timeout") and value is not None:
                    value = int(value)
                if value is not None or key == "Environment":
                    updates[key] = value
        if updates:
            fn.update_configuration(updates)
        if old_props.get("Code") != new_props.get("Code"):
            fn.update_function_code(_code_spec(new_props["Code"]))
        backend = lambda_backends[account_id][region_name]
        old_tags = _cfn.tag_list_to_dict(old_props.get("Tags"))
        new_tags = _cfn.tag_list_to_dict(new_props.get("Tags"))
        gone = [k for k in old_tags if k not in new_tags]
        if gone:
            backend.untag_resource(fn.function_arn, gone)
        if new_tags:
            backend.tag_resource(fn.function_arn, new_tags)
        return fn

    @classmethod
    def irlab_delete(cls, fn: LambdaFunction, props: dict[str, Any], account_id: str, region_name: str) -> None:
        lambda_backends[account_id][region_name].delete_function(fn.function_name)

    @classmethod
    def irlab_tag(cls, fn: LambdaFunction, tags: dict[str, str], account_id: str, region_name: str) -> None:
        new = {k: v for k, v in tags.items() if k.startswith("aws:") or k not in (fn.tags or {})}
        if new:
            lambda_backends[account_id][region_name].tag_resource(fn.function_arn, new)


class EventInvokeConfigResource(CloudFormationModel):
    """AWS::Lambda::EventInvokeConfig (asynchronous invocation settings).

    Kept and returned by GetFunctionEventInvokeConfig; the stand-in makes no
    retries of failed asynchronous invocations whatever MaximumRetryAttempts
    says (it behaves as with 0)."""

    KEYS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")

    def __init__(self, function_name: str, qualifier: str):
        self.function_name = function_name
        self.qualifier = qualifier

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.function_name}:{self.qualifier}"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def _config(cls, props: dict[str, Any]) -> dict[str, Any]:
        config = {k: copy.deepcopy(props[k]) for k in cls.KEYS if k in props}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in config:
                config[key] = int(config[key])
        return config

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> EventInvokeConfigResource:
        props = _cfn.props_of(cloudformation_json)
        backend = lambda_backends[account_id][region_name]
        backend.put_function_event_invoke_config(props["FunctionName"], cls._config(props))
        return cls(props["FunctionName"], str(props.get("Qualifier") or "$LATEST"))

    @classmethod
    def irlab_update(
        cls, resource: EventInvokeConfigResource, old_props: dict[str, Any], new_props: dict[str, Any], logical_id: str, account_id: str, region_name: str
    ) -> EventInvokeConfigResource:
        for key in ("FunctionName", "Qualifier"):
            if old_props.get(key) != new_props.get(key):
                raise _cfn.NeedsReplacement()
        fn = lambda_backends[account_id][region_name].get_function(resource.function_name)
        fn.event_invoke_config = []
        lambda_backends[account_id][region_name].put_function_event_invoke_config(
            resource.function_name, cls._config(new_props)
        )
        return resource

    @classmethod
    def irlab_delete(cls, resource: EventInvokeConfigResource, props: dict[str, Any], account_id: str, region_name: str) -> None:
        try:
            fn = lambda_backends[account_id][region_name].get_function(resource.function_name)
        except Exception:  # noqa: BLE001 - the function is gone, and its config with it
            return
        fn.event_invoke_config = []


class PermissionHandler(Permission):
    """AWS::Lambda::Permission (Ref: the statement id)."""

    def __init__(self, region: str, function_name: str, sid: str):
        super().__init__(region)
        self.function_name = function_name
        self.sid = sid

    @property
    def physical_resource_id(self) -> str:
        return self.sid

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> PermissionHandler:
        props = dict(_cfn.props_of(cloudformation_json))
        props.setdefault("StatementId", resource_name)
        backend = lambda_backends[account_id][region_name]
        fn = backend.get_function(props["FunctionName"])
        fn.policy.add_statement(raw=json.dumps(props))
        return cls(region_name, props["FunctionName"], props["StatementId"])

    @classmethod
    def irlab_update(cls, resource: Any, old_props: dict, new_props: dict, logical_id: str, account_id: str, region_name: str) -> Any:
        raise _cfn.NeedsReplacement()

    @classmethod
    def irlab_delete(cls, resource: PermissionHandler, props: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = lambda_backends[account_id][region_name]
        try:
            fn = backend.get_function(resource.function_name)
        except Exception:
            return  # the function is gone, and its policy with it
        fn.policy.del_statement(resource.sid)


def apply() -> None:
    _runtime.apply()
    LambdaFunction.__init__ = _init  # type: ignore[method-assign]
    LambdaFunction.get_configuration = _get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = _update_configuration  # type: ignore[method-assign]
    LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
    _cfn.register(FunctionHandler)
    _cfn.register(PermissionHandler)
    _cfn.register(EventInvokeConfigResource)
