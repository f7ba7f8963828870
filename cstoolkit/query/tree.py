"""The tree every condition compiles to: :class:`All`, :class:`Any`, :class:`Not` and the leaf
:class:`Cond` (``field op value``), frozen so a tree can be shared and compared."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cstoolkit.store.conditions import Part

#: How a condition splits into parts for the store (:meth:`_Condition.store_parts`). Set by
#: :mod:`cstoolkit.query.storage` when the package is imported: lowering needs the whole
#: language, and this module stays at the bottom of it.
store_parts_of: Callable[[Node, datetime], Sequence[Part]] | None = None


class _Condition:
    """What every node is: a condition the store can take (``Store.select(node)``)."""

    __slots__ = ()

    def store_parts(self, now: datetime) -> Sequence[Part]:
        """The top-level parts of this condition as the store reads them
        (:class:`cstoolkit.store.conditions.Selectable`)."""
        if store_parts_of is None:  # pragma: no cover - importing cstoolkit.query sets it
            raise RuntimeError("cstoolkit.query.storage is not loaded")
        return store_parts_of(self, now)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class All(_Condition):
    """True when every child is (an empty ``All`` is true)."""

    children: tuple[Node, ...]

    def to_dict(self) -> dict[str, object]:
        return {"all": [c.to_dict() for c in self.children]}


@dataclass(frozen=True, slots=True)
class Any(_Condition):
    """True when at least one child is (an empty ``Any`` is false)."""

    children: tuple[Node, ...]

    def to_dict(self) -> dict[str, object]:
        return {"any": [c.to_dict() for c in self.children]}


@dataclass(frozen=True, slots=True)
class Not(_Condition):
    child: Node

    def to_dict(self) -> dict[str, object]:
        return {"not": self.child.to_dict()}


@dataclass(frozen=True, slots=True)
class Cond(_Condition):
    """One test: ``field op value``. Build validated ones with :func:`cond`."""

    field: str
    op: str
    value: object

    def to_dict(self) -> dict[str, object]:
        return {"field": self.field, "op": self.op, "value": plain(self.value)}


Node = All | Any | Not | Cond


def plain(value: object) -> object:
    """A condition value as YAML/JSON wants it (tuples as lists, datetimes as ISO strings)."""
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def leaves(node: Node) -> list[Cond]:
    """Every leaf of ``node``, left to right."""
    if isinstance(node, Cond):
        return [node]
    if isinstance(node, Not):
        return leaves(node.child)
    return [leaf for child in node.children for leaf in leaves(child)]


def fields_used(node: Node) -> frozenset[str]:
    """Every field ``node`` tests."""
    return frozenset(c.field for c in leaves(node))
