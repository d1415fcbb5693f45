"""N2UQ weights against normgraph.quant; LSQ, PACT and DoReFa against hand-computed values."""

import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from normgraph.nn.quant import (
    DoReFaWeight,
    LSQAct,
    LSQWeight,
    N2UQWeight,
    PACTAct,
    dorefa_weight,
    lsq_quantize,
    n2uq_weight,
    pact_quantize,
)
from normgraph.quant import n2uq_weight_backward, n2uq_weight_quant

D = torch.float64


@pytest.mark.parametrize("n_bits", [1, 2, 3, 4])
@pytest.mark.parametrize("shape", [(4, 3, 3, 3), (5, 7), (3,)])
def test_n2uq_weight_matches_numpy_reference(n_bits, shape):
    rng = np.random.default_rng(n_bits)
    W = rng.standard_normal(shape)
    W[0] = 0.0                                         # a dead channel: zeros, no gradient
    g = rng.standard_normal(shape)
    w = torch.tensor(W, requires_grad=True)
    out = n2uq_weight(w, n_bits)
    out.backward(torch.tensor(g))
    ref_q, _ = n2uq_weight_quant(W, n_bits)
    assert_allclose(out.detach().numpy(), ref_q, rtol=1e-12, atol=1e-15)
    assert_allclose(w.grad.numpy(), n2uq_weight_backward(g, W, n_bits), rtol=1e-12)


def test_n2uq_weight_levels_are_symmetric_without_zero():
    w = torch.rand(2, 4000, generator=torch.Generator().manual_seed(0)) * 2 - 1
    q = N2UQWeight(2)(w)
    s = 1.5 * w.abs().mean(1, keepdim=True)
    levels = torch.unique(torch.round(q / s * 3)).tolist()
    assert levels == [-3.0, -1.0, 1.0, 3.0]


def test_lsq_hand_values_and_gradients():
    # unsigned 2 bits, s = 0.5: Q_N = 0, Q_P = 3, clip range [0, 1.5]
    v = torch.tensor([-0.4, 0.2, 0.7, 1.2, 2.0], dtype=D, requires_grad=True)
    s = torch.tensor(0.5, dtype=D, requires_grad=True)
    out = lsq_quantize(v, s, n_bits=2, signed=False, grad_scale=0.25)
    assert out.tolist() == [0.0, 0.0, 0.5, 1.0, 1.5]
    out.sum().backward()
    assert v.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    # ds: below -> -Q_N = 0; inside round(v/s) - v/s; above Q_P = 3; times g = 0.25
    inside = [round(0.4) - 0.4, round(1.4) - 1.4, round(2.4) - 2.4]
    assert float(s.grad) == pytest.approx(0.25 * (0.0 + sum(inside) + 3.0), abs=1e-12)


def test_lsq_signed_hand_values():
    v = torch.tensor([-3.0, -0.6, 0.2, 0.6, 3.0], dtype=D)
    out = lsq_quantize(v, 0.5, n_bits=2, signed=True)     # range [-2, 1] steps
    assert out.tolist() == [-1.0, -0.5, 0.0, 0.5, 0.5]


def test_lsq_step_gradient_is_the_derivative_of_its_surrogate():
    # S(s) = s * (r + clip(v/s) - c) with r, c frozen at s0: S'(s0) is the LSQ step gradient
    rng = np.random.default_rng(0)
    v = torch.tensor(rng.uniform(-1, 4, 50), dtype=D)
    s0 = 0.7
    frac = (v / s0) - torch.floor(v / s0)
    v = v[(frac - 0.5).abs() > 1e-3]                     # away from rounding ties
    c0 = torch.clamp(v / s0, 0, 3)
    r0 = torch.round(c0)

    def surrogate(s):
        return (s * (r0 + torch.clamp(v / s, 0, 3) - c0)).sum()

    h = 1e-6
    numeric = (surrogate(torch.tensor(s0 + h, dtype=D)) -
               surrogate(torch.tensor(s0 - h, dtype=D))) / (2 * h)
    s = torch.tensor(s0, dtype=D, requires_grad=True)
    lsq_quantize(v, s, 2).sum().backward()
    assert float(s.grad) == pytest.approx(float(numeric), abs=1e-6)
    assert torch.autograd.gradcheck(surrogate, (torch.tensor(s0, dtype=D, requires_grad=True),),
                                    eps=1e-6, atol=1e-6)


def test_lsq_init_and_gradient_scale():
    x = torch.tensor([[0.0, 0.5, 1.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0, 1.0]], dtype=D)
    q = LSQAct(2).double()
    q(x).sum().backward()
    assert q.step.item() == pytest.approx(2 * float(x.abs().mean()) / math.sqrt(3))
    s = q.step.detach().clone().requires_grad_()
    lsq_quantize(x, s, 2, grad_scale=1 / math.sqrt(5 * 3)).sum().backward()
    assert float(q.step.grad) == pytest.approx(float(s.grad), abs=1e-14)
    w = LSQWeight(3).double()
    W = torch.randn(4, 2, 3, 3, dtype=D)
    w(W)
    assert w.step.item() == pytest.approx(2 * float(W.abs().mean()) / math.sqrt(3))


def test_pact_hand_values_and_gradients():
    x = torch.tensor([-1.0, 0.0, 0.4, 1.1, 2.0, 3.5], dtype=D, requires_grad=True)
    alpha = torch.tensor(2.0, dtype=D, requires_grad=True)
    y = pact_quantize(x, alpha, n_bits=2)                   # levels 0, 2/3, 4/3, 2
    assert_allclose(y.detach().numpy(), [0, 0, 2 / 3, 4 / 3, 2, 2], atol=1e-15)
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]   # 1 on [0, alpha)
    assert float(alpha.grad) == 2.0                            # x >= alpha: 2.0 and 3.5


def test_pact_gradcheck_on_alpha():
    x = torch.tensor([-0.5, 0.3, 0.9, 1.7, 2.6, 4.0], dtype=D)

    def clipped(alpha):
        return torch.where(x < alpha, x.clamp(min=0), alpha)   # PACT's surrogate clip

    alpha = torch.tensor(2.0, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(clipped, (alpha,), eps=1e-6, atol=1e-6)
    grad_sur = torch.autograd.grad(clipped(alpha).sum(), alpha)[0]
    a2 = alpha.detach().clone().requires_grad_()
    grad_q = torch.autograd.grad(pact_quantize(x, a2, 2).sum(), a2)[0]
    assert float(grad_sur) == float(grad_q) == 2.0


def test_pact_module_penalty_and_init():
    q = PACTAct(3, alpha_init=10.0, alpha_decay=1e-4)
    assert q.alpha.item() == 10.0
    assert float(q.penalty()) == pytest.approx(1e-2)
    q.penalty().backward()
    assert float(q.alpha.grad) == pytest.approx(2e-3)


def test_dorefa_hand_values():
    w = torch.tensor([-2.0, -0.5, 0.0, 0.3, 2.0], dtype=D, requires_grad=True)
    t = np.tanh(w.detach().numpy())
    r = t / (2 * np.abs(t).max()) + 0.5
    expected = 2 * np.round(3 * r) / 3 - 1
    out = dorefa_weight(w, 2)
    assert_allclose(out.detach().numpy(), expected, atol=1e-15)
    assert_allclose(expected, [-1, -1 / 3, 1 / 3, 1 / 3, 1])    # round(1.5) = 2 (half even)
    out.sum().backward()
    assert torch.all(torch.isfinite(w.grad))
    assert len(torch.unique(DoReFaWeight(2)(torch.randn(100)))) <= 4
