"""Reading user files safely and checking output paths before any work starts.

Shared by the loaders and by every ``normgraph`` subcommand (``normgraph.*._cli``):

- :func:`check_path`: a path parameter is a ``str`` or path-like (else ``TypeError``).
- :func:`check_input_file`: the file exists and is a readable regular file.
- :func:`check_output_path`: a file can be written there (folder exists and is writable, the
  path is not a folder; for a plot, the extension is one matplotlib writes). Commands call it
  before the work, so a long computation never ends in "cannot save".
- :func:`read_array_file`: a numeric array from a ``.npy`` file (header checked against the
  file size before anything is allocated; never unpickled) or from a CSV/whitespace text file.

Every problem is a ``TypeError`` (wrong type), ``ValueError`` (bad content) or ``OSError``
(missing or inaccessible file) whose message names the parameter and the file.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .._utils.validation import _NUMERIC_KINDS  # the one definition of numeric

__all__ = ["check_path", "check_input_file", "check_output_path", "read_array_file"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def check_path(value, name):
    """Return a path parameter as a :class:`pathlib.Path`, refusing other types.

    Parameters
    ----------
    value : str or os.PathLike
        The path.
    name : str
        The parameter's name, used in error messages.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    TypeError
        If ``value`` is neither a string nor path-like (``bytes`` included).

    Examples
    --------
    >>> from normgraph.datasets._files import check_path
    >>> check_path("data/x.npy", "file").name
    'x.npy'
    >>> check_path(3, "data_home")
    Traceback (most recent call last):
    ...
    TypeError: data_home must be a str or path-like object, got int
    """
    if isinstance(value, str) or (isinstance(value, os.PathLike)
                                  and isinstance(os.fspath(value), str)):
        return Path(value)
    raise TypeError(f"{name} must be a str or path-like object, got {type(value).__name__}")


def check_input_file(path, name):
    """Check that a file to read exists, is a regular file and is readable.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    name : str
        The parameter's name, used in error messages.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    TypeError
        If ``path`` is not a str or path-like.
    FileNotFoundError, IsADirectoryError, PermissionError
        If the file is missing, is a folder, or cannot be read.

    Examples
    --------
    >>> from normgraph.datasets._files import check_input_file
    >>> check_input_file("no/such/file.npy", "file")
    Traceback (most recent call last):
    ...
    FileNotFoundError: file no/such/file.npy: no such file
    """
    path = check_path(path, name)
    if path.is_dir():
        raise IsADirectoryError(f"{name} {path}: is a folder, not a file")
    if not path.is_file():
        if path.exists():
            raise OSError(f"{name} {path}: is not a regular file")
        raise FileNotFoundError(f"{name} {path}: no such file")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{name} {path}: the file is not readable (permission denied)")
    return path


def _plot_formats():
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def check_output_path(path, name, *, plot=False):
    """Check, before any work, that a file can be written at ``path``.

    The folder must exist and accept a new file (tested by creating and removing a temporary
    file there, which also catches read-only file systems), and ``path`` must not be a folder.
    For a plot the extension must be one matplotlib can write (no extension means PNG).

    Parameters
    ----------
    path : str or os.PathLike
        Where the output will be written.
    name : str
        The parameter's name (``"--plot"``, for instance), used in error messages.
    plot : bool, default=False
        Also check the extension against matplotlib's image formats.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    TypeError
        If ``path`` is not a str or path-like.
    ValueError
        If the plot format is not supported.
    OSError
        If the folder is missing, is not a folder, or is not writable, or ``path`` is a folder.

    Examples
    --------
    >>> import tempfile, os
    >>> from normgraph.datasets._files import check_output_path
    >>> folder = tempfile.mkdtemp()
    >>> check_output_path(os.path.join(folder, "out.png"), "--plot", plot=True).name
    'out.png'
    >>> check_output_path(os.path.join(folder, "missing", "out.png"), "--plot")
    Traceback (most recent call last):
    ...
    FileNotFoundError: --plot .../missing/out.png: cannot write there, the folder .../missing does not exist
    """
    path = check_path(path, name)
    if str(path) in ("", "."):
        raise ValueError(f"{name} must name a file, got {str(path)!r}")
    if plot and path.suffix:
        fmt = path.suffix[1:].lower()
        formats = _plot_formats()
        if fmt not in formats:
            raise ValueError(f"{name} {path}: cannot save a plot as {fmt!r}; use one of "
                             f"{', '.join(formats)}")
    if path.is_dir():
        raise IsADirectoryError(f"{name} {path}: is a folder; give a file name")
    parent = path.parent
    if not parent.exists():
        raise FileNotFoundError(f"{name} {path}: cannot write there, the folder {parent} "
                                "does not exist")
    if not parent.is_dir():
        raise NotADirectoryError(f"{name} {path}: cannot write there, {parent} is not a folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"{name} {path}: the existing file is not writable")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".normgraph-write-check-")
    except OSError as exc:
        raise PermissionError(f"{name} {path}: cannot write in the folder {parent} "
                              f"({exc.strerror or exc})") from None
    os.close(fd)
    os.remove(probe)
    return path


def _read_head(path, n_bytes):
    with open(path, "rb") as fh:
        return fh.read(n_bytes)


def _npy_header(path, name):
    """(shape, dtype, data offset) of a .npy file, checked without reading the data."""
    fmt = np.lib.format
    with open(path, "rb") as fh:
        try:
            version = fmt.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(fh)
            else:
                raise ValueError(f"format version {version[0]}.{version[1]} is not supported "
                                 "(only numeric arrays, versions 1.0 and 2.0, are read)")
        except Exception as exc:  # untrusted bytes: any parsing failure is a malformed file
            reason = str(exc) if " at 0x" not in str(exc) else "unparsable header dictionary"
            raise ValueError(f"{name} {path}: malformed .npy header ({reason})") from None
        offset = fh.tell()
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"{name} {path}: malformed .npy header (shape {shape})")
    return shape, dtype, offset


def _read_npy(path, name):
    shape, dtype, offset = _npy_header(path, name)
    if dtype.hasobject:
        raise ValueError(f"{name} {path}: holds Python objects, which cannot be read without "
                         "pickle (refused for safety); save a numeric array instead")
    if dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{name} {path}: holds {dtype} values, not numbers")
    needed = math.prod(shape) * dtype.itemsize
    available = path.stat().st_size - offset
    if needed > available:
        raise ValueError(
            f"{name} {path}: the header claims an array of shape {shape} and dtype {dtype} "
            f"({needed:.3g} bytes) but the file holds only {available} bytes of data; the "
            "file is truncated or corrupt"
        )
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # pragma: no cover - the checks above leave little to fail
        raise ValueError(f"{name} {path}: could not read the .npy file ({exc})") from None


def _first_line_is_numeric(path, delimiter):
    """Whether the first line of a text table holds only numbers (else it is a header)."""
    with open(path, "rb") as fh:
        first = fh.readline().decode("utf-8", errors="replace").lstrip("\ufeff")
    fields = first.split(delimiter)
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return True


def _read_text(path, name):
    head = _read_head(path, 4096)
    if b"\x00" in head:
        raise ValueError(f"{name} {path}: is a binary file, not a .npy array or a CSV/text "
                         "table of numbers")
    delimiter = "," if path.suffix.lower() == ".csv" else None
    skiprows = 0 if _first_line_is_numeric(path, delimiter) else 1  # a header line
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input contained no data")
        try:
            data = np.loadtxt(path, delimiter=delimiter, ndmin=2, skiprows=skiprows)
        except ValueError as exc:
            raise ValueError(f"{name} {path}: could not read a table of numbers "
                             f"({exc})") from None
    if data.size == 0:
        raise ValueError(f"{name} {path}: holds no numbers")
    return data


def read_array_file(path, name="file"):
    """Read a numeric array from a ``.npy`` file or a CSV/whitespace-separated text file.

    The format is recognised by content, not by extension: a NumPy header means ``.npy``
    (its shape times itemsize is checked against the file size before loading, object arrays
    are refused and nothing is ever unpickled), a zip archive (an ``.npz``) is refused, and
    anything else is read as a text table (comma-separated for ``.csv``, whitespace otherwise;
    a header line is skipped).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    name : str, default="file"
        The parameter's name, used in error messages.

    Returns
    -------
    array : ndarray
        Its numeric dtype is kept (bool, integer or float); text tables are 2-D float64.

    Raises
    ------
    TypeError
        If ``path`` is not a str or path-like.
    OSError
        If the file is missing, a folder, or unreadable.
    ValueError
        If the file is empty, truncated, an archive, malformed, or does not hold numbers.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from normgraph.datasets._files import read_array_file
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(3.0))
    >>> read_array_file(path)
    array([0., 1., 2.])
    >>> with open(path, "wb") as fh:  # a bare header that claims eight terabytes
    ...     np.lib.format.write_array_header_1_0(
    ...         fh, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    >>> read_array_file(path)
    Traceback (most recent call last):
    ...
    ValueError: file ...x.npy: the header claims an array of shape (1000000000000,) and dtype float64 (8e+12 bytes) but the file holds only 0 bytes of data; the file is truncated or corrupt
    """
    path = check_input_file(path, name)
    head = _read_head(path, len(_NPY_MAGIC))
    if not head:
        raise ValueError(f"{name} {path}: the file is empty")
    if head.startswith(_NPY_MAGIC):
        return _read_npy(path, name)
    if head.startswith(_ZIP_MAGIC):
        raise ValueError(f"{name} {path}: is a zip archive (an .npz file?), not a single "
                         "array; save one array with numpy.save")
    if path.suffix.lower() == ".npy":
        raise ValueError(f"{name} {path}: is not a .npy file (no NumPy header)")
    return _read_text(path, name)
