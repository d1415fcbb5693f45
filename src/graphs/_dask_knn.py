"""Distributed graph construction: sharded kNN, per-edge view weights and standardisation.

Every view is a list of row blocks held on the workers (futures). The kNN index is sharded by
row block: each block is indexed once (scikit-learn ``NearestNeighbors`` for exact search,
pynndescent for approximate search, as in memory), every query block is searched against
every shard, one shard after the other, each search merged into the query block's running
k + 1 best candidates per row (so a task holds O(rows x k) candidates however many shards
there are). Edge distances are computed per (block of p, block of q) pair by the in-memory
edge kernels on the two blocks.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._utils.validation import check_views
from ._edges import edge_values
from ._knn import _drop_self, _normalized_rows, unique_keys
from ._scaling import _max_abs, safe_scale

__all__ = ["prepare_blocks", "dask_union_edges", "dask_edge_weights", "shard_groups"]


# --------------------------------------------------------------------------------------------
# blocks
# --------------------------------------------------------------------------------------------

def _prep_block(block, start, view, metric):
    """Validate one row block (finite, numeric; sparse -> CSR) and report its summary."""
    try:
        (X,) = check_views([block], accept_sparse=True, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"view {view}, rows from {start}: {exc}") from None
    if metric == "cosine":
        sq = (np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X)
              else np.einsum("ij,ij->i", X, X))
        if np.any(sq == 0):
            raise ValueError(
                f"view {view}: row {start + int(np.flatnonzero(sq == 0)[0])} is all zeros; "
                "the distributed path needs nonzero rows for metric='cosine' (drop them, or "
                "fit in memory)"
            )
    return X


def _block_max_abs(X):
    return _max_abs(X.data if sp.issparse(X) else X)


def _scaled(X, s):
    if s == 1.0:
        return X
    if sp.issparse(X):
        X = sp.csr_matrix(X, copy=True)
        X.data /= s
        return X
    return X / s


def prepare_blocks(client, blocks, view, starts, metric):
    """Validated blocks (futures), divided by the view's global power-of-two scale (sqeuclidean)."""
    blocks = client.map(_prep_block, blocks, starts, view=view, metric=metric)
    if metric == "sqeuclidean":
        s = safe_scale(max(client.gather(client.map(_block_max_abs, blocks))))
        if s != 1.0:
            blocks = client.map(_scaled, blocks, s=s)
    return blocks


# --------------------------------------------------------------------------------------------
# sharded kNN
# --------------------------------------------------------------------------------------------

def _search_space(X, metric):
    return _normalized_rows(X) if metric == "cosine" else X


def _build_shard(X, metric, k1, approximate, seed):
    """The index of one row block (the shard)."""
    X = _search_space(X, metric)
    if approximate:
        from pynndescent import NNDescent

        index = NNDescent(X, metric="euclidean", n_neighbors=min(k1, X.shape[0] - 1) or 1,
                          random_state=seed, low_memory=True, compressed=False, n_jobs=1)
        index.prepare()
        return index
    from sklearn.neighbors import NearestNeighbors

    algorithm = "brute" if sp.issparse(X) else "auto"
    return NearestNeighbors(algorithm=algorithm, metric="euclidean").fit(X)


def _query_shard(index, Q, metric, k1, offset, n_shard, approximate):
    """(distances, global indices) of the k1 nearest shard rows of every query row."""
    Q = _search_space(Q, metric)
    kk = min(k1, n_shard)
    if approximate:
        idx, dist = index.query(Q, k=kk)
        idx = np.asarray(idx, dtype=np.int64)
    else:
        dist, idx = index.kneighbors(Q, n_neighbors=kk)
    return np.asarray(dist, dtype=np.float64), idx.astype(np.int64) + offset


def _top(dist, idx, k1):
    """The k1 best candidates per row, by distance then index (a total order: the indices of
    a row are distinct), best first."""
    order = np.lexsort((idx, dist), axis=1)[:, :k1]
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _search_merge(best, index, Q, metric, k1, offset, n_shard, approximate):
    """Search one shard and merge its candidates into the running top k1 of the query block.

    The running merge keeps a task's memory at O(rows x k1) however many shards there are;
    the top k1 of a union is the top k1 of the union of the parts' top k1, so the result is
    the one of merging all shards at once.
    """
    dist, idx = _query_shard(index, Q, metric, k1, offset, n_shard, approximate)
    if best is not None:
        dist = np.concatenate([best[0], dist], axis=1)
        idx = np.concatenate([best[1], idx], axis=1)
    return _top(dist, idx, k1)


def _block_keys(best, start, n):
    """The sorted unique edge keys ``p * n + q`` of a query block's top k1, self dropped."""
    top = best[1]
    rows_local = np.arange(top.shape[0])[:, None]
    missing = top < 0
    if missing.any():  # NN-descent left a slot empty: patch with self, as in memory
        top = top.copy()
        top[missing] = np.broadcast_to(rows_local + start, top.shape)[missing]
    kept = _drop_self(top - start) + start
    rows = np.repeat(np.arange(start, start + top.shape[0], dtype=np.int64), kept.shape[1])
    return rows * n + kept.ravel()


def _union_keys(*keys):
    return unique_keys(np.concatenate(keys))


def _stacked(*blocks):
    """Consecutive row blocks as one (a shard spanning several blocks)."""
    if len(blocks) == 1:
        return blocks[0]
    return sp.vstack(blocks, format="csr") if sp.issparse(blocks[0]) else np.vstack(blocks)


def _nbytes(X):
    if sp.issparse(X):
        return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
    return int(X.nbytes)


def shard_groups(sizes, max_rows):
    """Consecutive blocks grouped into shards of at most ``max_rows`` rows (a block larger
    than that is a shard of its own); ``max_rows=None``: one shard per block."""
    if max_rows is None:
        return [[b] for b in range(len(sizes))]
    groups, rows = [[]], 0
    for b, size in enumerate(sizes):
        if groups[-1] and rows + size > max_rows:
            groups.append([])
            rows = 0
        groups[-1].append(b)
        rows += size
    return groups


def _view_keys(client, blocks, starts, metric, k, n, approximate, seed, shard_bytes):
    k1 = k + 1
    sizes = np.diff(np.append(starts, n)).astype(np.int64).tolist()
    max_rows = None
    if shard_bytes is not None:
        # an index holds its rows about three times over (the stacked copy, the search space,
        # the index's own), plus its neighbour graph and search structures (~8 words per
        # neighbour)
        row_bytes = sum(client.gather(client.map(_nbytes, blocks))) / n
        max_rows = max(1, int(shard_bytes / (3 * row_bytes + 64 * k1)))
    groups = shard_groups(sizes, max_rows)
    shards = [client.submit(_build_shard, client.submit(_stacked, *[blocks[b] for b in g]),
                            metric=metric, k1=k1, approximate=approximate, seed=seed)
              for g in groups]
    shard_start = [starts[g[0]] for g in groups]
    shard_size = [sum(sizes[b] for b in g) for g in groups]
    home = {b: s for s, g in enumerate(groups) for b in g}
    keys = []
    for b, (q_block, start) in enumerate(zip(blocks, starts)):
        # the block's own shard first (its neighbours are mostly there), then the others
        order = [home[b]] + [s for s in range(len(shards)) if s != home[b]]
        best = None
        for s in order:
            best = client.submit(_search_merge, best, shards[s], q_block, metric, k1,
                                 shard_start[s], shard_size[s], approximate)
        keys.append(client.submit(_block_keys, best, start, n))
    return keys


def dask_union_edges(client, view_blocks, starts, metrics, k, n, *, approximate, seed,
                     shard_bytes=None):
    """Per row block, the sorted unique union edge keys ``p * n + q`` (futures).

    Consecutive row blocks are indexed together as one shard while the index fits in
    ``shard_bytes`` (None: one shard per block): fewer, larger shards mean fewer searches.
    """
    per_view = [_view_keys(client, blocks, starts, met, k, n, approximate, seed, shard_bytes)
                for blocks, met in zip(view_blocks, metrics)]
    return [client.submit(_union_keys, *keys) for keys in zip(*per_view)]


# --------------------------------------------------------------------------------------------
# edge weights
# --------------------------------------------------------------------------------------------

def _pair_values(keys, Xp, Xq, start_p, start_q, n, metric):
    """Distances of the block's edges whose q lies in block q: the in-memory edge kernels."""
    cols = keys % n
    pos = np.flatnonzero((cols >= start_q) & (cols < start_q + Xq.shape[0]))
    if pos.size == 0:
        return pos, np.empty(0)
    X = sp.vstack([Xp, Xq], format="csr") if sp.issparse(Xp) else np.vstack([Xp, Xq])
    r = keys[pos] // n - start_p
    c = cols[pos] - start_q + Xp.shape[0]
    x, factor = edge_values(X, r, c, metric)
    return pos, x * factor if factor != 1.0 else x


def _assemble(keys, *pairs):
    """The block's distances from the (positions, values) of its (p-block, q-block) pairs."""
    x = np.empty(keys.shape[0])
    for pos, values in pairs:
        x[pos] = values
    return x


def _divided(x, s):
    return x / s


def _sum(x):
    return float(np.sum(x))


def _moments(x, mean):
    if mean is None:
        return {"n": x.size, "sum": float(np.sum(x)), "max": _max_abs(x),
                "zeros": int(np.count_nonzero(x == 0))}
    d = x - mean
    return float(d @ d)


def _standardized(x, scale, mean, std):
    if scale != 1.0:
        x = x / scale
    z = (x - mean) / std + 1.0
    np.maximum(z, 0.0, out=z)
    return z


def _sqrt_sum(z, scale):
    return float(np.sqrt(z / scale if scale != 1.0 else z).sum())


def _gaussian(z, scale, sigma):
    if scale != 1.0:
        z = z / scale
    return np.exp(-z / (2.0 * sigma * sigma))


def _stack_views(dtype, *rows):
    return np.array(np.vstack(rows), dtype=dtype, order="C")


def _view_weights(client, keys, blocks, starts, n, metric, view, fusion):
    """One view's weights on every edge chunk: distances, standardised, Gaussian for SGF."""
    x = []
    for key_b, Xp, sp_ in zip(keys, blocks, starts):
        pairs = [client.submit(_pair_values, key_b, Xp, Xq, sp_, sq_, n, metric)
                 for Xq, sq_ in zip(blocks, starts)]
        x.append(client.submit(_assemble, key_b, *pairs))
    # standardisation from global reductions: scale guard, mean, then the centred squares
    mom = client.gather(client.map(_moments, x, mean=None))
    size = sum(m["n"] for m in mom)
    if size < 2:
        raise ValueError(
            f"view {view}: need at least two edge distances to standardise, got {size}"
        )
    scale = safe_scale(max(m["max"] for m in mom))
    scaled = client.map(_divided, x, s=scale) if scale != 1.0 else x
    mean = sum(client.gather(client.map(_sum, scaled))) / size
    std = np.sqrt(sum(client.gather(client.map(_moments, scaled, mean=mean))) / (size - 1))
    if not np.isfinite(std) or std <= 1e-12 * max(abs(mean), np.finfo(float).tiny):
        raise ValueError(
            f"view {view}: all edge distances are equal (standard deviation 0): the view "
            "cannot tell its neighbours apart; drop it or check for duplicated/constant features"
        )
    zeros = sum(m["zeros"] for m in mom)
    z = client.map(_standardized, x, scale=scale, mean=mean, std=std)
    if fusion != "similarity":
        return z, zeros, size
    zmax = max(client.gather(client.map(_max_abs, z)))
    gscale = safe_scale(zmax, even=True)
    sigma = sum(client.gather(client.map(_sqrt_sum, z, scale=gscale))) / size
    if not sigma > 0:
        raise ValueError(f"view {view}: all distances are 0; the Gaussian bandwidth would be 0")
    return client.map(_gaussian, z, scale=gscale, sigma=sigma), zeros, size


def dask_edge_weights(client, keys, view_blocks, starts, n, metrics, fusion, dtype):
    """The (V, m_b) weight chunks W (futures), one per row block, and the zero-edge counts."""
    per_view, zero_counts = [], []
    for i, (blocks, met) in enumerate(zip(view_blocks, metrics)):
        w_i, zeros, size = _view_weights(client, keys, blocks, starts, n, met, i, fusion)
        per_view.append(w_i)
        zero_counts.append((zeros, size))
    W_chunks = [client.submit(_stack_views, dtype, *rows) for rows in zip(*per_view)]
    return W_chunks, zero_counts

