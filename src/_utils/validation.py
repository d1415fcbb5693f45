"""Input validation shared by every estimator and kernel front end.

Validation happens once, at the public boundary; kernels downstream assume clean,
finite, C-contiguous float arrays (or canonical CSR matrices) and never re-check.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array

__all__ = [
    "check_views",
    "check_scalar_param",
    "check_int",
    "check_real",
    "check_bool",
    "check_choice",
    "check_numeric_dtype",
    "check_array_param",
    "check_allocation",
    "check_random_state_param",
    "check_data_home",
]

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
    dtype : numpy dtype or list of numpy dtypes, default=np.float64
        Every view is cast to this floating dtype. A list (for example
        ``[np.float32, np.float64]``) keeps a view whose dtype is in the list as it is (no
        copy) and casts any other view to the first dtype of the list.
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
        try:
            value = float(value)
        except OverflowError:  # a Python int beyond the float64 range (10**400)
            raise ValueError(f"{name} must be finite, got an integer beyond the float64 "
                             "range") from None
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
    if not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(f"data_home must be a str or path-like object, got "
                        f"{type(data_home).__name__}")
    return Path(data_home).expanduser()


# --------------------------------------------------------------------------------------------
# The vocabulary every public entry point uses: a wrong *type* is a TypeError, a bad *value* a
# ValueError, and every message starts with the parameter's name.
# --------------------------------------------------------------------------------------------


def check_int(value, name, *, low=None, high=None):
    """Check an integer parameter (Python or NumPy integer, not a bool) and its range.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, used in error messages.
    low, high : int or None, default=None
        Inclusive bounds; ``None`` means unbounded.

    Returns
    -------
    value : int

    Raises
    ------
    TypeError
        If ``value`` is not an integer (floats such as ``2.0`` and bools included).
    ValueError
        If it lies outside ``[low, high]``.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph._utils.validation import check_int
    >>> check_int(np.int64(4), "n_levels", low=1)
    4
    >>> check_int(2.5, "n_levels", low=1)
    Traceback (most recent call last):
    ...
    TypeError: n_levels must be an integer, got 2.5
    """
    return check_scalar_param(value, name, kind="int", low=low, high=high)


def check_real(value, name, *, low=None, high=None, low_inclusive=True, high_inclusive=True):
    """Check a finite real parameter (not a bool) and its range.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, used in error messages.
    low, high : float or None, default=None
        Bounds; ``None`` means unbounded.
    low_inclusive, high_inclusive : bool, default=True
        Whether the bounds themselves are allowed.

    Returns
    -------
    value : float

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is NaN, infinite or out of range.

    Examples
    --------
    >>> from normgraph._utils.validation import check_real
    >>> check_real(0.5, "tol", low=0, low_inclusive=False)
    0.5
    >>> check_real(float("nan"), "tol")
    Traceback (most recent call last):
    ...
    ValueError: tol must be finite, got nan
    """
    return check_scalar_param(value, name, kind="real", low=low, high=high,
                              low_inclusive=low_inclusive, high_inclusive=high_inclusive)


def check_bool(value, name):
    """Check a boolean flag (Python or NumPy bool; ``0``/``1`` and strings are refused).

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, used in error messages.

    Returns
    -------
    value : bool

    Raises
    ------
    TypeError
        If ``value`` is not a bool.

    Examples
    --------
    >>> from normgraph._utils.validation import check_bool
    >>> check_bool(True, "verbose")
    True
    >>> check_bool("yes", "verbose")
    Traceback (most recent call last):
    ...
    TypeError: verbose must be True or False, got 'yes'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value, name, choices):
    """Check that a parameter is one of a fixed set of options.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        The parameter's name, used in error messages.
    choices : sequence
        The allowed options. When they are all strings, a non-string value is a type error.

    Returns
    -------
    value : object
        ``value`` itself.

    Raises
    ------
    TypeError
        If every option is a string and ``value`` is not.
    ValueError
        If ``value`` is not among ``choices``.

    Examples
    --------
    >>> from normgraph._utils.validation import check_choice
    >>> check_choice("dissimilarity", "fusion", ("similarity", "dissimilarity"))
    'dissimilarity'
    >>> check_choice("manhattan", "metric", ("sqeuclidean", "cosine"))
    Traceback (most recent call last):
    ...
    ValueError: metric must be one of ('sqeuclidean', 'cosine'), got 'manhattan'
    """
    choices = tuple(choices)
    if choices and all(isinstance(c, str) for c in choices) and not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}, got {value!r}")
    try:
        ok = value in choices
    except TypeError:  # unhashable or incomparable
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_numeric_dtype(X, name):
    """Raise ``TypeError`` unless ``X`` holds real numbers (bool, integer or float dtype).

    Parameters
    ----------
    X : array-like or sparse matrix
        The input (anything with a ``dtype``, or a nested sequence).
    name : str
        The parameter's name, used in error messages.

    Returns
    -------
    dtype : numpy.dtype
        The dtype of ``X`` (of ``np.asarray(X)`` when it has none).

    Raises
    ------
    TypeError
        For complex, object, string, datetime or void dtypes.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph._utils.validation import check_numeric_dtype
    >>> check_numeric_dtype(np.arange(3), "x")
    dtype('int64')
    >>> check_numeric_dtype(np.array([1j]), "x")
    Traceback (most recent call last):
    ...
    TypeError: x must hold real numbers, got dtype complex128
    """
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(X).dtype
        except (ValueError, TypeError) as exc:  # ragged nested sequences
            raise TypeError(f"{name} could not be read as a numeric array: {exc}") from None
    dtype = np.dtype(dtype)
    if dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{name} must hold real numbers, got dtype {dtype}")
    return dtype


def check_array_param(
    X,
    name,
    *,
    ndim=None,
    dtype=np.float64,
    accept_sparse=False,
    ensure_finite=True,
    ensure_nonnegative=False,
    min_size=1,
    allow_float32=False,
):
    """Validate a numeric array parameter: type, dimensions, size and finiteness.

    Parameters
    ----------
    X : array-like or sparse matrix
        The input.
    name : str
        The parameter's name, used in error messages.
    ndim : int, tuple of int or None, default=None
        Allowed numbers of dimensions (``None``: any).
    dtype : numpy dtype or None, default=np.float64
        Cast to this dtype (``None`` keeps the input's numeric dtype).
    accept_sparse : bool, default=False
        Accept any SciPy sparse format (COO, DOK, LIL, CSC, ...); it is returned as a canonical
        CSR matrix (sorted indices, duplicates summed). Sparse input is 2-D by definition.
    ensure_finite : bool, default=True
        Reject NaN and infinite entries.
    ensure_nonnegative : bool, default=False
        Reject negative entries.
    min_size : int, default=1
        Minimum number of entries (stored entries are not counted for sparse input; its
        shape is).
    allow_float32 : bool, default=False
        Keep float32 input as float32 instead of casting it to ``dtype``.

    Returns
    -------
    X : ndarray or scipy.sparse.csr_matrix
        C-contiguous for dense input.

    Raises
    ------
    TypeError
        If ``X`` is not numeric, or sparse when ``accept_sparse=False``.
    ValueError
        For a wrong number of dimensions, too few entries, NaN/inf or negative entries.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph._utils.validation import check_array_param
    >>> check_array_param([1, 2, 3], "x", ndim=1)
    array([1., 2., 3.])
    >>> check_array_param(np.ones((2, 2, 2)), "rows", ndim=1)
    Traceback (most recent call last):
    ...
    ValueError: rows must be 1-D, got a 3-D array of shape (2, 2, 2)
    >>> check_array_param([1.0, float("nan")], "x")
    Traceback (most recent call last):
    ...
    ValueError: x contains NaN or infinity (1 non-finite entries)
    """
    allowed = None if ndim is None else ((ndim,) if isinstance(ndim, int) else tuple(ndim))
    if sp.issparse(X):
        if not accept_sparse:
            raise TypeError(f"{name} must be a dense array; got a sparse {X.format} matrix, "
                            "densify it with .toarray()")
        check_numeric_dtype(X, name)
        if allowed is not None and 2 not in allowed:
            raise ValueError(f"{name} must be {_ndim_words(allowed)}, got a sparse 2-D matrix")
        target = X.dtype if dtype is None else dtype
        if allow_float32 and X.dtype == np.float32:
            target = np.float32
        X = sp.csr_matrix(X, dtype=target)
        X.sum_duplicates()
        X.sort_indices()
        data = X.data
        shape_size = X.shape[0] * X.shape[1]
    else:
        if isinstance(X, (str, bytes)) or X is None:
            raise TypeError(f"{name} must be an array of numbers, got {type(X).__name__}")
        check_numeric_dtype(X, name)
        arr = np.asarray(X)
        if allowed is not None and arr.ndim not in allowed:
            raise ValueError(f"{name} must be {_ndim_words(allowed)}, got a {arr.ndim}-D array "
                             f"of shape {arr.shape}")
        target = arr.dtype if dtype is None else dtype
        if allow_float32 and arr.dtype == np.float32:
            target = np.float32
        if np.dtype(target).kind == "f" and arr.dtype.kind == "b":
            arr = arr.astype(np.uint8)
        X = np.ascontiguousarray(arr, dtype=target)
        data = X
        shape_size = X.size
    if shape_size < min_size:
        raise ValueError(f"{name} must have at least {min_size} entries, got shape {X.shape}")
    if ensure_finite and data.dtype.kind == "f":
        finite = np.isfinite(data)
        if not finite.all():
            bad = int(data.size - np.count_nonzero(finite))
            raise ValueError(f"{name} contains NaN or infinity ({bad} non-finite entries)")
    if ensure_nonnegative and data.size and data.min() < 0:
        raise ValueError(f"{name} must not contain negative entries")
    return X


def _ndim_words(allowed):
    return " or ".join(f"{d}-D" for d in allowed)


def _memory_budget_bytes():
    """Bytes one allocation may take: ``$NORMGRAPH_MAX_BYTES``, else the physical memory."""
    import os

    env = os.environ.get("NORMGRAPH_MAX_BYTES")
    if env:
        return float(env)
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 64.0 * 2**30


def check_allocation(n_items, name, *, itemsize=8, what="working arrays"):
    """Refuse up front a size parameter whose arrays cannot fit in memory.

    A size parameter that is legal in type and range (``n_levels=10**9`` on ten samples, a
    10^9 input length) can still ask for more memory than the machine has; this says so,
    naming the parameter, before anything is allocated, instead of a ``MemoryError`` deep in
    a kernel.

    Parameters
    ----------
    n_items : int or float
        Number of array entries the request needs (their total over every array).
    name : str
        The parameter responsible, used in the error message.
    itemsize : int, default=8
        Bytes per entry.
    what : str, default="working arrays"
        What the memory is for, used in the error message.

    Returns
    -------
    nbytes : float
        The bytes that will be needed.

    Raises
    ------
    ValueError
        If the request exceeds the physical memory (or ``$NORMGRAPH_MAX_BYTES`` when set).

    Examples
    --------
    >>> from normgraph._utils.validation import check_allocation
    >>> check_allocation(1000, "n_levels")
    8000.0
    >>> check_allocation(10**18, "n_levels", what="the DP table")
    Traceback (most recent call last):
    ...
    ValueError: n_levels asks for about 8e+06 TB for the DP table, more than this machine's memory ...
    """
    nbytes = float(n_items) * float(itemsize)
    budget = _memory_budget_bytes()
    if nbytes > budget:
        raise ValueError(
            f"{name} asks for about {nbytes / 1e12:.3g} TB for {what}, more than this machine's "
            f"memory ({budget / 1e9:.3g} GB); reduce {name}"
        )
    return nbytes


def check_random_state_param(value, name="random_state"):
    """Check a seed parameter: None, an integer in ``[0, 2**32 - 1]`` or a ``RandomState``.

    The value is returned unchanged (pass it on to ``sklearn.utils.check_random_state``); this
    only replaces NumPy's unnamed errors by the vocabulary's.

    Parameters
    ----------
    value : object
        The seed.
    name : str, default="random_state"
        The parameter's name, used in error messages.

    Returns
    -------
    value : None, int or numpy.random.RandomState

    Raises
    ------
    TypeError
        For anything else (a float, a string, a ``numpy.random.Generator``, a bool).
    ValueError
        For an integer outside ``[0, 2**32 - 1]``.

    Examples
    --------
    >>> from normgraph._utils.validation import check_random_state_param
    >>> check_random_state_param(7)
    7
    >>> check_random_state_param(1.5)
    Traceback (most recent call last):
    ...
    TypeError: random_state must be None, an integer or a numpy.random.RandomState, got 1.5
    >>> check_random_state_param(-1)
    Traceback (most recent call last):
    ...
    ValueError: random_state must be >= 0, got -1
    """
    if value is None or isinstance(value, np.random.RandomState):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be None, an integer or a numpy.random.RandomState, got {value!r}"
        )
    check_int(value, name, low=0, high=2**32 - 1)
    return value
