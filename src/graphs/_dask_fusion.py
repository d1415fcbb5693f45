"""The consistent graph fusion solver as a map-reduce over edge chunks on a Dask cluster.

The second driver of the in-memory solver's kernels (:mod:`._fusion_kernels`): the (V, m)
arrays W, A and S are split by edges into chunks that stay on the workers (as futures). Per
iteration every chunk runs :func:`fused_iteration` (objective term, S-, A-, E-steps and the
V x V statistics of its edges); the client sums the chunks' statistics in chunk order, solves
the V-variable alpha-step and applies the same stopping rule as :func:`consistent_graph_fusion`.
Only O(V^2) numbers per chunk travel to the client.

Lost chunks (a worker dies) are recomputed by the Dask scheduler from their lineage; every
task is deterministic, so the recomputed chunk equals the lost one.
"""

from __future__ import annotations

import numpy as np

from ._fusion import (_a_step_terms, _alpha_step, _check_row_sums, _cross_penalty, _s_step,
                      _scale_views, _stop_reason, _stop_thresholds)
from ._fusion_kernels import consistency_term, fused_iteration, row_norms_and_dots
from ._scaling import safe_scale

__all__ = ["dask_graph_fusion"]


def _row_max(W):
    return W.max(axis=1).astype(np.float64) if W.shape[1] else np.zeros(W.shape[0])


def _row_sums_chunk(W, p):
    if np.all(p == 1.0):
        return W.sum(axis=1, dtype=np.float64)
    return np.array([(row / pi).sum(dtype=np.float64) for row, pi in zip(W, p)])


def _init_chunk(W, row_sums, p, w):
    """Scaled chunk, A = W, S = S-step at alpha = 1/V, and its statistics."""
    W, _ = _scale_views(W, row_sums, p)
    n_views = W.shape[0]
    alpha = np.full(n_views, 1.0 / n_views)
    A = W.copy()
    S = np.empty(W.shape[1], dtype=W.dtype)
    _s_step(A, alpha, w, out=S)
    sq_norms, dots = np.empty(n_views), np.empty(n_views)
    row_norms_and_dots(A, S, sq_norms, dots)
    stats = {
        "t1": float(consistency_term(A, S, alpha, w)),
        "G": np.zeros((n_views, n_views)),
        "sq_norms": sq_norms,
        "dots": dots,
        "w_sq": np.einsum("ij,ij->i", W, W, dtype=np.float64),
    }
    return {"W": W, "A": A, "S": S, "stats": stats}


def _step_chunk(state, alpha, w, coef, dw, gamma, r_diag, q_diag, wa, inv_rho, dca_iter):
    """One solver iteration on one edge chunk: the in-memory solver's fused kernel."""
    W, A, S = state["W"], state["A"], state["S"]
    n_views = W.shape[0]
    A_new, S_new = np.empty_like(W), np.empty_like(S)
    G, sq_norms, dots = np.empty((n_views, n_views)), np.empty(n_views), np.empty(n_views)
    t1 = fused_iteration(W, A, S, A_new, S_new, alpha, w, coef, dw, gamma, r_diag, q_diag, wa,
                         inv_rho, dca_iter, True, G, sq_norms, dots)
    stats = {"t1": float(t1), "G": G, "sq_norms": sq_norms, "dots": dots}
    return {"W": W, "A": A_new, "S": S_new, "stats": stats}


def _stats(state):
    return state["stats"]


def _final_chunk(state_a, state_s, alpha, w, recompute_s):
    """(S, A, E) of a chunk at the end: A from ``state_a``, S from ``state_s`` or recomputed."""
    W, A = state_a["W"], state_a["A"]
    S = state_s["S"]
    if recompute_s:
        S = np.empty_like(state_a["S"])
        _s_step(A, alpha, w, out=S)
    return S, A, W - A


def _part(x, i):
    return x[i]


def _summed(client, futures):
    """Sum the chunks' statistics on the client, in chunk order (deterministic)."""
    parts = client.gather(client.map(_stats, futures, pure=False))
    total = dict(parts[0])
    for part in parts[1:]:
        for key, value in part.items():
            total[key] = total[key] + value
    return total


def dask_graph_fusion(client, W_chunks, n_views, dtype, *, beta, gamma, w, max_iter, dca_iter,
                      rel_tol, min_iter, qp_tol, parity_mode):
    """:func:`consistent_graph_fusion` on (V, m_b) edge chunks held as futures on the workers.

    Returns ``(S_chunks, A_chunks, E_chunks, alpha, info)``: the chunks as futures and the
    rest as in the in-memory solver (same parameters validated by the caller).
    """
    # Global per-view scaling from reductions: the largest entry (overflow guard), then sums.
    if dtype == np.float64:
        maxes = np.max(client.gather(client.map(_row_max, W_chunks)), axis=0)
        p = np.array([safe_scale(v) for v in maxes])
    else:
        p = np.ones(n_views)
    row_sums = np.sum(client.gather(client.map(_row_sums_chunk, W_chunks, p=p)), axis=0)
    _check_row_sums(row_sums)
    _, scales = _scale_views(np.zeros((n_views, 0), dtype=dtype), row_sums, p)
    C = _cross_penalty(beta, gamma, w)

    states = client.map(_init_chunk, W_chunks, row_sums=row_sums, p=p, w=w)
    first = _summed(client, states)
    tiny, no_progress = _stop_thresholds(first["w_sq"], w, dtype)
    alpha = np.full(n_views, 1.0 / n_views)
    G, sq_norms, dots = first["G"], first["sq_norms"], first["dots"]
    J0 = float(first["t1"])
    objective = [J0]
    n_qp_calls, n_iter, stop_reason = 0, 0, "max_iter"
    previous = states
    stopped = False
    for t in range(1, max_iter + 1):
        n_iter = t
        H = np.diag(w * sq_norms) + C * G
        alpha, infeasible = _alpha_step(H, w * dots, alpha, qp_tol)
        n_qp_calls += int(infeasible)
        dw, r_diag, q_diag, wa, rho = _a_step_terms(alpha, beta, gamma, C, w)
        states = client.map(_step_chunk, previous, alpha=alpha, w=w, coef=w * alpha / w.sum(),
                            dw=dw, gamma=gamma, r_diag=r_diag, q_diag=q_diag, wa=wa,
                            inv_rho=1.0 / rho, dca_iter=dca_iter)
        total = _summed(client, states)
        J = float(total["t1"]) + float(alpha @ (C * G) @ alpha)
        objective.append(J)
        stop = _stop_reason(objective, t, min_iter, rel_tol, tiny, no_progress)
        if stop is not None:
            # as in memory: A stays the iterate J_t was evaluated at (``previous``); S is the
            # new S-step (default) or the previous one (parity mode)
            stop_reason = stop
            stopped = True
            break
        previous = states
        G, sq_norms, dots = total["G"], total["sq_norms"], total["dots"]
    if stopped:
        s_source = previous if parity_mode else states
        final = client.map(_final_chunk, previous, s_source, alpha=alpha, w=w,
                           recompute_s=False)
    else:
        final = client.map(_final_chunk, states, states, alpha=alpha, w=w,
                           recompute_s=not parity_mode)
    S_chunks = client.map(_part, final, i=0)
    A_chunks = client.map(_part, final, i=1)
    E_chunks = client.map(_part, final, i=2)
    info = {
        "objective": objective,
        "n_iter": n_iter,
        "n_qp_calls": n_qp_calls,
        "converged": stop_reason != "max_iter",
        "stop_reason": stop_reason,
        "view_scales": scales,
    }
    return S_chunks, A_chunks, E_chunks, alpha, info
