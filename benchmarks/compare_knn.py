"""kNN candidates on the same data: time, peak RSS and recall against exact neighbours.

The data is one view of the scaling benchmark's mixture (16-d, 10 Gaussian components,
``compare_graphs.gaussian_mixture_views``); every method finds the k nearest other points of
*every* point (k = 10, i.e. k + 1 with the point itself). Recall is measured on 1,000 sampled
queries against exact neighbours computed in float64 (blocked brute force); a found neighbour
counts as correct when its exact distance is at most the exact k-th distance (ties count).

Each (method, n) runs in a fresh process, so the peak RSS is that method's (it includes the
float64 data, 128 MB per 10^6 points, and the 1,000-query check, about 130 MB). ``time`` is
the search alone: the numba kernels are compiled (or loaded from the cache) by a warm-up on
2,000 points first. ``exact-kdtree`` and ``exact-gemm`` are extrapolated from the time of a
sample of queries (marked ``*``): scikit-learn's KD-tree with both cores on 10,000 queries, and
the blocked float64 GEMM of the recall check. ``CPU s`` is the child's whole CPU time (data,
warm-up, search and recall check; on a busy machine the wall time overstates the search, the
CPU time less so).

Methods: ``normgraph`` (``knn="approximate"``, the ``knn="auto"`` path above 50,000 samples:
random-projection trees + NN-descent, deterministic on any number of threads), ``pynndescent``
(defaults, every core, unseeded), ``pynndescent-tuned`` (n_neighbors=25, the first 11 kept),
``hnswlib`` (M=16, ef_construction=100, ef=50, 2 threads), ``faiss-hnsw`` (M=32,
efConstruction=40, efSearch=64), ``faiss-ivf`` (IVF-Flat, 4 sqrt(n) lists, nprobe=16),
``exact-kdtree``, ``exact-gemm``. Missing peer packages are reported and skipped (faiss-cpu
comes with the ``test`` extra; hnswlib compiles from source: ``pip install hnswlib``).

Reproduce (timed runs hold the shared benchmark lock)::

    flock /tmp/ng-bench.lock python benchmarks/compare_knn.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("normgraph", "pynndescent", "pynndescent-tuned", "hnswlib", "faiss-hnsw",
           "faiss-ivf", "exact-kdtree", "exact-gemm")
_MODULES = {"pynndescent": "pynndescent", "pynndescent-tuned": "pynndescent",
            "hnswlib": "hnswlib", "faiss-hnsw": "faiss", "faiss-ivf": "faiss"}


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _data(n):
    sys.path.insert(0, HERE)
    from compare_graphs import gaussian_mixture_views

    views, _ = gaussian_mixture_views(n, n_views=1)
    return np.ascontiguousarray(views[0])


def exact_reference(X, queries, k, block=16):
    """Exact squared distances of each query's k nearest others (float64, blocked GEMM)."""
    sq = np.einsum("ij,ij->i", X, X)
    kth = np.empty(queries.size)
    for s in range(0, queries.size, block):
        q = queries[s:s + block]
        D = sq[q][:, None] + sq[None, :] - 2.0 * (X[q] @ X.T)
        D[np.arange(q.size), q] = np.inf
        part = np.partition(D, k - 1, axis=1)[:, :k]
        # the GEMM form rounds; the k-th distance is recomputed directly
        cand = np.argpartition(D, k - 1, axis=1)[:, :k]
        direct = ((X[cand] - X[q][:, None, :]) ** 2).sum(-1)
        kth[s:s + block] = np.maximum(direct.max(1), part.max(1))
    return kth


def recall(X, queries, found, kth):
    """Fraction of found neighbours (k per query) no farther than the exact k-th."""
    hits = 0
    for i, q in enumerate(queries):
        d = ((X[found[i]] - X[q]) ** 2).sum(1)
        hits += int(np.count_nonzero(d <= kth[i] * (1 + 1e-9)))
    return hits / found.size


def _without_self(idx):
    from normgraph.graphs._knn import _drop_self

    return _drop_self(np.asarray(idx, dtype=np.int64))


def run_method(method, n, k, seed=0):
    """Neighbours (n, k) of every point, or extrapolated time on a sample: (idx, sec, note)."""
    X = _data(n)
    k1 = k + 1
    note = ""
    if method == "normgraph":
        from normgraph.graphs._knn import view_neighbors

        rng = np.random.RandomState(seed)
        view_neighbors(X[:2000], k, knn="approximate", random_state=rng)  # JIT / cache load
        t = time.perf_counter()
        _, cols = view_neighbors(X, k, knn="approximate", random_state=rng)
        return X, cols.reshape(n, k), time.perf_counter() - t, note
    t = time.perf_counter()
    if method in ("pynndescent", "pynndescent-tuned"):
        from pynndescent import NNDescent

        m = k1 if method == "pynndescent" else 25
        nnd = NNDescent(X[:2000], n_neighbors=m)  # JIT
        del nnd
        t = time.perf_counter()
        idx = NNDescent(X, n_neighbors=m, n_jobs=-1, low_memory=True).neighbor_graph[0][:, :k1]
    elif method == "hnswlib":
        import hnswlib

        index = hnswlib.Index(space="l2", dim=X.shape[1])
        index.init_index(max_elements=n, M=16, ef_construction=100, random_seed=seed)
        index.set_num_threads(2)
        index.add_items(X)
        index.set_ef(50)
        idx, _ = index.knn_query(X, k=k1)
        del index
    elif method == "faiss-hnsw":
        import faiss

        faiss.omp_set_num_threads(2)
        X32 = X.astype(np.float32)
        index = faiss.IndexHNSWFlat(X.shape[1], 32)
        index.hnsw.efConstruction = 40
        index.add(X32)
        index.hnsw.efSearch = 64
        _, idx = index.search(X32, k1)
        del index
    elif method == "faiss-ivf":
        import faiss

        faiss.omp_set_num_threads(2)
        X32 = X.astype(np.float32)
        nlist = int(4 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(X.shape[1]), X.shape[1], nlist)
        index.train(X32[:: max(1, n // (64 * nlist))])
        index.add(X32)
        index.nprobe = 16
        _, idx = index.search(X32, k1)
        del index
    elif method == "exact-kdtree":
        from sklearn.neighbors import NearestNeighbors

        m = min(n, 10_000)
        nn = NearestNeighbors(n_neighbors=k1, algorithm="kd_tree", n_jobs=2).fit(X)
        sample = np.arange(0, n, n // m)[:m]
        idx = nn.kneighbors(X[sample], return_distance=False)
        elapsed = (time.perf_counter() - t) * n / m
        return X, (sample, _without_self_rows(idx, sample)), elapsed, "*"
    else:
        raise ValueError(method)
    elapsed = time.perf_counter() - t
    return X, _without_self(idx), elapsed, note


def _without_self_rows(idx, rows):
    """_drop_self for lists of the given rows."""
    is_self = idx == rows[:, None]
    has = is_self.any(1)
    is_self[~has, -1] = True
    return idx[~is_self].reshape(idx.shape[0], idx.shape[1] - 1)


def _cpu_seconds():
    t = os.times()
    return t.user + t.system


def child(method, n, k, n_queries):
    cpu0 = _cpu_seconds()
    queries = np.random.default_rng(12345).choice(n, n_queries, replace=False)
    if method == "exact-gemm":
        X = _data(n)
        t = time.perf_counter()
        exact_reference(X, queries, k)
        elapsed = (time.perf_counter() - t) * n / n_queries
        rec, note = 1.0, "*"
    else:
        X, idx, elapsed, note = run_method(method, n, k)
        if isinstance(idx, tuple):  # sampled rows
            rows, lists = idx
            queries = rows[:n_queries]
            idx = lists[:n_queries]
        else:
            idx = idx[queries]
        rec = recall(X, queries, idx, exact_reference(X, queries, k))
    print(json.dumps({"method": method, "n": n, "time": elapsed, "rss": _peak_rss_mb(),
                      "recall": rec, "note": note, "cpu": _cpu_seconds() - cpu0}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.k, args.queries)
        return
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"# k = {args.k} (+ self), 16-d mixture, recall on {args.queries} queries, "
          f"load average {' '.join(load)}, {os.cpu_count()} CPUs")
    print(f"{'method':<18} {'n':>9} {'time s':>9} {'peak RSS MB':>12} {'recall':>8} "
          f"{'CPU s':>8}")
    for n in args.sizes:
        for method in args.methods:
            mod = _MODULES.get(method)
            if mod is not None:
                try:
                    __import__(mod)
                except ImportError:
                    print(f"{method:<18} {n:>9} {'(not installed: ' + mod + ')':>31}")
                    continue
            out = subprocess.run(
                [sys.executable, __file__, "--child", method, str(n), "--k", str(args.k),
                 "--queries", str(args.queries)], capture_output=True, text=True)
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if out.returncode != 0 or not lines:
                print(f"{method:<18} {n:>9} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(lines[-1])
            print(f"{method:<18} {n:>9} {r['time']:>8.1f}{r['note'] or ' '} {r['rss']:>12.0f} "
                  f"{r['recall']:>8.4f} {r['cpu']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
