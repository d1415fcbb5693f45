"""Numba kernels: one view's distance on an arbitrary list of node pairs (edges).

Every kernel walks the edge list once and touches only the two rows involved, so the cost is
O(m * d) for m edges over dense rows and O(m * (nnz_p + nnz_q)) over CSR rows: a view is never
densified and no n x n array exists. Inputs are assumed validated (C-contiguous float64 data,
int64 indices, CSR with sorted unique column indices, 0 <= rows, cols < n); the front end is
:func:`normgraph.graphs.view_edge_weights`.

The cosine kernels return the *squared* cosine distance ``(1 - cos)**2`` of the authors'
pipeline; a row of zeros has cosine 0 with every other row (distance 1).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "dense_sqeuclidean_edges",
    "dense_cosine_edges",
    "csr_sqeuclidean_edges",
    "csr_cosine_edges",
    "csr_row_norms",
    "csr_lookup_edges",
    "dense_sqeuclidean_edges_parallel",
    "dense_cosine_edges_parallel",
    "csr_sqeuclidean_edges_parallel",
    "csr_cosine_edges_parallel",
    "edge_moments",
    "centered_square_sum",
    "standardize_inplace",
    "gaussian_into",
    "copy_into",
]


@njit(cache=True)
def dense_sqeuclidean_edges(X, rows, cols, out):
    """out[e] = ||X[rows[e]] - X[cols[e]]||^2 (differences first: exact for near points)."""
    d = X.shape[1]
    for e in range(rows.shape[0]):
        p = rows[e]
        q = cols[e]
        acc = 0.0
        for j in range(d):
            t = X[p, j] - X[q, j]
            acc += t * t
        out[e] = acc


@njit(cache=True)
def _cosine_from_dot(dot, norm_p, norm_q):
    if norm_p == 0.0 or norm_q == 0.0:
        c = 0.0
    else:
        c = dot / (norm_p * norm_q)
        # Round-off can push |cos| a hair above 1; the distance must stay in [0, 2].
        if c > 1.0:
            c = 1.0
        elif c < -1.0:
            c = -1.0
    t = 1.0 - c
    return t * t


@njit(cache=True)
def dense_cosine_edges(X, norms, rows, cols, out):
    """out[e] = (1 - cos(X[rows[e]], X[cols[e]]))^2 with precomputed row norms."""
    d = X.shape[1]
    for e in range(rows.shape[0]):
        p = rows[e]
        q = cols[e]
        acc = 0.0
        for j in range(d):
            acc += X[p, j] * X[q, j]
        out[e] = _cosine_from_dot(acc, norms[p], norms[q])


@njit(cache=True)
def csr_row_norms(indptr, data):
    """Euclidean norm of every CSR row."""
    n = indptr.shape[0] - 1
    norms = np.empty(n)
    for i in range(n):
        acc = 0.0
        for t in range(indptr[i], indptr[i + 1]):
            acc += data[t] * data[t]
        norms[i] = np.sqrt(acc)
    return norms


@njit(cache=True)
def csr_sqeuclidean_edges(indptr, indices, data, rows, cols, out):
    """out[e] = ||x_p - x_q||^2 over CSR rows by a merge of their sorted column indices."""
    for e in range(rows.shape[0]):
        a = indptr[rows[e]]
        a_end = indptr[rows[e] + 1]
        b = indptr[cols[e]]
        b_end = indptr[cols[e] + 1]
        acc = 0.0
        while a < a_end and b < b_end:
            ia = indices[a]
            ib = indices[b]
            if ia == ib:
                t = data[a] - data[b]
                a += 1
                b += 1
            elif ia < ib:
                t = data[a]
                a += 1
            else:
                t = data[b]
                b += 1
            acc += t * t
        while a < a_end:
            acc += data[a] * data[a]
            a += 1
        while b < b_end:
            acc += data[b] * data[b]
            b += 1
        out[e] = acc


@njit(cache=True)
def csr_cosine_edges(indptr, indices, data, norms, rows, cols, out):
    """out[e] = (1 - cos(x_p, x_q))^2 over CSR rows: sparse dot by merge, norms given."""
    for e in range(rows.shape[0]):
        p = rows[e]
        q = cols[e]
        a = indptr[p]
        a_end = indptr[p + 1]
        b = indptr[q]
        b_end = indptr[q + 1]
        acc = 0.0
        while a < a_end and b < b_end:
            ia = indices[a]
            ib = indices[b]
            if ia == ib:
                acc += data[a] * data[b]
                a += 1
                b += 1
            elif ia < ib:
                a += 1
            else:
                b += 1
        out[e] = _cosine_from_dot(acc, norms[p], norms[q])


@njit(cache=True)
def csr_lookup_edges(indptr, indices, data, rows, cols, fill, out, found):
    """out[e] = M[rows[e], cols[e]] for a CSR matrix M by binary search; ``fill`` if absent.

    ``found[e]`` is set to 1 where the entry is stored, 0 otherwise.
    """
    for e in range(rows.shape[0]):
        lo = indptr[rows[e]]
        hi = indptr[rows[e] + 1]
        target = cols[e]
        while lo < hi:
            mid = (lo + hi) >> 1
            if indices[mid] < target:
                lo = mid + 1
            else:
                hi = mid
        if lo < indptr[rows[e] + 1] and indices[lo] == target:
            out[e] = data[lo]
            found[e] = 1
        else:
            out[e] = fill
            found[e] = 0



# --------------------------------------------------------------------------------------------
# Parallel variants (every core) for the in-memory estimator. Each edge is written by exactly
# one iteration, so these give the serial kernels' values bit for bit; the reductions below
# sum fixed chunks of edges and add the chunk sums in chunk order, so their results do not
# depend on the number of threads either.
# --------------------------------------------------------------------------------------------

# Edges per chunk of the parallel reductions (fixed, never derived from the thread count).
_CHUNK = 16384


@njit(cache=True, parallel=True)
def dense_sqeuclidean_edges_parallel(X, rows, cols, out):  # pragma: no cover - compiled
    """:func:`dense_sqeuclidean_edges` on every core (float32 or float64 X, float64 sums)."""
    d = X.shape[1]
    for e in prange(rows.shape[0]):
        p = rows[e]
        q = cols[e]
        acc = 0.0
        for j in range(d):
            t = np.float64(X[p, j]) - np.float64(X[q, j])
            acc += t * t
        out[e] = acc


@njit(cache=True, parallel=True)
def dense_cosine_edges_parallel(X, norms, rows, cols, out):  # pragma: no cover - compiled
    """:func:`dense_cosine_edges` on every core (float32 or float64 X, float64 sums)."""
    d = X.shape[1]
    for e in prange(rows.shape[0]):
        p = rows[e]
        q = cols[e]
        acc = 0.0
        for j in range(d):
            acc += np.float64(X[p, j]) * np.float64(X[q, j])
        out[e] = _cosine_from_dot(acc, norms[p], norms[q])


@njit(cache=True, parallel=True)
def csr_sqeuclidean_edges_parallel(indptr, indices, data, rows, cols, out):  # pragma: no cover
    """:func:`csr_sqeuclidean_edges` on every core, one chunk of edges per task."""
    m = rows.shape[0]
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        lo = c * _CHUNK
        hi = min(m, lo + _CHUNK)
        csr_sqeuclidean_edges(indptr, indices, data, rows[lo:hi], cols[lo:hi], out[lo:hi])


@njit(cache=True, parallel=True)
def csr_cosine_edges_parallel(indptr, indices, data, norms, rows, cols, out):  # pragma: no cover
    """:func:`csr_cosine_edges` on every core, one chunk of edges per task."""
    m = rows.shape[0]
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        lo = c * _CHUNK
        hi = min(m, lo + _CHUNK)
        csr_cosine_edges(indptr, indices, data, norms, rows[lo:hi], cols[lo:hi], out[lo:hi])


@njit(cache=True)
def _neumaier(acc, comp, v):  # pragma: no cover - compiled
    """One step of Neumaier's compensated sum: returns the new ``(acc, comp)``."""
    t = acc + v
    if abs(acc) >= abs(v):
        comp += (acc - t) + v
    else:
        comp += (v - t) + acc
    return t, comp


@njit(cache=True, parallel=True)
def edge_moments(x):  # pragma: no cover - compiled
    """``(sum, largest |x|, number of zeros)`` of a float64 vector, in fixed chunks.

    The sums are compensated (Neumaier), so they agree with NumPy's pairwise sums to about
    one rounding, whatever the length.
    """
    m = x.shape[0]
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    part_sum = np.zeros(n_chunks)
    part_max = np.zeros(n_chunks)
    part_zero = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        acc = 0.0
        comp = 0.0
        big = 0.0
        zeros = 0
        for e in range(c * _CHUNK, min(m, (c + 1) * _CHUNK)):
            v = x[e]
            acc, comp = _neumaier(acc, comp, v)
            big = max(big, abs(v))
            if v == 0.0:
                zeros += 1
        part_sum[c] = acc + comp
        part_max[c] = big
        part_zero[c] = zeros
    return _chunk_total(part_sum), part_max.max() if n_chunks else 0.0, part_zero.sum()


@njit(cache=True)
def _chunk_total(part):  # pragma: no cover - compiled
    """Compensated sum of the chunk sums, in chunk order."""
    acc = 0.0
    comp = 0.0
    for c in range(part.shape[0]):
        acc, comp = _neumaier(acc, comp, part[c])
    return acc + comp


@njit(cache=True, parallel=True)
def centered_square_sum(x, mean):  # pragma: no cover - compiled
    """``sum((x - mean)^2)`` in fixed chunks (compensated)."""
    m = x.shape[0]
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    part = np.zeros(n_chunks)
    for c in prange(n_chunks):
        acc = 0.0
        comp = 0.0
        for e in range(c * _CHUNK, min(m, (c + 1) * _CHUNK)):
            t = x[e] - mean
            acc, comp = _neumaier(acc, comp, t * t)
        part[c] = acc + comp
    return _chunk_total(part)


@njit(cache=True, parallel=True)
def standardize_inplace(x, mean, std):  # pragma: no cover - compiled
    """``x <- max((x - mean) / std + 1, 0)`` in place; returns ``sum(sqrt(x))`` (fixed chunks,
    compensated)."""
    m = x.shape[0]
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    part = np.zeros(n_chunks)
    for c in prange(n_chunks):
        acc = 0.0
        comp = 0.0
        for e in range(c * _CHUNK, min(m, (c + 1) * _CHUNK)):
            z = (x[e] - mean) / std + 1.0
            z = max(z, 0.0)
            x[e] = z
            acc, comp = _neumaier(acc, comp, np.sqrt(z))
        part[c] = acc + comp
    return _chunk_total(part)


@njit(cache=True, parallel=True)
def gaussian_into(z, denom, out):  # pragma: no cover - compiled
    """``out[e] = exp(-z[e] / denom)`` (out may be float32)."""
    for e in prange(z.shape[0]):
        out[e] = np.exp(-z[e] / denom)


@njit(cache=True, parallel=True)
def copy_into(z, out):  # pragma: no cover - compiled
    """``out[e] = z[e]`` on every core (out may be float32)."""
    for e in prange(z.shape[0]):
        out[e] = z[e]
