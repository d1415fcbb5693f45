"""NJW spectral clustering: exact recovery, eigenpairs against dense eigh, equivariance, errors."""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import ArpackNoConvergence
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import normgraph.graphs._spectral as spectral_module
from normgraph.graphs._spectral import (
    _discretize,
    _n_init_rule,
    spectral_clustering_njw,
    spectral_embedding_njw,
)
from normgraph.graphs.metrics import adjusted_rand


def planted_partition(sizes, p_in, p_out, seed):
    """Symmetric random graph: edges inside blocks w.p. p_in, across w.p. p_out, U(0.5, 1)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(sizes)), sizes)
    n = y.size
    prob = np.where(y[:, None] == y[None, :], p_in, p_out)
    upper = np.triu(rng.random((n, n)) < prob, k=1)
    W = np.where(upper, rng.uniform(0.5, 1.0, (n, n)), 0.0)
    return sp.csr_matrix(W + W.T), y


def dense_laplacian_eigenvalues(G):
    """Eigenvalues of L = I - D^{-1/2} G D^{-1/2} from the spec's formula, by dense eigh."""
    D = np.asarray(G.toarray() if sp.issparse(G) else G, dtype=np.float64)
    d = D.sum(axis=1)
    d[d == 0] = np.finfo(np.float64).eps
    s = 1.0 / np.sqrt(d)
    L = np.eye(D.shape[0]) - s[:, None] * D * s[None, :]
    return np.linalg.eigh((L + L.T) / 2)[0]


@pytest.fixture(autouse=True, scope="module")
def single_threaded_blas():
    # the matrices here are tiny: BLAS threads only spin and burn CPU on a shared machine
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def planted():
    return planted_partition([100, 100, 100], 0.2, 0.01, seed=0)


# ----------------------------------------------------------------------------- recovery


@pytest.mark.parametrize("eigen_solver", ["arpack", "lobpcg", "dense", "auto"])
@pytest.mark.parametrize("assign_labels", ["kmeans", "discretize"])
def test_planted_partition_recovered(planted, eigen_solver, assign_labels):
    G, y = planted
    labels, embedding = spectral_clustering_njw(
        G, 3, eigen_solver=eigen_solver, assign_labels=assign_labels, n_init=3, random_state=0
    )
    assert adjusted_rand(y, labels) == 1.0
    assert labels.dtype == np.int64 and set(labels) == {0, 1, 2}
    assert embedding.shape == (300, 3)
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, rtol=1e-12)


def test_auto_switches_from_dense_to_lobpcg(capsys):
    G, y = planted_partition([400, 350, 450], 0.03, 0.002, seed=1)
    labels, _ = spectral_clustering_njw(G, 3, n_init=2, random_state=0, verbose=True)
    assert "lobpcg eigensolver" in capsys.readouterr().out
    assert adjusted_rand(y, labels) == 1.0
    small = G[:600][:, :600]
    spectral_clustering_njw(small, 2, n_init=1, random_state=0, verbose=True)
    assert "dense eigensolver" in capsys.readouterr().out


def test_arpack_and_lobpcg_span_the_same_subspace(planted):
    G, _ = planted
    _, U_arpack = spectral_embedding_njw(G, 3, eigen_solver="arpack", random_state=0)
    _, U_lobpcg = spectral_embedding_njw(G, 3, eigen_solver="lobpcg", random_state=1, tol=1e-9)
    _, U_dense = spectral_embedding_njw(G, 3, eigen_solver="dense")
    assert np.max(scipy.linalg.subspace_angles(U_arpack, U_lobpcg)) < 1e-6
    assert np.max(scipy.linalg.subspace_angles(U_arpack, U_dense)) < 1e-8
    np.testing.assert_allclose(U_arpack.T @ U_arpack, np.eye(3), atol=1e-10)


@pytest.mark.parametrize(
    "eigen_solver, atol", [("arpack", 1e-10), ("lobpcg", 1e-8), ("dense", 1e-12)]
)
def test_eigenvalues_match_dense_eigh(planted, eigen_solver, atol):
    G, _ = planted
    vals, vecs = spectral_embedding_njw(G, 4, eigen_solver=eigen_solver, random_state=0, tol=1e-10)
    np.testing.assert_allclose(vals, dense_laplacian_eigenvalues(G)[:4], atol=atol)
    # and they are eigenpairs of L
    d = np.asarray(G.sum(axis=1)).ravel()
    A = sp.diags(1 / np.sqrt(d)) @ G @ sp.diags(1 / np.sqrt(d))
    residual = vecs - A @ vecs - vecs * vals
    assert np.abs(residual).max() < 1e-6


@st.composite
def random_graphs(draw):
    n = draw(st.integers(8, 30))
    seed = draw(st.integers(0, 2**31 - 1))
    density = draw(st.sampled_from([0.05, 0.2, 0.6]))
    R = sp.random(n, n, density=density, random_state=seed)
    G = (R + R.T).tocsr()
    # a few isolated nodes now and then (zero degree -> eps)
    if draw(st.booleans()):
        keep = np.ones(n)
        keep[: draw(st.integers(1, 2))] = 0
        G = sp.diags(keep) @ G @ sp.diags(keep)
    return sp.csr_matrix(G), draw(st.integers(1, 4))


@settings(max_examples=25)
@given(random_graphs())
def test_eigenvalues_match_dense_on_random_graphs(case):
    G, k = case
    expected = dense_laplacian_eigenvalues(G)[:k]
    for solver in ("arpack", "dense"):
        vals, _ = spectral_embedding_njw(G, k, eigen_solver=solver, random_state=0)
        np.testing.assert_allclose(vals, expected, atol=1e-8)


# ----------------------------------------------------------------------------- equivariance


def test_sample_permutation_equivariance_with_discretize():
    # noisy enough that the clustering is not perfect: the check is about equivariance
    G, y = planted_partition([60, 50, 40, 50], 0.15, 0.05, seed=3)
    perm = np.random.default_rng(7).permutation(y.size)
    Gp = G[perm][:, perm]
    labels, emb = spectral_clustering_njw(G, 4, eigen_solver="arpack", assign_labels="discretize",
                                          random_state=0)
    labels_p, emb_p = spectral_clustering_njw(Gp, 4, eigen_solver="arpack",
                                              assign_labels="discretize", random_state=123)
    assert adjusted_rand(labels[perm], labels_p) == 1.0
    assert adjusted_rand(y, labels) < 1.0  # the test is not the trivial, perfect case
    assert np.max(scipy.linalg.subspace_angles(emb[perm], emb_p)) < 1e-8


def test_discretize_is_rotation_invariant_and_deterministic():
    G, _ = planted_partition([40, 30, 30], 0.2, 0.06, seed=5)
    _, emb = spectral_clustering_njw(G, 3, eigen_solver="dense", assign_labels="discretize")
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))[0]
    labels = _discretize(emb)
    np.testing.assert_array_equal(labels, _discretize(emb.copy()))
    assert adjusted_rand(labels, _discretize(emb @ Q)) == 1.0


def test_random_state_reproducible(planted):
    G, _ = planted
    a = spectral_clustering_njw(G, 3, eigen_solver="arpack", n_init=2, random_state=42)
    b = spectral_clustering_njw(G, 3, eigen_solver="arpack", n_init=2, random_state=42)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


# ----------------------------------------------------------------------------- degenerate graphs


def test_disconnected_components_and_isolated_nodes():
    blocks = [np.ones((10, 10)) - np.eye(10), np.ones((8, 8)) - np.eye(8),
              np.ones((12, 12)) - np.eye(12), np.zeros((2, 2))]
    G = sp.block_diag(blocks, format="csr")
    y = np.repeat([0, 1, 2, 3], [10, 8, 12, 2])
    vals, _ = spectral_embedding_njw(G, 3, eigen_solver="arpack", random_state=0)
    np.testing.assert_allclose(vals, 0.0, atol=1e-10)  # one zero eigenvalue per component
    for solver in ("arpack", "lobpcg", "dense"):
        labels, emb = spectral_clustering_njw(G, 3, eigen_solver=solver, random_state=0)
        assert np.all(np.isfinite(emb)) and labels.shape == (32,)
        assert adjusted_rand(y[:30], labels[:30]) == 1.0


def test_all_zero_graph_does_not_crash():
    labels, emb = spectral_clustering_njw(sp.csr_matrix((12, 12)), 2, eigen_solver="dense",
                                          random_state=0)
    assert labels.shape == (12,) and np.all(np.isfinite(emb))


def test_n_init_rule():
    assert [_n_init_rule(n) for n in (10, 4999, 5000, 9999, 10000, 29999, 30000, 10**6)] == [
        30, 30, 20, 20, 5, 5, 3, 3]


# ----------------------------------------------------------------------------- errors


def test_arpack_failure_is_reraised_with_advice(planted, monkeypatch):
    def fail(*args, **kwargs):
        raise ArpackNoConvergence("no convergence", np.zeros(1), np.zeros((300, 1)))

    monkeypatch.setattr(spectral_module, "eigsh", fail)
    with pytest.raises(ArpackNoConvergence, match="lobpcg"):
        spectral_clustering_njw(planted[0], 3, eigen_solver="arpack")


def test_arpack_missing_a_repeated_zero_eigenvalue_warns(monkeypatch):
    G = sp.block_diag([np.ones((10, 10)) - np.eye(10)] * 3, format="csr")
    # what single-vector Lanczos can return on a graph with 3 components: one copy of 1
    wrong = np.array([1.0, 0.5, 0.4])
    monkeypatch.setattr(spectral_module, "eigsh",
                        lambda *a, **k: (wrong, np.linalg.qr(np.ones((30, 3)) + np.eye(30, 3))[0]))
    with pytest.warns(ConvergenceWarning, match="3 connected components"):
        spectral_embedding_njw(G, 3, eigen_solver="arpack")


def test_lobpcg_multilevel_preconditioner(planted, monkeypatch):
    # below 500 nodes the coarse solve is direct; force a real hierarchy on the small graph
    monkeypatch.setattr(spectral_module, "_AMG_MAX_COARSE", 12)
    G, y = planted
    vals, _ = spectral_embedding_njw(G, 4, eigen_solver="lobpcg", random_state=0, tol=1e-9)
    np.testing.assert_allclose(vals, dense_laplacian_eigenvalues(G)[:4], atol=1e-10)
    labels, _ = spectral_clustering_njw(G, 3, eigen_solver="lobpcg", n_init=2, random_state=0)
    assert adjusted_rand(y, labels) == 1.0


def test_block_multigrid_cycle_is_spd_and_convergent(monkeypatch):
    # a 15 x 15 grid graph coarsens over several levels, unlike a dense random graph
    side = 15
    path = sp.diags([np.ones(side - 1), np.ones(side - 1)], [-1, 1])
    G = (sp.kron(path, sp.identity(side)) + sp.kron(sp.identity(side), path)).tocsr()
    n = side * side
    d = np.asarray(G.sum(axis=1)).ravel()
    identity = sp.identity(n, format="csr")
    shifted = (identity - sp.diags(d ** -0.5) @ G @ sp.diags(d ** -0.5) + 1e-5 * identity).tocsr()
    for sweeps, coarse_cycles in [(1, 2), (2, 1), (1, 1)]:
        vcycle = spectral_module._BlockVCycle(shifted, np.sqrt(d), max_coarse=12, sweeps=sweeps,
                                              coarse_cycles=coarse_cycles)
        assert len(vcycle.levels) >= 2 and vcycle.coarse is not None
        # the cycle is a symmetric positive definite operator (LOBPCG needs that)
        E = vcycle(np.eye(n))
        np.testing.assert_allclose(E, E.T, atol=1e-10)
        assert np.linalg.eigvalsh((E + E.T) / 2).min() > 0
        # and a convergent one: a few preconditioned Richardson steps reduce the error
        x_true = np.random.default_rng(0).standard_normal(n)
        b, x = shifted @ x_true, np.zeros(n)
        for _ in range(5):
            x += vcycle(b - shifted @ x)
        assert np.linalg.norm(x - x_true) < 0.5 * np.linalg.norm(x_true)
    # the whole multilevel LOBPCG path on a graph with small gaps and double eigenvalues
    monkeypatch.setattr(spectral_module, "_AMG_MAX_COARSE", 12)
    vals, _ = spectral_embedding_njw(G, 5, eigen_solver="lobpcg", random_state=0, tol=1e-7)
    np.testing.assert_allclose(vals, dense_laplacian_eigenvalues(G)[:5], atol=1e-10)


def _first_coarse_level(shifted, near_null):
    """Rows and nonzeros of the first aggregation level, computed here from pyamg's routines."""
    from pyamg.aggregation import fit_candidates, standard_aggregation
    from pyamg.strength import symmetric_strength_of_connection

    aggregates = standard_aggregation(symmetric_strength_of_connection(shifted))[0]
    T = fit_candidates(aggregates.tocsr(), near_null[:, None])[0].tocsr()
    coarse = (T.T @ (shifted @ T)).tocsr()
    return coarse.shape[0], coarse.nnz


@pytest.mark.parametrize("seed", [0, 1])
def test_multigrid_keeps_a_coarse_level_by_its_nonzeros_and_the_cycle_work(seed):
    # A ring lattice plus random chords: aggregation shrinks the rows a lot but keeps a good
    # share of the nonzeros (as on a union of kNN graphs of several views). The level is kept
    # exactly when its nonzeros are within min_reduction of the finer level's and the work of a
    # cycle (nonzeros x visits) stays within max_work.
    rng = np.random.default_rng(seed)
    n = 3000
    ring = sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], shape=(n, n))
    chords = sp.coo_matrix((np.ones(2 * n), (rng.integers(0, n, 2 * n), rng.integers(0, n, 2 * n))),
                           shape=(n, n))
    G = (ring + chords + chords.T).tocsr()
    G.setdiag(0)
    G.eliminate_zeros()
    d = np.asarray(G.sum(axis=1)).ravel()
    scale = sp.diags(d ** -0.5)
    shifted = ((1 + 1e-5) * sp.identity(n) - scale @ G @ scale).tocsr()
    rows, nnz = _first_coarse_level(shifted, np.sqrt(d))
    ratio = nnz / shifted.nnz
    assert rows < n / 2 and 0.05 < ratio < 0.95

    def levels(**kw):
        return len(spectral_module._BlockVCycle(shifted, np.sqrt(d), max_coarse=rows,
                                                 sweeps=1, coarse_cycles=2, **kw).levels)

    assert levels() == 1  # the defaults keep it (fewer nonzeros, 4 cycles' work)
    assert levels(min_reduction=ratio * 1.01, max_work=100.0) == 1
    assert levels(min_reduction=ratio * 0.99, max_work=100.0) == 0
    # the first coarse level is visited twice per cycle (two coarse cycles)
    assert levels(min_reduction=1.0, max_work=1 + 2 * ratio * 1.01) == 1
    assert levels(min_reduction=1.0, max_work=1 + 2 * ratio * 0.99) == 0


def test_lobpcg_non_convergence_warns(planted, monkeypatch):
    monkeypatch.setattr(spectral_module, "_LOBPCG_MAXITER", 1)
    monkeypatch.setattr(spectral_module, "_AMG_MAX_COARSE", 12)
    with pytest.warns(ConvergenceWarning, match="LOBPCG"):
        spectral_embedding_njw(planted[0], 3, eigen_solver="lobpcg", tol=1e-14, random_state=0)


SYM = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 2.0], [0.5, 2.0, 0.0]])


@pytest.mark.parametrize(
    "G, kwargs, error, match",
    [
        (np.ones((3, 4)), {}, ValueError, "square"),
        (np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), {}, ValueError,
         "symmetric"),
        (-SYM, {}, ValueError, "negative"),
        (np.where(SYM == 2.0, np.nan, SYM), {}, ValueError, "NaN"),
        (np.where(SYM == 2.0, np.inf, SYM), {}, ValueError, "NaN or infinity"),
        (SYM, {"n_clusters": 0}, ValueError, "n_clusters"),
        (SYM, {"n_clusters": 4}, ValueError, "n_clusters"),
        (SYM, {"n_clusters": 2.0}, TypeError, "n_clusters"),
        (SYM, {"eigen_solver": "amg"}, ValueError, "eigen_solver"),
        (SYM, {"assign_labels": "cluster_qr"}, ValueError, "assign_labels"),
        (SYM, {"n_init": 0}, ValueError, "n_init"),
        (SYM, {"tol": -1.0}, ValueError, "tol"),
        (SYM, {"eigen_solver": "arpack", "n_clusters": 3}, ValueError, "n_clusters < n"),
        (SYM, {"eigen_solver": "lobpcg"}, ValueError, "5 \\* n_clusters"),
        (sp.identity(20001, format="csr"), {"eigen_solver": "dense"}, ValueError, "dense"),
    ],
)
def test_bad_input_raises(G, kwargs, error, match):
    kwargs = {"n_clusters": 2, **kwargs}
    with pytest.raises(error, match=match):
        spectral_clustering_njw(G, **kwargs)


def test_input_formats_agree(planted):
    G, _ = planted
    results = [
        spectral_clustering_njw(M, 3, eigen_solver="arpack", assign_labels="discretize",
                                random_state=0)[0]
        for M in (G, G.toarray(), sp.csr_array(G), G.tocoo(), G.astype(np.float32))
    ]
    for labels in results[1:]:
        assert adjusted_rand(results[0], labels) == 1.0


def test_as_many_clusters_as_nodes():
    G = np.ones((5, 5)) - np.eye(5)
    labels, emb = spectral_clustering_njw(G, 5, random_state=0)
    assert sorted(labels) == [0, 1, 2, 3, 4] and emb.shape == (5, 5)


# ----------------------------------------------------------------------------- one cluster


@pytest.mark.parametrize("eigen_solver", ["arpack", "lobpcg", "dense", "auto"])
@pytest.mark.parametrize("assign_labels", ["kmeans", "discretize"])
def test_one_cluster_gives_zeros_and_the_trivial_eigenvector(planted, eigen_solver,
                                                              assign_labels):
    """n_clusters = 1: every label 0; on a connected graph the embedding is the unit
    normalisation of D^{1/2} 1 (the null vector of L), i.e. all ones after row scaling."""
    G, _ = planted
    labels, embedding = spectral_clustering_njw(G, 1, eigen_solver=eigen_solver,
                                                assign_labels=assign_labels, random_state=0)
    np.testing.assert_array_equal(labels, np.zeros(300, dtype=np.int64))
    assert embedding.shape == (300, 1)
    np.testing.assert_allclose(embedding[:, 0], 1.0, rtol=1e-6)
    vals, vecs = spectral_embedding_njw(G, 1, eigen_solver=eigen_solver, random_state=0)
    d = np.asarray(G.sum(axis=1)).ravel()
    np.testing.assert_allclose(np.abs(vecs[:, 0]), np.sqrt(d) / np.linalg.norm(np.sqrt(d)),
                               atol=1e-6)
    assert abs(vals[0]) < 1e-6


@given(st.integers(1, 40), st.integers(1, 6), st.floats(0.0, 0.5), st.integers(0, 2**31),
       st.sampled_from([1.0, 1.0 + 1e-5]))
@settings(max_examples=50, deadline=None)
def test_shifted_csr_matmat_matches_scipy(n, b, density, seed, c):
    """The parallel ``c X - A X`` kernel against SciPy's sparse product."""
    from normgraph.graphs._spectral import _ShiftedIdentityMinus

    rng = np.random.default_rng(seed)
    A = sp.random(n, n, density=density, format="csr", random_state=rng)
    X = rng.standard_normal((n, b))
    op = _ShiftedIdentityMinus(A, c)
    np.testing.assert_allclose(op @ X, c * X - A @ X, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op @ X[:, 0], c * X[:, 0] - A @ X[:, 0], rtol=1e-12, atol=1e-12)
