"""RSC bad inputs (spec nn_psa_rsc_er 2.9): each gives the listed error or warning."""

import warnings

import pytest
import torch

from normgraph.nn.rsc import RSCHead, RSCSchedule, rsc_mask, rsc_preset, rsc_scores


def head(f):
    weight = torch.arange(1.0, 1.0 + 3 * f.shape[1]).view(3, f.shape[1]) / 10
    return (f.mean(dim=(2, 3)) if f.dim() == 4 else f) @ weight.T


FEATS = torch.randn(4, 5, 3, 3)
Y = torch.tensor([0, 1, 2, 0])


@pytest.mark.parametrize("mode", ["spatial", "channel", "random"])
@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 3), (4, 5, 3, 3, 1)])
def test_features_not_4d(mode, shape):
    with pytest.raises(ValueError, match=r"features must be 4-D .* mode='%s'" % mode):
        rsc_mask(torch.randn(*shape), head, Y, mode=mode)


@pytest.mark.parametrize("shape", [(4, 5, 3, 3), (4,)])
def test_features_not_2d_in_vector_mode(shape):
    with pytest.raises(ValueError, match="features must be 2-D"):
        rsc_mask(torch.randn(*shape), head, Y, mode="vector")


def test_features_type_and_values():
    with pytest.raises(TypeError, match="features must be a torch.Tensor"):
        rsc_mask(FEATS.numpy(), head, Y)
    with pytest.raises(TypeError, match="floating-point"):
        rsc_mask(torch.ones(4, 5, 3, 3, dtype=torch.int64), head, Y)
    bad = FEATS.clone()
    bad[1, 2, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="features contains NaN or infinity"):
        rsc_mask(bad, head, Y)
    with pytest.raises(ValueError, match="must not be empty"):
        rsc_mask(torch.randn(0, 5, 3, 3), head, Y[:0])


@pytest.mark.parametrize("targets,match", [
    (torch.tensor([0, 1, 2, 0], dtype=torch.int32), "targets must have dtype torch.int64"),
    (torch.tensor([0.0, 1.0, 2.0, 0.0]), "targets must have dtype torch.int64"),
    (torch.tensor([0, 1, 2]), r"targets must have shape \(4,\)"),
    (torch.tensor([[0, 1, 2, 0]]), r"targets must have shape \(4,\)"),
    (torch.tensor([0, 1, 3, 0]), r"targets must lie in \[0, 3\), got 3"),
    (torch.tensor([0, -1, 2, 0]), r"targets must lie in \[0, 3\), got -1"),
])
def test_bad_targets(targets, match):
    with pytest.raises(ValueError, match=match):
        rsc_mask(FEATS, head, targets)
    with pytest.raises(ValueError, match=match):
        rsc_scores(FEATS, head, targets)


def test_targets_not_a_tensor():
    with pytest.raises(TypeError, match="targets must be a torch.Tensor"):
        rsc_mask(FEATS, head, [0, 1, 2, 0])


@pytest.mark.parametrize("name", ["feature_drop", "channel_drop", "batch_drop"])
@pytest.mark.parametrize("value", [0.0, 1.0, 1.1, -0.2, float("nan")])
def test_fractions_outside_open_unit_interval(name, value):
    with pytest.raises(ValueError, match=name):
        rsc_mask(FEATS, head, Y, **{name: value})


@pytest.mark.parametrize("name", ["feature_drop", "channel_drop", "batch_drop", "eps"])
def test_fractions_of_the_wrong_type(name):
    with pytest.raises(TypeError, match=name):
        rsc_mask(FEATS, head, Y, **{name: "0.3"})


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(mode="both"), ValueError, "mode must be one of"),
    (dict(selection="topk"), ValueError, "selection must be one of"),
    (dict(drop_rounding="round"), ValueError, "drop_rounding must be one of"),
    (dict(eps=-1e-4), ValueError, "eps must be >= 0"),
    (dict(clamp=1), TypeError, "clamp must be True or False"),
    (dict(rng=0), TypeError, "rng must be a torch.Generator"),
])
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        rsc_mask(FEATS, head, Y, **kwargs)


def test_logits_fn_returning_the_wrong_shape_or_nan():
    with pytest.raises(ValueError, match="logits_fn must return"):
        rsc_mask(FEATS, lambda f: f.mean(dim=(1, 2, 3)), Y)
    with pytest.raises(ValueError, match="NaN or infinite logits"):
        rsc_mask(FEATS, lambda f: head(f) * float("inf"), Y)


@pytest.mark.parametrize("selection", ["threshold", "strict_topk"])
@pytest.mark.parametrize("batch_drop,expected", [(0.3, 0), (0.5, 0), (0.6, 1), (0.9, 1)])
def test_batch_of_one(selection, batch_drop, expected):
    f = torch.arange(1.0, 10.0).view(1, 1, 3, 3) / 10
    _, d = rsc_mask(f, head, torch.tensor([2]), mode="spatial", batch_drop=batch_drop,
                    selection=selection, return_details=True)
    assert int(d.challenged.sum()) == expected                      # round(1 * batch_drop)


def test_one_by_one_map_warns_and_mutes_it():
    f = torch.rand(6, 5, 1, 1) + 0.5
    y = torch.full((6,), 2, dtype=torch.int64)                      # muting lowers p(y)
    for selection in ("threshold", "strict_topk"):
        with pytest.warns(UserWarning, match="whole map is muted"):
            mask, d = rsc_mask(f, head, y, mode="spatial", batch_drop=0.5, selection=selection,
                               return_details=True)
        assert d.dropped.all() and int(d.challenged.sum()) == 3
        assert (mask[d.challenged] == 0).all() and (mask[~d.challenged] == 1).all()


@pytest.mark.parametrize("h,w", [(1, 2), (2, 1), (1, 3), (3, 1)])
def test_small_maps_do_not_warn(h, w):
    f = torch.rand(6, 5, h, w) + 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, d = rsc_mask(f, head, torch.zeros(6, dtype=torch.int64), mode="spatial",
                        return_details=True)
    assert d.dropped.sum(1).tolist() == [1] * 6                    # ceil(2/3) = ceil(3/3) = 1


def test_train_mode_without_targets():
    module = RSCHead(torch.nn.Linear(5, 3))
    with pytest.raises(ValueError, match="^RSC needs ground-truth labels in train mode$"):
        module(FEATS)
    with pytest.raises(ValueError, match="^RSC needs ground-truth labels in train mode$"):
        rsc_mask(FEATS, head, None)


@pytest.mark.parametrize("h,w", [(3, 8), (8, 3), (5, 7)])
def test_non_square_maps(h, w):
    f = torch.randn(10, 5, h, w)
    y = torch.arange(10) % 3
    for preset in ("official_dg", "paper_v1", "imagenet"):
        mask = rsc_mask(f, head, y, **{**rsc_preset(preset), "mode": "spatial"})
        assert mask.shape == (10, 1, h, w)
    module = RSCHead(torch.nn.Linear(5, 3), preset="official_dg")
    assert module(f, y).shape == (10, 3)


def test_head_and_schedule_arguments():
    with pytest.raises(TypeError, match="classifier must be a torch.nn.Module"):
        RSCHead(lambda f: f)
    with pytest.raises(ValueError, match="preset must be one of"):
        RSCHead(torch.nn.Linear(5, 3), preset="pacs")
    with pytest.raises(ValueError, match="pool must be one of"):
        RSCHead(torch.nn.Linear(5, 3), pool="max")
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        RSCHead(torch.nn.Linear(5, 3), feature_dropp=0.3)
    with pytest.raises(ValueError, match="batch_drop"):
        RSCHead(torch.nn.Linear(5, 3), batch_drop=1.0)
    with pytest.raises(ValueError, match="schedule must be one of"):
        RSCHead(torch.nn.Linear(5, 3), schedule="cosine")
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        RSCSchedule()(-1)
    with pytest.raises(TypeError, match="epoch must be an integer"):
        RSCHead(torch.nn.Linear(5, 3)).set_epoch(1.5)
    with pytest.raises(ValueError, match="kind must be one of"):
        RSCSchedule("linear")(0)
    with pytest.raises(ValueError, match="value must be <"):
        RSCSchedule("constant", 1.0)(0)
    with pytest.raises(ValueError, match="preset must be one of"):
        rsc_preset("v2")
