"""A backtest's result: the figures (matches, changes, assignments per agent, group and tier,
projected SLA outcomes) and how they are shown."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.knowledge.backtest import BacktestResult as KbResult
from cstoolkit.model import Priority, Ticket
from cstoolkit.store import backtest as reads
from cstoolkit.triage.backtest.load import Coded, Data, person, thaw
from cstoolkit.triage.backtest.views import TICKET_COLUMNS, flat

if TYPE_CHECKING:
    from cstoolkit.triage.backtest.replay import Replay
    from cstoolkit.triage.runner import Workspace


@dataclass
class BacktestResult:
    recipe: str
    start: datetime
    end: datetime
    tickets: int = 0
    rule_matches: dict[str, int] = field(default_factory=dict)
    changed_tickets: int = 0
    field_changes: dict[str, int] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)
    by_agent: list[dict[str, Any]] = field(default_factory=list)
    by_group: dict[str, int] = field(default_factory=dict)
    by_tier: dict[str, int] = field(default_factory=dict)
    not_assigned: int = 0
    sla: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: per ticket (when asked for): the rules it matched and its fields after the replay
    decisions: dict[str, dict[str, Any]] | None = None
    #: the routing model: trained, asked by the recipe, and what it changed (views.py)
    model: dict[str, Any] = field(default_factory=dict)
    #: the knowledge-base actions' tally (None: the recipe has none)
    knowledge: KbResult | None = None
    #: ``--per-ticket``: {"tickets": [...], "total": n} (views.per_ticket)
    per_ticket: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "start": self.start,
            "end": self.end,
            "tickets": self.tickets,
            "rule_matches": self.rule_matches,
            "changed_tickets": self.changed_tickets,
            "field_changes": self.field_changes,
            "counted": self.counted,
            "by_agent": self.by_agent,
            "by_group": self.by_group,
            "by_tier": self.by_tier,
            "not_assigned": self.not_assigned,
            "sla": self.sla,
            "errors": self.errors,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "model": self.model,
            "knowledge": _knowledge(self.knowledge),
            **({"per_ticket": self.per_ticket} if self.per_ticket is not None else {}),
        }


def _knowledge(kb: KbResult | None) -> dict[str, Any] | None:
    if kb is None:
        return None
    return {
        **kb.summary(),
        "suggested": kb.suggested,
        "articles": kb.articles(),
        "tickets": kb.tickets,
    }


def distribution(
    result: BacktestResult,
    replay: Replay,
    data: Data,
    initial: dict[str, Any],
    considered: Any,
) -> None:
    roster = replay.ws.roster
    cols = data.cols
    moved = (cols["group"].codes != initial["group"]) & considered
    groups: Counter[str] = Counter()
    for code, count in Counter(cols["group"].codes[moved].tolist()).items():
        gid = cols["group"].values[code]
        groups[(gid or "-").partition(":")[2] or str(gid)] += count
    result.by_group = dict(groups.most_common())
    tiers: Counter[str] = Counter()
    shifts: dict[str, list[int]] = defaultdict(list)
    for (agent_id, _start), n in replay.per_shift.items():
        shifts[agent_id].append(n)
    rows = []
    for agent_id, n in replay.picks.most_common():
        agent = roster.agent(agent_id) if roster else None
        tier = agent.tier if agent else None
        tiers[f"tier {tier}" if tier else "?"] += n
        per = shifts.get(agent_id, [])
        rows.append(
            {
                "agent": agent_id,
                "name": agent.name if agent else "",
                "tier": tier,
                "groups": list(agent.groups) if agent else [],
                "assigned": n,
                "shifts": len(per),
                "per_shift_avg": round(sum(per) / len(per), 2) if per else 0.0,
                "per_shift_max": max(per) if per else 0,
            }
        )
    result.by_agent = rows
    result.by_tier = dict(tiers.most_common())


def sla_projection(
    ws: Workspace, data: Data, initial: dict[str, Any], limit: int
) -> dict[str, Any]:
    """SLA clocks of a systematic sample of the tickets, from their real history, under the
    priority and policy they had (as stored) and under the recipe's."""
    from cstoolkit import sla

    policies = ws.policies
    if not policies:
        return {"sample": 0, "note": "no [sla.*] policies configured"}
    n = data.n
    step = max(1, -(-n // limit)) if limit else 1
    rows = list(range(0, n, step))
    store = ws._need_store()
    ids = [data.ids[i] for i in rows]
    tickets: dict[str, Ticket] = {}
    events: dict[str, list[Any]] = defaultdict(list)
    for chunk_tickets, chunk_events in reads.tickets_with_events(store, ids):
        tickets.update(chunk_tickets)
        events.update(chunk_events)
    at = data.at.max()
    when = datetime.fromtimestamp(float(at), UTC)
    when = max(when, max((t.updated_at for t in tickets.values()), default=when))
    calendars = ws.calendars
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    cols = data.cols
    for i in rows:
        t = tickets.get(data.ids[i])
        if t is None:
            continue
        rid = cols["requester"].value(i)
        requester = person(data.people.get(rid)) if rid else None
        evs = events.get(t.id, [])
        for label, variant in (("as_stored", t), ("with_recipe", _with_recipe(t, cols, i))):
            policy = sla.policy_for(variant, requester, policies, when)
            if policy is None:
                stats[label]["no_policy"] += 1
                continue
            for s in sla.evaluate(variant, evs, policy, calendars, when):
                stats[label][f"{s.metric}.total"] += 1
                if s.breached:
                    stats[label][f"{s.metric}.breached"] += 1
    out: dict[str, Any] = {"sample": len(rows), "of": n, "as_of": when, "metrics": {}}
    for metric in sla.METRICS:
        entry = {}
        for label in ("as_stored", "with_recipe"):
            total = stats[label][f"{metric}.total"]
            breached = stats[label][f"{metric}.breached"]
            entry[label] = {
                "clocks": total,
                "breached": breached,
                "breach_rate": round(breached / total, 4) if total else None,
            }
        if entry["as_stored"]["clocks"] or entry["with_recipe"]["clocks"]:
            out["metrics"][metric] = entry
    del initial
    return out


def _with_recipe(t: Ticket, cols: dict[str, Coded], i: int) -> Ticket:
    """The stored ticket with the priority and SLA policy the recipe gave it."""
    from cstoolkit.sla import SLA_POLICY_FIELD

    custom = thaw(cols["custom"].value(i))
    out = Ticket(**{f: getattr(t, f) for f in t.__dataclass_fields__})
    out.priority = Priority(cols["priority"].value(i))
    if SLA_POLICY_FIELD in custom:
        out.custom_fields = {**t.custom_fields, SLA_POLICY_FIELD: custom[SLA_POLICY_FIELD]}
    return out


# -- output ------------------------------------------------------------------------------------


def show(result: BacktestResult, fmt: str, *, say: Callable[[str], None]) -> None:
    from cstoolkit.output import render, write_json

    if fmt == "json":
        write_json(result.as_dict())
        return
    if fmt in ("ndjson", "csv"):
        if result.per_ticket is not None:
            rows = [flat(r, "; ") for r in result.per_ticket["tickets"]]
            render(rows, TICKET_COLUMNS, fmt)
        else:
            render(records(result), RECORD_COLUMNS, fmt)
        return
    say(
        f"backtest of {result.recipe}: {result.tickets} tickets created "
        f"{result.start:%Y-%m-%d %H:%M} .. {result.end:%Y-%m-%d %H:%M} UTC, replayed as they "
        f"arrived; nothing written ({result.timings.get('total', 0):.1f}s)"
    )
    render(
        [
            {"rule": k, "matches": v, "share": _pct(v, result.tickets)}
            for k, v in result.rule_matches.items()
        ],
        ["rule", "matches", "share"],
        "table",
        title="Matches per rule",
    )
    changes = [{"what": k, "tickets": v} for k, v in result.field_changes.items()]
    changes += [{"what": k, "tickets": v} for k, v in result.counted.items()]
    if changes:
        render(changes, ["what", "tickets"], "table", title="Changes")
    if result.by_agent:
        render(
            result.by_agent,
            ["agent", "name", "tier", "assigned", "shifts", "per_shift_avg", "per_shift_max"],
            "table",
            title="Assignments per agent (load per shift)",
        )
        render(
            [{"tier": k, "assigned": v} for k, v in result.by_tier.items()],
            ["tier", "assigned"],
            "table",
            title="Per tier",
        )
    if result.by_group:
        render(
            [{"group": k, "tickets": v} for k, v in result.by_group.items()],
            ["group", "tickets"],
            "table",
            title="Tickets moved to each group",
        )
    if result.not_assigned:
        say(f"{result.not_assigned} assignment attempts found nobody on shift with capacity")
    metrics = result.sla.get("metrics") or {}
    if metrics:
        rows = []
        for metric, entry in metrics.items():
            a, b = entry["as_stored"], entry["with_recipe"]
            rows.append(
                {
                    "metric": metric,
                    "clocks": a["clocks"],
                    "breached as stored": _rate(a),
                    "breached with recipe": _rate(b),
                }
            )
        render(
            rows,
            ["metric", "clocks", "breached as stored", "breached with recipe"],
            "table",
            title=f"Projected SLA outcomes (sample of {result.sla['sample']} of "
            f"{result.sla['of']} tickets)",
        )
    elif result.sla.get("note"):
        say(f"SLA projection: {result.sla['note']}")
    for err, n in result.errors.items():
        say(f"error x{n}: {err}")
    _show_knowledge(result.knowledge, say)
    _show_model(result, say)
    if result.per_ticket is not None:
        shown = result.per_ticket["tickets"]
        rows = [flat(r, "\n") for r in shown]
        columns = [c for c in TICKET_COLUMNS if any(row[c] for row in rows) or c in _ALWAYS]
        total = result.per_ticket["total"]
        more = f", the first {len(shown)} of {total}" if len(shown) < total else ""
        render(rows, columns, "table", title=f"Decisions per ticket{more}")


_ALWAYS = ("ticket", "rules", "decisions")


def _show_knowledge(kb: KbResult | None, say: Callable[[str], None]) -> None:
    """The knowledge-base actions' replay, in the words of ``cst kb backtest``."""
    from cstoolkit.output import render

    if kb is None:
        return
    s = kb.summary()
    say(
        f"knowledge base: of {s['evaluated']} tickets, {s['answered']} would have been "
        f"answered ({s['answered_pct'] or 0}%) at score >= {s['min_score']:g}, "
        f"{s['handed_off']} asked for a person, {kb.suggested} got suggestions; "
        f"{s['answered_and_solved_with_one_reply']} of the answered were solved with one agent "
        "reply"
    )
    if kb.by_article:
        render(
            kb.articles(),
            ["article", "title", "tickets", "mean_score"],
            "table",
            title="Articles that would have answered",
        )


def _show_model(result: BacktestResult, say: Callable[[str], None]) -> None:
    """One line on the routing model: absent, not asked, or what it changed."""
    m = result.model
    if not m.get("present"):
        if m.get("asked") or result.per_ticket is not None:
            say(
                "no routing model trained (models/routing.json): no predictions, the rules "
                "decide (cst model train)"
            )
        return
    if "changed_by_model" in m:
        fields = ", ".join(f"{k} {v}" for k, v in m["changed_fields"].items())
        say(
            f"the model changed the decisions of {m['changed_by_model']} of {m['compared']} "
            f"tickets against the recipe alone"
            + (f" ({fields})" if fields else "")
            + f"; route took the model's value on {m['route_by_model']} tickets and left "
            f"{m['route_left_to_rules']} to the rules (below the floor)"
        )
    elif not m.get("asked"):
        say("the recipe does not ask the routing model: its decisions are the rules' alone")


#: The columns of the backtest as records (``--format ndjson|csv``): one row per number.
RECORD_COLUMNS = ["section", "name", "metric", "value"]


def records(result: BacktestResult) -> list[dict[str, Any]]:
    """Every number of the backtest as one ``section, name, metric, value`` record."""
    out: list[dict[str, Any]] = [
        {"section": "rule", "name": k, "metric": "matches", "value": v}
        for k, v in result.rule_matches.items()
    ]
    for k, v in [*result.field_changes.items(), *result.counted.items()]:
        out.append({"section": "change", "name": k, "metric": "tickets", "value": v})
    for agent in result.by_agent:
        for metric, value in agent.items():
            if metric != "agent":
                out.append({"section": "agent", "name": agent.get("agent"), "metric": metric,
                            "value": value})  # fmt: skip
    for k, v in result.by_tier.items():
        out.append({"section": "tier", "name": k, "metric": "assigned", "value": v})
    for k, v in result.by_group.items():
        out.append({"section": "group", "name": k, "metric": "tickets", "value": v})
    for metric, entry in (result.sla.get("metrics") or {}).items():
        for case in ("as_stored", "with_recipe"):
            for key, value in entry[case].items():
                out.append({"section": "sla", "name": metric, "metric": f"{case}.{key}",
                            "value": value})  # fmt: skip
    m = result.model
    if "changed_by_model" in m:
        for key in ("compared", "changed_by_model", "route_by_model", "route_left_to_rules"):
            out.append({"section": "model", "name": key, "metric": "tickets", "value": m[key]})
        for name, n in m["changed_fields"].items():
            out.append({"section": "model", "name": name, "metric": "changed_by_model",
                        "value": n})  # fmt: skip
    kb = result.knowledge
    if kb is not None:
        for key, value in [*kb.summary().items(), ("suggested", kb.suggested)]:
            out.append({"section": "knowledge", "name": key, "metric": "value", "value": value})
        for a in kb.articles():
            for key in ("tickets", "mean_score"):
                out.append({"section": "kb_article", "name": a["article"], "metric": key,
                            "value": a[key]})  # fmt: skip
    return out


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def _rate(entry: Mapping[str, Any]) -> str:
    rate = entry.get("breach_rate")
    return "-" if rate is None else f"{100 * rate:.1f}% ({entry['breached']})"
