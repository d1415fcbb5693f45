"""Validation of the 1-D samples and integer hyper-parameters shared by every quantizer.

Validation happens once, at the public boundary, with the package's one vocabulary
(:mod:`normgraph._utils.validation`): a wrong type is a ``TypeError``, a bad value a
``ValueError``, and the message names the parameter. The kernels in ``_kernels.py`` assume a
finite, C-contiguous float64 vector (and, when given, a finite non-negative float64 weight
vector of the same length with a positive total) and never re-check.

This module also holds the two magnitude helpers of the solvers: every solver fits data
divided by a power of two near its largest magnitude (exact, so squares and sums cannot
overflow or underflow) and reports its mean squared error back in the data's units with
:func:`unscale_mse`, which refuses an error that float64 cannot represent.
"""

from __future__ import annotations

import numpy as np

from .._utils.numeric import power_of_two_scale
from .._utils.validation import check_allocation, check_array_param, check_int

__all__ = ["check_samples", "check_n_levels", "check_n_bits", "check_level_count",
           "magnitude_scale", "unscale_mse"]


def check_samples(x, *, sample_weight=None, name="x"):
    """Validate 1-D samples (and optional sample weights) for a quantizer.

    Weights only matter relative to each other, so they are returned divided by a power of
    two near the largest one (exact): weights from ``1e-300`` to ``1e300`` then give the
    same answer as the same weights at ordinary magnitudes, with no overflowing sums.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        Real samples. Integer and boolean inputs are cast to float64.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Non-negative, finite weights with a positive total.
    name : str, default="x"
        Name used in error messages.

    Returns
    -------
    x : ndarray of shape (n_samples,), float64, C-contiguous
        The samples (a copy only when a cast was needed).
    sample_weight : ndarray of shape (n_samples,), float64, or None
        The weights rescaled so that the largest lies in ``[0.7, 1.5)``, or ``None`` when
        none were given.

    Raises
    ------
    TypeError
        If ``x`` or ``sample_weight`` is not an array of real numbers (complex, object,
        string dtypes, ragged lists, ``None``).
    ValueError
        If ``x`` is not 1-D, is empty, contains NaN or inf, or if the weights have the wrong
        length, are negative or non-finite, or sum to zero.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant._validation import check_samples
    >>> x, w = check_samples([3, 1, 2])
    >>> x.dtype, w is None
    (dtype('float64'), True)
    >>> check_samples([1.0, 2.0], sample_weight=[2.0 ** 1000, 2.0 ** 1001])[1]
    array([0.5, 1. ])
    >>> check_samples([])
    Traceback (most recent call last):
    ...
    ValueError: need at least 1 sample
    """
    x = check_array_param(x, name, ndim=1, min_size=0)
    if x.shape[0] == 0:
        raise ValueError("need at least 1 sample")
    if sample_weight is None:
        return x, None
    w = check_array_param(sample_weight, "sample_weight", ndim=1, min_size=0)
    if w.shape[0] != x.shape[0]:
        raise ValueError(
            f"sample_weight has {w.shape[0]} entries but {name} has {x.shape[0]} samples"
        )
    if (w < 0).any():
        raise ValueError("sample_weight must be non-negative")
    top = float(w.max())
    if not top > 0:
        raise ValueError("sample_weight must have a positive sum")
    scale = power_of_two_scale(top)
    if scale != 1.0:
        w = w / scale
    return x, w


def check_n_levels(n_levels, name="n_levels"):
    """Check the number of quantization levels: an integer >= 1.

    Parameters
    ----------
    n_levels : int
    name : str, default="n_levels"
        Name used in error messages.

    Returns
    -------
    n_levels : int

    Raises
    ------
    TypeError
        If it is not an integer (bools and floats included).
    ValueError
        If it is < 1.

    Examples
    --------
    >>> from normgraph.quant._validation import check_n_levels
    >>> check_n_levels(4)
    4
    >>> check_n_levels(2.5)
    Traceback (most recent call last):
    ...
    TypeError: n_levels must be an integer, got 2.5
    >>> check_n_levels(0)
    Traceback (most recent call last):
    ...
    ValueError: n_levels must be >= 1, got 0
    """
    return check_int(n_levels, name, low=1)


def check_n_bits(n_bits):
    """Check a bit width: an integer in [1, 16].

    Parameters
    ----------
    n_bits : int

    Returns
    -------
    n_bits : int

    Raises
    ------
    TypeError
        If it is not an integer (bools and floats included).
    ValueError
        If it lies outside [1, 16].

    Examples
    --------
    >>> from normgraph.quant._validation import check_n_bits
    >>> check_n_bits(2)
    2
    >>> check_n_bits(17)
    Traceback (most recent call last):
    ...
    ValueError: n_bits must be <= 16, got 17
    """
    return check_int(n_bits, "n_bits", low=1, high=16)


def check_level_count(count, n_arrays, name, what):
    """Refuse up front a size parameter whose ``n_arrays`` float64 arrays of ``count``
    entries cannot fit in memory (a thin wrapper on ``check_allocation``).

    Examples
    --------
    >>> from normgraph.quant._validation import check_level_count
    >>> check_level_count(10**18, 4, "n_levels", "the levels")
    Traceback (most recent call last):
    ...
    ValueError: n_levels asks for about 3.2e+07 TB for the levels, more than this machine's ...
    """
    # a Python int beyond the float range (10**400) is simply "too large"
    return check_allocation(float(min(count, 2**80)) * n_arrays, name, what=what)


def magnitude_scale(u):
    """Power of two near the largest magnitude of the sorted values ``u``.

    Dividing by it is exact and brings the data to ``|u| < 1.5``, where squares, sums and
    prefix sums can neither overflow nor lose normal precision.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant._validation import magnitude_scale
    >>> magnitude_scale(np.array([-3e300, 1e300])) == 2.0 ** 998
    True
    """
    return power_of_two_scale(max(abs(float(u[0])), abs(float(u[-1]))))


def unscale_mse(mse, scale, name="x"):
    """Mean squared error of data fitted at ``x / scale``, in the units of ``x``.

    ``mse * scale**2`` correctly rounded (``scale`` is a power of two): an error that
    underflows float64 rounds to the nearest subnormal or zero, as any tiny quantity
    does; one that overflows cannot be reported, which is a ``ValueError`` rather than an
    ``inf`` that would disagree with the returned levels.

    Examples
    --------
    >>> from normgraph.quant._validation import unscale_mse
    >>> unscale_mse(0.25, 2.0 ** 10)
    262144.0
    >>> unscale_mse(0.25, 2.0 ** 600)
    Traceback (most recent call last):
    ...
    ValueError: the mean squared error of x (about 1e360) overflows float64; ...
    """
    mse = float(mse)
    if scale == 1.0 or mse == 0.0:
        return mse
    e = int(np.frexp(scale)[1]) - 1  # scale = 2**e exactly
    with np.errstate(over="ignore"):
        out = float(np.ldexp(mse, 2 * e))
    if not np.isfinite(out):
        digits = int(np.floor(np.log10(mse) + 2 * e * np.log10(2.0)))
        raise ValueError(
            f"the mean squared error of {name} (about 1e{digits}) overflows "
            "float64; the quantizer is scale-equivariant: rescale the data by a power of two "
            "(e.g. 2.0**-600) and multiply the levels back"
        )
    return out
