"""Shared detection blocks and CASD weakly supervised detection (torch + torchvision ops).

Boxes are ``(x1, y1, x2, y2)`` in the continuous convention (``w = x2 - x1``); the legacy "+1"
pixel convention is an option where the original code used it. torchvision's ``box_iou``,
``nms`` and ``roi_align`` do the work; this package adds the checks, the conventions and what
torchvision lacks.

Table of contents (one operation per file)
------------------------------------------
``_boxes.py``
    :func:`check_boxes`, :func:`box_area`, :func:`box_iou`, :func:`nms` (ties by index),
    :func:`horizontal_flip_boxes`.
``_coder.py``
    :class:`BoxCoder` (Faster R-CNN coder, named weights in :data:`CODER_WEIGHTS`).
``_ap.py``
    :func:`average_precision` (all-points VOC / pycocotools-style ``coco101``; VOC or COCO
    matching; difficult boxes) and :func:`precision_envelope_ap`.
``_corloc.py``
    :func:`corloc` / :class:`CorLocResult`.
``_proposals.py``
    :func:`sliding_window_proposals` and seeded :func:`jittered_proposals`: how proposals are
    made for the CPU experiments (Selective Search stand-in; the jittered boxes leak
    GT-adjacent boxes, as Selective Search does).
``_casd_mil.py``
    CASD's MIL stream: :func:`check_image_labels`, :func:`proposal_softmax` (per view),
    :func:`mil_image_scores`, :func:`mil_loss` (``logit_hinge`` as coded, ``wsddn_bce``).
``_casd_mining.py``
    :func:`mine_pseudo_labels` (PCL graph centres / OICR top-1) -> :class:`PseudoLabels`;
    :func:`sample_rois`.
``_casd_attention.py``
    :func:`attention_map`, :func:`flip_attention`, :func:`iw_loss` (input-wise) and
    :func:`lw_loss` (layer-wise self-distillation, teacher detached).
``_casd_inverted.py``
    :func:`inverted_attention_mask` (the code's Grad-CAM-like masking of refinement inputs).
``_casd_schedule.py``
    :func:`casd_ramp`: the exponential ramp without the released code's latch-off bug.
``_casd.py``
    :class:`CASD` (the detector: multi-view loss, multi-view test-time averaging) and
    :func:`make_views`.
``_mal_bags.py``
    MAL/FreeAnchor bags: :func:`anchor_bags` (top-k IoU) and :func:`mean_max` (straight-through
    clamp).
``_mal_loss.py``
    :func:`mal_loss` / :class:`MALLoss` (positive bag and background terms, ``max(1, .)``
    normalisers) and :func:`check_detection_targets`.
``_mal_depress.py``
    Selection-depression: :func:`depression_mask`, :func:`depress_features`,
    :func:`depression_ratio` (rise-then-fall schedule), :class:`FeatureDepression`.
``_mal_torchvision.py``
    The MAL loss on torchvision's ``RetinaNet``: :func:`retinanet_mal_loss`,
    :func:`retinanet_detect`, :func:`check_same_coder`, :func:`torchvision_coder`.
``_retinanet_tiny.py``
    :class:`TinyRetinaNet` (CPU experiment detector) and :func:`retinanet_focal_loss`
    (IoU-threshold focal baseline).

Examples
--------
>>> import torch
>>> from normgraph.nn.detection import box_iou
>>> box_iou(torch.tensor([[0., 0, 2, 2]]), torch.tensor([[0., 0, 2, 2]]))
tensor([[1.]])
"""

from ._ap import average_precision, precision_envelope_ap
from ._boxes import box_area, box_iou, check_boxes, horizontal_flip_boxes, nms
from ._casd import CASD, make_views
from ._casd_attention import attention_map, flip_attention, iw_loss, lw_loss
from ._casd_inverted import inverted_attention_mask
from ._casd_mil import check_image_labels, mil_image_scores, mil_loss, proposal_softmax
from ._casd_mining import PseudoLabels, mine_pseudo_labels, sample_rois
from ._casd_schedule import casd_ramp
from ._coder import CODER_WEIGHTS, BoxCoder
from ._corloc import CorLocResult, corloc
from ._mal_bags import anchor_bags, mean_max
from ._mal_depress import FeatureDepression, depress_features, depression_mask, depression_ratio
from ._mal_loss import MALLoss, check_detection_targets, mal_loss
from ._mal_torchvision import (check_same_coder, retinanet_detect, retinanet_mal_loss,
                               torchvision_coder)
from ._proposals import jittered_proposals, sliding_window_proposals
from ._retinanet_tiny import TinyRetinaNet, retinanet_focal_loss

__all__ = [
    "check_boxes",
    "box_area",
    "box_iou",
    "nms",
    "horizontal_flip_boxes",
    "BoxCoder",
    "CODER_WEIGHTS",
    "average_precision",
    "precision_envelope_ap",
    "corloc",
    "CorLocResult",
    "sliding_window_proposals",
    "jittered_proposals",
    "check_image_labels",
    "proposal_softmax",
    "mil_image_scores",
    "mil_loss",
    "mine_pseudo_labels",
    "PseudoLabels",
    "sample_rois",
    "attention_map",
    "flip_attention",
    "iw_loss",
    "lw_loss",
    "inverted_attention_mask",
    "casd_ramp",
    "CASD",
    "make_views",
    "anchor_bags",
    "mean_max",
    "mal_loss",
    "MALLoss",
    "check_detection_targets",
    "depression_mask",
    "depress_features",
    "depression_ratio",
    "FeatureDepression",
    "check_same_coder",
    "retinanet_mal_loss",
    "retinanet_detect",
    "torchvision_coder",
    "TinyRetinaNet",
    "retinanet_focal_loss",
]
