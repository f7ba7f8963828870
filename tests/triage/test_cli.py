"""`cst triage` and `cst recipe` end to end against the local backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cstoolkit.cli import cli

from .conftest import RECIPES, Workspace

PAID = str(RECIPES / "paid-plan-priority.yaml")


def run(ws: Workspace, *args: str) -> Any:
    return CliRunner().invoke(cli, ws.args(*args))


def helpdesk_lines(ws: Workspace) -> int:
    return len(ws.helpdesk.read_text().splitlines())


def planned(ws: Workspace) -> list[tuple[str, str]]:
    from cstoolkit.store import open_store

    store = open_store(ws.dir / "cstoolkit.db")
    try:
        return [
            tuple(r)
            for r in store.conn.execute("SELECT ticket_id, state FROM planned_changes ORDER BY id")
        ]
    finally:
        store.close()


def test_dry_run_writes_nothing_and_shows_old_and_new(workspace: Workspace) -> None:
    before = workspace.helpdesk.read_bytes()
    res = run(workspace, "triage", "run", PAID, "--format", "json")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["kind"] == "cstoolkit.triage.plan" and plan["summary"]["changing"] > 0
    first = next(t for t in plan["tickets"] if "priority" in t["changes"])
    assert first["changes"]["priority"]["new"] in ("high", "normal")
    assert first["matched"][0].startswith("paid-plan-priority/")
    assert workspace.helpdesk.read_bytes() == before and planned(workspace) == []
    table = run(workspace, "triage", "run", PAID)
    assert "->" in table.stdout and "dry run" in table.stdout


def test_apply_then_again_changes_nothing(workspace: Workspace) -> None:
    recipe = workspace.dir / "once.yaml"
    recipe.write_text(
        'name: once\nquery: "status:new,open,pending,on_hold requester.plan:paid"\nrules:\n'
        "  - name: hello\n    then:\n      - add_tags: [seen_by_once]\n"
        "      - note: 'Seen by the once recipe'\n"
    )
    dry = json.loads(run(workspace, "triage", "run", str(recipe), "--format", "json").stdout)
    n = dry["summary"]["changing"]
    assert n > 0 and dry["summary"]["comments"] == n
    res = run(workspace, "triage", "run", str(recipe), "--apply", "--format", "json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["push"]["applied"] == n and report["ledger_committed"] == n
    lines = helpdesk_lines(workspace)
    assert workspace.helpdesk.read_text().count("Seen by the once recipe") == n
    again = run(workspace, "triage", "run", str(recipe), "--apply", "--format", "json")
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["planned"] == 0 and second["push"]["applied"] == 0
    assert helpdesk_lines(workspace) == lines  # nothing written the second time
    assert workspace.helpdesk.read_text().count("Seen by the once recipe") == n
    # the ledger, not only the tag, prevents the second note: drop the tag and run again
    dry2 = run(workspace, "triage", "run", str(recipe), "--format", "json")
    assert json.loads(dry2.stdout)["summary"]["comments"] == 0


def test_conflict_when_the_helpdesk_changed_upstream(workspace: Workspace) -> None:
    plan = json.loads(run(workspace, "triage", "run", PAID, "--format", "json").stdout)
    target = next(t for t in plan["tickets"] if t["changes"])["ticket_id"].split(":")[1]
    latest = None
    for line in workspace.helpdesk.read_text().splitlines():  # someone edits it in the helpdesk
        rec = json.loads(line)
        if rec.get("type") == "ticket" and rec["id"] == target:
            latest = rec
    assert latest is not None
    latest["updated_at"] = "2030-01-01T00:00:00Z"
    latest["subject"] = "edited upstream"
    with workspace.helpdesk.open("a") as fh:
        fh.write(json.dumps(latest) + "\n")
    res = run(workspace, "triage", "run", PAID, "--apply")
    assert res.exit_code == 1
    assert f"conflict demo:{target}" in res.output
    assert ("demo:" + target, "conflict") in planned(workspace)
    versions = [json.loads(x) for x in workspace.helpdesk.read_text().splitlines()]
    mine = [v for v in versions if v.get("type") == "ticket" and v["id"] == target]
    assert mine[-1] == latest  # the upstream edit was not overwritten


def test_max_changes_refuses_a_bigger_run(workspace: Workspace) -> None:
    before = workspace.helpdesk.read_bytes()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "cstoolkit",
            *workspace.args("triage", "run", PAID, "--apply", "--max-changes", "1"),
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=workspace.dir,
    )
    assert res.returncode == 1
    assert "more than --max-changes 1; nothing was written" in res.stderr
    assert workspace.helpdesk.read_bytes() == before and planned(workspace) == []


def test_apply_a_reviewed_plan_file(workspace: Workspace) -> None:
    plan_file = workspace.dir / "plan.json"
    res = run(workspace, "triage", "run", PAID, "--plan-out", str(plan_file))
    assert res.exit_code == 0 and plan_file.exists()
    saved = json.loads(plan_file.read_text())
    changing = [t for t in saved["tickets"] if t["changes"] or t["comments"]]
    applied = run(workspace, "triage", "apply", str(plan_file), "--format", "json")
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.stdout)
    assert report["push"]["applied"] == len(changing)
    # the same plan again: the tickets moved on, so it is refused, never overwritten
    again = run(workspace, "triage", "apply", str(plan_file), "--format", "json")
    report2 = json.loads(again.stdout)
    assert report2["push"]["applied"] == 0
    assert report2["push"]["conflicts"] == len([t for t in changing if t["changes"]])
    assert again.exit_code == 1


def test_revert_puts_back_old_values(workspace: Workspace) -> None:
    res = run(workspace, "triage", "run", PAID, "--apply", "--format", "json")
    report = json.loads(res.stdout)
    run_id = report["run_id"]
    changed = [e for e in report["push"]["results"] if e["state"] == "applied"]
    target = next(e for e in changed if "priority" in e["changes"])
    undo = run(workspace, "triage", "revert", run_id, "--format", "json")
    assert undo.exit_code == 0, undo.output
    result = json.loads(undo.stdout)
    assert result["push"]["applied"] == len(changed)
    from cstoolkit.store import open_store

    store = open_store(workspace.dir / "cstoolkit.db")
    ticket = store.get_ticket(target["ticket_id"])
    store.close()
    assert ticket is not None
    assert ticket.priority.value == target["old_values"]["priority"]
    assert not set(target["changes"].get("add_tags", [])) & set(ticket.tags)
    item = next(i for i in result["items"] if i["ticket_id"] == target["ticket_id"])
    notes = bool(target["changes"].get("comments"))
    assert any("cannot be taken back" in n for n in item["not_restored"]) is notes
    missing = run(workspace, "triage", "revert", "nosuchrun")
    assert missing.exit_code != 0


def test_notify_goes_through_a_channel_once(workspace: Workspace) -> None:
    recipe = workspace.dir / "notify.yaml"
    recipe.write_text(
        'name: notify\nquery: "requester.plan:enterprise"\nrules:\n  - then:\n'
        "      - notify: {channel: out, to: ops@example.com, subject: 'VIP {{ ticket.id }}',"
        " text: 'Enterprise ticket: {{ ticket.subject }}'}\n"
    )
    first = run(workspace, "triage", "run", str(recipe), "--apply", "--format", "json")
    assert first.exit_code == 0, first.output
    sent = json.loads(first.stdout)["notifications"]["sent"]
    outbox = list((workspace.dir / "outbox").iterdir())
    assert sent == len(outbox) > 0
    assert "Enterprise ticket:" in outbox[0].read_text()
    second = run(workspace, "triage", "run", str(recipe), "--apply", "--format", "json")
    assert json.loads(second.stdout)["notifications"] == {}
    assert len(list((workspace.dir / "outbox").iterdir())) == len(outbox)


def test_broken_recipe_exits_2_with_one_line(workspace: Workspace) -> None:
    bad = workspace.dir / "bad.yaml"
    bad.write_text("rules:\n  - when: {staus: open}\n    then: [{add_tags: [x]}]\n")
    for args in (
        ["triage", "run", str(bad)],
        ["recipe", "check", str(bad)],
        ["recipe", "graph", str(bad)],
    ):
        res = subprocess.run(
            [sys.executable, "-m", "cstoolkit", *workspace.args(*args)],
            check=False,
            capture_output=True,
            text=True,
            cwd=workspace.dir,
        )
        assert res.returncode == 2, (args, res.stderr)
        errors = [line for line in res.stderr.splitlines() if str(bad) in line]
        assert errors and errors[0].endswith("unknown field 'staus' (did you mean 'status'?)")
        assert f"{bad}:2:12" in errors[0]


def test_recipe_check_graph_and_test_commands(workspace: Workspace, tmp_path: Path) -> None:
    ok = run(workspace, "recipe", "check", *[str(p) for p in sorted(RECIPES.glob("*.yaml"))])
    assert ok.exit_code == 0, ok.output
    graph = run(workspace, "recipe", "graph", PAID)
    assert graph.stdout.startswith("flowchart TD")
    assert 'r1{"enterprise is high: requester.plan is enterprise and priority #lt; high"}' in (
        graph.stdout
    )
    assert "a1 --> done" in graph.stdout  # stop: true leads to the end
    dot = run(workspace, "recipe", "graph", PAID, "--format", "dot")
    assert dot.stdout.startswith('digraph "paid-plan-priority"') and "r1 -> a1" in dot.stdout
    passing = run(workspace, "recipe", "test", PAID)
    assert passing.exit_code == 0 and "6 passed, 0 failed" in passing.stdout
    recipe = tmp_path / "t.yaml"
    recipe.write_text(
        "rules:\n  - name: up\n    when: {priority: low}\n    then: [{set: {priority: normal}}]\n"
    )
    (tmp_path / "t.test.yaml").write_text(
        "cases:\n  - name: wrong on purpose\n    ticket: {priority: low}\n"
        "    expect: {matched: [up], changes: {priority: high}}\n"
    )
    failing = run(workspace, "recipe", "test", str(recipe))
    assert failing.exit_code == 1
    assert "FAIL wrong on purpose" in failing.stdout
    assert "priority: expected -> high, got -> normal" in failing.stdout


def test_backtest_figures(workspace: Workspace) -> None:
    res = run(
        workspace,
        "triage",
        "backtest",
        str(RECIPES / "round-robin-group.yaml"),
        "--since",
        "60d",
        "--until",
        "2026-03-02",
        "--format",
        "json",
    )
    assert res.exit_code == 0, res.output
    bt = json.loads(res.stdout)
    assert bt["tickets"] == 400  # every sample ticket arrived in the period
    assert sum(bt["rule_matches"].values()) == 400  # each arrives unassigned: one rule each
    assigned = sum(a["assigned"] for a in bt["by_agent"])
    assert assigned == bt["field_changes"]["assignee"]
    assert assigned + bt["not_assigned"] == 400
    assert sum(bt["by_tier"].values()) == assigned
    for agent in bt["by_agent"]:
        assert agent["per_shift_max"] >= agent["per_shift_avg"] > 0
    sla = bt["sla"]
    assert sla["sample"] == 400 and "first_reply" in sla["metrics"]
    m = sla["metrics"]["first_reply"]
    assert m["as_stored"]["clocks"] == m["with_recipe"]["clocks"] > 0
    # nothing was written
    assert planned(workspace) == []
    table = run(workspace, "triage", "backtest", PAID, "--since", "60d", "--until", "2026-03-02")
    assert "Matches per rule" in table.stdout and "Projected SLA outcomes" in table.stdout


def test_run_writes_one_record_per_ticket_as_ndjson_and_csv(workspace: Workspace) -> None:
    import csv
    import io

    doc = json.loads(run(workspace, "triage", "run", PAID, "--format", "json").stdout)
    as_nd = run(workspace, "triage", "run", PAID, "--format", "ndjson")
    assert as_nd.exit_code == 0, as_nd.output
    records = [json.loads(line) for line in as_nd.stdout.splitlines()]
    assert [r["ticket"] for r in records] == [t["ticket_id"] for t in doc["tickets"]]
    as_csv = run(workspace, "triage", "run", PAID, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["ticket"] for r in rows] == [r["ticket"] for r in records]
    assert set(rows[0]) == {"ticket", "subject", "matched", "changes", "skipped", "errors"}
