"""The KPI definitions that were once ambiguous (docs/metrics.md), one test each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cstoolkit.cli import cli
from cstoolkit.config import Config
from cstoolkit.kpi.report import KpiOptions, build_report
from cstoolkit.kpi.values import channel_values, heat_values
from cstoolkit.model import Status
from cstoolkit.plugin import Page
from cstoolkit.store import SQLiteStore
from cstoolkit.triage import fields
from tests.kpi.helpers import PERIOD, Builder, L, build_main, config, config_data

NOW = L("2026-04-10 12:00")


def _report(store: SQLiteStore, **opts: Any) -> dict[str, Any]:
    cfg = opts.pop("cfg", None) or config()
    return build_report(store, cfg, KpiOptions(since=PERIOD[0], until=PERIOD[1], now=NOW, **opts))


def _m(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in report["metrics"] if m["name"] == name)


def test_a_solve_without_status_history_counts_the_same_everywhere(tmp_path: Path) -> None:
    """Solved at its stored solve time and credited to its assignee: per-agent solved,
    tickets_solved, solved per agent-day and cost per ticket count the same tickets."""
    b = Builder()
    b.ticket(1, "2026-03-24 09:00", Status.SOLVED, assignee="a1", solved="2026-03-25 10:00",
             events=[("reply", "2026-03-24 10:00", "a1")])  # fmt: skip
    b.ticket(2, "2026-03-24 09:00", Status.CLOSED, assignee="a2", solved="2026-03-26 11:00")
    store = b.store(tmp_path / "k.db")
    r = _report(store)
    assert _m(r, "tickets_solved")["values"]["count"] == 2
    prod = _m(r, "agent_productivity")
    rows = {row[0]: row for row in prod["table"]["rows"]}
    assert rows["t:a1"][2] == 1 and rows["t:a2"][2] == 1  # solved, per agent
    assert prod["values"]["solved"] == 2
    assert prod["values"]["solved_per_agent_day"] == 2 / prod["values"]["agent_days"]
    assert _m(r, "cost_per_ticket")["values"]["solved"] == 2
    # no status history: requester wait and agent work have no value
    assert _m(r, "requester_wait_time")["values"]["count"] == 0
    assert _m(r, "agent_work_time")["values"]["count"] == 0
    assert _m(r, "full_resolution_time")["values"]["count"] == 2
    assert r["series"]["values"]["tickets_solved"][2:4] == [1, 1]  # Wed 25 and Thu 26


def test_solved_then_closed_is_one_solve(tmp_path: Path) -> None:
    b = Builder()
    b.ticket(1, "2026-03-16 09:00", Status.CLOSED, solved="2026-03-17 10:00", events=[
        ("status", "2026-03-16 09:00", "new", "open"),
        ("status", "2026-03-17 10:00", "open", "solved", "a1"),
        ("status", "2026-03-24 10:00", "solved", "closed"),  # in the report's period
    ])  # fmt: skip
    store = b.store(tmp_path / "k.db")
    r = _report(store, compare="previous")
    assert _m(r, "tickets_solved")["values"]["count"] == 0
    assert _m(r, "tickets_solved")["previous"]["count"] == 1
    assert _m(r, "reopen_rate")["previous"]["reopens"] == 0
    assert _m(r, "first_resolution_time")["values"]["count"] == 0


def test_no_reply_is_counted_as_of_the_end_of_the_period(tmp_path: Path) -> None:
    """A past period's figures are final: a reply after its end does not change them."""
    b = Builder()
    b.ticket(1, "2026-04-03 10:00", Status.OPEN)
    store = b.store(tmp_path / "k.db")
    before = _m(_report(store), "first_reply_time")["values"]
    assert before["no_reply"] == 1
    later = Builder()
    later.ticket(1, "2026-04-03 10:00", Status.OPEN,
                 events=[("reply", "2026-04-07 10:00", "a1")])  # after the period  # fmt: skip
    store.upsert_page("t", Page(tickets=later.tickets, events=later.events))
    after = _m(_report(store), "first_reply_time")["values"]
    assert after == before


def test_the_creating_comment_of_an_agent_created_ticket_is_never_a_reply(
    tmp_path: Path,
) -> None:
    """The disagreement of issue 15: triage's agent_replies counted it, the report did not."""
    from cstoolkit.model import Event, EventKind, Role

    b = Builder()
    b.ticket(1, "2026-03-24 10:00", Status.SOLVED, by_agent="a1", solved="2026-03-24 15:00",
             events=[("requester", "2026-03-24 12:00"), ("reply", "2026-03-24 15:00", "a1"),
                     ("status", "2026-03-24 15:00", "new", "solved", "a1")])  # fmt: skip
    # the backend also stored the creating message as a public comment
    b.events.append(
        Event("t:1-0", "t:1", EventKind.COMMENT, L("2026-03-24 10:00"), author_id="t:a1",
              author_role=Role.AGENT, public=True, body="hi")
    )  # fmt: skip
    store = b.store(tmp_path / "k.db")
    r = _report(store)
    assert _m(r, "one_touch_rate")["values"]["one_touch"] == 1  # one reply
    assert _m(r, "first_reply_time")["values"]["calendar.median"] == 5 * 3600
    rows = {row[0]: row for row in _m(r, "agent_productivity")["table"]["rows"]}
    assert rows["t:a1"][3] == 1  # replies
    ticket = store.get_ticket("t:1")
    assert ticket is not None
    fields.register()
    src = fields.Sources(now=NOW, events=store.events)
    assert fields.Extras(src, ticket, None).get("agent_replies") == 1


def test_every_group_carries_every_time_metric(tmp_path: Path) -> None:
    store = build_main(tmp_path / "k.db")
    for by in ("agent", "week", "channel"):
        r = _report(store, by=by)
        for group in r["groups"]:
            for name in ("first_reply_time", "next_reply_time", "reply_time",
                         "first_resolution_time", "full_resolution_time",
                         "requester_wait_time", "agent_work_time"):  # fmt: skip
                assert name in group["values"], (by, group["key"], name)
    r = _report(store, by="agent")
    a1 = next(g for g in r["groups"] if g["key"] == "t:a1")["values"]
    # t:1 (88h), t:4 (5h), and t:7's next reply (64h30m): a1's tickets now
    assert a1["reply_time"]["count"] == 3


def test_the_local_helpdesk_carries_survey_kind_and_score(tmp_path: Path) -> None:
    lines = [
        {"type": "person", "id": "r1", "email": "r@example.org"},
        {"type": "ticket", "id": "1", "status": "solved", "requester": "r1",
         "created_at": "2026-03-24T09:00:00Z", "solved_at": "2026-03-24T10:00:00Z",
         "events": [
             {"kind": "created", "at": "2026-03-24T09:00:00Z", "role": "requester"},
             {"kind": "survey_answered", "at": "2026-03-25T09:00:00Z", "role": "requester",
              "survey_kind": "csat", "score": 5, "comment": "great"},
             {"kind": "survey_answered", "at": "2026-03-25T09:05:00Z", "role": "requester",
              "survey_kind": "nps", "score": 9},
             {"kind": "survey_answered", "at": "2026-03-25T09:10:00Z", "role": "requester",
              "data": {"survey": "ces", "kind": "ces", "score": 6}},  # the other spelling
         ]},
    ]  # fmt: skip
    helpdesk = tmp_path / "helpdesk.jsonl"
    helpdesk.write_text("".join(json.dumps(x) + "\n" for x in lines))
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text(
        f'[store]\npath = "kpi.db"\n[backends.demo]\nplugin = "local"\npath = "{helpdesk}"\n'
        '[kpi]\ntimezone = "Europe/Madrid"\njobs = 1\n'
    )
    runner = CliRunner()
    res = runner.invoke(cli, ["--config", str(cfg), "sync", "pull"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["--config", str(cfg), "report", "kpi", "--since", PERIOD[0],
                              "--until", PERIOD[1], "--format", "json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    values = {m["name"]: m["values"] for m in doc["metrics"]}
    assert values["csat"]["responses"] == 1 and values["csat"]["score_5"] == 1
    assert values["nps"]["responses"] == 1 and values["nps"]["promoters_pct"] == 100
    assert values["ces"]["responses"] == 1
    store = SQLiteStore(tmp_path / "kpi.db")
    ticket = store.get_ticket("demo:1")
    assert ticket is not None
    fields.register()
    src = fields.Sources(now=NOW, events=store.events)
    extras = fields.Extras(src, ticket, None)
    assert extras.get("survey.csat") == 5 and extras.get("survey.nps") == 9
    assert extras.get("survey.ces") == 6
    store.close()
    # a score that is not a number is a one-line error naming the file, line and field
    lines[1]["events"][1]["score"] = "five"  # type: ignore[index]
    helpdesk.write_text("".join(json.dumps(x) + "\n" for x in lines))
    res = runner.invoke(cli, ["--config", str(cfg), "sync", "pull", "--full"])
    assert res.exit_code == 2
    assert "helpdesk.jsonl:2" in res.output and "events[2].score" in res.output


def test_ties_for_the_busiest_cell_and_the_main_channel() -> None:
    heat = [[0] * 24 for _ in range(7)]
    heat[4][10] = heat[1][15] = heat[1][9] = 3  # Friday 10h, Tuesday 15h, Tuesday 9h
    peak = heat_values(heat)
    assert (peak["peak_weekday"], peak["peak_hour"]) == (1, 9)  # the earliest in the week
    from collections import Counter

    from cstoolkit.kpi.values import Counts

    counts = Counts(created=6, by_channel=Counter({"web": 2, "chat": 2, "email": 2}))
    _, rows, main = channel_values(counts)
    assert main == "chat" and [r[0] for r in rows] == ["chat", "email", "web"]  # by name


def test_the_24x7_calendar_named_explicitly_is_reported_as_such(tmp_path: Path) -> None:
    store = build_main(tmp_path / "k.db")
    named = _report(store, calendar="24x7")
    assert named["calendar"]["name"] == "24x7"
    assert not named["calendar"]["business_hours"]
    assert not any("no calendar chosen" in n for n in named["notes"])
    assert any("calendar '24x7'" in n for n in named["notes"])
    configured = Config(path=None, data=config_data(kpi={"calendar": "24x7", "jobs": 1}))
    assert any("calendar '24x7'" in n for n in _report(store, cfg=configured)["notes"])
    unset = Config(path=None, data={"kpi": {"jobs": 1}})
    assert any("no calendar chosen" in n for n in _report(store, cfg=unset)["notes"])
