"""Plot of the learned N2UQ intervals, one row per layer."""

from __future__ import annotations

from torch import nn

from ..._utils.plotting import get_axes
from ._n2uq_act import N2UQAct

__all__ = ["plot_thresholds"]


def plot_thresholds(model, ax=None):
    """Draw the learned intervals ``a_i`` of every :class:`N2UQAct` in ``model``.

    Row ``r`` is the ``r``-th N2UQ quantizer (in ``model.named_modules()`` order): one bar per
    interval, from knot ``T_i`` to ``T_{i+1}`` (in the ``z = scale1 * x`` domain), coloured by
    interval index, with the decision thresholds ``T_i + a_i / 2`` as black ticks. Equal bars
    mean a uniform quantizer.

    Parameters
    ----------
    model : torch.nn.Module
        A network (or a single :class:`N2UQAct`).
    ax : matplotlib.axes.Axes or None, default=None

    Returns
    -------
    ax : matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If ``model`` is not a module.
    ValueError
        If it holds no ``N2UQAct``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from normgraph.nn.quant import plot_thresholds, quantized_resnet
    >>> ax = plot_thresholds(quantized_resnet(18, n_bits=2, num_classes=10))
    >>> len(ax.patches)                       # 16 layers x 3 intervals
    48
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    layers = [(name or "(model)", m) for name, m in model.named_modules()
              if isinstance(m, N2UQAct)]
    if not layers:
        raise ValueError("model contains no N2UQAct quantizer to plot")
    fig, ax = get_axes(ax, figsize=(7, 0.3 * len(layers) + 1.5))
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("viridis")
    for row, (name, q) in enumerate(layers):
        knots = q.knots()
        widths = knots[1:] - knots[:-1]
        colors = [cmap(i / max(q.n_steps - 1, 1)) for i in range(q.n_steps)]
        ax.barh([row] * q.n_steps, widths, left=knots[:-1], height=0.7, color=colors,
                edgecolor="white")
        ax.plot(knots[:-1] + widths / 2, [row] * q.n_steps, "k|", markersize=8)
    ax.set_yticks(range(len(layers)))
    ax.set_yticklabels([name for name, _ in layers], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("z = scale1 * x (knots T_i; ticks: decision thresholds)")
    ax.set_title("learned N2UQ intervals per layer")
    return ax
