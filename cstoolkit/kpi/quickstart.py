"""The KPI part of ``cst quickstart``: a short summary of the sample helpdesk and the HTML report.

:func:`demo` is called by :mod:`cstoolkit.quickstart` after the sync. When the workspace's config
has no ``[calendars.*]`` table, the demo uses :data:`DEMO_CALENDAR` (the sample desk's office
hours in Europe/Madrid) so business-hours figures are meaningful, and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.host import Host
    from cstoolkit.store import Store

REPORT_NAME = "kpi-report.html"
DEMO_CALENDAR = {
    "timezone": "Europe/Madrid",
    "hours": {"mon-fri": "09:00-18:00"},
    "holidays_country": "ES",
}
_LINES = (
    ("tickets_created", "created"),
    ("tickets_solved", "solved"),
    ("first_reply_time", "first reply (median)"),
    ("full_resolution_time", "full resolution (median)"),
    ("one_touch_rate", "one-touch"),
    ("reopen_rate", "reopened"),
    ("backlog", "backlog"),
    ("csat", "CSAT"),
    ("sla_compliance", "SLA compliance"),
)


def demo(config: Config, store: Store, out_dir: Path, host: Host | None = None) -> tuple[str, Path]:
    """Build the last 30 days' KPI report of the sample (compared with the 30 days before),
    write it as HTML to ``out_dir/kpi-report.html`` and return a text summary and that path."""
    from dataclasses import replace

    from cstoolkit.kpi.formatting import fmt_delta, fmt_value, headline, local_range
    from cstoolkit.kpi.html import render_html
    from cstoolkit.kpi.report import KpiOptions, build_report

    note = ""
    if not (config.data.get("calendars") or {}):
        data: dict[str, Any] = dict(config.data)
        data["calendars"] = {"support": DEMO_CALENDAR}
        data["kpi"] = {**(data.get("kpi") or {}), "calendar": "support"}
        config = replace(config, data=data)
        note = "  (a demo calendar, Mon-Fri 09:00-18:00: add [calendars.NAME] and [kpi] calendar)"
    report = build_report(store, config, KpiOptions(compare="previous"), host)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_NAME
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_html(report), "utf-8")
    tmp.replace(path)
    metrics = {m["name"]: m for m in report["metrics"]}
    cal = report["calendar"]
    hours = f"business hours of {cal['name']!r}" if cal["business_hours"] else "calendar hours"
    lines = [
        f"KPI summary, {local_range(report['period'], report['timezone'])} ({report['timezone']}),"
        f" times in {hours}, change vs the previous 30 days:"
    ]
    if note and cal["business_hours"]:
        lines.append(note)
    for name, label in _LINES:
        m = metrics.get(name)
        if m is None:
            continue
        value = fmt_value(m["unit"], headline(m), m.get("labels"))
        delta = fmt_delta(m["unit"], (m.get("delta") or {}).get(m["headline"]))
        lines.append(f"  {label:<26}{value:>10}  {delta}".rstrip())
    return "\n".join(lines), path
