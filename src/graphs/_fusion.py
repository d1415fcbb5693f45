"""Consistent graph fusion: the block-coordinate solver of the multi-view graph model.

Every view's graph lives on one shared edge list, so the V graphs are the rows of a dense
(V, m) matrix and the solver alternates four cheap blocks (spec section 3):

* alpha-step: a V-dimensional (possibly nonconvex) QP over the simplex, solved exactly by
  enumerating the KKT points of all faces (V <= 12) or by a monotone projected-gradient /
  active-set method (larger V); it needs only V x V statistics of the iterate;
* S-step: a closed-form weighted mean of the scaled consistent parts;
* A-step: m independent V-dimensional box QPs that share one Hessian, a few projected-gradient
  (DCA) sweeps;
* E-step: E = W - A.

The objective, S-, A- and E-steps and the statistics of the next alpha-step are fused into one
streaming Numba pass over the edges per iteration (the edge problems are independent), so an
iteration reads W and A once and writes A and S once. Time O(T (V^2 m + 2^V V^3)), memory
3 V m + 2 m numbers: linear in the number of edges.
"""

from __future__ import annotations

import functools
import itertools
import time

import numpy as np

from normgraph._utils.numeric import max_abs
from normgraph._utils.progress import progress
from normgraph._utils.validation import check_array_param, check_bool, check_int, check_real

from ._fusion_kernels import (bad_entries_per_row, consistency_term, fused_iteration,
                              fused_iteration_parallel, fusion_setup_parallel,
                              row_norms_and_dots, row_sums_parallel)
from ._scaling import safe_scale

__all__ = ["consistent_graph_fusion", "fusion_objective"]

# Largest number of views for which the alpha-step enumerates all 2^V - 1 faces.
_MAX_ENUM_VIEWS = 12
# A face's KKT point counts as feasible when its smallest coordinate is >= -_FEAS_TOL.
_FEAS_TOL = 1e-12


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------

def _check_weights_matrix(W, name="W"):
    """(V, m) nonnegative finite weights; float32 stays float32, anything else is float64."""
    W = check_array_param(W, name, ndim=2, allow_float32=True, ensure_finite=False)
    n_views, n_edges = W.shape
    if n_views < 1 or n_edges < 1:
        raise ValueError(f"{name} must have at least one view and one edge, got shape {W.shape}")
    nonfinite, negative = bad_entries_per_row(W)  # one parallel pass, no temporaries
    if nonfinite.any():
        bad = int(np.flatnonzero(nonfinite)[0])
        raise ValueError(f"{name} contains NaN or infinite weights (view {bad})")
    if negative.any():
        bad = int(np.flatnonzero(negative)[0])
        raise ValueError(f"{name} must be nonnegative: view {bad} has negative edge weights")
    return W


def _check_view_weights(view_weights, n_views):
    if view_weights is None:
        return np.ones(n_views)
    if isinstance(view_weights, (str, bytes)) or np.ndim(view_weights) == 0:
        raise TypeError(
            f"view_weights must be a 1-D sequence of {n_views} positive numbers, got "
            f"{view_weights!r}"
        )
    w = check_array_param(view_weights, "view_weights", ndim=1, ensure_finite=False)
    if w.shape[0] != n_views:
        raise ValueError(f"view_weights must have length {n_views} (one per view), got {w.shape[0]}")
    for i, wi in enumerate(w.tolist()):
        check_real(wi, f"view_weights[{i}]", low=0, low_inclusive=False)
    return w


def _row_sums(W):
    """Row sums of nonnegative W without overflow: ``(sums, p)`` with true sums ``sums * p``.

    ``p`` is one power of two per row, 1 unless the row's largest entry is extreme.
    """
    sums, maxes = row_sums_parallel(W)  # one parallel pass; W >= 0, so max = max |entry|
    p = np.array([safe_scale(v) for v in maxes]) if W.dtype == np.float64 else \
        np.ones(W.shape[0])
    if np.all(p == 1.0):
        return sums, p
    return np.array([(row / pi).sum(dtype=np.float64) for row, pi in zip(W, p)]), p


def _check_row_sums(row_sums):
    for i, s in enumerate(row_sums):
        if not s > 0:
            raise ValueError(f"view {i}: all edge weights are zero; every view needs a positive sum")
        if not np.isfinite(s):  # pragma: no cover - excluded by the rescaling
            raise ValueError(f"view {i}: the edge weights overflow when summed")


def _scale_views(W, row_sums, p):
    """``(W_scaled, scales)``: each row divided by its (global) sum ``row_sums * p``.

    ``W`` may be a block of edges (columns) of the whole matrix; the sums are the whole rows'.
    """
    if np.all(p == 1.0):
        scales = 1.0 / row_sums
        return np.ascontiguousarray(W * scales[:, None].astype(W.dtype)), scales
    W = np.ascontiguousarray((W / p[:, None].astype(W.dtype)) * (1.0 / row_sums)[:, None])
    with np.errstate(over="ignore", under="ignore"):
        scales = 1.0 / (row_sums * p)
    return W, scales


def _cross_penalty(beta, gamma, w):
    """C = B o (w w^T) with B_ii = beta, B_ij = gamma (i != j).

    The objective is not invariant to the scale of w (its first term is linear in w, its
    second quadratic), so penalties whose sums overflow float64 cannot be rescaled away:
    they are refused here, before any kernel runs.
    """
    n_views = w.shape[0]
    B = np.full((n_views, n_views), gamma, dtype=np.float64)
    np.fill_diagonal(B, beta)
    with np.errstate(over="ignore", invalid="ignore"):
        C = B * np.outer(w, w)
        # J <= sum(w) + sum(C) on scaled views (entries <= 1); leave headroom for the sums.
        total = 16.0 * (float(np.sum(C)) + float(np.sum(w)))
    if not np.isfinite(total):
        raise ValueError(
            "beta, gamma and view_weights are too large: the penalties beta * w_i * w_j and "
            "gamma * w_i * w_j overflow float64; use smaller beta, gamma or view_weights"
        )
    return C


# --------------------------------------------------------------------------------------------
# alpha-step: min_a a^T H a - 2 c^T a over the simplex
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _faces(n_views):
    """Index arrays of all faces of the simplex, grouped by size 1..n_views."""
    return tuple(
        np.array(list(itertools.combinations(range(n_views), k)), dtype=np.intp)
        for k in range(1, n_views + 1)
    )


def _simplex_qp_value(H, c, a):
    return float(a @ H @ a - 2.0 * (c @ a))


def _face_kkt_points(H, c, idx):
    """KKT points of the simplex QP restricted to the faces ``idx`` (n_faces, k), batched.

    Solves [[H_FF, 1], [1^T, 0]] [a_F; nu] = [c_F; 1] with a pseudo-inverse (singular faces get
    the minimum-norm solution; if the optimum lies on a singular face it is also attained on a
    smaller face, which is enumerated too). Returns the points (n_faces, k) and their H_FF.
    """
    n_faces, k = idx.shape
    H_ff = H[idx[:, :, None], idx[:, None, :]]
    K = np.zeros((n_faces, k + 1, k + 1))
    K[:, :k, :k] = H_ff
    K[:, :k, k] = 1.0
    K[:, k, :k] = 1.0
    rhs = np.zeros((n_faces, k + 1, 1))
    rhs[:, :k, 0] = c[idx]
    rhs[:, k, 0] = 1.0
    sol = np.matmul(np.linalg.pinv(K), rhs)[:, :k, 0]
    return sol, H_ff


def _alpha_enumerate(H, c, alpha_prev):
    """Global minimiser of the simplex QP by enumerating the KKT points of all 2^V - 1 faces.

    The global minimiser of any quadratic (convex or not) over the simplex is a KKT point of
    the face whose relative interior contains it, so the best feasible face KKT point is the
    global optimum. The previous alpha is a candidate too, so the objective never increases.
    """
    best_a, best_f = alpha_prev, _simplex_qp_value(H, c, alpha_prev)
    n_views = c.shape[0]
    for idx in _faces(n_views):
        pts, H_ff = _face_kkt_points(H, c, idx)
        feasible = pts.min(axis=1) >= -_FEAS_TOL
        if not feasible.any():
            continue
        pts = np.maximum(pts[feasible], 0.0)
        sums = pts.sum(axis=1)
        keep = sums > 0
        pts, sub, H_ff = pts[keep] / sums[keep, None], idx[feasible][keep], H_ff[feasible][keep]
        if pts.shape[0] == 0:
            continue
        vals = (np.einsum("fi,fij,fj->f", pts, H_ff, pts)
                - 2.0 * np.einsum("fi,fi->f", c[sub], pts))
        j = int(np.argmin(vals))
        if vals[j] < best_f:
            a = np.zeros(n_views)
            a[sub[j]] = pts[j]
            best_a, best_f = a, _simplex_qp_value(H, c, a)
    return best_a


def _project_simplex(y):
    """Euclidean projection onto the probability simplex (sort-based)."""
    u = np.sort(y)[::-1]
    css = np.cumsum(u) - 1.0
    ks = np.arange(1, y.shape[0] + 1)
    cond = u - css / ks > 0
    r = ks[cond][-1]
    return np.maximum(y - css[r - 1] / r, 0.0)


def _projected_gradient_local_min(H, c, a, lip, tol, max_steps):
    """Projected gradient from ``a`` (step 1/lip), then the KKT point of the final support.

    With ``lip = 2 max|eig(H)|`` (the gradient's Lipschitz constant) every step decreases f
    for any symmetric H; once the support settles, the KKT point of the support face is exact
    for that support. Returns the candidates (the last PG iterate and, if feasible, the face
    KKT point).
    """
    for _ in range(max_steps):
        a_new = _project_simplex(a - (2.0 * (H @ a - c)) / lip)
        step = float(np.max(np.abs(a_new - a)))
        a = a_new
        if step <= tol:
            break
    found = [a]
    support = np.flatnonzero(a > 0)
    pts, _ = _face_kkt_points(H, c, support[None, :])
    if pts.min() >= -_FEAS_TOL:
        refined = np.zeros_like(a)
        refined[support] = np.maximum(pts[0], 0.0)
        if refined.sum() > 0:
            found.append(refined / refined.sum())
    return found


def _alpha_active_set(H, c, alpha_prev, full_kkt, tol, max_steps=5000):
    """Monotone projected-gradient + active-set method for large V (never increases f).

    Exact when the QP is convex (the local minimum found is global). For an indefinite H it
    is a local method; to reduce the chance of a poor local minimum it starts from the better
    of the previous alpha and the equality-only KKT point, from the best vertex, and from the
    barycentre, and keeps the best candidate (the previous alpha included).
    """
    n_views = c.shape[0]
    warm = [alpha_prev]
    if full_kkt is not None and full_kkt.min() >= -_FEAS_TOL:
        a = np.maximum(full_kkt, 0.0)
        warm.append(a / a.sum())
    candidates = list(warm)
    starts = [min(warm, key=lambda a: _simplex_qp_value(H, c, a))]
    vertex = np.zeros(n_views)
    vertex[int(np.argmin(np.diag(H) - 2.0 * c))] = 1.0
    starts += [vertex, np.full(n_views, 1.0 / n_views)]
    lip = 2.0 * float(np.max(np.abs(np.linalg.eigvalsh(H))))
    if lip > 0:
        for a in starts:
            candidates += _projected_gradient_local_min(H, c, a, lip, tol, max_steps)
    vals = [_simplex_qp_value(H, c, a) for a in candidates]
    return candidates[int(np.argmin(vals))]


def _alpha_step(H, c, alpha_prev, qp_tol):
    """Solve the alpha-subproblem; also report whether the equality-only KKT point was infeasible."""
    # Rescaling (H, c) jointly leaves the minimiser unchanged and keeps the KKT matrices
    # [[H, 1], [1, 0]] well conditioned (H is O(1/m) after the per-view scaling).
    scale = float(np.max(np.abs(np.diag(H))))
    if not scale > 0:
        scale = float(np.max(np.abs(H))) or 1.0
    Hs, cs = H / scale, c / scale
    n_views = c.shape[0]
    full, _ = _face_kkt_points(Hs, cs, np.arange(n_views)[None, :])
    full = full[0]
    infeasible = not (full.min() >= -_FEAS_TOL)
    if n_views <= _MAX_ENUM_VIEWS:
        alpha = _alpha_enumerate(Hs, cs, alpha_prev)
    else:
        alpha = _alpha_active_set(Hs, cs, alpha_prev, full, qp_tol)
    return alpha, infeasible


# --------------------------------------------------------------------------------------------
# objective
# --------------------------------------------------------------------------------------------

def _objective(A, E, S, alpha, C, w):
    """J through the Gram matrix of E (one BLAS product) and a direct consistency term."""
    G = np.asarray(E @ E.T, dtype=np.float64)
    return float(consistency_term(A, S, alpha, w)) + float(alpha @ (C * G) @ alpha)


def fusion_objective(W, A, S, alpha, beta=1.0, gamma=100.0, view_weights=None):
    r"""Objective of the consistent graph fusion model on already-scaled view graphs.

    .. math::

        J(S, A, \alpha) = \sum_i w_i \lVert \alpha_i A_i - S\rVert^2
            + \sum_{i,j} C_{ij}\, \alpha_i \alpha_j \langle E_i, E_j\rangle,
        \qquad E = W - A,\; C_{ij} = B_{ij} w_i w_j,

    with :math:`B_{ii} = \beta` and :math:`B_{ij} = \gamma` (:math:`i \ne j`). Computed in
    O(V^2 m) through the Gram matrix of E.

    Parameters
    ----------
    W : ndarray of shape (n_views, n_edges)
        View graphs on the common edge list, after the per-view scaling (rows sum to 1).
    A : ndarray of shape (n_views, n_edges)
        Consistent parts (``0 <= A <= W`` for a feasible point; not checked).
    S : ndarray of shape (n_edges,)
        Unified graph.
    alpha : ndarray of shape (n_views,)
        View coefficients.
    beta, gamma : float, default=1.0, 100.0
        Penalties on a view's own inconsistent part and on overlapping inconsistent parts.
    view_weights : array-like of shape (n_views,), default=None
        Positive view weights ``w`` (ones by default).

    Returns
    -------
    float
        The objective value (exactly ``c**2`` times larger for ``c * W, c * A, c * S``).

    Raises
    ------
    TypeError
        If an array is not numeric or a parameter has the wrong type.
    ValueError
        If an array has the wrong number of dimensions, NaN/inf, mismatched shapes, or the
        value overflows float64.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs import fusion_objective
    >>> W = np.array([[0.5, 0.5], [0.5, 0.5]])
    >>> fusion_objective(W, W, 0.5 * W[0], np.array([0.5, 0.5]))  # identical views: J = 0
    0.0
    """
    W = check_array_param(W, "W", ndim=2)
    A = check_array_param(A, "A", ndim=2)
    S = check_array_param(S, "S", ndim=1)
    alpha = check_array_param(alpha, "alpha", ndim=1)
    n_views, n_edges = W.shape
    if A.shape != W.shape or S.shape != (n_edges,) or alpha.shape != (n_views,):
        raise ValueError(
            f"shape mismatch: W {W.shape}, A {A.shape}, S {S.shape}, alpha {alpha.shape}"
        )
    beta = check_real(beta, "beta", low=0)
    gamma = check_real(gamma, "gamma", low=0)
    w = _check_view_weights(view_weights, n_views)
    C = _cross_penalty(beta, gamma, w)
    # J is homogeneous of degree 2 in (W, A, S): evaluate it on exactly rescaled arrays.
    p = safe_scale(max(max_abs(W), max_abs(A), max_abs(S)))
    if p != 1.0:
        W, A, S = W / p, A / p, S / p
    value = _objective(A, W - A, S, alpha, C, w)
    with np.errstate(over="ignore"):
        value = value * p * p
    if not np.isfinite(value):
        raise ValueError("the objective overflows float64 for weights of this magnitude "
                         f"(largest |entry| about {p:.3g}); rescale W, A and S together")
    return value


# --------------------------------------------------------------------------------------------
# solver
# --------------------------------------------------------------------------------------------

def _stop_thresholds(sq_row_norms, w, dtype):
    """``(tiny, no_progress)`` of the stopping rules from ``||W_i||^2`` of the scaled views.

    ``tiny`` is the round-off level of J relative to the size of its consistency term.
    """
    eps = float(np.finfo(dtype).eps)
    j_scale = float(w @ sq_row_norms) / w.shape[0] ** 2
    return 1e4 * eps * eps * j_scale, max(1e-12, 10.0 * eps)


def _stop_reason(objective, t, min_iter, rel_tol, tiny, no_progress):
    """The rule that stops the solver after iteration ``t`` (objective = [J_0, ..., J_t]), or None."""
    J0, J = objective[0], objective[-1]
    if J <= tiny:
        return "zero_objective"
    if t >= min_iter:
        if J0 - J <= no_progress * max(J0, tiny):
            return "no_progress"
        if objective[-2] - J < rel_tol * (J0 - J):
            return "rel_tol"
    return None


def _s_step(A, alpha, w, out):
    """S = sum_i (w_i alpha_i / sum_k w_k) A_i, one BLAS matrix-vector product."""
    coef = (w * alpha / w.sum()).astype(A.dtype)
    np.matmul(coef, A, out=out)


def _a_step_terms(alpha, beta, gamma, C, w):
    """Shared pieces of the m edge box-QPs and the DCA step 1/rho, rho = lambda_max(Q).

    ``Q = H' + diag(w alpha^2)`` with ``H' = C o (alpha alpha^T)``; since
    ``C = B o (w w^T)`` and ``B = (beta - gamma) I + gamma 1 1^T``, ``H'`` is a diagonal plus a
    rank-one matrix in ``dw = w o alpha``, which the kernel applies in O(V) per edge.
    Returns ``(dw, r_diag, q_diag, wa, rho)``.
    """
    wa = w * alpha
    Q = C * np.outer(alpha, alpha) + np.diag(wa * alpha)
    rho = float(np.linalg.eigvalsh(Q)[-1])
    if not rho > 0:
        raise FloatingPointError(
            f"the A-step Hessian has largest eigenvalue {rho!r} <= 0; the DCA step 1/rho is "
            "undefined (check beta, gamma and view_weights)"
        )
    dw = wa
    r_diag = (beta - gamma) * dw * dw
    q_diag = r_diag + wa * alpha
    return dw, r_diag, q_diag, wa, rho


def _a_step(A, W, S, alpha, beta, gamma, w, dca_iter):
    """The A-step alone (in place on A) for a given S: ``dca_iter`` DCA sweeps on every edge."""
    C = _cross_penalty(beta, gamma, w)
    dw, r_diag, q_diag, wa, rho = _a_step_terms(alpha, beta, gamma, C, w)
    n_views = W.shape[0]
    fused_iteration(W, A, S, A, S, alpha, w, np.zeros(n_views), dw, gamma, r_diag, q_diag, wa,
                    1.0 / rho, dca_iter, False, np.empty((n_views, n_views)), np.empty(n_views),
                    np.empty(n_views))


def consistent_graph_fusion(W, *, beta=1.0, gamma=100.0, view_weights=None, max_iter=100,
                            dca_iter=3, rel_tol=0.05, min_iter=5, qp_tol=1e-8,
                            parity_mode=False, verbose=False):
    r"""Fuse V view graphs on a common edge list into one graph (consistency + inconsistency).

    Minimises, by block-coordinate descent,

    .. math::

        J(S, A, \alpha) = \sum_i w_i \lVert \alpha_i A_i - S\rVert^2
            + \sum_{i,j} B_{ij} w_i w_j\, \alpha_i \alpha_j \langle W_i - A_i, W_j - A_j\rangle

    over the unified graph S, the consistent parts ``0 <= A <= W`` and the view coefficients
    ``alpha`` on the simplex (Liang, Huang, Wang & Yu, TNNLS 2022). ``B`` has ``beta`` on its
    diagonal (size of each view's inconsistent part E = W - A) and ``gamma`` off it (overlap of
    the inconsistent parts of different views). Each row of ``W`` is first divided by its sum.

    Each iteration: the alpha-step (an exact global solve of the V-variable QP over the
    simplex, even when it is nonconvex, by enumerating the KKT points of all faces for
    V <= 12; a monotone projected-gradient/active-set method beyond), the objective and
    stopping test, the closed-form S-step, ``dca_iter`` projected-gradient (DCA) sweeps on the
    m edge box-QPs, and E = W - A, the last three (and the objective) in one pass over the edges.
    Time O(V^2 m) per iteration, memory O(V m).

    Parameters
    ----------
    W : array-like of shape (n_views, n_edges)
        Nonnegative, finite view graphs on the common edge list; every row needs a positive
        sum. float32 input is stored and returned in float32 (half the memory and memory
        traffic, for large graphs); anything else is converted to float64. Arithmetic and
        reductions are in float64 either way.
    beta : float, default=1.0
        Penalty on each view's own inconsistent part (>= 0).
    gamma : float, default=100.0
        Penalty on overlapping inconsistent parts of different views (>= 0). With
        ``gamma > beta`` the A-subproblem is a nonconvex box QP.
    view_weights : array-like of shape (n_views,), default=None
        Positive, finite view weights ``w``; ones by default.
    max_iter : int, default=100
        Maximum number of outer iterations (>= 1).
    dca_iter : int, default=3
        Projected-gradient sweeps per A-step (>= 1).
    rel_tol : float, default=0.05
        Stop at iteration ``t >= min_iter`` when the last decrease ``J_{t-1} - J_t`` is below
        ``rel_tol * (J_0 - J_t)``. Also stops (at any t) when J is zero to round-off, and (at
        ``t >= min_iter``) when the total decrease is negligible (``J_0 - J_t <= 1e-12 J_0``),
        where the relative rule would compare round-off with round-off.
    min_iter : int, default=5
        Earliest iteration at which the relative rule may stop (>= 1).
    qp_tol : float, default=1e-8
        Step tolerance of the projected-gradient alpha-step (only used for V > 12).
    parity_mode : bool, default=False
        Reproduce the original code's returned S: the one from the last S-step, computed
        before the last A- and alpha-steps. The default recomputes S with the returned alpha
        and A (its exact minimiser), which can only lower J.
    verbose : bool, default=False
        Show a progress bar with the objective.

    Returns
    -------
    S : ndarray of shape (n_edges,)
        Unified graph on the edge list (in the scaled units).
    alpha : ndarray of shape (n_views,)
        View coefficients (nonnegative, summing to 1).
    A : ndarray of shape (n_views, n_edges)
        Consistent parts of the scaled view graphs.
    E : ndarray of shape (n_views, n_edges)
        Inconsistent parts, ``E = W_scaled - A``.
    info : dict
        ``objective`` (list of J_t, J_0 first; J_t is evaluated after the t-th alpha-step),
        ``n_iter``, ``n_qp_calls`` (alpha-steps whose equality-only KKT point was infeasible),
        ``converged`` (stopped by a rule before ``max_iter``), ``stop_reason``
        (``"rel_tol"``, ``"no_progress"``, ``"zero_objective"`` or ``"max_iter"``),
        ``view_scales`` (the per-view scales ``s_i = 1 / sum_e W_i(e)``) and
        ``iteration_seconds`` and ``iteration_cpu_seconds`` (wall and thread CPU time of each
        iteration, for benchmarks).

    Raises
    ------
    ValueError
        If W is not 2-D, empty, non-finite or negative, a view has all-zero weights, or a
        parameter is out of range.
    FloatingPointError
        If the A-step Hessian has no positive eigenvalue (cannot happen for valid parameters).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs import consistent_graph_fusion
    >>> rng = np.random.default_rng(0)
    >>> W = rng.uniform(size=(3, 50))
    >>> S, alpha, A, E, info = consistent_graph_fusion(W)
    >>> S.shape, alpha.shape, bool(np.isclose(alpha.sum(), 1.0))
    ((50,), (3,), True)
    >>> bool(np.all(np.diff(info["objective"]) <= 1e-12 * info["objective"][0]))
    True
    """
    W = _check_weights_matrix(W)
    beta = check_real(beta, "beta", low=0)
    gamma = check_real(gamma, "gamma", low=0)
    max_iter = check_int(max_iter, "max_iter", low=1)
    dca_iter = check_int(dca_iter, "dca_iter", low=1)
    min_iter = check_int(min_iter, "min_iter", low=1)
    rel_tol = check_real(rel_tol, "rel_tol", low=0)
    qp_tol = check_real(qp_tol, "qp_tol", low=0, low_inclusive=False)
    parity_mode = check_bool(parity_mode, "parity_mode")
    verbose = check_bool(verbose, "verbose")
    w = _check_view_weights(view_weights, W.shape[0])
    return _solve(W, beta=beta, gamma=gamma, w=w, max_iter=max_iter, dca_iter=dca_iter,
                  rel_tol=rel_tol, min_iter=min_iter, qp_tol=qp_tol, parity_mode=parity_mode,
                  verbose=verbose)


def _solve(W, *, beta, gamma, w, max_iter, dca_iter, rel_tol, min_iter, qp_tol, parity_mode,
           verbose, lean=False):
    """The solver on validated arguments (see :func:`consistent_graph_fusion`).

    With ``lean=True`` (the estimator's default), W is the caller's private array and is
    scaled in place, A is updated in place (and, outside parity mode, S too): memory is W, one
    (V, m) array A and one S, and ``A``, ``E`` are returned as None. S, alpha and the
    objective are those of the default mode exactly: each pass reads an edge's old A and S
    before it writes them, and the old A is only needed to return A at a stop.
    """
    n_views, n_edges = W.shape
    setup_tic = time.perf_counter()
    # Step 0: per-view scaling, each row sums to one. Rows of extreme magnitude are first
    # divided by a power of two p_i (exact), so that their sums cannot overflow.
    row_sums, p = _row_sums(W)
    _check_row_sums(row_sums)
    dtype = W.dtype
    C = _cross_penalty(beta, gamma, w)
    # Step 1: initialisation (alpha uniform after the scaling, A = W, E = 0), the scaling, the
    # first S-step and the statistics of the first alpha-step in one parallel pass.
    alpha = np.full(n_views, 1.0 / n_views)
    S = np.empty(n_edges, dtype=dtype)
    sq_norms = np.empty(n_views)
    dots = np.empty(n_views)
    if np.all(p == 1.0):
        scales = 1.0 / row_sums
        W_scaled = W if lean else np.empty_like(W)
        J0 = float(fusion_setup_parallel(W, scales.astype(dtype), W_scaled, w * alpha / w.sum(),
                                         alpha, w, S, sq_norms, dots))
    else:  # extreme magnitudes: the exact power-of-two path (a copy of W)
        W_scaled, scales = _scale_views(W, row_sums, p)
        _s_step(W_scaled, alpha, w, out=S)
        row_norms_and_dots(W_scaled, S, sq_norms, dots)
        J0 = float(consistency_term(W_scaled, S, alpha, w))
    W = W_scaled
    # statistics of the current iterate used by the alpha-step: G = E E^T, ||A_i||^2, <A_i, S>
    G = np.zeros((n_views, n_views))
    G_next = np.empty_like(G)
    sq_norms_next = np.empty_like(sq_norms)
    dots_next = np.empty_like(dots)
    objective = [J0]
    tiny, no_progress = _stop_thresholds(sq_norms, w, dtype)
    # The first iterate A is W itself (read only); A-steps write into the buffers, allocated
    # when first needed. S is updated in place unless parity mode must return the old S.
    A = W
    A_next = np.empty_like(W)
    S_next = S if (lean and not parity_mode) else np.empty_like(S)
    setup_seconds = time.perf_counter() - setup_tic

    n_qp_calls = 0
    n_iter = 0
    stop_reason = "max_iter"
    s_final_ready = False
    iteration_seconds, iteration_cpu_seconds = [], []
    bar = progress(total=max_iter, verbose=verbose, desc="graph fusion")
    try:
        for t in range(1, max_iter + 1):
            n_iter = t
            tic, cpu_tic = time.perf_counter(), time.process_time()
            # alpha-step on the current iterate
            H = np.diag(w * sq_norms) + C * G
            alpha, infeasible = _alpha_step(H, w * dots, alpha, qp_tol)
            n_qp_calls += int(infeasible)
            # One pass: J's consistency term at (S, A, alpha), the S-step and the A-step (into
            # the spare buffers, so that A and S are still the iterate J_t is evaluated at).
            dw, r_diag, q_diag, wa, rho = _a_step_terms(alpha, beta, gamma, C, w)
            term1 = fused_iteration_parallel(W, A, S, A_next, S_next, alpha, w,
                                             w * alpha / w.sum(), dw, gamma, r_diag, q_diag,
                                             wa, 1.0 / rho, dca_iter, True, G_next,
                                             sq_norms_next, dots_next)
            J = float(term1) + float(alpha @ (C * G) @ alpha)
            objective.append(J)
            iteration_seconds.append(time.perf_counter() - tic)
            iteration_cpu_seconds.append(time.process_time() - cpu_tic)
            bar.update(1)
            if verbose:
                bar.set_postfix(J=f"{J:.4e}")
            stop = _stop_reason(objective, t, min_iter, rel_tol, tiny, no_progress)
            if stop is not None:
                # A stays the iterate J_t was evaluated at (unless lean: A is not returned);
                # S_next = S-step(alpha, A) already.
                stop_reason = stop
                if not parity_mode:
                    S, S_next = S_next, S
                s_final_ready = True
                break
            if lean:
                A = A_next  # updated in place from now on
            elif A is W:
                A, A_next = A_next, np.empty_like(W)
            else:
                A, A_next = A_next, A
            S, S_next = S_next, S
            G, G_next = G_next, G
            sq_norms, sq_norms_next = sq_norms_next, sq_norms
            dots, dots_next = dots_next, dots
    finally:
        bar.close()

    if not (parity_mode or s_final_ready):
        _s_step(A, alpha, w, out=S)
    info = {
        "objective": objective,
        "n_iter": n_iter,
        "n_qp_calls": n_qp_calls,
        "converged": stop_reason != "max_iter",
        "stop_reason": stop_reason,
        "view_scales": scales,
        "setup_seconds": setup_seconds,
        "iteration_seconds": iteration_seconds,
        "iteration_cpu_seconds": iteration_cpu_seconds,
    }
    if lean:
        return S, alpha, None, None, info
    if A is W:  # stopped at the first iteration: A = W (a private copy), E = 0 in the buffer
        A = A.copy() if A_next is None else A
    # The spare buffer becomes E (no extra V x m array).
    E = np.subtract(W, A, out=A_next)
    return S, alpha, A, E, info
