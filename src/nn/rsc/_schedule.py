"""``RSCSchedule``: the fraction of the batch challenged, as a function of the epoch."""

from __future__ import annotations

from ..._utils.validation import check_choice, check_int, check_real

__all__ = ["RSCSchedule", "SCHEDULE_KINDS"]

SCHEDULE_KINDS = ("official_curriculum", "imagenet", "constant")

#: ImageNet code: (last epoch of the step, fraction); later epochs use 1/4.
_IMAGENET_STEPS = ((18, 1 / 6), (38, 1 / 5.5), (58, 1 / 5), (78, 1 / 4.5))


class RSCSchedule:
    """The batch fraction ``batch_drop`` of RSC per epoch.

    * ``"official_curriculum"`` (official DG code, current HEAD): ``0.3 + 0.2 * (epoch // 10)``,
      clamped at 0.9 (the official code reaches 1.1 at epoch 40 and then fails to index);
    * ``"imagenet"`` (official ImageNet code): 1/6 up to epoch 18, 1/5.5 up to 38, 1/5 up to
      58, 1/4.5 up to 78, then 1/4;
    * ``"constant"``: ``value`` at every epoch.

    Parameters
    ----------
    kind : {"official_curriculum", "imagenet", "constant"}, default="official_curriculum"
    value : float, default=1/3
        The constant fraction, in (0, 1); used by ``"constant"`` only.

    Examples
    --------
    >>> from normgraph.nn.rsc import RSCSchedule
    >>> s = RSCSchedule("official_curriculum")
    >>> [round(s(e), 6) for e in (0, 9, 10, 19, 20, 45)]
    [0.3, 0.3, 0.5, 0.5, 0.7, 0.9]
    >>> round(RSCSchedule("imagenet")(20), 4)
    0.1818
    """

    def __init__(self, kind="official_curriculum", value=1 / 3):
        self.kind = kind
        self.value = value

    def __call__(self, epoch):
        kind = check_choice(self.kind, "kind", SCHEDULE_KINDS)
        epoch = check_int(epoch, "epoch", low=0)
        if kind == "constant":
            return check_real(self.value, "value", low=0.0, high=1.0, low_inclusive=False,
                              high_inclusive=False)
        if kind == "official_curriculum":
            return min(0.3 + 0.2 * (epoch // 10), 0.9)
        for last, fraction in _IMAGENET_STEPS:
            if epoch <= last:
                return fraction
        return 1 / 4

    def __repr__(self):
        extra = f", value={self.value!r}" if self.kind == "constant" else ""
        return f"RSCSchedule({self.kind!r}{extra})"
