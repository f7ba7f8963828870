"""WhatsApp Cloud API webhooks: customers' messages in (the ``whatsapp`` inbound source).

Meta calls the callback URL configured in the app dashboard:

* ``GET`` with ``hub.mode=subscribe``, ``hub.verify_token`` and ``hub.challenge`` when the URL
  is set up: answered with the challenge when the token is the configured ``verify_token``;
* ``POST`` with a JSON body ``{"object": "whatsapp_business_account", "entry": [{"id": …,
  "changes": [{"field": "messages", "value": {"metadata": {"phone_number_id": …},
  "contacts": [{"profile": {"name": …}, "wa_id": …}], "messages": [{"from": …, "id": "wamid…",
  "timestamp": "…", "type": "text", "text": {"body": …}}], "statuses": […]}}]}]}`` signed in
  ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed with the app secret>``.

Delivery statuses (``statuses``) are answered 200 and taken as nothing. Media (image, audio,
video, document, sticker) are kept as links ``whatsapp-media:<media id>`` (the Graph API turns
the id into a short-lived download URL); a caption becomes the text.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from cstoolkit.inbound_source import (
    Attachment,
    InboundMessage,
    InboundSource,
    Refused,
    WebhookAnswer,
    WebhookRequest,
    meta_signature,
    same,
)
from cstoolkit.plugin import Setting

MEDIA = ("image", "audio", "video", "document", "sticker")
_CHALLENGE = re.compile(r"[A-Za-z0-9_.~-]{1,256}")
_ID = re.compile(r"[\x21-\x7e]{1,256}")


class WhatsAppInbound(InboundSource):
    name: ClassVar[str] = "whatsapp"
    description: ClassVar[str] = "WhatsApp Cloud API webhooks (X-Hub-Signature-256, hub.challenge)."
    channel: ClassVar[str] = "whatsapp"
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("app_secret", required=True, secret=True, help="The Meta app's secret (signs)."),
        Setting(
            "verify_token", required=True, secret=True, help="The token set in Meta's dashboard."
        ),
        Setting("phone_number_id", help="Only messages to this business number (else all)."),
    )

    def challenge(self, request: WebhookRequest) -> WebhookAnswer | None:
        mode = (request.query.get("hub.mode") or [""])[0]
        if not mode:
            return None
        token = (request.query.get("hub.verify_token") or [""])[0]
        challenge = (request.query.get("hub.challenge") or [""])[0]
        if mode != "subscribe" or not same(str(self.config["verify_token"]), token):
            return WebhookAnswer(403, b"verification refused\n")
        if not _CHALLENGE.fullmatch(challenge):
            return WebhookAnswer(400, b"bad hub.challenge\n")
        return WebhookAnswer(200, challenge.encode())

    def verify(self, request: WebhookRequest) -> None:
        given = request.headers.get("x-hub-signature-256")
        if not given:
            raise Refused(403, "missing X-Hub-Signature-256")
        if not same(meta_signature(str(self.config["app_secret"]), request.body), given):
            raise Refused(403, "wrong X-Hub-Signature-256")

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "body is not JSON") from None
        if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
            raise Refused(400, "not a whatsapp_business_account notification")
        out: list[InboundMessage] = []
        for entry in _list(data.get("entry"), "entry"):
            for item in _list(_dict(entry, "entry").get("changes"), "changes"):
                change = _dict(item, "change")
                if change.get("field", "messages") != "messages":
                    continue
                value = _dict(change.get("value"), "value")
                wanted = self.config.get("phone_number_id")
                metadata = value.get("metadata") or {}
                if wanted and _dict(metadata, "metadata").get("phone_number_id") != str(wanted):
                    continue
                names = {}
                for c in _list(value.get("contacts", []), "contacts"):
                    contact = _dict(c, "contact")
                    profile = contact.get("profile") or {}
                    if isinstance(profile, dict) and isinstance(contact.get("wa_id"), str):
                        names[contact["wa_id"]] = str(profile.get("name") or "")
                _list(value.get("statuses", []), "statuses")
                for msg in _list(value.get("messages", []), "messages"):
                    parsed = _message(_dict(msg, "message"), names)
                    if parsed is not None:
                        out.append(parsed)
        return out


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise Refused(400, f"{what}: expected a list")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Refused(400, f"{what}: expected an object")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Refused(400, f"{what}: expected a string")
    return value


def _message(msg: dict[str, Any], names: dict[str, str]) -> InboundMessage | None:
    sender = _text(msg.get("from"), "message.from")
    wamid = _text(msg.get("id"), "message.id")
    kind = _text(msg.get("type"), "message.type")
    stamp = _text(msg.get("timestamp"), "message.timestamp")
    if not re.fullmatch(r"\+?[0-9]{6,15}", sender):
        raise Refused(400, "message.from: expected a phone number")
    if not _ID.fullmatch(wamid):
        raise Refused(400, "message.id: expected an id")
    if not re.fullmatch(r"[0-9]{1,11}", stamp):
        raise Refused(400, "message.timestamp: expected unix seconds")
    if kind == "reaction":
        return None  # an emoji on an earlier message, not a message
    text = ""
    attachments: list[Attachment] = []
    if kind == "text":
        text = _text(_dict(msg.get("text"), "message.text").get("body"), "message.text.body")
    elif kind in MEDIA:
        media = _dict(msg.get(kind), f"message.{kind}")
        media_id = _text(media.get("id"), f"message.{kind}.id")
        text = str(media.get("caption") or "")
        name = str(media.get("filename") or f"{kind}-{media_id}")
        mime = str(media.get("mime_type") or "application/octet-stream")
        attachments.append(Attachment(name, mime, None, f"whatsapp-media:{media_id}"))
    elif kind == "location":
        loc = _dict(msg.get("location"), "message.location")
        text = f"[location] {loc.get('name') or ''} {loc.get('latitude')},{loc.get('longitude')}"
    elif kind in ("button", "interactive"):
        text = json.dumps(msg.get(kind), ensure_ascii=False)[:2000]
    else:
        text = f"[{kind} message: not shown by cst]"
    digits = sender.lstrip("+")
    return InboundMessage(
        message_id=wamid,
        channel="whatsapp",
        sender="+" + digits,
        sender_name=names.get(digits, ""),
        text=text,
        received_at=datetime.fromtimestamp(int(stamp), UTC),
        attachments=attachments,
    )
