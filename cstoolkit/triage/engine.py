"""The triage engine: plan what recipes would do, then (on request) apply it through the one
write path.

:class:`Planner` runs recipes over tickets without writing anything: rules in order, each seeing
the changes of the ones before, ``stop`` ending a recipe for a ticket. The result is a
:class:`Plan` of :class:`TicketPlan` (which rules matched, each field's old -> new value,
comments, notifications). A dry run prints it; :func:`apply_plan` stores it with
:func:`cstoolkit.push.plan` and pushes it with :func:`cstoolkit.push.push` (conflict checks
against ``expected_updated_at``, audit log with old values, failure queue), records the
non-idempotent actions in the ledger (scope ``triage``) and saves what each recipe saw (for
``changed*``) and the assignment state (round robin, rota).

The plan records live in :mod:`cstoolkit.triage.plans`, applying in :mod:`cstoolkit.triage.apply`;
the names callers use are importable from here as well.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cstoolkit import query, templating
from cstoolkit.errors import CstError
from cstoolkit.model import Event, Person, Priority, Status, Ticket
from cstoolkit.triage import fields as fields_mod
from cstoolkit.triage.apply import ApplyReport, apply_plan  # noqa: F401  (re-exported)
from cstoolkit.triage.assign import AssignState, Request, escalate_target, pick
from cstoolkit.triage.plans import (
    LEDGER_SCOPE,
    Notification,
    Plan,
    PlannedComment,
    TicketPlan,
    ledger_key,
)
from cstoolkit.triage.plans import state as _state
from cstoolkit.triage.recipe import ActionCall, Recipe, Rule
from cstoolkit.triage.roster import Roster, capacity_key

if TYPE_CHECKING:
    from cstoolkit.store import Store

log = logging.getLogger(__name__)

_RESOLVED = (Status.SOLVED, Status.CLOSED)


# -- planning ----------------------------------------------------------------------------------


@dataclass
class Context:
    """Everything a plan reads besides the tickets (the store, or fixtures in recipe tests)."""

    now: datetime
    calendars: Mapping[str, Any] = field(default_factory=dict)
    policies: Sequence[Any] = ()
    roster: Roster | None = None
    state: AssignState = field(default_factory=AssignState)
    events: Callable[[str], Sequence[Event]] = lambda _tid: ()
    #: a ticket's facts (the store's); without it they are built from ``events``
    facts: Callable[[Ticket], fields_mod.Facts] | None = None
    previous: Callable[[str, str], dict[str, Any] | None] = lambda _r, _t: None
    ledger_seen: Callable[[str], bool] = lambda _k: False
    group_names: Mapping[str, str] = field(default_factory=dict)
    people: Callable[[str], Person | None] = lambda _pid: None
    #: the knowledge base's search (cstoolkit.knowledge.search.Index), for the kb actions
    knowledge: Any = None
    #: the routing model's predictions of a ticket (``predicted.*``), when a model is loaded
    predict: Callable[[Ticket, Person | None], Mapping[str, Any]] | None = None


class _Run:
    """One ticket going through the recipes: the ActionContext actions act on."""

    def __init__(self, planner: Planner, ticket: Ticket, requester: Person | None) -> None:
        self.planner = planner
        self.ctx = planner.ctx
        self.original = ticket
        self.ticket = dataclasses.replace(
            ticket, tags=list(ticket.tags), custom_fields=dict(ticket.custom_fields)
        )
        self.requester = requester
        self.now = self.ctx.now
        self.roster = self.ctx.roster
        self.plan = TicketPlan(
            ticket_id=ticket.id,
            subject=ticket.subject,
            expected_updated_at=ticket.updated_at,
            before=_state(ticket),
            after={},
        )
        self._facts: fields_mod.Facts | None = None
        self.extras: fields_mod.Extras | None = None
        self.recipe: Recipe | None = None
        self.rule: Rule | None = None
        self.key: str | None = None

    # -- lazy facts -----------------------------------------------------------------------------

    @property
    def facts(self) -> fields_mod.Facts:
        """The ticket's facts as stored (before this run's actions)."""
        if self._facts is None:
            if self.ctx.facts is not None:
                self._facts = self.ctx.facts(self.original)
            else:
                self._facts = fields_mod.facts(self.original, self.ctx.events(self.original.id))
        return self._facts

    @property
    def cycle(self) -> int:
        return self.facts.cycle

    def _changed(self) -> None:
        if self.extras is not None:
            self.extras.invalidate()

    # -- ActionContext --------------------------------------------------------------------------

    def predicted(self, name: str) -> Any:
        """The routing model's ``predicted.*`` value for the ticket as it came (None without a
        model)."""
        if self.ctx.predict is None:
            return None
        return self.ctx.predict(self.original, self.requester).get(name)

    def set_field(self, name: str, value: Any) -> bool:
        t = self.ticket
        if name == "priority":
            new = Priority(value)
            if t.priority == new:
                return False
            t.priority = new
        elif name == "status":
            new_status = Status(value)
            if t.status == new_status:
                return False
            t.status = new_status
            if new_status in _RESOLVED and t.solved_at is None:
                t.solved_at = self.now
            elif new_status not in _RESOLVED:
                t.solved_at = None
        elif name == "group":
            gid = self._group_id(str(value))
            if t.group_id == gid:
                return False
            t.group_id = gid
        elif name == "assignee":
            pid = self._person_id(str(value))
            if t.assignee_id == pid:
                return False
            self._move_load(pid)
            t.assignee_id = pid
        elif name.startswith("custom."):
            key = name[len("custom.") :]
            if key in t.custom_fields and t.custom_fields[key] == value:
                return False
            t.custom_fields[key] = value
        else:
            raise CstError(f"cannot set {name!r}")
        self._changed()
        return True

    def _group_id(self, name: str) -> str:
        if ":" in name:
            return name
        if self.roster is not None:
            return self.roster.group_id(name, self.ticket.instance)
        return f"{self.ticket.instance}:{name}"

    def _person_id(self, value: str) -> str:
        if ":" in value:
            return value
        if self.roster is not None:
            agent = self.roster.agent(value)
            if agent is not None:
                pid = agent.person_id(self.ticket.instance)
                if pid is None:
                    raise CstError(
                        f"agent {value!r} has no id on instance {self.ticket.instance!r}"
                    )
                return pid
        return f"{self.ticket.instance}:{value}"

    def _move_load(self, new_pid: str | None) -> None:
        if self.roster is None:
            return
        old = self.roster.by_person(self.ticket.assignee_id)
        new = self.roster.by_person(new_pid)
        unresolved = self.ticket.status not in _RESOLVED
        self.ctx.state.moved(old, new, self.ticket.channel.value, unresolved)

    def add_tags(self, tags: Sequence[str]) -> bool:
        new = [t for t in tags if t not in self.ticket.tags]
        if not new:
            return False
        self.ticket.tags.extend(new)
        self._changed()
        return True

    def remove_tags(self, tags: Sequence[str]) -> bool:
        kept = [t for t in self.ticket.tags if t not in tags]
        if len(kept) == len(self.ticket.tags):
            return False
        self.ticket.tags = kept
        self._changed()
        return True

    def comment(self, body: str, public: bool) -> None:
        self.plan.comments.append(PlannedComment(body, public, self.key))

    @property
    def knowledge(self) -> Any:
        """The knowledge base's search (None where the context has none)."""
        return self.ctx.knowledge

    def requester_texts(self) -> list[str]:
        """What the requester wrote on this ticket, in order (cstoolkit.timeline.messages)."""
        from cstoolkit.timeline.messages import requester_texts

        return requester_texts(self.original, self.ctx.events(self.original.id))

    def notify(self, channel: str, to: str, subject: str, text: str) -> None:
        self.plan.notifications.append(
            Notification(channel, to, subject, text, self.key or "", self._recipient(to))
        )

    def _recipient(self, to: str) -> dict[str, Any]:
        if to == "requester":
            r = self.requester
            if r is None:
                return {}
            return {"id": r.id, "name": r.name, "email": r.email, "language": r.language}
        if to == "assignee":
            return self._agent_recipient(self.ticket.assignee_id, by_person=True)
        if "@" in to:
            return {"email": to}
        return self._agent_recipient(to, by_person=False)

    def _agent_recipient(self, ref: str | None, *, by_person: bool) -> dict[str, Any]:
        if not ref:
            return {}
        agent = None
        if self.roster is not None:
            agent = self.roster.by_person(ref) if by_person else self.roster.agent(ref)
        if agent is not None:
            return {"id": agent.id, "name": agent.name, "email": agent.email}
        person = self.ctx.people(ref) if by_person else None
        if person is not None:
            return {"id": person.id, "name": person.name, "email": person.email}
        return {"id": ref, "handles": {"default": ref}}

    def render(self, template: Any) -> str:
        text = templating.pick_language(template, self.ticket.language)
        return templating.render(text, self.template_context())

    def template_context(self) -> dict[str, Any]:
        t, r = self.ticket, self.requester
        agent = self.roster.by_person(t.assignee_id) if self.roster else None
        assignee: dict[str, Any] = {}
        if agent is not None:
            assignee = {
                "id": agent.id,
                "name": agent.name,
                "email": agent.email,
                "first_name": agent.name.split()[0] if agent.name else "",
                "tier": agent.tier,
                "groups": list(agent.groups),
            }
        elif t.assignee_id:
            assignee = {"id": t.assignee_id, "name": "", "first_name": ""}
        sla_values: dict[str, Any] = {}
        if self.extras is not None and self.ctx.policies:
            sla_values = {k[4:]: v for k, v in self.extras._sla().items()}
        group_name = self.extras.get("group.name") if self.extras is not None else None
        o = self.original
        before_agent = self.roster.by_person(o.assignee_id) if self.roster else None
        return {
            "before": {
                "status": o.status.value,
                "priority": o.priority.value,
                "group": o.group_id,
                "assignee": o.assignee_id,
                "tags": list(o.tags),
                "assignee_name": before_agent.name if before_agent else "",
                "custom_fields": dict(o.custom_fields),
            },
            "ticket": {
                "id": t.id,
                "external_id": t.external_id,
                "instance": t.instance,
                "subject": t.subject,
                "description": t.description,
                "status": t.status.value,
                "priority": t.priority.value,
                "channel": t.channel.value,
                "tags": list(t.tags),
                "language": t.language,
                "group": t.group_id,
                "group_name": group_name,
                "assignee": t.assignee_id,
                "custom_fields": dict(t.custom_fields),
                "created_at": t.created_at.isoformat(),
                "updated_at": t.updated_at.isoformat(),
                "solved_at": t.solved_at.isoformat() if t.solved_at else None,
            },
            "requester": {
                "id": r.id if r else None,
                "name": r.name if r else "",
                "first_name": (r.name.split()[0] if r and r.name else ""),
                "email": r.email if r else None,
                "plan": r.plan if r else None,
                "organization": r.organization if r else None,
                "language": r.language if r else None,
                "domain": r.domain if r else None,
            },
            "assignee": assignee,
            "group": {"id": t.group_id, "name": group_name},
            "sla": sla_values,
            "recipe": self.recipe.name if self.recipe else "",
            "rule": self.rule.name if self.rule else "",
            "now": self.now.isoformat(),
        }

    def _request(self, group: str | None, *, exclude_current: bool = False) -> Request:
        roster = self.roster
        assert roster is not None
        return Request(
            instance=self.ticket.instance,
            channel=self.ticket.channel.value,
            language=self.ticket.language or (self.requester.language if self.requester else None),
            tags=list(self.ticket.tags),
            at=self.now,
            group=group,
            current=roster.by_person(self.ticket.assignee_id),
            exclude_current=exclude_current,
        )

    def assign(self, strategy: str, params: Mapping[str, Any]) -> str | None:
        if "agent" in params:
            agent_ref = str(params["agent"])
            if self.set_field("assignee", agent_ref):
                if params.get("group"):
                    self.set_field("group", str(params["group"]))
                self._assign_note(params)
                return f"assign {agent_ref}"
            return None
        roster = self.roster
        if roster is None:
            raise CstError('assign needs a roster (roster = "roster.yaml" in cstoolkit.toml)')
        group = params.get("group") or roster.group_name(self.ticket.group_id)
        req = self._request(str(group) if group else None)
        if strategy == "first_responder":
            req.first_responder = self.facts.first_responder
        result = pick(strategy, params, req, roster, self.ctx.state)
        if result.agent is None:
            self.plan.skipped.append(f"{self._where()}: assign: {result.reason}")
            return None
        done = self._take(
            result.agent, params.get("group"), f"assign {result.agent.id} ({result.reason})"
        )
        if done:
            self._assign_note(params)
        return done

    def _assign_note(self, params: Mapping[str, Any]) -> None:
        if params.get("note"):
            body = self.render(params["note"])
            if body.strip():
                self.comment(body, False)

    def _take(self, agent: Any, group: Any, label: str) -> str | None:
        pid = agent.person_id(self.ticket.instance)
        changed = self.set_field("assignee", pid)
        if group:
            changed = self.set_field("group", str(group)) or changed
        if not changed:
            return None
        key = capacity_key(self.ticket.channel.value, agent.capacity)
        at = self.now.timestamp()
        self.ctx.state.record(agent, key, at)
        self.plan.picks.append((agent.id, key, at))
        for rota, week in sorted(self.ctx.state.dirty_rota):
            entry = (rota, week, self.ctx.state.rota[(rota, week)])
            if entry not in self.plan.rota:
                self.plan.rota.append(entry)
        return label

    def escalate(self, params: Mapping[str, Any]) -> str | None:
        roster = self.roster
        if roster is None:
            raise CstError('escalate needs a roster (roster = "roster.yaml" in cstoolkit.toml)')
        agent = roster.by_person(self.ticket.assignee_id)
        group_name = roster.group_name(self.ticket.group_id)
        tiers = [x for x in (agent.tier if agent else None, roster.group_tier(group_name)) if x]
        current = max(tiers) if tiers else 1
        tier, group = escalate_target(roster, current, params)
        if tier is None:
            self.plan.skipped.append(f"{self._where()}: escalate: already at the top tier")
            return None
        req = self._request(group, exclude_current=True)
        strategy = str(params.get("strategy", "least_loaded"))
        result = pick(strategy, {"tier": tier}, req, roster, self.ctx.state)
        self.add_tags(["escalated"])
        if "note" in params:
            self.comment(self.render(params["note"]), False)
        if result.agent is None:
            moved = self.set_field("group", group) if group else False
            self.plan.skipped.append(
                f"{self._where()}: escalate: {result.reason} in tier {tier} (assignee unchanged)"
            )
            return f"escalate to {group} (tier {tier})" if moved else "escalate (tagged)"
        self._take(result.agent, group, "")
        return f"escalate to tier {tier}: {result.agent.id}" + (f" in {group}" if group else "")

    def _where(self) -> str:
        return f"{self.recipe.name}/{self.rule.name}" if self.recipe and self.rule else "?"

    # -- running --------------------------------------------------------------------------------

    def run_recipe(self, recipe: Recipe) -> None:
        self.recipe = recipe
        src = self.planner.sources_for(recipe)
        self.extras = fields_mod.Extras(src, self.ticket, self.requester, facts=lambda: self.facts)
        previous = self.ctx.previous(recipe.key, self.original.id)
        subject = query.Subject(self.ticket, self.requester, self.now, self.extras, previous)
        if recipe.query is not None and not query.evaluate(recipe.query, subject):
            return
        for rule in recipe.rules:
            self.rule = rule
            if rule.when is not None and not query.evaluate(rule.when, subject):
                continue
            tag = f"{recipe.name}/{rule.name}"
            self.plan.matched.append(tag)
            self.planner.count(tag)
            for call in rule.then:
                self.run_action(recipe, rule, call)
            if rule.stop:
                break
        self.rule = None
        node = self.planner.change_nodes.get(recipe.key)
        if node is not None:
            self.planner.snapshot(recipe.key, self.original.id, query.snapshot(node, subject))

    def run_action(self, recipe: Recipe, rule: Rule, call: ActionCall) -> None:
        self.key = None
        if call.once:
            key = ledger_key(recipe.name, rule.name, call.key, self.original.id, self.cycle)
            if self.ctx.ledger_seen(key) or key in self.plan.ledger:
                self.plan.skipped.append(
                    f"{tag(recipe, rule)}: {call.name}: already done (ledger {key})"
                )
                return
            self.key = key
        try:
            result = call.action.run(call.params, self)
        except (CstError, ValueError) as exc:
            self.plan.errors.append(f"{_where(recipe, rule, call)}: {one_line(exc)}")
            return
        except Exception as exc:  # a plugin action's bug must not stop the run
            log.debug("action %s failed on %s", call.name, self.original.id, exc_info=True)
            self.plan.errors.append(
                f"{_where(recipe, rule, call)}: {type(exc).__name__}: {one_line(exc)}"
            )
            return
        finally:
            if self.extras is not None:
                self.extras.invalidate()
        if result:
            self.plan.done.append(f"{rule.name}: {result}")
            if self.key is not None:
                self.plan.ledger.append(self.key)
        self.key = None

    def finish(self) -> TicketPlan:
        self.plan.after = _state(self.ticket)
        return self.plan


def tag(recipe: Recipe, rule: Rule) -> str:
    return f"{recipe.name}/{rule.name}"


def _where(recipe: Recipe, rule: Rule, call: ActionCall) -> str:
    """``recipes/vip.yaml:12:9: vip/rule: note``: the file, rule and action of a failure."""
    place = recipe.path
    if recipe.doc is not None:
        line, column = recipe.doc.pos(call.at)
        place = f"{recipe.path}:{line}:{column}"
    return f"{place}: {tag(recipe, rule)}: {call.name}"


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (a failing ticket is reported in one line)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."


class Planner:
    """Plans recipes over tickets. Reads through :class:`Context`; writes nothing."""

    def __init__(self, recipes: Sequence[Recipe], ctx: Context) -> None:
        fields_mod.register()
        self.recipes = list(recipes)
        self.ctx = ctx
        self.rule_matches: dict[str, int] = {
            f"{r.name}/{rule.name}": 0 for r in recipes for rule in r.rules
        }
        self.change_nodes = {r.key: n for r in recipes if (n := r.change_node()) is not None}
        self.snapshots: list[tuple[str, str, dict[str, Any]]] = []
        self._sources: dict[str, fields_mod.Sources] = {}

    def sources_for(self, recipe: Recipe) -> fields_mod.Sources:
        src = self._sources.get(recipe.key)
        if src is None:
            ctx = self.ctx
            calendar = ctx.calendars.get(recipe.calendar) if recipe.calendar else None
            if recipe.calendar and calendar is None:
                raise CstError(f"{recipe.path}: unknown calendar {recipe.calendar!r}")
            src = fields_mod.Sources(
                now=ctx.now,
                calendar=calendar,
                calendars=ctx.calendars,
                policies=ctx.policies,
                roster=ctx.roster,
                group_names=ctx.group_names,
                events=ctx.events,
                facts=ctx.facts,
                predict=ctx.predict,
            )
            self._sources[recipe.key] = src
        return src

    def count(self, tag: str) -> None:
        self.rule_matches[tag] = self.rule_matches.get(tag, 0) + 1

    def snapshot(self, recipe: str, ticket_id: str, snap: dict[str, Any]) -> None:
        self.snapshots.append((recipe, ticket_id, snap))

    def plan_ticket(self, ticket: Ticket, requester: Person | None) -> TicketPlan:
        run = _Run(self, ticket, requester)
        for recipe in self.recipes:
            run.run_recipe(recipe)
        return run.finish()

    def run_action(
        self,
        ticket: Ticket,
        requester: Person | None,
        recipe: Recipe,
        rule: Rule,
        call: ActionCall,
        sources: fields_mod.Sources,
    ) -> tuple[TicketPlan, Ticket]:
        """One action of ``rule`` on ``ticket`` as of ``sources.now``, through the same code as
        :meth:`plan_ticket` (a backtest replays a rule's actions on many tickets in turn): the
        plan of that action and the ticket after it."""
        run = _Run(self, ticket, requester)
        run.now = sources.now
        run.recipe, run.rule = recipe, rule
        run.extras = fields_mod.Extras(sources, run.ticket, requester)
        run.run_action(recipe, rule, call)
        return run.finish(), run.ticket

    def plan_ticket_safely(self, ticket: Ticket, requester: Person | None) -> TicketPlan:
        """:meth:`plan_ticket`, where a failure is that ticket's one-line error (its plan then
        changes nothing): one bad ticket never stops a run over many."""
        try:
            return self.plan_ticket(ticket, requester)
        except Exception as exc:
            log.debug("planning %s failed", ticket.id, exc_info=True)
            self.snapshots = [s for s in self.snapshots if s[1] != ticket.id]
            return failed_plan(ticket, f"{type(exc).__name__}: {one_line(exc)}")

    def plan(
        self,
        items: Iterable[tuple[Ticket, Person | None]],
        *,
        keep: Callable[[TicketPlan], bool] | None = None,
    ) -> Plan:
        """Plan every ticket; a ticket that fails is kept with its error and the run goes on
        (``Plan.failed`` counts them). Recipe-level problems (an unknown calendar) stop it."""
        out = Plan(recipes=[recipe_info(r) for r in self.recipes], created_at=self.ctx.now)
        for recipe in self.recipes:
            self.sources_for(recipe)
        for ticket, requester in items:
            out.evaluated += 1
            tp = self.plan_ticket_safely(ticket, requester)
            if tp.errors or (tp.matched and (keep is None or keep(tp))):
                out.tickets.append(tp)
        out.rule_matches = dict(self.rule_matches)
        out.snapshots = list(self.snapshots)
        return out


def failed_plan(ticket: Ticket, error: str) -> TicketPlan:
    """The plan of a ticket that could not be planned: no change, one error."""
    state = _state(ticket)
    return TicketPlan(
        ticket_id=ticket.id,
        subject=ticket.subject,
        expected_updated_at=ticket.updated_at,
        before=state,
        after=dict(state, tags=list(state["tags"]), custom_fields=dict(state["custom_fields"])),
        errors=[error],
    )


def recipe_info(recipe: Recipe) -> dict[str, Any]:
    return {"name": recipe.name, "path": recipe.path, "sha256": recipe.sha256}


# -- building a context from the store ---------------------------------------------------------


def store_context(
    store: Store,
    recipes: Sequence[Recipe],
    *,
    now: datetime,
    calendars: Mapping[str, Any],
    policies: Sequence[Any],
    roster: Roster | None,
) -> Context:
    """A Context reading the store: events, people, previous snapshots, ledger, loads, state."""
    from functools import partial

    from cstoolkit.store import facts as stored_facts
    from cstoolkit.store import triage as db
    from cstoolkit.store.ledger import FAILED, Ledger

    state = AssignState()
    if roster is not None:
        from cstoolkit.triage.assign import load_counts

        state = load_counts(db.open_loads(store), roster)
        persisted = db.last_assignments(store)
        if any(
            call.params.get("strategy")
            in ("round_robin", "least_loaded", "skills", "first_responder")
            for r in recipes
            for rule in r.rules
            for call in rule.then
            if call.name == "assign" and isinstance(call.params, Mapping)
        ):
            for person, channel, at in db.assignment_events(store, db.recent_window(30), now):
                agent = roster.by_person(person)
                if agent is not None:
                    k = (agent.id, capacity_key(channel, agent.capacity))
                    state.last[k] = max(state.last.get(k, 0.0), at)
        for k, at in persisted.items():
            state.last[k] = max(state.last.get(k, 0.0), at)
        state.rota.update(db.rota_owners(store))
    previous: dict[str, dict[str, dict[str, Any]]] = {}

    def previous_for(recipe: str, ticket_id: str) -> dict[str, Any] | None:
        if recipe not in previous:
            previous[recipe] = db.previous_snapshots(store, recipe)
        return previous[recipe].get(ticket_id)

    ledger = Ledger(store, LEDGER_SCOPE)

    def seen(key: str) -> bool:
        """Done, reserved by a run or in doubt: never again for this cause. Failed: retry."""
        entry = ledger.get(key)
        return entry is not None and entry.state != FAILED

    from cstoolkit.knowledge.search import Index

    groups = store.group_names()
    return Context(
        now=now,
        calendars=calendars,
        policies=policies,
        roster=roster,
        state=state,
        events=store.events,
        facts=partial(stored_facts.for_ticket, store),
        previous=previous_for,
        ledger_seen=seen,
        group_names=groups,
        people=store.person,
        knowledge=Index(store),
    )
