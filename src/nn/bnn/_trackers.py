"""Weight-dynamics trackers of AdamBNN: the flip-flop (FF) ratio and the C2I ratio.

Both watch the latent weights of chosen modules (``BinaryConv2d`` by default) and keep only
boolean sign snapshots, ``sign(w) = +1 if w >= 0 else -1`` (``w = 0`` counts as +1).
"Per layer" is the fraction within one module's weight; "overall" is the total count over all
watched modules divided by their total number of weights.
"""

from __future__ import annotations

import torch
from torch import nn

from ._binary_conv import BinaryConv2d

__all__ = ["FlipFlopTracker", "C2ITracker"]


def _check_modules(modules):
    kinds = modules if isinstance(modules, tuple) else (modules,)
    if not kinds or not all(isinstance(k, type) and issubclass(k, nn.Module) for k in kinds):
        raise TypeError(f"modules must be an nn.Module subclass or a tuple of them, got "
                        f"{modules!r}")
    return kinds


class _SignTracker:
    """Shared machinery: watched weights, sign snapshots, series, epochs, optimizer hook."""

    def __init__(self, model, modules=BinaryConv2d):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        kinds = _check_modules(modules)
        self.modules = modules
        self._named = [(name, m.weight) for name, m in model.named_modules()
                       if isinstance(m, kinds) and isinstance(getattr(m, "weight", None),
                                                              torch.Tensor)]
        if not self._named:
            names = ", ".join(k.__name__ for k in kinds)
            raise ValueError(f"model has no module of type {names} with a weight to track")
        self.layer_names = [name for name, _ in self._named]
        self.layer_sizes = [w.numel() for _, w in self._named]
        self._total = float(sum(self.layer_sizes))
        self._sizes = torch.tensor(self.layer_sizes, dtype=torch.float64)
        self.overall = []       # one float per update
        self.per_layer = []     # one list of floats (one per layer) per update
        self._epoch_ends = []   # number of updates at the end of each epoch
        self._handle = None
        self._reference = self._signs()

    def _signs(self):
        with torch.no_grad():
            return [w.detach() >= 0 for _, w in self._named]

    def _record(self, counts):
        counts = torch.stack(counts).double().cpu()
        self.overall.append(float(counts.sum()) / self._total)
        self.per_layer.append((counts / self._sizes).tolist())

    def attach(self, optimizer):
        """Call :meth:`update` after every ``optimizer.step()`` (a step post-hook).

        Returns
        -------
        self
        """
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.detach()
        self._handle = optimizer.register_step_post_hook(lambda *args, **kwargs: self.update())
        return self

    def detach(self):
        """Remove the optimizer hook installed by :meth:`attach` (if any)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def end_epoch(self):
        """Mark the end of an epoch (for :meth:`epoch_means`)."""
        self._epoch_ends.append(len(self.overall))

    def epoch_means(self):
        """Per-epoch means of the overall series (epochs delimited by :meth:`end_epoch`; updates
        after the last mark form a final epoch).

        Returns
        -------
        means : list of float
        """
        ends = list(self._epoch_ends)
        if not ends or ends[-1] < len(self.overall):
            ends.append(len(self.overall))
        means, start = [], 0
        for end in ends:
            if end > start:
                means.append(sum(self.overall[start:end]) / (end - start))
            start = end
        return means

    def summary(self):
        """Plain-data results: ``per_step``, ``per_layer`` (name -> series), ``epoch_means``,
        ``final`` (last overall value or None) and ``layer_sizes``."""
        per_layer = {name: [row[i] for row in self.per_layer]
                     for i, name in enumerate(self.layer_names)}
        return dict(per_step=list(self.overall), per_layer=per_layer,
                    epoch_means=self.epoch_means(),
                    final=self.overall[-1] if self.overall else None,
                    layer_sizes=dict(zip(self.layer_names, self.layer_sizes)))


class FlipFlopTracker(_SignTracker):
    """Flip-flop ratio: the fraction of latent weights whose sign changed in one optimizer step.

    ``FF_t`` compares the signs after step ``t`` with those after step ``t - 1`` (for the first
    update: with those when the tracker was created), per layer and overall. Call
    :meth:`update` after each step or :meth:`attach` the tracker to the optimizer.

    Parameters
    ----------
    model : torch.nn.Module
    modules : type or tuple of types, default=BinaryConv2d
        Module types whose ``weight`` is watched.

    Attributes
    ----------
    layer_names, layer_sizes : list
        The watched modules and their number of weights.
    overall : list of float
        ``FF_t`` over all watched weights, one per update.
    per_layer : list of list of float
        ``FF_t`` per layer, one row per update.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import FlipFlopTracker
    >>> layer = torch.nn.Linear(4, 1, bias=False)
    >>> with torch.no_grad():
    ...     layer.weight.copy_(torch.tensor([[1.0, -1.0, 0.0, 2.0]]))
    Parameter containing:
    tensor([[ 1., -1.,  0.,  2.]], requires_grad=True)
    >>> ff = FlipFlopTracker(layer, modules=torch.nn.Linear)
    >>> with torch.no_grad():
    ...     layer.weight.mul_(-1.0)                 # 0 keeps sign +1: three of four flip
    Parameter containing:
    tensor([[-1.,  1., -0., -2.]], requires_grad=True)
    >>> ff.update()
    0.75
    """

    def __init__(self, model, modules=BinaryConv2d):
        super().__init__(model, modules)
        self._previous = self._reference

    def update(self):
        """Record ``FF`` for the step just taken; returns the overall value."""
        signs = self._signs()
        self._record([(s != p).sum() for s, p in zip(signs, self._previous)])
        self._previous = signs
        return self.overall[-1]


class C2ITracker(_SignTracker):
    """C2I ratio: the fraction of latent weights whose sign differs from a reference snapshot.

    The reference is taken when the tracker is created (the initialization, if before the
    first optimizer step) and moved by :meth:`reset`. The sign agreement ``1 - 2 C2I`` (the
    mean of ``sign(w) sign(w0)``) is kept alongside.

    Parameters
    ----------
    model : torch.nn.Module
    modules : type or tuple of types, default=BinaryConv2d
        Module types whose ``weight`` is watched.

    Attributes
    ----------
    overall, per_layer : list
        C2I after each update (overall and per layer).
    agreement : list of float
        ``1 - 2 C2I`` overall, one per update.

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import C2ITracker
    >>> layer = torch.nn.Linear(4, 1, bias=False)
    >>> with torch.no_grad():
    ...     layer.weight.copy_(torch.tensor([[1.0, -1.0, 0.5, 2.0]]))
    Parameter containing:
    tensor([[ 1.0000, -1.0000,  0.5000,  2.0000]], requires_grad=True)
    >>> c2i = C2ITracker(layer, modules=torch.nn.Linear)
    >>> with torch.no_grad():
    ...     layer.weight[0, 0] = -3.0
    >>> c2i.update(), c2i.agreement[-1]
    (0.25, 0.5)
    """

    def __init__(self, model, modules=BinaryConv2d):
        super().__init__(model, modules)
        self.agreement = []

    def update(self):
        """Record C2I against the reference snapshot; returns the overall value."""
        signs = self._signs()
        self._record([(s != r).sum() for s, r in zip(signs, self._reference)])
        self.agreement.append(1.0 - 2.0 * self.overall[-1])
        return self.overall[-1]

    def reset(self):
        """Take a new reference snapshot of the signs (the recorded series are kept)."""
        self._reference = self._signs()

    def summary(self):
        out = super().summary()
        out["agreement"] = list(self.agreement)
        return out
