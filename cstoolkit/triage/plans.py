"""What a triage run plans, as records: per ticket the field changes, comments and notifications
with their ledger keys, and the whole plan with its JSON form (``cst triage run --save``,
``cst triage apply``). :mod:`cstoolkit.triage.engine` makes them, :mod:`cstoolkit.triage.apply`
carries them out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit import timespec
from cstoolkit.model import Ticket
from cstoolkit.plugin import Changes, Comment

if TYPE_CHECKING:
    pass


LEDGER_SCOPE = "triage"
PLAN_KIND = "cstoolkit.triage.plan"
PLAN_VERSION = 1


def ledger_key(recipe: str, rule: str, action: str, ticket_id: str, cycle: int) -> str:
    """(recipe, rule, action, ticket, resolution cycle): what a non-idempotent action is for."""
    return f"{recipe}/{rule}/{action}/{ticket_id}/c{cycle}"


# -- plan records ------------------------------------------------------------------------------


@dataclass
class PlannedComment:
    body: str
    public: bool
    ledger_key: str | None = None


@dataclass
class Notification:
    channel: str
    to: str
    subject: str
    text: str
    ledger_key: str
    recipient: dict[str, Any] = field(default_factory=dict)


FIELDS = ("status", "priority", "assignee_id", "group_id")


def state(t: Ticket) -> dict[str, Any]:
    return {
        "status": t.status.value,
        "priority": t.priority.value,
        "assignee_id": t.assignee_id,
        "group_id": t.group_id,
        "tags": list(t.tags),
        "custom_fields": dict(t.custom_fields),
    }


@dataclass
class TicketPlan:
    """What a run does to one ticket."""

    ticket_id: str
    subject: str
    expected_updated_at: datetime
    before: dict[str, Any]
    after: dict[str, Any]
    matched: list[str] = field(default_factory=list)  # "recipe/rule"
    done: list[str] = field(default_factory=list)  # "rule: what the action did"
    skipped: list[str] = field(default_factory=list)  # "rule: action: why not"
    errors: list[str] = field(default_factory=list)
    comments: list[PlannedComment] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    ledger: list[str] = field(default_factory=list)
    picks: list[tuple[str, str, float]] = field(default_factory=list)  # agent, capacity key, at
    rota: list[tuple[str, int, str]] = field(default_factory=list)

    # -- what changes -------------------------------------------------------------------------

    def field_changes(self) -> dict[str, tuple[Any, Any]]:
        """Each changed field: (old, new). Tags show as ``tags`` with the full lists."""
        out: dict[str, tuple[Any, Any]] = {}
        for name in FIELDS:
            if self.before.get(name) != self.after.get(name):
                out[name.removesuffix("_id")] = (self.before.get(name), self.after.get(name))
        if set(self.before["tags"]) != set(self.after["tags"]):
            out["tags"] = (self.before["tags"], self.after["tags"])
        old_cf, new_cf = self.before["custom_fields"], self.after["custom_fields"]
        for key in sorted(set(old_cf) | set(new_cf)):
            if old_cf.get(key) != new_cf.get(key):
                out[f"custom.{key}"] = (old_cf.get(key), new_cf.get(key))
        return out

    def added_tags(self) -> list[str]:
        return [t for t in self.after["tags"] if t not in self.before["tags"]]

    def removed_tags(self) -> list[str]:
        return [t for t in self.before["tags"] if t not in self.after["tags"]]

    def has_changes(self) -> bool:
        return bool(self.field_changes() or self.comments)

    def changes(self) -> Changes:
        b, a = self.before, self.after
        cf = {k: v for k, v in a["custom_fields"].items() if b["custom_fields"].get(k) != v}
        for k in b["custom_fields"]:
            if k not in a["custom_fields"]:
                cf[k] = None
        return Changes(
            status=a["status"] if a["status"] != b["status"] else None,
            priority=a["priority"] if a["priority"] != b["priority"] else None,
            assignee_id=a["assignee_id"] if a["assignee_id"] != b["assignee_id"] else None,
            group_id=a["group_id"] if a["group_id"] != b["group_id"] else None,
            add_tags=self.added_tags(),
            remove_tags=self.removed_tags(),
            custom_fields=cf,
            comments=[Comment(c.body, c.public) for c in self.comments],
            expected_updated_at=self.expected_updated_at,
        )

    def old_values(self) -> dict[str, Any]:
        """The values a revert puts back (only those this plan changes)."""
        out: dict[str, Any] = {}
        for name, (old, _new) in self.field_changes().items():
            if name == "tags":
                out["tags"] = old
            elif name.startswith("custom."):
                out.setdefault("custom_fields", {})[name[7:]] = old
            else:
                out[name + ("_id" if name in ("assignee", "group") else "")] = old
        return out

    def describe_changes(self) -> list[str]:
        parts = []
        for name, (old, new) in self.field_changes().items():
            if name == "tags":
                plus = " ".join("+" + t for t in self.added_tags())
                minus = " ".join("-" + t for t in self.removed_tags())
                parts.append(f"tags {' '.join(p for p in (plus, minus) if p)}")
            else:
                parts.append(f"{name}: {old or '-'} -> {new or '-'}")
        for c in self.comments:
            first = c.body.strip().splitlines()[0] if c.body.strip() else ""
            kind = "reply" if c.public else "note"
            parts.append(f"{kind}: {first[:60]}")
        for n in self.notifications:
            parts.append(f"notify {n.to} via {n.channel}")
        return parts

    # -- (de)serialising ----------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "subject": self.subject,
            "expected_updated_at": self.expected_updated_at.isoformat(),
            "matched": self.matched,
            "changes": {k: {"old": o, "new": n} for k, (o, n) in self.field_changes().items()},
            "before": self.before,
            "after": self.after,
            "done": self.done,
            "skipped": self.skipped,
            "errors": self.errors,
            "comments": [dataclasses.asdict(c) for c in self.comments],
            "notifications": [dataclasses.asdict(n) for n in self.notifications],
            "ledger": self.ledger,
            "picks": [list(p) for p in self.picks],
            "rota": [list(r) for r in self.rota],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketPlan:
        return cls(
            ticket_id=str(data["ticket_id"]),
            subject=str(data.get("subject", "")),
            expected_updated_at=timespec.parse_time(data["expected_updated_at"], relative=False),
            before=dict(data["before"]),
            after=dict(data["after"]),
            matched=list(data.get("matched", [])),
            done=list(data.get("done", [])),
            skipped=list(data.get("skipped", [])),
            errors=list(data.get("errors", [])),
            comments=[PlannedComment(**c) for c in data.get("comments", [])],
            notifications=[Notification(**n) for n in data.get("notifications", [])],
            ledger=list(data.get("ledger", [])),
            picks=[(str(a), str(k), float(t)) for a, k, t in data.get("picks", [])],
            rota=[(str(r), int(w), str(a)) for r, w, a in data.get("rota", [])],
        )


@dataclass
class Plan:
    recipes: list[dict[str, Any]]
    created_at: datetime
    tickets: list[TicketPlan] = field(default_factory=list)
    evaluated: int = 0
    rule_matches: dict[str, int] = field(default_factory=dict)
    snapshots: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def changing(self) -> list[TicketPlan]:
        return [t for t in self.tickets if not t.errors and (t.has_changes() or t.notifications)]

    @property
    def failed(self) -> list[TicketPlan]:
        """Tickets with an error: reported one line each, never applied."""
        return [t for t in self.tickets if t.errors]

    def summary(self) -> dict[str, Any]:
        return {
            "evaluated": self.evaluated,
            "failed": len(self.failed),
            "matched": sum(1 for t in self.tickets if t.matched),
            "changing": len(self.changing),
            "comments": sum(len(t.comments) for t in self.tickets),
            "notifications": sum(len(t.notifications) for t in self.tickets),
            "errors": sum(len(t.errors) for t in self.tickets),
            "rule_matches": dict(self.rule_matches),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": PLAN_KIND,
            "version": PLAN_VERSION,
            "created_at": self.created_at.isoformat(),
            "recipes": self.recipes,
            "summary": self.summary(),
            "tickets": [t.as_dict() for t in self.tickets],
            "snapshots": [list(s) for s in self.snapshots],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        if data.get("kind") != PLAN_KIND:
            raise ValueError(f"not a triage plan (kind {data.get('kind')!r})")
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"unsupported plan version {data.get('version')!r}")
        summary = data.get("summary") or {}
        return cls(
            recipes=list(data.get("recipes", [])),
            created_at=timespec.parse_time(data["created_at"], relative=False),
            tickets=[TicketPlan.from_dict(t) for t in data.get("tickets", [])],
            evaluated=int(summary.get("evaluated", 0)),
            rule_matches=dict(summary.get("rule_matches", {})),
            snapshots=[(str(r), str(t), dict(s)) for r, t, s in data.get("snapshots", [])],
        )
