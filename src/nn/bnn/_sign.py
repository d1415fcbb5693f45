"""Binary activations: the sign with the Bi-Real polynomial surrogate, and ``RSign``."""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_tensor
from .._training import LearnableBias

__all__ = ["bireal_surrogate", "BiRealSignFunction", "bireal_sign", "bireal_sign_reference",
           "RSign"]


def bireal_surrogate(x):
    """The Bi-Real approximation ``F`` of ``sign`` (piecewise quadratic, C1).

    ``F(x) = -1`` for ``x < -1``, ``x**2 + 2x`` on ``[-1, 0)``, ``-x**2 + 2x`` on ``[0, 1)``
    and ``1`` for ``x >= 1``; its derivative is ``2 - 2|x|`` on ``[-1, 1)`` and 0 elsewhere.

    Parameters
    ----------
    x : torch.Tensor
        Floating-point tensor of any shape.

    Returns
    -------
    F : torch.Tensor
        Same shape, dtype and device; differentiable by autograd.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import bireal_surrogate
    >>> bireal_surrogate(torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0]))
    tensor([-1.0000, -0.7500,  0.0000,  0.7500,  1.0000])
    """
    check_tensor(x, "x")
    inner = x.clamp(-1.0, 1.0)
    return inner * (2.0 - inner.abs())


def _sign_keep_nan(x):
    y = torch.sign(x)
    nan = torch.isnan(x)
    if bool(nan.any()):
        y = torch.where(nan, x, y)
    return y


class BiRealSignFunction(torch.autograd.Function):
    """``sign(x)`` forward, Bi-Real surrogate gradient ``F'(x) = 2 - 2|x|`` on [-1, 1) backward.

    Call it through :func:`bireal_sign`. ``torch.sign(0) = 0`` is kept in the forward; NaN
    stays NaN (``torch.sign`` itself maps NaN to 0, which would hide it).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import BiRealSignFunction
    >>> x = torch.tensor([-0.5, 0.25, 2.0], requires_grad=True)
    >>> BiRealSignFunction.apply(x).sum().backward()
    >>> x.grad
    tensor([1.0000, 1.5000, 0.0000])
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _sign_keep_nan(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        # 2 - 2|x| is <= 0 exactly outside (-1, 1), so the clamp gives F' everywhere
        return grad_out * (2.0 - 2.0 * x.abs()).clamp_(min=0.0)


def bireal_sign(x):
    """Binary activation ``sign(x)`` with the Bi-Real surrogate gradient (functional form).

    Parameters
    ----------
    x : torch.Tensor
        Floating-point tensor.

    Returns
    -------
    y : torch.Tensor
        ``torch.sign(x)`` (0 stays 0; NaN propagates), with gradient ``F'(x)`` of
        :func:`bireal_surrogate`.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import bireal_sign
    >>> bireal_sign(torch.tensor([-0.3, 0.0, 4.0]))
    tensor([-1.,  0.,  1.])
    """
    check_tensor(x, "x")
    return BiRealSignFunction.apply(x)


def bireal_sign_reference(x):
    """Reference ("detach") form ``sign(x).detach() + F(x) - F(x).detach()`` (for tests).

    Same forward and gradient as :func:`bireal_sign`, built from torch ops only.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import bireal_sign_reference
    >>> x = torch.tensor([-0.5, 0.25], requires_grad=True)
    >>> bireal_sign_reference(x).sum().backward()
    >>> x.grad
    tensor([1.0000, 1.5000])
    """
    f = bireal_surrogate(x)
    return _sign_keep_nan(x.detach()) + f - f.detach()


class RSign(nn.Module):
    """ReAct sign: ``sign(x + beta)`` with a learnable per-channel threshold ``beta``.

    The offset is the shared :class:`~normgraph.nn.LearnableBias`; the sign uses the Bi-Real
    surrogate gradient (:func:`bireal_sign`). ``sign(0) = 0`` as in ``torch.sign`` (zeros are
    measure-zero after batch norm).

    Parameters
    ----------
    channels : int
        Number of channels ``C`` of the (N, C, H, W) input.

    Attributes
    ----------
    bias : LearnableBias

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import RSign
    >>> m = RSign(2)
    >>> m
    RSign(
      2
      (bias): LearnableBias(2)
    )
    >>> m(torch.tensor([[[[-0.2]], [[0.7]]]])).flatten()
    tensor([-1.,  1.], grad_fn=<ViewBackward0>)
    """

    def __init__(self, channels):
        super().__init__()
        self.bias = LearnableBias(channels)
        self.channels = self.bias.channels

    def forward(self, x):
        return bireal_sign(self.bias(x))

    def extra_repr(self):
        return f"{self.channels}"
