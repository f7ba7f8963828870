"""The recipe language: loading with positions, every operator, rule order, state, ledger."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.textfiles import FileError
from cstoolkit.triage import engine
from cstoolkit.triage.recipe import load_recipe

from .conftest import event, person, ticket

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def recipe(tmp_path: Path, text: str, name: str = "r.yaml") -> Any:
    path = tmp_path / name
    path.write_text(text)
    return load_recipe(path)


def plan(r: Any, t: Any, requester: Any = None, **ctx: Any) -> engine.TicketPlan:
    context = engine.Context(now=NOW, **ctx)
    return engine.Planner([r], context).plan_ticket(t, requester or person())


OPERATOR_CASES = [
    ("{status: open}", {}, True),
    ("{status: {is: new}}", {}, False),
    ("{status: {is_not: new}}", {}, True),
    ("{priority: {in: [high, urgent]}}", {"priority": "high"}, True),
    ("{priority: {not_in: [high, urgent]}}", {"priority": "high"}, False),
    ("{subject: {contains: REFUND}}", {"subject": "Refund please"}, True),
    ("{subject: {contains_any: [factura, invoice]}}", {"subject": "My invoice"}, True),
    ('{subject: {matches: "order [0-9]+"}}', {"subject": "Order 1234 late"}, True),
    ("{priority: {gt: normal}}", {"priority": "high"}, True),
    ("{priority: {lt: normal}}", {"priority": "high"}, False),
    ("{priority: {ge: high}}", {"priority": "high"}, True),
    ("{priority: {le: low}}", {"priority": "normal"}, False),
    ("{priority: {between: [normal, high]}}", {"priority": "high"}, True),
    ("{hours_since_created: {gt: 0.5}}", {}, True),
    ("{hours_since_created: {between: [2h, 3h]}}", {}, False),
    ("{assignee: {exists: false}}", {}, True),
    ("{assignee: {exists: true}}", {"assignee": "demo:a1"}, True),
    ("{tags: vip}", {"tags": ["vip", "x"]}, True),
    ("{tags: {not_in: [vip]}}", {"tags": ["x"]}, True),
    ("{custom.product: api}", {"custom": {"product": "api"}}, True),
    ("{requester.plan: enterprise}", {}, False),
    ("{requester.domain: example.com}", {}, True),
    ('"status:open priority:normal -tag:spam"', {}, True),
    ("{any: [{status: new}, {not: {priority: low}}]}", {}, True),
    ("{group.name: general}", {}, True),
]


@pytest.mark.parametrize(("when", "fields", "expected"), OPERATOR_CASES)
def test_every_operator_through_a_recipe(
    tmp_path: Path, when: str, fields: dict[str, Any], expected: bool
) -> None:
    r = recipe(
        tmp_path, f"rules:\n  - name: x\n    when: {when}\n    then: [{{add_tags: [hit]}}]\n"
    )
    tp = plan(r, ticket(**fields))
    assert (tp.matched == ["r/x"]) is expected
    assert ("hit" in tp.after["tags"]) is expected


def test_changed_operators_use_the_previous_run(tmp_path: Path) -> None:
    r = recipe(
        tmp_path,
        """
rules:
  - name: became urgent
    when: {priority: {changed_to: urgent}}
    then: [{add_tags: [urgent_now]}]
  - name: left new
    when: {status: {changed_from: new}}
    then: [{add_tags: [left_new]}]
  - name: any change
    when: {tags: {changed: true}}
    then: [{add_tags: [tags_moved]}]
""",
    )
    t = ticket(priority="urgent", status="open", tags=["a"])
    never_seen = plan(r, t)
    assert never_seen.matched == []  # no previous run: nothing changed
    prev = {"priority": "normal", "status": "new", "tags": ["a"]}
    tp = plan(r, t, previous=lambda _r, _t: prev)
    # the tags rule sees the tags added by the two rules before it
    assert tp.matched == ["r/became urgent", "r/left new", "r/any change"]
    same = plan(
        r, t, previous=lambda _r, _t: {"priority": "urgent", "status": "open", "tags": ["a"]}
    )
    assert same.matched == []


def test_later_rules_see_earlier_changes_and_stop(tmp_path: Path) -> None:
    r = recipe(
        tmp_path,
        """
rules:
  - name: raise
    when: {requester.plan: enterprise}
    then: [{set: {priority: high}}]
  - name: high gets tagged
    when: {priority: high}
    then: [{add_tags: [fast_lane]}]
    stop: true
  - name: never reached for high
    when: {priority: high}
    then: [{add_tags: [nope]}]
""",
    )
    tp = plan(r, ticket(priority="low"), person("enterprise"))
    assert tp.matched == ["r/raise", "r/high gets tagged"]
    assert tp.field_changes() == {"priority": ("low", "high"), "tags": ([], ["fast_lane"])}


def test_set_actions_and_old_new_values(tmp_path: Path) -> None:
    r = recipe(
        tmp_path,
        """
rules:
  - when: {status: new}
    then:
      - set: {status: open, priority: urgent, group: billing, custom.product: api}
      - add_tags: [a, b]
      - remove_tags: [old]
      - apply_sla: vip
""",
    )
    tp = plan(r, ticket(status="new", tags=["old", "keep"]))
    changes = tp.field_changes()
    assert changes["status"] == ("new", "open")
    assert changes["group"] == ("demo:general", "demo:billing")
    assert changes["custom.product"] == (None, "api")
    assert changes["custom.sla_policy"] == (None, "vip")
    c = tp.changes()
    assert c.add_tags == ["a", "b"] and c.remove_tags == ["old"]
    assert c.expected_updated_at == ticket().updated_at
    assert tp.old_values() == {
        "status": "new",
        "priority": "normal",
        "group_id": "demo:general",
        "tags": ["old", "keep"],
        "custom_fields": {"product": None, "sla_policy": None},
    }


def test_templates_render_in_the_ticket_language_and_sandbox(tmp_path: Path) -> None:
    r = recipe(
        tmp_path,
        """
rules:
  - then:
      - reply: {es: "Hola {{ requester.first_name }}", en: "Hi {{ requester.first_name }}"}
      - note: "{{ ticket.subject | upper }} from {{ before.priority }}
          ({{ ticket.custom_fields.missing }})"
""",
    )
    tp = plan(r, ticket(language="es", subject="caja"))
    assert [c.body for c in tp.comments] == ["Hola Ana", "CAJA from normal ()"]
    assert tp.comments[0].public and not tp.comments[1].public
    evil = recipe(
        tmp_path, 'rules:\n  - then: [{note: "{{ ticket.__class__.__mro__ }}"}]\n', "evil.yaml"
    )
    tp = plan(evil, ticket())
    assert not tp.comments or "class" not in tp.comments[0].body
    assert tp.errors == [] or "sandbox" in tp.errors[0] or "template" in tp.errors[0]


def test_ledger_keeps_a_note_from_firing_twice_in_a_cycle(tmp_path: Path) -> None:
    r = recipe(tmp_path, 'name: n\nrules:\n  - name: hi\n    then: [{note: "hello"}]\n')
    t = ticket()
    first = plan(r, t)
    assert first.ledger == ["n/hi/note#0/demo:1/c1"] and len(first.comments) == 1
    done = set(first.ledger)
    again = plan(r, t, ledger_seen=lambda k: k in done)
    assert again.comments == [] and "already done" in again.skipped[0]
    reopened = [
        event("status_change", NOW, "agent", old="open", new="solved"),
        event("status_change", NOW, "requester", old="solved", new="open"),
    ]
    cycle2 = plan(r, t, ledger_seen=lambda k: k in done, events=lambda _t: reopened)
    assert cycle2.ledger == ["n/hi/note#0/demo:1/c2"] and len(cycle2.comments) == 1


# -- errors at file:line:column ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "rules:\n  - when: {staus: open}\n    then: [{add_tags: [x]}]\n",
            ":2:12:",
            "unknown field 'staus' (did you mean 'status'?)",
        ),
        (
            "rules:\n  - when: {priority: {in: [hgh]}}\n    then: [{add_tags: [x]}]\n",
            ":2:12:",
            "unknown priority 'hgh' (did you mean 'high'?)",
        ),
        (
            'rules:\n  - when: "status:open priorty:high"\n    then: [{add_tags: [x]}]\n',
            ":2:24:",
            "unknown field 'priorty' (did you mean 'priority'?)",
        ),
        (
            "rules:\n  - when: {status: {iss: open}}\n    then: [{add_tags: [x]}]\n",
            ":2:12:",
            "unknown operator 'iss' (did you mean 'is'?)",
        ),
        (
            "rules:\n  - then:\n      - add_tag: [x]\n",
            ":3:9:",
            "unknown action 'add_tag' (did you mean 'add_tags'?)",
        ),
        (
            "rules:\n  - then:\n      - set: {priorty: high}\n",
            ":3:15:",
            "set: cannot set 'priorty' (did you mean 'priority'?)",
        ),
        (
            "rules:\n  - then:\n      - note: '{{ tiket.id }}'\n",
            ":3:9:",
            "unknown template variable 'tiket' (did you mean 'ticket'?)",
        ),
        (
            "rules:\n  - whne: {status: open}\n    then: []\n",
            ":2:5:",
            "unknown key 'whne' (did you mean 'when'?)",
        ),
        (
            "rules:\n  - when: {sla.breachd: true}\n    then: []\n",
            ":2:12:",
            "unknown field 'sla.breachd' (did you mean 'sla.breached'?)",
        ),
        ("rules: [\n  {when: {status: open}\n", ":2:24:", "invalid YAML"),  # not past the end
        (
            "rules:\n  - when: {subject: {matches: '(a+)+$'}}\n    then: []\n",
            ":2:12:",
            "could backtrack catastrophically",
        ),
    ],
)
def test_errors_name_file_line_column(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(FileError) as err:
        load_recipe(path)
    line = str(err.value)
    assert line.startswith(f"{path}{where}"), line
    assert message in line
    assert "\n" not in line
    assert err.value.exit_code == 2


def test_pathological_regex_cannot_hang(tmp_path: Path) -> None:
    # refused when the recipe is loaded...
    with pytest.raises(FileError, match="catastrophically"):
        recipe(tmp_path, "rules:\n  - when: {subject: {matches: '(x+x+)+y'}}\n    then: []\n")
    # ...and an accepted regex over a huge adversarial subject stays fast (input is capped)
    r = recipe(
        tmp_path, "rules:\n  - when: {subject: {matches: 'a*a*a*b'}}\n    then: []\n", "ok.yaml"
    )
    t = ticket(subject="a" * 2_000_000)  # polynomial backtracking: bounded by the time limit
    started = time.perf_counter()
    assert plan(r, t).matched == []
    assert time.perf_counter() - started < 2.0


def test_recipes_are_data_not_code(tmp_path: Path) -> None:
    with pytest.raises(FileError):
        recipe(tmp_path, "rules: !!python/object/apply:os.system ['echo hi']\n")


# -- worked examples E4 and E7 ---------------------------------------------------------------------


def test_e4_hourly_runs_close_96_hours_after_solve(tmp_path: Path) -> None:
    """Solved Aug 20 09:15; runs hourly from 10:03, drifting to :11: the 96-hour rule fires on
    the run at Aug 24 10:11 and not before."""
    r = recipe(tmp_path, "rules:\n  - when: {status: solved, hours_since_solved: {ge: 96h}}\n"
               "    then: [{set: {status: closed}}]\n")  # fmt: skip
    solved_at = datetime(2026, 8, 20, 9, 15, tzinfo=UTC)
    t = ticket(status="solved", created=datetime(2026, 8, 19, 9, 0, tzinfo=UTC))
    t.solved_at = solved_at
    first = datetime(2026, 8, 20, 10, 3, tzinfo=UTC)
    fired = None
    for k in range(120):
        run_at = first + timedelta(hours=k, minutes=8 * k / 96)
        tp = engine.Planner([r], engine.Context(now=run_at)).plan_ticket(t, None)
        if tp.matched:
            fired = run_at
            break
    assert fired is not None
    assert fired.replace(second=0, microsecond=0) == datetime(2026, 8, 24, 10, 11, tzinfo=UTC)


def test_e7_one_touch_tickets(tmp_path: Path) -> None:
    """A solved ticket with 0 or 1 public agent replies is one-touch; with 2 it is not."""
    r = recipe(tmp_path, "rules:\n  - when: {status: solved, agent_replies: {lt: 2}}\n"
               "    then: [{add_tags: [one_touch]}]\n")  # fmt: skip
    for replies, expected in ((0, True), (1, True), (2, False)):
        evs = [event("created", NOW, "requester", public=True)]
        evs += [event("comment", NOW, "agent", public=True) for _ in range(replies)]
        evs.append(event("comment", NOW, "agent", public=False))  # a note never counts
        tp = plan(r, ticket(status="solved"), events=lambda _t, e=evs: e)
        assert ("one_touch" in tp.after["tags"]) is expected, replies


# -- plugins and stored state ----------------------------------------------------------------------


def test_a_plugin_adds_an_action(tmp_path: Path) -> None:
    from cstoolkit.hookspecs import hookimpl
    from cstoolkit.host import Host
    from cstoolkit.triage.actions import ArgError, registry
    from cstoolkit.triage.recipe import Env

    class Shout:
        name = "shout"
        idempotent = False

        def parse(self, args: Any) -> str:
            if not isinstance(args, str):
                raise ArgError("shout takes a text")
            return args

        def run(self, params: str, ctx: Any) -> str:
            ctx.comment(params.upper(), False)
            return "shouted"

    class Plugin:
        @hookimpl
        def register_actions(self, register: Any) -> None:
            register(Shout())

    host = Host(entry_points=[])
    host.load()
    host.register_plugin(Plugin(), "shouter")
    env = Env(actions=registry(host))
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nrules:\n  - then: [{shout: hello}]\n")
    r = load_recipe(path, env)
    tp = plan(r, ticket())
    assert [c.body for c in tp.comments] == ["HELLO"] and tp.ledger == [
        "p/rule 1/shout#0/demo:1/c1"
    ]
    path.write_text("name: p\nrules:\n  - then: [{shout: 3}]\n")
    with pytest.raises(FileError, match=r"p\.yaml:3:13: shout: shout takes a text"):
        load_recipe(path, env)


def test_changed_state_is_kept_in_the_store_between_runs(workspace: Any) -> None:
    import json

    from click.testing import CliRunner

    from cstoolkit.cli import cli

    path = workspace.dir / "watch.yaml"
    path.write_text(
        "name: watch\nrules:\n  - name: raised\n    when: {priority: {changed_to: urgent}}\n"
        "    then: [{add_tags: [raised_to_urgent]}]\n"
    )
    runner = CliRunner()

    def run(*args: str) -> Any:
        res = runner.invoke(
            cli, workspace.args("triage", "run", str(path), *args, "--format", "json")
        )
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    assert run("--apply")["planned"] == 0  # first run: only remembers what it saw
    target = None
    for line in workspace.helpdesk.read_text().splitlines():
        rec = json.loads(line)
        if (
            rec.get("type") == "ticket"
            and rec["status"] in ("new", "open")
            and rec["priority"] != "urgent"
        ):
            target = rec
    assert target is not None
    target.update(priority="urgent", updated_at="2026-03-02T09:30:00Z")
    with workspace.helpdesk.open("a") as fh:
        fh.write(json.dumps(target) + "\n")
    assert runner.invoke(cli, workspace.args("sync", "pull")).exit_code == 0
    dry = run()
    assert [t["ticket_id"] for t in dry["tickets"]] == [f"demo:{target['id']}"]
    assert run("--apply")["push"]["applied"] == 1
    assert run()["tickets"] == []  # the new state is remembered: no change any more
