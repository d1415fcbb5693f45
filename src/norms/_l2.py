"""Spectral norm (l2 operator norm) of convolution layers: exact values and certified bounds.

Every method returns one-sided guarantees that hold for *every* layer it accepts:

- ``lower`` is ``||T x|| / ||x||`` for explicit vectors ``x`` on the layer's own operator
  (a gather/scatter implementation of the convolution and of its adjoint, or torch's conv
  kernels for zero padding): a warm-started Lanczos Ritz vector of ``T^T T`` in ``"auto"``
  (see ``_l2_embed``), power iteration for ``"power"``; so ``lower <= sigma_1`` always;
- ``upper`` is the minimum of the certified upper bounds that apply to the layer;
- the exact path (circular padding, stride dividing the input size, full padding
  ``pl + pr = d (k - 1)``) is the Sedghi et al. block diagonalisation by the FFT, extended
  to strides by the polyphase decomposition of the input.

Upper bounds and why they hold
------------------------------
``gram`` (frequency-domain Gram iteration, Delattre et al. 2023)
    The largest singular value of a circular layer is the largest over frequencies of the
    top singular value of one ``C_out x C_in`` block; each block is bounded by
    ``||W_t||_F^(1/2^t)`` with ``W_t = W_{t-1}^H W_{t-1}``. Zero padding: the layer is
    (isometric zero embedding) -> (circular stride-1 conv on the grid
    ``N = max(n + max(pl, pr), d(k-1)+1)``) -> (keep the retained outputs), so its norm is at
    most the circular one. Circular padding with any stride/padding: the layer's rows are
    rows of the stride-1 circular layer, each repeated at most ``mult`` times, so the norm is
    at most ``sqrt(mult)`` times the circular one.
``circular_embedding`` (zero padding, any stride; see ``_l2_embed``)
    The layer is a restriction of the *strided* circular layer on a grid ``N`` (``s | N``,
    ``N >= n + pl`` and large enough for every kept output), whose norm is exact by the
    polyphase FFT; each frequency block is certified below a target by a Cholesky
    factorisation (Delattre, Barthelemy & Allauzen 2024 for the embedding; Sedghi et al.
    2019 for the block diagonalisation). Unlike ``gram`` it keeps the stride.
``spatial_gram`` (Delattre et al. 2024)
    Gram iteration on the kernel itself: bounds the convolution on the infinite grid, hence
    every zero-padded or circular layer of any size (strides and output crops are
    contractions; dilation does not change the infinite-grid norm).
``holder``
    ``sqrt(||T||_1 ||T||_inf)`` with the exact l1/l-inf norms (Riesz-Thorin).
Reflect/replicate padding
    The layer is (padding map) -> (valid convolution). The padding map copies input pixels,
    so its norm is ``sqrt(max copies of one pixel)`` (a product over axes); the valid
    convolution is bounded by ``gram``/``spatial_gram`` as a zero-padded layer.

All bounds are computed in float64; reported upper bounds are multiplied by ``1 + 1e-9``
and lower bounds by ``1 - 1e-9`` to absorb rounding. Exact values (``exact=True``) are
reported as ``lower = value = upper``: they are exact up to the rounding of the eigensolver
(about 1e-15 relative).
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers

import numpy as np
import scipy.sparse as sp

from .._utils.numeric import scaled_norm
from .._utils.validation import check_allocation, check_int, check_numeric_dtype, check_real
from ._patterns import landing_table, pad_multiplicity
from ._result import NormResult, safe_scale, unscale

__all__ = [
    "conv_l2",
    "power_iteration",
    "gram_bound",
    "spatial_gram_bound",
    "conv_singular_values",
    "L2_METHODS",
]

L2_METHODS = ("auto", "fft_svd", "gram", "spatial_gram", "power", "holder")

# Relative safety margin applied to reported bounds (spec 2.6, "Floating point").
_MARGIN = 1e-9
# Work limits for the spatial Gram iteration (complex entries / flops per iteration).
_SPATIAL_MAX_ENTRIES = 1 << 23
_SPATIAL_MAX_FLOPS = 4e9
# Frequencies processed at once by the block routines (memory cap).
_BLOCK_CHUNK_ENTRIES = 1 << 22
# Entries of a Frobenius-normalised Gram iterate below this are set to zero: repeated
# squaring drives the small eigen-directions into subnormal numbers, which are ~100x slower
# in BLAS; the change (<= 1e-150 per entry) is far below rounding and the 1e-9 margin.
_FLUSH = 1e-150
# Gram iterations beyond this cannot change a float64 bound: after t steps the bound is
# sigma_1 (sum_i (sigma_i / sigma_1)^(2^(t+1)))^(1 / 2^(t+1)), within 2^(-2^(t+1)) of sigma_1
# relatively once the other ratios vanish; larger t only overflows the exponent 2^t.
_MAX_GRAM_ITER = 64
# "auto" adds the spatial Gram bound only for layers with at most this many channels (per
# group, on the smaller side).
_AUTO_SPATIAL_MAX_CHANNELS = 32
# "auto" adds the frequency Gram bound to the circular-embedding bound below this work
_GRAM_CHEAP_FLOPS = 2e7


def _flush_tiny(G):
    G[np.abs(G) < _FLUSH] = 0
    return G


# ----------------------------------------------------------------------------------------
# the operator itself (for power iteration)
# ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _axis_tables(n, m, k, s, d, pl, mode):
    """Gather indices and scatter matrix of one axis (shared by layers of equal geometry)."""
    tab = landing_table(n, m, k, s, d, pl, mode)
    idx = tab.ravel().copy()
    idx[idx < 0] = n  # the zero slot appended to every axis
    idx.setflags(write=False)
    scatter = sp.csr_matrix((np.ones(idx.size), (idx, np.arange(idx.size))),
                            shape=(n + 1, idx.size))
    return idx, scatter


class _ConvOperator:
    """Matrix-free forward and adjoint of an ordinary (non-transposed) validated conv.

    The forward gathers, axis by axis, the input pixel hit by every (output, tap) pair (a
    zero slot stands for zero padding), then contracts with the kernel per group; the
    adjoint does the transposed steps (kernel transpose, then scatter-add per axis with a
    sparse 0/1 matrix). Cost per application: ``O(C_in prod(m k) + C_out C_in/g prod(m k))``.
    """

    def __init__(self, w, conv):
        self.D = conv.ndim
        self.n = tuple(conv.input_shape)
        self.m = tuple(conv.output_shape)
        self.k = tuple(conv.kernel_size)
        self.g = conv.groups
        self.c_in = conv.in_channels
        self.c_out = conv.out_channels
        cin_g = self.c_in // self.g
        self.kmat = np.ascontiguousarray(
            w.reshape(self.g, self.c_out // self.g, cin_g * int(np.prod(self.k))))
        self.idx = []
        self.scatter = []
        for t in range(self.D):
            idx, scatter = _axis_tables(self.n[t], self.m[t], self.k[t], conv.stride[t],
                                        conv.dilation[t], conv.padding[t][0],
                                        conv.padding_mode)
            self.idx.append(idx)
            self.scatter.append(scatter)
        D = self.D
        self._perm = [0] + [2 + 2 * t for t in range(D)] + [1 + 2 * t for t in range(D)]
        self._inv_perm = list(np.argsort(self._perm))
        self.in_shape = (self.c_in,) + self.n
        self.out_shape = (self.c_out,) + self.m

    def forward(self, x):
        D = self.D
        xp = np.pad(x, [(0, 0)] + [(0, 1)] * D)
        for t in range(D):
            xp = np.take(xp, self.idx[t], axis=1 + t)
        mk = sum(((self.m[t], self.k[t]) for t in range(D)), ())
        patches = xp.reshape((self.c_in,) + mk).transpose(self._perm)
        patches = patches.reshape(self.g, -1, int(np.prod(self.m)))
        return np.matmul(self.kmat, patches).reshape(self.out_shape)

    def adjoint(self, y):
        D = self.D
        yg = y.reshape(self.g, self.c_out // self.g, -1)
        patches = np.matmul(self.kmat.transpose(0, 2, 1), yg)
        patches = patches.reshape((self.c_in,) + self.k + self.m).transpose(self._inv_perm)
        arr = patches.reshape((self.c_in,) + tuple(self.m[t] * self.k[t] for t in range(D)))
        for t in range(D):
            moved = np.moveaxis(arr, 1 + t, 0)
            rest = moved.shape[1:]
            out = self.scatter[t] @ moved.reshape(moved.shape[0], -1)
            arr = np.moveaxis(out.reshape((self.n[t] + 1,) + rest), 0, 1 + t)
        return np.ascontiguousarray(arr[(slice(None),) + (slice(0, -1),) * D])


def power_iteration(op, adjoint, shape, n_iter=100, tol=1e-8, random_state=0):
    """Certified lower bound on the largest singular value of a linear map by power iteration.

    Iterates ``v <- T^T T v / ||T^T T v||`` from a seeded Gaussian start. Every iterate
    gives ``||T v|| / ||v|| <= sigma_1(T)`` (up to rounding), and the best value seen is
    returned, so the result never exceeds the true norm, whatever the number of iterations.

    Parameters
    ----------
    op, adjoint : callable
        ``op(v)`` applies ``T`` to an array of shape ``shape``; ``adjoint(y)`` applies
        ``T^T`` to an array of ``op``'s output shape.
    shape : tuple of int
        Shape of the input of ``op``.
    n_iter : int, default=100
        Maximum number of iterations.
    tol : float, default=1e-8
        Stop when the estimate changes by less than ``tol`` relatively.
    random_state : int, numpy Generator or None, default=0
        Seed of the Gaussian start vector.

    Returns
    -------
    sigma_lower : float
        The largest Rayleigh value ``||T v|| / ||v||`` seen.
    v : ndarray of shape ``shape``
        The unit vector attaining it.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms import power_iteration
    >>> A = np.diag([3.0, 1.0, 0.5])
    >>> s, v = power_iteration(lambda x: A @ x, lambda y: A.T @ y, (3,))
    >>> bool(abs(s - 3.0) < 1e-6 and s <= 3.0 + 1e-12)
    True
    """
    if not (callable(op) and callable(adjoint)):
        raise TypeError("op and adjoint must be callables applying T and its transpose")
    n_iter = check_int(n_iter, "n_iter", low=1)
    tol = check_real(tol, "tol", low=0)
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be a tuple of ints, got {type(shape).__name__}")
    shape = tuple(check_int(v, "shape", low=1) for v in shape)
    check_allocation(4 * math.prod(shape), "shape", what="the power-iteration vectors")
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"random_state: {exc}") from None
    v = rng.standard_normal(shape)
    v /= np.linalg.norm(v)
    best, best_v, prev = 0.0, v, None
    for _ in range(n_iter):
        tv = np.asarray(op(v), dtype=np.float64)
        sigma = float(scaled_norm(tv))  # ||v|| = 1; no overflow for huge entries
        if not np.isfinite(sigma):
            raise ValueError("op returned NaN/inf for a unit vector: T is not a finite linear map "
                             "(or its norm is beyond the float64 range)")
        if sigma > best:
            best, best_v = sigma, v
        if sigma == 0.0:
            break
        if prev is not None and abs(sigma - prev) <= tol * sigma:
            break
        prev = sigma
        with np.errstate(over="ignore", invalid="ignore"):
            w = np.asarray(adjoint(tv), dtype=np.float64)
        nw = float(scaled_norm(w))
        if not np.isfinite(nw):  # T^T T v overflowed: T^T (T v / ||T v||) has the same direction
            w = np.asarray(adjoint(tv / sigma), dtype=np.float64)
            nw = float(scaled_norm(w))
        if nw == 0.0 or not np.isfinite(nw):
            break
        w = w / nw
        if np.array_equal(w, v):  # a floating-point fixed point: nothing more to gain
            break
        v = w
    return best, best_v


# ----------------------------------------------------------------------------------------
# circular layers in the frequency domain
# ----------------------------------------------------------------------------------------
def _circular_blocks(w, grid, stride, dilation, shift, groups, full=False):
    """Frequency blocks of the circular layer ``Y[o] = sum_a K[a] X[(o s + shift + a d) mod n]``.

    Requires ``s | n`` per axis. The input is split into its ``prod(s)`` polyphase components
    (an orthogonal permutation), which turns the layer into a stride-1 circular layer on the
    grid ``n / s`` with ``C_in/g * prod(s)`` input channels per group (stride 1: the Sedghi
    et al. setting). Taps whose offsets coincide modulo the grid are added (folding).

    Returns complex blocks of shape ``(n_freq, groups, C_out/g, C_in/g * prod(s))``; with
    ``full=False`` only the rfft half-spectrum (the rest are complex conjugates).
    """
    D = w.ndim - 2
    c_out, cin_g = w.shape[:2]
    k = w.shape[2:]
    sub = tuple(grid[t] // stride[t] for t in range(D))
    folded = np.zeros((c_out, cin_g) + tuple(stride) + sub)
    for a in itertools.product(*(range(kt) for kt in k)):
        e = [shift[t] + a[t] * dilation[t] for t in range(D)]
        r = tuple(e[t] % stride[t] for t in range(D))
        u = tuple((e[t] // stride[t]) % sub[t] for t in range(D))
        folded[(slice(None), slice(None)) + r + u] += w[(slice(None), slice(None)) + a]
    folded = folded.reshape((c_out, cin_g * int(np.prod(stride))) + sub)
    axes = tuple(range(2, 2 + D))
    spec = np.fft.fftn(folded, axes=axes) if full else np.fft.rfftn(folded, axes=axes)
    spec = np.moveaxis(spec, axes, tuple(range(D)))
    n_freq = int(np.prod(spec.shape[:D]))
    return spec.reshape(n_freq, groups, c_out // groups, spec.shape[-1])


def _chunks(blocks):
    flat = blocks.reshape((-1,) + blocks.shape[-2:])
    per = max(1, _BLOCK_CHUNK_ENTRIES // max(1, flat.shape[1] * flat.shape[2]))
    for start in range(0, flat.shape[0], per):
        yield flat[start:start + per]


def _small_side(B):
    """Orient blocks so that ``B^H B`` is the smaller Gram matrix."""
    return B if B.shape[-2] >= B.shape[-1] else np.conj(np.swapaxes(B, -1, -2))


def _top_singular_value(blocks):
    """Largest singular value over a stack of blocks (eigenvalues of the smaller Gram)."""
    best = 0.0
    for B in _chunks(blocks):
        B = _small_side(B)
        G = np.matmul(np.conj(np.swapaxes(B, -1, -2)), B)
        lam = np.linalg.eigvalsh(G)[..., -1]
        best = max(best, float(lam.max(initial=0.0)))
    return math.sqrt(max(best, 0.0))


def gram_bound(blocks, n_iter=6):
    """Certified upper bound on the largest singular value of a stack of matrices (Gram iteration).

    For each matrix ``W`` (Delattre et al. 2023): ``sigma_1(W)^(2^t) = sigma_1(W_t)
    <= ||W_t||_F`` with ``W_t = W_{t-1}^H W_{t-1}``; the iterates are rescaled by their
    Frobenius norm (logarithms accumulated) so nothing overflows. The bound is above
    ``sigma_1`` for every ``t >= 1`` and converges to it quadratically. Applied to the
    frequency blocks of a circular convolution it bounds the convolution's spectral norm.

    Parameters
    ----------
    blocks : array-like of shape (..., a, b), real or complex
        The matrices (any leading batch dimensions).
    n_iter : int, default=6
        Number of Gram iterations ``t``. Values above 64 act as 64: the float64 bound has
        converged by then (more iterations would only overflow the exponent ``2^t``).

    Returns
    -------
    bound : float
        ``max`` over the matrices of their bound (without the reporting margin); blocks of
        extreme magnitude are rescaled by an exact power of two, so this is the scaled bound.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms import gram_bound
    >>> W = np.random.default_rng(0).standard_normal((4, 5, 3))
    >>> exact = np.linalg.svd(W, compute_uv=False).max()
    >>> b = gram_bound(W, n_iter=6)
    >>> bool(exact <= b <= exact * (1 + 1e-6))
    True
    """
    n_iter = min(check_int(n_iter, "n_iter", low=1), _MAX_GRAM_ITER)
    if blocks is None or isinstance(blocks, (str, bytes)):
        raise TypeError(f"blocks must be an array of matrices, got {type(blocks).__name__}")
    if hasattr(blocks, "detach"):  # torch tensor
        blocks = blocks.detach().cpu().numpy()
    try:
        blocks = np.asarray(blocks)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"blocks could not be read as a numeric array: {exc}") from None
    if blocks.dtype.kind != "c":  # complex blocks are frequency blocks; else real numbers
        check_numeric_dtype(blocks, "blocks")
    if blocks.ndim < 2:
        raise ValueError(f"blocks must have at least 2 dims (..., a, b), got shape {blocks.shape}")
    if blocks.size == 0:
        return 0.0
    if blocks.dtype.kind == "b":
        blocks = blocks.astype(np.float64)
    if not np.all(np.isfinite(blocks)):
        raise ValueError("blocks contain NaN/inf")
    # homogeneous: work on blocks brought near 1 by an exact power of two
    scale = safe_scale(blocks)
    if scale != 1.0:
        blocks = blocks / scale
    return unscale(_gram_bound_unit(blocks, n_iter), scale, "the Gram bound of blocks")


def _gram_bound_unit(blocks, n_iter):
    """``gram_bound`` of validated blocks whose entries are of order 1."""
    best = 0.0
    for B in _chunks(blocks):
        G = _small_side(B.astype(np.complex128 if B.dtype.kind == "c" else np.float64))
        log_r = np.zeros(G.shape[0])
        alive = np.ones(G.shape[0], dtype=bool)
        for _ in range(n_iter):
            c = np.sqrt(np.sum(np.abs(G) ** 2, axis=(-2, -1)))
            alive &= c > 0
            c = np.where(c > 0, c, 1.0)
            G = G / c[:, None, None]
            log_r = 2.0 * (log_r + np.log(c))
            G = _flush_tiny(np.matmul(np.conj(np.swapaxes(G, -1, -2)), G))
        fro = np.sqrt(np.sum(np.abs(G) ** 2, axis=(-2, -1)))
        scale = 2.0 ** n_iter
        with np.errstate(divide="ignore"):
            b = np.exp((np.log(fro) + log_r) / scale)
        b = np.where(alive, b, 0.0)
        best = max(best, float(b.max()))
    return best


def _spatial_gram_group(G, n_iter):
    """Spatial Gram bound of one group's kernel ``G`` of shape (A, B, *k), A <= B."""
    D = G.ndim - 2
    log_r = 0.0
    for _ in range(n_iter):
        c = float(np.linalg.norm(G))
        if c == 0.0:
            return 0.0
        G = G / c
        log_r = 2.0 * (log_r + math.log(c))
        L = G.shape[2:]
        full = tuple(2 * l - 1 for l in L)
        axes = tuple(range(2, 2 + D))
        F = np.fft.fftn(G, s=full, axes=axes)
        F = np.moveaxis(F, axes, tuple(range(D))).reshape((-1,) + G.shape[:2])
        # H^(w) = F(w) F(w)^H: the full self-correlation of every filter with every filter.
        H = np.matmul(F, np.conj(np.swapaxes(F, -1, -2)))
        H = np.moveaxis(H.reshape(full + (G.shape[0], G.shape[0])), (D, D + 1), (0, 1))
        H = np.fft.ifftn(H, axes=axes).real
        # shifts u in [-(L-1), L-1] sit at u mod (2L-1); roll them into one contiguous block
        G = _flush_tiny(np.roll(H, shift=tuple(l - 1 for l in L), axis=axes))
    row = np.abs(G).reshape(G.shape[0], -1).sum(axis=1).max()
    if row <= 0.0:
        return 0.0
    return float(math.exp((math.log(row) + log_r) / 2.0 ** n_iter))


def _spatial_affordable_iters(a, b, k, n_iter):
    """Largest t <= n_iter (at least 1) whose spatial Gram work stays within the limits."""
    t_ok = 1
    for t in range(1, n_iter + 1):
        ok = True
        for i in range(t):
            size = int(np.prod([2 ** (i + 1) * (kt - 1) + 1 for kt in k]))
            rows = a
            cols = b if i == 0 else a
            if rows * cols * size > _SPATIAL_MAX_ENTRIES or rows * rows * cols * size > _SPATIAL_MAX_FLOPS:
                ok = False
        if not ok:
            break
        t_ok = t
    return t_ok


def spatial_gram_bound(weight, n_iter=4, groups=1, *, budget=False):
    """Size-free certified upper bound on the spectral norm of a convolution (spatial Gram iteration).

    Gram iteration on the kernel (Delattre et al. 2024): ``G <- G * G`` is the kernel of
    ``T T^*``; after ``t`` steps the l-inf operator norm of the resulting self-adjoint
    convolution on the infinite grid bounds its spectral norm, which is ``sigma_1^(2^t)``.
    The result bounds every zero-padded or circular layer with this weight, for any input
    size, padding, stride (a contraction) and dilation (the infinite-grid norm does not
    depend on it). Transposed layers have the same norm as the adjoint convolution: pass
    their weight unchanged. Cost grows with the kernel extent ``2^t (k - 1) + 1``.

    Parameters
    ----------
    weight : ndarray or torch.Tensor of shape (C_out, C_in/groups, *k)
        Conv weight in PyTorch layout (1-D, 2-D or 3-D).
    n_iter : int, default=4
        Number of iterations ``t`` (at most 64, like :func:`gram_bound`). The kernel grows to
        ``2^t (k - 1) + 1`` taps per axis: a ``t`` whose iterates cannot fit in memory is
        refused with a ``ValueError`` naming ``n_iter``.
    groups : int, default=1
        Convolution groups (the bound is the maximum over groups).
    budget : bool, default=False
        If true, lower ``t`` (down to 1) so that the work stays within about ``4e9``
        flops per iteration.

    Returns
    -------
    bound : float
        Upper bound (without the reporting margin).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms import spatial_gram_bound
    >>> k = np.zeros((1, 1, 3)); k[0, 0, 1] = 2.0     # 2 * identity
    >>> round(spatial_gram_bound(k), 12)
    2.0
    """
    from .._utils.validation import check_bool
    from ._validation import as_float64_array, check_finite

    w = as_float64_array(weight)
    if w.ndim not in (3, 4, 5):
        raise ValueError(
            f"weight must have 3, 4 or 5 dims for Conv1d/2d/3d, got {w.ndim} dims with shape "
            f"{w.shape}")
    if w.size == 0:
        raise ValueError(f"weight is empty (shape {w.shape})")
    check_finite(w)
    n_iter = min(check_int(n_iter, "n_iter", low=1), _MAX_GRAM_ITER)
    groups = check_int(groups, "groups", low=1)
    budget = check_bool(budget, "budget")
    if w.shape[0] % groups:
        raise ValueError(f"groups={groups} does not divide the {w.shape[0]} output channels "
                         f"of the weight of shape {w.shape}")
    scale = safe_scale(w)
    bound = _spatial_gram_unit(w / scale if scale != 1.0 else w, n_iter, groups, budget)
    return unscale(bound, scale, "the spatial Gram bound of weight")


def _spatial_gram_items(a, b, k, n_iter):
    """Array entries the last spatial Gram iteration needs (kernel extent 2^t (k - 1) + 1)."""
    if all(kt == 1 for kt in k):
        return 4 * (a * b + a * a)
    ext = 1
    for kt in k:
        L = (kt - 1) * 2 ** (n_iter - 1) + 1
        ext *= 2 * L - 1
    return 4 * ext * (a * b + a * a)


def _spatial_gram_unit(w, n_iter, groups, budget):
    """``spatial_gram_bound`` of a validated weight whose entries are of order 1."""
    co_g = w.shape[0] // groups
    best = 0.0
    for gi in range(groups):
        G = w[gi * co_g:(gi + 1) * co_g]
        if G.shape[0] > G.shape[1]:
            G = np.swapaxes(G, 0, 1)  # same norm (adjoint up to a spatial flip)
        t = n_iter
        if budget:
            t = _spatial_affordable_iters(G.shape[0], G.shape[1], G.shape[2:], n_iter)
        check_allocation(_spatial_gram_items(G.shape[0], G.shape[1], G.shape[2:], t), "n_iter",
                         itemsize=16, what="the spatial Gram iterates")
        best = max(best, _spatial_gram_group(np.ascontiguousarray(G), t))
    return best


# ----------------------------------------------------------------------------------------
# layer-level bounds
# ----------------------------------------------------------------------------------------
def _forward_view(geom):
    return geom.adjoint_conv() if geom.transposed else geom


def _circular_exact_applicable(conv):
    if conv.padding_mode != "circular":
        return False
    for n, s, d, k, (pl, pr) in zip(conv.input_shape, conv.stride, conv.dilation,
                                    conv.kernel_size, conv.padding):
        if n % s or pl + pr != d * (k - 1):
            return False
    return True


def _exact_circular_blocks(w, conv, full=False):
    shift = tuple(-pl for pl, _ in conv.padding)
    return _circular_blocks(w, conv.input_shape, conv.stride, conv.dilation, shift,
                            conv.groups, full=full)


def _row_multiplicity(n, m, s, pl):
    """Max number of outputs that read the same row of the stride-1 circular layer."""
    # o -> (o s - pl) mod n is periodic with period n / gcd(s, n), injective within a period
    period = n // math.gcd(s, n)
    return -(-m // period)


def _valid_geometry(conv):
    """The zero-padding-free (valid) convolution applied after a reflect/replicate pad."""
    from dataclasses import replace

    grid = tuple(n + pl + pr for n, (pl, pr) in zip(conv.input_shape, conv.padding))
    return replace(conv, input_shape=grid, padding=((0, 0),) * conv.ndim, padding_mode="zeros")


def _gram_upper(w, conv, n_iter):
    """Frequency-domain Gram bound for any non-transposed validated conv (see module doc)."""
    mode = conv.padding_mode
    if mode == "circular":
        D = conv.ndim
        if _circular_exact_applicable(conv):
            return _gram_bound_unit(_exact_circular_blocks(w, conv), n_iter)
        mult = 1
        for t in range(D):
            mult *= _row_multiplicity(conv.input_shape[t], conv.output_shape[t],
                                      conv.stride[t], conv.padding[t][0])
        blocks = _circular_blocks(w, conv.input_shape, (1,) * D, conv.dilation, (0,) * D,
                                  conv.groups)
        return math.sqrt(mult) * _gram_bound_unit(blocks, n_iter)
    factor = 1.0
    if mode in ("reflect", "replicate"):
        mult = 1
        for n, (pl, pr) in zip(conv.input_shape, conv.padding):
            mult *= pad_multiplicity(n, pl, pr, mode)
        factor = math.sqrt(mult)
        conv = _valid_geometry(conv)
    D = conv.ndim
    grid = tuple(max(n + max(pl, pr), d * (k - 1) + 1)
                 for n, (pl, pr), d, k in zip(conv.input_shape, conv.padding, conv.dilation,
                                              conv.kernel_size))
    blocks = _circular_blocks(w, grid, (1,) * D, conv.dilation, (0,) * D, conv.groups)
    return factor * _gram_bound_unit(blocks, n_iter)


def _spatial_upper(w, conv, n_iter, budget):
    factor = 1.0
    mode = conv.padding_mode
    if mode in ("reflect", "replicate"):
        mult = 1
        for n, (pl, pr) in zip(conv.input_shape, conv.padding):
            mult *= pad_multiplicity(n, pl, pr, mode)
        factor = math.sqrt(mult)
    elif mode == "circular":
        mult = 1
        for t in range(conv.ndim):
            mult *= _row_multiplicity(conv.input_shape[t], conv.output_shape[t],
                                      conv.stride[t], conv.padding[t][0])
        factor = math.sqrt(mult)
    return factor * spatial_gram_bound(w, min(n_iter, 4), conv.groups, budget=budget)


def _holder_upper(w, conv):
    """``sqrt(||T||_1 ||T||_inf)`` from the exact boundary-class norms (same for the adjoint)."""
    from ._lp import conv_lp_norm

    linf, _ = conv_lp_norm(w, conv, "row")
    l1, _ = conv_lp_norm(w, conv, "col")
    return math.sqrt(l1 * linf)


def _power_lower(w, conv, power_iter):
    if power_iter <= 0:
        return 0.0
    op = _ConvOperator(w, conv)
    sigma, _ = power_iteration(op.forward, op.adjoint, op.in_shape, n_iter=power_iter)
    return sigma


def _gram_cheap(conv):
    """Whether the frequency Gram bound costs little (``_GRAM_CHEAP_FLOPS``) on this layer."""
    a = conv.out_channels // conv.groups
    b = conv.in_per_group
    grid = _embedding_grid(conv)
    return math.prod(grid) * conv.groups * min(a, b) ** 2 * max(a, b) <= _GRAM_CHEAP_FLOPS


def _lanczos_lower(w, conv, budget, warm, stop_at=None):
    """Warm-started Lanczos lower bound on the layer's own operator (see ``_l2_embed``)."""
    if budget <= 0:
        return 0.0
    from ._l2_embed import lanczos_lower, layer_operator

    return lanczos_lower(layer_operator(w, conv), warm, max_matvec=budget, stop_at=stop_at)


def conv_l2(weight, geom, *, method="auto", n_iter=6, power_iter=100, groups=None):
    """Spectral norm of a validated convolution layer as a certified interval.

    Parameters
    ----------
    weight : ndarray of float64
        The validated weight (see ``normalize_conv_args``), PyTorch layout.
    geom : ConvGeometry or None
        Its geometry. ``None`` (no input size) is accepted only with
        ``method="spatial_gram"``; ``groups`` then gives the number of groups.
    method : {"auto", "fft_svd", "gram", "spatial_gram", "power", "holder"}, default="auto"
        ``"auto"``: exact FFT+SVD when the layer is circular with stride dividing the input
        size and full padding ``pl + pr = d(k-1)``; otherwise the minimum of the applicable
        upper bounds (``circular_embedding`` for zero padding, ``gram`` where it is cheap or
        the embedding does not apply, ``spatial_gram`` for few channels, ``holder``) and a
        warm-started Lanczos lower bound. ``"fft_svd"`` raises ``ValueError`` when the exact path does not apply.
        ``"power"`` gives only a lower bound (``value = lower``, ``upper = inf``).
    n_iter : int, default=6
        Gram iterations (the spatial Gram iteration uses ``min(n_iter, 4)``).
    power_iter : int, default=100
        Operator applications for the lower bound: power iterations for ``"power"``,
        Lanczos basis vectors otherwise (at most 60 kept); 0 gives ``lower = 0``.
    groups : int, optional
        Only with ``geom=None``.

    Returns
    -------
    NormResult
        ``lower <= ||T||_2 <= upper``; ``value`` is the exact norm (``exact=True``) or
        ``upper`` (``value = lower`` for ``method="power"``).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import normalize_conv_args
    >>> from normgraph.norms._l2 import conv_l2
    >>> w, g = normalize_conv_args(np.ones((1, 1, 3)), 8, padding=1, padding_mode="circular")
    >>> r = conv_l2(w, g)
    >>> r.exact, r.method, round(r.value, 9)
    (True, 'fft_svd', 3.0)
    """
    from .._utils.validation import check_choice

    check_choice(method, "l2_method", L2_METHODS)
    n_iter = min(check_int(n_iter, "n_iter", low=1), _MAX_GRAM_ITER)
    power_iter = check_int(power_iter, "power_iter", low=0)
    w = np.ascontiguousarray(weight, dtype=np.float64)
    # positively homogeneous: compute on the weight brought near 1 by an exact power of two
    scale = safe_scale(w)
    res = _conv_l2_unit(w / scale if scale != 1.0 else w, geom, method, n_iter, power_iter,
                        groups)
    return res.scaled(scale, "the l2 norm of weight")


def _grid_items(conv, grid):
    """Array entries of the frequency-domain path on ``grid`` (folded kernel, spectrum, blocks)."""
    return 6 * conv.out_channels * conv.in_per_group * math.prod(grid)


def _power_items(conv):
    """Array entries of one application of the matrix-free operator and its adjoint."""
    mk = math.prod(m * k for m, k in zip(conv.output_shape, conv.kernel_size))
    n = math.prod(v + 1 for v in conv.input_shape)
    return 3 * (conv.in_channels * mk + conv.out_channels * math.prod(conv.output_shape)
                + conv.in_channels * n)


def _embedding_grid(conv):
    if conv.padding_mode in ("reflect", "replicate"):
        conv = _valid_geometry(conv)
    return tuple(max(n + max(pl, pr), d * (k - 1) + 1)
                 for n, (pl, pr), d, k in zip(conv.input_shape, conv.padding, conv.dilation,
                                              conv.kernel_size))


def _conv_l2_unit(w, geom, method, n_iter, power_iter, groups):
    """``conv_l2`` of a weight whose entries are of order 1 (no overflow in squares)."""
    up = 1.0 + _MARGIN
    lo = 1.0 - _MARGIN

    if geom is None or geom.input_shape is None:
        if method != "spatial_gram":
            raise ValueError(
                f"l2_method={method!r} needs input_shape; only l2_method='spatial_gram' is a "
                "size-free bound")
        g = geom.groups if geom is not None else (1 if groups is None else groups)
        ub = spatial_gram_bound(w, min(n_iter, 4), g) * up
        return NormResult(ub, 0.0, ub, False, "spatial_gram")

    conv = _forward_view(geom)
    if np.all(w == 0):
        return NormResult(0.0, 0.0, 0.0, True, "zero")
    exact_ok = not geom.transposed and _circular_exact_applicable(conv)
    hint = ("; l2_method='spatial_gram' or 'holder' bound the norm in memory independent of "
            "the input size")

    if method == "fft_svd" or (method == "auto" and exact_ok):
        if not exact_ok:
            raise ValueError(
                "l2_method='fft_svd' is exact only for circular padding with stride dividing "
                f"the input size and padding summing to d*(k-1) per axis (got padding_mode="
                f"{geom.padding_mode!r}, stride {geom.stride}, padding {geom.padding}); use "
                "l2_method='auto' for certified bounds")
        check_allocation(_grid_items(conv, conv.input_shape), "input_shape",
                         what="the FFT of the kernel on the input grid" + hint)
        sigma = _top_singular_value(_exact_circular_blocks(w, conv))
        # exact up to the rounding of an eigensolver (~1e-15 relative): no margin
        return NormResult(sigma, sigma, sigma, True, "fft_svd")

    # the lower bound needs the operator on the whole input: refused when it cannot fit,
    # except for the size-free upper bounds, which then report lower = 0
    if method in ("spatial_gram", "holder"):
        try:
            check_allocation(_power_items(conv), "input_shape")
        except ValueError:
            power_iter = 0
    else:
        check_allocation(_power_items(conv), "input_shape",
                         what="the power-iteration lower bound" + hint)
    candidates = {}
    warm = None
    if method == "auto" and conv.padding_mode == "zeros":
        from ._l2_embed import embedding_grid, embedding_upper

        grid = embedding_grid(conv)
        check_allocation(_grid_items(conv, grid), "input_shape",
                         what="the FFT of the kernel on the embedding grid" + hint)
        candidates["circular_embedding"], warm = embedding_upper(w, conv, n_iter)
    if method == "power":
        lower = _power_lower(w, conv, power_iter) * lo
        return NormResult(lower, lower, math.inf, False, "power")

    # zeros mode: the circular embedding (exact strided circular norm, certified by Cholesky)
    # is usually the smaller; "auto" adds the Gram iteration only where it is cheap
    if method == "gram" or (method == "auto" and ("circular_embedding" not in candidates
                                                   or _gram_cheap(conv))):
        check_allocation(_grid_items(conv, _embedding_grid(conv)), "input_shape",
                         what="the FFT of the kernel on the input grid" + hint)
        candidates["gram"] = _gram_upper(w, conv, n_iter)
    # The converged spatial bound (infinite grid) is never below the converged frequency bound
    # (a circular grid samples the same symbol), so "auto" uses it only where it is cheap.
    small = min(w.shape[0] // conv.groups, w.shape[1]) <= _AUTO_SPATIAL_MAX_CHANNELS
    if method == "spatial_gram" or (method == "auto" and small):
        candidates["spatial_gram"] = _spatial_upper(w, conv, n_iter, budget=method == "auto")
    if method in ("auto", "holder"):
        candidates["holder"] = _holder_upper(w, conv)
    name = min(candidates, key=candidates.get)
    from ._l2_embed import _STOP_GAP

    # Lanczos stops once its Ritz value is within _STOP_GAP of the best upper bound
    lower = _lanczos_lower(w, conv, power_iter, warm,
                           stop_at=candidates[name] * (1 - _STOP_GAP)) * lo
    upper = max(candidates[name] * up, lower)
    return NormResult(upper, lower, upper, False, name)


def conv_singular_values(weight, input_shape, stride=1, padding="same", dilation=1, groups=1):
    """All singular values of a circularly padded convolution layer (Sedghi et al.).

    The layer ``torch.nn.ConvNd(..., padding_mode="circular")`` is block-diagonalised by the
    FFT: its singular values are the union over frequencies of those of one small channel
    matrix per frequency (and per group). Strides dividing the input size are handled by the
    polyphase decomposition of the input. The padding must total ``d (k - 1)`` per axis
    (``"same"``, the default), so that the layer maps the grid onto itself.

    Parameters
    ----------
    weight : ndarray or torch.Tensor of shape (C_out, C_in/groups, *k)
    input_shape : int or tuple of int
        Spatial input size (or a full ``(C, *spatial)`` shape).
    stride, dilation : int or tuple of int, default=1
        The stride must divide the input size on every axis.
    padding : "same", int, tuple or tuple of (left, right) pairs, default="same"
    groups : int, default=1

    Returns
    -------
    sv : ndarray of float64, shape (prod(n/s) * groups * min(C_out/g, C_in/g * prod(s)),)
        Singular values in decreasing order.

    Raises
    ------
    ValueError
        Invalid layer settings, or a layer outside the exact setting (stride not dividing
        the input size, padding not totalling ``d (k - 1)``).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms import conv_singular_values
    >>> sv = conv_singular_values(np.array([[[1.0, 1.0, 1.0]]]), 4)
    >>> np.round(sv, 12).tolist()    # |1 + 2 cos(2 pi f / 4)|, f = 0..3
    [3.0, 1.0, 1.0, 1.0]
    """
    from ._validation import normalize_conv_args

    w, geom = normalize_conv_args(weight, input_shape, stride=stride, padding=padding,
                                  dilation=dilation, groups=groups, padding_mode="circular")
    if not _circular_exact_applicable(geom):
        raise ValueError(
            "conv_singular_values needs a circular layer whose stride divides the input size "
            f"and whose padding totals d*(k-1) per axis; got input {geom.input_shape}, stride "
            f"{geom.stride}, padding {geom.padding}; use conv_norm(p=2, l2_method='auto') for "
            "certified bounds")
    check_allocation(_grid_items(geom, geom.input_shape), "input_shape",
                     what="the FFT of the kernel on the input grid")
    scale = safe_scale(w)
    blocks = _exact_circular_blocks(w / scale if scale != 1.0 else w, geom, full=True)
    sv = np.sort(np.linalg.svd(blocks, compute_uv=False).ravel())[::-1]
    unscale(sv[0], scale, "the largest singular value of weight")  # refuses an overflow
    return sv * scale
