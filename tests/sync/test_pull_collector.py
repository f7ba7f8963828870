"""The sync engine runs Python's cyclic collector less often while it pulls (a page's many
short-lived objects are freed by reference counting) and puts the collector's setting back
afterwards, whether the pull succeeds or fails."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from cstoolkit import sync
from cstoolkit.builtin.local import LocalBackend
from cstoolkit.errors import StoreError
from cstoolkit.model import Page
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue


def _helpdesk(path: Path, tickets: int) -> Path:
    event = {"kind": "comment", "at": "2026-03-02T09:05:00Z", "role": "agent", "public": True}
    lines = [
        json.dumps({"type": "ticket", "id": str(n), "subject": "s", "status": "open",
                    "created_at": "2026-03-02T09:00:00Z", "events": [event]})
        for n in range(tickets)
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("fails", [False, True])
def test_the_collector_runs_less_often_during_a_pull_and_as_before_after(
    tmp_path: Path, monkeypatch: Any, fails: bool
) -> None:
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
