"""Both cores and lean memory (issue 19): parallel kernels against the serial ones and NumPy,
results independent of the thread count, the lean fit against the full one, int32 edges and
float32 end to end."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from normgraph._utils.validation import check_views
from normgraph.graphs import MultiViewGraphClusterer, consistent_graph_fusion
from normgraph.graphs import _edge_kernels as ek
from normgraph.graphs import _fusion_kernels as fk
from normgraph.graphs._edges import (edge_values, gaussian_from_distance, standardize_edges,
                                     standardized_weights_into)
from normgraph.graphs._fusion import _a_step_terms, _cross_penalty
from normgraph.graphs.metrics import adjusted_rand


def _with_threads(n, fn):
    """Run ``fn`` with ``n`` Numba threads and ``n`` BLAS/OpenMP threads."""
    old = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(n):
            return fn()
    finally:
        numba.set_num_threads(old)


def _mixture(n, n_views=3, d=6, c=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    return [rng.normal(0, 3, size=(c, d))[y] + rng.normal(size=(n, d)) for _ in range(n_views)], y


# --------------------------------------------------------------------------------------------
# the fused solver pass: parallel kernel against the serial one, any thread count
# --------------------------------------------------------------------------------------------

def _pass_args(V, m, dtype, seed):
    rng = np.random.default_rng(seed)
    W = rng.uniform(size=(V, m)).astype(dtype)
    W[0, rng.uniform(size=m) < 0.3] = 0
    A = (W * rng.uniform(size=(V, m))).astype(dtype)
    S = rng.uniform(size=m).astype(dtype)
    alpha = rng.dirichlet(np.ones(V))
    w = rng.uniform(0.5, 2, V)
    C = _cross_penalty(1.0, 100.0, w)
    dw, r_diag, q_diag, wa, rho = _a_step_terms(alpha, 1.0, 100.0, C, w)
    return W, A, S, alpha, w, w * alpha / w.sum(), dw, r_diag, q_diag, wa, 1.0 / rho


def _run_pass(kernel, args, update_s=True):
    W, A, S, alpha, w, coef, dw, r_diag, q_diag, wa, inv_rho = args
    V = W.shape[0]
    A_new, S_new = np.empty_like(A), S.copy()
    G, nn, dd = np.empty((V, V)), np.empty(V), np.empty(V)
    t1 = kernel(W, A, S, A_new, S_new, alpha, w, coef, dw, 100.0, r_diag, q_diag, wa, inv_rho,
                3, update_s, G, nn, dd)
    return t1, A_new, S_new, G, nn, dd


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m", [1, 255, 16384, 16385, 70_001])
def test_parallel_pass_matches_serial_pass(m, dtype):
    args = _pass_args(4, m, dtype, seed=m)
    ser = _run_pass(fk.fused_iteration, args)
    par = _run_pass(fk.fused_iteration_parallel, args)
    # per-edge values: the same arithmetic on every edge
    np.testing.assert_array_equal(par[1], ser[1])
    np.testing.assert_array_equal(par[2], ser[2])
    # sums: the same terms added in another grouping
    for p, s in zip((par[0], par[3], par[4], par[5]), (ser[0], ser[3], ser[4], ser[5])):
        np.testing.assert_allclose(p, s, rtol=1e-12, atol=0)
    # the accumulators hold float64 sums of the edge terms, checked against NumPy
    W, A_new = args[0].astype(float), par[1].astype(float)
    E = W - A_new
    np.testing.assert_allclose(par[3], E @ E.T, rtol=1e-10)
    np.testing.assert_allclose(par[4], np.einsum("ij,ij->i", A_new, A_new), rtol=1e-10)
    np.testing.assert_allclose(par[5], A_new @ par[2].astype(float), rtol=1e-10)


@pytest.mark.parametrize("update_s", [True, False])
def test_parallel_pass_is_identical_with_one_and_two_threads(update_s):
    args = _pass_args(3, 100_003, np.float64, seed=1)
    one = _with_threads(1, lambda: _run_pass(fk.fused_iteration_parallel, args, update_s))
    two = _with_threads(2, lambda: _run_pass(fk.fused_iteration_parallel, args, update_s))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_parallel_pass_in_place_equals_out_of_place():
    """A_new may alias A_old and S_new S_old (the lean solver's mode)."""
    args = _pass_args(3, 40_000, np.float64, seed=2)
    W, A, S, alpha, w, coef, dw, r_diag, q_diag, wa, inv_rho = args
    ref = _run_pass(fk.fused_iteration_parallel, args)
    A2, S2 = A.copy(), S.copy()
    G, nn, dd = np.empty((3, 3)), np.empty(3), np.empty(3)
    t1 = fk.fused_iteration_parallel(W, A2, S2, A2, S2, alpha, w, coef, dw, 100.0, r_diag,
                                     q_diag, wa, inv_rho, 3, True, G, nn, dd)
    np.testing.assert_array_equal(A2, ref[1])
    np.testing.assert_array_equal(S2, ref[2])
    assert t1 == ref[0]
    np.testing.assert_array_equal(G, ref[3])


def test_setup_pass_against_numpy():
    rng = np.random.default_rng(3)
    W = rng.uniform(size=(3, 50_000))
    scales = 1.0 / W.sum(axis=1)
    w = np.array([1.0, 2.0, 0.5])
    alpha = np.full(3, 1 / 3)
    coef = w * alpha / w.sum()
    out, S, nn, dd = np.empty_like(W), np.empty(W.shape[1]), np.empty(3), np.empty(3)
    J0 = fk.fusion_setup_parallel(W, scales, out, coef, alpha, w, S, nn, dd)
    Ws = W * scales[:, None]
    np.testing.assert_array_equal(out, Ws)
    np.testing.assert_allclose(S, coef @ Ws, rtol=1e-14)
    np.testing.assert_allclose(nn, (Ws * Ws).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(dd, Ws @ S, rtol=1e-12)
    ref_J0 = sum(w[i] * np.sum((alpha[i] * Ws[i] - S) ** 2) for i in range(3))
    np.testing.assert_allclose(J0, ref_J0, rtol=1e-12)
    sums, maxes = fk.row_sums_parallel(W)
    np.testing.assert_allclose(sums, W.sum(axis=1), rtol=1e-13)
    np.testing.assert_array_equal(maxes, W.max(axis=1))


# --------------------------------------------------------------------------------------------
# the solver: thread count, lean (in-place) mode
# --------------------------------------------------------------------------------------------

def test_solver_identical_with_one_and_two_threads():
    rng = np.random.default_rng(4)
    W = rng.uniform(size=(3, 60_000))
    W[1, rng.uniform(size=W.shape[1]) < 0.3] = 0
    one = _with_threads(1, lambda: consistent_graph_fusion(W))
    two = _with_threads(2, lambda: consistent_graph_fusion(W))
    for a, b in zip(one[:4], two[:4]):
        np.testing.assert_array_equal(a, b)
    assert one[4]["objective"] == two[4]["objective"]


# --------------------------------------------------------------------------------------------
# edge weights: parallel kernels against the serial ones and the NumPy functions
# --------------------------------------------------------------------------------------------

def _edges(n, m, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, m), rng.integers(0, n, m)


@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
@pytest.mark.parametrize("sparse", [False, True])
def test_parallel_edge_values_equal_serial(metric, sparse):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 7))
    X[rng.uniform(size=X.shape) < 0.5] = 0.0
    if sparse:
        X = sp.csr_matrix(X)
    rows, cols = _edges(300, 40_000, 6)
    ser, f1 = edge_values(X, rows, cols, metric)
    par, f2 = edge_values(X, rows.astype(np.int32), cols.astype(np.int32), metric, parallel=True)
    assert f1 == f2
    np.testing.assert_array_equal(par, ser)


@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
def test_float32_view_is_read_as_float32_without_a_copy(metric, monkeypatch):
    rng = np.random.default_rng(7)
    X32 = rng.normal(size=(200, 5)).astype(np.float32)
    rows, cols = _edges(200, 5000, 8)
    seen = []
    name = ("dense_sqeuclidean_edges_parallel" if metric == "sqeuclidean"
            else "dense_cosine_edges_parallel")
    kernel = getattr(ek, name)
    monkeypatch.setattr(ek, name, lambda X, *a: (seen.append(X.dtype), kernel(X, *a))[1])
    par, _ = edge_values(X32, rows, cols, metric, parallel=True)
    assert seen == [np.float32]
    # the float64 values of the float32 entries, exactly
    ser, _ = edge_values(X32.astype(np.float64), rows, cols, metric)
    np.testing.assert_array_equal(par, ser)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(2, 40_000),
       similarity=st.booleans(), spread=st.floats(1e-3, 1e3))
def test_standardized_weights_match_the_numpy_functions(seed, m, similarity, spread):
    rng = np.random.default_rng(seed)
    x = rng.exponential(spread, size=m)
    x[rng.uniform(size=m) < 0.1] = 0.0
    if np.ptp(x) == 0:
        x[0] += spread
    z = standardize_edges(x)
    ref = gaussian_from_distance(z) if similarity else z
    out = np.empty(m)
    n_zero = standardized_weights_into(x.copy(), out, similarity=similarity, view=0)
    assert n_zero == np.count_nonzero(x == 0)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)


def test_standardized_weights_constant_view_names_the_view():
    with pytest.raises(ValueError, match="view 2: all edge distances are equal"):
        standardized_weights_into(np.full(10, 3.0), np.empty(10), similarity=True, view=2)


def test_standardized_weights_extreme_magnitudes_use_the_exact_path():
    rng = np.random.default_rng(9)
    x = rng.exponential(size=1000)
    out, big = np.empty(1000), np.empty(1000)
    standardized_weights_into(x.copy(), out, similarity=True, view=0)
    standardized_weights_into(x * 1e300, big, similarity=True, view=0)
    np.testing.assert_allclose(big, out, rtol=1e-12)


def test_standardized_weights_are_identical_with_one_and_two_threads():
    x = np.random.default_rng(10).exponential(size=100_003)
    outs = []
    for threads in (1, 2):
        out = np.empty_like(x)
        _with_threads(threads, lambda: standardized_weights_into(x.copy(), out,
                                                                similarity=True, view=0))
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_check_views_dtype_list_keeps_listed_dtypes():
    a32 = np.ones((4, 2), dtype=np.float32)
    views = check_views([a32, np.ones((4, 2)), np.ones((4, 2), dtype=np.int64)],
                        dtype=[np.float32, np.float64])
    assert views[0] is a32 and [v.dtype for v in views] == [np.float32, np.float64, np.float32]
    assert check_views([a32])[0].dtype == np.float64  # the default still casts


# --------------------------------------------------------------------------------------------
# the estimator: thread count, lean vs full, int32 edges, float32 end to end
# --------------------------------------------------------------------------------------------

def test_estimator_identical_labels_and_coefficients_with_one_and_two_threads():
    views, y = _mixture(1500)

    def fit():
        return MultiViewGraphClusterer(4, n_neighbors=8, random_state=0).fit(views)

    one = _with_threads(1, fit)
    two = _with_threads(2, fit)
    np.testing.assert_array_equal(one.labels_, two.labels_)
    np.testing.assert_array_equal(one.view_coef_, two.view_coef_)
    assert one.objective_ == two.objective_
    np.testing.assert_array_equal(one.graph_.data, two.graph_.data)
    assert adjusted_rand(y, one.labels_) > 0.9


@pytest.mark.parametrize("fusion, parity", [("similarity", False), ("dissimilarity", True)])
def test_lean_fit_equals_full_fit(fusion, parity):
    views, _ = _mixture(400, seed=1)
    kw = dict(n_clusters=4, n_neighbors=6, fusion=fusion, parity_mode=parity, random_state=0)
    lean = MultiViewGraphClusterer(**kw).fit(views)
    full = MultiViewGraphClusterer(keep_intermediate=True, **kw).fit(views)
    np.testing.assert_array_equal(lean.labels_, full.labels_)
    np.testing.assert_array_equal(lean.view_coef_, full.view_coef_)
    assert lean.objective_ == full.objective_
    assert (lean.graph_ != full.graph_).nnz == 0
    np.testing.assert_array_equal(lean.edges_, full.edges_)
    for name in ("view_graphs_", "consistent_", "inconsistent_", "unified_graph_"):
        assert not hasattr(lean, name) and hasattr(full, name)
    # a lean refit of a full estimator drops the stale intermediate attributes
    full.set_params(keep_intermediate=False).fit(views)
    assert not hasattr(full, "consistent_")
    assert set(lean.stage_seconds_) == {"validation", "knn", "edge_weights", "fusion",
                                         "fusion_setup", "sparsify", "spectral"}


def test_edges_are_int32_and_float32_runs_end_to_end():
    views, y = _mixture(500, seed=2)
    model = MultiViewGraphClusterer(4, n_neighbors=6, random_state=0).fit(views)
    assert model.edges_.dtype == np.int32
    views32 = [v.astype(np.float32) for v in views]
    low = MultiViewGraphClusterer(4, n_neighbors=6, random_state=0, dtype=np.float32,
                                  keep_intermediate=True).fit(views32)
    assert low.view_graphs_.dtype == np.float32 and low.consistent_.dtype == np.float32
    assert adjusted_rand(model.labels_, low.labels_) > 0.95
    np.testing.assert_allclose(low.view_coef_, model.view_coef_, atol=1e-4)


def test_keep_intermediate_is_validated():
    views, _ = _mixture(100)
    with pytest.raises(TypeError, match="keep_intermediate"):
        MultiViewGraphClusterer(3, n_neighbors=5, keep_intermediate="yes").fit(views)
