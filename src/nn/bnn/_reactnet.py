"""ReActNet-A: the binary MobileNet-like network of ReActNet/AdamBNN (blocks and builder)."""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from ..._utils.validation import check_allocation, check_bool, check_int, check_real
from .._checks import check_input_4d
from ._binary_conv import BinaryConv2d
from ._rprelu import RPReLU
from ._sign import RSign

__all__ = ["ReActBlock", "ReActNet", "reactnet_a", "reactnet_widths", "load_checkpoint"]

#: Channel multipliers of ReActNet-A relative to the base width ``c0`` (32 at width_mult=1).
_MULTIPLIERS = (1, 2, 4, 4, 8, 8, 16, 16, 16, 16, 16, 16, 32, 32)
N_BLOCKS = len(_MULTIPLIERS) - 1


def reactnet_widths(width_mult=1.0):
    """Channel widths ``ch[0..13]`` of ReActNet-A at a width multiplier.

    Only the base width is rounded: ``c0 = 8 * floor(32 w / 8 + 1/2)`` for ``w >= 1`` and
    ``c0 = max(4, floor(32 w + 1/2))`` for ``w < 1``; then ``ch[i] = m_i * c0`` with
    ``m = [1, 2, 4, 4, 8, 8, 16, 16, 16, 16, 16, 16, 32, 32]``, so every block maps
    ``C_in`` to ``C_in`` or ``2 C_in`` exactly.

    Parameters
    ----------
    width_mult : float, default=1.0
        Width multiplier, ``> 0``.

    Returns
    -------
    widths : list of int
        14 widths: the stem's output, then the output of blocks 1..13.

    Examples
    --------
    >>> from normgraph.nn.bnn import reactnet_widths
    >>> reactnet_widths(1.0)[:6]
    [32, 64, 128, 128, 256, 256]
    >>> [reactnet_widths(w)[0] for w in (1 / 8, 0.3, 1.5)]
    [4, 10, 48]
    """
    w = check_real(width_mult, "width_mult", low=0.0, low_inclusive=False)
    # every net has at least block 1's c0 x c0 convolution (also keeps floor() finite)
    check_allocation((32.0 * w) * (32.0 * w), "width_mult", itemsize=4,
                     what="the smallest binary convolution")
    if w >= 1:
        c0 = 8 * math.floor(32.0 * w / 8.0 + 0.5)
    else:
        c0 = max(4, math.floor(32.0 * w + 0.5))
    return [m * c0 for m in _MULTIPLIERS]


class ReActBlock(nn.Module):
    """The ReActNet-A block: a binary 3x3 conv and a binary 1x1 conv, each with a shortcut.

    ``out1 = BN(BinConv3x3_s(RSign1(x)))`` (``C_in -> C_in``); with stride 2 the shortcut is
    ``AvgPool2d(2, 2)(x)``; ``out1 = RPReLU1(out1 + x)``. Then ``y = RSign2(out1)``; for
    ``C_out = C_in``: ``out2 = BN(BinConv1x1(y)) + out1``; for ``C_out = 2 C_in``:
    ``out2 = cat(BN(BinConv1x1_a(y)) + out1, BN(BinConv1x1_b(y)) + out1)``. Output
    ``RPReLU2(out2)``.

    Parameters
    ----------
    in_channels : int
        ``C_in >= 1``.
    out_channels : int
        ``C_in`` or ``2 C_in``.
    stride : {1, 2}, default=1
    binary_weights : bool, default=True
        Binary weights in the convolutions (False: real weights, step 1 of the recipe).
    binary_activations : bool, default=True
        Binary activations (False replaces every :class:`RSign` by the identity).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import ReActBlock
    >>> ReActBlock(8, 16, stride=2)(torch.randn(1, 8, 6, 6)).shape
    torch.Size([1, 16, 3, 3])
    """

    def __init__(self, in_channels, out_channels, stride=1, binary_weights=True,
                 binary_activations=True):
        super().__init__()
        cin = check_int(in_channels, "in_channels", low=1)
        cout = check_int(out_channels, "out_channels", low=1)
        if cout not in (cin, 2 * cin):
            raise ValueError(f"out_channels must be in_channels ({cin}) or 2 * in_channels "
                             f"({2 * cin}), got {cout}")
        self.stride = check_int(stride, "stride", low=1, high=2)
        self.binary_weights = check_bool(binary_weights, "binary_weights")
        self.binary_activations = check_bool(binary_activations, "binary_activations")
        self.in_channels, self.out_channels = cin, cout
        bw = self.binary_weights

        def sign(c):
            return RSign(c) if self.binary_activations else nn.Identity()

        self.sign1 = sign(cin)
        self.conv3x3 = BinaryConv2d(cin, cin, 3, stride=self.stride, padding=1,
                                    binary_weights=bw)
        self.bn1 = nn.BatchNorm2d(cin)
        self.pool = nn.AvgPool2d(2, 2) if self.stride == 2 else nn.Identity()
        self.act1 = RPReLU(cin)
        self.sign2 = sign(cin)
        if cout == cin:
            self.conv1x1 = BinaryConv2d(cin, cin, 1, binary_weights=bw)
            self.bn2 = nn.BatchNorm2d(cin)
        else:
            self.conv1x1_a = BinaryConv2d(cin, cin, 1, binary_weights=bw)
            self.bn2_a = nn.BatchNorm2d(cin)
            self.conv1x1_b = BinaryConv2d(cin, cin, 1, binary_weights=bw)
            self.bn2_b = nn.BatchNorm2d(cin)
        self.act2 = RPReLU(cout)

    def forward(self, x):
        check_input_4d(x)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"input must have {self.in_channels} channels, got shape "
                             f"{tuple(x.shape)}")
        out1 = self.bn1(self.conv3x3(self.sign1(x)))
        out1 = self.act1(out1 + self.pool(x))
        y = self.sign2(out1)
        if self.out_channels == self.in_channels:
            out2 = self.bn2(self.conv1x1(y)) + out1
        else:
            out2 = torch.cat([self.bn2_a(self.conv1x1_a(y)) + out1,
                              self.bn2_b(self.conv1x1_b(y)) + out1], dim=1)
        return self.act2(out2)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, stride={self.stride}, "
                f"binary_weights={self.binary_weights}, "
                f"binary_activations={self.binary_activations}")


class ReActNet(nn.Module):
    """ReActNet-A: real stem conv + BN, ReAct blocks 1..``stages``, average pool, real FC.

    Block ``i`` maps ``ch[i-1] -> ch[i]`` (:func:`reactnet_widths`) with stride 2 where the
    width changes, except block 1 (stride 1): blocks 2, 4, 6 and 12 have stride 2.

    Parameters
    ----------
    width_mult : float, default=1.0
        Width multiplier, ``> 0`` (see :func:`reactnet_widths`).
    num_classes : int, default=1000
    small_input : bool, default=False
        Stem conv with stride 1 instead of 2 (for small images).
    binary_weights, binary_activations : bool, default=True
        As in :class:`ReActBlock`; both False give the full-precision net of the same topology.
    stages : int, default=13
        Number of blocks kept, in ``[1, 13]``.
    in_channels : int, default=3
        Input channels of the stem.

    Attributes
    ----------
    widths : list of int
        ``ch[0..stages]``.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import ReActNet
    >>> net = ReActNet(width_mult=1 / 8, num_classes=10, small_input=True, stages=3)
    >>> net.widths
    [4, 8, 16, 16]
    >>> net(torch.rand(2, 3, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, width_mult=1.0, num_classes=1000, small_input=False, binary_weights=True,
                 binary_activations=True, stages=N_BLOCKS, in_channels=3):
        super().__init__()
        ch = reactnet_widths(width_mult)
        self.width_mult = float(width_mult)
        self.num_classes = check_int(num_classes, "num_classes", low=1)
        self.small_input = check_bool(small_input, "small_input")
        self.binary_weights = check_bool(binary_weights, "binary_weights")
        self.binary_activations = check_bool(binary_activations, "binary_activations")
        self.stages = check_int(stages, "stages", low=1, high=N_BLOCKS)
        self.in_channels = check_int(in_channels, "in_channels", low=1)
        self.widths = ch[:self.stages + 1]
        n_conv = self.in_channels * ch[0] * 9 + sum(
            9 * ch[i - 1] ** 2 + ch[i - 1] * ch[i] for i in range(1, self.stages + 1))
        check_allocation(n_conv, "width_mult", itemsize=4, what="the convolution weights")
        check_allocation(ch[self.stages] * self.num_classes, "num_classes", itemsize=4,
                         what="the classifier weights")
        self.conv1 = nn.Conv2d(self.in_channels, ch[0], 3, stride=1 if self.small_input else 2,
                               padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch[0])
        blocks = []
        for i in range(1, self.stages + 1):
            stride = 2 if (i > 1 and ch[i] != ch[i - 1]) else 1
            blocks.append(ReActBlock(ch[i - 1], ch[i], stride, self.binary_weights,
                                     self.binary_activations))
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ch[self.stages], self.num_classes)

    def features(self, x):
        """The final feature maps (N, ch[stages], H', W'), before pooling.

        Examples
        --------
        >>> import torch
        >>> from normgraph.nn.bnn import ReActNet
        >>> ReActNet(1 / 8, 10, small_input=True, stages=2).features(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 16, 4, 4])
        """
        check_input_4d(x)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"input must have {self.in_channels} channels, got shape "
                             f"{tuple(x.shape)}")
        return self.blocks(self.bn1(self.conv1(x)))

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))

    def extra_repr(self):
        return (f"width_mult={self.width_mult}, num_classes={self.num_classes}, "
                f"small_input={self.small_input}, binary_weights={self.binary_weights}, "
                f"binary_activations={self.binary_activations}, stages={self.stages}")


def load_checkpoint(model, checkpoint):
    """Load a state dict into ``model`` strictly (the step-1 -> step-2 hand-off).

    Parameters
    ----------
    model : torch.nn.Module
    checkpoint : dict or str or path-like
        A state dict, or a file saved with ``torch.save`` and read with
        ``torch.load(path, map_location="cpu", weights_only=True)``.

    Returns
    -------
    model : torch.nn.Module
        The same model, loaded.

    Raises
    ------
    ValueError
        If keys are missing or unexpected (the message lists them) or a shape differs.

    Examples
    --------
    >>> from normgraph.nn.bnn import load_checkpoint, reactnet_a
    >>> step1 = reactnet_a(1 / 8, 10, small_input=True, stages=2, binary_weights=False)
    >>> step2 = load_checkpoint(reactnet_a(1 / 8, 10, small_input=True, stages=2),
    ...                         step1.state_dict())
    >>> load_checkpoint(reactnet_a(1 / 8, 10, small_input=True, stages=3), step1.state_dict())
    Traceback (most recent call last):
    ...
    ValueError: checkpoint does not match the model: missing keys ['blocks.2.sign1.bias.bias', ...
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict):
        raise TypeError(f"checkpoint must be a state dict or a file path, got "
                        f"{type(checkpoint).__name__}")
    own = model.state_dict()
    missing = [k for k in own if k not in checkpoint]
    unexpected = [k for k in checkpoint if k not in own]
    if missing or unexpected:
        raise ValueError(f"checkpoint does not match the model: missing keys {missing}, "
                         f"unexpected keys {unexpected}")
    bad = [f"{k} {tuple(checkpoint[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
           if not isinstance(checkpoint[k], torch.Tensor) or checkpoint[k].shape != v.shape]
    if bad:
        raise ValueError(f"checkpoint shapes do not match the model: {bad}")
    model.load_state_dict(checkpoint, strict=True)
    return model


def reactnet_a(width_mult=1.0, num_classes=1000, small_input=False, binary_weights=True,
               binary_activations=True, stages=N_BLOCKS, in_channels=3, weights=None):
    """Build ReActNet-A (see :class:`ReActNet`), optionally loading a saved state dict.

    Parameters
    ----------
    width_mult, num_classes, small_input, binary_weights, binary_activations, stages, in_channels
        As in :class:`ReActNet`.
    weights : dict or str or path-like or None, default=None
        A state dict of this architecture, or a file read with
        ``torch.load(..., weights_only=True)``; loaded strictly (:func:`load_checkpoint`).
        Nothing is ever downloaded.

    Returns
    -------
    model : ReActNet

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import reactnet_a
    >>> net = reactnet_a(width_mult=1 / 8, small_input=True, stages=5, num_classes=10)
    >>> net.widths
    [4, 8, 16, 16, 32, 32]
    >>> net(torch.rand(2, 3, 16, 16)).shape
    torch.Size([2, 10])
    """
    model = ReActNet(width_mult, num_classes, small_input, binary_weights, binary_activations,
                     stages, in_channels)
    if weights is not None:
        load_checkpoint(model, weights)
    return model
