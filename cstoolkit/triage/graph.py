"""``cst recipe graph``: a recipe drawn as the flowchart of the support process it encodes.

Each rule is a decision (its condition); "yes" leads to its actions, then to the next rule or,
with ``stop: true``, to the end; "no" leads to the next rule. Output is Mermaid (renders on
GitHub and in most wikis) or Graphviz dot.
"""

from __future__ import annotations

from typing import Any

from cstoolkit import query
from cstoolkit.triage.recipe import Recipe

FORMATS = ("mermaid", "dot")
_MAX_LABEL = 160


def describe(node: query.Node | None, top: bool = True) -> str:
    """A condition in words: ``priority in [low, normal] and tags has vip``."""
    if node is None:
        return "every ticket"
    if isinstance(node, query.Cond):
        return _leaf(node)
    if isinstance(node, query.Not):
        return f"not ({describe(node.child, False)})"
    joiner = " and " if isinstance(node, query.All) else " or "
    text = joiner.join(describe(c, False) for c in node.children)
    return text if top or isinstance(node, query.All) else f"({text})"


def _value(v: Any) -> str:
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)


def _leaf(c: query.Cond) -> str:
    words = {
        "is": "is",
        "is_not": "is not",
        "in": "in",
        "not_in": "not in",
        "contains": "contains",
        "contains_any": "contains any of",
        "matches": "matches",
        "gt": ">",
        "lt": "<",
        "ge": ">=",
        "le": "<=",
        "between": "between",
        "changed": "changed",
        "changed_from": "changed from",
        "changed_to": "changed to",
    }
    if c.op == "exists":
        return f"{c.field} is set" if c.value else f"{c.field} is empty"
    if c.op == "changed":
        return f"{c.field} changed"
    if c.field == "tags" and c.op in ("is", "contains"):
        return f"tagged {c.value}"
    return f"{c.field} {words.get(c.op, c.op)} {_value(c.value)}"


def _short(text: str) -> str:
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def render(recipe: Recipe, fmt: str = "mermaid") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r} (one of {', '.join(FORMATS)})")
    start = "tickets" + (f" where {describe(recipe.query)}" if recipe.query is not None else "")
    nodes: list[tuple[str, str, str]] = [("start", "start", _short(start))]
    edges: list[tuple[str, str, str]] = []
    rules = recipe.rules
    for i, rule in enumerate(rules):
        rid, aid = f"r{i + 1}", f"a{i + 1}"
        nxt = f"r{i + 2}" if i + 1 < len(rules) else "done"
        nodes.append((rid, "decision", _short(f"{rule.name}: {describe(rule.when)}")))
        actions = [c.summary() for c in rule.then] or ["(no action)"]
        if rule.stop:
            actions.append("stop")
        nodes.append(
            (
                aid,
                "action",
                _short("; ".join(actions))
                if fmt == "dot"
                else "\n".join(_short(a) for a in actions),
            )
        )
        edges.append((rid, aid, "yes"))
        edges.append((aid, "done" if rule.stop else nxt, ""))
        if rule.when is not None:
            edges.append((rid, nxt, "no"))
    edges.insert(0, ("start", "r1" if rules else "done", ""))
    nodes.append(("done", "end", "done"))
    return _mermaid(recipe, nodes, edges) if fmt == "mermaid" else _dot(recipe, nodes, edges)


def _mermaid_text(text: str) -> str:
    return (
        text.replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("\n", "<br/>")
    )


def _mermaid(
    recipe: Recipe, nodes: list[tuple[str, str, str]], edges: list[tuple[str, str, str]]
) -> str:
    lines = ["flowchart TD", f"    %% recipe {recipe.name} ({recipe.path})"]
    shapes = {
        "start": ('(["', '"])'),
        "end": ('(["', '"])'),
        "decision": ('{"', '"}'),
        "action": ('["', '"]'),
    }
    for nid, kind, label in nodes:
        left, right = shapes[kind]
        lines.append(f"    {nid}{left}{_mermaid_text(label)}{right}")
    for a, b, label in edges:
        arrow = f" -- {label} --> " if label else " --> "
        lines.append(f"    {a}{arrow}{b}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _dot(
    recipe: Recipe, nodes: list[tuple[str, str, str]], edges: list[tuple[str, str, str]]
) -> str:
    shapes = {"start": "oval", "end": "oval", "decision": "diamond", "action": "box"}
    lines = [
        f'digraph "{_dot_text(recipe.name)}" {{',
        "    rankdir=TB;",
        '    node [fontname="Helvetica", fontsize=10];',
        '    edge [fontname="Helvetica", fontsize=9];',
    ]
    for nid, kind, label in nodes:
        lines.append(f'    {nid} [shape={shapes[kind]}, label="{_dot_text(label)}"];')
    for a, b, label in edges:
        attr = f' [label="{label}"]' if label else ""
        lines.append(f"    {a} -> {b}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"
