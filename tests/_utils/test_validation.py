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


# --- the shared vocabulary: TypeError for a wrong type, ValueError for a bad value ----------

from normgraph._utils.numeric import power_of_two_scale, scaled_norm  # noqa: E402
from normgraph._utils.validation import (  # noqa: E402
    check_allocation,
    check_array_param,
    check_bool,
    check_choice,
    check_int,
    check_numeric_dtype,
    check_real,
)


@pytest.mark.parametrize("bad", [2.0, 2.5, "3", None, True, np.bool_(False), [1]])
def test_check_int_rejects_non_integers_with_type_error(bad):
    with pytest.raises(TypeError, match="^k must be an integer"):
        check_int(bad, "k")


@given(st.integers(-10**6, 10**6))
def test_check_int_range(v):
    if v >= 1:
        assert check_int(np.int32(v) if abs(v) < 2**31 else v, "k", low=1) == v
    else:
        with pytest.raises(ValueError, match="^k must be >= 1"):
            check_int(v, "k", low=1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 10**400, -(10**400)])
def test_check_real_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="^tol must be finite"):
        check_real(bad, "tol")


def test_check_real_bounds_and_types():
    assert check_real(np.float32(0.5), "tol", low=0, low_inclusive=False) == 0.5
    with pytest.raises(ValueError, match="tol must be > 0"):
        check_real(0, "tol", low=0, low_inclusive=False)
    with pytest.raises(TypeError, match="tol must be a real number"):
        check_real("0.1", "tol")


@pytest.mark.parametrize("bad", [0, 1, "True", None, 1.0])
def test_check_bool(bad):
    with pytest.raises(TypeError, match="^verbose must be True or False"):
        check_bool(bad, "verbose")
    assert check_bool(np.bool_(True), "verbose") is True


def test_check_choice_type_and_value():
    assert check_choice("a", "mode", ("a", "b")) == "a"
    with pytest.raises(TypeError, match="^mode must be a string"):
        check_choice(1, "mode", ("a", "b"))
    with pytest.raises(ValueError, match="^mode must be one of"):
        check_choice("c", "mode", ("a", "b"))
    with pytest.raises(ValueError, match="^p must be one of"):
        check_choice([1], "p", (1, 2))


@pytest.mark.parametrize("bad", [np.array([1j]), np.array(["a"]), np.array([None], dtype=object),
                                 np.array(["2020-01-01"], dtype="datetime64[D]")])
def test_check_numeric_dtype(bad):
    with pytest.raises(TypeError, match="^x must hold real numbers"):
        check_numeric_dtype(bad, "x")


def test_check_array_param_sparse_formats_become_canonical_csr():
    dense = np.array([[0.0, 2.0], [3.0, 0.0]])
    for fmt in ("coo", "dok", "lil", "csc", "bsr", "dia"):
        out = check_array_param(sp.csr_matrix(dense).asformat(fmt), "G", accept_sparse=True)
        assert out.format == "csr" and out.has_sorted_indices
        np.testing.assert_array_equal(out.toarray(), dense)
    with pytest.raises(TypeError, match="^G must be a dense array"):
        check_array_param(sp.csr_matrix(dense), "G")


def test_check_array_param_errors_name_the_parameter():
    with pytest.raises(ValueError, match="^rows must be 1-D, got a 2-D"):
        check_array_param(np.ones((2, 2)), "rows", ndim=1)
    with pytest.raises(ValueError, match="^x contains NaN or infinity"):
        check_array_param([np.inf], "x")
    with pytest.raises(ValueError, match="^x must not contain negative"):
        check_array_param([-1.0], "x", ensure_nonnegative=True)
    with pytest.raises(ValueError, match="^x must have at least 1 entries"):
        check_array_param([], "x")
    with pytest.raises(TypeError, match="^x must be an array of numbers"):
        check_array_param("abc", "x")
    assert check_array_param(np.ones(2, np.float32), "x", allow_float32=True).dtype == np.float32


def test_check_allocation_names_parameter():
    assert check_allocation(10, "n_grid") == 80.0
    with pytest.raises(ValueError, match="^n_grid asks for about"):
        check_allocation(1e20, "n_grid")


@given(st.floats(1e-300, 1e300))
def test_power_of_two_scale_is_exact_power_of_two_near_value(v):
    s = power_of_two_scale(v)
    m, _ = np.frexp(s)
    assert m == 0.5 and 0.5 <= v / s <= 2.0


@given(st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=1, max_size=20),
       st.sampled_from([1e-300, 1e-150, 1.0, 1e150, 1e300]))
def test_scaled_norm_is_scale_equivariant(x, scale):
    import math

    y = np.array(x) * scale
    # math.hypot scales internally (an independent overflow/underflow-safe reference)
    np.testing.assert_allclose(scaled_norm(y), math.hypot(*y), rtol=1e-12, atol=0)


def test_check_random_state_param():
    from normgraph._utils.validation import check_random_state_param

    rs = np.random.RandomState(0)
    assert check_random_state_param(rs) is rs
    assert check_random_state_param(None) is None
    assert check_random_state_param(np.uint32(5)) == 5
    for bad in (1.5, "abc", True, np.random.default_rng(0), [1]):
        with pytest.raises(TypeError, match="seed must be None, an integer"):
            check_random_state_param(bad, "seed")
    for bad in (-1, 2**32):
        with pytest.raises(ValueError, match="random_state must be"):
            check_random_state_param(bad)


@pytest.mark.parametrize("bad", [3, 1.5, b"/tmp", ["a"]])
def test_check_data_home_wrong_type_names_the_parameter(bad):
    with pytest.raises(TypeError, match="^data_home must be a str or path-like"):
        check_data_home(bad)
