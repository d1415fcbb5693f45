"""Helpers shared by the peer-comparison scripts: timing and the printed table."""

from __future__ import annotations

import os
import time

__all__ = ["best_time", "print_table", "bench_sizes"]

# `make bench` runs the quick grid; NORMGRAPH_BENCH_FULL=1 adds the largest sizes (minutes each).
FULL = os.environ.get("NORMGRAPH_BENCH_FULL", "") not in ("", "0")


def bench_sizes(sizes, quick_max):
    """Return the asv parameter sizes to run: all of them in full mode, else those <= quick_max."""
    return [n for n in sizes if FULL or n <= quick_max]


def best_time(func, *, repeat=3, min_time=0.0):
    """Return ``(seconds, result)``: the best wall time of ``func()`` over ``repeat`` runs.

    Parameters
    ----------
    func : callable
        Called with no arguments.
    repeat : int, default=3
        Number of timed runs (the first run is included; warm kernels up before timing).
    min_time : float, default=0.0
        Keep repeating until this much time has been spent in total.
    """
    best, result, spent, runs = float("inf"), None, 0.0, 0
    while runs < repeat or spent < min_time:
        t0 = time.perf_counter()
        result = func()
        dt = time.perf_counter() - t0
        best, spent, runs = min(best, dt), spent + dt, runs + 1
    return best, result


def print_table(rows, columns=("work", "ours (s)", "peer", "peer (s)", "ratio")):
    """Print rows (sequences matching ``columns``) as an aligned plain-text table."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c)
              for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
