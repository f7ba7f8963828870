"""The mirror engine: copy tickets of one backend instance into another, exactly once.

``mirror(store, "a", target_b, apply=True)`` reads the tickets of instance ``a`` from the store
(pull it first) and, for each one:

* **not linked to B yet:** look for the marker ``cst-mirror:<ticket id>`` in B
  (``Backend.find_by_marker``); if found, a previous run created the copy and died before
  linking it: link it. Otherwise reserve ``create:<ticket id>><B>`` in the ledger (scope
  ``mirror``), create the copy with that marker (``NewTicket.marker``) and, in one store
  transaction, commit the ledger entry and the link. A crash between the create and the link is
  therefore repaired by the marker lookup of the next run: nothing is created twice;
* **linked, and the original:** plan the differences (status, priority, tags, public comments
  not mirrored yet) as planned changes and send them through the push engine (the one write path,
  with its conflict check against the copy's ``updated_at``). Each comment is reserved in the
  ledger (``comment:<event id>><B>``) in the same transaction that plans it, so it is never
  mirrored twice. Comments arrive on the copy as **internal notes** (``public_comments=True``
  asks for public replies): a customer's message copied as a public reply would make the second
  system email that customer;
* **linked, and a copy** (its original lives in B): skipped. A ticket mirrored A->B is never
  mirrored back B->A, neither as a new ticket nor its changes.

Reservations carry the ledger's lease: a creation reserved by a live run (even one whose pair
lock was released by force) is never taken for a dead run's; only an expired one is taken over,
and the creating run confirms it still holds the reservation right before ``create`` (the
fencing check). Ids of the planned changes come from the rows just written (``RETURNING``).

Without ``apply`` nothing is written anywhere (no ledger, no link, no planned change): the result
lists what would be created and updated. ``CSTOOLKIT_TEST_MIRROR_DELAY`` (seconds) makes an
applying run sleep between a create and its link, for crash tests only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cstoolkit import push as push_mod
from cstoolkit.errors import CapabilityError, CstError, NotFoundError, UsageError
from cstoolkit.model import Person, Ticket, qualify, split_id
from cstoolkit.plugin import (
    COMMENTS_WRITE,
    TICKETS_CREATE,
    TICKETS_WRITE,
    Backend,
    Changes,
    Comment,
    NewTicket,
)
from cstoolkit.store import Store
from cstoolkit.store import locks as locks_mod
from cstoolkit.store.ledger import DONE, FAILED, IN_DOUBT, RESERVED, Ledger
from cstoolkit.store.mirror_links import Links
from cstoolkit.timeline import public_comments

log = logging.getLogger(__name__)

SCOPE = "mirror"
MARKER_PREFIX = "cst-mirror:"
TEST_MIRROR_DELAY_ENV = "CSTOOLKIT_TEST_MIRROR_DELAY"

CREATE, LINK, UPDATE, SKIP = "create", "link", "update", "skip"


def marker_for(ticket_id: str) -> str:
    return MARKER_PREFIX + ticket_id


def create_key(ticket_id: str, target: str) -> str:
    return f"create:{ticket_id}>{target}"


def comment_key(event_id: str, target: str) -> str:
    return f"comment:{event_id}>{target}"


def lock_name(a: str, b: str) -> str:
    """One lock for both directions, so A->B and B->A never run at once."""
    first, second = sorted((a, b))
    return f"mirror:{first}+{second}"


def supports_marker(backend: Backend) -> bool:
    return type(backend).find_by_marker is not Backend.find_by_marker


@dataclass
class MirrorAction:
    action: str  # create | link | update | skip
    source_id: str
    target_id: str | None = None
    detail: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    outcome: str = ""  # apply: created, linked, applied, unchanged, conflict, failed, ...

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "source_id": self.source_id,
            "target_id": self.target_id,
            "changes": self.changes,
            "outcome": self.outcome,
            "detail": self.detail,
        }


@dataclass
class MirrorSummary:
    source: str
    target: str
    applied: bool
    run_id: str
    selected: int = 0
    created: int = 0
    linked: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    conflicts: int = 0
    failed: int = 0
    recovered: int = 0
    actions: list[MirrorAction] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.conflicts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "applied": self.applied,
            "run_id": self.run_id,
            "selected": self.selected,
            "created": self.created,
            "linked": self.linked,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "conflicts": self.conflicts,
            "failed": self.failed,
            "recovered": self.recovered,
            "actions": [a.as_dict() for a in self.actions],
        }


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get(TEST_MIRROR_DELAY_ENV) or 0))
    except ValueError:
        return 0.0


def check_target(target: Backend) -> None:
    """Refuse a target that may not or cannot receive mirrored tickets."""
    if target.config.get("read_only"):
        raise CapabilityError(
            f"instance {target.instance!r} is read_only: mirror never writes to it"
        )
    if TICKETS_CREATE not in target.capabilities:
        raise CapabilityError(f"backend {target.instance!r} cannot create tickets (tickets.create)")
    if not supports_marker(target):
        raise CapabilityError(
            f"backend {target.instance!r} cannot find a ticket by marker (find_by_marker), so a "
            "crash could duplicate a mirrored ticket; mirror refuses it as a target"
        )


def mirror(
    store: Store,
    source: str,
    target: Backend,
    *,
    query: Any = None,
    apply: bool = False,
    backend_for: Callable[[str], Backend] | None = None,
    actor: str = "cst",
    on_action: Callable[[MirrorAction], None] | None = None,
    public_comments: bool = False,
) -> MirrorSummary:
    """Mirror the stored tickets of ``source`` (matching ``query``) into ``target``.

    Comments are posted on the copy as internal notes unless ``public_comments``.

    ``backend_for(instance)`` builds backends for the push engine and for repairing crashed
    creations of the other direction (default: ``target`` itself for its own instance).
    """
    if source == target.instance:
        raise UsageError(f"source and target are the same instance ({source!r})")
    check_target(target)

    def make(instance: str) -> Backend:
        if backend_for is not None:
            return backend_for(instance)
        if instance == target.instance:
            return target
        raise UsageError(f"no backend for {instance!r}")

    summary = MirrorSummary(source, target.instance, apply, uuid.uuid4().hex[:12])
    items = list(store.select(query, instance=source))
    summary.selected = len(items)
    if query is not None and not items:
        raise NotFoundError(f"no ticket of {source!r} matches the query")
    if not apply:
        _Run(store, source, target, summary, None, on_action, public_comments).plan_all(items)
        return summary
    with locks_mod.hold(store, lock_name(source, target.instance)):
        ledger = Ledger(store, SCOPE, summary.run_id)
        summary.recovered = _recover(store, ledger, source, target, make)
        run = _Run(store, source, target, summary, ledger, on_action, public_comments)
        run.plan_all(items)
        if run.planned:
            with locks_mod.hold(store, f"push:{target.instance}"):
                result = push_mod.push(store, make, run_id=summary.run_id, actor=actor)
            run.settle(result)
    return summary


def _recover(
    store: Store,
    ledger: Ledger,
    source: str,
    target: Backend,
    make: Callable[[str], Backend],
) -> int:
    """Creations left unfinished by crashed runs of this pair (either direction): link those
    the marker finds, release the others so they are created again. Only reservations whose
    lease expired are touched (their run stopped renewing them), each taken over atomically
    first; an in-doubt one is taken as it is (no run holds it)."""
    repaired = 0
    pair = {source, target.instance}
    others: dict[str, Backend] = {}
    try:
        for state in (RESERVED, IN_DOUBT):
            for entry in list(ledger.entries(state)):
                if not entry.key.startswith("create:") or entry.run_id == ledger.run_id:
                    continue
                where, towards = entry.detail.get("source"), entry.detail.get("target")
                if where not in pair or towards not in pair:
                    continue
                if state == RESERVED and not (entry.lease_expired() and ledger.take_over(entry)):
                    continue  # a live run is creating it
                if towards == target.instance:
                    backend = target
                else:
                    backend = others.get(towards) or others.setdefault(towards, make(towards))
                found = backend.find_by_marker(entry.detail["marker"])
                if found is None:
                    if state == IN_DOUBT:
                        ledger.release(entry.key)
                    else:
                        ledger.fail(entry.key, "not found by marker after an interrupted run")
                    continue
                with store.transaction():
                    ledger.commit(entry.key, provider_ref=str(found), recovered=True)
                    Links(store).add(
                        entry.detail["ticket"], qualify(towards, found), entry.detail["marker"]
                    )
                repaired += 1
    finally:
        for backend in others.values():
            backend.close()
    return repaired


class _Run:
    def __init__(
        self,
        store: Store,
        source: str,
        target: Backend,
        summary: MirrorSummary,
        ledger: Ledger | None,
        on_action: Callable[[MirrorAction], None] | None,
        public_comments: bool = False,
    ) -> None:
        self.store = store
        self.public_comments = public_comments
        self.source = source
        self.target = target
        self.summary = summary
        self.ledger = ledger
        self.on_action = on_action
        self.links = Links(store)
        self.delay = _delay()
        self.planned: dict[int, tuple[MirrorAction, str | None, list[str]]] = {}
        self.can_write = TICKETS_WRITE in target.capabilities
        self.can_comment = COMMENTS_WRITE in target.capabilities

    @property
    def apply(self) -> bool:
        return self.ledger is not None

    def _emit(self, action: MirrorAction) -> None:
        self.summary.actions.append(action)
        if self.on_action is not None:
            self.on_action(action)

    def plan_all(self, items: list[tuple[Ticket, Person | None]]) -> None:
        for ticket, requester in items:
            if self.ledger is not None:
                self.ledger.keep_alive()  # the lease of this run's reservations
            try:
                self._one(ticket, requester)
            except CstError as exc:
                self.summary.failed += 1
                self._emit(MirrorAction(SKIP, ticket.id, None, str(exc), outcome="failed"))

    def _one(self, ticket: Ticket, requester: Person | None) -> None:
        tgt = self.target.instance
        link = self.links.peer(ticket.id, tgt)
        if link is not None and not link.origin:
            self.summary.skipped += 1
            self._emit(
                MirrorAction(
                    SKIP, ticket.id, link.peer_id, f"a copy of {link.peer_id}; never mirrored back"
                )
            )
            return
        if link is None:
            created = self._create(ticket, requester)
            if created is None:
                return
            copy_id, copy = created, None
            last_tags = list(ticket.tags)
        else:
            copy_id, copy = link.peer_id, self._current(link.peer_id)
            last_tags = list(link.state.get("tags", []))
        self._update(ticket, copy_id, copy, last_tags)

    # -- create ------------------------------------------------------------------------------

    def _new_ticket(self, ticket: Ticket, requester: Person | None, marker: str) -> NewTicket:
        return NewTicket(
            subject=ticket.subject,
            description=ticket.description or ticket.subject,
            requester_email=requester.email if requester is not None else None,
            requester_name=requester.name if requester is not None else "",
            status=str(ticket.status),
            priority=str(ticket.priority),
            channel=str(ticket.channel),
            tags=list(ticket.tags),
            marker=marker,
        )

    def _create(self, ticket: Ticket, requester: Person | None) -> str | None:
        """Create (or find) the copy; return its qualified id, or None when nothing more to do."""
        tgt = self.target.instance
        marker = marker_for(ticket.id)
        if not self.apply:
            self._emit(
                MirrorAction(CREATE, ticket.id, None, ticket.subject, outcome="would create")
            )
            self.summary.created += 1
            return None
        assert self.ledger is not None
        key = create_key(ticket.id, tgt)
        found = self.target.find_by_marker(marker)
        if found is not None:
            copy_id = qualify(tgt, found)
            self._link(key, ticket, copy_id, marker, recovered=True)
            self.summary.linked += 1
            self._emit(MirrorAction(LINK, ticket.id, copy_id, "found by marker", outcome="linked"))
            return copy_id
        detail = {"ticket": ticket.id, "source": self.source, "target": tgt, "marker": marker}
        if not self.ledger.reserve(key, detail):
            entry = self.ledger.get(key)
            if entry is not None and entry.state == RESERVED and entry.run_id != self.ledger.run_id:
                if not (entry.lease_expired() and self.ledger.take_over(entry)):
                    self.summary.skipped += 1
                    self._emit(MirrorAction(SKIP, ticket.id, None, "being created by another run"))
                    return None
                entry = self.ledger.get(key)  # ours now: the marker says it was never created
            if entry is not None and entry.state == DONE:
                # Created once (the ledger says so) but neither linked nor found by its marker
                # any more: someone removed it on purpose. Never create it twice.
                self.summary.skipped += 1
                self._emit(
                    MirrorAction(
                        SKIP,
                        ticket.id,
                        qualify(tgt, entry.provider_ref or "?"),
                        "mirrored once already (ledger), but its copy is gone; not re-created",
                    )
                )
                return None
            # Left by an interrupted run, and the marker is not in the target: never created.
            if entry is None or entry.run_id != self.ledger.run_id or entry.state != RESERVED:
                self.ledger.fail(key, "not found by marker; creating again")
                if not self.ledger.reserve(key, detail):
                    raise CstError(f"{key}: taken by another run")
        if not self.ledger.confirm(key):  # the fencing check, right before the creation
            self.summary.skipped += 1
            why = f"not created: this run no longer holds it ({self.ledger.holder(key)})"
            self._emit(MirrorAction(SKIP, ticket.id, None, why, outcome="fenced"))
            return None
        try:
            external_id = self.target.create(self._new_ticket(ticket, requester, marker))
        except CstError as exc:
            self.ledger.fail(key, str(exc))
            raise
        if self.delay:
            time.sleep(self.delay)
        copy_id = qualify(tgt, external_id)
        self._link(key, ticket, copy_id, marker)
        self.summary.created += 1
        self._emit(MirrorAction(CREATE, ticket.id, copy_id, ticket.subject, outcome="created"))
        return copy_id

    def _link(
        self, key: str, ticket: Ticket, copy_id: str, marker: str, recovered: bool = False
    ) -> None:
        assert self.ledger is not None
        detail = {
            "ticket": ticket.id,
            "source": self.source,
            "target": self.target.instance,
            "marker": marker,
        }
        _, external_id = split_id(copy_id)
        with self.store.transaction():
            entry = self.ledger.get(key)
            if entry is None or entry.state == FAILED:
                self.ledger.reserve(key, detail)
            self.ledger.commit(key, provider_ref=external_id, recovered=recovered)
            self.links.add(ticket.id, copy_id, marker, {"tags": list(ticket.tags)})

    # -- update ------------------------------------------------------------------------------

    def _current(self, copy_id: str) -> Ticket | None:
        stored = self.store.get_ticket(copy_id)
        if stored is not None:
            return stored
        with contextlib.suppress(NotImplementedError):
            return self.target.fetch(split_id(copy_id)[1])
        return None

    def _comments(self, ticket: Ticket) -> Iterator[tuple[str, str]]:
        """(ledger key, body) of public comments not mirrored to the target yet."""
        for event in public_comments(self.store.events(ticket.id)):
            if not event.body:
                continue
            key = comment_key(event.id, self.target.instance)
            entry = self.ledger.get(key) if self.ledger is not None else _peek(self.store, key)
            if entry is None or entry.state == FAILED:
                yield key, event.body

    def _update(
        self, ticket: Ticket, copy_id: str, copy: Ticket | None, last_tags: list[str]
    ) -> None:
        changes = Changes()
        if copy is not None and self.can_write:
            if copy.status != ticket.status:
                changes.status = str(ticket.status)
            if copy.priority != ticket.priority:
                changes.priority = str(ticket.priority)
            changes.add_tags = [t for t in ticket.tags if t not in copy.tags]
            changes.remove_tags = [t for t in last_tags if t not in ticket.tags and t in copy.tags]
            changes.expected_updated_at = copy.updated_at
        comments = list(self._comments(ticket)) if self.can_comment else []
        shown = push_mod.changes_to_dict(changes)
        if comments:
            shown["comments"] = len(comments)
        if changes.is_empty() and not comments:
            return
        action = MirrorAction(UPDATE, ticket.id, copy_id, "", shown)
        self._emit(action)
        if not self.apply:
            action.outcome = "would update"
            self.summary.updated += 1
            return
        assert self.ledger is not None
        old = {"status": str(copy.status), "priority": str(copy.priority)} if copy else {}
        source = f"mirror:{ticket.id}"
        with self.store.transaction():
            if not changes.is_empty():
                item = push_mod.PlannedChange(copy_id, changes, source, old)
                self._plan(item, action, None, list(ticket.tags))
            for key, body in comments:
                if not self.ledger.reserve(key, {"ticket": ticket.id, "target": copy_id}):
                    continue
                note = Comment(body, public=self.public_comments)
                item = push_mod.PlannedChange(
                    copy_id, Changes(comments=[note]), source, ledger_key=key
                )
                self._plan(item, action, key, [])

    def _plan(
        self, item: push_mod.PlannedChange, action: MirrorAction, key: str | None, tags: list[str]
    ) -> None:
        for row_id in push_mod.plan_ids(self.store, [item], self.summary.run_id):
            self.planned[row_id] = (action, key, tags)

    def settle(self, result: push_mod.PushSummary) -> None:
        """Record what the push did: ledger entries, link state, counts."""
        assert self.ledger is not None
        worst: dict[int, str] = {}
        rank = {push_mod.APPLIED: 0, push_mod.UNCHANGED: 0, push_mod.CONFLICT: 2}
        for entry in result.results:
            if entry.id not in self.planned:
                continue
            action, key, tags = self.planned[entry.id]
            ok = entry.state in (push_mod.APPLIED, push_mod.UNCHANGED)
            if key is not None:
                if ok:
                    self.ledger.commit(key, provider_ref=str(entry.id))
                elif entry.state in (push_mod.CONFLICT, push_mod.REFUSED):
                    self.ledger.fail(key, entry.reason or entry.state)
                # failed: stays reserved; the change waits in the queue for `cst sync push`
            elif ok and action.target_id is not None:
                self.links.set_state(
                    action.source_id, split_id(action.target_id)[0], {"tags": tags}
                )
            prev = worst.get(id(action))
            state = entry.state
            if prev is None or rank.get(state, 3) > rank.get(prev, 3):
                worst[id(action)] = state
            if entry.reason:
                action.detail = (action.detail + "; " if action.detail else "") + entry.reason
        for action in self.summary.actions:
            final = worst.get(id(action))
            if final is None:
                continue
            action.outcome = final
            if final == push_mod.APPLIED:
                self.summary.updated += 1
            elif final == push_mod.UNCHANGED:
                self.summary.unchanged += 1
            elif final == push_mod.CONFLICT:
                self.summary.conflicts += 1
            else:
                self.summary.failed += 1


def _peek(store: Store, key: str) -> Any:
    """Read a mirror ledger entry without a run (dry runs)."""
    return Ledger(store, SCOPE, "peek").get(key)
