"""The column-wise backtest gives the same answers as the ticket-by-ticket engine."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cstoolkit import query
from cstoolkit.config import load_config
from cstoolkit.host import Host
from cstoolkit.store import open_store
from cstoolkit.triage import backtest, engine
from cstoolkit.triage.runner import Workspace as Ws

from .conftest import RECIPES, Workspace

END = datetime(2026, 3, 2, tzinfo=UTC)

MIXED = """\
name: mixed
calendar: madrid
rules:
  - name: spam
    when: {subject: {matches: "\\\\b(casino|lottery)\\\\b"}}
    then: [{add_tags: [spam]}]
    stop: true
  - name: enterprise
    when: {all: [{requester.plan: enterprise}, {priority: {lt: high}}]}
    then: [{set: {priority: high}}, {add_tags: [vip_seen]}]
  - name: high sees it
    when: {priority: high, tags: {not_in: [quiet]}}
    then: [{add_tags: [fast]}]
  - name: billing words
    when: {subject: {contains_any: [factura, refund, fatura, reembolso]}}
    then: [{set: {group: billing}}]
  - name: billing group
    when: {all: [{group.name: billing}, {not: {language: en}}]}
    then: [{set: {custom.routed: true}}]
  - name: product
    when: {custom.product: {in: [api, "mobile app"]}}
    then: [{add_tags: [product]}]
  - name: fresh out of hours
    when: {business_hours_since_created: {lt: 0.01}, hours_since_created: {le: 1}}
    then: [{add_tags: [ooh]}]
  - name: domain
    when: {requester.domain: {matches: "\\\\.example$"}, channel: {in: [chat, whatsapp]}}
    then: [{apply_sla: standard}, {note: "x"}]
  - name: tags after earlier rules
    when: {any: [{tags: fast}, {tags: product}]}
    then: [{remove_tags: [product]}, {add_tags: [seen]}]
"""


@pytest.fixture
def ws(workspace: Workspace) -> Any:
    config = load_config(workspace.config)
    store = open_store(config.store_path)
    yield Ws(config, Host().load(), store), workspace
    store.close()


def _per_ticket(w: Ws, recipe_path: Path) -> tuple[Counter[str], Counter[str], dict[str, Any]]:
    """The same replay done ticket by ticket with the planner (no assignment actions)."""
    (recipe,) = w.load([recipe_path])
    start = END - timedelta(days=60)
    data = backtest.load(w, recipe, start, END, timedelta(0))
    replay = backtest.Replay(w, recipe, data)
    matches: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    finals = {}
    for i in range(data.n):
        t, r = replay.ticket(i)
        ctx = engine.Context(
            now=t.created_at, calendars=w.calendars, policies=w.policies, roster=w.roster
        )
        tp = engine.Planner([recipe], ctx).plan_ticket(t, r)
        for m in tp.matched:
            matches[m.split("/", 1)[1]] += 1
        for name in tp.field_changes():
            key = "custom" if name.startswith("custom.") else name
            key = key if key != "assignee" else "assignee"
            changes[key] += 0
        before, after = tp.before, tp.after
        for key, col in (
            ("status", "status"),
            ("priority", "priority"),
            ("group_id", "group"),
            ("assignee_id", "assignee"),
        ):
            if before[key] != after[key]:
                changes[col] += 1
        if before["tags"] != after["tags"]:
            changes["tags"] += 1
        if before["custom_fields"] != after["custom_fields"]:
            changes["custom"] += 1
        finals[t.id] = after
    return matches, changes, finals


def test_columnar_equals_ticket_by_ticket(ws: Any) -> None:
    w, workspace = ws
    path = workspace.dir / "mixed.yaml"
    path.write_text(MIXED)
    result = backtest.run(w, str(path), since="60d", end=END)
    matches, changes, _ = _per_ticket(w, path)
    assert result.tickets == 400
    assert result.rule_matches == {r: matches.get(r, 0) for r in result.rule_matches}
    assert sum(result.rule_matches.values()) > 400  # the recipe does match things
    assert result.field_changes == {k: v for k, v in changes.items() if v}
    assert result.counted == {"notes": result.rule_matches["domain"]}


def test_fast_assign_equals_generic_assign(ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    w, _workspace = ws
    for recipe in ("round-robin-group.yaml", "capacity-shifts.yaml"):
        fast = backtest.run(w, str(RECIPES / recipe), since="60d", end=END).as_dict()
        monkeypatch.setattr(backtest.Desk, "handles", lambda self, call: False)
        slow = backtest.run(w, str(RECIPES / recipe), since="60d", end=END).as_dict()
        monkeypatch.undo()
        for d in (fast, slow):
            d.pop("timings")
        assert fast == slow
        assert fast["by_agent"], recipe


def test_columns_agree_with_the_per_ticket_evaluator(ws: Any) -> None:
    """The columns the backtest hands the evaluator's columnar mode give the answers the
    per-ticket evaluator gives on each replayed ticket (the backtest has no evaluator of its
    own: this checks the columns, built from the registry's getters)."""
    w, workspace = ws
    path = workspace.dir / "mixed.yaml"
    path.write_text(MIXED)
    (recipe,) = w.load([path])
    data = backtest.load(w, recipe, END - timedelta(days=60), END, timedelta(hours=3))
    replay = backtest.Replay(w, recipe, data)
    columns = backtest.Columns(data, replay.planner.sources_for(recipe), replay.subject)
    conds = [
        ("subject", "contains", "refund"),
        ("subject", "contains_any", ["fact", "ERR"]),
        ("subject", "matches", r"\b(casino|500)\b"),
        ("subject", "is_not", "OK"),
        ("requester.plan", "in", ["paid", "free"]),
        ("requester.domain", "matches", r"\.example$"),
        ("tags", "in", ["b", "vip"]),
        ("tags", "exists", False),
        ("custom.product", "is", "api"),
        ("group.name", "is", "billing"),
        ("priority", "lt", "high"),
        ("created_at", "gt", END - timedelta(days=20)),
        ("hours_since_created", "between", [2.5, 3.5]),
        ("business_hours_since_created", "gt", 1),
        ("business_days_since_created", "ge", 1),
        ("solved_at", "exists", True),
    ]
    rows = [replay.subject(i) for i in range(data.n)]
    for name, op, value in conds:
        c = query.cond(name, op, value)
        assert columns.column(name) is not None, name
        got = columns.mask(c).tolist()
        assert got == [query.evaluate(c, s) for s in rows], (name, op, value)


def test_since_and_until() -> None:
    assert backtest.parse_since("30d") == timedelta(days=30)
    assert backtest.parse_since("2w") == timedelta(days=14)
    assert backtest.parse_until("2026-03-02") == END
    from cstoolkit.errors import UsageError

    with pytest.raises(UsageError):
        backtest.parse_since("soon")


def test_query_on_text_reads_the_text(ws: Any) -> None:
    """``--query`` on a text field the recipe does not test reads the tickets' text (it used to
    be tested against an empty subject: nothing matched)."""
    w, workspace = ws
    path = workspace.dir / "all.yaml"
    path.write_text("name: all\nrules:\n  - name: every\n    then: [{add_tags: [x]}]\n")
    result = backtest.run(w, str(path), since="60d", end=END, query_text="subject:refund")
    store = w._need_store()
    start = END - timedelta(days=60)
    expected = sum(
        1
        for t, _r in store.select(None)
        if start <= t.created_at < END and "refund" in t.subject.lower()
    )
    assert expected > 0
    assert result.rule_matches == {"every": expected}
