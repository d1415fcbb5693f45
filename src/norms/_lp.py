"""Exact l1 / l-inf (and Frobenius) operator norms of a convolution from its boundary classes.

For a tuple of per-axis patterns (P_1..P_D) the contracted kernel is
``M = K x_1 A_1 ... x_D A_D`` (A_t the incidence matrix of P_t); then

* ``||T||_inf = max over row-pattern tuples of max_c sum_{jj, g} |M[c, jj, g]|``
* ``||T||_1   = max over column-pattern tuples of max_{group, jj} sum_{c in group, g} |M|``

Two Numba kernels, one pass over K each:

* *selection* layers (every kept pattern on every axis is a set of distinct singleton groups:
  all zero-padding layers, and the other modes once the interior pattern dominates) commute
  with the absolute value: ``sum_{jj}|K|`` (or ``sum_{c in group}|K|``) per tap, then a
  product with the 0/1 tap masks of every pattern tuple;
* *general* layers (merged taps: reflect/replicate borders, circular wrap on small grids):
  every pattern tuple is a list of product groups over the flattened taps (CSR); for each
  filter slice ``K[c, jj, :]`` (in L1 cache) the group sums, their absolute values and the
  per-tuple totals are accumulated. Cost ``C_out * C_in/g * sum_u nnz(B_u)``.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
from numba import njit

from .._utils.numeric import max_abs, power_of_two_scale
from ._patterns import axis_patterns
from ._result import safe_scale, unscale
from ._validation import check_finite as _check_finite

__all__ = ["conv_fro_norm", "conv_lp_norm", "fused_max", "select_max_rows", "select_max_cols"]


# Reassociation lets LLVM vectorise the |K| reductions (10x on 1x1 convs); no nnan/ninf:
# weights are checked finite at the boundary and the flags must not assume it.
_FASTMATH = {"reassoc", "nsz", "contract", "arcp"}


@njit(cache=True, fastmath=_FASTMATH)
def _rows_select_max(K3, Mt):
    """max_c max_t sum_p (sum_j |K3[c, j, p]|) Mt[p, t]: l-inf over selection-pattern tuples.

    ``K3`` is float32 or float64 (accumulated in float64), ``Mt`` the (P, T) 0/1 tap masks.
    Also returns ``sum |K3|``: finite exactly when every entry is (barring overflow), which
    lets the caller skip a separate finiteness pass.
    """
    C, J, P = K3.shape
    T = Mt.shape[1]
    K2 = K3.reshape(C, J * P)
    buf = np.empty(P)
    best = 0.0
    total = 0.0
    for c in range(C):
        row = K2[c]
        if P < 4:  # few taps (1x1 convs): one vectorised reduction per tap
            for p in range(P):
                acc = 0.0
                for j in range(J):
                    acc += abs(np.float64(row[j * P + p]))
                buf[p] = acc
        else:  # many taps: stream the row once, vectorised across taps
            for p in range(P):
                buf[p] = 0.0
            for j in range(J):
                for p in range(P):
                    buf[p] += abs(np.float64(row[j * P + p]))
        for p in range(P):
            total += buf[p]
        for t in range(T):
            v = 0.0
            for p in range(P):
                v += buf[p] * Mt[p, t]
            if v > best:
                best = v
    return best, total


@njit(cache=True, fastmath=_FASTMATH)
def _cols_select_max(K4, Mt):
    """max_{g, j} max_t sum_p (sum_{c in g} |K4[g, c, j, p]|) Mt[p, t]: l1 over selections."""
    G, Cg, J, P = K4.shape
    T = Mt.shape[1]
    K3 = K4.reshape(G, Cg, J * P)
    buf = np.empty(J * P)
    best = 0.0
    total = 0.0
    for g in range(G):
        for x in range(J * P):
            buf[x] = 0.0
        for c in range(Cg):
            row = K3[g, c]
            for x in range(J * P):
                buf[x] += abs(np.float64(row[x]))
        for x in range(J * P):
            total += buf[x]
        for j in range(J):
            for t in range(T):
                v = 0.0
                for p in range(P):
                    v += buf[j * P + p] * Mt[p, t]
                if v > best:
                    best = v
    return best, total


@njit(cache=True, fastmath=_FASTMATH)
def _group_sums_abs(base, tuple_ptr, row_ptr, taps, out):
    """out[u] += sum over the groups g of tuple u of |sum_{p in g} base[p]|."""
    for u in range(tuple_ptr.shape[0] - 1):
        s = 0.0
        for g in range(tuple_ptr[u], tuple_ptr[u + 1]):
            v = 0.0
            for x in range(row_ptr[g], row_ptr[g + 1]):
                v += base[taps[x]]
            s += abs(v)
        out[u] += s


@njit(cache=True, fastmath=_FASTMATH)
def _rows_general_max(K3, tuple_ptr, row_ptr, taps):
    """l-inf over arbitrary pattern tuples (merged taps): rows of ``B_u K[c, j, :]``.

    Tuple u owns the product groups ``tuple_ptr[u]:tuple_ptr[u+1]``; group g sums the flat taps
    ``taps[row_ptr[g]:row_ptr[g+1]]``. Returns ``(max, sum |K3|)``.
    """
    C, J, P = K3.shape
    U = tuple_ptr.shape[0] - 1
    acc = np.empty(U)
    best = 0.0
    total = 0.0
    for c in range(C):
        acc[:] = 0.0
        for j in range(J):
            base = K3[c, j]
            for p in range(P):
                total += abs(np.float64(base[p]))
            _group_sums_abs(base, tuple_ptr, row_ptr, taps, acc)
        for u in range(U):
            if acc[u] > best:
                best = acc[u]
    return best, total


@njit(cache=True, fastmath=_FASTMATH)
def _cols_general_max(K4, tuple_ptr, row_ptr, taps):
    """l1 over arbitrary pattern tuples: per (group, slice) sums over the group's channels."""
    G, Cg, J, P = K4.shape
    U = tuple_ptr.shape[0] - 1
    acc = np.empty((J, U))
    best = 0.0
    total = 0.0
    for g in range(G):
        acc[:, :] = 0.0
        for c in range(Cg):
            for j in range(J):
                base = K4[g, c, j]
                for p in range(P):
                    total += abs(np.float64(base[p]))
                _group_sums_abs(base, tuple_ptr, row_ptr, taps, acc[j])
        for j in range(J):
            for u in range(U):
                if acc[j, u] > best:
                    best = acc[j, u]
    return best, total


def select_max_rows(K3, Mt):
    """Public wrapper of the fused l-inf kernel: ``(max, sum |K3|)`` (see ``_rows_select_max``).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._lp import select_max_rows
    >>> select_max_rows(np.array([[[1.0], [-2.0]], [[0.5], [0.5]]]), np.ones((1, 1)))
    (3.0, 4.0)
    """
    best, total = _rows_select_max(K3, Mt)
    return float(best), float(total)


def select_max_cols(K4, Mt):
    """Public wrapper of the fused l1 kernel: ``(max, sum |K4|)`` (see ``_cols_select_max``).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._lp import select_max_cols
    >>> select_max_cols(np.array([[[[1.0], [-2.0]], [[0.5], [0.5]]]]), np.ones((1, 1)))
    (2.5, 4.0)
    """
    best, total = _cols_select_max(K4, Mt)
    return float(best), float(total)


def _group_tables(pats, kernel_size):
    """CSR description of every pattern tuple's product groups over the flattened taps."""
    strides = np.cumprod((1,) + tuple(kernel_size[::-1]))[::-1][1:]  # C-order tap strides
    group_sets = [[[np.flatnonzero(row) for row in A] for A in p.matrices] for p in pats]
    tuple_ptr, row_ptr, taps = [0], [0], []
    for combo in itertools.product(*group_sets):
        for groups in itertools.product(*combo):
            flat = np.zeros(1, dtype=np.int64)
            for t, g in enumerate(groups):
                flat = (flat[:, None] + g[None, :] * strides[t]).ravel()
            taps.extend(flat.tolist())
            row_ptr.append(len(taps))
        tuple_ptr.append(len(row_ptr) - 1)
    return (np.asarray(tuple_ptr, dtype=np.int64), np.asarray(row_ptr, dtype=np.int64),
            np.asarray(taps, dtype=np.int64))


def _mask_tuples(masks):
    """All tuples of per-axis tap masks as the columns of a (prod k, n_tuples) 0/1 matrix."""
    cols = []
    for combo in itertools.product(*masks):
        outer = combo[0]
        for m in combo[1:]:
            outer = np.multiply.outer(outer, m)
        cols.append(np.ravel(outer))
    return np.ascontiguousarray(np.stack(cols, axis=1))


@lru_cache(maxsize=1024)
def _layer_plan(input_shape, output_shape, kernel_size, stride, dilation, pad_left, mode, kind,
                prune):
    """What to contract for one layer geometry (cached: networks repeat geometries)."""
    D = len(kernel_size)
    pats = [axis_patterns(input_shape[t], output_shape[t], kernel_size[t], stride[t],
                          dilation[t], pad_left[t], mode, kind, prune) for t in range(D)]
    n_patterns = tuple(p.n_distinct for p in pats)
    if any(len(p.matrices) == 0 for p in pats):
        return "zero", n_patterns, None  # every row (column) reads only zero padding
    if all(p.selection for p in pats):
        Mt = _mask_tuples([p.masks for p in pats])
        Mt.flags.writeable = False
        return "select", n_patterns, Mt
    tables = _group_tables(pats, kernel_size)
    for arr in tables:
        arr.flags.writeable = False
    return "general", n_patterns, tables


_WHAT = {"row": "the l-inf norm of weight", "col": "the l1 norm of weight"}


def fused_max(kernel, w, *plan, what="the norm of weight"):
    """Run a fused l1/l-inf kernel on ``w``, safe for any magnitude of the entries.

    The kernels also return ``sum |w|``: when it is finite nothing overflowed (every partial
    sum is below it) and the result stands. Otherwise ``w`` holds NaN/inf (``ValueError``)
    or huge entries: the kernel is rerun on ``w`` divided by a power of two near its largest
    entry (exact) and the result multiplied back. Sums of absolute values never underflow.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._lp import _rows_select_max, fused_max
    >>> w = np.full((1, 2, 1), 1e308)
    >>> fused_max(_rows_select_max, w / 4, np.ones((1, 1))) == 5e307   # sum |w| overflows
    True
    """
    value, total = kernel(w, *plan)
    if math.isfinite(total):
        return float(value)
    _check_finite(w, "weight")  # raises unless the sum merely overflowed
    scale = power_of_two_scale(max_abs(w))
    value, _ = kernel(w / scale, *plan)
    return unscale(value, scale, what)


def conv_lp_norm(w, geom, kind, prune=True, check_finite=False):
    """Exact ``||T||_inf`` (``kind="row"``) or ``||T||_1`` (``kind="col"``) of a non-transposed conv.

    Parameters
    ----------
    w : ndarray of float64 or float32, shape (C_out, C_in/groups, *k), C-contiguous
        (float32 is read as is and accumulated in float64)
    geom : ConvGeometry with ``transposed=False`` and an input shape
    kind : {"row", "col"}
    prune : bool, default=True
    check_finite : bool, default=False
        Raise ``ValueError`` for NaN/inf weights (for callers that validated everything but
        finiteness: the common path gets it for free from the kernel's ``sum |K|``).

    Returns
    -------
    value : float
        Exact at any magnitude of the weights (see ``fused_max``); a norm beyond the float64
        range is ``inf``, with a ``NormOverflowWarning``.
    n_patterns : tuple of int
        Distinct non-empty patterns per axis (before pruning).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import normalize_conv_args
    >>> from normgraph.norms._lp import conv_lp_norm
    >>> w, g = normalize_conv_args(np.array([[[1.0, -2.0, 3.0]]]), 2, padding=1)
    >>> conv_lp_norm(w, g, "row"), conv_lp_norm(w, g, "col")
    ((5.0, (2,)), (5.0, (2,)))
    """
    how, n_patterns, plan = _layer_plan(
        geom.input_shape, geom.output_shape, geom.kernel_size, geom.stride, geom.dilation,
        tuple(p[0] for p in geom.padding), geom.padding_mode, kind, prune)
    what = _WHAT[kind]
    if how == "zero":
        if check_finite:
            _check_finite(w, "weight")
        return 0.0, n_patterns
    C, J = w.shape[:2]
    G = geom.groups
    P = w.size // (C * J)
    if how == "select":
        if kind == "row":
            value = fused_max(_rows_select_max, w.reshape(C, J, P), plan, what=what)
        else:
            value = fused_max(_cols_select_max, w.reshape(G, C // G, J, P), plan, what=what)
    elif kind == "row":
        value = fused_max(_rows_general_max, w.reshape(C, J, P), *plan, what=what)
    else:
        value = fused_max(_cols_general_max, w.reshape(G, C // G, J, P), *plan, what=what)
    return value, n_patterns


def conv_fro_norm(w, geom):
    """Frobenius norm of the operator matrix: row patterns weighted by how many rows have them.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import normalize_conv_args
    >>> from normgraph.norms._lp import conv_fro_norm
    >>> w, g = normalize_conv_args(np.array([[[1.0, 2.0]]]), 3)  # rows [1 2 0], [0 1 2]
    >>> round(conv_fro_norm(w, g) ** 2, 12)
    10.0
    """
    scale = safe_scale(w)  # homogeneous: squares of extreme entries computed near 1
    if scale != 1.0:
        w = w / scale
    D = geom.ndim
    pats = [
        axis_patterns(geom.input_shape[t], geom.output_shape[t], geom.kernel_size[t],
                      geom.stride[t], geom.dilation[t], geom.padding[t][0], geom.padding_mode,
                      "row", False)
        for t in range(D)
    ]

    def rec(M, t):
        if t == D:
            return float(np.sum(M * M))
        total = 0.0
        for A, cnt in zip(pats[t].matrices, pats[t].counts):
            total += cnt * rec(np.tensordot(M, A, axes=([2], [1])), t + 1)
        return total

    return unscale(np.sqrt(rec(w, 0)), scale, "the Frobenius norm of weight")
