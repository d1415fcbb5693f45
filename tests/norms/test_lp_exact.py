"""Exact l1 / l-inf / Frobenius norms from boundary classes against the dense operator matrix."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.norms import conv_norm
from normgraph.norms._lp import conv_lp_norm
from normgraph.norms._patterns import axis_patterns, landing_table
from normgraph.norms._validation import normalize_conv_args
from normgraph.norms.testing import conv_matrix

MODES = ["zeros", "circular", "reflect", "replicate"]


def random_layer(rng, D, mode, transposed=False):
    """A random valid layer within the spec's test ranges: k <= 5, n <= 10, C <= 3."""
    groups = int(rng.integers(1, 4))
    depthwise = rng.random() < 0.25
    cin_g = 1 if depthwise else int(rng.integers(1, 3))
    out_g = 1 if (depthwise and rng.random() < 0.5) else int(rng.integers(1, 3))
    if groups * max(cin_g, out_g) > 3:
        groups = max(1, 3 // max(cin_g, out_g))
    max_n = {1: 10, 2: 7, 3: 4}[D]
    max_k = {1: 5, 2: 4, 3: 3}[D]
    k = tuple(int(v) for v in rng.integers(1, max_k + 1, size=D))
    s = tuple(int(v) for v in rng.integers(1, 4, size=D))
    d = tuple(int(v) for v in rng.integers(1, 4, size=D))
    n, pads = [], []
    for t in range(D):
        nt = int(rng.integers(1, max_n + 1))
        hi = {"zeros": 3, "circular": nt, "reflect": nt - 1, "replicate": 3}[mode]
        pl, pr = (int(v) for v in rng.integers(0, min(hi, 3) + 1, size=2))
        if transposed:
            pl = pr = min(pl, ((nt - 1) * s[t] + d[t] * (k[t] - 1)) // 2)
        elif nt + pl + pr < d[t] * (k[t] - 1) + 1:
            nt = d[t] * (k[t] - 1) + 1 - pl - pr
            if mode == "reflect" and max(pl, pr) >= nt:
                nt = max(pl, pr) + 1
        n.append(nt)
        pads.append((pl, pr))
    op = tuple(int(rng.integers(0, max(s[t], d[t]))) for t in range(D)) if transposed else 0
    shape = ((cin_g * groups, out_g) if transposed else (out_g * groups, cin_g)) + k
    K = rng.standard_normal(shape)
    if rng.random() < 0.2:
        K = np.abs(K)
    if rng.random() < 0.1:
        K = np.round(K)  # exact ties and cancellations
    return dict(weight=K, input_shape=tuple(n), stride=s, padding=tuple(pads), dilation=d,
                groups=groups, padding_mode=mode, transposed=transposed, output_padding=op)


@st.composite
def layers(draw, transposed=False):
    D = draw(st.integers(1, 3))
    mode = "zeros" if transposed else draw(st.sampled_from(MODES))
    return random_layer(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), D, mode,
                        transposed)


def dense_norms(cfg):
    T = conv_matrix(**cfg)
    A = abs(T)
    return A.sum(axis=0).max(), A.sum(axis=1).max(), np.sqrt(T.multiply(T).sum())


def assert_rel(a, b, tol=1e-12):
    assert abs(a - b) <= tol * max(abs(b), 1e-300), (a, b)


@settings(max_examples=300)
@given(layers())
def test_l1_linf_fro_equal_dense(cfg):
    l1, linf, fro = dense_norms(cfg)
    assert_rel(conv_norm(p=1, **cfg), l1)
    assert_rel(conv_norm(p=np.inf, **cfg), linf)
    assert_rel(conv_norm(p="fro", **cfg), fro)


@settings(max_examples=150)
@given(layers(transposed=True))
def test_transposed_l1_linf_equal_dense(cfg):
    l1, linf, fro = dense_norms(cfg)
    assert_rel(conv_norm(p=1, **cfg), l1)
    assert_rel(conv_norm(p="inf", **cfg), linf)
    assert_rel(conv_norm(p="fro", **cfg), fro)


@settings(max_examples=150)
@given(layers())
def test_pruning_does_not_change_the_norm(cfg):
    w, g = normalize_conv_args(**cfg)
    for kind in ("row", "col"):
        pruned, n1 = conv_lp_norm(w, g, kind, prune=True)
        full, n2 = conv_lp_norm(w, g, kind, prune=False)
        assert n1 == n2
        assert_rel(pruned, full, 1e-13)


def test_many_random_layers_every_mode_and_dimension():
    # a fixed sweep on top of the property tests: every (D, mode) pair, signed and abs kernels
    rng = np.random.default_rng(2024)
    worst = 0.0
    for D in (1, 2, 3):
        for mode in MODES:
            for _ in range(25):
                cfg = random_layer(rng, D, mode)
                l1, linf, _ = dense_norms(cfg)
                for p, ref in ((1, l1), (np.inf, linf)):
                    got = conv_norm(p=p, **cfg)
                    worst = max(worst, abs(got - ref) / max(ref, 1e-300))
    assert worst <= 1e-12


def _bounded_counts(n, m, k, s, d, pl, pr, mode):
    rows = axis_patterns(n, m, k, s, d, pl, mode, "row", False).n_distinct
    cols = axis_patterns(n, m, k, s, d, pl, mode, "col", False).n_distinct
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    return (rows <= min(m, ceil(pl, s) + ceil(pr, s) + 2)
            and cols <= min(n, s + 2 * (d * (k - 1) + max(pl, pr))))


def test_pattern_count_bounds():
    rng = np.random.default_rng(7)
    for _ in range(400):
        mode = MODES[int(rng.integers(4))]
        n = int(rng.integers(1, 40))
        k, s, d = (int(v) for v in rng.integers(1, 6, size=3))
        hi = {"zeros": 6, "circular": n, "reflect": n - 1, "replicate": 6}[mode]
        pl, pr = (int(v) for v in rng.integers(0, min(hi, 6) + 1, size=2))
        if n + pl + pr < d * (k - 1) + 1:
            continue
        m = (n + pl + pr - d * (k - 1) - 1) // s + 1
        assert _bounded_counts(n, m, k, s, d, pl, pr, mode), (n, k, s, d, pl, pr, mode)


def test_patterns_independent_of_length_in_the_interior():
    # the number of classes saturates: a 3-tap "same" conv has 3 replicate row classes at
    # any size, and 2 reflect ones (both borders fold taps {0, 2} onto one pixel)
    for n in (5, 50, 500):
        assert axis_patterns(n, n, 3, 1, 1, 1, "replicate", "row", False).n_distinct == 3
        assert axis_patterns(n, n, 3, 1, 1, 1, "reflect", "row", False).n_distinct == 2
        assert axis_patterns(n, n, 3, 1, 1, 1, "zeros", "row", True).matrices[0].shape == (3, 3)


def test_landing_table_matches_definition():
    # reflect without edge repeat: -1 -> 1, n -> n-2; replicate clamps; circular wraps
    assert landing_table(4, 1, 6, 1, 1, 1, "reflect").tolist() == [[1, 0, 1, 2, 3, 2]]
    assert landing_table(4, 1, 6, 1, 1, 1, "replicate").tolist() == [[0, 0, 1, 2, 3, 3]]
    assert landing_table(4, 1, 6, 1, 1, 1, "circular").tolist() == [[3, 0, 1, 2, 3, 0]]
    assert landing_table(4, 1, 6, 1, 1, 1, "zeros").tolist() == [[-1, 0, 1, 2, 3, -1]]
    assert landing_table(1, 1, 2, 1, 3, 0, "reflect").tolist() == [[0, 0]]


def test_replicate_border_column_exceeds_interior():
    # spec 2.2: replicate k=3, p=1: pixel 0 collects [{0,1},{0}]; |K0+K1|+|K0| > |K0|+|K1|+|K2|
    K = np.array([[[2.0, 1.0, 0.1]]])
    exact = conv_norm(K, 1, 6, padding=1, padding_mode="replicate")
    assert exact == pytest.approx(abs(2 + 1) + 2)
    assert exact > np.abs(K).sum()
    l1, _, _ = dense_norms(dict(weight=K, input_shape=6, padding=1, padding_mode="replicate"))
    assert_rel(exact, l1)


def test_all_taps_in_padding_gives_zero():
    K = np.ones((1, 1, 2))
    assert conv_norm(K, 1, 1, dilation=3, padding=(1, 2)) == 0.0
    assert conv_norm(K, np.inf, 1, dilation=3, padding=(1, 2)) == 0.0
    l1, linf, _ = dense_norms(dict(weight=K, input_shape=1, dilation=3, padding=(1, 2)))
    assert l1 == linf == 0.0


def test_large_layer_against_dense_once():
    # a realistic 2-D layer (stride 2, reflect, groups) still agrees with the sparse matrix
    rng = np.random.default_rng(11)
    cfg = dict(weight=rng.standard_normal((8, 2, 3, 5)), input_shape=(4, 17, 12), stride=(2, 1),
               padding=((1, 2), 2), dilation=(1, 2), groups=2, padding_mode="reflect")
    l1, linf, _ = dense_norms(cfg)
    assert_rel(conv_norm(p=1, **cfg), l1)
    assert_rel(conv_norm(p=np.inf, **cfg), linf)


@settings(max_examples=40)
@given(layers())
def test_general_kernel_equals_selection_kernel(cfg):
    # the general (merged-tap) kernel must also be right on selection layers, and vice versa
    from normgraph.norms._lp import (_cols_general_max, _group_tables, _rows_general_max,
                                     _layer_plan)

    w, g = normalize_conv_args(**cfg)
    C, J = w.shape[:2]
    P = int(np.prod(g.kernel_size))
    for kind in ("row", "col"):
        pats = [axis_patterns(g.input_shape[t], g.output_shape[t], g.kernel_size[t],
                              g.stride[t], g.dilation[t], g.padding[t][0], g.padding_mode, kind)
                for t in range(g.ndim)]
        if any(len(p.matrices) == 0 for p in pats):
            continue
        tables = _group_tables(pats, g.kernel_size)
        if kind == "row":
            general, total = _rows_general_max(w.reshape(C, J, P), *tables)
        else:
            general, total = _cols_general_max(w.reshape(g.groups, C // g.groups, J, P), *tables)
        assert_rel(general, conv_lp_norm(w, g, kind)[0], 1e-13)
        assert_rel(total, np.abs(w).sum(), 1e-13)
        assert _layer_plan.cache_info().currsize >= 1
