"""What the model changed in a backtest, and the per-ticket view (``--per-ticket``).

When a routing model is trained and the recipe asks it (``predicted.*`` conditions or the
``route`` action), the backtest replays the recipe twice over the same tickets: once as if no
model were trained (``predicted.*`` missing, so the rules decide) and once with the model. The
difference is what the model would have changed on those tickets: per field, and per ticket
beside each decision, with the prediction and its confidence and whether ``route`` took the
model's value (at or above its floor) or left the field to the rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cstoolkit.triage.backtest.load import asks_the_model, thaw

if TYPE_CHECKING:
    from cstoolkit.triage.backtest import Pass
    from cstoolkit.triage.backtest.load import Coded, Data
    from cstoolkit.triage.backtest.replay import Replay
    from cstoolkit.triage.recipe import Recipe, Rule
    from cstoolkit.triage.runner import Workspace

#: the fields a backtest compares (before/after, with/without the model)
FIELDS = ("status", "priority", "group", "assignee", "tags", "custom")
TARGETS = ("group", "priority", "tags", "language")
#: the per-ticket view's columns (table, CSV and NDJSON; JSON has the same keys, structured)
TICKET_COLUMNS = [
    "ticket",
    "rules",
    "decisions",
    "prediction",
    "route",
    "model_changed",
    "knowledge",
]


def model_state(ws: Workspace, recipe: Recipe, data: Data) -> dict[str, Any]:
    """Whether a model is trained, whether the recipe asks it, whether tickets were predicted."""
    return {
        "present": ws.predict is not None,
        "asked": asks_the_model(recipe),
        "predicted": bool(data.model and data.n),
    }


def model_changes(
    replay: Replay, data: Data, alone: dict[str, Any], considered: Any
) -> dict[str, Any]:
    """How many tickets' decisions the model changed against the recipe alone, per field."""
    import numpy as np

    differs = np.zeros(data.n, dtype=bool)
    fields: dict[str, int] = {}
    for name in FIELDS:
        d = (data.cols[name].codes != alone[name]) & considered
        if d.any():
            fields[name] = int(d.sum())
            differs |= d
    routed = replay.routed.values()
    return {
        "compared": int(considered.sum()),
        "changed_by_model": int(differs.sum()),
        "changed_fields": fields,
        "route_by_model": sum(1 for model, _ in routed if model),
        "route_left_to_rules": sum(1 for model, _ in routed if not model),
    }


def per_ticket(
    rules: list[Rule],
    done: Pass,
    data: Data,
    initial: dict[str, Any],
    alone: dict[str, Any] | None,
    *,
    limit: int,
) -> dict[str, Any]:
    """Each ticket a rule matched (or the model changed), in arrival order, at most ``limit``
    (0: all): its rules, its decisions (field: old -> new), the model's prediction with its
    confidence, what ``route`` did, what the model changed against the recipe alone
    (``field: recipe alone -> with the model``), what the knowledge-base actions did."""
    import numpy as np

    replay, cols = done.replay, data.cols
    listed = np.zeros(data.n, dtype=bool)
    for m in done.matched:
        listed |= m
    if alone is not None:
        for name in FIELDS:
            listed |= cols[name].codes != alone[name]
    listed[list(replay.kb.done)] = True
    rows = np.flatnonzero(listed & done.considered)
    total = len(rows)
    shown: list[dict[str, Any]] = []
    for i in (rows[:limit] if limit else rows).tolist():
        got = replay.prediction(i)
        shown.append(
            {
                "ticket": data.ids[i],
                "rules": [r.name for r, m in zip(rules, done.matched, strict=True) if m[i]],
                "decisions": _changes(cols, initial, i),
                "prediction": _prediction(got) if got else None,
                "route": _route(replay.routed.get(i), replay.predict is not None),
                "model_changed": [] if alone is None else _changes(cols, alone, i),
                "knowledge": replay.kb.done.get(i, []),
            }
        )
    return {"tickets": shown, "total": total}


def _changes(cols: dict[str, Coded], before: dict[str, Any], i: int) -> list[str]:
    """``field: old -> new`` for each field of row ``i`` that differs from ``before``."""
    out = []
    for name in FIELDS:
        col = cols[name]
        old_code, new_code = int(before[name][i]), int(col.codes[i])
        if old_code == new_code:
            continue
        old, new = col.values[old_code], col.values[new_code]
        if name == "tags":
            plus = [f"+{t}" for t in new if t not in old]
            minus = [f"-{t}" for t in old if t not in new]
            out.append("tags " + " ".join(plus + minus))
        elif name == "custom":
            a, b = thaw(old), thaw(new)
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    out.append(f"custom.{key}: {_shown(a.get(key))} -> {_shown(b.get(key))}")
        else:
            out.append(f"{name}: {_shown(old)} -> {_shown(new)}")
    return out


def _shown(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _prediction(got: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for target in TARGETS:
        value = got.get(f"predicted.{target}")
        if value is not None:
            out[target] = {
                "value": value,
                "confidence": round(float(got.get(f"predicted.{target}.confidence") or 0), 4),
            }
    return out


def _route(entry: tuple[list[str], list[str]] | None, has_model: bool) -> str | None:
    """What ``route`` did: the fields it took from the model, those it left to the rules."""
    if entry is None:
        return None
    model, rules = entry
    parts = []
    if model:
        parts.append("model: " + ", ".join(model))
    if rules:
        why = "below floor" if has_model else "no model"
        parts.append(f"rules ({why}): " + ", ".join(rules))
    return "; ".join(parts)


def flat(row: dict[str, Any], sep: str) -> dict[str, Any]:
    """A per-ticket row for a table or CSV: lists joined by ``sep``, the prediction as
    ``group demo:billing 0.93``."""
    pred = row["prediction"]
    shown = ""
    if pred:
        parts = []
        for target, p in pred.items():
            value = p["value"]
            value = ",".join(value) or "-" if isinstance(value, list) else value
            parts.append(f"{target} {value} {p['confidence']:.2f}")
        shown = sep.join(parts)
    return {
        "ticket": row["ticket"],
        "rules": sep.join(row["rules"]),
        "decisions": sep.join(row["decisions"]),
        "prediction": shown,
        "route": row["route"] or "",
        "model_changed": sep.join(row["model_changed"]),
        "knowledge": sep.join(row["knowledge"]),
    }
