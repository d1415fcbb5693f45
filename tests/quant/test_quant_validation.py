"""Input validation of the 1-D quantization solvers (spec section 6)."""

import numpy as np
import pytest

from normgraph.quant._equal_prob import equal_probability_thresholds
from normgraph.quant._lloyd import lloyd_max
from normgraph.quant._optimal import optimal_kmeans_1d, optimal_thresholds_fixed_levels
from normgraph.quant._uniform import uniform_mse_quantizer
from normgraph.quant._validation import check_n_bits, check_n_levels, check_samples

SOLVERS = {
    "uniform": lambda x, k=2: uniform_mse_quantizer(x, k),
    "equal_prob": lambda x, k=2: equal_probability_thresholds(x, k),
    "lloyd": lambda x, k=2: lloyd_max(x, k),
    "kmeans_dc": lambda x, k=2: optimal_kmeans_1d(x, k),
    "kmeans_smawk": lambda x, k=2: optimal_kmeans_1d(x, k, method="smawk"),
    "kmeans_naive": lambda x, k=2: optimal_kmeans_1d(x, k, method="naive"),
    "fixed_levels": lambda x, k=2: optimal_thresholds_fixed_levels(x, np.arange(float(k))),
}
WEIGHTED = {
    "lloyd": lambda x, w: lloyd_max(x, 2, sample_weight=w),
    "kmeans": lambda x, w: optimal_kmeans_1d(x, 2, sample_weight=w),
    "fixed_levels": lambda x, w: optimal_thresholds_fixed_levels(x, [0.0, 1.0], sample_weight=w),
}
LEVELED = {
    "uniform": lambda k: uniform_mse_quantizer([0.0, 1.0, 2.0], k, mode="affine"),
    "equal_prob": lambda k: equal_probability_thresholds([0.0, 1.0, 2.0], k),
    "lloyd": lambda k: lloyd_max([0.0, 1.0, 2.0], k),
    "kmeans": lambda k: optimal_kmeans_1d([0.0, 1.0, 2.0], k),
}


# ------------------------------------------------------------------ check_samples itself


def test_check_samples_casts_and_copies_only_when_needed():
    x, w = check_samples(np.array([3, 1, 2], dtype=np.int16))
    assert x.dtype == np.float64 and w is None
    np.testing.assert_array_equal(x, [3.0, 1.0, 2.0])
    b, _ = check_samples(np.array([True, False]))
    np.testing.assert_array_equal(b, [1.0, 0.0])
    strided = np.arange(10.0)[::2]
    s, _ = check_samples(strided)
    assert s.flags.c_contiguous
    np.testing.assert_array_equal(s, strided)
    same = np.arange(4.0)
    assert check_samples(same)[0] is same
    x, w = check_samples([1.0, 2.0], sample_weight=[1, 0])
    assert w.dtype == np.float64
    np.testing.assert_array_equal(w, [1.0, 0.0])


@pytest.mark.parametrize("bad", [[np.nan, 1.0], [1.0, np.inf], [-np.inf]])
def test_check_samples_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="NaN or infinity"):
        check_samples(bad)


def test_check_samples_rejects_empty_and_wrong_shapes():
    with pytest.raises(ValueError, match="need at least 1 sample"):
        check_samples([])
    with pytest.raises(ValueError, match="need at least 1 sample"):
        check_samples(np.empty(0))
    with pytest.raises(ValueError, match="1-D"):
        check_samples(np.ones((3, 2)))
    with pytest.raises(ValueError, match="1-D"):
        check_samples(3.0)


@pytest.mark.parametrize("bad", [
    np.array([1 + 2j, 3j]),
    np.array([1.0, "a"], dtype=object),
    np.array(["1", "2"]),
    [[1.0], [2.0, 3.0]],
])
def test_check_samples_rejects_non_real_dtypes(bad):
    with pytest.raises(TypeError):
        check_samples(bad)


@pytest.mark.parametrize("weights, message", [
    ([1.0, 1.0], "has 2 entries"),
    ([1.0, -1.0, 1.0], "non-negative"),
    ([1.0, np.nan, 1.0], "NaN or infinity"),
    ([0.0, 0.0, 0.0], "positive sum"),
    (np.ones((3, 1)), "1-D"),
])
def test_check_samples_rejects_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        check_samples([1.0, 2.0, 3.0], sample_weight=weights)
    with pytest.raises(TypeError):
        check_samples([1.0, 2.0], sample_weight=np.array([1j, 1.0]))


@pytest.mark.parametrize("bad", [0, -3])
def test_check_n_levels_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="n_levels must be >= 1"):
        check_n_levels(bad)


@pytest.mark.parametrize("bad", [2.5, 2.0, True, "4", None])
def test_check_n_levels_rejects_non_integers_with_a_type_error(bad):
    # one vocabulary with graphs and norms: a wrong type is a TypeError (it was ValueError)
    with pytest.raises(TypeError, match="n_levels must be an integer"):
        check_n_levels(bad)


def test_check_n_levels_and_bits_accept():
    assert check_n_levels(np.int64(7)) == 7 and isinstance(check_n_levels(np.int64(7)), int)
    assert check_n_bits(1) == 1 and check_n_bits(16) == 16


@pytest.mark.parametrize("bad", [0, 17, -1])
def test_check_n_bits_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="n_bits"):
        check_n_bits(bad)


@pytest.mark.parametrize("bad", [2.0, False, "2"])
def test_check_n_bits_rejects_non_integers_with_a_type_error(bad):
    with pytest.raises(TypeError, match="n_bits must be an integer"):
        check_n_bits(bad)


# ------------------------------------------------------------ every solver, every bad input


@pytest.mark.parametrize("name", sorted(SOLVERS))
@pytest.mark.parametrize("bad, exc", [
    ([1.0, np.nan, 2.0], ValueError),
    ([1.0, np.inf, 2.0], ValueError),
    ([], ValueError),
    (np.array([1j, 2.0]), TypeError),
    (np.array([1.0, None], dtype=object), TypeError),
    (np.ones((2, 2)), ValueError),
])
def test_solvers_reject_bad_samples(name, bad, exc):
    with pytest.raises(exc):
        SOLVERS[name](bad)


@pytest.mark.parametrize("name", sorted(LEVELED))
@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                      (True, TypeError)])
def test_solvers_reject_bad_n_levels(name, bad, exc):
    with pytest.raises(exc, match="n_levels"):
        LEVELED[name](bad)


@pytest.mark.parametrize("name", sorted(WEIGHTED))
@pytest.mark.parametrize("weights", [[1.0, 1.0], [1.0, -1.0, 1.0], [0.0, 0.0, 0.0]])
def test_solvers_reject_bad_weights(name, weights):
    with pytest.raises(ValueError, match="sample_weight"):
        WEIGHTED[name]([0.0, 1.0, 2.0], weights)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_solvers_cast_int_and_bool(name):
    ints = np.array([0, 0, 1, 3, 3, 7], dtype=np.int32)
    a = SOLVERS[name](ints)
    b = SOLVERS[name](ints.astype(np.float64))
    flat = lambda r: np.concatenate([np.atleast_1d(np.asarray(v, dtype=float)) for v in  # noqa: E731
                                     (r if isinstance(r, tuple) else (getattr(r, "step", r),))])
    np.testing.assert_array_equal(flat(a), flat(b))
    SOLVERS[name](np.array([True, False, True]))


def test_more_levels_than_distinct_values_warns_and_returns_distinct_values():
    x = [2.0, 2.0, 5.0, -1.0, 5.0]
    with pytest.warns(UserWarning, match="distinct values"):
        levels, thresholds, mse = optimal_kmeans_1d(x, 4)
    np.testing.assert_array_equal(levels, [-1.0, 2.0, 5.0])
    np.testing.assert_array_equal(thresholds, [0.5, 3.5])
    assert mse == 0.0
    with pytest.warns(UserWarning, match="distinct values"):
        levels, thresholds, mse = lloyd_max(x, 5)
    np.testing.assert_array_equal(levels, [-1.0, 2.0, 5.0])
    assert mse == 0.0
    # exactly as many levels as distinct values: no warning, zero error
    levels, _, mse = optimal_kmeans_1d(x, 3)
    np.testing.assert_array_equal(levels, [-1.0, 2.0, 5.0])
    assert mse == 0.0


@pytest.mark.parametrize("value", [0.0, 3.0, -2e9])
def test_constant_input(value):
    x = np.full(7, value)
    eps = 1e-8 * max(1.0, abs(value))
    for mode, L in [("midrise", 4), ("midtread", 3), ("affine", 4)]:
        with pytest.warns(UserWarning, match="constant"):
            q = uniform_mse_quantizer(x, L, mode=mode)
        assert q.step == eps and q.mse == 0.0
        np.testing.assert_array_equal(q.quantize(x), x)
    levels, thresholds, mse = optimal_kmeans_1d(x, 1)
    assert levels.tolist() == [value] and thresholds.size == 0 and mse == 0.0
    levels, _, mse = lloyd_max(x, 1)
    assert levels.tolist() == [value] and mse == 0.0
    with pytest.warns(UserWarning, match="distinct values"):
        t = equal_probability_thresholds(x, 4)
    np.testing.assert_array_equal(t, np.full(3, value))


def test_solver_specific_parameters_are_checked():
    x = np.linspace(-1, 1, 50)
    with pytest.raises(ValueError, match="method"):
        optimal_kmeans_1d(x, 3, method="fast")
    with pytest.raises(ValueError, match="even"):
        uniform_mse_quantizer(x, 3, mode="midrise")
    with pytest.raises(ValueError, match="mode"):
        uniform_mse_quantizer(x, 4, mode="log")
    with pytest.raises(ValueError, match="method"):
        uniform_mse_quantizer(x, 4, method="newton")
    with pytest.raises(ValueError, match="octav"):
        uniform_mse_quantizer(x, 4, mode="affine", method="octav")
    with pytest.raises(ValueError, match="n_grid"):
        uniform_mse_quantizer(x, 4, n_grid=1)
    with pytest.raises(ValueError, match="x is None"):
        uniform_mse_quantizer(None, 4)
    with pytest.raises(ValueError, match="x is None"):
        lloyd_max(None, 4)
    with pytest.raises(ValueError, match="init"):
        lloyd_max(x, 4, init="kmeans++")
    with pytest.raises(ValueError, match="init"):
        lloyd_max(x, 4, init=[0.0, 1.0])
    with pytest.raises(ValueError, match="max_iter"):
        lloyd_max(x, 4, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        lloyd_max(x, 4, tol=-1.0)
    with pytest.raises(ValueError, match="method"):
        equal_probability_thresholds(x, 4, method="nearest-ish")
    with pytest.raises(ValueError, match="strictly increasing"):
        optimal_thresholds_fixed_levels(x, [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        optimal_thresholds_fixed_levels(x, [0.0, np.nan])
    with pytest.raises(ValueError, match="non-empty"):
        optimal_thresholds_fixed_levels(x, [])
    with pytest.raises(TypeError):
        optimal_thresholds_fixed_levels(x, np.array([1j, 2j]))
    with pytest.raises(ValueError, match="loss"):
        optimal_thresholds_fixed_levels(x, [0.0, 1.0], loss="huber")
    with pytest.raises(ValueError, match="loss returned"):
        optimal_thresholds_fixed_levels(x, [0.0, 1.0],
                                        loss=lambda v, y: np.where(v > y, np.nan, 1.0))
    with pytest.raises(ValueError, match="method"):
        optimal_thresholds_fixed_levels(x, [0.0, 1.0], method="smawk")
