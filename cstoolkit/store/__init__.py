"""The store: where synced tickets, events, cursors, the audit log and plugin state live."""

from __future__ import annotations

from pathlib import Path

from cstoolkit.store.sqlite import SQLiteStore, UpsertStats

Store = SQLiteStore

__all__ = ["SQLiteStore", "Store", "UpsertStats", "open_store"]


def open_store(path: str | Path, *, migrate: bool = True) -> SQLiteStore:
    """Open (and by default create and migrate) the store at ``path``."""
    return SQLiteStore(path, migrate=migrate)
