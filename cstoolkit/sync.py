"""The sync engine: pull pages from a backend into the store, resumably.

Each page's rows and its cursor are committed in one transaction (``Store.upsert_page``), so a
run killed at any point resumes after the last committed page: nothing lost, nothing
duplicated (rows are upserted by qualified id and compared by payload hash).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cstoolkit.errors import CstError
from cstoolkit.plugin import TICKETS_READ, Backend, Page
from cstoolkit.store import SQLiteStore, UpsertStats


@dataclass
class PullSummary:
    instance: str
    pages: int = 0
    fetched: int = 0
    stats: UpsertStats = field(default_factory=UpsertStats)
    seconds: float = 0.0
    outcome: str = "ok"
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "outcome": self.outcome,
            "pages": self.pages,
            "fetched": self.fetched,
            **self.stats.as_dict(),
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


def pull(
    store: SQLiteStore,
    backend: Backend,
    *,
    full: bool = False,
    on_page: Callable[[PullSummary, Page], None] | None = None,
) -> PullSummary:
    """Pull everything changed since the saved cursor (or everything, with ``full``)."""
    if TICKETS_READ not in backend.capabilities:
        from cstoolkit.errors import CapabilityError

        raise CapabilityError(f"backend {backend.instance!r} cannot read tickets")
    summary = PullSummary(backend.instance)
    cursor = None if full else store.get_cursor(backend.instance)
    run_id = store.start_run(backend.instance)
    started = time.monotonic()
    try:
        for page in backend.pull(cursor, full=full):
            stats = store.upsert_page(backend.instance, page)
            summary.pages += 1
            summary.fetched += len(page.tickets)
            summary.stats.add(stats)
            if on_page is not None:
                on_page(summary, page)
    except CstError as exc:
        summary.outcome = "failed"
        summary.error = str(exc)
        raise
    finally:
        summary.seconds = time.monotonic() - started
        store.finish_run(run_id, summary.outcome, summary.as_dict())
        backend.close()
    return summary
