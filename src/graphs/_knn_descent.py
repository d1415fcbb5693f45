"""Deterministic parallel approximate k nearest neighbours: random-projection trees + NN-descent.

The default approximate search of :mod:`._knn`. It follows NN-descent (Dong, Moses & Li, WWW
2011) with a random-projection-forest start (as in Dasgupta & Freund 2008 and pynndescent),
rearranged so that the result is a function of the data and the seed only, never of the thread
count or the scheduling:

* random numbers are a hash of ``(seed, tree, node, draw)`` (SplitMix64), not a stream that
  threads consume in some order;
* each tree is built by one thread (trees in parallel); within one tree the leaves are disjoint,
  so the leaf joins of one tree update disjoint neighbour lists in parallel;
* every refinement round reads the *previous* round's lists only: the local joins (every
  pair of nodes in one node's list or reverse list, one of them new, measured once with
  their coordinates side by side in cache) run on all threads and buffer their proposals,
  grouped by the target's range of nodes; each range's proposals are then offered to its new
  lists (a second buffer) by one thread, a range small enough for its lists to stay in cache;
* reverse lists are gathered by ranges of nodes, each range by one thread reading all lists
  in increasing order, so their content and order are fixed too;
* a neighbour list keeps the k smallest candidates under the total order (distance, index), so
  its content does not depend on the order in which candidates arrive, and exact distance ties
  go to the smaller index;
* distances are sums of squared differences in a fixed order (no Gram-matrix shortcut), so a
  pair's distance is bitwise the same whichever node evaluates it.

Memory is O(n k) beyond the data: two (n, k) lists, the capped reverse lists and the
proposal buffers of one batch of chunks (about 100 MB at n = 10^6 with lists of 24).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

__all__ = ["descent_neighbors"]

# Work units of a parallel sweep: a fixed number, so that the split never depends on threads.
_CHUNKS = 256
# Chunks whose local-join proposals are buffered before they are applied, and the node
# ranges (one thread each) the proposals are applied to.
_JOIN_BATCH = 16
_APPLY_PARTS = 64

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def _mix(x):
    """SplitMix64 finaliser: a bijective scramble of a 64-bit word."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def _hash(seed, a, b, c):
    h = _mix(np.uint64(seed) + _GOLDEN)
    h = _mix(h ^ (np.uint64(a) + _GOLDEN))
    h = _mix(h ^ (np.uint64(b) + _GOLDEN))
    return _mix(h ^ (np.uint64(c) + _GOLDEN))


@njit(cache=True, inline="always")
def _sqdist(X, i, j):
    d = X.shape[1]
    s = X[i, 0] - X[i, 0]  # zero in the data's dtype: float32 data, float32 sums
    for t in range(d):
        z = X[i, t] - X[j, t]
        s += z * z
    return s


@njit(cache=True, inline="always")
def _distances_after(Yt, i, m, dd):
    """``dd[j]`` = squared distance of joined nodes i and j for j in i+1 .. m-1: summed over
    the coordinates in order, as :func:`_sqdist`, four pairs at a time (independent sums the
    compiler keeps in one vector register)."""
    dim = Yt.shape[0]
    zero = Yt[0, i] - Yt[0, i]  # 0 in the data's dtype
    j = i + 1
    while j + 4 <= m:
        d0 = zero
        d1 = zero
        d2 = zero
        d3 = zero
        for t in range(dim):
            y = Yt[t, i]
            z0 = y - Yt[t, j]
            z1 = y - Yt[t, j + 1]
            z2 = y - Yt[t, j + 2]
            z3 = y - Yt[t, j + 3]
            d0 += z0 * z0
            d1 += z1 * z1
            d2 += z2 * z2
            d3 += z3 * z3
        dd[j] = d0
        dd[j + 1] = d1
        dd[j + 2] = d2
        dd[j + 3] = d3
        j += 4
    while j < m:
        d = zero
        for t in range(dim):
            z = Yt[t, i] - Yt[t, j]
            d += z * z
        dd[j] = d
        j += 1


@njit(cache=True, inline="always")
def _less(d1, i1, d2, i2, lab):
    """(d1, i1) < (d2, i2) in the order (distance, original index ``lab[i]``)."""
    return d1 < d2 or (d1 == d2 and lab[i1] < lab[i2])


@njit(cache=True, inline="always")
def _heap_replace_root(ind, dst, p, j, d, lab):
    """Replace the largest entry of row p's max-heap by (d, j) and restore the heap."""
    k = ind.shape[1]
    pos = 0
    while True:
        left = 2 * pos + 1
        if left >= k:
            break
        right = left + 1
        big = left
        if right < k and _less(dst[p, left], ind[p, left], dst[p, right], ind[p, right], lab):
            big = right
        if _less(d, j, dst[p, big], ind[p, big], lab):
            ind[p, pos] = ind[p, big]
            dst[p, pos] = dst[p, big]
            pos = big
        else:
            break
    ind[p, pos] = j
    dst[p, pos] = d


@njit(cache=True, inline="always")
def _push_checked(ind, dst, p, j, d, lab):
    """Offer (d, j) to row p: kept if smaller than the row's largest and not yet present."""
    if not _less(d, j, dst[p, 0], ind[p, 0], lab):
        return
    for s in range(ind.shape[1]):
        if ind[p, s] == j:
            return
    _heap_replace_root(ind, dst, p, j, d, lab)


# ------------------------------------------------------------------------------------------
# random-projection forest
# ------------------------------------------------------------------------------------------

@njit(cache=True)
def _build_tree(X, seed, tree, leaf_size, perm, bounds):
    """One random-projection tree: ``perm`` ordered leaf by leaf, leaf b = perm[bounds[b]:bounds[b+1]].

    A node splits on the perpendicular bisector of two of its points drawn by the hash; when
    that leaves one side empty (duplicates) it splits in the middle of its order. Returns the
    number of leaves.
    """
    n, dim = X.shape
    for i in range(n):
        perm[i] = i
    margin = np.empty(n, dtype=np.float64)
    tmp = np.empty(n, dtype=perm.dtype)
    normal = np.empty(dim, dtype=np.float64)
    stack_lo = np.empty(64 + 2 * n // max(leaf_size, 1), dtype=np.int64)
    stack_hi = np.empty_like(stack_lo)
    top = 0
    stack_lo[0] = 0
    stack_hi[0] = n
    top = 1
    n_leaves = 0
    node = 0
    while top > 0:
        top -= 1
        lo = stack_lo[top]
        hi = stack_hi[top]
        size = hi - lo
        if size <= leaf_size:
            bounds[n_leaves] = lo
            n_leaves += 1
            continue
        node += 1
        a = perm[lo + np.int64(_hash(seed, tree, node, 0) % np.uint64(size))]
        b = perm[lo + np.int64(_hash(seed, tree, node, 1) % np.uint64(size))]
        tries = 2
        while tries < 8 and _sqdist(X, a, b) == 0.0:
            b = perm[lo + np.int64(_hash(seed, tree, node, tries) % np.uint64(size))]
            tries += 1
        offset = 0.0
        for t in range(dim):
            normal[t] = X[a, t] - X[b, t]
            offset += normal[t] * 0.5 * (X[a, t] + X[b, t])
        # stable two-way partition of perm[lo:hi] by the side of the hyperplane
        n_left = 0
        for i in range(lo, hi):
            s = -offset
            for t in range(dim):
                s += normal[t] * X[perm[i], t]
            margin[i] = s
            if s > 0.0:
                n_left += 1
        if n_left == 0 or n_left == size:
            mid = lo + size // 2
        else:
            # reorder: positive margins first, both sides keeping their relative order
            left = 0
            right = n_left
            for i in range(lo, hi):
                if margin[i] > 0.0:
                    tmp[left] = perm[i]
                    left += 1
                else:
                    tmp[right] = perm[i]
                    right += 1
            for i in range(size):
                perm[lo + i] = tmp[i]
            mid = lo + n_left
        stack_lo[top] = mid
        stack_hi[top] = hi
        top += 1
        stack_lo[top] = lo
        stack_hi[top] = mid
        top += 1
    bounds[n_leaves] = n
    return n_leaves


@njit(cache=True, parallel=True)
def _build_forest(X, seed, n_trees, leaf_size, perms, bounds, n_leaves):
    for t in prange(n_trees):
        n_leaves[t] = _build_tree(X, seed, t, leaf_size, perms[t], bounds[t])


@njit(cache=True, parallel=True)
def _fill_missing(ind, dst, X, seed, lab):
    """Rows left with empty slots (a node alone in small leaves) get other nodes, from a hashed start."""
    n, k = ind.shape
    for p in prange(n):
        if ind[p, 0] >= 0:  # the heap root is the largest entry: -1 (distance inf) if any is empty
            continue
        start = np.int64(_hash(seed, 0xF111, p, 0) % np.uint64(n))
        for t in range(n):
            j = (start + t) % n
            if j == p:
                continue
            _push_checked(ind, dst, p, j, _sqdist(X, p, j), lab)
            if ind[p, 0] >= 0:
                break


# ------------------------------------------------------------------------------------------
# NN-descent rounds
# ------------------------------------------------------------------------------------------

def _reverse_lists(ind, dst, isnew, max_reverse, lab):
    """Per node q the (at most ``max_reverse``) nodes p with q in p's list, nearest first.

    Returns CSR arrays (ptr, src, n_new): the p in whose list q is new come first (nearest
    first), ``n_new[q]`` of them, then the others (nearest first).
    """
    n = ind.shape[0]
    # one range of nodes per thread, each thread reading all lists (the content and order of
    # the reverse lists do not depend on the number of ranges)
    parts = numba.get_num_threads()
    count = np.zeros(n + 1, dtype=np.int64)
    _count_reverse(ind, count, parts)
    full_ptr = np.cumsum(count)
    full_src = np.empty(full_ptr[n], dtype=ind.dtype)
    full_d = np.empty(full_ptr[n], dtype=dst.dtype)
    full_new = np.empty(full_ptr[n], dtype=np.bool_)
    _scatter_reverse(ind, dst, isnew, full_ptr, full_src, full_d, full_new, parts)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.minimum(np.diff(full_ptr), max_reverse), out=ptr[1:])
    src = np.empty(ptr[n], dtype=ind.dtype)
    n_new = np.empty(n, dtype=np.int64)
    _select_reverse(full_ptr, full_src, full_d, full_new, ptr, src, n_new, lab)
    return ptr, src, n_new


@njit(cache=True, parallel=True)
def _count_reverse(ind, count, parts):
    """``count[q + 1]`` = number of lists holding q; each of ``parts`` ranges of q is counted
    by one thread, reading all lists."""
    n, k = ind.shape
    for part in prange(parts):
        lo = part * n // parts
        hi = (part + 1) * n // parts
        for p in range(n):
            for s in range(k):
                q = ind[p, s]
                if lo <= q < hi:
                    count[q + 1] += 1


@njit(cache=True, parallel=True)
def _scatter_reverse(ind, dst, isnew, full_ptr, full_src, full_d, full_new, parts):
    """Write every list entry (p, s) to q = ind[p, s]'s reverse range, in increasing p (each
    range of q by one thread)."""
    n, k = ind.shape
    for part in prange(parts):
        lo = part * n // parts
        hi = (part + 1) * n // parts
        fill = full_ptr[lo:hi].copy()
        for p in range(n):
            for s in range(k):
                q = ind[p, s]
                if lo <= q < hi:
                    e = fill[q - lo]
                    full_src[e] = p
                    full_d[e] = dst[p, s]
                    full_new[e] = isnew[p, s]
                    fill[q - lo] += 1


@njit(cache=True, parallel=True)
def _select_reverse(full_ptr, full_src, full_d, full_new, ptr, src, n_new, lab):
    """Keep, per node, all its reverse entries, or when there are more than its share the
    smallest in (distance, index) (insertion sort); write the new ones first, then the
    others (the join uses them as a set: the order within each part does not matter)."""
    n = ptr.shape[0] - 1
    for q in prange(n):
        lo = full_ptr[q]
        hi = full_ptr[q + 1]
        m = ptr[q + 1] - ptr[q]
        o = ptr[q]
        n_new[q] = 0
        if m == 0:
            continue
        if hi - lo == m:
            n_new[q] = _split_new_first(full_src, full_new, lo, hi, src, o)
            continue
        filled = 0
        for e in range(lo, hi):
            d = full_d[e]
            j = full_src[e]
            nw = full_new[e]  # read before the shift below, which may overwrite entry e
            if filled == m and not _less(d, j, full_d[lo + m - 1], full_src[lo + m - 1], lab):
                continue
            # insertion into the sorted prefix full_*[lo:lo+filled] (reused as scratch)
            pos = filled if filled < m else m - 1
            while pos > 0 and _less(d, j, full_d[lo + pos - 1], full_src[lo + pos - 1], lab):
                full_d[lo + pos] = full_d[lo + pos - 1]
                full_src[lo + pos] = full_src[lo + pos - 1]
                full_new[lo + pos] = full_new[lo + pos - 1]
                pos -= 1
            full_d[lo + pos] = d
            full_src[lo + pos] = j
            full_new[lo + pos] = nw
            if filled < m:
                filled += 1
        n_new[q] = _split_new_first(full_src, full_new, lo, lo + m, src, o)


@njit(cache=True, inline="always")
def _split_new_first(full_src, full_new, lo, hi, src, o):
    """Copy ``full_src[lo:hi]`` to ``src[o:]``, the new entries first; returns their number."""
    a = o
    for i in range(lo, hi):
        if full_new[i]:
            src[a] = full_src[i]
            a += 1
    n_new = a - o
    for i in range(lo, hi):
        if not full_new[i]:
            src[a] = full_src[i]
            a += 1
    return n_new


@njit(cache=True, inline="always")
def _joined_nodes(ind, isnew, rptr, rsrc, rnew, u, nb, fl, tmp):
    """The nodes joined at u: its list and its reverse list, each once, the new ones (new in
    either) first, each part in list-then-reverse order; returns (their number, the number of
    new ones), the nodes written to ``nb`` (``fl`` and ``tmp`` are scratch)."""
    k = ind.shape[1]
    m = 0
    for s in range(k):
        q = ind[u, s]
        if q >= 0:
            nb[m] = q
            fl[m] = isnew[u, s]
            m += 1
    n_fwd = m
    for e in range(rptr[u], rptr[u + 1]):
        q = rsrc[e]
        nw = e - rptr[u] < rnew[u]
        seen = False
        for t in range(n_fwd):
            if nb[t] == q:
                seen = True
                fl[t] = fl[t] or nw
                break
        if not seen:
            nb[m] = q
            fl[m] = nw
            m += 1
    n_new = _split_new_first(nb, fl, 0, m, tmp, 0)
    for i in range(m):
        nb[i] = tmp[i]
    return m, n_new


@njit(cache=True, inline="always")
def _gather_joined(X, ind, dst, nb, m, Yt, thd, thi):
    """Coordinates of the joined nodes as columns of ``Yt`` and each one's current farthest
    entry (distance, index), the bar a proposal to it must pass."""
    for t in range(X.shape[1]):
        for i in range(m):
            Yt[t, i] = X[nb[i], t]
    for i in range(m):
        thd[i] = dst[nb[i], 0]
        thi[i] = ind[nb[i], 0]


@njit(cache=True, parallel=True)
def _leaf_join(X, perm, bounds, n_leaves, ind, dst, lab):
    """All pairs of every leaf of one tree offered to both ends (leaves are disjoint); the
    leaf's coordinates are gathered first and measured four pairs at a time."""
    dim = X.shape[1]
    for b in prange(n_leaves):
        lo = bounds[b]
        size = bounds[b + 1] - lo
        Yt = np.empty((dim, size), dtype=X.dtype)
        dd = np.empty(size, dtype=X.dtype)
        for t in range(dim):
            for i in range(size):
                Yt[t, i] = X[perm[lo + i], t]
        for i in range(size):
            p = perm[lo + i]
            _distances_after(Yt, i, size, dd)
            for j in range(i + 1, size):
                q = perm[lo + j]
                _push_checked(ind, dst, p, q, dd[j], lab)
                _push_checked(ind, dst, q, p, dd[j], lab)


@njit(cache=True, inline="always")
def _listed(ind, a, b):
    """Whether b is in a's list of the previous round (a proposal of it changes nothing: the
    new list keeps the k smallest of the old entries and the offers)."""
    for s in range(ind.shape[1]):
        if ind[a, s] == b:
            return True
    return False


@njit(cache=True, inline="always")
def _offer(ind, lab, tgt, src, d, thd_t, thi_t, buf_tgt, buf_src, buf_d, base, cnt, cap):
    """Buffer the proposal ``src`` for the list of ``tgt`` if it beats that list's threshold
    ``(thd_t, thi_t)`` and is not listed there yet; returns the new count (a count past
    ``cap`` tells the caller to grow the buffer and join the chunk again)."""
    if _less(d, src, thd_t, thi_t, lab) and not _listed(ind, tgt, src):
        if cnt < cap:
            buf_tgt[base + cnt] = tgt
            buf_src[base + cnt] = src
            buf_d[base + cnt] = d
        cnt += 1
    return cnt


@njit(cache=True, parallel=True)
def _join_proposals(X, ind, dst, isnew, rptr, rsrc, rnew, lab, c0, c1, buf_tgt, buf_src,
                    buf_d, counts, part_ptr):
    """Local joins of the nodes u in chunks ``c0 .. c1 - 1``, written as proposals (a, b, d).

    Every pair a, b of nodes joined at u, one of them new, is measured once (the new nodes
    first, coordinates gathered next to each other, so the pairs are computed in cache); b is
    proposed to a when it would enter a's list of the previous round and is not in it, and a
    to b likewise.
    Chunk ``c`` writes to its own slice of the buffers (capacity
    ``buf_tgt.shape[0] // (c1 - c0)``) and counts all its proposals, written or not, in
    ``counts``; when they all fit, the slice is then grouped by the target's part (see
    :func:`_group_by_part`), part p at offsets ``part_ptr[cc, p] .. part_ptr[cc, p + 1]``.
    """
    n, k = ind.shape
    dim = X.shape[1]
    cap = buf_tgt.shape[0] // (c1 - c0)
    for cc in prange(c1 - c0):
        c = c0 + cc
        lo = c * n // _CHUNKS
        hi = (c + 1) * n // _CHUNKS
        width = k
        for u in range(lo, hi):
            width = max(width, k + rptr[u + 1] - rptr[u])
        nb = np.empty(width, dtype=ind.dtype)
        tmp = np.empty(width, dtype=ind.dtype)
        thi = np.empty(width, dtype=ind.dtype)
        fl = np.empty(width, dtype=np.bool_)
        thd = np.empty(width, dtype=dst.dtype)
        dd = np.empty(width, dtype=X.dtype)
        Yt = np.empty((dim, width), dtype=X.dtype)
        base = cc * cap
        cnt = 0
        for u in range(lo, hi):
            m, n_new = _joined_nodes(ind, isnew, rptr, rsrc, rnew, u, nb, fl, tmp)
            if n_new == 0:
                continue
            _gather_joined(X, ind, dst, nb, m, Yt, thd, thi)
            # a pair with one new node has it first: the new i, every later j
            for i in range(n_new):
                _distances_after(Yt, i, m, dd)
                a = nb[i]
                for j in range(i + 1, m):
                    d = dd[j]
                    b = nb[j]
                    cnt = _offer(ind, lab, a, b, d, thd[i], thi[i], buf_tgt, buf_src, buf_d,
                                 base, cnt, cap)
                    cnt = _offer(ind, lab, b, a, d, thd[j], thi[j], buf_tgt, buf_src, buf_d,
                                 base, cnt, cap)
        counts[cc] = cnt
        if cnt <= cap:
            _group_by_part(buf_tgt, buf_src, buf_d, base, cnt, n, part_ptr[cc])


@njit(cache=True, inline="always")
def _part_of(a, n):
    """The apply part of node a: parts are ``_APPLY_PARTS`` ranges of consecutive nodes."""
    return a * _APPLY_PARTS // n


@njit(cache=True)
def _group_by_part(buf_tgt, buf_src, buf_d, base, cnt, n, ptr):
    """Stable counting sort of the proposals ``base .. base + cnt - 1`` by their target's part,
    writing the part offsets (relative to ``base``) to ``ptr``."""
    ptr[:] = 0
    for e in range(base, base + cnt):
        ptr[_part_of(buf_tgt[e], n) + 1] += 1
    for p in range(_APPLY_PARTS):
        ptr[p + 1] += ptr[p]
    tgt = buf_tgt[base:base + cnt].copy()
    src = buf_src[base:base + cnt].copy()
    d = buf_d[base:base + cnt].copy()
    fill = ptr[:-1].copy()
    for e in range(cnt):
        p = _part_of(tgt[e], n)
        o = base + fill[p]
        buf_tgt[o] = tgt[e]
        buf_src[o] = src[e]
        buf_d[o] = d[e]
        fill[p] += 1


@njit(cache=True, parallel=True)
def _apply_proposals(nind, ndst, lab, n_slices, buf_tgt, buf_src, buf_d, part_ptr):
    """Offer the proposals to their target lists, each of the ``_APPLY_PARTS`` parts (ranges
    of nodes small enough for their lists to stay in cache) by one thread, reading only its
    own proposals; a list keeps its k smallest offers whatever their order."""
    cap = buf_tgt.shape[0] // n_slices
    for part in prange(_APPLY_PARTS):
        for cc in range(n_slices):
            for e in range(cc * cap + part_ptr[cc, part], cc * cap + part_ptr[cc, part + 1]):
                _push_checked(nind, ndst, buf_tgt[e], buf_src[e], buf_d[e], lab)


@njit(cache=True, parallel=True)
def _new_flags(ind, nind, nnew):
    """Flag the entries of the new lists that were not in the old ones; returns their number."""
    n, k = ind.shape
    changed = np.zeros(_CHUNKS, dtype=np.int64)
    for c in prange(_CHUNKS):
        for p in range(c * n // _CHUNKS, (c + 1) * n // _CHUNKS):
            for s in range(k):
                j = nind[p, s]
                was = False
                for t in range(k):
                    if ind[p, t] == j:
                        was = True
                        break
                nnew[p, s] = not was
                if not was:
                    changed[c] += 1
    return changed.sum()


class _Proposals:
    """Proposal buffers of a batch of ``_JOIN_BATCH`` chunks, grown when a chunk overflows."""

    def __init__(self, n, idx_dtype, dist_dtype):
        self.idx_dtype, self.dist_dtype = idx_dtype, dist_dtype
        self._allocate(64 * (n // _CHUNKS + 1))

    def _allocate(self, cap):
        size = _JOIN_BATCH * cap
        self.tgt = np.empty(size, dtype=self.idx_dtype)
        self.src = np.empty(size, dtype=self.idx_dtype)
        self.d = np.empty(size, dtype=self.dist_dtype)
        self.counts = np.zeros(_JOIN_BATCH, dtype=np.int64)
        self.part_ptr = np.zeros((_JOIN_BATCH, _APPLY_PARTS + 1), dtype=np.int64)
        self.cap = cap

    def fill(self, X, ind, dst, isnew, rptr, rsrc, rnew, lab, c0, c1):
        """Join chunks c0..c1-1, again with larger buffers if one overflowed."""
        while True:
            n_slices = c1 - c0
            slice_cap = self.tgt.shape[0] // n_slices
            _join_proposals(X, ind, dst, isnew, rptr, rsrc, rnew, lab, c0, c1, self.tgt,
                            self.src, self.d, self.counts, self.part_ptr)
            largest = int(self.counts[:n_slices].max())
            if largest <= slice_cap:
                return n_slices
            self._allocate(largest + largest // 4 + 1)


def _descent_round(X, ind, dst, isnew, rptr, rsrc, rnew, nind, ndst, nnew, lab, proposals):
    """One NN-descent round by local joins; returns the number of list entries that changed.

    The new lists (``nind``, ``ndst``) start as copies of the old ones and receive, in
    batches of chunks, every proposal of the local joins (:func:`_join_proposals`), which
    read the old lists only. A list keeps the k smallest of its entries and its offers in
    the order (distance, index), so the new lists do not depend on the order in which the
    proposals arrive, nor on the number of threads. ``nnew`` flags the entries that entered.
    """
    nind[:] = ind
    ndst[:] = dst
    for c0 in range(0, _CHUNKS, _JOIN_BATCH):
        c1 = min(_CHUNKS, c0 + _JOIN_BATCH)
        n_slices = proposals.fill(X, ind, dst, isnew, rptr, rsrc, rnew, lab, c0, c1)
        _apply_proposals(nind, ndst, lab, n_slices, proposals.tgt, proposals.src,
                         proposals.d, proposals.part_ptr)
    return _new_flags(ind, nind, nnew)


@njit(cache=True, parallel=True)
def _sorted_rows(ind, dst, lab):
    """Each row in increasing (distance, index) order (int64 output)."""
    n, k = ind.shape
    out = np.empty((n, k), dtype=np.int64)
    for p in prange(n):
        for s in range(k):
            out[p, s] = ind[p, s]
        # insertion sort on (dst, ind); k is small
        d = dst[p].copy()
        for i in range(1, k):
            di = d[i]
            ji = out[p, i]
            pos = i
            while pos > 0 and _less(di, ji, d[pos - 1], out[p, pos - 1], lab):
                d[pos] = d[pos - 1]
                out[p, pos] = out[p, pos - 1]
                pos -= 1
            d[pos] = di
            out[p, pos] = ji
    return out


def descent_neighbors(X, k, *, seed=0, n_trees=None, leaf_size=None, max_rounds=12,
                      delta=0.001, max_reverse=None, list_size=None):
    """Approximate k nearest other rows of every row of a dense matrix (squared Euclidean).

    Parameters
    ----------
    X : ndarray of float32 or float64, shape (n, d), C-contiguous
        Finite features, n > k.
    k : int
        Neighbours per row (the row itself excluded).
    seed : int, default=0
        Seed of the trees' hyperplanes (any value in [0, 2**63)).
    n_trees : int or None, default=None
        Random-projection trees of the start; None picks from n.
    leaf_size : int or None, default=None
        Largest leaf; None uses ``max(48, 3 * k)``.
    max_rounds : int, default=12
        Most NN-descent rounds.
    delta : float, default=0.001
        Stop when fewer than ``delta * n * k`` list entries changed in a round.
    max_reverse : int or None, default=None
        Reverse neighbours used per node (the nearest ones); None uses the list size.
    list_size : int or None, default=None
        Length of the lists refined internally (at least k; the k nearest of a longer list are
        more often the true k nearest); None uses k.

    Returns
    -------
    indices : ndarray of int64, shape (n, k)
        Per row, the neighbours found, nearest first (ties: smaller index first). The same
        inputs give the same output whatever the number of threads.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs._knn_descent import descent_neighbors
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0], [8.0]])
    >>> descent_neighbors(X, 2).tolist()
    [[1, 2], [0, 2], [1, 0], [4, 2], [3, 2]]
    """

    n = X.shape[0]
    k_out = k
    k = min(n - 1, max(k, list_size or k))
    if n_trees is None:
        n_trees = 4 if n < 200_000 else 6
    if leaf_size is None:
        leaf_size = max(48, 3 * k)
    if max_reverse is None:
        max_reverse = k
    idx_dtype = np.int32 if n < 2**31 - 1 else np.int64
    perms = np.empty((n_trees, n), dtype=idx_dtype)
    bounds = np.empty((n_trees, n + 1), dtype=np.int64)
    n_leaves = np.empty(n_trees, dtype=np.int64)
    _build_forest(X, np.uint64(seed), n_trees, leaf_size, perms, bounds, n_leaves)
    # Work on the rows in the first tree's leaf order: near points sit near in memory, so the
    # neighbours-of-neighbours reads hit the cache far more often. ``lab`` maps a position
    # back to the original row; ties are still broken by the original index.
    lab = perms[0].copy()
    Xw = X[lab]
    pos = np.empty(n, dtype=idx_dtype)
    pos[lab] = np.arange(n, dtype=idx_dtype)
    ind = np.full((n, k), -1, dtype=idx_dtype)
    dst = np.full((n, k), np.inf, dtype=X.dtype)
    for t in range(n_trees):
        _leaf_join(Xw, pos[perms[t]], bounds[t], n_leaves[t], ind, dst, lab)
    del perms, bounds
    _fill_missing(ind, dst, Xw, np.uint64(seed), lab)
    isnew = np.ones((n, k), dtype=np.bool_)
    nind = np.empty_like(ind)
    ndst = np.empty_like(dst)
    nnew = np.empty_like(isnew)
    proposals = _Proposals(n, idx_dtype, dst.dtype)
    for _ in range(max_rounds):
        rptr, rsrc, rnew = _reverse_lists(ind, dst, isnew, max_reverse, lab)
        changed = _descent_round(Xw, ind, dst, isnew, rptr, rsrc, rnew, nind, ndst, nnew, lab,
                                 proposals)
        del rptr, rsrc, rnew
        ind, nind = nind, ind
        dst, ndst = ndst, dst
        isnew, nnew = nnew, isnew
        if changed < delta * n * k:
            break
    del nind, ndst, nnew, Xw, proposals
    out = np.empty((n, k_out), dtype=np.int64)
    out[lab] = lab[_sorted_rows(ind, dst, lab)[:, :k_out]]
    return out
