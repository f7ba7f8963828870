"""The idempotence ledger: actions that must never happen twice for the same cause.

An entry is keyed by (scope, key), where the key says what the action is *for* (for a survey:
ticket and resolution cycle; for a recipe note: recipe, rule, action, ticket, cycle). The
primary key makes the store, not luck, decide who may act: two processes reserving the same key
at once get one success and one refusal.

Life of an entry::

    reserve -> confirm -> (send) -> commit     state "done"
                                 -> fail       state "failed" (known not delivered; may retry)
    reserve -> crash                           "reserved", its lease runs out
            -> take_over -> reconcile          "done" (provider lookup found it) or "in_doubt"

**Leases.** A reservation belongs to the run that made it (``run_id``) until its lease
(``lease_expires``) runs out. The live owner renews it while it works (:meth:`Ledger.renew`,
called from the owner's loop) and extends it once more at the fencing check. Another run may
take a reservation over (:meth:`Ledger.take_over`) only after the lease expired, atomically, so
no lock, forced lock release or second host can make a live owner's in-flight action look like a
dead run's orphan.

**Fencing.** Immediately before the irreversible call (a channel's send, a backend's create),
the owner calls :meth:`Ledger.confirm`: one atomic write that succeeds only while the entry is
still ``reserved`` by this run, and extends the lease to a full :data:`DEFAULT_LEASE` from now,
much longer than a send's timeout. If it fails, the owner does not send and says why. So a
reservation can only change hands while nobody is sending it, except when one send outlives the
whole lease (documented in docs/security.md as the limit of the guarantee).

``in_doubt`` entries are reported and never retried blindly; ``release`` lets an operator ask
for a deliberate retry (``--resend-in-doubt``).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.model import now
from cstoolkit.store.codec import dumps, from_epoch, to_epoch

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

RESERVED = "reserved"
DONE = "done"
FAILED = "failed"
IN_DOUBT = "in_doubt"
STATES = (RESERVED, DONE, FAILED, IN_DOUBT)

#: Seconds a reservation (and a push claim) stays its owner's without renewal: ten minutes,
#: far longer than one send's timeout (HTTP channels: 10-30 s per request, SMTP: 30 s per step).
DEFAULT_LEASE = 600
#: Testing knob only: a shorter lease (seconds), so crash tests need not wait ten minutes.
TEST_LEASE_ENV = "CSTOOLKIT_TEST_LEASE"


def lease_seconds() -> int:
    """The lease of ledger reservations and push claims (:data:`DEFAULT_LEASE`)."""
    raw = os.environ.get(TEST_LEASE_ENV, "").strip()
    try:
        value = int(float(raw)) if raw else DEFAULT_LEASE
    except ValueError:
        value = DEFAULT_LEASE
    return max(1, value)


@dataclass
class Entry:
    scope: str
    key: str
    state: str
    reserved_at: datetime
    updated_at: datetime
    run_id: str
    provider_ref: str | None
    detail: dict[str, Any]
    lease_expires: datetime | None = None

    def lease_expired(self, at: datetime | None = None) -> bool:
        return self.lease_expires is None or self.lease_expires <= (at or now())


def _entry(row: Any) -> Entry:
    reserved, updated = from_epoch(row[3]), from_epoch(row[4])
    assert reserved is not None and updated is not None
    return Entry(
        row[0], row[1], row[2], reserved, updated, row[5], row[6], json.loads(row[7]),
        from_epoch(row[8]),
    )  # fmt: skip


_COLUMNS = "scope, key, state, reserved_at, updated_at, run_id, provider_ref, detail, lease_expires"


class Ledger:
    """One scope of the ledger (e.g. ``survey`` or ``triage``), used by one run."""

    def __init__(
        self, store: Store, scope: str, run_id: str | None = None, *, lease: int | None = None
    ) -> None:
        self.store = store
        self.scope = scope
        self.run_id = run_id or uuid.uuid4().hex
        self.lease = lease if lease is not None else lease_seconds()
        self._renewed = time.monotonic()

    def _expiry(self) -> int:
        return (to_epoch(now()) or 0) + self.lease

    def reserve(self, key: str, detail: dict[str, Any] | None = None) -> bool:
        """Claim ``key`` for this run; False if any run ever claimed it (and did not fail)."""
        stamp = to_epoch(now()) or 0
        expires = stamp + self.lease
        with self.store.transaction() as cur:
            row = cur.execute(
                "SELECT state FROM ledger WHERE scope = ? AND key = ?", (self.scope, key)
            ).fetchone()
            if row is not None:
                if row[0] != FAILED:
                    return False
                cur.execute(
                    "UPDATE ledger SET state = ?, reserved_at = ?, updated_at = ?, run_id = ?, "
                    "detail = ?, lease_expires = ? WHERE scope = ? AND key = ? AND state = ?",
                    (RESERVED, stamp, stamp, self.run_id, dumps(detail or {}), expires,
                     self.scope, key, FAILED),
                )  # fmt: skip
                return cur.rowcount == 1
            cur.execute(
                f"INSERT INTO ledger ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?) "
                "ON CONFLICT (scope, key) DO NOTHING",
                (self.scope, key, RESERVED, stamp, stamp, self.run_id, dumps(detail or {}),
                 expires),
            )  # fmt: skip
            return cur.rowcount == 1

    # -- leases --------------------------------------------------------------------------------

    def renew(self) -> int:
        """Extend the lease of every reservation this run holds; return how many."""
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE ledger SET lease_expires = ? WHERE scope = ? AND run_id = ? AND state = ?",
                (self._expiry(), self.scope, self.run_id, RESERVED),
            )
            count = int(cur.rowcount)
        self._renewed = time.monotonic()
        return count

    def keep_alive(self) -> None:
        """Renew when a third of the lease has passed since the last renewal (cheap to call
        from every step of an owner's loop)."""
        if time.monotonic() - self._renewed > self.lease / 3:
            self.renew()

    def confirm(self, key: str) -> bool:
        """The fencing check, called immediately before the irreversible action: True (and the
        lease extended to a full lease from now) only while ``key`` is still reserved by this
        run. False means another run took it over: do not act."""
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE ledger SET lease_expires = ? WHERE scope = ? AND key = ? AND run_id = ? "
                "AND state = ?",
                (self._expiry(), self.scope, key, self.run_id, RESERVED),
            )
            return cur.rowcount == 1

    def abandon(self, key: str, why: str) -> bool:
        """Give up a reservation whose outcome this run cannot tell: it stays ``reserved`` with
        its lease expired, so the next run reconciles it (through the channel's lookup) rather
        than anyone acting on it blindly. Only the holder may (False otherwise)."""
        stamp = to_epoch(now()) or 0
        with self.store.transaction() as cur:
            row = cur.execute(
                "SELECT detail FROM ledger WHERE scope = ? AND key = ? AND run_id = ? "
                "AND state = ?",
                (self.scope, key, self.run_id, RESERVED),
            ).fetchone()
            if row is None:
                return False
            detail = {**json.loads(row[0]), "abandoned": why}
            cur.execute(
                "UPDATE ledger SET lease_expires = ?, updated_at = ?, detail = ? "
                "WHERE scope = ? AND key = ? AND run_id = ? AND state = ?",
                (stamp - 1, stamp, dumps(detail), self.scope, key, self.run_id, RESERVED),
            )
            return cur.rowcount == 1

    def holder(self, key: str) -> str:
        """Why this run no longer holds ``key``, for messages."""
        entry = self.get(key)
        if entry is None:
            return "the entry is gone"
        if entry.state != RESERVED:
            return f"it is {entry.state} now (run {entry.run_id[:8]})"
        return f"run {entry.run_id[:8]} took it over after the lease expired"

    def take_over(self, entry: Entry) -> bool:
        """Make an expired reservation of another run this run's (atomically: False when its
        owner renewed or confirmed it meanwhile, or another run took it first)."""
        stamp = to_epoch(now()) or 0
        detail = {**entry.detail, "taken_over_from": entry.run_id}
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE ledger SET run_id = ?, lease_expires = ?, updated_at = ?, detail = ? "
                "WHERE scope = ? AND key = ? AND state = ? AND run_id = ? AND lease_expires <= ?",
                (self.run_id, stamp + self.lease, stamp, dumps(detail), self.scope, entry.key,
                 RESERVED, entry.run_id, stamp),
            )  # fmt: skip
            return cur.rowcount == 1

    # -- outcomes ------------------------------------------------------------------------------

    def _set(
        self,
        key: str,
        state: str,
        provider_ref: str | None,
        extra: dict[str, Any],
        *,
        owner_only: bool,
    ) -> bool:
        with self.store.transaction() as cur:
            row = cur.execute(
                "SELECT detail, state, run_id FROM ledger WHERE scope = ? AND key = ?",
                (self.scope, key),
            ).fetchone()
            if row is None:
                raise KeyError(f"no ledger entry {self.scope}/{key}")
            if owner_only and row[1] == RESERVED and row[2] != self.run_id:
                return False  # another run holds it now: its outcome is not ours to write
            detail = {**json.loads(row[0]), **extra}
            cur.execute(
                "UPDATE ledger SET state = ?, updated_at = ?, provider_ref = COALESCE(?, "
                "provider_ref), detail = ? WHERE scope = ? AND key = ?",
                (state, to_epoch(now()), provider_ref, dumps(detail), self.scope, key),
            )
            return True

    def commit(self, key: str, provider_ref: str | None = None, **extra: Any) -> None:
        """The action happened: recorded whoever holds the entry now (a delivery is a fact)."""
        self._set(key, DONE, provider_ref, extra, owner_only=False)

    def fail(self, key: str, error: str) -> bool:
        """The action is known not to have happened: a later run may try again. Only the
        holder of a reservation may say so (False otherwise)."""
        return self._set(key, FAILED, None, {"error": error}, owner_only=True)

    def mark_in_doubt(self, key: str, why: str) -> bool:
        return self._set(key, IN_DOUBT, None, {"in_doubt": why}, owner_only=True)

    def release(self, key: str) -> bool:
        """Forget an in-doubt entry on purpose so it can be done again (operator's choice)."""
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE ledger SET state = ? WHERE scope = ? AND key = ? AND state = ?",
                (FAILED, self.scope, key, IN_DOUBT),
            )
            return cur.rowcount == 1

    # -- reading -------------------------------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        row = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM ledger WHERE scope = ? AND key = ?", (self.scope, key)
        ).fetchone()
        return _entry(row) if row else None

    def entries(self, state: str | None = None) -> Iterator[Entry]:
        sql = f"SELECT {_COLUMNS} FROM ledger WHERE scope = ?"
        params: tuple[Any, ...] = (self.scope,)
        if state is not None:
            sql += " AND state = ?"
            params = (self.scope, state)
        for row in self.store.conn.execute(sql + " ORDER BY reserved_at, key", params).fetchall():
            yield _entry(row)

    def orphans(self) -> list[Entry]:
        """Reservations of other runs whose lease expired: their owner stopped renewing them
        (it died, or stalled for a whole lease). Take one over with :meth:`take_over` before
        acting on it; a live owner's reservation is never among these."""
        at = now()
        return [
            e for e in self.entries(RESERVED) if e.run_id != self.run_id and e.lease_expired(at)
        ]


def counts(store: Store, scope: str) -> dict[str, int]:
    """Entries of ``scope`` by state."""
    rows = store.conn.execute(
        "SELECT state, COUNT(*) FROM ledger WHERE scope = ? GROUP BY state", (scope,)
    ).fetchall()
    return {str(s): int(n) for s, n in rows}
