"""Bad inputs of the MAL API give the errors of spec nn_casd_mal_fft §6."""

import math

import pytest
import torch

from normgraph.nn.detection import (BoxCoder, FeatureDepression, MALLoss, TinyRetinaNet,
                                    anchor_bags, check_same_coder, depress_features,
                                    depression_mask, depression_ratio, mal_loss, mean_max,
                                    retinanet_focal_loss)

ANCHORS = torch.tensor([[0.0, 0, 10, 10], [5, 5, 15, 15], [0, 0, 20, 20]])
LOGITS = torch.zeros(1, 3, 2)
REG = torch.zeros(1, 3, 4)
CODER = BoxCoder("rcnn")


def _targets(boxes=((0.0, 0, 10, 10),), labels=(0,)):
    return [{"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
             "labels": torch.tensor(labels, dtype=torch.int64)}]


def _loss(**kw):
    args = {"targets": _targets(), "pre_anchor_topk": 2}
    args.update(kw)
    return mal_loss(LOGITS, REG, ANCHORS, args["targets"], box_coder=CODER,
                    pre_anchor_topk=args["pre_anchor_topk"])


@pytest.mark.parametrize("k", [0, -3])
def test_bag_size_not_positive(k):
    with pytest.raises(ValueError, match="pre_anchor_topk"):
        _loss(pre_anchor_topk=k)
    with pytest.raises(ValueError, match="pre_anchor_topk"):
        anchor_bags(ANCHORS[:1], ANCHORS, k)


def test_bag_size_exceeds_anchors():
    with pytest.raises(ValueError, match=r"pre_anchor_topk=4 exceeds #anchors=3"):
        _loss(pre_anchor_topk=4)


@pytest.mark.parametrize("k", [2.0, "2", True])
def test_bag_size_wrong_type(k):
    with pytest.raises(TypeError, match="pre_anchor_topk"):
        _loss(pre_anchor_topk=k)


@pytest.mark.parametrize("label", [-1, 2, 7])
def test_label_outside_classes(label):
    with pytest.raises(ValueError, match=r"labels'\] must lie in \[0, 2\)"):
        _loss(targets=_targets(labels=(label,)))


def test_float_labels():
    t = [{"boxes": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([0.0])}]
    with pytest.raises(TypeError, match="labels"):
        _loss(targets=t)


@pytest.mark.parametrize("box", [(3.0, 3, 3, 9), (0.0, 4, 10, 4)])
def test_zero_area_gt_box(box):
    with pytest.raises(ValueError, match="zero area"):
        _loss(targets=_targets(boxes=(box,)))


@pytest.mark.parametrize("box, match", [((5.0, 0, 1, 10), "row 0"),
                                        ((0.0, 0, math.nan, 10), "NaN"),
                                        ((0.0, 0, 10), r"shape \[N, 4\]")])
def test_malformed_gt_box(box, match):
    t = [{"boxes": torch.tensor([box]), "labels": torch.tensor([0])}]
    with pytest.raises(ValueError, match=match):
        _loss(targets=t)


def test_image_without_boxes_is_not_an_error():
    out = _loss(targets=_targets(boxes=(), labels=()))
    assert all(bool(torch.isfinite(v)) for v in out.values())
    assert float(out["positive"]) == 0.0


def test_targets_wrong_length_and_shapes():
    with pytest.raises(ValueError, match="targets must be a list of 1"):
        _loss(targets=_targets() * 2)
    with pytest.raises(ValueError, match="'boxes' and 'labels'"):
        _loss(targets=[{"boxes": torch.zeros(0, 4)}])
    with pytest.raises(ValueError, match=r"labels'\] must have shape \[1\]"):
        _loss(targets=[{"boxes": torch.tensor([[0.0, 0, 4, 4]]), "labels": torch.tensor([0, 1])}])


def test_head_shapes_and_types():
    with pytest.raises(ValueError, match=r"cls_logits must have shape \[B, N, C\]"):
        mal_loss(LOGITS[0], REG, ANCHORS, _targets(), box_coder=CODER, pre_anchor_topk=2)
    with pytest.raises(ValueError, match=r"bbox_regression must have shape \[1, 3, 4\]"):
        mal_loss(LOGITS, REG[:, :2], ANCHORS, _targets(), box_coder=CODER, pre_anchor_topk=2)
    with pytest.raises(TypeError, match="cls_logits"):
        mal_loss(LOGITS.tolist(), REG, ANCHORS, _targets(), box_coder=CODER, pre_anchor_topk=2)
    with pytest.raises(ValueError, match="anchors must have 3 rows"):
        mal_loss(LOGITS, REG, ANCHORS[:2], _targets(), box_coder=CODER, pre_anchor_topk=2)
    with pytest.raises(ValueError, match=r"anchors must have shape \[N, 4\]"):
        mal_loss(LOGITS, REG, ANCHORS[:, :3], _targets(), box_coder=CODER, pre_anchor_topk=2)


def test_coder_and_options():
    with pytest.raises(TypeError, match="box_coder"):
        MALLoss((10, 10, 5, 5))
    with pytest.raises(ValueError, match="bbox_threshold"):
        MALLoss(CODER, bbox_threshold=1.0)
    with pytest.raises(ValueError, match="alpha"):
        MALLoss(CODER, alpha=1.5)


def test_coder_mismatch_names_both():
    from types import SimpleNamespace

    model = SimpleNamespace(box_coder=SimpleNamespace(weights=(1.0, 1.0, 1.0, 1.0)))
    with pytest.raises(ValueError, match=r"\(10.0, 10.0, 5.0, 5.0\).*\(1.0, 1.0, 1.0, 1.0\)"):
        check_same_coder(MALLoss(CODER), model)
    check_same_coder(MALLoss(BoxCoder("torchvision_retinanet")), model)
    with pytest.raises(TypeError, match="box_coder"):
        check_same_coder(MALLoss(CODER), object())


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, math.nan])
def test_depression_ratio_outside_unit_interval(ratio):
    f = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="ratio"):
        depression_mask(f, ratio)
    with pytest.raises(ValueError, match="ratio"):
        depress_features(f, ratio)
    dep = FeatureDepression()
    dep.ratio = ratio
    with pytest.raises(ValueError, match="ratio"):
        dep(f)
    with pytest.raises(ValueError, match="max_ratio"):
        depression_ratio(0, 10, max_ratio=ratio)


def test_depression_bad_features_and_schedule():
    with pytest.raises(ValueError, match="features must be 4-D"):
        depression_mask(torch.randn(2, 4, 4), 0.1)
    with pytest.raises(TypeError, match="features"):
        depression_mask(torch.ones(1, 1, 2, 2, dtype=torch.int64), 0.1)
    with pytest.raises(ValueError, match="iteration"):
        depression_ratio(10, 10)
    with pytest.raises(ValueError, match="schedule"):
        depression_ratio(0, 10, schedule="linear")


def test_mean_max_refuses_non_probabilities():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        mean_max(torch.tensor([0.5, 1.2]))
    with pytest.raises(TypeError, match="x"):
        mean_max([0.5, 0.2])


def test_tiny_retinanet_and_focal_bad_inputs():
    with pytest.raises(ValueError, match="num_classes"):
        TinyRetinaNet(num_classes=0)
    with pytest.raises(ValueError, match="images must be 4-D"):
        TinyRetinaNet(num_classes=2, width=8)(torch.zeros(1, 96, 96))
    with pytest.raises(ValueError, match="must lie in"):
        retinanet_focal_loss(LOGITS, REG, ANCHORS, _targets(labels=(5,)), box_coder=CODER)
