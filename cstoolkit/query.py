"""The one condition language: ``--query`` strings and recipe ``when:`` blocks.

Both compile to the same tree of frozen nodes (:class:`All`, :class:`Any`, :class:`Not`,
:class:`Cond`). A tree is evaluated in Python against a :class:`Subject` with :func:`evaluate`,
or compiled to a SQL ``WHERE`` fragment with :func:`to_sql` when every part of it can be (the
caller filters in Python otherwise). Both give the same answer; the test-suite checks it.

Entry points:

* :func:`parse` -- a query string (``status:open tag:vip created<7d``) to a node;
* :func:`compile` / :func:`from_dict` -- a recipe condition (dict, list or query string) to a node;
* :func:`cond` -- one validated leaf;
* :func:`evaluate`, :func:`to_sql`, :func:`snapshot` -- use a node.

Fields live in the :data:`FIELDS` registry; other modules and plugins add theirs with
:func:`register_field` (one field) or :func:`register_namespace` (a family such as ``sla.``).
The language is documented once, in docs/query.md.
"""

from __future__ import annotations

import difflib
import enum
import functools
import itertools
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final

from cstoolkit import timespec
from cstoolkit.errors import QueryError
from cstoolkit.model import EARLIEST, LATEST, Channel, Person, Priority, Status, Ticket, utc
from cstoolkit.model import now as _utcnow

__all__ = [
    "ALIASES",
    "FIELDS",
    "KINDS",
    "MAX_AGE_HOURS",
    "MAX_DEPTH",
    "MAX_NUMBER",
    "MAX_QUERY_LENGTH",
    "MAX_REGEX_INPUT",
    "NAMESPACES",
    "OPERATORS",
    "TIME_ALIASES",
    "All",
    "Any",
    "Cond",
    "FieldSpec",
    "Node",
    "Not",
    "Subject",
    "changed_fields",
    "compile",
    "cond",
    "evaluate",
    "field_spec",
    "fields_doc",
    "fields_used",
    "from_dict",
    "parse",
    "register_field",
    "register_namespace",
    "snapshot",
    "to_sql",
]

# -- operators and kinds -----------------------------------------------------------------------

OPERATORS: Final[tuple[str, ...]] = (
    "is", "is_not", "in", "not_in", "contains", "contains_any", "matches",
    "gt", "lt", "ge", "le", "between", "exists", "changed", "changed_from", "changed_to",
)  # fmt: skip

#: enum: a closed set of values; text: free text (``:`` means contains); string: a short value
#: compared whole, case-insensitively (email, plan); id: compared whole, case-sensitively;
#: tags: a list of tags; number; datetime; any: custom and extension values (JSON scalars).
KINDS: Final[tuple[str, ...]] = (
    "enum",
    "text",
    "string",
    "id",
    "tags",
    "number",
    "datetime",
    "any",
)

_EQUALITY = frozenset({"is", "is_not", "in", "not_in", "exists"})
_CHANGE = frozenset({"changed", "changed_from", "changed_to"})
_ORDER = frozenset({"gt", "lt", "ge", "le", "between"})
_TEXT = frozenset({"contains", "contains_any", "matches"})
_KIND_OPS: Final[dict[str, frozenset[str]]] = {
    "enum": _EQUALITY | _CHANGE,  # + _ORDER when the enum is ordered (priority)
    "text": _EQUALITY | _CHANGE | _TEXT,
    "string": _EQUALITY | _CHANGE | _TEXT,
    "id": _EQUALITY | _CHANGE | _TEXT,
    "tags": _EQUALITY | _CHANGE | _TEXT,
    "number": _EQUALITY | _CHANGE | _ORDER,
    "datetime": _EQUALITY | _CHANGE | _ORDER,
    "any": frozenset(OPERATORS),
}
_CASE_INSENSITIVE = frozenset({"text", "string"})

#: Regexes are matched against at most this many leading characters of a value.
MAX_REGEX_INPUT: Final = 100_000
_MAX_PATTERN = 1_000

# Limits on what a query may ask (docs/security.md, "Files people write"): a query string's
# length; how deeply parentheses, NOT and recipe groups nest; the size of a number and of an
# age. Dates lie between model.EARLIEST and model.LATEST (1900-01-01 to 9999-01-01). Past them the
# parser would recurse without bound, SQLite could not bind the number or the date arithmetic
# would overflow; each is a one-line QueryError naming where it was written instead.
MAX_QUERY_LENGTH: Final = 10_000
MAX_DEPTH: Final = 32
MAX_NUMBER: Final = 10**15
MAX_AGE_HOURS: Final = 100 * 8766  # a century

# -- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class All:
    """True when every child is (an empty ``All`` is true)."""

    children: tuple[Node, ...]

    def to_dict(self) -> dict[str, object]:
        return {"all": [c.to_dict() for c in self.children]}


@dataclass(frozen=True, slots=True)
class Any:
    """True when at least one child is (an empty ``Any`` is false)."""

    children: tuple[Node, ...]

    def to_dict(self) -> dict[str, object]:
        return {"any": [c.to_dict() for c in self.children]}


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def to_dict(self) -> dict[str, object]:
        return {"not": self.child.to_dict()}


@dataclass(frozen=True, slots=True)
class Cond:
    """One test: ``field op value``. Build validated ones with :func:`cond`."""

    field: str
    op: str
    value: object

    def to_dict(self) -> dict[str, object]:
        return {"field": self.field, "op": self.op, "value": _plain(self.value)}


Node = All | Any | Not | Cond


def _plain(value: object) -> object:
    """A condition value as YAML/JSON wants it (tuples as lists, datetimes as ISO strings)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# -- what a condition is evaluated against ----------------------------------------------------


@dataclass(slots=True)
class Subject:
    """A ticket as conditions see it.

    ``now`` is the reference time for ``hours_since_*`` fields; ``extras`` holds extension
    fields by their full name (``{"sla.breached": True}``); ``previous`` holds what
    :func:`snapshot` returned for this ticket on the recipe's last run (``None``: never seen,
    and then no ``changed*`` condition is true).
    """

    ticket: Ticket
    requester: Person | None
    now: datetime
    extras: dict[str, object] = field(default_factory=dict)
    previous: dict[str, object] | None = None


# -- fields ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field conditions can test.

    ``getter`` reads the value from a :class:`Subject`; ``sql`` is an SQL expression over the
    aliases ``t`` (tickets) and ``r`` (the requester in people), or ``None`` when the field
    cannot be tested in SQL. ``values`` lists an enum's values (in rank order when ``ordered``).
    ``unit="hours"`` lets a number be written as an age (``7d``). ``age_of`` names the datetime
    field whose age in hours this field is, which lets :func:`to_sql` compile it.
    """

    name: str
    kind: str
    getter: Callable[[Subject], object]
    sql: str | None = None
    values: tuple[str, ...] | None = None
    ordered: bool = False
    unit: str | None = None
    age_of: str | None = None
    doc: str = ""


@dataclass(frozen=True, slots=True)
class _Namespace:
    kind: str
    doc: str


def _ticket_attr(attr: str) -> Callable[[Subject], object]:
    def get(subject: Subject) -> object:
        return getattr(subject.ticket, attr)

    return get


def _requester_attr(attr: str) -> Callable[[Subject], object]:
    def get(subject: Subject) -> object:
        return getattr(subject.requester, attr) if subject.requester is not None else None

    return get


def _age_hours(attr: str) -> Callable[[Subject], object]:
    def get(subject: Subject) -> object:
        when = getattr(subject.ticket, attr)
        if when is None:
            return None
        return (subject.now - when).total_seconds() / 3600

    return get


def _extra(name: str) -> Callable[[Subject], object]:
    def get(subject: Subject) -> object:
        return subject.extras.get(name)

    return get


def _custom(key: str) -> Callable[[Subject], object]:
    def get(subject: Subject) -> object:
        return subject.ticket.custom_fields.get(key)

    return get


# name, kind, where the value comes from (ticket attribute, requester attribute, or the age in
# hours of a ticket attribute), SQL expression, description.
_BUILTIN: Final = (
    ("status", "enum", "ticket.status", "t.status", "new, open, pending, on_hold, solved, closed"),
    ("priority", "enum", "ticket.priority", "t.priority", "low < normal < high < urgent"),
    ("channel", "enum", "ticket.channel", "t.channel", "where the ticket came from"),
    ("subject", "text", "ticket.subject", "t.subject", "the subject line"),
    ("description", "text", "ticket.description", "t.description", "the first message"),
    ("tags", "tags", "ticket.tags", "tt.tag", "the ticket's tags (alias: tag)"),
    ("language", "string", "ticket.language", "t.language", "the ticket's language code"),
    ("group", "id", "ticket.group_id", "t.group_id", "the group's id (INSTANCE:ID)"),
    ("assignee", "id", "ticket.assignee_id", "t.assignee_id", "the assignee's id (INSTANCE:ID)"),
    ("requester", "string", "requester.email", "r.email", "the requester's email"),
    ("requester.email", "string", "requester.email", "r.email", "the requester's email"),
    ("requester.domain", "string", "requester.domain", "r.domain", "the email's domain"),
    ("requester.plan", "string", "requester.plan", "r.plan", "the requester's plan"),
    ("requester.organization", "string", "requester.organization", "r.organization",
     "the requester's organization"),
    ("requester.language", "string", "requester.language", "r.language",
     "the requester's language"),
    ("instance", "id", "ticket.instance", "t.instance", "the backend instance's name"),
    ("id", "id", "ticket.id", "t.id", "the ticket's id (INSTANCE:ID)"),
    ("created_at", "datetime", "ticket.created_at", "t.created_at", "when it was created"),
    ("updated_at", "datetime", "ticket.updated_at", "t.updated_at", "when it last changed"),
    ("solved_at", "datetime", "ticket.solved_at", "t.solved_at", "when it was solved"),
    ("hours_since_created", "number", "age.created_at", None, "calendar hours since created"),
    ("hours_since_updated", "number", "age.updated_at", None, "calendar hours since updated"),
    ("hours_since_solved", "number", "age.solved_at", None, "calendar hours since solved"),
)  # fmt: skip


def _builtin_fields() -> dict[str, FieldSpec]:
    enum_values: dict[str, tuple[str, ...]] = {
        "status": tuple(s.value for s in Status),
        "priority": tuple(p.value for p in sorted(Priority, key=lambda p: p.rank)),
        "channel": tuple(c.value for c in Channel),
    }
    getters = {"ticket": _ticket_attr, "requester": _requester_attr, "age": _age_hours}
    out: dict[str, FieldSpec] = {}
    for name, kind, source, sql, doc in _BUILTIN:
        where, attr = source.split(".")
        out[name] = FieldSpec(
            name=name,
            kind=kind,
            getter=getters[where](attr),
            sql=sql,
            values=enum_values.get(name),
            ordered=name == "priority",
            unit="hours" if where == "age" else None,
            age_of=attr if where == "age" else None,
            doc=doc,
        )
    return out


#: Every named field. Add to it with :func:`register_field`.
FIELDS: dict[str, FieldSpec] = _builtin_fields()

#: Families of extension fields read from ``Subject.extras`` by full name.
NAMESPACES: dict[str, _Namespace] = {
    "sla.": _Namespace("any", "SLA state supplied by the SLA module (sla.breached, ...)"),
    "survey.": _Namespace("any", "survey results supplied by the survey module (survey.csat)"),
}

#: Plain aliases.
ALIASES: dict[str, str] = {"tag": "tags"}

#: Time aliases: with an age (``7d``) they mean the age field, with a date the datetime field.
TIME_ALIASES: dict[str, tuple[str, str]] = {
    "created": ("created_at", "hours_since_created"),
    "updated": ("updated_at", "hours_since_updated"),
    "solved": ("solved_at", "hours_since_solved"),
}

_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*")
_CUSTOM_KEY = re.compile(r"[\w-]+")


def register_field(
    name: str,
    kind: str,
    getter: Callable[[Subject], object] | None = None,
    *,
    sql: str | None = None,
    values: Sequence[str] | None = None,
    ordered: bool = False,
    unit: str | None = None,
    age_of: str | None = None,
    doc: str = "",
    replace: bool = False,
) -> FieldSpec:
    """Add a field. Without ``getter`` it reads ``Subject.extras[name]``.

    Raises ``ValueError`` (a programming error, not a user error) for a bad definition or a
    name already registered (unless ``replace``).
    """
    if not _FIELD_NAME.fullmatch(name) or name.startswith("custom."):
        raise ValueError(f"bad field name {name!r} (lower-case words joined by dots)")
    if kind not in KINDS:
        raise ValueError(f"unknown field kind {kind!r} (one of {', '.join(KINDS)})")
    if name in FIELDS and not replace:
        raise ValueError(f"field {name!r} is already registered")
    if kind == "enum" and not values:
        raise ValueError(f"enum field {name!r} needs its values")
    if unit not in (None, "hours"):
        raise ValueError(f"unknown unit {unit!r} (only 'hours')")
    spec = FieldSpec(
        name=name,
        kind=kind,
        getter=getter or _extra(name),
        sql=sql,
        values=tuple(v.lower() for v in values) if values else None,
        ordered=ordered,
        unit=unit,
        age_of=age_of,
        doc=doc,
    )
    FIELDS[name] = spec
    return spec


def register_namespace(prefix: str, kind: str = "any", doc: str = "") -> None:
    """Let every field named ``prefix<name>`` read ``Subject.extras`` (e.g. ``"sla."``)."""
    if not prefix.endswith(".") or not _FIELD_NAME.fullmatch(prefix[:-1]):
        raise ValueError(f"bad namespace prefix {prefix!r} (e.g. 'sla.')")
    if kind not in KINDS:
        raise ValueError(f"unknown field kind {kind!r}")
    NAMESPACES[prefix] = _Namespace(kind, doc)


def _known_names() -> list[str]:
    return [*FIELDS, *ALIASES, *TIME_ALIASES]


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def field_spec(name: str) -> FieldSpec:
    """The spec of a canonical field name (``custom.*`` and namespaces included)."""
    spec = FIELDS.get(name)
    if spec is not None:
        return spec
    if name.startswith("custom."):
        return _custom_spec(name[len("custom.") :])
    for prefix, namespace in NAMESPACES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return _extension_spec(name, namespace.kind)
    hint = _did_you_mean(name, _known_names())
    if not hint:
        hint = " (fields are listed in docs/query.md; custom fields are custom.<name>)"
    raise QueryError(f"unknown field '{name}'{hint}")


@functools.lru_cache(maxsize=1024)
def _custom_spec(key: str) -> FieldSpec:
    if not _CUSTOM_KEY.fullmatch(key):
        raise QueryError(f"bad custom field name 'custom.{key}' (letters, digits, _ and -)")
    return FieldSpec(
        name=f"custom.{key}",
        kind="any",
        getter=_custom(key),
        sql=f"json_extract(t.custom_fields, '$.\"{key}\"')",
        doc="a custom field",
    )


@functools.lru_cache(maxsize=1024)
def _extension_spec(name: str, kind: str) -> FieldSpec:
    return FieldSpec(name=name, kind=kind, getter=_extra(name))


def _resolve_name(name: str, op: str, value: object) -> str:
    """Apply aliases; a time alias picks the age field for an age, the datetime field else."""
    if name in ALIASES:
        return ALIASES[name]
    if name in TIME_ALIASES:
        absolute, age = TIME_ALIASES[name]
        values = value if isinstance(value, list | tuple) else [value]
        if op in _ORDER or op in ("is", "is_not", "in", "not_in"):
            if any(isinstance(v, str) and _DURATION.fullmatch(v.strip()) for v in values):
                return age
            for v in values:
                if _is_number(v) or (isinstance(v, str) and _NUMBER.fullmatch(v.strip())):
                    raise QueryError(
                        f"'{name}' needs an age with a unit ({v}h, {v}d, {v}w, {v}m) "
                        "or a date (2026-01-01)"
                    )
        return absolute
    return name


def fields_doc() -> list[tuple[str, str, str]]:
    """``(name, kind, description)`` for every field, then the field families."""
    rows = [(s.name, s.kind, s.doc) for s in FIELDS.values()]
    rows.append(("custom.<name>", "any", "a custom field of the ticket"))
    rows.extend((f"{p}<name>", ns.kind, ns.doc) for p, ns in NAMESPACES.items())
    return rows


# -- values ------------------------------------------------------------------------------------

_DURATION = timespec.DURATION  # an age (7d, 1.5h, 1h30m): the one time-spec parser's form
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_UNIT_HOURS: Final[dict[str, tuple[int, int]]] = {
    "m": (1, 60),
    "h": (1, 1),
    "d": (24, 1),
    "w": (168, 1),
}


def _tidy(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def _age_value(raw: str) -> int | float | None:
    """``7d`` -> 168 (hours); None when ``raw`` is not an age."""
    if not timespec.is_duration(raw):
        return None
    try:
        return _tidy(timespec.parse_duration(raw) / 3600)
    except timespec.TimeSpecError as exc:
        raise QueryError(str(exc)) from None


def _in_range(value: datetime, raw: object) -> datetime:
    """``value`` in UTC, or a QueryError when it lies outside the years cst accepts."""
    try:
        return utc(value)
    except ValueError:
        shown = raw.isoformat() if isinstance(raw, date) else raw
        raise QueryError(
            f"date '{shown}' is out of range ({EARLIEST.date()} to {LATEST.date()})"
        ) from None


def _day_start(day: date, raw: object) -> datetime:
    """Midnight UTC starting ``day``; the whole day must lie in range (it may end a window)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if not EARLIEST <= start < LATEST:
        shown = raw.isoformat() if isinstance(raw, date) else raw
        last = (LATEST - timedelta(days=1)).date()
        raise QueryError(f"date '{shown}' is out of range ({EARLIEST.date()} to {last})")
    return start


def _parse_datetime(raw: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date and time with its zone (docs/time.md)."""
    try:
        return timespec.parse_time(raw, relative=False, naive=False)
    except timespec.TimeSpecError as exc:
        raise QueryError(str(exc)) from None


def _number(spec: FieldSpec, value: int | float) -> int | float:
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


def _scalar(spec: FieldSpec, op: str, value: object) -> object:
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
            hint = _did_you_mean(text, allowed) or f" (one of: {', '.join(allowed)})"
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
            return _number(spec, value)
        if isinstance(value, str):
            if spec.unit == "hours":
                hours = _age_value(value)
                if hours is not None:
                    return hours
            if _NUMBER.fullmatch(value.strip()):
                return _number(spec, _tidy(float(value)))
        unit = " or an age like 7d, 12h, 30m" if spec.unit == "hours" else ""
        raise QueryError(f"{spec.name} takes a number{unit}, not {value!r}")
    if kind == "datetime":
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise QueryError(f"{value.isoformat()} has no time zone (add Z or +hh:mm)")
            return _in_range(value, value)
        if isinstance(value, date):
            return _day_start(value, value)
        if isinstance(value, str):
            if _age_value(value) is not None:
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
        return _number(spec, value)
    raise QueryError(f"{spec.name} takes a text, number or true/false value, not {value!r}")


def _coerce(spec: FieldSpec, op: str, value: object) -> object:
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
        _regex(value)
        return value
    if op in ("in", "not_in", "contains_any"):
        items = list(value) if isinstance(value, list | tuple) else [value]
        if not items:
            raise QueryError(f"'{op}' takes a non-empty list")
        return tuple(_scalar(spec, op, v) for v in items)
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise QueryError("'between' takes two values: [low, high]")
        low, high = _scalar(spec, op, value[0]), _scalar(spec, op, value[1])
        order = _compare(spec, low, high)
        if order is None or isinstance(low, bool) or isinstance(high, bool):
            raise QueryError(f"'between' bounds must be two numbers, dates or texts: {value!r}")
        if order > 0:
            raise QueryError(f"'between' bounds are reversed: {_plain(low)} > {_plain(high)}")
        return (low, high)
    result = _scalar(spec, op, value)
    if op in _ORDER and isinstance(result, bool):
        raise QueryError(f"'{op}' compares numbers, dates or texts, not {result!r}")
    return result


def _check_op(op: object) -> str:
    if not isinstance(op, str) or op not in OPERATORS:
        hint = _did_you_mean(str(op), OPERATORS) or f" (one of: {', '.join(OPERATORS)})"
        raise QueryError(f"unknown operator '{op}'{hint}")
    return op


def _ops_for(spec: FieldSpec) -> frozenset[str]:
    ops = _KIND_OPS[spec.kind]
    return ops | _ORDER if spec.kind == "enum" and spec.ordered else ops


def cond(field: str, op: str, value: object = None) -> Cond:
    """A validated leaf: aliases resolved, the operator checked, the value normalised."""
    if not isinstance(field, str) or not field:
        raise QueryError(f"a condition needs a field name, not {field!r}")
    _check_op(op)
    spec = field_spec(_resolve_name(field, op, value))
    if op not in _ops_for(spec):
        usable = ", ".join(o for o in OPERATORS if o in _ops_for(spec))
        raise QueryError(
            f"'{op}' does not apply to {spec.name} ({spec.kind}); use one of: {usable}"
        )
    return Cond(spec.name, op, _coerce(spec, op, value))


# -- regex safety ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern`` once (case-insensitive) after refusing ones that can hang."""
    if len(pattern) > _MAX_PATTERN:
        raise QueryError(f"regex is longer than {_MAX_PATTERN} characters")
    try:
        with warnings.catch_warnings():  # e.g. "possible nested set": not the user's concern
            warnings.simplefilter("ignore", FutureWarning)
            compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise QueryError(f"bad regex '{pattern}': {exc}") from None
    problem = _catastrophic(pattern)
    if problem:
        raise QueryError(
            f"regex '{pattern}' could backtrack catastrophically ({problem}); "
            "rewrite it without a repeated group that itself repeats"
        )
    return compiled


@dataclass(slots=True)
class _Group:
    start: int  # index of the first character of the body
    atomic: bool = False
    unbounded: bool = False  # the body holds an unbounded quantifier (*, +, {n,})
    bars: list[int] = field(default_factory=list)  # indexes of the body's top-level '|'
    end: int = 0


_QUANT_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")
_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux-]+([:)])")


def _catastrophic(pattern: str) -> str | None:
    """A simple static check: a repeated group whose body also repeats without bound, or whose
    alternatives can match the same text (``(a+)+``, ``(a*)*``, ``(.*)*``, ``(a|a)*``).
    Possessive quantifiers (``a++``) and atomic groups (``(?>...)``) are exempt: they never
    backtrack into what they matched. The pattern is already known to compile."""
    stack = [_Group(start=0)]
    last: _Group | str | None = None  # what a quantifier would apply to
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            last, i = "atom", i + 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            last, i = "atom", j + 1
            continue
        if c == "(":
            if pattern.startswith(("(?#", "(?P="), i):  # comment, named back-reference
                last, i = "atom", _after(pattern, ")", i)
                continue
            flags = _INLINE_FLAGS.match(pattern, i)
            if flags and flags.group(1) == ")":  # global inline flags: (?i)
                last, i = None, flags.end()
                continue
            if flags:
                body = flags.end()
            elif pattern.startswith(("(?:", "(?>", "(?=", "(?!"), i):
                body = i + 3
            elif pattern.startswith(("(?<=", "(?<!"), i):
                body = i + 4
            elif pattern.startswith(("(?P<", "(?("), i):
                body = _after(pattern, ">" if pattern[i + 2] == "P" else ")", i)
            else:
                body = i + 1
            stack.append(_Group(start=body, atomic=pattern.startswith("(?>", i)))
            last, i = None, body
            continue
        if c == ")":
            if len(stack) == 1:  # unbalanced: only possible inside a (?x) comment
                last, i = "atom", i + 1
                continue
            group = stack.pop()
            group.end = i
            if group.unbounded and not group.atomic:
                stack[-1].unbounded = True
            last, i = group, i + 1
            continue
        if c == "|":
            stack[-1].bars.append(i)
            last, i = None, i + 1
            continue
        most: float | None = None
        j = i + 1
        if c in "*+":
            most = math.inf
        elif c == "?":
            most = 1
        elif c == "{":
            m = _QUANT_BRACES.match(pattern, i)
            if m and (m.group(1) or m.group(3)):
                most = math.inf if m.group(2) and not m.group(3) else int(m.group(3) or m.group(1))
                j = m.end()
        if most is None:  # an ordinary character
            last, i = "atom", i + 1
            continue
        possessive = j < n and pattern[j] == "+"
        if j < n and pattern[j] in "?+":
            j += 1
        if isinstance(last, _Group) and most > 1 and not possessive and not last.atomic:
            if last.unbounded:
                return "a repeated group contains another unbounded repeat"
            if _overlapping_alternatives(pattern, last):
                return "a repeated group has alternatives that match the same text"
        if last is not None and most == math.inf and not possessive:
            stack[-1].unbounded = True
        last, i = None, j
    return None


def _after(pattern: str, char: str, start: int) -> int:
    found = pattern.find(char, start)
    return len(pattern) if found < 0 else found + 1


def _overlapping_alternatives(pattern: str, group: _Group) -> bool:
    """Whether two alternatives of ``group`` can start matching the same text: one equals or
    begins the other, or their first characters (a literal, ``.``, ``\\w``, a class...) can be
    the same character (probed on Latin-1 and a few other characters)."""
    if not group.bars:
        return False
    edges = [group.start - 1, *group.bars, group.end]
    alternatives = [pattern[a + 1 : b] for a, b in itertools.pairwise(edges)]
    for k, first in enumerate(alternatives):
        for second in alternatives[k + 1 :]:
            if first.startswith(second) or second.startswith(first):
                return True
            if _first_chars_overlap(_first_atom(first), _first_atom(second)):
                return True
    return False


_PROBE = "".join(map(chr, range(256))) + "\u0100\u0394\u0416\u4e2d\u3042\U0001f600"
_ESCAPE_ATOM = re.compile(
    r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}|.)", re.S
)


def _first_atom(alternative: str) -> str | None:
    """The first single-character atom of an alternative, or None when it starts otherwise."""
    if not alternative or alternative[0] in "()^$|":
        return None
    if alternative[0] == "\\":
        m = _ESCAPE_ATOM.match(alternative)
        return m.group() if m else None
    if alternative[0] == "[":
        j = 1 + (alternative[1:2] == "^")
        j += alternative[j : j + 1] == "]"
        while j < len(alternative) and alternative[j] != "]":
            j += 2 if alternative[j] == "\\" else 1
        return alternative[: j + 1] if j < len(alternative) else None
    return alternative[0]


@functools.lru_cache(maxsize=256)
def _first_chars_overlap(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    try:
        first, second = re.compile(a, re.IGNORECASE | re.S), re.compile(b, re.IGNORECASE | re.S)
    except re.error:
        return False
    return any(first.fullmatch(c) and second.fullmatch(c) for c in _PROBE)


# -- query strings -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Token:
    kind: str  # "(", ")", "OR", "AND", "NOT", "-", "TERM", "END"
    col: int  # 1-based
    text: str = ""
    sym: str = ""
    items: list[tuple[str, bool]] = field(default_factory=list)  # (value, was quoted)
    value_col: int = 0


_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_KEYWORDS = ("OR", "AND", "NOT")


def _fail(col: int, message: str) -> QueryError:
    return QueryError(f"query: column {col}: {message}", hint="the query language: docs/query.md")


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        text, n = self.text, len(self.text)
        while True:
            while self.i < n and text[self.i].isspace():
                self.i += 1
            if self.i >= n:
                out.append(_Token("END", n + 1))
                return out
            c, col = text[self.i], self.i + 1
            if c in "()":
                out.append(_Token(c, col))
                self.i += 1
            elif c == "-":
                nxt = text[self.i + 1] if self.i + 1 < n else ""
                if not nxt or nxt.isspace() or nxt == ")":
                    raise _fail(col, "'-' must be followed by a condition (as in -tag:spam)")
                out.append(_Token("-", col))
                self.i += 1
            else:
                out.append(self._term())

    def _term(self) -> _Token:
        text, start = self.text, self.i
        m = _NAME.match(text, start)
        if m is None:
            raise _fail(start + 1, f"unexpected '{text[start]}' (expected FIELD:VALUE)")
        name, j = m.group(), m.end()
        sym = text[j : j + 2] if text[j : j + 2] in (">=", "<=") else text[j : j + 1]
        if sym not in (":", "~", ">", "<", ">=", "<="):
            if name in _KEYWORDS:
                self.i = j
                return _Token(name, start + 1, name)
            if name.upper() in _KEYWORDS:
                raise _fail(start + 1, f"write '{name.upper()}' in capitals")
            if j < len(text) and not text[j].isspace() and text[j] not in "()":
                raise _fail(j + 1, f"unexpected '{text[j]}' after '{name}' (use : ~ < > <= or >=)")
            raise _fail(start + 1, f"expected FIELD:VALUE, got '{name}' (e.g. subject:\"{name}\")")
        j += len(sym)
        token = _Token("TERM", start + 1, name, sym, value_col=j + 1)
        while True:
            value, quoted, j = self._value(j, split=sym == ":", regex=sym == "~")
            token.items.append((value, quoted))
            if sym == ":" and j < len(text) and text[j] == ",":
                j += 1
                continue
            break
        self.i = j
        return token

    def _value(self, j: int, *, split: bool, regex: bool) -> tuple[str, bool, int]:
        text, n = self.text, len(self.text)
        if j < n and text[j] in "\"'":
            quote, k, buf = text[j], j + 1, []
            while k < n and text[k] != quote:
                if text[k] == "\\" and k + 1 < n and text[k + 1] in (quote, "\\"):
                    k += 1
                buf.append(text[k])
                k += 1
            if k >= n:
                raise _fail(j + 1, "unterminated quoted value")
            k += 1
            if k < n and not text[k].isspace() and text[k] not in "),":
                raise _fail(k + 1, f"unexpected '{text[k]}' after a quoted value")
            return "".join(buf), True, k
        k, depth = j, 0
        while k < n and not text[k].isspace():
            c = text[k]
            if regex and c == "\\":
                k += 2
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            elif c == "," and split:
                break
            k += 1
        k = min(k, n)
        if k == j:
            raise _fail(j + 1, "missing value")
        return text[j:k], False, k


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _Lexer(text).tokens()
        self.k = 0
        self.depth = 0  # open parentheses and NOTs around the current token

    @property
    def tok(self) -> _Token:
        return self.tokens[self.k]

    def advance(self) -> _Token:
        tok = self.tokens[self.k]
        self.k += 1
        return tok

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise _fail(1, "empty query")
        node = self.or_expr()
        if self.tok.kind != "END":
            raise _fail(self.tok.col, f"unexpected {self.describe(self.tok)}")
        return node

    @staticmethod
    def describe(tok: _Token) -> str:
        if tok.kind == "END":
            return "end of query"
        return f"'{tok.text or tok.kind}'"

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.tok.kind == "OR":
            self.advance()
            if self.tok.kind in ("OR", "AND", ")", "END"):
                found = self.describe(self.tok)
                raise _fail(self.tok.col, f"expected a condition after 'OR', got {found}")
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Any(tuple(parts))

    def and_expr(self) -> Node:
        parts: list[Node] = []
        while self.tok.kind not in ("OR", ")", "END"):
            if self.tok.kind == "AND":
                if not parts:
                    break
                self.advance()
                if self.tok.kind in ("OR", ")", "END", "AND"):
                    raise _fail(
                        self.tok.col, f"expected a condition, got {self.describe(self.tok)}"
                    )
                continue
            parts.append(self.unary())
        if not parts:
            raise _fail(self.tok.col, f"unexpected {self.describe(self.tok)}")
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def unary(self) -> Node:
        tok = self.tok
        if tok.kind in ("NOT", "-", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _fail(tok.col, f"nested deeper than {MAX_DEPTH} levels (parentheses, NOT)")
            try:
                return self._nested(tok)
            finally:
                self.depth -= 1
        if tok.kind == "TERM":
            self.advance()
            return _term_node(tok)
        raise _fail(tok.col, f"unexpected {self.describe(tok)}")

    def _nested(self, tok: _Token) -> Node:
        if tok.kind in ("NOT", "-"):
            self.advance()
            if self.tok.kind in ("OR", "AND", ")", "END"):
                found = self.describe(self.tok)
                raise _fail(self.tok.col, f"expected a condition after '{tok.kind}', got {found}")
            return Not(self.unary())
        self.advance()
        node = self.or_expr()
        if self.tok.kind != ")":
            raise _fail(tok.col, "'(' is never closed")
        self.advance()
        return node


def parse(text: str) -> Node:
    """Parse a query string; a malformed one raises a one-line :class:`QueryError`."""
    if not isinstance(text, str):
        raise QueryError(f"a query is a string, not {type(text).__name__}")
    if len(text) > MAX_QUERY_LENGTH:
        raise _fail(
            MAX_QUERY_LENGTH + 1, f"the query is longer than {MAX_QUERY_LENGTH:,} characters"
        )
    return _Parser(text).parse()


_SYMBOL_OPS: Final[dict[str, str]] = {">": "gt", "<": "lt", ">=": "ge", "<=": "le"}


def _term_node(tok: _Token) -> Node:
    name = tok.text
    try:
        canonical = ALIASES.get(name, name)
        if canonical not in TIME_ALIASES:
            field_spec(canonical)
    except QueryError as exc:
        raise _fail(tok.col, exc.message) from None
    try:
        if tok.sym == ":":
            return _colon(name, tok.items)
        value, quoted = tok.items[0]
        if tok.sym == "~":
            return cond(name, "matches", value)
        return cond(name, _SYMBOL_OPS[tok.sym], _typed(name, value, quoted, compare=True))
    except QueryError as exc:
        raise _fail(tok.value_col, exc.message) from None


def _typed(name: str, raw: str, quoted: bool, *, compare: bool = False) -> object:
    """Query strings carry text; a custom/extension field (kind any) gets JSON-like values."""
    if quoted or name in TIME_ALIASES:
        return raw
    spec = field_spec(ALIASES.get(name, name))
    if spec.kind != "any":
        return raw
    if not compare and raw in ("true", "false"):
        return raw == "true"
    if _NUMBER.fullmatch(raw):
        return _tidy(float(raw))
    return raw


def _colon(name: str, items: Sequence[tuple[str, bool]]) -> Node:
    """``field:value`` (also the recipe shorthand ``{field: value}``)."""
    if len(items) == 1:
        raw, quoted = items[0]
        if not quoted and raw.lower() == "none":
            return cond(name, "exists", False)
        absolute = TIME_ALIASES[name][0] if name in TIME_ALIASES else name
        is_time = name in TIME_ALIASES or field_spec(ALIASES.get(name, name)).kind == "datetime"
        if not quoted and ".." in raw and _rangeable(name):
            low, high = raw.split("..", 1)
            if is_time and _DATE_ONLY.fullmatch(high.strip()):
                start, end = _parse_datetime(low), _parse_datetime(high) + timedelta(days=1)
                return All((cond(absolute, "ge", start), cond(absolute, "lt", end)))
            bounds = [_typed(name, v, False, compare=True) for v in (low, high)]
            return cond(name, "between", bounds)
        if is_time:
            if _age_value(raw) is not None:
                raise QueryError(f"'{name}:{raw}' is ambiguous: use {name}<{raw} or {name}>{raw}")
            if _DATE_ONLY.fullmatch(raw.strip()):
                return _day(absolute, _parse_datetime(raw))
            return cond(absolute, "is", raw)
    values = [_typed(name, raw, quoted) for raw, quoted in items]
    if name in TIME_ALIASES:
        return cond(name, "in", values)
    spec = field_spec(ALIASES.get(name, name))
    loose = spec.kind in ("tags", "text")  # tag:vip, subject:refund mean "contains"
    if len(values) == 1:
        return cond(name, "contains" if loose else "is", values[0])
    return cond(name, "contains_any" if loose else "in", values)


def _rangeable(name: str) -> bool:
    if name in TIME_ALIASES:
        return True
    spec = field_spec(ALIASES.get(name, name))
    return spec.kind in ("number", "datetime", "any") or (spec.kind == "enum" and spec.ordered)


def _day(name: str, start: datetime) -> Node:
    return All((cond(name, "ge", start), cond(name, "lt", start + timedelta(days=1))))


# -- recipe dicts ------------------------------------------------------------------------------

_GROUP_KEYS = ("all", "any", "not")
_LEAF_KEYS = ("field", "op", "value")


def compile(obj: object, *, where: str = "condition") -> Node:
    """Compile a recipe condition: a dict, a list (all of it), a query string, or a node.

    ``where`` prefixes error messages (``recipes/x.yaml: when``); the path inside the condition
    follows it (``condition: all[1].priority: unknown priority 'hgh' ...``).
    """
    return _compile(obj, where)


def from_dict(obj: Mapping[str, object]) -> Node:
    """The inverse of ``node.to_dict()`` (any recipe form is accepted)."""
    return _compile(obj, "condition")


def _compile(obj: object, path: str, depth: int = 0) -> Node:
    if depth > MAX_DEPTH:
        raise QueryError(f"{path}: conditions nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, All | Any | Not | Cond):
        return obj
    if isinstance(obj, str):
        if not obj.strip():
            raise QueryError(f"{path}: empty condition")
        try:
            return parse(obj)
        except QueryError as exc:
            raise QueryError(f"{path}: {exc.message}", hint=exc.hint) from None
    if isinstance(obj, list | tuple):
        if not obj:
            raise QueryError(f"{path}: empty list of conditions")
        nodes = tuple(_compile(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(obj))
        return nodes[0] if len(nodes) == 1 else All(nodes)
    if not isinstance(obj, Mapping):
        raise QueryError(f"{path}: expected a condition (mapping or query string), got {obj!r}")
    if not obj:
        raise QueryError(f"{path}: empty condition")
    keys = [str(k) for k in obj]
    group = [k for k in keys if k in _GROUP_KEYS]
    if group:
        if len(keys) != 1:
            raise QueryError(f"{path}: '{group[0]}' cannot be combined with other keys: {keys}")
        key = group[0]
        body = obj[key]
        if key == "not":
            return Not(_compile(body, f"{path}.not", depth + 1))
        items = body if isinstance(body, list | tuple) else [body]
        if not items:
            raise QueryError(f"{path}.{key}: needs at least one condition")
        nodes = tuple(_compile(x, f"{path}.{key}[{i}]", depth + 1) for i, x in enumerate(items))
        return All(nodes) if key == "all" else Any(nodes)
    try:
        if "field" in keys or "op" in keys:
            return _leaf(obj, keys)
        nodes = tuple(_shorthand(str(k), v) for k, v in obj.items())
    except QueryError as exc:
        raise QueryError(f"{path}: {exc.message}", hint=exc.hint) from None
    return nodes[0] if len(nodes) == 1 else All(nodes)


def _leaf(obj: Mapping[str, object], keys: Sequence[str]) -> Cond:
    for key in keys:
        if key not in _LEAF_KEYS:
            raise QueryError(f"unknown key '{key}'{_did_you_mean(key, _LEAF_KEYS)}")
    name, op = obj.get("field"), obj.get("op")
    if not isinstance(name, str) or not name:
        raise QueryError("a condition with 'op' needs a 'field'")
    if op is None:
        raise QueryError(f"the condition on '{name}' needs an 'op'")
    return cond(name, _check_op(op), obj.get("value"))


def _shorthand(name: str, value: object) -> Node:
    """``{field: value}``, ``{field: [a, b]}``, ``{field: null}``, ``{field: {op: value}}``."""
    if not (name in ALIASES or name in TIME_ALIASES or _is_field(name)):
        hint = _did_you_mean(name, [*_known_names(), *_GROUP_KEYS, *_LEAF_KEYS])
        raise QueryError(f"unknown field '{name}'{hint}")
    if isinstance(value, Mapping):
        if not value:
            raise QueryError(f"{name}: empty condition")
        nodes = tuple(cond(name, _check_op(op), v) for op, v in value.items())
        return nodes[0] if len(nodes) == 1 else All(nodes)
    if value is None:
        return cond(name, "exists", False)
    if isinstance(value, str):
        return _colon(name, [(value, False)])
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return _colon(name, [(str(v), True) for v in value])
        return cond(name, "in", list(value))
    if isinstance(value, date) and not isinstance(value, datetime):
        absolute = TIME_ALIASES[name][0] if name in TIME_ALIASES else name
        if field_spec(absolute).kind == "datetime":
            return _day(absolute, _day_start(value, value))
    spec = field_spec(_resolve_name(name, "is", value))
    return cond(name, "contains" if spec.kind == "tags" else "is", value)


def _is_field(name: str) -> bool:
    try:
        field_spec(name)
    except QueryError:
        return False
    return True


# -- evaluation --------------------------------------------------------------------------------


def evaluate(node: Node, subject: Subject) -> bool:
    """Whether ``subject`` satisfies ``node``."""
    if isinstance(node, Cond):
        return _eval_cond(node, subject)
    if isinstance(node, All):
        return all(evaluate(child, subject) for child in node.children)
    if isinstance(node, Any):
        return any(evaluate(child, subject) for child in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, subject)
    raise TypeError(f"not a condition node: {node!r}")


def _normal(spec: FieldSpec, value: object) -> object:
    """A value as conditions compare it: enums as their names, kind any as JSON values."""
    if value is None:
        return None
    if spec.kind == "enum":
        return str(value.value if isinstance(value, enum.Enum) else value)
    if spec.kind == "tags":
        return [str(t) for t in value] if isinstance(value, list | tuple | set) else []
    if spec.kind == "any":
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return value.value
    return value


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str | list | tuple | dict) and not value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _eq(spec: FieldSpec, actual: object, expected: object) -> bool:
    if spec.kind in _CASE_INSENSITIVE and isinstance(actual, str) and isinstance(expected, str):
        return actual.lower() == expected.lower()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if _is_number(actual) and _is_number(expected):
        return actual == expected
    return type(actual) is type(expected) and actual == expected


def _compare(spec: FieldSpec, a: object, b: object) -> int | None:
    """-1/0/1, or None when the two cannot be ordered."""
    if spec.kind == "enum" and spec.ordered and spec.values:
        if a in spec.values and b in spec.values:
            ia, ib = spec.values.index(str(a)), spec.values.index(str(b))
            return (ia > ib) - (ia < ib)
        return None
    pairs = (
        (_is_number(a) and _is_number(b))
        or (isinstance(a, str) and isinstance(b, str))
        or (isinstance(a, datetime) and isinstance(b, datetime))
    )
    if not pairs:
        return None
    return (a > b) - (a < b)  # type: ignore[operator]


def _contains(actual: object, expected: object) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return expected.lower() in actual.lower()
    if isinstance(actual, list | tuple):
        return any(_eq(_ANY_SPEC, item, expected) for item in actual)
    return False


#: Seconds one regex search may run when the ``regex`` package is installed (it takes a
#: timeout; ``re`` does not): a search still running then counts as no match, so a pattern
#: that is slow on some text (``a*b`` on a long run of a's is quadratic) cannot hang a
#: scheduled run. The static check in :func:`_regex` refuses the exponential ones up front.
REGEX_TIMEOUT: float = 0.1


@functools.lru_cache(maxsize=512)
def _timed_regex(pattern: str) -> object | None:
    try:
        import regex as timed
    except ImportError:  # pragma: no cover - regex is a dependency; re is the fallback
        return None
    try:
        return timed.compile(pattern, timed.IGNORECASE | timed.VERSION0)
    except timed.error:  # a pattern only re understands: use re
        return None


def _search(pattern: str, value: object) -> bool:
    if not isinstance(value, str):
        return False
    text = value[:MAX_REGEX_INPUT]
    compiled = _regex(pattern)  # validates (and refuses catastrophic patterns) first
    timed = _timed_regex(pattern)
    if timed is None:
        return compiled.search(text) is not None
    try:
        return timed.search(text, timeout=REGEX_TIMEOUT) is not None  # type: ignore[attr-defined]
    except TimeoutError:
        return False


def _eval_cond(c: Cond, subject: Subject) -> bool:
    spec = field_spec(c.field)
    if c.op in _CHANGE:
        return _eval_change(spec, c, subject)
    actual = _normal(spec, spec.getter(subject))
    op, value = c.op, c.value
    if op == "exists":
        return _present(actual) == bool(value)
    if spec.kind == "tags":
        tags = actual if isinstance(actual, list) else []
        if op in ("is", "contains"):
            return value in tags
        if op == "is_not":
            return value not in tags
        if op in ("in", "contains_any"):
            return any(v in tags for v in _items(value))
        if op == "not_in":
            return not any(v in tags for v in _items(value))
        if op == "matches":
            return any(_search(str(value), t) for t in tags)
        return False
    if actual is None:
        return op in ("is_not", "not_in")
    if isinstance(actual, list) and op in ("is", "is_not", "in", "not_in", "matches"):
        # a list-valued custom or extension field (a multi-select): test its members
        if op == "matches":
            return any(_search(str(value), item) for item in actual)
        wanted = _items(value) if op in ("in", "not_in") else (value,)
        hit = any(_eq(spec, item, v) for item in actual for v in wanted)
        return hit if op in ("is", "in") else not hit
    if op == "is":
        return _eq(spec, actual, value)
    if op == "is_not":
        return not _eq(spec, actual, value)
    if op == "in":
        return any(_eq(spec, actual, v) for v in _items(value))
    if op == "not_in":
        return not any(_eq(spec, actual, v) for v in _items(value))
    if op == "contains":
        return _contains(actual, value)
    if op == "contains_any":
        return any(_contains(actual, v) for v in _items(value))
    if op == "matches":
        return _search(str(value), actual)
    return _ordered(spec, op, actual, value)


def _ordered(spec: FieldSpec, op: str, actual: object, value: object) -> bool:
    """``actual op value`` for gt/lt/ge/le/between; False when they cannot be ordered."""
    if op == "between":
        low, high = _items(value)
        lo, hi = _compare(spec, actual, low), _compare(spec, actual, high)
        return lo is not None and hi is not None and lo >= 0 and hi <= 0
    order = _compare(spec, actual, value)
    if order is None:
        return False
    return {"gt": order > 0, "lt": order < 0, "ge": order >= 0, "le": order <= 0}.get(op, False)


def _items(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


_ANY_SPEC = FieldSpec("value", "any", _extra("value"))


# -- change detection --------------------------------------------------------------------------


def _snap(spec: FieldSpec, value: object) -> object:
    """A JSON-friendly value for ``Subject.previous`` (and for comparing with it)."""
    value = _normal(spec, value)
    if value is None:
        return None
    if spec.kind == "tags":
        return sorted(set(value)) if isinstance(value, list) else []
    if spec.kind == "datetime":
        if isinstance(value, str):
            try:
                value = _parse_datetime(value)
            except QueryError:
                return value
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
    return value


def _same(spec: FieldSpec, a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return _eq(spec, a, b)


def _eval_change(spec: FieldSpec, c: Cond, subject: Subject) -> bool:
    if subject.previous is None or spec.name not in subject.previous:
        return False
    before = _snap(spec, subject.previous[spec.name])
    after = _snap(spec, spec.getter(subject))
    if spec.kind == "tags":
        old = set(before) if isinstance(before, list) else set()
        new = set(after) if isinstance(after, list) else set()
        if c.op == "changed":
            return old != new
        if c.op == "changed_to":
            return c.value in new and c.value not in old
        return c.value in old and c.value not in new
    if _same(spec, before, after):
        return False
    if c.op == "changed":
        return True
    expected = _snap(spec, c.value)
    side = after if c.op == "changed_to" else before
    return side is not None and _eq(spec, side, expected)


def _walk(node: Node) -> list[Cond]:
    if isinstance(node, Cond):
        return [node]
    if isinstance(node, Not):
        return _walk(node.child)
    return [leaf for child in node.children for leaf in _walk(child)]


def fields_used(node: Node) -> frozenset[str]:
    """Every field ``node`` tests."""
    return frozenset(c.field for c in _walk(node))


def changed_fields(node: Node) -> frozenset[str]:
    """The fields ``node`` tests with changed/changed_from/changed_to."""
    return frozenset(c.field for c in _walk(node) if c.op in _CHANGE)


def snapshot(node: Node, subject: Subject) -> dict[str, object]:
    """The values to keep as ``Subject.previous`` for the next run (JSON-serialisable)."""
    values: dict[str, object] = {}
    for name in sorted(changed_fields(node)):
        spec = field_spec(name)
        values[name] = _snap(spec, spec.getter(subject))
    return values


# -- SQL ---------------------------------------------------------------------------------------


class _NoSQL(Exception):
    """Part of the tree cannot be expressed in SQL."""


def _epoch(value: datetime) -> int | float:
    return _tidy(value.timestamp())


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def to_sql(
    node: Node, now: datetime | None = None, *, dialect: str = "sqlite"
) -> tuple[str, list[object]] | None:
    """A ``WHERE`` fragment with ``?`` placeholders and its parameters, or ``None`` when some
    part of ``node`` cannot be tested in SQL (regexes, change tests, extension fields).

    The fragment reads ``tickets t`` and the requester ``people r`` (the caller joins
    ``LEFT JOIN people r ON r.id = t.requester_id``) and ``ticket_tags``. ``now`` (default:
    the current time) is the reference for ``hours_since_*``. Every leaf is true or false,
    never NULL, so ``NOT`` agrees with Python evaluation on missing values.
    """
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported SQL dialect {dialect!r} (sqlite or postgresql)")
    reference = _epoch(now or _utcnow())
    params: list[object] = []

    def bind(value: object) -> str:
        params.append(value)
        return "?"

    def tree(n: Node) -> str:
        if isinstance(n, Cond):
            return leaf(n)
        if isinstance(n, Not):
            return f"NOT ({tree(n.child)})"
        if not n.children:
            return "(1 = 1)" if isinstance(n, All) else "(1 = 0)"
        joiner = " AND " if isinstance(n, All) else " OR "
        return "(" + joiner.join(tree(child) for child in n.children) + ")"

    def leaf(c: Cond) -> str:
        if c.op in _CHANGE or c.op == "matches":
            raise _NoSQL
        spec = field_spec(c.field)
        if spec.name.startswith("custom."):
            return custom(spec, c)
        if spec.kind == "tags":
            return tags(spec, c)
        if spec.age_of is not None:
            return age(spec, c)
        if spec.sql is None:
            raise _NoSQL
        return column(spec, c)

    def column(spec: FieldSpec, c: Cond) -> str:
        col, op, value = spec.sql, c.op, c.value
        folded = spec.kind in _CASE_INSENSITIVE
        lhs = f"LOWER({col})" if folded else col

        def p(v: object) -> str:
            if isinstance(v, datetime):
                return bind(_epoch(v))
            return bind(v.lower() if folded and isinstance(v, str) else v)

        if op == "exists":
            empty = f" OR {col} = ''" if spec.kind in ("text", "string", "id", "enum") else ""
            blank = f"({col} IS NULL{empty})"
            return f"(NOT {blank})" if value else blank
        if op == "is":
            return f"({col} IS NOT NULL AND {lhs} = {p(value)})"
        if op == "is_not":
            return f"({col} IS NULL OR {lhs} <> {p(value)})"
        if op in ("in", "not_in"):
            marks = ", ".join(p(v) for v in _items(value))
            if op == "in":
                return f"({col} IS NOT NULL AND {lhs} IN ({marks}))"
            return f"({col} IS NULL OR {lhs} NOT IN ({marks}))"
        if op in ("contains", "contains_any"):
            likes = " OR ".join(
                f"LOWER({col}) LIKE {bind(_like(str(v)))} ESCAPE '\\'" for v in _items(value)
            )
            return f"({col} IS NOT NULL AND ({likes}))"
        if spec.kind == "enum" and spec.ordered and spec.values:
            ranked = [v for v in spec.values if _ordered(spec, op, v, value)]
            if not ranked:
                return "(1 = 0)"
            return f"({col} IS NOT NULL AND {col} IN ({', '.join(bind(v) for v in ranked)}))"
        if op == "between":
            low, high = _items(value)
            return f"({col} IS NOT NULL AND {col} BETWEEN {p(low)} AND {p(high)})"
        return f"({col} IS NOT NULL AND {col} {_SQL_CMP[op]} {p(value)})"

    def tags(spec: FieldSpec, c: Cond) -> str:
        if spec.name != "tags":
            raise _NoSQL
        base = "SELECT 1 FROM ticket_tags tt WHERE tt.ticket_id = t.id"
        op, value = c.op, c.value
        if op == "exists":
            return f"({'' if value else 'NOT '}EXISTS ({base}))"
        if op in ("is", "contains", "is_not"):
            found = f"EXISTS ({base} AND tt.tag = {bind(value)})"
            return f"(NOT {found})" if op == "is_not" else found
        marks = ", ".join(bind(v) for v in _items(value))
        found = f"EXISTS ({base} AND tt.tag IN ({marks}))"
        return f"(NOT {found})" if op == "not_in" else found

    def age(spec: FieldSpec, c: Cond) -> str:
        col = field_spec(spec.age_of or "").sql
        if col is None:
            raise _NoSQL
        op, value = c.op, c.value

        def at(hours: object) -> str:  # the instant when the age was ``hours``
            if not isinstance(hours, int | float):
                raise _NoSQL
            return bind(_tidy(reference - hours * 3600))

        if op == "exists":
            return f"({col} IS {'NOT ' if value else ''}NULL)"
        if op == "is":
            return f"({col} IS NOT NULL AND {col} = {at(value)})"
        if op == "is_not":
            return f"({col} IS NULL OR {col} <> {at(value)})"
        if op in ("in", "not_in"):
            marks = ", ".join(at(v) for v in _items(value))
            if op == "in":
                return f"({col} IS NOT NULL AND {col} IN ({marks}))"
            return f"({col} IS NULL OR {col} NOT IN ({marks}))"
        if op == "between":
            low, high = _items(value)
            return f"({col} IS NOT NULL AND {col} BETWEEN {at(high)} AND {at(low)})"
        flipped = {"gt": "<", "ge": "<=", "lt": ">", "le": ">="}[op]  # older = smaller epoch
        return f"({col} IS NOT NULL AND {col} {flipped} {at(value)})"

    def custom(spec: FieldSpec, c: Cond) -> str:
        if dialect != "sqlite":  # JSON typing is SQLite's here; the evaluator gives the same
            raise _NoSQL
        expr = spec.sql or ""
        jtype = f"COALESCE({expr.replace('json_extract(', 'json_type(', 1)}, 'null')"
        members = expr.replace("json_extract(", "json_each(", 1)

        def typed(v: object, type_of: str = jtype) -> str:
            if isinstance(v, bool):
                return f"{type_of} = '{'true' if v else 'false'}'"
            if _is_number(v):
                return f"{type_of} IN ('integer', 'real')"
            return f"{type_of} = 'text'"

        def member(v: object) -> str:  # a list value holds v
            found = typed(v, "j.type") + (
                "" if isinstance(v, bool) else f" AND j.value = {bind(v)}"
            )
            return f"({jtype} = 'array' AND EXISTS (SELECT 1 FROM {members} j WHERE {found}))"

        def equal(v: object) -> str:
            whole = typed(v) + ("" if isinstance(v, bool) else f" AND {expr} = {bind(v)}")
            return f"(({whole}) OR {member(v)})"

        def contains(v: object) -> str:
            if not isinstance(v, str):
                return member(v)
            like = f"({jtype} = 'text' AND LOWER({expr}) LIKE {bind(_like(v))} ESCAPE '\\')"
            return f"({like} OR {member(v)})"

        op, value = c.op, c.value
        if op == "exists":
            present = (
                f"({jtype} IN ('true', 'false', 'integer', 'real')"
                f" OR ({jtype} = 'text' AND {expr} <> '')"
                f" OR ({jtype} IN ('array', 'object') AND {expr} NOT IN ('[]', '{{}}')))"
            )
            return present if value else f"(NOT {present})"
        if op in ("is", "is_not", "in", "not_in"):
            test = "(" + " OR ".join(equal(v) for v in _items(value)) + ")"
            return test if op in ("is", "in") else f"(NOT {test})"
        if op in ("contains", "contains_any"):
            return "(" + " OR ".join(contains(v) for v in _items(value)) + ")"
        if op == "between":
            low, high = _items(value)
            return f"({typed(low)} AND {expr} BETWEEN {bind(low)} AND {bind(high)})"
        if op in _SQL_CMP:
            return f"({typed(value)} AND {expr} {_SQL_CMP[op]} {bind(value)})"
        raise _NoSQL

    try:
        return tree(node), params
    except _NoSQL:
        return None


_SQL_CMP: Final[dict[str, str]] = {"gt": ">", "lt": "<", "ge": ">=", "le": "<="}
