"""asv benchmarks of multi-view graph learning: full fit, the union kNN, the per-edge kernels."""

import numpy as np
import scipy.sparse as sp

from normgraph.graphs import MultiViewGraphClusterer, knn_union_edges, view_edge_weights

try:  # imported by asv as the package "benchmarks", or run as a script from benchmarks/
    from benchmarks.common import bench_sizes
except ImportError:  # pragma: no cover
    from common import bench_sizes


def _mixture_views(n, n_views=3, dim=16, n_clusters=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_clusters, size=n)
    return [rng.normal(0.0, 2.0, size=(n_clusters, dim))[y] + rng.standard_normal((n, dim))
            for _ in range(n_views)]


class TimeFit:
    """Full MultiViewGraphClusterer fit (3 views, 16-d, 10 clusters, k = 10) vs n."""

    params = (bench_sizes([1_000, 3_000, 10_000, 30_000], 10_000), ["similarity", "dissimilarity"])
    param_names = ["n", "fusion"]
    timeout = 600

    def setup(self, n, fusion):
        self.views = _mixture_views(n)
        # compile the Numba kernels outside the timed region
        MultiViewGraphClusterer(10, n_neighbors=10, random_state=0).fit(_mixture_views(200))

    def time_fit(self, n, fusion):
        MultiViewGraphClusterer(10, fusion=fusion, n_neighbors=10, random_state=0).fit(self.views)

    def peakmem_fit(self, n, fusion):
        MultiViewGraphClusterer(10, fusion=fusion, n_neighbors=10, random_state=0).fit(self.views)


class TimeKnnUnion:
    """The union kNN edge set (exact search) vs n and metric."""

    params = ([1_000, 10_000, 50_000], ["sqeuclidean", "cosine"])
    param_names = ["n", "metric"]
    timeout = 600

    def setup(self, n, metric):
        self.views = _mixture_views(n)

    def time_knn_union_edges(self, n, metric):
        knn_union_edges(self.views, 10, metric, knn="exact")


class TimeEdgeKernels:
    """Per-edge distances on 10^6 random edges: dense rows and CSR rows (text-like)."""

    params = (["dense-sqeuclidean", "dense-cosine", "csr-sqeuclidean", "csr-cosine"],)
    param_names = ["kernel"]

    def setup(self, kernel):
        rng = np.random.default_rng(0)
        n, m = 20_000, 1_000_000
        layout, self.metric = kernel.split("-")
        if layout == "dense":
            self.X = rng.standard_normal((n, 64))
        else:
            self.X = sp.random(n, 5_000, density=0.01, format="csr", random_state=0)
        self.rows = rng.integers(0, n, size=m)
        self.cols = rng.integers(0, n, size=m)
        view_edge_weights(self.X, self.rows[:10], self.cols[:10], self.metric)  # compile

    def time_view_edge_weights(self, kernel):
        view_edge_weights(self.X, self.rows, self.cols, self.metric)
