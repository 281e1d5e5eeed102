"""How long waits take in the stand-in: the wait scale.

Two kinds of waiting, both real time by default:

* the waits the playbooks ask for: Step Functions ``Wait`` states and retry
  intervals, SSM Automation ``aws:sleep`` and the polling of
  ``aws:waitForAwsResourceProperty`` (and EventBridge's retry backoff);
* the time AWS itself takes, which the stand-in models (``_timing.py``): an
  instance's ``pending``, a snapshot's ``pending``, the SSM Agent coming
  online, GuardDuty sending a finding to EventBridge.

Tests (and a lab driven against the stand-in) compress both: the wait scale
multiplies every such delay (0.01 turns a 60-second Wait into 0.6 s).

* ``IRLAB_WAIT_SCALE`` (environment, read at start and at each reset) sets
  the default of both; ``IRLAB_SERVICE_SCALE`` sets AWS's delays apart (the
  stand-in's own test suite keeps them short while the playbooks' waits stay
  real);
* ``GET /moto-api/irlab/wait-scale`` shows ``{"scale", "serviceScale"}``;
  ``POST`` with ``{"scale": 0.01}`` sets the wait scale, which AWS's delays
  follow unless set apart; ``{"serviceScale": 0.01}`` (alone or with
  ``scale``) sets them apart, ``{"serviceScale": null}`` makes them follow
  again - a test that races the playbooks at one scale can keep instances,
  snapshots and findings quick; ``POST /moto-api/reset`` restores the
  defaults.

AWS's delays run on a document clock (:func:`now`): document seconds, which
pass ``1 / serviceScale`` times as fast as real ones.  A change of scale applies
at once to what is under way - a snapshot pending at scale 0.5 finishes its
remaining document seconds at the new scale.  Scale 0 makes them (almost)
instant: the clock then runs a million times as fast.

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

# The document clock's fastest rate: scale 0 (instant) runs it this many times
# as fast as real time (three hours of document time in about 10 ms).
MIN_SCALE = 1e-6


def _default() -> float:
    try:
        value = float(os.environ.get("IRLAB_WAIT_SCALE") or 1.0)
    except ValueError:
        value = 1.0
    return value if value >= 0 else 1.0


def _default_service() -> float | None:
    try:
        value = float(os.environ["IRLAB_SERVICE_SCALE"])
    except (KeyError, ValueError):
        return None
    return value if value >= 0 else None


_scale = _default()
_service_scale: float | None = _default_service()  # None: follows _scale
_lock = threading.Lock()
# the document clock: document time _anchor_doc at monotonic time _anchor_real,
# advancing 1 / service scale document seconds per real second since then
_anchor_real = time.monotonic()
_anchor_doc = 0.0


def scale() -> float:
    """The scale of the playbooks' own waits."""
    return _scale


def service_scale() -> float:
    """The scale of AWS's own delays (the wait scale unless set apart)."""
    return _scale if _service_scale is None else _service_scale


def _now_locked() -> float:
    return _anchor_doc + (time.monotonic() - _anchor_real) / max(service_scale(), MIN_SCALE)


def now() -> float:
    """Document time in seconds on the clock of AWS's delays (an arbitrary
    origin: compare, don't show)."""
    with _lock:
        return _now_locked()


_KEEP: Any = object()


def set_scale(value: float | None = None, service: Any = _KEEP) -> None:
    """Set the wait scale (None: keep it) and the scale of AWS's delays: a
    number sets them apart, None makes them follow the wait scale, left out
    they stay as they are."""
    global _scale, _service_scale, _anchor_real, _anchor_doc
    with _lock:
        _anchor_doc = _now_locked()
        _anchor_real = time.monotonic()
        if value is not None:
            _scale = max(float(value), 0.0)
        if service is not _KEEP:
            _service_scale = None if service is None else max(float(service), 0.0)


def seconds(value: float) -> float:
    """``value`` seconds of a playbook's wait, in real seconds."""
    return max(float(value), 0.0) * _scale


def real_until(deadline: float) -> float:
    """Real seconds until document time ``deadline`` at the current service scale (0 if past)."""
    with _lock:
        return max(deadline - _now_locked(), 0.0) * max(service_scale(), MIN_SCALE)


def sleep_until(deadline: float, stop: threading.Event | None = None, poll: float = 0.25) -> bool:
    """Wait until document time ``deadline``, following changes of scale (looks
    again at least every ``poll`` real seconds); True when ``stop`` was set first."""
    while True:
        remaining = real_until(deadline)
        if remaining <= 0:
            return False
        wait = min(remaining, poll)
        if stop is None:
            time.sleep(wait)
        elif stop.wait(wait):
            return True


def sleep(value: float, stop: threading.Event | None = None) -> bool:
    """Wait ``value`` seconds of a playbook's wait; True when ``stop`` was set first."""
    deadline = time.monotonic() + seconds(value)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if stop is None:
            time.sleep(remaining)
        elif stop.wait(remaining):
            return True


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f'"{key}" must be a number >= 0')
    return float(value)


def _response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    json_headers = {"Content-Type": "application/json"}
    if request.method == "POST":
        try:
            length = int(headers.get("Content-Length") or 0)
            body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(body, dict) or not ({"scale", "serviceScale"} & set(body)):
                raise ValueError('expected {"scale": <number>} and/or {"serviceScale": <number> or null}')
            scale_value = _number(body["scale"], "scale") if "scale" in body else None
            service: Any = _KEEP
            if "serviceScale" in body:
                service = None if body["serviceScale"] is None else _number(body["serviceScale"], "serviceScale")
            set_scale(scale_value, service)
        except (TypeError, ValueError) as exc:
            return 400, json_headers, json.dumps({"error": str(exc)})
    return 200, json_headers, json.dumps({"scale": _scale, "serviceScale": service_scale()})


def apply() -> None:
    """Install the route and the reset hook (idempotent)."""
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend

    moto_api_urls.url_paths["{0}/moto-api/irlab/wait-scale"] = _response
    if getattr(MotoAPIBackend.reset, "_irlab_clock", False):
        return
    original_reset = MotoAPIBackend.reset

    def reset(self: Any) -> None:
        set_scale(_default(), _default_service())
        original_reset(self)

    reset._irlab_clock = True  # type: ignore[attr-defined]
    MotoAPIBackend.reset = reset  # type: ignore[method-assign]
