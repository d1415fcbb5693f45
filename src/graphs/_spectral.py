"""Ng-Jordan-Weiss spectral clustering of a sparse affinity graph, scalable to millions of nodes.

Pipeline (the clustering step of the multi-view graph learning papers):

1. degrees ``d = G 1`` (a zero degree becomes machine epsilon, so isolated nodes do not divide
   by zero), normalised affinity ``A = D^{-1/2} G D^{-1/2}``;
2. the ``n_clusters`` smallest eigenpairs of the normalised Laplacian ``L = I - A``, i.e. the
   largest of ``A``, by a sparse eigensolver (ARPACK Lanczos, or LOBPCG preconditioned by
   smoothed-aggregation algebraic multigrid for large graphs); nothing dense of size n x n;
3. every row of the eigenvector matrix scaled to unit length (zero rows stay zero);
4. labels from k-means on the rows, or from a deterministic discretisation (Yu and Shi's
   rotation search) that does not depend on a random seed or on the order of the samples.

Unlike the original code, a failing eigensolver raises instead of silently returning random
vectors.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh, lobpcg
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from normgraph._utils.numeric import max_abs, power_of_two_scale
from normgraph._utils.validation import (check_allocation, check_bool, check_choice, check_int,
                                        check_random_state_param, check_real)
from normgraph.graphs._sparsify import _check_affinity
from normgraph.graphs._spectral_kernels import shifted_csr_matmat

__all__ = ["spectral_clustering_njw", "spectral_embedding_njw"]

_EIGEN_SOLVERS = ("auto", "arpack", "lobpcg", "dense")
_ASSIGN_LABELS = ("kmeans", "discretize")
# "auto" uses dense eigh up to this many nodes and LOBPCG + AMG above. Not ARPACK: single-vector
# Lanczos can silently miss copies of a repeated eigenvalue, and a kNN graph with several
# connected components has eigenvalue 0 once per component (on a 20 000-node kNN graph with 9
# components ARPACK at machine precision returned only 7 zeros); a block method does not.
_AUTO_DENSE_MAX_NODES = 1000
_DENSE_MAX_NODES = 20_000
_LOBPCG_MAXITER = 200
_LOBPCG_DEFAULT_TOL = 1e-4
_SYMMETRY_RTOL = 1e-8
# Multigrid preconditioner of LOBPCG: shift of L, coarsest size, Jacobi sweeps per side.
_AMG_SHIFT = 1e-5
_AMG_MAX_COARSE = 500
_AMG_SWEEPS = 1
_AMG_COARSE_CYCLES = 2


def _n_init_rule(n_samples):
    """k-means restarts used by the original evaluation code: 30/20/5/3 by the number of nodes."""
    if n_samples < 5000:
        return 30
    if n_samples < 10000:
        return 20
    if n_samples < 30000:
        return 5
    return 3


def _log(verbose, message, t0):
    if verbose:
        print(f"[spectral_njw] {message} ({time.perf_counter() - t0:.2f} s)", flush=True)


def _even_power_of_two_scale(value):
    """A power of four near ``value``: dividing by it is exact, and so is the square root.

    The normalised affinity ``D^{-1/2} G D^{-1/2}`` of ``G / 4^j`` is then bit for bit that of
    ``G`` (every step is scaled exactly), while degrees of a graph near the float64 limits can
    no longer overflow or underflow.
    """
    scale = power_of_two_scale(value)
    exponent = int(np.frexp(scale)[1]) - 1
    if exponent % 2:
        scale = scale / 2.0 if exponent > 0 else scale * 2.0
    return scale


def _check_graph(G):
    """Square, finite, nonnegative, symmetric to a relative tolerance -> exactly symmetric CSR.

    The returned private copy is divided by a power of four near its largest entry, which
    changes neither the normalised Laplacian nor anything computed from it.
    """
    G, _ = _check_affinity(G)
    if G.nnz:
        G.data /= _even_power_of_two_scale(max_abs(G.data))
    if G.nnz:
        scale = float(G.data.max())
        diff = G - G.T
        asym = float(abs(diff).max()) if diff.nnz else 0.0
        if asym > _SYMMETRY_RTOL * scale:
            raise ValueError(
                f"G must be symmetric: max |G - G.T| = {asym:.3g} (largest entry {scale:.3g}); "
                "symmetrise it first, e.g. (G + G.T) / 2 or knn_sparsify(G, k)"
            )
        if diff.nnz:
            G = ((G + G.T) * 0.5).tocsr()
            G.sum_duplicates()
            G.sort_indices()
    return G


def _normalized_affinity(G):
    """``A = D^{-1/2} G D^{-1/2}`` as CSR, and the degrees (zeros replaced by eps).

    ``G`` is the private copy made by validation and is scaled in place, to save memory.
    """
    degrees = np.asarray(G.sum(axis=1), dtype=np.float64).ravel()
    degrees[degrees == 0.0] = np.finfo(np.float64).eps
    inv_sqrt = 1.0 / np.sqrt(degrees)
    A = G
    row_of = np.repeat(np.arange(G.shape[0], dtype=np.int64), np.diff(G.indptr))
    # s_i * s_j is the same product for (i, j) and (j, i), so A stays exactly symmetric.
    A.data *= inv_sqrt[row_of] * inv_sqrt[A.indices]
    return A, degrees


def _sign_flip(vectors, inplace=False):
    """Make each eigenvector's largest-magnitude entry positive, so repeated runs agree.

    ``inplace=True`` flips the columns of ``vectors`` itself (no (n, c) copy) and returns it.
    """
    idx = np.array([np.argmax(np.abs(vectors[:, j])) for j in range(vectors.shape[1])],
                   dtype=np.intp) if inplace else np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    if inplace:
        vectors *= signs
        return vectors
    return vectors * signs


def _eig_dense(A, n_components):
    vals, vecs = np.linalg.eigh(A.toarray())
    order = np.argsort(-vals, kind="stable")[:n_components]
    return vals[order], vecs[:, order]


def _eig_arpack(A, degrees, n_components, tol, rng):
    n = A.shape[0]
    v0 = rng.uniform(-1.0, 1.0, n)
    ncv = min(n, max(2 * n_components + 1, 20))
    try:
        vals, vecs = eigsh(A, k=n_components, which="LA", tol=tol, v0=v0, ncv=ncv)
    except ArpackNoConvergence as exc:
        raise ArpackNoConvergence(
            f"ARPACK did not converge for the {n_components} largest eigenpairs of the normalised "
            f"affinity ({n} nodes): {exc}. Try eigen_solver='lobpcg' (AMG-preconditioned), a "
            "looser tol, fewer clusters, or check the graph (many tiny components make the top "
            "eigenvalues nearly equal).",
            exc.eigenvalues,
            exc.eigenvectors,
        ) from exc
    order = np.argsort(-vals, kind="stable")
    vals, vecs = vals[order], vecs[:, order]
    _warn_if_missed_null_space(A, degrees, 1.0 - vals, max(tol, 1e-8))
    return vals, vecs


def _warn_if_missed_null_space(A, degrees, laplacian_vals, tol):
    """Warn when fewer zero eigenvalues came back than the graph has non-trivial components.

    Every connected component with an edge contributes one zero eigenvalue of ``L``; Lanczos can
    return a larger eigenvalue in place of a repeated zero without reporting an error.
    """
    n_comp, comp = connected_components(A, directed=False)
    if n_comp == 1:
        return
    with_edges = np.zeros(n_comp, dtype=bool)
    with_edges[comp[degrees > np.finfo(np.float64).eps]] = True
    expected = min(int(with_edges.sum()), laplacian_vals.size)
    found = int(np.sum(np.abs(laplacian_vals) <= tol))
    if found < expected:
        warnings.warn(
            f"ARPACK returned {found} zero eigenvalue(s) but the graph has {int(with_edges.sum())} "
            "connected components with edges, so it missed copies of the repeated eigenvalue 0 "
            "and the embedding is wrong; use eigen_solver='lobpcg' (a block method).",
            ConvergenceWarning,
            stacklevel=5,  # user -> public function -> _embedding -> _eig_arpack -> here
        )


class _BlockVCycle:
    """One algebraic-multigrid V-cycle for ``L + shift I``, applied to a whole block of vectors.

    The hierarchy is plain (unsmoothed) aggregation built with pyamg's strength, aggregation and
    candidate-fitting routines, with ``D^{1/2} 1`` (the null vector of the normalised Laplacian)
    as the near-null-space candidate. Coarsening stops early when a coarse operator would keep
    more than ``min_reduction`` times the nonzeros of the finer one (by default: when it has
    more nonzeros), or would bring the work of one cycle (nonzeros times visits, summed over
    the levels) past ``max_work`` times that of the finest level: on expander-like graphs
    (random edges) aggregation only densifies the operator, and the spectrum is well
    separated anyway, so fewer levels are cheaper. A union of kNN graphs of several views is
    in between: its first coarse level has 2 % of the rows but about 65 % of the nonzeros at
    10^6 nodes and 80 % at 10^7, and it is worth keeping, for its Galerkin eigenvectors start
    LOBPCG close to the answer (at 10^7, dropped by a 3/4 rule: 17 cold LOBPCG iterations,
    215 s; kept: 2 iterations, 23 s); the work cap bounds what a dense coarse level costs.
    The cycle is written here so that each level does sparse x dense-block products
    (``A @ X`` with X of shape (n, m)) instead of m vector cycles, with weighted-Jacobi
    smoothing (weight 4 / (3 rho), rho the Gershgorin bound of D^-1 A) and a dense Cholesky
    solve on the coarsest level (or more Jacobi sweeps when it is still large).
    """

    def __init__(self, shifted, near_null, *, max_coarse, sweeps, coarse_cycles=1,
                 max_direct=5000, min_reduction=1.0, max_work=4.0):
        from pyamg.aggregation import fit_candidates, standard_aggregation
        from pyamg.strength import symmetric_strength_of_connection

        A = shifted.tocsr()
        B = near_null[:, None]
        self.levels = []
        finest_nnz = max(A.nnz, 1)
        work, visits = 1.0, 1
        while A.shape[0] > max_coarse:
            aggregates = standard_aggregation(symmetric_strength_of_connection(A))[0]
            T, B_coarse = fit_candidates(aggregates.tocsr(), B)
            T = T.tocsr()
            A_coarse = (T.T @ (A @ T)).tocsr()
            if A_coarse.shape[0] >= A.shape[0] or A_coarse.nnz > min_reduction * A.nnz:
                break
            # a coarse level is visited up to coarse_cycles times per visit of the one above
            visits *= coarse_cycles
            work += visits * A_coarse.nnz / finest_nnz
            if work > max_work:
                break
            self.levels.append((A, T, T.T.tocsr(), self._jacobi_weights(A)))
            A, B = A_coarse, B_coarse
        self.sweeps = sweeps
        self.coarse_cycles = coarse_cycles
        self.bottom = A
        self.coarse = None
        if A.shape[0] <= max_direct:
            dense = A.toarray()
            self.coarse = (dense + dense.T) / 2
            self.coarse_factor = scipy.linalg.cho_factor(self.coarse)
        else:
            self.bottom_weights = self._jacobi_weights(A)

    def replace_finest(self, operator):
        """Apply the finest level through ``operator`` (the same matrix, applied lazily), so
        the explicit matrix the hierarchy was built from can be freed."""
        if self.levels:
            _, P, R, weights = self.levels[0]
            self.levels[0] = (operator, P, R, weights)
        elif self.coarse is None:
            self.bottom = operator

    @staticmethod
    def _jacobi_weights(A):
        diag = A.diagonal()
        gershgorin = float(np.max(np.asarray(abs(A).sum(axis=1)).ravel() / diag))
        return (4.0 / (3.0 * gershgorin)) / diag

    @property
    def useful(self):
        """False when there is no hierarchy and no direct solve: plain Jacobi on L is no help."""
        return bool(self.levels) or self.coarse is not None

    @property
    def n_levels(self):
        return len(self.levels) + 1

    def prolongate(self, X):
        """Interpolate coarsest-level vectors to the finest level."""
        for _, P, _, _ in reversed(self.levels):
            X = P @ X
        return X

    def _cycle(self, depth, B):
        if depth == len(self.levels):
            if self.coarse is not None:
                return scipy.linalg.cho_solve(self.coarse_factor, B)
            X = self.bottom_weights[:, None] * B
            for _ in range(2 * self.sweeps - 1):
                X += self.bottom_weights[:, None] * (B - self.bottom @ X)
            return X
        A, P, R, weights = self.levels[depth]
        X = weights[:, None] * B
        for _ in range(self.sweeps - 1):
            X += weights[:, None] * (B - A @ X)
        B_coarse = R @ (B - A @ X)
        X_coarse = self._cycle(depth + 1, B_coarse)
        if depth + 1 < len(self.levels):
            # coarse levels are cheap: more cycles there (a W-cycle for 2) make the coarse
            # correction of plain aggregation accurate at little cost
            A_coarse = self.levels[depth + 1][0]
            for _ in range(self.coarse_cycles - 1):
                X_coarse += self._cycle(depth + 1, B_coarse - A_coarse @ X_coarse)
        X += P @ X_coarse
        for _ in range(self.sweeps):
            X += weights[:, None] * (B - A @ X)
        return X

    def __call__(self, B):
        B = np.asarray(B, dtype=np.float64)
        if B.ndim == 1:
            return self._cycle(0, B[:, None])[:, 0]
        return self._cycle(0, B)


class _ShiftedIdentityMinus(LinearOperator):
    """``c I - A`` for a sparse symmetric CSR matrix A, applied without forming it (on
    every core, :func:`._spectral_kernels.shifted_csr_matmat`)."""

    def __init__(self, A, c):
        super().__init__(dtype=np.float64, shape=A.shape)
        self.A = A
        self.c = c

    def _matvec(self, x):
        return self._matmat(x)

    def _matmat(self, X):
        X = np.ascontiguousarray(X, dtype=np.float64)
        squeeze = X.ndim == 1
        X2 = X[:, None] if squeeze else X
        out = np.empty_like(X2)
        shifted_csr_matmat(self.A.indptr, self.A.indices, self.A.data, X2, self.c, out)
        return out[:, 0] if squeeze else out

    def _adjoint(self):
        return self


def _eig_lobpcg(A, degrees, n_components, tol, rng):
    try:
        import pyamg  # noqa: F401
    except ImportError as exc:  # pragma: no cover - pyamg is a test/benchmark dependency
        raise ImportError(
            "eigen_solver='lobpcg' uses an algebraic multigrid preconditioner from pyamg; "
            "install it (pip install pyamg) or use eigen_solver='arpack'"
        ) from exc
    n = A.shape[0]
    # L = I - A and L + shift I are applied through A (no second and third copy of the graph
    # while LOBPCG's blocks are alive); the hierarchy is built from an explicit L + shift I,
    # which is dropped once its coarse levels exist. L is only positive semi-definite (one zero
    # eigenvalue per connected component); the small shift makes it definite for the
    # multigrid hierarchy and the coarse Cholesky factor.
    laplacian = _ShiftedIdentityMinus(A, 1.0)
    identity = sp.identity(n, dtype=np.float64, format="csr")
    shifted = ((1.0 + _AMG_SHIFT) * identity - A).tocsr()
    del identity
    near_null = np.sqrt(degrees)
    vcycle = _BlockVCycle(shifted, near_null, max_coarse=max(_AMG_MAX_COARSE, 4 * n_components),
                          sweeps=_AMG_SWEEPS, coarse_cycles=_AMG_COARSE_CYCLES)
    vcycle.replace_finest(_ShiftedIdentityMinus(A, 1.0 + _AMG_SHIFT))
    del shifted
    M = None
    X = rng.standard_normal((n, n_components))
    if vcycle.useful:
        M = LinearOperator((n, n), matvec=vcycle, matmat=vcycle, dtype=np.float64)
    if vcycle.coarse is not None:
        # Start from the Galerkin eigenvectors of the coarsest level, interpolated up: for
        # graphs with cluster structure they are already close to the wanted subspace.
        _, coarse_vecs = np.linalg.eigh(vcycle.coarse)
        n_coarse = min(n_components, coarse_vecs.shape[1])
        X[:, :n_coarse] = vcycle.prolongate(coarse_vecs[:, :n_coarse])
    X[:, 0] = near_null  # exact null vector of L on every component
    with warnings.catch_warnings():
        # LOBPCG warns when it stops on maxiter; we check the residuals ourselves below.
        warnings.simplefilter("ignore", UserWarning)
        vals, vecs = lobpcg(laplacian, X, M=M, tol=tol, maxiter=_LOBPCG_MAXITER, largest=False)
    residual = laplacian @ vecs - vecs * vals
    worst = float(np.max(np.linalg.norm(residual, axis=0)))
    if not np.isfinite(worst) or worst > 10.0 * tol:
        warnings.warn(
            f"LOBPCG stopped with eigen-residual {worst:.3g} > tol={tol:.3g} after at most "
            f"{_LOBPCG_MAXITER} iterations; the embedding may be inaccurate. Try a looser tol, "
            "eigen_solver='arpack', or check the graph's connectivity.",
            ConvergenceWarning,
            stacklevel=4,  # user -> public function -> _embedding -> _eig_lobpcg
        )
    order = np.argsort(vals, kind="stable")
    return 1.0 - vals[order], vecs[:, order]


def _resolve_solver(eigen_solver, n, n_components):
    if eigen_solver == "auto":
        if n <= _AUTO_DENSE_MAX_NODES:
            return "dense"
        if 5 * n_components >= n:  # too many vectors for a block method on so few nodes
            return "dense" if n <= _DENSE_MAX_NODES else "arpack"
        try:
            import pyamg  # noqa: F401
        except ImportError:  # pragma: no cover
            return "arpack"
        return "lobpcg"
    if eigen_solver == "dense" and n > _DENSE_MAX_NODES:
        raise ValueError(
            f"eigen_solver='dense' builds an n x n matrix and is meant for small tests; "
            f"n = {n} > {_DENSE_MAX_NODES}: use 'arpack', 'lobpcg' or 'auto'"
        )
    if eigen_solver == "arpack" and n_components >= n:
        raise ValueError(
            f"eigen_solver='arpack' needs n_clusters < n (got {n_components} >= {n}); use 'dense'"
        )
    if eigen_solver == "lobpcg" and 5 * n_components >= n:
        raise ValueError(
            f"eigen_solver='lobpcg' needs n > 5 * n_clusters (got n = {n}, "
            f"n_clusters = {n_components}); use 'arpack' or 'dense'"
        )
    return eigen_solver


def spectral_embedding_njw(G, n_components, *, eigen_solver="auto", random_state=None, tol=None,
                           verbose=False):
    """Smallest eigenpairs of the normalised Laplacian of a sparse graph.

    Computes the ``n_components`` smallest eigenvalues of ``L = I - D^{-1/2} G D^{-1/2}`` and
    their eigenvectors (before the row normalisation of :func:`spectral_clustering_njw`).

    Parameters
    ----------
    G : sparse matrix or array-like of shape (n, n)
        Symmetric, nonnegative, finite affinity matrix.
    n_components : int
        Number of eigenpairs, ``1 <= n_components <= n``.
    eigen_solver : {"auto", "arpack", "lobpcg", "dense"}, default="auto"
        ``"lobpcg"``: :func:`scipy.sparse.linalg.lobpcg` on ``L``, preconditioned by an
        algebraic multigrid V-cycle (aggregation hierarchy from pyamg) and started from the
        coarsest level's eigenvectors; a block method, so repeated eigenvalues (one zero per
        connected component) are all found. Needs ``n > 5 * n_components``.
        ``"arpack"``: Lanczos (:func:`scipy.sparse.linalg.eigsh`, ``which="LA"`` on the
        normalised affinity); fast on well-separated spectra, but a single-vector method can
        miss copies of a repeated eigenvalue (a warning is raised when it visibly returns
        fewer zero eigenvalues than the graph has connected components).
        ``"dense"``: :func:`numpy.linalg.eigh` on an n x n array, for tiny graphs (at most
        20 000 nodes). ``"auto"``: dense up to 1000 nodes, LOBPCG above (ARPACK if pyamg
        is missing).
    random_state : int, RandomState instance or None, default=None
        Seeds the solver's start vector(s).
    tol : float or None, default=None
        Eigen-solver tolerance; ``None`` means machine precision for ARPACK and a residual
        norm ``||L v - lambda v||`` of 1e-4 per unit eigenvector for LOBPCG (eigenvalue errors
        are then of the order of tol**2 / spectral gap; pass a smaller value for more accurate
        vectors).
    verbose : bool, default=False
        Print the time of each stage.

    Returns
    -------
    eigenvalues : ndarray of shape (n_components,)
        Eigenvalues of ``L``, ascending (in [0, 2]).
    eigenvectors : ndarray of shape (n, n_components)
        Orthonormal eigenvectors, each with its largest-magnitude entry positive.

    Raises
    ------
    ValueError
        If ``G`` is not square, symmetric, nonnegative and finite, or a parameter is invalid.
    scipy.sparse.linalg.ArpackNoConvergence
        If ARPACK does not converge (with advice in the message).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.graphs._spectral import spectral_embedding_njw
    >>> G = np.kron(np.eye(2), np.ones((3, 3))) - np.eye(6)   # two disjoint triangles
    >>> vals, vecs = spectral_embedding_njw(G, 3, eigen_solver="dense")
    >>> np.round(vals, 6) + 0.0
    array([0. , 0. , 1.5])
    """
    t0 = time.perf_counter()
    check_choice(eigen_solver, "eigen_solver", _EIGEN_SOLVERS)
    n_components = check_int(n_components, "n_components", low=1)
    if tol is not None:
        tol = check_real(tol, "tol", low=0.0)
    check_bool(verbose, "verbose")
    check_random_state_param(random_state)
    G = _check_graph(G)
    n_components = check_int(n_components, "n_components", high=G.shape[0])
    # eigensolver blocks: a few (n, n_components) arrays
    check_allocation(G.shape[0] * n_components, "n_components", what="the eigenvector blocks")
    return _embedding(G, n_components, eigen_solver, check_random_state(random_state), tol,
                      verbose, t0)


def _embedding(G, n_components, eigen_solver, rng, tol, verbose, t0):
    """Eigenpairs of the normalised Laplacian of an already validated graph."""
    n = G.shape[0]
    solver = _resolve_solver(eigen_solver, n, n_components)
    A, degrees = _normalized_affinity(G)
    _log(verbose, f"validated and normalised {n} nodes, {A.nnz} stored entries", t0)
    if solver == "dense":
        vals, vecs = _eig_dense(A, n_components)
    elif solver == "arpack":
        vals, vecs = _eig_arpack(A, degrees, n_components, 0.0 if tol is None else tol, rng)
    else:
        vals, vecs = _eig_lobpcg(
            A, degrees, n_components, _LOBPCG_DEFAULT_TOL if tol is None else tol, rng
        )
    _log(verbose, f"{solver} eigensolver done", t0)
    # eigenvalues of L = 1 - eigenvalues of A, ascending (vecs is the solver's own array)
    return 1.0 - vals, _sign_flip(np.ascontiguousarray(vecs), inplace=True)


def _row_normalize(vectors, inplace=False):
    """Rows scaled to unit length (zero rows stay zero); ``inplace=True``: no (n, c) copy."""
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    nonzero = norms > 0
    if inplace:
        np.divide(vectors, norms[:, None], out=vectors, where=nonzero[:, None])
        return vectors
    out = np.zeros_like(vectors)
    out[nonzero] = vectors[nonzero] / norms[nonzero, None]
    return out


def _discretize(embedding, max_iter=100, tol=1e-12):
    """Deterministic labels from a row-normalised embedding by Yu and Shi's rotation search.

    Alternates between the discrete labelling closest to the rotated embedding (argmax per row)
    and the rotation closest to that labelling (an orthogonal Procrustes problem solved by SVD).
    Every step depends on the rows only through inner products, and the start (the most typical
    row, then rows most orthogonal to those chosen) uses no random number and no sample order,
    so the labels are equivariant under sample permutations and invariant under rotations of
    the embedding.
    """
    n, c = embedding.shape
    gram = embedding.T @ embedding
    typicality = np.einsum("ij,jk,ik->i", embedding, gram, embedding)
    rotation = np.zeros((c, c))
    rotation[:, 0] = embedding[np.argmax(typicality)]
    overlap = np.zeros(n)
    for j in range(1, c):
        overlap += np.abs(embedding @ rotation[:, j - 1])
        rotation[:, j] = embedding[np.argmin(overlap)]
    last = -np.inf
    for _ in range(max_iter):
        labels = np.argmax(embedding @ rotation, axis=1)
        cluster_sums = np.zeros((c, c))
        np.add.at(cluster_sums, labels, embedding)  # row j = sum of the rows labelled j
        u, s, vt = np.linalg.svd(cluster_sums.T)
        rotation = u @ vt
        objective = float(s.sum())
        if objective - last <= tol * max(n, 1):
            break
        last = objective
    return np.argmax(embedding @ rotation, axis=1).astype(np.int64)


def spectral_clustering_njw(G, n_clusters, *, eigen_solver="auto", assign_labels="kmeans",
                            n_init=None, random_state=None, tol=None, verbose=False):
    """Ng-Jordan-Weiss spectral clustering of a sparse, symmetric affinity graph.

    The ``n_clusters`` eigenvectors of the smallest eigenvalues of the normalised Laplacian
    ``L = I - D^{-1/2} G D^{-1/2}`` (zero degrees replaced by machine epsilon) are stacked,
    every row is scaled to unit length (zero rows stay zero), and the rows are clustered. The
    cost is that of a sparse eigensolver plus k-means on an (n, n_clusters) array: no n x n
    dense array is formed (except with ``eigen_solver="dense"``), so graphs with millions of
    nodes fit in memory.

    Parameters
    ----------
    G : sparse matrix or array-like of shape (n, n)
        Symmetric (to a relative tolerance of 1e-8), nonnegative, finite affinity matrix. It
        need not be connected.
    n_clusters : int
        Number of clusters, ``1 <= n_clusters <= n`` (one cluster: every label is 0).
    eigen_solver : {"auto", "arpack", "lobpcg", "dense"}, default="auto"
        See :func:`spectral_embedding_njw`; ``"auto"`` uses dense eigh up to 1000 nodes and
        LOBPCG with an algebraic multigrid preconditioner above.
    assign_labels : {"kmeans", "discretize"}, default="kmeans"
        ``"kmeans"``: :class:`sklearn.cluster.KMeans` with ``max_iter=1000`` and ``n_init``
        restarts, as in the original code. ``"discretize"``: Yu and Shi's rotation search,
        deterministic and independent of the sample order (a cluster may then be empty).
    n_init : int or None, default=None
        k-means restarts; ``None`` uses the original rule: 30 below 5000 nodes, 20 below
        10 000, 5 below 30 000, else 3.
    random_state : int, RandomState instance or None, default=None
        Seeds the eigensolver's start vectors and k-means.
    tol : float or None, default=None
        Eigensolver tolerance (``None``: machine precision for ARPACK, residual 1e-4 for LOBPCG).
    verbose : bool, default=False
        Print the time of each stage.

    Returns
    -------
    labels : ndarray of shape (n,), int64
        Cluster labels in ``0 .. n_clusters - 1``.
    embedding : ndarray of shape (n, n_clusters)
        The row-normalised spectral embedding that was clustered.

    Raises
    ------
    ValueError
        If ``G`` is not square, symmetric, nonnegative and finite, ``n_clusters`` is outside
        ``[1, n]``, or an option is unknown.
    TypeError
        If ``G`` is not numeric or a parameter has the wrong type.
    scipy.sparse.linalg.ArpackNoConvergence
        If ARPACK does not converge (the original silently used random vectors instead).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from normgraph.graphs import metrics
    >>> from normgraph.graphs._spectral import spectral_clustering_njw
    >>> blocks = sp.block_diag([np.ones((20, 20))] * 3, format="csr")
    >>> G = blocks + sp.random(60, 60, density=0.02, random_state=0)
    >>> G = (G + G.T) / 2
    >>> labels, embedding = spectral_clustering_njw(G, 3, random_state=0)
    >>> y = np.repeat([0, 1, 2], 20)
    >>> metrics.adjusted_rand(y, labels), embedding.shape
    (1.0, (60, 3))
    """
    t0 = time.perf_counter()
    check_choice(assign_labels, "assign_labels", _ASSIGN_LABELS)
    check_choice(eigen_solver, "eigen_solver", _EIGEN_SOLVERS)
    n_clusters = check_int(n_clusters, "n_clusters", low=1)
    if n_init is not None:
        n_init = check_int(n_init, "n_init", low=1)
    if tol is not None:
        tol = check_real(tol, "tol", low=0.0)
    check_bool(verbose, "verbose")
    check_random_state_param(random_state)
    G = _check_graph(G)
    n_clusters = check_int(n_clusters, "n_clusters", high=G.shape[0])
    check_allocation(G.shape[0] * n_clusters, "n_clusters", what="the eigenvector blocks")
    rng = check_random_state(random_state)
    _, vectors = _embedding(G, n_clusters, eigen_solver, rng, tol, verbose, t0)
    del G
    embedding = _row_normalize(vectors, inplace=True)  # the eigensolver's array, no copy
    del vectors
    n = embedding.shape[0]
    if n_clusters == 1:  # one cluster: nothing to assign
        labels = np.zeros(n, dtype=np.int64)
    elif assign_labels == "kmeans":
        km = KMeans(
            n_clusters=n_clusters,
            n_init=_n_init_rule(n) if n_init is None else n_init,
            max_iter=1000,
            random_state=rng,
        )
        labels = km.fit_predict(embedding).astype(np.int64)
    else:
        labels = _discretize(embedding)
    _log(verbose, f"labels assigned by {assign_labels}", t0)
    return labels, embedding
