"""The store's SQL and the per-ticket evaluator agree: generated conditions over every field the
store keeps, on generated tickets, on SQLite and on PostgreSQL.

The tickets are written through the store and read back, so both sides see the same values;
the SQL side is ``Store.select`` (which compiles what it can and tests the rest per ticket),
the other is :func:`cstoolkit.query.evaluate` on every ticket. The facts' side runs with the
store reading a ``ticket_facts`` table (the switch the lead turns on when that table lands).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit import query as q
from cstoolkit.model import Status, Ticket
from cstoolkit.plugin import Page
from cstoolkit.store import Store, condition_sql
from cstoolkit.store.conditions import Age, Fact
from tests.conftest import StoreFactory
from tests.query.strategies import NOW, Generated, conditions, custom_fields, helpdesks

SQL_OPS = frozenset(q.OPERATORS) - {"matches", "changed", "changed_from", "changed_to"}


def _reads_fact(spec: q.FieldSpec) -> bool:
    src = spec.source
    return isinstance(src, Fact) or (isinstance(src, Age) and isinstance(src.of, Fact))


#: Fields the store keeps in its own tables: ticket and requester columns, tags, ages, JSON.
STORED = sorted(n for n, s in q.FIELDS.items() if s.source is not None and not _reads_fact(s))
STORED += custom_fields()
#: Fields described as per-ticket facts (read from ticket_facts once the store holds it).
FACTS = sorted(n for n, s in q.FIELDS.items() if _reads_fact(s))
_instances = itertools.count()


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[Store]:
    s = store_factory()
    yield s
    s.close()


def _write(store: Store, desk: Generated) -> str:
    instance = desk.tickets[0].instance
    store.upsert_page(instance, Page(tickets=desk.tickets, people=list(desk.people.values())))
    return instance


def _expected(store: Store, desk: Generated, instance: str, node: q.Node) -> set[str]:
    """The per-ticket answer, on the tickets as the store gives them back."""
    return {
        t.id
        for t, r in store.select(None, instance=instance, at=NOW)
        if q.evaluate(node, q.Subject(t, r, NOW, dict(desk.extras[t.id])))
    }


def _selected(store: Store, node: q.Node | q.Selection, instance: str) -> set[str]:
    return {t.id for t, _ in store.select(node, instance=instance, at=NOW)}


@given(data=st.data(), node=conditions(STORED, SQL_OPS))
def test_sql_agrees_with_the_per_ticket_evaluator(
    store: Store, data: st.DataObject, node: q.Node
) -> None:
    """And a condition whose values are ASCII compiles whole: no part is left to Python."""
    desk = data.draw(helpdesks(instance=f"g{next(_instances)}"))
    instance = _write(store, desk)
    _, _, keeps = condition_sql.split(node, now=NOW, dialect=store.dialect)
    assert not keeps or not _ascii(node), f"not compiled: {node}"
    assert _selected(store, node, instance) == _expected(store, desk, instance, node)


def _ascii(node: q.Node) -> bool:
    return all(
        not isinstance(v, str) or v.isascii()
        for leaf in q.tree.leaves(node)
        for v in (leaf.value if isinstance(leaf.value, tuple) else (leaf.value,))
    )


# -- facts ---------------------------------------------------------------------------------------


def _facts_table(store: Store) -> None:
    """A ``ticket_facts`` table as the contract describes it (one row per ticket)."""
    columns = []
    for name in FACTS:
        spec = q.FIELDS[name]
        src = spec.source.of if isinstance(spec.source, Age) else spec.source
        assert isinstance(src, Fact)
        sql_type = "REAL" if spec.kind == "number" and not isinstance(spec.source, Age) else (
            "INTEGER" if src.boolean or spec.kind == "datetime" or isinstance(spec.source, Age)
            else "TEXT"
        )  # fmt: skip
        if f"{src.column} " not in " ".join(columns) + " ":
            columns.append(f"{src.column} {sql_type}")
    with store.transaction() as cur:
        cur.execute(
            store.ddl_for_dialect(
                "CREATE TABLE IF NOT EXISTS ticket_facts (ticket_id TEXT PRIMARY KEY, "
                + ", ".join(columns)
                + ")"
            )
        )
    store._tables = None  # the store lists its tables once


def _write_facts(store: Store, desk: Generated) -> None:
    with store.transaction() as cur:
        for t in desk.tickets:
            row = desk.facts[t.id]
            names = sorted(row)
            cur.execute(
                f"INSERT INTO ticket_facts (ticket_id, {', '.join(names)}) "
                f"VALUES (?, {', '.join('?' for _ in names)})",
                [t.id, *(row[n] for n in names)],
            )


@pytest.fixture
def facts_store(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setattr(condition_sql, "FACTS_IN_SQL", True)
    _facts_table(store)
    return store


@given(data=st.data(), node=conditions(FACTS + STORED[:6], SQL_OPS))
def test_facts_read_from_the_store_agree_with_the_per_ticket_facts(
    facts_store: Store, data: st.DataObject, node: q.Node
) -> None:
    desk = data.draw(helpdesks(instance=f"g{next(_instances)}"))
    instance = _write(facts_store, desk)
    _write_facts(facts_store, desk)

    def extras(ticket: Ticket, requester: object, now: object) -> dict[str, object]:
        return dict(desk.extras[ticket.id])

    context = q.Context(extras=extras, provides=q.STORE_NEEDS, where="test")
    chosen = q.Selection(node, context)
    assert _selected(facts_store, chosen, instance) == _expected(facts_store, desk, instance, node)


def test_facts_compile_only_when_the_switch_is_on_and_the_store_holds_them(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = q.parse("reopens>0 status:open")
    assert q.to_sql(node, NOW, facts={"reopens"}) is None  # the switch is off
    monkeypatch.setattr(condition_sql, "FACTS_IN_SQL", True)
    assert q.to_sql(node, NOW) is None  # the store has no such column
    sql, _ = q.to_sql(node, NOW, facts={"reopens"}) or ("", [])
    assert "(SELECT f.reopens FROM ticket_facts f WHERE f.ticket_id = t.id)" in sql
    assert condition_sql.fact_columns(store) == frozenset()  # no ticket_facts table
    _facts_table(store)
    assert "reopens" in condition_sql.fact_columns(store)


def test_letters_outside_ascii_match_whatever_their_case(store: Store) -> None:
    """SQLite's LOWER and LIKE fold ASCII letters only: such a value is compared per ticket,
    where every letter folds (before, ``subject:überweisung`` silently missed "Überweisung")."""
    desk = Generated([], {}, {}, {})
    ticket = Ticket(
        id="u:1", instance="u", external_id="1", subject="Überweisung fehlt", status=Status.OPEN,
        created_at=NOW, updated_at=NOW, requester_id=None, custom_fields={"city": "MÜNCHEN"},
    )  # fmt: skip
    desk.tickets.append(ticket)
    instance = _write(store, desk)
    for text in ("subject:überweisung", "subject~ÜBER", 'custom.city:"MÜNCHEN"'):
        assert _selected(store, q.parse(text), instance) == {"u:1"}, text
    assert _selected(store, q.parse("subject:uberweisung"), instance) == set()
