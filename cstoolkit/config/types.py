"""The value types of configuration settings, each parsed in exactly one place.

Every function here takes a raw value (as TOML or a command-line option gives it) and returns a
typed value, or raises :class:`ValueError` with a message that does not name the field (the
caller knows where the value came from and adds it). The engines use these same functions for
their settings and options, so what ``cst config check`` accepts is what the engines accept.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cstoolkit.timespec import (
    MAX_DURATION,
    UNITS,
    format_duration,
    parse_clock,
    parse_clock_range,
    parse_date,
    parse_duration,
    parse_time,
)

__all__ = [
    "INSTANCE_NAME",
    "MAX_DURATION",
    "SCHEMA_NAME",
    "UNITS",
    "describe",
    "format_duration",
    "is_store_url",
    "parse_clock",
    "parse_clock_range",
    "parse_date",
    "parse_duration",
    "parse_target",
    "parse_time",
    "parse_timezone",
    "parse_when",
]

# -- durations, times and dates: the one time-spec parser (re-exported) ----------------------


def parse_timezone(value: object) -> ZoneInfo:
    """An IANA time zone name (``Europe/Madrid``, ``UTC``)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected an IANA time zone name such as Europe/Madrid, got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {value!r}") from None


def parse_when(text: object, *, at: datetime | None = None) -> datetime:
    """A time spec (docs/time.md): an ISO 8601 date or time (UTC unless it says otherwise),
    now, today, yesterday or an age back from ``at`` (default: now), as an aware UTC datetime."""
    return parse_time(text, now=at or datetime.now(UTC))


# -- other values ----------------------------------------------------------------------------


def parse_target(text: object) -> tuple[float, float]:
    """A service-level target ``"80/20"`` -> (0.8, 20.0): 80% answered within 20 seconds (the
    time is a duration: ``80/20s``, ``80/1m``; a bare number is seconds)."""
    pct_text, sep, within = text.partition("/") if isinstance(text, str) else ("", "", "")
    pct_text = pct_text.strip().removesuffix("%").strip()
    try:
        pct, secs = float(pct_text), parse_duration(within)
    except ValueError:  # also TimeSpecError
        pct = secs = math.nan
    if not sep:
        pct = math.nan
    if math.isnan(pct) or math.isnan(secs):
        raise ValueError(f"bad service-level target {text!r} (expected PERCENT/SECONDS: 80/20)")
    if not 0 < pct <= 100:
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
