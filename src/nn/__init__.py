"""Deep models built on normgraph's kernels (torch; needs the ``nn`` extra).

torch is imported only inside :mod:`normgraph.nn`; ``import normgraph`` and the NumPy
subpackages never import it.

Table of contents
-----------------
``_training.py``
    Training helpers shared by every method family: :class:`LearnableBias`,
    :class:`DistributionLoss` (knowledge distillation), :func:`linear_lr_lambda`,
    :func:`bnn_param_groups` (optimizer groups chosen by module type) and
    :class:`QuantizerBase` (the type those groups recognise as a quantizer).
:mod:`normgraph.nn.quant`
    N2UQ (learnable nonuniform thresholds, uniform outputs, generalized STE), the LSQ and
    PACT/DoReFa baselines, quantized convolutions, integer inference, quantized ResNets.
:mod:`normgraph.nn.bnn`
    Binary networks: ReActNet-A (``RSign``, ``RPReLU``, ``BinaryConv2d``, ``ReActBlock``,
    ``reactnet_a``), the AdamBNN two-step recipe ``two_step_train`` and the weight-dynamics
    trackers ``FlipFlopTracker`` / ``C2ITracker``.
:mod:`normgraph.nn.attention`
    Polarized Self-Attention (``PolarizedSelfAttention``, its ``ChannelOnlyPSA`` /
    ``SpatialOnlyPSA`` branches, paper and official variants) and ``insert_psa`` for ResNets.
:mod:`normgraph.nn.rsc`
    Representation Self-Challenging: the pure function ``rsc_mask`` (gradient scores,
    spatial/channel/vector modes, batch selection), ``RSCHead`` (identity in eval mode),
    ``RSCSchedule`` and the presets of ``rsc_preset``.
:mod:`normgraph.nn.zeroshot`
    Elaborative-Rehearsal zero-shot action recognition (``ZeroShotVideoTextModel``, gated
    object fusion, the three CE terms and the ER loss, ``topk_accuracy``,
    ``select_per_metric``, ``zsar_split`` / ``kinetics220_splits``, TF-IDF text encoder).
:mod:`normgraph.nn.detection`
    Shared detection blocks (box checks/IoU/NMS/flip, ``BoxCoder``, ``average_precision``,
    ``corloc``, CPU-experiment proposals) and CASD weakly supervised detection (``CASD``,
    MIL loss, pseudo-label mining, IW/LW self-distillation, ``casd_ramp``) and Multiple Anchor
    Learning (``MALLoss``, ``mean_max``, ``anchor_bags``, ``depress_features``,
    ``depression_ratio``, the torchvision ``RetinaNet`` path, ``TinyRetinaNet``).
:mod:`normgraph.nn.tracking`
    Flow-Fuse tracking (``FFTTracker``, ``FlowTracker``, ``flow_crop``, Farneback/RAFT flow
    providers), MOT-format I/O and trackeval evaluation (``evaluate_mot``).

Examples
--------
>>> import torch
>>> from normgraph.nn import N2UQAct
>>> N2UQAct(n_bits=2)(torch.tensor([0.2, 0.9, 5.0])) * 1.5
tensor([0., 1., 3.], grad_fn=<MulBackward0>)
"""

from . import attention, bnn, detection, quant, rsc, tracking, zeroshot
from ._training import (
    DistributionLoss,
    LearnableBias,
    QuantizerBase,
    bnn_param_groups,
    linear_lr_lambda,
)
from .attention import *  # noqa: F401,F403  (the public names of normgraph.nn.attention)
from .attention import __all__ as _attention_all
from .bnn import *  # noqa: F401,F403  (the public names of normgraph.nn.bnn)
from .bnn import __all__ as _bnn_all
from .quant import *  # noqa: F401,F403  (the public names of normgraph.nn.quant)
from .quant import __all__ as _quant_all
from .rsc import *  # noqa: F401,F403  (the public names of normgraph.nn.rsc)
from .rsc import __all__ as _rsc_all
from .zeroshot import *  # noqa: F401,F403  (the public names of normgraph.nn.zeroshot)
from .zeroshot import __all__ as _zeroshot_all
from .detection import *  # noqa: F401,F403  (the public names of normgraph.nn.detection)
from .detection import __all__ as _detection_all
from .tracking import *  # noqa: F401,F403  (the public names of normgraph.nn.tracking)
from .tracking import __all__ as _tracking_all

__all__ = [
    "quant",
    "bnn",
    "LearnableBias",
    "DistributionLoss",
    "linear_lr_lambda",
    "bnn_param_groups",
    "QuantizerBase",
    *_quant_all,
    *_bnn_all,
    "attention",
    *_attention_all,
    "rsc",
    *_rsc_all,
    "zeroshot",
    *_zeroshot_all,
    "detection",
    *_detection_all,
    "tracking",
    *_tracking_all,
]
