"""FFT track management on scripted sequences (spec §5.3 cases (a)-(g)).

Frames are frame indices. The oracle flow paints each object visible at frame a with its
displacement to frame b over its integer box; the analytic FlowTracker moves a box by the mean
flow inside it. The scripted scorer returns the boxes unchanged, with 0.9 for a box at IoU >= 0.5
with an object visible in that frame and 0.2 otherwise; an override table fixes other values.
"""

import numpy as np
import pytest
import torch

from normgraph.nn.detection import box_iou
from normgraph.nn.tracking import FFTConfig, FFTTracker, evaluate_mot, flow_boxes

H, W = 240, 480


class Scene:
    """Objects with a start box, a per-frame velocity and a set of visible frames."""

    def __init__(self, n_frames):
        self.n = n_frames
        self.objects = []  # (box0, (vx, vy), visible set)
        self.overrides = []  # (t, box, score)
        self.extra = {}  # t -> list of extra detection boxes
        self.replace = {}  # t -> the detection boxes of frame t, replacing the objects' boxes

    def add(self, box, v=(0.0, 0.0), visible=None):
        vis = set(range(self.n)) if visible is None else set(visible)
        self.objects.append((np.asarray(box, float), np.asarray(v, float), vis))
        return len(self.objects) - 1

    def box(self, k, t):
        box0, v, _ = self.objects[k]
        return box0 + np.tile(v, 2) * t

    def visible(self, t):
        return [k for k, (_, _, vis) in enumerate(self.objects) if t in vis]

    def detections(self):
        out = []
        for t in range(self.n):
            boxes = self.replace.get(t, [self.box(k, t) for k in self.visible(t)])
            out.append(torch.tensor(np.array(list(boxes) + self.extra.get(t, [])).reshape(-1, 4)))
        return out

    def flow(self, a, b):
        f = torch.zeros(1, 2, H, W, dtype=torch.float64)
        for k in self.visible(a):
            x1, y1, x2, y2 = self.box(k, a)
            xa, xb = (min(max(int(c), 0), W - 1) for c in (x1, x2))
            ya, yb = (min(max(int(c), 0), H - 1) for c in (y1, y2))
            d = self.objects[k][1] * (b - a)
            f[0, 0, ya:yb + 1, xa:xb + 1] = d[0]
            f[0, 1, ya:yb + 1, xa:xb + 1] = d[1]
        return f

    def scorer(self, t, frame, boxes):
        assert frame == t
        scores = torch.full((len(boxes),), 0.2, dtype=torch.float64)
        vis = self.visible(t)
        if vis:
            gt = torch.tensor(np.array([self.box(k, t) for k in vis]))
            scores[box_iou(boxes, gt).max(dim=1).values >= 0.5] = 0.9
        for tt, box, score in self.overrides:
            if tt == t and len(boxes):
                hit = box_iou(boxes, torch.tensor([box], dtype=torch.float64))[:, 0] > 0.99
                scores[hit] = score
        return boxes, scores, None

    def gt_rows(self):
        return np.array([[t + 1, k + 1, *self._xywh(self.box(k, t)), 1, -1, -1, -1]
                         for t in range(self.n) for k in self.visible(t)])

    @staticmethod
    def _xywh(b):
        return b[0], b[1], b[2] - b[0], b[3] - b[1]

    def run(self, config=None):
        tracker = FFTTracker(lambda a, b: self.flow(a, b), _oracle_move, self.scorer, config)
        rows = tracker.track(list(range(self.n)), self.detections(), (H, W))
        return rows, tracker


def _oracle_head(crops, boxes):
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    u, v = crops[:, 0].mean(dim=(1, 2)), crops[:, 1].mean(dim=(1, 2))
    return torch.stack([u / (0.1 * w), v / (0.1 * h), 0 * u, 0 * v], dim=1)


def _oracle_move(flow, boxes):
    return flow_boxes(flow, boxes, _oracle_head)


def _ids_at(rows, frame):
    return sorted(int(i) for i in rows[rows[:, 0] == frame, 1])


def test_a_crossing_objects_keep_ids():
    s = Scene(50)
    s.add((20, 20, 60, 100), (6, 0))
    s.add((320, 95, 360, 175), (-6, 0))
    # the boxes overlap while they pass, so the oracle flow in the back box is mixed and the
    # flowed box lags; exact detections score higher and correct it through the fusion
    s.overrides += [(t, list(s.box(k, t)), 0.95) for t in range(50) for k in (0, 1)]
    rows, tr = s.run()
    m = evaluate_mot(s.gt_rows(), rows)
    assert (m["IDSW"], m["FP"], m["FN"], m["MOTA"]) == (0, 0, 0, 1.0)
    assert len(np.unique(rows[:, 1])) == 2 and tr.n_births_ == 2


def test_b_fusion_higher_detection_score_replaces_flowed_box():
    s = Scene(8)
    s.add((100, 50, 140, 150))
    better = [102.0, 50, 142, 150]
    worse = [98.0, 50, 138, 150]
    s.replace[3] = [better]
    s.replace[5] = [worse]
    s.overrides += [(3, [100, 50, 140, 150], 0.9), (3, better, 0.95),
                    (5, [100, 50, 140, 150], 0.9), (5, worse, 0.6)]
    rows, tr = s.run()
    assert np.unique(rows[:, 1]).tolist() == [1]
    r3 = rows[rows[:, 0] == 4][0]
    np.testing.assert_allclose(r3[2:7], [102, 50, 40, 100, 0.95])  # detection won
    r5 = rows[rows[:, 0] == 6][0]
    np.testing.assert_allclose(r5[2:7], [102, 50, 40, 100, 0.9])  # flowed box kept


def test_c_two_tracks_collapsing_nms_kills_one():
    s = Scene(4)
    s.add((100, 50, 140, 150))
    s.add((130, 50, 170, 150), (-30, 0), visible={0})
    s.overrides += [(t, [100, 50, 140, 150], 0.9) for t in range(4)]
    rows, tr = s.run()
    assert _ids_at(rows, 1) == [1, 2]
    assert _ids_at(rows, 2) == [1] and _ids_at(rows, 4) == [1]
    assert tr.n_inactivations_ == 1 and tr.n_revivals_ == 0


def _gap_scene(gap, v=(3.0, 0.0)):
    n = 5 + gap + 5
    s = Scene(n)
    s.add((20, 60, 60, 160), v, visible=set(range(5)) | set(range(5 + gap, n)))
    return s


def test_d_absent_ten_frames_reidentified_after_flow_over_the_gap():
    s = _gap_scene(10)
    rows, tr = s.run()
    assert np.unique(rows[:, 1]).tolist() == [1]
    assert tr.n_inactivations_ == 1 and tr.n_revivals_ == 1
    assert _ids_at(rows, 6) == [] and _ids_at(rows, 16) == [1]  # inactive from first absent frame
    # the stale box does not overlap the reappearing one: only the gap flow can match them
    assert box_iou(torch.tensor(s.box(0, 4)[None]), torch.tensor(s.box(0, 15)[None]))[0, 0] < 0.5


@pytest.mark.parametrize("gap, same_id", [(29, True), (30, False), (31, False)])
def test_e_reid_window_boundary(gap, same_id):
    s = _gap_scene(gap, v=(1.0, 0.0))
    rows, tr = s.run()
    ids = np.unique(rows[:, 1]).tolist()
    assert ids == ([1] if same_id else [1, 2])
    assert tr.n_revivals_ == int(same_id)
    # and a shorter window shrinks the boundary
    rows, _ = s.run(FFTConfig(reid_window=gap + 1))
    assert np.unique(rows[:, 1]).tolist() == [1]
    rows, _ = s.run(FFTConfig(reid_window=gap))
    assert np.unique(rows[:, 1]).tolist() == [1, 2]


def test_f_births_at_t0_and_later():
    s = Scene(6)
    s.add((20, 20, 60, 120))
    s.add((200, 20, 240, 120))
    s.add((350, 50, 390, 150), visible=range(3, 6))
    rows, tr = s.run()
    assert _ids_at(rows, 1) == [1, 2] and _ids_at(rows, 4) == [1, 2, 3]
    assert tr.n_births_ == 3 and tr.n_inactivations_ == 0


@pytest.mark.parametrize("score, active", [(0.5, False), (0.51, True)])
def test_g_score_threshold_is_strict(score, active):
    s = Scene(6)
    s.add((100, 50, 140, 150), (2, 0))
    s.overrides.append((3, list(s.box(0, 3)), score))
    rows, tr = s.run()
    assert (4 in rows[:, 0]) == active
    assert tr.n_inactivations_ == int(not active)
    assert tr.n_revivals_ == int(not active)  # revived at frame 4 (gap 1)
    assert np.unique(rows[:, 1]).tolist() == [1]


def test_box_leaving_the_frame_goes_inactive_without_error():
    s = Scene(12)
    s.add((400, 50, 440, 150), (10, 0))
    rows, tr = s.run()
    assert tr.n_inactivations_ == 1
    assert rows[:, 0].max() <= 8 and np.all(rows[:, 2] + rows[:, 4] <= W)


def test_appearance_reid_needs_cosine():
    s = _gap_scene(5)

    def scorer(t, frame, boxes):
        b, sc, _ = s.scorer(t, frame, boxes)
        emb = torch.zeros(len(boxes), 2, dtype=torch.float64)
        emb[:, 0 if t < 5 else 1] = 1.0  # appearance changes after the gap
        return b, sc, emb

    for cos, ids in ((0.7, [1, 2]), (0.0, [1])):
        tr = FFTTracker(s.flow, _oracle_move, scorer, FFTConfig(reid_min_cosine=cos))
        rows = tr.track(list(range(s.n)), s.detections(), (H, W))
        assert np.unique(rows[:, 1]).tolist() == ids


def test_bad_config_and_inputs():
    for kw in (dict(reid_window=0), dict(reid_window=-3), dict(score_threshold=1.5),
               dict(match_iou=-0.1), dict(nms_iou=2.0), dict(reid_min_cosine=1.2)):
        with pytest.raises(ValueError, match=next(iter(kw))):
            FFTConfig(**kw)
    with pytest.raises(TypeError, match="reid_window"):
        FFTConfig(reid_window=2.5)
    s = Scene(3)
    s.add((20, 20, 60, 120))
    bad = FFTTracker(lambda a, b: torch.zeros(1, 2, H, W + 8), _oracle_move, s.scorer)
    with pytest.raises(ValueError, match="flow must be \\[B, 2, H, W\\] matching the frame"):
        bad.track([0, 1, 2], s.detections(), (H, W))
    with pytest.raises(TypeError, match="config"):
        FFTTracker(s.flow, _oracle_move, s.scorer, config={"reid_window": 3}).track(
            [0, 1, 2], s.detections(), (H, W))
    with pytest.raises(ValueError, match="same length"):
        FFTTracker(s.flow, _oracle_move, s.scorer).track([0, 1], s.detections(), (H, W))
    dets = s.detections()
    dets[1] = torch.tensor([[10.0, 10, 5, 20]])
    with pytest.raises(ValueError, match="detections\\[1\\] row 0"):
        FFTTracker(s.flow, _oracle_move, s.scorer).track([0, 1, 2], dets, (H, W))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_flow_and_scorer_outputs_are_accepted():
    s = _gap_scene(10)

    def scorer(t, frame, boxes):
        b, sc, _ = s.scorer(t, frame, boxes)
        return b.cuda(), sc.cuda(), None

    cpu = s.run()[0]
    def move(flow, boxes):
        return _oracle_move(flow, boxes.to(flow.device))

    tr = FFTTracker(lambda a, b: s.flow(a, b).cuda(), move, scorer)
    np.testing.assert_allclose(tr.track(list(range(s.n)), s.detections(), (H, W)), cpu)
