"""Gated fusion of the action and object streams and the clamped score rule (steps 5 and 7)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..._utils.validation import check_bool, check_int, check_real
from .._checks import check_tensor
from ._projection import l2_normalize

__all__ = ["GatedFusion", "gated_fusion", "zsar_scores", "ZSARScores"]


class ZSARScores(NamedTuple):
    """Cosine scores of a batch against K class texts, before the temperature.

    ``act`` (B, K) action-stream cosines, ``obj`` (B, K) object-stream cosines (``None``
    without objects), ``logits`` (B, K) the fused scores ``act + clamp(obj, 0)``
    (``act`` without objects), and the fused embeddings ``video_emb`` (B, E) and
    ``object_emb`` (B, E) (``None`` without objects) used by the ER loss.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import ZSARScores
    >>> ZSARScores(torch.zeros(1, 2), None, torch.zeros(1, 2), torch.ones(1, 3), None).logits
    tensor([[0., 0.]])
    """

    act: torch.Tensor
    obj: torch.Tensor | None
    logits: torch.Tensor
    video_emb: torch.Tensor
    object_emb: torch.Tensor | None


def _gate_mlp(embed_dim, dropout):
    return nn.Sequential(nn.Linear(2 * embed_dim, embed_dim), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(embed_dim, embed_dim), nn.Sigmoid())


def _check_pair(v, o):
    check_tensor(v, "video_emb")
    check_tensor(o, "object_emb")
    if v.dim() != 2 or v.shape != o.shape:
        raise ValueError("video_emb and object_emb must both have shape (B, E), got "
                         f"{tuple(v.shape)} and {tuple(o.shape)}")


def gated_fusion(video_emb, object_emb, action_gate, object_gate):
    """``v' = L2(g_a(u) * v)`` and ``o' = L2(g_o(u) * o)`` with ``u = concat(v, o)``.

    Parameters
    ----------
    video_emb, object_emb : torch.Tensor of shape (B, E)
        The L2-normalised action and object embeddings.
    action_gate, object_gate : callable
        Maps (B, 2E) to gates (B, E) in (0, 1).

    Returns
    -------
    (video_fused, object_fused) : tuple of torch.Tensor of shape (B, E)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import gated_fusion
    >>> half = lambda u: torch.full((u.shape[0], u.shape[1] // 2), 0.5)
    >>> v, o = gated_fusion(torch.tensor([[0.6, 0.8]]), torch.tensor([[1.0, 0.0]]), half, half)
    >>> v
    tensor([[0.6000, 0.8000]])
    """
    _check_pair(video_emb, object_emb)
    u = torch.cat([video_emb, object_emb], dim=1)
    return (l2_normalize(action_gate(u) * video_emb),
            l2_normalize(object_gate(u) * object_emb))


class GatedFusion(nn.Module):
    """Two separate gate MLPs ``sigmoid(Linear(Dropout(ReLU(Linear(2E -> E)))))`` (fusion type 3).

    Parameters
    ----------
    embed_dim : int
        Joint-space dimension E.
    dropout : float, default=0.5
        Dropout between the two linear layers of each gate.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import GatedFusion
    >>> v, o = GatedFusion(4)(torch.eye(4)[:2], torch.eye(4)[2:])
    >>> torch.allclose(v.norm(dim=1), torch.ones(2))
    True
    """

    def __init__(self, embed_dim, dropout=0.5):
        super().__init__()
        self.embed_dim = check_int(embed_dim, "embed_dim", low=1)
        dropout = check_real(dropout, "dropout", low=0.0, high=1.0)
        self.action_gate = _gate_mlp(self.embed_dim, dropout)
        self.object_gate = _gate_mlp(self.embed_dim, dropout)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}"

    def forward(self, video_emb, object_emb):
        return gated_fusion(video_emb, object_emb, self.action_gate, self.object_gate)


def zsar_scores(video_emb, class_emb, object_emb=None, clamp_object_logits=True):
    """Cosine scores ``act = v'·tᵀ``, ``obj = o'·tᵀ`` and ``logits = act + clamp(obj, min=0)``.

    Parameters
    ----------
    video_emb : torch.Tensor of shape (B, E)
        Fused, L2-normalised video embeddings ``v'``.
    class_emb : torch.Tensor of shape (K, E)
        L2-normalised class text embeddings ``t``.
    object_emb : torch.Tensor of shape (B, E) or None
        Fused object embeddings ``o'``; ``None`` without an objects stream.
    clamp_object_logits : bool, default=True
        Clamp the object cosines at 0 in the fused logits (``False``: ``act + obj``, as the
        official split-evaluation script does).

    Returns
    -------
    ZSARScores

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import zsar_scores
    >>> t = torch.eye(2)
    >>> s = zsar_scores(torch.tensor([[1.0, 0.0]]), t, torch.tensor([[-1.0, 0.0]]))
    >>> s.logits
    tensor([[1., 0.]])
    """
    check_tensor(video_emb, "video_emb")
    check_tensor(class_emb, "class_emb")
    check_bool(clamp_object_logits, "clamp_object_logits")
    if class_emb.dim() != 2 or video_emb.dim() != 2 or class_emb.shape[1] != video_emb.shape[1]:
        raise ValueError("video_emb (B, E) and class_emb (K, E) must share E, got "
                         f"{tuple(video_emb.shape)} and {tuple(class_emb.shape)}")
    act = video_emb @ class_emb.T
    if object_emb is None:
        return ZSARScores(act, None, act, video_emb, None)
    _check_pair(video_emb, object_emb)
    obj = object_emb @ class_emb.T
    fused = act + (obj.clamp(min=0) if clamp_object_logits else obj)
    return ZSARScores(act, obj, fused, video_emb, object_emb)
