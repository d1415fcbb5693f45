"""The result record of a norm computation (shared by the l1/l-inf and l2 code paths)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NormResult"]


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
