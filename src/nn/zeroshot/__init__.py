"""Zero-shot action recognition: Elaborative Rehearsal (ER-ZSAR, Chen & Huang, ICCV 2021).

Videos (precomputed features) and action classes (elaborative descriptions, "name:
definition" sentences) are embedded in one space; a video is classified by cosine similarity
to the class texts, so unseen classes need only a sentence. The object concepts detected in a
video form a second stream (gated fusion, clamped object scores), and the ER loss trains the
video embedding to retrieve its own concepts among the batch's. The text encoder is pluggable;
the core library depends on no text model.

Table of contents (one operation per file; a functional form beside each module):

``_pooling.py``
    :func:`masked_mean_pool` / :class:`MaskedMeanPool` over the valid tokens.
``_projection.py``
    :class:`VideoProjection`, :class:`TextProjection` (dropout, pooling, linear, L2 norm),
    :func:`l2_normalize`.
``_fusion.py``
    :class:`GatedFusion` / :func:`gated_fusion`, :func:`zsar_scores` (``act``, ``obj``,
    ``logits = act + clamp(obj, 0)``) and the :class:`ZSARScores` record.
``_losses.py``
    :func:`zsar_classification_loss` (fused, action and object CE terms with τ),
    :func:`elaborative_rehearsal_loss` (three multi-label sets, no clamp),
    :func:`build_concept_vocab`, :func:`scale_by_temperature`, :func:`check_class_targets`.
``_metrics.py``
    :func:`topk_accuracy`, :func:`select_per_metric` (val-based selection, per metric).
``_splits.py``
    :func:`zsar_split` and the Kinetics-220 preset :func:`kinetics220_splits` (reads the
    official index files the user supplies).
``_text.py``
    Frozen encoders :class:`TfidfTextEncoder` (scikit-learn) and
    :class:`PrecomputedTextEncoder` (vectors from any model, e.g. MiniLM), :func:`check_texts`.
``_model.py``
    :class:`ZeroShotVideoTextModel` (forward -> cosines; ``loss`` -> ``L_cls + L_er``).

Examples
--------
>>> import torch
>>> from normgraph.nn.zeroshot import topk_accuracy
>>> topk_accuracy(torch.tensor([[0.2, 0.7, 0.1]]), torch.tensor([1]), ks=(1,))
{1: 1.0}
"""

from ._fusion import GatedFusion, ZSARScores, gated_fusion, zsar_scores
from ._losses import (
    build_concept_vocab,
    check_class_targets,
    elaborative_rehearsal_loss,
    scale_by_temperature,
    zsar_classification_loss,
)
from ._metrics import Selection, select_per_metric, topk_accuracy
from ._model import ZeroShotVideoTextModel
from ._pooling import MaskedMeanPool, masked_mean_pool
from ._projection import TextProjection, VideoProjection, l2_normalize
from ._splits import ZSARSplit, kinetics220_splits, zsar_split
from ._text import PrecomputedTextEncoder, TfidfTextEncoder, check_texts

__all__ = [
    "ZeroShotVideoTextModel",
    "VideoProjection",
    "TextProjection",
    "l2_normalize",
    "masked_mean_pool",
    "MaskedMeanPool",
    "GatedFusion",
    "gated_fusion",
    "zsar_scores",
    "ZSARScores",
    "zsar_classification_loss",
    "elaborative_rehearsal_loss",
    "build_concept_vocab",
    "scale_by_temperature",
    "check_class_targets",
    "topk_accuracy",
    "select_per_metric",
    "Selection",
    "zsar_split",
    "kinetics220_splits",
    "ZSARSplit",
    "TfidfTextEncoder",
    "PrecomputedTextEncoder",
    "check_texts",
]
