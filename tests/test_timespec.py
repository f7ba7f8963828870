"""The one time-spec parser (cstoolkit/timespec.py, docs/time.md): forms, zones, periods, and
generated strings that either parse or give the one-line error (never a traceback)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit import timespec as ts
from cstoolkit.errors import UsageError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("5min", 300),
        ("1.5h", 5400),
        ("1h30m", 5400),
        ("1d 12h", 129600),
        ("7D", 7 * 86400),
        ("2w", 14 * 86400),
        ("1y", 365 * 86400),
        ("45", 45),
        (" 2 d ", 2 * 86400),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert ts.parse_duration(text) == seconds


def test_a_bare_number_is_in_the_unit_of_its_use() -> None:
    assert ts.parse_duration("15", unit="m") == 900
    assert ts.parse_duration(15, unit="m") == 900
    assert ts.parse_duration(2.5, unit="h") == 9000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "bad duration 'soon': expected a duration such as 90s, 30m, 1.5h, 7d, 2w or"),
        ("1h30", "bad duration '1h30'"),
        ("-5m", "bad duration '-5m'"),
        (True, "bad duration True"),
        (-1, "a duration must not be negative, got -1"),
        ("200y", "duration '200y' is out of range (at most 100 years)"),
        (float("inf"), "is out of range (at most 100 years)"),
    ],
)
def test_bad_durations(value: object, message: str) -> None:
    with pytest.raises(ts.TimeSpecError) as err:
        ts.parse_duration(value)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_duration_limits_of_a_use() -> None:
    with pytest.raises(ts.TimeSpecError, match="more than zero"):
        ts.parse_duration("0s", positive=True)
    with pytest.raises(ts.TimeSpecError, match=r"out of range \(at most 1h\)"):
        ts.parse_duration("2h", maximum=3600)
    assert ts.format_duration(5400) == "90m" and ts.format_duration(7 * 86400) == "1w"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW - timedelta(minutes=90)),
        ("1.5d", NOW - timedelta(hours=36)),
        ("7d", NOW - timedelta(days=7)),
        ("now", NOW),
        ("Today", datetime(2026, 3, 1, tzinfo=UTC)),
        ("yesterday", datetime(2026, 2, 28, tzinfo=UTC)),
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T09:00", datetime(2026, 1, 31, 9, tzinfo=UTC)),  # naive: UTC here
        ("2026-01-31T09:00:00Z", datetime(2026, 1, 31, 9, tzinfo=UTC)),
        ("2026-01-31t09:00z", datetime(2026, 1, 31, 9, tzinfo=UTC)),
        ("2026-01-31T10:00:00+01:00", datetime(2026, 1, 31, 9, tzinfo=UTC)),
    ],
)
def test_times_in_utc(text: str, expected: datetime) -> None:
    assert ts.parse_time(text, now=NOW) == expected


def test_dates_and_naive_times_are_read_in_the_zone_of_the_use() -> None:
    assert ts.parse_time("2026-01-31", zone=MADRID) == datetime(2026, 1, 30, 23, tzinfo=UTC)
    assert ts.parse_time("2026-07-01T09:00", zone="Europe/Madrid") == datetime(
        2026, 7, 1, 7, tzinfo=UTC
    )
    assert ts.parse_time("today", now=NOW, zone=MADRID) == datetime(2026, 2, 28, 23, tzinfo=UTC)


def test_an_age_counts_back_from_the_end_of_a_period_in_calendar_days() -> None:
    """``--since 30d --until 2026-04-01`` (Madrid): 30 local days, across the DST change."""
    until = ts.parse_time("2026-04-01", zone=MADRID)
    since = ts.parse_time("30d", now=NOW, zone=MADRID, base=until)
    assert since.astimezone(MADRID).replace(tzinfo=None) == datetime(2026, 3, 2)
    # hours are hours: 48h back from that midnight is 48 real hours
    assert ts.parse_time("48h", now=NOW, zone=MADRID, base=until) == until - timedelta(hours=48)


@pytest.mark.parametrize(
    ("text", "kw", "message"),
    [
        ("soon", {}, "'soon' is not a date or time (not an ISO 8601 date such as"),
        ("30", {}, "'30' is not a date or time"),  # an age needs its unit
        ("2026-02-30", {}, "'2026-02-30' is not a date or time"),
        ("7d", {"relative": False, "ages": False}, "'7d' is not a date or time (not an ISO"),
        ("2026-01-31T09:00", {"naive": False}, "has no time zone (add Z or +hh:mm)"),
        ("9999-12-31", {}, "date '9999-12-31' is out of range (1900-01-01 to 9998-12-31)"),
        ("0001-01-01T00:00:00+05:00", {}, "is out of range (1900-01-01 to 9999-01-01)"),
        ("200y", {}, "duration '200y' is out of range (at most 100 years)"),
    ],
)
def test_bad_times(text: str, kw: dict[str, bool], message: str) -> None:
    with pytest.raises(ts.TimeSpecError) as err:
        ts.parse_time(text, now=NOW, **kw)  # type: ignore[arg-type]
    assert message in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, UsageError) and err.value.exit_code == 2


def test_an_option_names_itself_in_the_error() -> None:
    with pytest.raises(UsageError) as err, ts.option("--since"):
        ts.parse_time("soon", now=NOW)
    assert str(err.value).startswith("--since: 'soon' is not a date or time")


def test_dates_ranges_and_times_of_day() -> None:
    assert ts.parse_date("2026-12-24") == date(2026, 12, 24)
    assert ts.parse_date(datetime(2026, 12, 24, 10)) == date(2026, 12, 24)
    assert ts.parse_date_range("2026-08-01..2026-08-15") == (date(2026, 8, 1), date(2026, 8, 15))
    with pytest.raises(ts.TimeSpecError, match=r"range '2026-08-15\.\.2026-08-01' is reversed"):
        ts.parse_date_range("2026-08-15..2026-08-01")
    with pytest.raises(ts.TimeSpecError, match="bad date '2026-02-30'"):
        ts.parse_date("2026-02-30")
    with pytest.raises(ts.TimeSpecError, match="date 0001-01-01 is out of range"):
        ts.parse_date("0001-01-01")
    assert ts.parse_clock("24:00") == time(0) and ts.parse_clock("8:30") == time(8, 30)
    assert ts.parse_clock_range("21:00-08:00") == (time(21), time(8))
    with pytest.raises(ts.TimeSpecError, match="HH:MM"):
        ts.parse_clock("25:00")


# -- generated strings: parsed, or the one-line error; never anything else ---------------------

SPEC_ALPHABET = st.sampled_from(list("0123456789.:-+TZzdhmswy /\tnotayx\u00e9\u0663\u00b2"))
SPECS = st.one_of(
    st.text(SPEC_ALPHABET, max_size=30),
    st.text(max_size=20),
    st.builds(
        "{}{}{}".format,
        st.integers(-10, 10**30).map(str),
        st.sampled_from(["", "s", "m", "h", "d", "w", "y", "min", "sec", "q", ".5d", "h30m"]),
        st.sampled_from(["", " ", "Z", "x"]),
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.isoformat()
    ),
)


def _one_line_error(exc: ts.TimeSpecError) -> None:
    text = str(exc)
    assert text and "\n" not in text and len(text) < 400, text


@given(SPECS, st.sampled_from([UTC, MADRID, ZoneInfo("Pacific/Kiritimati")]))
def test_any_string_is_a_time_or_the_one_error(text: str, zone: ZoneInfo) -> None:
    for kw in ({}, {"relative": False, "naive": False}):
        try:
            when = ts.parse_time(text, now=NOW, zone=zone, **kw)  # type: ignore[arg-type]
        except ts.TimeSpecError as exc:
            _one_line_error(exc)
        else:
            assert when.tzinfo is UTC and ts.EARLIEST <= when <= ts.LATEST


@given(SPECS, st.sampled_from(["s", "m", "h"]))
def test_any_string_is_a_duration_or_the_one_error(text: str, unit: str) -> None:
    try:
        seconds = ts.parse_duration(text, unit=unit)
    except ts.TimeSpecError as exc:
        _one_line_error(exc)
    else:
        assert 0 <= seconds <= ts.MAX_DURATION


@given(SPECS)
def test_any_string_is_a_date_or_the_one_error(text: str) -> None:
    try:
        day = ts.parse_date_range(text)
    except ts.TimeSpecError as exc:
        _one_line_error(exc)
    else:
        assert day[0] <= day[1]


@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30)))
def test_iso_text_round_trips(when: datetime) -> None:
    aware = when.replace(tzinfo=UTC)
    assert ts.parse_time(aware.isoformat(), relative=False) == aware
    assert ts.parse_time(aware.isoformat().replace("+00:00", "Z"), naive=False) == aware
