"""FFT track management (spec §3.4): flow, refine, fuse, NMS, re-identify, birth."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ..._utils.validation import check_int, check_real
from ..detection import box_iou, check_boxes, nms
from ._flow_crop import check_flow, clip_boxes

__all__ = ["FFTConfig", "FFTTracker"]


class FFTConfig:
    """Thresholds of FFT's track management (the code's constants are the defaults).

    Parameters
    ----------
    score_threshold : float in [0, 1], default=0.5
        A refined box survives only with score ``> score_threshold``.
    match_iou : float in [0, 1], default=0.5
        Fusion and re-ID pair a track with a detection at IoU ``> match_iou``.
    nms_iou : float in [0, 1], default=0.5
        NMS over refined detections and over the track boxes.
    reid_window : int >= 1, default=30
        Lost tracks are re-identified over gaps ``v = 1 .. reid_window - 1`` frames.
    reid_min_cosine : float in [0, 1] or None, default=None
        With embeddings from the scorer, re-ID matches by appearance (Hungarian on
        ``1 - cosine`` among pairs passing the IoU gate) and needs ``cosine >= reid_min_cosine``.

    Examples
    --------
    >>> from normgraph.nn.tracking import FFTConfig
    >>> FFTConfig(reid_window=10).reid_window
    10
    >>> FFTConfig(reid_window=0)
    Traceback (most recent call last):
    ...
    ValueError: reid_window must be >= 1, got 0
    """

    def __init__(self, score_threshold=0.5, match_iou=0.5, nms_iou=0.5, reid_window=30,
                 reid_min_cosine=None):
        self.score_threshold = check_real(score_threshold, "score_threshold", low=0.0, high=1.0)
        self.match_iou = check_real(match_iou, "match_iou", low=0.0, high=1.0)
        self.nms_iou = check_real(nms_iou, "nms_iou", low=0.0, high=1.0)
        self.reid_window = check_int(reid_window, "reid_window", low=1)
        self.reid_min_cosine = (None if reid_min_cosine is None else
                                check_real(reid_min_cosine, "reid_min_cosine", low=0.0, high=1.0))

    def __repr__(self):
        return (f"FFTConfig(score_threshold={self.score_threshold}, match_iou={self.match_iou}, "
                f"nms_iou={self.nms_iou}, reid_window={self.reid_window}, "
                f"reid_min_cosine={self.reid_min_cosine})")


class _Track:
    __slots__ = ("tid", "boxes", "scores", "emb", "active", "last")

    def __init__(self, tid, t, box, score, emb):
        self.tid, self.boxes, self.scores = tid, {t: box}, {t: score}
        self.emb, self.active, self.last = emb, True, t

    def put(self, t, box, score, emb):
        self.boxes[t], self.scores[t], self.last, self.active = box, score, t, True
        if emb is not None:
            self.emb = emb


class FFTTracker:
    """The Flow-Fuse tracker: any flow provider, flow tracker and box scorer (FuseTracker slot).

    Parameters
    ----------
    flow_provider : callable ``(frame_a, frame_b) -> flow [1, 2, H, W]``
        E.g. :class:`FarnebackFlow`; frames are passed through unchanged.
    flow_tracker : FlowTracker or callable ``(flow, boxes [N, 4]) -> boxes [N, 4]``
    scorer : callable ``(t, frame, boxes [N, 4]) -> (refined [N, 4], scores [N], emb or None)``
        Refines and scores boxes in frame ``t`` (0-based); ``emb`` is ``[N, D]``.
    config : FFTConfig or None, default=None
    reid_flow_provider : callable or None, default=None
        Flow over re-ID gaps (e.g. a cheaper, half-resolution provider); default
        ``flow_provider``. Gap flows are cached per frame pair within a run.

    Attributes
    ----------
    n_inactivations_ : int
        Tracks set inactive (score, NMS, or box leaving the frame).
    n_revivals_ : int
        Inactive tracks revived by re-identification.
    n_births_ : int

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.tracking import FFTTracker
    >>> still = lambda a, b: torch.zeros(1, 2, 50, 50)
    >>> same = lambda flow, boxes: boxes
    >>> keep = lambda t, frame, boxes: (boxes, torch.full((len(boxes),), 0.9), None)
    >>> dets = [torch.tensor([[10., 10, 20, 30]])] * 3
    >>> FFTTracker(still, same, keep).track([0, 1, 2], dets, (50, 50))[:, :6]
    array([[ 1.,  1., 10., 10., 10., 20.],
           [ 2.,  1., 10., 10., 10., 20.],
           [ 3.,  1., 10., 10., 10., 20.]])
    """

    def __init__(self, flow_provider, flow_tracker, scorer, config=None, reid_flow_provider=None):
        self.flow_provider = flow_provider
        self.flow_tracker = flow_tracker
        self.scorer = scorer
        self.config = config
        self.reid_flow_provider = reid_flow_provider

    # ---------------------------------------------------------------- helpers
    def _cfg(self):
        cfg = FFTConfig() if self.config is None else self.config
        if not isinstance(cfg, FFTConfig):
            raise TypeError(f"config must be an FFTConfig, got {type(cfg).__name__}")
        return cfg

    def _move(self, flow, boxes):
        fn = getattr(self.flow_tracker, "predict", self.flow_tracker)
        moved = fn(flow, boxes)
        if isinstance(moved, torch.Tensor):  # the state machine runs on the CPU in float64
            moved = moved.detach().cpu()
        return check_boxes(moved, "flowed boxes").to(boxes.dtype)

    def _refine(self, t, boxes):
        """Scorer output on clipped boxes; rows emptied by clipping get score -inf."""
        n = boxes.shape[0]
        clipped, ok = clip_boxes(boxes, self._size)
        refined, scores = clipped.clone(), torch.full((n,), -np.inf, dtype=torch.float64)
        emb = None
        if bool(ok.any()):
            r, s, e = (x.detach().cpu() if isinstance(x, torch.Tensor) else x
                       for x in self.scorer(t, self._frames[t], clipped[ok]))
            r, _ = clip_boxes(check_boxes(r, "refined boxes").to(torch.float64), self._size)
            refined[ok] = r
            scores[ok] = torch.as_tensor(s, dtype=torch.float64).reshape(-1)
            if e is not None:
                e = torch.nn.functional.normalize(torch.as_tensor(e, dtype=torch.float64), dim=1)
                emb = torch.zeros((n, e.shape[1]), dtype=torch.float64)
                emb[ok] = e
        return refined, scores, emb

    def _flow(self, a, b, provider):
        key = (a, b)
        if key not in self._cache:
            flow = provider(self._frames[a], self._frames[b])
            self._cache[key] = check_flow(flow, self._size)
        return self._cache[key]

    def _detections(self, t):
        cfg = self._cfg()
        boxes = check_boxes(self._dets[t], f"detections[{t}]").to(torch.float64)
        r, s, e = self._refine(t, boxes)
        keep = torch.nonzero(s > cfg.score_threshold).flatten()
        keep = keep[nms(r[keep], s[keep], cfg.nms_iou)]
        return [(r[i], float(s[i]), None if e is None else e[i]) for i in keep.tolist()]

    def _birth(self, t, det):
        self._next_id += 1
        self.n_births_ += 1
        self._tracks.append(_Track(self._next_id, t, *det))

    def _inactivate(self, track):
        track.active = False
        self.n_inactivations_ += 1

    # ---------------------------------------------------------------- steps
    def _flow_step(self, t):
        cfg = self._cfg()
        live = [tr for tr in self._tracks if tr.active]
        if not live:
            return []
        boxes = torch.stack([tr.boxes[t] for tr in live])
        moved = self._move(self._flow(t, t + 1, self.flow_provider), boxes)
        r, s, e = self._refine(t + 1, moved)
        out = []
        for k, tr in enumerate(live):
            if float(s[k]) > cfg.score_threshold:
                out.append([tr, r[k], float(s[k]), None if e is None else e[k]])
            else:
                self._inactivate(tr)
        return out

    def _fuse(self, flowed, dets):
        cfg = self._cfg()
        for item in flowed:
            if not dets:
                break
            iou = box_iou(item[1][None], torch.stack([d[0] for d in dets]))[0]
            j = int(torch.argmax(iou))
            if float(iou[j]) > cfg.match_iou:
                det = dets.pop(j)
                if det[1] > item[2]:
                    item[1], item[2] = det[0], det[1]
                    item[3] = det[2] if det[2] is not None else item[3]
        return flowed

    def _nms_write(self, t1, flowed):
        cfg = self._cfg()
        if not flowed:
            return
        keep = set(nms(torch.stack([f[1] for f in flowed]),
                       torch.tensor([f[2] for f in flowed], dtype=torch.float64),
                       cfg.nms_iou).tolist())
        for k, (tr, box, score, emb) in enumerate(flowed):
            if k in keep:
                tr.put(t1, box, score, emb)
            else:
                self._inactivate(tr)

    def _reid(self, t, dets):
        cfg = self._cfg()
        provider = self.reid_flow_provider or self.flow_provider
        for v in range(1, min(cfg.reid_window - 1, t) + 1):
            if not dets:
                return dets
            lost = [tr for tr in self._tracks if not tr.active and tr.last == t - v]
            if not lost:
                continue
            boxes = torch.stack([tr.boxes[t - v] for tr in lost])
            moved = self._move(self._flow(t - v, t + 1, provider), boxes)
            r, s, e = self._refine(t + 1, moved)
            ok = [k for k in range(len(lost)) if float(s[k]) > cfg.score_threshold]
            if ok:
                dets = self._reid_match(t + 1, [lost[k] for k in ok], r[ok], s[ok],
                                        None if e is None else e[ok], dets)
        return dets

    def _reid_match(self, t1, lost, boxes, scores, emb, dets):
        cfg = self._cfg()
        iou = box_iou(boxes, torch.stack([d[0] for d in dets])).numpy()
        gate = iou > cfg.match_iou
        appearance = cfg.reid_min_cosine is not None and all(d[2] is not None for d in dets) \
            and all(tr.emb is not None for tr in lost)
        if appearance:
            track_emb = torch.stack([tr.emb for tr in lost])
            cos = (track_emb @ torch.stack([d[2] for d in dets]).T).numpy()
            cost = np.where(gate, 1.0 - cos, 1e6)
        else:
            cost = np.where(gate, 1.0 - iou, 1e6)
        rows, cols = linear_sum_assignment(cost)
        used = set()
        for i, j in zip(rows.tolist(), cols.tolist()):
            if not gate[i, j] or (appearance and cos[i, j] < cfg.reid_min_cosine):
                continue
            box, score, e = (boxes[i], float(scores[i]), None if emb is None else emb[i])
            if dets[j][1] > score:
                box, score, e = dets[j][0], dets[j][1], dets[j][2] if dets[j][2] is not None else e
            lost[i].put(t1, box, score, e)
            self.n_revivals_ += 1
            used.add(j)
        return [d for j, d in enumerate(dets) if j not in used]

    # ---------------------------------------------------------------- run
    def track(self, frames, detections, frame_size):
        """Track through a sequence; return MOT rows ``frame, id, x, y, w, h, conf, -1, -1, -1``.

        Parameters
        ----------
        frames : sequence
            One item per frame (images, or anything the flow provider and scorer accept).
        detections : sequence of array-like of shape (N_t, 4)
            Public detections ``(x1, y1, x2, y2)`` per frame.
        frame_size : tuple (H, W)
            Boxes are clipped to it; a box empty after clipping makes its track inactive.

        Returns
        -------
        rows : ndarray of shape (M, 10)
            1-based frames and ids, sorted by (frame, id).
        """
        self._cfg()
        if len(frames) != len(detections):
            raise ValueError(f"frames and detections must have the same length, got "
                             f"{len(frames)} and {len(detections)}")
        self._size = tuple(check_int(int(s), "frame_size", low=1) for s in frame_size)
        self._frames, self._dets, self._cache = frames, detections, {}
        self._tracks, self._next_id = [], 0
        self.n_inactivations_ = self.n_revivals_ = self.n_births_ = 0
        if len(frames):
            for det in self._detections(0):
                self._birth(0, det)
        for t in range(len(frames) - 1):
            dets = self._detections(t + 1)
            flowed = self._fuse(self._flow_step(t), dets)
            self._nms_write(t + 1, flowed)
            if t > 0:
                dets = self._reid(t, dets)
            for det in dets:
                self._birth(t + 1, det)
            self._cache = {k: f for k, f in self._cache.items() if k[1] > t + 1}
        rows = self._rows()
        del self._frames, self._dets, self._cache
        return rows

    def _rows(self):
        rows = []
        for tr in self._tracks:
            for t, b in tr.boxes.items():
                b = b.tolist()
                rows.append([t + 1, tr.tid, b[0], b[1], b[2] - b[0], b[3] - b[1],
                             tr.scores[t], -1, -1, -1])
        rows = np.array(rows, dtype=np.float64).reshape(-1, 10)
        return rows[np.lexsort((rows[:, 1], rows[:, 0]))]
