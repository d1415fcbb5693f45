"""Optimal 1-D quantization (exact 1-D k-means) beside its peers, plus the other solvers.

Table 1, on the same seeded N(0, 1) samples for N = 10^4 ... 10^7 and k = 4 ... 64:

* ours: ``optimal_kmeans_1d(method="dc")`` (divide and conquer, O(kN log N)) and
  ``method="smawk"`` (O(kN));
* exact peers: ``kmeans1d`` (C++, SMAWK), ``ckwrap`` (Ckmeans.1d.dp), ``jenkspy`` (Fisher-Jenks
  natural breaks, C, O(kN^2)) and ``mapclassify.FisherJenks`` (Numba, O(kN^2));
* ``sklearn.preprocessing.KBinsDiscretizer(strategy="kmeans")`` (Lloyd's k-means from a
  uniform start, subsampled to 200 000 rows by default: not exact).

``mapclassify.FisherJenks`` accumulates its sums in float32, so its breaks can be one sample
off the optimum (relative inertia differences around 1e-7 rather than 1e-16).

Every time is the wall-clock best of ``repeat`` runs (one run for the large sizes), sorting
included for everybody. The inertia (sum of squared deviations from the cluster means) of
every peer is recomputed from its labels/breaks by the same NumPy code; ``rel. diff`` is its
relative difference from ours (dc), ``vs smawk`` the peer's time over our SMAWK time.
A peer is skipped (``—``, with the reason) where its time extrapolated from the previous size
by its complexity would exceed ``--budget`` seconds, or where it would need too much memory.

Table 2: Lloyd-Max, equal-probability thresholds (beside ``np.quantile``), the uniform grid
search and the N2UQ activation quantizer forward + backward on 10^7 floats.

Run: ``python benchmarks/compare_quant.py`` (``--quick`` stops at N = 10^6; about five
minutes in full on a quiet 2-core machine). Timings on a shared machine are indicative.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

from normgraph.quant import (
    equal_probability_thresholds,
    lloyd_max,
    n2uq_backward,
    n2uq_forward,
    optimal_kmeans_1d,
    uniform_mse_quantizer,
)

try:  # run as a script or as a module
    from benchmarks.common import best_time, print_table
except ImportError:  # pragma: no cover
    from common import best_time, print_table

GRID = [(10 ** 4, (4, 8, 16, 64)), (10 ** 5, (4, 8, 16, 64)), (10 ** 6, (4, 16, 64)),
        (10 ** 7, (4, 16))]


def inertia_from_labels(x, labels, k):
    """Sum of squared deviations from the cluster means (two-pass, float64)."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    sums = np.bincount(labels, weights=x, minlength=k)
    means = np.divide(sums, counts, out=np.zeros(k), where=counts > 0)
    return float(np.sum((x - means[labels]) ** 2))


def labels_from_upper_bounds(x, uppers):
    """Class of each sample when class c holds the values <= uppers[c] (and > uppers[c-1])."""
    return np.searchsorted(np.asarray(uppers, dtype=np.float64), x, side="left")


def peer_kmeans1d(x, k):
    import kmeans1d

    res = kmeans1d.cluster(x, k)
    return np.asarray(res.clusters)


def peer_ckwrap(x, k):
    import ckwrap

    return np.asarray(ckwrap.ckmeans(x, k).labels)


def peer_jenkspy(x, k):
    import jenkspy

    breaks = jenkspy.jenks_breaks(x, n_classes=k)
    return labels_from_upper_bounds(x, breaks[1:-1])


def peer_mapclassify(x, k):
    import mapclassify

    bins = mapclassify.FisherJenks(x, k=k).bins
    return labels_from_upper_bounds(x, bins[:-1])


def peer_kbins(x, k):
    from sklearn.preprocessing import KBinsDiscretizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kb = KBinsDiscretizer(n_bins=k, encode="ordinal", strategy="kmeans")
        return kb.fit_transform(x[:, None])[:, 0].astype(np.int64)


# name, function, complexity model (time ~ model(N, k)), exact?
PEERS = [
    ("kmeans1d", peer_kmeans1d, lambda n, k: k * n, True),
    ("ckwrap", peer_ckwrap, lambda n, k: k * n * math.log(n), True),
    ("jenkspy", peer_jenkspy, lambda n, k: k * n * n, True),
    ("mapclassify", peer_mapclassify, lambda n, k: k * n * n, True),
    ("KBins(kmeans)", peer_kbins, lambda n, k: k * min(n, 200_000), False),
]


def run_table1(grid, budget, repeat):
    rows = []
    last = {}  # peer -> (n, k, seconds) of its last run, for the extrapolation
    rng = np.random.default_rng(0)
    data = {}
    for n, ks in grid:
        x = rng.standard_normal(n)
        data[n] = x
        rep = repeat if n <= 10 ** 5 else 1
        for k in ks:
            t_dc, (_, _, mse) = best_time(lambda: optimal_kmeans_1d(x, k, method="dc"),
                                          repeat=rep)
            t_sm, (_, _, mse_sm) = best_time(lambda: optimal_kmeans_1d(x, k, method="smawk"),
                                             repeat=rep)
            ours = mse * n
            rows.append([n, k, "ours dc", t_dc, f"{ours:.10g}", "0", f"{t_dc / t_sm:.2f}"])
            rel_sm = abs(mse_sm * n - ours) / ours
            rows.append([n, k, "ours smawk", t_sm, f"{mse_sm * n:.10g}", f"{rel_sm:.1e}",
                         "1.00"])
            for name, fn, model, exact in PEERS:
                if name in last:
                    n0, k0, t0 = last[name]
                    est = t0 * model(n, k) / model(n0, k0)
                    if est > budget:
                        rows.append([n, k, name, "—", "—", "—",
                                     f"skipped: est. {est:.0f} s > {budget:.0f} s"])
                        continue
                t_p, labels = best_time(lambda: fn(x, k), repeat=rep)
                last[name] = (n, k, t_p)
                inertia = inertia_from_labels(x, labels, k)
                rel = abs(inertia - ours) / ours
                tag = "" if exact else " (approx.)"
                rows.append([n, k, name + tag, t_p, f"{inertia:.10g}", f"{rel:.1e}",
                             f"{t_p / t_sm:.2f}"])
            print(f"  done N={n:.0e} k={k}", flush=True)
    return rows


def run_table2(repeat):
    repeat = max(repeat, 7)  # short calls: more repeats against the noise of a shared machine
    rows = []
    rng = np.random.default_rng(1)
    x = rng.standard_normal(10 ** 6)
    lloyd_max(x[:1000], 16)
    t, (_, _, mse) = best_time(lambda: lloyd_max(x, 16, max_iter=2000), repeat=repeat)
    rows.append(["lloyd_max N=1e6 L=16 (target < 0.5 s)", t, f"mse {mse:.6g}", "—", "—"])
    equal_probability_thresholds(x[:1000], 16)
    t, _ = best_time(lambda: equal_probability_thresholds(x, 16), repeat=repeat)
    probs = np.arange(1, 16) / 16
    tq, _ = best_time(lambda: np.quantile(x, probs), repeat=repeat)
    rows.append(["equal_probability_thresholds N=1e6 L=16", t, "np.quantile", tq,
                 f"{t / tq:.2f} (target <= 1.2)"])
    uniform_mse_quantizer(x[:1000], 16)
    t, q = best_time(lambda: uniform_mse_quantizer(x, 16), repeat=repeat)
    rows.append(["uniform_mse_quantizer grid N=1e6 L=16", t, f"step {q.step:.4f}", "—", "—"])
    z = rng.uniform(-0.5, 2.5, size=10 ** 7)
    g = rng.standard_normal(10 ** 7)
    a = np.array([0.5, 0.7, 0.8])
    n2uq_backward(g[:100], z[:100], 0.1, a, n_bits=2)
    n2uq_forward(z[:100], 0.1, a, n_bits=2)

    def fwd_bwd():
        out = n2uq_forward(z, 0.1, a, n_bits=2)
        grads = n2uq_backward(g, z, 0.1, a, n_bits=2)
        return out, grads

    t, _ = best_time(fwd_bwd, repeat=repeat)
    rows.append(["N2UQ forward+backward 1e7 floats, 2 bits (target < 0.3 s)", t, "—", "—", "—"])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at N = 10^6")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="skip a peer whose extrapolated time exceeds this (s)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    grid = GRID[:-1] if args.quick else GRID
    # compile the Numba kernels outside the timings
    optimal_kmeans_1d(np.arange(50.0), 4, method="dc")
    optimal_kmeans_1d(np.arange(50.0), 4, method="smawk")
    t0 = time.perf_counter()
    rows = run_table1(grid, args.budget, args.repeat)
    print()
    print("Optimal 1-D k-level quantization (exact 1-D k-means), N(0,1) samples")
    print_table(rows, columns=("N", "k", "solver", "time (s)", "inertia", "rel. diff",
                               "vs smawk"))
    print()
    print_table(run_table2(args.repeat), columns=("work", "ours (s)", "note", "peer (s)",
                                                  "ratio"))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
