"""ReActNet-A blocks, width rule, builder and bad inputs (spec 2.5, 5.4, 6)."""

import math

import pytest
import torch
from torch import nn

from normgraph.nn.bnn import (
    BinaryConv2d,
    ReActBlock,
    RPReLU,
    RSign,
    load_checkpoint,
    reactnet_a,
    reactnet_widths,
)

D = torch.float64
TABLE = [32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]


@pytest.mark.parametrize("cin,cout,stride,shape", [
    (32, 32, 1, (1, 32, 16, 16)), (32, 64, 1, (1, 64, 16, 16)), (64, 128, 2, (1, 128, 8, 8))])
def test_block_shapes(cin, cout, stride, shape):
    assert ReActBlock(cin, cout, stride)(torch.randn(1, cin, 16, 16)).shape == shape


def _identity_rprelu(m):
    with torch.no_grad():
        m.prelu.weight.fill_(1.0)


@pytest.mark.parametrize("stride", [1, 2])
def test_concat_block_against_hand_written_forward(stride):
    """out2 = cat(BN_a(conv_a(y)) + out1, BN_b(conv_b(y)) + out1), block written out by hand."""
    torch.manual_seed(0)
    blk = ReActBlock(4, 8, stride).double().eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in blk.parameters():
            p.copy_(torch.randn(p.shape, dtype=D, generator=gen) * 0.5)
        for bn in (blk.bn1, blk.bn2_a, blk.bn2_b):
            bn.running_mean.copy_(torch.randn(4, dtype=D, generator=gen))
            bn.running_var.copy_(torch.rand(4, dtype=D, generator=gen) + 0.5)
    x = torch.randn(2, 4, 6, 6, dtype=D, generator=gen)

    def sign(z, rs):
        return torch.sign(z + rs.bias.bias.view(1, -1, 1, 1))

    def bconv(z, conv, pad, s=1):
        w = conv.weight
        w = w.abs().mean(dim=(1, 2, 3), keepdim=True) * torch.sign(w)
        return nn.functional.conv2d(z, w, stride=s, padding=pad)

    def bn(z, m):
        return ((z - m.running_mean.view(1, -1, 1, 1)) / torch.sqrt(m.running_var.view(1, -1, 1, 1)
                + m.eps)) * m.weight.view(1, -1, 1, 1) + m.bias.view(1, -1, 1, 1)

    def rprelu(z, m):
        z = z + m.shift_in.bias.view(1, -1, 1, 1)
        z = torch.where(z >= 0, z, m.prelu.weight.view(1, -1, 1, 1) * z)
        return z + m.shift_out.bias.view(1, -1, 1, 1)

    with torch.no_grad():
        out1 = bn(bconv(sign(x, blk.sign1), blk.conv3x3, 1, stride), blk.bn1)
        short = nn.functional.avg_pool2d(x, 2, 2) if stride == 2 else x
        out1 = rprelu(out1 + short, blk.act1)
        y = sign(out1, blk.sign2)
        half_a = bn(bconv(y, blk.conv1x1_a, 0), blk.bn2_a) + out1
        half_b = bn(bconv(y, blk.conv1x1_b, 0), blk.bn2_b) + out1
        ref = rprelu(torch.cat([half_a, half_b], 1), blk.act2)
        torch.testing.assert_close(blk(x), ref, rtol=1e-12, atol=1e-12)


def test_same_width_block_adds_out1_once():
    blk = ReActBlock(4, 4, 1).double().eval()
    for m in (blk.act1, blk.act2):
        _identity_rprelu(m)
    seen = {}
    blk.bn2.register_forward_hook(lambda m, i, o: seen.setdefault("bn2", o))
    blk.act1.register_forward_hook(lambda m, i, o: seen.setdefault("out1", o))
    x = torch.randn(1, 4, 5, 5, dtype=D)
    torch.testing.assert_close(blk(x), seen["bn2"] + seen["out1"], rtol=0, atol=1e-15)


@pytest.mark.parametrize("width_mult,c0", [(1 / 8, 4), (1 / 4, 8), (0.3, 10), (0.5, 16),
                                           (1.0, 32), (1.5, 48)])
def test_width_rule(width_mult, c0):
    ch = reactnet_widths(width_mult)
    assert ch[0] == c0
    assert ch == [c0 * t // 32 for t in TABLE]
    # spec rule written out: c0 from the base width only
    expect = (8 * math.floor(32 * width_mult / 8 + 0.5) if width_mult >= 1
              else max(4, math.floor(32 * width_mult + 0.5)))
    assert c0 == expect
    net = reactnet_a(width_mult, num_classes=10, small_input=True)
    blocks = list(net.blocks)
    assert len(blocks) == 13
    for i, b in enumerate(blocks, start=1):
        assert b.out_channels in (b.in_channels, 2 * b.in_channels)
        concat = hasattr(b, "conv1x1_a")
        assert concat == (b.out_channels == 2 * b.in_channels)
        assert (b.in_channels, b.out_channels) == (ch[i - 1], ch[i])
    assert [i for i, b in enumerate(blocks, start=1) if b.stride == 2] == [2, 4, 6, 12]


@pytest.mark.parametrize("width_mult", [1 / 8, 1 / 4, 0.3, 0.5])
def test_full_net_forward_small_widths(width_mult):
    net = reactnet_a(width_mult, num_classes=7, small_input=True)
    assert net(torch.rand(1, 3, 32, 32)).shape == (1, 7)


@pytest.mark.slow
@pytest.mark.parametrize("width_mult", [1.0, 1.5])
def test_full_net_forward_large_widths(width_mult):
    net = reactnet_a(width_mult, num_classes=7, small_input=True)
    assert net(torch.rand(1, 3, 32, 32)).shape == (1, 7)


def test_network_shapes_of_spec():
    net = reactnet_a(width_mult=1 / 8, small_input=True)
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 1000)
    small = reactnet_a(width_mult=1 / 8, small_input=True, stages=5, num_classes=10)
    x = torch.rand(2, 3, 16, 16)
    assert small.features(x).shape == (2, 32, 4, 4)
    assert small(x).shape == (2, 10)
    assert small.widths == [4, 8, 16, 16, 32, 32]
    assert reactnet_a(1 / 8, 10)(torch.rand(2, 3, 32, 32)).shape == (2, 10)  # stride-2 stem


def test_module_inventory_and_switches():
    net = reactnet_a(1 / 8, 10, small_input=True, stages=3)
    assert type(net.conv1) is nn.Conv2d and type(net.fc) is nn.Linear
    # blocks 1 (4 -> 8) and 2 (8 -> 16) concatenate: 3x3 + two 1x1 each; block 3: 3x3 + 1x1
    assert sum(isinstance(m, BinaryConv2d) for m in net.modules()) == 3 + 3 + 2
    assert sum(isinstance(m, RSign) for m in net.modules()) == 6
    assert sum(isinstance(m, RPReLU) for m in net.modules()) == 6
    assert all(m.binary_weights for m in net.modules() if isinstance(m, BinaryConv2d))
    fp = reactnet_a(1 / 8, 10, small_input=True, stages=3, binary_weights=False,
                    binary_activations=False)
    assert not any(isinstance(m, RSign) for m in fp.modules())
    assert not any(m.binary_weights for m in fp.modules() if isinstance(m, BinaryConv2d))
    assert sum(isinstance(m, RPReLU) for m in fp.modules()) == 6


def test_step1_and_step2_nets_share_state_dicts(tmp_path):
    step1 = reactnet_a(1 / 8, 10, small_input=True, stages=3, binary_weights=False)
    path = tmp_path / "s1.pt"
    torch.save(step1.state_dict(), path)
    step2 = reactnet_a(1 / 8, 10, small_input=True, stages=3, weights=path)
    for k, v in step1.state_dict().items():
        assert torch.equal(step2.state_dict()[k], v)


def test_checkpoint_with_missing_keys_lists_them():
    small = reactnet_a(1 / 8, 10, small_input=True, stages=2)
    state = small.state_dict()
    del state["fc.bias"], state["blocks.1.act2.prelu.weight"]
    with pytest.raises(ValueError, match=r"missing keys \['blocks.1.act2.prelu.weight', "
                                         r"'fc.bias'\]"):
        load_checkpoint(reactnet_a(1 / 8, 10, small_input=True, stages=2), state)
    with pytest.raises(TypeError, match="checkpoint"):
        load_checkpoint(small, 3)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(width_mult=0.0), ValueError, "width_mult"),
    (dict(width_mult=-1.0), ValueError, "width_mult"),
    (dict(width_mult=float("nan")), ValueError, "width_mult"),
    (dict(width_mult="wide"), TypeError, "width_mult"),
    (dict(stages=0), ValueError, "stages"),
    (dict(stages=14), ValueError, "stages"),
    (dict(stages=2.0), TypeError, "stages"),
    (dict(num_classes=0), ValueError, "num_classes"),
    (dict(width_mult=1e300), ValueError, "width_mult asks for"),
    (dict(width_mult=1e308), ValueError, "width_mult asks for"),
    (dict(width_mult=3e3), ValueError, "width_mult asks for"),
    (dict(num_classes=10**15), ValueError, "num_classes asks for"),
    (dict(small_input=1), TypeError, "small_input"),
    (dict(binary_weights="yes"), TypeError, "binary_weights"),
])
def test_builder_bad_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        reactnet_a(**kwargs)


@pytest.mark.parametrize("args,exc,match", [
    ((4, 12, 1), ValueError, "out_channels"),
    ((4, 2, 1), ValueError, "out_channels"),
    ((4, 8, 3), ValueError, "stride"),
    ((0, 0, 1), ValueError, "in_channels"),
])
def test_block_bad_parameters(args, exc, match):
    with pytest.raises(exc, match=match):
        ReActBlock(*args)


@pytest.mark.parametrize("module", [
    BinaryConv2d(2, 2, 3), ReActBlock(2, 4, 2), reactnet_a(1 / 8, 3, stages=1)])
def test_non_4d_input_is_value_error(module):
    with pytest.raises(ValueError, match="4-D"):
        module(torch.ones(2, 3, 8))
    with pytest.raises(TypeError, match="floating-point"):
        module(torch.ones(1, 2, 4, 4, dtype=torch.int64))


def test_bad_conv_parameters_and_channel_mismatch():
    with pytest.raises(ValueError, match="init"):
        BinaryConv2d(2, 2, 3, init="zeros")
    with pytest.raises(ValueError, match="kernel_size"):
        BinaryConv2d(2, 2, 0)
    with pytest.raises(ValueError, match="3 channels"):
        reactnet_a(1 / 8, 3, stages=1)(torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match="2 channels"):
        BinaryConv2d(2, 2, 3)(torch.ones(1, 3, 8, 8))


def test_nan_input_propagates():
    net = reactnet_a(1 / 8, 3, small_input=True, stages=2).eval()
    x = torch.rand(1, 3, 8, 8)
    x[0, 0, 0, 0] = float("nan")
    assert torch.isnan(net(x)).all()


def test_float64_and_device_follow_input():
    net = reactnet_a(1 / 8, 3, small_input=True, stages=2).double()
    y = net(torch.rand(1, 3, 8, 8, dtype=D))
    assert y.dtype == D


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_reactnet_on_cuda():
    net = reactnet_a(1 / 8, 3, small_input=True, stages=3).cuda().eval()
    x = torch.rand(2, 3, 16, 16, device="cuda")
    y = net(x)
    assert y.device.type == "cuda" and y.shape == (2, 3)
    torch.testing.assert_close(y.cpu(), net.cpu()(x.cpu()), rtol=1e-4, atol=1e-4)
