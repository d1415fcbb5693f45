"""Exact operator norms of convolution, linear and batch-norm layers.

A layer (bias ignored) is a linear map ``T``; this package computes ``||T||_p``:

* ``p = 1`` and ``p = inf`` **exactly** for every PyTorch-style ``Conv1d/2d/3d`` and
  ``ConvTranspose1d/2d/3d`` setting (stride, dilation, asymmetric/"same"/"valid" padding,
  zeros/circular/reflect/replicate padding modes, groups including depthwise), without
  building the operator matrix: the norm depends on an output row (input column) only
  through its per-axis *boundary class*, and each axis has only a handful of them;
* ``p = 2`` as a certified interval ``[lower, upper]`` (exact where the structure allows);
* linear layers (exact for every p) and eval-mode batch norm (a diagonal map).

Layout (data flows top to bottom)
---------------------------------
``_validation``
    Weights (numpy or torch, torch imported only for tensors) and layer settings ->
    a float64 weight and a :class:`~normgraph.norms._validation.ConvGeometry`.
``_patterns``
    Per-axis landing tables and the distinct row/column patterns (Numba), with dominance
    pruning.
``_lp``
    Contraction of the kernel with the pattern incidence matrices -> exact l1/l-inf/Frobenius.
``_l2``
    FFT+SVD, Gram iterations, power iteration -> certified l2 intervals
    (``conv_singular_values``, ``gram_bound``, ``spatial_gram_bound``, ``power_iteration``).
``_api``
    The public functions ``conv_norm``, ``linear_norm``, ``bn_norm``,
    ``closed_form_is_exact``.
``_torch`` / ``_plotting``
    ``layer_norms``: the norm profile of a whole torch model (forward hooks record each
    layer's input size); ``plot_norm_profile`` draws it.
``_decay`` / ``_svc``
    Training-time regularisers: ``NormDecay`` (Liang & Huang's norm decay, with
    ``project_l1_ball``) and ``clip_singular_values`` (SVC through the circular model).
``_cli``
    The ``normgraph norms`` command (profile of a torchvision model or a state dict).
``_dense`` / ``testing``
    The brute-force operator matrix (``testing.conv_matrix``) every result is tested against.
``_result``
    :class:`NormResult`, the record returned with ``return_details=True``.

Bad input and extreme magnitudes
--------------------------------
Every public function validates its arguments at the boundary with the shared vocabulary of
``normgraph._utils.validation``: a wrong type is a ``TypeError``, a bad value a
``ValueError``, each naming the parameter. Norms are positively homogeneous, so weights of
extreme magnitude (1e-300 .. 1e300) are divided by an exact power of two before anything is
squared or summed, and the result is multiplied back: the answer is the scaled answer. Only a
norm that is itself beyond the float64 range is reported as ``inf``, with a
:class:`NormOverflowWarning`. Long inputs (a 10^9-pixel axis) cost no more than short ones
for the exact l1/l-inf/Frobenius norms; paths that need memory proportional to the input
(FFT, power iteration, the explicit matrix) refuse up front, naming ``input_shape``, when it
cannot fit.

Importing this package never imports torch (nor matplotlib): the torch-facing functions
import it when they run.

Examples
--------
>>> import numpy as np
>>> from normgraph.norms import conv_norm
>>> K = np.ones((4, 2, 3, 3))
>>> conv_norm(K, np.inf, input_shape=(2, 16, 16), padding=1), conv_norm(K, 1, (16, 16), padding=1)
(18.0, 36.0)
"""

from ._api import bn_norm, closed_form_is_exact, conv_norm, linear_norm
from ._decay import NormDecay, project_l1_ball
from ._l2 import conv_singular_values, gram_bound, power_iteration, spatial_gram_bound
from ._plotting import plot_norm_profile
from ._result import NormOverflowWarning, NormResult
from ._svc import clip_singular_values
from ._torch import layer_norms

__all__ = [
    "NormDecay",
    "NormOverflowWarning",
    "NormResult",
    "bn_norm",
    "clip_singular_values",
    "closed_form_is_exact",
    "conv_norm",
    "conv_singular_values",
    "gram_bound",
    "layer_norms",
    "linear_norm",
    "plot_norm_profile",
    "power_iteration",
    "project_l1_ball",
    "spatial_gram_bound",
]
