"""Per-view weights on the common edge set: distances, standardisation, Gaussian similarity.

Every view is measured on the same edge list (the union of the views' kNN lists), so each view
becomes one length-m vector and the fusion solver works on a V x m array (spec section 4).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from normgraph._utils.numeric import max_abs
from normgraph._utils.validation import check_array_param, check_choice

from . import _edge_kernels as _k
from ._scaling import row_safe_scales, safe_scale, scale_rows, scale_view

__all__ = ["view_edge_weights", "standardize_edges", "gaussian_from_distance", "METRICS"]

#: Per-view metrics understood by :func:`view_edge_weights` and the clusterer.
METRICS = ("sqeuclidean", "cosine", "precomputed", "precomputed_graph")


def check_metric_list(metric, n_views):
    """One metric per view (a single string applies to all views), each one of ``METRICS``."""
    if isinstance(metric, str):
        check_choice(metric, "metric", METRICS)
        return [metric] * n_views
    if not isinstance(metric, (list, tuple)):
        raise TypeError(f"metric must be a string or a list of strings, got {metric!r}")
    if len(metric) != n_views:
        raise ValueError(f"metric lists {len(metric)} metrics for {n_views} views")
    return [check_choice(met, f"metric[{i}]", METRICS) for i, met in enumerate(metric)]


def check_square_view(X, metric, name):
    """A precomputed view must be a nonnegative (n, n) matrix."""
    if metric not in ("precomputed", "precomputed_graph"):
        return
    if X.shape[0] != X.shape[1]:
        raise ValueError(f"{name}: metric={metric!r} needs a square (n, n) matrix, got shape "
                         f"{X.shape}")
    data = X.data if sp.issparse(X) else X
    if data.size and data.min() < 0:
        kind = "graph" if metric == "precomputed_graph" else "distance"
        raise ValueError(f"{name}: a precomputed {kind} must be nonnegative")


def _check_edge_index(a, name):
    a = check_array_param(a, name, ndim=1, dtype=None, min_size=0)
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer node indices, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64)


def _check_edges(rows, cols, n):
    rows = _check_edge_index(rows, "rows")
    cols = _check_edge_index(cols, "cols")
    if rows.shape != cols.shape:
        raise ValueError(
            f"rows and cols must be 1-D arrays of the same length, got shapes {rows.shape} and "
            f"{cols.shape}"
        )
    if rows.size and (min(rows.min(), cols.min()) < 0 or max(rows.max(), cols.max()) >= n):
        raise ValueError(f"edge end points (rows, cols) must lie in [0, {n}), the view's "
                         "number of rows")
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
        Extreme magnitudes are handled by exact power-of-two rescaling: ``c * X`` gives
        ``c**2`` times the squared distances (the same cosine distances).

    Raises
    ------
    TypeError
        If ``X`` is not numeric, or ``rows``/``cols`` are not integer arrays (float indices
        are refused, never truncated).
    ValueError
        If ``X`` is not 2-D, is empty or has NaN/inf; a precomputed ``X`` is not square or
        has negative entries; ``rows`` and ``cols`` differ in length or point outside
        ``[0, n)``; ``metric`` is unknown; or the squared distances overflow float64.

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
    check_choice(metric, "metric", METRICS)
    X = check_array_param(X, "X", ndim=2, accept_sparse=True)
    check_square_view(X, metric, "X")
    rows, cols = _check_edges(rows, cols, X.shape[0])
    x, factor = edge_values(X, rows, cols, metric)
    if factor != 1.0:
        with np.errstate(over="ignore"):
            x = x * factor
        if not np.all(np.isfinite(x)):
            raise ValueError(
                f"X: the squared distances overflow float64 (largest |entry| "
                f"{max_abs(X.data if sp.issparse(X) else X):.3g}); the pipeline functions "
                "rescale internally, or divide X by a constant first"
            )
    return x


def edge_values(X, rows, cols, metric, *, parallel=False, out=None):
    """Per-edge values of a validated view, computed without overflow or underflow.

    Returns ``(x, factor)``: the true values are ``x * factor``, where ``factor`` is a power
    of two (``1.0`` unless the view's magnitudes are extreme). Every later stage is invariant
    to this factor, so the pipeline uses ``x`` as it is. With ``parallel=True`` the feature
    metrics run on every core (the same values: each edge is computed by one thread) and a
    dense float32 view is read as it is (no float64 copy); ``out`` (float64, length m) is
    filled instead of a new array for the feature metrics.
    """
    m = rows.shape[0]
    if metric == "precomputed_graph":
        return _lookup(X, rows, cols, 0.0), 1.0
    if metric == "precomputed":
        fill = 0.0
        if sp.issparse(X):
            data = X.data
            fill = float(data.max()) if data.size else 0.0
        return _lookup(X, rows, cols, fill), 1.0

    out = np.empty(m) if out is None else out
    factor = 1.0
    if metric == "sqeuclidean":
        X, scale = scale_view(X)
        factor = scale * scale
    else:  # cosine is invariant to the scale of every row
        X = scale_rows(X, row_safe_scales(X))
    if sp.issparse(X):
        indptr, indices, data = _csr_parts(X)
        if metric == "sqeuclidean":
            kernel = _k.csr_sqeuclidean_edges_parallel if parallel else _k.csr_sqeuclidean_edges
            kernel(indptr, indices, data, rows, cols, out)
        else:
            norms = _k.csr_row_norms(indptr, data)
            kernel = _k.csr_cosine_edges_parallel if parallel else _k.csr_cosine_edges
            kernel(indptr, indices, data, norms, rows, cols, out)
    else:
        keep32 = parallel and X.dtype == np.float32
        X = np.ascontiguousarray(X, dtype=np.float32 if keep32 else np.float64)
        if metric == "sqeuclidean":
            kernel = (_k.dense_sqeuclidean_edges_parallel if parallel
                      else _k.dense_sqeuclidean_edges)
            kernel(X, rows, cols, out)
        else:
            norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
            kernel = _k.dense_cosine_edges_parallel if parallel else _k.dense_cosine_edges
            kernel(X, norms, rows, cols, out)
    return out, factor


def standardized_weights_into(x, out, *, similarity, view):
    """Standardise one view's edge values and write its weights into ``out``, on every core.

    The pipeline's :func:`standardize_edges` followed (``similarity=True``) by
    :func:`gaussian_from_distance`, or (``False``) by nothing, in parallel passes with fixed-chunk
    sums (results independent of the thread count) and without temporaries: ``x`` (float64)
    is overwritten by the standardised values, ``out`` (float32 or float64, length m) receives
    the weights. Returns the number of zero values of ``x`` (for the duplicate warning).
    Magnitudes outside the range where the squares are safe are first divided by a power of
    two (exact), so the weights do not depend on the distances' scale.
    """
    m = x.shape[0]
    name = f"view {view}: "
    if m < 2:
        raise ValueError(f"{name}need at least two edge distances to standardise, got {m}")
    total, largest, n_zero = _k.edge_moments(x)
    scale = safe_scale(largest)
    if scale != 1.0:
        # extreme magnitudes: divide by a power of two (exact) and run the same kernels, so
        # that the weights are bitwise those of the unscaled distances
        np.divide(x, scale, out=x)
        total, largest, n_zero = _k.edge_moments(x)
    mean = total / m
    std = float(np.sqrt(_k.centered_square_sum(x, mean) / (m - 1)))
    if not np.isfinite(std) or std <= 1e-12 * max(abs(mean), np.finfo(float).tiny):
        raise ValueError(
            f"{name}all edge distances are equal (standard deviation 0): the view cannot "
            "tell its neighbours apart; drop it or check for duplicated/constant features"
        )
    sqrt_sum = _k.standardize_inplace(x, mean, std)
    if not similarity:
        _k.copy_into(x, out)
        return int(n_zero)
    sigma = sqrt_sum / m
    if not sigma > 0:
        raise ValueError(f"{name}all distances are 0; the Gaussian bandwidth would be 0")
    _k.gaussian_into(x, 2.0 * sigma * sigma, out)
    return int(n_zero)


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
    x = check_array_param(x, "x", ndim=1, min_size=0)
    name = "x: " if view is None else f"view {view}: "
    if x.size < 2:
        raise ValueError(f"{name}need at least two edge distances to standardise, got {x.size}")
    # (x - mean) / std is invariant to the scale of x: divide by a power of two first when
    # the squares would overflow or underflow (exact; ordinary data are left alone).
    scale = safe_scale(max_abs(x))
    if scale != 1.0:
        x = x / scale
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
    x = check_array_param(x, "x", ndim=1, min_size=0)
    name = "x: " if view is None else f"view {view}: "
    if x.size and x.min() < 0:
        raise ValueError(f"{name}distances must be nonnegative")
    # exp(-x / (2 sigma^2)) is invariant to the scale of x; a power of four keeps sqrt exact.
    scale = safe_scale(max_abs(x), even=True)
    if scale != 1.0:
        x = x / scale
    sigma = np.sqrt(x).mean() if x.size else 0.0
    if not sigma > 0:
        raise ValueError(f"{name}all distances are 0; the Gaussian bandwidth would be 0")
    return np.exp(-x / (2.0 * sigma * sigma))
