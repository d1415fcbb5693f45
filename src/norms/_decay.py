"""Norm decay (Liang & Huang, AAAI 2021): penalise the exact l1 or l-inf norm of every layer.

At every step the exact norm of each conv/linear layer is recomputed from its boundary
classes, and a subgradient of the norm *at the maximising row or column only* is added to
the layer's ``.grad`` (through a moving average ``h``). The weights themselves are never
written by :meth:`NormDecay.step`. torch is imported only when a ``NormDecay`` is built.

Subgradients (spec 2.7). For the maximising row (l-inf) or column (l1) pattern tuple, let
``M = K x_1 A_1 ... x_D A_D`` be the kernel summed over each group of taps that land on the
same pixel. The norm is ``sum |M|`` over the maximising output channel (l-inf) or input
slice (l1), so its derivative with respect to a tap is the sum of ``sign(M)`` over the
groups containing that tap: ``S x_1 A_1^T ... x_D A_D^T`` with ``S = sign(M)`` restricted to
the maximiser. With zero padding this is ``sign(K)`` on the taps of the maximising pattern.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._utils.numeric import max_abs, power_of_two_scale

__all__ = ["NormDecay", "project_l1_ball"]


def project_l1_ball(v, radius=1.0):
    """Euclidean projection onto the l1 ball ``{x : ||x||_1 <= radius}`` (exact, by sorting).

    Duchi et al. (2008): sort ``|v|`` decreasingly and soft-threshold,
    ``x = sign(v) max(|v| - tau, 0)``; points inside the ball are returned unchanged.
    ``O(n log n)``. The computation is arranged so that it stays exact and feasible at any
    magnitude of ``v`` and ``radius`` (see ``_project_flat``): the result satisfies
    ``||x||_1 <= radius`` (summed exactly) and ``x`` is the projection up to rounding.

    Parameters
    ----------
    v : array-like or torch.Tensor
        Any shape; projected as one flattened vector. Real numbers (bool and integers are
        cast), finite.
    radius : float, default=1.0
        Non-negative finite radius.

    Returns
    -------
    x : ndarray or torch.Tensor
        Same shape as ``v`` (a float64 array for array input; for a tensor, a tensor of its
        dtype and device).

    Raises
    ------
    TypeError
        A non-numeric or complex ``v``, a non-real ``radius``.
    ValueError
        NaN/inf in ``v``, an empty ``v``, a negative or non-finite ``radius``.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms import project_l1_ball
    >>> project_l1_ball(np.array([3.0, -1.0, 0.5]), 2.0)
    array([2., 0., 0.])
    >>> project_l1_ball(np.array([0.5, -0.5]), 2.0)
    array([ 0.5, -0.5])
    >>> project_l1_ball(np.array([3e300, -1e300]), 2e300) / 1e300
    array([2., 0.])
    """
    from .._utils.validation import check_real
    from ._validation import _is_torch, as_float64_array, check_finite

    radius = check_real(radius, "radius", low=0)
    y = as_float64_array(v, "v")
    if y.size == 0:
        raise ValueError(f"v is empty (shape {y.shape})")
    check_finite(y, "v")
    x = _project_flat(y.ravel(), radius).reshape(y.shape)
    if _is_torch(v):
        import torch

        return torch.as_tensor(x, dtype=v.dtype, device=v.device)
    return x


def _project_flat(y, radius):
    """Projection of a finite vector onto the l1 ball, exact and feasible at any magnitude.

    With ``u`` the sorted ``|y|`` (decreasing), the support size is
    ``rho = max{i : D_i < r}`` with ``D_i = sum_{j <= i} (u_j - u_i)``, and the kept entries
    are ``x_i = (u_i - u_rho) + (r - D_rho) / rho``. ``D`` is accumulated from the
    non-negative increments ``i (u_i - u_{i+1})`` on ``|y|`` divided by a power of two near
    its maximum (no overflow, no cancellation), and every kept quantity is at most ``r``,
    so nothing overflows in the original units either (nor underflows before the result
    itself does). A final correction lowers the shared threshold until the exactly summed
    ``||x||_1`` is at most ``r``.
    """
    a = np.abs(y)
    scale = power_of_two_scale(max_abs(a))
    u_all = a / scale  # exact
    with np.errstate(over="ignore"):
        total = float(np.sum(u_all)) * scale
        if abs(total - radius) <= 1e-12 * radius:  # too close to call: sum exactly
            total = math.fsum(u_all.tolist()) * scale
    if total <= radius:
        return y + 0.0
    if radius == 0.0:
        return np.zeros_like(y)
    order = np.argsort(-u_all, kind="stable")
    u = u_all[order]
    D = np.concatenate(([0.0], np.cumsum(np.arange(1, u.size) * (u[:-1] - u[1:]))))
    with np.errstate(over="ignore"):
        rho = int(np.searchsorted(D * scale, radius, side="left"))  # D_i * scale < r
    rho = max(rho, 1)
    d = (u[:rho] - u[rho - 1]) * scale  # <= D_rho < r: no overflow
    shift = (radius - D[rho - 1] * scale) / rho
    kept = np.maximum(d + shift, 0.0)
    for _ in range(4):  # exact-sum feasibility: lower the threshold by the excess
        excess = math.fsum(kept.tolist()) - radius
        if excess <= 0.0:
            break
        kept = np.maximum(kept - np.nextafter(excess / rho, np.inf), 0.0)
    x = np.zeros_like(y)
    x[order[:rho]] = np.copysign(kept, y[order[:rho]])
    return x + 0.0  # no negative zeros


# ----------------------------------------------------------------------------------------
# subgradients of the exact norms
# ----------------------------------------------------------------------------------------
def _conv_subgradient(w, geom, p):
    """Norm value, subgradient and support mask of a conv weight (spec 2.7).

    Returns ``(value, grad, mask, pats)`` where ``grad``/``mask`` have the weight's shape.
    """
    from ._patterns import axis_patterns

    conv = geom.adjoint_conv() if geom.transposed else geom
    kind = "row" if p == np.inf else "col"
    if geom.transposed:  # rows of a transposed layer are columns of its adjoint conv
        kind = "col" if kind == "row" else "row"
    D = conv.ndim
    pats = [axis_patterns(conv.input_shape[t], conv.output_shape[t], conv.kernel_size[t],
                          conv.stride[t], conv.dilation[t], conv.padding[t][0],
                          conv.padding_mode, kind, True).matrices for t in range(D)]
    g = conv.groups
    c_out, cin_g = w.shape[:2]
    best = (-1.0, None, None)
    for combo in itertools.product(*(range(len(mats)) for mats in pats)):
        M = w
        for t in range(D):
            M = np.tensordot(M, pats[t][combo[t]], axes=([2], [1]))
        A = np.abs(M).reshape(c_out, cin_g, -1).sum(axis=2)  # (C_out, C_in/g)
        if kind == "row":
            sums = A.sum(axis=1)
            idx = int(np.argmax(sums))
            val = float(sums[idx])
        else:
            sums = A.reshape(g, c_out // g, cin_g).sum(axis=1)  # (groups, C_in/g)
            idx = int(np.argmax(sums))
            val = float(sums.ravel()[idx])
        if val > best[0]:
            best = (val, combo, (idx, M))
    value, combo, (idx, M) = best
    sel = np.zeros(M.shape, dtype=bool)
    if kind == "row":
        sel[idx] = True
    else:
        gi, jj = divmod(idx, cin_g)
        sel[gi * (c_out // g):(gi + 1) * (c_out // g), jj] = True
    S = np.where(sel, np.sign(M), 0.0)
    ones = sel.astype(np.float64)
    for t in range(D):
        A = pats[t][combo[t]]
        S = np.tensordot(S, A, axes=([2], [0]))
        ones = np.tensordot(ones, A, axes=([2], [0]))
    selection = all(np.all(pats[t][combo[t]].sum(axis=1) == 1)
                    and np.all(pats[t][combo[t]].sum(axis=0) <= 1) for t in range(D))
    return value, S, ones > 0, selection


def _linear_subgradient(w, p):
    if p == np.inf:
        sums = np.abs(w).sum(axis=1)
        i = int(np.argmax(sums))
        mask = np.zeros(w.shape, dtype=bool)
        mask[i] = True
    else:
        sums = np.abs(w).sum(axis=0)
        i = int(np.argmax(sums))
        mask = np.zeros(w.shape, dtype=bool)
        mask[:, i] = True
    return float(sums[i]), np.where(mask, np.sign(w), 0.0), mask


def _bn_subgradient(gamma, var, eps):
    scale = 1.0 / np.sqrt(var + eps)
    vals = np.abs(gamma) * scale
    i = int(np.argmax(vals))
    grad = np.zeros_like(gamma)
    grad[i] = np.sign(gamma[i]) * scale[i]
    mask = np.zeros(gamma.shape, dtype=bool)
    mask[i] = True
    return float(vals[i]), grad, mask


class NormDecay:
    """Norm decay regulariser: adds the subgradient of each layer's exact l1/l-inf norm to ``.grad``.

    Call :meth:`step` between ``loss.backward()`` and ``optimizer.step()``. Each conv and
    linear layer (and batch norm with ``include_bn``) gets ``h <- moving average of the
    subgradient of ||T||_p at its maximising row/column`` added to its weight gradient. The
    conv norms depend on the input size: each layer's input size is recorded by a forward
    hook at every forward pass, so run a forward pass before the first :meth:`step`.

    Parameters
    ----------
    model : torch.nn.Module
    p : {1, inf} or {"1", "inf"}, default=inf
    beta : float, default=1e-3
        Regularisation strength (the paper sweeps 1e-5 ... 1e-1).
    gamma : float, default=0.5
        Averaging factor of ``h``, in [0, 1).
    variant : {"paper", "code"}, default="paper"
        ``"paper"`` (Algorithm 1): ``h <- gamma h + (1 - gamma) p`` and ``grad += beta/N h``
        with N the number of regularised layers. ``"code"`` (the authors' released code):
        ``h <- gamma h``, then ``h <- p`` on the maximiser's entries, and ``grad += beta h``.
    include_bn : bool, default=False
        Also regularise batch-norm scales ``gamma_c / sqrt(var_c + eps)``.
    proj_radius : float or None, default=None
        Radius for :meth:`project` (projection of the maximising row/column onto the l1
        ball, applied to the weights *after* ``optimizer.step()``).
    input_shape : tuple of int, optional
        Shape of one input sample (no batch axis): if given, one ``torch.zeros`` forward
        pass in eval/no-grad mode records the layer input sizes right away (training flags
        restored). Otherwise the first training forward pass records them.

    Attributes
    ----------
    norms_ : dict
        ``{layer name: norm}`` computed by the last :meth:`step`.

    Examples
    --------
    >>> import torch
    >>> from normgraph.norms import NormDecay
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Flatten(),
    ...                           torch.nn.Linear(32, 3))
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> decay = NormDecay(net, p="inf", beta=1e-2)
    >>> loss = net(torch.randn(5, 1, 4, 4)).square().mean()
    >>> loss.backward()
    >>> decay.step()          # adds to .grad, leaves the weights alone
    >>> opt.step()
    >>> sorted(decay.norms_)
    ['0', '2']
    >>> decay.remove()
    """

    def __init__(self, model, p=np.inf, beta=1e-3, gamma=0.5, variant="paper", include_bn=False,
                 proj_radius=None, input_shape=None):
        from torch import nn

        from .._utils.validation import check_bool, check_choice, check_scalar_param
        from ._torch import _check_sample_shape
        from ._validation import normalize_p

        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.p = normalize_p(p, allowed=(1, np.inf))
        self.beta = check_scalar_param(beta, "beta", low=0)
        self.gamma = check_scalar_param(gamma, "gamma", low=0, high=1, high_inclusive=False)
        self.variant = check_choice(variant, "variant", ("paper", "code"))
        self.include_bn = check_bool(include_bn, "include_bn")
        self.proj_radius = (None if proj_radius is None
                            else check_scalar_param(proj_radius, "proj_radius", low=0))
        self.model = model
        self._layers = []
        for name, m in model.named_modules():
            if isinstance(m, nn.modules.conv._ConvNd):
                self._layers.append((name, m, "conv"))
            elif isinstance(m, nn.Linear):
                self._layers.append((name, m, "linear"))
            elif (self.include_bn and isinstance(m, nn.modules.batchnorm._BatchNorm)
                  and m.affine and m.track_running_stats):
                self._layers.append((name, m, "bn"))
        if not self._layers:
            raise ValueError("model has no Conv/ConvTranspose/Linear layer to regularise")
        self._shapes = {}
        self._h = {}
        self.norms_ = {}
        self._handles = [m.register_forward_hook(self._make_hook(name))
                         for name, m, kind in self._layers if kind == "conv"]
        if input_shape is not None:
            self._dry_run(_check_sample_shape(input_shape))

    def _dry_run(self, input_shape):
        import torch

        from ._torch import _forward_zeros

        flags = {m: m.training for m in self.model.modules()}
        param = next(self.model.parameters())
        try:
            self.model.eval()
            with torch.no_grad():
                _forward_zeros(self.model, input_shape, param.dtype, param.device)
        finally:
            for m, flag in flags.items():
                m.training = flag

    def _make_hook(self, name):
        def hook(module, inputs, output):
            D = module.weight.dim() - 2
            self._shapes[name] = (tuple(inputs[0].shape[-D:]), tuple(output.shape[-D:]))
        return hook

    def remove(self):
        """Remove the forward hooks (the object can no longer compute conv norms).

        Examples
        --------
        >>> import torch
        >>> from normgraph.norms import NormDecay
        >>> net = torch.nn.Conv1d(1, 1, 3)
        >>> d = NormDecay(net); d.remove(); len(net._forward_hooks)
        0
        """
        for h in self._handles:
            h.remove()
        self._handles = []

    def _geometry(self, name, m):
        from ._validation import normalize_conv_args

        if name not in self._shapes:
            raise RuntimeError(
                f"layer {name!r} has not seen a forward pass yet: run the model before "
                "NormDecay.step() (conv norms depend on the input size)")
        n, out = self._shapes[name]
        D = len(n)
        w = m.weight.detach()
        if m.transposed:
            k, s, d, pad = m.kernel_size, m.stride, m.dilation, m.padding
            op = tuple(out[t] - ((n[t] - 1) * s[t] - 2 * pad[t] + d[t] * (k[t] - 1) + 1)
                       for t in range(D))
            return normalize_conv_args(w, n, m.stride, m.padding, m.dilation, m.groups, "zeros",
                                       True, op)
        return normalize_conv_args(w, n, m.stride, m.padding, m.dilation, m.groups,
                                   m.padding_mode)

    def _subgradient(self, name, m, kind):
        """(norm, subgradient, mask, is_selection) of one layer as float64 arrays."""
        from ._result import safe_scale, unscale
        from ._validation import as_float64_array

        if kind in ("conv", "linear"):
            # the subgradient (signs) is scale-free; the norm is computed on the weight
            # brought near 1 when its magnitude is extreme, and scaled back
            if kind == "conv":
                w, geom = self._geometry(name, m)
            else:
                w = as_float64_array(m.weight)
            scale = safe_scale(w)
            w = w / scale if scale != 1.0 else w
            if kind == "conv":
                val, grad, mask, selection = _conv_subgradient(w, geom, self.p)
            else:
                (val, grad, mask), selection = _linear_subgradient(w, self.p), True
            return unscale(val, scale, f"the norm of layer {name!r}"), grad, mask, selection
        gamma = as_float64_array(m.weight)
        var = as_float64_array(m.running_var)
        val, grad, mask = _bn_subgradient(gamma, var, float(m.eps))
        return val, grad, mask, True

    def step(self):
        """Add the decay term to every regularised layer's ``.grad`` (weights untouched).

        Examples
        --------
        >>> import torch
        >>> from normgraph.norms import NormDecay
        >>> lin = torch.nn.Linear(2, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = lin.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.5]]))
        >>> d = NormDecay(lin, p="inf", beta=1.0, gamma=0.0)
        >>> d.step(); lin.weight.grad
        tensor([[ 1., -1.],
                [ 0.,  0.]])
        """
        import torch

        N = len(self._layers)
        for name, m, kind in self._layers:
            val, grad, mask, _ = self._subgradient(name, m, kind)
            self.norms_[name] = val
            h = self._h.get(name)
            if h is None:
                h = np.zeros(grad.shape)
            if self.variant == "paper":
                h = self.gamma * h + (1.0 - self.gamma) * grad
                scale = self.beta / N
            else:
                h = self.gamma * h
                h[mask] = grad[mask]
                scale = self.beta
            self._h[name] = h
            param = m.weight
            add = torch.as_tensor(scale * h, dtype=param.dtype, device=param.device)
            if param.grad is None:
                param.grad = add.clone()
            else:
                param.grad.add_(add)

    def project(self):
        """Project each layer's maximising row/column onto the l1 ball of radius ``proj_radius``.

        Call after ``optimizer.step()``; this (unlike :meth:`step`) writes the weights. With
        zero padding the maximising row/column is a set of taps and is projected exactly; when
        border taps are merged (other padding modes) the slice is scaled down instead, which
        also brings its norm to the radius.

        Examples
        --------
        >>> import torch
        >>> from normgraph.norms import NormDecay
        >>> lin = torch.nn.Linear(2, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = lin.weight.copy_(torch.tensor([[3.0, -1.0], [0.5, 0.5]]))
        >>> NormDecay(lin, p="inf", proj_radius=2.0).project(); lin.weight.tolist()
        [[2.0, 0.0], [0.5, 0.5]]
        """
        import torch

        if self.proj_radius is None:
            raise ValueError("proj_radius was not set: NormDecay(..., proj_radius=c)")
        c = self.proj_radius
        for name, m, kind in self._layers:
            if kind == "bn":
                continue
            val, _, mask, selection = self._subgradient(name, m, kind)
            if val <= c:
                continue
            w = m.weight.detach().cpu().double().numpy().copy()
            if selection:
                w[mask] = _project_flat(w[mask], c)
            else:
                w[mask] *= c / val
            with torch.no_grad():
                m.weight.copy_(torch.as_tensor(w, dtype=m.weight.dtype))

    def project_bn(self, max_norm=5.0):
        """Rescale batch-norm scales so that ``|gamma_c| / sqrt(var_c + eps) <= max_norm``.

        Examples
        --------
        >>> import torch
        >>> from normgraph.norms import NormDecay
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
        >>> with torch.no_grad():
        ...     _ = net[1].weight.fill_(10.0)
        >>> NormDecay(net, include_bn=True).project_bn(5.0)
        >>> [round(v, 3) for v in net[1].weight.tolist()]
        [5.0, 5.0]
        """
        import torch

        from .._utils.validation import check_scalar_param

        max_norm = check_scalar_param(max_norm, "max_norm", low=0)
        for _, m, kind in self._layers:
            if kind != "bn":
                continue
            with torch.no_grad():
                limit = max_norm * torch.sqrt(m.running_var + m.eps)
                m.weight.copy_(torch.clamp(m.weight, -limit, limit))
