"""ReActNet-A layers: Bi-Real sign surrogate, RSign, RPReLU, binary convolution (spec 5.1-5.3)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from normgraph.nn.bnn import (
    BinaryConv2d,
    BiRealSignFunction,
    RPReLU,
    RSign,
    binary_weight,
    bireal_sign,
    bireal_sign_reference,
    bireal_surrogate,
)

D = torch.float64


def surrogate_loop(x):
    """Loop transcription of the Bi-Real F and F' (spec 2.5)."""
    f, df = [], []
    for v in x:
        if v < -1:
            f.append(-1.0), df.append(0.0)
        elif v < 0:
            f.append(v * v + 2 * v), df.append(2 + 2 * v)
        elif v < 1:
            f.append(-v * v + 2 * v), df.append(2 - 2 * v)
        else:
            f.append(1.0), df.append(0.0)
    return np.array(f), np.array(df)


def away_from(x, points, margin=1e-4):
    keep = np.min(np.abs(x[:, None] - np.asarray(points)[None, :]), axis=1) >= margin
    return x[keep]


def test_bireal_surrogate_matches_loop_and_gradcheck():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-2.5, 2.5, 200), [-1.0, 0.0, 1.0, -3.0, 3.0]])
    f_ref, _ = surrogate_loop(x)
    f = bireal_surrogate(torch.tensor(x, dtype=D))
    np.testing.assert_allclose(f.numpy(), f_ref, rtol=0, atol=1e-15)
    xt = torch.tensor(away_from(rng.uniform(-2, 2, 60), [-1.0, 0.0, 1.0]), dtype=D,
                      requires_grad=True)
    assert torch.autograd.gradcheck(bireal_surrogate, (xt,), eps=1e-6, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(1, 40), elements=st.floats(-3, 3)),
       st.integers(0, 2**31 - 1))
def test_sign_function_backward_equals_detach_form_and_loop(x, seed):
    x = away_from(x, [-1.0, 0.0, 1.0])
    if x.size == 0:
        return
    g = torch.tensor(np.random.default_rng(seed).standard_normal(x.shape), dtype=D)
    a = torch.tensor(x, dtype=D, requires_grad=True)
    b = torch.tensor(x, dtype=D, requires_grad=True)
    ya, yb = BiRealSignFunction.apply(a), bireal_sign_reference(b)
    assert torch.equal(ya, torch.sign(a.detach()))
    np.testing.assert_allclose(yb.detach().numpy(), ya.detach().numpy(), rtol=0, atol=1e-15)
    (ya * g).sum().backward()
    (yb * g).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), g.numpy() * surrogate_loop(x)[1], rtol=0,
                               atol=1e-12)


def test_sign_keeps_zero_and_nan():
    y = bireal_sign(torch.tensor([0.0, float("nan"), -0.0, 2.0]))
    assert y[0] == 0 and torch.isnan(y[1]) and y[2] == 0 and y[3] == 1


def test_rsign_shifts_threshold_and_gradient_reaches_beta():
    m = RSign(2).double()
    with torch.no_grad():
        m.bias.bias.copy_(torch.tensor([0.5, -0.5], dtype=D))
    x = torch.tensor([[[[-0.25]], [[0.25]]]], dtype=D)
    y = m(x)
    assert y.flatten().tolist() == [1.0, -1.0]  # -0.25 + 0.5 > 0, 0.25 - 0.5 < 0
    y.sum().backward()
    # dF/dz at z = 0.25 and z = -0.25: 2 - 2 * 0.25 = 1.5 for both
    assert m.bias.bias.grad.tolist() == [1.5, 1.5]


def test_rprelu_is_shifted_prelu():
    m = RPReLU(3).double()
    gamma = torch.tensor([0.1, -0.2, 0.3], dtype=D)
    slope = torch.tensor([0.25, 0.5, 0.1], dtype=D)
    zeta = torch.tensor([1.0, 0.0, -1.0], dtype=D)
    with torch.no_grad():
        m.shift_in.bias.copy_(-gamma)
        m.prelu.weight.copy_(slope)
        m.shift_out.bias.copy_(zeta)
    x = torch.randn(2, 3, 4, 4, dtype=D, generator=torch.Generator().manual_seed(0))
    z = x - gamma.view(1, 3, 1, 1)
    ref = torch.where(z >= 0, z, slope.view(1, 3, 1, 1) * z) + zeta.view(1, 3, 1, 1)
    torch.testing.assert_close(m(x), ref, rtol=0, atol=1e-15)
    fresh = RPReLU(4)
    assert torch.all(fresh.prelu.weight == 0.25) and fresh.shift_in.bias.abs().sum() == 0


def test_binary_weight_scale_matches_explicit_mean():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 3, 3, 3))
    wb = binary_weight(torch.tensor(w, dtype=D)).numpy()
    for c in range(5):
        alpha = np.mean([abs(v) for v in w[c].ravel()])
        np.testing.assert_allclose(wb[c], alpha * np.sign(w[c]), rtol=1e-14, atol=0)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)),
              elements=st.one_of(st.just(0.0), st.floats(1e-3, 4), st.floats(-4, -1e-3))),
       st.sampled_from([1e-300, 1e-100, 1.0, 1e100, 1e300]))
def test_binary_weight_levels_and_extreme_scales(w, scale):
    wb = binary_weight(torch.tensor(w * scale, dtype=D)).numpy()
    assert np.all(np.isfinite(wb))
    for c in range(w.shape[0]):
        alpha = np.mean(np.abs(w[c])) * scale
        np.testing.assert_allclose(wb[c], alpha * np.sign(w[c]), rtol=1e-12, atol=0)


def test_binary_weight_gradient_is_upstream_masked_by_clamp():
    rng = np.random.default_rng(2)
    w = torch.tensor(rng.uniform(-2, 2, (4, 2, 3, 3)), dtype=D, requires_grad=True)
    g = torch.tensor(rng.standard_normal((4, 2, 3, 3)), dtype=D)
    (binary_weight(w) * g).sum().backward()
    mask = (w.detach().abs() <= 1).to(D)
    assert 0 < mask.sum() < mask.numel()
    assert torch.equal(w.grad, g * mask)


def test_binary_conv_forward_and_gradient_against_explicit_conv():
    gen = torch.Generator().manual_seed(3)
    conv = BinaryConv2d(2, 3, 3, stride=1, padding=1, init="kaiming").double()
    with torch.no_grad():
        conv.weight.mul_(4.0)  # some weights beyond the clamp range
    x = torch.randn(2, 2, 5, 5, dtype=D, generator=gen)
    w = conv.weight.detach()
    alpha = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    wb = (alpha * torch.sign(w)).requires_grad_(True)
    ref = F.conv2d(x, wb, padding=1)
    out = conv(x)
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-13)
    g = torch.randn(out.shape, dtype=D, generator=gen)
    (out * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(conv.weight.grad, wb.grad * (w.abs() <= 1), rtol=0, atol=1e-13)


def test_binary_conv_real_weights_in_step_one():
    conv = BinaryConv2d(2, 3, 3, padding=1, binary_weights=False).double()
    x = torch.randn(1, 2, 4, 4, dtype=D)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, padding=1), rtol=0, atol=0)


def test_binary_conv_default_init_is_small_positive():
    w = BinaryConv2d(8, 8, 3).weight
    assert torch.all(w >= 0) and torch.all(w <= 1e-3) and w.std() > 0
    assert BinaryConv2d(8, 8, 3, init="kaiming").weight.min() < 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_binary_conv_cuda_matches_cpu():
    conv = BinaryConv2d(2, 3, 3, padding=1, init="kaiming")
    x = torch.randn(1, 2, 6, 6)
    y_cpu = conv(x)
    y_gpu = conv.cuda()(x.cuda())
    assert y_gpu.device.type == "cuda"
    torch.testing.assert_close(y_gpu.cpu(), y_cpu, rtol=1e-5, atol=1e-5)
