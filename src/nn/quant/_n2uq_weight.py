"""N2UQ weight quantizer: per-channel entropy-preserving symmetric levels without zero."""

from __future__ import annotations

import torch

from .._checks import check_layer_bits, check_tensor
from .._training import QuantizerBase

__all__ = ["n2uq_weight", "N2UQWeight"]


def _channel_scale(w, n_bits):
    """``s_c = gamma_b * mean|W_c|`` (detached), shaped to broadcast over ``w``."""
    gamma = (2**n_bits - 1) / 2 ** (n_bits - 1)
    dims = tuple(range(1, w.dim()))
    s = gamma * w.detach().abs().mean(dim=dims, keepdim=True) if dims else gamma * w.detach().abs()
    return s


def _check_weight(w, n_bits):
    check_tensor(w, "weight")
    if w.dim() < 1 or w.numel() == 0:
        raise ValueError(f"weight must be a non-empty tensor with an output-channel axis, got "
                         f"shape {tuple(w.shape)}")
    return check_layer_bits(n_bits)


def n2uq_weight(w, n_bits=2):
    """Quantize a weight tensor with N2UQ's entropy-preserving quantizer (axis 0 = channels).

    ``s_c = gamma_b * mean|W_c|`` (detached, ``gamma_b = (2**b - 1) / 2**(b - 1)``),
    ``W~ = W / s_c``, ``q = round((clip(W~, -1, 1) + 1) * L / 2) * 2 / L - 1`` with
    ``L = 2**b - 1`` (``2**b`` symmetric levels, no zero) and ``W_q = s_c * q``. The gradient is
    that of ``W~`` (identity STE, ``dW = dW_q / s_c``, no clipping mask); a channel of zeros
    gives zeros and no gradient. Matches :func:`normgraph.quant.n2uq_weight_quant`.

    Parameters
    ----------
    w : torch.Tensor
        Floating weights, at least 1-D, output channels on axis 0.
    n_bits : int, default=2
        Bit width in [1, 8].

    Returns
    -------
    w_q : torch.Tensor
        Same shape, dtype and device as ``w``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import n2uq_weight
    >>> w = torch.tensor([[-0.9, -0.2, 0.1, 0.6]])
    >>> n2uq_weight(w, 2) / 0.675 * 3                  # levels -3, -1, 1, 3 (units of 1/3)
    tensor([[-3.0000, -1.0000,  1.0000,  3.0000]])
    """
    n_bits = _check_weight(w, n_bits)
    n_steps = 2**n_bits - 1
    s = _channel_scale(w, n_bits)
    positive = s > 0
    w_tilde = torch.where(positive, w / torch.where(positive, s, torch.ones_like(s)),
                          torch.zeros_like(w))
    q = torch.round((w_tilde.detach().clamp(-1.0, 1.0) + 1.0) * (n_steps / 2.0)) * (
        2.0 / n_steps) - 1.0
    return (s * q) + (w_tilde - w_tilde.detach())


class N2UQWeight(QuantizerBase):
    """Module form of :func:`n2uq_weight` (no parameters; the scale is recomputed each call).

    Parameters
    ----------
    n_bits : int, default=2
        Bit width in [1, 8].

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import N2UQWeight
    >>> wq = N2UQWeight(2)(torch.randn(4, 3, 3, 3))
    >>> [len(torch.unique(wq[c])) <= 4 for c in range(4)]
    [True, True, True, True]
    """

    def __init__(self, n_bits=2):
        super().__init__()
        self.n_bits = check_layer_bits(n_bits)

    def forward(self, w):
        return n2uq_weight(w, self.n_bits)

    def extra_repr(self):
        return f"n_bits={self.n_bits}"

    @torch.no_grad()
    def integer_codes(self, w):
        """Odd integer codes in ``[-L, L]`` and the per-channel scale ``s_c / L`` (float64).

        ``forward(w) == codes * scale[:, None, ...]`` up to rounding.

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.quant import N2UQWeight
        >>> codes, scale = N2UQWeight(2).integer_codes(torch.tensor([[-0.9, -0.2, 0.1, 0.6]]))
        >>> codes, scale
        (tensor([[-3, -1,  1,  3]]), tensor([0.2250], dtype=torch.float64))
        """
        n_bits = _check_weight(w, self.n_bits)
        n_steps = 2**n_bits - 1
        w = w.detach()
        s = _channel_scale(w, n_bits)
        w_tilde = torch.where(s > 0, w / torch.where(s > 0, s, torch.ones_like(s)),
                              torch.zeros_like(w))
        j = torch.round((w_tilde.clamp(-1.0, 1.0) + 1.0) * (n_steps / 2.0)).long()
        return 2 * j - n_steps, s.reshape(-1).double() / n_steps
