"""Distributed vs in-memory multi-view graph clustering: fit time and peak memory vs n.

Run as a script (not an asv benchmark: it starts its own LocalCluster)::

    python benchmarks/dask_graphs.py --sizes 5000 20000 50000 --workers 2 --memory-limit 2GiB

Data: 3 views of 16-d Gaussian-mixture features, 10 clusters, k = 10, generated block by
block on the workers (seeded per block), so the client never holds a view. The in-memory
path runs on the same data (the blocks concatenated) in a fresh subprocess, whose peak RSS
is its ``ru_maxrss``. Per-worker peak RSS is read from each worker process after the fit
(workers are restarted before every fit and warmed by a 2000-sample fit, so it is the fit's
peak, including the ~300 MiB of a worker with its libraries loaded). Prints one table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

N_VIEWS, DIM, N_CLUSTERS, K = 3, 16, 10, 10


def _block(start, size, view, seed=0):
    """Rows start..start+size of one view, identical however the rows are blocked."""
    centers = np.random.default_rng([seed, 10_000 + view]).normal(0.0, 2.0, (N_CLUSTERS, DIM))
    out = np.empty((size, DIM))
    step = 1000  # generate in fixed 1000-row pieces so any block size gives the same rows
    for s in range(start - start % step, start + size, step):
        rng = np.random.default_rng([seed, view, s])
        y = rng.integers(0, N_CLUSTERS, step)
        piece = centers[y] + rng.standard_normal((step, DIM))
        lo, hi = max(s, start), min(s + step, start + size)
        out[lo - start:hi - start] = piece[lo - s:hi - s]
    return out


def _dask_views(n, block):
    import dask
    import dask.array as da

    views = []
    for v in range(N_VIEWS):
        parts = [da.from_delayed(dask.delayed(_block)(s, min(block, n - s), v),
                                 shape=(min(block, n - s), DIM), dtype=np.float64)
                 for s in range(0, n, block)]
        views.append(da.concatenate(parts, axis=0))
    return views


def _worker_peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _in_memory(n, knn):
    code = (
        "import json, resource, sys, time; sys.path.insert(0, {path!r}); "
        "from dask_graphs import _block, N_VIEWS, N_CLUSTERS, K; "
        "from normgraph.graphs import multiview_graph_clustering; "
        "views = [_block(0, {n}, v) for v in range(N_VIEWS)]; t = time.perf_counter(); "
        "multiview_graph_clustering(views, N_CLUSTERS, n_neighbors=K, knn={knn!r}, "
        "eigen_solver='arpack', random_state=0); "
        "print(json.dumps([time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0]))"
    ).format(path=str(__import__("pathlib").Path(__file__).parent), n=n, knn=knn)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr else "failed"
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 50000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GiB")
    parser.add_argument("--block", type=int, default=0,
                        help="rows per block (default: about n / (4 * workers), >= 2000)")
    parser.add_argument("--knn", default="exact", choices=["exact", "approximate"])
    parser.add_argument("--no-in-memory", action="store_true")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    from normgraph.graphs import multiview_graph_clustering

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                           memory_limit=args.memory_limit, dashboard_address=None)
    client = Client(cluster)
    print(f"{args.workers} workers x 1 thread, memory_limit={args.memory_limit}, "
          f"{N_VIEWS} views, d={DIM}, c={N_CLUSTERS}, k={K}, knn={args.knn}")
    print(f"{'n':>9} {'blocks':>6} {'dask fit (s)':>12} {'peak/worker (MiB)':>18} "
          f"{'MiB per 1e4 rows/worker':>23} {'in-memory fit (s)':>17} {'in-memory peak (MiB)':>20}")
    try:
        for n in args.sizes:
            block = args.block or max(2000, -(-n // (4 * args.workers)))
            client.restart()
            # warm the fresh workers (imports, cached Numba kernels) outside the timed fit
            multiview_graph_clustering(_dask_views(2000, 1000), N_CLUSTERS, n_neighbors=K,
                                       knn=args.knn, random_state=0)
            views = _dask_views(n, block)
            t = time.perf_counter()
            multiview_graph_clustering(views, N_CLUSTERS, n_neighbors=K, knn=args.knn,
                                       random_state=0)
            fit = time.perf_counter() - t
            peak = max(client.run(_worker_peak_mib).values())
            per = peak / (n / args.workers / 1e4)
            mem, err = (None, "skipped") if args.no_in_memory else _in_memory(n, args.knn)
            mem_txt = (f"{mem[0]:17.1f} {mem[1]:20.0f}" if mem else f"{err[:38]:>38}")
            print(f"{n:9d} {-(-n // block):6d} {fit:12.1f} {peak:18.0f} {per:23.1f} {mem_txt}",
                  flush=True)
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
