"""Erlang C staffing: the worked example E1, stability, the plan from a store, the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from cstoolkit.cli import cli
from cstoolkit.errors import UsageError
from cstoolkit.kpi import staffing as st
from tests.kpi.helpers import PERIOD, build_main

# E1: 100 calls per 30 min, AHT 180 s, 20 s answer target (reference section 9)
E1 = {
    11: (0.6821182, 0.389614, 122.78, 0.9091),
    12: (0.4493882, 0.640158, 40.44, 0.8333),
    13: (0.2852705, 0.795595, 17.12, 0.7692),
    14: (0.1741319, 0.888350, 7.836, 0.7142857),
    15: (0.1020424, 0.941453, 3.674, 0.6667),
}


@pytest.mark.parametrize("agents", sorted(E1))
def test_e1_table(agents: int) -> None:
    pw, sl, asa, occ = E1[agents]
    r = st.evaluate_agents(agents, 100, 1800, 180, 20, shrinkage=0.3)
    assert r.traffic == 10.0
    assert r.waiting_probability == pytest.approx(pw, abs=5e-8)
    assert r.service_level == pytest.approx(sl, abs=5e-7)
    assert r.asa_seconds == pytest.approx(asa, abs=6e-3 if asa > 10 else 6e-4)
    assert r.occupancy == pytest.approx(occ, abs=5e-5)


def test_e1_required_agents() -> None:
    r = st.required_agents(100, 1800, 180, 0.8, 20, max_occupancy=0.85, shrinkage=0.3)
    assert (r.agents, r.scheduled) == (14, 20)
    assert round(r.service_level, 6) == 0.888350
    assert round(r.asa_seconds or 0, 3) == 7.836
    assert round(r.occupancy or 0, 3) == 0.714
    capped = st.required_agents(100, 1800, 180, 0.8, 20, max_occupancy=0.7, shrinkage=0.3)
    assert (capped.agents, capped.scheduled) == (15, 22)
    assert round(capped.service_level, 3) == 0.941


def test_stable_for_large_traffic_and_edge_cases() -> None:
    # 5,000 erlangs: A^N / N! would overflow a float long before N = 5,000
    r = st.required_agents(50_000, 1800, 180, 0.8, 20, max_occupancy=1.0)
    assert 5000 < r.agents < 5200 and math.isfinite(r.waiting_probability)
    assert r.service_level >= 0.8
    assert st.erlang_c(10, 10.0) == 1.0  # unstable: everyone waits
    none = st.required_agents(0, 1800, 180, 0.8, 20)
    assert (none.agents, none.scheduled) == (0, 0)
    unstable = st.evaluate_agents(9, 100, 1800, 180, 20)
    assert unstable.service_level == 0 and unstable.asa_seconds is None


def test_parse_target() -> None:
    assert st.parse_target("80/20") == (0.8, 20.0)
    assert st.parse_target("90%/1m") == (0.9, 60.0)
    for bad in ("80", "0/20", "120/20", "x/y"):
        with pytest.raises(UsageError):
            st.parse_target(bad)


def test_what_if_command_json() -> None:
    res = CliRunner().invoke(
        cli,
        [
            "report",
            "staffing",
            "--arrivals",
            "100",
            "--interval",
            "30m",
            "--aht",
            "180s",
            "--target",
            "80/20",
            "--agents",
            "13",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["traffic_erlangs"] == 10.0
    assert (doc["required"]["agents"], doc["required"]["scheduled"]) == (14, 20)
    assert doc["with_agents"]["agents"] == 13
    assert round(doc["with_agents"]["service_level"], 6) == 0.795595


def test_what_if_command_table_and_errors() -> None:
    runner = CliRunner()
    res = runner.invoke(
        cli, ["report", "staffing", "--arrivals", "100", "--aht", "3m", "--max-occupancy", "0.7"]
    )
    assert res.exit_code == 0 and "15" in res.output and "22" in res.output
    res = runner.invoke(cli, ["report", "staffing", "--arrivals", "100"])
    assert res.exit_code != 0 and "--aht" in str(res.exception or res.output)


def test_plan_from_store(tmp_path: Path) -> None:
    from cstoolkit.kpi.periods import parse_when
    from cstoolkit.model import now

    store = build_main(tmp_path / "s.db")
    settings = st.StaffingSettings(interval_seconds=3600, aht_seconds=600)
    since = parse_when(PERIOD[0], "Europe/Madrid", now(), None)
    until = parse_when(PERIOD[1], "Europe/Madrid", now(), None)
    doc = st.plan_from_store(store, settings, since, until, "Europe/Madrid")
    store.close()
    assert doc["inputs"]["tickets"] == 5
    assert doc["inputs"]["weekday_days"] == dict.fromkeys(st.WEEKDAYS, 2)
    rows = {(r["weekday"], r["start"]): r for r in doc["intervals"]}
    assert len(rows) == 7 * 24
    mon9 = rows[("mon", "09:00")]  # t:2 on one of the two Mondays: 0.5 arrivals per hour
    assert mon9["arrivals"] == 0.5 and mon9["agents"] == 1
    assert rows[("sun", "03:00")]["agents"] == 0
