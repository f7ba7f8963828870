"""The values of each metric in a KPI report, from the scan's aggregates and the SQL counts:
plain functions of numbers, one per metric family (docs/metrics.md)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cstoolkit.kpi.aggregates import Agg
from cstoolkit.kpi.metrics import (
    DURATION_METRICS,
    Dist,
    KpiSettings,
)

Values = dict[str, float | None]


def pct(num: float, den: float) -> float | None:
    return 100.0 * num / den if den else None


@dataclass
class Counts:
    """Plain counts of one period from SQL (created tickets, surveys, agent activity)."""

    created: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    created_by_group: Counter[Any] = field(default_factory=Counter)
    created_by_day: Counter[int] = field(default_factory=Counter)
    heat: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])
    surveys: dict[str, Counter[int]] = field(default_factory=dict)
    surveys_by_group: dict[Any, dict[str, Counter[int]]] = field(default_factory=dict)
    surveys_by_day: dict[int, dict[str, Counter[int]]] = field(default_factory=dict)
    agents: dict[str, list[int]] = field(default_factory=dict)  # agent -> [replies, days, actions]


def period_counts(agg: Agg, group_aggs: Mapping[Any, Agg]) -> Counts:
    """The plain counts of one period, from the scan's aggregates: creation (by channel, group,
    local day and hour), survey answers (by kind, score, group and local day of the answer) and
    agents' activity."""
    out = Counts()
    out.created = agg.created
    out.by_channel = Counter(agg.by_channel)
    out.created_by_day = Counter(agg.created_by_day)
    out.heat = [agg.heat[w * 24 : (w + 1) * 24] for w in range(7)]
    out.created_by_group = Counter({k: a.created for k, a in group_aggs.items()})
    days: Counter[str] = Counter(agent for agent, _day in agg.agent_days)
    for agent in set(days) | set(agg.replies_by):
        out.agents[agent] = [agg.replies_by.get(agent, 0), days.get(agent, 0), 0]
    out.surveys = {kind: Counter(scores) for kind, scores in agg.surveys.items()}
    out.surveys_by_day = {
        day: {kind: Counter(scores) for kind, scores in kinds.items()}
        for day, kinds in agg.surveys_by_day.items()
    }
    out.surveys_by_group = {
        k: {kind: Counter(scores) for kind, scores in a.surveys.items()}
        for k, a in group_aggs.items()
        if a.surveys
    }
    return out


def duration_values(cal: Dist, bus: Dist) -> Values:
    c, b = cal.summary(), bus.summary()
    return {
        "count": c["count"],
        "calendar.mean": c["mean"],
        "calendar.median": c["median"],
        "calendar.p90": c["p90"],
        "business.mean": b["mean"],
        "business.median": b["median"],
        "business.p90": b["p90"],
    }


def csat_values(scores: Counter[int], settings: KpiSettings) -> Values:
    valid = {s: n for s, n in scores.items() if 1 <= s <= 5}
    total = sum(valid.values())
    good = sum(n for s, n in valid.items() if s >= settings.csat_good_min)
    out: Values = {"csat_pct": pct(good, total), "good": good, "responses": total}
    for s in range(1, 6):
        out[f"score_{s}"] = valid.get(s, 0)
    return out


def nps_values(scores: Counter[int], settings: KpiSettings) -> Values:
    valid = {s: n for s, n in scores.items() if 0 <= s <= 10}
    total = sum(valid.values())
    prom = sum(n for s, n in valid.items() if s >= settings.nps_promoter_min)
    det = sum(n for s, n in valid.items() if s <= settings.nps_detractor_max)
    pp, dp = pct(prom, total), pct(det, total)
    return {
        "nps": None if pp is None or dp is None else pp - dp,
        "promoters_pct": pp,
        "passives_pct": pct(total - prom - det, total),
        "detractors_pct": dp,
        "responses": total,
    }


def ces_values(scores: Counter[int], settings: KpiSettings) -> Values:
    valid = {s: n for s, n in scores.items() if 1 <= s <= 7}
    total = sum(valid.values())
    agree = sum(n for s, n in valid.items() if s >= settings.ces_agree_min)
    return {
        "average": sum(s * n for s, n in valid.items()) / total if total else None,
        "agree_pct": pct(agree, total),
        "responses": total,
    }


def backlog_labels(edges: Sequence[float]) -> list[str]:
    def short(s: float) -> str:
        return f"{s / 86400:g}d" if s % 86400 == 0 else f"{s / 3600:g}h"

    labels = [f"<{short(edges[0])}"]
    labels += [f"{short(a)}-{short(b)}" for a, b in itertools.pairwise(edges)]
    labels.append(f">={short(edges[-1])}")
    return labels


def backlog_values(agg: Agg, edges: Sequence[float]) -> Values:
    out: Values = {"count": sum(agg.backlog)}
    for status, n in zip(("new", "open", "pending", "on_hold"), agg.backlog_statuses, strict=True):
        out[f"status.{status}"] = n
    for label, n in zip(backlog_labels(edges), agg.backlog, strict=True):
        out[f"age.{label}"] = n
    return out


def escalation_values(agg: Agg) -> Values:
    tickets = sum(r[0] for r in agg.tiers.values())
    escalated = sum(r[1] for r in agg.tiers.values())
    out: Values = {"rate": pct(escalated, tickets), "tickets": tickets, "escalated": escalated}
    for tier in sorted(agg.tiers):
        n, esc = agg.tiers[tier]
        out[f"tier{tier}.rate"] = pct(esc, n)
        out[f"tier{tier}.tickets"] = n
        out[f"tier{tier}.escalated"] = esc
    return out


def ticket_values(
    agg: Agg,
    created: int,
    surveys: Mapping[str, Counter[int]],
    settings: KpiSettings,
    with_backlog: bool = True,
) -> dict[str, Values]:
    """The per-ticket metrics of one aggregate (a period, or a group of it)."""
    out: dict[str, Values] = {
        "tickets_created": {"count": created},
        "tickets_solved": {"count": agg.solved},
    }
    for name in DURATION_METRICS:
        out[name] = duration_values(agg.dist(name, False), agg.dist(name, True))
    out["first_reply_time"]["no_reply"] = agg.no_reply
    fr_c, fr_b = agg.dist("first_reply_time", False), agg.dist("first_reply_time", True)
    nr_c, nr_b = agg.dist("next_reply_time", False), agg.dist("next_reply_time", True)
    both_c, both_b = Dist(), Dist()
    for d_all, d_part in ((both_c, fr_c), (both_c, nr_c), (both_b, fr_b), (both_b, nr_b)):
        d_all.merge(d_part)
    out["reply_time"] = duration_values(both_c, both_b)
    out["one_touch_rate"] = {
        "rate": pct(agg.one_touch, agg.solved),
        "one_touch": agg.one_touch,
        "solved": agg.solved,
    }
    out["reopen_rate"] = {
        "rate": pct(agg.reopened, agg.solved),
        "reopened": agg.reopened,
        "reopens": agg.reopens,
        "solved": agg.solved,
    }
    if with_backlog:
        out["backlog"] = backlog_values(agg, settings.backlog_buckets)
    out["csat"] = csat_values(surveys.get("csat", Counter()), settings)
    out["nps"] = nps_values(surveys.get("nps", Counter()), settings)
    out["ces"] = ces_values(surveys.get("ces", Counter()), settings)
    out["escalation_rate"] = escalation_values(agg)
    return out


def productivity(
    counts: Counts, agg: Agg, names: Mapping[str, str]
) -> tuple[Values, list[list[Any]]]:
    agents = sorted(set(counts.agents) | set(agg.solves_by))
    rows: list[list[Any]] = []
    total_days = total_solved = total_replies = 0
    for agent in agents:
        replies, days, _actions = counts.agents.get(agent, [0, 0, 0])
        solved = agg.solves_by.get(agent, 0)
        days = max(days, 1 if solved else 0)
        total_days += days
        total_solved += solved
        total_replies += replies
        rows.append(
            [
                agent,
                names.get(agent, ""),
                solved,
                replies,
                days,
                solved / days if days else None,
                replies / days if days else None,
            ]
        )
    rows.sort(key=lambda r: (-float(r[2] or 0), str(r[0])))
    values: Values = {
        "agents": len(agents),
        "agent_days": total_days,
        "solved": total_solved,
        "replies": total_replies,
        "solved_per_agent_day": total_solved / total_days if total_days else None,
        "replies_per_agent_day": total_replies / total_days if total_days else None,
    }
    return values, rows


def cost_values(settings: KpiSettings, days: float, agent_days: int, solved: int) -> Values:
    costs = settings.costs
    if costs.agent_hour is not None:
        hours = agent_days * costs.hours_per_agent_day
        cost = hours * costs.agent_hour
    elif costs.monthly_team is not None:
        hours = None
        cost = costs.monthly_team * days / (365.25 / 12)
    else:
        return {"cost_per_ticket": None, "cost": None, "solved": solved, "agent_hours": None}
    return {
        "cost_per_ticket": cost / solved if solved else None,
        "cost": cost,
        "solved": solved,
        "agent_hours": hours,
    }


def channel_values(counts: Counts) -> tuple[Values, list[list[Any]], str | None]:
    total = counts.created
    rows = sorted(counts.by_channel.items(), key=lambda kv: (-kv[1], kv[0]))
    values: Values = {"count": total}
    for ch, n in rows:
        values[f"channel.{ch}"] = n
    main = rows[0][0] if rows else None
    values["main_share_pct"] = pct(rows[0][1], total) if rows else None
    return values, [[ch, n, pct(n, total)] for ch, n in rows], main


def heat_values(heat: list[list[int]]) -> Values:
    total = sum(map(sum, heat))
    if not total:
        return {"count": 0, "peak_weekday": None, "peak_hour": None, "peak_count": None}
    wd, hour = max(((w, h) for w in range(7) for h in range(24)), key=lambda p: heat[p[0]][p[1]])
    return {"count": total, "peak_weekday": wd, "peak_hour": hour, "peak_count": heat[wd][hour]}
