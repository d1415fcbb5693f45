"""Masked mean pooling of token states over the valid tokens (ER-ZSAR text encoder, step 3)."""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_tensor

__all__ = ["masked_mean_pool", "MaskedMeanPool"]


def _check_mask(states, mask):
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
    if states.dim() != 3:
        raise ValueError(f"token states must be 3-D (n, L, d), got shape {tuple(states.shape)}")
    if tuple(mask.shape) != tuple(states.shape[:2]):
        raise ValueError(
            f"mask must have shape {tuple(states.shape[:2])} (n, L), got {tuple(mask.shape)}")
    valid = mask.to(dtype=torch.bool, device=states.device)
    empty = (~valid.any(dim=1)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"mask has rows with no valid token (rows {empty}); "
                         "their mean is undefined")
    return valid


def masked_mean_pool(states, mask):
    """Mean of the token states over the valid tokens of each row.

    Padding positions are excluded with ``torch.where`` (not by multiplying by 0), so padding
    filled with inf or NaN does not leak into the result.

    Parameters
    ----------
    states : torch.Tensor of shape (n, L, d)
        Token states (floating point).
    mask : torch.Tensor of shape (n, L)
        Nonzero (or True) at the valid tokens. Every row needs at least one.

    Returns
    -------
    pooled : torch.Tensor of shape (n, d)

    Raises
    ------
    ValueError
        If the shapes disagree or a row has no valid token (the original divides by zero).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import masked_mean_pool
    >>> states = torch.tensor([[[1.0], [3.0], [1e30]]])
    >>> masked_mean_pool(states, torch.tensor([[1, 1, 0]]))
    tensor([[2.]])
    """
    check_tensor(states, "states")
    valid = _check_mask(states, mask)
    kept = torch.where(valid.unsqueeze(-1), states, torch.zeros((), dtype=states.dtype,
                                                                 device=states.device))
    counts = valid.sum(dim=1, keepdim=True).to(states.dtype)
    return kept.sum(dim=1) / counts


class MaskedMeanPool(nn.Module):
    """Module form of :func:`masked_mean_pool` (no parameters).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.zeroshot import MaskedMeanPool
    >>> MaskedMeanPool()(torch.ones(2, 3, 4), torch.ones(2, 3)).shape
    torch.Size([2, 4])
    """

    def forward(self, states, mask):
        return masked_mean_pool(states, mask)
