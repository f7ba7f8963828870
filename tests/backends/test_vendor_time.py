"""The one vendor time parser: every format the first-party backends meet, and refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.backends import (
    EPOCH_PREFIX,
    TimeFormatError,
    iso_z,
    local_text,
    parse_time,
    require_time,
)

WHEN = datetime(2026, 1, 5, 9, 0, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "kw"),
    [
        ("2026-01-05T09:00:07Z", {}),  # Zendesk, Freshdesk, Help Scout, RT
        ("2026-01-05T09:00:07.000Z", {}),  # Zammad
        ("2026-01-05T10:00:07.000+0100", {}),  # Jira
        ("2026-01-05T09:00:07+00:00", {}),
        ("2026-01-05T09:00:07", {}),  # no zone: UTC by default
        (1767603607, {}),  # Zendesk event timestamps (unix seconds)
        ({"epochMillis": 1767603607000, "iso8601": "ignored"}, {}),  # Jira service desk
        ({"iso8601": "2026-01-05T09:00:07Z"}, {}),
        ("2026-01-05 10:00:07", {"tz": ZoneInfo("Europe/Berlin")}),  # LiveAgent local time
    ],
)
def test_every_vendor_format_reads_as_aware_utc(value: object, kw: dict[str, object]) -> None:
    parsed = parse_time(value, **kw)  # type: ignore[arg-type]
    assert parsed == WHEN and parsed.tzinfo is UTC


def test_empty_and_unset_values_are_none() -> None:
    assert parse_time(None) is None and parse_time("") is None
    assert parse_time("1970-01-01T00:00:00Z", unset=EPOCH_PREFIX) is None
    assert parse_time({}) is None


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", True, [1], 1e30])
def test_what_is_not_a_time_raises_a_value_error_quoting_it(value: object) -> None:
    with pytest.raises(TimeFormatError, match="not a time"):
        parse_time(value)
    with pytest.raises(TimeFormatError, match="missing"):
        require_time(None)


def test_formats_taken_back() -> None:
    assert iso_z(WHEN) == "2026-01-05T09:00:07Z"
    assert iso_z(WHEN.replace(microsecond=123456), millis=True) == "2026-01-05T09:00:07.123Z"
    assert local_text(WHEN, ZoneInfo("Europe/Berlin")) == "2026-01-05 10:00:07"


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(1971, 1, 1)))
def test_iso_z_round_trips(when: datetime) -> None:
    assert parse_time(iso_z(when)) == when.replace(microsecond=0)
    assert parse_time(iso_z(when, millis=True)) == when.replace(
        microsecond=when.microsecond // 1000 * 1000
    )


@given(st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.booleans(), st.none()))
def test_anything_parses_or_raises_value_error(value: object) -> None:
    try:
        result = parse_time(value)
    except ValueError:
        return
    assert result is None or result.tzinfo is UTC
