"""Lloyd-Max quantizer (spec sections 2.3 and 5.2)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.exceptions import ConvergenceWarning

from normgraph.quant._lloyd import lloyd_max
from normgraph.quant._optimal import optimal_kmeans_1d

# Spec 2.3 (Max 1960): N(0,1) Lloyd-Max MSE and outermost level.
GAUSS = {2: (0.36338, 0.7979), 4: (0.11748, 1.5104), 8: (0.03455, 2.1519),
         16: (0.00950, 2.7326)}


@pytest.mark.parametrize("L", [2, 4, 8, 16])
def test_gaussian_oracle_exact_integration(L):
    mse, ymax = GAUSS[L]
    levels, thresholds, got = lloyd_max(None, L, density=stats.norm(), max_iter=2000)
    assert abs(got - mse) <= 1e-4 and abs(levels[-1] - ymax) <= 1e-4
    np.testing.assert_allclose(levels, -levels[::-1], atol=1e-9)  # symmetric
    np.testing.assert_allclose(thresholds, 0.5 * (levels[1:] + levels[:-1]))


def test_laplace_exact_integration_two_levels():
    # L = 2 on Laplace(0, 1): levels +-E|x| = +-1 and MSE Var|x| = 1 (spec 2.1 note)
    levels, _, mse = lloyd_max(None, 2, density=stats.laplace())
    np.testing.assert_allclose(levels, [-1.0, 1.0], atol=1e-9)
    assert mse == pytest.approx(1.0, abs=1e-9)


def test_laplace_density_centroid_condition():
    dist = stats.laplace(loc=0.5, scale=2.0)
    levels, thresholds, mse = lloyd_max(None, 5, density=dist, max_iter=3000)
    edges = np.r_[-np.inf, thresholds, np.inf]
    for y, a, b in zip(levels, edges[:-1], edges[1:]):
        mass = dist.cdf(b) - dist.cdf(a)
        assert y == pytest.approx(dist.expect(lambda v: v, lb=a, ub=b) / mass, abs=1e-7)


@pytest.mark.parametrize("L", [4, 16])
def test_gaussian_oracle_one_million_samples(L):
    x = np.random.default_rng(2024).standard_normal(10 ** 6)
    mse, ymax = GAUSS[L]
    levels, _, got = lloyd_max(x, L, max_iter=2000)
    assert abs(got / mse - 1) <= 0.005
    assert abs(levels[-1] / ymax - 1) <= 0.01


@settings(max_examples=50)
@given(st.lists(st.one_of(st.integers(-20, 20).map(float), st.floats(-50, 50)),
                min_size=3, max_size=200),
       st.integers(1, 8), st.sampled_from(["quantile", "uniform"]))
def test_fixed_point_conditions_and_never_better_than_the_optimum(xs, L, init):
    x = np.array(xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        levels, thresholds, mse = lloyd_max(x, L, init=init, max_iter=5000, tol=0.0)
        opt = optimal_kmeans_1d(x, L)[2]
    n_distinct = np.unique(x).size
    assert levels.size == min(L, n_distinct)
    assert np.all(np.diff(levels) > 0)
    np.testing.assert_allclose(thresholds, 0.5 * (levels[1:] + levels[:-1]))
    cells = np.searchsorted(thresholds, x, side="left")
    direct = np.mean((x - levels[cells]) ** 2)
    assert mse == pytest.approx(direct, rel=1e-9, abs=1e-12)
    assert mse >= opt - 1e-12 * (1 + np.max(x * x))
    # centroid condition: every level is the mean of its cell (non-empty at convergence)
    for c in range(levels.size):
        assert np.any(cells == c)
        assert levels[c] == pytest.approx(x[cells == c].mean(), rel=1e-9, abs=1e-9)


def test_empty_cells_are_reseeded_deterministically():
    x = np.r_[np.zeros(50), np.ones(50), 10.0 + np.arange(5)]
    init = [100.0, 101.0, 102.0, 103.0]  # every sample falls into the first cell
    a = lloyd_max(x, 4, init=init, max_iter=500)
    b = lloyd_max(x, 4, init=init, max_iter=500)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    levels = a[0]
    assert np.all(np.isfinite(levels)) and np.all(np.diff(levels) > 0)
    cells = np.searchsorted(a[1], x, side="left")
    assert np.unique(cells).size == 4


def test_sample_weights_equal_repetition():
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, size=300)
    counts = rng.integers(0, 4, size=300)
    a = lloyd_max(x, 5, sample_weight=counts, max_iter=3000)
    b = lloyd_max(np.repeat(x, counts), 5, max_iter=3000)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-8)
    assert a[2] == pytest.approx(b[2], rel=1e-8)


def test_init_levels_and_convergence_warning():
    x = np.random.default_rng(4).normal(size=1000)
    with pytest.warns(ConvergenceWarning):
        lloyd_max(x, 8, max_iter=1)
    levels, _, _ = lloyd_max(x, 3, init=[1.0, -1.0, 0.0], max_iter=1000)
    assert levels[0] < 0 < levels[2]


def test_ties_never_split():
    x = np.r_[np.full(10, 1.0), np.full(10, 2.0), np.full(10, 3.0), 4.0]
    levels, thresholds, _ = lloyd_max(x, 2)
    cells = np.searchsorted(thresholds, x, side="left")
    for v in np.unique(x):
        assert np.unique(cells[x == v]).size == 1


@pytest.mark.parametrize("scale", [1e-150, 1e150, 1e300])
def test_extreme_scales_are_handled_by_exact_rescaling(scale):
    x = np.random.default_rng(16).normal(size=500)
    ref = lloyd_max(x, 6)
    if scale > 1e154:  # the true MSE itself overflows float64: a clear error, not inf
        with pytest.raises(ValueError, match="mean squared error of x .* overflows"):
            lloyd_max(x * scale, 6)
        return
    got = lloyd_max(x * scale, 6)
    np.testing.assert_allclose(got[0], ref[0] * scale, rtol=1e-12)
    assert got[2] == pytest.approx(ref[2] * scale ** 2, rel=1e-12)


def test_return_n_iter_counts_iterations():
    from normgraph.quant import LloydMaxQuantizer

    x = np.random.default_rng(3).normal(size=2000)
    levels, thresholds, mse, n_iter = lloyd_max(x, 4, return_n_iter=True)
    assert 1 <= n_iter <= 300
    np.testing.assert_array_equal(levels, lloyd_max(x, 4)[0])
    # capped runs report the cap; distinct values as levels need no iteration
    with pytest.warns(Warning):
        assert lloyd_max(x, 16, max_iter=2, tol=0.0, return_n_iter=True)[3] == 2
    assert lloyd_max([0.0, 1.0, 2.0], 3, return_n_iter=True)[3] == 0
    q = LloydMaxQuantizer(n_levels=4).fit(np.column_stack([x, x ** 3]))
    assert q.n_iter_ == max(lloyd_max(x, 4, return_n_iter=True)[3],
                            lloyd_max(x ** 3, 4, return_n_iter=True)[3])
