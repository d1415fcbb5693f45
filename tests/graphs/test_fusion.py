"""Tests of the consistent graph fusion solver (spec sections 2, 3, 8, 10, 11)."""

import numpy as np

from normgraph.graphs._fusion import consistent_graph_fusion


def test_descent_smoke():
    rng = np.random.default_rng(0)
    W = rng.uniform(size=(3, 200))
    S, alpha, A, E, info = consistent_graph_fusion(W)
    J = np.asarray(info["objective"])
    assert np.all(np.diff(J) <= 1e-10 * J[0])
    assert np.isclose(alpha.sum(), 1.0) and np.all(alpha >= 0)
    assert np.all(A >= 0) and np.all(E >= 0)
