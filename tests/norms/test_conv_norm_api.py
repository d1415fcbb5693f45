"""Public API: closed-form exactness, invariances, linear/BN norms, torch inputs, bad inputs."""

import itertools
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.norms import bn_norm, closed_form_is_exact, conv_norm, linear_norm
from normgraph.norms._result import NormResult
from normgraph.norms.testing import conv_matrix

MODES = ["zeros", "circular", "reflect", "replicate"]


# ---- closed forms, written from their formulas (spec 2.3), independent of the package -------

def closed_linf(K):
    """Largest l1 norm of an output filter."""
    return np.abs(K).reshape(K.shape[0], -1).sum(axis=1).max()


def closed_l1(K, groups, stride, dilation):
    """Residue-class closed form: per axis the taps with a*d = r (mod s) form one class."""
    D = K.ndim - 2
    c_out, cin_g = K.shape[:2]
    A = np.abs(K).reshape((groups, c_out // groups, cin_g) + K.shape[2:]).sum(axis=1)
    best = 0.0
    classes = []
    for t in range(D):
        res = (np.arange(K.shape[2 + t]) * dilation[t]) % stride[t]
        classes.append([np.flatnonzero(res == r) for r in np.unique(res)])
    for combo in itertools.product(*classes):
        sub = A[np.ix_(range(A.shape[0]), range(A.shape[1]), *combo)]
        best = max(best, sub.reshape(A.shape[0] * A.shape[1], -1).sum(axis=1).max())
    return best


@st.composite
def small_layers(draw):
    D = draw(st.integers(1, 2))
    mode = draw(st.sampled_from(MODES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = tuple(int(v) for v in rng.integers(1, 5, size=D))
    s = tuple(int(v) for v in rng.integers(1, 3, size=D))
    d = tuple(int(v) for v in rng.integers(1, 3, size=D))
    n, pads = [], []
    for t in range(D):
        nt = int(rng.integers(1, 12))
        hi = {"zeros": 3, "circular": nt, "reflect": nt - 1, "replicate": 3}[mode]
        pl, pr = (int(v) for v in rng.integers(0, min(hi, 3) + 1, size=2))
        if nt + pl + pr < d[t] * (k[t] - 1) + 1:
            nt = d[t] * (k[t] - 1) + 1 - pl - pr
            if mode == "reflect" and max(pl, pr) >= nt:
                nt = max(pl, pr) + 1
        n.append(nt)
        pads.append((pl, pr))
    groups = int(rng.integers(1, 3))
    K = rng.standard_normal((2 * groups, int(rng.integers(1, 3))) + k)
    return dict(weight=K, input_shape=tuple(n), stride=s, padding=tuple(pads), dilation=d,
                groups=groups, padding_mode=mode)


@settings(max_examples=120)
@given(small_layers())
def test_closed_form_exact_when_flagged(cfg):
    K = cfg["weight"]
    l1_ok, linf_ok = closed_form_is_exact(K.shape[2:], cfg["input_shape"], cfg["stride"],
                                          cfg["padding"], cfg["dilation"], cfg["padding_mode"])
    T = conv_matrix(**cfg)
    dense_l1, dense_linf = abs(T).sum(axis=0).max(), abs(T).sum(axis=1).max()
    exact_l1, exact_linf = conv_norm(p=1, **cfg), conv_norm(p=np.inf, **cfg)
    cf_l1 = closed_l1(K, cfg["groups"], cfg["stride"], cfg["dilation"])
    cf_linf = closed_linf(K)
    # the l-inf closed form bounds every mode from above; equality exactly when flagged
    assert exact_linf <= cf_linf * (1 + 1e-12)
    if linf_ok:
        assert exact_linf == pytest.approx(cf_linf, rel=1e-12)
        assert dense_linf == pytest.approx(cf_linf, rel=1e-12)
    if l1_ok:
        assert exact_l1 == pytest.approx(cf_l1, rel=1e-12)
        assert dense_l1 == pytest.approx(cf_l1, rel=1e-12)
    if cfg["padding_mode"] == "zeros":
        assert exact_l1 <= cf_l1 * (1 + 1e-12)  # residue classes bound zero padding


def test_closed_form_flags_typical_layers():
    assert closed_form_is_exact(3, 32, 1, 1) == (True, True)
    assert closed_form_is_exact((3, 3), (32, 32), 2, 1) == (True, True)  # residue classes
    # reflect: interior rows see all taps, but border pixels collect a tap from two outputs
    assert closed_form_is_exact((5, 5), (9, 9), 1, 2, 1, "reflect") == (False, True)
    assert closed_form_is_exact(3, 4, 1, 1, 1, "circular") == (True, True)
    # dilated analogue for zeros, stride 1: n >= d(k-1)+1 and n + pl + pr >= 2 d (k-1) + 1
    assert closed_form_is_exact(3, 5, 1, 2, 2) == (True, True)
    assert closed_form_is_exact(3, 5, 1, 1, 2)[0] is False


def test_closed_form_conditions_zeros_exhaustive():
    # l-inf: "condition E": some output has all taps inside, o s - pl >= 0 and
    # o s - pl + d(k-1) <= n - 1. l1 (stride 1): some pixel is reached by every tap, i.e.
    # n + pl >= d(k-1)+1, n + pr >= d(k-1)+1 and n + pl + pr >= 2 d(k-1) + 1 (derived here from
    # the landing sets; the spec's n >= d(k-1)+1 is sufficient, not necessary: n=1, k=2, p=1).
    for n in range(1, 9):
        for k in range(1, 5):
            for d in (1, 2):
                for s in (1, 2, 3):
                    for pl, pr in itertools.product(range(4), range(4)):
                        e = d * (k - 1)
                        if n + pl + pr < e + 1:
                            continue
                        l1, linf = closed_form_is_exact(k, n, s, ((pl, pr),), d)
                        m = (n + pl + pr - e - 1) // s + 1
                        assert linf == any(o * s - pl >= 0 and o * s - pl + e <= n - 1
                                           for o in range(m))
                        if s == 1:
                            assert l1 == (n + pl >= e + 1 and n + pr >= e + 1
                                          and n + pl + pr >= 2 * e + 1)
    assert closed_form_is_exact(2, 1, 1, 1) == (True, False)
    K = np.random.default_rng(9).standard_normal((3, 2, 2))
    assert conv_norm(K, 1, 1, padding=1) == pytest.approx(closed_l1(K, 1, (1,), (1,)), rel=1e-12)


def test_strict_upper_bound_l1_k3_p0_n3():
    rng = np.random.default_rng(0)
    K = rng.standard_normal((3, 2, 3))
    assert closed_form_is_exact(3, 3, 1, 0) == (False, True)
    exact = conv_norm(K, 1, 3)
    assert exact < closed_l1(K, 1, (1,), (1,)) - 1e-3
    assert exact == pytest.approx(abs(conv_matrix(K, 3)).sum(axis=0).max(), rel=1e-12)


def test_strict_upper_bound_circular_small_grid():
    rng = np.random.default_rng(1)
    K = rng.standard_normal((2, 2, 5, 5))
    flags = closed_form_is_exact((5, 5), (3, 3), 1, 2, 1, "circular")
    assert flags == (False, False)
    T = conv_matrix(K, (3, 3), padding=2, padding_mode="circular")
    for p, cf, ref in ((1, closed_l1(K, 1, (1, 1), (1, 1)), abs(T).sum(axis=0).max()),
                       (np.inf, closed_linf(K), abs(T).sum(axis=1).max())):
        exact = conv_norm(K, p, (3, 3), padding=2, padding_mode="circular")
        assert exact == pytest.approx(ref, rel=1e-12)
        assert exact < cf - 1e-3


def test_strict_upper_bound_linf_when_condition_E_fails():
    # n=3, k=3, s=2, p=1: output 0 loses tap 0, output 1 loses tap 2 (k + ceil(p/s) s - p > n)
    K = np.random.default_rng(2).standard_normal((4, 3, 3))
    assert closed_form_is_exact(3, 3, 2, 1)[1] is False
    exact = conv_norm(K, np.inf, 3, stride=2, padding=1)
    assert exact < closed_linf(K) - 1e-3
    assert exact == pytest.approx(abs(conv_matrix(K, 3, 2, 1)).sum(axis=1).max(), rel=1e-12)


# ---- invariances (spec 5.3) ---------------------------------------------------------------

@settings(max_examples=40)
@given(small_layers(), st.floats(-5, 5).filter(lambda a: abs(a) > 1e-3))
def test_sign_and_scaling(cfg, alpha):
    for p in (1, np.inf, "fro"):
        base = conv_norm(p=p, **cfg)
        neg = conv_norm(p=p, **{**cfg, "weight": -cfg["weight"]})
        scaled = conv_norm(p=p, **{**cfg, "weight": alpha * cfg["weight"]})
        assert neg == pytest.approx(base, rel=1e-13)
        assert scaled == pytest.approx(abs(alpha) * base, rel=1e-12)


def test_l1_of_conv_is_linf_of_transposed():
    rng = np.random.default_rng(3)
    for D, s, d, p, op in [(1, 2, 1, 1, 1), (2, (2, 1), (1, 2), (1, 0), (1, 1)), (3, 1, 2, 1, 0),
                           (1, 3, 2, 2, 2)]:
        W = rng.standard_normal((4, 3) + (3,) * D)  # read as conv: 4 outputs, 3 inputs/group
        n = (5,) * D
        ss, dd, pp, oo = (np.broadcast_to(v, (D,)).tolist() for v in (s, d, p, op))
        N = tuple((n[t] - 1) * ss[t] - 2 * pp[t] + dd[t] * 2 + oo[t] + 1 for t in range(D))
        kw = dict(stride=s, padding=p, dilation=d)
        conv_m = tuple((N[t] + 2 * pp[t] - dd[t] * 2 - 1) // ss[t] + 1 for t in range(D))
        if conv_m != n:
            continue  # the conv of size N keeps more than n outputs only when op >= s
        assert conv_norm(W, 1, n, transposed=True, output_padding=op, **kw) == pytest.approx(
            conv_norm(W, np.inf, N, **kw), rel=1e-13)
        assert conv_norm(W, np.inf, n, transposed=True, output_padding=op, **kw) == pytest.approx(
            conv_norm(W, 1, N, **kw), rel=1e-13)


def test_torch_tensor_equals_numpy_and_float32():
    rng = np.random.default_rng(4)
    K = rng.standard_normal((6, 2, 3, 3))
    kw = dict(input_shape=(6, 11, 9), stride=2, padding=(1, (0, 2)), groups=3,
              padding_mode="replicate")
    for p in (1, np.inf):
        ref = conv_norm(K, p, **kw)
        assert conv_norm(torch.from_numpy(K), p, **kw) == ref
        t32 = torch.from_numpy(K).float().requires_grad_(True)
        assert conv_norm(t32, p, **kw) == pytest.approx(ref, rel=1e-6)
        assert conv_norm(K.astype(np.float32), p, **kw) == pytest.approx(ref, rel=1e-6)
        assert isinstance(conv_norm(K, p, **kw), float)


def test_return_details():
    K = np.ones((2, 1, 3, 3))
    r = conv_norm(K, np.inf, (8, 8), padding=1, padding_mode="reflect", return_details=True)
    assert isinstance(r, NormResult) and r.exact and r.method == "boundary_classes"
    assert r.value == r.lower == r.upper == 9.0 and r.n_patterns == (2, 2)
    r = conv_norm(K, "fro", (8, 8), padding=1, return_details=True)
    assert r.method == "frobenius" and r.value == pytest.approx(
        np.sqrt(abs(conv_matrix(K, (8, 8), padding=1)).power(2).sum()))


def test_p2_delegates_to_certified_interval():
    rng = np.random.default_rng(5)
    K = rng.standard_normal((3, 2, 3, 3))
    sigma = np.linalg.svd(conv_matrix(K, (6, 6), padding=1).toarray(), compute_uv=False)[0]
    r = conv_norm(K, 2, (6, 6), padding=1, return_details=True)
    assert r.lower <= sigma * (1 + 1e-9) and sigma <= r.upper * (1 + 1e-12)
    assert conv_norm(K, "2", (6, 6), padding=1) == r.upper
    size_free = conv_norm(K, 2, padding=1, l2_method="spatial_gram")
    assert size_free >= sigma * (1 - 1e-12)


def test_importing_norms_does_not_import_torch():
    code = ("import sys, numpy as np, normgraph.norms as m; "
            "m.conv_norm(np.ones((1, 1, 3)), 1, 5); m.linear_norm(np.ones((2, 2))); "
            "m.bn_norm(np.ones(2), np.ones(2)); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- linear and batch norm ----------------------------------------------------------------

def test_linear_norm_matches_numpy():
    rng = np.random.default_rng(6)
    W = rng.standard_normal((7, 4))
    for p, ref in ((1, 1), (np.inf, np.inf), (2, 2), ("fro", "fro"), ("inf", np.inf)):
        assert linear_norm(W, p) == pytest.approx(np.linalg.norm(W, ord=ref), rel=1e-12)
    assert linear_norm(torch.from_numpy(W).float(), 1) == pytest.approx(
        np.linalg.norm(W, 1), rel=1e-6)


def test_bn_norm_matches_module_matrix():
    bn = torch.nn.BatchNorm1d(5)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([0.5, -2.0, 1.0, 3.0, -0.1]))
        bn.running_var.copy_(torch.tensor([1.0, 0.5, 4.0, 9.0, 0.01]))
        bn.running_mean.copy_(torch.randn(5))
    bn.eval()
    with torch.no_grad():
        eye = torch.eye(5)
        M = (bn(eye) - bn(torch.zeros(1, 5))).T.double().numpy()  # linear part, column by column
    for p in (1, 2, np.inf):
        assert bn_norm(bn) == pytest.approx(np.linalg.norm(M, ord=p), rel=1e-6)
    assert bn_norm(bn.weight, bn.running_var, bn.eps) == pytest.approx(bn_norm(bn), rel=1e-12)
    plain = torch.nn.BatchNorm2d(3, affine=False)
    assert bn_norm(plain) == pytest.approx(1 / np.sqrt(1 + 1e-5))
    assert bn_norm(None, np.array([4.0, 1.0]), eps=0.0) == 1.0


# ---- bad inputs (spec 6), at the public entry points ----------------------------------------

def test_bad_p_everywhere():
    for bad in (3, 0, "max", None, -1):
        with pytest.raises(ValueError, match="p must be one of"):
            conv_norm(np.ones((1, 1, 3)), bad, 5)
        with pytest.raises(ValueError, match="p must be one of"):
            linear_norm(np.ones((2, 2)), bad)


def test_conv_norm_requires_input_shape():
    with pytest.raises(ValueError, match="input_shape is required"):
        conv_norm(np.ones((1, 1, 3, 3)), 1)
    with pytest.raises(ValueError, match="input_shape is required"):
        conv_norm(np.ones((1, 1, 3, 3)), 2)


def test_conv_norm_bad_weight_and_settings():
    with pytest.raises(ValueError, match="weight must have 3, 4 or 5 dims"):
        conv_norm(np.ones((3, 3)), 1, 5)
    # NaN/inf on every code path: fused kernels (zeros), merged taps (replicate l1),
    # all-padding layers (norm 0 whatever the weight), Frobenius, l2; float32 and torch
    for bad in (np.nan, np.inf, -np.inf):
        K = np.ones((2, 1, 3))
        K[1, 0, 1] = bad
        for kw in (dict(input_shape=5), dict(input_shape=6, padding=1, padding_mode="replicate"),
                   dict(input_shape=1, dilation=4, padding=(2, 6))):
            for p in (1, np.inf, "fro", 2):
                for w in (K, K.astype(np.float32), torch.from_numpy(K)):
                    with pytest.raises(ValueError, match="weight contains NaN/inf"):
                        conv_norm(w, p, **kw)
        with pytest.raises(ValueError, match="weight contains NaN/inf"):
            linear_norm(K[:, 0, :], 1)
    # huge but finite weights overflow the kernels' running sum: not an error
    assert conv_norm(np.full((1, 1, 3), 1e308), 1, 5) == np.inf
    with pytest.raises(TypeError, match="complex"):
        conv_norm(np.ones((1, 1, 3), dtype=complex), 1, 5)
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        conv_norm(np.ones((1, 1, 3)), np.inf, 2)
    with pytest.raises(ValueError, match="reflect padding"):
        conv_norm(np.ones((1, 1, 3)), np.inf, 2, padding=2, padding_mode="reflect")
    with pytest.raises(NotImplementedError, match="unsupported padding_mode"):
        conv_norm(np.ones((1, 1, 3)), np.inf, 5, padding_mode="replicate", transposed=True)
    with pytest.raises(ValueError, match="output_padding"):
        conv_norm(np.ones((1, 1, 3)), 1, 5, stride=2, transposed=True, output_padding=3)
    with pytest.raises(ValueError, match="groups"):
        conv_norm(np.ones((3, 1, 3)), 1, (2, 5), groups=2)


def test_linear_bad_inputs():
    with pytest.raises(ValueError, match="2 dims"):
        linear_norm(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="NaN/inf"):
        linear_norm(np.array([[1.0, np.inf]]))
    with pytest.raises(TypeError, match="complex"):
        linear_norm(np.ones((2, 2), dtype=np.complex128))
    assert linear_norm(np.array([[1, -2]], dtype=np.int64), 1) == 2.0  # integers are cast


def test_bn_bad_inputs():
    with pytest.raises(ValueError, match="NaN/inf"):
        bn_norm(np.ones(2), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="NaN/inf"):
        bn_norm(np.array([np.inf, 1.0]), np.ones(2))
    with pytest.raises(ValueError, match="positive"):
        bn_norm(np.ones(2), np.array([1.0, -1.0]), eps=1e-5)
    with pytest.raises(ValueError, match="positive"):
        bn_norm(np.ones(1), np.zeros(1), eps=0.0)
    with pytest.raises(ValueError, match="channels"):
        bn_norm(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="running_var is required"):
        bn_norm(np.ones(2))
    with pytest.raises(ValueError, match="running statistics"):
        bn_norm(torch.nn.BatchNorm1d(2, track_running_stats=False))


def test_closed_form_is_exact_bad_inputs():
    with pytest.raises(ValueError):
        closed_form_is_exact(0, 5)
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        closed_form_is_exact(5, 3)
    with pytest.raises(ValueError, match="padding_mode"):
        closed_form_is_exact(3, 5, padding_mode="mirror")


def test_exact_fft_requested_for_non_circular_layer():
    K = np.ones((2, 2, 3, 3))
    with pytest.raises(ValueError, match="auto"):
        conv_norm(K, 2, (8, 8), padding=1, l2_method="fft_svd")
    with pytest.raises(ValueError, match="l2_method"):
        conv_norm(K, 2, (8, 8), padding=1, l2_method="svd")
    # the circular stride-1 layer is where it is exact
    r = conv_norm(K, 2, (8, 8), padding=1, padding_mode="circular", l2_method="fft_svd",
                  return_details=True)
    assert r.exact and r.value == pytest.approx(18.0, rel=1e-12)  # all-ones: sigma = 2 * 9


def test_p2_power_method_reports_its_estimate_not_infinity():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 3, 3, 3))
    est = conv_norm(w, 2, (8, 8), padding=1, l2_method="power")
    details = conv_norm(w, 2, (8, 8), padding=1, l2_method="power", return_details=True)
    assert np.isfinite(est) and est == details.value == details.lower
    assert est <= conv_norm(w, 2, (8, 8), padding=1) + 1e-9  # below the certified upper bound
