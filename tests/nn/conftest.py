"""Shared fixtures of the torch tests: one intra-op thread (the machines have 2 shared cores)."""

import numpy as np
import pytest

import torch

torch.set_num_threads(1)



def random_config(seed, n_bits, n=300, margin=1e-4, inactive=False):
    """(x, g, start, a, scale1, scale2) as float64 arrays/floats; every z = scale1 * x is at
    least ``margin`` from each knot and each decision threshold."""
    rng = np.random.default_rng(seed)
    L = 2**n_bits - 1
    a = rng.uniform(0.05, 1.0, L)
    if inactive and L > 1:
        a[rng.integers(L)] = rng.uniform(-0.3, 5e-4)  # floored to eps: no gradient
    start = rng.uniform(-0.5, 0.5)
    scale1 = rng.uniform(0.5, 2.0)
    scale2 = rng.uniform(0.5, 2.0)
    ahat = np.where(a > 1e-3, a, 1e-3)
    knots = np.concatenate([[start], start + np.cumsum(ahat)])
    mids = knots[:-1] + ahat / 2
    breaks = np.concatenate([knots, mids])
    z = rng.uniform(knots[0] - 0.5, knots[-1] + 0.5, 4 * n)
    keep = np.min(np.abs(z[:, None] - breaks[None, :]), axis=1) >= margin
    z = z[keep][:n]
    x = z / scale1
    g = rng.standard_normal(x.shape)
    return x, g, start, a, scale1, scale2


@pytest.fixture(name="config", scope="session")
def _config_fixture():
    """The :func:`random_config` generator."""
    return random_config
