"""MultiViewGraphClusterer: the spec's oracle cases, scikit-learn's checks, every bad input."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackNoConvergence
from sklearn.utils.estimator_checks import parametrize_with_checks

from normgraph.graphs import MultiViewGraphClusterer
from normgraph.graphs.metrics import adjusted_rand, clustering_accuracy, normalized_mutual_info


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Many tiny fits: OpenMP/BLAS threads only add spin-wait overhead on a busy 2-core runner
    # (k-means on 30 points is 25x slower with two contended threads than with one).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _planted(n_per=100, n_views=3, noisy_view=None, seed=0):
    """3 clusters; every view = shared N(0, 10^2) centres + N(0, 1) noise (spec 10.1/10.2)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 10.0, size=(3, 5))
    y = np.repeat(np.arange(3), n_per)
    views = [centres[y] + rng.normal(size=(y.size, 5)) for _ in range(n_views)]
    if noisy_view is not None:
        views[noisy_view] = rng.normal(size=(y.size, 5))
    return views, y


def _fit(views, **kwargs):
    # the oracle tests read the intermediate arrays, which a default (lean) fit frees
    params = dict(n_clusters=3, random_state=0, keep_intermediate=True)
    params.update(kwargs)
    return MultiViewGraphClusterer(**params).fit(views)


# --------------------------------------------------------------------------------------------
# spec section 10
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fusion", ["similarity", "dissimilarity"])
def test_planted_partition_is_recovered_with_equal_coefficients(fusion):
    views, y = _planted()
    model = _fit(views, fusion=fusion)
    assert clustering_accuracy(y, model.labels_) == 1.0
    assert normalized_mutual_info(y, model.labels_) == pytest.approx(1.0, abs=1e-12)
    assert adjusted_rand(y, model.labels_) == 1.0
    assert np.all(np.abs(model.view_coef_ - 1 / 3) < 0.05)
    # the learned attributes are consistent with each other
    m = model.edges_.shape[0]
    assert model.view_graphs_.shape == model.consistent_.shape == (3, m)
    scaled = model.view_graphs_ * model.view_scales_[:, None]
    np.testing.assert_allclose(model.consistent_ + model.inconsistent_, scaled, atol=1e-12)
    assert np.all(model.consistent_ >= -1e-15) and np.all(model.inconsistent_ >= -1e-15)
    assert model.unified_graph_.nnz == m
    G = model.graph_
    assert sp.issparse(G) and G.format == "csr" and abs(G - G.T).max() == 0
    assert G.diagonal().max() == 0
    assert model.embedding_.shape == (300, 3)
    assert len(model.objective_) == model.n_iter_ + 1
    assert model.n_views_ == 3 and model.n_features_per_view_ == (5, 5, 5)
    assert not hasattr(model, "n_features_in_")


@pytest.mark.parametrize("fusion, margin", [("similarity", 0.01), ("dissimilarity", 0.05)])
def test_noise_view_gets_the_smallest_coefficient(fusion, margin):
    views, y = _planted(noisy_view=2)
    model = _fit(views, fusion=fusion)
    assert clustering_accuracy(y, model.labels_) >= 0.95
    alpha = model.view_coef_
    assert alpha[2] + margin <= min(alpha[0], alpha[1])


def test_identical_views_have_no_inconsistency():
    views, _ = _planted(n_per=50)
    model = _fit([views[0]] * 3)
    np.testing.assert_allclose(model.view_coef_, [1 / 3] * 3, atol=1e-12)
    assert np.abs(model.inconsistent_).max() < 1e-12
    scaled0 = model.view_graphs_[0] * model.view_scales_[0]
    np.testing.assert_allclose(model.unified_graph_.data, scaled0 / 3, rtol=1e-12)


@pytest.mark.parametrize("fusion", ["similarity", "dissimilarity"])
def test_view_permutation_invariance(fusion):
    views, _ = _planted(n_per=50, noisy_view=1)
    base = _fit(views, fusion=fusion, view_weights=[1.0, 2.0, 0.5])
    perm = [2, 0, 1]
    other = _fit([views[i] for i in perm], fusion=fusion, view_weights=[0.5, 1.0, 2.0])
    np.testing.assert_allclose(other.view_coef_, base.view_coef_[perm], atol=1e-10)
    np.testing.assert_array_equal(other.edges_, base.edges_)
    np.testing.assert_allclose(other.unified_graph_.toarray(), base.unified_graph_.toarray(),
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(other.graph_.toarray(), base.graph_.toarray(), rtol=1e-10,
                               atol=1e-14)
    np.testing.assert_allclose(other.consistent_, base.consistent_[perm], atol=1e-12)
    assert adjusted_rand(base.labels_, other.labels_) == 1.0


def test_sample_permutation_permutes_the_graph():
    views, y = _planted(n_per=50)
    perm = np.random.default_rng(7).permutation(150)
    base = _fit(views, assign_labels="discretize")
    other = _fit([X[perm] for X in views], assign_labels="discretize")
    G = base.graph_.toarray()
    np.testing.assert_allclose(other.graph_.toarray(), G[np.ix_(perm, perm)], rtol=1e-10,
                               atol=1e-14)
    assert adjusted_rand(base.labels_[perm], other.labels_) == 1.0


@pytest.mark.parametrize("fusion", ["similarity", "dissimilarity"])
def test_scale_invariance(fusion):
    views, _ = _planted(n_per=50)
    base = _fit(views, fusion=fusion)
    scaled = _fit([views[0], 1e3 * views[1], views[2] * 0.01], fusion=fusion)
    np.testing.assert_allclose(scaled.unified_graph_.data, base.unified_graph_.data, rtol=1e-10)
    np.testing.assert_allclose(scaled.graph_.toarray(), base.graph_.toarray(), rtol=1e-10,
                               atol=1e-14)
    np.testing.assert_allclose(scaled.view_coef_, base.view_coef_, atol=1e-10)


def test_uniform_view_weights_change_the_result_smoothly():
    # The objective is not homogeneous in w (spec 10.7): w = c * 1 is not invariant, but a
    # small change of c must give a small change of the coefficients.
    views, _ = _planted(n_per=50, noisy_view=2)
    a = _fit(views, view_weights=[1.0, 1.0, 1.0]).view_coef_
    b = _fit(views, view_weights=[1.01, 1.01, 1.01]).view_coef_
    assert np.abs(a - b).max() < 0.01


def test_sparse_precomputed_and_float32_paths_agree():
    views, y = _planted(n_per=40)
    dense = _fit(views, n_neighbors=8)
    sparse = _fit([sp.csr_matrix(X) for X in views], n_neighbors=8)
    np.testing.assert_allclose(sparse.unified_graph_.data, dense.unified_graph_.data,
                               rtol=1e-10)
    D = [((X[:, None, :] - X[None, :, :]) ** 2).sum(-1) for X in views]
    pre = _fit(D, n_neighbors=8, metric="precomputed")
    np.testing.assert_array_equal(pre.edges_, dense.edges_)
    np.testing.assert_allclose(pre.unified_graph_.data, dense.unified_graph_.data, rtol=1e-8)
    low = _fit(views, n_neighbors=8, dtype=np.float32)
    assert low.view_graphs_.dtype == np.float32 and low.consistent_.dtype == np.float32
    np.testing.assert_allclose(low.view_coef_, dense.view_coef_, atol=1e-4)
    assert adjusted_rand(low.labels_, dense.labels_) == 1.0


def test_precomputed_graph_views_and_cosine_text_like_views():
    from normgraph.graphs import knn_sparsify

    views, y = _planted(n_per=40)

    affinities = []
    for X in views:
        D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        affinities.append(knn_sparsify(np.exp(-D / D.mean()), 10))
    model = _fit(affinities, n_neighbors=8, metric="precomputed_graph")
    assert clustering_accuracy(y, model.labels_) == 1.0
    rng = np.random.default_rng(0)
    topics = rng.random((3, 200)) < 0.1
    docs = [sp.csr_matrix((rng.random((120, 200)) < 0.05) | topics[np.repeat([0, 1, 2], 40)],
                          dtype=float) for _ in range(2)]
    text = _fit(docs, n_neighbors=10, metric="cosine", fusion="dissimilarity")
    assert clustering_accuracy(np.repeat([0, 1, 2], 40), text.labels_) == 1.0


def test_single_view_warns_and_uses_that_views_graph():
    views, y = _planted(n_per=40)
    with pytest.warns(UserWarning, match="single view"):
        model = _fit(views[:1], n_neighbors=8)
    assert model.view_coef_.tolist() == [1.0]
    assert model.n_features_in_ == 5
    np.testing.assert_allclose(model.unified_graph_.data,
                               model.view_graphs_[0] * model.view_scales_[0], rtol=1e-12)
    assert clustering_accuracy(y, model.labels_) == 1.0


def test_random_state_makes_fits_reproducible_and_verbose_runs(capsys):
    views, _ = _planted(n_per=30)
    a = _fit(views, n_neighbors=5, random_state=3, verbose=True)
    b = _fit(views, n_neighbors=5, random_state=3)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)


def test_no_predict_transductive():
    assert not hasattr(MultiViewGraphClusterer(), "predict")
    views, _ = _planted(n_per=30)
    model = MultiViewGraphClusterer(3, n_neighbors=5, random_state=0)
    np.testing.assert_array_equal(model.fit_predict(views), model.labels_)


# --------------------------------------------------------------------------------------------
# scikit-learn's estimator checks, single view
# --------------------------------------------------------------------------------------------

class SingleViewGraphClusterer(MultiViewGraphClusterer):
    """fit(X) means one view: lets scikit-learn's checks drive the multi-view estimator."""

    def fit(self, X, y=None):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="a single view was given")
            return super().fit([X], y)


def _expected_failed_checks(estimator):
    # Only checks that contradict the project's validation contract (a wrong dtype is a
    # TypeError naming the parameter; views are validated by the shared check_views).
    return {
        "check_complex_data": (
            "expects a ValueError for complex data; the validation vocabulary makes a wrong "
            "dtype a TypeError ('view 0: dtype complex128 is not numeric')"
        ),
        "check_dtype_object": (
            "expects object arrays of numbers to be accepted; the validation vocabulary refuses "
            "object dtype with a TypeError (views must be numeric arrays)"
        ),
        "check_estimators_empty_data_messages": (
            "matches check_array's exact wording; the shared view validator raises the expected "
            "ValueError but names the view ('view 0: empty view of shape (12, 0) ...')"
        ),
    }


@parametrize_with_checks(
    [SingleViewGraphClusterer(n_clusters=3, n_neighbors=5, random_state=0)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------------------------
# spec section 11: one test per bad-input row
# --------------------------------------------------------------------------------------------

def _good(n=30):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, 4)), rng.normal(size=(n, 3))]


def test_views_not_a_list_or_empty():
    model = MultiViewGraphClusterer(3, n_neighbors=5)
    with pytest.raises(TypeError, match="list or tuple"):
        model.fit(np.ones((30, 4)))
    with pytest.raises(TypeError, match="list or tuple"):
        model.fit("views")
    with pytest.raises(ValueError, match="at least 1 view"):
        model.fit([])


def test_views_with_different_sample_counts():
    a, b = _good()
    with pytest.raises(ValueError, match="view 0 has 30, view 1 has 29"):
        MultiViewGraphClusterer(3, n_neighbors=5).fit([a, b[:29]])


def test_too_few_samples_for_k():
    with pytest.raises(ValueError, match="n_samples = 30 must be greater than n_neighbors = 30"):
        MultiViewGraphClusterer(3, n_neighbors=30).fit(_good())


@pytest.mark.parametrize("n_clusters, match", [(0, "n_clusters must be >= 1"),
                                               (31, "n_clusters = 31 must be <= n_samples")])
def test_bad_n_clusters(n_clusters, match):
    with pytest.raises(ValueError, match=match):
        MultiViewGraphClusterer(n_clusters, n_neighbors=5).fit(_good())


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features(bad):
    a, b = _good()
    b[3, 1] = bad
    with pytest.raises(ValueError, match="view 1"):
        MultiViewGraphClusterer(3, n_neighbors=5).fit([a, b])


@pytest.mark.parametrize("metric", ["precomputed", "precomputed_graph"])
def test_negative_precomputed_entries(metric):
    D = np.abs(np.random.default_rng(0).normal(size=(30, 30)))
    D[2, 5] = -0.1
    with pytest.raises(ValueError, match="view 1.*nonnegative"):
        MultiViewGraphClusterer(3, n_neighbors=5, metric=metric).fit([np.abs(D), D])


def test_constant_or_all_zero_view_is_named():
    a, _ = _good()
    with pytest.raises(ValueError, match="view 1.*standard deviation 0"):
        MultiViewGraphClusterer(3, n_neighbors=5).fit([a, np.ones((30, 3))])
    graph = sp.csr_matrix(np.abs(np.random.default_rng(1).normal(size=(30, 30))))
    with pytest.raises(ValueError, match="view 1: all edge weights are zero"):
        MultiViewGraphClusterer(3, n_neighbors=5, metric="precomputed_graph").fit(
            [graph, sp.csr_matrix((30, 30))])


def test_unknown_fusion():
    with pytest.raises(ValueError, match="fusion must be one of"):
        MultiViewGraphClusterer(3, n_neighbors=5, fusion="sum").fit(_good())


def test_unknown_metric():
    with pytest.raises(ValueError, match="metric must be one of .*got 'manhattan'"):
        MultiViewGraphClusterer(3, n_neighbors=5, metric="manhattan").fit(_good())
    with pytest.raises(ValueError, match="1 metrics for 2 views"):
        MultiViewGraphClusterer(3, n_neighbors=5, metric=["cosine"]).fit(_good())


@pytest.mark.parametrize("param, value", [("beta", -1.0), ("gamma", -0.5), ("n_neighbors", 0),
                                          ("max_iter", 0), ("dca_iter", 0)])
def test_out_of_range_hyper_parameters(param, value):
    with pytest.raises(ValueError, match=f"{param} must be >="):
        MultiViewGraphClusterer(3, **{"n_neighbors": 5, param: value}).fit(_good())


@pytest.mark.parametrize("weights, match", [([1.0], "length 2"), ([1.0, 0.0], "view_weights"),
                                            ([1.0, -2.0], "view_weights"),
                                            ([1.0, np.inf], "view_weights"),
                                            ([np.nan, 1.0], "view_weights")])
def test_bad_view_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        MultiViewGraphClusterer(3, n_neighbors=5, view_weights=weights).fit(_good())


@pytest.mark.parametrize("shape", [(30, 29), (30, 30)])
def test_precomputed_not_square_or_not_n_by_n(shape):
    a, _ = _good()
    D = np.ones(shape)
    views = [np.eye(30) + 1.0, D[:, :29]] if shape == (30, 30) else [np.eye(30) + 1.0, D]
    with pytest.raises(ValueError, match="view 1: metric='precomputed' needs a square"):
        MultiViewGraphClusterer(3, n_neighbors=5, metric="precomputed").fit(views)


def test_nonpositive_a_step_curvature_raises(monkeypatch):
    # Impossible for valid inputs (trace Q > 0); the guard is exercised by faking eigvalsh.
    monkeypatch.setattr(np.linalg, "eigvalsh", lambda M, *a, **k: -np.ones(M.shape[0]))
    with pytest.raises(FloatingPointError, match="largest eigenvalue"):
        MultiViewGraphClusterer(3, n_neighbors=5).fit(_good())


def test_eigensolver_failure_is_reraised_with_advice(monkeypatch):
    import normgraph.graphs._spectral as spectral

    def fail(*args, **kwargs):
        raise ArpackNoConvergence("no convergence", np.empty(0), np.empty((0, 0)))

    monkeypatch.setattr(spectral, "eigsh", fail)
    with pytest.raises(ArpackNoConvergence, match="eigen_solver='lobpcg'"):
        MultiViewGraphClusterer(3, n_neighbors=5, eigen_solver="arpack").fit(_good())


def test_duplicate_samples_are_allowed_with_a_warning():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 3))
    dup = np.repeat(base, 10, axis=0)  # every sample ten times: most kNN edges at distance 0
    other = rng.normal(size=dup.shape)  # its kNN edges join different base points in view 0
    with pytest.warns(UserWarning, match="view 0: .* edges have distance 0"):
        model = MultiViewGraphClusterer(3, n_neighbors=5, random_state=0).fit([dup, other])
    assert model.labels_.shape == (60,)


# --------------------------------------------------------------------------------------------
# the function layer and one cluster
# --------------------------------------------------------------------------------------------

def test_function_layer_matches_estimator():
    from normgraph.graphs import multiview_graph_clustering

    views, y = _planted(n_per=30)
    result = multiview_graph_clustering(views, 3, n_neighbors=5, fusion="dissimilarity",
                                        random_state=0)
    model = MultiViewGraphClusterer(3, n_neighbors=5, fusion="dissimilarity",
                                    random_state=0).fit(views)
    np.testing.assert_array_equal(result.labels, model.labels_)
    np.testing.assert_array_equal(result.view_coef, model.view_coef_)
    assert (result.graph != model.graph_).nnz == 0
    np.testing.assert_array_equal(result.edges, model.edges_)
    assert result.n_iter == model.n_iter_ and result.objective == model.objective_
    assert adjusted_rand(y, result.labels) == 1.0


def test_function_layer_validates_like_the_estimator():
    from normgraph.graphs import multiview_graph_clustering

    with pytest.raises(TypeError, match="n_clusters must be an integer"):
        multiview_graph_clustering(_good(), 2.0, n_neighbors=5)
    with pytest.raises(ValueError, match="metric must be one of"):
        multiview_graph_clustering(_good(), 2, n_neighbors=5, metric="manhattan")
    with pytest.raises(TypeError, match="final_knn must be True or False"):
        multiview_graph_clustering(_good(), 2, n_neighbors=5, final_knn="yes")


@pytest.mark.parametrize("assign_labels", ["kmeans", "discretize"])
def test_one_cluster_is_all_zeros_with_attributes_set(assign_labels):
    views, _ = _planted(n_per=20)
    model = MultiViewGraphClusterer(1, n_neighbors=5, assign_labels=assign_labels,
                                    random_state=0).fit(views)
    np.testing.assert_array_equal(model.labels_, np.zeros(60, dtype=np.int64))
    assert model.embedding_.shape == (60, 1)
    assert model.graph_.shape == (60, 60) and model.view_coef_.shape == (3,)
