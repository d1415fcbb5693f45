"""FFT's FlowTracker: four MLPs regress box deltas from the flow inside each box."""

from __future__ import annotations

import torch
from torch import nn

from ..._utils.validation import check_int
from ..detection import BoxCoder, check_boxes
from ._flow_crop import check_flow, flow_crop

__all__ = ["FlowTracker", "flow_boxes", "flow_tracker_targets"]

#: FFT's SSD-style variances (0.1, 0.2) are the (10, 10, 5, 5) coder, symmetric encode/decode.
FLOW_CODER = BoxCoder("flowtracker")


def flow_tracker_targets(boxes_t, boxes_t1):
    """Regression targets of the boxes at t+1 relative to the boxes at t.

    ``l_x = dcx / (0.1 w)``, ``l_y = dcy / (0.1 h)``, ``l_w = log(w' / w) / 0.2``,
    ``l_h = log(h' / h) / 0.2``: the (10, 10, 5, 5) coder. The released code omits the 0.2 in
    the size targets but multiplies by it when decoding; this encodes and decodes symmetrically.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.tracking import flow_tracker_targets
    >>> flow_tracker_targets(torch.tensor([[0., 0, 10, 20]]), torch.tensor([[1., 0, 11, 20]]))
    tensor([[1., 0., 0., 0.]])
    """
    return FLOW_CODER.encode(boxes_t1, boxes_t)


def flow_boxes(flow, boxes, head, output_size=25):
    """Move ``boxes`` from frame t to t+1: ``decode(head(flow_crop(flow, boxes), boxes), boxes)``.

    Parameters
    ----------
    flow : torch.Tensor of shape (1, 2, H, W)
    boxes : torch.Tensor of shape (N, 4)
    head : callable ``(crops [N, 2, S, S], boxes [N, 4]) -> deltas [N, 4]``
        A :class:`FlowTracker` or an analytic head.
    output_size : int, default=25

    Returns
    -------
    boxes_t1 : torch.Tensor of shape (N, 4)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.tracking import flow_boxes
    >>> zero = lambda crops, boxes: torch.zeros(len(boxes), 4)
    >>> flow_boxes(torch.zeros(1, 2, 30, 30), torch.tensor([[1., 2, 10, 20]]), zero)
    tensor([[ 1.,  2., 10., 20.]])
    """
    check_flow(flow)
    boxes = check_boxes(boxes)
    if boxes.shape[0] == 0:
        return boxes.clone()
    crops = flow_crop(flow, boxes, output_size)
    deltas = head(crops, boxes)
    if not isinstance(deltas, torch.Tensor) or deltas.shape != boxes.shape:
        raise ValueError(f"head must return deltas of shape {tuple(boxes.shape)}")
    return FLOW_CODER.decode(deltas.to(device=boxes.device, dtype=boxes.dtype), boxes)


class FlowTracker(nn.Module):
    """Four MLPs ``S*S -> hidden -> ReLU -> hidden -> ReLU -> 1``: dx, dw from u; dy, dh from v.

    Parameters
    ----------
    hidden : int, default=2048
        Width of the hidden layers (the paper's 2048; 256 is enough for the CPU experiment).
    crop_size : int, default=25
        Side of the pooled flow crop.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.tracking import FlowTracker
    >>> ft = FlowTracker(hidden=8, crop_size=5)
    >>> ft(torch.zeros(3, 2, 5, 5)).shape
    torch.Size([3, 4])
    >>> ft.predict(torch.zeros(1, 2, 30, 30), torch.tensor([[1., 2, 10, 20]])).shape
    torch.Size([1, 4])
    """

    def __init__(self, hidden=2048, crop_size=25):
        super().__init__()
        self.hidden = check_int(hidden, "hidden", low=1)
        self.crop_size = check_int(crop_size, "crop_size", low=1)
        n = self.crop_size ** 2
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(n, self.hidden), nn.ReLU(), nn.Linear(self.hidden, self.hidden),
                          nn.ReLU(), nn.Linear(self.hidden, 1)) for _ in range(4))

    def extra_repr(self):
        return f"hidden={self.hidden}, crop_size={self.crop_size}, coder=(10, 10, 5, 5)"

    def forward(self, crops, boxes=None):
        """Deltas ``[N, 4]`` (dx, dy, dw, dh) from flow crops ``[N, 2, S, S]``."""
        s = self.crop_size
        if not isinstance(crops, torch.Tensor) or crops.dim() != 4 or \
                tuple(crops.shape[1:]) != (2, s, s):
            raise ValueError(f"crops must have shape [N, 2, {s}, {s}], "
                             f"got {tuple(getattr(crops, 'shape', ()))}")
        w = self.mlps[0][0].weight
        u = crops[:, 0].reshape(len(crops), -1).to(w)
        v = crops[:, 1].reshape(len(crops), -1).to(w)
        return torch.cat([self.mlps[0](u), self.mlps[1](v), self.mlps[2](u), self.mlps[3](v)], 1)

    def predict(self, flow, boxes):
        """Boxes at t+1 from the flow t -> t+1 and the boxes at t (no gradient)."""
        with torch.no_grad():
            return flow_boxes(flow, boxes, self, self.crop_size)
