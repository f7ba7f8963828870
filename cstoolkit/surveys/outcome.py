"""What ``cst survey send`` reports: one :class:`Item` per survey decision or delivery, the run's
:class:`SendReport`, and the survey part of ``cst status`` (ledger counts, in-doubt entries)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cstoolkit.store import Store
from cstoolkit.store import surveys as db
from cstoolkit.store.ledger import DONE, FAILED, IN_DOUBT, RESERVED, Ledger
from cstoolkit.store.ledger import counts as ledger_counts

SCOPE = db.SCOPE

# Item actions
WOULD_SEND = "would_send"
SENT = "sent"
FAILED_NOW = "failed"
IN_DOUBT_NOW = "in_doubt"
RECONCILED = "reconciled"
FENCED = "fenced"  # not sent: the reservation was taken over by another run (lease expired)
UNKNOWN_NOW = "unknown"  # outcome unknown and the lookup failed: the next run reconciles it
SKIPPED = "skipped"
LATER = "later"


@dataclass
class Item:
    """One survey decision or delivery, as reported by ``cst survey send``."""

    survey: str
    ticket: str
    action: str
    reason: str = ""
    requester: str | None = None
    address: str | None = None
    channel: str | None = None
    language: str | None = None
    key: str | None = None
    provider_ref: str | None = None
    due_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "survey": self.survey,
            "ticket": self.ticket,
            "action": self.action,
            "reason": self.reason,
            "requester": self.requester,
            "address": self.address,
            "channel": self.channel,
            "language": self.language,
            "key": self.key,
            "provider_ref": self.provider_ref,
            "due_at": self.due_at,
        }


@dataclass
class SendReport:
    dry_run: bool
    run_id: str
    surveys: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    in_doubt: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, action: str) -> int:
        return sum(1 for i in self.items if i.action == action)

    @property
    def skipped(self) -> dict[str, int]:
        counts = Counter(i.reason for i in self.items if i.action in (SKIPPED, LATER))
        return dict(counts.most_common())

    @property
    def exit_code(self) -> int:
        """1 when a send failed, ended in doubt or unknown or was fenced in this run, else 0 (also:
        nothing to do)."""
        bad = sum(self.count(a) for a in (FAILED_NOW, IN_DOUBT_NOW, FENCED, UNKNOWN_NOW))
        bad += len(self.errors)
        return 1 if bad else 0

    def as_dict(self, *, all_items: bool | None = None) -> dict[str, Any]:
        show_all = self.dry_run if all_items is None else all_items
        items = [i.as_dict() for i in self.items if show_all or i.action not in (SKIPPED, LATER)]
        return {
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "surveys": self.surveys,
            "would_send": self.count(WOULD_SEND),
            "sent": self.count(SENT),
            "reconciled": self.count(RECONCILED),
            "fenced": self.count(FENCED),
            "unknown": self.count(UNKNOWN_NOW),
            "failed": self.count(FAILED_NOW),
            "in_doubt_new": self.count(IN_DOUBT_NOW),
            "in_doubt": self.in_doubt,
            "skipped": self.skipped,
            "errors": self.errors,
            "items": items,
            "seconds": round(self.seconds, 3),
        }


def in_doubt_entries(store: Store, names: set[str] | None = None) -> list[dict[str, Any]]:
    out = []
    for row in db.offers(store, IN_DOUBT):
        if names is not None and row.survey not in names:
            continue
        entry = Ledger(store, SCOPE).get(row.key)
        out.append(
            {
                "key": row.key,
                "survey": row.survey,
                "ticket": row.ticket_id,
                "requester": row.requester_id,
                "address": row.address,
                "channel": row.channel,
                "reserved_at": entry.reserved_at if entry else row.offered_at,
                "why": entry.detail.get("in_doubt", "") if entry else "",
            }
        )
    return out


def status_summary(store: Store) -> dict[str, Any]:
    """Survey ledger counts and in-doubt entries, for ``cst status``."""
    counts = ledger_counts(store, SCOPE)
    answered, optouts = db.totals(store)
    return {
        "offers": {s: int(counts.get(s, 0)) for s in (DONE, RESERVED, FAILED, IN_DOUBT)},
        "answers": answered,
        "opt_outs": optouts,
        "in_doubt": in_doubt_entries(store),
    }


def iter_actions(report: SendReport, *actions: str) -> Iterator[Item]:
    return (i for i in report.items if i.action in actions)
