"""Scaling of the graph fusion solver with the number of edges (spec section 13).

Runs ``consistent_graph_fusion`` on random view graphs with m = 1e5 ... 1e7 edges for V = 3
and V = 5 (plus a float32 row at 1e7), a fixed number of iterations each (stopping rule off),
and prints the median time per iteration (process CPU time of all the solver's threads, and
wall time), the iteration count and the fitted log-log slope of CPU time per
iteration against m (acceptance: slope in [0.9, 1.15]).

Usage::

    python benchmarks/scaling_graphs_solver.py [--quick]

``--quick`` stops at m = 1e6.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from normgraph.graphs import consistent_graph_fusion

try:
    from benchmarks.common import print_table
except ImportError:  # run as a plain script from the benchmarks folder
    from common import print_table


def random_view_graphs(n_views, n_edges, dtype=np.float64, seed=0):
    """Uniform view weights on a common edge list, one view with 30 % zero weights."""
    rng = np.random.default_rng(seed)
    W = rng.uniform(size=(n_views, n_edges)).astype(dtype, copy=False)
    W[1, rng.uniform(size=n_edges) < 0.3] = 0.0
    return W


def measure_per_iteration(W, n_iter):
    """Median process-CPU and wall time of one solver iteration over ``n_iter`` iterations."""
    _, _, _, _, info = consistent_graph_fusion(W, max_iter=n_iter, min_iter=n_iter, rel_tol=0.0)
    return (float(np.median(info["iteration_cpu_seconds"])),
            float(np.median(info["iteration_seconds"])), info["n_iter"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at m = 1e6")
    parser.add_argument("--n-iter", type=int, default=5, help="iterations per size (default 5)")
    args = parser.parse_args(argv)

    sizes = [100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
    if args.quick:
        sizes = sizes[:3]
    consistent_graph_fusion(random_view_graphs(3, 500), max_iter=2)  # compile the kernels
    consistent_graph_fusion(random_view_graphs(3, 500, np.float32), max_iter=2)

    rows, slopes = [], {}
    t_start = time.perf_counter()
    for n_views in (3, 5):
        times = []
        for m in sizes:
            W = random_view_graphs(n_views, m)
            sec, wall, iters = measure_per_iteration(W, args.n_iter)
            del W
            times.append(sec)
            rows.append((f"{m:.0e}", n_views, "float64", sec, sec / m * 1e9, wall, iters))
        slopes[n_views] = float(np.polyfit(np.log(sizes), np.log(times), 1)[0])
    W = random_view_graphs(3, sizes[-1], np.float32)
    sec, wall, iters = measure_per_iteration(W, args.n_iter)
    del W
    rows.append((f"{sizes[-1]:.0e}", 3, "float32", sec, sec / sizes[-1] * 1e9, wall, iters))

    print_table(rows, columns=("m", "V", "dtype", "cpu s/iter", "ns/edge/iter", "wall s/iter",
                               "iters"))
    print()
    for n_views, slope in slopes.items():
        ok = 0.9 <= slope <= 1.15
        print(f"V={n_views}: log-log slope of CPU s/iter vs m over {sizes[0]:.0e}..{sizes[-1]:.0e} = "
              f"{slope:.3f} ({'within' if ok else 'OUTSIDE'} [0.9, 1.15])")
    print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
