"""HTTP channels and the Nicereply provider against respx: requests as the vendors document
them, and their error answers (4xx with vendor bodies, 429, 5xx, timeouts)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from cstoolkit.builtin.channels import WebhookChannel
from cstoolkit.messages import FAILED, SENT, UNKNOWN, Message, Recipient, SurveyOffer
from cstoolkit.model import now
from cstoolkit.store.kv import MemoryKeyValue


def _message(**over: Any) -> Message:
    recipient = Recipient(
        id="demo:c1",
        name="Carla Cliente",
        email="carla@customer.example",
        phone="+34 600 111 222",
        language="es",
        handles={"slack": "U024BE7LH"},
    )
    base: dict[str, Any] = {
        "idempotency_key": "csat/demo:1",
        "recipient": recipient,
        "subject": "¿Qué tal?",
        "text": "texto",
        "short": "Acme: ¿Qué tal? https://s.example/s/tok",
        "language": "es",
        "links": {
            "survey": "https://s.example/s/tok",
            "opt_out": "https://s.example/u/tok",
            **{f"score:{n}": f"https://s.example/s/tok?score={n}" for n in range(1, 6)},
        },
        "data": {"survey": "csat", "kind": "csat", "ticket_external_id": "1", "brand": "Acme"},
        "created_at": datetime(2026, 3, 1, tzinfo=UTC),
    }
    base.update(over)
    return Message(**base)


def _no_sleep(cls: Any, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(cls, "sleep", staticmethod(slept.append))
    return slept


# -- webhook (built in) ------------------------------------------------------------------------


@respx.mock
def test_webhook_signs_the_body_and_sends_the_idempotency_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("cstoolkit.builtin.channels.time.sleep", lambda s: None)
    route = respx.post("https://hooks.example/survey").mock(return_value=httpx.Response(202))
    ch = WebhookChannel(
        "hook", {"url": "https://hooks.example/survey", "secret": "whsec-123456"}, MemoryKeyValue()
    )
    result = ch.send(_message())
    assert result.outcome == SENT
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == "csat/demo:1"
    expected = hmac.new(b"whsec-123456", request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-Cst-Signature"] == f"sha256={expected}"
    body = json.loads(request.content)
    assert body["type"] == "survey.message" and body["links"]["opt_out"].endswith("/u/tok")
    assert body["to"]["email"] == "carla@customer.example"
    assert WebhookChannel.idempotent


@respx.mock
@pytest.mark.parametrize(
    ("responses", "outcome", "stop", "permanent"),
    [
        ([httpx.Response(422, json={"error": "bad survey"})], FAILED, False, True),
        ([httpx.Response(401, text="bad signature")], FAILED, True, False),
        ([httpx.Response(429, headers={"Retry-After": "1"})] * 3, UNKNOWN, True, False),
        ([httpx.Response(503), httpx.Response(200)], SENT, False, False),
        ([httpx.Response(409, text="duplicate idempotency key")], SENT, False, False),
        ([httpx.TimeoutException("slow")] * 3, UNKNOWN, False, False),
        # refused every time: retried (nothing reached the receiver), then the channel stops
        ([httpx.ConnectError("refused")] * 3, FAILED, True, False),
    ],
)
def test_webhook_error_answers(
    monkeypatch: pytest.MonkeyPatch,
    responses: list[Any],
    outcome: str,
    stop: bool,
    permanent: bool,
) -> None:
    monkeypatch.setattr("cstoolkit.builtin.channels.time.sleep", lambda s: None)
    respx.post("https://hooks.example/survey").mock(side_effect=responses)
    ch = WebhookChannel(
        "hook", {"url": "https://hooks.example/survey", "retries": 2}, MemoryKeyValue()
    )
    result = ch.send(_message())
    assert (result.outcome, result.stop, result.permanent) == (outcome, stop, permanent)


# -- slack -------------------------------------------------------------------------------------


@respx.mock
def test_slack_chat_post_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from cstoolkit_slack import SlackChannel

    _no_sleep(SlackChannel, monkeypatch)
    route = respx.post("https://slack.com/api/chat.postMessage").mock(
        side_effect=[
            httpx.Response(200, json={"ok": True, "channel": "D123", "ts": "1503435956.000247"}),
            httpx.Response(200, json={"ok": False, "error": "channel_not_found"}),
            httpx.Response(200, json={"ok": False, "error": "invalid_auth"}),
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(200, json={"ok": True, "channel": "D123", "ts": "2.0"}),
            httpx.Response(500, text="internal_error"),
        ]
    )
    ch = SlackChannel(
        "slack",
        {"bot_token": "xoxb-secret-token", "base_url": "https://slack.com/api"},
        MemoryKeyValue(),
    )
    ok = ch.send(_message())
    assert (ok.outcome, ok.provider_ref) == (SENT, "D123/1503435956.000247")
    request = route.calls[0].request
    assert request.headers["Authorization"] == "Bearer xoxb-secret-token"
    body = json.loads(request.content)
    assert body["channel"] == "U024BE7LH" and body["text"].startswith("Acme:")
    buttons = body["blocks"][1]["elements"]
    assert [b["url"] for b in buttons][-1] == "https://s.example/s/tok?score=5"
    assert body["metadata"]["event_payload"]["key"] == "csat/demo:1"
    missing = ch.send(_message())
    assert (missing.outcome, missing.permanent) == (FAILED, True)
    assert "channel_not_found" in missing.detail
    auth = ch.send(_message())
    assert (auth.outcome, auth.stop) == (FAILED, True)
    limited = ch.send(_message())  # 429 then ok: retried after Retry-After
    assert limited.outcome == SENT
    server = ch.send(_message())
    assert server.outcome == UNKNOWN  # the post may have happened
    assert not SlackChannel.idempotent


@respx.mock
def test_slack_incoming_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    from cstoolkit_slack import SlackWebhookChannel

    _no_sleep(SlackWebhookChannel, monkeypatch)
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    route = respx.post(url).mock(
        side_effect=[
            httpx.Response(200, text="ok"),
            httpx.Response(400, text="invalid_payload"),
            httpx.Response(404, text="no_service"),
            httpx.Response(403, text="action_prohibited"),
        ]
    )
    ch = SlackWebhookChannel("hook", {"url": url}, MemoryKeyValue())
    assert ch.send(_message()).outcome == SENT
    body = json.loads(route.calls[0].request.content)
    assert body["text"].startswith("<@U024BE7LH> Acme:")
    bad = ch.send(_message())
    assert (bad.outcome, bad.permanent) == (FAILED, True) and "invalid_payload" in bad.detail
    gone = ch.send(_message())
    assert gone.outcome == FAILED and "no_service" in gone.detail
    denied = ch.send(_message())
    assert (denied.outcome, denied.stop) == (FAILED, True)
    assert "XXXXSECRET" not in denied.detail


# -- whatsapp ----------------------------------------------------------------------------------

WA_URL = "https://graph.facebook.com/v21.0/1234567890/messages"


def _wa(**over: Any) -> Any:
    from cstoolkit_whatsapp import WhatsAppChannel

    config = {"phone_number_id": "1234567890", "access_token": "EAAG-secret", **over}
    return WhatsAppChannel("wa", config, MemoryKeyValue())


@respx.mock
def test_whatsapp_free_text_inside_the_window_template_outside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cstoolkit_whatsapp import WhatsAppChannel

    _no_sleep(WhatsAppChannel, monkeypatch)
    ok = {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "34600111222", "wa_id": "34600111222"}],
        "messages": [{"id": "wamid.HBgLMzQ2MDAxMTEyMjIVAgARGBI"}],
    }
    route = respx.post(WA_URL).mock(return_value=httpx.Response(200, json=ok))
    ch = _wa(template="csat_survey")
    inside = ch.send(_message(last_inbound_at=now() - timedelta(hours=3)))
    assert (inside.outcome, inside.provider_ref) == (SENT, "wamid.HBgLMzQ2MDAxMTEyMjIVAgARGBI")
    body = json.loads(route.calls[0].request.content)
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "34600111222",
        "type": "text",
        "text": {"preview_url": False, "body": "Acme: ¿Qué tal? https://s.example/s/tok"},
    }
    assert route.calls[0].request.headers["Authorization"] == "Bearer EAAG-secret"
    outside = ch.send(_message(last_inbound_at=now() - timedelta(hours=30)))
    assert outside.outcome == SENT
    body = json.loads(route.calls[1].request.content)
    assert body["type"] == "template" and "text" not in body
    assert body["template"] == {
        "name": "csat_survey",
        "language": {"code": "es"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Carla"},
                    {"type": "text", "text": "https://s.example/s/tok"},
                ],
            }
        ],
    }
    # Outside the window without an approved template: refused, nothing sent.
    refused = _wa().send(_message(last_inbound_at=None))
    assert (refused.outcome, refused.permanent) == (FAILED, True)
    assert "24-hour" in refused.detail and route.call_count == 2


@respx.mock
def test_whatsapp_error_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from cstoolkit_whatsapp import WhatsAppChannel

    _no_sleep(WhatsAppChannel, monkeypatch)

    def err(code: int, message: str, details: str = "") -> dict[str, Any]:
        return {
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details},
                "fbtrace_id": "AbCdEf",
            }
        }

    respx.post(WA_URL).mock(
        side_effect=[
            httpx.Response(
                400,
                json=err(
                    131047,
                    "Re-engagement message",
                    "More than 24 hours have passed since the customer "
                    "last replied to this number.",
                ),
            ),
            httpx.Response(401, json=err(190, "Error validating access token")),
            httpx.Response(400, json=err(130429, "Rate limit hit")),
            httpx.Response(429, json=err(80007, "Rate limit issues")),
            httpx.Response(429, json=err(80007, "Rate limit issues")),
            httpx.Response(429, json=err(80007, "Rate limit issues")),
            httpx.Response(500, json=err(1, "An unknown error occurred")),
            httpx.ReadTimeout("timed out"),
        ]
    )
    ch = _wa(template="csat_survey")
    msg = _message(last_inbound_at=now())
    reengage = ch.send(msg)
    assert (reengage.outcome, reengage.permanent) == (FAILED, True)
    assert "(#131047) Re-engagement message: More than 24 hours" in reengage.detail
    token = ch.send(msg)
    assert (token.outcome, token.stop) == (FAILED, True) and "EAAG-secret" not in token.detail
    throughput = ch.send(msg)
    assert (throughput.outcome, throughput.stop) == (FAILED, True)
    limited = ch.send(msg)  # three 429s: retried, then given up
    assert (limited.outcome, limited.stop) == (FAILED, True)
    assert ch.send(msg).outcome == UNKNOWN  # 500 on a POST: may have been sent
    assert ch.send(msg).outcome == UNKNOWN  # timeout after sending
    assert not WhatsAppChannel.idempotent


# -- twilio ------------------------------------------------------------------------------------

TW = "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"


def _twilio(**over: Any) -> Any:
    from cstoolkit_twilio_sms import TwilioSMSChannel

    config = {
        "account_sid": "AC123",
        "auth_token": "tw-secret-token",
        "from_number": "+15005550006",
        **over,
    }
    return TwilioSMSChannel("sms", config, MemoryKeyValue())


@respx.mock
def test_twilio_creates_a_message_and_keeps_its_sid(monkeypatch: pytest.MonkeyPatch) -> None:
    from cstoolkit_twilio_sms import TwilioSMSChannel

    _no_sleep(TwilioSMSChannel, monkeypatch)
    route = respx.post(TW).mock(
        return_value=httpx.Response(
            201, json={"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}
        )
    )
    result = _twilio().send(_message())
    assert (result.outcome, result.provider_ref) == (SENT, "SM0123456789abcdef0123456789abcdef")
    request = route.calls.last.request
    form = parse_qs(request.content.decode())
    assert form == {
        "To": ["+34600111222"],
        "From": ["+15005550006"],
        "Body": ["Acme: ¿Qué tal? https://s.example/s/tok"],
    }
    assert request.headers["Authorization"].startswith("Basic ")
    assert TwilioSMSChannel.idempotent


@respx.mock
def test_twilio_error_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from cstoolkit_twilio_sms import TwilioSMSChannel

    slept = _no_sleep(TwilioSMSChannel, monkeypatch)

    def err(code: int, message: str, status: int) -> httpx.Response:
        return httpx.Response(
            status,
            json={
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    respx.post(TW).mock(
        side_effect=[
            err(21211, "The 'To' number +34600 is not a valid phone number.", 400),
            err(21610, "Attempt to send to unsubscribed recipient", 400),
            err(20003, "Authenticate", 401),
            err(20429, "Too Many Requests", 429),
            httpx.Response(201, json={"sid": "SMabc", "status": "queued"}),
            err(20500, "Internal Server Error", 500),
            httpx.ReadTimeout("timed out"),
        ]
    )
    ch = _twilio()
    invalid = ch.send(_message())
    assert (invalid.outcome, invalid.permanent) == (FAILED, True) and "(21211)" in invalid.detail
    assert ch.send(_message()).permanent  # 21610: the person replied STOP
    auth = ch.send(_message())
    assert (auth.outcome, auth.stop) == (FAILED, True) and "tw-secret-token" not in auth.detail
    assert ch.send(_message()).outcome == SENT and slept  # 429 waited, then sent
    assert ch.send(_message()).outcome == UNKNOWN
    assert ch.send(_message()).outcome == UNKNOWN


@respx.mock
def test_twilio_lookup_finds_a_message_sent_before_a_crash() -> None:
    since = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    page1 = {
        "messages": [
            {
                "sid": "SMnew",
                "body": "something else",
                "date_created": "Sun, 01 Mar 2026 10:05:00 +0000",
            },
            {
                "sid": "SMours",
                "body": "Acme: ¿Qué tal? https://s.example/s/tok",
                "date_created": "Sun, 01 Mar 2026 10:00:02 +0000",
            },
        ],
        "next_page_uri": None,
    }
    route = respx.get(TW).mock(return_value=httpx.Response(200, json=page1))
    found = _twilio().lookup("csat/demo:1", message=_message(), since=since)
    assert found is not None and found.provider_ref == "SMours"
    params = route.calls.last.request.url.params
    assert params["To"] == "+34600111222" and params["From"] == "+15005550006"
    page_old = {
        "messages": [
            {
                "sid": "SMold",
                "body": "Acme: ¿Qué tal? https://s.example/s/tok",
                "date_created": "Sat, 28 Feb 2026 09:00:00 +0000",
            }
        ],
        "next_page_uri": "/2010-04-01/Accounts/AC123/Messages.json?Page=1",
    }
    route.mock(return_value=httpx.Response(200, json=page_old))
    assert _twilio().lookup("csat/demo:1", message=_message(), since=since) is None


# -- nicereply ---------------------------------------------------------------------------------


def _nicereply(**over: Any) -> Any:
    from cstoolkit_nicereply import NicereplyProvider

    config = {
        "kind": "csat",
        "channel": "mail",
        "api_key": "nr-private-key",
        "survey_id": 42,
        "rating_url": "https://www.nicereply.com/acme/{score}?ticket={ticket}&email={email}",
        "backend": "demo",
        **over,
    }
    return NicereplyProvider("nice", config, MemoryKeyValue())


def test_nicereply_composes_rating_links() -> None:
    offer = SurveyOffer(
        key="nice/demo:7",
        survey="nice",
        kind="csat",
        ticket_id="demo:7",
        ticket_external_id="7",
        cycle=1,
        recipient=Recipient(id="demo:c1", name="Ana Pérez", email="ana@x.example"),
        language="pt",
        offered_at=now(),
        expires_at=now() + timedelta(days=28),
        subject="Login",
    )
    msg = _nicereply().compose(offer, None)  # type: ignore[arg-type]
    assert msg.links["score:5"] == "https://www.nicereply.com/acme/5?ticket=7&email=ana%40x.example"
    assert msg.subject.startswith("Como foi") and "acme/1?ticket=7" in msg.text


@respx.mock
def test_nicereply_pulls_ratings_page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from cstoolkit_nicereply import NicereplyProvider

    _no_sleep(NicereplyProvider, monkeypatch)
    base = "https://api.nicereply.com/v1/surveys/42/ratings"
    route = respx.get(base).mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "_results": [
                        {
                            "id": 1,
                            "score": 5,
                            "comment": "great",
                            "ticket": "7",
                            "created_at": "2026-03-02T10:00:00+00:00",
                        },
                        {
                            "id": 2,
                            "score": 2,
                            "comment": "",
                            "ticket": "demo:8",
                            "created_at": "2026-03-02T11:00:00Z",
                        },
                    ],
                    "_pagination": {
                        "total": 3,
                        "count": 2,
                        "per_page": 2,
                        "current_page": 1,
                        "total_pages": 2,
                        "links": {"next": "/v1/surveys/42/ratings?page=2"},
                    },
                },
            ),
            httpx.Response(
                200,
                json={
                    "_results": [
                        {"id": 3, "score": 4, "ticket": "9", "created_at": "2026-03-03T09:00:00Z"}
                    ],
                    "_pagination": {"links": {"previous": "/v1/x?page=1"}},
                },
            ),
        ]
    )
    since = datetime(2026, 3, 1, tzinfo=UTC)
    answers = list(_nicereply().pull_responses(since))
    assert [(a.ticket_id, a.score, a.external_id) for a in answers] == [
        ("demo:7", 5, "nicereply:1"),
        ("demo:8", 2, "nicereply:2"),
        ("demo:9", 4, "nicereply:3"),
    ]
    first = route.calls[0].request
    assert first.url.params["period_start"] == "2026-03-01T00:00:00Z"
    assert (
        first.headers["Authorization"]
        == "Basic " + __import__("base64").b64encode(b":nr-private-key").decode()
    )
    assert route.calls[1].request.url.params["page"] == "2"


@respx.mock
def test_nicereply_errors_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    from cstoolkit_nicereply import NicereplyProvider

    from cstoolkit.errors import AuthError, BackendError

    _no_sleep(NicereplyProvider, monkeypatch)
    route = respx.get("https://api.nicereply.com/v1/surveys/42/ratings")
    route.mock(return_value=httpx.Response(401, json={"message": "Invalid API key"}))
    with pytest.raises(AuthError, match="Invalid API key") as err:
        list(_nicereply().pull_responses(None))
    assert "nr-private-key" not in str(err.value)
    route.mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(200, json={"_results": []}),
        ]
    )
    assert list(_nicereply().pull_responses(None)) == []
    route.mock(return_value=httpx.Response(404, json={"message": "Survey not found"}))
    with pytest.raises(BackendError, match="Survey not found"):
        list(_nicereply().pull_responses(None))
