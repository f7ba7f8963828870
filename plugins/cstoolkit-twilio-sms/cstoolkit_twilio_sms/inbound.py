"""Twilio Messaging webhooks: SMS and WhatsApp messages in (the ``twilio`` inbound source).

Twilio POSTs a form (``application/x-www-form-urlencoded``) to the number's "A message comes
in" URL: ``MessageSid``, ``AccountSid``, ``From``, ``To``, ``Body``, ``NumMedia`` and, per
media, ``MediaUrl{N}`` / ``MediaContentType{N}``; a WhatsApp sender's ``From`` is
``whatsapp:+E164``. The request is signed in ``X-Twilio-Signature``: the base64 HMAC-SHA1,
keyed with the auth token, of the full URL Twilio called followed by every POST parameter's
name and value sorted by name. Behind a proxy, set the instance's ``public_url`` to that URL.

A status callback (no ``Body``, no ``NumMedia``) is answered and taken as nothing. The answer
is an empty TwiML ``<Response/>`` (no automatic reply).
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import parse_qs

from cstoolkit.inbound_source import (
    Attachment,
    InboundMessage,
    InboundSource,
    Refused,
    WebhookAnswer,
    WebhookRequest,
    same,
    twilio_signature,
)
from cstoolkit.model import now
from cstoolkit.plugin import Setting

_SID = re.compile(r"(SM|MM|SS)[0-9a-fA-F]{32}")
_PHONE = re.compile(r"(whatsapp:)?\+?[0-9]{3,15}")
_MAX_MEDIA = 10  # Twilio sends at most 10 media per message


class TwilioInbound(InboundSource):
    name: ClassVar[str] = "twilio"
    description: ClassVar[str] = "Twilio SMS and WhatsApp webhooks (X-Twilio-Signature)."
    channel: ClassVar[str] = "sms"
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("account_sid", required=True, help="AC… account SID (requests must name it)."),
        Setting("auth_token", required=True, secret=True, help="Auth token (signs requests)."),
    )
    ok_answer: ClassVar[WebhookAnswer] = WebhookAnswer(
        200, b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>', "text/xml"
    )

    def _params(self, request: WebhookRequest) -> dict[str, list[str]]:
        try:
            text = request.body.decode("utf-8")
            return parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "body is not a form") from None

    def verify(self, request: WebhookRequest) -> None:
        given = request.headers.get("x-twilio-signature")
        if not given:
            raise Refused(403, "missing X-Twilio-Signature")
        try:
            params = self._params(request)
        except Refused:
            raise Refused(403, "wrong X-Twilio-Signature") from None
        expected = twilio_signature(str(self.config["auth_token"]), request.url, params)
        if not same(expected, given):
            raise Refused(403, "wrong X-Twilio-Signature")

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        params = self._params(request)

        def one(name: str, required: bool = True) -> str:
            values = params.get(name)
            if not values:
                if required:
                    raise Refused(400, f"missing {name}")
                return ""
            if len(values) != 1:
                raise Refused(400, f"{name} given {len(values)} times")
            return values[0]

        if one("AccountSid") != str(self.config["account_sid"]):
            raise Refused(403, "AccountSid is not this account's")
        if "Body" not in params and "NumMedia" not in params:
            return []  # a delivery status callback
        sid = one("MessageSid")
        if not _SID.fullmatch(sid):
            raise Refused(400, "MessageSid: expected SM/MM + 32 hex digits")
        sender = one("From")
        if not _PHONE.fullmatch(sender):
            raise Refused(400, "From: expected a phone number")
        raw_count = one("NumMedia", required=False) or "0"
        if not raw_count.isascii() or not raw_count.isdigit() or int(raw_count) > _MAX_MEDIA:
            raise Refused(400, "NumMedia: expected 0-10")
        attachments = []
        for i in range(int(raw_count)):
            url = one(f"MediaUrl{i}")
            if not url.startswith("https://"):
                raise Refused(400, f"MediaUrl{i}: expected an https URL")
            kind = one(f"MediaContentType{i}", required=False) or "application/octet-stream"
            attachments.append(Attachment(f"media-{i}", kind, None, url))
        whatsapp = sender.startswith("whatsapp:")
        number = sender.removeprefix("whatsapp:")
        return [
            InboundMessage(
                message_id=sid,
                channel="whatsapp" if whatsapp else "sms",
                sender=number if number.startswith("+") else "+" + number,
                sender_name=one("ProfileName", required=False),
                text=one("Body", required=False),
                received_at=now(),
                attachments=attachments,
                data={"to": one("To", required=False)},
            )
        ]
