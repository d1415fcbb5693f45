"""Detection average precision (VOC all-points and pycocotools-style 101-point), spec §0.2."""

from __future__ import annotations

import numpy as np
import torch

from ..._utils.validation import check_bool, check_choice, check_real
from ._boxes import box_iou, check_boxes

__all__ = ["average_precision", "precision_envelope_ap"]


def _as_1d(x, name, n, dtype):
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape [{n}], got {arr.shape}")
    if dtype is bool:
        return arr.astype(bool)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr.astype(dtype)


def _check_records(records, name, keys):
    if not isinstance(records, (list, tuple)):
        raise TypeError(f"{name} must be a list (one dict per image), got {type(records).__name__}")
    out = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or any(k not in rec for k in keys):
            raise TypeError(f"{name}[{i}] must be a dict with keys {keys}")
        boxes = check_boxes(rec["boxes"], f"{name}[{i}]['boxes']").to(torch.float64).cpu()
        n = boxes.shape[0]
        item = {"boxes": boxes, "labels": _as_1d(rec["labels"], f"{name}[{i}]['labels']", n,
                                                  np.int64)}
        if "scores" in keys:
            item["scores"] = _as_1d(rec["scores"], f"{name}[{i}]['scores']", n, np.float64)
            if not np.isfinite(item["scores"]).all():
                raise ValueError(f"{name}[{i}]['scores'] must be finite")
        diff = rec.get("difficult")
        item["difficult"] = (np.zeros(n, bool) if diff is None
                             else _as_1d(diff, f"{name}[{i}]['difficult']", n, bool))
        out.append(item)
    return out


def precision_envelope_ap(tp, fp, n_positives, interp="all_points"):
    """AP of one class from its rank-ordered TP/FP flags.

    Parameters
    ----------
    tp, fp : array-like of shape (n_detections,)
        1 where the detection at that rank is a true / false positive (ignored detections are
        0 in both).
    n_positives : int
        Number of (non-difficult) ground-truth boxes; 0 gives NaN.
    interp : {"all_points", "coco101"}, default="all_points"
        Area under the monotone envelope ``p(r) = max{p_k : r_k >= r}``, or its mean over
        ``numpy.linspace(0, 1, 101)`` located by ``searchsorted(side="left")`` as pycocotools does.

    Returns
    -------
    ap : float

    Examples
    --------
    >>> from normgraph.nn.detection import precision_envelope_ap
    >>> precision_envelope_ap([1, 0, 1, 0, 1], [0, 1, 0, 1, 0], 3)  # 34/45
    0.7555555555555555
    >>> round(precision_envelope_ap([1, 0, 1, 0, 1], [0, 1, 0, 1, 0], 3, "coco101"), 6)
    0.756436
    """
    interp = check_choice(interp, "interp", ("all_points", "coco101"))
    if n_positives == 0:
        return float("nan")
    tp = np.asarray(tp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    counted = (tp + fp) > 0  # ignored (difficult) detections take no rank
    tp, fp = np.cumsum(tp[counted]), np.cumsum(fp[counted])
    recall = tp / n_positives
    precision = tp / np.maximum(tp + fp, 1.0)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
    if interp == "coco101":
        thresholds = np.linspace(0.0, 1.0, 101)
        idx = np.searchsorted(recall, thresholds, side="left")
        padded = np.concatenate([envelope, [0.0]])  # beyond the last recall: 0
        return float(np.mean(padded[idx]))
    prev = np.concatenate([[0.0], recall[:-1]])
    step = recall - prev
    return float(np.sum(step * envelope))


def _match_class(dets, gts, cls, iou_thr, matching, legacy_plus_one):
    """Rank-ordered TP/FP flags and the number of positives for class ``cls``."""
    scores, owners, indices = [], [], []
    for i, d in enumerate(dets):
        sel = np.flatnonzero(d["labels"] == cls)
        scores.append(d["scores"][sel])
        owners.append(np.full(sel.size, i))
        indices.append(sel)
    scores, owners, indices = map(np.concatenate, (scores, owners, indices))
    order = np.argsort(-scores, kind="stable")
    gt_sel = [np.flatnonzero(g["labels"] == cls) for g in gts]
    n_pos = sum(int((~g["difficult"][s]).sum()) for g, s in zip(gts, gt_sel))
    ious = {}
    matched = [np.zeros(s.size, bool) for s in gt_sel]
    tp = np.zeros(order.size)
    fp = np.zeros(order.size)
    for rank, k in enumerate(order):
        img, j = owners[k], indices[k]
        sel = gt_sel[img] if img < len(gt_sel) else np.zeros(0, np.int64)
        if sel.size == 0:
            fp[rank] = 1
            continue
        if img not in ious:
            ious[img] = box_iou(dets[img]["boxes"], gts[img]["boxes"][sel],
                                legacy_plus_one=legacy_plus_one).numpy()
        row = ious[img][j]
        difficult = gts[img]["difficult"][sel]
        if matching == "coco":
            cand = np.where(matched[img], -1.0, row)
            best = int(np.argmax(cand))
            if cand[best] >= iou_thr:
                if difficult[best]:
                    continue
                matched[img][best] = True
                tp[rank] = 1
            else:
                fp[rank] = 1
            continue
        best = int(np.argmax(row))
        if row[best] >= iou_thr:
            if difficult[best]:
                continue
            if not matched[img][best]:
                matched[img][best] = True
                tp[rank] = 1
                continue
        fp[rank] = 1
    return tp, fp, n_pos


def average_precision(detections, ground_truths, *, iou_thr=0.5, interp="all_points",
                      matching="voc", legacy_plus_one=False, return_per_class=False):
    """Detection AP per class and its mean over the classes with ground truth (spec §0.2).

    Per class, detections of all images are ranked by descending score with a *stable* sort of
    their concatenation in (image, detection) order. ``matching="voc"``: a detection takes the
    GT box of highest IoU (ties: lowest index) and is a TP if IoU >= ``iou_thr`` and that box is
    unmatched; ``"coco"``: it takes the highest-IoU box among the unmatched ones. A detection
    whose chosen box is difficult (at IoU >= ``iou_thr``) is neither TP nor FP, as in the VOC
    devkit; difficult boxes are not positives. A class without positives gets NaN and is left
    out of the mean.

    Under the five conditions of spec §0.2 (no crowd/difficult boxes, <= 100 detections per
    image, pycocotools' tie order or distinct scores, ``matching="coco"`` or no detection at
    IoU >= 0.5 with two boxes, ``[x, y, w, h]`` conversion), ``interp="coco101"`` equals
    pycocotools' AP50 (``COCOeval.stats[1]``).

    Parameters
    ----------
    detections : list of dict, one per image
        ``{"boxes": [N, 4], "scores": [N], "labels": [N]}`` (torchvision's output format).
    ground_truths : list of dict, one per image (same length)
        ``{"boxes": [M, 4], "labels": [M]}`` and optionally ``"difficult": [M]`` bools.
    iou_thr : float in (0, 1], default=0.5
    interp : {"all_points", "coco101"}, default="all_points"
    matching : {"voc", "coco"}, default="voc"
    legacy_plus_one : bool, default=False
        VOC devkit "+1" pixel IoU.
    return_per_class : bool, default=False
        Also return ``{class: AP}`` (NaN for classes without positives).

    Returns
    -------
    mean_ap : float
        NaN when no class has positives.
    per_class : dict, only if ``return_per_class``

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import average_precision
    >>> gts = [{"boxes": torch.tensor([[0., 0, 10, 10], [20, 20, 30, 30]]),
    ...         "labels": torch.tensor([0, 0])},
    ...        {"boxes": torch.tensor([[0., 0, 10, 10]]), "labels": torch.tensor([0])}]
    >>> far = [50., 50, 60, 60]
    >>> dets = [{"boxes": torch.tensor([[0., 0, 10, 10], far, [20, 20, 30, 30]]),
    ...          "scores": torch.tensor([0.9, 0.8, 0.7]), "labels": torch.tensor([0, 0, 0])},
    ...         {"boxes": torch.tensor([far, [0., 0, 10, 10]]),
    ...          "scores": torch.tensor([0.6, 0.5]), "labels": torch.tensor([0, 0])}]
    >>> average_precision(dets, gts)  # TP FP TP FP TP: 34/45
    0.7555555555555555
    """
    interp = check_choice(interp, "interp", ("all_points", "coco101"))
    matching = check_choice(matching, "matching", ("voc", "coco"))
    iou_thr = check_real(iou_thr, "iou_thr", low=0.0, high=1.0, low_inclusive=False)
    legacy_plus_one = check_bool(legacy_plus_one, "legacy_plus_one")
    return_per_class = check_bool(return_per_class, "return_per_class")
    dets = _check_records(detections, "detections", ("boxes", "scores", "labels"))
    gts = _check_records(ground_truths, "ground_truths", ("boxes", "labels"))
    if len(dets) != len(gts):
        raise ValueError(f"detections and ground_truths must have one entry per image, got "
                         f"{len(dets)} and {len(gts)}")
    classes = sorted(set().union(*(set(r["labels"].tolist()) for r in dets + gts)))
    per_class = {}
    for cls in classes:
        tp, fp, n_pos = _match_class(dets, gts, cls, iou_thr, matching, legacy_plus_one)
        per_class[cls] = precision_envelope_ap(tp, fp, n_pos, interp)
    values = [v for v in per_class.values() if not np.isnan(v)]
    mean_ap = float(np.mean(values)) if values else float("nan")
    return (mean_ap, per_class) if return_per_class else mean_ap
