"""Plot helpers for multi-view graph learning: view coefficients, objective trace, the fused graph.

A "model" is anything with the fitted attributes ``view_coef_`` and ``objective_`` (and,
optionally, ``view_names_``), such as a fitted ``MultiViewGraphClusterer``; every helper also
accepts the raw arrays. matplotlib (and networkx for small graph layouts) are imported only
when a plot is drawn.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from normgraph._utils.plotting import get_axes

__all__ = ["plot_view_coefficients", "plot_objective", "plot_graph"]


def _fitted_attribute(obj, name, what):
    """``obj.name`` for a model-like object, else ``obj`` itself as a 1-D float array."""
    values = getattr(obj, name, obj)
    if values is None:
        raise ValueError(f"no {what} to plot: {name} is None (is the model fitted?)")
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D sequence, got shape {arr.shape}")
    return arr


def plot_view_coefficients(model_or_alpha, view_names=None, ax=None):
    """Bar chart of the learned view coefficients (one bar per view).

    Parameters
    ----------
    model_or_alpha : object with ``view_coef_``, or array-like of shape (n_views,)
        A fitted model, or the coefficients themselves.
    view_names : sequence of str, optional
        Bar labels; defaults to the model's ``view_names_`` if it has them, else
        ``"view 0"``, ``"view 1"``, ...
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from normgraph.graphs._plotting import plot_view_coefficients
    >>> ax = plot_view_coefficients([0.5, 0.3, 0.2], view_names=["color", "shape", "text"])
    >>> len(ax.patches)
    3
    """
    alpha = _fitted_attribute(model_or_alpha, "view_coef_", "view coefficients")
    if view_names is None:
        view_names = getattr(model_or_alpha, "view_names_", None)
    if view_names is None:
        view_names = [f"view {i}" for i in range(alpha.size)]
    view_names = [str(name) for name in view_names]
    if len(view_names) != alpha.size:
        raise ValueError(
            f"view_names has {len(view_names)} entries but there are {alpha.size} coefficients"
        )
    _, ax = get_axes(ax)
    positions = np.arange(alpha.size)
    ax.bar(positions, alpha, color="C0")
    ax.axhline(1.0 / alpha.size, color="0.5", linestyle="--", linewidth=1, label="uniform 1/V")
    ax.set_xticks(positions)
    ax.set_xticklabels(view_names, rotation=30 if alpha.size > 4 else 0)
    ax.set_ylabel("view coefficient")
    ax.set_title("Learned view coefficients")
    ax.legend(loc="best")
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
    >>> from normgraph.graphs._plotting import plot_objective
    >>> ax = plot_objective([3.0, 2.0, 1.5, 1.4])
    >>> ax.lines[0].get_xdata().tolist()
    [0, 1, 2, 3]
    """
    objective = _fitted_attribute(model_or_objective, "objective_", "objective trace")
    _, ax = get_axes(ax)
    ax.plot(np.arange(objective.size), objective, marker="o", color="C0")
    if np.all(objective > 0):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("objective")
    ax.set_title("Objective trace")
    return ax


def _label_order(labels, n):
    if labels is None:
        return np.arange(n), None
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    _, codes = np.unique(labels, return_inverse=True)
    return np.argsort(codes, kind="stable"), codes


def plot_graph(G, labels=None, ax=None, max_nodes=2000, random_state=0):
    """Draw an affinity graph: a node-link layout when small, its sparsity pattern when large.

    Up to ``max_nodes`` nodes the graph is drawn with networkx's spring layout (nodes coloured
    by label, one line collection for the edges). Above, the sparsity pattern of the adjacency
    matrix is shown with nodes ordered by label, so a good clustering shows as diagonal blocks;
    this view costs O(nnz) and draws one marker per stored entry.

    Parameters
    ----------
    G : sparse matrix or array-like of shape (n, n)
        Nonnegative affinity matrix (for example ``model.graph_``).
    labels : array-like of shape (n,), optional
        Node labels used for colours (small graphs) or ordering (large graphs).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.
    max_nodes : int, default=2000
        Largest graph drawn as a node-link diagram.
    random_state : int, default=0
        Seed of the spring layout.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from normgraph.graphs._plotting import plot_graph
    >>> G = np.kron(np.eye(2), np.ones((3, 3))) - np.eye(6)
    >>> ax = plot_graph(G, labels=[0, 0, 0, 1, 1, 1])
    >>> ax.collections[-1].get_offsets().shape   # one point per node
    (6, 2)
    >>> ax = plot_graph(G, labels=[0, 0, 0, 1, 1, 1], max_nodes=3)   # sparsity pattern
    >>> ax.lines[0].get_xdata().size                                 # one marker per edge
    12
    """
    G = sp.csr_matrix(G, copy=True)
    if G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"G must be a square (n, n) matrix, got shape {G.shape}")
    G.eliminate_zeros()
    n = G.shape[0]
    order, codes = _label_order(labels, n)
    _, ax = get_axes(ax)
    if n <= max_nodes:
        import networkx as nx
        from matplotlib.collections import LineCollection

        coo = sp.triu(G, k=1).tocoo()
        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        graph.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
        pos = nx.spring_layout(graph, seed=random_state)
        xy = np.array([pos[i] for i in range(n)])
        segments = np.stack([xy[coo.row], xy[coo.col]], axis=1)
        ax.add_collection(LineCollection(segments, colors="0.7", linewidths=0.5, zorder=1))
        if codes is None:
            ax.scatter(xy[:, 0], xy[:, 1], color="C0", s=12, zorder=2)
        else:
            ax.scatter(xy[:, 0], xy[:, 1], c=codes, cmap="tab10", s=12, zorder=2)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(f"Graph: {n} nodes, {coo.nnz} edges")
    else:
        ordered = G[order][:, order]
        ax.spy(ordered, markersize=0.5, color="C0")
        ax.set_title(f"Adjacency pattern ({n} nodes, ordered by label)")
    return ax
