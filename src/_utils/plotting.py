"""Lazy matplotlib access for the plot helpers of every subpackage.

matplotlib is imported only when a plot is asked for, so importing normgraph stays cheap.
"""

from __future__ import annotations

__all__ = ["get_axes"]


def get_axes(ax=None, *, figsize=None, subplot_kw=None):
    """Return ``(fig, ax)``: the given axes and their figure, or a new figure with one axes.

    Parameters
    ----------
    ax : matplotlib.axes.Axes or None
        Axes to draw on. ``None`` creates a new figure.
    figsize : tuple of float, optional
        Size of a new figure in inches.
    subplot_kw : dict, optional
        Passed to :func:`matplotlib.pyplot.subplots` for a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from normgraph._utils.plotting import get_axes
    >>> fig, ax = get_axes(figsize=(3, 2))
    >>> ax.figure is fig
    True
    """
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, subplot_kw=subplot_kw)
    return fig, ax
