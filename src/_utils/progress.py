"""Progress reporting for long loops: one tqdm wrapper that every ``verbose`` option uses."""

from __future__ import annotations

__all__ = ["progress"]


def progress(iterable=None, *, verbose=False, desc=None, total=None, **kwargs):
    """Wrap an iterable in a tqdm progress bar when ``verbose`` is truthy.

    Parameters
    ----------
    iterable : iterable or None
        What to iterate over. ``None`` gives a manually updated bar (``bar.update(n)``).
    verbose : bool or int, default=False
        Show the bar only when truthy; otherwise a silent bar with the same interface is returned.
    desc : str, optional
        Label in front of the bar.
    total : int, optional
        Number of expected iterations.
    **kwargs
        Passed to :class:`tqdm.tqdm`.

    Returns
    -------
    tqdm.tqdm
        Iterate over it or call ``update``; ``set_postfix`` works in both modes.

    Examples
    --------
    >>> from normgraph._utils.progress import progress
    >>> sum(progress(range(4), verbose=False))
    6
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not verbose, leave=False, **kwargs)
