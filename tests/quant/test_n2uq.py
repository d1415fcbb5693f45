"""N2UQ activation and weight quantizers against their definitions (quant spec 2.5, 2.6).

The references below are written from the formulas, independently of the kernels: explicit
loops over thresholds and knots, and central finite differences of the surrogate.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.quant import (
    n2uq_backward,
    n2uq_forward,
    n2uq_surrogate,
    n2uq_weight_backward,
    n2uq_weight_quant,
)

EPS = 1e-3


# --------------------------------------------------------------------------- references
def ref_knots(start, a, eps=EPS):
    ahat = np.array([ai if ai > eps else eps for ai in a], dtype=float)
    knots = [start]
    for i in range(len(ahat)):
        knots.append(start + ahat[: i + 1].sum())
    return np.array(knots), ahat


def ref_forward(x, start, a, scale1=1.0, scale2=1.0, eps=EPS):
    """Q = scale2 * step * #{i : scale1 x > T_i + ahat_i / 2}, by an explicit count."""
    knots, ahat = ref_knots(start, a, eps)
    step = 2.0 / len(ahat)
    z = scale1 * np.asarray(x, dtype=float)
    count = np.zeros(z.shape)
    for i in range(len(ahat)):
        count += z > knots[i] + ahat[i] / 2
    return scale2 * (count * step)


def ref_index_surrogate(x, start, a, scale1=1.0, eps=EPS):
    """u = F(z) / step, computed segment by segment (0 below T_0, L above T_L)."""
    knots, ahat = ref_knots(start, a, eps)
    n_steps = len(ahat)
    z = scale1 * np.asarray(x, dtype=float)
    u = np.where(z > knots[-1], float(n_steps), 0.0)
    for k in range(n_steps):
        inside = (z > knots[k]) & (z <= knots[k + 1])
        u = np.where(inside, k + (z - knots[k]) / ahat[k], u)
    return u


def dist_to_knots(x, start, a, scale1=1.0, eps=EPS):
    knots, _ = ref_knots(start, a, eps)
    return np.abs(scale1 * np.asarray(x)[:, None] - knots[None, :]).min(axis=1)


@st.composite
def n2uq_configs(draw, max_bits=4):
    n_bits = draw(st.integers(1, max_bits))
    n_steps = 2**n_bits - 1
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    start = float(rng.uniform(-1.0, 1.0))
    # Interval lengths well above eps, with some at or below it (floored), none near the kink.
    a = rng.uniform(0.05, 1.0, n_steps) * (4.0 / n_steps)
    floored = rng.random(n_steps) < 0.2
    a[floored] = rng.choice([-0.3, 0.0, 0.5 * EPS, 0.9 * EPS], floored.sum())
    scale1 = float(rng.uniform(0.5, 2.0))
    scale2 = float(rng.uniform(0.5, 2.0))
    x = rng.uniform(start - 1.0, start + a.clip(EPS).sum() + 1.0, 200) / scale1
    return n_bits, start, a, scale1, scale2, x, rng


# --------------------------------------------------------------------------- forward
@given(n2uq_configs(max_bits=6))
def test_forward_is_the_count_of_thresholds_below(cfg):
    n_bits, start, a, s1, s2, x, _ = cfg
    q = n2uq_forward(x, start, a, s1, s2, n_bits=n_bits)
    np.testing.assert_array_equal(q, ref_forward(x, start, a, s1, s2))


@given(n2uq_configs())
def test_forward_is_ceil_of_surrogate_and_round_off_ties(cfg):
    n_bits, start, a, s1, _, x, _ = cfg
    step = 2.0 / (2**n_bits - 1)
    q = n2uq_forward(x, start, a, s1, 1.0, n_bits=n_bits)
    u = ref_index_surrogate(x, start, a, s1)
    np.testing.assert_array_equal(q, np.ceil(u - 0.5) * step)
    off_tie = np.abs(u - np.floor(u) - 0.5) > 1e-9
    assert off_tie.sum() > 150
    np.testing.assert_array_equal(q[off_tie], np.round(u[off_tie]) * step)
    # The surrogate itself, and its scale2 = 1 value on the index grid.
    f = n2uq_surrogate(x, start, a, s1, 1.0, n_bits=n_bits)
    np.testing.assert_allclose(f, u * step, rtol=1e-13, atol=1e-13)


@given(n2uq_configs())
def test_outputs_lie_on_the_uniform_grid(cfg):
    n_bits, start, a, s1, s2, x, _ = cfg
    n_steps = 2**n_bits - 1
    step = 2.0 / n_steps
    q1 = n2uq_forward(x, start, a, s1, 1.0, n_bits=n_bits)
    idx = q1 / step
    np.testing.assert_allclose(idx, np.round(idx), atol=1e-12)
    assert idx.min() >= 0 and np.round(idx).max() <= n_steps
    np.testing.assert_array_equal(np.unique(q1), np.unique(np.round(idx)) * step)
    # scale2 multiplies the unscaled value.
    np.testing.assert_array_equal(n2uq_forward(x, start, a, s1, s2, n_bits=n_bits), q1 * s2)


def test_ties_round_down_unlike_numpy_round():
    # Dyadic knots: every threshold and every surrogate value below is exact in float64.
    start, a = 0.25, np.array([0.5, 0.25, 1.0])
    step = 2.0 / 3
    knots = np.array([0.25, 0.75, 1.0, 2.0])
    mids = knots[:-1] + a / 2                       # 0.5, 0.875, 1.5
    q = n2uq_forward(mids, start, a)
    np.testing.assert_array_equal(q, np.array([0.0, 1.0, 2.0]) * step)
    # np.round(F / step) would give 0, 2, 2 (half to even): the index-1 tie differs.
    u = ref_index_surrogate(mids, start, a)
    np.testing.assert_array_equal(u, [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(np.round(u), [0.0, 2.0, 2.0])
    # One ulp above a threshold rounds up.
    above = np.nextafter(mids, np.inf)
    np.testing.assert_array_equal(n2uq_forward(above, start, a), np.array([1.0, 2.0, 3.0]) * step)
    # Exactly on a knot: the surrogate's segment is the left one (T_k < z <= T_{k+1}).
    np.testing.assert_array_equal(n2uq_surrogate(knots, start, a) / step, [0.0, 1.0, 2.0, 3.0])


@pytest.mark.parametrize("n_bits", [1, 2, 3, 4, 8])
def test_equal_intervals_are_the_uniform_pact_quantizer(n_bits):
    n_steps = 2**n_bits - 1
    step = 2.0 / n_steps
    a = np.full(n_steps, step)
    x = np.linspace(-1.0, 3.0, 4001)
    u = x / step
    off_tie = np.abs(u - np.floor(u) - 0.5) > 1e-9
    q = n2uq_forward(x, 0.0, a, n_bits=n_bits)
    expected = np.clip(np.round(x / step) * step, 0.0, 2.0)
    np.testing.assert_allclose(q[off_tie], expected[off_tie], rtol=0, atol=1e-12)
    # Ordinary STE: slope 1 on (0, 2], 0 elsewhere (2 is the last knot up to rounding).
    grad = n2uq_backward(np.ones_like(x), x, 0.0, a, n_bits=n_bits)["x"]
    inside = (x > 0) & (x <= 2.0 - 1e-9)
    np.testing.assert_allclose(grad[inside], 1.0, rtol=1e-12)
    np.testing.assert_array_equal(grad[(x <= 0) | (x > 2.0)], 0.0)
    np.testing.assert_allclose(n2uq_surrogate(x, 0.0, a, n_bits=n_bits), np.clip(x, 0, 2),
                               rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- backward
def _loss(grad_out, x, start, a, s1, s2, n_bits):
    return float(np.dot(grad_out, n2uq_surrogate(x, start, a, s1, s2, n_bits=n_bits)))


@settings(max_examples=40)
@given(n2uq_configs())
def test_backward_equals_finite_differences_of_the_surrogate(cfg):
    n_bits, start, a, s1, s2, x, rng = cfg
    x = x[dist_to_knots(x, start, a, s1) > 1e-4]
    g = rng.normal(size=x.shape)
    grads = n2uq_backward(g, x, start, a, s1, s2, n_bits=n_bits)
    h = 1e-6

    fx = (n2uq_surrogate(x + h, start, a, s1, s2, n_bits=n_bits)
          - n2uq_surrogate(x - h, start, a, s1, s2, n_bits=n_bits)) / (2 * h)
    np.testing.assert_allclose(grads["x"], g * fx, rtol=1e-6, atol=1e-6)

    d_start = (_loss(g, x, start + h, a, s1, s2, n_bits)
               - _loss(g, x, start - h, a, s1, s2, n_bits)) / (2 * h)
    np.testing.assert_allclose(grads["start"], d_start, rtol=1e-6, atol=1e-5)

    d_s1 = (_loss(g, x, start, a, s1 + h, s2, n_bits)
            - _loss(g, x, start, a, s1 - h, s2, n_bits)) / (2 * h)
    np.testing.assert_allclose(grads["scale1"], d_s1, rtol=1e-6, atol=1e-5)

    for i in range(len(a)):
        e = np.zeros_like(a)
        e[i] = h
        d_a = (_loss(g, x, start, a + e, s1, s2, n_bits)
               - _loss(g, x, start, a - e, s1, s2, n_bits)) / (2 * h)
        np.testing.assert_allclose(grads["a"][i], d_a, rtol=1e-6, atol=1e-5)
        if a[i] <= EPS:
            assert grads["a"][i] == 0.0

    # scale2: the gradient is the unscaled forward value (the forward is linear in scale2).
    q0 = n2uq_forward(x, start, a, s1, 1.0, n_bits=n_bits)
    np.testing.assert_allclose(grads["scale2"], np.dot(g, q0), rtol=1e-12, atol=1e-12)
    d_s2 = (np.dot(g, n2uq_forward(x, start, a, s1, s2 + h, n_bits=n_bits))
            - np.dot(g, n2uq_forward(x, start, a, s1, s2 - h, n_bits=n_bits))) / (2 * h)
    np.testing.assert_allclose(grads["scale2"], d_s2, rtol=1e-6, atol=1e-5)


@given(n2uq_configs(max_bits=6))
def test_backward_matches_closed_form_per_segment(cfg):
    # The closed forms of spec 2.5 written out sample by sample (binary-search path included).
    n_bits, start, a, s1, s2, x, rng = cfg
    knots, ahat = ref_knots(start, a)
    step = 2.0 / len(ahat)
    g = rng.normal(size=x.shape)
    z = s1 * x
    gx = np.zeros_like(x)
    ga = np.zeros_like(a)
    gstart = gs1 = 0.0
    for n in range(len(x)):
        k = np.flatnonzero((z[n] > knots[:-1]) & (z[n] <= knots[1:]))
        if k.size == 0:
            continue
        k = int(k[0])
        gx[n] = g[n] * s2 * s1 * step / ahat[k]
        gstart -= g[n] * s2 * step / ahat[k]
        gs1 += g[n] * s2 * x[n] * step / ahat[k]
        ga[k] -= g[n] * s2 * step * (z[n] - knots[k]) / ahat[k] ** 2
        ga[:k] -= g[n] * s2 * step / ahat[k]
    ga[a <= EPS] = 0.0
    grads = n2uq_backward(g, x, start, a, s1, s2, n_bits=n_bits)
    np.testing.assert_allclose(grads["x"], gx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["a"], ga, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(grads["start"], gstart, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(grads["scale1"], gs1, rtol=1e-9, atol=1e-9)


def test_eps_floor_sets_spacing_and_kills_gradient():
    step = 2.0 / 3
    start, a = 0.0, np.array([0.5, -0.2, 0.5])   # a_1 is floored to eps
    # Knots 0, 0.5, 0.5 + eps, 1 + eps: the second interval has length eps.
    f = n2uq_surrogate([0.5, 0.5 + EPS / 2, 0.5 + EPS], start, a) / step
    np.testing.assert_allclose(f, [1.0, 1.5, 2.0], rtol=0, atol=1e-9)
    # Its threshold sits eps/2 after the knot.
    q = n2uq_forward([0.5 + 0.4 * EPS, 0.5 + 0.6 * EPS], start, a) / step
    np.testing.assert_array_equal(q, [1.0, 2.0])
    x = np.array([0.25, 0.5 + EPS / 4, 0.8])
    grads = n2uq_backward(np.ones(3), x, start, a)
    assert grads["a"][1] == 0.0
    assert grads["a"][0] != 0.0 and grads["a"][2] != 0.0
    np.testing.assert_allclose(grads["x"], [step / 0.5, step / EPS, step / 0.5])
    # a exactly eps is floored too (the floor keeps a_i only when a_i > eps).
    assert n2uq_backward(np.ones(3), x, start, [0.5, EPS, 0.5])["a"][1] == 0.0
    # grad_clip bounds the input slope only.
    clipped = n2uq_backward(np.ones(3), x, start, a, grad_clip=10.0)
    np.testing.assert_allclose(clipped["x"], [step / 0.5, 10.0, step / 0.5])
    np.testing.assert_array_equal(clipped["a"], grads["a"])


def test_shapes_are_preserved():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    a = np.full(3, 2 / 3)
    assert n2uq_forward(x, 0.0, a).shape == (2, 3, 4)
    assert n2uq_forward(x, 0.0, a).dtype == np.float64
    grads = n2uq_backward(np.ones_like(x), x, 0.0, a)
    assert grads["x"].shape == (2, 3, 4) and grads["a"].shape == (3,)
    assert n2uq_forward(np.empty(0), 0.0, a).shape == (0,)
    assert n2uq_forward(0.9, 0.0, a).shape == ()
    np.testing.assert_array_equal(n2uq_forward([0, 1, 2], 0.0, a),
                                  n2uq_forward([0.0, 1.0, 2.0], 0.0, a))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(x=[np.nan]), ValueError),
        (dict(x=[np.inf]), ValueError),
        (dict(x=np.array([1j])), TypeError),
        (dict(x=np.array(["a"], dtype=object)), TypeError),
        (dict(a=[0.5, 0.5]), ValueError),
        (dict(a=[[0.5, 0.5, 0.5]]), ValueError),
        (dict(a=[0.5, np.nan, 0.5]), ValueError),
        (dict(scale1=-1.0), ValueError),
        (dict(scale2=-0.5), ValueError),
        (dict(eps=0.0), ValueError),
        (dict(n_bits=0, a=[]), ValueError),
        (dict(n_bits=17), ValueError),
        (dict(n_bits=2.0), TypeError),  # a non-integer is a type error (one vocabulary)
        (dict(start=np.nan), ValueError),
    ],
)
def test_bad_inputs(kwargs, error):
    args = dict(x=[0.5], start=0.0, a=[0.5, 0.5, 0.5], scale1=1.0, scale2=1.0, n_bits=2, eps=EPS)
    args.update(kwargs)
    with pytest.raises(error):
        n2uq_forward(**args)
    with pytest.raises(error):
        n2uq_backward(np.ones(np.shape(args["x"])), **args)


def test_backward_rejects_mismatched_grad_and_bad_clip():
    with pytest.raises(ValueError, match="shape"):
        n2uq_backward(np.ones(3), np.ones(2), 0.0, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError):
        n2uq_backward(np.ones(2), np.ones(2), 0.0, [0.5, 0.5, 0.5], grad_clip=0.0)


# --------------------------------------------------------------------------- weights
@pytest.mark.parametrize("n_bits", [1, 2, 3, 4])
def test_weight_levels_symmetric_no_zero_equal_probability(n_bits):
    rng = np.random.default_rng(n_bits)
    n_levels = 2**n_bits
    half_width = np.array([0.5, 1.0, 3.0])[:, None]
    W = rng.uniform(-1.0, 1.0, size=(3, 100_000)) * half_width
    W_q, s = n2uq_weight_quant(W, n_bits)
    gamma = (n_levels - 1) / 2 ** (n_bits - 1)
    np.testing.assert_allclose(s, gamma * np.abs(W).mean(axis=1), rtol=1e-12)
    expected_levels = -1.0 + 2.0 * np.arange(n_levels) / (n_levels - 1)
    for c in range(3):
        q = W_q[c] / s[c]
        levels, counts = np.unique(np.round(q, 9), return_counts=True)
        np.testing.assert_allclose(levels, expected_levels, atol=1e-9)
        assert not np.any(np.isclose(levels, 0.0))
        np.testing.assert_allclose(levels, -levels[::-1], atol=1e-12)
        np.testing.assert_allclose(counts / W.shape[1], 1.0 / n_levels, atol=0.01)


@given(st.integers(1, 5), st.integers(0, 2**31 - 1), st.integers(0, 3))
def test_weight_quant_is_nearest_level_of_the_clipped_normalised_weight(n_bits, seed, axis):
    rng = np.random.default_rng(seed)
    W = rng.standard_t(3, size=(4, 3, 2, 5))
    W_q, s = n2uq_weight_quant(W, n_bits, axis=axis)
    n_levels = 2**n_bits
    levels = -1.0 + 2.0 * np.arange(n_levels) / (n_levels - 1)
    moved = np.moveaxis(W, axis, 0).reshape(W.shape[axis], -1)
    scale = (n_levels - 1) / 2 ** (n_bits - 1) * np.abs(moved).mean(axis=1)
    np.testing.assert_allclose(s, scale, rtol=1e-12)
    w_t = np.clip(moved / scale[:, None], -1, 1)
    dist = np.abs(w_t[..., None] - levels)
    nearest = levels[dist.argmin(axis=-1)]
    gap = np.sort(dist, axis=-1)
    off_tie = gap[..., 1] - gap[..., 0] > 1e-9 if n_levels > 1 else np.ones_like(w_t, bool)
    got = np.moveaxis(W_q, axis, 0).reshape(W.shape[axis], -1) / scale[:, None]
    np.testing.assert_allclose(got[off_tie], nearest[off_tie], atol=1e-12)


def test_weight_gradient_is_identity_ste_through_normalised_weight():
    rng = np.random.default_rng(3)
    W = rng.normal(size=(3, 4, 3, 3))
    W[1] *= 5.0                                     # some weights far beyond +-s_c
    g = rng.normal(size=W.shape)
    _, s = n2uq_weight_quant(W, 2)
    grad = n2uq_weight_backward(g, W, 2)
    # Finite differences of the surrogate W / s_c with s_c held fixed (detached).
    h = 1e-6
    surrogate = lambda V: V / s[:, None, None, None]  # noqa: E731
    fd = (surrogate(W + h) - surrogate(W - h)) / (2 * h)
    np.testing.assert_allclose(grad, g * fd, rtol=1e-8)
    np.testing.assert_allclose(grad, g / s[:, None, None, None], rtol=1e-14)


def test_weight_zero_channel_and_bad_inputs():
    W = np.array([[0.0, 0.0], [1.0, -1.0]])
    W_q, s = n2uq_weight_quant(W, 2)
    np.testing.assert_array_equal(s, [0.0, 1.5])
    np.testing.assert_array_equal(W_q[0], 0.0)
    np.testing.assert_array_equal(n2uq_weight_backward(np.ones_like(W), W, 2)[0], 0.0)
    with pytest.raises(ValueError):
        n2uq_weight_quant(np.float64(1.0), 2)
    with pytest.raises(ValueError):
        n2uq_weight_quant(np.empty((0, 3)), 2)
    with pytest.raises(ValueError):
        n2uq_weight_quant([[np.nan]], 2)
    with pytest.raises(ValueError):
        n2uq_weight_quant(W, 2, axis=2)
    with pytest.raises(TypeError):
        n2uq_weight_quant(W, 2, axis=0.5)
    with pytest.raises(ValueError):
        n2uq_weight_quant(W, 0)
    with pytest.raises(TypeError):
        n2uq_weight_quant(W.astype(complex), 2)
    with pytest.raises(ValueError, match="shape"):
        n2uq_weight_backward(np.ones(2), W, 2)
