"""The one renderer layer for records: table, json, ndjson, csv.

Data goes to stdout, messages to stderr. ``rich`` is imported only when a table is drawn.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import IO, Any

FORMATS = ("table", "json", "ndjson", "csv")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, indent=2)


def render(
    records: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: str = "table",
    *,
    out: IO[str] | None = None,
    title: str | None = None,
    table_columns: Sequence[str] | None = None,
) -> int:
    """Write records in ``fmt``; return how many were written.

    ``table_columns`` narrows what a terminal table shows; csv keeps every column.
    """
    out = out or sys.stdout
    count = 0
    if fmt == "ndjson":
        for rec in records:
            out.write(json.dumps(_plain(rec), ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "json":
        items = [_plain(r) for r in records]
        out.write(json.dumps(items, ensure_ascii=False, indent=2) + "\n")
        count = len(items)
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for rec in records:
            writer.writerow([cell(rec.get(c)) for c in columns])
            count += 1
    elif fmt == "table":
        from rich.console import Console
        from rich.table import Table

        columns = table_columns or columns
        table = Table(title=title, show_lines=False, header_style="bold")
        for c in columns:
            table.add_column(c, overflow="fold")
        for rec in records:
            table.add_row(*[cell(rec.get(c)) for c in columns])
            count += 1
        # Piped or redirected output has no terminal width: draw wide rather than fold cells.
        width = None if out.isatty() else 200
        Console(file=out, soft_wrap=False, width=width).print(table)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return count


def write_json(value: Any, out: IO[str] | None = None) -> None:
    (out or sys.stdout).write(to_json(value) + "\n")
