"""Fit time and peak memory of the public ``MultiViewGraphClusterer`` against n.

The README's large-fit figure comes from this script. Each size runs in a fresh child process
that builds the synthetic views (3 views of a 16-d Gaussian mixture with 10 clusters, the data
of ``compare_graphs.py --only scaling``), records its resident memory, fits the public
estimator (``MultiViewGraphClusterer(10, n_neighbors=k)`` with every other parameter at its
default, so ``random_state=None``: NN-descent uses every core above 50,000 samples) and reports
the fit's wall time (after a warm-up fit on 500 samples that loads the Numba kernels), its
ACC, and the process's peak resident set size (``ru_maxrss`` of
``resource.getrusage``), which includes the views themselves.

Usage::

    python benchmarks/fit_public_graphs.py [--sizes 1000,10000,100000] [--k 10] [--timeout S]

A size that runs past ``--timeout`` seconds is reported as such and ends the run. Timings are
wall-clock on whatever machine runs this (noisy on a shared one).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import print_table  # noqa: E402


def _rss_gb(kind=resource.RUSAGE_SELF):
    return resource.getrusage(kind).ru_maxrss / 2**20   # ru_maxrss is in KiB on Linux


def _current_rss_gb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


def one_size(n, k):
    """Fit the public estimator once on n samples; return the measurements as a dict."""
    from benchmarks.compare_graphs import gaussian_mixture_views
    from normgraph.graphs import MultiViewGraphClusterer, clustering_accuracy

    # Load the Numba kernels (compiled or read from the cache) before the timed fit.
    MultiViewGraphClusterer(10, n_neighbors=k).fit(gaussian_mixture_views(500, seed=1)[0])
    views, y = gaussian_mixture_views(n)
    data_gb = _current_rss_gb()
    model = MultiViewGraphClusterer(10, n_neighbors=k)
    t0 = time.perf_counter()
    model.fit(views)
    seconds = time.perf_counter() - t0
    return {"n": n, "m": int(model.edges_.shape[0]), "fit_s": seconds,
            "iters": int(model.n_iter_), "acc": float(clustering_accuracy(y, model.labels_)),
            "rss_before_fit_gb": data_gb, "peak_rss_gb": _rss_gb()}


def run_sizes(sizes, k, timeout):
    results = []
    for n in sizes:
        cmd = [sys.executable, os.path.abspath(__file__), "--one-size", str(n), "--k", str(k)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"  n={n}: stopped after the {timeout:.0f} s timeout", flush=True)
            break
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise RuntimeError(f"size {n} failed")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f"  n={n}: fit {res['fit_s']:.1f} s, peak RSS {res['peak_rss_gb']:.2f} GB",
              flush=True)
    rows = [(r["n"], r["m"], r["fit_s"], r["iters"], r["acc"], r["rss_before_fit_gb"],
             r["peak_rss_gb"]) for r in results]
    print_table(rows, columns=("n", "edges m", "fit (s)", "iters", "ACC",
                               "RSS before fit (GB)", "peak RSS (GB)"))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="comma-separated n (add 1000000 for the README's large fit)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed to each size")
    parser.add_argument("--one-size", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_size is not None:
        print(json.dumps(one_size(args.one_size, args.k)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"## MultiViewGraphClusterer.fit vs n (3 views, 16-d, 10 clusters, k={args.k}, "
          f"{os.cpu_count()} CPUs)")
    run_sizes(sizes, args.k, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
