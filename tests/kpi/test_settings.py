"""[kpi], [costs] and [staffing]: defaults, checks, and `cst config check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from cstoolkit.config import check_config, load_config
from cstoolkit.errors import ConfigError
from cstoolkit.host import Host
from cstoolkit.kpi.metrics import KpiSettings, parse_seconds
from cstoolkit.kpi.staffing import StaffingSettings


def test_defaults() -> None:
    s = KpiSettings.from_config({})
    assert (s.csat_good_min, s.nps_promoter_min, s.nps_detractor_max, s.ces_agree_min) == (
        4,
        9,
        6,
        5,
    )
    assert s.period_days == 30 and not s.costs.configured
    st = StaffingSettings.from_config({})
    assert (st.service_level, st.answer_seconds, st.max_occupancy, st.shrinkage) == (
        0.8,
        20,
        0.85,
        0.3,
    )
    assert st.interval_seconds == 1800


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kpi": {"calender": "x"}}, "kpi.calender"),
        ({"kpi": {"ces_headline": "median"}}, "kpi.ces_headline"),
        ({"kpi": {"backlog_buckets": ["soon"]}}, "kpi.backlog_buckets"),
        ({"costs": {"agent_hour": 20, "monthly_team": 9000}}, "costs"),
        ({"costs": {"agent_hour": "lots"}}, "costs.agent_hour"),
        ({"staffing": {"target": "80"}}, "staffing.target"),
        ({"staffing": {"interval": "7m"}}, "staffing.interval"),
        ({"staffing": {"shrinkage": 1}}, "staffing"),
    ],
)
def test_bad_settings_name_their_field(data: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as err:
        KpiSettings.from_config(data)
        StaffingSettings.from_config(data)
    assert err.value.field == field


def test_config_check_reports_them_with_a_line(tmp_path: Path) -> None:
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text(
        '[store]\npath = "x.db"\n\n[kpi]\ncalendar = "a"\ncalender = "b"\n\n[costs]\n'
        '[calendars.a]\ntimezone = "UTC"\n'  # kpi.calendar must name a calendar
    )
    problems = check_config(load_config(cfg), Host(entry_points=[]).load())
    assert len(problems) == 1
    p = problems[0]
    assert p.line == 6 and p.field == "kpi.calender" and "did you mean 'calendar'" in p.message


def test_parse_seconds() -> None:
    assert parse_seconds("30m", "x") == 1800
    assert parse_seconds("1.5h", "x") == 5400
    assert parse_seconds(2, "x", default_unit="m") == 120
    with pytest.raises(ConfigError):
        parse_seconds("soon", "x")
