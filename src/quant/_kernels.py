"""Numba kernels of the 1-D quantization solvers.

Conventions (the public front ends in ``_optimal.py``, ``_lloyd.py`` and ``_uniform.py``
validate and prepare everything):

* Samples arrive as the *distinct* sorted values ``u`` (ascending, float64) with positive
  weights ``cw`` (counts or summed sample weights). Collapsing ties first is what keeps equal
  values in one cell: a breakpoint can only fall between two different values.
* Prefix sums ``S0[i] = sum_{l<i} cw_l``, ``S1[i] = sum_{l<i} cw_l (u_l - m)`` and
  ``S2[i] = sum_{l<i} cw_l (u_l - m)^2`` are taken on values centred at their weighted mean
  ``m``; centring removes most of the cancellation in ``S2 - S1^2 / S0``. The k-means DP
  keeps them interleaved with the previous layer in one (n + 1, 4) table (``dp_table``).
* The cost of one cluster on the sorted slice ``[j, i]`` (inclusive) is
  ``c(j, i) = (S2[i+1] - S2[j]) - (S1[i+1] - S1[j])^2 / (S0[i+1] - S0[j])``, clamped at 0
  (and 0 when the weight difference rounds to 0: weights spanning 1e-300..1e300 make a
  slice of tiny weights vanish against the prefix total, and its true cost with it).
  ``c`` satisfies the quadrangle inequality, so the matrix ``A[i, j] = D[j-1] + c(j, i)``
  (``+inf`` for ``j > i``) is totally monotone and its leftmost row minima move right with
  ``i``: divide and conquer and SMAWK both rely on it.
* One DP layer per cluster count; argmins are stored in an int32 ``(k, n)`` matrix for the
  backtracking (4 bytes per entry: 10^7 values and 16 levels need 640 MB).

Every kernel has a single signature (float64 / int32 / int64 contiguous arrays) so that the
first call compiles each of them once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

METHOD_NAIVE = 0
METHOD_DC = 1
METHOD_SMAWK = 2

_STACK_SIZE = 256  # divide and conquer depth is about log2(n) + 1 < 64 for any n


@njit(cache=True)
def compress_sorted(xs, ws, weighted):
    """Collapse a sorted vector to its distinct values and their total weights.

    Values whose total weight is 0 are dropped. ``ws`` is ignored unless ``weighted``.
    """
    n = xs.shape[0]
    u = np.empty(n, dtype=np.float64)
    cw = np.empty(n, dtype=np.float64)
    m = 0
    i = 0
    while i < n:
        v = xs[i]
        s = 0.0
        while i < n and xs[i] == v:
            s += ws[i] if weighted else 1.0
            i += 1
        if s > 0.0:
            u[m] = v
            cw[m] = s
            m += 1
    return u[:m].copy(), cw[:m].copy()


@njit(cache=True)
def centred_prefix_sums(u, cw, mean, S0, S1, S2):
    """Fill the weighted prefix sums of ``u - mean`` (arrays of length ``n + 1``)."""
    S0[0] = 0.0
    S1[0] = 0.0
    S2[0] = 0.0
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    for i in range(u.shape[0]):
        d = u[i] - mean
        w = cw[i]
        a0 += w
        a1 += w * d
        a2 += w * d * d
        S0[i + 1] = a0
        S1[i + 1] = a1
        S2[i + 1] = a2


@njit(cache=True)
def dp_table(u, cw, mean):
    """The ``(n + 1, 4)`` table of the k-means DP: row ``j`` holds ``S0[j], S1[j], S2[j]``
    (centred prefix sums) and, during a layer, ``D_prev[j - 1]`` (column 3).

    Interleaving what the inner loops read at index ``j`` puts it in one 32-byte record:
    one cache line per candidate instead of four (SMAWK's accesses are scattered).
    """
    n = u.shape[0]
    P = np.empty((n + 1, 4), dtype=np.float64)
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    P[0, 0] = 0.0
    P[0, 1] = 0.0
    P[0, 2] = 0.0
    P[0, 3] = 0.0
    for i in range(n):
        d = u[i] - mean
        w = cw[i]
        a0 += w
        a1 += w * d
        a2 += w * d * d
        P[i + 1, 0] = a0
        P[i + 1, 1] = a1
        P[i + 1, 2] = a2
        P[i + 1, 3] = 0.0
    return P


@njit(cache=True, inline="always")
def _entry(P, i, j):
    # A[i, j] = D_prev[j - 1] + c(j, i): best cost of values 0..i when the last cluster
    # starts at j (+inf above the diagonal, which keeps A totally monotone).
    if j > i:
        return np.inf
    s0 = P[i + 1, 0] - P[j, 0]
    c = 0.0
    if s0 > 0.0:  # else the slice's weight is below the rounding of the prefix sums: cost 0
        s1 = P[i + 1, 1] - P[j, 1]
        c = (P[i + 1, 2] - P[j, 2]) - s1 * s1 / s0
        if c < 0.0:
            c = 0.0
    return P[j, 3] + c


@njit(cache=True)
def _layer_naive(P, Dcur, Jrow, rlo, rhi, clo):
    for i in range(rlo, rhi + 1):
        best = np.inf
        arg = clo
        for j in range(clo, i + 1):
            v = _entry(P, i, j)
            if v < best:
                best = v
                arg = j
        Dcur[i] = best
        Jrow[i] = arg


@njit(cache=True)
def _layer_dc(P, Dcur, Jrow, Jprev, prev_rhi, rlo, rhi, clo, stack):
    # Explicit stack of (row_lo, row_hi, col_lo, col_hi) instead of recursion. Besides the
    # monotonicity along the row (children search [jlo, J(mid)] and [J(mid), jhi]) the
    # argmins are monotone across layers, J_{q-1}(i) <= J_q(i): the last of q clusters
    # starts no earlier than the last of q - 1. It shrinks the search a lot for large k.
    stack[0, 0] = rlo
    stack[0, 1] = rhi
    stack[0, 2] = clo
    stack[0, 3] = rhi
    top = 1
    while top > 0:
        top -= 1
        ilo = stack[top, 0]
        ihi = stack[top, 1]
        jlo = stack[top, 2]
        jhi = stack[top, 3]
        mid = (ilo + ihi) // 2
        jend = mid if mid < jhi else jhi
        jstart = jlo
        if mid <= prev_rhi and Jprev[mid] > jstart:
            jstart = Jprev[mid]
        if jstart > jend:
            jstart = jend
        e0 = P[mid + 1, 0]
        e1 = P[mid + 1, 1]
        e2 = P[mid + 1, 2]
        best = np.inf
        arg = jstart
        for j in range(jstart, jend + 1):
            s0 = e0 - P[j, 0]
            c = 0.0
            if s0 > 0.0:  # else a weight below the prefix sums' rounding: cost 0
                s1 = e1 - P[j, 1]
                c = (e2 - P[j, 2]) - s1 * s1 / s0
                if c < 0.0:
                    c = 0.0
            v = P[j, 3] + c
            if v < best:
                best = v
                arg = j
        Dcur[mid] = best
        Jrow[mid] = arg
        if mid + 1 <= ihi:
            stack[top, 0] = mid + 1
            stack[top, 1] = ihi
            stack[top, 2] = arg
            stack[top, 3] = jhi
            top += 1
        if ilo <= mid - 1:
            stack[top, 0] = ilo
            stack[top, 1] = mid - 1
            stack[top, 2] = jlo
            stack[top, 3] = arg
            top += 1


@njit(cache=True)
def _layer_smawk(P, Dcur, Jrow, rlo, rhi, clo, red, levels):
    """Row minima of the totally monotone matrix ``A`` for rows ``rlo..rhi`` by SMAWK.

    Iterative form. Level ``l`` keeps the rows ``first_l + t * step_l`` (every other row of
    level ``l - 1``, starting at its second); REDUCE shrinks the candidate columns of a level
    to at most its number of rows and hands them to the next level. Going back up, the
    even-position rows of each level are solved by scanning the reduced columns between the
    argmins of their odd-position neighbours. ``red`` holds the level-0 columns followed by
    every level's reduced columns (at most 3n entries); ``levels`` is a (64, 5) work array.
    """
    ncol = rhi - clo + 1
    for t in range(ncol):
        red[t] = clo + t
    src_off = 0
    src_len = ncol
    off = ncol
    first = rlo
    step = 1
    R = rhi - rlo + 1
    nlev = 0
    while True:
        if src_len <= R:
            # Nothing to reduce (no more columns than rows): the level works on its input.
            levels[nlev, 0] = first
            levels[nlev, 1] = step
            levels[nlev, 2] = R
            levels[nlev, 3] = src_off
            levels[nlev, 4] = src_len
            nlev += 1
            if R == 1:
                break
            first += step
            step *= 2
            R //= 2
            continue
        # REDUCE: the stack is red[off : off + kk]; stack slot s belongs to row first + s*step.
        kk = 0
        for t in range(src_len):
            c = red[src_off + t]
            while kk > 0:
                r = first + (kk - 1) * step
                if _entry(P, r, red[off + kk - 1]) > _entry(P, r, c):
                    kk -= 1
                else:
                    break
            if kk < R:
                red[off + kk] = c
                kk += 1
        levels[nlev, 0] = first
        levels[nlev, 1] = step
        levels[nlev, 2] = R
        levels[nlev, 3] = off
        levels[nlev, 4] = kk
        nlev += 1
        if R == 1:
            break
        src_off = off
        src_len = kk
        off += kk
        first += step
        step *= 2
        R //= 2
    # The single row of the deepest level: its reduced column is its minimum.
    first = levels[nlev - 1, 0]
    c = red[levels[nlev - 1, 3]]
    Jrow[first] = c
    Dcur[first] = _entry(P, first, c)
    for lev in range(nlev - 2, -1, -1):
        first = levels[lev, 0]
        step = levels[lev, 1]
        R = levels[lev, 2]
        off = levels[lev, 3]
        ln = levels[lev, 4]
        p = off
        last = off + ln - 1
        for t in range(0, R, 2):
            row = first + t * step
            hi = Jrow[row + step] if t + 1 < R else red[last]
            best = np.inf
            arg = red[p]
            while True:
                c = red[p]
                v = _entry(P, row, c)
                if v < best:
                    best = v
                    arg = c
                if c >= hi or p == last:
                    break
                p += 1
            Jrow[row] = arg
            Dcur[row] = best


@njit(cache=True)
def kmeans_dp(P, k, method, J):
    """Optimal k-cluster cost of the n weighted sorted values; argmins written to ``J``.

    ``P`` is the table of :func:`dp_table` (column 3 is overwritten). ``J[q, i]`` is the
    first index of the last cluster in the optimal split of values ``0..i`` into ``q + 1``
    clusters (only rows reachable by the backtracking are filled). Requires
    ``1 <= k <= n``. Returns the optimal sum of squared deviations.
    """
    n = P.shape[0] - 1
    Dcur = np.empty(n, dtype=np.float64)
    for i in range(n):
        s1 = P[i + 1, 1]
        c = P[i + 1, 2] - s1 * s1 / P[i + 1, 0]
        Dcur[i] = c if c > 0.0 else 0.0
        J[0, i] = 0
    stack = np.empty((_STACK_SIZE, 4), dtype=np.int64)
    red = np.empty(3 * n + 4, dtype=np.int64)
    levels = np.empty((64, 5), dtype=np.int64)
    prev_rhi = n - 1  # last row filled in the previous layer (layer 0 fills every row)
    for q in range(1, k):
        # shift the previous layer into the table: P[j, 3] = D_prev[j - 1]
        for i in range(n):
            P[i + 1, 3] = Dcur[i]
        clo = q
        # q + 1 clusters on values 0..i need i >= q; the k - 1 - q clusters still to come
        # need k - 1 - q values after i. The last layer only needs i = n - 1.
        rhi = n - 1 - (k - 1 - q)
        rlo = q if q < k - 1 else n - 1
        Jrow = J[q]
        if method == METHOD_NAIVE or rlo == rhi:
            _layer_naive(P, Dcur, Jrow, rlo, rhi, clo)
        elif method == METHOD_DC:
            _layer_dc(P, Dcur, Jrow, J[q - 1], prev_rhi, rlo, rhi, clo, stack)
        else:
            _layer_smawk(P, Dcur, Jrow, rlo, rhi, clo, red, levels)
        prev_rhi = rhi
    return Dcur[n - 1]


@njit(cache=True)
def kmeans_dp_last_layer(P, k, method, Dout):
    """``Dout[i]`` = optimal k-cluster cost of values ``0..i`` for every ``i >= k - 1``.

    The same layers as :func:`kmeans_dp` over all rows, keeping only two rows of argmins:
    O(n) memory. Used by the divide-and-conquer-over-levels (Hirschberg-style) low-memory
    mode, which needs whole last layers rather than backtracking pointers. Entries
    ``i < k - 1`` are set to ``inf``.
    """
    n = P.shape[0] - 1
    Dcur = np.empty(n, dtype=np.float64)
    Jprev = np.zeros(n, dtype=np.int32)
    Jcur = np.zeros(n, dtype=np.int32)
    for i in range(n):
        s1 = P[i + 1, 1]
        c = P[i + 1, 2] - s1 * s1 / P[i + 1, 0]
        Dcur[i] = c if c > 0.0 else 0.0
    stack = np.empty((_STACK_SIZE, 4), dtype=np.int64)
    red = np.empty(3 * n + 4, dtype=np.int64)
    levels = np.empty((64, 5), dtype=np.int64)
    for q in range(1, k):
        for i in range(n):
            P[i + 1, 3] = Dcur[i]
        if method == METHOD_NAIVE:
            _layer_naive(P, Dcur, Jcur, q, n - 1, q)
        elif method == METHOD_DC:
            _layer_dc(P, Dcur, Jcur, Jprev, n - 1, q, n - 1, q, stack)
        else:
            _layer_smawk(P, Dcur, Jcur, q, n - 1, q, red, levels)
        tmp = Jprev
        Jprev = Jcur
        Jcur = tmp
    for i in range(n):
        Dout[i] = Dcur[i] if i >= k - 1 else np.inf


@njit(cache=True)
def backtrack_starts(J, n, k):
    """First index of each of the k clusters, from the argmin matrix of ``kmeans_dp``."""
    starts = np.empty(k, dtype=np.int64)
    i = n - 1
    for q in range(k - 1, -1, -1):
        j = J[q, i]
        starts[q] = j
        i = j - 1
    return starts


@njit(cache=True)
def fixed_levels_dp(loss, naive, J):
    """Best monotone assignment of n sorted values to k fixed levels (cells may be empty).

    ``loss[q, i]`` is the (weighted) loss of value ``i`` at level ``q``. ``D_q[i]``, the best
    cost of the first ``i`` values on levels ``0..q``, is
    ``min_{j <= i} D_{q-1}[j] + P_q[i] - P_q[j]`` with ``P_q`` the prefix sums of ``loss[q]``.
    Because the loss is a sum over samples, the inner minimum is a running minimum of
    ``D_{q-1}[j] - P_q[j]``: O(kn) and exact for *any* loss. ``naive`` evaluates the same
    recursion by the literal O(kn^2) double loop (the reference). ``J[q, i]`` receives the
    first value of level ``q``. Returns the optimal total loss.
    """
    k, n = loss.shape
    Dprev = np.empty(n + 1, dtype=np.float64)
    Dcur = np.empty(n + 1, dtype=np.float64)
    P = np.empty(n + 1, dtype=np.float64)
    acc = 0.0
    Dprev[0] = 0.0
    for i in range(n):
        acc += loss[0, i]
        Dprev[i + 1] = acc
        J[0, i + 1] = 0
    J[0, 0] = 0
    for q in range(1, k):
        P[0] = 0.0
        for i in range(n):
            P[i + 1] = P[i] + loss[q, i]
        if naive:
            for i in range(n + 1):
                best = np.inf
                arg = 0
                for j in range(i + 1):
                    v = Dprev[j] + (P[i] - P[j])
                    if v < best:
                        best = v
                        arg = j
                Dcur[i] = best
                J[q, i] = arg
        else:
            best = np.inf
            arg = 0
            for i in range(n + 1):
                v = Dprev[i] - P[i]
                if v < best:
                    best = v
                    arg = i
                Dcur[i] = P[i] + best
                J[q, i] = arg
        tmp = Dprev
        Dprev = Dcur
        Dcur = tmp
    return Dprev[n]


@njit(cache=True)
def _upper_count(u, t):
    # Number of values <= t in the sorted vector u (binary search).
    lo = 0
    hi = u.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if u[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def cell_bounds(u, levels, bounds):
    """``bounds[c]`` = first value of cell ``c`` for the nearest-level cells of ``levels``.

    Levels must be non-decreasing; a value equal to a midpoint goes to the lower cell.
    ``bounds`` has length ``len(levels) + 1`` with ``bounds[0] = 0`` and ``bounds[-1] = n``.
    """
    L = levels.shape[0]
    bounds[0] = 0
    for c in range(L - 1):
        bounds[c + 1] = _upper_count(u, 0.5 * (levels[c] + levels[c + 1]))
    bounds[L] = u.shape[0]


@njit(cache=True)
def levels_sse(S0, S1, S2, mean, levels, bounds):
    """Sum of squared errors when cell ``c`` (values ``bounds[c]:bounds[c+1]``) maps to
    ``levels[c]``: ``sum S2 - 2 (y - m) S1 + (y - m)^2 S0`` over cells."""
    total = 0.0
    for c in range(levels.shape[0]):
        a = bounds[c]
        b = bounds[c + 1]
        if b > a:
            y = levels[c] - mean
            s = (S2[b] - S2[a]) - 2.0 * y * (S1[b] - S1[a]) + y * y * (S0[b] - S0[a])
            total += s if s > 0.0 else 0.0
    return total


@njit(cache=True)
def lloyd_sorted(u, cw, S0, S1, S2, mean, levels, max_iter, tol):
    """Lloyd-Max iterations on weighted sorted distinct values; ``levels`` updated in place.

    Each iteration costs O(L log n): cells by binary search of the midpoints, means from
    the prefix sums. An empty cell re-seeds its level at the value with the largest squared
    error (first one on ties), then the levels are re-sorted. Returns the iteration count
    (``max_iter + 1`` when the tolerance was not reached).
    """
    L = levels.shape[0]
    bounds = np.empty(L + 1, dtype=np.int64)
    tb = np.empty(L + 1, dtype=np.int64)
    new = np.empty(L, dtype=np.float64)
    trial = np.empty(L, dtype=np.float64)
    omega = 1.0
    omega_max = 16.0
    for it in range(max_iter):
        cell_bounds(u, levels, bounds)
        empty = -1
        for c in range(L):
            a = bounds[c]
            b = bounds[c + 1]
            w = S0[b] - S0[a]
            if b > a and w > 0.0:
                # Keep the mean inside its cell's value range: rounding of the prefix-sum
                # difference could otherwise merge two cells' levels.
                y = mean + (S1[b] - S1[a]) / w
                if y < u[a]:
                    y = u[a]
                elif y > u[b - 1]:
                    y = u[b - 1]
                new[c] = y
            else:
                new[c] = levels[c]
                if empty < 0:
                    empty = c
        if empty >= 0:
            # Re-seed at the worst-represented value under the current cells.
            worst = -1.0
            wi = 0
            for c in range(L):
                for i in range(bounds[c], bounds[c + 1]):
                    e = u[i] - levels[c]
                    e = e * e
                    if e > worst:
                        worst = e
                        wi = i
            new[empty] = u[wi]
            # insertion sort (L is small)
            for a in range(1, L):
                v = new[a]
                b = a - 1
                while b >= 0 and new[b] > v:
                    new[b + 1] = new[b]
                    b -= 1
                new[b + 1] = v
            for c in range(L):
                levels[c] = new[c]
            continue
        delta = 0.0
        for c in range(L):
            d = abs(new[c] - levels[c])
            if d > delta:
                delta = d
        if delta <= tol:
            for c in range(L):
                levels[c] = new[c]
            return it + 1
        # Over-relaxation: Lloyd's fixed-point iteration converges linearly and slowly for
        # many levels (about 700 plain steps for 16 Gaussian levels at tol 1e-10). Try the
        # extrapolated levels y + omega (G(y) - y) and keep them only if their error is no
        # larger than that of the plain step G(y), so every step still lowers the error and
        # the stopping rule (|G(y) - y| <= tol) is unchanged.
        accepted = False
        if omega > 1.0:
            ok = True
            for c in range(L):
                trial[c] = levels[c] + omega * (new[c] - levels[c])
                if c > 0 and not trial[c] > trial[c - 1]:
                    ok = False
            if ok:
                cell_bounds(u, trial, tb)
                sse_trial = levels_sse(S0, S1, S2, mean, trial, tb)
                cell_bounds(u, new, tb)
                sse_plain = levels_sse(S0, S1, S2, mean, new, tb)
                if sse_trial <= sse_plain:
                    accepted = True
        if accepted:
            for c in range(L):
                levels[c] = trial[c]
            omega = min(omega * 1.5, omega_max)
        else:
            for c in range(L):
                levels[c] = new[c]
            omega = max(1.0 + 0.5 * (omega - 1.0), 1.5) if omega > 1.0 else 1.5
    return max_iter + 1


@njit(cache=True)
def grid_sse(u, S0, S1, S2, mean, offsets, steps, codes, out):
    """SSE of the uniform grids ``offsets[g] + steps[g] * codes`` (nearest level)."""
    L = codes.shape[0]
    levels = np.empty(L, dtype=np.float64)
    bounds = np.empty(L + 1, dtype=np.int64)
    for g in range(steps.shape[0]):
        for c in range(L):
            levels[c] = offsets[g] + steps[g] * codes[c]
        cell_bounds(u, levels, bounds)
        out[g] = levels_sse(S0, S1, S2, mean, levels, bounds)


@njit(cache=True)
def fit_offset(u, S0, S1, S2, mean, step, codes, offset, max_iter):
    """Coordinate descent on the offset of the grid ``offset + step * codes``.

    For fixed cells the best offset is the weighted mean of ``x - step * code(x)``; cells are
    then re-assigned to the nearest level. Both steps lower the SSE, so it stops when the cells
    no longer change. Returns ``(offset, sse)``.
    """
    L = codes.shape[0]
    levels = np.empty(L, dtype=np.float64)
    bounds = np.empty(L + 1, dtype=np.int64)
    old = np.full(L + 1, -1, dtype=np.int64)
    W = S0[S0.shape[0] - 1]
    for _ in range(max_iter):
        for c in range(L):
            levels[c] = offset + step * codes[c]
        cell_bounds(u, levels, bounds)
        same = True
        for c in range(L + 1):
            if bounds[c] != old[c]:
                same = False
            old[c] = bounds[c]
        if same:
            break
        acc = 0.0
        for c in range(L):
            a = bounds[c]
            b = bounds[c + 1]
            acc += (S1[b] - S1[a]) - step * codes[c] * (S0[b] - S0[a])
        offset = mean + acc / W
    for c in range(L):
        levels[c] = offset + step * codes[c]
    cell_bounds(u, levels, bounds)
    return offset, levels_sse(S0, S1, S2, mean, levels, bounds)
