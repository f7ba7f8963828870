"""The condition language's SQL: a lowered condition (:mod:`cstoolkit.store.conditions`) as a
``WHERE`` fragment, for SQLite and for the PostgreSQL store.

The fragment reads ``tickets t`` and the requester ``people r`` (the caller joins
``LEFT JOIN people r ON r.id = t.requester_id``); tags and per-ticket facts are read by
correlated lookups on their primary keys (``ticket_tags``, ``ticket_facts``), so callers need
no other join. Every value is a ``?`` parameter; only column names and JSON keys the language
checked (letters, digits, ``_`` and ``-``) are written into the text.

Every test is true or false, never NULL, so ``NOT`` agrees with the per-ticket evaluation on
missing values. Case-insensitive tests compile only for ASCII values: SQLite's ``LOWER`` (and
PostgreSQL's under the store's ``"C"`` collation) folds ASCII letters only, so a value with
other letters is tested per ticket, where Python folds them all. What cannot be compiled
(``matches``, change tests, values computed per ticket, facts the store does not hold) raises
:class:`NotCompilable`; the caller then tests that part per ticket.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING, Final

from cstoolkit.store.conditions import (
    Age,
    And,
    Column,
    Fact,
    JsonPath,
    LegacySql,
    Negate,
    Requester,
    Selectable,
    Tags,
    Test,
    Where,
)

if TYPE_CHECKING:
    from cstoolkit.model import Person, Ticket
    from cstoolkit.store.base import Store

__all__ = [
    "DIALECTS",
    "FACTS_IN_SQL",
    "NotCompilable",
    "compilable",
    "compile_where",
    "fact_columns",
    "split",
]

DIALECTS: Final = ("sqlite", "postgresql")

#: Whether fields described as per-ticket facts are read from the ``ticket_facts`` table (off:
#: they are computed per ticket from the ticket's events, with the same results; a switch for
#: tests and for comparing the two).
FACTS_IN_SQL: bool = True

_CMP: Final[dict[str, str]] = {"gt": ">", "lt": "<", "ge": ">=", "le": "<="}
_CASE_INSENSITIVE: Final = frozenset({"text", "string"})
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_KEY = re.compile(r"[\w-]+")
_CHANGE: Final = frozenset({"changed", "changed_from", "changed_to"})


class NotCompilable(Exception):
    """Part of a condition cannot be expressed in SQL (it is tested per ticket instead)."""


def compile_where(
    where: Where,
    *,
    now: datetime,
    dialect: str = "sqlite",
    facts: Collection[str] = (),
) -> tuple[str, list[object]]:
    """``where`` as an SQL fragment with ``?`` placeholders and its parameters.

    ``now`` is the reference time of ages; ``facts`` names the ``ticket_facts`` columns the
    store holds (a :class:`Fact` outside it is not compilable). Raises :class:`NotCompilable`.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unsupported SQL dialect {dialect!r} (sqlite or postgresql)")
    compiler = _Compiler(dialect, _tidy(now.timestamp()), frozenset(facts))
    return compiler.tree(where), compiler.params


def compilable(
    where: Where, *, now: datetime, dialect: str = "sqlite", facts: Collection[str] = ()
) -> bool:
    try:
        compile_where(where, now=now, dialect=dialect, facts=facts)
    except NotCompilable:
        return False
    return True


def _tidy(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _items(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _ascii(values: tuple[object, ...]) -> bool:
    return all(not isinstance(v, str) or v.isascii() for v in values)


class _Compiler:
    def __init__(self, dialect: str, reference: int | float, facts: frozenset[str]) -> None:
        self.dialect = dialect
        self.reference = reference
        self.facts = facts
        self.params: list[object] = []

    def bind(self, value: object) -> str:
        if isinstance(value, datetime):
            value = _tidy(value.timestamp())
        self.params.append(value)
        return "?"

    def tree(self, w: Where) -> str:
        if isinstance(w, Test):
            return self.test(w)
        if isinstance(w, Negate):
            return f"NOT ({self.tree(w.part)})"
        if not w.parts:
            return "(1 = 1)" if isinstance(w, And) else "(1 = 0)"
        joiner = " AND " if isinstance(w, And) else " OR "
        return "(" + joiner.join(self.tree(part) for part in w.parts) + ")"

    # -- one test --------------------------------------------------------------------------

    def test(self, c: Test) -> str:
        if c.op in _CHANGE or c.op == "matches" or c.source is None:
            raise NotCompilable
        src = c.source
        if isinstance(src, Tags):
            return self.tags(c)
        if isinstance(src, JsonPath):
            return self.json(c, src)
        if isinstance(src, Age):
            return self.age(c, self.scalar(src.of))
        if c.kind == "any":
            if isinstance(src, Fact) and src.boolean:
                return self.boolean(c, self.scalar(src))
            raise NotCompilable  # typed values in a plain column: only JSON keeps their type
        return self.column(c, self.scalar(src))

    def scalar(self, src: object) -> str:
        if isinstance(src, Column) and _NAME.fullmatch(src.name):
            return f"t.{src.name}"
        if isinstance(src, Requester) and _NAME.fullmatch(src.name):
            return f"r.{src.name}"
        if isinstance(src, LegacySql):
            return src.text
        if isinstance(src, Fact) and _NAME.fullmatch(src.column):
            if not FACTS_IN_SQL or src.column not in self.facts:
                raise NotCompilable
            return f"(SELECT f.{src.column} FROM ticket_facts f WHERE f.ticket_id = t.id)"
        raise NotCompilable

    def column(self, c: Test, col: str) -> str:
        op, value = c.op, c.value
        folded = c.kind in _CASE_INSENSITIVE
        if (folded or op in ("contains", "contains_any")) and not _ascii(_items(value)):
            raise NotCompilable
        lhs = f"LOWER({col})" if folded else col

        def p(v: object) -> str:
            return self.bind(v.lower() if folded and isinstance(v, str) else v)

        if op == "exists":
            empty = f" OR {col} = ''" if c.kind in ("text", "string", "id", "enum") else ""
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
                f"LOWER({col}) LIKE {self.bind(_like(str(v)))} ESCAPE '\\'" for v in _items(value)
            )
            return f"({col} IS NOT NULL AND ({likes}))"
        if c.ranks is not None:
            ranked = [v for v in c.ranks if _rank_holds(c.ranks, op, v, value)]
            if not ranked:
                return "(1 = 0)"
            return f"({col} IS NOT NULL AND {col} IN ({', '.join(self.bind(v) for v in ranked)}))"
        if op == "between":
            low, high = _items(value)
            return f"({col} IS NOT NULL AND {col} BETWEEN {p(low)} AND {p(high)})"
        if op in _CMP:
            return f"({col} IS NOT NULL AND {col} {_CMP[op]} {p(value)})"
        raise NotCompilable

    def boolean(self, c: Test, col: str) -> str:
        """A fact stored as 0/1 that the language sees as true/false (kind any)."""

        def equal(v: object) -> str:
            return f"({col} = {1 if v else 0})" if isinstance(v, bool) else "(1 = 0)"

        op, value = c.op, c.value
        if op == "exists":
            return f"({col} IS {'NOT ' if value else ''}NULL)"
        if op in ("is", "is_not", "in", "not_in"):
            test = "(" + " OR ".join(equal(v) for v in _items(value)) + ")"
            return f"({col} IS NOT NULL AND {test})" if op in ("is", "in") else (
                f"({col} IS NULL OR NOT {test})"
            )  # fmt: skip
        return "(1 = 0)"  # contains, order: true/false neither contain nor order

    def tags(self, c: Test) -> str:
        base = "SELECT 1 FROM ticket_tags tt WHERE tt.ticket_id = t.id"
        op, value = c.op, c.value
        if op == "exists":
            return f"({'' if value else 'NOT '}EXISTS ({base}))"
        if op in ("is", "contains", "is_not"):
            found = f"EXISTS ({base} AND tt.tag = {self.bind(value)})"
            return f"(NOT {found})" if op == "is_not" else found
        if op in ("in", "contains_any", "not_in"):
            marks = ", ".join(self.bind(v) for v in _items(value))
            found = f"EXISTS ({base} AND tt.tag IN ({marks}))"
            return f"(NOT {found})" if op == "not_in" else found
        raise NotCompilable

    def age(self, c: Test, col: str) -> str:
        op, value = c.op, c.value

        def at(hours: object) -> str:  # the instant when the age was ``hours``
            if not _is_number(hours):
                raise NotCompilable
            return self.bind(_tidy(self.reference - hours * 3600))  # type: ignore[operator]

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
        if op in _CMP:
            flipped = {"gt": "<", "ge": "<=", "lt": ">", "le": ">="}[op]  # older = smaller epoch
            return f"({col} IS NOT NULL AND {col} {flipped} {at(value)})"
        raise NotCompilable

    # -- values inside JSON documents ------------------------------------------------------

    def json(self, c: Test, src: JsonPath) -> str:
        if not _NAME.fullmatch(src.column) or not all(_KEY.fullmatch(k) for k in src.keys):
            raise NotCompilable
        j = _SqliteJson(src) if self.dialect == "sqlite" else _PostgresJson(src)
        bind = self.bind

        def typed(v: object, member: bool = False) -> str:
            type_of = j.member_type if member else j.type
            if isinstance(v, bool):
                return j.is_bool(type_of, v, member)
            if _is_number(v):
                return j.is_number(type_of)
            return j.is_text(type_of)

        def member(v: object) -> str:  # a list value holds v
            found = typed(v, member=True)
            if not isinstance(v, bool):
                found += f" AND {j.member_value(v)} = {bind(v)}"
            return f"({j.is_array()} AND EXISTS (SELECT 1 FROM {j.members()} WHERE {found}))"

        def equal(v: object) -> str:
            whole = typed(v) + ("" if isinstance(v, bool) else f" AND {j.value(v)} = {bind(v)}")
            return f"(({whole}) OR {member(v)})"

        def contains(v: object) -> str:
            if not isinstance(v, str):
                return member(v)
            if not v.isascii():
                raise NotCompilable
            like = f"LOWER({j.value(v)}) LIKE {bind(_like(v))} ESCAPE '\\'"
            return f"(({j.is_text(j.type)} AND {like}) OR {member(v)})"

        op, value = c.op, c.value
        if op == "exists":
            present = j.present()
            return present if value else f"(NOT {present})"
        if op in ("is", "is_not", "in", "not_in"):
            test = "(" + " OR ".join(equal(v) for v in _items(value)) + ")"
            return test if op in ("is", "in") else f"(NOT {test})"
        if op in ("contains", "contains_any"):
            return "(" + " OR ".join(contains(v) for v in _items(value)) + ")"
        if op == "between":
            low, high = _items(value)
            return f"({typed(low)} AND {j.ordered(low)} BETWEEN {bind(low)} AND {bind(high)})"
        if op in _CMP:
            return f"({typed(value)} AND {j.ordered(value)} {_CMP[op]} {bind(value)})"
        raise NotCompilable


def _rank_holds(ranks: tuple[str, ...], op: str, actual: str, value: object) -> bool:
    """``actual op value`` by rank (an ordered enum)."""
    if op == "between":
        low, high = _items(value)
        if low not in ranks or high not in ranks:
            return False
        return ranks.index(str(low)) <= ranks.index(actual) <= ranks.index(str(high))
    if value not in ranks:
        return False
    a, b = ranks.index(actual), ranks.index(str(value))
    return {"gt": a > b, "lt": a < b, "ge": a >= b, "le": a <= b}.get(op, False)


class _SqliteJson:
    """SQLite's JSON functions: ``json_type`` tells null/true/false/integer/real/text/array."""

    member_type = "j.type"

    def __init__(self, src: JsonPath) -> None:
        path = "$" + "".join(f'."{k}"' for k in src.keys)
        self.expr = f"json_extract(t.{src.column}, '{path}')"
        self.type = f"COALESCE(json_type(t.{src.column}, '{path}'), 'null')"
        self._each = f"json_each(t.{src.column}, '{path}') j"

    def is_bool(self, type_of: str, v: bool, member: bool) -> str:
        return f"{type_of} = '{'true' if v else 'false'}'"

    def is_number(self, type_of: str) -> str:
        return f"{type_of} IN ('integer', 'real')"

    def is_text(self, type_of: str) -> str:
        return f"{type_of} = 'text'"

    def is_array(self) -> str:
        return f"{self.type} = 'array'"

    def members(self) -> str:
        return self._each

    def member_value(self, v: object) -> str:
        return "j.value"

    def value(self, v: object) -> str:
        return self.expr

    def ordered(self, v: object) -> str:
        return self.expr

    def present(self) -> str:
        t = self.type
        return (
            f"({t} IN ('true', 'false', 'integer', 'real')"
            f" OR ({t} = 'text' AND {self.expr} <> '')"
            f" OR ({t} IN ('array', 'object') AND {self.expr} NOT IN ('[]', '{{}}')))"
        )


class _PostgresJson:
    """PostgreSQL's jsonb: ``jsonb_typeof`` tells null/boolean/number/string/array/object.
    Texts are compared byte-wise (``COLLATE "C"``) as in SQLite and Python."""

    member_type = "jsonb_typeof(j.value)"

    def __init__(self, src: JsonPath) -> None:
        self.doc = f"(t.{src.column})::jsonb" + "".join(f" -> '{k}'" for k in src.keys)
        self.doc = f"({self.doc})"
        self.type = f"COALESCE(jsonb_typeof({self.doc}), 'null')"

    def is_bool(self, type_of: str, v: bool, member: bool) -> str:
        value = "j.value" if member else self.doc
        return f"({type_of} = 'boolean' AND {value} = '{'true' if v else 'false'}'::jsonb)"

    def is_number(self, type_of: str) -> str:
        return f"{type_of} = 'number'"

    def is_text(self, type_of: str) -> str:
        return f"{type_of} = 'string'"

    def is_array(self) -> str:
        return f"{self.type} = 'array'"

    def members(self) -> str:
        return (
            f"jsonb_array_elements(CASE WHEN {self.type} = 'array' THEN {self.doc} "
            "ELSE '[]'::jsonb END) j"
        )

    def member_value(self, v: object) -> str:
        return _pg_scalar("j.value", v)

    def value(self, v: object) -> str:
        return _pg_scalar(self.doc, v)

    def ordered(self, v: object) -> str:
        return _pg_scalar(self.doc, v)

    def present(self) -> str:
        t, doc = self.type, self.doc
        return (
            f"({t} IN ('boolean', 'number')"
            f" OR ({t} = 'string' AND ({doc} #>> '{{}}') <> '')"
            f" OR ({t} IN ('array', 'object') AND {doc} NOT IN ('[]'::jsonb, '{{}}'::jsonb)))"
        )


def _pg_scalar(doc: str, v: object) -> str:
    """A jsonb scalar as the SQL value ``v`` is compared with: a number or a text. Reading a
    number is guarded, so a text is never cast (``CASE``: PostgreSQL may evaluate the
    operands of AND in any order)."""
    if _is_number(v):
        return f"(CASE WHEN jsonb_typeof({doc}) = 'number' THEN ({doc} #>> '{{}}')::numeric END)"
    return f"(({doc} #>> '{{}}') COLLATE \"C\")"


# -- a condition handed to the store -----------------------------------------------------------


def split(
    query: Selectable,
    *,
    now: datetime,
    dialect: str,
    facts: Collection[str] = (),
) -> tuple[list[str], list[object], list[Callable[[Ticket, Person | None], bool]]]:
    """The SQL fragments (all must hold) and their parameters for the parts of ``query`` the
    store can compile, and the per-ticket tests of the others (checked up front: a part that
    cannot be evaluated here raises its one-line error before any row is read)."""
    fragments: list[str] = []
    params: list[object] = []
    keeps: list[Callable[[Ticket, Person | None], bool]] = []
    for part in query.store_parts(now):
        try:
            sql, values = compile_where(part.where, now=now, dialect=dialect, facts=facts)
        except NotCompilable:
            keeps.append(part.keep())
            continue
        fragments.append(f"({sql})")
        params.extend(values)
    return fragments, params, keeps


def fact_columns(store: Store) -> frozenset[str]:
    """The ``ticket_facts`` columns conditions may read in SQL: the timeline's scalar facts.

    None while :data:`FACTS_IN_SQL` is off, before migration 0010, or while some ticket has no
    facts row of the current version (a ticket written around the store's write paths): the
    facts are then computed per ticket, never read as missing. The SLA outcome columns are not
    offered: they hold for the configuration they were computed with (``cstoolkit.sla_facts``).
    """
    from cstoolkit.store import facts

    if not FACTS_IN_SQL or not store.has_table("ticket_facts") or not facts.all_current(store):
        return frozenset()
    return facts.SCALAR_COLUMNS
