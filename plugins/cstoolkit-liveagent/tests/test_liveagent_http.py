"""LiveAgent specifics: filter/sort shapes, paging edges, 429s, auth, malformed, writes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from liveagent_fake import API_KEY, FakeLiveAgent, make_backend

from cstoolkit.errors import AuthError, BackendError, ConfigError
from cstoolkit.model import EventKind, Role
from cstoolkit.plugin import Changes, Comment, NewTicket


@pytest.fixture
def fake() -> Iterator[FakeLiveAgent]:
    f = FakeLiveAgent(tickets=8)
    with f.mounted():
        yield f


def _lists(fake: FakeLiveAgent) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/api/v3/tickets" and r.method == "GET"]


def test_list_request_shape(fake: FakeLiveAgent) -> None:
    list(make_backend(fake, filters={"group": "dep1"}).pull(None))
    first = _lists(fake)[0]
    q = dict(first.url.params)
    assert json.loads(q["_filters"]) == [
        ["date_changed", "D>=", "2000-01-01 00:00:00"],
        ["departmentid", "E", "dep1"],
    ]
    assert (q["_sortField"], q["_sortDir"], q["_page"], q["_perPage"]) == (
        "date_changed",
        "ASC",
        "1",
        "6",
    )
    assert first.headers["apikey"] == API_KEY


def test_walk_ends_on_an_empty_page(fake: FakeLiveAgent) -> None:
    pages = list(make_backend(fake).pull(None))
    assert sum(len(p.tickets) for p in pages) == 8
    assert pages[-1].tickets == [] and pages[-1].cursor


def test_same_second_pages_on(fake: FakeLiveAgent) -> None:
    for t in fake.tickets.values():
        t["date_changed"] = t["date_created"] = "2024-01-01 00:00:00"
    pages = list(make_backend(fake).pull(None))
    assert sum(len(p.tickets) for p in pages) == 8
    requests = _lists(fake)
    # The first page moves the bound to the shared second; inside it the walk pages on.
    assert [r.url.params["_page"] for r in requests] == ["1", "1", "2", "3"]
    assert len({r.url.params["_filters"] for r in requests[1:]}) == 1


def test_deleted_and_spam_are_reported(fake: FakeLiveAgent) -> None:
    fake.tickets["t0001"]["status"] = "X"
    fake.tickets["t0002"]["status"] = "B"
    pages = list(make_backend(fake).pull(None))
    assert sorted(d for p in pages for d in p.deleted) == ["t0001", "t0002"]
    assert sum(len(p.tickets) for p in pages) == 6


def test_messages_become_events(fake: FakeLiveAgent) -> None:
    pages = list(make_backend(fake).pull(None))
    events = [e for p in pages for e in p.events if e.ticket_id == "la:t0002"]
    comments = [(e.author_role, e.public) for e in events if e.kind == EventKind.COMMENT]
    assert comments == [(Role.REQUESTER, True), (Role.AGENT, True), (Role.AGENT, False)]


def test_auth_failure(fake: FakeLiveAgent) -> None:
    with pytest.raises(AuthError) as err:
        list(make_backend(fake, api_key="bad-KEY-777").pull(None))
    assert err.value.exit_code == 2 and "bad-KEY-777" not in str(err.value)


def test_429_with_and_without_retry_after(fake: FakeLiveAgent) -> None:
    waits: list[float] = []
    fake.script("GET", "/api/v3/tickets", httpx.Response(429, headers={"Retry-After": "2"}))
    fake.script("GET", "/api/v3/tickets", httpx.Response(429, text="Too Many Requests"))
    backend = make_backend(fake, default_rate_limit_wait=6.0)
    backend.http.sleep = waits.append
    assert sum(len(p.tickets) for p in backend.pull(None)) == 8
    assert waits[:2] == [2.0, 6.0]


def test_malformed_payloads(fake: FakeLiveAgent) -> None:
    fake.script("GET", "/api/v3/tickets", httpx.Response(200, json={"tickets": []}))
    with pytest.raises(BackendError, match="/tickets: malformed page"):
        list(make_backend(fake).pull(None))
    bad = [{"id": "t1", "date_changed": "yesterday"}]
    fake.script("GET", "/api/v3/tickets", httpx.Response(200, json=bad))
    with pytest.raises(BackendError, match=r"\[0\]\.date_changed"):
        list(make_backend(fake).pull(None))


def test_apply_and_create(fake: FakeLiveAgent) -> None:
    backend = make_backend(fake)
    changes = Changes(
        status="solved",
        priority="high",
        assignee_id="la:ag002",
        add_tags=["vip"],
        comments=[Comment("note", public=False)],
    )
    assert backend.apply("t0001", changes).changed
    t = fake.tickets["t0001"]
    assert (t["status"], t["agentid"]) == ("R", "ag002")
    assert t["tags"] == ["seed", "priority-high", "vip"]
    note = next(r for r in fake.requests if r.method == "POST" and "messages" in r.url.path)
    assert json.loads(note.content) == {"message": "note", "type": "N"}
    assert not backend.apply("t0001", Changes(status="solved", priority="high")).changed
    ext = backend.create(NewTicket(subject="S", description="D", requester_email="x@example.org"))
    assert fake.tickets[ext]["subject"] == "S"


def test_filters_refused(fake: FakeLiveAgent) -> None:
    with pytest.raises(ConfigError, match="group"):
        make_backend(fake, filters={"brand": "b"})


def test_update_during_the_walk_loses_nothing(fake: FakeLiveAgent) -> None:
    """A ticket changed between two pages moves to the end; the keyset walk skips nothing."""
    pulled = make_backend(fake, per_page=3).pull(None)
    first = next(pulled)
    fake.touch(first.tickets[0].external_id)
    rest = list(pulled)
    got = {t.external_id for p in [first, *rest] for t in p.tickets}
    assert got == set(fake.tickets)
