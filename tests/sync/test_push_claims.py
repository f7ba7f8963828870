"""Two pushers on one queue never post a comment twice: claims, leases, fencing, kill -9.

Real processes (forked, each with its own store connection, as on two hosts) push the same
queue of planned comments to one local helpdesk file, on SQLite and on a real PostgreSQL
server. The helpdesk is the counting backend: every comment posted is an event in its file.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path
from random import Random
from typing import Any

import pytest

from cstoolkit import push
from cstoolkit.builtin.local import LocalBackend
from cstoolkit.plugin import Changes, Comment
from cstoolkit.store import planned
from cstoolkit.sync import pull
from tests.conftest import StoreFactory
from tests.sync.conftest import sample

_ctx = multiprocessing.get_context("fork")


class SlowDesk(LocalBackend):
    """The local backend with the latency of a real API around each write."""

    pause = 0.05

    def apply(self, external_id: str, changes: Changes) -> Any:
        time.sleep(self.pause)
        result = super().apply(external_id, changes)
        time.sleep(self.pause)
        return result


def _desk(path: Path, pause: float = 0.05) -> SlowDesk:
    desk = SlowDesk("desk", {"path": str(path)}, None)
    desk.pause = pause
    return desk


def _queue(tmp_path: Path, stores: StoreFactory, n: int) -> list[str]:
    """A synced store and ``n`` planned comments (one per ticket); returns their bodies."""
    sample(tmp_path / "desk.jsonl", 30)
    store = stores()
    pull(store, LocalBackend("desk", {"path": str(tmp_path / "desk.jsonl")}, None))
    tickets = [t for t, _ in store.select(instance="desk")][:n]
    bodies = [f"note {i} for {t.id}" for i, t in enumerate(tickets)]
    push.plan(
        store,
        [
            push.PlannedChange(t.id, Changes(comments=[Comment(body, public=False)]), "test")
            for t, body in zip(tickets, bodies, strict=True)
        ],
    )
    store.close()
    return bodies


def _posted(path: Path) -> Counter[str]:
    """Comment bodies on the helpdesk: the last version of each ticket's record."""
    last: dict[str, dict[str, Any]] = {}
    for line in path.read_text("utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("type", "ticket") == "ticket" and "id" in rec:
            last[str(rec["id"])] = rec
    return Counter(
        e.get("body", "")
        for rec in last.values()
        for e in rec.get("events") or []
        if e.get("kind") == "comment" and str(e.get("body", "")).startswith("note ")
    )


def _pusher(stores: StoreFactory, path: Path, lease: int, stall: float, start: Any, out: Any):
    store = stores()
    start.wait(30)

    def backend_for(_name: str) -> SlowDesk:
        time.sleep(stall)  # a pusher that stalls after claiming (a pause longer than its lease)
        return _desk(path)

    summary = push.push(store, backend_for, lease=lease)
    store.close()
    out.put((os.getpid(), summary.applied, len(summary.fenced), len(summary.in_doubt)))


def _race(stores: StoreFactory, path: Path, stalls: list[float], lease: int = 600) -> list[Any]:
    start, out = _ctx.Barrier(len(stalls)), _ctx.Queue()
    procs = [
        _ctx.Process(target=_pusher, args=(stores, path, lease, stall, start, out))
        for stall in stalls
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0, "a pusher failed (see its traceback above)"
    return results


def test_two_pushers_at_once_post_each_comment_once(
    tmp_path: Path, store_factory: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cst sync push` and `cst triage run --apply` (which takes no push lock) at once."""
    monkeypatch.setattr(push, "CLAIM_BATCH", 3)  # small claims, so both pushers get some
    bodies = _queue(tmp_path, store_factory, 12)
    results = _race(store_factory, tmp_path / "desk.jsonl", [0.0, 0.0])
    posted = _posted(tmp_path / "desk.jsonl")
    assert set(posted) == set(bodies), "every comment was posted"
    assert set(posted.values()) == {1}, f"a comment was posted twice: {posted}"
    applied = [r[1] for r in results]
    assert sum(applied) == len(bodies) and all(applied), "both pushers took part, disjointly"
    store = store_factory()
    states = Counter(e.state for e in push.entries(store))
    assert states == Counter({push.APPLIED: len(bodies)})
    actions = Counter(e["action"] for e in store.audit_entries())
    assert actions == Counter({"push.applied": len(bodies)}), "one audit entry per change"


@pytest.mark.slow_on_postgresql
def test_a_pusher_that_outlives_its_claim_is_fenced(
    tmp_path: Path, store_factory: StoreFactory
) -> None:
    """The first pusher claims everything and stalls past its lease; the second takes the
    changes over and posts them; the first, waking, posts nothing."""
    bodies = _queue(tmp_path, store_factory, 5)
    path = tmp_path / "desk.jsonl"
    start, out = _ctx.Barrier(1), _ctx.Queue()
    stalled = _ctx.Process(target=_pusher, args=(store_factory, path, 1, 6.0, start, out))
    stalled.start()
    time.sleep(2.2)  # it claimed at once; its one-second lease is over
    store = store_factory()
    taker = push.push(store, lambda _n: _desk(path, 0.0), lease=600)
    assert taker.applied == len(bodies) and not taker.in_doubt
    _pid, applied, fenced, _doubt = out.get(timeout=60)
    stalled.join(30)
    assert (applied, fenced) == (0, len(bodies))
    posted = _posted(path)
    assert set(posted) == set(bodies) and set(posted.values()) == {1}
    store.close()


def _push_until_killed(stores: StoreFactory, path: Path, ready: Any) -> None:
    store = stores()
    ready.set()
    push.push(store, lambda _n: _desk(path, 0.08), lease=3)


def _kill_at_random_point(tmp_path: Path, stores: StoreFactory, rng: Random) -> int:
    """kill -9 a pusher at a random moment; a second pusher after its lease. Returns how many
    comments ended in doubt; asserts none was posted twice."""
    bodies = _queue(tmp_path, stores, 8)
    path = tmp_path / "desk.jsonl"
    ready = _ctx.Event()
    victim = _ctx.Process(target=_push_until_killed, args=(stores, path, ready))
    victim.start()
    assert ready.wait(60)
    time.sleep(rng.uniform(0.05, 8 * 0.16))  # anywhere in its run: claimed, sending, between
    os.kill(victim.pid or 0, signal.SIGKILL)
    victim.join(30)
    store = stores()
    early = push.push(store, lambda _n: _desk(path, 0.0))  # most likely within its lease
    time.sleep(3.2)  # its claims' lease (3 s) ran out
    later = push.push(store, lambda _n: _desk(path, 0.0))
    posted = _posted(path)
    assert set(posted.values()) <= {1}, f"a comment was posted twice: {posted}"
    assert not early.fenced and not later.fenced
    doubtful = {e.changes.comments[0].body for e in [*early.in_doubt, *later.in_doubt]}
    assert len(doubtful) <= 1, "at most the change in flight is in doubt"
    assert set(posted) | doubtful == set(bodies), "every comment posted once or reported"
    states = Counter(e.state for e in push.entries(store))
    assert states == Counter({push.APPLIED: len(bodies) - len(doubtful)}) + Counter(
        {push.IN_DOUBT: len(doubtful)}
    )
    listed = push.queue(store)
    assert [e.state for e in listed] == [push.IN_DOUBT] * len(doubtful), "shown in the queue"
    if doubtful:  # the operator checks the ticket, then asks for it again on purpose
        assert push.resend_in_doubt(store) == 1
        assert planned.select(store, states=[push.PENDING])
    store.close()
    return len(doubtful)


@pytest.mark.slow_on_postgresql
def test_kill_9_pusher_at_a_random_point_never_posts_twice(
    tmp_path: Path, store_factory: StoreFactory, seeded_random: Random
) -> None:
    _kill_at_random_point(tmp_path, store_factory, seeded_random)


@pytest.mark.slow
def test_kill_9_pusher_at_many_random_points_never_posts_twice(
    tmp_path: Path, store_factory: StoreFactory, seeded_random: Random
) -> None:
    doubts = 0
    for trial in range(10):
        if store_factory.pg is None:
            stores = StoreFactory("sqlite", tmp_path / f"s{trial}.db")
        else:
            stores = StoreFactory(
                "postgresql", tmp_path, type(store_factory.pg)(store_factory.pg.url,
                                                               f"{store_factory.pg.schema}_{trial}")
            )  # fmt: skip
        (tmp_path / str(trial)).mkdir()
        doubts += _kill_at_random_point(tmp_path / str(trial), stores, seeded_random)
    print(f"10 kill points: {doubts} comment(s) in doubt, none posted twice")


@pytest.mark.server
def test_claims_do_not_wait_for_the_store_write_lock_on_postgresql(
    tmp_path: Path, pg_target: Any
) -> None:
    """FOR UPDATE SKIP LOCKED: a claim proceeds while another host holds a long write
    transaction (a sync page), and two claimers get disjoint rows."""
    stores = StoreFactory("postgresql", tmp_path / "s.db", pg_target)
    _queue(tmp_path, stores, 10)
    holding, release = _ctx.Event(), _ctx.Event()

    def hold() -> None:
        store = stores()
        with store.transaction():
            holding.set()
            release.wait(30)

    holder = _ctx.Process(target=hold)
    holder.start()
    assert holding.wait(30)
    try:
        a, b = stores(), stores()
        started = time.monotonic()
        first = planned.claim(a, "pusher-a", 600, limit=4)
        second = planned.claim(b, "pusher-b", 600, limit=4)
        assert time.monotonic() - started < 5, "claims waited for the write lock"
    finally:
        release.set()
        holder.join(30)
    assert len(first) == len(second) == 4
    assert not {r.id for r in first} & {r.id for r in second}
