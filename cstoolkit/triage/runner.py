"""Wiring triage to a workspace: config, plugins, store, roster, calendars and SLA policies.

The commands (``cst triage ...``, ``cst recipe ...``) and the quickstart call these functions;
the engine itself (:mod:`cstoolkit.triage.engine`) knows nothing about config files.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstoolkit import model, query
from cstoolkit.errors import ConfigError, CstError, QueryError, UsageError
from cstoolkit.model import Person, Ticket
from cstoolkit.triage import engine
from cstoolkit.triage.recipe import Env, Recipe, load_recipe

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.host import Host
    from cstoolkit.store import Store
    from cstoolkit.triage.roster import Roster


@dataclass
class Workspace:
    """What a triage command works with. ``store`` may be None for commands that only read
    recipes (``cst recipe check``)."""

    config: Config
    host: Host | None = None
    store: Store | None = None
    _channels: dict[str, Any] = field(default_factory=dict)
    #: tickets whose selection failed (a condition could not be evaluated): (ticket, error)
    select_failures: list[tuple[Ticket, str]] = field(default_factory=list)
    #: the routing model's predictions (``predicted.*`` fields, the ``route`` action), set by
    #: the command when the workspace has a model
    predict: Any = None

    @cached_property
    def calendars(self) -> dict[str, Any]:
        from cstoolkit.calendars import load_calendars

        try:
            return load_calendars(self.config.data.get("calendars"))
        except ConfigError as exc:
            raise ConfigError(exc.bare_message, path=self.config.label, field=exc.field) from None

    @cached_property
    def policies(self) -> list[Any]:
        from cstoolkit import sla

        return sla.load_policies(self.config)

    @cached_property
    def roster(self) -> Roster | None:
        from cstoolkit.triage.roster import load_from_config

        return load_from_config(self.config, self.store)

    def env(self) -> Env:
        from cstoolkit.triage import actions

        channels = None
        if self.config.path is not None:
            channels = list((self.config.data.get("channels") or {}).keys())
        return Env(
            actions=actions.registry(self.host),
            calendars=list(self.calendars),
            policies=[p.name for p in self.policies],
            channels=channels,
            roster=self.roster if self.roster is not None and self.roster.agents else None,
        )

    def load(self, paths: Sequence[str | Path]) -> list[Recipe]:
        if not paths:
            raise UsageError("name at least one recipe file")
        env = self.env()
        recipes = [load_recipe(p, env) for p in paths]
        names = [r.name for r in recipes]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise UsageError(f"two recipes share the name {sorted(dupes)[0]!r} (set name: ...)")
        return recipes

    def context(self, recipes: Sequence[Recipe], at: datetime | None = None) -> engine.Context:
        store = self._need_store()
        ctx = engine.store_context(
            store,
            recipes,
            now=at or model.now(),
            calendars=self.calendars,
            policies=self.policies,
            roster=self.roster,
        )
        ctx.predict = self.predict
        return ctx

    def _need_store(self) -> Store:
        if self.store is None:
            raise UsageError("this command needs the store")
        return self.store

    def select(
        self, recipes: Sequence[Recipe], query_text: str | None, at: datetime
    ) -> Iterator[tuple[Ticket, Person | None]]:
        """Tickets the recipes consider: not closed, matching ``--query`` and at least one
        recipe's ``query:`` (filtered in SQL where the condition allows, else in Python)."""
        store = self._need_store()
        parts: list[query.Node] = [query.Not(query.cond("status", "is", "closed"))]
        if query_text:
            parts.append(self.check_query(query.parse(query_text), recipes))
        pre = [r.query for r in recipes]
        if pre and all(p is not None for p in pre):
            nodes = tuple(p for p in pre if p is not None)
            parts.append(nodes[0] if len(nodes) == 1 else query.Any(nodes))
        node = query.All(tuple(parts))
        sql_part = tuple(
            p for p in parts if query.to_sql(p, now=at, dialect=store.dialect) is not None
        )
        py_part = tuple(p for p in parts if query.to_sql(p, now=at, dialect=store.dialect) is None)
        select_node = query.All(sql_part) if sql_part else None
        if not py_part:
            yield from store.select(select_node, at=at)
            return
        from cstoolkit.triage import fields

        fields.register()
        ctx = self.context(recipes, at)
        calendar = None
        if len(recipes) == 1 and recipes[0].calendar:
            calendar = self.calendars.get(recipes[0].calendar)
        src = fields.Sources(
            now=at,
            calendar=calendar,
            calendars=self.calendars,
            policies=self.policies,
            roster=self.roster,
            group_names=ctx.group_names,
            events=store.events,
            facts=ctx.facts,
        )
        rest = query.All(py_part)
        for ticket, requester in store.select(select_node, at=at):
            extras = fields.Extras(src, ticket, requester)
            try:
                chosen = query.evaluate(rest, query.Subject(ticket, requester, at, extras))
            except Exception as exc:  # this ticket's failure, not the run's
                error = f"selecting: {type(exc).__name__}: {engine.one_line(exc)}"
                self.select_failures.append((ticket, error))
                continue
            if chosen:
                yield ticket, requester
        del node

    def check_query(self, node: query.Node, recipes: Sequence[Recipe]) -> query.Node:
        """Refuse in ``--query`` what the recipes cannot evaluate: business-hour fields without
        a recipe calendar, roster fields without a roster (one line naming where they work)."""
        provides = self._provides(query.fields_used(node), recipes)
        try:
            query.require(query.fields_used(node), provides, "--query")
        except QueryError as exc:
            raise UsageError(exc.message) from None
        return node

    def _provides(self, names: Collection[str], recipes: Sequence[Recipe] = ()) -> set[str]:
        """The needs of conditions this workspace supplies (the roster only when configured:
        it is loaded only when a condition tests it)."""
        provides = set(query.STORE_NEEDS)
        if self.predict is not None:
            provides.add("model")
        if len(recipes) == 1 and recipes[0].calendar:
            provides.add("calendar")
        if any("roster" in query.field_spec(n).needs for n in names) and not (
            self.roster is not None and self.roster.agents
        ):
            provides.discard("roster")
        return provides

    def query_context(self, node: query.Node, where: str) -> query.Context:
        """The context of ``node``'s per-ticket parts in a command that reads the store
        (``tickets list``, ``report kpi``, ``sync mirror``): the ticket's facts from its stored
        events, the SLA policies and calendars of the config, group names and the roster."""
        from cstoolkit.triage import fields

        store = self._need_store()
        names = query.fields_used(node)
        needs = {n for name in names for n in query.field_spec(name).needs}
        provides = self._provides(names)
        sources: list[fields.Sources] = []

        def extras(ticket: Ticket, requester: Person | None, now: datetime) -> fields.Extras:
            if not sources or sources[0].now != now:
                sources[:] = [
                    fields.Sources(
                        now=now,
                        calendars=self.calendars if "sla" in needs else {},
                        policies=self.policies if "sla" in needs else (),
                        roster=self.roster if "roster" in needs else None,
                        group_names=_GroupNames(store),
                        events=store.events,
                    )
                ]
            return fields.Extras(sources[0], ticket, requester)

        return query.Context(extras=extras, provides=frozenset(provides), where=where)

    # -- writing --------------------------------------------------------------------------------

    def backend_for(self, instance: str) -> Any:
        from cstoolkit.instances import build_instance

        if self.host is None:
            raise UsageError("no plugin host")
        return build_instance(self.config, self.host, "backends", instance, self.store)

    def channel_for(self, name: str) -> Any:
        if name not in self._channels:
            from cstoolkit.instances import build_instance

            if self.host is None:
                raise UsageError("no plugin host")
            self._channels[name] = build_instance(
                self.config, self.host, "channels", name, self.store
            )
        return self._channels[name]

    def close(self) -> None:
        for ch in self._channels.values():
            try:
                ch.close()
            except Exception:  # closing is best effort
                pass
        self._channels.clear()


# -- the operations the commands run -----------------------------------------------------------


def plan_run(
    ws: Workspace,
    recipe_paths: Sequence[str | Path],
    *,
    query_text: str | None = None,
    at: datetime | None = None,
) -> engine.Plan:
    """A dry run: what the recipes would do to the selected tickets."""
    recipes = ws.load(recipe_paths)
    when = at or model.now()
    ctx = ws.context(recipes, when)
    planner = engine.Planner(recipes, ctx)
    ws.select_failures.clear()
    items: Any = ws.select(recipes, query_text, when)
    if ws.predict is not None and _asks_the_model(recipes):
        items = list(items)
        ws.predict.many(items)  # one matrix for every ticket: much faster than one by one
    plan = planner.plan(items)
    for ticket, error in ws.select_failures:
        plan.evaluated += 1
        plan.tickets.append(engine.failed_plan(ticket, error))
    return plan


def _asks_the_model(recipes: Sequence[Recipe]) -> bool:
    """Whether a recipe tests a ``predicted.*`` field or routes by the model."""
    return any(
        any(n.startswith("predicted.") for n in r.fields())
        or any(c.name == "route" for rule in r.rules for c in rule.then)
        for r in recipes
    )


def apply(ws: Workspace, plan: engine.Plan, *, kind: str = "apply") -> engine.ApplyReport:
    store = ws._need_store()
    return engine.apply_plan(store, plan, ws.backend_for, channel_for=ws.channel_for, kind=kind)


def write_plan(plan: engine.Plan, path: str | Path) -> None:
    from cstoolkit.output import to_json

    Path(path).write_text(to_json(plan.as_dict()) + "\n", "utf-8")


def read_plan(path: str | Path) -> engine.Plan:
    from cstoolkit.textfiles import read_text

    p = Path(path)
    if not p.exists():
        raise UsageError(f"{p}: no such plan file")
    text = read_text(p, limit=1 << 30)  # strict UTF-8; a plan is as large as its run
    try:
        return engine.Plan.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ConfigError(f"not a triage plan: {exc}", path=str(p)) from None


def check_max_changes(plan: engine.Plan, limit: int | None) -> None:
    if limit is None:
        return
    n = len(plan.changing)
    if n > limit:
        raise CstError(
            f"the run would change {n} tickets, more than --max-changes {limit}; "
            "nothing was written",
            hint="review it with a dry run (--plan-out FILE), then raise --max-changes",
        )


class _GroupNames(Mapping[str, str]):
    """Group names read from the store on first use (a condition testing ``group.name``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cache: dict[str, str] = {}

    def __getitem__(self, group_id: str) -> str:
        if group_id not in self.cache:
            group = self.store.group(group_id)
            if group is None or not group.name:
                raise KeyError(group_id)
            self.cache[group_id] = group.name
        return self.cache[group_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.cache)

    def __len__(self) -> int:
        return len(self.cache)
