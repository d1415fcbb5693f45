"""Class-agnostic proposals for the CPU experiments (spec §0.4).

Selective Search is replaced by two sources: deterministic sliding windows (3 sizes x 3 aspect
ratios, stride 16, each shape's grid centred in the canvas) and, per ground-truth object, 30
seeded jittered boxes whose IoU with the object lies in [0.3, 0.9]. The jittered boxes leak
GT-adjacent boxes (parts and loose boxes), as Selective Search does on real images.
"""

from __future__ import annotations

import numpy as np

from ..._utils.validation import check_int, check_real
from ._boxes import box_iou, check_boxes

__all__ = ["sliding_window_proposals", "jittered_proposals"]


def sliding_window_proposals(width, height, *, sizes=(24, 32, 48), ratios=(1.0, 0.5, 2.0),
                             stride=16):
    """Windows of every (size, ratio) shape on a centred grid, entirely inside the canvas.

    Shape ``w = round(s / sqrt(a))``, ``h = round(s * sqrt(a))`` with ``a = h / w``; per axis
    ``n = (W - w) // stride + 1`` positions starting at ``(W - w - stride (n - 1)) // 2``.
    Order: shape by shape (sizes outer, ratios inner), x-major within a shape.

    Parameters
    ----------
    width, height : int
        Canvas size in pixels.
    sizes : tuple of int, default=(24, 32, 48)
    ratios : tuple of float, default=(1.0, 0.5, 2.0)
    stride : int, default=16

    Returns
    -------
    boxes : ndarray of shape (N, 4), float64

    Examples
    --------
    >>> from normgraph.nn.detection import sliding_window_proposals
    >>> sliding_window_proposals(96, 96).shape
    (162, 4)
    """
    width = check_int(width, "width", low=1)
    height = check_int(height, "height", low=1)
    stride = check_int(stride, "stride", low=1)
    out = []
    for s in sizes:
        s = check_real(s, "sizes", low=0, low_inclusive=False)
        for a in ratios:
            a = check_real(a, "ratios", low=0, low_inclusive=False)
            w, h = int(round(s / np.sqrt(a))), int(round(s * np.sqrt(a)))
            if w > width or h > height:
                continue
            nx, ny = (width - w) // stride + 1, (height - h) // stride + 1
            x0 = (width - w - stride * (nx - 1)) // 2
            y0 = (height - h - stride * (ny - 1)) // 2
            xs = x0 + stride * np.arange(nx)
            ys = y0 + stride * np.arange(ny)
            gx, gy = np.meshgrid(xs, ys, indexing="ij")  # x-major
            gx, gy = gx.ravel(), gy.ravel()
            out.append(np.stack([gx, gy, gx + w, gy + h], axis=1))
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 4))


def jittered_proposals(gt_boxes, width, height, *, n_per_object=30, seed=0, image_index=0,
                       iou_range=(0.3, 0.9), max_tries=10000):
    """Seeded jittered copies of each object box with IoU in ``iou_range``.

    The generator is ``numpy.random.default_rng(seed + image_index)``. Each candidate shifts the
    centre by ``U(-0.3, 0.3) * (w, h)`` and scales width and height by
    ``exp(U(log 0.6, log 1.5))``, is clipped to the canvas, and is kept when its IoU with the
    object lies in ``iou_range`` (resampled otherwise).

    Parameters
    ----------
    gt_boxes : array of shape (M, 4)
    width, height : int
    n_per_object : int, default=30
    seed, image_index : int, default=0
    iou_range : tuple of 2 floats, default=(0.3, 0.9)
    max_tries : int, default=10000
        Candidates per object before giving up with a ``ValueError``.

    Returns
    -------
    boxes : ndarray of shape (M * n_per_object, 4), float64, object by object

    Examples
    --------
    >>> from normgraph.nn.detection import jittered_proposals
    >>> jittered_proposals([[10, 10, 40, 40]], 96, 96, seed=1).shape
    (30, 4)
    """
    gt = check_boxes(gt_boxes, "gt_boxes").numpy()
    width = check_int(width, "width", low=1)
    height = check_int(height, "height", low=1)
    n_per_object = check_int(n_per_object, "n_per_object", low=0)
    lo = check_real(iou_range[0], "iou_range", low=0.0, high=1.0)
    hi = check_real(iou_range[1], "iou_range", low=lo, high=1.0)
    rng = np.random.default_rng(check_int(seed, "seed", low=0) +
                                check_int(image_index, "image_index", low=0))
    out = []
    for obj in gt:
        w, h = obj[2] - obj[0], obj[3] - obj[1]
        if w <= 0 or h <= 0:
            raise ValueError(f"gt_boxes must have positive width and height, got {obj.tolist()}")
        cx, cy = obj[0] + w / 2, obj[1] + h / 2
        kept, tries = [], 0
        while len(kept) < n_per_object:
            tries += 1
            if tries > max_tries:
                raise ValueError(f"could not draw {n_per_object} boxes with IoU in "
                                 f"[{lo}, {hi}] around {obj.tolist()} in {max_tries} tries")
            dx, dy = rng.uniform(-0.3, 0.3, size=2) * (w, h)
            sw, sh = np.exp(rng.uniform(np.log(0.6), np.log(1.5), size=2))
            nw, nh = w * sw, h * sh
            box = np.array([cx + dx - nw / 2, cy + dy - nh / 2, cx + dx + nw / 2,
                            cy + dy + nh / 2])
            box = np.clip(box, 0, [width, height, width, height])
            iou = float(box_iou(box[None], obj[None])[0, 0])
            if lo <= iou <= hi:
                kept.append(box)
        out.extend(kept)
    return np.array(out, dtype=np.float64).reshape(-1, 4)
