"""``cst inbound poll`` against a real Dovecot on 127.0.0.1 (started by the tests)."""

from __future__ import annotations

import imaplib
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.inbound.engine import COMMENTED, CREATED, Receiver
from cstoolkit.inbound.poll import poll_sources
from cstoolkit.inbound.status import problems
from tests.config_gen import cst
from tests.imapserver import ImapServer

from .helpers import ENV, load, mail, tickets, workspace


class Box:
    """One mailbox (a folder of its own per test) on the session's server."""

    def __init__(self, server: ImapServer, root: Path, **settings: Any) -> None:
        self.server, self.root = server, root
        self.name = "t" + uuid.uuid4().hex[:10]
        self.conn = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
        self.conn.login(server.user, server.password)
        self.conn.create(self.name)
        extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in settings.items())
        ENV["CST_TEST_IMAP_PASSWORD"] = server.password
        self.path = workspace(root, f"""
[inbound.mail]
plugin = "imap"
backend = "desk"
host = "127.0.0.1"
port = {server.port}
security = "none"
username = "{server.user}"
password = "env:CST_TEST_IMAP_PASSWORD"
mailbox = "{self.name}"
{extra}""")  # fmt: skip

    def append(self, msg: EmailMessage | bytes) -> None:
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        typ, _ = self.conn.append(self.name, None, None, raw)
        assert typ == "OK"

    def flags(self) -> list[str]:
        self.conn.select(self.name, readonly=True)
        typ, data = self.conn.fetch("1:*", "(FLAGS)")
        return [d.decode() for d in data if d] if typ == "OK" else []

    def poll(self) -> Any:
        config, host, store = load(self.path)
        try:
            return poll_sources(config, host, store, ["mail"]), problems(store)
        finally:
            store.close()


@pytest.fixture
def box(imap_server: ImapServer, tmp_path: Path) -> Any:
    b = Box(imap_server, tmp_path)
    yield b
    b.conn.logout()


def test_mail_becomes_a_ticket_a_reply_a_comment_and_nothing_is_deleted(box: Box) -> None:
    box.append(mail("<m1@example.com>"))
    report, _ = box.poll()
    assert [o.action for o in report.outcomes] == [CREATED] and not report.problems
    ticket = tickets(box.root)["1"]
    assert ticket["subject"] == "Order 42" and ticket["channel"] == "email"
    box.append(mail("<m2@example.com>", subject="Re: Order 42", text="Any news?",
                    In_Reply_To="<m1@example.com>", References="<m1@example.com>"))  # fmt: skip
    report, _ = box.poll()
    assert [(o.action, o.ticket_id) for o in report.outcomes] == [(COMMENTED, "desk:1")]
    assert box.poll()[0].outcomes == []  # nothing new
    flags = box.flags()
    assert len(flags) == 2 and all("CstImported" in f and "\\Seen" in f for f in flags)
    assert len(tickets(box.root)) == 1


@pytest.mark.parametrize(
    "raw",
    [
        mail("<bad1@example.com>", sender=""),  # no sender
        b"From: ana@example.com\r\nMessage-ID: <bad2@x>\r\nContent-Type: text/plain; "
        b"charset=x-no-such-charset\r\n\r\nhola\r\n",
    ],
    ids=["no-from", "unknown-charset"],
)
def test_unparsable_mail_is_left_flagged_and_reported_never_deleted(box: Box, raw: Any) -> None:
    box.append(raw)
    box.append(mail("<good@example.com>"))
    report, found = box.poll()
    assert [o.action for o in report.outcomes] == [CREATED]
    assert len(report.problems) == 1 and "left in the mailbox, flagged" in report.problems[0]
    assert [p["kind"] for p in found] == ["unparsed"]
    flags = box.flags()
    assert len(flags) == 2  # both still there
    assert "CstUnparsed" in flags[0] and "\\Flagged" in flags[0] and "\\Seen" not in flags[0]
    again, found = box.poll()
    assert again.outcomes == [] and again.problems == [] and len(found) == 1  # still reported


def test_attachments_are_links_into_the_mailbox_with_size_limits(
    imap_server: ImapServer, tmp_path: Path
) -> None:
    box = Box(imap_server, tmp_path, max_attachment_bytes=1000, max_message_bytes=20000)
    msg = mail("<att@example.com>")
    msg.add_attachment(b"%PDF small", maintype="application", subtype="pdf",
                       filename="invoice.pdf")  # fmt: skip
    msg.add_attachment(b"x" * 5000, maintype="image", subtype="png", filename="photo.png")
    box.append(msg)
    huge = mail("<huge@example.com>")
    huge.add_attachment(b"y" * 30000, maintype="application", subtype="zip", filename="big.zip")
    box.append(huge)
    report, found = box.poll()
    assert [o.action for o in report.outcomes] == [CREATED]
    desc = tickets(box.root)["1"]["description"]
    assert f"invoice.pdf (application/pdf, 10 bytes): imap://cst@127.0.0.1:{imap_server.port}/" \
           f"{box.name};UIDVALIDITY=" in desc and ";SECTION=2" in desc  # fmt: skip
    assert "photo.png (image/png, 5000 bytes): over the size limit, not linked" in desc
    assert "over max_message_bytes" in report.problems[0] and len(found) == 1
    box.conn.logout()


def test_a_crash_before_the_mail_is_marked_done_takes_it_once(box: Box) -> None:
    box.append(mail("<once@example.com>"))
    config, host, store = load(box.path)
    from cstoolkit.instances import build_instance

    source = build_instance(config, host, "inbound", "mail", store)
    item = next(iter(source.poll()))  # read, taken, then the process "dies" before done()
    assert Receiver(config, host, store, "mail").receive(item.message).action == CREATED
    store.close()
    report, _ = box.poll()
    assert [o.action for o in report.outcomes] == ["duplicate"]
    assert len(tickets(box.root)) == 1 and "CstImported" in box.flags()[0]


def test_cli_poll_reports_and_exits_1_on_an_unparsable_mail(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    box.append(mail("<x@example.com>", sender=""))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    code, out, err = cst("--config", str(box.path), "inbound", "poll", "--json")
    assert code == 1 and "flagged" in err
    assert box.server.password not in out + err
    code, out, err = cst("--config", str(box.path), "inbound", "status")
    assert code == 1 and "unparsed" in out
