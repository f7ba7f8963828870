"""What channels deliver and what survey providers compose: small, plain dataclasses.

A :class:`Message` is addressed to a :class:`Recipient` and carries an ``idempotency_key``
derived from the ledger key of what it is for (a survey: survey, ticket, resolution cycle). A
channel's ``send`` returns a :class:`DeliveryResult` saying one of three things:

``sent``
    the provider accepted it (``provider_ref`` is its message id);
``failed``
    it is known *not* to have been delivered (refused recipient, 4xx, connection refused):
    a later run may try again;
``unknown``
    it may or may not have been delivered (timeout after the request was sent, connection lost
    during SMTP DATA). The engine then asks the channel's ``lookup`` or, for channels that are
    not ``idempotent``, records the entry as ``in_doubt`` and never resends it blindly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SENT = "sent"
FAILED = "failed"
UNKNOWN = "unknown"
OUTCOMES = (SENT, FAILED, UNKNOWN)

#: Survey kinds and their score ranges (inclusive).
SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}


@dataclass(slots=True)
class Recipient:
    """Who a message is for; each channel picks the address it needs (see Channel.address)."""

    id: str | None = None
    name: str = ""
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    timezone: str | None = None
    #: Other addresses by channel family, e.g. ``{"slack": "U024BE7LH"}``.
    handles: dict[str, str] = field(default_factory=dict)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


@dataclass(slots=True)
class Template:
    """A provider-side, pre-approved template (WhatsApp outside the 24-hour window)."""

    name: str
    language: str
    parameters: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Message:
    """One message to one recipient.

    ``subject``/``text``/``html`` are for email-like channels, ``short`` for SMS and chat;
    ``links`` names the URLs in it (``survey``, ``opt_out``, ``score:N``); ``data`` is the
    structured payload a webhook sends. ``last_inbound_at`` is when the recipient last wrote to
    us (channels with a customer-service window, such as WhatsApp, use it).
    """

    idempotency_key: str
    recipient: Recipient
    subject: str = ""
    text: str = ""
    html: str | None = None
    short: str = ""
    language: str = "en"
    links: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    template: Template | None = None
    data: dict[str, Any] = field(default_factory=dict)
    last_inbound_at: datetime | None = None
    created_at: datetime | None = None


# -- WhatsApp's customer-service window (one implementation, for every WhatsApp channel) -------

#: Hours after the customer's last message during which free-form WhatsApp messages may be sent.
SERVICE_WINDOW_HOURS = 24
#: Template parameters a channel can fill, by name (in the order a channel's setting lists).
TEMPLATE_PARAMETERS = ("name", "survey_url", "opt_out_url", "ticket", "subject", "brand")
DEFAULT_TEMPLATE_PARAMETERS = ["name", "survey_url"]


def in_service_window(
    message: Message, hours: int = SERVICE_WINDOW_HOURS, *, now: datetime | None = None
) -> bool:
    """True when ``message`` may go out as free text on WhatsApp: its recipient wrote to us
    (``last_inbound_at``, the customer's newest message) less than ``hours`` ago. Never
    having written means the window is closed."""
    last = message.last_inbound_at
    current = now if now is not None else datetime.now(UTC)
    return last is not None and current - last < timedelta(hours=hours)


def template_parameters(message: Message, wanted: list[str] | None) -> list[str]:
    """The values of an approved template's parameters for ``message``, in the order of
    ``wanted`` (names from :data:`TEMPLATE_PARAMETERS`; None: the default pair)."""
    values = {
        "name": message.recipient.first_name or message.recipient.name,
        "survey_url": message.links.get("survey", ""),
        "opt_out_url": message.links.get("opt_out", ""),
        "ticket": str(message.data.get("ticket_external_id", "")),
        "subject": message.subject,
        "brand": str(message.data.get("brand", "")),
    }
    return [values[p] for p in (DEFAULT_TEMPLATE_PARAMETERS if wanted is None else wanted)]


def unknown_template_parameters(wanted: list[str] | None) -> list[str]:
    """The names in ``wanted`` a channel cannot fill (a configuration error to report)."""
    return [p for p in wanted or [] if p not in TEMPLATE_PARAMETERS]


@dataclass(slots=True)
class DeliveryResult:
    """What became of one send (see the module docstring for the three outcomes).

    ``stop`` asks the engine to stop sending through this channel for the rest of the run (bad
    credentials, server unreachable, rate limited); ``permanent`` marks a failure that will not
    go away by retrying (the engine then stops retrying that survey).
    """

    outcome: str
    provider_ref: str | None = None
    detail: str = ""
    stop: bool = False
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == SENT

    @classmethod
    def sent(cls, provider_ref: str | None = None, detail: str = "") -> DeliveryResult:
        return cls(SENT, provider_ref, detail)

    @classmethod
    def failed(cls, detail: str, *, stop: bool = False, permanent: bool = False) -> DeliveryResult:
        return cls(FAILED, None, detail, stop=stop, permanent=permanent)

    @classmethod
    def unknown(cls, detail: str, *, stop: bool = False) -> DeliveryResult:
        return cls(UNKNOWN, None, detail, stop=stop)


@dataclass(slots=True)
class SurveyOffer:
    """One survey to offer: what a provider composes a message from.

    ``key`` is the ledger key (``survey/ticket[/cN]``); ``data`` belongs to the provider and is
    stored with the offer, so a message composed again later (reconciliation) is identical.
    """

    key: str
    survey: str
    kind: str
    ticket_id: str
    ticket_external_id: str
    cycle: int
    recipient: Recipient
    language: str
    offered_at: datetime
    expires_at: datetime
    subject: str = ""
    agent_name: str = ""
    last_inbound_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SurveyAnswer:
    """An answer collected by a provider (pulled back from a hosted survey, or imported)."""

    survey: str
    ticket_id: str
    score: int
    answered_at: datetime
    comment: str = ""
    source: str = "provider"
    external_id: str | None = None
    offer_key: str | None = None
