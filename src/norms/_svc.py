"""Singular value clipping (SVC) of a convolution kernel through its circular model (spec 2.8).

The kernel is seen as the circular, stride-1 convolution on the input grid: the FFT turns
it into one small channel matrix per frequency (Sedghi et al. 2019). Each is clipped,
``P = U S V^H -> U min(S, c) V^H``, the kernel rebuilt by the inverse FFT (real by Hermitian
symmetry) and cropped back to its original taps. Clipping bounds the circular operator by
``c``; the crop is not a projection, so the cropped kernel's norm can exceed ``c`` again:
``n_rounds`` repeats the two steps, and the exact circular norm after the last crop is
reported.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from .._utils.numeric import max_abs

__all__ = ["clip_singular_values"]


def _tap_offsets(k, dilation):
    return [tuple(a[t] * dilation[t] for t in range(len(k)))
            for a in itertools.product(*(range(kt) for kt in k))]


def _grid_kernel(w, grid, dilation):
    """Place the taps of ``w`` at their dilated offsets on the grid (no wrap: grid >= span)."""
    full = np.zeros(w.shape[:2] + tuple(grid))
    for a, off in zip(itertools.product(*(range(kt) for kt in w.shape[2:])),
                      _tap_offsets(w.shape[2:], dilation)):
        full[(slice(None), slice(None)) + off] = w[(slice(None), slice(None)) + a]
    return full


def _clip_grid_kernel(full, clip, groups, exp_in=0, exp_out=0):
    """Clip the singular values of the circular operator of a full-grid kernel.

    ``full`` is in units of ``2**exp_in``, ``clip`` in original units; the result is in units
    of ``2**exp_out``. Exponents are applied with ``ldexp`` (exact, no intermediate overflow),
    so the weight and the clip level may differ by any factor within the float64 range.
    """
    D = full.ndim - 2
    axes = tuple(range(2, 2 + D))
    grid = full.shape[2:]
    c_out, cin_g = full.shape[:2]
    spec = np.fft.rfftn(full, axes=axes)                      # (C_out, C_in/g, *freq)
    freq_shape = spec.shape[2:]
    blocks = np.moveaxis(spec, (0, 1), (-2, -1)).reshape((-1, groups, c_out // groups, cin_g))
    U, S, Vh = np.linalg.svd(blocks, full_matrices=False)
    with np.errstate(over="ignore", under="ignore"):
        kept = np.minimum(np.ldexp(S, exp_in - exp_out), np.ldexp(clip, -exp_out))
    blocks = np.matmul(U * kept[..., None, :], Vh)
    spec = np.moveaxis(blocks.reshape(freq_shape + (c_out, cin_g)), (-2, -1), (0, 1))
    return np.fft.irfftn(spec, s=grid, axes=axes)


def _crop(full, k, dilation):
    out = np.empty(full.shape[:2] + tuple(k))
    for a, off in zip(itertools.product(*(range(kt) for kt in k)), _tap_offsets(k, dilation)):
        out[(slice(None), slice(None)) + a] = full[(slice(None), slice(None)) + off]
    return out


def _circular_norm(w, grid, dilation, groups):
    from ._l2 import _circular_blocks, _top_singular_value
    from ._result import safe_scale, unscale

    D = w.ndim - 2
    scale = safe_scale(w)
    sigma = _top_singular_value(_circular_blocks(w / scale, grid, (1,) * D, dilation, (0,) * D,
                                                 groups))
    return unscale(sigma, scale, "the circular l2 norm of the clipped weight")


def _exponent(value):
    """``e`` with ``2**e`` the power of two nearest ``value`` (0 for zero or moderate values)."""
    from ._result import safe_scale

    return int(np.frexp(safe_scale(np.array([value])))[1]) - 1


def _svc_round(w, grid, dil, k, clip, groups):
    """One clip-and-crop round, computed on ``w`` brought near 1 (exact powers of two)."""
    e_in = _exponent(max_abs(w))
    e_out = min(e_in, _exponent(clip))  # clipped values are at most clip, the rest below
    full = _clip_grid_kernel(_grid_kernel(np.ldexp(w, -e_in), grid, dil), clip, groups,
                             e_in, e_out)
    return np.ldexp(_crop(full, k, dil), e_out)


def clip_singular_values(weight, input_shape, clip=1.0, n_rounds=1, *, dilation=1, groups=1,
                         return_norm=False):
    """Clip the singular values of a conv layer's circular model at ``clip`` (SVC).

    Parameters
    ----------
    weight : ndarray or torch.Tensor of shape (C_out, C_in/groups, *k)
        Conv weight (PyTorch layout, 1-D/2-D/3-D).
    input_shape : int or tuple of int
        Spatial input size (or a full ``(C, *spatial)`` shape): the grid of the circular
        model.
    clip : float, default=1.0
        Largest singular value allowed (> 0).
    n_rounds : int, default=1
        Clip-and-crop rounds.
    dilation : int or tuple of int, default=1
    groups : int, default=1
    return_norm : bool, default=False
        Also return the exact spectral norm of the returned kernel's circular layer (stride
        1, "same" padding, on ``input_shape``).

    Returns
    -------
    weight : same type, dtype and device as the input
    norm : float
        Only with ``return_norm=True``.

    Warns
    -----
    UserWarning
        If the input is smaller than the dilated kernel on some axis: the kernel cannot be
        cropped back from the grid, and the weight is returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms import clip_singular_values
    >>> w = np.zeros((1, 1, 3)); w[0, 0, 1] = 3.0          # 3 * identity
    >>> w2, norm = clip_singular_values(w, 8, clip=1.0, return_norm=True)
    >>> w2.round(12).tolist(), round(norm, 12)
    ([[[0.0, 1.0, 0.0]]], 1.0)
    """
    from .._utils.validation import check_allocation, check_bool, check_int, check_real
    from ._validation import _is_torch, normalize_conv_args

    clip = check_real(clip, "clip", low=0, low_inclusive=False)
    n_rounds = check_int(n_rounds, "n_rounds", low=1)
    return_norm = check_bool(return_norm, "return_norm")
    w, geom = normalize_conv_args(weight, input_shape, padding="same", dilation=dilation,
                                  groups=groups)
    grid, dil, k = geom.input_shape, geom.dilation, geom.kernel_size
    check_allocation(8 * geom.out_channels * geom.in_per_group * math.prod(grid), "input_shape",
                     what="the kernel on the input grid and its spectrum")
    if any(n < span for n, span in zip(grid, geom.effective_kernel_size)):
        warnings.warn(
            f"input {grid} is smaller than the dilated kernel {geom.effective_kernel_size}: "
            "singular value clipping skipped, weight returned unchanged", UserWarning,
            stacklevel=2)
        out = w
    else:
        out = w
        for _ in range(n_rounds):
            prev, out = out, _svc_round(out, grid, dil, k, clip, geom.groups)
            if np.array_equal(out, prev):  # a fixed point: further rounds change nothing
                break
    norm = _circular_norm(out, grid, dil, geom.groups)
    if _is_torch(weight):
        import torch

        result = torch.as_tensor(out, dtype=weight.dtype, device=weight.device)
    else:
        result = out.astype(np.asarray(weight).dtype if np.asarray(weight).dtype.kind == "f"
                            else np.float64)
    return (result, norm) if return_norm else result
