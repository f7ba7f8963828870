"""The store's SQL and the per-ticket evaluator agree: generated conditions over every field the
store keeps, on generated tickets, on SQLite and on PostgreSQL.

The tickets are written through the store and read back, so both sides see the same values;
the SQL side is ``Store.select`` (which compiles what it can and tests the rest per ticket),
the other is :func:`cstoolkit.query.evaluate` on every ticket. Facts are generated as events,
kept by the store in ``ticket_facts`` and read there by the database, against facts the
timeline builds from the same events.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit import query as q
from cstoolkit.model import Priority, Status, Ticket
from cstoolkit.plugin import Page
from cstoolkit.store import Store, condition_sql
from cstoolkit.store.conditions import Age, Fact
from cstoolkit.triage import fields
from tests.conftest import StoreFactory
from tests.query.strategies import NOW, Generated, conditions, custom_fields, helpdesks
from tests.timeline.test_differential import HELPDESK, build_helpdesk
from tests.timeline.test_differential import NOW as FACTS_NOW
from tests.timeline.test_differential import people as timeline_people

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


@given(specs=HELPDESK, node=conditions(FACTS + STORED[:6], SQL_OPS))
def test_facts_the_database_reads_agree_with_the_timeline(
    store: Store, specs: list[tuple[Any, ...]], node: q.Node
) -> None:
    """Generated tickets with generated events, written through the store (which keeps their
    facts in ``ticket_facts``): the database's answer equals the per-ticket evaluation over
    facts built from the events by the timeline, and a condition over facts whose values are
    ASCII compiles whole."""
    inst = f"f{next(_instances)}"
    desk = build_helpdesk(inst, specs)
    store.upsert_page(inst, Page(
        tickets=[t for t, _, _ in desk],
        events=[e for _, evs, _ in desk for e in evs],
        people=timeline_people(inst),
    ))  # fmt: skip
    events = {t.id: evs for t, evs, _ in desk}
    sources = fields.Sources(now=FACTS_NOW, events=lambda tid: events[tid])
    context = q.Context(
        extras=lambda t, r, now: fields.Extras(sources, t, r), provides=q.STORE_NEEDS, where="t"
    )
    chosen = q.Selection(node, context)
    facts_in_sql = condition_sql.fact_columns(store)
    assert "reopens" in facts_in_sql
    _, _, keeps = condition_sql.split(
        chosen, now=FACTS_NOW, dialect=store.dialect, facts=facts_in_sql
    )
    # survey.score mixes numbers and text in one column: it is always tested per ticket
    mixed = "survey.score" in q.tree.fields_used(node)
    assert not keeps or not _ascii(node) or mixed, f"not compiled: {node}"
    got = {t.id for t, _ in store.select(chosen, instance=inst, at=FACTS_NOW)}
    want = {
        t.id
        for t, r in store.select(None, instance=inst, at=FACTS_NOW)
        if q.evaluate(node, q.Subject(t, r, FACTS_NOW, fields.Extras(sources, t, r)))
    }
    assert got == want, node


def test_facts_are_read_in_sql_only_when_every_ticket_has_current_ones(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The switch, the SLA columns (never offered: they hold for one configuration), and a
    ticket written around the store's write paths (no facts row: every fact is then computed
    per ticket, never read as missing)."""
    node = q.parse("reopens>0 status:open")
    sql, _ = q.to_sql(node, NOW, facts={"reopens"}) or ("", [])
    assert "(SELECT f.reopens FROM ticket_facts f WHERE f.ticket_id = t.id)" in sql
    assert q.to_sql(node, NOW) is None  # no facts offered: per ticket
    columns = condition_sql.fact_columns(store)
    assert {"reopens", "agent_replies", "survey_csat", "last_public_reply"} <= columns
    assert not any(c.startswith("sla_") or c.endswith("_log") for c in columns)
    monkeypatch.setattr(condition_sql, "FACTS_IN_SQL", False)
    assert condition_sql.fact_columns(store) == frozenset()
    monkeypatch.setattr(condition_sql, "FACTS_IN_SQL", True)
    inst = f"f{next(_instances)}"
    ((ticket, _evs, _),) = build_helpdesk(
        inst, [(0, Status.OPEN, None, None, Priority.NORMAL, [], 0)]
    )
    store.upsert_page(inst, Page(tickets=[ticket], people=timeline_people(inst)))
    with store.transaction() as cur:  # what a tool writing around the store leaves
        cur.execute("DELETE FROM ticket_facts WHERE ticket_id = ?", (ticket.id,))
    assert condition_sql.fact_columns(store) == frozenset()
    sources = fields.Sources(now=NOW)
    context = q.Context(
        extras=lambda t, r, now: fields.Extras(sources, t, r), provides=q.STORE_NEEDS, where="t"
    )
    chosen = q.Selection(q.parse("reopens<1"), context)
    assert {t.id for t, _ in store.select(chosen, instance=inst, at=NOW)} == {ticket.id}


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
