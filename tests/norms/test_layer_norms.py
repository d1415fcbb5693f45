"""layer_norms over a small torch model equals per-layer dense computations."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from normgraph.norms._torch import NormTable, layer_norms

_TORCH_PAD = {"zeros": "constant", "circular": "circular", "reflect": "reflect",
              "replicate": "replicate"}


def dense_of_module(m, in_shape):
    """Operator matrix of a conv/pool module (bias removed) from its own forward on a basis."""
    size = int(np.prod(in_shape))
    X = torch.eye(size, dtype=torch.float64).reshape((size,) + tuple(in_shape))
    m = m.double()
    with torch.no_grad():
        Y = m(X)
        if getattr(m, "bias", None) is not None:
            Y = Y - m(torch.zeros_like(X[:1]))
    return Y.reshape(size, -1).T.numpy()


def norms_of(T):
    return (float(np.abs(T).sum(0).max()), float(np.linalg.svd(T, compute_uv=False)[0]),
            float(np.abs(T).sum(1).max()))


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, padding_mode="reflect")
        self.conv3 = nn.Conv2d(6, 6, 3, padding=1, padding_mode="circular")
        self.up = nn.ConvTranspose2d(6, 2, 2, stride=2)
        self.pool = nn.AvgPool2d(2)
        self.conv1d = nn.Conv1d(2, 3, 3, padding="same", dilation=2)
        self.fc = nn.Linear(3 * 9, 5)

    def forward(self, x):
        x = self.conv3(self.conv2(self.act(self.bn(self.conv1(x)))))
        x = self.pool(self.up(x))            # (2, 3, 3)
        x = self.conv1d(x.flatten(2))        # (3, 9)
        return self.fc(x.flatten(1))


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = TinyNet().double()
    with torch.no_grad():
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.weight.uniform_(-2.0, 2.0)
    return model


def test_rows_equal_dense_per_layer(net):
    shapes = {"conv1": (2, 6, 6), "conv2": (4, 6, 6), "conv3": (6, 3, 3), "up": (6, 3, 3),
              "pool": (2, 6, 6), "conv1d": (2, 9)}
    table = layer_norms(net, (2, 6, 6), include=("conv", "linear", "bn", "pool"))
    assert isinstance(table, NormTable)
    names = list(dict.fromkeys(r["name"] for r in table))
    assert names == ["conv1", "bn", "conv2", "conv3", "up", "pool", "conv1d", "fc"]
    for name, shape in shapes.items():
        T = dense_of_module(getattr(net, name), shape)
        l1, l2, linf = norms_of(T)
        rows = {r["p"]: r for r in table if r["name"] == name}
        assert rows[1]["exact"] and math.isclose(rows[1]["value"], l1, rel_tol=1e-12), name
        assert math.isclose(rows[np.inf]["value"], linf, rel_tol=1e-12), name
        r2 = rows[2]
        assert r2["lower"] <= l2 * (1 + 1e-12) and l2 <= r2["upper"] * (1 + 1e-12), name
        assert tuple(r2["input_shape"]) == shape[1:]
    # circular, stride 1, same padding: the exact path
    r3 = next(r for r in table if r["name"] == "conv3" and r["p"] == 2)
    assert r3["exact"] and r3["method"] == "fft_svd"
    W = net.fc.weight.detach().numpy()
    fc = {r["p"]: r["value"] for r in table if r["name"] == "fc"}
    assert math.isclose(fc[1], np.abs(W).sum(0).max(), rel_tol=1e-12)
    assert math.isclose(fc[2], np.linalg.svd(W, compute_uv=False)[0], rel_tol=1e-12)
    assert math.isclose(fc[np.inf], np.abs(W).sum(1).max(), rel_tol=1e-12)
    bn = net.bn
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).abs().max().item()
    assert all(math.isclose(r["value"], scale, rel_tol=1e-12) for r in table if r["name"] == "bn")
    md = table.to_markdown()
    assert md.count("\n") == len(table) + 1 and "| conv3 | Conv2d | 2 |" in md
    assert table.values("inf")["conv1"] == rows_value(table, "conv1", np.inf)


def rows_value(table, name, p):
    return next(r["value"] for r in table if r["name"] == name and r["p"] == p)


def test_training_flags_restored_and_hooks_removed(net):
    net.train()
    net.conv2.eval()
    before = {m: m.training for m in net.modules()}
    table = layer_norms(net, (2, 6, 6), p=1)
    assert {m: m.training for m in net.modules()} == before
    assert all(len(m._forward_hooks) == 0 for m in net.modules())
    # BN uses its running statistics and the table says the model was in train mode
    assert "train mode" in next(r["method"] for r in table if r["name"] == "bn")
    # restored even when the forward pass fails
    with pytest.raises(RuntimeError):
        layer_norms(net, (3, 6, 6), p=1)
    assert {m: m.training for m in net.modules()} == before
    assert all(len(m._forward_hooks) == 0 for m in net.modules())
    net.eval()


def test_output_padding_taken_from_the_forward_pass():
    up = nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1).double()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = up

        def forward(self, x):
            return self.up(x, output_size=[10])  # output_padding 1 chosen at call time

    table = layer_norms(Net(), (2, 5), p=(1, "inf"))
    X = torch.eye(10, dtype=torch.float64).reshape(10, 2, 5)
    with torch.no_grad():
        T = (F.conv_transpose1d(X, up.weight, stride=2, padding=1, output_padding=1)
             .reshape(10, -1).T.numpy())
    assert math.isclose(table[0]["value"], np.abs(T).sum(0).max(), rel_tol=1e-12)
    assert math.isclose(table[1]["value"], np.abs(T).sum(1).max(), rel_tol=1e-12)


def test_other_modules_lazy_convs_and_unused_layers():
    model = nn.Sequential(nn.LazyConv2d(3, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    unused = nn.Linear(2, 2)
    model.add_module("unused", unused)
    model.forward = lambda x: model[3](model[2](model[1](model[0](x))))
    table = layer_norms(model, (1, 5, 5), p=np.inf, include=("conv", "linear", "other"))
    by_name = {r["name"]: r for r in table}
    w = model[0].weight.detach().numpy()
    assert math.isclose(by_name["0"]["value"], np.abs(w).sum(axis=(1, 2, 3)).max(), rel_tol=1e-6)
    assert by_name["1"]["value"] is None and by_name["1"]["method"] == "not a fixed linear map"
    assert by_name["unused"]["value"] is None


def test_bad_inputs(net):
    with pytest.raises(TypeError, match="torch.nn.Module"):
        layer_norms(np.ones(3), (2, 6, 6))
    with pytest.raises(ValueError, match="p must be one of"):
        layer_norms(net, (2, 6, 6), p=3)
    with pytest.raises(ValueError, match="p must be one of"):
        layer_norms(net, (2, 6, 6), p="fro")
    with pytest.raises(ValueError, match="include may contain"):
        layer_norms(net, (2, 6, 6), include=("relu",))
    with pytest.raises(ValueError, match="positive"):
        layer_norms(net, (2, 0, 6))
    with pytest.raises(ValueError, match="l2_method"):
        layer_norms(net, (2, 6, 6), p=2, l2_method="svd")


def test_plot_norm_profile(net):
    import matplotlib

    matplotlib.use("Agg")
    from normgraph.norms._plotting import plot_norm_profile

    table = layer_norms(net, (2, 6, 6), p=(1, 2))
    ax = plot_norm_profile(table, include=("conv", "linear", "bn"))
    assert len(ax.patches) == len(table)          # one bar per (layer, p) row
    inexact = [r for r in table if r["p"] == 2 and not r["exact"]]
    segments = [c for c in ax.collections if c.get_segments()]
    assert sum(len(c.get_segments()) for c in segments) == len(
        [r for r in table if r["p"] == 2])        # l2 rows carry an interval bar
    assert inexact and ax.get_xscale() == "log"
    ax2 = plot_norm_profile(table, p="1", include=("conv", "linear", "bn"))
    assert len(ax2.patches) == len([r for r in table if r["p"] == 1])
    with pytest.raises(ValueError, match="no row"):
        plot_norm_profile(table, p="inf")
