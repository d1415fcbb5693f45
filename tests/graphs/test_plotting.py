"""Plot helpers: they return Axes and draw the expected artists (bars, labels, images, points)."""

from types import SimpleNamespace

import matplotlib.pyplot as plt  # the Agg backend is set by tests/conftest.py
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection

from normgraph.graphs import plot_graph, plot_objective, plot_view_coefficients
from normgraph.graphs._plotting import binned_adjacency


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def fitted_model(names=True):
    model = SimpleNamespace(
        view_coef_=np.array([0.4, 0.35, 0.25]),
        objective_=[5.0, 3.0, 2.5, 2.4, 2.39],
    )
    if names:
        model.view_names_ = ["rgb", "hog", "lbp"]
    return model


def ytick_texts(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def test_view_coefficients_from_model():
    ax = plot_view_coefficients(fitted_model())
    assert isinstance(ax, Axes)
    assert len(ax.patches) == 3
    np.testing.assert_allclose([bar.get_width() for bar in ax.patches], [0.4, 0.35, 0.25])
    assert ytick_texts(ax) == ["rgb", "hog", "lbp"]
    # the first view is the top row
    assert ax.yaxis_inverted()
    # each bar carries its value
    assert sorted(t.get_text() for t in ax.texts) == ["0.250", "0.350", "0.400"]


def test_view_coefficients_names_given_override_model():
    ax = plot_view_coefficients(fitted_model(names=False), view_names=("cm", "gist", "lbp"))
    assert ytick_texts(ax) == ["cm", "gist", "lbp"]
    ax = plot_view_coefficients(fitted_model(), view_names=["a", "b", "c"])
    assert ytick_texts(ax) == ["a", "b", "c"]


def test_view_coefficients_from_array_on_given_axes():
    _, ax = plt.subplots()
    out = plot_view_coefficients(np.full(5, 0.2), ax=ax)
    assert out is ax
    assert len(ax.patches) == 5
    assert ytick_texts(ax) == [f"view {i}" for i in range(5)]
    # the uniform reference line sits at 1/V
    assert ax.lines[0].get_xdata()[0] == pytest.approx(0.2)


def test_view_coefficients_grouped_for_several_models():
    sgf = SimpleNamespace(view_coef_=np.array([0.6, 0.3, 0.1]))
    dgf = SimpleNamespace(view_coef_=np.array([0.2, 0.2, 0.6]))
    ax = plot_view_coefficients({"SGF": sgf, "DGF": dgf}, view_names=["x", "y", "z"])
    assert len(ax.patches) == 6
    widths = [bar.get_width() for bar in ax.patches]
    np.testing.assert_allclose(widths, [0.6, 0.3, 0.1, 0.2, 0.2, 0.6])
    # the two bars of a view share its row, side by side
    centers = [bar.get_y() + bar.get_height() / 2 for bar in ax.patches]
    np.testing.assert_allclose(np.array(centers[:3]) + 0.4, centers[3:])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["uniform 1/V", "SGF", "DGF"]


def test_objective_trace():
    ax = plot_objective(fitted_model())
    line = ax.lines[0]
    np.testing.assert_array_equal(line.get_xdata(), np.arange(5))
    np.testing.assert_allclose(line.get_ydata(), fitted_model().objective_)
    assert ax.get_yscale() == "log"
    ax = plot_objective([0.0, -1.0, -1.5])
    assert ax.get_yscale() == "linear"


def two_triangles_and_a_pair():
    G = sp.block_diag(
        [np.ones((3, 3)) - np.eye(3), np.ones((3, 3)) - np.eye(3), np.array([[0, 2.0], [2.0, 0]])],
        format="csr",
    )
    return G, np.array([0, 0, 0, 1, 1, 1, 2, 2])


def image_of(ax):
    assert len(ax.images) == 1
    return np.asarray(ax.images[0].get_array())


def test_adjacency_is_block_diagonal_when_ordered_by_label():
    G, labels = two_triangles_and_a_pair()
    perm = np.array([6, 0, 3, 1, 7, 4, 2, 5])
    Gp, lp = G[perm][:, perm], labels[perm]
    ax = plot_graph(Gp, labels=lp)
    image = image_of(ax)
    # n <= max_pixels: the image is the dense adjacency reordered by label
    order = np.argsort(lp, kind="stable")
    np.testing.assert_allclose(image, Gp.toarray()[order][:, order])
    np.testing.assert_allclose(image, G.toarray())  # this permutation undoes perm exactly
    # tick labels name the clusters, at their centres; boundaries between clusters are drawn
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    np.testing.assert_allclose(ax.get_xticks(), [1.5, 4.5, 7.0])
    assert len(ax.lines) == 4  # 2 boundaries x (horizontal + vertical)
    assert ax.images[0].get_extent() == [0, 8, 8, 0]


def test_adjacency_string_labels_and_no_labels():
    G, labels = two_triangles_and_a_pair()
    names = np.array(["cat", "dog", "eel"])[labels]
    ax = plot_graph(G, labels=names)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "eel"]
    ax = plot_graph(G.toarray())
    np.testing.assert_allclose(image_of(ax), G.toarray())
    assert not ax.lines


def test_adjacency_binned_for_large_graphs_without_densifying(monkeypatch):
    n, c = 20_000, 4
    rng = np.random.default_rng(0)
    labels = rng.integers(0, c, size=n)
    # a sparse graph with edges only inside clusters, nodes shuffled
    rows = rng.integers(0, n, size=200_000)
    same = [np.flatnonzero(labels == k) for k in range(c)]
    cols = np.array([rng.choice(same[labels[r]]) for r in rows[:5000]])
    G = sp.coo_matrix((np.ones(5000), (rows[:5000], cols)), shape=(n, n)).tocsr()
    G = G + G.T

    def no_dense(*args, **kwargs):
        raise AssertionError("the graph was densified")

    monkeypatch.setattr(sp.csr_matrix, "toarray", no_dense)
    monkeypatch.setattr(sp.csr_matrix, "todense", no_dense)
    ax = plot_graph(G, labels=labels, max_pixels=400)
    image = image_of(ax)
    assert image.shape == (400, 400)
    # block structure: every nonzero pixel lies inside a diagonal block of the label grouping
    sizes = np.bincount(labels)
    bin_label = np.repeat(np.arange(c), sizes)[np.arange(400) * n // 400]
    r, q = np.nonzero(image)
    assert r.size > 0
    straddling = np.flatnonzero(np.diff(bin_label))  # bins holding two clusters' nodes
    boundary = np.isin(r, straddling) | np.isin(q, straddling)
    assert np.all((bin_label[r] == bin_label[q]) | boundary)
    assert "400x400 bins" in ax.get_title()


@given(n=st.integers(1, 40), n_bins=st.integers(1, 40), seed=st.integers(0, 10**6))
def test_binned_adjacency_matches_dense_block_means(n, n_bins, seed):
    n_bins = min(n, n_bins)
    rng = np.random.default_rng(seed)
    dense = rng.random((n, n)) * (rng.random((n, n)) < 0.3)
    order = rng.permutation(n)
    image = binned_adjacency(sp.csr_matrix(dense), order, n_bins)
    ordered = dense[order][:, order]
    bins = np.arange(n) * n_bins // n
    expected = np.array([[ordered[np.ix_(bins == a, bins == b)].mean() for b in range(n_bins)]
                         for a in range(n_bins)])
    np.testing.assert_allclose(image, expected, atol=1e-12)
    # the total weight is preserved
    counts = np.bincount(bins, minlength=n_bins)
    assert (image * np.outer(counts, counts)).sum() == pytest.approx(dense.sum())


def test_embedding_layout_separates_components():
    G, labels = two_triangles_and_a_pair()
    ax = plot_graph(G, labels=labels, kind="embedding")
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    edges = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(points) == 1 and points[0].get_offsets().shape == (8, 2)
    assert len(edges) == 1 and len(edges[0].get_segments()) == 7  # 3 + 3 + 1 undirected edges
    np.testing.assert_array_equal(points[0].get_array(), labels)
    xy = np.asarray(points[0].get_offsets())
    # three connected components: each collapses to one point, distinct from the others
    spread = max(np.ptp(xy[labels == k], axis=0).max() for k in range(3))
    gaps = [np.linalg.norm(xy[labels == a][0] - xy[labels == b][0])
            for a, b in [(0, 1), (0, 2), (1, 2)]]
    assert spread < 1e-6 < min(gaps)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]


@pytest.mark.parametrize("fmt", ["coo", "csc", "lil", "dok", "bsr"])
def test_adjacency_accepts_any_sparse_format(fmt):
    G, labels = two_triangles_and_a_pair()
    ax = plot_graph(G.asformat(fmt), labels=labels)
    np.testing.assert_allclose(image_of(ax), G.toarray())


@pytest.mark.parametrize("exponent", [-300, -100, 100, 300])
def test_extreme_weights_give_the_scaled_pictures(exponent):
    G, labels = two_triangles_and_a_pair()
    big = G * 10.0 ** exponent
    image = image_of(plot_graph(big, labels=labels))
    reference = image_of(plot_graph(G, labels=labels))
    assert np.all(np.isfinite(image))
    np.testing.assert_allclose(image, reference * 10.0 ** exponent, rtol=1e-12)
    ax = plot_graph(big, labels=labels, kind="embedding")
    xy = np.asarray([c for c in ax.collections if isinstance(c, PathCollection)][0].get_offsets())
    assert np.all(np.isfinite(xy))
    assert len({tuple(np.round(xy[labels == k][0], 6)) for k in range(3)}) == 3


def test_binned_sums_near_the_float_limit_do_not_overflow():
    G, labels = two_triangles_and_a_pair()
    big = G * 5e307                    # the weights sum to 8e308 > the largest float64
    image = image_of(plot_graph(big, labels=labels, max_pixels=1))
    assert image.shape == (1, 1)
    assert image[0, 0] == pytest.approx(12 * (5e307 / 64) + 2 * (1e308 / 64), rel=1e-12)


def test_embedding_without_labels():
    G, _ = two_triangles_and_a_pair()
    ax = plot_graph(G, kind="embedding")
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert points[0].get_offsets().shape == (8, 2)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: plot_view_coefficients([0.5, 0.5], view_names=["a"]), ValueError, "view_names"),
        (lambda: plot_view_coefficients([0.5, 0.5], view_names="ab"), TypeError, "view_names"),
        (lambda: plot_view_coefficients(SimpleNamespace(view_coef_=None)), ValueError, "fitted"),
        (lambda: plot_view_coefficients([]), ValueError, "at least 1 entries"),
        (lambda: plot_view_coefficients({}), ValueError, "empty dict"),
        (lambda: plot_view_coefficients({"a": [1.0], "b": [0.5, 0.5]}), ValueError, "views"),
        (lambda: plot_objective(np.ones((2, 2))), ValueError, "1-D"),
        (lambda: plot_graph(np.ones((2, 3))), ValueError, "square"),
        (lambda: plot_graph(-np.ones((3, 3))), ValueError, "G"),
        (lambda: plot_graph(np.ones((3, 3)), labels=[0, 1]), ValueError, "labels"),
        (lambda: plot_graph(np.ones((3, 3)), kind="spring"), ValueError, "kind"),
        (lambda: plot_graph(np.ones((3, 3)), max_pixels=0), ValueError, "max_pixels"),
        (lambda: plot_graph(np.ones((3, 3)), max_pixels=2.5), TypeError, "max_pixels"),
        (lambda: plot_graph(np.ones((3, 3)), kind="embedding", max_nodes=2), ValueError,
         "max_nodes"),
    ],
)
def test_bad_input_raises(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
