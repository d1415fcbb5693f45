"""Certified l2 intervals at full resolution: containment against the dense SVD.

The dense reference is ``normgraph.norms.testing.conv_matrix`` (the explicit operator built
from the definition) and ``numpy.linalg.svd``; nothing here is copied from the code's output.
"""

import numpy as np
import pytest

from normgraph.norms import conv_norm
from normgraph.norms._l2_embed import (
    TorchConvOperator,
    embedding_grid,
    embedding_upper,
    lanczos_lower,
)
from normgraph.norms._l2 import _ConvOperator
from normgraph.norms._validation import normalize_conv_args
from normgraph.norms.testing import conv_matrix

MODES = ("zeros", "circular", "reflect", "replicate")


def random_layer(seed):
    """A random small layer (1-D/2-D/3-D, stride, dilation, groups, every mode, transposed)."""
    rng = np.random.default_rng(seed)
    D = int(rng.choice([1, 2, 3], p=[0.4, 0.45, 0.15]))
    transposed = rng.random() < 0.2
    mode = "zeros" if transposed else MODES[seed % 4]
    g = int(rng.integers(1, 3))
    co, ci = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    k = tuple(int(v) for v in rng.integers(1, 4 if D < 3 else 3, D))
    s = tuple(int(v) for v in rng.integers(1, 3, D))
    d = tuple(int(v) for v in rng.integers(1, 3, D))
    n = tuple(int(v) for v in rng.integers(3, 9 if D < 3 else 5, D))
    if transposed:
        pads = tuple(int(v) for v in rng.integers(0, 2, D))
        op = tuple(int(rng.integers(0, max(a, b))) for a, b in zip(s, d))
        shape = (ci, co // g) + k
    else:
        pads = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, (D, 2)))
        op = 0
        shape = (co, ci // g) + k
    w = rng.standard_normal(shape)
    kw = dict(stride=s, padding=pads, dilation=d, groups=g, padding_mode=mode,
              transposed=transposed, output_padding=op)
    try:
        normalize_conv_args(w, n, **kw)
    except ValueError:  # a setting PyTorch rejects: drop the padding, grow the input
        kw["padding"] = 0
        n = tuple(max(nt, dt * (kt - 1) + 1) for nt, dt, kt in zip(n, d, k))
    return w, n, kw


def check_contains(seed):
    w, n, kw = random_layer(seed)
    r = conv_norm(w, 2, n, return_details=True, **kw)
    T = conv_matrix(w, n, **kw).toarray()
    sigma = float(np.linalg.svd(T, compute_uv=False)[0])
    tol = 1e-12 * max(sigma, 1.0)
    assert r.lower <= sigma + tol, (seed, r, sigma)
    assert sigma <= r.upper + tol, (seed, r, sigma)
    # the warm-started Lanczos bound is close on these small layers
    assert r.lower >= sigma * (1 - 1e-2), (seed, r, sigma)
    if r.exact:
        assert abs(r.upper - sigma) <= 1e-10 * max(sigma, 1.0), (seed, r, sigma)
    return kw["padding_mode"], kw["transposed"], len(n)


def test_containment_fast_part():
    kinds = {check_contains(seed) for seed in range(60)}
    assert {m for m, _, _ in kinds} == set(MODES)
    assert any(t for _, t, _ in kinds) and {D for _, _, D in kinds} == {1, 2, 3}


@pytest.mark.slow
@pytest.mark.parametrize("block", range(4))
def test_containment_slow_part(block):
    for seed in range(60 + 40 * block, 100 + 40 * block):  # 160 more layers (220 in all)
        check_contains(seed)


@pytest.mark.parametrize("seed", range(12))
def test_circular_layers_are_tight_at_both_ends(seed):
    """Circular layers with stride dividing n and full padding: both ends within 1e-6."""
    rng = np.random.default_rng(100 + seed)
    D = 1 + seed % 3
    k = tuple(int(v) for v in rng.integers(1, 4, D))
    d = tuple(int(v) for v in rng.integers(1, 3, D))
    s = tuple(int(v) for v in rng.integers(1, 3, D))
    n = tuple(st * int(rng.integers(2, 5 if D < 3 else 3)) for st in s)
    pads = tuple((dt * (kt - 1) // 2, dt * (kt - 1) - dt * (kt - 1) // 2) for dt, kt in zip(d, k))
    w = rng.standard_normal((2, 3) + k)
    kw = dict(stride=s, padding=pads, dilation=d, padding_mode="circular")
    r = conv_norm(w, 2, n, return_details=True, **kw)
    sigma = float(np.linalg.svd(conv_matrix(w, n, **kw).toarray(), compute_uv=False)[0])
    assert abs(r.lower - sigma) <= 1e-6 * sigma and abs(r.upper - sigma) <= 1e-6 * sigma


@pytest.mark.parametrize("n, s, p, k", [(12, 2, 1, 3), (15, 2, 3, 7), (9, 3, 0, 2), (10, 1, 2, 5)])
def test_strided_zero_padded_interval_is_tight(n, s, p, k):
    """The strided circular embedding gives a narrow interval where the old bound was loose."""
    rng = np.random.default_rng(n + s)
    w = rng.standard_normal((4, 3, k, k))
    r = conv_norm(w, 2, (n, n), stride=s, padding=p, return_details=True)
    sigma = float(np.linalg.svd(conv_matrix(w, (n, n), s, p).toarray(), compute_uv=False)[0])
    assert r.lower <= sigma <= r.upper
    assert r.lower >= sigma * (1 - 1e-3)
    _, geom = normalize_conv_args(w, (n, n), stride=s, padding=p)
    assert all(Nt % s == 0 and Nt >= n + p for Nt in embedding_grid(geom))
    assert r.upper <= sigma * 1.1  # the stride-1 bounds were up to 1.7x here


def test_embedding_upper_is_the_circular_norm():
    """The certified embedding bound is within 0.3 % above the exact strided circular norm."""
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((5, 2, 3, 3))
    w, geom = normalize_conv_args(w0, (10, 10), stride=2, padding=1)
    N = embedding_grid(geom)
    ub, _ = embedding_upper(w, geom, 6)
    # the strided circular layer on N, padding (1, d(k-1)-1) so its outputs start at -pl
    T = conv_matrix(w0, N, stride=2, padding=((1, 1), (1, 1)), padding_mode="circular")
    circ = float(np.linalg.svd(T.toarray(), compute_uv=False)[0])
    assert circ <= ub <= circ * 1.003


def test_torch_operator_matches_reference_operator():
    rng = np.random.default_rng(5)
    for shape, n, kw in [((4, 1, 3, 2), (7, 6), dict(stride=(2, 1), padding=((2, 0), (1, 2)),
                                                    dilation=(1, 2), groups=2)),
                         ((3, 2, 3), (9,), dict(stride=3, padding=1)),
                         ((2, 2, 2, 2, 2), (4, 5, 3), dict(stride=2, padding=1))]:
        w, geom = normalize_conv_args(rng.standard_normal(shape), n, **kw)
        a, b = TorchConvOperator(w, geom), _ConvOperator(w, geom)
        x = rng.standard_normal(a.in_shape)
        y = rng.standard_normal(a.out_shape)
        np.testing.assert_allclose(a.forward(x), b.forward(x), atol=1e-12)
        np.testing.assert_allclose(a.adjoint(y), b.adjoint(y), atol=1e-12)


def test_lanczos_lower_is_a_rayleigh_quotient():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 25))
    sigma = np.linalg.svd(A, compute_uv=False)[0]

    class Op:
        in_shape = (25,)

        def forward(self, x):
            return A @ x

        def adjoint(self, y):
            return A.T @ y

    for steps in (1, 3, 10, 60):
        s = lanczos_lower(Op(), None, max_matvec=steps)
        assert s <= sigma * (1 + 1e-12)
    assert s >= sigma * (1 - 1e-10)


# ----------------------------------------------------------------------------------------
# the pieces of the circular-embedding bound, each against an independent computation
# ----------------------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from normgraph.norms._l2 import _circular_blocks  # noqa: E402
from normgraph.norms._l2_embed import (  # noqa: E402
    certified_block_max,
    gram_blocks,
    polyphase_kernel,
)


def random_zero_layer(seed):
    rng = np.random.default_rng(seed)
    D = int(rng.choice([1, 2, 3], p=[0.4, 0.45, 0.15]))
    g = int(rng.integers(1, 3))
    co, ci = g * int(rng.integers(1, 4)), g * int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(1, 5 if D < 3 else 3, D))
    s = tuple(int(v) for v in rng.integers(1, 4, D))
    d = tuple(int(v) for v in rng.integers(1, 3, D))
    n = tuple(int(v) for v in rng.integers(3, 10 if D < 3 else 5, D))
    pads = tuple((int(a), int(b)) for a, b in rng.integers(0, 4, (D, 2)))
    n = tuple(max(nt, dt * (kt - 1) + 1) for nt, dt, kt in zip(n, d, k))
    w0 = rng.standard_normal((co, ci // g) + k)
    return normalize_conv_args(w0, n, stride=s, padding=pads, dilation=d, groups=g)


@settings(max_examples=60)
@given(st.integers(0, 10**6))
def test_gram_blocks_are_the_squared_fft_blocks(seed):
    """Gram blocks from the spatial channel correlation == P^H P / P P^H of the FFT blocks."""
    w, geom = random_zero_layer(seed)
    grid = embedding_grid(geom)
    K, _ = polyphase_kernel(w, geom)
    sub = tuple(N // s for N, s in zip(grid, geom.stride))
    A, side = gram_blocks(K, sub, geom.groups)
    # reference: the folded kernel's FFT (a different computation), then the products
    P = _circular_blocks(w, grid, geom.stride, geom.dilation,
                         tuple(-pl for pl, _ in geom.padding), geom.groups)
    P = P.reshape((-1,) + P.shape[-2:])
    PH = np.conj(np.swapaxes(P, -1, -2))
    ref = PH @ P if side == "in" else P @ PH
    assert ref.shape[-1] == min(P.shape[-2:])
    np.testing.assert_allclose(A.numpy(), ref, atol=1e-10 * max(1.0, np.abs(ref).max()))


@settings(max_examples=40)
@given(st.integers(0, 10**6))
def test_embedding_bound_is_the_dense_circular_norm(seed):
    """The certified bound is within 1e-4 above the dense SVD of the strided circular layer
    on the embedding grid, and above the dense SVD of the zero-padded layer itself."""
    w, geom = random_zero_layer(seed)
    grid = embedding_grid(geom)
    ub, warm = embedding_upper(w, geom, 6)
    pads = tuple((pl, d * (k - 1) - pl) if d * (k - 1) >= pl else None
                 for (pl, _), d, k in zip(geom.padding, geom.dilation, geom.kernel_size))
    zero = float(np.linalg.svd(conv_matrix(w, geom.input_shape, geom.stride, geom.padding,
                                           geom.dilation, geom.groups).toarray(),
                               compute_uv=False)[0])
    assert zero <= ub * (1 + 1e-12)
    if None not in pads and all(pl <= N for (pl, _), N in zip(pads, grid)):
        # circular layer on the grid whose outputs start at -pl, one per stride step
        T = conv_matrix(w, grid, geom.stride, pads, geom.dilation, geom.groups,
                        padding_mode="circular").toarray()
        circ = float(np.linalg.svd(T, compute_uv=False)[0])
        assert circ * (1 - 1e-12) <= ub <= circ * (1 + 1e-4) + 1e-12


@settings(max_examples=40)
@given(st.integers(0, 10**6), st.integers(1, 40), st.integers(1, 12))
def test_certified_block_max_bounds_every_block(seed, nb, c):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((nb, c, c)) + 1j * rng.standard_normal((nb, c, c))
    if seed % 3 == 0 and c > 1:  # near ties between blocks and inside blocks
        B[nb // 2] = B[0] * (1 + 1e-9)
        B[:, :, 0] = B[:, :, 1]
    A = np.conj(np.swapaxes(B, -1, -2)) @ B
    exact = np.linalg.eigvalsh(A)[:, -1]
    import torch

    lam, i, v = certified_block_max(torch.from_numpy(A))
    assert exact.max() <= lam <= exact.max() * (1 + 1e-4)
    assert exact[i] >= exact.max() * (1 - 1e-6)
    rq = np.real(np.conj(v) @ A[i] @ v) / np.real(np.conj(v) @ v)
    assert rq >= exact[i] * (1 - 1e-6)


@settings(max_examples=40)
@given(st.integers(0, 10**6), st.integers(1, 30), st.integers(1, 20))
def test_cholesky_check_flags_exactly_the_blocks_not_below_the_shift(seed, nb, c):
    """lam I - A factorises iff lam > lambda_max(A), block by block (eigvalsh reference);
    shifts are kept 1e-6 away from every eigenvalue, far beyond rounding."""
    import torch

    from normgraph.norms._l2_embed import _not_factorized

    rng = np.random.default_rng(seed)
    B = rng.standard_normal((nb, c, c)) + 1j * rng.standard_normal((nb, c, c))
    A = np.conj(np.swapaxes(B, -1, -2)) @ B
    top = np.linalg.eigvalsh(A)[:, -1]
    lam = float(np.median(top)) * (1 + 1e-3 * rng.standard_normal())
    lam = lam if np.all(np.abs(top - lam) > 1e-6 * lam) else float(top.max()) * 1.01
    M = lam * np.eye(c) - A
    fail = _not_factorized(torch.from_numpy(M.copy())).numpy()
    np.testing.assert_array_equal(fail, top >= lam)


@pytest.mark.parametrize("seed", range(8))
def test_float32_lanczos_lower_is_certified(seed):
    """Lanczos in float32 (torch convs), final ratio in float64: never above the dense sigma_1."""
    w, geom = random_zero_layer(1000 + seed)
    op = TorchConvOperator(w, geom)
    T = conv_matrix(w, geom.input_shape, geom.stride, geom.padding, geom.dilation,
                    geom.groups).toarray()
    sigma = float(np.linalg.svd(T, compute_uv=False)[0])
    for steps in (1, 4, 60):
        s = lanczos_lower(op, None, max_matvec=steps)
        assert s <= sigma * (1 + 1e-12)
    assert s >= sigma * (1 - 1e-4)
    _, warm = embedding_upper(w, geom, 6)
    assert lanczos_lower(op, warm, max_matvec=60) <= sigma * (1 + 1e-12)


@settings(max_examples=40)
@given(st.integers(0, 10**6))
def test_unique_blocks_keep_every_spectrum(seed):
    """Every Gram block skipped by ``unique_blocks`` has the spectrum of a kept one, so the
    maximum over the kept blocks is the maximum over all (eigenvalues by numpy's eigvalsh)."""
    from normgraph.norms._l2_embed import unique_blocks

    w, geom = random_zero_layer(seed)
    grid = embedding_grid(geom)
    K, _ = polyphase_kernel(w, geom)
    sub = tuple(N // s for N, s in zip(grid, geom.stride))
    A, _ = gram_blocks(K, sub, geom.groups)
    ev = np.linalg.eigvalsh(A.numpy())
    keep = unique_blocks(sub, K.shape[2:], geom.groups).numpy()
    assert len(set(keep.tolist())) == len(keep) and keep.max() < len(ev)
    tol = 1e-10 * max(1.0, float(np.abs(ev).max()))
    for i in range(len(ev)):  # each block's whole spectrum appears among the kept blocks
        assert np.abs(ev[keep] - ev[i]).max(axis=1).min() <= tol, (seed, i)


def test_unique_blocks_of_a_1x1_conv_and_of_conjugate_lines():
    from normgraph.norms._l2_embed import unique_blocks

    assert unique_blocks((6, 6), (1, 1), 3).tolist() == [0, 1, 2]  # one per group
    # rfft of a 4x4 grid: 4 x 3 stored; on the lines f2 = 0 and f2 = 2, f1 = 3 mirrors f1 = 1
    kept = set(unique_blocks((4, 4), (3, 3), 1).tolist())
    assert kept == set(range(12)) - {3 * 3 + 0, 3 * 3 + 2}


@pytest.mark.parametrize("seed", range(6))
def test_batched_gram32_and_stacked_warm_starts(seed):
    """``gram32`` on a batch equals T^T T of the dense matrix row by row, and a stacked warm
    start (several frequency vectors) still gives a certified, tight lower bound."""
    import torch

    w, geom = random_zero_layer(2000 + seed)
    op = TorchConvOperator(w, geom)
    T = conv_matrix(w, geom.input_shape, geom.stride, geom.padding, geom.dilation,
                    geom.groups).toarray()
    X = np.random.default_rng(seed).standard_normal((3, T.shape[1]))
    got = op.gram32(torch.from_numpy(X.astype(np.float32))).double().numpy()
    ref = X @ T.T @ T
    np.testing.assert_allclose(got, ref, atol=1e-4 * max(1.0, np.abs(ref).max()))
    sigma = float(np.linalg.svd(T, compute_uv=False)[0])
    _, warm = embedding_upper(w, geom, 6)
    rng = np.random.default_rng(seed)
    stack = np.stack([warm[0], rng.standard_normal(warm.shape[1:]) + 0j])
    s = lanczos_lower(op, stack, max_matvec=60)
    assert s <= sigma * (1 + 1e-12)
    assert s >= sigma * (1 - 1e-4)
