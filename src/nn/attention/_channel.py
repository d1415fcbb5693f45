"""Channel-only branch of Polarized Self-Attention: one gate per channel, ``A_ch (N, C, 1, 1)``."""

from __future__ import annotations

import torch
from torch import nn

from ._common import ScaledLayerNorm, check_psa_config, check_psa_input, kaiming_fan_in_

__all__ = ["psa_channel_pool", "ChannelOnlyPSA"]


def psa_channel_pool(q, v):
    """Softmax-weighted sum of ``v`` over all pixels: the channel branch's context step.

    ``ctx[n, k] = sum_p softmax_p(q[n, 0, p]) * v[n, k, p]`` over the ``H*W`` pixels ``p``
    (the GCNet "attention pooling").

    Parameters
    ----------
    q : torch.Tensor, shape (N, 1, H, W)
        Query logits, one per pixel.
    v : torch.Tensor, shape (N, K, H, W)
        Values.

    Returns
    -------
    ctx : torch.Tensor, shape (N, K, 1, 1)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.attention import psa_channel_pool
    >>> q = torch.tensor([0.0, 0.0, 0.0, 0.0]).view(1, 1, 2, 2)
    >>> v = torch.arange(8.0).view(1, 2, 2, 2)
    >>> psa_channel_pool(q, v).flatten()
    tensor([1.5000, 5.5000])
    """
    n, k = v.shape[0], v.shape[1]
    weights = torch.softmax(q.reshape(n, 1, -1), dim=2)  # (N, 1, HW)
    ctx = torch.bmm(v.reshape(n, k, -1), weights.transpose(1, 2))  # (N, K, 1)
    return ctx.reshape(n, k, 1, 1)


class ChannelOnlyPSA(nn.Module):
    """Channel-only branch of PSA: ``A_ch = sigmoid(up(pool(W_q x, W_v x)))``, output ``A_ch * x``.

    ``W_q`` is a 1x1 conv ``C -> 1``, ``W_v`` a 1x1 conv ``C -> C/2`` and the pooling is
    :func:`psa_channel_pool`. The "up" transform depends on the variant (spec §1.2/§1.3):

    * ``"paper"``: 1x1 conv ``C/2 -> C``, then LayerNorm over the ``C`` values;
    * ``"official"``, ``layout="parallel"`` (``PSA_p``): one 1x1 conv ``C/2 -> C``, no bias,
      no LayerNorm;
    * ``"official"``, ``layout="sequential"`` (``PSA_s``): the GCNet bottleneck
      ``conv(C/2 -> C/8, bias) -> LayerNorm([C/8, 1, 1]) -> ReLU -> conv(C/8 -> C, bias)``.

    Parameters
    ----------
    channels : int
        ``C`` (at least 2).
    variant : {"paper", "official"}, default="paper"
    layout : {"sequential", "parallel"}, default="sequential"
        Only selects the official "up" transform; the paper branch is the same in both.
    inter_channels : int, optional
        Width of ``W_v``; default ``channels // 2``.
    bias : bool, default=False
        Biases on ``W_q``, ``W_v`` and ``W_z`` (paper variant only).

    Attributes
    ----------
    conv_q, conv_v : torch.nn.Conv2d
    conv_z : torch.nn.Conv2d or torch.nn.Sequential
    norm : torch.nn.LayerNorm or None
        The paper's LayerNorm over ``C`` (``None`` for the official variant).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.attention import ChannelOnlyPSA
    >>> _ = torch.manual_seed(0)
    >>> branch = ChannelOnlyPSA(8)
    >>> branch.extra_repr()
    "channels=8, inter_channels=4, variant='paper', layout='sequential', bias=False"
    >>> y, gate = branch(torch.randn(2, 8, 5, 5), return_attention=True)
    >>> y.shape, gate.shape
    (torch.Size([2, 8, 5, 5]), torch.Size([2, 8, 1, 1]))
    """

    def __init__(self, channels, variant="paper", layout="sequential", inter_channels=None,
                 bias=False):
        super().__init__()
        c, layout, variant, k, bias = check_psa_config(channels, layout, variant,
                                                       inter_channels, bias)
        self.channels, self.inter_channels = c, k
        self.variant, self.layout, self.bias = variant, layout, bias
        self.conv_q = nn.Conv2d(c, 1, 1, bias=bias)
        self.conv_v = nn.Conv2d(c, k, 1, bias=bias)
        self.norm = None
        if variant == "paper":
            self.conv_z = nn.Conv2d(k, c, 1, bias=bias)
            self.norm = ScaledLayerNorm(c)
        elif layout == "parallel":
            self.conv_z = nn.Conv2d(k, c, 1, bias=False)
        else:
            mid = k // 4
            self.conv_z = nn.Sequential(
                nn.Conv2d(k, mid, 1), ScaledLayerNorm([mid, 1, 1]), nn.ReLU(inplace=True),
                nn.Conv2d(mid, c, 1))
        self.reset_parameters()

    def reset_parameters(self):
        """Kaiming-normal (fan_in, relu) ``W_q``/``W_v``, PyTorch defaults for the rest."""
        kaiming_fan_in_(self.conv_q)
        kaiming_fan_in_(self.conv_v)
        for module in (*self.conv_z.modules(), self.norm):
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def extra_repr(self):
        return (f"channels={self.channels}, inter_channels={self.inter_channels}, "
                f"variant={self.variant!r}, layout={self.layout!r}, bias={self.bias}")

    def attention(self, x):
        """The gate ``A_ch`` of shape (N, C, 1, 1), values in (0, 1).

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.attention import ChannelOnlyPSA
        >>> ChannelOnlyPSA(4).attention(torch.zeros(1, 4, 3, 3)).flatten()
        tensor([0.5000, 0.5000, 0.5000, 0.5000], grad_fn=<ViewBackward0>)
        """
        check_psa_input(x, self.channels, self.conv_q.weight)
        z = self.conv_z(psa_channel_pool(self.conv_q(x), self.conv_v(x)))
        if self.norm is not None:
            z = self.norm(z.reshape(z.shape[0], self.channels)).reshape(z.shape)
        return torch.sigmoid(z)

    def forward(self, x, return_attention=False):
        """``A_ch(x) * x``; with ``return_attention=True`` also ``A_ch``."""
        gate = self.attention(x)
        y = gate * x
        return (y, gate) if return_attention else y
