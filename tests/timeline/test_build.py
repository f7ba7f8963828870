"""The timeline's rules, one by one (docs/metrics.md, "Ticket facts")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cstoolkit.model import Event, EventKind, Role, Status, Ticket
from cstoolkit.timeline import Facts, facts_of
from cstoolkit.timeline.facts import CLOSED, NEW, OPEN, PENDING, SOLVED
from cstoolkit.timeline.row import COLUMNS, from_row, to_row

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
C = int(T0.timestamp())
M = 60


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ticket(status: Status = Status.OPEN, **kw: Any) -> Ticket:
    base: dict[str, Any] = {
        "id": "d:1",
        "instance": "d",
        "external_id": "1",
        "subject": "s",
        "status": status,
        "created_at": T0,
        "updated_at": at(600),
        "requester_id": "d:r1",
        "assignee_id": "d:a9",
    }
    base.update(kw)
    return Ticket(**base)


class Ev:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, kind: EventKind, minutes: float, **kw: Any) -> Ev:
        self.events.append(Event(f"e{len(self.events) + 10}", "d:1", kind, at(minutes), **kw))
        return self

    def created(self, minutes: float = 0, role: Role = Role.REQUESTER, **kw: Any) -> Ev:
        return self.add(EventKind.CREATED, minutes, author_role=role, public=True, **kw)

    def reply(self, minutes: float, agent: str = "d:a1", public: bool | None = True) -> Ev:
        return self.add(
            EventKind.COMMENT, minutes, author_id=agent, author_role=Role.AGENT, public=public
        )

    def req(self, minutes: float, role: Role | None = Role.REQUESTER, **kw: Any) -> Ev:
        return self.add(EventKind.COMMENT, minutes, author_role=role, public=True, **kw)

    def status(self, minutes: float, old: str | None, new: str, agent: str | None = None) -> Ev:
        return self.add(
            EventKind.STATUS_CHANGE, minutes, old=old, new=new, author_id=agent,
            author_role=Role.AGENT if agent else Role.SYSTEM,
        )  # fmt: skip

    def assign(self, minutes: float, who: str | None) -> Ev:
        return self.add(EventKind.ASSIGNMENT, minutes, new=who, author_role=Role.SYSTEM)

    def facts(self, t: Ticket | None = None) -> Facts:
        return facts_of(t or ticket(), self.events)


def test_replies_and_waits_follow_the_reporting_definition() -> None:
    f = Ev().created().req(5).reply(60).req(70).req(80).reply(100).reply(110).facts()
    assert [(r.at - C, r.wait_from) for r in f.replies] == [
        (60 * M, C),  # the first reply waits from creation
        (100 * M, C + 70 * M),  # the oldest unanswered requester message
        (110 * M, None),  # a follow-up nobody waited for
    ]
    assert f.agent_replies == 3 and f.first_reply == C + 60 * M
    assert f.requester_messages == [C, C + 5 * M, C + 70 * M, C + 80 * M]
    assert f.last_requester_reply == C + 80 * M and f.last_public_reply == C + 110 * M


def test_the_creating_comment_of_an_agent_created_ticket_is_never_a_reply() -> None:
    # stored twice: as the created event and as a public comment at the same instant
    f = Ev().created(role=Role.AGENT, author_id="d:a1").reply(0).req(30).reply(90).facts()
    assert f.agent_created
    assert f.agent_replies == 1 and f.first_reply == C + 90 * M
    assert f.replies[0].wait_from == C  # first reply time is still measured from creation
    assert f.first_responder == "d:a1" and f.requester_messages == [C + 30 * M]


def test_internal_notes_and_unknown_visibility_are_no_replies() -> None:
    f = Ev().created().reply(10, public=False).reply(20, public=None).facts()
    assert f.agent_replies == 0 and f.internal_notes == 2 and f.touches == 2


def test_requester_messages_by_role() -> None:
    f = (
        Ev()
        .created(role=Role.SYSTEM)  # an integration created it for the requester
        .req(10, role=None)  # unknown role: the requester, as the SLA engine has it
        .req(20, role=Role.SYSTEM)  # a system comment is nobody's message
        .req(30, role=Role.SYSTEM, author_id="d:r1")  # ... unless the requester wrote it
        .facts()
    )
    assert f.requester_messages == [C, C + 10 * M, C + 30 * M]
    assert Ev().facts().requester_messages == [C]  # no event at all: the creation


def test_events_before_creation_count_at_creation() -> None:
    f = Ev().created().req(-30).status(-10, "new", "open").facts()
    assert f.requester_messages == [C, C] and f.statuses == [(C, NEW), (C, OPEN)]


def test_status_periods_solves_and_reopens() -> None:
    f = (
        Ev().created().status(0, "new", "open").status(60, "open", "solved", agent="d:a1")
        .status(120, "solved", "open").status(180, "open", "pending")
        .status(240, "pending", "solved").status(300, "solved", "closed")
        .facts(ticket(Status.CLOSED))
    )  # fmt: skip
    assert f.statuses == [
        (C, NEW), (C, OPEN), (C + 60 * M, SOLVED), (C + 120 * M, OPEN),
        (C + 180 * M, PENDING), (C + 240 * M, SOLVED), (C + 300 * M, CLOSED),
    ]  # fmt: skip
    assert f.solves == [C + 60 * M, C + 240 * M]  # solved -> closed is not a second solve
    assert f.reopens == 1 and f.cycle == 2
    assert f.status_history and f.status_change == C + 300 * M
    # waits up to the latest solve: open 60 + 60 min, pending does not count
    assert f.requester_wait == 120 * M and f.agent_work == 120 * M


def test_on_hold_counts_for_the_requester_not_the_agent() -> None:
    f = (
        Ev().created().status(0, "new", "open").status(10, "open", "on_hold")
        .status(40, "on_hold", "open").status(50, "open", "solved")
        .facts(ticket(Status.SOLVED))
    )  # fmt: skip
    assert (f.requester_wait, f.agent_work) == (50 * M, 20 * M)


def test_the_first_status_is_the_first_changes_old_value() -> None:
    assert Ev().status(10, "pending", "open").facts().statuses[0] == (C, PENDING)
    assert Ev().status(10, "weird", "open").facts().statuses[0] == (C, NEW)
    assert Ev().status(10, None, "open").facts().statuses[0] == (C, NEW)


def test_a_solved_ticket_without_status_history_is_solved_at_its_solve_time() -> None:
    t = ticket(Status.SOLVED, solved_at=at(90))
    f = Ev().created().reply(30, agent="d:a1").facts(t)
    assert not f.status_history
    assert f.statuses == [(C, OPEN), (C + 90 * M, SOLVED)]
    assert f.solves == [C + 90 * M]
    assert f.solver == "d:a9"  # credited to its assignee
    assert f.requester_wait is None and f.agent_work is None  # no status history: no value
    assert f.horizon == C + 90 * M
    unsolved = Ev().created().facts(ticket(Status.PENDING))
    assert unsolved.statuses == [(C, PENDING)] and unsolved.solves == []


def test_a_replay_that_ends_in_another_status_takes_the_current_one() -> None:
    # the push wrote "solved" into the stored ticket; its status change is not synced yet
    t = ticket(Status.SOLVED, solved_at=at(200), updated_at=at(200))
    f = Ev().created().status(0, "new", "open").facts(t)
    assert f.statuses[-1] == (C + 200 * M, SOLVED) and f.solves == [C + 200 * M]
    assert f.requester_wait is None  # the solve was not seen as a change
    reopened = Ev().status(0, "new", "solved").facts(ticket(Status.OPEN, updated_at=at(50)))
    assert reopened.statuses[-1] == (C + 50 * M, OPEN) and reopened.reopens == 1


def test_the_latest_solve_is_credited_to_whoever_made_it_else_the_assignee_then() -> None:
    by_agent = Ev().status(0, "new", "open").status(30, "open", "solved", agent="d:a2")
    assert by_agent.facts(ticket(Status.SOLVED)).solver == "d:a2"
    by_system = (
        Ev().assign(0, "a1").assign(20, "d:a3").status(0, "new", "open")
        .status(30, "open", "solved").assign(40, "d:a4")
    )  # fmt: skip
    f = by_system.facts(ticket(Status.SOLVED))
    assert f.solver == "d:a3"  # the assignee at the solve, not the current one
    assert f.assignments[0] == (C, "d:a1")  # external ids are qualified
    assert f.first_assignee == "d:a1" and f.reassignments == 2
    nobody = Ev().assign(50, "d:a4").status(0, "new", "open").status(30, "open", "solved")
    assert nobody.facts(ticket(Status.SOLVED)).solver is None  # assigned only afterwards


def test_survey_offers_and_answers() -> None:
    f = (
        Ev()
        .add(EventKind.SURVEY_OFFERED, 10, data={"kind": "csat"})
        .add(EventKind.SURVEY_ANSWERED, 20, data={"kind": "csat", "score": "4", "comment": "ok"})
        .add(EventKind.SURVEY_ANSWERED, 30, data={"kind": "nps", "score": 9.0}, body="great")
        .add(EventKind.SURVEY_ANSWERED, 40, data={"kind": "csat", "score": "n/a"})
        .facts()
    )
    values = f.survey_values()
    assert values["survey.offered"] is True and values["survey.answered"] is True
    assert values["survey.nps"] == 9 and isinstance(values["survey.nps"], int)
    assert values["survey.csat"] is None  # the latest CSAT answer had no usable score
    assert values["survey.score"] is None and values["survey.comment"] == ""
    assert f.survey_answers[1].comment == "great"  # the body when data has no comment
    assert Ev().facts().survey_values() == {"survey.offered": False, "survey.answered": False}


def test_touches_count_what_agents_did() -> None:
    f = (
        Ev().created().reply(10).reply(20, public=False).status(30, "new", "open", agent="d:a1")
        .add(EventKind.PRIORITY_CHANGE, 40, author_role=Role.AGENT, old="low", new="high")
        .add(EventKind.TAGS_CHANGE, 50, author_role=Role.SYSTEM, new="x")
        .facts()
    )  # fmt: skip
    assert f.touches == 4 and f.agent_changes == [(C + 30 * M, "d:a1")]


def test_a_stored_row_gives_back_the_same_facts() -> None:
    f = (
        Ev().created().reply(10).req(20).reply(30).status(0, "new", "open")
        .status(40, "open", "solved", agent="d:a1").assign(0, "a1")
        .add(EventKind.GROUP_CHANGE, 5, new="g2")
        .add(EventKind.SURVEY_OFFERED, 50, data={"kind": "csat"})
        .add(EventKind.SURVEY_ANSWERED, 60, data={"kind": "csat", "score": 5, "comment": "ñ"})
        .facts(ticket(Status.SOLVED))
    )  # fmt: skip
    row = to_row(f)
    assert len(row) == len(COLUMNS)
    assert from_row(row, C) == f
