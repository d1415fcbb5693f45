"""External clustering metrics: accuracy, NMI, ARI, purity and the pairwise F-score.

Every metric compares a ground-truth labelling ``y_true`` with a predicted clustering ``y_pred``.
Labels may be any hashable integers or strings; only the partition they induce matters, so every
metric is invariant to renaming the clusters. All of them are computed from the contingency
matrix ``M`` (classes x clusters, ``M[i, j]`` = number of samples of class ``i`` put in cluster
``j``), so their cost is O(n) to build ``M`` plus a function of the number of classes and
clusters, never of the number of sample pairs.

The definitions follow the evaluation code of the multi-view graph learning papers: clustering
accuracy with Hungarian matching, NMI normalised by the larger entropy by default
(``average_method="max"``), the adjusted Rand index, purity, and precision/recall/F-score over
pairs of samples placed in the same cluster.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

from normgraph._utils.validation import check_choice

__all__ = [
    "clustering_accuracy",
    "normalized_mutual_info",
    "adjusted_rand",
    "purity",
    "pairwise_f_score",
    "clustering_report",
]

_AVERAGE_METHODS = ("min", "geometric", "arithmetic", "max")


# Label dtypes: bool, integers, floats, strings, and objects (e.g. Python strings).
_LABEL_KINDS = "biufUSO"


def _check_labeling(y, name):
    if y is None or isinstance(y, (str, bytes)) or sp.issparse(y):
        raise TypeError(f"{name} must be a 1-D sequence of labels, got {type(y).__name__}")
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError) as exc:  # ragged nested sequences
        raise TypeError(f"{name} could not be read as a 1-D sequence of labels: {exc}") from None
    if arr.dtype.kind not in _LABEL_KINDS:
        raise TypeError(f"{name} must hold integer, float or string labels, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise TypeError(f"{name} must be a 1-D sequence of labels, got the scalar {y!r}")
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D sequence of labels, got an array of shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty; need at least one labelled sample")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite labels")
    if arr.dtype.kind == "O":
        try:
            np.unique(arr)
        except TypeError as exc:
            raise TypeError(f"{name} holds labels that cannot be compared: {exc}") from None
        if any(isinstance(v, float) and not np.isfinite(v) for v in arr.tolist()):
            raise ValueError(f"{name} contains NaN or infinite labels")
    return arr


def _check_labelings(y_true, y_pred):
    """Validate two labellings of the same samples and return them as 1-D arrays."""
    y_true = _check_labeling(y_true, "y_true")
    y_pred = _check_labeling(y_pred, "y_pred")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"y_true and y_pred have different lengths: {y_true.shape[0]} and "
            f"{y_pred.shape[0]}"
        )
    return y_true, y_pred


def _contingency(y_true, y_pred):
    """Dense contingency matrix (classes x clusters) as int64, after validation."""
    y_true, y_pred = _check_labelings(y_true, y_pred)
    return np.asarray(contingency_matrix(y_true, y_pred), dtype=np.int64)


def _check_average_method(average_method):
    check_choice(average_method, "average_method", _AVERAGE_METHODS)


def _accuracy_from_contingency(M):
    rows, cols = linear_sum_assignment(M, maximize=True)
    return float(M[rows, cols].sum() / M.sum())


def _purity_from_contingency(M):
    return float(M.max(axis=0).sum() / M.sum())


def _pairs(counts):
    """Number of unordered pairs inside groups of the given sizes, in exact integer arithmetic."""
    counts = np.asarray(counts, dtype=np.int64)
    return int((counts * (counts - 1) // 2).sum())


def _pairwise_from_contingency(M):
    same_both = _pairs(M.ravel())
    same_pred = _pairs(M.sum(axis=0))
    same_true = _pairs(M.sum(axis=1))
    # 0/0 means there are no pairs to get wrong: no predicted pairs -> no false positive,
    # no true pairs -> none missed. Both conventions give F = 0 unless the partitions agree.
    precision = same_both / same_pred if same_pred else 1.0
    recall = same_both / same_true if same_true else 1.0
    denom = precision + recall
    f_score = 2.0 * precision * recall / denom if denom > 0 else 0.0
    return float(f_score), float(precision), float(recall)


def clustering_accuracy(y_true, y_pred):
    """Clustering accuracy: the best one-to-one matching of clusters to classes.

    Clusters are matched to classes by the Hungarian algorithm on the contingency matrix
    (:func:`scipy.optimize.linear_sum_assignment`), and the accuracy is the share of samples
    whose cluster is matched to their class. The numbers of classes and clusters may differ:
    surplus clusters (or classes) stay unmatched and count as errors.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels (integers or strings).
    y_pred : array-like of shape (n_samples,)
        Cluster labels (integers or strings).

    Returns
    -------
    float
        Accuracy in [0, 1].

    Raises
    ------
    ValueError
        If the labellings are not 1-D, are empty or have different lengths.

    Examples
    --------
    >>> from normgraph.graphs.metrics import clustering_accuracy
    >>> clustering_accuracy([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> clustering_accuracy(["a", "a", "b", "b"], [0, 1, 1, 1])
    0.75
    """
    return _accuracy_from_contingency(_contingency(y_true, y_pred))


def normalized_mutual_info(y_true, y_pred, average_method="max"):
    """Normalised mutual information between a labelling and a clustering.

    ``NMI = MI(y_true, y_pred) / mean(H(y_true), H(y_pred))`` where the mean is chosen by
    ``average_method``; the default ``"max"`` divides by the larger entropy, as the evaluation
    code of the multi-view graph learning papers does (scikit-learn's default is
    ``"arithmetic"``). Computed by :func:`sklearn.metrics.normalized_mutual_info_score`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.
    average_method : {"max", "min", "geometric", "arithmetic"}, default="max"
        How the two entropies are combined into the normaliser.

    Returns
    -------
    float
        NMI in [0, 1]; 1.0 when the partitions are identical (including both being a single
        cluster), 0.0 when exactly one of them is a single cluster.

    Raises
    ------
    ValueError
        On invalid labellings or an unknown ``average_method``.

    Examples
    --------
    >>> from normgraph.graphs.metrics import normalized_mutual_info
    >>> normalized_mutual_info([0, 0, 1, 1], [5, 5, 7, 7])
    1.0
    >>> round(normalized_mutual_info([0, 0, 1, 1], [0, 1, 1, 1]), 4)
    0.3113
    """
    _check_average_method(average_method)
    y_true, y_pred = _check_labelings(y_true, y_pred)
    return float(normalized_mutual_info_score(y_true, y_pred, average_method=average_method))


def adjusted_rand(y_true, y_pred):
    """Adjusted Rand index (Hubert and Arabie) between a labelling and a clustering.

    The Rand index corrected for chance, computed by :func:`sklearn.metrics.adjusted_rand_score`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    float
        ARI, at most 1.0 (identical partitions); about 0.0 for a random clustering and possibly
        negative.

    Raises
    ------
    ValueError
        If the labellings are not 1-D, are empty or have different lengths.

    Examples
    --------
    >>> from normgraph.graphs.metrics import adjusted_rand
    >>> adjusted_rand([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> adjusted_rand([0, 0, 1, 1], [0, 1, 1, 1])
    0.0
    """
    y_true, y_pred = _check_labelings(y_true, y_pred)
    return float(adjusted_rand_score(y_true, y_pred))


def purity(y_true, y_pred):
    """Purity: the share of samples that belong to the majority class of their cluster.

    ``purity = sum_j max_i M[i, j] / n`` for the contingency matrix ``M``. Unlike
    :func:`clustering_accuracy`, several clusters may be credited to the same class, so purity
    reaches 1.0 for any refinement of the classes (for example one cluster per sample).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    float
        Purity in (0, 1].

    Raises
    ------
    ValueError
        If the labellings are not 1-D, are empty or have different lengths.

    Examples
    --------
    >>> from normgraph.graphs.metrics import purity
    >>> purity([0, 0, 1, 1], [0, 1, 1, 1])
    0.75
    >>> purity([0, 0, 1, 1], [0, 1, 2, 3])
    1.0
    """
    return _purity_from_contingency(_contingency(y_true, y_pred))


def pairwise_f_score(y_true, y_pred):
    """Pairwise F-score, precision and recall over pairs of samples in the same cluster.

    A pair of distinct samples is a true positive when both labellings put it in the same
    group. Precision is the share of same-cluster pairs that are same-class pairs, recall the
    share of same-class pairs that are same-cluster pairs, and F their harmonic mean. The pair
    counts come from the contingency matrix (``sum C(M_ij, 2)`` and the margins), in
    O(#classes x #clusters) time, without enumerating pairs.

    When a denominator is zero (no same-cluster pairs, or no same-class pairs) there is nothing
    to get wrong and the ratio is 1.0; the F-score is then 0.0 unless both partitions put every
    sample on its own, in which case all three values are 1.0.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    f_score, precision, recall : float
        Each in [0, 1].

    Raises
    ------
    ValueError
        If the labellings are not 1-D, are empty or have different lengths.

    Examples
    --------
    >>> from normgraph.graphs.metrics import pairwise_f_score
    >>> f, p, r = pairwise_f_score([0, 0, 1, 1], [0, 1, 1, 1])
    >>> round(f, 4), round(p, 4), round(r, 4)
    (0.4, 0.3333, 0.5)
    """
    return _pairwise_from_contingency(_contingency(y_true, y_pred))


def clustering_report(y_true, y_pred, average_method="max"):
    """All metrics of this module in one dictionary.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.
    average_method : {"max", "min", "geometric", "arithmetic"}, default="max"
        Normaliser of the NMI, see :func:`normalized_mutual_info`.

    Returns
    -------
    dict
        Keys ``"acc"``, ``"nmi"``, ``"ari"``, ``"purity"``, ``"f_score"``, ``"precision"``,
        ``"recall"``; values are floats.

    Raises
    ------
    ValueError
        On invalid labellings or an unknown ``average_method``.

    Examples
    --------
    >>> from normgraph.graphs.metrics import clustering_report
    >>> report = clustering_report([0, 0, 1, 1], [0, 1, 1, 1])
    >>> {key: round(value, 4) for key, value in report.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'acc': 0.75, 'nmi': 0.3113, 'ari': 0.0, 'purity': 0.75, 'f_score': 0.4,
     'precision': 0.3333, 'recall': 0.5}
    """
    _check_average_method(average_method)
    y_true, y_pred = _check_labelings(y_true, y_pred)
    M = np.asarray(contingency_matrix(y_true, y_pred), dtype=np.int64)
    f_score, precision, recall = _pairwise_from_contingency(M)
    return {
        "acc": _accuracy_from_contingency(M),
        "nmi": float(normalized_mutual_info_score(y_true, y_pred, average_method=average_method)),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
        "purity": _purity_from_contingency(M),
        "f_score": f_score,
        "precision": precision,
        "recall": recall,
    }
