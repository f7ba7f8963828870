"""Assignment strategies, the roster, shifts, capacity, persisted round-robin state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cstoolkit.textfiles import FileError, loads_yaml
from cstoolkit.triage import engine
from cstoolkit.triage.assign import AssignState, Request, pick
from cstoolkit.triage.recipe import load_recipe
from cstoolkit.triage.roster import load_roster, parse_roster

from .conftest import RECIPES, person, ticket

MONDAY_11_MADRID = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a1, a2, a8 on shift


@pytest.fixture(scope="module")
def roster():  # type: ignore[no-untyped-def]
    return load_roster(RECIPES / "roster.example.yaml")


def req(
    group: str | None,
    *,
    at: datetime = MONDAY_11_MADRID,
    channel: str = "email",
    language: str | None = None,
    tags: tuple[str, ...] = (),
) -> Request:
    return Request("demo", channel, language, list(tags), at, group)


def test_roster_example_matches_the_sample_agents(roster) -> None:  # type: ignore[no-untyped-def]
    from cstoolkit.sample import SampleSpec, _make_agents

    sample = {a.id: a.record for a in _make_agents(SampleSpec(tickets=5000, seed=1))}
    assert [a.id for a in roster.agents] == list(sample)
    for agent in roster.agents:
        rec = sample[agent.id]
        assert agent.name == rec["name"] and agent.email == rec["email"]
        assert list(agent.groups) == rec["groups"] and agent.tier == rec["tier"]
        assert dict(agent.capacity) == rec["capacity"] and agent.timezone == rec["timezone"]
        assert set(agent.skills) | set(agent.languages) == set(rec["skills"])
        assert agent.person_id("demo") == f"demo:{agent.id}"


def test_shifts_time_off_and_night_shifts() -> None:
    doc = loads_yaml(
        """
timezone: Europe/Madrid
agents:
  - {id: day, shift: {days: [mon], start: "09:00", end: "17:00"}, time_off: ["2026-03-09"]}
  - {id: night, shift: {days: [mon], start: "22:00", end: "06:00"}}
  - {id: split, shifts: {mon: "09:00-13:00, 15:00-19:00"}}
""",
        "r.yaml",
    )
    r = parse_roster(doc)
    day, night, split = r.agents

    def madrid(d: int, h: int) -> datetime:  # local h:30 in winter is UTC (h-1):30
        return datetime(2026, 3, d, h - 1, 30, tzinfo=UTC)

    assert day.on_shift(madrid(2, 10)) and not day.on_shift(madrid(2, 18))
    assert not day.on_shift(madrid(9, 10))  # time off
    assert night.on_shift(madrid(2, 23)) and night.on_shift(madrid(3, 5))  # past midnight
    assert not night.on_shift(madrid(3, 7))
    assert split.on_shift(madrid(2, 12)) and not split.on_shift(madrid(2, 14))


def test_roster_errors_have_positions() -> None:
    with pytest.raises(FileError) as err:
        parse_roster(loads_yaml("agents:\n  - id: a1\n    skils: [x]\n", "r.yaml"))
    assert str(err.value) == "r.yaml:3:5: unknown agent key (did you mean 'skills'?)"
    with pytest.raises(FileError, match=r"r\.yaml:3:16: unknown agent 'a9'"):
        parse_roster(loads_yaml("agents: [{id: a1}]\nrotas:\n  r: {agents: [a9]}\n", "r.yaml"))


def test_round_robin_is_deterministic_and_rotates(roster) -> None:  # type: ignore[no-untyped-def]
    state = AssignState()
    picks: list[str] = []
    for _ in range(4):
        chosen = pick("round_robin", {}, req("general"), roster, state).agent
        assert chosen is not None
        state.record(chosen, "email", MONDAY_11_MADRID.timestamp() + len(picks))
        picks.append(chosen.id)
    assert picks == ["a1", "a8", "a1", "a8"]  # only a1 and a8 of general are on shift
    again = AssignState()
    assert pick("round_robin", {}, req("general"), roster, again).agent.id == "a1"  # type: ignore[union-attr]


def test_capacity_and_shift_are_required(roster) -> None:  # type: ignore[no-untyped-def]
    state = AssignState(load={("a1", "email"): 12, ("a8", "email"): 8})
    assert pick("round_robin", {}, req("general"), roster, state).agent is None
    night = datetime(2026, 3, 3, 3, 30, tzinfo=UTC)  # between a4 (until 02:00) and a1 (06:00)
    result = pick("least_loaded", {}, req("general", at=night), roster, AssignState())
    assert result.agent is None and "no agent on shift" in result.reason


def test_least_loaded_picks_highest_spare_capacity(roster) -> None:  # type: ignore[no-untyped-def]
    state = AssignState(load={("a1", "email"): 11, ("a8", "email"): 2})
    assert pick("least_loaded", {}, req("general"), roster, state).agent.id == "a8"  # type: ignore[union-attr]
    state = AssignState(load={("a1", "email"): 2, ("a8", "email"): 2})
    # spare 10 (a1, capacity 12) beats spare 6 (a8, capacity 8)
    assert pick("least_loaded", {}, req("general"), roster, state).agent.id == "a1"  # type: ignore[union-attr]
    chat = AssignState(load={("a1", "chat"): 3})
    assert pick("least_loaded", {}, req("general", channel="chat"), roster, chat).agent.id == "a8"  # type: ignore[union-attr]


def test_skills_with_language_and_fallback(roster) -> None:  # type: ignore[no-untyped-def]
    pt = req("technical", language="pt", tags=("api",))
    assert pick("skills", {}, pt, roster, AssignState()).agent.id == "a8"  # type: ignore[union-attr]
    es = req("technical", language="es", tags=("api",))  # a3 speaks it but is off shift
    got = pick("skills", {}, es, roster, AssignState())
    assert got.agent.id == "a2" and got.reason == "skills without language"  # type: ignore[union-attr]
    strict = pick("skills", {"fallback": False}, es, roster, AssignState())
    assert strict.agent is None


def test_first_responder_and_rota(roster) -> None:  # type: ignore[no-untyped-def]
    r = req("general")
    r.first_responder = "demo:a8"
    assert pick("first_responder", {}, r, roster, AssignState()).agent.id == "a8"  # type: ignore[union-attr]
    r.first_responder = "demo:a6"  # off shift: the fallback picks
    got = pick("first_responder", {}, r, roster, AssignState())
    assert got.agent.id == "a1" and "unavailable" in got.reason  # type: ignore[union-attr]
    # rota weekly_triage [a1, a6, a4, a7] from 2026-01-05: 2026-03-02 is week 8 -> a1
    state = AssignState()
    got = pick("rota", {"rota": "weekly_triage"}, req(None), roster, state)
    assert got.agent.id == "a1" and state.rota[("weekly_triage", 8)] == "a1"  # type: ignore[union-attr]
    next_week = req(None, at=datetime(2026, 3, 9, 17, 0, tzinfo=UTC))  # a6: 16-24 UTC
    assert pick("rota", {"rota": "weekly_triage"}, next_week, roster, state).agent.id == "a6"  # type: ignore[union-attr]


def test_escalation_goes_up_one_tier(roster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "e.yaml"
    path.write_text(
        "name: e\nrules:\n  - then: [{escalate: {note: 'up from {{ before.assignee_name }}'}}]\n"
    )
    r = load_recipe(path)
    at = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)  # Tue 15:00 Madrid: a2 (tier 2) and a3 on
    ctx = engine.Context(now=at, roster=roster)
    tp = engine.Planner([r], ctx).plan_ticket(ticket(assignee="demo:a1"), person())
    assert tp.field_changes()["assignee"] == ("demo:a1", "demo:a2")
    assert tp.field_changes()["group"] == ("demo:general", "demo:technical")
    assert "escalated" in tp.after["tags"] and tp.comments[0].body == "up from Diego Ramírez"
    assert tp.ledger == ["e/rule 1/escalate#0/demo:1/c1"]
    top = engine.Planner([r], engine.Context(now=at, roster=roster)).plan_ticket(
        ticket(assignee="demo:a3", group="demo:escalations"), person()
    )
    assert top.field_changes() == {} and "top tier" in top.skipped[0]


def test_round_robin_state_persists_between_runs(workspace) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from cstoolkit.cli import cli
    from cstoolkit.store import open_store
    from cstoolkit.store import triage as db

    recipe = workspace.dir / "rr.yaml"
    recipe.write_text(
        "name: rr\nrules:\n  - when: {tags: rr_test}\n    then:\n"
        "      - assign: {strategy: round_robin, group: general}\n"
    )
    runner = CliRunner()
    store = open_store(workspace.dir / "cstoolkit.db")
    open_ids = [
        r[0]
        for r in store.conn.execute(
            "SELECT id FROM tickets WHERE status IN ('new', 'open') ORDER BY created_at LIMIT 2"
        )
    ]
    assert len(open_ids) == 2
    with store.transaction() as cur:  # nobody is busy: capacity does not interfere here
        cur.execute("UPDATE tickets SET status = 'solved' WHERE status NOT IN ('solved', 'closed')")
    store.close()
    unassign(workspace.helpdesk, [i.split(":")[1] for i in open_ids])
    assert runner.invoke(cli, workspace.args("sync", "pull")).exit_code == 0
    # Monday 2 March 2026 11:00 Madrid (the sample's end): a1 and a8 of general are on shift
    from unittest import mock

    from cstoolkit import model

    with mock.patch.object(model, "now", lambda: MONDAY_11_MADRID):
        res = runner.invoke(
            cli,
            workspace.args("triage", "run", str(recipe), "--query", f"id:{open_ids[0]}", "--apply"),
        )
        assert res.exit_code == 0, res.output
        store = open_store(workspace.dir / "cstoolkit.db")
        last = db.last_assignments(store)
        first_pick = [a for (a, _k) in last]
        assert len(first_pick) == 1
        store.close()
        res = runner.invoke(
            cli,
            workspace.args("triage", "run", str(recipe), "--query", f"id:{open_ids[1]}", "--apply"),
        )
        assert res.exit_code == 0, res.output
    store = open_store(workspace.dir / "cstoolkit.db")
    picked = [store.get_ticket(t).assignee_id for t in open_ids]  # type: ignore[union-attr]
    store.close()
    # the second run remembered the first pick and chose the other agent on shift
    assert None not in picked and picked[0] != picked[1]
    assert {str(p).split(":")[1] for p in picked} == {"a1", "a8"}


def unassign(helpdesk: Path, external_ids: list[str]) -> None:
    """Append new versions of tickets: unassigned, open, in general, tagged rr_test."""
    import json

    latest = {}
    for line in helpdesk.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("type") == "ticket" and rec["id"] in external_ids:
            latest[rec["id"]] = rec
    with helpdesk.open("a") as fh:
        for rec in latest.values():
            rec.update(assignee=None, status="open", group="general", tags=["rr_test"])
            rec["updated_at"] = "2026-03-02T09:00:00Z"
            fh.write(json.dumps(rec) + "\n")
