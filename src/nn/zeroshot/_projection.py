"""Video and text projections into the joint space (ER-ZSAR steps 1 and 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils.validation import check_int, check_real
from .._checks import check_tensor
from ._pooling import masked_mean_pool

__all__ = ["VideoProjection", "TextProjection", "l2_normalize"]


def l2_normalize(x):
    """Rows scaled to unit Euclidean norm, safe for magnitudes near the float limits.

    Each row is first divided by the power of two at or above its largest magnitude (an exact
    scaling), so rows of size 1e±300 neither overflow nor underflow in the norm; then
    ``torch.nn.functional.normalize`` (eps 1e-12). A zero row stays zero.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import l2_normalize
    >>> l2_normalize(torch.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    >>> l2_normalize(torch.tensor([[3e300, 4e300]], dtype=torch.float64))
    tensor([[0.6000, 0.8000]], dtype=torch.float64)
    """
    _, exponent = torch.frexp(x.detach().abs().amax(dim=-1, keepdim=True))
    return F.normalize(torch.ldexp(x, -exponent), p=2.0, dim=-1)


class VideoProjection(nn.Module):
    """``Dropout -> Linear(video_dim -> embed_dim) -> L2 norm`` on precomputed video features.

    Parameters
    ----------
    video_dim : int
        Length of a video feature vector (2048 for TSM ResNet-50).
    embed_dim : int, default=512
        Joint-space dimension.
    dropout : float, default=0.0
        Dropout on the features (0.0 in the ER config, 0.5 in the plain VSE config).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import VideoProjection
    >>> v = VideoProjection(8, embed_dim=4)(torch.randn(3, 8))
    >>> torch.allclose(v.norm(dim=1), torch.ones(3))
    True
    """

    def __init__(self, video_dim, embed_dim=512, dropout=0.0):
        super().__init__()
        self.video_dim = check_int(video_dim, "video_dim", low=1)
        self.embed_dim = check_int(embed_dim, "embed_dim", low=1)
        self.dropout = nn.Dropout(check_real(dropout, "dropout", low=0.0, high=1.0))
        self.linear = nn.Linear(self.video_dim, self.embed_dim)

    def extra_repr(self):
        return f"video_dim={self.video_dim}, embed_dim={self.embed_dim}"

    def forward(self, video):
        check_tensor(video, "video")
        if video.dim() != 2 or video.shape[1] != self.video_dim:
            raise ValueError(f"video features must have shape (B, {self.video_dim}), "
                             f"got {tuple(video.shape)}")
        return l2_normalize(self.linear(self.dropout(video)))


class TextProjection(nn.Module):
    """``Dropout -> masked mean pool -> Linear(text_dim -> embed_dim) -> L2 norm``.

    The input is either pooled vectors (n, text_dim) or a pair ``(states, mask)`` with token
    states (n, L, text_dim) and a mask (n, L); the pair is mean-pooled over the valid tokens.

    Parameters
    ----------
    text_dim : int
        Width of the text encoder's output (768 for BERT-base, 384 for MiniLM).
    embed_dim : int, default=512
        Joint-space dimension.
    dropout : float, default=0.5
        Dropout on the token states (or pooled vectors).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import TextProjection
    >>> proj = TextProjection(6, embed_dim=4)
    >>> proj((torch.randn(2, 5, 6), torch.ones(2, 5))).shape
    torch.Size([2, 4])
    """

    def __init__(self, text_dim, embed_dim=512, dropout=0.5):
        super().__init__()
        self.text_dim = check_int(text_dim, "text_dim", low=1)
        self.embed_dim = check_int(embed_dim, "embed_dim", low=1)
        self.dropout = nn.Dropout(check_real(dropout, "dropout", low=0.0, high=1.0))
        self.linear = nn.Linear(self.text_dim, self.embed_dim)

    def extra_repr(self):
        return f"text_dim={self.text_dim}, embed_dim={self.embed_dim}"

    def forward(self, encoded):
        if isinstance(encoded, (tuple, list)):
            if len(encoded) != 2:
                raise ValueError("a text encoder's tuple output must be (states, mask), "
                                 f"got {len(encoded)} items")
            states, mask = encoded
            check_tensor(states, "token states")
            pooled = masked_mean_pool(self.dropout(states), mask)
        else:
            check_tensor(encoded, "text encoder output")
            if encoded.dim() != 2:
                raise ValueError("a text encoder must return (n, d) vectors or (states, mask), "
                                 f"got shape {tuple(encoded.shape)}")
            pooled = self.dropout(encoded)
        if pooled.shape[-1] != self.text_dim:
            raise ValueError(f"text features must have width text_dim={self.text_dim}, "
                             f"got {pooled.shape[-1]}")
        return l2_normalize(self.linear(pooled))
