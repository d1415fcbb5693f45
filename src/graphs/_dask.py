"""The distributed path of :func:`multiview_graph_clustering`: views as Dask arrays.

Imported only when a view is a Dask collection (``import normgraph`` never imports Dask).
Every stage runs on the workers of the current ``dask.distributed`` client, on row blocks of
the views (the chunks along the samples) and on the edge chunks that go with them:

1. kNN per view by a sharded index (:mod:`._dask_knn`), union per row block;
2. per-edge view distances per (block of p, block of q), standardised (and Gaussian for SGF)
   with global reductions;
3. the fusion solver as a map-reduce per iteration over the edge chunks, with the in-memory
   solver's Numba kernel (:mod:`._dask_fusion`);
4. top-k sparsification and the symmetrisation's transpose by a shuffle by row, then ARPACK
   on a distributed product and k-means on the (n, n_clusters) embedding
   (:mod:`._dask_spectral`).

The client holds O(n) vectors (degrees, Lanczos vectors, the embedding) and O(V^2) statistics,
never an edge array. Same results as in memory (up to round-off in the global sums).

Memory: row blocks larger than the workers' memory limit allows are split first
(:func:`_max_block_rows`: the largest per-block task, the solver step, may use 1/8 of the
smallest limit), so every task's working memory is O(rows per block); the stored chunks (edge
keys, weights, two solver iterates) are O(edges / workers) per worker and are spilled to disk
by Dask when they exceed the worker's memory target.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from sklearn.cluster import KMeans
from sklearn.utils import Bunch, check_random_state

from .._utils.validation import check_allocation, check_choice
from ._dask_fusion import dask_graph_fusion
from ._dask_knn import dask_edge_weights, dask_union_edges, prepare_blocks
from ._dask_spectral import dask_normalized_operator, dask_symmetric_graph, dask_unified_blocks
from ._fusion import _check_view_weights
from ._knn import APPROXIMATE_THRESHOLD
from ._spectral import _discretize, _n_init_rule, _row_normalize, _sign_flip

__all__ = ["dask_multiview_graph_clustering", "DASK_METRICS", "DASK_EIGEN_SOLVERS"]

#: Metrics of the distributed path (feature views; precomputed (n, n) views stay in memory).
DASK_METRICS = ("sqeuclidean", "cosine")
#: Eigensolvers of the distributed path ("auto" means ARPACK there).
DASK_EIGEN_SOLVERS = ("auto", "arpack")
_ZERO_EDGE_SHARE = 0.5
# A task may use at most this share of its worker's memory limit: the rest holds the stored
# chunks (edge keys, weights, two solver iterates) until Dask spills them to disk.
_TASK_SHARE = 1 / 8
# A kNN shard (the index of consecutive row blocks) may use this share: it is built while only
# the views and the edge keys are stored, and fewer, larger shards mean fewer searches.
_SHARD_SHARE = 1 / 4


def _bytes_per_row(n_views, k, itemsize):
    """Upper bound on the working memory of the largest per-block task, per row of the block.

    A row has at most ``V k`` union edges; the solver step reads W, A, S and writes A, S
    (``3V + 2`` values per edge), the edge-weight tasks hold keys, positions and float64
    distances (about 4 words per edge), and the kNN merge sorts ``2 (k + 1)`` candidates
    (distance, index and sort order: 3 words each).
    """
    edges = n_views * k
    solver = edges * (3 * n_views + 2) * itemsize
    weights = edges * 4 * 8
    merge = 2 * (k + 1) * 3 * 8
    return max(solver, weights) + merge


def _memory_limit(client):
    """The smallest worker memory limit in bytes (None when the workers have none)."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    limits = [int(w.get("memory_limit") or 0) for w in workers.values()]
    limits = [m for m in limits if m > 0]
    return min(limits) if limits else None


def _max_block_rows(client, n_views, k, itemsize):
    """Rows per block such that one task fits in ``_TASK_SHARE`` of the smallest worker
    memory limit (None when the workers have no limit)."""
    limit = _memory_limit(client)
    if limit is None:
        return None
    return max(1000, int(_TASK_SHARE * limit / _bytes_per_row(n_views, k, itemsize)))


def _shard_bytes(client):
    """Memory a kNN shard's index may use: ``_SHARD_SHARE`` of the smallest worker limit."""
    limit = _memory_limit(client)
    return None if limit is None else _SHARD_SHARE * limit


def _bounded_chunks(views, row_chunks, max_rows):
    """Split any row block larger than ``max_rows`` into near-equal blocks (others kept)."""
    if max_rows is None or max(row_chunks) <= max_rows:
        return views, row_chunks
    chunks = []
    for c in row_chunks:
        parts = -(-int(c) // max_rows)
        base, extra = divmod(int(c), parts)
        chunks.extend([base + 1] * extra + [base] * (parts - extra))
    chunks = tuple(chunks)
    return [X.rechunk((chunks, -1)) for X in views], chunks


def _client():
    try:
        from distributed import get_client
    except ImportError as exc:  # pragma: no cover - dask without distributed
        raise ImportError(
            "the distributed path needs dask.distributed: pip install 'normgraph[dask]'"
        ) from exc
    try:
        return get_client()
    except ValueError:
        raise ValueError(
            "views are Dask arrays but no dask.distributed Client is running: start one first, "
            "e.g. Client(LocalCluster()) or Client('scheduler-address')"
        ) from None


def _as_dask_views(views):
    """Every view a 2-D Dask array with one column chunk and the first Dask view's row chunks."""
    import dask.array as da

    if not isinstance(views, (list, tuple)):
        raise TypeError(f"views must be a list or tuple of arrays, got {type(views).__name__}")
    if len(views) == 0:
        raise ValueError("views must contain at least one view")
    ref = next((v for v in views if isinstance(v, da.Array)), None)
    if ref is None:
        raise TypeError(
            "views must be arrays: Dask arrays (distributed path) or NumPy/SciPy arrays, got "
            f"{[type(v).__name__ for v in views]}"
        )
    row_chunks = ref.chunks[0]
    if any(np.isnan(c) for c in row_chunks):
        raise ValueError("the row chunk sizes of the views are unknown; call "
                         "X.compute_chunk_sizes() first")
    out = []
    for i, X in enumerate(views):
        if not isinstance(X, da.Array):
            if not (sp.issparse(X) or hasattr(X, "shape")):
                X = np.asarray(X)
            X = da.from_array(sp.csr_matrix(X) if sp.issparse(X) else X,
                              chunks=(row_chunks, -1), asarray=not sp.issparse(X))
        if X.ndim != 2:
            raise ValueError(f"view {i} must be 2-D (n_samples, n_features), got {X.ndim}-D")
        out.append(X)
    sizes = [int(X.shape[0]) for X in out]
    if len(set(sizes)) > 1:
        raise ValueError(f"all views must have the same number of samples, got {sizes}")
    for i, X in enumerate(out):
        if X.shape[1] < 1:
            raise ValueError(f"view {i} has no features")
    return [X.rechunk((row_chunks, -1)) for X in out], row_chunks


def _check_dask_params(p, n, metrics):
    for i, met in enumerate(metrics):
        if met not in DASK_METRICS:
            raise ValueError(
                f"view {i}: metric={met!r} is not available on Dask arrays (only {DASK_METRICS}); "
                "pass (n, n) precomputed matrices as NumPy/SciPy arrays to fit in memory"
            )
    check_choice(p["eigen_solver"], "eigen_solver", DASK_EIGEN_SOLVERS)
    if p["n_clusters"] >= n:
        raise ValueError(
            f"n_clusters = {p['n_clusters']} must be < n_samples = {n} on Dask arrays (ARPACK)"
        )
    # client-side arrays: Lanczos vectors and the embedding
    check_allocation(n * (max(2 * p["n_clusters"] + 1, 20) + 2 * p["n_clusters"]),
                     "n_clusters", what="the Lanczos vectors and the spectral embedding")


def _eigsh_operator(op, n_components, rng):
    """The in-memory ARPACK call (same start vector and subspace size) on an operator."""
    n = op.shape[0]
    v0 = rng.uniform(-1.0, 1.0, n)
    ncv = min(n, max(2 * n_components + 1, 20))
    try:
        vals, vecs = eigsh(op, k=n_components, which="LA", tol=0.0, v0=v0, ncv=ncv)
    except ArpackNoConvergence as exc:
        raise ArpackNoConvergence(
            f"ARPACK did not converge for the {n_components} largest eigenpairs of the normalised "
            f"affinity ({n} nodes): {exc}. Try fewer clusters or check the graph (many tiny "
            "components make the top eigenvalues nearly equal).",
            exc.eigenvalues, exc.eigenvectors,
        ) from exc
    order = np.argsort(-vals, kind="stable")
    return vals[order], vecs[:, order]


def _labels(embedding, p, rng):
    n, c = embedding.shape
    if c == 1:
        return np.zeros(n, dtype=np.int64)
    if p["assign_labels"] == "kmeans":
        km = KMeans(n_clusters=c, n_init=_n_init_rule(n) if p["n_init"] is None else p["n_init"],
                    max_iter=1000, random_state=rng)
        return km.fit_predict(embedding).astype(np.int64)
    return _discretize(embedding)


# --------------------------------------------------------------------------------------------
# results as Dask collections
# --------------------------------------------------------------------------------------------

def _edge_pairs(keys, n):
    return np.column_stack([keys // n, keys % n])


def _collection(futures, shapes, dtype, axis, meta=None):
    import dask.array as da

    parts = [da.from_delayed(f, shape=s, dtype=dtype, meta=meta) for f, s in zip(futures, shapes)]
    return da.concatenate(parts, axis=axis)


def dask_multiview_graph_clustering(views, p, check_pipeline, check_metrics):
    """:func:`multiview_graph_clustering` on Dask-array views (see the module docstring)."""
    views, row_chunks = _as_dask_views(views)
    dtype = check_pipeline(p)
    n_views = len(views)
    n = int(views[0].shape[0])
    k = int(p["n_neighbors"])
    if n <= k:
        raise ValueError(
            f"n_samples = {n} must be greater than n_neighbors = {k}; lower n_neighbors"
        )
    if p["n_clusters"] > n:
        raise ValueError(f"n_clusters = {p['n_clusters']} must be <= n_samples = {n}")
    metrics = check_metrics(p["metric"], p["fusion"], n_views)
    _check_dask_params(p, n, metrics)
    w = _check_view_weights(p["view_weights"], n_views)
    if n_views == 1:
        warnings.warn(
            "a single view was given: there is nothing to fuse, the unified graph is that "
            "view's kNN graph (pass a list of several views for multi-view learning)",
            UserWarning, stacklevel=3,
        )
    client = _client()
    views, row_chunks = _bounded_chunks(
        views, row_chunks, _max_block_rows(client, n_views, k, np.dtype(dtype).itemsize))
    starts = np.concatenate([[0], np.cumsum(row_chunks)[:-1]]).astype(np.int64).tolist()
    sizes = [int(c) for c in row_chunks]

    # stage 1: validated row blocks on the workers, sharded kNN, union per row block
    view_blocks = []
    for i, (X, met) in enumerate(zip(views, metrics)):
        blocks = client.compute(X.to_delayed()[:, 0].tolist())
        view_blocks.append(prepare_blocks(client, blocks, i, starts, met))
    # approximate shards are pynndescent indexes (they must answer queries from other blocks),
    # for knn="approximate" and knn="pynndescent" alike
    approximate = p["knn"] in ("approximate", "pynndescent") or (
        p["knn"] == "auto" and n > APPROXIMATE_THRESHOLD)
    seed = None
    if p["random_state"] is not None:
        seed = int(check_random_state(p["random_state"]).randint(np.iinfo(np.int32).max))
    keys = dask_union_edges(client, view_blocks, starts, metrics, k, n, approximate=approximate,
                            seed=seed, shard_bytes=_shard_bytes(client))
    counts = client.gather(client.map(len, keys))

    # stage 2: per-edge view weights, standardised from global reductions
    W_chunks, zeros = dask_edge_weights(client, keys, view_blocks, starts, n, metrics,
                                        p["fusion"], dtype)
    for i, (nz, size) in enumerate(zeros):
        if nz > _ZERO_EDGE_SHARE * size:
            warnings.warn(
                f"view {i}: {nz} of {size} edges have distance 0 (duplicate samples?); the "
                "view separates few neighbours", UserWarning, stacklevel=3,
            )
    del view_blocks

    # stage 3: the fusion solver, map-reduce per iteration
    S_chunks, A_chunks, E_chunks, alpha, info = dask_graph_fusion(
        client, W_chunks, n_views, dtype, beta=p["beta"], gamma=p["gamma"], w=w,
        max_iter=p["max_iter"], dca_iter=p["dca_iter"], rel_tol=p["rel_tol"],
        min_iter=p["min_iter"], qp_tol=p["qp_tol"], parity_mode=p["parity_mode"],
    )

    # stage 4: unified graph, top-k + symmetrisation (shuffle by row), spectral clustering
    unified = dask_unified_blocks(client, keys, S_chunks, starts, n, dtype,
                                  p["fusion"] == "dissimilarity")
    graph = dask_symmetric_graph(client, unified, starts, n, k, p["final_knn"], dtype)
    op, _, _ = dask_normalized_operator(client, graph, starts, n)
    rng = check_random_state(p["random_state"])
    vals, vecs = _eigsh_operator(op, int(p["n_clusters"]), rng)
    embedding = _row_normalize(_sign_flip(vecs))
    labels = _labels(embedding, p, rng)

    csr_meta = sp.csr_matrix((0, 0), dtype=dtype)
    block_shapes = [(s, n) for s in sizes]
    edge_shapes = [(n_views, c) for c in counts]
    return Bunch(
        labels=labels,
        graph=_collection(graph, block_shapes, dtype, 0, csr_meta),
        unified_graph=_collection(unified, block_shapes, dtype, 0, csr_meta),
        edges=_collection(client.map(_edge_pairs, keys, n=n), [(c, 2) for c in counts],
                          np.int64, 0),
        view_graphs=_collection(W_chunks, edge_shapes, dtype, 1),
        consistent=_collection(A_chunks, edge_shapes, dtype, 1),
        inconsistent=_collection(E_chunks, edge_shapes, dtype, 1),
        view_scales=np.asarray(info["view_scales"]), view_coef=alpha, view_weights=w,
        objective=list(info["objective"]), n_iter=int(info["n_iter"]),
        n_qp_calls=int(info["n_qp_calls"]), converged=bool(info["converged"]),
        embedding=embedding, metrics=metrics,
        n_features_per_view=tuple(int(X.shape[1]) for X in views),
    )
