"""The queue of planned changes (the one write path), as the push engine uses it.

A planned change is ``pending`` until a pusher claims it. A claim is atomic and exclusive: the
rows a pusher takes are marked ``claimed`` by it, with a lease (``claim_expires``), in one
statement (SQLite: ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``; PostgreSQL:
``SELECT ... FOR UPDATE SKIP LOCKED`` and the ``UPDATE`` in one transaction that does not take
the store-wide write lock, so two pushers claim disjoint rows side by side). Then, per row:

* :func:`begin_send` is the fencing check just before the backend is called: it succeeds only
  while the row is still claimed by this pusher, stamps ``sending_at`` and extends the lease;
* :func:`finish` records the outcome and its audit log entry in one transaction.

A pusher that dies leaves ``claimed`` rows. Once their lease expired, :func:`recover_expired`
settles them: a row never sent (no ``sending_at``) is ``pending`` again; a row whose send had
begun has an unknown outcome: field changes are pushed again (setting a field twice changes
nothing more; the conflict check still applies), but a change that posts a comment becomes
``in_doubt``, reported and never posted blindly twice (``cst sync push --resend-in-doubt``
queues it again on purpose).

This module speaks rows and JSON; :mod:`cstoolkit.push` turns them into the plugin API's types.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.model import Ticket, now
from cstoolkit.store import audit, facts
from cstoolkit.store.codec import dumps, from_epoch, to_epoch

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

PENDING = "pending"
CLAIMED = "claimed"
APPLIED = "applied"
UNCHANGED = "unchanged"
CONFLICT = "conflict"
FAILED = "failed"
REFUSED = "refused"
IN_DOUBT = "in_doubt"
#: States a pusher claims.
RETRYABLE = (PENDING, FAILED)

_COLUMNS = (
    "id, run_id, source, ticket_id, instance, changes, old_values, expected_updated_at, state, "
    "attempts, reason, created_at, updated_at, ledger_key, claimed_by, claim_expires, sending_at"
)


@dataclass
class NewChange:
    """A change to store: ``changes`` is the JSON form of the plugin API's ``Changes``."""

    ticket_id: str
    instance: str
    source: str
    changes: dict[str, Any]
    old_values: dict[str, Any]
    expected_updated_at: datetime | None = None
    ledger_key: str | None = None


@dataclass
class Row:
    id: int
    run_id: str
    source: str
    ticket_id: str
    instance: str
    changes: dict[str, Any]
    old_values: dict[str, Any]
    expected_updated_at: datetime | None
    state: str
    attempts: int
    reason: str | None
    created_at: datetime
    updated_at: datetime
    ledger_key: str | None
    claimed_by: str | None = None
    claim_expires: datetime | None = None
    sending_at: datetime | None = None


def _row(r: Sequence[Any]) -> Row:
    created, updated = from_epoch(r[11]), from_epoch(r[12])
    assert created is not None and updated is not None
    return Row(
        id=int(r[0]), run_id=r[1], source=r[2], ticket_id=r[3], instance=r[4],
        changes=json.loads(r[5]), old_values=json.loads(r[6]),
        expected_updated_at=from_epoch(r[7]), state=r[8], attempts=int(r[9]), reason=r[10],
        created_at=created, updated_at=updated, ledger_key=r[13], claimed_by=r[14],
        claim_expires=from_epoch(r[15]), sending_at=from_epoch(r[16]),
    )  # fmt: skip


def _stamp() -> int:
    return to_epoch(now()) or 0


# -- planning and reading --------------------------------------------------------------------


def insert(store: Store, run_id: str, changes: Iterable[NewChange]) -> list[int]:
    """Store changes as ``pending`` in one transaction; return their ids (from RETURNING, so
    they are this call's rows whatever other hosts insert at the same moment)."""
    stamp = _stamp()
    ids: list[int] = []
    with store.transaction() as cur:
        for c in changes:
            row = cur.execute(
                "INSERT INTO planned_changes (run_id, source, ticket_id, instance, changes, "
                "old_values, expected_updated_at, ledger_key, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (run_id, c.source, c.ticket_id, c.instance, dumps(c.changes),
                 dumps(c.old_values), to_epoch(c.expected_updated_at), c.ledger_key, PENDING,
                 stamp, stamp),
            ).fetchone()  # fmt: skip
            ids.append(int(row[0]))
    return ids


def _filters(
    states: Iterable[str] | None, run_id: str | None, instances: Iterable[str] | None
) -> tuple[str, list[Any]]:
    sql = "1 = 1"
    params: list[Any] = []
    for column, wanted in (("state", states), ("instance", instances)):
        if wanted is not None:
            chosen = list(wanted)
            sql += f" AND {column} IN ({','.join('?' * len(chosen)) or 'NULL'})"
            params.extend(chosen)
    if run_id is not None:
        sql += " AND run_id = ?"
        params.append(run_id)
    return sql, params


def select(
    store: Store,
    *,
    states: Iterable[str] | None = None,
    run_id: str | None = None,
    instances: Iterable[str] | None = None,
    ids: Iterable[int] | None = None,
) -> list[Row]:
    where, params = _filters(states, run_id, instances)
    if ids is not None:
        chosen = list(ids)
        where += f" AND id IN ({','.join('?' * len(chosen)) or 'NULL'})"
        params.extend(chosen)
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM planned_changes WHERE {where} ORDER BY id", params
    ).fetchall()
    return [_row(r) for r in rows]


def counts_by_instance(store: Store, states: Sequence[str]) -> dict[str, dict[str, int]]:
    """{instance: {state: count}} for the given states."""
    out: dict[str, dict[str, int]] = {}
    for inst, state, n in store.conn.execute(
        "SELECT instance, state, COUNT(*) FROM planned_changes "
        f"WHERE state IN ({','.join('?' * len(states))}) GROUP BY instance, state",
        tuple(states),
    ).fetchall():
        out.setdefault(inst, {})[state] = int(n)
    return out


# -- claiming ----------------------------------------------------------------------------------


def claim(
    store: Store,
    claimer: str,
    lease: int,
    *,
    limit: int = 20,
    run_id: str | None = None,
    instances: Iterable[str] | None = None,
    after_id: int = 0,
) -> list[Row]:
    """Atomically take up to ``limit`` pushable rows (``pending``/``failed``, by id, above
    ``after_id``) for ``claimer``; rows another pusher holds are skipped, never shared."""
    stamp = _stamp()
    where, params = _filters(RETRYABLE, run_id, instances)
    where += " AND id > ?"
    params.append(int(after_id))
    sets = "state = ?, claimed_by = ?, claim_expires = ?, sending_at = NULL"
    set_params = [CLAIMED, claimer, stamp + lease]
    with store.transaction(shared=True) as cur:
        if store.dialect == "postgresql":
            ids = [
                int(r[0])
                for r in cur.execute(
                    f"SELECT id FROM planned_changes WHERE {where} ORDER BY id LIMIT ? "
                    "FOR UPDATE SKIP LOCKED",
                    [*params, int(limit)],
                ).fetchall()
            ]
            if not ids:
                return []
            rows = cur.execute(
                f"UPDATE planned_changes SET {sets} "
                f"WHERE id IN ({','.join('?' * len(ids))}) RETURNING {_COLUMNS}",
                [*set_params, *ids],
            ).fetchall()
        else:
            rows = cur.execute(
                f"UPDATE planned_changes SET {sets} WHERE id IN (SELECT id FROM planned_changes "
                f"WHERE {where} ORDER BY id LIMIT ?) RETURNING {_COLUMNS}",
                [*set_params, *params, int(limit)],
            ).fetchall()
    return sorted((_row(r) for r in rows), key=lambda r: r.id)


def renew(store: Store, claimer: str, lease: int) -> int:
    """Extend the lease of every row ``claimer`` holds; return how many."""
    with store.transaction() as cur:
        cur.execute(
            "UPDATE planned_changes SET claim_expires = ? WHERE claimed_by = ? AND state = ?",
            (_stamp() + lease, claimer, CLAIMED),
        )
        return int(cur.rowcount)


def begin_send(store: Store, row_id: int, claimer: str, lease: int) -> bool:
    """The fencing check right before the backend is called: True (``sending_at`` stamped, the
    lease a full ``lease`` from now) only while ``claimer`` still holds the row."""
    stamp = _stamp()
    with store.transaction() as cur:
        cur.execute(
            "UPDATE planned_changes SET sending_at = ?, claim_expires = ? "
            "WHERE id = ? AND claimed_by = ? AND state = ?",
            (stamp, stamp + lease, row_id, claimer, CLAIMED),
        )
        return cur.rowcount == 1


def unclaim(store: Store, claimer: str, ids: Iterable[int]) -> int:
    """Give rows back (``pending``) that ``claimer`` claimed but never began to send."""
    chosen = list(ids)
    if not chosen:
        return 0
    with store.transaction() as cur:
        cur.execute(
            "UPDATE planned_changes SET state = ?, claimed_by = NULL, claim_expires = NULL "
            f"WHERE claimed_by = ? AND state = ? AND sending_at IS NULL "
            f"AND id IN ({','.join('?' * len(chosen))})",
            [PENDING, claimer, CLAIMED, *chosen],
        )
        return int(cur.rowcount)


def recover_expired(store: Store) -> list[Row]:
    """Settle the rows of pushers whose claim lease expired (see the module's docstring);
    return the rows that became ``in_doubt``."""
    stamp = _stamp()
    doubtful: list[Row] = []
    expired = store.conn.execute(
        f"SELECT {_COLUMNS} FROM planned_changes WHERE state = ? AND claim_expires <= ?",
        (CLAIMED, stamp),
    ).fetchall()
    for row in map(_row, expired):
        reason: str | None
        if row.sending_at is not None and row.changes.get("comments"):
            state = IN_DOUBT
            reason = (
                f"the pusher {str(row.claimed_by)[:8]} stopped while sending: whether the "
                "comment was posted is unknown (never posted blindly twice; check the ticket, "
                "then: cst sync push --resend-in-doubt)"
            )
        else:
            state, reason = PENDING, row.reason
        with store.transaction() as cur:
            cur.execute(
                "UPDATE planned_changes SET state = ?, reason = ?, claimed_by = NULL, "
                "claim_expires = NULL, updated_at = ? "
                "WHERE id = ? AND state = ? AND claimed_by = ? AND claim_expires <= ?",
                (state, reason, stamp, row.id, CLAIMED, row.claimed_by, stamp),
            )
            if cur.rowcount == 1 and state == IN_DOUBT:
                row.state, row.reason = state, reason
                details = {"planned_change": row.id, "run_id": row.run_id, "reason": reason}
                audit.write(cur, "cst", "push.in_doubt", row.ticket_id, details)
                doubtful.append(row)
    return doubtful


def resend_in_doubt(store: Store, instances: Iterable[str] | None = None) -> int:
    """Queue ``in_doubt`` changes again, on an operator's word; return how many."""
    where, params = _filters((IN_DOUBT,), None, instances)
    with store.transaction() as cur:
        cur.execute(
            f"UPDATE planned_changes SET state = ?, sending_at = NULL WHERE {where}",
            [PENDING, *params],
        )
        return int(cur.rowcount)


# -- outcomes ----------------------------------------------------------------------------------


def finish(
    store: Store,
    row: Row,
    state: str,
    reason: str | None,
    *,
    actor: str,
    details: dict[str, Any],
    ticket: Ticket | None = None,
) -> None:
    """Record a pushed row's outcome, its audit log entry and (``ticket``: what the push
    changed) the stored ticket, in one transaction."""
    stamp = now()
    with store.transaction() as cur:
        cur.execute(
            "UPDATE planned_changes SET state = ?, reason = ?, attempts = ?, updated_at = ?, "
            "claimed_by = NULL, claim_expires = NULL WHERE id = ?",
            (state, reason, row.attempts, to_epoch(stamp), row.id),
        )
        audit.write(cur, actor, f"push.{state}", row.ticket_id, details, at=stamp)
        if ticket is not None:
            _reflect(cur, ticket)


def _reflect(cur: Any, ticket: Ticket) -> None:
    """Write the fields a push changed into the stored ticket, so the next plan starts from
    them (its payload hash is cleared: the next pull rewrites it whole)."""
    cur.execute(
        "UPDATE tickets SET status = ?, priority = ?, assignee_id = ?, group_id = ?, tags = ?, "
        "custom_fields = ?, updated_at = ?, solved_at = ?, payload_hash = '' WHERE id = ?",
        (str(ticket.status), str(ticket.priority), ticket.assignee_id, ticket.group_id,
         dumps(ticket.tags), dumps(ticket.custom_fields), to_epoch(ticket.updated_at),
         to_epoch(ticket.solved_at), ticket.id),
    )  # fmt: skip
    cur.execute("DELETE FROM ticket_tags WHERE ticket_id = ?", (ticket.id,))
    cur.executemany(
        "INSERT INTO ticket_tags (ticket_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(ticket.id, t) for t in ticket.tags],
    )
    facts.refresh(cur, [ticket.id])  # status, solve time and assignee feed the facts
