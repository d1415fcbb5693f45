"""Zero-shot split builder: seen classes, and disjoint val / test unseen classes."""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from ..._utils.validation import check_int

__all__ = ["ZSARSplit", "zsar_split", "kinetics220_splits"]

#: Kinetics ZSAR protocol: classes 0-399 (Kinetics-400) are seen, 400-619 are unseen.
KINETICS_SEEN = tuple(range(400))
KINETICS_UNSEEN = tuple(range(400, 620))


class ZSARSplit(NamedTuple):
    """One zero-shot split: ``seen`` training classes, ``val`` and ``test`` unseen classes.

    Examples
    --------
    >>> from normgraph.nn.zeroshot import ZSARSplit
    >>> ZSARSplit(seen=[0, 1], val=[2], test=[3]).test
    [3]
    """

    seen: list
    val: list
    test: list


def _as_ids(ids, name):
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"{name} must be a sequence of class ids, got {type(ids).__name__}")
    ids = [check_int(i, f"{name} entry") for i in ids]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"{name} has repeated ids {dup}")
    return ids


def _check_disjoint(a, b, what):
    overlap = sorted(set(a) & set(b))
    if overlap:
        raise ValueError(f"{what} overlap in the class ids {overlap}")


def zsar_split(class_ids_seen, class_ids_unseen, n_val, n_splits=1, seed=0):
    """Random val / test partitions of the unseen classes.

    Parameters
    ----------
    class_ids_seen, class_ids_unseen : sequence of int
        Disjoint class ids.
    n_val : int
        Number of val classes, in ``[1, len(unseen) - 1]``; the rest are test classes.
    n_splits : int, default=1
    seed : int, default=0
        Seed of ``numpy.random.default_rng``; the same seed gives the same splits.

    Returns
    -------
    list of ZSARSplit
        In each, ``val`` and ``test`` are disjoint and cover the unseen classes.

    Raises
    ------
    ValueError
        If seen and unseen overlap (the overlapping ids are listed) or ``n_val`` is out of range.

    Examples
    --------
    >>> from normgraph.nn.zeroshot import zsar_split
    >>> s = zsar_split([0, 1, 2], [3, 4, 5, 6], n_val=1, n_splits=2, seed=0)
    >>> len(s), sorted(s[0].val + s[0].test)
    (2, [3, 4, 5, 6])
    >>> zsar_split([0, 1], [1, 2], n_val=1)
    Traceback (most recent call last):
    ...
    ValueError: seen and unseen classes overlap in the class ids [1]
    """
    seen = _as_ids(class_ids_seen, "class_ids_seen")
    unseen = _as_ids(class_ids_unseen, "class_ids_unseen")
    _check_disjoint(seen, unseen, "seen and unseen classes")
    if len(unseen) < 2:
        raise ValueError(f"class_ids_unseen needs at least 2 classes, got {len(unseen)}")
    n_val = check_int(n_val, "n_val", low=1, high=len(unseen) - 1)
    n_splits = check_int(n_splits, "n_splits", low=1)
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    out = []
    for _ in range(n_splits):
        perm = [unseen[i] for i in rng.permutation(len(unseen))]
        out.append(ZSARSplit(list(seen), sorted(perm[:n_val]), sorted(perm[n_val:])))
    return out


def _read_index_lists(path, name):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list) or not data or not all(isinstance(s, list) for s in data):
        raise ValueError(f"{name} must hold a JSON list of per-split class-index lists")
    return [_as_ids(s, f"{name} split {i}") for i, s in enumerate(data)]


def kinetics220_splits(val_file, test_file, train_file=None, n_val=60, n_test=160):
    """The Kinetics ZSAR splits (400 seen; 60 val + 160 test of the 220 new classes).

    Reads the official index files that the user supplies (``val_class_idxs.json``,
    ``tst_class_idxs.json`` and optionally ``trn_class_idxs.json`` of the ER-ZSAR
    repository's ``datasets/Kinetics/zsl220``): each a JSON list with one class-index list
    per split. Nothing is downloaded.

    Parameters
    ----------
    val_file, test_file : path-like
    train_file : path-like or None, default=None
        When given, each split's seen classes must be 0-399; otherwise 0-399 are used.
    n_val, n_test : int, default=60, 160
        Expected sizes; ``n_val + n_test`` must equal the 220 unseen classes.

    Returns
    -------
    list of ZSARSplit

    Examples
    --------
    >>> import json, os, tempfile
    >>> from normgraph.nn.zeroshot import kinetics220_splits
    >>> d = tempfile.mkdtemp()
    >>> val, tst = os.path.join(d, "val.json"), os.path.join(d, "tst.json")
    >>> _ = open(val, "w").write(json.dumps([list(range(400, 460))]))
    >>> _ = open(tst, "w").write(json.dumps([list(range(460, 620))]))
    >>> s = kinetics220_splits(val, tst)
    >>> len(s[0].seen), len(s[0].val), len(s[0].test)
    (400, 60, 160)
    """
    n_val = check_int(n_val, "n_val", low=1)
    n_test = check_int(n_test, "n_test", low=1)
    if n_val + n_test != len(KINETICS_UNSEEN):
        raise ValueError(f"n_val + n_test must equal the {len(KINETICS_UNSEEN)} unseen classes, "
                         f"got {n_val} + {n_test} = {n_val + n_test}")
    vals = _read_index_lists(val_file, "val_file")
    tests = _read_index_lists(test_file, "test_file")
    trains = (_read_index_lists(train_file, "train_file") if train_file is not None
              else [list(KINETICS_SEEN)] * len(vals))
    if not len(vals) == len(tests) == len(trains):
        raise ValueError(f"the index files hold different numbers of splits: val {len(vals)}, "
                         f"test {len(tests)}, train {len(trains)}")
    out = []
    for i, (seen, val, test) in enumerate(zip(trains, vals, tests)):
        if sorted(seen) != list(KINETICS_SEEN):
            raise ValueError(f"split {i}: the seen classes must be 0-399")
        if len(val) != n_val or len(test) != n_test:
            raise ValueError(f"split {i}: expected {n_val} val and {n_test} test classes, "
                             f"got {len(val)} and {len(test)}")
        _check_disjoint(val, test, f"split {i}: val and test classes")
        _check_disjoint(seen, val + test, f"split {i}: seen and unseen classes")
        if sorted(val + test) != list(KINETICS_UNSEEN):
            raise ValueError(f"split {i}: val and test must cover the unseen classes 400-619")
        out.append(ZSARSplit(list(seen), list(val), list(test)))
    return out
