"""Gradient-based RSC feature scores (Grad-CAM style), via ``torch.autograd.grad`` only."""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._checks import check_tensor

__all__ = ["rsc_scores", "RSCScores", "check_features", "check_targets", "check_logits"]


class RSCScores(NamedTuple):
    """Result of :func:`rsc_scores` (every tensor detached).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.rsc import rsc_scores
    >>> fc = torch.nn.Linear(2, 2)
    >>> s = rsc_scores(torch.randn(3, 2), fc, torch.tensor([0, 1, 0]))
    >>> s._fields, s.spatial is None
    (('logits', 'grad', 'channel', 'spatial'), True)
    """

    logits: torch.Tensor
    """(N, K) logits of the unmuted features."""
    grad: torch.Tensor
    """Gradient of ``sum_i logits[i, y_i]`` with respect to the features (their shape)."""
    channel: torch.Tensor
    """(N, C): the spatial mean of ``grad`` (4-D features) or ``grad`` itself (2-D)."""
    spatial: torch.Tensor | None
    """(N, H, W): ``sum_c features * channel`` (the un-ReLU'd CAM / HW); None for 2-D."""


def check_features(features, ndim, mode):
    """Floating, finite, ``ndim``-D features; ``ValueError`` naming the mode otherwise."""
    check_tensor(features, "features")
    if features.dim() != ndim:
        layout = "(N, C, H, W)" if ndim == 4 else "(N, D)"
        raise ValueError(f"features must be {ndim}-D {layout} in mode={mode!r}, got shape "
                         f"{tuple(features.shape)}")
    if features.shape[0] < 1 or features[0].numel() < 1:
        raise ValueError(f"features must not be empty, got shape {tuple(features.shape)}")
    if not bool(torch.isfinite(features).all()):
        raise ValueError("features contains NaN or infinity")
    return features


def check_targets(targets, n_samples):
    """A 1-D int64 tensor of length ``n_samples``; the label range is checked by
    :func:`check_logits` once the number of classes is known."""
    if targets is None:
        raise ValueError("RSC needs ground-truth labels in train mode")
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if targets.dtype != torch.int64:
        raise ValueError(f"targets must have dtype torch.int64, got {targets.dtype}")
    if targets.dim() != 1 or targets.shape[0] != n_samples:
        raise ValueError(f"targets must have shape ({n_samples},) (one label per sample), got "
                         f"{tuple(targets.shape)}")
    return targets


def check_logits(logits, targets):
    """(N, K) finite logits, and every target in [0, K) (``ValueError`` naming the value)."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 \
            or logits.shape[0] != targets.shape[0]:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits_fn must return (N, n_classes) = ({targets.shape[0]}, K) "
                         f"logits, got {shape}")
    if not bool(torch.isfinite(logits).all()):
        raise ValueError("logits_fn returned NaN or infinite logits")
    n_classes = logits.shape[1]
    bad = (targets < 0) | (targets >= n_classes)
    if bool(bad.any()):
        value = int(targets[bad][0])
        raise ValueError(f"targets must lie in [0, {n_classes}), got {value}")
    return logits


def rsc_scores(features, logits_fn, targets):
    """Gradient of the ground-truth logits with respect to the features, and its RSC scores.

    ``G = d(sum_i logits_fn(F)[i, y_i]) / dF`` on a detached copy of ``F`` with
    ``torch.autograd.grad``: parameters' ``.grad`` and the graph of ``features`` are untouched.
    For 4-D features, ``channel = G.mean((2, 3))`` and ``spatial = sum_c F * channel`` (the
    official code's CAM divided by H*W); for 2-D features (DomainBed), ``channel = G``.

    Parameters
    ----------
    features : torch.Tensor of shape (N, C, H, W) or (N, D)
        Floating, finite.
    logits_fn : callable
        Maps features to (N, K) logits (the head, e.g. average pool then a linear layer).
    targets : torch.Tensor of shape (N,), dtype int64
        Labels in [0, K).

    Returns
    -------
    RSCScores
        ``logits``, ``grad``, ``channel`` and ``spatial`` (None for 2-D features), detached.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.rsc import rsc_scores
    >>> fc = torch.nn.Linear(3, 2)
    >>> head = lambda f: fc(f.mean((2, 3)))
    >>> s = rsc_scores(torch.randn(4, 3, 2, 2), head, torch.tensor([0, 1, 1, 0]))
    >>> torch.allclose(s.channel, fc.weight[[0, 1, 1, 0]] / 4)
    True
    >>> s.spatial.shape
    torch.Size([4, 2, 2])
    """
    if not isinstance(features, torch.Tensor) or features.dim() not in (2, 4):
        check_tensor(features, "features")
        raise ValueError(f"features must be 4-D (N, C, H, W) or 2-D (N, D), got shape "
                         f"{tuple(features.shape)}")
    check_features(features, features.dim(), "spatial" if features.dim() == 4 else "vector")
    return _scores(features, logits_fn, check_targets(targets, features.shape[0]))


def _scores(features, logits_fn, targets):
    detached = features.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = logits_fn(detached)
        check_logits(logits, targets)
        picked = logits.gather(1, targets.view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(picked, detached)
    logits = logits.detach()
    if features.dim() == 2:
        return RSCScores(logits, grad, grad, None)
    channel = grad.mean(dim=(2, 3))
    spatial = (features.detach() * channel[:, :, None, None]).sum(dim=1)
    return RSCScores(logits, grad, channel, spatial)
