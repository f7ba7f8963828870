"""The mirror link table: which ticket in one instance is the counterpart of which in another.

A link joins an original ticket and its copy. It is stored as two rows, one from each side
(``ticket_id -> peer_id``), so it reads the same from both ends: a ticket mirrored A->B is
found linked when B is mirrored to A, and is never created again there. A ticket has at most
one counterpart per other instance (the primary key).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import StoreError
from cstoolkit.model import now, split_id
from cstoolkit.store.codec import dumps, from_epoch, to_epoch

if TYPE_CHECKING:
    from cstoolkit.store.base import Store

_COLUMNS = (
    "ticket_id, instance, peer_id, peer_instance, origin, marker, state, created_at, updated_at"
)


@dataclass
class Link:
    ticket_id: str
    instance: str
    peer_id: str
    peer_instance: str
    #: True when ``ticket_id`` is the original and ``peer_id`` its copy.
    origin: bool
    marker: str
    state: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "peer_id": self.peer_id,
            "origin": self.origin,
            "marker": self.marker,
            "state": self.state,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _link(row: Any) -> Link:
    return Link(
        ticket_id=row[0],
        instance=row[1],
        peer_id=row[2],
        peer_instance=row[3],
        origin=bool(row[4]),
        marker=row[5],
        state=json.loads(row[6]),
        created_at=from_epoch(row[7]),
        updated_at=from_epoch(row[8]),
    )


class Links:
    def __init__(self, store: Store) -> None:
        self.store = store

    def peer(self, ticket_id: str, peer_instance: str) -> Link | None:
        """The link of ``ticket_id`` to its counterpart in ``peer_instance``, from its side."""
        row = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM mirror_links WHERE ticket_id = ? AND peer_instance = ?",
            (ticket_id, peer_instance),
        ).fetchone()
        return _link(row) if row else None

    def add(
        self, original_id: str, copy_id: str, marker: str, state: dict[str, Any] | None = None
    ) -> Link:
        """Link an original and its copy (both rows in one transaction); idempotent.

        Raises StoreError if either ticket is already linked to another ticket of that instance.
        """
        orig_instance, _ = split_id(original_id)
        copy_instance, _ = split_id(copy_id)
        if orig_instance == copy_instance:
            raise StoreError(f"cannot link {original_id} to {copy_id}: same instance")
        stamp = to_epoch(now())
        with self.store.transaction() as cur:
            for ticket_id, peer_id in ((original_id, copy_id), (copy_id, original_id)):
                row = cur.execute(
                    "SELECT peer_id FROM mirror_links WHERE ticket_id = ? AND peer_instance = ?",
                    (ticket_id, split_id(peer_id)[0]),
                ).fetchone()
                if row is not None and row[0] != peer_id:
                    raise StoreError(
                        f"{ticket_id} is already mirrored as {row[0]}; not linking it to {peer_id}"
                    )
            rows = [
                (original_id, orig_instance, copy_id, copy_instance, 1),
                (copy_id, copy_instance, original_id, orig_instance, 0),
            ]
            cur.executemany(
                f"INSERT INTO mirror_links ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(*r, marker, dumps(state or {}), stamp, stamp) for r in rows],
            )
        link = self.peer(original_id, copy_instance)
        assert link is not None
        return link

    def set_state(self, ticket_id: str, peer_instance: str, state: dict[str, Any]) -> None:
        """Remember what was last mirrored (e.g. the tags), on both rows of the link."""
        link = self.peer(ticket_id, peer_instance)
        if link is None:
            raise StoreError(f"{ticket_id} has no mirror link to {peer_instance}")
        stamp = to_epoch(now())
        with self.store.transaction() as cur:
            cur.executemany(
                "UPDATE mirror_links SET state = ?, updated_at = ? "
                "WHERE ticket_id = ? AND peer_instance = ?",
                [
                    (dumps(state), stamp, link.ticket_id, link.peer_instance),
                    (dumps(state), stamp, link.peer_id, link.instance),
                ],
            )

    def between(self, instance: str, peer_instance: str) -> Iterator[Link]:
        """Every link between two instances, seen from ``instance``."""
        for row in self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM mirror_links WHERE instance = ? AND peer_instance = ? "
            "ORDER BY ticket_id",
            (instance, peer_instance),
        ).fetchall():
            yield _link(row)
