"""MSE-optimal uniform quantizers (spec sections 2.1 and 5.2)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from normgraph.quant._uniform import UniformQuant, uniform_mse_quantizer

# Spec table (symmetric mid-rise, exact integration; Gaussian values agree with Max 1960).
ORACLE = {
    "norm": {2: (1.5958, 0.36338), 4: (0.9957, 0.11885), 8: (0.5860, 0.03744),
             16: (0.3352, 0.01154)},
    "laplace": {2: (2.0000, 1.0000), 4: (1.5378, 0.3926), 8: (1.0337, 0.1435),
                16: (0.6519, 0.0507)},
}
DISTS = {"norm": stats.norm(), "laplace": stats.laplace()}


def direct_mse(x, step, offset, L, mode):
    """MSE of the spec's explicit quantizer formulas (no use of the code under test)."""
    if mode == "midrise":
        q = offset + step * (np.clip(np.floor((x - offset) / step), -L / 2, L / 2 - 1) + 0.5)
    elif mode == "midtread":
        q = offset + step * np.clip(np.rint((x - offset) / step), -(L // 2), L - 1 - L // 2)
    else:
        q = offset + step * np.clip(np.rint((x - offset) / step), 0, L - 1)
    return float(np.mean((x - q) ** 2))


@pytest.mark.parametrize("name", ["norm", "laplace"])
@pytest.mark.parametrize("L", [2, 4, 8, 16])
def test_exact_integration_oracle(name, L):
    step, mse = ORACLE[name][L]
    q = uniform_mse_quantizer(None, L, density=DISTS[name])
    assert abs(q.step - step) <= 1e-4
    assert abs(q.mse - mse) <= 1e-4
    # and to the table's printed precision: steps to 4 decimals, MSE to 5 (normal) / 4 (Laplace)
    assert abs(q.step - step) <= 0.5e-4 + 1e-9
    assert abs(q.mse - mse) <= (0.5e-5 if name == "norm" else 0.5e-4) + 1e-9


def test_exact_integration_matches_quadrature():
    # the closed-form partial moments against numerical integration of the same quantizer
    for dist in (stats.norm(loc=0.3, scale=2.0), stats.laplace(loc=-1.0, scale=0.5)):
        q = uniform_mse_quantizer(None, 6, mode="midtread", density=dist)
        lv = q.levels + 0.0
        quad = sum(
            integrate.quad(lambda v, y=y: (v - y) ** 2 * dist.pdf(v), a, b, limit=200)[0]
            for y, a, b in zip(lv, np.r_[-np.inf, q.thresholds], np.r_[q.thresholds, np.inf]))
        assert abs(quad - q.mse) <= 1e-9


@pytest.mark.parametrize("name, L", [("norm", 4), ("norm", 16), ("laplace", 2), ("laplace", 8)])
def test_sample_oracle_one_million_draws(name, L):
    rng = np.random.default_rng(2024)
    x = rng.standard_normal(10 ** 6) if name == "norm" else rng.laplace(size=10 ** 6)
    step, mse = ORACLE[name][L]
    q = uniform_mse_quantizer(x, L)
    assert abs(q.step / step - 1) <= 0.01
    assert abs(q.mse / mse - 1) <= 0.005


@pytest.mark.parametrize("mode, L", [("midrise", 4), ("midtread", 5), ("midtread", 4),
                                     ("affine", 4), ("affine", 3)])
def test_grid_search_is_global_against_a_dense_scan(mode, L):
    rng = np.random.default_rng(1)
    datasets = [rng.normal(size=1500), rng.laplace(size=1500) + 0.4,
                np.concatenate([rng.normal(-3, 0.3, 700), rng.normal(2, 0.5, 800)]),
                rng.uniform(-1, 3, 1500)]
    for x in datasets:
        q = uniform_mse_quantizer(x, L, mode=mode)
        assert q.mse == pytest.approx(direct_mse(x, q.step, q.offset, L, mode), rel=1e-10,
                                      abs=1e-14)
        M = np.max(np.abs(x)) if mode != "affine" else np.ptp(x)
        steps = np.linspace(M / 4000, 2 * M, 4000) / max(L / 2 - 0.5, 0.5)
        if mode == "affine":
            # scan the offset too (coarsely) around the data
            scan = min(direct_mse(x, s, z, L, mode) for s in steps[::20]
                       for z in np.linspace(x.min() - s, x.min() + s, 41))
        else:
            scan = min(direct_mse(x, s, 0.0, L, mode) for s in steps)
        assert q.mse <= scan * (1 + 1e-9)


@settings(max_examples=40)
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=60), st.integers(1, 4),
       st.sampled_from(["midrise", "midtread", "affine"]),
       st.sampled_from(["grid", "als", "octav"]), st.booleans())
def test_reported_mse_is_the_mse_of_the_returned_quantizer(xs, half, mode, method, symmetric):
    x = np.array(xs)
    if np.ptp(x) == 0:
        x = np.append(x, x[0] + 1.0)
    L = 2 * half if mode == "midrise" else 2 * half - 1 + (half % 2)
    if method == "octav" and (mode == "affine" or not symmetric):
        with pytest.raises(ValueError):
            uniform_mse_quantizer(x, L, mode=mode, method=method, symmetric=symmetric)
        return
    q = uniform_mse_quantizer(x, L, mode=mode, method=method, symmetric=symmetric, n_grid=64)
    assert isinstance(q, UniformQuant) and q.step > 0 and q.n_levels == L
    if mode != "affine" and symmetric:
        assert q.offset == 0.0
    assert q.mse == pytest.approx(direct_mse(x, q.step, q.offset, L, mode), rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(np.mean((x - q.quantize(x)) ** 2), q.mse, rtol=1e-9, atol=1e-12)
    # nearest-level property: the quantized value is a closest level
    d = np.abs(x[:, None] - q.levels[None, :]).min(axis=1)
    np.testing.assert_allclose(np.abs(x - q.quantize(x)), d, rtol=1e-12, atol=1e-12)


def test_index_follows_the_spec_formulas():
    x = np.linspace(-5, 5, 2001)
    q = UniformQuant(step=0.7, offset=0.0, mse=0.0, n_levels=8, mode="midrise")
    ref = 0.7 * (np.clip(np.floor(x / 0.7), -4, 3) + 0.5)
    np.testing.assert_array_equal(q.quantize(x), ref)
    assert q.quantize(np.array([0.7]))[0] == pytest.approx(1.05)  # on a threshold: goes up
    q = UniformQuant(step=0.7, offset=0.0, mse=0.0, n_levels=5, mode="midtread")
    np.testing.assert_allclose(q.quantize(x), 0.7 * np.clip(np.rint(x / 0.7), -2, 2))
    np.testing.assert_allclose(q.levels, 0.7 * np.arange(-2, 3))
    q = UniformQuant(step=0.5, offset=-1.0, mse=0.0, n_levels=4, mode="affine")
    np.testing.assert_allclose(q.quantize(x), -1.0 + 0.5 * np.clip(np.rint((x + 1) / 0.5), 0, 3))
    assert q.index(x).dtype == np.int64 and q.index(x).min() == 0 and q.index(x).max() == 3
    q = UniformQuant(step=1.0, offset=0.0, mse=0.0, n_levels=4, mode="midtread")
    np.testing.assert_array_equal(q.levels, [-2.0, -1.0, 0.0, 1.0])


def test_symmetric_free_offset_improves_on_shifted_data():
    rng = np.random.default_rng(4)
    x = rng.normal(size=20000) + 0.8
    sym = uniform_mse_quantizer(x, 4)
    free = uniform_mse_quantizer(x, 4, symmetric=False)
    aff = uniform_mse_quantizer(x, 4, mode="affine")
    assert free.mse < 0.7 * sym.mse
    assert abs(free.offset - 0.8) < 0.05
    # same level set family: free mid-rise and affine reach the same optimum
    assert free.mse == pytest.approx(aff.mse, rel=1e-6)
    np.testing.assert_allclose(free.levels, aff.levels, atol=1e-3)


def test_als_and_octav_are_local_methods_close_to_the_grid_optimum():
    rng = np.random.default_rng(5)
    x = rng.normal(size=200_000)
    grid = uniform_mse_quantizer(x, 16)
    als = uniform_mse_quantizer(x, 16, method="als")
    octav = uniform_mse_quantizer(x, 16, method="octav")
    # (the sample MSE has many shallow local minima: equal up to 1e-6)
    assert grid.mse <= als.mse * (1 + 1e-6) and grid.mse <= octav.mse * (1 + 1e-6)
    # ALS is a monotone descent: never worse than its start (no clipping)
    start = np.max(np.abs(x)) / 7.5
    assert als.mse <= direct_mse(x, start, 0.0, 16, "midrise")
    assert als.mse <= grid.mse * 1.02
    # OCTAV satisfies its fixed-point equation s = E|x|1{|x|>s} / (P(|x|<=s)/(3L^2) + P(|x|>s))
    s = octav.step * 8
    a = np.abs(x)
    rhs = np.mean(a * (a > s)) / (np.mean(a <= s) / (3 * 16 ** 2) + np.mean(a > s))
    assert s == pytest.approx(rhs, rel=1e-9)
    assert octav.mse <= grid.mse * 1.10


def test_refine_improves_or_keeps_the_grid_value():
    rng = np.random.default_rng(6)
    x = rng.standard_t(4, size=5000)
    coarse = uniform_mse_quantizer(x, 8, n_grid=16, refine=False)
    fine = uniform_mse_quantizer(x, 8, n_grid=16, refine=True)
    assert fine.mse <= coarse.mse


def test_single_level():
    x = np.array([1.0, 2.0, 6.0])
    q = uniform_mse_quantizer(x, 1, mode="affine")
    assert q.levels.tolist() == [3.0] and q.mse == pytest.approx(np.var(x))
    q = uniform_mse_quantizer(x, 1, mode="midtread")
    assert q.levels.tolist() == [0.0] and q.mse == pytest.approx(np.mean(x ** 2))


def test_density_mode_rejects_unsupported_settings():
    with pytest.raises(ValueError, match="density"):
        uniform_mse_quantizer(None, 4, mode="affine", density=stats.norm())
    with pytest.raises(ValueError, match="density"):
        uniform_mse_quantizer(None, 4, method="als", density=stats.norm())
    with pytest.raises(TypeError, match="frozen"):
        uniform_mse_quantizer(None, 4, density="norm")


def test_generic_density_uses_quadrature():
    # a distribution without a closed form goes through dist.expect; logistic is symmetric
    q = uniform_mse_quantizer(None, 2, density=stats.logistic(), n_grid=16)
    # for L = 2 the optimum is levels +-E|x| (= 2 ln 2 for the standard logistic)
    assert q.step / 2 == pytest.approx(2 * np.log(2), rel=1e-5)


@pytest.mark.parametrize("scale", [1e-150, 1e150, 1e300])
def test_extreme_scales_are_handled_by_exact_rescaling(scale):
    x = np.random.default_rng(16).normal(size=500)
    ref = uniform_mse_quantizer(x, 8)
    if scale > 1e154:  # the true MSE itself overflows float64: a clear error, not inf
        with pytest.raises(ValueError, match="mean squared error of x .* overflows"):
            uniform_mse_quantizer(x * scale, 8)
        return
    q = uniform_mse_quantizer(x * scale, 8)
    assert q.step == pytest.approx(ref.step * scale, rel=1e-6)
    assert q.mse == pytest.approx(ref.mse * scale ** 2, rel=1e-6)
