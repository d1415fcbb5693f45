"""The ``normgraph demo``: multi-view fusion vs naive combinations when some views are bad.

The embedded digits views (:func:`normgraph.datasets.load_digits_multiview`) are joined by two
degraded views of the kind met in practice, fixed once from first principles (not tuned):

* ``noisy_pixels``: a second, noisy camera, the pixels plus Gaussian noise whose standard
  deviation equals that of the pixel values (signal-to-noise ratio 0 dB);
* ``misjoined_gradients``: the gradient histograms with half of the rows (chosen at random)
  given another sample's features, as after a broken join of two tables.

Every view alone, the concatenated features (each view centred and scaled to unit total
variance), the plain average of the single-view graphs, SGF and DGF on all views, and SGF on
the clean views only are clustered and scored; the learned view coefficients show which views
the fusion trusts.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.utils import Bunch

__all__ = ["degrade_views", "scramble_rows", "add_noise", "run_demo", "format_demo",
           "plot_demo", "check_plot_path"]

# The degradation, fixed up front (see the module docstring); never tuned to the results.
SEED = 0
NOISE_SNR_DB = 0.0
SCRAMBLED_FRACTION = 0.5
N_NEIGHBORS = 20


def add_noise(X, snr_db, rng):
    """``X`` plus i.i.d. Gaussian noise at a signal-to-noise ratio of ``snr_db`` decibels.

    The noise standard deviation is ``std(X) * 10 ** (-snr_db / 20)``, with ``std(X)`` the
    standard deviation of all entries (one sensor noise level for every feature).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs._demo import add_noise
    >>> X = np.random.default_rng(0).normal(0.0, 3.0, size=(20_000, 2))
    >>> noise = add_noise(X, 0.0, np.random.default_rng(1)) - X
    >>> bool(abs(noise.std() / X.std() - 1.0) < 0.02)   # 0 dB: noise as strong as the signal
    True
    """
    scale = float(np.std(X)) * 10.0 ** (-snr_db / 20.0)
    return X + rng.normal(0.0, scale, size=X.shape)


def scramble_rows(X, fraction, rng):
    """Give ``round(fraction * n)`` randomly chosen rows the features of another chosen row.

    The chosen rows are shifted cyclically in a random order, so every chosen row receives a
    different sample's features (a broken join); the other rows are unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs._demo import scramble_rows
    >>> X = np.arange(10.0).reshape(10, 1)
    >>> Y = scramble_rows(X, 0.3, np.random.default_rng(0))
    >>> int((Y != X).sum()), sorted(Y.ravel().tolist()) == X.ravel().tolist()
    (3, True)
    """
    n = X.shape[0]
    chosen = rng.choice(n, size=int(round(fraction * n)), replace=False)
    Y = X.copy()
    Y[chosen] = X[np.roll(chosen, 1)]
    return Y


def degrade_views(data, *, snr_db=NOISE_SNR_DB, scrambled_fraction=SCRAMBLED_FRACTION,
                  random_state=SEED):
    """The data set's views plus a noisy copy of view 0 and a row-scrambled copy of view 1.

    Returns
    -------
    views : list of ndarray
    view_names : list of str
    clean : list of bool
        Which views are the data set's own.

    Examples
    --------
    >>> from normgraph.datasets import load_digits_multiview
    >>> from normgraph.graphs._demo import degrade_views
    >>> views, names, clean = degrade_views(load_digits_multiview())
    >>> names
    ['pixels', 'gradient_hist', 'fourier', 'profile', 'noisy_pixels', 'misjoined_gradient_hist']
    """
    rng = np.random.default_rng(random_state)
    names = list(data.view_names)
    views = list(data.views)
    views.append(add_noise(data.views[0], snr_db, rng))
    views.append(scramble_rows(data.views[1], scrambled_fraction, rng))
    names += [f"noisy_{names[0]}", f"misjoined_{names[1]}"]
    clean = [True] * len(data.views) + [False, False]
    return views, names, clean


def _unit_variance(X):
    Xc = X - X.mean(axis=0)
    total = float(np.sqrt((Xc ** 2).sum() / X.shape[0]))
    return Xc / total if total > 0 else Xc


def _scores(y, labels):
    from .metrics import clustering_report

    r = clustering_report(y, labels)
    return {"acc": r["acc"], "nmi": r["nmi"], "ari": r["ari"]}


def _fit(views, n_clusters, fusion="similarity", random_state=SEED):
    from ._clusterer import MultiViewGraphClusterer

    model = MultiViewGraphClusterer(n_clusters, fusion=fusion, n_neighbors=N_NEIGHBORS,
                                    random_state=random_state)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="a single view was given")
        model.fit(views)
    return model, time.perf_counter() - t0


def _row(method, kind, y, labels, seconds):
    return {"method": method, "kind": kind, **_scores(y, labels), "seconds": seconds}


def run_demo(random_state=SEED):
    """Fit every method of the demo; return the rows, the fusion models and the views' names.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``rows`` (list of dicts: method, kind ("single view", "naive", "fusion"), acc, nmi,
        ari, seconds), ``models`` ({"SGF": model, "DGF": model}), ``view_names``, ``clean``,
        ``target``, ``n_samples``.
    """
    from ._spectral import spectral_clustering_njw
    from ..datasets import load_digits_multiview

    data = load_digits_multiview()
    y, c = data.target, data.n_clusters
    views, names, clean = degrade_views(data, random_state=random_state)
    rows, graphs = [], []
    for name, X in zip(names, views):
        model, seconds = _fit([X], c, random_state=random_state)
        graphs.append(model.graph_)
        rows.append(_row(name, "single view", y, model.labels_, seconds))
    concat = np.hstack([_unit_variance(X) for X in views])
    model, seconds = _fit([concat], c, random_state=random_state)
    rows.append(_row("concatenated features", "naive", y, model.labels_, seconds))
    t0 = time.perf_counter()
    labels, _ = spectral_clustering_njw(sum(graphs) / len(graphs), c, random_state=random_state)
    rows.append(_row("average of view graphs", "naive", y, labels, time.perf_counter() - t0))
    models = {}
    for short, fusion in (("SGF", "similarity"), ("DGF", "dissimilarity")):
        models[short], seconds = _fit(views, c, fusion, random_state)
        rows.append(_row(f"{short} ({fusion})", "fusion", y, models[short].labels_, seconds))
    clean_views = [X for X, ok in zip(views, clean) if ok]
    model, seconds = _fit(clean_views, c, random_state=random_state)
    rows.append(_row(f"SGF, {len(clean_views)} clean views only", "reference", y,
                     model.labels_, seconds))
    return Bunch(rows=rows, models=models, view_names=names, clean=clean, target=y,
                 n_samples=y.size, n_clusters=c)


def format_demo(result):
    """The demo's report as text: the setup, the metrics table and the view coefficients."""
    n_clean = sum(result.clean)
    lines = [
        f"digits, {result.n_samples} samples, {result.n_clusters} clusters: "
        f"{n_clean} embedded views + 2 degraded ones (seed {SEED}):",
        f"  noisy_pixels: pixels + Gaussian noise at {NOISE_SNR_DB:g} dB SNR "
        "(noise std = std of the pixel values)",
        f"  misjoined_gradient_hist: gradient_hist with {SCRAMBLED_FRACTION:.0%} of the rows "
        "given another sample's features",
        f"Spectral clustering (k = {N_NEIGHBORS}) of each view alone, of naive combinations "
        f"of all {len(result.clean)} views, and of the learned fused graphs:",
        "",
    ]
    width = max(len(r["method"]) for r in result.rows)
    lines.append(f"{'method':<{width}}  {'kind':<11}  ACC     NMI     ARI     fit (s)")
    lines.append(f"{'-' * width}  {'-' * 11}  ------  ------  ------  -------")
    for r in result.rows:
        lines.append(f"{r['method']:<{width}}  {r['kind']:<11}  {r['acc']:.4f}  {r['nmi']:.4f}  "
                     f"{r['ari']:.4f}  {r['seconds']:7.2f}")
    lines += ["", f"Learned view coefficients (uniform = 1/{len(result.view_names)} = "
              f"{1 / len(result.view_names):.3f}):"]
    width = max(len(n) for n in result.view_names)
    lines.append(f"{'view':<{width}}  {'SGF':>6}  {'DGF':>6}")
    for i, name in enumerate(result.view_names):
        tag = "" if result.clean[i] else "  (degraded)"
        lines.append(f"{name:<{width}}  {result.models['SGF'].view_coef_[i]:6.3f}  "
                     f"{result.models['DGF'].view_coef_[i]:6.3f}{tag}")
    return "\n".join(lines)


def check_plot_path(path):
    """Refuse, before any work, a figure path that cannot be written.

    Raises
    ------
    ValueError
        If the file type is not one matplotlib writes, or the path is a folder.
    OSError
        If the folder does not exist or is not writable.

    Examples
    --------
    >>> from normgraph.graphs._demo import check_plot_path
    >>> check_plot_path("demo.txt")
    Traceback (most recent call last):
    ...
    ValueError: --plot demo.txt: unknown figure type '.txt'; use one of .eps, .jpeg, ...
    """
    import os
    from pathlib import Path

    path = Path(path)
    formats = ("eps", "jpeg", "jpg", "pdf", "pgf", "png", "ps", "svg", "svgz", "tif", "tiff",
               "webp")
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise ValueError(f"--plot {path}: unknown figure type '{path.suffix}'; use one of "
                         f"{', '.join('.' + f for f in formats)}")
    if path.is_dir():
        raise ValueError(f"--plot {path}: is a folder; give a file name such as demo.png")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OSError(f"--plot {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OSError(f"--plot {path}: not writable")
    return path


def plot_demo(result):
    """Figure of the demo: view coefficients, the SGF graph ordered by digit, ACC per method.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from ._plotting import plot_graph, plot_view_coefficients

    fig, axes = plt.subplots(1, 3, figsize=(17.0, 5.2),
                             gridspec_kw={"width_ratios": [1.0, 1.15, 1.0]})
    plot_view_coefficients(result.models, view_names=result.view_names, ax=axes[0])
    plot_graph(result.models["SGF"].graph_, labels=result.target, ax=axes[1])
    axes[1].set_title("SGF graph, nodes grouped by true digit", fontsize=10)
    _plot_scores(result.rows, axes[2])
    fig.tight_layout()
    return fig


def _plot_scores(rows, ax):
    colors = {"single view": "0.6", "naive": "C1", "fusion": "C0", "reference": "C2"}
    y = np.arange(len(rows))
    bars = ax.barh(y, [r["acc"] for r in rows], color=[colors[r["kind"]] for r in rows])
    ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([r["method"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.3)
    ax.set_xticks(np.linspace(0.0, 1.0, 6))
    ax.set_xlabel("clustering accuracy (ACC)")
    ax.set_title("Accuracy per method", loc="left")
    handles = [_legend_patch(color, kind) for kind, color in colors.items()]
    ax.legend(handles=handles, fontsize=8, loc="best")


def _legend_patch(color, label):
    from matplotlib.patches import Patch

    return Patch(color=color, label=label)
