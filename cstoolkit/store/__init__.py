"""The store: where synced tickets, events, cursors, the audit log and plugin state live.

:func:`open_store` takes a file path (SQLite, the embedded default) or a ``postgresql://`` URL
(the team store, :mod:`cstoolkit.store.postgres`). Both are a :class:`Store`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cstoolkit.config.types import SCHEMA_NAME
    from cstoolkit.config.types import is_store_url as is_url
    from cstoolkit.store.base import Store, UpsertStats
    from cstoolkit.store.sqlite import SQLiteStore

__all__ = ["SCHEMA_NAME", "SQLiteStore", "Store", "UpsertStats", "is_url", "open_store"]


def __getattr__(name: str) -> Any:
    """The package's names, imported on first use: the condition language reads
    :mod:`cstoolkit.store.conditions` without loading the store and its configuration."""
    if name in ("SCHEMA_NAME", "is_url"):
        from cstoolkit.config import types

        return types.SCHEMA_NAME if name == "SCHEMA_NAME" else types.is_store_url
    if name in ("Store", "UpsertStats"):
        from cstoolkit.store import base

        return getattr(base, name)
    if name == "SQLiteStore":
        from cstoolkit.store.sqlite import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(
    target: str | Path,
    *,
    migrate: bool = True,
    schema: str = "public",
    password: str | None = None,
) -> Store:
    """Open (and by default create and migrate) the store at ``target``: a path or a URL."""
    from cstoolkit.config.types import is_store_url as is_url
    from cstoolkit.store.sqlite import SQLiteStore

    if is_url(target):
        from cstoolkit.store.postgres import PostgresStore

        return PostgresStore(str(target), schema=schema, password=password, migrate=migrate)
    return SQLiteStore(target, migrate=migrate)
