"""``cst recipe check``: every problem of a recipe at file:line:column.

Errors come from parsing (:mod:`cstoolkit.triage.recipe`): bad YAML, unknown keys, fields,
operators and actions (with "did you mean"), bad values, unknown calendars, SLA policies,
channels, agents and rotas. Warnings come from looking at the rules together:

* a rule whose condition can never be true (``priority: high`` and ``priority: low``; an empty
  set of enum values; ``hours_since_created > 10`` and ``< 5``; a tag both required and
  excluded; a field both missing and compared);
* a rule shadowed by an earlier rule with ``stop: true`` whose condition every ticket of this
  rule also satisfies (and no rule in between changes a field this rule tests).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cstoolkit import query
from cstoolkit.textfiles import FileError, Problem, load_yaml
from cstoolkit.triage.recipe import Env, Recipe, parse

_CHANGE = ("changed", "changed_from", "changed_to")


def check_file(path: str | Path, env: Env | None = None) -> tuple[Recipe | None, list[Problem]]:
    """Check a recipe; a roster file (``agents:``) or a recipe test file (``*.test.yaml``) found
    among the files is checked as what it is, so ``cst recipe check recipes/*.yaml`` works."""
    try:
        doc = load_yaml(path)
        if str(path).endswith((".test.yaml", ".test.yml")):
            from cstoolkit.triage.testing import run_tests

            run_tests(path, env=env)
            return None, []
        if isinstance(doc.data, dict) and "agents" in doc.data and "rules" not in doc.data:
            from cstoolkit.triage.roster import parse_roster

            parse_roster(doc)
            return None, []
    except FileError as exc:
        return None, [
            Problem(exc.path or str(path), exc.line or 1, exc.column or 1, exc.bare_message)
        ]
    recipe, problems = parse(doc, env)
    if recipe is not None and not any(p.severity == "error" for p in problems):
        problems += analyze(recipe)
    problems.sort(key=lambda p: (p.line, p.column, p.severity))
    return recipe, problems


def analyze(recipe: Recipe) -> list[Problem]:
    doc = recipe.doc
    out: list[Problem] = []
    if doc is None:
        return out
    for rule in recipe.rules:
        if rule.when is None:
            continue
        why = never(rule.when)
        if why:
            out.append(
                doc.problem(
                    (*rule.at, "when"), f"rule '{rule.name}' can never match: {why}", "warning"
                )
            )
    for j, later in enumerate(recipe.rules):
        for i in range(j):
            earlier = recipe.rules[i]
            if not earlier.stop:
                continue
            between = recipe.rules[i + 1 : j]
            if any(r.writes & later.fields for r in between):
                continue
            if implies(later.when, earlier.when):
                out.append(
                    doc.problem(
                        later.at,
                        f"rule '{later.name}' is shadowed by rule "
                        f"'{earlier.name}' (stop: true), which matches every "
                        "ticket this rule would",
                        "warning",
                    )
                )
                break
    return out


# -- can a condition ever be true? -------------------------------------------------------------


def _conjuncts(node: query.Node) -> list[query.Node]:
    if isinstance(node, query.All):
        return [c for child in node.children for c in _conjuncts(child)]
    return [node]


def _items(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _norm(spec: query.FieldSpec, v: Any) -> Any:
    if spec.kind in ("text", "string") and isinstance(v, str):
        return v.lower()
    return v


def never(node: query.Node) -> str | None:
    """Why ``node`` can never be true, or None when it may be."""
    if isinstance(node, query.Any):
        reasons = [never(c) for c in node.children]
        if reasons and all(reasons):
            return "every alternative of 'any' is impossible"
        return None
    if isinstance(node, query.Not):
        return None
    parts = _conjuncts(node)
    for part in parts:
        why = never(part) if isinstance(part, query.Any) else None
        if why:
            return why
    by_field: dict[str, list[query.Cond]] = {}
    for part in parts:
        if isinstance(part, query.Cond) and part.op not in _CHANGE:
            by_field.setdefault(part.field, []).append(part)
    for name, conds in by_field.items():
        why = _field_contradiction(name, conds)
        if why:
            return why
    return None


def _field_contradiction(name: str, conds: Sequence[query.Cond]) -> str | None:
    spec = query.field_spec(name)
    missing = [c for c in conds if c.op == "exists" and c.value is False]
    positive = [c for c in conds if c.op not in ("exists", "is_not", "not_in")]
    if missing and (positive or any(c.op == "exists" and c.value for c in conds)):
        return f"'{name}' cannot be both missing and {_show(positive[0] if positive else conds[0])}"
    if spec.kind == "tags":
        required = {c.value for c in conds if c.op in ("is", "contains")}
        excluded = {c.value for c in conds if c.op == "is_not"}
        for c in conds:
            if c.op == "not_in":
                excluded |= set(_items(c.value))
        both = required & excluded
        if both:
            return f"tag '{sorted(str(t) for t in both)[0]}' is both required and excluded"
        return None
    if spec.kind in ("number", "datetime") or (spec.kind == "any" and _all_numeric(conds)):
        return _interval(name, conds)
    allowed: set[Any] | None = set(spec.values) if spec.kind == "enum" and spec.values else None
    constrained = False
    for c in conds:
        values = {_norm(spec, v) for v in _items(c.value)}
        if c.op in ("is", "in"):
            allowed = values if allowed is None else allowed & values
            constrained = True
        elif c.op in ("is_not", "not_in") and allowed is not None:
            allowed -= values
        elif c.op in ("gt", "lt", "ge", "le", "between") and spec.ordered and spec.values:
            ok = {v for v in spec.values if query.evaluate(c, _fake(name, v))}
            allowed = ok if allowed is None else allowed & ok
            constrained = True
    if allowed is not None and not allowed and (constrained or spec.kind == "enum"):
        shown = ", ".join(_show(c) for c in conds)
        return f"no value of '{name}' satisfies {shown}"
    if allowed is None:
        return None
    excluded_all: set[Any] = set()
    for c in conds:
        if c.op in ("is_not", "not_in"):
            excluded_all |= {_norm(spec, v) for v in _items(c.value)}
    if constrained and allowed <= excluded_all:
        return f"no value of '{name}' satisfies {', '.join(_show(c) for c in conds)}"
    return None


def _all_numeric(conds: Iterable[query.Cond]) -> bool:
    return all(
        all(isinstance(v, int | float) and not isinstance(v, bool) for v in _items(c.value))
        for c in conds
        if c.op in ("gt", "lt", "ge", "le", "between")
    ) and any(c.op in ("gt", "lt", "ge", "le", "between") for c in conds)


def _interval(name: str, conds: Sequence[query.Cond]) -> str | None:
    """Whether the bounds on one number or date field leave no value (None: unbounded, so
    numbers and dates are compared only with their own kind)."""
    lo: Any = None
    hi: Any = None
    lo_open = hi_open = False
    equal: list[Any] = []
    try:
        for c in conds:
            v: Any = c.value
            if c.op in ("gt", "ge"):
                if lo is None or v > lo or (v == lo and c.op == "gt"):
                    lo, lo_open = v, c.op == "gt"
            elif c.op in ("lt", "le"):
                if hi is None or v < hi or (v == hi and c.op == "lt"):
                    hi, hi_open = v, c.op == "lt"
            elif c.op == "between":
                a, b = _items(v)
                if lo is None or a > lo:
                    lo, lo_open = a, False
                if hi is None or b < hi:
                    hi, hi_open = b, False
            elif c.op == "is":
                equal.append(v)
        empty = (
            lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_open or hi_open)))
        )
        for v in equal:
            below = lo is not None and (v < lo or (v == lo and lo_open))
            above = hi is not None and (v > hi or (v == hi and hi_open))
            empty = empty or below or above
    except TypeError:  # values of different kinds (a number and a text): not comparable here
        return None
    if empty:
        return f"no value of '{name}' satisfies {', '.join(_show(c) for c in conds)}"
    return None


def _fake(name: str, value: Any) -> query.Subject:
    from datetime import UTC, datetime

    from cstoolkit.model import Priority, Status, Ticket

    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    t = Ticket(
        id="x:1",
        instance="x",
        external_id="1",
        subject="",
        status=Status.NEW,
        created_at=epoch,
        updated_at=epoch,
    )
    if name == "priority":
        t.priority = Priority(value)
    return query.Subject(t, None, epoch)


def _show(c: query.Cond) -> str:
    def one(v: Any) -> str:
        return v.isoformat() if isinstance(v, datetime) else str(v)

    value: Any = c.value
    value = "[" + ", ".join(one(v) for v in value) + "]" if isinstance(value, tuple) else one(value)
    return f"{c.op} {value}" if c.op != "exists" else f"exists {str(value).lower()}"


# -- does one condition imply another? ---------------------------------------------------------


def implies(later: query.Node | None, earlier: query.Node | None) -> bool:
    """Whether every ticket satisfying ``later`` satisfies ``earlier`` (a sound, partial test:
    False means "could not show it")."""
    if earlier is None:
        return True
    if later is None:
        return False
    have = _conjuncts(later)
    return all(_implied(need, have) for need in _conjuncts(earlier))


def _implied(need: query.Node, have: Sequence[query.Node]) -> bool:
    if any(need == h for h in have):
        return True
    if isinstance(need, query.Any):
        return any(_implied(child, have) for child in need.children)
    if not isinstance(need, query.Cond) or need.op in _CHANGE:
        return False
    for h in have:
        if isinstance(h, query.Cond) and h.field == need.field and _leaf_implies(h, need):
            return True
    return False


def _leaf_implies(h: query.Cond, need: query.Cond) -> bool:
    spec = query.field_spec(h.field)
    hv = {_norm(spec, v) for v in _items(h.value)}
    nv = {_norm(spec, v) for v in _items(need.value)}
    if spec.kind == "tags":
        if need.op in ("is", "contains"):
            return h.op in ("is", "contains") and hv == nv
        if need.op in ("in", "contains_any"):
            return h.op in ("is", "contains", "in", "contains_any") and hv <= nv
        return False
    if h.op in ("is", "in") and need.op in ("is", "in"):
        return hv <= nv
    if h.op in ("is", "in") and need.op in ("is_not", "not_in"):
        return not (hv & nv)
    if need.op == "exists" and need.value is True:
        return h.op in ("is", "in", "gt", "lt", "ge", "le", "between", "contains", "matches")
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in hv | nv)
    if (
        numeric
        and need.op in ("gt", "ge", "lt", "le")
        and h.op in ("gt", "ge", "lt", "le", "between", "is")
    ):
        (x,) = nv
        if h.op == "between":
            lo, hi = _items(h.value)
        elif h.op == "is":
            lo = hi = h.value
        else:
            (v,) = hv
            lo, hi = (v, math.inf) if h.op in ("gt", "ge") else (-math.inf, v)
        if need.op == "gt":
            return bool(lo > x or (lo == x and h.op == "gt"))
        if need.op == "ge":
            return bool(lo >= x)
        if need.op == "lt":
            return bool(hi < x or (hi == x and h.op == "lt"))
        return bool(hi <= x)
    return False
