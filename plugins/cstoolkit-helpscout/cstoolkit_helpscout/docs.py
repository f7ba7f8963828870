"""Help Scout Docs articles as a knowledge source: ``plugin = "helpscout_docs"``.

The Docs API (``https://docsapi.helpscout.net/v1``, HTTP Basic with the Docs API key as the
user name and ``X`` as the password) lists in pages wrapped as ``{"collections": {"page",
"pages", "count", "items"}}``: ``GET /v1/collections``, then each collection's
``GET /v1/collections/{id}/articles?status=published`` (article references, without their
text), walked ``page=1, 2, ...`` up to ``pages`` with the no-progress guard. An article whose
``updatedAt`` differs from the one the cursor remembers is read in full with
``GET /v1/articles/{id}`` (``{"article": {...}}``; its ``text`` is HTML); articles no longer
listed (deleted, unpublished) are removed. The cursor is saved with the last page, so an
interrupted sync lists everything again. The collection's name is the section, ``keywords``
the labels, ``publicUrl`` the URL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from cstoolkit.articles import Article, ArticlePage
from cstoolkit.backends import (
    FieldError,
    HttpAuth,
    HttpKnowledgeSource,
    HttpSourceSettings,
    VendorDataError,
    expect_object,
    field,
    html_text,
    id_field,
    list_field,
    page_walk,
    setting,
    time_field,
)

COLLECTIONS = "/v1/collections"


class HelpScoutDocsSettings(HttpSourceSettings):
    api_key: str = setting(secret=True, help="Docs API key (Basic auth, key:X).")
    language: str = setting("en", help="Language of the site's articles.")
    site_id: str | None = setting(help="Only the collections of this Docs site.")


class HelpScoutDocsSource(HttpKnowledgeSource[HelpScoutDocsSettings]):
    name: ClassVar[str] = "helpscout_docs"
    description: ClassVar[str] = "Help Scout Docs articles (collections, articles)."
    default_base_url: ClassVar[str | None] = "https://docsapi.helpscout.net"

    def http_auth(self) -> HttpAuth:
        key = self.options.api_key
        return HttpAuth(auth=(key, "X"), secrets=[key], hint="the api_key setting")

    def check(self) -> Any:
        return self.live_check(COLLECTIONS)

    def _pages(
        self, path: str, wrapper: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[list[Any]]:
        """A paged Docs API listing: ``{wrapper: {page, pages, count, items}}``."""
        endpoint = f"GET {path}"

        def fetch(page: int) -> tuple[list[Any], bool]:
            data = expect_object(
                self.http.get_json(path, params={**(params or {}), "page": page}),
                self.label,
                endpoint,
            )
            body = data.get(wrapper)
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise VendorDataError(self.label, endpoint, f"malformed page, no {wrapper!r} items")
            pages = body.get("pages")
            if isinstance(pages, bool) or not isinstance(pages, int):
                raise VendorDataError(self.label, endpoint, f"malformed page, pages is {pages!r}")
            return list(body["items"]), page < pages

        yield from page_walk(fetch, self.guard(endpoint, "page"))

    def pull(self, cursor: str | None) -> Iterator[ArticlePage]:
        before = self.seen_of(cursor)
        now: dict[str, str] = {}
        params = {"siteId": self.options.site_id} if self.options.site_id else None
        for collections in self._pages(COLLECTIONS, "collections", params):
            for collection in collections:
                cid = self.map_record(id_field, collection, f"GET {COLLECTIONS}", "collection")
                section = collection.get("name") if isinstance(collection, dict) else None
                path = f"{COLLECTIONS}/{cid}/articles"
                for refs in self._pages(path, "articles", {"status": "published"}):
                    changed = []
                    for ref in refs:
                        aid = self.map_record(id_field, ref, f"GET {path}")
                        stamp = str(ref.get("updatedAt") or ref.get("lastPublishedAt") or "")
                        now[aid] = stamp
                        if before.get(aid) == stamp:
                            continue
                        article = self._article(aid, section)
                        if article is not None:
                            changed.append(article)
                    if changed:
                        yield ArticlePage(changed, [], None)
        gone = sorted(set(before) - set(now))
        yield ArticlePage([], gone, self.seen_cursor(now))

    def _article(self, article_id: str, section: Any) -> Article | None:
        path = f"/v1/articles/{article_id}"
        data = self.http.get_json(path)
        body = expect_object(data, self.label, f"GET {path}").get("article")
        return self.map_record(lambda raw: self.article(raw, section), body, f"GET {path}")

    def article(self, raw: Any, section: Any = None) -> Article | None:
        """One Docs article (None unless published)."""
        if not isinstance(raw, dict):
            raise FieldError("article", "not an object")
        if field(raw, "status", str, required=False) not in (None, "published"):
            return None
        external = id_field(raw)
        updated = time_field(raw, "updatedAt", required=False) or time_field(raw, "lastPublishedAt")
        assert updated is not None
        return Article(
            id=f"{self.instance}:{external}",
            source=self.instance,
            external_id=external,
            title=str(field(raw, "name", str)),
            body=html_text(str(field(raw, "text", str, required=False) or "")),
            language=self.options.language,
            updated_at=updated,
            section=str(section) if isinstance(section, str) and section else None,
            labels=[str(k) for k in list_field(raw, "keywords")],
            url=field(raw, "publicUrl", str, required=False),
        )
