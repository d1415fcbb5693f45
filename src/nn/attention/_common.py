"""Checks and small numerical pieces shared by the PSA modules (not public)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils.validation import check_bool, check_choice, check_int
from .._checks import check_tensor

__all__ = ["LAYOUTS", "VARIANTS", "check_psa_config", "check_psa_input", "scaled_layer_norm",
           "kaiming_fan_in_", "ScaledLayerNorm"]

#: Ways of combining the two branches (spec §1.2).
LAYOUTS = ("sequential", "parallel")
#: ``"paper"`` (arXiv:2107.00782) or ``"official"`` (the released ``PSA.py``; spec §1.3).
VARIANTS = ("paper", "official")

# Above this magnitude a LayerNorm input is divided by a power of two first: LayerNorm is
# scale invariant, and squares of float32 values beyond 2**64 overflow. eps is negligible there.
# The input is brought to a peak near 2**32, where eps (1e-5) is far below the variance.
_LN_RESCALE_EXPONENT = 32
_LN_RESCALE_ABOVE = 2.0**_LN_RESCALE_EXPONENT


def check_psa_config(channels, layout, variant, inter_channels, bias):
    """Validated ``(channels, layout, variant, inter_channels, bias)`` of a PSA block.

    Examples
    --------
    >>> from normgraph.nn.attention._common import check_psa_config
    >>> check_psa_config(64, "parallel", "paper", None, False)
    (64, 'parallel', 'paper', 32, False)
    >>> check_psa_config(4, "sequential", "official", None, False)
    Traceback (most recent call last):
    ...
    ValueError: official sequential variant needs channels >= 8, got channels=4
    """
    channels = check_int(channels, "channels", low=2)
    layout = check_choice(layout, "layout", LAYOUTS)
    variant = check_choice(variant, "variant", VARIANTS)
    if inter_channels is None:
        inter_channels = channels // 2
    inter_channels = check_int(inter_channels, "inter_channels", low=1)
    bias = check_bool(bias, "bias")
    if variant == "official":
        if bias:
            raise ValueError("bias=True is only for variant='paper'; the official variant "
                             "fixes its biases as the released code does")
        if layout == "sequential" and inter_channels // 4 == 0:
            if inter_channels == channels // 2:
                raise ValueError("official sequential variant needs channels >= 8, "
                                 f"got channels={channels}")
            raise ValueError("official sequential variant needs inter_channels >= 4, "
                             f"got inter_channels={inter_channels}")
    return channels, layout, variant, inter_channels, bias


def check_psa_input(x, channels, weight=None):
    """``x`` as a floating (N, C, H, W) tensor with ``C == channels`` and ``H*W > 0``.

    With ``weight`` (a parameter of the block), ``x`` must also share its dtype
    (``TypeError``) and device (``ValueError``).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.attention._common import check_psa_input
    >>> check_psa_input(torch.ones(2, 3), 3)
    Traceback (most recent call last):
    ...
    ValueError: PSA expects (N, C, H, W), got shape (2, 3)
    """
    check_tensor(x, "x")
    if x.dim() != 4:
        raise ValueError(f"PSA expects (N, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise ValueError(f"x has {x.shape[1]} channels, but the block was built for "
                         f"channels={channels}")
    if x.shape[2] * x.shape[3] == 0:
        raise ValueError(f"x must have H*W > 0, got shape {tuple(x.shape)}")
    if weight is not None:
        if x.dtype != weight.dtype:
            raise TypeError(f"x has dtype {x.dtype}, but the block's parameters are "
                            f"{weight.dtype}; convert one with .to()")
        if x.device != weight.device:
            raise ValueError(f"x is on {x.device}, but the block's parameters are on "
                             f"{weight.device}; move one with .to()")
    return x


def scaled_layer_norm(z, normalized_shape, weight, bias, eps=1e-5):
    """``F.layer_norm`` over the trailing dims, exact for inputs beyond the squaring range.

    Each sample whose largest magnitude exceeds ``2**32`` is first divided by a power of two
    (exact) that brings it near ``2**32``, so the variance cannot overflow to ``inf`` (float32
    squares overflow beyond ``2**64``); LayerNorm is scale invariant and ``eps`` stays
    negligible against a variance near ``2**64``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.attention._common import scaled_layer_norm
    >>> z = torch.tensor([[1.0, 3.0]])
    >>> scaled_layer_norm(z * 1e30, (2,), None, None).round(decimals=4).tolist()
    [[-1.0, 1.0]]
    """
    dims = tuple(range(z.dim() - len(normalized_shape), z.dim()))
    peak = z.detach().abs().amax(dim=dims, keepdim=True)
    big = peak > _LN_RESCALE_ABOVE
    if bool(big.any()):
        exponent = torch.floor(torch.log2(peak)) - _LN_RESCALE_EXPONENT
        scale = torch.where(big, torch.exp2(exponent), torch.ones_like(peak))
        z = z / scale
    return F.layer_norm(z, normalized_shape, weight, bias, eps)


class ScaledLayerNorm(nn.LayerNorm):
    """:class:`torch.nn.LayerNorm` (same parameters and state-dict keys) computed with
    :func:`scaled_layer_norm`, so inputs near the float range are normalised exactly.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.attention._common import ScaledLayerNorm
    >>> norm = ScaledLayerNorm(2).double()
    >>> norm(torch.tensor([[1e300, 3e300]], dtype=torch.float64)).tolist()
    [[-1.0, 1.0]]
    """

    def forward(self, z):
        return scaled_layer_norm(z, self.normalized_shape, self.weight, self.bias, self.eps)


def kaiming_fan_in_(conv):
    """The released code's init of a query/value conv: ``kaiming_normal_`` (fan_in, relu),
    zero bias. Returns ``conv``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from normgraph.nn.attention._common import kaiming_fan_in_
    >>> _ = torch.manual_seed(0)
    >>> conv = kaiming_fan_in_(nn.Conv2d(512, 256, 1, bias=False))
    >>> round(float(conv.weight.detach().std()) * (512 / 2) ** 0.5, 1)
    1.0
    """
    nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv
