"""Validation of the 1-D samples and integer hyper-parameters shared by every quantizer.

Validation happens once, at the public boundary; the kernels in ``_kernels.py`` assume a
finite, C-contiguous float64 vector (and, when given, a finite non-negative float64 weight
vector of the same length with a positive total) and never re-check.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_samples", "check_n_levels", "check_n_bits"]

_NUMERIC_KINDS = "biuf"


def _as_real_vector(values, name):
    kind = getattr(getattr(values, "dtype", None), "kind", None)
    if kind is not None and kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{name} must hold real numbers, got dtype {np.dtype(values.dtype)}"
        )
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be read as a numeric array: {exc}") from exc
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of samples, got a {arr.ndim}-D array of shape {arr.shape}"
        )
    return np.ascontiguousarray(arr, dtype=np.float64)


def check_samples(x, *, sample_weight=None, name="x"):
    """Validate 1-D samples (and optional sample weights) for a quantizer.

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
        The weights, or ``None`` when none were given.

    Raises
    ------
    TypeError
        If ``x`` or ``sample_weight`` has a complex, object or string dtype.
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
    >>> check_samples([])
    Traceback (most recent call last):
    ...
    ValueError: need at least 1 sample
    """
    x = _as_real_vector(x, name)
    if x.shape[0] == 0:
        raise ValueError("need at least 1 sample")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinity")
    if sample_weight is None:
        return x, None
    w = _as_real_vector(sample_weight, "sample_weight")
    if w.shape[0] != x.shape[0]:
        raise ValueError(
            f"sample_weight has {w.shape[0]} entries but {name} has {x.shape[0]} samples"
        )
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (w < 0).any():
        raise ValueError("sample_weight must be non-negative")
    if not w.sum() > 0:
        raise ValueError("sample_weight must have a positive sum")
    return x, w


def _check_integer(value, name, low, high=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_n_levels(n_levels):
    """Check the number of quantization levels: an integer >= 1.

    Parameters
    ----------
    n_levels : int

    Returns
    -------
    n_levels : int

    Raises
    ------
    ValueError
        If it is not an integer (bools and floats included) or is < 1.

    Examples
    --------
    >>> from normgraph.quant._validation import check_n_levels
    >>> check_n_levels(4)
    4
    >>> check_n_levels(2.5)
    Traceback (most recent call last):
    ...
    ValueError: n_levels must be an integer, got 2.5
    """
    return _check_integer(n_levels, "n_levels", 1)


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
    ValueError
        If it is not an integer or lies outside [1, 16].

    Examples
    --------
    >>> from normgraph.quant._validation import check_n_bits
    >>> check_n_bits(2)
    2
    >>> check_n_bits(17)
    Traceback (most recent call last):
    ...
    ValueError: n_bits must be in [1, 16], got 17
    """
    return _check_integer(n_bits, "n_bits", 1, 16)
