"""Clustering metrics against hand-computed values and brute-force references."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.graphs.metrics import (
    adjusted_rand,
    clustering_accuracy,
    clustering_report,
    normalized_mutual_info,
    pairwise_f_score,
    purity,
)

# ----------------------------------------------------------------------------- references


def brute_accuracy(y_true, y_pred):
    """Max over every injective relabelling of the clusters to classes (exhaustive)."""
    classes = sorted(set(y_true))
    clusters = sorted(set(y_pred))
    size = max(len(classes), len(clusters))
    best = 0
    for perm in itertools.permutations(range(size), len(clusters)):
        mapping = {c: perm[i] for i, c in enumerate(clusters)}
        hits = sum(
            1 for t, p in zip(y_true, y_pred)
            if mapping[p] < len(classes) and classes[mapping[p]] == t
        )
        best = max(best, hits)
    return best / len(y_true)


def brute_pairs(y_true, y_pred):
    """Precision and recall by enumerating every unordered pair of samples."""
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(len(y_true)), 2):
        same_true = y_true[i] == y_true[j]
        same_pred = y_pred[i] == y_pred[j]
        tp += same_true and same_pred
        fp += same_pred and not same_true
        fn += same_true and not same_pred
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def entropy_nmi_max(y_true, y_pred):
    """NMI = MI / max(H(true), H(pred)), natural logs, written from the definitions."""
    n = len(y_true)
    p_true = {a: y_true.count(a) / n for a in set(y_true)}
    p_pred = {b: y_pred.count(b) / n for b in set(y_pred)}
    joint = {}
    for a, b in zip(y_true, y_pred):
        joint[(a, b)] = joint.get((a, b), 0) + 1 / n
    mi = sum(p * math.log(p / (p_true[a] * p_pred[b])) for (a, b), p in joint.items())
    h_true = -sum(p * math.log(p) for p in p_true.values())
    h_pred = -sum(p * math.log(p) for p in p_pred.values())
    if h_true == 0 and h_pred == 0:
        return 1.0
    return mi / max(h_true, h_pred)


labelings = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
    )
)

# ----------------------------------------------------------------------------- oracles


def test_hand_example():
    y, p = [0, 0, 1, 1], [0, 1, 1, 1]
    assert clustering_accuracy(y, p) == pytest.approx(0.75)
    assert purity(y, p) == pytest.approx(0.75)
    assert adjusted_rand(y, p) == pytest.approx(0.0, abs=1e-15)
    f, precision, recall = pairwise_f_score(y, p)
    assert precision == pytest.approx(1 / 3)
    assert recall == pytest.approx(1 / 2)
    assert f == pytest.approx(0.4)
    assert brute_pairs(y, p) == pytest.approx((1 / 3, 1 / 2))


@pytest.mark.parametrize("perm", [[2, 0, 1], [1, 2, 0], [0, 1, 2]])
def test_permuted_perfect_labels_score_one(perm):
    y = np.repeat([0, 1, 2], [5, 3, 4])
    p = np.asarray(perm)[y] + 10
    report = clustering_report(y, p)
    assert report == pytest.approx(dict.fromkeys(report, 1.0))
    for method in ("min", "geometric", "arithmetic", "max"):
        assert normalized_mutual_info(y, p, average_method=method) == pytest.approx(1.0)


def test_constant_prediction():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    p = np.full(10, 7)
    assert clustering_accuracy(y, p) == pytest.approx(0.5)
    assert purity(y, p) == pytest.approx(0.5)
    assert normalized_mutual_info(y, p) == pytest.approx(0.0, abs=1e-15)
    assert adjusted_rand(y, p) == pytest.approx(0.0, abs=1e-15)
    f, precision, recall = pairwise_f_score(y, p)
    assert recall == 1.0
    assert precision == pytest.approx((3 + 1 + 10) / 45)


def test_string_labels_and_rectangular_matching():
    y = ["cat", "cat", "dog", "dog", "dog", "eel"]
    p = ["a", "a", "b", "b", "c", "c"]  # three clusters, three classes, one split
    assert clustering_accuracy(y, p) == pytest.approx(brute_accuracy(y, p))
    # more clusters than classes: surplus clusters stay unmatched
    p_many = [0, 1, 2, 3, 4, 5]
    assert clustering_accuracy(y, p_many) == pytest.approx(3 / 6)
    assert purity(y, p_many) == 1.0
    # fewer clusters than classes
    assert clustering_accuracy(y, [0] * 6) == pytest.approx(3 / 6)


def test_all_singletons_pairwise_convention():
    y = [0, 1, 2, 3]
    assert pairwise_f_score(y, [5, 6, 7, 8]) == (1.0, 1.0, 1.0)
    f, precision, recall = pairwise_f_score([0, 0, 1, 1], [0, 1, 2, 3])
    assert (f, precision, recall) == (0.0, 1.0, 0.0)


def test_report_keys_and_average_method():
    y, p = [0, 0, 1, 1, 2, 2], [0, 0, 1, 2, 2, 2]
    report = clustering_report(y, p, average_method="arithmetic")
    assert list(report) == ["acc", "nmi", "ari", "purity", "f_score", "precision", "recall"]
    assert all(isinstance(v, float) for v in report.values())
    assert report["nmi"] == pytest.approx(normalized_mutual_info(y, p, "arithmetic"))
    assert report["nmi"] > normalized_mutual_info(y, p, "max")


# ----------------------------------------------------------------------------- properties


@given(labelings)
def test_accuracy_equals_brute_force(pair):
    y, p = pair
    assert clustering_accuracy(y, p) == pytest.approx(brute_accuracy(y, p), abs=1e-12)


@given(labelings)
def test_pairwise_equals_pair_enumeration(pair):
    y, p = pair
    f, precision, recall = pairwise_f_score(y, p)
    ref_p, ref_r = brute_pairs(y, p)
    assert precision == pytest.approx(ref_p, abs=1e-12)
    assert recall == pytest.approx(ref_r, abs=1e-12)
    ref_f = 2 * ref_p * ref_r / (ref_p + ref_r) if ref_p + ref_r else 0.0
    assert f == pytest.approx(ref_f, abs=1e-12)


@given(labelings)
def test_nmi_max_equals_entropy_formula(pair):
    y, p = pair
    assert normalized_mutual_info(y, p) == pytest.approx(entropy_nmi_max(y, p), abs=1e-10)


@settings(max_examples=30)
@given(labelings, st.permutations(range(5)))
def test_metrics_invariant_to_cluster_renaming(pair, perm):
    y, p = pair
    renamed = [perm[v] for v in p]
    assert clustering_report(y, p) == pytest.approx(clustering_report(y, renamed))
    assert purity(y, p) >= clustering_accuracy(y, p) - 1e-12


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "func",
    [clustering_accuracy, normalized_mutual_info, adjusted_rand, purity, pairwise_f_score,
     clustering_report],
)
@pytest.mark.parametrize(
    "y, p, error, match",
    [
        ([0, 1, 1], [0, 1], ValueError, "different lengths"),
        ([], [], ValueError, "empty"),
        ([[0, 1], [1, 0]], [[0, 1], [1, 0]], ValueError, "1-D"),
        ([0.0, np.nan], [0, 1], ValueError, "NaN"),
        (np.array([0.0, np.nan], dtype=object), [0, 1], ValueError, "y_true contains NaN"),
        (None, [0, 1], TypeError, "y_true must be a 1-D sequence of labels, got NoneType"),
        ([0, 1], 3, TypeError, "y_pred must be a 1-D sequence of labels, got the scalar"),
        ([0, 1], [1j, 2j], TypeError, "y_pred must hold integer, float or string labels"),
    ],
)
def test_bad_labelings_raise(func, y, p, error, match):
    with pytest.raises(error, match=match):
        func(y, p)


@pytest.mark.parametrize("func", [normalized_mutual_info, clustering_report])
def test_unknown_average_method_raises(func):
    with pytest.raises(ValueError, match="average_method"):
        func([0, 1], [0, 1], average_method="mean")
