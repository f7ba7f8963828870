"""Learned routing's figures, checked against values computed by hand (no scikit-learn needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.routing.metrics import floor_table, majority, report, set_report


def test_per_class_macro_and_confusion_by_hand() -> None:
    # truth:     a a a b b c
    # predicted: a a b b c c
    # a: tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 0.8
    # b: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2
    # c: tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 2/3
    r = report(list("aaabbc"), list("aabbcc"))
    assert r.accuracy == pytest.approx(4 / 6)
    assert r.classes["a"].precision == 1.0 and r.classes["a"].recall == pytest.approx(2 / 3)
    assert r.classes["a"].f1 == pytest.approx(0.8)
    assert r.classes["b"].f1 == pytest.approx(0.5)
    assert r.classes["c"].f1 == pytest.approx(2 / 3)
    assert r.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert r.confusion == {"a": {"a": 2, "b": 1}, "b": {"b": 1, "c": 1}, "c": {"c": 1}}
    assert [r.classes[c].support for c in "abc"] == [3, 2, 1]


def test_missing_prediction_is_wrong_and_a_class_never_true_is_left_out_of_macro() -> None:
    # truth a a b; predicted a None z: a P 1 R 1/2 F1 2/3; b R 0 F1 0; z (never true) F1 0
    r = report(["a", "a", "b"], ["a", None, "z"])
    assert r.macro_f1 == pytest.approx((2 / 3 + 0) / 2)
    assert r.confusion["a"] == {"a": 1, "(none)": 1}


def test_floor_table_by_hand() -> None:
    truth = ["a", "a", "b", "b"]
    pred = ["a", "b", "b", "a"]
    conf = [0.9, 0.55, 0.7, 0.4]
    rows = floor_table(truth, pred, conf, (0.0, 0.5, 0.6, 0.8, 0.95))
    assert rows == [
        {"floor": 0.0, "coverage": 1.0, "accuracy": 0.5},
        {"floor": 0.5, "coverage": 0.75, "accuracy": round(2 / 3, 4)},
        {"floor": 0.6, "coverage": 0.5, "accuracy": 1.0},
        {"floor": 0.8, "coverage": 0.25, "accuracy": 1.0},
        {"floor": 0.95, "coverage": 0.0, "accuracy": 0.0},
    ]


def test_majority_and_tags() -> None:
    assert majority(["b", "a", "b", "a", "c"]) == "a"  # a tie goes to the first in order
    r = set_report([["x"], ["x", "y"], []], [["x"], ["x"], ["y"]])
    # x: tp 2 -> F1 1; y: tp 0, fp 1, fn 1 -> F1 0; exact sets 1 of 3
    assert r.accuracy == pytest.approx(1 / 3)
    assert r.classes["x"].f1 == 1.0 and r.classes["y"].f1 == 0.0
    assert r.macro_f1 == pytest.approx(0.5)


_LABELS = st.sampled_from(["a", "b", "c"])


@given(
    st.lists(
        st.tuples(_LABELS, st.one_of(st.none(), _LABELS), st.floats(0, 1)), min_size=1, max_size=40
    )
)
def test_figures_hold_together(rows: list[tuple[str, str | None, float]]) -> None:
    """Coverage never grows with the floor; at floor 0 the accuracy of the predictions made is
    the share of right ones among them; every F1 lies between 0 and 1."""
    truth = [t for t, _, _ in rows]
    pred = [p for _, p, _ in rows]
    conf = [c for _, _, c in rows]
    r = report(truth, pred, conf)
    coverage = [row["coverage"] for row in r.floors]
    assert coverage == sorted(coverage, reverse=True)
    made = [(t, p) for t, p in zip(truth, pred, strict=True) if p is not None]
    assert r.floors[0]["coverage"] == round(len(made) / len(rows), 4)
    if made:
        assert r.floors[0]["accuracy"] == round(sum(t == p for t, p in made) / len(made), 4)
    assert r.accuracy == pytest.approx(
        sum(t == p for t, p in zip(truth, pred, strict=True)) / len(rows)
    )
    assert all(0 <= f.f1 <= 1 for f in r.classes.values()) and 0 <= r.macro_f1 <= 1
