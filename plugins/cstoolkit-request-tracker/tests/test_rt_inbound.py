"""Inbound WhatsApp/SMS on Request Tracker over recorded-shape REST2 answers (respx): a phone-only
requester is found or created as an RT user, and a customer's own message is a private comment,
never a correspondence mailed back to them. Exact request bodies, 429 with and without
Retry-After, 5xx and malformed answers on the new calls."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from cstoolkit_request_tracker import RequestTrackerBackend

from cstoolkit.backends.requesters import REQUESTER_NOTE_HEADER
from cstoolkit.errors import BackendError
from cstoolkit.plugin import Changes, Comment, NewTicket
from cstoolkit.store.kv import MemoryKeyValue

BASE = "http://rt.test"
API = BASE + "/REST/2.0"
PHONE = "+34600111222"


def make(**settings: Any) -> RequestTrackerBackend:
    cfg: dict[str, Any] = {
        "base_url": BASE,
        "token": "1-2-tok",
        "marker_field": "",
        "tags_field": "",
        "default_rate_limit_wait": 7.0,
        **settings,
    }
    return RequestTrackerBackend("rt", cfg, MemoryKeyValue("rt"))


def users(*items: dict[str, Any]) -> dict[str, Any]:
    """The shape of RT 5's ``POST /users?fields=Name,MobilePhone`` answer."""
    return {
        "count": len(items),
        "page": 1,
        "per_page": 20,
        "total": len(items),
        "items": [{"type": "user", "_url": f"{API}/user/{u['id']}", **u} for u in items],
    }


CREATED_USER = {"type": "user", "id": "31", "_url": f"{API}/user/31"}
CREATED_TICKET = {"type": "ticket", "id": "20", "_url": f"{API}/ticket/20"}
NOBODY = {"id": "6", "Name": "Nobody", "MobilePhone": ""}


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


@respx.mock
def test_phone_only_requester_is_created_as_an_rt_user_and_is_the_requestor() -> None:
    search = respx.post(f"{API}/users").mock(return_value=httpx.Response(200, json=users(NOBODY)))
    user = respx.post(f"{API}/user").mock(return_value=httpx.Response(201, json=CREATED_USER))
    ticket = respx.post(f"{API}/ticket").mock(return_value=httpx.Response(201, json=CREATED_TICKET))
    assert make().create(phone_ticket()) == "20"
    assert body(search.calls[0].request) == [{"field": "Name", "value": PHONE}]
    assert search.calls[0].request.url.params["fields"] == "Name,MobilePhone"
    # the search answered somebody else (RT ignores conditions it does not allow): not taken
    assert body(user.calls[0].request) == {"Name": PHONE, "RealName": "Ana", "MobilePhone": PHONE}
    assert body(ticket.calls[0].request) == {
        "Queue": "General",
        "Subject": "WhatsApp from Ana",
        "Content": "hola",
        "ContentType": "text/plain",
        "Priority": 50,
        "Requestor": PHONE,
    }


@respx.mock
def test_a_known_phone_user_is_reused_not_created_again() -> None:
    known = {"id": "31", "Name": PHONE, "MobilePhone": PHONE}
    respx.post(f"{API}/users").mock(return_value=httpx.Response(200, json=users(NOBODY, known)))
    user = respx.post(f"{API}/user")
    ticket = respx.post(f"{API}/ticket").mock(return_value=httpx.Response(201, json=CREATED_TICKET))
    make().create(phone_ticket())
    assert not user.called
    assert body(ticket.calls[0].request)["Requestor"] == PHONE


@respx.mock
def test_an_email_requester_needs_no_user_lookup() -> None:
    search = respx.post(f"{API}/users")
    ticket = respx.post(f"{API}/ticket").mock(return_value=httpx.Response(201, json=CREATED_TICKET))
    make().create(NewTicket("Mail", "hi", requester_email="ana@example.org"))
    assert not search.called
    assert body(ticket.calls[0].request)["Requestor"] == "ana@example.org"


@respx.mock
def test_429_with_and_without_retry_after_on_the_user_search_then_created() -> None:
    respx.post(f"{API}/users").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(429),
            httpx.Response(200, json=users()),
        ]
    )
    user = respx.post(f"{API}/user").mock(
        side_effect=[httpx.Response(429), httpx.Response(201, json=CREATED_USER)]
    )
    respx.post(f"{API}/ticket").mock(return_value=httpx.Response(201, json=CREATED_TICKET))
    backend = make()
    waits: list[float] = []
    backend.http.sleep = waits.append
    assert backend.create(phone_ticket()) == "20"
    assert waits == [3.0, 7.0, 7.0] and user.call_count == 2


@respx.mock
def test_5xx_on_the_search_is_retried_but_not_on_the_user_create() -> None:
    respx.post(f"{API}/users").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=users())]
    )
    respx.post(f"{API}/user").mock(return_value=httpx.Response(500, text="boom"))
    ticket = respx.post(f"{API}/ticket")
    backend = make()
    backend.http.sleep = lambda _s: None
    with pytest.raises(BackendError, match=r"POST /user: HTTP 500.*not retried"):
        backend.create(phone_ticket())
    assert not ticket.called  # no ticket without its requester


@pytest.mark.parametrize(
    ("search", "created", "match"),
    [
        (httpx.Response(200, json={"total": 0}), None, r"POST /REST/2.0/users: .*no 'items' list"),
        (httpx.Response(200, json=[1]), None, r"POST /REST/2.0/users: .*expected a JSON object"),
        (httpx.Response(200, text="<html>"), None, r"POST /REST/2.0/users"),
        (httpx.Response(200, json=users()), httpx.Response(201, json={"ok": 1}), "without an id"),
    ],
)
def test_malformed_answers_on_the_new_calls_are_one_line_errors(
    search: httpx.Response, created: httpx.Response | None, match: str
) -> None:
    with respx.mock:
        respx.post(f"{API}/users").mock(return_value=search)
        respx.post(f"{API}/user").mock(return_value=created or httpx.Response(201))
        ticket = respx.post(f"{API}/ticket")
        with pytest.raises(BackendError, match=match) as err:
            make().create(phone_ticket())
        assert "\n" not in str(err.value) and not ticket.called


def _rt_ticket() -> dict[str, Any]:
    return {
        "type": "ticket",
        "id": "20",
        "Subject": "s",
        "Status": "open",
        "Priority": "50",
        "Queue": {"id": "1", "type": "queue"},
        "Owner": {"id": "Nobody", "type": "user"},
        "Requestor": [{"id": PHONE, "type": "user"}],
        "Created": "2026-01-01T00:00:00Z",
        "LastUpdated": "2026-01-01T00:00:00Z",
        "Resolved": "1970-01-01T00:00:00Z",
        "CustomFields": [],
    }


@respx.mock
def test_the_customers_message_is_a_private_comment_never_a_correspondence() -> None:
    respx.get(f"{API}/ticket/20").mock(return_value=httpx.Response(200, json=_rt_ticket()))
    comment = respx.post(f"{API}/ticket/20/comment").mock(
        return_value=httpx.Response(201, json=["Comments added"])
    )
    correspond = respx.post(f"{API}/ticket/20/correspond")
    change = Changes(comments=[Comment("¿y mi pedido?", public=True, from_requester=True)])
    done = make().apply("20", change)
    assert not correspond.called
    assert body(comment.calls[0].request) == {
        "Content": f"{REQUESTER_NOTE_HEADER}\n\n¿y mi pedido?",
        "ContentType": "text/plain",
    }
    assert done.changed and done.detail == "comment"


@respx.mock
def test_an_agents_public_comment_is_still_a_correspondence() -> None:
    respx.get(f"{API}/ticket/20").mock(return_value=httpx.Response(200, json=_rt_ticket()))
    correspond = respx.post(f"{API}/ticket/20/correspond").mock(
        return_value=httpx.Response(201, json=["Correspondence added"])
    )
    make().apply("20", Changes(comments=[Comment("On its way", public=True)]))
    assert body(correspond.calls[0].request) == {
        "Content": "On its way",
        "ContentType": "text/plain",
    }


@respx.mock
def test_the_phone_user_is_remembered_and_checked_again_for_the_next_ticket() -> None:
    search = respx.post(f"{API}/users").mock(return_value=httpx.Response(200, json=users()))
    created = respx.post(f"{API}/user").mock(return_value=httpx.Response(201, json=CREATED_USER))
    shown = respx.get(f"{API}/user/31").mock(
        side_effect=[
            httpx.Response(200, json={"id": 31, "Name": PHONE, "Disabled": "0"}),
            httpx.Response(200, json={"id": 31, "Name": PHONE, "Disabled": "1"}),
        ]
    )
    ticket = respx.post(f"{API}/ticket").mock(return_value=httpx.Response(201, json=CREATED_TICKET))
    backend = make()
    backend.create(phone_ticket())
    backend.create(phone_ticket())  # remembered by a hash of the number, still enabled
    assert search.call_count == 1 and created.call_count == 1 and shown.call_count == 1
    backend.create(phone_ticket())  # disabled in RT since: looked up (and created) again
    assert search.call_count == 2 and created.call_count == 2
    assert [body(c.request)["Requestor"] for c in ticket.calls] == [PHONE] * 3
