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
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cstoolkit import timespec
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

    # -- arithmetic ----------------------------------------------------------------------------

    def is_open(self, at: datetime | float) -> bool:
        """Whether business hours are running at ``at`` (an aware datetime or unix seconds)."""
        if self.is_24x7:
            return True
        return fast_clock(self).is_open(at if isinstance(at, int | float) else at.timestamp())

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Business time between two instants (0 if ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        if self.is_24x7:
            return (end - start).total_seconds()
        return fast_clock(self).seconds(start.timestamp(), end.timestamp())

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of business time have passed since ``start``."""
        if seconds <= 0:
            return start
        if self.is_24x7:
            return start + timedelta(seconds=seconds)
        return datetime.fromtimestamp(fast_clock(self).add(start.timestamp(), seconds), UTC)

    def next_open(self, at: datetime) -> datetime:
        """``at`` if the calendar is open then, else the start of the next business interval."""
        if self.is_24x7:
            return at
        return datetime.fromtimestamp(fast_clock(self).next_open(at.timestamp()), UTC)

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
        if not isinstance(spec, str):
            raise ConfigError(f"expected HH:MM-HH:MM or closed, got {spec!r}", field=fld)
        intervals = parse_hours(spec, fld)
        for d in _days(str(key), fld):
            week[d] = intervals
    dates = set()
    listed = table.get("holidays", []) or []
    if not isinstance(listed, list | tuple):
        raise ConfigError("holidays is a list of dates", field=f"{where}.holidays")
    for raw in listed:
        try:
            dates.add(timespec.parse_date(raw))
        except timespec.TimeSpecError as exc:
            raise ConfigError(str(exc), field=f"{where}.holidays") from None
    country = table.get("holidays_country")
    subdiv = table.get("holidays_subdivision")
    for key, value in (("holidays_country", country), ("holidays_subdivision", subdiv)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"expected a code such as ES, got {value!r}", field=f"{where}.{key}")
    if country is not None:
        import holidays

        try:
            holidays.country_holidays(str(country), subdiv=subdiv, years=2000)
        except (NotImplementedError, KeyError, ValueError, TypeError) as exc:
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
    if tables is not None and not isinstance(tables, Mapping):
        raise ConfigError("must be tables [calendars.NAME]", field="calendars")
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


# -- fast indexes for reports ------------------------------------------------------------------


def _epoch(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


class BusinessClock:
    """A cumulative business-seconds index of ``calendar`` over ``[start, end]``.

    ``offset(t)`` is the business time between the start of the index and ``t`` (unix seconds),
    found with one binary search, so ``seconds(a, b) = offset(b) - offset(a)`` costs O(log n)
    however far apart ``a`` and ``b`` are. The intervals come from :meth:`Calendar.day_intervals`
    (holidays and DST included), so the answers equal :meth:`Calendar.business_seconds`; instants
    outside the indexed range fall back to it. Reports build one clock per run and call it
    millions of times; the arrays ``starts``, ``lengths`` and ``before`` are public so a hot
    loop can inline the lookup::

        i = bisect_right(starts, t) - 1
        f = before[i] + min(t - starts[i], lengths[i]) if i >= 0 else 0.0
    """

    def __init__(self, calendar: Calendar, start: datetime | float, end: datetime | float):
        self.calendar = calendar
        self.start = _epoch(start)
        self.end = max(_epoch(end), self.start)
        self.is_24x7 = calendar.is_24x7
        self.starts = array("d")
        self.lengths = array("d")
        self.before = array("d")  # business seconds from the index start to each interval start
        if self.is_24x7:
            return
        zone = calendar.zone
        first = datetime.fromtimestamp(self.start, UTC).astimezone(zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(self.end, UTC).astimezone(zone).date() + timedelta(days=1)
        total = 0.0
        day = first
        while day <= last:
            for s, e in calendar.day_intervals(day):
                a, b = s.timestamp(), e.timestamp()
                if b <= a:
                    continue
                self.starts.append(a)
                self.lengths.append(b - a)
                self.before.append(total)
                total += b - a
            day += timedelta(days=1)
        self._lo = self.starts[0] if self.starts else self.start
        self._hi = (self.starts[-1] + self.lengths[-1]) if self.starts else self.end

    def covers(self, t: float) -> bool:
        return self.is_24x7 or self._lo <= t <= self._hi

    def offset(self, t: float) -> float:
        """Business seconds from the start of the index to ``t`` (may be negative before it)."""
        if self.is_24x7:
            return t - self.start
        if not self._lo <= t <= self._hi:
            when = datetime.fromtimestamp(t, UTC)
            origin = datetime.fromtimestamp(self._lo, UTC)
            if t < self._lo:
                return -self.calendar.business_seconds(when, origin)
            return self.calendar.business_seconds(origin, when)
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0.0
        return self.before[i] + min(t - self.starts[i], self.lengths[i])

    def seconds(self, a: float, b: float) -> float:
        """Business seconds between two unix times (0 when ``b`` is not after ``a``)."""
        if b <= a:
            return 0.0
        return self.offset(b) - self.offset(a)

    def offset_array(self, t: Any) -> Any:
        """:meth:`offset` of an array of unix seconds (numpy; NaN stays NaN): the same binary
        search over the same intervals, so each value equals the per-instant one exactly."""
        import numpy as np

        t = np.asarray(t, dtype=np.float64)
        if self.is_24x7:
            return t - self.start
        out = np.full(t.shape, np.nan)
        if not self.starts:
            inside = np.zeros(t.shape, dtype=bool)
        else:
            inside = (t >= self._lo) & (t <= self._hi)
            starts = np.frombuffer(self.starts, dtype=np.float64)
            lengths = np.frombuffer(self.lengths, dtype=np.float64)
            before = np.frombuffer(self.before, dtype=np.float64)
            ti = t[inside]
            i = np.searchsorted(starts, ti, side="right") - 1
            j = np.maximum(i, 0)
            value = before[j] + np.minimum(ti - starts[j], lengths[j])
            out[inside] = np.where(i >= 0, value, 0.0)
        outside = ~inside & ~np.isnan(t)
        if outside.any():  # rare: instants beyond the indexed range
            out[outside] = [self.offset(x) for x in t[outside].tolist()]
        return out

    def minute_table(self, max_minutes: int = 2_200_000) -> tuple[int, array[int], bytes] | None:
        """A per-minute form of the index for the hottest loops: ``(t0, before, open)`` with
        ``offset(t) == before[m] + (t - t0 - 60 m) * open[m]`` for ``m = (t - t0) // 60``.

        Only when every interval starts and ends on a whole minute (true of ``HH:MM`` hours in
        zones with whole-minute offsets) and the range spans at most ``max_minutes`` (about four
        years); None otherwise, and then :meth:`offset` is the way.
        """
        if self.is_24x7 or not self.starts:
            return None
        if any(x % 60 for x in self.starts) or any(x % 60 for x in self.lengths):
            return None
        t0 = int(self.starts[0])
        n = int(self.starts[-1] + self.lengths[-1] - t0) // 60
        if n > max_minutes:
            return None
        opened = bytearray(n)
        for start, length in zip(self.starts, self.lengths, strict=True):
            a = int(start - t0) // 60
            opened[a : a + int(length) // 60] = b"\x01" * (int(length) // 60)
        before = array("q", (60 * c for c in itertools.accumulate(opened, initial=0)))
        return t0, before, bytes(opened)


class ZoneClock:
    """Local wall-clock arithmetic in one IANA zone over ``[start, end]``, by binary search.

    ``local(t)`` is ``t`` shifted by the zone's UTC offset at ``t`` (exact to the second at DST
    changes), so ``local(t) // 86400`` numbers local days and ``local(t) % 86400 // 3600`` is
    the local hour. Reports use it to bucket millions of instants by local day, weekday and hour
    without building a datetime for each one. Outside the range the offset is looked up
    directly (slower, same answer).
    """

    _STEP = 900  # zone transitions fall on quarter hours; each one is then found to the second

    def __init__(self, zone: str, start: datetime | float, end: datetime | float) -> None:
        self.zone = zone
        self._zone = _zone(zone)
        lo = int(_epoch(start)) - 86400
        hi = int(_epoch(end)) + 86400
        self.starts = array("d", [float(lo)])
        self.offsets = array("d", [self._offset_at(lo)])
        t = lo
        while t < hi:
            nxt = t + self._STEP
            off = self._offset_at(nxt)
            if off != self.offsets[-1]:
                a, b = t, nxt  # offset(a) is the old one, offset(b) the new one
                while b - a > 1:
                    mid = (a + b) // 2
                    if self._offset_at(mid) == off:
                        b = mid
                    else:
                        a = mid
                self.starts.append(float(b))
                self.offsets.append(off)
            t = nxt
        self._lo, self._hi = float(lo), float(hi)

    def _offset_at(self, t: float) -> float:
        delta = datetime.fromtimestamp(t, UTC).astimezone(self._zone).utcoffset()
        return delta.total_seconds() if delta is not None else 0.0

    def offset(self, t: float) -> float:
        if not self._lo <= t <= self._hi:
            return self._offset_at(t)
        return self.offsets[bisect_right(self.starts, t) - 1]

    def offset_array(self, t: Any) -> Any:
        """:meth:`offset` of an array of unix seconds (numpy): the same lookup, value for
        value (NaN instants get offset 0)."""
        import numpy as np

        t = np.asarray(t, dtype=np.float64)
        starts = np.frombuffer(self.starts, dtype=np.float64)
        offsets = np.frombuffer(self.offsets, dtype=np.float64)
        inside = (t >= self._lo) & (t <= self._hi)
        out = offsets[np.maximum(np.searchsorted(starts, t, side="right") - 1, 0)]
        outside = ~inside & ~np.isnan(t)
        if outside.any():
            out[outside] = [self._offset_at(x) for x in t[outside].tolist()]
        return np.where(np.isnan(t), 0.0, out)

    def day_array(self, t: Any) -> Any:
        """:meth:`day` of an array of unix seconds (numpy int64; NaN instants give day 0)."""
        import numpy as np

        t = np.asarray(t, dtype=np.float64)
        local = np.where(np.isnan(t), 0.0, t + self.offset_array(t))
        return np.floor_divide(local, 86400).astype(np.int64)

    def local(self, t: float) -> float:
        """``t`` as local wall-clock seconds since 1970-01-01 00:00 local."""
        return t + self.offset(t)

    def day(self, t: float) -> int:
        """The local date of ``t`` as a day number (``date.fromordinal(n + 719163)``)."""
        return int((t + self.offset(t)) // 86400)

    def quarter_table(self) -> tuple[int, array[int]] | None:
        """``(q0, offsets)``: ``offsets[(t - q0) // 900]`` is the UTC offset at ``t`` for any
        ``t`` in the clock's range, for hot loops; None if a transition of the range is not on a
        quarter hour (then use :meth:`offset`)."""
        if any(int(t) % 900 for t in self.starts[1:]):
            return None
        q0 = int(self._lo) // 900 * 900
        n = (int(self._hi) - q0) // 900 + 1
        out = array("q", [0]) * n
        for i, start in enumerate(self.starts):
            a = max(0, (int(start) - q0) // 900)
            b = (int(self.starts[i + 1]) - q0) // 900 if i + 1 < len(self.starts) else n
            out[a:b] = array("q", [int(self.offsets[i])]) * (b - a)
        return q0, out

    def utc_of_day(self, day: int) -> float:
        """The instant local day ``day`` starts (its first existing wall-clock second)."""
        d = date.fromordinal(day + EPOCH_ORDINAL)
        start = datetime.combine(d, time(0)).replace(tzinfo=self._zone)
        return start.astimezone(UTC).timestamp()


#: ``date.toordinal()`` of 1970-01-01: ``ZoneClock.day`` numbers plus this are ordinals.
EPOCH_ORDINAL = 719163


class IntervalIndex:
    """Business intervals of one calendar as sorted epoch arrays with running totals, built
    from :meth:`Calendar.day_intervals` (so holidays and DST are the calendar's own) over a
    range of days that grows as instants outside it are asked about. ``seconds(a, b)`` and
    ``add(a, s)`` are then two binary searches."""

    _MARGIN = 45  # days built around the first instant asked about, and added when growing

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.first: date | None = None  # the range of local dates built
        self.last: date | None = None
        self.safe_lo = float("inf")  # epochs inside which no rebuild is needed
        self.safe_hi = float("-inf")
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.before: list[float] = []  # business seconds before starts[i]

    def _build(self, first: date, last: date) -> None:
        starts: list[float] = []
        ends: list[float] = []
        day = first - timedelta(days=1)
        while day <= last + timedelta(days=1):
            for s, e in self.calendar.day_intervals(day):
                a, b = s.timestamp(), e.timestamp()
                if starts and a <= ends[-1]:  # touching intervals (24:00 then 00:00) merge
                    ends[-1] = max(ends[-1], b)
                else:
                    starts.append(a)
                    ends.append(b)
            day += timedelta(days=1)
        before, total = [], 0.0
        for a, b in zip(starts, ends, strict=True):
            before.append(total)
            total += b - a
        self.starts, self.ends, self.before = starts, ends, before
        self.first, self.last = first, last
        self.safe_lo = datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()
        self.safe_hi = datetime(last.year, last.month, last.day, tzinfo=UTC).timestamp()

    def _ensure(self, t: float) -> None:
        if self.safe_lo <= t < self.safe_hi:
            return
        day = datetime.fromtimestamp(t, UTC).date()
        margin = timedelta(days=self._MARGIN)
        if self.first is None or self.last is None:
            self._build(day - margin, day + margin)
            return
        span = self.last - self.first
        first = min(self.first, day - max(margin, span))  # grow geometrically
        last = max(self.last, day + max(margin, span))
        self._build(first, last)

    def is_open(self, t: float) -> bool:
        self._ensure(t)
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def cumulative(self, t: float) -> float:
        self._ensure(t)
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0.0
        return self.before[i] + min(t, self.ends[i]) - self.starts[i]

    def seconds(self, a: float, b: float) -> float:
        if b <= a:
            return 0.0
        self._ensure(a)
        self._ensure(b)  # both before reading: a rebuild moves the origin of the totals
        return self.cumulative(b) - self.cumulative(a)

    def next_open(self, t: float) -> float:
        """``t`` when business time runs right after it, else the start of the next business
        interval: the instant after which a clock that reached its target at ``t`` is past it."""
        if not any(self.calendar.week):
            raise ValueError(f"calendar {self.calendar.name!r} has no business hours")
        self._ensure(t)
        while True:
            i = bisect_right(self.starts, t)  # the first interval starting after t
            if i > 0 and t < self.ends[i - 1]:
                return t
            if i < len(self.starts):
                return self.starts[i]
            assert self.first is not None and self.last is not None
            if (self.last - self.first).days > 366 * 20:
                raise ValueError(f"calendar {self.calendar.name!r}: never open within 20 years")
            self._build(
                self.first, self.last + max(timedelta(days=self._MARGIN), self.last - self.first)
            )

    def add(self, a: float, seconds: float) -> float:
        if seconds <= 0:
            return a
        if not any(self.calendar.week):
            raise ValueError(f"calendar {self.calendar.name!r} has no business hours")
        goal = self.cumulative(a) + seconds
        while True:
            total = self.before[-1] + self.ends[-1] - self.starts[-1] if self.starts else 0.0
            if goal <= total:
                break
            assert self.first is not None and self.last is not None
            if (self.last - self.first).days > 366 * 20:
                raise ValueError(
                    f"calendar {self.calendar.name!r}: no business time within 20 years"
                )
            self._build(
                self.first, self.last + max(timedelta(days=self._MARGIN), self.last - self.first)
            )
        i = max(bisect_left(self.before, goal) - 1, 0)  # last i with before[i] < goal
        return self.starts[i] + (goal - self.before[i])


_CLOCKS: dict[Calendar, IntervalIndex] = {}
_BY_ID: dict[int, tuple[Calendar, IntervalIndex]] = {}


def fast_clock(calendar: Calendar) -> IntervalIndex:
    """The shared, growing interval index of ``calendar`` (one per calendar per process)."""
    # by identity first: hashing a Calendar (its week, holidays...) costs microseconds
    found = _BY_ID.get(id(calendar))
    if found is not None and found[0] is calendar:
        return found[1]
    clock = _CLOCKS.get(calendar)
    if clock is None:
        clock = _CLOCKS[calendar] = IntervalIndex(calendar)
    _BY_ID[id(calendar)] = (calendar, clock)
    return clock


# -- business time of many instants at once -----------------------------------------------------


def business_days_between(calendar: Calendar, start: datetime, end: datetime) -> int:
    """Open days of ``calendar`` strictly after ``start``'s local date, up to and including the
    day before ``end``'s local date: whole business days that have passed."""
    if end <= start:
        return 0
    zone = calendar.zone
    first = start.astimezone(zone).date() + timedelta(days=1)
    last = end.astimezone(zone).date()
    n, day = 0, first
    for _ in range(3660):  # ten years is plenty; older tickets count as ten years
        if day >= last:
            break
        if calendar.day_intervals(day):
            n += 1
        day += timedelta(days=1)
    return n


def business_hours_array(calendar: Calendar, start: Any, end: Any) -> Any:
    """:meth:`Calendar.business_seconds` in hours for arrays of epoch seconds (numpy): the
    same interval index, read with array searches; 0 where ``end`` is not after ``start``."""
    import numpy as np

    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    if len(start) == 0:
        return np.zeros(0)
    if calendar.is_24x7:
        return np.maximum(end - start, 0.0) / 3600
    clock = fast_clock(calendar)
    clock._ensure(float(np.min(start)))
    clock._ensure(float(np.max(end)))  # both before reading: a rebuild moves the origin
    starts = np.array(clock.starts)
    ends = np.array(clock.ends)
    before = np.array(clock.before)

    def cumulative(t: Any) -> Any:
        i = np.searchsorted(starts, t, side="right") - 1
        ok = i >= 0
        j = np.where(ok, i, 0)
        value = before[j] + np.minimum(t, ends[j]) - starts[j]
        return np.where(ok, value, 0.0)

    return np.where(end > start, np.maximum(cumulative(end) - cumulative(start), 0.0), 0.0) / 3600


def business_days_array(calendar: Calendar, start: Any, end: Any) -> Any:
    """:func:`business_days_between` for arrays of epoch seconds (numpy): computed once per
    distinct pair of local dates."""
    import numpy as np

    zone = calendar.zone
    cache: dict[tuple[date, date], int] = {}
    out = np.zeros(len(start), dtype=np.float64)
    days: dict[float, date] = {}

    def local(t: float) -> date:
        found = days.get(t)
        if found is None:
            found = days[t] = datetime.fromtimestamp(t, zone).date()
        return found

    for k, (a, b) in enumerate(
        zip(np.asarray(start).tolist(), np.asarray(end).tolist(), strict=True)
    ):
        if b <= a:
            continue
        key = (local(a), local(b))
        n = cache.get(key)
        if n is None:
            n = cache[key] = business_days_between(
                calendar, datetime.fromtimestamp(a, zone), datetime.fromtimestamp(b, zone)
            )
        out[k] = n
    return out


def open_intervals(calendar: Calendar, start: float, end: float) -> list[tuple[float, float]]:
    """The business intervals (epoch seconds) of ``calendar`` that overlap [start, end], in
    order (a roster shift's worked intervals, for a replay that walks through time)."""
    clock = fast_clock(calendar)
    clock._ensure(start)
    clock._ensure(end)
    j = max(0, bisect_right(clock.starts, start) - 1)
    out = []
    while j < len(clock.starts) and clock.starts[j] <= end:
        out.append((clock.starts[j], clock.ends[j]))
        j += 1
    return out


def interval_start(calendar: Calendar, at: float) -> float:
    """The start of the business interval ``at`` falls in or follows (``at`` before the
    first)."""
    clock = fast_clock(calendar)
    clock._ensure(at)
    i = bisect_right(clock.starts, at) - 1
    return clock.starts[i] if i >= 0 else at
