"""Per-axis boundary classes of a convolution (the combinatorial half of the exact l1/l-inf norms).

On one spatial axis, tap ``a`` of output ``o`` reads input pixel
``lambda(o, a) = pi(o * s - pl + a * d)`` (or nothing, in zero padding). Grouping the taps of
one output by the pixel they land on gives the output's *row pattern*; grouping, for one input
pixel, the taps that land on it by the output they come from gives the pixel's *column
pattern* (a multiset: with reflect/replicate a tap can reach a border pixel from two outputs).
The operator's l-inf (l1) norm depends on an output row (input column) only through the tuple
of its per-axis row (column) patterns, and there are few distinct patterns per axis: O(pad/s)
row classes and O(s + d k + pad) column classes, independent of the channels.

A pattern with ``r`` groups is stored as an ``r x k`` 0/1 incidence matrix (one row per
group). Canonical form: groups sorted lexicographically, so equal patterns compare equal.

Pruning keeps only the *maximal* patterns under a dominance order that is valid for every
weight: ``P`` dominates ``Q`` when both have pairwise-disjoint groups, the taps of ``Q`` are a
subset of the taps of ``P``, and every group of ``P`` that meets ``Q`` lies inside a single group
of ``Q`` (so each group sum of ``Q`` is a sum of group sums of ``P``; triangle inequality). It
contains the zero-padding subset rule and the singleton-partition rule of the specification.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from .._utils.validation import check_allocation

__all__ = ["MODE_CODES", "AxisPatterns", "axis_patterns", "compress_axis", "landing_table",
           "pad_multiplicity"]

MODE_CODES = {"zeros": 0, "circular": 1, "reflect": 2, "replicate": 3}


@njit(cache=True)
def _landing_table(n, m, k, s, d, pl, mode):
    table = np.empty((m, k), dtype=np.int64)
    period = 2 * (n - 1)
    for o in range(m):
        for a in range(k):
            q = o * s - pl + a * d
            if mode == 0:
                p = q if (q >= 0 and q < n) else -1
            elif mode == 1:
                p = q % n
                if p < 0:
                    p += n
            elif mode == 2:
                if n == 1:
                    p = 0
                else:
                    r = q % period
                    if r < 0:
                        r += period
                    p = r if r < n else period - r
            else:
                p = min(max(q, 0), n - 1)
            table[o, a] = p
    return table


@njit(cache=True)
def _axis_entries(table):
    """One entry per (output o, pixel i) pair hit: the group {a : lambda(o, a) = i} as bits."""
    m, k = table.shape
    e_out = np.empty(m * k, dtype=np.int64)
    e_pix = np.empty(m * k, dtype=np.int64)
    bits = np.zeros((m * k, k), dtype=np.uint8)
    e = 0
    for o in range(m):
        for a in range(k):
            p = table[o, a]
            if p < 0:
                continue
            first = True
            for b in range(a):
                if table[o, b] == p:
                    first = False
                    break
            if not first:
                continue
            for b in range(a, k):
                if table[o, b] == p:
                    bits[e, b] = 1
            e_out[e] = o
            e_pix[e] = p
            e += 1
    return e_out[:e], e_pix[:e], bits[:e]


@njit(cache=True)
def _row_cmp(bits, x, y):
    """Lexicographic comparison of two group rows: -1, 0 or 1."""
    for b in range(bits.shape[1]):
        if bits[x, b] != bits[y, b]:
            return -1 if bits[x, b] > bits[y, b] else 1  # groups with lower taps first
    return 0


@njit(cache=True)
def _unique_patterns(keys, n_keys, bits):
    """Canonical pattern of every key (output or pixel) and the distinct patterns.

    Returns ``order, start`` (entries of key q are ``order[start[q]:start[q+1]]``, groups
    sorted), ``pattern_of_key`` (-1 for a key with no entry, i.e. an all-zero row/column)
    and ``reps`` (one representative key per distinct pattern, in order of first appearance).
    """
    n_e = keys.shape[0]
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for e in range(n_e):
        start[keys[e] + 1] += 1
    for q in range(n_keys):
        start[q + 1] += start[q]
    fill = start[:-1].copy()
    order = np.empty(n_e, dtype=np.int64)
    for e in range(n_e):
        order[fill[keys[e]]] = e
        fill[keys[e]] += 1
    # insertion sort of each key's groups (few per key)
    for q in range(n_keys):
        for x in range(start[q] + 1, start[q + 1]):
            cur = order[x]
            y = x - 1
            while y >= start[q] and _row_cmp(bits, cur, order[y]) < 0:
                order[y + 1] = order[y]
                y -= 1
            order[y + 1] = cur
    pattern_of_key = np.full(n_keys, -1, dtype=np.int64)
    reps = np.empty(n_keys, dtype=np.int64)
    n_u = 0
    for q in range(n_keys):
        r = start[q + 1] - start[q]
        if r == 0:
            continue
        found = -1
        for u in range(n_u):
            v = reps[u]
            if start[v + 1] - start[v] != r:
                continue
            same = True
            for x in range(r):
                if _row_cmp(bits, order[start[q] + x], order[start[v] + x]) != 0:
                    same = False
                    break
            if same:
                found = u
                break
        if found < 0:
            reps[n_u] = q
            found = n_u
            n_u += 1
        pattern_of_key[q] = found
    return order, start, pattern_of_key, reps[:n_u]


@njit(cache=True)
def _dominated(G, R):
    """``out[q]`` is true when another pattern dominates pattern q (see the module docstring).

    ``G`` is (U, rmax, k) 0/1, ``R`` the number of groups of each pattern.
    """
    U, _, k = G.shape
    cover = np.zeros((U, k), dtype=np.int64)  # how many groups contain each tap
    for u in range(U):
        for g in range(R[u]):
            for a in range(k):
                cover[u, a] += G[u, g, a]
    disjoint = np.ones(U, dtype=np.bool_)
    for u in range(U):
        for a in range(k):
            if cover[u, a] > 1:
                disjoint[u] = False
    out = np.zeros(U, dtype=np.bool_)
    for q in range(U):
        if not disjoint[q]:
            continue
        for p in range(U):
            if p == q or not disjoint[p]:
                continue
            ok = True
            for a in range(k):  # taps of q within taps of p
                if cover[q, a] > 0 and cover[p, a] == 0:
                    ok = False
                    break
            if not ok:
                continue
            for h in range(R[p]):  # each group of p meeting q lies inside one group of q
                hit = -1
                for a in range(k):
                    if G[p, h, a] == 0:
                        continue
                    gq = -1
                    for g in range(R[q]):
                        if G[q, g, a]:
                            gq = g
                            break
                    if gq < 0:
                        if hit >= 0:
                            ok = False
                            break
                        hit = -2  # a tap outside q: then no tap of this group may be in q
                    else:
                        if hit == -2 or (hit >= 0 and hit != gq):
                            ok = False
                            break
                        hit = gq
                if not ok:
                    break
            if ok:
                out[q] = True
                break
    return out


def landing_table(n, m, k, stride, dilation, pad_left, padding_mode):
    """The per-axis landing table ``lambda(o, a)`` (-1 where zero padding is read).

    Examples
    --------
    >>> from normgraph.norms._patterns import landing_table
    >>> landing_table(4, 4, 3, 1, 1, 1, "reflect").tolist()
    [[1, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 2]]
    """
    return _landing_table(int(n), int(m), int(k), int(stride), int(dilation), int(pad_left),
                          MODE_CODES[padding_mode])


def pad_multiplicity(n, pad_left, pad_right, padding_mode):
    """Largest number of copies of one input pixel made by padding an axis of size ``n``.

    The padding map ``x -> x_padded`` (length ``n + pad_left + pad_right``) copies pixels;
    its l2 norm is the square root of this count (used by the l2 bounds for
    reflect/replicate layers). Zero padding copies nothing (count 1).

    Examples
    --------
    >>> from normgraph.norms._patterns import pad_multiplicity
    >>> pad_multiplicity(5, 2, 2, "replicate"), pad_multiplicity(5, 2, 2, "reflect")
    (3, 3)
    """
    if padding_mode == "zeros":
        return 1
    if padding_mode == "replicate":
        return 1 + pad_left + pad_right if n == 1 else 1 + max(pad_left, pad_right)
    # each border's padding copies distinct pixels once (pads are at most n for circular,
    # below n for reflect); a pixel gets two extra copies where both borders' ranges meet
    left, right = pad_left > 0, pad_right > 0
    if padding_mode == "circular":  # left pads copy pixels n-pl..n-1, right pads 0..pr-1
        meet = pad_left + pad_right > n
    else:  # reflect: left pads copy pixels 1..pl, right pads n-1-pr..n-2
        meet = max(1, n - 1 - pad_right) <= min(pad_left, n - 2)
    return 1 + int(left) + int(right) if (left and right and meet) else 1 + int(left or right)


class AxisPatterns:
    """The distinct row or column patterns of one spatial axis.

    Attributes
    ----------
    matrices : tuple of ndarray
        Incidence matrix (groups x k, float64 0/1) of every kept pattern.
    counts : ndarray of int64
        How many outputs (rows) or pixels (columns) have each kept pattern (meaningful only
        when ``pruned`` is false).
    n_distinct : int
        Number of distinct non-empty patterns before pruning.
    selection : bool
        True when every kept pattern consists of distinct singleton groups (a tap subset), so
        its contraction is a 0/1 tap mask; ``masks`` then holds those masks (float64, k).
    has_empty : bool
        Whether some output/pixel has an empty pattern (an all-zero row/column).
    """

    __slots__ = ("matrices", "counts", "n_distinct", "selection", "masks", "has_empty")

    def __init__(self, matrices, counts, n_distinct, has_empty):
        self.matrices = tuple(matrices)
        self.counts = counts
        self.n_distinct = n_distinct
        self.has_empty = has_empty
        self.selection = all(
            np.all(A.sum(axis=1) == 1) and np.all(A.sum(axis=0) <= 1) for A in self.matrices
        )
        self.masks = tuple(A.sum(axis=0) for A in self.matrices) if self.selection else None


# Axes longer than this are first shortened to an equivalent axis (see ``compress_axis``);
# smaller ones are processed as they are (a module constant so tests can force compression).
_COMPRESS_MIN = 256


def compress_axis(n, m, k, stride, dilation, pad_left, padding_mode):
    """An equivalent shorter axis ``(n', m', pad_left', j, trimmed)`` with the same patterns.

    The row (column) pattern of an output (input pixel) depends only on its distance to
    the borders and, in the interior, on its index modulo the stride. Removing ``j``
    strides from the interior (``n' = n - j s``, ``m' = m - j``) therefore keeps every
    distinct pattern, as long as both border zones stay separated by a few interior
    periods; the removed outputs all have the interior row pattern and the removed pixels
    ``j`` times each interior column pattern (``j`` is returned so counts can be restored).
    With zero padding, outputs that read only padding (all-zero rows) beyond the first
    one on each side are dropped too (``trimmed`` of them; they change no pattern).
    Memory and time then depend on the padding and kernel extent, not on ``n``.

    Examples
    --------
    >>> from normgraph.norms._patterns import compress_axis
    >>> compress_axis(10**9, 10**9, 3, 1, 1, 1, "zeros")[:4]
    (34, 34, 1, 999999966)
    """
    span = dilation * (k - 1)
    trimmed = 0
    if padding_mode == "zeros":
        # outputs o < first read only left padding: o * s - pl + span < 0
        first = -((span - pad_left) // stride) if pad_left > span else 0
        drop = max(min(first, m) - 1, 0)  # keep one all-padding output (an empty pattern)
        pad_left -= drop * stride
        m -= drop
        trimmed += drop
        # outputs o > last read only right padding: o * s - pl > n - 1
        last = (n - 1 + pad_left) // stride
        if m - 1 > last + 1:
            trimmed += m - (last + 2)
            m = last + 2
    last = (m - 1) * stride - pad_left  # padded coordinate of the last output's first tap
    over = max(last + span - (n - 1), 0)  # how far the last output reads past the end
    left = pad_left + span + stride + over  # pixels that may see the left border (or a wrap)
    right = max(n - last, 0) + over + span + stride
    threshold = 2 * (left + right) + 4 * stride + 8
    j = 0
    if n > max(threshold, _COMPRESS_MIN):
        j = min((n - threshold) // stride, m - 1)
        n -= j * stride
        m -= j
    return n, m, pad_left, j, trimmed


def _interior_keys(n, m, stride, kind):
    """Outputs (rows) or pixels (columns) in the middle of a compressed axis."""
    if kind == "row":
        return [m // 2]
    mid = n // 2
    return [mid + r for r in range(stride)]


@lru_cache(maxsize=1024)
def axis_patterns(n, m, k, stride, dilation, pad_left, padding_mode, kind, prune=True):
    """Distinct row (``kind="row"``) or column (``kind="col"``) patterns of one axis.

    Long axes are first shortened to an equivalent one (``compress_axis``): memory and
    time depend on the padding, stride and kernel extent, not on the input length.

    Parameters
    ----------
    n, m, k : int
        Input size, number of outputs kept, kernel size (``m`` may be smaller than the
        natural output size: transposed convolutions keep the first ``n`` outputs).
    stride, dilation, pad_left : int
    padding_mode : {"zeros", "circular", "reflect", "replicate"}
    kind : {"row", "col"}
    prune : bool, default=True
        Drop dominated patterns (exactness is unaffected; tests compare both paths).

    Returns
    -------
    AxisPatterns
        Cached: treat it as read-only.

    Examples
    --------
    >>> from normgraph.norms._patterns import axis_patterns
    >>> pats = axis_patterns(8, 8, 3, 1, 1, 1, "replicate", "col", prune=False)
    >>> pats.n_distinct, [A.astype(int).tolist() for A in pats.matrices][:2]
    (3, [[[1, 1, 0], [1, 0, 0]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]])
    >>> int(axis_patterns(10**9, 10**9, 3, 1, 1, 1, "zeros", "row", prune=False).counts.sum())
    1000000000
    """
    n2, m2, pl2, j, trimmed = compress_axis(n, m, k, stride, dilation, pad_left, padding_mode)
    # what remains is set by the padding (replicate borders repeat, zero pads are trimmed)
    name = "padding" if pl2 + max((m2 - 1) * stride - pl2 - n2, 0) > n2 // 2 else "input_shape"
    check_allocation(m2 * k * (k + 40), name, itemsize=1, what="the boundary-class tables")
    return _axis_patterns(n2, m2, k, stride, dilation, pl2, padding_mode, kind, prune, j,
                          trimmed)


def _axis_patterns(n, m, k, stride, dilation, pad_left, padding_mode, kind, prune, j=0,
                   trimmed=0):
    """``axis_patterns`` of an axis as given (no compression); ``j`` restores the counts."""
    table = landing_table(n, m, k, stride, dilation, pad_left, padding_mode)
    e_out, e_pix, bits = _axis_entries(table)
    if kind == "row":
        keys, n_keys, missing = e_out, m, trimmed > 0
    else:  # only the pixels hit: memory independent of n
        hit, keys = np.unique(e_pix, return_inverse=True)
        keys, n_keys, missing = keys.ravel().astype(np.int64), hit.size, hit.size < n
    order, start, pattern_of_key, reps = _unique_patterns(keys, n_keys, bits)
    U = len(reps)
    counts = np.bincount(pattern_of_key[pattern_of_key >= 0], minlength=U).astype(np.int64)
    if j:
        for key in _interior_keys(n, m, stride, kind):
            if kind == "col":  # interior pixels no tap reaches have no pattern
                pos = int(np.searchsorted(hit, key))
                if pos == hit.size or hit[pos] != key:
                    continue
                key = pos
            counts[pattern_of_key[key]] += j
    R = np.array([start[q + 1] - start[q] for q in reps], dtype=np.int64)
    rmax = int(R.max()) if U else 0
    G = np.zeros((U, rmax, k), dtype=np.uint8)
    for u, q in enumerate(reps):
        G[u, : R[u]] = bits[order[start[q]: start[q + 1]]]
    keep = np.ones(U, dtype=bool)
    if prune and U > 1:
        keep = ~_dominated(G, R)
    mats = [G[u, : R[u]].astype(np.float64) for u in range(U) if keep[u]]
    for A in mats:
        A.flags.writeable = False
    return AxisPatterns(mats, counts[keep], U, bool(missing or np.any(pattern_of_key < 0)))
