"""The public-boundary contract, swept over every public name of every NumPy subpackage.

For each public function and estimator of ``normgraph.graphs``, ``normgraph.norms``,
``normgraph.quant`` and ``normgraph.datasets`` a valid baseline call is fixed; then each required
argument in turn is replaced by a hostile value (wrong types, non-numeric dtypes, NaN/inf,
wrong dimensions, empty arrays, absurd sizes) while the others stay valid. The contract
(issue 8): the call raises ``TypeError`` (wrong type) or ``ValueError`` (bad value) with a
one-line-able message, and never any other exception from inside a kernel (``IndexError``,
``AttributeError``, ``ZeroDivisionError``, Numba typing errors, ``MemoryError``...). A hostile
value that a function legitimately accepts must give a finite result.

The per-subpackage files ``tests/test_bad_inputs_<subpackage>.py`` hold the detailed
properties (hypothesis strategies over magnitudes 1e-300..1e300, NaN/inf placement, sparse
formats, size parameters, each compared with an independent reference); this file guarantees
that no public name is left out of the contract, including names added later: a public name
without a baseline here fails :func:`test_every_public_name_is_swept`.
"""

import inspect
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import normgraph.datasets as datasets
import normgraph.graphs as graphs
import normgraph.norms as norms
import normgraph.quant as quant

_RNG = np.random.default_rng(8)
_N = 18
_Y = np.repeat([0, 1, 2], _N // 3)
_CENTRES = _RNG.normal(0.0, 6.0, size=(3, 3))
_VIEWS = [_CENTRES[_Y] + _RNG.normal(size=(_N, 3)) for _ in range(2)]
_X1 = np.sort(_RNG.normal(size=200))
_G = np.kron(np.eye(3), np.ones((6, 6))) + 0.01
np.fill_diagonal(_G, 0.0)
_CONV = _RNG.normal(size=(4, 3, 3, 3))


def _edges():
    rows, cols = graphs.knn_union_edges(_VIEWS, 4)
    return rows, cols


def _view_graphs():
    rows, cols = _edges()
    W = np.vstack([graphs.gaussian_from_distance(graphs.standardize_edges(
        graphs.view_edge_weights(X, rows, cols))) for X in _VIEWS])
    return W


def _baselines():
    """name -> (callable, positional args, keyword args), each a valid call."""
    rows, cols = _edges()
    W = _view_graphs()
    fit = graphs.MultiViewGraphClusterer(3, n_neighbors=4, random_state=0).fit(_VIEWS)
    fused = graphs.consistent_graph_fusion(W, max_iter=3)
    S, alpha, A, E, _ = fused
    table = norms.layer_norms(_tiny_torch_model(), (3, 8, 8), p=(1, np.inf)) \
        if _torch_available() else None
    base = {
        # graphs
        "multiview_graph_clustering": (graphs.multiview_graph_clustering, (_VIEWS, 3),
                                       {"n_neighbors": 4, "random_state": 0}),
        "knn_union_edges": (graphs.knn_union_edges, (_VIEWS, 4), {}),
        "view_edge_weights": (graphs.view_edge_weights, (_VIEWS[0], rows, cols), {}),
        "standardize_edges": (graphs.standardize_edges, (W[0],), {}),
        "gaussian_from_distance": (graphs.gaussian_from_distance, (W[0],), {}),
        "consistent_graph_fusion": (graphs.consistent_graph_fusion, (W,), {"max_iter": 3}),
        "fusion_objective": (graphs.fusion_objective, (A + E, A, S, alpha), {}),
        "knn_sparsify": (graphs.knn_sparsify, (sp.csr_matrix(_G), 3), {}),
        "spectral_clustering_njw": (graphs.spectral_clustering_njw, (_G, 3),
                                    {"random_state": 0}),
        "spectral_embedding_njw": (graphs.spectral_embedding_njw, (_G, 3), {}),
        "clustering_accuracy": (graphs.clustering_accuracy, (_Y, _Y[::-1]), {}),
        "normalized_mutual_info": (graphs.normalized_mutual_info, (_Y, _Y[::-1]), {}),
        "adjusted_rand": (graphs.adjusted_rand, (_Y, _Y[::-1]), {}),
        "purity": (graphs.purity, (_Y, _Y[::-1]), {}),
        "pairwise_f_score": (graphs.pairwise_f_score, (_Y, _Y[::-1]), {}),
        "clustering_report": (graphs.clustering_report, (_Y, _Y[::-1]), {}),
        "plot_view_coefficients": (graphs.plot_view_coefficients, (fit,), {}),
        "plot_objective": (graphs.plot_objective, (fit,), {}),
        "plot_graph": (graphs.plot_graph, (sp.csr_matrix(_G),), {}),
        # norms
        "bn_norm": (norms.bn_norm, (_X1[:8],), {"running_var": np.abs(_X1[8:16]) + 0.1}),
        "clip_singular_values": (norms.clip_singular_values, (_CONV, (6, 6)), {}),
        "closed_form_is_exact": (norms.closed_form_is_exact, ((3, 3), (6, 6)), {}),
        "conv_norm": (norms.conv_norm, (_CONV,), {"input_shape": (6, 6)}),
        "conv_singular_values": (norms.conv_singular_values, (_CONV, (6, 6)), {}),
        "gram_bound": (norms.gram_bound, (_RNG.normal(size=(2, 3, 3)),), {}),
        "linear_norm": (norms.linear_norm, (_RNG.normal(size=(5, 4)),), {}),
        "power_iteration": (norms.power_iteration, (lambda v: 2.0 * v, lambda y: 2.0 * y, (4,)),
                            {}),
        "project_l1_ball": (norms.project_l1_ball, (_X1[:20],), {}),
        "spatial_gram_bound": (norms.spatial_gram_bound, (_CONV,), {}),
        # quant
        "uniform_mse_quantizer": (quant.uniform_mse_quantizer, (_X1, 4), {}),
        "equal_probability_thresholds": (quant.equal_probability_thresholds, (_X1, 4), {}),
        "lloyd_max": (quant.lloyd_max, (_X1, 4), {}),
        "optimal_kmeans_1d": (quant.optimal_kmeans_1d, (_X1, 4), {}),
        "optimal_thresholds_fixed_levels": (quant.optimal_thresholds_fixed_levels,
                                            (_X1, np.array([-1.0, 0.0, 1.0])), {}),
        "n2uq_forward": (quant.n2uq_forward, (_X1, 0.0, np.array([0.5, 0.5, 0.5])), {}),
        "n2uq_surrogate": (quant.n2uq_surrogate, (_X1, 0.0, np.array([0.5, 0.5, 0.5])), {}),
        "n2uq_backward": (quant.n2uq_backward,
                          (np.ones_like(_X1), _X1, 0.0, np.array([0.5, 0.5, 0.5])), {}),
        "n2uq_weight_quant": (quant.n2uq_weight_quant, (_CONV, 2), {}),
        "n2uq_weight_backward": (quant.n2uq_weight_backward, (np.ones_like(_CONV), _CONV, 2), {}),
        "plot_quantizer": (quant.plot_quantizer,
                           (quant.UniformQuantizer().fit(_X1[:, None]), _X1[:, None]), {}),
        # datasets
        "load_multiview_mat": (datasets.load_multiview_mat, (_missing_path(),), {}),
        "load_multiview": (datasets.load_multiview, ("MSRC_v1",), {"data_home": _missing_dir()}),
        "list_multiview": (datasets.list_multiview, (), {"data_home": _missing_dir()}),
    }
    if table is not None:
        base["plot_norm_profile"] = (norms.plot_norm_profile, (table,), {})
        base["layer_norms"] = (norms.layer_norms, (_tiny_torch_model(), (3, 8, 8)),
                               {"p": (1, np.inf)})
    return base


def _missing_path():
    import tempfile
    from pathlib import Path

    return Path(tempfile.gettempdir()) / "normgraph-no-such-file.mat"


def _missing_dir():
    import tempfile
    from pathlib import Path

    return Path(tempfile.gettempdir()) / "normgraph-no-such-folder"


def _torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs torch
        return False
    return True


def _tiny_torch_model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 2))


BASELINES = _baselines()

# Names that are not callables taking data (constants, submodules, result types).
_NOT_SWEPT = {"metrics", "MULTIVIEW_DATASETS", "NormResult", "NormOverflowWarning",
              "UniformQuant", "NormDecay", "MultiViewGraphClusterer", "UniformQuantizer",
              "LloydMaxQuantizer", "OptimalQuantizer", "N2UQuantizer", "load_digits_multiview"}
_ESTIMATORS = {
    "MultiViewGraphClusterer": lambda: graphs.MultiViewGraphClusterer(3, n_neighbors=4,
                                                                       random_state=0),
    "UniformQuantizer": quant.UniformQuantizer,
    "LloydMaxQuantizer": quant.LloydMaxQuantizer,
    "OptimalQuantizer": quant.OptimalQuantizer,
    "N2UQuantizer": quant.N2UQuantizer,
}

# Hostile replacements for one argument. Each is a wrong type or a bad value for *any*
# required data argument of the functions above.
HOSTILE = {
    "None": None,
    "string": "abc",
    "dict": {"a": 1},
    "complex": np.array([[1j, 2.0], [3.0, 4.0]]),
    "object": np.array([[object(), 1.0]], dtype=object),
    "datetime": np.array(["2020-01-01"], dtype="datetime64[D]"),
    "ragged": [[1.0, 2.0], [3.0]],
}

# Hostile values a function documents as valid input.
_DOCUMENTED_ACCEPTS = {
    ("gram_bound", "complex"),  # "blocks : real or complex"
    ("bn_norm", "None"),  # "weight : None for affine=False"
}


def _accepted_or_clear(func, args, kwargs):
    """Call; return the exception if it is TypeError/ValueError (or a warning-free result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = func(*args, **kwargs)
        except (TypeError, ValueError, FileNotFoundError) as exc:
            msg = str(exc)
            assert msg and "Traceback" not in msg, f"empty or raw message: {exc!r}"
            return exc
    _close_figures()
    return out


def _close_figures():
    import matplotlib.pyplot as plt

    plt.close("all")


def _required_positions(func, args):
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover
        return range(len(args))
    out = []
    for i, p in enumerate(params[: len(args)]):
        if p.default is inspect.Parameter.empty:
            out.append(i)
    return out


def test_every_public_name_is_swept():
    missing = []
    for pkg in (graphs, norms, quant, datasets):
        for name in pkg.__all__:
            if name in _NOT_SWEPT and name not in _ESTIMATORS:
                continue
            if name not in BASELINES and name not in _ESTIMATORS:
                missing.append(f"{pkg.__name__}.{name}")
    assert not missing, f"public names without a baseline in the sweep: {missing}"


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_call_is_valid(name):
    func, args, kwargs = BASELINES[name]
    if name.startswith("load_multiview"):
        # The baselines of the loaders point at nothing: a clear FileNotFoundError.
        with pytest.raises(FileNotFoundError):
            func(*args, **kwargs)
        return
    out = _accepted_or_clear(func, args, kwargs)
    assert not isinstance(out, Exception), f"the baseline of {name} is invalid: {out!r}"


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_hostile_argument_gives_type_or_value_error(name, hostile):
    func, args, kwargs = BASELINES[name]
    for i in _required_positions(func, args):
        if (name, hostile) in _DOCUMENTED_ACCEPTS:
            continue
        bad_args = list(args)
        bad_args[i] = HOSTILE[hostile]
        out = _accepted_or_clear(func, tuple(bad_args), kwargs)
        assert isinstance(out, Exception), (
            f"{name}: argument {i} = {hostile} was accepted and returned {type(out).__name__}")


def _non_finite_variants(x):
    x = np.asarray(x, dtype=float)
    for value in (np.nan, np.inf, -np.inf):
        bad = x.copy()
        bad.flat[bad.size // 2] = value
        yield value, bad


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_non_finite_entries_are_refused(name):
    func, args, kwargs = BASELINES[name]
    for i in _required_positions(func, args):
        arg = args[i]
        if not (isinstance(arg, np.ndarray) and arg.dtype.kind == "f"):
            continue
        if name == "view_edge_weights" and i > 0:
            continue  # edge indices are integer arrays
        for value, bad in _non_finite_variants(arg):
            bad_args = list(args)
            bad_args[i] = bad
            out = _accepted_or_clear(func, tuple(bad_args), kwargs)
            assert isinstance(out, ValueError), (
                f"{name}: argument {i} with a {value} entry gave {out!r}")


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_wrong_dimensions_are_refused(name):
    func, args, kwargs = BASELINES[name]
    for i in _required_positions(func, args):
        arg = args[i]
        if not (isinstance(arg, np.ndarray) and arg.dtype.kind in "fi"):
            continue
        for bad in (np.zeros((0,) * arg.ndim), arg.reshape(arg.shape + (1, 1, 1, 1, 1))):
            bad_args = list(args)
            bad_args[i] = bad
            out = _accepted_or_clear(func, tuple(bad_args), kwargs)
            if isinstance(out, Exception):
                assert isinstance(out, (TypeError, ValueError))
            else:  # accepted (e.g. any batch shape): the answer must be finite
                _assert_finite(out, name)


def _assert_finite(out, name):
    values = out if isinstance(out, (tuple, list)) else (out,)
    for v in values:
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            assert np.all(np.isfinite(v)), f"{name} returned non-finite values"
        elif isinstance(v, float):
            assert np.isfinite(v), f"{name} returned {v}"


@pytest.mark.parametrize("hostile", ["None", "string", "complex", "object", "ragged"])
@pytest.mark.parametrize("name", sorted(_ESTIMATORS))
def test_estimators_refuse_hostile_fit_input(name, hostile):
    est = _ESTIMATORS[name]()
    X = HOSTILE[hostile]
    if name == "MultiViewGraphClusterer":
        X = [X, _VIEWS[1]]
    out = _accepted_or_clear(est.fit, (X,), {})
    assert isinstance(out, Exception), f"{name}.fit accepted {hostile}"


_WRONG_TYPES = [("n_levels", 2.5), ("n_levels", True), ("n_levels", "4"), ("n_bits", 2.0),
                ("n_clusters", 2.5), ("n_neighbors", "5"), ("output", 1), ("method", None),
                ("fusion", 0), ("max_iter", 1.5)]
_PARAM_CASES = [(name, param, value) for name in sorted(_ESTIMATORS)
                for param, value in _WRONG_TYPES if param in _ESTIMATORS[name]().get_params()]


@pytest.mark.parametrize("name,param,value", _PARAM_CASES)
def test_estimator_parameters_wrong_type_is_type_error(name, param, value):
    est = _ESTIMATORS[name]().set_params(**{param: value})
    X = _VIEWS if name == "MultiViewGraphClusterer" else _X1[:, None]
    with pytest.raises(TypeError, match=param):
        est.fit(X)


@pytest.mark.parametrize("scale", [1e-300, 1e-100, 1e100, 1e300])
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_extreme_magnitudes_give_finite_answer_or_clear_error(name, scale):
    # Every method here is scale-invariant or scale-equivariant; the per-subpackage files check
    # the scaled answer against references, this sweep checks that no public name returns
    # NaN/inf or crashes for data scaled to the edges of the float64 range.
    func, args, kwargs = BASELINES[name]
    for i in _required_positions(func, args):
        arg = args[i]
        if not (isinstance(arg, np.ndarray) and arg.dtype.kind == "f"):
            continue
        bad_args = list(args)
        bad_args[i] = arg * scale
        out = _accepted_or_clear(func, tuple(bad_args), kwargs)
        if isinstance(out, Exception):
            assert isinstance(out, (TypeError, ValueError))
        else:
            _assert_finite(out, name)
