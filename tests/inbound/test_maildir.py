"""``cst inbound poll`` on a Maildir: once each, moved to cur/ seen, unparsable mail flagged and
kept, attachments as links, and any bytes at all handled without a traceback or a loss."""

from __future__ import annotations

import json
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cstoolkit.inbound.engine import COMMENTED, CREATED, DUPLICATE, Receiver
from cstoolkit.inbound.poll import poll_sources
from cstoolkit.inbound.status import problems
from tests.config_gen import cst

from .helpers import ENV, load, mail, tickets, workspace


class Box:
    """A workspace with a local helpdesk and a Maildir source ``mail``."""

    def __init__(self, root: Path, **settings: Any) -> None:
        self.root = root
        self.maildir = root / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
        self.path = workspace(root, f'\n[inbound.mail]\nplugin = "maildir"\nbackend = "desk"\n'
                                    f'path = "Maildir"\n{extra}')  # fmt: skip
        self.n = 0

    def deliver(self, msg: EmailMessage | bytes, *, sub: str = "new", info: str = "") -> str:
        self.n += 1
        name = f"1700000{self.n:03d}.M{self.n}P1.host" + info
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        (self.maildir / sub / name).write_bytes(raw)
        return name

    def files(self) -> dict[str, list[str]]:
        return {s: sorted(p.name for p in (self.maildir / s).iterdir()) for s in ("new", "cur")}

    def all_bytes(self) -> list[bytes]:
        return sorted(p.read_bytes() for s in ("new", "cur") for p in (self.maildir / s).iterdir())

    def poll(self) -> Any:
        config, host, store = load(self.path)
        try:
            return poll_sources(config, host, store, ["mail"]), problems(store)
        finally:
            store.close()


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def test_mail_becomes_a_ticket_a_reply_a_comment_moved_to_cur_seen(box: Box) -> None:
    box.deliver(mail("<m1@example.com>"))
    report, found = box.poll()
    assert [o.action for o in report.outcomes] == [CREATED] and found == []
    assert box.files() == {"new": [], "cur": ["1700000001.M1P1.host:2,S"]}
    box.deliver(mail("<m2@example.com>", text="Any news?", In_Reply_To="<m1@example.com>"))
    box.deliver(mail("<m3@example.com>", sender="bo@example.com", subject="Other"))
    report, _ = box.poll()
    assert [(o.action, o.ticket_id) for o in report.outcomes] == [
        (COMMENTED, "desk:1"), (CREATED, "desk:2")]  # fmt: skip
    assert len(tickets(box.root)) == 2
    assert box.files()["new"] == [] and len(box.files()["cur"]) == 3  # nothing deleted
    again, _ = box.poll()
    assert again.outcomes == [] and again.problems == []


def test_seen_and_flagged_mail_in_cur_is_left_alone(box: Box) -> None:
    box.deliver(mail("<read@example.com>"), sub="cur", info=":2,S")
    box.deliver(mail("<flag@example.com>"), sub="cur", info=":2,F")
    box.deliver(mail("<unread@example.com>"), sub="cur", info=":2,")
    report, _ = box.poll()
    assert [o.message_id for o in report.outcomes] == ["<unread@example.com>"]
    assert "1700000003.M3P1.host:2,S" in box.files()["cur"]


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
    bad = box.deliver(raw)
    box.deliver(mail("<good@example.com>"))
    before = box.all_bytes()
    report, found = box.poll()
    assert [o.action for o in report.outcomes] == [CREATED]
    assert len(report.problems) == 1 and "left in the mailbox, flagged" in report.problems[0]
    assert [p["kind"] for p in found] == ["unparsed"]
    assert f"{bad}:2,F" in box.files()["cur"] and box.all_bytes() == before  # bytes untouched
    again, found = box.poll()
    assert again.outcomes == [] and again.problems == [] and len(found) == 1  # still reported
    # the operator unflags it: the next poll tries again (and flags it again)
    (box.maildir / "cur" / f"{bad}:2,F").rename(box.maildir / "cur" / f"{bad}:2,")
    third, _ = box.poll()
    assert len(third.problems) == 1 and f"{bad}:2,F" in box.files()["cur"]


def test_attachments_are_links_into_the_maildir_with_size_limits(tmp_path: Path) -> None:
    box = Box(tmp_path, max_attachment_bytes=1000, max_message_bytes=20000)
    msg = mail("<att@example.com>")
    msg.add_attachment(b"%PDF small", maintype="application", subtype="pdf",
                       filename="invoice.pdf")  # fmt: skip
    msg.add_attachment(b"x" * 5000, maintype="image", subtype="png", filename="photo.png")
    box.deliver(msg)
    huge = mail("<huge@example.com>")
    huge.add_attachment(b"y" * 30000, maintype="application", subtype="zip", filename="big.zip")
    box.deliver(huge)
    report, found = box.poll()
    assert [o.action for o in report.outcomes] == [CREATED]
    desc = tickets(box.root)["1"]["description"]
    assert "invoice.pdf (application/pdf, 10 bytes): maildir://" in desc
    assert "/Maildir/;KEY=1700000001.M1P1.host/;SECTION=2" in desc
    assert "photo.png (image/png, 5000 bytes): over the size limit, not linked" in desc
    assert "over max_message_bytes" in report.problems[0] and len(found) == 1


def test_a_crash_before_the_mail_is_marked_done_takes_it_once(box: Box) -> None:
    box.deliver(mail("<once@example.com>"))
    config, host, store = load(box.path)
    from cstoolkit.instances import build_instance

    source = build_instance(config, host, "inbound", "mail", store)
    item = next(iter(source.poll()))  # read, taken, then the process "dies" before done()
    assert Receiver(config, host, store, "mail").receive(item.message).action == CREATED
    store.close()
    assert box.files()["new"] == ["1700000001.M1P1.host"]
    report, _ = box.poll()
    assert [o.action for o in report.outcomes] == [DUPLICATE]
    assert len(tickets(box.root)) == 1 and box.files()["cur"] == ["1700000001.M1P1.host:2,S"]


def test_the_same_mail_delivered_twice_is_one_ticket(box: Box) -> None:
    box.deliver(mail("<twice@example.com>"))
    box.deliver(mail("<twice@example.com>"))
    report, _ = box.poll()
    assert [o.action for o in report.outcomes] == [CREATED, DUPLICATE]
    assert len(tickets(box.root)) == 1 and len(box.files()["cur"]) == 2


def test_not_a_maildir_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = Box(tmp_path)
    (box.maildir / "tmp").rmdir()
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    code, _, err = cst("--config", str(box.path), "inbound", "poll")
    assert code == 1 and "not a Maildir" in err and "Traceback" not in err


def test_config_check_accepts_maildir_and_names_a_missing_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Box(tmp_path)
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    code, out, err = cst("--config", str(box.path), "config", "check")
    assert code == 0, out + err
    text = box.path.read_text().replace('path = "Maildir"\n', "")
    box.path.write_text(text)
    code, out, err = cst("--config", str(box.path), "config", "check")
    assert code == 2 and "inbound.mail" in out + err and "path" in out + err


def test_cli_poll_reports_and_exits_1_on_an_unparsable_mail(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    box.deliver(mail("<x@example.com>", sender=""))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    code, out, err = cst("--config", str(box.path), "inbound", "poll", "--json")
    assert code == 1 and "flagged" in err and json.loads(out) == []
    code, out, err = cst("--config", str(box.path), "inbound", "status")
    assert code == 1 and "unparsed" in out


_HEADERS = st.sampled_from([
    b"From: ana@example.com\r\n", b"From: \r\n", b"From: <@>\r\n", b"Message-ID: <a@b>\r\n",
    b"Message-ID: \r\n", b"In-Reply-To: <a@b>\r\n", b"References: <<<>>>\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n", b"Content-Type: text/plain; charset=zz\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Content-Language: es-ES\r\n",
    b"Date: not a date\r\n", b"Subject: =?utf-8?q?=FF=FE?=\r\n", b"\r\n", b"--x\r\n",
])  # fmt: skip


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(_HEADERS | st.binary(max_size=120), min_size=1, max_size=8))
def test_any_bytes_in_the_maildir_never_a_traceback_nothing_lost(parts: list[bytes]) -> None:
    """Hostile mail bytes: the poll never raises; every message is still in the Maildir with its
    bytes, either taken (seen, and a ticket or a duplicate) or flagged and reported."""
    with tempfile.TemporaryDirectory() as tmp:
        box = Box(Path(tmp))
        raw = b"".join(parts)
        box.deliver(raw)
        box.deliver(b"From: ana@example.com\r\nMessage-ID: <ok@x>\r\n\r\nhola\r\n")
        report, found = box.poll()
        assert box.all_bytes() == sorted([raw, b"From: ana@example.com\r\nMessage-ID: <ok@x>"
                                                b"\r\n\r\nhola\r\n"])  # fmt: skip
        files = box.files()
        assert files["new"] == [] and len(files["cur"]) == 2
        flagged = [f for f in files["cur"] if f.endswith(":2,F")]
        assert len(flagged) == len(report.problems) == len(found)
        assert len(report.outcomes) + len(report.problems) == 2
        assert all(o.action in (CREATED, DUPLICATE) for o in report.outcomes)
