"""`cst triage run` over many tickets: a failing ticket is one line (ticket and reason), the
others go on, a summary says how many failed, the exit code is 1 and nothing is written to a
failed ticket."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from .conftest import Outcome, Workspace

RECIPE = """\
name: partly
rules:
  - name: divide
    when: "tag:{tag}"
    then:
      - set: {{priority: urgent}}
      - note: "{{{{ 1 / (ticket.tags|length - ticket.tags|length) }}}}"
  - name: everyone
    then:
      - add_tags: [seen_by_partly]
"""


def _tagged(workspace: Workspace) -> tuple[str, int, int]:
    """A tag some but not all selected tickets carry, how many carry it, how many there are."""
    from cstoolkit.store import open_store

    store = open_store(workspace.dir / "cstoolkit.db")
    try:
        tickets = [t for t, _ in store.select(None) if t.status.value != "closed"]
    finally:
        store.close()
    counts: dict[str, int] = {}
    for t in tickets:
        for tag in set(t.tags):
            counts[tag] = counts.get(tag, 0) + 1
    tag = min((n, tag) for tag, n in counts.items() if 0 < n < len(tickets))[1]
    return tag, counts[tag], len(tickets)


def test_each_failing_ticket_is_one_line_and_the_run_exits_1(
    cst: Callable[..., Outcome], workspace: Workspace
) -> None:
    tag, failing, total = _tagged(workspace)
    recipe = workspace.dir / "partly.yaml"
    recipe.write_text(RECIPE.format(tag=tag))
    out = cst(*workspace.args("triage", "run", str(recipe)))
    assert out.exit_code == 1, out
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("failed ")]
    assert len(lines) == failing, out
    for line in lines:
        assert f"{recipe}:7:15: partly/divide: note: template error: ZeroDivisionError" in line
    assert f"{failing} of {total} tickets failed" in out.stderr, out
    as_json = cst(*workspace.args("triage", "run", str(recipe), "--format", "json"))
    assert as_json.exit_code == 1
    plan = json.loads(as_json.stdout)
    assert plan["summary"]["failed"] == failing and plan["summary"]["evaluated"] == total


def test_apply_writes_the_others_and_nothing_to_a_failed_ticket(
    cst: Callable[..., Outcome], workspace: Workspace
) -> None:
    tag, failing, total = _tagged(workspace)
    recipe = workspace.dir / "partly.yaml"
    recipe.write_text(RECIPE.format(tag=tag))
    before = _latest(workspace)
    out = cst(*workspace.args("triage", "run", str(recipe), "--apply", "--format", "json"))
    assert out.exit_code == 1, out
    report = json.loads(out.stdout)
    assert len(report["failed"]) == failing
    assert report["push"]["applied"] == total - failing
    after = _latest(workspace)
    failed_ids = {entry.split(":")[1] for entry in report["failed"]}
    assert len(failed_ids) == failing
    for ext in failed_ids:
        assert after[ext] == before[ext]  # nothing half-written: not the priority, not the tag
    seen = {ext for ext, rec in after.items() if "seen_by_partly" in (rec.get("tags") or [])}
    assert len(seen) == total - failing and not seen & failed_ids


def _latest(workspace: Workspace) -> dict[str, dict[str, object]]:
    """The latest version of each ticket in the local helpdesk file."""
    last: dict[str, dict[str, object]] = {}
    for line in (workspace.dir / "helpdesk.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("type") == "ticket":
            last[str(rec["id"])] = rec
    return last


def test_a_bomb_in_a_note_is_refused_for_that_ticket(
    cst: Callable[..., Outcome], workspace: Workspace
) -> None:
    recipe = workspace.dir / "bomb.yaml"
    recipe.write_text("rules:\n  - name: bomb\n    then:\n      - note: \"{{ 'x' * 10**8 }}\"\n")
    two = ",".join(
        f"demo:{ext}" for ext, rec in _latest(workspace).items() if rec.get("status") == "open"
    )
    out = cst(*workspace.args("triage", "run", str(recipe), "--query", f"id:{two}"))
    assert out.exit_code == 1, out
    assert "refused by the sandbox: repeating would hold more than 1,000,000" in out.stderr
    assert f"{two.count(',') + 1} of {two.count(',') + 1} tickets failed" in out.stderr


@pytest.mark.parametrize(
    "when",
    [
        '"created:2026-02-14"',
        '"created>2026-01-01 created<2026-02-01"',
        "{created: 2026-02-14}",
        "{created_at: {gt: 2026-01-01T00:00:00Z}}",
        '"created:2026-01-01..2026-01-31"',
        "{created_at: {between: [2026-01-01, 2026-02-01]}}",
        '"solved:2026-02-14 hours_since_created>4"',
    ],
)
def test_documented_absolute_dates_pass_recipe_check(
    cst: Callable[..., Outcome], workspace: Workspace, when: str
) -> None:
    recipe = workspace.dir / "dates.yaml"
    recipe.write_text(f"rules:\n  - when: {when}\n    then: [{{add_tags: [dated]}}]\n")
    out = cst(*workspace.args("recipe", "check", str(recipe)))
    assert out.exit_code == 0, out
    assert "1 recipe(s) OK" in out.stderr or "OK" in out.stdout + out.stderr


def test_contradictory_dates_are_a_warning_not_a_traceback(
    cst: Callable[..., Outcome], workspace: Workspace
) -> None:
    recipe = workspace.dir / "never.yaml"
    recipe.write_text(
        'rules:\n  - when: "created>2026-02-01 created<2026-01-01"\n    then: [{add_tags: [x]}]\n'
    )
    out = cst(*workspace.args("recipe", "check", str(recipe)))
    assert out.exit_code == 0, out
    assert "can never match: no value of 'created_at' satisfies gt 2026-02-01T00:00:00+00:00" in (
        out.stderr
    )
