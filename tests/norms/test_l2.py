"""Spectral norms of conv layers: every bound is checked against the dense operator's sigma_1.

The dense reference here is independent of the code under test: the operator matrix is
obtained by applying torch's own conv / conv_transpose (with ``F.pad`` for the non-zero
padding modes) to the identity basis. It is cross-checked once against
``normgraph.norms.testing.conv_matrix``.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.norms._l2 import (
    _ConvOperator,
    _forward_view,
    conv_l2,
    conv_singular_values,
    gram_bound,
    power_iteration,
    spatial_gram_bound,
)
from normgraph.norms._validation import normalize_conv_args
from normgraph.norms.testing import conv_matrix

_TORCH_PAD = {"zeros": "constant", "circular": "circular", "reflect": "reflect",
              "replicate": "replicate"}


def torch_dense(w, n, stride, pads, dilation, groups, mode, transposed=False, output_padding=0):
    """Operator matrix (rows = flattened outputs) from torch's conv applied to a basis."""
    D = w.ndim - 2
    c_in = w.shape[0] if transposed else w.shape[1] * groups
    size = c_in * int(np.prod(n))
    X = torch.eye(size, dtype=torch.float64).reshape((size, c_in) + tuple(n))
    W = torch.as_tensor(w, dtype=torch.float64)
    if transposed:
        convt = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[D - 1]
        Y = convt(X, W, stride=stride, padding=tuple(p[0] for p in pads),
                  output_padding=output_padding, groups=groups, dilation=dilation)
    else:
        flat = []
        for pl, pr in reversed(pads):
            flat += [pl, pr]
        Xp = F.pad(X, flat, mode=_TORCH_PAD[mode])
        Y = (F.conv1d, F.conv2d, F.conv3d)[D - 1](Xp, W, stride=stride, dilation=dilation,
                                                    groups=groups)
    return Y.reshape(size, -1).T.numpy()


def sigma_1(T):
    return float(np.linalg.svd(T, compute_uv=False)[0])


@st.composite
def layers(draw, modes=("zeros", "circular", "reflect", "replicate"), max_n=7):
    D = draw(st.integers(1, 2))
    transposed = draw(st.booleans()) and draw(st.booleans())
    mode = "zeros" if transposed else draw(st.sampled_from(modes))
    g = draw(st.integers(1, 2))
    depthwise = draw(st.booleans()) and draw(st.booleans())
    co = g * (1 if depthwise else draw(st.integers(1, 2)))
    ci = g * (1 if depthwise else draw(st.integers(1, 2)))
    k = tuple(draw(st.integers(1, 3)) for _ in range(D))
    s = tuple(draw(st.integers(1, 2)) for _ in range(D))
    d = tuple(draw(st.integers(1, 2)) for _ in range(D))
    n = tuple(draw(st.integers(2, max_n)) for _ in range(D))
    if transposed:
        pads = tuple((p, p) for p in (draw(st.integers(0, 1)) for _ in range(D)))
        op = tuple(draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d))
        shape = (ci, co // g) + k
    else:
        pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(D))
        op = 0
        shape = (co, ci // g) + k
    seed = draw(st.integers(0, 2**31 - 1))
    w = np.random.default_rng(seed).standard_normal(shape)
    if draw(st.booleans()):
        w = np.abs(w)
    kw = dict(stride=s, padding=pads, dilation=d, groups=g, padding_mode=mode,
              transposed=transposed, output_padding=op)
    try:
        ww, geom = normalize_conv_args(w, n, **kw)
    except ValueError:
        # settings PyTorch rejects (pad too large for reflect/circular, kernel > input)
        pads = tuple((0, 0) for _ in range(D))
        n = tuple(max(nt, dt * (kt - 1) + 1) for nt, dt, kt in zip(n, d, k))
        kw["padding"] = pads
        ww, geom = normalize_conv_args(w, n, **kw)
    T = torch_dense(w, n, s, pads, d, g, mode, transposed, op)
    return ww, geom, T


def test_torch_reference_matches_conv_matrix():
    rng = np.random.default_rng(1)
    cases = [
        dict(w=rng.standard_normal((4, 1, 3, 2)), n=(5, 4), stride=(2, 1), padding=((1, 0), (2, 1)),
             dilation=(1, 2), groups=2, padding_mode="reflect"),
        dict(w=rng.standard_normal((3, 2, 3)), n=(4,), stride=(1,), padding=((2, 1),),
             dilation=(2,), groups=1, padding_mode="circular"),
        dict(w=rng.standard_normal((2, 3, 2, 2)), n=(3, 3), stride=(2, 2), padding=((1, 1), (1, 1)),
             dilation=(1, 1), groups=1, padding_mode="zeros", transposed=True,
             output_padding=(1, 0)),
        dict(w=rng.standard_normal((2, 2, 3)), n=(4,), stride=(1,), padding=((2, 2),),
             dilation=(1,), groups=1, padding_mode="replicate"),
    ]
    for c in cases:
        T = torch_dense(c["w"], c["n"], c["stride"], c["padding"], c["dilation"], c["groups"],
                        c["padding_mode"], c.get("transposed", False), c.get("output_padding", 0))
        ref = conv_matrix(c["w"], c["n"], c["stride"], c["padding"], c["dilation"], c["groups"],
                          c["padding_mode"], c.get("transposed", False),
                          c.get("output_padding", 0)).toarray()
        np.testing.assert_allclose(T, ref, atol=1e-13)


@settings(max_examples=40)
@given(layers())
def test_operator_forward_and_adjoint_equal_dense(layer):
    w, geom, T = layer
    op = _ConvOperator(w, _forward_view(geom))
    Tf = T.T if geom.transposed else T  # the operator is the forward conv (adjoint of ConvT)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(op.in_shape)
    y = rng.standard_normal(op.out_shape)
    np.testing.assert_allclose(op.forward(x).ravel(), Tf @ x.ravel(), atol=1e-11)
    np.testing.assert_allclose(op.adjoint(y).ravel(), Tf.T @ y.ravel(), atol=1e-11)


@settings(max_examples=45)
@given(layers())
def test_every_method_brackets_dense_sigma(layer):
    w, geom, T = layer
    sigma = sigma_1(T)
    for method in ("gram", "spatial_gram", "power", "holder", "auto"):
        r = conv_l2(w, geom, method=method, power_iter=30)
        # exact values carry no margin, only eigensolver rounding
        tol = 1e-12 * (sigma if r.exact else max(sigma, 1.0))
        assert r.lower <= sigma + tol, (method, r, sigma)
        assert sigma <= r.upper + tol, (method, r, sigma)
        assert r.lower <= r.upper
        if method != "power":
            assert r.value == r.upper or r.exact
    auto = conv_l2(w, geom)
    assert auto.upper <= min(conv_l2(w, geom, method=m, power_iter=0).upper
                             for m in ("gram", "spatial_gram", "holder")) * (1 + 1e-12)


@settings(max_examples=25)
@given(layers(modes=("zeros",), max_n=6))
def test_size_free_spatial_gram_bounds_every_size(layer):
    w, geom, T = layer
    r = conv_l2(w, None, method="spatial_gram", groups=geom.groups)
    assert sigma_1(T) <= r.upper + 1e-12 and r.lower == 0.0


@settings(max_examples=40)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 2), st.integers(1, 2), st.integers(2, 4), st.integers(0, 2**31 - 1))
def test_exact_circular_paths_equal_dense(D, k, co, ci, s, d, blocks, seed):
    n = (s * blocks,) * D
    total = d * (k - 1)
    pads = ((total // 2, total - total // 2),) * D
    w = np.random.default_rng(seed).standard_normal((co, ci) + (k,) * D)
    ww, geom = normalize_conv_args(w, n, stride=s, padding=pads, dilation=d,
                                   padding_mode="circular")
    T = torch_dense(w, n, (s,) * D, pads, (d,) * D, 1, "circular")
    ref = np.linalg.svd(T, compute_uv=False)
    for method in ("auto", "fft_svd"):
        r = conv_l2(ww, geom, method=method)
        assert r.exact and r.method == "fft_svd"
        assert abs(r.value - ref[0]) <= 1e-10 * ref[0]
        assert r.lower == r.value == r.upper
    sv = conv_singular_values(w, n, stride=s, padding=pads, dilation=d)
    assert sv.shape == ref.shape
    np.testing.assert_allclose(sv, ref, rtol=1e-10, atol=1e-10 * ref[0])


def test_exact_circular_with_groups_and_folding():
    # kernel longer than the grid (taps wrap onto the same pixel) and two groups
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 1, 5))
    ww, geom = normalize_conv_args(w, 3, padding=((2, 2),), groups=2, padding_mode="circular")
    T = torch_dense(w, (3,), (1,), ((2, 2),), (1,), 2, "circular")
    assert abs(conv_l2(ww, geom).value - sigma_1(T)) <= 1e-10 * sigma_1(T)
    np.testing.assert_allclose(conv_singular_values(w, 3, padding=2, groups=2),
                               np.linalg.svd(T, compute_uv=False), atol=1e-12)


@settings(max_examples=30)
@given(st.integers(1, 2), st.integers(1, 4), st.integers(1, 4), st.integers(2, 6),
       st.integers(0, 2**31 - 1))
def test_gram_t6_is_tight_on_circular_kernels(D, co, ci, n, seed):
    k = 3
    w = np.random.default_rng(seed).standard_normal((co, ci) + (k,) * D)
    ww, geom = normalize_conv_args(w, (n,) * D, padding="same", padding_mode="circular")
    sigma = sigma_1(torch_dense(w, (n,) * D, (1,) * D, ((1, 1),) * D, (1,) * D, 1, "circular"))
    r = conv_l2(ww, geom, method="gram", n_iter=6, power_iter=0)
    assert sigma <= r.upper and r.upper - sigma <= 1e-5 * sigma


@settings(max_examples=40)
@given(layers(), st.integers(1, 6))
def test_power_iteration_never_exceeds_sigma(layer, n_iter):
    w, geom, T = layer
    op = _ConvOperator(w, _forward_view(geom))
    s, v = power_iteration(op.forward, op.adjoint, op.in_shape, n_iter=n_iter, random_state=5)
    assert s <= sigma_1(T) * (1 + 1e-12) + 1e-14
    assert v.shape == op.in_shape and abs(np.linalg.norm(v) - 1) < 1e-12


def test_power_iteration_converges_and_is_deterministic():
    A = np.random.default_rng(0).standard_normal((6, 4))
    s1, v1 = power_iteration(lambda x: A @ x, lambda y: A.T @ y, (4,), n_iter=500, tol=0)
    s2, v2 = power_iteration(lambda x: A @ x, lambda y: A.T @ y, (4,), n_iter=500, tol=0)
    exact = np.linalg.svd(A, compute_uv=False)[0]
    assert s1 == s2 and np.array_equal(v1, v2)
    assert exact - 1e-9 <= s1 <= exact * (1 + 1e-14)


def test_transposed_equals_adjoint_conv():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((3, 2, 3, 3))
    wt, gt = normalize_conv_args(w, (4, 5), stride=2, padding=1, transposed=True,
                                 output_padding=1)
    conv = gt.adjoint_conv()
    for method in ("gram", "spatial_gram", "power"):
        a = conv_l2(wt, gt, method=method, power_iter=20)
        b = conv_l2(wt, conv, method=method, power_iter=20)
        assert math.isclose(a.upper, b.upper, rel_tol=1e-12) or a.upper == b.upper == math.inf
        assert math.isclose(a.lower, b.lower, rel_tol=1e-12)


def test_gram_bound_on_matrices():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((10, 3, 7)) + 1j * rng.standard_normal((10, 3, 7))
    exact = np.linalg.svd(B, compute_uv=False).max()
    prev = math.inf
    for t in range(1, 8):
        b = gram_bound(B, n_iter=t)
        assert exact * (1 - 1e-13) <= b <= prev * (1 + 1e-13)  # valid and non-increasing
        prev = b
    assert prev - exact <= 1e-8 * exact
    assert gram_bound(np.zeros((2, 3, 3))) == 0.0
    # scale invariance without overflow
    assert math.isclose(gram_bound(B * 1e150, 6), gram_bound(B, 6) * 1e150, rel_tol=1e-10)


def test_spatial_gram_bound_known_values_and_scaling():
    k = np.zeros((1, 1, 3, 3))
    k[0, 0, 1, 1] = -3.0
    assert math.isclose(spatial_gram_bound(k), 3.0, rel_tol=1e-12)
    # a positive 1-D kernel: infinite-grid norm is the sum of its taps
    assert math.isclose(spatial_gram_bound(np.array([[[1.0, 2.0, 1.0]]]), n_iter=4), 4.0,
                        rel_tol=1e-9)
    w = np.random.default_rng(1).standard_normal((2, 3, 2, 2))
    assert math.isclose(spatial_gram_bound(-2.5 * w), 2.5 * spatial_gram_bound(w), rel_tol=1e-12)
    assert math.isclose(spatial_gram_bound(torch.as_tensor(w)), spatial_gram_bound(w), rel_tol=0)
    # the budgeted variant still gives a valid (looser or equal) bound
    assert spatial_gram_bound(w, 4, budget=True) >= spatial_gram_bound(w, 4) * (1 - 1e-12)


def test_zero_weight():
    ww, geom = normalize_conv_args(np.zeros((2, 2, 3)), 5, padding=1)
    r = conv_l2(ww, geom)
    assert r.value == r.lower == r.upper == 0.0 and r.exact


def test_bad_inputs():
    w = np.random.default_rng(0).standard_normal((2, 2, 3, 3))
    ww, zeros = normalize_conv_args(w, (6, 6), padding=1)
    with pytest.raises(ValueError, match="l2_method='auto'"):
        conv_l2(ww, zeros, method="fft_svd")
    _, strided = normalize_conv_args(w, (5, 5), stride=2, padding=1, padding_mode="circular")
    with pytest.raises(ValueError, match="l2_method='auto'"):
        conv_l2(ww, strided, method="fft_svd")
    with pytest.raises(ValueError, match="l2_method must be one of"):
        conv_l2(ww, zeros, method="svd")
    with pytest.raises(ValueError, match="needs input_shape"):
        conv_l2(ww, None, method="gram")
    with pytest.raises(ValueError, match="n_iter must be"):
        conv_l2(ww, zeros, n_iter=0)
    with pytest.raises(ValueError, match="stride divides"):
        conv_singular_values(w, (5, 5), stride=2, padding=1)
    with pytest.raises(ValueError, match="padding totals"):
        conv_singular_values(w, (6, 6), padding=0)
    with pytest.raises(ValueError, match="NaN/inf"):
        conv_singular_values(np.full((1, 1, 3), np.nan), 4)
    with pytest.raises(ValueError, match="3, 4 or 5 dims"):
        spatial_gram_bound(np.ones((3, 3)))
    with pytest.raises(ValueError, match="NaN/inf"):
        spatial_gram_bound(np.full((1, 1, 3), np.inf))
    with pytest.raises(ValueError, match="does not divide"):
        spatial_gram_bound(np.ones((3, 1, 3)), groups=2)
    with pytest.raises(TypeError, match="complex"):
        spatial_gram_bound(np.ones((1, 1, 3), dtype=complex))
    with pytest.raises(ValueError, match="NaN/inf"):
        gram_bound(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="at least 2 dims"):
        gram_bound(np.ones(3))
