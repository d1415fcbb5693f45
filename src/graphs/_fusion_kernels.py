"""Numba kernels of the graph fusion solver: the per-edge passes over (V, m) arrays.

Each kernel is one streaming pass over contiguous rows (views) of length m (edges); the
V x V by V x m products are left to BLAS in the caller. Reductions accumulate in float64
whatever the storage dtype, so float32 inputs lose precision only in storage and BLAS.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["dca_clip_sweep", "consistency_term", "row_norms_and_dots"]


@njit(cache=True, nogil=True)
def dca_clip_sweep(A, E, W, HE, S, wa2, wa, inv_rho):  # pragma: no cover - compiled
    """One projected-gradient (DCA) sweep of the A-step, in place, and the E-step.

    For every view ``i`` and edge ``e`` the gradient (halved) of the edge box-QP
    ``a^T Q a - 2 r^T a`` is ``Q a - r = wa2[i] * A[i, e] - HE[i, e] - wa[i] * S[e]``
    (since ``Q = H' + diag(w alpha^2)``, ``r = H' W + (w alpha) S`` and ``W - A = E``), with
    ``HE = H' @ E`` precomputed from the *old* E, so the update is a Jacobi step::

        A <- clip(A - (Q A - r) / rho, 0, W),   E <- W - A.
    """
    V, m = A.shape
    for i in range(V):
        c2 = wa2[i]
        c1 = wa[i]
        for e in range(m):
            a = A[i, e]
            g = c2 * a - HE[i, e] - c1 * S[e]
            a = a - g * inv_rho
            ub = W[i, e]
            if a < 0.0:
                a = 0.0
            elif a > ub:
                a = ub
            A[i, e] = a
            E[i, e] = ub - a


@njit(cache=True, nogil=True)
def consistency_term(A, S, alpha, w):  # pragma: no cover - compiled
    """Return ``sum_i w_i * ||alpha_i A_i - S||^2`` in float64 (one pass, no temporaries).

    Computed directly rather than by expanding the square, which would cancel
    catastrophically when the views agree (the objective is then ~0).
    """
    V, m = A.shape
    total = 0.0
    for i in range(V):
        ai = alpha[i]
        acc = 0.0
        for e in range(m):
            d = ai * float(A[i, e]) - float(S[e])
            acc += d * d
        total += w[i] * acc
    return total


@njit(cache=True, nogil=True)
def row_norms_and_dots(A, S, sq_norms, dots):  # pragma: no cover - compiled
    """Fill ``sq_norms[i] = ||A_i||^2`` and ``dots[i] = <A_i, S>`` (float64) in one pass."""
    V, m = A.shape
    for i in range(V):
        nn = 0.0
        dd = 0.0
        for e in range(m):
            a = float(A[i, e])
            nn += a * a
            dd += a * float(S[e])
        sq_norms[i] = nn
        dots[i] = dd
