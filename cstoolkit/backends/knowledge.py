"""``HttpKnowledgeSource``: the base of knowledge sources that read a vendor's HTTP API
(plugin API 1.2).

It is built on exactly what HTTP backends use: the shared settings (:class:`HttpSettings`:
base URL, timeout, proxy, CA bundle, requests per minute, budget share, retry waits), the one
client (:class:`~cstoolkit.http.HttpClient`: retries on 429 and 5xx honouring ``Retry-After``,
rate-limit headers, budgets, redaction of the credentials), the paging walks with their
no-progress guard (:mod:`cstoolkit.backends.walks`) and the malformed-data errors naming
source, endpoint, record and field (:mod:`cstoolkit.backends.records`)::

    class WikiSettings(HttpSourceSettings):
        token: str = setting(secret=True, help="API token.")

    class WikiSource(HttpKnowledgeSource[WikiSettings]):
        name = "wiki"
        default_base_url = "https://wiki.example"

        def http_auth(self) -> HttpAuth:
            return HttpAuth(headers={"Authorization": f"Bearer {self.options.token}"},
                            secrets=[self.options.token], hint="the token setting")

        def pull(self, cursor):
            ...  # walk the listing with self.http and self.guard(...), yield ArticlePages
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from cstoolkit.backends.http_base import HttpAuth, HttpSettings, build_client
from cstoolkit.backends.records import MAPPING_ERRORS, VendorDataError, malformed
from cstoolkit.backends.walks import ProgressGuard
from cstoolkit.errors import BackendError, CstError
from cstoolkit.http import HttpStats
from cstoolkit.plugin import CheckResult, KnowledgeSource

if TYPE_CHECKING:
    from cstoolkit.http import HttpClient
    from cstoolkit.store.kv import KeyValue


class HttpSourceSettings(HttpSettings):
    """The settings of an HTTP knowledge source: the shared HTTP ones (subclass to add)."""


OptionsT = TypeVar("OptionsT", bound=HttpSourceSettings)
T = TypeVar("T")


class HttpKnowledgeSource(KnowledgeSource[OptionsT]):
    """A knowledge source over a vendor's HTTP API (see the module docstring)."""

    #: The vendor's address when ``base_url`` is not set (None: base_url is required).
    default_base_url: ClassVar[str | None] = None

    def __init__(self, instance: str, config: Mapping[str, Any], state: KeyValue) -> None:
        super().__init__(instance, config, state)
        self.label = f"{self.name} knowledge source {instance!r}"
        self.stats = HttpStats()
        self._http: HttpClient | None = None

    def api_base_url(self) -> str | None:
        return self.options.base_url or self.default_base_url

    def http_auth(self) -> HttpAuth:
        """Credentials for the client (override; the default sends none)."""
        return HttpAuth()

    def http_extra(self) -> dict[str, Any]:
        """More :class:`~cstoolkit.http.HttpClient` arguments (``budgets``, ...)."""
        return {}

    @property
    def http(self) -> HttpClient:
        """The instance's client, built on first use and closed by :meth:`close`."""
        if self._http is None:
            self._http = build_client(self)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def guard(self, endpoint: str, what: str = "position") -> ProgressGuard:
        """A no-progress guard for one walk over ``endpoint`` (``GET /path``)."""
        return ProgressGuard(self.label, endpoint, what=what)

    def map_record(
        self, mapper: Callable[[Any], T], raw: Any, endpoint: str, kind: str = "article"
    ) -> T:
        """``mapper(raw)``, with whatever it raises on malformed data reported in one line."""
        try:
            return mapper(raw)
        except MAPPING_ERRORS as exc:
            raise malformed(exc, self.label, endpoint, kind, raw) from None

    #: version of the "seen" cursor (:meth:`seen_cursor`); an older one asks for ``--full``
    SEEN_CURSOR_VERSION: ClassVar[int] = 1

    def seen_cursor(self, seen: Mapping[str, str]) -> str:
        """The cursor of a source that lists every article and reads only the changed ones:
        article id -> the update stamp it had (what the next pull compares with)."""
        return json.dumps({"v": self.SEEN_CURSOR_VERSION, "seen": dict(seen)}, sort_keys=True)

    def seen_of(self, cursor: str | None) -> dict[str, str]:
        """What :meth:`seen_cursor` wrote (empty for a first pull); an unreadable cursor is one
        line asking for a full sync."""
        if not cursor:
            return {}
        try:
            data = json.loads(cursor)
            if data.get("v") != self.SEEN_CURSOR_VERSION or not isinstance(data.get("seen"), dict):
                raise ValueError(cursor)
            return {str(k): str(v) for k, v in data["seen"].items()}
        except (ValueError, TypeError, AttributeError):
            raise BackendError(
                f"{self.label}: unreadable cursor; run `cst kb sync --full`"
            ) from None

    def live_check(self, path: str, params: Mapping[str, Any] | None = None) -> CheckResult:
        """``cst doctor``'s check: GET ``path`` answers with JSON."""
        try:
            self.http.get_json(path, params=params)
        except (CstError, VendorDataError) as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, f"{self.api_base_url()}: {path} answers")

    def check(self) -> CheckResult:
        return CheckResult(True, "no live check")


class _Text(HTMLParser):
    _BLOCK = frozenset({"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
                        "tr", "table", "section", "article", "blockquote", "pre"})  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The readable text of an article body in HTML: tags dropped, paragraphs kept."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()
