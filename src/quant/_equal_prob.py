"""Equal-probability (maximum-entropy) quantization thresholds."""

from __future__ import annotations

import warnings

import numpy as np

from .._utils.validation import check_bool, check_choice
from ._validation import check_level_count, check_n_levels, check_samples, magnitude_scale

__all__ = ["equal_probability_thresholds"]

_METHODS = ("linear", "inverted_cdf")


def equal_probability_thresholds(x, n_levels, method="linear", *, return_levels=False):
    """Thresholds that split the samples into ``n_levels`` cells of equal probability.

    ``t_i`` is the empirical ``i / n_levels`` quantile, ``i = 1 .. n_levels - 1``: the cells
    ``(t_{i-1}, t_i]`` (a sample equal to a threshold goes to the lower cell) hold about
    ``N / n_levels`` samples each, so the output index has maximal entropy. Repeated values
    are never split across cells: with heavy ties thresholds coincide and some cells are
    empty (a cell's count then differs from ``N / n_levels`` by at most the number of tied
    samples plus one). If ``n_levels`` exceeds the number of distinct values a warning says
    so.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        Samples.
    n_levels : int
        Number of cells, ``>= 1``.
    method : {"linear", "inverted_cdf"}, default="linear"
        Quantile definition passed to :func:`numpy.quantile`. ``"inverted_cdf"`` returns
        thresholds that are sample values.
    return_levels : bool, default=False
        Also return the reconstruction level of each cell (the mean of its samples; NaN for
        an empty cell).

    Returns
    -------
    thresholds : ndarray of shape (n_levels - 1,)
        Non-decreasing thresholds (equal to ``np.quantile(x, np.arange(1, L) / L)``).
    levels : ndarray of shape (n_levels,)
        Only if ``return_levels``: the cell means.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import equal_probability_thresholds
    >>> equal_probability_thresholds(np.arange(1.0, 9.0), 4)
    array([2.75, 4.5 , 6.25])
    >>> t, levels = equal_probability_thresholds(np.arange(1.0, 9.0), 4, return_levels=True)
    >>> levels
    array([1.5, 3.5, 5.5, 7.5])
    """
    x, _ = check_samples(x)
    n_levels = check_n_levels(n_levels)
    method = check_choice(method, "method", _METHODS)
    return_levels = check_bool(return_levels, "return_levels")
    # the answer itself has n_levels entries; probabilities, quantile work and bin sums
    # need a few more arrays of that size
    check_level_count(n_levels, 6 if return_levels else 4, "n_levels",
                      "the thresholds and their probabilities")
    probs = np.arange(1, n_levels) / n_levels
    # Beyond 2^900, quantiles and bin sums of x over a power of two near max |x| (exact): the
    # interpolation x0 + (x1 - x0) * g and the sums cannot overflow near the largest float.
    scale = magnitude_scale(np.array([x.min(), x.max()]))
    scale = scale if scale > 2.0**900 else 1.0
    thresholds = (np.quantile(x / scale, probs, method=method) * scale if n_levels > 1
                  else np.empty(0))
    if thresholds.size > 1 and np.any(thresholds[1:] == thresholds[:-1]):
        # coinciding thresholds: check (only then, it costs a sort) for too few values
        n_distinct = np.unique(x).size
        if n_distinct < n_levels:
            warnings.warn(
                f"n_levels={n_levels} exceeds the number of distinct values ({n_distinct}); "
                "some cells are empty", UserWarning, stacklevel=2)
    if not return_levels:
        return thresholds
    cells = np.searchsorted(thresholds, x, side="left")
    counts = np.bincount(cells, minlength=n_levels)
    # bin sums of x divided by the same power of two: no overflow at 1e300
    sums = np.bincount(cells, weights=x / scale, minlength=n_levels)
    with np.errstate(invalid="ignore", divide="ignore"):
        levels = sums / counts * scale
    return thresholds, levels
