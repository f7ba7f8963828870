"""The one time and calendar module: business hours, time zones, holidays.

A calendar has an IANA time zone, weekly business intervals and holidays (a country's from the
maintained ``holidays`` package, plus explicit dates). Business-time arithmetic happens in the
calendar's zone, day by day, so nights, weekends, holidays and DST changes are exact: an
interval is built from local wall-clock times on its date and converted to UTC, so a 09:00-17:00
day is 8 hours on the day clocks change too, and a night that loses an hour loses it.

Config (``[calendars.NAME]`` in cstoolkit.toml)::

    [calendars.madrid]
    timezone = "Europe/Madrid"
    hours = { mon-fri = "09:00-17:00", sat = "10:00-14:00" }
    holidays_country = "ES"         # optional, with holidays_subdivision = "MD"
    holidays = ["2026-12-24"]       # explicit dates

``24:00`` is accepted as the end of a day, so ``00:00-24:00`` is a full day with no gap at
midnight.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cstoolkit.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Interval = tuple[int, int]  # minutes since local midnight, end may be 1440


@dataclass(frozen=True)
class Calendar:
    """Business hours in one time zone. Hashable, so per-date results can be cached."""

    name: str
    timezone: str
    week: tuple[tuple[Interval, ...], ...]  # index 0 = Monday
    holiday_dates: frozenset[date] = frozenset()
    holidays_country: str | None = None
    holidays_subdivision: str | None = None
    _country_cache: dict[int, frozenset[date]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    # -- days ----------------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        if day in self.holiday_dates:
            return True
        if self.holidays_country is None:
            return False
        year = self._country_cache.get(day.year)
        if year is None:
            import holidays

            found = holidays.country_holidays(
                self.holidays_country, subdiv=self.holidays_subdivision, years=day.year
            )
            year = frozenset(found.keys())
            self._country_cache[day.year] = year
        return day in year

    def day_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The business intervals of a local date, as aware UTC datetimes."""
        return _day_intervals(self, day)

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    # -- arithmetic ----------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        return any(s <= at < e for s, e in self.day_intervals(self._local_date(at)))

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Business time between two instants (0 if ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        if self.is_24x7:
            return (end - start).total_seconds()
        total = 0.0
        day = self._local_date(start) - timedelta(days=1)
        last = self._local_date(end) + timedelta(days=1)
        while day <= last:
            for s, e in self.day_intervals(day):
                lo, hi = max(s, start), min(e, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of business time have passed since ``start``."""
        if seconds <= 0:
            return start
        if self.is_24x7:
            return start + timedelta(seconds=seconds)
        if not any(self.week):
            raise ValueError(f"calendar {self.name!r} has no business hours")
        remaining = seconds
        day = self._local_date(start) - timedelta(days=1)
        for _ in range(366 * 20):  # bounded: a calendar closed for 20 years is a config error
            for s, e in self.day_intervals(day):
                lo = max(s, start)
                if e <= lo:
                    continue
                available = (e - lo).total_seconds()
                if available >= remaining:
                    return lo + timedelta(seconds=remaining)
                remaining -= available
            day += timedelta(days=1)
        raise ValueError(f"calendar {self.name!r}: no business time within 20 years")

    def next_open(self, at: datetime) -> datetime:
        """``at`` if the calendar is open then, else the start of the next business interval."""
        day = self._local_date(at) - timedelta(days=1)
        for _ in range(366 * 20):
            for s, e in self.day_intervals(day):
                if e > at:
                    return max(s, at)
            day += timedelta(days=1)
        raise ValueError(f"calendar {self.name!r}: never open")

    @property
    def is_24x7(self) -> bool:
        return (
            not self.holiday_dates
            and self.holidays_country is None
            and all(day == ((0, 1440),) for day in self.week)
        )


@lru_cache(maxsize=65536)
def _day_intervals(cal: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    if cal.is_holiday(day):
        return ()
    zone = cal.zone
    out = []
    for start_min, end_min in cal.week[day.weekday()]:
        out.append((_local(day, start_min, zone), _local(day, end_min, zone)))
    return tuple(out)


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes >= 1440:
        day, minutes = day + timedelta(days=1), minutes - 1440
    naive = datetime.combine(day, time(minutes // 60, minutes % 60))
    return naive.replace(tzinfo=zone).astimezone(UTC)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


ALWAYS = Calendar("24x7", "UTC", tuple(((0, 1440),) for _ in range(7)))


# -- parsing -----------------------------------------------------------------------------------


def parse_hours(spec: str, where: str) -> tuple[Interval, ...]:
    """``"09:00-13:00, 14:00-18:00"`` -> ((540, 780), (840, 1080)); ``"closed"`` -> ()."""
    if spec.strip().lower() in ("", "closed", "off"):
        return ()
    out: list[Interval] = []
    for part in spec.split(","):
        m = _RANGE_RE.match(part)
        if not m:
            raise ConfigError(f"bad hours {part.strip()!r} (expected HH:MM-HH:MM)", field=where)
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 1440 or end <= start:
            raise ConfigError(f"bad hours {part.strip()!r} (end must follow start)", field=where)
        out.append((start, end))
    out.sort()
    for (_, e1), (s2, _) in itertools.pairwise(out):
        if s2 < e1:
            raise ConfigError(f"overlapping hours in {spec!r}", field=where)
    return tuple(out)


def _days(key: str, where: str) -> list[int]:
    key = key.strip().lower()
    if key in ("daily", "all", "every"):
        return list(range(7))
    if key == "weekdays":
        return list(range(5))
    if key == "weekends":
        return [5, 6]
    days: list[int] = []
    for part in key.split(","):
        a, _, b = part.strip().partition("-")
        if a not in WEEKDAYS or (b and b not in WEEKDAYS):
            raise ConfigError(f"bad day {part.strip()!r} (use mon..sun, mon-fri)", field=where)
        i, j = WEEKDAYS.index(a), WEEKDAYS.index(b or a)
        days.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
    return days


def parse_calendar(name: str, table: Mapping[str, Any], where: str | None = None) -> Calendar:
    where = where or f"calendars.{name}"
    tz = table.get("timezone")
    if not isinstance(tz, str):
        raise ConfigError("missing timezone (an IANA name such as Europe/Madrid)", field=where)
    try:
        _zone(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {tz!r}", field=f"{where}.timezone") from None
    hours = table.get("hours", {"mon-fri": "09:00-17:00"})
    if not isinstance(hours, Mapping):
        raise ConfigError("hours must be a table of day -> HH:MM-HH:MM", field=f"{where}.hours")
    week: list[tuple[Interval, ...]] = [() for _ in range(7)]
    for key, spec in hours.items():
        fld = f"{where}.hours.{key}"
        intervals = parse_hours(str(spec), fld)
        for d in _days(str(key), fld):
            week[d] = intervals
    dates = set()
    for raw in table.get("holidays", []) or []:
        try:
            dates.add(raw if isinstance(raw, date) else date.fromisoformat(str(raw)))
        except ValueError:
            raise ConfigError(f"bad holiday date {raw!r}", field=f"{where}.holidays") from None
    country = table.get("holidays_country")
    subdiv = table.get("holidays_subdivision")
    if country is not None:
        import holidays

        try:
            holidays.country_holidays(str(country), subdiv=subdiv, years=2000)
        except (NotImplementedError, KeyError) as exc:
            raise ConfigError(
                f"unknown holidays country/subdivision {country!r}/{subdiv!r}: {exc}",
                field=f"{where}.holidays_country",
            ) from None
    return Calendar(
        name=name,
        timezone=tz,
        week=tuple(week),
        holiday_dates=frozenset(dates),
        holidays_country=str(country) if country else None,
        holidays_subdivision=str(subdiv) if subdiv else None,
    )


def load_calendars(tables: Mapping[str, Any] | None) -> dict[str, Calendar]:
    """Every ``[calendars.NAME]`` table, plus the built-in ``24x7``."""
    out = {"24x7": ALWAYS}
    for name, table in (tables or {}).items():
        if not isinstance(table, Mapping):
            raise ConfigError("must be a table", field=f"calendars.{name}")
        out[name] = parse_calendar(name, table)
    return out


def hours(seconds: float) -> float:
    return seconds / 3600.0


def in_zone(at: datetime, zone: str) -> datetime:
    """``at`` as a wall-clock time in ``zone`` (for bucketing reports by local day or hour)."""
    return at.astimezone(_zone(zone))


def bucket_starts(values: Iterable[datetime], zone: str, unit: str) -> list[date]:
    """Local dates of the day/week/month bucket each instant falls in, in ``zone``."""
    out = []
    for v in values:
        d = in_zone(v, zone).date()
        if unit == "week":
            d -= timedelta(days=d.weekday())
        elif unit == "month":
            d = d.replace(day=1)
        out.append(d)
    return out
