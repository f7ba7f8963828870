"""Values in conditions: ages (``7d``), dates, numbers and names checked against the field they
are compared with, and :func:`cond`, which builds one validated leaf.

:func:`parse_datetime` is the language's date parser (a date alone is midnight UTC; a time must
carry its zone).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta

from cstoolkit import timespec
from cstoolkit.errors import QueryError
from cstoolkit.model import EARLIEST, LATEST, utc
from cstoolkit.query.compare import compare, is_number
from cstoolkit.query.grammar import KIND_OPS, MAX_NUMBER, OPERATORS, ORDER
from cstoolkit.query.regex import compile_regex
from cstoolkit.query.registry import ALIASES, TIME_ALIASES, FieldSpec, did_you_mean, field_spec
from cstoolkit.query.tree import Cond, plain


def resolve_name(name: str, op: str, value: object) -> str:
    """Apply aliases; a time alias picks the age field for an age, the datetime field else."""
    if name in ALIASES:
        return ALIASES[name]
    if name in TIME_ALIASES:
        absolute, age = TIME_ALIASES[name]
        values = value if isinstance(value, list | tuple) else [value]
        if op in ORDER or op in ("is", "is_not", "in", "not_in"):
            if any(isinstance(v, str) and DURATION.fullmatch(v.strip()) for v in values):
                return age
            for v in values:
                if is_number(v) or (isinstance(v, str) and NUMBER.fullmatch(v.strip())):
                    raise QueryError(
                        f"'{name}' needs an age with a unit ({v}h, {v}d, {v}w, {v}m) "
                        "or a date (2026-01-01)"
                    )
        return absolute
    return name


# -- values ------------------------------------------------------------------------------------

DURATION = timespec.DURATION  # an age (7d, 1.5h, 1h30m): the one time-spec parser's form
DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def tidy(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def age_value(raw: str) -> int | float | None:
    """``7d`` -> 168 (hours); None when ``raw`` is not an age."""
    if not timespec.is_duration(raw):
        return None
    try:
        return tidy(timespec.parse_duration(raw) / 3600)
    except timespec.TimeSpecError as exc:
        raise QueryError(str(exc)) from None


def in_range(value: datetime, raw: object) -> datetime:
    """``value`` in UTC, or a QueryError when it lies outside the years cst accepts."""
    try:
        return utc(value)
    except ValueError:
        shown = raw.isoformat() if isinstance(raw, date) else raw
        raise QueryError(
            f"date '{shown}' is out of range ({EARLIEST.date()} to {LATEST.date()})"
        ) from None


def day_start(day: date, raw: object) -> datetime:
    """Midnight UTC starting ``day``; the whole day must lie in range (it may end a window)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if not EARLIEST <= start < LATEST:
        shown = raw.isoformat() if isinstance(raw, date) else raw
        last = (LATEST - timedelta(days=1)).date()
        raise QueryError(f"date '{shown}' is out of range ({EARLIEST.date()} to {last})")
    return start


def _parse_datetime(raw: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date and time with its zone (docs/time.md), within the
    years cst accepts; a one-line QueryError otherwise."""
    try:
        return timespec.parse_time(raw, relative=False, naive=False)
    except timespec.TimeSpecError as exc:
        raise QueryError(str(exc)) from None


def number(spec: FieldSpec, value: int | float) -> int | float:
    """A number within what conditions compare (finite, at most MAX_NUMBER either way)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"{spec.name} takes a finite number, not {value!r}")
    if abs(value) > MAX_NUMBER:
        if isinstance(value, float):
            shown = f"{value:.6g}"
        else:  # str() of a huge int is slow, or refused past 4,300 digits
            shown = str(value) if abs(value) < 10**18 else "with more than 18 digits"
        raise QueryError(f"{spec.name}: the number {shown} is out of range (at most 10^15)")
    return value


def scalar(spec: FieldSpec, op: str, value: object) -> object:
    """Check and normalise one value for ``spec``."""
    if value is None:
        raise QueryError(
            f"'{op}' on {spec.name} needs a value (to test for a missing value use exists)"
        )
    kind = spec.kind
    if kind == "enum":
        if not isinstance(value, str):
            raise QueryError(f"{spec.name} takes one of its names, not {value!r}")
        text = value.strip().lower()
        allowed = spec.values or ()
        if allowed and text not in allowed:
            hint = did_you_mean(text, allowed) or f" (one of: {', '.join(allowed)})"
            raise QueryError(f"unknown {spec.name} '{value}'{hint}")
        return text
    if kind in ("text", "string", "id", "tags"):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise QueryError(f"{spec.name} takes text, not {value!r}")
        text = value if isinstance(value, str) else str(value)
        if not text:
            raise QueryError(f"empty value for {spec.name}")
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise QueryError(f"{spec.name} takes a number, not {value!r}")
        if isinstance(value, int | float):
            return number(spec, value)
        if isinstance(value, str):
            if spec.unit == "hours":
                hours = age_value(value)
                if hours is not None:
                    return hours
            if NUMBER.fullmatch(value.strip()):
                return number(spec, tidy(float(value)))
        unit = " or an age like 7d, 12h, 30m" if spec.unit == "hours" else ""
        raise QueryError(f"{spec.name} takes a number{unit}, not {value!r}")
    if kind == "datetime":
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise QueryError(f"{value.isoformat()} has no time zone (add Z or +hh:mm)")
            return in_range(value, value)
        if isinstance(value, date):
            return day_start(value, value)
        if isinstance(value, str):
            if age_value(value) is not None:
                raise QueryError(
                    f"{spec.name} takes a date, not the age '{value}' "
                    f"(for an age use created<7d or hours_since_created)"
                )
            return _parse_datetime(value)
        raise QueryError(f"{spec.name} takes a date like 2026-01-01, not {value!r}")
    # any: JSON scalars; dates become ISO strings (custom values arrive as JSON)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return number(spec, value)
    raise QueryError(f"{spec.name} takes a text, number or true/false value, not {value!r}")


def coerce(spec: FieldSpec, op: str, value: object) -> object:
    if op == "exists":
        if value is None:
            return True
        if isinstance(value, bool):
            return value
        raise QueryError(f"'exists' takes true or false, not {value!r}")
    if op == "changed":
        if value is None or value is True:
            return True
        raise QueryError("'changed' takes no value (to test 'did not change', wrap it in not)")
    if op == "matches":
        if not isinstance(value, str) or not value:
            raise QueryError("'matches' takes a regular expression")
        compile_regex(value)
        return value
    if op in ("in", "not_in", "contains_any"):
        items = list(value) if isinstance(value, list | tuple) else [value]
        if not items:
            raise QueryError(f"'{op}' takes a non-empty list")
        return tuple(scalar(spec, op, v) for v in items)
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise QueryError("'between' takes two values: [low, high]")
        low, high = scalar(spec, op, value[0]), scalar(spec, op, value[1])
        order = compare(spec, low, high)
        if order is None or isinstance(low, bool) or isinstance(high, bool):
            raise QueryError(f"'between' bounds must be two numbers, dates or texts: {value!r}")
        if order > 0:
            raise QueryError(f"'between' bounds are reversed: {plain(low)} > {plain(high)}")
        return (low, high)
    result = scalar(spec, op, value)
    if op in ORDER and isinstance(result, bool):
        raise QueryError(f"'{op}' compares numbers, dates or texts, not {result!r}")
    return result


def check_op(op: object) -> str:
    if not isinstance(op, str) or op not in OPERATORS:
        hint = did_you_mean(str(op), OPERATORS) or f" (one of: {', '.join(OPERATORS)})"
        raise QueryError(f"unknown operator '{op}'{hint}")
    return op


def ops_for(spec: FieldSpec) -> frozenset[str]:
    ops = KIND_OPS[spec.kind]
    return ops | ORDER if spec.kind == "enum" and spec.ordered else ops


def cond(field: str, op: str, value: object = None) -> Cond:
    """A validated leaf: aliases resolved, the operator checked, the value normalised."""
    if not isinstance(field, str) or not field:
        raise QueryError(f"a condition needs a field name, not {field!r}")
    check_op(op)
    spec = field_spec(resolve_name(field, op, value))
    if op not in ops_for(spec):
        usable = ", ".join(o for o in OPERATORS if o in ops_for(spec))
        raise QueryError(
            f"'{op}' does not apply to {spec.name} ({spec.kind}); use one of: {usable}"
        )
    return Cond(spec.name, op, coerce(spec, op, value))


#: The date parser under its public name (other modules of the language call it by this one).
parse_datetime = _parse_datetime
