"""The engine: once-only ticket creation, threading, and a crash mid-create."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.inbound.engine import (
    COMMENTED,
    CREATED,
    DUPLICATE,
    IN_DOUBT,
    Receiver,
    in_doubt,
    resolve,
)
from cstoolkit.inbound.status import problems
from cstoolkit.inbound_source import Attachment, InboundMessage
from cstoolkit.plugin import TICKETS_CREATE, TICKETS_READ, Backend, NewTicket
from cstoolkit.store.ledger import Ledger, counts

from .helpers import load, tickets, workspace


def msg(mid: str, sender: str = "+34600111222", text: str = "hola", **kw: Any) -> InboundMessage:
    return InboundMessage(mid, kw.pop("channel", "whatsapp"), sender, text,
                          datetime.now(UTC), **kw)  # fmt: skip


class Crash(BaseException):
    """A process killed right after the backend created the ticket."""


class NoLookupBackend(Backend):
    """A backend that can create but cannot be asked whether it did (no marker lookup)."""

    name: ClassVar[str] = "nolookup"
    capabilities: ClassVar[frozenset[str]] = frozenset({TICKETS_READ, TICKETS_CREATE})
    created: ClassVar[list[NewTicket]] = []
    crash_next: ClassVar[bool] = False

    def create(self, ticket: NewTicket) -> str:
        type(self).created.append(ticket)
        if type(self).crash_next:
            type(self).crash_next = False
            raise Crash
        return str(len(type(self).created))


def later(monkeypatch: pytest.MonkeyPatch, seconds: int = 5) -> None:
    """The ledger's clock, moved past the dead run's lease (no sleeping in tests)."""
    from cstoolkit.store import ledger

    monkeypatch.setattr(ledger, "now", lambda: datetime.now(UTC) + timedelta(seconds=seconds))


def test_created_once_then_duplicate(tmp_path: Path) -> None:
    config, host, store = load(workspace(tmp_path))
    r = Receiver(config, host, store, "wa")
    assert r.receive(msg("w1")).action == CREATED
    again = Receiver(config, host, store, "wa").receive(msg("w1"))
    assert again.action == DUPLICATE and again.ticket_id == "desk:1"
    assert len(tickets(tmp_path)) == 1


def test_mail_threads_by_references_not_by_sender(tmp_path: Path) -> None:
    config, host, store = load(workspace(tmp_path))
    r = Receiver(config, host, store, "wa")
    first = r.receive(msg("<a@x>", "ana@example.com", channel="email", subject="Order"))
    assert first.action == CREATED
    reply = r.receive(msg("<b@x>", "ana@example.com", channel="email", thread_refs=["<a@x>"]))
    assert reply.action == COMMENTED and reply.ticket_id == first.ticket_id
    fresh = r.receive(msg("<c@x>", "ana@example.com", channel="email", subject="Other"))
    assert fresh.action == CREATED and fresh.ticket_id != first.ticket_id


def test_solved_ticket_is_not_reopened_by_a_new_message(tmp_path: Path) -> None:
    config, host, store = load(workspace(tmp_path))
    r = Receiver(config, host, store, "wa")
    assert r.receive(msg("w1")).action == CREATED
    path = tmp_path / "helpdesk.jsonl"
    rec = tickets(tmp_path)["1"]
    rec.update(status="solved", solved_at=rec["created_at"])
    import json

    path.write_text(path.read_text() + json.dumps(rec) + "\n")
    sync(config, host, store)
    assert r.receive(msg("w2")).action == CREATED


def sync(config: Any, host: Any, store: Any) -> None:
    from cstoolkit.instances import build_instance

    backend = build_instance(config, host, "backends", "desk", store)
    for page in backend.pull(None):
        store.upsert_page("desk", page)


def test_attachments_and_long_text_are_bounded(tmp_path: Path) -> None:
    config, host, store = load(workspace(tmp_path))
    many = [Attachment(f"f{i}.jpg", "image/jpeg", 10, f"https://m/{i}") for i in range(25)]
    Receiver(config, host, store, "wa").receive(msg("w1", text="x" * 70000, attachments=many))
    desc = tickets(tmp_path)["1"]["description"]
    assert "[cut: 4464 more characters]" in desc and "and 5 more (over the limit)" in desc


def test_crash_mid_create_is_found_by_marker_never_created_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSTOOLKIT_TEST_LEASE", "1")
    config, host, store = load(workspace(tmp_path))
    r = Receiver(config, host, store, "wa")
    real = r.backend.create

    def create_then_die(ticket: NewTicket) -> str:
        real(ticket)
        raise Crash

    monkeypatch.setattr(r.backend, "create", create_then_die)
    with pytest.raises(Crash):
        r.receive(msg("w1"))
    # the provider's retry while the dead run's lease still runs: answered, not created again
    assert Receiver(config, host, store, "wa").receive(msg("w1")).action == DUPLICATE
    later(monkeypatch)
    out = Receiver(config, host, store, "wa").recover()
    assert [o.action for o in out] == [CREATED] and out[0].detail == "found by marker"
    assert len(tickets(tmp_path)) == 1 and counts(store, "inbound") == {"done": 1}


def test_crash_mid_create_without_lookup_is_in_doubt_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSTOOLKIT_TEST_LEASE", "1")
    config, host, store = load(workspace(tmp_path))
    NoLookupBackend.created.clear()
    NoLookupBackend.crash_next = True
    backend = NoLookupBackend("desk", {}, None)  # type: ignore[arg-type]
    with pytest.raises(Crash):
        Receiver(config, host, store, "wa", backend=backend).receive(msg("w1"))
    later(monkeypatch)
    assert [p["state"] for p in problems(store)] == ["interrupted"]
    out = Receiver(config, host, store, "wa", backend=backend).recover()
    assert [o.action for o in out] == [IN_DOUBT]
    assert len(NoLookupBackend.created) == 1  # never created again blindly
    assert [e.key for e in in_doubt(store)] == ["wa:w1"]
    assert [p["state"] for p in problems(store)] == ["in_doubt"]
    from cstoolkit.doctor import check_inbound
    from cstoolkit.ops.status import collect, prometheus

    status = collect(store)
    assert status["inbound"]["in_doubt"] == 1
    assert "cstoolkit_inbound_in_doubt 1" in prometheus(status)
    check = check_inbound(config)
    assert check.status == "warn" and "1 in doubt" in check.detail
    # a retry of the message is still answered without creating
    assert Receiver(config, host, store, "wa", backend=backend).receive(msg("w1")).action == (
        DUPLICATE
    )
    assert resolve(store, "wa", "w1", created="desk:77")
    assert problems(store) == [] and len(NoLookupBackend.created) == 1


def test_forgetting_a_contact_erases_their_address_from_inbound_rows(tmp_path: Path) -> None:
    from cstoolkit.ops.privacy import forget
    from cstoolkit.store import inbound as db

    config, host, store = load(workspace(tmp_path))
    Receiver(config, host, store, "wa").receive(msg("w1", "+34600111222"))
    Receiver(config, host, store, "wa").receive(msg("<m@x>", "ana@example.com", channel="email"))
    report = forget(store, "+34600111222")
    assert report.counts["inbound_messages"] == 1
    forget(store, "ana@example.com")
    assert db.latest_for_contact(store, "wa", "+34600111222") is None
    assert db.latest_for_contact(store, "wa", "ana@example.com") is None
    entry = Ledger(store, "inbound", "peek").get("wa:w1")
    assert entry is not None and "+34600111222" not in json.dumps(entry.detail)
    # a later message from the same phone starts a new ticket
    assert Receiver(config, host, store, "wa").receive(msg("w2", "+34600111222")).action == (
        CREATED
    )


@given(raw=st.binary(max_size=400) | st.text(max_size=300).map(lambda t: t.encode("utf-8",
       "surrogatepass")))  # fmt: skip
def test_any_mail_bytes_parse_or_are_refused_with_a_reason(raw: bytes) -> None:
    """What the poll treats as 'cannot be parsed' is every failure parse_mail can have."""
    from cstoolkit.builtin.imap import ImapSource

    source = ImapSource("m", {"host": "127.0.0.1", "username": "u", "password": "p",
                              "security": "none"}, None)  # type: ignore[arg-type]  # fmt: skip
    try:
        message = source.parse_mail(b"From: a@b.example\r\n" + raw, "imap://u@h/INBOX")
    except (ValueError, LookupError, TypeError, UnicodeError, IndexError):
        return
    assert message.sender == "a@b.example" or "@" in message.sender
    assert message.message_id


def test_an_error_while_creating_is_settled_by_the_next_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timeout after the helpdesk created the ticket: the webhook answers 503, the provider
    delivers again, the marker finds the ticket: one ticket."""
    config, host, store = load(workspace(tmp_path))
    r = Receiver(config, host, store, "wa")
    real = r.backend.create

    def create_then_time_out(ticket: NewTicket) -> str:
        real(ticket)
        raise TimeoutError("read timed out")

    monkeypatch.setattr(r.backend, "create", create_then_time_out)
    first = r.receive(msg("w1"))
    assert first.action == "failed" and "read timed out" in first.detail
    again = Receiver(config, host, store, "wa").receive(msg("w1"))
    assert again.action == CREATED and again.detail == "found by marker"
    assert len(tickets(tmp_path)) == 1


def test_an_error_while_creating_without_lookup_is_in_doubt(tmp_path: Path) -> None:
    config, host, store = load(workspace(tmp_path))
    NoLookupBackend.created.clear()

    class Flaky(NoLookupBackend):
        def create(self, ticket: NewTicket) -> str:
            type(self).created.append(ticket)
            raise TimeoutError("read timed out")

    backend = Flaky("desk", {}, None)  # type: ignore[arg-type]
    assert Receiver(config, host, store, "wa", backend=backend).receive(msg("w1")).action == (
        "failed"
    )
    again = Receiver(config, host, store, "wa", backend=backend).receive(msg("w1"))
    assert again.action == IN_DOUBT and len(NoLookupBackend.created) == 1
