"""average_precision (spec §0.2): the worked example, a brute-force envelope, and pycocotools."""

import contextlib
import io

import numpy as np
import pytest

from normgraph.nn.detection import average_precision

FAR = [80.0, 80, 90, 90]


def _worked_example():
    gts = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30.]]), "labels": np.array([0, 0])},
           {"boxes": np.array([[0, 0, 10, 10.]]), "labels": np.array([0])}]
    dets = [{"boxes": np.array([[0, 0, 10, 10], FAR, [20, 20, 30, 30]]),
             "scores": np.array([0.9, 0.8, 0.7]), "labels": np.array([0, 0, 0])},
            {"boxes": np.array([FAR, [0, 0, 10, 10]]), "scores": np.array([0.6, 0.5]),
             "labels": np.array([0, 0])}]
    return dets, gts


def test_worked_example():
    dets, gts = _worked_example()
    assert average_precision(dets, gts) == pytest.approx(34 / 45, abs=1e-15)
    assert average_precision(dets, gts, interp="coco101") == pytest.approx(76.4 / 101, abs=1e-15)


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def _brute_force_ap(dets, gts, cls, thr=0.5):
    """VOC matching written as loops; p-hat evaluated explicitly at each distinct recall."""
    flat = [(d["scores"][j], i, j) for i, d in enumerate(dets) for j in range(len(d["scores"]))
            if d["labels"][j] == cls]
    flat.sort(key=lambda t: -t[0])  # Python's sort is stable: (image, index) order on ties
    n_pos = sum(int((g["labels"] == cls).sum()) for g in gts)
    if n_pos == 0:
        return float("nan")
    used = set()
    tp = fp = 0
    pr = []
    for _, i, j in flat:
        best, bi = -1.0, None
        for k in range(len(gts[i]["labels"])):
            if gts[i]["labels"][k] != cls:
                continue
            v = _iou(dets[i]["boxes"][j], gts[i]["boxes"][k])
            if v > best:
                best, bi = v, k
        if bi is not None and best >= thr and (i, bi) not in used:
            used.add((i, bi))
            tp += 1
        else:
            fp += 1
        pr.append((tp / n_pos, tp / (tp + fp)))
    levels = sorted({r for r, _ in pr})
    ap, prev = 0.0, 0.0
    for r in levels:
        p_hat = max(p for rr, p in pr if rr >= r)
        ap += (r - prev) * p_hat
        prev = r
    return ap


def _random_case(rng, n_classes=2, distinct=False, disjoint=False, n_images=None):
    n_images = n_images or int(rng.integers(1, 5))
    dets, gts = [], []
    for _ in range(n_images):
        m = int(rng.integers(0, 4))
        if disjoint:
            slots = rng.permutation(9)[:m]
            xy = np.stack([slots % 3 * 40 + rng.uniform(0, 5, m), slots // 3 * 40
                           + rng.uniform(0, 5, m)], 1)
        else:
            xy = rng.uniform(0, 60, (m, 2))
        g = np.concatenate([xy, xy + rng.uniform(10, 30, (m, 2))], 1)
        gl = rng.integers(0, n_classes, m)
        n = int(rng.integers(0, 7))
        src = rng.integers(0, max(m, 1), n)
        d = (g[src] if m else rng.uniform(0, 60, (n, 4))) + rng.normal(0, 4, (n, 4))
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 1)
        scores = rng.uniform(0, 1, n) if distinct else rng.integers(0, 4, n) / 4.0
        dl = gl[src] if m and rng.uniform() < 0.8 else rng.integers(0, n_classes, n)
        dets.append({"boxes": d, "scores": scores, "labels": dl})
        gts.append({"boxes": g, "labels": gl})
    return dets, gts


def test_all_points_equals_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(150):
        dets, gts = _random_case(rng)
        ap, per_class = average_precision(dets, gts, return_per_class=True)
        for cls, value in per_class.items():
            ref = _brute_force_ap(dets, gts, cls)
            if np.isnan(ref):
                assert np.isnan(value)
            else:
                assert value == pytest.approx(ref, abs=1e-12)
        finite = [_brute_force_ap(dets, gts, c) for c in per_class]
        finite = [v for v in finite if not np.isnan(v)]
        if finite:
            assert ap == pytest.approx(np.mean(finite), abs=1e-12)
        else:
            assert np.isnan(ap)


def test_difficult_boxes_are_ignored():
    dets, gts = _worked_example()
    gts[0]["difficult"] = np.array([False, True])  # the box hit at rank 3
    # ranks TP FP (ignored) FP TP with 2 positives: p = 1, 1/2, 2/4 -> 1/2 + 1/2 * 1/2
    assert average_precision(dets, gts) == pytest.approx(0.5 * 1 + 0.5 * 0.5)


# --------------------------------------------------------------------------------------------
# pycocotools: coco101 equals COCOeval AP50 under the five conditions of spec §0.2
# --------------------------------------------------------------------------------------------

def _coco_ap50(dets, gts, crowd=None):
    COCO = pytest.importorskip("pycocotools.coco").COCO
    COCOeval = pytest.importorskip("pycocotools.cocoeval").COCOeval
    images = [{"id": i + 1, "width": 200, "height": 200} for i in range(len(gts))]
    anns, k = [], 1
    for i, g in enumerate(gts):
        for j, b in enumerate(g["boxes"]):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append({"id": k, "image_id": i + 1, "category_id": 1,
                         "bbox": [b[0], b[1], w, h], "area": w * h,
                         "iscrowd": int(crowd is not None and crowd == (i, j))})
            k += 1
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        results = [{"image_id": i + 1, "category_id": 1, "score": float(s),
                    "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]}
                   for i, d in enumerate(dets) for b, s in zip(d["boxes"], d["scores"])]
        dt = gt.loadRes(results) if results else COCO()
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[1]


def _single_class(dets, gts):
    for d in dets:
        d["labels"] = np.zeros(len(d["scores"]), np.int64)
    for g in gts:
        g["labels"] = np.zeros(len(g["boxes"]), np.int64)
    return dets, gts


def test_coco101_equals_pycocotools_worked_example():
    dets, gts = _worked_example()
    assert _coco_ap50(dets, gts) == pytest.approx(76.4 / 101, abs=1e-6)


@pytest.mark.parametrize("distinct", [True, False])
def test_coco101_equals_pycocotools_random(distinct):
    rng = np.random.default_rng(7 if distinct else 8)
    checked = 0
    while checked < 60:
        dets, gts = _single_class(*_random_case(rng, n_classes=1, distinct=distinct,
                                                disjoint=True))
        if sum(len(g["boxes"]) for g in gts) == 0 or sum(len(d["scores"]) for d in dets) == 0:
            continue
        ours = average_precision(dets, gts, interp="coco101", matching="coco")
        assert ours == pytest.approx(_coco_ap50(dets, gts), abs=1e-6)
        checked += 1


def _one_hit_case():
    g = [{"boxes": np.array([[0, 0, 10, 10.]]), "labels": np.array([0])}]
    return g


def test_violation_crowd_box():
    gts = [{"boxes": np.array([[0, 0, 10, 10], [30, 30, 60, 60.]]), "labels": np.array([0, 0])}]
    dets = [{"boxes": np.array([[31, 31, 40, 40], [0, 0, 10, 10.]]),
             "scores": np.array([0.9, 0.8]), "labels": np.array([0, 0])}]
    ours = average_precision(dets, gts, interp="coco101", matching="coco")
    coco_crowd = _coco_ap50(dets, gts, crowd=(0, 1))
    assert ours < 0.6 and coco_crowd == pytest.approx(1.0)  # crowd absorbs the detection


def test_violation_more_than_100_detections():
    gts = _one_hit_case()
    boxes = np.array([[100 + i, 100, 110 + i, 110.] for i in range(100)] + [[0, 0, 10, 10]])
    dets = [{"boxes": boxes, "scores": np.linspace(1, 0.5, 101), "labels": np.zeros(101, int)}]
    ours = average_precision(dets, gts, interp="coco101", matching="coco")
    assert ours == pytest.approx(1 / 101, abs=1e-9)  # (1/101 precision at every threshold)
    assert _coco_ap50(dets, gts) == 0.0


def test_violation_tie_order():
    gts = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30.]]), "labels": np.array([0, 0])}]
    far = [60.0, 60, 70, 70]
    dets_a = [{"boxes": np.array([[0, 0, 10, 10], far, [20, 20, 30, 30.]]),
               "scores": np.array([0.9, 0.5, 0.5]), "labels": np.zeros(3, int)}]
    dets_b = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30.], far]),
               "scores": np.array([0.9, 0.5, 0.5]), "labels": np.zeros(3, int)}]
    a = average_precision(dets_a, gts, interp="coco101", matching="coco")
    b = average_precision(dets_b, gts, interp="coco101", matching="coco")
    assert a != pytest.approx(b)  # our ranking follows the given order of tied detections
    assert a == pytest.approx(_coco_ap50(dets_a, gts), abs=1e-6)
    assert b == pytest.approx(_coco_ap50(dets_b, gts), abs=1e-6)
    # the same detections given in the other order to pycocotools only: documented difference
    assert b != pytest.approx(_coco_ap50(dets_a, gts), abs=1e-3)


def test_violation_voc_matching_two_boxes():
    gts = [{"boxes": np.array([[0, 0, 10, 10], [2, 0, 12, 10.]]), "labels": np.array([0, 0])}]
    dets = [{"boxes": np.array([[1, 0, 11, 10], [1, 0, 11, 10.]]),
             "scores": np.array([0.9, 0.8]), "labels": np.zeros(2, int)}]
    voc = average_precision(dets, gts, interp="coco101", matching="voc")
    coco = average_precision(dets, gts, interp="coco101", matching="coco")
    assert coco == pytest.approx(_coco_ap50(dets, gts), abs=1e-6) == pytest.approx(1.0)
    assert voc < 0.6  # the second detection is a duplicate under the VOC rule


def test_violation_image_missing_from_gt_set():
    # a FP on an image that pycocotools does not know about is dropped there but counted here
    gts = [{"boxes": np.array([[0, 0, 10, 10.]]), "labels": np.array([0])},
           {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)}]
    dets = [{"boxes": np.array([[0, 0, 10, 10.]]), "scores": np.array([0.5]),
             "labels": np.array([0])},
            {"boxes": np.array([[0, 0, 10, 10.]]), "scores": np.array([0.9]),
             "labels": np.array([0])}]
    ours = average_precision(dets, gts, interp="coco101", matching="coco")
    assert ours == pytest.approx(_coco_ap50(dets, gts), abs=1e-6)
    assert ours == pytest.approx(0.5)
    assert _coco_ap50(dets[:1], gts[:1]) == pytest.approx(1.0)
