"""MOT I/O and the trackeval wrapper on the real TUD files shipped in the motmetrics wheel."""

import importlib.util
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.nn.tracking import (check_mot_rows, evaluate_mot, evaluate_mot_files, read_mot,
                                   write_mot)

_MM = os.path.dirname(importlib.util.find_spec("motmetrics").origin)
TUD = os.path.join(_MM, "data")

# Expected values stated by motmetrics' own test (tests/test_metrics.py::test_motchallenge_files),
# IoU distance, threshold 0.5; trackeval's MOTP is 1 - motmetrics' MOTP.
EXPECTED = {
    "TUD-Campus": dict(MOTA=0.526462, IDF1=0.557659, IDSW=7, FP=13, FN=150, MOTP=1 - 0.277201,
                       HOTA=0.391397),
    "TUD-Stadtmitte": dict(MOTA=0.564014, IDF1=0.644619, IDSW=7, FP=45, FN=452,
                           MOTP=1 - 0.345904, HOTA=0.397849),
}


def _paths(seq):
    return os.path.join(TUD, seq, "gt.txt"), os.path.join(TUD, seq, "test.txt")


def _assert_expected(m, exp):
    for key, value in exp.items():
        if isinstance(value, int):
            assert m[key] == value, key
        else:
            assert m[key] == pytest.approx(value, abs=1e-6), key


@pytest.mark.parametrize("seq", sorted(EXPECTED))
def test_tud_in_memory(seq):
    gt, test = _paths(seq)
    _assert_expected(evaluate_mot(read_mot(gt), read_mot(test)), EXPECTED[seq])


@pytest.mark.parametrize("seq", sorted(EXPECTED))
def test_tud_through_mot15_files(seq):
    gt, test = _paths(seq)
    _assert_expected(evaluate_mot_files(gt, test), EXPECTED[seq])


def test_tud_file_shapes():
    gt = read_mot(_paths("TUD-Campus")[0])
    assert gt.shape == (359, 10)
    assert len(np.unique(gt[:, 1])) == 8 and gt[:, 0].max() == 71
    assert read_mot(_paths("TUD-Campus")[1]).shape == (222, 10)


@pytest.mark.parametrize("seq", sorted(EXPECTED))
@pytest.mark.parametrize("name", ["gt.txt", "test.txt"])
def test_round_trip_tud(tmp_path, seq, name):
    rows = read_mot(os.path.join(TUD, seq, name))
    out = tmp_path / name
    write_mot(out, rows)
    np.testing.assert_array_equal(read_mot(out), rows)
    # and the file evaluates identically
    if name == "test.txt":
        _assert_expected(evaluate_mot_files(_paths(seq)[0], out), EXPECTED[seq])


def test_reader_sorts_by_frame_then_id(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("2,1,0,0,1,1,1,-1,-1,-1\n1,2,0,0,1,1,1,-1,-1,-1\n1,1,0,0,1,1,1,-1,-1,-1\n")
    np.testing.assert_array_equal(read_mot(p)[:, :2], [[1, 1], [1, 2], [2, 1]])


def test_six_columns_get_conf_one(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("1 3 0 0 4 5\n")
    np.testing.assert_array_equal(read_mot(p), [[1, 3, 0, 0, 4, 5, 1, -1, -1, -1]])


def test_duplicate_rows_rejected_before_trackeval(tmp_path):
    gt, test = _paths("TUD-Campus")
    rows = read_mot(test)
    dup = np.vstack([rows, rows[5]])
    with pytest.raises(ValueError, match="duplicate \\(frame, id\\)"):
        evaluate_mot(read_mot(gt), dup)
    p = tmp_path / "dup.txt"
    p.write_text(open(test).read() + open(test).readline())
    with pytest.raises(ValueError, match="duplicate .* lines 1 and 223"):
        read_mot(p)
    with pytest.raises(ValueError, match="duplicate"):
        evaluate_mot_files(gt, p)


@pytest.mark.parametrize("text, match", [
    ("1,1,0,0,4\n", "line 1 has 5 columns"),
    ("1,1,0,0,4,4\n1.5,1,0,0,4,4\n", "integers, line 2"),
    ("1,x,0,0,4,4\n", "line 1 has a non-numeric"),
    ("0,1,0,0,4,4\n", "frame must be >= 1, line 1"),
    ("1,1,0,0,4,4\n\n2,1,0,nan,4,4\n", "finite .* line 3"),
])
def test_bad_mot_files(tmp_path, text, match):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_mot(p)


def test_bad_rows_and_threshold():
    with pytest.raises(ValueError, match="shape"):
        check_mot_rows([[1, 1, 0, 0, 4]])
    with pytest.raises(ValueError, match="threshold"):
        evaluate_mot([[1, 1, 0, 0, 1, 1]], [[1, 1, 0, 0, 1, 1]], threshold=1.5)


def test_evaluator_against_hand_count():
    # one GT track over 4 frames; the tracker switches id at frame 3 and adds one FP
    gt = [[f, 1, 10 * f, 0, 10, 10] for f in range(1, 5)]
    tr = [[1, 1, 10, 0, 10, 10], [2, 1, 20, 0, 10, 10], [3, 2, 30, 0, 10, 10],
          [4, 2, 40, 0, 10, 10], [4, 3, 100, 100, 5, 5]]
    m = evaluate_mot(gt, tr)
    assert (m["FP"], m["FN"], m["IDSW"]) == (1, 0, 1)
    assert m["MOTA"] == pytest.approx(1 - (1 + 0 + 1) / 4)
    # IDF1: best id mapping covers 2 of 4 GT and 2 of 5 tracker detections -> 2*2/(4+5)
    assert m["IDF1"] == pytest.approx(4 / 9)


@pytest.mark.parametrize("factor", [2.0 ** 900, 2.0 ** -900, 1e250, 1e-250])
def test_extreme_magnitudes_give_the_scaled_answer(tmp_path, factor):
    gt_path, test_path = _paths("TUD-Campus")
    gt, test = read_mot(gt_path), read_mot(test_path)
    gt[:, 2:6] *= factor
    test[:, 2:6] *= factor
    _assert_expected(evaluate_mot(gt, test), EXPECTED["TUD-Campus"])
    write_mot(tmp_path / "gt.txt", gt)
    write_mot(tmp_path / "t.txt", test)
    with pytest.raises(ValueError, match="use evaluate_mot"):
        evaluate_mot_files(tmp_path / "gt.txt", tmp_path / "t.txt")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 20),
                          st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(0, 1e6),
                          st.floats(0, 1e6), st.floats(-1, 1)),
                min_size=0, max_size=30, unique_by=lambda r: (r[0], r[1])))
def test_write_read_round_trip_property(rows):
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "r.txt")
    write_mot(path, [list(r) for r in rows])
    back = read_mot(path)
    ref = check_mot_rows([list(r) for r in rows]) if rows else np.zeros((0, 10))
    np.testing.assert_array_equal(back, ref)
