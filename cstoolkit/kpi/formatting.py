"""How the KPI report's values read: durations, percentages and deltas, sparklines, the period
line, each metric's details, and the tables of the vendor check (``--vendor-metrics``). Every
renderer (:mod:`cstoolkit.kpi.render`, :mod:`cstoolkit.kpi.html`) and the quickstart use these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SPARKS = "▁▂▃▄▅▆▇█"
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# -- formatting ----------------------------------------------------------------------------------


def sparkline(values: Sequence[float | None]) -> str:
    """``[1, 5, 3]`` -> ``"▁█▄"``; missing values are blank."""
    nums = [v for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    span = hi - lo
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span == 0:
            out.append(SPARKS[0] if v == 0 else SPARKS[3])
        else:
            out.append(SPARKS[min(7, int((v - lo) / span * 7 + 0.5))])
    return "".join(out)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if s < 60:
        return f"{sign}{s:.0f}s"
    if s < 3600:
        return f"{sign}{s / 60:.0f}m"
    if s < 86400:
        h, m = divmod(round(s / 60), 60)
        return f"{sign}{h}h {m:02d}m"
    d, h = divmod(round(s / 3600), 24)
    return f"{sign}{d}d {h}h"


def fmt_value(unit: str, value: float | None, labels: dict[str, str] | None = None) -> str:
    if value is None:
        return "–"
    if unit == "seconds":
        return fmt_duration(value)
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "currency":
        cur = (labels or {}).get("currency", "")
        return f"{value:,.2f} {cur}".strip()
    if unit == "score":
        return f"{value:+.1f}" if abs(value) > 7 else f"{value:.2f}"
    return f"{value:,.2f}"


def fmt_delta(unit: str, delta: float | None) -> str:
    if delta is None:
        return ""
    if unit == "seconds":
        return ("+" if delta >= 0 else "-") + fmt_duration(abs(delta))
    if unit == "percent":
        return f"{delta:+.1f} pp"
    if unit == "count":
        return f"{delta:+,.0f}"
    return f"{delta:+.2f}"


def headline(entry: dict[str, Any], which: str = "values") -> float | None:
    vals = entry.get(which) or {}
    v = vals.get(entry["headline"])
    return v if isinstance(v, int | float) else None


def details(entry: dict[str, Any]) -> str:
    """A one-line summary of a metric's other values."""
    v = entry["values"]
    name, unit = entry["name"], entry["unit"]
    if unit == "seconds":
        variant = "business" if entry["headline"].startswith("business") else "calendar"
        other = "calendar" if variant == "business" else "business"
        parts = [
            f"mean {fmt_duration(v.get(f'{variant}.mean'))}",
            f"p90 {fmt_duration(v.get(f'{variant}.p90'))}",
            f"n={v.get('count') or 0:,}",
        ]
        if variant == "business":
            parts.append(f"calendar median {fmt_duration(v.get(f'{other}.median'))}")
        if name == "first_reply_time" and v.get("no_reply"):
            parts.append(f"{v['no_reply']:,} without reply")
        return " · ".join(parts)
    if name == "one_touch_rate":
        return f"{v.get('one_touch', 0):,} of {v.get('solved', 0):,} solved"
    if name == "reopen_rate":
        return (
            f"{v.get('reopened', 0):,} of {v.get('solved', 0):,} solved "
            f"({v.get('reopens', 0):,} reopens)"
        )
    if name == "backlog":
        ages = [f"{k[4:]} {n:,}" for k, n in v.items() if k.startswith("age.")]
        return " · ".join(ages)
    if name == "sla_compliance":
        return f"{v.get('met', 0):,} of {v.get('completed', 0):,} met"
    if name == "csat":
        return f"{v.get('good', 0):,} good of {v.get('responses', 0):,}"
    if name == "nps":
        if not v.get("responses"):
            return "no answers"
        return (
            f"promoters {fmt_value('percent', v.get('promoters_pct'))} · detractors "
            f"{fmt_value('percent', v.get('detractors_pct'))} · n={v.get('responses', 0):,}"
        )
    if name == "ces":
        return f"agree {fmt_value('percent', v.get('agree_pct'))} · n={v.get('responses', 0):,}"
    if name == "volume_by_channel":
        main = (entry.get("labels") or {}).get("main_channel")
        share = v.get("main_share_pct")
        return f"main: {main} ({fmt_value('percent', share)})" if main else ""
    if name == "agent_productivity":
        return (
            f"replies/agent-day {fmt_value('number', v.get('replies_per_agent_day'))} · "
            f"{v.get('agents', 0):,} agents · {v.get('agent_days', 0):,} agent-days"
        )
    if name == "escalation_rate":
        return f"{v.get('escalated', 0):,} of {v.get('tickets', 0):,} tickets"
    if name == "cost_per_ticket":
        if v.get("cost") is None:
            return "no [costs] configured"
        return f"cost {fmt_value('currency', v.get('cost'), entry.get('labels'))}"
    if name == "arrivals_heatmap":
        if v.get("peak_weekday") is None:
            return ""
        return (
            f"peak {WEEKDAY_NAMES[int(v['peak_weekday'])]} {int(v['peak_hour']):02d}:00 "
            f"({v.get('peak_count', 0):,})"
        )
    return ""


def improved(entry: dict[str, Any]) -> bool | None:
    """Whether the headline moved the right way (None: neutral or unknown)."""
    d = (entry.get("delta") or {}).get(entry["headline"])
    better = entry.get("higher_is_better")
    if d is None or better is None or d == 0:
        return None
    return (d > 0) == better


def local_range(period: dict[str, Any], zone: str) -> str:
    """``2026-01-01 → 2026-01-31`` (the last day included) in ``zone``; times when a bound is
    not a local midnight."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from cstoolkit.timespec import parse_time

    tz = ZoneInfo(zone)
    a = parse_time(period["since"], relative=False).astimezone(tz)
    b = parse_time(period["until"], relative=False).astimezone(tz)
    if a.time() == b.time() == datetime.min.time():
        last = (b - timedelta(days=1)).date()
        return f"{a.date().isoformat()} → {last.isoformat()}"
    return f"{a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M} (end excluded)"


def period_line(report: dict[str, Any]) -> str:
    p = report["period"]
    cal = report["calendar"]
    zone = report["timezone"]
    line = f"{local_range(p, zone)} ({p['days']:g} days, {zone})"
    if cal.get("business_hours"):
        line += f" · business hours: {cal['name']}"
    if report.get("query"):
        line += f" · query: {report['query']}"
    prev = report.get("previous_period")
    if prev:
        line += f" · compared with {local_range(prev, zone)}"
    return line


# -- the vendor check (--vendor-metrics) ---------------------------------------------------------

VENDOR_NAMES = {"zendesk": "Zendesk"}


def vendor_title(vendor: dict[str, Any]) -> str:
    name = VENDOR_NAMES.get(vendor["vendor"], vendor["vendor"])
    return f"Vendor check: ours vs {name} ticket metrics"


def vendor_caption(vendor: dict[str, Any]) -> str:
    """How to read the vendor table: the tolerance and whose schedule the business minutes use."""
    name = VENDOR_NAMES.get(vendor["vendor"], vendor["vendor"])
    text = (
        f"{vendor['tickets_with_metric_set']:,} tickets with {name} metrics · durations agree "
        f"within {fmt_duration(vendor['tolerance_seconds'])}, counts when equal"
    )
    if vendor.get("business_hours"):
        text += (
            f" · business minutes: ours on calendar {vendor['calendar']}, {name}'s on its own "
            "schedule (they differ where the schedules do)"
        )
    return text


def _vendor_number(unit: str, value: float | None) -> str:
    if value is None:
        return "–"
    if unit == "seconds":
        return fmt_duration(value)
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _vendor_diff(unit: str, diff: float) -> str:
    if unit == "seconds":
        return ("+" if diff >= 0 else "-") + fmt_duration(abs(diff))
    return f"{diff:+,.0f}"


def vendor_table(vendor: dict[str, Any], worst: int = 3) -> tuple[list[str], list[list[str]]]:
    """The vendor check as text cells: one row per compared value and clock."""
    name = VENDOR_NAMES.get(vendor["vendor"], vendor["vendor"])
    columns = [
        "value",
        "clock",
        "paired",
        "ours only",
        f"{name} only",
        "agree",
        "our median",
        f"{name} median",
        "our mean",
        f"{name} mean",
        "largest disagreements (ours - theirs)",
    ]
    rows: list[list[str]] = []
    for c in vendor["comparisons"]:
        unit = c["unit"]
        agree = "–" if c["agree_pct"] is None else f"{c['agree_pct']:.1f}%"
        if c["paired"]:
            agree += f" ({c['agreeing']:,}/{c['paired']:,})"
        worst_cells = ", ".join(
            f"{d['ticket']} ({_vendor_diff(unit, d['difference'])})"
            for d in c["largest_disagreements"][:worst]
        )
        rows.append(
            [
                c["label"],
                c["clock"],
                f"{c['paired']:,}",
                f"{c['ours_only']:,}",
                f"{c['vendor_only']:,}",
                agree,
                _vendor_number(unit, c["ours_median"]),
                _vendor_number(unit, c["vendor_median"]),
                _vendor_number(unit, c["ours_mean"]),
                _vendor_number(unit, c["vendor_mean"]),
                worst_cells,
            ]
        )
    return columns, rows
