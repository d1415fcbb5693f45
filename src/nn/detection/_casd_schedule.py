"""The CASD loss-weight schedule (§1.7), with the released code's latch-off bug removed."""

from __future__ import annotations

import math

from ..._utils.validation import check_choice, check_int, check_real

__all__ = ["casd_ramp"]


def casd_ramp(iteration, total_iterations, *, schedule="exp_ramp", ramp_up_frac=0.45,
              ramp_down_iters=0, start_iter=0):
    """The factor ``r(t)`` that multiplies ``0.1 * L_CASD`` at iteration ``t``.

    ``"exp_ramp"``: ``exp(-5 (1 - t / T_up)^2)`` for ``t < T_up = ramp_up_frac * T``, then 1, and
    ``exp(-12.5 (1 - (T - t) / T_dn)^2)`` for ``t > T - T_dn``. ``"constant"``: 1 from
    ``start_iter`` on, 0 before. A pure function of ``t``: unlike the released code's
    ``_rampweight``, which returned 0 and cleared the IW flag for good at t <= 45 000 so that the
    IW loss never entered an uninterrupted run, nothing here latches the term off. The code's
    ramp-down (``exp(-12.5 (1 - (100000 - t) / 20000)^2)`` for t > 100 000) is unreachable in
    its 100k-iteration run; CSD, the ramp's source, ramps down over the last 20k iterations,
    which ``ramp_down_iters`` reproduces.

    Parameters
    ----------
    iteration : int
    total_iterations : int
    schedule : {"exp_ramp", "constant"}, default="exp_ramp"
    ramp_up_frac : float in [0, 1], default=0.45
    ramp_down_iters : int, default=0
    start_iter : int, default=0

    Returns
    -------
    r : float in [0, 1]

    Examples
    --------
    >>> from normgraph.nn.detection import casd_ramp
    >>> round(casd_ramp(225, 1000), 4), casd_ramp(450, 1000)
    (0.2865, 1.0)
    """
    t = check_int(iteration, "iteration", low=0)
    total = check_int(total_iterations, "total_iterations", low=1)
    schedule = check_choice(schedule, "schedule", ("exp_ramp", "constant"))
    up = check_real(ramp_up_frac, "ramp_up_frac", low=0.0, high=1.0) * total
    down = check_int(ramp_down_iters, "ramp_down_iters", low=0, high=total)
    start = check_int(start_iter, "start_iter", low=0)
    if schedule == "constant":
        return 1.0 if t >= start else 0.0
    if t < up:
        return math.exp(-5.0 * (1.0 - t / up) ** 2)
    if down and t > total - down:
        return math.exp(-12.5 * (1.0 - (total - t) / down) ** 2)
    return 1.0
