"""plot_norm_profile: one readable row per conv/linear layer, l2 intervals, log axis, sizing."""

import matplotlib.pyplot as plt  # the Agg backend is set by tests/conftest.py
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from torch import nn

from normgraph.norms import layer_norms, plot_norm_profile


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.skip = nn.Identity()

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x))) + self.skip(x)


def deep_net(depth):
    layers = [nn.Conv2d(1, 3, 3, padding=1), *[Block(3) for _ in range(depth)], nn.Flatten(),
              nn.Linear(3 * 16, 4)]
    torch.manual_seed(0)
    return nn.Sequential(*layers).double()


@pytest.fixture(scope="module")
def table():
    return layer_norms(deep_net(3), (1, 4, 4), include=("conv", "linear", "bn", "other"))


def ytick_texts(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def test_one_row_per_conv_and_linear_layer_by_default(table):
    ax = plot_norm_profile(table)
    assert isinstance(ax, Axes)
    names = ["0", "1.conv", "2.conv", "3.conv", "5"]
    assert ytick_texts(ax) == names                  # module order, first on top
    assert ax.yaxis_inverted()
    ps = [1, 2, np.inf]
    assert len(ax.patches) == len(names) * len(ps)    # BatchNorm and identity left out
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["l1", "l2", "l-inf"]
    # each bar's length is the row's value; its row is the layer's tick
    rows = [r for r in table if r["type"] in ("Conv2d", "Linear")]
    expected = {(r["name"], r["p"]): r["value"] for r in rows}
    bar_sets = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bar_sets) == len(ps)
    for bars, q in zip(bar_sets, ps):
        for bar, name in zip(bars, names):
            assert bar.get_x() + bar.get_width() == pytest.approx(expected[(name, q)])
            center = bar.get_y() + bar.get_height() / 2
            assert round(center) == names.index(name)


def test_l2_interval_drawn_as_error_bar_down_to_lower_bound():
    rows = [dict(name="a", type="Conv2d", p=2, value=4.0, lower=2.0, upper=4.0),
            dict(name="b", type="Conv2d", p=2, value=3.0, lower=3.0, upper=3.0),
            dict(name="c", type="Linear", p=2, value=1.0, lower=0.5, upper=1.0)]
    ax = plot_norm_profile(rows)
    whiskers = [c for c in ax.collections if len(c.get_segments())]
    assert len(whiskers) == 1
    segments = whiskers[0].get_segments()
    assert len(segments) == 3
    np.testing.assert_allclose([s[:, 0] for s in segments], [[2.0, 4.0], [3.0, 3.0],
                                                              [0.5, 1.0]])
    np.testing.assert_allclose([s[0, 1] for s in segments], [0, 1, 2])


def test_include_and_p_select_rows(table):
    ax = plot_norm_profile(table, include=("conv", "linear", "bn"), p="inf")
    assert len(ytick_texts(ax)) == 8                  # 5 conv/linear + 3 batch norms
    assert "1.bn" in ytick_texts(ax) and "1.skip" not in ytick_texts(ax)
    assert len(ax.patches) == 8
    ax = plot_norm_profile(table, include="linear")
    assert ytick_texts(ax) == ["5"]
    # rows without a type (plain dicts) are always drawn
    ax = plot_norm_profile([dict(name="x", p=1, value=2.0)])
    assert ytick_texts(ax) == ["x"]


def test_linear_axis_when_a_value_is_zero():
    rows = [dict(name="a", type="Linear", p=1, value=0.0, lower=0.0, upper=0.0),
            dict(name="b", type="Linear", p=1, value=2.0, lower=2.0, upper=2.0)]
    assert plot_norm_profile(rows).get_xscale() == "linear"


def test_extreme_magnitudes_drawn_on_the_log_axis(tmp_path):
    rows = [dict(name="tiny", type="Conv2d", p=2, value=3e-300, lower=1e-300, upper=3e-300),
            dict(name="huge", type="Linear", p=2, value=2e300, lower=1e300, upper=2e300)]
    ax = plot_norm_profile(rows)
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose([b.get_x() + b.get_width() for b in ax.patches],
                               [3e-300, 2e300])
    low, high = ax.get_xlim()
    assert low <= 1e-300 and high >= 2e300
    ax.figure.savefig(tmp_path / "extreme.png")       # renders without overflow errors
    assert len(ax.get_xticks()) <= 7
    # a network scaled by 1e+-300 keeps its picture: the same bars and decades, shifted
    base = [dict(name="a", type="Conv2d", p=2, value=3.0, lower=1.0, upper=3.0),
            dict(name="b", type="Conv2d", p=2, value=60.0, lower=50.0, upper=60.0)]
    for factor in (1e-300, 1e300):
        scaled = [{**r, "value": r["value"] * factor, "lower": r["lower"] * factor}
                  for r in base]
        ax = plot_norm_profile(scaled)
        assert ax.get_xscale() == "log"
        ends = [b.get_x() + b.get_width() for b in ax.patches]
        np.testing.assert_allclose(ends, np.array([3.0, 60.0]) * factor)
        np.testing.assert_allclose(ax.get_xlim(), np.array([0.5, 120.0]) * factor)
        ax.figure.savefig(tmp_path / "scaled.png")


def test_figure_height_grows_with_layer_count_and_width_is_fixed():
    def rows(n):
        return [dict(name=f"layer{i}", type="Conv2d", p=1, value=1.0 + i) for i in range(n)]

    sizes = {n: plot_norm_profile(rows(n)).figure.get_size_inches() for n in (2, 20, 100)}
    assert sizes[2][0] == sizes[20][0] == sizes[100][0] <= 8
    heights = np.array([sizes[n][1] for n in (2, 20, 100)])
    # linear growth: the same height per layer row, at least 0.2 in so 8-pt names do not overlap
    per_row = np.diff(heights) / np.diff([2, 20, 100])
    assert per_row[0] == pytest.approx(per_row[1]) and per_row[0] >= 0.2
    # an existing axes is used as it is
    _, ax = plt.subplots(figsize=(3, 2))
    assert plot_norm_profile(rows(50), ax=ax) is ax
    assert tuple(ax.figure.get_size_inches()) == (3, 2)


def test_resnet18_profile_is_readable():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(weights=None)
    # l1 / l-inf only: exact and fast; 21 conv/linear layers out of 41 with batch norms
    table = layer_norms(model, (3, 32, 32), p=(1, np.inf))
    ax = plot_norm_profile(table)
    names = ytick_texts(ax)
    assert len(names) == 21 and names[0] == "conv1" and names[-1] == "fc"
    assert not any("bn" in name for name in names)
    width, height = ax.figure.get_size_inches() * ax.figure.dpi
    assert width <= 1000 and height <= 1200


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(include=("relu",)), ValueError, "include"),
    (dict(include=3), TypeError, "include"),
    (dict(p=3), ValueError, "p"),
    (dict(include="pool"), ValueError, "no row"),
])
def test_bad_input(table, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        plot_norm_profile(table, **kwargs)
