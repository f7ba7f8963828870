"""Zammad specifics: request shapes, keyset paging edges, 429s, auth and malformed payloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from zammad_fake import TOKEN, FakeZammad, make_backend

from cstoolkit.errors import AuthError, BackendError, ConfigError
from cstoolkit.model import EventKind, Role
from cstoolkit.plugin import Changes, Comment, NewTicket


@pytest.fixture
def fake() -> Iterator[FakeZammad]:
    f = FakeZammad(tickets=9)
    with f.mounted():
        yield f


def _searches(fake: FakeZammad) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/api/v1/tickets/search"]


def test_search_request_is_shaped_as_documented(fake: FakeZammad) -> None:
    list(make_backend(fake, per_page=4).pull(None))
    first = _searches(fake)[0]
    q = dict(first.url.params)
    assert q["query"] == "updated_at:>=2000-01-01T00:00:00.000Z"
    assert (q["sort_by"], q["order_by"], q["expand"]) == ("updated_at", "asc", "true")
    assert (q["page"], q["per_page"]) == ("1", "4")
    assert first.headers["authorization"] == f"Token token={TOKEN}"
    assert "&" in str(first.url.query) and "," not in first.url.params["page"]


def test_walk_restarts_at_last_updated_and_stops_on_empty_page(fake: FakeZammad) -> None:
    pages = list(make_backend(fake, per_page=4).pull(None))
    assert sum(len(p.tickets) for p in pages) == 9
    assert pages[-1].tickets == []  # the empty page ends the walk and carries the cursor
    queries = [r.url.params["query"] for r in _searches(fake)]
    assert len(set(queries)) > 1  # the lower bound moved forward (keyset), not page=2,3...


def test_same_updated_at_pages_on(fake: FakeZammad) -> None:
    stamp = "2024-01-01T00:00:00.000Z"
    for ticket in fake.tickets.values():
        ticket["updated_at"] = stamp
        ticket["created_at"] = stamp
    list(make_backend(fake, per_page=4).pull(None))
    pages = [r.url.params["page"] for r in _searches(fake)]
    assert pages[-3:] == ["2", "3", "4"]


def test_resume_overlap(fake: FakeZammad) -> None:
    pages = list(make_backend(fake, overlap_seconds=60).pull(None))
    cursor = json.loads(pages[-1].cursor or "")
    newest = max(t["updated_at"] for t in fake.tickets.values())
    assert cursor["since"] < newest
    fake.touch(1)
    again = list(make_backend(fake, overlap_seconds=60).pull(pages[-1].cursor))
    assert "1" in {t.external_id for p in again for t in p.tickets}


def test_articles_become_events_internal_is_private(fake: FakeZammad) -> None:
    pages = list(make_backend(fake).pull(None))
    events = [e for p in pages for e in p.events if e.ticket_id == "zm:2"]
    assert events[0].kind == EventKind.CREATED
    comments = [(e.author_role, e.public) for e in events if e.kind == EventKind.COMMENT]
    assert comments == [(Role.REQUESTER, True), (Role.AGENT, True), (Role.AGENT, False)]


def test_bad_token_is_auth_error_without_the_token(fake: FakeZammad) -> None:
    with pytest.raises(AuthError) as err:
        list(make_backend(fake, token="wrong-token-XYZ-987").pull(None))
    assert err.value.exit_code == 2 and "wrong-token-XYZ-987" not in str(err.value)


def test_auth_failure_exits_2_through_the_cli(tmp_path: Path) -> None:
    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"error":"authentication failed"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cfg = tmp_path / "cstoolkit.toml"
        cfg.write_text(
            '[store]\npath = "store.db"\n[backends.zm]\nplugin = "zammad"\n'
            f'base_url = "http://127.0.0.1:{server.server_port}"\n'
            'token = "env:CST_TEST_ZAMMAD_TOKEN"\n'
        )
        env = {**os.environ, "CST_TEST_ZAMMAD_TOKEN": "secret-never-printed-1234"}
        done = subprocess.run(
            [sys.executable, "-m", "cstoolkit", "--config", str(cfg), "sync", "pull"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
    finally:
        server.shutdown()
    assert done.returncode == 2, done.stderr
    assert "secret-never-printed-1234" not in done.stdout + done.stderr
    assert "token" in done.stderr


def test_429_with_and_without_retry_after(fake: FakeZammad) -> None:
    waits: list[float] = []
    fake.script("GET", "/api/v1/tickets/search", httpx.Response(429, headers={"Retry-After": "3"}))
    fake.script("GET", "/api/v1/tickets/search", httpx.Response(429, text="slow down"))
    backend = make_backend(fake, default_rate_limit_wait=9.0)
    backend.http.sleep = waits.append
    pages = list(backend.pull(None))
    assert sum(len(p.tickets) for p in pages) == 9
    assert waits[:2] == [3.0, 9.0]


def test_malformed_search_page_names_the_path(fake: FakeZammad) -> None:
    fake.script("GET", "/api/v1/tickets/search", httpx.Response(200, json={"oops": 1}))
    with pytest.raises(BackendError, match="/api/v1/tickets/search"):
        list(make_backend(fake).pull(None))


def test_search_item_without_updated_at_is_backend_error(fake: FakeZammad) -> None:
    fake.script("GET", "/api/v1/tickets/search", httpx.Response(200, json=[{"id": 1}]))
    with pytest.raises(BackendError, match=r"\[0\]\.updated_at"):
        list(make_backend(fake).pull(None))


def test_ids_only_answer_is_a_clear_error(fake: FakeZammad) -> None:
    body = {"tickets": [1, 2], "tickets_count": 2, "assets": {}}
    fake.script("GET", "/api/v1/tickets/search", httpx.Response(200, json=body))
    with pytest.raises(BackendError, match="expand=true"):
        list(make_backend(fake).pull(None))


def test_apply_state_priority_owner_group_tags_and_note(fake: FakeZammad) -> None:
    backend = make_backend(fake)
    changes = Changes(
        status="pending",
        priority="high",
        assignee_id="zm:3",
        group_id="zm:2",
        add_tags=["vip"],
        remove_tags=["seed"],
        comments=[Comment("looked at it", public=False)],
    )
    assert backend.apply("1", changes).changed
    t = fake.tickets[1]
    assert (t["state"], t["priority"], t["owner_id"], t["group_id"]) == (
        "pending reminder",
        "3 high",
        3,
        2,
    )
    assert t["pending_time"] and fake.tags[1] == ["vip"]
    assert fake.articles[1][-1]["internal"] is True
    removes = [r for r in fake.requests if r.url.path == "/api/v1/tags/remove"]
    assert removes[0].method == "DELETE"
    assert json.loads(removes[0].content) == {"item": "seed", "object": "Ticket", "o_id": 1}
    again = Changes(status="pending", priority="high", assignee_id="zm:3", add_tags=["vip"])
    assert not backend.apply("1", again).changed


def test_urgent_without_a_mapped_priority_is_written_as_high(fake: FakeZammad) -> None:
    backend = make_backend(fake, mapping=None)
    backend.apply("1", Changes(priority="urgent"))
    assert fake.tickets[1]["priority"] == "3 high"


def test_create_payload(fake: FakeZammad) -> None:
    ext = make_backend(fake).create(
        NewTicket(subject="New", description="Body", requester_email="a@example.org", tags=["x"])
    )
    post = next(r for r in fake.requests if r.method == "POST" and r.url.path == "/api/v1/tickets")
    body = json.loads(post.content)
    assert body["customer_id"] == "guess:a@example.org" and body["group"] == "Users"
    assert body["article"]["body"] == "Body" and body["tags"] == "x"
    assert fake.tickets[int(ext)]["title"] == "New"


def test_filters(fake: FakeZammad) -> None:
    with pytest.raises(ConfigError, match="mailbox"):
        make_backend(fake, filters={"mailbox": "x"})
    pages = list(make_backend(fake, filters={"group": "Sales"}).pull(None))
    assert {t.group_id for p in pages for t in p.tickets} == {"zm:2"}


def test_update_during_the_walk_loses_nothing(fake: FakeZammad) -> None:
    """A ticket updated between two pages moves to the end; the keyset walk skips nothing."""
    pulled = make_backend(fake, per_page=4).pull(None)
    first = next(pulled)
    fake.touch(int(first.tickets[0].external_id))
    rest = list(pulled)
    got = {t.external_id for p in [first, *rest] for t in p.tickets}
    assert got == {str(t) for t in fake.tickets}
