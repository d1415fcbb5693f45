"""FFT's per-target flow crop: integer inclusive crop of the flow, adaptive-average pooled."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..._utils.validation import check_int
from ...nn._checks import check_tensor
from ..detection import check_boxes

__all__ = ["check_flow", "flow_crop", "clip_boxes"]


def check_flow(flow, frame_size=None, name="flow"):
    """A floating ``[B, 2, H, W]`` flow tensor whose ``(H, W)`` matches ``frame_size``.

    Parameters
    ----------
    flow : torch.Tensor
    frame_size : tuple (H, W) or None, default=None
    name : str, default="flow"

    Returns
    -------
    flow : torch.Tensor

    Raises
    ------
    TypeError
        Not a floating tensor.
    ValueError
        ``flow must be [B, 2, H, W] matching the frame ...``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.tracking import check_flow
    >>> check_flow(torch.zeros(1, 2, 4, 6), (4, 6)).shape
    torch.Size([1, 2, 4, 6])
    >>> check_flow(torch.zeros(1, 2, 4, 6), (4, 8))
    Traceback (most recent call last):
    ...
    ValueError: flow must be [B, 2, H, W] matching the frame (H, W) = (4, 8), got (1, 2, 4, 6)
    """
    check_tensor(flow, name)
    bad = flow.dim() != 4 or flow.shape[1] != 2
    if not bad and frame_size is not None:
        bad = tuple(flow.shape[2:]) != tuple(int(s) for s in frame_size)
    if bad:
        frame = f" (H, W) = {tuple(int(s) for s in frame_size)}" if frame_size is not None else ""
        raise ValueError(f"{name} must be [B, 2, H, W] matching the frame{frame}, "
                         f"got {tuple(flow.shape)}")
    return flow


def clip_boxes(boxes, frame_size):
    """Clip ``[N, 4]`` boxes to ``[0, W] x [0, H]``; also return which keep a positive area.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.tracking import clip_boxes
    >>> clip_boxes(torch.tensor([[-5., 0, 5, 4], [20., 0, 30, 4]]), (10, 10))
    (tensor([[ 0.,  0.,  5.,  4.],
            [10.,  0., 10.,  4.]]), tensor([ True, False]))
    """
    boxes = check_boxes(boxes)
    h, w = (float(s) for s in frame_size)
    out = boxes.clone()
    out[:, 0::2] = out[:, 0::2].clamp(0.0, w)
    out[:, 1::2] = out[:, 1::2].clamp(0.0, h)
    keep = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
    return out, keep


def flow_crop(flow, boxes, output_size=25):
    """Per-box flow crops ``[N, 2, S, S]``, as FFT's ``ROIPooling2dPytorch(25, 1.0)`` computes them.

    Box coordinates (image pixels at frame t) are truncated to integers and clamped to the
    frame, the flow is cropped inclusively (``flow[:, y1:y2 + 1, x1:x2 + 1]``) and reduced by
    adaptive average pooling (``torch.nn.functional.adaptive_avg_pool2d``) to ``S x S``.
    ``torchvision.ops.roi_align(aligned=False)`` approximates this with bilinear samples
    instead of exact bin means; the two differ by up to a pixel at the box edges.

    Parameters
    ----------
    flow : torch.Tensor of shape (B, 2, H, W)
    boxes : torch.Tensor of shape (N, 4) (B must be 1) or (N, 5) ``(batch, x1, y1, x2, y2)``
    output_size : int, default=25

    Returns
    -------
    crops : torch.Tensor of shape (N, 2, S, S), the flow's dtype and device

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.tracking import flow_crop
    >>> flow = torch.ones(1, 2, 40, 40)
    >>> flow_crop(flow, torch.tensor([[3., 4, 20, 30]]), 5).shape
    torch.Size([1, 2, 5, 5])
    """
    check_flow(flow)
    size = check_int(output_size, "output_size", low=1)
    boxes = _as_rois(boxes, flow)
    h, w = flow.shape[2:]
    out = flow.new_zeros((boxes.shape[0], 2, size, size))
    for i, (b, x1, y1, x2, y2) in enumerate(boxes.tolist()):
        xa, xb = (min(max(int(v), 0), w - 1) for v in (x1, x2))
        ya, yb = (min(max(int(v), 0), h - 1) for v in (y1, y2))
        out[i] = F.adaptive_avg_pool2d(flow[int(b), :, ya:yb + 1, xa:xb + 1], size)
    return out


def _as_rois(boxes, flow):
    if isinstance(boxes, torch.Tensor) and boxes.dim() == 2 and boxes.shape[1] == 5:
        idx = boxes[:, 0]
        if bool(((idx < 0) | (idx >= flow.shape[0]) | (idx != idx.round())).any()):
            raise ValueError(f"rois batch index must be an integer in [0, {flow.shape[0]})")
        return torch.cat([idx[:, None], check_boxes(boxes[:, 1:], "rois")], dim=1)
    boxes = check_boxes(boxes)
    if flow.shape[0] != 1:
        raise ValueError("boxes [N, 4] need a flow batch of 1; pass rois [K, 5] otherwise")
    return torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], dim=1)
