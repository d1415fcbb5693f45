"""Plot a quantizer: its thresholds and output levels over the histogram of the data."""

from __future__ import annotations

import numpy as np

from .._utils.plotting import get_axes
from .._utils.validation import check_allocation, check_int, check_numeric_dtype
from ._uniform import UniformQuant

__all__ = ["plot_quantizer"]


def _as_finite_vector(values, name):
    if values is None or isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {type(values).__name__}")
    check_numeric_dtype(values, name)
    arr = np.asarray(values, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _thresholds_and_levels(quantizer, feature):
    """Decision thresholds (in the input domain) and output levels, or ``levels=None``."""
    if isinstance(quantizer, UniformQuant):
        return quantizer.thresholds, quantizer.levels, "level"
    if hasattr(quantizer, "thresholds_") and hasattr(quantizer, "levels_"):
        n_features = quantizer.n_features_in_
        if not -n_features <= feature < n_features:
            raise ValueError(
                f"feature {feature} is out of range for a quantizer fitted on {n_features} "
                "feature(s)"
            )
        thresholds = np.asarray(quantizer.thresholds_[feature], dtype=np.float64)
        levels = np.asarray(quantizer.levels_[feature], dtype=np.float64)
        if hasattr(quantizer, "knots_"):  # N2UQ: thresholds live on z = scale1 * x
            return thresholds / float(quantizer.scale1), levels, "output (uniform)"
        return thresholds, levels, "level"
    if hasattr(quantizer, "get_params") and hasattr(quantizer, "fit"):
        raise ValueError(f"{type(quantizer).__name__} is not fitted yet: call fit first")
    thresholds = _as_finite_vector(quantizer, "thresholds")
    if thresholds.ndim != 1:
        raise ValueError(f"thresholds must be 1-D, got shape {thresholds.shape}")
    if thresholds.size > 1 and (np.diff(thresholds) < 0).any():
        raise ValueError("thresholds must be non-decreasing")
    return thresholds, None, None


def plot_quantizer(quantizer_or_thresholds, x=None, feature=0, ax=None, bins=100):
    """Draw a quantizer's thresholds and levels over the histogram of the data.

    The histogram of ``x`` (density) fills the axes; every decision threshold is a dashed
    vertical line; when levels are known, the transfer function ``x -> Q(x)`` is drawn as a
    staircase on a second y-axis (for N2UQ the levels are its uniform outputs, for the other
    quantizers the reconstruction values, so the staircase hugs the diagonal).

    Parameters
    ----------
    quantizer_or_thresholds : fitted transformer, UniformQuant or array-like
        A fitted :class:`UniformQuantizer`, :class:`LloydMaxQuantizer`,
        :class:`OptimalQuantizer` or :class:`N2UQuantizer` (the ``feature``-th quantizer is
        drawn; N2UQ thresholds are divided by ``scale1`` to lie on the ``x`` axis), a
        :class:`UniformQuant`, or a 1-D array of non-decreasing thresholds.
    x : array-like, optional
        Data for the histogram: 1-D, or 2-D of shape (n_samples, n_features) from which
        column ``feature`` is taken.
    feature : int, default=0
        Feature (column) to draw.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created by default.
    bins : int, default=100
        Number of histogram bins.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes holding the histogram and the threshold lines (``gid="threshold"``); the
        staircase, when drawn, is on ``ax.right_ax`` (a twin axes).

    Raises
    ------
    ValueError
        If the quantizer is not fitted, ``feature`` is out of range, ``bins < 1`` or the data
        or thresholds are not finite.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from normgraph.quant import OptimalQuantizer, plot_quantizer
    >>> X = np.random.default_rng(0).normal(size=(2000, 1))
    >>> q = OptimalQuantizer(n_levels=4).fit(X)
    >>> ax = plot_quantizer(q, X)
    >>> sum(line.get_gid() == "threshold" for line in ax.get_lines())
    3
    """
    feature = check_int(feature, "feature")
    bins = check_int(bins, "bins", low=1)
    check_allocation(3.0 * bins, "bins", what="the histogram")
    thresholds, levels, level_label = _thresholds_and_levels(quantizer_or_thresholds, feature)
    data = None
    per_feature = hasattr(quantizer_or_thresholds, "n_features_in_")
    if x is not None:
        data = _as_finite_vector(x, "x")
        if data.ndim == 2:
            if not -data.shape[1] <= feature < data.shape[1]:
                raise ValueError(f"feature {feature} is out of range for x with "
                                 f"{data.shape[1]} column(s)")
            data = data[:, feature]
            per_feature = True
        elif data.ndim != 1:
            raise ValueError(f"x must be 1-D or 2-D, got shape {data.shape}")
        if data.size == 0:
            raise ValueError("x is empty")

    fig, ax = get_axes(ax)
    # Horizontal extent: the data, else the thresholds with a margin.
    points = [thresholds]
    if data is not None:
        points.append(data)
    elif levels is not None and level_label == "level":
        points.append(levels)
    span = np.concatenate(points) if any(p.size for p in points) else np.zeros(1)
    lo, hi = float(span.min()), float(span.max())
    pad = 0.05 * hi - 0.05 * lo if hi > lo else 1.0  # halves first: no overflow at 1e308
    lo, hi = lo - pad, hi + pad

    if data is not None:
        ax.hist(data, bins=int(bins), density=True, color="0.8", label="data")
        ax.set_ylabel("density")
    for i, t in enumerate(thresholds):
        ax.axvline(t, color="C3", linestyle="--", linewidth=1.0, gid="threshold",
                   label="thresholds" if i == 0 else None)
    ax.set_xlim(lo, hi)
    ax.set_xlabel(f"feature {feature}" if per_feature else "x")

    if levels is not None:
        right = ax.twinx()
        edges = np.concatenate([[lo], thresholds, [hi]])
        values = np.concatenate([levels, levels[-1:]])
        right.step(edges, values, where="post", color="C0", linewidth=1.5, label="Q(x)")
        right.set_ylabel(level_label)
        ax.right_ax = right
    ax.set_title(f"{thresholds.size} threshold(s)"
                 + (f", {levels.size} level(s)" if levels is not None else ""))
    return ax
