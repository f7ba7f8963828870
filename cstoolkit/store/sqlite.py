"""The embedded default store: one SQLite file in WAL mode.

Writes take SQLite's write lock up front (``BEGIN IMMEDIATE``), so two processes never
interleave half of a page and a read-then-write inside one transaction sees no other writer.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cstoolkit.errors import StoreError
from cstoolkit.store.base import Store


class SQLiteStore(Store):
    """A store in one SQLite file (``:memory:`` for a throwaway one)."""

    dialect = "sqlite"
    IntegrityError = sqlite3.IntegrityError

    def __init__(self, path: str | Path, *, migrate: bool = True, timeout: float = 30.0) -> None:
        self.path = str(path)
        self.label = self.path
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc
        self._setup(migrate)

    def _begin(self, cur: sqlite3.Cursor) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _table_names(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}

    def backup_to(self, path: Path, *, label: str | None = None) -> None:
        """Copy the live store into a new file ``path`` with SQLite's online backup API and
        check the copy's integrity (StoreError naming ``label``, by default ``path``, when
        either fails)."""
        label = label or str(path)
        try:
            out = sqlite3.connect(str(path))
            try:
                self.conn.backup(out)
                out.execute("PRAGMA journal_mode=DELETE")
                check = out.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                out.close()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{label}: backup failed: {exc}") from exc
        if check != "ok":
            raise StoreError(f"{label}: backup failed its integrity check: {check}")
