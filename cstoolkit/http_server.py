"""The one hardened HTTP server: waitress with limits on size, time and connections.

Used by ``cst survey serve`` (the answer pages) and ``cst inbound serve`` (the providers'
webhooks). Each hands a WSGI application to :class:`HardenedServer`; the server enforces the
:class:`Limits` (docs/security.md): request head and body size, a whole-request deadline counted
from the connection's accept or a request's first byte (a client trickling its headers or body
is closed when it passes), an idle timeout between requests, and a cap on open connections
(further ones wait in the listen backlog until one closes).

waitress is imported only when a server is built, so ``cst --help`` never loads it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

#: The WSGI application type the server runs.
WsgiApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Limits:
    """What one client may take from the server; the defaults are the documented values."""

    #: request line plus headers, in bytes (431 beyond)
    max_header_bytes: int = 8 * 1024
    #: request body, declared or chunked, in bytes (413 beyond, before the body is read)
    max_body_bytes: int = 16 * 1024
    #: seconds from accept (or from a request's first byte) until the request is complete
    request_timeout: int = 10
    #: seconds a connection may stay idle between requests (keep-alive)
    idle_timeout: int = 15
    #: connections open at once; more wait in the listen backlog
    max_connections: int = 100
    #: requests handled at once (worker threads)
    threads: int = 4


@dataclass
class Response:
    """What an application answers, independent of the HTTP plumbing."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def reason(status: int) -> str:
    """The reason phrase of a status code ("" for an unknown one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def plain(status: int, text: str, **headers: str) -> Response:
    """A short text/plain answer."""
    return Response(status, (text + "\n").encode(), {"Content-Type": "text/plain; charset=utf-8",
                                                     **headers})  # fmt: skip


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, never more than ``limit`` bytes (the server refused a larger one before
    the application ran; ``min`` keeps it so)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    data: bytes = environ["wsgi.input"].read(max(0, min(length, limit)))
    return data


def server_classes() -> tuple[type, type]:
    """waitress's TCP server and channel, taught the whole-request deadline.

    waitress bounds header and body size and open connections itself, and closes a connection
    idle for ``channel_timeout``; a client that trickles one byte at a time is never idle, so
    each channel also records when its current request began (accept, or the first byte of a
    later request) and the server's periodic maintenance closes it once that is older than
    ``request_timeout``.
    """
    from waitress.channel import HTTPChannel
    from waitress.server import TcpWSGIServer

    class Channel(HTTPChannel):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.request_began: float | None = self.creation_time

        def received(self, data: bytes) -> bool:
            if data and self.request is None and self.request_began is None:
                self.request_began = time.time()
            result: bool = super().received(data)
            if self.request is None:  # nothing partial left: the clock stops
                self.request_began = None
            return result

    class Server(TcpWSGIServer):
        channel_class = Channel
        request_timeout: float = Limits.request_timeout

        def maintenance(self, now: float) -> None:
            super().maintenance(now)
            cutoff = now - self.request_timeout
            for channel in list(self.active_channels.values()):
                began = getattr(channel, "request_began", None)
                if began is not None and not channel.requests and began < cutoff:
                    channel.will_close = True

    return Server, Channel


class HardenedServer:
    """A WSGI application on a socket: ``serve_forever()`` in one thread, ``shutdown()`` from
    another, then ``server_close()``."""

    def __init__(
        self, wsgi: WsgiApplication, host: str, port: int, limits: Limits, *, ident: str
    ) -> None:
        server_cls, _ = server_classes()
        self.limits = limits
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._server = server_cls(
            wsgi,
            host=host,
            port=port,
            ident=ident,
            threads=limits.threads,
            connection_limit=limits.max_connections,
            max_request_header_size=limits.max_header_bytes,
            # waitress refuses a body of max_request_body_size bytes or more
            max_request_body_size=limits.max_body_bytes + 1,
            channel_timeout=limits.idle_timeout,
            cleanup_interval=1,
            asyncore_use_poll=True,
            expose_tracebacks=False,
            clear_untrusted_proxy_headers=True,
        )
        self._server.request_timeout = limits.request_timeout

    @property
    def server_address(self) -> tuple[str, int]:
        return str(self._server.effective_host), int(self._server.effective_port)

    def open_connections(self) -> int:
        """Connections the server holds now (for tests and status)."""
        return len(self._server.active_channels)

    def serve_forever(self, poll_interval: float = 0.2) -> None:
        from waitress import wasyncore

        self._stopped.clear()
        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=poll_interval, use_poll=True, map=self._server._map, count=1)
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._stopped.wait()

    def server_close(self) -> None:
        from waitress import wasyncore

        self._server.task_dispatcher.shutdown()
        wasyncore.close_all(self._server._map)
