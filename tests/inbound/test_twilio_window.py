"""WhatsApp's 24-hour customer-service window through Twilio, kept by cst itself with the same
implementation as the WhatsApp Cloud API channel: inside it a reply is free text, outside it the
configured Content API template (``ContentSid`` + ``ContentVariables``) or, with none, the
ticket's "window closed" state without any request to Twilio. Twilio's 63016 stays the backstop
(tests/inbound/test_replies.py). Twilio's Messages resource is a fake on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.errors import ConfigError
from cstoolkit.inbound.engine import Receiver
from cstoolkit.inbound.replies import SENT, WINDOW_CLOSED, deliver_replies
from cstoolkit.inbound_source import InboundMessage
from cstoolkit.messages import Message, Recipient, in_service_window
from cstoolkit.store.kv import MemoryKeyValue

from .helpers import ACCOUNT, load, tickets, workspace
from .test_replies import TwilioApi, agent_replies

CONTENT_SID = "HX" + "b" * 32


def _run(
    tmp_path: Path, api: TwilioApi, *, hours_ago: float, channel: str = "whatsapp", extra: str = ""
) -> list[Any]:
    path = workspace(
        tmp_path,
        f"""reply_channel = "tw_out"

[channels.tw_out]
plugin = "twilio_sms"
account_sid = "{ACCOUNT}"
auth_token = "env:CST_TEST_AUTH_TOKEN"
from_number = "whatsapp:+14155238886"
base_url = "{api.url}"
retries = 0
{extra}
""",
    )
    config, host, store = load(path)
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    msg = InboundMessage("SM" + "1" * 32, channel, "+34600555666", "hola", at)
    Receiver(config, host, store, "tw").receive(msg)
    agent_replies(config, host, store, "On its way.")
    out = deliver_replies(config, host, store, "tw")
    assert deliver_replies(config, host, store, "tw") == []  # once
    return out


def test_outside_the_window_the_reply_goes_as_the_content_template(tmp_path: Path) -> None:
    api = TwilioApi()
    try:
        out = _run(
            tmp_path,
            api,
            hours_ago=30,
            extra=f"""content_sid = "{CONTENT_SID}"
content_variables = ["ticket", "name"]""",
        )
    finally:
        api.close()
    assert [d.action for d in out] == [SENT]
    (sent,) = api.requests
    assert sent["To"] == ["whatsapp:+34600555666"] and sent["From"] == ["whatsapp:+14155238886"]
    assert sent["ContentSid"] == [CONTENT_SID] and "Body" not in sent
    assert json.loads(sent["ContentVariables"][0]) == {"1": "1", "2": ""}


def test_outside_the_window_without_a_template_nothing_is_sent_and_the_ticket_says_so(
    tmp_path: Path,
) -> None:
    api = TwilioApi()
    try:
        out = _run(tmp_path, api, hours_ago=24.5)
    finally:
        api.close()
    assert api.requests == []  # not left to Twilio's 63016
    assert [d.action for d in out] == [WINDOW_CLOSED]
    ticket = tickets(tmp_path)["1"]
    assert "whatsapp-window-closed" in ticket["tags"]
    assert "24-hour customer-service window closed" in ticket["events"][-1]["body"]


def test_inside_the_window_the_reply_is_free_text_even_with_a_template(tmp_path: Path) -> None:
    api = TwilioApi()
    try:
        out = _run(tmp_path, api, hours_ago=23, extra=f'content_sid = "{CONTENT_SID}"')
    finally:
        api.close()
    assert [d.action for d in out] == [SENT]
    assert api.requests[0]["Body"] == ["On its way."] and "ContentSid" not in api.requests[0]


def test_sms_has_no_window(tmp_path: Path) -> None:
    api = TwilioApi()
    try:
        out = _run(tmp_path, api, hours_ago=72, channel="sms")
    finally:
        api.close()
    assert [d.action for d in out] == [SENT]
    assert api.requests[0]["Body"] == ["On its way."]


# -- the one window, for both WhatsApp channels -------------------------------------------------


def _channels(hours: int = 24) -> tuple[Any, Any]:
    from cstoolkit_twilio_sms import TwilioSMSChannel
    from cstoolkit_whatsapp import WhatsAppChannel

    twilio = TwilioSMSChannel(
        "tw",
        {
            "account_sid": ACCOUNT,
            "auth_token": "t",
            "from_number": "whatsapp:+1415",
            "window_hours": hours,
        },
        MemoryKeyValue("tw"),
    )
    cloud = WhatsAppChannel(
        "wa",
        {"phone_number_id": "1", "access_token": "t", "window_hours": hours},
        MemoryKeyValue("wa"),
    )
    return twilio, cloud


@given(st.one_of(st.none(), st.floats(min_value=-2.0, max_value=100.0)), st.sampled_from([1, 24]))
def test_both_whatsapp_channels_keep_the_same_window(hours_ago: float | None, hours: int) -> None:
    twilio, cloud = _channels(hours)
    last = None if hours_ago is None else datetime.now(UTC) - timedelta(hours=hours_ago)
    wa = Message("k", Recipient(phone="whatsapp:+34600555666"), last_inbound_at=last)
    plain = Message("k", Recipient(phone="+34600555666"), last_inbound_at=last)
    margin = hours_ago is not None and abs(hours_ago - hours) < 0.01  # the clock moves on
    if not margin:
        expected = in_service_window(wa, hours)
        assert twilio.in_window(wa) == cloud.in_window(plain) == expected
    assert twilio.in_window(plain)  # SMS: no window


def test_a_template_message_is_never_looked_up_by_its_text() -> None:
    twilio, _ = _channels()
    message = Message("k", Recipient(phone="whatsapp:+34600555666"), short="hi")
    with pytest.raises(RuntimeError, match="template"):
        twilio.lookup("k", message=message)


def test_an_unknown_content_variable_is_a_config_error_naming_the_setting() -> None:
    from cstoolkit_twilio_sms import TwilioSMSChannel

    with pytest.raises(ConfigError, match=r"channels\.tw\.content_variables"):
        TwilioSMSChannel(
            "tw",
            {
                "account_sid": ACCOUNT,
                "auth_token": "t",
                "from_number": "+1",
                "content_variables": ["ticket", "shoe_size"],
            },
            MemoryKeyValue("tw"),
        )
