"""The idempotence ledger: actions that must never happen twice for the same cause.

An entry is keyed by (scope, key), where the key says what the action is *for* (for a survey:
ticket and resolution cycle; for a recipe note: recipe, rule, action, ticket, cycle). The
primary key makes the store, not luck, decide who may act: two processes reserving the same key
at once get one success and one refusal.

Life of an entry::

    reserve -> (send) -> commit            state "done"
                      -> fail              state "failed" (known not delivered; may retry)
    reserve -> crash                       state "reserved" left behind by a dead run
                      -> reconcile         "done" (provider lookup found it) or "in_doubt"

``in_doubt`` entries are reported and never retried blindly; ``release`` lets an operator ask
for a deliberate retry (``--resend-in-doubt``).
"""

from __future__ import annotations

import json
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


def _entry(row: Any) -> Entry:
    reserved, updated = from_epoch(row[3]), from_epoch(row[4])
    assert reserved is not None and updated is not None
    return Entry(row[0], row[1], row[2], reserved, updated, row[5], row[6], json.loads(row[7]))


_COLUMNS = "scope, key, state, reserved_at, updated_at, run_id, provider_ref, detail"


class Ledger:
    """One scope of the ledger (e.g. ``survey`` or ``triage``), used by one run."""

    def __init__(self, store: Store, scope: str, run_id: str | None = None) -> None:
        self.store = store
        self.scope = scope
        self.run_id = run_id or uuid.uuid4().hex

    def reserve(self, key: str, detail: dict[str, Any] | None = None) -> bool:
        """Claim ``key`` for this run; False if any run ever claimed it (and did not fail)."""
        stamp = to_epoch(now())
        with self.store.transaction() as cur:
            row = cur.execute(
                "SELECT state FROM ledger WHERE scope = ? AND key = ?", (self.scope, key)
            ).fetchone()
            if row is not None:
                if row[0] != FAILED:
                    return False
                cur.execute(
                    "UPDATE ledger SET state = ?, reserved_at = ?, updated_at = ?, run_id = ?, "
                    "detail = ? WHERE scope = ? AND key = ? AND state = ?",
                    (
                        RESERVED,
                        stamp,
                        stamp,
                        self.run_id,
                        dumps(detail or {}),
                        self.scope,
                        key,
                        FAILED,
                    ),
                )
                return cur.rowcount == 1
            cur.execute(
                f"INSERT INTO ledger ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, ?) "
                "ON CONFLICT (scope, key) DO NOTHING",
                (self.scope, key, RESERVED, stamp, stamp, self.run_id, dumps(detail or {})),
            )
            return cur.rowcount == 1

    def _set(self, key: str, state: str, provider_ref: str | None, extra: dict[str, Any]) -> None:
        with self.store.transaction() as cur:
            row = cur.execute(
                "SELECT detail FROM ledger WHERE scope = ? AND key = ?", (self.scope, key)
            ).fetchone()
            if row is None:
                raise KeyError(f"no ledger entry {self.scope}/{key}")
            detail = {**json.loads(row[0]), **extra}
            cur.execute(
                "UPDATE ledger SET state = ?, updated_at = ?, provider_ref = COALESCE(?, "
                "provider_ref), detail = ? WHERE scope = ? AND key = ?",
                (state, to_epoch(now()), provider_ref, dumps(detail), self.scope, key),
            )

    def commit(self, key: str, provider_ref: str | None = None, **extra: Any) -> None:
        self._set(key, DONE, provider_ref, extra)

    def fail(self, key: str, error: str) -> None:
        """The action is known not to have happened: a later run may try again."""
        self._set(key, FAILED, None, {"error": error})

    def mark_in_doubt(self, key: str, why: str) -> None:
        self._set(key, IN_DOUBT, None, {"in_doubt": why})

    def release(self, key: str) -> bool:
        """Forget an in-doubt entry on purpose so it can be done again (operator's choice)."""
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE ledger SET state = ? WHERE scope = ? AND key = ? AND state = ?",
                (FAILED, self.scope, key, IN_DOUBT),
            )
            return cur.rowcount == 1

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
        for row in self.store.conn.execute(sql + " ORDER BY reserved_at, key", params):
            yield _entry(row)

    def orphans(self) -> list[Entry]:
        """Entries left ``reserved`` by other runs: each crashed between reserve and commit.

        Call this while holding the job's lock, so no live run can still own them.
        """
        return [e for e in self.entries(RESERVED) if e.run_id != self.run_id]
