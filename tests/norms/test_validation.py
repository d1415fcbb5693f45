"""Validation of conv/linear layer settings: every bad input of the spec gets a clear error."""

import numpy as np
import pytest

from normgraph.norms._validation import (
    ConvGeometry,
    UnsupportedLayerError,
    as_float64_array,
    normalize_conv_args,
    normalize_linear_weight,
    normalize_p,
)


def test_geometry_fields_plain_conv():
    w, g = normalize_conv_args(np.ones((6, 2, 3, 5)), (6, 10, 12), stride=(2, 1),
                               padding=((1, 0), 2), dilation=(1, 2), groups=3)
    assert isinstance(g, ConvGeometry)
    assert g.ndim == 2 and g.in_channels == 6 and g.out_channels == 6 and g.groups == 3
    assert g.kernel_size == (3, 5) and g.input_shape == (10, 12)
    assert g.padding == ((1, 0), (2, 2)) and g.stride == (2, 1) and g.dilation == (1, 2)
    # m = floor((n + pl + pr - d(k-1) - 1)/s) + 1
    assert g.output_shape == ((10 + 1 - 2 - 1) // 2 + 1, (12 + 4 - 8 - 1) // 1 + 1)
    assert g.in_per_group == 2 and g.out_per_group == 2
    assert w.dtype == np.float64 and w.flags.c_contiguous


def test_same_valid_padding_and_full_shapes():
    _, g = normalize_conv_args(np.ones((2, 1, 4)), (5, 1, 9), padding="same", dilation=3)
    assert g.padding == ((4, 5),) and g.output_shape == (9,)
    _, g = normalize_conv_args(np.ones((2, 1, 4)), 9, padding="valid")
    assert g.padding == ((0, 0),) and g.output_shape == (6,)
    _, g = normalize_conv_args(np.ones((2, 1, 4)), (9,), padding=(1, 2))  # 1-D bare pair
    assert g.padding == ((1, 2),)


def test_transposed_geometry_and_adjoint():
    w, g = normalize_conv_args(np.ones((4, 3, 3, 2)), (5, 6), stride=(2, 3), padding=1,
                               groups=2, transposed=True, output_padding=(1, 2))
    assert g.in_channels == 4 and g.out_channels == 6
    assert g.output_shape == ((5 - 1) * 2 - 2 + 2 + 1 + 1, (6 - 1) * 3 - 2 + 1 + 2 + 1)
    a = g.adjoint_conv()
    assert not a.transposed and a.in_channels == 6 and a.out_channels == 4
    assert a.input_shape == g.output_shape and a.output_shape == g.input_shape


def test_torch_tensor_and_dtypes():
    torch = pytest.importorskip("torch")
    t = torch.arange(12, dtype=torch.float32).reshape(2, 2, 3).requires_grad_(True)
    w, _ = normalize_conv_args(t, 5)
    assert w.dtype == np.float64 and np.array_equal(w, np.arange(12.0).reshape(2, 2, 3))
    wi, _ = normalize_conv_args(np.arange(12).reshape(2, 2, 3), 5)  # integers are cast
    assert wi.dtype == np.float64
    with pytest.raises(TypeError, match="complex"):
        as_float64_array(torch.ones(2, 2, dtype=torch.complex64))
    for dt in (torch.bfloat16, torch.float16, torch.int32, torch.bool):  # no/odd NumPy dtypes
        a = as_float64_array(torch.ones(2, 3, dtype=dt))
        assert a.dtype == np.float64 and a.sum() == 6.0
    # float32 may be kept (kernels accumulate in float64), everything else still becomes float64
    assert as_float64_array(np.ones(3, np.float32), allow_float32=True).dtype == np.float32
    assert as_float64_array(np.ones(3, np.float16), allow_float32=True).dtype == np.float64


# ---- one test per row of the spec's bad-input table ---------------------------------------

def test_bad_weight_ndim():
    for shape in [(3,), (2, 2, 2, 2, 2, 2)]:
        with pytest.raises(ValueError, match="weight must have 3, 4 or 5 dims for Conv1d/2d/3d"):
            normalize_conv_args(np.ones(shape), 5)
    with pytest.raises(ValueError, match="linear_norm"):
        normalize_conv_args(np.ones((3, 3)), 5)
    with pytest.raises(ValueError, match="2 dims"):
        normalize_linear_weight(np.ones((2, 2, 2)))


def test_bad_input_shape():
    w = np.ones((4, 2, 3, 3))
    with pytest.raises(ValueError, match="input_shape is required"):
        normalize_conv_args(w, None)
    with pytest.raises(ValueError, match=r"\(5, 5, 5, 5, 5\).*\(4, 2, 3, 3\)"):
        normalize_conv_args(w, (5, 5, 5, 5, 5))
    with pytest.raises(ValueError, match=r"3 channels.*\(4, 2, 3, 3\).*expects 2"):
        normalize_conv_args(w, (3, 8, 8))
    with pytest.raises(ValueError, match="expects 4"):
        normalize_conv_args(w, (1, 2, 8, 8), groups=2)
    with pytest.raises(ValueError, match="positive"):
        normalize_conv_args(w, (0, 8))
    with pytest.raises(TypeError):
        normalize_conv_args(w, (8.5, 8))


def test_input_smaller_than_dilated_kernel():
    with pytest.raises(ValueError, match="input of size 4 is smaller than the dilated kernel"):
        normalize_conv_args(np.ones((1, 1, 3)), 4, dilation=2, padding=(0, 0))
    # padding rescues it
    _, g = normalize_conv_args(np.ones((1, 1, 3)), 4, dilation=2, padding=(1, 0))
    assert g.output_shape == (1,)


def test_bad_groups_stride_dilation_padding():
    with pytest.raises(ValueError, match="groups=3 does not divide"):
        normalize_conv_args(np.ones((4, 1, 3)), 5, groups=3)
    with pytest.raises(ValueError, match="groups=3 does not divide"):
        normalize_conv_args(np.ones((4, 1, 3)), 5, groups=3, transposed=True)
    with pytest.raises(ValueError, match="groups"):
        normalize_conv_args(np.ones((4, 1, 3)), 5, groups=0)
    with pytest.raises(ValueError, match="stride"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, stride=0)
    with pytest.raises(ValueError, match="dilation"):
        normalize_conv_args(np.ones((1, 1, 3, 3)), 5, dilation=(1, -1))
    with pytest.raises(ValueError, match="padding"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, padding=-1)
    with pytest.raises(ValueError, match="padding"):
        normalize_conv_args(np.ones((1, 1, 3, 3)), 5, padding=((1, -2), 0))
    with pytest.raises(ValueError, match="'same' requires stride 1"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, padding="same", stride=2)
    with pytest.raises(ValueError, match="padding"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, padding="full")
    with pytest.raises(ValueError, match="stride"):
        normalize_conv_args(np.ones((1, 1, 3, 3)), 5, stride=(1, 1, 1))
    with pytest.raises(TypeError, match="stride"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, stride=1.5)


def test_bad_padding_mode():
    with pytest.raises(ValueError, match="unsupported padding_mode 'mirror'"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, padding_mode="mirror")
    with pytest.raises(NotImplementedError, match="unsupported padding_mode 'circular'"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, padding_mode="circular", transposed=True)
    with pytest.raises(ValueError):  # PyTorch raises ValueError here: both are caught
        normalize_conv_args(np.ones((1, 1, 3)), 5, padding_mode="reflect", transposed=True)
    assert issubclass(UnsupportedLayerError, NotImplementedError)
    with pytest.raises(ValueError, match="transposed"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, padding="same", transposed=True)


def test_reflect_and_circular_padding_limits():
    with pytest.raises(ValueError, match="reflect padding"):
        normalize_conv_args(np.ones((1, 1, 3)), 3, padding=(3, 0), padding_mode="reflect")
    normalize_conv_args(np.ones((1, 1, 3)), 3, padding=(2, 2), padding_mode="reflect")
    with pytest.raises(ValueError, match="reflect padding"):
        normalize_conv_args(np.ones((1, 1, 1)), 1, padding=1, padding_mode="reflect")
    with pytest.raises(ValueError, match="circular padding"):
        normalize_conv_args(np.ones((1, 1, 5)), 3, padding=(0, 4), padding_mode="circular")
    normalize_conv_args(np.ones((1, 1, 5)), 3, padding=(3, 3), padding_mode="circular")


def test_bad_output_padding():
    with pytest.raises(ValueError, match="output_padding"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, stride=2, transposed=True, output_padding=2)
    normalize_conv_args(np.ones((1, 1, 3)), 5, dilation=3, transposed=True, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        normalize_conv_args(np.ones((1, 1, 3)), 5, stride=2, output_padding=1)


def test_nan_inf_weight():
    for bad in (np.nan, np.inf, -np.inf):
        w = np.ones((2, 1, 3))
        w[1, 0, 2] = bad
        with pytest.raises(ValueError, match="weight contains NaN/inf"):
            normalize_conv_args(w, 5)
        with pytest.raises(ValueError, match="weight contains NaN/inf"):
            normalize_linear_weight(w[:, 0, :])


def test_complex_and_non_numeric_dtypes():
    with pytest.raises(TypeError, match="complex"):
        normalize_conv_args(np.ones((2, 1, 3), dtype=complex), 5)
    with pytest.raises(TypeError, match="must hold real numbers"):  # the shared dtype check
        normalize_conv_args(np.array([[["a"]]]), 5)
    w, _ = normalize_conv_args(np.ones((2, 1, 3), dtype=np.int8), 5)
    assert w.dtype == np.float64


def test_bad_p():
    assert normalize_p(1) == 1 and normalize_p("2") == 2 and normalize_p(np.inf) == np.inf
    assert normalize_p(float("inf")) == np.inf and normalize_p("fro") == "fro"
    for bad in (3, 0, -1, "max", None, True, 1.5):
        with pytest.raises(ValueError, match="p must be one of"):
            normalize_p(bad)


def test_empty_weight():
    with pytest.raises(ValueError, match="empty"):
        normalize_conv_args(np.ones((0, 1, 3)), 5)
