"""The KPI report by columns against the reference replay, value for value, on SQLite and
PostgreSQL.

The report aggregates the stored columns (``cstoolkit.kpi.columnar`` over
``cstoolkit.store.columns``, kept up to date for exactly the tickets that changed). Its oracle is
the former per-ticket scan (``tests/kpi/reference_scan.py``: one row per ticket, JSON decoded,
every value added in CPython with the per-instant clocks). For generated helpdesks, after every
step of their life -- incremental syncs that bring part of the events, later versions of
tickets, events without their ticket, deletions (marked, and pruned for good), a privacy
erasure, a push result, a survey answer -- and for several report shapes (``--compare``,
``--by`` every dimension, ``--query``, the vendor check) and calendars (business hours, 24x7 and
a changed calendar), the whole report document is the same either way. At the end, the facts,
their SLA outcomes and the columns are all rebuilt from the events from scratch (a full
replay of the same store), and the report is still the same.

Helpdesks come from hypothesis (small) and from the sample generator (60 tickets by default,
1,500 under ``@pytest.mark.slow``, which runs in the ci profile).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from cstoolkit.config import Config
from cstoolkit.host import Host
from cstoolkit.knowledge.metrics import SelfServiceMetric
from cstoolkit.kpi import report as report_module
from cstoolkit.kpi.report import KpiOptions, build_report
from cstoolkit.model import Event, EventKind, Role, Status
from cstoolkit.plugin import Page
from cstoolkit.store import Store, columns
from cstoolkit.store import facts as stored
from tests.conftest import StoreFactory
from tests.kpi import reference_scan
from tests.timeline.test_differential import (
    CALENDARS,
    HELPDESK,
    NOW,
    POLICY,
    SINCE,
    T0,
    UNTIL,
    build_helpdesk,
    people,
)

CALS = {
    **CALENDARS,
    # the same data read with another calendar: other zone, hours and days
    "evening": {"timezone": "America/New_York", "hours": {"mon-sat": "12:00-20:30"}},
}
#: report shapes checked after each step (each with the calendars below)
SHAPES: tuple[dict[str, Any], ...] = (
    {"compare": "previous"},
    {"by": "agent", "compare": "previous"},
    {"by": "tier"},
    {"by": "day", "compare": "previous"},
    {"by": "week"},
    {"by": "group"},
    {"by": "priority", "query": "status:open,pending,solved"},
    {"by": "channel", "vendor_metrics": True},
)
CALENDAR_CHOICES = ("madrid", "evening", "24x7")
#: the built-in plugins (their metrics: self_service)
HOST = Host(entry_points=[]).load()
THOROUGH = os.environ.get("CSTOOLKIT_TEST_PROFILE") == "ci"
_instances = itertools.count()


def _config(calendar: str) -> Config:
    return Config(
        path=None,
        data={
            "calendars": CALS,
            "kpi": {"calendar": calendar, "timezone": "Europe/Madrid"},
            "sla": {"std": POLICY},
            "costs": {"agent_hour": 30.0},
        },
    )


def _oracle(store: Store, spec: Any) -> Any:
    return reference_scan.scan(spec, store)


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc["scanned"] = {k: v for k, v in doc["scanned"].items() if k != "seconds"}
    return doc


class Checker:
    """Compares the columnar report with the reference replay after each step of a helpdesk's
    life. ``thorough``: every shape with every calendar at every step (the ci profile's large
    helpdesks); otherwise one shape per step, shapes and calendars taken in turn, so a life
    still sees each of them."""

    def __init__(self, query: str | None, thorough: bool) -> None:
        self.query = query
        self.thorough = thorough
        self.turn = itertools.cycle(itertools.product(SHAPES, CALENDAR_CHOICES))

    def __call__(self, store: Store) -> None:
        if self.thorough:
            pairs = [(s, c) for c in CALENDAR_CHOICES for s in SHAPES]
        else:
            pairs = [next(self.turn)]
        for shape, calendar in pairs:
            opts = dict(shape)
            q = " ".join(x for x in (self.query, opts.pop("query", None)) if x) or None
            options = KpiOptions(since=SINCE, until=UNTIL, now=NOW, query=q, **opts)
            ours = build_report(store, _config(calendar), options, HOST)
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(report_module, "aggregate", _oracle)
                mp.setattr(SelfServiceMetric, "counts", reference_scan.self_service_counts)
                theirs = build_report(store, _config(calendar), options, HOST)
            assert _strip(ours) == _strip(theirs), (calendar, shape)
            _check_self_service(ours, shape)


def _check_self_service(doc: dict[str, Any], shape: dict[str, Any]) -> None:
    """self_service is in the groups and the series, and its counts add up to the period's."""
    (entry,) = [m for m in doc["metrics"] if m["name"] == "self_service"]
    series = doc["series"]["values"]["self_service"]
    assert sum(series) == entry["values"]["answered"]
    if "by" in shape:
        groups = [g["values"]["self_service"] for g in doc["groups"]]
        for name in ("answered", "deflected", "reopened", "csat_responses"):
            assert sum(g[name] for g in groups) == entry["values"][name], (shape, name)


def full_replay(store: Store) -> None:
    """Facts, SLA outcomes and columns rebuilt from the events, from scratch."""
    with store.transaction() as cur:
        cur.execute("DELETE FROM ticket_facts")
        stored.build_all(store, cur)
    columns.rebuild_all(store)


def reports(store: Store, query: str | None, thorough: bool) -> list[dict[str, Any]]:
    out = []
    for calendar in CALENDAR_CHOICES if thorough else CALENDAR_CHOICES[:1]:
        options = KpiOptions(since=SINCE, until=UNTIL, now=NOW, query=query, compare="previous")
        out.append(_strip(build_report(store, _config(calendar), options)))
    return out


# -- the life of a helpdesk ------------------------------------------------------------------


def life(
    store: Store, inst: str, pages: list[Page], query: str | None, thorough: bool = False
) -> None:
    """Sync ``pages`` in two halves, then change, delete, erase and push; compare after each."""
    check = Checker(query, thorough)
    from cstoolkit.ops.privacy import forget
    from cstoolkit.store import maintenance, planned, surveys

    half = max(1, len(pages) // 2)
    for page in pages[:half]:
        store.upsert_page(inst, page)
    check(store)
    for page in pages[half:]:
        store.upsert_page(inst, page)
    check(store)
    tickets = [t for p in pages for t in p.tickets]
    events = {t.id: [e for p in pages for e in p.events if e.ticket_id == t.id] for t in tickets}
    # later versions of every third ticket: reopened, reassigned, one more public reply
    changed = tickets[::3]
    # (and every other one answered from the knowledge base: self_service)
    later = [
        replace(
            t,
            status=Status.OPEN,
            assignee_id=tickets[-1].assignee_id,
            custom_fields={**t.custom_fields, "kb_article": "help:a"} if i % 2 else t.custom_fields,
        )
        for i, t in enumerate(changed)
    ]
    extra = [
        Event(
            id=f"{t.id}-extra", ticket_id=t.id, kind=EventKind.COMMENT,
            at=max([t.created_at, *(e.at for e in events[t.id])]) + timedelta(hours=3),
            author_id=t.assignee_id, author_role=Role.AGENT, public=True, body="more",
        )
        for t in later
    ]  # fmt: skip
    store.upsert_page(inst, Page(tickets=later, events=extra))
    check(store)
    # deletions: marked deleted, then pruned for good
    store.upsert_page(inst, Page(deleted=[t.external_id for t in tickets[1::7]]))
    with store.transaction() as tx:
        stamp = int((T0 + timedelta(days=3)).timestamp())
        maintenance.prune(tx, stamp, ["pending", "failed"], dry_run=False)
    check(store)
    # a privacy erasure of an agent and of a requester
    forget(store, tickets[0].assignee_id or f"{inst}:a1")
    if tickets[-1].requester_id:
        forget(store, tickets[-1].requester_id)
    check(store)
    # a push result written into the stored ticket, and a survey answer
    last = tickets[-1]
    (row_id,) = planned.insert(store, "r", [planned.NewChange(last.id, inst, "t", {}, {})])
    (row,) = planned.select(store, ids=[row_id])
    solved = replace(
        last,
        status=Status.SOLVED,
        solved_at=NOW - timedelta(days=2),
        custom_fields={**last.custom_fields, "kb_article": "help:b"},
    )
    planned.finish(store, row, planned.APPLIED, None, actor="t", details={}, ticket=solved)
    surveys.record_answer(store, surveys.AnswerRow(
        f"csat/{last.id}", "csat", "csat", last.id, last.requester_id, 4, "ok",
        last.created_at + timedelta(days=2), "web", None,
    ))  # fmt: skip
    check(store)
    before = reports(store, query, thorough)
    full_replay(store)
    assert reports(store, query, thorough) == before


# -- hypothesis: small hand-shaped helpdesks -----------------------------------------------------

_STORES: dict[str, Store] = {}


def _store(factory: StoreFactory) -> Store:
    """One store per test and store kind, shared by its examples (each has its own instance)."""
    key = f"{factory.kind}:{factory.path}"
    if key not in _STORES:
        for old in _STORES.values():
            old.close()
        _STORES.clear()
        _STORES[key] = factory()
    return _STORES[key]


#: each example lives a whole helpdesk life with eight report comparisons on each store, about
#: 1.7 s of CPU: the ci profile's 300 examples would add 8 minutes to CI, so this test takes at
#: most 60 (the sample-helpdesk tests above and below cover every shape and calendar).
@pytest.mark.slow
@settings(max_examples=min(60, settings.default.max_examples))
@given(HELPDESK)
def test_generated_helpdesks(store_factory: StoreFactory, specs: list[tuple[Any, ...]]) -> None:
    store = _store(store_factory)
    inst = f"h{next(_instances)}"
    desk = build_helpdesk(inst, specs)
    pages = [
        Page(
            tickets=[t for t, _, _ in desk],
            events=[e for _, evs, split in desk for e in evs[:split]],
            people=people(inst),
        ),
        Page(events=[e for _, evs, split in desk for e in evs[split:]]),
    ]
    life(store, inst, pages, f"instance:{inst}")


# -- the sample generator ------------------------------------------------------------------------


def _sample_pages(tmp: Path, seed: int, tickets: int) -> list[Page]:
    from cstoolkit.builtin.local import LocalBackend
    from cstoolkit.sample import SampleSpec, generate_file
    from cstoolkit.store.kv import MemoryKeyValue

    path = tmp / f"helpdesk-{seed}.jsonl"
    generate_file(SampleSpec(tickets, 30, seed, end=T0 + timedelta(days=30)), path)
    backend = LocalBackend("s", {"path": str(path), "page_size": 37}, MemoryKeyValue("s"))
    return list(backend.pull(None))


@pytest.mark.parametrize("seed", [1])
def test_sample_helpdesk_small(store_factory: StoreFactory, tmp_path: Path, seed: int) -> None:
    store = store_factory()
    try:
        life(store, "s", _sample_pages(tmp_path, seed, 60), None)
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3])
def test_sample_helpdesk_large(store_factory: StoreFactory, tmp_path: Path, seed: int) -> None:
    store = store_factory()
    try:
        life(store, "s", _sample_pages(tmp_path, seed, 1500), None, thorough=THOROUGH)
    finally:
        store.close()


def test_self_service_under_every_by(store_factory: StoreFactory, tmp_path: Path) -> None:
    """self_service per group of every ``--by`` and per bucket of the series: the same as the
    ticket-by-ticket oracle, adding up to the period's, and a group's values the ones the
    summary gives for ``--query`` restricted to that group."""
    store = store_factory()
    try:
        pages = _sample_pages(tmp_path, 4, 60)
        for page in pages:
            store.upsert_page("s", page)
        tickets = [t for p in pages for t in p.tickets]
        answered = [
            replace(t, custom_fields={**t.custom_fields, "kb_article": "help:a"})
            for t in tickets[::2]
        ]
        store.upsert_page("s", Page(tickets=answered))
        check = Checker(None, thorough=False)
        check.turn = iter([(s, c) for s in SHAPES for c in CALENDAR_CHOICES[:1]])
        for _ in SHAPES:
            check(store)
        by_channel = build_report(store, _config("madrid"), KpiOptions(
            since=SINCE, until=UNTIL, now=NOW, by="channel"), HOST)  # fmt: skip
        (entry,) = [m for m in by_channel["metrics"] if m["name"] == "self_service"]
        assert entry["values"]["answered"] > 0
        for group in by_channel["groups"]:
            only = KpiOptions(since=SINCE, until=UNTIL, now=NOW, query=f"channel:{group['key']}")
            alone = build_report(store, _config("madrid"), only, HOST)
            (summary,) = [m for m in alone["metrics"] if m["name"] == "self_service"]
            assert group["values"]["self_service"] == summary["values"], group["key"]
    finally:
        store.close()
