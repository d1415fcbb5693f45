"""Singular value clipping: the clipped circular operator and the reported norm, against dense SVDs."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.norms import conv_norm
from normgraph.norms._svc import _clip_grid_kernel, _grid_kernel, clip_singular_values


def circular_dense(full, groups):
    """Dense matrix of Y[o] = sum_u full[:, :, u] X[(o + u) mod n] from torch's conv."""
    D = full.ndim - 2
    grid = full.shape[2:]
    c_in = full.shape[1] * groups
    size = c_in * int(np.prod(grid))
    X = torch.eye(size, dtype=torch.float64).reshape((size, c_in) + tuple(grid))
    pad = []
    for n in reversed(grid):
        pad += [0, n - 1]
    Xp = F.pad(X, pad, mode="circular")
    Y = (F.conv1d, F.conv2d, F.conv3d)[D - 1](Xp, torch.as_tensor(full), groups=groups)
    return Y.reshape(size, -1).T.numpy()


@settings(max_examples=30)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.floats(0.1, 2.0),
       st.integers(0, 2**31 - 1))
def test_clipped_circular_operator_and_reported_norm(D, co, ci, g, k, d, extra, clip, seed):
    n = d * (k - 1) + 1 + extra
    w = np.random.default_rng(seed).standard_normal((co * g, ci) + (k,) * D)
    full = _grid_kernel(w, (n,) * D, (d,) * D)
    # the grid kernel is the layer itself
    before = np.linalg.svd(circular_dense(full, g), compute_uv=False)
    T_ref = conv_norm(w, 2, (n,) * D, padding="same", dilation=d, groups=g,
                      padding_mode="circular")
    assert abs(before[0] - T_ref) <= 1e-9 * T_ref
    clipped = _clip_grid_kernel(full, clip, g)
    after = np.linalg.svd(circular_dense(clipped, g), compute_uv=False)
    assert after[0] <= clip + 1e-8
    np.testing.assert_allclose(after, np.sort(np.minimum(before, clip))[::-1], atol=1e-9)
    out, norm = clip_singular_values(w, (n,) * D, clip=clip, dilation=d, groups=g,
                                     return_norm=True)
    assert out.shape == w.shape
    ref = conv_norm(out, 2, (n,) * D, padding="same", dilation=d, groups=g,
                    padding_mode="circular")
    assert abs(norm - ref) <= 1e-10 * max(ref, 1.0)


def test_more_rounds_and_identity_when_already_small():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 4, 3, 3))
    norms = [clip_singular_values(w, 8, clip=1.0, n_rounds=r, return_norm=True)[1]
             for r in (1, 3, 10)]
    assert norms[2] <= norms[0] and norms[2] < 1.2  # rounds pull the cropped norm to c
    small = w / (2 * conv_norm(w, 2, 8, padding=1, padding_mode="circular"))
    out = clip_singular_values(small, 8, clip=1.0)
    np.testing.assert_allclose(out, small, atol=1e-13)


def test_types_devices_dtypes_follow_input():
    w32 = np.random.default_rng(1).standard_normal((2, 2, 3)).astype(np.float32)
    out = clip_singular_values(w32, 6, clip=0.5)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    t = torch.as_tensor(w32)
    tout = clip_singular_values(t, 6, clip=0.5)
    assert isinstance(tout, torch.Tensor) and tout.dtype == torch.float32
    assert tout.device == t.device
    np.testing.assert_allclose(tout.numpy(), out)


def test_small_input_warns_and_returns_unchanged():
    w = np.random.default_rng(2).standard_normal((1, 1, 5))
    with pytest.warns(UserWarning, match="smaller than the dilated kernel"):
        out, norm = clip_singular_values(w, 3, clip=0.1, return_norm=True)
    np.testing.assert_array_equal(out, w)
    assert norm > 0.1


def test_bad_inputs():
    w = np.ones((1, 1, 3))
    with pytest.raises(ValueError, match="clip"):
        clip_singular_values(w, 5, clip=0.0)
    with pytest.raises(ValueError, match="n_rounds"):
        clip_singular_values(w, 5, n_rounds=0)
    with pytest.raises(ValueError, match="NaN/inf"):
        clip_singular_values(np.full((1, 1, 3), np.nan), 5)
    with pytest.raises(ValueError, match="3, 4 or 5 dims"):
        clip_singular_values(np.ones((3, 3)), 5)
    with pytest.raises(TypeError, match="complex"):
        clip_singular_values(np.ones((1, 1, 3), dtype=complex), 5)
    with pytest.raises(ValueError, match="input_shape"):
        clip_singular_values(w, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clip_singular_values(w, 5)  # no warning on a regular call
