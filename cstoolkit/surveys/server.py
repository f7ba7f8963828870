"""``cst survey serve``: the answer and opt-out pages behind survey links.

Served by waitress (a pure-Python WSGI server), bound to 127.0.0.1 by default (put a reverse
proxy in front and set each survey's ``public_url``). Pages are plain HTML forms with inline
CSS: no JavaScript, usable on a phone.

* ``GET  /s/TOKEN?score=N`` shows the question with N preselected. It records nothing: mail
  scanners and link previews open links.
* ``POST /s/TOKEN`` (``score``, optional ``comment``) records the answer, once per survey; a
  second POST shows the answer already recorded.
* ``GET  /u/TOKEN`` asks to confirm the opt-out; ``POST /u/TOKEN`` opts out (this is also the
  RFC 8058 one-click ``List-Unsubscribe-Post`` target).
* ``GET /healthz`` answers ``ok``.
* A tampered token gets a 400 page, an expired one a 410 page; both say so plainly. Other
  methods get 405.

Routes match the end of the path, so a reverse proxy may mount the server under a prefix.

The token is verified before the body of a POST is read and before anything is written: nothing
is recorded without a valid signed token. The server enforces the :class:`Limits` below
(docs/security.md, "The survey answer page"): request head and body size, a whole-request
deadline counted from the connection's accept or a request's first byte (a client trickling its
headers or body is closed when it passes), an idle timeout between requests, and a cap on open
connections (further ones wait in the listen backlog until one closes).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from cstoolkit import model
from cstoolkit.config import Config
from cstoolkit.http_server import HardenedServer, Limits, Response, read_body, reason
from cstoolkit.messages import SCALES
from cstoolkit.store import Store, open_store
from cstoolkit.store import surveys as db
from cstoolkit.store.configured import open_configured
from cstoolkit.surveys import answers, templates
from cstoolkit.surveys.links import LinkError, peek_offer_key

log = logging.getLogger("cstoolkit.surveys.server")

MAX_BODY = Limits.max_body_bytes


_ROUTE = re.compile(r"(?:^|/)(s|u)/([A-Za-z0-9._%-]+)/?$")
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}

_PAGE = """\
<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }}</title>
<style>
*{box-sizing:border-box}
body{margin:0;font:17px/1.5 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:#1f2328;background:#f6f8fa}
main{max-width:40rem;margin:0 auto;padding:1.25rem}
.card{background:#fff;border:1px solid #d0d7de;border-radius:12px;padding:1.25rem}
h1{font-size:1.35rem;margin:0 0 .75rem}
fieldset{border:0;margin:0;padding:0}
legend{font-weight:600;margin-bottom:.75rem}
.scale{display:flex;flex-wrap:wrap;gap:.4rem}
.opt{flex:1 0 2.6rem;position:relative}
.opt input{position:absolute;opacity:0;width:100%;height:100%;margin:0;cursor:pointer}
.opt span{display:block;text-align:center;padding:.7rem 0;border:2px solid #8c959f;
border-radius:8px;font-weight:700}
.opt input:checked+span{background:#0969da;border-color:#0969da;color:#fff}
.opt input:focus-visible+span{outline:3px solid #54aeff;outline-offset:2px}
.ends{display:flex;justify-content:space-between;font-size:.85rem;color:#57606a;margin:.4rem 0 1rem}
label.c{display:block;font-weight:600;margin-bottom:.35rem}
textarea{width:100%;font:inherit;padding:.6rem;border:1px solid #8c959f;border-radius:8px}
button{margin-top:1rem;width:100%;font:inherit;font-weight:700;padding:.85rem;border:0;
border-radius:8px;background:#1f883d;color:#fff;cursor:pointer}
.err{color:#cf222e;font-weight:600}
.muted{color:#57606a}
</style>
</head>
<body><main><div class="card">
<h1>{{ title }}</h1>
{% if message %}<p class="{{ 'err' if error else '' }}">{{ message }}</p>{% endif %}
{% if detail %}<p class="muted">{{ detail }}</p>{% endif %}
{% if form == "answer" %}
<form method="post" action="{{ action }}">
<fieldset><legend>{{ question }}</legend>
<div class="scale">
{% for n in scores %}<label class="opt"><input type="radio" name="score" value="{{ n }}"
 aria-label="{{ n }}"{% if n == selected %} checked{% endif %} required><span>{{ n }}</span></label>
{% endfor %}</div>
<div class="ends"><span>{{ scores[0] }}: {{ low }}</span>
<span>{{ scores[-1] }}: {{ high }}</span></div>
</fieldset>
<label class="c" for="comment">{{ words.comment }}</label>
<textarea id="comment" name="comment" rows="4" maxlength="2000">{{ comment }}</textarea>
<button type="submit">{{ words.submit }}</button>
</form>
{% elif form == "optout" %}
<form method="post" action="{{ action }}">
<button type="submit">{{ words.optout_button }}</button>
</form>
{% endif %}
</div></main></body></html>
"""


def _render(**ctx: Any) -> bytes:
    from cstoolkit import templating  # the one template sandbox

    defaults = {"message": "", "detail": "", "form": None, "error": False, "comment": ""}
    page = templating.render(
        _PAGE, {**defaults, **ctx}, autoescape=True, strict=True, keep_newline=True
    )
    return page.encode("utf-8")


def _accept_language(header: str | None) -> str:
    for part in (header or "").split(","):
        lang = part.split(";")[0].strip().split("-")[0].lower()
        if lang in templates.LANGUAGES:
            return lang
    return "en"


class SurveyApp:
    """Request handling, independent of the HTTP plumbing (tests call :meth:`handle`)."""

    def __init__(self, config: Config, host: Any, store: Store) -> None:
        self.config = config
        self.store = store
        self.verifier = answers.Verifier(config, host, store)
        self._lock = threading.Lock()

    def public_urls(self) -> dict[str, str]:
        out = {}
        for name, inst in self.config.instances("surveys").items():
            if inst.plugin == "builtin":
                out[name] = str(inst.settings.get("public_url") or "http://127.0.0.1:8765")
        return out

    def handle(
        self,
        method: str,
        path: str,
        body: bytes | Callable[[], bytes] = b"",
        accept_language: str | None = None,
    ) -> Response:
        """Answer one request. ``body`` may be a callable: it is called (the body read) only
        for a POST whose token is valid."""
        parts = urlsplit(path)
        route = unquote(parts.path)
        if route.rstrip("/").endswith("healthz"):
            return Response(200, b"ok\n", {"Content-Type": "text/plain; charset=utf-8"})
        m = _ROUTE.search(route)
        lang = _accept_language(accept_language)
        if m is None:
            words = templates.page_words(lang)
            return self._page(404, lang, title=words["invalid_title"], message="404")
        kind, token = m.group(1), m.group(2)
        query = parse_qs(parts.query)
        with self._lock:
            now = model.now()
            try:
                offer, _claims = self.verifier.verify(self.store, token, now)
            except LinkError as exc:
                return self._link_error(exc, token, lang)
            # Only now, with a valid token, is the body read.
            raw = (body() if callable(body) else body) if method == "POST" else b""
            form = parse_qs(raw.decode("utf-8", "replace")) if raw else {}
            if kind == "u":
                return self._optout(method, offer, token, now)
            return self._answer(method, offer, token, query, form, now)

    # -- pages -------------------------------------------------------------------------------

    def _page(self, status: int, lang: str, **ctx: Any) -> Response:
        body = _render(lang=lang, words=templates.page_words(lang), **ctx)
        return Response(status, body, {"Content-Type": "text/html; charset=utf-8", **_HEADERS})

    def _link_error(self, exc: LinkError, token: str, lang: str) -> Response:
        key = peek_offer_key(token)
        row = db.get_offer(self.store, key) if key else None
        if row is not None and row.language in templates.LANGUAGES and exc.reason == "expired":
            lang = row.language
        words = templates.page_words(lang)
        if exc.reason == "expired":
            return self._page(
                HTTPStatus.GONE, lang, title=words["expired_title"], message=words["expired_body"]
            )
        return self._page(
            HTTPStatus.BAD_REQUEST,
            lang,
            title=words["invalid_title"],
            message=words["invalid_body"],
            error=True,
        )

    def _answer(
        self,
        method: str,
        offer: db.OfferRow,
        token: str,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
        now: datetime,
    ) -> Response:
        lang = offer.language if offer.language in templates.LANGUAGES else "en"
        words = templates.page_words(lang)
        existing = db.get_answer(self.store, offer.key)
        if existing is not None:
            return self._page(
                200, lang, title=words["thanks_title"],
                message=words["already"].format(score=existing.score),
            )  # fmt: skip
        low, high = SCALES[offer.kind]
        provider = self.verifier.provider(offer.survey)
        brand = str(provider.config.get("brand") or "Support")
        low_label, high_label = templates.scale_labels(lang, offer.kind)
        ctx: dict[str, Any] = {
            "title": words["title"],
            "question": templates.question(lang, offer.kind, brand),
            "scores": list(range(low, high + 1)),
            "low": low_label,
            "high": high_label,
            "form": "answer",
            "action": token,
            "selected": None,
        }
        if method == "GET":
            raw = (query.get("score") or [""])[0]
            try:
                ctx["selected"] = answers.check_score(offer.kind, raw) if raw else None
            except ValueError:
                ctx["selected"] = None
            if ctx["selected"] is None:
                ctx["message"] = words["choose"]
            return self._page(200, lang, **ctx)
        raw = (form.get("score") or [""])[0]
        comment = (form.get("comment") or [""])[0]
        try:
            score = answers.check_score(offer.kind, raw)
        except ValueError:
            ctx.update(message=words["bad_score"], error=True, comment=comment)
            return self._page(HTTPStatus.BAD_REQUEST, lang, **ctx)
        if not answers.record(self.store, offer, score, comment, now, source="web"):
            existing = db.get_answer(self.store, offer.key)
            return self._page(
                200, lang, title=words["thanks_title"],
                message=words["already"].format(score=existing.score if existing else score),
            )  # fmt: skip
        return self._page(200, lang, title=words["thanks_title"], message=words["thanks_body"])

    def _optout(self, method: str, offer: db.OfferRow, token: str, now: datetime) -> Response:
        lang = offer.language if offer.language in templates.LANGUAGES else "en"
        words = templates.page_words(lang)
        if method == "GET":
            return self._page(
                200, lang, title=words["optout_title"], message=words["optout_body"],
                form="optout", action=token,
            )  # fmt: skip
        answers.opt_out(self.store, offer, now, source="link")
        return self._page(200, lang, title=words["optout_title"], message=words["optout_done"])


# -- HTTP --------------------------------------------------------------------------------------

_TOKEN_IN_PATH = re.compile(r"/(s|u)/[A-Za-z0-9._%-]+")
_METHODS = ("GET", "HEAD", "POST")


class WsgiApp:
    """The WSGI face of :class:`SurveyApp`: methods, the bounded body read, an access log."""

    def __init__(self, app: SurveyApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", ""))
        if method not in _METHODS:
            plain = {"Content-Type": "text/plain; charset=utf-8", "Allow": ", ".join(_METHODS)}
            resp = Response(405, b"method not allowed\n", plain)
        else:

            def body() -> bytes:
                return read_body(environ, self.limits.max_body_bytes)

            resp = self.app.handle(
                "GET" if method == "HEAD" else method,
                path,
                body,
                environ.get("HTTP_ACCEPT_LANGUAGE"),
            )
        headers = [*resp.headers.items(), ("Content-Length", str(len(resp.body)))]
        start_response(f"{resp.status} {reason(resp.status)}", headers)
        # Tokens are bearer credentials: keep them out of logs.
        shown = _TOKEN_IN_PATH.sub(r"/\1/<token>", urlsplit(path).path)
        log.info("%s %s %s %s", environ.get("REMOTE_ADDR", "-"), method, shown, resp.status)
        return [b"" if method == "HEAD" else resp.body]


class SurveyServer(HardenedServer):
    """The answer page on a socket (see :class:`cstoolkit.http_server.HardenedServer`)."""

    def __init__(self, app: SurveyApp, host: str, port: int, limits: Limits) -> None:
        self.app = app
        super().__init__(WsgiApp(app, limits), host, port, limits, ident="cst-survey")


def make_server(
    config: Config, plugins: Any, store_path: Path | str | None = None, *,
    host: str = "127.0.0.1", port: int = 8765, limits: Limits | None = None,
) -> SurveyServer:  # fmt: skip
    """Build (not start) the server; ``server.serve_forever()`` runs it.

    ``plugins`` is the plugin host; ``host``/``port`` are where to bind (port 0: any free one).
    """
    store = open_configured(config) if store_path is None else open_store(store_path)
    app = SurveyApp(config, plugins, store)
    return SurveyServer(app, host, port, limits or Limits())
