"""Magnitude-safe numerics shared by the kernels' front ends.

Every method in normgraph is scale-invariant or scale-equivariant, so data scaled by
1e-300..1e300 must give the scaled answer. The helpers here rescale by powers of two (exact in
binary floating point) and compute norms with scaling, as LAPACK's ``dnrm2`` does, so squares
never overflow or underflow.
"""

from __future__ import annotations

import numpy as np

__all__ = ["power_of_two_scale", "scaled_norm", "max_abs"]


def power_of_two_scale(value):
    """The power of two nearest ``value`` (``1.0`` for zero or non-finite ``value``).

    Dividing an array by it is exact (only exponents change), and brings a spread or a
    maximum magnitude of ``value`` near 1, where squares and sums cannot overflow.

    Parameters
    ----------
    value : float
        A positive magnitude (a spread, a maximum absolute value).

    Returns
    -------
    scale : float
        ``2 ** round(log2(value))``, clipped to the normal float64 range.

    Examples
    --------
    >>> from normgraph._utils.numeric import power_of_two_scale
    >>> power_of_two_scale(3.0e300) == 2.0 ** 998
    True
    >>> power_of_two_scale(0.0)
    1.0
    """
    value = float(value)
    if not (value > 0 and np.isfinite(value)):
        return 1.0
    e = int(np.clip(np.round(np.log2(value)), -1021, 1023))
    return float(np.ldexp(1.0, e))


def max_abs(x):
    """Largest absolute entry of an array (0.0 for an empty one).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph._utils.numeric import max_abs
    >>> max_abs(np.array([-3.0, 2.0]))
    3.0
    """
    x = np.asarray(x)
    return float(np.max(np.abs(x))) if x.size else 0.0


def scaled_norm(x, ord=None, axis=None):
    """``numpy.linalg.norm`` that neither overflows nor underflows for extreme magnitudes.

    The input is divided by a power of two near its largest entry, the norm taken, and the
    result multiplied back: exact rescaling, so the answer is the true norm whenever it is
    representable (``inf`` only when the norm itself exceeds the float64 range).

    Parameters
    ----------
    x : array_like
        Input array.
    ord, axis
        As in :func:`numpy.linalg.norm`.

    Returns
    -------
    norm : float or ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph._utils.numeric import scaled_norm
    >>> float(scaled_norm(np.array([3e300, 4e300]))) / 1e300
    5.0
    >>> round(float(scaled_norm(np.array([3e-300, 4e-300]))) / 1e-300, 12)
    5.0
    """
    x = np.asarray(x, dtype=np.float64)
    scale = power_of_two_scale(max_abs(x))
    with np.errstate(over="ignore"):
        return np.linalg.norm(x / scale, ord=ord, axis=axis) * scale
