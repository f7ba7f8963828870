"""Inbound WhatsApp/SMS on a real Request Tracker 5 (marker ``server``): a requester known
only by phone becomes an RT user and the ticket's requestor; their next message is a private
comment marked as theirs, never a correspondence RT would mail back to them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cstoolkit_request_tracker import RequestTrackerBackend
from rt_server import RT

from cstoolkit.backends.requesters import REQUESTER_NOTE_HEADER
from cstoolkit.plugin import Changes, Comment, NewTicket
from cstoolkit.store.kv import MemoryKeyValue

pytestmark = pytest.mark.server

QUEUE = "cst-inbound"


def _backend(rt: RT) -> RequestTrackerBackend:
    return RequestTrackerBackend("rt", rt.config(queue=QUEUE), MemoryKeyValue("rt"))


def _transactions(rt: RT, ticket: str) -> list[dict[str, Any]]:
    data = rt.get(f"/ticket/{ticket}/history", fields="Type,Creator", per_page=100)
    return list(data["items"])


def test_phone_requester_is_found_or_created_and_their_message_is_a_comment(rt: RT) -> None:
    rt.queue(QUEUE)
    phone = "+34600111999"
    backend = _backend(rt)
    first = backend.create(
        NewTicket(
            "WhatsApp from +34600111999",
            "hola",
            requester_name="Ana",
            channel="whatsapp",
            requester_phone="whatsapp:" + phone,
        )
    )
    second = backend.create(NewTicket("again", "otra vez", requester_phone=phone))
    users = rt.post(
        "/users?fields=Name,MobilePhone,RealName,EmailAddress", [{"field": "Name", "value": phone}]
    )["items"]
    assert [
        (u["Name"], u["RealName"], u["MobilePhone"], u.get("EmailAddress") or "") for u in users
    ] == [
        (phone, "Ana", phone, "")
    ]  # one user, found again for the second ticket, no email invented
    for ticket in (first, second):
        requestors = rt.get(f"/ticket/{ticket}")["Requestor"]
        assert [r["id"] for r in requestors] == [phone]

    done = backend.apply(
        first, Changes(comments=[Comment("¿y mi pedido?", public=True, from_requester=True)])
    )
    assert done.changed and done.detail == "comment"
    kinds = [t["Type"] for t in _transactions(rt, first)]
    assert "Comment" in kinds and "Correspond" not in kinds
    pulled = [e for p in backend.pull(None) for e in p.events if e.ticket_id == f"rt:{first}"]
    notes = [e for e in pulled if e.body and "¿y mi pedido?" in e.body]
    assert len(notes) == 1 and notes[0].public is False
    assert notes[0].body.startswith(REQUESTER_NOTE_HEADER)
    backend.close()


def test_whatsapp_messages_through_the_inbound_engine_into_rt(rt: RT, tmp_path: Path) -> None:
    """End to end: two Twilio WhatsApp messages from one number become one RT ticket whose
    requestor is the phone's user, and a private comment marked as theirs."""
    from datetime import UTC, datetime

    from cstoolkit.config import load_config
    from cstoolkit.host import Host
    from cstoolkit.inbound.engine import Receiver
    from cstoolkit.inbound_source import InboundMessage
    from cstoolkit.store import open_store

    rt.queue(QUEUE)
    (tmp_path / "cstoolkit.toml").write_text(f"""
[backends.rt]
plugin = "request_tracker"
base_url = "{rt.base_url}"
token = "env:CST_TEST_RT_TOKEN"
queue = "{QUEUE}"

[inbound.tw]
plugin = "twilio"
backend = "rt"
account_sid = "AC{"0" * 32}"
auth_token = "env:CST_TEST_AUTH_TOKEN"
""")
    env = {"CST_TEST_RT_TOKEN": rt.token, "CST_TEST_AUTH_TOKEN": "twilio-auth-token"}
    config = load_config(tmp_path / "cstoolkit.toml", env=env)
    store = open_store(config.store_path)
    receiver = Receiver(config, Host().load(), store, "tw")
    phone = "+34600222333"
    now = datetime.now(UTC)
    first = receiver.receive(InboundMessage("SM" + "a" * 32, "whatsapp", phone, "hola", now))
    second = receiver.receive(
        InboundMessage("SM" + "b" * 32, "whatsapp", phone, "¿hay alguien?", now)
    )
    assert (first.action, second.action) == ("created", "commented")
    assert first.ticket_id == second.ticket_id and first.ticket_id
    ticket = first.ticket_id.split(":", 1)[1]
    assert [r["id"] for r in rt.get(f"/ticket/{ticket}")["Requestor"]] == [phone]
    kinds = [t["Type"] for t in _transactions(rt, ticket)]
    assert kinds.count("Comment") == 1 and "Correspond" not in kinds
    store.close()
