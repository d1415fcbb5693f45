"""Training helpers shared by every ``normgraph.nn`` method family.

``LearnableBias``, ``DistributionLoss``, ``linear_lr_lambda`` and ``bnn_param_groups`` are used
by the quantized networks (:mod:`normgraph.nn.quant`) and by the binary networks of later
issues; they are defined here once. ``QuantizerBase`` is the type that ``bnn_param_groups``
recognises as a quantizer: parameters are grouped by module type, never by name.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.conv import _ConvNd

from .._utils.validation import check_bool, check_int, check_real
from ._checks import check_tensor

__all__ = [
    "QuantizerBase",
    "LearnableBias",
    "DistributionLoss",
    "linear_lr_lambda",
    "bnn_param_groups",
]


class QuantizerBase(nn.Module):
    """Base class of the quantizer modules (their parameters train at a reduced learning rate).

    :func:`bnn_param_groups` puts every parameter of a ``QuantizerBase`` module (N2UQ
    ``start``/``a``/``scale1``/``scale2``, LSQ step sizes, PACT's clipping level) into the
    quantizer group. Subclass it for a new quantizer; it adds no behaviour.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn import QuantizerBase
    >>> class Halve(QuantizerBase):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.s = torch.nn.Parameter(torch.tensor(0.5))
    ...     def forward(self, x):
    ...         return self.s * x
    >>> isinstance(Halve(), QuantizerBase)
    True
    """


class LearnableBias(nn.Module):
    """Per-channel learnable offset ``x + beta`` (``beta`` initialised to 0).

    Parameters
    ----------
    channels : int
        Number of channels ``C`` of the (N, C, ...) input.

    Attributes
    ----------
    bias : torch.nn.Parameter of shape (C,)

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn import LearnableBias
    >>> m = LearnableBias(3)
    >>> with torch.no_grad():
    ...     m.bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
    Parameter containing:
    tensor([1., 2., 3.], requires_grad=True)
    >>> m(torch.zeros(1, 3, 2, 2))[0, :, 0, 0]
    tensor([1., 2., 3.], grad_fn=<SelectBackward0>)
    """

    def __init__(self, channels):
        super().__init__()
        self.channels = check_int(channels, "channels", low=1)
        self.bias = nn.Parameter(torch.zeros(self.channels))

    def forward(self, x):
        check_tensor(x, "input")
        if x.dim() < 2 or x.shape[1] != self.channels:
            raise ValueError(f"input must have shape (N, {self.channels}, ...), got "
                             f"{tuple(x.shape)}")
        shape = (1, self.channels) + (1,) * (x.dim() - 2)
        return x + self.bias.view(shape)

    def extra_repr(self):
        return f"{self.channels}"


class DistributionLoss(nn.Module):
    """Knowledge-distillation loss: cross-entropy of the student against the teacher's softmax.

    ``loss = mean_n -sum_c softmax(t_n)_c * log_softmax(s_n)_c`` with the teacher logits
    detached, i.e. ``F.cross_entropy(s, target=softmax(t))`` with class-probability targets
    (plain cross-entropy when the teacher distribution is one-hot). No ground-truth term.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn import DistributionLoss
    >>> s = torch.tensor([[2.0, 0.0]])
    >>> t = torch.tensor([[1e4, 0.0]])            # one-hot teacher: plain cross-entropy
    >>> round(float(DistributionLoss()(s, t)), 4)
    0.1269
    """

    def forward(self, student_logits, teacher_logits):
        check_tensor(student_logits, "student_logits")
        check_tensor(teacher_logits, "teacher_logits")
        if student_logits.dim() != 2 or student_logits.shape != teacher_logits.shape:
            raise ValueError(
                "student_logits and teacher_logits must both have shape (N, n_classes), got "
                f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
        target = F.softmax(teacher_logits.detach(), dim=1)
        return -(target * F.log_softmax(student_logits, dim=1)).sum(dim=1).mean()


def linear_lr_lambda(total_epochs):
    """The linear decay ``e -> 1 - e / total_epochs`` for ``torch.optim.lr_scheduler.LambdaLR``.

    Parameters
    ----------
    total_epochs : int
        Number of epochs ``E`` (the scheduler is stepped once per epoch), ``>= 1``.

    Returns
    -------
    lr_lambda : callable
        ``lr_lambda(e) = 1 - e / E``.

    Examples
    --------
    >>> from normgraph.nn import linear_lr_lambda
    >>> f = linear_lr_lambda(4)
    >>> [f(e) for e in range(5)]
    [1.0, 0.75, 0.5, 0.25, 0.0]
    """
    total = check_int(total_epochs, "total_epochs", low=1)

    def lr_lambda(epoch):
        return 1.0 - epoch / total

    return lr_lambda


def _is_downsample_a(name, module, param_name):
    return "downsample" in name.split(".") and param_name == "a"


def bnn_param_groups(model, weight_decay, lr, quant_lr_mult=0.1, reference_name_matching=False):
    """Optimizer parameter groups selected by module type.

    1. ``"conv_weights"``: the ``weight`` of every convolution module (``nn.Conv2d`` and its
       subclasses: the quantized convs, full-precision stem and downsample convs) at ``lr``
       with ``weight_decay``;
    2. ``"quantizer"``: every parameter of a :class:`QuantizerBase` module at
       ``lr * quant_lr_mult``, no weight decay;
    3. ``"other"``: everything else (BN, PReLU, :class:`LearnableBias`, biases, the FC) at
       ``lr``, no weight decay.

    Empty groups are omitted. Each group carries a ``"name"`` key.

    Parameters
    ----------
    model : torch.nn.Module
    weight_decay : float
        Weight decay of the conv weights, ``>= 0``.
    lr : float
        Base learning rate, ``> 0``.
    quant_lr_mult : float, default=0.1
        Learning-rate multiplier of the quantizer parameters, ``> 0``.
    reference_name_matching : bool, default=False
        Reproduce the N2UQ reference code's name-based selection, in which the interval
        lengths ``a`` of the quantizers inside ``downsample`` paths are missed and so train at
        the full ``lr`` (in group ``"other"``).

    Returns
    -------
    groups : list of dict
        For ``torch.optim`` constructors.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn import bnn_param_groups
    >>> from normgraph.nn.quant import N2UQConv2d
    >>> model = torch.nn.Sequential(N2UQConv2d(2, 4, 3), torch.nn.BatchNorm2d(4))
    >>> groups = bnn_param_groups(model, weight_decay=1e-5, lr=1e-3)
    >>> [(g["name"], len(g["params"]), g["lr"], g["weight_decay"]) for g in groups]
    [('conv_weights', 1, 0.001, 1e-05), ('quantizer', 4, 0.0001, 0.0), ('other', 2, 0.001, 0.0)]
    >>> optimizer = torch.optim.Adam(groups)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    weight_decay = check_real(weight_decay, "weight_decay", low=0.0)
    lr = check_real(lr, "lr", low=0.0, low_inclusive=False)
    quant_lr_mult = check_real(quant_lr_mult, "quant_lr_mult", low=0.0, low_inclusive=False)
    reference_name_matching = check_bool(reference_name_matching, "reference_name_matching")
    conv, quant = [], []
    assigned = set()
    for name, module in model.named_modules():
        if isinstance(module, _ConvNd) and module.weight is not None:
            if id(module.weight) not in assigned:
                conv.append(module.weight)
                assigned.add(id(module.weight))
        if isinstance(module, QuantizerBase):
            for pname, p in module.named_parameters():
                if id(p) in assigned:
                    continue
                if reference_name_matching and _is_downsample_a(name, module, pname):
                    continue
                quant.append(p)
                assigned.add(id(p))
    other = [p for p in model.parameters() if id(p) not in assigned]
    groups = [
        dict(name="conv_weights", params=conv, lr=lr, weight_decay=weight_decay),
        dict(name="quantizer", params=quant, lr=lr * quant_lr_mult, weight_decay=0.0),
        dict(name="other", params=other, lr=lr, weight_decay=0.0),
    ]
    return [g for g in groups if g["params"]]
