"""Peer comparison and scaling of MultiViewGraphClusterer.

Three tables:

1. ``scaling``: the full pipeline on synthetic data (3 views of a 16-d Gaussian mixture with
   10 clusters, k = 10) for n = 10^3 ... 10^5 (10^6 with ``--large``): kNN, edge weights,
   solver, spectral times, solver time per iteration, edges m, ACC and the peak resident
   memory of a fresh process per size; plus the log-log slope of solver time per iteration
   against m.
2. ``mvlearn``: our fit time and ACC on UCI_Digits against mvlearn's
   ``MultiviewSpectralClustering`` and ``MultiviewCoRegSpectralClustering``.
3. ``dense``: our sparse pipeline against a straightforward dense n x n implementation of the
   same method (full distance matrices, dense masks, the solver over all n^2 entries, dense
   eigendecomposition) on the synthetic data up to n = 5000.

Usage::

    python benchmarks/compare_graphs.py [--large] [--data-home DIR] [--only scaling|mvlearn|dense]

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
# 1. scaling, one size per fresh process (peak RSS is per process)
# --------------------------------------------------------------------------------------------

def _one_size(n, k, dtype):
    from normgraph.graphs import (
        clustering_accuracy, consistent_graph_fusion, gaussian_from_distance, knn_sparsify,
        knn_union_edges, spectral_clustering_njw, standardize_edges, view_edge_weights,
    )

    views, y = gaussian_mixture_views(n)
    out = {"n": n}
    t0 = time.perf_counter()
    # Unseeded: NN-descent (n > 50,000) then uses both cores.
    rows, cols = knn_union_edges(views, k, random_state=None)
    out["knn"] = time.perf_counter() - t0
    out["m"] = int(rows.size)
    t0 = time.perf_counter()
    W = np.empty((len(views), rows.size), dtype=dtype)
    for i, X in enumerate(views):
        W[i] = gaussian_from_distance(standardize_edges(view_edge_weights(X, rows, cols), view=i))
    out["weights"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    S, alpha, A, E, info = consistent_graph_fusion(W)
    out["solver"] = time.perf_counter() - t0
    out["iters"] = int(info["n_iter"])
    del A, E, W
    t0 = time.perf_counter()
    G = knn_sparsify(sp.csr_matrix((S, (rows, cols)), shape=(n, n)), k)
    labels, _ = spectral_clustering_njw(G, 10, random_state=0)
    out["spectral"] = time.perf_counter() - t0
    out["acc"] = float(clustering_accuracy(y, labels))
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def scaling(sizes, k=10, dtype="float64"):
    results = []
    for n in sizes:
        cmd = [sys.executable, os.path.abspath(__file__), "--one-size", str(n), "--k", str(k),
               "--dtype", dtype]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise RuntimeError(f"size {n} failed")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(res)
        total = res["knn"] + res["weights"] + res["solver"] + res["spectral"]
        print(f"  n={n}: total {total:.1f} s, peak RSS {res['peak_rss_gb']:.2f} GB", flush=True)
    rows = []
    for r in results:
        total = r["knn"] + r["weights"] + r["solver"] + r["spectral"]
        rows.append((r["n"], r["m"], r["knn"], r["weights"], r["solver"], r["iters"],
                     r["solver"] / max(r["iters"], 1), r["spectral"], total, r["acc"],
                     r["peak_rss_gb"]))
    print_table(rows, columns=("n", "edges m", "kNN (s)", "weights (s)", "solver (s)", "iters",
                               "s/iter", "spectral (s)", "total (s)", "ACC", "peak RSS (GB)"))
    if len(results) >= 2:
        m = np.log([r["m"] for r in results])
        t = np.log([r["solver"] / max(r["iters"], 1) for r in results])
        print(f"log-log slope of solver time per iteration vs m: {np.polyfit(m, t, 1)[0]:.3f}")
        tt = np.log([r["knn"] + r["weights"] + r["solver"] + r["spectral"] for r in results])
        print(f"log-log slope of total fit time vs n: "
              f"{np.polyfit(np.log([r['n'] for r in results]), tt, 1)[0]:.3f}")
    return results


# --------------------------------------------------------------------------------------------
# 2. mvlearn on UCI_Digits
# --------------------------------------------------------------------------------------------

def mvlearn_peers(data_home, repeat=1, peers=("msc", "coreg")):
    from mvlearn.cluster import MultiviewCoRegSpectralClustering, MultiviewSpectralClustering

    from normgraph.datasets import load_multiview
    from normgraph.graphs import MultiViewGraphClusterer, clustering_accuracy

    data = load_multiview("UCI_Digits", data_home=data_home)
    dense_views = [X.toarray() if sp.issparse(X) else X for X in data.views]
    y, c = data.target, data.n_clusters

    ours = {}
    for fusion in ("similarity", "dissimilarity"):
        model = MultiViewGraphClusterer(c, fusion=fusion, random_state=0)
        seconds, labels = best_time(lambda: model.fit_predict(data.views), repeat=repeat)
        ours[fusion] = (seconds, clustering_accuracy(y, labels))

    available = {
        "msc": ("mvlearn MultiviewSpectralClustering", MultiviewSpectralClustering(
            n_clusters=c, random_state=0)),
        "coreg": ("mvlearn MultiviewCoRegSpectralClustering", MultiviewCoRegSpectralClustering(
            n_clusters=c, random_state=0)),
    }
    rows = []
    for name, peer in (available[p] for p in peers):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds, labels = best_time(lambda: peer.fit_predict(dense_views), repeat=repeat)
        acc = clustering_accuracy(y, labels)
        for fusion, (our_s, our_acc) in ours.items():
            rows.append((f"UCI_Digits fit, {fusion}", our_s, our_acc, name, seconds, acc,
                         seconds / our_s))
    print_table(rows, columns=("work", "ours (s)", "our ACC", "peer", "peer (s)", "peer ACC",
                               "speed-up"))
    return rows


# --------------------------------------------------------------------------------------------
# 3. a dense n x n implementation of the same method
# --------------------------------------------------------------------------------------------

def dense_pipeline(views, n_clusters, k=10, random_state=0):
    """The method with every graph stored as an n x n array (what the MATLAB wrapper does).

    Full distance matrices, a dense union mask, per-view standardisation over the mask, the
    same solver run over all n^2 entries (zeros off the mask stay zero), dense top-k and a
    dense eigendecomposition of the normalised Laplacian, then k-means.
    """
    from scipy.spatial.distance import cdist
    from sklearn.cluster import KMeans

    from normgraph.graphs import consistent_graph_fusion

    n = views[0].shape[0]
    dists = [cdist(X, X, "sqeuclidean") for X in views]
    mask = np.zeros((n, n), dtype=bool)
    for D in dists:
        D2 = D.copy()
        np.fill_diagonal(D2, np.inf)
        nearest = np.argpartition(D2, k - 1, axis=1)[:, :k]
        mask[np.repeat(np.arange(n), k), nearest.ravel()] = True
    W = np.zeros((len(views), n * n))
    flat = mask.ravel()
    for i, D in enumerate(dists):
        x = D.ravel()[flat]
        z = np.maximum((x - x.mean()) / x.std(ddof=1) + 1.0, 0.0)
        sigma = np.sqrt(z).mean()
        W[i, flat] = np.exp(-z / (2 * sigma**2))
    S, *_ = consistent_graph_fusion(W)
    S = S.reshape(n, n)
    keep = np.argpartition(-S, k - 1, axis=1)[:, :k]
    T = np.zeros_like(S)
    rows = np.repeat(np.arange(n), k)
    T[rows, keep.ravel()] = S[rows, keep.ravel()]
    G = (T + T.T) / 2
    d = G.sum(axis=1)
    d[d == 0] = np.finfo(float).eps
    Dm = 1.0 / np.sqrt(d)
    A = G * Dm[:, None] * Dm[None, :]
    _, vecs = np.linalg.eigh(A)
    U = vecs[:, -n_clusters:]
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    U = np.divide(U, norms, out=np.zeros_like(U), where=norms > 0)
    return KMeans(n_clusters, n_init=30, max_iter=1000, random_state=random_state).fit_predict(U)


def dense_crossover(sizes, k=10):
    from normgraph.graphs import MultiViewGraphClusterer, clustering_accuracy

    rows = []
    for n in sizes:
        views, y = gaussian_mixture_views(n)
        model = MultiViewGraphClusterer(10, n_neighbors=k, random_state=0)
        ours_s, ours_labels = best_time(lambda: model.fit_predict(views), repeat=1)
        dense_s, dense_labels = best_time(lambda: dense_pipeline(views, 10, k), repeat=1)
        rows.append((n, ours_s, clustering_accuracy(y, ours_labels), dense_s,
                     clustering_accuracy(y, dense_labels), dense_s / ours_s))
        print(f"  n={n} done", flush=True)
    print_table(rows, columns=("n", "ours (s)", "our ACC", "dense n x n (s)", "dense ACC",
                               "ratio"))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="include n = 10^6 in the scaling")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--only", choices=("scaling", "mvlearn", "dense"), default=None)
    parser.add_argument("--sizes", default=None, help="comma-separated n for the scaling table")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--k", type=int, default=10)
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
        print(json.dumps(_one_size(args.one_size, args.k, np.dtype(args.dtype))))
        return 0

    if args.only in (None, "scaling"):
        if args.sizes:
            sizes = [int(s) for s in args.sizes.split(",")]
        else:
            sizes = [1_000, 3_000, 10_000, 30_000, 100_000] + ([1_000_000] if args.large else [])
        print(f"## Full fit vs n (3 views, 16-d, 10 clusters, k={args.k}, {args.dtype})")
        scaling(sizes, k=args.k, dtype=args.dtype)
    if args.only in (None, "mvlearn"):
        print("\n## UCI_Digits: ours vs mvlearn")
        mvlearn_peers(args.data_home, peers=args.peers.split(","))
    if args.only in (None, "dense"):
        print("\n## Sparse (ours) vs a dense n x n implementation (synthetic, k = 10)")
        dense_crossover([500, 1000, 2000, 5000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
