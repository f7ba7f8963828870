"""Conversions between model objects and store rows (shared by every store implementation)."""

from __future__ import annotations

import hashlib
import json
import operator
from datetime import UTC, datetime
from typing import Any

from cstoolkit.model import (
    Channel,
    Event,
    EventKind,
    Group,
    Person,
    Priority,
    Role,
    Status,
    Ticket,
)
from cstoolkit.timeline.build import event_row as timeline_event_row


def to_epoch(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} (a time zone is required)")
    return int(value.timestamp())


def from_epoch(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC)


# One encoder built once: json.dumps with non-default arguments builds a new JSONEncoder on
# every call, which cost more than the encoding itself on the sync path.
_encode = json.JSONEncoder(separators=(",", ":"), sort_keys=True, default=str).encode


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON (the same text as ``json.dumps(..., sort_keys=True)``)."""
    if not value:
        kind = type(value)
        if kind is dict:
            return "{}"
        if kind is list or kind is tuple:
            return "[]"
    return _encode(value)


_event_key = operator.itemgetter(0)


def ticket_rows(
    ticket: Ticket, events: list[Event]
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The ticket's row (TICKET_COLUMNS, ``payload_hash`` filled in) and its events' rows.

    The hash is a digest of every stored column of the ticket and of its events (ordered by
    id), so a change inside the vendor's timestamp precision is still seen as a change. The
    rows are built once and hashed through ``repr`` (deterministic for the str / int / None
    values a row holds), which is several times cheaper than encoding them to JSON again.
    """
    row = ticket_row(ticket, "")
    event_rows = [event_row(e) for e in events]
    ordered = sorted(event_rows, key=_event_key) if len(event_rows) > 1 else event_rows
    digest = hashlib.blake2b(repr((row, ordered)).encode(), digest_size=16).hexdigest()
    return (*row[:-1], digest), event_rows


def ticket_hash(ticket: Ticket, events: list[Event]) -> str:
    """A digest of everything stored for a ticket (see :func:`ticket_rows`)."""
    row, _ = ticket_rows(ticket, events)
    return str(row[-1])


TICKET_COLUMNS = (
    "id, instance, external_id, subject, description, status, priority, channel, requester_id, "
    "assignee_id, group_id, tags, created_at, updated_at, solved_at, language, custom_fields, raw, "
    "payload_hash"
)


def ticket_row(t: Ticket, payload_hash: str) -> tuple[Any, ...]:
    return (
        t.id,
        t.instance,
        t.external_id,
        t.subject,
        t.description,
        str(t.status),
        str(t.priority),
        str(t.channel),
        t.requester_id,
        t.assignee_id,
        t.group_id,
        dumps(list(t.tags)),
        to_epoch(t.created_at),
        to_epoch(t.updated_at),
        to_epoch(t.solved_at),
        t.language,
        dumps(t.custom_fields),
        dumps(t.raw),
        payload_hash,
    )


def row_ticket(row: Any) -> Ticket:
    """Build a Ticket from a row holding the TICKET_COLUMNS, in order."""
    created = from_epoch(row[12])
    updated = from_epoch(row[13])
    assert created is not None and updated is not None
    return Ticket(
        id=row[0],
        instance=row[1],
        external_id=row[2],
        subject=row[3],
        description=row[4],
        status=Status(row[5]),
        priority=Priority(row[6]),
        channel=Channel(row[7]),
        requester_id=row[8],
        assignee_id=row[9],
        group_id=row[10],
        tags=json.loads(row[11]),
        created_at=created,
        updated_at=updated,
        solved_at=from_epoch(row[14]),
        language=row[15],
        custom_fields=json.loads(row[16]),
        raw=json.loads(row[17]),
    )


EVENT_COLUMNS = "id, ticket_id, kind, at, author_id, author_role, public, body, old, new, data"


def event_row(e: Event) -> tuple[Any, ...]:
    """The timeline's row of an event (one shape for both), as stored: a time zone is required
    and ``data`` is JSON text."""
    if e.at.tzinfo is None:
        to_epoch(e.at)  # refuses a naive time before it is stored
    return timeline_event_row(e, dumps)


def row_event(row: Any) -> Event:
    at = from_epoch(row[3])
    assert at is not None
    return Event(
        id=row[0],
        ticket_id=row[1],
        kind=EventKind(row[2]),
        at=at,
        author_id=row[4],
        author_role=Role(row[5]) if row[5] else None,
        public=None if row[6] is None else bool(row[6]),
        body=row[7],
        old=row[8],
        new=row[9],
        data=json.loads(row[10]),
    )


PERSON_COLUMNS = (
    "id, instance, external_id, role, name, email, domain, organization, plan, language, "
    "timezone, groups, raw"
)


def person_row(p: Person) -> tuple[Any, ...]:
    return (
        p.id,
        p.instance,
        p.external_id,
        str(p.role),
        p.name,
        p.email,
        p.domain,
        p.organization,
        p.plan,
        p.language,
        p.timezone,
        dumps(list(p.groups)),
        dumps(p.raw),
    )


def row_person(row: Any) -> Person:
    return Person(
        id=row[0],
        instance=row[1],
        external_id=row[2],
        role=Role(row[3]),
        name=row[4],
        email=row[5],
        organization=row[7],
        plan=row[8],
        language=row[9],
        timezone=row[10],
        groups=json.loads(row[11]),
        raw=json.loads(row[12]),
    )


GROUP_COLUMNS = "id, instance, external_id, name, raw"


def group_row(g: Group) -> tuple[Any, ...]:
    return (g.id, g.instance, g.external_id, g.name, dumps(g.raw))


def row_group(row: Any) -> Group:
    return Group(
        id=row[0], instance=row[1], external_id=row[2], name=row[3], raw=json.loads(row[4])
    )
