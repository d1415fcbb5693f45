"""scikit-learn transformers that quantize every feature with one of the 1-D solvers.

Each transformer fits one quantizer per column (like
:class:`~sklearn.preprocessing.KBinsDiscretizer`) and maps values to their reconstruction level
(``output="value"``) or to the integer level index (``output="index"``). ``inverse_transform``
decodes: indices to levels (``output="index"``), or checks that values are levels and returns
them (``output="value"``, where the output already is the decoded value).

Fitting delegates to the solvers (:func:`uniform_mse_quantizer`, :func:`lloyd_max`,
:func:`optimal_kmeans_1d`, the N2UQ kernels); this module only validates, loops over features,
stores the learned attributes and encodes/decodes.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._utils.numeric import max_abs, power_of_two_scale
from .._utils.validation import check_allocation, check_bool, check_choice, check_int, check_real
from . import _n2uq_kernels
from ._lloyd import lloyd_max
from ._n2uq import _ActParams
from ._optimal import optimal_kmeans_1d, optimal_thresholds_fixed_levels
from ._uniform import uniform_mse_quantizer
from ._validation import check_n_bits, check_n_levels

__all__ = ["UniformQuantizer", "LloydMaxQuantizer", "OptimalQuantizer", "N2UQuantizer"]

_OUTPUTS = ("value", "index")


class _PerFeatureQuantizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Shared fit/transform/inverse_transform loop over features.

    Subclasses implement ``_check_params()`` (returns the validated parameters),
    ``_fit_feature(column, params)`` (returns a dict of per-feature results),
    ``_store(results, params)`` (sets the learned attributes), ``_feature_index(j, column)``
    (int64 level indices of one column) and ``_feature_levels(j)`` (its levels).
    """

    def _n_levels_requested(self, params):
        return params["n_levels"]

    def fit(self, X, y=None):
        """Fit one quantizer per feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Real, finite data.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        params = self._check_params()
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite=True)
        n_levels = self._n_levels_requested(params)
        results, warned = [], []
        for j in range(X.shape[1]):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    results.append(self._fit_feature(np.ascontiguousarray(X[:, j]), params))
                except ValueError as exc:  # name the feature (e.g. an unrepresentable error)
                    raise ValueError(f"feature {j}: {exc}") from exc
            for w in caught:  # relay the solver's warnings, naming the feature
                warnings.warn(f"feature {j}: {w.message}", w.category, stacklevel=2)
            warned.append(bool(caught))
        self._store(results, params)
        indices = self._index(X)
        self.n_levels_effective_ = np.array(
            [np.unique(indices[:, j]).size for j in range(X.shape[1])], dtype=np.int64
        )
        for j in range(X.shape[1]):
            n_distinct = np.unique(X[:, j]).size
            if n_distinct < n_levels and not warned[j]:
                what = "is constant" if n_distinct == 1 else f"has {n_distinct} distinct values"
                warnings.warn(
                    f"feature {j} {what}, fewer than the {n_levels} levels: only "
                    f"{self.n_levels_effective_[j]} level(s) are used (n_levels_effective_)",
                    UserWarning,
                    stacklevel=2,
                )
        return self

    def _index(self, X):
        out = np.empty(X.shape, dtype=np.int64)
        for j in range(X.shape[1]):
            out[:, j] = self._feature_index(j, np.ascontiguousarray(X[:, j]))
        return out

    def _decode(self, indices):
        out = np.empty(indices.shape, dtype=np.float64)
        for j in range(indices.shape[1]):
            out[:, j] = self._feature_levels(j)[indices[:, j]]
        return out

    def transform(self, X):
        """Quantize every feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Real, finite data with the features seen in ``fit``.

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_features)
            float64 levels (``output="value"``) or int64 level indices (``output="index"``).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=True)
        indices = self._index(X)
        return indices if self.output == "index" else self._decode(indices)

    def inverse_transform(self, X):
        """Decode the output of :meth:`transform` into reconstruction levels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Level indices (``output="index"``; integers in ``0 .. n_levels_j - 1``) or levels
            (``output="value"``, returned unchanged after checking that they are levels).

        Returns
        -------
        X_levels : ndarray of shape (n_samples, n_features), float64
        """
        check_is_fitted(self)
        X = check_array(X, dtype=None, ensure_all_finite=True)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"expected numbers, got dtype {X.dtype}")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        if self.output == "value":
            X = X.astype(np.float64)
            for j in range(X.shape[1]):
                if not np.isin(X[:, j], self._feature_levels(j)).all():
                    raise ValueError(
                        f"feature {j}: inverse_transform with output='value' expects the levels "
                        "produced by transform"
                    )
            return X
        if not np.array_equal(X, np.round(X)):
            raise ValueError("inverse_transform with output='index' expects integer indices")
        indices = X.astype(np.int64)
        for j in range(X.shape[1]):
            n = self._feature_levels(j).shape[0]
            if indices.size and (indices[:, j].min() < 0 or indices[:, j].max() >= n):
                raise ValueError(f"feature {j}: indices must lie in [0, {n - 1}]")
        return self._decode(indices)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if getattr(self, "output", "value") == "index":
            tags.transformer_tags.preserves_dtype = []
        return tags


def _check_output(output):
    return check_choice(output, "output", _OUTPUTS)


# ------------------------------------------------------------------------------------- uniform
class UniformQuantizer(_PerFeatureQuantizer):
    """Quantize every feature with its MSE-optimal uniform quantizer.

    Per feature, :func:`~normgraph.quant.uniform_mse_quantizer` finds the step (and, for
    ``mode="affine"``, the offset) that minimises the mean squared error on the training column.

    Parameters
    ----------
    n_levels : int, default=4
        Number of levels (even for ``mode="midrise"``).
    mode : {"midrise", "midtread", "affine"}, default="midrise"
        Level layout (see :class:`~normgraph.quant.UniformQuant`): symmetric about 0 without
        (``"midrise"``) or with (``"midtread"``) a zero level, or with a free zero point
        (``"affine"``).
    method : {"grid", "als", "octav"}, default="grid"
        Step search of :func:`~normgraph.quant.uniform_mse_quantizer`.
    output : {"value", "index"}, default="value"
        Return the reconstruction levels (float64) or the level indices (int64).
    symmetric : bool, default=True
        For ``"midrise"`` and ``"midtread"``: keep the grid symmetric about 0 (offset 0).
        ``False`` also fits the offset (useful for features that are not centred).

    Attributes
    ----------
    step_ : ndarray of shape (n_features,)
        Step per feature (``1e-8 * max(1, |x|)`` for a constant feature, with a warning).
    offset_ : ndarray of shape (n_features,)
        Grid offset per feature.
    mse_ : ndarray of shape (n_features,)
        Training mean squared error per feature.
    levels_ : ndarray of shape (n_features, n_levels)
        Reconstruction levels.
    thresholds_ : ndarray of shape (n_features, n_levels - 1)
        Decision thresholds (level midpoints).
    n_levels_effective_ : ndarray of shape (n_features,)
        Number of levels used by the training data.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string feature names.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import UniformQuantizer
    >>> X = np.random.default_rng(0).normal(size=(100_000, 2)) * [1.0, 3.0]
    >>> q = UniformQuantizer(n_levels=4).fit(X)
    >>> np.round(q.step_, 1)                # about 0.9957 * sigma (Max, 1960)
    array([1., 3.])
    >>> np.round(q.transform([[0.2, -10.0]]), 1)   # levels +-step/2, +-3 step/2
    array([[ 0.5, -4.5]])
    """

    def __init__(self, n_levels=4, mode="midrise", method="grid", output="value", symmetric=True):
        self.n_levels = n_levels
        self.mode = mode
        self.method = method
        self.output = output
        self.symmetric = symmetric

    def _check_params(self):
        return dict(
            n_levels=check_n_levels(self.n_levels),
            mode=check_choice(self.mode, "mode", ("midrise", "midtread", "affine")),
            method=check_choice(self.method, "method", ("grid", "als", "octav")),
            output=_check_output(self.output),
            symmetric=check_bool(self.symmetric, "symmetric"),
        )

    def _fit_feature(self, x, params):
        return uniform_mse_quantizer(x, params["n_levels"], mode=params["mode"],
                                     method=params["method"], symmetric=params["symmetric"])

    def _store(self, results, params):
        self.quantizers_ = results
        self.step_ = np.array([r.step for r in results])
        self.offset_ = np.array([r.offset for r in results])
        self.mse_ = np.array([r.mse for r in results])
        self.levels_ = np.array([r.levels for r in results])
        self.thresholds_ = np.array([r.thresholds for r in results]).reshape(
            len(results), params["n_levels"] - 1
        )

    def _feature_index(self, j, x):
        return self.quantizers_[j].index(x)

    def _feature_levels(self, j):
        return self.levels_[j]


# ------------------------------------------------------------------------------------- Lloyd / DP
class _ThresholdQuantizer(_PerFeatureQuantizer):
    """Levels and thresholds per feature; a sample on a threshold goes to the lower level."""

    def _feature_index(self, j, x):
        return np.searchsorted(self.thresholds_[j], x, side="left").astype(np.int64)

    def _feature_levels(self, j):
        return self.levels_[j]


class LloydMaxQuantizer(_ThresholdQuantizer):
    """Quantize every feature with its Lloyd-Max quantizer (nonuniform levels).

    Per feature, :func:`~normgraph.quant.lloyd_max` alternates centroid levels and midpoint
    thresholds from quantile initial levels until the levels move less than ``tol`` (relative
    to the feature's standard deviation). The result is a local optimum of the MSE (global for
    log-concave data); :class:`OptimalQuantizer` gives the global one.

    Parameters
    ----------
    n_levels : int, default=4
        Number of levels.
    max_iter : int, default=300
        Maximum number of Lloyd iterations per feature.
    tol : float, default=1e-10
        Stopping tolerance on the largest level change.
    output : {"value", "index"}, default="value"
        Return the reconstruction levels (float64) or the level indices (int64).

    Attributes
    ----------
    levels_ : list of ndarray
        Increasing levels of each feature (fewer than ``n_levels`` when the feature has fewer
        distinct values).
    thresholds_ : list of ndarray
        Decision thresholds of each feature (midpoints between its levels).
    mse_ : ndarray of shape (n_features,)
        Training mean squared error per feature.
    n_levels_effective_ : ndarray of shape (n_features,)
        Number of levels used by the training data.
    n_iter_ : int
        Lloyd iterations run by the slowest feature (0 when every feature's distinct values
        are its levels).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string feature names.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import LloydMaxQuantizer
    >>> X = np.random.default_rng(0).normal(size=(100_000, 1))
    >>> q = LloydMaxQuantizer(n_levels=4).fit(X)
    >>> np.round(q.levels_[0], 1)            # Max (1960): +-0.4528, +-1.5104
    array([-1.5, -0.4,  0.5,  1.5])
    >>> q.set_params(output="index").transform([[-3.0], [0.1]]).ravel()
    array([0, 2])
    """

    def __init__(self, n_levels=4, max_iter=300, tol=1e-10, output="value"):
        self.n_levels = n_levels
        self.max_iter = max_iter
        self.tol = tol
        self.output = output

    def _check_params(self):
        return dict(
            n_levels=check_n_levels(self.n_levels),
            max_iter=check_int(self.max_iter, "max_iter", low=1, high=2**62),
            tol=check_real(self.tol, "tol", low=0.0),
            output=_check_output(self.output),
        )

    def _fit_feature(self, x, params):
        return lloyd_max(x, params["n_levels"], max_iter=params["max_iter"], tol=params["tol"],
                         return_n_iter=True)

    def _store(self, results, params):
        self.levels_ = [r[0] for r in results]
        self.thresholds_ = [r[1] for r in results]
        self.mse_ = np.array([r[2] for r in results])
        # one number, as for scikit-learn's iterative estimators: the slowest feature's count
        self.n_iter_ = int(max((r[3] for r in results), default=0))


class OptimalQuantizer(_ThresholdQuantizer):
    """Quantize every feature with its globally MSE-optimal ``n_levels``-level quantizer.

    Per feature, :func:`~normgraph.quant.optimal_kmeans_1d` solves 1-D k-means exactly by
    dynamic programming (equal values always share a level). Unlike
    ``KBinsDiscretizer(strategy="kmeans")``, the result is the global optimum.

    Parameters
    ----------
    n_levels : int, default=4
        Number of levels.
    method : {"dc", "smawk", "naive"}, default="dc"
        Dynamic-programming algorithm: divide and conquer O(kN log N), SMAWK O(kN) or the
        plain O(kN^2) reference. All give the same optimum.
    output : {"value", "index"}, default="value"
        Return the reconstruction levels (float64) or the level indices (int64).

    Attributes
    ----------
    levels_ : list of ndarray
        Increasing levels (cluster means) of each feature; fewer than ``n_levels`` when the
        feature has fewer distinct values.
    thresholds_ : list of ndarray
        Decision thresholds of each feature (midpoints between its levels).
    mse_ : ndarray of shape (n_features,)
        Training mean squared error per feature.
    inertia_ : ndarray of shape (n_features,)
        Training sum of squared errors per feature (``mse_ * n_samples``).
    n_levels_effective_ : ndarray of shape (n_features,)
        Number of levels used by the training data.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string feature names.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import OptimalQuantizer
    >>> X = np.array([[1.0, 0.0], [1.2, 0.0], [5.0, 1.0], [5.2, 1.0], [9.0, 4.0]])
    >>> q = OptimalQuantizer(n_levels=3).fit(X)
    >>> q.levels_[0], q.levels_[1]
    (array([1.1, 5.1, 9. ]), array([0., 1., 4.]))
    >>> q.transform([[4.0, 3.0]])
    array([[5.1, 4. ]])
    """

    def __init__(self, n_levels=4, method="dc", output="value"):
        self.n_levels = n_levels
        self.method = method
        self.output = output

    def _check_params(self):
        return dict(
            n_levels=check_n_levels(self.n_levels),
            method=check_choice(self.method, "method", ("dc", "smawk", "naive")),
            output=_check_output(self.output),
        )

    def _fit_feature(self, x, params):
        levels, thresholds, mse = optimal_kmeans_1d(x, params["n_levels"], method=params["method"])
        return levels, thresholds, mse, x.shape[0]

    def _store(self, results, params):
        self.levels_ = [r[0] for r in results]
        self.thresholds_ = [r[1] for r in results]
        self.mse_ = np.array([r[2] for r in results])
        with np.errstate(over="ignore"):
            self.inertia_ = np.array([r[2] * r[3] for r in results])
        if not np.isfinite(self.inertia_).all():
            j = int(np.flatnonzero(~np.isfinite(self.inertia_))[0])
            raise ValueError(f"feature {j}: the sum of squared errors (mse_ * n_samples) "
                             "overflows float64; rescale X by a power of two")


# ------------------------------------------------------------------------------------- N2UQ
class N2UQuantizer(_PerFeatureQuantizer):
    """Fit N2UQ thresholds (nonuniform) with uniform outputs to every feature.

    The quantizer of a feature maps ``z = scale1 * x`` to
    ``scale2 * step * #{i : z > T_i + ahat_i / 2}`` with ``step = 2 / L``, ``L = 2**n_bits - 1``
    (see :func:`~normgraph.quant.n2uq_forward`). Fitting chooses ``start`` and the intervals
    ``a`` from the data:

    * ``init="quantile"``: knots at the empirical quantiles ``T_i = F^-1(p_i)`` with ``p_i``
      evenly spaced from ``q_low`` to ``q_high``, so the surrogate is the clipped empirical CDF
      (histogram equalisation): each knot interval holds the same share of the data;
    * ``init="uniform"``: equal intervals ``a_i = a`` (an N2UQ with equal intervals is a uniform
      quantizer) with ``start = 0`` and ``a`` the MSE-optimal unsigned step for nonnegative data,
      else ``start`` and ``a`` of the MSE-optimal affine quantizer with ``L + 1`` levels;
    * ``objective="index_mse"``: the ``L`` decision thresholds minimising
      ``mean (G(z) - Q(z))**2`` with ``G = 2 * ECDF`` of the training data and the fixed outputs
      ``{0, step, ..., 2}`` (exact dynamic program); the knots are then reconstructed from the
      thresholds (``T_0 = t_0 - (t_1 - t_0) / 2``, ``T_{i+1} = 2 t_i - T_i``), which is not
      always possible: ``knots_consistent_`` is False when some interval would be ``<= eps``,
      and the transform always uses ``thresholds_``.

    Parameters
    ----------
    n_bits : int, default=2
        Bit width in [1, 16]; ``L = 2**n_bits - 1`` intervals and ``L + 1`` output levels.
    init : {"quantile", "uniform"}, default="quantile"
        How the knots are chosen (ignored when ``objective="index_mse"``).
    q_low : float or None, default=None
        Probability of the first knot; ``None`` means 0.0 for a nonnegative feature, else 0.01.
    q_high : float, default=0.99
        Probability of the last knot.
    eps : float, default=1e-3
        Floor of the interval lengths (an interval ``<= eps`` becomes ``eps``).
    scale1, scale2 : float, default=1.0
        Input and output scales of the quantizer (``scale1 > 0``, ``scale2 >= 0``).
    objective : None or "index_mse", default=None
        ``"index_mse"`` fits the thresholds by the exact dynamic program described above.
    output : {"value", "index"}, default="value"
        Return ``scale2 * step * index`` (float64) or the index in ``0 .. L`` (int64).

    Attributes
    ----------
    start_ : ndarray of shape (n_features,)
        First knot ``T_0`` of each feature (in the ``z = scale1 * x`` domain).
    a_ : ndarray of shape (n_features, L)
        Interval lengths (``>= eps``): the parameters to load into an N2UQ layer.
    knots_ : ndarray of shape (n_features, L + 1)
        Knots ``T_0 .. T_L`` (``start + cumsum(a)``).
    thresholds_ : ndarray of shape (n_features, L)
        Decision thresholds on ``z``: ``T_i + a_i / 2``, or the fitted thresholds when
        ``objective="index_mse"``.
    levels_ : ndarray of shape (n_features, L + 1)
        Output levels ``scale2 * step * (0, 1, ..., L)`` (the same for every feature).
    step_ : float
        Output step ``2 / L``.
    knots_consistent_ : ndarray of bool, shape (n_features,)
        Whether ``thresholds_`` are the midpoints of ``knots_`` (always True unless
        ``objective="index_mse"``).
    n_levels_effective_ : ndarray of shape (n_features,)
        Number of output levels used by the training data.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string feature names.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.quant import N2UQuantizer
    >>> X = np.random.default_rng(0).exponential(size=(100_000, 1))
    >>> q = N2UQuantizer(n_bits=2).fit(X)
    >>> np.round(q.knots_[0], 1)        # quantiles 0, 0.33, 0.66, 0.99 of Exp(1)
    array([0. , 0.4, 1.1, 4.6])
    >>> q.set_params(output="index").transform([[0.1], [0.3], [1.0], [9.0]]).ravel()
    array([0, 1, 2, 3])
    """

    def __init__(self, n_bits=2, init="quantile", q_low=None, q_high=0.99, eps=1e-3, scale1=1.0,
                 scale2=1.0, objective=None, output="value"):
        self.n_bits = n_bits
        self.init = init
        self.q_low = q_low
        self.q_high = q_high
        self.eps = eps
        self.scale1 = scale1
        self.scale2 = scale2
        self.objective = objective
        self.output = output

    def _check_params(self):
        n_bits = check_n_bits(self.n_bits)
        q_low = None if self.q_low is None else check_real(
            self.q_low, "q_low", low=0.0, high=1.0, high_inclusive=False)
        q_high = check_real(self.q_high, "q_high", low=0.0, high=1.0, low_inclusive=False)
        if q_low is not None and not q_low < q_high:
            raise ValueError(f"q_low must be < q_high, got q_low={q_low}, q_high={q_high}")
        if self.objective is not None:
            check_choice(self.objective, "objective", ("index_mse",))
        return dict(
            n_bits=n_bits,
            n_levels=2**n_bits,
            n_steps=2**n_bits - 1,
            init=check_choice(self.init, "init", ("quantile", "uniform")),
            q_low=q_low,
            q_high=q_high,
            eps=check_real(self.eps, "eps", low=0.0, low_inclusive=False),
            scale1=check_real(self.scale1, "scale1", low=0.0, low_inclusive=False),
            scale2=check_real(self.scale2, "scale2", low=0.0),
            objective=self.objective,
            output=_check_output(self.output),
        )

    def _fit_feature(self, x, params):
        L, eps = params["n_steps"], params["eps"]
        with np.errstate(over="ignore"):
            z = params["scale1"] * x
        if not np.isfinite(z).all():
            raise ValueError(f"scale1 * X overflows float64 (scale1={params['scale1']:g})")
        consistent = True
        thresholds = None
        if z.min() == z.max():
            # Constant feature: every interval floored to eps at the value; output 0.
            start, a = z[0], np.zeros(L)
        elif params["objective"] == "index_mse":
            thresholds = _index_mse_thresholds(z, L)
            knots = _knots_from_thresholds(thresholds, z)
            a = np.diff(knots)
            consistent = bool((a > eps).all())
            start = knots[0]
        elif params["init"] == "quantile":
            q_low = params["q_low"]
            if q_low is None:
                q_low = 0.0 if z.min() >= 0 else 0.01
            if not q_low < params["q_high"]:
                raise ValueError(f"q_low must be < q_high, got q_low={q_low}, "
                                 f"q_high={params['q_high']}")
            probs = q_low + (params["q_high"] - q_low) * np.arange(L + 1) / L
            knots = np.quantile(z, probs)
            start, a = knots[0], np.diff(knots)
        else:
            start, a = _uniform_knots(z, L)
        if z.min() != z.max() and (a <= eps).all():
            # eps is in the data's units (it is the layer's floor): on data far smaller
            # than it every interval collapses to eps; say so rather than fit silently
            warnings.warn(
                f"every knot interval is below eps={eps:g} (data spread {np.ptp(z):.3g}): "
                "all are floored to eps and the thresholds no longer follow the data; give "
                "eps in the data's units, or scale the data up with scale1",
                UserWarning, stacklevel=2)
        a = np.maximum(a, eps)
        p = _ActParams(float(start), a, params["scale1"], params["scale2"], params["n_bits"], eps)
        if thresholds is None:
            thresholds = p.mids
        return float(start), a, p.knots, thresholds, consistent

    def _store(self, results, params):
        self.start_ = np.array([r[0] for r in results])
        self.a_ = np.array([r[1] for r in results])
        self.knots_ = np.array([r[2] for r in results])
        self.thresholds_ = np.array([r[3] for r in results])
        self.knots_consistent_ = np.array([r[4] for r in results], dtype=bool)
        self.step_ = 2.0 / params["n_steps"]
        levels = (np.arange(params["n_steps"] + 1) * self.step_) * params["scale2"]
        self.levels_ = np.tile(levels, (len(results), 1))

    def _feature_index(self, j, x):
        out = np.empty(x.shape[0], dtype=np.int64)
        _n2uq_kernels.n2uq_index_kernel(x, float(self.scale1), self.thresholds_[j], out)
        return out

    def _feature_levels(self, j):
        return self.levels_[j]


def _uniform_knots(z, L):
    """Equal intervals: the MSE-optimal uniform quantizer with L + 1 levels on z."""
    # Only the grid is needed, not its error: fit z over a power of two near max |z| (exact),
    # so that data near 1e300, whose error overflows float64, still get their knots.
    p = power_of_two_scale(max_abs(z))
    z = z / p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant feature is reported by fit
        if z.min() >= 0:
            # Unsigned grid {0, a, ..., L a}: on the symmetrised data it is exactly the
            # symmetric mid-tread grid with 2L + 1 levels, whose step search is available.
            q = uniform_mse_quantizer(np.concatenate([z, -z]), 2 * L + 1, mode="midtread")
            return 0.0, np.full(L, q.step * p)
        q = uniform_mse_quantizer(z, L + 1, mode="affine")
        return q.offset * p, np.full(L, q.step * p)


def _index_mse_thresholds(z, L):
    """Thresholds minimising mean (2 ECDF(z) - Q(z))^2 over outputs {0, 2/L, ..., 2}."""
    zs = np.sort(z)
    n = zs.shape[0]
    # the DP holds a loss and an argmin table of (L + 1) x n_distinct entries
    check_allocation(2.0 * (L + 1) * (np.count_nonzero(np.diff(zs)) + 2), "n_bits",
                     what="the tables of objective='index_mse' (use fewer bits or samples)")

    def loss(values, level):
        target = 2.0 * np.searchsorted(zs, values, side="right") / n
        return (target - level) ** 2

    levels = np.arange(L + 1) * (2.0 / L)
    return optimal_thresholds_fixed_levels(z, levels, loss=loss)


def _knots_from_thresholds(t, z):
    """Knots whose interval midpoints are the thresholds t.

    ``T_0 = t_0 - (t_1 - t_0) / 2`` and ``T_{i+1} = 2 t_i - T_i``; with a single threshold the
    first knot is placed at the smallest sample.
    """
    L = t.shape[0]
    knots = np.empty(L + 1)
    if L >= 2:
        knots[0] = t[0] - 0.5 * (t[1] - t[0])
    else:
        knots[0] = min(float(z.min()), t[0])  # one threshold: start the knot at the data
    for i in range(L):
        knots[i + 1] = 2.0 * t[i] - knots[i]
    return knots
