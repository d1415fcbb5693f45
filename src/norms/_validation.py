"""Validation of layer weights and convolution settings (the public boundary of ``norms``).

Everything downstream (pattern builders, contractions, the dense reference, the l2 code)
receives a C-contiguous, finite float64 weight and a :class:`ConvGeometry` whose every
field is a plain tuple of Python ints, so kernels never re-check their inputs.

Conventions of :class:`ConvGeometry`
------------------------------------
For an ordinary convolution (``transposed=False``) ``in_channels``/``out_channels`` and
``input_shape``/``output_shape`` are those of the layer (PyTorch ``ConvNd``).

For a transposed convolution (``transposed=True``) they are again those of the layer
itself: ``in_channels = weight.shape[0]``, ``out_channels = weight.shape[1] * groups``,
``input_shape = n`` (what the layer receives) and ``output_shape = N`` with
``N = (n - 1) s - pl - pr + d (k - 1) + output_padding + 1``. Its matrix is the
transpose of the matrix of the zero-padded convolution returned by
:meth:`ConvGeometry.adjoint_conv` (same weight array read as a conv weight, input size N,
same stride/padding/dilation/groups, only the first ``n`` outputs per axis kept).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np

from .._utils.validation import check_bool, check_choice, check_int, check_numeric_dtype

__all__ = [
    "ConvGeometry",
    "PADDING_MODES",
    "UnsupportedLayerError",
    "as_float64_array",
    "check_finite",
    "normalize_conv_args",
    "normalize_linear_weight",
    "normalize_p",
]

PADDING_MODES = ("zeros", "circular", "reflect", "replicate")
# Largest per-axis size or setting (input length, stride, dilation, padding): the landing
# arithmetic ``o * s - pl + a * d`` is done in int64.
MAX_AXIS = 1 << 48


class UnsupportedLayerError(ValueError, NotImplementedError):
    """A layer setting that PyTorch itself rejects or that has no defined operator here.

    Subclasses both ``ValueError`` (what PyTorch raises for, e.g., a non-zeros
    ``padding_mode`` of a transposed convolution) and ``NotImplementedError``.

    Examples
    --------
    >>> from normgraph.norms._validation import UnsupportedLayerError
    >>> issubclass(UnsupportedLayerError, ValueError)
    True
    """


@dataclass(frozen=True)
class ConvGeometry:
    """The shape-level description of a convolution layer (weights excluded).

    Parameters
    ----------
    ndim : int
        Number of spatial axes D (1, 2 or 3).
    in_channels, out_channels, groups : int
        Channels of the layer's input and output, and the number of groups.
    kernel_size : tuple of int
        Spatial kernel size per axis.
    input_shape, output_shape : tuple of int or None
        Spatial sizes of the layer's input and output (``None`` when no input size was
        given, for size-free methods).
    stride, dilation : tuple of int
        Per-axis stride and dilation.
    padding : tuple of (int, int)
        Per-axis (left, right) padding amounts.
    padding_mode : {"zeros", "circular", "reflect", "replicate"}
    transposed : bool
        Whether the layer is a ``ConvTransposeNd``.
    output_padding : tuple of int
        Per-axis extra size on one side of a transposed convolution's output (zeros when
        ``transposed`` is false).

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import normalize_conv_args
    >>> w, g = normalize_conv_args(np.ones((4, 2, 3, 3)), (8, 8), stride=2, padding=1)
    >>> g.output_shape, g.padding
    ((4, 4), ((1, 1), (1, 1)))
    """

    ndim: int
    in_channels: int
    out_channels: int
    groups: int
    kernel_size: tuple
    input_shape: tuple | None
    output_shape: tuple | None
    stride: tuple
    dilation: tuple
    padding: tuple
    padding_mode: str
    transposed: bool
    output_padding: tuple

    @property
    def in_per_group(self):
        """Input channels per group (``weight.shape[1]`` of a non-transposed conv)."""
        return self.in_channels // self.groups

    @property
    def out_per_group(self):
        """Output channels per group."""
        return self.out_channels // self.groups

    @property
    def effective_kernel_size(self):
        """Per-axis span ``d (k - 1) + 1`` of the dilated kernel."""
        return tuple(d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel_size))

    def adjoint_conv(self):
        """The ordinary convolution whose matrix is the transpose of this layer's matrix.

        For a transposed layer: same weight array read as a ConvNd weight (``weight.shape[0]``
        outputs), input size ``output_shape`` (N), zero padding, and ``output_shape`` set to
        the first ``input_shape`` (n) outputs per axis. For an ordinary layer this is
        ``self``.

        Examples
        --------
        >>> import numpy as np
        >>> from normgraph.norms._validation import normalize_conv_args
        >>> w, g = normalize_conv_args(np.ones((2, 3, 3)), (5,), stride=2, transposed=True,
        ...                            output_padding=1)
        >>> g.output_shape, g.adjoint_conv().input_shape, g.adjoint_conv().output_shape
        ((12,), (12,), (5,))
        """
        if not self.transposed:
            return self
        return replace(
            self,
            in_channels=self.out_channels,
            out_channels=self.in_channels,
            input_shape=self.output_shape,
            output_shape=self.input_shape,
            transposed=False,
            output_padding=(0,) * self.ndim,
        )


def _is_torch(obj):
    return type(obj).__module__.split(".")[0] == "torch"


def as_float64_array(weight, name="weight", allow_float32=False):
    """Return ``weight`` (numpy array, torch tensor or array-like) as a float64 ndarray.

    Torch tensors are detached and copied to the CPU; integer and boolean dtypes are cast,
    complex dtypes raise ``TypeError``. Torch is imported only when ``weight`` is a tensor.
    With ``allow_float32=True`` a float32 input is kept as float32 (for kernels that read it
    and accumulate in float64: same result, half the memory traffic).

    Examples
    --------
    >>> from normgraph.norms._validation import as_float64_array
    >>> as_float64_array([[1, 2]]).dtype
    dtype('float64')
    """
    if _is_torch(weight):
        import torch

        if not isinstance(weight, torch.Tensor):
            raise TypeError(f"{name} must be an array or tensor, got {type(weight).__name__}")
        if weight.is_complex():
            raise TypeError(f"{name} has complex dtype {weight.dtype}; pass real-valued weights")
        t = weight.detach().cpu()
        try:
            # NumPy's cast is several times faster than torch's CPU dtype conversion
            arr = t.numpy()
        except (TypeError, RuntimeError):  # bfloat16, float8, ...: no NumPy counterpart
            arr = t.to(dtype=torch.float64).numpy()
    else:
        if weight is None or isinstance(weight, (str, bytes)):
            raise TypeError(f"{name} must be an array or tensor, got {type(weight).__name__}")
        if hasattr(weight, "tocsr"):  # a SciPy sparse matrix: no layer weight is stored so
            raise TypeError(f"{name} must be a dense array or tensor; got a sparse "
                            f"{type(weight).__name__}, densify it with .toarray()")
        check_numeric_dtype(weight, name)  # complex, object, strings: TypeError naming it
        arr = np.asarray(weight)
    if allow_float32 and arr.dtype == np.float32:
        return np.asarray(arr, order="C")  # keeps 0-d input 0-d
    return np.asarray(arr, dtype=np.float64, order="C")


def check_finite(arr, name="weight"):
    """Raise ``ValueError`` if ``arr`` holds NaN or infinite entries.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import check_finite
    >>> check_finite(np.array([1.0, np.nan]))
    Traceback (most recent call last):
    ...
    ValueError: weight contains NaN/inf (1 non-finite entries)
    """
    # One SIMD pass: a finite sum proves every entry finite (NaN and inf propagate); only an
    # overflowing or non-finite sum needs the element-wise check.
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(arr)
    if np.isfinite(total):
        return
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains NaN/inf ({bad} non-finite entries)")


def normalize_p(p, allowed=(1, 2, np.inf, "fro")):
    """Canonicalise the norm order: returns ``1``, ``2``, ``inf`` (float) or ``"fro"``.

    Examples
    --------
    >>> from normgraph.norms._validation import normalize_p
    >>> normalize_p("inf"), normalize_p(1.0), normalize_p("fro")
    (inf, 1, 'fro')
    """
    q = p
    if isinstance(q, str):
        key = q.strip().lower()
        q = {"1": 1, "2": 2, "inf": np.inf, "infinity": np.inf, "fro": "fro"}.get(key, None)
    elif isinstance(q, (bool, np.bool_)):
        q = None
    elif isinstance(q, numbers.Real):
        q = float(q)
        q = 1 if q == 1 else 2 if q == 2 else np.inf if q == np.inf else None
    else:
        q = None
    if q is None or q not in allowed:
        names = ", ".join("inf" if a == np.inf else repr(a) for a in allowed)
        raise ValueError(f"p must be one of {names} (or the strings '1', '2', 'inf'), got {p!r}")
    return q


def _per_axis(value, name, D, low):
    if isinstance(value, (tuple, list, np.ndarray)):
        value = tuple(value)
        if len(value) != D:
            raise ValueError(f"{name} must be an int or a tuple of {D} ints, got {value!r}")
        return tuple(check_int(v, name, low=low, high=MAX_AXIS) for v in value)
    return (check_int(value, name, low=low, high=MAX_AXIS),) * D


def _parse_padding(padding, D, kernel_size, stride, dilation, transposed):
    if isinstance(padding, str):
        key = padding.lower()
        if transposed:
            raise ValueError(
                f"padding={padding!r} is not supported for transposed convolutions "
                "(PyTorch accepts only integer padding there)"
            )
        if key == "valid":
            return ((0, 0),) * D
        if key == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"padding='same' requires stride 1 on every axis, got stride {stride}")
            pads = []
            for k, d in zip(kernel_size, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    if isinstance(padding, (tuple, list, np.ndarray)):
        items = tuple(padding)
        # A bare (left, right) pair for a 1-D conv is unambiguous: a per-axis tuple has length 1.
        if D == 1 and len(items) == 2 and all(not isinstance(v, (tuple, list)) for v in items):
            items = (items,)
        if len(items) != D:
            raise ValueError(
                f"padding must be an int, a tuple of {D} ints or a tuple of {D} (left, right) "
                f"pairs, got {padding!r}"
            )
        pads = []
        for v in items:
            if isinstance(v, (tuple, list, np.ndarray)):
                if len(v) != 2:
                    raise ValueError(f"each padding pair must be (left, right), got {v!r}")
                pads.append((check_int(v[0], "padding", low=0, high=MAX_AXIS),
                             check_int(v[1], "padding", low=0, high=MAX_AXIS)))
            else:
                p = check_int(v, "padding", low=0, high=MAX_AXIS)
                pads.append((p, p))
        return tuple(pads)
    p = check_int(padding, "padding", low=0, high=MAX_AXIS)
    return ((p, p),) * D


def _parse_input_shape(input_shape, D, in_channels, weight_shape, groups):
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
        shape = (check_int(input_shape, "input_shape"),) * D
    elif isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
        raise TypeError(f"input_shape must be an int or a tuple of ints, got {input_shape!r}")
    else:
        shape = tuple(check_int(v, "input_shape") for v in input_shape)
    if len(shape) == D:
        spatial = shape
    elif len(shape) in (D + 1, D + 2):
        channels = shape[-D - 1]
        if channels != in_channels:
            raise ValueError(
                f"input_shape {shape} has {channels} channels but the weight of "
                f"shape {tuple(weight_shape)} with groups={groups} expects {in_channels}"
            )
        spatial = shape[-D:]
    else:
        raise ValueError(
            f"input_shape {shape} does not match the weight of shape "
            f"{tuple(weight_shape)}: expected {D} spatial sizes, optionally preceded by the "
            f"channel count {in_channels} (and a batch size)"
        )
    if any(n < 1 for n in spatial):
        raise ValueError(f"input_shape must have positive spatial sizes, got {shape}")
    if any(n > MAX_AXIS for n in spatial):
        raise ValueError(f"input_shape must have spatial sizes <= {MAX_AXIS}, got {shape}")
    return tuple(spatial)


def normalize_conv_args(weight, input_shape, stride=1, padding=0, dilation=1, groups=1,
                        padding_mode="zeros", transposed=False, output_padding=0,
                        require_input_shape=True, allow_float32=False, finite=True):
    """Validate a convolution layer and return ``(weight_float64, geometry)``.

    Parameters
    ----------
    weight : ndarray or torch.Tensor of ndim 3, 4 or 5
        ``(C_out, C_in/groups, *k)`` for ``ConvNd``, ``(C_in, C_out/groups, *k)`` for
        ``ConvTransposeNd`` (PyTorch layouts).
    input_shape : int or tuple of int or None
        Spatial sizes of the layer input: an int (same on every axis), a D-tuple, or a
        full ``(C, *spatial)`` / ``(B, C, *spatial)`` shape whose C is checked.
    stride, dilation : int or tuple of int, default=1
    padding : int, tuple of int, tuple of (left, right) pairs, "same" or "valid", default=0
    groups : int, default=1
    padding_mode : {"zeros", "circular", "reflect", "replicate"}, default="zeros"
    transposed : bool, default=False
    output_padding : int or tuple of int, default=0
        Only for transposed convolutions; must be ``< max(stride, dilation)`` per axis.
    require_input_shape : bool, default=True
        If false, ``input_shape=None`` is allowed (size-free methods) and the geometry then
        has ``input_shape = output_shape = None``.
    allow_float32 : bool, default=False
        Return a float32 weight as float32 (see ``as_float64_array``).
    finite : bool, default=True
        Check the weight for NaN/inf. Only callers that check it themselves (the fused l1/l-inf
        kernels do, for free) may pass ``False``.

    Returns
    -------
    weight : ndarray of float64 (or float32 when allowed), C-contiguous
    geometry : ConvGeometry

    Raises
    ------
    TypeError
        Complex or non-numeric weight, non-integer settings.
    ValueError
        Every bad input of the specification (wrong ndim, shape mismatch, NaN/inf,
        settings PyTorch rejects, an input smaller than the dilated kernel).
    UnsupportedLayerError
        A non-zeros ``padding_mode`` for a transposed convolution.

    Examples
    --------
    >>> import numpy as np
    >>> from normgraph.norms._validation import normalize_conv_args
    >>> w, g = normalize_conv_args(np.ones((8, 1, 3, 3), dtype=np.float32), (4, 16, 16),
    ...                            padding="same", groups=4)
    >>> w.dtype, g.in_channels, g.out_channels, g.output_shape
    (dtype('float64'), 4, 8, (16, 16))
    """
    w = as_float64_array(weight, "weight", allow_float32)
    if w.ndim not in (3, 4, 5):
        extra = " (a 2-D weight is a Linear layer: use linear_norm)" if w.ndim == 2 else ""
        raise ValueError(
            f"weight must have 3, 4 or 5 dims for Conv1d/2d/3d, got {w.ndim} dims with shape "
            f"{w.shape}{extra}"
        )
    if w.size == 0:
        raise ValueError(f"weight is empty (shape {w.shape})")
    if finite:
        check_finite(w, "weight")
    D = w.ndim - 2
    transposed = check_bool(transposed, "transposed")
    groups = check_int(groups, "groups", low=1)
    kernel_size = tuple(int(k) for k in w.shape[2:])

    if transposed:
        in_channels = w.shape[0]
        if in_channels % groups:
            raise ValueError(
                f"groups={groups} does not divide the {in_channels} input channels of the "
                f"transposed weight of shape {w.shape}"
            )
        out_channels = w.shape[1] * groups
    else:
        out_channels = w.shape[0]
        if out_channels % groups:
            raise ValueError(
                f"groups={groups} does not divide the {out_channels} output channels of the "
                f"weight of shape {w.shape}"
            )
        in_channels = w.shape[1] * groups

    stride = _per_axis(stride, "stride", D, 1)
    dilation = _per_axis(dilation, "dilation", D, 1)
    try:
        check_choice(padding_mode, "padding_mode", PADDING_MODES)  # TypeError for non-strings
    except ValueError as exc:
        raise ValueError(f"unsupported padding_mode {padding_mode!r}: {exc}") from None
    if transposed and padding_mode != "zeros":
        raise UnsupportedLayerError(
            f"unsupported padding_mode {padding_mode!r} for a transposed convolution: only "
            "'zeros' is supported (as in PyTorch's ConvTransposeNd)"
        )
    padding = _parse_padding(padding, D, kernel_size, stride, dilation, transposed)
    output_padding = _per_axis(output_padding, "output_padding", D, 0)
    if transposed:
        for op, s, d in zip(output_padding, stride, dilation):
            if op >= max(s, d):
                raise ValueError(
                    f"output_padding {output_padding} must be smaller than max(stride, dilation) "
                    f"on every axis (stride {stride}, dilation {dilation})"
                )
    elif any(output_padding):
        raise ValueError("output_padding is only defined for transposed convolutions")

    if input_shape is None:
        if require_input_shape:
            raise ValueError(
                f"input_shape is required for the weight of shape {w.shape}: the operator norm "
                "of a convolution depends on the input size"
            )
        spatial = out_spatial = None
    else:
        spatial = _parse_input_shape(input_shape, D, in_channels, w.shape, groups)
        for n, (pl, pr) in zip(spatial, padding):
            if padding_mode == "reflect" and (pl >= n or pr >= n):
                raise ValueError(
                    f"reflect padding {(pl, pr)} must be smaller than the input size {n} "
                    "(PyTorch rejects it too)"
                )
            if padding_mode == "circular" and (pl > n or pr > n):
                raise ValueError(
                    f"circular padding {(pl, pr)} must not exceed the input size {n} "
                    "(PyTorch rejects it too)"
                )
        if transposed:
            out_spatial = tuple(
                (n - 1) * s - pl - pr + d * (k - 1) + op + 1
                for n, s, (pl, pr), d, k, op in zip(spatial, stride, padding, dilation,
                                                     kernel_size, output_padding)
            )
            if any(N > MAX_AXIS for N in out_spatial):
                raise ValueError(
                    f"transposed convolution output size {out_spatial} exceeds {MAX_AXIS} for "
                    f"input_shape {spatial} and stride {stride}")
            if any(N < 1 for N in out_spatial):
                raise ValueError(
                    f"transposed convolution output size {out_spatial} is not positive for input "
                    f"{spatial}, padding {padding}"
                )
        else:
            out_spatial = []
            for n, s, (pl, pr), d, k in zip(spatial, stride, padding, dilation, kernel_size):
                span = d * (k - 1) + 1
                if n + pl + pr < span:
                    raise ValueError(
                        f"input of size {n} is smaller than the dilated kernel (size {span}, "
                        f"kernel {k}, dilation {d}) after padding {(pl, pr)}"
                    )
                out_spatial.append((n + pl + pr - span) // s + 1)
            out_spatial = tuple(out_spatial)

    geom = ConvGeometry(
        ndim=D, in_channels=int(in_channels), out_channels=int(out_channels), groups=groups,
        kernel_size=kernel_size, input_shape=spatial, output_shape=out_spatial, stride=stride,
        dilation=dilation, padding=padding, padding_mode=padding_mode, transposed=transposed,
        output_padding=output_padding,
    )
    return w, geom


def normalize_linear_weight(weight, allow_float32=False):
    """Validate a Linear weight ``(out_features, in_features)`` and return it as float64.

    Examples
    --------
    >>> from normgraph.norms._validation import normalize_linear_weight
    >>> normalize_linear_weight([[1, -2], [3, 4]]).shape
    (2, 2)
    """
    w = as_float64_array(weight, "weight", allow_float32)
    if w.ndim != 2:
        raise ValueError(
            f"a Linear weight must have 2 dims (out_features, in_features), got {w.ndim} dims "
            f"with shape {w.shape}"
        )
    if w.size == 0:
        raise ValueError(f"weight is empty (shape {w.shape})")
    check_finite(w, "weight")
    return w
