"""``cst triage backtest``: replay a recipe over stored history, writing nothing.

Every ticket created in the period is taken **as it arrived** (status new, unassigned; priority,
group and tags as before their first change event; custom fields and requester as stored) and
run through the recipe at its creation time plus ``after`` (default 0: as a trigger would), in
order of arrival, with what ``triage run`` would have seen then: facts from its events up to
that instant. Assignment strategies run against a simulated desk: the roster's shifts and
capacities at that moment, loads made of the tickets the recipe assigned earlier in the replay
(each released when the ticket was historically solved), round-robin state starting empty.

It decides with the code ``triage run`` decides with: conditions by the one evaluator
(:mod:`cstoolkit.query`) in its columnar mode, business time by the calendar module's array
form, picks by the strategies of :mod:`cstoolkit.triage.assign`, other actions through the
engine. The rooms: :mod:`.load` (the period's tickets as columns, from the store),
:mod:`.conditions` (the columns the evaluator reads), :mod:`.replay` (rules and actions),
:mod:`.desk` (shifts and loads), :mod:`.result` (figures and output).

The result: matches per rule, fields changed, the distribution of the resulting assignments per
agent, group and tier, the load per agent per shift (assignments per shift worked, peak open
load), and projected SLA outcomes: the SLA clocks of a sample of the tickets, computed by the
one SLA engine from their real history, under the priority and policy they had and under the
ones the recipe would have given them.

When two rules both pick agents, each is replayed in its own pass over time, so their picks do
not interleave exactly as a live run's would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cstoolkit import model, query, timespec
from cstoolkit.errors import UsageError
from cstoolkit.triage.backtest import views
from cstoolkit.triage.backtest.conditions import Columns
from cstoolkit.triage.backtest.desk import Desk
from cstoolkit.triage.backtest.load import Data, asks_the_model, load
from cstoolkit.triage.backtest.replay import Replay
from cstoolkit.triage.backtest.result import (
    RECORD_COLUMNS,
    BacktestResult,
    distribution,
    records,
    show,
    sla_projection,
)

if TYPE_CHECKING:
    from cstoolkit.triage.recipe import Recipe
    from cstoolkit.triage.runner import Workspace


def parse_since(text: str, *, until: datetime | None = None) -> timedelta:
    """``--since``: how far back from ``until`` (default: now) the replay starts, given as an
    age (``30d``, ``12w``, ``48h``) or a start time (``2026-01-01``, UTC); docs/time.md."""
    end = until or model.now()
    with timespec.option("--since"):
        span = end - timespec.parse_time(text, now=end, base=end)
    if span <= timedelta(0):
        raise UsageError(f"--since: {text!r} is not before the end of the period ({end:%Y-%m-%d})")
    return span


def parse_until(text: str) -> datetime:
    """``--until``: the end of the replay, a time spec (a date is its midnight UTC)."""
    with timespec.option("--until"):
        return timespec.parse_time(text, now=model.now())


def parse_after(text: str) -> timedelta:
    """``--after``: how long after its arrival each ticket is evaluated (``4h``, ``2d``, 0)."""
    with timespec.option("--after"):
        return timespec.parse_timedelta(text)


def run(
    ws: Workspace,
    recipe_path: str,
    *,
    since: str = "30d",
    query_text: str | None = None,
    after: timedelta = timedelta(0),
    sla_sample: int = 2000,
    end: datetime | None = None,
    keep_decisions: bool = False,
    per_ticket: int | None = None,
) -> BacktestResult:
    """Replay ``recipe_path`` over the tickets created in the last ``since`` (with
    ``keep_decisions``, the result keeps each ticket's matched rules and final fields; with
    ``per_ticket``, the view of each ticket's decisions beside the model's prediction, at most
    that many tickets, 0 for all)."""
    try:
        import numpy  # noqa: F401
    except ImportError:  # pragma: no cover - numpy is a dependency of the backtest
        raise UsageError("cst triage backtest needs numpy (pip install numpy)") from None
    import gc

    collecting = gc.isenabled()
    gc.disable()  # millions of small objects, no cycles: the collector would only slow it down
    try:
        return _run(
            ws, recipe_path, since, query_text, after, sla_sample, end, keep_decisions, per_ticket
        )
    finally:
        if collecting:
            gc.enable()


@dataclass
class Pass:
    """One replay of the recipe over the period's tickets."""

    replay: Replay
    considered: Any  # the rows the recipe's query (and --query) select
    changed: Any
    matched: list[Any]  # per rule: its rows


def _pass(
    ws: Workspace, recipe: Recipe, data: Data, selection: Any, *, with_model: bool = True
) -> Pass:
    import numpy as np

    replay = Replay(ws, recipe, data, with_model=with_model)
    ev = Columns(data, replay.planner.sources_for(recipe), replay.subject)
    active = np.ones(data.n, dtype=bool)
    if selection is not None:
        active &= ev.mask(selection)
    if recipe.query is not None:
        active &= ev.mask(recipe.query)
    considered = active.copy()
    changed = np.zeros(data.n, dtype=bool)
    matched: list[Any] = []
    for rule in recipe.rules:
        m = active & ev.mask(rule.when)
        matched.append(m)
        for call in rule.then:
            replay.apply(rule, call, m, changed)
        if rule.stop:
            active &= ~m
    return Pass(replay, considered, changed, matched)


def _run(
    ws: Workspace,
    recipe_path: str,
    since: str,
    query_text: str | None,
    after: timedelta,
    sla_sample: int,
    end: datetime | None,
    keep_decisions: bool,
    per_ticket: int | None,
) -> BacktestResult:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    (recipe,) = ws.load([recipe_path])
    stop = end or model.now()
    start = stop - parse_since(since, until=stop)
    result = BacktestResult(recipe.name, start, stop)
    selection = ws.check_query(query.parse(query_text), [recipe]) if query_text else None
    used = query.fields_used(selection) if selection else ()
    data = load(ws, recipe, start, stop, after, used, predictions=per_ticket is not None)
    timings["load"] = time.perf_counter() - t0
    result.tickets = data.n
    result.rule_matches = {r.name: 0 for r in recipe.rules}
    result.model = views.model_state(ws, recipe, data)
    if data.n == 0:
        result.timings = timings
        return result
    t1 = time.perf_counter()
    initial = {k: c.codes.copy() for k, c in data.cols.items()}
    alone: dict[str, Any] | None = None
    if data.model and asks_the_model(recipe, used):
        # the recipe alone first (no model: the rules decide), then with the model
        _pass(ws, recipe, data, selection, with_model=False)
        alone = {k: data.cols[k].codes.copy() for k in views.FIELDS}
        for k, col in data.cols.items():
            col.codes = initial[k].copy()
    done = _pass(ws, recipe, data, selection)
    replay = done.replay
    for rule, m in zip(recipe.rules, done.matched, strict=True):
        result.rule_matches[rule.name] = int(m.sum())
    timings["rules"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    if keep_decisions:
        result.decisions = decisions(recipe.rules, data, done.matched)
    for name in views.FIELDS:
        col = data.cols[name]
        diff = int((col.codes != initial[name]).sum())
        if diff:
            result.field_changes[name] = diff
    result.changed_tickets = int(done.changed.sum())
    result.counted = dict(replay.counted)
    result.errors = dict(replay.errors)
    result.not_assigned = replay.not_assigned
    result.knowledge = replay.kb.result
    distribution(result, replay, data, initial, done.considered)
    if alone is not None:
        result.model.update(views.model_changes(replay, data, alone, done.considered))
    if per_ticket is not None:
        result.per_ticket = views.per_ticket(
            recipe.rules, done, data, initial, alone, limit=per_ticket
        )
    timings["figures"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    result.sla = sla_projection(ws, data, initial, sla_sample)
    timings["sla"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    result.timings = timings
    return result


def decisions(rules: Any, data: Data, matched: list[Any]) -> dict[str, dict[str, Any]]:
    """Each ticket's matched rules and fields after the replay, by ticket id."""
    from cstoolkit.triage.backtest.load import thaw

    cols = data.cols
    out: dict[str, dict[str, Any]] = {}
    for i, tid in enumerate(data.ids):
        entry: dict[str, Any] = {
            "rules": [r.name for r, m in zip(rules, matched, strict=True) if m[i]]
        }
        for name in views.FIELDS:
            value = cols[name].value(i)
            entry[name] = (
                thaw(value) if name == "custom" else sorted(value) if name == "tags" else value
            )
        out[tid] = entry
    return out


__all__ = [
    "RECORD_COLUMNS",
    "BacktestResult",
    "Columns",
    "Data",
    "Desk",
    "Replay",
    "load",
    "parse_after",
    "parse_since",
    "parse_until",
    "records",
    "run",
    "show",
]
