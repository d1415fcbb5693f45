"""Tight certified l2 intervals for zero-padded (strided, dilated, grouped) conv layers.

Upper bound: the strided circular embedding
-------------------------------------------
A zero-padded layer ``Y[o] = sum_a K[a] X~[o s - pl + a d]`` (``X~`` = ``X`` on ``[0, n)``,
zero elsewhere) is, on every axis, a restriction of the *strided circular* layer on a grid
``N`` with ``s | N``, ``N >= n + pl``, ``N >= (m - 1) s - pl + d (k - 1) + 1`` and
``N >= m s``: embed ``X`` into the ``N``-grid with zeros (an isometry), apply
``Y_c[o] = sum_a K[a] X[(o s - pl + a d) mod N]`` for ``o < N / s`` and keep the outputs
``o < m`` (a coordinate restriction). Every padded index ``q`` of a kept output lies in
``[-pl, N)``: ``q`` in ``[0, n)`` reads ``X[q]``, and ``q < 0`` wraps to ``N + q >= n``, a zero
of the embedding, as does ``n <= q < N``. Hence ``||T_zero||_2 <= ||T_circ,N||_2``
(the circular-embedding bound of Delattre, Barthelemy & Allauzen, arXiv:2402.00240, here
with the stride kept). The strided circular layer is exactly block-diagonalised by the
polyphase decomposition of its input followed by the FFT (Sedghi, Gupta & Long, ICLR 2019;
the spec's polyphase extension): ``||T_circ,N||_2 = max_w sigma_1(P(w))``.

Each block ``A(w) = P(w)^H P(w)`` (smaller side) is certified below a target ``lam`` by a
Cholesky factorisation of ``lam I - A(w)``: it succeeds (up to rounding, covered by a
relative slack of ``1e-8``) iff ``lam > lambda_max(A(w))``. Targets start just above a
batched power estimate of the largest block eigenvalue and grow geometrically; blocks that
no target up to 5 % certifies get the frequency-domain Gram iteration bound (Delattre et al.,
ICML 2023) instead. The result is an upper bound of the circular norm at most about 0.2 %
above it (when the first target certifies), hence of the zero-padded norm.

Lower bound: Lanczos on ``T^T T``, warm-started
-----------------------------------------------
The top singular vector of the worst frequency block gives a plane wave on the ``N``-grid;
restricted to ``[0, n)`` it is an input of the zero-padded layer whose Rayleigh quotient is
already close to ``sigma_1``. It starts a Lanczos iteration (full reorthogonalisation, the tridiagonal
problem solved by ``scipy.linalg.eigh_tridiagonal``) on ``T^T T`` applied through the layer's own forward and adjoint. The reported lower bound is
``||T x|| / ||x||`` recomputed for the explicit vectors ``x`` (warm start and Ritz vector):
the square root of a Rayleigh quotient of ``T^T T``, hence ``<= sigma_1`` whatever the
convergence of the eigensolver.
"""

from __future__ import annotations

import math

import numpy as np

from .._utils.numeric import scaled_norm

__all__ = ["embedding_grid", "embedding_upper", "lanczos_lower"]

# relative slack covering the rounding of A = P^H P and of the Cholesky factorisation
_CHOL_SLACK = 1e-8
# targets tried (relative to the power estimate of the largest block eigenvalue, on sigma)
_TARGETS = (1.002, 1.01, 1.05)
_POWER_STEPS = 40
_CHUNK_ENTRIES = 1 << 22


def embedding_grid(conv):
    """Smallest circular grid (multiple of the stride) of which a zeros-padded layer is a restriction.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import normalize_conv_args
    >>> from normgraph.norms._l2_embed import embedding_grid
    >>> _, g = normalize_conv_args(np.ones((1, 1, 7, 7)), (224, 224), stride=2, padding=3)
    >>> embedding_grid(g)
    (228, 228)
    """
    grid = []
    for n, m, k, s, d, (pl, _) in zip(conv.input_shape, conv.output_shape, conv.kernel_size,
                                      conv.stride, conv.dilation, conv.padding):
        need = max(n + pl, (m - 1) * s - pl + d * (k - 1) + 1, m * s, n)
        grid.append(-(-need // s) * s)
    return tuple(grid)


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is optional for the norms
        return None
    return torch


def _gram_side(B):
    """``A = B^H B`` on the smaller side, and whether ``B`` was transposed to get it."""
    flip = B.shape[-2] < B.shape[-1]
    if flip:
        B = np.conj(np.swapaxes(B, -1, -2))
    torch = _torch()
    if torch is not None:
        Bt = torch.from_numpy(np.ascontiguousarray(B))
        return (Bt.mH @ Bt).numpy(), flip
    return np.matmul(np.conj(np.swapaxes(B, -1, -2)), B), flip


def _power_estimate(A):
    """Batched power iteration: a lower estimate of lambda_max of each Hermitian PSD block."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(A.shape[:-1]) + 1j * rng.standard_normal(A.shape[:-1])).astype(
        A.dtype, copy=False)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    est = np.zeros(A.shape[0])
    for _ in range(_POWER_STEPS):
        y = np.einsum("bij,bj->bi", A, x)
        nrm = np.linalg.norm(y, axis=-1)
        est = np.maximum(est, nrm)
        x = y / np.where(nrm > 0, nrm, 1.0)[:, None]
    return est


def _below(A, lam):
    """Boolean mask: blocks with ``lambda_max(A) <= lam (1 + slack)``, by Cholesky of ``lam I - A``."""
    c = A.shape[-1]
    M = -A.copy()
    idx = np.arange(c)
    M[:, idx, idx] += lam
    torch = _torch()
    if torch is not None:
        _, info = torch.linalg.cholesky_ex(torch.from_numpy(M))
        return info.numpy() == 0
    ok = np.zeros(A.shape[0], dtype=bool)
    for i in range(A.shape[0]):
        try:
            np.linalg.cholesky(M[i])
            ok[i] = True
        except np.linalg.LinAlgError:
            pass
    return ok


def embedding_upper(w, conv, n_iter):
    """Certified upper bound of a zeros-padded layer's norm via its strided circular embedding.

    Parameters
    ----------
    w : ndarray of float64, weight of order 1 (PyTorch layout, non-transposed view)
    conv : ConvGeometry with ``padding_mode == "zeros"``
    n_iter : int, Gram iterations for blocks no Cholesky target certifies

    Returns
    -------
    upper : float
        Without the reporting margin.
    warm : ndarray or None
        A real input of the layer built from the worst block's top singular vector.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import normalize_conv_args
    >>> from normgraph.norms._l2_embed import embedding_upper
    >>> w, g = normalize_conv_args(np.ones((1, 1, 3)), 16, padding=1)
    >>> ub, x = embedding_upper(w, g, 6)
    >>> sigma = 1 + 2 * np.cos(np.pi / 17)              # the exact norm of this layer
    >>> bool(sigma <= ub <= 3.0 * 1.0021)                 # circular norm on 17 points: 3
    True
    """
    from ._l2 import _circular_blocks, _gram_bound_unit

    grid = embedding_grid(conv)
    shift = tuple(-pl for pl, _ in conv.padding)
    spec = _circular_blocks(w, grid, conv.stride, conv.dilation, shift, conv.groups)
    blocks = spec.reshape((-1,) + spec.shape[-2:])
    per = max(1, _CHUNK_ENTRIES // max(1, blocks.shape[1] * blocks.shape[2]))
    grams, ests = [], []
    for start in range(0, blocks.shape[0], per):
        A, _ = _gram_side(blocks[start:start + per])
        grams.append(A)
        ests.append(_power_estimate(A))
    est = np.concatenate(ests)
    best = int(np.argmax(est))
    mu = float(est[best])
    if mu <= 0.0:
        return 0.0, None
    upper_sq = 0.0
    for A in grams:
        todo = np.ones(A.shape[0], dtype=bool)
        for f in _TARGETS:
            lam = mu * f * f
            ok = _below(A[todo], lam)
            if ok.any():
                upper_sq = max(upper_sq, lam * (1.0 + _CHOL_SLACK))
            sel = np.flatnonzero(todo)
            todo[sel[ok]] = False
            if not todo.any():
                break
        if todo.any():  # no target certified these blocks: Gram iteration on them
            # A is Hermitian PSD: its top singular value is lambda_max(A) = sigma_1(P)^2
            upper_sq = max(upper_sq, _gram_bound_unit(A[todo], n_iter))
    warm = _warm_vector(blocks[best], best, conv, grid, spec.shape)
    return math.sqrt(upper_sq), warm


def _warm_vector(B, index, conv, grid, spec_shape):
    """Plane wave along the top right singular vector of block ``index``, cut to the input."""
    D = conv.ndim
    g = conv.groups
    cin_g = conv.in_channels // g
    s = conv.stride
    sub = tuple(grid[t] // s[t] for t in range(D))
    freq_shape = sub[:-1] + (sub[-1] // 2 + 1,)
    f_flat, gi = divmod(index, g)
    f = np.unravel_index(f_flat, freq_shape)
    _, vecs = np.linalg.eigh(np.conj(B.T) @ B)
    v = np.conj(vecs[:, -1])  # the layer applies conj(P(f)) to a plane wave of frequency f
    v = v.reshape((cin_g,) + tuple(s))
    phase = np.ones(sub, dtype=complex)
    for t in range(D):
        e = np.exp(2j * np.pi * f[t] * np.arange(sub[t]) / sub[t])
        phase = phase * e.reshape((1,) * t + (-1,) + (1,) * (D - t - 1))
    # X[jj, s i + r] = v[jj, r] e^{2 pi i f i / sub}: polyphase components interleaved per axis
    z = v.reshape(v.shape + (1,) * D) * phase.reshape((1,) + (1,) * D + sub)
    perm = [0]
    for t in range(D):
        perm += [1 + D + t, 1 + t]
    X = z.transpose(perm).reshape((cin_g,) + tuple(grid))
    X = X[(slice(None),) + tuple(slice(0, n) for n in conv.input_shape)]
    # a half-sine envelope (the top singular vector of a path graph): the wave then fades
    # out at the zero-padded borders instead of being cut there
    for t, n in enumerate(conv.input_shape):
        env = np.sin(np.pi * (np.arange(n) + 1.0) / (n + 1.0))
        X = X * env.reshape((1,) * (t + 1) + (-1,) + (1,) * (D - t - 1))
    full = np.zeros((conv.in_channels,) + tuple(conv.input_shape), dtype=complex)
    full[gi * cin_g:(gi + 1) * cin_g] = X
    return full


def _lanczos_ritz(op, x0, steps, tol):
    """Top Ritz vector of ``T^T T`` after at most ``steps`` Lanczos steps from ``x0``.

    Full reorthogonalisation (the basis is small); the tridiagonal eigenproblem is solved by
    ``scipy.linalg.eigh_tridiagonal``. Stops early once the Ritz residual
    ``beta_j |u_j|`` is below ``tol`` times the Ritz value.
    """
    from scipy.linalg import eigh_tridiagonal

    shape = x0.shape
    q = x0.ravel() / np.linalg.norm(x0)
    basis, alpha, beta = [q], [], []
    u = None
    for j in range(max(1, steps)):
        z = np.asarray(op.adjoint(op.forward(basis[-1].reshape(shape))), dtype=np.float64).ravel()
        alpha.append(float(basis[-1] @ z))
        Q = np.array(basis)
        for _ in range(2):  # twice is enough (Kahan-Parlett)
            z = z - Q.T @ (Q @ z)
        b = float(np.linalg.norm(z))
        if len(alpha) == 1:
            theta, U = np.array([alpha[0]]), np.ones((1, 1))
        else:
            theta, U = eigh_tridiagonal(np.array(alpha), np.array(beta))
        u = U[:, -1]
        if b <= tol * max(theta[-1], 1e-300) * 1e-3 or abs(b * u[-1]) <= tol * theta[-1]:
            break
        if len(basis) * q.size > (1 << 24):  # memory cap on the basis
            break
        beta.append(b)
        basis.append(z / b)
    k = len(alpha)
    return (np.array(basis[:k]).T @ u).reshape(shape)


def lanczos_lower(op, warm=None, max_matvec=100, tol=1e-6):
    """Certified lower bound ``||T x|| / ||x||`` from warm-started Lanczos on ``T^T T``.

    Parameters
    ----------
    op : object with ``forward``, ``adjoint`` and ``in_shape`` (the layer's own operator)
    warm : ndarray, optional
        Starting vector (complex: its real and imaginary parts are both tried).
    max_matvec : int, default=100
        Budget of applications of ``T^T T`` (Lanczos steps, at most 60 are used: the basis is
        kept for full reorthogonalisation).
    tol : float, default=1e-6
        Stop when the Ritz residual is below ``tol`` times the Ritz value.

    Returns
    -------
    sigma_lower : float
        The best ``||T x|| / ||x||`` over the explicit vectors tried (never above sigma_1
        up to rounding).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._l2_embed import lanczos_lower
    >>> class Op:
    ...     in_shape = (30,)
    ...     A = np.diag(np.linspace(1.0, 3.0, 30))
    ...     def forward(self, x): return self.A @ x
    ...     def adjoint(self, y): return self.A.T @ y
    >>> s = lanczos_lower(Op())
    >>> bool(3.0 - 1e-9 <= s <= 3.0 + 1e-12)
    True
    """

    shape = tuple(op.in_shape)
    size = math.prod(shape)
    cands = []
    if warm is not None:
        warm = np.asarray(warm)
        cands += [np.real(warm), np.imag(warm)] if warm.dtype.kind == "c" else [warm]
    cands = [c for c in cands if scaled_norm(c) > 0]

    def ratio(x):
        nx = float(scaled_norm(x))
        if nx == 0.0:
            return 0.0
        return float(scaled_norm(np.asarray(op.forward(x / nx), dtype=np.float64)))

    best_x, best = None, 0.0
    for c in cands:
        r = ratio(c)
        if r > best:
            best, best_x = r, c
    if size <= 3:
        from ._l2 import power_iteration

        s, _ = power_iteration(op.forward, op.adjoint, shape, n_iter=max(max_matvec, 10))
        return max(best, s)
    if best_x is None:
        best_x = np.random.default_rng(0).standard_normal(shape)
    vec = _lanczos_ritz(op, best_x, min(max_matvec, 60), tol)
    if vec is not None:
        best = max(best, ratio(vec))
    return best


class TorchConvOperator:
    """The same zeros-padded operator as ``_l2._ConvOperator``, applied with torch's conv kernels.

    Forward: explicit zero padding ``(pl, pr)`` per axis, ``convNd`` (stride, dilation,
    groups), crop to the layer's ``m`` outputs. Adjoint: zero-extend to the natural output
    size, ``conv_transposeNd`` with the output padding that restores the padded size, crop
    the padding. Used for the Lanczos matvecs only (the bound is recomputed by the same
    operator, so it is the Rayleigh quotient of the map this operator applies; the tests
    check it against the dense matrix).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import normalize_conv_args
    >>> from normgraph.norms._l2 import _ConvOperator
    >>> from normgraph.norms._l2_embed import TorchConvOperator
    >>> w, g = normalize_conv_args(np.arange(12.0).reshape(2, 2, 3), 6, stride=2,
    ...                            padding=((2, 1),))
    >>> x = np.linspace(-1, 1, 12).reshape(2, 6)
    >>> bool(np.allclose(TorchConvOperator(w, g).forward(x), _ConvOperator(w, g).forward(x)))
    True
    """

    def __init__(self, w, conv):
        import torch
        import torch.nn.functional as F

        D = conv.ndim
        self.torch = torch
        self.w = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float64))
        self.conv = (F.conv1d, F.conv2d, F.conv3d)[D - 1]
        self.convt = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[D - 1]
        self.pad = []
        for pl, pr in reversed(conv.padding):
            self.pad += [pl, pr]
        self.kw = dict(stride=tuple(conv.stride), dilation=tuple(conv.dilation),
                       groups=conv.groups)
        self.n = tuple(conv.input_shape)
        self.m = tuple(conv.output_shape)
        self.padded = tuple(n + pl + pr for n, (pl, pr) in zip(self.n, conv.padding))
        self.nat = tuple((p - d * (k - 1) - 1) // s + 1 for p, d, k, s in
                         zip(self.padded, conv.dilation, conv.kernel_size, conv.stride))
        self.op = tuple(p - ((a - 1) * s + d * (k - 1) + 1) for p, a, s, d, k in
                        zip(self.padded, self.nat, conv.stride, conv.dilation, conv.kernel_size))
        self.lo = tuple(pl for pl, _ in conv.padding)
        self.in_shape = (conv.in_channels,) + self.n
        self.out_shape = (conv.out_channels,) + self.m

    def forward(self, x):
        F = self.torch.nn.functional
        xt = self.torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))[None]
        y = self.conv(F.pad(xt, self.pad), self.w, **self.kw)[0]
        return y[(slice(None),) + tuple(slice(0, m) for m in self.m)].numpy()

    def adjoint(self, y):
        yt = self.torch.zeros((1, self.out_shape[0]) + self.nat, dtype=self.torch.float64)
        yt[(0, slice(None)) + tuple(slice(0, m) for m in self.m)] = self.torch.from_numpy(
            np.ascontiguousarray(y, dtype=np.float64))
        x = self.convt(yt, self.w, output_padding=self.op, **self.kw)[0]
        return x[(slice(None),) + tuple(slice(lo, lo + n) for lo, n in
                                         zip(self.lo, self.n))].numpy()


def layer_operator(w, conv):
    """The fastest available matrix-free operator of a validated (non-transposed view) layer."""
    from ._l2 import _ConvOperator

    if conv.padding_mode == "zeros" and _torch() is not None:
        if all(o < max(s, d) for o, s, d in zip(_output_pads(conv), conv.stride,
                                                 conv.dilation)):
            return TorchConvOperator(w, conv)
    return _ConvOperator(w, conv)


def _output_pads(conv):
    out = []
    for n, (pl, pr), d, k, s in zip(conv.input_shape, conv.padding, conv.dilation,
                                    conv.kernel_size, conv.stride):
        p = n + pl + pr
        a = (p - d * (k - 1) - 1) // s + 1
        out.append(p - ((a - 1) * s + d * (k - 1) + 1))
    return out
