"""Globally optimal 1-D quantization: k-means by dynamic programming, and the best monotone
thresholds for fixed output levels under any per-sample loss."""

from __future__ import annotations

import warnings

import numpy as np

from .._utils.validation import check_allocation, check_array_param, check_bool, check_choice
from . import _kernels
from ._validation import (
    check_level_count,
    check_n_levels,
    check_samples,
    magnitude_scale,
    unscale_mse,
)

__all__ = ["optimal_kmeans_1d", "optimal_thresholds_fixed_levels"]

_KMEANS_METHODS = {
    "naive": _kernels.METHOD_NAIVE,
    "dc": _kernels.METHOD_DC,
    "smawk": _kernels.METHOD_SMAWK,
}


def _distinct_values(x, w):
    """Sorted distinct values of ``x`` carrying positive weight, and their total weights."""
    if w is None:
        xs = np.sort(x)
        return _kernels.compress_sorted(xs, xs[:1], False)
    order = np.argsort(x, kind="stable")
    return _kernels.compress_sorted(x[order], np.ascontiguousarray(w[order]), True)


def _prefix_sums(u, cw):
    mean = float(np.dot(cw, u) / cw.sum())
    n = u.shape[0]
    S0 = np.empty(n + 1)
    S1 = np.empty(n + 1)
    S2 = np.empty(n + 1)
    _kernels.centred_prefix_sums(u, cw, mean, S0, S1, S2)
    return mean, S0, S1, S2


# Below this many argmin entries (int32) a slice is solved directly with backtracking.
_LOW_MEMORY_DIRECT = 1 << 22


def _split_direct(u, cw, k, code):
    """First index of each cluster (and the total SS of the prefix sums) by the full DP."""
    n = u.shape[0]
    mean = float(np.dot(cw, u) / cw.sum())
    table = _kernels.dp_table(u, cw, mean)
    J = np.empty((k, n), dtype=np.int32)
    _kernels.kmeans_dp(table, k, code, J)
    return _kernels.backtrack_starts(J, n, k), float(table[n, 2])


def _last_layer(u, cw, k, code):
    mean = float(np.dot(cw, u) / cw.sum())
    table = _kernels.dp_table(u, cw, mean)
    out = np.empty(u.shape[0])
    _kernels.kmeans_dp_last_layer(table, k, code, out)
    return out


def _split_low_memory(u, cw, k, code):
    """Cluster starts with O(n) memory: divide and conquer over the number of clusters.

    For ``k`` clusters on a slice, the cost of the best ``k1 = k // 2`` clusters on every
    prefix (one forward DP) and of the best ``k - k1`` clusters on every suffix (the same DP
    on the mirrored slice ``-u[::-1]``, still sorted) locate the optimal boundary between
    cluster ``k1`` and ``k1 + 1``; both halves are then solved recursively (Hirschberg's
    idea). Time O(kN log N log k) for "dc", memory O(N).
    """
    starts = []

    def solve(lo, hi, kk):
        n = hi - lo + 1
        if kk == 1:
            starts.append(lo)
            return
        if kk == n:
            starts.extend(range(lo, hi + 1))
            return
        if n * kk <= _LOW_MEMORY_DIRECT:
            part, _ = _split_direct(u[lo:hi + 1], cw[lo:hi + 1], kk, code)
            starts.extend((part + lo).tolist())
            return
        k1 = kk // 2
        seg_u = u[lo:hi + 1]
        seg_w = cw[lo:hi + 1]
        F = _last_layer(seg_u, seg_w, k1, code)
        B = _last_layer(np.ascontiguousarray(-seg_u[::-1]), np.ascontiguousarray(seg_w[::-1]),
                        kk - k1, code)
        m = np.arange(k1, n - (kk - k1) + 1)  # first index of the right part
        split = int(m[np.argmin(F[m - 1] + B[n - 1 - m])])
        solve(lo, lo + split - 1, k1)
        solve(lo + split, hi, kk - k1)

    solve(0, u.shape[0] - 1, k)
    mean = float(np.dot(cw, u) / cw.sum())
    return np.asarray(starts, dtype=np.int64), float(np.dot(cw, (u - mean) ** 2))


def _midpoints(levels):
    """Midpoints of adjacent levels, halved first so that none overflows near 1e308."""
    return 0.5 * levels[:-1] + 0.5 * levels[1:]


def _too_few_values_warning(n_levels, n_distinct, stacklevel=3):
    warnings.warn(
        f"n_levels={n_levels} exceeds the number of distinct values ({n_distinct}); "
        f"returning {n_distinct} levels, one per distinct value",
        UserWarning,
        stacklevel=stacklevel,
    )


def optimal_kmeans_1d(x, n_levels, *, method="dc", sample_weight=None, return_labels=False,
                      low_memory=False):
    """Globally optimal k-level quantizer of 1-D samples (exact 1-D k-means).

    Minimises the (weighted) mean squared error ``sum_l w_l (x_l - y_{c(l)})^2 / sum_l w_l``
    over all assignments of the samples to ``n_levels`` levels. The optimal clusters are
    contiguous in sorted order, so a dynamic program over sorted prefix sums finds the exact
    optimum: the ``q``-th layer ``D_q(i) = min_j D_{q-1}(j-1) + c(j, i)`` has argmins that are
    monotone in ``i``, which divide and conquer (O(kN log N)) and SMAWK (O(kN)) exploit.
    Equal values always share a cluster.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        Samples (finite; integers and booleans are cast to float64).
    n_levels : int
        Number of levels ``k >= 1``. If it exceeds the number of distinct values, every
        distinct value becomes a level (fewer than ``k`` are returned) and a warning is
        issued.
    method : {"dc", "smawk", "naive"}, default="dc"
        ``"dc"``: divide and conquer over the monotone argmins, O(kN log N). ``"smawk"``:
        the SMAWK row-minima algorithm, O(kN). ``"naive"``: the plain O(kN^2) DP (reference).
        All three return the same optimum up to rounding.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights (weighted prefix sums). Zero-weight samples do not influence
        the solution; they get the label of the cluster whose value range covers them (or
        of the next cluster above). Only relative weights matter: they are rescaled by a
        power of two, so weights near 1e-300 or 1e300 give the answer of ordinary ones.
        Weights below ``1e-16`` of the total vanish in the prefix sums: the split is then
        optimal up to that rounding (the rounding warning below says so).
    return_labels : bool, default=False
        Also return the cluster index of every sample.
    low_memory : bool, default=False
        Use O(N) memory instead of one int32 argmin per (level, distinct value): divide and
        conquer over the number of clusters (Hirschberg-style recomputation), about
        ``2 log2(k)`` times slower. For very large ``k * N`` (``4 k N`` bytes otherwise).

    Returns
    -------
    levels : ndarray of shape (n_levels_effective,)
        Increasing levels (the weighted cluster means).
    thresholds : ndarray of shape (n_levels_effective - 1,)
        Decision thresholds, the midpoints between adjacent levels (the k-means boundaries).
    mse : float
        Weighted mean squared error of the optimum (the inertia divided by the total weight).
    labels : ndarray of shape (n_samples,), int64
        Only if ``return_labels``: cluster index of each sample, non-decreasing in ``x``.

    Raises
    ------
    TypeError
        For a parameter of the wrong type (a non-integer ``n_levels``, non-real samples).
    ValueError
        For a bad value: NaN/inf or empty samples, bad weights, ``n_levels < 1``, an argmin
        table (``4 k N`` bytes) that cannot fit in memory (use ``low_memory=True``), or a
        mean squared error that overflows float64 (data beyond about 1e154; the levels
        scale with the data, so rescale it by a power of two).

    Notes
    -----
    Memory is one int32 argmin per (level, distinct value): ``4 k N`` bytes. The DP is
    exact in exact arithmetic; in float64 the cluster costs come from prefix sums of the
    centred values, so each carries an absolute error of about ``1e-16 * sum w (x - mean)^2``.
    Clusters whose own error is smaller than that (groups lying ~10^6 times farther apart
    than their internal spread) may then be split slightly sub-optimally, and the three
    methods may disagree in such cases (a warning is issued when the rounding bound
    ``4 k eps sum w (x - mean)^2`` exceeds ``1e-6`` of the optimum); elsewhere they agree to
    ~1e-12 relative (and pick
    different optima only when several clusterings tie exactly). The reported ``levels``
    and ``mse`` are recomputed directly from the clusters, not from the prefix sums.
    ``"dc"`` also uses the monotonicity of the argmins across layers (the last of ``q``
    clusters starts no earlier than the last of ``q - 1``), which makes it the fastest
    method in practice; SMAWK's scattered memory accesses cost more than its lower
    operation count saves for N up to 10^7.

    References: Wu (1991), "Optimal quantization by matrix searching"; Wang and Song (2011),
    Ckmeans.1d.dp; Grønlund et al. (2017), arXiv:1701.07204.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import optimal_kmeans_1d
    >>> levels, thresholds, mse = optimal_kmeans_1d([1.0, 1.2, 5.0, 5.2, 9.0], 3)
    >>> levels
    array([1.1, 5.1, 9. ])
    >>> thresholds
    array([3.1 , 7.05])
    >>> round(mse, 6)
    0.008
    >>> optimal_kmeans_1d([0, 0, 1, 3], 2, method="smawk", return_labels=True)[3]
    array([0, 0, 0, 1])
    """
    x, w = check_samples(x, sample_weight=sample_weight)
    k = check_n_levels(n_levels)
    check_choice(method, "method", tuple(_KMEANS_METHODS))
    return_labels = check_bool(return_labels, "return_labels")
    low_memory = check_bool(low_memory, "low_memory")
    u, cw = _distinct_values(x, w)
    n = u.shape[0]
    # The DP runs on u / 2^e with 2^e ~ max |u|: exact (a power of two), so ordinary data
    # give bit-identical decisions, and squares cannot overflow for |x| > 1e154.
    scale = magnitude_scale(u)
    if k >= n:
        if k > n:
            _too_few_values_warning(k, n)
        starts = np.arange(n, dtype=np.int64)
    else:
        us = u / scale
        if low_memory:
            starts, total_ss = _split_low_memory(us, cw, k, _KMEANS_METHODS[method])
        else:
            check_allocation(float(min(k, 2**80)) * n, "n_levels", itemsize=4,
                             what="the argmin table of the DP (low_memory=True needs O(N))")
            starts, total_ss = _split_direct(us, cw, k, _KMEANS_METHODS[method])
    levels, inertia_s = _cluster_means(u, cw, starts, scale)
    mse = unscale_mse(inertia_s / float(cw.sum()), scale)
    if k < n:
        # Each DP cost is a difference of prefix sums of size up to total_ss: its rounding
        # error is a few ulps of total_ss. When that is not negligible against the optimum
        # the split may be slightly sub-optimal: say so instead of failing silently.
        slack = 4.0 * k * np.finfo(np.float64).eps * total_ss
        if slack > 1e-6 * inertia_s:
            s2 = scale * scale
            warnings.warn(
                f"the optimal squared error ({inertia_s * s2:.3g}) is within float64 rounding "
                f"of the prefix sums (total {total_ss * s2:.3g}): the partition may be "
                f"sub-optimal by up to about {slack * s2:.2g} (clusters far apart relative to "
                "their spread)", UserWarning, stacklevel=2)
    thresholds = _midpoints(levels)
    if not return_labels:
        return levels, thresholds, mse
    ends = np.append(starts[1:], n) - 1
    labels = np.searchsorted(u[ends[:-1]], x, side="left").astype(np.int64)
    return levels, thresholds, mse, labels


def _cluster_means(u, cw, starts, scale):
    """Weighted means of the clusters of sorted ``u`` starting at ``starts``, and the
    weighted sum of squared deviations in units of ``scale`` (squared).

    Levels and the error are computed directly from the clusters (no prefix-sum
    differences): the DP decides the split, plain weighted means report it. Each cluster is
    averaged after division by a power of two near its own largest magnitude, so the mean of
    a cluster of tiny values is exact to its own precision even next to huge ones, and no
    sum overflows.
    """
    n = u.shape[0]
    ends = np.append(starts[1:], n) - 1
    sizes = np.diff(np.append(starts, n))
    big = np.maximum(np.abs(u[starts]), np.abs(u[ends]))
    cs = np.ldexp(0.5, np.frexp(big)[1])  # per cluster: |u| / cs < 2 (and cs finite)
    cs_each = np.repeat(cs, sizes)
    v = u / cs_each
    wsum = np.add.reduceat(cw, starts)
    lev = np.add.reduceat(cw * v, starts) / wsum
    # A mean of values in [a, b] can leave [a, b] by one ulp; keep levels inside their
    # cluster so that they stay increasing.
    lev = np.clip(lev, v[starts], v[ends])
    levels = lev * cs
    resid = (v - np.repeat(lev, sizes)) * (cs_each / scale)
    return levels, float(np.dot(cw, resid * resid))


def _evaluate_loss(loss, u, y):
    vals = np.asarray(loss(u, y), dtype=np.float64)
    if vals.shape != u.shape:
        vals = np.broadcast_to(vals, u.shape)
    if not np.isfinite(vals).all():
        raise ValueError(f"loss returned NaN or infinity at level {y!r}")
    return vals


def optimal_thresholds_fixed_levels(x, levels, loss="squared", method="auto", *,
                                    sample_weight=None):
    """Optimal monotone decision thresholds for fixed output levels and a per-sample loss.

    Finds thresholds ``t_1 <= ... <= t_{k-1}`` minimising ``sum_l w_l loss(x_l, y_{q(l)})``
    where ``q(x) = #{t_i < x}`` (a sample equal to a threshold goes to the lower level), over
    all monotone assignments of the sorted samples to the fixed levels ``y_1 < ... < y_k``
    (cells may be empty). This is the generalised DP of the specification: for the squared
    loss the answer is the level midpoints; for other losses (absolute error, an
    index-domain loss ``(G(x) - y)^2`` with a monotone target ``G``, a rate term...) it is
    the best nearest-neighbour-free monotone rule.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        Samples.
    levels : array-like of shape (k,)
        Strictly increasing output levels, ``k >= 1``.
    loss : "squared" or callable, default="squared"
        ``loss(values, level)`` receives the sorted distinct sample values (1-D float64
        array) and one level (float) and returns the per-value losses (array of the same
        shape, finite). It is evaluated once per level with NumPy; the DP itself runs in
        Numba.
    method : {"auto", "dc", "naive"}, default="auto"
        ``"auto"`` (and its alias ``"dc"``): the per-layer minimum over the segment start is
        a running minimum because the loss is additive over samples, giving an exact O(kN)
        DP for *every* loss (no convexity or monotone-argmin condition is needed).
        ``"naive"``: the literal O(kN^2) DP, kept as a reference.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights multiplying each sample's loss.

    Returns
    -------
    thresholds : ndarray of shape (k - 1,)
        Non-decreasing thresholds. Between two samples the threshold is the level midpoint
        when that midpoint separates them correctly, else the midpoint of the two samples;
        a boundary outside the data is the level midpoint clipped to the data.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import optimal_thresholds_fixed_levels
    >>> x = np.array([0.1, 0.4, 0.6, 1.4, 1.9])
    >>> optimal_thresholds_fixed_levels(x, [0.0, 1.0, 2.0])
    array([0.5, 1.5])
    >>> absolute = lambda v, y: np.abs(v - y)
    >>> optimal_thresholds_fixed_levels(x, [0.0, 1.0, 2.0], loss=absolute)
    array([0.5, 1.5])
    """
    x, w = check_samples(x, sample_weight=sample_weight)
    y = check_array_param(levels, "levels", ndim=1, min_size=0)
    if y.shape[0] < 1:
        raise ValueError("levels must be a non-empty 1-D array")
    if y.shape[0] > 1 and not (np.diff(y) > 0).all():
        raise ValueError("levels must be strictly increasing")
    if isinstance(loss, str):
        check_choice(loss, "loss", ("squared",))
    elif not callable(loss):
        raise TypeError(f"loss must be 'squared' or a callable, got {loss!r}")
    check_choice(method, "method", ("auto", "dc", "naive"))
    k = y.shape[0]
    if k == 1:
        return np.empty(0)
    u, cw = _distinct_values(x, w)
    n = u.shape[0]
    check_allocation(2.0 * k * (n + 1), "levels", what="the loss and argmin tables of the DP")
    table = np.empty((k, n))
    if isinstance(loss, str):
        # squared loss on data and levels divided by one power of two: exact, and the
        # squares neither overflow nor underflow for magnitudes up to 1e+-300
        scale = magnitude_scale(np.array([min(u[0], y[0]), max(u[-1], y[-1])]))
        us, ys = u / scale, y / scale
        for q in range(k):
            d = us - ys[q]
            table[q] = d * d * cw
    else:
        for q in range(k):
            table[q] = _evaluate_loss(loss, u, float(y[q])) * cw
    J = np.empty((k, n + 1), dtype=np.int64)
    _kernels.fixed_levels_dp(table, method == "naive", J)
    # bounds[q] = number of distinct values assigned to levels < q.
    bounds = np.empty(k + 1, dtype=np.int64)
    bounds[k] = n
    i = n
    for q in range(k - 1, 0, -1):
        i = int(J[q, i])
        bounds[q] = i
    bounds[0] = 0
    thresholds = np.empty(k - 1)
    for q in range(1, k):
        b = bounds[q]
        lo = u[b - 1] if b > 0 else -np.inf  # largest value mapped below level q
        hi = u[b] if b < n else np.inf  # smallest value mapped to level >= q
        t = 0.5 * y[q - 1] + 0.5 * y[q]  # halves first: no overflow near 1e308
        if not (lo <= t < hi):
            if np.isfinite(lo) and np.isfinite(hi):
                t = 0.5 * lo + 0.5 * hi
                if not t < hi:  # adjacent floats
                    t = lo
            elif np.isfinite(lo):
                t = max(t, lo)
            else:
                t = min(t, np.nextafter(hi, -np.inf))
        thresholds[q - 1] = t
    return np.maximum.accumulate(thresholds)
