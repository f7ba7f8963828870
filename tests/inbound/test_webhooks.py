"""``cst inbound serve`` on a real socket: signed requests built with the providers' documented
algorithms, refused ones recorded nowhere, retries recorded once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cstoolkit.inbound.server import make_server
from cstoolkit.store import inbound as db
from cstoolkit.store.ledger import counts

from .helpers import (
    APP_SECRET,
    AUTH_TOKEN,
    VERIFY_TOKEN,
    http,
    load,
    post_twilio,
    post_wa,
    tickets,
    twilio_form,
    wa_body,
    workspace,
)


class Served:
    def __init__(self, root: Path, server: Any, store: Any) -> None:
        self.root, self.server, self.store = root, server, store
        self.port = server.server_address[1]

    def recorded(self) -> int:
        return sum(counts(self.store, "inbound").values())


def serve(root: Path, extra: str = "") -> Iterator[Served]:
    config, host, store = load(workspace(root, extra))
    server = make_server(config, host, store, port=0)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Served(root, server, store)
    finally:
        server.shutdown()
        server.server_close()
        server.app.close()
        store.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


def test_meta_verification_answers_the_challenge_only_with_the_token(served: Served) -> None:
    ok = f"/inbound/wa?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
    assert http(served.port, "GET", ok) == (200, b"1158201444")
    bad = "/inbound/wa?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444"
    assert http(served.port, "GET", bad)[0] == 403
    assert http(served.port, "GET", "/inbound/wa")[0] == 405


def test_whatsapp_message_becomes_a_ticket_once_and_a_retry_is_answered_200(
    served: Served,
) -> None:
    body = wa_body("wamid.A1", text="my order never arrived")
    assert post_wa(served.port, body)[0] == 200
    assert post_wa(served.port, body)[0] == 200  # Meta's retry of the same delivery
    found = tickets(served.root)
    assert len(found) == 1
    ticket = next(iter(found.values()))
    assert ticket["channel"] == "whatsapp"
    assert "my order never arrived" in ticket["description"]
    assert counts(served.store, "inbound") == {"done": 1}


def test_second_message_threads_onto_the_contacts_open_ticket(served: Served) -> None:
    assert post_wa(served.port, wa_body("wamid.B1", text="first"))[0] == 200
    assert post_wa(served.port, wa_body("wamid.B2", text="second"))[0] == 200
    found = tickets(served.root)
    assert len(found) == 1
    events = next(iter(found.values()))["events"]
    assert [e["role"] for e in events] == ["requester", "requester"]
    assert events[-1]["body"] == "second" and events[-1]["public"] is True
    # another contact gets their own ticket
    assert post_wa(served.port, wa_body("wamid.B3", sender="34600999888"))[0] == 200
    assert len(tickets(served.root)) == 2


@pytest.mark.parametrize("sign", ["none", "wrong-secret", "tampered"])
def test_unsigned_or_wrongly_signed_whatsapp_is_refused_403_and_recorded_nowhere(
    served: Served, sign: str
) -> None:
    body = wa_body("wamid.C1")
    if sign == "none":
        status = post_wa(served.port, body, sign=False)[0]
    elif sign == "wrong-secret":
        status = post_wa(served.port, body, secret="not-" + APP_SECRET)[0]
    else:
        from cstoolkit.inbound_source import meta_signature

        headers = {"X-Hub-Signature-256": meta_signature(APP_SECRET, body)}
        status = http(served.port, "POST", "/inbound/wa", body.replace(b"hola", b"HOLA"),
                      headers)[0]  # fmt: skip
    assert status == 403
    assert served.recorded() == 0 and tickets(served.root) == {}


def test_twilio_sms_and_whatsapp_signed_with_the_documented_algorithm(served: Served) -> None:
    status, body = post_twilio(served.port, twilio_form("SM" + "1" * 32, body="sms text"))
    assert status == 200 and b"<Response>" in body
    status, _ = post_twilio(
        served.port, twilio_form("SM" + "2" * 32, sender="whatsapp:+34600555666", body="wa")
    )
    assert status == 200
    channels = sorted(t["channel"] for t in tickets(served.root).values())
    assert channels == ["sms", "whatsapp"]
    assert post_twilio(served.port, twilio_form("SM" + "1" * 32))[0] == 200  # a retry
    assert len(tickets(served.root)) == 2
    assert counts(served.store, "inbound") == {"done": 2}


def test_twilio_wrong_token_or_url_is_refused(served: Served) -> None:
    form = twilio_form("SM" + "3" * 32)
    assert post_twilio(served.port, form, token="wrong")[0] == 403
    assert post_twilio(served.port, form, sign=False)[0] == 403
    other = "https://support.example.com/inbound/tw"
    assert post_twilio(served.port, form, url=other)[0] == 403
    assert served.recorded() == 0


def test_public_url_setting_is_what_the_signature_covers(tmp_path: Path) -> None:
    public = "https://support.example.com/hooks/inbound/tw"
    extra = f'public_url = "{public}"\n'
    gen = serve(tmp_path, extra.replace("public_url", "public_url", 1))
    # the Twilio section is last in the workspace: the extra keys belong to it
    served = next(gen)
    try:
        form = twilio_form("SM" + "4" * 32)
        assert post_twilio(served.port, form)[0] == 403  # signed for the local address
        assert post_twilio(served.port, form, url=public)[0] == 200
    finally:
        gen.close()


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"object": "page"}', b'{"object": "whatsapp_business_account"}',
     b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": '
     b'{"messages": [{"from": "x", "id": "w", "timestamp": "1", "type": "text"}]}}]}]}',
     b"\xff\xfe"],
)  # fmt: skip
def test_malformed_but_signed_body_is_refused_400_and_recorded_nowhere(
    served: Served, body: bytes
) -> None:
    assert post_wa(served.port, body)[0] == 400
    assert served.recorded() == 0 and tickets(served.root) == {}


def test_status_notifications_are_answered_and_take_nothing(served: Served) -> None:
    import json

    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [{
        "field": "messages", "value": {"statuses": [{"id": "wamid.X", "status": "read"}]}}]}]}
    ).encode()  # fmt: skip
    assert post_wa(served.port, body)[0] == 200
    assert served.recorded() == 0


def test_unknown_source_and_method(served: Served) -> None:
    assert http(served.port, "POST", "/inbound/nope", b"{}")[0] == 404
    assert http(served.port, "DELETE", "/inbound/wa")[0] == 405
    assert http(served.port, "GET", "/healthz") == (200, b"ok\n")


def test_attachments_are_kept_as_links(served: Served) -> None:
    document = {"id": "1037543291543636", "mime_type": "application/pdf",
                "filename": "invoice.pdf", "caption": "see"}  # fmt: skip
    message = {"from": "34600111222", "id": "wamid.M1", "timestamp": "1733500000",
               "type": "document", "document": document}  # fmt: skip
    assert post_wa(served.port, wa_body(message=message))[0] == 200
    desc = next(iter(tickets(served.root).values()))["description"]
    assert "invoice.pdf (application/pdf): whatsapp-media:1037543291543636" in desc


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=600), st.text(max_size=300).map(str.encode),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                   lambda c: st.lists(c, max_size=3)
                                   | st.dictionaries(st.text(max_size=8), c, max_size=3),
                                   max_leaves=12).map(lambda v: __import__("json").dumps(
                                       {"object": "whatsapp_business_account", "entry": v}
                                   ).encode())))  # fmt: skip
def test_hostile_signed_bodies_are_answered_never_crash_and_record_only_real_messages(
    served: Served, body: bytes
) -> None:
    status, _ = post_wa(served.port, body)
    assert status in (200, 400)
    if status == 400:
        assert db.counts(served.store).get("wa", {}).get("in", 0) == served.recorded()
    status, _ = post_wa(served.port, body, secret="wrong")
    assert status == 403
    assert http(served.port, "GET", "/healthz")[0] == 200


def test_secrets_never_in_answers_or_logs(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    q = f"/inbound/wa?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"
    http(served.port, "GET", q)
    answers = [post_wa(served.port, b"x", secret="wrong")[1],
               post_twilio(served.port, twilio_form(), token="bad")[1]]  # fmt: skip
    for secret in (APP_SECRET, VERIFY_TOKEN, AUTH_TOKEN):
        assert secret not in caplog.text
        assert all(secret.encode() not in a for a in answers)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.dictionaries(
    st.sampled_from(["MessageSid", "AccountSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
                     "MediaContentType0", "ProfileName", "X"]),
    st.lists(st.text(max_size=40), min_size=1, max_size=2), max_size=9))  # fmt: skip
def test_hostile_signed_twilio_forms_are_answered_never_crash(
    served: Served, form: dict[str, list[str]]
) -> None:
    before = served.recorded()
    status, _ = post_twilio(served.port, form)
    assert status in (200, 400, 403)
    if status != 200:
        assert served.recorded() == before
