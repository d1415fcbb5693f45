"""Brute-force references for testing norm computations (small layers only).

``conv_matrix`` builds the explicit (sparse) operator matrix of a convolution layer from its
definition, so that any norm can be checked against ``scipy``/``numpy`` on the matrix:
``abs(T).sum(0).max()`` is the l1 norm, ``abs(T).sum(1).max()`` the l-inf norm and the
largest singular value of ``T.toarray()`` the l2 norm.
"""

from __future__ import annotations

import math

from .._utils.validation import check_allocation
from ._dense import conv_matrix_from_geometry
from ._validation import normalize_conv_args

__all__ = ["conv_matrix", "exact_l1_projection"]


def conv_matrix(weight, input_shape, stride=1, padding=0, dilation=1, groups=1,
                padding_mode="zeros", transposed=False, output_padding=0):
    """The explicit operator matrix of a (transposed) convolution layer, bias ignored.

    Parameters
    ----------
    weight : ndarray or torch.Tensor of ndim 3, 4 or 5
        PyTorch layout: ``(C_out, C_in/groups, *k)`` for ``ConvNd``,
        ``(C_in, C_out/groups, *k)`` for ``ConvTransposeNd``.
    input_shape : int or tuple of int
        Spatial input size (or a full ``(C, *spatial)`` shape).
    stride, padding, dilation, groups, padding_mode, transposed, output_padding
        As in :func:`normgraph.norms.conv_norm` (and PyTorch).

    Returns
    -------
    T : scipy.sparse.csr_matrix of shape (C_out * prod(output_shape), C_in * prod(input_shape))
        ``T @ x.ravel() == layer(x).ravel()`` for an input ``x`` of shape ``(C_in, *spatial)``
        (PyTorch cross-correlation; coincident taps add).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms.testing import conv_matrix
    >>> T = conv_matrix(np.array([[[1.0, 2.0, 3.0]]]), 3, padding=1, padding_mode="replicate")
    >>> T.toarray()
    array([[3., 3., 0.],
           [1., 2., 3.],
           [0., 1., 5.]])
    >>> float(abs(T).sum(axis=0).max()), float(abs(T).sum(axis=1).max())
    (8.0, 6.0)
    """
    w, geom = normalize_conv_args(weight, input_shape, stride, padding, dilation, groups,
                                  padding_mode, transposed, output_padding)
    conv = geom.adjoint_conv() if geom.transposed else geom
    triplets = w.size * math.prod(conv.output_shape)
    check_allocation(5 * triplets, "input_shape", what="the explicit operator matrix")
    return conv_matrix_from_geometry(w, geom)


def exact_l1_projection(y, radius):
    """Euclidean projection onto the l1 ball in exact rational arithmetic (a test reference).

    The sort-based rule of Duchi et al. (ICML 2008), transcribed with :class:`fractions.Fraction`
    so that no rounding enters: the reference for :func:`normgraph.norms.project_l1_ball` at any
    magnitude (every finite float is an exact fraction).

    Parameters
    ----------
    y : sequence of float
        The point to project.
    radius : float
        Radius of the ball, ``>= 0``.

    Returns
    -------
    x : list of numbers
        The projection, entry by entry: exact fractions when ``y`` lies inside the ball, else
        each exact entry rounded once to float.

    Examples
    --------
    >>> from normgraph.norms.testing import exact_l1_projection
    >>> [float(v) for v in exact_l1_projection([3.0, -1.0, 0.5], 2.0)]
    [2.0, -0.0, 0.0]
    """
    from fractions import Fraction

    a = [abs(Fraction(v)) for v in y]
    r = Fraction(radius)
    if sum(a) <= r:
        return [Fraction(v) for v in y]
    if r == 0:
        return [Fraction(0)] * len(a)
    css, tau = Fraction(0), None
    for i, ui in enumerate(sorted(a, reverse=True), start=1):
        css += ui
        if ui - (css - r) / i > 0:
            tau = (css - r) / i
    # the exact shrunk magnitude, signed and rounded once to float
    return [math.copysign(1, v) * max(abs(Fraction(v)) - tau, 0) for v in y]
