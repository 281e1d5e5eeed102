"""``python -m irlab_emulator --host 127.0.0.1 --port 4566``

Serves moto (every service, like ``moto_server``) with the lab's patches, in
the foreground, until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from . import __version__


def _moto_version() -> str:
    try:
        from importlib.metadata import version

        return version("moto")
    except Exception:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m irlab_emulator",
        description="irlab's local AWS stand-in: moto's server with the lab's patches.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4566, help="port to bind (default 4566)")
    parser.add_argument(
        "--verbose", action="store_true", help="log every request (default: quiet)"
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"irlab-emulator {__version__} (moto {_moto_version()})",
    )
    args = parser.parse_args(argv)

    # moto builds some URLs (e.g. SQS queue URLs) from MOTO_PORT
    os.environ.setdefault("MOTO_PORT", str(args.port))

    from .server import EmulatorServer

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    server = EmulatorServer(args.host, args.port, quiet=not args.verbose)
    try:
        server.bind()
    except OSError as exc:
        print(f"irlab-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"irlab-emulator {__version__} (moto {_moto_version()}) listening on {server.endpoint}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.load()
    except Exception as exc:  # the gate answers 503 with the reason meanwhile
        print(f"irlab-emulator: failed to load moto: {exc!r}", file=sys.stderr, flush=True)
        server.stop()
        return 1
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
