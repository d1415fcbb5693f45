"""Lloyd-Max quantizer: nonuniform levels by alternating centroid and midpoint conditions."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._utils.validation import check_array_param, check_bool, check_choice, check_int, check_real
from . import _kernels
from ._optimal import _distinct_values, _midpoints, _prefix_sums, _too_few_values_warning
from ._uniform import _density_mse, _partial_moments, check_density, standardize_density
from ._validation import check_n_levels, check_samples, magnitude_scale, unscale_mse

__all__ = ["lloyd_max"]


def _check_init(init, L):
    """``init`` as a validated string or a sorted float64 vector of ``L`` levels."""
    if isinstance(init, str):
        return check_choice(init, "init", ("quantile", "uniform"))
    levels = check_array_param(init, "init", min_size=0)
    levels = np.sort(levels.ravel())
    if levels.shape[0] != L:
        raise ValueError(f"init has {levels.shape[0]} levels, expected n_levels={L}")
    return levels


def _initial_levels(init, u, cw, L, scale):
    if isinstance(init, str):
        if init == "quantile":
            # weighted (i + 1/2) / L quantiles of the distinct values
            cum = np.cumsum(cw)
            pos = np.searchsorted(cum, (np.arange(L) + 0.5) / L * cum[-1], side="left")
            return u[np.minimum(pos, u.shape[0] - 1)].astype(np.float64)
        return u[0] + (np.arange(L) + 0.5) * (u[-1] - u[0]) / L
    return init / scale


def lloyd_max(x, n_levels, *, init="quantile", max_iter=300, tol=1e-10, sample_weight=None,
              density=None, return_n_iter=False):
    """Lloyd-Max quantizer: levels at cell centroids, thresholds at level midpoints.

    Iterates ``t_i = (y_{i-1} + y_i) / 2`` and ``y_i = E[x | t_i < x <= t_{i+1}]`` until
    ``max |Δy| <= tol * std(x)``. The slow linear convergence of this fixed point for many
    levels is sped up by a safeguarded over-relaxation (an extrapolated step is kept only
    when its error is no larger than the plain step's), so every step lowers the error and
    the result is the same kind of fixed point. On samples the data are sorted once and every iteration
    costs O(L log N) (cells by binary search, means from prefix sums). The result is a local
    optimum; it is global for log-concave densities (normal, Laplace) and is never better
    than :func:`optimal_kmeans_1d` on the same samples. An empty cell re-seeds its level at
    the sample with the largest current error (deterministic).

    Parameters
    ----------
    x : array-like of shape (n_samples,) or None
        Samples; ``None`` when ``density`` is given.
    n_levels : int
        Number of levels ``L >= 1``. If it exceeds the number of distinct values, the
        distinct values are returned as levels, with a warning.
    init : {"quantile", "uniform"} or array-like of shape (n_levels,), default="quantile"
        Initial levels: the ``(i + 1/2) / L`` quantiles, evenly spaced levels over the data
        range, or given levels.
    max_iter : int, default=300
        Maximum number of iterations (a ``ConvergenceWarning`` is issued when reached).
    tol : float, default=1e-10
        Tolerance on the largest level change, relative to the standard deviation.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights (weighted centroids).
    density : scipy.stats frozen distribution, default=None
        Exact-integration mode (closed forms for normal and Laplace): the conditional means
        and the error are integrals under this distribution.
    return_n_iter : bool, default=False
        Also return the number of iterations run (0 when the distinct values are the levels).

    Returns
    -------
    levels : ndarray of shape (n_levels_effective,)
    thresholds : ndarray of shape (n_levels_effective - 1,)
        Midpoints between adjacent levels.
    mse : float
        (Weighted) mean squared error of the returned quantizer.
    n_iter : int
        Iterations run (at most ``max_iter``); only with ``return_n_iter=True``.

    Raises
    ------
    TypeError
        For a parameter of the wrong type (a non-integer ``n_levels``, non-real samples).
    ValueError
        For a bad value: NaN/inf or empty samples, bad weights, ``n_levels < 1``, or a mean
        squared error that overflows float64 (data beyond about 1e154; the levels scale with
        the data, so rescale it by a power of two). Also for a ``density`` with an infinite
        variance (Cauchy...: no quantizer has a finite error under it) or a discrete one
        (quantize it exactly as weighted samples: ``x=support, sample_weight=pmf``).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from normgraph.quant import lloyd_max
    >>> levels, thresholds, mse = lloyd_max(None, 4, density=stats.norm())
    >>> np.round(levels, 4), round(mse, 5)
    (array([-1.5104, -0.4528,  0.4528,  1.5104]), 0.11748)
    >>> lloyd_max([0.0, 0.1, 1.0, 1.1, 5.0], 3)[0]
    array([0.05, 1.05, 5.  ])
    """
    L = check_n_levels(n_levels)
    max_iter = check_int(max_iter, "max_iter", low=1, high=2**62)
    tol = check_real(tol, "tol", low=0.0)
    return_n_iter = check_bool(return_n_iter, "return_n_iter")
    init = _check_init(init, L)
    if density is not None:
        result = _lloyd_density(density, L, init, max_iter, tol)
        return result if return_n_iter else result[:3]
    if x is None:
        raise ValueError("x is None: pass samples, or a distribution as density=")
    x, w = check_samples(x, sample_weight=sample_weight)
    u, cw = _distinct_values(x, w)
    n = u.shape[0]
    if L >= n:
        if L > n:
            _too_few_values_warning(L, n)
        levels = u.copy()
        result = levels, _midpoints(levels), 0.0, 0
        return result if return_n_iter else result[:3]
    # Iterate on data divided by a power of two near max |x|: exact, and the prefix sums of
    # squares can neither overflow nor underflow for magnitudes up to 1e+-300.
    scale = magnitude_scale(u)
    u = u / scale
    levels = np.ascontiguousarray(_initial_levels(init, u, cw, L, scale))
    mean, S0, S1, S2 = _prefix_sums(u, cw)
    W = S0[-1]
    std = float(np.sqrt(S2[-1] / W))
    n_iter = _kernels.lloyd_sorted(u, cw, S0, S1, S2, mean, levels, max_iter, tol * std)
    if n_iter > max_iter:
        warnings.warn(f"lloyd_max did not converge in max_iter={max_iter} iterations; "
                      "increase max_iter or tol", ConvergenceWarning, stacklevel=2)
    bounds = np.empty(L + 1, dtype=np.int64)
    _kernels.cell_bounds(u, levels, bounds)
    mse = unscale_mse(_kernels.levels_sse(S0, S1, S2, mean, levels, bounds) / W, scale)
    levels *= scale
    result = (levels, _midpoints(levels), mse, min(int(n_iter), max_iter))
    return result if return_n_iter else result[:3]


def _lloyd_density(dist, L, init, max_iter, tol):
    dist, p = standardize_density(dist)  # extreme scales refitted at a workable one
    levels, thresholds, mse, n_iter = _lloyd_density_scaled(
        dist, L, init if isinstance(init, str) else init / p, max_iter, tol)
    return levels * p, thresholds * p, unscale_mse(mse, p, "density"), n_iter


def _lloyd_density_scaled(dist, L, init, max_iter, tol):
    std = check_density(dist)
    if isinstance(init, str):
        levels = np.asarray(dist.ppf((np.arange(L) + 0.5) / L), dtype=np.float64)
    else:
        levels = init
    converged = False
    cache = {}
    omega = 1.0
    n_iter = 0
    for _ in range(max_iter):
        n_iter += 1
        edges = np.concatenate([[-np.inf], 0.5 * (levels[:-1] + levels[1:]), [np.inf]])
        M0, M1, _ = _partial_moments(dist, edges, cache)
        new = np.diff(M1) / np.diff(M0)
        delta = np.max(np.abs(new - levels))
        if delta <= tol * std:
            levels = new
            converged = True
            break
        # the same safeguarded over-relaxation as on samples (see _kernels.lloyd_sorted)
        trial = levels + omega * (new - levels)
        if omega > 1.0 and np.all(np.diff(trial) > 0) and \
                _density_mse(dist, trial[None, :], cache)[0] <= \
                _density_mse(dist, new[None, :], cache)[0]:
            levels = trial
            omega = min(omega * 1.5, 16.0)
        else:
            levels = new
            omega = max(1.0 + 0.5 * (omega - 1.0), 1.5) if omega > 1.0 else 1.5
    if not converged:
        warnings.warn(f"lloyd_max did not converge in max_iter={max_iter} iterations",
                      ConvergenceWarning, stacklevel=3)
    mse = float(_density_mse(dist, levels[None, :])[0])
    if not (np.isfinite(mse) and np.isfinite(levels).all()):
        raise ValueError("density: the Lloyd-Max iteration left the float64 range (levels "
                         f"{levels}, error {mse}); rescale the distribution")
    return levels, _midpoints(levels), mse, n_iter
