"""Writing to Zendesk: diffed updates, safe_update conflicts, comments, create and markers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from zendesk_fake import FakeZendesk, iso, make_backend

from cstoolkit.errors import BackendError, CapabilityError, ConflictError
from cstoolkit.plugin import Changes, Comment, NewTicket


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    zd = FakeZendesk(tickets=6)
    with zd.mounted():
        yield zd


def puts(fake: FakeZendesk) -> list[dict[str, object]]:
    return [json.loads(r.content)["ticket"] for r in fake.requests if r.method == "PUT"]


def updated_at(fake: FakeZendesk, tid: int) -> datetime:
    return datetime.fromisoformat(fake.tickets[tid]["updated_at"])


def test_apply_sends_only_what_differs(fake: FakeZendesk) -> None:
    fake.tickets[2]["tags"] = ["seed", "vip"]
    backend = make_backend(fake)
    assert fake.tickets[2]["status"] == "pending"
    changes = Changes(
        status="pending",  # already so: not sent
        priority="urgent",
        assignee_id="zd:2",
        group_id="zd:11",
        add_tags=["vip", "escalated"],
        remove_tags=["seed", "absent"],
        custom_fields={"555": "v2", "556": "new value"},
    )
    result = backend.apply("zd:2", changes)
    assert result.changed and result.updated_at == updated_at(fake, 2)
    body = puts(fake)[0]
    assert body == {
        "priority": "urgent",
        "assignee_id": 2,
        "group_id": 11,
        "additional_tags": ["escalated"],
        "remove_tags": ["seed"],
        "custom_fields": [{"id": 556, "value": "new value"}],
    }
    again = backend.apply("2", changes)
    assert not again.changed and again.detail == "no change"
    assert len(puts(fake)) == 1


def test_on_hold_maps_to_hold_and_field_names_map_back(fake: FakeZendesk) -> None:
    backend = make_backend(fake, mapping={"fields": {"555": "product"}})
    backend.apply("1", Changes(status="on_hold", custom_fields={"product": "gizmo"}))
    assert puts(fake)[0] == {"status": "hold", "custom_fields": [{"id": 555, "value": "gizmo"}]}
    assert fake.tickets[1]["status"] == "hold"


def test_safe_update_carries_the_stamp(fake: FakeZendesk) -> None:
    backend = make_backend(fake)
    stamp = fake.tickets[4]["updated_at"]
    result = backend.apply("4", Changes(priority="low", expected_updated_at=updated_at(fake, 4)))
    assert result.changed
    assert puts(fake)[0] == {"priority": "low", "safe_update": True, "updated_stamp": stamp}


def test_a_stale_plan_is_refused_before_writing(fake: FakeZendesk) -> None:
    planned_against = updated_at(fake, 4)
    fake.touch(4)
    with pytest.raises(ConflictError, match="changed since the plan"):
        make_backend(fake).apply("4", Changes(priority="low", expected_updated_at=planned_against))
    assert puts(fake) == []


def test_a_change_between_read_and_write_is_refused_by_safe_update(fake: FakeZendesk) -> None:
    planned_against = updated_at(fake, 4)

    def someone_else_writes_first(request: httpx.Request) -> None:
        fake.touch(4)  # the agent's update lands after our GET, before our PUT

    fake.script("PUT", "/api/v2/tickets/4.json", someone_else_writes_first)
    with pytest.raises(ConflictError, match="safe_update"):
        make_backend(fake).apply("4", Changes(priority="low", expected_updated_at=planned_against))
    assert fake.tickets[4]["priority"] != "low"


def test_422_update_conflict_is_a_conflict_too(fake: FakeZendesk) -> None:
    fake.script(
        "PUT",
        "/api/v2/tickets/4.json",
        httpx.Response(422, json={"error": "UpdateConflict", "description": "stale"}),
    )
    with pytest.raises(ConflictError):
        make_backend(fake).apply("4", Changes(priority="low"))


def test_comments_public_reply_and_internal_note(fake: FakeZendesk) -> None:
    backend = make_backend(fake)
    changes = Changes(
        status="pending",
        comments=[Comment("We are on it", public=True), Comment("checked logs", public=False)],
        expected_updated_at=updated_at(fake, 5),
    )
    assert backend.apply("5", changes).changed
    first, second = puts(fake)
    assert first["comment"] == {"body": "We are on it", "public": True}
    assert first["status"] == "pending" and first["safe_update"] is True
    assert second == {
        "comment": {"body": "checked logs", "public": False},
        "safe_update": True,
        "updated_stamp": iso(fake.now - 1),  # the stamp the first update returned
    }
    bodies = [
        (c["body"], c["public"])
        for a in fake.audits
        if a["ticket_id"] == 5
        for c in a["child_events"]
        if c["event_type"] == "Comment"
    ]
    assert bodies[-2:] == [("We are on it", True), ("checked logs", False)]


def test_read_only_instances_write_nothing(fake: FakeZendesk) -> None:
    backend = make_backend(fake, read_only=True)
    with pytest.raises(CapabilityError):
        backend.apply("1", Changes(status="open"))
    with pytest.raises(CapabilityError):
        backend.create(NewTicket(subject="x", description="y"))
    assert [r for r in fake.requests if r.method != "GET"] == []


def test_create_with_marker_and_find_it_again(fake: FakeZendesk) -> None:
    backend = make_backend(fake)
    new = NewTicket(
        subject="Mirrored",
        description="From the other desk",
        requester_email="who@example.net",
        requester_name="Who",
        priority="high",
        tags=["mirror"],
        marker="cst-mirror:src:42",
    )
    ext = backend.create(new)
    body = json.loads(next(r for r in fake.requests if r.method == "POST").content)["ticket"]
    assert body["external_id"] == "cst-mirror:src:42"
    assert body["requester"] == {"email": "who@example.net", "name": "Who"}
    assert body["comment"] == {"body": "From the other desk", "public": True}
    assert backend.find_by_marker("cst-mirror:src:42") == ext
    assert backend.find_by_marker("cst-mirror:src:43") is None
    # creating again with the same marker returns the existing ticket
    assert backend.create(new) == ext
    assert sum(r.method == "POST" for r in fake.requests) == 1


def test_create_that_timed_out_but_happened_is_found_by_marker(fake: FakeZendesk) -> None:
    def created_then_lost(request: httpx.Request) -> httpx.Response:
        fake._create({}, json.loads(request.content))
        raise httpx.ReadTimeout("response lost")

    fake.script("POST", "/api/v2/tickets.json", created_then_lost)
    backend = make_backend(fake)
    ext = backend.create(NewTicket(subject="S", description="D", marker="m-1"))
    assert fake.tickets[int(ext)]["external_id"] == "m-1"
    assert sum(r.method == "POST" for r in fake.requests) == 1  # never posted twice


def test_create_failure_without_a_trace_is_reported(fake: FakeZendesk) -> None:
    fake.script("POST", "/api/v2/tickets.json", httpx.Response(503))
    with pytest.raises(BackendError, match="503"):
        make_backend(fake).create(NewTicket(subject="S", description="D", marker="m-2"))


def test_fetch_rereads_one_ticket(fake: FakeZendesk) -> None:
    backend = make_backend(fake)
    ticket = backend.fetch("zd:3")
    assert ticket is not None and ticket.updated_at == updated_at(fake, 3)
    assert ticket.updated_at.tzinfo == UTC
    assert backend.fetch("999") is None
