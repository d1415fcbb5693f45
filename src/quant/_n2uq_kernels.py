"""Numba kernels of the N2UQ activation quantizer (forward, surrogate, generalized-STE backward).

Conventions (the public front end in ``_n2uq.py`` validates and prepares everything):

* ``x`` is a flat C-contiguous float64 array; ``z = scale1 * x`` is formed inside the loops so
  that no temporary of the input's size is allocated.
* ``knots`` are T_0..T_L (length L + 1), ``ahat`` the floored interval lengths (length L) and
  ``breaks`` the interleaved sequence T_0, m_0, T_1, m_1, ..., m_{L-1}, T_L (length 2L + 1) with
  m_i = T_i + ahat_i / 2 the decision thresholds. ``breaks`` is non-decreasing (fl(T + a/2) <=
  fl(T + a) for a > 0), so one count ``j = #{breaks < z}`` gives both the output index
  ``c = #{m_i < z} = j // 2`` and the surrogate segment ``k = #{T_i < z} - 1 = (j - 1) // 2``
  (k = -1 below T_0, k = L above T_L).
* Counting uses strict ``<``: a sample exactly on a threshold rounds down (the tie rule of the
  reference code, which differs from NumPy's round-half-even).

Short break sequences are counted by a compare-and-sum (branch free, faster than a binary search
for the 2-4 bit quantizers that matter); long ones by binary search, so the cost is
O(N log L) in all cases.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Up to this many sorted values a linear compare-and-sum beats a binary search.
_LINEAR_COUNT_MAX = 32


@njit(cache=True, inline="always")
def _count_less(sorted_values, z):
    """Number of entries of the non-decreasing array ``sorted_values`` that are < z."""
    n = sorted_values.shape[0]
    if n <= _LINEAR_COUNT_MAX:
        count = 0
        for i in range(n):
            count += sorted_values[i] < z
        return count
    # Branch-free lower bound: the answer stays in [base, base + n]; the select compiles to a
    # conditional move, so random inputs cost no branch mispredictions.
    base = 0
    while n > 1:
        half = n >> 1
        base = base + half if sorted_values[base + half - 1] < z else base
        n -= half
    return base + (sorted_values[base] < z)


@njit(cache=True)
def n2uq_forward_kernel(x, scale1, mids, values, out):
    """out[n] = values[#{mids < scale1 * x[n]}] (values[c] = scale2 * c * step)."""
    for n in range(x.shape[0]):
        out[n] = values[_count_less(mids, scale1 * x[n])]


@njit(cache=True)
def n2uq_index_kernel(x, scale1, mids, out):
    """out[n] = #{mids < scale1 * x[n]}, the integer output index in 0..L."""
    for n in range(x.shape[0]):
        out[n] = _count_less(mids, scale1 * x[n])


@njit(cache=True)
def n2uq_surrogate_kernel(x, scale1, knots, ahat, step, scale2, out):
    """out[n] = scale2 * F(scale1 * x[n]) with F the piecewise-linear surrogate."""
    n_steps = ahat.shape[0]
    top = 2.0 * scale2
    for n in range(x.shape[0]):
        z = scale1 * x[n]
        k = _count_less(knots, z) - 1
        if k < 0:
            out[n] = 0.0
        elif k >= n_steps:
            out[n] = top
        else:
            out[n] = scale2 * (step * (k + (z - knots[k]) / ahat[k]))


@njit(cache=True)
def n2uq_backward_kernel(grad_out, x, scale1, scale2, knots, ahat, breaks, step, slope_clip,
                         grad_x, seg_sum, seg_lin):
    """Per-sample input gradient and per-segment sums for the parameter gradients.

    Writes ``grad_x`` and, for every segment k, ``seg_sum[k] = sum g * step / ahat_k`` and
    ``seg_lin[k] = sum g * step * (z - T_k) / ahat_k**2`` over the samples with z in
    (T_k, T_{k+1}] (g = grad_out). Returns ``(sum g * x * step / ahat_k  over inside samples,
    sum g * c * step over all samples)``, the unscaled scale1 and scale2 gradients.
    ``slope_clip <= 0`` means no clipping of the input slope.
    """
    n_steps = ahat.shape[0]
    acc_scale1 = 0.0
    acc_scale2 = 0.0
    clip = slope_clip > 0.0
    last = 2 * n_steps + 1
    for n in range(x.shape[0]):
        xn = x[n]
        g = grad_out[n]
        z = scale1 * xn
        j = _count_less(breaks, z)
        acc_scale2 += g * ((j // 2) * step)
        # Outside (T_0, T_L] the surrogate is flat: clamp the segment and zero the weight
        # (branch free; about half of the samples of a centred input are below start).
        inside = 1.0 if (j != 0 and j != last) else 0.0
        k = min(max((j - 1) // 2, 0), n_steps - 1)
        slope = inside * (step / ahat[k])
        slope_x = scale2 * scale1 * slope
        if clip:
            slope_x = min(slope_x, slope_clip)
        grad_x[n] = g * slope_x
        gs = g * slope
        seg_sum[k] += gs
        seg_lin[k] += gs * (z - knots[k]) / ahat[k]
        acc_scale1 += gs * xn
    return acc_scale1, acc_scale2


def warm_up():
    """Compile every kernel once on tiny inputs (used by benchmarks before timing)."""
    x = np.zeros(2)
    knots = np.array([0.0, 1.0])
    ahat = np.array([1.0])
    mids = np.array([0.5])
    breaks = np.array([0.0, 0.5, 1.0])
    out = np.empty(2)
    n2uq_forward_kernel(x, 1.0, mids, np.array([0.0, 2.0]), out)
    n2uq_index_kernel(x, 1.0, mids, np.empty(2, dtype=np.int64))
    n2uq_surrogate_kernel(x, 1.0, knots, ahat, 2.0, 1.0, out)
    n2uq_backward_kernel(x, x, 1.0, 1.0, knots, ahat, breaks, 2.0, 0.0, out, np.zeros(1),
                         np.zeros(1))
