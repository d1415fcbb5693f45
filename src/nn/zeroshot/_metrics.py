"""Top-k accuracy on unseen classes and per-metric model selection on the val classes."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..._utils.validation import check_int
from .._checks import check_tensor
from ._losses import check_class_targets

__all__ = ["topk_accuracy", "select_per_metric", "Selection"]


def topk_accuracy(scores, targets, ks=(1, 5)):
    """Fraction of rows whose target class is among the k highest scores, for each k.

    A row counts as correct at k when fewer than k classes score strictly higher than its
    target (ties are resolved in the target's favour, so the result does not depend on the
    order of tied classes).

    Parameters
    ----------
    scores : torch.Tensor of shape (B, K)
    targets : torch.Tensor of shape (B,)
        Class indices in ``[0, K)``.
    ks : sequence of int, default=(1, 5)
        Each in ``[1, K]``.

    Returns
    -------
    dict
        ``{k: accuracy}`` with Python floats.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import topk_accuracy
    >>> s = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.3]])
    >>> topk_accuracy(s, torch.tensor([1, 2]), ks=(1, 2))
    {1: 0.5, 2: 1.0}
    """
    check_tensor(scores, "scores")
    if scores.dim() != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"scores must have shape (B, K) with B, K >= 1, got {tuple(scores.shape)}")
    n, k_classes = scores.shape
    check_class_targets(targets, n, k_classes)
    ks = [check_int(k, "k", low=1) for k in ks]
    too_big = [k for k in ks if k > k_classes]
    if too_big:
        raise ValueError(f"ks must be <= K={k_classes} (the number of classes), got {too_big}")
    target_scores = scores.gather(1, targets.view(-1, 1).to(scores.device))
    rank = (scores > target_scores).sum(dim=1)
    return {k: float((rank < k).double().mean()) for k in ks}


class Selection(NamedTuple):
    """The epoch chosen on val for one metric, its val value and the reported test value.

    Examples
    --------
    >>> from normgraph.nn.zeroshot import Selection
    >>> Selection(epoch=2, val=0.5, test=0.4).test
    0.4
    """

    epoch: int
    val: float
    test: float


def select_per_metric(val_history, test_history):
    """For each metric separately, the test value at the epoch with the best val value.

    Ties go to the earliest epoch. Different metrics may pick different epochs, as in
    ER-ZSAR's checkpoint selection for prec@1 and prec@5.

    Parameters
    ----------
    val_history, test_history : sequence of dict
        One ``{metric: value}`` record per epoch (the same epochs and metrics in both).

    Returns
    -------
    dict
        ``{metric: Selection(epoch, val, test)}`` (epochs counted from 0).

    Examples
    --------
    >>> from normgraph.nn.zeroshot import select_per_metric
    >>> val = [{1: 0.2, 5: 0.6}, {1: 0.5, 5: 0.7}, {1: 0.4, 5: 0.9}]
    >>> test = [{1: 0.1, 5: 0.5}, {1: 0.3, 5: 0.6}, {1: 0.35, 5: 0.8}]
    >>> sel = select_per_metric(val, test)
    >>> sel[1].epoch, sel[1].test, sel[5].epoch, sel[5].test
    (1, 0.3, 2, 0.8)
    """
    if len(val_history) == 0 or len(val_history) != len(test_history):
        raise ValueError("val_history and test_history must be non-empty and of equal length, "
                         f"got {len(val_history)} and {len(test_history)}")
    metrics = list(val_history[0])
    for e, (v, t) in enumerate(zip(val_history, test_history)):
        if set(v) != set(metrics) or set(t) != set(metrics):
            raise ValueError(f"epoch {e}: val and test records must have the metrics {metrics}")
    out = {}
    for m in metrics:
        vals = [float(rec[m]) for rec in val_history]
        best = max(range(len(vals)), key=lambda e: (vals[e], -e))
        out[m] = Selection(best, vals[best], float(test_history[best][m]))
    return out
