"""The engine's read-ahead (a backend read by a thread of its own while the store writes):
the same pages in the same order, a backend's error raised after the pages before it were
committed, and no thread or open backend iterator left behind however the pull ends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cstoolkit import sync
from cstoolkit.builtin.local import LocalBackend
from cstoolkit.errors import BackendError, StoreError
from cstoolkit.model import Page
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue


def _pages(n: int, closed: list[bool], fail_at: int | None = None) -> Iterator[Page]:
    try:
        for i in range(n):
            if i == fail_at:
                raise BackendError(f"page {i} failed")
            yield Page(cursor=str(i))
    finally:
        closed.append(True)


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name == "cst-sync-read-ahead"}


@pytest.mark.parametrize("depth", [1, 3])
def test_the_same_pages_in_the_same_order(depth: int) -> None:
    closed: list[bool] = []
    got = [p.cursor for p in sync.read_ahead(_pages(25, closed), depth)]
    assert got == [str(i) for i in range(25)]
    assert closed == [True] and not _threads()


def test_an_error_comes_after_the_pages_before_it() -> None:
    closed: list[bool] = []
    seen = []
    with pytest.raises(BackendError, match="page 4 failed"):
        for page in sync.read_ahead(_pages(10, closed, fail_at=4), 2):
            seen.append(page.cursor)
    assert seen == ["0", "1", "2", "3"]
    assert closed == [True] and not _threads()


def test_a_caller_that_stops_early_stops_the_reader() -> None:
    closed: list[bool] = []
    pages = sync.read_ahead(_pages(1000, closed), 1)
    assert next(pages).cursor == "0"
    pages.close()  # type: ignore[attr-defined]
    assert closed == [True] and not _threads()


def _helpdesk(path: Path, tickets: int) -> Path:
    event = {"kind": "comment", "at": "2026-03-02T09:05:00Z", "role": "agent", "public": True}
    lines = [
        json.dumps({"type": "ticket", "id": str(n), "subject": "s", "status": "open",
                    "created_at": "2026-03-02T09:00:00Z", "events": [event]})
        for n in range(tickets)
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_store_failure_mid_pull_leaves_no_reader_and_keeps_committed_pages(
    tmp_path: Path, monkeypatch: Any
) -> None:
    store = open_store(tmp_path / "s.db")
    backend = LocalBackend(
        "loc", {"path": str(_helpdesk(tmp_path / "h.jsonl", 50)), "page_size": 10},
        MemoryKeyValue("loc"),
    )  # fmt: skip
    assert backend.read_ahead == 1
    real = store.upsert_page
    calls = []

    def failing(instance: str, page: Page) -> Any:
        calls.append(page.cursor)
        if len(calls) == 3:
            raise StoreError("disk full")
        return real(instance, page)

    monkeypatch.setattr(store, "upsert_page", failing)
    with pytest.raises(StoreError, match="disk full"):
        sync.pull(store, backend)
    assert not _threads()
    assert store.counts()["tickets"] == 20  # the two pages committed before the failure
    assert store.get_cursor("loc") == calls[1]


@pytest.mark.parametrize("fails", [False, True])
def test_the_collector_runs_less_often_during_a_pull_and_as_before_after(
    tmp_path: Path, monkeypatch: Any, fails: bool
) -> None:
    import gc

    store = open_store(tmp_path / "s.db")
    backend = LocalBackend(
        "loc", {"path": str(_helpdesk(tmp_path / "h.jsonl", 5))}, MemoryKeyValue("loc")
    )
    before = gc.get_threshold()
    during = []
    real = store.upsert_page

    def spy(instance: str, page: Page) -> Any:
        during.append(gc.get_threshold())
        if fails:
            raise StoreError("disk full")
        return real(instance, page)

    monkeypatch.setattr(store, "upsert_page", spy)
    if fails:
        with pytest.raises(StoreError):
            sync.pull(store, backend)
    else:
        sync.pull(store, backend)
    assert during and all(t[0] >= sync.PULL_GC_THRESHOLD for t in during)
    assert gc.get_threshold() == before
