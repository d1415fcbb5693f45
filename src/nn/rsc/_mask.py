"""``rsc_mask``: the Representation Self-Challenging mask of one batch (a pure function)."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..._utils.numeric import power_of_two_scale
from ..._utils.validation import check_bool, check_choice, check_real
from ._scores import _scores, check_features, check_targets
from ._select import SELECTIONS, drop_count, select_samples, select_units

__all__ = ["rsc_mask", "RSCDetails", "MODES"]

MODES = ("random", "spatial", "channel", "vector")


class RSCDetails(NamedTuple):
    """What :func:`rsc_mask` decided (``return_details=True``); every tensor detached.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.rsc import rsc_mask
    >>> fc = torch.nn.Linear(6, 2)
    >>> _, d = rsc_mask(torch.randn(4, 6), fc, torch.tensor([0, 1, 0, 1]), mode="vector",
    ...                 return_details=True)
    >>> d.mode, tuple(d.dropped.sum(1).tolist())                  # ceil(6 / 3) = 2 entries
    ('vector', (2, 2, 2, 2))
    """

    mask: torch.Tensor
    """The mask (same as the first return value)."""
    mode: str
    """``"spatial"``, ``"channel"`` or ``"vector"`` (the draw of ``mode="random"``)."""
    scores: torch.Tensor
    """(N, n_units) scores that were ranked (spatial: the CAM, flattened)."""
    dropped: torch.Tensor
    """(N, n_units) bool: the units muted before the batch selection."""
    change: torch.Tensor
    """(N,) confidence drop ``p_before - p_after - eps`` (clamped at 0 under ``clamp``)."""
    challenged: torch.Tensor
    """(N,) bool: the samples whose mask is not all ones."""


def _fraction(value, name):
    return check_real(value, name, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)


def _check_params(mode, feature_drop, channel_drop, batch_drop, rng, eps, clamp, selection,
                  drop_rounding):
    check_choice(mode, "mode", MODES)
    _fraction(feature_drop, "feature_drop")
    if channel_drop is not None:
        _fraction(channel_drop, "channel_drop")
    _fraction(batch_drop, "batch_drop")
    if rng is not None and not isinstance(rng, torch.Generator):
        raise TypeError(f"rng must be a torch.Generator or None, got {type(rng).__name__}")
    check_real(eps, "eps", low=0.0)
    check_bool(clamp, "clamp")
    check_choice(selection, "selection", SELECTIONS)
    check_choice(drop_rounding, "drop_rounding", ("ceil", "floor"))


def _draw_mode(rng):
    """The official per-batch draw: ``randint(0, 9) <= 4`` is spatial (probability 1/2)."""
    return "spatial" if int(torch.randint(0, 10, (1,), generator=rng)) <= 4 else "channel"


def _unit_scores(features, scores, mode):
    """(N, n_units) ranking scores. Spatial scores are formed from features divided by a
    power of two (exact), in float64, so that data near the float limits cannot overflow."""
    if mode != "spatial":
        return scores.channel
    f = features.detach().to(torch.float64)
    f = f * (1.0 / power_of_two_scale(float(f.abs().max())))
    cam = (f * scores.channel.to(torch.float64)[:, :, None, None]).sum(dim=1)
    return cam.flatten(1)


def _expand(keep, features, mode):
    n = features.shape[0]
    if mode == "spatial":
        return keep.view(n, 1, *features.shape[2:])
    if mode == "channel":
        return keep.view(n, features.shape[1], 1, 1)
    return keep.view(n, -1)


def _truth_prob(logits, targets):
    return F.softmax(logits, dim=1).gather(1, targets.view(-1, 1)).squeeze(1)


def rsc_mask(features, logits_fn, targets, *, mode="random", feature_drop=1 / 3,
             channel_drop=None, batch_drop=1 / 3, rng=None, eps=1e-4, clamp=True,
             selection="strict_topk", drop_rounding="ceil", return_details=False):
    """Representation Self-Challenging mask of a batch of features (arXiv:2007.02454).

    1. Scores (:func:`rsc_scores`): the gradient ``G`` of the ground-truth logits with respect
       to a detached copy of the features; channel score = spatial mean of ``G``, spatial score
       = ``sum_c F * channel score`` (CAM / HW); vector score = ``G``.
    2. Per sample, mute the ``k = ceil(n_units * fraction)`` (or ``floor``) top-scored units:
       positions (spatial, mask (N, 1, H, W) shared over channels), channels (channel, mask
       (N, C, 1, 1); fraction ``channel_drop``, or ``feature_drop`` when None) or vector
       entries (vector, (N, D)). ``mode="random"`` draws spatial or channel once per batch.
    3. Confidence drop ``change = p(y | F) - p(y | F * mask) - eps`` (negatives set to 0 under
       ``clamp``); only ``round(N * batch_drop)`` samples with the largest drop keep their
       mask, every other sample gets all ones.

    The mask is a constant (no autograd graph); multiply the *undetached* features by it and
    train on ``head(features * mask)``. Nothing here touches parameters' ``.grad``, and the
    backbone is not recomputed (BatchNorm statistics are not updated a second time).

    Parameters
    ----------
    features : torch.Tensor of shape (N, C, H, W), or (N, D) in mode "vector"
        Floating, finite. Any H and W (non-square maps work).
    logits_fn : callable
        The head: features -> (N, K) logits. Put a head with BatchNorm or dropout in eval mode
        (as :class:`RSCHead` does).
    targets : torch.Tensor of shape (N,), dtype int64
        Ground-truth labels in [0, K).
    mode : {"random", "spatial", "channel", "vector"}, default="random"
    feature_drop : float in (0, 1), default=1/3
        Fraction of positions (spatial), entries (vector) and, when ``channel_drop`` is None,
        channels (channel) muted per sample.
    channel_drop : float in (0, 1) or None, default=None
        Fraction of channels in channel mode (the official code: 1/3.2, i.e. 160 of 512).
    batch_drop : float in (0, 1), default=1/3
        Fraction of the batch challenged.
    rng : torch.Generator or None, default=None
        Source of the mode draw (and of the "random_above_median" draw); None uses torch's
        global generator.
    eps : float >= 0, default=1e-4
        Subtracted from the confidence drop.
    clamp : bool, default=True
        Set negative confidence drops to 0: a sample whose confidence does not drop is never
        challenged.
    selection : str, default="strict_topk"
        One of "strict_topk", "threshold", "percentile", "random_above_median".
        ``"strict_topk"``: exactly the top ``k`` units / ``round(N * batch_drop)`` samples, ties
        broken by the lower index. ``"threshold"`` (official): strictly above the value at
        index ``k`` of the descending sort, so tied scores can mute fewer (all equal: none).
        ``"percentile"`` (DomainBed): at least ``np.percentile(row, (1 - fraction) * 100)``.
        ``"random_above_median"`` (ImageNet code): ``k`` units drawn at random above the median;
        samples as ``"threshold"``.
    drop_rounding : {"ceil", "floor"}, default="ceil"
        How ``n_units * fraction`` becomes a count.
    return_details : bool, default=False
        Also return an :class:`RSCDetails`.

    Returns
    -------
    mask : torch.Tensor
        Of shape (N, 1, H, W), (N, C, 1, 1) or (N, D), features' dtype and device, 0/1 values.
    details : RSCDetails
        Only with ``return_details=True``.

    Raises
    ------
    TypeError
        For a non-tensor or non-floating ``features``, non-tensor ``targets``, a bad ``rng``.
    ValueError
        For features of the wrong number of dimensions or with NaN/inf, targets that are not
        int64, of the wrong length or outside [0, K), fractions outside (0, 1), unknown options.

    Warns
    -----
    UserWarning
        In spatial mode when ``k`` equals H*W (a 1x1 map): the whole map is muted.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.rsc import rsc_mask, rsc_preset
    >>> torch.manual_seed(0)
    <torch._C.Generator object at 0x...>
    >>> fc = torch.nn.Linear(8, 3)
    >>> feats = torch.randn(6, 8, 3, 5)
    >>> y = torch.tensor([0, 1, 2, 0, 1, 2])
    >>> m = rsc_mask(feats, lambda f: fc(f.mean((2, 3))), y, mode="spatial", batch_drop=0.5)
    >>> m.shape, int((m.flatten(1) == 0).sum(1).max())          # ceil(15 / 3) = 5 positions
    (torch.Size([6, 1, 3, 5]), 5)
    >>> m = rsc_mask(feats, lambda f: fc(f.mean((2, 3))), y, **rsc_preset("official_dg"))
    >>> m.shape[0]
    6
    """
    _check_params(mode, feature_drop, channel_drop, batch_drop, rng, eps, clamp, selection,
                  drop_rounding)
    return_details = check_bool(return_details, "return_details")
    check_features(features, 2 if mode == "vector" else 4, mode)
    targets = check_targets(targets, features.shape[0])
    scores = _scores(features, logits_fn, targets)
    if mode == "random":
        mode = _draw_mode(rng)
    units = _unit_scores(features, scores, mode)
    fraction = channel_drop if (mode == "channel" and channel_drop is not None) else feature_drop
    k = drop_count(units.shape[1], fraction, drop_rounding)
    if mode == "spatial" and k >= units.shape[1]:
        warnings.warn(f"the {tuple(features.shape[2:])} map has {units.shape[1]} position(s) and "
                      f"k = {k}: the whole map is muted for every challenged sample",
                      UserWarning, stacklevel=2)
    dropped = select_units(units, k, fraction, selection, rng)
    keep = _expand((~dropped).to(features.dtype), features, mode)
    with torch.no_grad():
        after = logits_fn(features.detach() * keep)
    change = _truth_prob(scores.logits, targets) - _truth_prob(after, targets) - eps
    if clamp:
        change = change.clamp_min(0.0)
    challenged = select_samples(change, batch_drop, selection, clamp)
    mask = torch.where(challenged.view(-1, *([1] * (keep.dim() - 1))), keep,
                       torch.ones_like(keep)).detach()
    if return_details:
        return mask, RSCDetails(mask, mode, units, dropped, change.detach(), challenged)
    return mask
