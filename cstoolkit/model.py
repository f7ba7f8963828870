"""The data model every engine and plugin shares.

A ticket keeps a normalized core (status, priority, channel, people, tags, timestamps) plus the
vendor's raw payload, so nothing a backend sent is lost. Events are what metrics are computed
from. Every id is qualified by its backend instance: ``zendesk_main:123``.

All datetimes are timezone-aware and in UTC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cstoolkit.timespec import EARLIEST, LATEST


class Status(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"

    @property
    def is_resolved(self) -> bool:
        return self in (Status.SOLVED, Status.CLOSED)


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Channel(enum.StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    WHATSAPP = "whatsapp"
    PHONE = "phone"
    WEB = "web"
    SOCIAL = "social"
    SMS = "sms"
    API = "api"
    OTHER = "other"


class Role(enum.StrEnum):
    """Who authored an event or what a person is."""

    REQUESTER = "requester"
    AGENT = "agent"
    SYSTEM = "system"


class EventKind(enum.StrEnum):
    CREATED = "created"
    COMMENT = "comment"  # ``public`` tells a public reply from an internal note
    STATUS_CHANGE = "status_change"
    PRIORITY_CHANGE = "priority_change"
    ASSIGNMENT = "assignment"
    GROUP_CHANGE = "group_change"
    TAGS_CHANGE = "tags_change"
    SURVEY_OFFERED = "survey_offered"
    SURVEY_ANSWERED = "survey_answered"


def qualify(instance: str, external_id: str | int) -> str:
    """Return the store-wide id of a backend object: ``instance:external_id``."""
    return f"{instance}:{external_id}"


def split_id(qualified: str) -> tuple[str, str]:
    """Split ``instance:external_id``; the external id may itself contain colons."""
    instance, sep, external = qualified.partition(":")
    if not sep or not instance or not external:
        raise ValueError(f"not a qualified id (expected INSTANCE:ID): {qualified!r}")
    return instance, external


def bare_id(value: str | int) -> str:
    """Return the external id of a possibly qualified id: ``"inst:123"`` -> ``"123"``.

    A bare id (``"123"`` or ``123``) comes back as a string unchanged. Only the first colon
    splits, so an external id that itself contains colons survives (``"inst:a:b"`` -> ``"a:b"``);
    unlike :func:`split_id` this never raises, which suits backends that accept either form.
    """
    text = str(value)
    return text.split(":", 1)[1] if ":" in text else text


# The instants cst accepts from files people write and from queries, EARLIEST to LATEST (both
# included, docs/security.md), are the time-spec parser's: outside them date arithmetic
# overflows (year 0, year 10000) or a calendar walk would take ages.


def utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC; refuse naive ones (their zone is unknowable) and
    ones outside :data:`EARLIEST` .. :data:`LATEST` (ValueError)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} (a time zone is required)")
    try:
        out = value.astimezone(UTC)
    except OverflowError:
        out = None
    if out is None or not EARLIEST <= out <= LATEST:
        raise ValueError(f"{value.isoformat()} is out of range (1900-01-01 to 9999-01-01)")
    return out


@dataclass(slots=True)
class Person:
    id: str
    instance: str
    external_id: str
    role: Role
    name: str = ""
    email: str | None = None
    organization: str | None = None
    plan: str | None = None
    language: str | None = None
    timezone: str | None = None
    groups: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def domain(self) -> str | None:
        if self.email and "@" in self.email:
            return self.email.rsplit("@", 1)[1].lower()
        return None


@dataclass(slots=True)
class Group:
    id: str
    instance: str
    external_id: str
    name: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Event:
    """Something that happened to a ticket.

    ``old``/``new`` carry the values of a change (status, priority, assignee, group, tags as a
    space-separated list); ``data`` carries kind-specific extras (a survey's score, a comment's
    channel) so nothing is lost.
    """

    id: str
    ticket_id: str
    kind: EventKind
    at: datetime
    author_id: str | None = None
    author_role: Role | None = None
    public: bool | None = None
    body: str | None = None
    old: str | None = None
    new: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Ticket:
    id: str
    instance: str
    external_id: str
    subject: str
    status: Status
    created_at: datetime
    updated_at: datetime
    priority: Priority = Priority.NORMAL
    channel: Channel = Channel.OTHER
    description: str = ""
    requester_id: str | None = None
    assignee_id: str | None = None
    group_id: str | None = None
    tags: list[str] = field(default_factory=list)
    solved_at: datetime | None = None
    language: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def now() -> datetime:
    """The current time, aware and in UTC (one place to patch in tests)."""
    return datetime.now(UTC)


@dataclass(slots=True)
class Page:
    """One page of a pull: what it holds and the opaque cursor that resumes *after* it.

    The sync engine commits the rows and ``cursor`` in one transaction, so a killed run resumes
    exactly after the last committed page. ``deleted`` lists external ids the vendor reports as
    deleted (or spam / merged away) in this page.
    """

    tickets: list[Ticket] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    cursor: str | None = None
