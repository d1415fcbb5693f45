"""Binary neural networks: ReActNet-A and the AdamBNN two-step recipe, with weight trackers.

Table of contents (one file per operation; a functional form beside each module):

``_sign.py``
    :class:`RSign` (``sign(x + beta)``) / :func:`bireal_sign` (:class:`BiRealSignFunction`:
    sign forward, Bi-Real surrogate gradient), the surrogate :func:`bireal_surrogate` and the
    detach-form reference :func:`bireal_sign_reference`.
``_rprelu.py``
    :class:`RPReLU`: ``PReLU(x - gamma) + zeta`` per channel.
``_binary_conv.py``
    :class:`BinaryConv2d` / :func:`binary_weight`: ``alpha_c * sign(W)`` weights, clamp STE.
``_reactnet.py``
    :class:`ReActBlock`, :class:`ReActNet`, the builder :func:`reactnet_a`, the width rule
    :func:`reactnet_widths` and the strict state-dict hand-off :func:`load_checkpoint`.
``_trackers.py``
    :class:`FlipFlopTracker` (sign flips per optimizer step) and :class:`C2ITracker` (signs
    changed since a snapshot) of the latent weights.
``_train.py``
    :func:`two_step_train` (step 1 binary activations, step 2 fully binary, distillation,
    linear LR decay, trackers) and :func:`evaluate_accuracy`.
``_plotting.py``
    :func:`plot_training_curves`: loss, accuracy, FF ratio and C2I per epoch.

The training helpers (``LearnableBias``, ``DistributionLoss``, ``linear_lr_lambda``,
``bnn_param_groups``) are shared with :mod:`normgraph.nn.quant` and live in
:mod:`normgraph.nn`.

Examples
--------
>>> import torch
>>> from normgraph.nn.bnn import reactnet_a
>>> net = reactnet_a(width_mult=1 / 8, num_classes=10, small_input=True, stages=5)
>>> net(torch.rand(2, 3, 16, 16)).shape
torch.Size([2, 10])
"""

from ._binary_conv import BinaryConv2d, binary_weight
from ._plotting import plot_training_curves
from ._reactnet import ReActBlock, ReActNet, load_checkpoint, reactnet_a, reactnet_widths
from ._rprelu import RPReLU
from ._sign import BiRealSignFunction, RSign, bireal_sign, bireal_sign_reference, bireal_surrogate
from ._trackers import C2ITracker, FlipFlopTracker
from ._train import evaluate_accuracy, two_step_train

__all__ = [
    "RSign",
    "bireal_sign",
    "BiRealSignFunction",
    "bireal_sign_reference",
    "bireal_surrogate",
    "RPReLU",
    "BinaryConv2d",
    "binary_weight",
    "ReActBlock",
    "ReActNet",
    "reactnet_a",
    "reactnet_widths",
    "load_checkpoint",
    "FlipFlopTracker",
    "C2ITracker",
    "two_step_train",
    "evaluate_accuracy",
    "plot_training_curves",
]
