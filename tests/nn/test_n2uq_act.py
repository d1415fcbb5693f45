"""N2UQ activation quantizer: the Function's backward against two independent oracles."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from normgraph.nn.quant import (
    N2UQAct,
    N2UQActFunction,
    n2uq_act,
    n2uq_act_reference,
    n2uq_act_surrogate,
    pact_quantize,
)
from normgraph.quant import (
    N2UQuantizer,
    n2uq_backward,
    n2uq_forward,
    n2uq_surrogate,
    optimal_kmeans_1d,
)


D = torch.float64
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _leaves(x, start, a, scale1, scale2, dtype=D):
    return [torch.tensor(v, dtype=dtype, requires_grad=True) for v in (x, start, a, scale1,
                                                                       scale2)]


def _grads(fn, x, g, start, a, scale1, scale2, n_bits, **kw):
    leaves = _leaves(x, start, a, scale1, scale2)
    out = fn(*leaves, n_bits=n_bits, **kw)
    out.backward(torch.tensor(g, dtype=D))
    return out.detach().numpy(), [t.grad.numpy() for t in leaves]


def _close(actual, expected, tol=1e-12):
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


@given(seed=st.integers(0, 2**32 - 1), n_bits=st.integers(1, 4), inactive=st.booleans())
def test_backward_equals_detach_form_and_numpy(config, seed, n_bits, inactive):
    x, g, start, a, s1, s2 = config(seed, n_bits, inactive=inactive)
    q_fn, grads_fn = _grads(n2uq_act, x, g, start, a, s1, s2, n_bits)
    q_ref, grads_ref = _grads(n2uq_act_reference, x, g, start, a, s1, s2, n_bits)
    numpy_grads = n2uq_backward(g, x, start, a, s1, s2, n_bits)
    _close(q_fn, n2uq_forward(x, start, a, s1, s2, n_bits))
    _close(q_fn, q_ref)
    for got, ref, name in zip(grads_fn, grads_ref, ("x", "start", "a", "scale1", "scale2")):
        _close(got, ref)                      # (a) autograd of Q.detach() + F - F.detach()
        _close(got, numpy_grads[name])        # (b) normgraph.quant.n2uq_backward


def test_inactive_interval_gets_no_gradient(config):
    x, g, start, a, s1, s2 = config(3, 2)
    a[1] = 1e-4                                # below eps: floored, flat
    _, grads = _grads(n2uq_act, x, g, start, a, s1, s2, 2)
    assert grads[2][1] == 0.0 and np.all(grads[2][[0, 2]] != 0.0)


@pytest.mark.parametrize("clip", [0.5, 3.0])
def test_grad_clip_matches_numpy(config, clip):
    x, g, start, a, s1, s2 = config(7, 3)
    _, grads = _grads(n2uq_act, x, g, start, a, s1, s2, 3, grad_clip=clip)
    ref = n2uq_backward(g, x, start, a, s1, s2, 3, grad_clip=clip)
    _close(grads[0], ref["x"])
    _close(grads[2], ref["a"])
    assert np.max(np.abs(grads[0] / np.where(g == 0, 1, g))) <= clip + 1e-12


@pytest.mark.parametrize("n_bits", [1, 2, 3])
def test_gradcheck_on_surrogate(config, n_bits):
    x, _, start, a, s1, s2 = config(11 + n_bits, n_bits, n=25, margin=1e-3)
    leaves = _leaves(x, start, a, s1, s2)

    def f(x, start, a, scale1, scale2):
        return n2uq_act_surrogate(x, start, a, scale1, scale2, n_bits)

    assert torch.autograd.gradcheck(f, leaves, eps=1e-6, atol=1e-6)
    _close(f(*leaves).detach().numpy(), n2uq_surrogate(x, start, a, s1, s2, n_bits))


@given(seed=st.integers(0, 2**32 - 1), n_bits=st.integers(1, 4))
def test_outputs_on_the_uniform_grid(config, seed, n_bits):
    x, _, start, a, s1, s2 = config(seed, n_bits)
    q = n2uq_act(torch.tensor(x), start, a, s1, s2, n_bits).numpy()
    steps = q / (s2 * 2 / (2**n_bits - 1))
    assert_allclose(steps, np.round(steps), atol=1e-9)
    assert steps.min() >= -1e-12 and steps.max() <= 2**n_bits - 1 + 1e-9


@pytest.mark.parametrize("n_bits", [1, 2, 3, 4])
def test_equal_intervals_equal_pact_at_alpha_two(n_bits):
    L = 2**n_bits - 1
    x = torch.linspace(-1, 3, 4001, dtype=D)
    ties = torch.stack([torch.isclose(x, torch.tensor((i + 0.5) * 2 / L, dtype=D), atol=1e-9)
                        for i in range(L)]).any(0)
    x = x[~ties]
    q = n2uq_act(x, 0.0, [2 / L] * L, n_bits=n_bits)
    torch.testing.assert_close(q, pact_quantize(x, 2.0, n_bits), rtol=0, atol=1e-12)


def test_ties_round_down():
    x = [0.25, 0.75, 1.25, 1.2500000001]      # thresholds exactly 0.25, 0.75, 1.25
    q = n2uq_act(torch.tensor(x, dtype=D), 0.0, [0.5] * 3)
    assert (q * 1.5).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert q.tolist() == n2uq_forward(x, 0.0, [0.5] * 3).tolist()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_module_dtype_follows_input_and_matches_numpy(config, dtype):
    x, g, start, a, s1, s2 = config(5, 2)
    m = N2UQAct(2).to(dtype)
    with torch.no_grad():
        m.start.fill_(start), m.a.copy_(torch.tensor(a)), m.scale1.fill_(s1), m.scale2.fill_(s2)
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    y = m(xt)
    assert y.dtype == dtype
    y.backward(torch.tensor(g, dtype=dtype))
    params = (m.start.item(), m.a.detach().double().numpy(), m.scale1.item(), m.scale2.item())
    ref = n2uq_backward(g, x, *params[:2], params[2], params[3], 2)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert_allclose(y.detach().double().numpy(), n2uq_forward(x, *params, 2), rtol=tol,
                    atol=tol)
    assert_allclose(xt.grad.double().numpy(), ref["x"], rtol=tol, atol=tol)
    assert_allclose(m.a.grad.double().numpy(), ref["a"], rtol=1e-4 if tol > 1e-9 else tol,
                    atol=tol * 100)


def test_init_from_uniform_and_quantile_call_the_library():
    x = torch.rand(5000, generator=torch.Generator().manual_seed(0), dtype=D) ** 2
    for method in ("uniform", "quantile"):
        m = N2UQAct(2).init_from(x, method=method)
        ref = N2UQuantizer(n_bits=2, init=method).fit(x.numpy()[:, None])
        assert_allclose(m.a.detach().double().numpy(), ref.a_[0], rtol=1e-6)
        assert_allclose(m.start.item(), ref.start_[0], atol=1e-7)
    m = N2UQAct(2).init_from(x, method="uniform")
    assert np.ptp(m.a.detach().numpy()) < 1e-6            # equal intervals


def test_init_from_optimal_gives_the_kmeans_thresholds():
    x = torch.randn(3000, generator=torch.Generator().manual_seed(1), dtype=D).abs()
    m = N2UQAct(3).init_from(x, method="optimal")
    levels, thresholds, _ = optimal_kmeans_1d(x.numpy(), 8)
    assert_allclose(m.knots(), levels, rtol=1e-6)
    # decision thresholds T_i + a_i / 2 are the optimal k-means thresholds
    assert_allclose(m.knots()[:-1] + np.diff(m.knots()) / 2, thresholds, rtol=1e-6)
    codes = m.integer_codes(x.float()).numpy()
    labels = np.searchsorted(thresholds, x.numpy(), side="left")
    assert np.mean(codes == labels) > 0.999


def test_init_from_subsamples_large_batches():
    x = torch.rand(10_000, generator=torch.Generator().manual_seed(2))
    m = N2UQAct(2).init_from(x, method="quantile", max_samples=500, random_state=3)
    assert 0 <= m.start.item() < 0.05 and float(m.knots()[-1]) == pytest.approx(0.99, abs=0.05)


def test_function_direct_apply_matches_functional(config):
    x, g, start, a, s1, s2 = config(9, 2)
    leaves = _leaves(x, start, a, s1, s2)
    y = N2UQActFunction.apply(*leaves, 2, 1e-3, None)
    _close(y.detach().numpy(), n2uq_forward(x, start, a, s1, s2, 2))


@CUDA
def test_cuda_matches_cpu(config):
    x, g, start, a, s1, s2 = config(13, 2)
    cpu = _grads(n2uq_act, x, g, start, a, s1, s2, 2)
    leaves = [t.detach().cuda().requires_grad_() for t in _leaves(x, start, a, s1, s2)]
    y = n2uq_act(*leaves, n_bits=2)
    y.backward(torch.tensor(g, dtype=D, device="cuda"))
    _close(y.detach().cpu().numpy(), cpu[0], 1e-10)
    for got, ref in zip(leaves, cpu[1]):
        _close(got.grad.cpu().numpy(), ref, 1e-10)


def test_module_repr_and_grad_clip():
    m = N2UQAct(3, eps=1e-2, grad_clip=2.0).double()
    assert repr(m) == "N2UQAct(n_bits=3, eps=0.01, grad_clip=2.0)"
    with torch.no_grad():
        m.a.copy_(torch.tensor([0.01, 0.2, 0.3, 0.05, 0.4, 0.3, 0.2]))
    x = torch.linspace(-0.5, 2.0, 1001, dtype=D, requires_grad=True)
    m(x).sum().backward()
    assert x.grad.max().item() == 2.0                      # slope 0.286 / 0.01 clipped to 2
