"""Loader for the MATLAB multi-view benchmark files (variables ``fea`` and ``gt``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

from .._utils.validation import check_data_home

__all__ = ["MULTIVIEW_DATASETS", "load_multiview", "load_multiview_mat", "list_multiview"]

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


def _to_float_view(X):
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        X.sum_duplicates()
        X.sort_indices()
        return X
    return np.ascontiguousarray(X, dtype=np.float64)


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
    ValueError
        If ``name`` is not one of the six data sets.
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
    if name not in MULTIVIEW_DATASETS:
        raise ValueError(
            f"unknown multi-view data set {name!r}; choose one of {sorted(MULTIVIEW_DATASETS)}"
        )
    data_home = check_data_home(data_home)
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
        ``"sqeuclidean"``), ``name`` (the file's stem) and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file lacks ``fea`` or ``gt``, or their sizes disagree.

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
    from pathlib import Path

    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"multi-view data file not found: {path}")
    mat = loadmat(path)
    if "fea" not in mat or "gt" not in mat:
        raise ValueError(f"{path} does not hold the variables 'fea' (views) and 'gt' (labels)")
    cells = mat["fea"].ravel()
    views = [_to_float_view(cells[i]) for i in range(cells.shape[0])]
    labels = np.asarray(mat["gt"]).ravel()
    if any(X.shape[0] != labels.shape[0] for X in views):
        raise ValueError(
            f"{path}: views have {[X.shape[0] for X in views]} rows but 'gt' has "
            f"{labels.shape[0]} labels"
        )
    # Files differ in their label base (UCI_Digits is 0-based, the others 1-based): map the
    # sorted distinct labels to 0..c-1.
    _, target = np.unique(labels, return_inverse=True)
    return Bunch(
        views=views,
        target=target.astype(np.int64),
        view_names=[f"view{i}" for i in range(len(views))],
        n_clusters=int(target.max()) + 1 if target.size else 0,
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
    data_home = check_data_home(data_home)
    found = {}
    for name in MULTIVIEW_DATASETS:
        path = data_home / "multiview" / f"{name}.mat"
        found[name] = path if path.is_file() else None
    return found
