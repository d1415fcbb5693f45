"""Box checks and the thin wrappers around torchvision's box ops (continuous convention).

Boxes are ``(x1, y1, x2, y2)`` float tensors of shape ``[N, 4]``. Degenerate (zero-area) boxes
are allowed; their IoU with anything is 0, never NaN.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision import ops

from ..._utils.validation import check_bool, check_real

__all__ = ["check_boxes", "box_area", "box_iou", "nms", "horizontal_flip_boxes"]


def check_boxes(boxes, name="boxes", *, dtype=None):
    """Validate boxes: a real ``[N, 4]`` array, finite, with ``x2 >= x1`` and ``y2 >= y1``.

    Parameters
    ----------
    boxes : torch.Tensor or array-like of shape (N, 4)
        Boxes ``(x1, y1, x2, y2)``. Array-likes are converted to a float64 tensor.
    name : str, default="boxes"
        The parameter's name, used in error messages.
    dtype : torch.dtype or None, default=None
        Cast to this floating dtype; ``None`` keeps a floating tensor's dtype (integers become
        float64).

    Returns
    -------
    boxes : torch.Tensor of shape (N, 4)

    Raises
    ------
    TypeError
        If the input is not numeric.
    ValueError
        If the shape is not ``[N, 4]``, a coordinate is NaN/inf, or a row has ``x2 < x1`` or
        ``y2 < y1`` (the first bad row is named).

    Examples
    --------
    >>> from normgraph.nn.detection import check_boxes
    >>> check_boxes([[0, 0, 2, 3]])
    tensor([[0., 0., 2., 3.]], dtype=torch.float64)
    >>> check_boxes([[0, 0, 2]])
    Traceback (most recent call last):
    ...
    ValueError: boxes must have shape [N, 4], got (1, 3)
    """
    if not isinstance(boxes, torch.Tensor):
        arr = np.asarray(boxes)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
        if arr.dtype.kind == "b":
            raise TypeError(f"{name} must be a real numeric array, got dtype bool")
        boxes = torch.as_tensor(arr.astype(np.float64))
    elif boxes.dtype == torch.bool or boxes.is_complex():
        raise TypeError(f"{name} must be a real tensor, got dtype {boxes.dtype}")
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        if boxes.numel() == 0 and boxes.dim() == 1:
            boxes = boxes.reshape(0, 4)
        else:
            raise ValueError(f"{name} must have shape [N, 4], got {tuple(boxes.shape)}")
    if dtype is not None:
        boxes = boxes.to(dtype)
    elif not boxes.is_floating_point():
        boxes = boxes.to(torch.float64)
    if boxes.numel():
        finite = torch.isfinite(boxes).all(dim=1)
        if not bool(finite.all()):
            row = int(torch.nonzero(~finite)[0])
            raise ValueError(f"{name} has a NaN or infinite coordinate in row {row}: "
                             f"{boxes[row].tolist()}")
        bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        if bool(bad.any()):
            row = int(torch.nonzero(bad)[0])
            raise ValueError(f"{name} row {row} has x2 < x1 or y2 < y1: {boxes[row].tolist()}")
    return boxes


def box_area(boxes, *, legacy_plus_one=False):
    """Areas ``(x2 - x1) * (y2 - y1)``; ``legacy_plus_one`` uses ``(x2 - x1 + 1) * (y2 - y1 + 1)``.

    Parameters
    ----------
    boxes : torch.Tensor or array-like of shape (N, 4)
    legacy_plus_one : bool, default=False
        The pixel convention of Faster R-CNN-derived code (and the VOC devkit).

    Returns
    -------
    area : torch.Tensor of shape (N,)

    Examples
    --------
    >>> from normgraph.nn.detection import box_area
    >>> box_area([[0, 0, 2, 3]]), box_area([[0, 0, 2, 3]], legacy_plus_one=True)
    (tensor([6.], dtype=torch.float64), tensor([12.], dtype=torch.float64))
    """
    boxes = check_boxes(boxes)
    one = 1.0 if check_bool(legacy_plus_one, "legacy_plus_one") else 0.0
    return (boxes[:, 2] - boxes[:, 0] + one) * (boxes[:, 3] - boxes[:, 1] + one)


def box_iou(boxes1, boxes2, *, legacy_plus_one=False):
    """Pairwise IoU ``[N, M]`` (``torchvision.ops.box_iou``; 0 where both boxes have zero area).

    Parameters
    ----------
    boxes1 : torch.Tensor or array-like of shape (N, 4)
    boxes2 : torch.Tensor or array-like of shape (M, 4)
    legacy_plus_one : bool, default=False
        Count ``x2 - x1 + 1`` pixels per side (VOC devkit, CASD/FFT code).

    Returns
    -------
    iou : torch.Tensor of shape (N, M)

    Examples
    --------
    >>> from normgraph.nn.detection import box_iou
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 5, 5]])
    tensor([[0.3333, 0.0000]], dtype=torch.float64)
    """
    a = check_boxes(boxes1, "boxes1")
    b = check_boxes(boxes2, "boxes2").to(a.dtype)
    if check_bool(legacy_plus_one, "legacy_plus_one"):
        shift = a.new_tensor([0.0, 0.0, 1.0, 1.0])
        a, b = a + shift, b + shift
    iou = ops.box_iou(a, b)
    return torch.nan_to_num(iou, nan=0.0)  # 0/0 only: two zero-area boxes


def nms(boxes, scores, iou_threshold):
    """Greedy NMS: keep the highest score, drop boxes with IoU ``> iou_threshold``; ties by index.

    ``torchvision.ops.nms`` does the work; scores are replaced by their stable rank first so
    that equal scores keep the lower index first on every device.

    Parameters
    ----------
    boxes : torch.Tensor of shape (N, 4)
    scores : torch.Tensor of shape (N,)
    iou_threshold : float in [0, 1]

    Returns
    -------
    keep : torch.Tensor of int64
        Indices of the kept boxes, by decreasing score.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import nms
    >>> b = torch.tensor([[0., 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]])
    >>> nms(b, torch.tensor([0.5, 0.9, 0.5]), 0.5)
    tensor([1, 2])
    """
    boxes = check_boxes(boxes)
    if not isinstance(scores, torch.Tensor):
        scores = torch.as_tensor(np.asarray(scores, dtype=np.float64))
    if scores.shape != (boxes.shape[0],):
        raise ValueError(f"scores must have shape [{boxes.shape[0]}], got {tuple(scores.shape)}")
    thr = check_real(iou_threshold, "iou_threshold", low=0.0, high=1.0)
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    rank = torch.arange(boxes.shape[0], 0, -1, dtype=boxes.dtype, device=boxes.device)
    return order[ops.nms(boxes[order], rank, thr)]


def horizontal_flip_boxes(boxes, width, *, legacy=False):
    """Mirror boxes in an image of width ``W``: ``x1' = W - x2``, ``x2' = W - x1``.

    Parameters
    ----------
    boxes : torch.Tensor of shape (N, 4)
    width : float
        Image width ``W``.
    legacy : bool, default=False
        CASD test code's pixel convention ``x' = W - x - 1``. The continuous default is the one
        under which ``roi_align(aligned=True)`` of a flipped map equals the flipped features.

    Returns
    -------
    flipped : torch.Tensor of shape (N, 4)

    Examples
    --------
    >>> from normgraph.nn.detection import horizontal_flip_boxes
    >>> horizontal_flip_boxes([[1., 2, 4, 5]], 10)
    tensor([[6., 2., 9., 5.]], dtype=torch.float64)
    """
    boxes = check_boxes(boxes)
    width = check_real(width, "width", low=0.0)
    off = 1.0 if check_bool(legacy, "legacy") else 0.0
    out = boxes.clone()
    out[:, 0] = width - boxes[:, 2] - off
    out[:, 2] = width - boxes[:, 0] - off
    return out
