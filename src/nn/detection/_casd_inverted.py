"""The "inverted attention" masking of the refinement branches' RoI features (CASD code, §1.6)."""

from __future__ import annotations

import torch

from ..._utils.validation import check_int, check_real
from .._checks import check_tensor

__all__ = ["inverted_attention_mask"]


def _top_count(values, k):
    """Boolean mask of entries strictly above the value at descending sorted position k."""
    if k >= values.numel():
        return torch.ones_like(values, dtype=torch.bool)
    threshold = torch.sort(values, descending=True).values[k]
    return values > threshold


def inverted_attention_mask(attention, labels, drop, *, th_l=25, th_s=16, fg_drop_per=6.0,
                            bg_drop_per=18.0, generator=None):
    """Masks that zero ``th_s`` of the ``th_l`` most attended cells of the RoIs that lose most.

    For every RoI the candidate cells are those strictly above the value at descending sorted
    position ``th_l`` of its attention (Grad-CAM-like ``sum_ch F * mean(grad)``); ``th_s`` of them
    are zeroed uniformly at random (``th_s`` random cells among all if fewer candidates exist).
    The mask is kept only for the foreground RoIs whose ``drop`` is strictly above the value at
    sorted position ``round(n_fg / fg_drop_per)``, likewise for background with
    ``bg_drop_per``; every other RoI (ignored ones included) gets an all-ones mask.

    Parameters
    ----------
    attention : torch.Tensor of shape (R, h, w)
    labels : torch.Tensor of int64, shape (R,)
        Pseudo labels: 0 background, > 0 foreground, < 0 ignored.
    drop : torch.Tensor of shape (R,) or callable
        ``max(0, p_before(label) - p_after(label) - 0.02)`` per RoI, or a function that maps the
        candidate masks ``[R, h, w]`` (every RoI masked) to it.
    th_l, th_s : int, default=25, 16
    fg_drop_per, bg_drop_per : float, default=6, 18
        The masked fractions are 1 / these.
    generator : torch.Generator or None

    Returns
    -------
    mask : torch.Tensor of shape (R, h, w), 0/1, same dtype as ``attention``

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import inverted_attention_mask
    >>> att = torch.arange(49.).reshape(1, 7, 7)
    >>> m = inverted_attention_mask(att, torch.tensor([1]), torch.tensor([0.5]), fg_drop_per=1)
    >>> int((m == 0).sum()), bool(m.flatten()[:24].all())
    (16, True)
    """
    check_tensor(attention, "attention")
    if attention.dim() != 3:
        raise ValueError(f"attention must be [R, h, w], got shape {tuple(attention.shape)}")
    n, cells = attention.shape[0], attention.shape[1] * attention.shape[2]
    th_l = check_int(th_l, "th_l", low=1, high=cells)
    th_s = check_int(th_s, "th_s", low=0, high=cells)
    fg_per = check_real(fg_drop_per, "fg_drop_per", low=0, low_inclusive=False)
    bg_per = check_real(bg_drop_per, "bg_drop_per", low=0, low_inclusive=False)
    flat = attention.detach().reshape(n, cells)
    candidates = torch.ones_like(flat)
    for r in range(n):
        cand = torch.nonzero(_top_count(flat[r].cpu(), th_l)).ravel()
        if cand.numel() < th_s:
            cand = torch.arange(cells)
        pick = cand[torch.randperm(cand.numel(), generator=generator)[:th_s]]
        candidates[r, pick.to(flat.device)] = 0
    candidates = candidates.reshape(attention.shape)
    if callable(drop):
        drop = drop(candidates)
    if labels.shape != (n,) or drop.shape != (n,):
        raise ValueError(f"labels and drop must have shape [{n}]")
    chosen = torch.zeros(n, dtype=torch.bool)
    for group, per in ((labels.cpu() > 0, fg_per), (labels.cpu() == 0, bg_per)):
        idx = torch.nonzero(group).ravel()
        if idx.numel():
            k = int(round(idx.numel() / per))
            chosen[idx[_top_count(drop.detach().cpu()[idx], k)]] = True
    mask = torch.ones_like(candidates)
    mask[chosen.to(mask.device)] = candidates[chosen.to(mask.device)]
    return mask.reshape(attention.shape)
