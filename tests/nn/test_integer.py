"""Integer inference: integer codes and int64 accumulation equal the fake-quantized float conv."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from normgraph.nn.quant import (
    IntegerConv2d,
    LSQConv2d,
    N2UQConv2d,
    PACTConv2d,
    QuantConv2d,
    integer_conv2d,
    to_integer,
)

CASES = list(itertools.product(
    [N2UQConv2d, LSQConv2d, PACTConv2d],
    [(3, 5, 3, 1, 1), (4, 2, 3, 2, 0), (2, 6, 1, 2, 0), (5, 3, 5, 3, 2)],  # cin cout k s p
    [2, 3, 4],
))


def _randomise(conv, gen):
    """Trained-looking quantizer parameters: unequal N2UQ intervals, non-default steps."""
    with torch.no_grad():
        act = conv.act_quant
        if hasattr(act, "a"):
            act.a.copy_(torch.rand(act.a.shape, generator=gen) * 0.8 + 0.05)
            act.start.fill_(float(torch.rand((), generator=gen)) * 0.4 - 0.2)
            act.scale1.fill_(0.5 + float(torch.rand((), generator=gen)))
            act.scale2.fill_(0.5 + float(torch.rand((), generator=gen)))
        if hasattr(act, "alpha"):
            act.alpha.fill_(1.0 + 2 * float(torch.rand((), generator=gen)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cls,shape,n_bits", CASES)
def test_integer_conv_equals_fake_quantized_forward(cls, shape, n_bits, dtype):
    cin, cout, k, s, p = shape
    gen = torch.Generator().manual_seed(n_bits * 100 + cin * 10 + k)
    conv = cls(cin, cout, k, stride=s, padding=p, n_bits=n_bits).to(dtype)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen, dtype=dtype))
    _randomise(conv, gen)
    x = (torch.rand(2, cin, 11, 9, generator=gen, dtype=dtype) * 3 - 0.5)
    conv.train()
    y = conv(x)                      # also initialises LSQ steps on this batch
    int_conv = to_integer(conv)
    y_int = int_conv(x)
    assert y_int.dtype == dtype and y_int.shape == y.shape
    rel = ((y_int - y).abs().max() / y.abs().max().clamp_min(1e-30)).item()
    assert rel <= 1e-5
    # the pieces are integers and one float per output channel
    assert int_conv.weight_codes.dtype == torch.int32
    assert int_conv.rescale.shape == (cout,)
    codes = int_conv.act_quant.integer_codes(x)
    assert codes.dtype == torch.int64 and codes.min() >= 0 and codes.max() <= 2**n_bits - 1


def test_integer_conv2d_equals_float_conv_on_integers():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 16, (2, 3, 9, 8), generator=gen)
    w = torch.randint(-7, 8, (4, 3, 3, 3), generator=gen)
    for stride, padding in [(1, 0), (2, 1), (3, 2)]:
        got = integer_conv2d(x, w, stride, padding)
        ref = F.conv2d(x.double(), w.double(), stride=stride, padding=padding)
        assert got.dtype == torch.int64
        assert torch.equal(got, ref.round().long())


def test_integer_conv2d_loop_transcription():
    # direct triple-loop definition of the convolution on a tiny case
    gen = np.random.default_rng(1)
    x = gen.integers(0, 4, (1, 2, 5, 4))
    w = gen.integers(-3, 4, (3, 2, 2, 3))
    out = np.zeros((1, 3, 2, 1), dtype=np.int64)
    xp = np.pad(x, ((0, 0), (0, 0), (0, 0), (0, 0)))
    for o in range(3):
        for i in range(2):
            for j in range(1):
                out[0, o, i, j] = np.sum(xp[0, :, 2 * i:2 * i + 2, 2 * j:2 * j + 3] * w[o])
    got = integer_conv2d(torch.tensor(x), torch.tensor(w), stride=2, padding=0)
    assert np.array_equal(got.numpy(), out)


def test_to_integer_refuses_what_it_cannot_convert():
    with pytest.raises(TypeError, match="conv must be a QuantConv2d"):
        to_integer(torch.nn.Conv2d(2, 2, 3))
    with pytest.raises(ValueError, match="quantize both"):
        to_integer(N2UQConv2d(2, 2, 3, quantize_act=False))
    with pytest.raises(ValueError, match="no integer codes"):
        to_integer(QuantConv2d(2, 2, 1, act_quant=torch.nn.ReLU(),
                               weight_quant=torch.nn.Identity()))
    with pytest.raises(TypeError, match="codes must be an integer"):
        integer_conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 1, 1, dtype=torch.long))
    int_conv = to_integer(N2UQConv2d(2, 2, 3))
    assert isinstance(int_conv, IntegerConv2d)
    with pytest.raises(ValueError, match="4-D"):
        int_conv(torch.ones(2, 3, 3))
