"""``normgraph quantize``: reads .npy (never unpickling) and CSV columns, prints the fit."""

import os
import pickle
import re

import numpy as np
import pytest

from normgraph.cli import main
from normgraph.quant import N2UQuantizer, equal_probability_thresholds, optimal_kmeans_1d

class _Evil:
    """Unpickling this object creates a folder: the CLI must refuse object arrays first."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _numbers(line):
    return np.array([float(v) for v in line.split(":", 1)[1].split()])


def _parse(out):
    lines = {line.split(" ", 1)[0]: line for line in out.splitlines()}
    return (_numbers(lines["thresholds"]), _numbers(lines["levels"]),
            float(lines["MSE:"].split()[1]))


def test_npy_optimal_matches_solver(tmp_path, capsys):
    x = np.random.default_rng(0).normal(size=500)
    path = tmp_path / "x.npy"
    np.save(path, x)
    assert main(["quantize", str(path), "--levels", "5"]) == 0
    thresholds, levels, mse = _parse(capsys.readouterr().out)
    lv, th, m = optimal_kmeans_1d(x, 5)
    np.testing.assert_allclose(levels, lv, rtol=1e-5)
    np.testing.assert_allclose(thresholds, th, rtol=1e-5)
    assert mse == pytest.approx(m, rel=1e-5)


def test_csv_column_with_header(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2.5\n2,0.5\n3,7\n4,1\n10,2\n")
    assert main(["quantize", str(path), "--column", "1", "--method", "equal"]) == 0
    out = capsys.readouterr().out
    assert "5 samples" in out
    thresholds, levels, mse = _parse(out)
    col = np.array([2.5, 0.5, 7.0, 1.0, 2.0])
    th, lv = equal_probability_thresholds(col, 4, return_levels=True)
    np.testing.assert_allclose(thresholds, th)
    np.testing.assert_allclose(levels, lv)
    assert mse == pytest.approx(np.mean((col - lv[np.searchsorted(th, col)]) ** 2), rel=1e-5)


@pytest.mark.parametrize("method", ["uniform", "lloyd", "n2uq"])
def test_other_methods_and_bits(tmp_path, capsys, method):
    x = np.random.default_rng(1).exponential(size=(300, 2))
    path = tmp_path / "x.txt"
    np.savetxt(path, x)
    assert main(["quantize", str(path), "--column", "1", "--method", method, "--bits", "2"]) == 0
    out = capsys.readouterr().out
    thresholds, levels, mse = _parse(out)
    assert levels.size == 4 and thresholds.size == 3 and mse > 0
    if method == "n2uq":
        q = N2UQuantizer(n_bits=2).fit(x[:, 1:])
        np.testing.assert_allclose(thresholds, q.thresholds_[0], rtol=1e-5)
        np.testing.assert_allclose(levels, [0, 2 / 3, 4 / 3, 2], rtol=1e-5)
        assert re.search(r"knots at the data quantiles", out)


def test_plot_option(tmp_path, capsys):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(50.0))
    png = tmp_path / "q.png"
    assert main(["quantize", str(path), "--method", "uniform", "--plot", str(png)]) == 0
    assert png.stat().st_size > 1000
    assert "plot saved" in capsys.readouterr().out


def test_object_npy_is_refused_without_unpickling(tmp_path, capsys):
    path = tmp_path / "evil.npy"
    marker = tmp_path / "unpickled"
    np.save(path, np.array([_Evil(marker), 1.0], dtype=object), allow_pickle=True)
    assert main(["quantize", str(path)]) == 2
    assert "without pickle" in capsys.readouterr().err
    assert not marker.exists()
    # The marker works: unpickling the element (what the CLI never does) creates it.
    pickle.loads(pickle.dumps(_Evil(marker)))
    assert marker.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--column", "3"], "out of range"),
        (["--method", "n2uq", "--levels", "3"], "power of two"),
        (["--levels", "0"], "n_levels"),
        (["--bits", "17"], "n_bits"),
    ],
)
def test_bad_arguments(tmp_path, capsys, args, message):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(10.0))
    assert main(["quantize", str(path), *args]) == 2
    assert message in capsys.readouterr().err


def test_bad_files(tmp_path, capsys):
    assert main(["quantize", str(tmp_path / "missing.npy")]) == 2
    nan_path = tmp_path / "nan.npy"
    np.save(nan_path, np.array([1.0, np.nan]))
    assert main(["quantize", str(nan_path)]) == 2
    text = tmp_path / "words.csv"
    text.write_text("a,b\nx,y\n")
    assert main(["quantize", str(text)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 3
    with pytest.raises(SystemExit):
        main(["quantize", str(nan_path), "--levels", "4", "--bits", "2"])  # exclusive
