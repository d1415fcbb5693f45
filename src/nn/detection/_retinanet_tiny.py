"""A tiny RetinaNet-style detector for CPU experiments (spec §5.4 E2), and the focal baseline loss.

Three conv stages (strides 4, 8, 16), a two-level FPN (P3 at stride 8, P4 at stride 16), shared
class and box towers, torchvision's ``AnchorGenerator`` and the one :class:`BoxCoder` of the model
(weights (10, 10, 5, 5), as MAL's detector). Inference is standard RetinaNet post-processing.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import batched_nms, sigmoid_focal_loss

from ..._utils.validation import check_int, check_real
from .._checks import check_input_4d
from ._boxes import box_iou
from ._coder import BoxCoder
from ._mal_depress import depress_features
from ._mal_loss import _check_anchors, _check_head, check_detection_targets

__all__ = ["TinyRetinaNet", "retinanet_focal_loss"]


def _conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU(inplace=True))


def _tower(width, depth):
    return nn.Sequential(*[_conv(width, width) for _ in range(depth)])


class TinyRetinaNet(nn.Module):
    """RetinaNet-style detector: 3-stage CNN + 2-level FPN (strides 8, 16), 3 anchors per cell.

    Parameters
    ----------
    num_classes : int
        Sigmoid classes ``C`` (no background class).
    in_channels : int, default=1
    width : int, default=64
        Channels of the FPN and of the towers.
    tower_depth : int, default=2
        Conv3x3 + ReLU layers per tower.
    anchor_sizes : tuple of 2 tuples, default=((24, 30, 38), (48, 60, 76))
        Square anchors per level (3 scales an octave apart in thirds).
    prior : float, default=0.02
        Initial foreground probability (MAL: 0.02, RetinaNet: 0.01).
    box_coder : BoxCoder or None, default=None
        ``BoxCoder("rcnn")`` when None; used by the losses and by :meth:`detect`.

    Attributes
    ----------
    depression : float
        Depression ratio of the FPN features in training mode (set per iteration; 0 = off).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import TinyRetinaNet
    >>> net = TinyRetinaNet(num_classes=4)
    >>> out = net(torch.zeros(2, 1, 96, 96))
    >>> out["cls_logits"].shape, out["bbox_regression"].shape, out["anchors"].shape
    (torch.Size([2, 540, 4]), torch.Size([2, 540, 4]), torch.Size([540, 4]))
    """

    def __init__(self, num_classes, in_channels=1, width=64, tower_depth=2,
                 anchor_sizes=((24, 30, 38), (48, 60, 76)), prior=0.02, box_coder=None):
        super().__init__()
        self.num_classes = check_int(num_classes, "num_classes", low=1)
        self.width = check_int(width, "width", low=1)
        prior = check_real(prior, "prior", low=0.0, high=1.0, low_inclusive=False,
                           high_inclusive=False)
        self.box_coder = BoxCoder("rcnn") if box_coder is None else box_coder
        if not isinstance(self.box_coder, BoxCoder):
            raise TypeError("box_coder must be a normgraph BoxCoder")
        w = self.width
        self.stage1 = nn.Sequential(_conv(check_int(in_channels, "in_channels", low=1), w // 2, 2),
                                    _conv(w // 2, w // 2, 2))
        self.stage2 = nn.Sequential(_conv(w // 2, w, 2), _conv(w, w))
        self.stage3 = nn.Sequential(_conv(w, w, 2), _conv(w, w))
        self.lateral3, self.lateral4 = nn.Conv2d(w, w, 1), nn.Conv2d(w, w, 1)
        self.smooth3 = nn.Conv2d(w, w, 3, 1, 1)
        depth = check_int(tower_depth, "tower_depth", low=0)
        self.anchor_generator = AnchorGenerator(tuple(tuple(s) for s in anchor_sizes),
                                                ((1.0,),) * len(anchor_sizes))
        self.num_anchors = len(anchor_sizes[0])
        self.cls_tower, self.reg_tower = _tower(w, depth), _tower(w, depth)
        self.cls_logits = nn.Conv2d(w, self.num_anchors * self.num_classes, 3, 1, 1)
        self.bbox_pred = nn.Conv2d(w, self.num_anchors * 4, 3, 1, 1)
        for m in [*self.cls_tower.modules(), *self.reg_tower.modules(), self.cls_logits,
                  self.bbox_pred]:
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior) / prior))
        self.depression = 0.0

    def extra_repr(self):
        return (f"num_classes={self.num_classes}, width={self.width}, "
                f"num_anchors={self.num_anchors}, box_coder={self.box_coder!r}")

    def features(self, images):
        """FPN levels ``[P3, P4]`` of ``images`` ``[B, C_in, H, W]``."""
        c3 = self.stage2(self.stage1(images))
        c4 = self.stage3(c3)
        p4 = self.lateral4(c4)
        up = nn.functional.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        return [self.smooth3(self.lateral3(c3) + up), p4]

    def _flatten(self, x, per_cell):
        b, _, h, w = x.shape
        return x.reshape(b, self.num_anchors, per_cell, h, w).permute(0, 3, 4, 1, 2).reshape(
            b, h * w * self.num_anchors, per_cell)

    def forward(self, images):
        """Head outputs ``{"cls_logits": [B, N, C], "bbox_regression": [B, N, 4], "anchors"}``.

        Anchors are ordered level by level, then cell by cell (row-major), then anchor, as in
        torchvision. In training mode the FPN features are depressed by :attr:`depression`.
        """
        check_input_4d(images, "images")
        feats = self.features(images)
        if self.training and self.depression:
            feats = [depress_features(f, self.depression) for f in feats]
        cls = [self._flatten(self.cls_logits(self.cls_tower(f)), self.num_classes) for f in feats]
        reg = [self._flatten(self.bbox_pred(self.reg_tower(f)), 4) for f in feats]
        image_list = ImageList(images, [tuple(images.shape[-2:])] * images.shape[0])
        anchors = self.anchor_generator(image_list, feats)[0]
        return {"cls_logits": torch.cat(cls, 1), "bbox_regression": torch.cat(reg, 1),
                "anchors": anchors}

    @torch.no_grad()
    def detect(self, images, *, score_thresh=0.05, topk=1000, nms_thresh=0.5, max_det=100):
        """Standard RetinaNet post-processing: threshold, top-k, class-wise NMS, ``max_det``.

        Returns
        -------
        list of dict
            ``{"boxes": [D, 4], "scores": [D], "labels": [D]}`` per image, boxes clipped.

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.detection import TinyRetinaNet
        >>> dets = TinyRetinaNet(num_classes=2).eval().detect(torch.zeros(1, 1, 96, 96))
        >>> sorted(dets[0])
        ['boxes', 'labels', 'scores']
        """
        out = self.forward(images)
        h, w = images.shape[-2:]
        results = []
        for logits, reg in zip(out["cls_logits"], out["bbox_regression"]):
            scores = torch.sigmoid(logits).flatten()
            keep = torch.nonzero(scores > score_thresh).flatten()
            keep = keep[torch.topk(scores[keep], min(topk, keep.numel())).indices]
            anchor_idx, labels = keep // self.num_classes, keep % self.num_classes
            boxes = self.box_coder.decode(reg[anchor_idx], out["anchors"][anchor_idx])
            boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
            kept = batched_nms(boxes, scores[keep], labels, nms_thresh)[:max_det]
            results.append({"boxes": boxes[kept], "scores": scores[keep][kept],
                            "labels": labels[kept]})
        return results


def retinanet_focal_loss(cls_logits, bbox_regression, anchors, targets, *, box_coder,
                         fg_iou=0.5, bg_iou=0.4, alpha=0.25, gamma=2.0, beta=0.11):
    """RetinaNet's IoU-threshold loss: sigmoid focal loss + smooth-L1 on the positives.

    Anchors with IoU >= ``fg_iou`` with an object are positives (and each object's best anchor,
    torchvision's low-quality matches), < ``bg_iou`` negatives, the rest ignored; both terms are
    normalised by ``max(1, #positives)``. ``torchvision.ops.sigmoid_focal_loss`` does the
    classification term.

    Parameters
    ----------
    cls_logits : torch.Tensor of shape (B, N, C)
    bbox_regression : torch.Tensor of shape (B, N, 4)
    anchors : torch.Tensor of shape (N, 4), or list of B of them
    targets : list of B dicts ``{"boxes", "labels"}``
    box_coder : BoxCoder
    fg_iou, bg_iou : float, default=0.5, 0.4
    alpha, gamma : float, default=0.25, 2.0
    beta : float, default=0.11
        Smooth-L1 transition point.

    Returns
    -------
    dict
        ``"loss"``, ``"classification"``, ``"regression"``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import BoxCoder, retinanet_focal_loss
    >>> anchors = torch.tensor([[0., 0, 10, 10], [20, 20, 30, 30]])
    >>> t = [{"boxes": torch.tensor([[0., 0, 10, 10]]), "labels": torch.tensor([0])}]
    >>> out = retinanet_focal_loss(torch.zeros(1, 2, 1), torch.zeros(1, 2, 4), anchors, t,
    ...                            box_coder=BoxCoder("rcnn"))
    >>> float(out["regression"])
    0.0
    """
    _check_head(cls_logits, bbox_regression)
    b, n, c = cls_logits.shape
    anchors = _check_anchors(anchors, b, n)
    objects = check_detection_targets(targets, b, c)
    fg_iou = check_real(fg_iou, "fg_iou", low=0.0, high=1.0)
    bg_iou = check_real(bg_iou, "bg_iou", low=0.0, high=fg_iou)
    cls_terms, reg_terms, n_pos = [], [], 0
    for i, (boxes, labels) in enumerate(objects):
        anc = anchors[i].to(cls_logits.device)
        target = torch.zeros_like(cls_logits[i])
        valid = torch.ones(n, dtype=torch.bool, device=anc.device)
        if boxes.shape[0]:
            boxes, labels = boxes.to(anc.device), labels.to(anc.device)
            iou = box_iou(boxes.to(anc.dtype), anc)                         # [M, N]
            best, match = iou.max(dim=0)
            pos = best >= fg_iou
            best_per_gt = iou.max(dim=1, keepdim=True).values
            pos |= ((iou == best_per_gt) & (best_per_gt > 0)).any(dim=0)
            valid = pos | (best < bg_iou)
            target[pos, labels[match[pos]]] = 1.0
            if bool(pos.any()):
                deltas = box_coder.encode(boxes[match[pos]].to(anc.dtype), anc[pos])
                reg_terms.append(nn.functional.smooth_l1_loss(
                    bbox_regression[i][pos], deltas.to(bbox_regression.dtype), beta=beta,
                    reduction="sum"))
            n_pos += int(pos.sum())
        cls_terms.append(sigmoid_focal_loss(cls_logits[i][valid], target[valid], alpha=alpha,
                                            gamma=gamma, reduction="sum"))
    norm = max(1, n_pos)
    cls = torch.stack(cls_terms).sum() / norm
    reg = (torch.stack(reg_terms).sum() if reg_terms else 0.0 * bbox_regression.sum()) / norm
    return {"loss": cls + reg, "classification": cls, "regression": reg}
