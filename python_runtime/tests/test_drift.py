"""PSI and category share shifts, against values computed by hand."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skewless.guards.drift import (
    EPS,
    category_drift,
    feature_drift,
    is_numeric_type,
    numeric_drift,
    quantile_edges,
)


def test_psi_two_bins_by_hand() -> None:
    # median of 1..10 is 5.5: bins (-inf, 5.5] and (5.5, inf); train 0.5/0.5, served 0.75/0.25
    d = numeric_drift("v.x", range(1, 11), [1, 1, 1, 9], bins=2)
    assert [(b.low, b.high) for b in d.bins] == [(None, 5.5), (5.5, None)]
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert d.psi == pytest.approx(expected, rel=1e-12)
    assert d.psi == pytest.approx(0.2746530721670274, rel=1e-12)


def test_psi_identical_distributions_is_zero() -> None:
    values = [0.1 * i for i in range(1000)]
    assert numeric_drift("v.x", values, list(reversed(values))).psi == 0.0


def test_psi_empty_bin_is_epsilon_smoothed() -> None:
    d = numeric_drift("v.x", range(1, 11), [100, 200], bins=2)
    expected = (EPS - 0.5) * math.log(EPS / 0.5) + (1 - 0.5) * math.log(1 / 0.5)
    assert d.psi == pytest.approx(expected, rel=1e-12)
    assert d.psi == pytest.approx(4.604318, rel=1e-6)


def test_values_on_an_edge_go_to_the_lower_bin() -> None:
    assert quantile_edges([1, 2, 3, 4], 4) == [1.75, 2.5, 3.25]
    d = numeric_drift("v.x", [1, 2, 3, 4], [1.75, 1.75], bins=4)
    assert [b.served_share for b in d.bins] == [1.0, 0.0, 0.0, 0.0]


def test_nulls_and_nan_share_a_bin() -> None:
    d = numeric_drift("v.x", [1, 2, None, float("nan")], [1, 1, 1, None], bins=2)
    assert [b.is_null for b in d.bins] == [False, False, True]
    assert [b.train_share for b in d.bins] == [0.25, 0.25, 0.5]
    assert [b.served_share for b in d.bins] == [0.75, 0.0, 0.25]
    expected = (
        (0.75 - 0.25) * math.log(3)
        + (EPS - 0.25) * math.log(EPS / 0.25)
        + (0.25 - 0.5) * math.log(0.25 / 0.5)
    )
    assert d.psi == pytest.approx(expected, rel=1e-12)


def test_repeated_edges_collapse() -> None:
    d = numeric_drift("v.flag", [0] * 90 + [1] * 10, [0] * 50 + [1] * 50)
    # nine deciles of 90 zeros and 10 ones: 0 (eight times, collapsed) and ~0.1 (interpolated)
    assert len(d.bins) == 3 and d.bins[0].high == 0.0
    assert (d.bins[1].train_share, d.bins[1].served_share) == (0.0, 0.0)
    expected = (0.5 - 0.9) * math.log(0.5 / 0.9) + (0.5 - 0.1) * math.log(0.5 / 0.1)
    assert d.psi == pytest.approx(expected, rel=1e-12)


def test_decimals_and_timestamps_are_binned_as_numbers() -> None:
    d = numeric_drift("v.d", [Decimal("1.5"), Decimal("2.5")], [Decimal("1.5")], bins=2)
    assert [b.served_share for b in d.bins] == [1.0, 0.0]
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    t1 = datetime(2024, 1, 2, tzinfo=timezone.utc)
    d = numeric_drift("v.ts", [t0, t1], [t1, t1], bins=2)
    assert [b.served_share for b in d.bins] == [0.0, 1.0]


def test_category_shift_by_hand() -> None:
    d = category_drift("v.country", ["a", "a", "b", "b"], ["a", "a", "a", "c"])
    assert d.tvd == pytest.approx(0.5)
    assert d.max_shift == pytest.approx(0.5)
    assert d.shares[0].value == "b" and d.shares[0].shift == pytest.approx(-0.5)
    expected = (
        (0.75 - 0.5) * math.log(0.75 / 0.5)
        + (EPS - 0.5) * math.log(EPS / 0.5)
        + (0.25 - EPS) * math.log(0.25 / EPS)
    )
    assert d.psi == pytest.approx(expected, rel=1e-12)
    assert d.to_dict()["shares"][0] == {"value": "b", "train_share": 0.5, "served_share": 0.0}


def test_category_null_is_its_own_category() -> None:
    d = category_drift("v.c", ["x", None], ["x", "x"])
    assert {s.value: (s.train_share, s.served_share) for s in d.shares} == {
        "x": (0.5, 1.0),
        None: (0.5, 0.0),
    }


def test_dispatch_by_declared_type() -> None:
    assert is_numeric_type("DECIMAL(18,2)") and is_numeric_type("bigint")
    assert is_numeric_type("timestamp with time zone") and not is_numeric_type("varchar")
    assert feature_drift("v.a", "double", [1.0], [1.0]).kind == "numeric"
    assert feature_drift("v.b", "varchar", ["a"], ["a"]).kind == "category"
    assert feature_drift("v.c", "boolean", [True], [False]).kind == "category"


def test_empty_side_gives_nan_not_an_error() -> None:
    assert math.isnan(numeric_drift("v.x", [1, 2], []).psi)
    assert math.isnan(category_drift("v.x", [], ["a"]).psi)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=200),
    st.integers(2, 20),
)
def test_quantile_edges_match_numpy(values: list[float], bins: int) -> None:
    ours = quantile_edges(values, bins)
    qs = [float(q) for q in np.quantile(np.array(values), [k / bins for k in range(1, bins)])]
    assert ours == sorted(set(ours))
    for e in qs:  # every numpy quantile is one of our edges, and every edge a numpy quantile
        assert min(abs(e - o) for o in ours) <= 1e-6 * max(1.0, abs(e))
    for o in ours:
        assert min(abs(e - o) for e in qs) <= 1e-6 * max(1.0, abs(o))
