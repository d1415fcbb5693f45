"""The RSC presets: keyword arguments of :func:`rsc_mask` that reproduce a reference code."""

from __future__ import annotations

from ..._utils.validation import check_choice

__all__ = ["rsc_preset", "PRESETS", "PRESET_SCHEDULES"]

#: Keyword arguments of ``rsc_mask`` per preset (the batch fraction is the epoch-0 value).
PRESETS = {
    # Official DG code, current HEAD: a per-batch spatial/channel draw, ceil(HW/3) positions or
    # ceil(C/3.2) channels above the k-th score (strict >), eps 1e-4, clamp, curriculum 0.3 ...
    "official_dg": dict(mode="random", feature_drop=1 / 3, channel_drop=1 / 3.2, batch_drop=0.3,
                        eps=1e-4, clamp=True, selection="threshold", drop_rounding="ceil"),
    # Sep 2020 commit: int(C/3) channels (strict >), fixed 1/3 of the batch, eps 1e-5. The
    # layer-3 spatial gradient of that commit is not implemented (layer-4 CAM instead), and its
    # spatial rule (>= the value at index int(HW/3), 17 of 49) becomes int(HW/3) = 16 of 49.
    "paper_v1": dict(mode="random", feature_drop=1 / 3, channel_drop=1 / 3, batch_drop=1 / 3,
                     eps=1e-5, clamp=True, selection="threshold", drop_rounding="floor"),
    # DomainBed: pooled vector, raw gradient, np.percentile thresholds, no eps, no clamp.
    "domainbed": dict(mode="vector", feature_drop=1 / 3, channel_drop=None, batch_drop=1 / 3,
                      eps=0.0, clamp=False, selection="percentile", drop_rounding="ceil"),
    # Official ImageNet code: spatial only, int(HW/3) positions drawn at random among those
    # above the median; batch fraction by the "imagenet" schedule (1/6 at first).
    "imagenet": dict(mode="spatial", feature_drop=1 / 3, channel_drop=None, batch_drop=1 / 6,
                     eps=1e-4, clamp=True, selection="random_above_median",
                     drop_rounding="floor"),
}

#: The batch-fraction schedule (an ``RSCSchedule`` kind) of each preset.
PRESET_SCHEDULES = {"official_dg": "official_curriculum", "paper_v1": "constant",
                    "domainbed": "constant", "imagenet": "imagenet"}


def rsc_preset(name):
    """The :func:`rsc_mask` keyword arguments of a preset (a fresh dict).

    Parameters
    ----------
    name : {"official_dg", "paper_v1", "domainbed", "imagenet"}

    Returns
    -------
    kwargs : dict
        ``mode``, ``feature_drop``, ``channel_drop``, ``batch_drop`` (its epoch-0 value; see
        ``PRESET_SCHEDULES``), ``eps``, ``clamp``, ``selection`` and ``drop_rounding``.

    Examples
    --------
    >>> from normgraph.nn.rsc import rsc_preset
    >>> p = rsc_preset("official_dg")
    >>> p["mode"], p["channel_drop"], p["selection"]
    ('random', 0.3125, 'threshold')
    """
    check_choice(name, "preset", tuple(PRESETS))
    return dict(PRESETS[name])
