"""Process-wide runtime shared by the patch modules that do work in the
background (EventBridge target delivery, asynchronous Lambda invocations).

* :class:`Worker` - a small pool of daemon threads that counts the work it
  has queued or running; :func:`wait_idle` waits until every worker is idle
  (``GET /moto-api/irlab/idle``).
* ``POST /moto-api/reset`` bumps :func:`generation`: work queued before the
  reset is dropped instead of touching the fresh backends.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("irlab_emulator.runtime")

_generation = 0
_lock = threading.Lock()
_idle = threading.Condition(_lock)
_outstanding = 0  # queued or running tasks of every worker


def generation() -> int:
    return _generation


def bump_generation() -> None:
    global _generation
    with _lock:
        _generation += 1


def _task_done() -> None:
    global _outstanding
    with _idle:
        _outstanding -= 1
        if _outstanding == 0:
            _idle.notify_all()


def wait_idle(timeout: float = 60.0) -> bool:
    """Wait until no background task is queued or running; True when idle."""
    deadline = time.monotonic() + timeout
    with _idle:
        while _outstanding:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            _idle.wait(remaining)
    return True


def outstanding() -> int:
    with _lock:
        return _outstanding


class Worker:
    """Daemon threads running submitted callables in submission order (one
    thread keeps strict order; more run tasks concurrently)."""

    def __init__(self, name: str, threads: int = 1):
        self.name = name
        self.threads = threads
        self._queue: queue.Queue[tuple[int, Callable[..., Any], tuple[Any, ...]]] = queue.Queue()
        self._started = False
        self._start_lock = threading.Lock()

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            for i in range(self.threads):
                threading.Thread(target=self._run, name=f"irlab-{self.name}-{i}", daemon=True).start()
            self._started = True

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        global _outstanding
        self._start()
        with _lock:
            _outstanding += 1
            gen = _generation
        self._queue.put((gen, fn, args))

    def _run(self) -> None:
        while True:
            gen, fn, args = self._queue.get()
            try:
                if gen == _generation:
                    fn(*args)
                else:
                    log.info("%s: dropped work queued before a reset", self.name)
            except Exception:
                log.exception("%s: background task failed", self.name)
            finally:
                _task_done()


# ---------------------------------------------------------------- moto-api


def _idle_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """``GET /moto-api/irlab/idle?timeout=SECONDS`` waits until the stand-in has
    no background work (event deliveries, asynchronous Lambda invocations)."""
    from urllib.parse import parse_qs, urlparse

    try:
        timeout = float(parse_qs(urlparse(full_url).query).get("timeout", ["30"])[0])
    except ValueError:
        timeout = 30.0
    idle = wait_idle(min(max(timeout, 0.0), 600.0))
    body = json.dumps({"idle": idle, "outstanding": outstanding()})
    return (200 if idle else 408), {"Content-Type": "application/json"}, body


def apply() -> None:
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend

    moto_api_urls.url_paths["{0}/moto-api/irlab/idle"] = _idle_response

    if not getattr(MotoAPIBackend.reset, "_irlab", False):
        original_reset = MotoAPIBackend.reset

        def reset(self: Any) -> None:
            bump_generation()
            original_reset(self)

        reset._irlab = True  # type: ignore[attr-defined]
        MotoAPIBackend.reset = reset  # type: ignore[method-assign]
