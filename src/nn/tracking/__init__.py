"""Flow-Fuse tracking (FFT, arXiv:2001.11180): flow crops, FlowTracker, track management, MOT I/O.

Table of contents
-----------------
``_mot_io.py``
    :func:`read_mot`, :func:`write_mot`, :func:`check_mot_rows` (MOTChallenge text rows,
    sorted by (frame, id), duplicates rejected with line numbers).
``_eval.py``
    :func:`evaluate_mot` (trackeval CLEAR / Identity / HOTA in memory), :func:`evaluate_mot_files`
    (trackeval's ``MotChallenge2DBox`` with ``BENCHMARK='MOT15'``), :func:`mot_eval_data`.
"""

from ._eval import evaluate_mot, evaluate_mot_files, mot_eval_data
from ._mot_io import check_mot_rows, read_mot, write_mot

__all__ = ["read_mot", "write_mot", "check_mot_rows", "evaluate_mot", "evaluate_mot_files",
           "mot_eval_data"]
