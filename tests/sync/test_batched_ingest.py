"""The batched write path of a sync page (one statement per table, COPY on PostgreSQL, one facts
refresh per page) leaves the store exactly as the row-at-a-time path it replaced did, row for
row, on SQLite and PostgreSQL.

The reference below is that earlier path as it was (``executemany`` of one-row upserts, the
facts refreshed per group of tickets with one-row upserts). Both are fed the same generated
helpdesk as a sequence of pages with updates, tickets repeated inside a page, events without
their ticket, deletions, a deleted ticket coming back, a changed requester, a privacy erasure
followed by pages that still name the forgotten person, and a re-sync of everything.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given

from cstoolkit.model import Event, EventKind, Group, Page, Priority, Role, Status, Ticket, now
from cstoolkit.ops.privacy import forget
from cstoolkit.store import Store, UpsertStats, bulk, codec, open_store, privacy
from cstoolkit.store import facts as stored
from cstoolkit.timeline import TicketCore, build
from cstoolkit.timeline.row import COLUMNS, to_row
from tests.conftest import StoreFactory
from tests.timeline.test_differential import HELPDESK, build_helpdesk, people

_instances = itertools.count()

# -- the earlier write path (the reference) -----------------------------------------------------

_OLD_FACTS_UPSERT = (
    f"INSERT INTO ticket_facts ({', '.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (ticket_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    + ", sla_fingerprint = NULL"
)


def _old_refresh(cur: Any, ids: list[str], known: dict[str, Any] | None = None) -> None:
    known = known or {}
    wanted = [i for i in dict.fromkeys(ids) if i not in known]
    rows = [to_row(build(core, evs)) for core, evs in known.values()]
    for tid in wanted:
        core = cur.execute(
            "SELECT id, instance, created_at, updated_at, status, solved_at, requester_id, "
            "assignee_id FROM tickets WHERE id = ?",
            (tid,),
        ).fetchone()
        if core is None:
            continue
        evs = cur.execute(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE ticket_id = ?", (tid,)
        ).fetchall()
        rows.append(to_row(build(stored._core(core), [tuple(e) for e in evs])))
    if rows:
        cur.executemany(_OLD_FACTS_UPSERT, rows)


def _old_insert_events(cur: Any, rows: list[tuple[Any, ...]]) -> None:
    cols = codec.EVENT_COLUMNS.split(", ")
    cur.executemany(
        f"INSERT INTO events ({codec.EVENT_COLUMNS}) VALUES ({','.join('?' * len(cols))}) "
        "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in cols[1:]),
        rows,
    )


def old_upsert_page(store: Store, instance: str, page: Page) -> UpsertStats:
    """``Store.upsert_page`` as it was before the batched path."""
    stats = UpsertStats()
    with store.transaction() as cur:
        page = privacy.suppress_page(cur, page)
        events: dict[str, list[Event]] = {}
        for ev in page.events:
            events.setdefault(ev.ticket_id, []).append(ev)
        changed_people = stored.changed_people(cur, page.people)
        pcols = codec.PERSON_COLUMNS.split(", ")
        cur.executemany(
            f"INSERT INTO people ({codec.PERSON_COLUMNS}) VALUES ({','.join('?' * len(pcols))}) "
            "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in pcols[1:]),
            [codec.person_row(p) for p in page.people],
        )
        cur.executemany(
            f"INSERT INTO ticket_groups ({codec.GROUP_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, raw = excluded.raw",
            [codec.group_row(g) for g in page.groups],
        )
        gone = {f"{instance}:{x}" for x in page.deleted}
        stats = _old_upsert_tickets(store, cur, page.tickets, events, gone)
        in_page = {t.id for t in page.tickets}
        orphan = [e for e in page.events if e.ticket_id not in in_page]
        if orphan:
            _old_insert_events(cur, [codec.event_row(e) for e in orphan])
            _old_refresh(cur, sorted({e.ticket_id for e in orphan}))
        if changed_people:
            stored.mark_sla_stale_for_requesters(cur, changed_people)
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


def _old_upsert_tickets(
    store: Store, cur: Any, tickets: list[Ticket], events: dict[str, list[Event]], gone: set[str]
) -> UpsertStats:
    stats = UpsertStats()
    if not tickets:
        return stats
    existing = store._existing_hashes(cur, [t.id for t in tickets], gone)
    synced = codec.to_epoch(now())
    rows, tag_rows, event_rows, changed_ids = [], [], [], []
    new: dict[str, Any] = {}
    for t in tickets:
        row, ev_rows = codec.ticket_rows(t, events.get(t.id, []))
        old = existing.get(t.id)
        if old == row[-1]:
            stats.unchanged += 1
            continue
        if old is None:
            stats.inserted += 1
            new[t.id] = (TicketCore.of(t), ev_rows)
        else:
            stats.updated += 1
            changed_ids.append(t.id)
            new.pop(t.id, None)
        existing[t.id] = row[-1]
        rows.append((*row, synced))
        tag_rows.extend((t.id, tag) for tag in dict.fromkeys(t.tags))
        event_rows.extend(ev_rows)
    cur.executemany("DELETE FROM ticket_tags WHERE ticket_id = ?", [(i,) for i in changed_ids])
    cols = codec.TICKET_COLUMNS.split(", ")
    cur.executemany(
        f"INSERT INTO tickets ({codec.TICKET_COLUMNS}, synced_at) VALUES ({','.join('?' * 20)}) "
        "ON CONFLICT (id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in [*cols[1:], "synced_at"])
        + ", deleted = 0",
        rows,
    )
    cur.executemany(
        "INSERT INTO ticket_tags (ticket_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING", tag_rows
    )
    earlier = stored.ids_with_events(cur, list(new)) if new else set()
    _old_insert_events(cur, event_rows)
    known = {t: (c, stored.unique_events(e)) for t, (c, e) in new.items() if t not in earlier}
    _old_refresh(cur, [*changed_ids, *earlier], known)
    return stats


# -- the pages of a generated helpdesk ----------------------------------------------------------


def pages(inst: str, specs: list[tuple[Any, ...]]) -> Iterator[Page | str]:
    """The sequence both paths are fed; the string ``"forget"`` is a privacy erasure."""
    desk = build_helpdesk(inst, specs)
    tickets = [t for t, _, _ in desk]
    first = [e for _, evs, split in desk for e in evs[:split]]
    group = Group(f"{inst}:g0", inst, "g0", "Support", raw={"n": 1})
    yield Page(tickets=tickets, events=first, people=people(inst), groups=[group], cursor="1")
    # later versions of the even tickets with their other events, the first one twice
    later = [replace(t, subject=t.subject + " (later)") for t in tickets[::2]]
    again = replace(later[0], subject="twice", tags=["b", "a", "b"])
    rest = [e for n, (_, evs, split) in enumerate(desk) if n % 2 == 0 for e in evs[split:]]
    yield Page(tickets=[*later, again], events=rest, cursor="2")
    # events without their ticket: the odd tickets' rest, and a ticket the store never saw
    orphans = [e for n, (_, evs, split) in enumerate(desk) if n % 2 for e in evs[split:]]
    unseen = [replace(e, ticket_id=f"{inst}:unseen", id=e.id + "u") for e in first[:2]]
    yield Page(events=[*orphans, *unseen], cursor="3")
    # a deletion, and the requester changes (their tickets' SLA outcomes become stale)
    changed = [replace(p, name="Renamed") if p.id.endswith(":r1") else p for p in people(inst)]
    renamed = [replace(group, name="Help", raw={"n": 2}), Group(f"{inst}:g1", inst, "g1", "B")]
    yield Page(deleted=[tickets[0].external_id], people=changed, groups=renamed, cursor="4")
    yield "forget"
    # the forgotten agent still named by the vendor; the deleted ticket back again
    yield Page(tickets=tickets, events=first, people=people(inst), cursor="5")
    every = [e for _, evs, _ in desk for e in evs]
    yield Page(tickets=[*tickets, *later], events=every, people=people(inst), cursor="6")
    yield Page(tickets=[*tickets, *later], events=every, people=people(inst), cursor="6")


def snapshot(store: Store, inst: str) -> dict[str, Any]:
    """Everything a sync wrote for ``inst`` (as ``Store.synced_rows``: sync times excluded),
    and its facts rows and cursor."""
    mine = f"{inst}:%"
    q = store.conn.execute
    fcols = ", ".join(f"f.{c}" for c in (*COLUMNS, "sla_fingerprint"))
    return {
        "tickets": q(
            "SELECT id, status, priority, channel, requester_id, assignee_id, group_id, tags, "
            "created_at, updated_at, solved_at, custom_fields, raw, deleted, subject, "
            "description, payload_hash FROM tickets WHERE id LIKE ? ORDER BY id",
            (mine,),
        ).fetchall(),
        "tags": q(
            "SELECT ticket_id, tag FROM ticket_tags WHERE ticket_id LIKE ? ORDER BY 1, 2", (mine,)
        ).fetchall(),
        "events": q(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE id LIKE ? ORDER BY id", (mine,)
        ).fetchall(),
        "people": q("SELECT * FROM people WHERE id LIKE ? ORDER BY id", (mine,)).fetchall(),
        "groups": q("SELECT * FROM ticket_groups WHERE id LIKE ? ORDER BY id", (mine,)).fetchall(),
        "facts": q(
            f"SELECT {fcols} FROM ticket_facts f WHERE f.ticket_id LIKE ? ORDER BY f.ticket_id",
            (mine,),
        ).fetchall(),
        "cursor": store.get_cursor(inst),
    }


@pytest.fixture
def two_stores(store_factory: StoreFactory, tmp_path: Any) -> Iterator[tuple[Store, Store]]:
    """The store under test and a second one for the reference path, with one privacy salt
    (pseudonyms of forgotten people depend on it)."""
    new = store_factory()
    if store_factory.pg is not None:
        ref = open_store(store_factory.pg.url, schema=store_factory.pg.schema + "_ref")
    else:
        ref = open_store(tmp_path / "reference.db")
    with new.transaction() as cur:
        salt = privacy.salt(cur, create=True)
    with ref.transaction() as cur:
        cur.execute(
            "INSERT INTO plugin_state (instance, key, value, updated_at) VALUES (?, ?, ?, ?)",
            (privacy.SALT_INSTANCE, privacy.SALT_KEY, codec.dumps(salt), 0),
        )
    yield new, ref
    new.close()
    if store_factory.pg is not None:
        ref.conn.execute(f'DROP SCHEMA "{store_factory.pg.schema}_ref" CASCADE')
    ref.close()


def same_after_every_page(new: Store, ref: Store, specs: list[tuple[Any, ...]]) -> None:
    inst = f"b{next(_instances)}"
    for step in pages(inst, specs):
        if step == "forget":
            forget(new, f"{inst}:a1")
            forget(ref, f"{inst}:a1")
            continue
        assert isinstance(step, Page)
        got, want = new.upsert_page(inst, step), old_upsert_page(ref, inst, step)
        assert got == want
        assert snapshot(new, inst) == snapshot(ref, inst)


@pytest.mark.parametrize(
    "store_factory",
    ["sqlite", pytest.param("postgresql", marks=[pytest.mark.server, pytest.mark.slow])],
    indirect=True,
)
@given(specs=HELPDESK)
def test_a_batched_sync_leaves_the_store_the_old_path_left(
    two_stores: tuple[Store, Store], specs: list[tuple[Any, ...]], monkeypatch: Any
) -> None:
    monkeypatch.setattr(bulk, "COPY_MIN", 0)  # every PostgreSQL write through COPY
    same_after_every_page(*two_stores, specs)


def test_a_batched_sync_leaves_the_store_the_old_path_left_seeded(
    two_stores: tuple[Store, Store], seeded_random: Any, monkeypatch: Any
) -> None:
    """Three helpdesks of seeded random shape (the generated version on PostgreSQL is slow)."""
    monkeypatch.setattr(bulk, "COPY_MIN", 0)
    rnd = seeded_random
    kinds, roles = list(EventKind), [Role.REQUESTER, Role.AGENT, Role.SYSTEM, None]
    statuses = [s.value for s in Status]
    for _ in range(3):
        specs = []
        for _ in range(rnd.randint(1, 5)):
            events = [
                (rnd.choice(kinds), rnd.randint(-90, 5000), rnd.choice(roles),
                 rnd.choice([True, False, None]), rnd.choice(["r1", "a1", "a2", None]),
                 rnd.choice(statuses), rnd.choice(statuses), "csat", rnd.choice([None, 4, "5"]))
                for _ in range(rnd.randint(0, 12))
            ]  # fmt: skip
            specs.append((rnd.randint(0, 9000), rnd.choice(list(Status)),
                          rnd.choice([None, 600]), rnd.choice([None, "a1", "a2"]),
                          rnd.choice(list(Priority)), events, rnd.randint(0, 12)))  # fmt: skip
        same_after_every_page(*two_stores, specs)


def test_a_page_refreshes_facts_with_one_call(
    store_factory: StoreFactory, monkeypatch: Any
) -> None:
    """The facts refresh is one call per page (where a columnar sidecar can hook), with every
    ticket the page changed: new, updated, and those whose events came alone."""
    store = store_factory()
    kinds = [
        (Status.OPEN, Priority.HIGH),
        (Status.SOLVED, Priority.LOW),
        (Status.NEW, Priority.LOW),
    ]
    desk = build_helpdesk("one", [(0, s, None, None, p, [], 0) for s, p in kinds])
    calls: list[list[str]] = []
    real = stored.refresh

    def spy(cur: Any, ids: Any, known: Any = None) -> int:
        calls.append(sorted([*ids, *(known or {})]))
        return real(cur, ids, known)

    monkeypatch.setattr(stored, "refresh", spy)
    tickets = [t for t, _, _ in desk]
    store.upsert_page("one", Page(tickets=tickets, people=people("one")))
    changed = replace(tickets[0], subject="changed")
    lone = Event("one:1-x", tickets[1].id, EventKind.COMMENT, tickets[1].created_at)
    store.upsert_page("one", Page(tickets=[changed], events=[lone]))
    assert calls == [sorted(t.id for t in tickets), sorted([tickets[0].id, tickets[1].id])]
