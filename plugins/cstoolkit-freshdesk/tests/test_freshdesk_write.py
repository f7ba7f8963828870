"""Writing to Freshdesk: diffed updates, the re-read conflict check, replies, notes, create."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from cstoolkit_freshdesk import FreshdeskBackend
from cstoolkit_freshdesk.backend import marker_tag
from freshdesk_fake import FakeFreshdesk, make_backend

from cstoolkit.errors import BackendError, CapabilityError, ConflictError
from cstoolkit.plugin import CONFLICT_CHECK, Changes, Comment, NewTicket
from cstoolkit.store.kv import MemoryKeyValue


@pytest.fixture
def fake() -> Iterator[FakeFreshdesk]:
    fd = FakeFreshdesk(tickets=5)
    with fd.mounted():
        yield fd


def sent(fake: FakeFreshdesk, method: str) -> list[tuple[str, dict[str, object]]]:
    return [(r.url.path, json.loads(r.content)) for r in fake.requests if r.method == method]


def updated(fake: FakeFreshdesk, tid: int) -> datetime:
    return datetime.fromisoformat(fake.tickets[tid]["updated_at"])


def test_capabilities_are_honest() -> None:
    assert CONFLICT_CHECK not in FreshdeskBackend.capabilities


def test_apply_sends_only_what_differs(fake: FakeFreshdesk) -> None:
    backend = make_backend(fake)
    changes = Changes(
        status="solved",
        priority="low",  # ticket 4 has priority 1 already
        assignee_id="fd:902",
        group_id="fd:8",  # already
        add_tags=["vip"],
        remove_tags=["seed"],
        custom_fields={"cf_product": "gizmo"},
    )
    result = backend.apply("fd:4", changes)
    assert result.changed and result.updated_at == updated(fake, 4)
    assert sent(fake, "PUT") == [
        (
            "/api/v2/tickets/4",
            {
                "status": 4,
                "responder_id": 902,
                "tags": ["vip"],
                "custom_fields": {"cf_product": "gizmo"},
            },
        )
    ]
    assert not backend.apply("4", changes).changed
    assert len(sent(fake, "PUT")) == 1


def test_a_stale_plan_is_refused_by_the_reread_check(fake: FakeFreshdesk) -> None:
    planned_against = updated(fake, 2)
    fake.update(2, {"priority": 3})
    stale = Changes(status="pending", expected_updated_at=planned_against)
    with pytest.raises(ConflictError, match="changed since the plan"):
        make_backend(fake).apply("2", stale)
    assert sent(fake, "PUT") == []
    fresh = Changes(status="pending", expected_updated_at=updated(fake, 2))
    ok = make_backend(fake).apply("2", fresh)
    assert ok.changed


def test_reply_and_private_note(fake: FakeFreshdesk) -> None:
    backend = make_backend(fake)
    backend.apply(
        "1",
        Changes(comments=[Comment("Fixed for you", public=True), Comment("root cause: x")]),
    )
    assert sent(fake, "POST") == [
        ("/api/v2/tickets/1/reply", {"body": "Fixed for you"}),
        ("/api/v2/tickets/1/notes", {"body": "root cause: x", "private": True}),
    ]
    assert [(c["body_text"], c["private"]) for c in fake.conversations[1][-2:]] == [
        ("Fixed for you", False),
        ("root cause: x", True),
    ]


def test_a_status_freshdesk_lacks_needs_a_mapping(fake: FakeFreshdesk) -> None:
    with pytest.raises(BackendError, match="on_hold"):
        make_backend(fake).apply("1", Changes(status="on_hold"))
    mapped = make_backend(fake, mapping={"statuses": {"7": "on_hold"}})
    mapped.apply("1", Changes(status="on_hold"))
    assert fake.tickets[1]["status"] == 7


def test_a_failed_note_is_not_retried(fake: FakeFreshdesk) -> None:
    fake.script("POST", "/api/v2/tickets/1/notes", httpx.Response(500))
    with pytest.raises(BackendError, match="not retried"):
        make_backend(fake).apply("1", Changes(comments=[Comment("once only")]))
    assert len(sent(fake, "POST")) == 1


def test_read_only(fake: FakeFreshdesk) -> None:
    backend = make_backend(fake, read_only=True)
    with pytest.raises(CapabilityError):
        backend.apply("1", Changes(priority="high"))
    with pytest.raises(CapabilityError):
        backend.create(NewTicket(subject="s", description="d", requester_email="a@b.c"))
    assert [r for r in fake.requests if r.method != "GET"] == []


def test_create_with_marker_state_and_search(fake: FakeFreshdesk) -> None:
    state = MemoryKeyValue("fd")
    backend = make_backend(fake, state=state)
    new = NewTicket(
        subject="Mirrored",
        description="From elsewhere",
        requester_email="new@example.net",
        channel="phone",
        priority="urgent",
        marker="cst-mirror:zd:77",
    )
    ext = backend.create(new)
    (path, body) = sent(fake, "POST")[0]
    assert path == "/api/v2/tickets"
    assert body["tags"] == [marker_tag("cst-mirror:zd:77")]
    assert (body["source"], body["priority"], body["status"]) == (3, 4, 2)
    assert backend.create(new) == ext  # found in the instance state, not created again
    # a fresh state (crash between create and save): found through Freshdesk search
    other = make_backend(fake, state=MemoryKeyValue("fd"))
    assert other.find_by_marker("cst-mirror:zd:77") == ext
    assert other.find_by_marker("cst-mirror:zd:78") is None
    assert sum(1 for r in fake.requests if r.method == "POST") == 1


def test_fetch(fake: FakeFreshdesk) -> None:
    backend = make_backend(fake)
    ticket = backend.fetch("fd:2")
    assert ticket is not None and ticket.updated_at == updated(fake, 2)
    assert ticket.description == "Help with 2"
    fake.tickets[2]["deleted"] = True
    assert backend.fetch("2") is None
    assert backend.fetch("404") is None
