"""Loader for the MATLAB multi-view benchmark files (variables ``fea`` and ``gt``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

from .._utils.validation import check_choice, check_data_home
from ._files import check_input_file, check_path

__all__ = ["MULTIVIEW_DATASETS", "load_multiview", "load_multiview_mat", "list_multiview"]

_NUMERIC_KINDS = "biuf"

# Facts about each file: view names, number of clusters, and the metric the authors recommend
# (cosine for text views, squared Euclidean for image/shape features).
MULTIVIEW_DATASETS = {
    "3Sources": dict(
        view_names=("bbc", "reuters", "guardian"), n_clusters=6, metric="cosine",
        descr="169 news stories reported by three online sources (BBC, Reuters, Guardian); "
              "word-count views; 6 topical classes.",
    ),
    "BBCSport": dict(
        view_names=("part1", "part2"), n_clusters=5, metric="cosine",
        descr="544 BBC Sport articles, each split into two text segments (two term views); "
              "5 sports.",
    ),
    "CiteSeer": dict(
        view_names=("links", "words"), n_clusters=6, metric="cosine",
        descr="3312 scientific papers: a citation-link view (square, 3312 columns) and a binary "
              "word view (3703 words); 6 classes.",
    ),
    "MSRC_v1": dict(
        view_names=("cm", "hog", "gist", "lbp", "centrist"), n_clusters=7, metric="sqeuclidean",
        descr="210 MSRC-v1 object images (7 classes of 30) described by five hand-crafted "
              "feature views (24/576/512/256/254 dimensions).",
    ),
    "Reuters": dict(
        view_names=("english", "french", "german", "italian", "spanish"), n_clusters=6,
        metric="cosine",
        descr="1200 Reuters RCV1/RCV2 documents (6 classes of 200) in five language views of "
              "2000 terms each.",
    ),
    "UCI_Digits": dict(
        view_names=("pix", "fou", "fac", "zer", "kar", "mor"), n_clusters=10,
        metric="sqeuclidean",
        descr="2000 handwritten digits (UCI Multiple Features): pixel averages, Fourier "
              "coefficients, profile correlations, Zernike moments, Karhunen-Loeve "
              "coefficients and morphological features.",
    ),
}


def _missing_message(path, data_home):
    return (
        f"multi-view data file {path.name!r} not found at {path} (data home: {data_home}). "
        "Pass data_home=... or set the NORMGRAPH_DATA environment variable to the folder that "
        "contains multiview/<name>.mat."
    )


def _data_home(data_home):
    if data_home is not None:
        check_path(data_home, "data_home")
    return check_data_home(data_home)


def _read_mat(path):
    """The ``fea`` and ``gt`` variables of a MATLAB v5 file, or a ValueError naming the file."""
    from scipy.io import loadmat
    from scipy.io.matlab import matfile_version

    try:
        major, _ = matfile_version(path)
    except Exception:  # untrusted bytes: scipy raises many kinds for a bad header
        major = None
    if major == 2:
        raise ValueError(f"{path}: a MATLAB v7.3 (HDF5) file, which cannot be read here; "
                         "re-save it from MATLAB with save(FILE, 'fea', 'gt', '-v7')")
    if major is None:
        raise ValueError(f"{path}: not a MATLAB .mat file (unrecognised or truncated header)")
    try:
        mat = loadmat(path, variable_names=("fea", "gt"))
    except MemoryError:
        raise
    except Exception:  # a truncated or corrupt body fails anywhere inside scipy's reader
        raise ValueError(f"{path}: not a readable MATLAB v5 file (truncated or corrupt)") \
            from None
    missing = [v for v in ("fea", "gt") if v not in mat]
    if missing:
        raise ValueError(f"{path} does not hold the variables 'fea' (views) and 'gt' (labels); "
                         f"missing {' and '.join(repr(v) for v in missing)}")
    return mat["fea"], mat["gt"]


def _describe_content(X):
    if isinstance(X, np.ndarray):
        kind = X.dtype.kind
        if kind == "O":
            return "a nested cell"
        if kind in "US":
            return "text"
        if kind == "V":
            return "a struct"
        if kind == "c":
            return "complex numbers"
        return f"{X.dtype} values"
    return type(X).__name__


def _view(path, i, X):
    """Cell ``i`` of ``fea`` as a float64 C-contiguous array or canonical CSR matrix."""
    where = f"{path}: view {i} (cell {i + 1} of 'fea')"
    if sp.issparse(X):
        if X.dtype.kind not in _NUMERIC_KINDS:
            raise ValueError(f"{where} holds {_describe_content(X.data)}, not real numbers")
        X = sp.csr_matrix(X, dtype=np.float64)
        X.sum_duplicates()
        X.sort_indices()
    else:
        if not isinstance(X, np.ndarray) or X.dtype.kind not in _NUMERIC_KINDS:
            raise ValueError(f"{where} holds {_describe_content(X)}, not a numeric feature "
                             "matrix")
        if X.ndim != 2:
            raise ValueError(f"{where} is a {X.ndim}-D array of shape {X.shape}; expected an "
                             "n x d feature matrix")
        X = np.ascontiguousarray(X, dtype=np.float64)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{where} is empty (shape {X.shape}); every view needs n x d "
                         "features with d >= 1")
    return X


def _labels(path, gt):
    if sp.issparse(gt):
        gt = gt.toarray()
    if not isinstance(gt, np.ndarray) or gt.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{path}: 'gt' holds {_describe_content(gt)}, not numeric labels")
    if sum(d > 1 for d in gt.shape) > 1:
        raise ValueError(f"{path}: 'gt' must be a vector of labels (n x 1), got shape "
                         f"{gt.shape}")
    labels = gt.ravel()
    if labels.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(labels))
        if bad.size:
            raise ValueError(
                f"{path}: label {labels[bad[0]]} of sample {bad[0]} in 'gt' is not a finite "
                f"number ({bad.size} such label(s)); every sample needs a class label"
            )
    return labels


def load_multiview(name, data_home=None):
    """Load one of the six multi-view clustering benchmark data sets.

    The file is read from ``<data_home>/multiview/<name>.mat`` (MATLAB v5, variables ``fea``,
    a 1 x V cell of n x d_v feature matrices, and ``gt``, the labels).

    Parameters
    ----------
    name : {"3Sources", "BBCSport", "CiteSeer", "MSRC_v1", "Reuters", "UCI_Digits"}
        The data set.
    data_home : str or path-like, optional
        Folder holding ``multiview/``. Defaults to ``$NORMGRAPH_DATA``, then ``~/normgraph_data``.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``views`` (list of float64 ndarray or CSR matrix, one (n, d_v) per view), ``target``
        ((n,) int64, 0-based), ``view_names``, ``n_clusters``, ``metric`` (recommended
        per-view distance), ``name`` and ``DESCR``.

    Raises
    ------
    TypeError
        If ``name`` is not a string or ``data_home`` is not a str or path-like.
    ValueError
        If ``name`` is not one of the six data sets, or the file is unreadable or
        mis-structured (see :func:`load_multiview_mat`).
    FileNotFoundError
        If the file is missing; the message names the file, where it was looked for and how
        to set the data home.

    Examples
    --------
    >>> from normgraph.datasets import load_multiview
    >>> data = load_multiview("MSRC_v1")  # reads $NORMGRAPH_DATA/multiview/MSRC_v1.mat
    >>> len(data.views), data.views[0].shape, data.n_clusters
    (5, (210, 24), 7)
    """
    try:
        check_choice(name, "name", tuple(MULTIVIEW_DATASETS))
    except ValueError:
        raise ValueError(
            f"unknown multi-view data set {name!r}; choose one of {sorted(MULTIVIEW_DATASETS)}"
        ) from None
    data_home = _data_home(data_home)
    path = data_home / "multiview" / f"{name}.mat"
    if not path.is_file():
        raise FileNotFoundError(_missing_message(path, data_home))

    data = load_multiview_mat(path)
    info = MULTIVIEW_DATASETS[name]
    if len(info["view_names"]) == len(data.views):  # else a differently prepared file
        data.view_names = list(info["view_names"])
    data.n_clusters = int(info["n_clusters"])
    data.metric = info["metric"]
    data.name = name
    data.DESCR = info["descr"]
    return data


def load_multiview_mat(path):
    """Read any multi-view MATLAB file laid out like the benchmarks (``fea`` and ``gt``).

    ``fea`` is a 1 x V cell of n x d_v feature matrices (dense or sparse), ``gt`` the n labels
    in any base. This is what :func:`load_multiview` reads; use it for your own files.

    Parameters
    ----------
    path : str or path-like
        The ``.mat`` file (MATLAB v5, readable by :func:`scipy.io.loadmat`).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``views`` (float64 ndarray or CSR matrix each), ``target`` (0-based int64),
        ``view_names`` (``view0``, ...), ``n_clusters`` (number of distinct labels),
        ``metric`` (``"cosine"`` if any view is sparse, as text views are, else
        ``"sqeuclidean"``), ``name`` (the file's stem) and ``DESCR``. NaN or infinite
        feature values are kept as they are (the estimators refuse them; impute first).

    Raises
    ------
    TypeError
        If ``path`` is not a str or path-like.
    FileNotFoundError
        If the file does not exist (``IsADirectoryError`` for a folder).
    ValueError
        If the file is not a readable MATLAB v5 file (truncated, corrupt, v7.3/HDF5), lacks
        ``fea`` or ``gt``, ``fea`` is not a non-empty cell of non-empty numeric 2-D matrices
        with the same number of rows, ``gt`` is not a numeric vector of one finite label per
        row (a NaN label is refused, not turned into a class). The message names the file.

    Examples
    --------
    >>> import numpy as np, scipy.io, tempfile, os
    >>> from normgraph.datasets import load_multiview_mat
    >>> fea = np.empty((1, 2), dtype=object)
    >>> fea[0, 0], fea[0, 1] = np.ones((4, 3)), np.eye(4)
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.mat")
    >>> scipy.io.savemat(path, {"fea": fea, "gt": np.array([[1], [1], [2], [2]])})
    >>> data = load_multiview_mat(path)
    >>> [X.shape for X in data.views], data.target.tolist(), data.n_clusters
    ([(4, 3), (4, 4)], [0, 0, 1, 1], 2)
    """
    path = check_input_file(path, "path")
    fea, gt = _read_mat(path)
    if fea.dtype.kind != "O":
        raise ValueError(f"{path}: 'fea' must be a 1 x V cell of feature matrices, got "
                         f"{_describe_content(fea)} of shape {fea.shape}")
    cells = fea.ravel()
    if cells.size == 0:
        raise ValueError(f"{path}: 'fea' is an empty cell; it must hold at least one view")
    views = [_view(path, i, X) for i, X in enumerate(cells)]
    labels = _labels(path, gt)
    rows = [X.shape[0] for X in views]
    if len(set(rows)) > 1:
        raise ValueError(f"{path}: the views have different numbers of rows {rows}; every "
                         "view must describe the same samples")
    if rows[0] != labels.shape[0]:
        raise ValueError(
            f"{path}: views have {rows} rows but 'gt' has {labels.shape[0]} labels"
        )
    # Files differ in their label base (UCI_Digits is 0-based, the others 1-based): map the
    # sorted distinct labels to 0..c-1.
    _, target = np.unique(labels, return_inverse=True)
    return Bunch(
        views=views,
        target=target.astype(np.int64),
        view_names=[f"view{i}" for i in range(len(views))],
        n_clusters=int(target.max()) + 1,
        metric="cosine" if any(sp.issparse(X) for X in views) else "sqeuclidean",
        name=path.stem,
        DESCR=f"multi-view data read from {path.name}",
    )


def list_multiview(data_home=None):
    """Report which multi-view data sets are present under a data home.

    Parameters
    ----------
    data_home : str or path-like, optional
        Folder holding ``multiview/``. Defaults to ``$NORMGRAPH_DATA``, then ``~/normgraph_data``.

    Returns
    -------
    found : dict
        Maps every known data set name to its file path if present, else ``None``.

    Examples
    --------
    >>> from normgraph.datasets import list_multiview
    >>> found = list_multiview("/nonexistent")
    >>> sorted(found)[:2], found["MSRC_v1"] is None
    (['3Sources', 'BBCSport'], True)
    """
    data_home = _data_home(data_home)
    found = {}
    for name in MULTIVIEW_DATASETS:
        path = data_home / "multiview" / f"{name}.mat"
        found[name] = path if path.is_file() else None
    return found
