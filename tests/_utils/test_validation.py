"""check_views and scalar checks: every bad input names the offending view."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from normgraph._utils.validation import check_data_home, check_scalar_param, check_views


def test_accepts_dense_and_sparse_and_normalises():
    a = np.arange(12, dtype=np.int32).reshape(4, 3)
    b = sp.coo_matrix(np.eye(4))
    out = check_views([a, b])
    assert out[0].dtype == np.float64 and out[0].flags.c_contiguous
    assert sp.issparse(out[1]) and out[1].format == "csr" and out[1].dtype == np.float64
    np.testing.assert_array_equal(out[0], a)
    np.testing.assert_array_equal(out[1].toarray(), np.eye(4))


def test_tuple_and_list_of_lists_accepted():
    out = check_views(([[1, 2], [3, 4]], np.ones((2, 1))))
    assert [v.shape for v in out] == [(2, 2), (2, 1)]


@given(st.lists(st.integers(1, 6), min_size=2, max_size=5))
def test_mismatched_sample_counts_list_every_view(ns):
    views = [np.ones((n, 2)) for n in ns]
    if len(set(ns)) == 1:
        assert len(check_views(views)) == len(ns)
        return
    with pytest.raises(ValueError) as info:
        check_views(views)
    msg = str(info.value)
    for i, n in enumerate(ns):
        assert f"view {i} has {n}" in msg


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("sparse", [False, True])
def test_non_finite_names_the_view(bad, sparse):
    X = np.ones((5, 3))
    X[2, 1] = bad
    if sparse:
        X = sp.csr_matrix(X)
    with pytest.raises(ValueError, match=r"view 1: .*(NaN|infinity)"):
        check_views([np.ones((5, 2)), X])


@pytest.mark.parametrize("shape", [(0, 3), (4, 0)])
def test_empty_view_names_the_view(shape):
    with pytest.raises(ValueError, match=r"view 1: empty view"):
        check_views([np.ones((4, 2)), np.ones(shape)])


@pytest.mark.parametrize("shape", [(4, 2, 2), (4,)])
def test_wrong_dimensionality_names_the_view(shape):
    with pytest.raises(ValueError, match=r"view 2: expected a 2-D array"):
        check_views([np.ones((4, 2)), np.ones((4, 2)), np.ones(shape)])


def test_object_dtype_names_the_view():
    X = np.empty((3, 2), dtype=object)
    X[:] = 1.0
    with pytest.raises(TypeError, match=r"view 0: dtype object"):
        check_views([X, np.ones((3, 2))])


def test_complex_and_string_rejected():
    with pytest.raises(TypeError, match=r"view 1"):
        check_views([np.ones((2, 2)), np.ones((2, 2), dtype=complex)])
    with pytest.raises(TypeError, match=r"view 0"):
        check_views([[["a", "b"], ["c", "d"]]])


def test_container_errors():
    with pytest.raises(TypeError, match="list or tuple"):
        check_views(np.ones((3, 3)))
    with pytest.raises(TypeError, match="list or tuple"):
        check_views("abc")
    with pytest.raises(ValueError, match="at least 1 view"):
        check_views([])
    with pytest.raises(ValueError, match="at least 2 view"):
        check_views([np.ones((2, 2))], ensure_min_views=2)


def test_sparse_refused_when_not_accepted():
    with pytest.raises(TypeError, match="view 0: sparse"):
        check_views([sp.eye(3)], accept_sparse=False)


def test_negative_entries_refused_when_asked():
    X = np.ones((3, 3))
    X[0, 0] = -1
    with pytest.raises(ValueError, match="view 0: negative"):
        check_views([X], ensure_nonnegative=True)
    assert check_views([X])[0][0, 0] == -1


def test_sparse_duplicates_are_summed():
    X = sp.csr_matrix((np.array([1.0, 2.0]), np.array([1, 1]), np.array([0, 2, 2])), shape=(2, 3))
    out = check_views([X])[0]
    assert out.nnz == 1 and out[0, 1] == 3.0


def test_scalar_param():
    assert check_scalar_param(2, "k", kind="int", low=1) == 2
    with pytest.raises(TypeError):
        check_scalar_param(2.5, "k", kind="int")
    with pytest.raises(TypeError):
        check_scalar_param(True, "k", kind="int")
    with pytest.raises(ValueError, match="k must be >= 1"):
        check_scalar_param(0, "k", kind="int", low=1)
    with pytest.raises(ValueError, match="finite"):
        check_scalar_param(np.nan, "beta")
    with pytest.raises(ValueError, match="< 1"):
        check_scalar_param(1.0, "x", high=1, high_inclusive=False)


def test_data_home_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("NORMGRAPH_DATA", str(tmp_path))
    assert check_data_home() == tmp_path
    monkeypatch.delenv("NORMGRAPH_DATA")
    assert str(check_data_home()).endswith("normgraph_data")
