"""``answer_from_kb = true`` on an inbound source: a new ticket gets the knowledge base's first
answer once, in the customer's language, through the one write path; a customer who asks for a
person is handed to the team; a reply to the ticket gets no second answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cstoolkit.inbound import first_answer
from cstoolkit.inbound.engine import COMMENTED, CREATED, Settings
from cstoolkit.instances import build_instance
from cstoolkit.knowledge import answer as kb_answer
from cstoolkit.knowledge import sample
from cstoolkit.knowledge.sync import sync_source
from tests.config_gen import cst

from .helpers import ENV, load, mail, tickets
from .test_maildir import Box

KB = '\n[knowledge.help]\nplugin = "markdown"\npath = "kb"\n'


def kb_box(root: Path, **settings: Any) -> Box:
    box = Box(root, **settings)
    box.path.write_text(box.path.read_text() + KB)
    sample.write(root / "kb")
    config, host, store = load(box.path)
    try:
        sync_source(store, "help", build_instance(config, host, "knowledge", "help", store))
    finally:
        store.close()
    return box


def public_replies(rec: dict[str, Any]) -> list[str]:
    events = rec.get("events", [])
    return [
        e.get("body", "")
        for e in events
        if e.get("kind") == "comment" and e.get("public") and e.get("role") == "agent"
    ]


ES = "Hola, no me llega el enlace para restablecer la contraseña. ¿Qué hago?"


def test_a_new_ticket_is_answered_once_in_the_customers_language(tmp_path: Path) -> None:
    box = kb_box(tmp_path, answer_from_kb=True)
    box.deliver(mail("<es1@example.com>", subject="Contraseña", text=ES))
    report, _ = box.poll()
    assert [o.action for o in report.outcomes] == [CREATED]
    assert [(a.ticket_id, a.action) for a in report.answers] == [("desk:1", "answered")]
    assert "es/restablecer-contrasena" in report.answers[0].detail
    rec = tickets(box.root)["1"]
    assert rec["language"] == "es"
    (answer,) = public_replies(rec)
    assert answer.startswith("Hola") and "No puedo restablecer mi contraseña" in answer
    assert rec["custom_fields"][kb_answer.ARTICLE_FIELD] == "help:es/restablecer-contrasena.md"
    # the customer answers: a comment, and no second automatic answer
    box.deliver(mail("<es2@example.com>", subject="Re: Contraseña", text=ES,
                     In_Reply_To="<es1@example.com>"))  # fmt: skip
    again, _ = box.poll()
    assert [(o.action, o.ticket_id) for o in again.outcomes] == [(COMMENTED, "desk:1")]
    assert again.answers == []
    assert len(public_replies(tickets(box.root)["1"])) == 1


def test_a_customer_asking_for_a_person_is_handed_to_the_team(tmp_path: Path) -> None:
    box = kb_box(tmp_path, answer_from_kb=True)
    text = "Olá, não consigo redefinir minha senha. Quero falar com um atendente."
    box.deliver(mail("<pt1@example.com>", subject="Senha", text=text))
    report, _ = box.poll()
    assert [a.action for a in report.answers] == ["handed_off"]
    rec = tickets(box.root)["1"]
    assert kb_answer.HANDOFF_TAG in rec["tags"] and public_replies(rec) == []


def test_no_article_above_the_floor_no_answer(tmp_path: Path) -> None:
    box = kb_box(tmp_path, answer_from_kb=True, answer_min_score=0.99)
    box.deliver(mail("<es1@example.com>", subject="Contraseña", text=ES))
    report, _ = box.poll()
    assert [a.action for a in report.answers] == ["not_answered"]
    assert public_replies(tickets(box.root)["1"]) == []


def test_off_by_default(tmp_path: Path) -> None:
    box = kb_box(tmp_path)
    box.deliver(mail("<es1@example.com>", subject="Contraseña", text=ES))
    report, _ = box.poll()
    assert report.answers == [] and public_replies(tickets(box.root)["1"]) == []


def test_a_busy_sync_is_reported_and_the_message_still_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cstoolkit.errors import BusyError

    box = kb_box(tmp_path, answer_from_kb=True)
    box.deliver(mail("<es1@example.com>", subject="Contraseña", text=ES))

    def busy(self: Any) -> None:
        raise BusyError("sync:desk is held by another run")

    monkeypatch.setattr(first_answer.FirstAnswer, "_pull", busy)
    report, _ = box.poll()
    assert [a.action for a in report.answers] == ["not_tried"]
    assert "first-line recipe" in report.answers[0].detail
    assert [o.action for o in report.outcomes] == [CREATED]  # the message itself is taken


def test_the_recipe_is_the_knowledge_base_actions_with_the_source_settings() -> None:
    settings = Settings("mail", "maildir", "desk", answer_from_kb=True, answer_min_score=0.5,
                        handoff_words=["humano"])  # fmt: skip
    text = first_answer.recipe_text(settings)
    assert '"answer_from_kb"' in text and '"kb_handoff"' in text and '"min_score": 0.5' in text
    assert '"humano"' in text


def test_cli_poll_says_the_first_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = kb_box(tmp_path, answer_from_kb=True)
    box.deliver(mail("<es1@example.com>", subject="Contraseña", text=ES))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    code, out, err = cst("--config", str(box.path), "inbound", "poll")
    assert code == 0, out + err
    assert "first answer on desk:1: answered" in err
    code, out, err = cst("--config", str(box.path), "config", "check")
    assert code == 0, out + err


def test_a_webhook_ticket_is_answered_too(tmp_path: Path) -> None:
    """Twilio SMS in Spanish: the ticket is created and answered during the request."""
    from .helpers import post_twilio, twilio_form
    from .test_webhooks import serve

    sample.write(tmp_path / "kb")
    for served in serve(tmp_path, "answer_from_kb = true\n" + KB):
        config = served.server.app.config
        host = served.server.app.host
        source = build_instance(config, host, "knowledge", "help", served.store)
        sync_source(served.store, "help", source)
        status, _ = post_twilio(served.port, twilio_form(body=ES))
        assert status == 200
        rec = tickets(tmp_path)["1"]
        assert rec["language"] == "es" and rec["channel"] == "sms"
        (answer,) = public_replies(rec)
        assert answer.startswith("Hola")


def test_the_customers_language_from_content_language_else_their_words() -> None:
    from cstoolkit.builtin.mail import parse_mail
    from cstoolkit.inbound.engine import _language
    from cstoolkit.knowledge.text import guess_language

    raw = (b"From: ana@example.com\r\nMessage-ID: <l@x>\r\nContent-Language: pt-BR, en\r\n\r\n"
           b"Hello, I cannot log in.\r\n")  # fmt: skip
    message = parse_mail(raw, str)
    assert message.data["language"] == "pt" and _language(message) == "pt"
    assert guess_language("Hola, no me llega el enlace para restablecer la contraseña") == "es"
    assert guess_language("Olá, não consigo redefinir minha senha, o link não chega") == "pt"
    assert guess_language("Hi, I cannot reset my password, the link never arrives") == "en"
    assert guess_language("ok") is None and guess_language("") is None
