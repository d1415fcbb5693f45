"""CASD's attention maps and the input-wise (IW) / layer-wise (LW) distillation losses (§1.7)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..._utils.validation import check_choice
from .._checks import check_tensor

__all__ = ["attention_map", "flip_attention", "iw_loss", "lw_loss"]


def attention_map(features, *, norm="minmax_sigmoid", eps=1e-7):
    """Spatial attention of RoI features ``[R, Ch, h, w]`` -> ``[R, h, w]``.

    ``m`` = channel mean; ``"minmax"``: ``(m - min m) / (max m - min m + eps)`` per RoI;
    ``"minmax_sigmoid"`` (the CASD code) applies a sigmoid on top, so the map lies in
    ``[0.5, 0.7311]``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import attention_map
    >>> attention_map(torch.ones(1, 3, 2, 2))
    tensor([[[0.5000, 0.5000],
             [0.5000, 0.5000]]])
    """
    check_tensor(features, "features")
    norm = check_choice(norm, "norm", ("minmax", "minmax_sigmoid"))
    if features.dim() != 4:
        raise ValueError(f"features must be [R, Ch, h, w], got shape {tuple(features.shape)}")
    m = features.mean(dim=1)
    flat = m.flatten(1)
    lo = flat.min(dim=1).values[:, None, None]
    hi = flat.max(dim=1).values[:, None, None]
    a = (m - lo) / (hi - lo + eps)
    return torch.sigmoid(a) if norm == "minmax_sigmoid" else a


def flip_attention(maps):
    """Reverse the width axis of ``[N, H, W]`` maps (RoI maps of a flipped image are mirrored).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import flip_attention
    >>> flip_attention(torch.tensor([[[1., 2, 3]]]))
    tensor([[[3., 2., 1.]]])
    """
    check_tensor(maps, "maps")
    if maps.dim() != 3:
        raise ValueError(f"flip needs maps of shape [N, H, W], got {tuple(maps.shape)}")
    return torch.flip(maps, dims=(2,))


def _check_maps(maps, name, what):
    if not isinstance(maps, (list, tuple)) or len(maps) < 1:
        raise TypeError(f"{name} must be a non-empty list of [R, h, w] tensors")
    for i, m in enumerate(maps):
        check_tensor(m, f"{name}[{i}]")
        if m.dim() != 3:
            raise ValueError(f"{name}[{i}] must be [R, h, w], got {tuple(m.shape)}")
    if any(m.shape[0] != maps[0].shape[0] for m in maps):
        raise ValueError(f"all views must share the same proposals: {name} have "
                         f"{[m.shape[0] for m in maps]} RoIs")
    if any(m.shape[1:] != maps[0].shape[1:] for m in maps):
        raise ValueError(f"{name} have different spatial sizes {[tuple(m.shape[1:]) for m in maps]}"
                         f"; {what} must be pooled to a common grid first")


def iw_loss(maps, flipped=(False, True, False, True)):
    """Input-wise self-distillation: every view's map regressed onto the detached max over views.

    ``A_v`` is aligned to the unflipped frame (width-flipped when ``flipped[v]``), the teacher is
    ``max_v`` of the aligned maps with the gradient stopped, and the loss is
    ``sum_v MSE(A_v, align_v(teacher))`` (mean over RoIs x cells).

    Parameters
    ----------
    maps : list of torch.Tensor of shape (R, h, w)
        One map per view, the same R proposals in every view.
    flipped : tuple of bool
        Which views come from the horizontally flipped image.

    Returns
    -------
    loss : torch.Tensor (scalar)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import iw_loss, flip_attention
    >>> a = torch.rand(2, 7, 7)
    >>> iw_loss([a, flip_attention(a), a, flip_attention(a)])
    tensor(0.)
    """
    _check_maps(maps, "maps", "views")
    if len(flipped) != len(maps):
        raise ValueError(f"flipped must have one flag per view ({len(maps)}), got {len(flipped)}")
    aligned = [flip_attention(m) if f else m for m, f in zip(maps, flipped)]
    teacher = torch.stack(aligned).max(dim=0).values.detach()
    return sum(F.mse_loss(m, flip_attention(teacher) if f else teacher)
               for m, f in zip(maps, flipped))


def lw_loss(maps):
    """Layer-wise self-distillation: each layer's map regressed onto the detached max over layers.

    Parameters
    ----------
    maps : list of torch.Tensor of shape (R, h, w)
        One map per layer, RoI-pooled to a common grid.

    Returns
    -------
    loss : torch.Tensor (scalar), ``sum_l MSE(A_l, max_l A_l)``

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import lw_loss
    >>> lw_loss([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])
    tensor(1.)
    """
    _check_maps(maps, "maps", "layers")
    teacher = torch.stack(list(maps)).max(dim=0).values.detach()
    return sum(F.mse_loss(m, teacher) for m in maps)
