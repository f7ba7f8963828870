"""Run locks: leases in the store that keep two runs of the same job apart.

A lock is a row keyed by name (``sync:zendesk_main``). It expires at ``expires_at`` unless
renewed, so a holder that crashed on another host stops blocking others after its lease; on the
same host a holder whose process is gone is taken over at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import BusyError
from cstoolkit.model import now
from cstoolkit.store.codec import from_epoch, to_epoch

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

DEFAULT_TTL = 15 * 60


@dataclass
class LockInfo:
    name: str
    holder: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "acquired_at": self.acquired_at,
            "expires_at": self.expires_at,
        }


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (a zombie, dead but not yet reaped by
    its new parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != b"Z"


class Lock:
    def __init__(self, store: Store, name: str, ttl: int = DEFAULT_TTL) -> None:
        self.store = store
        self.name = name
        self.ttl = ttl
        self.holder = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()

    def acquire(self) -> None:
        """Take the lock or raise BusyError (exit 4) naming who holds it."""
        stamp = to_epoch(now()) or 0
        with self.store.transaction() as cur:
            row = cur.execute(
                "SELECT holder, host, pid, expires_at FROM locks WHERE name = ?", (self.name,)
            ).fetchone()
            if row is not None:
                holder, host, pid, expires = row
                stale = expires <= stamp or (host == self.host and not pid_alive(pid))
                if not stale:
                    until = from_epoch(expires)
                    raise BusyError(
                        f"{self.name}: another run holds the lock (pid {pid} on {host}, "
                        f"lease until {until:%Y-%m-%d %H:%M:%S}Z); "
                        f"if it is gone: cst locks release {self.name}"
                    )
                cur.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (self.name, holder))
            cur.execute(
                "INSERT INTO locks (name, holder, host, pid, acquired_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (self.name, self.holder, self.host, self.pid, stamp, stamp + self.ttl),
            )
            if cur.rowcount != 1:
                raise BusyError(f"{self.name}: another run took the lock just now")

    def renew(self) -> None:
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE locks SET expires_at = ? WHERE name = ? AND holder = ?",
                ((to_epoch(now()) or 0) + self.ttl, self.name, self.holder),
            )

    def release(self) -> None:
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (self.name, self.holder))


@contextlib.contextmanager
def hold(store: Store, name: str, ttl: int = DEFAULT_TTL) -> Iterator[Lock]:
    lock = Lock(store, name, ttl)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def list_locks(store: Store) -> list[LockInfo]:
    rows = store.conn.execute(
        "SELECT name, holder, host, pid, acquired_at, expires_at FROM locks ORDER BY name"
    )
    out = []
    for name, holder, host, pid, acquired, expires in rows:
        a, e = from_epoch(acquired), from_epoch(expires)
        assert a is not None and e is not None
        out.append(LockInfo(name, holder, host, pid, a, e))
    return out


def force_release(store: Store, name: str) -> bool:
    with store.transaction() as cur:
        cur.execute("DELETE FROM locks WHERE name = ?", (name,))
        return cur.rowcount == 1
