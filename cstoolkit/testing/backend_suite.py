"""The backend behaviour suite: the tests every ticketing backend must pass.

A plugin's tests subclass :class:`BackendBehaviour` and say how to build a backend over a known
data set; pytest then runs every ``test_*`` method here against it::

    class TestMyBackend(BackendBehaviour):
        expected_tickets = 120

        def make_backend(self, tmp_path):
            return MyBackend("mine", {...}, MemoryKeyValue("mine"))

Write tests are skipped unless the backend declares the capability; a capability declared but
not honoured fails. The suite grows with the project (pagination, resume, rate limits, errors);
``cstoolkit.testing`` publishes it for third-party plugins.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.errors import ConflictError
from cstoolkit.model import Status, Ticket
from cstoolkit.plugin import (
    CONFLICT_CHECK,
    KNOWN_CAPABILITIES,
    TICKETS_CREATE,
    TICKETS_READ,
    TICKETS_WRITE,
    Backend,
    Changes,
    CheckResult,
    NewTicket,
    Page,
    Setting,
)
from cstoolkit.store import SQLiteStore, open_store


def store_snapshot(store: SQLiteStore) -> dict[str, Any]:
    """Everything a sync writes, in a comparable form (cursors and sync times excluded)."""
    conn = store.conn
    return {
        "tickets": conn.execute(
            "SELECT id, status, priority, channel, requester_id, assignee_id, group_id, tags, "
            "created_at, updated_at, solved_at, custom_fields, raw, deleted FROM tickets ORDER BY id"
        ).fetchall(),
        "tags": conn.execute("SELECT ticket_id, tag FROM ticket_tags ORDER BY 1, 2").fetchall(),
        "events": conn.execute(
            "SELECT id, ticket_id, kind, at, author_id, author_role, public, body, old, new, data "
            "FROM events ORDER BY id"
        ).fetchall(),
        "people": conn.execute("SELECT * FROM people ORDER BY id").fetchall(),
        "groups": conn.execute("SELECT * FROM ticket_groups ORDER BY id").fetchall(),
    }


class BackendBehaviour:
    """Subclass (as ``TestSomething``) and implement :meth:`make_backend`."""

    #: How many distinct tickets a full pull of the fixture data yields (None: don't check).
    expected_tickets: int | None = None

    def make_backend(self, tmp_path: Path) -> Backend:
        """Return a backend over a fixed data set of several pages."""
        raise NotImplementedError

    def change_upstream(self, backend: Backend, external_id: str) -> None:
        """Change a ticket behind the toolkit's back (for conflict tests); skip if impossible."""
        pytest.skip("this suite subclass cannot change tickets upstream")

    # -- helpers -------------------------------------------------------------------------------

    def _pages(self, backend: Backend, cursor: str | None = None) -> list[Page]:
        try:
            return list(backend.pull(cursor))
        finally:
            backend.close()

    def _sync(self, backend: Backend, store: SQLiteStore, max_pages: int | None = None) -> int:
        pages = 0
        try:
            for page in backend.pull(store.get_cursor(backend.instance)):
                store.upsert_page(backend.instance, page)
                pages += 1
                if max_pages is not None and pages >= max_pages:
                    break
        finally:
            backend.close()
        return pages

    def _first_ticket(self, tmp_path: Path) -> Ticket:
        for page in self._pages(self.make_backend(tmp_path)):
            if page.tickets:
                return page.tickets[0]
        pytest.fail("the fixture data has no tickets")

    # -- declaration ---------------------------------------------------------------------------

    def test_declaration(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        cls = type(backend)
        assert cls.name, "a backend class needs a name"
        assert TICKETS_READ in cls.capabilities
        assert set(cls.capabilities) <= KNOWN_CAPABILITIES
        assert all(isinstance(s, Setting) for s in cls.settings)
        assert len({s.name for s in cls.settings}) == len(cls.settings)

    def test_check_returns_a_verdict(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        verdict = backend.check()
        assert isinstance(verdict, CheckResult)
        assert verdict.detail

    def test_secrets_not_in_repr(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        for spec in type(backend).settings:
            value = backend.config.get(spec.name)
            if spec.secret and isinstance(value, str) and value:
                assert value not in repr(backend)
                assert value not in str(vars(backend).get("stats", ""))

    # -- pull ----------------------------------------------------------------------------------

    def test_full_pull_is_well_formed(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        pages = self._pages(backend)
        assert pages, "pull must yield at least one page"
        assert pages[-1].cursor is not None, "the last page must carry a cursor to resume from"
        ids = [t.id for p in pages for t in p.tickets]
        assert len(ids) == len(set(ids)), "a static source must not repeat tickets"
        if self.expected_tickets is not None:
            assert len(ids) == self.expected_tickets
        prefix = backend.instance + ":"
        for page in pages:
            for t in page.tickets:
                assert t.id.startswith(prefix) and t.external_id == t.id[len(prefix) :]
                for stamp in (t.created_at, t.updated_at, t.solved_at):
                    assert stamp is None or stamp.utcoffset() == timedelta(0)
                assert t.updated_at >= t.created_at
            for e in page.events:
                assert e.id.startswith(prefix) and e.ticket_id.startswith(prefix)
                assert e.at.utcoffset() == timedelta(0)
            for p in page.people:
                assert p.id.startswith(prefix)

    def test_second_pull_finds_nothing_new(self, tmp_path: Path) -> None:
        store = open_store(tmp_path / "store.db")
        self._sync(self.make_backend(tmp_path), store)
        before = store_snapshot(store)
        backend = self.make_backend(tmp_path)
        for page in backend.pull(store.get_cursor(backend.instance)):
            stats = store.upsert_page(backend.instance, page)
            assert stats.inserted == 0 and stats.updated == 0
        assert store_snapshot(store) == before

    def test_interrupted_sync_resumes_to_the_same_store(self, tmp_path: Path) -> None:
        full = open_store(tmp_path / "full.db")
        pages = self._sync(self.make_backend(tmp_path), full)
        if pages < 2:
            pytest.skip("fixture data fits one page; resume needs at least two")
        for stop_after in range(1, pages):
            part = open_store(tmp_path / f"part{stop_after}.db")
            self._sync(self.make_backend(tmp_path), part, max_pages=stop_after)
            self._sync(self.make_backend(tmp_path), part)  # a new run resumes from the cursor
            assert store_snapshot(part) == store_snapshot(full), f"resume after {stop_after}"
            part.close()

    def test_full_pull_ignores_cursor(self, tmp_path: Path) -> None:
        store = open_store(tmp_path / "store.db")
        self._sync(self.make_backend(tmp_path), store)
        backend = self.make_backend(tmp_path)
        try:
            pages = list(backend.pull(store.get_cursor(backend.instance), full=True))
        finally:
            backend.close()
        count = sum(len(p.tickets) for p in pages)
        if self.expected_tickets is not None:
            assert count == self.expected_tickets
        assert count > 0

    # -- write ---------------------------------------------------------------------------------

    def _require(self, backend: Backend, capability: str) -> None:
        if capability not in backend.capabilities:
            pytest.skip(f"backend does not declare {capability}")

    def test_apply_is_idempotent(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        self._require(backend, TICKETS_WRITE)
        ticket = self._first_ticket(tmp_path)
        target = "urgent" if str(ticket.priority) != "urgent" else "low"
        changes = Changes(priority=target, add_tags=["cst-suite"])
        first = backend.apply(ticket.external_id, changes)
        assert first.changed
        second = backend.apply(ticket.external_id, Changes(priority=target, add_tags=["cst-suite"]))
        assert not second.changed, "applying the same change twice must change nothing more"
        after = {t.id: t for p in self._pages(self.make_backend(tmp_path)) for t in p.tickets}
        assert str(after[ticket.id].priority) == target
        assert "cst-suite" in after[ticket.id].tags

    def test_status_change_is_seen_by_the_next_pull(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        self._require(backend, TICKETS_WRITE)
        store = open_store(tmp_path / "store.db")
        self._sync(self.make_backend(tmp_path), store)
        ticket = self._first_ticket(tmp_path)
        target = Status.PENDING if ticket.status != Status.PENDING else Status.OPEN
        assert backend.apply(ticket.external_id, Changes(status=str(target))).changed
        self._sync(self.make_backend(tmp_path), store)
        stored = store.get_ticket(ticket.id)
        assert stored is not None and stored.status == target

    def test_conflict_check_is_honest(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        self._require(backend, CONFLICT_CHECK)
        ticket = self._first_ticket(tmp_path)
        self.change_upstream(backend, ticket.external_id)
        stale = Changes(priority="low", expected_updated_at=ticket.updated_at)
        with pytest.raises(ConflictError):
            backend.apply(ticket.external_id, stale)

    def test_create_and_find_by_marker(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        self._require(backend, TICKETS_CREATE)
        new = NewTicket(
            subject="Suite ticket",
            description="Created by the behaviour suite",
            requester_email="suite@example.org",
            marker="cst-suite-marker-1",
        )
        external_id = backend.create(new)
        assert external_id
        assert backend.find_by_marker("cst-suite-marker-1") == external_id
        pulled = {
            t.external_id: t for p in self._pages(self.make_backend(tmp_path)) for t in p.tickets
        }
        assert pulled[external_id].subject == "Suite ticket"
