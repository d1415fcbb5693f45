"""asv benchmarks of the quantization solvers (the peer tables are in compare_quant.py).

Covers the optimal 1-D quantizer (dc / smawk, and the peers kmeans1d, ckwrap, jenkspy,
mapclassify and KBinsDiscretizer(strategy="kmeans") on the same data), Lloyd-Max, the
equal-probability thresholds beside ``np.quantile``, the uniform grid search and the N2UQ
forward + backward on 10^7 floats. Sizes are capped where an O(kN^2) peer would take minutes.
"""

import warnings

import numpy as np

from normgraph.quant import (
    equal_probability_thresholds,
    lloyd_max,
    optimal_kmeans_1d,
    uniform_mse_quantizer,
)

try:  # imported by asv as the package "benchmarks", or run as a script from benchmarks/
    from benchmarks.common import bench_sizes
except ImportError:  # pragma: no cover
    from common import bench_sizes


def _normal(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


class TimeOptimalKMeans1D:
    """Exact 1-D k-means: ours (dc, smawk) against the exact peers."""

    params = (bench_sizes([10_000, 100_000, 1_000_000], 100_000), [4, 16, 64], ["dc", "smawk"])
    param_names = ["n", "k", "method"]
    timeout = 300

    def setup(self, n, k, method):
        self.x = _normal(n)
        optimal_kmeans_1d(self.x[:200], 4, method=method)  # compile

    def time_optimal_kmeans_1d(self, n, k, method):
        optimal_kmeans_1d(self.x, k, method=method)

    def peakmem_optimal_kmeans_1d(self, n, k, method):
        optimal_kmeans_1d(self.x, k, method=method)


class TimeExactPeers:
    """kmeans1d and ckwrap (O(kN) / O(kN log N) exact peers) on the same data."""

    params = (bench_sizes([10_000, 100_000, 1_000_000], 100_000), [4, 16, 64],
              ["kmeans1d", "ckwrap"])
    param_names = ["n", "k", "peer"]
    timeout = 300

    def setup(self, n, k, peer):
        self.x = _normal(n)

    def time_peer(self, n, k, peer):
        if peer == "kmeans1d":
            import kmeans1d

            kmeans1d.cluster(self.x, k)
        else:
            import ckwrap

            ckwrap.ckmeans(self.x, k)


class TimeQuadraticPeers:
    """Fisher-Jenks peers (O(kN^2)): jenkspy and mapclassify, N = 10^4 only."""

    params = ([4, 8, 16], ["jenkspy", "mapclassify"])
    param_names = ["k", "peer"]
    timeout = 300

    def setup(self, k, peer):
        self.x = _normal(10_000)

    def time_peer(self, k, peer):
        if peer == "jenkspy":
            import jenkspy

            jenkspy.jenks_breaks(self.x, n_classes=k)
        else:
            import mapclassify

            mapclassify.FisherJenks(self.x, k=k)


class TimeKBinsKMeans:
    """scikit-learn's KBinsDiscretizer(strategy="kmeans"): approximate, for reference."""

    params = (bench_sizes([100_000, 1_000_000], 100_000), [8, 16])
    param_names = ["n", "k"]
    timeout = 300

    def setup(self, n, k):
        self.X = _normal(n)[:, None]

    def time_kbins_kmeans(self, n, k):
        from sklearn.preprocessing import KBinsDiscretizer

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            KBinsDiscretizer(n_bins=k, encode="ordinal", strategy="kmeans").fit(self.X)


class TimeOtherSolvers:
    """Lloyd-Max, equal-probability thresholds, np.quantile and the uniform grid search."""

    params = [1_000_000]
    param_names = ["n"]

    def setup(self, n):
        self.x = _normal(n, seed=1)
        self.probs = np.arange(1, 16) / 16
        lloyd_max(self.x[:500], 4)
        uniform_mse_quantizer(self.x[:500], 4)

    def time_lloyd_max_16(self, n):
        lloyd_max(self.x, 16, max_iter=2000)

    def time_equal_probability_16(self, n):
        equal_probability_thresholds(self.x, 16)

    def time_numpy_quantile_16(self, n):
        np.quantile(self.x, self.probs)

    def time_uniform_grid_16(self, n):
        uniform_mse_quantizer(self.x, 16)

    def time_uniform_affine_16(self, n):
        uniform_mse_quantizer(self.x, 16, mode="affine")


class TimeN2UQ:
    """N2UQ activation quantizer forward + backward on 10^7 floats (2 bits)."""

    timeout = 120

    def setup(self):
        from normgraph.quant import n2uq_backward, n2uq_forward

        rng = np.random.default_rng(2)
        self.fwd, self.bwd = n2uq_forward, n2uq_backward
        self.z = rng.uniform(-0.5, 2.5, size=10 ** 7)
        self.g = rng.standard_normal(10 ** 7)
        self.a = np.array([0.5, 0.7, 0.8])
        self.fwd(self.z[:100], 0.1, self.a, n_bits=2)
        self.bwd(self.g[:100], self.z[:100], 0.1, self.a, n_bits=2)

    def time_forward_backward(self):
        self.fwd(self.z, 0.1, self.a, n_bits=2)
        self.bwd(self.g, self.z, 0.1, self.a, n_bits=2)
