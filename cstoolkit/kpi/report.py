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
* each metric's values from those numbers by :mod:`cstoolkit.kpi.values`, and the period, zone,
  calendar and buckets by :mod:`cstoolkit.kpi.periods`;
* with ``vendor_metrics``, the vendor check (:mod:`cstoolkit.kpi.vendor`): Zendesk's own ticket
  metrics paired with ours ticket by ticket, in a ``vendor`` section of its own (never mixed
  into the metrics).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cstoolkit.calendars import (
    BusinessClock,
    ZoneClock,
    load_calendars,
)
from cstoolkit.errors import ConfigError, UsageError
from cstoolkit.knowledge import gaps as kb_gaps
from cstoolkit.knowledge.gaps import GapRequest
from cstoolkit.kpi import grouped
from cstoolkit.kpi.aggregates import NONE_KEY, TIME_UNITS, Agg, ScanResult, SlaTally
from cstoolkit.kpi.columnar import ATTRIBUTE_COLUMNS, ScanSpec, aggregate
from cstoolkit.kpi.grouped import plugin_value as _plugin_value
from cstoolkit.kpi.metrics import (
    BUILTIN_METRICS,
    METRIC_DEFS,
    KpiSettings,
    MetricContext,
)
from cstoolkit.kpi.periods import (
    bucket_unit_for,
    buckets,
    check_zone,
    choose_calendar,
    iso,
    parse_when,
    period_days,
)
from cstoolkit.kpi.sla_tally import sla_setup, slow_sla
from cstoolkit.kpi.values import (
    Counts,
    Values,
    backlog_labels,
    channel_values,
    cost_values,
    csat_values,
    heat_values,
    nps_values,
    pct,
    period_counts,
    productivity,
    ticket_values,
)
from cstoolkit.store import columns, reports

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
    #: add the knowledge-gaps table (cstoolkit.knowledge.gaps; the command builds the topics)
    gaps: GapRequest | None = None
    #: the context of the query's per-ticket parts (a cstoolkit.query.Context: the ticket's
    #: facts, SLA policies, group names, roster), built by the command
    query_context: Any = None


# -- small helpers -------------------------------------------------------------------------------


# -- buckets -------------------------------------------------------------------------------------


# -- SQL aggregates ------------------------------------------------------------------------------


# -- SLA -----------------------------------------------------------------------------------------


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


def build_report(
    store: Store,
    config: Config | None,
    options: KpiOptions,
    host: Host | None = None,
) -> dict[str, Any]:
    """Compute the KPI report document (see docs/report-schema.md)."""
    from cstoolkit import model
    from cstoolkit import query as q

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
            f"empty period: --until {iso(until_dt)} is not after --since {iso(since_dt)}"
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

    # -- stored facts, SLA outcomes and columns brought up to date -----------------------------
    columns.ensure_facts(store)  # tickets written without the store's write paths
    sla_info = sla_setup(data, store, calendars) if options.sla else None
    columns.refresh(store)

    # -- clocks and buckets --------------------------------------------------------------------
    lo = psince if psince is not None else since
    first_created, last_updated = columns.span(store)
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
    if sla_info is not None:
        spec.sla_now = now.timestamp()
        spec.sla_stored = sla_info[1]
    jobs = 1  # one process: the aggregation runs in numpy over stored columns
    result: ScanResult = aggregate(store, spec)
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

    cur_vals = period_values(
        cur, counts, sla_t[0] if sla_t else None, period_days(zone, since, until)
    )
    prev_vals = (
        period_values(
            prev, pcounts, sla_t[1] if sla_t else None, period_days(zone, psince or since, since)
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
                "rows": [[t, r[0], r[1], pct(r[1], r[0])] for t, r in sorted(cur.tiers.items())],
            }
        elif mdef.name == "backlog":
            table = {
                "columns": ["age", "tickets"],
                "rows": [
                    [lab, n]
                    for lab, n in zip(
                        backlog_labels(settings.backlog_buckets), cur.backlog, strict=True
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
                    [p, m, pr, tgt, bus, r[0], r[1], pct(r[0], r[1])]
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
    plugin_list = _plugin_metrics(host)
    cur_ctx = MetricContext(
        since=since,
        until=until,
        period="current",
        results={k: v for k, v in cur_vals.items() if k[0] != "_"},
        **ctx_base,
    )
    for name, metric, plugin in plugin_list:
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
    shown = {m["name"] for m in metrics}
    per_group = [m for m in plugin_list if m[0] in shown]
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
        ordered = sorted(keys, key=lambda k: (k is None, str(k) if not group_unit else k))
        grouping = (
            grouped.time_grouping(zone, day0, group_of, created_by)
            if group_unit
            else grouped.attribute_grouping(options.by, ordered, tiers, created_by)
        )
        extra = grouped.group_values(per_group, cur_ctx, grouping, notes)
        for key in ordered:
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
                    "rate": pct(met, done),
                    "met": met,
                    "completed": done,
                    "breached": done - met,
                }
            label = _group_label(options.by, key, group_labels, agent_names, group_names)
            groups.append(
                {
                    "key": None if key is None else (group_labels[key] if group_unit else str(key)),
                    "label": label,
                    "values": {
                        **{m: gv[m] for m in GROUP_METRICS if m in gv},
                        **{m: by_key[key] for m, by_key in extra.items()},
                    },
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
            sla_series[b] = pct(met, done)
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
            **grouped.series_values(
                per_group,
                cur_ctx,
                grouped.time_grouping(zone, day0, trend_of, dict(enumerate(created_series))),
                {m["name"]: m["headline"] for m in metrics},
                notes,
            ),
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
    knowledge_gaps = None
    if options.gaps is not None:
        knowledge_gaps = kb_gaps.for_report(
            store, where, params, since=since, until=until, request=options.gaps,
            notes=notes,
        )  # fmt: skip

    report = {
        "schema_version": SCHEMA_VERSION,
        "report": "kpi",
        "generated_at": iso(now),
        "period": {
            "since": iso(since),
            "until": iso(until),
            "days": period_days(zone, since, until),
        },
        "previous_period": (
            {"since": iso(psince), "until": iso(since), "days": period_days(zone, psince, since)}
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
    if options.gaps is not None:
        report["knowledge_gaps"] = knowledge_gaps
    if vendor_doc is not None:
        report["vendor"] = vendor_doc
    cleaned: dict[str, Any] = _clean(report)
    return cleaned


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
