"""MAL/FreeAnchor anchor bags (top-k IoU) and the mean-max selection (spec §2.3, steps 1 and 3)."""

from __future__ import annotations

import torch

from ..._utils.validation import check_int
from .._checks import check_tensor
from ._boxes import box_iou, check_boxes

__all__ = ["anchor_bags", "mean_max", "check_bag_size"]

#: The floor of ``1 - x`` in the mean-max weights (FreeAnchor's ``1e-12``).
MEAN_MAX_EPS = 1e-12


def check_bag_size(pre_anchor_topk, n_anchors):
    """``pre_anchor_topk`` as an int in ``[1, n_anchors]`` (``ValueError`` naming both otherwise).

    Examples
    --------
    >>> from normgraph.nn.detection._mal_bags import check_bag_size
    >>> check_bag_size(40, 12276)
    40
    >>> check_bag_size(50, 10)
    Traceback (most recent call last):
    ...
    ValueError: pre_anchor_topk=50 exceeds #anchors=10
    """
    k = check_int(pre_anchor_topk, "pre_anchor_topk", low=1)
    if k > n_anchors:
        raise ValueError(f"pre_anchor_topk={k} exceeds #anchors={n_anchors}")
    return k


def anchor_bags(gt_boxes, anchors, pre_anchor_topk=40):
    """Each object's bag: the ``k`` anchors of highest IoU with its box (no IoU threshold).

    Parameters
    ----------
    gt_boxes : torch.Tensor of shape (M, 4)
        Object boxes ``(x1, y1, x2, y2)``.
    anchors : torch.Tensor of shape (N, 4)
        All anchors of the image (every level concatenated).
    pre_anchor_topk : int, default=40
        Bag size ``k`` (MAL's ``PRE_ANCHOR_TOPK``; FreeAnchor used 50), ``1 <= k <= N``.

    Returns
    -------
    bags : torch.Tensor of int64, shape (M, k)
        Anchor indices, by decreasing IoU (ties: lower index first).

    Raises
    ------
    ValueError
        If ``k`` is not in ``[1, N]`` or a box is malformed.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import anchor_bags
    >>> anchors = torch.tensor([[0., 0, 10, 10], [0, 0, 20, 20], [5, 5, 15, 15]])
    >>> anchor_bags(torch.tensor([[0., 0, 11, 11]]), anchors, 2)
    tensor([[0, 1]])
    """
    gt = check_boxes(gt_boxes, "gt_boxes")
    anchors = check_boxes(anchors, "anchors")
    k = check_bag_size(pre_anchor_topk, anchors.shape[0])
    iou = box_iou(gt, anchors.to(gt.dtype))
    order = torch.sort(iou, dim=1, descending=True, stable=True).indices
    return order[:, :k]


def _straight_through_floor(y, eps):
    """``max(y, eps)`` in the forward pass, identity in the backward pass."""
    return y + (torch.clamp(y, min=eps) - y).detach()


def mean_max(x, dim=-1):
    """Mean-max of probabilities ``sum_j w_j x_j / sum_j w_j``, ``w_j = 1 / max(1 - x_j, 1e-12)``.

    It behaves like the mean when every ``x`` is small and tends to the max as one ``x`` tends to
    1; ``mean <= MeanMax <= max`` always. The floor ``1e-12`` passes gradients straight through
    (as FreeAnchor's ``clamp`` with a custom backward does), so at ``x_j = 1`` exactly the
    gradient of ``-log MeanMax`` is the limit from below (``-n`` for a bag of ``n``), not the
    ``-1`` a plain ``clamp`` gives.

    Parameters
    ----------
    x : torch.Tensor
        Probabilities in ``[0, 1]``.
    dim : int, default=-1
        The bag axis.

    Returns
    -------
    torch.Tensor
        ``x`` reduced over ``dim``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import mean_max
    >>> round(float(mean_max(torch.tensor([0.999, 0.1, 0.1], dtype=torch.float64))), 3)
    0.997
    """
    check_tensor(x, "x")
    if x.numel() and bool(((x < 0) | (x > 1) | torch.isnan(x)).any()):
        raise ValueError("x must hold probabilities in [0, 1]")
    w = 1.0 / _straight_through_floor(1.0 - x, MEAN_MAX_EPS)
    return (w * x).sum(dim) / w.sum(dim)
