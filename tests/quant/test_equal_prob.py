"""Equal-probability thresholds (spec sections 2.2 and 5.3)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.quant._equal_prob import equal_probability_thresholds

samples = st.lists(st.one_of(st.integers(-5, 5).map(float), st.floats(-1e6, 1e6)),
                   min_size=1, max_size=300)


@settings(max_examples=60)
@given(samples, st.integers(1, 20), st.sampled_from(["linear", "inverted_cdf"]))
def test_equals_numpy_quantile(xs, L, method):
    x = np.array(xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t = equal_probability_thresholds(x, L, method=method)
    ref = np.array([np.quantile(x, i / L, method=method) for i in range(1, L)])
    np.testing.assert_array_equal(t, ref)
    assert t.shape == (L - 1,) and np.all(np.diff(t) >= 0)


@settings(max_examples=60)
@given(samples, st.integers(1, 20), st.sampled_from(["linear", "inverted_cdf"]))
def test_bin_counts_differ_by_at_most_ties_plus_one(xs, L, method):
    x = np.array(xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t = equal_probability_thresholds(x, L, method=method)
    counts = np.bincount(np.searchsorted(t, x, side="left"), minlength=L)
    assert counts.sum() == x.size
    n_ties = x.size - np.unique(x).size
    assert counts.max() - counts.min() <= n_ties + 1
    # ties are never split: a value lies in one cell
    cells = np.searchsorted(t, x, side="left")
    for v in np.unique(x)[:20]:
        assert np.unique(cells[x == v]).size == 1


def test_distinct_data_gives_near_equal_counts_and_levels():
    x = np.random.default_rng(0).lognormal(size=10_007)
    t, levels = equal_probability_thresholds(x, 8, return_levels=True)
    cells = np.searchsorted(t, x, side="left")
    counts = np.bincount(cells, minlength=8)
    assert counts.max() - counts.min() <= 1
    for c in range(8):
        assert levels[c] == pytest.approx(x[cells == c].mean(), rel=1e-12)
    assert np.all(np.diff(levels) > 0)


def test_collapsed_bins_with_few_distinct_values():
    x = np.r_[np.zeros(30), np.ones(10)]
    with pytest.warns(UserWarning, match="distinct values"):
        t, levels = equal_probability_thresholds(x, 4, return_levels=True)
    np.testing.assert_array_equal(t, [0.0, 0.0, 0.25])  # 0.75 * 39 = 29.25: between 0 and 1
    assert np.isnan(levels[1]) and np.isnan(levels[2])
    assert levels[0] == 0.0 and levels[3] == 1.0
    assert equal_probability_thresholds(x, 1).shape == (0,)
