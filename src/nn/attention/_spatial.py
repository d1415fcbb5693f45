"""Spatial-only branch of Polarized Self-Attention: one gate per pixel, ``A_sp (N, 1, H, W)``."""

from __future__ import annotations

import torch
from torch import nn

from ..._utils.validation import check_choice
from ._common import check_psa_config, check_psa_input, kaiming_fan_in_

__all__ = ["psa_spatial_pool", "SpatialOnlyPSA", "SPATIAL_SOFTMAX"]

#: Where the spatial branch puts its softmax: on the pooled query over channels (paper), on the
#: pixel logits over H*W (official ``PSA_p``), or on the values over H*W (official ``PSA_s``).
SPATIAL_SOFTMAX = ("query", "output", "value")


def psa_spatial_pool(q, v, softmax="query"):
    """Per-pixel logits of the spatial branch: pooled query times values, one softmax.

    With ``qbar[n, k] = mean_p q[n, k, p]`` over the ``H*W`` pixels ``p``:

    * ``"query"`` (paper): ``s[n, p] = sum_k softmax_k(qbar[n]) * v[n, k, p]``;
    * ``"output"`` (official ``PSA_p``): ``s[n] = softmax_p(sum_k qbar[n, k] * v[n, k, p])``;
    * ``"value"`` (official ``PSA_s``): ``s[n, p] = sum_k qbar[n, k] * softmax_p(v[n, k])[p]``.

    Parameters
    ----------
    q, v : torch.Tensor, shape (N, K, H, W)
        Query and value maps.
    softmax : {"query", "output", "value"}, default="query"

    Returns
    -------
    s : torch.Tensor, shape (N, 1, H, W)
        Logits; the branch's gate is ``sigmoid(s)``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.attention import psa_spatial_pool
    >>> q = torch.ones(1, 2, 1, 2)
    >>> v = torch.tensor([[1.0, 3.0], [5.0, 7.0]]).view(1, 2, 1, 2)
    >>> psa_spatial_pool(q, v).flatten()
    tensor([3., 5.])
    >>> psa_spatial_pool(q, v, softmax="value").flatten()
    tensor([0.2384, 1.7616])
    """
    check_choice(softmax, "softmax", SPATIAL_SOFTMAX)
    n, k, h, w = v.shape
    qbar = q.mean(dim=(2, 3)).reshape(n, 1, k)
    values = v.reshape(n, k, h * w)
    if softmax == "query":
        qbar = torch.softmax(qbar, dim=2)
    elif softmax == "value":
        values = torch.softmax(values, dim=2)
    if softmax == "output":
        return _softmax_of_product(qbar, values).reshape(n, 1, h, w)
    return torch.bmm(qbar, values).reshape(n, 1, h, w)


def _power_of_two_peak(t):
    """Per-sample power of two near ``max |t|`` (1 where the sample is zero), shape (N, 1, 1)."""
    peak = t.detach().abs().amax(dim=(1, 2), keepdim=True)
    ok = (peak > 0) & torch.isfinite(peak)
    safe = torch.where(ok, peak, torch.ones_like(peak))
    return torch.where(ok, torch.exp2(torch.floor(torch.log2(safe))), torch.ones_like(peak))


def _softmax_of_product(qbar, values):
    """``softmax_p(qbar @ values)`` without overflow of the product (quadratic in the input).

    Both factors are divided by powers of two (exact), the shifted logits ``s - max s <= 0``
    formed at that scale and multiplied back one factor at a time, so a product beyond the
    float range gives ``-inf`` (weight 0) and never ``inf - inf``.
    """
    a, b = _power_of_two_peak(qbar), _power_of_two_peak(values)
    s = torch.bmm(qbar / a, values / b)
    shifted = (s - s.detach().amax(dim=2, keepdim=True)) * a * b
    return torch.softmax(shifted, dim=2)


class SpatialOnlyPSA(nn.Module):
    """Spatial-only branch of PSA: ``A_sp = sigmoid(pool(W_q x, W_v x))``, output ``A_sp * x``.

    ``W_q`` and ``W_v`` are 1x1 convs ``C -> C/2``; the pooling is :func:`psa_spatial_pool`
    with the softmax of the variant: ``"query"`` for the paper, ``"output"`` for the official
    parallel block and ``"value"`` for the official sequential block (spec §1.3).

    Parameters
    ----------
    channels : int
        ``C`` (at least 2).
    variant : {"paper", "official"}, default="paper"
    layout : {"sequential", "parallel"}, default="sequential"
        Only selects the official softmax position.
    inter_channels : int, optional
        Width of ``W_q`` and ``W_v``; default ``channels // 2``.
    bias : bool, default=False
        Biases on ``W_q`` and ``W_v`` (paper variant only).

    Attributes
    ----------
    conv_q, conv_v : torch.nn.Conv2d
    softmax : str
        The softmax position used by :func:`psa_spatial_pool`.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.attention import SpatialOnlyPSA
    >>> _ = torch.manual_seed(0)
    >>> branch = SpatialOnlyPSA(8, variant="official", layout="parallel")
    >>> branch
    SpatialOnlyPSA(
      channels=8, inter_channels=4, variant='official', layout='parallel', softmax='output'
      (conv_q): Conv2d(8, 4, kernel_size=(1, 1), stride=(1, 1), bias=False)
      (conv_v): Conv2d(8, 4, kernel_size=(1, 1), stride=(1, 1), bias=False)
    )
    >>> gate = branch.attention(torch.randn(2, 8, 64, 64))
    >>> gate.shape, bool((gate - 0.5).abs().max() < 1e-3)
    (torch.Size([2, 1, 64, 64]), True)
    """

    def __init__(self, channels, variant="paper", layout="sequential", inter_channels=None,
                 bias=False):
        super().__init__()
        c, layout, variant, k, bias = check_psa_config(channels, layout, variant,
                                                       inter_channels, bias)
        self.channels, self.inter_channels = c, k
        self.variant, self.layout, self.bias = variant, layout, bias
        if variant == "paper":
            self.softmax = "query"
        else:
            self.softmax = "output" if layout == "parallel" else "value"
        self.conv_q = nn.Conv2d(c, k, 1, bias=bias)
        self.conv_v = nn.Conv2d(c, k, 1, bias=bias)
        self.reset_parameters()

    def reset_parameters(self):
        """Kaiming-normal (fan_in, relu) ``W_q`` and ``W_v``, zero biases."""
        kaiming_fan_in_(self.conv_q)
        kaiming_fan_in_(self.conv_v)

    def extra_repr(self):
        return (f"channels={self.channels}, inter_channels={self.inter_channels}, "
                f"variant={self.variant!r}, layout={self.layout!r}, softmax={self.softmax!r}")

    def attention(self, x):
        """The gate ``A_sp`` of shape (N, 1, H, W), values in (0, 1).

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.attention import SpatialOnlyPSA
        >>> SpatialOnlyPSA(4).attention(torch.zeros(1, 4, 1, 2)).flatten()
        tensor([0.5000, 0.5000], grad_fn=<ViewBackward0>)
        """
        check_psa_input(x, self.channels, self.conv_q.weight)
        return torch.sigmoid(psa_spatial_pool(self.conv_q(x), self.conv_v(x), self.softmax))

    def forward(self, x, return_attention=False):
        """``A_sp(x) * x``; with ``return_attention=True`` also ``A_sp``."""
        gate = self.attention(x)
        y = gate * x
        return (y, gate) if return_attention else y
