"""Conditions and the store: a tree lowered to the store's tests (each field by its store-neutral
source), and split into the parts the database filters and the parts tested per ticket.

The store compiles (:mod:`cstoolkit.store.condition_sql`); this module never writes SQL. A
command hands the store a :class:`Selection`: the condition with the :class:`Context` its
per-ticket parts need (the ticket's facts, and which needs those cover). A field whose need the
context lacks is refused with one line naming where it works, never silently unmatched.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cstoolkit.model import Person, Ticket
from cstoolkit.model import now as utcnow
from cstoolkit.query import tree
from cstoolkit.query.evaluator import evaluate
from cstoolkit.query.registry import Subject, field_spec, require
from cstoolkit.query.tree import All, Any, Cond, Node, Not, fields_used, leaves
from cstoolkit.store.condition_sql import NotCompilable, compile_where
from cstoolkit.store.conditions import And, Negate, Or, Part, Test, Where

Extras = Callable[[Ticket, Person | None, datetime], Mapping[str, object]]


def lower(node: Node) -> Where:
    """``node`` as the store's tree: each leaf with its field's source, kind and ranks."""
    if isinstance(node, Cond):
        spec = field_spec(node.field)
        ranks = spec.values if spec.kind == "enum" and spec.ordered else None
        return Test(spec.source, spec.kind, node.op, node.value, ranks)
    if isinstance(node, All):
        return And(tuple(lower(c) for c in node.children))
    if isinstance(node, Any):
        return Or(tuple(lower(c) for c in node.children))
    if isinstance(node, Not):
        return Negate(lower(node.child))
    raise TypeError(f"not a condition node: {node!r}")


def to_sql(
    node: Node,
    now: datetime | None = None,
    *,
    dialect: str = "sqlite",
    facts: Collection[str] = (),
) -> tuple[str, list[object]] | None:
    """A ``WHERE`` fragment with ``?`` placeholders and its parameters, or ``None`` when some
    part of ``node`` cannot be tested in SQL (regexes, change tests, values computed per
    ticket). The store compiles it (:func:`cstoolkit.store.condition_sql.compile_where`).

    The fragment reads ``tickets t`` and the requester ``people r`` (the caller joins
    ``LEFT JOIN people r ON r.id = t.requester_id``). ``now`` (default: the current time) is
    the reference for ``hours_since_*``; ``facts`` names the per-ticket fact columns the store
    holds. Every leaf is true or false, never NULL, so ``NOT`` agrees with :func:`evaluate`.
    """
    try:
        return compile_where(lower(node), now=now or utcnow(), dialect=dialect, facts=facts)
    except NotCompilable:
        return None


def per_ticket_fields(
    node: Node, now: datetime | None = None, *, dialect: str = "sqlite", facts: Collection[str] = ()
) -> list[str]:
    """The fields of the leaves of ``node`` the store cannot test in SQL (in order, once)."""
    names: list[str] = []
    for leaf in leaves(node):
        if to_sql(leaf, now, dialect=dialect, facts=facts) is None and leaf.field not in names:
            names.append(leaf.field)
    return names


@dataclass(frozen=True)
class Context:
    """What per-ticket evaluation has beyond a ticket and its requester.

    ``extras(ticket, requester, now)`` returns the ticket's facts (``Subject.extras``);
    ``provides`` names the needs they cover (:data:`cstoolkit.query.registry.NEEDS`); ``where``
    names the command or key in refusals (``tickets list --query``).
    """

    extras: Extras | None = None
    provides: frozenset[str] = frozenset()
    where: str = "this condition"


@dataclass(frozen=True)
class Selection:
    """A condition and the context of its per-ticket parts: what a command hands to
    :meth:`Store.select` (a bare node works too, for conditions that need no facts)."""

    node: Node
    context: Context = field(default_factory=Context)

    def store_parts(self, now: datetime) -> Sequence[Part]:
        return store_parts(self.node, now, self.context)

    def check(self) -> None:
        """Refuse up front what ``context`` cannot evaluate (whatever SQL could)."""
        require(fields_used(self.node), self.context.provides, self.context.where)


def store_parts(node: Node, now: datetime, context: Context | None = None) -> list[Part]:
    """The top-level parts of ``node`` (all must hold), lowered and testable per ticket."""
    ctx = context or Context()
    conjuncts = node.children if isinstance(node, All) and node.children else (node,)
    return [Part(lower(c), _keeper(c, now, ctx)) for c in conjuncts]


def _keeper(
    node: Node, now: datetime, ctx: Context
) -> Callable[[], Callable[[Ticket, Person | None], bool]]:
    def keep() -> Callable[[Ticket, Person | None], bool]:
        require(fields_used(node), ctx.provides, ctx.where)
        extras = ctx.extras

        def test(ticket: Ticket, requester: Person | None) -> bool:
            facts = extras(ticket, requester, now) if extras is not None else {}
            # the triage engine's facts are a dict computing each value on first use
            mapping = facts if isinstance(facts, dict) else dict(facts)
            return evaluate(node, Subject(ticket, requester, now, mapping))

        return test

    return keep


tree.store_parts_of = store_parts
