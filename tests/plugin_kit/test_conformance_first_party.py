"""First-party channel and survey plugins run the kit's conformance suites (vendor APIs mocked
with respx; the suites block any real network access)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from cstoolkit.messages import Message
from cstoolkit.model import now
from cstoolkit.store.kv import MemoryKeyValue
from cstoolkit.testing import ChannelConformance, SurveyProviderConformance

respx = pytest.importorskip(
    "respx", reason="respx is not installed; to enable: pip install -e '.[test]'"
)


def _plugin(module: str) -> Any:
    """The first-party plugin's module; skips, saying how to install it, where it is missing."""
    dist = module.replace("_", "-")
    return pytest.importorskip(
        module, reason=f"{dist} is not installed; to enable: pip install -e plugins/{dist}"
    )


@pytest.fixture(autouse=True)
def _mocked_http() -> Iterator[Any]:
    with respx.mock:  # the global router (reset after each test)
        yield respx


class TestSlackWebhookChannel(ChannelConformance):
    URL = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
    provider_ref_expected = False  # incoming webhooks answer a bare "ok", no message id

    def make_channel(self, tmp_path: Path) -> Any:
        slack = _plugin("cstoolkit_slack")
        respx.post(self.URL).mock(return_value=httpx.Response(200, text="ok"))
        return slack.SlackWebhookChannel("hook", {"url": self.URL}, MemoryKeyValue())


class TestSlackChannel(ChannelConformance):
    def make_channel(self, tmp_path: Path) -> Any:
        slack = _plugin("cstoolkit_slack")
        respx.post("https://slack.com/api/chat.postMessage").mock(
            return_value=httpx.Response(200, json={"ok": True, "channel": "D1", "ts": "1.5"})
        )
        config = {"bot_token": "xoxb-suite-secret-token", "base_url": "https://slack.com/api"}
        return slack.SlackChannel("slack", config, MemoryKeyValue())


class TestWhatsAppChannel(ChannelConformance):
    def make_channel(self, tmp_path: Path) -> Any:
        wa = _plugin("cstoolkit_whatsapp")
        respx.post("https://graph.facebook.com/v21.0/1234567890/messages").mock(
            return_value=httpx.Response(
                200, json={"messaging_product": "whatsapp", "messages": [{"id": "wamid.SUITE"}]}
            )
        )
        config = {"phone_number_id": "1234567890", "access_token": "EAAG-suite-secret"}
        return wa.WhatsAppChannel("wa", config, MemoryKeyValue())

    def make_message(self, key: str = "suite/t1/c1") -> Message:
        message = super().make_message(key)
        message.last_inbound_at = now() - timedelta(hours=1)  # inside the 24-hour window
        return message


class _TwilioApi:
    """Messages.json as Twilio documents it: create (form POST) and list (GET, newest first)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            item = {
                "sid": f"SM{len(self.sent) + 1:032d}",
                "body": form.get("Body", ""),
                "to": form.get("To"),
                "date_created": format_datetime(now(), usegmt=True),
            }
            self.sent.append(item)
            return httpx.Response(201, json={"sid": item["sid"], "status": "queued"})
        to = request.url.params.get("To")
        found = [m for m in reversed(self.sent) if m["to"] == to]
        return httpx.Response(200, content=json.dumps({"messages": found, "next_page_uri": None}))


class TestTwilioSMSChannel(ChannelConformance):
    PATH = "/2010-04-01/Accounts/AC123/Messages.json"

    def make_channel(self, tmp_path: Path) -> Any:
        tw = _plugin("cstoolkit_twilio_sms")
        if not hasattr(self, "api"):
            self.api = _TwilioApi()
            respx.route(host="api.twilio.com", path=self.PATH).mock(side_effect=self.api)
        config = {
            "account_sid": "AC123",
            "auth_token": "tw-suite-secret-token",
            "from_number": "+15005550006",
        }
        return tw.TwilioSMSChannel("sms", config, MemoryKeyValue())


class TestNicereplyProvider(SurveyProviderConformance):
    languages = ("en", "es", "pt")

    def make_provider(self, tmp_path: Path) -> Any:
        nice = _plugin("cstoolkit_nicereply")
        config = {
            "kind": "csat",
            "channel": "mail",
            "api_key": "nr-suite-private-key",
            "survey_id": 42,
            "rating_url": "https://www.nicereply.com/acme/{score}?ticket={ticket}",
            "backend": "demo",
        }
        return nice.NicereplyProvider("nice", config, MemoryKeyValue())
