"""The per-plugin-instance key-value area: state a plugin needs across runs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cstoolkit.store.base import Store


class KeyValue:
    """JSON values under string keys, scoped to one plugin instance.

    Values are stored as given; a plugin that keeps a token here should keep it short-lived (an
    OAuth access token), never the long-lived secret it was issued from.
    """

    def __init__(self, store: Store, instance: str) -> None:
        self._store = store
        self.instance = instance

    def get(self, key: str, default: Any = None) -> Any:
        row = self._store.conn.execute(
            "SELECT value FROM plugin_state WHERE instance = ? AND key = ?", (self.instance, key)
        ).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, key: str, value: Any) -> None:
        from cstoolkit.model import now
        from cstoolkit.store.codec import dumps, to_epoch

        with self._store.transaction() as cur:
            cur.execute(
                "INSERT INTO plugin_state (instance, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (instance, key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (self.instance, key, dumps(value), to_epoch(now())),
            )

    def delete(self, key: str) -> None:
        with self._store.transaction() as cur:
            cur.execute(
                "DELETE FROM plugin_state WHERE instance = ? AND key = ?", (self.instance, key)
            )

    def keys(self) -> list[str]:
        rows = self._store.conn.execute(
            "SELECT key FROM plugin_state WHERE instance = ? ORDER BY key", (self.instance,)
        )
        return [r[0] for r in rows]


class MemoryKeyValue(KeyValue):
    """A KeyValue with no store behind it (tests, ``cst doctor`` before a store exists)."""

    def __init__(self, instance: str = "memory") -> None:
        self.instance = instance
        self._data: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self._data[key]) if key in self._data else default

    def set(self, key: str, value: Any) -> None:
        self._data[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def keys(self) -> list[str]:
        return sorted(self._data)
