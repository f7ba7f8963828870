"""ticket_facts stays equal to a rebuild from scratch after every kind of write, on SQLite and
PostgreSQL, and is refreshed in the same transaction as the write."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cstoolkit.model import Event, EventKind, Person, Role, Status, Ticket
from cstoolkit.plugin import Page
from cstoolkit.store import facts as stored
from cstoolkit.store.migrations import MIGRATIONS
from tests.conftest import StoreFactory
from tests.timeline.helpers import assert_fresh, stored_rows

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ticket(n: int, status: Status = Status.OPEN, **kw: Any) -> Ticket:
    base: dict[str, Any] = {
        "id": f"d:{n}", "instance": "d", "external_id": str(n), "subject": f"t{n}",
        "status": status, "created_at": T0, "updated_at": at(100), "requester_id": "d:r1",
        "assignee_id": "d:a1",
    }  # fmt: skip
    base.update(kw)
    return Ticket(**base)


def ev(n: int, k: int, kind: EventKind, minutes: float, **kw: Any) -> Event:
    return Event(f"d:{n}-{k}", f"d:{n}", kind, at(minutes), **kw)


def reply(n: int, k: int, minutes: float, agent: str = "d:a1") -> Event:
    return ev(n, k, EventKind.COMMENT, minutes, author_id=agent, author_role=Role.AGENT,
              public=True, body="hi")  # fmt: skip


def status(n: int, k: int, minutes: float, old: str, new: str) -> Event:
    return ev(n, k, EventKind.STATUS_CHANGE, minutes, old=old, new=new, author_id="d:a1",
              author_role=Role.AGENT)  # fmt: skip


def people() -> list[Person]:
    return [
        Person("d:r1", "d", "r1", Role.REQUESTER, name="Rita", email="rita@example.com"),
        Person("d:a1", "d", "a1", Role.AGENT, name="Ana"),
    ]


def created(n: int) -> Event:
    return ev(n, 0, EventKind.CREATED, 0, author_id="d:r1", author_role=Role.REQUESTER,
              public=True, body="help")  # fmt: skip


def test_a_page_refreshes_new_and_changed_tickets(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.upsert_page("d", Page(
        tickets=[ticket(1), ticket(2)],
        events=[created(1), reply(1, 1, 30), created(2)],
        people=people(),
    ))  # fmt: skip
    assert set(stored_rows(store)) == {"d:1", "d:2"}
    assert_fresh(store)
    # a later version brings only what is new (as the local backend's appends do)
    store.upsert_page("d", Page(
        tickets=[ticket(1, Status.SOLVED, solved_at=at(60), updated_at=at(60))],
        events=[status(1, 2, 60, "open", "solved")],
    ))  # fmt: skip
    assert_fresh(store)
    facts = stored.of_ticket(store, "d:1")
    assert (
        facts is not None and facts.agent_replies == 1 and facts.solves == [int(at(60).timestamp())]
    )


def test_events_without_their_ticket_refresh_it_now_or_when_it_comes(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.upsert_page("d", Page(tickets=[ticket(1)], events=[created(1)], people=people()))
    store.upsert_page("d", Page(events=[reply(1, 1, 10), reply(3, 1, 10)]))  # d:3 is unknown
    assert_fresh(store)
    assert set(stored_rows(store)) == {"d:1"}
    store.upsert_page("d", Page(tickets=[ticket(3)], events=[created(3)]))
    assert_fresh(store)  # d:3's earlier reply is in its facts
    facts = stored.of_ticket(store, "d:3")
    assert facts is not None and facts.agent_replies == 1


def test_deleted_tickets_keep_facts_and_pruned_ones_lose_them(
    store_factory: StoreFactory,
) -> None:
    from cstoolkit.ops.retention import prune

    store = store_factory()
    old = ticket(2, Status.CLOSED, created_at=at(-90 * 1440), updated_at=at(-80 * 1440),
                 solved_at=at(-85 * 1440))  # fmt: skip
    store.upsert_page("d", Page(tickets=[ticket(1), old], events=[created(1)], people=people()))
    store.upsert_page("d", Page(deleted=["1"]))
    assert_fresh(store)  # a ticket marked deleted keeps its facts; readers leave it out
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("cstoolkit.ops.retention.now", lambda: T0)
        prune(store, timedelta(days=30))
    assert set(stored_rows(store)) == {"d:1"}
    assert_fresh(store)


def test_a_push_result_refreshes_the_ticket(store_factory: StoreFactory) -> None:
    from cstoolkit.store import planned

    store = store_factory()
    store.upsert_page("d", Page(tickets=[ticket(1)], events=[created(1)], people=people()))
    (row_id,) = planned.insert(store, "run", [planned.NewChange("d:1", "d", "test", {}, {})])
    (row,) = planned.select(store, ids=[row_id])
    solved = ticket(1, Status.SOLVED, solved_at=at(50), updated_at=at(50), assignee_id="d:a2")
    planned.finish(store, row, planned.APPLIED, None, actor="t", details={}, ticket=solved)
    assert_fresh(store)
    facts = stored.of_ticket(store, "d:1")
    assert facts is not None and facts.solver == "d:a2" and facts.last_solve is not None


def test_survey_events_refresh_the_ticket(store_factory: StoreFactory) -> None:
    from cstoolkit.store import surveys

    store = store_factory()
    store.upsert_page("d", Page(tickets=[ticket(1, Status.SOLVED, solved_at=at(5))],
                                events=[created(1)], people=people()))  # fmt: skip
    answer = surveys.AnswerRow("csat/d:1", "csat", "csat", "d:1", "d:r1", 4, "fine", at(90),
                               "web", None)  # fmt: skip
    assert surveys.record_answer(store, answer)
    assert_fresh(store)
    facts = stored.of_ticket(store, "d:1")
    assert facts is not None and facts.survey_values()["survey.csat"] == 4


def test_privacy_erasure_refreshes_every_ticket_it_rewrote(store_factory: StoreFactory) -> None:
    from cstoolkit.ops.privacy import forget

    store = store_factory()
    store.upsert_page("d", Page(
        tickets=[ticket(1), ticket(2, requester_id="d:r2", assignee_id="d:a1")],
        events=[created(1), reply(1, 1, 10), status(1, 2, 20, "open", "pending"), created(2),
                reply(2, 1, 5)],
        people=[*people(), Person("d:r2", "d", "r2", Role.REQUESTER)],
    ))  # fmt: skip
    before = stored_rows(store)
    forget(store, "d:a1")  # the agent: author of replies and status changes, assignee
    assert_fresh(store)
    after = stored_rows(store)
    assert before["d:2"] != after["d:2"]  # a ticket of another requester changed too
    facts = stored.of_ticket(store, "d:2")
    assert facts is not None and facts.first_responder is not None
    assert "forgotten" in facts.first_responder


def test_privacy_erasure_reaches_assignments_that_name_the_agent_by_bare_id(
    store_factory: StoreFactory,
) -> None:
    """Backends write an assignment's old/new as the helpdesk names the agent (``a1``, not
    ``d:a1``); the timeline qualifies it with the ticket's instance. An erased agent must leave
    neither those events nor the facts built from them (assignments, solver), and a bare id on
    another instance's ticket is someone else."""
    from cstoolkit.ops.privacy import forget

    store = store_factory()
    agent: dict[str, Any] = {"author_id": "d:a2", "author_role": Role.AGENT}
    given = ev(1, 1, EventKind.ASSIGNMENT, 5, old=None, new="a1", **agent)
    moved = ev(1, 2, EventKind.ASSIGNMENT, 30, old="a1", new="a2", **agent)
    other = Event("e:1-1", "e:1", EventKind.ASSIGNMENT, at(30), old=None, new="a1")
    store.upsert_page("d", Page(
        tickets=[ticket(1, assignee_id="d:a2")],
        events=[created(1), given, moved, reply(1, 3, 40, agent="d:a2")],
        people=[*people(), Person("d:a2", "d", "a2", Role.AGENT, name="Bea")],
    ))  # fmt: skip
    store.upsert_page("e", Page(
        tickets=[ticket(1, id="e:1", instance="e", requester_id="e:r1", assignee_id="e:a1")],
        events=[other],
    ))  # fmt: skip
    assert "d:a1" in repr(stored.of_ticket(store, "d:1"))
    forget(store, "d:a1")
    assert_fresh(store)
    assert "d:a1" not in repr(stored.of_ticket(store, "d:1"))
    olds = {e.old for e in store.events("d:1") if e.kind is EventKind.ASSIGNMENT}
    assert olds and not olds & {"a1", "d:a1"}
    assert "e:a1" in repr(stored.of_ticket(store, "e:1"))  # the other instance's a1 stays


def test_a_failed_refresh_writes_nothing(store_factory: StoreFactory) -> None:
    store = store_factory()

    def boom(*_a: Any, **_k: Any) -> int:
        raise RuntimeError("refresh failed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stored, "refresh", boom)
        with pytest.raises(RuntimeError):
            store.upsert_page("d", Page(tickets=[ticket(1)], events=[created(1)], cursor="c1"))
    assert store.get_ticket("d:1") is None and store.get_cursor("d") is None


def test_migration_0010_builds_the_facts_of_an_existing_store(
    store_factory: StoreFactory,
) -> None:
    old = store_factory(migrate=False)
    old.migrate(target=9)
    old.upsert_page("d", Page(
        tickets=[ticket(n) for n in range(1, 6)],
        events=[e for n in range(1, 6) for e in (created(n), reply(n, 1, n))],
        people=people(),
    ))  # fmt: skip
    seen: list[tuple[int, int]] = []
    old.migrate(on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(5, 5)]  # the build's progress, passed on to the caller
    old.close()
    store = store_factory()
    assert store.schema_version == MIGRATIONS[-1].version
    assert len(stored_rows(store)) == 5
    assert_fresh(store)


def test_tickets_written_around_the_store_get_facts_before_a_report(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.upsert_page("d", Page(tickets=[ticket(1), ticket(2)], events=[created(1)]))
    with store.transaction() as cur:
        cur.execute("DELETE FROM ticket_facts")
    assert stored.of_ticket(store, "d:1") is not None  # built on the fly, not stored
    assert stored_rows(store) == {}
    assert stored.ensure(store) == 2
    assert_fresh(store)


def test_a_changed_requester_clears_the_sla_fingerprint(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.upsert_page("d", Page(tickets=[ticket(1)], events=[created(1)], people=people()))
    with store.transaction() as cur:
        cur.execute("UPDATE ticket_facts SET sla_fingerprint = 'x'")
    store.upsert_page("d", Page(people=people()))  # the same rows: nothing to redo

    def fingerprint() -> Any:
        return store.conn.execute("SELECT sla_fingerprint FROM ticket_facts").fetchone()[0]

    assert fingerprint() == "x"
    plan = replace(people()[0], plan="enterprise")
    store.upsert_page("d", Page(people=[plan]))
    assert fingerprint() is None


def test_the_build_reports_progress_and_prints_nothing(
    tmp_path: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """The migration's build tells its caller how far it is (``cst store migrate`` draws the
    bar on a terminal); the store itself never prints."""
    from cstoolkit.store import open_store

    store = open_store(tmp_path / "p.db")
    store.upsert_page("d", Page(tickets=[ticket(n) for n in range(1, 4)]))
    seen: list[tuple[int, int]] = []
    with store.transaction() as cur:
        assert stored.build_all(store, cur, on_progress=lambda d, t: seen.append((d, t))) == 3
    assert seen == [(3, 3)]
    assert capfd.readouterr().err == ""
    assert_fresh(store)
