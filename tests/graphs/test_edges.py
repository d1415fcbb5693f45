"""Per-edge Numba distances vs SciPy on dense copies; standardisation and Gaussian formulas."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from normgraph.graphs import gaussian_from_distance, standardize_edges, view_edge_weights


def _draw(seed, n, d, density, m):
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=3.0, size=(n, d))
    X[rng.random((n, d)) > density] = 0.0
    rows = rng.integers(0, n, size=m)
    cols = rng.integers(0, n, size=m)
    return X, rows, cols


@settings(max_examples=40)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 30),
    d=st.integers(1, 12),
    density=st.sampled_from([0.05, 0.3, 1.0]),
    m=st.integers(0, 60),
    metric=st.sampled_from(["sqeuclidean", "cosine"]),
)
def test_dense_and_csr_kernels_match_scipy(seed, n, d, density, m, metric):
    X, rows, cols = _draw(seed, n, d, density, m)
    if metric == "sqeuclidean":
        ref = cdist(X, X, "sqeuclidean")[rows, cols] if m else np.empty(0)
    else:
        # scipy's cosine distance is undefined for a zero row; ours puts it at cosine 0.
        norms = np.linalg.norm(X, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            D = cdist(X, X, "cosine")
        D[norms == 0, :] = 1.0
        D[:, norms == 0] = 1.0
        ref = np.clip(D, 0.0, 2.0)[rows, cols] ** 2 if m else np.empty(0)
    for view in (X, sp.csr_matrix(X), sp.csc_matrix(X)):
        got = view_edge_weights(view, rows, cols, metric)
        assert got.shape == (m,) and got.dtype == np.float64
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_sparse_view_is_not_densified(monkeypatch):
    X = sp.random(50, 10_000, density=0.001, format="csr", random_state=0)

    def forbidden(*args, **kwargs):
        raise AssertionError("a sparse view was densified")

    monkeypatch.setattr(sp.csr_matrix, "toarray", forbidden)
    monkeypatch.setattr(sp.csr_matrix, "todense", forbidden)
    out = view_edge_weights(X, [0, 1, 2], [3, 4, 5], "cosine")
    assert out.shape == (3,)


def test_precomputed_lookup_dense_and_sparse():
    rng = np.random.default_rng(0)
    D = rng.random((6, 6))
    rows, cols = np.array([0, 1, 5, 2]), np.array([3, 0, 4, 2])
    np.testing.assert_array_equal(view_edge_weights(D, rows, cols, "precomputed"), D[rows, cols])
    S = sp.csr_matrix(np.where(D > 0.5, D, 0.0))
    got = view_edge_weights(S, rows, cols, "precomputed")
    fill = S.data.max()  # an unstored pair is "far": the view's largest stored distance
    expected = [S[r, c] if S[r, c] != 0 else fill for r, c in zip(rows, cols)]
    np.testing.assert_array_equal(got, expected)
    graph = view_edge_weights(S, rows, cols, "precomputed_graph")
    np.testing.assert_array_equal(graph, [S[r, c] for r, c in zip(rows, cols)])


def test_standardize_matches_hand_computation():
    x = np.array([1.0, 4.0, 2.0, 9.0])
    mean = 4.0
    std = np.sqrt(((1 - 4) ** 2 + 0 + (2 - 4) ** 2 + (9 - 4) ** 2) / 3)  # ddof = 1
    expected = np.maximum((x - mean) / std + 1, 0)
    np.testing.assert_allclose(standardize_edges(x), expected, rtol=1e-15)
    # mean 8, std sqrt(80 / 4) = 4.472: (0 - 8) / 4.472 + 1 < 0 is clipped to 0
    np.testing.assert_allclose(standardize_edges([0.0, 10, 10, 10, 10]),
                               [0.0] + [2 / np.sqrt(20) + 1] * 4, rtol=1e-15)
    # invariant to the view's scale and shift
    np.testing.assert_allclose(standardize_edges(7.5 * x + 3), expected, rtol=1e-13)


@pytest.mark.parametrize("x", [[2.0, 2.0, 2.0], [0.0, 0.0], [5.0]])
def test_standardize_constant_raises_naming_the_view(x):
    with pytest.raises(ValueError, match="view 3"):
        standardize_edges(x, view=3)


def test_gaussian_matches_hand_computation():
    x = np.array([0.0, 1.0, 4.0, 9.0])
    sigma = (0 + 1 + 2 + 3) / 4
    np.testing.assert_allclose(gaussian_from_distance(x), np.exp(-x / (2 * sigma**2)),
                               rtol=1e-15)
    with pytest.raises(ValueError, match="view 1"):
        gaussian_from_distance([0.0, 0.0], view=1)
    with pytest.raises(ValueError, match="nonnegative"):
        gaussian_from_distance([-1.0, 2.0])


def test_bad_edge_lists():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="lie in"):
        view_edge_weights(X, [0], [3])
    with pytest.raises(ValueError, match="same length"):
        view_edge_weights(X, [0, 1], [1])
    with pytest.raises(ValueError, match="metric must be one of"):
        view_edge_weights(X, [0], [1], "manhattan")
