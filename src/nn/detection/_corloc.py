"""Correct localisation (CorLoc), spec §0.3."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._boxes import box_iou, check_boxes

__all__ = ["corloc", "CorLocResult"]


@dataclass
class CorLocResult:
    """CorLoc figures.

    Attributes
    ----------
    mean : float
        Mean over the classes with at least one positive image (NaN if none).
    pooled : float
        Fraction over all positive (image, class) pairs.
    per_class : ndarray of shape (C,)
        NaN for classes without positive images.

    Examples
    --------
    >>> from normgraph.nn.detection import CorLocResult
    >>> CorLocResult(0.5, 0.5, None).mean
    0.5
    """

    mean: float
    pooled: float
    per_class: np.ndarray


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def corloc(scores, boxes, ground_truths, image_labels, *, iou_thr=0.5):
    """CorLoc: per class, the fraction of positive images whose top-scoring box hits a GT box.

    For class c, over the images labelled positive for c: the single proposal with the highest
    score for c (first on ties, before NMS) counts as correct if its IoU with at least one GT box
    of class c is >= ``iou_thr``.

    Parameters
    ----------
    scores : list of array of shape (P_i, C)
        Per-image proposal scores.
    boxes : list of array of shape (P_i, 4)
        Per-image proposals.
    ground_truths : list of dict
        ``{"boxes": [M, 4], "labels": [M]}`` per image.
    image_labels : array of shape (n_images, C) in {0, 1}
    iou_thr : float, default=0.5

    Returns
    -------
    result : CorLocResult

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.nn.detection import corloc
    >>> gts = [{"boxes": [[0, 0, 10, 10]], "labels": [0]}]
    >>> props = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]])]
    >>> corloc([np.array([[0.9, 0.1], [0.2, 0.8]])], props, gts, [[1, 0]]).mean
    1.0
    """
    labels = _np(image_labels)
    if labels.ndim != 2 or not np.isin(labels, (0, 1)).all():
        raise ValueError("image_labels must be an (n_images, C) array of 0/1")
    n_images, n_classes = labels.shape
    for name, seq in (("scores", scores), ("boxes", boxes), ("ground_truths", ground_truths)):
        if not isinstance(seq, (list, tuple)) or len(seq) != n_images:
            raise ValueError(f"{name} must be a list with one entry per image ({n_images})")
    hits = np.zeros(n_classes)
    counts = np.zeros(n_classes)
    for i in range(n_images):
        s = _np(scores[i]).astype(np.float64)
        b = check_boxes(boxes[i], f"boxes[{i}]")
        if s.shape != (b.shape[0], n_classes) or b.shape[0] == 0:
            raise ValueError(f"scores[{i}] must have shape [P, {n_classes}] with P >= 1 matching "
                             f"boxes[{i}], got {s.shape}")
        gt_boxes = check_boxes(ground_truths[i]["boxes"], f"ground_truths[{i}]['boxes']")
        gt_labels = _np(ground_truths[i]["labels"]).reshape(-1)
        for c in np.flatnonzero(labels[i]):
            counts[c] += 1
            top = int(np.argmax(s[:, c]))
            sel = np.flatnonzero(gt_labels == c)
            if sel.size and float(box_iou(b[top:top + 1], gt_boxes[sel]).max()) >= iou_thr:
                hits[c] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    valid = counts > 0
    mean = float(per_class[valid].mean()) if valid.any() else float("nan")
    pooled = float(hits.sum() / counts.sum()) if counts.sum() else float("nan")
    return CorLocResult(mean, pooled, per_class)
