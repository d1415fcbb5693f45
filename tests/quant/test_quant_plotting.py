"""plot_quantizer draws one dashed line per threshold and the staircase of the levels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from normgraph.quant import (  # noqa: E402
    LloydMaxQuantizer,
    N2UQuantizer,
    OptimalQuantizer,
    UniformQuantizer,
    plot_quantizer,
    uniform_mse_quantizer,
)


def threshold_positions(ax):
    return sorted(line.get_xdata()[0] for line in ax.get_lines() if line.get_gid() == "threshold")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return np.column_stack([rng.normal(size=2000), rng.exponential(size=2000)])


@pytest.mark.parametrize(
    "est, n_thresholds",
    [(UniformQuantizer(n_levels=6), 5), (LloydMaxQuantizer(n_levels=3), 2),
     (OptimalQuantizer(n_levels=5), 4), (N2UQuantizer(n_bits=3, scale1=2.0), 7)],
    ids=lambda v: type(v).__name__ if not isinstance(v, int) else str(v),
)
def test_fitted_transformers(est, n_thresholds, X):
    est.fit(X)
    ax = plot_quantizer(est, X, feature=1)
    assert isinstance(ax, matplotlib.axes.Axes)
    got = threshold_positions(ax)
    assert len(got) == n_thresholds
    expected = np.asarray(est.thresholds_[1])
    if isinstance(est, N2UQuantizer):
        expected = expected / 2.0   # thresholds on z = scale1 * x, drawn on x
    np.testing.assert_allclose(got, expected)
    # Histogram of the chosen column, and the staircase of the levels on the twin axes.
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 100 and max(heights) > 0
    steps = ax.right_ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(np.unique(steps), np.unique(est.levels_[1]))
    assert ax.get_xlabel() == "feature 1"


def test_raw_thresholds_and_uniform_quant_on_given_axes():
    fig, ax = plt.subplots()
    out = plot_quantizer([-1.0, 0.0, 2.5], ax=ax, bins=10)
    assert out is ax
    assert threshold_positions(ax) == [-1.0, 0.0, 2.5]
    assert not hasattr(ax, "right_ax")         # no levels known
    x = np.random.default_rng(1).laplace(size=500)
    uq = uniform_mse_quantizer(x, 4)
    ax = plot_quantizer(uq, x, bins=20)
    assert threshold_positions(ax) == pytest.approx(list(uq.thresholds))
    assert len(ax.patches) == 20 and ax.get_xlabel() == "x"


def test_bad_inputs():
    with pytest.raises(ValueError, match="not fitted"):
        plot_quantizer(OptimalQuantizer())
    q = OptimalQuantizer(n_levels=2).fit(np.arange(10.0)[:, None])
    with pytest.raises(ValueError, match="feature 3"):
        plot_quantizer(q, feature=3)
    with pytest.raises(ValueError, match="non-decreasing"):
        plot_quantizer([1.0, 0.0])
    with pytest.raises(ValueError):
        plot_quantizer([0.0], x=[np.nan, 1.0])
    with pytest.raises(ValueError):
        plot_quantizer([0.0], bins=0)
    with pytest.raises(TypeError):
        plot_quantizer([0.0], feature=0.5)
    with pytest.raises(ValueError):
        plot_quantizer([0.0], x=np.ones((4, 2)), feature=2)
