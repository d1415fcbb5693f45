"""The result record of a norm computation (shared by the l1/l-inf and l2 code paths)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .._utils.numeric import max_abs, power_of_two_scale

__all__ = ["NormOverflowWarning", "NormResult", "safe_scale", "unscale"]


class NormOverflowWarning(RuntimeWarning):
    """A norm (or bound) is beyond the float64 range and is reported as ``inf``.

    Examples
    --------
    >>> from normgraph.norms._result import NormOverflowWarning
    >>> issubclass(NormOverflowWarning, RuntimeWarning)
    True
    """


# Data whose largest magnitude lies in [2^-400, 2^400] is used as is: its squares, Gram
# matrices and sums cannot overflow or underflow, and the results stay bit-identical to an
# unscaled computation. Outside, it is brought near 1 by an exact power of two.
_SAFE_EXPONENT = 400


def safe_scale(x):
    """1.0 for data of moderate magnitude, else the power of two nearest its largest entry.

    Parameters
    ----------
    x : array_like (real or complex)

    Returns
    -------
    scale : float
        Divide ``x`` by it (exact) before squaring or summing; multiply the norm back with
        :func:`unscale`.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._result import safe_scale
    >>> safe_scale(np.array([3.0, -4.0])), safe_scale(np.array([1e300])) == 2.0 ** 997
    (1.0, True)
    """
    x = np.asarray(x)
    if x.size == 0:
        return 1.0
    if x.dtype.kind == "c":
        big = max(max_abs(x.real), max_abs(x.imag))
    else:
        big = max_abs(x)
    if big == 0.0 or not np.isfinite(big):
        return 1.0
    if 2.0 ** -_SAFE_EXPONENT <= big <= 2.0 ** _SAFE_EXPONENT:
        return 1.0
    return power_of_two_scale(big)


def unscale(value, scale, what="the norm"):
    """``value * scale`` for a norm computed on data divided by ``scale`` (a power of two).

    Norms are positively homogeneous, so the kernels work on data brought near 1 and the
    result is multiplied back here, exactly. Only a result whose true value is beyond the
    float64 range becomes ``inf``, and then a :class:`NormOverflowWarning` says so (it is
    the correctly rounded value, not a failed computation).

    Examples
    --------
    >>> import warnings
    >>> from normgraph.norms._result import unscale
    >>> unscale(1.5, 2.0 ** 1000) == 1.5 * 2.0 ** 1000
    True
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     unscale(4.0, 2.0 ** 1023, "the l1 norm of weight")
    inf
    >>> print(caught[0].message)
    the l1 norm of weight is about 2^1025, beyond the float64 range (1.8e308): reported as inf
    """
    value = float(value)
    with np.errstate(over="ignore"):
        out = float(np.float64(value) * scale)
    if math.isinf(out) and math.isfinite(value):
        e = math.log2(value) + math.log2(scale)
        warnings.warn(f"{what} is about 2^{e:.0f}, beyond the float64 range (1.8e308): "
                      "reported as inf", NormOverflowWarning, stacklevel=3)
    return out


@dataclass(frozen=True)
class NormResult:
    """An operator norm with its certified interval and how it was obtained.

    Parameters
    ----------
    value : float
        The reported norm: the exact value when ``exact`` is true, else the certified
        upper bound ``upper``.
    lower, upper : float
        Certified bounds, ``lower <= true norm <= upper``; equal to ``value`` when exact.
    exact : bool
        Whether ``value`` is the exact norm (up to floating-point rounding).
    method : str
        The method that produced ``value`` (for example ``"boundary_classes"``, ``"fft_svd"``,
        ``"gram"``, ``"holder"``).
    n_patterns : tuple of int, default=()
        Number of distinct boundary classes per spatial axis (l1/l-inf paths), else empty.

    Examples
    --------
    >>> from normgraph.norms._result import NormResult
    >>> r = NormResult(2.0, 2.0, 2.0, True, "boundary_classes", (3, 3))
    >>> float(r), r.width
    (2.0, 0.0)
    """

    value: float
    lower: float
    upper: float
    exact: bool
    method: str
    n_patterns: tuple = ()

    @property
    def width(self):
        """The width ``upper - lower`` of the certified interval."""
        return float(self.upper - self.lower)

    def __float__(self):
        return float(self.value)

    def scaled(self, scale, what="the norm"):
        """This result for the data multiplied by ``scale`` (see :func:`unscale`).

        Examples
        --------
        >>> from normgraph.norms._result import NormResult
        >>> NormResult(1.0, 0.5, 1.0, False, "gram").scaled(4.0).lower
        2.0
        """
        if scale == 1.0:
            return self
        upper = self.upper if math.isinf(self.upper) else unscale(self.upper, scale, what)
        return NormResult(unscale(self.value, scale, what), unscale(self.lower, scale, what),
                          upper, self.exact, self.method, self.n_patterns)
