"""LSQ (Esser et al., ICLR 2020): uniform quantizers with a learned step size."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..._utils.numeric import power_of_two_scale
from ..._utils.validation import check_bool
from .._checks import check_layer_bits, check_tensor
from .._training import QuantizerBase

__all__ = ["lsq_quantize", "LSQAct", "LSQWeight"]


def _levels(n_bits, signed):
    """``(Q_N, Q_P)``: the clipping range in units of the step."""
    if signed:
        return 2 ** (n_bits - 1), 2 ** (n_bits - 1) - 1
    return 0, 2**n_bits - 1


def _check_signed_bits(n_bits, signed, what):
    n_bits = check_layer_bits(n_bits)
    if signed and n_bits == 1:
        raise ValueError(
            f"n_bits must be >= 2 for {what}: signed LSQ at 1 bit has Q_P = 2**0 - 1 = 0, which "
            "makes the step initialisation 2 mean|v| / sqrt(Q_P) and the gradient scale "
            "1 / sqrt(N Q_P) infinite")
    return n_bits


def lsq_quantize(v, step, n_bits=2, signed=False, grad_scale=1.0):
    """Functional LSQ: ``v_hat = s * round(clip(v / s, -Q_N, Q_P))`` with the LSQ gradients.

    Unsigned: ``Q_N = 0, Q_P = 2**b - 1``; signed: ``Q_N = 2**(b-1), Q_P = 2**(b-1) - 1``.
    ``dv_hat/dv = 1`` inside ``[-Q_N s, Q_P s]`` and 0 outside; ``dv_hat/ds = round(v/s) - v/s``
    inside, ``-Q_N`` below, ``Q_P`` above, multiplied by ``grad_scale`` (``g`` of the paper).

    Parameters
    ----------
    v : torch.Tensor
        Floating input.
    step : float or tensor
        Step size ``s > 0`` (a 0-d tensor to learn it).
    n_bits : int, default=2
        Bit width in [1, 8] (``>= 2`` when ``signed``).
    signed : bool, default=False
    grad_scale : float, default=1.0
        Factor ``g`` applied to the step's gradient only.

    Returns
    -------
    v_hat : torch.Tensor

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import lsq_quantize
    >>> lsq_quantize(torch.tensor([-1.0, 0.26, 0.74, 9.0]), 0.5, n_bits=2)
    tensor([0.0000, 0.5000, 0.5000, 1.5000])
    """
    check_tensor(v, "v")
    n_bits = _check_signed_bits(n_bits, check_bool(signed, "signed"), "signed LSQ")
    q_n, q_p = _levels(n_bits, signed)
    s = torch.as_tensor(step, dtype=v.dtype, device=v.device)
    g = float(grad_scale)
    s = (s - s * g).detach() + s * g  # value s, gradient scaled by g
    c = torch.clamp(v / s, -q_n, q_p)
    return (torch.round(c.detach()) + (c - c.detach())) * s


class _LSQBase(QuantizerBase):
    signed = False
    per_sample = False

    def __init__(self, n_bits, signed):
        super().__init__()
        self.signed = check_bool(signed, "signed")
        self.n_bits = _check_signed_bits(n_bits, self.signed,
                                         "LSQWeight and LSQAct(signed=True)")
        self.q_n, self.q_p = _levels(self.n_bits, self.signed)
        self.step = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("initialized", torch.tensor(False))

    def _n_elements(self, v):
        return v[0].numel() if self.per_sample else v.numel()

    @torch.no_grad()
    def init_from(self, v):
        """Set the step to ``2 mean|v| / sqrt(Q_P)`` (1 if ``v`` is all zeros); returns self.

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.quant import LSQAct
        >>> float(LSQAct(2).init_from(torch.full((4,), 3.0 ** 0.5)).step)
        2.0
        """
        check_tensor(v, "v")
        v = v.detach().double()
        scale = power_of_two_scale(float(v.abs().max())) if v.numel() else 1.0
        m = float((v / scale).abs().mean()) * scale      # no overflow at 1e300 magnitudes
        if not math.isfinite(m):
            raise ValueError("v contains NaN or infinity; the LSQ step cannot be initialised")
        step = 2.0 * m / math.sqrt(self.q_p) if m > 0 else 1.0
        if step > torch.finfo(self.step.dtype).max:
            raise ValueError(f"v is too large for a {self.step.dtype} step ({step:.3g}); "
                             "convert the module to float64 or rescale the input")
        self.step.fill_(step)
        self.initialized.fill_(True)
        return self

    def forward(self, v):
        check_tensor(v, "input")
        if not bool(self.initialized):
            self.init_from(v)
        g = 1.0 / math.sqrt(self._n_elements(v) * self.q_p)
        return lsq_quantize(v, self.step, self.n_bits, self.signed, g)

    def extra_repr(self):
        return f"n_bits={self.n_bits}, signed={self.signed}"

    @torch.no_grad()
    def code_scale(self):
        """The value of one code: the step ``s`` (0-d float64 tensor).

        Examples
        --------
        >>> from normgraph.nn.quant import LSQAct
        >>> float(LSQAct(2).code_scale())
        1.0
        """
        return self.step.detach().double()

    @torch.no_grad()
    def integer_codes(self, v):
        """Integer codes ``round(clip(v / s, -Q_N, Q_P))`` (int64).

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.quant import LSQAct
        >>> LSQAct(2).integer_codes(torch.tensor([-1.0, 0.4, 2.6, 9.0]))
        tensor([0, 0, 3, 3])
        """
        check_tensor(v, "v")
        s = self.step.detach().to(v.dtype)
        return torch.round(torch.clamp(v / s, -self.q_n, self.q_p)).long()


class LSQAct(_LSQBase):
    """LSQ activation quantizer (unsigned by default), one learned step per tensor.

    The step is initialised on the first batch to ``2 mean|x| / sqrt(Q_P)`` (or by
    :meth:`init_from`); its gradient is scaled by ``1 / sqrt(features_per_sample * Q_P)``.

    Parameters
    ----------
    n_bits : int, default=2
        Bit width in [1, 8]; ``>= 2`` when ``signed``.
    signed : bool, default=False
        Signed range ``[-2**(b-1), 2**(b-1) - 1]`` instead of ``[0, 2**b - 1]``.

    Attributes
    ----------
    step : torch.nn.Parameter, 0-d
    initialized : bool buffer

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import LSQAct
    >>> q = LSQAct(n_bits=2)
    >>> q
    LSQAct(n_bits=2, signed=False)
    >>> x = torch.tensor([[0.0, 0.5, 1.0, 2.0, 4.0]])
    >>> q(x), q.step.item()                   # step 2 * mean|x| / sqrt(3)
    (tensor([[0.0000, 0.0000, 1.7321, 1.7321, 3.4641]], grad_fn=<MulBackward0>), 1.7320...)
    """

    per_sample = True

    def __init__(self, n_bits=2, signed=False):
        super().__init__(n_bits, signed)


class LSQWeight(_LSQBase):
    """LSQ weight quantizer (signed, one learned step per tensor; ``n_bits >= 2``).

    The step is initialised from the first weight it sees to ``2 mean|W| / sqrt(Q_P)``; its
    gradient is scaled by ``1 / sqrt(W.numel() * Q_P)``.

    Parameters
    ----------
    n_bits : int, default=2
        Bit width in [2, 8] (1 bit is refused: ``Q_P = 0``).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import LSQWeight
    >>> q = LSQWeight(n_bits=2)
    >>> w = torch.tensor([[-1.0, -0.2, 0.3, 1.0]])
    >>> q(w) / q.step                       # step 2 * mean|w| = 1.25; codes in {-2, -1, 0, 1}
    tensor([[-1., 0., 0., 1.]], grad_fn=<DivBackward0>)
    """

    def __init__(self, n_bits=2):
        super().__init__(n_bits, True)

    def extra_repr(self):
        return f"n_bits={self.n_bits}"

    @torch.no_grad()
    def integer_codes(self, w):
        """Integer codes and the per-output-channel scale (the step, repeated; float64).

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.quant import LSQWeight
        >>> LSQWeight(2).integer_codes(torch.tensor([[-3.0, 0.4], [0.6, 2.0]]))
        (tensor([[-2,  0],
                [ 1,  1]]), tensor([1., 1.], dtype=torch.float64))
        """
        codes = super().integer_codes(w)
        return codes, self.code_scale().expand(w.shape[0]).clone()
