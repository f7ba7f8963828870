"""Fields recipes test beyond the ticket's own: business-hour ages, SLA state, surveys, roster.

They are registered in the condition language (:func:`register`) and computed per ticket, only
when a condition asks for them, by :class:`Extras` (the ``Subject.extras`` mapping the engine
passes), from the ticket's facts (:mod:`cstoolkit.timeline`, as the store keeps them): a rule
that never tests them never reads the facts. The KPI report reads the same facts, so a ticket's
``reopens`` or ``agent_replies`` is the number the report counts (docs/metrics.md).

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
agent_replies                             number  public agent replies (an agent-created
                                                  ticket's creating comment is none)
survey.csat / survey.nps / survey.ces     number  the latest answer of that kind
survey.score / survey.comment             any     the latest answer of any kind
survey.offered / survey.answered          any     true / false
sla.*                                     ...     see docs/sla.md
========================================  ======  =============================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.calendars import business_days_between
from cstoolkit.model import Event, Person, Ticket
from cstoolkit.query.catalog import BUSINESS_BASES
from cstoolkit.timeline import Facts as TimelineFacts
from cstoolkit.timeline import facts_of

if TYPE_CHECKING:
    from cstoolkit.calendars import Calendar
    from cstoolkit.sla import SlaPolicy
    from cstoolkit.triage.roster import Roster

BASES = BUSINESS_BASES  # declared once, with the fields, in the registry
#: Bases read from the ticket alone (no events needed).
TICKET_BASES = {"created": "created_at", "updated": "updated_at", "solved": "solved_at"}


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


# -- facts -------------------------------------------------------------------------------------

#: A ticket's facts (:mod:`cstoolkit.timeline`): what conditions read instead of its events.
Facts = TimelineFacts


def facts(ticket: Ticket, events: Sequence[Event]) -> Facts:
    """The facts of a ticket given with its events (tests and fixtures; a store keeps them)."""
    return facts_of(ticket, events)


def cycle(facts: Facts) -> int:
    """The resolution cycle a ticket is in: 1, plus one per reopening (solved -> unsolved)."""
    return facts.cycle


def _at(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


# -- the lazy extras mapping -------------------------------------------------------------------


@dataclass
class Sources:
    """Where :class:`Extras` gets what it computes (shared by every ticket of a run).

    ``facts`` gives a ticket's facts (the store's, :func:`cstoolkit.store.facts.of_ticket`);
    without it they are built from ``events`` (fixtures that hold events)."""

    now: datetime
    calendar: Calendar | None = None
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    policies: Sequence[SlaPolicy] = ()
    roster: Roster | None = None
    group_names: Mapping[str, str] = field(default_factory=dict)
    events: Callable[[str], Sequence[Event]] = lambda _tid: ()
    facts: Callable[[Ticket], Facts] | None = None
    #: the routing model's predictions of a ticket (``predicted.*``), when a model is loaded
    predict: Callable[[Ticket, Person | None], Mapping[str, Any]] | None = None

    def facts_of(self, ticket: Ticket) -> Facts:
        if self.facts is not None:
            return self.facts(ticket)
        return facts_of(ticket, self.events(ticket.id))


class Extras(dict[str, Any]):
    """``Subject.extras`` computing triage fields on first use (the query module reads extension
    fields with ``extras.get(name)``). :meth:`invalidate` forgets what depends on the ticket
    after an action changed it."""

    def __init__(
        self,
        sources: Sources,
        ticket: Ticket,
        requester: Person | None,
        facts: Callable[[], Facts] | None = None,
    ) -> None:
        super().__init__()
        self.sources = sources
        self.ticket = ticket
        self.requester = requester
        self._get_facts = facts
        self._facts: Facts | None = None

    def invalidate(self) -> None:
        self.clear()

    @property
    def facts(self) -> Facts:
        if self._facts is None:
            got = self._get_facts
            self._facts = got() if got is not None else self.sources.facts_of(self.ticket)
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
        return _at(getattr(self.facts, base))

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
            return self.facts.survey_values().get(name)
        if name.startswith("sla."):
            return self._sla().get(name)
        if name.startswith("predicted."):
            predict = self.sources.predict
            return predict(self.ticket, self.requester).get(name) if predict else None
        return None

    def _sla(self) -> Mapping[str, object]:
        cached: Mapping[str, object] | None = dict.get(self, "\0sla")
        if cached is not None:
            return cached
        from cstoolkit import sla

        src = self.sources
        policy = sla.policy_for(self.ticket, self.requester, src.policies, src.now)
        states = (
            sla.evaluate_facts(
                self.facts, self.ticket.priority.value, policy, src.calendars, src.now
            )
            if policy is not None
            else []
        )
        values = sla.condition_values(states, policy, src.calendars, src.now)
        self["\0sla"] = values
        return values
