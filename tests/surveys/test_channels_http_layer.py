"""Every HTTP channel sends through the one HTTP layer and keeps its delivery semantics.

The same scenarios run against each channel (respx): 429 with and without ``Retry-After``, a
5xx, a timeout before sending (nothing reached the provider: sent again) and after sending (a
POST without an idempotency key is never sent again: ``unknown``), a 2xx whose body cannot be
read (never a failure), the vendor's field errors kept in the outcome, and a credential the
vendor echoes back redacted from every outcome.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from cstoolkit.builtin.channels import WebhookChannel
from cstoolkit.http_channel import HttpChannel
from cstoolkit.messages import FAILED, SENT, UNKNOWN, Message, Recipient
from cstoolkit.model import now
from cstoolkit.store.kv import MemoryKeyValue

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "planted-Secret-9f3e1c"


@dataclass
class Case:
    """One channel: how to build it, where it posts, what success looks like."""

    name: str
    build: Callable[[], HttpChannel]
    url: str
    ok: httpx.Response
    idempotent_post: bool  # the POST carries a key the provider deduplicates: 5xx/timeouts resent
    default_wait: float  # seconds waited after a 429 without a hint
    reads_body: bool = True  # the provider's answer carries the message id
    credential: str = PLANTED  # the secret as configured: what a careless provider echoes


def _webhook() -> HttpChannel:
    config = {"url": "https://hooks.example/survey?tenant=7", "secret": PLANTED}
    return WebhookChannel("hook", config, MemoryKeyValue())


def _slack() -> HttpChannel:
    slack = pytest.importorskip(
        "cstoolkit_slack",
        reason="cstoolkit-slack is not installed; "
        "to enable: pip install -e plugins/cstoolkit-slack",
    )
    return slack.SlackChannel("slack", {"bot_token": f"xoxb-{PLANTED}"}, MemoryKeyValue())


def _slack_hook() -> HttpChannel:
    slack = pytest.importorskip(
        "cstoolkit_slack",
        reason="cstoolkit-slack is not installed; "
        "to enable: pip install -e plugins/cstoolkit-slack",
    )
    url = f"https://hooks.slack.com/services/T0/B0/{PLANTED}"
    return slack.SlackWebhookChannel("hook", {"url": url}, MemoryKeyValue())


def _whatsapp() -> HttpChannel:
    wa = pytest.importorskip(
        "cstoolkit_whatsapp",
        reason="cstoolkit-whatsapp is not installed; "
        "to enable: pip install -e plugins/cstoolkit-whatsapp",
    )
    config = {"phone_number_id": "123", "access_token": f"EAAG{PLANTED}"}
    return wa.WhatsAppChannel("wa", config, MemoryKeyValue())


def _twilio() -> HttpChannel:
    tw = pytest.importorskip(
        "cstoolkit_twilio_sms",
        reason="cstoolkit-twilio-sms is not installed; "
        "to enable: pip install -e plugins/cstoolkit-twilio-sms",
    )
    config = {"account_sid": "AC1", "auth_token": PLANTED, "from_number": "+15005550006"}
    return tw.TwilioSMSChannel("sms", config, MemoryKeyValue())


CASES = [
    Case("webhook", _webhook, "https://hooks.example/survey", httpx.Response(202), True, 1.0,
         reads_body=False),
    Case("slack", _slack, "https://slack.com/api/chat.postMessage",
         httpx.Response(200, json={"ok": True, "channel": "D1", "ts": "1.2"}), False, 60.0,
         credential=f"xoxb-{PLANTED}"),
    Case("slack_webhook", _slack_hook, f"https://hooks.slack.com/services/T0/B0/{PLANTED}",
         httpx.Response(200, text="ok"), False, 60.0, reads_body=False),
    Case("whatsapp", _whatsapp, "https://graph.facebook.com/v21.0/123/messages",
         httpx.Response(200, json={"messages": [{"id": "wamid.1"}]}), False, 60.0,
         credential=f"EAAG{PLANTED}"),
    Case("twilio_sms", _twilio, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
         httpx.Response(201, json={"sid": "SM1", "status": "queued"}), False, 2.0),
]  # fmt: skip


def message() -> Message:
    return Message(
        idempotency_key="csat/demo:1",
        recipient=Recipient(
            id="c1", name="Ana", email="ana@example.org", phone="+15555550100",
            handles={"slack": "U1"},
        ),
        subject="How did we do?",
        text="Rate us",
        short="Rate us: https://example.org/s/1",
        links={"survey": "https://example.org/s/1"},
        last_inbound_at=now(),
        created_at=now(),
    )  # fmt: skip


def run(case: Case, *answers: Any) -> tuple[Any, respx.Route, list[float]]:
    """Send one message with the provider answering ``answers`` in turn."""
    channel = case.build()
    slept: list[float] = []
    channel.sleep = slept.append  # type: ignore[method-assign]
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(case.url).mock(side_effect=list(answers))
        try:
            result = channel.send(message())
        finally:
            channel.close()
    return result, route, slept


def no_secret(result: Any) -> None:
    for text in (result.detail, str(result.provider_ref)):
        assert PLANTED not in text


ids = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_429_with_retry_after_waits_that_long(case: Case) -> None:
    result, route, slept = run(case, httpx.Response(429, headers={"Retry-After": "3"}), case.ok)
    assert result.outcome == SENT and route.call_count == 2 and slept == [3.0]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_429_without_a_hint_waits_the_default(case: Case) -> None:
    result, route, slept = run(case, httpx.Response(429, text="slow down"), case.ok)
    assert result.outcome == SENT and route.call_count == 2 and slept == [case.default_wait]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_rate_limited_until_the_retries_run_out_stops_the_channel(case: Case) -> None:
    result, route, _ = run(case, *[httpx.Response(429, headers={"Retry-After": "1"})] * 3)
    assert route.call_count == 3 and result.stop and result.outcome != SENT
    no_secret(result)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_a_5xx_is_resent_only_with_an_idempotency_key(case: Case) -> None:
    body = {"message": f"upstream failed for {case.credential}"}
    result, route, _ = run(case, httpx.Response(503, json=body), case.ok)
    if case.idempotent_post:
        assert result.outcome == SENT and route.call_count == 2
    else:
        assert result.outcome == UNKNOWN and route.call_count == 1  # may have been applied
        assert "HTTP 503" in result.detail and "upstream failed" in result.detail
    no_secret(result)


@pytest.mark.parametrize("case", CASES, ids=ids)
@pytest.mark.parametrize("before", [httpx.ConnectError("refused"), httpx.ConnectTimeout("syn")])
def test_a_failure_before_sending_is_retried(case: Case, before: Exception) -> None:
    result, route, slept = run(case, before, case.ok)
    assert result.outcome == SENT and route.call_count == 2 and len(slept) == 1


@pytest.mark.parametrize("case", CASES, ids=ids)
@pytest.mark.parametrize(
    "after",
    [httpx.ReadTimeout("slow"), httpx.WriteTimeout("slow"), httpx.RemoteProtocolError("eof")],
)
def test_a_failure_after_sending_is_unknown_unless_the_post_is_idempotent(
    case: Case, after: Exception
) -> None:
    result, route, _ = run(case, after, case.ok)
    if case.idempotent_post:
        assert result.outcome == SENT and route.call_count == 2
    else:
        assert (result.outcome, route.call_count) == (UNKNOWN, 1)
        assert "may have been applied" in result.detail


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_an_accepted_answer_that_cannot_be_read_is_never_a_failure(case: Case) -> None:
    status = case.ok.status_code
    result, route, _ = run(case, httpx.Response(status, content=b'{"sid": "SM1", "mess'))
    assert route.call_count == 1
    assert result.outcome == (UNKNOWN if case.reads_body else SENT)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_vendor_field_errors_are_kept_and_the_echoed_secret_is_not(case: Case) -> None:
    body = {
        "description": "Validation failed",
        "errors": [
            {"field": "to", "message": f"not a number ({case.credential})", "code": "invalid"}
        ],
    }
    result, route, _ = run(case, httpx.Response(422, json=body))
    assert (result.outcome, result.permanent, route.call_count) == (FAILED, True, 1)
    assert "Validation failed: to: not a number" in result.detail
    no_secret(result)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_refused_credentials_stop_the_channel_without_showing_them(case: Case) -> None:
    result, _, _ = run(
        case, httpx.Response(401, json={"message": f"bad credentials {case.credential}"})
    )
    assert (result.outcome, result.stop) == (FAILED, True)
    assert "bad credentials" in result.detail
    no_secret(result)


def test_the_webhook_posts_the_exact_signed_bytes_with_its_key() -> None:
    import hashlib
    import hmac

    channel = _webhook()
    with respx.mock() as mock:
        route = mock.post("https://hooks.example/survey").mock(
            side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200)]
        )
        channel.sleep = lambda s: None  # type: ignore[method-assign]
        assert channel.send(message()).outcome == SENT
    first, second = (call.request for call in route.calls)
    assert first.content == second.content  # resent byte for byte, same key
    assert second.headers["Idempotency-Key"] == "csat/demo:1"
    assert second.url.params["tenant"] == "7"
    digest = hmac.new(PLANTED.encode(), second.content, hashlib.sha256).hexdigest()
    assert second.headers["X-Cst-Signature"] == f"sha256={digest}"
    assert json.loads(second.content)["idempotency_key"] == "csat/demo:1"


def test_a_stop_code_is_never_a_permanent_failure() -> None:
    """WhatsApp's throughput limit (130429) stops the run; the survey is tried again later."""
    body = {"error": {"message": "Rate limit hit", "code": 130429, "type": "OAuthException"}}
    case = next(c for c in CASES if c.name == "whatsapp")
    result, _, _ = run(case, httpx.Response(400, json=body))
    assert (result.outcome, result.stop, result.permanent) == (FAILED, True, False)


# -- nothing bypasses the HTTP layer -------------------------------------------------------------

_CLIENT_CALLS = {"Client", "AsyncClient", "get", "post", "put", "patch", "delete", "request",
                 "stream", "urlopen", "HTTPConnection", "HTTPSConnection"}  # fmt: skip
_NETWORK_MODULES = ("httpx", "requests", "urllib.request", "http.client", "aiohttp", "urllib3")
_MENTIONS = ("httpx", "import requests", "from requests", "urllib", "http.client", "aiohttp")


def _network_calls(text: str, where: str) -> list[str]:
    """Places in one module's source that send HTTP other than through cstoolkit.http."""
    if not any(token in text for token in _MENTIONS):
        return []
    tree = ast.parse(text, where)
    aliases: dict[str, str] = {}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(_NETWORK_MODULES):
                    aliases[a.asname or a.name.split(".")[0]] = a.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(_NETWORK_MODULES):
            for a in node.names:
                if a.name in _CLIENT_CALLS:
                    found.append(f"{where}:{node.lineno}: imports {a.name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            while isinstance(owner, ast.Attribute):
                owner = owner.value
            if (
                isinstance(owner, ast.Name)
                and owner.id in aliases
                and node.func.attr in _CLIENT_CALLS
            ):
                found.append(f"{where}:{node.lineno}: {owner.id}.{node.func.attr}")
    return found


def test_no_channel_provider_or_backend_sends_http_outside_the_http_layer() -> None:
    sources = [*(ROOT / "cstoolkit").rglob("*.py")]
    for plugin in (ROOT / "plugins").glob("cstoolkit-*"):
        sources += [p for p in plugin.rglob("*.py") if "tests" not in p.parts]
    allowed = {ROOT / "cstoolkit" / "http.py"}
    found = [
        hit
        for path in sources
        if path not in allowed
        for hit in _network_calls(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert found == [], (
        "send HTTP through cstoolkit.http (HttpClient / HttpChannel):\n" + "\n".join(found)
    )


def test_the_bypass_check_finds_each_way_of_sending() -> None:
    source = """
import httpx, urllib.request
import requests as rq
from httpx import Client
def f():
    httpx.post("https://x")
    with httpx.Client() as c:
        c.get("/")
    rq.get("https://x")
    urllib.request.urlopen("https://x")
    httpx.Timeout(3)  # not a request: fine
"""
    found = _network_calls(source, "m.py")
    assert sorted(found, key=lambda hit: int(hit.split(":")[1])) == [
        "m.py:4: imports Client",
        "m.py:6: httpx.post",
        "m.py:7: httpx.Client",
        "m.py:9: rq.get",
        "m.py:10: urllib.urlopen",
    ]
