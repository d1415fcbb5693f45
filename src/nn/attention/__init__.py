"""Attention blocks for convolutional networks (torch).

Table of contents (one file per operation; a functional form beside each module):

``_channel.py``
    :class:`ChannelOnlyPSA` / :func:`psa_channel_pool`: Polarized Self-Attention's channel
    gate ``A_ch (N, C, 1, 1)`` (softmax-weighted pooling over the pixels).
``_spatial.py``
    :class:`SpatialOnlyPSA` / :func:`psa_spatial_pool`: its pixel gate ``A_sp (N, 1, H, W)``
    (pooled query over channels; the paper's or the released code's softmax position).
``_psa.py``
    :class:`PolarizedSelfAttention` / :func:`polarized_self_attention`: both branches in the
    sequential or parallel layout, ``variant="paper"`` or ``"official"`` (arXiv:2107.00782).
``_insert.py``
    :func:`insert_psa`, :class:`PSABasicBlock`, :class:`PSABottleneck`: PSA inside the
    residual blocks of a torchvision ResNet.
``_common.py``
    Shared checks (configuration, input shape) and the scale-safe LayerNorm.
"""

from ._channel import ChannelOnlyPSA, psa_channel_pool
from ._insert import PSABasicBlock, PSABottleneck, insert_psa
from ._psa import PolarizedSelfAttention, polarized_self_attention
from ._spatial import SpatialOnlyPSA, psa_spatial_pool

__all__ = [
    "PolarizedSelfAttention",
    "polarized_self_attention",
    "ChannelOnlyPSA",
    "psa_channel_pool",
    "SpatialOnlyPSA",
    "psa_spatial_pool",
    "insert_psa",
    "PSABasicBlock",
    "PSABottleneck",
]
