"""FF and C2I trackers on a hand-made weight sequence (spec 2.6, 5.7) and the curve plot."""

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from normgraph.nn.bnn import BinaryConv2d, C2ITracker, FlipFlopTracker, plot_training_curves

matplotlib.use("Agg")


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = BinaryConv2d(1, 2, 1)   # 2 weights
        self.b = BinaryConv2d(2, 2, 1)   # 4 weights
        self.fc = nn.Linear(2, 2)        # not watched


def set_weights(model, a, b):
    with torch.no_grad():
        model.a.weight.copy_(torch.tensor(a).view(2, 1, 1, 1))
        model.b.weight.copy_(torch.tensor(b).view(2, 2, 1, 1))


# signs (w >= 0 -> +1):                 a        b
SEQUENCE = [
    ([0.0, -1.0], [1.0, 2.0, -3.0, 0.0]),    # w0:  + -    + + - +
    ([-0.5, -1.0], [1.0, 2.0, -3.0, 0.0]),   # t1:  - -    + + - +
    ([0.0, 1.0], [-1.0, 2.0, 0.0, -0.0]),    # t2:  + +    - + + +
    ([0.0, 1.0], [-1.0, 2.0, 0.0, 5.0]),     # t3:  + +    - + + +   (then C2I reset)
    ([-2.0, 1.0], [-1.0, 2.0, 0.0, 5.0]),    # t4:  - +    - + + +
]
# Worked out by hand from the sign table above.
FF_LAYERS = [[1 / 2, 0.0], [1.0, 2 / 4], [0.0, 0.0], [1 / 2, 0.0]]
FF_OVERALL = [1 / 6, 4 / 6, 0.0, 1 / 6]
C2I_LAYERS = [[1 / 2, 0.0], [1 / 2, 2 / 4], [1 / 2, 2 / 4], [1 / 2, 0.0]]
C2I_OVERALL = [1 / 6, 3 / 6, 3 / 6, 1 / 6]


def run_sequence():
    model = TwoLayers()
    set_weights(model, *SEQUENCE[0])
    ff, c2i = FlipFlopTracker(model), C2ITracker(model)
    for t, weights in enumerate(SEQUENCE[1:], start=1):
        if t == 4:
            c2i.reset()
        set_weights(model, *weights)
        ff.update()
        c2i.update()
        if t in (2, 4):
            ff.end_epoch()
            c2i.end_epoch()
    return ff, c2i


def test_flip_flop_on_hand_made_sequence():
    ff, _ = run_sequence()
    assert ff.layer_names == ["a", "b"] and ff.layer_sizes == [2, 4]
    np.testing.assert_allclose(ff.per_layer, FF_LAYERS, rtol=0, atol=1e-15)
    assert ff.overall == pytest.approx(FF_OVERALL, abs=1e-15)
    # overall is weighted by layer size, not the mean of the layer fractions (1/4 at t1)
    assert ff.overall[0] != pytest.approx(sum(FF_LAYERS[0]) / 2)
    assert ff.epoch_means() == pytest.approx([5 / 12, 1 / 12], abs=1e-15)
    summary = ff.summary()
    assert summary["per_layer"]["b"] == pytest.approx([r[1] for r in FF_LAYERS])
    assert summary["final"] == pytest.approx(1 / 6)


def test_c2i_on_hand_made_sequence_and_reset():
    _, c2i = run_sequence()
    np.testing.assert_allclose(c2i.per_layer, C2I_LAYERS, rtol=0, atol=1e-15)
    assert c2i.overall == pytest.approx(C2I_OVERALL, abs=1e-15)
    assert c2i.agreement == pytest.approx([2 / 3, 0.0, 0.0, 2 / 3], abs=1e-15)
    assert c2i.epoch_means() == pytest.approx([1 / 3, 1 / 3], abs=1e-15)


def test_zero_weights_count_as_positive():
    model = TwoLayers()
    set_weights(model, [0.0, 0.0], [0.0, 0.0, 0.0, 0.0])
    ff, c2i = FlipFlopTracker(model), C2ITracker(model)
    set_weights(model, [1e-30, -0.0], [0.0, 3.0, 1.0, 2.0])
    assert ff.update() == 0.0 and c2i.update() == 0.0
    set_weights(model, [-1e-30, 0.0], [0.0, 3.0, 1.0, 2.0])
    assert ff.update() == pytest.approx(1 / 6) and c2i.update() == pytest.approx(1 / 6)


def test_attach_updates_after_each_optimizer_step():
    model = TwoLayers()
    set_weights(model, [0.1, -0.1], [0.1, 0.1, 0.1, 0.1])
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    ff = FlipFlopTracker(model).attach(opt)
    c2i = C2ITracker(model).attach(opt)
    for _ in range(2):
        model.a.weight.grad = torch.full((2, 1, 1, 1), 0.15)   # first step: 0.1 -> -0.05 flips
        opt.step()
    assert len(ff.overall) == 2 and ff.overall == pytest.approx([1 / 6, 0.0])
    assert c2i.overall == pytest.approx([1 / 6, 1 / 6])
    ff.detach()
    opt.step()
    assert len(ff.overall) == 2 and len(c2i.overall) == 3


def test_trackers_keep_only_boolean_snapshots():
    ff, c2i = run_sequence()
    assert all(s.dtype == torch.bool for s in ff._previous + c2i._reference)


def test_tracker_bad_inputs():
    with pytest.raises(TypeError, match="model"):
        FlipFlopTracker("net")
    with pytest.raises(ValueError, match="BinaryConv2d"):
        C2ITracker(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="modules"):
        FlipFlopTracker(TwoLayers(), modules="conv")
    with pytest.raises(TypeError, match="optimizer"):
        FlipFlopTracker(TwoLayers()).attach(object())
    assert FlipFlopTracker(nn.Linear(2, 2), modules=nn.Linear).layer_sizes == [4]


def history_with(trackers):
    rec = dict(train_loss=[2.0, 1.5, 1.2], train_acc=[0.3, 0.5, 0.6], val_acc=[0.3, 0.4, 0.5],
               lr=[1.0, 0.66, 0.33], trackers=trackers)
    return {"step1": rec, "step2": dict(rec)}


def test_plot_training_curves_draws_every_panel():
    trackers = {"FlipFlopTracker": {"epoch_means": [0.02, 0.01, 0.005]},
                "C2ITracker": {"epoch_means": [0.1, 0.2, 0.25]}}
    fig, axes = plot_training_curves(history_with(trackers))
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy", "flip-flop ratio", "C2I"]
    # data lines per panel (+1 dashed step boundary each): loss 2, accuracy 4, FF 2, C2I 2
    assert [len(ax.lines) for ax in axes] == [3, 5, 3, 3]
    x, y = axes[2].lines[1].get_data()
    assert list(x) == [4, 5, 6] and list(y) == [0.02, 0.01, 0.005]
    assert all(ax.get_legend() is not None for ax in axes)
    matplotlib.pyplot.close(fig)


def test_plot_training_curves_untracked_panels_and_bad_history():
    fig, axes = plot_training_curves(history_with({}))
    assert [t.get_text() for t in axes[2].texts] == ["not tracked"]
    assert len(axes[3].lines) == 0
    matplotlib.pyplot.close(fig)
    with pytest.raises(TypeError, match="history"):
        plot_training_curves([1, 2])
    with pytest.raises(ValueError, match="step1"):
        plot_training_curves({"model": None})
    fig, ax = matplotlib.pyplot.subplots()
    with pytest.raises(ValueError, match="4 Axes"):
        plot_training_curves(history_with({}), axes=[ax])
    matplotlib.pyplot.close(fig)
