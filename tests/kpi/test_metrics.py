"""Every KPI against hand-computed values (the fixture is described in helpers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cstoolkit.config import Config
from cstoolkit.kpi.report import KpiOptions, build_report
from tests.kpi.helpers import PERIOD, Builder, L, build_main, config, config_data

H = 3600


def _report(tmp_path: Path, **opts: Any) -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = opts.pop("cfg", None) or config()
    store = build_main(tmp_path / "kpi.db")
    try:
        options = KpiOptions(since=PERIOD[0], until=PERIOD[1], now=L("2026-04-10 12:00"), **opts)
        return build_report(store, cfg, options)
    finally:
        store.close()


def _m(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in report["metrics"] if m["name"] == name)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _report(tmp_path_factory.mktemp("kpi"), compare="previous")


def test_period_is_local_days_across_the_dst_change(report: dict[str, Any]) -> None:
    assert report["period"] == {
        "since": "2026-03-22T23:00:00Z",  # midnight CET
        "until": "2026-04-05T22:00:00Z",  # midnight CEST: the period lost an hour
        "days": 14,
    }
    assert report["previous_period"]["since"] == "2026-03-08T23:00:00Z"
    assert report["timezone"] == "Europe/Madrid"
    assert report["calendar"] == {
        "name": "madrid",
        "timezone": "Europe/Madrid",
        "business_hours": True,
    }


def test_volume(report: dict[str, Any]) -> None:
    assert _m(report, "tickets_created")["values"] == {"count": 5}
    assert _m(report, "tickets_created")["previous"] == {"count": 2}
    assert _m(report, "tickets_created")["delta"] == {"count": 3}
    # t:7 was created in the previous period and solved in this one; t:3 is still open
    assert _m(report, "tickets_solved")["values"] == {"count": 5}
    assert _m(report, "tickets_solved")["previous"] == {"count": 1}


def test_first_reply_time_zendesk_reporting_definition(report: dict[str, Any]) -> None:
    frt = _m(report, "first_reply_time")
    # t:2 1h; t:4 (agent-created) to the agent's second public comment, 5h; t:1 88h across
    # the weekend, the DST change and the holiday, but 1h of business time (30m Fri + 30m Tue)
    v = frt["values"]
    assert v["count"] == 3
    assert v["calendar.median"] == 5 * H
    assert v["calendar.mean"] == (1 * H + 5 * H + 88 * H) / 3
    assert v["calendar.p90"] == 5 * H + 0.8 * (88 * H - 5 * H)
    assert v["business.median"] == 1 * H
    assert v["business.mean"] == (1 * H + 1 * H + 5 * H) / 3
    assert v["no_reply"] == 2  # t:3 (open) and t:5 (solved without a reply)
    assert frt["headline"] == "business.median"
    # previous period: t:6 1h, t:7 30m
    assert frt["previous"]["business.median"] == 2700
    assert frt["delta"]["business.median"] == 3600 - 2700


def test_next_and_average_reply_time(report: dict[str, Any]) -> None:
    nrt = _m(report, "next_reply_time")["values"]
    # t:2 12:00->14:00 (2h, 2h), reopening Tue 08:00->10:00 (2h, 1h of business);
    # t:7 Fri 16:45 -> Mon 09:15 (64h30m, 30m of business)
    assert nrt["count"] == 3
    assert nrt["calendar.median"] == 2 * H
    assert nrt["calendar.mean"] == (2 * H + 2 * H + 64.5 * H) / 3
    assert nrt["business.median"] == 1 * H
    assert nrt["business.mean"] == (2 * H + 1 * H + 0.5 * H) / 3
    allr = _m(report, "reply_time")["values"]
    assert allr["count"] == 6
    assert allr["calendar.mean"] == (1 + 5 + 88 + 2 + 2 + 64.5) * H / 6
    assert allr["calendar.median"] == (2 * H + 5 * H) / 2


def test_resolution_times(report: dict[str, Any]) -> None:
    first = _m(report, "first_resolution_time")["values"]
    # t:1 88h30m (1h30m bh), t:2 5h (first solve), t:4 5h, t:5 30m, t:7 65h20m (1h20m bh)
    assert first["count"] == 5
    assert first["calendar.median"] == 5 * H
    assert first["business.median"] == 1.5 * H  # 30m, 1h20m, 1h30m, 5h, 5h
    full = _m(report, "full_resolution_time")["values"]
    # t:2 to its latest solve: 25h, 9h of business
    assert full["count"] == 5
    assert full["calendar.median"] == 25 * H
    assert full["business.median"] == 1.5 * H  # 30m, 1h20m, 1h30m, 5h, 9h
    assert full["calendar.mean"] == (88.5 + 25 + 5 + 0.5 + 65 + 1 / 3) * H / 5


def test_requester_wait_and_agent_work(report: dict[str, Any]) -> None:
    rw = _m(report, "requester_wait_time")["values"]
    aw = _m(report, "agent_work_time")["values"]
    # t:2: open 1h + 2h + 30m + 30m, on hold 1h (counts for the requester, not the agent);
    # business: the 08:00-08:30 open stretch is before opening, so 4h and 3h30m.
    # t:4: pending 10-12 does not count, open 12-15 does.
    assert rw["count"] == aw["count"] == 5
    assert rw["calendar.mean"] == pytest.approx((88.5 + 5 + 3 + 0.5 + (65 + 1 / 3)) * H / 5)
    assert aw["calendar.mean"] == pytest.approx((88.5 + 4 + 3 + 0.5 + (65 + 1 / 3)) * H / 5)
    assert rw["business.mean"] == pytest.approx((1.5 + 4 + 3 + 0.5 + (1 + 1 / 3)) * H / 5)
    assert aw["business.mean"] == pytest.approx((1.5 + 3.5 + 3 + 0.5 + (1 + 1 / 3)) * H / 5)
    assert rw["business.median"] == 1.5 * H
    assert aw["calendar.median"] == 4 * H


def test_one_touch_e7_and_reopen_rate(report: dict[str, Any]) -> None:
    # E7: t:1 (1 reply), t:4 (1 reply: its creating comment is not a reply), t:5 (no reply)
    # count; t:2 (3 replies) and t:7 (2 replies) do not.
    assert _m(report, "one_touch_rate")["values"] == {"rate": 60, "one_touch": 3, "solved": 5}
    assert _m(report, "reopen_rate")["values"] == {
        "rate": 20,
        "reopened": 1,
        "reopens": 1,
        "solved": 5,
    }


def test_backlog_by_age(report: dict[str, Any]) -> None:
    b = _m(report, "backlog")
    # at the end: t:3 (Wed 11:00, 4d 13h old); at the end of the previous period: t:7 (2d 8h)
    assert b["values"]["count"] == 1
    assert b["values"]["status.open"] == 1
    assert b["values"]["age.3d-7d"] == 1
    assert b["previous"]["count"] == 1
    assert b["previous"]["age.1d-3d"] == 1
    assert b["table"]["columns"] == ["age", "tickets"]


def test_surveys_including_an_answer_after_closing(report: dict[str, Any]) -> None:
    csat = _m(report, "csat")["values"]
    assert csat["responses"] == 2  # t:5's answer came after the ticket closed: it counts
    assert csat["csat_pct"] == 50
    nps = _m(report, "nps")["values"]
    assert (nps["nps"], nps["promoters_pct"], nps["detractors_pct"]) == (0, 50, 50)
    ces = _m(report, "ces")["values"]
    assert (ces["average"], ces["agree_pct"], ces["responses"]) == (5, 50, 2)


def test_volume_by_channel_and_heatmap(report: dict[str, Any]) -> None:
    ch = _m(report, "volume_by_channel")
    assert ch["values"]["channel.email"] == 3
    assert ch["values"]["main_share_pct"] == 60
    assert ch["labels"] == {"main_channel": "email"}
    heat = report["heatmap"]["counts"]
    assert sum(map(sum, heat)) == 5
    # local hours in Madrid, Monday first
    assert heat[4][16] == 1 and heat[0][9] == 1 and heat[2][11] == 1 and heat[3][10] == 1
    assert heat[1][9] == 1


def test_productivity_escalation_and_cost(report: dict[str, Any]) -> None:
    prod = _m(report, "agent_productivity")
    rows = {r[0]: r for r in prod["table"]["rows"]}
    # a1: replies Mon 23 (3), Thu 26, Tue 31 -> 5 replies, 3 working days, 3 solves (t:1, t:4,
    # t:7); a2: 1 reply, Tue 24 only, 2 solves (t:2's latest solve, t:5)
    assert rows["t:a1"][2:5] == [3, 5, 3]
    assert rows["t:a2"][2:5] == [2, 1, 1]
    assert prod["values"]["solved_per_agent_day"] == 5 / 4
    assert prod["values"]["replies_per_agent_day"] == 6 / 4
    esc = _m(report, "escalation_rate")
    # first assignees: tier 1 for t:1, t:2, t:4 (t:2 went to tier 2), tier 2 for t:3, t:5
    assert esc["values"]["rate"] == 20
    assert esc["values"]["tier1.rate"] == pytest.approx(100 / 3)
    assert esc["values"]["tier2.rate"] == 0
    cost = _m(report, "cost_per_ticket")["values"]
    assert cost == {"cost_per_ticket": 4 * 8 * 30 / 5, "cost": 960, "solved": 5, "agent_hours": 32}
    assert _m(report, "cost_per_ticket")["previous"]["cost_per_ticket"] == 2 * 8 * 30 / 1


def test_trend_series(report: dict[str, Any]) -> None:
    s = report["series"]
    assert s["unit"] == "day" and len(s["buckets"]) == 14 and s["buckets"][0] == "2026-03-23"
    assert s["values"]["tickets_created"] == [1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert s["values"]["tickets_solved"] == [1, 2, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert s["values"]["first_reply_time"][0] == 3600  # t:2's first reply, business time


def test_histograms(report: dict[str, Any]) -> None:
    h = report["histograms"]["first_reply_time"]
    assert sum(h["calendar"]) == sum(h["business"]) == 3
    edges = h["edges"]
    assert h["business"][edges.index(3600) + 1] == 2  # two replies of exactly 1h of business


def test_by_agent_groups(tmp_path: Path) -> None:
    r = _report(tmp_path, by="agent")
    groups = {g["key"]: g for g in r["groups"]}
    assert set(groups) == {"t:a1", "t:a2"}
    assert groups["t:a1"]["label"] == "Ana Agent"
    # current assignees: a1 has t:1, t:4 (and t:7, created earlier); a2 has t:2, t:3, t:5
    assert groups["t:a1"]["values"]["tickets_created"]["count"] == 2
    assert groups["t:a2"]["values"]["tickets_created"]["count"] == 3
    assert groups["t:a1"]["values"]["tickets_solved"]["count"] == 3
    assert groups["t:a2"]["values"]["backlog"]["count"] == 1
    assert groups["t:a2"]["values"]["csat"]["responses"] == 2


def test_by_week_groups(tmp_path: Path) -> None:
    r = _report(tmp_path, by="week")
    assert [g["key"] for g in r["groups"]] == ["2026-03-23", "2026-03-30"]
    created = [g["values"]["tickets_created"]["count"] for g in r["groups"]]
    solved = [g["values"]["tickets_solved"]["count"] for g in r["groups"]]
    assert created == [4, 1] and solved == [4, 1]
    assert "backlog" not in r["groups"][0]["values"]  # a point in time, not a weekly sum


def test_query_filter(tmp_path: Path) -> None:
    r = _report(tmp_path, query="channel:email")
    assert _m(r, "tickets_created")["values"]["count"] == 3
    assert _m(r, "volume_by_channel")["values"] == {
        "count": 3,
        "channel.email": 3,
        "main_share_pct": 100,
    }
    # a query SQL cannot express (a regex) is applied in Python, with the same answer
    r2 = _report(tmp_path / "b", query='subject~"^ticket [1-5]$" channel:email')
    assert _m(r2, "tickets_created")["values"]["count"] == 3


def test_no_calendar_means_business_equals_calendar(tmp_path: Path) -> None:
    cfg = Config(path=None, data={"kpi": {"timezone": "Europe/Madrid"}})
    r = _report(tmp_path, cfg=cfg)
    frt = _m(r, "first_reply_time")
    assert r["calendar"]["business_hours"] is False
    assert frt["headline"] == "calendar.median"
    assert frt["values"]["business.mean"] == frt["values"]["calendar.mean"]
    assert any("business hours" in n for n in r["notes"])


def test_e6_csat_nps_ces(tmp_path: Path) -> None:
    """E6: Delighted 5:42 4:32 3:10 2:9 1:14 -> 74/107 = 69.16%; NPS 30% - 20% = +10."""
    b = Builder()
    answers: list[tuple[Any, ...]] = []
    minute = 0

    def add(kind: str, score: int, n: int) -> None:
        nonlocal minute
        for _ in range(n):
            minute += 1
            answers.append(
                ("survey", f"2026-03-25 {10 + minute // 60:02d}:{minute % 60:02d}", kind, score)
            )

    for score, n in ((5, 42), (4, 32), (3, 10), (2, 9), (1, 14)):
        add("csat", score, n)
    for score, n in ((10, 2), (9, 1), (8, 3), (7, 2), (6, 1), (0, 1)):
        add("nps", score, n)
    for score, n in ((7, 1), (5, 2), (4, 1)):
        add("ces", score, n)
    b.ticket(1, "2026-03-25 09:00", "open", events=answers)  # type: ignore[arg-type]
    store = b.store(tmp_path / "e6.db")
    r = build_report(store, config(), KpiOptions(since=PERIOD[0], until=PERIOD[1]))
    csat = _m(r, "csat")["values"]
    assert (csat["good"], csat["responses"]) == (74, 107)
    assert round(csat["csat_pct"], 2) == 69.16 and round(csat["csat_pct"]) == 69
    nps = _m(r, "nps")["values"]
    assert (nps["promoters_pct"], nps["detractors_pct"], nps["nps"]) == (30, 20, 10)
    ces = _m(r, "ces")["values"]
    assert ces["average"] == (7 + 5 + 5 + 4) / 4 and ces["agree_pct"] == 75
    # a configurable threshold: % agree with 6 or more
    cfg = Config(
        path=None,
        data=config_data(
            kpi={"calendar": "madrid", "ces_agree_min": 6, "ces_headline": "agree_pct"}
        ),
    )
    r2 = build_report(store, cfg, KpiOptions(since=PERIOD[0], until=PERIOD[1]))
    assert _m(r2, "ces")["values"]["agree_pct"] == 25
    assert _m(r2, "ces")["headline"] == "agree_pct"
    store.close()


def test_monthly_team_cost(tmp_path: Path) -> None:
    cfg = Config(path=None, data=config_data(costs={"monthly_team": 30000, "currency": "USD"}))
    r = _report(tmp_path, cfg=cfg)
    cost = _m(r, "cost_per_ticket")
    assert cost["values"]["cost"] == pytest.approx(30000 * 14 / (365.25 / 12))
    assert cost["values"]["cost_per_ticket"] == pytest.approx(cost["values"]["cost"] / 5)
    assert cost["labels"] == {"currency": "USD"}


def test_jobs_are_accepted_and_change_nothing(tmp_path: Path) -> None:
    one = _report(tmp_path / "a", compare="previous", jobs=1)
    two = _report(tmp_path / "b", compare="previous", jobs=3)
    assert two["scanned"]["jobs"] == 1  # the columnar report runs in one process
    for a, b in zip(one["metrics"], two["metrics"], strict=True):
        assert a["values"] == b["values"], a["name"]
        assert a["previous"] == b["previous"], a["name"]
    assert one["series"] == two["series"] and one["heatmap"] == two["heatmap"]


def test_dst_fixture_sanity() -> None:
    # the fixture's premise: Madrid moved from UTC+1 to UTC+2 on 2026-03-29
    assert L("2026-03-27 16:30").hour == 15 and L("2026-03-31 09:30").hour == 7
