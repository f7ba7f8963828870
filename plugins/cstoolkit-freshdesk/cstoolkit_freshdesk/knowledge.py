"""Freshdesk Solutions articles as a knowledge source: ``plugin = "freshdesk_solutions"``.

Freshdesk has no "changed since" listing for solutions, so each sync walks the whole tree, as
the API lays it out: ``GET /api/v2/solutions/categories`` (a JSON array), then each category's
``GET /api/v2/solutions/categories/{id}/folders`` and each folder's
``GET /api/v2/solutions/folders/{id}/articles`` (``per_page`` up to 100, followed through the
``Link: rel="next"`` header, with the no-progress guard of every walk). The cursor remembers each
published article's ``updated_at``: only articles that changed are stored again, and the ones
no longer listed (deleted, or back to draft: ``status`` 1) are removed. The cursor is saved on
the last page only, so an interrupted sync reads the tree again (nothing is lost; unchanged
articles are written again at most once). The article's text is ``description_text`` (else
the HTML ``description`` as text); the folder's name is its section, ``tags`` its labels.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from cstoolkit.articles import Article, ArticlePage
from cstoolkit.backends import (
    CursorPage,
    FieldError,
    HttpAuth,
    HttpKnowledgeSource,
    HttpSourceSettings,
    cursor_walk,
    expect_list,
    field,
    html_text,
    id_field,
    list_field,
    setting,
    time_field,
)
from cstoolkit.errors import ConfigError

CATEGORIES = "/api/v2/solutions/categories"
PUBLISHED = 2


class FreshdeskSolutionsSettings(HttpSourceSettings):
    domain: str | None = setting(help="Account name: acme for https://acme.freshdesk.com.")
    api_key: str = setting(secret=True, help="API key (Basic auth, key:X).")
    language: str = setting("en", help="Language of the articles (the portal's default).")
    portal_url: str | None = setting(
        help="Public portal address: an article's url is PORTAL/support/solutions/articles/ID."
    )
    per_page: int = setting(100, minimum=1, maximum=100, help="Articles per page (1-100).")


class FreshdeskSolutionsSource(HttpKnowledgeSource[FreshdeskSolutionsSettings]):
    name: ClassVar[str] = "freshdesk_solutions"
    description: ClassVar[str] = "Freshdesk Solutions articles (categories, folders, articles)."

    def api_base_url(self) -> str | None:
        opts = self.options
        if opts.base_url:
            return opts.base_url
        if not opts.domain:
            raise ConfigError(f"{self.settings_path}: set domain (or base_url)")
        return f"https://{opts.domain}.freshdesk.com"

    def http_auth(self) -> HttpAuth:
        key = self.options.api_key
        return HttpAuth(auth=(key, "X"), secrets=[key], hint="the api_key setting")

    def check(self) -> Any:
        return self.live_check(CATEGORIES)

    def _listing(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[list[Any]]:
        """A JSON-array listing followed through its Link headers."""
        from cstoolkit.http import link_next

        endpoint = f"GET {path}"

        def fetch(link: str | None) -> CursorPage[Any, str]:
            response = self.http.request("GET", link or path, params=None if link else params)
            data = expect_list(self.http.decode(response), self.label, endpoint)
            nxt = _relative(link_next(response))
            return CursorPage(data, nxt, nxt is None)

        for page in cursor_walk(fetch, self.guard(endpoint, "link")):
            yield page.items

    def pull(self, cursor: str | None) -> Iterator[ArticlePage]:
        before = self.seen_of(cursor)
        now: dict[str, str] = {}
        for categories in self._listing(CATEGORIES):
            for category in categories:
                cid = self.map_record(id_field, category, f"GET {CATEGORIES}", "category")
                folders_path = f"{CATEGORIES}/{cid}/folders"
                for folders in self._listing(folders_path):
                    for folder in folders:
                        fid = self.map_record(id_field, folder, f"GET {folders_path}", "folder")
                        name = folder.get("name") if isinstance(folder, dict) else None
                        path = f"/api/v2/solutions/folders/{fid}/articles"
                        for items in self._listing(path, {"per_page": self.options.per_page}):
                            changed = []
                            for raw in items:
                                art = self.map_record(
                                    functools.partial(self.article, folder=name),
                                    raw,
                                    f"GET {path}",
                                )
                                if art is None:
                                    continue
                                stamp = art.updated_at.isoformat()
                                now[art.external_id] = stamp
                                if before.get(art.external_id) != stamp:
                                    changed.append(art)
                            if changed:
                                yield ArticlePage(changed, [], None)
        # the last page: what is no longer listed, and the cursor of the whole walk
        gone = sorted(set(before) - set(now))
        yield ArticlePage([], gone, self.seen_cursor(now))

    def article(self, raw: Any, folder: Any = None) -> Article | None:
        """One solution article (None unless published)."""
        if not isinstance(raw, dict):
            raise FieldError("article", "not an object")
        if field(raw, "status", int, required=False) != PUBLISHED:
            return None
        external = id_field(raw)
        text = field(raw, "description_text", str, required=False)
        if text is None:
            text = html_text(str(field(raw, "description", str, required=False) or ""))
        updated = time_field(raw, "updated_at")
        assert updated is not None
        portal = self.options.portal_url
        return Article(
            id=f"{self.instance}:{external}",
            source=self.instance,
            external_id=external,
            title=str(field(raw, "title", str)),
            body=str(text),
            language=self.options.language,
            updated_at=updated,
            section=str(folder) if isinstance(folder, str) and folder else None,
            labels=[str(t) for t in list_field(raw, "tags")],
            url=f"{portal.rstrip('/')}/support/solutions/articles/{external}" if portal else None,
        )


def _relative(link: str | None) -> str | None:
    """A ``Link`` URL as path + query, sent to ``base_url`` (credentials never leave it)."""
    if link is None:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")
