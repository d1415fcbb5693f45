"""Safe reading of user array files and output-path checks shared by every CLI command."""

import os
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from normgraph.datasets._files import (check_input_file, check_output_path, check_path,
                                       read_array_file)


class _Evil:
    """Unpickling this creates a folder: reading must refuse object arrays before that."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _header_only(path, shape, descr="<f8"):
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": descr, "fortran_order": False, "shape": shape})
    return path


# ------------------------------------------------------------------------------ .npy files


@given(arr=hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.int16, np.uint8,
                                             np.bool_, np.int64]),
                      shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)),
       fortran=st.booleans(), suffix=st.sampled_from([".npy", ".dat", ""]))
def test_npy_round_trip_whatever_the_extension(tmp_path_factory, arr, fortran, suffix):
    path = tmp_path_factory.mktemp("npy") / f"a{suffix}"
    with open(path, "wb") as fh:
        np.save(fh, np.asfortranarray(arr) if fortran else arr)
    got = read_array_file(path)
    assert got.dtype == arr.dtype and got.shape == arr.shape
    np.testing.assert_array_equal(got, arr)


def test_header_claiming_terabytes_is_refused_before_allocating(tmp_path):
    path = _header_only(tmp_path / "huge.npy", (10**6, 10**6))
    with pytest.raises(ValueError, match=r"claims an array of shape \(1000000, 1000000\).*"
                                         r"8e\+12 bytes.*holds only 0 bytes"):
        read_array_file(path, "FILE")


@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_every_truncation_of_a_npy_file_is_a_clear_error(tmp_path_factory, fraction):
    path = tmp_path_factory.mktemp("cut") / "x.npy"
    np.save(path, np.arange(40.0).reshape(8, 5))
    content = path.read_bytes()
    path.write_bytes(content[: int(fraction * len(content))])
    with pytest.raises(ValueError) as info:
        read_array_file(path, "FILE")
    assert f"FILE {path}" in str(info.value)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"\x93NUMPY\x01\x00\x10\x00{garbage}      \n", "malformed .npy header"),
    (b"\x93NUMPY\x01\x00\x40\x00{'descr': '<f8', 'fortran_order': False, 'shape': (-3,), }"
     b"      \n", "malformed .npy header"),
    (b"\x93NUMPY\x03\x00" + b"\x00" * 20, "version 3.0 is not supported"),
    (b"not numpy at all", "no NumPy header"),
    (b"PK\x03\x04" + b"\x00" * 100, "zip archive"),
])
def test_malformed_npy_files(tmp_path, content, message):
    path = tmp_path / "x.npy"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_array_file(path)


def test_npz_named_npy(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.ones(3))
    os.replace(path, tmp_path / "arrays.npy")
    with pytest.raises(ValueError, match="zip archive"):
        read_array_file(tmp_path / "arrays.npy")


def test_object_array_is_never_unpickled(tmp_path):
    path = tmp_path / "evil.npy"
    marker = tmp_path / "unpickled"
    np.save(path, np.array([_Evil(marker), 1.0], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="without pickle"):
        read_array_file(path)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Evil(marker)))  # the marker works when really unpickled
    assert marker.exists()


@pytest.mark.parametrize("arr", [np.array(["a", "b"]), np.array([1 + 2j]),
                                 np.zeros(2, dtype=[("x", "<f8")])])
def test_non_numeric_npy(tmp_path, arr):
    path = tmp_path / "x.npy"
    np.save(path, arr)
    with pytest.raises(ValueError, match="not numbers"):
        read_array_file(path)


# ----------------------------------------------------------------------------- text files


def test_csv_with_header_and_whitespace_text(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,2.5\n3,-4\n")
    np.testing.assert_array_equal(read_array_file(csv), [[1.0, 2.5], [3.0, -4.0]])
    txt = tmp_path / "t.txt"
    txt.write_text("1 2\n3 4\n")
    np.testing.assert_array_equal(read_array_file(txt), [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("content, message", [
    (b"a,b\nx,y\n", "could not read a table of numbers"),
    (b"a,b\n", "holds no numbers"),
    (b"\x00\x01\x02binary", "binary file"),
    (b"1,2\n3\n", "could not read a table of numbers"),
])
def test_bad_text_files(tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_array_file(path)


def test_binary_mat_file_given_as_a_table(tmp_path, data_home):
    path = tmp_path / "x.csv"
    path.write_bytes((data_home / "multiview" / "MSRC_v1.mat").read_bytes()[:4000])
    with pytest.raises(ValueError, match="binary file"):
        read_array_file(path)


# ------------------------------------------------------------------------ paths and files


@pytest.mark.parametrize("value", [3, None, b"x.npy", ["x.npy"], 1.5])
def test_check_path_types(value):
    with pytest.raises(TypeError, match="out must be a str or path-like"):
        check_path(value, "out")


def test_check_input_file(tmp_path):
    (tmp_path / "f").write_text("1")
    assert check_input_file(tmp_path / "f", "file") == tmp_path / "f"
    with pytest.raises(FileNotFoundError, match="file .*missing: no such file"):
        check_input_file(tmp_path / "missing", "file")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        check_input_file(tmp_path, "file")


def test_check_output_path(tmp_path):
    (tmp_path / "afile").write_text("x")
    ok = check_output_path(tmp_path / "plot.png", "--plot", plot=True)
    assert ok == tmp_path / "plot.png" and not ok.exists()  # nothing is left behind
    assert os.listdir(tmp_path) == ["afile"]
    assert check_output_path(tmp_path / "afile", "out") == tmp_path / "afile"  # overwrite
    assert check_output_path(tmp_path / "noext", "--plot", plot=True).name == "noext"
    with pytest.raises(FileNotFoundError, match="the folder .*nodir does not exist"):
        check_output_path(tmp_path / "nodir" / "p.png", "--plot")
    with pytest.raises(NotADirectoryError, match="afile is not a folder"):
        check_output_path(tmp_path / "afile" / "p.png", "--plot")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        check_output_path(tmp_path, "--plot")
    with pytest.raises(ValueError, match="cannot save a plot as 'xyz'"):
        check_output_path(tmp_path / "p.xyz", "--plot", plot=True)
    with pytest.raises(ValueError, match="must name a file"):
        check_output_path("", "--plot")


def test_check_output_path_in_a_folder_that_refuses_files(tmp_path):
    # chmod alone does not stop root; a read-only folder of the process's own is tried first,
    # and /proc (no regular files can be created there) covers root.
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        target = folder / "p.png" if os.geteuid() != 0 else "/proc/normgraph-plot.png"
        with pytest.raises(PermissionError, match="cannot write in the folder"):
            check_output_path(target, "--plot")
    finally:
        folder.chmod(0o700)


@given(rows=st.integers(1, 4), cols=st.integers(1, 700), header=st.booleans())
def test_wide_text_tables_keep_their_first_row(tmp_path_factory, rows, cols, header):
    # The header test reads the whole first line: a row wider than any read buffer is data.
    x = np.arange(rows * cols, dtype=np.float64).reshape(rows, cols) * 1.2345678901e-7
    path = tmp_path_factory.mktemp("wide") / "w.csv"
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in x)
    path.write_text((",".join(f"c{j}" for j in range(cols)) + "\n" if header else "") + text)
    np.testing.assert_array_equal(read_array_file(path), x)


def test_npy_format_version_2(tmp_path):
    x = np.arange(6, dtype="<i4").reshape(2, 3)
    path = tmp_path / "v2.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_2_0(
            fh, {"descr": "<i4", "fortran_order": False, "shape": (2, 3)})
        fh.write(x.tobytes())
    np.testing.assert_array_equal(read_array_file(path), x)
    path.write_bytes(path.read_bytes()[:-4])  # one element short
    with pytest.raises(ValueError, match="holds only 20 bytes"):
        read_array_file(path)
