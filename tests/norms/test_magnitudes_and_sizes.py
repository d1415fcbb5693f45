"""Extreme magnitudes and huge size parameters: the scaled answer, bounded memory or a clear error.

References are independent of the code under test: the explicit operator matrix of the
unscaled kernel (``testing.conv_matrix``), exact rational arithmetic (``fractions``), tap
counting by hand, and the uncompressed boundary-class tables.
"""

import ast
import math
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from normgraph.norms.testing import exact_l1_projection
from normgraph.norms import (
    bn_norm,
    clip_singular_values,
    conv_norm,
    conv_singular_values,
    gram_bound,
    layer_norms,
    linear_norm,
    power_iteration,
    project_l1_ball,
    spatial_gram_bound,
)
from normgraph.norms import _patterns
from normgraph.norms._result import NormOverflowWarning
from normgraph.norms.testing import conv_matrix

MODES = ("zeros", "circular", "reflect", "replicate")
# exact powers of two (the scaled answer is then exact) and decimal extremes
FACTORS = (2.0 ** 990, 2.0 ** -990, 1e300, 1e-300, 3.7e150, 1e-200)


def _dense_norms(K, n, **kw):
    T = conv_matrix(K, n, **kw).toarray()
    return {1: np.abs(T).sum(0).max(), np.inf: np.abs(T).sum(1).max(),
            "fro": np.sqrt((T ** 2).sum()), 2: np.linalg.svd(T, compute_uv=False)[0]}


@st.composite
def layers(draw, max_n=9):
    """A small random conv layer (D = 1 or 2) with its settings."""
    D = draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(D))
    n = tuple(draw(st.integers(max(k), max_n)) for _ in range(D))
    mode = draw(st.sampled_from(MODES))
    pad = tuple(draw(st.integers(0, min(2, n[t] - 1))) for t in range(D))
    cout, cin = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2 ** 16))
    K = np.random.default_rng(seed).standard_normal((cout, cin) + k)
    return K, n, dict(padding=pad, padding_mode=mode, stride=draw(st.integers(1, 2)))


# ---- extreme magnitudes ----------------------------------------------------------------

@given(layers(), st.sampled_from(FACTORS), st.sampled_from([1, np.inf, "fro"]))
def test_exact_norms_scale_with_the_weight(layer, alpha, p):
    K, n, kw = layer
    ref = _dense_norms(K, n, **kw)[p] * alpha
    got = conv_norm(K * alpha, p, n, **kw)
    assert math.isfinite(got)
    assert got == pytest.approx(ref, rel=1e-12, abs=0)


@given(layers(max_n=7), st.sampled_from(FACTORS))
def test_l2_interval_scales_with_the_weight(layer, alpha):
    K, n, kw = layer
    sigma = _dense_norms(K, n, **kw)[2] * alpha
    r = conv_norm(K * alpha, 2, n, return_details=True, **kw)
    assert math.isfinite(r.lower) and math.isfinite(r.upper)
    assert r.lower <= sigma * (1 + 1e-9) and sigma <= r.upper * (1 + 1e-9)
    assert r.upper <= 2.0 * math.sqrt(_dense_norms(K, n, **kw)[1]
                                      * _dense_norms(K, n, **kw)[np.inf]) * alpha
    unscaled = conv_norm(K, 2, n, return_details=True, **kw)
    assert r.value == pytest.approx(unscaled.value * alpha, rel=1e-9)


@pytest.mark.parametrize("alpha", [1e300, 1e-300, 2.0 ** -1070])
def test_issue_examples_frobenius_and_l2_at_1e300(alpha):
    K = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    K = (K * alpha) / alpha  # the bits that survive in subnormal weights (exact division)
    ref = _dense_norms(K, 8, padding=1)
    assert conv_norm(K * alpha, "fro", 8, padding=1) == pytest.approx(ref["fro"] * alpha,
                                                                      rel=1e-6)
    r = conv_norm(K * alpha, 2, 8, padding=1, return_details=True)
    assert 0 < r.lower <= ref[2] * alpha * (1 + 1e-6) and r.upper >= ref[2] * alpha * (1 - 1e-6)
    assert r.upper < 2 * ref[2] * alpha  # a real interval, not lower = upper = inf (or 0)
    c = conv_norm(K * alpha, 2, 8, padding=1, padding_mode="circular", return_details=True)
    assert c.exact and c.value == pytest.approx(
        _dense_norms(K, 8, padding=1, padding_mode="circular")[2] * alpha, rel=1e-6)


def test_linear_bn_gram_and_singular_values_scale():
    W = np.random.default_rng(1).standard_normal((5, 4))
    s = np.linalg.svd(W, compute_uv=False)
    for alpha in FACTORS:
        assert linear_norm(W * alpha, 2) == pytest.approx(s[0] * alpha, rel=1e-12)
        assert linear_norm(W * alpha, "fro") == pytest.approx(np.sqrt((W ** 2).sum()) * alpha,
                                                              rel=1e-12)
        assert linear_norm(W * alpha, 1) == pytest.approx(np.abs(W).sum(0).max() * alpha,
                                                          rel=1e-12)
        assert gram_bound(W * alpha, 8) == pytest.approx(s[0] * alpha, rel=1e-9)
        K = W[:, :, None]
        assert spatial_gram_bound(K * alpha, n_iter=30) == pytest.approx(s[0] * alpha, rel=1e-9)
        sv = conv_singular_values(K * alpha, 4, padding=0)
        assert sv[0] == pytest.approx(s[0] * alpha, rel=1e-12)


@given(st.floats(1e-300, 1e300), st.floats(1e-300, 1e300), st.floats(0, 1e-3),
       st.floats(1e-300, 1e300))
def test_bn_norm_matches_exact_rational(gamma, var, eps, tiny_gamma):
    g = np.array([gamma, -tiny_gamma])
    v = np.array([var, 1.0])
    got = bn_norm(g, v, eps=eps)
    exact = max(Fraction(gamma) ** 2 / (Fraction(var) + Fraction(eps)),
                Fraction(tiny_gamma) ** 2 / (1 + Fraction(eps)))
    if exact > Fraction(np.finfo(float).max) ** 2 or exact < Fraction(2.0 ** -1000) ** 2:
        return  # the answer itself is outside the normal float64 range
    assert abs(Fraction(got) ** 2 / exact - 1) < Fraction(1, 10 ** 13)


def test_true_overflow_is_inf_with_a_warning():
    with pytest.warns(NormOverflowWarning, match="beyond the float64 range"):
        assert conv_norm(np.full((1, 1, 3), 1e308), 1, 5) == np.inf
    with pytest.warns(NormOverflowWarning):
        assert linear_norm(np.full((2, 3), 1e308), np.inf) == np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 1e308 / 4 summed three times: finite, no warning
        assert conv_norm(np.full((1, 1, 3), 2.5e307), 1, 5) == pytest.approx(7.5e307)


# ---- project_l1_ball: exact rational reference -------------------------------------------

_exact_projection = exact_l1_projection


@given(st.lists(st.floats(-1, 1), min_size=1, max_size=12), st.floats(0, 5),
       st.sampled_from([1.0, 1e300, 1e-300, 2.0 ** 1000, 1e-150]),
       st.sampled_from([1.0, 1e-300, 1e300, 1e-12]))
def test_projection_exact_and_feasible_at_any_magnitude(y, r, scale, radius_scale):
    y = np.array(y) * scale
    radius = r * scale * radius_scale
    if not math.isfinite(radius):
        return
    x = project_l1_ball(y, radius)
    assert np.all(np.isfinite(x))
    assert math.fsum(np.abs(x).tolist()) <= radius  # feasible, summed exactly
    ref = _exact_projection(y, radius)
    tol = Fraction(radius) * Fraction(1, 10 ** 12) + Fraction(2.0 ** -1070)
    for xi, ri in zip(x.tolist(), ref):
        assert abs(Fraction(xi) - ri) <= tol


def test_projection_issue_examples():
    x = project_l1_ball(np.array([1e308, 1e308, -1e308]), 1.0)  # was IndexError
    assert np.allclose(x, [1 / 3, 1 / 3, -1 / 3], rtol=1e-15)
    x = project_l1_ball(np.array([1e308, 1e308, -1e308]), 1e308)  # was returned unchanged
    assert math.fsum(np.abs(x).tolist()) <= 1e308
    assert np.allclose(x, np.array([1, 1, -1]) * (1e308 / 3), rtol=1e-15)
    x = project_l1_ball(np.array([1.0, 0.5]), 1e-320)  # radius at the subnormal end
    assert x[0] == 1e-320 and x[1] == 0.0


# ---- SVC at extreme magnitudes -------------------------------------------------------------

@pytest.mark.parametrize("alpha", [2.0 ** 900, 2.0 ** -900])
def test_svc_is_homogeneous_in_weight_and_clip(alpha):
    K = np.random.default_rng(3).standard_normal((2, 2, 3, 3))
    ref, ref_norm = clip_singular_values(K, 6, clip=0.5, return_norm=True)
    got, norm = clip_singular_values(K * alpha, 6, clip=0.5 * alpha, return_norm=True)
    np.testing.assert_allclose(got / alpha, ref, rtol=1e-12, atol=1e-14)
    assert norm == pytest.approx(ref_norm * alpha, rel=1e-12)
    small = clip_singular_values(K * alpha, 6, clip=1e-300)  # clip far below the weight
    assert conv_norm(small, 2, 6, padding=1, padding_mode="circular") <= 1e-300 * 4


# ---- long axes: bounded memory, same boundary classes ------------------------------------

def _canon(ap):
    return sorted((A.tobytes(), A.shape, int(c)) for A, c in zip(ap.matrices, ap.counts))


@given(st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.sampled_from(MODES),
       st.integers(1, 150), st.integers(0, 40), st.integers(0, 40), st.booleans(), st.data())
def test_compressed_axis_has_the_same_patterns(k, s, d, mode, n, pl, pr, cut, data):
    if mode != "zeros":
        pl, pr = pl % 8, pr % 8
    if (mode == "reflect" and max(pl, pr) >= n) or (mode == "circular" and max(pl, pr) > n):
        return
    span = d * (k - 1) + 1
    if n + pl + pr < span:
        return
    m = (n + pl + pr - span) // s + 1
    if cut:  # transposed layers keep only the first outputs
        m = data.draw(st.integers(1, m))
    for kind in ("row", "col"):
        ref = _patterns._axis_patterns(n, m, k, s, d, pl, mode, kind, False)
        old = _patterns._COMPRESS_MIN
        _patterns._COMPRESS_MIN = 0  # force the compression even on short axes
        try:
            n2, m2, pl2, j, trimmed = _patterns.compress_axis(n, m, k, s, d, pl, mode)
        finally:
            _patterns._COMPRESS_MIN = old
        got = _patterns._axis_patterns(n2, m2, k, s, d, pl2, mode, kind, False, j, trimmed)
        assert _canon(got) == _canon(ref)
        assert got.n_distinct == ref.n_distinct and got.has_empty == ref.has_empty


@pytest.mark.parametrize("mode", MODES)
def test_long_axes_match_the_dense_reference(mode, monkeypatch):
    monkeypatch.setattr(_patterns, "_COMPRESS_MIN", 0)
    _patterns.axis_patterns.cache_clear()
    rng = np.random.default_rng(4)
    try:
        for n, k, s, pad in [(61, 3, 1, 1), (70, 5, 2, 2), (97, 2, 3, 1)]:
            K = rng.standard_normal((2, 2, k))
            kw = dict(stride=s, padding=pad, padding_mode=mode)
            ref = _dense_norms(K, n, **kw)
            for p in (1, np.inf, "fro"):
                assert conv_norm(K, p, n, **kw) == pytest.approx(ref[p], rel=1e-12)
    finally:
        _patterns.axis_patterns.cache_clear()


def test_long_transposed_axes_match_the_dense_reference(monkeypatch):
    monkeypatch.setattr(_patterns, "_COMPRESS_MIN", 0)
    _patterns.axis_patterns.cache_clear()
    rng = np.random.default_rng(8)
    try:
        for _ in range(25):
            k, s, d = (int(v) for v in rng.integers(1, 4, size=3))
            pad, n = int(rng.integers(0, 3)), int(rng.integers(20, 50))
            kw = dict(stride=s, padding=pad, dilation=d, transposed=True,
                      output_padding=int(rng.integers(0, max(s, d))))
            K = rng.standard_normal((2, 2, k))
            T = conv_matrix(K, n, **kw).toarray()
            for p, ref in [(1, np.abs(T).sum(0).max()), (np.inf, np.abs(T).sum(1).max()),
                           ("fro", np.sqrt((T ** 2).sum()))]:
                assert conv_norm(K, p, n, **kw) == pytest.approx(ref, rel=1e-12)
    finally:
        _patterns.axis_patterns.cache_clear()


def test_pad_multiplicity_closed_forms_match_the_padding_table():
    for mode in MODES:
        for n in range(1, 16):
            for pl in range(0, n + 2):
                for pr in range(0, n + 2):
                    if ((mode == "reflect" and max(pl, pr) >= n)
                            or (mode == "circular" and max(pl, pr) > n)):
                        continue
                    src = _patterns.landing_table(n, n + pl + pr, 1, 1, 1, pl, mode).ravel()
                    src = src[src >= 0]
                    ref = 1 if mode == "zeros" else int(np.bincount(src, minlength=n).max())
                    assert _patterns.pad_multiplicity(n, pl, pr, mode) == ref, (mode, n, pl, pr)
    # O(1) for long axes with long padding (was a padding table of 3 * 10^9 entries)
    assert _patterns.pad_multiplicity(10 ** 9, 10 ** 9 - 1, 10 ** 9 - 1, "reflect") == 3


def test_issue_example_input_length_1e9():
    K = np.random.default_rng(5).standard_normal((3, 2, 3))
    absK = np.abs(K)
    assert conv_norm(K, np.inf, 10 ** 9, padding=1) == pytest.approx(
        absK.sum(axis=(1, 2)).max(), rel=1e-14)   # closed form: exact for long inputs
    assert conv_norm(K, 1, 10 ** 9, padding=1) == pytest.approx(
        absK.sum(axis=(0, 2)).max(), rel=1e-14)
    # Frobenius: tap a of every filter lands inside for n - |a - 1| outputs
    n = 10 ** 9
    fro2 = sum((K[:, :, a] ** 2).sum() * (n - abs(a - 1)) for a in range(3))
    assert conv_norm(K, "fro", n, padding=1) == pytest.approx(math.sqrt(fro2), rel=1e-12)
    K2 = np.random.default_rng(6).standard_normal((2, 2, 3, 3))
    assert conv_norm(K2, np.inf, (10 ** 9, 10 ** 9), padding=1, stride=2,
                     padding_mode="replicate") == pytest.approx(
        np.abs(K2).sum(axis=(1, 2, 3)).max(), rel=1e-14)
    r = conv_norm(K, 2, 10 ** 9, padding=1, l2_method="holder", return_details=True)
    assert r.lower == 0.0 and math.isfinite(r.upper)  # size-free bound, no power iteration


def test_huge_sizes_are_refused_up_front(monkeypatch):
    monkeypatch.setenv("NORMGRAPH_MAX_BYTES", str(2 ** 30))
    K = np.ones((2, 2, 3, 3))
    with pytest.raises(ValueError, match="input_shape asks for"):
        conv_norm(K, 2, (10 ** 6, 10 ** 6), padding=1)
    with pytest.raises(ValueError, match="input_shape asks for"):
        conv_singular_values(K, 10 ** 6)
    with pytest.raises(ValueError, match="input_shape asks for"):
        clip_singular_values(K, 10 ** 6)
    with pytest.raises(ValueError, match="input_shape asks for"):
        conv_matrix(K, 10 ** 6, padding=1)
    with pytest.raises(ValueError, match="padding asks for"):  # replicate borders repeat
        conv_norm(np.ones((1, 1, 3)), 1, 5, padding=10 ** 9, padding_mode="replicate")
    with pytest.raises(ValueError, match="n_iter asks for"):
        spatial_gram_bound(K, n_iter=40)
    with pytest.raises(ValueError, match="shape asks for"):
        power_iteration(lambda v: v, lambda v: v, (10 ** 6, 10 ** 6))
    with pytest.raises(ValueError, match="stride must be <="):
        conv_norm(K, 1, 8, stride=10 ** 30)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="input_shape asks for"):
        layer_norms(torch.nn.Conv2d(1, 1, 3), (1, 10 ** 6, 10 ** 6))
    # zero padding far beyond the input is trimmed: bounded memory, exact answer
    assert conv_norm(np.array([[[1.0, -2.0]]]), 1, 5, padding=10 ** 9) == 3.0


def test_many_gram_iterations_have_converged():
    W = np.random.default_rng(7).standard_normal((3, 4))
    s = np.linalg.svd(W, compute_uv=False)[0]
    assert gram_bound(W, n_iter=10 ** 6) == pytest.approx(s, rel=1e-12)
    assert spatial_gram_bound(W[:, :, None], n_iter=10 ** 6) == pytest.approx(s, rel=1e-12)


# ---- production code does not import the test references ----------------------------------

def test_production_modules_do_not_import_the_dense_reference():
    import normgraph.norms as pkg

    root = Path(pkg.__file__).parent
    for path in root.glob("*.py"):
        if path.name in ("_dense.py", "testing.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("_dense", "testing"), path.name
                assert not (node.module or "").endswith(("._dense", ".testing")), path.name
