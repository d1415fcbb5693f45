"""Quantized 2-D convolutions: an activation quantizer on the input, a weight quantizer."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ..._utils.validation import check_bool, check_int
from .._checks import check_input_4d
from ._lsq import LSQAct, LSQWeight
from ._n2uq_act import N2UQAct
from ._n2uq_weight import N2UQWeight
from ._pact import DoReFaWeight, PACTAct

__all__ = ["QuantConv2d", "N2UQConv2d", "LSQConv2d", "PACTConv2d"]


def _check_conv_args(in_channels, out_channels, kernel_size, stride, padding):
    check_int(in_channels, "in_channels", low=1)
    check_int(out_channels, "out_channels", low=1)
    for value, name, low in ((kernel_size, "kernel_size", 1), (stride, "stride", 1),
                             (padding, "padding", 0)):
        for v in (value if isinstance(value, (tuple, list)) else (value,)):
            check_int(v, name, low=low)


class QuantConv2d(nn.Conv2d):
    """``conv2d(act_quant(x), weight_quant(W))`` without bias (a subclass of ``nn.Conv2d``).

    The weight is stored in full precision under the usual name, so full-precision state dicts
    load into it; the quantizers are sub-modules ``act_quant`` and ``weight_quant``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or tuple of int
    stride : int or tuple of int, default=1
    padding : int or tuple of int, default=0
    act_quant : torch.nn.Module or None, default=None
        Applied to the input (``None``: the input is used as is).
    weight_quant : torch.nn.Module or None, default=None
        Applied to the weight (``None``: full-precision weights).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import QuantConv2d, N2UQAct, DoReFaWeight
    >>> conv = QuantConv2d(2, 4, 3, padding=1, act_quant=N2UQAct(2), weight_quant=DoReFaWeight(2))
    >>> conv(torch.rand(1, 2, 5, 5)).shape
    torch.Size([1, 4, 5, 5])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 act_quant=None, weight_quant=None):
        _check_conv_args(in_channels, out_channels, kernel_size, stride, padding)
        for module, name in ((act_quant, "act_quant"), (weight_quant, "weight_quant")):
            if module is not None and not isinstance(module, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module or None, got "
                                f"{type(module).__name__}")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         bias=False)
        self.act_quant = act_quant
        self.weight_quant = weight_quant

    def quantized_weight(self):
        """The weight after the weight quantizer (with gradient).

        Examples
        --------
        >>> from normgraph.nn.quant import N2UQConv2d
        >>> N2UQConv2d(1, 2, 1).quantized_weight().shape
        torch.Size([2, 1, 1, 1])
        """
        return self.weight if self.weight_quant is None else self.weight_quant(self.weight)

    def forward(self, x):
        check_input_4d(x)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"input has {x.shape[1]} channels, expected {self.in_channels}")
        if self.act_quant is not None:
            x = self.act_quant(x)
        return F.conv2d(x, self.quantized_weight(), None, self.stride, self.padding)


class N2UQConv2d(QuantConv2d):
    """N2UQ convolution: ``conv2d(N2UQAct(x), N2UQWeight(W))``, no bias.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, padding
        As in ``torch.nn.Conv2d``.
    n_bits : int, default=2
        Bit width of activations and weights, in [1, 8].
    quantize_act : bool, default=True
        Whether the input passes through an :class:`N2UQAct`.
    eps : float, default=1e-3
    grad_clip : float or None, default=None
        Passed to :class:`N2UQAct`.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import N2UQConv2d
    >>> conv = N2UQConv2d(3, 8, 3, stride=2, padding=1, n_bits=2)
    >>> conv(torch.rand(2, 3, 8, 8)).shape
    torch.Size([2, 8, 4, 4])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, n_bits=2,
                 quantize_act=True, eps=1e-3, grad_clip=None):
        act = N2UQAct(n_bits, eps, grad_clip) if check_bool(quantize_act, "quantize_act") else None
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, act,
                         N2UQWeight(n_bits))


class LSQConv2d(QuantConv2d):
    """LSQ convolution: ``conv2d(LSQAct(x), LSQWeight(W))``, no bias.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, padding
        As in ``torch.nn.Conv2d``.
    n_bits : int, default=2
        Bit width in [2, 8] (signed LSQ weights need 2 bits).
    quantize_act : bool, default=True
    signed_act : bool, default=False
        Signed activation range.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import LSQConv2d
    >>> LSQConv2d(3, 8, 3, padding=1)(torch.rand(2, 3, 8, 8)).shape
    torch.Size([2, 8, 8, 8])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, n_bits=2,
                 quantize_act=True, signed_act=False):
        weight = LSQWeight(n_bits)
        act = LSQAct(n_bits, signed_act) if check_bool(quantize_act, "quantize_act") else None
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, act, weight)


class PACTConv2d(QuantConv2d):
    """PACT convolution: ``conv2d(PACTAct(x), DoReFaWeight(W))``, no bias.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, padding
        As in ``torch.nn.Conv2d``.
    n_bits : int, default=2
        Bit width in [1, 8].
    quantize_act : bool, default=True
    alpha_init : float, default=10.0
    alpha_decay : float, default=1e-4

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import PACTConv2d
    >>> PACTConv2d(3, 8, 1)(torch.rand(2, 3, 4, 4)).shape
    torch.Size([2, 8, 4, 4])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, n_bits=2,
                 quantize_act=True, alpha_init=10.0, alpha_decay=1e-4):
        act = (PACTAct(n_bits, alpha_init, alpha_decay)
               if check_bool(quantize_act, "quantize_act") else None)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, act,
                         DoReFaWeight(n_bits))
