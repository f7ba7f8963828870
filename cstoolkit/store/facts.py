"""``ticket_facts``: one row of facts per ticket (:mod:`cstoolkit.timeline`), kept in step with
its ticket and events.

Every write that changes a ticket or its events refreshes that ticket's row in the same
transaction, so a committed store never holds a stale fact:

* a sync page (``Store.upsert_page``): the tickets it inserted or changed, and those whose
  events it brought without the ticket;
* a push result written into the stored ticket (``store.planned``);
* a survey offer or answer event (``store.surveys``);
* a privacy erasure (``ops.privacy``): every ticket whose people, events or assignments it
  rewrote;
* a ticket deleted for good (retention): its row goes with it (``ON DELETE CASCADE``). A ticket
  marked deleted keeps its facts; every reader leaves deleted tickets out.

Migration 0010 builds the rows of every stored ticket (:func:`build_all`; ``cst store migrate``
shows how far it is on a terminal). :func:`ensure` builds the rows of tickets written some other
way (a test fixture, an older program) before a report reads them.

The ``sla_*`` columns hold SLA outcomes under one configuration (``sla_fingerprint``): a refresh
clears the fingerprint, and :mod:`cstoolkit.sla_facts` recomputes every row whose fingerprint is
not the current configuration's before reading them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cstoolkit.store import bulk, codec
from cstoolkit.store.erasure import naming_in_events
from cstoolkit.timeline import FACTS_VERSION, EventRow, Facts, TicketCore, build
from cstoolkit.timeline.row import COLUMNS, from_row, to_row

if TYPE_CHECKING:
    from cstoolkit.model import Person, Ticket
    from cstoolkit.store.base import Store

_CHUNK = 500
_BATCH = 2000  # tickets per batch when building every row

SLA_METRICS = ("first_reply", "next_reply", "periodic_update", "resolution")
SLA_METRIC_COLUMNS = (
    "active",
    "paused",
    "started_at",
    "due_at",
    "fulfilled_at",
    "breached_at",
    "breach_after",
    "elapsed",
    "target",
    "business",
)
#: The SLA outcome columns written by :func:`write_sla`, in order (after ``sla_fingerprint``).
SLA_COLUMNS: tuple[str, ...] = (
    "sla_policy",
    "sla_breach_after",
    "sla_ever_breach_after",
    "sla_paused",
    "sla_due_at",
    "sla_next_metric",
    "sla_instances",
    *(f"sla_{m}_{c}" for m in SLA_METRICS for c in SLA_METRIC_COLUMNS),
)

#: The columns of plain values a condition may read in SQL (``cstoolkit.store.condition_sql``):
#: every event-derived fact but the row's bookkeeping and the JSON logs.
SCALAR_COLUMNS: frozenset[str] = frozenset(
    c
    for c in COLUMNS
    if c not in ("ticket_id", "facts_version", "horizon") and not c.endswith("_log")
)

_CORE = (
    "SELECT id, instance, created_at, updated_at, status, solved_at, requester_id, assignee_id "
    "FROM tickets"
)


def _write(cur: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """Upsert facts rows; a written row's SLA outcomes are stale (``sla_fingerprint`` cleared)."""
    bulk.upsert(
        cur, "ticket_facts", COLUMNS, rows, key=("ticket_id",), also="sla_fingerprint = NULL"
    )


def _core(row: Sequence[Any]) -> TicketCore:
    return TicketCore(
        row[0], row[1], int(row[2]), int(row[3]), row[4],
        None if row[5] is None else int(row[5]), row[6], row[7],
    )  # fmt: skip


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def ids_with_events(cur: Any, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` have stored events (call before inserting a page's events)."""
    found: set[str] = set()
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0]
            for r in cur.execute(
                f"SELECT DISTINCT ticket_id FROM events WHERE ticket_id IN ({marks})", chunk
            )
        )
    return found


def unique_events(rows: list[EventRow]) -> list[EventRow]:
    """Event rows with one row per event id (the last wins, as the store's upsert does)."""
    if len(rows) < 2:
        return rows
    return list({r[0]: r for r in rows}.values())


def changed_people(cur: Any, people: Sequence[Person]) -> list[str]:
    """Ids of ``people`` that are new or differ from their stored row (call before storing
    them): their tickets' SLA policy may change, a policy's ``when`` can test the requester."""
    if not people:
        return []
    mine = {p.id: codec.person_row(p) for p in people}
    stored: dict[str, tuple[Any, ...]] = {}
    for chunk in _chunks(list(mine)):
        marks = ",".join("?" * len(chunk))
        for row in cur.execute(
            f"SELECT {codec.PERSON_COLUMNS} FROM people WHERE id IN ({marks})", chunk
        ):
            stored[row[0]] = tuple(row)
    return [pid for pid, row in mine.items() if stored.get(pid) != row]


def refresh(
    cur: Any,
    ids: Iterable[str],
    known: Mapping[str, tuple[TicketCore, Sequence[EventRow]]] | None = None,
) -> int:
    """Rebuild the facts of ``ids`` (inside the caller's transaction); return how many rows
    were written. ``known`` holds tickets whose core and complete events the caller already has
    (a page's new tickets), so they are not read back. Ids without a stored ticket are skipped."""
    known = known or {}
    wanted = [i for i in dict.fromkeys(ids) if i not in known]
    rows: list[tuple[Any, ...]] = [to_row(build(core, evs)) for core, evs in known.values()]
    for chunk in _chunks(wanted):
        marks = ",".join("?" * len(chunk))
        cores = {r[0]: _core(r) for r in cur.execute(f"{_CORE} WHERE id IN ({marks})", chunk)}
        events: dict[str, list[EventRow]] = {}
        for r in cur.execute(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE ticket_id IN ({marks})", chunk
        ):
            events.setdefault(r[1], []).append(tuple(r))
        rows.extend(to_row(build(core, events.get(tid, []))) for tid, core in cores.items())
    _write(cur, rows)
    return len(rows)


def _scan(cur: Any, after: str | None, limit: int) -> tuple[list[TicketCore], list[EventRow]]:
    """The next ``limit`` tickets by id after ``after`` and all their events."""
    if after is None:
        tickets = cur.execute(f"{_CORE} ORDER BY id LIMIT ?", (limit,)).fetchall()
    else:
        tickets = cur.execute(
            f"{_CORE} WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
        ).fetchall()
    if not tickets:
        return [], []
    lo, hi = tickets[0][0], tickets[-1][0]
    events = cur.execute(
        f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE ticket_id >= ? AND ticket_id <= ?",
        (lo, hi),
    ).fetchall()
    return [_core(r) for r in tickets], events


#: ``on_progress(done, total)``: how far a long build is (a command draws it; the store never
#: prints).
Progress = Callable[[int, int], None]


def build_all(store: Store, cur: Any, *, on_progress: Progress | None = None) -> int:
    """Build the facts of every stored ticket (migration 0010's step); return how many.
    ``on_progress`` is called after each batch of tickets."""
    total = int(cur.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
    done = 0
    after: str | None = None
    while True:
        cores, events = _scan(cur, after, _BATCH)
        if not cores:
            break
        by_ticket: dict[str, list[EventRow]] = {}
        for r in events:
            by_ticket.setdefault(r[1], []).append(tuple(r))
        _write(cur, [to_row(build(c, by_ticket.get(c.id, []))) for c in cores])
        done += len(cores)
        after = cores[-1].id
        if on_progress is not None:
            on_progress(done, total)
    return done


def tickets_of_person(cur: Any, person_id: str) -> set[str]:
    """Tickets whose facts name ``person_id``: requested, assigned, or with an event by or
    assigning them (what a privacy erasure rewrites)."""
    found = {
        r[0]
        for r in cur.execute(
            "SELECT id FROM tickets WHERE requester_id = ? OR assignee_id = ?",
            (person_id, person_id),
        )
    }
    in_old, old_params = naming_in_events("old", person_id)
    in_new, new_params = naming_in_events("new", person_id)
    found.update(
        r[0]
        for r in cur.execute(
            f"SELECT DISTINCT ticket_id FROM events WHERE author_id = ? OR {in_old} OR {in_new}",
            (person_id, *old_params, *new_params),
        )
    )
    return found


def missing(conn: Any) -> list[str]:
    """Ids of stored tickets without a facts row."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT t.id FROM tickets t WHERE NOT EXISTS "
            "(SELECT 1 FROM ticket_facts f WHERE f.ticket_id = t.id)"
        )
    ]


def all_current(store: Store) -> bool:
    """Whether every stored ticket has a facts row of this version (then a condition may read
    the facts in SQL)."""
    conn = store.conn
    absent = conn.execute(
        "SELECT 1 FROM tickets t WHERE NOT EXISTS "
        "(SELECT 1 FROM ticket_facts f WHERE f.ticket_id = t.id) LIMIT 1"
    ).fetchone()
    if absent is not None:
        return False
    old = conn.execute(
        "SELECT 1 FROM ticket_facts WHERE facts_version <> ? LIMIT 1", (FACTS_VERSION,)
    ).fetchone()
    return old is None


def ensure(store: Store) -> int:
    """Build the facts of tickets that have none (written without the store's write paths);
    return how many."""
    ids = missing(store.conn)
    if not ids:
        return 0
    with store.transaction() as cur:
        return refresh(cur, ids)


def read(conn: Any, ticket_id: str) -> Facts | None:
    """The stored facts of one ticket (None without a row)."""
    row = conn.execute(
        f"SELECT t.created_at, {', '.join('f.' + c for c in COLUMNS)} FROM ticket_facts f "
        "JOIN tickets t ON t.id = f.ticket_id WHERE f.ticket_id = ?",
        (ticket_id,),
    ).fetchone()
    return None if row is None else from_row(row[1:], int(row[0]))


def for_ticket(store: Store, ticket: Ticket) -> Facts:
    """The facts of ``ticket`` as the store keeps them (:func:`of_ticket`); a ticket the store
    does not hold has the facts of the ticket alone, without events."""
    found = of_ticket(store, ticket.id)
    return found if found is not None else build(TicketCore.of(ticket), [])


def of_ticket(store: Store, ticket_id: str) -> Facts | None:
    """A ticket's facts: the stored row, else built from its stored events (a ticket written
    without the store's write paths); None for an unknown ticket."""
    found = read(store.conn, ticket_id)
    if found is not None:
        return found
    core = store.conn.execute(f"{_CORE} WHERE id = ?", (ticket_id,)).fetchone()
    if core is None:
        return None
    events = store.conn.execute(
        f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE ticket_id = ?", (ticket_id,)
    ).fetchall()
    return build(_core(core), [tuple(r) for r in events])


# -- SLA outcomes ------------------------------------------------------------------------------


def mark_sla_stale_for_requesters(cur: Any, person_ids: Sequence[str]) -> None:
    """Clear the SLA fingerprint of the tickets of these requesters (their row changed, and a
    policy's ``when`` may test it)."""
    for chunk in _chunks(person_ids):
        marks = ",".join("?" * len(chunk))
        cur.execute(
            "UPDATE ticket_facts SET sla_fingerprint = NULL WHERE sla_fingerprint IS NOT NULL "
            f"AND ticket_id IN (SELECT id FROM tickets WHERE requester_id IN ({marks}))",
            chunk,
        )


def sla_stale(conn: Any, fingerprint: str, limit: int) -> list[tuple[Any, ...]]:
    """Up to ``limit`` rows (ticket columns, requester columns, created_at and facts columns)
    whose SLA outcomes are not the ones of ``fingerprint``."""
    # raw payloads are no condition's business: left out (they can be large)
    tcols = ", ".join("'{}'" if c == "raw" else f"t.{c}" for c in codec.TICKET_COLUMNS.split(", "))
    pcols = ", ".join("'{}'" if c == "raw" else f"r.{c}" for c in codec.PERSON_COLUMNS.split(", "))
    fcols = ", ".join(f"f.{c}" for c in COLUMNS)
    sql = (
        f"SELECT {tcols}, {pcols}, {fcols} FROM ticket_facts f JOIN tickets t ON t.id = "
        "f.ticket_id LEFT JOIN people r ON r.id = t.requester_id WHERE "
    )
    rows = conn.execute(
        sql + "f.sla_fingerprint IS NULL ORDER BY f.ticket_id LIMIT ?", (limit,)
    ).fetchall()
    if len(rows) < limit:
        rows += conn.execute(
            sql + "(f.sla_fingerprint < ? OR f.sla_fingerprint > ?) ORDER BY f.ticket_id LIMIT ?",
            (fingerprint, fingerprint, limit - len(rows)),
        ).fetchall()
    return rows


_TICKET_COLUMNS = codec.TICKET_COLUMNS.split(", ")
_NT, _NP = len(_TICKET_COLUMNS), len(codec.PERSON_COLUMNS.split(", "))
_CREATED_AT = _TICKET_COLUMNS.index("created_at")


def split_ticket_row(row: Sequence[Any]) -> tuple[Ticket, Person | None, Facts]:
    """(Ticket, requester or None, Facts) of a row of ticket, requester and facts columns
    (:func:`sla_stale`; the report's tickets with their facts)."""
    ticket = codec.row_ticket(row[:_NT])
    requester = codec.row_person(row[_NT : _NT + _NP]) if row[_NT] is not None else None
    return ticket, requester, from_row(row[_NT + _NP :], int(row[_CREATED_AT]))


def count_sla_stale(store: Store, fingerprint: str) -> int:
    """How many rows hold SLA outcomes that are not the ones of ``fingerprint``."""
    row = store.conn.execute(
        "SELECT COUNT(*) FROM ticket_facts WHERE sla_fingerprint IS NULL "
        "OR sla_fingerprint < ? OR sla_fingerprint > ?",
        (fingerprint, fingerprint),
    ).fetchone()
    return int(row[0])


def write_sla(cur: Any, fingerprint: str, rows: Iterable[tuple[str, Sequence[Any]]]) -> None:
    """Store SLA outcomes: (ticket id, values in :data:`SLA_COLUMNS` order) under
    ``fingerprint``."""
    sets = ", ".join(f"{c} = ?" for c in SLA_COLUMNS)
    cur.executemany(
        f"UPDATE ticket_facts SET sla_fingerprint = ?, {sets} WHERE ticket_id = ?",
        [(fingerprint, *values, tid) for tid, values in rows],
    )
