"""Quantized layers and networks: N2UQ (nonuniform thresholds, uniform outputs), LSQ, PACT.

Table of contents (one file per operation; a functional form beside each module):

``_n2uq_act.py``
    :class:`N2UQAct` / :func:`n2uq_act` (:class:`N2UQActFunction`: closed-form generalized
    straight-through backward), the torch-op reference :func:`n2uq_act_reference` and the
    surrogate :func:`n2uq_act_surrogate`; ``N2UQAct.init_from`` calibrates the thresholds with
    :mod:`normgraph.quant`'s solvers.
``_n2uq_weight.py``
    :class:`N2UQWeight` / :func:`n2uq_weight`: per-channel entropy-preserving weights.
``_lsq.py``
    :class:`LSQAct`, :class:`LSQWeight` / :func:`lsq_quantize` (learned step size).
``_pact.py``
    :class:`PACTAct` / :func:`pact_quantize` and :class:`DoReFaWeight` / :func:`dorefa_weight`.
``_conv.py``
    :class:`QuantConv2d` and the per-method :class:`N2UQConv2d`, :class:`LSQConv2d`,
    :class:`PACTConv2d`.
``_integer.py``
    :func:`to_integer` / :class:`IntegerConv2d` / :func:`integer_conv2d`: integer codes,
    int64 accumulation, one float rescale per output channel.
``_resnet.py``
    :func:`quantized_resnet` (ResNet-18/34), :class:`QuantResNet`, :class:`QuantBasicBlock`
    (torchvision or N2UQ-reference block) and :func:`load_fp_weights`.
``_plotting.py``
    :func:`plot_thresholds`: the learned intervals per layer.
"""

from ._conv import LSQConv2d, N2UQConv2d, PACTConv2d, QuantConv2d
from ._integer import IntegerConv2d, integer_conv2d, to_integer
from ._lsq import LSQAct, LSQWeight, lsq_quantize
from ._n2uq_act import N2UQAct, N2UQActFunction, n2uq_act, n2uq_act_reference, n2uq_act_surrogate
from ._n2uq_weight import N2UQWeight, n2uq_weight
from ._pact import DoReFaWeight, PACTAct, dorefa_weight, pact_quantize
from ._plotting import plot_thresholds
from ._resnet import QuantBasicBlock, QuantResNet, load_fp_weights, quantized_resnet

__all__ = [
    "N2UQAct",
    "N2UQActFunction",
    "n2uq_act",
    "n2uq_act_reference",
    "n2uq_act_surrogate",
    "N2UQWeight",
    "n2uq_weight",
    "LSQAct",
    "LSQWeight",
    "lsq_quantize",
    "PACTAct",
    "pact_quantize",
    "DoReFaWeight",
    "dorefa_weight",
    "QuantConv2d",
    "N2UQConv2d",
    "LSQConv2d",
    "PACTConv2d",
    "IntegerConv2d",
    "integer_conv2d",
    "to_integer",
    "QuantBasicBlock",
    "QuantResNet",
    "quantized_resnet",
    "load_fp_weights",
    "plot_thresholds",
]
