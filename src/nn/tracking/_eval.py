"""MOT metrics with trackeval (CLEAR-MOT, Identity/IDF1, HOTA), in memory or through MOT15 files."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile

import numpy as np
import torch

from ..._utils.numeric import max_abs, power_of_two_scale
from ..._utils.validation import check_real
from ..detection import box_iou
from ._mot_io import check_mot_rows

__all__ = ["evaluate_mot", "evaluate_mot_files", "mot_eval_data"]

#: The figures returned by :func:`evaluate_mot` (trackeval's names; MOTP = mean IoU of matches).
METRIC_KEYS = ("MOTA", "MOTP", "IDF1", "IDP", "IDR", "HOTA", "DetA", "AssA", "IDSW", "FP", "FN",
               "Frag", "MT", "PT", "ML", "CLR_Re", "CLR_Pr")


def _trackeval():
    try:
        import trackeval
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("evaluation needs trackeval: pip install 'normgraph[track]'") from exc
    return trackeval


def _xyxy(rows, scale=1.0):
    b = rows[:, 2:6] / scale  # exact: scale is a power of two
    b[:, 2:] += b[:, :2]
    return torch.as_tensor(b)


def mot_eval_data(gt, tracker):
    """The per-sequence ``data`` dict that trackeval's metrics' ``eval_sequence`` take.

    GT rows with ``conf == 0`` are dropped (as trackeval's MOT15 loader does); ids are
    relabelled to ``0..n-1``; ``num_timesteps`` is the last frame of either input; the
    similarity is the IoU of the ``x, y, w, h`` boxes, computed after dividing all boxes by one
    power of two (IoU is scale-free), so boxes scaled by 1e+-300 give the unscaled answer.

    Parameters
    ----------
    gt, tracker : array-like of shape (N, >= 6)
        MOT rows (checked by :func:`check_mot_rows`; duplicate (frame, id) rows raise).

    Returns
    -------
    data : dict

    Examples
    --------
    >>> from normgraph.nn.tracking import mot_eval_data
    >>> d = mot_eval_data([[1, 5, 0, 0, 2, 2]], [[2, 9, 0, 0, 2, 2]])
    >>> d["num_timesteps"], d["gt_ids"][0], d["tracker_ids"][1], d["num_tracker_dets"]
    (2, array([0]), array([0]), 1)
    """
    gt = check_mot_rows(gt, "gt")
    gt = gt[gt[:, 6] != 0]
    tr = check_mot_rows(tracker, "tracker")
    last = int(max(gt[:, 0].max(initial=0), tr[:, 0].max(initial=0)))
    scale = power_of_two_scale(max(max_abs(gt[:, 2:6]), max_abs(tr[:, 2:6])))
    gt_map = {v: i for i, v in enumerate(np.unique(gt[:, 1]))}
    tr_map = {v: i for i, v in enumerate(np.unique(tr[:, 1]))}
    data = {"num_timesteps": last, "gt_ids": [], "tracker_ids": [], "similarity_scores": [],
            "num_gt_ids": len(gt_map), "num_tracker_ids": len(tr_map),
            "num_gt_dets": int(gt.shape[0]), "num_tracker_dets": int(tr.shape[0])}
    for frame in range(1, last + 1):
        g, t = gt[gt[:, 0] == frame], tr[tr[:, 0] == frame]
        data["gt_ids"].append(np.array([gt_map[v] for v in g[:, 1]], dtype=int))
        data["tracker_ids"].append(np.array([tr_map[v] for v in t[:, 1]], dtype=int))
        sim = box_iou(_xyxy(g, scale), _xyxy(t, scale)).numpy() if len(g) and len(t) else \
            np.zeros((len(g), len(t)))
        data["similarity_scores"].append(sim)
    return data


def _metrics(data, threshold):
    te = _trackeval()
    out = {}
    cfg = {"THRESHOLD": threshold, "PRINT_CONFIG": False}
    with contextlib.redirect_stdout(io.StringIO()):
        out.update(te.metrics.CLEAR(cfg).eval_sequence(data))
        out.update(te.metrics.Identity(cfg).eval_sequence(data))
        hota = te.metrics.HOTA().eval_sequence(data)
    out["FP"], out["FN"] = out["CLR_FP"], out["CLR_FN"]
    for key in ("HOTA", "DetA", "AssA"):
        out[key] = float(np.mean(hota[key]))  # averaged over the 19 alpha thresholds
    return {k: (float(out[k]) if isinstance(out[k], (float, np.floating)) else int(out[k]))
            for k in METRIC_KEYS if k in out}


def evaluate_mot(gt, tracker, *, threshold=0.5):
    """MOTA, IDF1, HOTA, ID switches, ... of tracker rows against GT rows (trackeval, in memory).

    Parameters
    ----------
    gt, tracker : array-like of shape (N, >= 6)
        MOT rows ``frame, id, x, y, w, h, conf, ...``. Duplicate (frame, id) rows raise
        ``ValueError`` before trackeval is called (its in-memory path does not check).
    threshold : float in [0, 1], default=0.5
        IoU match threshold of CLEAR and Identity (HOTA averages its own thresholds).

    Returns
    -------
    metrics : dict
        Keys of ``METRIC_KEYS``: ``MOTA``, ``IDF1``, ``HOTA``, ``IDSW``, ``FP``, ``FN``, ...

    Examples
    --------
    >>> from normgraph.nn.tracking import evaluate_mot
    >>> gt = [[1, 1, 0, 0, 10, 10], [2, 1, 1, 0, 10, 10]]
    >>> m = evaluate_mot(gt, gt)
    >>> m["MOTA"], m["IDF1"], m["IDSW"]
    (1.0, 1.0, 0)
    """
    threshold = check_real(threshold, "threshold", low=0.0, high=1.0)
    return _metrics(mot_eval_data(gt, tracker), threshold)


def evaluate_mot_files(gt_path, tracker_path, *, threshold=0.5, seq_name="seq"):
    """Evaluate a MOT15-style GT file and tracker file through trackeval's ``MotChallenge2DBox``.

    The files are copied into a temporary MOTChallenge layout and loaded with
    ``BENCHMARK='MOT15'`` (no preprocessing; GT rows with ``conf == 0`` dropped). trackeval's
    loader raises ``TrackEvalException`` on duplicate (frame, id) rows; our reader is called
    first and raises ``ValueError`` with line numbers. Box values beyond 1e+-150 raise
    ``ValueError`` (trackeval's own IoU would overflow); :func:`evaluate_mot` rescales them.

    Parameters
    ----------
    gt_path, tracker_path : str or os.PathLike
    threshold : float in [0, 1], default=0.5
    seq_name : str, default="seq"

    Returns
    -------
    metrics : dict
        As :func:`evaluate_mot`.

    Examples
    --------
    >>> import os, tempfile
    >>> from normgraph.nn.tracking import evaluate_mot_files, write_mot
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "gt.txt")
    >>> write_mot(p, [[1, 1, 0, 0, 10, 10], [2, 1, 1, 0, 10, 10]])
    >>> evaluate_mot_files(p, p)["IDF1"]
    1.0
    """
    from ._mot_io import read_mot
    threshold = check_real(threshold, "threshold", low=0.0, high=1.0)
    gt, tr = read_mot(gt_path), read_mot(tracker_path)
    mag = max(max_abs(gt[:, 2:6]), max_abs(tr[:, 2:6]))
    if mag > 1e150 or 0 < mag < 1e-150:
        raise ValueError(f"box values of magnitude {mag:.3g} overflow trackeval's IoU on files; "
                         f"use evaluate_mot, which rescales exactly")
    last = int(max(gt[:, 0].max(initial=1), tr[:, 0].max(initial=1)))
    te = _trackeval()
    root = tempfile.mkdtemp(prefix="normgraph_mot_")
    try:
        os.makedirs(os.path.join(root, "gt", seq_name, "gt"))
        os.makedirs(os.path.join(root, "trackers", "trk", "data"))
        shutil.copyfile(gt_path, os.path.join(root, "gt", seq_name, "gt", "gt.txt"))
        shutil.copyfile(tracker_path, os.path.join(root, "trackers", "trk", "data",
                                                   f"{seq_name}.txt"))
        cfg = {"GT_FOLDER": os.path.join(root, "gt"),
               "TRACKERS_FOLDER": os.path.join(root, "trackers"), "BENCHMARK": "MOT15",
               "SKIP_SPLIT_FOL": True, "SEQ_INFO": {seq_name: last}, "TRACKERS_TO_EVAL": ["trk"],
               "PRINT_CONFIG": False}
        with contextlib.redirect_stdout(io.StringIO()):
            ds = te.datasets.MotChallenge2DBox(cfg)
            raw = ds.get_raw_seq_data("trk", seq_name)
            data = ds.get_preprocessed_seq_data(raw, "pedestrian")
        return _metrics(data, threshold)
    finally:
        shutil.rmtree(root, ignore_errors=True)
