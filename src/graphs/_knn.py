"""The common edge set: the union over views of every node's k nearest neighbours.

Exact neighbours come from scikit-learn's ``NearestNeighbors`` (a tree for low-dimensional
dense views, chunked brute force otherwise, sparse views through sparse dot products).
Approximate ones come from :mod:`._knn_descent` (random-projection trees + NN-descent, in
parallel and deterministic: the same seed gives the same lists on any number of threads) for
dense views, and from pynndescent for sparse views or on request (``knn="pynndescent"``).
Nothing here allocates an n x n array unless the user passed one (a dense precomputed matrix,
which is then read a block of rows at a time).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._utils.progress import progress
from .._utils.validation import (check_allocation, check_bool, check_choice, check_int,
                                 check_random_state_param, check_views)
from ._edges import check_metric_list, check_square_view
from ._scaling import row_safe_scales, scale_rows, scale_view

__all__ = ["knn_union_edges", "view_neighbors", "KNN_METHODS", "APPROXIMATE_THRESHOLD"]

KNN_METHODS = ("auto", "exact", "approximate", "pynndescent")
#: ``knn="auto"`` switches to approximate neighbours above this many samples.
APPROXIMATE_THRESHOLD = 50_000
# Rows of a dense precomputed matrix processed at once (bounds the temporary block).
_BLOCK_BYTES = 64 * 2**20
# Zero rows of a dense view that still get dense extra columns (beyond this, sparse columns).
_MAX_DENSE_ZERO_ROWS = 64


def _normalized_rows(X):
    """Rows scaled to unit Euclidean norm, sparse stays sparse.

    On unit vectors ``||u - v||^2 = 2 - 2 cos``, so Euclidean neighbours of the normalised rows
    are the cosine neighbours. A zero row must be at cosine 0 from every row (as in the
    per-edge kernels), which a zero vector is not (``||0 - v||^2 = 1`` reads as cosine 1/2):
    each zero row gets its own extra unit coordinate, orthogonal to everything else.
    """
    from sklearn.preprocessing import normalize

    # Cosine ignores each row's scale: every row is first divided by a power of two near its
    # largest entry (exact), so that no norm overflows, underflows, or falls below the
    # 10 * eps under which ``normalize`` leaves a row unnormalised.
    scaled = scale_rows(X, row_safe_scales(X, always=True))
    X = normalize(scaled, norm="l2", copy=scaled is X)  # in place on our own copy
    sq = np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X) else (X * X).sum(1)
    zero = np.flatnonzero(sq == 0)
    if zero.size:
        extra = sp.csr_matrix(
            (np.ones(zero.size), (zero, np.arange(zero.size))), shape=(X.shape[0], zero.size)
        )
        if sp.issparse(X) or zero.size > _MAX_DENSE_ZERO_ROWS:
            # many zero rows: a dense (n, n_zero) block would be quadratic, go sparse instead
            X = sp.hstack([sp.csr_matrix(X), extra], format="csr")
        else:
            X = np.hstack([X, extra.toarray()])
    return X


def _drop_self(idx):
    """(n, k+1) neighbour lists including (normally) the node itself -> (n, k) without it.

    When duplicates hide the node's own index (another row at distance 0 came first and the
    node itself fell off the list), the farthest entry is dropped instead, so every node keeps
    exactly k neighbours.
    """
    n, k1 = idx.shape
    is_self = idx == np.arange(n)[:, None]
    has_self = is_self.any(axis=1)
    is_self[~has_self, k1 - 1] = True
    keep = ~is_self
    # Exactly one position per row is dropped, so the remainder reshapes to (n, k).
    return idx[keep].reshape(n, k1 - 1)


def _exact_features(X, k, metric):
    from sklearn.neighbors import NearestNeighbors

    if metric == "cosine":
        X = _normalized_rows(X)
    # Euclidean ranking == squared Euclidean ranking; lets sklearn pick a tree when it pays.
    algorithm = "brute" if sp.issparse(X) else "auto"
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm=algorithm, metric="euclidean")
    nn.fit(X)
    return _drop_self(nn.kneighbors(X, return_distance=False))


# The deterministic NN-descent of the approximate path: its internal list is longer than k
# (the top k of a longer list are far more often the true k nearest) and its reverse lists
# hold this many of the nearest reverse neighbours (settings measured by
# benchmarks/compare_knn.py; with local joins, reverse lists of 24 lose recall because a node
# is joined with its list's entries only through their capped reverse lists: 0.980 at 10^6
# against 0.994 with 40).
_DESCENT_LIST = 24
_DESCENT_REVERSE = 40
# Trees of the start above 200,000 samples (recall 0.9905 at 10^6 on the 16-d mixture).
_DESCENT_TREES_LARGE = 8


def _seed_from(random_state):
    """A 63-bit seed from a RandomState, or from NumPy's global generator for None."""
    draw = np.random.randint if random_state is None else random_state.randint
    return int(draw(np.iinfo(np.int32).max))


def _approximate_features(X, k, metric, random_state, verbose, method="approximate"):
    if metric == "cosine":
        X = _normalized_rows(X)
    if method == "approximate" and not sp.issparse(X):
        from ._knn_descent import descent_neighbors

        # float32 coordinates: the search reads half the bytes; the view is scaled by a power
        # of two (sqeuclidean) or normalised (cosine), so nothing overflows or underflows.
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        return descent_neighbors(X32, k, seed=_seed_from(random_state),
                                 list_size=max(k, _DESCENT_LIST),
                                 n_trees=_DESCENT_TREES_LARGE if len(X32) >= 200_000 else None,
                                 max_reverse=max(k, _DESCENT_REVERSE))
    return _pynndescent_features(X, k, random_state, verbose)


def _pynndescent_features(X, k, random_state, verbose):
    from pynndescent import NNDescent

    # A seed makes NN-descent reproducible but single-threaded; without one it uses every core.
    seed = None if random_state is None else int(random_state.randint(np.iinfo(np.int32).max))
    index = NNDescent(X, metric="euclidean", n_neighbors=k + 1, random_state=seed,
                      low_memory=True, verbose=bool(verbose), compressed=True, n_jobs=-1)
    idx, _ = index.neighbor_graph
    idx = np.asarray(idx, dtype=np.int64)
    n = idx.shape[0]
    # NN-descent may leave a slot empty (-1) on tiny or degenerate inputs: patch with self so
    # that _drop_self removes it.
    missing = idx < 0
    if missing.any():
        idx[missing] = np.broadcast_to(np.arange(n)[:, None], idx.shape)[missing]
    return _drop_self(idx)


def _dense_square_topk(D, k, largest):
    """k smallest (or largest) off-diagonal entries per row of a dense (n, n) matrix."""
    n = D.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    block = max(1, min(n, _BLOCK_BYTES // (8 * n)))
    for start in range(0, n, block):
        stop = min(n, start + block)
        chunk = np.array(D[start:stop], dtype=np.float64)
        if largest:
            np.negative(chunk, out=chunk)
        chunk[np.arange(stop - start), np.arange(start, stop)] = np.inf  # exclude self
        part = np.argpartition(chunk, k - 1, axis=1)[:, :k]
        out[start:stop] = part
    return out


def _sparse_square_topk(D, k, largest):
    """k smallest (largest) stored off-diagonal entries per row of a sparse (n, n) matrix.

    Rows with fewer than k candidates keep all of theirs. Returns (rows, cols).
    """
    D = sp.coo_matrix(D)
    r = D.row.astype(np.int64)
    c = D.col.astype(np.int64)
    v = D.data.astype(np.float64)
    keep = r != c
    if largest:
        keep &= v > 0  # a zero affinity is no edge
        v = -v
    r, c, v = r[keep], c[keep], v[keep]
    order = np.lexsort((v, r))
    r, c = r[order], c[order]
    starts = np.searchsorted(r, np.arange(D.shape[0]))
    rank = np.arange(r.shape[0]) - starts[r]
    sel = rank < k
    return r[sel], c[sel]


def view_neighbors(X, n_neighbors, metric="sqeuclidean", *, knn="auto", random_state=None,
                   verbose=False):
    """One view's kNN pairs (p, q), q != p: the k nearest other nodes of every node p.

    Parameters
    ----------
    X : ndarray or sparse matrix
        Features (``"sqeuclidean"``, ``"cosine"``) or an (n, n) dissimilarity
        (``"precomputed"``) or affinity (``"precomputed_graph"``, k largest) matrix.
    n_neighbors : int
    metric : str
    knn : {"auto", "exact", "approximate", "pynndescent"}
    random_state : numpy.random.RandomState or None
    verbose : bool

    Returns
    -------
    rows, cols : ndarray of int64
        Unsorted, possibly with fewer than k pairs per node for sparse precomputed input.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs._knn import view_neighbors
    >>> r, c = view_neighbors(np.array([[0.0], [1.0], [3.0]]), 1)
    >>> [(int(a), int(b)) for a, b in zip(r, c)]
    [(0, 1), (1, 0), (2, 1)]
    """
    n = X.shape[0]
    k = n_neighbors
    if metric in ("precomputed", "precomputed_graph"):
        largest = metric == "precomputed_graph"
        if sp.issparse(X):
            return _sparse_square_topk(X, k, largest)
        idx = _dense_square_topk(X, k, largest)
    else:
        if metric == "sqeuclidean":
            X, _ = scale_view(X)  # exact power of two: the neighbour ranking is unchanged
        approximate = knn in ("approximate", "pynndescent") or (
            knn == "auto" and n > APPROXIMATE_THRESHOLD)
        if approximate:
            method = "pynndescent" if knn == "pynndescent" else "approximate"
            idx = _approximate_features(X, k, metric, random_state, verbose, method)
        else:
            idx = _exact_features(X, k, metric)
    rows = np.repeat(np.arange(n, dtype=np.int64), idx.shape[1])
    return rows, idx.ravel().astype(np.int64, copy=False)


def knn_union_edges(views, n_neighbors, metric="sqeuclidean", *, knn="auto", random_state=None,
                    verbose=False):
    """The union over views of every node's k nearest neighbours: the common edge set.

    For every view and node p, the k + 1 nearest nodes (the node itself included) are found and
    p itself removed; the ordered pairs (p, q) of all views are pooled and deduplicated. The
    set is *not* symmetrised: (p, q) may be present without (q, p) (spec section 4.2).

    Parameters
    ----------
    views : list of array-like or sparse matrix, each with n rows
        The views (any SciPy sparse format; validated here: same number of rows, finite,
        numeric, 2-D).
    n_neighbors : int
        k, with 1 <= k < n.
    metric : str or list of str, default="sqeuclidean"
        Per view (a single string applies to all): ``"sqeuclidean"``, ``"cosine"`` (rows
        normalised; sparse rows stay sparse), ``"precomputed"`` ((n, n) dissimilarities, the k
        smallest off-diagonal entries per row; a sparse matrix offers only its stored entries)
        or ``"precomputed_graph"`` ((n, n) affinities, the k largest positive off-diagonal
        entries per row).
    knn : {"auto", "exact", "approximate", "pynndescent"}, default="auto"
        ``"exact"``: scikit-learn ``NearestNeighbors`` (tree or chunked brute force).
        ``"approximate"``: random-projection trees + NN-descent on every core, deterministic
        (dense views; sparse views use pynndescent). ``"pynndescent"``: pynndescent's
        NN-descent (single-threaded when seeded). Precomputed matrices are always read
        exactly. ``"auto"``: approximate above 50,000 samples.
    random_state : int, RandomState or None, default=None
        Seeds the approximate search. The same seed gives the same neighbours whatever the
        number of threads (``numba.set_num_threads``); None draws a seed from NumPy's global
        generator.
    verbose : bool, default=False
        Show progress over the views.

    Returns
    -------
    rows, cols : ndarray of int64, shape (m,)
        The edges, sorted row-major (by p, then q), unique, with p != q.
        n * k <= m <= V * n * k.

    Raises
    ------
    TypeError
        If ``views`` is not a list of numeric arrays or a parameter has the wrong type.
    ValueError
        If the views differ in length, are not 2-D, are empty or have NaN/inf, a precomputed
        view is not a nonnegative (n, n) matrix, ``n_neighbors`` is not in ``[1, n)``, or a
        metric or ``knn`` is unknown.

    Notes
    -----
    When duplicate samples tie at distance 0, which of them counts as "the node itself" is
    ambiguous; the farthest of the k + 1 is then dropped, so every node gets exactly k
    neighbours per feature view. Distance ties are otherwise broken by the neighbour search:
    the approximate search orders candidates by (distance, index), so of two equally near
    nodes the smaller index wins; scikit-learn's exact search has no documented tie order.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs import knn_union_edges
    >>> a = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> b = np.array([[0.0], [5.0], [6.0], [8.0]])
    >>> rows, cols = knn_union_edges([a, b], n_neighbors=1)
    >>> [(int(p), int(q)) for p, q in zip(rows, cols)]
    [(0, 1), (1, 0), (1, 2), (2, 1), (3, 2)]
    """
    views = check_views(views, accept_sparse=True, dtype=np.float64)
    n = views[0].shape[0]
    k = check_int(n_neighbors, "n_neighbors", low=1)
    if k >= n:
        raise ValueError(f"n_samples = {n} must be greater than n_neighbors = {k}")
    metrics = check_metric_list(metric, len(views))
    for i, (X, met) in enumerate(zip(views, metrics)):
        check_square_view(X, met, f"view {i}")
    check_choice(knn, "knn", KNN_METHODS)
    check_bool(verbose, "verbose")
    check_random_state_param(random_state)
    # neighbour lists (n, k + 1) per view and the pooled edge keys, before deduplication
    check_allocation(3 * len(views) * n * (k + 1), "n_neighbors", what="the neighbour lists")
    return union_edges(views, k, metrics, knn=knn, random_state=random_state, verbose=verbose)


def union_edges(views, k, metrics, *, knn="auto", random_state=None, verbose=False):
    """:func:`knn_union_edges` on validated views, a checked k and one metric per view."""
    from sklearn.utils import check_random_state

    n = views[0].shape[0]
    # None stays None: an unseeded pynndescent runs in parallel.
    rng = None if random_state is None else check_random_state(random_state)

    keys = []
    for X, met in progress(list(zip(views, metrics)), verbose=verbose, desc="kNN per view"):
        r, c = view_neighbors(X, k, met, knn=knn, random_state=rng, verbose=verbose)
        keys.append(r * n + c)
        del r, c
    keys = unique_keys(np.concatenate(keys))
    return np.divmod(keys, n)


def unique_keys(keys):
    """The distinct values of a 1-D integer array, ascending; ``keys`` is sorted in place.

    ``np.unique`` of NumPy 2 takes about 38 s on the 3 x 10^7 edge keys of a 10^6-node,
    3-view graph; a stable sort (timsort: the keys arrive as a few sorted runs, one per view
    or block) and one comparison pass take about 0.6 s.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs._knn import unique_keys
    >>> unique_keys(np.array([5, 1, 5, 3, 1])).tolist()
    [1, 3, 5]
    """
    keys.sort(kind="stable")
    if keys.size < 2:
        return keys
    keep = np.empty(keys.size, dtype=np.bool_)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]
