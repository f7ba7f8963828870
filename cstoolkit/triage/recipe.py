"""The recipe model, and parsing a YAML recipe into it with every problem at file:line:column.

A recipe (docs/recipes.md)::

    name: paid-plan-priority          # default: the file name without .yaml
    description: Paying customers first.
    calendar: madrid                  # for business_hours_* fields (a [calendars.NAME])
    query: "status:new,open"          # optional: only tickets matching this are considered
    rules:
      - name: enterprise is urgent
        when:
          all:
            - requester.plan: enterprise
            - priority: {in: [low, normal]}
        then:
          - set: {priority: high}
          - add_tags: [vip]
        stop: true

``when`` is the condition language of ``--query`` (docs/query.md) and compiles to the same tree;
``then`` is a list of ``{action: arguments}``. Rules run in order; each sees the changes of the
ones before; ``stop: true`` ends the recipe for a ticket the rule matched.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cstoolkit import query
from cstoolkit.errors import QueryError
from cstoolkit.textfiles import Doc, FileError, Path_, Problem, load_yaml
from cstoolkit.triage import actions as actions_mod
from cstoolkit.triage import fields

Node = query.Node

RECIPE_KEYS = ("name", "description", "calendar", "query", "rules")
RULE_KEYS = ("name", "description", "when", "then", "stop")
_GROUP_KEYS = ("all", "any", "not")


@dataclass
class ActionCall:
    name: str
    action: Any
    params: Any
    at: Path_
    key: str  # the action's part of a ledger key: name#n (n-th action of that name in the rule)
    once: bool
    writes: frozenset[str]

    def summary(self) -> str:
        return actions_mod.summary(self.action, self.params)


@dataclass
class Rule:
    index: int
    name: str
    when: query.Node | None
    then: list[ActionCall]
    stop: bool
    at: Path_
    description: str = ""
    leaves: dict[int, Path_] = field(default_factory=dict)  # id(Cond) -> where it was written

    @property
    def fields(self) -> frozenset[str]:
        return query.fields_used(self.when) if self.when is not None else frozenset()

    @property
    def writes(self) -> frozenset[str]:
        out: set[str] = set()
        for call in self.then:
            out |= call.writes
        return frozenset(out)


@dataclass
class Recipe:
    name: str
    path: str
    rules: list[Rule]
    description: str = ""
    calendar: str | None = None
    query: Node | None = None
    doc: Doc | None = None
    sha256: str = ""

    @property
    def key(self) -> str:
        return self.name

    def fields(self) -> frozenset[str]:
        out: set[str] = set()
        for r in self.rules:
            out |= r.fields
        return frozenset(out)

    def change_node(self) -> Node | None:
        """Every rule condition that tests changed/changed_from/changed_to (for snapshots)."""
        nodes = tuple(
            r.when for r in self.rules if r.when is not None and query.changed_fields(r.when)
        )
        return query.All(nodes) if nodes else None


@dataclass
class Env:
    """What a recipe is checked against; None skips that check (no config at hand)."""

    actions: Mapping[str, Any] = field(default_factory=actions_mod.registry)
    calendars: Iterable[str] | None = None
    policies: Iterable[str] | None = None
    channels: Iterable[str] | None = None
    roster: Any = None


def _hint(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Parser:
    def __init__(self, doc: Doc, env: Env) -> None:
        self.doc = doc
        self.env = env
        self.problems: list[Problem] = []
        self.calendar: str | None = None

    def error(self, at: Path_, message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(at, message, key=key))

    def warn(self, at: Path_, message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(at, message, "warning", key=key))

    # -- conditions ------------------------------------------------------------------------------

    def when(self, value: Any, at: Path_, leaves: dict[int, Path_]) -> query.Node | None:
        if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _GROUP_KEYS:
            key = next(iter(value))
            body = value[key]
            if key == "not":
                child = self.when(body, (*at, key), leaves)
                return query.Not(child) if child is not None else None
            items = body if isinstance(body, list) else [body]
            if not items:
                self.error((*at, key), f"'{key}' needs at least one condition")
                return None
            inner_at = (*at, key)
            kids = [
                self.when(item, (*inner_at, i) if isinstance(body, list) else inner_at, leaves)
                for i, item in enumerate(items)
            ]
            if any(k is None for k in kids):
                return None
            nodes = tuple(k for k in kids if k is not None)
            return query.All(nodes) if key == "all" else query.Any(nodes)
        if isinstance(value, Mapping) and any(k in _GROUP_KEYS for k in value):
            group = next(k for k in value if k in _GROUP_KEYS)
            self.error(at, f"'{group}' cannot be combined with other keys: {list(value)}")
            return None
        if isinstance(value, list):
            if not value:
                self.error(at, "empty list of conditions")
                return None
            kids = [self.when(item, (*at, i), leaves) for i, item in enumerate(value)]
            if any(k is None for k in kids):
                return None
            nodes = tuple(k for k in kids if k is not None)
            return nodes[0] if len(nodes) == 1 else query.All(nodes)
        if (
            isinstance(value, Mapping)
            and len(value) > 1
            and "field" not in value
            and "op" not in value
        ):
            kids = []
            for k, v in value.items():
                kids.append(self.leaf({k: v}, (*at, k), leaves, key=True))
            if any(k is None for k in kids):
                return None
            nodes = tuple(k for k in kids if k is not None)
            return query.All(nodes)
        key_at = isinstance(value, Mapping) and len(value) == 1
        sub = (*at, next(iter(value))) if key_at else at
        return self.leaf(value, sub, leaves, key=key_at)

    def leaf(
        self, value: Any, at: Path_, leaves: dict[int, Path_], *, key: bool
    ) -> query.Node | None:
        try:
            node = query.compile(value, where="when")
        except QueryError as exc:
            message = re.sub(r"^when(\[\d+\])*:\s*", "", exc.message)
            line, column = self.doc.key_pos(at) if key else self.doc.pos(at)
            m = re.match(r"query: column (\d+): (.*)$", message)
            if m and isinstance(value, str):
                column = column + int(m.group(1)) - 1 + self._quote_offset(line, column)
                message = m.group(2)
            self.problems.append(Problem(self.doc.path, line, column, message))
            return None
        ok = True
        for cond in _leaves(node):
            leaves[id(cond)] = at
            if not self._check_field(cond, at, key):
                ok = False
        return node if ok else None

    def _quote_offset(self, line: int, column: int) -> int:
        lines = self.doc.text.splitlines()
        if 0 < line <= len(lines):
            text = lines[line - 1]
            if 0 < column <= len(text) and text[column - 1] in "\"'":
                return 1
        return 0

    def _check_field(self, cond: query.Cond, at: Path_, key: bool) -> bool:
        name = cond.field
        for prefix in ("sla.", "survey."):
            if name.startswith(prefix) and name not in query.FIELDS:
                known = [f for f in query.FIELDS if f.startswith(prefix)]
                hint = _hint(name, known) or f" ({prefix}* fields: docs/sla.md, docs/recipes.md)"
                self.error(at, f"unknown field '{name}'{hint}", key=key)
                return False
        if name.startswith("business_") and self.calendar is None:
            self.error(
                at,
                f"'{name}' needs the recipe's calendar: add `calendar: NAME` "
                "(a [calendars.NAME] of cstoolkit.toml)",
                key=key,
            )
            return False
        return True

    # -- the recipe -------------------------------------------------------------------------------

    def recipe(self) -> Recipe | None:
        doc, data = self.doc, self.doc.data
        if not isinstance(data, Mapping):
            self.error((), "a recipe is a mapping with rules: [...]")
            return None
        for key in data:
            if key not in RECIPE_KEYS:
                self.error((key,), f"unknown key '{key}'{_hint(str(key), RECIPE_KEYS)}", key=True)
        name = data.get("name") or Path(doc.path).name.removesuffix(".yaml").removesuffix(".yml")
        if not isinstance(name, str) or not re.fullmatch(r"[\w.\-]+", name):
            self.error(("name",), "name is letters, digits, '.', '_' and '-'")
            name = "recipe"
        self.calendar = None
        if data.get("calendar") is not None:
            cal = str(data["calendar"])
            known = self.env.calendars
            if known is not None and cal not in set(known) | {"24x7"}:
                listed = ", ".join(sorted(set(known) | {"24x7"}))
                self.error(
                    ("calendar",), f"unknown calendar '{cal}'{_hint(cal, known)}; defined: {listed}"
                )
            self.calendar = cal
        pre = None
        if data.get("query") is not None:
            pre = self.leaf(data["query"], ("query",), {}, key=False)
        rules_raw = data.get("rules")
        if not isinstance(rules_raw, list) or not rules_raw:
            self.error(("rules",) if "rules" in data else (), "a recipe needs rules: [...]")
            rules_raw = []
        rules: list[Rule] = []
        names: dict[str, int] = {}
        for i, raw in enumerate(rules_raw):
            rule = self.rule(i, raw)
            if rule is None:
                continue
            if rule.name in names:
                self.error(
                    ("rules", i, "name"),
                    f"duplicate rule name '{rule.name}' (rule {names[rule.name] + 1} has it)",
                )
            names[rule.name] = i
            rules.append(rule)
        return Recipe(
            name=name,
            path=doc.path,
            rules=rules,
            description=str(data.get("description") or ""),
            calendar=self.calendar,
            query=pre,
            doc=doc,
            sha256=hashlib.sha256(doc.text.encode()).hexdigest(),
        )

    def rule(self, i: int, raw: Any) -> Rule | None:
        at: Path_ = ("rules", i)
        if not isinstance(raw, Mapping):
            self.error(at, "a rule is a mapping with when: and then:")
            return None
        for key in raw:
            if key not in RULE_KEYS:
                self.error((*at, key), f"unknown key '{key}'{_hint(str(key), RULE_KEYS)}", key=True)
        name = str(raw.get("name") or f"rule {i + 1}")
        leaves: dict[int, Path_] = {}
        when = None
        if raw.get("when") is not None:
            when = self.when(raw["when"], (*at, "when"), leaves)
        elif "when" in raw:
            self.error((*at, "when"), "empty condition (leave `when` out to match every ticket)")
        stop = raw.get("stop", False)
        if not isinstance(stop, bool):
            self.error((*at, "stop"), "stop is true or false")
            stop = False
        then_raw = raw.get("then")
        if then_raw is None:
            self.error(at, "a rule needs then: [actions]")
            then_raw = []
        items: list[tuple[Path_, Any, Any]] = []
        if isinstance(then_raw, Mapping):
            items = [((*at, "then", k), k, v) for k, v in then_raw.items()]
        elif isinstance(then_raw, list):
            for j, item in enumerate(then_raw):
                if isinstance(item, Mapping) and item:
                    items.extend(((*at, "then", j, k), k, v) for k, v in item.items())
                elif isinstance(item, str):
                    items.append(((*at, "then", j), item, None))
                else:
                    self.error((*at, "then", j), "an action is {name: arguments}")
        else:
            self.error((*at, "then"), "then is a list of actions")
        calls: list[ActionCall] = []
        counts: dict[str, int] = {}
        for where, name_, args in items:
            call = self.action(where, str(name_), args, counts)
            if call is not None:
                calls.append(call)
        return Rule(i, name, when, calls, stop, at, str(raw.get("description") or ""), leaves)

    def action(self, at: Path_, name: str, args: Any, counts: dict[str, int]) -> ActionCall | None:
        action = self.env.actions.get(name)
        if action is None:
            known = sorted(self.env.actions)
            self.error(
                at,
                f"unknown action '{name}'{_hint(name, known)}; actions: {', '.join(known)}",
                key=True,
            )
            return None
        try:
            params = action.parse(args) if hasattr(action, "parse") else args
        except actions_mod.ArgError as exc:
            self.error((*at, *exc.at), f"{name}: {exc.message}", key=not exc.at or exc.key)
            return None
        except (TypeError, ValueError) as exc:
            self.error(at, f"{name}: {exc}")
            return None
        self.cross_check(at, name, params)
        n = counts.get(name, 0)
        counts[name] = n + 1
        return ActionCall(
            name=name,
            action=action,
            params=params,
            at=at,
            key=f"{name}#{n}",
            once=actions_mod.once(action, params),
            writes=actions_mod.writes(action, params),
        )

    def cross_check(self, at: Path_, name: str, params: Any) -> None:
        env = self.env
        roster = env.roster
        if name == "apply_sla" and env.policies is not None:
            known = list(env.policies)
            if params not in known:
                listed = ", ".join(known) or "none defined"
                self.error(
                    at,
                    f"unknown SLA policy '{params}'{_hint(str(params), known)}; policies: {listed}",
                )
        if name == "notify" and env.channels is not None:
            known = list(env.channels)
            if params["channel"] not in known:
                listed = ", ".join(known) or "none configured"
                self.error(
                    (*at, "channel"),
                    f"unknown channel '{params['channel']}'"
                    f"{_hint(params['channel'], known)}; channels: {listed}",
                )
        if roster is None or not isinstance(params, Mapping):
            return
        if name in ("assign", "escalate", "set"):
            key = "group"
            group = params.get(key)
            if isinstance(group, str) and ":" not in group and group not in roster.groups:
                known = sorted(roster.groups)
                self.warn((*at, key), f"group '{group}' is not in the roster{_hint(group, known)}")
        if name == "assign":
            agent = params.get("agent")
            if isinstance(agent, str) and roster.agent(agent) is None and ":" not in agent:
                known = [a.id for a in roster.agents]
                self.error(
                    (*at, "agent") if isinstance(params, Mapping) and "agent" in params else at,
                    f"unknown agent '{agent}'{_hint(agent, known)}",
                )
            rota = params.get("rota")
            if isinstance(rota, str) and rota not in roster.rotas:
                self.error((*at, "rota"), f"unknown rota '{rota}'{_hint(rota, roster.rotas)}")


def _leaves(node: query.Node) -> list[query.Cond]:
    if isinstance(node, query.Cond):
        return [node]
    if isinstance(node, query.Not):
        return _leaves(node.child)
    return [leaf for child in node.children for leaf in _leaves(child)]


def parse(doc: Doc, env: Env | None = None) -> tuple[Recipe | None, list[Problem]]:
    """Parse a loaded document; returns the recipe (None when unusable) and every problem."""
    fields.register()
    parser = _Parser(doc, env or Env())
    recipe = parser.recipe()
    return recipe, parser.problems


def load_recipe(path: str | Path, env: Env | None = None) -> Recipe:
    """Load and parse a recipe file; the first error is raised as a one-line FileError."""
    doc = load_yaml(path)
    recipe, problems = parse(doc, env)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise errors[0].error()
    if recipe is None:  # pragma: no cover - parse always reports why
        raise FileError("not a recipe", path=str(path))
    return recipe
