"""Conditions as the store reads them: where a field's value lives, and a tree of tests on it.

The condition language (:mod:`cstoolkit.query`) declares each field once, with a
*store-neutral* description of where its value is kept (one of the sources below, or ``None``
for a value computed per ticket in Python). To filter in the database it lowers a condition to
the tree of this module (:class:`Test`, :class:`And`, :class:`Or`, :class:`Negate`), which only
the store compiles to SQL (:mod:`cstoolkit.store.condition_sql`, both dialects). So no SQL
lives outside ``cstoolkit/store/``, and the store never imports the language (it is the layer
below).

A condition handed to :meth:`Store.select` is any object with a ``store_parts`` method
(:class:`Selectable`): the language's nodes have one. It returns the top-level parts of the
condition (all of which must hold), each with its lowered tree and a way to test it per ticket;
the store compiles the parts it can and tests the others on each row it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cstoolkit.model import Person, Ticket

__all__ = [
    "Age",
    "And",
    "Column",
    "Fact",
    "JsonPath",
    "LegacySql",
    "Negate",
    "Or",
    "Part",
    "Requester",
    "Selectable",
    "Source",
    "Tags",
    "Test",
    "Where",
]

# -- where a value lives ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the ticket's row (``status``, ``created_at``: instants are unix seconds)."""

    name: str


@dataclass(frozen=True, slots=True)
class Requester:
    """A column of the requester's row in people (``email``, ``domain``, ``organization``)."""

    name: str


@dataclass(frozen=True, slots=True)
class Tags:
    """The ticket's tags (one row per tag)."""


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A value inside a JSON document the ticket's row holds (``custom_fields``, ``raw``):
    ``keys`` is the path of object keys, outermost first."""

    column: str
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Fact:
    """A per-ticket fact (one row per ticket in ``ticket_facts``, the column named as the query
    field with dots replaced by underscores): INTEGER unix seconds for instants, 0/1 for
    booleans, numbers, TEXT otherwise. ``boolean``: the column holds a true/false value as 0/1
    (the language sees it as ``true``/``false``, kind ``any``)."""

    column: str
    boolean: bool = False


@dataclass(frozen=True, slots=True)
class Age:
    """Hours from the instant ``of`` holds to the reference time (``now``) of the query."""

    of: Column | Fact


@dataclass(frozen=True, slots=True)
class LegacySql:
    """An SQL expression given as ``register_field(sql=...)`` by a plugin written against API
    1.0 (deprecated): pasted as written, over the aliases ``t`` (tickets) and ``r`` (people)."""

    text: str


Source = Column | Requester | Tags | JsonPath | Fact | Age | LegacySql

# -- tests on values -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Test:
    """``source op value`` with the language's meaning for a field of ``kind``.

    ``value`` is already checked and normalised by the language (aware datetimes, numbers,
    texts; a tuple for the list operators). ``ranks`` lists an ordered enum's values, lowest
    first, so order tests compare ranks. ``source`` is ``None`` for a value computed per ticket
    (never compiled).
    """

    source: Source | None
    kind: str
    op: str
    value: object
    ranks: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Where, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Where, ...]


@dataclass(frozen=True, slots=True)
class Negate:
    part: Where


Where = Test | And | Or | Negate


@dataclass(frozen=True, slots=True)
class Part:
    """One top-level part of a condition: its lowered tree, and the per-ticket test of the same
    part (``keep()`` returns it; it raises a one-line error when per-ticket evaluation cannot be
    done here, e.g. a field that needs a recipe's calendar)."""

    where: Where
    keep: Callable[[], Callable[[Ticket, Person | None], bool]]


class Selectable(Protocol):
    """What :meth:`Store.select` accepts as a condition."""

    def store_parts(self, now: datetime) -> Sequence[Part]: ...
