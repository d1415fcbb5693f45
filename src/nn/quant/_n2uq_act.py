"""N2UQ activation quantizer: learnable nonuniform thresholds, uniform outputs, generalized STE.

Semantics (exactly those of :func:`normgraph.quant.n2uq_forward` / ``n2uq_backward``):
``L = 2**b - 1`` steps of output size ``step = 2 / L``; ``ahat_i = a_i if a_i > eps else eps``;
knots ``T_0 = start``, ``T_i = start + sum_{j<i} ahat_j``; decision thresholds
``m_i = T_i + ahat_i / 2``; with ``z = scale1 * x`` the forward is
``Q = scale2 * step * #{i : z > m_i}`` (a tie rounds down) and the backward is the gradient of
``scale2 * F(z)``, ``F`` the piecewise-linear surrogate through ``(T_k, k * step)``; the gradient
of ``scale2`` is the unscaled forward value.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..._utils.numeric import max_abs, power_of_two_scale
from ..._utils.validation import check_array_param, check_choice, check_int, check_real
from .._checks import check_layer_bits, check_tensor
from .._training import QuantizerBase

__all__ = [
    "n2uq_act",
    "n2uq_act_reference",
    "n2uq_act_surrogate",
    "N2UQActFunction",
    "N2UQAct",
]

# Up to this many decision thresholds (3 bits) a compare-and-sum beats torch.searchsorted.
_COMPARE_MAX = 7


def _knots(start, a, eps):
    """(active mask, floored intervals ahat, knots T_0..T_L, decision thresholds m)."""
    active = a > eps
    ahat = torch.where(active, a, torch.full_like(a, eps))
    knots = torch.cat([start.reshape(1), start + torch.cumsum(ahat, 0)])
    mids = knots[:-1] + 0.5 * ahat
    return active, ahat, knots, mids


def _breaks(knots, mids):
    """The non-decreasing sequence T_0, m_0, T_1, m_1, ..., m_{L-1}, T_L (length 2L + 1)."""
    out = torch.empty(2 * mids.numel() + 1, dtype=knots.dtype, device=knots.device)
    out[0::2] = knots
    out[1::2] = mids
    return out


def _count_less(sorted_values, z):
    """``#{v in sorted_values : v < z}`` elementwise (a tie counts as not less).

    Returns uint8 counts (compare-and-sum, faster than a binary search for the short sequences
    of 1-3 bit quantizers) or, for long sequences, int64 from ``torch.searchsorted``.
    """
    if sorted_values.numel() <= 2 * _COMPARE_MAX + 1:
        count = torch.zeros(z.shape, dtype=torch.uint8, device=z.device)
        for v in sorted_values:
            count += z > v
        return count
    return torch.searchsorted(sorted_values.contiguous(), z.contiguous(), right=False)


def _keep_nan(x, out):
    """NaN inputs stay NaN (torch semantics) instead of falling silently into a code."""
    if bool(torch.isfinite(x.sum())):  # one cheap reduction; the mask only when needed
        return out
    nan = torch.isnan(x)
    return torch.where(nan, x, out) if bool(nan.any()) else out


class N2UQActFunction(torch.autograd.Function):
    """The N2UQ quantizer as an autograd Function with the closed-form G-STE backward.

    ``N2UQActFunction.apply(x, start, a, scale1, scale2, n_bits, eps, grad_clip)``; every tensor
    argument must have ``x``'s dtype and device (``start``, ``scale1`` and ``scale2`` 0-d, ``a``
    of shape ``(2**n_bits - 1,)``). Use :func:`n2uq_act` or :class:`N2UQAct`, which validate.

    The forward counts, for every input, the breaks ``T_0 < m_0 <= T_1 < ... <= T_L`` below
    ``z = scale1 * x``: ``j // 2`` is the output code and ``(j - 1) // 2`` the surrogate
    segment. Only ``j`` (one byte per input for up to 3 bits) is saved. The backward needs no
    per-element scatter: the slope is constant on a segment, so every parameter gradient is a
    combination of the per-bin sums of ``g`` and ``g * x`` (two ``bincount`` passes, float64
    accumulation).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import N2UQActFunction
    >>> x = torch.tensor([-0.5, 0.4, 1.2, 2.5], dtype=torch.float64, requires_grad=True)
    >>> one, zero = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    >>> a = torch.full((3,), 2 / 3, dtype=torch.float64)
    >>> q = N2UQActFunction.apply(x, zero, a, one, one, 2, 1e-3, None)
    >>> (q * 3 / 2).tolist()
    [0.0, 1.0, 2.0, 3.0]
    >>> q.sum().backward(); x.grad                       # ordinary STE at equal intervals
    tensor([0., 1., 1., 0.], dtype=torch.float64)
    """

    @staticmethod
    def forward(ctx, x, start, a, scale1, scale2, n_bits, eps, grad_clip):
        n_steps = 2**n_bits - 1
        step = 2.0 / n_steps
        _, _, knots, mids = _knots(start, a, eps)
        j = _count_less(_breaks(knots, mids), scale1 * x)
        ctx.save_for_backward(x, start, a, scale1, scale2, j)
        ctx.n_bits, ctx.eps, ctx.grad_clip = n_bits, eps, grad_clip
        return _keep_nan(x, torch.bitwise_right_shift(j, 1).to(x.dtype) * (scale2 * step))

    @staticmethod
    def backward(ctx, grad_out):
        x, start, a, scale1, scale2, j = ctx.saved_tensors
        L = 2**ctx.n_bits - 1
        step = 2.0 / L
        n_bins = 2 * L + 2
        active, ahat, knots, _ = _knots(start, a, ctx.eps)
        # per-bin constants: bin j lies in segment (j - 1) // 2; bins 0 and 2L + 1 are outside
        bins = torch.arange(n_bins, device=x.device)
        seg = ((bins - 1) // 2).clamp(0, L - 1)
        inside = (bins >= 1) & (bins <= 2 * L)
        inv = torch.where(inside, step / ahat[seg], torch.zeros((), dtype=x.dtype,
                                                                device=x.device))
        slope_x = (scale2 * scale1) * inv
        if ctx.grad_clip is not None:
            slope_x = slope_x.clamp(max=ctx.grad_clip)
        flat_j = j.reshape(-1)
        grad_x = grad_out * torch.take(slope_x, flat_j.long()).view(x.shape)
        g = grad_out.reshape(-1).double()
        g_bins = torch.bincount(flat_j, weights=g, minlength=n_bins)
        gx_bins = torch.bincount(flat_j, weights=g * x.reshape(-1).double(), minlength=n_bins)
        inv64, knots64, ahat64 = inv.double(), knots.double(), ahat.double()
        s1, s2 = scale1.double(), scale2.double()
        gi_bins = inv64 * g_bins                         # sum of g * step / ahat_k per bin
        lin_bins = inv64 / ahat64[seg] * (s1 * gx_bins - knots64[seg] * g_bins)
        seg_sum = torch.zeros(L, dtype=torch.float64, device=x.device).index_add_(
            0, seg, gi_bins)
        seg_lin = torch.zeros_like(seg_sum).index_add_(0, seg, lin_bins)
        later = torch.flip(torch.cumsum(torch.flip(seg_sum, (0,)), 0), (0,))
        later = torch.cat([later[1:], later.new_zeros(1)])
        grad_a = torch.where(active, -s2 * (seg_lin + later), torch.zeros_like(seg_lin))
        grad_start = -s2 * seg_sum.sum()
        grad_scale1 = s2 * (inv64 * gx_bins).sum()
        grad_scale2 = step * ((bins // 2).double() * g_bins).sum()
        dtype = x.dtype
        return (grad_x, grad_start.to(dtype), grad_a.to(dtype), grad_scale1.to(dtype),
                grad_scale2.to(dtype), None, None, None)


def _prepare(x, start, a, scale1, scale2, n_bits, eps, grad_clip):
    """Validate the functional arguments; cast the parameters to ``x``'s dtype and device."""
    check_tensor(x, "x")
    n_bits = check_layer_bits(n_bits)
    eps = check_real(eps, "eps", low=0.0, low_inclusive=False)
    if grad_clip is not None:
        grad_clip = check_real(grad_clip, "grad_clip", low=0.0, low_inclusive=False)
    params = []
    for value, name in ((start, "start"), (scale1, "scale1"), (scale2, "scale2")):
        t = torch.as_tensor(value, dtype=x.dtype, device=x.device)
        if t.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got shape {tuple(t.shape)}")
        params.append(t.reshape(()))
    a = torch.as_tensor(a, dtype=x.dtype, device=x.device)
    n_steps = 2**n_bits - 1
    if a.shape != (n_steps,):
        raise ValueError(f"a must have shape ({n_steps},) = (2**n_bits - 1,) for n_bits={n_bits}, "
                         f"got {tuple(a.shape)}")
    start, scale1, scale2 = params
    return x, start, a, scale1, scale2, n_bits, eps, grad_clip


def n2uq_act(x, start, a, scale1=1.0, scale2=1.0, n_bits=2, eps=1e-3, grad_clip=None):
    """Functional N2UQ activation quantizer (forward ``Q``, closed-form G-STE backward).

    Parameters
    ----------
    x : torch.Tensor
        Floating input of any shape; the output has its dtype and device.
    start : float or 0-d tensor
        First knot ``T_0``.
    a : sequence or tensor of shape (2**n_bits - 1,)
        Interval lengths (floored at ``eps``).
    scale1, scale2 : float or 0-d tensor, default=1.0
        Input scale (``z = scale1 * x``) and output scale.
    n_bits : int, default=2
        Bit width in [1, 8].
    eps : float, default=1e-3
        Floor of the intervals, ``> 0``.
    grad_clip : float or None, default=None
        Clamp the input slope ``scale2 * scale1 * step / ahat_k`` to this value.

    Returns
    -------
    q : torch.Tensor
        Values in ``{0, step, ..., 2} * scale2`` with ``step = 2 / (2**n_bits - 1)``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating tensor or a scalar has the wrong type.
    ValueError
        If ``n_bits`` is outside [1, 8], ``eps`` or ``grad_clip`` is not positive, or ``a``
        has the wrong shape.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import n2uq_act
    >>> x = torch.tensor([-1.0, 0.2, 0.5, 1.0, 1.9, 5.0])      # 0.5 is a tie: rounds down
    >>> n2uq_act(x, start=0.0, a=[0.2, 0.6, 1.2]) * 3 / 2     # thresholds 0.1, 0.5, 1.4
    tensor([0., 1., 1., 2., 3., 3.])
    """
    return N2UQActFunction.apply(*_prepare(x, start, a, scale1, scale2, n_bits, eps, grad_clip))


def n2uq_act_surrogate(x, start, a, scale1=1.0, scale2=1.0, n_bits=2, eps=1e-3):
    """The smooth-almost-everywhere surrogate ``scale2 * F(scale1 * x)``, from torch ops.

    ``F(z) = step * sum_k clamp((z - T_k) / ahat_k, 0, 1)``, i.e. 0 below ``T_0``, 2 above
    ``T_L`` and ``step * (k + (z - T_k) / ahat_k)`` on ``(T_k, T_{k+1}]``. Its autograd gradient
    is the generalized STE; it is what ``gradcheck`` may check (away from the knots).

    Parameters
    ----------
    x, start, a, scale1, scale2, n_bits, eps
        As in :func:`n2uq_act`.

    Returns
    -------
    f : torch.Tensor

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import n2uq_act_surrogate
    >>> n2uq_act_surrogate(torch.tensor([-1.0, 0.1, 0.2, 0.5, 3.0]), 0.0, [0.2, 0.6, 1.2]) * 1.5
    tensor([0.0000, 0.5000, 1.0000, 1.5000, 3.0000])
    """
    x, start, a, scale1, scale2, n_bits, eps, _ = _prepare(x, start, a, scale1, scale2, n_bits,
                                                           eps, None)
    _, ahat, knots, _ = _knots(start, a, eps)
    step = 2.0 / (2**n_bits - 1)
    z = (scale1 * x).unsqueeze(-1)
    f = step * torch.clamp((z - knots[:-1]) / ahat, 0.0, 1.0).sum(-1)
    return scale2 * f


def n2uq_act_reference(x, start, a, scale1=1.0, scale2=1.0, n_bits=2, eps=1e-3):
    """The reference code's form ``(Q0.detach() + F - F.detach()) * scale2``, all torch ops.

    Same values as :func:`n2uq_act`; its autograd backward is the generalized STE, so it is the
    independent oracle for :class:`N2UQActFunction`'s hand-written backward (slower, more
    memory).

    Parameters
    ----------
    x, start, a, scale1, scale2, n_bits, eps
        As in :func:`n2uq_act`.

    Returns
    -------
    q : torch.Tensor

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import n2uq_act_reference
    >>> n2uq_act_reference(torch.tensor([0.2, 0.5, 1.9]), 0.0, [0.2, 0.6, 1.2]) * 1.5
    tensor([1.0000, 1.0000, 3.0000])
    """
    x, start, a, scale1, scale2, n_bits, eps, _ = _prepare(x, start, a, scale1, scale2, n_bits,
                                                           eps, None)
    _, ahat, knots, mids = _knots(start, a, eps)
    step = 2.0 / (2**n_bits - 1)
    z = scale1 * x
    q0 = _keep_nan(x, (z.unsqueeze(-1) > mids).sum(-1).to(x.dtype) * step).detach()
    f = step * torch.clamp((z.unsqueeze(-1) - knots[:-1]) / ahat, 0.0, 1.0).sum(-1)
    return (q0 + f - f.detach()) * scale2


class N2UQAct(QuantizerBase):
    """N2UQ activation quantizer layer (arXiv:2111.14826): learnable thresholds, uniform outputs.

    Parameters ``start`` (init 0), ``a`` (``2**n_bits - 1`` intervals, init ``step``),
    ``scale1`` and ``scale2`` (init 1), one set per tensor. The forward is
    ``Q = scale2 * step * #{i : scale1 * x > T_i + ahat_i / 2}``; the backward the generalized
    straight-through estimator of :class:`N2UQActFunction`.

    Parameters
    ----------
    n_bits : int, default=2
        Bit width in [1, 8].
    eps : float, default=1e-3
        Floor of the interval lengths.
    grad_clip : float or None, default=None
        Clamp on the input slope (``None``: none, as in the reference).

    Attributes
    ----------
    start, scale1, scale2 : torch.nn.Parameter, 0-d
    a : torch.nn.Parameter of shape (2**n_bits - 1,)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import N2UQAct
    >>> q = N2UQAct(n_bits=2)
    >>> q
    N2UQAct(n_bits=2, eps=0.001)
    >>> q(torch.tensor([-1.0, 0.4, 1.2, 3.0])) * 1.5          # uniform at init: outputs /step
    tensor([0., 1., 2., 3.], grad_fn=<MulBackward0>)
    >>> _ = q.init_from(torch.rand(1000) ** 2, method="quantile")
    >>> bool((q.a > 0).all())
    True
    """

    def __init__(self, n_bits=2, eps=1e-3, grad_clip=None):
        super().__init__()
        self.n_bits = check_layer_bits(n_bits)
        self.eps = check_real(eps, "eps", low=0.0, low_inclusive=False)
        self.grad_clip = None if grad_clip is None else check_real(
            grad_clip, "grad_clip", low=0.0, low_inclusive=False)
        n_steps = 2**self.n_bits - 1
        self.start = nn.Parameter(torch.tensor(0.0))
        self.a = nn.Parameter(torch.full((n_steps,), 2.0 / n_steps))
        self.scale1 = nn.Parameter(torch.tensor(1.0))
        self.scale2 = nn.Parameter(torch.tensor(1.0))

    @property
    def n_steps(self):
        """``L = 2**n_bits - 1``, the number of intervals."""
        return 2**self.n_bits - 1

    def forward(self, x):
        return n2uq_act(x, self.start, self.a, self.scale1, self.scale2, self.n_bits, self.eps,
                        self.grad_clip)

    def extra_repr(self):
        text = f"n_bits={self.n_bits}, eps={self.eps}"
        return text if self.grad_clip is None else text + f", grad_clip={self.grad_clip}"

    @torch.no_grad()
    def knots(self):
        """The knots ``T_0 .. T_L`` (detached, float64 NumPy array) in the ``z`` domain.

        Examples
        --------
        >>> from normgraph.nn.quant import N2UQAct
        >>> N2UQAct(n_bits=1).knots()
        array([0., 2.])
        """
        a = self.a.detach().double()
        return _knots(self.start.detach().double(), a, self.eps)[2].cpu().numpy()

    @torch.no_grad()
    def init_from(self, x, method="quantile", max_samples=200_000, random_state=0):
        """Set ``start`` and ``a`` from a calibration batch with ``normgraph.quant``'s solvers.

        The samples are ``z = scale1 * x`` (a random subsample of ``max_samples`` when larger).

        * ``"uniform"``: equal intervals from the MSE-optimal uniform quantizer
          (:class:`normgraph.quant.N2UQuantizer` with ``init="uniform"``);
        * ``"quantile"``: knots at equal-probability quantiles (``N2UQuantizer`` with
          ``init="quantile"``: histogram equalisation);
        * ``"optimal"``: the knots are the ``2**n_bits`` levels of the globally optimal 1-D
          k-means quantizer (:func:`normgraph.quant.optimal_kmeans_1d`), so the decision
          thresholds ``T_i + a_i / 2`` are exactly its optimal thresholds.

        Intervals are floored at ``eps``.

        Parameters
        ----------
        x : torch.Tensor
            Calibration activations (any shape, finite).
        method : {"quantile", "uniform", "optimal"}, default="quantile"
        max_samples : int, default=200000
            Subsample size, ``>= 2``.
        random_state : int, default=0
            Seed of the subsample.

        Returns
        -------
        self : N2UQAct

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.quant import N2UQAct
        >>> q = N2UQAct(n_bits=2).init_from(torch.tensor([0., 0., 1., 1., 4., 4., 9., 9.]),
        ...                                 method="optimal")
        >>> q.knots()
        array([0., 1., 4., 9.])
        """
        from ...quant import N2UQuantizer, optimal_kmeans_1d

        check_tensor(x, "x")
        method = check_choice(method, "method", ("quantile", "uniform", "optimal"))
        max_samples = check_int(max_samples, "max_samples", low=2)
        random_state = check_int(random_state, "random_state", low=0)
        z = (self.scale1.detach().double() * x.detach().double()).reshape(-1).cpu().numpy()
        z = check_array_param(z, "x", ndim=1, min_size=2)
        if z.size > max_samples:
            rng = np.random.default_rng(random_state)
            z = z[rng.choice(z.size, size=max_samples, replace=False)]
        scale = power_of_two_scale(max_abs(z))  # exact rescaling: fit near magnitude 1
        z = z / scale
        if method == "optimal":
            levels = optimal_kmeans_1d(z, 2**self.n_bits)[0]
            start, a = float(levels[0]), np.diff(levels)
        else:
            fitted = N2UQuantizer(n_bits=self.n_bits, init=method, eps=self.eps / scale).fit(
                z[:, None])
            start, a = float(fitted.start_[0]), fitted.a_[0]
        start, a = start * scale, a * scale
        limit = torch.finfo(self.a.dtype).max
        if abs(start) + float(np.sum(a)) > limit:
            raise ValueError(f"x is too large for {self.a.dtype} thresholds; convert the module "
                             "to float64 or rescale the input")
        self.start.fill_(start)
        self.a.copy_(torch.as_tensor(np.maximum(a, self.eps), dtype=self.a.dtype))
        return self

    @torch.no_grad()
    def code_scale(self):
        """The value of one output code: ``scale2 * step`` (0-d tensor, float64).

        Examples
        --------
        >>> from normgraph.nn.quant import N2UQAct
        >>> float(N2UQAct(n_bits=2).code_scale())
        0.6666666666666666
        """
        return self.scale2.detach().double() * (2.0 / self.n_steps)

    @torch.no_grad()
    def integer_codes(self, x):
        """Integer output codes ``#{i : scale1 * x > m_i}`` in ``0 .. L`` (int64).

        ``forward(x) == code_scale() * integer_codes(x)`` up to rounding of the product.

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.quant import N2UQAct
        >>> N2UQAct(n_bits=2).integer_codes(torch.tensor([-1.0, 0.4, 1.2, 3.0]))
        tensor([0, 1, 2, 3])
        """
        check_tensor(x, "x")
        start = self.start.detach().to(x.dtype)
        a = self.a.detach().to(x.dtype)
        mids = _knots(start, a, self.eps)[3]
        return _count_less(mids, self.scale1.detach().to(x.dtype) * x).long()
