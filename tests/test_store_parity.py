"""The same work on a SQLite store and on a PostgreSQL store gives the same answers.

Two workspaces hold the same sample helpdesk and the same configuration (the quickstart's:
local backend, outbox channel, CSAT survey); one stores in SQLite, the other in a real
PostgreSQL server. Every core command is run on both through the real CLI and their outputs are
compared: sync, queries (including a custom field, which PostgreSQL evaluates in Python),
triage dry run and apply, survey send (and the second send that must send nothing), the KPI
report and status.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cstoolkit import secrets
from cstoolkit.cli import cli
from cstoolkit.quickstart import config_text
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.surveys.quickstart import KEY_NAME
from tests.conftest import PgTarget

#: Touches many sample tickets: a field, tags, a note (ledger) and a custom-field condition.
RECIPE_TEXT = """
name: parity
query: "-status:closed"
rules:
  - name: api tickets
    when: "custom.product:api -tag:api_seen"
    then:
      - add_tags: [api_seen]
      - note: "API ticket seen by the parity recipe."
  - name: old open is high
    when:
      all:
        - status: open
        - priority: {lt: high}
    then:
      - set: {priority: high}
"""
#: Values of a run, not of the data (times of the run, durations, paths, run ids).
VOLATILE = {
    "seconds", "seconds_waited", "requests", "retries", "generated_at", "run_id", "started_at",
    "finished_at", "store", "path", "outbox", "file", "example", "duration", "last_sync",
    "lag_seconds", "cursor_age_seconds", "last_success", "elapsed", "last_run_at",
    "last_success_at",
}  # fmt: skip


#: ... and at the top of a document only (a plan's own time; tickets keep theirs).
TOP_VOLATILE = {"created_at"}


def _strip(value: Any, top: bool = True) -> Any:
    if isinstance(value, dict):
        drop = VOLATILE | TOP_VOLATILE if top else VOLATILE
        if "attempts" in value:  # a write-queue record: its times are the run's
            drop = drop | {"created_at", "updated_at"}
        return {k: _strip(v, False) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_strip(v, False) for v in value]
    return value


class Side:
    def __init__(self, root: Path, store_toml: str) -> None:
        self.root = root
        root.mkdir()
        text = config_text().replace('[store]\npath = "cstoolkit.db"\n', store_toml)
        self.config = root / "cstoolkit.toml"
        self.config.write_text(text, "utf-8")

    def cst(self, *args: str) -> Any:
        """(exit code, the JSON output without run-specific values)."""
        result = CliRunner().invoke(cli, ["--config", str(self.config), *args])
        code = getattr(result.exception, "exit_code", result.exit_code)  # as cstoolkit.cli.main
        assert code in (0, 3), (args, result.output, result.exception)  # 3: nothing matched
        out = _strip(json.loads(result.stdout)) if result.stdout.strip() else None
        return out if code == 0 else ("no match", out)


@pytest.mark.server
def test_every_core_command_answers_the_same_on_sqlite_and_postgresql(
    tmp_path: Path, pg_target: PgTarget
) -> None:
    secrets.set_key(KEY_NAME, "parity-test-signing-key-0123456789abcdef")
    helpdesk = tmp_path / "helpdesk.jsonl"
    generate_file(SampleSpec(tickets=600, seed=7), helpdesk)
    lite = Side(tmp_path / "sqlite", '[store]\npath = "cstoolkit.db"\n')
    pg = Side(tmp_path / "pg", pg_target.config_toml())
    for side in (lite, pg):
        shutil.copy(helpdesk, side.root / "helpdesk.jsonl")

    def both(*args: str) -> Any:
        a, b = lite.cst(*args), pg.cst(*args)
        if a != b:
            import difflib

            left, right = (json.dumps(x, indent=1, sort_keys=True).splitlines() for x in (a, b))
            diff = "\n".join(
                list(difflib.unified_diff(left, right, "sqlite", "pg", lineterm=""))[:60]
            )
            raise AssertionError(f"{args}: SQLite and PostgreSQL differ\n{diff}")
        return a

    pulled = both("sync", "pull", "--json")
    assert pulled["instances"][0]["inserted"] == 600
    assert both("sync", "pull", "--json")["instances"][0]["inserted"] == 0
    matched = 0
    for query in ("status:open priority:high", "tag:vip -status:solved", "custom.product:api",
                  "created<2d OR channel:chat", "-custom.product:api priority:urgent"):  # fmt: skip
        rows = both("tickets", "list", "--json", "--limit", "1000", "--query", query)
        matched += isinstance(rows, list) and len(rows) > 0
    assert matched >= 4, "the queries select tickets"
    custom = both("tickets", "list", "--json", "--limit", "1000", "--query", "custom.product:api")
    assert 0 < len(custom) < 600, "a custom field (SQL on SQLite, Python on PostgreSQL)"

    recipe = tmp_path / "parity.yaml"
    recipe.write_text(RECIPE_TEXT, "utf-8")
    plan = both("triage", "run", str(recipe), "--json")
    assert plan["summary"]["changing"] >= 3 and plan["summary"]["comments"] >= 1, plan["summary"]
    both("triage", "run", str(recipe), "--apply", "--json")
    assert both("sync", "pull", "--json")["instances"][0]["updated"] >= 3, "written back"
    again = both("triage", "run", str(recipe), "--json")
    assert again["summary"]["changing"] == 0, "applied changes are not planned again"

    sent = both("survey", "send", "--json")
    assert json.dumps(sent).count('"sent"') and _total(sent, "sent") > 0
    assert _total(both("survey", "send", "--json"), "sent") == 0, "never twice"

    both("report", "kpi", "--since", "60d", "--format", "json")
    both("report", "kpi", "--since", "60d", "--by", "channel", "--format", "json")
    both("status", "--format", "json")


def _total(doc: Any, key: str) -> int:
    """The sum of every integer ``key`` anywhere in ``doc``."""
    if isinstance(doc, dict):
        own = doc.get(key) if isinstance(doc.get(key), int) else 0
        return int(own or 0) + sum(_total(v, key) for k, v in doc.items() if k != key)
    if isinstance(doc, list):
        return sum(_total(v, key) for v in doc)
    return 0
