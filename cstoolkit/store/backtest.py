"""Store reads for ``cst triage backtest``: the tickets of a period as rows (for columns), the
value each arrived with before its first change, requesters, and a sample's tickets and
events. Read-only; plain SQL both dialects speak."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from cstoolkit.model import Event, Ticket
from cstoolkit.store.codec import EVENT_COLUMNS, TICKET_COLUMNS, row_event, row_ticket

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

_CHUNK = 500

#: The columns of :func:`period_rows`, in order (then the text columns asked for).
PERIOD_COLUMNS = (
    "id",
    "instance",
    "priority",
    "channel",
    "group_id",
    "tags",
    "created_at",
    "solved_at",
    "language",
    "requester_id",
    "custom_fields",
)
#: Ticket columns :func:`period_rows` may add at the end of each row.
TEXT_COLUMNS = ("subject", "description")


class PersonRow(NamedTuple):
    """A requester as the backtest needs it (a tuple: hundreds of thousands are read)."""

    id: str
    email: str | None
    organization: str | None
    plan: str | None
    language: str | None
    name: str | None


def period_rows(
    store: Store, start: datetime, end: datetime, text: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """The tickets created in [start, end) (not deleted) as rows of :data:`PERIOD_COLUMNS`
    (``solved_at`` -1 when unsolved; times as epoch seconds) plus the ``text`` columns, in no
    particular order."""
    for name in text:
        if name not in TEXT_COLUMNS:
            raise ValueError(f"not a text column: {name!r}")
    extra = "".join(f", t.{c}" for c in text)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    # A large share of the table: scan it whole (sequential) rather than through the index
    # (one random access per row).
    total = store.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    share = store.conn.execute(
        "SELECT COUNT(*) FROM tickets WHERE created_at >= ? AND created_at < ?", (lo, hi)
    ).fetchone()[0]
    column = "+t.created_at" if share > 0.2 * max(total, 1) else "t.created_at"
    return list(
        store.conn.execute(
            "SELECT t.id, t.instance, t.priority, t.channel, t.group_id, t.tags, t.created_at, "
            "COALESCE(t.solved_at, -1), t.language, t.requester_id, t.custom_fields"
            + extra
            + f" FROM tickets t WHERE t.deleted = 0 AND {column} >= ? AND {column} < ?",
            (lo, hi),
        ).fetchall()
    )


def first_changes(store: Store, start: datetime) -> dict[str, dict[str, str | None]]:
    """The ``old`` value of each ticket's first priority, group and tags change at or after
    ``start``: the value the ticket arrived with (ticket id -> event kind -> old value)."""
    out: dict[str, dict[str, str | None]] = {}
    rows = store.conn.execute(
        "SELECT e.ticket_id, e.kind, e.old FROM events e WHERE e.kind IN "
        "('priority_change', 'group_change', 'tags_change') AND e.at >= ? ORDER BY e.at, e.id",
        (int(start.timestamp()),),
    )
    for tid, kind, old in rows:
        seen = out.setdefault(tid, {})
        if kind not in seen:
            seen[kind] = old
    return out


def requesters(store: Store, wanted: Iterable[Any]) -> dict[str, PersonRow]:
    """The people among ``wanted`` (person ids), by id."""
    want = {w for w in wanted if w}
    out: dict[str, PersonRow] = {}
    for row in store.conn.execute(
        "SELECT id, email, organization, plan, language, name FROM people"
    ):
        if row[0] in want:
            out[row[0]] = PersonRow._make(row)
    return out


def tickets_with_events(
    store: Store, ids: Sequence[str]
) -> Iterator[tuple[dict[str, Ticket], dict[str, list[Event]]]]:
    """The tickets of ``ids`` and their events (in time order), a chunk at a time."""
    for k in range(0, len(ids), _CHUNK):
        chunk = list(ids[k : k + _CHUNK])
        marks = ",".join("?" * len(chunk))
        tickets: dict[str, Ticket] = {}
        events: dict[str, list[Event]] = {}
        for row in store.conn.execute(
            f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id IN ({marks})", chunk
        ):
            tickets[row[0]] = row_ticket(row)
        for row in store.conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE ticket_id IN ({marks}) ORDER BY at, id",
            chunk,
        ):
            events.setdefault(row[1], []).append(row_event(row))
        yield tickets, events
