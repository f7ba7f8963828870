"""Inbound messages on Help Scout: a customer known only by phone, and the customer's own thread.

Responses are shaped like Help Scout's documented answers (Create Customer and Create
Conversation: 201 with a ``Resource-ID`` header and no body; Get Conversation; Create Customer
Thread: 201); the requests are asserted exactly.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
from helpscout_fake import make_backend

from cstoolkit.backends.requesters import REQUESTER_NOTE_HEADER
from cstoolkit.errors import BackendError
from cstoolkit.plugin import Changes, Comment, NewTicket
from cstoolkit.store.kv import MemoryKeyValue

BASE = "https://api.helpscout.example"
PHONE = "+34600111222"
CUSTOMERS = f"{BASE}/v2/customers"
CONVERSATIONS = f"{BASE}/v2/conversations"
CONVERSATION = {
    "id": 42,
    "number": 1042,
    "subject": "Where is my order?",
    "status": "active",
    "state": "published",
    "mailboxId": 321,
    "type": "chat",
    "primaryCustomer": {"id": 700, "first": "Ana", "type": "customer"},
    "assignee": None,
    "tags": [],
    "createdAt": "2026-12-07T03:00:00Z",
    "userUpdatedAt": "2026-12-07T04:00:00Z",
    "customerWaitingSince": {"time": "2026-12-07T04:00:00Z"},
    "_embedded": {"threads": []},
}


def created(resource_id: str, path: str) -> httpx.Response:
    return httpx.Response(
        201, headers={"Resource-ID": resource_id, "Location": f"{BASE}{path}/{resource_id}"}
    )


@pytest.fixture(autouse=True)
def token() -> Any:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE}/v2/oauth2/token").mock(
            return_value=httpx.Response(
                200, json={"token_type": "bearer", "access_token": "t0k", "expires_in": 7200}
            )
        )
        yield mock


def backend(state: Any = None) -> Any:
    return make_backend(SimpleNamespace(base=BASE), state=state)  # type: ignore[arg-type]


def body(call: Any) -> Any:
    return json.loads(call.request.content)


def new(**kw: Any) -> NewTicket:
    fields: dict[str, Any] = {
        "subject": "WhatsApp from +34600111222: hola",
        "description": "hola",
        "requester_name": "Ana Ruiz",
        "requester_phone": PHONE,
        "channel": "whatsapp",
    }
    fields.update(kw)
    return NewTicket(**fields)


def test_a_phone_only_customer_is_created_then_named_by_id(token: Any) -> None:
    customers = token.post(CUSTOMERS).mock(return_value=created("700", "/v2/customers"))
    create = token.post(CONVERSATIONS).mock(return_value=created("42", "/v2/conversations"))
    state = MemoryKeyValue("hs")
    assert backend(state).create(new()) == "42"
    assert body(customers.calls[0]) == {
        "firstName": "Ana",
        "lastName": "Ruiz",
        "phones": [{"type": "mobile", "value": PHONE}],
    }
    sent = body(create.calls[0])
    assert sent["customer"] == {"id": 700} and sent["type"] == "chat"
    assert sent["threads"] == [{"type": "customer", "customer": {"id": 700}, "text": "hola"}]
    assert PHONE not in json.dumps(state.get("people_by_phone"))

    # The same customer's next conversation: the remembered customer, checked, not created again.
    show = token.get(f"{CUSTOMERS}/700").mock(
        return_value=httpx.Response(200, json={"id": 700, "firstName": "Ana"})
    )
    backend(state).create(new())
    assert show.called and customers.call_count == 1
    assert body(create.calls[1])["customer"] == {"id": 700}


def test_a_remembered_customer_deleted_since_is_created_again(token: Any) -> None:
    state = MemoryKeyValue("hs")
    customers = token.post(CUSTOMERS).mock(
        side_effect=[created("700", "/v2/customers"), created("701", "/v2/customers")]
    )
    create = token.post(CONVERSATIONS).mock(return_value=created("42", "/v2/conversations"))
    backend(state).create(new())
    token.get(f"{CUSTOMERS}/700").mock(return_value=httpx.Response(404))
    backend(state).create(new())
    assert customers.call_count == 2 and body(create.calls[1])["customer"] == {"id": 701}


def test_an_email_customer_is_unchanged(token: Any) -> None:
    customers = token.post(CUSTOMERS)
    create = token.post(CONVERSATIONS).mock(return_value=created("42", "/v2/conversations"))
    backend().create(new(requester_email="ana@example.com", requester_phone=None))
    sent = body(create.calls[0])
    assert sent["type"] == "email" and sent["customer"]["email"] == "ana@example.com"
    assert not customers.called


def test_the_customers_message_is_a_customer_thread(token: Any) -> None:
    token.get(f"{CONVERSATIONS}/42").mock(return_value=httpx.Response(200, json=CONVERSATION))
    thread = token.post(f"{CONVERSATIONS}/42/customer").mock(return_value=httpx.Response(201))
    reply = token.post(f"{CONVERSATIONS}/42/reply")
    backend().apply("hs:42", Changes(comments=[Comment("any news?", from_requester=True)]))
    assert not reply.called  # a reply is mailed to the customer as the agent's
    assert body(thread.calls[0]) == {"customer": {"id": 700}, "text": "any news?"}


def test_without_a_customer_the_message_is_a_note_marked_as_theirs(token: Any) -> None:
    # The one rule for a ticket that names no requester (docs/inbound.md): never a reply
    # mailed as an agent's, never stuck in the push queue.
    bare = {**CONVERSATION, "primaryCustomer": None}
    token.get(f"{CONVERSATIONS}/42").mock(return_value=httpx.Response(200, json=bare))
    reply = token.post(f"{CONVERSATIONS}/42/reply")
    thread = token.post(f"{CONVERSATIONS}/42/customer")
    note = token.post(f"{CONVERSATIONS}/42/notes").mock(return_value=httpx.Response(201))
    backend().apply("42", Changes(comments=[Comment("hi", from_requester=True)]))
    assert not reply.called and not thread.called
    assert body(note.calls[0]) == {"text": f"{REQUESTER_NOTE_HEADER}\n\nhi"}


def test_rate_limits_on_the_new_calls_are_waited_out(token: Any) -> None:
    customers = token.post(CUSTOMERS).mock(
        side_effect=[
            httpx.Response(429, headers={"X-RateLimit-Retry-After": "2", "Retry-After": "2"}),
            httpx.Response(429, text="<html>Too Many Requests</html>"),
            created("700", "/v2/customers"),
        ]
    )
    token.post(CONVERSATIONS).mock(return_value=created("42", "/v2/conversations"))
    b = backend()
    sleeps: list[float] = []
    b.http.sleep = sleeps.append
    assert b.create(new()) == "42"
    assert customers.call_count == 3 and 2.0 in sleeps


def test_a_server_error_creating_the_customer_creates_no_conversation(token: Any) -> None:
    customers = token.post(CUSTOMERS).mock(return_value=httpx.Response(503))
    create = token.post(CONVERSATIONS)
    with pytest.raises(BackendError):
        backend().create(new())
    assert customers.call_count == 1 and not create.called  # a write is not repeated blindly


def test_a_customer_answer_without_an_id_is_one_clear_error(token: Any) -> None:
    token.post(CUSTOMERS).mock(return_value=httpx.Response(201, text="<html>created</html>"))
    create = token.post(CONVERSATIONS)
    with pytest.raises(BackendError) as err:
        backend().create(new())
    text = str(err.value)
    assert "POST /v2/customers: no Resource-ID" in text and "\n" not in text
    assert not create.called


def test_a_malformed_conversation_is_one_clear_error_and_nothing_is_posted(token: Any) -> None:
    token.get(f"{CONVERSATIONS}/42").mock(return_value=httpx.Response(200, content=b"[1, 2]"))
    posted = token.post(url__regex=rf"{CONVERSATIONS}/42/.*")
    with pytest.raises(BackendError) as err:
        backend().apply("42", Changes(comments=[Comment("hi", from_requester=True)]))
    assert "helpscout instance 'hs'" in str(err.value) and not posted.called
