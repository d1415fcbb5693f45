"""Hostile inputs for every public entry point of ``normgraph.norms``.

The contract: a ``TypeError`` (wrong type) or ``ValueError`` (bad value) whose message names
the parameter, or a finite result equal to an independent reference (the explicit operator
matrix of ``normgraph.norms.testing.conv_matrix``, NumPy's SVD, exact rationals), which for
scaled input is the scaled answer. Never a crash inside a kernel, never NaN, never a
MemoryError. Self-contained: its own strategies and references.
"""

import ast
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import normgraph.norms as norms
from normgraph.norms.testing import exact_l1_projection
from normgraph.norms import (
    NormDecay,
    bn_norm,
    clip_singular_values,
    closed_form_is_exact,
    conv_norm,
    conv_singular_values,
    gram_bound,
    layer_norms,
    linear_norm,
    power_iteration,
    project_l1_ball,
    spatial_gram_bound,
)
from normgraph.norms.testing import conv_matrix

torch = pytest.importorskip("torch")

FAST = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------
MAGNITUDES = st.one_of(st.sampled_from([1.0, 1e-300, 1e300, 2.0 ** -1000, 2.0 ** 1000]),
                       st.integers(-300, 300).map(lambda e: 10.0 ** e))
DTYPES = st.sampled_from(["float64", "float32", "float16", "int32", "int8", "bool",
                          "complex128", "object", "str"])
NONFINITE = st.sampled_from([None, np.nan, np.inf, -np.inf])
HOSTILE_INTS = st.sampled_from([-1, 0, 1, 2, 3, 10 ** 30, 2.5, "2", None, True, np.int64(2),
                                np.float64(2.0), (1, 2, 3), [1], object()])


@st.composite
def hostile_arrays(draw, ndims=(3,), side=(1, 3)):
    """(array, base, alpha): a hostile array, its moderate base and its magnitude."""
    ndim = draw(st.sampled_from(ndims))
    shape = tuple(draw(st.integers(*side)) for _ in range(ndim))
    seed = draw(st.integers(0, 2 ** 16))
    base = np.random.default_rng(seed).standard_normal(shape)
    alpha = draw(MAGNITUDES)
    dtype = draw(DTYPES)
    bad = draw(NONFINITE)
    arr = np.array(base * alpha, dtype=np.float64)  # an array even for 0-d shapes
    if bad is not None and arr.size:
        arr.flat[draw(st.integers(0, arr.size - 1))] = bad
    if dtype == "object":
        arr = arr.astype(object)
    elif dtype == "str":
        arr = arr.astype(str)
    elif dtype.startswith(("int", "bool")):
        with np.errstate(invalid="ignore", over="ignore"):
            arr = np.asarray(np.nan_to_num(base * 3)).astype(dtype) if bad is None else arr
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            arr = arr.astype(dtype)
    if draw(st.booleans()) and dtype not in ("object", "str"):
        arr = torch.from_numpy(np.ascontiguousarray(arr))
    return arr


def _as_float(arr):
    """What a valid weight means: its float64 values (None if it is not valid)."""
    if isinstance(arr, torch.Tensor):
        if arr.is_complex():
            return None
        arr = arr.numpy()
    if arr.dtype.kind not in "biuf":
        return None
    out = arr.astype(np.float64)
    return out if np.all(np.isfinite(out)) else None


def _scale(x):
    """An exact power of two near the largest entry (reference computed near 1)."""
    m = float(max(np.max(np.abs(x.real)), np.max(np.abs(x.imag)))) if x.size else 0.0
    return 1.0 if m == 0 else 2.0 ** round(math.log2(m))


def _dense(w, n, **kw):
    """Exact l1 / l-inf / Frobenius / l2 of the layer from its explicit matrix."""
    s = _scale(w)
    T = conv_matrix(w / s, n, **kw).toarray()
    sv = np.linalg.svd(T, compute_uv=False) if T.size else np.zeros(1)
    return {1: np.abs(T).sum(0).max() * s, np.inf: np.abs(T).sum(1).max() * s,
            "fro": np.sqrt((T ** 2).sum()) * s, 2: sv[0] * s}


def _contract(call, names):
    """Run ``call``; a TypeError/ValueError must name one of ``names``. Returns result or None."""
    try:
        out = call()
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        assert any(n in msg for n in names), f"error does not name the problem: {msg!r}"
        return None
    return out


def _close(got, ref, rel=1e-10):
    assert math.isfinite(got), got
    assert got == pytest.approx(ref, rel=rel, abs=0), (got, ref)


CONV_NAMES = ("weight", "input", "padding", "stride", "dilation", "groups", "p must",
              "l2_method", "n_iter", "power_iter", "transposed", "output_padding",
              "return_details", "kernel")


# ---------------------------------------------------------------------------------------
# conv_norm, linear_norm, bn_norm
# ---------------------------------------------------------------------------------------
@FAST
@given(hostile_arrays(ndims=(0, 1, 2, 3, 4, 6)), st.sampled_from([1, np.inf, "fro", 2]),
       st.sampled_from(["zeros", "circular", "reflect", "replicate"]))
def test_conv_norm_hostile_weights(w, p, mode):
    n = 4
    out = _contract(lambda: conv_norm(w, p, n, padding=1, padding_mode=mode,
                                      return_details=True), ("weight",))
    w64 = _as_float(w)
    if out is None:
        assert w64 is None or w64.ndim not in (3, 4, 5) or w64.size == 0
        return
    assert w64 is not None and w64.ndim in (3, 4, 5)
    ref = _dense(w64, n, padding=1, padding_mode=mode)
    if p == 2:
        assert math.isfinite(out.upper) and out.lower <= ref[2] * (1 + 1e-8)
        assert ref[2] <= out.upper * (1 + 1e-8)
    else:
        _close(out.value, ref[p])


@FAST
@given(st.fixed_dictionaries({
    "input_shape": st.sampled_from([5, (5,), (2, 5), (3, 5), 0, -1, 2.5, "5", None, (5, 5),
                                    10 ** 9, 10 ** 30, [1, 2, 5]]),
    "stride": HOSTILE_INTS, "padding": st.one_of(HOSTILE_INTS, st.sampled_from(
        ["same", "valid", "full", (1, 2), ((1, 0),), 10 ** 9])),
    "dilation": HOSTILE_INTS, "groups": HOSTILE_INTS,
    "padding_mode": st.sampled_from(["zeros", "circular", "reflect", "replicate", "mirror",
                                     None, 3]),
    "transposed": st.sampled_from([False, True, 0, "yes"]),
    "output_padding": st.sampled_from([0, 1, 3, -1, 1.5]),
}), st.sampled_from([1, np.inf, "fro", 2, "2", 3, None, "max", True, 1.5]))
def test_conv_norm_hostile_settings(kw, p):
    w = np.random.default_rng(0).standard_normal((2, 2, 3))
    out = _contract(lambda: conv_norm(w, p, **kw), CONV_NAMES)
    if out is None:
        return
    shape = kw["input_shape"]
    n = shape[-1] if isinstance(shape, (tuple, list)) else shape
    if n > 50 or kw["padding"] == 10 ** 9:  # long axes: no explicit matrix to compare with
        assert math.isfinite(out)
        return
    settings_ = {k: v for k, v in kw.items() if k != "input_shape"}
    ref = _dense(w, shape, **settings_)[{"2": 2}.get(p, p)]
    if p in (2, "2"):
        assert math.isfinite(out) and out >= ref * (1 - 1e-8)
    else:
        _close(out, ref)


@FAST
@given(hostile_arrays(ndims=(1, 2, 3)), st.sampled_from([1, np.inf, "fro", 2]))
def test_linear_norm_hostile_weights(w, p):
    out = _contract(lambda: linear_norm(w, p), ("weight",))
    w64 = _as_float(w)
    if out is None:
        assert w64 is None or w64.ndim != 2
        return
    s = _scale(w64)
    ref = {1: np.abs(w64 / s).sum(0).max(), np.inf: np.abs(w64 / s).sum(1).max(),
           "fro": np.linalg.norm(w64 / s), 2: np.linalg.svd(w64 / s, compute_uv=False)[0]}[p]
    _close(out, ref * s)


@FAST
@given(hostile_arrays(ndims=(1,), side=(1, 4)), MAGNITUDES, st.sampled_from(
    [1e-5, 0.0, -1.0, np.nan, "1e-5", None, 1e300]))
def test_bn_norm_hostile_inputs(gamma, var_scale, eps):
    var = np.abs(np.random.default_rng(1).standard_normal(np.shape(gamma))) * var_scale
    out = _contract(lambda: bn_norm(gamma, var, eps=eps),
                    ("weight", "running_var", "eps"))
    g = _as_float(gamma)
    if out is None:
        return
    assert g is not None
    exact = max(Fraction(float(gi)) ** 2 / (Fraction(float(vi)) + Fraction(eps))
                for gi, vi in zip(g, var))
    if exact > Fraction(1.7e308) ** 2:
        assert out == np.inf
        return
    if exact < Fraction(1e-300) ** 2:
        return  # the answer is subnormal: only its magnitude is meaningful
    assert abs(Fraction(out) ** 2 / exact - 1) < Fraction(1, 10 ** 12)


# ---------------------------------------------------------------------------------------
# l2 machinery
# ---------------------------------------------------------------------------------------
@FAST
@given(hostile_arrays(ndims=(1, 2, 3, 4)), st.sampled_from([1, 6, 100, 10 ** 6, 0, 2.5, "6"]))
def test_gram_bound_hostile_blocks(blocks, n_iter):
    out = _contract(lambda: gram_bound(blocks, n_iter), ("blocks", "n_iter"))
    if out is None:
        return
    b = blocks.numpy() if isinstance(blocks, torch.Tensor) else blocks
    assert b.dtype.kind in "biufc" and b.ndim >= 2  # complex blocks are frequency blocks
    b = b.astype(np.complex128 if b.dtype.kind == "c" else np.float64)
    assert np.all(np.isfinite(b))
    sigma = np.linalg.svd(b / _scale(b), compute_uv=False).max() * _scale(b)
    assert math.isfinite(out) and out >= sigma * (1 - 1e-12)
    if n_iter >= 100:
        _close(out, sigma, rel=1e-9)


@FAST
@given(hostile_arrays(ndims=(2, 3, 4)), st.sampled_from([1, 4, 40, 0, 1.5]),
       st.sampled_from([1, 2, 0, 3.0]))
def test_spatial_gram_bound_hostile(w, n_iter, groups):
    out = _contract(lambda: spatial_gram_bound(w, n_iter, groups),
                    ("weight", "n_iter", "groups"))
    w64 = _as_float(w)
    if out is None:
        return
    assert w64 is not None and w64.ndim in (3, 4, 5)
    # the infinite-grid bound is above the norm of every zero-padded layer with this weight
    sigma = _dense(w64, 6, padding=1, groups=groups)[2]
    assert math.isfinite(out) and out >= sigma * (1 - 1e-9)


@FAST
@given(hostile_arrays(ndims=(3, 4)), st.sampled_from([4, 6, (4, 4), 0, 10 ** 30, "4"]),
       st.sampled_from([1, 2, 3]))
def test_conv_singular_values_hostile(w, n, stride):
    out = _contract(lambda: conv_singular_values(w, n, stride=stride),
                    ("weight", "input", "stride", "padding"))
    if out is None:
        return
    w64 = _as_float(w)
    ref = _dense(w64, n, stride=stride, padding="same" if stride == 1 else
                 tuple((w64.shape[2 + t] - 1) // 2 for t in range(w64.ndim - 2)),
                 padding_mode="circular")
    assert np.all(np.isfinite(out))
    if stride == 1:
        _close(out[0], ref[2], rel=1e-9)


@FAST
@given(st.sampled_from([(3,), (2, 2), 3, (0,), (-1,), (10 ** 7, 10 ** 7), "3", None, (2.5,)]),
       st.sampled_from([1, 50, 0, -1, 2.5]), st.sampled_from([1e-8, 0.0, -1.0, np.nan, "x"]),
       st.sampled_from([0, None, -5, "seed", np.random.default_rng(1)]),
       st.sampled_from([1.0, 1e300, 1e-300]))
def test_power_iteration_hostile(shape, n_iter, tol, seed, alpha):
    A = np.diag([3.0, 1.0, 0.5]) * alpha
    op = lambda x: (A @ x.ravel()).reshape(x.shape) if x.size == 3 else x * 3 * alpha  # noqa
    out = _contract(lambda: power_iteration(op, op, shape, n_iter=n_iter, tol=tol,
                                            random_state=seed),
                    ("shape", "n_iter", "tol", "random_state"))
    if out is None:
        return
    sigma, v = out
    assert math.isfinite(sigma) and sigma <= 3 * alpha * (1 + 1e-12)
    assert sigma >= 0.4 * alpha


# ---------------------------------------------------------------------------------------
# projection, SVC, layer profiles, norm decay, closed forms
# ---------------------------------------------------------------------------------------
_exact_projection = exact_l1_projection


@FAST
@given(hostile_arrays(ndims=(0, 1, 2), side=(0, 4)),
       st.one_of(MAGNITUDES, st.sampled_from([0.0, -1.0, np.inf, np.nan, "1", None,
                                              5e-324, 1.7e308])))
def test_project_l1_ball_hostile(v, radius):
    out = _contract(lambda: project_l1_ball(v, radius), ("v", "radius"))
    y = _as_float(v)
    if out is None:
        return
    assert y is not None and y.size > 0 and radius >= 0
    x = out.numpy().astype(np.float64) if isinstance(out, torch.Tensor) else out
    assert x.shape == y.shape and np.all(np.isfinite(x))
    if isinstance(v, torch.Tensor):
        if v.dtype != torch.float64:
            return  # rounded to the tensor's dtype: feasibility up to that rounding
    assert math.fsum(np.abs(x).ravel().tolist()) <= radius
    ref = _exact_projection(y.ravel().tolist(), radius)
    tol = Fraction(radius) / 10 ** 12 + Fraction(2.0 ** -1070)
    assert all(abs(Fraction(a) - b) <= tol for a, b in zip(x.ravel().tolist(), ref))


@FAST
@given(hostile_arrays(ndims=(3, 4)), st.sampled_from([6, 2, 0, 10 ** 6, "6"]),
       st.sampled_from([1.0, 0.0, -1.0, np.inf, 1e-300, 1e300, "1"]),
       st.sampled_from([1, 2, 0, 2.5]))
def test_clip_singular_values_hostile(w, n, clip, n_rounds):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # input smaller than the kernel: skipped
        out = _contract(lambda: clip_singular_values(w, n, clip=clip, n_rounds=n_rounds,
                                                     return_norm=True),
                        ("weight", "input", "clip", "n_rounds"))
    if out is None:
        return
    w2, norm = out
    w2 = w2.numpy() if isinstance(w2, torch.Tensor) else w2
    assert math.isfinite(norm) and np.all(np.isfinite(np.asarray(w2, dtype=np.float64)))


@FAST
@given(st.sampled_from([(1, 6, 6), (1, 6), (0, 6, 6), (1, 2.5, 6), "166", None,
                        (1, 10 ** 6, 10 ** 6), 6]),
       st.sampled_from([(1, 2, np.inf), 3, "fro", (), ("inf",)]),
       st.sampled_from([("conv",), ("relu",), "linear", (3,), None]),
       st.sampled_from(["auto", "svd", None]))
def test_layer_norms_hostile(shape, p, include, l2_method):
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Flatten(),
                              torch.nn.Linear(72, 3))
    out = _contract(lambda: layer_norms(net, shape, p=p, include=include, l2_method=l2_method),
                    ("input_shape", "p must", "p ", "include", "l2_method", "size", "shape"))
    if out is None:
        return
    for row in out:
        if row["value"] is not None:
            assert math.isfinite(row["value"])


def test_layer_norms_not_a_module():
    with pytest.raises(TypeError, match="model"):
        layer_norms(np.ones(3), (1, 6, 6))


@FAST
@given(st.sampled_from([1, np.inf, "2", 3]), st.sampled_from([1e-3, -1.0, np.nan, "x"]),
       st.sampled_from([0.5, 1.0, -0.1]), st.sampled_from(["paper", "code", "both", 1]),
       st.sampled_from([False, True, "no", 1]), st.sampled_from([None, 2.0, -1.0, "1"]),
       st.sampled_from([None, (1, 5), (1, 0), (1, 2.5), "x", (1, 10 ** 7, 10 ** 7)]))
def test_norm_decay_hostile(p, beta, gamma, variant, include_bn, proj_radius, input_shape):
    net = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3, padding=1), torch.nn.Flatten(),
                              torch.nn.Linear(10, 2))
    out = _contract(lambda: NormDecay(net, p=p, beta=beta, gamma=gamma, variant=variant,
                                      include_bn=include_bn, proj_radius=proj_radius,
                                      input_shape=input_shape),
                    ("p must", "beta", "gamma", "variant", "include_bn", "proj_radius",
                     "input_shape", "model has no"))
    if out is None:
        return
    out.remove()


@FAST
@given(st.sampled_from([3, (3, 3), 0, 2.5, "3", (3, 3, 3, 3), 10 ** 12]),
       st.sampled_from([8, (8, 8), 2, 0, "8", 10 ** 9]),
       st.sampled_from([1, 2, 0]), st.sampled_from([0, 1, "same", -1]),
       st.sampled_from(["zeros", "circular", "reflect", "mirror"]))
def test_closed_form_is_exact_hostile(k, n, stride, padding, mode):
    out = _contract(lambda: closed_form_is_exact(k, n, stride, padding, 1, mode),
                    ("kernel_size", "input", "stride", "padding", "padding_mode"))
    if out is None:
        return
    l1_ok, linf_ok = out
    assert isinstance(l1_ok, bool) and isinstance(linf_ok, bool)


# ---------------------------------------------------------------------------------------
# one test per example of the issue
# ---------------------------------------------------------------------------------------
def test_issue_frobenius_and_l2_of_a_kernel_scaled_by_1e300():
    K = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    ref = _dense(K, 8, padding=1)
    _close(conv_norm(K * 1e300, "fro", 8, padding=1), ref["fro"] * 1e300, rel=1e-12)
    r = conv_norm(K * 1e300, 2, 8, padding=1, return_details=True)
    assert math.isfinite(r.upper) and r.lower <= ref[2] * 1e300 * (1 + 1e-9) <= r.upper * (1 + 2e-9)
    assert r.lower > 0.5 * ref[2] * 1e300  # not lower = upper = inf
    tiny = conv_norm(K * 1e-300, 2, 8, padding=1, return_details=True)
    assert tiny.lower > 0 and tiny.upper == pytest.approx(r.upper * 1e-600, rel=1e-9)
    _close(conv_norm(K * 1e-300, "fro", 8, padding=1), ref["fro"] * 1e-300, rel=1e-12)


def test_issue_project_l1_ball_large_entries():
    x = project_l1_ball(np.array([1e308, 1e308, -1e308]), 1.0)
    np.testing.assert_allclose(x, [1 / 3, 1 / 3, -1 / 3], rtol=1e-15)
    x = project_l1_ball(np.array([1e308, -1e308, 1e308]), 1e308)
    assert math.fsum(np.abs(x).tolist()) <= 1e308
    np.testing.assert_allclose(np.abs(x), 1e308 / 3, rtol=1e-15)


def test_issue_conv_norm_input_length_1e9():
    K = np.random.default_rng(1).standard_normal((2, 2, 3))
    _close(conv_norm(K, np.inf, 10 ** 9, padding=1), np.abs(K).sum(axis=(1, 2)).max(), 1e-14)
    _close(conv_norm(K, 1, 10 ** 9, padding=1), np.abs(K).sum(axis=(0, 2)).max(), 1e-14)
    with pytest.raises(ValueError, match="input_shape"):
        conv_norm(K, 2, 10 ** 12, padding=1)  # FFT and power iteration need O(n) memory


def test_issue_non_integers_are_type_errors():
    K = np.ones((1, 1, 3))
    for kw in (dict(stride=1.5), dict(dilation=2.0), dict(groups="1"), dict(padding=0.5)):
        with pytest.raises(TypeError, match=next(iter(kw))):
            conv_norm(K, 1, 8, **kw)
    with pytest.raises(TypeError, match="n_iter"):
        conv_norm(K, 2, 8, n_iter=2.0)


def test_issue_production_modules_do_not_import_test_references():
    root = Path(norms.__file__).parent
    for path in root.glob("*.py"):
        if path.name in ("_dense.py", "testing.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").endswith(("_dense", "testing")), path.name


@pytest.mark.parametrize("fmt", ["csr", "coo", "dok", "lil"])
def test_sparse_weights_are_type_errors(fmt):
    import scipy.sparse as sp

    W = sp.random(3, 4, density=0.5, format=fmt, random_state=0)
    for call, name in [(lambda: linear_norm(W, 1), "weight"),
                       (lambda: project_l1_ball(W, 1.0), "v"),
                       (lambda: bn_norm(W, np.ones(3)), "weight"),
                       (lambda: gram_bound(W), "blocks")]:
        with pytest.raises(TypeError, match=name):
            call()
