"""normgraph: exact, fast reference implementations of three families of methods.

Subpackages
-----------
graphs
    Multi-view graph learning with consistency and inconsistency (similarity and
    dissimilarity graph fusion), kNN graphs and clustering metrics.
norms
    Exact l1/l-inf operator norms of convolution and linear layers, certified l2
    intervals, norm profiles, norm decay and singular value clipping.
quant
    Quantization-threshold solvers (uniform, equal-probability, Lloyd-Max, optimal
    1-D k-level DP) and the nonuniform-to-uniform (N2UQ) quantizer.
datasets
    Loaders for the multi-view benchmark files and an embedded multi-view digits set.
nn
    Deep models built on the kernels above (needs the ``nn`` extra: torch).

Importing :mod:`normgraph` imports none of the subpackages (and never torch).

Examples
--------
>>> import normgraph
>>> isinstance(normgraph.__version__, str)
True
"""

from ._version import __version__

__all__ = ["__version__"]
