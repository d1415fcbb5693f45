"""The distributed path (views as Dask arrays) against the in-memory path, on a LocalCluster.

The in-memory fit is the reference: the distributed fit must give the same edge set, the same
view graphs, view coefficients and objective trace (to round-off in the global sums), the same
symmetric graph and the same labels (ARI = 1), on synthetic data and on two real data sets
(one with sparse cosine views held as CSR chunks).
"""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from normgraph.datasets import load_multiview  # noqa: E402
from normgraph.graphs import MultiViewGraphClusterer, multiview_graph_clustering  # noqa: E402
from normgraph.graphs import _dask, _dask_fusion, _dask_knn  # noqa: E402
from normgraph.graphs.metrics import adjusted_rand  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _mixture(n, n_views=3, d=16, c=5, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    views = []
    for _ in range(n_views):
        centers = rng.normal(0, spread, size=(c, d))
        views.append(centers[y] + rng.normal(size=(n, d)))
    return views, y


def _as_dask(views, block):
    return [da.from_array(v, chunks=(block, -1), asarray=not sp.issparse(v)) for v in views]


def _assert_same_fit(mem, dist):
    edges = dist.edges.compute()
    assert np.array_equal(edges, mem.edges)
    W = dist.view_graphs.compute()
    np.testing.assert_allclose(W, mem.view_graphs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dist.view_coef, mem.view_coef, rtol=0, atol=1e-8)
    assert dist.n_iter == mem.n_iter and dist.converged == mem.converged
    assert len(dist.objective) == len(mem.objective)
    np.testing.assert_allclose(dist.objective, mem.objective, rtol=1e-8, atol=0)
    np.testing.assert_allclose(dist.view_scales, mem.view_scales, rtol=1e-12)
    # The global sums are added in another order: round-off (1e-16) in the alpha-step's
    # statistics, amplified by the iterations to about 1e-13 in alpha and 1e-8 (relative)
    # in the smallest entries of A and S.
    top = float(np.max(mem.consistent))
    np.testing.assert_allclose(dist.consistent.compute(), mem.consistent, rtol=0, atol=1e-7 * top)
    np.testing.assert_allclose(dist.inconsistent.compute(), mem.inconsistent, rtol=0,
                               atol=1e-7 * top)
    U = dist.unified_graph.compute()
    assert (abs(U - mem.unified_graph).max()) <= 1e-7 * mem.unified_graph.data.max()
    G = dist.graph.compute()
    assert sp.issparse(G) and G.shape == mem.graph.shape
    assert np.array_equal(G.indptr, mem.graph.indptr) and np.array_equal(G.indices,
                                                                         mem.graph.indices)
    np.testing.assert_allclose(G.data, mem.graph.data, rtol=1e-6)
    assert adjusted_rand(mem.labels, dist.labels) == 1.0


_EXACT = dict(knn="exact", eigen_solver="arpack", random_state=0)


@pytest.mark.parametrize("options", [
    dict(),
    dict(fusion="dissimilarity", final_knn=False, parity_mode=True),
    # stops by max_iter (S recomputed at the end), user weights, deterministic labels
    dict(max_iter=3, assign_labels="discretize", view_weights=[1.0, 2.0, 0.5]),
])
def test_equivalence_small(client, options, monkeypatch):
    monkeypatch.setattr(_dask, "_shard_bytes", lambda client: 1.0)  # a shard per block
    views, _ = _mixture(600, seed=1)
    kw = dict(_EXACT, n_neighbors=8, **options)
    mem = multiview_graph_clustering(views, 5, **kw)
    dist = multiview_graph_clustering(_as_dask(views, 200), 5, **kw)
    _assert_same_fit(mem, dist)


def test_equivalence_uneven_chunks_and_float32(client):
    views, _ = _mixture(600, seed=2)
    kw = dict(_EXACT, n_neighbors=6, dtype=np.float32)
    mem = multiview_graph_clustering(views, 5, **kw)
    dviews = [da.from_array(v, chunks=((150, 330, 120), -1)) for v in views]
    dist = multiview_graph_clustering(dviews, 5, **kw)
    assert dist.view_graphs.dtype == np.float32
    assert np.array_equal(dist.edges.compute(), mem.edges)
    np.testing.assert_allclose(dist.view_coef, mem.view_coef, atol=1e-6)
    np.testing.assert_allclose(dist.objective, mem.objective, rtol=1e-6)
    assert adjusted_rand(mem.labels, dist.labels) == 1.0


def test_equivalence_n2000_estimator(client):
    """The estimator: learned attributes, large ones as Dask collections, small ones NumPy."""
    views, y = _mixture(2000, seed=3)
    kw = dict(_EXACT, n_neighbors=10)
    mem = MultiViewGraphClusterer(5, **kw).fit(views)
    dist = MultiViewGraphClusterer(5, **kw).fit(_as_dask(views, 700))
    for name in ("edges_", "view_graphs_", "consistent_", "inconsistent_", "graph_",
                 "unified_graph_"):
        assert isinstance(getattr(dist, name), da.Array), name
    for name in ("labels_", "view_coef_", "embedding_", "view_scales_"):
        assert isinstance(getattr(dist, name), np.ndarray), name
    assert np.array_equal(dist.edges_.compute(), mem.edges_)
    np.testing.assert_allclose(dist.view_coef_, mem.view_coef_, atol=1e-8)
    np.testing.assert_allclose(dist.objective_, mem.objective_, rtol=1e-8)
    assert adjusted_rand(mem.labels_, dist.labels_) == 1.0
    assert adjusted_rand(y, dist.labels_) > 0.5  # the mixture is recovered, not just copied


@pytest.mark.slow
def test_equivalence_n20000(client):
    """The issue's bar: n = 20,000, 3 views, exact kNN, 2 workers x 1 thread."""
    views, _ = _mixture(20_000, seed=4)
    kw = dict(_EXACT, n_neighbors=10)
    mem = multiview_graph_clustering(views, 5, **kw)
    dist = multiview_graph_clustering(_as_dask(views, 5000), 5, **kw)
    _assert_same_fit(mem, dist)


def _without_duplicates(views):
    """Drop every sample that repeats an earlier one in some view (first copies kept).

    Duplicate samples are at exactly equal distances from everything, and which of two tied
    neighbours an exact search returns is arbitrary (in memory it is up to the order of the
    selection algorithm), so the two paths may then keep different, equally valid neighbours.
    """
    keep = np.ones(views[0].shape[0], dtype=bool)
    for X in views:
        dense = X.toarray() if sp.issparse(X) else np.asarray(X)
        _, first = np.unique(dense, axis=0, return_index=True)
        unique = np.zeros(dense.shape[0], dtype=bool)
        unique[first] = True
        keep &= unique
    return [X[keep] for X in views], keep


@pytest.mark.parametrize("name, block", [("MSRC_v1", 60), ("BBCSport", 150)])
def test_equivalence_real(client, data_home, name, block):
    data = load_multiview(name, data_home=data_home)
    views, keep = _without_duplicates(data.views)
    assert keep.sum() >= 0.97 * keep.size  # BBCSport has 15 duplicate documents of 544
    kw = dict(_EXACT, n_neighbors=10, metric=data.metric)
    mem = multiview_graph_clustering(views, data.n_clusters, **kw)
    dviews = _as_dask(views, block)
    if name == "BBCSport":  # sparse text views stay sparse: CSR chunks
        assert all(sp.issparse(v) for v in views)
        assert sp.issparse(dviews[0].blocks[0].compute())
    dist = multiview_graph_clustering(dviews, data.n_clusters, **kw)
    _assert_same_fit(mem, dist)


@pytest.mark.slow
def test_duplicates_change_only_tied_neighbours(client, data_home):
    """With BBCSport's duplicate documents, edges may differ only by exactly tied neighbours."""
    from normgraph.graphs import view_edge_weights

    data = load_multiview("BBCSport", data_home=data_home)
    kw = dict(_EXACT, n_neighbors=10, metric="cosine")
    mem = multiview_graph_clustering(data.views, data.n_clusters, **kw)
    dist = multiview_graph_clustering(_as_dask(data.views, 150), data.n_clusters, **kw)
    a = {tuple(e) for e in dist.edges.compute().tolist()}
    b = {tuple(e) for e in mem.edges.tolist()}
    only_a, only_b = sorted(a - b), sorted(b - a)
    assert len(only_a) <= 0.01 * len(b)
    for p in {e[0] for e in only_a + only_b}:
        qa = np.array([q for r, q in only_a if r == p])
        qb = np.array([q for r, q in only_b if r == p])
        # per view, the distances from p of the swapped neighbours coincide as multisets
        # whenever both sides swapped neighbours in that row
        if qa.size and qb.size:
            for X in data.views:
                da_ = view_edge_weights(X, np.full(qa.size, p), qa, "cosine")
                db_ = view_edge_weights(X, np.full(qb.size, p), qb, "cosine")
                if np.array_equal(np.sort(da_), np.sort(db_)):
                    break
            else:
                raise AssertionError(f"row {p}: swapped neighbours are not tied in any view")
    assert adjusted_rand(mem.labels, dist.labels) > 0.95


@pytest.mark.slow  # pynndescent compiles its Numba functions in every worker process
def test_approximate_shards_find_most_exact_neighbours(client):
    views, _ = _mixture(1500, seed=5)
    exact = multiview_graph_clustering(views, 5, **dict(_EXACT, n_neighbors=8))
    approx = multiview_graph_clustering(_as_dask(views, 500), 5, n_neighbors=8,
                                        knn="approximate", random_state=0)
    a = {tuple(e) for e in approx.edges.compute().tolist()}
    e = {tuple(x) for x in exact.edges.tolist()}
    assert len(a & e) >= 0.9 * len(e)
    assert adjusted_rand(exact.labels, approx.labels) > 0.9


# --------------------------------------------------------------------------------------------
# bounded memory: blocks sized from the memory limit, the kNN merge one shard at a time
# --------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.integers(1, 500), min_size=1, max_size=6), max_rows=st.integers(1, 200))
def test_bounded_chunks_split_only_large_blocks(chunks, max_rows):
    views = [da.zeros((sum(chunks), 2), chunks=(tuple(chunks), -1))]
    out, new = _dask._bounded_chunks(views, tuple(chunks), max_rows)
    assert sum(new) == sum(chunks) and out[0].chunks[0] == tuple(new)
    if max(chunks) <= max_rows:
        assert tuple(new) == tuple(chunks)
        return
    assert max(new) <= max_rows
    # each old block is split into the fewest near-equal pieces, in order
    pos = 0
    for c in chunks:
        parts = -(-c // max_rows)
        piece = list(new[pos:pos + parts])
        assert sum(piece) == c and max(piece) - min(piece) <= 1
        pos += parts
    assert pos == len(new)


def test_block_rows_follow_the_memory_limit(client):
    limit = min(w["memory_limit"] for w in client.scheduler_info()["workers"].values())
    rows = _dask._max_block_rows(client, 3, 10, 8)
    per_row = _dask._bytes_per_row(3, 10, 8)
    # one block's largest task fits in the task share of the limit, and not twice over
    assert rows * per_row <= _dask._TASK_SHARE * limit < 2 * rows * per_row
    # the solver's (3V + 2) arrays of V k edges per row are the largest term
    assert per_row >= 3 * 10 * 11 * 8


def test_fit_rechunks_blocks_above_the_memory_budget(client, monkeypatch):
    """A view in one 600-row block is split to the budget's 150 rows: same fit as in memory."""
    views, _ = _mixture(600, seed=8)
    kw = dict(_EXACT, n_neighbors=8)
    mem = multiview_graph_clustering(views, 5, **kw)
    monkeypatch.setattr(_dask, "_max_block_rows", lambda *args: 150)
    # kNN shards of two blocks: the index of 300 rows of 16 float64 (3 copies) and 9 neighbours
    monkeypatch.setattr(_dask, "_shard_bytes", lambda client: 300 * (3 * 16 * 8 + 64 * 9))
    groups = []
    original = _dask_knn.shard_groups
    monkeypatch.setattr(_dask_knn, "shard_groups",
                        lambda *a: groups.append(original(*a)) or groups[-1])
    dist = multiview_graph_clustering(_as_dask(views, 600), 5, **kw)
    assert dist.graph.chunks[0] == (150, 150, 150, 150)
    assert groups == [[[0, 1], [2, 3]]] * 3
    _assert_same_fit(mem, dist)


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.integers(1, 50), min_size=1, max_size=10),
       max_rows=st.one_of(st.none(), st.integers(1, 120)))
def test_shard_groups_are_greedy_consecutive_and_bounded(sizes, max_rows):
    groups = _dask_knn.shard_groups(sizes, max_rows)
    assert [b for g in groups for b in g] == list(range(len(sizes)))
    if max_rows is None:
        assert all(len(g) == 1 for g in groups)
        return
    for g, nxt in zip(groups, groups[1:] + [None]):
        rows = sum(sizes[b] for b in g)
        assert rows <= max_rows or len(g) == 1
        if nxt is not None:  # greedy: the next block would not have fitted
            assert rows + sizes[nxt[0]] > max_rows


@settings(max_examples=80, deadline=None)
@given(n_rows=st.integers(1, 6), sizes=st.lists(st.integers(1, 7), min_size=1, max_size=5),
       k1=st.integers(1, 6), ties=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_running_merge_equals_the_sorted_union(n_rows, sizes, k1, ties, seed):
    """Merging the shards' candidates one shard at a time keeps, per row, the k1 smallest
    (distance, index) pairs of all shards together: checked against sorting the union."""
    rng = np.random.default_rng(seed)
    parts, offset = [], 0
    for size in sizes:
        kk = min(k1, size)
        dist = rng.integers(0, 3, (n_rows, kk)).astype(float) if ties else rng.random((n_rows, kk))
        idx = np.array([rng.permutation(size)[:kk] for _ in range(n_rows)]) + offset
        parts.append((dist, idx))
        offset += size

    class Shard:  # stands for an index: returns its part's candidates
        def __init__(self, part):
            self.part = part

        def kneighbors(self, Q, n_neighbors):
            return self.part[0][:, :n_neighbors], self.part[1][:, :n_neighbors] - self.offset

    best, offset = None, 0
    for (dist, idx), size in zip(parts, sizes):
        shard = Shard((dist, idx))
        shard.offset = offset
        best = _dask_knn._search_merge(best, shard, np.zeros((n_rows, 1)), "sqeuclidean", k1,
                                       offset, size, False)
        offset += size
    for r in range(n_rows):
        pairs = sorted((float(d), int(i)) for dist, idx in parts
                       for d, i in zip(dist[r], idx[r]))[:k1]
        assert [(float(d), int(i)) for d, i in zip(best[0][r], best[1][r])] == pairs


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors(client):
    views, _ = _mixture(200, seed=6)
    dv = _as_dask(views, 50)
    with pytest.raises(ValueError, match="metric='precomputed'"):
        multiview_graph_clustering(dv, 3, metric="precomputed", n_neighbors=5)
    with pytest.raises(ValueError, match="eigen_solver"):
        multiview_graph_clustering(dv, 3, eigen_solver="lobpcg", n_neighbors=5)
    with pytest.raises(ValueError, match="same number of samples"):
        multiview_graph_clustering([dv[0], dv[1][:150]], 3, n_neighbors=5)
    with pytest.raises(ValueError, match="n_neighbors"):
        multiview_graph_clustering(dv, 3, n_neighbors=200)
    bad = views[2].copy()
    bad[120, 3] = np.nan
    with pytest.raises(ValueError, match="view 2"):
        multiview_graph_clustering([dv[0], dv[1], da.from_array(bad, chunks=(50, -1))], 3,
                                   n_neighbors=5)
    zero = np.abs(views[0])
    zero[7] = 0.0
    with pytest.raises(ValueError, match="row 7 is all zeros"):
        multiview_graph_clustering([da.from_array(zero, chunks=(50, -1)), dv[1]], 3,
                                   metric="cosine", n_neighbors=5)
    with pytest.raises(TypeError, match="views must be arrays"):
        multiview_graph_clustering([dv[0].to_delayed()[0, 0], views[1]], 3, n_neighbors=5)
    const = np.ones((200, 2))
    with pytest.raises(ValueError, match="view 1: all edge distances are equal"):
        multiview_graph_clustering([dv[0], da.from_array(const, chunks=(50, -1))], 3,
                                   n_neighbors=5)


def test_no_client_is_a_clear_error():
    code = (
        "import numpy as np, dask.array as da; "
        "from normgraph.graphs import multiview_graph_clustering; "
        "v = da.from_array(np.random.default_rng(0).normal(size=(50, 3)), chunks=(25, -1)); "
        "multiview_graph_clustering([v, v + 1], 2, n_neighbors=5)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    message = "ValueError: views are Dask arrays but no dask.distributed Client is running"
    assert message in out.stderr


# --------------------------------------------------------------------------------------------
# a worker dies mid-fit
# --------------------------------------------------------------------------------------------

@pytest.mark.slow  # its own cluster, a worker restart and the recomputation: about a minute
def test_worker_killed_mid_fit_gives_the_same_result(monkeypatch):
    """A worker process is killed during the solver's third iteration: the scheduler recomputes
    the lost chunks from their lineage and the fit ends with the in-memory result."""
    views, _ = _mixture(1200, seed=7)
    kw = dict(_EXACT, n_neighbors=8)
    mem = multiview_graph_clustering(views, 5, **kw)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    killed = []
    original = _dask_fusion._summed
    calls = []

    def kill_on_third_step(client, futures):
        if futures and str(futures[0].key).startswith("_step_chunk"):
            calls.append(1)
            if len(calls) == 3:
                distributed.wait(futures)
                holders = client.who_has(futures)
                victim = next(iter(next(iter(holders.values()))))
                pid = client.run(os.getpid, workers=[victim])[victim]
                os.kill(pid, signal.SIGKILL)  # the worker process this test's cluster started
                killed.append(victim)
        return original(client, futures)

    monkeypatch.setattr(_dask_fusion, "_summed", kill_on_third_step)
    try:
        with distributed.Client(cluster) as c:
            dist = multiview_graph_clustering(_as_dask(views, 200), 5, **kw)
            # the killed worker held chunks of the iterate still in use: they were recomputed
            assert killed, "no worker was killed"
            assert killed[0] not in c.scheduler_info()["workers"]
            _assert_same_fit(mem, dist)
    finally:
        cluster.close()
