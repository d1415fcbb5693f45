"""Checks shared by the torch layers of :mod:`normgraph.nn` (built on the shared vocabulary)."""

from __future__ import annotations

import torch

from .._utils.validation import check_int

__all__ = ["check_layer_bits", "check_input_4d", "check_tensor"]

#: Bit widths the torch layers accept (spec: n_bits in [1, 8]).
MAX_LAYER_BITS = 8


def check_layer_bits(n_bits, name="n_bits"):
    """An integer bit width in [1, 8] (TypeError for a non-integer, ValueError outside).

    Examples
    --------
    >>> from normgraph.nn._checks import check_layer_bits
    >>> check_layer_bits(2)
    2
    >>> check_layer_bits(9)
    Traceback (most recent call last):
    ...
    ValueError: n_bits must be <= 8, got 9
    """
    return check_int(n_bits, name, low=1, high=MAX_LAYER_BITS)


def check_tensor(x, name):
    """Raise ``TypeError`` unless ``x`` is a floating-point torch tensor.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn._checks import check_tensor
    >>> check_tensor(torch.ones(2), "input").shape
    torch.Size([2])
    >>> check_tensor([1.0], "input")
    Traceback (most recent call last):
    ...
    TypeError: input must be a torch.Tensor, got list
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_input_4d(x, name="input"):
    """A floating tensor of shape (N, C, H, W); ``ValueError`` naming the shape otherwise.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn._checks import check_input_4d
    >>> check_input_4d(torch.ones(3, 4))
    Traceback (most recent call last):
    ...
    ValueError: input must be 4-D (N, C, H, W), got shape (3, 4)
    """
    check_tensor(x, name)
    if x.dim() != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    return x
