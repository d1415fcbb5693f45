"""Quantization-threshold solvers and the N2UQ quantizer.

Everything works on 1-D samples (one tensor, channel or feature at a time) and flows one way:
validation, then Numba kernels over sorted data and prefix sums, then plain NumPy results.

``_validation.py``
    Checks shared by every quantizer (1-D samples and weights, ``n_levels``, ``n_bits``,
    memory of size parameters) on the package's one vocabulary: a wrong type is a
    ``TypeError``, a bad value a ``ValueError`` naming the parameter. Also the magnitude
    helpers: every solver fits data divided by a power of two near its largest magnitude
    (exact, so 1e-300..1e300 give the scaled answer) and refuses an error that overflows.
``_uniform.py``
    :func:`uniform_mse_quantizer`: the MSE-optimal uniform quantizer (step and offset search
    on samples or exactly under a density), returned as a :class:`UniformQuant`.
``_equal_prob.py``
    :func:`equal_probability_thresholds`: maximum-entropy thresholds (quantiles).
``_lloyd.py``
    :func:`lloyd_max`: Lloyd-Max nonuniform levels (a local optimum).
``_optimal.py``
    :func:`optimal_kmeans_1d`: the globally optimal k-level quantizer (exact 1-D k-means by
    dynamic programming), and :func:`optimal_thresholds_fixed_levels` for fixed output
    levels and any per-sample loss.
``_kernels.py``
    The Numba kernels of the solvers above.
``_transformers.py``
    scikit-learn transformers that quantize every feature: :class:`UniformQuantizer`,
    :class:`LloydMaxQuantizer`, :class:`OptimalQuantizer` and :class:`N2UQuantizer`.
``_plotting.py``
    :func:`plot_quantizer`: thresholds and levels over the histogram of the data.
``_cli.py``
    The ``normgraph quantize FILE`` subcommand.
``_n2uq.py`` / ``_n2uq_kernels.py``
    The N2UQ activation quantizer (learnable nonuniform thresholds, uniform outputs): forward,
    piecewise-linear surrogate and generalized straight-through backward, and the N2UQ weight
    quantizer. These NumPy functions are the reference that ``normgraph.nn``'s torch layers are
    tested against.
"""

from ._equal_prob import equal_probability_thresholds
from ._lloyd import lloyd_max
from ._n2uq import (
    n2uq_backward,
    n2uq_forward,
    n2uq_surrogate,
    n2uq_weight_backward,
    n2uq_weight_quant,
)
from ._optimal import optimal_kmeans_1d, optimal_thresholds_fixed_levels
from ._plotting import plot_quantizer
from ._transformers import LloydMaxQuantizer, N2UQuantizer, OptimalQuantizer, UniformQuantizer
from ._uniform import UniformQuant, uniform_mse_quantizer

__all__ = [
    "UniformQuant",
    "uniform_mse_quantizer",
    "equal_probability_thresholds",
    "lloyd_max",
    "optimal_kmeans_1d",
    "optimal_thresholds_fixed_levels",
    "n2uq_forward",
    "n2uq_surrogate",
    "n2uq_backward",
    "n2uq_weight_quant",
    "n2uq_weight_backward",
    "UniformQuantizer",
    "LloydMaxQuantizer",
    "OptimalQuantizer",
    "N2UQuantizer",
    "plot_quantizer",
]
