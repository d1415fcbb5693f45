"""Numba kernels of the graph fusion solver: the per-edge passes over (V, m) arrays.

Each kernel is one streaming pass over the (V, m) arrays (V views, m edges), rows contiguous.
One outer iteration of the solver is a single pass (``fused_iteration``): the m edge problems
are independent and share one V x V Hessian, so everything per edge is done while its column
is in cache, in blocks of edges so that the inner loops run over contiguous memory and
vectorise. Arithmetic and reductions are in float64 whatever the storage dtype, so float32
inputs lose precision only in storage.

The ``*_parallel`` kernels run the same passes on every core (``numba.prange``) over a fixed
partition of the edges into chunks of ``_CHUNK`` edges: each chunk sums into its own partial
sums, and the partial sums are added in chunk order afterwards, so the result does not depend
on the number of threads (the partition does not either).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["fused_iteration", "fused_iteration_parallel", "fusion_setup_parallel",
           "row_sums_parallel", "bad_entries_per_row", "consistency_term", "row_norms_and_dots"]


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
            d = ai * np.float64(A[i, e]) - np.float64(S[e])
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
            a = np.float64(A[i, e])
            nn += a * a
            dd += a * np.float64(S[e])
        sq_norms[i] = nn
        dots[i] = dd


# Edges per block of the fused iteration: the block's (V, B) work arrays stay in L1/L2 cache.
_BLOCK = 256
# Edges per chunk of the parallel kernels: the unit of work of one thread and of one partial
# sum. Fixed (never derived from the thread count), so the reduction order is fixed too.
_CHUNK = 16384


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _fused_range(W, A_old, S_old, A_new, S_new, alpha, coef, dw, gamma, r_diag, q_diag, wa,
                 inv_rho, dca_iter, update_s, lo, hi, t1, G, sq_norms, dots):  # pragma: no cover
    """The fused iteration on the edges ``lo .. hi - 1``, adding its sums into the accumulators.

    ``t1[i]`` gets the unweighted consistency sums, ``G`` the lower triangle of E E^T,
    ``sq_norms`` and ``dots`` the statistics of the new iterate (see :func:`fused_iteration`).
    """
    V = W.shape[0]
    B = _BLOCK
    a = np.empty((V, B))
    g = np.empty((V, B))
    r = np.empty((V, B))
    u = np.empty((V, B))
    s = np.empty(B)
    t = np.empty(B)
    for b0 in range(lo, hi, B):
        nb = min(B, hi - b0)
        sb = S_old[b0:b0 + nb]
        # load the block (float64), consistency term at the old iterate, S-step
        if update_s:
            s[:nb] = 0.0
        else:
            s[:nb] = S_new[b0:b0 + nb]
        for i in range(V):
            ai = alpha[i]
            ci = coef[i]
            acc = 0.0
            src = A_old[i, b0:b0 + nb]
            dst = a[i]
            ui = u[i]
            wsrc = W[i, b0:b0 + nb]
            for e in range(nb):
                x = np.float64(src[e])
                dst[e] = x
                ui[e] = np.float64(wsrc[e])
                d = ai * x - np.float64(sb[e])
                acc += d * d
            if update_s:
                for e in range(nb):
                    s[e] += ci * dst[e]
            t1[i] += acc
        if update_s:
            out = S_new[b0:b0 + nb]
            for e in range(nb):
                out[e] = s[e]
                s[e] = np.float64(out[e])  # the stored (possibly float32) value
        # linear term r = Hp u + (w alpha) s, Hp = (beta - gamma) diag(dw^2) + gamma dw dw^T
        for e in range(nb):
            t[e] = 0.0
        for j in range(V):
            dj = dw[j]
            uj = u[j]
            for e in range(nb):
                t[e] += dj * uj[e]
        for i in range(V):
            wai = wa[i]
            rdi = r_diag[i]
            gdi = gamma * dw[i]
            ri = r[i]
            ui = u[i]
            for e in range(nb):
                ri[e] = rdi * ui[e] + gdi * t[e] + wai * s[e]
        # projected-gradient (DCA) sweeps, Jacobi: Q a - r from the old a, then clip
        for _ in range(dca_iter):
            for e in range(nb):
                t[e] = 0.0
            for j in range(V):
                dj = dw[j]
                aj = a[j]
                for e in range(nb):
                    t[e] += dj * aj[e]
            for i in range(V):
                qdi = q_diag[i]
                gdi = gamma * dw[i]
                ai_ = a[i]
                ri = r[i]
                ui = u[i]
                for e in range(nb):
                    x = ai_[e] - (qdi * ai_[e] + gdi * t[e] - ri[e]) * inv_rho
                    x = max(x, 0.0)
                    x = min(x, ui[e])
                    ai_[e] = x
        # store A; statistics of the new iterate (g is reused as the block of E = W - A)
        for i in range(V):
            nn = 0.0
            dd = 0.0
            ai_ = a[i]
            gi = g[i]
            ui = u[i]
            dst = A_new[i, b0:b0 + nb]
            for e in range(nb):
                dst[e] = ai_[e]
                x = np.float64(dst[e])  # the stored (possibly float32) value
                nn += x * x
                dd += x * s[e]
                gi[e] = ui[e] - x
            sq_norms[i] += nn
            dots[i] += dd
        for i in range(V):
            gi = g[i]
            for j in range(i + 1):
                gj = g[j]
                acc = 0.0
                for e in range(nb):
                    acc += gi[e] * gj[e]
                G[i, j] += acc


@njit(cache=True, nogil=True)
def _symmetrize_and_weigh(G, w, t1):  # pragma: no cover - compiled
    """Mirror the lower triangle of ``G`` into the upper; return ``sum_i w_i t1_i`` (the
    consistency term), the common end of the serial and parallel fused iterations."""
    V = G.shape[0]
    for i in range(V):
        for j in range(i):
            G[j, i] = G[i, j]
    total = 0.0
    for i in range(V):
        total += w[i] * t1[i]
    return total


@njit(cache=True, nogil=True)
def fused_iteration(W, A_old, S_old, A_new, S_new, alpha, w, coef, dw, gamma, r_diag, q_diag,
                    wa, inv_rho, dca_iter, update_s, G, sq_norms, dots):  # pragma: no cover - compiled
    """One streaming pass over the edges doing the objective, S-, A- and E-steps of an iteration.

    Per edge column ``a = A_old[:, e]``, ``u = W[:, e]`` (in blocks of edges so that the inner
    loops run over contiguous edges and vectorise):

    * consistency term of J at (S_old, A_old, alpha): ``sum_i w_i (alpha_i a_i - S_old[e])^2``;
    * S-step ``s = coef^T a`` (``coef = w alpha / sum w``) stored in ``S_new`` (if ``update_s``,
      otherwise ``S_new`` is read as the given S);
    * A-step: ``dca_iter`` projected-gradient sweeps ``a <- clip(a - (Q a - r)/rho, 0, u)``
      stored in ``A_new`` (may alias ``A_old``). With ``dw = w o alpha`` the edge-QP matrices
      are ``H' = C o (alpha alpha^T) = (beta - gamma) diag(dw^2) + gamma dw dw^T`` and
      ``Q = H' + diag(w alpha^2)``, so ``Q a = q_diag o a + gamma dw (dw^T a)`` and
      ``r = H' u + (w alpha) s = r_diag o u + gamma dw (dw^T u) + wa s`` cost O(V) per edge
      (``r_diag = (beta - gamma) dw^2``, ``q_diag = r_diag + w alpha^2``, ``wa = w alpha``);
    * statistics of the new iterate for the next alpha-step: ``G = E E^T`` (E = W - A_new),
      ``sq_norms_i = ||A_new_i||^2``, ``dots_i = <A_new_i, S_new>``.

    ``S_new`` may alias ``S_old`` too (each block reads its S before writing it).
    Memory traffic per iteration: read W, A_old, S_old once, write A_new, S_new once.
    Returns the consistency term (float64). All arithmetic and reductions are in float64.
    One thread; :func:`fused_iteration_parallel` is the same pass on every core.
    """
    V, m = W.shape
    t1 = np.zeros(V)
    G[:, :] = 0.0
    sq_norms[:] = 0.0
    dots[:] = 0.0
    _fused_range(W, A_old, S_old, A_new, S_new, alpha, coef, dw, gamma, r_diag, q_diag, wa,
                 inv_rho, dca_iter, update_s, 0, m, t1, G, sq_norms, dots)
    return _symmetrize_and_weigh(G, w, t1)


@njit(cache=True, nogil=True, parallel=True)
def fused_iteration_parallel(W, A_old, S_old, A_new, S_new, alpha, w, coef, dw, gamma, r_diag,
                             q_diag, wa, inv_rho, dca_iter, update_s, G, sq_norms,
                             dots):  # pragma: no cover - compiled
    """:func:`fused_iteration` on every core, with a result independent of the thread count.

    The edges are cut into fixed chunks of ``_CHUNK`` edges, run in parallel; each chunk keeps
    its own partial sums (consistency term, E E^T, norms, dots), which are then added in chunk
    order. Same arguments, aliasing rules and return value as :func:`fused_iteration`.
    """
    V, m = W.shape
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    part_t1 = np.zeros((n_chunks, V))
    part_G = np.zeros((n_chunks, V, V))
    part_nn = np.zeros((n_chunks, V))
    part_dd = np.zeros((n_chunks, V))
    for c in prange(n_chunks):
        lo = c * _CHUNK
        hi = min(m, lo + _CHUNK)
        _fused_range(W, A_old, S_old, A_new, S_new, alpha, coef, dw, gamma, r_diag, q_diag, wa,
                     inv_rho, dca_iter, update_s, lo, hi, part_t1[c], part_G[c], part_nn[c],
                     part_dd[c])
    t1 = np.zeros(V)
    G[:, :] = 0.0
    sq_norms[:] = 0.0
    dots[:] = 0.0
    for c in range(n_chunks):
        for i in range(V):
            t1[i] += part_t1[c, i]
            sq_norms[i] += part_nn[c, i]
            dots[i] += part_dd[c, i]
            for j in range(i + 1):
                G[i, j] += part_G[c, i, j]
    return _symmetrize_and_weigh(G, w, t1)


@njit(cache=True, nogil=True, parallel=True)
def row_sums_parallel(W):  # pragma: no cover - compiled
    """Row sums (float64) and row maxima of a (V, m) array in one pass of fixed chunks.

    The chunk sums are added in chunk order.
    """
    V, m = W.shape
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    part = np.zeros((n_chunks, V))
    part_max = np.full((n_chunks, V), -np.inf)
    for c in prange(n_chunks):
        lo = c * _CHUNK
        hi = min(m, lo + _CHUNK)
        for i in range(V):
            acc = 0.0
            big = -np.inf
            for e in range(lo, hi):
                x = np.float64(W[i, e])
                acc += x
                big = max(big, x)
            part[c, i] = acc
            part_max[c, i] = big
    sums = np.zeros(V)
    maxes = np.full(V, -np.inf)
    for c in range(n_chunks):
        for i in range(V):
            sums[i] += part[c, i]
            maxes[i] = max(maxes[i], part_max[c, i])
    return sums, maxes


@njit(cache=True, nogil=True, parallel=True)
def fusion_setup_parallel(W, scales, W_out, coef, alpha, w, S, sq_norms,
                          dots):  # pragma: no cover - compiled
    """The solver's setup in one parallel pass: scaled views, first S and the first statistics.

    ``W_out[i] = W[i] * scales[i]`` (in the storage dtype, as NumPy would multiply; ``W_out``
    may be ``W`` itself), ``S = coef^T W_out`` (in float64, stored), ``sq_norms_i =
    ||W_out_i||^2`` and ``dots_i = <W_out_i, S>`` (the statistics of the initial iterate
    A = W_out). Returns the consistency term ``sum_i w_i ||alpha_i W_out_i - S||^2`` at that
    iterate (float64). Fixed chunks, partial sums added in chunk order.
    """
    V, m = W.shape
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    part_t1 = np.zeros((n_chunks, V))
    part_nn = np.zeros((n_chunks, V))
    part_dd = np.zeros((n_chunks, V))
    for c in prange(n_chunks):
        lo = c * _CHUNK
        hi = min(m, lo + _CHUNK)
        for i in range(V):
            si = scales[i]
            for e in range(lo, hi):
                W_out[i, e] = W[i, e] * si
        for e in range(lo, hi):
            acc = 0.0
            for i in range(V):
                acc += coef[i] * np.float64(W_out[i, e])
            S[e] = acc
        for i in range(V):
            ai = alpha[i]
            nn = 0.0
            dd = 0.0
            tt = 0.0
            for e in range(lo, hi):
                x = np.float64(W_out[i, e])
                se = np.float64(S[e])
                nn += x * x
                dd += x * se
                d = ai * x - se
                tt += d * d
            part_nn[c, i] = nn
            part_dd[c, i] = dd
            part_t1[c, i] = tt
    total = 0.0
    sq_norms[:] = 0.0
    dots[:] = 0.0
    t1 = np.zeros(V)
    for c in range(n_chunks):
        for i in range(V):
            t1[i] += part_t1[c, i]
            sq_norms[i] += part_nn[c, i]
            dots[i] += part_dd[c, i]
    for i in range(V):
        total += w[i] * t1[i]
    return total


@njit(cache=True, nogil=True, parallel=True)
def bad_entries_per_row(W):  # pragma: no cover - compiled
    """Per row of a (V, m) array: ``(number of NaN/inf entries, number of negative entries)``.

    One parallel pass without temporaries (the validation of the solver's input).
    """
    V, m = W.shape
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    part = np.zeros((n_chunks, 2, V), dtype=np.int64)
    for c in prange(n_chunks):
        lo = c * _CHUNK
        hi = min(m, lo + _CHUNK)
        for i in range(V):
            nonfinite = 0
            negative = 0
            for e in range(lo, hi):
                x = W[i, e]
                if not np.isfinite(x):
                    nonfinite += 1
                elif x < 0:
                    negative += 1
            part[c, 0, i] = nonfinite
            part[c, 1, i] = negative
    counts = np.zeros((2, V), dtype=np.int64)
    for c in range(n_chunks):
        for i in range(V):
            counts[0, i] += part[c, 0, i]
            counts[1, i] += part[c, 1, i]
    return counts[0], counts[1]
