"""How long the playbook engines' own waits take.

Step Functions ``Wait`` states and retry intervals, SSM Automation
``aws:sleep`` and the polling of ``aws:waitForAwsResourceProperty`` really wait
- in real time by default.  Tests (and a lab driven against the stand-in) can
compress them: the wait scale multiplies every such delay (0.01 turns a
60-second Wait into 0.6 s).

* ``IRLAB_WAIT_SCALE`` (environment, read at start) sets the default;
* ``GET /moto-api/irlab/wait-scale`` shows it, ``POST`` with ``{"scale": 0.01}``
  changes it; ``POST /moto-api/reset`` restores the default.

The ``timeoutSeconds`` of the SSM steps that wait (sleep,
waitForAwsResourceProperty, changeInstanceState) are scaled the same way, so
a compressed poll still times out where it would have in real time; the
timeouts of steps that do real work (scripts, API calls) are not.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any


def _default() -> float:
    try:
        value = float(os.environ.get("IRLAB_WAIT_SCALE") or 1.0)
    except ValueError:
        value = 1.0
    return value if value >= 0 else 1.0


_scale = _default()


def scale() -> float:
    return _scale


def set_scale(value: float) -> None:
    global _scale
    _scale = max(float(value), 0.0)


def seconds(value: float) -> float:
    """``value`` seconds of the document, in real seconds."""
    return max(float(value), 0.0) * _scale


def sleep(value: float, stop: threading.Event | None = None) -> bool:
    """Wait ``value`` document seconds; True when ``stop`` was set first."""
    deadline = time.monotonic() + seconds(value)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if stop is None:
            time.sleep(remaining)
        elif stop.wait(remaining):
            return True


def _response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    if request.method == "POST":
        try:
            length = int(headers.get("Content-Length") or 0)
            body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
            set_scale(float(body["scale"]))
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"Content-Type": "application/json"}, json.dumps({"error": f"expected {{\"scale\": <number>}}: {exc}"})
    return 200, {"Content-Type": "application/json"}, json.dumps({"scale": _scale})


def apply() -> None:
    """Install the route and the reset hook (idempotent)."""
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend

    moto_api_urls.url_paths["{0}/moto-api/irlab/wait-scale"] = _response
    if getattr(MotoAPIBackend.reset, "_irlab_clock", False):
        return
    original_reset = MotoAPIBackend.reset

    def reset(self: Any) -> None:
        set_scale(_default())
        original_reset(self)

    reset._irlab_clock = True  # type: ignore[attr-defined]
    MotoAPIBackend.reset = reset  # type: ignore[method-assign]
