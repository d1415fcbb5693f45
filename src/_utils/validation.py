"""Input validation shared by every estimator and kernel front end.

Validation happens once, at the public boundary; kernels downstream assume clean,
finite, C-contiguous float arrays (or canonical CSR matrices) and never re-check.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array

__all__ = ["check_views", "check_scalar_param", "check_data_home"]

_NUMERIC_KINDS = "biuf"


def _view_dtype_kind(X):
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        return None
    return np.dtype(dtype).kind


def check_views(
    views,
    *,
    accept_sparse=True,
    dtype=np.float64,
    ensure_all_finite=True,
    ensure_min_views=1,
    ensure_min_samples=1,
    ensure_min_features=1,
    ensure_nonnegative=False,
):
    """Validate a list of views that describe the same samples.

    Parameters
    ----------
    views : list or tuple of array-like or sparse matrix, each of shape (n_samples, n_features_v)
        One feature matrix per view. Rows are samples and must correspond across views.
    accept_sparse : bool, default=True
        Whether sparse views are allowed. Sparse views are returned as canonical CSR matrices
        (sorted indices, no duplicates).
    dtype : numpy dtype, default=np.float64
        Every view is cast to this floating dtype.
    ensure_all_finite : bool, default=True
        Reject NaN and infinite entries.
    ensure_min_views : int, default=1
        Minimum number of views.
    ensure_min_samples, ensure_min_features : int, default=1
        Minimum number of rows and columns of every view.
    ensure_nonnegative : bool, default=False
        Reject negative entries (for example precomputed graphs or distances).

    Returns
    -------
    views : list of ndarray or scipy.sparse.csr_matrix
        The validated views, in the input order, dense ones C-contiguous.

    Raises
    ------
    TypeError
        If ``views`` is not a list or tuple, a view has object/complex/string dtype, or a
        sparse view is passed with ``accept_sparse=False``.
    ValueError
        If there are too few views, a view is not 2-D, is empty, contains NaN/inf (or negative
        entries when forbidden), or the views have different numbers of samples. Messages name
        the offending view by its index.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph._utils.validation import check_views
    >>> views = check_views([np.ones((4, 2)), np.zeros((4, 3), dtype=np.int32)])
    >>> [v.shape for v in views], views[1].dtype
    ([(4, 2), (4, 3)], dtype('float64'))
    >>> check_views([np.ones((4, 2)), np.ones((5, 2))])
    Traceback (most recent call last):
    ...
    ValueError: views have different numbers of samples: view 0 has 4, view 1 has 5
    """
    if isinstance(views, (np.ndarray,)) or sp.issparse(views):
        raise TypeError(
            "views must be a list or tuple of arrays (one per view), got a single "
            f"{type(views).__name__}; wrap a single view as [X]"
        )
    if not isinstance(views, (list, tuple)):
        raise TypeError(f"views must be a list or tuple of arrays, got {type(views).__name__}")
    if len(views) < max(ensure_min_views, 1):
        raise ValueError(
            f"at least {max(ensure_min_views, 1)} view(s) required, got {len(views)}"
        )

    checked = []
    for i, X in enumerate(views):
        kind = _view_dtype_kind(X)
        if kind is not None and kind not in _NUMERIC_KINDS:
            raise TypeError(
                f"view {i}: dtype {np.dtype(X.dtype)} is not numeric; pass real-valued numbers"
            )
        if sp.issparse(X):
            if not accept_sparse:
                raise TypeError(f"view {i}: sparse input is not supported here; densify it first")
        elif kind is None:
            arr = np.asarray(X)
            if arr.dtype.kind not in _NUMERIC_KINDS:
                raise TypeError(
                    f"view {i}: could not interpret it as a numeric array (got dtype {arr.dtype})"
                )
            X = arr
        if X.ndim != 2:
            raise ValueError(
                f"view {i}: expected a 2-D array of shape (n_samples, n_features), got {X.ndim}-D "
                f"with shape {X.shape}"
            )
        if X.shape[0] < ensure_min_samples or X.shape[1] < ensure_min_features:
            raise ValueError(
                f"view {i}: empty view of shape {X.shape}; need at least {ensure_min_samples} "
                f"sample(s) and {ensure_min_features} feature(s)"
            )
        try:
            X = check_array(
                X,
                accept_sparse="csr" if accept_sparse else False,
                dtype=dtype,
                order="C",
                ensure_all_finite=ensure_all_finite,
                ensure_min_samples=ensure_min_samples,
                ensure_min_features=ensure_min_features,
                copy=False,
            )
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"view {i}: {exc}") from exc
        if sp.issparse(X):
            X = sp.csr_matrix(X)
            X.sum_duplicates()
            X.sort_indices()
        if ensure_nonnegative:
            data = X.data if sp.issparse(X) else X
            if data.size and data.min() < 0:
                raise ValueError(f"view {i}: negative entries are not allowed here")
        checked.append(X)

    n_samples = [X.shape[0] for X in checked]
    if len(set(n_samples)) > 1:
        detail = ", ".join(f"view {i} has {n}" for i, n in enumerate(n_samples))
        raise ValueError(f"views have different numbers of samples: {detail}")
    return checked


def check_scalar_param(value, name, *, kind="real", low=None, high=None, low_inclusive=True,
                       high_inclusive=True):
    """Check a scalar hyper-parameter's type and range and return it.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, used in error messages.
    kind : {"real", "int"}, default="real"
        ``"int"`` accepts integers only (not bools); ``"real"`` accepts any finite real number.
    low, high : float or None
        Bounds; ``None`` means unbounded.
    low_inclusive, high_inclusive : bool, default=True
        Whether the bounds themselves are allowed.

    Returns
    -------
    value : int or float

    Raises
    ------
    TypeError
        If the value has the wrong type.
    ValueError
        If it is non-finite or out of range.

    Examples
    --------
    >>> from normgraph._utils.validation import check_scalar_param
    >>> check_scalar_param(3, "n_neighbors", kind="int", low=1)
    3
    >>> check_scalar_param(-1.0, "beta", low=0)
    Traceback (most recent call last):
    ...
    ValueError: beta must be >= 0, got -1.0
    """
    if kind == "int":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        value = int(value)
    else:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {value!r}")
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None:
        if value < low or (value == low and not low_inclusive):
            op = ">=" if low_inclusive else ">"
            raise ValueError(f"{name} must be {op} {low}, got {value!r}")
    if high is not None:
        if value > high or (value == high and not high_inclusive):
            op = "<=" if high_inclusive else "<"
            raise ValueError(f"{name} must be {op} {high}, got {value!r}")
    return value


def check_data_home(data_home=None):
    """Resolve the folder that holds the data sets used by reproductions and tests.

    Parameters
    ----------
    data_home : str or path-like or None
        Explicit folder. ``None`` falls back to ``$NORMGRAPH_DATA`` and then to
        ``~/normgraph_data``.

    Returns
    -------
    data_home : pathlib.Path
        The folder (it need not exist; loaders report missing files themselves).

    Examples
    --------
    >>> from normgraph._utils.validation import check_data_home
    >>> str(check_data_home("/tmp/some_data"))
    '/tmp/some_data'
    """
    import os
    from pathlib import Path

    if data_home is None:
        data_home = os.environ.get("NORMGRAPH_DATA") or Path("~") / "normgraph_data"
    return Path(data_home).expanduser()
