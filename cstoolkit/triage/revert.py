"""``cst triage revert RUN_ID``: put back the old values a run changed.

The values come from the run's applied planned changes (the push engine records each with the
old values, in ``planned_changes`` and the audit log). A field is put back only while it still
holds the value the run set: a later change by someone else wins, and is reported. Comments
cannot be taken back, and the write path cannot clear a field (unassign a ticket): both are
reported as not restored. The revert is itself a run, pushed with the same conflict checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import NotFoundError
from cstoolkit.plugin import Changes

if TYPE_CHECKING:
    from cstoolkit.push import PushSummary
    from cstoolkit.store import Store


@dataclass
class RevertItem:
    ticket_id: str
    changes: Changes
    notes: list[str] = field(default_factory=list)
    old_values: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> list[str]:
        c = self.changes
        out = [
            f"{k}: {v}"
            for k, v in (
                ("status", c.status),
                ("priority", c.priority),
                ("assignee", c.assignee_id),
                ("group", c.group_id),
            )
            if v
        ]
        if c.add_tags:
            out.append("tags " + " ".join("+" + t for t in c.add_tags))
        if c.remove_tags:
            out.append("tags " + " ".join("-" + t for t in c.remove_tags))
        out += [f"custom.{k}: {v}" for k, v in c.custom_fields.items()]
        return out


@dataclass
class RevertResult:
    run_id: str
    dry_run: bool
    items: list[RevertItem] = field(default_factory=list)
    revert_run_id: str | None = None
    push: PushSummary | None = None

    @property
    def ok(self) -> bool:
        return self.push is None or self.push.ok

    def message(self) -> str:
        restoring = sum(1 for i in self.items if not i.changes.is_empty())
        if self.dry_run:
            return f"would restore {restoring} tickets changed by run {self.run_id} (dry run)"
        if self.push is None:
            return f"nothing to restore for run {self.run_id}"
        p = self.push
        return (
            f"revert run {self.revert_run_id} of {self.run_id}: {p.applied} restored, "
            f"{p.unchanged} unchanged, {p.conflicts} conflicts, {p.failed} failed"
        )

    def as_dict(self) -> dict[str, Any]:
        from cstoolkit.push import changes_to_dict

        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "revert_run_id": self.revert_run_id,
            "items": [
                {
                    "ticket_id": i.ticket_id,
                    "restores": changes_to_dict(i.changes),
                    "not_restored": i.notes,
                }
                for i in self.items
            ],
            "push": self.push.as_dict() if self.push else None,
        }


def plan_revert(store: Store, run_id: str) -> list[RevertItem]:
    from cstoolkit import push
    from cstoolkit.store import triage as db

    entries = list(push.entries(store, run_id=run_id))
    if not entries and db.get_run(store, run_id) is None:
        raise NotFoundError(f"no run {run_id!r} (runs are listed by `cst sync push --list`)")
    items: list[RevertItem] = []
    for e in entries:
        if e.state != push.APPLIED:
            continue
        current = store.get_ticket(e.ticket_id)
        if current is None:
            items.append(RevertItem(e.ticket_id, Changes(), ["ticket no longer in the store"]))
            continue
        c, old = e.changes, e.old_values
        back = Changes(expected_updated_at=current.updated_at)
        notes: list[str] = []

        def restore(
            name: str, set_to: Any, now_value: Any, old_value: Any, notes: list[str] = notes
        ) -> Any:
            if now_value != set_to:
                notes.append(f"{name} changed since (now {now_value or '-'}): left as it is")
                return None
            if old_value in (None, ""):
                notes.append(f"{name} was empty before: the write path cannot clear it")
                return None
            return old_value

        if c.status:
            back.status = restore("status", c.status, current.status.value, old.get("status"))
        if c.priority:
            back.priority = restore(
                "priority", c.priority, current.priority.value, old.get("priority")
            )
        if c.assignee_id:
            back.assignee_id = restore(
                "assignee", c.assignee_id, current.assignee_id, old.get("assignee_id")
            )
        if c.group_id:
            back.group_id = restore("group", c.group_id, current.group_id, old.get("group_id"))
        back.remove_tags = [t for t in c.add_tags if t in current.tags]
        back.add_tags = [t for t in c.remove_tags if t not in current.tags]
        for key, value in c.custom_fields.items():
            if current.custom_fields.get(key) == value:
                back.custom_fields[key] = (old.get("custom_fields") or {}).get(key)
            else:
                notes.append(f"custom.{key} changed since: left as it is")
        if c.comments:
            notes.append(f"{len(c.comments)} comment(s) cannot be taken back")
        undo: dict[str, Any] = {}  # what the revert overwrites, so it can be reverted too
        for name in ("status", "priority", "assignee_id", "group_id"):
            if getattr(back, name):
                undo[name] = getattr(c, name)
        if back.add_tags or back.remove_tags:
            undo["tags"] = list(current.tags)
        if back.custom_fields:
            undo["custom_fields"] = {k: current.custom_fields.get(k) for k in back.custom_fields}
        items.append(RevertItem(e.ticket_id, back, notes, undo))
    return items


def revert(
    store: Store | None,
    run_id: str,
    backend_for: Callable[[str], Any],
    *,
    dry_run: bool = False,
) -> RevertResult:
    from cstoolkit import push
    from cstoolkit.store import triage as db

    assert store is not None
    result = RevertResult(run_id, dry_run, plan_revert(store, run_id))
    todo = [i for i in result.items if not i.changes.is_empty()]
    if dry_run or not todo:
        return result
    planned = [
        push.PlannedChange(
            i.ticket_id, i.changes, source=f"triage-revert:{run_id}", old_values=i.old_values
        )
        for i in todo
    ]
    new_run = push.plan(store, planned)
    db.start_run(store, new_run, "revert", [{"reverts": run_id}])
    result.revert_run_id = new_run
    result.push = push.push(store, backend_for, run_id=new_run, actor="cst triage revert")
    db.finish_run(store, new_run, result.as_dict())
    return result
