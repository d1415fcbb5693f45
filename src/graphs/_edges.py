"""Per-view weights on the common edge set: distances, standardisation, Gaussian similarity.

Every view is measured on the same edge list (the union of the views' kNN lists), so each view
becomes one length-m vector and the fusion solver works on a V x m array (spec section 4).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import _edge_kernels as _k

__all__ = ["view_edge_weights", "standardize_edges", "gaussian_from_distance", "METRICS"]

#: Per-view metrics understood by :func:`view_edge_weights` and the clusterer.
METRICS = ("sqeuclidean", "cosine", "precomputed", "precomputed_graph")


def _check_edges(rows, cols, n):
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    if rows.ndim != 1 or rows.shape != cols.shape:
        raise ValueError(
            f"rows and cols must be 1-D arrays of the same length, got shapes {rows.shape} and "
            f"{cols.shape}"
        )
    if rows.size and (min(rows.min(), cols.min()) < 0 or max(rows.max(), cols.max()) >= n):
        raise ValueError(f"edge end points must lie in [0, {n}), the view's number of rows")
    return rows, cols


def _csr_parts(X):
    X = sp.csr_matrix(X, dtype=np.float64)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
        X.sort_indices()
    return (np.ascontiguousarray(X.indptr, dtype=np.int64),
            np.ascontiguousarray(X.indices, dtype=np.int64),
            np.ascontiguousarray(X.data, dtype=np.float64))


def _lookup(X, rows, cols, fill):
    """Entries of an (n, n) matrix at the given pairs; ``fill`` where a sparse one stores none."""
    if sp.issparse(X):
        indptr, indices, data = _csr_parts(X)
        out = np.empty(rows.shape[0])
        found = np.empty(rows.shape[0], dtype=np.int64)
        _k.csr_lookup_edges(indptr, indices, data, rows, cols, fill, out, found)
        return out
    return np.asarray(X, dtype=np.float64)[rows, cols]


def view_edge_weights(X, rows, cols, metric="sqeuclidean"):
    """One view's dissimilarity (or affinity) on every edge ``(rows[e], cols[e])``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features) or (n_samples, n_samples)
        The view: features for ``"sqeuclidean"``/``"cosine"``, a dissimilarity matrix for
        ``"precomputed"``, an affinity matrix for ``"precomputed_graph"``. Sparse views are
        read row by row, never densified.
    rows, cols : array-like of int, shape (m,)
        The edges' end points.
    metric : {"sqeuclidean", "cosine", "precomputed", "precomputed_graph"}, default="sqeuclidean"
        ``"sqeuclidean"``: ``||x_p - x_q||^2``. ``"cosine"``: the *squared* cosine distance
        ``(1 - cos(x_p, x_q))^2`` of the authors' pipeline (a zero row has cosine 0 with any
        row). ``"precomputed"``: ``X[p, q]``; a pair that a sparse ``X`` does not store gets
        the view's largest stored dissimilarity (it was not a near pair of this view).
        ``"precomputed_graph"``: ``X[p, q]``; a pair a sparse ``X`` does not store gets 0.

    Returns
    -------
    x : ndarray of shape (m,), float64
        The per-edge values. Cost O(m * d) (dense rows) or O(m * row nnz) (CSR rows).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs import view_edge_weights
    >>> X = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
    >>> view_edge_weights(X, [0, 1], [1, 2])
    array([25., 20.])
    >>> view_edge_weights(X, [1], [2], metric="cosine").round(4)  # (1 - 0.6)^2
    array([0.16])
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
    n = X.shape[0]
    rows, cols = _check_edges(rows, cols, n)
    m = rows.shape[0]
    if metric == "precomputed_graph":
        return _lookup(X, rows, cols, 0.0)
    if metric == "precomputed":
        fill = 0.0
        if sp.issparse(X):
            data = X.data
            fill = float(data.max()) if data.size else 0.0
        return _lookup(X, rows, cols, fill)

    out = np.empty(m)
    if sp.issparse(X):
        indptr, indices, data = _csr_parts(X)
        if metric == "sqeuclidean":
            _k.csr_sqeuclidean_edges(indptr, indices, data, rows, cols, out)
        else:
            norms = _k.csr_row_norms(indptr, data)
            _k.csr_cosine_edges(indptr, indices, data, norms, rows, cols, out)
    else:
        X = np.ascontiguousarray(X, dtype=np.float64)
        if metric == "sqeuclidean":
            _k.dense_sqeuclidean_edges(X, rows, cols, out)
        else:
            norms = np.sqrt(np.einsum("ij,ij->i", X, X))
            _k.dense_cosine_edges(X, norms, rows, cols, out)
    return out


def standardize_edges(x, *, view=None):
    """Standardise one view's edge distances: ``max((x - mean) / std + 1, 0)``.

    The standard deviation is the sample one (``ddof=1``, as MATLAB's ``std``), so distances of
    different views become comparable before they are fused (spec section 4.4).

    Parameters
    ----------
    x : array-like of shape (m,)
        One view's distances on the common edge set.
    view : int or str, optional
        Names the view in error messages.

    Returns
    -------
    z : ndarray of shape (m,), float64, nonnegative

    Raises
    ------
    ValueError
        If there are fewer than two edges or all distances are equal (std = 0): the view
        carries no information and standardisation is undefined.

    Examples
    --------
    >>> from normgraph.graphs import standardize_edges
    >>> standardize_edges([1.0, 2.0, 3.0])  # mean 2, std 1
    array([0., 1., 2.])
    >>> standardize_edges([0.0, 0.0, 10.0]).round(4)  # negatives clipped at 0
    array([0.4226, 0.4226, 2.1547])
    """
    x = np.asarray(x, dtype=np.float64)
    name = "" if view is None else f"view {view}: "
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"{name}need at least two edge distances to standardise, got {x.size}")
    mean = x.mean()
    std = x.std(ddof=1)
    if not np.isfinite(std) or std <= 1e-12 * max(abs(mean), np.finfo(float).tiny):
        raise ValueError(
            f"{name}all edge distances are equal (standard deviation 0): the view cannot "
            "tell its neighbours apart; drop it or check for duplicated/constant features"
        )
    z = (x - mean) / std + 1.0
    np.maximum(z, 0.0, out=z)
    return z


def gaussian_from_distance(x, *, view=None):
    """Gaussian similarity of (standardised) distances: ``exp(-x / (2 sigma^2))``, sigma = mean sqrt(x).

    Parameters
    ----------
    x : array-like of shape (m,), nonnegative
        Distances (squared-distance-like quantities, as returned by :func:`standardize_edges`).
    view : int or str, optional
        Names the view in error messages.

    Returns
    -------
    w : ndarray of shape (m,), values in (0, 1]

    Raises
    ------
    ValueError
        If x has negative entries or all entries are 0 (sigma = 0).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs import gaussian_from_distance
    >>> gaussian_from_distance([0.0, 4.0]).round(4)  # sigma = (0 + 2) / 2 = 1
    array([1.    , 0.1353])
    """
    x = np.asarray(x, dtype=np.float64)
    name = "" if view is None else f"view {view}: "
    if x.size and x.min() < 0:
        raise ValueError(f"{name}distances must be nonnegative")
    sigma = np.sqrt(x).mean() if x.size else 0.0
    if not sigma > 0:
        raise ValueError(f"{name}all distances are 0; the Gaussian bandwidth would be 0")
    return np.exp(-x / (2.0 * sigma * sigma))
