"""``accumulate.distinct`` (the report's distinct counts) equals counting the rows in Python, in
the same order (sorted rows), whatever the columns' ranges: small, wide with few values
(renumbered), wider than the rows are many (sorted), beyond 2**20."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.kpi.accumulate import distinct

COLUMN_KINDS = [
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=-3, max_value=300),
    st.sampled_from([-40, 7, 900, 2000]),  # few values, a range wider than 256: renumbered
    st.sampled_from([1800, 3600, 7200, 144_000]),  # SLA targets: few values, a wide range
    st.integers(min_value=0, max_value=3_000_000),
    st.integers(min_value=-(2**40), max_value=2**40),
]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[list[int]], list[int]]:
    kinds = draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=4))
    rows = draw(
        st.lists(
            st.tuples(*kinds),
            min_size=1,
            max_size=300,
        )
    )
    weights = draw(st.lists(st.integers(0, 3), min_size=len(rows), max_size=len(rows)))
    return [list(c) for c in zip(*rows, strict=True)], weights


def reference(cols: list[list[int]], weights: list[int]) -> tuple[list, list, list]:
    rows = list(zip(*cols, strict=True))
    counts = Counter(rows)
    sums: Counter[tuple[int, ...]] = Counter()
    for row, w in zip(rows, weights, strict=True):
        sums[row] += w
    keys = sorted(counts)
    return keys, [counts[k] for k in keys], [float(sums[k]) for k in keys]


@given(table=tables())
def test_distinct_equals_counting_in_python(table: tuple[list[list[int]], list[int]]) -> None:
    cols, weights = table
    rows, counts, (sums,) = distinct(
        tuple(np.asarray(c, dtype=np.int64) for c in cols), (np.asarray(weights, dtype=float),)
    )
    assert (rows, counts, sums) == reference(cols, weights)


def test_few_values_over_a_wide_range_and_many_rows() -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    cols = (
        rng.integers(0, 3, n),
        rng.choice([1800, 3600, 7200, 14_400, 144_000], n),  # renumbered by bincount
        rng.choice([5, 70_000, 400_000], n),  # renumbered by bincount (range < 8 x rows)
        rng.integers(0, 2, n),
    )
    ok = rng.integers(0, 2, n)
    rows, counts, (sums,) = distinct(cols, (ok.astype(float),))
    want = reference([c.tolist() for c in cols], ok.tolist())
    assert (rows, counts, sums) == want
    assert distinct((np.zeros(0, dtype=np.int64),)) == ([], [], [])
