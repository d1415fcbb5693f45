"""PACT activations (Choi et al. 2018) and DoReFa weights (Zhou et al. 2016)."""

from __future__ import annotations

import torch
from torch import nn

from ..._utils.validation import check_real
from .._checks import check_layer_bits, check_tensor
from .._training import QuantizerBase

__all__ = ["pact_quantize", "PACTAct", "dorefa_weight", "DoReFaWeight"]


def pact_quantize(x, alpha, n_bits=2):
    """Functional PACT: ``y = clip(x, 0, alpha)``, ``y_q = round(y L / alpha) alpha / L``.

    ``L = 2**b - 1``. Gradients: ``dy_q/dx = 1`` on ``[0, alpha)``, 0 elsewhere;
    ``dy_q/dalpha = 1`` where ``x >= alpha``, else 0 (straight-through rounding).

    Parameters
    ----------
    x : torch.Tensor
    alpha : float or tensor
        Clipping level ``> 0`` (a 0-d tensor to learn it).
    n_bits : int, default=2
        Bit width in [1, 8].

    Returns
    -------
    y_q : torch.Tensor

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import pact_quantize
    >>> pact_quantize(torch.tensor([-1.0, 0.3, 0.9, 2.6]), 3.0, n_bits=2)
    tensor([0., 0., 1., 3.])
    """
    check_tensor(x, "x")
    n_steps = 2 ** check_layer_bits(n_bits) - 1
    a = torch.as_tensor(alpha, dtype=x.dtype, device=x.device)
    y = torch.where(x < a, torch.where(x >= 0, x, torch.zeros_like(x)), a)
    q = torch.round(y.detach() * (n_steps / a.detach())) * (a.detach() / n_steps)
    nan = torch.isnan(x)
    if bool(nan.any()):  # NaN stays NaN (torch semantics), not the clipping level
        q = torch.where(nan, x.detach(), q)
    return q + (y - y.detach())


class PACTAct(QuantizerBase):
    """PACT activation quantizer with a learned clipping level ``alpha`` (one per tensor).

    Parameters
    ----------
    n_bits : int, default=2
        Bit width in [1, 8].
    alpha_init : float, default=10.0
        Initial ``alpha`` (10 in the PACT paper; 2 matches N2UQ's output range).
    alpha_decay : float, default=1e-4
        Coefficient ``lambda`` of the L2 penalty ``lambda * alpha**2`` returned by
        :meth:`penalty` (add it to the loss).

    Attributes
    ----------
    alpha : torch.nn.Parameter, 0-d

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import PACTAct
    >>> q = PACTAct(n_bits=2, alpha_init=3.0)
    >>> q
    PACTAct(n_bits=2, alpha_init=3.0, alpha_decay=0.0001)
    >>> q(torch.tensor([-1.0, 0.3, 0.9, 2.6]))
    tensor([0., 0., 1., 3.], grad_fn=<AddBackward0>)
    >>> round(float(q.penalty()), 6)
    0.0009
    """

    def __init__(self, n_bits=2, alpha_init=10.0, alpha_decay=1e-4):
        super().__init__()
        self.n_bits = check_layer_bits(n_bits)
        self.alpha_init = check_real(alpha_init, "alpha_init", low=0.0, low_inclusive=False)
        self.alpha_decay = check_real(alpha_decay, "alpha_decay", low=0.0)
        self.alpha = nn.Parameter(torch.tensor(self.alpha_init))

    def forward(self, x):
        return pact_quantize(x, self.alpha, self.n_bits)

    def penalty(self):
        """The L2 penalty ``alpha_decay * alpha**2`` (a 0-d tensor with gradient).

        Examples
        --------
        >>> from normgraph.nn.quant import PACTAct
        >>> round(float(PACTAct(2, alpha_init=10.0, alpha_decay=1e-4).penalty()), 6)
        0.01
        """
        return self.alpha_decay * self.alpha**2

    def extra_repr(self):
        return (f"n_bits={self.n_bits}, alpha_init={self.alpha_init}, "
                f"alpha_decay={self.alpha_decay}")

    @torch.no_grad()
    def code_scale(self):
        """The value of one code, ``alpha / L`` (0-d float64 tensor).

        Examples
        --------
        >>> from normgraph.nn.quant import PACTAct
        >>> float(PACTAct(2, alpha_init=3.0).code_scale())
        1.0
        """
        return self.alpha.detach().double() / (2**self.n_bits - 1)

    @torch.no_grad()
    def integer_codes(self, x):
        """Integer codes ``round(clip(x, 0, alpha) L / alpha)`` in ``0 .. L`` (int64).

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.quant import PACTAct
        >>> PACTAct(2, alpha_init=3.0).integer_codes(torch.tensor([-1.0, 0.3, 0.9, 2.6]))
        tensor([0, 0, 1, 3])
        """
        check_tensor(x, "x")
        a = self.alpha.detach().to(x.dtype)
        y = torch.where(x < a, x.clamp(min=0.0), a)
        return torch.round(y * ((2**self.n_bits - 1) / a)).long()


def _dorefa_unit(w, n_bits):
    """``r = tanh(w) / (2 max|tanh w|) + 1/2`` in [0, 1] (0.5 for an all-zero tensor)."""
    t = torch.tanh(w)
    m = t.detach().abs().max()
    m = torch.where(m > 0, m, torch.ones_like(m))
    return t / (2.0 * m) + 0.5


def dorefa_weight(w, n_bits=2):
    """DoReFa weights: ``w_q = 2 qk(tanh(w) / (2 max|tanh w|) + 1/2) - 1``, STE through round.

    ``qk(r) = round(L r) / L`` with ``L = 2**b - 1``; outputs lie in ``[-1, 1]``
    (``2**b`` levels). The maximum is taken over the whole tensor and treated as a constant.

    Parameters
    ----------
    w : torch.Tensor
    n_bits : int, default=2
        Bit width in [1, 8].

    Returns
    -------
    w_q : torch.Tensor

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import dorefa_weight
    >>> (dorefa_weight(torch.tensor([-2.0, -0.1, 0.2, 2.0]), 2) * 3).round()
    tensor([-3., -1.,  1.,  3.])
    """
    check_tensor(w, "w")
    if w.numel() == 0:
        raise ValueError("w must not be empty")
    n_steps = 2 ** check_layer_bits(n_bits) - 1
    r = _dorefa_unit(w, n_bits)
    q = torch.round(r.detach() * n_steps) / n_steps
    return 2.0 * (q + (r - r.detach())) - 1.0


class DoReFaWeight(QuantizerBase):
    """Module form of :func:`dorefa_weight` (no parameters).

    Parameters
    ----------
    n_bits : int, default=2
        Bit width in [1, 8].

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import DoReFaWeight
    >>> DoReFaWeight(1)(torch.tensor([-0.3, 0.1, 0.5]))
    tensor([-1.,  1.,  1.])
    """

    def __init__(self, n_bits=2):
        super().__init__()
        self.n_bits = check_layer_bits(n_bits)

    def forward(self, w):
        return dorefa_weight(w, self.n_bits)

    def extra_repr(self):
        return f"n_bits={self.n_bits}"

    @torch.no_grad()
    def integer_codes(self, w):
        """Odd integer codes ``2 round(L r) - L`` in ``[-L, L]`` and the scale ``1 / L``.

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.quant import DoReFaWeight
        >>> DoReFaWeight(2).integer_codes(torch.tensor([[-2.0, -0.1], [0.2, 2.0]]))
        (tensor([[-3, -1],
                [ 1,  3]]), tensor([0.3333, 0.3333], dtype=torch.float64))
        """
        check_tensor(w, "w")
        n_steps = 2**self.n_bits - 1
        r = _dorefa_unit(w.detach(), self.n_bits)
        codes = 2 * torch.round(r * n_steps).long() - n_steps
        return codes, torch.full((w.shape[0],), 1.0 / n_steps, dtype=torch.float64)
