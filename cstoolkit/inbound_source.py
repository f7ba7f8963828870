"""The inbound plugin API: sources that bring customers' messages in (plugin API 1.2).

An inbound source is a declarative plugin class (like a channel) registered with the
``register_inbound_sources`` hook and configured as a named ``[inbound.NAME]`` instance. It turns
what a provider delivers into :class:`InboundMessage` objects; the engine
(:mod:`cstoolkit.inbound`) makes each one a ticket, or a comment on the contact's open ticket,
exactly once.

Two modes:

``webhook``
    the provider calls ``cst inbound serve`` (``POST /inbound/NAME``). The source answers the
    provider's subscription check (:meth:`InboundSource.challenge`), verifies the request's
    signature (:meth:`InboundSource.verify`, raising :class:`Refused` with 403) and parses the
    body (:meth:`InboundSource.parse`, raising :class:`Refused` with 400). Nothing is recorded
    for a refused request.
``poll``
    ``cst inbound poll`` asks the source for what is waiting (:meth:`InboundSource.poll`); the
    source marks each item done (:meth:`Polled.done`) only after the engine recorded it, and
    flags what it cannot parse (:meth:`Polled.unparsable`), never deleting it.

The signature helpers below are the providers' documented algorithms, so plugins and tests
compute them one way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from cstoolkit.plugin import PluginBase

WEBHOOK = "webhook"
POLL = "poll"

#: Text longer than this (characters) is cut, with a note, before it becomes a ticket.
MAX_TEXT = 64 * 1024
#: Attachments kept (as links) per message; more are counted in a note.
MAX_ATTACHMENTS = 20


class Refused(Exception):
    """A webhook request the source will not take: ``status`` 403 (signature) or 400 (body).
    The message is for the log and the response; it never holds a secret."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Attachment:
    """A file a customer sent, kept as a link (the bytes are never copied into a ticket)."""

    name: str
    content_type: str = "application/octet-stream"
    #: bytes, when the provider says
    size: int | None = None
    #: where it can be fetched: the provider's media URL, ``whatsapp-media:ID``, or an IMAP URL
    #: (RFC 5092) of the part in the mailbox
    url: str | None = None
    #: over the source's size limit: listed, not linked
    too_large: bool = False

    def line(self) -> str:
        size = f", {self.size} bytes" if self.size is not None else ""
        where = "over the size limit, not linked" if self.too_large else (self.url or "no link")
        return f"{self.name} ({self.content_type}{size}): {where}"


@dataclass(slots=True)
class InboundMessage:
    """One message a customer sent.

    ``message_id`` is the provider's id (a WhatsApp ``wamid``, a Twilio ``MessageSid``, a mail's
    ``Message-ID``): the idempotence key. ``sender`` is the contact's address (E.164 phone
    ``+34600...`` or a lower-case email address); ``thread_refs`` are the Message-IDs a mail
    answers (``In-Reply-To`` and ``References``).
    """

    message_id: str
    channel: str  # whatsapp | sms | email
    sender: str
    text: str
    received_at: datetime
    sender_name: str = ""
    subject: str = ""
    thread_refs: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def body(self) -> str:
        """The text as it goes into the ticket: cut to :data:`MAX_TEXT`, attachments listed."""
        text = self.text
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + f"\n[cut: {len(self.text) - MAX_TEXT} more characters]"
        kept = self.attachments[:MAX_ATTACHMENTS]
        if kept:
            text += "\n\nAttachments:\n" + "\n".join(f"- {a.line()}" for a in kept)
        if len(self.attachments) > len(kept):
            text += f"\n- and {len(self.attachments) - len(kept)} more (over the limit)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "channel": self.channel,
            "sender": self.sender,
            "sender_name": self.sender_name,
            "subject": self.subject,
            "text": self.text,
            "received_at": self.received_at.timestamp(),
            "thread_refs": list(self.thread_refs),
            "attachments": [
                {"name": a.name, "content_type": a.content_type, "size": a.size, "url": a.url,
                 "too_large": a.too_large}
                for a in self.attachments
            ],
            "data": dict(self.data),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InboundMessage:
        return cls(
            message_id=str(d["message_id"]),
            channel=str(d["channel"]),
            sender=str(d["sender"]),
            sender_name=str(d.get("sender_name") or ""),
            subject=str(d.get("subject") or ""),
            text=str(d.get("text") or ""),
            received_at=datetime.fromtimestamp(float(d["received_at"]), UTC),
            thread_refs=[str(r) for r in d.get("thread_refs") or []],
            attachments=[Attachment(**a) for a in d.get("attachments") or []],
            data=dict(d.get("data") or {}),
        )


@dataclass(slots=True)
class WebhookRequest:
    """A request as the source sees it: ``url`` is the URL the provider called (the
    instance's ``public_url`` when the server is behind a proxy), ``headers`` lower-cased."""

    method: str
    url: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class WebhookAnswer:
    """What to answer the provider (the body of a 200, or of a challenge)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class Polled:
    """One item a polling source found: the message (None when it could not be parsed) and
    the source's callbacks to mark it done or flag it."""

    ref: str
    message: InboundMessage | None
    problem: str = ""
    done: Callable[[], None] = lambda: None
    unparsable: Callable[[str], None] = lambda why: None


class InboundSource(PluginBase[Any]):
    """A way customers' messages come in (see the module docstring).

    ``channel`` is the model channel the tickets get (``whatsapp``, ``sms``, ``email``);
    ``mode`` is :data:`WEBHOOK` or :data:`POLL`.
    """

    kind: ClassVar[str] = "inbound_source"
    mode: ClassVar[str] = WEBHOOK
    channel: ClassVar[str] = "other"
    #: what the answer to an accepted webhook looks like (Twilio wants TwiML)
    ok_answer: ClassVar[WebhookAnswer] = WebhookAnswer()

    def challenge(self, request: WebhookRequest) -> WebhookAnswer | None:
        """Answer a provider's GET subscription check, or None when this is not one."""
        return None

    def verify(self, request: WebhookRequest) -> None:
        """Check the request's signature; raise :class:`Refused` (403) when it fails."""
        raise Refused(403, "this source takes no webhooks")

    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        """The customers' messages in a verified request (an empty list for delivery
        statuses); raise :class:`Refused` (400) for a body that is not what the provider
        sends."""
        raise Refused(400, "this source takes no webhooks")

    def poll(self) -> Iterator[Polled]:
        """What waits in a polled source (``mode = "poll"``)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""


# -- the providers' signature algorithms --------------------------------------------------------


def meta_signature(app_secret: str, body: bytes) -> str:
    """Meta's ``X-Hub-Signature-256``: ``sha256=`` and the hex HMAC-SHA256 of the raw body,
    keyed with the app secret."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def twilio_signature(auth_token: str, url: str, params: Mapping[str, list[str]]) -> str:
    """Twilio's ``X-Twilio-Signature``: the base64 HMAC-SHA1, keyed with the auth token, of the
    full URL Twilio called followed by each POST parameter's name and value, sorted by name
    (and by value for a repeated name), with no delimiters."""
    data = url
    for name in sorted(params):
        for value in sorted(params[name]):
            data += name + value
    mac = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a computed and a received signature."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
