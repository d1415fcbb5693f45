"""Training curves of the two-step recipe: loss, accuracy, FF ratio and C2I per epoch."""

from __future__ import annotations

__all__ = ["plot_training_curves"]

_STEPS = ("step1", "step2")


def _check_history(history):
    if not isinstance(history, dict):
        raise TypeError(f"history must be the dict returned by two_step_train, got "
                        f"{type(history).__name__}")
    steps = [s for s in _STEPS if s in history]
    if not steps:
        raise ValueError("history must contain 'step1' and/or 'step2' (from two_step_train)")
    for s in steps:
        if not isinstance(history[s], dict) or "train_loss" not in history[s]:
            raise ValueError(f"history[{s!r}] must hold the per-epoch lists of two_step_train")
    return steps


def _series(history, steps, getter):
    """(x, y) per step, epochs numbered continuously across the steps."""
    out, offset = [], 0
    for s in steps:
        y = getter(history[s]) or []
        out.append((s, [offset + i + 1 for i in range(len(y))], y))
        offset += len(history[s]["train_loss"])
    return out


def _tracker(name, key):
    return lambda rec: rec.get("trackers", {}).get(name, {}).get(key)


def plot_training_curves(history, axes=None):
    """Plot the curves of :func:`two_step_train`: loss, accuracy, FF ratio and C2I per epoch.

    Panels: training loss; training and validation accuracy; the per-epoch mean flip-flop
    ratio (:class:`FlipFlopTracker`); the per-epoch mean C2I (:class:`C2ITracker`). Epochs
    are numbered across the two steps; a dashed line marks the start of step 2. A panel
    whose tracker was not used says so.

    Parameters
    ----------
    history : dict
        The dict returned by :func:`two_step_train`.
    axes : array of 4 matplotlib Axes or None, default=None
        Where to draw; None creates a 2x2 figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : ndarray of matplotlib.axes.Axes, shape (4,)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from normgraph.nn.bnn import plot_training_curves
    >>> rec = dict(train_loss=[2.0, 1.5], train_acc=[0.3, 0.5], val_acc=[0.3, 0.4], lr=[1, .5],
    ...            trackers={"FlipFlopTracker": {"epoch_means": [0.01, 0.005]}})
    >>> fig, axes = plot_training_curves({"step1": rec, "step2": rec})
    >>> [ax.get_title() for ax in axes]
    ['loss', 'accuracy', 'flip-flop ratio', 'C2I']
    """
    import numpy as np

    steps = _check_history(history)
    if axes is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 2, figsize=(9, 6))
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != 4:
        raise ValueError(f"axes must hold 4 Axes, got {axes.size}")
    fig = axes[0].figure
    panels = [
        ("loss", [("train", lambda r: r.get("train_loss"))]),
        ("accuracy", [("train", lambda r: r.get("train_acc")),
                      ("val", lambda r: r.get("val_acc"))]),
        ("flip-flop ratio", [("FF", _tracker("FlipFlopTracker", "epoch_means"))]),
        ("C2I", [("C2I", _tracker("C2ITracker", "epoch_means"))]),
    ]
    n1 = len(history[steps[0]]["train_loss"])
    for ax, (title, curves) in zip(axes, panels):
        drawn = False
        for label, getter in curves:
            for step, x, y in _series(history, steps, getter):
                if y:
                    ax.plot(x, y, marker=".", label=f"{label} ({step})")
                    drawn = True
        if drawn:
            if len(steps) == 2:
                ax.axvline(n1 + 0.5, color="grey", linestyle="--", linewidth=0.8)
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "not tracked", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_xlabel("epoch")
    fig.tight_layout()
    return fig, axes
