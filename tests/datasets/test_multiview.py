"""Loader tests against the real benchmark files (README table of the shared data)."""

import numpy as np
import pytest
import scipy.sparse as sp

from normgraph.datasets import MULTIVIEW_DATASETS, list_multiview, load_multiview

# (n, view dims, clusters, class sizes) as documented for the shared files.
EXPECTED = {
    "3Sources": (169, (3560, 3631, 3068), 6, (56, 21, 11, 18, 51, 12)),
    "BBCSport": (544, (3183, 3203), 5, (62, 104, 193, 124, 61)),
    "CiteSeer": (3312, (3312, 3703), 6, (596, 668, 701, 249, 508, 590)),
    "MSRC_v1": (210, (24, 576, 512, 256, 254), 7, (30,) * 7),
    "Reuters": (1200, (2000,) * 5, 6, (200,) * 6),
    "UCI_Digits": (2000, (240, 76, 216, 47, 64, 6), 10, (200,) * 10),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_multiview_matches_documented_statistics(name, data_home):
    n, dims, n_clusters, sizes = EXPECTED[name]
    data = load_multiview(name, data_home=data_home)
    assert len(data.views) == len(dims)
    assert tuple(X.shape[1] for X in data.views) == dims
    assert all(X.shape[0] == n for X in data.views)
    assert data.n_clusters == n_clusters
    assert len(data.view_names) == len(dims)
    # 0-based labels covering exactly 0..c-1, with the documented class sizes
    assert data.target.dtype == np.int64
    assert data.target.min() == 0 and data.target.max() == n_clusters - 1
    assert tuple(np.bincount(data.target)) == sizes
    for X in data.views:
        if sp.issparse(X):
            assert X.format == "csr" and X.dtype == np.float64
            assert np.isfinite(X.data).all()
        else:
            assert isinstance(X, np.ndarray) and X.dtype == np.float64
            assert X.flags.c_contiguous and np.isfinite(X).all()
    assert data.metric in ("cosine", "sqeuclidean")
    assert data.DESCR


def test_uci_digits_labels_keep_their_order(data_home):
    # UCI_Digits is stored 0-based: digit d must stay label d (not be shifted).
    from scipy.io import loadmat

    raw = loadmat(data_home / "multiview" / "UCI_Digits.mat")["gt"].ravel()
    data = load_multiview("UCI_Digits", data_home=data_home)
    np.testing.assert_array_equal(data.target, raw.astype(np.int64))


def test_one_based_labels_are_shifted(data_home):
    from scipy.io import loadmat

    raw = loadmat(data_home / "multiview" / "MSRC_v1.mat")["gt"].ravel()
    assert raw.min() == 1
    data = load_multiview("MSRC_v1", data_home=data_home)
    np.testing.assert_array_equal(data.target, raw.astype(np.int64) - 1)


def test_environment_variable_is_the_default_data_home(data_home, monkeypatch):
    monkeypatch.setenv("NORMGRAPH_DATA", str(data_home))
    assert load_multiview("3Sources").views[0].shape == (169, 3560)


def test_missing_file_names_file_location_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_multiview("MSRC_v1", data_home=tmp_path)
    msg = str(info.value)
    assert "MSRC_v1.mat" in msg
    assert str(tmp_path / "multiview") in msg
    assert "NORMGRAPH_DATA" in msg and "data_home" in msg


def test_unknown_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown multi-view data set"):
        load_multiview("Nope", data_home=tmp_path)


def test_list_multiview_finds_all_six(data_home, tmp_path):
    found = list_multiview(data_home)
    assert set(found) == set(MULTIVIEW_DATASETS)
    assert all(path is not None for path in found.values())
    assert all(path is None for path in list_multiview(tmp_path).values())


def _save_toy(path, n_rows=(4, 4), labels=(5, 5, 7, 7)):
    from scipy.io import savemat

    fea = np.empty((1, len(n_rows)), dtype=object)
    for i, n in enumerate(n_rows):
        fea[0, i] = sp.random(n, 6, density=0.5, random_state=i, format="csc") if i else \
            np.arange(n * 3, dtype=np.uint8).reshape(n, 3)
    savemat(path, {"fea": fea, "gt": np.asarray(labels).reshape(-1, 1)})


def test_load_multiview_mat_reads_any_file_of_the_layout(tmp_path):
    from normgraph.datasets import load_multiview_mat

    _save_toy(tmp_path / "toy.mat")
    data = load_multiview_mat(tmp_path / "toy.mat")
    assert data.views[0].dtype == np.float64 and sp.issparse(data.views[1])
    assert data.views[1].format == "csr"
    assert data.target.tolist() == [0, 0, 1, 1] and data.n_clusters == 2
    assert data.metric == "cosine" and data.name == "toy"


def test_load_multiview_mat_rejects_bad_files(tmp_path):
    from scipy.io import savemat

    from normgraph.datasets import load_multiview_mat

    with pytest.raises(FileNotFoundError):
        load_multiview_mat(tmp_path / "missing.mat")
    _save_toy(tmp_path / "short.mat", labels=(1, 2, 3))
    with pytest.raises(ValueError, match="3 labels"):
        load_multiview_mat(tmp_path / "short.mat")
    savemat(tmp_path / "other.mat", {"X": np.ones((2, 2))})
    with pytest.raises(ValueError, match="'fea'"):
        load_multiview_mat(tmp_path / "other.mat")
