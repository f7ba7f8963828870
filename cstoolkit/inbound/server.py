"""``cst inbound serve``: the providers' webhooks on the hardened server.

Routes (matched at the end of the path, so a reverse proxy may mount the server under a prefix):

* ``GET  /inbound/NAME`` answers the source's subscription check (Meta: ``hub.mode=subscribe``,
  ``hub.verify_token``, ``hub.challenge``): the challenge when the token matches, else 403;
* ``POST /inbound/NAME`` verifies the signature (403 when missing or wrong), parses the body
  (400 when it is not what the provider sends) and only then takes the messages in; it answers
  200 also for a message already received (a provider's retry), 503 when the backend could not
  take it (the provider delivers it again later);
* ``GET /healthz`` answers ``ok``; other methods 405, other paths 404.

A refused request is recorded nowhere. The access log shows the path only: a query string
may hold the verify token.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from cstoolkit.http_server import HardenedServer, Limits, Response, plain, read_body, reason
from cstoolkit.inbound import first_answer, replies
from cstoolkit.inbound.engine import FAILED, Outcome, Receiver, build_source, chain
from cstoolkit.inbound_source import WEBHOOK, InboundSource, Refused, WebhookRequest

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.store import Store

log = logging.getLogger("cstoolkit.inbound.server")

#: Webhook bodies: Meta batches several messages in one delivery, so more than a form's 16 KiB.
LIMITS = Limits(max_body_bytes=256 * 1024)
_ROUTE = re.compile(r"(?:^|/)inbound/([A-Za-z0-9_-]+)/?$")
_METHODS = ("GET", "HEAD", "POST")


@dataclass
class Endpoint:
    source: InboundSource
    receiver: Receiver
    public_url: str | None
    first: first_answer.FirstAnswer | None = None


class InboundApp:
    """Request handling, independent of the HTTP plumbing (tests may call :meth:`handle`)."""

    def __init__(self, config: Config, host: Any, store: Store) -> None:
        self.config, self.host, self.store = config, host, store
        self.endpoints: dict[str, Endpoint] = {}
        self.outcomes: list[Outcome] = []  # what the last requests did (tests, the log)
        self._lock = threading.Lock()
        for name in config.instances("inbound"):
            source = build_source(config, host, name, store)
            if source.mode != WEBHOOK:
                source.close()
                continue
            receiver = Receiver(config, host, store, name)
            first = first_answer.for_source(config, host, store, receiver.settings)
            receiver.on_created = chain(
                replies.acknowledger(config, host, store, receiver.settings), first
            )
            self.endpoints[name] = Endpoint(source, receiver, receiver.settings.public_url, first)

    def recover(self) -> list[Outcome]:
        """Settle what a dead server left reserved (see :meth:`Receiver.recover`)."""
        out: list[Outcome] = []
        with self._lock:
            for ep in self.endpoints.values():
                out.extend(ep.receiver.recover())
        return out

    def close(self) -> None:
        for ep in self.endpoints.values():
            ep.source.close()
            ep.receiver.close()

    def handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Callable[[], bytes],
        *,
        base_url: str,
    ) -> Response:
        parts = urlsplit(path)
        route = unquote(parts.path)
        if route.rstrip("/").endswith("healthz"):
            return plain(200, "ok")
        m = _ROUTE.search(route)
        ep = self.endpoints.get(m.group(1)) if m else None
        if ep is None:
            return plain(404, "not found")
        query = parse_qs(parts.query, keep_blank_values=True)
        public = ep.public_url.rstrip("/") if ep.public_url else base_url + parts.path
        url = public + (f"?{parts.query}" if parts.query else "")
        request = WebhookRequest(method, url, query, headers, b"")
        if method == "GET":
            answer = ep.source.challenge(request)
            if answer is None:
                return plain(405, "method not allowed", Allow="POST")
            return Response(answer.status, answer.body, {"Content-Type": answer.content_type})
        request.body = body()
        try:
            ep.source.verify(request)
            messages = ep.source.parse(request)
        except Refused as exc:
            log.warning("inbound.%s refused (%s): %s", m.group(1) if m else "?", exc.status, exc)
            return plain(exc.status, str(exc))
        with self._lock:
            outcomes = [ep.receiver.receive(msg) for msg in messages]
            answers = ep.first.flush() if ep.first is not None else []
        self.outcomes.extend(outcomes)
        for o in outcomes:
            log.info("inbound.%s %s %s %s", o.source, o.action, o.ticket_id or "-", o.detail)
        for a in answers:
            log.info("inbound.%s first answer on %s: %s %s", a.source, a.ticket_id, a.action,
                     a.detail)  # fmt: skip
        if any(o.action == FAILED for o in outcomes):
            return plain(503, "not taken now; deliver again later", **{"Retry-After": "60"})
        ok = ep.source.ok_answer
        return Response(ok.status, ok.body, {"Content-Type": ok.content_type})


class WsgiApp:
    """The WSGI face of :class:`InboundApp`: methods, the bounded body read, an access log."""

    def __init__(self, app: InboundApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING") and "?" not in path:
            path += "?" + environ["QUERY_STRING"]
        if method not in _METHODS:
            resp = plain(405, "method not allowed", Allow=", ".join(_METHODS))
        else:
            headers = {
                k[5:].replace("_", "-").lower(): str(v)
                for k, v in environ.items()
                if k.startswith("HTTP_")
            }
            if environ.get("CONTENT_TYPE"):
                headers["content-type"] = str(environ["CONTENT_TYPE"])
            scheme = environ.get("wsgi.url_scheme", "http")
            host = environ.get("HTTP_HOST") or (
                f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
            )
            try:
                resp = self.app.handle(
                    "GET" if method == "HEAD" else method,
                    path,
                    headers,
                    lambda: read_body(environ, self.limits.max_body_bytes),
                    base_url=f"{scheme}://{host}",
                )
            except Exception:  # a bug must not show a traceback or a secret to the caller
                log.exception("inbound request failed")
                resp = plain(500, "internal error")
        out = [*resp.headers.items(), ("Content-Length", str(len(resp.body)))]
        out.append(("Cache-Control", "no-store"))
        start_response(f"{resp.status} {reason(resp.status)}", out)
        log.info("%s %s %s %s", environ.get("REMOTE_ADDR", "-"), method,
                 urlsplit(path).path, resp.status)  # fmt: skip
        return [b"" if method == "HEAD" else resp.body]


class InboundServer(HardenedServer):
    """The webhooks on a socket (see :class:`cstoolkit.http_server.HardenedServer`)."""

    def __init__(self, app: InboundApp, host: str, port: int, limits: Limits) -> None:
        self.app = app
        super().__init__(WsgiApp(app, limits), host, port, limits, ident="cst-inbound")


def make_server(
    config: Config, plugins: Any, store: Store, *, host: str = "127.0.0.1", port: int = 8766,
    limits: Limits | None = None,
) -> InboundServer:  # fmt: skip
    """Build (not start) the server; ``server.serve_forever()`` runs it."""
    app = InboundApp(config, plugins, store)
    return InboundServer(app, host, port, limits or LIMITS)
