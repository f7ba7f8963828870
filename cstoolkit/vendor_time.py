"""The one parser for the times vendor APIs send, and the formats they take back.

What the first-party backends meet:

=====================  ============================================  ======================
vendor                 sends                                         :func:`parse_time` call
=====================  ============================================  ======================
Zendesk                ``2011-05-05T10:38:52Z``; events: unix ints   ``parse_time(v)``
Freshdesk, Help Scout  ``2015-08-18T16:59:40Z``                      ``parse_time(v)``
Zammad                 ``2017-01-31T12:30:00.000Z``                  ``parse_time(v)``
Jira                   ``2023-01-01T10:00:00.000+0000``; service     ``parse_time(v)``
                       desk dates ``{"iso8601": ..., "epochMillis"}``
Request Tracker        ``2026-11-22T07:37:12Z``; ``1970-01-01...``   ``parse_time(v,
                       for "not set"                                 unset=EPOCH_PREFIX)``
LiveAgent              ``2026-01-05 09:00:00`` in the account's zone ``parse_time(v, tz=zone)``
=====================  ============================================  ======================

Every result is an aware datetime in UTC. A value that is not a time raises ``ValueError``
(``TimeFormatError``) whose message quotes the start of the value; a mapper's caller turns it
into a one-line error naming the record and field (:mod:`cstoolkit.backends.records`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

#: Request Tracker writes the epoch for a time that is not set.
EPOCH_PREFIX = "1970-01-01"


class TimeFormatError(ValueError):
    """A vendor value that is not a time."""


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_time(value: Any, *, tz: tzinfo | None = UTC, unset: str | None = None) -> datetime | None:
    """A vendor time as an aware UTC datetime (None for ``None``, ``""`` and ``unset``).

    Strings are ISO 8601 in any of the forms above (``Z``, ``+00:00``, ``+0000``, fractions,
    a space for ``T``); a string without a zone is read in ``tz`` (``tz=None``: refused, for
    formats whose times must carry their zone, such as the local helpdesk file). Numbers are
    unix seconds. A mapping is Jira's service-desk date (``epochMillis`` first, else
    ``iso8601``). ``unset`` is a prefix meaning "no time" (Request Tracker's epoch).
    """
    if type(value) is str:  # the hot path: ISO 8601 with a UTC zone
        if not value or (unset is not None and value.startswith(unset)):
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise TimeFormatError(f"not a time: {_quote(value)}") from None
        zone = parsed.tzinfo
        if zone is UTC:
            return parsed
        if zone is None:
            if tz is None:
                raise TimeFormatError(f"time {_quote(value)} has no time zone (add Z for UTC)")
            parsed = parsed.replace(tzinfo=tz)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise TimeFormatError(f"time {_quote(value)} is out of range") from None
    if value is None:
        return None
    if isinstance(value, bool):
        raise TimeFormatError(f"not a time: {_quote(value)}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise TimeFormatError(f"not a time: {_quote(value)}") from None
    if isinstance(value, Mapping):
        millis = value.get("epochMillis")
        if millis is not None:
            if isinstance(millis, bool) or not isinstance(millis, int | float):
                raise TimeFormatError(f"not a time: {_quote(value)}")
            return parse_time(millis / 1000)
        return parse_time(value.get("iso8601"), tz=tz, unset=unset)
    raise TimeFormatError(f"not a time: {_quote(value)}")


def parse_text(value: str, fmt: str, tz: tzinfo) -> datetime:
    """The inverse of :func:`local_text`: wall-clock ``value`` in ``fmt`` read in ``tz``, as
    aware UTC (LiveAgent's ``YYYY-MM-DD HH:MM:SS``). Only that exact format is accepted."""
    try:
        return datetime.strptime(value, fmt).replace(tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        raise TimeFormatError(f"not a time: {_quote(value)}") from None


def require_time(value: Any, **kw: Any) -> datetime:
    """:func:`parse_time` for a time that must be there (``TimeFormatError`` when absent)."""
    parsed = parse_time(value, **kw)
    if parsed is None:
        raise TimeFormatError("missing")
    return parsed


def iso_z(value: datetime, *, millis: bool = False) -> str:
    """``2026-01-05T09:00:00Z`` (``.000Z`` with ``millis``): what most vendors take back."""
    value = value.astimezone(UTC)
    if millis:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def local_text(value: datetime, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``value`` as wall-clock text in ``tz`` (LiveAgent filters, RT's TicketSQL, JQL)."""
    return value.astimezone(tz).strftime(fmt)


def unix(value: datetime) -> int:
    """Whole unix seconds (Zendesk's ``start_time``)."""
    return int(value.timestamp())
