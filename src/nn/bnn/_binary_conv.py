"""Binary convolution: ``alpha_c * sign(W)`` weights with a clamp straight-through gradient."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils.validation import check_bool, check_choice, check_int
from .._checks import check_input_4d, check_tensor

__all__ = ["binary_weight", "BinaryConv2d"]


def _channel_mean_abs(w):
    """``mean |W_c|`` per output channel, computed at a per-channel scale so that weights near
    the float range (1e300 in float64) do not overflow the sum."""
    flat = w.detach().reshape(w.shape[0], -1).abs()
    peak = flat.amax(dim=1, keepdim=True)
    peak = torch.where(peak > 0, peak, torch.ones_like(peak))
    return (flat / peak).mean(dim=1) * peak.squeeze(1)


def binary_weight(w):
    """Binary weights ``W_b = alpha_c * sign(W)``, ``alpha_c = mean_{in,kh,kw} |W_c|`` (detached).

    Backward: the upstream gradient passes to ``W`` where ``|W| <= 1`` and is 0 elsewhere (the
    straight-through estimator of ``clamp(W, -1, 1)``; no ``alpha`` factor).

    Parameters
    ----------
    w : torch.Tensor of shape (C_out, ...)
        Latent real-valued weights (at least 1-D, non-empty).

    Returns
    -------
    w_b : torch.Tensor
        Same shape; every entry of output channel ``c`` is ``-alpha_c``, ``0`` (``w = 0``,
        ``torch.sign``) or ``alpha_c``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import binary_weight
    >>> binary_weight(torch.tensor([[0.5, -1.5], [0.1, 0.3]]))
    tensor([[ 1.0000, -1.0000],
            [ 0.2000,  0.2000]])
    """
    check_tensor(w, "w")
    if w.dim() < 1 or w.numel() == 0:
        raise ValueError(f"w must be a non-empty tensor of shape (C_out, ...), got shape "
                         f"{tuple(w.shape)}")
    alpha = _channel_mean_abs(w).view((-1,) + (1,) * (w.dim() - 1))
    clipped = w.clamp(-1.0, 1.0)
    return (alpha * torch.sign(w.detach())) + (clipped - clipped.detach())


class BinaryConv2d(nn.Conv2d):
    """2-D convolution with binary weights ``alpha_c * sign(W)`` (no bias).

    The activations are binarised by the module in front of it (:class:`RSign` in
    :class:`ReActBlock`); this module binarises only its weights, with :func:`binary_weight`.
    With ``binary_weights=False`` (step 1 of the two-step recipe) it is an ordinary
    convolution with real weights. The latent weights are the ``weight`` parameter either way,
    so the two settings share state dicts.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts, ``>= 1``.
    kernel_size : int
        Square kernel size, ``>= 1``.
    stride : int, default=1
    padding : int, default=0
    binary_weights : bool, default=True
        Binarise the weights in the forward pass.
    init : {"uniform", "kaiming"}, default="uniform"
        ``"uniform"``: ``W = U(0, 1) * 1e-3`` (all positive, as in the ReActNet code);
        ``"kaiming"``: PyTorch's default convolution initialisation.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import BinaryConv2d
    >>> _ = torch.manual_seed(0)
    >>> conv = BinaryConv2d(2, 3, 3, padding=1)
    >>> conv
    BinaryConv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False, binary_weights=True, init='uniform')
    >>> conv(torch.ones(1, 2, 4, 4)).shape
    torch.Size([1, 3, 4, 4])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 binary_weights=True, init="uniform"):
        in_channels = check_int(in_channels, "in_channels", low=1)
        out_channels = check_int(out_channels, "out_channels", low=1)
        kernel_size = check_int(kernel_size, "kernel_size", low=1)
        stride = check_int(stride, "stride", low=1)
        padding = check_int(padding, "padding", low=0)
        self.binary_weights = check_bool(binary_weights, "binary_weights")
        self.init = check_choice(init, "init", ("uniform", "kaiming"))
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         bias=False)

    def reset_parameters(self):
        if getattr(self, "init", "kaiming") == "uniform":
            with torch.no_grad():
                self.weight.uniform_(0.0, 1.0).mul_(1e-3)
        else:
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x):
        check_input_4d(x)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"input must have {self.in_channels} channels, got shape "
                             f"{tuple(x.shape)}")
        w = binary_weight(self.weight) if self.binary_weights else self.weight
        return F.conv2d(x, w.to(x.dtype), None, self.stride, self.padding)

    def extra_repr(self):
        return (f"{super().extra_repr()}, binary_weights={self.binary_weights}, "
                f"init={self.init!r}")
