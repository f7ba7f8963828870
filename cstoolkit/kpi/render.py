"""Renderers of the KPI report document: terminal table, JSON, CSV, Markdown.

Each renderer is an *exporter* (registered through ``register_exporters``; its ``name`` is the
``--format`` value) with ``write(report, out)``; the HTML one lives in :mod:`cstoolkit.kpi.html`.
All of them draw from the same document built by :func:`cstoolkit.kpi.report.build_report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any, ClassVar

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


# -- exporters -----------------------------------------------------------------------------------


class Exporter:
    """Base of the built-in exporters (plugins only need ``name`` and ``write``)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    extension: ClassVar[str] = ".txt"

    def write(self, report: dict[str, Any], out: IO[str]) -> None:
        raise NotImplementedError


class JsonExporter(Exporter):
    name = "json"
    description = "The report document (schema: docs/report-schema.md)."
    extension = ".json"

    def write(self, report: dict[str, Any], out: IO[str]) -> None:
        from cstoolkit.output import write_json

        write_json(report, out)


def _series_of(report: dict[str, Any], name: str) -> list[float | None] | None:
    values = (report.get("series") or {}).get("values") or {}
    return values.get(name)


class TableExporter(Exporter):
    name = "table"
    description = "Rich terminal tables with sparklines."
    extension = ".txt"

    def write(self, report: dict[str, Any], out: IO[str]) -> None:
        from rich.text import Text

        from cstoolkit.output import add_row, console, new_table, text

        tty = hasattr(out, "isatty") and out.isatty()
        screen = console(out, soft_wrap=False, width=max(100, console(out).width) if tty else 160)
        screen.print(Text("KPI report", style="bold"), text(period_line(report), style="dim"))
        compare = report.get("previous_period") is not None
        table = new_table(show_lines=False, pad_edge=False)
        table.add_column("Metric")
        table.add_column("Value", justify="right")
        if compare:
            table.add_column("Previous", justify="right")
            table.add_column("Δ", justify="right")
        table.add_column("Trend", no_wrap=True, max_width=40)
        table.add_column("Details", overflow="fold")
        for entry in report["metrics"]:
            unit = entry["unit"]
            value = fmt_value(unit, headline(entry), entry.get("labels"))
            row: list[Any] = [entry["label"], value]
            if compare:
                row.append(fmt_value(unit, headline(entry, "previous"), entry.get("labels")))
                d = (entry.get("delta") or {}).get(entry["headline"])
                good = improved(entry)
                style = "green" if good else ("red" if good is False else "")
                row.append(Text(fmt_delta(unit, d), style=style))
            series = _series_of(report, entry["name"])
            row.append(Text(sparkline(series[-40:]), style="cyan") if series else "")
            row.append(details(entry))
            add_row(table, row)
        screen.print(table)
        by_name = {m["name"]: m for m in report["metrics"]}
        for name, title in (
            ("backlog", "Backlog by age"),
            ("volume_by_channel", "Volume by channel"),
            ("sla_compliance", "SLA compliance by target"),
            ("escalation_rate", "Escalation by tier"),
            ("agent_productivity", "Agents (top 15 by solved)"),
        ):
            entry = by_name.get(name)
            if not entry or not entry.get("table") or not entry["table"]["rows"]:
                continue
            t = new_table(title=title, title_justify="left")
            cols = entry["table"]["columns"]
            for c in cols:
                t.add_column(
                    c.replace("_", " "),
                    justify="left"
                    if c in ("agent", "name", "channel", "policy", "metric", "age")
                    else "right",
                )
            for r in entry["table"]["rows"][:15]:
                add_row(t, [_cell(c, v) for c, v in zip(cols, r, strict=True)])
            screen.print(t)
        heat = report.get("heatmap")
        if heat and any(map(any, heat["counts"])):
            peak = max(max(row) for row in heat["counts"]) or 1
            t = new_table(
                title=f"Arrivals by hour ({report['timezone']})",
                title_justify="left",
                show_edge=False,
            )
            t.add_column("")
            t.add_column("00 03 06 09 12 15 18 21")
            for w, counts in enumerate(heat["counts"]):
                cells = "".join(SPARKS[min(7, int(c / peak * 7.999))] if c else "·" for c in counts)
                t.add_row(WEEKDAY_NAMES[w], Text(cells, style="magenta"))
            screen.print(t)
        if report.get("groups"):
            self._groups(screen, report)
        vendor = report.get("vendor")
        if vendor:
            cols, vrows = vendor_table(vendor)
            t = new_table(
                title=vendor_title(vendor),
                title_justify="left",
                caption=vendor_caption(vendor),
                caption_justify="left",
            )
            for c in cols:
                t.add_column(
                    c, justify="left" if c in ("value", "clock") or "largest" in c else "right"
                )
            for r in vrows:
                add_row(t, r)
            screen.print(t)
        for note in report.get("notes") or []:
            screen.print(text(f"note: {note}", style="dim"))

    def _groups(self, console: Any, report: dict[str, Any]) -> None:
        from cstoolkit.output import add_row, new_table

        by_name = {m["name"]: m for m in report["metrics"]}
        cols = [
            ("tickets_created", "count"),
            ("tickets_solved", "count"),
            ("first_reply_time", None),
            ("full_resolution_time", None),
            ("one_touch_rate", "rate"),
            ("reopen_rate", "rate"),
            ("csat", "csat_pct"),
            ("sla_compliance", "rate"),
        ]
        t = new_table(title=f"By {report['by']}", title_justify="left")
        t.add_column(report["by"])
        for name, _ in cols:
            t.add_column(by_name.get(name, {}).get("label", name), justify="right")
        for g in report["groups"]:
            row = [g["label"]]
            for name, key in cols:
                vals = g["values"].get(name) or {}
                entry = by_name.get(name)
                k = key or (entry["headline"] if entry else "count")
                row.append(fmt_value(entry["unit"] if entry else "number", vals.get(k)))
            add_row(t, row)
        console.print(t)


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "–"
    if column.endswith("_pct"):
        return f"{value:.1f}%"
    if column.endswith("_seconds"):
        return fmt_duration(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


class CsvExporter(Exporter):
    """One long table: ``section, group, metric, key, value, previous, delta``."""

    name = "csv"
    description = (
        "Every number as one CSV row (section, group, metric, key, value, previous, delta)."
    )
    extension = ".csv"
    COLUMNS = ("section", "group", "metric", "key", "value", "previous", "delta")

    def write(self, report: dict[str, Any], out: IO[str]) -> None:
        from cstoolkit.output import csv_writer

        w = csv_writer(out)
        w.writerow(self.COLUMNS)
        for row in csv_rows(report):
            w.writerow(row)


def csv_rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for m in report["metrics"]:
        prev, delta = m.get("previous") or {}, m.get("delta") or {}
        for k, v in m["values"].items():
            rows.append(("metric", "", m["name"], k, v, prev.get(k), delta.get(k)))
        for k, v in (m.get("labels") or {}).items():
            rows.append(("label", "", m["name"], k, v, None, None))
        table = m.get("table")
        if table:
            cols = table["columns"]
            for r in table["rows"]:
                for c, v in zip(cols[1:], r[1:], strict=True):
                    rows.append(("table", r[0], m["name"], c, v, None, None))
    for g in report.get("groups") or []:
        for metric, vals in g["values"].items():
            for k, v in vals.items():
                rows.append(
                    ("group", g["key"] if g["key"] is not None else "", metric, k, v, None, None)
                )
    series = report.get("series") or {}
    for name, values in (series.get("values") or {}).items():
        for bucket, v in zip(series.get("buckets") or [], values, strict=True):
            rows.append(("series", bucket, name, "value", v, None, None))
    heat = report.get("heatmap") or {}
    for w, counts in zip(heat.get("weekdays") or [], heat.get("counts") or [], strict=True):
        for h, n in enumerate(counts):
            rows.append(("heatmap", w, "arrivals_heatmap", str(h), n, None, None))
    vendor = report.get("vendor")
    if vendor:
        for c in vendor["comparisons"]:
            for k in VENDOR_CSV_KEYS:
                rows.append(("vendor", c["clock"], c["name"], k, c[k], None, None))
            for d in c["largest_disagreements"]:
                for k in ("ours", "vendor", "difference"):
                    key = f"{c['clock']}.{k}"
                    rows.append(
                        ("vendor_disagreement", d["ticket"], c["name"], key, d[k], None, None)
                    )
    return rows


class NdjsonExporter(Exporter):
    """The CSV's rows as JSON objects, one per line."""

    name = "ndjson"
    description = "Every number as one JSON object per line (the CSV's columns as keys)."
    extension = ".ndjson"

    def write(self, report: dict[str, Any], out: IO[str]) -> None:
        from cstoolkit.output import render

        columns = CsvExporter.COLUMNS
        render((dict(zip(columns, row, strict=True)) for row in csv_rows(report)), columns,
               "ndjson", out=out)  # fmt: skip


#: The numbers of each vendor comparison written as ``vendor`` rows of the CSV.
VENDOR_CSV_KEYS = (
    "paired",
    "ours_only",
    "vendor_only",
    "agreeing",
    "disagreeing",
    "agree_pct",
    "ours_median",
    "vendor_median",
    "ours_mean",
    "vendor_mean",
)


class MarkdownExporter(Exporter):
    name = "md"
    description = "Markdown: a summary table and one table per breakdown."
    extension = ".md"

    def write(self, report: dict[str, Any], out: IO[str]) -> None:
        compare = report.get("previous_period") is not None
        lines = ["# KPI report", "", period_line(report), ""]
        head = ["Metric", "Value"] + (["Previous", "Δ"] if compare else []) + ["Trend", "Details"]
        lines += [_md_row(head), _md_row(["---"] * len(head))]
        for m in report["metrics"]:
            unit = m["unit"]
            row = [m["label"], fmt_value(unit, headline(m), m.get("labels"))]
            if compare:
                row += [
                    fmt_value(unit, headline(m, "previous"), m.get("labels")),
                    fmt_delta(unit, (m.get("delta") or {}).get(m["headline"])),
                ]
            row += [sparkline(_series_of(report, m["name"]) or []), details(m)]
            lines.append(_md_row(row))
        for m in report["metrics"]:
            table = m.get("table")
            if not table or not table["rows"]:
                continue
            lines += [
                "",
                f"## {m['label']}",
                "",
                _md_row(table["columns"]),
                _md_row(["---"] * len(table["columns"])),
            ]
            for r in table["rows"]:
                lines.append(
                    _md_row([_cell(c, v) for c, v in zip(table["columns"], r, strict=True)])
                )
        if report.get("groups"):
            names = [
                m["name"] for m in report["metrics"] if m["name"] in report["groups"][0]["values"]
            ]
            by = {m["name"]: m for m in report["metrics"]}
            lines += [
                "",
                f"## By {report['by']}",
                "",
                _md_row([report["by"], *[by[n]["label"] for n in names]]),
                _md_row(["---"] * (len(names) + 1)),
            ]
            for g in report["groups"]:
                cells = [g["label"]]
                for n in names:
                    vals = g["values"][n]
                    cells.append(fmt_value(by[n]["unit"], vals.get(by[n]["headline"])))
                lines.append(_md_row(cells))
        vendor = report.get("vendor")
        if vendor:
            cols, vrows = vendor_table(vendor)
            lines += ["", f"## {vendor_title(vendor)}", "", vendor_caption(vendor), ""]
            lines += [_md_row(cols), _md_row(["---"] * len(cols))]
            lines += [_md_row(r) for r in vrows]
        for note in report.get("notes") or []:
            lines += ["", f"> note: {note}"]
        from cstoolkit.output import terminal_text

        out.write(terminal_text("\n".join(lines)) + "\n")


def _md_row(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


BUILTIN_EXPORTERS: tuple[type[Exporter], ...] = (
    TableExporter,
    JsonExporter,
    CsvExporter,
    NdjsonExporter,
    MarkdownExporter,
)
