"""The estimator: multi-view graph learning (SGF / DGF) followed by spectral clustering."""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import Bunch, check_random_state

from .._utils.progress import progress
from .._utils.validation import (check_allocation, check_bool, check_choice, check_int,
                                 check_random_state_param, check_real, check_views)
from ._edges import check_metric_list, check_square_view, edge_values, standardized_weights_into
from ._fusion import _check_view_weights, _cross_penalty, _solve
from ._knn import KNN_METHODS, union_edges
from ._sparsify import knn_sparsify
from ._spectral import spectral_clustering_njw

__all__ = ["MultiViewGraphClusterer", "multiview_graph_clustering"]

_FUSIONS = ("similarity", "dissimilarity")
_SQUARE_METRICS = ("precomputed", "precomputed_graph")
# Warn when more than this share of a view's edges have distance exactly 0 (duplicates).
_ZERO_EDGE_SHARE = 0.5


def _index_dtype(n, m):
    """int32 for node indices and CSR pointers while they fit (n, m < 2^31), else int64."""
    return np.int32 if max(n, m) < 2**31 - 1 else np.int64


def _edges_to_csr(values, rows, cols, n):
    """CSR matrix with ``values`` on the row-major sorted, unique edge list (no copy of order)."""
    indptr = np.zeros(n + 1, dtype=_index_dtype(n, rows.shape[0]))
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix((values, cols.copy(), indptr), shape=(n, n))


_EIGEN_SOLVERS = ("auto", "arpack", "lobpcg", "dense")
_ASSIGN_LABELS = ("kmeans", "discretize")


def _check_pipeline_params(p):
    """Check the scalar and choice parameters of the pipeline; return the solver dtype."""
    check_choice(p["fusion"], "fusion", _FUSIONS)
    check_choice(p["knn"], "knn", KNN_METHODS)
    check_choice(p["eigen_solver"], "eigen_solver", _EIGEN_SOLVERS)
    check_choice(p["assign_labels"], "assign_labels", _ASSIGN_LABELS)
    check_int(p["n_clusters"], "n_clusters", low=1)
    check_int(p["n_neighbors"], "n_neighbors", low=1)
    check_real(p["beta"], "beta", low=0)
    check_real(p["gamma"], "gamma", low=0)
    check_int(p["max_iter"], "max_iter", low=1)
    check_int(p["dca_iter"], "dca_iter", low=1)
    check_real(p["rel_tol"], "rel_tol", low=0)
    check_int(p["min_iter"], "min_iter", low=1)
    check_real(p["qp_tol"], "qp_tol", low=0, low_inclusive=False)
    check_bool(p["final_knn"], "final_knn")
    check_bool(p["parity_mode"], "parity_mode")
    check_bool(p["verbose"], "verbose")
    check_bool(p["keep_intermediate"], "keep_intermediate")
    check_random_state_param(p["random_state"])
    if p["n_init"] is not None:
        check_int(p["n_init"], "n_init", low=1)
    try:
        dtype = np.dtype(p["dtype"])
    except TypeError as exc:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {p['dtype']!r}") from exc
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64, got {dtype}")
    return dtype


def _check_metrics(metric, fusion, n_views):
    """One metric per view, each known, and none that the fusion cannot use."""
    metrics = check_metric_list(metric, n_views)
    for i, met in enumerate(metrics):
        if met == "precomputed_graph" and fusion == "dissimilarity":
            raise ValueError(
                f"view {i}: metric='precomputed_graph' gives affinities, which "
                "fusion='dissimilarity' cannot fuse; use fusion='similarity', or pass "
                "dissimilarities with metric='precomputed'"
            )
    return metrics


def _has_dask_view(views):
    """Whether a view is a Dask array (without importing Dask: it is loaded only if used)."""
    if "dask" not in sys.modules or not isinstance(views, (list, tuple)):
        return False
    return any(type(X).__module__.split(".")[0] == "dask" for X in views)


def _validate_inputs(views, p):
    """Validate views and parameters once; return (views, metrics, dtype)."""
    dtype = _check_pipeline_params(p)
    # float32 end to end: with dtype=float32, float32 views are not copied to float64.
    views = check_views(views, accept_sparse=True,
                        dtype=[np.float32, np.float64] if dtype == np.float32 else np.float64)
    n = views[0].shape[0]
    k = p["n_neighbors"]
    if n <= k:
        raise ValueError(
            f"n_samples = {n} must be greater than n_neighbors = {k}; lower n_neighbors"
        )
    metrics = _check_metrics(p["metric"], p["fusion"], len(views))
    for i, (X, met) in enumerate(zip(views, metrics)):
        if met in _SQUARE_METRICS and X.shape != (n, n):
            raise ValueError(
                f"view {i}: metric={met!r} needs a square (n_samples, n_samples) = "
                f"({n}, {n}) matrix, got shape {X.shape}"
            )
        check_square_view(X, met, f"view {i}")
    if p["n_clusters"] > n:
        raise ValueError(f"n_clusters = {p['n_clusters']} must be <= n_samples = {n}")
    # Up to m = V n k edges; the solver holds 2 (lean) to 3 V x m arrays plus a few of length m.
    n_views = len(views)
    per_edge = (3 if p["keep_intermediate"] else 2) * n_views * dtype.itemsize + 3 * 8
    check_allocation(per_edge * n_views * n * k, "n_neighbors", itemsize=1,
                     what="the edge arrays")
    check_allocation(n * p["n_clusters"], "n_clusters", what="the spectral embedding")
    return views, metrics, dtype


def _view_weights_on_edges(views, metrics, rows, cols, fusion, dtype):
    """The (V, m) weight array W: per-view distances standardised (and Gaussian for SGF).

    Feature views are measured, standardised and turned into weights on every core, with one
    float64 buffer of length m reused across the views (W itself is in ``dtype``).
    """
    m = rows.shape[0]
    W = np.empty((len(views), m), dtype=dtype)
    buf = None
    for i, (X, met) in enumerate(zip(views, metrics)):
        if met in _SQUARE_METRICS:
            x, _ = edge_values(X, rows, cols, met)
        else:
            if buf is None:
                buf = np.empty(m)
            x, _ = edge_values(X, rows, cols, met, parallel=True, out=buf)
        # x is exact up to a power of two, to which W is invariant
        if met == "precomputed_graph":
            if not np.any(x > 0):
                raise ValueError(f"view {i}: all edge weights are zero")
            W[i] = x
            continue
        # raises first if the view is constant
        n_zero = standardized_weights_into(x, W[i], similarity=fusion == "similarity", view=i)
        if n_zero > _ZERO_EDGE_SHARE * m:
            warnings.warn(
                f"view {i}: {n_zero} of {m} edges have distance 0 "
                "(duplicate samples?); the view separates few neighbours",
                UserWarning, stacklevel=4,
            )
    return W


def multiview_graph_clustering(views, n_clusters, *, fusion="similarity", n_neighbors=20,
                               metric="sqeuclidean", view_weights=None, beta=1.0, gamma=100.0,
                               max_iter=100, dca_iter=3, rel_tol=0.05, min_iter=5, qp_tol=1e-8,
                               final_knn=True, knn="auto", eigen_solver="auto",
                               assign_labels="kmeans", n_init=None, parity_mode=False,
                               dtype=np.float64, keep_intermediate=True, random_state=None,
                               verbose=False):
    """Multi-view clustering by graph learning with consistency and inconsistency (SGF / DGF).

    The function behind :class:`MultiViewGraphClusterer` (as scikit-learn's
    ``spectral_clustering`` is behind ``SpectralClustering``): union kNN edge set, per-view
    weights on every edge, the consistent graph fusion solver, top-k sparsification and
    Ng-Jordan-Weiss spectral clustering. Linear in the number of edges.

    Parameters
    ----------
    views : list of array-like or sparse matrix
        One (n_samples, n_features_v) feature matrix per view, or (n_samples, n_samples)
        matrices for the precomputed metrics (any SciPy sparse format). A single view works
        (with a warning): the unified graph is then that view's graph.
    n_clusters : int
        Number of clusters, ``1 <= n_clusters <= n_samples`` (one cluster gives all labels 0).
    fusion, n_neighbors, metric, view_weights, beta, gamma, max_iter, dca_iter, rel_tol, \
min_iter, qp_tol, final_knn, knn, eigen_solver, assign_labels, n_init, parity_mode, dtype, \
random_state, verbose
        As in :class:`MultiViewGraphClusterer` (same names, same defaults).
    keep_intermediate : bool, default=True
        Return the (n_views, n_edges) arrays ``view_graphs``, ``consistent``, ``inconsistent``
        and the ``unified_graph``. The estimator's default is False (lean); this function
        returns everything by default. With False they are None, the solver works in place
        (two (n_views, n_edges) arrays instead of three) and each is freed as soon as the next
        stage no longer needs it; the labels, graph, coefficients and objective are the same.

    Returns
    -------
    result : sklearn.utils.Bunch
        Dictionary-like, with attribute access:

        - ``labels`` : ndarray of shape (n_samples,), labels in ``0 .. n_clusters - 1``;
        - ``graph`` : CSR (n_samples, n_samples), the learned symmetric affinity;
        - ``unified_graph`` : CSR (n_samples, n_samples), the unified graph S on the edges
          (None unless ``keep_intermediate``);
        - ``edges`` : ndarray of shape (n_edges, 2), the common edge set, row-major sorted
          (int32 when n_samples and n_edges are below 2^31);
        - ``view_graphs`` : ndarray (n_views, n_edges), the per-view weights W;
        - ``consistent``, ``inconsistent`` : ndarray (n_views, n_edges), A and E (scaled)
          (these three are None unless ``keep_intermediate``);
        - ``view_scales`` : ndarray (n_views,), the solver's per-view scales;
        - ``view_coef`` : ndarray (n_views,), the learned coefficients alpha (simplex);
        - ``view_weights`` : ndarray (n_views,), the user weights w used;
        - ``objective`` : list of float; ``n_iter``, ``n_qp_calls`` : int; ``converged`` : bool;
        - ``embedding`` : ndarray (n_samples, n_clusters), the row-normalised spectral embedding;
        - ``metrics`` : list of str, the metric of each view;
        - ``n_features_per_view`` : tuple of int;
        - ``stage_seconds`` : dict, wall time of each stage (``"validation"``, ``"knn"``,
          ``"edge_weights"``, ``"fusion"``, ``"sparsify"``, ``"spectral"``, in this order),
          and ``"fusion_setup"``, the part of ``"fusion"`` before its first iteration.

    Raises
    ------
    TypeError
        For a wrong type of ``views`` or of a parameter (named in the message).
    ValueError
        For bad values: views of different lengths, NaN/inf, unknown metric, ``n_samples <=
        n_neighbors``, ``n_clusters > n_samples``, constant views, ...

    See Also
    --------
    MultiViewGraphClusterer : the same as a scikit-learn estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs import multiview_graph_clustering
    >>> rng = np.random.default_rng(0)
    >>> centers = rng.normal(0, 10, size=(3, 5))
    >>> y = np.repeat([0, 1, 2], 40)
    >>> views = [centers[y] + rng.normal(size=(120, 5)) for _ in range(3)]
    >>> result = multiview_graph_clustering(views, 3, n_neighbors=10, random_state=0)
    >>> from normgraph.graphs.metrics import adjusted_rand
    >>> adjusted_rand(y, result.labels), result.view_coef.round(1), result.graph.shape
    (1.0, array([0.3, 0.3, 0.3]), (120, 120))
    """
    p = dict(n_clusters=n_clusters, fusion=fusion, n_neighbors=n_neighbors, metric=metric,
             beta=beta, gamma=gamma, max_iter=max_iter, dca_iter=dca_iter, rel_tol=rel_tol,
             min_iter=min_iter, qp_tol=qp_tol, final_knn=final_knn, knn=knn,
             eigen_solver=eigen_solver, assign_labels=assign_labels, n_init=n_init,
             parity_mode=parity_mode, dtype=dtype, keep_intermediate=keep_intermediate,
             random_state=random_state, verbose=verbose)
    if _has_dask_view(views):
        from ._dask import dask_multiview_graph_clustering

        return dask_multiview_graph_clustering(views, dict(p, view_weights=view_weights),
                                               _check_pipeline_params, _check_metrics)
    clock = time.perf_counter()
    seconds = {}

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

    views, metrics, dtype = _validate_inputs(views, p)
    n_views = len(views)
    n = views[0].shape[0]
    w = _check_view_weights(view_weights, n_views)
    if n_views == 1:
        warnings.warn(
            "a single view was given: there is nothing to fuse, the unified graph is that "
            "view's kNN graph (pass a list of several views for multi-view learning)",
            UserWarning, stacklevel=2,
        )
    rng = check_random_state(random_state)
    k = int(n_neighbors)
    keep = bool(keep_intermediate)
    _cross_penalty(beta, gamma, w)  # refuses penalties that overflow, before any heavy stage
    lap("validation")

    stages = progress(total=4, verbose=verbose, desc="MultiViewGraphClusterer")
    stages.set_postfix(stage="kNN")
    # The raw random_state: the kNN stage draws its own seed from it (None: a fresh one).
    rows, cols = union_edges(views, k, metrics, knn=knn, random_state=random_state,
                             verbose=verbose)
    index_dtype = _index_dtype(n, rows.shape[0])
    rows = rows.astype(index_dtype, copy=False)
    cols = cols.astype(index_dtype, copy=False)
    lap("knn")
    stages.update(1)
    stages.set_postfix(stage="edge weights")
    W = _view_weights_on_edges(views, metrics, rows, cols, fusion, dtype)
    lap("edge_weights")
    stages.update(1)
    stages.set_postfix(stage="fusion")
    # W is built here, finite and nonnegative: the solver runs without re-validating it. Lean:
    # W is scaled in place and A updated in place (S, alpha and J are the same).
    S, alpha, A, E, info = _solve(
        W, beta=float(beta), gamma=float(gamma), w=w,
        max_iter=int(max_iter), dca_iter=int(dca_iter), rel_tol=float(rel_tol),
        min_iter=int(min_iter), qp_tol=float(qp_tol), parity_mode=bool(parity_mode),
        verbose=verbose, lean=not keep,
    )
    if not keep:
        del W
        W = None
    if fusion == "dissimilarity":
        # S is a fused distance: Gaussian similarity with sigma^2 = mean(S) (spec 4.7).
        scale = float(np.mean(S, dtype=np.float64))
        if not scale > 0:
            raise ValueError("the fused dissimilarity is zero on every edge")
        np.divide(S, -2.0 * scale, out=S)
        np.exp(S, out=S)
    seconds["fusion_setup"] = info["setup_seconds"]
    lap("fusion")
    stages.update(1)
    stages.set_postfix(stage="spectral")
    unified = _edges_to_csr(S, rows, cols, n)
    del S
    if final_knn:
        graph = knn_sparsify(unified, k)
    else:
        graph = sp.csr_matrix((unified + unified.T) * 0.5)
    if not keep:
        unified = None
    lap("sparsify")
    labels, embedding = spectral_clustering_njw(
        graph, n_clusters, eigen_solver=eigen_solver, assign_labels=assign_labels,
        n_init=n_init, random_state=rng, verbose=verbose,
    )
    lap("spectral")
    stages.update(1)
    stages.close()
    edges = np.empty((rows.shape[0], 2), dtype=index_dtype)
    edges[:, 0] = rows
    edges[:, 1] = cols
    return Bunch(
        labels=labels, graph=graph, unified_graph=unified, edges=edges,
        view_graphs=W, consistent=A, inconsistent=E,
        view_scales=np.asarray(info["view_scales"]), view_coef=alpha, view_weights=w,
        objective=list(info["objective"]), n_iter=int(info["n_iter"]),
        n_qp_calls=int(info["n_qp_calls"]), converged=bool(info["converged"]),
        embedding=embedding, metrics=metrics,
        n_features_per_view=tuple(int(X.shape[1]) for X in views),
        stage_seconds=seconds,
    )


class MultiViewGraphClusterer(ClusterMixin, BaseEstimator):
    """Multi-view clustering by graph learning with consistency and inconsistency.

    Every view gives a kNN graph; the graphs are measured on one common edge set (the union of
    the views' kNN lists); each view's graph is split into a consistent part, which the views
    share through a unified graph S, and an inconsistent part, penalised for its size and for
    overlapping the inconsistent parts of other views; learned view coefficients weight the
    views. The unified graph is sparsified to its k strongest edges per node, symmetrised and
    clustered by Ng-Jordan-Weiss spectral clustering (Liang, Huang, Wang & Yu, "Multi-view
    Graph Learning by Joint Modeling of Consistency and Inconsistency", IEEE TNNLS 2022).

    Everything is linear in the number of edges m (at most ``V * n_neighbors * n``): no n x n
    dense array is formed (unless the views themselves are dense (n, n) matrices).

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters, ``1 <= n_clusters <= n_samples`` (one cluster: all labels 0).
    fusion : {"similarity", "dissimilarity"}, default="similarity"
        ``"similarity"`` (SGF) fuses Gaussian similarities of the standardised distances;
        ``"dissimilarity"`` (DGF) fuses the standardised distances themselves and turns the
        fused distance S into a similarity ``exp(-S / (2 mean(S)))``.
    n_neighbors : int, default=20
        k of every kNN step (per-view graphs and the final sparsification), ``1 <= k < n``.
    metric : str or list of str, default="sqeuclidean"
        Per-view distance (one string for all views, or one per view):
        ``"sqeuclidean"``; ``"cosine"`` (the squared cosine distance ``(1 - cos)^2`` of the
        original, for text; sparse views stay sparse); ``"precomputed"``: the view is an
        (n, n) nonnegative dissimilarity matrix (dense or sparse; a sparse one offers only its
        stored pairs as neighbours, an unstored pair on another view's edge gets the view's
        largest stored dissimilarity); ``"precomputed_graph"``: the view is an (n, n)
        nonnegative affinity matrix (dense or sparse); its k largest off-diagonal entries per
        row give its edges and its weights are used as they are (no standardisation; an
        unstored pair has weight 0). ``"precomputed_graph"`` needs ``fusion="similarity"``:
        there is no distance to fuse.
    view_weights : array-like of shape (n_views,), default=None
        Positive user weights w of the views (ones by default).
    beta : float, default=1.0
        Penalty on the size of each view's inconsistent part (>= 0).
    gamma : float, default=100.0
        Penalty on overlapping inconsistent parts of different views (>= 0).
    max_iter : int, default=100
        Maximum number of solver iterations.
    dca_iter : int, default=3
        Projected-gradient (DCA) sweeps per A-step.
    rel_tol : float, default=0.05
        Stop when the last objective decrease is below ``rel_tol`` times the total decrease.
    min_iter : int, default=5
        Earliest iteration at which the relative rule may stop.
    qp_tol : float, default=1e-8
        Tolerance of the view-coefficient QP (many views only).
    final_knn : bool, default=True
        Keep the ``n_neighbors`` largest entries per row of the unified graph before
        symmetrising (as the original); ``False`` only symmetrises ``(S + S^T) / 2``.
    knn : {"auto", "exact", "approximate", "pynndescent"}, default="auto"
        Neighbour search for feature views: exact (scikit-learn); approximate (random-projection
        trees + NN-descent on every core, the same lists for any thread count; sparse views use
        pynndescent); pynndescent's NN-descent; or, with ``"auto"``, approximate above 50,000
        samples.
    eigen_solver : {"auto", "arpack", "lobpcg", "dense"}, default="auto"
        Eigensolver of the spectral step (``"auto"``: ARPACK, or LOBPCG with an algebraic
        multigrid preconditioner for large graphs).
    assign_labels : {"kmeans", "discretize"}, default="kmeans"
        How labels are read off the spectral embedding.
    n_init : int or None, default=None
        k-means restarts; None uses the original rule (30 / 20 / 5 / 3 by n).
    parity_mode : bool, default=False
        Return the solver's S exactly as the original code does (computed before the last
        A- and alpha-steps). The default recomputes S from the final A and alpha.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Precision of the V x m solver arrays; float32 halves the memory of large graphs.
        With float32, float32 views are used as they are (no float64 copy); distances,
        sums and the solver's arithmetic stay in float64.
    keep_intermediate : bool, default=False
        Keep the large intermediate results as attributes: ``view_graphs_``,
        ``consistent_``, ``inconsistent_`` (three (n_views, n_edges) arrays) and
        ``unified_graph_``. By default they are not kept, and the fit itself runs lean: the
        solver works in place on two (n_views, n_edges) arrays instead of three, and each
        array is freed as soon as the next stage no longer needs it. The labels, graph,
        coefficients and objective do not depend on this option.
    random_state : int, RandomState instance or None, default=None
        Seeds approximate neighbours, the eigensolver and k-means: the same seed gives the
        same labels and coefficients whatever the number of threads (``knn="pynndescent"``
        excepted, which runs single-threaded when seeded).
    verbose : bool, default=False
        Show progress over the pipeline stages and the solver's iterations.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster labels in ``0 .. n_clusters - 1``.
    graph_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The learned affinity after the final kNN step: symmetric, nonnegative, zero diagonal.
    unified_graph_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The unified graph S on the edge set, before sparsification (not symmetric; a
        similarity for both fusions; its stored entries follow ``edges_``). Only with
        ``keep_intermediate=True``.
    edges_ : ndarray of shape (n_edges, 2)
        The common edge set (p, q), row-major sorted; int32 while n_samples and n_edges are
        below 2^31, else int64.
    view_graphs_ : ndarray of shape (n_views, n_edges)
        The per-view weights W fed to the solver (after standardisation, before scaling).
        Only with ``keep_intermediate=True``.
    consistent_ : ndarray of shape (n_views, n_edges)
        Consistent parts A (in the solver's scaled units). Only with
        ``keep_intermediate=True``.
    inconsistent_ : ndarray of shape (n_views, n_edges)
        Inconsistent parts E = scaled W - A. Only with ``keep_intermediate=True``.
    view_scales_ : ndarray of shape (n_views,)
        Per-view scales ``1 / sum(W_i)`` applied by the solver.
    view_coef_ : ndarray of shape (n_views,)
        Learned view coefficients alpha (nonnegative, summing to 1).
    view_weights_ : ndarray of shape (n_views,)
        The user view weights w actually used.
    objective_ : list of float
        Objective after each iteration (the initial value first).
    n_iter_ : int
        Solver iterations run.
    n_qp_calls_ : int
        Iterations whose view-coefficient step needed the constrained QP.
    converged_ : bool
        Whether the solver stopped by its rule before ``max_iter``.
    embedding_ : ndarray of shape (n_samples, n_clusters)
        Row-normalised spectral embedding that was clustered.
    n_views_ : int
        Number of views.
    n_features_per_view_ : tuple of int
        Number of columns of each view.
    n_features_in_ : int
        Number of features, defined only when a single feature view is given (the usual
        scikit-learn meaning has no single value for several views).
    stage_seconds_ : dict
        Wall time in seconds of each stage of the fit: ``"validation"``, ``"knn"``,
        ``"edge_weights"``, ``"fusion"`` (of which ``"fusion_setup"`` before the solver's first
        iteration), ``"sparsify"``, ``"spectral"`` (in-memory fits only).

    See Also
    --------
    normgraph.graphs.knn_union_edges : the common edge set.
    normgraph.graphs.consistent_graph_fusion : the fusion solver alone.
    normgraph.graphs.spectral_clustering_njw : the final clustering step.

    Notes
    -----
    Pipeline (spec of the authors' code): union kNN edge set; per-view distances on every
    edge; per-view standardisation ``max((x - mean) / std + 1, 0)``; SGF: Gaussian
    ``exp(-x / (2 sigma^2))`` with ``sigma = mean(sqrt(x))``; the solver; DGF: fused distance to
    similarity; top-k per row and ``(G + G^T) / 2``; spectral clustering. The model is
    transductive: there is no ``predict``, use :meth:`fit_predict`.

    Past one machine: when the views are Dask arrays (chunked by rows; dense chunks or SciPy
    CSR chunks, ``pip install 'normgraph[dask]'``) and a ``dask.distributed`` Client is
    running, :meth:`fit` runs every stage on the cluster's workers (sharded kNN, per-block
    edge weights, the solver as a map-reduce per iteration with the same Numba kernel, top-k
    and symmetrisation by a shuffle by row, ARPACK on a distributed product) and gives the
    in-memory results up to round-off. ``edges_``, ``view_graphs_``, ``consistent_``,
    ``inconsistent_``, ``unified_graph_`` and ``graph_`` are then Dask arrays, kept whatever
    ``keep_intermediate`` (they are lazy collections on the workers) (the graphs with
    CSR row blocks); ``labels_``, ``embedding_``, ``view_coef_``, ``objective_`` and
    ``n_iter_`` are NumPy. Supported there: metrics ``"sqeuclidean"`` and ``"cosine"`` (no
    all-zero rows), ``eigen_solver`` ``"auto"`` / ``"arpack"`` (both ARPACK).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs import MultiViewGraphClusterer
    >>> rng = np.random.default_rng(0)
    >>> centers = rng.normal(0, 10, size=(3, 5))
    >>> y = np.repeat([0, 1, 2], 40)
    >>> views = [centers[y] + rng.normal(size=(120, 5)) for _ in range(3)]
    >>> model = MultiViewGraphClusterer(n_clusters=3, n_neighbors=10, random_state=0)
    >>> labels = model.fit_predict(views)
    >>> from normgraph.graphs.metrics import adjusted_rand
    >>> adjusted_rand(y, labels), model.view_coef_.round(1)  # three equally good views
    (1.0, array([0.3, 0.3, 0.3]))
    """

    def __init__(self, n_clusters=8, *, fusion="similarity", n_neighbors=20,
                 metric="sqeuclidean", view_weights=None, beta=1.0, gamma=100.0, max_iter=100,
                 dca_iter=3, rel_tol=0.05, min_iter=5, qp_tol=1e-8, final_knn=True, knn="auto",
                 eigen_solver="auto", assign_labels="kmeans", n_init=None, parity_mode=False,
                 dtype=np.float64, keep_intermediate=False, random_state=None, verbose=False):
        self.n_clusters = n_clusters
        self.fusion = fusion
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.view_weights = view_weights
        self.beta = beta
        self.gamma = gamma
        self.max_iter = max_iter
        self.dca_iter = dca_iter
        self.rel_tol = rel_tol
        self.min_iter = min_iter
        self.qp_tol = qp_tol
        self.final_knn = final_knn
        self.knn = knn
        self.eigen_solver = eigen_solver
        self.assign_labels = assign_labels
        self.n_init = n_init
        self.parity_mode = parity_mode
        self.dtype = dtype
        self.keep_intermediate = keep_intermediate
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------------------------------
    # fitting
    # ----------------------------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, views, y=None):
        """Learn the unified graph of the views and cluster it.

        Calls :func:`multiview_graph_clustering` with the estimator's parameters and stores
        its results as fitted attributes.

        Parameters
        ----------
        views : list of array-like or sparse matrix
            One (n_samples, n_features_v) feature matrix per view, or (n_samples, n_samples)
            matrices for the precomputed metrics. A single view works (with a warning): the
            unified graph is then that view's graph. Dask arrays run the distributed path
            (see Notes of the class).
        y : None
            Ignored.

        Returns
        -------
        self : MultiViewGraphClusterer
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from normgraph.graphs import MultiViewGraphClusterer
        >>> rng = np.random.default_rng(1)
        >>> views = [np.repeat([[0.0], [9.0]], 20, axis=0) + rng.normal(size=(40, 1))
        ...          for _ in range(2)]
        >>> model = MultiViewGraphClusterer(2, n_neighbors=5, random_state=0).fit(views)
        >>> model.graph_.shape, int(model.labels_.max())
        ((40, 40), 1)
        """
        r = multiview_graph_clustering(views, **self.get_params(deep=False))
        self.labels_ = r.labels
        self.graph_ = r.graph
        self.edges_ = r.edges
        for name in ("unified_graph", "view_graphs", "consistent", "inconsistent"):
            if r[name] is not None:
                setattr(self, name + "_", r[name])
            elif hasattr(self, name + "_"):  # from an earlier fit that kept them
                delattr(self, name + "_")
        if "stage_seconds" in r:
            self.stage_seconds_ = dict(r.stage_seconds)
        elif hasattr(self, "stage_seconds_"):
            del self.stage_seconds_
        self.view_scales_ = r.view_scales
        self.view_coef_ = r.view_coef
        self.view_weights_ = r.view_weights
        self.objective_ = r.objective
        self.n_iter_ = r.n_iter
        self.n_qp_calls_ = r.n_qp_calls
        self.converged_ = r.converged
        self.embedding_ = r.embedding
        self.n_views_ = len(r.metrics)
        self.n_features_per_view_ = r.n_features_per_view
        if self.n_views_ == 1 and r.metrics[0] not in _SQUARE_METRICS:
            self.n_features_in_ = int(r.n_features_per_view[0])
        elif hasattr(self, "n_features_in_"):
            del self.n_features_in_
        return self

    def fit_predict(self, views, y=None):
        """Fit and return the cluster labels (the model is transductive: no ``predict``).

        Parameters
        ----------
        views : list of array-like or sparse matrix
            As in :meth:`fit`.
        y : None
            Ignored.

        Returns
        -------
        labels : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from normgraph.graphs import MultiViewGraphClusterer
        >>> rng = np.random.default_rng(2)
        >>> views = [np.repeat([[0.0], [9.0]], 20, axis=0) + rng.normal(size=(40, 1))
        ...          for _ in range(2)]
        >>> labels = MultiViewGraphClusterer(2, n_neighbors=5, random_state=0).fit_predict(views)
        >>> len(set(labels[:20])), len(set(labels[20:])), bool(labels[0] != labels[-1])
        (1, 1, True)
        """
        return self.fit(views, y).labels_
