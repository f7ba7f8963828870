"""Ledger leases and fencing across processes (SQLite and a real PostgreSQL server).

A reservation belongs to its live owner: no other process takes it over while its lease runs,
whatever happened to the run lock; once the lease expired another run may take it over, and
the old owner's fencing check then fails, so it never acts on it.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pytest

from cstoolkit.store.ledger import IN_DOUBT, RESERVED, Ledger
from tests.conftest import StoreFactory

_ctx = multiprocessing.get_context("fork")
KEY = "csat/desk:1"


def _owner(factory: StoreFactory, ready: Any, go: Any, out: Any) -> None:
    store = factory()
    owner = Ledger(store, "survey", "owner-run", lease=2)
    assert owner.reserve(KEY)
    assert owner.confirm(KEY), "the owner holds what it reserved"
    ready.set()
    go.wait(30)  # it stalls (a long GC pause, SIGSTOP, a hung DNS lookup) past its lease
    out.put((owner.confirm(KEY), owner.fail(KEY, "too late"), owner.holder(KEY)))
    store.close()


@pytest.mark.slow_on_postgresql
def test_a_live_reservation_is_nobodys_orphan_and_a_stale_owner_is_fenced(
    store_factory: StoreFactory,
) -> None:
    store_factory().close()
    ready, go, out = _ctx.Event(), _ctx.Event(), _ctx.Queue()
    owner = _ctx.Process(target=_owner, args=(store_factory, ready, go, out))
    owner.start()
    assert ready.wait(60)
    store = store_factory()
    other = Ledger(store, "survey", "other-run")
    entry = other.get(KEY)
    assert entry is not None and entry.state == RESERVED
    assert other.orphans() == [], "a live owner's reservation is no orphan"
    assert not other.take_over(entry) and not other.mark_in_doubt(KEY, "no")
    assert not other.reserve(KEY)
    time.sleep(3.2)  # the owner's lease (2 s) runs out
    (orphan,) = other.orphans()
    assert other.take_over(orphan), "an expired reservation may be taken over"
    assert not Ledger(store, "survey", "third-run").take_over(orphan), "by one run only"
    go.set()
    confirmed, failed, why = out.get(timeout=60)
    owner.join(30)
    assert owner.exitcode == 0
    assert not confirmed, "the stale owner's fencing check fails: it does not send"
    assert not failed, "nor may it settle what is no longer its own"
    assert "other-ru" in why
    assert other.mark_in_doubt(KEY, "taken over after the owner's lease expired")
    final = other.get(KEY)
    assert final is not None and final.state == IN_DOUBT
    store.close()


def test_the_owner_renews_its_lease_while_it_works(store_factory: StoreFactory) -> None:
    store = store_factory()
    owner = Ledger(store, "triage", "owner", lease=2)
    assert owner.reserve("note:1") and owner.reserve("note:2")
    for _ in range(4):
        time.sleep(0.8)
        owner.keep_alive()  # called from the owner's loop
    assert Ledger(store, "triage", "other").orphans() == [], "renewed: still the owner's"
    assert owner.renew() == 2
    store.close()
