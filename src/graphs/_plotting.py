"""Plot helpers for multi-view graph learning: view coefficients, objective trace, the fused graph.

A "model" is anything with the fitted attributes ``view_coef_`` and ``objective_`` (and,
optionally, ``view_names_``), such as a fitted ``MultiViewGraphClusterer``; every helper also
accepts the raw arrays. matplotlib is imported only when a plot is drawn.

The fused graph is shown as its adjacency matrix with the nodes ordered by cluster, binned to at
most ``max_pixels`` x ``max_pixels`` pixels (the cost is O(nnz + max_pixels^2) at any n; the
graph is never densified), or, for small graphs, as a 2-D layout read off its spectral
embedding.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from normgraph._utils.numeric import max_abs, power_of_two_scale
from normgraph._utils.plotting import get_axes
from normgraph._utils.validation import check_array_param, check_choice, check_int

__all__ = ["plot_view_coefficients", "plot_objective", "plot_graph"]

_GRAPH_KINDS = ("adjacency", "embedding")


def _fitted_attribute(obj, name, what, param):
    """``obj.name`` for a model-like object, else ``obj`` itself as a 1-D float array."""
    values = getattr(obj, name, obj)
    if values is None:
        raise ValueError(f"no {what} to plot: {name} is None (is the model fitted?)")
    if isinstance(values, (str, bytes, dict)):
        raise TypeError(f"{param} must be a fitted model or a 1-D sequence of numbers, got "
                        f"{type(values).__name__}")
    try:
        return check_array_param(values, param, ndim=1)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _coefficient_sets(model_or_alpha):
    """``{legend label: coefficients}``; one unlabelled set unless a dict of models is given."""
    if isinstance(model_or_alpha, dict):
        if not model_or_alpha:
            raise ValueError("model_or_alpha is an empty dict; pass at least one model")
        sets = {str(k): _fitted_attribute(v, "view_coef_", "view coefficients",
                                          "model_or_alpha")
                for k, v in model_or_alpha.items()}
        sizes = {a.size for a in sets.values()}
        if len(sizes) != 1:
            raise ValueError(f"the models of model_or_alpha have different numbers of views: "
                             f"{sorted(sizes)}")
        return sets
    return {None: _fitted_attribute(model_or_alpha, "view_coef_", "view coefficients",
                                    "model_or_alpha")}


def _view_names(model_or_alpha, view_names, n_views):
    if view_names is None:
        models = (model_or_alpha.values() if isinstance(model_or_alpha, dict)
                  else [model_or_alpha])
        view_names = next((getattr(m, "view_names_") for m in models
                           if getattr(m, "view_names_", None) is not None), None)
    if view_names is None:
        return [f"view {i}" for i in range(n_views)]
    if isinstance(view_names, str):
        raise TypeError("view_names must be a sequence of names, got a single string")
    view_names = [str(name) for name in view_names]
    if len(view_names) != n_views:
        raise ValueError(
            f"view_names has {len(view_names)} entries but there are {n_views} coefficients"
        )
    return view_names


def plot_view_coefficients(model_or_alpha, view_names=None, ax=None):
    """Horizontal bar chart of the learned view coefficients, one labelled row per view.

    Parameters
    ----------
    model_or_alpha : object with ``view_coef_``, array-like of shape (n_views,), or dict
        A fitted model, or the coefficients themselves. A dict ``{label: model or
        coefficients}`` (for example ``{"SGF": sgf, "DGF": dgf}``) draws grouped bars, one
        colour per entry, with a legend.
    view_names : sequence of str, optional
        Row labels, in view order (for example a data set's ``view_names``); defaults to the
        model's ``view_names_`` if it has them, else ``"view 0"``, ``"view 1"``, ...
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The first view is the top row; each bar carries its value; a dashed line marks the
        uniform weight 1/V.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from normgraph.graphs import plot_view_coefficients
    >>> ax = plot_view_coefficients([0.5, 0.3, 0.2], view_names=["color", "shape", "text"])
    >>> len(ax.patches), [t.get_text() for t in ax.get_yticklabels()]
    (3, ['color', 'shape', 'text'])
    >>> ax = plot_view_coefficients({"SGF": [0.5, 0.5], "DGF": [0.9, 0.1]},
    ...                             view_names=["a", "b"])
    >>> len(ax.patches), [t.get_text() for t in ax.get_legend().get_texts()]
    (4, ['uniform 1/V', 'SGF', 'DGF'])
    """
    sets = _coefficient_sets(model_or_alpha)
    n_views = next(iter(sets.values())).size
    names = _view_names(model_or_alpha, view_names, n_views)
    fig, ax = get_axes(ax, figsize=(6.0, 1.2 + 0.45 * n_views * max(1, len(sets) / 1.5)))
    positions = np.arange(n_views)
    height = 0.8 / len(sets)
    for j, (label, alpha) in enumerate(sets.items()):
        y = positions + (j - (len(sets) - 1) / 2) * height
        bars = ax.barh(y, alpha, height=height, color=f"C{j}", label=label)
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=8)
    ax.axvline(1.0 / n_views, color="0.5", linestyle="--", linewidth=1, label="uniform 1/V")
    ax.set_yticks(positions)
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    top = max(float(a.max()) for a in sets.values())
    ax.set_xlim(0.0, max(top, 1.0 / n_views) * 1.45)
    ax.set_xlabel("view coefficient")
    ax.set_title("Learned view coefficients", loc="left")
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_objective(model_or_objective, ax=None):
    """Objective value against iteration, on a log scale when all values are positive.

    Parameters
    ----------
    model_or_objective : object with ``objective_``, or array-like of shape (n_iter,)
        A fitted model, or the objective trace itself (entry 0 is the initial value).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from normgraph.graphs import plot_objective
    >>> ax = plot_objective([3.0, 2.0, 1.5, 1.4])
    >>> ax.lines[0].get_xdata().tolist()
    [0, 1, 2, 3]
    """
    objective = _fitted_attribute(model_or_objective, "objective_", "objective trace",
                                  "model_or_objective")
    _, ax = get_axes(ax)
    ax.plot(np.arange(objective.size), objective, marker="o", color="C0")
    if np.all(objective > 0):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("objective")
    ax.set_title("Objective trace")
    return ax


def _check_graph(G):
    """Validated CSR graph divided by a power of two near its largest weight, and that power.

    The division is exact; the spectral embedding is scale invariant and the adjacency image is
    multiplied back (a mean never exceeds the largest weight), so weights near 1e+-300 neither
    overflow nor underflow when summed.
    """
    G = check_array_param(G, "G", ndim=2, accept_sparse=True, ensure_nonnegative=True)
    if G.shape[0] != G.shape[1]:
        raise ValueError(f"G must be a square (n, n) matrix, got shape {G.shape}")
    G = sp.csr_matrix(G, copy=True)
    G.eliminate_zeros()
    scale = power_of_two_scale(max_abs(G.data))
    G.data /= scale
    return G, scale


def _label_order(labels, n):
    """Node order grouping equal labels (stable), the label codes and the sorted label values."""
    if labels is None:
        return np.arange(n), None, None
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    values, codes = np.unique(labels, return_inverse=True)
    return np.argsort(codes, kind="stable"), codes, values


def binned_adjacency(G, order, n_bins):
    """Mean edge weight per (row bin, column bin) of ``G`` with its nodes in ``order``.

    Position ``t`` of the ordering falls in bin ``t * n_bins // n``; the image entry is the
    sum of the weights between two bins divided by the number of node pairs they hold, so an
    image of a graph with ``n <= n_bins`` is its reordered dense adjacency. Cost
    O(nnz + n_bins^2); ``G`` is never densified.

    Parameters
    ----------
    G : scipy.sparse.csr_matrix of shape (n, n)
    order : ndarray of shape (n,)
        A permutation: ``order[t]`` is the node drawn at position ``t``.
    n_bins : int
        Number of bins per axis, ``1 <= n_bins <= n``.

    Returns
    -------
    image : ndarray of shape (n_bins, n_bins)

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from normgraph.graphs._plotting import binned_adjacency
    >>> G = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 2], [0, 0, 2, 0.]]))
    >>> binned_adjacency(G, np.arange(4), 2)
    array([[0.5, 0. ],
           [0. , 1. ]])
    """
    n = G.shape[0]
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    bin_of_position = np.arange(n, dtype=np.int64) * n_bins // n
    node_bin = bin_of_position[position]
    coo = G.tocoo()
    flat = node_bin[coo.row] * n_bins + node_bin[coo.col]
    image = np.bincount(flat, weights=coo.data, minlength=n_bins * n_bins)
    image = image.reshape(n_bins, n_bins)
    counts = np.bincount(bin_of_position, minlength=n_bins).astype(np.float64)
    return image / np.outer(counts, counts)


def _draw_adjacency(ax, G, scale, order, codes, values, max_pixels):
    from matplotlib.colors import PowerNorm

    n = G.shape[0]
    n_bins = min(n, max_pixels)
    image = binned_adjacency(G, order, n_bins) * scale
    positive = image[image > 0]
    vmax = float(np.quantile(positive, 0.99)) if positive.size else 1.0
    im = ax.imshow(image, cmap="Greys", norm=PowerNorm(0.5, vmin=0.0, vmax=vmax),
                   extent=(0, n, n, 0), interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="mean edge weight per pixel")
    if codes is not None:
        sizes = np.bincount(codes)
        bounds = np.cumsum(sizes)
        for b in bounds[:-1]:
            ax.axhline(b, color="C3", linewidth=0.6, alpha=0.7)
            ax.axvline(b, color="C3", linewidth=0.6, alpha=0.7)
        centers = bounds - sizes / 2.0
        ax.set_xticks(centers)
        ax.set_yticks(centers)
        ax.set_xticklabels([str(v) for v in values], fontsize=8)
        ax.set_yticklabels([str(v) for v in values], fontsize=8)
        ax.set_xlabel("nodes, grouped by label")
    else:
        ax.set_xlabel("node")
    binned = f", {n_bins}x{n_bins} bins" if n_bins < n else ""
    ax.set_title(f"Adjacency: {n} nodes, {G.nnz} stored entries{binned}", fontsize=10)


def _spectral_layout(G, n_components, random_state):
    from ._spectral import spectral_embedding_njw

    _, U = spectral_embedding_njw(G, n_components, random_state=random_state)
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    U = np.divide(U, norms, out=np.zeros_like(U), where=norms > 0)
    U = U - U.mean(axis=0)
    _, _, Vt = np.linalg.svd(U, full_matrices=False)
    return U @ Vt[:2].T


def _draw_embedding(ax, G, codes, values, random_state):
    from matplotlib.collections import LineCollection

    n = G.shape[0]
    n_labels = 2 if values is None else values.size
    xy = _spectral_layout(G, min(n, max(n_labels, 3)), random_state)
    coo = sp.triu(G, k=1).tocoo()
    segments = np.stack([xy[coo.row], xy[coo.col]], axis=1)
    ax.add_collection(LineCollection(segments, colors="0.6", linewidths=0.3, alpha=0.15,
                                     zorder=1))
    if codes is None:
        ax.scatter(xy[:, 0], xy[:, 1], color="C0", s=10, zorder=2)
    else:
        cmap = "tab10" if values.size <= 10 else "tab20"
        points = ax.scatter(xy[:, 0], xy[:, 1], c=codes, cmap=cmap, s=10, zorder=2,
                            vmin=-0.5, vmax=values.size - 0.5)
        handles, _ = points.legend_elements()
        ax.legend(handles, [str(v) for v in values], title="label", fontsize=7,
                  loc="best", markerscale=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"Spectral layout: {n} nodes, {coo.nnz} edges", fontsize=10)


def plot_graph(G, labels=None, ax=None, max_nodes=2000, random_state=0, *, kind="adjacency",
               max_pixels=1000):
    """Draw an affinity graph: its adjacency ordered by label, or a spectral 2-D layout.

    ``kind="adjacency"`` (any n) shows the adjacency matrix with the nodes grouped by label,
    so a good clustering shows as dark diagonal blocks; cluster boundaries are drawn and the
    ticks name the labels. Above ``max_pixels`` nodes the matrix is binned to
    ``max_pixels`` x ``max_pixels`` pixels, each the mean edge weight between two bins of
    nodes: O(nnz) work and memory, the graph is never densified.
    ``kind="embedding"`` (small graphs) places each node at the first two principal axes of
    its row-normalised spectral embedding (:func:`~normgraph.graphs.spectral_embedding_njw`
    with one component per label), coloured by label, over faint edges.

    Parameters
    ----------
    G : sparse matrix or array-like of shape (n, n)
        Nonnegative affinity matrix (for example ``model.graph_``); any SciPy sparse format.
    labels : array-like of shape (n,), optional
        Node labels (cluster labels or ground truth) used for ordering and colours.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.
    max_nodes : int, default=2000
        Largest graph drawn with ``kind="embedding"`` (larger ones raise ``ValueError``).
    random_state : int, default=0
        Seed of the eigensolver of the spectral layout.
    kind : {"adjacency", "embedding"}, default="adjacency"
        What to draw.
    max_pixels : int, default=1000
        Largest side of the adjacency image, in pixels.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from normgraph.graphs import plot_graph
    >>> G = np.kron(np.eye(2), np.ones((3, 3))) - np.eye(6)
    >>> ax = plot_graph(G, labels=[0, 0, 0, 1, 1, 1])
    >>> ax.images[0].get_array().shape, [t.get_text() for t in ax.get_xticklabels()]
    ((6, 6), ['0', '1'])
    >>> ax = plot_graph(G, labels=[0, 0, 0, 1, 1, 1], max_pixels=2)   # binned: 3 x 3 nodes
    >>> np.asarray(ax.images[0].get_array()).round(3)
    array([[0.667, 0.   ],
           [0.   , 0.667]])
    >>> ax = plot_graph(G, labels=[0, 0, 0, 1, 1, 1], kind="embedding")
    >>> ax.collections[-1].get_offsets().shape   # one point per node
    (6, 2)
    """
    kind = check_choice(kind, "kind", _GRAPH_KINDS)
    max_nodes = check_int(max_nodes, "max_nodes", low=1)
    max_pixels = check_int(max_pixels, "max_pixels", low=1)
    G, scale = _check_graph(G)
    n = G.shape[0]
    order, codes, values = _label_order(labels, n)
    if kind == "embedding" and n > max_nodes:
        raise ValueError(
            f"kind='embedding' draws at most max_nodes={max_nodes} nodes, the graph has {n}; "
            "use kind='adjacency' (any size) or raise max_nodes"
        )
    if ax is None:
        _, ax = get_axes(figsize=(6.0, 5.0) if kind == "adjacency" else (5.5, 5.0))
    if kind == "adjacency":
        _draw_adjacency(ax, G, scale, order, codes, values, max_pixels)
    else:
        _draw_embedding(ax, G, codes, values, random_state)
    return ax
