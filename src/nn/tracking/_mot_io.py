"""MOTChallenge text format: read, check and write ``frame, id, x, y, w, h, conf, -1, -1, -1``."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["read_mot", "write_mot", "check_mot_rows", "MOT_COLUMNS"]

#: Number of columns of a MOT row (``frame, id, x, y, w, h, conf, x3d, y3d, z3d``).
MOT_COLUMNS = 10


def check_mot_rows(rows, name="rows"):
    """Validate MOT rows and return them as a float64 ``[N, 10]`` array sorted by (frame, id).

    Parameters
    ----------
    rows : array-like of shape (N, >= 6)
        ``frame, id, x, y, w, h[, conf, ...]``; missing trailing columns become -1 (``conf`` 1).
    name : str, default="rows"
        The parameter's name, used in error messages.

    Returns
    -------
    rows : ndarray of shape (N, 10)

    Raises
    ------
    ValueError
        Fewer than 6 columns, a non-integer or non-finite frame/id, a frame < 1, non-finite box
        values, negative sizes, or a duplicate (frame, id) pair (the rows are named).

    Examples
    --------
    >>> from normgraph.nn.tracking import check_mot_rows
    >>> check_mot_rows([[2, 1, 0, 0, 5, 5], [1, 1, 0, 0, 5, 5]])[:, :2]
    array([[1., 1.],
           [2., 1.]])
    >>> check_mot_rows([[1, 1, 0, 0, 5, 5], [1, 1, 2, 2, 5, 5]])
    Traceback (most recent call last):
    ...
    ValueError: rows has duplicate (frame, id) = (1, 1) in rows 0 and 1
    """
    arr = np.asarray(rows, dtype=np.float64) if len(rows) else np.zeros((0, 6))
    if arr.ndim != 2 or arr.shape[1] < 6:
        raise ValueError(f"{name} must have shape [N, >= 6] (frame, id, x, y, w, h, ...), "
                         f"got {arr.shape}")
    out = np.full((arr.shape[0], MOT_COLUMNS), -1.0)
    out[:, 6] = 1.0
    k = min(arr.shape[1], MOT_COLUMNS)
    out[:, :k] = arr[:, :k]
    _check_values(out, name, lines=None)
    order = np.lexsort((out[:, 1], out[:, 0]))
    _check_duplicates(out, order, name, lines=None)
    return out[order]


def _check_values(out, name, lines):
    where = (lambda i: f"line {lines[i]}") if lines is not None else (lambda i: f"row {i}")
    key = out[:, :2]
    bad = ~np.isfinite(key).all(axis=1) | (key != np.round(key)).any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: frame and id must be integers, {where(i)}: {out[i, :2]}")
    bad = out[:, 0] < 1
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: frame must be >= 1, {where(i)}: frame {int(out[i, 0])}")
    bad = ~np.isfinite(out[:, 2:7]).all(axis=1) | (out[:, 4] < 0) | (out[:, 5] < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: box must be finite with w, h >= 0, {where(i)}: {out[i, 2:6]}")


def _check_duplicates(out, order, name, lines):
    s = out[order, :2]
    dup = np.flatnonzero((s[1:] == s[:-1]).all(axis=1))
    if dup.size:
        a, b = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        what = (f"lines {lines[a]} and {lines[b]}" if lines is not None else f"rows {a} and {b}")
        raise ValueError(f"{name} has duplicate (frame, id) = ({int(s[dup[0], 0])}, "
                         f"{int(s[dup[0], 1])}) in {what}")


def read_mot(path):
    """Read a MOTChallenge text file (comma- or whitespace-separated) into sorted rows.

    Rows are sorted by (frame, id): MOTChallenge GT files may be ordered by id.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    rows : ndarray of shape (N, 10), float64

    Raises
    ------
    ValueError
        With the 1-based line number: fewer than 6 columns, a non-numeric field, a non-integer
        frame/id, frame < 1, or a duplicate (frame, id) pair.

    Examples
    --------
    >>> import os, tempfile
    >>> from normgraph.nn.tracking import read_mot, write_mot
    >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> write_mot(path, [[1, 7, 10, 20, 30, 60, 0.9]])
    >>> read_mot(path)
    array([[ 1. ,  7. , 10. , 20. , 30. , 60. ,  0.9, -1. , -1. , -1. ]])
    """
    rows, lines = [], []
    with open(os.fspath(path), encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            text = line.strip()
            if not text:
                continue
            fields = text.replace(",", " ").split()
            if len(fields) < 6:
                raise ValueError(f"{path}: line {n} has {len(fields)} columns, need at least 6")
            try:
                values = [float(f) for f in fields[:MOT_COLUMNS]]
            except ValueError:
                raise ValueError(f"{path}: line {n} has a non-numeric field: {text!r}") from None
            pad = [-1.0] * (MOT_COLUMNS - len(values))
            if len(values) == 6:
                pad[0] = 1.0  # conf
            rows.append(values + pad)
            lines.append(n)
    out = np.array(rows, dtype=np.float64).reshape(-1, MOT_COLUMNS)
    _check_values(out, str(path), lines)
    order = np.lexsort((out[:, 1], out[:, 0]))
    _check_duplicates(out, order, str(path), lines)
    return out[order]


def write_mot(path, rows):
    """Write rows as MOTChallenge text ``frame,id,x,y,w,h,conf,x,y,z`` (checked, sorted).

    Floats are written with 17 significant digits, so :func:`read_mot` reads back the same
    numbers.

    Parameters
    ----------
    path : str or os.PathLike
    rows : array-like of shape (N, >= 6)

    Examples
    --------
    >>> import os, tempfile
    >>> from normgraph.nn.tracking import read_mot, write_mot
    >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> write_mot(path, [[3, 1, 0.5, 1, 2, 4]])
    >>> open(path).read()
    '3,1,0.5,1,2,4,1,-1,-1,-1\\n'
    """
    out = check_mot_rows(rows)
    with open(os.fspath(path), "w", encoding="utf-8") as fh:
        for r in out:
            fields = [str(int(r[0])), str(int(r[1]))] + [_fmt(v) for v in r[2:]]
            fh.write(",".join(fields) + "\n")


def _fmt(v):
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text
