"""The facts of one ticket: what its events say, as timestamps and counts.

:class:`Facts` is what every engine reads instead of a ticket's events (triage conditions, the
KPI report, the SLA engine, surveys, ``cst tickets show``); :func:`cstoolkit.timeline.build`
is the one place that turns events into them. Every instant is INTEGER unix seconds (UTC) and no
value depends on a business calendar: business time is computed when a fact is read, from these
instants, by :mod:`cstoolkit.calendars`, so a changed calendar never leaves a stale fact.

Status codes: ``STATUSES[i]`` is the status of code ``i``; :data:`UNKNOWN` a status string that
is none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Bump when a rule of :func:`cstoolkit.timeline.build` changes, together with a migration that
#: rebuilds the stored facts (as migration 0010 builds them first).
FACTS_VERSION = 1

STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
NEW, OPEN, PENDING, ON_HOLD, SOLVED, CLOSED = range(6)
UNKNOWN = 6
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}


def status_code(status: object) -> int:
    """The code of a status string (:data:`UNKNOWN` for anything else)."""
    return STATUS_CODE.get(str(status), UNKNOWN) if status is not None else UNKNOWN


def status_name(code: int) -> str | None:
    return STATUSES[code] if 0 <= code < len(STATUSES) else None


@dataclass(slots=True)
class Reply:
    """A public agent reply: when, by whom, and since when someone waited for it.

    ``wait_from`` is the creation of the ticket for the first reply (first reply time is measured
    from creation), the oldest requester message not yet answered for a later reply, and None for
    a reply nobody waited for (a follow-up)."""

    at: int
    agent: str | None
    wait_from: int | None


@dataclass(slots=True)
class SurveyAnswer:
    at: int
    kind: str  # csat, nps, ces, or what the provider said ("" unknown)
    score: int | float | None
    comment: str = ""


@dataclass(slots=True)
class Facts:
    """One ticket's facts (see docs/metrics.md, "Ticket facts", for every rule)."""

    ticket_id: str
    created: int
    #: the latest instant the facts know about (events, creation, a synthesized status change)
    horizon: int
    #: how many events the facts summarize
    events: int = 0
    #: an agent created the ticket (its creating comment, if stored as a comment too, is no reply)
    agent_created: bool = False
    #: public messages of the requester (creation included when the requester created it)
    requester_messages: list[int] = field(default_factory=list)
    #: public agent replies, in time order
    replies: list[Reply] = field(default_factory=list)
    internal_notes: int = 0
    #: events an agent authored (replies, notes, changes), the creation excepted
    touches: int = 0
    #: (start, status code) periods from creation; each ends where the next starts
    statuses: list[tuple[int, int]] = field(default_factory=list)
    #: the periods come from status changes (False: synthesized from the ticket's status)
    status_history: bool = False
    #: the latest status change event, else the creation
    status_change: int = 0
    #: who is credited with the latest solve (the agent who made it, else the assignee then)
    solver: str | None = None
    #: wall-clock seconds in new/open/on-hold (requester wait) and new/open (agent work) up to
    #: the latest solve; None without a status history or without a solve
    requester_wait: int | None = None
    agent_work: int | None = None
    #: the spans (start, end) those seconds fall in, adjacent ones merged: business time of any
    #: calendar is measured over them when read
    wait_spans: list[tuple[int, int]] = field(default_factory=list)
    work_spans: list[tuple[int, int]] = field(default_factory=list)
    #: status changes made by an agent: (instant, agent)
    agent_changes: list[tuple[int, str]] = field(default_factory=list)
    #: assignment events: (instant, assignee or None), values qualified with the instance
    assignments: list[tuple[int, str | None]] = field(default_factory=list)
    #: group changes: (instant, group or None)
    groups: list[tuple[int, str | None]] = field(default_factory=list)
    survey_offers: list[tuple[int, str]] = field(default_factory=list)
    survey_answers: list[SurveyAnswer] = field(default_factory=list)

    # -- derived values (what conditions and reports read) ---------------------------------------

    @property
    def agent_replies(self) -> int:
        return len(self.replies)

    @property
    def first_reply(self) -> int | None:
        return self.replies[0].at if self.replies else None

    @property
    def first_responder(self) -> str | None:
        return self.replies[0].agent if self.replies else None

    @property
    def last_public_reply(self) -> int | None:
        return self.replies[-1].at if self.replies else None

    @property
    def first_message(self) -> int | None:
        """The requester's first message (where the SLA first-reply clock starts)."""
        return self.requester_messages[0] if self.requester_messages else None

    @property
    def last_requester_reply(self) -> int | None:
        return self.requester_messages[-1] if self.requester_messages else None

    @property
    def solves(self) -> list[int]:
        """Instants the ticket went from an unsolved status to solved or closed (solved ->
        closed is not a second solve)."""
        out: list[int] = []
        prev = UNKNOWN
        for at, code in self.statuses:
            if code in (SOLVED, CLOSED) and prev not in (SOLVED, CLOSED):
                out.append(at)
            prev = code
        return out

    @property
    def first_solve(self) -> int | None:
        s = self.solves
        return s[0] if s else None

    @property
    def last_solve(self) -> int | None:
        s = self.solves
        return s[-1] if s else None

    @property
    def reopens(self) -> int:
        """Changes from solved or closed into new, open, pending or on hold."""
        n = 0
        prev = UNKNOWN
        for _, code in self.statuses:
            if prev in (SOLVED, CLOSED) and code <= ON_HOLD:
                n += 1
            prev = code
        return n

    @property
    def cycle(self) -> int:
        """The resolution cycle the ticket is in: 1, plus one per reopening."""
        return 1 + self.reopens

    @property
    def first_assignee(self) -> str | None:
        return self.assignments[0][1] if self.assignments else None

    @property
    def reassignments(self) -> int:
        """Assignment changes after the first assignment to a different agent."""
        n = 0
        prev = self.assignments[0][1] if self.assignments else None
        for _, who in self.assignments[1:]:
            if who != prev:
                n += 1
            prev = who
        return n

    @property
    def group_changes(self) -> int:
        return len(self.groups)

    @property
    def status_since(self) -> int:
        """When the current status (the last period's) started."""
        return self.statuses[-1][0] if self.statuses else self.created

    def status_at(self, t: float) -> int:
        """The status code in force at instant ``t`` (the first period's before creation)."""
        code = self.statuses[0][1] if self.statuses else UNKNOWN
        for at, c in self.statuses:
            if at <= t:
                code = c
            else:
                break
        return code

    def latest_answer(self, kind: str | None = None) -> SurveyAnswer | None:
        for answer in reversed(self.survey_answers):
            if kind is None or answer.kind == kind:
                return answer
        return None

    def survey_values(self) -> dict[str, object]:
        """The ``survey.*`` condition values."""
        out: dict[str, object] = {
            "survey.offered": bool(self.survey_offers or self.survey_answers),
            "survey.answered": bool(self.survey_answers),
        }
        latest = self.latest_answer()
        if latest is not None:
            out["survey.score"] = latest.score
            out["survey.comment"] = latest.comment
            out["survey.kind"] = latest.kind
        for kind in ("csat", "nps", "ces"):
            found = self.latest_answer(kind)
            if found is not None:
                out[f"survey.{kind}"] = found.score
        return out

    def as_dict(self) -> dict[str, Any]:
        """The facts as ``cst tickets show`` prints them (instants as aware datetimes)."""

        def at(t: int | None) -> datetime | None:
            return None if t is None else datetime.fromtimestamp(t, UTC)

        return {
            "events": self.events,
            "agent_created": self.agent_created,
            "requester_messages": len(self.requester_messages),
            "agent_replies": self.agent_replies,
            "internal_notes": self.internal_notes,
            "touches": self.touches,
            "first_message": at(self.first_message),
            "first_reply": at(self.first_reply),
            "first_responder": self.first_responder,
            "last_public_reply": at(self.last_public_reply),
            "last_requester_reply": at(self.last_requester_reply),
            "status_change": at(self.status_change),
            "status_history": self.status_history,
            "solves": len(self.solves),
            "first_solve": at(self.first_solve),
            "last_solve": at(self.last_solve),
            "reopens": self.reopens,
            "solver": self.solver,
            "requester_wait_seconds": self.requester_wait,
            "agent_work_seconds": self.agent_work,
            "first_assignee": self.first_assignee,
            "assignments": len(self.assignments),
            "reassignments": self.reassignments,
            "group_changes": self.group_changes,
            **{k.replace(".", "_"): v for k, v in self.survey_values().items()},
            "statuses": [
                {"from": at(start), "status": status_name(code) or "unknown"}
                for start, code in self.statuses
            ],
            "replies": [
                {"at": at(r.at), "agent": r.agent, "waited_since": at(r.wait_from)}
                for r in self.replies
            ],
        }
