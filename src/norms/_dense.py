"""Brute-force operator matrices of convolution layers (the reference every norm is tested against).

The matrix is built straight from the definition: one entry per (output channel, output
pixel, input slice, tap), added with ``+=`` so that taps landing on the same input pixel
(replicate/reflect borders, circular wrap on small grids) add before any absolute value.
It is sparse but has ``C_out * C_in/groups * prod(m) * prod(k)`` stored triplets: meant for
small layers in tests, never used by the norm code paths.

Row ``(c, o)`` and column ``(j, i)`` are flattened in C order: ``row = c * prod(m) +
ravel(o)``, ``column = j * prod(n) + ravel(i)``, exactly like ``Y.ravel()`` / ``X.ravel()``
for PyTorch's ``(C, *spatial)`` layout.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from ._validation import normalize_conv_args

__all__ = ["axis_source_pixels", "conv_matrix_from_geometry"]


def axis_source_pixels(n, m, k, stride, dilation, pad_left, mode):
    """Per-axis landing table: the input pixel hit by tap ``a`` at output ``o``, or -1.

    Parameters
    ----------
    n, m, k : int
        Input size, number of outputs, kernel size on this axis.
    stride, dilation, pad_left : int
    mode : {"zeros", "circular", "reflect", "replicate"}

    Returns
    -------
    table : ndarray of int64, shape (m, k)
        ``pi(o * stride - pad_left + a * dilation)``, with -1 where zero padding is hit.

    Examples
    --------
    >>> from normgraph.norms._dense import axis_source_pixels
    >>> axis_source_pixels(3, 3, 3, 1, 1, 1, "replicate").tolist()
    [[0, 0, 1], [0, 1, 2], [1, 2, 2]]
    """
    q = np.arange(m)[:, None] * stride - pad_left + np.arange(k)[None, :] * dilation
    if mode == "zeros":
        return np.where((q >= 0) & (q < n), q, -1).astype(np.int64)
    if mode == "circular":
        return np.mod(q, n).astype(np.int64)
    if mode == "replicate":
        return np.clip(q, 0, n - 1).astype(np.int64)
    if mode == "reflect":
        if n == 1:
            return np.zeros_like(q, dtype=np.int64)
        period = 2 * (n - 1)
        r = np.mod(q, period)
        return np.where(r < n, r, period - r).astype(np.int64)
    raise ValueError(f"unsupported padding_mode {mode!r}")


def conv_matrix_from_geometry(w, geom):
    """Sparse matrix of the validated layer ``(w, geom)`` (see ``testing.conv_matrix``).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import normalize_conv_args
    >>> from normgraph.norms._dense import conv_matrix_from_geometry
    >>> w, g = normalize_conv_args(np.array([[[1.0, 2.0]]]), 3)
    >>> conv_matrix_from_geometry(w, g).toarray()
    array([[1., 2., 0.],
           [0., 1., 2.]])
    """
    conv = geom.adjoint_conv() if geom.transposed else geom
    D = conv.ndim
    n, m = conv.input_shape, conv.output_shape
    tables = [
        axis_source_pixels(n[t], m[t], conv.kernel_size[t], conv.stride[t], conv.dilation[t],
                           conv.padding[t][0], conv.padding_mode)
        for t in range(D)
    ]
    c_out, cin_g, g = conv.out_channels, conv.in_per_group, conv.groups
    out_g = c_out // g
    n_out_pix, n_in_pix = int(np.prod(m)), int(np.prod(n))

    # Broadcast over (c, jj, o_1..o_D); loop over the tap tuples.
    c = np.arange(c_out).reshape((c_out, 1) + (1,) * D)
    jj = np.arange(cin_g).reshape((1, cin_g) + (1,) * D)
    j = (c // out_g) * cin_g + jj
    o_axes = [np.arange(m[t]).reshape((1, 1) + tuple(m[t] if u == t else 1 for u in range(D)))
              for t in range(D)]
    o_flat = np.zeros((1, 1) + tuple(m), dtype=np.int64)
    for t in range(D):
        o_flat = o_flat * m[t] + o_axes[t]
    full = (c_out, cin_g) + tuple(m)
    rows_base = np.broadcast_to(c * n_out_pix + o_flat, full).ravel()
    rows, cols, vals = [], [], []
    for a in itertools.product(*(range(k) for k in conv.kernel_size)):
        i_flat = np.zeros((1, 1) + tuple(m), dtype=np.int64)
        valid = np.ones((1, 1) + tuple(m), dtype=bool)
        for t in range(D):
            src = tables[t][:, a[t]].reshape((1, 1) + tuple(m[t] if u == t else 1
                                                            for u in range(D)))
            valid = valid & (src >= 0)
            i_flat = i_flat * n[t] + src
        col = np.broadcast_to(j * n_in_pix + i_flat, full).ravel()
        keep = np.broadcast_to(valid, full).ravel()
        val = np.broadcast_to(w[(slice(None), slice(None)) + a].reshape((c_out, cin_g) + (1,) * D),
                              full).ravel()
        rows.append(rows_base[keep])
        cols.append(col[keep])
        vals.append(val[keep])
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    vals = np.concatenate(vals)
    shape = (c_out * n_out_pix, conv.in_channels * n_in_pix)
    # COO -> CSR sums duplicate (row, col) pairs: coincident taps add.
    T = sp.coo_matrix((vals, (rows, cols)), shape=shape).tocsr()
    T.sum_duplicates()
    if geom.transposed:
        T = T.T.tocsr()
        T.sum_duplicates()
    return T
