"""A backtest over a period decides what a sequence of ``triage run`` s at the same instants
decides: per ticket, the rules matched, the fields set and the assignee.

The helpdesk is a generated sample (seeded) rewritten so that what is stored is each ticket
as it arrived: status new, unassigned, unsolved, no field-change events, its comments kept
(so facts such as ``agent_replies`` depend on the instant). The backtest replays every ticket
``AFTER`` its arrival. The runs: for each ticket in arrival order, ``triage run`` planned at
that instant (``runner.plan_run`` with ``--query id:...``) on the store as it was then (events
up to the instant), with the assignment state the earlier runs left, as if each run had been
applied. Default: one seed, 120 tickets; ``CSTOOLKIT_TEST_PROFILE=ci``: three seeds, 400.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import PROFILE, test_seed
from cstoolkit.config import build_instance, load_config
from cstoolkit.host import Host
from cstoolkit.model import Event
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.store import open_store
from cstoolkit.sync import pull
from cstoolkit.triage import backtest, engine, runner
from cstoolkit.triage.assign import AssignState
from cstoolkit.triage.runner import Workspace
from tests.sample_workspace import CONFIG

from .conftest import RECIPES

END = datetime(2026, 3, 2, tzinfo=UTC)
AFTER = timedelta(hours=2)
SIZE = 400 if PROFILE == "ci" else 120
SEEDS = [test_seed() + k for k in range(3 if PROFILE == "ci" else 1)]
_CHANGES = {"status_change", "assignment", "priority_change", "group_change", "tags_change"}

RECIPE = """\
name: equivalence
calendar: madrid
rules:
  - name: spam
    when: {subject: {matches: "\\\\b(casino|lottery|bitcoin)\\\\b"}}
    then: [{add_tags: [spam]}]
    stop: true
  - name: enterprise
    when: {all: [{requester.plan: enterprise}, {priority: {lt: high}}]}
    then: [{set: {priority: high}}, {add_tags: [vip_seen]}]
  - name: billing words
    when: {subject: {contains_any: [factura, refund, fatura, reembolso, invoice, charged]}}
    then: [{set: {group: billing}}, {add_tags: [topic_billing]}]
  - name: answered early
    when: {agent_replies: {ge: 1}}
    then: [{add_tags: [answered]}]
  - name: billing es
    when: {all: [{group.name: billing}, {not: {language: en}}]}
    then: [{set: {custom.routed: true}}]
  - name: product
    when: {custom.product: {in: [api, "mobile app"]}}
    then: [{add_tags: [product]}, {apply_sla: standard}]
  - name: out of hours
    when: {business_hours_since_created: {lt: 1.5}, hours_since_created: {ge: 1}}
    then: [{add_tags: [ooh]}]
  - name: domain chat
    when: {requester.domain: {matches: "\\\\.example$"}, channel: {in: [chat, whatsapp]}}
    then: [{note: "chat {{ ticket.id }}"}]
  - name: billing desk
    when: {group.name: billing, assignee: null}
    then: [{assign: {strategy: STRATEGY, group: billing}}]
  - name: tidy
    when: {any: [{tags: answered}, {tags: product}]}
    then: [{remove_tags: [product]}, {add_tags: [seen]}]
"""


def _as_arrived(source: Path, target: Path) -> None:
    """The sample rewritten so that each ticket is stored as it arrived (unique instants)."""
    seen: set[str] = set()
    lines = []
    for line in source.read_text("utf-8").splitlines():
        item = json.loads(line)
        if item.get("type") == "ticket":
            created = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))
            while created.isoformat() in seen:  # one ticket per instant: no ties in order
                created += timedelta(seconds=1)
            seen.add(created.isoformat())
            stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
            item.update(
                status="new", assignee=None, solved_at=None, created_at=stamp, updated_at=stamp
            )
            events = [e for e in item.get("events", []) if e.get("kind") not in _CHANGES]
            if events and events[0].get("kind") == "created":
                events[0]["at"] = stamp
            item["events"] = events
        lines.append(json.dumps(item, ensure_ascii=False))
    target.write_text("\n".join(lines) + "\n", "utf-8")


@pytest.fixture(params=SEEDS, ids=lambda s: f"seed{s}")
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    base = tmp_path / "ws"
    base.mkdir()
    (base / "cstoolkit.toml").write_text(CONFIG)
    shutil.copy(RECIPES / "roster.example.yaml", base / "roster.yaml")
    spec = SampleSpec(tickets=SIZE, days=10, seed=request.param, end=END)
    generate_file(spec, tmp_path / "sample.jsonl")
    _as_arrived(tmp_path / "sample.jsonl", base / "helpdesk.jsonl")
    config = load_config(base / "cstoolkit.toml")
    store = open_store(config.store_path)
    pull(store, build_instance(config, Host().load(), "backends", "demo", store))
    yield Workspace(config, Host().load(), store), base
    store.close()


def _runs(ws: Workspace, path: Path, order: Sequence[str], at: Sequence[float]) -> dict[str, Any]:
    """``triage run`` (planned) for each ticket at its instant, in order; each run sees the
    store's events up to its instant and the assignment state the earlier runs left."""
    store = ws._need_store()
    state = AssignState()
    out: dict[str, Any] = {}
    real_context = ws.context

    for tid, when in zip(order, at, strict=True):
        now = datetime.fromtimestamp(when, UTC)

        def events(ticket_id: str, now: datetime = now) -> list[Event]:
            return [e for e in store.events(ticket_id) if e.at <= now]

        def context(recipes: Any, at: datetime | None = None, now: datetime = now) -> Any:
            ctx = real_context(recipes, at)
            # the store as it was then: facts from the events up to the instant, not the
            # stored facts (which summarize every event)
            ctx.events, ctx.state, ctx.facts = events, state, None
            return ctx

        ws.context = context  # type: ignore[method-assign]
        try:
            plan = runner.plan_run(ws, [str(path)], query_text=f'id:"{tid}"', at=now)
        finally:
            ws.context = real_context  # type: ignore[method-assign]
        assert plan.evaluated == 1, tid
        (tp,) = plan.tickets or [None]
        out[tid] = _decision(tp)
    return out


def _decision(tp: engine.TicketPlan | None) -> dict[str, Any] | None:
    if tp is None:
        return None  # no rule matched
    assert not tp.errors, tp.errors
    after = tp.after
    return {
        "rules": [m.split("/", 1)[1] for m in tp.matched],
        "status": after["status"],
        "priority": after["priority"],
        "group": after["group_id"],
        "assignee": after["assignee_id"],
        "tags": sorted(after["tags"]),
        "custom": after["custom_fields"],
    }


@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded"])
def test_backtest_decides_what_runs_at_the_same_instants_decide(desk: Any, strategy: str) -> None:
    ws, base = desk
    path = base / "equivalence.yaml"
    path.write_text(RECIPE.replace("STRATEGY", strategy))
    result = backtest.run(
        ws, str(path), since="12d", end=END, after=AFTER, keep_decisions=True, sla_sample=0
    )
    decided = result.decisions
    assert decided is not None and result.tickets == len(decided) > SIZE // 2
    order = list(decided)
    store = ws._need_store()
    at = []
    for tid in order:
        ticket = store.get_ticket(tid)
        assert ticket is not None
        at.append((ticket.created_at + AFTER).timestamp())
    runs = _runs(ws, path, order, at)
    for tid in order:
        mine = decided[tid]
        theirs = runs[tid]
        if theirs is None:
            assert mine["rules"] == [], tid
            continue
        assert mine == theirs, tid
    # the recipe exercises what it should: facts cut at the instant, assignment, business time
    matched = result.rule_matches
    assert matched["billing desk"] and matched["answered early"] and matched["out of hours"]
    assert matched["answered early"] < result.tickets
    assert any(d["assignee"] for d in decided.values())
