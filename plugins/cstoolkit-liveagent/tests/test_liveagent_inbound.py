"""Inbound WhatsApp/SMS on LiveAgent over recorded-shape API v3 answers (respx): a phone-only
requester is the contact with that number (found or created), and a customer's own message is
written by the ticket's contact, never as an agent's reply. Exact request bodies, 429 with and
without Retry-After, 5xx and malformed answers on the new calls."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from cstoolkit_liveagent import LiveAgentBackend

from cstoolkit.backends.requesters import REQUESTER_NOTE_HEADER
from cstoolkit.errors import BackendError
from cstoolkit.plugin import Changes, Comment, NewTicket
from cstoolkit.store.kv import MemoryKeyValue

API = "https://acme.ladesk.com/api/v3"
PHONE = "+34600111222"


def make() -> LiveAgentBackend:
    config = {s.name: s.default for s in LiveAgentBackend.settings}
    config.update(
        base_url="https://acme.ladesk.com",
        api_key="la-key",
        department_id="dep1",
        default_rate_limit_wait=7.0,
    )
    return LiveAgentBackend("la", config, MemoryKeyValue("la"))


def contact(cid: str, *phones: str) -> dict[str, Any]:
    """The shape of a LiveAgent API v3 contact."""
    return {
        "id": cid,
        "firstname": "Ana",
        "lastname": "",
        "system_name": "Ana",
        "emails": [],
        "phones": list(phones),
        "type": "V",
        "date_created": "2026-12-01 10:00:00",
    }


def phone_ticket() -> NewTicket:
    return NewTicket(
        "WhatsApp from Ana",
        "hola",
        requester_name="Ana",
        channel="whatsapp",
        requester_phone="whatsapp:" + PHONE,
    )


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


TICKET_BODY = {
    "useridentifier": "c0ffee",
    "subject": "WhatsApp from Ana",
    "message": "hola",
    "departmentid": "dep1",
    "status": "N",
    "tags": [],
}


@respx.mock
def test_phone_only_requester_becomes_a_new_contact_and_the_tickets_user() -> None:
    search = respx.get(f"{API}/contacts").mock(
        return_value=httpx.Response(200, json=[contact("other", "+1 555 0100")])
    )
    created = respx.post(f"{API}/contacts").mock(
        return_value=httpx.Response(200, json=contact("c0ffee", PHONE))
    )
    ticket = respx.post(f"{API}/tickets").mock(
        return_value=httpx.Response(200, json={"id": "t9", "code": "ABC-9"})
    )
    assert make().create(phone_ticket()) == "t9"
    params = search.calls[0].request.url.params
    assert json.loads(params["_filters"]) == [["phone", "E", PHONE]]
    # a contact with another number is never taken, whatever the filter returned
    assert body(created.calls[0].request) == {"firstname": "Ana", "phones": [PHONE]}
    assert body(ticket.calls[0].request) == TICKET_BODY


@respx.mock
def test_a_contact_with_the_number_is_reused() -> None:
    respx.get(f"{API}/contacts").mock(
        return_value=httpx.Response(200, json=[contact("c0ffee", "34 600 111 222")])
    )
    created = respx.post(f"{API}/contacts")
    ticket = respx.post(f"{API}/tickets").mock(return_value=httpx.Response(200, json={"id": "t9"}))
    make().create(phone_ticket())
    assert not created.called and body(ticket.calls[0].request) == TICKET_BODY


@respx.mock
def test_429_with_and_without_retry_after_on_the_new_calls() -> None:
    respx.get(f"{API}/contacts").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(429),
            httpx.Response(200, json=[]),
        ]
    )
    created = respx.post(f"{API}/contacts").mock(
        side_effect=[httpx.Response(429), httpx.Response(200, json=contact("c0ffee", PHONE))]
    )
    respx.post(f"{API}/tickets").mock(return_value=httpx.Response(200, json={"id": "t9"}))
    backend = make()
    waits: list[float] = []
    backend.http.sleep = waits.append
    assert backend.create(phone_ticket()) == "t9"
    assert waits == [2.0, 7.0, 7.0] and created.call_count == 2


@respx.mock
def test_5xx_retries_the_search_but_never_the_contact_create() -> None:
    respx.get(f"{API}/contacts").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json=[])]
    )
    respx.post(f"{API}/contacts").mock(return_value=httpx.Response(500))
    ticket = respx.post(f"{API}/tickets")
    backend = make()
    backend.http.sleep = lambda _s: None
    with pytest.raises(BackendError, match=r"POST /contacts: HTTP 500.*not retried"):
        backend.create(phone_ticket())
    assert not ticket.called


@pytest.mark.parametrize(
    ("search", "created", "match"),
    [
        (httpx.Response(200, json={"contacts": []}), None, r"GET /contacts: .*JSON array"),
        (httpx.Response(200, text="nope"), None, r"malformed JSON .* GET /api/v3/contacts"),
        (httpx.Response(200, json=[]), httpx.Response(200, json=[]), "no contact id"),
    ],
)
def test_malformed_answers_on_the_new_calls_are_one_line_errors(
    search: httpx.Response, created: httpx.Response | None, match: str
) -> None:
    with respx.mock:
        respx.get(f"{API}/contacts").mock(return_value=search)
        respx.post(f"{API}/contacts").mock(return_value=created or httpx.Response(200))
        ticket = respx.post(f"{API}/tickets")
        with pytest.raises(BackendError, match=match) as err:
            make().create(phone_ticket())
        assert "\n" not in str(err.value) and not ticket.called


def _la_ticket(contact_id: str | None = "c0ffee") -> dict[str, Any]:
    return {
        "id": "t9",
        "code": "ABC-9",
        "owner_contactid": contact_id,
        "status": "C",
        "departmentid": "dep1",
        "agentid": None,
        "tags": [],
        "channel_type": "A",
        "subject": "s",
        "date_created": "2026-12-01 10:00:00",
        "date_changed": "2026-12-01 10:00:00",
        "date_resolved": None,
    }


@respx.mock
def test_the_customers_message_is_written_by_their_contact() -> None:
    respx.get(f"{API}/tickets/t9").mock(return_value=httpx.Response(200, json=_la_ticket()))
    posted = respx.post(f"{API}/tickets/t9/messages").mock(
        return_value=httpx.Response(200, json={"id": "m1"})
    )
    change = Changes(comments=[Comment("¿y mi pedido?", public=True, from_requester=True)])
    assert make().apply("la:t9", change).changed
    assert body(posted.calls[0].request) == {
        "message": "¿y mi pedido?",
        "useridentifier": "c0ffee",
        "type": "M",
    }


@respx.mock
def test_without_a_contact_on_the_ticket_it_is_an_internal_note_marked_as_theirs() -> None:
    respx.get(f"{API}/tickets/t9").mock(return_value=httpx.Response(200, json=_la_ticket(None)))
    posted = respx.post(f"{API}/tickets/t9/messages").mock(
        return_value=httpx.Response(200, json={"id": "m1"})
    )
    change = Changes(comments=[Comment("hola", public=True, from_requester=True)])
    make().apply("la:t9", change)
    assert body(posted.calls[0].request) == {
        "message": f"{REQUESTER_NOTE_HEADER}\n\nhola",
        "type": "N",
    }


@respx.mock
def test_an_agents_reply_is_unchanged() -> None:
    respx.get(f"{API}/tickets/t9").mock(return_value=httpx.Response(200, json=_la_ticket()))
    posted = respx.post(f"{API}/tickets/t9/messages").mock(
        return_value=httpx.Response(200, json={"id": "m1"})
    )
    make().apply("la:t9", Changes(comments=[Comment("On its way", public=True)]))
    assert body(posted.calls[0].request) == {"message": "On its way", "type": "M"}


@respx.mock
def test_the_contact_is_remembered_and_checked_again_for_the_next_ticket() -> None:
    search = respx.get(f"{API}/contacts").mock(return_value=httpx.Response(200, json=[]))
    created = respx.post(f"{API}/contacts").mock(
        side_effect=[
            httpx.Response(200, json=contact("c0ffee", PHONE)),
            httpx.Response(200, json=contact("c0ffef", PHONE)),
        ]
    )
    shown = respx.get(f"{API}/contacts/c0ffee").mock(
        side_effect=[httpx.Response(200, json=contact("c0ffee", PHONE)), httpx.Response(404)]
    )
    ticket = respx.post(f"{API}/tickets").mock(return_value=httpx.Response(200, json={"id": "t9"}))
    backend = make()
    backend.create(phone_ticket())
    backend.create(phone_ticket())  # remembered (by a hash of the number), still there
    assert search.call_count == 1 and created.call_count == 1 and shown.call_count == 1
    backend.create(phone_ticket())  # deleted in LiveAgent since: looked up and created again
    assert search.call_count == 2 and created.call_count == 2
    assert [body(c.request)["useridentifier"] for c in ticket.calls] == ["c0ffee"] * 2 + ["c0ffef"]
