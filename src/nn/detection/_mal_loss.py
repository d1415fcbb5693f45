"""The MAL / FreeAnchor bag loss (spec §2.3): positive bag likelihood and the background term."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils.validation import check_int, check_real
from .._checks import check_tensor
from ._boxes import box_iou, check_boxes
from ._coder import BoxCoder
from ._mal_bags import anchor_bags, check_bag_size, mean_max

__all__ = ["mal_loss", "MALLoss", "check_detection_targets"]


def _check_head(cls_logits, bbox_regression):
    check_tensor(cls_logits, "cls_logits")
    check_tensor(bbox_regression, "bbox_regression")
    if cls_logits.dim() != 3:
        raise ValueError(f"cls_logits must have shape [B, N, C], got {tuple(cls_logits.shape)}")
    b, n, _ = cls_logits.shape
    if bbox_regression.shape != (b, n, 4):
        raise ValueError(f"bbox_regression must have shape [{b}, {n}, 4], got "
                         f"{tuple(bbox_regression.shape)}")


def _check_anchors(anchors, batch, n_anchors):
    if isinstance(anchors, torch.Tensor):
        anchors = [anchors] * batch
    if not isinstance(anchors, (list, tuple)) or len(anchors) != batch:
        raise ValueError(f"anchors must be a [N, 4] tensor or a list of {batch} of them")
    out = [check_boxes(a, "anchors") for a in anchors]
    for a in out:
        if a.shape[0] != n_anchors:
            raise ValueError(f"anchors must have {n_anchors} rows (the head's N), got "
                             f"{a.shape[0]}")
    return out


def check_detection_targets(targets, batch, num_classes):
    """Validate ``[{"boxes": [M, 4], "labels": [M]}, ...]`` (one per image) for a detection loss.

    Labels must be integers in ``[0, num_classes)`` and boxes must have positive area; an image
    may have no box.

    Parameters
    ----------
    targets : list of dict
    batch : int
        Expected number of images.
    num_classes : int

    Returns
    -------
    list of (boxes, labels)
        ``boxes`` float tensors ``[M, 4]``, ``labels`` int64 tensors ``[M]``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import check_detection_targets
    >>> t = [{"boxes": torch.tensor([[0., 0, 4, 4]]), "labels": torch.tensor([3])}]
    >>> check_detection_targets(t, 1, 2)
    Traceback (most recent call last):
    ...
    ValueError: targets[0]['labels'] must lie in [0, 2), got 3
    """
    if not isinstance(targets, (list, tuple)) or len(targets) != batch:
        raise ValueError(f"targets must be a list of {batch} dicts with 'boxes' and 'labels'")
    out = []
    for i, t in enumerate(targets):
        if not isinstance(t, dict) or "boxes" not in t or "labels" not in t:
            raise ValueError(f"targets[{i}] must be a dict with 'boxes' and 'labels'")
        boxes = check_boxes(t["boxes"], f"targets[{i}]['boxes']")
        labels = torch.as_tensor(t["labels"])
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise TypeError(f"targets[{i}]['labels'] must be integers, got {labels.dtype}")
        if labels.shape != (boxes.shape[0],):
            raise ValueError(f"targets[{i}]['labels'] must have shape [{boxes.shape[0]}], got "
                             f"{tuple(labels.shape)}")
        if labels.numel() and bool(((labels < 0) | (labels >= num_classes)).any()):
            bad = int(labels[(labels < 0) | (labels >= num_classes)][0])
            raise ValueError(f"targets[{i}]['labels'] must lie in [0, {num_classes}), got {bad}")
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        if boxes.numel() and bool((area <= 0).any()):
            row = int(torch.nonzero(area <= 0)[0])
            raise ValueError(f"targets[{i}]['boxes'] row {row} has zero area: "
                             f"{boxes[row].tolist()}")
        out.append((boxes, labels.to(torch.int64)))
    return out


def _smooth_l1_sum(pred, target, beta):
    return F.smooth_l1_loss(pred, target, beta=beta, reduction="none").sum(-1)


def _bag_probabilities(logits, reg, anchors, boxes, labels, coder, k, reg_weight, beta):
    """``x_ij = P_cls_ij * P_loc_ij`` over each object's bag, shape ``[M, k]``."""
    bags = anchor_bags(boxes, anchors, k)                                   # [M, k]
    m = boxes.shape[0]
    p_cls = torch.sigmoid(logits[bags, labels[:, None]])                    # [M, k]
    targets = coder.encode(boxes[:, None].expand(m, k, 4).reshape(-1, 4).to(anchors.dtype),
                           anchors[bags].reshape(-1, 4)).to(reg.dtype)
    sl1 = _smooth_l1_sum(reg[bags].reshape(-1, 4), targets, beta).reshape(m, k)
    return p_cls * torch.exp(-reg_weight * sl1)


def _positive_plus(reg, anchors, boxes, labels, coder, num_classes, threshold):
    """``P_plus[j, c]``: max over objects of class c of ``clamp((IoU - t1) / (t2 - t1), 0, 1)``."""
    n = anchors.shape[0]
    p_plus = reg.new_zeros(n, num_classes)
    if boxes.shape[0] == 0:
        return p_plus
    with torch.no_grad():
        decoded = coder.decode(reg.detach().to(anchors.dtype), anchors)
        iou = box_iou(boxes.to(anchors.dtype), decoded)                     # [M, N]
        t2 = torch.clamp(iou.max(dim=1, keepdim=True).values, min=threshold + 1e-12)
        prob = torch.clamp((iou - threshold) / (t2 - threshold), 0.0, 1.0).to(reg.dtype)
        for c in torch.unique(labels).tolist():
            p_plus[:, c] = prob[labels == c].max(dim=0).values
    return p_plus


def _background_focal(logits, p_plus, gamma):
    """``FL(p) = -p^gamma log(1 - p)`` with ``p = sigmoid(l) (1 - P_plus)``, in log space."""
    log_one_minus_p = torch.logaddexp(F.logsigmoid(-logits),
                                      F.logsigmoid(logits) + torch.log(p_plus))
    p = torch.sigmoid(logits) * (1.0 - p_plus)
    return -(p ** gamma) * log_one_minus_p


def _check_options(coder, pre_anchor_topk, bbox_threshold, gamma, alpha, reg_weight, beta):
    if not isinstance(coder, BoxCoder):
        raise TypeError(f"box_coder must be a normgraph BoxCoder, got {type(coder).__name__}")
    return (check_int(pre_anchor_topk, "pre_anchor_topk", low=1),
            check_real(bbox_threshold, "bbox_threshold", low=0.0, high=1.0, high_inclusive=False),
            check_real(gamma, "gamma", low=0.0),
            check_real(alpha, "alpha", low=0.0, high=1.0),
            check_real(reg_weight, "reg_weight", low=0.0),
            check_real(beta, "beta", low=0.0))


def mal_loss(cls_logits, bbox_regression, anchors, targets, *, box_coder, pre_anchor_topk=40,
             bbox_threshold=0.6, gamma=2.0, alpha=0.5, reg_weight=0.75, beta=0.11):
    """The MAL / FreeAnchor detection loss ``alpha * L_pos + (1 - alpha) * L_neg`` (spec §2.3).

    Bags are the ``k`` anchors of highest IoU with each object; ``x_ij = P_cls * P_loc`` with
    ``P_loc = exp(-reg_weight * SmoothL1_beta(reg_j, encode(b_i, anchor_j)))``;
    ``L_pos = sum_i -log MeanMax(X_i) / max(1, |B|)``; ``L_neg = sum_{j,c} FL(P_cls (1 - P_plus))
    / max(1, |B| k)``, with ``P_plus`` from the IoU of the decoded boxes (no gradient) and
    ``|B|`` the number of objects in the batch. An image without objects contributes only
    negative terms; a batch without objects has ``L_pos = 0 * sum(reg)`` (the regression branch
    stays in the graph with zero gradients).

    Parameters
    ----------
    cls_logits : torch.Tensor of shape (B, N, C)
        Sigmoid classification logits of every anchor.
    bbox_regression : torch.Tensor of shape (B, N, 4)
        Box deltas, in ``box_coder``'s scaling.
    anchors : torch.Tensor of shape (N, 4), or list of B of them
    targets : list of B dicts
        ``{"boxes": [M, 4], "labels": [M]}``, labels in ``[0, C)``, boxes of positive area.
    box_coder : BoxCoder
        The detector's coder: it encodes the ``P_loc`` targets and decodes for ``P_plus``.
        ``beta = 0.11`` and ``reg_weight = 0.75`` were set for ``(10, 10, 5, 5)``-scaled deltas;
        with ``(1, 1, 1, 1)`` the same box error gives smaller deltas and ``P_loc`` nearer 1.
    pre_anchor_topk : int, default=40
        Bag size ``k``, ``1 <= k <= N``.
    bbox_threshold : float in [0, 1), default=0.6
        ``t1`` of ``P{a_j -> b_i}``.
    gamma : float, default=2.0
    alpha : float in [0, 1], default=0.5
    reg_weight : float, default=0.75
    beta : float, default=0.11
        Smooth-L1 transition point.

    Returns
    -------
    dict
        ``"loss"`` (the total), ``"positive"`` (``L_pos``) and ``"negative"`` (``L_neg``).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import BoxCoder, mal_loss
    >>> anchors = torch.tensor([[0., 0, 10, 10], [0, 0, 20, 20], [10, 10, 20, 20]])
    >>> logits, reg = torch.zeros(1, 3, 2, requires_grad=True), torch.zeros(1, 3, 4)
    >>> t = [{"boxes": torch.tensor([[0., 0, 10, 10]]), "labels": torch.tensor([1])}]
    >>> out = mal_loss(logits, reg, anchors, t, box_coder=BoxCoder("rcnn"), pre_anchor_topk=2)
    >>> round(out["positive"].item(), 4)  # -log MeanMax(0.5, ~0) = -log(1/3)
    1.0986
    """
    _check_head(cls_logits, bbox_regression)
    b, n, c = cls_logits.shape
    k, thr, gamma, alpha, reg_weight, beta = _check_options(
        box_coder, pre_anchor_topk, bbox_threshold, gamma, alpha, reg_weight, beta)
    check_bag_size(k, n)
    anchors = _check_anchors(anchors, b, n)
    objects = check_detection_targets(targets, b, c)
    positive_terms, negative = [], cls_logits.new_zeros(())
    for i, (boxes, labels) in enumerate(objects):
        anc = anchors[i].to(cls_logits.device)
        boxes, labels = boxes.to(anc.device), labels.to(anc.device)
        if boxes.shape[0]:
            x = _bag_probabilities(cls_logits[i], bbox_regression[i], anc, boxes, labels,
                                   box_coder, k, reg_weight, beta)
            bag = torch.clamp(mean_max(x), min=torch.finfo(x.dtype).tiny)
            positive_terms.append(-torch.log(bag))
        p_plus = _positive_plus(bbox_regression[i], anc, boxes, labels, box_coder, c, thr)
        negative = negative + _background_focal(cls_logits[i], p_plus, gamma).sum()
    n_obj = sum(int(o[0].shape[0]) for o in objects)
    if positive_terms:
        positive = torch.cat(positive_terms).sum() / max(1, n_obj)
    else:
        positive = 0.0 * bbox_regression.sum()
    negative = negative / max(1, n_obj * k)
    return {"loss": alpha * positive + (1.0 - alpha) * negative,
            "positive": positive, "negative": negative}


class MALLoss(nn.Module):
    """Module form of :func:`mal_loss`; holds the detector's :class:`BoxCoder` and the constants.

    Parameters
    ----------
    box_coder : BoxCoder
        The one coder of the detector (spec §0.1): ``BoxCoder("rcnn")`` for MAL's own detector,
        ``BoxCoder("torchvision_retinanet")`` when attached to torchvision's ``RetinaNet``.
    pre_anchor_topk : int, default=40
    bbox_threshold : float, default=0.6
    gamma : float, default=2.0
    alpha : float, default=0.5
    reg_weight : float, default=0.75
    beta : float, default=0.11

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import BoxCoder, MALLoss
    >>> loss = MALLoss(BoxCoder("rcnn"), pre_anchor_topk=1)
    >>> loss
    MALLoss(box_coder=BoxCoder(weights=(10.0, 10.0, 5.0, 5.0), clip=4.135), pre_anchor_topk=1, ...)
    >>> t = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    >>> out = loss(torch.zeros(1, 2, 1), torch.zeros(1, 2, 4), torch.tensor([[0., 0, 1, 1]] * 2), t)
    >>> float(out["positive"]), round(float(out["negative"]), 4)  # 2 * 0.25 * log 2
    (0.0, 0.3466)
    """

    def __init__(self, box_coder, pre_anchor_topk=40, bbox_threshold=0.6, gamma=2.0, alpha=0.5,
                 reg_weight=0.75, beta=0.11):
        super().__init__()
        _check_options(box_coder, pre_anchor_topk, bbox_threshold, gamma, alpha, reg_weight,
                       beta)
        self.box_coder = box_coder
        self.pre_anchor_topk = pre_anchor_topk
        self.bbox_threshold = bbox_threshold
        self.gamma = gamma
        self.alpha = alpha
        self.reg_weight = reg_weight
        self.beta = beta

    def extra_repr(self):
        return (f"box_coder={self.box_coder!r}, pre_anchor_topk={self.pre_anchor_topk}, "
                f"bbox_threshold={self.bbox_threshold}, gamma={self.gamma}, alpha={self.alpha}, "
                f"reg_weight={self.reg_weight}, beta={self.beta}")

    def forward(self, cls_logits, bbox_regression, anchors, targets):
        """See :func:`mal_loss`."""
        return mal_loss(cls_logits, bbox_regression, anchors, targets, box_coder=self.box_coder,
                        pre_anchor_topk=self.pre_anchor_topk,
                        bbox_threshold=self.bbox_threshold, gamma=self.gamma, alpha=self.alpha,
                        reg_weight=self.reg_weight, beta=self.beta)
