"""MAL's selection-depression: feature perturbation of the most activated cells (spec §2.4)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..._utils.validation import check_choice, check_int, check_real
from .._checks import check_input_4d

__all__ = ["depression_mask", "depress_features", "depression_ratio", "FeatureDepression"]

#: The 12-part "rise then fall" schedule of the code (``IA_TYPE=5``), for a maximum of 0.5.
RISE_FALL_STEPS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)


def _check_ratio(ratio):
    return check_real(ratio, "ratio", low=0.0, high=1.0, high_inclusive=False)


def depression_mask(features, ratio):
    """Keep-mask ``[B, 1, H, W]``: 0 at the ``floor(H W ratio)`` most activated cells, else 1.

    The activation map is ``M[b, h, w] = sum_c F[b, c, h, w] g_c`` with ``g_c`` the global
    average of channel ``c`` (computed on a detached copy); cells with ``M`` above the value at
    sorted-descending position ``n = floor(H W ratio)`` are depressed (ties at the threshold are
    kept).

    Parameters
    ----------
    features : torch.Tensor of shape (B, C, H, W)
    ratio : float in [0, 1)

    Returns
    -------
    mask : torch.Tensor of shape (B, 1, H, W), same dtype as ``features``

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import depression_mask
    >>> f = torch.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    >>> depression_mask(f, 0.5)
    tensor([[[[1., 1.],
              [0., 0.]]]])
    """
    check_input_4d(features, "features")
    ratio = _check_ratio(ratio)
    f = features.detach()
    b, _, h, w = f.shape
    n = math.floor(h * w * ratio)
    act = (f * f.mean(dim=(2, 3), keepdim=True)).sum(1).reshape(b, h * w)
    thr = torch.sort(act, dim=1, descending=True).values[:, n:n + 1]
    return (act <= thr).to(features.dtype).reshape(b, 1, h, w)


def depress_features(features, ratio, *, depressed_scale=0.25):
    """``F' = F`` at kept cells, ``depressed_scale * F`` at depressed ones (``(3 F m + F) / 4``).

    Parameters
    ----------
    features : torch.Tensor of shape (B, C, H, W)
    ratio : float in [0, 1)
        Depression ratio; 0 leaves ``features`` unchanged.
    depressed_scale : float in [0, 1], default=0.25
        0.25 is the code's ``MASK_TYPE=0``; 0 zeroes the depressed cells (``MASK_TYPE=1``).

    Returns
    -------
    torch.Tensor of shape (B, C, H, W)
        Differentiable in ``features`` (the mask itself carries no gradient).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import depress_features
    >>> depress_features(torch.arange(1.0, 5.0).reshape(1, 1, 2, 2), 0.25)
    tensor([[[[1., 2.],
              [3., 1.]]]])
    """
    scale = check_real(depressed_scale, "depressed_scale", low=0.0, high=1.0)
    mask = depression_mask(features, ratio)
    return features * (mask + scale * (1.0 - mask))


def depression_ratio(iteration, total_iterations, *, schedule="rise_fall", max_ratio=0.5):
    """Depression ratio ``rho(t)``: the code's 12-part rise-then-fall schedule, or a constant.

    ``"rise_fall"`` (``IA_TYPE=5``) splits ``[0, T)`` into 12 equal parts with ratios
    ``0, .1, .2, .3, .4, .5, .5, .4, .3, .2, .1, 0`` times ``max_ratio / 0.5``;
    ``"constant"`` (``IA_TYPE=0``) is ``max_ratio`` throughout.

    Parameters
    ----------
    iteration : int in [0, T)
    total_iterations : int >= 1
    schedule : {"rise_fall", "constant"}, default="rise_fall"
    max_ratio : float in [0, 1), default=0.5

    Returns
    -------
    float

    Examples
    --------
    >>> from normgraph.nn.detection import depression_ratio
    >>> [depression_ratio(t, 1200) for t in range(0, 1200, 100)]
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    """
    total = check_int(total_iterations, "total_iterations", low=1)
    t = check_int(iteration, "iteration", low=0, high=total - 1)
    schedule = check_choice(schedule, "schedule", ("rise_fall", "constant"))
    top = check_real(max_ratio, "max_ratio", low=0.0, high=1.0, high_inclusive=False)
    if schedule == "constant":
        return top
    part = min(12 * t // total, 11)
    return RISE_FALL_STEPS[part] * (top / 0.5)


class FeatureDepression(nn.Module):
    """Module form of :func:`depress_features`; identity in eval mode or at ``ratio = 0``.

    Parameters
    ----------
    depressed_scale : float in [0, 1], default=0.25

    Attributes
    ----------
    ratio : float
        The current ratio, set by the training loop (e.g. from :func:`depression_ratio`).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import FeatureDepression
    >>> dep = FeatureDepression(); dep.ratio = 0.25
    >>> dep(torch.arange(1.0, 5.0).reshape(1, 1, 2, 2)).flatten().tolist()
    [1.0, 2.0, 3.0, 1.0]
    >>> dep.eval()(torch.arange(1.0, 5.0).reshape(1, 1, 2, 2)).flatten().tolist()
    [1.0, 2.0, 3.0, 4.0]
    """

    def __init__(self, depressed_scale=0.25):
        super().__init__()
        self.depressed_scale = check_real(depressed_scale, "depressed_scale", low=0.0, high=1.0)
        self.ratio = 0.0

    def extra_repr(self):
        return f"depressed_scale={self.depressed_scale}, ratio={self.ratio}"

    def forward(self, features):
        """Depress ``features`` by the current ratio (training mode only)."""
        ratio = _check_ratio(self.ratio)
        if not self.training or ratio == 0.0:
            return check_input_4d(features, "features")
        return depress_features(features, ratio, depressed_scale=self.depressed_scale)
