"""Spec §6 bad inputs of the detection blocks and CASD: the listed error, naming the input."""

import numpy as np
import pytest
import torch
from torch import nn

from normgraph.nn.detection import (
    CASD,
    BoxCoder,
    attention_map,
    average_precision,
    box_iou,
    check_boxes,
    flip_attention,
    iw_loss,
    lw_loss,
    make_views,
    mil_loss,
    mine_pseudo_labels,
    nms,
    sliding_window_proposals,
)


@pytest.mark.parametrize("bad", [torch.zeros(3, 5), torch.zeros(4), torch.zeros(2, 4, 1)])
def test_boxes_wrong_shape(bad):
    with pytest.raises(ValueError, match=r"boxes must have shape \[N, 4\]"):
        check_boxes(bad)
    with pytest.raises(ValueError, match=r"boxes1 must have shape \[N, 4\]"):
        box_iou(bad, torch.zeros(1, 4))


def test_inverted_and_nonfinite_boxes_name_the_row():
    with pytest.raises(ValueError, match="row 1 has x2 < x1"):
        check_boxes([[0, 0, 1, 1], [5, 0, 4, 1]])
    with pytest.raises(ValueError, match="row 0 has x2 < x1 or y2 < y1"):
        nms([[0, 3, 1, 1]], [0.5], 0.5)
    with pytest.raises(ValueError, match="NaN or infinite coordinate in row 2"):
        box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 2, 2], [0, 0, np.inf, 1]])
    with pytest.raises(TypeError, match="real"):
        check_boxes(np.array([["a", "b", "c", "d"]]))


@pytest.mark.parametrize("thr", [-0.1, 1.5, float("nan")])
def test_nms_threshold_outside_unit_interval(thr):
    with pytest.raises(ValueError, match="iou_threshold"):
        nms(torch.zeros(1, 4), torch.zeros(1), thr)


def test_nms_threshold_type_and_score_shape():
    with pytest.raises(TypeError, match="iou_threshold"):
        nms(torch.zeros(1, 4), torch.zeros(1), "0.5")
    with pytest.raises(ValueError, match="scores must have shape"):
        nms(torch.zeros(2, 4), torch.zeros(3), 0.5)


@pytest.mark.parametrize("labels,fmt", [([0, 2], "01"), ([1], "01"), ([0, 1], "pm1"),
                                        ([-1, 1, 1], "pm1")])
def test_image_labels(labels, fmt):
    with pytest.raises(ValueError, match="image_labels must be .* of length C = 2"):
        mil_loss(torch.zeros(3, 2), torch.zeros(3, 2), labels, label_format=fmt)


def test_no_positive_class():
    boxes = torch.tensor([[0.0, 0, 10, 10], [5, 5, 15, 15]])
    with pytest.raises(ValueError, match="no positive class"):
        mine_pseudo_labels(torch.rand(2, 2), boxes, [0, 0])
    res = mine_pseudo_labels(torch.rand(2, 2), boxes, [0, 0], allow_empty=True)
    assert res.labels.tolist() == [-1, -1]
    net = CASD(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), 2, hidden=8, mining="oicr")
    img = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="no positive class"):
        net.loss([img], [boxes], [0, 0])
    net.allow_empty = True
    out = net.loss([img], [boxes], [0, 0])
    assert out["refine"].item() == 0.0 and torch.isfinite(out["loss"])


def test_zero_proposals():
    with pytest.raises(ValueError, match="need at least one proposal"):
        mine_pseudo_labels(torch.zeros(0, 2), torch.zeros(0, 4), [1, 0])
    with pytest.raises(ValueError, match="need at least one proposal"):
        mil_loss(torch.zeros(0, 2), torch.zeros(0, 2), [1, 0])
    with pytest.raises(ValueError, match="need at least one proposal"):
        make_views(torch.rand(1, 3, 8, 8), torch.zeros(0, 4), (8,))
    net = CASD(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), 2, hidden=8)
    with pytest.raises(ValueError, match="need at least one proposal"):
        net.loss([torch.rand(1, 3, 8, 8)], [torch.zeros(0, 4)], [1, 0])


def test_views_with_different_proposals():
    net = CASD(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1)), 2, hidden=8)
    img = torch.rand(1, 3, 16, 16)
    b2 = torch.tensor([[0.0, 0, 8, 8], [4, 4, 12, 12]])
    with pytest.raises(ValueError, match="all views must share the same proposals"):
        net.loss([img, img], [b2, b2[:1]], [1, 0])
    with pytest.raises(ValueError, match="all views must share the same proposals"):
        iw_loss([torch.rand(3, 7, 7), torch.rand(2, 7, 7)], flipped=(False, True))
    with pytest.raises(ValueError, match="all views must share the same proposals"):
        mine_pseudo_labels(torch.rand(5, 2), b2, [1, 0], n_views=2)


def test_attention_maps_of_different_size():
    with pytest.raises(ValueError, match="common grid"):
        iw_loss([torch.rand(2, 7, 7), torch.rand(2, 5, 5)], flipped=(False, True))
    with pytest.raises(ValueError, match="common grid"):
        lw_loss([torch.rand(2, 7, 7), torch.rand(2, 14, 14)])


def test_flip_on_non_3d_map():
    with pytest.raises(ValueError, match=r"flip needs maps of shape \[N, H, W\]"):
        flip_attention(torch.rand(2, 3, 7, 7))
    with pytest.raises(ValueError, match="features must be"):
        attention_map(torch.rand(7, 7))


def test_constructor_and_metric_parameters():
    with pytest.raises(TypeError, match="backbone"):
        CASD(nn.Conv2d(3, 4, 1), 2)
    seq = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
    with pytest.raises(ValueError, match="mining"):
        CASD(seq, 2, mining="pcl")
    with pytest.raises(ValueError, match="lw_layers"):
        CASD(seq, 2, lw_layers=(1,))
    with pytest.raises(TypeError, match="n_classes"):
        CASD(seq, 2.0)
    with pytest.raises(ValueError, match="interp"):
        average_precision([], [], interp="voc07")
    with pytest.raises(ValueError, match="one entry per image"):
        average_precision([{"boxes": [], "scores": [], "labels": []}], [])
    with pytest.raises(ValueError, match="weights"):
        BoxCoder((1, 1, 1))
    with pytest.raises(ValueError, match="weights"):
        BoxCoder((1, 1, 0, 1))
    with pytest.raises(ValueError, match="stride"):
        sliding_window_proposals(96, 96, stride=0)
