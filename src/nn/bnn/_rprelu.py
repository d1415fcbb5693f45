"""``RPReLU``: PReLU with learnable input and output shifts."""

from __future__ import annotations

from torch import nn

from ..._utils.validation import check_int
from .._training import LearnableBias

__all__ = ["RPReLU"]


class RPReLU(nn.Module):
    """ReAct PReLU: ``LearnableBias -> PReLU(C, init 0.25) -> LearnableBias``.

    Computes ``PReLU(x - gamma) + zeta`` with per-channel ``gamma``, slope and ``zeta``
    (``gamma`` is stored as the first offset, ``-gamma``). Every parameter is a per-channel
    vector; the offsets start at 0 and the slopes at 0.25.

    Parameters
    ----------
    channels : int
        Number of channels ``C`` of the (N, C, ...) input.

    Attributes
    ----------
    shift_in : LearnableBias
    prelu : torch.nn.PReLU
    shift_out : LearnableBias

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import RPReLU
    >>> m = RPReLU(1)
    >>> m(torch.tensor([-2.0, 3.0]).view(2, 1))
    tensor([[-0.5000],
            [ 3.0000]], grad_fn=<AddBackward0>)
    """

    def __init__(self, channels):
        super().__init__()
        self.channels = check_int(channels, "channels", low=1)
        self.shift_in = LearnableBias(self.channels)
        self.prelu = nn.PReLU(self.channels, init=0.25)
        self.shift_out = LearnableBias(self.channels)

    def forward(self, x):
        return self.shift_out(self.prelu(self.shift_in(x)))

    def extra_repr(self):
        return f"{self.channels}"
