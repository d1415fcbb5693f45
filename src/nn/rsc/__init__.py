"""Representation Self-Challenging (RSC, Huang et al., ECCV 2020, arXiv:2007.02454).

During training, mute the features the classifier relies on most (largest gradient of the
ground-truth logit) for the samples whose confidence drops most, and train on the rest.
Architecture-agnostic: the pure function :func:`rsc_mask`, and :class:`RSCHead` around any
head, which is the identity in eval mode. No parameters are added.

Table of contents (one operation per file; a functional form beside the module):

``_scores.py``
    :func:`rsc_scores` / :class:`RSCScores`: the ground-truth-logit gradient (by
    ``torch.autograd.grad``), channel scores (its spatial mean) and spatial scores (the CAM).
``_select.py``
    The selection kernels: per-sample units (``strict_topk``, official ``threshold``,
    DomainBed ``percentile``, ImageNet ``random_above_median``) and challenged samples.
``_mask.py``
    :func:`rsc_mask` / :class:`RSCDetails`: spatial, channel, vector and per-batch random
    modes, ``channel_drop``, ``drop_rounding``, the batch fraction with ``eps`` and ``clamp``.
``_schedule.py``
    :class:`RSCSchedule`: ``official_curriculum`` (0.3 + 0.2 * (epoch // 10), at most 0.9),
    ``imagenet`` (the step table), ``constant``.
``_presets.py``
    :func:`rsc_preset`: ``official_dg``, ``paper_v1``, ``domainbed``, ``imagenet``.
``_head.py``
    :class:`RSCHead` (module) and :func:`rsc_forward` (functional form).
"""

from ._head import RSCHead, rsc_forward
from ._mask import RSCDetails, rsc_mask
from ._presets import rsc_preset
from ._schedule import RSCSchedule
from ._scores import RSCScores, rsc_scores

__all__ = [
    "rsc_mask",
    "RSCDetails",
    "rsc_scores",
    "RSCScores",
    "RSCSchedule",
    "rsc_preset",
    "RSCHead",
    "rsc_forward",
]
