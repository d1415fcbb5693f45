"""Multi-view graph learning with consistency and inconsistency (SGF / DGF).

Liang, Huang, Wang and Yu, "Multi-view Graph Learning by Joint Modeling of Consistency and
Inconsistency", IEEE TNNLS 2022 (arXiv:2008.10208). Data flows one way through these modules:

1. ``_knn``: :func:`knn_union_edges`, the common edge set (union of the views' kNN lists).
2. ``_edges`` (kernels in ``_edge_kernels``): :func:`view_edge_weights` measures each view on
   every edge; :func:`standardize_edges` and :func:`gaussian_from_distance` turn distances into
   the V x m weight array.
"""

from ._edges import gaussian_from_distance, standardize_edges, view_edge_weights
from ._knn import knn_union_edges

__all__ = [
    "knn_union_edges",
    "view_edge_weights",
    "standardize_edges",
    "gaussian_from_distance",
]
