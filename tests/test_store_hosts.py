"""Several processes on one store, each with its own connection, as on several hosts.

Each test runs on SQLite and on a real PostgreSQL server (``store_factory``), except the last
ones: opening a new SQLite file races on its switch to WAL, which PostgreSQL has no counterpart
of. The processes are real (forked), the connections are theirs, and crashes are SIGKILLs.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import signal
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cstoolkit.errors import BusyError
from cstoolkit.store import locks
from cstoolkit.store import sqlite as sqlite_store
from cstoolkit.store.ledger import Ledger
from cstoolkit.store.locks import Lock, list_locks
from cstoolkit.store.sqlite import SQLiteStore
from tests.conftest import StoreFactory

KEYS = [f"ticket-{i}:cycle-1" for i in range(300)]
_ctx = multiprocessing.get_context("fork")


def _race(
    target: Any,
    factory: StoreFactory,
    *args: Any,
    n: int = 2,
    parent: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Run ``target(factory, *args, start, out)`` in ``n`` forked processes that begin together
    (``start`` is a barrier); return what each put on ``out``, after all exited cleanly.

    ``parent(start)``, if given, runs here once the processes have started, as one more party
    of the barrier. A process that dies fails the race at once, not after a timeout.
    """
    start, out = _ctx.Barrier(n + (parent is not None)), _ctx.Queue()
    procs = [_ctx.Process(target=target, args=(factory, *args, start, out)) for _ in range(n)]
    for p in procs:
        p.start()
    results: list[Any] = []
    deadline = time.monotonic() + 120
    try:
        if parent is not None:
            parent(start)
        while len(results) < n:
            try:
                results.append(out.get(timeout=0.5))
            except queue.Empty:
                failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                assert not failed, "a process failed (see its traceback above)"
                assert time.monotonic() < deadline, "the processes did not finish within 120 s"
    finally:
        for p in procs:
            if p.exitcode is None and len(results) < n:
                p.kill()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0, "a process failed (see its traceback above)"
    return results


def _reserve_all(factory: StoreFactory, start: Any, out: Any) -> None:
    store = factory()
    keys = list(KEYS)
    random.Random(os.getpid()).shuffle(keys)  # each process in its own order
    start.wait(30)  # a barrier: both begin together
    won = []
    for k in keys:
        if Ledger(store, "survey").reserve(k):
            won.append(k)
        time.sleep(0.001)  # interleave, as two busy senders would
    store.close()
    out.put(won)


def test_two_processes_reserve_each_survey_key_once(store_factory: StoreFactory) -> None:
    store_factory().close()  # migrated before the race
    a, b = (set(r) for r in _race(_reserve_all, store_factory))
    assert not a & b, "no key is reserved by both processes"
    assert a | b == set(KEYS), "every key is reserved by one of them"
    assert a and b, "both processes took part in the race"
    store = store_factory()
    assert store.conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0] == len(KEYS)


def _hold_write_transaction(factory: StoreFactory, ready: Any) -> None:
    store = factory()
    with store.transaction() as cur:
        cur.execute("INSERT INTO audit_log (at, actor, action, target, details) "
                    "VALUES (1, 'child', 'held', NULL, '{}')")  # fmt: skip
        ready.set()
        time.sleep(600)  # killed here, mid-transaction, holding the store's write lock


def test_a_writer_killed_mid_transaction_blocks_no_one(store_factory: StoreFactory) -> None:
    store = store_factory()
    ready = _ctx.Event()
    child = _ctx.Process(target=_hold_write_transaction, args=(store_factory, ready))
    child.start()
    assert ready.wait(60)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(30)
    started = time.monotonic()
    store.audit("parent", "after", None, {})
    assert time.monotonic() - started < 10
    actions = [e["action"] for e in store.audit_entries()]
    assert actions == ["after"], "the killed transaction left nothing half-written"


def _take_lock_and_die(factory: StoreFactory, host: str, ttl: int, ready: Any) -> None:
    store = factory()
    lock = Lock(store, "sync:zendesk_main", ttl=ttl)
    lock.host = host
    lock.acquire()
    ready.set()
    time.sleep(600)


def test_a_crashed_holder_on_another_host_blocks_until_its_lease_expires(
    store_factory: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_factory()
    ready = _ctx.Event()
    child = _ctx.Process(target=_take_lock_and_die, args=(store_factory, "host-b", 3600, ready))
    child.start()
    assert ready.wait(60)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(30)
    # The holder is gone, but it was on another host: this host cannot see its process, so the
    # lease decides.
    with pytest.raises(BusyError, match=r"pid \d+ on host-b"):
        Lock(store, "sync:zendesk_main").acquire()
    (info,) = list_locks(store)
    assert info.host == "host-b"
    # Time passes beyond the lease (the locks' clock is moved, not waited for).
    later = info.expires_at + timedelta(seconds=1)
    monkeypatch.setattr(locks, "now", lambda: later)
    taker = Lock(store, "sync:zendesk_main")
    taker.acquire()
    (info,) = list_locks(store)
    assert info.holder == taker.holder


def _contend_for_lock(factory: StoreFactory, start: Any, out: Any) -> None:
    store = factory()
    lock = Lock(store, "run")
    lock.host = f"host-{os.getpid()}"  # as if every process were on its own host
    start.wait(30)
    wins = 0
    for _ in range(40):
        try:
            lock.acquire()
        except BusyError:
            continue
        wins += 1
        held = store.conn.execute("SELECT holder FROM locks WHERE name = 'run'").fetchone()
        assert held[0] == lock.holder
        lock.release()
    out.put(wins)


def test_lock_contention_between_hosts_never_gives_two_holders(
    store_factory: StoreFactory,
) -> None:
    store_factory().close()
    wins = _race(_contend_for_lock, store_factory, n=3)  # a failed assert in one fails the race
    assert sum(wins) >= 3, "the lock was taken, released and taken again"


def _open_and_count(factory: StoreFactory, start: Any, out: Any) -> None:
    start.wait(30)
    store = factory()  # migrates the empty store, racing the other process
    out.put((store.schema_version, sorted(store.applied_versions())))
    store.close()


def test_two_processes_migrating_an_empty_store_at_once_apply_each_migration_once(
    store_factory: StoreFactory,
) -> None:
    from cstoolkit.store.migrations import MIGRATIONS

    results = _race(_open_and_count, store_factory)
    everything = sorted(m.version for m in MIGRATIONS)
    assert results == [(MIGRATIONS[-1].version, everything)] * 2
    store = store_factory()
    rows = store.conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == everything


# -- SQLite: switching a new file to WAL while other processes do the same ----------------------


def _open_new_sqlite(factory: StoreFactory, pauses: list[float], start: Any, out: Any) -> None:
    time.sleep(pauses[start.wait(30)])  # a seeded stagger of 0-2 ms after the barrier
    store = factory()  # a new file: switches it to WAL and migrates it, racing the others
    mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
    out.put((mode, store.schema_version))
    store.close()


@pytest.mark.parametrize(
    "rounds",
    [pytest.param(6, id="6-rounds"), pytest.param(200, id="200-rounds", marks=pytest.mark.slow)],
)
def test_processes_opening_a_new_sqlite_store_at_once_all_open_it(
    tmp_path: Path, seeded_random: random.Random, rounds: int
) -> None:
    """Cron jobs starting in the same second on a store that does not exist yet: each one opens
    it (the switch to WAL is retried, not failed with "database is locked").

    Each round, 2-4 processes open a new file together, after seeded pauses of 0-2 ms; in most
    rounds a first opener (this process) still holds the write lock for a few milliseconds
    after they start, which makes every one of them meet the lock (without the retry, such a
    round fails every time); the others race each other alone.
    """
    from cstoolkit.store.migrations import MIGRATIONS

    latest = MIGRATIONS[-1].version
    for r in range(rounds):
        n = seeded_random.randint(2, 4)
        pauses = [seeded_random.choice((0.0, 0.0, 0.001, 0.002)) for _ in range(n + 1)]
        factory = StoreFactory("sqlite", tmp_path / f"round-{r}.db")
        hold = seeded_random.choice((None, 0.005, 0.02))

        def first_opener(start: Any, path: Path = factory.path, hold: Any = hold) -> None:
            # Connected after the fork: SQLite's locks must not be inherited by the children.
            first = _hold_write_lock(path) if hold is not None else None
            start.wait(30)
            if first is not None:
                time.sleep(hold)
                first.execute("COMMIT")
                first.close()

        modes = _race(_open_new_sqlite, factory, pauses, n=n, parent=first_opener)
        assert modes == [("wal", latest)] * n, f"round {r}"
        store = factory()
        rows = store.conn.execute("SELECT version FROM schema_migrations").fetchall()
        assert sorted(v for (v,) in rows) == sorted(m.version for m in MIGRATIONS), f"round {r}"
        store.close()


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's connection, caught between its own open and its switch to WAL."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_the_switch_to_wal_waits_for_a_racing_opener_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race made deterministic: while another connection holds the write lock, SQLite refuses
    the switch to WAL at once (no busy handler); the store retries until the lock is free."""
    path = tmp_path / "new.db"
    holder = _hold_write_lock(path)
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # the other opener finishes during the first pause
        pauses.append(seconds)
        if holder.in_transaction:
            holder.execute("COMMIT")

    monkeypatch.setattr(
        sqlite_store, "time", SimpleNamespace(sleep=pause, monotonic=time.monotonic)
    )
    store = SQLiteStore(path)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert len(pauses) == 1 and 0 < pauses[0] <= sqlite_store.WAL_RETRY_FIRST
    store.close()
    holder.close()


def test_a_store_locked_longer_than_the_timeout_is_busy_after_bounded_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "new.db"
    holder = _hold_write_lock(path)
    clock = [0.0]
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # time moves only when the store waits
        pauses.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(
        sqlite_store, "time", SimpleNamespace(sleep=pause, monotonic=lambda: clock[0])
    )
    with pytest.raises(BusyError, match=r"new\.db: cannot open the store: .*locked for 30s"):
        SQLiteStore(path, timeout=30.0)
    assert sum(pauses) == pytest.approx(30.0)
    assert max(pauses) <= sqlite_store.WAL_RETRY_MAX
    assert len(pauses) < 200, "backs off: a few hundred attempts at most in 30 s"
    holder.close()
