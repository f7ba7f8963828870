"""Several processes on one store, each with its own connection, as on several hosts.

Each test runs on SQLite and on a real PostgreSQL server (``store_factory``). The processes are
real (forked), the connections are theirs, and crashes are SIGKILLs.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from typing import Any

import pytest

from cstoolkit.errors import BusyError
from cstoolkit.store.ledger import Ledger
from cstoolkit.store.locks import Lock, list_locks
from tests.conftest import StoreFactory

KEYS = [f"ticket-{i}:cycle-1" for i in range(300)]
_ctx = multiprocessing.get_context("fork")


def _race(target: Any, factory: StoreFactory, *args: Any, n: int = 2) -> list[Any]:
    """Run ``target(factory, *args, start, out)`` in ``n`` forked processes that begin together
    (``start`` is a barrier); return what each put on ``out``, after all exited cleanly."""
    start, out = _ctx.Barrier(n), _ctx.Queue()
    procs = [_ctx.Process(target=target, args=(factory, *args, start, out)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
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
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    ready = _ctx.Event()
    child = _ctx.Process(target=_take_lock_and_die, args=(store_factory, "host-b", 3, ready))
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
    time.sleep(3.5)
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
