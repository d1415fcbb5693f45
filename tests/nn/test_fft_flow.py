"""FFT flow crop and FlowTracker: coder round trip, analytic oracle, bin means (spec §5.3)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.nn.tracking import (FarnebackFlow, FlowTracker, check_flow, check_frame_divisor,
                                   clip_boxes, flow_boxes, flow_crop, flow_tracker_targets)


def _random_boxes(gen, n, size=200.0):
    xy = torch.rand(n, 2, generator=gen, dtype=torch.float64) * size
    wh = 5 + torch.rand(n, 2, generator=gen, dtype=torch.float64) * size / 2
    return torch.cat([xy, xy + wh], dim=1)


def _oracle_head(crops, boxes):
    """dx = mean(u) / (0.1 w), dy = mean(v) / (0.1 h), dw = dh = 0."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    u = crops[:, 0].mean(dim=(1, 2))
    v = crops[:, 1].mean(dim=(1, 2))
    return torch.stack([u / (0.1 * w), v / (0.1 * h), 0 * u, 0 * v], dim=1)


def test_targets_round_trip_and_variances():
    gen = torch.Generator().manual_seed(0)
    b0, b1 = _random_boxes(gen, 50), _random_boxes(gen, 50)
    t = flow_tracker_targets(b0, b1)
    # written with the variances (0.1, 0.2), symmetric in w/h
    w0, h0 = b0[:, 2] - b0[:, 0], b0[:, 3] - b0[:, 1]
    w1, h1 = b1[:, 2] - b1[:, 0], b1[:, 3] - b1[:, 1]
    dcx = (b1[:, 0] + b1[:, 2] - b0[:, 0] - b0[:, 2]) / 2
    dcy = (b1[:, 1] + b1[:, 3] - b0[:, 1] - b0[:, 3]) / 2
    ref = torch.stack([dcx / (0.1 * w0), dcy / (0.1 * h0), torch.log(w1 / w0) / 0.2,
                       torch.log(h1 / h0) / 0.2], dim=1)
    torch.testing.assert_close(t, ref, rtol=0, atol=1e-12)
    flow = torch.zeros(1, 2, 400, 400, dtype=torch.float64)
    back = flow_boxes(flow, b0, lambda crops, boxes: t)
    torch.testing.assert_close(back, b1, rtol=0, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(dx=st.floats(-40, 40), dy=st.floats(-40, 40), x=st.integers(0, 100), y=st.integers(0, 60),
       w=st.integers(3, 90), h=st.integers(3, 80))
def test_oracle_flow_tracker_constant_translation(dx, dy, x, y, w, h):
    flow = torch.empty(1, 2, 160, 200, dtype=torch.float64)
    flow[:, 0], flow[:, 1] = dx, dy
    box = torch.tensor([[x + 0.3, y + 0.7, x + w + 0.3, y + h + 0.7]], dtype=torch.float64)
    out = flow_boxes(flow, box, _oracle_head)
    torch.testing.assert_close(out, box + torch.tensor([dx, dy, dx, dy], dtype=torch.float64),
                               rtol=0, atol=1e-9)


def test_crop_constant_inside_box():
    flow = torch.randn(1, 2, 50, 60, dtype=torch.float64)
    flow[:, 0, 10:31, 5:26] = 3.0  # rows 10..30, cols 5..25 inclusive
    flow[:, 1, 10:31, 5:26] = -1.5
    crop = flow_crop(flow, torch.tensor([[5.9, 10.2, 25.99, 30.5]]))
    assert crop.shape == (1, 2, 25, 25)
    assert torch.all(crop[0, 0] == 3.0) and torch.all(crop[0, 1] == -1.5)


def _brute_bin_means(region, s):
    h, w = region.shape
    out = np.zeros((s, s))
    for i in range(s):
        r0, r1 = (i * h) // s, -(-((i + 1) * h) // s)
        for j in range(s):
            c0, c1 = (j * w) // s, -(-((j + 1) * w) // s)
            out[i, j] = np.mean([region[r, c] for r in range(r0, r1) for c in range(c0, c1)])
    return out


@pytest.mark.parametrize("box, size", [((3.7, 4.2, 40.9, 30.1), 25), ((0, 0, 10, 7), 25),
                                       ((12, 5, 70, 44), 7), ((-5, -3, 20, 15), 4)])
def test_crop_linear_ramp_bin_means(box, size):
    h, w = 50, 80
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    ramp_u, ramp_v = 0.7 * xs - 0.2 * ys + 1.0, -0.3 * xs + 1.1 * ys - 2.0
    flow = torch.from_numpy(np.stack([ramp_u, ramp_v]))[None]
    crop = flow_crop(flow, torch.tensor([box], dtype=torch.float64), size)[0].numpy()
    x1, x2 = (min(max(int(v), 0), w - 1) for v in (box[0], box[2]))
    y1, y2 = (min(max(int(v), 0), h - 1) for v in (box[1], box[3]))
    for c, ramp in enumerate((ramp_u, ramp_v)):
        ref = _brute_bin_means(ramp[y1:y2 + 1, x1:x2 + 1], size)
        np.testing.assert_allclose(crop[c], ref, rtol=0, atol=1e-12)


def test_crop_rois_with_batch_index():
    flow = torch.zeros(2, 2, 20, 20)
    flow[1] = 5.0
    rois = torch.tensor([[0, 1., 1, 10, 10], [1, 1., 1, 10, 10]])
    crop = flow_crop(flow, rois, 3)
    assert torch.all(crop[0] == 0) and torch.all(crop[1] == 5)
    with pytest.raises(ValueError, match="batch of 1"):
        flow_crop(flow, rois[:, 1:], 3)
    with pytest.raises(ValueError, match="batch index"):
        flow_crop(flow, torch.tensor([[2, 1., 1, 10, 10]]), 3)


def test_flow_tracker_channels():
    torch.manual_seed(0)
    ft = FlowTracker(hidden=16, crop_size=5)
    crops = torch.randn(4, 2, 5, 5)
    base = ft(crops)
    bumped_u = crops.clone()
    bumped_u[:, 0] += 1.0
    d = ft(bumped_u) - base
    assert torch.all(d[:, [1, 3]] == 0) and torch.all(d[:, [0, 2]] != 0)  # u feeds dx, dw
    bumped_v = crops.clone()
    bumped_v[:, 1] += 1.0
    d = ft(bumped_v) - base
    assert torch.all(d[:, [0, 2]] == 0) and torch.all(d[:, [1, 3]] != 0)  # v feeds dy, dh
    assert "hidden=16" in repr(ft)
    with pytest.raises(ValueError, match="crops must have shape"):
        ft(torch.zeros(4, 2, 6, 6))


def test_flow_tracker_learns_translation():
    """A few hundred Adam steps fit dx from a constant u-crop (the regressor can learn)."""
    torch.manual_seed(0)
    ft = FlowTracker(hidden=32, crop_size=5)
    opt = torch.optim.Adam(ft.parameters(), lr=3e-3)
    for _ in range(300):
        shift = torch.rand(64, 2) * 10 - 5
        crops = shift[:, :, None, None].expand(64, 2, 5, 5)
        target = torch.stack([shift[:, 0] / 4.0, shift[:, 1] / 8.0,
                              torch.zeros(64), torch.zeros(64)], 1)  # w = 40, h = 80
        loss = torch.nn.functional.smooth_l1_loss(ft(crops), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    flow = torch.zeros(1, 2, 200, 200)
    flow[:, 0], flow[:, 1] = 3.0, -2.0
    out = ft.predict(flow, torch.tensor([[50., 50, 90, 130]]))
    torch.testing.assert_close(out, torch.tensor([[53., 48, 93, 128]]), rtol=0, atol=0.6)


def test_flow_checks():
    with pytest.raises(ValueError, match="flow must be \\[B, 2, H, W\\] matching the frame"):
        check_flow(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="matching the frame"):
        check_flow(torch.zeros(1, 2, 4, 4), (4, 5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_flow(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="multiples of 8 for raft; resize or pad"):
        check_frame_divisor((481, 640), "raft")
    with pytest.raises(ValueError, match="multiples of 64 .* \\(512, 640\\)"):
        check_frame_divisor((480, 640), "flownet2")
    assert check_frame_divisor((481, 641), "farneback") == (481, 641)
    box, ok = clip_boxes(torch.tensor([[700., 10, 760, 50]], dtype=torch.float64), (480, 640))
    assert not bool(ok[0])


def test_farneback_recovers_translation():
    ys, xs = np.mgrid[0:120, 0:160]
    img = (127 + 60 * np.sin(xs / 5.0) * np.cos(ys / 7.0) + 40 * np.sin((xs + ys) / 11.0))
    img = img.astype(np.uint8)
    moved = np.roll(img, (2, 3), axis=(0, 1))
    for scale in (1.0, 0.5):
        flow = FarnebackFlow(scale=scale)(img, moved)
        u = flow[0, 0, 30:90, 40:120].mean().item()
        v = flow[0, 1, 30:90, 40:120].mean().item()
        assert math.isclose(u, 3.0, abs_tol=0.5) and math.isclose(v, 2.0, abs_tol=0.5), scale
    with pytest.raises(ValueError, match="same size"):
        FarnebackFlow()(img, img[:100])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_flow_tracker_follows_the_device():
    torch.manual_seed(0)
    ft = FlowTracker(hidden=8, crop_size=5)
    flow = torch.randn(1, 2, 60, 80)
    boxes = torch.tensor([[3., 4, 30, 50], [10, 10, 70, 55]])
    cpu = ft.predict(flow, boxes)
    gpu = ft.cuda().predict(flow.cuda(), boxes.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(flow_crop(flow.cuda(), boxes.cuda()).cpu(), flow_crop(flow, boxes))
