"""Renderers of the KPI report document: terminal table, JSON, CSV, Markdown.

Each renderer is an *exporter* (registered through ``register_exporters``; its ``name`` is the
``--format`` value) with ``write(report, out)``; the HTML one lives in :mod:`cstoolkit.kpi.html`.
All of them draw from the same document built by :func:`cstoolkit.kpi.report.build_report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any, ClassVar

from cstoolkit.kpi.formatting import (
    SPARKS,
    WEEKDAY_NAMES,
    details,
    fmt_delta,
    fmt_duration,
    fmt_value,
    headline,
    improved,
    period_line,
    sparkline,
    vendor_caption,
    vendor_table,
    vendor_title,
)

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
                add_row(t, [cell(c, v) for c, v in zip(cols, r, strict=True)])
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
        gaps = report.get("knowledge_gaps")
        if gaps:
            t = new_table(title=gaps_title(gaps), title_justify="left")
            for c in gaps["columns"]:
                t.add_column(c.replace("_", " "), justify="left" if c in GAP_TEXT else "right")
            for r in gap_rows(gaps):
                add_row(t, [cell(c, v) for c, v in zip(gaps["columns"], r, strict=True)])
            screen.print(t)
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
        if "self_service" in by_name:  # a plugin metric that computes per group
            cols.append(("self_service", "answered"))
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


#: the text columns of the knowledge-gaps table (left-aligned)
GAP_TEXT = ("topic", "gap", "best_article")


def gaps_title(gaps: dict[str, Any]) -> str:
    """``Knowledge gaps: 2 of 5 topics (topics: tags, score >= 0.35)``."""
    return (
        f"Knowledge gaps: {gaps['gaps']} of {len(gaps['rows'])} topics (topics: "
        f"{gaps['topics']}, score >= {gaps['min_score']:g})"
    )


def gap_rows(gaps: dict[str, Any]) -> list[list[Any]]:
    """The knowledge-gaps rows to show (``gap`` as yes/no)."""
    return [["yes" if v is True else "no" if v is False else v for v in r] for r in gaps["rows"]]


def cell(column: str, value: Any) -> str:
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
    gaps = report.get("knowledge_gaps")
    if gaps:
        cols = gaps["columns"]
        for r in gaps["rows"]:
            for c, v in zip(cols[1:], r[1:], strict=True):
                rows.append(("knowledge_gaps", r[0], "knowledge_gaps", c, v, None, None))
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
                    _md_row([cell(c, v) for c, v in zip(table["columns"], r, strict=True)])
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
        gaps = report.get("knowledge_gaps")
        if gaps:
            cols = gaps["columns"]
            lines += ["", f"## {gaps_title(gaps)}", "", _md_row(cols), _md_row(["---"] * len(cols))]
            lines += [
                _md_row([cell(c, v) for c, v in zip(cols, r, strict=True)]) for r in gaps["rows"]
            ]
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
