"""A hostile survey answer on display: inert in the terminal and in CSV, exact in JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .helpers import make_workspace, simple_desk


def test_a_hostile_answer_is_inert_in_the_terminal_and_in_csv_and_exact_in_json(
    tmp_path: Path,
) -> None:
    from cstoolkit.model import now
    from cstoolkit.store import surveys as db
    from cstoolkit.surveys import answers
    from cstoolkit.surveys.send import send_surveys

    simple_desk(tmp_path / "helpdesk.jsonl", 3, now())
    ws = make_workspace(tmp_path)
    config, host, store = ws.load()
    send_surveys(config, host, store)
    offer = db.get_offer(store, "csat/demo:1")
    assert offer is not None
    comment = '=HYPERLINK("http://evil")\x1b[2J\x1b]0;owned\x07 \u202etxt.exe [x]'
    assert answers.record(store, offer, 1, comment, now(), source="web")
    store.close()

    table = ws.cst("survey", "responses", "--format", "table")
    assert table.returncode == 0, table.stderr
    assert "\x1b" not in table.stdout and "\u202e" not in table.stdout
    assert "\\x1b[2J" in table.stdout and "\\u202e" in table.stdout and "[x]" in table.stdout
    as_csv = ws.cst("survey", "responses", "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert row["comment"] == "'" + comment.strip()
    as_json = ws.cst("survey", "responses", "--format", "json")
    assert json.loads(as_json.stdout)[0]["comment"] == comment.strip()
