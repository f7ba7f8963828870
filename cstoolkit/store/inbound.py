"""The inbound tables: received messages and their tickets, and what a poll could not take.

See migration 0015. The ledger (scope ``inbound``) decides that a message is taken once; these
rows say what it became, so a contact's next message finds their open ticket (by phone number,
or by the Message-IDs a mail answers) and a reply finds its channel and window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.model import now
from cstoolkit.store.codec import from_epoch, to_epoch

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

IN = "in"
OUT = "out"
_COLUMNS = "source, message_id, direction, channel, contact, ticket_id, at"


@dataclass(frozen=True)
class Row:
    source: str
    message_id: str
    direction: str
    channel: str
    contact: str
    ticket_id: str
    at: datetime


@dataclass(frozen=True)
class Problem:
    source: str
    ref: str
    reason: str
    seen_at: datetime


def _row(r: Sequence[Any]) -> Row:
    at = from_epoch(r[6])
    assert at is not None
    return Row(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), at)


def record(
    store: Store, source: str, message_id: str, direction: str, channel: str, contact: str,
    ticket_id: str, at: datetime,
) -> None:  # fmt: skip
    """Remember one message (idempotent: the first record of a message id stays)."""
    with store.transaction() as cur:
        cur.execute(
            f"INSERT INTO inbound_messages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source, message_id) DO NOTHING",
            (source, message_id, direction, channel, contact, ticket_id, to_epoch(at)),
        )


def latest_for_contact(store: Store, source: str, contact: str) -> Row | None:
    """The newest message from ``contact`` through ``source``."""
    row = store.conn.execute(
        f"SELECT {_COLUMNS} FROM inbound_messages WHERE source = ? AND contact = ? "
        "AND direction = ? ORDER BY at DESC, message_id DESC LIMIT 1",
        (source, contact, IN),
    ).fetchone()
    return _row(row) if row else None


def ticket_of_messages(store: Store, source: str, message_ids: Sequence[str]) -> str | None:
    """The ticket of the newest of ``message_ids`` known to ``source`` (either direction)."""
    ids = [m for m in message_ids if m][:100]
    if not ids:
        return None
    marks = ", ".join("?" for _ in ids)
    row = store.conn.execute(
        f"SELECT ticket_id FROM inbound_messages WHERE source = ? AND message_id IN ({marks}) "
        "ORDER BY at DESC LIMIT 1",
        (source, *ids),
    ).fetchone()
    return str(row[0]) if row else None


def last_inbound(store: Store, ticket_id: str) -> Row | None:
    """The customer's newest message on ``ticket_id`` (its channel, contact and time)."""
    row = store.conn.execute(
        f"SELECT {_COLUMNS} FROM inbound_messages WHERE ticket_id = ? AND direction = ? "
        "ORDER BY at DESC LIMIT 1",
        (ticket_id, IN),
    ).fetchone()
    return _row(row) if row else None


def first_inbound_at(store: Store, ticket_id: str) -> datetime | None:
    """When the customer first wrote on ``ticket_id`` through any source."""
    row = store.conn.execute(
        "SELECT MIN(at) FROM inbound_messages WHERE ticket_id = ? AND direction = ?",
        (ticket_id, IN),
    ).fetchone()
    return from_epoch(row[0]) if row and row[0] is not None else None


def tickets(store: Store, source: str) -> list[str]:
    """The tickets customers wrote on through ``source``."""
    rows = store.conn.execute(
        "SELECT DISTINCT ticket_id FROM inbound_messages WHERE source = ? AND direction = ? "
        "ORDER BY ticket_id",
        (source, IN),
    ).fetchall()
    return [str(r[0]) for r in rows]


def counts(store: Store) -> dict[str, dict[str, int]]:
    """Messages by source and direction."""
    out: dict[str, dict[str, int]] = {}
    for source, direction, n in store.conn.execute(
        "SELECT source, direction, COUNT(*) FROM inbound_messages GROUP BY source, direction"
    ).fetchall():
        out.setdefault(str(source), {})[str(direction)] = int(n)
    return out


# -- problems --------------------------------------------------------------------------------


def add_problem(store: Store, source: str, ref: str, reason: str) -> None:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO inbound_problems (source, ref, reason, seen_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, ref) DO UPDATE SET reason = excluded.reason",
            (source, ref, reason, to_epoch(now())),
        )


def problems(store: Store, source: str | None = None) -> list[Problem]:
    sql = "SELECT source, ref, reason, seen_at FROM inbound_problems"
    params: tuple[Any, ...] = ()
    if source is not None:
        sql += " WHERE source = ?"
        params = (source,)
    out = []
    for r in store.conn.execute(sql + " ORDER BY seen_at, ref", params).fetchall():
        seen = from_epoch(r[3])
        assert seen is not None
        out.append(Problem(str(r[0]), str(r[1]), str(r[2]), seen))
    return out


def clear_problem(store: Store, source: str, ref: str) -> bool:
    with store.transaction() as cur:
        cur.execute("DELETE FROM inbound_problems WHERE source = ? AND ref = ?", (source, ref))
        return int(cur.rowcount) == 1
