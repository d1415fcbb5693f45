"""Distributed top-k sparsification, symmetrisation and spectral embedding of the fused graph.

The unified graph is held as CSR row blocks (futures), one per row block of the views. The
top-k selection is per row, so it runs on each block with the in-memory kernel; ``(T + T^T)/2``
needs the transpose, obtained by a shuffle by row: every block sends the entries of each
column range to the block that owns those rows, and each block adds what it receives.

The spectral step runs ARPACK (Lanczos, :func:`scipy.sparse.linalg.eigsh`) on a
:class:`~scipy.sparse.linalg.LinearOperator` whose product maps the row blocks of the
normalised affinity over the workers: a product of a CSR row block is computed row by row
exactly as the product of the whole matrix, so the Lanczos iteration (and its result) is the
in-memory one. Lanczos is used rather than LOBPCG because the in-memory LOBPCG relies on an
algebraic multigrid preconditioner built from the whole matrix; ARPACK needs only products.
The Lanczos vectors and the (n, n_clusters) embedding live on the client (O(n) each).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from .._utils.numeric import max_abs, power_of_two_scale
from ._sparsify import _topk_mask
from ._spectral import _even_power_of_two_scale

__all__ = ["dask_unified_blocks", "dask_symmetric_graph", "dask_normalized_operator"]


def _unified_block(keys, S, start, stop, n):
    """CSR rows start..stop of the unified graph (the edges are row-major sorted)."""
    rows, cols = keys // n - start, keys % n
    indptr = np.zeros(stop - start + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=stop - start), out=indptr[1:])
    return sp.csr_matrix((S, cols.copy(), indptr), shape=(stop - start, n))


def _exp_similarity(S, scale):
    return np.exp(-S / (2.0 * scale))


def _sum(x):
    return float(np.sum(x, dtype=np.float64))


def dask_unified_blocks(client, keys, S_chunks, starts, n, dtype, dissimilarity):
    """The unified graph's CSR row blocks (futures); DGF turns the fused distance to similarity."""
    if dissimilarity:
        m = sum(client.gather(client.map(len, S_chunks)))
        scale = sum(client.gather(client.map(_sum, S_chunks))) / m
        if not scale > 0:
            raise ValueError("the fused dissimilarity is zero on every edge")
        S_chunks = client.map(_exp_similarity, S_chunks, scale=scale)
    stops = list(starts[1:]) + [n]
    return client.map(_unified_block, keys, S_chunks, starts, stops, n=n)


def _data_max(G):
    return max_abs(G.data) if G.nnz else 0.0


def _topk_block(G, start, k, scale):
    """The in-memory top-k kernel on rows start.. (columns shifted by -start, which keeps
    their order for the tie-break and makes the kernel's diagonal test hit the true diagonal)."""
    G = sp.csr_matrix(G, dtype=np.float64, copy=True)
    G.sum_duplicates()
    G.sort_indices()
    G.data /= scale
    keep, counts = _topk_mask(G.indptr.astype(np.int64, copy=False),
                              G.indices.astype(np.int64) - start, G.data, k)
    indptr = np.zeros(G.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return sp.csr_matrix((G.data[keep], G.indices[keep], indptr), shape=G.shape)


def _to_float64(G):
    return sp.csr_matrix(G, dtype=np.float64, copy=True)


def _columns_for(T, row_start, start, stop):
    """The entries of T (rows from ``row_start``) whose column lies in [start, stop),
    transposed: (rows - start, global columns, values)."""
    coo = T.tocoo()
    mask = (coo.col >= start) & (coo.col < stop)
    return coo.col[mask] - start, coo.row[mask] + row_start, coo.data[mask]


def _symmetric_block(T, start, scale, out_dtype, final, *parts):
    """Rows start.. of (T + T^T) / 2 (then rescaled and cleaned as in memory)."""
    nb, n = T.shape
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    data = np.concatenate([p[2] for p in parts])
    Tt = sp.csr_matrix((data, (rows, cols)), shape=(nb, n))
    S = (T + Tt) * 0.5
    if final:
        S.data *= scale
        S = sp.csr_matrix(S, dtype=out_dtype)
        S.sum_duplicates()
        S.sort_indices()
        S.eliminate_zeros()
    return S


def dask_symmetric_graph(client, blocks, starts, n, k, final_knn, out_dtype):
    """Row blocks of the symmetric graph: ``knn_sparsify`` (or ``(U + U^T)/2``) distributed."""
    stops = list(starts[1:]) + [n]
    if final_knn:
        k = max(1, min(k, n - 1))
        scale = power_of_two_scale(max(client.gather(client.map(_data_max, blocks))))
        T = client.map(_topk_block, blocks, starts, k=k, scale=scale)
    else:
        scale = 1.0
        T = client.map(_to_float64, blocks)
    out = []
    for Tb, start, stop in zip(T, starts, stops):
        parts = client.map(_columns_for, T, starts, start=start, stop=stop)
        out.append(client.submit(_symmetric_block, Tb, start, scale, out_dtype, final_knn,
                                 *parts))
    return out


# --------------------------------------------------------------------------------------------
# spectral: normalised affinity behind a LinearOperator
# --------------------------------------------------------------------------------------------

def _scaled_graph(G, scale):
    G = sp.csr_matrix(G, dtype=np.float64, copy=True)
    G.sum_duplicates()
    G.sort_indices()
    if G.nnz:
        G.data /= scale
    return G


def _degrees(G):
    return np.asarray(G.sum(axis=1), dtype=np.float64).ravel()


def _normalize_block(G, start, inv_sqrt):
    A = G.copy()
    row_of = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr)) + start
    A.data *= inv_sqrt[row_of] * inv_sqrt[A.indices]
    return A


def _matvec_block(A, x):
    return A @ x


def dask_normalized_operator(client, graph_blocks, starts, n):
    """``(op, degrees)``: the normalised affinity ``D^-1/2 G D^-1/2`` as a distributed operator."""
    top = max(client.gather(client.map(_data_max, graph_blocks)))
    scale = _even_power_of_two_scale(top) if top > 0 else 1.0
    G = client.map(_scaled_graph, graph_blocks, scale=scale)
    degrees = np.concatenate(client.gather(client.map(_degrees, G)))
    degrees[degrees == 0.0] = np.finfo(np.float64).eps
    inv_sqrt = client.scatter(1.0 / np.sqrt(degrees), broadcast=True)
    A_blocks = client.map(_normalize_block, G, starts, inv_sqrt=inv_sqrt)

    def matvec(x):
        xf = client.scatter(np.ascontiguousarray(x, dtype=np.float64).ravel(), broadcast=True)
        parts = client.gather(client.map(_matvec_block, A_blocks, x=xf, pure=False))
        return np.concatenate(parts)

    op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    return op, degrees, A_blocks
