"""asv benchmarks of the graph fusion solver: time of a fixed number of iterations vs m and V.

The solver is run for exactly ``N_ITER`` iterations (``rel_tol=0`` and ``min_iter=N_ITER``
switch the stopping rule off), so the reported time / N_ITER is the time per iteration, which
should grow linearly in the number of edges m and quadratically in the number of views V.
"""

import numpy as np

from normgraph.graphs import consistent_graph_fusion

try:  # imported by asv as the package "benchmarks", or run as a script from benchmarks/
    from benchmarks.common import bench_sizes
except ImportError:  # pragma: no cover
    from common import bench_sizes

N_ITER = 5


def random_view_graphs(n_views, n_edges, seed=0):
    """Uniform view weights on a common edge list, one view with 30 % zero weights."""
    rng = np.random.default_rng(seed)
    W = rng.uniform(size=(n_views, n_edges))
    W[1, rng.uniform(size=n_edges) < 0.3] = 0.0
    return W


class TimeFusionSolver:
    """``consistent_graph_fusion`` for N_ITER iterations (divide by N_ITER for s/iteration)."""

    params = (bench_sizes([10_000, 100_000, 1_000_000], 1_000_000), [2, 4])
    param_names = ["n_edges", "n_views"]
    timeout = 300

    def setup(self, n_edges, n_views):
        self.W = random_view_graphs(n_views, n_edges)
        consistent_graph_fusion(self.W[:, :300], max_iter=2)  # compile the kernels

    def time_fusion_iterations(self, n_edges, n_views):
        consistent_graph_fusion(self.W, max_iter=N_ITER, min_iter=N_ITER, rel_tol=0.0)

    def peakmem_fusion_iterations(self, n_edges, n_views):
        consistent_graph_fusion(self.W, max_iter=N_ITER, min_iter=N_ITER, rel_tol=0.0)


class TimeFusionSolverFloat32:
    """The float32 path (half the memory traffic) at the largest size."""

    params = [[1_000_000], [4]]
    param_names = ["n_edges", "n_views"]
    timeout = 300

    def setup(self, n_edges, n_views):
        self.W = random_view_graphs(n_views, n_edges).astype(np.float32)
        consistent_graph_fusion(self.W[:, :300], max_iter=2)

    def time_fusion_iterations(self, n_edges, n_views):
        consistent_graph_fusion(self.W, max_iter=N_ITER, min_iter=N_ITER, rel_tol=0.0)
