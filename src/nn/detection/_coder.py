"""The Faster R-CNN box coder, one object per model (encode targets and decode predictions)."""

from __future__ import annotations

import math

import torch

from ..._utils.validation import check_choice, check_real
from ._boxes import check_boxes

__all__ = ["BoxCoder", "CODER_WEIGHTS"]

#: Named coder weights ``(wx, wy, ww, wh)`` (spec: torchvision RetinaNet, R-CNN/MAL/FFT/CASD may30).
CODER_WEIGHTS = {
    "torchvision_retinanet": (1.0, 1.0, 1.0, 1.0),
    "rcnn": (10.0, 10.0, 5.0, 5.0),
    "flowtracker": (10.0, 10.0, 5.0, 5.0),
}


class BoxCoder:
    """Faster R-CNN box coder with weights ``(wx, wy, ww, wh)`` (continuous convention).

    ``encode``: ``t = ((gx - px) / pw * wx, (gy - py) / ph * wy, log(gw / pw) * ww,
    log(gh / ph) * wh)`` with centres ``(x1 + x2) / 2`` and sizes ``x2 - x1``; ``decode`` divides
    by the weights, clamps ``dw, dh <= clip`` and exponentiates (torchvision's order).

    Parameters
    ----------
    weights : str or tuple of 4 floats, default="torchvision_retinanet"
        A name of :data:`CODER_WEIGHTS` (``"torchvision_retinanet"`` = (1, 1, 1, 1), ``"rcnn"``
        and ``"flowtracker"`` = (10, 10, 5, 5)) or four positive numbers.
    clip : float, default=log(1000 / 16)
        Upper bound of the decoded log-size deltas.

    Attributes
    ----------
    weights : tuple of 4 floats

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import BoxCoder
    >>> coder = BoxCoder("rcnn")
    >>> p = torch.tensor([[0., 0, 10, 20]]); g = torch.tensor([[1., 2, 11, 12]])
    >>> coder.encode(g, p)
    tensor([[ 1.0000, -1.5000,  0.0000, -3.4657]])
    >>> torch.allclose(coder.decode(coder.encode(g, p), p), g)
    True
    """

    def __init__(self, weights="torchvision_retinanet", clip=math.log(1000.0 / 16)):
        if isinstance(weights, str):
            weights = CODER_WEIGHTS[check_choice(weights, "weights", tuple(CODER_WEIGHTS))]
        if not isinstance(weights, (tuple, list)) or len(weights) != 4:
            raise ValueError(f"weights must be a coder name or 4 numbers, got {weights!r}")
        self.weights = tuple(check_real(w, "weights", low=0.0, low_inclusive=False)
                             for w in weights)
        self.clip = check_real(clip, "clip")

    def __repr__(self):
        return f"BoxCoder(weights={self.weights}, clip={self.clip:.4g})"

    def __eq__(self, other):
        return isinstance(other, BoxCoder) and (self.weights, self.clip) == (other.weights,
                                                                             other.clip)

    __hash__ = None

    @staticmethod
    def _centres(boxes):
        w = boxes[:, 2] - boxes[:, 0]
        h = boxes[:, 3] - boxes[:, 1]
        return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h

    def encode(self, gt_boxes, proposals):
        """Regression targets of ``gt_boxes`` relative to ``proposals`` (both ``[N, 4]``).

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.detection import BoxCoder
        >>> BoxCoder().encode(torch.tensor([[0., 0, 4, 4]]), torch.tensor([[0., 0, 2, 2]]))
        tensor([[0.5000, 0.5000, 0.6931, 0.6931]])
        """
        g = check_boxes(gt_boxes, "gt_boxes")
        p = check_boxes(proposals, "proposals").to(g.dtype)
        if g.shape != p.shape:
            raise ValueError(f"gt_boxes and proposals must have the same shape, got "
                             f"{tuple(g.shape)} and {tuple(p.shape)}")
        if bool(((p[:, 2] <= p[:, 0]) | (p[:, 3] <= p[:, 1])).any()):
            raise ValueError("proposals must have positive width and height to encode against")
        wx, wy, ww, wh = self.weights
        gx, gy, gw, gh = self._centres(g)
        px, py, pw, ph = self._centres(p)
        return torch.stack([wx * (gx - px) / pw, wy * (gy - py) / ph,
                            ww * torch.log(gw / pw), wh * torch.log(gh / ph)], dim=1)

    def decode(self, deltas, proposals):
        """Boxes from ``deltas`` ``[N, 4]`` relative to ``proposals`` ``[N, 4]``.

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.detection import BoxCoder
        >>> BoxCoder().decode(torch.zeros(1, 4), torch.tensor([[0., 0, 2, 2]]))
        tensor([[0., 0., 2., 2.]])
        """
        p = check_boxes(proposals, "proposals")
        if not isinstance(deltas, torch.Tensor) or deltas.shape != p.shape:
            raise ValueError(f"deltas must be a tensor of shape {tuple(p.shape)}")
        d = deltas.to(p.dtype)
        wx, wy, ww, wh = self.weights
        px, py, pw, ph = self._centres(p)
        dw = torch.clamp(d[:, 2] / ww, max=self.clip)
        dh = torch.clamp(d[:, 3] / wh, max=self.clip)
        cx = d[:, 0] / wx * pw + px
        cy = d[:, 1] / wy * ph + py
        w = torch.exp(dw) * pw
        h = torch.exp(dh) * ph
        return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=1)
