"""Plot helpers: they return Axes and draw one artist per view / iteration / node / edge."""

from types import SimpleNamespace

import matplotlib.pyplot as plt  # the Agg backend is set by tests/conftest.py
import numpy as np
import pytest
import scipy.sparse as sp
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection

from normgraph.graphs._plotting import plot_graph, plot_objective, plot_view_coefficients


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def fitted_model():
    return SimpleNamespace(
        view_coef_=np.array([0.4, 0.35, 0.25]),
        objective_=[5.0, 3.0, 2.5, 2.4, 2.39],
        view_names_=["rgb", "hog", "lbp"],
    )


def test_view_coefficients_from_model():
    ax = plot_view_coefficients(fitted_model())
    assert isinstance(ax, Axes)
    assert len(ax.patches) == 3
    np.testing.assert_allclose([bar.get_height() for bar in ax.patches], [0.4, 0.35, 0.25])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["rgb", "hog", "lbp"]


def test_view_coefficients_from_array_on_given_axes():
    _, ax = plt.subplots()
    out = plot_view_coefficients(np.full(5, 0.2), ax=ax)
    assert out is ax
    assert len(ax.patches) == 5
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"view {i}" for i in range(5)]
    # the uniform reference line sits at 1/V
    assert ax.lines[0].get_ydata()[0] == pytest.approx(0.2)


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


def test_graph_node_link_layout():
    G, labels = two_triangles_and_a_pair()
    ax = plot_graph(G, labels=labels)
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    edges = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(points) == 1 and points[0].get_offsets().shape == (8, 2)
    assert len(edges) == 1 and len(edges[0].get_segments()) == 7  # 3 + 3 + 1 undirected edges
    np.testing.assert_array_equal(points[0].get_array(), labels)


def test_graph_sparsity_pattern_ordered_by_label():
    G, labels = two_triangles_and_a_pair()
    perm = np.array([6, 0, 3, 1, 7, 4, 2, 5])
    Gp, lp = G[perm][:, perm], labels[perm]
    ax = plot_graph(Gp, labels=lp, max_nodes=4)
    marks = ax.lines[0]
    assert len(marks.get_xdata()) == G.count_nonzero() == 14
    # ordered by label, the pattern is block diagonal again
    rows, cols = np.asarray(marks.get_ydata()), np.asarray(marks.get_xdata())
    ordered = lp[np.argsort(lp, kind="stable")]
    assert np.all(ordered[rows.astype(int)] == ordered[cols.astype(int)])


def test_graph_without_labels_both_layouts():
    G, _ = two_triangles_and_a_pair()
    assert isinstance(plot_graph(G.toarray()), Axes)
    assert len(plot_graph(G, max_nodes=0).lines[0].get_xdata()) == G.count_nonzero()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: plot_view_coefficients([0.5, 0.5], view_names=["a"]), "view_names"),
        (lambda: plot_view_coefficients(SimpleNamespace(view_coef_=None)), "fitted"),
        (lambda: plot_view_coefficients([]), "non-empty"),
        (lambda: plot_objective(np.ones((2, 2))), "1-D"),
        (lambda: plot_graph(np.ones((2, 3))), "square"),
        (lambda: plot_graph(np.ones((3, 3)), labels=[0, 1]), "labels"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
