"""Pseudo-label mining for the refinement branches (§1.5): PCL graph centres and OICR top-1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans

from ..._utils.validation import check_bool, check_choice, check_int
from .._checks import check_tensor
from ._boxes import box_iou, check_boxes

__all__ = ["PseudoLabels", "mine_pseudo_labels", "sample_rois"]


@dataclass
class PseudoLabels:
    """Result of :func:`mine_pseudo_labels`.

    Attributes
    ----------
    labels : torch.Tensor of int64, shape (P,)
        0 = background, ``c + 1`` = class c, -1 = ignored.
    weights : torch.Tensor of shape (P,)
        Per-proposal loss weight (OICR: the score of the max-IoU pseudo-box; PCL mode: 1).
    gt_boxes : torch.Tensor of shape (G, 4)
    gt_classes : torch.Tensor of int64, shape (G,)
    gt_scores : torch.Tensor of shape (G,)
    proposal_indices : torch.Tensor of int64, shape (G,)
        The proposal each pseudo-box is.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import PseudoLabels
    >>> PseudoLabels(torch.tensor([1]), torch.ones(1), torch.zeros(1, 4), torch.tensor([0]),
    ...              torch.ones(1), torch.tensor([0])).labels
    tensor([1])
    """

    labels: torch.Tensor
    weights: torch.Tensor
    gt_boxes: torch.Tensor
    gt_classes: torch.Tensor
    gt_scores: torch.Tensor
    proposal_indices: torch.Tensor


def _top_cluster(scores):
    """Indices of the proposals in the k-means cluster (3 clusters, 1-D) with the highest centre."""
    if scores.size < 3:
        return np.array([int(np.argmax(scores))])
    km = KMeans(n_clusters=3, random_state=3, n_init=10).fit(scores.reshape(-1, 1))
    top = int(np.argmax(km.cluster_centers_.ravel()))
    kept = np.flatnonzero(km.labels_ == top)
    return kept if kept.size else np.array([int(np.argmax(scores))])


def _graph_centres(boxes, scores, max_centres=5, min_uncovered=5, graph_iou=0.4):
    """PCL graph centres among kept boxes: (local indices, scores) sorted by score, at most 5."""
    adj = (box_iou(boxes, boxes) > graph_iou).numpy()
    alive = np.ones(len(scores), bool)
    remaining = len(scores)
    centres, centre_scores = [], []
    while True:
        degree = (adj & alive[None, :] & alive[:, None]).sum(axis=1)
        degree[~alive] = -1
        c = int(np.argmax(degree))  # ties: lowest index
        hood = np.flatnonzero(adj[c] & alive)
        centres.append(c)
        centre_scores.append(float(scores[hood].max()))
        alive[hood] = False
        remaining -= hood.size
        if remaining <= min_uncovered:
            break
    order = np.argsort(-np.asarray(centre_scores), kind="stable")[:max_centres]
    return np.asarray(centres)[order], np.asarray(centre_scores)[order]


def _pcl_pseudo_gt(q, boxes, classes):
    pool = np.ones(q.shape[0], bool)
    idx, cls, sc = [], [], []
    for c in classes:
        avail = np.flatnonzero(pool)
        if avail.size == 0:
            break
        kept = avail[_top_cluster(q[avail, c])]
        local, scores = _graph_centres(boxes[kept], q[kept, c])
        chosen = kept[local]
        idx.extend(chosen.tolist())
        cls.extend([c] * chosen.size)
        sc.extend(scores.tolist())
        pool[chosen] = False
    return np.asarray(idx, np.int64), np.asarray(cls, np.int64), np.asarray(sc)


def _oicr_pseudo_gt(q, classes, exclusive):
    q = q.copy()
    idx, cls, sc = [], [], []
    for c in classes:
        j = int(np.argmax(q[:, c]))
        idx.append(j)
        cls.append(c)
        sc.append(float(q[j, c]))
        if exclusive:
            q[j, :] = -np.inf
    return np.asarray(idx, np.int64), np.asarray(cls, np.int64), np.asarray(sc)


def mine_pseudo_labels(scores, boxes, image_labels, *, mode="pcl_graph", n_views=1,
                       exclusive_top1=False, fg_thresh=0.6, bg_thresh_lo=0.1, bg_thresh_hi=0.4,
                       oicr_fg_thresh=0.5, allow_empty=False):
    """Pseudo ground truth from a teacher's proposal scores, and a label for every proposal.

    The scores (``[V * P, C]`` stacked view-major, no background column) are averaged over the
    views and clipped to ``[1e-9, 1 - 1e-9]``; classes with a positive image label are processed
    in increasing order.

    ``mode="pcl_graph"`` (the CASD code): per class, 1-D k-means (3 clusters, ``random_state=3``,
    ``n_init=10``) keeps the top-centre cluster; an IoU > 0.4 graph on the kept boxes yields
    centres of largest degree (ties: lowest index; score = max in the neighbourhood) until at
    most 5 kept nodes are uncovered; the 5 best centres become pseudo-GT boxes and leave the pool.
    A proposal's label is its max-IoU pseudo box's class if IoU > ``fg_thresh``, background if
    ``bg_thresh_lo <= IoU < bg_thresh_hi``, ignored (-1) otherwise; weights are 1.

    ``mode="oicr"``: the top proposal of each positive class is its pseudo-box (weight = its
    score); every proposal takes its max-IoU pseudo box (ties: lowest index), foreground if
    IoU >= ``oicr_fg_thresh`` and background otherwise, with that box's score as weight.
    ``exclusive_top1`` removes a proposal once it has been the top box of a class.

    Parameters
    ----------
    scores : torch.Tensor of shape (V * P, C)
    boxes : array of shape (P, 4)
        The view-0 proposals.
    image_labels : array-like of length C in {0, 1}
    mode : {"pcl_graph", "oicr"}, default="pcl_graph"
    n_views : int, default=1
    exclusive_top1 : bool, default=False
    fg_thresh, bg_thresh_lo, bg_thresh_hi, oicr_fg_thresh : float
    allow_empty : bool, default=False
        With no positive class, return all-ignored labels instead of raising.

    Returns
    -------
    pseudo : PseudoLabels

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import mine_pseudo_labels
    >>> boxes = torch.tensor([[0., 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]])
    >>> q = torch.tensor([[0.9], [0.5], [0.1]])
    >>> mine_pseudo_labels(q, boxes, [1], mode="oicr").labels
    tensor([1, 1, 0])
    """
    from ._casd_mil import check_image_labels

    mode = check_choice(mode, "mode", ("pcl_graph", "oicr"))
    exclusive_top1 = check_bool(exclusive_top1, "exclusive_top1")
    allow_empty = check_bool(allow_empty, "allow_empty")
    n_views = check_int(n_views, "n_views", low=1)
    check_tensor(scores, "scores")
    b = check_boxes(boxes, "boxes").detach().cpu().to(torch.float64)
    if b.shape[0] == 0:
        raise ValueError("need at least one proposal")
    if scores.dim() != 2 or scores.shape[0] != n_views * b.shape[0]:
        raise ValueError(f"scores must have shape [V * P, C] = [{n_views * b.shape[0]}, C], got "
                         f"{tuple(scores.shape)}: all views must share the same proposals")
    y = check_image_labels(image_labels, scores.shape[1])
    q = scores.detach().cpu().to(torch.float64).reshape(n_views, b.shape[0], -1).mean(0)
    q = q.clamp(1e-9, 1 - 1e-9).numpy()
    classes = np.flatnonzero(y.numpy() > 0)
    n = b.shape[0]
    if classes.size == 0:
        if not allow_empty:
            raise ValueError("image_labels has no positive class: nothing to mine "
                             "(pass allow_empty=True to skip the refinement loss)")
        empty = torch.zeros(0, dtype=torch.int64)
        return PseudoLabels(torch.full((n,), -1), torch.zeros(n), torch.zeros(0, 4), empty,
                            torch.zeros(0), empty)
    if mode == "pcl_graph":
        idx, cls, sc = _pcl_pseudo_gt(q, b, classes)
    else:
        idx, cls, sc = _oicr_pseudo_gt(q, classes, exclusive_top1)
    gt = b[torch.as_tensor(idx)]
    iou = box_iou(b, gt)
    best_iou, best = iou.max(dim=1)  # first maximum on ties
    cls_t, sc_t = torch.as_tensor(cls), torch.as_tensor(sc)
    labels = torch.full((n,), -1, dtype=torch.int64)
    if mode == "pcl_graph":
        labels[(best_iou >= bg_thresh_lo) & (best_iou < bg_thresh_hi)] = 0
        fg = best_iou > fg_thresh
        labels[fg] = cls_t[best[fg]] + 1
        weights = torch.ones(n, dtype=torch.float64)
    else:
        labels = torch.where(best_iou >= oicr_fg_thresh, cls_t[best] + 1, torch.zeros_like(best))
        weights = sc_t[best]
    return PseudoLabels(labels, weights, gt, cls_t, sc_t, torch.as_tensor(idx))


def sample_rois(labels, n_views=1, *, n_fg=32, n_bg=96, generator=None):
    """Per view, up to ``n_fg`` foreground and ``n_bg`` background RoI indices (no replacement).

    Parameters
    ----------
    labels : torch.Tensor of int64, shape (P,)
        From :func:`mine_pseudo_labels` (-1 ignored, 0 background).
    n_views : int, default=1
    n_fg, n_bg : int, default=32, 96
    generator : torch.Generator or None

    Returns
    -------
    keep : list of torch.Tensor, one index tensor per view (sorted)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import sample_rois
    >>> sample_rois(torch.tensor([1, 0, -1, 1]), n_views=2, n_fg=1, n_bg=1,
    ...             generator=torch.Generator().manual_seed(0))[0].numel()
    2
    """
    n_views = check_int(n_views, "n_views", low=1)
    n_fg = check_int(n_fg, "n_fg", low=0)
    n_bg = check_int(n_bg, "n_bg", low=0)
    fg = torch.nonzero(labels > 0).ravel()
    bg = torch.nonzero(labels == 0).ravel()
    keep = []
    for _ in range(n_views):
        f = fg[torch.randperm(fg.numel(), generator=generator)[:n_fg]]
        g = bg[torch.randperm(bg.numel(), generator=generator)[:n_bg]]
        keep.append(torch.sort(torch.cat([f, g])).values)
    return keep
