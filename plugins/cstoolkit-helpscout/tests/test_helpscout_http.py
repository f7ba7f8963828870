"""Help Scout specifics: OAuth token cache and renewal, HAL paging edges, 429s, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from helpscout_fake import CLIENT_SECRET, FakeHelpScout, iso, make_backend

from cstoolkit import model
from cstoolkit.errors import AuthError, BackendError, ConfigError
from cstoolkit.model import EventKind, Role, Status
from cstoolkit.plugin import Changes, Comment, NewTicket
from cstoolkit.store.kv import MemoryKeyValue


@pytest.fixture
def fake() -> Iterator[FakeHelpScout]:
    f = FakeHelpScout(conversations=10, page_size=4)
    with f.mounted():
        yield f


def _list_requests(fake: FakeHelpScout) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/v2/conversations" and r.method == "GET"]


def test_listing_request_is_shaped_as_documented(fake: FakeHelpScout) -> None:
    pages = list(make_backend(fake).pull(None))
    first = _list_requests(fake)[0]
    q = dict(first.url.params)
    assert q["status"] == "all" and q["embed"] == "threads"
    assert q["sortField"] == "modifiedAt" and q["sortOrder"] == "asc"
    assert q["modifiedSince"] == "2000-01-01T00:00:00Z" and q["page"] == "1"
    assert first.headers["authorization"] == "Bearer tok1-abcdef0123"
    assert [len(p.tickets) for p in pages] == [4, 3, 3]  # keyset restarts re-read one each


def test_token_cached_in_state_never_the_secret(fake: FakeHelpScout) -> None:
    state = MemoryKeyValue("hs")
    list(make_backend(fake, state=state).pull(None))
    list(make_backend(fake, state=state).pull(None))
    assert fake.tokens_issued == ["tok1-abcdef0123"]  # the second run reused the cached token
    stored = json.dumps({k: state.get(k) for k in state.keys()})  # noqa: SIM118
    assert "tok1-abcdef0123" in stored and CLIENT_SECRET not in stored


def test_token_renewed_before_expiry(fake: FakeHelpScout, monkeypatch: pytest.MonkeyPatch) -> None:
    state = MemoryKeyValue("hs")
    list(make_backend(fake, state=state).pull(None))
    later = model.now() + timedelta(seconds=fake.expires_in - 100)  # inside the renew window
    monkeypatch.setattr("cstoolkit_helpscout.backend.now", lambda: later)
    list(make_backend(fake, state=state).pull(None))
    assert fake.tokens_issued == ["tok1-abcdef0123", "tok2-abcdef0123"]
    assert state.get("oauth_token")["access_token"] == "tok2-abcdef0123"


def test_revoked_token_is_renewed_once(fake: FakeHelpScout) -> None:
    state = MemoryKeyValue("hs")
    list(make_backend(fake, state=state).pull(None))
    fake.valid_tokens.clear()  # revoked upstream
    pages = list(make_backend(fake, state=state).pull(None))
    assert sum(len(p.tickets) for p in pages) == 10
    assert len(fake.tokens_issued) == 2


def test_bad_client_secret_is_auth_error_without_the_secret(fake: FakeHelpScout) -> None:
    backend = make_backend(fake, client_secret="wrong-secret-VALUE-42")
    with pytest.raises(AuthError) as err:
        list(backend.pull(None))
    assert err.value.exit_code == 2
    assert "wrong-secret-VALUE-42" not in str(err.value)
    assert "client_secret" in str(err.value)


def test_empty_listing_still_yields_a_cursor(fake: FakeHelpScout) -> None:
    fake.conversations.clear()
    pages = list(make_backend(fake).pull(None))
    assert len(pages) == 1 and pages[0].tickets == [] and pages[0].cursor


def test_listing_without_embedded_is_an_empty_page(fake: FakeHelpScout) -> None:
    fake.script(
        "GET",
        "/v2/conversations",
        httpx.Response(
            200,
            json={
                "_links": {},
                "page": {"size": 25, "totalElements": 0, "totalPages": 0, "number": 1},
            },
        ),
    )
    pages = list(make_backend(fake).pull(None))
    assert [len(p.tickets) for p in pages] == [0]


def test_walk_restarts_at_the_last_stamp_and_ends_without_next_link(fake: FakeHelpScout) -> None:
    list(make_backend(fake).pull(None))
    requests = _list_requests(fake)
    bounds = [r.url.params["modifiedSince"] for r in requests]
    assert bounds == sorted(bounds) and len(set(bounds)) == 3
    assert all(r.url.params["page"] == "1" for r in requests)


def test_same_stamp_pages_on(fake: FakeHelpScout) -> None:
    for conv in fake.conversations.values():
        conv["createdAt"] = conv["userUpdatedAt"] = "2024-01-01T00:00:00Z"
        conv["closedAt"] = None
    pages = list(make_backend(fake).pull(None))
    assert sum(len(p.tickets) for p in pages) == 10
    assert [r.url.params["page"] for r in _list_requests(fake)] == ["1", "1", "2", "3"]


def test_update_during_the_walk_loses_nothing(fake: FakeHelpScout) -> None:
    """A conversation modified between two pages moves to the end; nothing is skipped."""
    backend = make_backend(fake)
    pulled = backend.pull(None)
    first = next(pulled)
    fake.touch(int(first.tickets[0].external_id))
    rest = list(pulled)
    got = {t.external_id for p in [first, *rest] for t in p.tickets}
    assert got == {str(c) for c in fake.conversations}


def test_429_with_help_scout_retry_header(fake: FakeHelpScout) -> None:
    waits: list[float] = []
    fake.script(
        "GET",
        "/v2/conversations",
        httpx.Response(
            429,
            headers={"X-RateLimit-Retry-After": "7", "X-RateLimit-Remaining-Minute": "0"},
            text="Too many requests",
        ),
    )
    backend = make_backend(fake)
    backend.http.sleep = waits.append
    pages = list(backend.pull(None))
    assert sum(len(p.tickets) for p in pages) == 10
    assert 7.0 in waits and backend.stats.rate_limited == 1


def test_429_without_headers_waits_the_default(fake: FakeHelpScout) -> None:
    waits: list[float] = []
    fake.script("GET", "/v2/conversations", httpx.Response(429))
    backend = make_backend(fake, default_rate_limit_wait=11.0)
    backend.http.sleep = waits.append
    list(backend.pull(None))
    assert 11.0 in waits


def test_spent_minute_window_holds_the_next_request(fake: FakeHelpScout) -> None:
    """X-RateLimit-Remaining-Minute: 0 with X-RateLimit-Retry-After on a 200: wait first."""
    waits: list[float] = []
    fake.list_headers.append(
        {
            "X-RateLimit-Limit-Minute": "200",
            "X-RateLimit-Remaining-Minute": "0",
            "X-RateLimit-Retry-After": "9",
        }
    )
    backend = make_backend(fake)
    backend.http.sleep = waits.append
    backend.http.clock = lambda: 1000.0  # frozen: the whole announced wait is still ahead
    list(backend.pull(None))
    assert waits and waits[0] == 9.0 and backend.stats.rate_limited == 0


def test_malformed_listing_names_the_path(fake: FakeHelpScout) -> None:
    fake.script(
        "GET", "/v2/conversations", httpx.Response(200, json={"_embedded": {"conversations": {}}})
    )
    with pytest.raises(BackendError, match=r"_embedded\.conversations is not a list"):
        list(make_backend(fake).pull(None))


def test_non_json_listing_is_backend_error(fake: FakeHelpScout) -> None:
    fake.script("GET", "/v2/conversations", httpx.Response(200, text="<html>oops"))
    with pytest.raises(BackendError, match="malformed JSON"):
        list(make_backend(fake).pull(None))


def test_conversation_without_created_at_is_backend_error(fake: FakeHelpScout) -> None:
    body = {"_embedded": {"conversations": [{"id": 1, "status": "active"}]}, "_links": {}}
    fake.script("GET", "/v2/conversations", httpx.Response(200, json=body))
    with pytest.raises(BackendError, match="conversation 1"):
        list(make_backend(fake).pull(None))


def test_threads_become_events(fake: FakeHelpScout) -> None:
    backend = make_backend(fake)
    cid = sorted(fake.conversations)[1]  # n=2: customer thread + agent reply
    backend.apply(str(cid), Changes(comments=[Comment("internal", public=False)]))
    pages = list(make_backend(fake).pull(None))
    events = [e for p in pages for e in p.events if e.ticket_id == f"hs:{cid}"]
    kinds = [(e.kind, e.author_role, e.public) for e in events]
    assert (EventKind.CREATED, Role.REQUESTER, None) in kinds
    assert (EventKind.COMMENT, Role.REQUESTER, True) in kinds
    assert (EventKind.COMMENT, Role.AGENT, True) in kinds
    assert (EventKind.COMMENT, Role.AGENT, False) in kinds  # the note is private


def test_resume_rereads_overlap_and_picks_up_changes(fake: FakeHelpScout) -> None:
    pages = list(make_backend(fake, overlap_seconds=120).pull(None))
    cursor = json.loads(pages[-1].cursor or "")
    newest = max(c["userUpdatedAt"] for c in fake.conversations.values())
    assert cursor["since"] < newest and cursor["page"] == 1
    cid = sorted(fake.conversations)[0]
    fake.touch(cid)
    again = list(make_backend(fake, overlap_seconds=120).pull(pages[-1].cursor))
    got = {t.external_id for p in again for t in p.tickets}
    assert str(cid) in got
    assert _list_requests(fake)[-1].url.params["modifiedSince"] == cursor["since"]


def test_apply_priority_tag_status_and_assignee(fake: FakeHelpScout) -> None:
    backend = make_backend(fake)
    cid = sorted(fake.conversations)[0]
    changes = Changes(status="pending", priority="urgent", assignee_id="hs:9")
    result = backend.apply(str(cid), changes)
    assert result.changed
    conv = fake.conversations[cid]
    assert conv["status"] == "pending" and conv["assignee"]["id"] == 9
    assert "priority-urgent" in [t["tag"] for t in conv["tags"]]
    patches = [json.loads(r.content) for r in fake.requests if r.method == "PATCH"]
    assert {"op": "replace", "path": "/status", "value": "pending"} in patches
    ticket = backend.fetch(str(cid))
    assert ticket is not None and ticket.status == Status.PENDING and ticket.priority == "urgent"


def test_filters_refuse_what_help_scout_cannot_filter(fake: FakeHelpScout) -> None:
    with pytest.raises(ConfigError, match=r"filters\.brand"):
        make_backend(fake, filters={"brand": "x"})
    list(make_backend(fake, filters={"mailbox": [321, 322]}).pull(None))
    assert _list_requests(fake)[0].url.params["mailbox"] == "321,322"


def test_create_posts_a_customer_thread_and_reads_resource_id(fake: FakeHelpScout) -> None:
    backend = make_backend(fake)
    ext = backend.create(NewTicket(subject="S", description="D", requester_email="x@example.org"))
    posts = (r for r in fake.requests if r.method == "POST")
    post = next(r for r in posts if r.url.path == "/v2/conversations")
    body: dict[str, Any] = json.loads(post.content)
    assert body["mailboxId"] == 321 and body["threads"][0]["type"] == "customer"
    assert fake.conversations[int(ext)]["subject"] == "S"


def test_iso_helper_is_utc() -> None:
    assert iso(0) == "1970-01-01T00:00:00Z"
