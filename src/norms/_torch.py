"""Norm profile of a whole torch model: one row per (layer, p) from its weights and input size.

torch is imported only when :func:`layer_norms` runs.
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np

from .._utils.validation import check_allocation, check_choice, check_int

__all__ = ["InputShapeError", "layer_norms", "NormTable"]

_INCLUDE = ("conv", "linear", "bn", "pool", "other")
_FIELDS = ("name", "type", "p", "value", "lower", "upper", "exact", "method")


class NormTable(list):
    """Rows ``{name, type, p, value, lower, upper, exact, method, input_shape}`` of a norm profile.

    A plain list of dicts (in module order) with a Markdown rendering.

    Examples
    --------
    >>> from normgraph.norms._torch import NormTable
    >>> t = NormTable([dict(name="fc", type="Linear", p=1, value=2.0, lower=2.0, upper=2.0,
    ...                     exact=True, method="exact", input_shape=(3,))])
    >>> print(t.to_markdown())
    | layer | type | p | value | lower | upper | exact | method |
    |---|---|---|---|---|---|---|---|
    | fc | Linear | 1 | 2 | 2 | 2 | yes | exact |
    """

    def to_markdown(self, digits=4):
        """Render the rows as a Markdown table with ``digits`` significant digits.

        Examples
        --------
        >>> from normgraph.norms._torch import NormTable
        >>> NormTable().to_markdown().splitlines()[0]
        '| layer | type | p | value | lower | upper | exact | method |'
        """

        def fmt(v):
            if v is None:
                return "-"
            if isinstance(v, bool):
                return "yes" if v else "no"
            if isinstance(v, float):
                if math.isinf(v):
                    return "inf"
                return f"{v:.{digits}g}"
            return str(v)

        lines = ["| layer | type | p | value | lower | upper | exact | method |",
                 "|---|---|---|---|---|---|---|---|"]
        for r in self:
            cells = [r["name"], r["type"], _p_name(r["p"])] + [
                fmt(r[k]) for k in ("value", "lower", "upper", "exact", "method")]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        return "\n".join(lines)

    def values(self, p):
        """``{layer name: value}`` for one norm order ``p``.

        Examples
        --------
        >>> from normgraph.norms._torch import NormTable
        >>> NormTable([dict(name="a", p=1, value=3.0)]).values(1)
        {'a': 3.0}
        """
        from ._validation import normalize_p

        p = normalize_p(p)
        return {r["name"]: r["value"] for r in self if r["p"] == p}


def _p_name(p):
    if p is None:
        return "-"
    return "inf" if p == np.inf else str(p)


def _kind(module, nn):
    if isinstance(module, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "bn"
    if isinstance(module, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        return "pool"
    return "other"


def _row(name, module, p, value, lower, upper, exact, method, shape):
    return dict(name=name, type=type(module).__name__, p=p, value=value, lower=lower,
                upper=upper, exact=exact, method=method, input_shape=shape)


def _conv_rows(name, m, in_shape, out_shape, ps, l2_method):
    from ._api import conv_norm

    D = m.weight.dim() - 2
    n = tuple(in_shape[-D:])
    kw = dict(stride=m.stride, dilation=m.dilation, groups=m.groups, l2_method=l2_method,
              return_details=True)
    if m.transposed:
        k, s, d, pad = m.kernel_size, m.stride, m.dilation, m.padding
        # the output padding actually used (forward(output_size=...) may change it)
        op = tuple(int(out_shape[-D + t]) - ((n[t] - 1) * s[t] - 2 * pad[t] + d[t] * (k[t] - 1) + 1)
                   for t in range(D))
        kw.update(padding=pad, padding_mode="zeros", transposed=True, output_padding=op)
    else:
        kw.update(padding=m.padding, padding_mode=m.padding_mode)
    rows = []
    for p in ps:
        start = time.perf_counter()
        r = conv_norm(m.weight, p, n, **kw)
        row = _row(name, m, p, float(r.value), float(r.lower), float(r.upper),
                   bool(r.exact), r.method, n)
        row["time"] = time.perf_counter() - start
        rows.append(row)
    return rows


def _pool_rows(name, m, in_shape, ps, l2_method):
    """Average pooling = depthwise conv with the constant kernel 1/prod(k) (when it is linear
    with fixed weights: ``ceil_mode=False`` and, with padding, ``count_include_pad=True``)."""
    from ._api import conv_norm

    D = {"AvgPool1d": 1, "AvgPool2d": 2, "AvgPool3d": 3}[type(m).__name__]
    C = int(in_shape[-D - 1])
    n = tuple(in_shape[-D:])

    def tup(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * D

    k, s, pad = tup(m.kernel_size), tup(m.stride if m.stride else m.kernel_size), tup(m.padding)
    divisor = getattr(m, "divisor_override", None)
    if m.ceil_mode or (any(pad) and not m.count_include_pad):
        return [_row(name, m, p, None, None, None, False, "not a fixed conv (ceil_mode or "
                     "count_include_pad=False)", n) for p in ps]
    w = np.full((C, 1) + k, 1.0 / (divisor if divisor else float(np.prod(k))))
    rows = []
    for p in ps:
        r = conv_norm(w, p, n, stride=s, padding=pad, groups=C, l2_method=l2_method,
                      return_details=True)
        rows.append(_row(name, m, p, float(r.value), float(r.lower), float(r.upper),
                         bool(r.exact), r.method, n))
    return rows


def _check_sample_shape(input_shape, name="input_shape"):
    """A non-empty tuple of positive ints whose zero tensor fits in memory.

    Examples
    --------
    >>> from normgraph.norms._torch import _check_sample_shape
    >>> _check_sample_shape([3, 8, 8])
    (3, 8, 8)
    """
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)) and type(input_shape).__name__ != "Size":
        raise TypeError(f"{name} must be a tuple of ints, got {input_shape!r}")
    shape = tuple(check_int(v, name) for v in input_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"{name} must be a non-empty tuple of positive ints, got {shape}")
    check_allocation(math.prod(shape), name, itemsize=8, what="the forward pass of one sample")
    return shape


class InputShapeError(ValueError, RuntimeError):
    """The model's forward pass rejected ``torch.zeros(1, *input_shape)``.

    A ``ValueError`` naming ``input_shape`` (the user's bad value) that is also the
    ``RuntimeError`` torch itself raises for a shape mismatch.

    Examples
    --------
    >>> from normgraph.norms._torch import InputShapeError
    >>> issubclass(InputShapeError, ValueError) and issubclass(InputShapeError, RuntimeError)
    True
    """


def _forward_zeros(model, input_shape, dtype, device, name="input_shape"):
    """One forward pass of ``torch.zeros(1, *input_shape)``; a shape the model cannot take
    is an :class:`InputShapeError` naming ``input_shape`` (not a bare torch error)."""
    import torch

    try:
        model(torch.zeros((1,) + tuple(input_shape), dtype=dtype, device=device))
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise InputShapeError(f"{name} {tuple(input_shape)} does not fit the model: its forward "
                         f"pass on torch.zeros(1, *{name}) failed: {exc}") from exc


def layer_norms(model, input_shape, p=(1, 2, np.inf), *, include=("conv", "linear", "bn"),
                l2_method="auto"):
    """Operator norms of every conv, linear and batch-norm layer of a torch model.

    One forward pass of ``torch.zeros(1, *input_shape)`` in ``eval()`` and ``no_grad()`` mode
    records, through forward hooks, the input size each layer sees; the hooks are removed and
    every module's training flag is restored afterwards (also on error). Norms are those of
    the linear part (bias ignored): l1/l-inf exact, l2 a certified interval (exact where the
    structure allows). Batch norm is the eval-mode diagonal map built from the running
    statistics (whatever the model's mode; ``method`` says so).

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
        Shape of one input sample without the batch axis, e.g. ``(3, 224, 224)``.
    p : int, float, str or tuple of them, default=(1, 2, inf)
        Norm orders among 1, 2, inf.
    include : tuple of str, default=("conv", "linear", "bn")
        Layer kinds to report: ``"conv"`` (Conv1/2/3d, ConvTranspose1/2/3d, lazy convs),
        ``"linear"``, ``"bn"`` (BatchNorm1/2/3d), ``"pool"`` (AvgPool1/2/3d as depthwise
        convs) and ``"other"`` (every other leaf module, listed with ``value=None``).
    l2_method : str, default="auto"
        Passed to :func:`conv_norm` for p = 2.

    Returns
    -------
    NormTable
        A list of row dicts ``{name, type, p, value, lower, upper, exact, method,
        input_shape}`` in module order (for p = 2 on convs ``value`` is the upper bound
        unless ``exact``, and ``method`` names the tightest certified upper bound), with
        ``.to_markdown()``. Conv rows also carry ``time``, the seconds spent on that norm.
        Layers of the same geometry share the per-axis landing tables (cached).

    Examples
    --------
    >>> import torch
    >>> from normgraph.norms import layer_norms
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Flatten(),
    ...                           torch.nn.Linear(32, 3))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.fill_(1.0)
    >>> table = layer_norms(net, (1, 4, 4), p=("inf",))
    >>> [(r["name"], r["value"]) for r in table][:1]
    [('0', 9.0)]
    """
    import torch
    from torch import nn

    from ._l2 import L2_METHODS
    from ._validation import normalize_p

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(p, (list, tuple)):
        ps = [normalize_p(q, allowed=(1, 2, np.inf)) for q in p]
    else:
        ps = [normalize_p(p, allowed=(1, 2, np.inf))]
    if not ps:
        raise ValueError("p must name at least one norm order")
    ps = list(dict.fromkeys(ps))
    if isinstance(include, str):
        include = (include,)
    if not isinstance(include, (tuple, list, set, frozenset)):
        raise TypeError(f"include must be a tuple of strings, got {type(include).__name__}")
    for k in include:
        try:
            check_choice(k, "include", _INCLUDE)
        except ValueError:
            raise ValueError(f"include may contain {_INCLUDE}, got {tuple(include)}") from None
    l2_method = check_choice(l2_method, "l2_method", L2_METHODS)
    input_shape = _check_sample_shape(input_shape)

    named = [(name, m) for name, m in model.named_modules()
             if _kind(m, nn) != "other" or (not list(m.children()) and name)]
    seen = {}
    handles = []

    def make_hook(key):
        def hook(module, inputs, output):
            if key not in seen and inputs and isinstance(inputs[0], torch.Tensor):
                out = output.shape if isinstance(output, torch.Tensor) else None
                seen[key] = (tuple(inputs[0].shape), None if out is None else tuple(out))
        return hook

    flags = {m: m.training for m in model.modules()}
    try:
        for name, m in named:
            if _kind(m, nn) in include:
                handles.append(m.register_forward_hook(make_hook(name)))
        param = next(model.parameters(), None)
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        device = param.device if param is not None else "cpu"
        model.eval()
        with torch.no_grad():
            _forward_zeros(model, input_shape, dtype, device)
    finally:
        for h in handles:
            h.remove()
        for m, flag in flags.items():
            m.training = flag

    table = NormTable()
    for name, m in named:
        kind = _kind(m, nn)
        if kind not in include:
            continue
        shapes = seen.get(name)
        if kind == "other":
            table.append(_row(name, m, None, None, None, None, False, "not a fixed linear map",
                              None if shapes is None else shapes[0][1:]))
            continue
        if shapes is None:
            table.extend(_row(name, m, q, None, None, None, False, "not called in forward", None)
                         for q in ps)
            continue
        in_shape, out_shape = shapes
        if kind == "conv":
            table.extend(_conv_rows(name, m, in_shape, out_shape, ps, l2_method))
        elif kind == "pool":
            table.extend(_pool_rows(name, m, in_shape, ps, l2_method))
        elif kind == "linear":
            from ._api import linear_norm

            for q in ps:
                v = linear_norm(m.weight, q)
                table.append(_row(name, m, q, v, v, v, True, "exact", in_shape[1:]))
        else:  # batch norm
            from ._api import bn_norm

            if m.running_var is None:
                table.extend(_row(name, m, q, None, None, None, False,
                                  "batch statistics (not a fixed linear map)", in_shape[1:])
                             for q in ps)
                continue
            v = bn_norm(m.weight if m.affine else None, m.running_var, m.eps)
            method = "running_stats (model in train mode)" if flags[m] else "running_stats"
            table.extend(_row(name, m, q, v, v, v, True, method, in_shape[1:]) for q in ps)
    return table
