"""The deterministic NN-descent of knn="approximate" against exhaustive search."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.graphs import knn_union_edges
from normgraph.graphs._knn import view_neighbors
from normgraph.graphs._knn_descent import (_descent_round, _Proposals, _reverse_lists,
                                           descent_neighbors)


def _brute_force(X, k):
    """Exhaustive k nearest others per row, ordered by (squared distance, index)."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    for p in range(n):
        d = ((X - X[p]) ** 2).sum(1)
        d[p] = np.inf
        out[p] = np.lexsort((np.arange(n), d))[:k]  # distance first, then the smaller index
    return out


def _recall(X, found, k):
    """Found neighbours no farther than the exact k-th (ties count), over all rows."""
    X = np.asarray(X, dtype=np.float64)
    hits = 0
    for p in range(X.shape[0]):
        d = ((X - X[p]) ** 2).sum(1)
        d[p] = np.inf
        kth = np.sort(d)[k - 1]
        hits += np.count_nonzero(d[found[p]] <= kth)
    return hits / found.size


def _clustered(seed, n, d, n_clusters=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(n_clusters, d))
    return (centres[rng.integers(0, n_clusters, n)] + rng.normal(size=(n, d))).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(3, 40), d=st.integers(1, 5),
       k=st.integers(1, 8), levels=st.integers(1, 4), dtype=st.sampled_from([np.float32, np.float64]))
def test_one_leaf_is_exact_with_smaller_index_tie_rule(seed, n, d, k, levels, dtype):
    # n <= leaf_size: a single leaf, every pair is compared. Few integer levels make many exact
    # ties (integer coordinates: every squared distance is exact in both dtypes), so the order
    # (distance, then smaller index) decides most lists.
    k = min(k, n - 1)
    X = np.random.default_rng(seed).integers(0, levels, size=(n, d)).astype(dtype)
    got = descent_neighbors(X, k, seed=seed, leaf_size=64)
    np.testing.assert_array_equal(got, _brute_force(X, k))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(150, 500), d=st.integers(2, 12),
       k=st.integers(1, 10))
def test_recall_against_brute_force_with_small_leaves(seed, n, d, k):
    # Leaves of 16 points force the NN-descent rounds to do the work.
    X = _clustered(seed, n, d)
    got = descent_neighbors(X, k, seed=seed, leaf_size=16, list_size=max(k, 20), max_reverse=10)
    assert got.shape == (n, k)
    assert np.all(got != np.arange(n)[:, None])
    assert all(len(set(row)) == k for row in got.tolist())
    assert _recall(X, got, k) >= 0.97


def test_default_path_recall_on_a_mixture():
    X = _clustered(0, 4000, 16, n_clusters=10)
    k = 10
    rng = np.random.RandomState(0)
    rows, cols = view_neighbors(X.astype(np.float64), k, knn="approximate", random_state=rng)
    assert np.array_equal(rows, np.repeat(np.arange(4000), k))
    assert _recall(X, cols.reshape(-1, k), k) >= 0.98


def _reference_round(X, ind, isnew, max_reverse):
    """One NN-descent round written from its definition (float64; exact on integer data).

    The nodes joined at u are its list (flag: new in u's list) and its reverse list, the
    ``max_reverse`` nearest p with u in the list of p (flag: new in p's list), each node once
    (flagged if new in either). Every pair a, b joined at the same u, one of them flagged,
    makes b a candidate of a and a a candidate of b; a's new list is the k smallest of its
    old list + candidates in (distance, index) order.
    """
    n, k = ind.shape
    X = np.asarray(X, dtype=np.float64)

    def dist(a, b):
        return float(((X[a] - X[b]) ** 2).sum())

    reverse = [[] for _ in range(n)]
    for p in range(n):
        for s in range(k):
            reverse[ind[p, s]].append((dist(p, ind[p, s]), p, bool(isnew[p, s])))
    cands = [{int(j) for j in ind[p]} for p in range(n)]
    for u in range(n):
        joined = {}
        for s in range(k):
            joined[int(ind[u, s])] = joined.get(int(ind[u, s]), False) or bool(isnew[u, s])
        for _, q, flag in sorted(reverse[u])[:max_reverse]:
            joined[q] = joined.get(q, False) or flag
        for a, fa in joined.items():
            for b, fb in joined.items():
                if a != b and (fa or fb):
                    cands[a].add(b)
    return [sorted(c, key=lambda w: (dist(p, w), w))[:k] for p, c in enumerate(cands)]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(12, 80), k=st.integers(1, 6),
       max_reverse=st.integers(1, 8), levels=st.integers(2, 5), p_new=st.floats(0.0, 1.0),
       small_buffers=st.booleans())
def test_one_round_matches_its_definition(seed, n, k, max_reverse, levels, p_new,
                                          small_buffers):
    # Random lists (old and new entries mixed) on integer points, so squared distances are
    # exact in float32 and ties are frequent: the round must find exactly the k smallest of
    # list + local-join candidates, with the new/old rule and the capped reverse lists, also
    # when the proposal buffers start too small and must grow.
    rng = np.random.default_rng(seed)
    X = rng.integers(0, levels, size=(n, 3)).astype(np.float32)
    ind = np.empty((n, k), dtype=np.int32)
    dst = np.empty((n, k), dtype=np.float32)
    for p in range(n):
        others = rng.choice(np.delete(np.arange(n), p), k, replace=False)
        d = ((X[others] - X[p]) ** 2).sum(1)
        order = np.lexsort((others, d))[::-1]  # decreasing (distance, index): a max-heap
        ind[p] = others[order]
        dst[p] = d[order]
    isnew = rng.random((n, k)) < p_new
    lab = np.arange(n, dtype=np.int32)
    rptr, rsrc, rnew = _reverse_lists(ind, dst, isnew, max_reverse, lab)
    nind, ndst, nnew = np.empty_like(ind), np.empty_like(dst), np.empty_like(isnew)
    proposals = _Proposals(n, np.int32, np.float32)
    if small_buffers:
        proposals._allocate(1)
    changed = _descent_round(X, ind, dst, isnew, rptr, rsrc, rnew, nind, ndst, nnew, lab,
                             proposals)
    expected = _reference_round(X, ind, isnew, max_reverse)
    n_changed = 0
    for p in range(n):
        assert sorted(nind[p].tolist()) == sorted(expected[p])
        np.testing.assert_array_equal(ndst[p], ((X[nind[p]] - X[p]) ** 2).sum(1))
        entered = ~np.isin(nind[p], ind[p])
        np.testing.assert_array_equal(nnew[p], entered)
        n_changed += int(entered.sum())
    assert changed == n_changed


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
def test_same_lists_with_one_and_two_threads(restore_threads):
    X = _clustered(1, 6000, 16, n_clusters=10)
    runs = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        runs.append(descent_neighbors(X, 10, seed=7, leaf_size=24, list_size=20, max_reverse=10))
    np.testing.assert_array_equal(runs[0], runs[1])
    # and through the public edge set, with a seed
    edges = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        edges.append(knn_union_edges([X, X[:, :5]], 5, knn="approximate", random_state=3))
    np.testing.assert_array_equal(edges[0][0], edges[1][0])
    np.testing.assert_array_equal(edges[0][1], edges[1][1])


def test_seed_reproducible_and_recall_independent_of_seed():
    X = _clustered(2, 2000, 8)
    a = descent_neighbors(X, 6, seed=5, leaf_size=20, list_size=20)
    b = descent_neighbors(X, 6, seed=5, leaf_size=20, list_size=20)
    c = descent_neighbors(X, 6, seed=6, leaf_size=20, list_size=20)
    np.testing.assert_array_equal(a, b)
    assert _recall(X, a, 6) >= 0.97 and _recall(X, c, 6) >= 0.97


def test_duplicates_and_isolated_points_still_get_k_distinct_neighbours():
    # 300 copies of one point plus a few far points: degenerate splits, then leaves of one.
    X = np.vstack([np.zeros((300, 3)), 1e3 * np.eye(3)]).astype(np.float32)
    got = descent_neighbors(X, 4, leaf_size=8)
    assert got.shape == (303, 4)
    assert np.all(got != np.arange(303)[:, None])
    assert all(len(set(row)) == 4 for row in got.tolist())
    # each copy's neighbours are copies (distance 0)
    assert np.all(got[:300] < 300)


def test_cosine_dense_view():
    X = np.abs(_clustered(3, 1500, 12)).astype(np.float64)
    k = 5
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    r, c = knn_union_edges([X], k, "cosine", knn="approximate", random_state=0)
    assert np.array_equal(r, np.repeat(np.arange(1500), k))
    assert _recall(Xn, c.reshape(-1, k), k) >= 0.98


@pytest.mark.slow  # compiles pynndescent's sparse kernels (over a minute)
def test_cosine_sparse_view_takes_pynndescent():
    X = np.abs(_clustered(3, 1500, 12)).astype(np.float64)
    k = 5
    S = sp.csr_matrix(np.where(X > 2.0, X, 0.0))
    r2, c2 = knn_union_edges([S], k, "cosine", knn="approximate", random_state=0)
    assert r2.size == 1500 * k and np.all(r2 != c2)


@pytest.mark.slow  # compiles pynndescent (minutes on a busy machine)
def test_pynndescent_choice_still_available():
    X = _clustered(4, 600, 4).astype(np.float64)
    r, c = knn_union_edges([X], 5, knn="pynndescent", random_state=0)
    assert _recall(X, c.reshape(-1, 5), 5) >= 0.9


@pytest.mark.parametrize("knn", ["approx", "hnsw", ""])
def test_unknown_backend_is_rejected(knn):
    with pytest.raises(ValueError, match="knn must be one of"):
        knn_union_edges([np.eye(5)], 2, knn=knn)


def test_wrong_type_for_knn():
    with pytest.raises(TypeError, match="knn"):
        knn_union_edges([np.eye(5)], 2, knn=3)
