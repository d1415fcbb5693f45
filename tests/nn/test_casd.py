"""CASD (spec §1, §5.3): MIL loss, per-view softmax, mining, attention, IW/LW, inverted
attention, the weight schedule and its bug regression, and the multi-view model."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from normgraph.nn.detection import (
    CASD,
    attention_map,
    box_iou,
    casd_ramp,
    flip_attention,
    inverted_attention_mask,
    iw_loss,
    lw_loss,
    make_views,
    mil_image_scores,
    mil_loss,
    mine_pseudo_labels,
    proposal_softmax,
)
from normgraph.nn.detection._casd_mining import _top_cluster


# ---- MIL stream ---------------------------------------------------------------------------

def test_mil_hinge_hand_computed():
    s_cls = torch.tensor([[2.0, -1.0], [0.0, 3.0]])
    s_det = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])  # p_det: [.5, .5], [.75, .25]
    phi = mil_image_scores(s_cls, s_det)
    assert torch.allclose(phi, torch.tensor([[1.0, -0.75 + 0.75]]), atol=1e-6)
    # y = (+1, -1): max(0, 1 - 1) + max(0, 1 + 0) = 1, divided by C = 2
    assert mil_loss(s_cls, s_det, [1, 0]).item() == pytest.approx(0.5)
    assert mil_loss(s_cls, s_det, [1, -1], label_format="pm1").item() == pytest.approx(0.5)
    big = torch.tensor([[10.0, -10.0], [10.0, -10.0]])
    assert mil_loss(big, torch.zeros(2, 2), [1, 0]).item() == 0.0


def test_mil_wsddn_bce_hand_computed():
    s_cls = torch.tensor([[2.0, -1.0], [0.0, 3.0]], dtype=torch.float64)
    s_det = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]], dtype=torch.float64)
    sm = np.exp([[2, -1], [0, 3]]) / np.exp([[2, -1], [0, 3]]).sum(1, keepdims=True)
    phi = np.array([sm[0, 0] * 0.5 + sm[1, 0] * 0.5, sm[0, 1] * 0.75 + sm[1, 1] * 0.25])
    got = mil_image_scores(s_cls, s_det, mil_score="wsddn_bce")[0].numpy()
    np.testing.assert_allclose(got, phi, rtol=1e-12)
    ref = -(np.log(phi[0]) + np.log(1 - phi[1])) / 2
    assert mil_loss(s_cls, s_det, [1, 0], mil_score="wsddn_bce").item() == pytest.approx(ref)


def test_proposal_softmax_per_view():
    torch.manual_seed(0)
    s = torch.randn(3 * 5, 4)
    p = proposal_softmax(s, n_views=3).reshape(3, 5, 4)
    assert torch.allclose(p.sum(1), torch.ones(3, 4))
    mixed = torch.softmax(s, 0).reshape(3, 5, 4)
    assert not torch.allclose(mixed.sum(1), torch.ones(3, 4))  # views must not mix
    # multi-view MIL score = per-view scores stacked
    c = torch.randn(15, 4)
    phi = mil_image_scores(c, s, n_views=3)
    for v in range(3):
        assert torch.allclose(phi[v], mil_image_scores(c[5 * v:5 * v + 5], s[5 * v:5 * v + 5])[0])


# ---- mining -------------------------------------------------------------------------------

def _scene(bg_level=None, drop_b=False):
    a = np.array([10, 10, 50, 50.0])
    b = np.array([110, 10, 150, 50.0])
    boxes, sc = [], []
    for dx, dy in [(0, 0), (9, 0), (-9, 0), (0, 9), (0, -9), (6, 6), (-6, -6)]:
        boxes.append(a + [dx, dy, dx, dy])
        sc.append(0.9)
    shifts_b = [(0, 0), (9, 0), (-9, 0), (0, 9), (0, -9), (6, 6)]
    for dx, dy in shifts_b[:-1] if drop_b else shifts_b:
        boxes.append(b + [dx, dy, dx, dy])
        sc.append(0.8)
    for box, s in [([10, 10, 71.54, 50], 0.3), ([10, 10, 90, 50], 0.3),
                   ([31.54, 10, 71.54, 50], 0.3), ([46.19, 10, 86.19, 50], 0.05)]:
        boxes.append(np.array(box))
        sc.append(s)
    for i in range(16):
        x, y = 200 + 20 * (i % 5), 100 + 20 * (i // 5)
        boxes.append(np.array([x, y, x + 30, y + 30.0]))
        sc.append(0.05 if i < 9 else 0.3)
    sc = np.array(sc)
    if bg_level is not None:
        sc[sc < 0.5] = bg_level
    return torch.tensor(np.array(boxes)), torch.tensor(sc)[:, None]


def test_pcl_graph_mining_scene():
    boxes, q = _scene()
    assert len(boxes) == 33
    kept = _top_cluster(q[:, 0].numpy())
    assert sorted(kept.tolist()) == list(range(13))  # A and B only
    res = mine_pseudo_labels(q, boxes, [1])
    assert res.gt_boxes.tolist() == [[10, 10, 50, 50], [110, 10, 150, 50]]
    assert res.gt_scores.tolist() == pytest.approx([0.9, 0.8])
    assert res.proposal_indices.tolist() == [0, 7]
    iou = box_iou(boxes[13:17], boxes[:1]).ravel()
    assert iou.numpy() == pytest.approx([0.65, 0.5, 0.3, 0.05], abs=1e-3)
    assert res.labels[13:17].tolist() == [1, -1, 0, -1]  # 0.65 fg, 0.5 ign, 0.3 bg, 0.05 ign
    copies = box_iou(boxes[1:7], boxes[:1]).ravel().numpy()
    for iou_c, lab in zip(copies, res.labels[1:7].tolist()):
        assert lab == (1 if iou_c > 0.6 else -1)
    assert set(np.round(copies, 3)) == {0.633, 0.566}


def test_pcl_graph_variants():
    boxes, q = _scene(bg_level=0.1)  # three score levels: k-means keeps the 0.9 boxes alone
    assert mine_pseudo_labels(q, boxes, [1]).gt_boxes.tolist() == [[10, 10, 50, 50]]
    boxes, q = _scene(drop_b=True)  # 5 uncovered nodes end the loop
    assert mine_pseudo_labels(q, boxes, [1]).gt_boxes.tolist() == [[10, 10, 50, 50]]


def test_pcl_graph_views_are_averaged():
    boxes, q = _scene()
    q4 = torch.cat([q + 0.05, q - 0.05, q, q])
    res = mine_pseudo_labels(q4, boxes, [1], n_views=4)
    assert res.gt_boxes.tolist() == [[10, 10, 50, 50], [110, 10, 150, 50]]


def _oicr_boxes():
    # 0: top of class 0; 1: top of class 1; 2: IoU exactly 0.5 with box 0;
    # 3: IoU 0.49 with box 0; 4: far; 5: IoU 1/3 with box 1
    return torch.tensor([[0, 0, 10, 10], [50, 50, 60, 60], [0, 0, 10, 20], [0, 0, 10, 20.4082],
                         [100, 100, 110, 110], [55, 50, 65, 60.0]], dtype=torch.float64)


def test_oicr_mining():
    boxes = _oicr_boxes()
    iou = box_iou(boxes, boxes[:2])
    assert iou[2, 0].item() == 0.5 and iou[3, 0].item() == pytest.approx(0.49, abs=1e-5)
    q = torch.tensor([[0.9, 0.1], [0.2, 0.7], [0.3, 0.1], [0.1, 0.1], [0.05, 0.05],
                      [0.1, 0.2]], dtype=torch.float64)
    res = mine_pseudo_labels(q, boxes, [1, 1], mode="oicr")
    assert res.proposal_indices.tolist() == [0, 1]
    assert res.gt_scores.tolist() == pytest.approx([0.9, 0.7])
    assert res.labels.tolist() == [1, 2, 1, 0, 0, 0]  # nothing ignored
    assert res.weights.tolist() == pytest.approx([0.9, 0.7, 0.9, 0.9, 0.9, 0.7])
    only_one = mine_pseudo_labels(q, boxes, [0, 1], mode="oicr")
    assert only_one.labels.tolist() == [0, 2, 0, 0, 0, 0]


def test_oicr_exclusive_top1():
    boxes = _oicr_boxes()
    q = torch.tensor([[0.9, 0.8], [0.2, 0.7], [0.3, 0.1], [0.1, 0.1], [0.05, 0.05],
                      [0.1, 0.2]], dtype=torch.float64)
    shared = mine_pseudo_labels(q, boxes, [1, 1], mode="oicr")
    assert shared.proposal_indices.tolist() == [0, 0]
    excl = mine_pseudo_labels(q, boxes, [1, 1], mode="oicr", exclusive_top1=True)
    assert excl.proposal_indices.tolist() == [0, 1]
    assert excl.gt_classes.tolist() == [0, 1]


# ---- attention, IW and LW -----------------------------------------------------------------

def test_attention_map_range():
    assert torch.equal(attention_map(torch.full((2, 5, 7, 7), 3.0)), torch.full((2, 7, 7), 0.5))
    torch.manual_seed(1)
    a = attention_map(torch.randn(10, 8, 7, 7))
    assert a.min() >= 0.5 and a.max() <= 1 / (1 + math.exp(-1)) + 1e-6
    assert a.flatten(1).max(1).values.sub(0.7311).abs().max() < 1e-4
    m = attention_map(torch.randn(4, 3, 7, 7), norm="minmax")
    assert m.flatten(1).min(1).values.abs().max() < 1e-6


def test_iw_loss_zero_when_views_agree_and_teacher_detached():
    torch.manual_seed(2)
    f1 = torch.randn(3, 6, 7, 7)
    f2 = torch.flip(f1, dims=(3,))
    maps = [attention_map(f) for f in (f1, f2, f1.clone(), f2.clone())]
    assert iw_loss(maps).item() == 0.0
    raw = [m.clone().requires_grad_(True) for m in maps]
    with torch.no_grad():
        raw[2][0, 3, 3] += 0.2  # view 3 now holds the maximum at that cell
    loss = iw_loss(raw)
    assert loss.item() > 0
    loss.backward()
    # the teacher (max) is detached: the view holding the max gets no gradient there
    assert raw[2].grad[0, 3, 3].item() == 0.0
    assert raw[0].grad[0, 3, 3].item() < 0  # the others are pulled up towards it


def test_lw_loss():
    a, b = torch.rand(2, 7, 7), torch.rand(2, 7, 7)
    assert lw_loss([a, a.clone()]).item() == 0.0
    assert lw_loss([a, b]).item() == pytest.approx(
        (((a - torch.maximum(a, b)) ** 2).mean() + ((b - torch.maximum(a, b)) ** 2).mean()).item())
    assert torch.equal(flip_attention(flip_attention(a)), a)


# ---- inverted attention -------------------------------------------------------------------

def test_inverted_attention_counts():
    g = torch.Generator().manual_seed(0)
    n_fg, n_bg = 60, 90
    att = torch.rand(n_fg + n_bg + 5, 7, 7, generator=g)
    labels = torch.cat([torch.ones(n_fg, dtype=torch.int64), torch.zeros(n_bg, dtype=torch.int64),
                        torch.full((5,), -1)])
    drop = torch.rand(len(labels), generator=g)
    mask = inverted_attention_mask(att, labels, drop, th_l=25, th_s=16, generator=g)
    masked = (mask == 0).flatten(1).any(1)
    assert int(masked[:n_fg].sum()) == round(n_fg / 6)  # exactly 1/6 of the fg RoIs
    assert int(masked[n_fg:n_fg + n_bg].sum()) == round(n_bg / 18)
    assert not masked[-5:].any()
    for r in torch.nonzero(masked).ravel().tolist():
        zeros = torch.nonzero(mask[r].flatten() == 0).ravel()
        assert zeros.numel() == 16
        top25 = set(torch.sort(att[r].flatten(), descending=True).indices[:25].tolist())
        assert set(zeros.tolist()) <= top25
    for r in torch.nonzero(~masked).ravel().tolist():
        assert torch.equal(mask[r], torch.ones(7, 7))
    # the chosen fg RoIs are those with the largest drop
    top = set(torch.sort(drop[:n_fg], descending=True).indices[:10].tolist())
    assert set(torch.nonzero(masked[:n_fg]).ravel().tolist()) == top


# ---- weight schedule and the code-bug regression ------------------------------------------

def test_casd_ramp_values():
    assert casd_ramp(0, 1000) == pytest.approx(math.exp(-5))
    assert casd_ramp(225, 1000) == pytest.approx(math.exp(-1.25))
    assert casd_ramp(450, 1000) == 1.0 and casd_ramp(1000, 1000) == 1.0
    assert casd_ramp(800, 1000, ramp_down_iters=200) == 1.0
    assert casd_ramp(1000, 1000, ramp_down_iters=200) == pytest.approx(math.exp(-12.5))
    const = [casd_ramp(t, 1000, schedule="constant", start_iter=450) for t in (0, 449, 450, 999)]
    assert const == [0.0, 0.0, 1.0, 1.0]


def _tiny(**kw):
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
    kw.setdefault("hidden", 16)
    return CASD(backbone, 2, **kw)


def _sample_views(seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(1, 3, 32, 32, generator=g)
    xy = torch.rand(12, 2, generator=g) * 16
    boxes = torch.cat([xy, xy + 6 + torch.rand(12, 2, generator=g) * 10], 1)
    return make_views(img, boxes, (32, 24))


def test_iw_term_enters_every_iteration_with_ramp_weight():
    """The released code latched the IW flag off at t = 1 (master) or never set it (may30);
    here, on one model object over a whole run, the IW term is computed at every iteration
    and weighted by 0.1 r(t)."""
    net = _tiny(mining="oicr")
    opt = torch.optim.SGD(net.parameters(), lr=1e-2)
    views, vboxes, flipped = _sample_views()
    T = 12
    for t in range(T + 1):
        out = net.loss(views, vboxes, [1, 0], flipped=flipped, iteration=t, total_iterations=T)
        w = 0.1 * casd_ramp(t, T)
        assert out["casd_weight"].item() == pytest.approx(w)
        assert out["iw"].item() > 0
        expect = (out["mil"] + 0.1 * out["refine"] + w * (out["iw"] + out["lw"])) / 4
        assert out["loss"].item() == pytest.approx(expect.item(), rel=1e-6)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()


def test_model_pcl_lw_inverted_attention_backward():
    net = _tiny(lw_layers=(1, 3), refine_feature_dropout="inverted_attention", n_fg=4, n_bg=4)
    views, vboxes, flipped = _sample_views(1)
    out = net.loss(views, vboxes, [0, 1], flipped=flipped, generator=torch.Generator())
    out["loss"].backward()
    assert out["lw"].item() > 0
    assert net.refine[1].weight.grad is not None
    assert torch.isfinite(out["loss"])


def test_wrong_flip_flags_break_iw_agreement():
    """With a symmetric-free image, the aligned views agree better than misaligned ones."""
    net = _tiny(mining="oicr")
    views, vboxes, flipped = _sample_views(2)
    good = net.loss(views, vboxes, [1, 1], flipped=flipped)["iw"].item()
    bad = net.loss(views, vboxes, [1, 1], flipped=(False,) * 4)["iw"].item()
    assert good < bad


def test_predict_scores_average_views():
    net = _tiny().eval()
    g = torch.Generator().manual_seed(3)
    img = torch.rand(1, 3, 32, 32, generator=g)
    boxes = torch.tensor([[0.0, 0, 16, 16], [8, 8, 30, 28]])
    scores = net.predict_scores(img, boxes, (32, 24))
    views, vboxes, _ = make_views(img, boxes, (32, 24))
    manual = torch.stack([torch.softmax(net([v], [b])["refine"][0], 1)[:, 1:]
                          for v, b in zip(views, vboxes)]).mean(0)
    assert torch.allclose(scores, manual, atol=1e-6)
    det = net.detect(img, boxes, (32,), max_detections=3)
    assert det["boxes"].shape == (3, 4) and (det["scores"][:-1] >= det["scores"][1:]).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_loss_on_cuda_matches_cpu():
    net = _tiny(mining="oicr")
    views, vboxes, flipped = _sample_views()
    cpu = net.loss(views, vboxes, [1, 0], flipped=flipped)["loss"].item()
    gpu = net.cuda().loss([v.cuda() for v in views], [b.cuda() for b in vboxes], [1, 0],
                          flipped=flipped)["loss"].item()
    assert gpu == pytest.approx(cpu, rel=1e-4)


@settings(max_examples=50, deadline=None)
@given(total=st.integers(1, 5000), frac=st.floats(0, 1), down=st.integers(0, 5000),
       data=st.data())
def test_casd_ramp_property(total, frac, down, data):
    down = min(down, total)
    t = data.draw(st.integers(0, total))
    r = casd_ramp(t, total, ramp_up_frac=frac, ramp_down_iters=down)
    assert math.exp(-12.5) - 1e-15 <= r <= 1.0
    if t + 1 <= total and t + 1 < frac * total:
        assert casd_ramp(t + 1, total, ramp_up_frac=frac, ramp_down_iters=down) >= r
