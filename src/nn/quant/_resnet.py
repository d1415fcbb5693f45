"""Quantized ResNets (torchvision layout) with the torchvision or the N2UQ-reference block."""

from __future__ import annotations

import os

import torch
from torch import nn

from ..._utils.validation import check_bool, check_choice, check_int
from .._checks import check_input_4d, check_layer_bits
from .._training import LearnableBias
from ._conv import QuantConv2d
from ._lsq import LSQAct, LSQWeight
from ._n2uq_act import N2UQAct
from ._n2uq_weight import N2UQWeight
from ._pact import DoReFaWeight, PACTAct

__all__ = ["QuantBasicBlock", "QuantResNet", "quantized_resnet", "load_fp_weights"]

METHODS = ("n2uq", "lsq", "pact", "fp")
BLOCKS = ("torchvision", "reference")
_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def _act_quantizer(method, n_bits):
    if method == "n2uq":
        return N2UQAct(n_bits)
    if method == "lsq":
        return LSQAct(n_bits, signed=False)
    return PACTAct(n_bits)


def _weight_quantizer(method, n_bits, weight_quant):
    kind = weight_quant or method
    if kind == "n2uq":
        return N2UQWeight(n_bits)
    if kind == "lsq":
        return LSQWeight(n_bits)
    return DoReFaWeight(n_bits)


class _ConvFactory:
    """Builds the block convs of one method: quantized, or plain ``nn.Conv2d`` for "fp"."""

    def __init__(self, method, n_bits, weight_quant, act_bits=None):
        self.method, self.n_bits, self.weight_quant = method, n_bits, weight_quant
        self.act_bits = n_bits if act_bits is None else act_bits

    def __call__(self, cin, cout, k, stride, quantized=True):
        padding = k // 2
        if self.method == "fp" or not quantized:
            return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False)
        return QuantConv2d(cin, cout, k, stride, padding,
                           act_quant=_act_quantizer(self.method, self.act_bits),
                           weight_quant=_weight_quantizer(self.method, self.n_bits,
                                                          self.weight_quant))


def _prelu_unit(channels):
    """``LearnableBias -> PReLU(C, 0.25) -> LearnableBias`` (the reference's activation)."""
    return nn.Sequential(LearnableBias(channels), nn.PReLU(channels, init=0.25),
                         LearnableBias(channels))


class QuantBasicBlock(nn.Module):
    """ResNet BasicBlock whose two 3x3 convs (and optionally the 1x1 downsample) are quantized.

    ``block="torchvision"``: ``out = ReLU(BN1(QConv1_s(x)))``; ``out = BN2(QConv2(out))``;
    ``y = ReLU(out + shortcut(x))``.
    ``block="reference"`` (N2UQ reference code): with ``U = LearnableBias -> PReLU ->
    LearnableBias``, ``out = BN1(QConv1_s(U1(x)))``; ``out = BN2(QConv2(U2(out)))``;
    ``y = U3(out + shortcut(x))``. The shortcut is the identity or ``BN(Conv1x1_s(x))`` on the
    raw block input (quantized when ``quantize_downsample``).

    Parameters
    ----------
    in_planes, planes : int
    stride : int
    conv_factory : callable
        ``conv_factory(cin, cout, k, stride, quantized=True)`` returns a conv module.
    block : {"torchvision", "reference"}
    quantize_downsample : bool

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import QuantBasicBlock
    >>> from normgraph.nn.quant._resnet import _ConvFactory
    >>> blk = QuantBasicBlock(8, 16, 2, _ConvFactory("n2uq", 2, None), "reference", False)
    >>> blk(torch.rand(1, 8, 8, 8)).shape
    torch.Size([1, 16, 4, 4])
    """

    def __init__(self, in_planes, planes, stride, conv_factory, block, quantize_downsample):
        super().__init__()
        self.block = block
        self.conv1 = conv_factory(in_planes, planes, 3, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv_factory(planes, planes, 3, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        if block == "torchvision":
            self.relu1, self.relu2 = nn.ReLU(inplace=False), nn.ReLU(inplace=False)
        else:
            self.unit1, self.unit2, self.unit3 = (_prelu_unit(in_planes), _prelu_unit(planes),
                                                  _prelu_unit(planes))
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                conv_factory(in_planes, planes, 1, stride, quantized=quantize_downsample),
                nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        if self.block == "torchvision":
            out = self.relu1(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu2(out + identity)
        out = self.bn1(self.conv1(self.unit1(x)))
        out = self.bn2(self.conv2(self.unit2(out)))
        return self.unit3(out + identity)


class QuantResNet(nn.Module):
    """ResNet of BasicBlocks in torchvision's layout with quantized block convs.

    Full precision: the stem conv (7x7 stride 2 + maxpool, or 3x3 stride 1 without maxpool
    when ``small_input``), stem BN and ReLU, and the final FC. State-dict keys follow
    torchvision (``conv1``, ``bn1``, ``layer1.0.conv1``, ..., ``fc``), so FP weights load with
    :func:`load_fp_weights`.

    Parameters
    ----------
    layers : sequence of int
        Blocks per stage (``(2, 2, 2, 2)`` for ResNet-18).
    widths : sequence of int
        Channels per stage (same length as ``layers``); the stem has ``widths[0]``. Stages after
        the first start with a stride-2 block.
    n_bits : int, default=2
    method : {"n2uq", "lsq", "pact", "fp"}, default="n2uq"
        ``"fp"``: plain convs (the full-precision network of the same topology).
    quantize_downsample : bool, default=False
    num_classes : int, default=1000
    small_input : bool, default=False
    block : {"torchvision", "reference"}, default="torchvision"
    weight_quant : {None, "n2uq"}, default=None
        ``"n2uq"`` gives every method N2UQ's weight quantizer (ablation).
    in_channels : int, default=3
    act_bits : int or None, default=None
        Bit width of the activation quantizers when it differs from the weights' ``n_bits``
        (for example W2/A1).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import QuantResNet
    >>> net = QuantResNet((2, 1), (8, 16), method="lsq", num_classes=10, small_input=True,
    ...                   in_channels=1)
    >>> net(torch.rand(4, 1, 8, 8)).shape
    torch.Size([4, 10])
    """

    def __init__(self, layers, widths, n_bits=2, method="n2uq", quantize_downsample=False,
                 num_classes=1000, small_input=False, block="torchvision", weight_quant=None,
                 in_channels=3, act_bits=None):
        super().__init__()
        layers = [check_int(n, "layers", low=1) for n in layers]
        widths = [check_int(w, "widths", low=1) for w in widths]
        if not layers or len(layers) != len(widths):
            raise ValueError(f"layers and widths must be non-empty and of equal length, got "
                             f"{len(layers)} and {len(widths)}")
        self.n_bits = check_layer_bits(n_bits)
        self.act_bits = self.n_bits if act_bits is None else check_layer_bits(act_bits, "act_bits")
        self.method = check_choice(method, "method", METHODS)
        self.block = check_choice(block, "block", BLOCKS)
        quantize_downsample = check_bool(quantize_downsample, "quantize_downsample")
        small_input = check_bool(small_input, "small_input")
        num_classes = check_int(num_classes, "num_classes", low=1)
        in_channels = check_int(in_channels, "in_channels", low=1)
        if weight_quant is not None:
            check_choice(weight_quant, "weight_quant", ("n2uq",))
        if self.method == "lsq" and self.n_bits == 1 and weight_quant is None:
            LSQWeight(1)  # raises the explanatory error
        factory = _ConvFactory(self.method, self.n_bits, weight_quant, self.act_bits)
        stem_k, stem_s = (3, 1) if small_input else (7, 2)
        self.conv1 = nn.Conv2d(in_channels, widths[0], stem_k, stem_s, stem_k // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=False)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, 2, 1)
        cin = widths[0]
        for i, (n_blocks, width) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(n_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(QuantBasicBlock(cin, width, stride, factory, self.block,
                                              quantize_downsample))
                cin = width
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.n_stages = len(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        check_input_4d(x)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.n_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def quantized_resnet(depth=18, n_bits=2, method="n2uq", quantize_downsample=False,
                     num_classes=1000, small_input=False, block="torchvision", weight_quant=None,
                     weights=None):
    """Quantized ResNet-18/34 (torchvision layout, widths 64/128/256/512).

    Every 3x3 conv inside the blocks is a :class:`QuantConv2d` of the method (N2UQ:
    ``N2UQAct`` + ``N2UQWeight``; LSQ: ``LSQAct`` + ``LSQWeight``; PACT: ``PACTAct`` +
    ``DoReFaWeight``): 16 (ResNet-18) or 32 (ResNet-34) quantized convs, plus 3 with
    ``quantize_downsample``. See :class:`QuantResNet` for the parameters.

    Parameters
    ----------
    depth : {18, 34}, default=18
    n_bits, method, quantize_downsample, num_classes, small_input, block, weight_quant
        As in :class:`QuantResNet`.
    weights : dict or str or path-like or None, default=None
        Full-precision weights to start from: a state dict (for example torchvision's
        ``resnet18`` one) or the path of a file saved with ``torch.save``, read with
        ``torch.load(..., weights_only=True)``. Nothing is ever downloaded. Loaded with
        :func:`load_fp_weights`.

    Returns
    -------
    model : QuantResNet

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.quant import QuantConv2d, quantized_resnet
    >>> net = quantized_resnet(18, n_bits=2, method="n2uq", num_classes=10, small_input=True)
    >>> sum(isinstance(m, QuantConv2d) for m in net.modules())
    16
    >>> net(torch.rand(1, 3, 32, 32)).shape
    torch.Size([1, 10])
    """
    depth = check_choice(depth, "depth", tuple(_DEPTHS))
    model = QuantResNet(_DEPTHS[depth], (64, 128, 256, 512), n_bits, method, quantize_downsample,
                        num_classes, small_input, block, weight_quant)
    if weights is not None:
        load_fp_weights(model, weights)
    return model


def load_fp_weights(model, state_dict):
    """Copy matching full-precision weights into a quantized model (``strict=False``).

    Entries whose name and shape match are copied; the quantizer parameters, reference-block
    units and anything else the state dict lacks are reported, as are entries the model does
    not have or whose shape differs (for example an FC for another number of classes).

    Parameters
    ----------
    model : torch.nn.Module
    state_dict : dict or str or path-like
        A state dict, or a file read with ``torch.load(path, weights_only=True)``.

    Returns
    -------
    report : dict
        ``loaded``, ``missing`` (model keys not set), ``unexpected`` (state-dict keys unused)
        and ``mismatched`` (same name, different shape): lists of names.

    Examples
    --------
    >>> from normgraph.nn.quant import QuantResNet, load_fp_weights
    >>> fp = QuantResNet((1,), (4,), method="fp", num_classes=3, small_input=True)
    >>> q = QuantResNet((1,), (4,), method="n2uq", num_classes=3, small_input=True)
    >>> report = load_fp_weights(q, fp.state_dict())
    >>> report["missing"][:2], report["mismatched"]
    (['layer1.0.conv1.act_quant.start', 'layer1.0.conv1.act_quant.a'], [])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(state_dict, (str, os.PathLike)):
        state_dict = torch.load(state_dict, map_location="cpu", weights_only=True)
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict must be a dict or a file path, got "
                        f"{type(state_dict).__name__}")
    own = model.state_dict()
    matched = {k: v for k, v in state_dict.items()
               if k in own and isinstance(v, torch.Tensor) and v.shape == own[k].shape}
    mismatched = [k for k, v in state_dict.items()
                  if k in own and k not in matched]
    model.load_state_dict(matched, strict=False)
    return dict(
        loaded=list(matched),
        missing=[k for k in own if k not in matched],
        unexpected=[k for k in state_dict if k not in own],
        mismatched=mismatched,
    )
