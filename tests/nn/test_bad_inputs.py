"""Spec section 6 for the quantized layers: TypeError for a wrong type, ValueError for a bad
value, naming the parameter; NaN propagates; extreme magnitudes give the scaled answer."""

import math

import pytest
import torch

from normgraph.nn.quant import (
    DoReFaWeight,
    LSQAct,
    LSQConv2d,
    LSQWeight,
    N2UQAct,
    N2UQConv2d,
    N2UQWeight,
    PACTAct,
    PACTConv2d,
    QuantResNet,
    lsq_quantize,
    n2uq_act,
    pact_quantize,
    quantized_resnet,
    to_integer,
)

BIT_MODULES = [N2UQAct, N2UQWeight, LSQAct, PACTAct, DoReFaWeight,
               lambda n_bits: N2UQConv2d(2, 2, 3, n_bits=n_bits),
               lambda n_bits: PACTConv2d(2, 2, 3, n_bits=n_bits),
               lambda n_bits: quantized_resnet(18, n_bits=n_bits, num_classes=2)]


@pytest.mark.parametrize("make", BIT_MODULES)
@pytest.mark.parametrize("n_bits", [0, 9, -1])
def test_n_bits_outside_one_to_eight(make, n_bits):
    with pytest.raises(ValueError, match="n_bits"):
        make(n_bits=n_bits)


@pytest.mark.parametrize("make", BIT_MODULES)
def test_n_bits_wrong_type(make):
    with pytest.raises(TypeError, match="n_bits must be an integer"):
        make(n_bits=2.0)


@pytest.mark.parametrize("make", [LSQWeight, lambda n_bits: LSQAct(n_bits, signed=True),
                                  lambda n_bits: LSQConv2d(2, 2, 3, n_bits=n_bits),
                                  lambda n_bits: quantized_resnet(18, n_bits, "lsq")])
def test_signed_lsq_needs_two_bits(make):
    with pytest.raises(ValueError, match=r"n_bits must be >= 2.*Q_P = 2\*\*0 - 1 = 0"):
        make(n_bits=1)


def test_unsigned_lsq_at_one_bit_is_valid():
    q = LSQAct(1)
    out = q(torch.tensor([[0.0, 0.2, 0.9, 2.0]]))
    assert set((out / q.step).round().tolist()[0]) <= {0.0, 1.0}


@pytest.mark.parametrize("kwargs,name", [
    (dict(block="resnet"), "block"), (dict(method="dorefa"), "method"),
    (dict(depth=50), "depth"), (dict(depth=19), "depth"),
    (dict(weight_quant="lsq"), "weight_quant")])
def test_builder_bad_choices(kwargs, name):
    with pytest.raises(ValueError, match=name):
        quantized_resnet(**kwargs)


def test_builder_bad_types():
    with pytest.raises(TypeError, match="block"):
        quantized_resnet(block=1)
    with pytest.raises(TypeError, match="quantize_downsample"):
        quantized_resnet(quantize_downsample=1)
    with pytest.raises(ValueError, match="layers and widths"):
        QuantResNet((2, 2), (8,))
    with pytest.raises(TypeError, match="state_dict"):
        quantized_resnet(num_classes=2, weights=[1, 2])


@pytest.mark.parametrize("conv", [N2UQConv2d(2, 3, 3), LSQConv2d(2, 3, 3), PACTConv2d(2, 3, 3)])
@pytest.mark.parametrize("shape", [(2, 5, 5), (1, 1, 2, 5, 5), (5,)])
def test_conv_refuses_non_4d_input(conv, shape):
    with pytest.raises(ValueError, match="4-D"):
        conv(torch.rand(shape))


def test_conv_and_network_input_checks():
    with pytest.raises(ValueError, match="channels"):
        N2UQConv2d(2, 3, 3)(torch.rand(1, 4, 5, 5))
    with pytest.raises(TypeError, match="floating-point"):
        N2UQConv2d(2, 3, 3)(torch.ones(1, 2, 5, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        N2UQAct()([1.0, 2.0])
    with pytest.raises(ValueError, match="4-D"):
        quantized_resnet(num_classes=2)(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="in_channels"):
        N2UQConv2d(0, 3, 3)
    with pytest.raises(TypeError, match="kernel_size"):
        N2UQConv2d(2, 3, 2.5)


def test_functional_parameter_checks():
    x = torch.rand(5)
    with pytest.raises(ValueError, match=r"a must have shape \(3,\)"):
        n2uq_act(x, 0.0, [0.5, 0.5])
    with pytest.raises(ValueError, match="start must be a scalar"):
        n2uq_act(x, torch.zeros(2), [0.5] * 3)
    with pytest.raises(ValueError, match="eps"):
        N2UQAct(eps=0.0)
    with pytest.raises(ValueError, match="grad_clip"):
        N2UQAct(grad_clip=-1.0)
    with pytest.raises(ValueError, match="alpha_init"):
        PACTAct(alpha_init=0.0)
    with pytest.raises(TypeError, match="signed"):
        lsq_quantize(x, 1.0, signed="no")
    with pytest.raises(ValueError, match="method"):
        N2UQAct().init_from(x, method="kmeans")
    with pytest.raises(ValueError, match="x contains NaN"):
        N2UQAct().init_from(torch.tensor([0.0, float("nan"), 1.0]))


def test_nan_propagates():
    x = torch.tensor([float("nan"), 0.5, 3.0])
    out = N2UQAct()(x).detach()
    assert math.isnan(out[0]) and out[1:].tolist() == pytest.approx([2 / 3, 2.0])
    assert math.isnan(pact_quantize(x, 2.0)[0])
    assert math.isnan(lsq_quantize(x, 0.5)[0])
    conv = N2UQConv2d(1, 1, 1)
    assert torch.isnan(conv(x.view(1, 1, 1, 3))).sum() == 1
    with pytest.raises(ValueError, match="NaN"):
        to_integer(conv)(x.view(1, 1, 1, 3))


@pytest.mark.parametrize("method", ["uniform", "quantile", "optimal"])
@pytest.mark.parametrize("scale", [2.0**600, 1e150])
def test_extreme_magnitudes_give_the_scaled_thresholds(method, scale):
    x = torch.rand(2000, generator=torch.Generator().manual_seed(0), dtype=torch.float64) ** 2
    base = N2UQAct(2).double().init_from(x, method=method).knots()
    big = N2UQAct(2).double().init_from(x * scale, method=method).knots()
    rtol = 1e-12 if scale == 2.0**600 else 1e-6     # 1e150 * x is itself rounded
    torch.testing.assert_close(torch.tensor(big), torch.tensor(base) * scale, rtol=rtol, atol=0)
    with pytest.raises(ValueError, match="too large for torch.float32"):
        N2UQAct(2).init_from(x * 1e300, method=method)


def test_lsq_step_at_extreme_magnitudes():
    x = torch.rand(4, 100, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    base = LSQAct(2).double().init_from(x).step.item()
    assert LSQAct(2).double().init_from(x * 1e300).step.item() == pytest.approx(base * 1e300)
    with pytest.raises(ValueError, match="too large"):
        LSQAct(2).init_from(x * 1e300)
