"""Exact power-of-two rescaling for the graph pipeline's extreme magnitudes.

Every stage of the pipeline is scale-invariant (kNN ranks, standardisation, cosine, the
normalised Laplacian) or scale-equivariant (distances, the fusion objective), so data scaled by
1e-300..1e300 must give the same graph and labels. Dividing by a power of two changes only
exponents, so it is exact; it is applied only when a magnitude leaves the range in which
squares, products of two norms and long sums stay finite and normal, so that ordinary data are
processed bit for bit as before.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from normgraph._utils.numeric import power_of_two_scale

__all__ = ["safe_scale", "row_safe_scales", "scale_rows", "scale_view"]

# Magnitudes in [2^-250, 2^250] are left alone: their squares (and products of two of them)
# lie in [2^-500, 2^500], far from float64 overflow (2^1024) and underflow (2^-1022), even
# after sums over billions of terms.
_SAFE_LOW = 2.0 ** -250
_SAFE_HIGH = 2.0 ** 250


def safe_scale(value, *, even=False):
    """1.0 for a magnitude in the safe range (or 0 / non-finite), else a power of two near it.

    Parameters
    ----------
    value : float
        A nonnegative magnitude (a largest absolute entry).
    even : bool, default=False
        Return a power of four, so that square roots of the scaled data are exact too.

    Returns
    -------
    scale : float

    Examples
    --------
    >>> from normgraph.graphs._scaling import safe_scale
    >>> safe_scale(3.0), safe_scale(3e300) == 2.0 ** 998, safe_scale(1e-300, even=True) == 4.0 ** -498
    (1.0, True, True)
    """
    value = float(value)
    if not (value > 0 and np.isfinite(value)) or _SAFE_LOW <= value <= _SAFE_HIGH:
        return 1.0
    scale = power_of_two_scale(value)
    if even:
        exponent = int(np.frexp(scale)[1]) - 1
        if exponent % 2:
            scale = scale / 2.0 if exponent > 0 else scale * 2.0
    return scale


def row_safe_scales(X, *, always=False):
    """Per-row :func:`safe_scale` of the rows' largest absolute entries (dense or CSR).

    With ``always=True`` every nonzero row gets a power of two near its largest entry (for
    consumers such as scikit-learn's ``normalize``, which treats norms below ``10 * eps`` as
    zero and would leave tiny rows unnormalised).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs._scaling import row_safe_scales
    >>> row_safe_scales(np.array([[1.0, 2.0], [0.0, 1e-300]])) == [1.0, 2.0 ** -997]
    array([ True,  True])
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        row_max = np.zeros(X.shape[0])
        nonempty = np.diff(X.indptr) > 0
        if X.nnz:
            starts = X.indptr[:-1][nonempty]
            row_max[nonempty] = np.maximum(np.maximum.reduceat(X.data, starts),
                                           -np.minimum.reduceat(X.data, starts))
    elif X.shape[1]:
        row_max = np.maximum(X.max(axis=1), -X.min(axis=1))  # no |X| temporary
    else:
        row_max = np.zeros(X.shape[0])
    scale = power_of_two_scale if always else safe_scale
    return np.array([scale(v) for v in row_max]) if row_max.size else row_max


def scale_rows(X, scales):
    """``X`` with row i divided by ``scales[i]`` (a copy only when some scale is not 1)."""
    if np.all(scales == 1.0):
        return X
    if sp.issparse(X):
        X = sp.csr_matrix(X, copy=True)
        X.data /= np.repeat(scales, np.diff(X.indptr))
        return X
    return X / scales[:, None]


def _max_abs(a):
    """Largest |entry| of a finite array without an |a| temporary of its size."""
    return float(max(a.max(), -a.min())) if a.size else 0.0


def scale_view(X):
    """``(X / s, s)`` for one :func:`safe_scale` of the whole view (``(X, 1.0)`` if safe)."""
    s = safe_scale(_max_abs(X.data if sp.issparse(X) else X))
    if s == 1.0:
        return X, s
    if sp.issparse(X):
        X = sp.csr_matrix(X, copy=True)
        X.data /= s
        return X, s
    return X / s, s
