"""Plot of a network's norm profile (matplotlib imported only when a plot is drawn).

One horizontal row per layer, top to bottom in module order, layer names as tick labels, a log
norm axis and the certified l2 interval as a horizontal error bar; the figure grows with the
number of layers so that every name stays readable.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_norm_profile"]

_KINDS = ("conv", "linear", "bn", "pool", "other")
# Height of a new figure: fixed margin plus a fixed share per layer row (inches).
_MARGIN_IN = 1.3
_ROW_IN = 0.22


def _row_kind(row):
    """Layer kind of a table row from its ``type`` (class name); None when it has none."""
    name = row.get("type")
    if name is None:
        return None
    if "Conv" in name:
        return "conv"
    if "Linear" in name and "Identity" not in name:
        return "linear"
    if "BatchNorm" in name:
        return "bn"
    if "Pool" in name:
        return "pool"
    return "other"


def _check_include(include):
    from .._utils.validation import check_choice

    if isinstance(include, str):
        include = (include,)
    try:
        include = tuple(include)
    except TypeError:
        raise TypeError(f"include must be a string or a sequence of strings, got "
                        f"{type(include).__name__}") from None
    return tuple(check_choice(k, "include", _KINDS) for k in include)


def _select_rows(table, p, include):
    from ._validation import normalize_p

    include = _check_include(include)
    rows = [r for r in _check_table(table) if r.get("value") is not None
            and r.get("p") is not None]
    rows = [r for r in rows if _row_kind(r) is None or _row_kind(r) in include]
    if p is None:
        ps = list(dict.fromkeys(r["p"] for r in rows))
    else:
        ps = [normalize_p(q, allowed=(1, 2, np.inf)) for q in
              (p if isinstance(p, (list, tuple)) else [p])]
    rows = [r for r in rows if r["p"] in ps]
    if not rows:
        raise ValueError("the table has no row with a value for the requested norm orders "
                         f"and layer kinds (include={include})")
    return rows, [q for q in ps if any(r["p"] == q for r in rows)]


def _check_table(table):
    """The rows of a norm table: a ``NormTable`` or a sequence of dicts (``layer_norms``)."""
    from collections.abc import Mapping

    if isinstance(table, (str, bytes, Mapping)) or not hasattr(table, "__iter__"):
        raise TypeError("table must be the NormTable of layer_norms (or a list of dicts), got "
                        f"{type(table).__name__}")
    rows = list(table)
    bad = next((r for r in rows if not isinstance(r, Mapping)), None)
    if bad is not None or isinstance(table, np.ndarray):
        raise TypeError("table must be the NormTable of layer_norms (or a list of dicts); it "
                        f"holds a {type(bad).__name__ if bad is not None else 'array'}")
    return rows


def _log_limits(rows):
    """Norm-axis limits a factor 2 beyond the smallest bound and the largest value.

    None when some value is not positive (the axis is then linear). Computed in float64 with
    the factor clipped to the representable range, so norms near 1e+-300 keep their bars.
    """
    values = np.array([r["value"] for r in rows], dtype=float)
    lows = np.array([r["lower"] if r.get("lower") is not None else r["value"] for r in rows],
                    dtype=float)
    if not np.all(values > 0):
        return None
    ends = np.concatenate([values, lows[lows > 0]])
    tiny, huge = np.finfo(float).tiny, np.finfo(float).max
    return max(float(ends.min()) / 2.0, tiny), min(float(ends.max()) * 2.0, huge)


def _log_axis(ax, low, high):
    """Log norm axis; above 100 decades, at most 7 fixed decade ticks (matplotlib's own log
    locator overflows on spans of several hundred decades)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")
    ax.set_xlim(low, high)
    first, last = np.ceil(np.log10(low)), np.floor(np.log10(high))
    if last - first > 100:
        ax.xaxis.set_major_locator(FixedLocator(10.0 ** np.unique(
            np.linspace(first, last, 7).round())))
        ax.xaxis.set_minor_locator(NullLocator())


def _p_label(q):
    return "l-inf" if q == np.inf else f"l{q:g}"


def plot_norm_profile(table, ax=None, p=None, *, include=("conv", "linear")):
    """Horizontal bar chart of per-layer operator norms, certified l2 intervals as error bars.

    Parameters
    ----------
    table : NormTable or list of dict
        Rows as returned by :func:`layer_norms` (``name``, ``type``, ``p``, ``value``,
        ``lower``, ``upper``); rows without a value are skipped.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created if omitted, ``1.3 + 0.22 * n_layers`` inches
        high (so a ResNet-18's 21 layers fit in about 6 inches, every name readable).
    p : int, float, str or tuple of them, optional
        Norm orders to draw (default: every order present in the table). Each order is one
        colour; a layer's bars share its row. For inexact rows the bar is the upper bound and
        the error bar reaches down to the certified lower bound.
    include : str or tuple of str, default=("conv", "linear")
        Layer kinds to draw, by the row's ``type``: ``"conv"``, ``"linear"``, ``"bn"``
        (batch norm), ``"pool"`` and ``"other"`` (identity and the rest). Rows without a
        ``type`` are always drawn.

    Returns
    -------
    ax : matplotlib.axes.Axes
        Layer names are the y tick labels (first layer on top); the norm axis is logarithmic
        when every value is positive.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from normgraph.norms import plot_norm_profile
    >>> rows = [dict(name="conv", type="Conv2d", p=1, value=3.0, lower=3.0, upper=3.0),
    ...         dict(name="conv", type="Conv2d", p=2, value=1.5, lower=1.2, upper=1.5),
    ...         dict(name="bn", type="BatchNorm2d", p=1, value=1.0, lower=1.0, upper=1.0),
    ...         dict(name="fc", type="Linear", p=1, value=2.0, lower=2.0, upper=2.0)]
    >>> ax = plot_norm_profile(rows)
    >>> len(ax.patches), [t.get_text() for t in ax.get_yticklabels()], ax.get_xscale()
    (3, ['conv', 'fc'], 'log')
    >>> len(plot_norm_profile(rows, include=("conv", "linear", "bn")).patches)
    4
    """
    from .._utils.plotting import get_axes

    rows, ps = _select_rows(table, p, include)
    names = list(dict.fromkeys(r["name"] for r in rows))
    pos = {name: i for i, name in enumerate(names)}
    height = 0.8 / len(ps)
    fig, ax = get_axes(ax, figsize=(7.5, _MARGIN_IN + _ROW_IN * len(names) * max(1, len(ps) / 2)))
    limits = _log_limits(rows)
    left = 0.0 if limits is None else limits[0]
    for j, q in enumerate(ps):
        sel = [r for r in rows if r["p"] == q]
        y = np.array([pos[r["name"]] for r in sel]) + (j - (len(ps) - 1) / 2) * height
        val = np.array([r["value"] for r in sel], dtype=float)
        low = np.array([r["lower"] if r.get("lower") is not None else r["value"] for r in sel],
                       dtype=float)
        ax.barh(y, val - left, left=left, height=height, color=f"C{j}", label=_p_label(q))
        gap = np.clip(val - low, 0.0, None)
        if np.any(gap > 0):
            ax.errorbar(val, y, xerr=np.vstack([gap, np.zeros_like(gap)]), fmt="none",
                        ecolor="black", capsize=2, lw=1)
    ax.set_yticks(np.arange(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)
    if limits is not None:
        _log_axis(ax, *limits)
    ax.set_xlabel("operator norm (l2: bar = upper bound, whisker to certified lower bound)")
    ax.set_title(f"Per-layer operator norms, {len(names)} layers", loc="left")
    ax.grid(axis="x", which="major", linewidth=0.4, alpha=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return ax
