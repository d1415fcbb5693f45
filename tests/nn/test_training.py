"""Shared training helpers: distillation loss, LR schedule, parameter groups by module type."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from normgraph.nn import (
    DistributionLoss,
    LearnableBias,
    QuantizerBase,
    bnn_param_groups,
    linear_lr_lambda,
)
from normgraph.nn.quant import LSQAct, N2UQAct, PACTAct, QuantConv2d, quantized_resnet

D = torch.float64


def test_distribution_loss_equals_soft_target_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(16, 10, generator=gen, dtype=D)
    t = torch.randn(16, 10, generator=gen, dtype=D) * 3
    loss = DistributionLoss()(s, t)
    ref = F.cross_entropy(s, F.softmax(t, dim=1))
    assert abs(float(loss) - float(ref)) <= 1e-12
    # explicit sum, the definition
    explicit = -(F.softmax(t, 1) * torch.log(F.softmax(s, 1))).sum(1).mean()
    assert abs(float(loss) - float(explicit)) <= 1e-12


def test_distribution_loss_one_hot_teacher_is_plain_cross_entropy():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(8, 5, generator=gen, dtype=D)
    y = torch.randint(0, 5, (8,), generator=gen)
    t = 1e4 * F.one_hot(y, 5).to(D)
    assert abs(float(DistributionLoss()(s, t)) - float(F.cross_entropy(s, y))) <= 1e-6


def test_distribution_loss_detaches_teacher():
    s = torch.randn(4, 3, requires_grad=True)
    t = torch.randn(4, 3, requires_grad=True)
    DistributionLoss()(s, t).backward()
    assert t.grad is None and s.grad is not None


def test_linear_lr_lambda_with_lambda_lr():
    assert [linear_lr_lambda(8)(e) for e in (0, 2, 8)] == [1.0, 0.75, 0.0]
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_lr_lambda(4))
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.4, 0.3, 0.2, 0.1])


def test_learnable_bias():
    m = LearnableBias(3)
    assert torch.equal(m(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))
    with torch.no_grad():
        m.bias.copy_(torch.tensor([1.0, -1.0, 0.5]))
    assert m(torch.zeros(1, 3, 1, 1)).flatten().tolist() == [1.0, -1.0, 0.5]
    with pytest.raises(ValueError, match="shape"):
        m(torch.zeros(1, 4, 2, 2))


@pytest.mark.parametrize("method", ["n2uq", "lsq", "pact"])
@pytest.mark.parametrize("block", ["torchvision", "reference"])
def test_param_groups_select_by_module_type(method, block):
    net = quantized_resnet(18, 2, method, quantize_downsample=True, num_classes=10, block=block)
    groups = {g["name"]: g for g in bnn_param_groups(net, 1e-5, 1e-3, quant_lr_mult=0.1)}
    ids = {k: {id(p) for p in g["params"]} for k, g in groups.items()}
    conv_weights = {id(m.weight) for m in net.modules() if isinstance(m, nn.Conv2d)}
    quant_params = {id(p) for m in net.modules() if isinstance(m, QuantizerBase)
                    for p in m.parameters()}
    assert ids["conv_weights"] == conv_weights and len(conv_weights) == 20
    assert ids["quantizer"] == quant_params and len(quant_params) > 0
    all_ids = {id(p) for p in net.parameters()}
    assert ids["other"] == all_ids - conv_weights - quant_params
    assert groups["conv_weights"]["weight_decay"] == 1e-5
    assert groups["quantizer"]["lr"] == pytest.approx(1e-4)
    assert groups["quantizer"]["weight_decay"] == groups["other"]["weight_decay"] == 0.0
    per_conv = {"n2uq": 4, "lsq": 2, "pact": 1}[method]          # LSQ: act + weight steps
    assert len(quant_params) == 19 * per_conv
    torch.optim.Adam(list(groups.values()))


def test_param_groups_reference_name_matching_quirk():
    net = quantized_resnet(18, 2, "n2uq", quantize_downsample=True, num_classes=10)
    groups = {g["name"]: g for g in bnn_param_groups(net, 0.0, 1e-3,
                                                      reference_name_matching=True)}
    ds_a = {id(m.act_quant.a) for name, m in net.named_modules()
            if isinstance(m, QuantConv2d) and "downsample" in name}
    assert len(ds_a) == 3
    assert ds_a <= {id(p) for p in groups["other"]["params"]}
    assert not ds_a & {id(p) for p in groups["quantizer"]["params"]}


def test_param_groups_omit_empty_groups_and_check_args():
    groups = bnn_param_groups(nn.Sequential(nn.Conv2d(1, 1, 1, bias=False)), 0.0, 0.1)
    assert [g["name"] for g in groups] == ["conv_weights"]
    only_quant = bnn_param_groups(nn.Sequential(N2UQAct(), LSQAct(), PACTAct()), 0.0, 0.1)
    assert [g["name"] for g in only_quant] == ["quantizer"]
    with pytest.raises(TypeError, match="model"):
        bnn_param_groups("net", 0.0, 0.1)
    with pytest.raises(ValueError, match="lr"):
        bnn_param_groups(nn.Linear(1, 1), 0.0, 0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        bnn_param_groups(nn.Linear(1, 1), -1.0, 0.1)
