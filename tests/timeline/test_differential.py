"""Differential tests over generated helpdesks, on SQLite and PostgreSQL.

* Facts refreshed incrementally (pages that bring part of the events, events without their
  ticket, deletions, a privacy erasure, a push result, a survey answer) equal facts rebuilt from
  scratch after every step.
* Every per-ticket value triage conditions see (``reopens``, ``agent_replies``, ``survey.*``,
  the last reply, business ages) equals the value the KPI report counts for that ticket.
* Stored SLA outcomes read at any later instant equal an evaluation at that instant, the
  database's answer to ``sla.breached`` is the same, and the report's SLA compliance is the same
  whether it reads stored outcomes or evaluates the clocks.

Helpdesks come from hypothesis (small, by default) and, under ``@pytest.mark.slow``, from the
sample generator with several seeds.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit import sla, sla_facts
from cstoolkit.calendars import load_calendars
from cstoolkit.config import Config
from cstoolkit.kpi.report import KpiOptions, build_report
from cstoolkit.model import Event, EventKind, Person, Priority, Role, Status, Ticket
from cstoolkit.plugin import Page
from cstoolkit.store import Store
from cstoolkit.store import facts as stored
from cstoolkit.triage import fields
from tests.conftest import StoreFactory
from tests.timeline.helpers import assert_fresh

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DAY = 1440
AGENTS = ("a1", "a2", "a3")
CALENDARS = {
    "madrid": {
        "timezone": "Europe/Madrid",
        "hours": {"mon-fri": "09:00-17:00"},
        "holidays": ["2026-03-19"],
    }
}
POLICY = {
    "calendar": "madrid",
    "paused_in": ["pending"],
    "first_reply": {"urgent": "30m", "high": "2h", "normal": "4h", "low": "1d"},
    "next_reply": "3h",
    "periodic_update": {"urgent": "1h", "high": "8h"},
    "resolution": {"urgent": "4h", "high": "1d", "normal": "2d", "low": "5d"},
}
SINCE, UNTIL = T0 - timedelta(days=1), T0 + timedelta(days=40)
NOW = T0 + timedelta(days=41)
_instances = itertools.count()

# -- generated helpdesks -----------------------------------------------------------------------

STATUS_TEXT = st.sampled_from([*(s.value for s in Status), "hold", None])
ROLE = st.sampled_from([Role.REQUESTER, Role.AGENT, Role.SYSTEM, None])
EVENT = st.tuples(
    st.sampled_from(list(EventKind)),
    st.integers(-90, 12 * DAY),  # minutes after creation (some before it)
    ROLE,
    st.sampled_from([True, False, None]),
    st.sampled_from(["r1", *AGENTS, None]),
    STATUS_TEXT,
    STATUS_TEXT,
    st.sampled_from(["csat", "nps", "ces", "other"]),
    st.sampled_from([None, 0, 1, 3, 4, 5, 7, 9, 10, "4", 4.5, "n/a"]),
)
TICKET = st.tuples(
    st.integers(0, 20 * DAY),  # created, minutes after T0
    st.sampled_from(list(Status)),
    st.one_of(st.none(), st.integers(0, 15 * DAY)),  # solved_at after creation
    st.sampled_from([None, *AGENTS]),
    st.sampled_from(list(Priority)),
    st.lists(EVENT, max_size=12),
    st.integers(0, 12),  # how many events the first page brings
)
HELPDESK = st.lists(TICKET, min_size=1, max_size=5)


def _event(inst: str, tid: str, k: int, created: datetime, spec: tuple[Any, ...]) -> Event:
    kind, minutes, role, public, author, old, new, skind, score = spec
    author_id = f"{inst}:{author}" if author else None
    data: dict[str, Any] = {}
    if kind in (EventKind.SURVEY_OFFERED, EventKind.SURVEY_ANSWERED):
        data = {"kind": skind}
        if kind == EventKind.SURVEY_ANSWERED:
            data.update(score=score, comment=f"c{k}")
    if kind == EventKind.ASSIGNMENT:
        old, new = None, (author if k % 2 else author_id)  # external ids are qualified
    elif kind == EventKind.GROUP_CHANGE:
        old, new = None, f"g{k % 2}"
    return Event(
        id=f"{tid}-{k}",
        ticket_id=tid,
        kind=kind,
        at=created + timedelta(minutes=minutes),
        author_id=author_id,
        author_role=role,
        public=public,
        body="text" if kind == EventKind.COMMENT else None,
        old=old,
        new=new,
        data=data,
    )


def build_helpdesk(
    inst: str, specs: list[tuple[Any, ...]]
) -> list[tuple[Ticket, list[Event], int]]:
    out = []
    for n, (cmin, status, solved, assignee, priority, events, split) in enumerate(specs):
        tid = f"{inst}:{n}"
        created = T0 + timedelta(minutes=cmin)
        evs = [_event(inst, tid, k, created, e) for k, e in enumerate(events)]
        updated = max([created, *(e.at for e in evs)])
        ticket = Ticket(
            id=tid,
            instance=inst,
            external_id=str(n),
            subject=f"ticket {n}",
            status=status,
            created_at=created,
            updated_at=updated,
            priority=priority,
            requester_id=f"{inst}:r1",
            assignee_id=f"{inst}:{assignee}" if assignee else None,
            solved_at=created + timedelta(minutes=solved) if solved is not None else None,
        )
        out.append((ticket, evs, split))
    return out


def people(inst: str) -> list[Person]:
    agents = [
        Person(f"{inst}:{a}", inst, a, Role.AGENT, name=a.upper(), raw={"tier": i % 2 + 1})
        for i, a in enumerate(AGENTS)
    ]
    return [*agents, Person(f"{inst}:r1", inst, "r1", Role.REQUESTER, email=f"r1@{inst}.test")]


def fresh(store: Store, inst: str) -> None:
    """assert_fresh for one instance's tickets (the store holds other examples' too)."""
    assert_fresh(store, instance=inst)


# -- the incremental refresh against a rebuild ----------------------------------------------------


def sync_in_steps(store: Store, inst: str, desk: list[tuple[Ticket, list[Event], int]]) -> None:
    """Every write path, one after the other, checking the facts after each."""
    from cstoolkit.ops.privacy import forget
    from cstoolkit.store import planned, surveys

    store.upsert_page(inst, Page(
        tickets=[t for t, _, _ in desk],
        events=[e for _, evs, split in desk for e in evs[:split]],
        people=people(inst),
    ))  # fmt: skip
    fresh(store, inst)
    # the rest of the events, with a later version of every other ticket
    later = [replace(t, subject=t.subject + " (later)") for t, _, _ in desk]
    store.upsert_page(inst, Page(
        tickets=[t for n, t in enumerate(later) if n % 2 == 0],
        events=[e for n, (_, evs, split) in enumerate(desk) if n % 2 == 0 for e in evs[split:]],
    ))  # fmt: skip
    store.upsert_page(inst, Page(  # events without their ticket: the odd tickets' rest
        events=[e for n, (_, evs, split) in enumerate(desk) if n % 2 for e in evs[split:]],
    ))  # fmt: skip
    fresh(store, inst)
    first = desk[0][0]
    store.upsert_page(inst, Page(deleted=[first.external_id]))
    fresh(store, inst)
    forget(store, f"{inst}:a1")
    fresh(store, inst)
    last = desk[-1][0]
    (row_id,) = planned.insert(store, "r", [planned.NewChange(last.id, inst, "t", {}, {})])
    (row,) = planned.select(store, ids=[row_id])
    solved = replace(last, status=Status.SOLVED, solved_at=NOW)
    planned.finish(store, row, planned.APPLIED, None, actor="t", details={}, ticket=solved)
    fresh(store, inst)
    surveys.record_answer(store, surveys.AnswerRow(
        f"csat/{last.id}", "csat", "csat", last.id, f"{inst}:r1", 5, "thanks",
        last.created_at + timedelta(days=2), "web", None,
    ))  # fmt: skip
    fresh(store, inst)


@given(HELPDESK)
def test_incremental_facts_equal_a_rebuild(
    store_factory: StoreFactory, specs: list[tuple[Any, ...]]
) -> None:
    store = _store(store_factory)
    inst = f"h{next(_instances)}"
    sync_in_steps(store, inst, build_helpdesk(inst, specs))


_STORES: dict[str, Store] = {}


def _store(factory: StoreFactory) -> Store:
    """One store per test and store kind, shared by its examples (each has its own instance)."""
    key = f"{factory.kind}:{factory.path}"
    if key not in _STORES:
        _STORES.clear()
        _STORES[key] = factory()
    return _STORES[key]


# -- triage's values against the report's ---------------------------------------------------------


def kpi_records(store: Store, inst: str, **config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report over the whole generated period and its per-ticket records."""
    from cstoolkit.kpi import vendor

    seen: dict[str, Any] = {}
    real = vendor.vendor_check

    def capture(store: Store, records: Any, *args: Any, **kw: Any) -> Any:
        seen.update(records)
        return real(store, records, *args, **kw)

    data = {
        "calendars": CALENDARS,
        "kpi": {"calendar": "madrid", "timezone": "Europe/Madrid", "jobs": 1},
        **config,
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vendor, "vendor_check", capture)
        report = build_report(
            store,
            Config(path=None, data=data),
            KpiOptions(
                since=SINCE, until=UNTIL, now=NOW, query=f"instance:{inst}", vendor_metrics=True
            ),
        )
    return report, seen


def check_triage_equals_report(store: Store, inst: str) -> None:
    report, records = kpi_records(store, inst)
    calendar = load_calendars(CALENDARS)["madrid"]
    read = partial(stored.for_ticket, store)
    fields.register()
    solved = reopens = one_touch = 0
    for ticket, requester in store.select(None, instance=inst):
        record = records.get(ticket.id)

        def value(
            name: str, now: datetime = NOW, t: Ticket = ticket, r: Person | None = requester
        ) -> Any:
            src = fields.Sources(now=now, calendar=calendar, facts=read)
            return fields.Extras(src, t, r).get(name)

        if record is None:
            continue
        assert value("reopens") == record.reopens
        assert value("agent_replies") == record.replies
        if record.first_reply is not None:
            at = datetime.fromtimestamp(record.first_reply, UTC)
            assert value("hours_since_created", at) * 3600 == pytest.approx(
                record.first_reply - record.created, abs=1e-6
            )
            assert value("business_hours_since_created", at) * 3600 == pytest.approx(
                record.first_reply_b, abs=1e-6
            )
        if record.last_reply is not None:
            assert value("hours_since_last_public_reply") * 3600 == pytest.approx(
                NOW.timestamp() - record.last_reply, abs=1e-6
            )
        for kind in ("csat", "nps", "ces"):
            seen = [score for _, k, score in record.answers if k == kind]
            mine = value(f"survey.{kind}")
            if mine is not None:
                assert seen and seen[-1] == int(mine), (ticket.id, kind)
        if record.last_solve is not None:
            solved += 1
            reopens += record.reopens
            one_touch += record.replies < 2
    metrics = {m["name"]: m["values"] for m in report["metrics"]}
    assert metrics["tickets_solved"]["count"] == solved
    assert metrics["reopen_rate"]["reopens"] == reopens
    assert metrics["one_touch_rate"]["one_touch"] == one_touch


@given(HELPDESK)
def test_triage_sees_what_the_report_counts(
    store_factory: StoreFactory, specs: list[tuple[Any, ...]]
) -> None:
    store = _store(store_factory)
    inst = f"h{next(_instances)}"
    desk = build_helpdesk(inst, specs)
    store.upsert_page(inst, Page(
        tickets=[t for t, _, _ in desk], events=[e for _, evs, _ in desk for e in evs],
        people=people(inst),
    ))  # fmt: skip
    check_triage_equals_report(store, inst)


# -- SLA outcomes: stored and read later, against an evaluation ----------------------------------


def _same(a: dict[str, object], b: dict[str, object]) -> bool:
    if set(a) != set(b):
        return False
    for k, v in a.items():
        w = b[k]
        if isinstance(v, float) and isinstance(w, float):
            if abs(v - w) > 1e-6:
                return False
        elif v != w:
            return False
    return True


def check_sla(store: Store, inst: str) -> None:
    data = {"calendars": CALENDARS, "sla": {"std": POLICY}}
    policies = sla.load_policies(data)
    calendars = load_calendars(CALENDARS)
    sla_facts.ensure(store, policies, calendars)
    rows = store.conn.execute(
        "SELECT f.*, t.priority FROM ticket_facts f JOIN tickets t ON t.id = f.ticket_id "
        "WHERE t.instance = ?",
        (inst,),
    )
    names = [d[0] for d in rows.description]
    for values in rows.fetchall():
        row = dict(zip(names, values, strict=True))
        facts = stored.of_ticket(store, row["ticket_id"])
        assert facts is not None
        horizon = datetime.fromtimestamp(row["horizon"], UTC)
        for later in (0, 1, 7, 60 * 24 * 3 + 5, 60 * 24 * 40):
            now = horizon + timedelta(minutes=later)
            states = sla.evaluate_facts(facts, row["priority"], policies[0], calendars, now)
            want = sla.condition_values(states, policies[0], calendars, now)
            got = sla_facts.values_at(row, policies, calendars, now)
            assert _same(got, want), (row["ticket_id"], later, got, want)
            (breached, ever) = store.conn.execute(
                "SELECT CASE WHEN sla_breach_after IS NOT NULL AND sla_breach_after < ? "
                "THEN 1 ELSE 0 END, CASE WHEN sla_ever_breach_after IS NOT NULL AND "
                "sla_ever_breach_after < ? THEN 1 ELSE 0 END FROM ticket_facts "
                "WHERE ticket_id = ?",
                (now.timestamp(), now.timestamp(), row["ticket_id"]),
            ).fetchone()
            assert bool(breached) == want["sla.breached"]
            assert bool(ever) == want["sla.ever_breached"]
    # the report: stored outcomes, and the clocks evaluated at report time, count alike
    stored_report, _ = kpi_records(store, inst, sla={"std": POLICY})
    timed = {**POLICY, "when": "created<36500d"}  # true for all, but depends on the time
    assert (
        sla_facts.fingerprint(sla.load_policies({**data, "sla": {"std": timed}}), calendars) is None
    )
    evaluated_report, _ = kpi_records(store, inst, sla={"std": timed})

    def compliance(report: dict[str, Any]) -> Any:
        entry = next(m for m in report["metrics"] if m["name"] == "sla_compliance")
        return entry["values"], entry["table"], report["series"]["values"]["sla_compliance"]

    assert compliance(stored_report) == compliance(evaluated_report)


@given(HELPDESK)
def test_stored_sla_outcomes_hold_at_any_later_instant(
    store_factory: StoreFactory, specs: list[tuple[Any, ...]]
) -> None:
    store = _store(store_factory)
    inst = f"h{next(_instances)}"
    desk = build_helpdesk(inst, specs)
    store.upsert_page(inst, Page(
        tickets=[t for t, _, _ in desk], events=[e for _, evs, _ in desk for e in evs],
        people=people(inst),
    ))  # fmt: skip
    check_sla(store, inst)


# -- larger helpdesks from the sample generator ---------------------------------------------------


def _sample_pages(tmp: Path, seed: int, tickets: int) -> list[Page]:
    from cstoolkit.builtin.local import LocalBackend
    from cstoolkit.sample import SampleSpec, generate_file
    from cstoolkit.store.kv import MemoryKeyValue

    path = tmp / f"helpdesk-{seed}.jsonl"
    generate_file(SampleSpec(tickets, 30, seed, end=T0 + timedelta(days=30)), path)
    backend = LocalBackend("s", {"path": str(path), "page_size": 37}, MemoryKeyValue("s"))
    return list(backend.pull(None))


@pytest.mark.parametrize("seed", [1, 2])
def test_sample_helpdesks_small(store_factory: StoreFactory, tmp_path: Path, seed: int) -> None:
    _sample_case(store_factory(), tmp_path, seed, 60)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_sample_helpdesks_large(store_factory: StoreFactory, tmp_path: Path, seed: int) -> None:
    _sample_case(store_factory(), tmp_path, seed, 1500)


def _sample_case(store: Store, tmp: Path, seed: int, tickets: int) -> None:
    pages = _sample_pages(tmp, seed, tickets)
    half = len(pages) // 2
    for page in pages[:half]:
        store.upsert_page("s", page)
    assert_fresh(store, instance="s")
    for page in pages[half:]:
        store.upsert_page("s", page)
    assert_fresh(store, instance="s")
    check_triage_equals_report(store, "s")
    check_sla(store, "s")
