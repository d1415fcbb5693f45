"""Polarized Self-Attention block (Liu et al., arXiv:2107.00782): both branches, both layouts."""

from __future__ import annotations

from torch import nn

from ..._utils.validation import check_choice
from ._channel import ChannelOnlyPSA
from ._common import LAYOUTS, check_psa_config, check_psa_input
from ._spatial import SpatialOnlyPSA

__all__ = ["polarized_self_attention", "PolarizedSelfAttention"]


def polarized_self_attention(x, channel, spatial, layout="sequential"):
    """Combine a channel-only and a spatial-only branch; returns ``(z, A_ch, A_sp)``.

    * ``"parallel"``: ``z = A_ch(x) * x + A_sp(x) * x``;
    * ``"sequential"``: ``y = A_ch(x) * x``, then ``z = A_sp(y) * y``.

    Parameters
    ----------
    x : torch.Tensor, shape (N, C, H, W)
    channel : ChannelOnlyPSA
    spatial : SpatialOnlyPSA
    layout : {"sequential", "parallel"}, default="sequential"

    Returns
    -------
    z : torch.Tensor, shape (N, C, H, W)
    a_ch : torch.Tensor, shape (N, C, 1, 1)
    a_sp : torch.Tensor, shape (N, 1, H, W)
        In the sequential layout, the gate computed on ``y``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.attention import (ChannelOnlyPSA, SpatialOnlyPSA,
    ...                                     polarized_self_attention)
    >>> x = torch.zeros(1, 4, 2, 2) + 2.0
    >>> z, a_ch, a_sp = polarized_self_attention(
    ...     x, ChannelOnlyPSA(4), SpatialOnlyPSA(4), layout="parallel")
    >>> torch.allclose(z, (a_ch + a_sp) * x)
    True
    """
    layout = check_choice(layout, "layout", LAYOUTS)
    a_ch = channel.attention(x)
    if layout == "parallel":
        a_sp = spatial.attention(x)
        return a_ch * x + a_sp * x, a_ch, a_sp
    y = a_ch * x
    a_sp = spatial.attention(y)
    return a_sp * y, a_ch, a_sp


class PolarizedSelfAttention(nn.Module):
    """Polarized Self-Attention: a channel gate and a pixel gate, no residual add inside.

    ``A_ch (N, C, 1, 1)`` keeps ``C/2`` channels and collapses the pixels with a softmax;
    ``A_sp (N, 1, H, W)`` keeps every pixel and collapses the channels; both end in a
    sigmoid. Cost is linear in ``H*W`` (no ``HW x HW`` matrix). The block is a drop-in
    ``(N, C, H, W) -> (N, C, H, W)`` module; :func:`insert_psa` places it in a ResNet.

    ``variant="paper"`` follows the paper (LayerNorm over ``C`` in the channel branch,
    softmax over the pooled query's channels in the spatial branch). ``variant="official"``
    reproduces the released ``PSA_p`` / ``PSA_s`` (no LayerNorm or a GCNet bottleneck; the
    spatial softmax over pixels, which keeps the ``PSA_p`` pixel gate in ``[0.5, 0.7311]``,
    near 0.5 for large maps). Parameters, at ``bias=False``: ``2 C^2 + 3 C`` for the paper
    variant (both layouts), ``2 C^2 + C`` for the official parallel block; 7,064 for the
    official sequential block at ``C = 64``.

    Compilation: ``torch.compile`` works (tested against eager); ``torch.jit.script`` does
    not (the input checks and the optional tuple output are plain Python).

    Parameters
    ----------
    channels : int
        ``C``, the channels of the input (at least 2; at least 8 for the official
        sequential block, whose bottleneck has ``C // 8`` channels).
    layout : {"sequential", "parallel"}, default="sequential"
        Sequential: the spatial branch sees the channel-gated tensor; parallel: the sum of the
        two gated tensors.
    variant : {"paper", "official"}, default="paper"
    inter_channels : int, optional
        Internal width, default ``channels // 2``.
    bias : bool, default=False
        Biases on the paper variant's 1x1 convs (``+ 5 C / 2 + 1`` parameters).

    Attributes
    ----------
    channel : ChannelOnlyPSA
    spatial : SpatialOnlyPSA

    See Also
    --------
    insert_psa : put one block in every residual block of a torchvision ResNet.

    Notes
    -----
    Not to be confused with PSANet's ``PSAMask`` (point-wise spatial attention) or with
    Pyramid Split Attention (EPSANet).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.attention import PolarizedSelfAttention
    >>> _ = torch.manual_seed(0)
    >>> psa = PolarizedSelfAttention(64)
    >>> sum(p.numel() for p in psa.parameters())
    8384
    >>> x = torch.randn(2, 64, 8, 6)
    >>> z, (a_ch, a_sp) = psa(x, return_attention=True)
    >>> z.shape, a_ch.shape, a_sp.shape
    (torch.Size([2, 64, 8, 6]), torch.Size([2, 64, 1, 1]), torch.Size([2, 1, 8, 6]))
    >>> sum(p.numel() for p in PolarizedSelfAttention(64, variant="official").parameters())
    7064
    """

    def __init__(self, channels, layout="sequential", variant="paper", inter_channels=None,
                 bias=False):
        super().__init__()
        c, layout, variant, k, bias = check_psa_config(channels, layout, variant,
                                                       inter_channels, bias)
        self.channels, self.layout, self.variant = c, layout, variant
        self.inter_channels, self.bias = k, bias
        self.channel = ChannelOnlyPSA(c, variant, layout, k, bias)
        self.spatial = SpatialOnlyPSA(c, variant, layout, k, bias)

    def reset_parameters(self):
        """The official initialisation (kaiming fan_in for queries and values)."""
        self.channel.reset_parameters()
        self.spatial.reset_parameters()

    def extra_repr(self):
        return (f"channels={self.channels}, layout={self.layout!r}, variant={self.variant!r}, "
                f"inter_channels={self.inter_channels}, bias={self.bias}")

    def forward(self, x, return_attention=False):
        """``PSA(x)``; with ``return_attention=True``, ``(PSA(x), (A_ch, A_sp))``."""
        check_psa_input(x, self.channels, self.channel.conv_q.weight)
        z, a_ch, a_sp = polarized_self_attention(x, self.channel, self.spatial, self.layout)
        return (z, (a_ch, a_sp)) if return_attention else z
