"""Generated rosters, calendars and recipe test files through `cst recipe check`,
`cst recipe test` and `cst triage run`: success, or one line naming file:line and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given

from .conftest import Outcome, Workspace, assert_clean
from .strategies import recipe_tests, rosters

RECIPE = """\
name: r
calendar: madrid
rules:
  - name: assign
    when: "status:new,open business_hours_since_created>1"
    then:
      - assign: {strategy: least_loaded, group: general}
      - escalate: {tier: 2}
      - note: "{{ assignee.name }} {{ sla.due_at | datetime }}"
"""


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@given(doc=rosters())
def test_generated_rosters_load_or_fail_in_one_line(
    cst: Callable[..., Outcome], workspace: Workspace, doc: Any
) -> None:
    (workspace.dir / "roster.yaml").write_text(_dump(doc), "utf-8")
    (workspace.dir / "r.yaml").write_text(RECIPE)
    checked = cst(*workspace.args("recipe", "check", str(workspace.dir / "r.yaml")))
    assert_clean(checked)
    if checked.exit_code == 2 and "roster.yaml" in checked.stderr:
        assert f"{workspace.dir / 'roster.yaml'}:" in checked.stderr, checked
    ran = cst(*workspace.args("triage", "run", str(workspace.dir / "r.yaml"), "-q", "id:demo:1"))
    assert_clean(ran, (0, 1, 2))


@given(doc=recipe_tests())
def test_generated_recipe_test_files_run_or_fail_in_one_line(
    cst: Callable[..., Outcome], tmp_path_factory: pytest.TempPathFactory, doc: Any
) -> None:
    base = tmp_path_factory.mktemp("recipe-tests")
    (base / "r.yaml").write_text(RECIPE)
    (base / "roster.yaml").write_text("agents: [{id: a1, groups: [general]}]\n")
    path = base / "r.test.yaml"
    path.write_text(_dump(doc), "utf-8")
    out = cst("recipe", "test", str(path))
    assert_clean(out, (0, 1, 2))
    checked = cst("recipe", "check", str(path))
    assert_clean(checked)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("agents: [{id: a1, shift: {start: 'ab:cd', end: '18:00'}}]", "1:34",
         "agents[0].shift.start: expected a time of day HH:MM, got 'ab:cd'"),
        ("agents: [{id: a1, shift: {start: '09:00', end: 25}}]", "1:48",
         "agents[0].shift.end: expected a time of day HH:MM, got 25"),
        ("agents: [{id: [a, b]}]", "1:15", "agents[0].id: expected one id"),
        ("agents: [{id: a1, capacity: {email: 99999999999999999999}}]", "1:37",
         "agents[0].capacity.email: expected a whole number from 0 to 10000"),
        ("agents: [{id: a1, tier: 10000000000000000000}]", "1:25",
         "agents[0].tier: expected a whole number from 1 to 99"),
        ("agents: [{id: a1, time_off: ['0001-01-01..9999-12-31']}]", "1:30",
         "agents[0].time_off[0]: date 0001-01-01 is out of range"),
        ("agents: [{id: a1, time_off: ['2026-01-01..2046-01-01']}]", "1:30",
         "is longer than 3660 days"),
        ("agents: [{id: a1, time_off: ['2026-02-30']}]", "1:30",
         "agents[0].time_off[0]: bad date '2026-02-30'"),
        ("groups: [general]\nagents: []", "1:9", "groups: expected a table"),
        ("groups: {general: {tier: x}}", "1:26", "groups.general.tier: expected a whole number"),
        ("tiers: {x: general}", "1:9", "tiers: 'x' is not a tier number"),
        ("rotas: {r: {agents: [a1], weeks: 0}}\nagents: [{id: a1}]", "1:34",
         "rotas.r.weeks: expected a whole number from 1 to 520"),
        ("rotas: {r: {agents: [a1], start: 2026-02-30}}\nagents: [{id: a1}]", "1:34",
         "invalid value '2026-02-30'"),
        ("timezone: [x]", "1:11", "timezone: unknown time zone"),
    ],
)  # fmt: skip
def test_roster_values_out_of_range_name_the_field(text: str, where: str, message: str) -> None:
    from cstoolkit.textfiles import FileError, loads_yaml
    from cstoolkit.triage.roster import parse_roster

    with pytest.raises(FileError) as err:
        parse_roster(loads_yaml(text, "roster.yaml"))
    assert str(err.value).startswith(f"roster.yaml:{where}: "), str(err.value)
    assert message in str(err.value)


def test_calendar_values_in_a_recipe_test_file_name_the_field(tmp_path: Path) -> None:
    from cstoolkit.textfiles import FileError
    from cstoolkit.triage.testing import run_tests

    (tmp_path / "r.yaml").write_text("rules: [{name: a, then: []}]\n")
    for calendars, message in (
        ("{madrid: {timezone: Europe/Madrid, holidays: 5}}", "holidays"),
        ("{madrid: {timezone: Europe/Madrid, holidays: ['2026-02-30']}}", "holidays"),
        ("{madrid: {timezone: Europe/Madrid, hours: {mon: 9}}}", "hours"),
        ("{madrid: {timezone: [Europe/Madrid]}}", "timezone"),
        ("[madrid]", "calendars"),
    ):
        path = tmp_path / "r.test.yaml"
        path.write_text(f"calendars: {calendars}\ncases: [{{ticket: {{}}, expect: {{}}}}]\n")
        with pytest.raises(FileError) as err:
            run_tests(path)
        assert str(err.value).startswith(f"{path}:1:"), str(err.value)
        assert message in str(err.value), str(err.value)
