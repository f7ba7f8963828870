"""The embedded default store: one SQLite file in WAL mode.

Writes take SQLite's write lock up front (``BEGIN IMMEDIATE``), so two processes never
interleave half of a page and a read-then-write inside one transaction sees no other writer.

Opening a new store races when two processes (two cron jobs) open it at the same moment: both
switch the file to WAL, and that switch upgrades a read lock to the write lock *without* calling
SQLite's busy handler (it refuses at once rather than risk a deadlock), so the busy timeout alone
does not help. :func:`_set_wal` retries the switch with a short, bounded backoff instead.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from cstoolkit.errors import BusyError, StoreError
from cstoolkit.store.base import Store

#: The first and the longest pause between two attempts to switch a new file to WAL (seconds).
WAL_RETRY_FIRST = 0.005
WAL_RETRY_MAX = 0.25


class SQLiteStore(Store):
    """A store in one SQLite file (``:memory:`` for a throwaway one).

    ``timeout`` bounds every wait for another process's lock, the WAL switch included.
    """

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
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc
        try:
            # Explicit, and before any other statement: every lock wait below is bounded by it.
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            _set_wal(self.conn, self.path, timeout)
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except BaseException as exc:
            self.conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc
            raise
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


def _set_wal(conn: sqlite3.Connection, path: str, timeout: float) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds the lock it needs.

    Retries back off from :data:`WAL_RETRY_FIRST` to :data:`WAL_RETRY_MAX` seconds (with jitter,
    so racing processes do not retry in step) until ``timeout`` has passed, then raise
    :class:`BusyError` (exit 4): another process kept the store locked all that time.
    """
    deadline = time.monotonic() + timeout
    pause = WAL_RETRY_FIRST
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise BusyError(
                    f"{path}: cannot open the store: another process kept it locked for "
                    f"{timeout:g}s ({exc}); try again when that process has finished"
                ) from exc
            time.sleep(min(left, pause * random.uniform(0.5, 1.0)))
            pause = min(pause * 2, WAL_RETRY_MAX)
