"""Classification figures in plain Python (the tests check them against hand-computed values).

Predictions are ``(label, confidence)``; a prediction below a confidence floor is *not made*
(the ticket falls back to the rules). At a floor, **coverage** is the share of tickets with a
prediction and **accuracy** the share of those predictions that are right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

FLOORS: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass(slots=True)
class ClassFigures:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(slots=True)
class Report:
    """The figures of one predictor on one target."""

    n: int
    accuracy: float
    macro_f1: float
    classes: dict[str, ClassFigures]
    confusion: dict[str, dict[str, int]]  # true -> predicted -> count
    floors: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "classes": {
                c: {
                    "precision": round(f.precision, 4),
                    "recall": round(f.recall, 4),
                    "f1": round(f.f1, 4),
                    "support": f.support,
                }
                for c, f in self.classes.items()
            },
            "confusion": self.confusion,
            "floors": self.floors,
        }


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


def report(
    truth: Sequence[str],
    predicted: Sequence[str | None],
    confidence: Sequence[float] | None = None,
    floors: Sequence[float] = FLOORS,
) -> Report:
    """Per-class precision/recall/F1 over the classes of ``truth`` and ``predicted`` (a missing
    prediction, None, is wrong for every class), macro-F1 (the mean F1 of the classes that
    occur in ``truth``), the confusion matrix and, with ``confidence``, the floors' table."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    n = len(truth)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    confusion: dict[str, dict[str, int]] = {}
    for t, p in zip(truth, predicted, strict=True):
        row = confusion.setdefault(t, {})
        key = p if p is not None else "(none)"
        row[key] = row.get(key, 0) + 1
        if p == t:
            tp[t] += 1
        else:
            fn[t] += 1
            if p is not None:
                fp[p] += 1
    support = Counter(truth)
    classes: dict[str, ClassFigures] = {}
    for c in sorted(set(truth) | {p for p in predicted if p is not None}):
        prec = _div(tp[c], tp[c] + fp[c])
        rec = _div(tp[c], tp[c] + fn[c])
        classes[c] = ClassFigures(prec, rec, _div(2 * prec * rec, prec + rec), support[c])
    present = [c for c in classes if support[c]]
    out = Report(
        n=n,
        accuracy=_div(sum(tp.values()), n),
        macro_f1=_div(sum(classes[c].f1 for c in present), len(present)),
        classes=classes,
        confusion=confusion,
    )
    if confidence is not None:
        out.floors = floor_table(truth, predicted, confidence, floors)
    return out


def floor_table(
    truth: Sequence[str],
    predicted: Sequence[str | None],
    confidence: Sequence[float],
    floors: Sequence[float] = FLOORS,
) -> list[dict[str, float]]:
    """Coverage and accuracy of the predictions whose confidence is at least each floor."""
    rows = []
    n = len(truth)
    for floor in floors:
        made = [
            (t, p)
            for t, p, c in zip(truth, predicted, confidence, strict=True)
            if p is not None and c >= floor
        ]
        right = sum(1 for t, p in made if t == p)
        rows.append(
            {
                "floor": floor,
                "coverage": round(_div(len(made), n), 4),
                "accuracy": round(_div(right, len(made)), 4),
            }
        )
    return rows


def majority(train: Sequence[str]) -> str:
    """The most frequent label (ties: the first in sorted order)."""
    counts = Counter(train)
    return min(counts, key=lambda c: (-counts[c], c))


def set_report(truth: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> Report:
    """Multi-label figures (topic tags): each tag a class; micro accuracy is the share of
    tickets whose predicted set equals the true one."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    exact = 0
    for t, p in zip(truth, predicted, strict=True):
        ts, ps = set(t), set(p)
        exact += ts == ps
        for c in ts & ps:
            tp[c] += 1
        for c in ps - ts:
            fp[c] += 1
        for c in ts - ps:
            fn[c] += 1
    classes: dict[str, ClassFigures] = {}
    support: Counter[str] = Counter(c for t in truth for c in set(t))
    for c in sorted(set(tp) | set(fp) | set(fn)):
        prec = _div(tp[c], tp[c] + fp[c])
        rec = _div(tp[c], tp[c] + fn[c])
        classes[c] = ClassFigures(prec, rec, _div(2 * prec * rec, prec + rec), support[c])
    present = [c for c in classes if support[c]]
    return Report(
        n=len(truth),
        accuracy=_div(exact, len(truth)),
        macro_f1=_div(sum(classes[c].f1 for c in present), len(present)),
        classes=classes,
        confusion={},
    )
