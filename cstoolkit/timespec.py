"""The one parser of time specs: durations, times (absolute and relative), dates, date ranges and
times of day, for every command-line option and config key that takes one (docs/time.md).

It is the bottom layer (the standard library and :mod:`cstoolkit.errors` only), so the config
checker, the query language and every engine use the same rules:

* a **duration** is a number with a unit (``90s``, ``30m``, ``1.5h``, ``7d``, ``2w``, ``1y``) or
  several (``1h30m``); a bare number is in the unit its option or key states;
* a **time** is an ISO 8601 date (the start of that day) or date and time (``Z`` or ``+hh:mm``;
  without a zone: the use's zone, UTC unless it says otherwise), ``now``, ``today``,
  ``yesterday`` (the start of that day), or an age: a duration back from now, or from the end of
  a period for its start (``--since 30d --until 2026-02-01``);
* a **date** is an ISO 8601 date; a **date range** is ``DATE..DATE`` (both included);
* a **time of day** is ``HH:MM`` (``24:00`` ends a day), a range of them ``HH:MM-HH:MM``.

Every function raises :class:`TimeSpecError`, one line that does not name the option or key:
the caller adds the name (:func:`option` for command-line options, the config checker for keys),
so the same mistake reads the same everywhere. It is a :class:`~cstoolkit.errors.UsageError`
(exit 2) and a :class:`ValueError`.

Vendor data (times that helpdesk APIs send) has its own parser,
:mod:`cstoolkit.vendor_time`; a test (tests/test_timespec_ast.py) keeps every other
module from parsing times itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cstoolkit.errors import UsageError

__all__ = [
    "DURATION",
    "EARLIEST",
    "LATEST",
    "MAX_DURATION",
    "UNITS",
    "TimeSpecError",
    "format_duration",
    "is_duration",
    "option",
    "parse_clock",
    "parse_clock_range",
    "parse_date",
    "parse_date_range",
    "parse_duration",
    "parse_time",
    "parse_timedelta",
    "zone_of",
]


class TimeSpecError(UsageError, ValueError):
    """A time spec that cannot be read; ``str()`` is one line without the option's name."""


#: The instants cst accepts (from options, config, queries and files people write): EARLIEST to
#: LATEST, both included. Outside them date arithmetic overflows or a calendar walk takes ages.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)

#: Seconds per unit. ``m`` is minutes (there are no months: they have no fixed length); ``y``
#: is 365 days. Units are case-insensitive.
UNITS: dict[str, float] = {
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}
_UNIT_NAMES = {1: "seconds", 60: "minutes", 3600: "hours", 86400: "days", 7 * 86400: "weeks"}
#: The longest duration (and age) anything takes: a century of 365.25 days.
MAX_DURATION = 100 * 8766 * 3600.0
#: Longer text is not a time spec (and is never handed to a parser).
MAX_LENGTH = 100

_PART = r"(\d+(?:\.\d+)?)\s*(sec|min|[smhdwy])"
#: A duration with units (``7d``, ``1.5h``, ``1h30m``): what tells an age from a date.
DURATION = re.compile(rf"(?:{_PART}\s*)+", re.IGNORECASE)
_PARTS = re.compile(_PART, re.IGNORECASE)
_BARE = re.compile(r"\d+(?:\.\d+)?")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")

DURATION_FORMS = "90s, 30m, 1.5h, 7d, 2w or 1h30m (units s, m, h, d, w, y)"
_ISO_FORMS = "an ISO 8601 date such as 2026-01-31 or 2026-01-31T09:00:00Z"
_AGE_FORMS = "an age such as 90m, 1.5d or 2w"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@contextmanager
def option(name: str) -> Iterator[None]:
    """Name the option in a time-spec error: ``--since: '5x' is not a date or time (...)``."""
    try:
        yield
    except TimeSpecError as exc:
        raise UsageError(f"{name}: {exc}") from None


# -- durations -------------------------------------------------------------------------------


def is_duration(text: str) -> bool:
    """Whether ``text`` is written as a duration with a unit (a bare number is not)."""
    return len(text) <= MAX_LENGTH and DURATION.fullmatch(text.strip()) is not None


def parse_duration(
    value: object, *, unit: str = "s", positive: bool = False, maximum: float = MAX_DURATION
) -> float:
    """A duration in seconds: ``"30m"`` -> 1800.0, ``"1h30m"`` -> 5400.0; a bare number (or a
    string without a unit) is in ``unit``. Negative, non-finite and longer-than-``maximum``
    values are refused, and zero when ``positive``."""
    per = UNITS[unit]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        seconds = math.nan
    elif isinstance(value, int | float):
        seconds = float(value) * per if abs(value) < 1e300 else math.inf
        if seconds < 0:
            raise TimeSpecError(f"a duration must not be negative, got {_show(value)}")
    else:
        text = value.strip()
        if len(text) > MAX_LENGTH:
            seconds = math.nan
        elif _BARE.fullmatch(text):
            seconds = float(text) * per
        elif DURATION.fullmatch(text):
            seconds = sum(float(n) * UNITS[u.lower()] for n, u in _PARTS.findall(text))
        else:
            seconds = math.nan
    if math.isnan(seconds):
        bare = _UNIT_NAMES.get(int(per), unit)
        raise TimeSpecError(
            f"bad duration {_show(value)}: expected a duration such as {DURATION_FORMS}; "
            f"a bare number is {bare}"
        )
    if not seconds <= maximum:  # also inf
        limit = "100 years" if maximum == MAX_DURATION else format_duration(maximum)
        raise TimeSpecError(f"duration {_show(value)} is out of range (at most {limit})")
    if positive and seconds == 0:
        raise TimeSpecError(f"a duration must be more than zero, got {_show(value)}")
    return seconds


def parse_timedelta(value: object, **kw: object) -> timedelta:
    """:func:`parse_duration` as a timedelta."""
    return timedelta(seconds=parse_duration(value, **kw))  # type: ignore[arg-type]


def format_duration(seconds: float) -> str:
    """1800 -> ``30m`` (the largest unit that divides it)."""
    for name in ("w", "d", "h", "m"):
        if seconds and seconds % UNITS[name] == 0:
            return f"{seconds / UNITS[name]:g}{name}"
    return f"{seconds:g}s"


# -- times -----------------------------------------------------------------------------------


def zone_of(zone: tzinfo | str) -> tzinfo:
    """A tzinfo for ``zone`` (an IANA name or a tzinfo)."""
    if not isinstance(zone, str):
        return zone
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimeSpecError(f"unknown time zone {_show(zone)}") from None


def _midnight(day: date, tz: tzinfo, raw: object) -> datetime:
    """The start of ``day`` in ``tz``, in UTC; the whole day must lie in range."""
    if EARLIEST.date() <= day < LATEST.date():
        try:
            return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
        except OverflowError:
            pass
    raise TimeSpecError(f"date {_show(raw)} is out of range (1900-01-01 to 9998-12-31)")


def _in_range(value: datetime, raw: object) -> datetime:
    try:
        out = value.astimezone(UTC)
    except (OverflowError, ValueError):
        out = None
    if out is None or not EARLIEST <= out <= LATEST:
        raise TimeSpecError(f"date {_show(raw)} is out of range (1900-01-01 to 9999-01-01)")
    return out


def _ago(text: str, ref: datetime, tz: tzinfo) -> datetime:
    """``ref`` minus the duration ``text``. Whole days (``d``, ``w``, ``y``) back from a local
    midnight stay on local midnights: ``--since 30d --until today`` spans 30 calendar days, also
    across a change of daylight saving time."""
    seconds = parse_duration(text)
    local = ref.astimezone(tz)
    days = all(u.lower() in "dwy" for _, u in _PARTS.findall(text))
    if days and seconds % 86400 == 0 and local.time() == time(0):
        try:
            day = local.date() - timedelta(days=int(seconds // 86400))
        except OverflowError:
            day = date.min
        return _midnight(day, tz, text)
    try:
        start = ref - timedelta(seconds=seconds)
    except OverflowError:
        start = EARLIEST - timedelta(days=1)
    return _in_range(start, text)


def parse_time(
    value: object,
    *,
    now: datetime | None = None,
    zone: tzinfo | str = UTC,
    base: datetime | None = None,
    relative: bool = True,
    naive: bool = True,
    ages: bool = True,
) -> datetime:
    """A time spec as an aware UTC datetime.

    ``zone`` reads dates (their local midnight) and, when ``naive`` is true, times without a
    zone. With ``relative``: ``now``, ``today``, ``yesterday`` and ages back from ``base``
    (the end of a period) or ``now`` (default: the wall clock). Without it only ISO 8601 is
    read (queries and data files; ``ages`` says whether the error mentions them, as queries
    take ages in another way). A datetime object is taken as it is (naive: in ``zone``).
    """
    tz = zone_of(zone)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            if not naive:
                raise TimeSpecError(f"{value.isoformat()} has no time zone (add Z or +hh:mm)")
            value = value.replace(tzinfo=tz)
        return _in_range(value, value.isoformat())
    if isinstance(value, date):
        return _midnight(value, tz, value.isoformat())
    text = value.strip() if isinstance(value, str) else ""
    if relative and text:
        clock = now or datetime.now(UTC)
        word = text.lower()
        if word == "now":
            return clock.astimezone(UTC)
        if word in ("today", "yesterday"):
            local = clock.astimezone(tz).date() - timedelta(days=word == "yesterday")
            return _midnight(local, tz, text)
        if is_duration(text):
            return _ago(text, base or clock, tz)
    if text and len(text) <= MAX_LENGTH:
        if text[-1] in "zZ":
            text = text[:-1] + "+00:00"
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            return _midnight(day, tz, value)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                if not naive:
                    raise TimeSpecError(f"{_show(value)} has no time zone (add Z or +hh:mm)")
                parsed = parsed.replace(tzinfo=tz)
            return _in_range(parsed, value)
    forms = f"not {_ISO_FORMS}, nor {_AGE_FORMS}" if ages else f"not {_ISO_FORMS}"
    raise TimeSpecError(f"{_show(value)} is not a date or time ({forms})")


# -- dates -----------------------------------------------------------------------------------


def parse_date(value: object) -> date:
    """An ISO 8601 date (``2026-12-24``), as a string or a TOML/YAML date, 1900 to 9998."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        try:
            if not text or len(text) > MAX_LENGTH:
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise TimeSpecError(
                f"bad date {_show(value)}: expected an ISO 8601 date such as 2026-12-24"
            ) from None
    if not EARLIEST.date() <= day < LATEST.date():
        raise TimeSpecError(f"date {day} is out of range (1900-01-01 to 9998-12-31)")
    return day


def parse_date_range(value: object) -> tuple[date, date]:
    """``2026-08-01..2026-08-15`` -> both dates (included); one date is a range of one day."""
    if isinstance(value, str) and ".." in value:
        low, high = value.split("..", 1)
        first, last = parse_date(low), parse_date(high)
        if last < first:
            raise TimeSpecError(f"range {_show(value)} is reversed")
        return first, last
    day = parse_date(value)
    return day, day


# -- times of day ----------------------------------------------------------------------------


def parse_clock(text: object) -> time:
    """``"08:30"`` -> 08:30; ``"24:00"`` is the end of the day (00:00)."""
    m = _CLOCK.fullmatch(text.strip()) if isinstance(text, str) else None
    if (
        not m
        or int(m.group(1)) > 24
        or int(m.group(2)) > 59
        or (int(m.group(1)) == 24 and int(m.group(2)))
    ):
        raise TimeSpecError(f"expected a time of day HH:MM, got {_show(text)}")
    hour = int(m.group(1))
    return time(0, int(m.group(2))) if hour == 24 else time(hour, int(m.group(2)))


def parse_clock_range(value: object) -> tuple[time, time] | None:
    """``"21:00-08:00"`` -> (21:00, 08:00); an empty string is no range."""
    if not isinstance(value, str):
        raise TimeSpecError(f"expected HH:MM-HH:MM, got {_show(value)}")
    if not value.strip():
        return None
    start, sep, end = value.partition("-")
    if not sep:
        raise TimeSpecError(f"expected HH:MM-HH:MM, got {_show(value)}")
    return parse_clock(start), parse_clock(end)
