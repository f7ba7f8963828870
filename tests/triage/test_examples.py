"""The shipped recipes: valid, tested, runnable on the sample helpdesk; quickstart; checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from cstoolkit.triage import check, graph, quickstart
from cstoolkit.triage.recipe import Env, load_recipe
from cstoolkit.triage.roster import load_roster
from cstoolkit.triage.testing import run_tests

from .conftest import RECIPES, Workspace

EXAMPLES = sorted(
    p
    for p in RECIPES.glob("*.yaml")
    if not p.name.endswith(".test.yaml") and p.name != "roster.example.yaml"
)


def test_every_required_example_exists() -> None:
    names = {p.stem for p in EXAMPLES}
    assert names >= {
        "paid-plan-priority",
        "keyword-routing",
        "tier-escalation",
        "round-robin-group",
        "capacity-shifts",
        "sla-breach-escalation",
        "auto-close-pending",
        "spam-quarantine",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_has_passing_tests_and_checks_clean(path: Path) -> None:
    report = run_tests(path)
    assert report.cases and report.ok, [c.failures for c in report.cases if not c.ok]
    roster = load_roster(RECIPES / "roster.example.yaml")
    env = Env(calendars=["madrid"], policies=["standard", "vip"], channels=[], roster=roster)
    _recipe, problems = check.check_file(path, env)
    assert problems == []
    assert graph.render(load_recipe(path, env), "mermaid").startswith("flowchart TD")


def test_examples_run_on_the_sample_helpdesk(workspace: Workspace) -> None:
    from click.testing import CliRunner

    from cstoolkit.cli import cli

    res = CliRunner().invoke(cli, workspace.args("triage", "run", *map(str, EXAMPLES)))
    assert res.exit_code == 0, res.output
    assert "tickets evaluated" in res.output


def test_quickstart_demo(workspace: Workspace) -> None:
    from cstoolkit.config import load_config
    from cstoolkit.host import Host
    from cstoolkit.store import open_store

    config = load_config(workspace.config)
    store = open_store(config.store_path)
    try:
        text, plan = quickstart.demo(config, store, Host().load())
    finally:
        store.close()
    assert (workspace.dir / "recipes" / "paid-plan-priority.yaml").exists()
    assert "dry run, nothing written" in text and "--apply" in text
    assert plan.evaluated > 0 and f"{len(plan.changing)} would change" in text
    shipped = {p.name for p in RECIPES.glob("*.yaml")}
    assert {p.name for p in (workspace.dir / "recipes").glob("*.yaml")} >= shipped
    assert quickstart.shipped_recipes_dir() == RECIPES


def test_check_warnings(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        """rules:
  - name: impossible
    when: {all: [{priority: high}, {priority: low}]}
    then: [{add_tags: [x]}]
  - name: empty range
    when: {hours_since_created: {gt: 8, lt: 4}}
    then: [{add_tags: [x]}]
  - name: tag both ways
    when: {tags: {contains: vip, not_in: [vip]}}
    then: [{add_tags: [x]}]
  - name: nothing above urgent
    when: {priority: {gt: urgent}}
    then: [{add_tags: [x]}]
  - name: urgent stop
    when: {priority: urgent}
    then: [{add_tags: [u]}]
    stop: true
  - name: shadowed
    when: {priority: urgent, status: open}
    then: [{add_tags: [w]}]
  - name: changed in between
    when: {priority: {in: [high, urgent]}}
    then: [{set: {status: open}}]
  - name: not shadowed after a change
    when: {status: open}
    then: [{add_tags: [v]}]
"""
    )
    _recipe, problems = check.check_file(path)
    found = [(p.line, p.severity, p.message.split(":")[0]) for p in problems]
    assert found == [
        (3, "warning", "rule 'impossible' can never match"),
        (6, "warning", "rule 'empty range' can never match"),
        (9, "warning", "rule 'tag both ways' can never match"),
        (12, "warning", "rule 'nothing above urgent' can never match"),
        (18, "warning", "rule 'shadowed' is shadowed by rule 'urgent stop' (stop"),
    ]


def test_check_collects_every_error_and_knows_other_files(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(
        "rules:\n  - when: {staus: open}\n    then: [{nope: 1}]\n"
        "  - when: {priority: hgh}\n    then: []\n"
    )
    _recipe, problems = check.check_file(path)
    assert [(p.line, p.column) for p in problems] == [(2, 12), (3, 13), (4, 12)]
    assert all(p.severity == "error" for p in problems)
    _r, roster_problems = check.check_file(RECIPES / "roster.example.yaml")
    _r, test_problems = check.check_file(RECIPES / "paid-plan-priority.test.yaml")
    assert roster_problems == [] and test_problems == []
    bad_roster = tmp_path / "roster.yaml"
    bad_roster.write_text("agents:\n  - id: a1\n    tier: zero\n")
    _r, problems = check.check_file(bad_roster)
    assert [(p.line, p.message) for p in problems] == [
        (3, "agents[0].tier: expected a whole number from 1 to 99, got 'zero'")
    ]
