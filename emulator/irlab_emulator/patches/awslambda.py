"""Lambda: Python functions run without Docker; CloudFormation pieces.

moto 5.2.5 runs a function's code only in a Docker container; the lab's
machines have no Docker daemon.  Here a function with a ``python3.x`` runtime
and zip code (``ZipFile``, S3, or CloudFormation's inline ``Code.ZipFile``)
runs in a subprocess, as the Python runtime would run it:

* the interpreter is the declared one (``python3.13`` on PATH) when it works
  and can import the AWS SDK (the stand-in's boto3 is put after its own
  packages); otherwise the stand-in's own, and the REPORT line says so with
  the extra field ``Runtime Emulated: python3.11 for python3.13``;
* ``MemorySize`` is enforced: a watchdog reads the resident memory of the
  handler's process tree every 10 ms and kills the tree (SIGKILL) above the
  limit, as the sandbox does (``Runtime.OutOfMemory``, "Runtime exited with
  error: signal: killed", ``Max Memory Used`` = the limit, ``Status: error``,
  ``Error Type: Runtime.OutOfMemory``); a peak between two looks is caught
  afterwards from the process's high-water mark.  Max Memory Used is the
  handler's own peak (``VmHWM``), not ``getrusage``'s, which survives exec
  and counted the stand-in's memory;
* the code is unpacked once per code hash; the handler gets the event and a
  context object (``function_name``, ``aws_request_id``,
  ``invoked_function_arn``, ``memory_limit_in_mb``, ``log_group_name``,
  ``log_stream_name``, ``get_remaining_time_in_millis()`` counting down the
  function's ``Timeout``); the Timeout is enforced (``Sandbox.Timedout``);
* the environment is the function's variables plus the runtime's reserved
  ones (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``, ``_HANDLER``,
  ``AWS_LAMBDA_LOG_GROUP_NAME`` ...) and ``AWS_ENDPOINT_URL`` = the stand-in,
  with the execution role's credentials as Lambda provides them
  (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` of
  a session ``lambda.amazonaws.com`` assumed, named after the function): the
  handler's AWS calls reach the stand-in and are authorised against the
  role's policies ("Defining Lambda function permissions with an execution
  role", https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html);
* CreateFunction / UpdateFunctionConfiguration (API and CloudFormation) refuse
  a role whose trust policy does not let ``lambda.amazonaws.com`` assume it:
  ``InvalidParameterValueException`` "The role defined for the function
  cannot be assumed by Lambda."; an invocation whose role can no longer be
  assumed fails the same way;
* ``RequestResponse`` returns the handler's JSON result; an exception gives
  ``X-Amz-Function-Error: Unhandled`` and the runtime's
  ``errorMessage``/``errorType``/``requestId``/``stackTrace`` payload;
  ``LogType: Tail`` returns the last 4 KB of the log; ``Event`` runs in the
  background and answers 202; ``DryRun`` runs nothing;
* the output and the ``START``/``END``/``REPORT RequestId`` lines go to the
  function's log group (``LoggingConfig.LogGroup``, else ``/aws/lambda/NAME``)
  in a stream ``YYYY/MM/DD/[$LATEST]<id>`` - when the execution role allows
  it, as Lambda writes them with the role's permissions
  (``logs:CreateLogStream`` and ``logs:PutLogEvents`` on the stream, and
  ``logs:CreateLogGroup`` when the group does not exist; the AWS managed
  ``AWSLambdaBasicExecutionRole`` grants all three).  Without them nothing is
  written and the invocation is unaffected (a WARNING on
  ``irlab_emulator.awslambda`` names the denied action)
  (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html).

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
import signal
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

from . import _cfn, _iam_enforce, _local, _runtime

log = logging.getLogger("irlab_emulator.awslambda")

BOOTSTRAP = Path(__file__).resolve().parents[1] / "_lambda_bootstrap.py"
PYTHON_RUNTIME = re.compile(r"^python3\.\d+$")
TAIL_BYTES = 4096
# Interpreter start and handler import may take this long beyond the Timeout
# before the process is killed (the bootstrap itself enforces the Timeout).
INIT_ALLOWANCE_S = 10.0

# The function's MemorySize is enforced by a watchdog that reads the resident
# memory (RSS) of the handler's process tree every MEMORY_POLL_S and kills the
# tree (SIGKILL) once it exceeds the limit - as the Lambda sandbox's memory
# limit does.  Not RLIMIT_AS: it caps *virtual* address space, which CPython
# reserves far beyond what it uses (each thread reserves an 8 MB stack and
# glibc a 64 MB malloc arena, so four threads take ~300 MB of address space
# for ~14 MB resident), and running out of it raises MemoryError, which a
# handler can catch - neither is how Lambda behaves.
MEMORY_POLL_S = 0.01
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Go's names of the signals (the Lambda runtime's "Runtime exited with error:
# signal: killed")
_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGILL: "illegal instruction",
    signal.SIGFPE: "floating point exception",
}
# Pure-Python packages the Lambda Python runtimes provide (the AWS SDK); an
# interpreter other than the stand-in's finds them here, after its own.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

_code_lock = threading.Lock()
_code_root: Path | None = None
_async_worker = _runtime.Worker("lambda-async", threads=4)
_interpreters: dict[tuple[str, str], tuple[str, str | None]] = {}
_interpreters_lock = threading.Lock()
_runtime_path: str | None = None


class InvalidRequestContentException(LambdaClientError):
    def __init__(self, message: str):
        super().__init__("InvalidRequestContentException", message)


ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


class RoleNotAssumable(LambdaClientError):
    def __init__(self) -> None:
        super().__init__("InvalidParameterValueException", ROLE_NOT_ASSUMABLE)


def execution_credentials(fn: LambdaFunction) -> _local.Credentials:
    """The execution role's session, as Lambda assumes it (raises RoleNotAssumable)."""
    try:
        return _local.service_credentials(
            fn.role,
            "lambda.amazonaws.com",
            session_name=fn.function_name,
            source_arn=fn.function_arn,
            source_account=fn.account_id,
            region=fn.region,
        )
    except _local.CannotAssume as exc:
        log.info("%s: %s", fn.function_name, exc)
        raise RoleNotAssumable() from exc


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


def _environment(
    fn: LambdaFunction, log_group: str, log_stream: str, code_dir: Path, credentials: _local.Credentials
) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(_local.environment(fn.account_id, credentials))
    env.update(
        {
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


def _own_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _runtime_packages() -> str:
    """A directory with (links to) the AWS SDK packages of the stand-in's
    environment, for handlers run by another interpreter."""
    global _runtime_path
    with _code_lock:
        if _runtime_path is not None:
            return _runtime_path
        import atexit
        import importlib.util

        root = Path(tempfile.mkdtemp(prefix="irlab-lambda-runtime-"))
        atexit.register(shutil.rmtree, root, True)
        for name in RUNTIME_PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or not spec.origin:
                continue
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            try:
                (root / source.name).symlink_to(source)
            except OSError:
                (shutil.copytree if source.is_dir() else shutil.copy2)(source, root / source.name)
        _runtime_path = str(root)
        return _runtime_path


_PROBE = (
    "import sys; sys.path.append(sys.argv[1]); import boto3; "
    "print('python%d.%d' % sys.version_info[:2])"
)


def interpreter_for(runtime: str) -> tuple[str, str | None]:
    """The interpreter that runs a function declared with ``runtime``
    (``python3.13``): that Python when it is on PATH, works, and can import
    the AWS SDK; else the stand-in's own.  Returns (executable, note), the
    note saying which version stands in for which (None when it is the
    declared one)."""
    own = _own_runtime()
    if runtime == own:
        return sys.executable, None
    key = (runtime, os.environ.get("PATH", ""))
    with _interpreters_lock:
        if key in _interpreters:
            return _interpreters[key]
    chosen: tuple[str, str | None] = (sys.executable, f"{own} for {runtime}")
    found = shutil.which(runtime)
    if found:
        try:
            probe = subprocess.run(
                [found, "-s", "-c", _PROBE, _runtime_packages()],
                capture_output=True,
                text=True,
                timeout=30,
                env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
            )
            if probe.returncode == 0 and probe.stdout.strip() == runtime:
                chosen = (found, None)
            else:
                log.info(
                    "%s on PATH (%s) cannot run a Lambda handler (%s); %s stands in for it",
                    runtime,
                    found,
                    (probe.stdout + probe.stderr).strip()[-300:],
                    own,
                )
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("%s on PATH (%s) does not start (%s); %s stands in for it", runtime, found, exc, own)
    with _interpreters_lock:
        _interpreters[key] = chosen
    return chosen


_HAVE_PROC = os.path.exists("/proc/self/statm")


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (Linux ``/proc``)."""
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/statm", "rb") as f:
                total += int(f.read().split()[1]) * _PAGE_SIZE
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", "rb") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total


class _MemoryWatch(threading.Thread):
    """Kills the handler's process group once its resident memory exceeds
    ``limit_mb`` (Lambda's MemorySize)."""

    _unsupported_logged = False

    def __init__(self, proc: subprocess.Popen[bytes], limit_mb: int):
        super().__init__(name=f"irlab-lambda-memory-{proc.pid}", daemon=True)
        self.proc = proc
        self.limit = limit_mb * 1024 * 1024
        self.killed = False
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        if not _HAVE_PROC:
            if not _MemoryWatch._unsupported_logged:
                _MemoryWatch._unsupported_logged = True
                log.warning("no /proc on this system: a Lambda function's MemorySize is not enforced")
            return
        while not self._stop_event.is_set() and self.proc.poll() is None:
            rss = _tree_rss(self.proc.pid)
            self.peak = max(self.peak, rss)
            if rss > self.limit:
                self.killed = True
                _kill_group(self.proc)
                return
            self._stop_event.wait(MEMORY_POLL_S)

    def stop(self) -> None:
        self._stop_event.set()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        proc.kill()


def _exit_reason(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        number = -returncode
        try:
            name = _SIGNAL_NAMES.get(signal.Signals(number)) or signal.Signals(number).name.lower()
        except ValueError:
            name = str(number)
        return f"signal: {name}"
    return f"exit status {returncode}"


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
    credentials = execution_credentials(fn)
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
    executable, emulated = interpreter_for(fn.run_time or "")
    if executable != sys.executable:
        spec["runtime_path"] = _runtime_packages()
    memory_mb = int(fn.memory_size or 128)
    fd, result_path = tempfile.mkstemp(prefix="irlab-lambda-result-", suffix=".json")
    os.close(fd)
    outcome: dict[str, Any] = {}
    killed = False
    try:
        spawned = time.monotonic()
        proc = subprocess.Popen(
            [executable, "-u", "-s", str(BOOTSTRAP), result_path],
            cwd=code_dir,
            env=_environment(fn, log_group, log_stream, code_dir, credentials),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole
        )
        watch = _MemoryWatch(proc, memory_mb)
        watch.start()
        try:
            output, _ = proc.communicate(json.dumps(spec).encode("utf-8"), timeout=timeout_s + INIT_ALLOWANCE_S)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            output, _ = proc.communicate()
            killed = True
        finally:
            watch.stop()
            watch.join(1.0)
        elapsed_ms = (time.monotonic() - spawned) * 1000
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
    error_type = ""
    max_memory_mb = max(int(outcome.get("max_rss_mb") or 0), watch.peak // (1024 * 1024))
    # a peak between two looks of the watchdog still counts (the kernel's
    # record of the handler process's largest resident size)
    over_limit = int(outcome.get("max_rss_kb") or 0) > memory_mb * 1024
    if watch.killed or over_limit:
        # the sandbox's memory limit: the runtime is killed, nothing of the
        # handler's survives
        function_error = "Unhandled"
        status, error_type = "error", "Runtime.OutOfMemory"
        max_memory_mb = memory_mb
        message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
        lines.append(f"{message}\n{error_type}")
        payload = json.dumps({"errorType": error_type, "errorMessage": message}).encode("utf-8")
        outcome.setdefault("duration_ms", elapsed_ms)
    elif killed or outcome.get("timeout"):
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
        status, error_type = "error", "Runtime.ExitError"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {_exit_reason(proc.returncode)}"
        lines.append(f"{message}\n{error_type}")
        payload = json.dumps({"errorType": error_type, "errorMessage": message}).encode("utf-8")
        outcome.setdefault("duration_ms", elapsed_ms)

    duration = float(outcome.get("duration_ms") or (timeout_s * 1000 if status == "timeout" else 0.0))
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration))} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {min(max_memory_mb, memory_mb)} MB\t"
        f"Init Duration: {float(outcome.get('init_ms') or 0.0):.2f} ms"
    )
    if emulated:
        # the stand-in's own field: the declared Python is not on this machine
        report += f"\tRuntime Emulated: {emulated}"
    if status:
        report += f"\tStatus: {status}"
    if error_type:
        report += f"\tError Type: {error_type}"
    events = [f"START RequestId: {request_id} Version: {version}", *lines, f"END RequestId: {request_id}", report]
    _write_log(fn, log_group, log_stream, events, started_ms, credentials)
    return Outcome(payload, function_error, "\n".join(events) + "\n", request_id)


def _may_write_log(fn: LambdaFunction, group: str, stream: str, exists: bool, credentials: _local.Credentials) -> bool:
    """Whether the execution role lets Lambda write the log (the actions
    Lambda needs for it, on the group and the stream)."""
    session = _iam_enforce.session_of(credentials.access_key)
    if session is None:
        return False
    base = f"arn:aws:logs:{fn.region}:{fn.account_id}:log-group:{group}"
    wanted = [] if exists else [("logs:CreateLogGroup", base)]
    wanted += [("logs:CreateLogStream", f"{base}:log-stream:{stream}"), ("logs:PutLogEvents", f"{base}:log-stream:{stream}")]
    try:
        for action, resource in wanted:
            prefix, _, name = action.partition(":")
            from . import _iam_sar

            rtypes = [r for r in _iam_sar.resource_types(prefix, name) if r.name] or [_iam_sar.ResourceType("", False, "*", ())]
            check = _iam_enforce.Check(action, resource, rtypes[0], {})
            _iam_enforce.authorise(session, [check], fn.region)
    except _iam_enforce.AccessDenied as denied:
        log.warning("%s: Lambda cannot write the function's log to %s: %s", fn.function_name, group, denied.message)
        return False
    except _iam_enforce._iam_eval.Unevaluable as exc:
        log.error("%s: cannot evaluate the execution role's log permissions: %s", fn.function_name, exc)
        return False
    return True


def _write_log(
    fn: LambdaFunction, group: str, stream: str, lines: list[str], started_ms: int, credentials: _local.Credentials
) -> None:
    from moto.logs.models import logs_backends

    backend = logs_backends[fn.account_id][fn.region]
    if not _may_write_log(fn, group, stream, group in backend.groups, credentials):
        return
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
    try:
        outcome = run(fn, event, request_id)
    except RoleNotAssumable:
        log.warning("asynchronous invocation %s of %s failed: %s", request_id, fn.function_name, ROLE_NOT_ASSUMABLE)
        return
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


def _check_role(backend: Any, role_arn: str | None, name: str) -> None:
    """CreateFunction/UpdateFunctionConfiguration: Lambda must be able to
    assume the execution role (its trust policy), or the call fails."""
    if not role_arn:
        return
    function_arn = f"arn:aws:lambda:{backend.region_name}:{backend.account_id}:function:{name}"
    try:
        _iam_enforce.check_trust(role_arn, "lambda.amazonaws.com", name[:64], function_arn, backend.account_id, backend.region_name)
    except _local.CannotAssume as exc:
        log.info("%s: %s", name, exc)
        raise RoleNotAssumable() from exc


def _patch_role_checks() -> None:
    from moto.awslambda.models import LambdaBackend

    if getattr(LambdaBackend.create_function, "_irlab_iam", False):
        return
    original_create = LambdaBackend.create_function
    original_update = LambdaBackend.update_function_configuration

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        _check_role(self, spec.get("Role"), str(spec.get("FunctionName") or ""))
        return original_create(self, spec)

    def update_function_configuration(self: Any, function_name: str, qualifier: Any, body: dict[str, Any]) -> Any:
        if body.get("Role"):
            _check_role(self, body["Role"], function_name.rsplit(":", 1)[-1])
        return original_update(self, function_name, qualifier, body)

    create_function._irlab_iam = True  # type: ignore[attr-defined]
    LambdaBackend.create_function = create_function  # type: ignore[method-assign]
    LambdaBackend.update_function_configuration = update_function_configuration  # type: ignore[method-assign]


def apply() -> None:
    _runtime.apply()
    _patch_role_checks()
    LambdaFunction.__init__ = _init  # type: ignore[method-assign]
    LambdaFunction.get_configuration = _get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = _update_configuration  # type: ignore[method-assign]
    LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
    _cfn.register(FunctionHandler)
    _cfn.register(PermissionHandler)
    _cfn.register(EventInvokeConfigResource)
