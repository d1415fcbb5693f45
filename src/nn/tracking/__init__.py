"""Flow-Fuse tracking (FFT, arXiv:2001.11180): flow crops, FlowTracker, track management, MOT I/O.

Table of contents
-----------------
``_mot_io.py``
    :func:`read_mot`, :func:`write_mot`, :func:`check_mot_rows` (MOTChallenge text rows,
    sorted by (frame, id), duplicates rejected with line numbers).
``_eval.py``
    :func:`evaluate_mot` (trackeval CLEAR / Identity / HOTA in memory), :func:`evaluate_mot_files`
    (trackeval's ``MotChallenge2DBox`` with ``BENCHMARK='MOT15'``), :func:`mot_eval_data`.
``_flow_crop.py``
    :func:`check_flow`, :func:`clip_boxes`, :func:`flow_crop` (integer inclusive crop +
    adaptive average pooling to 25x25, as FFT's code).
``_flow_tracker.py``
    :class:`FlowTracker` (four MLPs), :func:`flow_boxes` (any head, e.g. an analytic one),
    :func:`flow_tracker_targets` (symmetric (10, 10, 5, 5) coder).
``_flow_providers.py``
    :class:`FarnebackFlow` (OpenCV, CPU), :class:`RAFTFlow` (torchvision RAFT, user weights),
    :func:`check_frame_divisor`, :data:`FLOW_DIVISORS`.
``_manager.py``
    :class:`FFTConfig`, :class:`FFTTracker` (the state machine of spec §3.4 with a pluggable
    ``scorer``: the FuseTracker slot).

Examples
--------
>>> import torch
>>> from normgraph.nn.tracking import flow_tracker_targets
>>> flow_tracker_targets(torch.tensor([[0., 0, 10, 10]]), torch.tensor([[0., 0, 10, 10]]))
tensor([[0., 0., 0., 0.]])
"""

from ._eval import evaluate_mot, evaluate_mot_files, mot_eval_data
from ._flow_crop import check_flow, clip_boxes, flow_crop
from ._flow_providers import FLOW_DIVISORS, FarnebackFlow, RAFTFlow, check_frame_divisor
from ._flow_tracker import FlowTracker, flow_boxes, flow_tracker_targets
from ._manager import FFTConfig, FFTTracker
from ._mot_io import check_mot_rows, read_mot, write_mot

__all__ = ["read_mot", "write_mot", "check_mot_rows", "evaluate_mot", "evaluate_mot_files",
           "mot_eval_data", "check_flow", "clip_boxes", "flow_crop", "FlowTracker", "flow_boxes",
           "flow_tracker_targets", "FarnebackFlow", "RAFTFlow", "check_frame_divisor",
           "FLOW_DIVISORS", "FFTConfig", "FFTTracker"]
