"""Top-k sparsification of a sparse affinity matrix: keep each row's k strongest edges, symmetrise.

This is the last step of graph construction (the fused graph is re-sparsified to its k nearest
neighbours per node, then made symmetric by averaging with its transpose). The selection runs in
one Numba pass over the CSR arrays with a bounded heap per row: O(nnz log k) time and O(nnz)
memory, no dense n x n array.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit

from normgraph._utils.numeric import max_abs, power_of_two_scale
from normgraph._utils.validation import check_array_param, check_int

__all__ = ["knn_sparsify"]


@njit(cache=True)
def _worse(val_a, col_a, val_b, col_b):
    """Whether entry a ranks below entry b: smaller value, or equal value and larger column."""
    return val_a < val_b or (val_a == val_b and col_a > col_b)


@njit(cache=True)
def _topk_mask(indptr, indices, data, k):
    """Mark the k largest off-diagonal positive entries of every CSR row.

    Ties are broken by the smaller column index. Returns the boolean keep mask over the stored
    entries and the number kept per row. The heap holds positions into ``data``; its root is
    the worst kept entry, replaced whenever a better one arrives.
    """
    n_rows = indptr.shape[0] - 1
    keep = np.zeros(data.shape[0], dtype=np.bool_)
    counts = np.zeros(n_rows, dtype=np.int64)
    heap = np.empty(k, dtype=np.int64)
    for row in range(n_rows):
        size = 0
        for pos in range(indptr[row], indptr[row + 1]):
            col = indices[pos]
            val = data[pos]
            if col == row or val <= 0.0:
                continue
            if size < k:
                # push and sift up: parent must be worse than (or equal to) its children
                child = size
                size += 1
                while child > 0:
                    parent = (child - 1) // 2
                    p = heap[parent]
                    if _worse(val, col, data[p], indices[p]):
                        heap[child] = p
                        child = parent
                    else:
                        break
                heap[child] = pos
            else:
                root = heap[0]
                if not _worse(data[root], indices[root], val, col):
                    continue
                # replace the root and sift down
                parent = 0
                while True:
                    child = 2 * parent + 1
                    if child >= size:
                        break
                    c = heap[child]
                    if child + 1 < size:
                        c2 = heap[child + 1]
                        if _worse(data[c2], indices[c2], data[c], indices[c]):
                            child += 1
                            c = c2
                    if _worse(data[c], indices[c], val, col):
                        heap[parent] = c
                        parent = child
                    else:
                        break
                heap[parent] = pos
        for h in range(size):
            keep[heap[h]] = True
        counts[row] = size
    return keep, counts


def _check_affinity(G, name="G"):
    """Validate a square, finite, nonnegative matrix (dense or any SciPy sparse format).

    Returns a private canonical float64 CSR copy and the dtype of the result (float32 input
    stays float32, anything else becomes float64).
    """
    in_dtype = getattr(G, "dtype", None)
    G = check_array_param(G, name, ndim=2, accept_sparse=True, ensure_nonnegative=True)
    if G.shape[0] != G.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) matrix, got shape {G.shape}")
    dtype = np.dtype(np.float32 if in_dtype == np.float32 else np.float64)
    G = sp.csr_matrix(G, dtype=np.float64, copy=True)
    G.sum_duplicates()
    G.sort_indices()
    return G, dtype


def knn_sparsify(G, n_neighbors):
    """Keep the ``n_neighbors`` largest entries of every row, then symmetrise by averaging.

    The diagonal is dropped first; then in every row the ``n_neighbors`` largest stored entries
    are kept (ties between equal values go to the smaller column index, so the result is
    deterministic); rows with fewer positive entries keep all of them. The result is
    ``(T + T.T) / 2`` for the row-sparsified matrix ``T``: an edge kept by only one of its two
    endpoints survives with half its weight.

    Parameters
    ----------
    G : sparse matrix or array-like of shape (n, n)
        Nonnegative, finite affinity matrix. It need not be symmetric.
    n_neighbors : int
        Number of entries kept per row, at least 1; ``n_neighbors >= n - 1`` keeps every
        off-diagonal entry (no memory is reserved beyond a row's length).

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, n)
        Symmetric, nonnegative, zero diagonal, sorted indices and no explicit zeros
        (a ``csr_array`` when ``G`` is a sparse array). float32 input stays float32, anything
        else becomes float64.

    Raises
    ------
    TypeError
        If ``G`` is not numeric or ``n_neighbors`` is not an integer.
    ValueError
        If ``G`` is not square, has NaN/inf or negative entries, or ``n_neighbors < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs._sparsify import knn_sparsify
    >>> G = np.array([[0., 3., 1., 2.],
    ...               [3., 0., 1., 1.],
    ...               [1., 1., 0., 5.],
    ...               [2., 1., 5., 0.]])
    >>> knn_sparsify(G, 1).toarray()
    array([[0., 3., 0., 0.],
           [3., 0., 0., 0.],
           [0., 0., 0., 5.],
           [0., 0., 5., 0.]])
    >>> knn_sparsify(G, 2).toarray()[1]  # the tie 1 = 1 goes to column 2, kept by row 1 only
    array([3. , 0. , 0.5, 0. ])
    """
    n_neighbors = check_int(n_neighbors, "n_neighbors", low=1)
    as_array = isinstance(G, sp.sparray)
    G, out_dtype = _check_affinity(G)
    n = G.shape[0]
    # A row has at most n - 1 off-diagonal entries: a larger k keeps them all.
    k = max(1, min(n_neighbors, n - 1))
    # Exact power-of-two scaling: the sum T + T^T cannot overflow near the float64 limit.
    scale = power_of_two_scale(max_abs(G.data))
    G.data /= scale
    # int32 or int64 index arrays as they are (no int64 copies of the indices)
    keep, counts = _topk_mask(G.indptr, G.indices, G.data, k)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    T = sp.csr_matrix((G.data[keep], G.indices[keep], indptr), shape=(n, n))
    S = (T + T.T.tocsr()) * 0.5
    S.data *= scale
    S = sp.csr_matrix(S, dtype=out_dtype)
    S.sum_duplicates()
    S.sort_indices()
    S.eliminate_zeros()
    return sp.csr_array(S) if as_array else S
