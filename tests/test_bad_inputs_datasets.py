"""Hostile inputs for the loaders (issue 8): a clear error naming the file, or the right answer.

``load_multiview``, ``load_multiview_mat``, ``list_multiview`` and ``load_digits_multiview``:
NaN labels, empty view cells, unreadable or mis-structured ``.mat`` files (truncated, v7.3/HDF5,
missing ``fea``/``gt``, wrong shapes, non-numeric cells, label count != n) and wrongly typed
paths. Every bad file is made in ``tmp_path``; the positive controls compare what the loader
returns with the arrays that were saved.
"""

import os
import pathlib

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.io import savemat

from normgraph.datasets import (list_multiview, load_digits_multiview, load_multiview,
                                load_multiview_mat)


def _cell(*items):
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def _save(path, fea, gt):
    savemat(path, {"fea": fea, "gt": np.asarray(gt)})
    return path


def _good_views(n=6):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, 3)), sp.random(n, 5, density=0.5, random_state=1, format="csc")]


def _assert_names_file(exc_info, path, *words):
    msg = str(exc_info.value)
    assert str(path) in msg, msg
    for word in words:
        assert word in msg, msg
    assert "scipy" not in msg.lower() and "Traceback" not in msg


def _hdf5_mat(path):
    """The first bytes of a MATLAB v7.3 file: a 128-byte MATLAB header, then HDF5 at 512."""
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Tue Dec  1 00:00:00 2026 HDF5"
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    path.write_bytes(header.ljust(512, b"\x00") + b"\x89HDF\r\n\x1a\n" + b"\x00" * 512)
    return path


# ----------------------------------------------------------------------------------- labels


def test_nan_label_is_refused_not_made_a_class(tmp_path):
    path = _save(tmp_path / "nan.mat", _cell(*_good_views()), [[1], [1], [np.nan], [2], [2], [2]])
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, "nan", "sample 2", "'gt'")


@given(pos=st.integers(0, 5), bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_any_non_finite_label_is_refused(tmp_path_factory, pos, bad):
    path = tmp_path_factory.mktemp("lab") / "bad.mat"
    gt = np.array([1.0, 1.0, 2.0, 2.0, 3.0, 3.0])
    gt[pos] = bad
    _save(path, _cell(*_good_views()), gt[:, None])
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, f"sample {pos}", "not a finite number")


@pytest.mark.parametrize("gt, words", [
    (np.ones((6, 2)), ("vector", "(6, 2)")),
    (np.array([["a"], ["b"], ["a"], ["b"], ["a"], ["b"]]), ("not numeric labels",)),
    (_cell(*[np.ones((1, 1))] * 6).T, ("not numeric labels",)),
    (np.array([[1], [2], [3]]), ("3 labels",)),
])
def test_bad_label_variable(tmp_path, gt, words):
    path = _save(tmp_path / "gt.mat", _cell(*_good_views()), gt)
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, *words)


# ------------------------------------------------------------------------------------ views


def test_empty_view_cell_is_refused_not_zero_views(tmp_path):
    path = _save(tmp_path / "empty.mat", _cell(np.ones((4, 3)), np.zeros((0, 0))),
                 [[1], [1], [2], [2]])
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, "view 1", "empty")


def test_empty_fea_cell_is_refused(tmp_path):
    path = _save(tmp_path / "none.mat", np.empty((1, 0), dtype=object), [[1], [2]])
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, "empty cell")


@pytest.mark.parametrize("bad_view, words", [
    ("some text", ("view 1", "text")),
    (_cell(np.ones((4, 2))), ("view 1", "nested cell")),
    (np.ones((4, 2)) + 1j, ("view 1", "complex")),
    ({"a": np.ones((4, 1))}, ("view 1", "struct")),
    (np.ones((4, 2, 2)), ("view 1", "3-D")),
    (np.ones((3, 2)), ("different numbers of rows", "[4, 3]")),
    (np.ones((4, 0)), ("view 1", "empty")),
])
def test_non_numeric_or_misshapen_view(tmp_path, bad_view, words):
    path = _save(tmp_path / "views.mat", _cell(np.ones((4, 3)), bad_view), [[1], [1], [2], [2]])
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, *words)


def test_fea_that_is_not_a_cell(tmp_path):
    path = _save(tmp_path / "plain.mat", np.ones((4, 3)), [[1], [1], [2], [2]])
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, "1 x V cell")


@pytest.mark.parametrize("variables, missing", [
    ({"X": np.ones((2, 2))}, "'fea' and 'gt'"),
    ({"fea": _cell(np.ones((2, 2)))}, "missing 'gt'"),
    ({"gt": np.ones((2, 1))}, "missing 'fea'"),
])
def test_missing_variables(tmp_path, variables, missing):
    path = tmp_path / "vars.mat"
    savemat(path, variables)
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, missing)


# ----------------------------------------------------------------------- unreadable files


def test_v73_hdf5_file_is_named_as_such(tmp_path):
    path = _hdf5_mat(tmp_path / "v73.mat")
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, "v7.3", "-v7")


@pytest.mark.parametrize("content", [b"", b"hello, world\n" * 20, b"PK\x03\x04" + b"\x00" * 200,
                                     b"\x93NUMPY\x01\x00" + b"\x00" * 200])
def test_files_that_are_not_mat_files(tmp_path, content):
    path = tmp_path / "not.mat"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path, "MATLAB")


@pytest.fixture(scope="module")
def valid_mat_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("valid") / "valid.mat"
    _save(path, _cell(*_good_views()), [[1], [1], [2], [2], [3], [3]])
    return path.read_bytes()


@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_every_truncation_is_a_clear_error(tmp_path_factory, valid_mat_bytes, fraction):
    path = tmp_path_factory.mktemp("trunc") / "cut.mat"
    path.write_bytes(valid_mat_bytes[: int(fraction * len(valid_mat_bytes))])
    with pytest.raises(ValueError) as info:
        load_multiview_mat(path)
    _assert_names_file(info, path)


def test_truncated_real_benchmark_file(tmp_path, data_home):
    content = (data_home / "multiview" / "MSRC_v1.mat").read_bytes()
    for cut in (10, 100, 1000, len(content) // 2, len(content) - 1):
        path = tmp_path / f"cut{cut}.mat"
        path.write_bytes(content[:cut])
        with pytest.raises(ValueError) as info:
            load_multiview_mat(path)
        _assert_names_file(info, path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_multiview_mat(tmp_path / "missing.mat")
    with pytest.raises(IsADirectoryError, match="folder"):
        load_multiview_mat(tmp_path)


def test_corrupt_file_inside_the_data_home(tmp_path):
    (tmp_path / "multiview").mkdir()
    path = tmp_path / "multiview" / "MSRC_v1.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 20)
    with pytest.raises(ValueError) as info:
        load_multiview("MSRC_v1", data_home=tmp_path)
    _assert_names_file(info, path)


# --------------------------------------------------------------------------------- types


@pytest.mark.parametrize("data_home", [3, 2.5, b"/tmp", ["multiview"], {"home": "x"}])
def test_data_home_of_a_wrong_type_is_a_type_error(data_home):
    with pytest.raises(TypeError, match="data_home must be a str or path-like"):
        load_multiview("MSRC_v1", data_home=data_home)
    with pytest.raises(TypeError, match="data_home must be a str or path-like"):
        list_multiview(data_home)


@pytest.mark.parametrize("name", [3, None, b"MSRC_v1", ["MSRC_v1"]])
def test_name_of_a_wrong_type_is_a_type_error(name, tmp_path):
    with pytest.raises(TypeError, match="name must be a string"):
        load_multiview(name, data_home=tmp_path)


@pytest.mark.parametrize("path", [3, None, b"x.mat", ["x.mat"]])
def test_path_of_a_wrong_type_is_a_type_error(path):
    with pytest.raises(TypeError, match="path must be a str or path-like"):
        load_multiview_mat(path)


def test_path_like_data_home_and_path_are_accepted(data_home):
    class Home(os.PathLike):
        def __fspath__(self):
            return str(data_home)

    assert load_multiview("3Sources", data_home=Home()).views[0].shape == (169, 3560)
    assert list_multiview(Home())["MSRC_v1"] is not None
    data = load_multiview_mat(pathlib.PurePath(data_home / "multiview" / "MSRC_v1.mat"))
    assert data.n_clusters == 7


def test_digits_loader_takes_no_arguments():
    with pytest.raises(TypeError):
        load_digits_multiview("digits")  # no parameters: a Python TypeError, nothing read
    data = load_digits_multiview()
    assert all(np.isfinite(v).all() for v in data.views) and data.n_clusters == 10


# ------------------------------------------------------------------ the right answer too


@given(
    n=st.integers(2, 12),
    dims=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    labels=st.lists(st.sampled_from([-3.0, 0.0, 1.0, 2.5, 7.0]), min_size=12, max_size=12),
    scale=st.sampled_from([1e-300, 1.0, 1e300]),
    sparse_last=st.booleans(),
)
def test_valid_files_round_trip(tmp_path_factory, n, dims, labels, scale, sparse_last):
    rng = np.random.default_rng(n)
    views = [rng.normal(size=(n, d)) * scale for d in dims]
    if sparse_last:
        views[-1] = sp.csc_matrix(np.where(np.abs(views[-1]) > scale, views[-1], 0.0))
    gt = np.array(labels[:n])
    path = _save(tmp_path_factory.mktemp("ok") / "ok.mat", _cell(*views), gt[:, None])
    data = load_multiview_mat(path)
    assert len(data.views) == len(dims)
    for got, saved in zip(data.views, views):
        if sp.issparse(saved):
            assert sp.issparse(got) and got.format == "csr"
            np.testing.assert_array_equal(got.toarray(), saved.toarray())
        else:
            assert got.dtype == np.float64 and got.flags.c_contiguous
            np.testing.assert_array_equal(got, saved)
    # classes are the distinct labels in sorted order, relabelled 0..c-1
    distinct = sorted(set(gt.tolist()))
    assert data.target.tolist() == [distinct.index(v) for v in gt.tolist()]
    assert data.n_clusters == len(distinct)
