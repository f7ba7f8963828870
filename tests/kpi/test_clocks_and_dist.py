"""The fast time helpers (calendars.BusinessClock, ZoneClock) and the exact distributions."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, date, datetime, timedelta

import pytest

from cstoolkit.calendars import (
    ALWAYS,
    EPOCH_ORDINAL,
    BusinessClock,
    ZoneClock,
    parse_calendar,
)
from cstoolkit.kpi.metrics import Dist
from tests.kpi.helpers import CALENDAR, L

SPLIT = parse_calendar(
    "split",
    {
        "timezone": "Europe/Madrid",
        "hours": {"mon-fri": "09:00-13:30, 14:15-18:00", "sat": "10:00-14:00"},
        "holidays": ["2026-03-30", "2026-12-25"],
    },
)
MADRID = parse_calendar("madrid", CALENDAR)
A = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
B = datetime(2027, 1, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("cal", [SPLIT, MADRID], ids=["split-hours", "9-17"])
def test_business_clock_equals_calendar_business_seconds(cal) -> None:  # type: ignore[no-untyped-def]
    clock = BusinessClock(cal, A, B)
    table = clock.minute_table()
    assert table is not None
    t0, before, opened = table
    rng = random.Random(7)
    for _ in range(1500):
        a = A + rng.random() * (B - A) * 1.02 - 86400 * 3  # a few outside the index too
        b = a + rng.random() * 86400 * rng.choice([0.1, 2, 15])
        exact = cal.business_seconds(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC))
        assert clock.seconds(a, b) == pytest.approx(exact, abs=1e-6)
        t = int(a)
        m = (t - t0) // 60
        if 0 <= m < len(opened):
            assert before[m] + (t - t0 - 60 * m) * opened[m] == pytest.approx(clock.offset(t))


def test_business_clock_by_hand() -> None:
    clock = BusinessClock(MADRID, A, B)
    # Fri 16:30 -> Tue 09:30 across a weekend, the DST change and a holiday: 30m + 30m
    assert (
        clock.seconds(L("2026-03-27 16:30").timestamp(), L("2026-03-31 09:30").timestamp()) == 3600
    )
    # the day the clocks go back still has 8 business hours (Sun 25 Oct: closed; Mon 26 open)
    assert (
        clock.seconds(L("2026-10-26 00:00").timestamp(), L("2026-10-27 00:00").timestamp())
        == 8 * 3600
    )
    assert clock.seconds(10.0, 5.0) == 0.0
    always = BusinessClock(ALWAYS, A, B)
    assert always.seconds(A, A + 123.5) == 123.5 and always.minute_table() is None


def test_zone_clock_days_hours_and_quarters() -> None:
    for zone in ("Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"):
        zc = ZoneClock(zone, A, B)
        quarters = zc.quarter_table()
        assert quarters is not None
        q0, offs = quarters
        rng = random.Random(3)
        for _ in range(3000):
            t = int(A + rng.random() * (B - A))
            local = datetime.fromtimestamp(t, UTC).astimezone(zc._zone)
            assert date.fromordinal(zc.day(t) + EPOCH_ORDINAL) == local.date()
            assert int(zc.local(t)) % 86400 // 3600 == local.hour
            assert offs[(t - q0) // 900] == zc.offset(t)
    zc = ZoneClock("Europe/Madrid", A, B)
    assert (
        zc.utc_of_day(zc.day(L("2026-03-29 12:00").timestamp()))
        == L("2026-03-29 00:00").timestamp()
    )
    assert (
        zc.day(L("2026-03-29 00:30").timestamp()) - zc.day(L("2026-03-28 23:30").timestamp()) == 1
    )


@pytest.mark.parametrize("n", [1, 2, 5, 10, 101, 1000])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_dist_matches_statistics(n: int, parts: int) -> None:
    rng = random.Random(n * 10 + parts)
    xs = [float(rng.randint(0, 80)) for _ in range(n)]
    d = Dist()
    for i in range(parts):
        d.merge(Dist(xs[i * n // parts : (i + 1) * n // parts]))
    assert d.count == n
    assert d.median() == statistics.median(xs)
    assert d.mean() == pytest.approx(statistics.fmean(xs))
    p90 = statistics.quantiles(xs, n=10, method="inclusive")[-1] if n > 1 else xs[0]
    assert d.quantile(0.9) == pytest.approx(p90)
    assert [d.kth(k) for k in range(n)] == sorted(xs)
    assert sum(d.histogram([10, 40])) == n
    assert d.histogram([10, 40])[0] == sum(x < 10 for x in xs)


def test_dist_empty_and_pickle() -> None:
    import pickle

    assert Dist().summary() == {"count": 0, "mean": None, "median": None, "p90": None}
    d = Dist([3.0, 1.0, 2.0]).seal()
    e = pickle.loads(pickle.dumps(d))
    assert e.median() == 2.0 and e.count == 3
    with pytest.raises(IndexError):
        e.kth(3)


def test_every_day_of_the_fixture_year_has_its_hours() -> None:
    clock = BusinessClock(MADRID, A, B)
    day = date(2026, 1, 1)
    total = 0.0
    while day.year == 2026:
        start = datetime.combine(day, datetime.min.time()).replace(tzinfo=MADRID.zone)
        end = start + timedelta(days=1)
        total += clock.seconds(start.timestamp(), end.astimezone(UTC).timestamp())
        day += timedelta(days=1)
    weekdays = sum(1 for i in range(365) if (date(2026, 1, 1) + timedelta(i)).weekday() < 5)
    assert total == (weekdays - 1) * 8 * 3600  # one holiday (Mon 30 March) on a weekday
