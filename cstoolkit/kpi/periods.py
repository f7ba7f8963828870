"""The periods of a KPI report: ``--since``/``--until`` read with the one time-spec parser, the
report's zone and calendar, and the buckets of ``--by day|week|month``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cstoolkit.calendars import (
    ALWAYS,
    EPOCH_ORDINAL,
    Calendar,
    ZoneClock,
)
from cstoolkit.errors import ConfigError, UsageError
from cstoolkit.kpi.metrics import KpiSettings


def parse_when(
    value: str | datetime,
    zone: str,
    now: datetime,
    base: datetime | None,
    *,
    what: str | None = None,
) -> datetime:
    """A period bound (docs/time.md): a datetime, a date (local midnight in ``zone``), an ISO
    time (without a zone: in ``zone``), ``now``, ``today``, ``yesterday``, or an age (``30d``,
    ``12h``, ``90m``) back from ``base`` (the end of the period) or now. Errors name ``what``,
    by default ``--since`` when counting back from a base, else ``--until``."""
    from cstoolkit import timespec

    with timespec.option(what or ("--since" if base is not None else "--until")):
        return timespec.parse_time(value, now=now, zone=zone, base=base)


def iso(t: float | datetime) -> str:
    dt = t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_zone(name: str, where: str) -> str:
    from zoneinfo import ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r} ({where})") from None
    return name


def choose_calendar(
    calendars: Mapping[str, Calendar], wanted: str | None, settings: KpiSettings
) -> Calendar:
    """``--calendar``, else ``[kpi] calendar``, else the only configured one, else 24x7."""
    import difflib

    name = wanted or settings.calendar
    if name is None:
        own = [c for n, c in calendars.items() if n != "24x7"]
        return own[0] if len(own) == 1 else ALWAYS
    if name not in calendars:
        close = difflib.get_close_matches(name, list(calendars), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown calendar {name!r}{hint}; configured: {', '.join(sorted(calendars))}",
            field="kpi.calendar" if not wanted else None,
        )
    return calendars[name]


def bucket_unit_for(days: float) -> str:
    """The trend's bucket: days up to ~3 months, weeks up to 2 years, then months."""
    if days <= 92:
        return "day"
    if days <= 731:
        return "week"
    return "month"


def _bucket_start(day: int, unit: str) -> date:
    d = date.fromordinal(day + EPOCH_ORDINAL)
    if unit == "week":
        return d - timedelta(days=d.weekday())
    if unit == "month":
        return d.replace(day=1)
    return d


def buckets(first_day: int, last_day: int, unit: str) -> tuple[list[str], list[int]]:
    """Bucket labels (ISO start dates) and, per local day from ``first_day``, its bucket index."""
    labels: list[str] = []
    index: list[int] = []
    for day in range(first_day, last_day + 1):
        label = _bucket_start(day, unit).isoformat()
        if not labels or labels[-1] != label:
            labels.append(label)
        index.append(len(labels) - 1)
    return labels, index


def period_days(zone: ZoneClock, since: float, until: float) -> float:
    """Whole local days when both bounds are local midnights, else elapsed seconds / 86400."""
    a, b = zone.local(since), zone.local(until)
    if a % 86400 == 0 and b % 86400 == 0:
        return (b - a) / 86400
    return (until - since) / 86400


def day_start(zone: ZoneClock, day: int) -> int:
    """The first whole second whose local day (:meth:`ZoneClock.day`) is ``day`` or later."""
    guess = day * 86400
    lo, hi = int(guess - zone.offset(guess)) - 4 * 3600, int(guess - zone.offset(guess)) + 4 * 3600
    while hi - lo > 1:  # zone.day(lo) < day <= zone.day(hi)
        mid = (lo + hi) // 2
        if zone.day(mid) >= day:
            hi = mid
        else:
            lo = mid
    return hi


def bucket_bounds(zone: ZoneClock, first_day: int, index: list[int]) -> list[int]:
    """The instants bounding the buckets of :func:`buckets` (``index``: per local day from
    ``first_day``, its bucket): bucket ``b`` holds ``[bounds[b], bounds[b + 1])``."""
    if not index:
        return []
    bounds = [day_start(zone, first_day)]
    for i in range(1, len(index)):
        if index[i] != index[i - 1]:
            bounds.append(day_start(zone, first_day + i))
    bounds.append(day_start(zone, first_day + len(index)))
    return bounds
