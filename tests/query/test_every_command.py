"""One vocabulary: every field works in every command that takes a condition, or that command
refuses it in one line naming where it works (exit 2); a field never matches nothing silently.

The three disagreements of issue 15 are the first tests: on the code before the field registry,
``tickets list --query 'reopens>0'`` exited 2 (unknown field), and ``survey.csat>=4`` and
``sla.breached:true`` matched nothing (exit 3) whatever the tickets held.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from cstoolkit import model
from cstoolkit import query as q
from cstoolkit.model import Event, EventKind, Person, Priority, Role, Status, Ticket
from cstoolkit.plugin import Page
from cstoolkit.store import open_store

CONFIG = """\
[store]
path = "cstoolkit.db"

[calendars.office]
timezone = "UTC"
hours = { mon-sun = "00:00-23:59" }

[sla.standard]
first_reply = "1h"
"""

Run = Callable[..., tuple[int, str, str]]


def _events(tid: str, created: model.datetime, *extra: tuple[int, EventKind, dict]) -> list[Event]:
    out = [Event(f"{tid}-0", tid, EventKind.CREATED, created, "demo:c1", Role.REQUESTER, True)]
    for n, (minutes, kind, fields) in enumerate(extra, start=1):
        out.append(Event(f"{tid}-{n}", tid, kind, created + timedelta(minutes=minutes), **fields))
    return out


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    """Three tickets: demo:1 reopened once, answered by an agent, CSAT 5; demo:2 never answered
    (its 1-hour first reply target breached), CSAT 2; demo:3 just arrived."""
    (tmp_path / "cstoolkit.toml").write_text(CONFIG)
    now = model.now().replace(microsecond=0)
    agent = {"author_id": "demo:a1", "author_role": Role.AGENT}
    t1, t2, t3 = now - timedelta(days=3), now - timedelta(days=2), now - timedelta(minutes=10)
    tickets = [
        Ticket("demo:1", "demo", "1", "Refund", Status.OPEN, t1, now, Priority.HIGH,
               requester_id="demo:c1", assignee_id="demo:a1", group_id="demo:g1"),
        Ticket("demo:2", "demo", "2", "Login", Status.OPEN, t2, now, requester_id="demo:c1"),
        Ticket("demo:3", "demo", "3", "Hello", Status.NEW, t3, t3, requester_id="demo:c1"),
    ]  # fmt: skip
    events = _events(
        "demo:1", t1,
        (10, EventKind.COMMENT, {**agent, "public": True, "body": "Done"}),
        (20, EventKind.STATUS_CHANGE, {**agent, "old": "open", "new": "solved"}),
        (30, EventKind.SURVEY_ANSWERED, {"data": {"kind": "csat", "score": 5}}),
        (40, EventKind.STATUS_CHANGE, {"old": "solved", "new": "open"}),
    )  # fmt: skip
    csat2 = {"data": {"kind": "csat", "score": 2}}
    events += _events("demo:2", t2, (5, EventKind.SURVEY_ANSWERED, csat2))
    events += _events("demo:3", t3)
    people = [Person("demo:c1", "demo", "c1", Role.REQUESTER, email="ann@acme.com")]
    store = open_store(tmp_path / "cstoolkit.db")
    store.upsert_page("demo", Page(tickets=tickets, events=events, people=people))
    store.close()
    recipe = {"name": "r", "calendar": "office", "rules": [
        {"name": "tag", "when": "status:open", "then": [{"add_tags": ["x"]}]}]}  # fmt: skip
    (tmp_path / "recipe.yaml").write_text(json.dumps(recipe))
    plain = {"name": "p", "rules": recipe["rules"]}
    (tmp_path / "plain.yaml").write_text(json.dumps(plain))
    return tmp_path


@pytest.fixture
def cst(desk: Path) -> Run:
    from cstoolkit.cli import main

    class Main:
        name = "cst"

        def main(self, args: list[str], **_: object) -> object:
            return main(list(args))

    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(Main(), ["--config", str(desk / "cstoolkit.toml"), *args])  # type: ignore[arg-type]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


def _ids(run: Run, text: str) -> set[str]:
    code, out, err = run("tickets", "list", "--query", text, "--format", "json")
    assert code in (0, 3), err
    return {row["id"] for row in json.loads(out or "[]")} if code == 0 else set()


def test_reopens_is_a_field_of_tickets_list(cst: Run) -> None:
    assert _ids(cst, "reopens>0") == {"demo:1"}
    assert _ids(cst, "agent_replies:1") == {"demo:1"}


def test_survey_answers_are_tested_in_tickets_list(cst: Run) -> None:
    assert _ids(cst, "survey.csat>=4") == {"demo:1"}
    assert _ids(cst, "survey.csat<=2") == {"demo:2"}
    assert _ids(cst, "survey.answered:true") == {"demo:1", "demo:2"}


def test_sla_state_is_tested_in_tickets_list(cst: Run) -> None:
    assert _ids(cst, "sla.breached:true") == {"demo:2"}
    assert _ids(cst, "sla.policy:standard status:new") == {"demo:3"}


def test_report_kpi_counts_the_tickets_a_fact_selects(cst: Run) -> None:
    code, out, err = cst("report", "kpi", "--query", "reopens>0", "--since", "7d", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["query"] == "reopens>0" and doc["scanned"]["tickets"] == 1, doc["scanned"]


def test_triage_run_and_backtest_take_the_same_fields(cst: Run, desk: Path) -> None:
    recipe = str(desk / "recipe.yaml")
    code, out, err = cst("triage", "run", recipe, "--query", "survey.csat>=4", "--format", "json")
    assert code == 0, err
    assert {p["ticket_id"] for p in json.loads(out)["tickets"]} == {"demo:1"}
    code, out, err = cst("triage", "backtest", recipe, "--since", "7d", "--query", "reopens>0",
                         "--format", "json")  # fmt: skip
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (("tickets", "list"), "tickets list --query"),
        (("report", "kpi"), "report kpi --query"),
        (("triage", "run", "{plain}"), "--query"),
        (("triage", "backtest", "{plain}"), "--query"),
    ],
)
def test_business_time_outside_a_recipe_calendar_is_refused_naming_where_it_works(
    cst: Run, desk: Path, args: tuple[str, ...], where: str
) -> None:
    args = tuple(a.format(plain=desk / "plain.yaml") for a in args)
    code, _, err = cst(*args, "--query", "business_hours_since_created>1")
    assert code == 2
    line = err.strip().splitlines()[0]
    assert line.startswith(f"error: {where}: 'business_hours_since_created' needs a recipe's")
    assert "it works in the conditions of a recipe with `calendar:`" in line


def test_the_roster_fields_need_a_roster(cst: Run) -> None:
    code, _, err = cst("tickets", "list", "--query", "assignee.tier>=1")
    assert code == 2 and "'assignee.tier' needs the roster" in err, err


def test_staffing_counts_facts_in_the_database_and_names_a_field_it_cannot(cst: Run) -> None:
    code, _, err = cst("report", "staffing", "--query", "reopens>0")
    assert code == 0, err  # the store keeps the ticket's facts: the database answers it
    code, _, err = cst("report", "staffing", "--query", "sla.breached:true")
    assert code == 2
    assert "report staffing --query: 'sla.breached' is tested per ticket" in err, err


def test_an_sla_policy_condition_refuses_fields_of_facts(desk: Path, cst: Run) -> None:
    config = desk / "cstoolkit.toml"
    config.write_text(config.read_text() + 'when = "reopens>0"\n')
    code, _, err = cst("tickets", "list")
    assert code == 2, err
    assert "sla.standard.when: 'reopens' needs the ticket's history" in err, err


#: Fields a command without a recipe calendar or a roster refuses.
# (predicted.*: this workspace has no routing model)
REFUSED = sorted(n for n, spec in q.FIELDS.items() if spec.needs & {"calendar", "roster", "model"})


def test_every_other_field_is_evaluated_in_tickets_list(cst: Run) -> None:
    """Each field tested for presence, all in one condition that holds for every ticket (so
    every field is read for every ticket): no field is unknown or fails there."""
    names = sorted(set(q.FIELDS) - set(REFUSED))
    text = " ".join(f"({name}:none OR -{name}:none)" for name in names)
    assert _ids(cst, text) == {"demo:1", "demo:2", "demo:3"}


@pytest.mark.parametrize("name", REFUSED)
def test_a_field_a_command_cannot_evaluate_is_refused_in_one_line(cst: Run, name: str) -> None:
    code, _, err = cst("tickets", "list", "--query", f"-{name}:none", "--format", "json")
    assert code == 2 and "it works in" in err and len(err.strip().splitlines()) == 1, err
