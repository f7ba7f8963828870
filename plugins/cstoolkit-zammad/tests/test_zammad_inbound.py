"""Inbound messages on Zammad: a customer known only by phone, and the customer's own article.

Responses are shaped like Zammad's documented answers (users search with ``expand=true``,
create user, show ticket, create article); the requests are asserted exactly.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
from zammad_fake import make_backend

from cstoolkit.backends.requesters import REQUESTER_NOTE_HEADER
from cstoolkit.errors import BackendError
from cstoolkit.plugin import Changes, Comment, NewTicket
from cstoolkit.store.kv import MemoryKeyValue

BASE = "https://desk.example.com"
PHONE = "+34600111222"
USERS_SEARCH = f"{BASE}/api/v1/users/search"
USERS = f"{BASE}/api/v1/users"
TICKETS = f"{BASE}/api/v1/tickets"

ANA = {
    "id": 17,
    "firstname": "Ana",
    "lastname": "Ruiz",
    "login": "ana",
    "email": "",
    "phone": "",
    "mobile": "+34 600 111 222",
    "active": True,
    "role_ids": [3],
    "roles": ["Customer"],
}
NEAR = {**ANA, "id": 5, "mobile": "+34600111223"}  # a full-text near match, not her
CREATED_USER = {**ANA, "id": 29, "firstname": "Ana", "lastname": "", "mobile": PHONE}
TICKET = {
    "id": 42,
    "title": "Where is my order?",
    "group_id": 1,
    "state": "open",
    "priority": "2 normal",
    "customer_id": 17,
    "owner_id": 1,
    "updated_at": "2026-12-07T04:00:00.000Z",
    "created_at": "2026-12-07T03:00:00.000Z",
}
ARTICLE = {
    "id": 88,
    "ticket_id": 42,
    "type": "note",
    "sender": "Customer",
    "internal": False,
    "origin_by_id": 17,
    "created_by_id": 3,
    "body": "any news?",
    "content_type": "text/plain",
    "created_at": "2026-12-07T05:00:00.000Z",
}


def backend(state: Any = None) -> Any:
    return make_backend(SimpleNamespace(base=BASE), state=state)  # type: ignore[arg-type]


def body(call: Any) -> Any:
    return json.loads(call.request.content)


def new(**kw: Any) -> NewTicket:
    fields: dict[str, Any] = {
        "subject": "WhatsApp from +34600111222: hola",
        "description": "hola",
        "requester_name": "Ana",
        "requester_phone": PHONE,
        "channel": "whatsapp",
    }
    fields.update(kw)
    return NewTicket(**fields)


def mock_ticket(record: dict[str, Any] = TICKET) -> None:
    respx.get(f"{BASE}/api/v1/tickets/42").mock(return_value=httpx.Response(200, json=record))
    respx.get(f"{BASE}/api/v1/tags").mock(return_value=httpx.Response(200, json={"tags": []}))


@respx.mock
def test_a_customer_found_by_phone_is_the_tickets_customer() -> None:
    search = respx.get(USERS_SEARCH).mock(return_value=httpx.Response(200, json=[NEAR, ANA]))
    users = respx.post(USERS)
    create = respx.post(TICKETS).mock(return_value=httpx.Response(201, json={**TICKET, "id": 43}))
    assert backend().create(new()) == "43"
    params = search.calls[0].request.url.params
    assert params["query"] == f'phone:"{PHONE}" OR mobile:"{PHONE}"'
    assert params["expand"] == "true"
    assert not users.called
    sent = body(create.calls[0])
    assert sent["customer_id"] == 17  # her, not the near match
    assert sent["article"] == {
        "subject": "WhatsApp from +34600111222: hola",
        "body": "hola",
        "type": "note",
        "internal": False,
        "sender": "Customer",
        "origin_by_id": 17,
    }


@respx.mock
def test_an_unknown_phone_becomes_a_new_customer() -> None:
    respx.get(USERS_SEARCH).mock(return_value=httpx.Response(200, json=[NEAR]))
    users = respx.post(USERS).mock(return_value=httpx.Response(201, json=CREATED_USER))
    create = respx.post(TICKETS).mock(return_value=httpx.Response(201, json={**TICKET, "id": 43}))
    state = MemoryKeyValue("zm")
    backend(state).create(new())
    assert body(users.calls[0]) == {
        "firstname": "Ana",
        "lastname": "",
        "mobile": PHONE,
        "roles": ["Customer"],
    }
    assert body(create.calls[0])["customer_id"] == 29
    # Remembered: the next ticket names the same customer without creating another.
    respx.get(f"{USERS}/29").mock(return_value=httpx.Response(200, json=CREATED_USER))
    backend(state).create(new())
    assert users.call_count == 1 and body(create.calls[1])["customer_id"] == 29


@respx.mock
def test_the_customers_message_is_a_public_article_sent_by_the_customer() -> None:
    mock_ticket()
    articles = respx.post(f"{BASE}/api/v1/ticket_articles").mock(
        return_value=httpx.Response(201, json=ARTICLE)
    )
    backend().apply("zm:42", Changes(comments=[Comment("any news?", from_requester=True)]))
    assert body(articles.calls[0]) == {
        "ticket_id": 42,
        "body": "any news?",
        "content_type": "text/plain",
        "type": "note",
        "internal": False,
        "sender": "Customer",
        "origin_by_id": 17,
    }


@respx.mock
def test_an_agents_article_is_unchanged() -> None:
    mock_ticket()
    articles = respx.post(f"{BASE}/api/v1/ticket_articles").mock(
        return_value=httpx.Response(201, json={**ARTICLE, "sender": "Agent"})
    )
    backend().apply("42", Changes(comments=[Comment("on it", public=True)]))
    sent = body(articles.calls[0])
    assert "sender" not in sent and "origin_by_id" not in sent and sent["internal"] is False


@respx.mock
def test_without_a_customer_the_message_is_an_internal_note_marked_as_theirs() -> None:
    # The one rule for a ticket that names no requester (docs/inbound.md): never an agent's
    # public article, never stuck in the push queue.
    mock_ticket({**TICKET, "customer_id": None})
    articles = respx.post(f"{BASE}/api/v1/ticket_articles").mock(
        return_value=httpx.Response(201, json={**ARTICLE, "sender": "Agent", "internal": True})
    )
    backend().apply("42", Changes(comments=[Comment("hi", from_requester=True)]))
    assert body(articles.calls[0]) == {
        "ticket_id": 42,
        "body": f"{REQUESTER_NOTE_HEADER}\n\nhi",
        "content_type": "text/plain",
        "type": "note",
        "internal": True,
    }


@respx.mock
def test_rate_limits_and_server_errors_on_the_new_calls() -> None:
    respx.get(USERS_SEARCH).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(429, text="Too Many Requests"),
            httpx.Response(503),
            httpx.Response(200, json=[]),
        ]
    )
    users = respx.post(USERS).mock(
        side_effect=[httpx.Response(429), httpx.Response(201, json=CREATED_USER)]
    )
    respx.post(TICKETS).mock(return_value=httpx.Response(201, json={**TICKET, "id": 43}))
    b = backend()
    sleeps: list[float] = []
    b.http.sleep = sleeps.append
    assert b.create(new()) == "43"
    assert 3.0 in sleeps and users.call_count == 2


@respx.mock
def test_a_server_error_creating_the_customer_creates_no_ticket() -> None:
    respx.get(USERS_SEARCH).mock(return_value=httpx.Response(200, json=[]))
    users = respx.post(USERS).mock(return_value=httpx.Response(500, text="oops"))
    create = respx.post(TICKETS)
    with pytest.raises(BackendError):
        backend().create(new())
    assert users.call_count == 1 and not create.called


@pytest.mark.parametrize(
    ("search", "user", "message"),
    [
        (b"<html>maintenance</html>", b"{}", "users/search"),
        (b'{"users": {"id": 1}}', b"{}", "expected a JSON array"),
        (b'[{"mobile": "+34600111222"}]', b"{}", "without an id"),
        (b"[1]", b"{}", "not an object"),
        (b"[]", b'{"firstname": "Ana"}', "the user has no id"),
        (b"[]", b"[]", "no user in the answer"),
    ],
)
@respx.mock
def test_malformed_answers_are_one_clear_error(search: bytes, user: bytes, message: str) -> None:
    respx.get(USERS_SEARCH).mock(return_value=httpx.Response(200, content=search))
    respx.post(USERS).mock(return_value=httpx.Response(201, content=user))
    create = respx.post(TICKETS)
    with pytest.raises(BackendError) as err:
        backend().create(new())
    text = str(err.value)
    assert message in text and "zammad instance 'zm'" in text and "\n" not in text
    assert not create.called
