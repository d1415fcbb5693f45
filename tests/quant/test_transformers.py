"""The four quantizing transformers: scikit-learn conventions, equality with the 1-D solvers,
encoding/decoding, degenerate features and N2UQ fitting (quant spec 2.7, 3, 5.6, 6)."""

import itertools
import unittest
import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from normgraph.quant import (
    LloydMaxQuantizer,
    N2UQuantizer,
    OptimalQuantizer,
    UniformQuantizer,
    UniformQuant,
    lloyd_max,
    n2uq_forward,
    optimal_kmeans_1d,
    uniform_mse_quantizer,
)

ESTIMATORS = [
    UniformQuantizer(),
    UniformQuantizer(mode="affine", output="index"),
    LloydMaxQuantizer(),
    OptimalQuantizer(),
    OptimalQuantizer(method="smawk", output="index"),
    N2UQuantizer(),
    N2UQuantizer(init="uniform", output="index"),
    N2UQuantizer(objective="index_mse"),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        # Tiny check data sets have constant or few-valued columns: warned about by design.
        warnings.filterwarnings("ignore", message="feature .*", category=UserWarning)
        try:
            check(estimator)
        except unittest.SkipTest as exc:
            # A check that cannot run is a failure here (listed checks are expected to fail),
            # never a silent skip.
            raise AssertionError(f"check could not run: {exc}") from exc


@pytest.fixture(scope="module")
def X3():
    rng = np.random.default_rng(0)
    return np.column_stack([
        rng.normal(size=3000),
        rng.laplace(scale=2.0, size=3000),
        rng.exponential(size=3000) + 1.0,
    ])


# --------------------------------------------------------------------------- equality with solvers
@pytest.mark.parametrize("mode, method, symmetric", [
    ("midrise", "grid", True), ("midtread", "als", True), ("affine", "grid", True),
    ("midrise", "grid", False), ("midrise", "octav", True),
])
def test_uniform_equals_solver_per_feature(X3, mode, method, symmetric):
    n_levels = 4 if mode == "midrise" else 5
    q = UniformQuantizer(n_levels=n_levels, mode=mode, method=method, symmetric=symmetric)
    Xt = q.fit(X3).transform(X3)
    if not symmetric:
        assert q.offset_[2] > 1.0  # the shifted exponential feature gets its own centre
    for j in range(3):
        uq = uniform_mse_quantizer(X3[:, j], n_levels, mode=mode, method=method,
                                   symmetric=symmetric)
        assert (q.step_[j], q.offset_[j], q.mse_[j]) == (uq.step, uq.offset, uq.mse)
        np.testing.assert_array_equal(q.levels_[j], uq.levels)
        np.testing.assert_array_equal(q.thresholds_[j], uq.thresholds)
        np.testing.assert_array_equal(Xt[:, j], uq.quantize(X3[:, j]))
        np.testing.assert_allclose(np.mean((X3[:, j] - Xt[:, j]) ** 2), uq.mse, rtol=1e-9)


def test_lloyd_equals_solver_and_nearest_level(X3):
    q = LloydMaxQuantizer(n_levels=5).fit(X3)
    idx = q.set_params(output="index").transform(X3)
    for j in range(3):
        levels, thresholds, mse = lloyd_max(X3[:, j], 5)
        np.testing.assert_array_equal(q.levels_[j], levels)
        np.testing.assert_array_equal(q.thresholds_[j], thresholds)
        assert q.mse_[j] == mse
        # Independent decoder: the nearest level (no sample sits on a midpoint here).
        nearest = np.abs(X3[:, j, None] - levels[None, :]).argmin(axis=1)
        np.testing.assert_array_equal(idx[:, j], nearest)
        np.testing.assert_allclose(np.mean((X3[:, j] - levels[nearest]) ** 2), mse, rtol=1e-9)


@pytest.mark.parametrize("method", ["dc", "smawk", "naive"])
def test_optimal_equals_solver_labels(X3, method):
    X = X3[:400]
    q = OptimalQuantizer(n_levels=6, method=method, output="index").fit(X)
    idx = q.transform(X)
    for j in range(3):
        levels, thresholds, mse, labels = optimal_kmeans_1d(X[:, j], 6, method=method,
                                                            return_labels=True)
        np.testing.assert_array_equal(q.levels_[j], levels)
        np.testing.assert_array_equal(q.thresholds_[j], thresholds)
        np.testing.assert_array_equal(idx[:, j], labels)
        assert q.mse_[j] == mse
        np.testing.assert_allclose(q.inertia_[j], np.sum((X[:, j] - levels[labels]) ** 2),
                                   rtol=1e-10)


@pytest.mark.parametrize("init", ["quantile", "uniform"])
def test_n2uq_transform_is_the_n2uq_forward(X3, init):
    s1, s2 = 1.7, 0.5
    q = N2UQuantizer(n_bits=3, init=init, scale1=s1, scale2=s2).fit(X3)
    Xt = q.transform(X3)
    idx = q.set_params(output="index").transform(X3)
    for j in range(3):
        np.testing.assert_array_equal(
            Xt[:, j], n2uq_forward(X3[:, j], q.start_[j], q.a_[j], s1, s2, n_bits=3)
        )
        np.testing.assert_array_equal(Xt[:, j], q.levels_[j][idx[:, j]])
        np.testing.assert_array_equal(q.knots_[j], q.start_[j] + np.r_[0, np.cumsum(q.a_[j])])
        np.testing.assert_array_equal(q.thresholds_[j], q.knots_[j][:-1] + q.a_[j] / 2)
    assert q.step_ == 2 / 7
    np.testing.assert_allclose(q.levels_[0], np.arange(8) * (2 / 7) * s2)


# --------------------------------------------------------------------------- encode / decode
@pytest.mark.parametrize("est", [UniformQuantizer(n_levels=6), LloydMaxQuantizer(n_levels=3),
                                 OptimalQuantizer(n_levels=5), N2UQuantizer(n_bits=2)],
                         ids=lambda e: type(e).__name__)
def test_index_and_value_outputs_round_trip(X3, est):
    values = est.set_params(output="value").fit(X3).transform(X3)
    idx = est.set_params(output="index").fit(X3).transform(X3)
    assert values.dtype == np.float64 and idx.dtype == np.int64
    for j in range(3):
        np.testing.assert_array_equal(values[:, j], np.asarray(est.levels_[j])[idx[:, j]])
    np.testing.assert_array_equal(est.inverse_transform(idx), values)
    if not isinstance(est, N2UQuantizer):  # N2UQ levels live in its output domain, not x's
        # Each level lies in its own cell, so decoding then encoding is the identity.
        np.testing.assert_array_equal(est.transform(est.inverse_transform(idx)), idx)
    with pytest.raises(ValueError, match="integer"):
        est.inverse_transform(idx + 0.5)
    with pytest.raises(ValueError, match="indices must lie"):
        est.inverse_transform(idx * 0 + 99)
    with pytest.raises(ValueError, match="features"):
        est.inverse_transform(idx[:, :2])
    est.set_params(output="value")
    np.testing.assert_array_equal(est.inverse_transform(values), values)
    with pytest.raises(ValueError, match="levels"):
        est.inverse_transform(values + 1e-3)


def test_feature_names_out():
    X = np.array([[0.0, 1.0], [1.0, 5.0], [2.0, 2.0], [3.0, 0.0], [4.0, 3.0]])
    for est in (UniformQuantizer(), LloydMaxQuantizer(n_levels=2), OptimalQuantizer(n_levels=2),
                N2UQuantizer(n_bits=1)):
        est.fit(X)
        assert list(est.get_feature_names_out()) == ["x0", "x1"]
        assert list(est.get_feature_names_out(["a", "b"])) == ["a", "b"]
        with pytest.raises(ValueError):
            est.get_feature_names_out(["a"])


# --------------------------------------------------------------------------- degenerate features
def test_constant_feature_uniform():
    X = np.column_stack([np.full(50, 3.0), np.linspace(-1, 1, 50)])
    with pytest.warns(UserWarning, match="feature 0"):
        q = UniformQuantizer(n_levels=4).fit(X)
    assert q.step_[0] == pytest.approx(3e-8, rel=1e-12)
    Xt = q.transform(X)
    assert np.unique(Xt[:, 0]).size == 1
    np.testing.assert_allclose(Xt[:, 0], 3.0, atol=1e-7)
    assert q.mse_[0] < 1e-14
    np.testing.assert_array_equal(q.n_levels_effective_, [1, 4])


def test_constant_feature_n2uq():
    X = np.column_stack([np.full(50, -2.5), np.linspace(0, 1, 50)])
    for init in ("quantile", "uniform"):
        with pytest.warns(UserWarning, match="feature 0 is constant"):
            q = N2UQuantizer(n_bits=2, init=init).fit(X)
        np.testing.assert_array_equal(q.a_[0], 1e-3)
        np.testing.assert_allclose(np.diff(q.knots_[0]), 1e-3)
        assert q.start_[0] == -2.5
        np.testing.assert_array_equal(q.transform(X)[:, 0], 0.0)
        assert q.n_levels_effective_[0] == 1


@pytest.mark.parametrize("cls", [LloydMaxQuantizer, OptimalQuantizer])
def test_fewer_distinct_values_than_levels(cls):
    X = np.column_stack([np.tile([0.0, 1.0, 5.0], 10), np.arange(30.0)])
    with pytest.warns(UserWarning, match="feature 0") as record:
        q = cls(n_levels=4).fit(X)
    assert not any("feature 1" in str(w.message) for w in record)
    np.testing.assert_array_equal(q.levels_[0], [0.0, 1.0, 5.0])
    np.testing.assert_array_equal(q.n_levels_effective_, [3, 4])
    np.testing.assert_array_equal(q.transform(X)[:, 0], X[:, 0])
    assert q.mse_[0] == 0.0


# --------------------------------------------------------------------------- N2UQ fitting
def test_n2uq_quantile_knots_on_uniform_data_are_the_uniform_grid():
    x = np.random.default_rng(1).uniform(0.0, 2.0, size=(100_000, 1))
    for n_bits in (1, 2, 3, 4):
        q = N2UQuantizer(n_bits=n_bits).fit(x)
        L = 2**n_bits - 1
        grid = 2.0 * np.arange(L + 1) / L
        assert abs(q.knots_[0, 0]) <= 0.02 * grid[1]
        np.testing.assert_allclose(q.knots_[0, 1:], grid[1:], rtol=0.02)


def test_n2uq_quantile_init_equalises_output_probabilities():
    # Knots at the 0, 1/L, ..., 1 quantiles: the outputs at the ends get mass 1/(2L), the
    # others 1/L (thresholds are the midpoints of equal-mass intervals of a smooth density).
    x = np.random.default_rng(2).uniform(0.0, 1.0, size=(200_000, 1)) ** 3
    L = 7
    q = N2UQuantizer(n_bits=3, q_low=0.0, q_high=1.0, output="index").fit(x)
    p = np.bincount(q.transform(x)[:, 0], minlength=L + 1) / x.shape[0]
    expected = np.r_[0.5, np.ones(L - 1), 0.5] / L
    # Within a knot interval the mass splits unevenly at the midpoint for a non-flat density:
    # compare each output's mass with the exact split of its two half-intervals.
    z = np.sort(x[:, 0])
    F = lambda t: np.searchsorted(z, t, side="right") / z.size  # noqa: E731
    exact = np.diff(np.r_[0.0, F(q.thresholds_[0]), 1.0])
    np.testing.assert_allclose(p, exact, atol=1e-12)
    assert np.abs(p - expected).max() < 0.5 / L  # roughly equalised, unlike a uniform grid
    uniform_grid = N2UQuantizer(n_bits=3, init="uniform", output="index").fit(x)
    pu = np.bincount(uniform_grid.transform(x)[:, 0], minlength=L + 1) / x.shape[0]
    assert np.abs(p - expected).max() < np.abs(pu - expected).max()


def test_n2uq_uniform_init_is_the_uniform_mse_quantizer():
    rng = np.random.default_rng(3)
    # Signed data: the affine quantizer with L + 1 levels.
    x = rng.normal(size=5000)
    q = N2UQuantizer(n_bits=2, init="uniform").fit(x[:, None])
    uq = uniform_mse_quantizer(x, 4, mode="affine")
    assert q.start_[0] == pytest.approx(uq.offset, rel=1e-12)
    np.testing.assert_allclose(q.a_[0], uq.step, rtol=1e-12)
    # Nonnegative data: start = 0 and the MSE-optimal step of the grid {0, a, ..., L a},
    # checked against a dense scan of that step.
    y = rng.exponential(size=5000)
    q = N2UQuantizer(n_bits=2, init="uniform").fit(y[:, None])
    assert q.start_[0] == 0.0
    a = q.a_[0, 0]
    np.testing.assert_array_equal(q.a_[0], a)

    def mse(step):
        return np.mean((y - np.clip(np.round(y / step), 0, 3) * step) ** 2)

    scan = np.linspace(0.2, 3.0, 2801)
    best = scan[np.argmin([mse(s) for s in scan])]
    assert mse(a) <= mse(best) + 1e-9


def _index_objective(z, thresholds, L):
    zs = np.sort(z)
    G = 2.0 * np.searchsorted(zs, z, side="right") / z.size
    Q = np.searchsorted(thresholds, z, side="left") * (2.0 / L)
    return np.mean((G - Q) ** 2)


def test_n2uq_index_mse_is_optimal_over_all_monotone_assignments():
    rng = np.random.default_rng(4)
    z = np.sort(rng.lognormal(size=11))
    L = 3
    q = N2UQuantizer(n_bits=2, objective="index_mse", output="index").fit(z[:, None])
    got = _index_objective(z, q.thresholds_[0], L)
    # Brute force: every split of the sorted samples into L + 1 consecutive (possibly empty)
    # cells mapped to outputs 0, step, ..., 2.
    G = 2.0 * np.arange(1, z.size + 1) / z.size
    best = np.inf
    for cuts in itertools.combinations_with_replacement(range(z.size + 1), L):
        cells = np.searchsorted(np.array(cuts), np.arange(z.size), side="right")
        best = min(best, np.mean((G - cells * (2.0 / L)) ** 2))
    assert got == pytest.approx(best, abs=1e-12)
    quantile = N2UQuantizer(n_bits=2).fit(z[:, None])
    assert got <= _index_objective(z, quantile.thresholds_[0], L) + 1e-12


def test_n2uq_index_mse_knots_have_the_thresholds_as_midpoints():
    x = np.random.default_rng(5).uniform(0.0, 2.0, size=(20_000, 1))
    q = N2UQuantizer(n_bits=3, objective="index_mse").fit(x)
    assert q.knots_consistent_[0]
    np.testing.assert_allclose(0.5 * (q.knots_[0, :-1] + q.knots_[0, 1:]), q.thresholds_[0],
                               atol=1e-12)
    # Close to the uniform grid on uniform data (G ~ identity).
    np.testing.assert_allclose(q.knots_[0], 2.0 * np.arange(8) / 7, atol=0.05)
    # Heavy ties make some intervals collapse: flagged, and the thresholds still drive transform.
    X = np.repeat([[0.0], [1.0], [1.01], [5.0]], [500, 10, 10, 480], axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = N2UQuantizer(n_bits=3, objective="index_mse", output="index").fit(X)
    assert not q.knots_consistent_[0]
    np.testing.assert_array_equal(
        q.transform(X)[:, 0], np.searchsorted(q.thresholds_[0], X[:, 0], side="left")
    )


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("est", [UniformQuantizer(), LloydMaxQuantizer(), OptimalQuantizer(),
                                 N2UQuantizer()], ids=lambda e: type(e).__name__)
def test_bad_data(est, X3):
    X = X3[:100].copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError):
        est.fit(X)
    X[3, 1] = np.inf
    with pytest.raises(ValueError):
        est.fit(X)
    est.fit(X3[:100])
    with pytest.raises(ValueError, match="features"):
        est.transform(X3[:10, :2])
    with pytest.raises(ValueError):
        est.transform(np.where(np.eye(10, 3) > 0, np.nan, X3[:10]))
    with pytest.raises(ValueError):
        est.fit(np.empty((0, 3)))
    with pytest.raises(ValueError):
        est.fit(X3[:, 0])  # 1-D
    with pytest.raises(ValueError):
        est.fit(X3[:10].astype(complex))


@pytest.mark.parametrize(
    "est",
    [
        UniformQuantizer(n_levels=0),
        UniformQuantizer(n_levels=3),          # mid-rise needs an even number of levels
        UniformQuantizer(mode="signed"),
        UniformQuantizer(method="newton"),
        UniformQuantizer(output="codes"),
        LloydMaxQuantizer(max_iter=0),
        LloydMaxQuantizer(tol=-1.0),
        OptimalQuantizer(method="kmeans++"),
        N2UQuantizer(n_bits=0),
        N2UQuantizer(n_bits=17),
        N2UQuantizer(init="random"),
        N2UQuantizer(q_low=0.5, q_high=0.4),
        N2UQuantizer(q_high=1.5),
        N2UQuantizer(eps=0.0),
        N2UQuantizer(scale1=0.0),
        N2UQuantizer(scale2=-1.0),
        N2UQuantizer(objective="mse"),
    ],
    ids=repr,
)
def test_bad_parameters(est, X3):
    with pytest.raises(ValueError):
        est.fit(X3[:100])


@pytest.mark.parametrize(
    "est, name",
    [
        (UniformQuantizer(n_levels=2.5), "n_levels"),
        (UniformQuantizer(n_levels=4.0), "n_levels"),
        (UniformQuantizer(symmetric="no"), "symmetric"),
        (UniformQuantizer(mode=3), "mode"),
        (LloydMaxQuantizer(max_iter=2.0), "max_iter"),
        (LloydMaxQuantizer(tol="small"), "tol"),
        (OptimalQuantizer(n_levels=True), "n_levels"),
        (N2UQuantizer(n_bits=2.5), "n_bits"),
        (N2UQuantizer(eps=None), "eps"),
    ],
    ids=lambda v: repr(v) if not isinstance(v, str) else "",
)
def test_parameters_of_the_wrong_type_are_type_errors(est, name, X3):
    # one vocabulary with graphs and norms: a wrong type is a TypeError naming the parameter
    with pytest.raises(TypeError, match=name):
        est.fit(X3[:100])


def test_q_low_default_depends_on_the_sign_of_the_data():
    rng = np.random.default_rng(6)
    pos = rng.uniform(0.0, 1.0, size=(10_000, 1))
    neg = pos - 0.5
    assert N2UQuantizer().fit(pos).start_[0] == pos.min()
    assert N2UQuantizer().fit(neg).start_[0] == pytest.approx(np.quantile(neg, 0.01))
    assert N2UQuantizer(q_low=0.1).fit(pos).start_[0] == pytest.approx(np.quantile(pos, 0.1))


def test_uniform_quant_type_is_exported():
    q = UniformQuantizer().fit(np.random.default_rng(7).normal(size=(100, 1)))
    assert isinstance(q.quantizers_[0], UniformQuant)
