"""The N2UQ quantizers: nonuniform thresholds with uniform outputs, as NumPy reference functions.

These functions define the numbers that the torch layers of ``normgraph.nn`` are tested against,
so every formula below is the exact semantics of the reference code of Liu et al.,
"Nonuniform-to-Uniform Quantization" (CVPR 2022).

Activation quantizer with ``b`` bits (``L = 2**b - 1`` steps, output step ``step = 2 / L``):

* floored intervals ``ahat_i = a_i if a_i > eps else eps`` (a hard floor: no gradient below eps);
* knots ``T_0 = start``, ``T_i = start + sum_{j<i} ahat_j`` (``start + cumsum(ahat)``);
* decision thresholds ``m_i = T_i + ahat_i / 2``;
* forward ``Q(x) = scale2 * step * #{i : scale1 * x > m_i}`` (strict ``>``: a tie rounds down);
* surrogate ``F(z) = 0`` for ``z <= T_0``, ``2`` for ``z > T_L`` and
  ``step * (k + (z - T_k) / ahat_k)`` on ``(T_k, T_{k+1}]``;
  ``Q = scale2 * step * ceil(F / step - 1/2)``;
* backward (generalized straight-through estimator): the gradient of ``scale2 * F(scale1 * x)``
  for ``x``, ``start``, ``a`` and ``scale1``; the gradient of ``scale2`` is the unscaled forward.

Weight quantizer (per output channel ``c``): ``s_c = gamma_b * mean|W_c|`` with
``gamma_b = (2**b - 1) / 2**(b - 1)``, ``W~ = W / s_c`` and
``q = round((clip(W~, -1, 1) + 1) * (2**b - 1) / 2) * 2 / (2**b - 1) - 1``; ``W_q = s_c * q``; the
gradient is that of ``W / s_c`` with ``s_c`` held constant.
"""

from __future__ import annotations

import numpy as np

from .._utils.numeric import max_abs
from .._utils.validation import check_int, check_numeric_dtype, check_real
from . import _n2uq_kernels as _k
from ._validation import check_n_bits

__all__ = [
    "n2uq_forward",
    "n2uq_surrogate",
    "n2uq_backward",
    "n2uq_weight_quant",
    "n2uq_weight_backward",
]


# --------------------------------------------------------------------------- validation
def _as_real_array(values, name):
    """Float64 C-contiguous copy-if-needed of a real, finite array of any shape."""
    if values is None or isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {type(values).__name__}")
    check_numeric_dtype(values, name)
    arr = np.asarray(values, dtype=np.float64, order="C")  # keeps 0-d arrays 0-d
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_input_scale(x, scale1):
    """Refuse ``scale1 * x`` beyond the float64 range (the kernels form it per sample)."""
    with np.errstate(over="ignore"):
        if not np.isfinite(scale1 * max_abs(x)):
            raise ValueError(f"scale1 * x overflows float64 (scale1={scale1:g}, "
                             f"max |x|={max_abs(x):g})")


class _ActParams:
    """Validated activation-quantizer parameters and the arrays the kernels need."""

    def __init__(self, start, a, scale1, scale2, n_bits, eps):
        self.n_bits = check_n_bits(n_bits)
        self.n_steps = 2**self.n_bits - 1
        self.step = 2.0 / self.n_steps
        self.start = check_real(start, "start")
        self.scale1 = check_real(scale1, "scale1", low=0.0)
        self.scale2 = check_real(scale2, "scale2", low=0.0)
        self.eps = check_real(eps, "eps", low=0.0, low_inclusive=False)
        a = _as_real_array(a, "a")
        if a.ndim != 1 or a.shape[0] != self.n_steps:
            raise ValueError(
                f"a must have 2**n_bits - 1 = {self.n_steps} entries for n_bits={self.n_bits}, "
                f"got shape {a.shape}"
            )
        self.a = a
        self.active = a > self.eps
        self.ahat = np.where(self.active, a, self.eps)
        self.knots = np.empty(self.n_steps + 1)
        self.knots[0] = self.start
        with np.errstate(over="ignore", invalid="ignore"):
            self.knots[1:] = self.start + np.cumsum(self.ahat)
        if not np.isfinite(self.knots).all():
            raise ValueError("start + cumsum(a) (the knots) overflows float64")
        if not np.isfinite(2.0 * self.scale2):
            raise ValueError("scale2 is too large: the top output 2 * scale2 overflows")
        self.mids = self.knots[:-1] + 0.5 * self.ahat
        self.breaks = np.empty(2 * self.n_steps + 1)
        self.breaks[0::2] = self.knots
        self.breaks[1::2] = self.mids


# --------------------------------------------------------------------------- activations
def n2uq_forward(x, start, a, scale1=1.0, scale2=1.0, n_bits=2, eps=1e-3):
    """Quantize activations with the N2UQ quantizer (learnable thresholds, uniform outputs).

    ``Q(x) = scale2 * step * #{i : scale1 * x > T_i + ahat_i / 2}``
    with ``step = 2 / (2**n_bits - 1)``,
    knots ``T_0 = start``, ``T_i = start + sum_{j<i} ahat_j`` and ``ahat_i = max-floor(a_i, eps)``
    (``a_i`` if ``a_i > eps`` else ``eps``). A value exactly on a threshold rounds *down*, unlike
    ``np.round`` (half to even). Cost O(N log L).

    Parameters
    ----------
    x : array-like of any shape
        Real inputs (int and bool are cast to float64); may be negative (below ``start`` they
        map to 0).
    start : float
        First knot ``T_0``.
    a : array-like of shape (2**n_bits - 1,)
        Interval lengths; entries ``<= eps`` are replaced by ``eps``.
    scale1 : float, default=1.0
        Input scale (``z = scale1 * x``), ``>= 0``.
    scale2 : float, default=1.0
        Output scale, ``>= 0``.
    n_bits : int, default=2
        Bit width ``b`` in [1, 16].
    eps : float, default=1e-3
        Floor of the interval lengths, ``> 0``.

    Returns
    -------
    q : ndarray of float64, same shape as ``x``
        Values in ``{0, step, 2 * step, ..., 2} * scale2``.

    Raises
    ------
    TypeError
        If ``x`` or ``a`` is not real (complex, object, strings).
    ValueError
        If they hold NaN/inf, ``a`` has the wrong length, ``scale1``/``scale2`` are negative,
        ``eps <= 0`` or ``n_bits`` is not an integer in [1, 16].

    See Also
    --------
    n2uq_surrogate : the piecewise-linear function whose gradient :func:`n2uq_backward` returns.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import n2uq_forward
    >>> step = 2 / 3                       # 2 bits: outputs {0, 2/3, 4/3, 2}
    >>> x = np.array([-1.0, 0.2, 0.5, 1.0, 1.9, 5.0])   # 0.5 is a tie: it rounds down
    >>> n2uq_forward(x, start=0.0, a=[0.2, 0.6, 1.2]) / step  # thresholds 0.1, 0.5, 1.4
    array([0., 1., 1., 2., 3., 3.])
    >>> n2uq_forward([step / 2], start=0.0, a=[step] * 3)  # a tie rounds down
    array([0.])
    """
    p = _ActParams(start, a, scale1, scale2, n_bits, eps)
    x = _as_real_array(x, "x")
    _check_input_scale(x, p.scale1)
    values = (np.arange(p.n_steps + 1) * p.step) * p.scale2
    out = np.empty(x.size)
    _k.n2uq_forward_kernel(x.reshape(-1), p.scale1, p.mids, values, out)
    return out.reshape(x.shape)


def _n2uq_index(x, start, a, scale1=1.0, n_bits=2, eps=1e-3):
    """Output index ``#{i : scale1 * x > m_i}`` in 0..L (int64), for validated flat ``x``."""
    p = _ActParams(start, a, scale1, 1.0, n_bits, eps)
    out = np.empty(x.size, dtype=np.int64)
    _k.n2uq_index_kernel(np.asarray(x, dtype=np.float64, order="C").reshape(-1), p.scale1, p.mids,
                         out)
    return out.reshape(np.shape(x))


def n2uq_surrogate(x, start, a, scale1=1.0, scale2=1.0, n_bits=2, eps=1e-3):
    """The N2UQ surrogate ``scale2 * F(scale1 * x)`` whose gradient is the generalized STE.

    ``F`` is continuous, monotone and piecewise linear: ``F(z) = 0`` for ``z <= T_0``,
    ``F(z) = 2`` for ``z > T_L`` and ``F(z) = step * (k + (z - T_k) / ahat_k)`` on
    ``(T_k, T_{k+1}]``. It maps the knots onto the uniform output grid, and the forward
    quantizer is ``scale2 * step * ceil(F / step - 1/2)``.

    Parameters
    ----------
    x, start, a, scale1, scale2, n_bits, eps
        As in :func:`n2uq_forward`.

    Returns
    -------
    f : ndarray of float64, same shape as ``x``
        ``scale2 * F(scale1 * x)`` in ``[0, 2 * scale2]``.

    Examples
    --------
    >>> from normgraph.quant import n2uq_surrogate
    >>> n2uq_surrogate([-1.0, 0.1, 0.2, 0.5, 3.0], start=0.0, a=[0.2, 0.6, 1.2]) * 3 / 2
    array([0. , 0.5, 1. , 1.5, 3. ])
    """
    p = _ActParams(start, a, scale1, scale2, n_bits, eps)
    x = _as_real_array(x, "x")
    _check_input_scale(x, p.scale1)
    out = np.empty(x.size)
    _k.n2uq_surrogate_kernel(x.reshape(-1), p.scale1, p.knots, p.ahat, p.step, p.scale2, out)
    return out.reshape(x.shape)


def n2uq_backward(grad_out, x, start, a, scale1=1.0, scale2=1.0, n_bits=2, eps=1e-3, *,
                  grad_clip=None):
    """Gradients of the N2UQ activation quantizer (generalized straight-through estimator).

    With ``z = scale1 * x`` in segment ``k`` (``T_k < z <= T_{k+1}``), ``g = grad_out`` and
    sums over all samples:

    * ``dx = g * scale2 * scale1 * step / ahat_k`` inside ``(T_0, T_L]``, 0 outside;
    * ``da_i = -scale2 * [sum_{z in seg i} g * step * (z - T_i) / ahat_i**2
      + sum_{z in seg k > i} g * step / ahat_k]`` if ``a_i > eps``, else 0 (the floor is flat);
    * ``dstart = -scale2 * sum_inside g * step / ahat_k``;
    * ``dscale1 = scale2 * sum_inside g * x * step / ahat_k``;
    * ``dscale2 = sum g * step * #{i : z > m_i}`` (the unscaled forward value).

    The first four are the exact gradients of :func:`n2uq_surrogate`; the last is that of the
    forward, as in the reference code ``(Q0.detach() + F - F.detach()) * scale2``.

    Parameters
    ----------
    grad_out : array-like, same shape as ``x``
        Upstream gradient ``dLoss/dQ``.
    x, start, a, scale1, scale2, n_bits, eps
        As in :func:`n2uq_forward`.
    grad_clip : float or None, default=None
        If given (``> 0``), the input slope ``scale2 * scale1 * step / ahat_k`` is clamped to it
        before multiplying by ``grad_out`` (a floored interval gives slopes up to ``step / eps``).
        ``None`` reproduces the reference, which has no clipping. Parameter gradients are never
        clipped.

    Returns
    -------
    grads : dict
        ``x`` (ndarray, shape of ``x``), ``start`` (float), ``a`` (ndarray of shape (L,)),
        ``scale1`` (float), ``scale2`` (float): the gradients of the loss with respect to each,
        the parameter ones summed over all samples (one parameter set per tensor).

    Raises
    ------
    ValueError
        As :func:`n2uq_forward`, and if ``grad_out`` and ``x`` have different shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import n2uq_backward
    >>> step = 2 / 3
    >>> g = n2uq_backward(np.ones(3), [-0.5, 0.3, 2.5], start=0.0, a=[step] * 3)
    >>> g["x"]  # slope 1 on (0, 2], 0 outside: the ordinary STE
    array([0., 1., 0.])
    >>> float(g["start"]), float(g["scale2"])
    (-1.0, 2.0)
    """
    p = _ActParams(start, a, scale1, scale2, n_bits, eps)
    x = _as_real_array(x, "x")
    _check_input_scale(x, p.scale1)
    grad_out = _as_real_array(grad_out, "grad_out")
    if grad_out.shape != x.shape:
        raise ValueError(
            f"grad_out has shape {grad_out.shape} but x has shape {x.shape}; they must match"
        )
    slope_clip = 0.0
    if grad_clip is not None:
        slope_clip = check_real(grad_clip, "grad_clip", low=0.0, low_inclusive=False)
    grad_x = np.empty(x.size)
    seg_sum = np.zeros(p.n_steps)
    seg_lin = np.zeros(p.n_steps)
    acc_scale1, acc_scale2 = _k.n2uq_backward_kernel(
        grad_out.reshape(-1), x.reshape(-1), p.scale1, p.scale2, p.knots, p.ahat, p.breaks,
        p.step, slope_clip, grad_x, seg_sum, seg_lin,
    )
    # Samples in a later segment k > i see T_k shift with a_i: suffix sums of seg_sum.
    with np.errstate(over="ignore", invalid="ignore"):
        later = np.concatenate([np.cumsum(seg_sum[::-1])[::-1][1:], [0.0]])
        grad_a = np.where(p.active, -p.scale2 * (seg_lin + later), 0.0) + 0.0  # no -0.0
        grads = {
            "x": grad_x.reshape(x.shape),
            "start": -p.scale2 * float(seg_sum.sum()),
            "a": grad_a,
            "scale1": p.scale2 * float(acc_scale1),
            "scale2": float(acc_scale2),
        }
    for name, g in grads.items():
        if not np.isfinite(g).all():
            raise ValueError(
                f"the gradient for {name} overflows float64 (grad_out up to "
                f"{max_abs(grad_out):.3g} times slopes up to {p.step / p.ahat.min():.3g}); "
                "scale grad_out down by a power of two and the gradients back up")
    return grads


# --------------------------------------------------------------------------- weights
def _weight_scale(W, n_bits, axis):
    n_bits = check_n_bits(n_bits)
    W = _as_real_array(W, "W")
    if W.ndim == 0:
        raise ValueError("W must have at least one dimension (the output-channel axis)")
    if W.size == 0:
        raise ValueError(f"W is empty (shape {W.shape})")
    axis = check_int(axis, "axis")
    if not -W.ndim <= axis < W.ndim:
        raise ValueError(f"axis {axis} is out of range for W with {W.ndim} dimension(s)")
    axis = axis % W.ndim
    n_levels = 2**n_bits
    gamma = (n_levels - 1) / 2 ** (n_bits - 1)
    reduce_axes = tuple(i for i in range(W.ndim) if i != axis)
    if reduce_axes:
        # mean |W_c| of each channel divided by a power of two near its own largest entry
        # (exact): no overflowing sum at 1e300, no channel flushed to zero by another's scale
        A = np.abs(W)
        p = np.ldexp(1.0, np.frexp(A.max(axis=reduce_axes, keepdims=True))[1])
        with np.errstate(over="ignore"):
            scale = gamma * ((A / p).mean(axis=reduce_axes) * p.reshape(-1))
    else:
        with np.errstate(over="ignore"):
            scale = gamma * np.abs(W)
    if not np.isfinite(scale).all():
        raise ValueError("the channel scale gamma * mean|W_c| overflows float64 (weights near "
                         "the largest float); rescale W by a power of two")
    shape = [1] * W.ndim
    shape[axis] = W.shape[axis]
    return n_bits, W, scale, scale.reshape(shape)


def n2uq_weight_quant(W, n_bits, axis=0):
    """Quantize weights with N2UQ's entropy-preserving symmetric quantizer (per output channel).

    ``s_c = gamma_b * mean|W_c|`` with ``gamma_b = (2**b - 1) / 2**(b - 1)``; ``W~ = W / s_c`` and
    ``W_q = s_c * (round((clip(W~, -1, 1) + 1) * (2**b - 1) / 2) * 2 / (2**b - 1) - 1)``.
    The ``2**b`` levels are symmetric and exclude zero; for weights uniform on ``[-A, A]`` every
    level has probability ``2**-b``. Rounding is NumPy's (half to even, like ``torch.round``).

    Parameters
    ----------
    W : array-like, at least 1-D
        Real weights, for example a conv weight of shape (out, in, kh, kw).
    n_bits : int
        Bit width ``b`` in [1, 16].
    axis : int, default=0
        The output-channel axis; the mean of ``|W|`` is taken over all other axes.

    Returns
    -------
    W_q : ndarray of float64, shape of ``W``
        Quantized weights.
    scale : ndarray of float64, shape (W.shape[axis],)
        ``s_c`` per channel. A channel of zeros has ``s_c = 0`` and quantizes to zeros.

    Raises
    ------
    TypeError
        If ``W`` is not real or ``axis`` is not an integer.
    ValueError
        If ``W`` is 0-D or empty, holds NaN/inf, ``axis`` is out of range or ``n_bits`` is
        not an integer in [1, 16].

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import n2uq_weight_quant
    >>> W = np.array([[-0.9, -0.2, 0.1, 0.6], [0.3, 0.9, -0.2, -0.6]])
    >>> W_q, s = n2uq_weight_quant(W, n_bits=2)
    >>> s                                   # 1.5 * mean|W_c|
    array([0.675, 0.75 ])
    >>> np.round(W_q / s[:, None] * 3)      # levels -3, -1, 1, 3 (in units of 1/3): no zero
    array([[-3., -1.,  1.,  3.],
           [ 1.,  3., -1., -3.]])
    """
    n_bits, W, scale, s = _weight_scale(W, n_bits, axis)
    n_steps = 2**n_bits - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        w_tilde = np.where(s > 0, W / np.where(s > 0, s, 1.0), 0.0)
    q = np.round((np.clip(w_tilde, -1.0, 1.0) + 1.0) * (n_steps / 2.0)) * (2.0 / n_steps) - 1.0
    return s * q, scale


def n2uq_weight_backward(grad_out, W, n_bits, axis=0):
    """Gradient of the N2UQ weight quantizer: ``grad_out / s_c`` (identity STE through ``W / s_c``).

    The reference code returns ``W_q.detach() - W~.detach() + W~`` with ``W~ = W / s_c`` and
    ``s_c`` detached, so the gradient flows through ``W~`` unmasked (weights beyond ``+-s_c``
    still receive gradient) and not through ``s_c``.

    Parameters
    ----------
    grad_out : array-like, shape of ``W``
        Upstream gradient ``dLoss/dW_q``.
    W, n_bits, axis
        As in :func:`n2uq_weight_quant`.

    Returns
    -------
    grad_W : ndarray of float64, shape of ``W``
        ``grad_out / s_c``; zero for a channel of zeros (``s_c = 0``, where ``W / s_c`` is
        undefined and the channel is treated as frozen).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import n2uq_weight_backward
    >>> W = np.array([[-0.9, -0.2, 0.1, 0.6], [0.3, 0.9, -0.2, -0.6]])
    >>> n2uq_weight_backward(np.ones_like(W), W, n_bits=2)[:, 0]   # 1 / s_c
    array([1.48148148, 1.33333333])
    """
    _, W, _, s = _weight_scale(W, n_bits, axis)
    grad_out = _as_real_array(grad_out, "grad_out")
    if grad_out.shape != W.shape:
        raise ValueError(
            f"grad_out has shape {grad_out.shape} but W has shape {W.shape}; they must match"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, grad_out / np.where(s > 0, s, 1.0), 0.0)
