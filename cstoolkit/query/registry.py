"""The one field registry: every field a condition can test, declared once.

A field (:class:`FieldSpec`) has a name, a kind (how it compares), a unit, a documentation
line, how to read it from a ticket and its facts (``getter``, per-ticket evaluation), what that
reading needs beyond the ticket (``needs``: its history, the SLA policies, a recipe's
calendar...), and a store-neutral description of where the store keeps it (``source``: a
ticket column, a requester column, the tags, a JSON path, a per-ticket fact, the age of one of
them, or ``None`` when it is only computed per ticket). Only :mod:`cstoolkit.store` turns a
source into SQL.

The core fields are declared in :mod:`cstoolkit.query.catalog`; plugins add theirs with
:func:`register_field` or :func:`register_namespace`.
"""

from __future__ import annotations

import difflib
import functools
import re
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from cstoolkit.errors import QueryError
from cstoolkit.model import Person, Ticket
from cstoolkit.query.grammar import KINDS
from cstoolkit.store.conditions import Age, Column, Fact, JsonPath, LegacySql, Source

# -- what a condition is evaluated against ----------------------------------------------------


@dataclass(slots=True)
class Subject:
    """A ticket as conditions see it.

    ``now`` is the reference time for ``hours_since_*`` fields; ``extras`` holds extension
    fields by their full name (``{"sla.breached": True}``): the ticket's facts, computed by the
    caller (the triage engine computes them lazily from the ticket's events); ``previous`` holds
    what :func:`snapshot` returned for this ticket on the recipe's last run (``None``: never
    seen, and then no ``changed*`` condition is true).
    """

    ticket: Ticket
    requester: Person | None
    now: datetime
    extras: dict[str, object] = field(default_factory=dict)
    previous: dict[str, object] | None = None


Getter = Callable[[Subject], object]

# -- what reading a field per ticket needs -----------------------------------------------------

#: Each need: what it is, and where conditions have it. A command that lacks one refuses a
#: field needing it with both (:func:`require`), rather than matching nothing.
NEEDS: Final[dict[str, tuple[str, str]]] = {
    "facts": (
        "the ticket's history",
        "recipe conditions and every --query (tickets list, report kpi, sync mirror, "
        "triage run, triage backtest)",
    ),
    "sla": (
        "the SLA policies and the ticket's history",
        "recipe conditions and every --query (tickets list, report kpi, sync mirror, "
        "triage run, triage backtest)",
    ),
    "groups": (
        "the names of the groups",
        "recipe conditions and every --query (tickets list, report kpi, sync mirror, "
        "triage run, triage backtest)",
    ),
    "roster": (
        "the roster",
        "recipe conditions and every --query (tickets list, report kpi, sync mirror, "
        "triage run, triage backtest) when a roster is configured",
    ),
    "calendar": (
        "a recipe's calendar",
        "the conditions of a recipe with `calendar:` and the --query of triage run or "
        "triage backtest with one such recipe",
    ),
    "model": (
        "the routing model (cst model train)",
        "recipe conditions, the --query of triage run and triage backtest (missing without "
        "a model: no floor is met and the rules decide)",
    ),
}
#: What every command that evaluates conditions per ticket with the store's data supplies.
STORE_NEEDS: Final = frozenset({"facts", "sla", "groups", "roster"})

# -- fields ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field conditions can test.

    ``getter`` reads the value from a :class:`Subject`. ``values`` lists an enum's values (in
    rank order when ``ordered``). ``unit`` is what a number counts (``hours`` also lets it be
    written as an age, ``7d``). ``age_of`` names the datetime field whose age in hours this
    field is. ``source`` says where the store keeps the value (``None``: computed per ticket
    only); ``needs`` what reading it per ticket needs (:data:`NEEDS`). ``sql`` is the
    deprecated SQL expression of API 1.0 (kept as ``source``, :class:`LegacySql`).
    """

    name: str
    kind: str
    getter: Getter
    sql: str | None = None
    values: tuple[str, ...] | None = None
    ordered: bool = False
    unit: str | None = None
    age_of: str | None = None
    doc: str = ""
    source: Source | None = None
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Namespace:
    kind: str
    doc: str


def ticket_attr(attr: str) -> Getter:
    def get(subject: Subject) -> object:
        return getattr(subject.ticket, attr)

    return get


def requester_attr(attr: str) -> Getter:
    def get(subject: Subject) -> object:
        return getattr(subject.requester, attr) if subject.requester is not None else None

    return get


def age_hours(attr: str) -> Getter:
    def get(subject: Subject) -> object:
        when = getattr(subject.ticket, attr)
        if when is None:
            return None
        return (subject.now - when).total_seconds() / 3600

    return get


def extra(name: str) -> Getter:
    def get(subject: Subject) -> object:
        return subject.extras.get(name)

    return get


def json_value(column: str, keys: tuple[str, ...]) -> Getter:
    attr = {"custom_fields": "custom_fields", "raw": "raw"}[column]

    def get(subject: Subject) -> object:
        value: object = getattr(subject.ticket, attr)
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get


#: Every named field. Add to it with :func:`register_field`; the core fields are declared in
#: :mod:`cstoolkit.query.catalog`.
FIELDS: dict[str, FieldSpec] = {}

#: Families of extension fields read from ``Subject.extras`` by full name. A family some of
#: whose fields are declared (``sla.``, ``survey.``) takes only those names.
NAMESPACES: dict[str, Namespace] = {}

#: Plain aliases.
ALIASES: dict[str, str] = {"tag": "tags"}

#: Time aliases: with an age (``7d``) they mean the age field, with a date the datetime field.
TIME_ALIASES: dict[str, tuple[str, str]] = {
    "created": ("created_at", "hours_since_created"),
    "updated": ("updated_at", "hours_since_updated"),
    "solved": ("solved_at", "hours_since_solved"),
}

FIELD_NAME: Final = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*")
CUSTOM_KEY: Final = re.compile(r"[\w-]+")
UNITS: Final = (None, "hours", "days")


def register_field(
    name: str,
    kind: str,
    getter: Getter | None = None,
    *,
    sql: str | None = None,
    values: Sequence[str] | None = None,
    ordered: bool = False,
    unit: str | None = None,
    age_of: str | None = None,
    doc: str = "",
    replace: bool = False,
    source: Source | None = None,
    needs: Iterable[str] = (),
) -> FieldSpec:
    """Add a field. Without ``getter`` it reads ``Subject.extras[name]``.

    ``source`` describes where the store keeps the value (:mod:`cstoolkit.store.conditions`);
    without one the field is tested per ticket. ``sql`` (an SQL expression over ``t`` and
    ``r``) is accepted for plugins written against API 1.0 and deprecated: pass ``source``.

    .. deprecated:: 1.1
       ``sql=``; it goes away in API 2.0.
    Raises ``ValueError`` (a programming error, not a user error) for a bad definition or a
    name already registered (unless ``replace``).
    """
    if not FIELD_NAME.fullmatch(name) or name.startswith("custom."):
        raise ValueError(f"bad field name {name!r} (lower-case words joined by dots)")
    if kind not in KINDS:
        raise ValueError(f"unknown field kind {kind!r} (one of {', '.join(KINDS)})")
    if name in FIELDS and not replace:
        raise ValueError(f"field {name!r} is already registered")
    if kind == "enum" and not values:
        raise ValueError(f"enum field {name!r} needs its values")
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r} (hours or days)")
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"unknown needs {sorted(unknown)} (of {', '.join(NEEDS)})")
    if sql is not None:
        warnings.warn(
            f"register_field({name!r}, sql=...) is deprecated since plugin API 1.1 and goes "
            "away in 2.0: describe where the store keeps the value with source= "
            "(docs/plugins/compatibility.md)",
            DeprecationWarning,
            stacklevel=2,
        )
        if source is None:
            source = LegacySql(sql)
    if source is None and age_of is not None and age_of in FIELDS:
        of = FIELDS[age_of].source
        if isinstance(of, Column | Fact):
            source = Age(of)
    spec = FieldSpec(
        name=name,
        kind=kind,
        getter=getter or extra(name),
        sql=sql,
        values=tuple(v.lower() for v in values) if values else None,
        ordered=ordered,
        unit=unit,
        age_of=age_of,
        doc=doc,
        source=source,
        needs=frozenset(needs),
    )
    FIELDS[name] = spec
    return spec


def register_namespace(prefix: str, kind: str = "any", doc: str = "") -> None:
    """Let every field named ``prefix<name>`` read ``Subject.extras`` (e.g. ``"ai."``)."""
    if not prefix.endswith(".") or not FIELD_NAME.fullmatch(prefix[:-1]):
        raise ValueError(f"bad namespace prefix {prefix!r} (e.g. 'sla.')")
    if kind not in KINDS:
        raise ValueError(f"unknown field kind {kind!r}")
    NAMESPACES[prefix] = Namespace(kind, doc)


def known_names() -> list[str]:
    return [*FIELDS, *ALIASES, *TIME_ALIASES]


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def field_spec(name: str) -> FieldSpec:
    """The spec of a canonical field name (``custom.*`` and namespaces included)."""
    spec = FIELDS.get(name)
    if spec is not None:
        return spec
    if name.startswith("custom."):
        return custom_spec(name[len("custom.") :])
    for prefix, namespace in NAMESPACES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            declared = [f for f in FIELDS if f.startswith(prefix)]
            if not declared:
                return extension_spec(name, namespace.kind)
            hint = did_you_mean(name, declared) or f" ({prefix}* fields: docs/query.md)"
            raise QueryError(f"unknown field '{name}'{hint}")
    hint = did_you_mean(name, known_names())
    if not hint:
        hint = " (fields are listed in docs/query.md; custom fields are custom.<name>)"
    raise QueryError(f"unknown field '{name}'{hint}")


@functools.lru_cache(maxsize=1024)
def custom_spec(key: str) -> FieldSpec:
    if not CUSTOM_KEY.fullmatch(key):
        raise QueryError(f"bad custom field name 'custom.{key}' (letters, digits, _ and -)")
    return FieldSpec(
        name=f"custom.{key}",
        kind="any",
        getter=json_value("custom_fields", (key,)),
        doc="a custom field",
        source=JsonPath("custom_fields", (key,)),
    )


@functools.lru_cache(maxsize=1024)
def extension_spec(name: str, kind: str) -> FieldSpec:
    return FieldSpec(name=name, kind=kind, getter=extra(name))


def fields_doc() -> list[tuple[str, str, str]]:
    """``(name, kind, description)`` for every field, then the field families."""
    rows = [(s.name, s.kind, s.doc) for s in FIELDS.values()]
    rows.append(("custom.<name>", "any", "a custom field of the ticket"))
    rows.extend((f"{p}<name>", ns.kind, ns.doc) for p, ns in NAMESPACES.items())
    return rows


def require(names: Iterable[str], provides: Collection[str], where: str) -> None:
    """Refuse, with one line naming where it works, a field whose per-ticket reading needs
    something ``where`` (a command or a config key) does not have."""
    for name in sorted(set(names)):
        spec = field_spec(name)
        missing = sorted(spec.needs - set(provides))
        if missing:
            what, works = NEEDS[missing[0]]
            raise QueryError(f"{where}: '{name}' needs {what}; it works in {works}")
