"""Public entry points: operator norms of convolution, linear and batch-norm layers."""

from __future__ import annotations

import math

import numpy as np

from .._utils.validation import (
    check_allocation,
    check_bool,
    check_choice,
    check_int,
    check_real,
)
from ._l2 import L2_METHODS
from ._lp import _cols_select_max, _rows_select_max, conv_fro_norm, conv_lp_norm, fused_max
from ._patterns import axis_patterns
from ._result import NormResult, safe_scale, unscale
from ._validation import (
    _is_torch,
    as_float64_array,
    check_finite,
    normalize_conv_args,
    normalize_linear_weight,
    normalize_p,
)

__all__ = ["conv_norm", "linear_norm", "bn_norm", "closed_form_is_exact"]


def conv_norm(weight, p=np.inf, input_shape=None, stride=1, padding=0, dilation=1, groups=1,
              padding_mode="zeros", *, transposed=False, output_padding=0, l2_method="auto",
              n_iter=6, power_iter=100, return_details=False):
    """Operator norm of a convolution layer (bias ignored): exact for p = 1, inf and "fro".

    The layer is PyTorch's ``ConvNd`` (or ``ConvTransposeNd`` with ``transposed=True``)
    seen as a linear map on inputs of spatial size ``input_shape``. For ``p=1`` and
    ``p=inf`` the exact norm (max absolute column / row sum of the operator matrix) is
    computed from the per-axis boundary classes of the layer, without building the matrix,
    for every stride, dilation, (asymmetric) padding, padding mode and groups setting.
    ``p=2`` returns a certified upper bound (or the exact value where the structure allows
    it); ask for ``return_details=True`` to get the whole interval.

    Parameters
    ----------
    weight : ndarray or torch.Tensor of ndim 3, 4 or 5
        ``(C_out, C_in/groups, *k)`` for a convolution, ``(C_in, C_out/groups, *k)`` for a
        transposed convolution (PyTorch layouts). Cast to float64; integers are accepted.
    p : {1, 2, inf, "fro"} or {"1", "2", "inf"}, default=inf
        ``"fro"`` is the Frobenius norm of the operator matrix.
    input_shape : int or tuple of int
        Spatial size of the layer's input (an int for every axis, a D-tuple, or a full
        ``(C, *spatial)`` / ``(B, C, *spatial)`` shape whose C is checked). Required, except
        for ``p=2`` with ``l2_method="spatial_gram"`` (a size-free bound).
    stride, dilation : int or tuple of int, default=1
    padding : int, tuple, tuple of (left, right) pairs, "same" or "valid", default=0
    groups : int, default=1
    padding_mode : {"zeros", "circular", "reflect", "replicate"}, default="zeros"
    transposed : bool, default=False
        Treat the layer as ``ConvTransposeNd`` (zero padding only, as in PyTorch).
    output_padding : int or tuple of int, default=0
        Transposed convolutions only.
    l2_method : {"auto", "fft_svd", "gram", "spatial_gram", "power", "holder"}, default="auto"
        How to bound the l2 norm (``p=2`` only).
    n_iter, power_iter : int
        Gram iterations and power iterations for ``p=2``.
    return_details : bool, default=False
        Return a :class:`NormResult` (value, certified interval, exactness, method, number
        of boundary classes per axis) instead of a float.

    Returns
    -------
    norm : float or NormResult

    Raises
    ------
    TypeError
        A wrong type: complex or non-numeric weight, non-integer settings, a non-string
        ``padding_mode`` or ``l2_method``, a non-bool flag.
    ValueError
        A bad value (see ``normalize_conv_args``): unknown ``p``/``l2_method``, NaN/inf
        weights, settings PyTorch rejects, and inputs whose l2 computation (FFT, power
        iteration) cannot fit in memory (use ``l2_method="spatial_gram"`` or ``"holder"``).

    Warns
    -----
    NormOverflowWarning
        When the norm itself is beyond the float64 range (it is then ``inf``). Weights of any
        smaller magnitude give the scaled answer (they are rescaled by an exact power of two).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms import conv_norm
    >>> w = np.array([[[[1.0, -2.0, 1.0]]]])             # one 1x3 filter
    >>> conv_norm(w, np.inf, input_shape=(1, 8), padding=(0, 1))
    4.0
    >>> conv_norm(w, 1, input_shape=(1, 2), padding=(0, 1))  # two pixels: no pixel sees every tap
    3.0
    >>> r = conv_norm(w, "inf", (1, 8), padding=(0, 1), padding_mode="replicate",
    ...               return_details=True)
    >>> r.value, r.exact, r.n_patterns                  # replicate merges taps at the border
    (4.0, True, (1, 3))
    """
    p = normalize_p(p)
    return_details = check_bool(return_details, "return_details")
    check_choice(l2_method, "l2_method", L2_METHODS)
    n_iter = check_int(n_iter, "n_iter", low=1)
    power_iter = check_int(power_iter, "power_iter", low=0)
    if p == 2:
        from ._l2 import conv_l2  # the l2 machinery is imported only when asked for

        w, geom = normalize_conv_args(weight, input_shape, stride, padding, dilation, groups,
                                      padding_mode, transposed, output_padding,
                                      require_input_shape=l2_method != "spatial_gram")
        res = conv_l2(w, geom, method=l2_method, n_iter=n_iter, power_iter=power_iter)
        # ``value`` is the certified upper bound, or the exact norm; only l2_method="power"
        # (a lower estimate, with upper = inf) reports its estimate instead
        return res if return_details else float(res.value)

    w, geom = normalize_conv_args(weight, input_shape, stride, padding, dilation, groups,
                                  padding_mode, transposed, output_padding, allow_float32=True,
                                  finite=p == "fro")  # l1/l-inf: the kernels check finiteness
    conv = geom.adjoint_conv() if geom.transposed else geom
    if p == "fro":
        value, method, n_pat = conv_fro_norm(w.astype(np.float64, copy=False), conv), \
            "frobenius", ()  # computed on the weight scaled near 1 and scaled back
    else:
        # rows of the layer are columns of its adjoint: swap the pattern kind when transposed
        kind = "row" if p == np.inf else "col"
        if geom.transposed:
            kind = "col" if kind == "row" else "row"
        value, n_pat = conv_lp_norm(w, conv, kind, check_finite=True)
        method = "boundary_classes"
    value = float(value)
    if return_details:
        return NormResult(value, value, value, True, method, n_pat)
    return value


def linear_norm(weight, p=np.inf):
    """Operator norm of a linear layer ``x -> W x`` (bias ignored), exact for every p.

    Parameters
    ----------
    weight : ndarray or torch.Tensor of shape (out_features, in_features)
    p : {1, 2, inf, "fro"} or {"1", "2", "inf"}, default=inf
        ``1``: largest absolute column sum; ``inf``: largest absolute row sum; ``2``: largest
        singular value (top eigenvalue of the smaller Gram matrix, LAPACK); ``"fro"``:
        Frobenius norm.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms import linear_norm
    >>> W = np.array([[1.0, -2.0], [3.0, 4.0]])
    >>> linear_norm(W, 1), linear_norm(W, np.inf), round(linear_norm(W, 2), 6)
    (6.0, 7.0, 5.116673)
    """
    p = normalize_p(p)
    w = normalize_linear_weight(weight, allow_float32=p in (1, np.inf))
    one = np.ones((1, 1))
    if p == 1:  # a linear layer is a 1x1 conv on a single pixel: same fused kernels
        return fused_max(_cols_select_max, w.reshape(1, w.shape[0], w.shape[1], 1), one,
                         what="the l1 norm of weight")
    if p == np.inf:
        return fused_max(_rows_select_max, w.reshape(w.shape[0], w.shape[1], 1), one,
                         what="the l-inf norm of weight")
    w = w.astype(np.float64, copy=False)
    scale = safe_scale(w)  # extreme magnitudes: squares computed near 1, exactly scaled back
    if scale != 1.0:
        w = w / scale
    if p == "fro":
        return unscale(np.sqrt(np.sum(w * w)), scale, "the Frobenius norm of weight")
    # sigma_1^2 is the top eigenvalue of the smaller Gram matrix: one BLAS-3 product and a
    # one-eigenvalue LAPACK call instead of a full SVD (minutes for a 4096 x 9216 layer);
    # the weight is brought near 1 by an exact power of two so the squares cannot overflow
    from scipy.linalg import eigh

    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    n = gram.shape[0]
    top = eigh(gram, eigvals_only=True, subset_by_index=[n - 1, n - 1])[0]
    return unscale(np.sqrt(max(top, 0.0)), scale, "the l2 norm of weight")


def bn_norm(weight, running_var=None, eps=1e-5):
    """Operator norm of an eval-mode batch-norm layer: ``max_c |gamma_c| / sqrt(var_c + eps)``.

    In eval mode batch norm is the diagonal map ``x_c -> gamma_c x_c / sqrt(var_c + eps)`` plus
    a shift, so all p-norms coincide.

    Parameters
    ----------
    weight : ndarray, torch.Tensor, None or torch.nn.BatchNorm module
        The scale ``gamma`` (``None`` for ``affine=False``: ``gamma = 1``), or a
        ``BatchNorm1d/2d/3d`` module, whose ``weight``, ``running_var`` and ``eps`` are used.
    running_var : ndarray or torch.Tensor
        Running variance (required unless a module is passed).
    eps : float, default=1e-5

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms import bn_norm
    >>> bn_norm(np.array([0.5, -3.0]), np.array([0.25, 4.0]), eps=0.0)
    1.5
    """
    if hasattr(weight, "running_var") and _is_torch(weight):
        module = weight
        if module.running_var is None:
            raise ValueError(
                f"{type(module).__name__} has no running statistics "
                "(track_running_stats=False): it is not a fixed linear map"
            )
        running_var, eps = module.running_var, module.eps
        weight = module.weight
    if running_var is None:
        raise ValueError("running_var is required (or pass the BatchNorm module itself)")
    var = as_float64_array(running_var, "running_var").ravel()
    check_finite(var, "running_var")
    eps = check_real(eps, "eps")
    if var.size == 0:
        raise ValueError("running_var is empty")
    denom = var + eps
    if np.any(denom <= 0):
        raise ValueError("running_var + eps must be positive for every channel")
    if weight is None:
        gamma = np.ones_like(var)
    else:
        gamma = as_float64_array(weight, "weight").ravel()
        check_finite(gamma, "weight")
        if gamma.shape != var.shape:
            raise ValueError(
                f"weight has {gamma.size} channels but running_var has {var.size}"
            )
    # |gamma_c| / sqrt(var_c + eps) on mantissas and exponents (frexp/ldexp are exact), so
    # neither the square root nor the quotient can overflow or underflow on the way
    g_man, g_exp = np.frexp(np.abs(gamma))
    d_man, d_exp = np.frexp(denom)
    odd = d_exp % 2
    with np.errstate(over="ignore"):
        ratio = np.ldexp(g_man / np.sqrt(d_man * (1 + odd)), g_exp - (d_exp - odd) // 2)
    value = float(np.max(ratio))
    if np.isinf(value):  # only when the true value is beyond the float64 range
        i = int(np.argmax(ratio))
        return unscale(g_man[i] / np.sqrt(d_man[i] * (1 + odd[i])), 2.0 ** 1023,
                       "the norm of the batch norm")  # inf, with a NormOverflowWarning
    return value


def closed_form_is_exact(kernel_size, input_shape, stride=1, padding=0, dilation=1,
                         padding_mode="zeros"):
    """Whether the closed-form l1 / l-inf formulas are exact for *every* weight of a layer.

    The closed forms sum ``|K|`` over whole kernels: l-inf = largest l1 norm of an output
    filter; l1 = largest, over input slices and (per axis) tap residue classes
    ``a * d mod s``, of the sum over the output channels of a group. They are what the
    boundary-class algorithm reduces to when every axis has an output row that receives all
    taps on distinct pixels (l-inf) and an input pixel for every residue class that receives
    exactly that class, each tap once, while no pixel receives more (l1).

    Parameters
    ----------
    kernel_size, input_shape : int or tuple of int
        Spatial sizes (D = the length of the tuple; an int for both means D = 1).
    stride, padding, dilation, padding_mode
        As in :func:`conv_norm`.

    Returns
    -------
    (l1_exact, linf_exact) : tuple of bool

    Examples
    --------
    >>> from normgraph.norms import closed_form_is_exact
    >>> closed_form_is_exact(3, 32, padding=1)
    (True, True)
    >>> closed_form_is_exact(3, 3, padding=0)          # only one output: the l1 form overestimates
    (False, True)
    >>> closed_form_is_exact((3, 3), (2, 2), padding=1, padding_mode="circular")
    (False, False)
    """
    if isinstance(kernel_size, (tuple, list)):
        ks = tuple(kernel_size)
    elif isinstance(input_shape, (tuple, list)):
        ks = (kernel_size,) * len(input_shape)
    else:
        ks = (kernel_size,)
    if len(ks) not in (1, 2, 3):
        raise ValueError(f"kernel_size must have 1, 2 or 3 entries, got {kernel_size!r}")
    ks = tuple(check_int(k, "kernel_size", low=1) for k in ks)
    check_allocation(math.prod(ks) + 4 * max(ks) ** 2, "kernel_size",
                     what="the kernel and its incidence matrices")
    _, geom = normalize_conv_args(np.zeros((1, 1) + ks), input_shape, stride, padding,
                                  dilation, 1, padding_mode)
    l1_ok = linf_ok = True
    for t in range(geom.ndim):
        n, m, k = geom.input_shape[t], geom.output_shape[t], ks[t]
        s, d, pl = geom.stride[t], geom.dilation[t], geom.padding[t][0]
        rows = axis_patterns(n, m, k, s, d, pl, padding_mode, "row", False)
        eye = np.eye(k)
        linf_ok &= any(A.shape == (k, k) and np.array_equal(A, eye) for A in rows.matrices)
        cols = axis_patterns(n, m, k, s, d, pl, padding_mode, "col", False)
        residue = (np.arange(k) * d) % s
        classes = {tuple(np.flatnonzero(residue == r)) for r in np.unique(residue)}
        found = set()
        for A in cols.matrices:
            cover = A.sum(axis=0)
            taps = np.flatnonzero(cover)
            if cover.max() > 1 or len(set(residue[taps])) > 1:
                l1_ok = False  # a tap counted twice, or taps of two classes on one pixel
            if np.all(A.sum(axis=1) == 1):
                found.add(tuple(taps))
        l1_ok &= classes <= found
    return bool(l1_ok), bool(linf_ok)
