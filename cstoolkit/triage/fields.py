"""Fields recipes test beyond the ticket's own: business-hour ages, SLA state, surveys, roster.

They are registered in the condition language (:func:`register`) and computed per ticket, only
when a condition asks for them, by :class:`Extras` (the ``Subject.extras`` mapping the engine
passes): a rule that never tests ``sla.*`` never loads the ticket's events.

========================================  ======  =============================================
field                                     kind    meaning
========================================  ======  =============================================
hours_since_last_public_reply             number  calendar hours since the last public agent reply
hours_since_last_requester_reply          number  ... since the requester last wrote
hours_since_status_change                 number  ... since the status last changed
business_hours_since_<base>               number  the same in business hours of the recipe's
                                                  calendar; <base>: created, updated, solved,
                                                  last_public_reply, last_requester_reply,
                                                  status_change
business_days_since_<base>                number  whole business days (open days of the
                                                  calendar) passed since, not counting that day
group.name                                string  the group's name (``Billing``), else its id
assignee.tier / assignee.on_shift         number / true-false, from the roster
reopens                                   number  times the ticket was reopened
agent_replies                             number  public agent replies
survey.csat / survey.nps / survey.ces     number  the latest answer of that kind
survey.score / survey.comment             any     the latest answer of any kind
survey.offered / survey.answered          any     true / false
sla.*                                     ...     see docs/sla.md
========================================  ======  =============================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.calendars import business_days_between
from cstoolkit.model import Event, EventKind, Person, Role, Status, Ticket

if TYPE_CHECKING:
    from cstoolkit.calendars import Calendar
    from cstoolkit.sla import SlaPolicy
    from cstoolkit.triage.roster import Roster

BASES = (
    "created",
    "updated",
    "solved",
    "last_public_reply",
    "last_requester_reply",
    "status_change",
)
#: Bases read from the ticket alone (no events needed).
TICKET_BASES = {"created": "created_at", "updated": "updated_at", "solved": "solved_at"}
_RESOLVED = (Status.SOLVED.value, Status.CLOSED.value)


def business_fields() -> list[str]:
    return [f"business_{u}_since_{b}" for u in ("hours", "days") for b in BASES]


def register() -> None:
    """Nothing to do: every triage field is declared once, with where the store keeps it, in
    the condition language's registry (:mod:`cstoolkit.query.catalog`). Kept for callers."""


def registered_names() -> frozenset[str]:
    """Every field name this module (and the SLA engine) adds."""
    from cstoolkit import sla

    names = {f"hours_since_{b}" for b in BASES} | set(business_fields())
    names |= {"group.name", "assignee.tier", "assignee.on_shift", "reopens", "agent_replies"}
    names |= {
        f"survey.{n}" for n in ("csat", "nps", "ces", "score", "comment", "offered", "answered")
    }
    names |= set(sla.field_names())
    return frozenset(names)


# -- facts from events -------------------------------------------------------------------------


@dataclass
class Facts:
    """What conditions need from a ticket's events, computed once per ticket."""

    last_public_reply: datetime | None = None
    last_requester_reply: datetime | None = None
    status_change: datetime | None = None
    first_responder: str | None = None
    reopens: int = 0
    agent_replies: int = 0
    survey: dict[str, object] = field(default_factory=dict)


def facts(ticket: Ticket, events: Sequence[Event]) -> Facts:
    f = Facts()
    survey: dict[str, object] = {"survey.offered": False, "survey.answered": False}
    for ev in sorted(events, key=lambda e: (e.at, e.id)):
        if ev.kind == EventKind.COMMENT and ev.public and ev.author_role == Role.AGENT:
            f.last_public_reply = ev.at
            f.agent_replies += 1
            if f.first_responder is None:
                f.first_responder = ev.author_id
        elif (
            ev.kind in (EventKind.CREATED, EventKind.COMMENT)
            and ev.public is not False
            and (
                ev.author_role == Role.REQUESTER
                or (ev.author_id is not None and ev.author_id == ticket.requester_id)
            )
        ):
            f.last_requester_reply = ev.at
        elif ev.kind == EventKind.STATUS_CHANGE:
            f.status_change = ev.at
            if ev.old in _RESOLVED and ev.new not in _RESOLVED:
                f.reopens += 1
        elif ev.kind == EventKind.SURVEY_OFFERED:
            survey["survey.offered"] = True
        elif ev.kind == EventKind.SURVEY_ANSWERED:
            survey["survey.offered"] = True
            survey["survey.answered"] = True
            score = ev.data.get("score")
            kind = str(ev.data.get("kind") or "")
            survey["survey.score"] = score
            survey["survey.comment"] = ev.data.get("comment") or ev.body or ""
            if kind in ("csat", "nps", "ces"):
                survey[f"survey.{kind}"] = score
    if f.status_change is None:
        f.status_change = ticket.created_at
    f.survey = survey
    return f


def cycle(events: Sequence[Event]) -> int:
    """The resolution cycle a ticket is in: 1, plus one per reopening (solved -> unsolved)."""
    n = 1
    for ev in events:
        if ev.kind == EventKind.STATUS_CHANGE and ev.old in _RESOLVED and ev.new not in _RESOLVED:
            n += 1
    return n


# -- the lazy extras mapping -------------------------------------------------------------------


@dataclass
class Sources:
    """Where :class:`Extras` gets what it computes (shared by every ticket of a run)."""

    now: datetime
    calendar: Calendar | None = None
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    policies: Sequence[SlaPolicy] = ()
    roster: Roster | None = None
    group_names: Mapping[str, str] = field(default_factory=dict)
    events: Callable[[str], Sequence[Event]] = lambda _tid: ()


class Extras(dict[str, Any]):
    """``Subject.extras`` computing triage fields on first use (the query module reads extension
    fields with ``extras.get(name)``). :meth:`invalidate` forgets what depends on the ticket
    after an action changed it."""

    def __init__(self, sources: Sources, ticket: Ticket, requester: Person | None) -> None:
        super().__init__()
        self.sources = sources
        self.ticket = ticket
        self.requester = requester
        self._events: Sequence[Event] | None = None
        self._facts: Facts | None = None

    def invalidate(self) -> None:
        self.clear()

    @property
    def events(self) -> Sequence[Event]:
        if self._events is None:
            self._events = self.sources.events(self.ticket.id)
        return self._events

    @property
    def facts(self) -> Facts:
        if self._facts is None:
            self._facts = facts(self.ticket, self.events)
        return self._facts

    def get(self, key: Any, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        value = self._compute(str(key))
        self[key] = value
        return default if value is None else value

    def _base_time(self, base: str) -> datetime | None:
        attr = TICKET_BASES.get(base)
        if attr is not None:
            value: datetime | None = getattr(self.ticket, attr)
            return value
        return getattr(self.facts, base)

    def _compute(self, name: str) -> object:
        now = self.sources.now
        if name.endswith("_at") and name[:-3] in BASES:  # last_public_reply_at, ...
            return self._base_time(name[:-3])
        if name.startswith("hours_since_"):
            when = self._base_time(name[len("hours_since_") :])
            return None if when is None else (now - when).total_seconds() / 3600
        if name.startswith(("business_hours_since_", "business_days_since_")):
            cal = self.sources.calendar
            if cal is None:
                return None
            days = name.startswith("business_days")
            when = self._base_time(name.split("_since_", 1)[1])
            if when is None:
                return None
            if days:
                return business_days_between(cal, when, now)

            return cal.business_seconds(when, now) / 3600
        if name == "group.name":
            gid = self.ticket.group_id
            if gid is None:
                return None
            return self.sources.group_names.get(gid) or gid.partition(":")[2] or gid
        if name.startswith("assignee."):
            roster = self.sources.roster
            agent = roster.by_person(self.ticket.assignee_id) if roster else None
            if agent is None:
                return None
            return agent.tier if name == "assignee.tier" else agent.on_shift(now)
        if name == "reopens":
            return self.facts.reopens
        if name == "agent_replies":
            return self.facts.agent_replies
        if name.startswith("survey."):
            return self.facts.survey.get(name)
        if name.startswith("sla."):
            return self._sla().get(name)
        return None

    def _sla(self) -> Mapping[str, object]:
        cached: Mapping[str, object] | None = dict.get(self, "\0sla")
        if cached is not None:
            return cached
        from cstoolkit import sla

        src = self.sources
        policy = sla.policy_for(self.ticket, self.requester, src.policies, src.now)
        states = (
            sla.evaluate(self.ticket, self.events, policy, src.calendars, src.now)
            if policy is not None
            else []
        )
        values = sla.condition_values(states, policy, src.calendars, src.now)
        self["\0sla"] = values
        return values
