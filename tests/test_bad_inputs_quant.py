"""Hostile inputs for every public entry point of ``normgraph.quant`` (issue 8).

The contract: a ``ValueError``/``TypeError`` whose message names the offending parameter, or a
finite result equal to an independent reference (the scaled answer for scaled input). The
references here are written from the definitions, not from the package's code: exhaustive
search over contiguous partitions for 1-D k-means, ``numpy.quantile``, a plain loop for the
N2UQ forward, quadrature for errors under a density.
"""

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from normgraph.quant import (
    LloydMaxQuantizer,
    N2UQuantizer,
    OptimalQuantizer,
    UniformQuantizer,
    equal_probability_thresholds,
    lloyd_max,
    n2uq_backward,
    n2uq_forward,
    n2uq_surrogate,
    n2uq_weight_backward,
    n2uq_weight_quant,
    optimal_kmeans_1d,
    plot_quantizer,
    optimal_thresholds_fixed_levels,
    uniform_mse_quantizer,
)

FAST = settings(max_examples=25, deadline=None)

# ----------------------------------------------------------------------------- references


def kmeans_reference(x, k, w=None):
    """Optimal k-level MSE by exhaustive search over contiguous splits of the sorted distinct
    values (optimal 1-D clusters are contiguous), each cluster's cost summed directly."""
    x = np.asarray(x, dtype=float)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float)
    u = np.unique(x)
    cw = np.array([w[x == v].sum() for v in u])
    u, cw = u[cw > 0], cw[cw > 0]  # a value of zero weight plays no part
    k = min(k, u.size)
    best = math.inf
    for cuts in itertools.combinations(range(1, u.size), k - 1):
        total = 0.0
        for a, b in zip((0,) + cuts, cuts + (u.size,)):
            m = np.dot(cw[a:b], u[a:b]) / cw[a:b].sum()
            total += float(np.dot(cw[a:b], (u[a:b] - m) ** 2))
        best = min(best, total)
    return best / w.sum()


def nearest_level_mse(x, levels, w=None):
    """MSE of mapping every sample to its nearest level (the definition of the error)."""
    x = np.asarray(x, dtype=float)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float)
    err = np.min((x[:, None] - np.asarray(levels)[None, :]) ** 2, axis=1)
    return float(np.dot(w, err) / w.sum())


def n2uq_forward_reference(x, start, a, scale1, scale2, n_bits, eps):
    """The N2UQ forward as a plain loop: ``scale2 step #{i : scale1 x > T_i + ahat_i/2}``."""
    L = 2**n_bits - 1
    ahat = [ai if ai > eps else eps for ai in a]
    knots = [start]
    for ai in ahat:
        knots.append(knots[-1] + ai)
    out = []
    for v in np.ravel(x):
        z = scale1 * v
        out.append(scale2 * (2.0 / L) * sum(z > knots[i] + ahat[i] / 2 for i in range(L)))
    return np.array(out).reshape(np.shape(x))


def assert_names(exc_info, *names):
    message = str(exc_info.value)
    assert any(n in message for n in names), f"{message!r} names none of {names}"


# ----------------------------------------------------------------------------- strategies

small_data = st.lists(st.integers(-20, 20), min_size=2, max_size=7).map(
    lambda v: np.array(v, dtype=float) / 4.0)
power_of_two = st.integers(-990, 990).map(lambda e: math.ldexp(1.0, e))
decimal_scale = st.sampled_from([1e-300, 1e-200, 1e-100, 1e100, 1e200, 1e300])


@st.composite
def hostile_samples(draw):
    """Anything a user might pass as ``x``: bad dtypes, shapes, NaN/inf anywhere, or valid."""
    kind = draw(st.sampled_from(["nonfinite", "complex", "object", "string", "none", "2d",
                                 "0d", "empty", "bool", "int", "ragged", "valid"]))
    base = draw(small_data)
    if kind == "nonfinite":
        bad = base.copy()
        pos = draw(st.lists(st.integers(0, bad.size - 1), min_size=1, max_size=bad.size))
        bad[pos] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return kind, bad
    return kind, {
        "complex": base + 1j,
        "object": base.astype(object),
        "string": base.astype(str),
        "none": None,
        "2d": np.stack([base, base]),
        "0d": np.float64(base[0]),
        "empty": np.empty(0),
        "bool": base > 0,
        "int": np.round(base).astype(np.int32),
        "ragged": [[1.0], [1.0, 2.0]],
        "valid": base,
    }[kind]


SAMPLE_SOLVERS = {
    "uniform": lambda x: uniform_mse_quantizer(x, 4),
    "equal_prob": lambda x: equal_probability_thresholds(x, 3, return_levels=True),
    "lloyd": lambda x: lloyd_max(x, 3),
    "kmeans": lambda x: optimal_kmeans_1d(x, 3),
    "fixed_levels": lambda x: optimal_thresholds_fixed_levels(x, [-1.0, 0.0, 1.0]),
    "n2uq_forward": lambda x: n2uq_forward(x, 0.0, [0.5, 0.5, 0.5]),
    "n2uq_surrogate": lambda x: n2uq_surrogate(x, 0.0, [0.5, 0.5, 0.5]),
    "n2uq_backward": lambda x: n2uq_backward(np.ones(np.shape(x)) if x is not None else None,
                                             x, 0.0, [0.5, 0.5, 0.5]),
    "n2uq_weight_quant": lambda x: n2uq_weight_quant(x, 2),
    "UniformQuantizer": lambda x: UniformQuantizer().fit(
        np.reshape(x, (-1, 1)) if isinstance(x, np.ndarray) and x.ndim == 1 else x),
    "OptimalQuantizer": lambda x: OptimalQuantizer(n_levels=2).fit(
        np.reshape(x, (-1, 1)) if isinstance(x, np.ndarray) and x.ndim == 1 else x),
}
# entry points that accept arrays of any shape (elementwise) or 2-D input
ANY_SHAPE = {"n2uq_forward", "n2uq_surrogate", "n2uq_backward"}
ND_OK = {"n2uq_weight_quant", "UniformQuantizer", "OptimalQuantizer"}


def _flat_values(result):
    if hasattr(result, "step"):
        return np.array([result.step, result.offset, result.mse])
    if isinstance(result, dict):
        return np.concatenate([np.ravel(v) for v in result.values()])
    if isinstance(result, tuple):
        return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in result])
    if hasattr(result, "n_features_in_"):
        return np.ravel(result.levels_)
    return np.ravel(np.asarray(result, dtype=float))


# ----------------------------------------------------------------- dtypes, shapes, NaN / inf


@FAST
@given(case=hostile_samples(), name=st.sampled_from(sorted(SAMPLE_SOLVERS)))
def test_hostile_samples_give_a_clear_error_or_a_finite_result(case, name):
    kind, x = case
    expect_error = kind in ("nonfinite", "complex", "object", "string", "none", "empty",
                            "ragged")
    if kind == "2d":
        expect_error = name not in ANY_SHAPE | ND_OK
    if kind == "0d":
        expect_error = name not in ANY_SHAPE
    if kind == "empty" and name in ("n2uq_forward", "n2uq_surrogate", "n2uq_backward"):
        expect_error = False  # elementwise maps: an empty input gives an empty output
    if kind == "object" and name.endswith("Quantizer"):
        expect_error = False  # scikit-learn converts object arrays of numbers (its convention)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if expect_error:
            with pytest.raises((TypeError, ValueError)) as info:
                SAMPLE_SOLVERS[name](x)
            assert_names(info, "x", "X", "sample", "W", "grad_out", "array", "dtype")
            type_problem = kind in ("complex", "object", "string", "none", "ragged")
            assert info.type is (TypeError if type_problem else ValueError) or \
                (name in ND_OK and kind not in ("none", "ragged")), info.value
        else:
            values = _flat_values(SAMPLE_SOLVERS[name](x))
            finite = values[~np.isnan(values)] if name == "equal_prob" else values
            assert np.isfinite(finite).all()


@pytest.mark.parametrize("name", ["uniform", "lloyd", "kmeans", "equal_prob", "fixed_levels"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64, np.float32, np.bool_])
def test_real_dtypes_are_cast_like_float64(name, dtype):
    x = np.array([0, 1, 1, 3, 5, 8, 2], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = _flat_values(SAMPLE_SOLVERS[name](x))
        ref = _flat_values(SAMPLE_SOLVERS[name](x.astype(np.float64)))
    np.testing.assert_array_equal(got, ref)


# ------------------------------------------------------------------------ extreme magnitudes


def _exact_mse_or_error(solve, x, scale, ref_mse):
    """The scaled error ``ref_mse * scale**2`` correctly rounded, or a ValueError saying that
    it overflows; returns the result (None after the error)."""
    try:
        expected = math.ldexp(ref_mse, 2 * (math.frexp(scale)[1] - 1))
    except OverflowError:
        expected = math.inf
    if math.isinf(expected):
        with pytest.raises(ValueError, match="mean squared error .* overflows"):
            solve(x * scale)
        return None
    return solve(x * scale), expected


@FAST
@given(x=small_data, k=st.integers(1, 4), scale=power_of_two,
       method=st.sampled_from(["dc", "smawk", "naive"]))
def test_kmeans_on_scaled_data_is_the_scaled_optimum(x, k, scale, method):
    assume(np.unique(x).size > 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = optimal_kmeans_1d(x, k, method=method, return_labels=True)
        assert ref[2] == pytest.approx(kmeans_reference(x, k), rel=1e-9, abs=1e-15)
        out = _exact_mse_or_error(lambda v: optimal_kmeans_1d(v, k, method=method,
                                                              return_labels=True), x, scale,
                                  ref[2])
    if out is None:
        return
    (levels, thresholds, mse, labels), expected = out
    np.testing.assert_array_equal(labels, ref[3])
    np.testing.assert_array_equal(levels, ref[0] * scale)
    np.testing.assert_array_equal(thresholds, ref[1] * scale)
    assert mse == pytest.approx(expected, rel=1e-12, abs=0)


@FAST
@given(x=small_data, k=st.integers(2, 4), scale=power_of_two)
def test_lloyd_and_uniform_on_scaled_data_give_the_scaled_answer(x, k, scale):
    assume(np.unique(x).size > 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lloyd_max(x, k)
        out = _exact_mse_or_error(lambda v: lloyd_max(v, k), x, scale, ref[2])
        if out is not None:
            (levels, thresholds, mse), expected = out
            np.testing.assert_array_equal(levels, ref[0] * scale)
            np.testing.assert_array_equal(thresholds, ref[1] * scale)
            assert mse == pytest.approx(expected, rel=1e-12)
            assert ref[2] == pytest.approx(nearest_level_mse(x, ref[0]), rel=1e-9, abs=1e-15)
        for mode in ("midrise", "midtread", "affine"):
            L = 2 * k if mode == "midrise" else k
            q0 = uniform_mse_quantizer(x, L, mode=mode)
            out = _exact_mse_or_error(lambda v: uniform_mse_quantizer(v, L, mode=mode), x,
                                      scale, q0.mse)
            if out is None:
                continue
            q, expected = out
            assert (q.step, q.offset) == (q0.step * scale, q0.offset * scale)
            assert q.mse == pytest.approx(expected, rel=1e-12)
            np.testing.assert_array_equal(q.index(x * scale), q0.index(x))
            assert q0.mse == pytest.approx(nearest_level_mse(x, q0.levels), rel=1e-9,
                                           abs=1e-15)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-100, 1e100, 1e200, 1e300])
def test_decimal_scales_give_the_scaled_answer_or_a_clear_error(scale):
    x = np.random.default_rng(1).normal(size=60)
    solvers = {
        "kmeans": lambda v: optimal_kmeans_1d(v, 4, return_labels=True),
        "lloyd": lambda v: lloyd_max(v, 4),
        "uniform": lambda v: uniform_mse_quantizer(v, 4),
    }
    for name, solve in solvers.items():
        ref = solve(x)
        ref_mse = ref.mse if name == "uniform" else ref[2]
        if ref_mse * scale * scale > 1e308 or (ref_mse * scale > 1e308 / scale):
            with pytest.raises(ValueError, match="overflows"):
                solve(x * scale)
            continue
        got = solve(x * scale)
        if name == "uniform":
            assert got.step == pytest.approx(ref.step * scale, rel=1e-6)
            got_mse = got.mse
        else:
            np.testing.assert_allclose(got[0], ref[0] * scale, rtol=1e-9)
            got_mse = got[2]
            if name == "kmeans":
                np.testing.assert_array_equal(got[3], ref[3])
        # an error below the float64 range rounds to a subnormal or zero, never NaN/inf
        assert np.isfinite(got_mse)
        if ref_mse * scale * scale > 1e-290:
            assert got_mse == pytest.approx(ref_mse * scale * scale, rel=1e-6)
    t = equal_probability_thresholds(x * scale, 4, return_levels=True)
    np.testing.assert_allclose(t[0], np.quantile(x * scale, [0.25, 0.5, 0.75]), rtol=1e-12)
    np.testing.assert_allclose(t[1] / scale,
                               equal_probability_thresholds(x, 4, return_levels=True)[1],
                               rtol=1e-9)
    levels = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_allclose(optimal_thresholds_fixed_levels(x * scale, levels * scale),
                               optimal_thresholds_fixed_levels(x, levels) * scale, rtol=1e-12)


@FAST
@given(scale=power_of_two, n_bits=st.integers(1, 3), data=st.data())
def test_n2uq_on_scaled_inputs_gives_the_scaled_answer(scale, n_bits, data):
    L = 2**n_bits - 1
    x = data.draw(small_data)
    a = np.array(data.draw(st.lists(st.integers(0, 8), min_size=L, max_size=L))) / 8.0
    start = data.draw(st.integers(-8, 8)) / 8.0
    ref = n2uq_forward_reference(x, start, a, 1.0, 1.0, n_bits, 1e-3)
    np.testing.assert_array_equal(n2uq_forward(x, start, a, n_bits=n_bits), ref)
    got = n2uq_forward(x * scale, start * scale, a * scale, n_bits=n_bits, eps=1e-3 * scale)
    np.testing.assert_array_equal(got, ref)
    s0 = n2uq_surrogate(x, start, a, n_bits=n_bits)
    s1 = n2uq_surrogate(x * scale, start * scale, a * scale, n_bits=n_bits, eps=1e-3 * scale)
    np.testing.assert_array_equal(s1, s0)
    g0 = n2uq_backward(np.ones_like(x), x, start, a, n_bits=n_bits)
    g1 = n2uq_backward(np.ones_like(x), x * scale, start * scale, a * scale, n_bits=n_bits,
                       eps=1e-3 * scale)
    np.testing.assert_array_equal(g1["x"] * scale, g0["x"])
    np.testing.assert_array_equal(g1["a"] * scale, g0["a"])
    W = np.stack([x, -x[::-1]])
    Wq0, s0 = n2uq_weight_quant(W, n_bits)
    Wq1, s1 = n2uq_weight_quant(W * scale, n_bits)
    np.testing.assert_array_equal(s1, s0 * scale)
    np.testing.assert_array_equal(Wq1, Wq0 * scale)
    np.testing.assert_array_equal(n2uq_weight_backward(np.ones_like(W), W * scale, n_bits),
                                  n2uq_weight_backward(np.ones_like(W), W, n_bits) / scale)


def test_n2uq_weight_channels_at_opposite_extremes_keep_their_own_scale():
    W = np.array([[1e-300, -3e-300, 2e-300], [1e300, -2e300, 3e300]])
    Wq, s = n2uq_weight_quant(W, 2)
    np.testing.assert_allclose(s, 1.5 * np.array([2e-300, 2e300]), rtol=1e-15)
    assert np.isfinite(Wq).all() and (Wq[0] != 0).all()


@pytest.mark.parametrize("scale", [2.0**-996, 1e-300, 1e300])
def test_transformers_on_scaled_data_give_the_same_indices_or_a_clear_error(scale):
    X = np.random.default_rng(2).normal(size=(80, 2))
    X[:, 1] = np.abs(X[:, 1])
    estimators = [UniformQuantizer(n_levels=4), LloydMaxQuantizer(n_levels=3),
                  OptimalQuantizer(n_levels=3), N2UQuantizer(init="quantile"),
                  N2UQuantizer(init="uniform"), N2UQuantizer(objective="index_mse")]
    for est in estimators:
        idx = est.set_params(output="index").fit(X).transform(X)
        if isinstance(est, N2UQuantizer):
            est.set_params(eps=1e-3 * scale)  # eps is in the data's units
        elif scale > 1e154:
            with pytest.raises(ValueError, match="feature 0: .*overflows"):
                est.fit(X * scale)
            continue
        np.testing.assert_array_equal(est.fit(X * scale).transform(X * scale), idx)


# ----------------------------------------------------------------------------- sample weights


@FAST
@given(x=small_data, data=st.data(), scale=power_of_two)
def test_sample_weights_are_scale_invariant(x, data, scale):
    w = np.array(data.draw(st.lists(st.integers(0, 4), min_size=x.size, max_size=x.size)),
                 dtype=float)
    assume(w.sum() > 0)
    for solve in (lambda ww: optimal_kmeans_1d(x, 2, sample_weight=ww),
                  lambda ww: lloyd_max(x, 2, sample_weight=ww),
                  lambda ww: (optimal_thresholds_fixed_levels(x, [-1.0, 1.0],
                                                              sample_weight=ww),)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref, got = solve(w), solve(w * scale)
        for r, g in zip(ref, got):
            np.testing.assert_array_equal(g, r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mse = optimal_kmeans_1d(x, 2, sample_weight=w)[2]
    assert mse == pytest.approx(kmeans_reference(x, 2, w), rel=1e-9, abs=1e-15)


@FAST
@given(x=small_data, exps=st.lists(st.sampled_from([-300, -200, 0, 200, 300]), min_size=7,
                                   max_size=7))
def test_mixed_extreme_weights_give_finite_levels_and_a_consistent_error(x, exps):
    w = 10.0 ** np.array(exps[:x.size], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the DP may warn that the split is at rounding level
        for levels, thresholds, mse in (optimal_kmeans_1d(x, 3, sample_weight=w),
                                        lloyd_max(x, 3, sample_weight=w)):
            assert np.isfinite(levels).all() and np.isfinite(mse)
            assert x.min() <= levels.min() and levels.max() <= x.max()
            assert (np.diff(levels) > 0).all()
            # the weighted nearest-level error, computed at a safe weight scale
            wn = w / w.max()
            assert mse == pytest.approx(nearest_level_mse(x, levels, wn), rel=1e-9,
                                        abs=1e-12 * np.ptp(x) ** 2)
        t = optimal_thresholds_fixed_levels(x, [-1.0, 0.0, 1.0], sample_weight=w)
        assert np.isfinite(t).all()


def test_issue_example_extreme_sample_weight_no_longer_gives_nan_levels():
    x = np.arange(6.0)
    w = np.array([1e-300, 1e300, 1.0, 1e300, 1e-300, 5.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for levels, _, mse in (lloyd_max(x, 3, sample_weight=w),
                               optimal_kmeans_1d(x, 3, sample_weight=w)):
            assert np.isfinite(levels).all() and np.isfinite(mse)
    # weights at 1e300 and at 1e-300 are the same relative weights as at 1
    base = np.array([1.0, 2.0, 1.0, 4.0, 1.0, 3.0])
    ref = optimal_kmeans_1d(x, 2, sample_weight=base)
    for s in (2.0**996, 2.0**-996):
        got = optimal_kmeans_1d(x, 2, sample_weight=base * s)
        for r, g in zip(ref, got):
            np.testing.assert_array_equal(g, r)


# ---------------------------------------------------------------------------- size parameters


@pytest.mark.parametrize("call, name", [
    (lambda x: uniform_mse_quantizer(x, 10**9), "n_levels"),
    (lambda x: uniform_mse_quantizer(x, 10**9, mode="affine"), "n_levels"),
    (lambda x: uniform_mse_quantizer(x, 4, n_grid=10**9), "n_grid"),
    (lambda x: uniform_mse_quantizer(x, 4, n_grid=10**12, mode="affine"), "n_grid"),
    (lambda x: equal_probability_thresholds(x, 10**9), "n_levels"),
    (lambda x: UniformQuantizer(n_levels=10**9).fit(x[:, None]), "n_levels"),
    (lambda x: N2UQuantizer(n_bits=10**9).fit(x[:, None]), "n_bits"),
    (lambda x: n2uq_forward(x, 0.0, [1.0], n_bits=10**9), "n_bits"),
    (lambda x: lloyd_max(x, 3, max_iter=10**30), "max_iter"),
    (lambda x: uniform_mse_quantizer(x, 10**400), "n_levels"),
    (lambda x: equal_probability_thresholds(x, 10**400), "n_levels"),
    (lambda x: lloyd_max(x, 3, tol=10**400), "tol"),
    (lambda x: N2UQuantizer(scale1=10**400).fit(x[:, None]), "scale1"),
])
def test_issue_example_huge_size_parameters_are_refused_up_front(call, name):
    x = np.random.default_rng(3).normal(size=10)
    with pytest.raises(ValueError, match=name):
        call(x)


@pytest.mark.parametrize("solve", [
    lambda x, k: lloyd_max(x, k),
    lambda x, k: optimal_kmeans_1d(x, k),
    lambda x, k: optimal_kmeans_1d(x, k, low_memory=True),
    lambda x, k: LloydMaxQuantizer(n_levels=k).fit(x[:, None]).levels_[0],
    lambda x, k: OptimalQuantizer(n_levels=k).fit(x[:, None]).levels_[0],
])
def test_more_levels_than_values_is_answered_in_bounded_memory(solve):
    # the answer is the distinct values themselves: nothing of size n_levels is allocated
    x = np.array([3.0, -1.0, 3.0, 0.5, 2.0])
    with pytest.warns(UserWarning, match="distinct values"):
        out = solve(x, 10**9)
    levels = out[0] if isinstance(out, tuple) else out
    np.testing.assert_array_equal(levels, [-1.0, 0.5, 2.0, 3.0])


def test_n2uq_index_mse_tables_larger_than_memory_are_refused(monkeypatch):
    monkeypatch.setenv("NORMGRAPH_MAX_BYTES", str(10**6))
    X = np.random.default_rng(5).normal(size=(2000, 1))
    with pytest.raises(ValueError, match="feature 0: n_bits .*index_mse"):
        N2UQuantizer(n_bits=8, objective="index_mse").fit(X)


def test_kmeans_argmin_table_larger_than_memory_is_refused(monkeypatch):
    monkeypatch.setenv("NORMGRAPH_MAX_BYTES", str(10**6))
    x = np.arange(5000.0)
    with pytest.raises(ValueError, match="n_levels .*low_memory=True"):
        optimal_kmeans_1d(x, 100)
    assert optimal_kmeans_1d(x, 100, low_memory=True)[0].size == 100


# ------------------------------------------------------------------------- scalar parameters


@pytest.mark.parametrize("call, name", [
    (lambda v: uniform_mse_quantizer([0.0, 1.0], v), "n_levels"),
    (lambda v: equal_probability_thresholds([0.0, 1.0], v), "n_levels"),
    (lambda v: lloyd_max([0.0, 1.0], v), "n_levels"),
    (lambda v: optimal_kmeans_1d([0.0, 1.0], v), "n_levels"),
    (lambda v: uniform_mse_quantizer([0.0, 1.0], 2, n_grid=v), "n_grid"),
    (lambda v: lloyd_max([0.0, 1.0], 2, max_iter=v), "max_iter"),
    (lambda v: n2uq_forward([0.0], 0.0, [1.0], n_bits=v), "n_bits"),
    (lambda v: n2uq_weight_quant([[1.0]], v), "n_bits"),
    (lambda v: n2uq_weight_quant([[1.0]], 2, axis=v), "axis"),
    (lambda v: UniformQuantizer(n_levels=v).fit([[0.0], [1.0]]), "n_levels"),
    (lambda v: N2UQuantizer(n_bits=v).fit([[0.0], [1.0]]), "n_bits"),
])
@pytest.mark.parametrize("value", [2.5, 2.0, True, "2", None, 1j, np.float64(2.0)])
def test_non_integer_size_parameters_are_type_errors(call, name, value):
    with pytest.raises(TypeError, match=name):
        call(value)


@pytest.mark.parametrize("call, name, exc", [
    (lambda: uniform_mse_quantizer([0.0, 1.0], 2, mode=None), "mode", TypeError),
    (lambda: uniform_mse_quantizer([0.0, 1.0], 2, symmetric="yes"), "symmetric", TypeError),
    (lambda: uniform_mse_quantizer([0.0, 1.0], 2, refine=1), "refine", TypeError),
    (lambda: optimal_kmeans_1d([0.0, 1.0], 2, method=1), "method", TypeError),
    (lambda: optimal_kmeans_1d([0.0, 1.0], 2, return_labels="no"), "return_labels",
     TypeError),
    (lambda: optimal_kmeans_1d([0.0, 1.0], 2, low_memory=0), "low_memory", TypeError),
    (lambda: equal_probability_thresholds([0.0, 1.0], 2, method=None), "method", TypeError),
    (lambda: lloyd_max([0.0, 1.0], 2, tol=np.nan), "tol", ValueError),
    (lambda: lloyd_max([0.0, 1.0], 2, tol="small"), "tol", TypeError),
    (lambda: lloyd_max([0.0, 1.0], 2, init=np.array([1j, 2j])), "init", TypeError),
    (lambda: lloyd_max([0.0, 1.0], 2, init=[0.0, np.inf]), "init", ValueError),
    (lambda: optimal_thresholds_fixed_levels([0.0, 1.0], [0.0, 1.0], loss=3), "loss",
     TypeError),
    (lambda: optimal_thresholds_fixed_levels([0.0, 1.0], np.ones((2, 2))), "levels",
     ValueError),
    (lambda: n2uq_forward([0.0], np.inf, [1.0], n_bits=1), "start", ValueError),
    (lambda: n2uq_forward([0.0], 0.0, [1.0], n_bits=1, scale1="1"), "scale1", TypeError),
    (lambda: n2uq_forward([1e300], 0.0, [1.0], n_bits=1, scale1=1e300), "scale1",
     ValueError),
    (lambda: n2uq_forward([0.0], 1e308, [1e308], n_bits=1), "knots", ValueError),
    (lambda: n2uq_backward([1.0], [0.0], 0.0, [1.0], n_bits=1, grad_clip=-1.0),
     "grad_clip", ValueError),
    (lambda: n2uq_backward([1e307], [1e-4], 0.0, [1e-6], n_bits=1, eps=1e-3),
     "gradient for x overflows", ValueError),
    (lambda: n2uq_backward([1e308] * 3, [0.5, 0.6, 0.7], 0.0, [1.0], n_bits=1),
     "gradient for .* overflows", ValueError),
    (lambda: N2UQuantizer(scale1=1e300).fit([[1e300], [0.0]]), "scale1", ValueError),
    (lambda: OptimalQuantizer(method=None).fit([[0.0], [1.0]]), "method", TypeError),
])
def test_bad_scalar_parameters_name_themselves(call, name, exc):
    with pytest.raises(exc, match=name):
        call()


@pytest.mark.parametrize("weights, exc", [
    ([1.0, np.nan, 1.0], ValueError), ([1.0, np.inf, 1.0], ValueError),
    ([1.0, -1.0, 1.0], ValueError), ([0.0, 0.0, 0.0], ValueError), ([1.0, 1.0], ValueError),
    (np.ones((3, 1)), ValueError), (np.array([1j, 1, 1]), TypeError),
    (np.array(["a", "b", "c"]), TypeError), ("abc", TypeError),
])
@pytest.mark.parametrize("solve", [
    lambda w: lloyd_max([0.0, 1.0, 2.0], 2, sample_weight=w),
    lambda w: optimal_kmeans_1d([0.0, 1.0, 2.0], 2, sample_weight=w),
    lambda w: optimal_thresholds_fixed_levels([0.0, 1.0, 2.0], [0.0, 1.0], sample_weight=w),
])
def test_bad_sample_weights_name_themselves(solve, weights, exc):
    with pytest.raises(exc, match="sample_weight"):
        solve(weights)


# ---------------------------------------------------------------------------------- densities


@pytest.mark.parametrize("dist, problem", [
    (stats.cauchy(), "infinite or undefined variance"),
    (stats.t(1.5), "infinite or undefined variance"),
    (stats.t(df=2), "infinite or undefined variance"),
    (stats.pareto(1.5), "infinite or undefined variance"),
    (stats.levy(), "infinite or undefined variance"),
    (stats.poisson(3.0), "continuous"),
    (stats.binom(5, 0.3), "continuous"),
    (stats.randint(0, 4), "continuous"),
])
def test_issue_example_densities_the_solvers_cannot_handle_are_refused(dist, problem):
    with pytest.raises(ValueError, match=f"density .*{problem}"):
        uniform_mse_quantizer(None, 4, density=dist)
    with pytest.raises(ValueError, match=f"density .*{problem}"):
        lloyd_max(None, 4, density=dist)
    with pytest.raises(TypeError, match="density"):
        lloyd_max(None, 4, density="norm")


def _density_mse_by_quadrature(dist, levels):
    """Expected squared error of nearest-level quantization, cell by cell with quad."""
    edges = np.concatenate([[-np.inf], 0.5 * (levels[:-1] + levels[1:]), [np.inf]])
    total = 0.0
    for y, a, b in zip(levels, edges[:-1], edges[1:]):
        total += integrate.quad(lambda v: (v - y) ** 2 * dist.pdf(v), a, b,
                                epsabs=1e-13, epsrel=1e-11)[0]
    return total


@pytest.mark.parametrize("dist", [stats.norm(), stats.laplace(scale=2.0),
                                  stats.norm(loc=0.0, scale=3.0)])
def test_reported_density_mse_equals_the_mse_of_the_returned_levels(dist):
    levels, _, mse = lloyd_max(None, 4, density=dist)
    assert mse == pytest.approx(_density_mse_by_quadrature(dist, levels), rel=1e-8)
    q = uniform_mse_quantizer(None, 4, density=dist)
    assert q.mse == pytest.approx(_density_mse_by_quadrature(dist, q.levels), rel=1e-8)


@pytest.mark.parametrize("p", [2.0**-700, 2.0**700])
def test_extreme_scale_densities_give_the_scaled_answer_or_a_clear_error(p):
    ref_levels, _, ref_mse = lloyd_max(None, 4, density=stats.norm())
    ref_q = uniform_mse_quantizer(None, 4, density=stats.norm())
    dist = stats.norm(scale=p)
    if p > 1:
        with pytest.raises(ValueError, match="overflows"):
            lloyd_max(None, 4, density=dist)
        with pytest.raises(ValueError, match="overflows"):
            uniform_mse_quantizer(None, 4, density=dist)
        return
    levels, _, mse = lloyd_max(None, 4, density=dist)
    np.testing.assert_allclose(levels, ref_levels * p, rtol=1e-12)
    assert mse == math.ldexp(ref_mse, -1400)  # underflows to the nearest float: 0
    q = uniform_mse_quantizer(None, 4, density=dist)
    assert q.step == pytest.approx(ref_q.step * p, rel=1e-12)


@FAST
@given(x=small_data, k=st.integers(1, 5))
def test_reported_sample_mse_equals_the_recomputed_mse(x, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for levels, _, mse in (optimal_kmeans_1d(x, k), lloyd_max(x, k)):
            assert mse == pytest.approx(nearest_level_mse(x, levels), rel=1e-9, abs=1e-15)
        if np.unique(x).size > 1:
            q = uniform_mse_quantizer(x, k, mode="affine")
            assert q.mse == pytest.approx(nearest_level_mse(x, q.levels), rel=1e-9, abs=1e-15)


def test_discrete_distribution_is_quantized_exactly_as_weighted_support_points():
    # the refusal message's advice works: support points weighted by the pmf
    dist = stats.binom(6, 0.4)
    support = np.arange(7.0)
    levels, _, mse = optimal_kmeans_1d(support, 3, sample_weight=dist.pmf(support))
    assert mse == pytest.approx(kmeans_reference(support, 3, dist.pmf(support)), rel=1e-12)
    assert mse == pytest.approx(nearest_level_mse(support, levels, dist.pmf(support)),
                                rel=1e-12)


# ----------------------------------------------------------------------------------- plotting


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(bins=2.5), TypeError, "bins"),
    (dict(bins=0), ValueError, "bins"),
    (dict(bins=10**13), ValueError, "bins"),
    (dict(feature="0"), TypeError, "feature"),
    (dict(x=np.array([1j, 2.0])), TypeError, "x"),
    (dict(x="abc"), TypeError, "x"),
    (dict(x=[0.0, np.inf]), ValueError, "x"),
])
def test_plot_quantizer_bad_inputs_name_themselves(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        plot_quantizer([0.0, 1.0], **kwargs)


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_plot_quantizer_at_extreme_magnitudes_has_finite_limits(scale):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.random.default_rng(4).normal(size=200)
    q = optimal_kmeans_1d(x, 3)
    ax = plot_quantizer(q[1] * scale, x=x * scale, bins=10)
    assert np.isfinite(ax.get_xlim()).all()
    plt.close(ax.figure)


@pytest.mark.parametrize("name", sorted(SAMPLE_SOLVERS))
def test_data_near_the_largest_float_give_a_clear_error_or_a_finite_result(name):
    x = np.array([1.7e308, -1.7e308, 1e308, -3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            values = _flat_values(SAMPLE_SOLVERS[name](x))
        except ValueError as exc:
            assert "overflow" in str(exc)
            return
    assert np.isfinite(values[~np.isnan(values)] if name == "equal_prob" else values).all()
    if name == "equal_prob":
        np.testing.assert_array_equal(
            equal_probability_thresholds(x, 3),
            np.quantile(x * 0.5, [1 / 3, 2 / 3]) * 2.0)  # exact halving: the true quantiles


def test_n2uq_quantizer_on_data_far_below_eps_says_that_eps_dominates():
    X = np.random.default_rng(6).normal(size=(100, 1)) * 1e-300
    with pytest.warns(UserWarning, match="feature 0: every knot interval is below eps"):
        N2UQuantizer().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # eps in the data's units: no warning, scaled knots
        q = N2UQuantizer(eps=1e-303).fit(X)
    ref = N2UQuantizer().fit(X * 1e300)
    np.testing.assert_allclose(q.knots_ * 1e300, ref.knots_, rtol=1e-12)


def test_uniform_quant_index_validates_its_input():
    q = uniform_mse_quantizer(np.linspace(-1.0, 1.0, 9), 4)
    with pytest.raises(TypeError, match="x"):
        q.index(np.array([1j]))
    with pytest.raises(ValueError, match="x contains NaN"):
        q.quantize([0.0, np.nan])
    np.testing.assert_array_equal(q.index([-1e308, 1e308, 0.1]), [0, 3, 2])
    assert q.index(0.1).shape == ()
