"""plot_thresholds draws one bar per learned interval and one row per N2UQ layer."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from normgraph.nn.quant import N2UQAct, plot_thresholds, quantized_resnet  # noqa: E402


def test_bars_follow_the_learned_intervals():
    model = torch.nn.Sequential(N2UQAct(2), torch.nn.ReLU(), N2UQAct(3))
    with torch.no_grad():
        model[0].a.copy_(torch.tensor([0.1, 0.5, 1.0]))
        model[0].start.fill_(-0.2)
    fig, ax = plt.subplots()
    assert plot_thresholds(model, ax=ax) is ax
    assert len(ax.patches) == 3 + 7
    first = sorted(ax.patches[:3], key=lambda p: p.get_x())
    np.testing.assert_allclose([p.get_width() for p in first], [0.1, 0.5, 1.0], rtol=1e-6)
    np.testing.assert_allclose(first[0].get_x(), -0.2, rtol=1e-6)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "2"]
    assert len(ax.lines) == 2                                  # threshold ticks per row
    plt.close(fig)


def test_resnet_has_one_row_per_quantized_conv():
    ax = plot_thresholds(quantized_resnet(18, 2, "n2uq", quantize_downsample=True,
                                          num_classes=10))
    assert len(ax.get_yticks()) == 19 and len(ax.patches) == 19 * 3
    plt.close(ax.figure)


def test_errors():
    with pytest.raises(ValueError, match="no N2UQAct"):
        plot_thresholds(quantized_resnet(18, 2, "lsq", num_classes=10))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        plot_thresholds([N2UQAct()])
