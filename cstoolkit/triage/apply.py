"""Applying a triage plan: field changes go out through the push engine (planned changes, conflict
checks, the audit log); comments and notifications are reserved in the ledger first and sent
once, never twice for the same cause.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstoolkit.triage.plans import LEDGER_SCOPE, Plan, TicketPlan

if TYPE_CHECKING:
    from cstoolkit.push import PushSummary
    from cstoolkit.store import Store


# -- applying ----------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    run_id: str | None
    planned: int = 0
    push: PushSummary | None = None
    ledger_committed: int = 0
    ledger_released: int = 0
    ledger_refused: list[str] = field(default_factory=list)
    notifications: dict[str, int] = field(default_factory=dict)
    notification_errors: list[str] = field(default_factory=list)
    snapshots_saved: int = 0
    failed: list[str] = field(default_factory=list)  # "ticket: error", not applied

    @property
    def ok(self) -> bool:
        return (
            (self.push is None or self.push.ok) and not self.notification_errors and not self.failed
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "planned": self.planned,
            "push": self.push.as_dict() if self.push else None,
            "ledger_committed": self.ledger_committed,
            "ledger_released": self.ledger_released,
            "ledger_refused": self.ledger_refused,
            "notifications": self.notifications,
            "notification_errors": self.notification_errors,
            "snapshots_saved": self.snapshots_saved,
            "failed": self.failed,
        }


def apply_plan(
    store: Store,
    plan: Plan,
    backend_for: Callable[[str], Any],
    *,
    channel_for: Callable[[str], Any] | None = None,
    kind: str = "apply",
    actor: str = "cst triage",
) -> ApplyReport:
    """Store ``plan`` as planned changes, push them, settle the ledger, send notifications and
    save recipe and assignment state. Safe to call twice with the same plan: the ledger refuses
    the non-idempotent actions already done and the backend reports field changes as unchanged.
    """
    from cstoolkit import push as push_mod
    from cstoolkit.store import triage as db
    from cstoolkit.store.ledger import Ledger

    run_id = uuid.uuid4().hex[:12]
    report = ApplyReport(run_id=run_id)
    ledger = Ledger(store, LEDGER_SCOPE, run_id=run_id)
    db.start_run(store, run_id, kind, plan.recipes)
    reserved: dict[str, list[str]] = {}
    items = []
    for tp in plan.failed:  # nothing half-written: a ticket that failed gets nothing
        report.failed.append(f"{tp.ticket_id}: {'; '.join(tp.errors)}")
    for tp in plan.tickets:
        if tp.errors:
            continue
        keys = []
        for key in tp.ledger:
            if ledger.reserve(key, {"ticket": tp.ticket_id, "run_id": run_id}):
                keys.append(key)
            else:
                report.ledger_refused.append(key)
        refused = set(tp.ledger) - set(keys)
        if refused:  # another run did these already: drop what they carry
            tp.comments = [c for c in tp.comments if c.ledger_key not in refused]
            tp.notifications = [n for n in tp.notifications if n.ledger_key not in refused]
        reserved[tp.ticket_id] = keys
        changes = tp.changes()
        if changes.is_empty():
            continue
        items.append(
            push_mod.PlannedChange(
                ticket_id=tp.ticket_id,
                changes=changes,
                source=f"triage:{','.join(r['name'] for r in plan.recipes)}",
                old_values=tp.old_values(),
                ledger_key="\n".join(keys) or None,
            )
        )
    report.planned = len(items)
    push_mod.plan(store, items, run_id=run_id)
    summary = push_mod.push(store, backend_for, run_id=run_id, actor=actor)
    report.push = summary
    # What the queue says, not only this push: another pusher may hold some of these changes
    # (still "claimed": treated like "failed", their keys stay reserved).
    settled = (push_mod.APPLIED, push_mod.UNCHANGED, push_mod.CONFLICT, push_mod.REFUSED)
    outcome = {
        e.ticket_id: e.state if e.state in settled else push_mod.FAILED
        for e in push_mod.entries(store, run_id=run_id)
    }
    bad = {push_mod.CONFLICT, push_mod.REFUSED}
    for tp in plan.tickets:
        if tp.errors:
            continue
        state = outcome.get(tp.ticket_id, push_mod.UNCHANGED)
        keys = reserved.get(tp.ticket_id, [])
        if state in bad:
            for key in keys:
                ledger.fail(key, f"push {state}")
                report.ledger_released += 1
            continue
        if state == push_mod.FAILED:
            continue  # still queued for `cst sync push`: the keys stay reserved
        notify(tp, keys, ledger, channel_for, report)
        for key in keys:  # what is left: comments and field changes the push settled
            ledger.commit(key, run_id=run_id)
            report.ledger_committed += 1
    skip = {tid for tid, st in outcome.items() if st in bad | {push_mod.FAILED}}
    skip |= {tp.ticket_id for tp in plan.failed}
    snaps = [s for s in plan.snapshots if s[1] not in skip]
    report.snapshots_saved = db.save_snapshots(store, snaps)
    last: dict[tuple[str, str], float] = {}
    rota: dict[tuple[str, int], str] = {}
    for tp in plan.tickets:
        if tp.ticket_id in skip:
            continue
        for agent, key, at in tp.picks:
            last[(agent, key)] = max(last.get((agent, key), 0.0), at)
        for r, w, a in tp.rota:
            rota[(r, w)] = a
    if last:
        db.save_last_assignments(store, last)
    if rota:
        db.save_rota_owners(store, rota)
    db.finish_run(store, run_id, report.as_dict())
    return report


def notify(
    tp: TicketPlan,
    keys: list[str],
    ledger: Any,
    channel_for: Callable[[str], Any] | None,
    report: ApplyReport,
) -> None:
    from cstoolkit.messages import Message, Recipient

    for n in tp.notifications:
        if n.ledger_key not in keys:
            continue
        if channel_for is None:
            report.notification_errors.append(f"{tp.ticket_id}: no channels available")
            ledger.fail(n.ledger_key, "no channel")
            keys.remove(n.ledger_key)
            continue
        try:
            channel = channel_for(n.channel)
            r = n.recipient
            message = Message(
                idempotency_key=hashlib.sha256(n.ledger_key.encode()).hexdigest()[:32],
                recipient=Recipient(
                    id=r.get("id"),
                    name=r.get("name") or "",
                    email=r.get("email"),
                    language=r.get("language"),
                    handles=dict(r.get("handles") or {}),
                ),
                subject=n.subject,
                text=n.text,
                short=n.text[:160],
                data={"ticket_id": tp.ticket_id, "ledger_key": n.ledger_key},
            )
            if not ledger.confirm(n.ledger_key):  # the fencing check, right before the send
                report.notification_errors.append(
                    f"{tp.ticket_id}: notify via {n.channel}: not sent, the reservation is no "
                    f"longer this run's ({ledger.holder(n.ledger_key)})"
                )
                keys.remove(n.ledger_key)
                continue
            result = channel.send(message)
        except Exception as exc:
            report.notification_errors.append(f"{tp.ticket_id}: notify via {n.channel}: {exc}")
            ledger.mark_in_doubt(n.ledger_key, f"{type(exc).__name__}: {exc}")
            keys.remove(n.ledger_key)
            report.notifications["in_doubt"] = report.notifications.get("in_doubt", 0) + 1
            continue
        outcome = getattr(result, "outcome", "sent")
        report.notifications[outcome] = report.notifications.get(outcome, 0) + 1
        if outcome == "sent":
            ledger.commit(n.ledger_key, getattr(result, "provider_ref", None))
            report.ledger_committed += 1
        elif outcome == "failed":
            ledger.fail(n.ledger_key, getattr(result, "detail", "failed"))
            report.notification_errors.append(
                f"{tp.ticket_id}: notify via {n.channel}: {getattr(result, 'detail', '')}"
            )
        else:
            ledger.mark_in_doubt(n.ledger_key, getattr(result, "detail", "unknown"))
            report.notification_errors.append(
                f"{tp.ticket_id}: notify via {n.channel}: delivery unknown (in doubt)"
            )
        keys.remove(n.ledger_key)
