"""A hand-built helpdesk whose every KPI was computed by hand (see the expectations in
test_metrics.py).

Calendar ``madrid``: Europe/Madrid, Mon-Fri 09:00-17:00, Monday 2026-03-30 a holiday. Clocks go
forward on Sunday 2026-03-29 (02:00 -> 03:00), inside the report period. The report period is
[2026-03-23, 2026-04-06) local (14 days); the previous one [2026-03-09, 2026-03-23).

Tickets (all local times, Madrid):

* t:1  Fri 03-27 16:30 by the requester; a1 replies Tue 03-31 09:30 (across the weekend, the
  DST change and the holiday) and solves at 10:00. email.
* t:2  Mon 03-23 09:00; a1 replies 10:00, pending; requester 12:00; a1 replies 14:00, solves;
  requester reopens Tue 08:00; assigned to a2 (tier 2: an escalation) 08:15; on hold
  08:30-09:30; a2 replies and solves 10:00. email.
* t:3  Wed 04-01 11:00, assigned to a2, open, never answered (backlog, no reply). chat.
* t:4  Thu 03-26 10:00 created by a1 with a public comment, pending; requester 12:00; a1
  replies and solves 15:00 (first reply = the agent's second public comment). phone.
* t:5  Tue 03-24 09:00, a2 solves 09:30 without a reply; closed Sat 03-28; a CSAT answer on Sun
  03-29, after closing. email.
* t:6  Mon 03-16 10:00 (previous period): a1 replies 11:00, solves 12:00. web.
* t:7  Fri 03-20 16:00 (previous period): a1 replies 16:30; requester 16:45; a1 replies Mon
  03-23 09:15 and solves 09:20 (two replies: not one-touch). email.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cstoolkit.config import Config
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
from cstoolkit.plugin import Page
from cstoolkit.store import SQLiteStore, open_store

MADRID = ZoneInfo("Europe/Madrid")
CALENDAR = {
    "timezone": "Europe/Madrid",
    "hours": {"mon-fri": "09:00-17:00"},
    "holidays": ["2026-03-30"],
}
PERIOD = ("2026-03-23", "2026-04-06")


def L(text: str) -> datetime:
    """A Madrid local time, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=MADRID).astimezone(UTC)


def config_data(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "calendars": {"madrid": CALENDAR},
        "kpi": {"calendar": "madrid", "timezone": "Europe/Madrid", "jobs": 1},
        "costs": {"agent_hour": 30.0, "hours_per_agent_day": 8},
    }
    data.update(extra)
    return data


def config(**extra: Any) -> Config:
    return Config(path=None, data=config_data(**extra))


class Builder:
    """Collects tickets and events; ``n`` numbers each ticket's events in order."""

    def __init__(self, instance: str = "t") -> None:
        self.instance = instance
        self.tickets: list[Ticket] = []
        self.events: list[Event] = []

    def ticket(
        self,
        n: int,
        created: str,
        status: Status,
        *,
        channel: Channel = Channel.EMAIL,
        priority: Priority = Priority.NORMAL,
        assignee: str | None = "a1",
        group: str = "g1",
        solved: str | None = None,
        by_agent: str | None = None,
        events: list[tuple[Any, ...]] = (),  # type: ignore[assignment]
        raw: dict[str, Any] | None = None,
    ) -> None:
        tid = f"{self.instance}:{n}"
        at = L(created)
        evs: list[Event] = []

        def ev(kind: EventKind, when: datetime, **kw: Any) -> None:
            evs.append(Event(id=f"{tid}-{len(evs) + 1}", ticket_id=tid, kind=kind, at=when, **kw))

        if by_agent:
            ev(
                EventKind.CREATED,
                at,
                author_id=self.q(by_agent),
                author_role=Role.AGENT,
                public=True,
            )
        else:
            ev(
                EventKind.CREATED,
                at,
                author_id=self.q("r1"),
                author_role=Role.REQUESTER,
                public=True,
            )
        for spec in events:
            what, when = spec[0], L(spec[1])
            if what == "reply":  # ("reply", time, agent)
                ev(
                    EventKind.COMMENT,
                    when,
                    author_id=self.q(spec[2]),
                    author_role=Role.AGENT,
                    public=True,
                    body="reply",
                )
            elif what == "note":
                ev(
                    EventKind.COMMENT,
                    when,
                    author_id=self.q(spec[2]),
                    author_role=Role.AGENT,
                    public=False,
                    body="note",
                )
            elif what == "requester":
                ev(
                    EventKind.COMMENT,
                    when,
                    author_id=self.q("r1"),
                    author_role=Role.REQUESTER,
                    public=True,
                    body="more",
                )
            elif what == "status":  # ("status", time, old, new, agent or None)
                agent = spec[4] if len(spec) > 4 else None
                ev(
                    EventKind.STATUS_CHANGE,
                    when,
                    old=spec[2],
                    new=spec[3],
                    author_id=self.q(agent) if agent else None,
                    author_role=Role.AGENT if agent else Role.SYSTEM,
                )
            elif what == "assign":  # ("assign", time, agent)
                ev(EventKind.ASSIGNMENT, when, new=self.q(spec[2]), author_role=Role.SYSTEM)
            elif what == "survey":  # ("survey", time, kind, score)
                ev(
                    EventKind.SURVEY_ANSWERED,
                    when,
                    author_role=Role.REQUESTER,
                    data={"survey": "s", "kind": spec[2], "score": spec[3], "comment": ""},
                )
            else:  # pragma: no cover
                raise ValueError(what)
        self.events.extend(evs)
        self.tickets.append(
            Ticket(
                id=tid,
                instance=self.instance,
                external_id=str(n),
                subject=f"ticket {n}",
                status=status,
                created_at=at,
                updated_at=max(e.at for e in evs),
                priority=priority,
                channel=channel,
                requester_id=self.q("r1"),
                assignee_id=self.q(assignee) if assignee else None,
                group_id=self.q(group),
                solved_at=L(solved) if solved else None,
                raw=raw or {},
            )
        )

    def q(self, name: str) -> str:
        return f"{self.instance}:{name}"

    def store(self, path: Path) -> SQLiteStore:
        st = open_store(path)
        people = [
            Person(
                id=self.q("a1"),
                instance=self.instance,
                external_id="a1",
                role=Role.AGENT,
                name="Ana Agent",
                raw={"tier": 1},
            ),
            Person(
                id=self.q("a2"),
                instance=self.instance,
                external_id="a2",
                role=Role.AGENT,
                name="Bruno Agent",
                raw={"tier": 2},
            ),
            Person(
                id=self.q("r1"),
                instance=self.instance,
                external_id="r1",
                role=Role.REQUESTER,
                name="Rita",
                email="rita@example.com",
                plan="paid",
            ),
        ]
        groups = [Group(id=self.q("g1"), instance=self.instance, external_id="g1", name="Front")]
        st.upsert_page(
            self.instance,
            Page(tickets=self.tickets, events=self.events, people=people, groups=groups),
        )
        return st


def build_main(path: Path) -> SQLiteStore:
    """The helpdesk described in the module docstring."""
    b = Builder()
    b.ticket(
        1,
        "2026-03-27 16:30",
        Status.SOLVED,
        solved="2026-03-31 10:00",
        events=[
            ("assign", "2026-03-27 16:30", "a1"),
            ("status", "2026-03-27 16:30", "new", "open"),
            ("reply", "2026-03-31 09:30", "a1"),
            ("status", "2026-03-31 10:00", "open", "solved", "a1"),
            ("survey", "2026-04-01 10:00", "nps", 9),
            ("survey", "2026-04-01 10:05", "ces", 6),
        ],
    )
    b.ticket(
        2,
        "2026-03-23 09:00",
        Status.SOLVED,
        assignee="a2",
        solved="2026-03-24 10:00",
        events=[
            ("assign", "2026-03-23 09:00", "a1"),
            ("status", "2026-03-23 09:00", "new", "open"),
            ("reply", "2026-03-23 10:00", "a1"),
            ("status", "2026-03-23 10:00", "open", "pending", "a1"),
            ("requester", "2026-03-23 12:00"),
            ("status", "2026-03-23 12:00", "pending", "open"),
            ("note", "2026-03-23 13:00", "a1"),
            ("reply", "2026-03-23 14:00", "a1"),
            ("status", "2026-03-23 14:00", "open", "solved", "a1"),
            ("requester", "2026-03-24 08:00"),
            ("status", "2026-03-24 08:00", "solved", "open"),
            ("assign", "2026-03-24 08:15", "a2"),
            ("status", "2026-03-24 08:30", "open", "on_hold", "a2"),
            ("status", "2026-03-24 09:30", "on_hold", "open", "a2"),
            ("reply", "2026-03-24 10:00", "a2"),
            ("status", "2026-03-24 10:00", "open", "solved", "a2"),
            ("survey", "2026-03-24 11:00", "csat", 2),
            ("survey", "2026-03-24 11:05", "ces", 4),
        ],
    )
    b.ticket(
        3,
        "2026-04-01 11:00",
        Status.OPEN,
        channel=Channel.CHAT,
        assignee="a2",
        events=[
            ("assign", "2026-04-01 11:00", "a2"),
            ("status", "2026-04-01 11:00", "new", "open"),
        ],
    )
    b.ticket(
        4,
        "2026-03-26 10:00",
        Status.SOLVED,
        channel=Channel.PHONE,
        by_agent="a1",
        solved="2026-03-26 15:00",
        events=[
            ("assign", "2026-03-26 10:00", "a1"),
            ("status", "2026-03-26 10:00", "new", "pending", "a1"),
            ("requester", "2026-03-26 12:00"),
            ("status", "2026-03-26 12:00", "pending", "open"),
            ("reply", "2026-03-26 15:00", "a1"),
            ("status", "2026-03-26 15:00", "open", "solved", "a1"),
            ("survey", "2026-03-27 09:00", "nps", 3),
        ],
    )
    b.ticket(
        5,
        "2026-03-24 09:00",
        Status.CLOSED,
        assignee="a2",
        solved="2026-03-24 09:30",
        events=[
            ("assign", "2026-03-24 09:00", "a2"),
            ("status", "2026-03-24 09:00", "new", "open"),
            ("status", "2026-03-24 09:30", "open", "solved", "a2"),
            ("status", "2026-03-28 09:30", "solved", "closed"),
            ("survey", "2026-03-29 12:00", "csat", 5),
        ],
    )
    b.ticket(
        6,
        "2026-03-16 10:00",
        Status.SOLVED,
        channel=Channel.WEB,
        solved="2026-03-16 12:00",
        events=[
            ("assign", "2026-03-16 10:00", "a1"),
            ("status", "2026-03-16 10:00", "new", "open"),
            ("reply", "2026-03-16 11:00", "a1"),
            ("status", "2026-03-16 12:00", "open", "solved", "a1"),
        ],
    )
    b.ticket(
        7,
        "2026-03-20 16:00",
        Status.SOLVED,
        solved="2026-03-23 09:20",
        events=[
            ("assign", "2026-03-20 16:00", "a1"),
            ("status", "2026-03-20 16:00", "new", "open"),
            ("reply", "2026-03-20 16:30", "a1"),
            ("requester", "2026-03-20 16:45"),
            ("reply", "2026-03-23 09:15", "a1"),
            ("status", "2026-03-23 09:20", "open", "solved", "a1"),
        ],
    )
    return b.store(path)
