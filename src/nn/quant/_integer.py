"""Integer inference of a quantized convolution: integer codes, integer accumulation.

With activation codes ``c_x`` (``x_q = s_x * c_x``) and weight codes ``c_w`` (``W_q[o] = s_w[o] *
c_w[o]``) the quantized convolution is ``y[o] = (s_x * s_w[o]) * sum c_x * c_w[o]``: one float
rescale per output channel after an exact integer accumulation. N2UQ makes this possible for
learned *nonuniform* thresholds because its outputs are uniform.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_input_4d
from ._conv import QuantConv2d

__all__ = ["IntegerConv2d", "to_integer", "integer_conv2d"]


def integer_conv2d(codes, weight_codes, stride=1, padding=0):
    """2-D convolution of integer tensors with int64 accumulation (no float arithmetic).

    Parameters
    ----------
    codes : torch.Tensor of integer dtype, shape (N, C, H, W)
    weight_codes : torch.Tensor of integer dtype, shape (O, C, kh, kw)
    stride, padding : int or pair of int, default 1 and 0
        Zero padding (code 0).

    Returns
    -------
    acc : torch.Tensor of int64, shape (N, O, H_out, W_out)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import integer_conv2d
    >>> x = torch.arange(9).reshape(1, 1, 3, 3)
    >>> integer_conv2d(x, torch.ones(1, 1, 2, 2, dtype=torch.long))
    tensor([[[[ 8, 12],
              [20, 24]]]])
    """
    for t, name in ((codes, "codes"), (weight_codes, "weight_codes")):
        if not isinstance(t, torch.Tensor) or t.is_floating_point() or t.is_complex():
            raise TypeError(f"{name} must be an integer torch.Tensor")
        if t.dim() != 4:
            raise ValueError(f"{name} must be 4-D, got shape {tuple(t.shape)}")
    if codes.shape[1] != weight_codes.shape[1]:
        raise ValueError(f"codes have {codes.shape[1]} channels but weight_codes expect "
                         f"{weight_codes.shape[1]}")
    sh, sw = (stride, stride) if isinstance(stride, int) else tuple(stride)
    ph, pw = (padding, padding) if isinstance(padding, int) else tuple(padding)
    kh, kw = weight_codes.shape[2:]
    x = F.pad(codes.long(), (pw, pw, ph, ph))
    patches = x.unfold(2, kh, sh).unfold(3, kw, sw)  # (N, C, OH, OW, kh, kw), a view
    n, c, oh, ow = patches.shape[:4]
    cols = patches.permute(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    w = weight_codes.long().reshape(weight_codes.shape[0], -1)
    if cols.is_cuda:  # no integer GEMM on CUDA: float64 sums of integers are exact below 2**53
        acc = torch.round(cols.double() @ w.double().T).long()
    else:
        acc = cols @ w.T
    return acc.reshape(n, oh, ow, -1).permute(0, 3, 1, 2)


class IntegerConv2d(nn.Module):
    """A quantized convolution run on integer codes (built by :func:`to_integer`).

    Buffers: ``weight_codes`` (int32, shape (O, C, kh, kw)) and ``rescale`` (float64, shape (O,),
    ``s_x * s_w[o]``). The activation quantizer (a frozen copy) turns the float input into
    integer codes; the accumulation is int64; one float multiply per output channel follows.

    Parameters
    ----------
    act_quant : torch.nn.Module
        A frozen activation quantizer with ``integer_codes(x)`` and ``code_scale()``.
    weight_codes : torch.Tensor of integer dtype
    weight_scale : torch.Tensor of shape (O,)
    stride, padding : tuple of int

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import N2UQConv2d, to_integer
    >>> conv = N2UQConv2d(3, 4, 3, padding=1)
    >>> int_conv = to_integer(conv)
    >>> x = torch.rand(1, 3, 5, 5) * 2
    >>> torch.allclose(int_conv(x), conv(x), rtol=1e-5, atol=1e-6)
    True
    """

    def __init__(self, act_quant, weight_codes, weight_scale, stride=(1, 1), padding=(0, 0)):
        super().__init__()
        self.act_quant = act_quant
        self.stride = tuple(stride)
        self.padding = tuple(padding)
        self.register_buffer("weight_codes", weight_codes.to(torch.int32))
        self.register_buffer("rescale", act_quant.code_scale().double().cpu() *
                             weight_scale.double().cpu())

    def forward(self, x):
        check_input_4d(x)
        if not bool(torch.isfinite(x).all()):
            raise ValueError("input contains NaN or infinity, which have no integer code")
        codes = self.act_quant.integer_codes(x)
        acc = integer_conv2d(codes, self.weight_codes.to(x.device), self.stride, self.padding)
        return acc.to(x.dtype) * self.rescale.to(x.device, x.dtype).view(1, -1, 1, 1)

    def extra_repr(self):
        o, c, kh, kw = self.weight_codes.shape
        return f"{c}, {o}, kernel_size=({kh}, {kw}), stride={self.stride}, padding={self.padding}"


@torch.no_grad()
def to_integer(conv):
    """Convert a trained :class:`QuantConv2d` to an :class:`IntegerConv2d`.

    Works for every method here (N2UQ, LSQ, PACT/DoReFa): each activation quantizer has a
    single code scale and each weight quantizer a per-channel one, so the output equals the
    fake-quantized float forward up to float rounding.

    Parameters
    ----------
    conv : QuantConv2d
        With both an activation and a weight quantizer.

    Returns
    -------
    int_conv : IntegerConv2d

    Raises
    ------
    TypeError
        If ``conv`` is not a :class:`QuantConv2d`.
    ValueError
        If it lacks an activation or weight quantizer, or they cannot produce integer codes.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import LSQConv2d, to_integer
    >>> conv = LSQConv2d(2, 3, 3, stride=2)
    >>> x = torch.rand(1, 2, 7, 7)
    >>> y = conv(x)                       # the first call initialises the LSQ steps
    >>> set(to_integer(conv).weight_codes.unique().tolist()) <= {-2, -1, 0, 1}   # signed 2-bit
    True
    """
    if not isinstance(conv, QuantConv2d):
        raise TypeError(f"conv must be a QuantConv2d, got {type(conv).__name__}")
    act, wq = conv.act_quant, conv.weight_quant
    if act is None or wq is None:
        raise ValueError("conv must quantize both its input and its weight to run on integers "
                         f"(act_quant={type(act).__name__}, weight_quant={type(wq).__name__})")
    for module, needed in ((act, ("integer_codes", "code_scale")), (wq, ("integer_codes",))):
        if not all(hasattr(module, n) for n in needed):
            raise ValueError(f"{type(module).__name__} has no integer codes")
    act = copy.deepcopy(act).eval().requires_grad_(False)
    codes, scale = wq.integer_codes(conv.weight)
    return IntegerConv2d(act, codes, scale, conv.stride, conv.padding)
