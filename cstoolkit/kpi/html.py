"""The HTML KPI report: one self-contained file that works offline.

Inline CSS and inline SVG, no script, no CDN, no web font, nothing fetched. KPI cards with
sparklines, then one panel per chart (volume trend, reply and resolution time distributions,
CSAT and NPS, SLA compliance, arrivals, staffing, backlog, channels), each with a title, the
unit of what it shows and a one-line reading of it; then the tables. The charts are drawn by
:mod:`cstoolkit.kpi.charts` (labels keep their size at any width). Everything comes from the
report document, like every other format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

from cstoolkit.kpi import charts
from cstoolkit.kpi.charts import GRID, INK, MUTED, PALETTE, esc
from cstoolkit.kpi.formatting import (
    WEEKDAY_NAMES,
    details,
    fmt_delta,
    fmt_duration,
    fmt_value,
    headline,
    improved,
    period_line,
    vendor_caption,
    vendor_table,
    vendor_title,
)
from cstoolkit.kpi.render import GAP_TEXT, Exporter, gap_rows, gaps_title

__all__ = ["PALETTE", "HtmlExporter", "render_html"]

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0;background:#f3f4f6;color:{INK};font:14px/1.45 {FONT}}}
header{{background:linear-gradient(120deg,#312e81,#4f46e5 60%,#0891b2);color:#fff;
  padding:28px 40px}}
header h1{{margin:0 0 6px;font-size:26px;font-weight:650;letter-spacing:-.01em}}
header p{{margin:0;opacity:.85}}
main{{padding:24px 40px 48px;max-width:1500px;margin:0 auto}}
h2{{font-size:16px;margin:0 0 4px;font-weight:650}}
.cards{{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,250px),1fr));
  gap:14px;margin-bottom:22px}}
.card{{background:#fff;border-radius:12px;padding:14px 16px;
  box-shadow:0 1px 2px rgba(0,0,0,.06)}}
.card .label{{color:{MUTED};font-size:12px;text-transform:uppercase;letter-spacing:.04em}}
.card .value{{font-size:26px;font-weight:700;margin:4px 0 2px}}
.card .detail{{color:{MUTED};font-size:12px;min-height:16px}}
.delta{{display:inline-block;font-size:12px;font-weight:600;padding:1px 7px;border-radius:99px;
  margin-left:6px;vertical-align:middle}}
.good{{background:#d1fae5;color:#065f46}}.bad{{background:#fee2e2;
  color:#991b1b}}.flat{{background:#e5e7eb;color:#374151}}
.grid{{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,560px),1fr));gap:18px}}
.panel{{background:#fff;border-radius:12px;padding:18px 20px;min-width:0;
  box-shadow:0 1px 2px rgba(0,0,0,.06);margin-bottom:18px}}
.panel p.sub{{margin:0 0 10px;color:{MUTED};font-size:12px}}
.panel p.reading{{margin:12px 0 0;font-size:13px}}
table{{border-collapse:collapse;width:100%;font-size:13px}}
th{{text-align:left;color:{MUTED};font-weight:600;border-bottom:1px solid {GRID};
  padding:6px 8px}}
td{{border-bottom:1px solid #f3f4f6;padding:6px 8px}}
td.n,th.n{{text-align:right;font-variant-numeric:tabular-nums}}
.legend{{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;color:{MUTED};margin-top:6px}}
.legend i{{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;
  vertical-align:-1px}}
.notes{{color:{MUTED};font-size:12px}}
@media (max-width:700px){{header{{padding:20px 16px}}main{{padding:16px 10px 32px}}
  .panel{{padding:14px 12px}}.panel .scroll-table{{overflow-x:auto}}}}
{charts.CSS}
"""


def _hist_labels(edges: Sequence[float]) -> list[str]:
    """Short bucket labels: each bucket by its upper bound (``<5m``, ``<15m``, ..., ``≥14d``)."""

    def short(s: float) -> str:
        if s < 3600:
            return f"{s / 60:g}m"
        if s < 86400:
            return f"{s / 3600:g}h"
        return f"{s / 86400:g}d"

    return [f"<{short(e)}" for e in edges] + [f"≥{short(edges[-1])}"]


def _panel(title: str, body: str, unit: str = "", reading: str = "") -> str:
    """A section: its title, the unit of what it shows, the chart or table, a reading."""
    u = f'<p class="sub">{esc(unit)}</p>' if unit else ""
    r = f'<p class="reading">{esc(reading)}</p>' if reading else ""
    return f'<section class="panel"><h2>{esc(title)}</h2>{u}{body}{r}</section>'


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[str]) -> str:
    from cstoolkit.kpi.render import cell

    head = "".join(
        f'<th class="{"n" if c in numeric else ""}">{esc(c.replace("_", " "))}</th>'
        for c in columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"n" if c in numeric else ""}">{esc(cell(c, v))}</td>'
            for c, v in zip(columns, r, strict=True)
        )
        + "</tr>"
        for r in rows
    )
    return (
        '<div class="scroll-table"><table><thead><tr>'
        f"{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _cards(report: dict[str, Any], metrics: dict[str, Any], sv: dict[str, Any]) -> str:
    compare = report.get("previous_period") is not None
    names = (
        "tickets_created", "tickets_solved", "first_reply_time", "full_resolution_time",
        "csat", "nps", "sla_compliance", "one_touch_rate", "reopen_rate", "backlog",
        "agent_work_time", "cost_per_ticket", "self_service",
    )  # fmt: skip
    cards = []
    for i, name in enumerate(names):
        m = metrics.get(name)
        if m is None:
            continue
        shown = headline(m)
        value = fmt_value(m["unit"], shown, m.get("labels"))
        badge = ""
        if compare:
            d = (m.get("delta") or {}).get(m["headline"])
            if d is not None:
                good = improved(m)
                cls = "good" if good else ("bad" if good is False else "flat")
                badge = f'<span class="delta {cls}">{esc(fmt_delta(m["unit"], d))}</span>'
        spark = charts.sparkline_svg(sv.get(name) or [], PALETTE[i % len(PALETTE)])
        none = " none" if shown is None else ""
        cards.append(
            f'<div class="card{none}"><div class="label">{esc(m["label"])}</div>'
            f'<div class="value">{esc(value)}{badge}</div>'
            f'<div class="detail">{esc(details(m))}</div>{spark}</div>'
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def _volume(labels: list[str], sv: dict[str, Any], unit: str) -> str:
    created = sv.get("tickets_created") or []
    solved = sv.get("tickets_solved") or []
    reading = ""
    if any(created):
        peak = max(range(len(created)), key=lambda i: created[i] or 0)
        reading = (
            f"{sum(v or 0 for v in created):,.0f} created and {sum(v or 0 for v in solved):,.0f}"
            f" solved; the busiest {unit} was {labels[peak]} with {created[peak]:,.0f} created."
        )
    body = charts.line_chart(
        labels,
        [("created", created, PALETTE[0]), ("solved", solved, PALETTE[1])],
        unit_text=f"tickets per {unit}",
        title="volume trend",
    )
    return _panel("Volume trend", body, f"tickets created and solved per {unit}", reading)


def _distribution(
    name: str, title: str, hd: dict[str, Any], m: dict[str, Any], variant: str
) -> str:
    v = m.get("values") or {}
    business = variant == "business"
    series = [("business hours", hd["business"], PALETTE[0])] if business else []
    series.append(("calendar hours", hd["calendar"], PALETTE[4]))
    what = "first reply" if name == "first_reply_time" else "resolution"
    reading = ""
    if v.get("count"):
        reading = (
            f"Half of the {v['count']:,} tickets got their {what} within "
            f"{fmt_duration(v.get(variant + '.median'))} ({variant} hours); 90% within "
            f"{fmt_duration(v.get(variant + '.p90'))}."
        )
    body = charts.bar_chart(
        _hist_labels(hd["edges"]), series, unit_text="tickets", title=title.lower()
    )
    return _panel(title, body, f"tickets by time to {what} (bars: up to the time shown)", reading)


def _satisfaction(labels: list[str], sv: dict[str, Any], metrics: dict[str, Any]) -> str:
    csat, nps = metrics.get("csat") or {}, metrics.get("nps") or {}
    cv, nv = csat.get("values") or {}, nps.get("values") or {}
    parts = []
    if cv.get("responses"):
        parts.append(
            f"CSAT {cv['csat_pct']:.1f}% ({cv['good']:,} good of {cv['responses']:,} answers)"
        )
    if nv.get("responses"):
        parts.append(f"NPS {nv['nps']:+.0f} from {nv['responses']:,} answers")
    body = charts.line_chart(
        labels,
        [("CSAT %", sv.get("csat") or [], PALETTE[1]), ("NPS", sv.get("nps") or [], PALETTE[5])],
        unit="number",
        unit_text="CSAT: % of answers scoring 4-5 · NPS: % promoters − % detractors (−100 to 100)",
        y_min=-100.0 if any(v is not None for v in sv.get("nps") or []) else 0.0,
        y_max=100,
        title="CSAT and NPS",
    )
    reading = "; ".join(parts) + "." if parts else ""
    return _panel("CSAT and NPS trend", body, "per day, from survey answers", reading)


def _sla(labels: list[str], sv: dict[str, Any], sla: dict[str, Any] | None) -> str:
    if not (sla and sla.get("table") and sla["table"]["rows"]):
        body = charts.empty("no SLA policies configured ([sla.NAME] in cstoolkit.toml)")
        return _panel("SLA compliance", body, "% of targets met")
    rows, worst = [], None
    for r in sla["table"]["rows"]:
        policy, metric, priority, target, bus, _met, done, pct = r
        label = f"{policy} · {metric} · {priority} ≤ {fmt_duration(target)}{' (bh)' if bus else ''}"
        pct = pct or 0.0
        color = PALETTE[1] if pct >= 90 else (PALETTE[2] if pct >= 75 else PALETTE[3])
        rows.append((label, pct, color))
        if done and (worst is None or pct < worst[1]):
            worst = (label, pct)
    body = charts.hbar_chart(rows, unit="percent", max_value=100.0, title="SLA by target")
    if any(v is not None for v in sv.get("sla_compliance") or []):
        body += charts.line_chart(
            labels,
            [("compliance %", sv["sla_compliance"], PALETTE[1])],
            unit="percent",
            unit_text="% of targets met per day",
            y_max=100,
            height=160,
            title="SLA trend",
        )
    v = sla.get("values") or {}
    reading = f"{v.get('rate') or 0:.1f}% of {v.get('completed', 0):,} targets met"
    if worst is not None:
        reading += f"; the weakest: {worst[0]} at {worst[1]:.1f}%"
    return _panel(
        "SLA compliance", body, "% of targets met, per policy, metric and priority", reading + "."
    )


def _arrivals(report: dict[str, Any], metrics: dict[str, Any]) -> str:
    heat = report.get("heatmap") or {}
    counts = heat.get("counts") or []
    v = (metrics.get("arrivals_heatmap") or {}).get("values") or {}
    reading = ""
    if v.get("peak_count"):
        day = WEEKDAY_NAMES[v["peak_weekday"]] if isinstance(v["peak_weekday"], int) else ""
        day = day or str(v["peak_weekday"])
        reading = (
            f"The busiest hour is {day} {int(v['peak_hour']):02d}:00 with {v['peak_count']:,}"
            " tickets over the period."
        )
    return _panel(
        "Arrivals by hour and weekday",
        charts.heatmap(counts),
        f"tickets created per hour slot, local time ({report['timezone']})",
        reading,
    )


def _staffing(report: dict[str, Any]) -> str:
    st = report.get("staffing")
    if not st:
        return ""
    grid = [[int(x) for x in row] for row in st["scheduled"]]
    unit = (
        f"whole agents to schedule per hour, local time ({report['timezone']}); Erlang C, "
        f"{st['service_level'] * 100:.0f}% answered in {st['answer_seconds']:.0f}s, AHT "
        f"{fmt_duration(st['aht_seconds'])} ({st['aht_source']}), shrinkage "
        f"{st['shrinkage'] * 100:.0f}%"
    )
    peak = max(
        ((n, w, h) for w, row in enumerate(grid) for h, n in enumerate(row)),
        key=lambda p: (p[0], -p[1], -p[2]),  # the first (weekday, hour) of the highest
        default=None,
    )
    reading = ""
    if peak and peak[0]:
        hours = sum(1 for row in grid for n in row if n)
        reading = (
            f"At most {peak[0]} agent{'s' if peak[0] != 1 else ''} at once "
            f"({WEEKDAY_NAMES[peak[1]]} {peak[2]:02d}:00); someone is needed in {hours} of "
            "the week's 168 hours."
        )
    return _panel("Staffing", charts.number_grid(grid, title="staffing"), unit, reading)


def _backlog(metrics: dict[str, Any]) -> str:
    backlog = metrics.get("backlog")
    if not (backlog and backlog.get("table")):
        return ""
    rows = [(str(r[0]), float(r[1]), PALETTE[2]) for r in backlog["table"]["rows"]]
    total = headline(backlog) or 0
    young = sum(v for label, v, _ in rows[:2])
    reading = f"{total:,.0f} unsolved tickets at the end of the period"
    if total:
        reading += f"; {young / total * 100:.0f}% of them younger than {rows[1][0].split('-')[-1]}"
    return _panel(
        "Backlog by age",
        charts.hbar_chart(rows, title="backlog by age"),
        "unsolved tickets at the end of the period, by age",
        reading + ".",
    )


def _channels(metrics: dict[str, Any]) -> str:
    chan = metrics.get("volume_by_channel")
    if not (chan and chan.get("table")):
        return ""
    table = chan["table"]["rows"]
    rows = [(str(r[0]), float(r[1]), PALETTE[i % len(PALETTE)]) for i, r in enumerate(table)]
    reading = ""
    if table:
        reading = f"{table[0][0]} brings the most tickets: {table[0][2]:.1f}% of them."
    return _panel(
        "Volume by channel",
        charts.hbar_chart(rows, title="volume by channel"),
        "tickets created in the period",
        reading,
    )


def render_html(report: dict[str, Any]) -> str:
    metrics = {m["name"]: m for m in report["metrics"]}
    series = report.get("series") or {}
    labels = series.get("buckets") or []
    sv = series.get("values") or {}
    compare = report.get("previous_period") is not None
    variant = "business" if report["calendar"].get("business_hours") else "calendar"
    parts = [_cards(report, metrics, sv)]

    panels = [_volume(labels, sv, series.get("unit", "day"))]
    hist = report.get("histograms") or {}
    for name, title in (
        ("first_reply_time", "First reply time distribution"),
        ("full_resolution_time", "Resolution time distribution"),
    ):
        if hist.get(name):
            panels.append(_distribution(name, title, hist[name], metrics.get(name, {}), variant))
    panels.append(_satisfaction(labels, sv, metrics))
    panels.append(_sla(labels, sv, metrics.get("sla_compliance")))
    panels.append(_arrivals(report, metrics))
    panels += [_staffing(report), _backlog(metrics), _channels(metrics)]
    parts.append('<div class="grid">' + "".join(p for p in panels if p) + "</div>")

    # -- tables ----------------------------------------------------------------------------
    summary_rows = []
    for m in report["metrics"]:
        row = [m["label"], fmt_value(m["unit"], headline(m), m.get("labels"))]
        if compare:
            row += [
                fmt_value(m["unit"], headline(m, "previous"), m.get("labels")),
                fmt_delta(m["unit"], (m.get("delta") or {}).get(m["headline"])),
            ]
        row.append(details(m))
        summary_rows.append(row)
    cols = ["metric", "value"] + (["previous", "change"] if compare else []) + ["details"]
    parts.append(
        _panel(
            "All metrics",
            _table(cols, summary_rows, {"value", "previous", "change"}),
            "definitions: docs/metrics.md",
        )
    )
    for name in ("agent_productivity", "escalation_rate"):
        m = metrics.get(name)
        if m and m.get("table") and m["table"]["rows"]:
            t = m["table"]
            numeric = {c for c in t["columns"] if c not in ("agent", "name")}
            parts.append(
                _panel(m["label"], _table(t["columns"], t["rows"][:25], numeric), details(m))
            )
    if report.get("groups"):
        names = [
            "tickets_created",
            "tickets_solved",
            "first_reply_time",
            "full_resolution_time",
            "one_touch_rate",
            "csat",
            "sla_compliance",
            "self_service",
        ]
        names = [n for n in names if n in metrics]
        group_rows: list[list[Any]] = []
        for g in report["groups"]:
            row = [g["label"]]
            for n in names:
                m = metrics[n]
                row.append(fmt_value(m["unit"], (g["values"].get(n) or {}).get(m["headline"])))
            group_rows.append(row)
        heads = [report["by"], *[metrics[n]["label"] for n in names]]
        parts.append(_panel(f"By {report['by']}", _table(heads, group_rows, set(heads[1:]))))
    gaps = report.get("knowledge_gaps")
    if gaps:
        gcols = gaps["columns"]
        parts.append(
            _panel(
                gaps_title(gaps),
                _table(gcols, gap_rows(gaps), set(gcols) - set(GAP_TEXT)),
                "topics with many tickets and no article at the floor: docs/knowledge.md",
            )
        )
    vendor = report.get("vendor")
    if vendor:
        vcols, vrows = vendor_table(vendor)
        numeric = set(vcols[2:-1])
        parts.append(
            _panel(
                vendor_title(vendor),
                _table(vcols, vrows, numeric),
                vendor_caption(vendor),
            )
        )
    notes = report.get("notes") or []
    scanned = report.get("scanned") or {}
    footer = (
        f"{scanned.get('tickets', 0):,} tickets and {scanned.get('events', 0):,} events "
        f"scanned in {scanned.get('seconds', 0):.1f}s · generated {report['generated_at']}"
        f" · schema version {report['schema_version']}"
    )
    parts.append(
        '<div class="notes">'
        + "".join(f"<p>note: {esc(n)}</p>" for n in notes)
        + f"<p>{esc(footer)}</p></div>"
    )
    title = "KPI report"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · {esc(report['period']['since'][:10])}</title>"
        f"<style>{CSS}</style></head><body><header><h1>{esc(title)}</h1>"
        f"<p>{esc(period_line(report))}</p></header><main>"
        + "".join(parts)
        + "</main></body></html>\n"
    )


class HtmlExporter(Exporter):
    name = "html"
    description = "One self-contained HTML page with charts (inline CSS and SVG, works offline)."
    extension = ".html"

    def write(self, report: dict[str, Any], out: IO[str]) -> None:
        out.write(render_html(report))
