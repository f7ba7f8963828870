"""The calendar module's array forms equal its per-instant forms: business hours and whole
business days between many pairs of instants (the backtest's ages) are the same numbers as
``Calendar.business_seconds`` and ``business_days_between`` give one pair at a time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.calendars import (
    ALWAYS,
    business_days_array,
    business_days_between,
    business_hours_array,
    interval_start,
    open_intervals,
    parse_calendar,
)

SPLIT = parse_calendar(
    "split",
    {
        "timezone": "Europe/Madrid",
        "hours": {"mon-fri": "09:00-13:30, 14:15-18:00", "sat": "10:00-14:00"},
        "holidays": ["2026-03-30", "2026-12-25"],
        "holidays_country": "ES",
    },
)
NIGHT = parse_calendar(
    "night", {"timezone": "America/New_York", "hours": {"sun-thu": "22:00-24:00"}}
)
CALENDARS = [SPLIT, NIGHT, ALWAYS]
A = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
SPAN = 400 * 86400  # both DST changes of 2026, year end

pairs = st.lists(
    st.tuples(
        st.integers(0, SPAN),  # start, seconds after A
        st.one_of(st.integers(-3600, 6 * 3600), st.integers(0, 40 * 86400)),  # then + this
    ),
    min_size=1,
    max_size=60,
)


@given(pairs=pairs, which=st.sampled_from(range(len(CALENDARS))))
def test_business_hours_array_equals_business_seconds(pairs, which) -> None:  # type: ignore[no-untyped-def]
    cal = CALENDARS[which]
    start = np.array([A + a for a, _ in pairs], dtype=np.float64)
    end = np.array([A + a + d for a, d in pairs], dtype=np.float64)
    got = business_hours_array(cal, start, end).tolist()
    want = [
        cal.business_seconds(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC)) / 3600
        for a, b in zip(start.tolist(), end.tolist(), strict=True)
    ]
    assert got == want


@given(pairs=pairs, which=st.sampled_from(range(len(CALENDARS))))
def test_business_days_array_equals_business_days_between(pairs, which) -> None:  # type: ignore[no-untyped-def]
    cal = CALENDARS[which]
    start = np.array([A + a for a, _ in pairs], dtype=np.float64)
    end = np.array([A + a + d for a, d in pairs], dtype=np.float64)
    got = business_days_array(cal, start, end).tolist()
    want = [
        business_days_between(cal, datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC))
        for a, b in zip(start.tolist(), end.tolist(), strict=True)
    ]
    assert got == want


def test_open_intervals_and_interval_start() -> None:
    t0 = datetime(2026, 3, 27, tzinfo=UTC).timestamp()  # a Friday; Monday 30 is a holiday
    t1 = t0 + 5 * 86400
    spans = open_intervals(SPLIT, t0, t1)
    assert spans and all(a < b for a, b in spans)
    assert all(SPLIT.is_open(a) and SPLIT.is_open((a + b) / 2) for a, b in spans)
    assert sum(b - a for a, b in spans) >= SPLIT.business_seconds(
        datetime.fromtimestamp(t0, UTC), datetime.fromtimestamp(t1, UTC)
    )
    a, b = spans[1]
    assert interval_start(SPLIT, (a + b) / 2) == a
    assert interval_start(SPLIT, b + 1) == a  # in the gap after it: still its start
    monday = datetime(2026, 3, 30, 10, tzinfo=UTC).timestamp()
    assert not any(a <= monday < b for a, b in spans)  # the holiday
