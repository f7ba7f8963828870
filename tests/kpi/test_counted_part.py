"""Exact distributions counted without sorting floats (``metrics.counted_part``) equal, value for
value, the sort they replace: the same distinct values (sign of zero included), the same
cumulative counts, the same ``fsum`` total, and so the same medians, percentiles, minima,
maxima and histograms, on every path (``bincount`` over the range, int32 sort, float fallback)."""

from __future__ import annotations

import itertools
import math
import random
from array import array
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.kpi import metrics
from cstoolkit.kpi.metrics import Dist, counted_part

# every path of counted_part: the module's choice, bincount over wider ranges than it would
# choose (not unbounded: a range of 2**32 seconds would count into 32 GB), the int32 sort
PATHS = {"chosen": metrics._BINCOUNT_SPAN, "bincount": 2_000, "sort": 0}


def sorted_part(values: Any) -> tuple[Any, Any, float]:
    """The reference: the float64 sort the report did before (``numpy.unique``) and ``fsum``."""
    v = np.asarray(values, dtype=np.float64)
    keys, counts = np.unique(v, return_counts=True)
    return keys, np.cumsum(counts), math.fsum(v.tolist())


def same_part(got: tuple[Any, Any, float], want: tuple[Any, Any, float]) -> None:
    keys, cum, total = got
    assert keys.dtype == np.float64 and cum.dtype == np.int64
    # bit for bit: NaN equals NaN, and -0.0 is not 0.0
    assert keys.tobytes() == np.asarray(want[0], dtype=np.float64).tobytes()
    assert cum.tolist() == np.asarray(want[1]).tolist()
    assert (math.isnan(total) and math.isnan(want[2])) or total == want[2]
    assert math.copysign(1, total) == math.copysign(1, want[2])


def dist_of(values: list[float]) -> Dist:
    d = Dist()
    d.add_array(np.asarray(values, dtype=np.float64))
    return d


def linear_quantile(ordered: list[float], q: float) -> float:
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    a = ordered[lo]
    if pos == lo or lo + 1 >= len(ordered):
        return a
    return a + (ordered[lo + 1] - a) * (pos - lo)


whole = st.integers(min_value=-(2**31), max_value=2**31 - 1).map(float)
durations = st.integers(min_value=0, max_value=8_000_000).map(float)
near = st.integers(min_value=-5_000, max_value=5_000).map(float)  # negative values, small range
anything = st.one_of(
    whole,
    durations,
    st.integers(min_value=-(2**62), max_value=2**62).map(float),  # beyond int32: fallback
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.5, -1.0, 2.0**31, -(2.0**31), 2.0**31 - 1, 1e300]),
)


@pytest.mark.parametrize("path", sorted(PATHS))
@given(
    values=st.one_of(
        st.lists(durations, max_size=300),
        st.lists(near, max_size=300),
        st.lists(whole, max_size=50),
        st.lists(anything, max_size=50),
        # ties: few distinct values, many times each
        st.lists(st.sampled_from([0.0, 1.0, 60.0, 3600.0]), min_size=1, max_size=400),
    )
)
def test_counted_part_equals_the_sort(
    values: list[float], path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_BINCOUNT_SPAN", PATHS[path])
    if not values:
        keys, cum, total = counted_part(np.zeros(0))
        assert len(keys) == 0 and len(cum) == 0 and total == 0.0
        return
    same_part(counted_part(np.asarray(values, dtype=np.float64)), sorted_part(values))


@pytest.mark.parametrize("path", sorted(PATHS))
@given(values=st.lists(st.one_of(whole, durations, near), min_size=1, max_size=200))
def test_order_statistics_equal_a_sorted_list(
    values: list[float], path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_BINCOUNT_SPAN", PATHS[path])
    d = dist_of(values)
    ordered = sorted(values)
    assert d.count == len(values)
    assert d.min() == ordered[0] and d.max() == ordered[-1]
    for q in (0.0, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0):
        assert d.quantile(q) == linear_quantile(ordered, q)
    assert d.total() == math.fsum(values)
    edges = [0.0, 60.0, 3600.0, 86400.0]
    bounds = [-math.inf, *edges, math.inf]
    assert d.histogram(edges) == [
        sum(1 for v in values if a <= v < b) for a, b in itertools.pairwise(bounds)
    ]


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize(
    "values",
    [
        [-0.0],
        [-0.0, 1.0, 1.0],
        [3.0, 0.0, -0.0],
        [math.nan, 1.0],
        [math.inf, 1.0],
        [-math.inf, 0.0],
        [1.5, 2.0],
        [2.0**31, 0.0],
        [-(2.0**31) - 1, 0.0],
        [2.0**31 - 1, -(2.0**31)],
        [-7.0, -7.0, -3.0],
    ],
)
def test_edge_values(values: list[float], path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_BINCOUNT_SPAN", PATHS[path])
    same_part(counted_part(np.asarray(values)), sorted_part(values))


def test_empty_one_value_and_ties() -> None:
    assert Dist().median() is None
    d = Dist()
    d.add_array(np.zeros(0))
    assert d.count == 0 and d.parts == []
    one = dist_of([42.0])
    assert (one.median(), one.quantile(0.9), one.min(), one.max()) == (42.0, 42.0, 42.0, 42.0)
    ties = dist_of([7.0] * 1000 + [3.0] * 10)
    assert ties.parts[0][0] == array("d", [3.0, 7.0])
    assert ties.parts[0][1] == array("q", [10, 1010])
    assert ties.median() == 7.0 and ties.min() == 3.0


@pytest.mark.parametrize("path", sorted(PATHS))
def test_large_seeded_arrays(
    path: str, seeded_random: random.Random, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrays of report size: long-tailed durations with a huge range, negative values."""
    monkeypatch.setattr(metrics, "_BINCOUNT_SPAN", PATHS[path])
    rng = np.random.default_rng(seeded_random.randrange(2**32))
    cases = [
        np.floor(rng.exponential(4000, 200_000)),
        np.floor(rng.exponential(4000, 50_000)) - 100_000,
        np.concatenate([np.floor(rng.exponential(60, 5000)), [2.0**31 - 1, -(2.0**31)]]),
        rng.integers(0, 10, 100_000).astype(np.float64),
    ]
    for values in cases:
        same_part(counted_part(values), sorted_part(values))
