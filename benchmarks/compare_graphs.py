"""Peer comparison and scaling of MultiViewGraphClusterer.

Three tables:

1. ``scaling``: the public estimator, ``MultiViewGraphClusterer(n_clusters=10,
   n_neighbors=k, random_state=0)``, on synthetic data (3 views of a 16-d Gaussian mixture
   with 10 clusters, k = 10) for n = 10^3 ... 10^5 (10^6 with ``--large``, any with
   ``--sizes``), one fresh process per size: the time of every stage (from the fitted
   ``stage_seconds_``), solver iterations, ACC, the peak resident memory of the process and
   the peak within each stage (sampled every 10 ms); the log-log slopes of solver time per
   iteration against m and of fit time against n. Then the solver alone at m = 10^7
   (``--solver-m``), V = 3, float64: ns per edge per iteration beside the memory-bandwidth
   floor of the same run (bytes the solver streams per edge / bandwidth of a NumPy triad on 1
   and 2 threads) and the setup time in iterations.
2. ``mvlearn``: our fit time and ACC on UCI_Digits against mvlearn's
   ``MultiviewSpectralClustering`` and ``MultiviewCoRegSpectralClustering``.
3. ``dense``: our sparse pipeline against a straightforward dense n x n implementation of the
   same method (full distance matrices, dense masks, the solver over all n^2 entries, dense
   eigendecomposition) on the synthetic data up to n = 5000.

Usage::

    python benchmarks/compare_graphs.py [--large] [--sizes N,N] [--knn auto|exact|approximate]
        [--solver-m M] [--data-home DIR] [--only scaling|mvlearn|dense]

Timings are wall-clock on whatever machine runs this (noisy on a shared one).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import best_time, print_table  # noqa: E402


def gaussian_mixture_views(n, n_views=3, dim=16, n_clusters=10, seed=0):
    """Views of one 10-cluster mixture: per-view centres N(0, 2^2), unit noise, one label set."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_clusters, size=n)
    views = []
    for _ in range(n_views):
        centres = rng.normal(0.0, 2.0, size=(n_clusters, dim))
        X = centres[y]
        X += rng.standard_normal((n, dim))
        views.append(X)
    return views, y


# --------------------------------------------------------------------------------------------
# 1. scaling of the public estimator, one size per fresh process (peak RSS is per process)
# --------------------------------------------------------------------------------------------

_STAGES = ("validation", "knn", "edge_weights", "fusion", "sparsify", "spectral")


def _current_rss_gb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


class _RssSampler:
    """Resident memory of this process sampled every ``period`` seconds in a thread."""

    def __init__(self, period=0.01):
        import threading

        self.period = period
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), _current_rss_gb()))
            self._stop.wait(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), _current_rss_gb()))

    def peak(self, t0, t1):
        """Largest sample taken during [t0, t1] or by the first sample after it."""
        inside = [r for t, r in self.samples if t0 <= t <= t1]
        after = [r for t, r in self.samples if t > t1][:1]
        return max(inside + after) if inside + after else float("nan")


def _one_size(n, k, dtype, knn):
    """Fit the public estimator on n samples; time and peak RSS of every stage."""
    from normgraph.graphs import MultiViewGraphClusterer, clustering_accuracy

    verbose = False

    def model():
        return MultiViewGraphClusterer(n_clusters=10, n_neighbors=k, random_state=0, knn=knn,
                                       dtype=dtype, verbose=verbose)

    model().fit(gaussian_mixture_views(600, seed=1)[0])  # load the Numba kernels first
    views, y = gaussian_mixture_views(n)
    verbose = True  # progress on stderr: what a timed-out size got through
    if dtype == np.float32:
        views = [X.astype(np.float32) for X in views]
    out = {"n": n, "rss_views_gb": _current_rss_gb()}
    est = model()
    with _RssSampler() as sampler:
        t0 = time.perf_counter()
        labels = est.fit_predict(views)
        out["total"] = time.perf_counter() - t0
    clock = t0
    for stage in _STAGES:
        sec = est.stage_seconds_[stage]
        out[stage] = sec
        out["rss_" + stage] = sampler.peak(clock, clock + sec)
        clock += sec
    out["fusion_setup"] = est.stage_seconds_["fusion_setup"]
    out["m"] = int(est.edges_.shape[0])
    out["iters"] = int(est.n_iter_)
    out["acc"] = float(clustering_accuracy(y, labels))
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def scaling(sizes, k=10, dtype="float64", knn="auto", timeout=None):
    results = []
    for n in sizes:
        cmd = [sys.executable, os.path.abspath(__file__), "--one-size", str(n), "--k", str(k),
               "--dtype", dtype, "--knn", knn]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            print(f"  n={n}: stopped after the {timeout:.0f} s timeout; the fit's progress "
                  "so far (stderr):", flush=True)
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            print("\n".join("    " + line for line in err.replace("\r", "\n").splitlines()
                            if line.strip())[-3000:], flush=True)
            break
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise RuntimeError(f"size {n} failed")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f"  n={n}: fit {res['total']:.1f} s, peak RSS {res['peak_rss_gb']:.2f} GB, "
              f"ACC {res['acc']:.4f}", flush=True)
    rows = []
    for r in results:
        rows.append((r["n"], r["m"], r["validation"] + r["knn"], r["edge_weights"], r["fusion"],
                     r["iters"], r["fusion"] / max(r["iters"], 1), r["sparsify"], r["spectral"],
                     r["total"], r["acc"], r["peak_rss_gb"]))
    print_table(rows, columns=("n", "edges m", "valid.+kNN (s)", "weights (s)", "solver (s)",
                               "iters", "s/iter", "top-k (s)", "spectral (s)", "fit (s)",
                               "ACC", "peak RSS (GB)"))
    print("\npeak RSS (GB) within each stage (views alone before the fit):")
    rows = [(r["n"], r["rss_views_gb"]) + tuple(r["rss_" + st] for st in _STAGES)
            for r in results]
    print_table(rows, columns=("n", "views") + _STAGES)
    if len(results) >= 2:
        m = np.log([r["m"] for r in results])
        t = np.log([r["fusion"] / max(r["iters"], 1) for r in results])
        print(f"log-log slope of solver time per iteration vs m: {np.polyfit(m, t, 1)[0]:.3f}")
        tt = np.log([r["total"] for r in results])
        print(f"log-log slope of total fit time vs n: "
              f"{np.polyfit(np.log([r['n'] for r in results]), tt, 1)[0]:.3f}")
    return results


def _triad_bandwidth(n_values=2**25, threads=2, repeat=5):
    """Memory bandwidth (bytes/s) of a NumPy triad ``a = b + s c`` on ``threads`` threads.

    Written as ``a = s c; a += b`` (no temporary), which moves 5 arrays' worth of bytes (read c,
    write a, read a, read b, write a); each thread does its own slice (NumPy releases the GIL).
    """
    from concurrent.futures import ThreadPoolExecutor

    b = np.ones(n_values)
    c = np.ones(n_values)
    a = np.empty(n_values)
    bounds = np.linspace(0, n_values, threads + 1).astype(int)

    def part(j):
        lo, hi = bounds[j], bounds[j + 1]
        np.multiply(c[lo:hi], 3.0, out=a[lo:hi])
        np.add(a[lo:hi], b[lo:hi], out=a[lo:hi])

    best = np.inf
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeat):
            t0 = time.perf_counter()
            list(pool.map(part, range(threads)))
            best = min(best, time.perf_counter() - t0)
    return 5 * 8 * n_values / best


def solver_floor(m=10_000_000, n_views=3, n_iter=8):
    """Solver ns per edge per iteration (V = 3, float64) beside the memory-bandwidth floor."""
    from benchmarks.scaling_graphs_solver import random_view_graphs
    from normgraph.graphs import consistent_graph_fusion

    consistent_graph_fusion(random_view_graphs(n_views, 20_000), max_iter=2)  # load kernels
    W = random_view_graphs(n_views, m)
    # bytes per edge and iteration: read W, A, S; write A, S (each counted once)
    bytes_per_edge = (3 * n_views + 2) * 8
    bw = {t: _triad_bandwidth(threads=t) for t in (1, 2)}
    best_bw = max(bw.values())
    floor_ns = bytes_per_edge / best_bw * 1e9
    rows = []
    # Run 1 touches its (V, m) buffers for the first time (the OS provides fresh pages, slow
    # on some virtual machines); run 2 in the same process reuses freed memory.
    for run in ("1 (fresh memory)", "2 (reused memory)"):
        t0 = time.perf_counter()
        _, _, _, _, info = consistent_graph_fusion(W, max_iter=n_iter, min_iter=n_iter,
                                                   rel_tol=0.0)
        total = time.perf_counter() - t0
        per_iter = float(np.median(info["iteration_seconds"]))
        setup = total - info["n_iter"] * per_iter  # everything that is not a steady iteration
        ns = per_iter / m * 1e9
        rows.append((run, f"{m:.0e}", n_views, ns, bytes_per_edge, bw[1] / 1e9, bw[2] / 1e9,
                     floor_ns, ns / floor_ns, info["iteration_seconds"][0], per_iter, setup,
                     setup / per_iter))
        del info
    del W
    print_table(rows, columns=("run", "m", "V", "ns/edge/iter", "bytes/edge",
                               "triad GB/s (1 thr)", "triad GB/s (2 thr)", "floor ns/edge",
                               "x floor", "1st iter (s)", "median iter (s)", "setup (s)",
                               "setup (iters)"))
    print("setup = solver call (validation included) - iterations x median iteration")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="include n = 10^6 in the scaling")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--only", choices=("scaling", "mvlearn", "dense"), default=None)
    parser.add_argument("--sizes", default=None, help="comma-separated n for the scaling table")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--knn", default="auto", choices=("auto", "exact", "approximate"),
                        help="the estimator's knn option in the scaling table")
    parser.add_argument("--solver-m", type=float, default=1e7,
                        help="edges of the solver floor row (0 skips it)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed to each size of the scaling table")
    parser.add_argument("--peers", default="msc,coreg",
                        help="mvlearn peers to run: msc (MultiviewSpectralClustering), coreg")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS/OpenMP threads (ours and the peers alike)")
    parser.add_argument("--one-size", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        print(f"(BLAS/OpenMP threads limited to {args.threads})")

    if args.one_size is not None:
        print(json.dumps(_one_size(args.one_size, args.k, np.dtype(args.dtype), args.knn)))
        return 0

    if args.only in (None, "scaling"):
        if args.sizes:
            sizes = [int(s) for s in args.sizes.split(",")]
        else:
            sizes = [1_000, 3_000, 10_000, 30_000, 100_000] + ([1_000_000] if args.large else [])
        print(f"## MultiViewGraphClusterer fit vs n (3 views, 16-d, 10 clusters, k={args.k}, "
              f"knn={args.knn!r}, {args.dtype}, {os.cpu_count()} CPUs; load {os.getloadavg()})")
        scaling(sizes, k=args.k, dtype=args.dtype, knn=args.knn, timeout=args.timeout)
        if args.solver_m:
            print(f"\n## Solver alone: V = 3, float64 (load {os.getloadavg()})")
            solver_floor(int(args.solver_m))
    if args.only in (None, "mvlearn"):
        print("\n## UCI_Digits: ours vs mvlearn")
        mvlearn_peers(args.data_home, peers=args.peers.split(","))
    if args.only in (None, "dense"):
        print("\n## Sparse (ours) vs a dense n x n implementation (synthetic, k = 10)")
        dense_crossover([500, 1000, 2000, 5000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
