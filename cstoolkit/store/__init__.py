"""The store: where synced tickets, events, cursors, the audit log and plugin state live.

:func:`open_store` takes a file path (SQLite, the embedded default) or a ``postgresql://`` URL
(the team store, :mod:`cstoolkit.store.postgres`). Both are a :class:`Store`.
"""

from __future__ import annotations

import re
from pathlib import Path

from cstoolkit.store.base import Store, UpsertStats
from cstoolkit.store.sqlite import SQLiteStore

__all__ = ["SCHEMA_NAME", "SQLiteStore", "Store", "UpsertStats", "is_url", "open_store"]

#: A PostgreSQL schema name the store accepts (it is quoted into SQL, so kept plain).
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def is_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL store (else it is a SQLite file)."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


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
