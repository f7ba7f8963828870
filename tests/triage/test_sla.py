"""The SLA engine: business-time arithmetic (worked examples E3), clocks, policies."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cstoolkit import sla
from cstoolkit.calendars import Calendar, load_calendars, parse_calendar
from cstoolkit.config import load_config
from cstoolkit.errors import ConfigError

from .conftest import event, person, ticket

NINE_FIVE = parse_calendar("office", {"timezone": "UTC", "hours": {"mon-fri": "09:00-17:00"}})
EIGHT_FIVE = parse_calendar("early", {"timezone": "UTC", "hours": {"mon-fri": "08:00-17:00"}})


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


# -- E3: business-hours due dates (2026-01-02 is a Friday) ------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (at(2026, 1, 2, 16), 4, at(2026, 1, 5, 12)),  # Fri 16:00 + 4 h -> Mon 12:00
        (at(2026, 1, 1, 15), 4, at(2026, 1, 2, 11)),  # Thu 15:00 + 4 h -> Fri 11:00
        (at(2026, 1, 6, 11), 8, at(2026, 1, 7, 11)),  # Tue 11:00 + 8 h -> Wed 11:00
        (at(2026, 1, 6, 16, 30), 1, at(2026, 1, 7, 9, 30)),  # 16:30 + 1 h -> next day 09:30
        (at(2026, 1, 2, 17), 8, at(2026, 1, 5, 17)),  # Fri 17:00 + 8 h -> Mon 17:00 (not 09:00)
    ],
)
def test_e3_due_dates(start: datetime, hours: int, due: datetime) -> None:
    assert NINE_FIVE.add_business_seconds(start, hours * 3600) == due
    assert NINE_FIVE.add_business_seconds(start, hours * 3600) == due
    assert NINE_FIVE.business_seconds(start, due) == hours * 3600


def test_e3_corrected_third_party_example() -> None:
    # "Fri 16:00 + 4 h (8-17) -> Tue 11:00" is wrong; it is Monday 11:00
    assert EIGHT_FIVE.add_business_seconds(at(2026, 1, 2, 16), 4 * 3600) == at(2026, 1, 5, 11)


MADRID = parse_calendar(
    "madrid",
    {
        "timezone": "Europe/Madrid",
        "hours": {"mon-fri": "09:00-18:00"},
        "holidays_country": "ES",
        "holidays": ["2026-03-27"],
    },
)


def local(y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=ZoneInfo("Europe/Madrid")).astimezone(UTC)


def test_madrid_weekend_holiday_and_dst() -> None:
    # Thu 2026-03-26 16:00 local + 6 business hours: Thu 16-18 (2 h), Fri 27 is a holiday,
    # the weekend of the DST change (Sun 29 March), Mon 30 09:00-13:00 (4 h) -> 13:00 CEST
    due = MADRID.add_business_seconds(local(2026, 3, 26, 16), 6 * 3600)
    assert due == local(2026, 3, 30, 13)
    assert due.astimezone(ZoneInfo("Europe/Madrid")).utcoffset() == timedelta(hours=2)
    assert MADRID.business_seconds(local(2026, 3, 26, 16), due) == 6 * 3600
    # 1 January and 6 January are national holidays in Spain
    assert MADRID.add_business_seconds(local(2025, 12, 31, 17), 2 * 3600) == local(2026, 1, 2, 10)


def test_dst_autumn_day_is_still_nine_hours() -> None:
    # Sunday 25 Oct 2026 clocks go back; Monday is a normal 9-hour day in local time
    start = local(2026, 10, 23, 18)  # Friday after hours
    assert MADRID.add_business_seconds(start, 9 * 3600) == local(2026, 10, 26, 18)


# The day-by-day walks over Calendar.day_intervals: the reference the interval index is tested
# against (holidays and DST are the calendar's own).


def _days_around(cal: Calendar, a: datetime, b: datetime) -> Iterator[tuple[datetime, datetime]]:
    day = a.astimezone(cal.zone).date() - timedelta(days=1)
    last = b.astimezone(cal.zone).date() + timedelta(days=1)
    while day <= last:
        yield from cal.day_intervals(day)
        day += timedelta(days=1)


def is_open_by_day(cal: Calendar, t: datetime) -> bool:
    return any(s <= t < e for s, e in _days_around(cal, t, t))


def business_seconds_by_day(cal: Calendar, start: datetime, end: datetime) -> float:
    total = 0.0
    for s, e in _days_around(cal, start, end):
        lo, hi = max(s, start), min(e, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def add_business_seconds_by_day(cal: Calendar, start: datetime, seconds: float) -> datetime:
    if seconds <= 0:
        return start
    remaining = seconds
    for s, e in _days_around(cal, start, start + timedelta(days=366)):
        lo = max(s, start)
        if e <= lo:
            continue
        available = (e - lo).total_seconds()
        if available >= remaining:
            return lo + timedelta(seconds=remaining)
        remaining -= available
    raise AssertionError("no business time within a year")


def next_open_by_day(cal: Calendar, t: datetime) -> datetime:
    return next(max(s, t) for s, e in _days_around(cal, t, t + timedelta(days=366)) if e > t)


def test_fast_clock_equals_calendar_on_random_instants() -> None:
    rng = random.Random(4)
    for _ in range(1500):
        a = at(2025, 1, 1) + timedelta(seconds=rng.randrange(0, 2 * 365 * 86400))
        b = a + timedelta(seconds=rng.randrange(0, 30 * 86400))
        assert MADRID.business_seconds(a, b) == pytest.approx(business_seconds_by_day(MADRID, a, b))
        s = rng.randrange(0, 120 * 3600)
        assert MADRID.add_business_seconds(a, s) == add_business_seconds_by_day(MADRID, a, s)
        assert MADRID.is_open(a) == is_open_by_day(MADRID, a)
        assert MADRID.next_open(a) == next_open_by_day(MADRID, a)


def test_closed_calendar_raises_instead_of_hanging() -> None:
    closed = parse_calendar("closed", {"timezone": "UTC", "hours": {"mon-fri": "closed"}})
    with pytest.raises(ValueError, match="no business hours"):
        closed.add_business_seconds(at(2026, 1, 1), 3600)


# -- clocks --------------------------------------------------------------------------------------

CALS = load_calendars({"office": {"timezone": "UTC", "hours": {"mon-fri": "09:00-17:00"}}})
POLICY = sla.parse_policy(
    "std",
    {
        "calendar": "office",
        "first_reply": {"normal": "4h", "urgent": "1h"},
        "next_reply": "2h",
        "periodic_update": "8h",
        "resolution": {"normal": "16h"},
    },
    calendars=CALS,
)


def states(t, evs, now):  # type: ignore[no-untyped-def]
    return {(s.metric, s.instance): s for s in sla.evaluate(t, evs, POLICY, CALS, now)}


def test_first_reply_breach_across_the_weekend() -> None:
    t = ticket(created=at(2026, 1, 2, 16))
    evs = [
        event("created", at(2026, 1, 2, 16), "requester", public=True),
        event("comment", at(2026, 1, 5, 13), "agent", public=True, author="demo:a1"),
    ]
    s = states(t, evs, at(2026, 1, 6, 9))[("first_reply", 1)]
    assert s.due_at == at(2026, 1, 5, 12)
    assert s.fulfilled_at == at(2026, 1, 5, 13)
    assert s.breached and s.breached_at == at(2026, 1, 5, 12)
    assert s.elapsed_seconds == 5 * 3600 and s.remaining_seconds == -3600
    assert s.business and not s.active


def test_internal_notes_do_not_answer() -> None:
    t = ticket(created=at(2026, 1, 5, 9))
    evs = [
        event("created", at(2026, 1, 5, 9), "requester", public=True),
        event("comment", at(2026, 1, 5, 10), "agent", public=False),
    ]
    s = states(t, evs, at(2026, 1, 5, 12))[("first_reply", 1)]
    assert s.active and s.fulfilled_at is None
    assert s.remaining_seconds == 3600 and s.due_at == at(2026, 1, 5, 13)


def test_pending_pauses_and_next_reply_instances() -> None:
    t = ticket(created=at(2026, 1, 5, 9))
    evs = [
        event("created", at(2026, 1, 5, 9), "requester", public=True),
        event("comment", at(2026, 1, 5, 10), "agent", public=True),
        event("status_change", at(2026, 1, 5, 10), "agent", old="open", new="pending"),
        event("comment", at(2026, 1, 6, 9), "requester", public=True),
        event("status_change", at(2026, 1, 6, 9), "requester", old="pending", new="open"),
        event("comment", at(2026, 1, 6, 10), "agent", public=True),
        event("comment", at(2026, 1, 6, 11), "requester", public=True),
        event("comment", at(2026, 1, 6, 12), "requester", public=True),
    ]
    got = states(t, evs, at(2026, 1, 6, 15))
    assert got[("next_reply", 1)].fulfilled_at == at(2026, 1, 6, 10)
    second = got[("next_reply", 2)]
    assert second.started_at == at(2026, 1, 6, 11)  # the oldest unanswered message
    assert second.breached and second.breached_at == at(2026, 1, 6, 13)
    assert ("next_reply", 3) not in got
    # periodic update: Mon 10:00 -> Tue 10:00, paused while pending (Mon 10:00-Tue 09:00)
    assert got[("periodic_update", 1)].elapsed_seconds == 3600
    res = got[("resolution", 1)]
    assert res.elapsed_seconds == (1 + 6) * 3600  # Mon 9-10, Tue 9-15; pending left out
    assert not res.paused and res.active


def test_resolution_stops_when_solved_and_resumes_on_reopen() -> None:
    t = ticket(created=at(2026, 1, 5, 9), status="open")
    evs = [
        event("created", at(2026, 1, 5, 9), "requester", public=True),
        event("status_change", at(2026, 1, 5, 11), "agent", old="open", new="solved"),
        event("status_change", at(2026, 1, 6, 9), "requester", old="solved", new="open"),
    ]
    res = states(t, evs, at(2026, 1, 6, 12))[("resolution", 1)]
    assert res.active and res.elapsed_seconds == 5 * 3600
    solved = ticket(created=at(2026, 1, 5, 9), status="solved")
    evs2 = evs[:2]
    res2 = states(solved, evs2, at(2026, 1, 7, 9))[("resolution", 1)]
    assert res2.fulfilled_at == at(2026, 1, 5, 11) and not res2.breached


def test_paused_clock_has_no_due_time() -> None:
    t = ticket(created=at(2026, 1, 5, 9), status="pending")
    evs = [
        event("created", at(2026, 1, 5, 9), "requester", public=True),
        event("status_change", at(2026, 1, 5, 10), "agent", old="open", new="pending"),
    ]
    fr = states(t, evs, at(2026, 1, 5, 15))[("first_reply", 1)]
    assert fr.paused and fr.due_at is None and fr.elapsed_seconds == 3600


def test_priority_without_target_has_no_clock() -> None:
    t = ticket(created=at(2026, 1, 5, 9), priority="low")
    got = states(
        t, [event("created", at(2026, 1, 5, 9), "requester", public=True)], at(2026, 1, 5, 10)
    )
    assert ("first_reply", 1) not in got and ("next_reply", 1) not in got


def test_condition_values() -> None:
    t = ticket(created=at(2026, 1, 5, 9))
    evs = [event("created", at(2026, 1, 5, 9), "requester", public=True)]
    now = at(2026, 1, 5, 12, 30)
    values = sla.condition_values(sla.evaluate(t, evs, POLICY, CALS, now), POLICY, CALS, now)
    assert values["sla.policy"] == "std"
    assert values["sla.breached"] is False
    assert values["sla.next_metric"] == "first_reply"
    assert values["sla.first_reply.remaining_business_hours"] == pytest.approx(0.5)
    assert values["sla.remaining_business_hours"] == pytest.approx(0.5)
    assert values["sla.due_at"] == at(2026, 1, 5, 13)


# -- policies ------------------------------------------------------------------------------------


def test_policy_order_and_explicit_policy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text(
        '[sla.standard]\nfirst_reply = "8h"\n\n'
        '[sla.vip]\norder = -1\nwhen = "requester.plan:enterprise"\nfirst_reply = "1h"\n'
    )
    policies = sla.load_policies(load_config(cfg))
    assert [p.name for p in policies] == ["vip", "standard"]
    t = ticket()
    assert sla.policy_for(t, person("enterprise"), policies).name == "vip"  # type: ignore[union-attr]
    assert sla.policy_for(t, person("free"), policies).name == "standard"  # type: ignore[union-attr]
    t.custom_fields[sla.SLA_POLICY_FIELD] = "vip"
    assert sla.policy_for(t, person("free"), policies).name == "vip"  # type: ignore[union-attr]


def test_policy_errors_name_file_line_and_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text('[sla.std]\ncalendar = "madird"\nfirst_reply = "8h"\n')
    with pytest.raises(ConfigError) as err:
        sla.load_policies(load_config(cfg))
    assert str(err.value).startswith(f"{cfg}:2: sla.std.calendar: unknown calendar 'madird'")
    cfg.write_text('[sla.std]\nfirst_reply = { normall = "8h" }\n')
    with pytest.raises(ConfigError, match="did you mean 'normal'"):
        sla.load_policies(load_config(cfg))
    cfg.write_text('[sla.std]\nfirst_reply = "soon"\n')
    with pytest.raises(ConfigError, match="expected a duration"):
        sla.load_policies(load_config(cfg))


def test_durations() -> None:
    assert sla.parse_duration("90s", "x") == 90
    assert sla.parse_duration("30m", "x") == 1800
    assert sla.parse_duration("2d", "x") == 172800
    assert sla.parse_duration(15, "x") == 900  # bare numbers are minutes
