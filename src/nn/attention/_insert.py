"""``insert_psa``: one PSA block inside every residual block of chosen torchvision ResNet stages."""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from ..._utils.validation import check_int
from ._psa import PolarizedSelfAttention

__all__ = ["insert_psa", "PSABasicBlock", "PSABottleneck"]

_STAGES = ("layer1", "layer2", "layer3", "layer4")


def _rebuild(cls, block, psa):
    """An instance of ``cls`` holding ``block``'s attributes and submodules, plus ``psa``."""
    new = cls.__new__(cls)
    nn.Module.__init__(new)
    for key, value in vars(block).items():
        if key not in ("_parameters", "_buffers", "_modules"):
            new.__dict__[key] = value
    new._parameters.update(block._parameters)
    new._buffers.update(block._buffers)
    new._modules.update(block._modules)
    new.psa = psa
    return new


class PSABasicBlock(BasicBlock):
    """torchvision ``BasicBlock`` with PSA after the first conv-BN-ReLU (the HRNet block).

    ``conv1 -> bn1 -> ReLU -> psa -> conv2 -> bn2 -> (+identity) -> ReLU``. Built by
    :func:`insert_psa` from an existing block (same submodules, plus ``psa``).

    Examples
    --------
    >>> import torch
    >>> from torchvision.models.resnet import BasicBlock
    >>> from normgraph.nn.attention import PolarizedSelfAttention, PSABasicBlock
    >>> block = PSABasicBlock.from_block(BasicBlock(8, 8), PolarizedSelfAttention(8))
    >>> block(torch.randn(1, 8, 4, 4)).shape
    torch.Size([1, 8, 4, 4])
    """

    @classmethod
    def from_block(cls, block, psa):
        """A new block of this class sharing ``block``'s submodules, plus ``psa``."""
        return _rebuild(cls, block, psa)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.psa(self.relu(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class PSABottleneck(Bottleneck):
    """torchvision ``Bottleneck`` with PSA after the 3x3 conv-BN-ReLU.

    ``conv1 -> bn1 -> ReLU -> conv2 -> bn2 -> ReLU -> psa -> conv3 -> bn3 -> (+identity) ->
    ReLU`` (the paper's pose placement; the released code changes no bottleneck).

    Examples
    --------
    >>> import torch
    >>> from torchvision.models.resnet import Bottleneck
    >>> from normgraph.nn.attention import PolarizedSelfAttention, PSABottleneck
    >>> block = PSABottleneck.from_block(Bottleneck(32, 8), PolarizedSelfAttention(8))
    >>> block(torch.randn(1, 32, 4, 4)).shape
    torch.Size([1, 32, 4, 4])
    """

    @classmethod
    def from_block(cls, block, psa):
        """A new block of this class sharing ``block``'s submodules, plus ``psa``."""
        return _rebuild(cls, block, psa)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.psa(self.relu(self.bn2(self.conv2(out))))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _check_stages(stages):
    try:
        stages = tuple(stages)
    except TypeError:
        raise TypeError(f"stages must be a sequence of ints in 1..4, got {stages!r}") from None
    if not stages:
        raise ValueError("stages must name at least one stage in 1..4, got ()")
    return tuple(sorted({check_int(s, "stages", low=1, high=4) for s in stages}))


def _check_resnet(model):
    for name in _STAGES:
        layer = getattr(model, name, None)
        if not isinstance(layer, nn.Sequential) or not all(
                isinstance(b, (BasicBlock, Bottleneck)) for b in layer):
            raise TypeError("model must be a torchvision ResNet whose layer1..layer4 are made "
                            f"of BasicBlock/Bottleneck, got {type(model).__name__} without a "
                            f"valid {name}")


def insert_psa(model, stages=(1, 2, 3, 4), layout="sequential", variant="paper", **psa_kwargs):
    """Put one :class:`PolarizedSelfAttention` in every residual block of the chosen stages.

    ``BasicBlock`` -> :class:`PSABasicBlock` (PSA of width ``conv1.out_channels`` after the
    first conv-BN-ReLU), ``Bottleneck`` -> :class:`PSABottleneck` (width
    ``conv2.out_channels``, after the 3x3 conv-BN-ReLU); never after the residual add.
    Existing state-dict keys are unchanged; the new ones are ``layerS.B.psa.*``, so
    pretrained weights load before insertion, or after it with ``strict=False``. The new
    modules take the device and dtype of each block's ``conv1``. ``model`` is changed in
    place.

    Parameters
    ----------
    model : torchvision.models.ResNet
    stages : sequence of int, default=(1, 2, 3, 4)
        Which of ``layer1`` .. ``layer4`` get PSA.
    layout, variant
        As in :class:`PolarizedSelfAttention`.
    **psa_kwargs
        Other :class:`PolarizedSelfAttention` arguments (``inter_channels``, ``bias``).

    Returns
    -------
    names : list of str
        The changed blocks, e.g. ``["layer1.0", "layer1.1", ...]``.

    Raises
    ------
    TypeError
        If ``model`` lacks ``layer1`` .. ``layer4`` made of ``BasicBlock``/``Bottleneck``.
    ValueError
        If ``stages`` is empty or outside 1..4, or a chosen block already has a ``psa``.

    Examples
    --------
    >>> from torchvision.models import resnet18
    >>> from normgraph.nn.attention import insert_psa
    >>> model = resnet18(weights=None)
    >>> before = sum(p.numel() for p in model.parameters())
    >>> insert_psa(model, stages=(1,))
    ['layer1.0', 'layer1.1']
    >>> sum(p.numel() for p in model.parameters()) - before
    16768
    """
    stages = _check_stages(stages)
    _check_resnet(model)
    chosen = [(f"layer{s}", getattr(model, f"layer{s}")) for s in stages]
    for name, layer in chosen:
        for i, block in enumerate(layer):
            if "psa" in block._modules:
                raise ValueError(f"block {name}.{i} already has a psa; insert_psa was applied "
                                 "twice")
    changed = []
    for name, layer in chosen:
        for i, block in enumerate(layer):
            basic = isinstance(block, BasicBlock)
            conv = block.conv1 if basic else block.conv2
            psa = PolarizedSelfAttention(conv.out_channels, layout, variant, **psa_kwargs)
            psa.to(device=block.conv1.weight.device, dtype=block.conv1.weight.dtype)
            cls = PSABasicBlock if basic else PSABottleneck
            layer[i] = cls.from_block(block, psa)
            changed.append(f"{name}.{i}")
    return changed
