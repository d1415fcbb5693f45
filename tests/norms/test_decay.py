"""Norm decay: subgradients against the dense operator, both update rules, the l1-ball projection."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from normgraph.norms._decay import NormDecay, _conv_subgradient, project_l1_ball
from normgraph.norms._validation import normalize_conv_args
from normgraph.norms.testing import conv_matrix


def dense_norm_and_derivatives(w, n, kw, p):
    """Exact norm from the dense matrix and the derivative of every maximising row/column."""
    T = conv_matrix(w, n, **kw).toarray()
    axis = 1 if p == np.inf else 0  # l-inf: row sums, l1: column sums
    sums = np.abs(T).sum(axis=axis)
    value = sums.max()
    best = np.nonzero(sums >= value * (1 - 1e-12))[0]
    # T is linear in the weight: T = sum_e w_e B_e with B_e the matrix of a unit weight
    basis = []
    for e in range(w.size):
        u = np.zeros(w.size)
        u[e] = 1.0
        basis.append(conv_matrix(u.reshape(w.shape), n, **kw).toarray())
    derivs = []
    for r in best:
        line = T[r] if p == np.inf else T[:, r]
        sign = np.sign(line)
        derivs.append(np.array([(sign * (B[r] if p == np.inf else B[:, r])).sum()
                                for B in basis]).reshape(w.shape))
    return value, derivs


@st.composite
def conv_layers(draw):
    D = draw(st.integers(1, 2))
    transposed = draw(st.booleans()) and draw(st.booleans())
    mode = "zeros" if transposed else draw(st.sampled_from(
        ["zeros", "circular", "reflect", "replicate"]))
    g = draw(st.integers(1, 2))
    co, ci = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(D))
    s = tuple(draw(st.integers(1, 2)) for _ in range(D))
    d = tuple(draw(st.integers(1, 2)) for _ in range(D))
    n = tuple(draw(st.integers(3, 6)) for _ in range(D))
    if transposed:
        pad = tuple(draw(st.integers(0, 1)) for _ in range(D))
        kw = dict(stride=s, padding=pad, dilation=d, groups=g, padding_mode=mode,
                  transposed=True, output_padding=tuple(
                      draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d)))
        shape = (ci, co // g) + k
    else:
        pad = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(D))
        kw = dict(stride=s, padding=pad, dilation=d, groups=g, padding_mode=mode)
        shape = (co, ci // g) + k
    w = np.random.default_rng(draw(st.integers(0, 2**31 - 1))).standard_normal(shape)
    try:
        normalize_conv_args(w, n, **kw)
    except ValueError:
        kw["padding"] = 0
        n = tuple(max(nt, dt * (kt - 1) + 1) for nt, dt, kt in zip(n, d, k))
    return w, n, kw


@settings(max_examples=40)
@given(conv_layers(), st.sampled_from([1, np.inf]))
def test_conv_subgradient_is_the_dense_derivative_at_the_argmax(layer, p):
    w, n, kw = layer
    ww, geom = normalize_conv_args(w, n, **kw)
    value, grad, mask, _ = _conv_subgradient(ww, geom, p)
    ref, derivs = dense_norm_and_derivatives(w, n, kw, p)
    assert abs(value - ref) <= 1e-12 * max(ref, 1.0)
    assert any(np.allclose(grad, dv, atol=1e-12) for dv in derivs)
    # only the maximiser's entries are touched
    assert not np.any(grad[~mask])
    if p == np.inf and not geom.transposed:
        assert np.count_nonzero(mask.reshape(w.shape[0], -1).any(axis=1)) == 1


def test_linear_subgradient_only_on_argmax_row_or_column():
    lin = nn.Linear(4, 3, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0, 0.5, 0.0], [3.0, 1.0, -1.0, 1.0],
                                       [0.0, 0.0, 0.0, -4.0]]))
    d = NormDecay(lin, p="inf", beta=1.0, gamma=0.0)
    d.step()
    expected = np.zeros((3, 4))
    expected[1] = [1, 1, -1, 1]
    np.testing.assert_array_equal(lin.weight.grad.numpy(), expected)
    assert d.norms_[""] == 6.0
    lin.weight.grad = None
    d1 = NormDecay(lin, p=1, beta=1.0, gamma=0.0)
    d1.step()
    expected = np.zeros((3, 4))
    expected[:, 3] = [0, 1, -1]
    np.testing.assert_array_equal(lin.weight.grad.numpy(), expected)


def test_paper_and_code_update_rules():
    lin = nn.Linear(2, 2, bias=False)
    conv = nn.Conv1d(1, 1, 2, bias=False)
    model = nn.ModuleDict({"lin": lin, "conv": conv})
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.5]]))
        conv.weight.copy_(torch.tensor([[[1.0, -1.0]]]))
    p_lin = np.array([[1.0, -1.0], [0.0, 0.0]])
    for variant in ("paper", "code"):
        for prm in model.parameters():
            prm.grad = torch.zeros_like(prm)
        d = NormDecay(model, p="inf", beta=0.2, gamma=0.5, variant=variant)
        conv(torch.zeros(1, 1, 4))  # records the input size
        d.step()
        g1 = lin.weight.grad.numpy().copy()
        d.step()
        g2 = lin.weight.grad.numpy() - g1
        if variant == "paper":  # h1 = 0.5 p, h2 = 0.75 p, scaled by beta / N (N = 2)
            np.testing.assert_allclose(g1, 0.1 * 0.5 * p_lin)
            np.testing.assert_allclose(g2, 0.1 * 0.75 * p_lin)
        else:                   # h = p on the argmax entries each step, scaled by beta
            np.testing.assert_allclose(g1, 0.2 * p_lin)
            np.testing.assert_allclose(g2, 0.2 * p_lin)


def _steps(model, decay, opt, n_steps, norm_of):
    values = []
    for _ in range(n_steps):
        for prm in model.parameters():
            prm.grad = torch.zeros_like(prm)   # zero loss gradient
        before = [prm.detach().clone() for prm in model.parameters()]
        versions = [prm._version for prm in model.parameters()]
        decay.step()
        # step() only touches .grad
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
        assert versions == [prm._version for prm in model.parameters()]
        opt.step()
        values.append(norm_of())
    return values


@pytest.mark.parametrize("variant", ["paper", "code"])
@pytest.mark.parametrize("p", [1, np.inf])
def test_norm_decreases_monotonically_under_sgd(variant, p):
    torch.manual_seed(0)
    sign = torch.sign(torch.randn(4, 5))
    lin = nn.Linear(5, 4, bias=False).double()
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False).double()
    with torch.no_grad():   # magnitudes >= 1, so 40 small steps never cross zero
        lin.weight.copy_(sign * (1 + torch.rand(4, 5)))
        conv.weight.copy_(torch.sign(torch.randn(3, 2, 3, 3)) * (1 + torch.rand(3, 2, 3, 3)))
    model = nn.ModuleDict({"lin": lin, "conv": conv})
    decay = NormDecay(model, p=p, beta=0.05, gamma=0.5, variant=variant)
    conv(torch.zeros(1, 2, 5, 5, dtype=torch.float64))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    from normgraph.norms import conv_norm, linear_norm

    values = _steps(model, decay, opt, 40,
                    lambda: (linear_norm(lin.weight, p),
                             conv_norm(conv.weight, p, (5, 5), padding=1)))
    for series in zip(*values):
        assert all(b < a for a, b in zip(series, series[1:])), series


def test_transposed_and_bn_layers():
    model = nn.Sequential(nn.ConvTranspose1d(2, 2, 3, stride=2), nn.BatchNorm1d(2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([0.5, -3.0]))
        model[1].running_var.copy_(torch.tensor([1.0, 4.0]))
    model.train()
    d = NormDecay(model, p=1, beta=1.0, gamma=0.0, include_bn=True, variant="code",
                  input_shape=(2, 4))
    assert model.training and model[1].training  # the dry run restored the flags
    d.step()
    eps = model[1].eps
    bn_grad = model[1].weight.grad.numpy()
    np.testing.assert_allclose(bn_grad, [0.0, -1.0 / np.sqrt(4.0 + eps)])
    assert np.isclose(d.norms_["1"], 3.0 / np.sqrt(4.0 + eps))
    from normgraph.norms import conv_norm

    ref = conv_norm(model[0].weight, 1, 4, stride=2, transposed=True)
    assert np.isclose(d.norms_["0"], ref)
    d.project_bn(1.0)
    assert np.all(np.abs(model[1].weight.detach().numpy())
                  <= np.sqrt(model[1].running_var.numpy() + eps) + 1e-7)


def test_project_writes_only_the_argmax_slice():
    torch.manual_seed(1)
    conv = nn.Conv2d(1, 3, 3, padding=1, bias=False).double()
    from normgraph.norms import conv_norm

    before = conv.weight.detach().clone()
    norms = [float(before[c].abs().sum()) for c in range(3)]
    radius = sorted(norms)[1]  # between the two largest filters
    d = NormDecay(conv, p="inf", proj_radius=radius, input_shape=(1, 6, 6))
    d.project()
    after = conv.weight.detach()
    top = int(np.argmax(norms))
    assert abs(float(after[top].abs().sum()) - radius) < 1e-12
    for c in range(3):
        if c != top:
            assert torch.equal(after[c], before[c])
    assert conv_norm(after, np.inf, (6, 6), padding=1) <= max(radius, sorted(norms)[1]) + 1e-12


def _cvxpy_projection(y, radius):
    import cvxpy as cp

    x = cp.Variable(y.size)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(x - y)), [cp.norm1(x) <= radius])
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-13, tol_gap_rel=1e-13, tol_feas=1e-13)
    return x.value


@settings(max_examples=25)
@given(st.integers(1, 12), st.floats(0.05, 5.0), st.integers(0, 2**31 - 1))
def test_projection_matches_cvxpy(size, radius, seed):
    y = np.random.default_rng(seed).standard_normal(size) * 2
    x = project_l1_ball(y, radius)
    assert np.abs(x).sum() <= radius * (1 + 1e-12)
    if np.abs(y).sum() <= radius:
        np.testing.assert_array_equal(x, y)
    np.testing.assert_allclose(x, _cvxpy_projection(y, radius), atol=1e-8)


def test_projection_shapes_types_and_bad_inputs():
    t = torch.tensor([[3.0, -1.0], [0.5, 0.0]], dtype=torch.float32)
    out = project_l1_ball(t, 2.0)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (2, 2)
    assert np.array_equal(project_l1_ball(np.array([1.0, -1.0]), 0.0), [0.0, 0.0])
    with pytest.raises(ValueError, match="radius"):
        project_l1_ball(np.ones(3), -1.0)
    with pytest.raises(ValueError, match="NaN/inf"):
        project_l1_ball(np.array([np.nan, 1.0]), 1.0)


def test_bad_inputs():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="p must be one of"):
        NormDecay(lin, p=2)
    with pytest.raises(ValueError, match="beta"):
        NormDecay(lin, beta=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        NormDecay(lin, gamma=1.0)
    with pytest.raises(ValueError, match="variant"):
        NormDecay(lin, variant="repo")
    with pytest.raises(ValueError, match="no Conv"):
        NormDecay(nn.ReLU())
    with pytest.raises(TypeError, match="torch.nn.Module"):
        NormDecay(np.ones((2, 2)))
    with pytest.raises(ValueError, match="proj_radius"):
        NormDecay(lin).project()
    conv = nn.Conv2d(1, 1, 3)
    with pytest.raises(RuntimeError, match="forward pass"):
        NormDecay(conv).step()
    conv = nn.Conv2d(1, 1, 3)
    d = NormDecay(conv)
    assert len(conv._forward_hooks) == 1
    d.remove()
    assert len(conv._forward_hooks) == 0
