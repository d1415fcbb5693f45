"""ER-ZSAR losses: the three temperature cross-entropies and the elaborative-rehearsal loss."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from ..._utils.validation import check_real
from .._checks import check_tensor

__all__ = ["scale_by_temperature", "zsar_classification_loss", "elaborative_rehearsal_loss",
           "build_concept_vocab", "check_class_targets"]


def scale_by_temperature(scores, temperature):
    """``scores / temperature`` (a division, as the original, not a product by ``1/τ``).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import scale_by_temperature
    >>> scale_by_temperature(torch.tensor([0.5, -0.1]), 0.1)
    tensor([ 5., -1.])
    >>> scale_by_temperature(torch.tensor([0.5]), 0.0)
    Traceback (most recent call last):
    ...
    ValueError: temperature must be > 0.0, got 0.0
    """
    check_real(temperature, "temperature", low=0.0, low_inclusive=False)
    return scores / temperature


def check_class_targets(targets, n_rows, n_classes):
    """Integer targets of shape (B,) in ``[0, K)``; ``IndexError`` naming an out-of-range value.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import check_class_targets
    >>> check_class_targets(torch.tensor([0, 5]), 2, 3)
    Traceback (most recent call last):
    ...
    IndexError: target index 5 is out of range for K=3 classes
    """
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"targets must be an integer tensor, got dtype {targets.dtype}")
    if tuple(targets.shape) != (n_rows,):
        raise ValueError(f"targets must have shape ({n_rows},), got {tuple(targets.shape)}")
    bad = targets[(targets < 0) | (targets >= n_classes)]
    if bad.numel():
        raise IndexError(f"target index {int(bad[0])} is out of range for K={n_classes} classes")
    return targets


def _check_scores(x, name):
    check_tensor(x, name)
    if x.dim() != 2 or x.shape[1] == 0:
        raise ValueError(f"{name} must have shape (B, K) with K >= 1, got {tuple(x.shape)}")
    return x


def zsar_classification_loss(act, obj=None, logits=None, targets=None, temperature=0.1):
    """``CE(logits/τ, y) + CE(act/τ, y) + CE(obj/τ, y)`` (ER-ZSAR §3.3 item 8).

    Parameters
    ----------
    act : torch.Tensor of shape (B, K)
        Action-stream cosines.
    obj, logits : torch.Tensor of shape (B, K) or None
        Object-stream cosines (unclamped) and fused scores; both ``None`` without objects,
        when the loss is ``CE(act/τ, y)`` alone.
    targets : torch.Tensor of shape (B,)
        Class indices in ``[0, K)``.
    temperature : float, default=0.1
        τ > 0; each score set is divided by it. Each CE is a batch mean.

    Returns
    -------
    loss : torch.Tensor (scalar)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import zsar_classification_loss
    >>> act = torch.tensor([[0.5, 0.2, -0.1]])
    >>> float(zsar_classification_loss(act, targets=torch.tensor([0]), temperature=1.0))
    0.828...
    """
    _check_scores(act, "act")
    if (obj is None) != (logits is None):
        raise ValueError("obj and logits must both be given (objects stream) or both be None")
    if targets is None:
        raise ValueError("targets must be given")
    check_class_targets(targets, act.shape[0], act.shape[1])
    sets = [act] if obj is None else [logits, act, obj]
    for name, s in zip(("act",) if obj is None else ("logits", "act", "obj"), sets):
        _check_scores(s, name)
        if s.shape != act.shape:
            raise ValueError(f"{name} must have the shape of act {tuple(act.shape)}, "
                             f"got {tuple(s.shape)}")
    return sum(F.cross_entropy(scale_by_temperature(s, temperature), targets) for s in sets)


def _multilabel_term(scores, targets):
    logp = torch.log_softmax(scores, dim=1)
    return -logp[targets].mean()


def elaborative_rehearsal_loss(video_emb_list, concept_emb, targets, temperature=0.1):
    """Multi-label retrieval of each video's own concepts among the batch's concepts.

    With ``[v', o']`` the three logit sets ``v'·Eᵀ``, ``o'·Eᵀ`` and their plain sum (no clamp)
    are divided by τ; for each, ``-mean`` of ``log_softmax`` over the M concepts at the
    positive (b, m) pairs; the result is the sum of the terms. With ``[v']`` alone it is the
    action term. Rows without a positive contribute nothing.

    Parameters
    ----------
    video_emb_list : list of torch.Tensor of shape (B, E)
        ``[v']`` or ``[v', o']``.
    concept_emb : torch.Tensor of shape (M, E)
        The batch's unique concept texts, encoded (see :func:`build_concept_vocab`).
    targets : torch.Tensor of bool, shape (B, M)
        ``True`` where concept m belongs to video b.
    temperature : float, default=0.1

    Returns
    -------
    loss : torch.Tensor (scalar); 0 with a ``UserWarning`` when there is no positive at all.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import elaborative_rehearsal_loss
    >>> v, E = torch.eye(2), torch.eye(2)
    >>> loss = elaborative_rehearsal_loss([v], E, torch.eye(2, dtype=torch.bool), 1.0)
    >>> round(float(loss), 4)
    0.3133
    """
    if not isinstance(video_emb_list, (list, tuple)) or len(video_emb_list) not in (1, 2):
        raise ValueError("video_emb_list must be [video_emb] or [video_emb, object_emb]")
    check_tensor(concept_emb, "concept_emb")
    for i, e in enumerate(video_emb_list):
        check_tensor(e, f"video_emb_list[{i}]")
        if e.dim() != 2 or concept_emb.dim() != 2 or e.shape[1] != concept_emb.shape[1] \
                or e.shape != video_emb_list[0].shape:
            raise ValueError("embeddings must be (B, E) and concept_emb (M, E), got "
                             f"{tuple(e.shape)} and {tuple(concept_emb.shape)}")
    if not isinstance(targets, torch.Tensor) or targets.dtype != torch.bool:
        raise TypeError("targets must be a boolean torch.Tensor")
    shape = (video_emb_list[0].shape[0], concept_emb.shape[0])
    if tuple(targets.shape) != shape:
        raise ValueError(f"targets must have shape {shape} (B, M), got {tuple(targets.shape)}")
    check_real(temperature, "temperature", low=0.0, low_inclusive=False)
    if not bool(targets.any()):
        warnings.warn("elaborative_rehearsal_loss: no positive concept in the batch; "
                      "the loss is 0", UserWarning, stacklevel=2)
        return concept_emb.new_zeros(()) * concept_emb.sum()
    sets = [e @ concept_emb.T for e in video_emb_list]
    if len(sets) == 2:
        sets.append(sets[0] + sets[1])
    return sum(_multilabel_term(scale_by_temperature(s, temperature), targets) for s in sets)


def build_concept_vocab(batch_concept_lists):
    """Unique concept texts of a batch (first-seen order) and the (B, M) boolean targets.

    Parameters
    ----------
    batch_concept_lists : sequence of sequences of str
        Each video's concept texts (e.g. its top-5 "name: definition" texts); a video may
        have none.

    Returns
    -------
    unique_texts : list of str
    targets : torch.Tensor of bool, shape (B, M)

    Examples
    --------
    >>> from normgraph.nn.zeroshot import build_concept_vocab
    >>> texts, t = build_concept_vocab([["a", "b"], ["b", "c"], ["a", "d"]])
    >>> texts
    ['a', 'b', 'c', 'd']
    >>> t.int()
    tensor([[1, 1, 0, 0],
            [0, 1, 1, 0],
            [1, 0, 0, 1]], dtype=torch.int32)
    """
    if isinstance(batch_concept_lists, str) or not hasattr(batch_concept_lists, "__len__"):
        raise TypeError("batch_concept_lists must be a sequence of sequences of str")
    index = {}
    for b, concepts in enumerate(batch_concept_lists):
        if isinstance(concepts, str):
            raise TypeError(f"batch_concept_lists[{b}] must be a sequence of str, not a str")
        for c in concepts:
            if not isinstance(c, str) or not c.strip():
                raise ValueError(f"batch_concept_lists[{b}] holds an empty or non-str concept "
                                 f"{c!r}")
            index.setdefault(c, len(index))
    targets = torch.zeros(len(batch_concept_lists), len(index), dtype=torch.bool)
    for b, concepts in enumerate(batch_concept_lists):
        for c in concepts:
            targets[b, index[c]] = True
    return list(index), targets
