"""The value types of configuration settings, each parsed in exactly one place.

Every function here takes a raw value (as TOML or a command-line option gives it) and returns a
typed value, or raises :class:`ValueError` with a message that does not name the field (the
caller knows where the value came from and adds it). The engines use these same functions for
their settings and options, so what ``cst config check`` accepts is what the engines accept.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# -- durations -------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.I)
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
#: The longest duration any setting takes: beyond it dates leave the calendar's range.
MAX_DURATION = 100 * 365 * 86400.0


def parse_duration(
    value: object, *, unit: str = "s", positive: bool = False, maximum: float = MAX_DURATION
) -> float:
    """``"30m"`` -> 1800.0 seconds; a bare number (or a string without unit) is in ``unit``.

    Units: ``s``/``sec``, ``m``/``min``, ``h``, ``d``, ``w``, ``y`` (365 days). Negative,
    non-finite and longer-than-``maximum`` values are refused, and zero when ``positive``.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30m, 24h or 7d, got {value!r}")
    if isinstance(value, int | float):
        seconds = value * UNITS[unit] if abs(value) < 1e300 else math.inf
    elif (
        isinstance(value, str)
        and (m := _DURATION.match(value))
        and ((m.group(2) or unit).lower() in UNITS)
    ):
        seconds = float(m.group(1)) * UNITS[(m.group(2) or unit).lower()]
    else:
        raise ValueError(
            f"bad duration {value!r}: expected a duration such as 30m, 24h or 7d "
            "(units s, m, h, d, w, y)"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must not be negative, got {value!r}")
    if positive and seconds == 0:
        raise ValueError(f"a duration must be more than zero, got {value!r}")
    if seconds > maximum:
        raise ValueError(f"duration {value!r} is too long (at most {maximum / 86400:g} days)")
    return seconds


def format_duration(seconds: float) -> str:
    """1800 -> ``30m`` (the largest unit that divides it)."""
    for name in ("w", "d", "h", "m"):
        if seconds and seconds % UNITS[name] == 0:
            return f"{seconds / UNITS[name]:g}{name}"
    return f"{seconds:g}s"


# -- times and dates -------------------------------------------------------------------------


def parse_timezone(value: object) -> ZoneInfo:
    """An IANA time zone name (``Europe/Madrid``, ``UTC``)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected an IANA time zone name such as Europe/Madrid, got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {value!r}") from None


def parse_clock(text: str) -> time:
    """``"08:30"`` -> 08:30; ``"24:00"`` is the end of the day (00:00)."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if (
        not m
        or int(m.group(1)) > 24
        or int(m.group(2)) > 59
        or (int(m.group(1)) == 24 and int(m.group(2)))
    ):
        raise ValueError(f"expected HH:MM, got {text!r}")
    hour = int(m.group(1))
    return time(0, int(m.group(2))) if hour == 24 else time(hour, int(m.group(2)))


def parse_clock_range(value: object) -> tuple[time, time] | None:
    """``"21:00-08:00"`` -> (21:00, 08:00); an empty string is no range."""
    if not isinstance(value, str):
        raise ValueError(f"expected HH:MM-HH:MM, got {value!r}")
    if not value.strip():
        return None
    start, sep, end = value.partition("-")
    if not sep:
        raise ValueError(f"expected HH:MM-HH:MM, got {value!r}")
    return parse_clock(start), parse_clock(end)


def parse_date(value: object) -> date:
    """An ISO 8601 date (``2026-12-24``), as a string or a TOML date."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"expected a date such as 2026-12-24, got {value!r}") from None


_AGO = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_AGO_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: object, *, at: datetime | None = None) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise) or a span ago (``12h``, ``7d``)
    before ``at`` (default: now), as an aware UTC datetime."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 date or time or a span ago, got {text!r}")
    m = _AGO.match(text)
    if m:
        try:
            span = timedelta(**{_AGO_UNITS[m.group(2)]: int(m.group(1))})
            return (at or datetime.now(UTC)) - span
        except OverflowError:
            raise ValueError(f"{text!r} is too long ago") from None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or time (2024-05-01, "
            "2024-05-01T08:00:00Z) nor a span ago (12h, 7d, 2w)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# -- other values ----------------------------------------------------------------------------

_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*/\s*(\d+(?:\.\d+)?)\s*(s|m)?\s*$")


def parse_target(text: object) -> tuple[float, float]:
    """A service-level target ``"80/20"`` -> (0.8, 20.0): 80% answered within 20 seconds."""
    m = _TARGET.match(str(text)) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"bad service-level target {text!r} (expected PERCENT/SECONDS: 80/20)")
    pct, secs = float(m.group(1)), float(m.group(2)) * (60 if m.group(3) == "m" else 1)
    if not 0 < pct <= 100 or secs < 0 or not math.isfinite(secs):
        raise ValueError(f"bad service-level target {text!r} (percent in (0, 100], seconds >= 0)")
    return pct / 100.0, secs


#: A PostgreSQL schema name the store accepts (it is quoted into SQL, so kept plain).
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def is_store_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL store (else it is a SQLite file)."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


#: Instance names appear in ticket ids (``zendesk_eu:123``), lock names and the store.
INSTANCE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def describe(value: Any) -> str:
    """How a wrong value is named in a message: its TOML type."""
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), "a date" if isinstance(value, date | time) else type(value).__name__)
