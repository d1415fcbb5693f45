"""``normgraph demo``: the degraded views, the report, the figure and the --plot path check."""

import contextlib
import io
import os
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt  # the Agg backend is set by tests/conftest.py
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.image import AxesImage

from normgraph.cli import main
from normgraph.datasets import load_digits_multiview
from normgraph.graphs._demo import (SCRAMBLED_FRACTION, add_noise, check_plot_path,
                                    degrade_views, plot_demo, scramble_rows)


@given(n=st.integers(1, 60), fraction=st.floats(0.0, 1.0), seed=st.integers(0, 10**6))
def test_scramble_rows_moves_exactly_the_chosen_rows(n, fraction, seed):
    X = np.arange(n * 2, dtype=float).reshape(n, 2)     # distinct rows
    Y = scramble_rows(X, fraction, np.random.default_rng(seed))
    m = int(round(fraction * n))
    changed = np.any(Y != X, axis=1)
    assert changed.sum() == (m if m > 1 else 0)           # one row cannot move alone
    # a permutation of the rows: nothing is lost or duplicated
    assert sorted(map(tuple, Y)) == sorted(map(tuple, X))


def test_add_noise_level_and_independence_from_the_signal():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 16, size=(4000, 64))
    for snr_db, ratio in [(0.0, 1.0), (20.0, 0.1), (-6.0, 10 ** (6 / 20))]:
        noise = add_noise(X, snr_db, np.random.default_rng(1)) - X
        assert noise.std() / X.std() == pytest.approx(ratio, rel=0.01)
        assert abs(noise.mean()) < 0.01 * noise.std() * 10
        assert abs(np.corrcoef(noise.ravel(), X.ravel())[0, 1]) < 0.01


def test_degraded_views_of_the_digits():
    data = load_digits_multiview()
    views, names, clean = degrade_views(data)
    assert names[:4] == list(data.view_names) and clean == [True] * 4 + [False] * 2
    for X, Y in zip(data.views, views):
        assert X is Y                                    # the embedded views untouched
    noisy, misjoined = views[4], views[5]
    assert (noisy - data.views[0]).std() == pytest.approx(data.views[0].std(), rel=0.02)
    moved = np.any(misjoined != data.views[1], axis=1).mean()
    # rows that happen to equal the row they receive do not count as moved
    assert SCRAMBLED_FRACTION - 0.02 <= moved <= SCRAMBLED_FRACTION
    # fixed seed: the same degradation on every run
    again = degrade_views(data)[0]
    assert all(np.array_equal(a, b) for a, b in zip(views, again))


def test_plot_path_checked_before_any_work(tmp_path):
    assert check_plot_path(tmp_path / "fig.png").name == "fig.png"
    with pytest.raises(ValueError, match="unknown figure type"):
        check_plot_path(tmp_path / "fig.txt")
    (tmp_path / "sub.png").mkdir()
    with pytest.raises(ValueError, match="folder"):
        check_plot_path(tmp_path / "sub.png")
    with pytest.raises(OSError, match="does not exist"):
        check_plot_path(tmp_path / "missing" / "fig.png")
    if os.geteuid() != 0:                                # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OSError, match="not writable"):
            check_plot_path(locked / "fig.png")


def test_cli_refuses_a_bad_plot_path_in_one_line(tmp_path, capsys):
    status = main(["demo", "--plot", str(tmp_path / "missing" / "demo.png")])
    out, err = capsys.readouterr()
    assert status == 2
    assert "does not exist" in err and "Traceback" not in err
    assert out == ""                                     # nothing was fitted


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.png"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(["demo", "--plot", str(path)])
    return status, buffer.getvalue(), path


def metric_rows(out):
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("method")) + 2
    rows = {}
    for line in lines[start:]:
        if not line.strip():
            break
        method, _kind, acc, nmi, ari, _seconds = re.split(r"\s{2,}", line.strip())
        rows[method] = [float(acc), float(nmi), float(ari)]
    return rows


def coefficient_rows(out):
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("view ")) + 1
    return {line.split()[0]: [float(v) for v in line.split()[1:3]] for line in lines[start:]
            if line.strip() and not line.startswith("figure saved")}


def test_demo_report(demo_run):
    status, out, _ = demo_run
    assert status == 0
    rows = metric_rows(out)
    views = ["pixels", "gradient_hist", "fourier", "profile", "noisy_pixels",
             "misjoined_gradient_hist"]
    assert list(rows) == [*views, "concatenated features", "average of view graphs",
                          "SGF (similarity)", "DGF (dissimilarity)", "SGF, 4 clean views only"]
    for acc, nmi, ari in rows.values():
        assert 0.1 <= acc <= 1 and 0 <= nmi <= 1 and -1 <= ari <= 1
    # the degradations do what their names say: each bad view clusters worse than its source
    assert rows["misjoined_gradient_hist"][0] < rows["gradient_hist"][0]
    assert rows["noisy_pixels"][0] < rows["pixels"][0]
    coef = coefficient_rows(out)
    assert list(coef) == views
    sums = np.array(list(coef.values())).sum(axis=0)
    np.testing.assert_allclose(sums, [1.0, 1.0], atol=6 * 0.0005)   # printed to 3 decimals
    assert "0 dB SNR" in out and "50% of the rows" in out


def test_demo_figure(demo_run):
    _, out, path = demo_run
    assert f"figure saved to {path}" in out
    image = plt.imread(path)
    assert image.ndim == 3 and image.shape[1] > 2 * image.shape[0]   # three panels side by side


def test_demo_figure_artists():
    rng = np.random.default_rng(0)
    n = 1200
    target = np.repeat(np.arange(4), n // 4)
    model = SimpleNamespace(view_coef_=np.array([0.5, 0.3, 0.2]),
                            graph_=sp.random(n, n, density=0.001, random_state=0, format="csr"))
    rows = [dict(method=f"m{i}", kind=kind, acc=a, nmi=a, ari=a, seconds=1.0)
            for i, (kind, a) in enumerate([("single view", 0.5), ("naive", 0.6),
                                           ("fusion", 0.7), ("reference", 0.8)])]
    result = SimpleNamespace(models={"SGF": model, "DGF": model}, view_names=["a", "b", "c"],
                             target=target, rows=rows)
    fig = plot_demo(result)
    coef_ax, graph_ax, acc_ax = fig.axes[:3]
    assert len(coef_ax.patches) == 6
    assert [t.get_text() for t in coef_ax.get_yticklabels()] == ["a", "b", "c"]
    images = [a for a in graph_ax.get_children() if isinstance(a, AxesImage)]
    assert len(images) == 1 and images[0].get_array().shape == (1000, 1000)
    assert [t.get_text() for t in acc_ax.get_yticklabels()] == ["m0", "m1", "m2", "m3"]
    np.testing.assert_allclose([b.get_width() for b in acc_ax.patches], [0.5, 0.6, 0.7, 0.8])
    plt.close(fig)


README_ROWS = {  # README's demo table row -> the demo's method
    "best clean single view (pixels)": "pixels",
    "noisy_pixels alone": "noisy_pixels",
    "misjoined_gradient_hist alone": "misjoined_gradient_hist",
    "concatenated features, 6 views": "concatenated features",
    "average of the 6 view graphs": "average of view graphs",
    "SGF, 6 views": "SGF (similarity)",
    "DGF, 6 views": "DGF (dissimilarity)",
    "SGF, the 4 clean views only": "SGF, 4 clean views only",
}


def test_readme_demo_figures_match_a_fresh_run(demo_run):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## What the demo shows"):readme.index("## What the library")]
    table = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] in README_ROWS:
            table[README_ROWS[cells[0]]] = [float(c) for c in cells[1:]]
    assert len(table) == len(README_ROWS)
    rows = metric_rows(demo_run[1])
    for method, figures in table.items():
        np.testing.assert_allclose(figures, rows[method], atol=0.0005 + 1e-9, err_msg=method)
    coef = coefficient_rows(demo_run[1])
    for name, (sgf, dgf) in [("misjoined_gradient_hist", coef["misjoined_gradient_hist"]),
                             ("noisy_pixels", coef["noisy_pixels"])]:
        assert f"SGF {sgf:.3f}".replace("0.", ".") in section, name
        assert f"DGF {dgf:.3f}".replace("0.", ".") in section, name
