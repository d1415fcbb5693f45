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

# Up to this many thresholds a compare-and-sum is faster than torch.searchsorted.
_COMPARE_MAX = 7


def _knots(start, a, eps):
    """(active mask, floored intervals ahat, knots T_0..T_L, decision thresholds m)."""
    active = a > eps
    ahat = torch.where(active, a, torch.full_like(a, eps))
    knots = torch.cat([start.reshape(1), start + torch.cumsum(ahat, 0)])
    mids = knots[:-1] + 0.5 * ahat
    return active, ahat, knots, mids


def _count_less(sorted_values, z):
    """``#{v in sorted_values : v < z}`` elementwise, as int64 (a tie counts as not less)."""
    if sorted_values.numel() <= _COMPARE_MAX:
        count = torch.zeros(z.shape, dtype=torch.uint8, device=z.device)
        for v in sorted_values:
            count += z > v
        return count.long()
    return torch.searchsorted(sorted_values.contiguous(), z.contiguous(), right=False)


def _keep_nan(x, out):
    """NaN inputs stay NaN (torch semantics) instead of falling silently into a code."""
    nan = torch.isnan(x)
    return torch.where(nan, x, out) if bool(nan.any()) else out


class N2UQActFunction(torch.autograd.Function):
    """The N2UQ quantizer as an autograd Function with the closed-form G-STE backward.

    ``N2UQActFunction.apply(x, start, a, scale1, scale2, n_bits, eps, grad_clip)``; every tensor
    argument must have ``x``'s dtype and device (``start``, ``scale1`` and ``scale2`` 0-d, ``a``
    of shape ``(2**n_bits - 1,)``). Use :func:`n2uq_act` or :class:`N2UQAct`, which validate.

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
        _, _, _, mids = _knots(start, a, eps)
        index = _count_less(mids, scale1 * x)
        ctx.save_for_backward(x, start, a, scale1, scale2, index.to(torch.uint8))
        ctx.n_bits, ctx.eps, ctx.grad_clip = n_bits, eps, grad_clip
        return _keep_nan(x, index.to(x.dtype) * (scale2 * step))

    @staticmethod
    def backward(ctx, grad_out):
        x, start, a, scale1, scale2, index = ctx.saved_tensors
        n_steps = 2**ctx.n_bits - 1
        step = 2.0 / n_steps
        active, ahat, knots, _ = _knots(start, a, ctx.eps)
        z = scale1 * x
        c = _count_less(knots, z)  # segment k = c - 1 for z in (T_k, T_{k+1}]
        inside = (c >= 1) & (c <= n_steps)
        k = (c - 1).clamp_(0, n_steps - 1)
        inv = torch.where(inside, (step / ahat)[k], torch.zeros((), dtype=x.dtype,
                                                                device=x.device))
        slope_x = (scale2 * scale1) * inv
        if ctx.grad_clip is not None:
            slope_x = slope_x.clamp(max=ctx.grad_clip)
        grad_x = grad_out * slope_x
        gi = grad_out * inv
        flat_k = k.reshape(-1)
        seg_sum = torch.zeros(n_steps, dtype=x.dtype, device=x.device)
        seg_sum.index_add_(0, flat_k, gi.reshape(-1))
        seg_lin = torch.zeros_like(seg_sum)
        seg_lin.index_add_(0, flat_k, (gi * (z - knots[k]) / ahat[k]).reshape(-1))
        later = torch.flip(torch.cumsum(torch.flip(seg_sum, (0,)), 0), (0,))
        later = torch.cat([later[1:], later.new_zeros(1)])
        grad_a = torch.where(active, -scale2 * (seg_lin + later), torch.zeros_like(seg_lin))
        grad_start = -scale2 * seg_sum.sum()
        grad_scale1 = scale2 * (gi * x).sum()
        grad_scale2 = (grad_out * index.to(x.dtype)).sum() * step
        return grad_x, grad_start, grad_a, grad_scale1, grad_scale2, None, None, None


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
        return _count_less(mids, self.scale1.detach().to(x.dtype) * x)
