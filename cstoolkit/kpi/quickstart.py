"""The KPI part of ``cst quickstart``: a short summary of the sample helpdesk and the HTML report.

:func:`demo` is called by :mod:`cstoolkit.quickstart` after the sync. The summary is made with
the workspace's config exactly as ``cst report kpi`` reads it (no override of any kind), so each
figure it prints is the one ``cst report kpi`` prints in the workspace with no flags; the HTML
report adds the comparison with the previous period (``--compare previous``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.host import Host
    from cstoolkit.store import Store

REPORT_NAME = "kpi-report.html"
#: The command that prints the same figures in the workspace, and the one that writes the page.
FOLLOW_UP = "cst report kpi"
HTML_COMMAND = f"cst report kpi --compare previous --out {REPORT_NAME}"
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
    ("self_service", "answered from the KB"),
)


def demo(
    config: Config, store: Store, out_dir: Path, host: Host | None = None
) -> tuple[str, Path, dict[str, str]]:
    """Build the last 30 days' KPI report of the sample (compared with the 30 days before),
    write it as HTML to ``out_dir/kpi-report.html`` and return a text summary, that path and
    the figures shown (metric name -> the value as printed)."""
    from cstoolkit.kpi.formatting import fmt_value, headline, local_range
    from cstoolkit.kpi.html import render_html
    from cstoolkit.kpi.report import KpiOptions, build_report

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
        f" times in {hours}:"
    ]
    if not cal["business_hours"]:
        lines.append("  (no business-hours calendar: add [calendars.NAME] and [kpi] calendar)")
    figures: dict[str, str] = {}
    for name, label in _LINES:
        m = metrics.get(name)
        if m is None:
            continue
        value = fmt_value(m["unit"], headline(m), m.get("labels"))
        figures[name] = value
        lines.append(f"  {label:<26}{value:>10}")
    lines.append(f"  the same figures, and every other metric: {FOLLOW_UP}")
    lines.append(f"HTML report: {path}")
    lines.append(f"  made with: {HTML_COMMAND}")
    return "\n".join(lines), path, figures
