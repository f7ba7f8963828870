"""Stored facts against facts rebuilt from scratch, for the store tests and the differential."""

from __future__ import annotations

from typing import Any

from cstoolkit.store import Store
from cstoolkit.store.facts import _core
from cstoolkit.timeline import build
from cstoolkit.timeline.row import COLUMNS, to_row


def _where(instance: str | None) -> tuple[str, tuple[Any, ...]]:
    return ("", ()) if instance is None else (" WHERE t.instance = ?", (instance,))


def stored_rows(store: Store, instance: str | None = None) -> dict[str, tuple[Any, ...]]:
    cols = ", ".join(f"f.{c}" for c in COLUMNS)
    where, params = _where(instance)
    sql = f"SELECT {cols} FROM ticket_facts f JOIN tickets t ON t.id = f.ticket_id{where}"
    return {r[0]: tuple(r) for r in store.conn.execute(sql, params)}


def scratch_rows(store: Store, instance: str | None = None) -> dict[str, tuple[Any, ...]]:
    """Every ticket's facts row computed now from its stored ticket and all its events."""
    out = {}
    where, params = _where(instance)
    tickets = store.conn.execute(
        "SELECT t.id, t.instance, t.created_at, t.updated_at, t.status, t.solved_at, "
        f"t.requester_id, t.assignee_id FROM tickets t{where}",
        params,
    ).fetchall()
    for t in tickets:
        events = store.conn.execute(
            "SELECT id, ticket_id, kind, at, author_id, author_role, public, body, old, new, "
            "data FROM events WHERE ticket_id = ?",
            (t[0],),
        ).fetchall()
        out[t[0]] = to_row(build(_core(t), [tuple(e) for e in events]))
    return out


def assert_fresh(store: Store, instance: str | None = None) -> None:
    """The stored facts are exactly the facts a rebuild from scratch gives."""
    stored, scratch = stored_rows(store, instance), scratch_rows(store, instance)
    assert set(stored) == set(scratch)
    for tid, row in scratch.items():
        diff = [(c, a, b) for c, a, b in zip(COLUMNS, stored[tid], row, strict=True) if a != b]
        assert not diff, (tid, diff)
