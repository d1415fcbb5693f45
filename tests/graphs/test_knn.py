"""The union kNN edge set against a brute-force dense reference."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from normgraph.graphs import knn_union_edges


def _dense_distances(X, metric):
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    if metric == "sqeuclidean":
        return cdist(X, X, "sqeuclidean")
    norms = np.linalg.norm(X, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    cos = (X @ X.T) / safe[:, None] / safe[None, :]
    cos[norms == 0, :] = 0.0
    cos[:, norms == 0] = 0.0
    return (1.0 - cos) ** 2


def _reference_neighbor_distances(D, k):
    """Per row, the k smallest off-diagonal distances (sorted)."""
    D = D.copy()
    np.fill_diagonal(D, np.inf)
    return np.sort(D, axis=1)[:, :k]


def _random_view(seed, n, d, density, sparse):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random((n, d)) > density] = 0.0
    return sp.csr_matrix(X) if sparse else X


@settings(max_examples=30)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(5, 40),
    n_views=st.integers(1, 3),
    k=st.integers(1, 6),
    metric=st.sampled_from(["sqeuclidean", "cosine"]),
    sparse=st.booleans(),
)
def test_union_matches_brute_force(seed, n, n_views, k, metric, sparse):
    k = min(k, n - 1)
    views = [_random_view(seed + v, n, 3 + v, 0.7, sparse) for v in range(n_views)]
    rows, cols = knn_union_edges(views, k, metric, knn="exact")
    keys = rows * n + cols
    assert rows.dtype == np.int64 and cols.dtype == np.int64
    assert np.all(np.diff(keys) > 0), "edges must be row-major sorted and unique"
    assert np.all(rows != cols)
    edges = set(zip(rows.tolist(), cols.tolist()))
    for X in views:
        D = _dense_distances(X, metric)
        ref = _reference_neighbor_distances(D, k)
        # Every node's k nearest in this view are in the union: the k smallest distances to
        # neighbours found in the union (restricted to this view's list) match the reference.
        for p in range(n):
            mine = np.sort([D[p, q] for q in range(n) if (p, q) in edges])
            # The union holds at least this view's k nearest: its k smallest entries match.
            np.testing.assert_allclose(mine[:k], ref[p], rtol=0, atol=1e-12)
    # No edge that is in nobody's k-nearest list (up to ties at the k-th distance).
    kth = [_reference_neighbor_distances(_dense_distances(X, metric), k)[:, -1] for X in views]
    Ds = [_dense_distances(X, metric) for X in views]
    for p, q in edges:
        assert any(D[p, q] <= t[p] + 1e-12 for D, t in zip(Ds, kth))


def test_exact_edge_set_without_ties():
    rng = np.random.default_rng(3)
    views = [rng.normal(size=(60, 4)), rng.normal(size=(60, 9))]
    k = 5
    expected = set()
    for X in views:
        D = cdist(X, X, "sqeuclidean")
        np.fill_diagonal(D, np.inf)
        for p in range(60):
            expected.update((p, int(q)) for q in np.argsort(D[p])[:k])
    rows, cols = knn_union_edges(views, k)
    assert set(zip(rows.tolist(), cols.tolist())) == expected
    assert 60 * k <= rows.size <= 2 * 60 * k


def test_cosine_sparse_equals_dense_and_squares_do_not_change_order():
    rng = np.random.default_rng(5)
    X = rng.random((80, 30))
    X[X < 0.8] = 0.0
    r1, c1 = knn_union_edges([X], 6, "cosine")
    r2, c2 = knn_union_edges([sp.csr_matrix(X)], 6, "cosine")
    assert np.array_equal(r1, r2) and np.array_equal(c1, c2)


def test_per_view_metrics_and_not_symmetrised():
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    rows, cols = knn_union_edges([X], 1)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0), (2, 1), (3, 2)]
    rows, cols = knn_union_edges([X, X], 1, ["sqeuclidean", "cosine"])
    assert (2, 1) in set(zip(rows.tolist(), cols.tolist()))


def test_precomputed_dense_and_sparse_agree_with_reference():
    rng = np.random.default_rng(1)
    P = rng.random((30, 2))
    D = cdist(P, P, "sqeuclidean")
    k = 4
    rows, cols = knn_union_edges([D], k, "precomputed")
    Dr = D.copy()
    np.fill_diagonal(Dr, np.inf)
    expected = {(p, int(q)) for p in range(30) for q in np.argsort(Dr[p])[:k]}
    assert set(zip(rows.tolist(), cols.tolist())) == expected
    # A sparse matrix offers only its stored entries: keep the 6 nearest of each row stored.
    S = sp.lil_matrix(D.shape)
    for p in range(30):
        for q in np.argsort(Dr[p])[:6]:
            S[p, q] = D[p, q]
    r2, c2 = knn_union_edges([S.tocsr()], k, "precomputed")
    assert set(zip(r2.tolist(), c2.tolist())) == expected


def test_precomputed_graph_takes_largest_affinities():
    rng = np.random.default_rng(2)
    A = rng.random((20, 20))
    A = A + A.T
    np.fill_diagonal(A, 100.0)  # a large self-affinity must not count
    rows, cols = knn_union_edges([A], 3, "precomputed_graph")
    Ar = A.copy()
    np.fill_diagonal(Ar, -np.inf)
    expected = {(p, int(q)) for p in range(20) for q in np.argsort(-Ar[p])[:3]}
    assert set(zip(rows.tolist(), cols.tolist())) == expected
    r2, c2 = knn_union_edges([sp.csr_matrix(A)], 3, "precomputed_graph")
    assert set(zip(r2.tolist(), c2.tolist())) == expected


def test_duplicates_still_give_k_neighbours_per_node():
    X = np.repeat(np.arange(10.0)[:, None], 3, axis=0)  # every point three times
    rows, cols = knn_union_edges([X], 2)
    assert np.all(np.bincount(rows, minlength=30) == 2)
    assert np.all(rows != cols)


def test_approximate_recovers_exact_on_clustered_data():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 1.0, size=(150, 5)) for c in (0.0, 20.0)])
    re, ce = knn_union_edges([X], 5, knn="exact")
    ra, ca = knn_union_edges([X], 5, knn="approximate", random_state=0)
    exact = set(zip(re.tolist(), ce.tolist()))
    approx = set(zip(ra.tolist(), ca.tolist()))
    assert len(exact & approx) / len(exact) > 0.95


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_neighbors=5), "greater than n_neighbors"),
        (dict(n_neighbors=0), "n_neighbors must be >= 1"),
        (dict(n_neighbors=2, knn="fast"), "knn must be one of"),
        (dict(n_neighbors=2, metric=["cosine", "cosine"]), "2 metrics for 1 views"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        knn_union_edges([np.eye(5)], **kwargs)


def test_many_zero_rows_in_a_dense_cosine_view_stay_linear_and_exact():
    # With more zero rows than the dense-padding limit the normalised view goes sparse (no
    # n x n_zero dense block); the neighbours must equal those of the sparse input.
    import scipy.sparse as sp

    from normgraph.graphs import knn_union_edges
    from normgraph.graphs._knn import _MAX_DENSE_ZERO_ROWS, _normalized_rows

    rng = np.random.default_rng(0)
    n = 2 * _MAX_DENSE_ZERO_ROWS + 40
    X = rng.random((n, 5))
    X[rng.permutation(n)[: _MAX_DENSE_ZERO_ROWS + 10]] = 0.0
    Xn = _normalized_rows(X)
    assert sp.issparse(Xn) and Xn.shape[1] == 5 + _MAX_DENSE_ZERO_ROWS + 10
    # every zero row sits at cosine 0 from all rows: orthogonal to every other row
    G = (Xn @ Xn.T).toarray()
    zero = np.flatnonzero(~X.any(axis=1))
    np.testing.assert_allclose(np.diag(G), 1.0)
    np.testing.assert_allclose(G[zero][:, np.setdiff1d(np.arange(n), zero)], 0.0)
    np.testing.assert_allclose(G[np.ix_(zero, zero)], np.eye(zero.size))
    # nonzero rows (no ties: positive features) get the same neighbours as the sparse input's
    # (a zero row's neighbours are all tied, so their order is arbitrary)
    dense_r, dense_c = knn_union_edges([X], 4, "cosine", knn="exact")
    sparse_r, sparse_c = knn_union_edges([sp.csr_matrix(X)], 4, "cosine", knn="exact")
    keep_d = ~np.isin(dense_r, zero)
    keep_s = ~np.isin(sparse_r, zero)
    np.testing.assert_array_equal(dense_r[keep_d], sparse_r[keep_s])
    np.testing.assert_array_equal(dense_c[keep_d], sparse_c[keep_s])
    assert not np.isin(dense_c[keep_d], zero).any()


@given(st.lists(st.integers(-(2**62), 2**62), max_size=60), st.integers(1, 4))
@settings(max_examples=60, deadline=None)
def test_unique_keys_matches_a_set(values, runs):
    """Sorted distinct keys, whatever the number of sorted runs they arrive in."""
    from normgraph.graphs._knn import unique_keys

    parts = [np.sort(np.array(values[i::runs], dtype=np.int64)) for i in range(runs)]
    keys = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    assert unique_keys(keys.copy()).tolist() == sorted(set(values))
