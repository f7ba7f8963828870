"""``cst report``: KPI reports and Erlang C staffing."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import click

from cstoolkit.cli import base
from cstoolkit.cli.app import App, format_options, pass_app
from cstoolkit.knowledge import TOPIC_SOURCES

BY_CHOICES = ("agent", "group", "channel", "priority", "tier", "instance", "day", "week", "month")
_EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".csv": "csv",
    ".md": "md",
    ".txt": "table",
}


@click.group(cls=base.Group)
def report() -> None:
    """KPI reports (`report kpi`) and staffing with Erlang C (`report staffing`)."""


def _write(app: App, out_path: Path | None, writer: Any) -> None:
    """Run ``writer(stream)`` to stdout, or to ``out_path`` atomically (temp file + rename)."""
    if out_path is None:
        writer(sys.stdout)
        return
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            writer(fh)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    app.say(f"wrote {out_path}")


def _common(fn: Any) -> Any:
    for opt in reversed(
        [
            click.option(
                "--since",
                help="Start: 2026-01-01 (local midnight), an ISO time, or an "
                "age back from --until (30d). Default: [kpi] period_days (30) back.",
            ),
            click.option(
                "--until",
                help="End, exclusive: a date, ISO time, 'today' (default: "
                "the start of today in the report's time zone) or 'now'.",
            ),
            click.option(
                "--query",
                "-q",
                help="Only tickets matching this condition "
                "(docs/query.md), e.g. 'channel:email priority>=high'.",
            ),
            click.option(
                "--tz",
                "tz",
                help="Time zone for days, weeks and hours "
                "(default: [kpi] timezone, the calendar's, else UTC).",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


@report.command("kpi")
@_common
@click.option("--by", type=click.Choice(BY_CHOICES), help="Break the metrics down by this.")
@click.option(
    "--calendar",
    help="Business-hours calendar ([calendars.NAME]; default [kpi] "
    "calendar, the only one configured, else 24x7).",
)
@click.option(
    "--compare",
    type=click.Choice(["previous"]),
    help="Show deltas against the previous period of the same length.",
)
@click.option(
    "--format",
    "fmt",
    default=None,
    help="table (default), json, ndjson, csv, md, html, or "
    "a plugin's format (docs/output.md). With --out, guessed from the file's extension.",
)
@click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Accepted for existing scripts; no effect (the report runs in one process over "
    "stored columns).",
)
@click.option("--no-sla", "no_sla", is_flag=True, help="Skip SLA compliance.")
@click.option(
    "--vendor-metrics",
    "vendor_metrics",
    is_flag=True,
    help="Also show the vendor check: Zendesk's own ticket metrics beside ours, ticket by "
    "ticket (docs/metrics.md, 'Vendor check').",
)
@click.option(
    "--vendor-tolerance",
    "vendor_tolerance",
    default=None,
    help="With --vendor-metrics: durations this close agree (default 1m; 90s, 5m).",
)
@click.option(
    "--gaps",
    "with_gaps",
    is_flag=True,
    help="Add the knowledge-gaps table: topics with many tickets of the period and no article "
    "above the floor (docs/knowledge.md).",
)
@click.option(
    "--topics",
    type=click.Choice(TOPIC_SOURCES),
    default=None,
    help="With --gaps: topics from tags, the routing model's predicted tags (model), or tags "
    "and the model's for tickets without tags (auto, the default).",
)
@pass_app
def kpi(
    app: App,
    since: str | None,
    until: str | None,
    query: str | None,
    tz: str | None,
    by: str | None,
    calendar: str | None,
    compare: str | None,
    fmt: str | None,
    as_json: bool,
    out_path: Path | None,
    jobs: int | None,
    no_sla: bool,
    vendor_metrics: bool,
    vendor_tolerance: str | None,
    with_gaps: bool,
    topics: str | None,
) -> None:
    """The KPI report: reply, resolution and wait times, one-touch and reopen rates, backlog,
    SLA compliance, CSAT/NPS/CES, volume, productivity, escalations, cost and arrivals.

    Every metric is defined in docs/metrics.md; the JSON document in docs/report-schema.md.
    """
    from cstoolkit.errors import UsageError
    from cstoolkit.kpi.report import KpiOptions, build_report

    tolerance = 60.0
    if vendor_tolerance is not None:
        if not vendor_metrics:
            raise UsageError("--vendor-tolerance goes with --vendor-metrics")
        from cstoolkit import timespec

        with timespec.option("--vendor-tolerance"):
            tolerance = timespec.parse_duration(vendor_tolerance)
    fmt = "json" if as_json else fmt
    if fmt is None:
        fmt = _EXTENSIONS.get(out_path.suffix.lower(), "table") if out_path else "table"
    exporter = app.host.get("exporter", fmt)
    if not callable(getattr(exporter, "write", None)):
        raise UsageError(f"format {fmt!r} has no write(report, out) method")
    from cstoolkit.cli.querying import selection

    gaps = None
    if topics is not None and not with_gaps:
        raise UsageError("--topics goes with --gaps")
    if with_gaps:
        from cstoolkit.routing.topics import gap_topics

        gaps = gap_topics(topics or "auto", app.config.base_dir / "models")
    chosen = selection(app, query, "report kpi --query")
    options = KpiOptions(
        since=since,
        until=until,
        query=query,
        query_context=chosen.context if chosen is not None else None,
        by=by,
        timezone=tz,
        calendar=calendar,
        compare=compare,
        jobs=jobs,
        sla=not no_sla,
        vendor_metrics=vendor_metrics,
        vendor_tolerance=tolerance,
        gaps=gaps,
    )
    from cstoolkit.cli import progress

    store = app.store
    with progress.task("KPI report", quiet=app.quiet):
        doc = build_report(store, app.config, options, app.host)
    _write(app, out_path, lambda out: exporter.write(doc, out))


@report.command("staffing")
@_common
@click.option(
    "--target",
    default=None,
    help="Service level as PERCENT/SECONDS (default: [staffing] target, else 80/20).",
)
@click.option("--max-occupancy", type=float, default=None, help="Cap on occupancy (default 0.85).")
@click.option(
    "--shrinkage",
    type=float,
    default=None,
    help="Share of paid time not on contacts (default 0.3).",
)
@click.option("--interval", default=None, help="Interval length: 15m, 30m (default), 1h.")
@click.option(
    "--aht",
    default=None,
    help="Average handle time (180s, 6m). Default: [staffing] "
    "aht, the measured handle_time_field, else 5m.",
)
@click.option(
    "--arrivals", type=float, default=None, help="What-if without a store: contacts per interval."
)
@click.option(
    "--agents",
    type=click.IntRange(min=0),
    default=None,
    help="With --arrivals: what N agents give (service level, ASA, occupancy).",
)
@format_options()
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def staffing(
    app: App,
    since: str | None,
    until: str | None,
    query: str | None,
    tz: str | None,
    target: str | None,
    max_occupancy: float | None,
    shrinkage: float | None,
    interval: str | None,
    aht: str | None,
    arrivals: float | None,
    agents: int | None,
    fmt: str,
    as_json: bool,
    out_path: Path | None,
) -> None:
    """Agents needed per interval and weekday (Erlang C), or a what-if from explicit inputs.

    \b
    From the store's arrivals:  cst report staffing --since 28d --target 80/20
    What-if, no store needed:   cst report staffing --arrivals 100 --interval 30m --aht 180s
    """
    from dataclasses import replace

    from cstoolkit import timespec
    from cstoolkit.errors import ConfigError, UsageError
    from cstoolkit.kpi import staffing as st

    fmt = "json" if as_json else fmt
    settings = st.StaffingSettings.from_config(app.config.data)
    try:
        if target is not None:
            sl, answer = st.parse_target(target)
            settings = replace(settings, service_level=sl, answer_seconds=answer)
        if max_occupancy is not None:
            settings = replace(settings, max_occupancy=max_occupancy)
        if shrinkage is not None:
            settings = replace(settings, shrinkage=shrinkage)
    except ConfigError as exc:
        raise UsageError(exc.bare_message) from None
    if interval is not None:
        with timespec.option("--interval"):
            seconds = timespec.parse_duration(interval, unit="m")
        settings = replace(settings, interval_seconds=seconds)
    aht_s = None
    if aht is not None:
        with timespec.option("--aht"):
            aht_s = timespec.parse_duration(aht)
    if settings.interval_seconds <= 0:
        raise UsageError("--interval must be positive")
    if arrivals is not None:
        handle = aht_s if aht_s is not None else settings.aht_seconds
        if handle is None:
            raise UsageError("--arrivals needs --aht (or [staffing] aht in the config)")
        doc = st.what_if(
            arrivals,
            settings.interval_seconds,
            handle,
            settings.service_level,
            settings.answer_seconds,
            settings.max_occupancy,
            settings.shrinkage,
            agents,
        )
        _write(app, out_path, lambda out: _print_what_if(doc, fmt, out))
        return
    if agents is not None:
        raise UsageError("--agents goes with --arrivals (a what-if)")
    from cstoolkit.kpi.metrics import KpiSettings
    from cstoolkit.kpi.periods import check_zone, choose_calendar, parse_when

    kpi = KpiSettings.from_config(app.config.data)
    from cstoolkit.calendars import load_calendars
    from cstoolkit.model import now as utcnow

    cal = choose_calendar(load_calendars(app.config.data.get("calendars")), None, kpi)
    zone = check_zone(tz or kpi.timezone or (cal.timezone if not cal.is_24x7 else "UTC"), "--tz")
    now = utcnow()
    until_dt = parse_when(until or "today", zone, now, None, what="--until")
    since_dt = parse_when(since or "28d", zone, now, until_dt, what="--since")
    from cstoolkit import query as q
    from cstoolkit.store.reports import ticket_filter

    node = q.parse(query) if query else None
    found = ticket_filter(app.store, node, until_dt)
    if found is None:
        assert node is not None
        name = q.per_ticket_fields(node, until_dt, dialect=app.store.dialect)[0]
        raise UsageError(
            f"report staffing --query: '{name}' is tested per ticket and staffing counts in "
            "SQL; it works in tickets list, report kpi and recipe conditions"
        )
    where, params = found
    doc = st.plan_from_store(app.store, settings, since_dt, until_dt, zone, where, params, aht_s)
    _write(app, out_path, lambda out: _print_plan(doc, fmt, out))


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


WHAT_IF_COLUMNS = ["case", "agents", "scheduled", "service_level", "asa_seconds", "occupancy",
                   "waiting_probability"]  # fmt: skip
PLAN_COLUMNS = ["weekday", "start", "arrivals", "agents", "scheduled", "service_level",
                "asa_seconds", "occupancy"]  # fmt: skip


def _print_what_if(doc: dict[str, Any], fmt: str, out: IO[str]) -> None:
    from cstoolkit.output import render, to_json

    if fmt == "json":
        out.write(to_json(doc) + "\n")
        return
    if fmt != "table":
        cases = [("required", doc["required"]), ("with_agents", doc["with_agents"])]
        records = [{"case": name, **r} for name, r in cases if r is not None]
        render(records, WHAT_IF_COLUMNS, fmt, out=out)
        return
    from cstoolkit.output import add_row, console, new_table

    i = doc["inputs"]
    t = new_table(
        title=(
            f"{i['arrivals']:g} contacts per {i['interval_seconds'] / 60:g} min, AHT "
            f"{i['aht_seconds']:g}s -> {doc['traffic_erlangs']:.3f} erlangs"
        ),
        title_justify="left",
    )
    for col in ("", "agents", "scheduled", "service level", "ASA", "occupancy", "P(wait)"):
        t.add_column(col, justify="right" if col else "left")
    rows = [("required", doc["required"])]
    if doc["with_agents"] is not None:
        rows.append((f"with {i['agents']} agents", doc["with_agents"]))
    for label, r in rows:
        asa = "unstable" if r["asa_seconds"] is None else f"{r['asa_seconds']:.1f}s"
        add_row(
            t,
            [
                label,
                str(r["agents"]),
                str(r["scheduled"]),
                _pct(r["service_level"]),
                asa,
                _pct(r["occupancy"]),
                _pct(r["waiting_probability"]),
            ],
        )
    console(out).print(t)
    console(out).print(
        f"target: {i['service_level'] * 100:g}% answered within {i['answer_seconds']:g}s, max "
        f"occupancy {i['max_occupancy'] * 100:g}%, shrinkage {i['shrinkage'] * 100:g}%"
    )


def _print_plan(doc: dict[str, Any], fmt: str, out: IO[str]) -> None:
    from cstoolkit.output import render, to_json

    if fmt == "json":
        out.write(to_json(doc) + "\n")
        return
    if fmt != "table":
        render(doc["intervals"], PLAN_COLUMNS, fmt, out=out)
        return
    from cstoolkit.kpi.staffing import WEEKDAYS
    from cstoolkit.output import add_row, console, new_table

    i = doc["inputs"]
    screen = console(out)
    screen.print(
        f"Staffing for {i['tickets']:,} tickets, {doc['period']['since']} -> "
        f"{doc['period']['until']} ({doc['timezone']}); target {i['service_level'] * 100:g}% in "
        f"{i['answer_seconds']:g}s, AHT {i['aht_seconds']:.0f}s ({i['aht_source']}), max "
        f"occupancy {i['max_occupancy'] * 100:g}%, shrinkage {i['shrinkage'] * 100:g}%"
    )
    t = new_table(title="Scheduled agents (agents on contacts) per interval", title_justify="left")
    t.add_column("start")
    for w in WEEKDAYS:
        t.add_column(w, justify="right")
    by = {(r["weekday"], r["start"]): r for r in doc["intervals"]}
    starts = sorted({r["start"] for r in doc["intervals"]})
    for s in starts:
        cells = []
        for w in WEEKDAYS:
            r = by.get((w, s))
            cells.append("·" if not r or not r["agents"] else f"{r['scheduled']} ({r['agents']})")
        add_row(t, [s, *cells])
    screen.print(t)
    peak = doc.get("peak")
    if peak and peak["agents"]:
        screen.print(
            f"peak: {peak['weekday']} {peak['start']}: {peak['arrivals']:.1f} arrivals -> "
            f"{peak['agents']} agents, {peak['scheduled']} scheduled (SL "
            f"{_pct(peak['service_level'])}, ASA {peak['asa_seconds']:.1f}s, occupancy "
            f"{_pct(peak['occupancy'])})"
        )
