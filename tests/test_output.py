"""The one renderer: terminal neutralisation, formula-safe CSV, exact JSON, literal text, and
the same ``--format`` choices on every command that prints records."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.cli import COMMANDS, cli
from cstoolkit.output import (
    FORMATS,
    csv_cell,
    render,
    terminal_text,
)

BIDI = {0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
FORMULA = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

#: Text a hostile answer may carry: escapes, C1, bidi overrides, formulas, brackets, plain words.
hostile = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(
            [
                "\x1b",
                "[",
                "]",
                "/",
                "=",
                "+",
                "-",
                "@",
                "\t",
                "\r",
                "\n",
                "\x9b",
                "\u202e",
                "\u2066",
                "0",
                "7",
                ".",
            ]
        ),
    ),
    max_size=40,
)
seeds = st.sampled_from(["", "=", "+", "-", "@", "\t", "\r", "\x1b[31m", "[bold]", "\u202e", "-3"])
cells = st.builds(lambda a, b: a + b, seeds, hostile)


def _unsafe(ch: str, *, keep: str) -> bool:
    if ch in keep:
        return False
    return unicodedata.category(ch) == "Cc" or ord(ch) in BIDI


@given(cells)
def test_terminal_text_shows_every_control_character_visibly(value: str) -> None:
    shown = terminal_text(value)
    assert not any(_unsafe(ch, keep="\t\n") for ch in shown)
    one_line = terminal_text(value, one_line=True)
    assert not any(_unsafe(ch, keep="") for ch in one_line)
    if not any(_unsafe(ch, keep="\t\n") for ch in value):
        assert shown == value  # safe text is never changed
    # each neutralised character is still there, as an escape a person can read
    for ch in value:
        if _unsafe(ch, keep="\t\n"):
            code = ord(ch)
            assert (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") in shown


@given(cells)
def test_csv_cells_never_start_a_formula_and_keep_numbers(value: str) -> None:
    out = io.StringIO()
    render([{"comment": value, "score": -3}], ["comment", "score"], "csv", out=out)
    (header, row) = list(csv.reader(io.StringIO(out.getvalue())))
    assert header == ["comment", "score"] and row[1] == "-3"
    if value.startswith(FORMULA) and not NUMBER.fullmatch(value):
        assert row[0] == "'" + value
    else:
        assert row[0] == value
    assert not row[0].startswith(FORMULA) or NUMBER.fullmatch(row[0])


@given(cells)
def test_json_and_ndjson_stay_exact(value: str) -> None:
    record = {"comment": value, "score": 1}
    for fmt in ("json", "ndjson"):
        out = io.StringIO()
        render([record], ["comment", "score"], fmt, out=out)
        text = out.getvalue()
        # one line per record, whatever line separators the text holds
        assert fmt == "json" or len(text.splitlines()) == 1
        back = json.loads(text)[0] if fmt == "json" else json.loads(text.splitlines()[0])
        assert back == record


@given(cells)
def test_tables_print_hostile_text_literally_and_inert(value: str) -> None:
    out = io.StringIO()
    render([{"comment": value}], ["comment"], "table", out=out, title=f"t {value}")
    shown = out.getvalue()
    assert not any(_unsafe(ch, keep="\n") for ch in shown)


def test_csv_cell_examples() -> None:
    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("\tx") == "'\tx" and csv_cell("\rx") == "'\rx"
    assert csv_cell("-3") == "-3" and csv_cell("+1.5e3") == "+1.5e3" and csv_cell(-3) == -3
    assert csv_cell("-3+A1") == "'-3+A1"
    assert csv_cell(None) == "" and csv_cell("plain") == "plain"


# -- literal text: brackets are never rich markup -------------------------------------------------


def test_bracketed_text_is_printed_whole_in_tables_titles_and_messages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cstoolkit.cli.app import App

    out = io.StringIO()
    render([{"m": "no [x] configured", "n": "[/] [bold]b[/bold]"}], ["m", "n"], "table",
           out=out, title="[red]title[/red]")  # fmt: skip
    text = out.getvalue()
    assert "no [x] configured" in text and "[/] [bold]b[/bold]" in text
    assert "[red]title[/red]" in text
    App().say("no [surveys.NAME] configured; [x]")
    assert "no [surveys.NAME] configured; [x]" in capsys.readouterr().err


def test_kpi_table_keeps_bracketed_details(tmp_path: Path) -> None:
    """The KPI table's cost row said 'no  configured': its details are printed literally."""
    from tests.kpi.helpers import PERIOD, build_main

    build_main(tmp_path / "kpi.db").close()
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text('[store]\npath = "kpi.db"\n\n[kpi]\njobs = 1\n')
    res = CliRunner().invoke(
        cli, ["--config", str(cfg), "report", "kpi", "--since", PERIOD[0], "--until", PERIOD[1]]
    )
    assert res.exit_code == 0, res.output
    (row,) = [line for line in res.output.splitlines() if line.startswith("│Cost per ticket")]
    assert "no [costs] configured" in row


# -- one set of formats -------------------------------------------------------------------------

#: Commands that print records, and the document formats each adds to the four.
RECORD_COMMANDS = {
    ("tickets", "list"): (),
    ("survey", "send"): (),
    ("survey", "responses"): (),
    ("survey", "optouts"): (),
    ("triage", "run"): (),
    ("triage", "apply"): (),
    ("triage", "revert"): (),
    ("triage", "backtest"): (),
    ("sync", "push"): (),
    ("sync", "mirror"): (),
    ("status",): ("prometheus",),
    ("report", "staffing"): (),
    ("locks", "list"): (),
    ("keys", "list"): (),
    ("plugins", "list"): (),
    ("doctor",): (),
}


def _command(path: tuple[str, ...]) -> click.Command:
    ctx = click.Context(cli)
    cmd: Any = cli.get_command(ctx, path[0])
    for name in path[1:]:
        cmd = cmd.get_command(ctx, name)
    assert cmd is not None, path
    return cmd


@pytest.mark.parametrize("path", list(RECORD_COMMANDS), ids=" ".join)
def test_every_record_command_takes_the_same_formats(path: tuple[str, ...]) -> None:
    assert path[0] in COMMANDS
    cmd = _command(path)
    (option,) = [p for p in cmd.params if p.name == "fmt"]
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == (*FORMATS, *RECORD_COMMANDS[path])
    assert any(p.name == "as_json" for p in cmd.params)


def test_report_kpi_offers_ndjson() -> None:
    from cstoolkit.host import Host

    assert {"table", "json", "ndjson", "csv", "md", "html"} <= set(Host().load().names("exporter"))
