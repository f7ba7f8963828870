"""Help Scout Docs as a knowledge source: collections and article references walked page by
page, changed articles read in full, removed ones dropped; rate limits, server errors, malformed
bodies and pages that do not advance (respx, recorded-shape responses)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from cstoolkit.backends import NoProgressError
from cstoolkit.knowledge.sync import sync_source
from cstoolkit.store import knowledge as store_kb
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue

BASE = "https://docsapi.helpscout.net"
COLL = "5214c83d45667acd25394b53"


def envelope(name: str, items: list[Any], page: int = 1, pages: int = 1) -> httpx.Response:
    return httpx.Response(
        200, json={name: {"page": page, "pages": pages, "count": len(items), "items": items}}
    )


def ref(n: int, updated: str = "2026-11-02T10:00:00Z") -> dict[str, Any]:
    return {
        "id": f"art{n}",
        "number": n,
        "collectionId": COLL,
        "slug": f"article-{n}",
        "status": "published",
        "hasDraft": False,
        "name": f"Reset your password {n}",
        "publicUrl": f"https://acme.helpscoutdocs.com/article/{n}-article-{n}",
        "popularity": 0.0,
        "viewCount": 1,
        "createdBy": 73423,
        "updatedBy": 73423,
        "createdAt": "2026-10-01T09:00:00Z",
        "updatedAt": updated,
        "lastPublishedAt": updated,
    }


def full(n: int, updated: str = "2026-11-02T10:00:00Z") -> httpx.Response:
    article = {
        **ref(n, updated),
        "text": f"<p>Ask for a new <b>reset link</b>.</p><p>Step {n}</p>",
        "categories": ["5214c83d45667acd25394b54"],
        "related": [],
        "keywords": ["password", "login"],
    }
    return httpx.Response(200, json={"article": article})


class Clock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 0.0

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s

    def clock(self) -> float:
        return self.now


def source(**overrides: Any) -> Any:
    from cstoolkit_helpscout import HelpScoutDocsSource

    config: dict[str, Any] = {s.name: s.default for s in HelpScoutDocsSource.settings}
    config.update(api_key="docs-secret-key")
    config.update(overrides)
    src = HelpScoutDocsSource("docs", config, MemoryKeyValue("docs"))
    clock = Clock()
    src.http.sleep, src.http.clock = clock.sleep, clock.clock
    src.test_clock = clock
    return src


def collections() -> None:
    respx.get(f"{BASE}/v1/collections").mock(
        return_value=envelope("collections", [{"id": COLL, "name": "Account"}])
    )


@respx.mock
def test_collections_and_pages_changed_articles_only_and_removed_ones(tmp_path: Any) -> None:
    collections()
    listing = respx.get(f"{BASE}/v1/collections/{COLL}/articles").mock(
        side_effect=[
            envelope("articles", [ref(1), ref(2)], 1, 2),
            envelope("articles", [ref(3)], 2, 2),
            envelope("articles", [ref(1), ref(3, "2026-11-05T10:00:00Z")]),
            envelope("articles", [ref(3, "2026-11-05T10:00:00Z")]),
        ]
    )
    reads = {
        n: respx.get(f"{BASE}/v1/articles/art{n}").mock(side_effect=[full(n), full(n, "x")])
        for n in (1, 2)
    }
    reads[3] = respx.get(f"{BASE}/v1/articles/art3").mock(
        side_effect=[full(3), full(3, "2026-11-05T10:00:00Z")]
    )
    store = open_store(tmp_path / "s.db")
    first = sync_source(store, "docs", source())
    assert (first.articles, first.total) == (3, 3)
    a = store_kb.article(store, "docs:art1")
    assert a is not None and a.section == "Account" and a.labels == ["password", "login"]
    assert a.body == "Ask for a new reset link.\n\nStep 1" and a.language == "en"
    assert a.url == "https://acme.helpscoutdocs.com/article/1-article-1"
    assert [c.request.url.params["page"] for c in listing.calls] == ["1", "2"]
    assert listing.calls[0].request.url.params["status"] == "published"
    assert listing.calls[0].request.headers["Authorization"].startswith("Basic ")
    second = sync_source(store, "docs", source())
    assert (second.articles, second.deleted, second.total) == (1, 1, 2)  # art3 changed, art2 gone
    assert reads[1].call_count == 1 and reads[3].call_count == 2  # unchanged ones not re-read
    third = sync_source(store, "docs", source())
    assert (third.articles, third.deleted, third.total) == (0, 1, 1)
    store.close()


@respx.mock
def test_rate_limits_and_server_errors_are_retried() -> None:
    respx.get(f"{BASE}/v1/collections").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(502),
            envelope("collections", [{"id": COLL, "name": "Account"}]),
        ]
    )
    respx.get(f"{BASE}/v1/collections/{COLL}/articles").mock(
        side_effect=[httpx.Response(429), envelope("articles", [ref(1)])]
    )
    respx.get(f"{BASE}/v1/articles/art1").mock(return_value=full(1))
    src = source(budget_share=1.0)
    pages = list(src.pull(None))
    assert [x.external_id for p in pages for x in p.articles] == ["art1"]
    assert src.stats.rate_limited == 2 and src.stats.retries == 3
    assert 3.0 in src.test_clock.sleeps


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"articles": {"items": [', "malformed"),
        (b'{"articles": []}', "no 'articles' items"),
        (b'{"articles": {"items": [], "pages": "many"}}', "pages is 'many'"),
        (b'{"articles": {"items": [{"name": "x"}], "pages": 1}}', "id"),
    ],
)
@respx.mock
def test_a_malformed_listing_is_one_clear_error(body: bytes, message: str) -> None:
    collections()
    respx.get(f"{BASE}/v1/collections/{COLL}/articles").mock(
        return_value=httpx.Response(200, content=body)
    )
    with pytest.raises(Exception) as err:
        list(source().pull(None))
    text = str(err.value)
    assert message in text and "helpscout_docs knowledge source 'docs'" in text
    assert "docs-secret-key" not in text


@respx.mock
def test_pages_that_repeat_the_same_articles_stop_the_walk() -> None:
    collections()
    respx.get(f"{BASE}/v1/collections/{COLL}/articles").mock(
        return_value=envelope("articles", [ref(1)], 1, 99)  # every page is page 1 again
    )
    respx.get(f"{BASE}/v1/articles/art1").mock(return_value=full(1))
    with pytest.raises(NoProgressError, match="brought no new record"):
        list(source().pull(None))
