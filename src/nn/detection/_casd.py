"""The CASD detector: MIL stream, refinement branches, four-view training with IW/LW distillation.

Simplifications (documented): RoI features are ``roi_align(aligned=True)`` of the box alone
(no context/frame ring pooling), so the detection stream is plain WSDDN
(``det_score = W_det fc_roi``); no box-regression branch (the ``master`` code has none).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from ..._utils.validation import check_bool, check_choice, check_int, check_real
from .._checks import check_input_4d
from ._boxes import check_boxes, horizontal_flip_boxes, nms
from ._casd_attention import attention_map, iw_loss, lw_loss
from ._casd_inverted import inverted_attention_mask
from ._casd_mil import check_image_labels, mil_loss, proposal_softmax
from ._casd_mining import mine_pseudo_labels, sample_rois
from ._casd_schedule import casd_ramp

__all__ = ["CASD", "make_views"]


def make_views(image, boxes, sizes):
    """The training/test views of one image: every size, unflipped then flipped.

    Parameters
    ----------
    image : torch.Tensor of shape (1, Ch, H, W)
    boxes : torch.Tensor of shape (P, 4), in ``image`` pixels
    sizes : sequence of int
        Target shorter side of each scale (bilinear resize; boxes scaled alike).

    Returns
    -------
    views : list of torch.Tensor of shape (1, Ch, h, w)
    view_boxes : list of torch.Tensor of shape (P, 4)
    flipped : tuple of bool
        ``(False, True) * len(sizes)``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import make_views
    >>> v, b, f = make_views(torch.zeros(1, 3, 96, 96), torch.tensor([[0., 0, 48, 24]]), (48,))
    >>> v[1].shape, b[1], f
    (torch.Size([1, 3, 48, 48]), tensor([[24.,  0., 48., 12.]]), (False, True))
    """
    image = check_input_4d(image, "image")
    boxes = check_boxes(boxes).to(image.dtype)
    if boxes.shape[0] == 0:
        raise ValueError("need at least one proposal")
    h, w = image.shape[-2:]
    views, view_boxes, flipped = [], [], []
    for size in sizes:
        size = check_int(size, "sizes", low=1)
        f = size / min(h, w)
        nh, nw = max(1, round(h * f)), max(1, round(w * f))
        img = F.interpolate(image, size=(nh, nw), mode="bilinear", align_corners=False)
        sb = boxes * boxes.new_tensor([nw / w, nh / h, nw / w, nh / h])
        views += [img, torch.flip(img, dims=(-1,))]
        view_boxes += [sb, horizontal_flip_boxes(sb, float(nw)).to(sb.dtype)]
        flipped += [False, True]
    return views, view_boxes, tuple(flipped)


class CASD(nn.Module):
    """Comprehensive Attention Self-Distillation for weakly supervised detection.

    A WSDDN two-stream MIL head and ``n_refine`` refinement branches (OICR/PCL style) on
    RoI-aligned features of a backbone, trained on several views of one image (scales x flip)
    with the input-wise (IW) self-distillation of RoI attention across the views and the
    layer-wise (LW) one across backbone layers. The loss of one image is
    ``(L_mil + 0.1 sum_k L_ref_k + casd_lambda r(t) (L_IW + L_LW)) / V``.

    Branch 1 is taught by the MIL product ``softmax_c(S_cls) * softmax_r(S_det)``, branch k + 1
    by branch k's softmax on the unmasked, detached features. The IW/LW terms are taken, per
    branch, over its view-0 sampled RoIs (``pcl_graph``, as coded) or its foreground RoIs
    (``oicr``). LW is paper-derived (neither released branch wires it).

    Parameters
    ----------
    backbone : torch.nn.Sequential
        Feature extractor; its last output is the RoI feature map. The spatial scale of every
        tapped layer is read from its output size.
    n_classes : int
    roi_size : int, default=7
    hidden : int, default=256
        Width of the two fully connected layers of the head.
    n_refine : int, default=2
    mil_score : {"logit_hinge", "wsddn_bce"}, default="logit_hinge"
    mining : {"pcl_graph", "oicr"}, default="pcl_graph"
    iw : bool, default=True
        Input-wise loss.
    lw_layers : tuple of int, default=()
        Indices of ``backbone`` modules whose outputs enter the layer-wise loss (>= 2 to use it).
    attention_norm : {"minmax_sigmoid", "minmax"}, default="minmax_sigmoid"
    refine_feature_dropout : {"none", "inverted_attention"}, default="none"
    casd_lambda : float, default=0.1
    casd_weight_schedule : {"exp_ramp", "constant"}, default="exp_ramp"
    casd_ramp_up_frac : float, default=0.45
    casd_ramp_down_iters : int, default=0
    casd_start_iter : int, default=0
    iw_extra_norm : bool, default=False
        The code's extra division of the IW term by the number of RoIs.
    n_fg, n_bg : int, default=32, 96
        RoIs sampled per view for the ``pcl_graph`` refinement loss.
    allow_empty : bool, default=False
        Skip the refinement loss of an image without positive class instead of raising.
    dropout : float, default=0.0
        Dropout after the head's fully connected layers.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from normgraph.nn.detection import CASD, make_views
    >>> _ = torch.manual_seed(0)
    >>> net = CASD(nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU()), 2,
    ...            hidden=16, mining="oicr")
    >>> boxes = torch.tensor([[0., 0, 16, 16], [8, 8, 24, 24], [16, 0, 32, 16]])
    >>> views, vboxes, flipped = make_views(torch.rand(1, 3, 32, 32), boxes, (32, 24))
    >>> out = net.loss(views, vboxes, [1, 0], flipped=flipped, total_iterations=10)
    >>> sorted(out)[:4], bool(out["iw"] >= 0)
    (['casd_weight', 'iw', 'loss', 'lw'], True)
    """

    def __init__(self, backbone, n_classes, *, roi_size=7, hidden=256, n_refine=2,
                 mil_score="logit_hinge", mining="pcl_graph", iw=True, lw_layers=(),
                 attention_norm="minmax_sigmoid", refine_feature_dropout="none",
                 casd_lambda=0.1, casd_weight_schedule="exp_ramp", casd_ramp_up_frac=0.45,
                 casd_ramp_down_iters=0, casd_start_iter=0, iw_extra_norm=False, n_fg=32,
                 n_bg=96, allow_empty=False, dropout=0.0):
        super().__init__()
        if not isinstance(backbone, nn.Sequential):
            raise TypeError("backbone must be a torch.nn.Sequential, got "
                            f"{type(backbone).__name__}")
        self.backbone = backbone
        self.n_classes = check_int(n_classes, "n_classes", low=1)
        self.roi_size = check_int(roi_size, "roi_size", low=1)
        self.n_refine = check_int(n_refine, "n_refine", low=1)
        self.mil_score = check_choice(mil_score, "mil_score", ("logit_hinge", "wsddn_bce"))
        self.mining = check_choice(mining, "mining", ("pcl_graph", "oicr"))
        self.iw = check_bool(iw, "iw")
        self.lw_layers = tuple(check_int(i, "lw_layers", low=0, high=len(backbone) - 1)
                               for i in lw_layers)
        if len(self.lw_layers) == 1:
            raise ValueError("lw_layers needs at least 2 layers (or none)")
        self.attention_norm = check_choice(attention_norm, "attention_norm",
                                           ("minmax_sigmoid", "minmax"))
        self.refine_feature_dropout = check_choice(
            refine_feature_dropout, "refine_feature_dropout", ("none", "inverted_attention"))
        self.casd_lambda = check_real(casd_lambda, "casd_lambda", low=0.0)
        self.casd_weight_schedule = check_choice(casd_weight_schedule, "casd_weight_schedule",
                                                 ("exp_ramp", "constant"))
        self.casd_ramp_up_frac = check_real(casd_ramp_up_frac, "casd_ramp_up_frac", low=0, high=1)
        self.casd_ramp_down_iters = check_int(casd_ramp_down_iters, "casd_ramp_down_iters", low=0)
        self.casd_start_iter = check_int(casd_start_iter, "casd_start_iter", low=0)
        self.iw_extra_norm = check_bool(iw_extra_norm, "iw_extra_norm")
        self.n_fg = check_int(n_fg, "n_fg", low=1)
        self.n_bg = check_int(n_bg, "n_bg", low=0)
        self.allow_empty = check_bool(allow_empty, "allow_empty")
        hidden = check_int(hidden, "hidden", low=1)
        dropout = check_real(dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)
        with torch.no_grad():
            channels = self._run_backbone(torch.zeros(1, 3, 64, 64))[0].shape[1]
        self.tail = nn.Sequential(
            nn.Flatten(), nn.Linear(channels * self.roi_size ** 2, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.cls_score = nn.Linear(hidden, self.n_classes)
        self.det_score = nn.Linear(hidden, self.n_classes)
        self.refine = nn.ModuleList(nn.Linear(hidden, self.n_classes + 1)
                                    for _ in range(self.n_refine))
        for layer in [self.cls_score, self.det_score, *self.refine]:
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def extra_repr(self):
        return (f"n_classes={self.n_classes}, n_refine={self.n_refine}, mining={self.mining!r}, "
                f"mil_score={self.mil_score!r}, iw={self.iw}, lw_layers={self.lw_layers}")

    # -- features ------------------------------------------------------------------------------
    def _run_backbone(self, x):
        taps = []
        for i, module in enumerate(self.backbone):
            x = module(x)
            if i in getattr(self, "lw_layers", ()):
                taps.append(x)
        return x, taps

    def _pool(self, feat, boxes, image_width):
        rois = torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], dim=1).to(feat)
        return roi_align(feat, rois, self.roi_size, spatial_scale=feat.shape[-1] / image_width,
                         sampling_ratio=2, aligned=True)

    def _check_views(self, views, view_boxes, flipped):
        if not isinstance(views, (list, tuple)) or not views:
            raise TypeError("views must be a non-empty list of (1, 3, H, W) tensors")
        if not isinstance(view_boxes, (list, tuple)) or len(view_boxes) != len(views):
            raise ValueError("view_boxes must be a list with one [P, 4] tensor per view")
        boxes = []
        for v, (img, b) in enumerate(zip(views, view_boxes)):
            check_input_4d(img, f"views[{v}]")
            if img.shape[0] != 1:
                raise ValueError(f"views[{v}] must hold one image, got batch {img.shape[0]}")
            boxes.append(check_boxes(b, f"view_boxes[{v}]").to(img))
        if boxes[0].shape[0] == 0:
            raise ValueError("need at least one proposal")
        if any(b.shape != boxes[0].shape for b in boxes):
            raise ValueError("all views must share the same proposals: got "
                             f"{[b.shape[0] for b in boxes]} proposals per view")
        if flipped is None:
            flipped = (False, True) * (len(views) // 2) if len(views) % 2 == 0 else \
                (False,) * len(views)
        flipped = tuple(check_bool(f, "flipped") for f in flipped)
        if len(flipped) != len(views):
            raise ValueError(f"flipped must have one flag per view ({len(views)})")
        return boxes, flipped

    def forward(self, views, view_boxes):
        """Per-view RoI features and head outputs, stacked view-major.

        Returns
        -------
        out : dict
            ``pooled`` list of ``[P, Ch, k, k]``, ``taps`` list (per view) of lists of tapped
            feature maps, ``fc`` ``[V * P, hidden]``, ``cls`` and ``det`` ``[V * P, C]``,
            ``refine`` list of ``[V * P, C + 1]`` logits.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from normgraph.nn.detection import CASD
        >>> net = CASD(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), 3, hidden=8)
        >>> net([torch.rand(1, 3, 16, 16)], [torch.tensor([[0., 0, 8, 8]])])["cls"].shape
        torch.Size([1, 3])
        """
        boxes, _ = self._check_views(views, view_boxes, None)
        pooled, taps = [], []
        for img, b in zip(views, boxes):
            feat, tapped = self._run_backbone(img)
            pooled.append(self._pool(feat, b, img.shape[-1]))
            taps.append([self._pool(t, b, img.shape[-1]) for t in tapped])
        fc = self.tail(torch.cat(pooled))
        return {"pooled": pooled, "taps": taps, "fc": fc, "cls": self.cls_score(fc),
                "det": self.det_score(fc), "refine": [head(fc) for head in self.refine]}

    # -- training ------------------------------------------------------------------------------
    def _masked_fc(self, k, pooled, labels, generator):
        """fc features of branch k with the inverted-attention mask applied (mask is constant)."""
        flat_labels = labels.repeat(len(pooled))
        target = flat_labels.clamp(min=0)[:, None]
        x = torch.cat(pooled).detach().requires_grad_(True)
        was_training = self.training
        self.eval()
        with torch.enable_grad():
            logits = self.refine[k](self.tail(x))
            grad = torch.autograd.grad(logits.gather(1, target).sum(), x)[0]
        with torch.no_grad():
            before = torch.softmax(logits, 1).gather(1, target).ravel()
            att = (x * grad.mean(dim=(2, 3), keepdim=True)).sum(1)

            def drop(cand):
                after = torch.softmax(self.refine[k](self.tail(x * cand[:, None])), 1)
                return (before - after.gather(1, target).ravel() - 0.02).clamp(min=0)

            mask = inverted_attention_mask(att, flat_labels, drop, generator=generator)
        self.train(was_training)
        return self.tail(torch.cat(pooled) * mask[:, None])

    def _refine_loss(self, logits, pseudo, n_views, generator):
        logp = torch.log_softmax(logits, 1).reshape(n_views, -1, logits.shape[1])
        labels = pseudo.labels.to(logits.device)
        if self.mining == "oicr":
            w = pseudo.weights.to(logp)
            picked = logp.gather(2, labels[None, :, None].expand(n_views, -1, 1)).squeeze(2)
            return -(w * picked).mean(dim=1).sum(), torch.nonzero(labels > 0).ravel()
        keep = sample_rois(labels.cpu(), n_views, n_fg=self.n_fg, n_bg=self.n_bg,
                           generator=generator)
        loss = logits.new_zeros(())
        for v, idx in enumerate(keep):
            if idx.numel():
                loss = loss + F.nll_loss(logp[v, idx.to(logp.device)], labels[idx])
        return loss, keep[0].to(logits.device)

    def _casd_terms(self, out, selections, flipped):
        iw = out["fc"].new_zeros(())
        lw = out["fc"].new_zeros(())
        for sel in selections:
            if sel.numel() == 0:
                continue
            if self.iw:
                maps = [attention_map(p[sel], norm=self.attention_norm) for p in out["pooled"]]
                term = iw_loss(maps, flipped)
                iw = iw + (term / sel.numel() if self.iw_extra_norm else term)
            if self.lw_layers:
                for layers in out["taps"]:
                    lw = lw + lw_loss([attention_map(t[sel], norm=self.attention_norm)
                                       for t in layers])
        return iw, lw

    def casd_weight(self, iteration, total_iterations):
        """``casd_lambda * r(t)`` of :func:`casd_ramp` (a pure function of the iteration).

        Examples
        --------
        >>> from torch import nn
        >>> from normgraph.nn.detection import CASD
        >>> net = CASD(nn.Sequential(nn.Conv2d(3, 4, 1)), 2, hidden=4)
        >>> net.casd_weight(500, 1000)
        0.1
        """
        return self.casd_lambda * casd_ramp(
            iteration, total_iterations, schedule=self.casd_weight_schedule,
            ramp_up_frac=self.casd_ramp_up_frac, ramp_down_iters=self.casd_ramp_down_iters,
            start_iter=self.casd_start_iter)

    def loss(self, views, view_boxes, image_labels, *, flipped=None, iteration=0,
             total_iterations=1, generator=None):
        """The training loss of one image given as several views.

        Parameters
        ----------
        views : list of torch.Tensor of shape (1, 3, H_v, W_v)
        view_boxes : list of torch.Tensor of shape (P, 4)
            The same P proposals in every view, in that view's pixels.
        image_labels : array-like of length C in {0, 1}
        flipped : tuple of bool or None
            Which views are mirrored; default ``(False, True) * (V // 2)``.
        iteration, total_iterations : int
            For the CASD weight schedule.
        generator : torch.Generator or None
            RoI sampling and inverted-attention randomness.

        Returns
        -------
        terms : dict of torch.Tensor
            ``loss`` (to back-propagate), ``mil``, ``refine`` (sum over branches), ``iw``,
            ``lw`` and ``casd_weight``.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from normgraph.nn.detection import CASD
        >>> net = CASD(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), 2, hidden=8, mining="oicr")
        >>> b = torch.tensor([[0., 0, 8, 8], [4, 4, 12, 12]])
        >>> float(net.loss([torch.rand(1, 3, 16, 16)], [b], [0, 1], flipped=(False,))["lw"])
        0.0
        """
        boxes, flipped = self._check_views(views, view_boxes, flipped)
        y = check_image_labels(image_labels, self.n_classes)
        n_views = len(views)
        out = self.forward(views, boxes)
        l_mil = mil_loss(out["cls"], out["det"], y, n_views, mil_score=self.mil_score)
        teacher = (torch.softmax(out["cls"], 1) * proposal_softmax(out["det"], n_views)).detach()
        l_ref = out["fc"].new_zeros(())
        selections = []
        for k in range(self.n_refine):
            pseudo = mine_pseudo_labels(teacher, boxes[0], y, mode=self.mining, n_views=n_views,
                                        allow_empty=self.allow_empty)
            if pseudo.gt_boxes.shape[0]:
                logits = out["refine"][k]
                if self.refine_feature_dropout == "inverted_attention":
                    logits = self.refine[k](self._masked_fc(k, out["pooled"], pseudo.labels,
                                                            generator))
                term, sel = self._refine_loss(logits, pseudo, n_views, generator)
                l_ref = l_ref + term
                selections.append(sel)
            teacher = torch.softmax(self.refine[k](out["fc"].detach()), 1)[:, 1:].detach()
        iw, lw = self._casd_terms(out, selections, flipped)
        weight = self.casd_weight(iteration, total_iterations)
        total = (l_mil + 0.1 * l_ref + weight * (iw + lw)) / n_views
        return {"loss": total, "mil": l_mil, "refine": l_ref, "iw": iw, "lw": lw,
                "casd_weight": torch.tensor(weight)}

    # -- inference -----------------------------------------------------------------------------
    @torch.no_grad()
    def predict_scores(self, image, boxes, sizes):
        """Class scores ``[P, C]``: refinement branch 1's softmax without background, averaged
        over the views ``sizes x {original, flip}``.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from normgraph.nn.detection import CASD
        >>> net = CASD(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), 2, hidden=8).eval()
        >>> net.predict_scores(torch.rand(1, 3, 16, 16), torch.tensor([[0., 0, 8, 8]]),
        ...                    (16,)).shape
        torch.Size([1, 2])
        """
        views, vboxes, _ = make_views(image, boxes, sizes)
        out = self.forward(views, vboxes)
        prob = torch.softmax(out["refine"][0], 1)[:, 1:]
        return prob.reshape(len(views), -1, self.n_classes).mean(0)

    @torch.no_grad()
    def detect(self, image, boxes, sizes, *, nms_threshold=0.3, max_detections=100):
        """Detections of one image: per-class NMS of :meth:`predict_scores`, at most
        ``max_detections`` by score.

        Returns
        -------
        detections : dict
            ``boxes`` ``[D, 4]``, ``scores`` ``[D]``, ``labels`` ``[D]``.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from normgraph.nn.detection import CASD
        >>> net = CASD(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), 2, hidden=8).eval()
        >>> det = net.detect(torch.rand(1, 3, 16, 16), torch.tensor([[0., 0, 8, 8]]), (16,))
        >>> sorted(det["labels"].tolist())
        [0, 1]
        """
        max_detections = check_int(max_detections, "max_detections", low=1)
        boxes = check_boxes(boxes).to(image)
        scores = self.predict_scores(image, boxes, sizes)
        out_b, out_s, out_l = [], [], []
        for c in range(self.n_classes):
            keep = nms(boxes, scores[:, c], nms_threshold)
            out_b.append(boxes[keep])
            out_s.append(scores[keep, c])
            out_l.append(torch.full((keep.numel(),), c, dtype=torch.int64))
        b, s, lab = torch.cat(out_b), torch.cat(out_s), torch.cat(out_l)
        top = torch.sort(s, descending=True, stable=True).indices[:max_detections]
        return {"boxes": b[top], "scores": s[top], "labels": lab[top]}
