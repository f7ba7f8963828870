"""Freshdesk Solutions as a knowledge source: categories, folders and articles walked through
Link headers; changed articles only; removed ones dropped; rate limits, server errors,
malformed bodies and a Link that does not advance (respx, recorded-shape responses)."""

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

BASE = "https://acme.freshdesk.com"


def art(n: int, *, status: int = 2, updated: str = "2026-11-02T10:00:00Z") -> dict[str, Any]:
    return {
        "id": 5000 + n,
        "type": 1,
        "category_id": 1,
        "folder_id": 10,
        "hits": 0,
        "status": status,
        "seo_data": {},
        "description": f"<p>Reset <b>link</b> number {n}</p>",
        "description_text": f"Reset link number {n}",
        "title": f"Reset your password {n}",
        "created_at": "2026-10-01T09:00:00Z",
        "updated_at": updated,
        "tags": ["login"],
        "thumbs_up": 0,
        "thumbs_down": 0,
    }


class Clock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 100.0

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s

    def clock(self) -> float:
        return self.now


def source(**overrides: Any) -> Any:
    from cstoolkit_freshdesk import FreshdeskSolutionsSource

    config: dict[str, Any] = {s.name: s.default for s in FreshdeskSolutionsSource.settings}
    config.update(domain="acme", api_key="fd-secret-key", portal_url="https://help.acme.example")
    config.update(overrides)
    src = FreshdeskSolutionsSource("fd", config, MemoryKeyValue("fd"))
    clock = Clock()
    src.http.sleep, src.http.clock = clock.sleep, clock.clock
    src.test_clock = clock
    return src


def tree(articles_pages: list[httpx.Response]) -> Any:
    respx.get(f"{BASE}/api/v2/solutions/categories").mock(
        return_value=httpx.Response(200, json=[{"id": 1, "name": "General"}])
    )
    respx.get(f"{BASE}/api/v2/solutions/categories/1/folders").mock(
        return_value=httpx.Response(200, json=[{"id": 10, "name": "Login", "category_id": 1}])
    )
    return respx.get(f"{BASE}/api/v2/solutions/folders/10/articles").mock(
        side_effect=articles_pages
    )


def linked(items: list[dict[str, Any]], page: int | None) -> httpx.Response:
    headers = {}
    if page is not None:
        headers["Link"] = (
            f'<{BASE}/api/v2/solutions/folders/10/articles?per_page=100&page={page}>; rel="next"'
        )
    return httpx.Response(200, json=items, headers=headers)


@respx.mock
def test_the_tree_is_walked_changed_articles_stored_and_removed_ones_dropped(
    tmp_path: Any,
) -> None:
    route = tree(
        [
            linked([art(1), art(2, status=1)], 2),
            linked([art(3)], None),
            linked([art(1), art(3, updated="2026-11-05T10:00:00Z")], None),
        ]
    )
    store = open_store(tmp_path / "s.db")
    first = sync_source(store, "fd", source())
    assert (first.articles, first.total) == (2, 2)  # the draft is not stored
    a = store_kb.article(store, "fd:5001")
    assert a is not None and a.section == "Login" and a.labels == ["login"]
    assert a.body == "Reset link number 1" and a.language == "en"
    assert a.url == "https://help.acme.example/support/solutions/articles/5001"
    assert route.calls[1].request.url.params["page"] == "2"
    assert route.calls[0].request.url.params["per_page"] == "100"
    assert route.calls[0].request.headers["Authorization"].startswith("Basic ")
    second = sync_source(store, "fd", source())
    assert (second.articles, second.deleted, second.total) == (1, 0, 2)  # only 5003 changed
    respx.get(f"{BASE}/api/v2/solutions/folders/10/articles").mock(
        return_value=linked([art(3, updated="2026-11-05T10:00:00Z")], None)
    )
    third = sync_source(store, "fd", source())
    assert (third.articles, third.deleted, third.total) == (0, 1, 1)  # 5001 is gone
    store.close()


@respx.mock
def test_rate_limits_and_server_errors_are_retried() -> None:
    tree(
        [
            httpx.Response(429, headers={"Retry-After": "4"}),
            httpx.Response(429),
            httpx.Response(500),
            linked([art(1)], None),
        ]
    )
    src = source(budget_share=1.0)
    pages = list(src.pull(None))
    assert [x.external_id for p in pages for x in p.articles] == ["5001"]
    assert src.stats.rate_limited == 2 and src.stats.retries == 3
    assert 4.0 in src.test_clock.sleeps


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"id": 1, "title"', "malformed"),
        (b'{"articles": []}', "expected a JSON array"),
        (b'[{"id": 5, "status": 2, "title": "x", "updated_at": "later"}]', "updated_at"),
        (b'[{"status": 2, "title": "x"}]', "id"),
    ],
)
@respx.mock
def test_a_malformed_listing_is_one_clear_error(body: bytes, message: str) -> None:
    tree([httpx.Response(200, content=body)])
    with pytest.raises(Exception) as err:
        list(source().pull(None))
    text = str(err.value)
    assert message in text and "freshdesk_solutions knowledge source 'fd'" in text
    assert "fd-secret-key" not in text


@respx.mock
def test_a_link_that_does_not_advance_stops_the_walk() -> None:
    respx.get(f"{BASE}/api/v2/solutions/categories").mock(
        return_value=httpx.Response(
            200,
            json=[{"id": 1, "name": "General"}],
            headers={"Link": f'<{BASE}/api/v2/solutions/categories?page=2>; rel="next"'},
        )
    )
    respx.get(f"{BASE}/api/v2/solutions/categories/1/folders").mock(
        return_value=httpx.Response(200, json=[])
    )
    with pytest.raises(NoProgressError, match="no progress"):
        list(source().pull(None))
