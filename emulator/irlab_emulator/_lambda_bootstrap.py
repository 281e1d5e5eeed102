"""Runs one invocation of a Python Lambda handler (the stand-in's runtime).

Started by ``patches/awslambda.py`` as ``python _lambda_bootstrap.py RESULT_FILE``
with the function's code directory as working directory and the function's
environment.  Reads the invocation on stdin (JSON: ``handler``, ``event``,
``request_id``, ``timeout_ms``, ``invoked_function_arn``, ...), imports the
handler module, calls it with the event and a context object, and writes the
outcome to RESULT_FILE as JSON.  What the handler prints (stdout and stderr)
is the function's log output, as in the AWS Python runtime; records of the
``logging`` module get the runtime's ``[LEVEL]\\ttime\\trequest id\\tmessage``
format, and a multi-line record stays one log event (``\\r`` between lines).

Errors are reported as the Python runtime reports them: ``errorMessage``,
``errorType``, ``requestId``, ``stackTrace`` (``Runtime.ImportModuleError``,
``Runtime.HandlerNotFound``, ``Runtime.MarshalError``, ``Sandbox.Timedout``).
This file must not import the irlab_emulator package: it runs in a child
process with only the interpreter's site-packages (boto3 among them) - or,
when the function's declared Python is not the stand-in's, under that
interpreter, with the stand-in's AWS SDK packages appended to ``sys.path``
(``runtime_path`` of the invocation).  The outcome includes the process's
peak resident memory (``max_rss_kb``, ``VmHWM``) for the REPORT line and the
MemorySize check.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import time
import traceback
from typing import Any

_T0 = time.monotonic()


class _Timeout(BaseException):
    """Raised in the handler when the function's Timeout is reached."""


class LambdaContext:
    """The context object of the Python runtime (the attributes and method
    documented for it)."""

    def __init__(self, spec: dict[str, Any], deadline: float):
        self.function_name = spec["function_name"]
        self.function_version = spec.get("function_version", "$LATEST")
        self.invoked_function_arn = spec["invoked_function_arn"]
        self.memory_limit_in_mb = int(spec.get("memory_size", 128))
        self.aws_request_id = spec["request_id"]
        self.log_group_name = spec.get("log_group_name", "")
        self.log_stream_name = spec.get("log_stream_name", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _RuntimeFormatter(logging.Formatter):
    def __init__(self, request_id: str):
        super().__init__()
        self.request_id = request_id

    def format(self, record: logging.LogRecord) -> str:
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.msecs)
        text = super().format(record).replace("\n", "\r")
        return f"[{record.levelname}]\t{created}.{millis:03d}Z\t{self.request_id}\t{text}"


def _error(error_type: str, message: str, request_id: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def _log_error(payload: dict[str, Any]) -> None:
    lines = [f"[ERROR] {payload['errorType']}: {payload['errorMessage']}"]
    if payload["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in payload["stackTrace"])
    sys.stdout.flush()
    sys.stderr.write("\r".join(lines) + "\n")
    sys.stderr.flush()


def _handler_stack(exc: BaseException) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)
    # drop this bootstrap's own frames, as the runtime does; the code directory
    # shows as /var/task, where Lambda puts a function's code
    frames = [f for f in frames if os.path.abspath(f.filename) != os.path.abspath(__file__)]
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "")
    entries = traceback.format_list(frames)
    return [e.replace(task_root, "/var/task") if task_root else e for e in entries]


def _add_account_header(account_id: str) -> None:
    """Handlers of a function in another account call the stand-in in that account."""
    try:
        import botocore.session
    except ImportError:
        return
    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)

        def add(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account_id

        client.meta.events.register_first("before-sign.*.*", add)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]


def _peak_rss_kb() -> int | None:
    """The largest resident size of this process, in KB: the kernel's
    high-water mark of this program's memory (Linux ``VmHWM``).  Not
    ``getrusage``'s ``ru_maxrss``, which survives ``exec`` and so counts the
    memory of the stand-in that started this process; None without /proc."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def main() -> int:
    result_path = sys.argv[1]
    spec = json.loads(sys.stdin.read())
    request_id = spec["request_id"]
    outcome: dict[str, Any] = {}

    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_RuntimeFormatter(request_id))
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)

    if spec.get("runtime_path"):
        # another interpreter than the stand-in's: the AWS SDK the runtime
        # provides comes after the function's code and the interpreter's own
        sys.path.append(spec["runtime_path"])

    account_id = os.environ.get("IRLAB_ACCOUNT_ID")
    if account_id and account_id != "123456789012":
        _add_account_header(account_id)

    sys.path.insert(0, os.getcwd())
    module_path, _, function_name = spec["handler"].rpartition(".")
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - reported like the runtime does
        if isinstance(exc, SyntaxError):
            payload = _error(
                "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", request_id
            )
        else:
            payload = _error(
                "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", request_id
            )
        _log_error(payload)
        outcome = {"error": payload}
    else:
        fn = getattr(module, function_name, None) if module_path else None
        if not callable(fn):
            payload = _error(
                "Runtime.HandlerNotFound",
                f"Handler '{function_name}' missing on module '{module_name}'",
                request_id,
            )
            _log_error(payload)
            outcome = {"error": payload}
    init_ms = (time.monotonic() - _T0) * 1000
    if not outcome:
        timeout_s = spec["timeout_ms"] / 1000.0
        start = time.monotonic()
        context = LambdaContext(spec, start + timeout_s)

        def on_alarm(signum: int, frame: Any) -> None:
            raise _Timeout()

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            value = fn(spec["event"], context)
            signal.setitimer(signal.ITIMER_REAL, 0)
            try:
                outcome = {"result": json.dumps(value)}
            except (TypeError, ValueError) as exc:
                payload = _error(
                    "Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id
                )
                _log_error(payload)
                outcome = {"error": payload}
        except _Timeout:
            outcome = {"timeout": True}
        except BaseException as exc:  # noqa: BLE001 - SystemExit too, as in the runtime
            signal.setitimer(signal.ITIMER_REAL, 0)
            payload = _error(type(exc).__name__, str(exc), request_id, _handler_stack(exc))
            _log_error(payload)
            outcome = {"error": payload}
        outcome["duration_ms"] = (time.monotonic() - start) * 1000
    else:
        outcome["duration_ms"] = 0.0
    outcome["init_ms"] = init_ms
    max_rss_kb = _peak_rss_kb()
    if max_rss_kb is not None:
        outcome["max_rss_kb"] = max_rss_kb
        outcome["max_rss_mb"] = int(max_rss_kb / 1024)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(result_path, "w", encoding="utf-8") as out:
        json.dump(outcome, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
