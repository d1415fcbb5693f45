"""Multi-view graph learning with consistency and inconsistency (SGF / DGF).

Liang, Huang, Wang and Yu, "Multi-view Graph Learning by Joint Modeling of Consistency and
Inconsistency", IEEE TNNLS 2022 (arXiv:2008.10208). The estimator
:class:`MultiViewGraphClusterer` runs the whole pipeline; every stage is also a public
function. Data flows one way through these modules, each linear in the number of edges m:

1. ``_knn``: :func:`knn_union_edges`, the common edge set (the union over views of every
   node's k nearest neighbours; scikit-learn exact or pynndescent approximate search).
2. ``_edges`` (Numba kernels in ``_edge_kernels``): :func:`view_edge_weights` measures each
   view on every edge (dense or CSR rows, never densified); :func:`standardize_edges` and
   :func:`gaussian_from_distance` turn the distances into the V x m weight array W.
3. ``_fusion`` (kernels in ``_fusion_kernels``): :func:`consistent_graph_fusion`, the solver
   that splits W into consistent parts A and inconsistent parts E and learns the unified
   graph S and the view coefficients alpha; :func:`fusion_objective` evaluates its objective.
4. ``_sparsify``: :func:`knn_sparsify`, top-k per row then ``(G + G^T) / 2``.
5. ``_spectral``: :func:`spectral_clustering_njw` / :func:`spectral_embedding_njw`,
   Ng-Jordan-Weiss spectral clustering with sparse eigensolvers (ARPACK, LOBPCG + AMG).
6. ``_clusterer``: :func:`multiview_graph_clustering`, stages 1-5 as one function, and
   :class:`MultiViewGraphClusterer`, the scikit-learn estimator that calls it.

Alongside: :mod:`normgraph.graphs.metrics` (clustering accuracy, NMI, ARI, purity, pairwise
F-score, :func:`~normgraph.graphs.metrics.clustering_report`), the plot helpers of
``_plotting`` (view coefficients, objective trace, the fused graph) and the ``normgraph
cluster`` command of ``_cli``.
"""

from . import metrics
from ._clusterer import MultiViewGraphClusterer, multiview_graph_clustering
from ._edges import gaussian_from_distance, standardize_edges, view_edge_weights
from ._fusion import consistent_graph_fusion, fusion_objective
from ._knn import knn_union_edges
from ._plotting import plot_graph, plot_objective, plot_view_coefficients
from ._sparsify import knn_sparsify
from ._spectral import spectral_clustering_njw, spectral_embedding_njw
from .metrics import (
    adjusted_rand,
    clustering_accuracy,
    clustering_report,
    normalized_mutual_info,
    pairwise_f_score,
    purity,
)

__all__ = [
    "MultiViewGraphClusterer",
    "multiview_graph_clustering",
    "knn_union_edges",
    "view_edge_weights",
    "standardize_edges",
    "gaussian_from_distance",
    "consistent_graph_fusion",
    "fusion_objective",
    "knn_sparsify",
    "spectral_clustering_njw",
    "spectral_embedding_njw",
    "metrics",
    "clustering_accuracy",
    "normalized_mutual_info",
    "adjusted_rand",
    "purity",
    "pairwise_f_score",
    "clustering_report",
    "plot_view_coefficients",
    "plot_objective",
    "plot_graph",
]
