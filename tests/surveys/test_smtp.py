"""Surveys delivered to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.builtin.channels import message_id
from cstoolkit.model import now
from cstoolkit.store.ledger import FAILED, Ledger
from cstoolkit.surveys.links import Signer
from cstoolkit.surveys.send import send_surveys

from .helpers import KEY, LANGS, make_workspace, simple_desk
from .smtpd import Handler, SMTPServer, authenticator, require_aiosmtpd, self_signed_cert

pytestmark = pytest.mark.server

SMTP = """\
[channels.mail]
plugin = "smtp"
host = "127.0.0.1"
port = {port}
security = "{security}"
from_addr = "surveys@support.example"
from_name = "Acme Support"
timeout = 10
{extra}
"""

SUBJECTS = {"es": "¿Qué tal lo hicimos", "en": "How did we do", "pt": "Como foi o nosso"}


def _workspace(tmp_path: Path, port: int, security: str = "none", extra: str = "") -> Any:
    return make_workspace(
        tmp_path,
        channels=SMTP.format(port=port, security=security, extra=extra),
        channel="mail",
    )


def test_surveys_arrive_with_headers_language_and_signed_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_aiosmtpd()
    monkeypatch.setenv("CST_TEST_SMTP_PASSWORD", "s3cret-pass")
    simple_desk(tmp_path / "helpdesk.jsonl", 6, now())
    handler = Handler(refuse={"c3@customer.example"})
    with SMTPServer(
        handler, auth_require_tls=False, authenticator=authenticator("survey", "s3cret-pass")
    ) as server:
        ws = _workspace(
            tmp_path,
            server.port,
            extra='username = "survey"\npassword = "env:CST_TEST_SMTP_PASSWORD"\n',
        )
        config, host, store = ws.load()
        report = send_surveys(config, host, store)
    assert report.count("sent") == 5 and report.count("failed") == 1
    failed = next(i for i in report.items if i.action == "failed")
    assert failed.ticket == "demo:3" and "550" in failed.reason
    entry = Ledger(store, "survey").get("csat/demo:3")
    assert entry is not None and entry.state == FAILED
    assert str(entry.detail["error"]).startswith("permanent: ")  # a 5xx is not retried
    assert handler.ehlo_count == 1, "one SMTP session for the whole run (connection reuse)"
    assert len(handler.messages) == 5
    signer = Signer({"k1": KEY})
    for received in handler.messages:
        msg = received.message
        (rcpt,) = received.rcpt_tos
        n = int(re.match(r"c(\d+)@", rcpt).group(1))  # type: ignore[union-attr]
        lang = LANGS[n % 3]
        key = f"csat/demo:{n}"
        assert received.mail_from == "surveys@support.example"
        assert msg["To"].addresses[0].addr_spec == rcpt
        assert str(msg["From"]) == "Acme Support <surveys@support.example>"
        assert msg["Message-ID"] == message_id(key, "support.example")
        assert msg["Content-Language"] == lang
        assert msg["Subject"].startswith(SUBJECTS[lang])
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsub = re.fullmatch(r"<http://127\.0\.0\.1:8765/u/([^>]+)>", msg["List-Unsubscribe"])
        assert unsub is not None
        assert signer.verify(unsub.group(1), now()).offer_key == key
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
        links = re.findall(r"http://127\.0\.0\.1:8765/s/([A-Za-z0-9._-]+)\?score=(\d)", text)
        assert [int(s) for _, s in links] == [1, 2, 3, 4, 5]
        assert {signer.verify(t, now()).offer_key for t, _ in links} == {key}
        assert html.count("?score=") == 5
        assert (f"Problem number {n}") in text
    store.close()


def test_message_ids_are_deterministic_per_survey() -> None:
    a = message_id("csat/demo:1", "support.example")
    assert a == message_id("csat/demo:1", "support.example")
    assert a != message_id("csat/demo:1/c2", "support.example")
    assert re.fullmatch(r"<survey\.[0-9a-f]{32}@support\.example>", a)


def test_starttls_with_certificate_verification(tmp_path: Path) -> None:
    require_aiosmtpd()
    cert, key = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    simple_desk(tmp_path / "helpdesk.jsonl", 2, now())
    handler = Handler()
    with SMTPServer(handler, tls_context=context, require_starttls=True) as server:
        ws = _workspace(tmp_path, server.port, "starttls", f'ca_file = "{cert}"\n')
        config, host, store = ws.load()
        report = send_surveys(config, host, store)
    assert report.count("sent") == 2, report.as_dict()
    assert len(handler.messages) == 2
    store.close()


def test_wrong_password_stops_the_channel_without_sending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_aiosmtpd()
    monkeypatch.setenv("CST_TEST_SMTP_PASSWORD", "wrong-password")
    simple_desk(tmp_path / "helpdesk.jsonl", 3, now())
    handler = Handler()
    with SMTPServer(
        handler, auth_require_tls=False, authenticator=authenticator("survey", "right-password")
    ) as server:
        ws = _workspace(
            tmp_path,
            server.port,
            extra='username = "survey"\npassword = "env:CST_TEST_SMTP_PASSWORD"\n',
        )
        config, host, store = ws.load()
        report = send_surveys(config, host, store)
    assert report.count("failed") == 1 and report.count("sent") == 0
    assert report.exit_code == 1
    assert any("authentication refused" in e for e in report.errors)
    assert "wrong-password" not in str(report.as_dict())
    assert not handler.messages
    # The other two were not even tried: the channel stopped for this run.
    later = [i.reason for i in report.items if i.action == "later"]
    assert len(later) == 2 and all(r.startswith("channel stopped") for r in later)
    assert len(list(Ledger(store, "survey").entries())) == 1
    store.close()
