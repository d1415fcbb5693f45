"""Globally optimal 1-D quantization (spec sections 2.4 and 5.1).

References used here: exhaustive search over *all* k^N label assignments (not only contiguous
ones), the three DP methods against each other, Lloyd-Max and scikit-learn's k-means binning
(never better than the optimum) and the exact peers kmeans1d and ckwrap.
"""

import itertools
import warnings

import ckwrap
import kmeans1d
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import KBinsDiscretizer

from normgraph.quant._lloyd import lloyd_max
from normgraph.quant._optimal import optimal_kmeans_1d, optimal_thresholds_fixed_levels

METHODS = ("dc", "smawk", "naive")

_ASSIGNMENTS = {}


def all_assignments(n, k):
    """Every label vector in {0..k-1}^n, as an (k^n, n) array."""
    if (n, k) not in _ASSIGNMENTS:
        codes = np.arange(k ** n)
        _ASSIGNMENTS[(n, k)] = (codes[:, None] // k ** np.arange(n)) % k
    return _ASSIGNMENTS[(n, k)]


def brute_force_kmeans(x, k, w):
    """Minimum weighted MSE over all assignments (clusters may be empty), two-pass exact."""
    A = all_assignments(x.size, k)
    onehot = A[:, :, None] == np.arange(k)  # (M, n, k)
    s0 = np.einsum("mnk,n->mk", onehot, w)
    s1 = np.einsum("mnk,n->mk", onehot, w * x)
    means = np.divide(s1, s0, out=np.zeros_like(s1), where=s0 > 0)
    fitted = np.take_along_axis(means, A, axis=1)
    return float(((x - fitted) ** 2 @ w).min() / w.sum())


values = st.one_of(st.integers(-3, 3).map(float), st.floats(-10, 10, allow_nan=False),
                   st.sampled_from([0.5, -0.5, 1e-3]))


@st.composite
def small_problems(draw):
    n = draw(st.integers(1, 9))
    k = draw(st.integers(1, 4 if n <= 8 else 3))
    x = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    if draw(st.booleans()):
        w = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.7]),
                                   min_size=n, max_size=n)))
        if w.sum() == 0:
            w[0] = 1.0
    else:
        w = None
    return x, k, w


def check_solution(x, w, levels, thresholds, mse, labels):
    """Internal consistency of one solution: labels, levels, thresholds and mse agree."""
    ww = np.ones_like(x) if w is None else w
    assert labels.shape == x.shape and labels.dtype == np.int64
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(labels[order]) >= 0), "labels not contiguous in sorted order"
    for v in np.unique(x):
        assert np.unique(labels[x == v]).size == 1, "equal values split across clusters"
    assert np.all(np.diff(levels) > 0)
    np.testing.assert_allclose(thresholds, 0.5 * (levels[:-1] + levels[1:]), rtol=0, atol=0)
    pos = ww > 0
    for c in range(levels.size):
        m = (labels == c) & pos
        assert m.any(), "empty cluster"
        np.testing.assert_allclose(levels[c], np.average(x[m], weights=ww[m]),
                                   rtol=1e-12, atol=1e-12)
    direct = float(np.dot(ww, (x - levels[labels]) ** 2) / ww.sum())
    np.testing.assert_allclose(mse, direct, rtol=1e-12, atol=1e-14)


@settings(max_examples=80)
@given(small_problems())
def test_dp_equals_exhaustive_search_over_all_assignments(problem):
    x, k, w = problem
    ww = np.ones_like(x) if w is None else w
    best = brute_force_kmeans(x, k, ww)
    scale = 1.0 + float(np.max(x * x))
    for method in METHODS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            levels, thresholds, mse, labels = optimal_kmeans_1d(
                x, k, method=method, sample_weight=w, return_labels=True)
        assert levels.size <= k
        assert abs(mse - best) <= 1e-12 * scale, (method, mse, best)
        check_solution(x, w, levels, thresholds, mse, labels)


def test_exhaustive_heavy_ties_integer_data():
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.integers(-2, 3, size=8).astype(float)
        for k in (2, 3, 4):
            best = brute_force_kmeans(x, k, np.ones(8))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                for method in METHODS:
                    r = optimal_kmeans_1d(x, k, method=method, return_labels=True)
                    assert abs(r[2] - best) <= 1e-12
                    check_solution(x, None, *r)


def _datasets(n, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    return {
        "normal": z,
        "skewed_cubed": z ** 3,
        "integer_ties": rng.integers(-20, 20, size=n).astype(float),
        "lognormal_far_from_zero": 1e6 + rng.lognormal(size=n),
        "bimodal_outliers": np.concatenate([rng.normal(-5, 0.1, n // 2),
                                            rng.normal(5, 1, n - n // 2 - 3), [50, 60, -90]]),
    }


@pytest.mark.parametrize("kind", sorted(_datasets(10, 0)))
@pytest.mark.parametrize("k", [2, 7, 33])
def test_methods_agree_on_2000_samples(kind, k):
    x = _datasets(2000, 11)[kind]
    weights = np.random.default_rng(5).uniform(0.1, 3.0, size=x.size)
    for w in (None, weights):
        results = {m: optimal_kmeans_1d(x, k, method=m, sample_weight=w, return_labels=True)
                   for m in METHODS}
        ref = results["naive"][2]
        for m in ("dc", "smawk"):
            assert abs(results[m][2] - ref) <= 1e-10 * ref, (m, results[m][2], ref)
            check_solution(x, w, *results[m])


@settings(max_examples=40)
@given(st.lists(st.one_of(st.integers(-50, 50).map(float), st.floats(-1e3, 1e3)),
                min_size=2, max_size=300),
       st.integers(1, 25))
def test_methods_agree_property(xs, k):
    x = np.array(xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = [optimal_kmeans_1d(x, k, method=m) for m in METHODS]
    scale = 1e-10 * max(res[2][2], 1e-300) + 1e-13 * (1.0 + float(np.max(x * x)))
    for r in res[:2]:
        assert abs(r[2] - res[2][2]) <= scale
        assert r[0].size == res[2][0].size


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [3, 8, 16])
def test_never_worse_than_lloyd_max_and_kbins_kmeans(seed, k):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 1, 600), rng.exponential(4, 300), rng.normal(9, 0.2, 100)])
    _, _, mse = optimal_kmeans_1d(x, k, method="smawk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, lloyd_mse = lloyd_max(x, k, max_iter=50)
        kb = KBinsDiscretizer(n_bins=k, encode="ordinal", strategy="kmeans")
        kb.fit(x[:, None])
    bins = kb.transform(x[:, None])[:, 0].astype(int)
    kb_mse = sum(((x[bins == b] - x[bins == b].mean()) ** 2).sum() for b in np.unique(bins))
    kb_mse /= x.size
    assert mse <= lloyd_mse * (1 + 1e-12)
    assert mse <= kb_mse * (1 + 1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_same_inertia_as_exact_peers(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.standard_t(3, 3000), rng.integers(0, 5, 500).astype(float)])
    for k in (2, 5, 12):
        levels, _, mse, labels = optimal_kmeans_1d(x, k, method="smawk", return_labels=True)
        inertia = mse * x.size
        peer = kmeans1d.cluster(x, k)
        c = np.asarray(peer.centroids)
        peer_inertia = float(((x - c[np.asarray(peer.clusters)]) ** 2).sum())
        ck = ckwrap.ckmeans(x, k)
        np.testing.assert_allclose(inertia, peer_inertia, rtol=1e-9)
        np.testing.assert_allclose(inertia, float(np.sum(ck.withinss)), rtol=1e-9)
        np.testing.assert_allclose(levels, np.sort(c), rtol=1e-9, atol=1e-12)


def test_integer_weights_equal_repeated_samples():
    rng = np.random.default_rng(7)
    x = rng.normal(size=200)
    counts = rng.integers(0, 4, size=200)
    counts[0] = 1
    rep = np.repeat(x, counts)
    for method in METHODS:
        a = optimal_kmeans_1d(x, 6, method=method, sample_weight=counts)
        b = optimal_kmeans_1d(rep, 6, method=method)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
        np.testing.assert_allclose(a[2], b[2], rtol=1e-10)


def test_translation_and_permutation_invariance():
    rng = np.random.default_rng(8)
    x = rng.gamma(2.0, size=500)
    base = optimal_kmeans_1d(x, 5, return_labels=True)
    perm = rng.permutation(500)
    shuffled = optimal_kmeans_1d(x[perm], 5, return_labels=True)
    np.testing.assert_array_equal(shuffled[3], base[3][perm])
    shifted = optimal_kmeans_1d(x + 1e4, 5)
    np.testing.assert_allclose(shifted[0], base[0] + 1e4, rtol=1e-13)
    np.testing.assert_allclose(shifted[2], base[2], rtol=1e-6)


# ----------------------------------------------------------- fixed output levels


def monotone_best(x, levels, loss, w, monotone_only):
    """Exhaustive minimum of sum w * loss over assignments of x to the levels."""
    k = levels.size
    A = all_assignments(x.size, k)
    if monotone_only:
        order = np.argsort(x, kind="stable")
        xs = x[order]
        As = A[:, order]
        ok = np.all(np.diff(As, axis=1) >= 0, axis=1)
        # equal values must take the same level
        same = np.diff(xs) == 0
        ok &= ~np.any((np.diff(As, axis=1) != 0) & same, axis=1)
        A = A[ok]
    table = np.stack([loss(x, float(y)) for y in levels])  # (k, n)
    costs = (table[A, np.arange(x.size)] * w).sum(axis=1)
    return float(costs.min())


def assignment_loss(x, levels, thresholds, loss, w):
    idx = np.searchsorted(thresholds, x, side="left")
    return float(sum(w[i] * loss(x[i:i + 1], float(levels[idx[i]]))[0] for i in range(x.size)))


LOSSES = {
    "squared": ("squared", lambda v, y: (v - y) ** 2, False),
    "absolute": (lambda v, y: np.abs(v - y), lambda v, y: np.abs(v - y), False),
    "asymmetric": (lambda v, y: np.where(v > y, 3.0, 1.0) * np.abs(v - y) ** 1.5,
                   lambda v, y: np.where(v > y, 3.0, 1.0) * np.abs(v - y) ** 1.5, False),
    # not convex in y: the unconstrained optimum need not be monotone, compare with the
    # best monotone assignment
    "wavy": (lambda v, y: np.sin(3.0 * (v - y)) ** 2 + 0.1 * np.abs(v + y),
             lambda v, y: np.sin(3.0 * (v - y)) ** 2 + 0.1 * np.abs(v + y), True),
}


@settings(max_examples=60)
@given(st.lists(values, min_size=1, max_size=7),
       st.lists(st.floats(-10, 10), min_size=1, max_size=4, unique=True),
       st.sampled_from(sorted(LOSSES)), st.booleans())
def test_fixed_levels_equal_exhaustive_search(xs, ys, loss_name, weighted):
    x = np.array(xs)
    levels = np.sort(np.array(ys))
    assume(levels.size == 1 or np.min(np.diff(levels)) > 1e-9)
    arg, ref_loss, monotone_only = LOSSES[loss_name]
    w = np.linspace(0.5, 2.0, x.size) if weighted else np.ones(x.size)
    best = monotone_best(x, levels, ref_loss, w, monotone_only)
    for method in ("auto", "naive"):
        t = optimal_thresholds_fixed_levels(x, levels, loss=arg, method=method,
                                            sample_weight=w if weighted else None)
        assert t.shape == (levels.size - 1,)
        assert np.all(np.diff(t) >= 0)
        got = assignment_loss(x, levels, t, ref_loss, w)
        assert abs(got - best) <= 1e-9 * (1.0 + abs(best)), (method, got, best)


def test_fixed_levels_squared_loss_gives_midpoints_and_method_agreement():
    rng = np.random.default_rng(9)
    x = rng.normal(size=3000)
    levels = np.array([-1.7, -0.4, 0.3, 1.1, 2.5])
    t = optimal_thresholds_fixed_levels(x, levels)
    np.testing.assert_allclose(t, 0.5 * (levels[:-1] + levels[1:]))
    # an index-domain objective (G = 2 * ECDF against uniform outputs), as used by N2UQ
    xs = np.sort(x[:400])
    target = np.interp(xs, xs, np.linspace(0, 2, xs.size))
    outputs = np.linspace(0.0, 2.0, 4)

    def index_loss(v, y):
        return (np.interp(v, xs, target) - y) ** 2

    a = optimal_thresholds_fixed_levels(xs, outputs, loss=index_loss)
    b = optimal_thresholds_fixed_levels(xs, outputs, loss=index_loss, method="naive")
    np.testing.assert_array_equal(a, b)
    # equal-mass decision cells: about a third of the samples between the inner thresholds
    inner = np.mean((xs > a[0]) & (xs <= a[1]))
    assert abs(inner - 1 / 3) < 0.01


def test_fixed_levels_single_level_and_out_of_range_levels():
    x = np.array([0.2, 0.4, 0.9])
    assert optimal_thresholds_fixed_levels(x, [5.0]).shape == (0,)
    t = optimal_thresholds_fixed_levels(x, [10.0, 11.0, 12.0])
    assert np.all(np.diff(t) >= 0) and np.all(np.searchsorted(t, x) == 0)
    t = optimal_thresholds_fixed_levels(x, [-12.0, -11.0, -10.0])
    assert np.all(np.searchsorted(t, x, side="left") == 2)


def test_exhaustive_helpers_are_not_vacuous():
    # the brute force finds a non-contiguous optimum candidate set: sanity of the reference
    x = np.array([0.0, 10.0, 0.1, 10.1])
    assert brute_force_kmeans(x, 2, np.ones(4)) == pytest.approx(0.0025)
    for perm in itertools.permutations(range(4)):
        assert brute_force_kmeans(x[list(perm)], 2, np.ones(4)) == pytest.approx(0.0025)


@pytest.mark.parametrize("seed", range(3))
def test_exhaustive_largest_size_nine_samples_four_levels(seed):
    rng = np.random.default_rng(100 + seed)
    x = np.round(rng.normal(size=9) * 3, 1)
    x[-1] = x[0]  # a duplicate
    w = rng.uniform(0.0, 2.0, size=9)
    best = brute_force_kmeans(x, 4, w)
    for method in METHODS:
        r = optimal_kmeans_1d(x, 4, method=method, sample_weight=w, return_labels=True)
        assert abs(r[2] - best) <= 1e-12 * (1 + np.max(x * x))
        check_solution(x, w, *r)


def test_warns_when_costs_reach_the_rounding_level_of_the_prefix_sums():
    # two groups 10^6 apart with unit spread: the cluster costs are ~1e-13 of the total sum
    # of squares, below what prefix-sum differences resolve -> warned, never silent
    rng = np.random.default_rng(12)
    x = np.r_[rng.normal(size=100), 1e6 + rng.normal(size=100)]
    with pytest.warns(UserWarning, match="rounding"):
        _, _, mse = optimal_kmeans_1d(x, 29)
    # the reported error is still the exact error of the returned partition
    assert 0 < mse < 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimal_kmeans_1d(rng.normal(size=10_000), 64)
        optimal_kmeans_1d(1e9 + rng.normal(size=1000), 8)  # a far offset alone is harmless


@pytest.mark.parametrize("method", METHODS)
def test_low_memory_mode_finds_the_same_optimum(monkeypatch, method):
    import normgraph.quant._optimal as optimal_module

    # force the divide-and-conquer over levels down to tiny slices
    monkeypatch.setattr(optimal_module, "_LOW_MEMORY_DIRECT", 10)
    rng = np.random.default_rng(13)
    for kind, x in _datasets(600, 14).items():
        w = rng.uniform(0.0, 2.0, size=x.size) if kind != "normal" else None
        for k in (2, 3, 8, 25):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                ref = optimal_kmeans_1d(x, k, method="naive", sample_weight=w)
                got = optimal_kmeans_1d(x, k, method=method, sample_weight=w, low_memory=True,
                                        return_labels=True)
            assert abs(got[2] - ref[2]) <= 1e-10 * ref[2]
            check_solution(x, w, *got)
    # and against exhaustive search on small inputs
    for seed in range(5):
        x = np.round(np.random.default_rng(seed).normal(size=8) * 2, 1)
        best = brute_force_kmeans(x, 3, np.ones(8))
        got = optimal_kmeans_1d(x, 3, method=method, low_memory=True)
        assert abs(got[2] - best) <= 1e-12 * (1 + np.max(x * x))


@pytest.mark.parametrize("scale", [1e-150, 1e150, 1e300])
def test_extreme_scales_give_the_same_partition(scale):
    # the DP works on data rescaled by a power of two: no overflow of the squares
    x = np.random.default_rng(15).normal(size=300)
    ref = optimal_kmeans_1d(x, 5, return_labels=True)[3]
    for method in METHODS:
        if scale > 1e154:  # the true MSE itself overflows float64: a clear error, not inf
            with pytest.raises(ValueError, match="mean squared error of x .* overflows"):
                optimal_kmeans_1d(x * scale, 5, method=method)
            continue
        got = optimal_kmeans_1d(x * scale, 5, method=method, return_labels=True)
        np.testing.assert_array_equal(got[3], ref)
