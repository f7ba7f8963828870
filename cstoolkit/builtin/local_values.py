"""Reading the values of a local helpdesk file's records (the ``local`` backend): times, ids,
texts, enum members, flags and event data. Each problem is a ``ValueError`` naming the field,
which the backend turns into a one-line ``file:line: field: problem`` error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cstoolkit import vendor_time
from cstoolkit.model import EARLIEST, LATEST, EventKind

MAX_ID = 200  # characters of one id (docs/security.md)


EVENT_FIELDS = ("id", "kind", "at", "author", "role", "public", "body", "old", "new")
EVENT_FIELD_SET = frozenset(EVENT_FIELDS)


SURVEY_KINDS = (EventKind.SURVEY_OFFERED, EventKind.SURVEY_ANSWERED)


def event_data(ev: dict[str, Any], kind: EventKind, n: int) -> dict[str, Any]:
    """An event's data: its ``data`` object (where a survey answer's ``kind`` and ``score``
    go, as ``kind`` is the event's own) plus every other key it has beyond the known ones. A
    survey event may also name the survey's kind ``survey_kind`` beside its own keys (stored as
    ``data.kind``); its answer's ``score`` is a number."""
    data = ev.get("data")
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"events[{n}].data: expected an object")
    extra = {k: v for k, v in ev.items() if k not in EVENT_FIELD_SET and k != "data"}
    out = {**(data or {}), **extra}
    if kind not in SURVEY_KINDS:
        return out
    if "survey_kind" in out:
        out["kind"] = text(out.pop("survey_kind"), f"events[{n}].survey_kind")
    score = out.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise ValueError(f"events[{n}].score: expected a number, got {show(score)}")
    return out


def z(value: datetime) -> str:
    """Format an aware datetime as the file's timestamps are written: ISO 8601 UTC with Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, what: str) -> datetime:
    """A time of the helpdesk file: ISO 8601 with its zone, 1900 to 9999 (the file is vendor
    data, read by the one vendor-time parser with no default zone)."""
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected an ISO 8601 time, got {show(value)}")
    try:
        parsed = vendor_time.parse_time(value, tz=None)
    except vendor_time.TimeFormatError as exc:
        problem = str(exc)
        if problem.startswith("not a time"):
            problem = f"not an ISO 8601 time: {show(value)}"
        raise ValueError(f"{what}: {problem}") from None
    if parsed is None:
        raise ValueError(f"{what}: expected an ISO 8601 time, got {show(value)}")
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError(f"{what}: {value} is out of range (1900-01-01 to 9999-01-01)")
    return parsed


def utc_time(value: Any) -> datetime | None:
    """The common case of :func:`parse_time` (an ISO time in UTC), or None for the rest."""
    if type(value) is str:
        try:
            parsed = vendor_time.parse_time(value, tz=None)
        except ValueError:
            return None
        if parsed is not None and parsed.tzinfo is UTC and EARLIEST <= parsed <= LATEST:
            return parsed
    return None


def show(value: Any) -> str:
    """A value in an error message: its repr, cut short."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def one_id(value: Any, what: str) -> str:
    """One id: a text or a whole number (never a list, an object or true/false)."""
    if type(value) is str and 0 < len(value) <= MAX_ID and not value.isspace():
        return value  # the common case, first
    if isinstance(value, bool) or not isinstance(value, str | int):
        kinds: dict[type, str] = {list: "a list", dict: "an object"}
        kind = kinds.get(type(value), show(value))
        raise ValueError(f"{what}: expected one id (a text or a number), got {kind}")
    as_text = str(value)
    if not as_text.strip() or len(as_text) > MAX_ID:
        raise ValueError(f"{what}: an id is 1 to {MAX_ID} characters, got {show(value)}")
    return as_text


def text(value: Any, what: str) -> str | None:
    """An optional text (numbers are taken as text; lists and objects are refused)."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{what}: expected a text, got {show(value)}")
    return str(value)


def member(cls: Any, value: Any, what: str, default: Any = None) -> Any:
    """The member of enum ``cls`` with ``value`` (``default`` for a missing one)."""
    if value is None and default is not None:
        return default
    try:
        found = cls._value2member_map_.get(value)  # the fast path of cls(value)
    except TypeError:  # an unhashable value: let cls() explain
        found = None
    if found is not None:
        return found
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise ValueError(f"{what}: {show(value)} is not one of {allowed}") from None


def required(rec: dict[str, Any], key: str) -> Any:
    value = rec.get(key)
    if value in (None, ""):
        raise ValueError(f"{key}: missing")
    return value


def flag(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{what}: expected true or false, got {show(value)}")
