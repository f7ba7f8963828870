"""The store: where synced tickets, events, cursors, the audit log and plugin state live.

:func:`open_store` takes a file path (SQLite, the embedded default) or a ``postgresql://`` URL
(the team store, :mod:`cstoolkit.store.postgres`). Both are a :class:`Store`.
"""

from __future__ import annotations

from pathlib import Path

from cstoolkit.config.types import SCHEMA_NAME
from cstoolkit.config.types import is_store_url as is_url
from cstoolkit.store.base import Store, UpsertStats
from cstoolkit.store.sqlite import SQLiteStore

__all__ = ["SCHEMA_NAME", "SQLiteStore", "Store", "UpsertStats", "is_url", "open_store"]


def open_store(
    target: str | Path,
    *,
    migrate: bool = True,
    schema: str = "public",
    password: str | None = None,
) -> Store:
    """Open (and by default create and migrate) the store at ``target``: a path or a URL."""
    if is_url(target):
        from cstoolkit.store.postgres import PostgresStore

        return PostgresStore(str(target), schema=schema, password=password, migrate=migrate)
    return SQLiteStore(target, migrate=migrate)
