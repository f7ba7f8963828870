"""The HTML KPI report: one self-contained file that works offline.

Inline CSS and inline SVG charts drawn here in Python: no script, no CDN, no web font, nothing
fetched. Charts: KPI cards with sparklines, volume trend, reply and resolution time
distributions, CSAT/NPS trend, SLA compliance, arrivals heatmap, backlog by age, channels and
the staffing curve. Everything comes from the report document, like every other format.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import IO, Any

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
from cstoolkit.kpi.render import Exporter

PALETTE = ("#4f46e5", "#10b981", "#f59e0b", "#ef4444", "#06b6d4", "#8b5cf6", "#ec4899")
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0;background:#f3f4f6;color:{INK};font:14px/1.45 {FONT}}}
header{{background:linear-gradient(120deg,#312e81,#4f46e5 60%,#0891b2);color:#fff;
  padding:28px 40px}}
header h1{{margin:0 0 6px;font-size:26px;font-weight:650;letter-spacing:-.01em}}
header p{{margin:0;opacity:.85}}
main{{padding:24px 40px 48px;max-width:1500px;margin:0 auto}}
h2{{font-size:16px;margin:0 0 12px;font-weight:650}}
.cards{{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:14px;
  margin-bottom:22px}}
.card{{background:#fff;border-radius:12px;padding:14px 16px;
  box-shadow:0 1px 2px rgba(0,0,0,.06)}}
.card .label{{color:{MUTED};font-size:12px;text-transform:uppercase;letter-spacing:.04em}}
.card .value{{font-size:26px;font-weight:700;margin:4px 0 2px}}
.card .detail{{color:{MUTED};font-size:12px;min-height:16px}}
.delta{{display:inline-block;font-size:12px;font-weight:600;padding:1px 7px;border-radius:99px;
  margin-left:6px;vertical-align:middle}}
.good{{background:#d1fae5;color:#065f46}}.bad{{background:#fee2e2;
  color:#991b1b}}.flat{{background:#e5e7eb;color:#374151}}
.grid{{display:grid;grid-template-columns:repeat(auto-fit,minmax(620px,1fr));gap:18px}}
.panel{{background:#fff;border-radius:12px;padding:18px 20px;
  box-shadow:0 1px 2px rgba(0,0,0,.06);margin-bottom:18px}}
.panel p.sub{{margin:-8px 0 10px;color:{MUTED};font-size:12px}}
table{{border-collapse:collapse;width:100%;font-size:13px}}
th{{text-align:left;color:{MUTED};font-weight:600;border-bottom:1px solid {GRID};
  padding:6px 8px}}
td{{border-bottom:1px solid #f3f4f6;padding:6px 8px}}
td.n,th.n{{text-align:right;font-variant-numeric:tabular-nums}}
.legend{{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;color:{MUTED};margin-top:6px}}
.legend i{{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;
  vertical-align:-1px}}
.notes{{color:{MUTED};font-size:12px}}
svg text{{font-family:{FONT}}}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** len(str(int(v))) / 10
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if v <= step * mag:
            return step * mag
    return v  # pragma: no cover


def _fmt_axis(v: float, unit: str) -> str:
    if unit == "seconds":
        return fmt_duration(v)
    if unit == "percent":
        return f"{v:.0f}%"
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k".replace(".0k", "k")
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def sparkline_svg(
    values: Sequence[float | None], color: str = PALETTE[0], w: int = 220, h: int = 34
) -> str:
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return ""
    lo = min(v for _, v in pts)
    hi = max(v for _, v in pts)
    span = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)
    coords = [(2 + i / n * (w - 4), h - 3 - (v - lo) / span * (h - 6)) for i, v in pts]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"{coords[0][0]:.1f},{h} {line} {coords[-1][0]:.1f},{h}"
    return (
        f'<svg viewBox="0 0 {w} {h}" width="100%" height="{h}" preserveAspectRatio="none" '
        f'role="img" aria-label="trend"><polygon points="{area}" fill="{color}" opacity=".12"/>'
        f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.8"/></svg>'
    )


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    unit: str = "count",
    w: int = 660,
    h: int = 260,
    y_min: float | None = 0.0,
    y_max: float | None = None,
    title: str = "",
) -> str:
    """A line chart with axes, grid lines and a legend; gaps where values are missing."""
    left, right, top, bottom = 54, 14, 12, 38
    pw, ph = w - left - right, h - top - bottom
    vals = [v for _, s, _ in series for v in s if v is not None]
    if not vals:
        return _empty(w, h, "no data in this period")
    lo = min(vals) if y_min is None else min(y_min, *vals)
    hi = y_max if y_max is not None else _nice_max(max(vals))
    if y_min is None:
        lo = -_nice_max(-lo) if lo < 0 else 0.0
    span = (hi - lo) or 1.0
    n = max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return left + i / n * pw

    def y(v: float) -> float:
        return top + ph - (v - lo) / span * ph

    out = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{esc(title)}">']
    for k in range(5):
        v = lo + span * k / 4
        yy = y(v)
        out.append(
            f'<line x1="{left}" x2="{w - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{GRID}"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" font-size="11" fill="{MUTED}" '
            f'text-anchor="end">{esc(_fmt_axis(v, unit))}</text>'
        )
    step = max(1, len(labels) // 8)
    for i in range(0, len(labels), step):
        out.append(
            f'<text x="{x(i):.1f}" y="{h - 14}" font-size="11" fill="{MUTED}" '
            f'text-anchor="middle">{esc(_short_label(labels[i]))}</text>'
        )
    for name, values, color in series:
        runs: list[list[str]] = [[]]
        for i, point in enumerate(values):
            if point is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(point):.1f}")
        for run in runs:
            if len(run) > 1:
                out.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" '
                    'stroke-width="2.2" stroke-linejoin="round"/>'
                )
            elif len(run) == 1:
                cx, cy = run[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
        _ = name
    out.append("</svg>")
    out.append(_legend([(n, c) for n, _, c in series]))
    return "".join(out)


def _short_label(label: str) -> str:
    """``2026-01-31`` -> ``01-31`` (the year is in the title)."""
    return label[5:] if len(label) == 10 and label[4] == "-" else label


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    unit: str = "count",
    w: int = 660,
    h: int = 260,
    title: str = "",
) -> str:
    """Grouped vertical bars."""
    left, right, top, bottom = 54, 14, 12, 44
    pw, ph = w - left - right, h - top - bottom
    vals = [v for _, s, _ in series for v in s]
    if not vals or max(vals) <= 0:
        return _empty(w, h, "no data in this period")
    hi = _nice_max(max(vals))
    slot = pw / len(labels)
    bw = slot * 0.8 / len(series)
    out = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{esc(title)}">']
    for k in range(5):
        v = hi * k / 4
        yy = top + ph - v / hi * ph
        out.append(
            f'<line x1="{left}" x2="{w - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{GRID}"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" font-size="11" fill="{MUTED}" '
            f'text-anchor="end">{esc(_fmt_axis(v, unit))}</text>'
        )
    for i, label in enumerate(labels):
        x0 = left + i * slot + slot * 0.1
        for j, (_, values, color) in enumerate(series):
            v = values[i]
            bh = v / hi * ph
            out.append(
                f'<rect x="{x0 + j * bw:.1f}" y="{top + ph - bh:.1f}" width="{bw - 1:.1f}" '
                f'height="{bh:.1f}" rx="2" fill="{color}"><title>{esc(label)}: {v:,.0f}'
                "</title></rect>"
            )
        out.append(
            f'<text x="{left + (i + 0.5) * slot:.1f}" y="{h - 24}" font-size="10.5" '
            f'fill="{MUTED}" text-anchor="middle">{esc(label)}</text>'
        )
    out.append("</svg>")
    if len(series) > 1:
        out.append(_legend([(n, c) for n, _, c in series]))
    return "".join(out)


def hbar_chart(
    rows: Sequence[tuple[str, float, str]],
    w: int = 620,
    unit: str = "count",
    max_value: float | None = None,
) -> str:
    """Horizontal bars with their label and value (channels, SLA targets, backlog)."""
    if not rows:
        return _empty(w, 80, "no data in this period")
    bar_h, gap, label_w, value_w = 20, 8, 250, 70
    h = len(rows) * (bar_h + gap) + gap
    hi = max_value or max(v for _, v, _ in rows) or 1.0
    pw = w - label_w - value_w
    out = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="bars">']
    for i, (label, v, color) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        bw = max(0.0, v / hi * pw)
        out.append(
            f'<text x="{label_w - 8}" y="{y + 14}" font-size="12" fill="{INK}" '
            f'text-anchor="end">{esc(label)}</text>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y}" width="{pw}" height="{bar_h}" rx="4" fill="#f3f4f6"/>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y}" width="{bw:.1f}" height="{bar_h}" rx="4" fill="{color}"/>'
        )
        out.append(
            f'<text x="{label_w + pw + 8}" y="{y + 14}" font-size="12" fill="{INK}">'
            f"{esc(_fmt_axis(v, unit) if unit != 'count' else f'{v:,.0f}')}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def heatmap_svg(counts: Sequence[Sequence[int]], w: int = 660) -> str:
    left, top = 40, 20
    cell_w = (w - left - 10) / 24
    cell_h = 24
    h = top + 7 * cell_h + 30
    peak = max((max(r) for r in counts), default=0)
    if not peak:
        return _empty(w, 120, "no tickets created in this period")
    out = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="arrivals heatmap">']
    for hour in range(0, 24, 3):
        out.append(
            f'<text x="{left + (hour + 0.5) * cell_w:.1f}" y="{top - 6}" font-size="11" '
            f'fill="{MUTED}" text-anchor="middle">{hour:02d}h</text>'
        )
    for wd, row in enumerate(counts):
        y = top + wd * cell_h
        out.append(
            f'<text x="{left - 6}" y="{y + 16}" font-size="11" fill="{MUTED}" '
            f'text-anchor="end">{WEEKDAY_NAMES[wd]}</text>'
        )
        for hour, n in enumerate(row):
            t = n / peak
            color = _blend("#eef2ff", "#312e81", t**0.7) if n else "#f9fafb"
            out.append(
                f'<rect x="{left + hour * cell_w + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" '
                f'height="{cell_h - 2}" rx="3" fill="{color}"><title>{WEEKDAY_NAMES[wd]} '
                f"{hour:02d}:00 — {n:,} tickets</title></rect>"
            )
    # colour scale
    y = top + 7 * cell_h + 10
    for k in range(10):
        out.append(
            f'<rect x="{left + k * 22}" y="{y}" width="22" height="8" '
            f'fill="{_blend("#eef2ff", "#312e81", (k / 9) ** 0.7)}"/>'
        )
    out.append(
        f'<text x="{left + 230}" y="{y + 8}" font-size="11" fill="{MUTED}">0 – {peak:,} '
        "tickets per hour slot</text>"
    )
    out.append("</svg>")
    return "".join(out)


def _blend(a: str, b: str, t: float) -> str:
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def _legend(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="legend">'
        + "".join(f'<span><i style="background:{c}"></i>{esc(n)}</span>' for n, c in items)
        + "</div>"
    )


def _empty(w: int, h: int, text: str) -> str:
    return (
        f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="empty">'
        f'<rect x="0" y="0" width="{w}" height="{h}" rx="8" fill="#f9fafb"/>'
        f'<text x="{w / 2}" y="{h / 2}" font-size="13" fill="{MUTED}" text-anchor="middle">'
        f"{esc(text)}</text></svg>"
    )


def _hist_labels(edges: Sequence[float]) -> list[str]:
    """Short bucket labels: each bucket by its upper bound (``<5m``, ``<15m``, ..., ``≥14d``)."""

    def short(s: float) -> str:
        if s < 3600:
            return f"{s / 60:g}m"
        if s < 86400:
            return f"{s / 3600:g}h"
        return f"{s / 86400:g}d"

    return [f"<{short(e)}" for e in edges] + [f"≥{short(edges[-1])}"]


def _panel(title: str, body: str, sub: str = "") -> str:
    s = f'<p class="sub">{esc(sub)}</p>' if sub else ""
    return f'<section class="panel"><h2>{esc(title)}</h2>{s}{body}</section>'


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
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    metrics = {m["name"]: m for m in report["metrics"]}
    series = report.get("series") or {}
    labels = series.get("buckets") or []
    sv = series.get("values") or {}
    compare = report.get("previous_period") is not None
    business = report["calendar"].get("business_hours")
    variant = "business" if business else "calendar"
    parts: list[str] = []

    # -- cards -----------------------------------------------------------------------------
    card_names = [
        "tickets_created",
        "tickets_solved",
        "first_reply_time",
        "full_resolution_time",
        "csat",
        "nps",
        "sla_compliance",
        "one_touch_rate",
        "reopen_rate",
        "backlog",
        "agent_work_time",
        "cost_per_ticket",
    ]
    cards = []
    for i, name in enumerate(card_names):
        m = metrics.get(name)
        if m is None:
            continue
        value = fmt_value(m["unit"], headline(m), m.get("labels"))
        badge = ""
        if compare:
            d = (m.get("delta") or {}).get(m["headline"])
            if d is not None:
                good = improved(m)
                cls = "good" if good else ("bad" if good is False else "flat")
                badge = f'<span class="delta {cls}">{esc(fmt_delta(m["unit"], d))}</span>'
        spark = sparkline_svg(sv.get(name) or [], PALETTE[i % len(PALETTE)])
        cards.append(
            f'<div class="card"><div class="label">{esc(m["label"])}</div>'
            f'<div class="value">{esc(value)}{badge}</div>'
            f'<div class="detail">{esc(details(m))}</div>{spark}</div>'
        )
    parts.append('<div class="cards">' + "".join(cards) + "</div>")

    # -- charts ----------------------------------------------------------------------------
    charts = []
    charts.append(
        _panel(
            "Volume trend",
            line_chart(
                labels,
                [
                    ("created", sv.get("tickets_created") or [], PALETTE[0]),
                    ("solved", sv.get("tickets_solved") or [], PALETTE[1]),
                ],
                title="volume trend",
            ),
            f"tickets per {series.get('unit', 'day')}",
        )
    )
    hist = report.get("histograms") or {}
    for name, title in (
        ("first_reply_time", "First reply time distribution"),
        ("full_resolution_time", "Resolution time distribution"),
    ):
        hd = hist.get(name)
        if not hd:
            continue
        m = metrics.get(name, {})
        v = m.get("values") or {}
        sub = (
            f"{v.get('count') or 0:,} tickets · median {fmt_duration(v.get(variant + '.median'))}"
            f" ({variant} hours) · p90 {fmt_duration(v.get(variant + '.p90'))}"
        )
        series_h = [("business hours", hd["business"], PALETTE[0])] if business else []
        series_h.append(("calendar hours", hd["calendar"], PALETTE[4]))
        charts.append(
            _panel(title, bar_chart(_hist_labels(hd["edges"]), series_h, title=title), sub)
        )
    csat = sv.get("csat") or []
    nps = sv.get("nps") or []
    charts.append(
        _panel(
            "CSAT and NPS trend",
            line_chart(
                labels,
                [("CSAT %", csat, PALETTE[1]), ("NPS", nps, PALETTE[5])],
                unit="number",
                y_min=None,
                y_max=100,
                title="CSAT and NPS",
            ),
            "CSAT: % of answers scoring 4-5; NPS: % promoters − % detractors",
        )
    )
    sla = metrics.get("sla_compliance")
    sla_body = ""
    if sla and sla.get("table") and sla["table"]["rows"]:
        rows = []
        for r in sla["table"]["rows"]:
            policy, metric, priority, target, bus, _met, _done, pct = r
            label = (
                f"{policy} · {metric} · {priority} ≤ {fmt_duration(target)}{' (bh)' if bus else ''}"
            )
            color = (
                PALETTE[1] if (pct or 0) >= 90 else (PALETTE[2] if (pct or 0) >= 75 else PALETTE[3])
            )
            rows.append((label, pct or 0.0, color))
        sla_body = hbar_chart(rows, unit="percent", max_value=100.0)
        if any(v is not None for v in sv.get("sla_compliance") or []):
            sla_body += line_chart(
                labels,
                [("compliance %", sv["sla_compliance"], PALETTE[1])],
                unit="percent",
                y_max=100,
                h=200,
                title="SLA trend",
            )
    else:
        sla_body = _empty(620, 90, "no SLA policies configured ([sla.NAME] in cstoolkit.toml)")
    charts.append(_panel("SLA compliance", sla_body, "per policy, metric and target"))
    heat = report.get("heatmap") or {}
    charts.append(
        _panel(
            "Arrivals by hour and weekday",
            heatmap_svg(heat.get("counts") or []),
            f"tickets created, local time ({report['timezone']})",
        )
    )
    staffing = report.get("staffing")
    if staffing:
        hours = [f"{h:02d}:00" for h in range(24)]
        lines = [
            (
                WEEKDAY_NAMES[w],
                [float(x) for x in staffing["scheduled"][w]],
                PALETTE[w % len(PALETTE)],
            )
            for w in range(7)
        ]
        sub = (
            f"scheduled agents per hour (Erlang C, {staffing['service_level'] * 100:.0f}% in "
            f"{staffing['answer_seconds']:.0f}s, AHT {fmt_duration(staffing['aht_seconds'])} "
            f"{staffing['aht_source']}, shrinkage {staffing['shrinkage'] * 100:.0f}%)"
        )
        charts.append(_panel("Staffing curve", line_chart(hours, lines, title="staffing"), sub))
    backlog = metrics.get("backlog")
    if backlog and backlog.get("table"):
        rows = [(str(r[0]), float(r[1]), PALETTE[2]) for r in backlog["table"]["rows"]]
        charts.append(
            _panel(
                "Backlog by age",
                hbar_chart(rows),
                f"{headline(backlog) or 0:,.0f} unsolved tickets at the end of the period",
            )
        )
    chan = metrics.get("volume_by_channel")
    if chan and chan.get("table"):
        rows = [
            (str(r[0]), float(r[1]), PALETTE[i % len(PALETTE)])
            for i, r in enumerate(chan["table"]["rows"])
        ]
        charts.append(_panel("Volume by channel", hbar_chart(rows), details(chan)))
    parts.append('<div class="grid">' + "".join(charts) + "</div>")

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
