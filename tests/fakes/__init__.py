"""Test doubles of the services scout-jupyter talks to, each a real HTTP server on loopback.

The plumbing here is shared by every fake: :class:`LoopbackWSGIServer` runs a WSGI app in a
thread on ``127.0.0.1`` (a free port, quiet request log), and :class:`FaultInjector` queues
faults for the next requests (each fake decides what a kind of fault does), so retry tests
look the same against every fake.
"""

from __future__ import annotations

import socket
import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class FaultInjector:
    """A queue of faults, each for the next request whose method matches (any, when None)."""

    def __init__(self, kinds: tuple[str, ...]):
        self.kinds = kinds
        self._lock = threading.Lock()
        self._queue: list[tuple[str, str | None]] = []

    def fail_next(self, count: int = 1, kind: str | None = None, method: str | None = None) -> None:
        kind = kind or self.kinds[0]
        if kind not in self.kinds:
            raise ValueError(f"unknown fault {kind!r}; one of {self.kinds}")
        with self._lock:
            self._queue.extend([(kind, method.upper() if method else None)] * count)

    def take(self, method: str) -> str | None:
        with self._lock:
            for i, (_kind, wanted) in enumerate(self._queue):
                if wanted in (None, method):
                    return self._queue.pop(i)[0]
        return None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)


class _QuietHandler(WSGIRequestHandler):
    def log(self, type, message, *args):  # noqa: A002 - werkzeug's signature
        """Request lines can carry signed-URL tokens: keep them out of the test output."""


def drop_connection(environ) -> None:
    """Close the client's connection under the running request (a reset, as the client sees it)."""
    try:
        environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def drain(stream) -> None:
    """Read what a handler left of a request body, so a kept-alive connection stays in sync."""
    try:
        while stream.read(1 << 16):
            pass
    except Exception:  # noqa: BLE001 - a client that went away has nothing left to send
        pass


class LoopbackWSGIServer:
    """Runs ``self.wsgi_app`` on ``127.0.0.1`` in a daemon thread; ``origin`` is its base URL."""

    name = "fake-server"

    def __init__(self):
        self._server = None

    def wsgi_app(self, environ, start_response):  # pragma: no cover - subclasses answer
        raise TypeError(f"{type(self).__name__} must define wsgi_app")

    def start(self):
        self._server = make_server("127.0.0.1", 0, self.wsgi_app, threaded=True, request_handler=_QuietHandler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True, name=self.name
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_port}"
