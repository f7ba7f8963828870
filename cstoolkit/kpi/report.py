"""``cst report kpi``: periods, filters, grouping, deltas and the report document.

:func:`build_report` returns a plain dict: the JSON document described by ``schema.json`` in this
package and docs/report-schema.md (``schema_version`` 1). Every renderer (table, csv, md, json,
html; plugins add more through ``register_exporters``) draws from that one document, so all
formats show the same numbers.

Where numbers come from:

* the per-ticket facts (reply, resolution and wait times, one-touch, reopens, backlog, tiers,
  solves) from the single event pass of :mod:`cstoolkit.kpi.scan`;
* plain counts from SQL aggregates: tickets created (by channel, group, local day and hour),
  survey answers, agents' replies and working days;
* SLA compliance from the one SLA engine, :mod:`cstoolkit.sla`;
* plugin metrics from their own ``compute``;
* with ``vendor_metrics``, the vendor check (:mod:`cstoolkit.kpi.vendor`): Zendesk's own ticket
  metrics paired with ours ticket by ticket, in a ``vendor`` section of its own (never mixed
  into the metrics).
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cstoolkit.calendars import (
    ALWAYS,
    EPOCH_ORDINAL,
    BusinessClock,
    Calendar,
    ZoneClock,
    load_calendars,
)
from cstoolkit.errors import ConfigError, UsageError
from cstoolkit.kpi.metrics import (
    BUILTIN_METRICS,
    DURATION_METRICS,
    METRIC_DEFS,
    Dist,
    KpiSettings,
    MetricContext,
)
from cstoolkit.kpi.scan import (
    ATTRIBUTE_COLUMNS,
    NONE_KEY,
    TIME_UNITS,
    Agg,
    ScanResult,
    ScanSpec,
    SlaTally,
)
from cstoolkit.store import reports

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.host import Host
    from cstoolkit.store import Store

SCHEMA_VERSION = 1
BY_CHOICES = (*ATTRIBUTE_COLUMNS, *TIME_UNITS)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Histogram bucket edges (seconds) for the time distributions.
HISTOGRAM_EDGES: tuple[float, ...] = (
    300,
    900,
    1800,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    86400,
    2 * 86400,
    3 * 86400,
    7 * 86400,
    14 * 86400,
)
HISTOGRAM_METRICS = (
    "first_reply_time",
    "next_reply_time",
    "first_resolution_time",
    "full_resolution_time",
)
#: Metrics shown per group with ``--by``.
GROUP_METRICS = (
    "tickets_created",
    "tickets_solved",
    "first_reply_time",
    "next_reply_time",
    "first_resolution_time",
    "full_resolution_time",
    "requester_wait_time",
    "agent_work_time",
    "reply_time",
    "one_touch_rate",
    "reopen_rate",
    "backlog",
    "csat",
    "nps",
    "ces",
    "escalation_rate",
    "sla_compliance",
)


@dataclass
class KpiOptions:
    """What ``cst report kpi`` was asked for (command-line options)."""

    since: str | datetime | None = None
    until: str | datetime | None = None
    query: str | None = None
    by: str | None = None
    timezone: str | None = None
    calendar: str | None = None
    compare: str | None = None  # None or "previous"
    jobs: int | None = None
    now: datetime | None = None
    sla: bool = True
    vendor_metrics: bool = False  # add the vendor check (Zendesk ticket metrics beside ours)
    vendor_tolerance: float = 60.0  # seconds within which two durations agree
    #: the context of the query's per-ticket parts (a cstoolkit.query.Context: the ticket's
    #: facts, SLA policies, group names, roster), built by the command
    query_context: Any = None


# -- small helpers -------------------------------------------------------------------------------


def parse_when(
    value: str | datetime,
    zone: str,
    now: datetime,
    base: datetime | None,
    *,
    what: str | None = None,
) -> datetime:
    """A period bound (docs/time.md): a datetime, a date (local midnight in ``zone``), an ISO
    time (without a zone: in ``zone``), ``now``, ``today``, ``yesterday``, or an age (``30d``,
    ``12h``, ``90m``) back from ``base`` (the end of the period) or now. Errors name ``what``,
    by default ``--since`` when counting back from a base, else ``--until``."""
    from cstoolkit import timespec

    with timespec.option(what or ("--since" if base is not None else "--until")):
        return timespec.parse_time(value, now=now, zone=zone, base=base)


def _iso(t: float | datetime) -> str:
    dt = t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _pct(num: float, den: float) -> float | None:
    return 100.0 * num / den if den else None


def check_zone(name: str, where: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r} ({where})") from None
    return name


def choose_calendar(
    calendars: Mapping[str, Calendar], wanted: str | None, settings: KpiSettings
) -> Calendar:
    """``--calendar``, else ``[kpi] calendar``, else the only configured one, else 24x7."""
    import difflib

    name = wanted or settings.calendar
    if name is None:
        own = [c for n, c in calendars.items() if n != "24x7"]
        return own[0] if len(own) == 1 else ALWAYS
    if name not in calendars:
        close = difflib.get_close_matches(name, list(calendars), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown calendar {name!r}{hint}; configured: {', '.join(sorted(calendars))}",
            field="kpi.calendar" if not wanted else None,
        )
    return calendars[name]


# -- buckets -------------------------------------------------------------------------------------


def bucket_unit_for(days: float) -> str:
    """The trend's bucket: days up to ~3 months, weeks up to 2 years, then months."""
    if days <= 92:
        return "day"
    if days <= 731:
        return "week"
    return "month"


def _bucket_start(day: int, unit: str) -> date:
    d = date.fromordinal(day + EPOCH_ORDINAL)
    if unit == "week":
        return d - timedelta(days=d.weekday())
    if unit == "month":
        return d.replace(day=1)
    return d


def buckets(first_day: int, last_day: int, unit: str) -> tuple[list[str], list[int]]:
    """Bucket labels (ISO start dates) and, per local day from ``first_day``, its bucket index."""
    labels: list[str] = []
    index: list[int] = []
    for day in range(first_day, last_day + 1):
        label = _bucket_start(day, unit).isoformat()
        if not labels or labels[-1] != label:
            labels.append(label)
        index.append(len(labels) - 1)
    return labels, index


# -- SQL aggregates ------------------------------------------------------------------------------


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


# -- values of each metric -----------------------------------------------------------------------

Values = dict[str, float | None]


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
    out: Values = {"csat_pct": _pct(good, total), "good": good, "responses": total}
    for s in range(1, 6):
        out[f"score_{s}"] = valid.get(s, 0)
    return out


def nps_values(scores: Counter[int], settings: KpiSettings) -> Values:
    valid = {s: n for s, n in scores.items() if 0 <= s <= 10}
    total = sum(valid.values())
    prom = sum(n for s, n in valid.items() if s >= settings.nps_promoter_min)
    det = sum(n for s, n in valid.items() if s <= settings.nps_detractor_max)
    pp, dp = _pct(prom, total), _pct(det, total)
    return {
        "nps": None if pp is None or dp is None else pp - dp,
        "promoters_pct": pp,
        "passives_pct": _pct(total - prom - det, total),
        "detractors_pct": dp,
        "responses": total,
    }


def ces_values(scores: Counter[int], settings: KpiSettings) -> Values:
    valid = {s: n for s, n in scores.items() if 1 <= s <= 7}
    total = sum(valid.values())
    agree = sum(n for s, n in valid.items() if s >= settings.ces_agree_min)
    return {
        "average": sum(s * n for s, n in valid.items()) / total if total else None,
        "agree_pct": _pct(agree, total),
        "responses": total,
    }


def _backlog_labels(edges: Sequence[float]) -> list[str]:
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
    for label, n in zip(_backlog_labels(edges), agg.backlog, strict=True):
        out[f"age.{label}"] = n
    return out


def escalation_values(agg: Agg) -> Values:
    tickets = sum(r[0] for r in agg.tiers.values())
    escalated = sum(r[1] for r in agg.tiers.values())
    out: Values = {"rate": _pct(escalated, tickets), "tickets": tickets, "escalated": escalated}
    for tier in sorted(agg.tiers):
        n, esc = agg.tiers[tier]
        out[f"tier{tier}.rate"] = _pct(esc, n)
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
        "rate": _pct(agg.one_touch, agg.solved),
        "one_touch": agg.one_touch,
        "solved": agg.solved,
    }
    out["reopen_rate"] = {
        "rate": _pct(agg.reopened, agg.solved),
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
    values["main_share_pct"] = _pct(rows[0][1], total) if rows else None
    return values, [[ch, n, _pct(n, total)] for ch, n in rows], main


def heat_values(heat: list[list[int]]) -> Values:
    total = sum(map(sum, heat))
    if not total:
        return {"count": 0, "peak_weekday": None, "peak_hour": None, "peak_count": None}
    wd, hour = max(((w, h) for w in range(7) for h in range(24)), key=lambda p: heat[p[0]][p[1]])
    return {"count": total, "peak_weekday": wd, "peak_hour": hour, "peak_count": heat[wd][hour]}


# -- SLA -----------------------------------------------------------------------------------------


def sla_setup(
    data: Mapping[str, Any], store: Store, calendars: Mapping[str, Calendar]
) -> tuple[list[Any], bool] | None:
    """The SLA policies and whether their outcomes are stored with the facts (then they are
    brought up to date here: :func:`cstoolkit.sla_facts.ensure`), or None without policies."""
    from cstoolkit import sla, sla_facts

    policies = sla.load_policies(data)
    if not policies:
        return None
    if sla_facts.fingerprint(policies, calendars) is None:
        return policies, False
    sla_facts.ensure(store, policies, calendars)
    return policies, True


def slow_sla(
    store: Store,
    spec: ScanSpec,
    policies: list[Any],
    calendars: Mapping[str, Calendar],
    now: datetime,
) -> list[SlaTally]:
    """SLA tallies when the outcomes cannot be stored (a policy's ``when`` depends on the time
    or cannot be tested in SQL): each ticket's policy is chosen with
    :func:`cstoolkit.sla.policy_for` as of ``now`` and its clocks evaluated from its facts."""
    from cstoolkit import sla
    from cstoolkit.kpi.sla_tally import SlaTallier

    tallier = SlaTallier(spec)
    lo = spec.previous_since if spec.previous_since is not None else spec.since
    column = {
        "agent": "assignee_id",
        "tier": "assignee_id",
        "group": "group_id",
        "channel": "channel",
        "priority": "priority",
        "instance": "instance",
    }
    for ticket, requester, facts in reports.tickets_with_facts(
        store, spec.where, spec.params, since=lo, until=spec.until
    ):
        policy = sla.policy_for(ticket, requester, policies, now)
        if policy is None:
            continue
        gkey: Any = None
        if spec.by in column:
            value = getattr(ticket, column[spec.by])
            gkey = str(value) if value is not None else None
            if spec.by == "tier":
                gkey = spec.tiers.get(gkey) if gkey is not None else None
            gkey = NONE_KEY if gkey is None else gkey
        states = sla.evaluate_facts(facts, ticket.priority.value, policy, calendars, now)
        tallier.states(states, ticket.priority.value, gkey)
    return tallier.tallies


# -- the report ----------------------------------------------------------------------------------


def _names(store: Store) -> tuple[dict[str, str], dict[str, str], dict[str, int]]:
    agents: dict[str, str] = {}
    tiers: dict[str, int] = {}
    for pid, name, tier in store.agent_tiers():
        agents[pid] = name
        if isinstance(tier, int) and not isinstance(tier, bool):
            tiers[pid] = tier
        elif isinstance(tier, str) and tier.isdigit():
            tiers[pid] = int(tier)
    return agents, store.group_names(), tiers


def _entry(
    name: str,
    values: Values,
    previous: Values | None,
    *,
    label: str | None = None,
    unit: str | None = None,
    description: str | None = None,
    headline: str | None = None,
    source: str = "builtin",
    table: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    d = METRIC_DEFS.get(name)
    delta = None
    if previous is not None:
        delta = {
            k: (v - p)
            if isinstance(v, int | float) and isinstance(p := previous.get(k), int | float)
            else None
            for k, v in values.items()
        }
    head = headline or (d.headline if d else next(iter(values), "value"))
    return {
        "name": name,
        "label": label or (d.label if d else name),
        "unit": unit or (d.unit if d else "number"),
        "description": description or (d.description if d else ""),
        "source": source,
        "headline": head,
        "higher_is_better": d.higher_is_better if d else None,
        "values": values,
        "previous": previous,
        "delta": delta,
        "labels": labels or {},
        "table": table,
    }


def _clean(value: Any) -> Any:
    """JSON-safe numbers: floats rounded to 6 decimals, NaN/inf as null."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        r = round(value, 6)
        return int(r) if r.is_integer() and abs(r) < 2**53 else r
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _plugin_value(result: Any) -> Values | None:
    if result is None:
        return None
    if isinstance(result, bool):
        return {"value": float(result)}
    if isinstance(result, int | float):
        return {"value": float(result)}
    if isinstance(result, Mapping):
        return {
            str(k): (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None)
            for k, v in result.items()
        }
    raise TypeError(f"a metric returned {type(result).__name__}, not a number or a mapping")


def build_report(
    store: Store,
    config: Config | None,
    options: KpiOptions,
    host: Host | None = None,
) -> dict[str, Any]:
    """Compute the KPI report document (see docs/report-schema.md)."""
    from cstoolkit import model
    from cstoolkit import query as q
    from cstoolkit.kpi.scan import default_jobs, run_scan

    started = time.perf_counter()
    data: Mapping[str, Any] = config.data if config is not None else {}
    settings = KpiSettings.from_config(data)
    calendars = load_calendars(data.get("calendars"))
    calendar = choose_calendar(calendars, options.calendar, settings)
    business = not calendar.is_24x7
    tz = options.timezone or settings.timezone or (calendar.timezone if business else "UTC")
    check_zone(tz, "--tz" if options.timezone else "kpi.timezone")
    if options.by is not None and options.by not in BY_CHOICES:
        raise UsageError(f"--by must be one of {', '.join(BY_CHOICES)}, not {options.by!r}")
    if options.compare not in (None, "previous"):
        raise UsageError(f"--compare takes 'previous', not {options.compare!r}")
    if options.vendor_tolerance < 0:
        raise UsageError("--vendor-tolerance must not be negative")
    now = options.now or model.now()

    # -- period --------------------------------------------------------------------------------
    until_dt = parse_when(options.until or "today", tz, now, None)
    since_dt = parse_when(options.since or f"{settings.period_days}d", tz, now, until_dt)
    if until_dt <= since_dt:
        raise UsageError(
            f"empty period: --until {_iso(until_dt)} is not after --since {_iso(since_dt)}"
        )
    since, until = since_dt.timestamp(), until_dt.timestamp()
    length = until - since
    psince = None
    if options.compare == "previous":
        local_a, local_b = since_dt.astimezone(ZoneInfo(tz)), until_dt.astimezone(ZoneInfo(tz))
        midnight = datetime.min.time()
        if local_a.time() == midnight and local_b.time() == midnight:
            ndays = (local_b.date() - local_a.date()).days
            psince = parse_when(f"{ndays}d", tz, now, since_dt).timestamp()
        else:
            psince = since - length

    # -- filter --------------------------------------------------------------------------------
    where, params = "t.deleted = 0", []
    python_filter = None
    if options.query:
        node = q.parse(options.query)
        compiled = q.to_sql(node, now=until_dt, dialect=store.dialect)
        if compiled is None:
            context = options.query_context or q.Context(where="report kpi --query")
            python_filter = q.Selection(node, context)
        else:
            where = f"t.deleted = 0 AND ({compiled[0]})"
            params = list(compiled[1])
    if python_filter is not None:
        matched = (t.id for t, _ in store.select(python_filter, at=until_dt))
        where, params = reports.id_filter(store, matched)

    # -- clocks and buckets --------------------------------------------------------------------
    lo = psince if psince is not None else since
    first_created, last_updated = reports.time_span(store)
    data_lo = first_created if first_created is not None else lo
    data_hi = last_updated if last_updated is not None else until
    clock_start = min(lo, data_lo) - 86400
    clock_end = max(until, data_hi, now.timestamp()) + 86400
    zone = ZoneClock(tz, lo - 86400, until + 86400)
    day0, day_last = zone.day(since), zone.day(until - 1)
    unit = bucket_unit_for(length / 86400)
    trend_labels, trend_of = buckets(day0, day_last, unit)
    group_unit = options.by if options.by in TIME_UNITS else None
    group_labels, group_of = buckets(day0, day_last, group_unit) if group_unit else ([], [])

    agent_names, group_names, tiers = _names(store)
    tiers.update(settings.agent_tiers)

    # -- the event pass and the SQL counts -----------------------------------------------------
    spec = ScanSpec(
        db_path=getattr(store, "path", ""),
        since=since,
        until=until,
        previous_since=psince,
        calendar=calendar,
        timezone=tz,
        clock_start=clock_start,
        clock_end=clock_end,
        where=where,
        params=params,
        by=options.by,
        tiers=tiers,
        backlog_edges=settings.backlog_buckets,
        day0=day0,
        trend_buckets=trend_of,
        group_buckets=group_of,
        record_tickets=options.vendor_metrics,
    )
    from cstoolkit.store import facts as stored_facts

    stored_facts.ensure(store)  # tickets written without the store's write paths
    sla_info = sla_setup(data, store, calendars) if options.sla else None
    if sla_info is not None:
        spec.sla_now = now.timestamp()
        spec.sla_stored = sla_info[1]
    n_tickets = reports.ticket_count(store)
    jobs = options.jobs or settings.jobs or default_jobs(n_tickets)
    if python_filter is not None or getattr(store, "path", ":memory:") == ":memory:":
        jobs = 1
    result: ScanResult = run_scan(spec, jobs, store if jobs == 1 else None)
    group_aggs: dict[Any, Agg] = {
        (None if k == NONE_KEY else k): a
        for (p, k), a in result.aggs.items()
        if p == 0 and k is not None
    }
    counts = period_counts(result.agg(0), group_aggs)
    pcounts = period_counts(result.agg(1), {}) if psince is not None else None
    if sla_info is not None and not sla_info[1]:
        result.sla = slow_sla(store, spec, sla_info[0], calendars, now)
    sla_t = result.sla
    cur, prev = result.agg(0), (result.agg(1) if psince is not None else None)

    # -- per-period values ---------------------------------------------------------------------
    def period_values(agg: Agg, c: Counts, tally: SlaTally | None, days: float) -> dict[str, Any]:
        vals: dict[str, Any] = ticket_values(agg, c.created, c.surveys, settings)
        vals["sla_compliance"] = (
            tally.values()
            if tally is not None
            else {"rate": None, "met": 0, "completed": 0, "breached": 0}
        )
        chan, chan_rows, main = channel_values(c)
        vals["volume_by_channel"] = chan
        prod, prod_rows = productivity(c, agg, agent_names)
        vals["agent_productivity"] = prod
        vals["cost_per_ticket"] = cost_values(
            settings, days, int(prod["agent_days"] or 0), agg.solved
        )
        vals["arrivals_heatmap"] = heat_values(c.heat)
        vals["_tables"] = {"channel": (chan_rows, main), "agents": prod_rows}
        return vals

    cur_vals = period_values(cur, counts, sla_t[0] if sla_t else None, _days(zone, since, until))
    prev_vals = (
        period_values(
            prev, pcounts, sla_t[1] if sla_t else None, _days(zone, psince or since, since)
        )
        if prev is not None and pcounts is not None
        else None
    )

    # -- metric entries ------------------------------------------------------------------------
    metrics: list[dict[str, Any]] = []
    registered = _registered_metrics(host)
    for mdef in BUILTIN_METRICS:
        if registered is not None and mdef.name not in registered:
            continue  # disabled (CSTOOLKIT_DISABLE_PLUGINS=kpi) or shadowed
        values = cur_vals[mdef.name]
        previous = prev_vals[mdef.name] if prev_vals is not None else None
        headline = mdef.headline
        if mdef.unit == "seconds" and not business:
            headline = headline.replace("business.", "calendar.")
        if mdef.name == "ces" and settings.ces_headline == "agree_pct":
            headline = "agree_pct"
        table = labels = None
        if mdef.name == "volume_by_channel":
            rows, main = cur_vals["_tables"]["channel"]
            table = {"columns": ["channel", "tickets", "share_pct"], "rows": rows}
            labels = {"main_channel": main} if main else {}
        elif mdef.name == "agent_productivity":
            table = {
                "columns": [
                    "agent",
                    "name",
                    "solved",
                    "replies",
                    "working_days",
                    "solved_per_day",
                    "replies_per_day",
                ],
                "rows": cur_vals["_tables"]["agents"],
            }
        elif mdef.name == "escalation_rate":
            table = {
                "columns": ["tier", "tickets", "escalated", "rate_pct"],
                "rows": [[t, r[0], r[1], _pct(r[1], r[0])] for t, r in sorted(cur.tiers.items())],
            }
        elif mdef.name == "backlog":
            table = {
                "columns": ["age", "tickets"],
                "rows": [
                    [lab, n]
                    for lab, n in zip(
                        _backlog_labels(settings.backlog_buckets), cur.backlog, strict=True
                    )
                ],
            }
        elif mdef.name == "sla_compliance" and sla_t:
            rank = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
            table = {
                "columns": [
                    "policy",
                    "metric",
                    "priority",
                    "target_seconds",
                    "business",
                    "met",
                    "completed",
                    "compliance_pct",
                ],
                "rows": [
                    [p, m, pr, tgt, bus, r[0], r[1], _pct(r[0], r[1])]
                    for (p, m, pr, tgt, bus), r in sorted(
                        sla_t[0].rows.items(),
                        key=lambda kv: (kv[0][0], kv[0][1], rank.get(kv[0][2], 9)),
                    )
                ],
            }
        elif mdef.name == "cost_per_ticket" and settings.costs.configured:
            labels = {"currency": settings.costs.currency}
        elif mdef.name == "arrivals_heatmap":
            table = {
                "columns": ["weekday", *[str(h) for h in range(24)]],
                "rows": [[WEEKDAYS[w], *counts.heat[w]] for w in range(7)],
            }
        metrics.append(
            _entry(mdef.name, values, previous, headline=headline, table=table, labels=labels)
        )
    notes: list[str] = []
    if sla_t is None:
        notes.append(
            "SLA compliance: no [sla.*] policies configured"
            if options.sla
            else "SLA compliance: not computed (--no-sla)"
        )
    if not settings.costs.configured:
        notes.append("cost per ticket: no [costs] configured")
    if not business:
        if options.calendar or settings.calendar:
            notes.append(
                f"business hours: calendar {calendar.name!r} is open around the clock, so "
                "business time equals calendar time"
            )
        else:
            notes.append(
                "business hours: no calendar chosen, so business time equals calendar time"
            )
    vendor_doc: dict[str, Any] | None = None
    if options.vendor_metrics:
        from cstoolkit.kpi.vendor import vendor_check

        vendor_doc = vendor_check(
            store,
            result.records or {},
            where,
            params,
            since,
            until,
            calendar=calendar.name,
            business=business,
            tolerance=options.vendor_tolerance,
        )
        if not vendor_doc["tickets_with_metric_set"]:
            notes.append(
                "vendor check: no ticket of the period has Zendesk ticket metrics (a metric_set "
                "in its raw payload); every value of ours is counted as ours only"
            )
        if business:
            notes.append(
                "vendor check: Zendesk's business minutes follow the Zendesk account's schedule, "
                f"ours the calendar {calendar.name!r}; they agree only where the two match"
            )
        else:
            notes.append(
                "vendor check: business minutes not compared (no business calendar chosen)"
            )

    # plugin metrics
    ctx_base: dict[str, Any] = {
        "store": store,
        "timezone": tz,
        "calendar": calendar,
        "clock": BusinessClock(calendar, clock_start, clock_end),
        "where": where,
        "params": params,
        "config": data,
    }
    for name, metric, plugin in _plugin_metrics(host):
        try:
            ctx = MetricContext(
                since=since,
                until=until,
                period="current",
                results={k: v for k, v in cur_vals.items() if k[0] != "_"},
                **ctx_base,
            )
            values = _plugin_value(metric.compute(ctx)) or {"value": None}
            previous = None
            if psince is not None and prev_vals is not None:
                pctx = MetricContext(
                    since=psince,
                    until=since,
                    period="previous",
                    results={k: v for k, v in prev_vals.items() if k[0] != "_"},
                    **ctx_base,
                )
                previous = _plugin_value(metric.compute(pctx)) or {"value": None}
        except Exception as exc:  # a plugin's bug must not sink the report
            notes.append(f"metric {name!r} (plugin {plugin}) failed: {type(exc).__name__}: {exc}")
            continue
        metrics.append(
            _entry(
                name,
                values,
                previous,
                label=getattr(metric, "label", None) or name,
                unit=str(getattr(metric, "unit", "number")),
                description=str(getattr(metric, "description", "")),
                headline=getattr(metric, "headline", None),
                source=plugin,
            )
        )

    # -- groups --------------------------------------------------------------------------------
    groups: list[dict[str, Any]] = []
    if options.by is not None:
        keys: set[Any] = set(group_aggs)
        if group_unit:
            keys = set(range(len(group_labels)))
            created_by: Counter[Any] = Counter()
            surveys_by: dict[Any, dict[str, Counter[int]]] = {}
            for day, n in counts.created_by_day.items():
                i = day - day0
                if 0 <= i < len(group_of):
                    created_by[group_of[i]] += n
            for day, kinds in counts.surveys_by_day.items():
                i = day - day0
                if 0 <= i < len(group_of):
                    for kind, sc in kinds.items():
                        surveys_by.setdefault(group_of[i], {}).setdefault(kind, Counter()).update(
                            sc
                        )
        else:
            created_by = counts.created_by_group
            surveys_by = counts.surveys_by_group
            keys |= set(created_by) | set(surveys_by)
        for key in sorted(keys, key=lambda k: (k is None, str(k) if not group_unit else k)):
            agg = group_aggs.get(key) or Agg(len(settings.backlog_buckets))
            gv = ticket_values(
                agg,
                created_by.get(key, 0),
                surveys_by.get(key, {}),
                settings,
                with_backlog=not group_unit,
            )
            if sla_t:
                gk = NONE_KEY if key is None and not group_unit else key
                met, done = sla_t[0].by_group.get(gk, [0, 0])
                gv["sla_compliance"] = {
                    "rate": _pct(met, done),
                    "met": met,
                    "completed": done,
                    "breached": done - met,
                }
            label = _group_label(options.by, key, group_labels, agent_names, group_names)
            groups.append(
                {
                    "key": None if key is None else (group_labels[key] if group_unit else str(key)),
                    "label": label,
                    "values": {m: gv[m] for m in GROUP_METRICS if m in gv},
                }
            )

    # -- series, histograms, heatmap, staffing -------------------------------------------------
    n_b = len(trend_labels)
    created_series = [0] * n_b
    for day, n in counts.created_by_day.items():
        i = day - day0
        if 0 <= i < len(trend_of):
            created_series[trend_of[i]] += n
    csat_series: list[float | None] = []
    nps_series: list[float | None] = []
    by_bucket: dict[int, dict[str, Counter[int]]] = {}
    for day, kinds in counts.surveys_by_day.items():
        i = day - day0
        if 0 <= i < len(trend_of):
            for kind, sc in kinds.items():
                by_bucket.setdefault(trend_of[i], {}).setdefault(kind, Counter()).update(sc)
    for b in range(n_b):
        kinds = by_bucket.get(b, {})
        csat_series.append(csat_values(kinds.get("csat", Counter()), settings)["csat_pct"])
        nps_series.append(nps_values(kinds.get("nps", Counter()), settings)["nps"])
    sla_series: list[float | None] = [None] * n_b
    if sla_t:
        for b, (met, done) in sla_t[0].by_bucket.items():
            sla_series[b] = _pct(met, done)
    frt_series = [d.median() for d in result.trend_frt] if result.trend_frt else [None] * n_b
    series = {
        "unit": unit,
        "buckets": trend_labels,
        "values": {
            "tickets_created": created_series,
            "tickets_solved": list(result.trend_solved) or [0] * n_b,
            "first_reply_time": frt_series,
            "csat": csat_series,
            "nps": nps_series,
            "sla_compliance": sla_series,
        },
    }
    histograms = {}
    for name in HISTOGRAM_METRICS:
        histograms[name] = {
            "edges": list(HISTOGRAM_EDGES),
            "calendar": cur.dist(name, False).histogram(HISTOGRAM_EDGES),
            "business": cur.dist(name, True).histogram(HISTOGRAM_EDGES),
        }
    staffing = _staffing_curve(data, counts, zone, day0, day_last, notes)

    report = {
        "schema_version": SCHEMA_VERSION,
        "report": "kpi",
        "generated_at": _iso(now),
        "period": {"since": _iso(since), "until": _iso(until), "days": _days(zone, since, until)},
        "previous_period": (
            {"since": _iso(psince), "until": _iso(since), "days": _days(zone, psince, since)}
            if psince is not None
            else None
        ),
        "timezone": tz,
        "calendar": {
            "name": calendar.name,
            "timezone": calendar.timezone,
            "business_hours": business,
        },
        "query": options.query,
        "by": options.by,
        "scanned": {
            "tickets": result.tickets,
            "events": result.events,
            "seconds": time.perf_counter() - started,
            "jobs": jobs,
        },
        "metrics": metrics,
        "groups": groups,
        "series": series,
        "histograms": histograms,
        "heatmap": {"weekdays": list(WEEKDAYS), "hours": list(range(24)), "counts": counts.heat},
        "staffing": staffing,
        "notes": notes,
    }
    if vendor_doc is not None:
        report["vendor"] = vendor_doc
    cleaned: dict[str, Any] = _clean(report)
    return cleaned


def _days(zone: ZoneClock, since: float, until: float) -> float:
    """Whole local days when both bounds are local midnights, else elapsed seconds / 86400."""
    a, b = zone.local(since), zone.local(until)
    if a % 86400 == 0 and b % 86400 == 0:
        return (b - a) / 86400
    return (until - since) / 86400


def _group_label(
    by: str | None,
    key: Any,
    time_labels: Sequence[str],
    agents: Mapping[str, str],
    groups: Mapping[str, str],
) -> str:
    if key is None:
        return "(none)"
    if by in TIME_UNITS:
        return time_labels[key]
    if by == "agent":
        return agents.get(key) or str(key)
    if by == "group":
        return groups.get(key) or str(key)
    if by == "tier":
        return f"tier {key}"
    return str(key)


def _staffing_curve(
    data: Mapping[str, Any],
    counts: Counts,
    zone: ZoneClock,
    first: int,
    last: int,
    notes: list[str],
) -> dict[str, Any] | None:
    """Agents needed per weekday and hour for the period's arrivals (the HTML staffing curve)."""
    from cstoolkit.kpi.staffing import StaffingSettings, staffing_plan

    try:
        st = StaffingSettings.from_config(data)
    except ConfigError as exc:
        notes.append(f"staffing curve: {exc}")
        return None
    if st.aht_seconds is None:
        aht, source = 300.0, "default"
    else:
        aht, source = st.aht_seconds, "configured"
    hourly = StaffingSettings(
        st.service_level, st.answer_seconds, st.max_occupancy, st.shrinkage, 3600.0, aht
    )
    weekday_days = [0] * 7
    for d in range(first, last + 1):
        weekday_days[(d + 3) % 7] += 1
    grid = {(w, h): counts.heat[w][h] for w in range(7) for h in range(24)}
    rows = staffing_plan(grid, weekday_days, hourly, aht)
    return {
        "interval_seconds": 3600,
        "aht_seconds": aht,
        "aht_source": source,
        "service_level": st.service_level,
        "answer_seconds": st.answer_seconds,
        "max_occupancy": st.max_occupancy,
        "shrinkage": st.shrinkage,
        "weekdays": list(WEEKDAYS),
        "agents": [[r["agents"] for r in rows[w * 24 : (w + 1) * 24]] for w in range(7)],
        "scheduled": [[r["scheduled"] for r in rows[w * 24 : (w + 1) * 24]] for w in range(7)],
    }


def _registered_metrics(host: Host | None) -> set[str] | None:
    if host is None:
        return None
    return {r.name for r in host.registrations() if r.kind == "metric" and r.enabled}


def _plugin_metrics(host: Host | None) -> list[tuple[str, Any, str]]:
    if host is None:
        return []
    from cstoolkit.kpi.metrics import BuiltinMetric

    out = []
    for reg in host.registrations():
        if reg.kind != "metric" or not reg.enabled or isinstance(reg.obj, BuiltinMetric):
            continue
        out.append((reg.name, reg.obj, reg.plugin))
    return sorted(out, key=lambda x: x[0])
