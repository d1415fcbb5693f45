"""Selection kernels of RSC: which units of each sample, and which samples, are muted.

Every function takes validated tensors and returns a boolean tensor; ``True`` = selected.
"""

from __future__ import annotations

import math

import torch

__all__ = ["drop_count", "select_units", "select_samples", "SELECTIONS"]

SELECTIONS = ("strict_topk", "threshold", "percentile", "random_above_median")


def drop_count(n_units, fraction, rounding):
    """``ceil`` or ``floor`` of ``n_units * fraction`` (e.g. ceil(512 / 3.2) = 160).

    Examples
    --------
    >>> from normgraph.nn.rsc._select import drop_count
    >>> drop_count(49, 1 / 3, "ceil"), drop_count(512, 1 / 3.2, "ceil")
    (17, 160)
    >>> drop_count(512, 1 / 3, "floor")
    170
    """
    value = n_units * fraction
    return math.ceil(value) if rounding == "ceil" else math.floor(value)


def _descending(scores):
    """Scores sorted in descending order and their indices; ties keep the lower index first."""
    return torch.sort(scores, dim=1, descending=True, stable=True)


def select_units(scores, k, fraction, selection, rng):
    """(N, n) boolean: the units of each row muted by ``selection``.

    * ``"strict_topk"``: exactly the ``k`` largest (ties broken by the lower index);
    * ``"threshold"`` (official): every score strictly above the value at index ``k`` of the
      descending sort; ``k`` without ties, fewer with ties (all equal: none); all for k >= n;
    * ``"percentile"`` (DomainBed): scores ``>= np.percentile(row, (1 - fraction) * 100)``
      (linear interpolation);
    * ``"random_above_median"`` (ImageNet code): ``k`` drawn uniformly among the scores
      strictly above the value at index ``n // 2`` of the descending sort, or among all units
      when fewer than ``k`` are above it.
    """
    n_rows, n = scores.shape
    if k <= 0 and selection != "percentile":
        return torch.zeros_like(scores, dtype=torch.bool)
    if selection == "percentile":
        thr = torch.quantile(scores, 1.0 - fraction, dim=1, keepdim=True)
        return scores >= thr
    if k >= n:
        return torch.ones_like(scores, dtype=torch.bool)
    values, order = _descending(scores)
    if selection == "threshold":
        return scores > values[:, k:k + 1]
    if selection == "strict_topk":
        out = torch.zeros_like(scores, dtype=torch.bool)
        return out.scatter_(1, order[:, :k], True)
    candidates = scores > values[:, n // 2:n // 2 + 1]
    candidates |= (candidates.sum(dim=1, keepdim=True) < k)
    keys = torch.rand((n_rows, n), generator=rng, dtype=torch.float64).to(scores.device)
    keys = torch.where(candidates, keys, torch.full_like(keys, -1.0))
    out = torch.zeros_like(scores, dtype=torch.bool)
    return out.scatter_(1, keys.topk(k, dim=1).indices, True)


def select_samples(change, fraction, selection, clamp):
    """(N,) boolean: the challenged samples, from their confidence drops ``change``.

    ``n_b = round(N * fraction)`` (Python's banker's rounding, as the official code).

    * ``"threshold"`` (and ``"random_above_median"``): ``change > sort_desc(change)[n_b]``
      (official; with ``clamp`` a zero change is never challenged); for ``n_b >= N`` every
      sample with a positive change (``clamp``) or every sample;
    * ``"strict_topk"``: the ``n_b`` largest changes (ties by the lower index), keeping only
      positive ones under ``clamp``;
    * ``"percentile"`` (DomainBed): ``change >= np.percentile(change, (1 - fraction) * 100)``.
    """
    n = change.shape[0]
    if selection == "percentile":
        return change >= torch.quantile(change, 1.0 - fraction)
    n_b = round(n * fraction)
    positive = change > 0 if clamp else torch.ones_like(change, dtype=torch.bool)
    if n_b <= 0:
        return torch.zeros_like(change, dtype=torch.bool)
    if n_b >= n:
        return positive
    values, order = _descending(change.view(1, -1))
    if selection == "strict_topk":
        top = torch.zeros(n, dtype=torch.bool, device=change.device)
        top[order[0, :n_b]] = True
        return top & positive
    return (change > values[0, n_b]) & positive
