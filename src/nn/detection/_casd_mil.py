"""CASD's MIL (WSDDN) stream: per-view proposal softmax, image scores and the MIL loss (§1.4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..._utils.validation import check_choice, check_int
from .._checks import check_tensor

__all__ = ["check_image_labels", "proposal_softmax", "mil_image_scores", "mil_loss"]


def check_image_labels(image_labels, n_classes, *, label_format="01"):
    """Image-level labels as a float tensor of 0/1 (``label_format="pm1"`` accepts -1/+1).

    Examples
    --------
    >>> from normgraph.nn.detection import check_image_labels
    >>> check_image_labels([-1, 1], 2, label_format="pm1")
    tensor([0., 1.])
    >>> check_image_labels([0, 2], 2)
    Traceback (most recent call last):
    ...
    ValueError: image_labels must be 0/1 values of length C = 2, got [0.0, 2.0]
    """
    label_format = check_choice(label_format, "label_format", ("01", "pm1"))
    y = torch.as_tensor(image_labels).detach().to(torch.float32).reshape(-1).cpu()
    allowed = (0.0, 1.0) if label_format == "01" else (-1.0, 1.0)
    words = "0/1" if label_format == "01" else "-1/+1"
    if y.numel() != n_classes or not bool(torch.isin(y, torch.tensor(allowed)).all()):
        raise ValueError(f"image_labels must be {words} values of length C = {n_classes}, "
                         f"got {y.tolist()}")
    return (y > 0).to(torch.float32)


def _views(scores, n_views, name):
    check_tensor(scores, name)
    n_views = check_int(n_views, "n_views", low=1)
    if scores.dim() != 2 or scores.shape[0] == 0 or scores.shape[0] % n_views:
        raise ValueError(f"{name} must be [V * P, C] with P >= 1 (need at least one proposal), "
                         f"got {tuple(scores.shape)} for V = {n_views}")
    return scores.reshape(n_views, scores.shape[0] // n_views, scores.shape[1])


def proposal_softmax(det_scores, n_views=1):
    """Softmax over the P proposals of each view separately (rows stacked view-major).

    Parameters
    ----------
    det_scores : torch.Tensor of shape (V * P, C)
    n_views : int, default=1

    Returns
    -------
    p_det : torch.Tensor of shape (V * P, C); each view's column sums to 1.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import proposal_softmax
    >>> proposal_softmax(torch.zeros(4, 1), n_views=2).ravel()
    tensor([0.5000, 0.5000, 0.5000, 0.5000])
    """
    s = _views(det_scores, n_views, "det_scores")
    return torch.softmax(s, dim=1).reshape(det_scores.shape)


def mil_image_scores(cls_scores, det_scores, n_views=1, *, mil_score="logit_hinge"):
    """Image-level class scores ``phi`` ``[V, C]`` of the two-stream head.

    ``"logit_hinge"`` (the CASD code): ``phi_v[c] = sum_r S_cls[r, c] p_det[r, c]`` with raw
    classification logits; ``"wsddn_bce"``: ``sum_r softmax_c(S_cls) p_det`` clamped to
    ``[1e-6, 1 - 1e-6]``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import mil_image_scores
    >>> mil_image_scores(torch.tensor([[2., -1], [0, 3]]), torch.zeros(2, 2))
    tensor([[1., 1.]])
    """
    mil_score = check_choice(mil_score, "mil_score", ("logit_hinge", "wsddn_bce"))
    if cls_scores.shape != det_scores.shape:
        raise ValueError(f"cls_scores and det_scores must have the same shape, got "
                         f"{tuple(cls_scores.shape)} and {tuple(det_scores.shape)}")
    s = _views(cls_scores, n_views, "cls_scores")
    p_det = proposal_softmax(det_scores, n_views).reshape(s.shape)
    if mil_score == "wsddn_bce":
        return (torch.softmax(s, dim=2) * p_det).sum(dim=1).clamp(1e-6, 1 - 1e-6)
    return (s * p_det).sum(dim=1)


def mil_loss(cls_scores, det_scores, image_labels, n_views=1, *, mil_score="logit_hinge",
             label_format="01"):
    """The MIL loss, summed over views and averaged over the C classes.

    ``"logit_hinge"``: ``sum_v sum_c max(0, 1 - y_c phi_v[c]) / C`` with ``y`` in {-1, +1}
    (the code's loss and its division by 20 = C); ``"wsddn_bce"``: ``sum_v`` of the
    multi-label binary cross-entropy averaged over the classes.

    Parameters
    ----------
    cls_scores, det_scores : torch.Tensor of shape (V * P, C)
    image_labels : array-like of length C
    n_views : int, default=1
    mil_score : {"logit_hinge", "wsddn_bce"}, default="logit_hinge"
    label_format : {"01", "pm1"}, default="01"

    Returns
    -------
    loss : torch.Tensor (scalar)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.detection import mil_loss
    >>> mil_loss(torch.tensor([[2., -1], [0, 3]]), torch.zeros(2, 2), [1, 0])
    tensor(1.)
    """
    phi = mil_image_scores(cls_scores, det_scores, n_views, mil_score=mil_score)
    y = check_image_labels(image_labels, phi.shape[1], label_format=label_format).to(phi)
    if mil_score == "wsddn_bce":
        return F.binary_cross_entropy(phi, y.expand_as(phi), reduction="none").mean(1).sum()
    pm = 2 * y - 1
    return torch.clamp(1 - pm * phi, min=0).sum() / phi.shape[1]


