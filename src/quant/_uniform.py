"""MSE-optimal uniform quantizers: step (and offset) search on samples or on a density."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .._utils.numeric import power_of_two_scale
from .._utils.validation import check_bool, check_choice, check_int, check_numeric_dtype
from . import _kernels
from ._optimal import _distinct_values, _midpoints, _prefix_sums
from ._validation import (
    check_level_count,
    check_n_levels,
    check_samples,
    magnitude_scale,
    unscale_mse,
)

__all__ = ["UniformQuant", "uniform_mse_quantizer"]

_MODES = ("midrise", "midtread", "affine")
_METHODS = ("grid", "als", "octav")
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _codes(mode, n_levels):
    """Integer (or half-integer) codes of the levels: ``level = offset + step * code``."""
    m = np.arange(n_levels, dtype=np.float64)
    if mode == "midrise":
        return m - (n_levels - 1) / 2.0
    if mode == "midtread":
        return m - (n_levels // 2)
    return m


def _constant_step(value):
    return 1e-8 * max(1.0, abs(value))


@dataclass(frozen=True)
class UniformQuant:
    """A fitted uniform quantizer: levels ``offset + step * code``.

    Codes per mode: ``"midrise"`` (even ``n_levels``) ``m - (L - 1) / 2``, half-integers
    symmetric about 0, thresholds at multiples of ``step``; ``"midtread"`` ``m - L // 2``
    (symmetric for odd ``L``; for even ``L`` the signed-integer range ``-L/2 .. L/2 - 1``);
    ``"affine"`` ``m``, so ``offset`` is the lowest level (the zero point). ``m = 0 .. L-1``.

    Attributes
    ----------
    step : float
        Step Δ between adjacent levels.
    offset : float
        Grid offset (0 for the symmetric modes unless the input was constant).
    mse : float
        Mean squared error of the quantizer on the fitted samples (or under the density).
    n_levels : int
    mode : str

    Examples
    --------
    >>> from normgraph.quant import UniformQuant
    >>> q = UniformQuant(step=1.0, offset=0.0, mse=0.0, n_levels=4, mode="midrise")
    >>> q.levels, q.thresholds
    (array([-1.5, -0.5,  0.5,  1.5]), array([-1.,  0.,  1.]))
    >>> q.quantize([-9.0, 0.2, 0.7])
    array([-1.5,  0.5,  0.5])
    """

    step: float
    offset: float
    mse: float
    n_levels: int
    mode: str

    @property
    def codes(self):
        """Codes of the levels (see the class docstring)."""
        return _codes(self.mode, self.n_levels)

    @property
    def levels(self):
        """The ``n_levels`` increasing reconstruction levels."""
        return self.offset + self.step * self.codes

    @property
    def thresholds(self):
        """The ``n_levels - 1`` decision thresholds (midpoints between levels)."""
        return _midpoints(self.levels)

    def index(self, x):
        """Level index in ``0 .. n_levels - 1`` of every sample.

        Mid-rise uses ``floor`` (a sample on a threshold goes up), mid-tread and affine
        ``numpy.rint`` (round half to even), as in the formulas of the specification.
        """
        check_numeric_dtype(x, "x")
        x = np.asarray(x, dtype=np.float64)
        if not np.isfinite(x).all():
            raise ValueError("x contains NaN or infinity")
        L = self.n_levels
        with np.errstate(over="ignore"):  # far outside the grid: clipped to an end level
            r = (x - self.offset) / self.step
        if self.mode == "midrise":
            idx = np.floor(r) + L / 2.0
        elif self.mode == "midtread":
            idx = np.rint(r) + (L // 2)
        else:
            idx = np.rint(r)
        return np.clip(idx, 0, L - 1).astype(np.int64)

    def quantize(self, x):
        """Quantized values ``levels[index(x)]``."""
        return self.levels[self.index(x)]


def check_density(dist):
    """Check that ``dist`` is a frozen continuous scipy.stats distribution with a finite,
    positive standard deviation, and return that standard deviation.

    A density with infinite variance (Cauchy, Student t with ``df <= 2``, Pareto with
    ``b <= 2``...) has no quantizer with a finite mean squared error, and a discrete one has
    no density: both are refused rather than answered with NaN or a meaningless error.

    Examples
    --------
    >>> from scipy import stats
    >>> from normgraph.quant._uniform import check_density
    >>> check_density(stats.norm(scale=2.0))
    2.0
    >>> check_density(stats.cauchy())
    Traceback (most recent call last):
    ...
    ValueError: density has an infinite or undefined variance (std nan): no quantizer ...
    """
    if not (hasattr(dist, "cdf") and hasattr(dist, "ppf")):
        raise TypeError(f"density must be a frozen scipy.stats distribution, got {dist!r}")
    from scipy import stats

    family = getattr(dist, "dist", None)
    if isinstance(family, stats.rv_discrete):
        raise ValueError(
            f"density must be a continuous distribution, got the discrete {family.name!r}: "
            "quantize its support points as samples instead (x=support, "
            "sample_weight=pmf(support))")
    with np.errstate(all="ignore"):
        std = float(dist.std())
    if not np.isfinite(std):
        raise ValueError(
            f"density has an infinite or undefined variance (std {std}): no quantizer has a "
            "finite mean squared error under it; quantize samples instead")
    if not std > 0:
        raise ValueError("density is degenerate (zero variance)")
    return std


def standardize_density(dist):
    """``(dist / p, p)`` for a power of two ``p`` when the scale of ``dist`` is extreme.

    A scipy.stats continuous distribution with ``scale`` beyond ``2**+-64`` (``norm(scale=
    1e200)``, whose variance overflows, or ``1e-200``, whose underflows) is refitted as the
    same family with ``loc / p`` and ``scale / p`` (exact): every solver is scale-equivariant,
    so its levels are multiplied back by ``p`` and its error by ``p**2``. Other distributions
    come back unchanged with ``p = 1``.

    Examples
    --------
    >>> from scipy import stats
    >>> from normgraph.quant._uniform import standardize_density
    >>> d, p = standardize_density(stats.norm(loc=0.0, scale=2.0 ** 700))
    >>> float(d.std()), p == 2.0 ** 700
    (1.0, True)
    """
    from scipy import stats

    family = getattr(dist, "dist", None)
    if not isinstance(family, stats.rv_continuous):
        return dist, 1.0
    args, kwds = tuple(dist.args), dict(dist.kwds)
    shapes, rest = args[:family.numargs], args[family.numargs:]
    loc = rest[0] if len(rest) > 0 else kwds.pop("loc", 0.0)
    scale = rest[1] if len(rest) > 1 else kwds.pop("scale", 1.0)
    try:
        loc, scale = float(loc), float(scale)
    except (TypeError, ValueError):
        return dist, 1.0
    p = power_of_two_scale(scale)
    if 2.0 ** -64 <= p <= 2.0 ** 64:
        return dist, 1.0
    return family(*shapes, loc=loc / p, scale=scale / p, **kwds), p


# --------------------------------------------------------------------------------------------
# Exact integration under a density: partial moments M_k(t) = integral_{-inf}^{t} x^k f(x) dx.
# --------------------------------------------------------------------------------------------

def _partial_moments(dist, t, cache=None):
    """``(M0, M1, M2)`` of the frozen scipy.stats distribution at the points ``t``.

    Closed forms for the normal and Laplace families; other distributions use
    ``dist.expect`` (numerical quadrature, slow), memoised in ``cache`` (a dict) when given:
    the searches revisit the same points (0 for every step of a symmetric quantizer with
    even L, the infinite ends always).
    """
    t = np.asarray(t, dtype=np.float64)
    name = getattr(getattr(dist, "dist", None), "name", None)
    if name in ("norm", "laplace"):
        loc = float(dist.median())
        scale = float(dist.std()) / (math.sqrt(2.0) if name == "laplace" else 1.0)
        with np.errstate(invalid="ignore", over="ignore"):
            z = (t - loc) / scale
            if name == "norm":
                from scipy.special import ndtr

                pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
                zpdf = np.where(np.isfinite(z), z * pdf, 0.0)
                m0 = ndtr(z)
                m1 = -pdf
                m2 = m0 - zpdf
            else:
                neg = z <= 0
                e = np.exp(-np.abs(z))
                az = np.where(np.isfinite(z), np.abs(z), 0.0)
                m0 = np.where(neg, 0.5 * e, 1.0 - 0.5 * e)
                m1 = np.where(neg, 0.5 * e * (-az - 1.0), -0.5 * e * (az + 1.0))
                m2 = np.where(neg, 0.5 * e * (az * az + 2.0 * az + 2.0),
                              2.0 - 0.5 * e * (az * az + 2.0 * az + 2.0))
        M0 = m0
        M1 = loc * m0 + scale * m1
        M2 = loc * loc * m0 + 2.0 * loc * scale * m1 + scale * scale * m2
        return M0, M1, M2
    if cache is None:
        cache = {}
    out = np.empty((3,) + t.shape)
    for idx, s in np.ndenumerate(t):
        s = float(s)
        if s not in cache:
            if s == -np.inf:
                cache[s] = (0.0, 0.0, 0.0)
            else:
                cache[s] = (float(dist.cdf(s)), dist.expect(lambda v: v, ub=s),
                            dist.expect(lambda v: v * v, ub=s))
        out[(slice(None),) + idx] = cache[s]
    return out[0], out[1], out[2]


def _density_mse(dist, levels, cache=None):
    """Expected squared error of nearest-level quantization; ``levels`` has shape (..., L)."""
    levels = np.asarray(levels, dtype=np.float64)
    mids = 0.5 * (levels[..., :-1] + levels[..., 1:])
    shape = levels.shape[:-1] + (1,)
    edges = np.concatenate([np.full(shape, -np.inf), mids, np.full(shape, np.inf)], axis=-1)
    M0, M1, M2 = _partial_moments(dist, edges, cache)
    d0 = np.diff(M0, axis=-1)
    d1 = np.diff(M1, axis=-1)
    d2 = np.diff(M2, axis=-1)
    cell = d2 - 2.0 * levels * d1 + levels * levels * d0
    return np.maximum(cell, 0.0).sum(axis=-1)


# --------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------

class _SampleObjective:
    """SSE of uniform grids on the sorted distinct samples (prefix sums, O(L log N) each)."""

    def __init__(self, u, cw, codes):
        self.u = u
        self.codes = codes
        self.W = float(cw.sum())
        self.mean, self.S0, self.S1, self.S2 = _prefix_sums(u, cw)

    def mse_fixed(self, steps, offset=0.0):
        steps = np.ascontiguousarray(np.atleast_1d(steps), dtype=np.float64)
        offsets = np.full(steps.shape[0], float(offset))
        out = np.empty(steps.shape[0])
        _kernels.grid_sse(self.u, self.S0, self.S1, self.S2, self.mean, offsets, steps,
                          self.codes, out)
        return out / self.W

    def mse_free(self, step, start_offsets):
        """Best offset for this step (coordinate descent from each start); (mse, offset)."""
        best = (np.inf, 0.0)
        for z0 in start_offsets:
            z, sse = _kernels.fit_offset(self.u, self.S0, self.S1, self.S2, self.mean,
                                         float(step), self.codes, float(z0), 100)
            if sse / self.W < best[0]:
                best = (sse / self.W, z)
        return best


def _golden(f, a, b, tol):
    """Golden-section minimisation of ``f`` on ``[a, b]``; returns ``(x, f(x))``."""
    c = b - _GOLDEN * (b - a)
    d = a + _GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol * max(abs(a), abs(b), 1e-300):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = f(d)
    return (c, fc) if fc <= fd else (d, fd)


def _grid_search(f, lo, hi, n_grid, refine, f_many=None):
    steps = np.geomspace(lo, hi, n_grid)
    vals = f_many(steps) if f_many is not None else np.array([f(s) for s in steps])
    g = int(np.argmin(vals))
    best_step, best_val = float(steps[g]), float(vals[g])
    if refine and n_grid > 1:
        a = float(steps[max(g - 1, 0)])
        b = float(steps[min(g + 1, n_grid - 1)])
        s, v = _golden(f, a, b, 1e-10)
        if v < best_val:
            best_step, best_val = float(s), float(v)
    return best_step, best_val


def uniform_mse_quantizer(x, n_levels, *, symmetric=True, mode="midrise", method="grid",
                          n_grid=512, refine=True, density=None):
    """MSE-optimal uniform quantizer (step, and offset when free) for samples or a density.

    The levels are ``offset + step * code`` with the codes of ``mode`` (see
    :class:`UniformQuant`). The mean squared error as a function of the step is non-convex
    and piecewise smooth, so ``method="grid"`` evaluates it on a geometric grid of steps
    (each evaluation O(L log N) from prefix sums of the sorted samples) and refines the best
    bracket by golden-section search.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or None
        Samples. ``None`` when ``density`` is given.
    n_levels : int
        Number of levels ``L >= 1`` (even for ``"midrise"``).
    symmetric : bool, default=True
        For ``"midrise"`` and ``"midtread"``: fix the offset at 0 (grid symmetric about 0).
        ``False`` also optimises the offset. Ignored for ``"affine"`` (offset always free).
    mode : {"midrise", "midtread", "affine"}, default="midrise"
    method : {"grid", "als", "octav"}, default="grid"
        ``"grid"``: grid + golden-section refinement (global on the grid). ``"als"``:
        alternating least squares (fix the level indices, solve step/offset by least
        squares, re-index; a monotone descent to a local optimum, started from the
        no-clipping step). ``"octav"``: the OCTAV fixed point of Sakr et al. (2022) for the
        clipping level ``s`` (noise model ``s^2 / (3 L^2)``), symmetric modes only; its
        ``mse`` is the exact error of the step it returns.
    n_grid : int, default=512
        Number of grid steps (``"grid"``), spread geometrically over four decades below the
        step at which the outermost level reaches twice the largest ``|x|``.
    refine : bool, default=True
        Golden-section refinement of the best grid bracket, then an alternating
        least-squares descent from that point (``"grid"`` only).
    density : scipy.stats frozen distribution, default=None
        Exact-integration mode: minimise the expected squared error under this distribution
        instead of the sample mean (closed forms for normal and Laplace, quadrature
        otherwise). Symmetric modes with ``method="grid"`` only.

    Returns
    -------
    UniformQuant
        ``step``, ``offset``, ``mse``, ``n_levels``, ``mode`` (with ``levels``,
        ``thresholds``, ``index()`` and ``quantize()``). Constant input gives
        ``step = 1e-8 * max(1, |x|)``, a level on the constant, ``mse = 0`` and a warning.

    Raises
    ------
    TypeError
        For a parameter of the wrong type (a non-integer ``n_levels``, non-real samples).
    ValueError
        For a bad value: NaN/inf or empty samples, ``n_levels < 1``, an ``n_levels`` or
        ``n_grid`` whose arrays cannot fit in memory (10**9), or a mean squared error that
        overflows float64 (data beyond about 1e154; the step scales with the data, so rescale
        it by a power of two). Also for a ``density`` with an infinite variance (Cauchy...)
        or a discrete one.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from normgraph.quant import uniform_mse_quantizer
    >>> q = uniform_mse_quantizer(None, 4, density=stats.norm())
    >>> round(q.step, 4), round(q.mse, 5)
    (0.9957, 0.11885)
    >>> x = np.random.default_rng(0).normal(size=100_000)
    >>> q = uniform_mse_quantizer(x, 4)
    >>> abs(q.step / 0.9957 - 1) < 0.01
    True
    >>> q = uniform_mse_quantizer([0.0, 1.0, 2.0, 3.0], 4, mode="affine")
    >>> round(q.step, 6), round(q.offset, 6), q.levels.round(6)
    (1.0, 0.0, array([0., 1., 2., 3.]))
    """
    L = check_n_levels(n_levels)
    symmetric = check_bool(symmetric, "symmetric")
    mode = check_choice(mode, "mode", _MODES)
    method = check_choice(method, "method", _METHODS)
    refine = check_bool(refine, "refine")
    if mode == "midrise" and L % 2:
        raise ValueError(
            f"mode='midrise' needs an even n_levels (got {L}); use mode='midtread' or 'affine'"
        )
    n_grid = check_int(n_grid, "n_grid", low=2)
    # The search keeps about six arrays of n_levels entries (codes, levels, cell bounds) and
    # five of n_grid (steps, their errors and work arrays): refuse what cannot fit.
    check_level_count(L, 6, "n_levels", "the levels and cells of the step search")
    check_level_count(n_grid, 5, "n_grid", "the grid of candidate steps")
    free_offset = mode == "affine" or not symmetric
    codes = _codes(mode, L)
    if density is not None:
        return _fit_density(density, L, mode, method, free_offset, codes, n_grid, refine)
    if x is None:
        raise ValueError("x is None: pass samples, or a distribution as density=")
    x, _ = check_samples(x)
    u, cw = _distinct_values(x, None)
    if u.shape[0] == 1:
        return _fit_constant(float(u[0]), L, mode, codes)
    if method == "octav" and free_offset:
        raise ValueError("method='octav' fits a symmetric clipping range: use a symmetric "
                         "mode (midrise/midtread with symmetric=True)")
    # Fit on data divided by a power of two near max |x| (exact; the grid is relative to the
    # data's scale anyway) so that squares cannot overflow, then scale the result back.
    scale = magnitude_scale(u)
    q = _fit_samples(u / scale, cw, L, mode, method, free_offset, codes, n_grid, refine)
    mse = unscale_mse(q.mse, scale)
    step, offset = q.step * scale, q.offset * scale
    with np.errstate(over="ignore", invalid="ignore"):
        ends = offset + step * codes[[0, -1]]
    if not (np.isfinite(step) and np.isfinite(ends).all()):
        raise ValueError(f"the step ({q.step:.6g} * 2^{int(np.log2(scale))}) or the outermost "
                         "levels overflow float64 (data near the largest float); rescale x "
                         "by a power of two")
    return UniformQuant(step, offset, mse, L, mode)


def _fit_samples(u, cw, L, mode, method, free_offset, codes, n_grid, refine):
    obj = _SampleObjective(u, cw, codes)
    if L == 1:
        if free_offset:  # one level: the mean
            return UniformQuant(_constant_step(obj.mean), obj.mean,
                                float(obj.S2[-1] / obj.W), L, mode)
        return UniformQuant(_constant_step(0.0), 0.0, float(np.dot(cw, u * u) / obj.W), L, mode)
    if free_offset:
        step, offset, mse = _fit_free_offset(obj, u, L, codes, method, n_grid, refine)
    else:
        step, mse = _fit_symmetric(obj, u, cw, L, codes, method, n_grid, refine)
        offset = 0.0
    return UniformQuant(float(step), float(offset), float(mse), L, mode)


def _fit_constant(value, L, mode, codes):
    warnings.warn(
        "x is constant: step set to 1e-8 * max(1, |x|) and a level placed on the value",
        UserWarning,
        stacklevel=3,
    )
    step = _constant_step(value)
    c0 = codes[int(np.argmin(np.abs(codes)))]
    return UniformQuant(step, value - step * float(c0), 0.0, L, mode)


def _fit_symmetric(obj, u, cw, L, codes, method, n_grid, refine):
    cmax = float(np.abs(codes).max())
    xmax = float(max(abs(u[0]), abs(u[-1])))
    f = lambda s: float(obj.mse_fixed(s)[0])  # noqa: E731
    if method == "grid":
        hi = 2.0 * xmax / max(cmax, 0.5)
        step, mse = _grid_search(f, hi * 1e-4, hi, n_grid, refine, f_many=obj.mse_fixed)
        if refine:
            # The sample MSE has a kink wherever a threshold crosses a sample; a final
            # alternating-least-squares descent settles inside the smooth piece it lands in.
            s2, _, m2 = _als(obj, u, codes, step, 0.0, free_offset=False)
            if m2 < mse:
                step, mse = s2, m2
        return step, mse
    if method == "als":
        step = xmax / max(cmax, 0.5)
        return _als(obj, u, codes, step, 0.0, free_offset=False)[::2]
    # OCTAV on |x| with prefix sums: s <- E|x| 1{|x|>s} / (E 1{|x|<=s} / (3 L^2) + P(|x|>s)).
    a = np.abs(u)
    order = np.argsort(a, kind="stable")
    a, aw = a[order], cw[order]
    W = aw.sum()
    c0 = np.concatenate([[0.0], np.cumsum(aw)])
    c1 = np.concatenate([[0.0], np.cumsum(aw * a)])
    s = float(c1[-1] / W)
    for _ in range(200):
        p = int(np.searchsorted(a, s, side="right"))
        inside = c0[p] / W
        tail_m = (c1[-1] - c1[p]) / W
        tail_p = (c0[-1] - c0[p]) / W
        s_new = tail_m / (inside / (3.0 * L * L) + tail_p)
        if abs(s_new - s) <= 1e-12 * max(s, 1e-300):
            s = s_new
            break
        s = s_new
    step = s / (cmax + 0.5)
    if not step > 0:
        step = _constant_step(0.0)
    return step, f(step)


def _als(obj, u, codes, step, offset, free_offset, max_iter=500):
    """Alternating least squares on (step[, offset]); returns (step, offset, mse)."""
    L = codes.shape[0]
    levels = np.empty(L)
    bounds = np.empty(L + 1, dtype=np.int64)
    old = None
    m = obj.mean
    for _ in range(max_iter):
        np.add(offset, step * codes, out=levels)
        _kernels.cell_bounds(u, levels, bounds)
        if old is not None and np.array_equal(bounds, old):
            break
        old = bounds.copy()
        n0 = np.diff(obj.S0[bounds])
        s1 = np.diff(obj.S1[bounds]) + m * n0  # raw sums of x per cell
        if free_offset:
            A = np.array([[n0.sum(), (codes * n0).sum()],
                          [(codes * n0).sum(), (codes * codes * n0).sum()]])
            rhs = np.array([s1.sum(), (codes * s1).sum()])
            if abs(np.linalg.det(A)) <= 1e-300:
                break
            offset, new_step = np.linalg.solve(A, rhs)
        else:
            den = (codes * codes * n0).sum()
            if den <= 0:
                break
            new_step = (codes * s1).sum() / den
        if not new_step > 0:
            break
        step = float(new_step)
    np.add(offset, step * codes, out=levels)
    _kernels.cell_bounds(u, levels, bounds)
    sse = _kernels.levels_sse(obj.S0, obj.S1, obj.S2, m, levels, bounds)
    return step, float(offset), sse / obj.W


def _fit_free_offset(obj, u, L, codes, method, n_grid, refine):
    span = float(u[-1] - u[0])
    width = float(codes[-1] - codes[0])
    mid = 0.5 * (u[0] + u[-1])
    centre = 0.5 * (codes[0] + codes[-1])

    def starts(step):
        # grid centred on the midrange and on the mean
        return (mid - step * centre, obj.mean - step * centre)

    if method == "als":
        step = span / width
        return _als(obj, u, codes, step, mid - step * centre, free_offset=True)
    offsets = {}

    def f(step):
        mse, z = obj.mse_free(step, starts(step))
        offsets[step] = z
        return mse

    hi = 2.0 * span / width
    step, mse = _grid_search(f, hi * 1e-4, hi, n_grid, refine)
    offset = offsets[step]
    if refine:
        s2, z2, m2 = _als(obj, u, codes, step, offset, free_offset=True)
        if m2 < mse:
            step, offset, mse = s2, z2, m2
    return step, offset, mse


def _fit_density(dist, L, mode, method, free_offset, codes, n_grid, refine):
    if free_offset or method != "grid":
        raise ValueError("density= supports the symmetric modes with method='grid' only")
    dist, p = standardize_density(dist)  # extreme scales refitted at a workable one
    check_density(dist)
    q = _fit_density_scaled(dist, L, mode, codes, n_grid, refine)
    return UniformQuant(q.step * p, 0.0, unscale_mse(q.mse, p, "density"), L, mode)


def _fit_density_scaled(dist, L, mode, codes, n_grid, refine):
    if L == 1:
        return UniformQuant(_constant_step(0.0), 0.0, float(_density_mse(dist, [[0.0]])[0]),
                            L, mode)
    cmax = float(np.abs(codes).max())
    xmax = float(max(abs(dist.ppf(1e-9)), abs(dist.ppf(1.0 - 1e-9))))
    hi = 2.0 * xmax / max(cmax, 0.5)

    cache = {}

    def f_many(steps):
        return _density_mse(dist, np.asarray(steps)[:, None] * codes[None, :], cache)

    def f(s):
        return float(f_many([s])[0])

    step, mse = _grid_search(f, hi * 1e-4, hi, n_grid, refine, f_many=f_many)
    if not (np.isfinite(mse) and np.isfinite(step)):
        raise ValueError(f"density: the mean squared error ({mse}) or the step ({step}) is not "
                         "representable in float64; rescale the distribution")
    return UniformQuant(float(step), 0.0, float(mse), L, mode)
