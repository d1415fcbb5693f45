"""Top-k sparsification against a dense NumPy reference (argsort per row)."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from normgraph.graphs._sparsify import knn_sparsify


def dense_reference(G, k):
    """Per row: drop the diagonal and non-positive entries, keep the k largest (ties -> smaller
    column), then average with the transpose. Plain NumPy on a dense copy."""
    D = np.asarray(G.toarray() if sp.issparse(G) else G, dtype=np.float64)
    n = D.shape[0]
    T = np.zeros_like(D)
    for i in range(n):
        cols = np.array([j for j in range(n) if j != i and D[i, j] > 0], dtype=np.int64)
        if cols.size == 0:
            continue
        order = np.lexsort((cols, -D[i, cols]))  # primary: value descending, then column
        chosen = cols[order[:k]]
        T[i, chosen] = D[i, chosen]
    return (T + T.T) / 2


@st.composite
def sparse_graphs(draw):
    n = draw(st.integers(1, 14))
    nnz = draw(st.integers(0, 3 * n * n // 2))
    rows = draw(st.lists(st.integers(0, n - 1), min_size=nnz, max_size=nnz))
    cols = draw(st.lists(st.integers(0, n - 1), min_size=nnz, max_size=nnz))
    # few distinct values so ties are common; zeros are stored explicitly; duplicates are summed
    vals = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.25]), min_size=nnz, max_size=nnz))
    G = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    k = draw(st.integers(1, n + 2))
    return G, k


def assert_canonical(S):
    assert S.format == "csr"
    assert S.has_sorted_indices
    assert S.has_canonical_format
    assert np.all(S.data > 0)
    assert np.all(S.diagonal() == 0)
    assert (S != S.T).nnz == 0


@given(sparse_graphs())
def test_matches_dense_reference(case):
    G, k = case
    S = knn_sparsify(G, k)
    assert_canonical(S)
    np.testing.assert_array_equal(S.toarray(), dense_reference(G, k))


@given(sparse_graphs())
def test_int64_indices_and_dense_input_agree(case):
    G, k = case
    G64 = sp.csr_matrix(
        (G.data, G.indices.astype(np.int64), G.indptr.astype(np.int64)), shape=G.shape
    )
    expected = knn_sparsify(G, k).toarray()
    np.testing.assert_array_equal(knn_sparsify(G64, k).toarray(), expected)
    np.testing.assert_array_equal(knn_sparsify(G.toarray(), k).toarray(), expected)


def test_rows_with_fewer_than_k_entries_keep_them_all():
    G = sp.csr_matrix(np.array([[0.0, 2.0, 0.0, 0.0],
                                [1.0, 0.0, 4.0, 3.0],
                                [0.0, 0.0, 0.0, 0.0],
                                [0.0, 0.0, 0.0, 5.0]]))  # row 2 empty, row 3 only a self loop
    S = knn_sparsify(G, 5)
    np.testing.assert_array_equal(S.toarray(), (G - sp.diags(G.diagonal())).toarray() / 2
                                  + (G - sp.diags(G.diagonal())).T.toarray() / 2)
    T = knn_sparsify(G, 1).toarray()
    # row 1 keeps only 4.0 (column 2); row 0 keeps 2.0 (column 1)
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 1.0
    expected[1, 2] = expected[2, 1] = 2.0
    np.testing.assert_array_equal(T, expected)


def test_ties_go_to_smaller_column_index():
    G = sp.csr_matrix(np.array([[0.0, 1.0, 1.0, 1.0],
                                [0.0, 0.0, 0.0, 0.0],
                                [0.0, 0.0, 0.0, 0.0],
                                [0.0, 0.0, 0.0, 0.0]]))
    S = knn_sparsify(G, 2)
    assert S[0, 1] == 0.5 and S[0, 2] == 0.5 and S[0, 3] == 0.0


def test_matrix_flavour_and_dtype_preserved():
    rng = np.random.default_rng(0)
    G = sp.random(30, 30, density=0.3, random_state=0, dtype=np.float32)
    S = knn_sparsify(G, 3)
    assert S.dtype == np.float32 and isinstance(S, sp.csr_matrix)
    S64 = knn_sparsify(sp.csr_array(G.astype(np.float64)), 3)
    assert isinstance(S64, sp.csr_array) and S64.dtype == np.float64
    np.testing.assert_allclose(S.toarray(), S64.toarray(), rtol=1e-7)
    Gi = sp.csr_matrix(rng.integers(0, 3, (10, 10)))
    assert knn_sparsify(Gi, 2).dtype == np.float64


def test_each_row_keeps_at_most_k_before_symmetrising():
    rng = np.random.default_rng(1)
    G = sp.random(200, 200, density=0.2, random_state=rng)
    S = knn_sparsify(G, 5)
    # an entry survives only if one of its endpoints kept it: at most 2k per row, 5n in total
    assert S.nnz <= 2 * 5 * 200
    assert np.all(S.diagonal() == 0)
    np.testing.assert_array_equal(S.toarray(), dense_reference(G, 5))


@pytest.mark.parametrize(
    "G, k, error, match",
    [
        (np.ones((3, 4)), 1, ValueError, "square"),
        (np.ones(3), 1, ValueError, "G must be 2-D"),
        (np.zeros((0, 0)), 1, ValueError, "G must have at least 1 entries"),
        (np.array([[0.0, -1.0], [1.0, 0.0]]), 1, ValueError, "negative"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), 1, ValueError, "NaN"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), 1, ValueError, "NaN or infinity"),
        (np.ones((3, 3)), 0, ValueError, "n_neighbors"),
        (np.ones((3, 3)), 1.5, TypeError, "n_neighbors"),
        (np.array([["a", "b"], ["c", "d"]]), 1, TypeError, "G must hold real numbers"),
    ],
)
def test_bad_input_raises(G, k, error, match):
    with pytest.raises(error, match=match):
        knn_sparsify(G, k)
