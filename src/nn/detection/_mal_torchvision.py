"""The MAL loss on torchvision's ``RetinaNet``: run its parts directly (spec §2.7)."""

from __future__ import annotations

import torch

from ._coder import BoxCoder
from ._mal_depress import depress_features
from ._mal_loss import MALLoss

__all__ = ["check_same_coder", "retinanet_mal_loss", "retinanet_detect", "torchvision_coder"]


def check_same_coder(loss, model):
    """Raise ``ValueError`` unless ``loss.box_coder`` has the weights of ``model.box_coder``.

    One coder per model (spec §0.1): the targets the loss encodes must be decoded by the same
    weights at inference.

    Parameters
    ----------
    loss : MALLoss
    model : torchvision.models.detection.RetinaNet or any object with ``box_coder.weights``

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from normgraph.nn.detection import BoxCoder, MALLoss, check_same_coder
    >>> model = SimpleNamespace(box_coder=SimpleNamespace(weights=(1.0, 1.0, 1.0, 1.0)))
    >>> check_same_coder(MALLoss(BoxCoder("rcnn")), model)
    Traceback (most recent call last):
    ...
    ValueError: the loss's box coder weights (10.0, 10.0, 5.0, 5.0) differ from the model's ...
    """
    if not isinstance(loss, MALLoss):
        raise TypeError(f"loss must be a MALLoss, got {type(loss).__name__}")
    theirs = getattr(getattr(model, "box_coder", None), "weights", None)
    if theirs is None:
        raise TypeError("model must have a box_coder with weights (a RetinaNet)")
    theirs = tuple(float(w) for w in theirs)
    if tuple(loss.box_coder.weights) != theirs:
        raise ValueError(f"the loss's box coder weights {tuple(loss.box_coder.weights)} differ "
                         f"from the model's {theirs}")


def _run_parts(model, images, targets, ratio):
    images, targets = model.transform(images, targets)
    feats = list(model.backbone(images.tensors).values())
    if ratio:
        feats = [depress_features(f, ratio) for f in feats]
    out = model.head(feats)
    anchors = model.anchor_generator(images, feats)
    return images, targets, feats, out, anchors


def retinanet_mal_loss(model, images, targets, loss, *, ratio=0.0):
    """Training loss of torchvision's ``RetinaNet`` with the MAL loss instead of its own.

    Runs ``model.transform`` (which rescales the target boxes), the backbone, the depression of
    every FPN level by ``ratio`` (spec §2.4), the head and the anchor generator, then ``loss``.
    ``RetinaNet.forward`` is not called: in training mode it returns only its own loss and has
    no hook between the FPN and the head.

    Parameters
    ----------
    model : torchvision.models.detection.RetinaNet
    images : list of torch.Tensor [3, H, W]
    targets : list of dict
        ``{"boxes": [M, 4], "labels": [M]}`` in image pixels; labels index the head's classes.
    loss : MALLoss
        Its coder must have ``model.box_coder``'s weights, (1, 1, 1, 1) for torchvision.
    ratio : float in [0, 1), default=0.0
        Depression ratio of this iteration (:func:`depression_ratio`).

    Returns
    -------
    dict
        :func:`mal_loss`'s ``"loss"``, ``"positive"``, ``"negative"``.

    Examples
    --------
    >>> import torch
    >>> from torchvision.models.detection import retinanet_resnet50_fpn
    >>> from normgraph.nn.detection import BoxCoder, MALLoss, retinanet_mal_loss
    >>> model = retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=2,
    ...                                min_size=64, max_size=64)
    >>> t = [{"boxes": torch.tensor([[8., 8, 40, 40]]), "labels": torch.tensor([1])}]
    >>> out = retinanet_mal_loss(model, [torch.rand(3, 64, 64)], t, MALLoss(BoxCoder()))
    >>> bool(torch.isfinite(out["loss"]))
    True
    """
    check_same_coder(loss, model)
    _, targets, _, out, anchors = _run_parts(model, images, targets, ratio)
    return loss(out["cls_logits"], out["bbox_regression"], anchors, targets)


def retinanet_detect(model, images):
    """Inference without depression: torchvision's own post-processing and rescaling.

    Parameters
    ----------
    model : torchvision.models.detection.RetinaNet
    images : list of torch.Tensor [3, H, W]

    Returns
    -------
    list of dict
        ``{"boxes", "scores", "labels"}`` per image, in the input images' pixels.

    Examples
    --------
    >>> import torch
    >>> from torchvision.models.detection import retinanet_resnet50_fpn
    >>> from normgraph.nn.detection import retinanet_detect
    >>> model = retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=2,
    ...                                min_size=64, max_size=64).eval()
    >>> sorted(retinanet_detect(model, [torch.rand(3, 64, 64)])[0])
    ['boxes', 'labels', 'scores']
    """
    original_sizes = [tuple(img.shape[-2:]) for img in images]
    with torch.no_grad():
        images_t, _, feats, out, anchors = _run_parts(model, images, None, 0.0)
        per_level = [f.shape[-2] * f.shape[-1] for f in feats]
        n_a = out["cls_logits"].shape[1] // sum(per_level)
        split = [n * n_a for n in per_level]
        split_out = {k: list(v.split(split, dim=1)) for k, v in out.items()}
        split_anchors = [list(a.split(split)) for a in anchors]
        dets = model.postprocess_detections(split_out, split_anchors, images_t.image_sizes)
        return model.transform.postprocess(dets, images_t.image_sizes, original_sizes)


def torchvision_coder(model):
    """Our :class:`BoxCoder` with ``model.box_coder``'s weights and clip.

    Examples
    --------
    >>> from torchvision.models.detection import retinanet_resnet50_fpn
    >>> from normgraph.nn.detection._mal_torchvision import torchvision_coder
    >>> torchvision_coder(retinanet_resnet50_fpn(weights=None, weights_backbone=None,
    ...                                          num_classes=2))
    BoxCoder(weights=(1.0, 1.0, 1.0, 1.0), clip=4.135)
    """
    return BoxCoder(tuple(float(w) for w in model.box_coder.weights),
                    clip=float(model.box_coder.bbox_xform_clip))
