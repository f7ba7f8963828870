"""What needs an operator's eye on inbound: messages in doubt, reservations of dead runs,
mail left unparsed. Read by ``cst inbound status``, ``cst status`` and ``cst doctor``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cstoolkit.inbound import replies
from cstoolkit.inbound.engine import SCOPE
from cstoolkit.store import inbound as db
from cstoolkit.store.ledger import IN_DOUBT, Ledger

if TYPE_CHECKING:
    from cstoolkit.store import Store


def problems(store: Store) -> list[dict[str, Any]]:
    """One row per problem: source, kind, ref, state, detail."""
    rows: list[dict[str, Any]] = []
    for scope, kind in ((SCOPE, "message"), (replies.SCOPE, "reply")):
        ledger = Ledger(store, scope, "peek")
        for e in ledger.entries(IN_DOUBT):
            source, _, ref = e.key.partition(":") if kind == "message" else ("", "", e.key)
            rows.append({"source": source, "kind": kind, "ref": ref, "state": IN_DOUBT,
                         "detail": e.detail.get("in_doubt", "")})  # fmt: skip
        for e in ledger.orphans():
            source, _, ref = e.key.partition(":") if kind == "message" else ("", "", e.key)
            why = "a run stopped mid-way; the next serve or poll settles it"
            rows.append({"source": source, "kind": kind, "ref": ref, "state": "interrupted",
                         "detail": why})  # fmt: skip
    for p in db.problems(store):
        rows.append({"source": p.source, "kind": "unparsed", "ref": p.ref, "state": "flagged",
                     "detail": p.reason})  # fmt: skip
    return rows


def counts(store: Store) -> dict[str, int]:
    """Figures for ``cst status``."""
    rows = problems(store)
    return {
        "in_doubt": sum(1 for r in rows if r["state"] == IN_DOUBT),
        "interrupted": sum(1 for r in rows if r["state"] == "interrupted"),
        "unparsed": sum(1 for r in rows if r["kind"] == "unparsed"),
    }
