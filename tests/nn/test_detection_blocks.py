"""Box ops, BoxCoder, roi_align conventions, CorLoc and proposals (spec §0, §5.3) against
independent references (Python loops over numbers, pixel counting, hand counts)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import roi_align

from normgraph.nn.detection import (
    BoxCoder,
    box_area,
    box_iou,
    corloc,
    horizontal_flip_boxes,
    jittered_proposals,
    nms,
    sliding_window_proposals,
)


def _iou_loop(a, b, plus=0.0):
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]) + plus)
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]) + plus)
            inter = iw * ih
            union = ((p[2] - p[0] + plus) * (p[3] - p[1] + plus)
                     + (q[2] - q[0] + plus) * (q[3] - q[1] + plus) - inter)
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def _random_boxes(rng, n, scale=50.0):
    xy = rng.uniform(0, scale, (n, 2))
    wh = rng.uniform(0, scale / 2, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def test_box_iou_matches_loop_with_special_cases():
    rng = np.random.default_rng(0)
    a = _random_boxes(rng, 46)
    extra = np.array([[0, 0, 10, 10], [2, 2, 5, 5], [0, 0, 10, 10], [100, 100, 110, 110.]])
    a = np.concatenate([a, extra])  # containment, identical, zero overlap
    got = box_iou(a, a).numpy()
    np.testing.assert_allclose(got, _iou_loop(a, a), atol=1e-6)
    assert got[46, 48] == 1.0 and got[46, 49] == 0.0
    assert np.isclose(got[46, 47], 9 / 100)


def test_box_iou_degenerate_is_zero_not_nan():
    z = [[3.0, 3, 3, 3]]
    assert box_iou(z, z).item() == 0.0
    assert box_iou(z, [[0.0, 0, 10, 10]]).item() == 0.0


def test_legacy_plus_one_by_pixel_counting():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 12, (20, 2))
    a = np.concatenate([a, a + rng.integers(0, 6, (20, 2))], axis=1).astype(float)

    def pixels(b):
        m = np.zeros((20, 20), bool)
        m[int(b[1]):int(b[3]) + 1, int(b[0]):int(b[2]) + 1] = True
        return m

    got = box_iou(a, a, legacy_plus_one=True).numpy()
    for i in range(20):
        assert box_area(a[i:i + 1], legacy_plus_one=True).item() == pixels(a[i]).sum()
        for j in range(20):
            pi, pj = pixels(a[i]), pixels(a[j])
            assert got[i, j] == pytest.approx((pi & pj).sum() / (pi | pj).sum(), abs=1e-12)


def _greedy_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    iou = _iou_loop(boxes, boxes)
    keep = []
    for i in order:
        if all(iou[i, k] <= thr for k in keep):
            keep.append(i)
    return keep


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), thr=st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]))
def test_nms_matches_brute_force_greedy(seed, thr):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 25))
    boxes = _random_boxes(rng, n, scale=30.0)
    scores = rng.integers(0, 5, n).astype(float)  # many ties: broken by index
    got = nms(torch.tensor(boxes), torch.tensor(scores), thr).tolist()
    assert got == _greedy_nms(boxes, scores, thr)


def test_nms_empty():
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0


def test_roi_align_ramp_and_constant():
    a, b, c = 0.7, -0.3, 2.0
    h, w = 8, 10
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    feat = (a * xs + b * ys + c)[None, None]
    box = [1.0, 2.0, 7.0, 6.0]
    out = roi_align(feat, torch.tensor([[0.0, *box]], dtype=torch.float64), (2, 3),
                    spatial_scale=1.0, sampling_ratio=2, aligned=True)[0, 0]
    # aligned=True: pixel centres at integer coordinates after the half-pixel shift
    x1, y1, x2, y2 = (v - 0.5 for v in box)
    for i in range(2):
        for j in range(3):
            cx = x1 + (j + 0.5) * (x2 - x1) / 3
            cy = y1 + (i + 0.5) * (y2 - y1) / 2
            assert out[i, j].item() == pytest.approx(a * cx + b * cy + c, abs=1e-9)
    const = roi_align(torch.full((1, 2, 6, 6), 3.5), torch.tensor([[0.0, 1, 1, 4, 5]]), 4,
                      sampling_ratio=2, aligned=True)
    assert torch.allclose(const, torch.full_like(const, 3.5))


def _bilinear_roi_align(feat, box, k, ratio=2, offset=0.5):
    """Pure-torch RoIAlign (one box), the reference of the flip-consistency test."""
    ch, h, w = feat.shape
    x1, y1, x2, y2 = (v - offset for v in box)
    out = torch.zeros(ch, k, k, dtype=feat.dtype)
    for i in range(k):
        for j in range(k):
            acc = torch.zeros(ch, dtype=feat.dtype)
            for si in range(ratio):
                for sj in range(ratio):
                    y = y1 + (i + (si + 0.5) / ratio) * (y2 - y1) / k
                    x = x1 + (j + (sj + 0.5) / ratio) * (x2 - x1) / k
                    y, x = min(max(y, 0.0), h - 1.0), min(max(x, 0.0), w - 1.0)
                    y0, x0 = int(math.floor(y)), int(math.floor(x))
                    y1_, x1_ = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
                    ly, lx = y - y0, x - x0
                    acc += ((1 - ly) * (1 - lx) * feat[:, y0, x0] + (1 - ly) * lx * feat[:, y0, x1_]
                            + ly * (1 - lx) * feat[:, y1_, x0] + ly * lx * feat[:, y1_, x1_])
            out[:, i, j] = acc / ratio ** 2
    return out


def test_flip_consistency_of_roi_features():
    torch.manual_seed(0)
    feat = torch.rand(3, 20, 30, dtype=torch.float64)
    W = 30.0
    boxes = torch.tensor([[3.2, 4.1, 17.5, 15.3], [10.0, 2.0, 26.7, 12.9]], dtype=torch.float64)
    flipped = horizontal_flip_boxes(boxes, W)
    assert torch.allclose(horizontal_flip_boxes(flipped, W), boxes, rtol=0, atol=1e-12)
    rois = torch.cat([torch.zeros(2, 1, dtype=torch.float64), boxes], 1)
    rois_f = torch.cat([torch.zeros(2, 1, dtype=torch.float64), flipped], 1)
    fmap = torch.flip(feat, dims=(2,))[None]
    orig = roi_align(feat[None], rois, 7, sampling_ratio=2, aligned=True)
    mirrored = roi_align(fmap, rois_f, 7, sampling_ratio=2, aligned=True)
    assert torch.allclose(torch.flip(mirrored, dims=(3,)), orig, atol=1e-7)
    ref = _bilinear_roi_align(feat, boxes[0].tolist(), 7)
    assert torch.allclose(orig[0], ref, atol=1e-10)
    # aligned=False, or the legacy W - x - 1 flip, breaks the equality
    bad = roi_align(fmap, rois_f, 7, sampling_ratio=2, aligned=False)
    plain = roi_align(feat[None], rois, 7, sampling_ratio=2, aligned=False)
    assert (torch.flip(bad, dims=(3,)) - plain).abs().max() > 1e-3
    legacy = torch.cat([torch.zeros(2, 1, dtype=torch.float64),
                        horizontal_flip_boxes(boxes, W, legacy=True)], 1)
    bad2 = roi_align(fmap, legacy, 7, sampling_ratio=2, aligned=True)
    assert (torch.flip(bad2, dims=(3,)) - orig).abs().max() > 1e-3


@pytest.mark.parametrize("weights", ["torchvision_retinanet", "rcnn", (2.0, 3.0, 0.5, 1.5)])
def test_box_coder_round_trip(weights):
    rng = np.random.default_rng(2)
    p = torch.tensor(_random_boxes(rng, 50) + [0, 0, 1, 1])
    g = torch.tensor(_random_boxes(rng, 50) + [0, 0, 1, 1])
    coder = BoxCoder(weights)
    assert torch.allclose(coder.decode(coder.encode(g, p), p), g, atol=1e-5)


def test_flowtracker_variances_equal_rcnn_coder():
    rng = np.random.default_rng(3)
    p = _random_boxes(rng, 20) + [0, 0, 1, 1]
    g = _random_boxes(rng, 20) + [0, 0, 1, 1]
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    dcx = (g[:, 0] + g[:, 2] - p[:, 0] - p[:, 2]) / 2
    dcy = (g[:, 1] + g[:, 3] - p[:, 1] - p[:, 3]) / 2
    ssd = np.stack([dcx / (0.1 * pw), dcy / (0.1 * ph), np.log(gw / pw) / 0.2,
                    np.log(gh / ph) / 0.2], 1)
    got = BoxCoder("flowtracker").encode(torch.tensor(g), torch.tensor(p)).numpy()
    np.testing.assert_allclose(got, ssd, rtol=1e-10)


def test_box_coder_clip_bounds_size():
    p = torch.tensor([[0.0, 0, 10, 10]])
    out = BoxCoder().decode(torch.tensor([[0.0, 0, 100, 100]]), p)
    assert out[0, 2] - out[0, 0] == pytest.approx(10 * 1000 / 16)


def test_corloc_hand_counted():
    # 3 images x 2 classes; class 1 has no positive image
    gts = [{"boxes": [[0, 0, 10, 10]], "labels": [0]},
           {"boxes": [[20, 20, 30, 30]], "labels": [0]},
           {"boxes": [[0, 0, 10, 10], [40, 40, 50, 50]], "labels": [0, 0]}]
    props = [np.array([[0, 0, 10, 10], [0, 0, 30, 30]]),
             np.array([[20, 20, 30, 30], [0, 0, 10, 10]]),
             np.array([[41, 41, 51, 51], [0, 0, 2, 2]])]
    scores = [np.array([[0.9, 0.1], [0.5, 0.9]]),    # top = hit
              np.array([[0.2, 0.1], [0.8, 0.2]]),    # top = miss
              np.array([[0.7, 0.0], [0.1, 0.0]])]    # top hits the second GT box
    res = corloc(scores, props, gts, [[1, 0], [1, 0], [1, 0]])
    assert res.mean == pytest.approx(2 / 3) and res.pooled == pytest.approx(2 / 3)
    assert np.isnan(res.per_class[1])
    # class 1 positive in image 0 (no GT of class 1 there): counts as a miss
    res = corloc(scores, props, gts, [[1, 1], [1, 0], [1, 0]])
    assert res.per_class.tolist() == pytest.approx([2 / 3, 0.0])
    assert res.mean == pytest.approx(1 / 3) and res.pooled == pytest.approx(2 / 4)


def test_sliding_windows_96():
    b = sliding_window_proposals(96, 96)
    assert b.shape == (162, 4)
    assert (b[:, :2] >= 0).all() and (b[:, 2] <= 96).all() and (b[:, 3] <= 96).all()
    shapes = {(int(w), int(h)) for w, h in zip(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])}
    assert shapes == {(24, 24), (34, 17), (17, 34), (32, 32), (45, 23), (23, 45), (48, 48),
                      (68, 34), (34, 68)}
    counts = [int((((b[:, 2] - b[:, 0]) == w) & ((b[:, 3] - b[:, 1]) == h)).sum()) for w, h in
              [(24, 24), (34, 17), (17, 34), (32, 32), (45, 23), (23, 45), (48, 48), (68, 34),
               (34, 68)]]
    assert counts == [25, 20, 20, 25, 20, 20, 16, 8, 8]
    assert len(sliding_window_proposals(96, 96, stride=8)) == 594
    assert b[0].tolist() == [4, 4, 28, 28] and b[1].tolist() == [4, 20, 28, 44]  # x-major, centred


def test_jittered_proposals_iou_range_and_seed():
    gt = np.array([[10, 10, 40, 40], [50, 20, 82, 60.]])
    a = jittered_proposals(gt, 96, 96, seed=5, image_index=2)
    assert a.shape == (60, 4)
    iou = np.array([box_iou(a[i:i + 1], gt[i // 30:i // 30 + 1]).item() for i in range(60)])
    assert ((iou >= 0.3) & (iou <= 0.9)).all()
    assert (a >= 0).all() and (a <= 96).all()
    np.testing.assert_array_equal(a, jittered_proposals(gt, 96, 96, seed=5, image_index=2))
    assert not np.array_equal(a, jittered_proposals(gt, 96, 96, seed=5, image_index=3))


_coord = st.floats(0, 100, allow_nan=False, width=64)
_box = st.tuples(_coord, _coord, st.floats(0, 40, width=64), st.floats(0, 40, width=64)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=60, deadline=None)
@given(a=st.lists(_box, min_size=1, max_size=6), b=st.lists(_box, min_size=1, max_size=6))
def test_box_iou_property(a, b):
    got = box_iou(a, b).numpy()
    np.testing.assert_allclose(got, _iou_loop(np.array(a), np.array(b)), atol=1e-9)
    assert np.isfinite(got).all() and (got >= 0).all() and (got <= 1 + 1e-12).all()
    np.testing.assert_allclose(box_iou(b, a).numpy(), got.T, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(p=_box, g=_box, weights=st.sampled_from(["torchvision_retinanet", "rcnn"]))
def test_box_coder_round_trip_property(p, g, weights):
    p = torch.tensor([p], dtype=torch.float64) + torch.tensor([0, 0, 1.0, 1.0])
    g = torch.tensor([g], dtype=torch.float64) + torch.tensor([0, 0, 1.0, 1.0])
    coder = BoxCoder(weights)
    assert torch.allclose(coder.decode(coder.encode(g, p), p), g, atol=1e-6)
