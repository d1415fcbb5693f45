"""Pluggable flow providers: OpenCV Farneback on the CPU, torchvision RAFT with user weights."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..._utils.validation import check_int, check_real

__all__ = ["FLOW_DIVISORS", "check_frame_divisor", "FarnebackFlow", "RAFTFlow"]

#: Frame sides must be multiples of these (FlowNet2 64, torchvision RAFT 8, Farneback any size).
FLOW_DIVISORS = {"flownet2": 64, "raft": 8, "farneback": 1}


def check_frame_divisor(frame_size, provider):
    """Raise ``ValueError`` unless both frame sides are multiples of the provider's divisor.

    Examples
    --------
    >>> from normgraph.nn.tracking import check_frame_divisor
    >>> check_frame_divisor((480, 640), "raft")
    (480, 640)
    >>> check_frame_divisor((480, 640), "flownet2")
    Traceback (most recent call last):
    ...
    ValueError: frame (H, W) = (480, 640) must be multiples of 64 for flownet2; ...
    """
    div = FLOW_DIVISORS[provider]
    h, w = (check_int(int(s), "frame_size", low=1) for s in frame_size)
    if h % div or w % div:
        pad = (-(-h // div) * div, -(-w // div) * div)
        raise ValueError(f"frame (H, W) = {(h, w)} must be multiples of {div} for {provider}; "
                         f"resize or pad the frames (e.g. to {pad})")
    return h, w


def _gray(frame):
    a = np.asarray(frame)
    if a.ndim == 3:
        a = a[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    if a.ndim != 2:
        raise ValueError(f"frame must be [H, W] or [H, W, C], got shape {a.shape}")
    return np.clip(a, 0, 255).astype(np.uint8)


class FarnebackFlow:
    """OpenCV Farneback dense flow (CPU, no weights) as the FlowNet2 stand-in.

    Parameters
    ----------
    scale : float in (0, 1], default=1.0
        Compute at this fraction of the frame size, then upsample bilinearly and divide the
        vectors by ``scale`` (the spec's 320x240 re-ID flows use 0.5).
    pyr_scale, levels, winsize, iterations, poly_n, poly_sigma
        OpenCV's parameters (defaults of spec E3).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.nn.tracking import FarnebackFlow
    >>> a = np.zeros((32, 48), np.uint8); a[8:20, 10:20] = 255
    >>> FarnebackFlow()(a, np.roll(a, 2, axis=1)).shape
    torch.Size([1, 2, 32, 48])
    """

    divisor = FLOW_DIVISORS["farneback"]

    def __init__(self, scale=1.0, pyr_scale=0.5, levels=4, winsize=15, iterations=3, poly_n=5,
                 poly_sigma=1.2):
        self.scale = check_real(scale, "scale", low=0.0, high=1.0, low_inclusive=False)
        self.params = (check_real(pyr_scale, "pyr_scale", low=0.0, high=1.0),
                       check_int(levels, "levels", low=1), check_int(winsize, "winsize", low=1),
                       check_int(iterations, "iterations", low=1),
                       check_int(poly_n, "poly_n", low=1),
                       check_real(poly_sigma, "poly_sigma", low=0.0))

    def __repr__(self):
        return f"FarnebackFlow(scale={self.scale})"

    def __call__(self, frame_a, frame_b):
        import cv2
        a, b = _gray(frame_a), _gray(frame_b)
        if a.shape != b.shape:
            raise ValueError(f"frames must have the same size, got {a.shape} and {b.shape}")
        h, w = a.shape
        if self.scale < 1.0:
            size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
            a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
            b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
        flow = cv2.calcOpticalFlowFarneback(a, b, None, *self.params, 0)
        out = torch.from_numpy(np.ascontiguousarray(flow.transpose(2, 0, 1)))[None]
        if out.shape[2:] != (h, w):
            out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
            out[:, 0] *= w / flow.shape[1]
            out[:, 1] *= h / flow.shape[0]
        return out


class RAFTFlow:
    """torchvision's RAFT as a flow provider; the user supplies the model with its weights.

    Nothing is downloaded: build ``torchvision.models.optical_flow.raft_small(weights=None)``
    and load a state dict you have. Frame sides must be multiples of 8 (and at least 128).

    Parameters
    ----------
    model : torch.nn.Module
        A torchvision RAFT model (returns a list of flow refinements; the last one is used).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torchvision.models.optical_flow import raft_small
    >>> from normgraph.nn.tracking import RAFTFlow
    >>> _ = torch.manual_seed(0)
    >>> prov = RAFTFlow(raft_small(weights=None).eval())
    >>> prov(np.zeros((128, 128, 3), np.uint8), np.zeros((128, 128, 3), np.uint8)).shape
    torch.Size([1, 2, 128, 128])
    >>> prov(np.zeros((60, 64, 3), np.uint8), np.zeros((60, 64, 3), np.uint8))
    Traceback (most recent call last):
    ...
    ValueError: frame (H, W) = (60, 64) must be multiples of 8 for raft; ...
    """

    divisor = FLOW_DIVISORS["raft"]

    def __init__(self, model):
        self.model = model

    def __repr__(self):
        return f"RAFTFlow({type(self.model).__name__})"

    def _tensor(self, frame):
        a = np.asarray(frame, dtype=np.float32)
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"frame must be [H, W, 3] RGB, got shape {a.shape}")
        check_frame_divisor(a.shape[:2], "raft")
        p = next(self.model.parameters())
        return (torch.from_numpy(a).permute(2, 0, 1)[None] / 127.5 - 1.0).to(p)

    def __call__(self, frame_a, frame_b):
        a, b = self._tensor(frame_a), self._tensor(frame_b)
        with torch.no_grad():
            return self.model(a, b)[-1]
