"""What every store does, in SQL both dialects speak: SQLite (the embedded default) and
PostgreSQL (for teams whose jobs run on several hosts).

A dialect subclass opens the connection, starts write transactions (each takes the store's one
write lock up front, so two processes never interleave half of a page), says whether a table
exists and translates migration DDL. Everything else, the sync upserts, cursors, audit log, runs,
is written once here. ``Store.conn`` speaks the sqlite3 interface (``execute`` with ``?``
placeholders, ``executemany``, ``cursor``) on both dialects, so the modules beside this one
(ledger, locks, surveys, triage state) need no dialect of their own.

The sync engine commits a page's rows and its cursor in the same transaction: a run killed at
any point resumes exactly after the last committed page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import StoreError
from cstoolkit.model import Event, Group, Page, Person, Ticket, now
from cstoolkit.store import bulk, codec, condition_sql, facts
from cstoolkit.store.kv import KeyValue
from cstoolkit.store.migrations import MIGRATIONS, STEPS, Migration
from cstoolkit.store.privacy import suppress_page
from cstoolkit.timeline import TicketCore

if TYPE_CHECKING:
    from cstoolkit.store.conditions import Selectable

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
#: What a sync writes, by table (the ticket's row ends with ``synced_at``).
_TICKET_WRITE = (*codec.TICKET_COLUMNS.split(", "), "synced_at")
_EVENT_COLUMNS = tuple(codec.EVENT_COLUMNS.split(", "))
_PERSON_COLUMNS = tuple(codec.PERSON_COLUMNS.split(", "))
_GROUP_COLUMNS = tuple(codec.GROUP_COLUMNS.split(", "))


@dataclass
class UpsertStats:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, other: UpsertStats) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted

    def as_dict(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
        }


@dataclass
class _Written:
    """What writing a page's tickets did: the counts, and the tickets whose facts to refresh
    (``refresh``: read back from the store; ``known``: new tickets with their core and complete
    events, built from the page)."""

    stats: UpsertStats
    refresh: list[str] = field(default_factory=list)
    known: dict[str, tuple[TicketCore, list[tuple[Any, ...]]]] = field(default_factory=dict)


class Store:
    """Tickets, events, people, groups, cursors, audit log and plugin state.

    Subclasses set :attr:`dialect`, :attr:`label` and :attr:`conn` and implement the methods
    marked *dialect* below.
    """

    dialect: str = ""
    #: Where the store is, for messages: a path, or a URL without its password.
    label: str = ""
    conn: Any

    def _setup(self, migrate: bool) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._tables: set[str] | None = None
        if migrate:
            self.migrate()
        else:
            self._refuse_newer()

    def close(self) -> None:
        self.conn.close()

    # -- dialect -------------------------------------------------------------------------------

    def _begin(self, cur: Any) -> None:
        """Start a write transaction holding the store's write lock (*dialect*)."""
        raise NotImplementedError

    def _table_names(self) -> set[str]:
        """Names of the store's tables (*dialect*)."""
        raise NotImplementedError

    def ddl_for_dialect(self, statement: str) -> str:
        """A CREATE statement written for SQLite in this dialect (migrations, temporary tables)."""
        return statement

    def _prepare(self, cur: Any) -> None:
        """Dialect objects the migrations rely on, created in the migration's transaction."""

    def has_table(self, name: str) -> bool:
        if self._tables is None:
            self._tables = self._table_names()
        return name in self._tables

    # -- schema --------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        if "schema_migrations" not in self._table_names():
            return 0
        row = self.conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def applied_versions(self) -> set[int]:
        if self.schema_version == 0:
            return set()
        return {int(r[0]) for r in self.conn.execute("SELECT version FROM schema_migrations")}

    def pending_migrations(self) -> list[Migration]:
        """Migrations not yet applied, by version, so one merged later with a lower number than
        an applied one still runs."""
        self._refuse_newer()
        done = self.applied_versions()
        return [m for m in MIGRATIONS if m.version not in done]

    def _refuse_newer(self) -> None:
        current = self.schema_version
        latest = MIGRATIONS[-1].version
        if current > latest:
            raise StoreError(
                f"{self.label}: store schema version {current} is newer than this program "
                f"supports ({latest}); upgrade cstoolkit"
            )

    def migrate(
        self, target: int | None = None, on_progress: Callable[[int, int], None] | None = None
    ) -> list[Migration]:
        """Apply pending migrations (each in its own transaction); return those applied. A
        migration's Python step reports how far it is with ``on_progress(done, total)``."""
        applied = []
        for mig in self.pending_migrations():
            if target is not None and mig.version > target:
                break
            with self.transaction() as cur:
                self._prepare(cur)
                cur.execute(
                    self.ddl_for_dialect(
                        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY "
                        "KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
                    )
                )
                if mig.version in self.applied_versions():
                    continue  # another process applied it while this one waited for the lock
                for statement in mig.statements():
                    cur.execute(self.ddl_for_dialect(statement))
                step = STEPS.get(mig.version)
                if step is not None:
                    import importlib

                    module, _, name = step.partition(":")
                    self._tables = None
                    step_fn = getattr(importlib.import_module(module), name)
                    step_fn(self, cur, on_progress=on_progress)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (mig.version, mig.name, codec.to_epoch(now())),
                )
            applied.append(mig)
            self._tables = None
        return applied

    # -- transactions --------------------------------------------------------------------------

    def _begin_shared(self, cur: Any) -> None:
        """Start a write transaction that does not take the store-wide write lock, for
        statements whose row locks alone keep writers apart (*dialect*; by default the same
        as :meth:`_begin`, SQLite having one writer at a time anyway)."""
        self._begin(cur)

    @contextmanager
    def transaction(self, *, shared: bool = False) -> Iterator[Any]:
        """A write transaction; nested calls join the outer one.

        ``shared=True`` skips the store-wide write lock where the dialect has row locks
        (PostgreSQL): only for statements that lock the rows they change (``FOR UPDATE SKIP
        LOCKED``) and read nothing else, such as claiming pending writes.
        """
        with self._lock:
            cur = self.conn.cursor()
            if self._depth:
                self._depth += 1
                try:
                    yield cur
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                (self._begin_shared if shared else self._begin)(cur)
            except BaseException:
                self._depth = 0
                raise
            try:
                yield cur
            except BaseException:
                self._depth = 0
                self.conn.rollback()
                raise
            self._depth = 0
            self.conn.commit()

    # -- sync ----------------------------------------------------------------------------------

    def get_cursor(self, instance: str) -> str | None:
        row = self.conn.execute(
            "SELECT cursor FROM sync_cursors WHERE instance = ?", (instance,)
        ).fetchone()
        return row[0] if row else None

    def cursor_info(self, instance: str) -> tuple[str | None, datetime | None]:
        row = self.conn.execute(
            "SELECT cursor, updated_at FROM sync_cursors WHERE instance = ?", (instance,)
        ).fetchone()
        if not row:
            return None, None
        return row[0], codec.from_epoch(row[1])

    def reset_cursor(self, instance: str) -> None:
        with self.transaction() as cur:
            cur.execute("DELETE FROM sync_cursors WHERE instance = ?", (instance,))

    def upsert_page(self, instance: str, page: Page) -> UpsertStats:
        """Store a page's rows, the facts of the tickets it changed and its cursor in one
        transaction: one statement per table (:func:`cstoolkit.store.bulk.upsert`), one facts
        refresh (:func:`cstoolkit.store.facts.refresh`) for every ticket the page changed."""
        with self.transaction() as cur:
            if self.has_table("privacy_suppressions"):  # absent before migration 0008
                page = suppress_page(cur, page)  # forgotten people stay forgotten (ops/privacy)
            events_by_ticket: dict[str, list[Event]] = {}
            for ev in page.events:
                events_by_ticket.setdefault(ev.ticket_id, []).append(ev)
            changed_people = facts.changed_people(cur, page.people)
            self._upsert_people(cur, page.people)
            self._upsert_groups(cur, page.groups)
            gone = {f"{instance}:{external_id}" for external_id in page.deleted}
            with_facts = self.has_table("ticket_facts")  # absent before migration 0010
            written = self._upsert_tickets(cur, page.tickets, events_by_ticket, gone, with_facts)
            stats = written.stats
            # Events that arrive without their ticket (an events-only page) are stored as well.
            in_page = {t.id for t in page.tickets}
            orphan = [e for e in page.events if e.ticket_id not in in_page]
            if orphan:
                self._insert_event_rows(cur, [codec.event_row(e) for e in orphan])
                written.refresh.extend(sorted({e.ticket_id for e in orphan}))
            if with_facts:
                facts.refresh(cur, written.refresh, written.known)  # the page's one refresh
                if changed_people:
                    facts.mark_sla_stale_for_requesters(cur, changed_people)
            for external_id in page.deleted:
                cur.execute(
                    "UPDATE tickets SET deleted = 1 WHERE id = ? AND deleted = 0",
                    (f"{instance}:{external_id}",),
                )
                stats.deleted += cur.rowcount
            if page.cursor is not None:
                cur.execute(
                    "INSERT INTO sync_cursors (instance, cursor, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (instance) DO UPDATE SET cursor = excluded.cursor, "
                    "updated_at = excluded.updated_at",
                    (instance, page.cursor, codec.to_epoch(now())),
                )
        return stats

    def _existing_hashes(
        self, cur: Any, ids: Sequence[str], gone: set[str] | frozenset[str] = frozenset()
    ) -> dict[str, str]:
        """Stored payload hashes by id; a row marked deleted that the page brings back (and
        does not delete again) gets an empty hash, so it is rewritten and undeleted."""
        found: dict[str, str] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in cur.execute(
                f"SELECT id, payload_hash, deleted FROM tickets WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = "" if row[2] and row[0] not in gone else row[1]
        return found

    def _upsert_tickets(
        self,
        cur: Any,
        tickets: list[Ticket],
        events: dict[str, list[Event]],
        gone: set[str] | frozenset[str] = frozenset(),
        with_facts: bool = True,
    ) -> _Written:
        """Write the tickets that are new or changed (by payload hash), their tags and events;
        return the counts and what the facts refresh needs."""
        written = _Written(UpsertStats())
        stats = written.stats
        if not tickets:
            return written
        existing = self._existing_hashes(cur, [t.id for t in tickets], gone)
        synced = codec.to_epoch(now())
        rows: list[tuple[Any, ...]] = []
        tag_rows: list[tuple[str, str]] = []
        event_rows: list[tuple[Any, ...]] = []
        changed_ids: list[str] = []
        no_events: list[Event] = []
        # tickets new to the store: their facts come from the page unless events were stored
        # for them before (an events-only page), then they are read back like changed ones
        new: dict[str, tuple[TicketCore, list[tuple[Any, ...]]]] = {}
        for t in tickets:
            row, ev_rows = codec.ticket_rows(t, events.get(t.id, no_events))
            digest = row[-1]
            old = existing.get(t.id)
            if old == digest:
                stats.unchanged += 1
                continue
            if old is None:
                stats.inserted += 1
                new[t.id] = (TicketCore.of(t), ev_rows)
            else:
                stats.updated += 1
                changed_ids.append(t.id)
                new.pop(t.id, None)  # repeated inside the page: read back
            existing[t.id] = digest  # a ticket repeated inside one page counts once
            rows.append((*row, synced))
            if t.tags:
                tag_rows.extend((t.id, tag) for tag in dict.fromkeys(t.tags))
            event_rows.extend(ev_rows)
        if changed_ids:
            for i in range(0, len(changed_ids), _CHUNK):
                chunk = changed_ids[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                cur.execute(f"DELETE FROM ticket_tags WHERE ticket_id IN ({marks})", chunk)
        bulk.upsert(cur, "tickets", _TICKET_WRITE, rows, also="deleted = 0")
        bulk.upsert(cur, "ticket_tags", ("ticket_id", "tag"), tag_rows, key=("ticket_id", "tag"))
        if not with_facts:
            self._insert_event_rows(cur, event_rows)
            return written
        earlier = facts.ids_with_events(cur, list(new)) if new else set()
        self._insert_event_rows(cur, event_rows)
        written.known = {
            t: (core, facts.unique_events(evs))
            for t, (core, evs) in new.items()
            if t not in earlier
        }
        written.refresh = [*changed_ids, *earlier]
        return written

    def _insert_event_rows(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        bulk.upsert(cur, "events", _EVENT_COLUMNS, rows)

    def _upsert_people(self, cur: Any, people: list[Person]) -> None:
        bulk.upsert(cur, "people", _PERSON_COLUMNS, [codec.person_row(p) for p in people])

    def _upsert_groups(self, cur: Any, groups: list[Group]) -> None:
        rows = [codec.group_row(g) for g in groups]
        bulk.upsert(cur, "ticket_groups", _GROUP_COLUMNS, rows, update=("name", "raw"))

    # -- reading -------------------------------------------------------------------------------

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        row = self.conn.execute(
            f"SELECT {codec.TICKET_COLUMNS} FROM tickets WHERE id = ?", (ticket_id,)
        ).fetchone()
        return codec.row_ticket(row) if row else None

    def events(self, ticket_id: str) -> list[Event]:
        rows = self.conn.execute(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE ticket_id = ? ORDER BY at, id",
            (ticket_id,),
        )
        return [codec.row_event(r) for r in rows]

    def person(self, person_id: str) -> Person | None:
        row = self.conn.execute(
            f"SELECT {codec.PERSON_COLUMNS} FROM people WHERE id = ?", (person_id,)
        ).fetchone()
        return codec.row_person(row) if row else None

    def group(self, group_id: str) -> Group | None:
        row = self.conn.execute(
            f"SELECT {codec.GROUP_COLUMNS} FROM ticket_groups WHERE id = ?", (group_id,)
        ).fetchone()
        return codec.row_group(row) if row else None

    def group_names(self) -> dict[str, str]:
        """Every stored group's name by id."""
        return {r[0]: r[1] for r in self.conn.execute("SELECT id, name FROM ticket_groups")}

    def agents(self) -> list[Person]:
        """Every stored person whose role is agent."""
        rows = self.conn.execute(
            f"SELECT {codec.PERSON_COLUMNS} FROM people WHERE role = 'agent'"
        ).fetchall()
        return [codec.row_person(r) for r in rows]

    def agent_tiers(self) -> list[tuple[str, str, Any]]:
        """(id, name, the ``tier`` of the raw payload as stored, or None) of every agent."""
        rows = self.conn.execute(
            "SELECT id, name, json_extract(raw, '$.tier') FROM people WHERE role = 'agent'"
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def ticket_ids_by_external_id(self, external_id: str, *, limit: int = 2) -> list[str]:
        """Ids of live tickets with this external id (any instance), at most ``limit``."""
        rows = self.conn.execute(
            "SELECT id FROM tickets WHERE external_id = ? AND deleted = 0 LIMIT ?",
            (external_id, int(limit)),
        ).fetchall()
        return [r[0] for r in rows]

    def live_ticket_counts(self, by: str) -> dict[str, int]:
        """Live tickets per value of ``by`` (``status`` or ``channel``), most first."""
        if by not in ("status", "channel"):
            raise ValueError(f"cannot count tickets by {by!r}")
        rows = self.conn.execute(
            f"SELECT {by}, COUNT(*) FROM tickets WHERE deleted = 0 GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def synced_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Everything a sync writes, in a comparable form (cursors and sync times excluded),
        for tests that compare two stores."""
        conn = self.conn
        return {
            "tickets": conn.execute(
                "SELECT id, status, priority, channel, requester_id, assignee_id, group_id, tags, "
                "created_at, updated_at, solved_at, custom_fields, raw, deleted "
                "FROM tickets ORDER BY id"
            ).fetchall(),
            "tags": conn.execute("SELECT ticket_id, tag FROM ticket_tags ORDER BY 1, 2").fetchall(),
            "events": conn.execute(
                "SELECT id, ticket_id, kind, at, author_id, author_role, public, body, old, new, "
                "data FROM events ORDER BY id"
            ).fetchall(),
            "people": conn.execute("SELECT * FROM people ORDER BY id").fetchall(),
            "groups": conn.execute("SELECT * FROM ticket_groups ORDER BY id").fetchall(),
        }

    def select(
        self,
        query: Selectable | None = None,
        *,
        instance: str | None = None,
        limit: int | None = None,
        at: datetime | None = None,
        include_deleted: bool = False,
        newest_first: bool = False,
    ) -> Iterator[tuple[Ticket, Person | None]]:
        """Yield (ticket, requester) pairs matching ``query``, oldest first (or newest first).

        ``query`` is a condition of the query language (a node, or a ``query.Selection`` with
        the context its per-ticket parts need). The parts the store can compile are filtered
        in SQL (:mod:`cstoolkit.store.condition_sql`); the rows are then tested against the
        others with the same evaluator recipes use, so both give the same answer.
        """
        when = at or now()
        where = ["1 = 1"] if include_deleted else ["t.deleted = 0"]
        params: list[Any] = []
        if instance:
            where.append("t.instance = ?")
            params.append(instance)
        keeps: list[Any] = []
        if query is not None:
            fragments, values, keeps = condition_sql.split(
                query, now=when, dialect=self.dialect, facts=condition_sql.fact_columns(self)
            )
            where.extend(fragments)
            params.extend(values)
        cols = ", ".join(f"t.{c}" for c in codec.TICKET_COLUMNS.split(", "))
        pcols = ", ".join(f"r.{c}" for c in codec.PERSON_COLUMNS.split(", "))
        sql = (
            f"SELECT {cols}, {pcols} FROM tickets t LEFT JOIN people r ON r.id = t.requester_id "
            f"WHERE {' AND '.join(where)} "
            + (
                "ORDER BY t.created_at DESC, t.id DESC"
                if newest_first
                else "ORDER BY t.created_at, t.id"
            )
        )
        if limit is not None and not keeps:
            sql += f" LIMIT {int(limit)}"
        count = 0
        ncols = len(codec.TICKET_COLUMNS.split(", "))
        for row in self.conn.execute(sql, params):
            ticket = codec.row_ticket(row[:ncols])
            requester = codec.row_person(row[ncols:]) if row[ncols] is not None else None
            if keeps and not all(keep(ticket, requester) for keep in keeps):
                continue
            yield ticket, requester
            count += 1
            if limit is not None and count >= limit:
                return

    def count_selected(
        self, query: Selectable | None = None, *, instance: str | None = None
    ) -> int:
        """How many tickets :meth:`select` would yield without a limit (COUNT in SQL where the
        query compiles to SQL, else counted with the same evaluator)."""
        when = now()
        where: list[str] = ["t.deleted = 0"]
        params: list[Any] = []
        if query is not None:
            fragments, values, keeps = condition_sql.split(
                query, now=when, dialect=self.dialect, facts=condition_sql.fact_columns(self)
            )
            if keeps:
                return sum(1 for _ in self.select(query, instance=instance, at=when))
            where.extend(fragments)
            params.extend(values)
        if instance:
            where.append("t.instance = ?")
            params.append(instance)
        sql = (
            "SELECT COUNT(*) FROM tickets t LEFT JOIN people r ON r.id = t.requester_id "
            f"WHERE {' AND '.join(where)}"
        )
        return int(self.conn.execute(sql, params).fetchone()[0])

    def counts(self) -> dict[str, int]:
        out = {}
        for table in ("tickets", "events", "people", "ticket_groups", "audit_log"):
            out[table] = int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        return out

    def instances(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT instance FROM tickets ORDER BY 1")]

    # -- audit log and plugin state ------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str | None, details: dict[str, Any]) -> None:
        """Add an audit log entry (:mod:`cstoolkit.store.audit` is the one writer)."""
        from cstoolkit.store import audit

        audit.record(self, actor, action, target, details)

    def audit_entries(self, target: str | None = None) -> list[dict[str, Any]]:
        from cstoolkit.store import audit

        return audit.entries(self, target)

    def kv(self, instance: str) -> KeyValue:
        return KeyValue(self, instance)

    # -- sync runs -----------------------------------------------------------------------------

    def start_run(self, instance: str) -> int:
        with self.transaction() as cur:
            row = cur.execute(
                "INSERT INTO sync_runs (instance, started_at) VALUES (?, ?) RETURNING id",
                (instance, codec.to_epoch(now())),
            ).fetchone()
            return int(row[0])

    def finish_run(self, run_id: int, outcome: str, stats: dict[str, Any]) -> None:
        with self.transaction() as cur:
            cur.execute(
                "UPDATE sync_runs SET finished_at = ?, outcome = ?, stats = ? WHERE id = ?",
                (codec.to_epoch(now()), outcome, codec.dumps(stats), run_id),
            )
