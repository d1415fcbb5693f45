"""Plot of a network's norm profile (matplotlib imported only when a plot is drawn)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_norm_profile"]


def plot_norm_profile(table, ax=None, p=None):
    """Bar chart of per-layer operator norms, with the certified l2 intervals as error bars.

    Parameters
    ----------
    table : NormTable or list of dict
        Rows as returned by :func:`layer_norms` (``name``, ``p``, ``value``, ``lower``,
        ``upper``); rows without a value are skipped.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created if omitted.
    p : int, float, str or tuple of them, optional
        Norm orders to draw (default: every order present in the table). Each order is one
        colour; bars are grouped by layer, in table order. For inexact rows the bar is the
        upper bound and the error bar reaches down to the certified lower bound.

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from normgraph.norms import plot_norm_profile
    >>> rows = [dict(name="conv", p=1, value=3.0, lower=3.0, upper=3.0),
    ...         dict(name="conv", p=2, value=1.5, lower=1.2, upper=1.5),
    ...         dict(name="fc", p=1, value=2.0, lower=2.0, upper=2.0)]
    >>> ax = plot_norm_profile(rows)
    >>> len(ax.patches)
    3
    """
    from .._utils.plotting import get_axes
    from ._validation import normalize_p

    rows = [r for r in table if r.get("value") is not None and r.get("p") is not None]
    if p is None:
        ps = list(dict.fromkeys(r["p"] for r in rows))
    else:
        ps = [normalize_p(q, allowed=(1, 2, np.inf)) for q in
              (p if isinstance(p, (list, tuple)) else [p])]
    rows = [r for r in rows if r["p"] in ps]
    if not rows:
        raise ValueError("the table has no row with a value for the requested norm orders")
    names = list(dict.fromkeys(r["name"] for r in rows))
    pos = {name: i for i, name in enumerate(names)}
    width = 0.8 / len(ps)
    fig, ax = get_axes(ax, figsize=(max(6.0, 0.35 * len(names) * len(ps)), 4.0))
    for j, q in enumerate(ps):
        sel = [r for r in rows if r["p"] == q]
        x = np.array([pos[r["name"]] for r in sel]) + (j - (len(ps) - 1) / 2) * width
        val = np.array([r["value"] for r in sel], dtype=float)
        low = np.array([r["lower"] if r.get("lower") is not None else r["value"] for r in sel],
                       dtype=float)
        label = "l-inf" if q == np.inf else f"l{q}"
        ax.bar(x, val, width=width, label=label)
        gap = np.clip(val - low, 0.0, None)
        if np.any(gap > 0):
            ax.errorbar(x, val, yerr=np.vstack([gap, np.zeros_like(gap)]), fmt="none",
                        ecolor="black", capsize=2, lw=1)
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    if min(r["value"] for r in rows) > 0:
        ax.set_yscale("log")
    ax.set_ylabel("operator norm")
    ax.set_title("per-layer operator norms (l2: certified interval)")
    ax.legend()
    fig.tight_layout()
    return ax
