"""Zendesk Help Center articles as a knowledge source: the incremental article export's pages,
cursor, rate limits, server errors, malformed bodies and a cursor that does not advance
(respx, recorded-shape responses, no network)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from cstoolkit.backends import NoProgressError
from cstoolkit.knowledge.sync import sync_source
from cstoolkit.store import knowledge as store_kb
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue

BASE = "https://acme.zendesk.com"
PATH = "/api/v2/help_center/incremental/articles"


def article(n: int, *, updated: str = "2026-11-02T10:00:00Z", **extra: Any) -> dict[str, Any]:
    """An article as the export returns it (the documented fields this source reads)."""
    return {
        "id": 360000 + n,
        "url": f"{BASE}/api/v2/help_center/en-us/articles/{360000 + n}.json",
        "html_url": f"{BASE}/hc/en-us/articles/{360000 + n}-Article-{n}",
        "author_id": 1,
        "comments_disabled": False,
        "draft": False,
        "promoted": False,
        "position": 0,
        "vote_sum": 0,
        "vote_count": 0,
        "section_id": 200 + n % 2,
        "created_at": "2026-10-01T09:00:00Z",
        "updated_at": updated,
        "edited_at": updated,
        "title": f"How to reset password {n}",
        "source_locale": "en-us",
        "locale": "en-us",
        "outdated": False,
        "outdated_locales": [],
        "permission_group_id": 1,
        "user_segment_id": None,
        "label_names": ["password"],
        "body": f"<p>Open the <b>login</b> page and ask for a reset link.</p><p>Step {n}.</p>",
        **extra,
    }


def page(items: list[dict[str, Any]], end_time: int | None, *, last: bool) -> httpx.Response:
    body = {
        "articles": items,
        "count": len(items),
        "end_time": end_time,
        "next_page": None if last else f"{BASE}{PATH}.json?start_time={end_time}",
    }
    return httpx.Response(200, json=body)


class Clock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def source(clock: Clock | None = None, **overrides: Any) -> Any:
    from cstoolkit_zendesk import ZendeskGuideSource

    config: dict[str, Any] = {s.name: s.default for s in ZendeskGuideSource.settings}
    config.update(subdomain="acme", email="ops@acme.example", token="s3cret-token")
    config.update(overrides)
    src = ZendeskGuideSource("guide", config, MemoryKeyValue("guide"))
    if not config["email"]:
        return src
    clock = clock or Clock()
    src.http.sleep = clock.sleep
    src.http.clock = clock.clock
    return src


def starts(route: Any) -> list[str]:
    return [call.request.url.params["start_time"] for call in route.calls]


@respx.mock
def test_pages_follow_end_time_and_the_cursor_resumes(tmp_path: Any) -> None:
    route = respx.get(f"{BASE}{PATH}").mock(
        side_effect=[
            page([article(1), article(2)], 1762077600, last=False),
            page([article(3, draft=True), article(4)], 1762081200, last=True),
            page(
                [article(2, updated="2026-11-03T10:00:00Z", title="Reset it")],
                1762164000,
                last=True,
            ),
        ]
    )
    store = open_store(tmp_path / "s.db")
    first = sync_source(store, "guide", source())
    assert (first.pages, first.articles, first.total) == (2, 3, 3)
    assert starts(route) == ["0", "1762077600"]
    stored = {a.external_id: a for a in store_kb.articles(store)}
    a1 = stored["360001"]
    assert a1.language == "en" and a1.section == "201" and a1.labels == ["password"]
    assert a1.url == f"{BASE}/hc/en-us/articles/360001-Article-1"
    assert a1.body == "Open the login page and ask for a reset link.\n\nStep 1."
    assert "360003" not in stored  # a draft is not a public answer
    again = sync_source(store, "guide", source())
    assert starts(route)[-1] == "1762081200"  # the last end_time
    assert again.articles == 1 and store_kb.article(store, "guide:360002").title == "Reset it"  # type: ignore[union-attr]
    request = route.calls[0].request
    assert request.headers["Authorization"].startswith("Basic ")
    store.close()


@respx.mock
def test_429_with_and_without_retry_after_and_5xx_are_retried() -> None:
    respx.get(f"{BASE}{PATH}").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "TooManyRequests"}),
            httpx.Response(429, text="<html>Too Many Requests</html>"),
            httpx.Response(503),
            page([article(1)], 1762077600, last=True),
        ]
    )
    clock = Clock()
    src = source(clock, budget_share=1.0)
    pages = list(src.pull(None))
    assert [a.external_id for p in pages for a in p.articles] == ["360001"]
    stats = src.stats.as_dict()
    assert stats["rate_limited"] == 2 and stats["retries"] == 3
    assert 7.0 in clock.sleeps


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"articles": [{"id": 1, "title"', "malformed"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"count": 0}', "no 'articles' list"),
        (
            json.dumps({"articles": [article(1, updated="yesterday")], "next_page": None}).encode(),
            "updated_at",
        ),
        (
            json.dumps({"articles": [article(1)], "next_page": "x", "end_time": "soon"}).encode(),
            "end_time",
        ),
    ],
)
@respx.mock
def test_a_malformed_page_is_one_clear_error(body: bytes, message: str) -> None:
    respx.get(f"{BASE}{PATH}").mock(return_value=httpx.Response(200, content=body))
    with pytest.raises(Exception) as err:
        list(source().pull(None))
    text = str(err.value)
    assert message in text and "zendesk_guide knowledge source 'guide'" in text
    assert "s3cret-token" not in text and "\n" not in text


@respx.mock
def test_an_end_time_that_does_not_advance_stops_the_walk() -> None:
    full = [article(n) for n in range(3)]
    respx.get(f"{BASE}{PATH}").mock(return_value=page(full, 1762077600, last=False))
    with pytest.raises(NoProgressError, match="start_time 1762077600 was asked for 3 times"):
        list(source().pull('{"v": 1, "start_time": 1762077600}'))


@respx.mock
def test_an_empty_help_center_and_an_unreadable_cursor() -> None:
    respx.get(f"{BASE}{PATH}").mock(return_value=page([], None, last=True))
    pages = list(source().pull(None))
    assert len(pages) == 1 and pages[0].articles == [] and pages[0].cursor is None
    from cstoolkit.errors import BackendError

    with pytest.raises(BackendError, match="unreadable cursor"):
        list(source().pull("garbage"))


def test_missing_credentials_are_a_config_error() -> None:
    from cstoolkit.errors import ConfigError

    src = source(email=None)
    with pytest.raises(ConfigError, match="set email and token"):
        _ = src.http
