"""Quantized ResNet builder: layout, counts, both block topologies, weight loading."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from normgraph.nn import LearnableBias
from normgraph.nn.quant import (
    DoReFaWeight,
    LSQAct,
    LSQWeight,
    N2UQAct,
    N2UQWeight,
    PACTAct,
    QuantConv2d,
    QuantResNet,
    load_fp_weights,
    n2uq_act,
    n2uq_weight,
    quantized_resnet,
)

QUANTIZERS = {"n2uq": (N2UQAct, N2UQWeight), "lsq": (LSQAct, LSQWeight),
              "pact": (PACTAct, DoReFaWeight)}


def _count(model, cls):
    return sum(isinstance(m, cls) for m in model.modules())


@pytest.mark.parametrize("block", ["torchvision", "reference"])
@pytest.mark.parametrize("method", ["n2uq", "lsq", "pact"])
@pytest.mark.parametrize("depth,counts", [(18, (16, 19)), (34, (32, 35))])
def test_quantized_conv_counts(depth, counts, method, block):
    torch.manual_seed(0)
    for quantize_downsample, expected in zip((False, True), counts):
        net = quantized_resnet(depth, 2, method, quantize_downsample, num_classes=10,
                               block=block)
        assert _count(net, QuantConv2d) == expected
        act_cls, weight_cls = QUANTIZERS[method]
        convs = [m for m in net.modules() if isinstance(m, QuantConv2d)]
        assert all(isinstance(c.act_quant, act_cls) and isinstance(c.weight_quant, weight_cls)
                   for c in convs)
        assert len({id(c.act_quant) for c in convs}) == expected     # one set per conv
        # full-precision stem and head
        assert type(net.conv1) is nn.Conv2d and type(net.bn1) is nn.BatchNorm2d
        assert type(net.fc) is nn.Linear
        assert net.conv1.kernel_size == (7, 7) and isinstance(net.maxpool, nn.MaxPool2d)
        n_blocks = sum((2, 2, 2, 2) if depth == 18 else (3, 4, 6, 3))
        if block == "torchvision":
            assert _count(net, nn.ReLU) == 2 * n_blocks + 1          # + the stem ReLU
            assert _count(net, LearnableBias) == 0 and _count(net, nn.PReLU) == 0
        else:
            assert _count(net, nn.ReLU) == 1                         # the stem only
            assert _count(net, nn.PReLU) == 3 * n_blocks
            assert _count(net, LearnableBias) == 6 * n_blocks


def test_weight_quant_ablation_and_fp():
    net = quantized_resnet(18, 2, "pact", weight_quant="n2uq", num_classes=10)
    convs = [m for m in net.modules() if isinstance(m, QuantConv2d)]
    assert all(isinstance(c.weight_quant, N2UQWeight) for c in convs)
    fp = QuantResNet((2, 2, 2, 2), (64, 128, 256, 512), method="fp", num_classes=10)
    assert _count(fp, QuantConv2d) == 0 and _count(fp, nn.Conv2d) == 20


def test_small_input_layout_and_forward():
    net = quantized_resnet(18, 2, "lsq", num_classes=7, small_input=True)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, nn.Identity)
    assert net(torch.rand(2, 3, 16, 16)).shape == (2, 7)


def _bn(x, bn):
    shape = (1, -1, 1, 1)
    return ((x - bn.running_mean.view(shape)) / torch.sqrt(bn.running_var.view(shape) + bn.eps)
            * bn.weight.view(shape) + bn.bias.view(shape))


def _unit(x, unit):
    b1, prelu, b2 = unit
    v = x + b1.bias.view(1, -1, 1, 1)
    w = prelu.weight.view(1, -1, 1, 1)
    return torch.where(v > 0, v, w * v) + b2.bias.view(1, -1, 1, 1)


def _qconv(x, conv):
    q = conv.act_quant
    xq = n2uq_act(x, q.start, q.a, q.scale1, q.scale2, n_bits=q.n_bits)
    return F.conv2d(xq, n2uq_weight(conv.weight, 2), stride=conv.stride, padding=conv.padding)


def test_reference_block_matches_hand_written_forward():
    torch.manual_seed(0)
    net = quantized_resnet(18, 2, "n2uq", block="reference", num_classes=10).double()
    block = net.layer1[0]
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if p.dim() == 0 else 0.0))
        for bn in (block.bn1, block.bn2):
            bn.running_mean.copy_(torch.randn_like(bn.running_mean) * 0.1)
            bn.running_var.copy_(torch.rand_like(bn.running_var) + 0.5)
        for conv in (block.conv1, block.conv2):
            conv.act_quant.a.copy_(torch.rand(3, dtype=torch.float64) * 0.8 + 0.1)
    block.eval()
    x = torch.randn(1, 64, 8, 8, dtype=torch.float64)
    out = _bn(_qconv(_unit(x, block.unit1), block.conv1), block.bn1)
    out = _bn(_qconv(_unit(out, block.unit2), block.conv2), block.bn2)
    expected = _unit(out + x, block.unit3)          # one addition, of the raw input x
    torch.testing.assert_close(block(x), expected, rtol=1e-12, atol=1e-12)


def test_torchvision_block_matches_hand_written_forward():
    torch.manual_seed(1)
    net = quantized_resnet(18, 2, "n2uq", num_classes=10).double().eval()
    block = net.layer2[0]                           # stride 2, FP downsample
    x = torch.rand(1, 64, 8, 8, dtype=torch.float64)
    out = torch.relu(_bn(_qconv(x, block.conv1), block.bn1))
    out = _bn(_qconv(out, block.conv2), block.bn2)
    ds_conv, ds_bn = block.downsample
    shortcut = _bn(F.conv2d(x, ds_conv.weight, stride=2), ds_bn)
    torch.testing.assert_close(block(x), torch.relu(out + shortcut), rtol=1e-12, atol=1e-12)


def test_load_torchvision_state_dict_and_file(tmp_path):
    import torchvision
    fp = torchvision.models.resnet18(weights=None, num_classes=10)
    state = fp.state_dict()
    net = quantized_resnet(18, 2, "lsq", num_classes=10, weights=state)
    for name, tensor in state.items():
        torch.testing.assert_close(net.state_dict()[name], tensor)
    report = load_fp_weights(net, state)
    assert report["unexpected"] == [] and report["mismatched"] == []
    assert all(".act_quant." in k or ".weight_quant." in k for k in report["missing"])
    path = tmp_path / "fp.pt"
    torch.save(state, path)
    net2 = quantized_resnet(18, 2, "n2uq", num_classes=10, block="reference", weights=path)
    torch.testing.assert_close(net2.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    report = load_fp_weights(quantized_resnet(18, 2, "pact", num_classes=5), state)
    assert report["mismatched"] == ["fc.weight", "fc.bias"]
