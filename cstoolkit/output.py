"""The one renderer: every command that prints records or messages goes through this module.

Formats (documented once, in docs/output.md):

* ``table``  a terminal table (rich), for people;
* ``json``   one JSON document (a list of records, or the command's own document);
* ``ndjson`` one JSON object per line, one line per record;
* ``csv``    a header row and one row per record;
* a command's own document formats (``html``, ``md``, ``prometheus``) are passed to
  :func:`emit` by that command and listed beside these in its ``--format``.

What people see is made safe here, once, for every command:

* **terminal**: text printed to a terminal (table cells, titles, messages) is printed literally
  (never read as rich markup, so ``no [x] configured`` stays whole) and its control characters
  (C0 and C1 except tab and newline, DEL, hence every ANSI escape sequence, and the bidi
  overrides, isolates and marks) are shown as visible escapes such as ``\\x1b`` and
  ``\\u202e``: see :func:`terminal_text`;
* **csv**: a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
  leading single quote, as OWASP recommends against formula injection, unless the whole cell is
  a plain number (``-3``, ``+1.5e3`` stay numbers): see :func:`csv_cell`;
* **json** and **ndjson** stay exact: they are data for programs.

Data goes to stdout, messages to stderr. ``rich`` is imported only when a table is drawn.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

#: The formats of every command that prints records.
FORMATS = ("table", "json", "ndjson", "csv")

#: One line of docs per format (``cst ... --help`` and docs/output.md say the same).
FORMAT_HELP = {
    "table": "a terminal table for people (control characters shown as escapes)",
    "json": "one JSON document, exact",
    "ndjson": "one JSON object per line, exact",
    "csv": "a header row and one row per record; formula-like cells quoted",
    "html": "a self-contained HTML page",
    "md": "Markdown",
    "prometheus": "the Prometheus text exposition format",
}

# -- neutralisation ----------------------------------------------------------------------------

# C0 controls but tab and newline, DEL and C1, the bidi marks, embeddings, overrides and
# isolates, and the Unicode line and paragraph separators.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_CONTROL}]")
_UNSAFE_ONE_LINE = re.compile(f"[{_CONTROL}\t\n]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(text: str, *, one_line: bool = False) -> str:
    """``text`` safe for a terminal: every control character as a visible escape.

    Tab and newline are kept unless ``one_line``; an ANSI escape sequence becomes inert text
    (``\\x1b[31m``), a bidi override shows as ``\\u202e``.
    """
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_visible, text)


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not evaluate (OWASP's CSV injection advice).

    Text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading
    single quote, unless the whole text is a plain number; numbers and None pass unchanged.
    """
    if not isinstance(value, str):
        return "" if value is None else value
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


# -- values ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


plain = _plain


def cell(value: Any) -> str:
    """A value as the text of one cell (lists space-separated, mappings as JSON)."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# Line separators other than "\n" that ``str.splitlines`` (and some log tools) break on; legal
# raw inside a JSON string, so they are written escaped: the data read back is the same.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, indent=indent).translate(_LINE_BREAKS)


def to_json(value: Any) -> str:
    return _dumps(value, indent=2)


def write_json(value: Any, out: IO[str] | None = None) -> None:
    (out or sys.stdout).write(to_json(value) + "\n")


def csv_writer(out: IO[str]) -> Any:
    """A CSV writer whose every cell goes through :func:`csv_cell`."""
    writer = csv.writer(out, lineterminator="\n")
    # The csv module quotes a cell holding "\n" (the line terminator) but not a bare "\r",
    # which readers take for a line break: such a row is written with every cell quoted.
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)

    class _Safe:
        def writerow(self, row: Iterable[Any]) -> None:
            cells = [csv_cell(v) for v in row]
            carriage = any(isinstance(c, str) and "\r" in c for c in cells)
            (quoted if carriage else writer).writerow(cells)

    return _Safe()


# -- terminal ----------------------------------------------------------------------------------


def text(value: Any, style: str = "") -> Any:
    """A rich ``Text`` of ``value``: literal (no markup) and neutralised."""
    from rich.text import Text

    if isinstance(value, Text):
        return value
    return Text(terminal_text(value if isinstance(value, str) else cell(value)), style=style)


def console(out: IO[str] | None = None, **kwargs: Any) -> Any:
    """A rich Console that never reads markup or highlights: what it prints is literal."""
    from rich.console import Console

    kwargs.setdefault("highlight", False)
    return Console(file=out or sys.stdout, markup=False, emoji=False, **kwargs)


def new_table(title: str | None = None, **kwargs: Any) -> Any:
    """A rich Table whose title and caption are literal text; add rows with :func:`add_row`."""
    from rich.table import Table

    if title is not None:
        kwargs["title"] = text(title)
    if kwargs.get("caption") is not None:
        kwargs["caption"] = text(kwargs["caption"])
    kwargs.setdefault("header_style", "bold")
    return Table(**kwargs)


def add_row(table: Any, cells: Iterable[Any]) -> None:
    """Add one row; every cell that is not already rich Text is made literal and safe."""
    table.add_row(*[text(c) for c in cells])


def print_table(table: Any, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    # Piped or redirected output has no terminal width: draw wide rather than fold cells.
    width = None if out.isatty() else 200
    console(out, soft_wrap=False, width=width).print(table)


def echo(message: str, *, err: bool = True) -> None:
    """A message line for people (stderr by default), literal and with controls neutralised."""
    import click

    click.echo(terminal_text(message), err=err)


# -- records -----------------------------------------------------------------------------------


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
            out.write(_dumps(rec) + "\n")
            count += 1
    elif fmt == "json":
        items = [_plain(r) for r in records]
        out.write(_dumps(items, indent=2) + "\n")
        count = len(items)
    elif fmt == "csv":
        writer = csv_writer(out)
        writer.writerow(columns)
        for rec in records:
            writer.writerow([cell(rec.get(c)) for c in columns])
            count += 1
    elif fmt == "table":
        columns = table_columns or columns
        table = new_table(title, show_lines=False)
        for c in columns:
            table.add_column(text(c), overflow="fold")
        for rec in records:
            add_row(table, (cell(rec.get(c)) for c in columns))
            count += 1
        print_table(table, out)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return count


def emit(
    fmt: str,
    records: Iterable[dict[str, Any]],
    columns: Sequence[str],
    *,
    document: Any = None,
    writers: Mapping[str, Callable[[IO[str]], object]] | None = None,
    out: IO[str] | None = None,
    title: str | None = None,
    table_columns: Sequence[str] | None = None,
) -> int:
    """Write a command's output in ``fmt``: the one dispatch every command uses.

    ``json`` writes ``document`` when the command has one (a run report, a plan), else the
    records; ``ndjson``, ``csv`` and ``table`` write the records; any other format is one of the
    command's own ``writers`` (``html``, ``md``, ``prometheus``). Returns the records written.
    """
    out = out or sys.stdout
    if writers and fmt in writers:
        writers[fmt](out)
        return 0
    if fmt == "json" and document is not None:
        write_json(document, out)
        return 0
    return render(records, columns, fmt, out=out, title=title, table_columns=table_columns)
