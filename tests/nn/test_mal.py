"""Multiple Anchor Learning (spec nn_casd_mal_fft §2, tests of §5.3).

References are independent of the code under test: hand-built IoUs, a loop transcription of the
FreeAnchor loss in plain Python floats, torchvision's ``sigmoid_focal_loss`` for the background
term, an explicit loop for the depression mask.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import sigmoid_focal_loss

from normgraph.nn.detection import (BoxCoder, FeatureDepression, MALLoss, TinyRetinaNet,
                                    anchor_bags, depress_features, depression_mask,
                                    depression_ratio, mal_loss, mean_max, retinanet_focal_loss)
from normgraph.nn.detection._mal_loss import _positive_plus

F64 = torch.float64


# ----------------------------------------------------------------------------- bags
def test_bag_is_top_k_iou_on_hand_built_anchors():
    # anchors (0, 0, 10, h) against the box (0, 0, 10, 10): IoU = h / 10, h shuffled
    heights = [3, 9, 1, 7, 10, 2, 5, 8, 4, 6]
    anchors = torch.tensor([[0.0, 0.0, 10.0, h] for h in heights], dtype=F64)
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]], dtype=F64)
    for k in (1, 3, 10):
        expected = sorted(range(10), key=lambda j: -heights[j])[:k]
        assert anchor_bags(gt, anchors, k)[0].tolist() == expected
    with pytest.raises(ValueError, match=r"pre_anchor_topk=11 exceeds #anchors=10"):
        anchor_bags(gt, anchors, 11)


# ----------------------------------------------------------------------------- mean-max
def test_mean_max_values():
    assert float(mean_max(torch.full((5,), 0.3, dtype=F64))) == pytest.approx(0.3, abs=1e-15)
    x = torch.tensor([0.999, 0.1, 0.1], dtype=F64)
    assert float(x.mean()) == pytest.approx(0.400, abs=5e-4)
    assert float(mean_max(x)) == pytest.approx(0.997, abs=5e-4)
    # by hand: weights 1000, 1/0.9, 1/0.9
    w = [1000.0, 1 / 0.9, 1 / 0.9]
    assert float(mean_max(x)) == pytest.approx((999 + 2 * 0.1 / 0.9) / sum(w), rel=1e-12)
    torch.manual_seed(0)
    x = torch.rand(40, dtype=F64)
    assert (float(x.mean()), float(mean_max(x)), float(x.max())) == pytest.approx(
        (0.511, 0.722, 0.970), abs=5e-4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_mean_max_between_mean_and_max(values):
    x = torch.tensor(values, dtype=F64)
    mm = float(mean_max(x))
    assert float(x.mean()) - 1e-12 <= mm <= float(x.max()) + 1e-12


@pytest.mark.parametrize("bag, expected", [((1.0, 0.1, 0.1), -3.0),
                                           ((1.0, 0.3, 0.5, 0.2, 0.9), -5.0)])
def test_straight_through_clamp_gradient_at_one(bag, expected):
    x = torch.tensor(bag, dtype=F64, requires_grad=True)
    (-torch.log(mean_max(x))).backward()
    assert float(x.grad[0]) == pytest.approx(expected, abs=1e-3)
    # a plain clamp gives -1 at x = 1 exactly: the test can tell the two apart
    y = torch.tensor(bag, dtype=F64, requires_grad=True)
    w = 1.0 / torch.clamp(1.0 - y, min=1e-12)
    (-torch.log((w * y).sum() / w.sum())).backward()
    assert float(y.grad[0]) == pytest.approx(-1.0, abs=1e-3)


# ----------------------------------------------------------------------------- the loss
def _smooth_l1(d, beta):
    d = abs(d)
    return 0.5 * d * d / beta if d < beta else d - 0.5 * beta


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _encode(g, p, w):
    pw, ph = p[2] - p[0], p[3] - p[1]
    gw, gh = g[2] - g[0], g[3] - g[1]
    return [w[0] * ((g[0] + g[2]) / 2 - (p[0] + p[2]) / 2) / pw,
            w[1] * ((g[1] + g[3]) / 2 - (p[1] + p[3]) / 2) / ph,
            w[2] * math.log(gw / pw), w[3] * math.log(gh / ph)]


def _decode(d, p, w):
    pw, ph = p[2] - p[0], p[3] - p[1]
    cx = d[0] / w[0] * pw + (p[0] + p[2]) / 2
    cy = d[1] / w[1] * ph + (p[1] + p[3]) / 2
    bw = math.exp(min(d[2] / w[2], math.log(1000 / 16))) * pw
    bh = math.exp(min(d[3] / w[3], math.log(1000 / 16))) * ph
    return [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]


def _reference_loss(logits, reg, anchors, targets, w, k, t1=0.6, gamma=2.0, alpha=0.5,
                    reg_weight=0.75, beta=0.11):
    """Loop transcription of spec §2.3 in Python floats."""
    sig = lambda z: 1.0 / (1.0 + math.exp(-z))  # noqa: E731
    pos_terms, neg, n_obj = [], 0.0, 0
    for lg, rg, anc, (boxes, labels) in zip(logits, reg, anchors, targets):
        n, c = len(lg), len(lg[0])
        p_plus = [[0.0] * c for _ in range(n)]
        decoded = [_decode(rg[j], anc[j], w) for j in range(n)]
        for b, lab in zip(boxes, labels):
            n_obj += 1
            ious = [_iou(b, a) for a in anc]
            bag = sorted(range(n), key=lambda j: (-ious[j], j))[:k]
            xs = []
            for j in bag:
                t = _encode(b, anc[j], w)
                sl1 = sum(_smooth_l1(rg[j][q] - t[q], beta) for q in range(4))
                xs.append(sig(lg[j][lab]) * math.exp(-reg_weight * sl1))
            ws = [1.0 / max(1.0 - x, 1e-12) for x in xs]
            pos_terms.append(-math.log(sum(a * x for a, x in zip(ws, xs)) / sum(ws)))
            diou = [_iou(b, d) for d in decoded]
            t2 = max(max(diou), t1 + 1e-12)
            for j in range(n):
                p = min(max((diou[j] - t1) / (t2 - t1), 0.0), 1.0)
                p_plus[j][lab] = max(p_plus[j][lab], p)
        for j in range(n):
            for cc in range(c):
                p = sig(lg[j][cc]) * (1.0 - p_plus[j][cc])
                neg += -(p ** gamma) * math.log(1.0 - p)
    l_pos = sum(pos_terms) / max(1, n_obj)
    l_neg = neg / max(1, n_obj * k)
    return alpha * l_pos + (1 - alpha) * l_neg, l_pos, l_neg


def _random_problem(seed, n_img=2, n_anchor=30, c=3, with_empty=True):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n_anchor, 2, generator=g, dtype=F64) * 60
    wh = 8 + torch.rand(n_anchor, 2, generator=g, dtype=F64) * 30
    anchors = torch.cat([xy, xy + wh], 1)
    targets = []
    for i in range(n_img):
        m = 0 if (with_empty and i == n_img - 1) else int(torch.randint(1, 4, (1,), generator=g))
        bxy = torch.rand(m, 2, generator=g, dtype=F64) * 50
        bwh = 10 + torch.rand(m, 2, generator=g, dtype=F64) * 30
        targets.append({"boxes": torch.cat([bxy, bxy + bwh], 1),
                        "labels": torch.randint(0, c, (m,), generator=g)})
    logits = torch.randn(n_img, n_anchor, c, generator=g, dtype=F64)
    reg = 0.3 * torch.randn(n_img, n_anchor, 4, generator=g, dtype=F64)
    return logits, reg, anchors, targets


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weights", [(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0)])
def test_loss_matches_loop_transcription(seed, weights):
    logits, reg, anchors, targets = _random_problem(seed)
    # pull a few regressions onto their object so that P_plus is not all zero
    coder = BoxCoder(weights)
    b0 = targets[0]["boxes"][:1]
    reg[0, :5] = coder.encode(b0.expand(5, 4), anchors[:5]) + 0.01
    out = mal_loss(logits, reg, anchors, targets, box_coder=coder, pre_anchor_topk=7)
    ref = _reference_loss(logits.tolist(), reg.tolist(), [anchors.tolist()] * 2,
                          [(t["boxes"].tolist(), t["labels"].tolist()) for t in targets],
                          weights, 7)
    got = (float(out["loss"]), float(out["positive"]), float(out["negative"]))
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_positive_loss_on_constructed_bag():
    # two anchors, exact regression on the first: x = (sigmoid(l0), sigmoid(l1) * P_loc)
    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5]], dtype=F64)
    gt = torch.tensor([[0.0, 0, 10, 10]], dtype=F64)
    coder = BoxCoder("rcnn")
    reg = torch.zeros(1, 2, 4, dtype=F64)
    logits = torch.tensor([[[0.5], [-1.0]]], dtype=F64)
    target1 = coder.encode(gt, anchors[1:])[0]          # (0, 25/... ) by the coder formula
    sl1 = sum(_smooth_l1(float(t), 0.11) for t in target1)
    x = torch.tensor([1 / (1 + math.exp(-0.5)), 1 / (1 + math.exp(1.0)) * math.exp(-0.75 * sl1)],
                     dtype=F64)
    out = mal_loss(logits, reg, anchors, [{"boxes": gt, "labels": torch.tensor([0])}],
                   box_coder=coder, pre_anchor_topk=2)
    assert float(out["positive"]) == pytest.approx(-math.log(float(mean_max(x))), rel=1e-12)


def test_negative_loss_zero_when_p_plus_is_one():
    anchors = torch.tensor([[0.0, 0, 10, 10], [2, 2, 14, 12], [5, 0, 20, 9]], dtype=F64)
    gt = torch.tensor([[1.0, 1, 11, 11]], dtype=F64)
    coder = BoxCoder("rcnn")
    reg = coder.encode(gt.expand(3, 4), anchors)[None]   # every anchor decodes to the object
    logits = torch.tensor([[[2.0], [-1.0], [0.3]]], dtype=F64)
    out = mal_loss(logits, reg, anchors, [{"boxes": gt, "labels": torch.tensor([0])}],
                   box_coder=coder, pre_anchor_topk=2)
    assert float(out["negative"]) == 0.0


def test_p_plus_one_at_max_iou_and_zero_below_threshold():
    anchors = torch.tensor([[0.0, 0, 10, 10]] * 3, dtype=F64)
    gt = torch.tensor([[0.0, 0, 10, 10]], dtype=F64)
    # decoded boxes at IoU 0.9 (the max), 0.7, 0.5 with the object
    decoded = torch.tensor([[0.0, 0, 10, 9], [0, 0, 10, 7], [0, 0, 10, 5]], dtype=F64)
    coder = BoxCoder("rcnn")
    reg = coder.encode(decoded, anchors)
    p = _positive_plus(reg, anchors, gt, torch.tensor([1]), coder, 2, 0.6)
    assert p[:, 0].tolist() == [0.0, 0.0, 0.0]
    assert p[0, 1] == pytest.approx(1.0, abs=1e-12)
    assert p[1, 1] == pytest.approx((0.7 - 0.6) / (0.9 - 0.6), rel=1e-9)
    assert float(p[2, 1]) == 0.0


def test_background_term_equals_torchvision_focal_loss():
    torch.manual_seed(1)
    logits = torch.randn(1, 50, 3, dtype=F64) * 4
    reg = torch.zeros(1, 50, 4, dtype=F64)
    anchors = torch.tensor([[0.0, 0, 8, 8]] * 50, dtype=F64)
    empty = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    out = mal_loss(logits, reg, anchors, empty, box_coder=BoxCoder("rcnn"), pre_anchor_topk=5)
    peer = sigmoid_focal_loss(logits, torch.zeros_like(logits), alpha=-1, gamma=2.0,
                              reduction="sum")
    assert float(out["negative"]) == pytest.approx(float(peer), rel=1e-10)


def test_object_free_image_changes_only_the_negative_term():
    logits, reg, anchors, targets = _random_problem(7, n_img=2, with_empty=True)
    coder = BoxCoder("rcnn")
    one = mal_loss(logits[:1], reg[:1], anchors, targets[:1], box_coder=coder, pre_anchor_topk=5)
    two = mal_loss(logits, reg, anchors, targets, box_coder=coder, pre_anchor_topk=5)
    assert float(two["positive"]) == float(one["positive"])
    n_obj = len(targets[0]["labels"])
    extra = sigmoid_focal_loss(logits[1], torch.zeros_like(logits[1]), alpha=-1,
                               reduction="sum") / (n_obj * 5)
    assert float(two["negative"]) == pytest.approx(float(one["negative"] + extra), rel=1e-10)


def test_batch_without_objects():
    logits = torch.randn(2, 20, 2, dtype=F64, requires_grad=True)
    reg = torch.randn(2, 20, 4, dtype=F64, requires_grad=True)
    anchors = torch.tensor([[0.0, 0, 8, 8]] * 20, dtype=F64)
    empty = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}] * 2
    out = mal_loss(logits, reg, anchors, empty, box_coder=BoxCoder("rcnn"), pre_anchor_topk=4)
    assert float(out["positive"].detach()) == 0.0
    p = torch.sigmoid(logits.detach())
    assert out["negative"].item() == pytest.approx(float((-(p ** 2) * torch.log1p(-p)).sum()),
                                                   rel=1e-10)
    out["loss"].backward()
    assert reg.grad is not None and float(reg.grad.abs().max()) == 0.0
    assert torch.isfinite(logits.grad).all()


def test_extreme_logits_stay_finite():
    logits, reg, anchors, targets = _random_problem(3)
    for scale in (1e3, 1e30):
        out = mal_loss((logits * scale).float(), reg.float(), anchors.float(), targets,
                       box_coder=BoxCoder("rcnn"), pre_anchor_topk=5)
        assert all(bool(torch.isfinite(v)) for v in out.values())


# ----------------------------------------------------------------------------- torchvision
def test_torchvision_retinanet_path_256():
    from torchvision.models.detection import retinanet_resnet50_fpn

    from normgraph.nn.detection import (check_same_coder, retinanet_detect, retinanet_mal_loss,
                                        torchvision_coder)
    from normgraph.nn.detection._mal_torchvision import _run_parts

    torch.manual_seed(0)
    model = retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=3,
                                   min_size=256, max_size=256)
    images = [torch.rand(3, 256, 256) for _ in range(2)]
    targets = [{"boxes": torch.tensor([[20.0, 30, 120, 140]]), "labels": torch.tensor([2])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    _, _, _, out, anchors = _run_parts(model, images, targets, 0.0)
    assert out["cls_logits"].shape == (2, 12276, 3)
    assert out["bbox_regression"].shape == (2, 12276, 4) and anchors[0].shape == (12276, 4)
    loss = MALLoss(torchvision_coder(model))
    assert loss.box_coder.weights == (1.0, 1.0, 1.0, 1.0)
    res = retinanet_mal_loss(model, images, targets, loss, ratio=0.3)
    res["loss"].backward()
    grad = model.head.regression_head.bbox_reg.weight.grad
    assert torch.isfinite(res["loss"]) and grad is not None and float(grad.abs().sum()) > 0
    with pytest.raises(ValueError, match=r"\(10.0, 10.0, 5.0, 5.0\).*\(1.0, 1.0, 1.0, 1.0\)"):
        check_same_coder(MALLoss(BoxCoder("rcnn")), model)
    with pytest.raises(ValueError, match="box coder weights"):
        retinanet_mal_loss(model, images, targets, MALLoss(BoxCoder("rcnn")))
    dets = retinanet_detect(model.eval(), images[:1])
    assert set(dets[0]) == {"boxes", "scores", "labels"}


# ----------------------------------------------------------------------------- depression
def _reference_mask(f, ratio):
    b, c, h, w = f.shape
    out = np.ones((b, 1, h, w))
    fn = f.numpy()
    for i in range(b):
        g = [fn[i, ch].mean() for ch in range(c)]
        act = [(sum(fn[i, ch, y, x] * g[ch] for ch in range(c)), y, x)
               for y in range(h) for x in range(w)]
        for _, y, x in sorted(act, reverse=True)[:math.floor(h * w * ratio)]:
            out[i, 0, y, x] = 0.0
    return out


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.25, 0.5, 0.95])
def test_depression_counts_and_values(ratio):
    torch.manual_seed(2)
    f = torch.randn(2, 3, 5, 7, dtype=F64)
    mask = depression_mask(f, ratio)
    assert (mask == 0).sum(dim=(1, 2, 3)).tolist() == [math.floor(35 * ratio)] * 2
    np.testing.assert_array_equal(mask.numpy(), _reference_mask(f, ratio))
    out = depress_features(f, ratio)
    keep = mask.expand_as(f) == 1
    assert torch.equal(out[keep], f[keep])
    assert torch.equal(out[~keep], 0.25 * f[~keep])
    if ratio == 0.0:
        assert torch.equal(out, f)


def test_depression_module_and_gradient():
    f = torch.randn(1, 2, 4, 4, dtype=F64, requires_grad=True)
    dep = FeatureDepression()
    dep.ratio = 0.5
    dep(f).sum().backward()
    mask = depression_mask(f, 0.5)
    assert torch.equal(f.grad, (mask + 0.25 * (1 - mask)).expand_as(f))
    assert torch.equal(dep.eval()(f), f)


def test_rise_fall_schedule_values():
    total = 1200
    got = [depression_ratio(t * total // 12, total) for t in range(12)]
    assert got == pytest.approx([0, .1, .2, .3, .4, .5, .5, .4, .3, .2, .1, 0], abs=1e-15)
    assert depression_ratio(total - 1, total) == 0.0
    assert depression_ratio(99, total) == 0.0 and depression_ratio(100, total) == 0.1
    assert depression_ratio(650, total, max_ratio=0.25) == pytest.approx(0.25)
    assert depression_ratio(3, total, schedule="constant") == 0.5


# ----------------------------------------------------------------------------- tiny RetinaNet
def test_tiny_retinanet_decodes_with_its_own_coder():
    net = TinyRetinaNet(num_classes=2, width=8).eval()
    images = torch.zeros(1, 1, 96, 96)
    with torch.no_grad():
        real = net(images)
    anchors = real["anchors"]
    assert real["cls_logits"].shape == (1, (12 * 12 + 6 * 6) * 3, 2)
    assert net.detect(images)[0]["boxes"].shape == (0, 4)  # prior 0.02 < threshold 0.05
    gt = torch.tensor([[30.0, 20, 58, 52]])
    j = int(torch.argmax(torch.tensor([_iou(gt[0].tolist(), a) for a in anchors.tolist()])))
    logits = torch.full_like(real["cls_logits"], -10.0)
    logits[0, j, 1] = 3.0
    logits[0, j + 1, 1] = 2.0        # same cell, next scale: overlaps, removed by NMS
    reg = torch.zeros_like(real["bbox_regression"])
    reg[0, j] = net.box_coder.encode(gt, anchors[j:j + 1])[0]
    net.forward = lambda x: {"cls_logits": logits, "bbox_regression": reg, "anchors": anchors}
    dets = net.detect(images)[0]
    assert dets["labels"].tolist() == [1]
    assert torch.allclose(dets["boxes"], gt, atol=1e-4)
    assert float(dets["scores"][0]) == pytest.approx(1 / (1 + math.exp(-3.0)), rel=1e-6)


def test_focal_baseline_assignment():
    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 4.5], [30, 30, 40, 40]])
    gt = [{"boxes": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([1])}]
    logits = torch.zeros(1, 3, 2, requires_grad=True)
    out = retinanet_focal_loss(logits, torch.zeros(1, 3, 4), anchors, gt,
                               box_coder=BoxCoder("rcnn"))
    # anchor 0 positive (IoU 1), anchor 1 ignored (IoU 0.45), anchor 2 negative
    p = 0.5
    pos = 0.25 * (1 - p) ** 2 * -math.log(p) + 0.75 * p ** 2 * -math.log(1 - p)
    neg = 2 * 0.75 * p ** 2 * -math.log(1 - p)
    assert out["classification"].item() == pytest.approx(pos + neg, rel=1e-6)
    assert float(out["regression"]) == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mal_loss_cuda_matches_cpu():
    logits, reg, anchors, targets = _random_problem(5)
    coder = BoxCoder("rcnn")
    cpu = mal_loss(logits, reg, anchors, targets, box_coder=coder, pre_anchor_topk=5)
    gpu = mal_loss(logits.cuda(), reg.cuda(), anchors.cuda(), targets, box_coder=coder,
                   pre_anchor_topk=5)
    assert float(gpu["loss"]) == pytest.approx(float(cpu["loss"]), rel=1e-9)
