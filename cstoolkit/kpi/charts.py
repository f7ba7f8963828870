"""Charts of the HTML report: inline SVG and HTML, no script, labels that keep their size.

A chart's marks (lines, bars, grid) are drawn in an SVG whose ``viewBox`` stretches to the
panel (``preserveAspectRatio="none"``, strokes with ``vector-effect: non-scaling-stroke``), while
every piece of text (axis labels, units, values) is HTML positioned in percent of the plot: on a
390 px phone and a 1280 px screen the labels are the same 11-12 px, never scaled with the chart.
Each chart states its unit; :mod:`cstoolkit.kpi.html` gives it a title and a one-line reading.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from cstoolkit.kpi.render import WEEKDAY_NAMES, fmt_duration

PALETTE = ("#4f46e5", "#10b981", "#f59e0b", "#ef4444", "#06b6d4", "#8b5cf6", "#ec4899")
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"

#: The CSS of the charts (the page adds its own around it).
CSS = f"""
.chart{{margin:4px 0 0}}
.axis-unit{{font-size:11px;color:{MUTED};margin:0 0 4px}}
.plot{{position:relative;height:var(--h,220px);margin-left:var(--left,52px);
  border-bottom:1px solid #d1d5db}}
.plot svg{{position:absolute;left:0;top:0;width:100%;height:100%;overflow:visible}}
.plot svg *{{vector-effect:non-scaling-stroke}}
.ylab{{position:absolute;right:calc(100% + 6px);transform:translateY(-50%);font-size:11px;
  color:{MUTED};white-space:nowrap;line-height:1}}
.xlabs{{position:relative;height:20px;margin-left:var(--left,52px)}}
.xlab{{position:absolute;top:4px;transform:translateX(-50%);font-size:11px;color:{MUTED};
  white-space:nowrap;line-height:1}}
.hbars{{display:grid;grid-template-columns:fit-content(45%) minmax(40px,1fr) max-content;
  gap:6px 10px;align-items:center;font-size:12px}}
.hbars .lab{{text-align:right;overflow-wrap:anywhere}}
.hbars .track{{background:#f3f4f6;border-radius:4px;height:18px;overflow:hidden}}
.hbars .fill{{height:100%;border-radius:4px}}
.hbars .val{{font-variant-numeric:tabular-nums;white-space:nowrap}}
.heat{{display:grid;grid-template-columns:34px repeat(24,minmax(0,1fr));gap:2px;font-size:11px;
  color:{MUTED}}}
.heat .h{{grid-column:span 3;line-height:1.4}}
.heat .d{{line-height:20px}}
.heat i{{display:block;height:20px;border-radius:3px}}
.heat b{{display:block;height:22px;line-height:22px;border-radius:3px;text-align:center;
  font-weight:600;font-size:11px;color:{INK}}}
.scale{{display:flex;align-items:center;gap:8px;font-size:11px;color:{MUTED};margin-top:8px}}
.scale span{{display:inline-block;width:120px;height:8px;border-radius:2px}}
.scroll{{overflow-x:auto}}
.scroll .heat{{min-width:460px}}
.empty{{background:#f9fafb;border-radius:8px;color:{MUTED};text-align:center;padding:28px 12px}}
@media (max-width:700px){{.xlab.alt{{display:none}}.heat .h.alt{{visibility:hidden}}}}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def nice_max(v: float, *, whole: bool = False) -> float:
    """A round upper bound for an axis (whole: a multiple of 4, so quarter ticks are whole)."""
    if v <= 0:
        return 4.0 if whole else 1.0
    if whole and v <= 8:
        return 4.0 if v <= 4 else 8.0
    mag = 10 ** len(str(int(v))) / 10
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if v <= step * mag:
            return step * mag
    return v  # pragma: no cover


def fmt_axis(v: float, unit: str) -> str:
    if unit == "seconds":
        return fmt_duration(v)
    if unit == "percent":
        return f"{v:.0f}%"
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k".replace(".0k", "k")
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def empty(text: str) -> str:
    """A placeholder where a chart has nothing to show (the browser test looks for these)."""
    return f'<div class="empty">{esc(text)}</div>'


def legend(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="legend">'
        + "".join(f'<span><i style="background:{c}"></i>{esc(n)}</span>' for n, c in items)
        + "</div>"
    )


def sparkline_svg(values: Sequence[float | None], color: str = PALETTE[0], h: int = 34) -> str:
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return ""
    lo = min(v for _, v in pts)
    span = (max(v for _, v in pts) - lo) or 1.0
    n = max(len(values) - 1, 1)
    coords = [(i / n * 100, 96 - (v - lo) / span * 92) for i, v in pts]
    line = " ".join(f"{x:.2f},{y:.2f}" for x, y in coords)
    area = f"{coords[0][0]:.2f},100 {line} {coords[-1][0]:.2f},100"
    return (
        f'<svg viewBox="0 0 100 100" width="100%" height="{h}" preserveAspectRatio="none" '
        f'role="img" aria-label="trend"><polygon points="{area}" fill="{color}" opacity=".12"/>'
        f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.8" '
        'vector-effect="non-scaling-stroke"/></svg>'
    )


def _frame(
    ticks: Sequence[tuple[float, str]],
    xlabels: Sequence[tuple[float, str]],
    marks: str,
    *,
    unit_text: str,
    height: int,
    title: str,
) -> str:
    """The plot box: grid and marks in a stretched SVG (0-100 both ways), text in HTML."""
    grid = "".join(
        f'<line x1="0" x2="100" y1="{100 - f:.2f}" y2="{100 - f:.2f}" stroke="{GRID}"/>'
        for f, _ in ticks
    )
    ylabs = "".join(
        f'<span class="ylab" style="top:{100 - f:.2f}%">{esc(text)}</span>' for f, text in ticks
    )
    xlabs = "".join(
        f'<span class="xlab{" alt" if i % 2 else ""}" style="left:{x:.2f}%">{esc(text)}</span>'
        for i, (x, text) in enumerate(xlabels)
    )
    return (
        f'<figure class="chart" role="img" aria-label="{esc(title)}">'
        f'<div class="axis-unit">{esc(unit_text)}</div>'
        f'<div class="plot" style="--h:{height}px">'
        f'<svg viewBox="0 0 100 100" preserveAspectRatio="none" aria-hidden="true">{grid}{marks}'
        f"</svg>{ylabs}</div>"
        f'<div class="xlabs">{xlabs}</div></figure>'
    )


def _ticks(lo: float, hi: float, unit: str) -> list[tuple[float, str]]:
    span = (hi - lo) or 1.0
    return [((lo + span * k / 4 - lo) / span * 100, fmt_axis(lo + span * k / 4, unit)) for k in
            range(5)]  # fmt: skip


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    *,
    unit: str = "count",
    unit_text: str,
    y_min: float | None = 0.0,
    y_max: float | None = None,
    height: int = 220,
    title: str = "",
    whole: bool = False,
) -> str:
    """Lines over time, with gaps where values are missing, and a legend."""
    vals = [v for _, s, _ in series for v in s if v is not None]
    if not vals:
        return empty("no data in this period")
    lo = min(vals) if y_min is None else min(y_min, *vals)
    if y_min is None:
        lo = -nice_max(-lo) if lo < 0 else 0.0
    hi = y_max if y_max is not None else nice_max(max(vals), whole=whole)
    span = (hi - lo) or 1.0
    n = max(len(labels) - 1, 1)
    marks = []
    for _, values, color in series:
        runs: list[list[str]] = [[]]
        for i, point in enumerate(values):
            if point is None:
                runs.append([])
            else:
                runs[-1].append(f"{i / n * 100:.2f},{100 - (point - lo) / span * 100:.2f}")
        for run in runs:
            if len(run) > 1:
                marks.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" '
                    'stroke-width="2.2" stroke-linejoin="round"/>'
                )
            elif len(run) == 1:  # a lone point: a round-capped dot of the line's width
                marks.append(
                    f'<polyline points="{run[0]} {run[0]}" stroke="{color}" stroke-width="5" '
                    'stroke-linecap="round"/>'
                )
    step = max(1, -(-len(labels) // 8))
    xlabels = [(i / n * 100, short_label(labels[i])) for i in range(0, len(labels), step)]
    return _frame(
        _ticks(lo, hi, unit), xlabels, "".join(marks), unit_text=unit_text, height=height,
        title=title,
    ) + legend([(name, c) for name, _, c in series])  # fmt: skip


def short_label(label: str) -> str:
    """``2026-01-31`` -> ``01-31`` (the year is in the header)."""
    return label[5:] if len(label) == 10 and label[4] == "-" else label


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    unit_text: str,
    height: int = 220,
    title: str = "",
) -> str:
    """Grouped vertical bars, one group per label."""
    vals = [v for _, s, _ in series for v in s]
    if not vals or max(vals) <= 0:
        return empty("no data in this period")
    hi = nice_max(max(vals))
    slot = 100 / len(labels)
    width = slot * 0.8 / len(series)
    marks = []
    for i, label in enumerate(labels):
        x0 = i * slot + slot * 0.1
        for j, (name, values, color) in enumerate(series):
            bh = values[i] / hi * 100
            marks.append(
                f'<rect x="{x0 + j * width:.2f}" y="{100 - bh:.2f}" width="{width * 0.92:.2f}" '
                f'height="{bh:.2f}" fill="{color}"><title>{esc(label)}, {esc(name)}: '
                f"{values[i]:,.0f}</title></rect>"
            )
    xlabels = [((i + 0.5) * slot, label) for i, label in enumerate(labels)]
    out = _frame(
        _ticks(0.0, hi, "count"), xlabels, "".join(marks), unit_text=unit_text, height=height,
        title=title,
    )  # fmt: skip
    return out + (legend([(n, c) for n, _, c in series]) if len(series) > 1 else "")


def hbar_chart(
    rows: Sequence[tuple[str, float, str]],
    *,
    unit: str = "count",
    max_value: float | None = None,
    title: str = "",
) -> str:
    """Horizontal bars, each with its label and value (channels, SLA targets, backlog)."""
    if not rows:
        return empty("no data in this period")
    hi = max_value or max(v for _, v, _ in rows) or 1.0
    cells = []
    for label, v, color in rows:
        shown = fmt_axis(v, unit) if unit != "count" else f"{v:,.0f}"
        if unit == "percent":
            shown = f"{v:.1f}%"
        cells.append(
            f'<span class="lab">{esc(label)}</span><span class="track"><span class="fill" '
            f'style="display:block;width:{max(0.0, min(v / hi, 1.0)) * 100:.1f}%;'
            f'background:{color}"></span></span><span class="val">{esc(shown)}</span>'
        )
    return f'<div class="hbars" role="img" aria-label="{esc(title)}">{"".join(cells)}</div>'


def blend(a: str, b: str, t: float) -> str:
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def _hour_header() -> str:
    return "<span></span>" + "".join(
        f'<span class="h{" alt" if (h // 3) % 2 else ""}">{h:02d}h</span>' for h in range(0, 24, 3)
    )


def heatmap(counts: Sequence[Sequence[int]], *, title: str = "arrivals heatmap") -> str:
    """Weekday rows by hour columns, colour by count, with the colour scale."""
    peak = max((max(r) for r in counts), default=0)
    if not peak:
        return empty("no tickets created in this period")
    low, high = "#eef2ff", "#312e81"
    cells = [_hour_header()]
    for wd, row in enumerate(counts):
        cells.append(f'<span class="d">{WEEKDAY_NAMES[wd]}</span>')
        for hour, n in enumerate(row):
            color = blend(low, high, (n / peak) ** 0.7) if n else "#f9fafb"
            cells.append(
                f'<i style="background:{color}" title="{WEEKDAY_NAMES[wd]} {hour:02d}:00: '
                f'{n:,} tickets"></i>'
            )
    return (
        f'<div class="heat" role="img" aria-label="{esc(title)}">{"".join(cells)}</div>'
        f'<div class="scale">0<span style="background:linear-gradient(90deg,{low},{high})">'
        f"</span>{peak:,} tickets per hour slot</div>"
    )


def number_grid(values: Sequence[Sequence[int]], *, title: str) -> str:
    """Weekday rows by hour columns of whole numbers (agents), shaded by value."""
    peak = max((max(r) for r in values), default=0)
    if not peak:
        return empty("no arrivals to staff in this period")
    cells = [_hour_header()]
    for wd, row in enumerate(values):
        cells.append(f'<span class="d">{WEEKDAY_NAMES[wd]}</span>')
        for hour, n in enumerate(row):
            color = blend("#ecfdf5", "#34d399", n / peak) if n else "#f9fafb"
            cells.append(
                f'<b style="background:{color}" title="{WEEKDAY_NAMES[wd]} {hour:02d}:00">{n}</b>'
            )
    return (
        f'<div class="scroll"><div class="heat" role="img" aria-label="{esc(title)}">'
        f"{''.join(cells)}</div></div>"
    )
