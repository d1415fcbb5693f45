"""The embedded multi-view data set: scikit-learn's handwritten digits seen four ways.

scikit-learn ships 1797 8x8 grey-level digit images (values 0..16). Each view below is a
different, deterministic description of the same image, computed here:

``pixels`` (64)
    The raw grey levels, row-major.
``gradient_hist`` (32)
    Histograms of gradient orientation: central-difference gradients, 8
    orientation bins over [0, 2*pi) weighted by gradient magnitude, one histogram per 4x4
    quadrant (4 quadrants x 8 bins). Captures stroke direction, blind to absolute intensity
    placement inside a quadrant.
``fourier`` (40)
    Magnitudes of the 2-D discrete Fourier transform on the non-redundant half plane (8 x 5
    coefficients). Invariant to circular shifts of the image, unlike the pixels.
``profile`` (32)
    Row sums (8), column sums (8) and 2x2-block means of the image downsampled to 4x4 (16):
    a coarse ink-distribution profile.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_digits_multiview"]

_VIEW_NAMES = ("pixels", "gradient_hist", "fourier", "profile")


def _gradient_orientation_histograms(images, n_bins=8):
    gy, gx = np.gradient(images, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), 2 * np.pi)
    bins = np.minimum((angle / (2 * np.pi) * n_bins).astype(np.int64), n_bins - 1)
    n = images.shape[0]
    out = np.zeros((n, 2, 2, n_bins))
    for qi in range(2):
        for qj in range(2):
            rows = slice(4 * qi, 4 * qi + 4)
            cols = slice(4 * qj, 4 * qj + 4)
            b = bins[:, rows, cols].reshape(n, -1)
            w = magnitude[:, rows, cols].reshape(n, -1)
            for k in range(n_bins):
                out[:, qi, qj, k] = np.sum(np.where(b == k, w, 0.0), axis=1)
    return out.reshape(n, -1)


def _fourier_magnitudes(images):
    spectrum = np.fft.rfft2(images, axes=(1, 2))  # (n, 8, 5): non-redundant half plane
    return np.abs(spectrum).reshape(images.shape[0], -1)


def _profiles(images):
    n = images.shape[0]
    row_sums = images.sum(axis=2)
    col_sums = images.sum(axis=1)
    blocks = images.reshape(n, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(n, -1)
    return np.hstack([row_sums, col_sums, blocks])


def load_digits_multiview():
    """Load scikit-learn's bundled digits as a four-view data set (no files, no network).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``views`` (list of four float64 arrays: pixels (1797, 64), gradient_hist (1797, 32),
        fourier (1797, 40), profile (1797, 32)), ``target`` ((1797,) int64 in 0..9),
        ``view_names``, ``n_clusters`` (10), ``metric`` ("sqeuclidean"), ``name`` and
        ``DESCR``.

    Examples
    --------
    >>> from normgraph.datasets import load_digits_multiview
    >>> data = load_digits_multiview()
    >>> [v.shape[1] for v in data.views], data.n_clusters
    ([64, 32, 40, 32], 10)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float64)
    views = [
        np.ascontiguousarray(images.reshape(images.shape[0], -1)),
        _gradient_orientation_histograms(images),
        _fourier_magnitudes(images),
        _profiles(images),
    ]
    return Bunch(
        views=views,
        target=digits.target.astype(np.int64),
        view_names=list(_VIEW_NAMES),
        n_clusters=10,
        metric="sqeuclidean",
        name="digits_multiview",
        DESCR=__doc__,
    )
