"""Distributed vs in-memory multi-view graph clustering: fit time and peak memory vs n.

Run as a script (not an asv benchmark: it starts its own LocalCluster)::

    python benchmarks/dask_graphs.py --sizes 100000 300000 1000000 --workers 2 \\
        --memory-limit 2GiB
    python benchmarks/dask_graphs.py --equivalence     # the equivalence figures

Data: 3 views of 16-d Gaussian-mixture features (one label per sample shared by the views,
each view its own cluster centres and noise), 10 clusters, k = 10, generated block by block
on the workers (seeded per 1000 rows), so the client never holds a view. The views' row blocks
are given at the size the distributed path would choose itself from n and the workers'
``memory_limit`` (``--block`` overrides).

Memory, per worker: the workers are restarted before every fit and warmed by a 2000-sample
fit outside the timed one. During the fit a thread inside every worker process samples its
RSS (``psutil``) every 0.1 s; the table reports the largest sample over the workers
("sampled peak"), and the kernel's high-water mark ``ru_maxrss`` of the worker processes read
after the fit ("maxrss"; it includes the warm-up, ~300 MiB of libraries), and the most bytes a
worker had spilled to disk at a sample. The in-memory path runs on the same data (the blocks
concatenated) in a fresh subprocess that reports its own ``ru_maxrss``. ACC and ARI are
against the mixture labels. Prints one row per n.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

N_VIEWS, DIM, N_CLUSTERS, K = 3, 16, 10, 10
_STEP = 1000  # rows are generated in fixed pieces, so any block size gives the same rows


def _piece(s, view, seed=0):
    """Labels and features of rows s..s+_STEP of one view."""
    centers = np.random.default_rng([seed, 10_000 + view]).normal(0.0, 2.0, (N_CLUSTERS, DIM))
    y = np.random.default_rng([seed, s]).integers(0, N_CLUSTERS, _STEP)
    noise = np.random.default_rng([seed, 1 + view, s]).standard_normal((_STEP, DIM))
    return y, centers[y] + noise


def _block(start, size, view, seed=0):
    """Rows start..start+size of one view, identical however the rows are blocked."""
    out = np.empty((size, DIM))
    for s in range(start - start % _STEP, start + size, _STEP):
        _, piece = _piece(s, view, seed)
        lo, hi = max(s, start), min(s + _STEP, start + size)
        out[lo - start:hi - start] = piece[lo - s:hi - s]
    return out


def _labels(n, seed=0):
    """The mixture labels of rows 0..n (shared by the views)."""
    return np.concatenate([_piece(s, 0, seed)[0] for s in range(0, n, _STEP)])[:n]


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


# --------------------------------------------------------------------------------------------
# per-worker memory: a sampling thread inside each worker process
# --------------------------------------------------------------------------------------------

def _start_sampler(dask_worker, interval=0.1):
    import psutil

    proc = psutil.Process()
    state = {"rss": 0, "spilled": 0, "stop": threading.Event()}

    def spilled():
        total = getattr(dask_worker.data, "spilled_total", None)
        return int(getattr(total, "disk", 0) or 0) if total is not None else 0

    def loop():
        while not state["stop"].is_set():
            state["rss"] = max(state["rss"], proc.memory_info().rss)
            state["spilled"] = max(state["spilled"], spilled())
            state["stop"].wait(interval)

    state["thread"] = threading.Thread(target=loop, daemon=True, name="rss-sampler")
    state["thread"].start()
    dask_worker._bench_sampler = state
    return True


def _read_sampler(dask_worker):
    state = dask_worker._bench_sampler
    return {"rss": state["rss"], "spilled": state["spilled"]}


def _report_progress(client, stop, every):
    """Print the workers' sampled peaks so far every ``every`` seconds (a long fit shows how
    far it got even if it is stopped)."""
    t = time.perf_counter()
    while not stop.wait(every):
        try:
            mem = client.run(_read_sampler)
        except Exception:  # noqa: BLE001 - a worker restarting: skip this report
            continue
        peaks = " ".join(f"{m['rss'] / 2**20:.0f}" for m in mem.values())
        spilled = " ".join(f"{m['spilled'] / 2**20:.0f}" for m in mem.values())
        print(f"    {time.perf_counter() - t:6.0f} s: sampled peak MiB per worker {peaks}, "
              f"spilled MiB {spilled} ({_load()})", flush=True)


def _stop_sampler(dask_worker):
    state = dask_worker._bench_sampler
    state["stop"].set()
    state["thread"].join()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"rss": state["rss"], "spilled": state["spilled"], "maxrss": maxrss}


# --------------------------------------------------------------------------------------------
# in-memory reference in a fresh process
# --------------------------------------------------------------------------------------------

def _in_memory(n, knn):
    code = (
        "import json, resource, sys, time; sys.path.insert(0, {path!r}); "
        "from dask_graphs import _block, _labels, N_VIEWS, N_CLUSTERS, K; "
        "from normgraph.graphs import multiview_graph_clustering; "
        "from normgraph.graphs.metrics import adjusted_rand, clustering_accuracy; "
        "views = [_block(0, {n}, v) for v in range(N_VIEWS)]; t = time.perf_counter(); "
        "r = multiview_graph_clustering(views, N_CLUSTERS, n_neighbors=K, knn={knn!r}, "
        "eigen_solver='arpack', keep_intermediate=False, random_state=0); fit = time.perf_counter() - t; y = _labels({n}); "
        "print(json.dumps([fit, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "
        "clustering_accuracy(y, r.labels), adjusted_rand(y, r.labels)]))"
    ).format(path=str(Path(__file__).parent), n=n, knn=knn)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        return None, (out.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(out.stdout.strip().splitlines()[-1]), None


# --------------------------------------------------------------------------------------------
# the memory / time table
# --------------------------------------------------------------------------------------------

def _load():
    return "load %.2f %.2f %.2f" % os.getloadavg()


def _print_profile(records):
    """Worker compute seconds per task name (the function), largest first."""
    total = {}
    for rec in records:
        name = str(rec["key"]).strip("('").split("-")[0]
        for part in rec.get("startstops", ()):
            if part["action"] == "compute":
                total[name] = total.get(name, 0.0) + part["stop"] - part["start"]
    print("    worker compute s: " + ", ".join(
        f"{name} {sec:.1f}" for name, sec in sorted(total.items(), key=lambda x: -x[1])[:12]),
        flush=True)


def _fit_table(args):
    from distributed import Client, LocalCluster, get_task_stream

    from normgraph.graphs import multiview_graph_clustering
    from normgraph.graphs._dask import _max_block_rows
    from normgraph.graphs._knn import APPROXIMATE_THRESHOLD
    from normgraph.graphs.metrics import adjusted_rand, clustering_accuracy

    mib = 2.0 ** 20
    cluster = client = None
    if args.mode != "memory":
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                               memory_limit=args.memory_limit, dashboard_address=None)
        client = Client(cluster)
    print(f"{args.workers} workers x 1 thread, memory_limit={args.memory_limit}, "
          f"{N_VIEWS} views, d={DIM}, c={N_CLUSTERS}, k={K}, knn={args.knn}; {_load()}")
    print(f"{'n':>8} {'blocks':>6} {'dask fit s':>10} {'sampled peak MiB':>16} "
          f"{'maxrss MiB':>10} {'spilled MiB':>11} {'MiB/1e4 rows/wkr':>16} {'ACC':>6} "
          f"{'ARI':>6} | {'in-mem fit s':>12} {'in-mem peak MiB':>15} {'ACC':>6} {'ARI':>6}",
          flush=True)
    try:
        for n in args.sizes:
            row = f"{n:8d}"
            if client is not None:
                block = args.block or min(n, _max_block_rows(client, N_VIEWS, K, 8) or n)
                client.restart()
                # warm the fresh workers (imports, Numba kernels, pynndescent's compiled search
                # when the fit will use approximate shards) outside the timed fit
                warm_knn = ("approximate" if args.knn == "auto" and n > APPROXIMATE_THRESHOLD
                            else args.knn)
                multiview_graph_clustering(_dask_views(2000, 1000), N_CLUSTERS, n_neighbors=K,
                                           knn=warm_knn, random_state=0)
                views = _dask_views(n, block)
                client.run(_start_sampler)
                stop = threading.Event()
                if args.progress:
                    threading.Thread(target=_report_progress, args=(client, stop, args.progress),
                                     daemon=True).start()
                t = time.perf_counter()
                try:
                    with get_task_stream(client) as stream:
                        res = multiview_graph_clustering(views, N_CLUSTERS, n_neighbors=K,
                                                         knn=args.knn, random_state=0)
                    fit = time.perf_counter() - t
                finally:
                    stop.set()
                    mem = client.run(_stop_sampler)
                if args.profile:
                    _print_profile(stream.data)
                rss = max(m["rss"] for m in mem.values()) / mib
                maxrss = max(m["maxrss"] for m in mem.values()) / mib
                spilled = max(m["spilled"] for m in mem.values()) / mib
                per = rss / (n / args.workers / 1e4)
                y = _labels(n)
                row += (f" {-(-n // block):6d} {fit:10.1f} {rss:16.0f} {maxrss:10.0f} "
                        f"{spilled:11.0f} {per:16.1f} {clustering_accuracy(y, res.labels):6.3f} "
                        f"{adjusted_rand(y, res.labels):6.3f}")
                del res
            else:
                row += f" {'':6} {'':10} {'':16} {'':10} {'':11} {'':16} {'':6} {'':6}"
            if args.mode != "dask":
                out, err = _in_memory(n, args.knn)
                row += (f" | {out[0]:12.1f} {out[1]:15.0f} {out[2]:6.3f} {out[3]:6.3f}" if out
                        else f" | {err[:60]}")
            print(row + f"   ({_load()})", flush=True)
    finally:
        if client is not None:
            client.close()
            cluster.close()


# --------------------------------------------------------------------------------------------
# equivalence figures
# --------------------------------------------------------------------------------------------

def _without_duplicates(views):
    """Drop every sample that repeats an earlier one in some view (exact ties make which
    neighbour an exact search keeps arbitrary)."""
    import scipy.sparse as sp

    keep = np.ones(views[0].shape[0], dtype=bool)
    for X in views:
        dense = X.toarray() if sp.issparse(X) else np.asarray(X)
        _, first = np.unique(dense, axis=0, return_index=True)
        unique = np.zeros(dense.shape[0], dtype=bool)
        unique[first] = True
        keep &= unique
    return [X[keep] for X in views]


def _equivalence(args):
    import dask.array as da
    import scipy.sparse as sp
    from distributed import Client, LocalCluster

    from normgraph.datasets import load_multiview
    from normgraph.graphs import multiview_graph_clustering
    from normgraph.graphs.metrics import adjusted_rand

    cases = []
    rng = np.random.default_rng(4)
    y = rng.integers(0, 5, 20_000)
    views = [rng.normal(0, 1.0, (5, 16))[y] + rng.normal(size=(20_000, 16)) for _ in range(3)]
    cases.append(("mixture n=20000", views, 5, "sqeuclidean", 5000))
    for name, block in (("MSRC_v1", 60), ("BBCSport", 150)):
        data = load_multiview(name, data_home=args.data_home)
        cases.append((name, _without_duplicates(data.views), data.n_clusters, data.metric, block))

    print(f"{args.workers} workers x 1 thread, exact kNN, k=10; {_load()}")
    print(f"{'data':>16} {'n':>6} {'edges':>8} {'same edge set':>13} {'max|d coef|':>11} "
          f"{'max rel d obj':>13} {'max|d W|':>9} {'ARI':>5} {'in-mem s':>8} {'dask s':>7}")
    with LocalCluster(n_workers=args.workers, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster):
        for label, views, c, metric, block in cases:
            kw = dict(n_neighbors=10, knn="exact", eigen_solver="arpack", random_state=0,
                      metric=metric)
            t = time.perf_counter()
            mem = multiview_graph_clustering(views, c, **kw)
            t_mem = time.perf_counter() - t
            dviews = [da.from_array(v, chunks=(block, -1), asarray=not sp.issparse(v))
                      for v in views]
            t = time.perf_counter()
            dist = multiview_graph_clustering(dviews, c, **kw)
            t_dist = time.perf_counter() - t
            edges = dist.edges.compute()
            same = edges.shape == mem.edges.shape and bool(np.array_equal(edges, mem.edges))
            d_coef = float(np.max(np.abs(dist.view_coef - mem.view_coef)))
            if len(dist.objective) == len(mem.objective):
                d_obj = float(np.max(np.abs(np.subtract(dist.objective, mem.objective))
                                     / np.abs(mem.objective)))
            else:
                d_obj = float("nan")
            d_w = float(np.max(np.abs(dist.view_graphs.compute() - mem.view_graphs))
                        if same else float("nan"))
            ari = adjusted_rand(mem.labels, dist.labels)
            print(f"{label:>16} {views[0].shape[0]:6d} {mem.edges.shape[0]:8d} {str(same):>13} "
                  f"{d_coef:11.1e} {d_obj:13.1e} {d_w:9.1e} {ari:5.3f} {t_mem:8.1f} "
                  f"{t_dist:7.1f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 50000, 100000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GiB")
    parser.add_argument("--block", type=int, default=0,
                        help="rows per block (default: what the distributed path would choose "
                             "from the memory limit)")
    parser.add_argument("--knn", default="auto",
                        choices=["auto", "exact", "approximate", "pynndescent"])
    parser.add_argument("--mode", default="both", choices=["both", "dask", "memory"],
                        help="run the distributed fit, the in-memory one, or both")
    parser.add_argument("--progress", type=float, default=0,
                        help="print the sampled peaks every this many seconds during a fit")
    parser.add_argument("--profile", action="store_true",
                        help="also print the workers' compute seconds per task function")
    parser.add_argument("--equivalence", action="store_true",
                        help="print the equivalence figures instead (n=20000, MSRC_v1, BBCSport)")
    parser.add_argument("--data-home", default=None,
                        help="folder holding multiview/*.mat (default: $NORMGRAPH_DATA)")
    args = parser.parse_args(argv)
    if args.equivalence:
        _equivalence(args)
    else:
        _fit_table(args)


if __name__ == "__main__":
    main()
