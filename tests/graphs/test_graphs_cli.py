"""The ``normgraph cluster`` command."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.io import savemat

from normgraph.cli import build_parser, main


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _table(out):
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    return {line.split()[0]: [float(v) for v in line.split(")", 1)[1].split()[:5]]
            for line in lines[header + 2:]}


def test_parser_defaults():
    args = build_parser().parse_args(["cluster", "3Sources"])
    assert (args.fusion, args.n_neighbors, args.metric, args.random_state) == (
        "both", 20, None, 0)


def test_cluster_named_data_set_prints_metrics(data_home, capsys):
    assert main(["cluster", "MSRC_v1", "--data-home", str(data_home)]) == 0
    out = capsys.readouterr().out
    assert "MSRC_v1: 210 samples, 5 views, 7 clusters, metric sqeuclidean" in out
    table = _table(out)
    assert set(table) == {"SGF", "DGF"}
    assert abs(table["SGF"][0] - 0.8571) <= 0.03  # ACC, spec section 12
    assert abs(table["DGF"][0] - 0.7857) <= 0.03


def test_cluster_mat_file_with_sparse_views(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = np.repeat([1, 2, 3], 30)
    topics = rng.random((3, 120)) < 0.15
    views = np.empty((1, 2), dtype=object)
    for v in range(2):
        words = (rng.random((90, 120)) < 0.04) | topics[y - 1]
        views[0, v] = sp.csc_matrix(words.astype(float))
    path = tmp_path / "toy.mat"
    savemat(path, {"fea": views, "gt": y[:, None].astype(np.uint8)})
    assert main(["cluster", str(path), "--fusion", "dissimilarity", "--n-neighbors", "8",
                 "--single-views"]) == 0
    out = capsys.readouterr().out
    assert "toy: 90 samples, 2 views, 3 clusters, metric cosine, n_neighbors 8" in out
    table = _table(out)
    assert set(table) == {"DGF", "best"}
    assert table["DGF"][0] == 1.0


def test_cluster_unknown_name_is_a_clean_error(capsys):
    assert main(["cluster", "NoSuchSet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("normgraph: error: cluster: ") and err.count("\n") == 1
    assert "neither a data set name" in err and "Traceback" not in err
