"""The brute-force conv_matrix against two independent evaluations of the layer.

1. NumPy: ``np.pad`` (constant/wrap/reflect/edge) followed by strided, dilated windows
   (and, for transposed layers, an explicit scatter-add).
2. PyTorch: ``F.pad`` + ``F.conv{1,2,3}d`` / ``F.conv_transpose{1,2,3}d`` applied to every basis
   vector at once, which yields the full matrix column by column.
"""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.norms.testing import conv_matrix

NP_MODE = {"zeros": "constant", "circular": "wrap", "reflect": "reflect", "replicate": "edge"}


def numpy_conv(K, X, stride, pads, dilation, groups, mode):
    """Y = cross-correlation of the padded X with K (PyTorch conventions), by windows."""
    D = K.ndim - 2
    Xp = np.pad(X, [(0, 0)] + [tuple(p) for p in pads], mode=NP_MODE[mode])
    c_out, cin_g = K.shape[:2]
    k = K.shape[2:]
    m = [(Xp.shape[1 + t] - dilation[t] * (k[t] - 1) - 1) // stride[t] + 1 for t in range(D)]
    Y = np.zeros((c_out, *m))
    out_g = c_out // groups
    for c in range(c_out):
        for jj in range(cin_g):
            j = (c // out_g) * cin_g + jj
            for a in itertools.product(*(range(kt) for kt in k)):
                win = tuple(slice(a[t] * dilation[t], a[t] * dilation[t] + (m[t] - 1) * stride[t] + 1,
                                  stride[t]) for t in range(D))
                Y[c] += K[(c, jj) + a] * Xp[(j,) + win]
    return Y


def numpy_conv_transpose(W, X, stride, pads, dilation, groups, output_padding):
    """Scatter-add definition of ConvTransposeNd (zeros padding, possibly asymmetric)."""
    D = W.ndim - 2
    c_in, out_g = W.shape[:2]
    k = W.shape[2:]
    n = X.shape[1:]
    N = [(n[t] - 1) * stride[t] - pads[t][0] - pads[t][1] + dilation[t] * (k[t] - 1)
         + output_padding[t] + 1 for t in range(D)]
    L = [max((n[t] - 1) * stride[t] + dilation[t] * (k[t] - 1) + 1, pads[t][0] + N[t])
         for t in range(D)]
    Yfull = np.zeros((out_g * groups, *L))
    in_g = c_in // groups
    for i in range(c_in):
        gi = i // in_g
        for jj in range(out_g):
            for a in itertools.product(*(range(kt) for kt in k)):
                win = tuple(slice(a[t] * dilation[t], a[t] * dilation[t] + (n[t] - 1) * stride[t] + 1,
                                  stride[t]) for t in range(D))
                Yfull[(gi * out_g + jj,) + win] += W[(i, jj) + a] * X[i]
    crop = tuple(slice(pads[t][0], pads[t][0] + N[t]) for t in range(D))
    return Yfull[(slice(None),) + crop]


def torch_matrix(K, n, stride, pads, dilation, groups, mode, transposed=False, output_padding=0):
    """Matrix of the PyTorch layer, column by column (basis vectors as a batch)."""
    D = K.ndim - 2
    c_in = K.shape[0] if transposed else K.shape[1] * groups
    n_cols = c_in * int(np.prod(n))
    basis = torch.eye(n_cols, dtype=torch.float64).reshape(n_cols, c_in, *n)
    Kt = torch.from_numpy(K)
    if transposed:
        fn = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][D - 1]
        Y = fn(basis, Kt, stride=stride, padding=tuple(p[0] for p in pads),
               output_padding=output_padding, groups=groups, dilation=dilation)
    else:
        fn = [F.conv1d, F.conv2d, F.conv3d][D - 1]
        flat = [v for p in reversed(pads) for v in p]
        if mode == "zeros":
            xp = F.pad(basis, flat)
        else:
            xp = F.pad(basis, flat, mode=mode)
        Y = fn(xp, Kt, stride=stride, dilation=dilation, groups=groups)
    return Y.reshape(n_cols, -1).T.numpy()


def random_config(rng, D, mode, transposed=False):
    """A random valid layer: sizes small enough for a dense matrix, every setting exercised."""
    groups = int(rng.integers(1, 4))
    cin_g = 1 if rng.random() < 0.3 else int(rng.integers(1, 3))  # depthwise 30 %
    out_g = int(rng.integers(1, 3))
    max_n = {1: 9, 2: 6, 3: 4}[D]
    k = tuple(int(v) for v in rng.integers(1, 5 if D < 3 else 4, size=D))
    s = tuple(int(v) for v in rng.integers(1, 4, size=D))
    d = tuple(int(v) for v in rng.integers(1, 4, size=D))
    n, pads = [], []
    for t in range(D):
        nt = int(rng.integers(1, max_n + 1))
        hi = {"zeros": 3, "circular": nt, "reflect": nt - 1, "replicate": 3}[mode]
        pl, pr = (int(v) for v in rng.integers(0, min(hi, 3) + 1, size=2))
        if transposed:
            op_max = max(s[t], d[t]) - 1
            # keep the output size N = (n-1)s - 2p + d(k-1) + op + 1 positive
            pl = pr = min(pl, ((nt - 1) * s[t] + d[t] * (k[t] - 1)) // 2)
        elif nt + pl + pr < d[t] * (k[t] - 1) + 1:
            nt = d[t] * (k[t] - 1) + 1 - pl - pr  # make the layer valid
            if mode == "reflect" and max(pl, pr) >= nt:
                nt = max(pl, pr) + 1
        n.append(nt)
        pads.append((pl, pr))
    op = (tuple(int(rng.integers(0, max(s[t], d[t]))) for t in range(D)) if transposed else 0)
    shape = ((cin_g * groups, out_g) if transposed else (out_g * groups, cin_g)) + k
    K = rng.standard_normal(shape)
    if rng.random() < 0.2:
        K = np.abs(K)
    return dict(K=K, n=tuple(n), stride=s, pads=tuple(pads), dilation=d, groups=groups,
                mode=mode, output_padding=op)


@st.composite
def conv_configs(draw, transposed=False):
    D = draw(st.integers(1, 3))
    mode = "zeros" if transposed else draw(st.sampled_from(list(NP_MODE)))
    seed = draw(st.integers(0, 2**32 - 1))
    return random_config(np.random.default_rng(seed), D, mode, transposed)


@settings(max_examples=40)
@given(conv_configs())
def test_conv_matrix_matches_numpy_pad_and_torch(c):
    T = conv_matrix(c["K"], c["n"], c["stride"], c["pads"], c["dilation"], c["groups"], c["mode"])
    c_in = c["K"].shape[1] * c["groups"]
    X = np.random.default_rng(0).standard_normal((c_in, *c["n"]))
    Y = numpy_conv(c["K"], X, c["stride"], c["pads"], c["dilation"], c["groups"], c["mode"])
    assert T.shape == (Y.size, X.size)
    np.testing.assert_allclose(T @ X.ravel(), Y.ravel(), rtol=1e-12, atol=1e-12)
    Tt = torch_matrix(c["K"], c["n"], c["stride"], c["pads"], c["dilation"], c["groups"], c["mode"])
    np.testing.assert_allclose(T.toarray(), Tt, rtol=1e-12, atol=1e-13)


@settings(max_examples=30)
@given(conv_configs(transposed=True))
def test_transposed_conv_matrix_matches_scatter_and_torch(c):
    T = conv_matrix(c["K"], c["n"], c["stride"], c["pads"], c["dilation"], c["groups"],
                    transposed=True, output_padding=c["output_padding"])
    c_in = c["K"].shape[0]
    X = np.random.default_rng(1).standard_normal((c_in, *c["n"]))
    Y = numpy_conv_transpose(c["K"], X, c["stride"], c["pads"], c["dilation"], c["groups"],
                             c["output_padding"])
    assert T.shape == (Y.size, X.size)
    np.testing.assert_allclose(T @ X.ravel(), Y.ravel(), rtol=1e-12, atol=1e-12)
    Tt = torch_matrix(c["K"], c["n"], c["stride"], c["pads"], c["dilation"], c["groups"], "zeros",
                      transposed=True, output_padding=c["output_padding"])
    np.testing.assert_allclose(T.toarray(), Tt, rtol=1e-12, atol=1e-13)


def test_asymmetric_transposed_padding_matches_scatter():
    # PyTorch has no asymmetric ConvTranspose padding; the scatter definition is the oracle.
    rng = np.random.default_rng(3)
    W = rng.standard_normal((2, 3, 3, 2))
    pads = ((2, 0), (0, 1))
    T = conv_matrix(W, (4, 3), stride=(2, 1), padding=pads, dilation=(1, 2), transposed=True,
                    output_padding=(1, 0))
    X = rng.standard_normal((2, 4, 3))
    Y = numpy_conv_transpose(W, X, (2, 1), pads, (1, 2), 1, (1, 0))
    np.testing.assert_allclose(T @ X.ravel(), Y.ravel(), rtol=1e-12, atol=1e-12)


def test_transposed_is_transpose_of_conv_on_output_grid():
    rng = np.random.default_rng(4)
    W = rng.standard_normal((4, 3, 3))
    Tt = conv_matrix(W, 5, stride=2, padding=1, transposed=True, output_padding=1)
    N = (5 - 1) * 2 - 2 + 2 + 1 + 1
    Tc = conv_matrix(W, N, stride=2, padding=1)  # W read as a conv weight: 4 outputs
    m = Tc.shape[0] // 4
    keep = np.concatenate([np.arange(c * m, c * m + 5) for c in range(4)])
    np.testing.assert_array_equal(Tt.toarray(), Tc.toarray()[keep].T)


@pytest.mark.parametrize("mode,expected", [
    # n=2, k=3, padding 2, circular: taps 0 and 2 of the first output wrap onto the same pixel
    ("circular", [[1 + 3, 2], [2, 1 + 3], [1 + 3, 2], [2, 1 + 3]]),
    ("replicate", [[1 + 2 + 3, 0], [1 + 2, 3], [1, 2 + 3], [0, 1 + 2 + 3]]),
])
def test_coincident_taps_add(mode, expected):
    T = conv_matrix(np.array([[[1.0, 2.0, 3.0]]]), 2, padding=2 if mode == "circular" else 2,
                    padding_mode=mode)
    np.testing.assert_array_equal(T.toarray(), np.array(expected, dtype=float))


def test_torch_weight_accepted():
    W = torch.randn(2, 1, 3, dtype=torch.float32)
    T = conv_matrix(W, 4, padding=1)
    np.testing.assert_allclose(T.toarray(), torch_matrix(W.double().numpy(), (4,), (1,),
                                                         ((1, 1),), (1,), 1, "zeros"))
