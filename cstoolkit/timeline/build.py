"""Events of one ticket -> its :class:`~cstoolkit.timeline.facts.Facts`, once.

This is the only module that interprets events (a test checks that nothing else compares or
dispatches on an event's kind). The rules, each written in docs/metrics.md ("Ticket facts"):

* Events are taken in time order (ties by event id); one stamped before the ticket's creation
  counts at the creation.
* A *public agent reply* is a comment with ``public = true`` by an agent. When an agent created
  the ticket (a ``created`` event by an agent), the first public agent comment at the creation
  instant is that creating message stored twice, never a reply.
* A *requester message* is a public comment by the requester (author role ``requester``, or no
  role, or the requester's own id) and the ``created`` event unless an agent authored it; a
  ticket without any event counts its creation as the requester's first message.
* Internal notes (``public = false``, or unknown visibility) are never replies.
* Status periods replay the status changes from the creation: the status before the first
  change is that change's ``old`` (``new`` when unknown). Without any status change the ticket
  was open until its stored ``solved_at`` and in its current status from then on (solved
  tickets), else in its current status throughout. When the replay ends in another status than
  the ticket's current one (changes not synced yet, or written by a push), the current status
  starts at ``solved_at`` (resolved) or ``updated_at``.
* A *solve* is a change from an unsolved status into solved or closed (solved -> closed is not a
  second solve); a *reopen* a change from solved or closed into new, open, pending or on hold.
* The latest solve is credited to the agent who made the change, else to the assignee at that
  moment (the last assignment before it; without assignment events, the ticket's assignee).
* Assignment and group values that are external ids are qualified with the ticket's instance.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cstoolkit.model import Event, EventKind, Role, Ticket
from cstoolkit.timeline.facts import (
    CLOSED,
    NEW,
    ON_HOLD,
    OPEN,
    SOLVED,
    STATUS_CODE,
    UNKNOWN,
    Facts,
    Reply,
    SurveyAnswer,
)

# Plain strings of the enums (cheaper to compare in the loop than enum members).
_CREATED = EventKind.CREATED.value
_COMMENT = EventKind.COMMENT.value
_STATUS = EventKind.STATUS_CHANGE.value
_ASSIGNMENT = EventKind.ASSIGNMENT.value
_GROUP = EventKind.GROUP_CHANGE.value
_OFFERED = EventKind.SURVEY_OFFERED.value
_ANSWERED = EventKind.SURVEY_ANSWERED.value
_AGENT = Role.AGENT.value
_REQUESTER = Role.REQUESTER.value
_SYSTEM = Role.SYSTEM.value
_RESOLVED = (SOLVED, CLOSED)

#: An event as the store keeps it: (id, ticket_id, kind, at, author_id, author_role, public,
#: body, old, new, data) -- ``at`` unix seconds, ``public`` 0/1/None, ``data`` JSON text or a
#: mapping (codec.EVENT_COLUMNS).
EventRow = tuple[Any, ...]


@dataclass(slots=True)
class TicketCore:
    """The few ticket fields the facts depend on besides its events."""

    id: str
    instance: str
    created: int
    updated: int
    status: str
    solved_at: int | None = None
    requester_id: str | None = None
    assignee_id: str | None = None

    @classmethod
    def of(cls, ticket: Ticket) -> TicketCore:
        return cls(
            ticket.id,
            ticket.instance,
            _epoch(ticket.created_at),
            _epoch(ticket.updated_at),
            str(ticket.status),
            _epoch(ticket.solved_at) if ticket.solved_at is not None else None,
            ticket.requester_id,
            ticket.assignee_id,
        )


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def event_row(e: Event, encode: Callable[[dict[str, Any]], Any] | None = None) -> EventRow:
    """An event in the stored row shape (what :func:`build` reads); ``encode`` turns its
    ``data`` into what the row holds (the store: JSON text), else the mapping itself."""
    role = e.author_role
    public = e.public
    return (
        e.id,
        e.ticket_id,
        str(e.kind),
        int(e.at.timestamp()),
        e.author_id,
        str(role) if role else None,
        None if public is None else int(public),
        e.body,
        e.old,
        e.new,
        e.data if encode is None else encode(e.data),
    )


def facts_of(ticket: Ticket, events: Iterable[Event]) -> Facts:
    """The facts of a ticket and its events given as model objects."""
    return build(TicketCore.of(ticket), [event_row(e) for e in events])


def public_comments(events: Iterable[Event]) -> list[Event]:
    """The public comments among ``events``, in their order (what a mirror copies over)."""
    return [e for e in events if e.kind == EventKind.COMMENT and e.public]


def _data(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _score(value: Any) -> int | float | None:
    """A survey score as a number (numeric text accepted); anything else is no score."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number: float = value
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    if not math.isfinite(number):
        return None
    return int(number) if float(number).is_integer() else number


def _qualify(instance: str, value: str | None) -> str | None:
    if not value:
        return None
    return value if ":" in value else f"{instance}:{value}"


#: Time order, ties by event id: (at, id) of a row, read in C.
_order = operator.itemgetter(3, 0)


def build(core: TicketCore, rows: Sequence[EventRow]) -> Facts:
    """The facts of one ticket from its stored events (any order)."""
    c = core.created
    evs = sorted(rows, key=_order) if len(rows) > 1 else rows
    requester_id = core.requester_id
    instance = core.instance
    agent_created = False
    for row in evs:
        if row[2] == _CREATED and row[5] == _AGENT:
            agent_created = True
            break
    facts = Facts(
        ticket_id=core.id, created=c, horizon=c, events=len(evs), agent_created=agent_created
    )
    req = facts.requester_messages
    replies = facts.replies
    statuses = facts.statuses
    agent_changes = facts.agent_changes
    skip_creating = agent_created
    wait: int | None = None if agent_created else c
    notes = touches = 0
    last_change: int | None = None
    horizon = c
    status_authors: list[str | None] = []
    for _eid, _tid, kind, stamp, author, role, public, body, old, new, data in evs:
        at = stamp if stamp > c else c  # an event stamped before creation counts at creation
        horizon = at  # events are in time order
        if kind == _COMMENT:
            if public:
                if role == _AGENT:
                    if skip_creating and at == c and not replies:
                        skip_creating = False
                        continue
                    replies.append(Reply(at, author, c if not replies else wait))
                    wait = None
                    touches += 1
                elif (
                    role == _REQUESTER
                    or role is None
                    or (author is not None and author == requester_id)
                ):
                    req.append(at)
                    if wait is None:
                        wait = at
            elif role == _AGENT:
                notes += 1
                touches += 1
        elif kind == _STATUS:
            if role == _AGENT:
                touches += 1
            if not new:
                continue
            if not statuses:
                first = STATUS_CODE.get(old, NEW) if old else NEW
                statuses.append((c, first))
            statuses.append((at, STATUS_CODE.get(new, UNKNOWN)))
            status_authors.append(author if role == _AGENT else None)
            last_change = at
            if role == _AGENT and author:
                agent_changes.append((at, author))
        elif kind == _CREATED:
            if role != _AGENT and (public is None or public):
                req.append(at)
        elif kind == _ASSIGNMENT:
            facts.assignments.append((at, _qualify(instance, new)))
            if role == _AGENT:
                touches += 1
        elif kind == _GROUP:
            facts.groups.append((at, _qualify(instance, new)))
            if role == _AGENT:
                touches += 1
        elif kind == _OFFERED:
            facts.survey_offers.append((at, str(_data(data).get("kind") or "")))
        elif kind == _ANSWERED:
            d = _data(data)
            comment = d.get("comment") or body or ""
            facts.survey_answers.append(
                SurveyAnswer(at, str(d.get("kind") or ""), _score(d.get("score")), str(comment))
            )
        elif role == _AGENT:  # priority and tag changes
            touches += 1
    if not evs:
        req.append(c)
    facts.internal_notes = notes
    facts.touches = touches
    facts.status_change = last_change if last_change is not None else c
    current = STATUS_CODE.get(core.status, UNKNOWN)
    synthesized_solve = False
    if statuses:
        facts.status_history = True
        last_at, last_code = statuses[-1]
        if current not in (UNKNOWN, last_code):
            when = core.updated
            if current in _RESOLVED and core.solved_at is not None:
                when = core.solved_at
            when = max(when, last_at, c)
            statuses.append((when, current))
            status_authors.append(None)
            synthesized_solve = current in _RESOLVED and last_code not in _RESOLVED
    elif current in _RESOLVED and core.solved_at is not None:
        statuses.append((c, OPEN))
        statuses.append((max(core.solved_at, c), current))
        status_authors.append(None)
        synthesized_solve = True
    else:
        statuses.append((c, current))
    facts.horizon = max(horizon, statuses[-1][0])
    _solve_facts(facts, core, status_authors, synthesized_solve)
    return facts


def _solve_facts(
    facts: Facts, core: TicketCore, authors: list[str | None], synthesized: bool
) -> None:
    """Credit the latest solve and measure requester wait and agent work up to it."""
    statuses = facts.statuses
    latest = -1
    prev = UNKNOWN
    for i, (_, code) in enumerate(statuses):
        if code in _RESOLVED and prev not in _RESOLVED:
            latest = i
        prev = code
    if latest < 0:
        return
    at = statuses[latest][0]
    # statuses[0] is the initial period (no author); change i has authors[i - 1]
    solver = authors[latest - 1] if 0 < latest <= len(authors) else None
    if solver is None:
        before = [who for when, who in facts.assignments if when <= at]
        if before:
            solver = before[-1]
        elif not facts.assignments:
            solver = core.assignee_id
    facts.solver = solver
    if not facts.status_history or synthesized:
        return
    waits, works = facts.wait_spans, facts.work_spans
    for i in range(latest):
        start, code = statuses[i]
        end = statuses[i + 1][0]
        if code <= OPEN or code == ON_HOLD:
            _extend(waits, start, end)
            if code <= OPEN:
                _extend(works, start, end)
    facts.requester_wait = sum(b - a for a, b in waits)
    facts.agent_work = sum(b - a for a, b in works)


def _extend(spans: list[tuple[int, int]], start: int, end: int) -> None:
    """Add [start, end) to time-ordered spans, merging it with the last one it touches."""
    if spans and spans[-1][1] >= start:
        spans[-1] = (spans[-1][0], max(spans[-1][1], end))
    elif end > start:
        spans.append((start, end))
