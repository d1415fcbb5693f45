"""``RSCHead`` / ``rsc_forward``: RSC around any classifier head (identity in eval mode)."""

from __future__ import annotations

import inspect

from torch import nn

from ..._utils.validation import check_choice, check_int
from .._checks import check_tensor
from ._mask import _fraction, rsc_mask
from ._presets import PRESET_SCHEDULES, PRESETS, rsc_preset
from ._schedule import RSCSchedule

__all__ = ["RSCHead", "rsc_forward"]

_MASK_KWARGS = tuple(name for name, p in inspect.signature(rsc_mask).parameters.items()
                     if p.kind is p.KEYWORD_ONLY and name not in ("rng", "return_details"))
_API_DEFAULTS = {name: inspect.signature(rsc_mask).parameters[name].default
                 for name in _MASK_KWARGS}


def rsc_forward(features, logits_fn, targets, **mask_kwargs):
    """Logits of the RSC-muted features: ``logits_fn(features * rsc_mask(...))``.

    The mask is a constant, so gradients reach the features (and the backbone) through the
    unmuted entries only; the muted entries of challenged samples get exactly zero gradient.

    Parameters
    ----------
    features, logits_fn, targets
        As in :func:`rsc_mask`.
    **mask_kwargs
        Keyword arguments of :func:`rsc_mask` (for instance ``**rsc_preset("official_dg")``).

    Returns
    -------
    logits : torch.Tensor of shape (N, K)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.rsc import rsc_forward
    >>> fc = torch.nn.Linear(4, 3)
    >>> f = torch.randn(8, 4, 2, 2, requires_grad=True)
    >>> logits = rsc_forward(f, lambda x: fc(x.mean((2, 3))), torch.arange(8) % 3, mode="channel")
    >>> torch.nn.functional.cross_entropy(logits, torch.arange(8) % 3).backward()
    >>> f.grad.shape
    torch.Size([8, 4, 2, 2])
    """
    return logits_fn(features * rsc_mask(features, logits_fn, targets, **mask_kwargs))


def _pool(features, pool):
    if pool == "avg" and features.dim() == 4:
        return features.mean(dim=(2, 3))
    return features


class RSCHead(nn.Module):
    """Representation Self-Challenging around a classifier head.

    In training mode, ``forward(features, targets)`` computes :func:`rsc_mask` with the head
    (switched to eval mode for the scoring passes, so its BatchNorm/dropout are not
    disturbed) and returns ``classifier(pool(features * mask))``. In eval mode it is exactly
    ``classifier(pool(features))``: no mask, no random draw. No parameters are added.

    Parameters
    ----------
    classifier : torch.nn.Module
        The head on pooled features, e.g. ``nn.Linear(C, K)``.
    pool : {"avg", "none"}, default="avg"
        ``"avg"``: global average pooling of 4-D features before ``classifier`` (the official
        ``AvgPool2d`` head); ``"none"``: the features go to ``classifier`` as they are (2-D
        features for mode "vector", or a head that pools itself).
    preset : {"official_dg", "paper_v1", "domainbed", "imagenet"} or None, default=None
        Start from :func:`rsc_preset`'s arguments and batch-fraction schedule (None: the
        :func:`rsc_mask` defaults, constant ``batch_drop``).
    schedule : RSCSchedule, str or None, default=None
        Batch fraction per epoch (see :meth:`set_epoch`); a string is an ``RSCSchedule`` kind.
        None: the preset's schedule, or a constant ``batch_drop``.
    rng : torch.Generator or None, default=None
        Passed to :func:`rsc_mask`.
    **overrides
        :func:`rsc_mask` keyword arguments replacing the preset's (an explicit ``batch_drop``
        makes the default schedule constant).

    Attributes
    ----------
    epoch_ : int
        The epoch set by :meth:`set_epoch` (0 at first).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.rsc import RSCHead
    >>> head = RSCHead(torch.nn.Linear(16, 10), preset="official_dg")
    >>> head
    RSCHead(
      pool='avg', preset='official_dg', schedule=RSCSchedule('official_curriculum')
      (classifier): Linear(in_features=16, out_features=10, bias=True)
    )
    >>> f, y = torch.randn(32, 16, 4, 4), torch.randint(0, 10, (32,))
    >>> head(f, y).shape
    torch.Size([32, 10])
    >>> _ = head.eval()
    >>> torch.equal(head(f), head.classifier(f.mean((2, 3))))
    True
    """

    def __init__(self, classifier, *, pool="avg", preset=None, schedule=None, rng=None,
                 **overrides):
        super().__init__()
        if not isinstance(classifier, nn.Module):
            raise TypeError(f"classifier must be a torch.nn.Module, got "
                            f"{type(classifier).__name__}")
        self.classifier = classifier
        self.pool = check_choice(pool, "pool", ("avg", "none"))
        self.preset = preset if preset is None else check_choice(preset, "preset", tuple(PRESETS))
        unknown = sorted(set(overrides) - set(_MASK_KWARGS))
        if unknown:
            raise TypeError(f"RSCHead got unexpected keyword argument(s) {unknown}; expected "
                            f"keyword arguments of rsc_mask: {list(_MASK_KWARGS)}")
        self.overrides = dict(overrides)
        self.rng = rng
        self.schedule = self._make_schedule(schedule)
        self.epoch_ = 0
        self.mask_kwargs(0)  # validates every argument now

    def _make_schedule(self, schedule):
        if isinstance(schedule, RSCSchedule):
            return schedule
        base = dict(_API_DEFAULTS) if self.preset is None else rsc_preset(self.preset)
        base.update(self.overrides)
        _fraction(base["batch_drop"], "batch_drop")
        if schedule is None:
            if self.preset is None or "batch_drop" in self.overrides:
                return RSCSchedule("constant", base["batch_drop"])
            kind = PRESET_SCHEDULES[self.preset]
            return RSCSchedule(kind, base["batch_drop"])
        check_choice(schedule, "schedule", ("official_curriculum", "imagenet", "constant"))
        return RSCSchedule(schedule, base["batch_drop"])

    def set_epoch(self, epoch):
        """Set the epoch that the batch-fraction schedule reads (call it at each epoch start).

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.rsc import RSCHead
        >>> head = RSCHead(torch.nn.Linear(4, 2), preset="official_dg")
        >>> head.set_epoch(12).mask_kwargs()["batch_drop"]
        0.5
        """
        self.epoch_ = check_int(epoch, "epoch", low=0)
        return self

    def mask_kwargs(self, epoch=None):
        """The :func:`rsc_mask` keyword arguments used at ``epoch`` (default: ``epoch_``).

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.rsc import RSCHead
        >>> RSCHead(torch.nn.Linear(4, 2), preset="domainbed", pool="none").mask_kwargs()["mode"]
        'vector'
        """
        kwargs = dict(_API_DEFAULTS) if self.preset is None else rsc_preset(self.preset)
        kwargs.update(self.overrides)
        kwargs["batch_drop"] = self.schedule(self.epoch_ if epoch is None else epoch)
        return kwargs

    def _logits(self, features):
        return self.classifier(_pool(features, self.pool))

    def forward(self, features, targets=None):
        check_tensor(features, "features")
        if not self.training:
            return self._logits(features)
        if targets is None:
            raise ValueError("RSC needs ground-truth labels in train mode")
        was_training = self.classifier.training
        self.classifier.eval()
        try:
            mask = rsc_mask(features, self._logits, targets, rng=self.rng, **self.mask_kwargs())
        finally:
            self.classifier.train(was_training)
        return self._logits(features * mask)

    def extra_repr(self):
        parts = [f"pool={self.pool!r}", f"preset={self.preset!r}", f"schedule={self.schedule!r}"]
        parts += [f"{k}={v!r}" for k, v in self.overrides.items()]
        return ", ".join(parts)
