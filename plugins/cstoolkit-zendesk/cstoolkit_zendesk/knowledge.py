"""Zendesk Help Center (Guide) articles as a knowledge source: ``plugin = "zendesk_guide"``.

Reads the incremental article export, ``GET /api/v2/help_center/incremental/articles
?start_time={unix seconds}`` (agents and admins only). Each page holds up to 1,000 articles
whose metadata changed after ``start_time``; its ``next_page`` URL starts at the page's
``end_time`` (the last change of its last article), and there is no next page at the end. The
cursor is the ``end_time`` of the last page read, so the next sync starts there, as Zendesk
advises. A page whose ``end_time`` does not move past its ``start_time`` (more than 1,000
articles changed in one second) is asked again at most a few times, then the sync stops with a
no-progress error instead of looping (:mod:`cstoolkit.backends.walks`). Draft articles are
removed from the store (they are not public answers); an article's ``locale`` (``en-us``)
gives its language (``en``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from cstoolkit.articles import Article, ArticlePage
from cstoolkit.backends import (
    CursorPage,
    FieldError,
    HttpAuth,
    HttpKnowledgeSource,
    HttpSourceSettings,
    VendorDataError,
    cursor_walk,
    field,
    html_text,
    id_field,
    items_of,
    list_field,
    setting,
    time_field,
)
from cstoolkit.errors import ConfigError
from cstoolkit_zendesk.settings import zendesk_auth

ENDPOINT = "/api/v2/help_center/incremental/articles"
CURSOR_VERSION = 1


class ZendeskGuideSettings(HttpSourceSettings):
    subdomain: str | None = setting(help="Account name: acme for https://acme.zendesk.com.")
    email: str | None = setting(help="Agent email for API-token authentication.")
    token: str | None = setting(
        secret=True, help="API token (with email): Basic {email}/token:{token}."
    )
    oauth_token: str | None = setting(
        secret=True, help="OAuth access token (instead of email+token)."
    )
    start_time: int = setting(0, minimum=0, help="First sync: articles changed after this.")


class ZendeskGuideSource(HttpKnowledgeSource[ZendeskGuideSettings]):
    name: ClassVar[str] = "zendesk_guide"
    description: ClassVar[str] = "Zendesk Help Center articles (incremental article export)."

    def api_base_url(self) -> str | None:
        if self.options.base_url:
            return self.options.base_url
        if not self.options.subdomain:
            raise ConfigError(f"{self.settings_path}: set subdomain (or base_url)")
        return f"https://{self.options.subdomain}.zendesk.com"

    def http_auth(self) -> HttpAuth:
        opts = self.options
        if not opts.oauth_token and not (opts.email and opts.token):
            raise ConfigError(f"{self.settings_path}: set email and token (or oauth_token)")
        return zendesk_auth(opts.email, opts.token, opts.oauth_token)

    def check(self) -> Any:
        return self.live_check(ENDPOINT, {"start_time": int(self.options.start_time)})

    def _start(self, cursor: str | None) -> int:
        if not cursor:
            return int(self.options.start_time)
        import json

        try:
            data = json.loads(cursor)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError(cursor)
            return int(data["start_time"])
        except (ValueError, TypeError, KeyError, AttributeError):
            from cstoolkit.errors import BackendError

            raise BackendError(
                f"{self.label}: unreadable cursor; run `cst kb sync --full`"
            ) from None

    def pull(self, cursor: str | None) -> Iterator[ArticlePage]:
        import json

        guard = self.guard(f"GET {ENDPOINT}", what="start_time")

        def fetch(start: int | None) -> CursorPage[Any, int]:
            data = self.http.get_json(ENDPOINT, params={"start_time": start})
            items = items_of(data, "articles", self.label, ENDPOINT, required=True)
            done = data.get("next_page") is None
            end = data.get("end_time")
            if not done and (isinstance(end, bool) or not isinstance(end, int)):
                raise VendorDataError(self.label, ENDPOINT, f"malformed page, end_time is {end!r}")
            return CursorPage(items, None if done else end, done, data)

        for page in cursor_walk(fetch, guard, start=self._start(cursor)):
            articles: list[Article] = []
            drafts: list[str] = []
            for raw in page.items:
                article = self.map_record(self.article, raw, ENDPOINT)
                if article is None:
                    drafts.append(id_field(raw))
                else:
                    articles.append(article)
            end = page.data.get("end_time")
            resume = end if isinstance(end, int) and not isinstance(end, bool) else None
            text = json.dumps({"v": CURSOR_VERSION, "start_time": resume}) if resume else None
            yield ArticlePage(articles, drafts, text)

    def article(self, raw: Any) -> Article | None:
        """One Help Center article (None for a draft)."""
        if not isinstance(raw, dict):
            raise FieldError("article", "not an object")
        if field(raw, "draft", bool, required=False):
            return None
        external = id_field(raw)
        section = raw.get("section_id")
        labels = [str(v) for v in list_field(raw, "label_names")]
        updated = time_field(raw, "updated_at")
        assert updated is not None
        return Article(
            id=f"{self.instance}:{external}",
            source=self.instance,
            external_id=external,
            title=str(field(raw, "title", str)),
            body=html_text(str(field(raw, "body", str, required=False) or "")),
            language=str(field(raw, "locale", str, required=False) or "en"),
            updated_at=updated,
            section=str(section) if section is not None else None,
            labels=labels,
            url=field(raw, "html_url", str, required=False),
        )
