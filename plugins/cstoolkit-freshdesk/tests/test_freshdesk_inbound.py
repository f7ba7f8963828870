"""Inbound messages on Freshdesk: a requester known only by phone, and the customer's own note.

Responses are shaped like Freshdesk's documented answers (View a Ticket, Create a Ticket,
Create a Note); the requests are asserted exactly.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
from freshdesk_fake import FakeTime, make_backend

from cstoolkit.backends.requesters import REQUESTER_NOTE_HEADER
from cstoolkit.errors import BackendError
from cstoolkit.plugin import Changes, Comment, NewTicket

BASE = "https://acme.freshdesk.com"
PHONE = "+34600111222"
TICKET = {
    "id": 42,
    "subject": "Where is my order?",
    "requester_id": 103,
    "responder_id": None,
    "group_id": None,
    "status": 2,
    "priority": 1,
    "source": 7,
    "tags": [],
    "custom_fields": {},
    "created_at": "2026-12-07T03:00:00Z",
    "updated_at": "2026-12-07T04:00:00Z",
    "stats": {"agent_responded_at": None},
}
NOTE = {
    "body": "<div>any news?</div>",
    "body_text": "any news?",
    "id": 9,
    "incoming": True,
    "private": False,
    "user_id": 103,
    "support_email": None,
    "source": 2,
    "ticket_id": 42,
    "to_emails": None,
    "attachments": [],
    "created_at": "2026-12-07T05:00:00Z",
    "updated_at": "2026-12-07T05:00:00Z",
}
CREATED = {**TICKET, "id": 43, "requester_id": 104, "tags": []}


def backend(clock: FakeTime | None = None) -> Any:
    return make_backend(SimpleNamespace(base=BASE), clock=clock)  # type: ignore[arg-type]


def body(call: Any) -> Any:
    return json.loads(call.request.content)


def mock_ticket(record: dict[str, Any] = TICKET) -> None:
    respx.get(f"{BASE}/api/v2/tickets/42").mock(return_value=httpx.Response(200, json=record))


def apply(comment: Comment) -> Any:
    return backend().apply("fd:42", Changes(comments=[comment]))


@respx.mock
def test_the_customers_message_is_an_incoming_public_note_by_the_requester() -> None:
    mock_ticket()
    notes = respx.post(f"{BASE}/api/v2/tickets/42/notes").mock(
        return_value=httpx.Response(201, json=NOTE)
    )
    reply = respx.post(f"{BASE}/api/v2/tickets/42/reply")
    result = apply(Comment("any news?", public=True, from_requester=True))
    assert result.changed
    assert not reply.called  # a reply would be mailed to the customer as the agent's
    assert body(notes.calls[0]) == {
        "body": "any news?",
        "private": False,
        "incoming": True,
        "user_id": 103,
    }


@respx.mock
def test_agents_comments_are_unchanged() -> None:
    mock_ticket()
    notes = respx.post(f"{BASE}/api/v2/tickets/42/notes").mock(
        return_value=httpx.Response(201, json={**NOTE, "private": True, "incoming": False})
    )
    reply = respx.post(f"{BASE}/api/v2/tickets/42/reply").mock(
        return_value=httpx.Response(201, json={"id": 10, "body_text": "on it"})
    )
    backend().apply(
        "42", Changes(comments=[Comment("on it", public=True), Comment("fyi", public=False)])
    )
    assert body(reply.calls[0]) == {"body": "on it"}
    assert body(notes.calls[0]) == {"body": "fyi", "private": True}


@respx.mock
def test_without_a_requester_the_message_is_a_private_note_marked_as_theirs() -> None:
    # The one rule for a ticket that names no requester (docs/inbound.md): never a reply
    # mailed as an agent's, never stuck in the push queue.
    mock_ticket({**TICKET, "requester_id": None})
    reply = respx.post(f"{BASE}/api/v2/tickets/42/reply")
    notes = respx.post(f"{BASE}/api/v2/tickets/42/notes").mock(
        return_value=httpx.Response(201, json={**NOTE, "private": True, "incoming": False})
    )
    apply(Comment("hi", from_requester=True))
    assert not reply.called
    assert body(notes.calls[0]) == {"body": f"{REQUESTER_NOTE_HEADER}\n\nhi", "private": True}


@respx.mock
def test_a_phone_only_requester_is_named_by_phone_and_name() -> None:
    respx.get(f"{BASE}/api/v2/search/tickets").mock(
        return_value=httpx.Response(200, json={"results": [], "total": 0})
    )
    create = respx.post(f"{BASE}/api/v2/tickets").mock(
        return_value=httpx.Response(201, json=CREATED)
    )
    ticket = NewTicket(
        subject="WhatsApp from +34600111222: hola",
        description="hola",
        requester_phone=PHONE,
        channel="whatsapp",
        marker="cst-in-abc",
    )
    assert backend().create(ticket) == "43"
    sent = body(create.calls[0])
    assert sent["phone"] == PHONE and sent["name"] == PHONE  # the name is required with a phone
    assert "email" not in sent
    named = NewTicket(subject="s", description="d", requester_phone=PHONE, requester_name="Ana")
    backend().create(named)
    assert body(create.calls[1])["name"] == "Ana"


def test_without_email_or_phone_nothing_is_created() -> None:
    with pytest.raises(BackendError, match="email or phone"):
        backend().create(NewTicket(subject="s", description="d"))


@respx.mock
def test_rate_limits_on_the_note_are_waited_out() -> None:
    mock_ticket()
    notes = respx.post(f"{BASE}/api/v2/tickets/42/notes").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "6"}, json={"message": "limit"}),
            httpx.Response(429, text="<html>Too Many Requests</html>"),
            httpx.Response(201, json=NOTE),
        ]
    )
    clock = FakeTime()
    make = backend(clock)
    make.apply("42", Changes(comments=[Comment("any news?", from_requester=True)]))
    assert notes.call_count == 3 and 6.0 in clock.sleeps


@respx.mock
def test_a_server_error_on_the_note_is_an_error_not_a_retry() -> None:
    mock_ticket()
    notes = respx.post(f"{BASE}/api/v2/tickets/42/notes").mock(
        return_value=httpx.Response(502, text="Bad Gateway")
    )
    with pytest.raises(BackendError) as err:
        apply(Comment("any news?", from_requester=True))
    assert notes.call_count == 1  # a write is not repeated blindly
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "content",
    [b"<html>maintenance</html>", b"[1, 2]"],
)
@respx.mock
def test_a_malformed_ticket_is_one_clear_error_and_nothing_is_posted(content: bytes) -> None:
    respx.get(f"{BASE}/api/v2/tickets/42").mock(return_value=httpx.Response(200, content=content))
    posted = respx.post(url__regex=rf"{BASE}/api/v2/tickets/42/.*")
    with pytest.raises(BackendError) as err:
        apply(Comment("hi", from_requester=True))
    assert "freshdesk instance 'fd'" in str(err.value) and "\n" not in str(err.value)
    assert not posted.called
