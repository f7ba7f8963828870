"""Inbound messages on Zendesk: a requester known only by phone, and the customer's own comment.

Responses are shaped like Zendesk's documented answers (Search, Create User, Show User, Create
and Update Ticket); the requests are asserted exactly.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
from zendesk_fake import FakeTime, make_backend

from cstoolkit.backends.requesters import REQUESTER_NOTE_HEADER
from cstoolkit.errors import BackendError
from cstoolkit.plugin import Changes, Comment, NewTicket
from cstoolkit.store.kv import MemoryKeyValue

BASE = "https://acme.zendesk.com"
PHONE = "+34600111222"
SEARCH = f"{BASE}/api/v2/search.json"
USERS = f"{BASE}/api/v2/users.json"
TICKETS = f"{BASE}/api/v2/tickets.json"

FOUND = {
    "results": [
        {
            "id": 35436,
            "url": f"{BASE}/api/v2/users/35436.json",
            "name": "Ana Ruiz",
            "phone": PHONE,
            "role": "end-user",
            "active": True,
            "result_type": "user",
        }
    ],
    "facets": None,
    "next_page": None,
    "previous_page": None,
    "count": 1,
}
NOTHING = {"results": [], "facets": None, "next_page": None, "previous_page": None, "count": 0}
CREATED_USER = {
    "user": {
        "id": 9873843,
        "url": f"{BASE}/api/v2/users/9873843.json",
        "name": "Ana",
        "phone": PHONE,
        "role": "end-user",
        "active": True,
        "verified": False,
        "created_at": "2026-12-07T05:00:00Z",
    }
}
CREATED_TICKET = {
    "ticket": {"id": 35437, "status": "new", "requester_id": 9873843, "subject": "WhatsApp"},
    "audit": {"id": 1, "events": []},
}
TICKET = {
    "ticket": {
        "id": 42,
        "status": "open",
        "priority": "normal",
        "requester_id": 20978392,
        "submitter_id": 20978392,
        "tags": [],
        "custom_fields": [],
        "updated_at": "2026-12-07T04:00:00Z",
    }
}


def backend(state: Any = None, clock: FakeTime | None = None) -> Any:
    return make_backend(
        SimpleNamespace(base=BASE), state=state or MemoryKeyValue("zd"), clock=clock
    )  # type: ignore[arg-type]


def new(**kw: Any) -> NewTicket:
    fields: dict[str, Any] = {
        "subject": "WhatsApp from +34600111222: hola",
        "description": "hola, my order?",
        "requester_name": "Ana",
        "requester_phone": PHONE,
        "channel": "whatsapp",
        "marker": "cst-in-abc",
    }
    fields.update(kw)
    return NewTicket(**fields)


def body(call: Any) -> Any:
    return json.loads(call.request.content)


def mock_marker_search() -> respx.Route:
    return respx.get(TICKETS, params={"external_id": "cst-in-abc"}).mock(
        return_value=httpx.Response(200, json={"tickets": [], "count": 0, "next_page": None})
    )


@respx.mock
def test_a_phone_only_requester_is_created_as_an_end_user_then_named_by_id() -> None:
    mock_marker_search()
    search = respx.get(SEARCH).mock(return_value=httpx.Response(200, json=NOTHING))
    users = respx.post(USERS).mock(return_value=httpx.Response(201, json=CREATED_USER))
    create = respx.post(TICKETS).mock(return_value=httpx.Response(201, json=CREATED_TICKET))
    state = MemoryKeyValue("zd")
    assert backend(state).create(new()) == "35437"
    assert (
        search.calls[0].request.url.params["query"] == "type:user role:end-user phone:34600111222"
    )
    assert body(users.calls[0]) == {"user": {"name": "Ana", "phone": PHONE}}
    sent = body(create.calls[0])["ticket"]
    assert sent["requester_id"] == 9873843 and "requester" not in sent
    assert sent["comment"] == {"body": "hola, my order?", "public": True, "author_id": 9873843}
    assert sent["external_id"] == "cst-in-abc"
    assert PHONE not in json.dumps(state.get("people_by_phone"))  # kept by a hash only

    # The next ticket of the same customer: the remembered user, checked, not created again
    # (even while Zendesk's search index has not caught up).
    show = respx.get(f"{BASE}/api/v2/users/9873843.json").mock(
        return_value=httpx.Response(200, json=CREATED_USER)
    )
    backend(state).create(new())
    assert show.called and users.call_count == 1 and search.call_count == 1
    assert body(create.calls[1])["ticket"]["requester_id"] == 9873843


@respx.mock
def test_an_end_user_found_by_phone_is_the_requester() -> None:
    mock_marker_search()
    respx.get(SEARCH).mock(return_value=httpx.Response(200, json=FOUND))
    users = respx.post(USERS).mock(return_value=httpx.Response(201, json=CREATED_USER))
    create = respx.post(TICKETS).mock(return_value=httpx.Response(201, json=CREATED_TICKET))
    backend().create(new(requester_name=""))
    assert not users.called
    assert body(create.calls[0])["ticket"]["requester_id"] == 35436


@respx.mock
def test_a_remembered_user_deleted_since_is_looked_up_again() -> None:
    mock_marker_search()
    state = MemoryKeyValue("zd")
    respx.get(SEARCH).mock(
        side_effect=[httpx.Response(200, json=NOTHING), httpx.Response(200, json=FOUND)]
    )
    respx.post(USERS).mock(return_value=httpx.Response(201, json=CREATED_USER))
    create = respx.post(TICKETS).mock(return_value=httpx.Response(201, json=CREATED_TICKET))
    backend(state).create(new())
    respx.get(f"{BASE}/api/v2/users/9873843.json").mock(return_value=httpx.Response(404))
    backend(state).create(new())
    assert body(create.calls[1])["ticket"]["requester_id"] == 35436


@respx.mock
def test_the_customers_message_is_a_public_comment_authored_by_the_requester() -> None:
    respx.get(f"{BASE}/api/v2/tickets/42.json").mock(return_value=httpx.Response(200, json=TICKET))
    put = respx.put(f"{BASE}/api/v2/tickets/42.json").mock(
        return_value=httpx.Response(200, json=TICKET)
    )
    backend().apply(
        "zd:42",
        Changes(comments=[Comment("any news?", public=False, from_requester=True)]),
    )
    assert body(put.calls[0]) == {
        "ticket": {"comment": {"body": "any news?", "public": True, "author_id": 20978392}}
    }


@respx.mock
def test_an_agents_comment_is_unchanged() -> None:
    respx.get(f"{BASE}/api/v2/tickets/42.json").mock(return_value=httpx.Response(200, json=TICKET))
    put = respx.put(f"{BASE}/api/v2/tickets/42.json").mock(
        return_value=httpx.Response(200, json=TICKET)
    )
    backend().apply("42", Changes(comments=[Comment("on it", public=True)]))
    assert body(put.calls[0]) == {"ticket": {"comment": {"body": "on it", "public": True}}}


@respx.mock
def test_without_a_requester_the_message_is_an_internal_note_marked_as_theirs() -> None:
    # The one rule for a ticket that names no requester (docs/inbound.md): never an agent's
    # public comment, never stuck in the push queue.
    bare = {"ticket": {**TICKET["ticket"], "requester_id": None}}
    respx.get(f"{BASE}/api/v2/tickets/42.json").mock(return_value=httpx.Response(200, json=bare))
    put = respx.put(f"{BASE}/api/v2/tickets/42.json").mock(
        return_value=httpx.Response(200, json=bare)
    )
    backend().apply("42", Changes(comments=[Comment("hi", from_requester=True)]))
    note = {"body": f"{REQUESTER_NOTE_HEADER}\n\nhi", "public": False}
    assert body(put.calls[0]) == {"ticket": {"comment": note}}


@respx.mock
def test_rate_limits_and_server_errors_on_the_new_calls() -> None:
    mock_marker_search()
    respx.get(SEARCH).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "9"}, json={"error": "TooManyRequests"}),
            httpx.Response(429, text="<html>Too Many Requests</html>"),
            httpx.Response(503),
            httpx.Response(200, json=NOTHING),
        ]
    )
    users = respx.post(USERS).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "4"}),
            httpx.Response(201, json=CREATED_USER),
        ]
    )
    respx.post(TICKETS).mock(return_value=httpx.Response(201, json=CREATED_TICKET))
    clock = FakeTime()
    assert backend(clock=clock).create(new()) == "35437"
    assert 9.0 in clock.sleeps and 4.0 in clock.sleeps
    assert users.call_count == 2


@respx.mock
def test_a_server_error_creating_the_user_creates_no_ticket() -> None:
    mock_marker_search()
    respx.get(SEARCH).mock(return_value=httpx.Response(200, json=NOTHING))
    respx.post(USERS).mock(return_value=httpx.Response(500, json={"error": "oops"}))
    create = respx.post(TICKETS)
    with pytest.raises(BackendError):
        backend().create(new())
    assert not create.called


@pytest.mark.parametrize(
    ("search", "user", "message"),
    [
        (b"<html>maintenance</html>", None, "search.json"),
        (json.dumps({"results": {"id": 1}}).encode(), None, "'results' is not a list"),
        (json.dumps({"results": [{"result_type": "user"}]}).encode(), None, "without an id"),
        (json.dumps(NOTHING).encode(), b'{"user": {"name": "x"}}', "the user has no id"),
        (json.dumps(NOTHING).encode(), b"[]", "no user in the answer"),
    ],
)
@respx.mock
def test_malformed_answers_are_one_clear_error(
    search: bytes, user: bytes | None, message: str
) -> None:
    mock_marker_search()
    respx.get(SEARCH).mock(return_value=httpx.Response(200, content=search))
    respx.post(USERS).mock(return_value=httpx.Response(201, content=user or b"{}"))
    create = respx.post(TICKETS)
    with pytest.raises(BackendError) as err:
        backend().create(new())
    text = str(err.value)
    assert message in text and "zendesk instance 'zd'" in text and "\n" not in text
    assert not create.called


def test_end_to_end_on_the_fake_the_message_reads_back_as_the_requesters() -> None:
    from zendesk_fake import FakeZendesk

    from cstoolkit.model import EventKind, Role

    fake = FakeZendesk(tickets=1)
    with fake.mounted():
        zd = make_backend(fake)
        ext = zd.create(new(marker=None))
        requester = fake.tickets[int(ext)]["requester_id"]
        assert fake.users[requester]["phone"] == PHONE
        zd.apply(ext, Changes(comments=[Comment("any news?", from_requester=True)]))
        events = [e for p in zd.pull(None) for e in p.events if e.ticket_id.endswith(f":{ext}")]
    mine = [e for e in events if e.kind == EventKind.COMMENT and e.body == "any news?"]
    assert len(mine) == 1 and mine[0].public
    assert mine[0].author_id == f"zd:{requester}" and mine[0].author_role == Role.REQUESTER


def test_the_inbound_engine_creates_then_comments_as_the_customer(tmp_path: Any) -> None:
    """A WhatsApp message creates the ticket for the phone's end user; the customer's next
    message is their own comment on it, through the one write path."""
    from datetime import UTC, datetime

    from zendesk_fake import FakeZendesk

    from cstoolkit.config import load_config
    from cstoolkit.host import Host
    from cstoolkit.inbound.engine import COMMENTED, CREATED, Receiver
    from cstoolkit.inbound_source import InboundMessage
    from cstoolkit.store import open_store

    (tmp_path / "helpdesk.jsonl").write_text("")
    (tmp_path / "cstoolkit.toml").write_text(
        '[backends.desk]\nplugin = "local"\npath = "helpdesk.jsonl"\n\n'
        '[inbound.wa]\nplugin = "whatsapp"\nbackend = "desk"\n'
        'app_secret = "env:CST_T_SECRET"\nverify_token = "env:CST_T_VERIFY"\n'
    )
    env = {"CST_T_SECRET": "meta-app-secret-5f1c0ffee", "CST_T_VERIFY": "verify-77d1e"}
    config = load_config(tmp_path / "cstoolkit.toml", env=env)
    store = open_store(config.store_path)
    fake = FakeZendesk(tickets=1)
    now = datetime.now(UTC)
    with fake.mounted():
        zd = make_backend(fake, instance="desk")
        receiver = Receiver(config, Host().load(), store, "wa", backend=zd)
        first = receiver.receive(InboundMessage("wamid.1", "whatsapp", PHONE, "hola", now))
        second = receiver.receive(InboundMessage("wamid.2", "whatsapp", PHONE, "any news?", now))
    store.close()
    assert first.action == CREATED and second.action == COMMENTED
    assert second.detail == "comment applied" and second.ticket_id == first.ticket_id
    ticket = fake.tickets[int(str(first.ticket_id).split(":")[-1])]
    requester = ticket["requester_id"]
    assert fake.users[requester]["phone"] == PHONE
    puts = [json.loads(r.content)["ticket"] for r in fake.requests if r.method == "PUT"]
    assert puts[-1]["comment"] == {"body": "any news?", "public": True, "author_id": requester}
