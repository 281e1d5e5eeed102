"""Serving moto (all services, as ``moto_server`` does) with the lab's patches.

The socket is bound first (werkzeug alone imports in a fraction of a second);
requests that arrive while moto is still being imported and patched wait for
that to finish, so the first answer is always from the patched stand-in.
"""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


def build_app() -> Any:
    """Apply the patches, then return moto's all-services WSGI application."""
    from .patches import apply_all

    apply_all()
    from moto import backends
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )

    # moto's dispatcher asks, for every request and under its one lock, whether the host is a
    # moto module, by listing moto's package folder and checking each of its ~150 entries on
    # disk: with 30 labs at once, that lock queued every request behind the disk checks. The
    # folder does not change while the server runs, so the list is read once.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    _cache_method_names()
    _cache_attribute_names()
    return DomainDispatcherApplication(create_backend_app)


def _cache_method_names() -> None:
    """moto finds the action a request names among the response class's methods, listed
    with inspect.getmembers on every request (7% of the stand-in's busy time in a class's
    down). The list is kept per class, and listed again if any class of its MRO gained or
    lost an attribute (a patch applied later)."""
    from moto.core import responses

    original = responses.method_names_from_class
    known: dict[Any, tuple[tuple[int, ...], list[str]]] = {}
    lock = threading.Lock()

    def method_names_from_class(clazz: Any) -> list[str]:
        shape = tuple(len(vars(c)) for c in getattr(clazz, "__mro__", (clazz,)))
        with lock:
            hit = known.get(clazz)
        if hit is not None and hit[0] == shape:
            return list(hit[1])
        names = original(clazz)
        with lock:
            known[clazz] = (shape, list(names))
        return names

    responses.method_names_from_class = method_names_from_class  # type: ignore[assignment]


def _cache_attribute_names() -> None:
    """moto's response serializer asks six alias rules anew, for every member of every item it
    writes, which attribute names of the Python object may hold the member: 1,600 times for a
    stack's 40 events, most of the cost of a listing. The answer depends only on the picker,
    the object's class, the member's name and its shape (and the structure it sits in, both
    kept by identity: moto's service models live as long as the server), so it is kept per
    those. An object with its own Meta (aliases of its own) is asked every time."""
    from moto.core import serialize
    from moto.core.utils import MISSING, get_value

    known: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def __call__(self: Any, context: Any) -> Any:
        obj = context.obj
        shape = context.shape
        if "Meta" in getattr(obj, "__dict__", ()):
            keys: tuple[str, ...] = tuple(self.get_possible_keys(context))
        else:
            ident = (
                type(self),
                tuple(self.alias_providers),
                type(obj),
                context.key,
                shape,
                getattr(shape, "parent", None),
            )
            keys = known.get(ident)  # type: ignore[assignment]
            if keys is None:
                keys = tuple(self.get_possible_keys(context))
                if len(known) > 200_000:  # a bound, should shapes ever be made per request
                    known.clear()
                known[ident] = keys
        for possible_key in keys:
            value = get_value(obj, possible_key, MISSING)
            if value is not MISSING:
                break
        else:
            value = None
        key_path = f"{context.key_path}.{context.key}"
        for transform_path, transform in self.response_transformers.items():
            if key_path.endswith(transform_path):
                value = transform(value)
                break
        return value

    __call__.uncached = serialize.AttributePicker.__call__  # type: ignore[attr-defined]
    serialize.AttributePicker.__call__ = __call__  # type: ignore[method-assign]


class _Gate:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.app: Any = None
        self.error: BaseException | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.ready.wait()
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [f"irlab emulator failed to start: {self.error!r}\n".encode()]
        return self.app(environ, start_response)


def _handler_class(gate: _Gate) -> type[WSGIRequestHandler]:
    class RequestHandler(WSGIRequestHandler):
        """moto's MotoRequestHandler behaviour (keep header names with
        underscores, e.g. S3 metadata), with moto imported lazily."""

        def make_environ(self) -> dict[str, Any]:
            environ = super().make_environ()
            gate.ready.wait()
            from moto.core.request import (
                PRESERVED_HEADER_NAMES_ENVIRON_KEY,
                environ_key_for_header,
                should_preserve_original_header_name,
            )

            dashed_keys = {
                environ_key_for_header(name) for name in self.headers.keys() if "_" not in name
            }
            names: dict[str, str] = {}
            values: dict[str, list[str]] = {}
            for name, value in self.headers.items():
                if not should_preserve_original_header_name(name):
                    continue
                key = environ_key_for_header(name)
                if key in dashed_keys:
                    continue
                names.setdefault(key, name)
                values.setdefault(key, []).append(value.replace("\r\n", ""))
            for key, key_values in values.items():
                environ[key] = ",".join(key_values)
            environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
            return environ

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            if self.server.irlab_quiet:  # type: ignore[attr-defined]
                return
            super().log_request(code, size)

    return RequestHandler


class EmulatorServer:
    """The patched moto server in a background thread (``port=0``: any free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, quiet: bool = True):
        self.host = host
        self.requested_port = port
        self.quiet = quiet
        self._gate = _Gate()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.server_port)

    @property
    def endpoint(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    def bind(self) -> None:
        """Open the socket and start answering (requests wait for :meth:`load`)."""
        self._server = make_server(
            self.host,
            self.requested_port,
            self._gate,
            threaded=True,
            request_handler=_handler_class(self._gate),
        )
        self._server.irlab_quiet = self.quiet  # type: ignore[attr-defined]
        from .patches import _local

        _local.set_endpoint(self.endpoint)  # engines inside the stand-in call it here
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="irlab-emulator", daemon=True
        )
        self._thread.start()

    def load(self) -> None:
        """Import and patch moto; release the waiting requests."""
        try:
            self._gate.app = build_app()
        except BaseException as exc:
            self._gate.error = exc
            raise
        finally:
            self._gate.ready.set()

    def start(self) -> EmulatorServer:
        self.bind()
        self.load()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
