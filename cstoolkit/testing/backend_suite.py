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

Pagination and resume: every page's cursor resumes without losing a later ticket (duplicates
are allowed: timestamp-based vendors re-read an overlap window); ``since`` loses nothing updated
at or after it; a garbage cursor either restarts the read from the beginning or raises
:class:`~cstoolkit.errors.BackendError` (set :attr:`BackendBehaviour.garbage_cursor` to pin
which). Errors: writing to a missing ticket raises BackendError; ``fetch`` of a missing one is
None. A ``read_only`` instance is never written (the push engine refuses, mirror refuses it as a
target). The sync engine (locks, summary, ``--full`` reconciliation) runs over the backend too.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.errors import BackendError, CapabilityError, ConflictError
from cstoolkit.model import Status, Ticket
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    CONFLICT_CHECK,
    KNOWN_CAPABILITIES,
    TICKETS_CREATE,
    TICKETS_READ,
    TICKETS_WRITE,
    Backend,
    Changes,
    CheckResult,
    Comment,
    NewTicket,
    Page,
    Setting,
)
from cstoolkit.store import Store, open_store


def store_snapshot(store: Store) -> dict[str, Any]:
    """Everything a sync writes, in a comparable form (cursors and sync times excluded)."""
    return store.synced_rows()


class BackendBehaviour:
    """Subclass (as ``TestSomething``) and implement :meth:`make_backend`."""

    #: How many distinct tickets a full pull of the fixture data yields (None: don't check).
    expected_tickets: int | None = None
    #: What a garbage cursor does: "restart" (reads from the beginning), "raise"
    #: (BackendError), or None to accept either.
    garbage_cursor: str | None = None
    #: An external id that does not exist in the fixture data.
    missing_id: str = "987654321"

    def make_backend(self, tmp_path: Path) -> Backend:
        """Return a backend over a fixed data set of several pages."""
        raise NotImplementedError

    def change_upstream(self, backend: Backend, external_id: str) -> None:
        """Change a ticket behind the toolkit's back (for conflict tests); skip if impossible."""
        pytest.skip(
            "this suite subclass cannot change tickets upstream; "
            "to enable: override change_upstream() in it"
        )

    # -- helpers -------------------------------------------------------------------------------

    def _pages(self, backend: Backend, cursor: str | None = None) -> list[Page]:
        try:
            return list(backend.pull(cursor))
        finally:
            backend.close()

    def _sync(self, backend: Backend, store: Store, max_pages: int | None = None) -> int:
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
            pytest.skip(
                "fixture data fits one page; resume needs at least two; "
                "to enable: make make_backend() serve at least two pages"
            )
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
            pytest.skip(
                f"backend does not declare {capability}; "
                f"to enable: implement it and add {capability!r} to its capabilities"
            )

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

    # -- pagination, resume, since -------------------------------------------------------------

    def _ids(self, pages: list[Page]) -> set[str]:
        return {t.id for p in pages for t in p.tickets}

    def test_every_page_cursor_resumes_without_loss(self, tmp_path: Path) -> None:
        pages = self._pages(self.make_backend(tmp_path))
        if len(pages) < 2:
            pytest.skip(
                "fixture data fits one page; resume needs at least two; "
                "to enable: make make_backend() serve at least two pages"
            )
        for n, page in enumerate(pages[:-1]):
            if page.cursor is None:
                continue  # no checkpoint after this page
            later = self._ids(pages[n + 1 :])
            resumed = self._ids(self._pages(self.make_backend(tmp_path), page.cursor))
            lost = later - resumed
            assert not lost, f"resuming after page {n + 1} lost {sorted(lost)[:5]}"

    def test_garbage_cursor_restarts_or_raises(self, tmp_path: Path) -> None:
        full = self._ids(self._pages(self.make_backend(tmp_path)))
        try:
            pages = self._pages(self.make_backend(tmp_path), '\x00{"garbage": cursor')
        except BackendError as exc:
            assert self.garbage_cursor in (None, "raise"), "expected the read to restart"
            assert str(exc), "the error needs a message"
            return
        assert self.garbage_cursor in (None, "restart"), "expected BackendError"
        assert pages and pages[-1].cursor is not None
        assert self._ids(pages) == full, "a restart after a garbage cursor must read everything"

    def test_since_loses_nothing_after_it(self, tmp_path: Path) -> None:
        tickets = [t for p in self._pages(self.make_backend(tmp_path)) for t in p.tickets]
        if not tickets:
            pytest.fail("the fixture data has no tickets")
        stamps = sorted(t.updated_at for t in tickets)
        since = stamps[len(stamps) // 2]
        backend = self.make_backend(tmp_path)
        try:
            got = self._ids(list(backend.pull(None, since=since)))
        finally:
            backend.close()
        wanted = {t.id for t in tickets if t.updated_at >= since}
        assert wanted <= got, f"since={since} lost {sorted(wanted - got)[:5]}"

    # -- errors --------------------------------------------------------------------------------

    def test_apply_on_missing_ticket_raises(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        self._require(backend, TICKETS_WRITE)
        try:
            with pytest.raises(BackendError) as err:
                backend.apply(self.missing_id, Changes(priority="low"))
            assert self.missing_id in str(err.value)
        finally:
            backend.close()

    def test_fetch_of_missing_ticket_is_none(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        try:
            assert backend.fetch(self.missing_id) is None
        except NotImplementedError:
            pytest.skip("backend does not implement fetch; to enable: implement Backend.fetch()")
        finally:
            backend.close()

    def test_unknown_marker_is_not_found(self, tmp_path: Path) -> None:
        backend = self.make_backend(tmp_path)
        self._require(backend, TICKETS_CREATE)
        try:
            assert backend.find_by_marker("cst-suite-no-such-marker") is None
        finally:
            backend.close()

    def test_stats_are_numbers(self, tmp_path: Path) -> None:
        from cstoolkit.sync import STAT_FIELDS

        backend = self.make_backend(tmp_path)
        stats = getattr(backend, "stats", None)
        if stats is None:
            pytest.skip(
                "backend exposes no stats; to enable: give it a `stats` attribute (HttpStats)"
            )
        self._pages(backend)
        for name in STAT_FIELDS:
            value = getattr(stats, name)
            assert isinstance(value, (int, float)) and value >= 0, name

    # -- read_only -----------------------------------------------------------------------------

    def test_read_only_instance_is_never_written(self, tmp_path: Path) -> None:
        from cstoolkit import mirror, push

        backend = self.make_backend(tmp_path)
        self._require(backend, TICKETS_WRITE)
        store = open_store(tmp_path / "store.db")
        self._sync(self.make_backend(tmp_path), store)
        ticket = self._first_ticket(tmp_path)
        backend.config["read_only"] = True
        changes = Changes(add_tags=["cst-read-only"])
        if COMMENTS_WRITE in backend.capabilities:
            changes.comments.append(Comment("must never be written", public=False))
        push.plan(store, [push.PlannedChange(ticket.id, changes, "suite")])
        result = push.push(store, lambda _name: backend)
        assert (result.refused, result.applied) == (1, 0)
        assert "read_only" in (result.results[0].reason or "")
        after = {t.id: t for p in self._pages(self.make_backend(tmp_path)) for t in p.tickets}
        assert "cst-read-only" not in after[ticket.id].tags
        ro = self.make_backend(tmp_path)
        ro.config["read_only"] = True
        with pytest.raises(CapabilityError):
            mirror.check_target(ro)
        store.close()

    # -- the sync engine over this backend -----------------------------------------------------

    def test_engine_pull_is_idempotent_and_locked(self, tmp_path: Path) -> None:
        from cstoolkit import sync
        from cstoolkit.store.locks import list_locks

        store = open_store(tmp_path / "store.db")
        first = sync.pull(store, self.make_backend(tmp_path))
        assert first.outcome == "ok" and first.pages >= 1
        if self.expected_tickets is not None:
            assert first.stats.inserted == self.expected_tickets
        assert list_locks(store) == [], "the sync lock must be released"
        second = sync.pull(store, self.make_backend(tmp_path))
        assert second.stats.inserted == 0 and second.stats.updated == 0
        store.close()

    def test_engine_full_pull_marks_vanished_tickets_deleted(self, tmp_path: Path) -> None:
        from cstoolkit import sync

        store = open_store(tmp_path / "store.db")
        backend = self.make_backend(tmp_path)
        sync.pull(store, backend)
        ghost = self._first_ticket(tmp_path)
        ghost.id = f"{backend.instance}:cst-suite-ghost"
        ghost.external_id = "cst-suite-ghost"
        store.upsert_page(backend.instance, Page(tickets=[ghost]))
        summary = sync.pull(store, self.make_backend(tmp_path), full=True)
        assert summary.reconciled and summary.stats.deleted == 1
        live = {t.id for t, _ in store.select(instance=backend.instance)}
        assert ghost.id not in live
        if self.expected_tickets is not None:
            assert len(live) == self.expected_tickets
        store.close()
