"""``insert_psa`` on torchvision ResNets (spec §1.8 test 12) and its errors (spec §1.7)."""

import pytest
import torch
from torch import nn
from torchvision.models import resnet18, resnet50

from normgraph.nn.attention import (
    PolarizedSelfAttention,
    PSABasicBlock,
    PSABottleneck,
    insert_psa,
)


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _paper_psa_params(c):
    return 2 * c * c + 3 * c


def test_resnet18_all_stages():
    torch.manual_seed(0)
    model = resnet18(weights=None)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n_before = _count(model)
    x = torch.randn(2, 3, 64, 64)
    names = insert_psa(model)
    assert names == [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)]
    growth = _count(model) - n_before
    assert growth == 1_398_400
    assert growth == 2 * sum(_paper_psa_params(c) for c in (64, 128, 256, 512))
    after = model.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    new_keys = set(after) - set(before)
    assert new_keys and all(".psa." in k for k in new_keys)
    assert all(k.split(".psa.")[0] in names for k in new_keys)
    model.eval()
    assert model(x).shape == (2, 1000)
    # a pretrained state dict (here: the model's own pre-insertion weights) loads non-strictly
    result = model.load_state_dict(before, strict=False)
    assert set(result.missing_keys) == new_keys and not result.unexpected_keys


def test_resnet18_block_equals_manual_composition():
    torch.manual_seed(1)
    model = resnet18(weights=None)
    insert_psa(model)
    model.eval()
    block = model.layer2[0]  # has a downsample
    assert isinstance(block, PSABasicBlock) and block.psa.channels == 128
    x = torch.randn(2, 64, 16, 16)
    with torch.no_grad():
        manual = block.bn2(block.conv2(block.psa(torch.relu(block.bn1(block.conv1(x))))))
        manual = torch.relu(manual + block.downsample(x))
        assert torch.allclose(block(x), manual, atol=1e-6)
        plain = model.layer1[1]
        manual = plain.bn2(plain.conv2(plain.psa(torch.relu(plain.bn1(plain.conv1(x))))))
        assert torch.allclose(plain(x), torch.relu(manual + x), atol=1e-6)


def test_resnet50_growth_and_bottleneck_placement():
    torch.manual_seed(2)
    model = resnet50(weights=None)
    n_before = _count(model)
    names = insert_psa(model)
    assert len(names) == 16
    assert _count(model) - n_before == 2_526_272
    model.eval()
    block = model.layer1[0]
    assert isinstance(block, PSABottleneck) and block.psa.channels == 64
    x = torch.randn(1, 64, 8, 8)
    with torch.no_grad():
        out = torch.relu(block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x))))))
        out = block.bn3(block.conv3(block.psa(out)))
        assert torch.allclose(block(x), torch.relu(out + block.downsample(x)), atol=1e-6)


def test_stage_choice_variant_and_dtype():
    model = resnet18(weights=None).double()
    n_before = _count(model)
    names = insert_psa(model, stages=[3], layout="parallel", variant="official")
    assert names == ["layer3.0", "layer3.1"]
    assert _count(model) - n_before == 2 * (256 + 2 * 256 * 256)
    for name, module in model.named_modules():
        if name.endswith(".psa"):
            assert module.layout == "parallel" and module.variant == "official"
            assert all(p.dtype == torch.float64 for p in module.parameters())
    assert not hasattr(model.layer1[0], "psa") and type(model.layer1[0]).__name__ == "BasicBlock"
    assert model.eval()(torch.randn(1, 3, 32, 32, dtype=torch.float64)).dtype == torch.float64


def test_inserted_block_shares_the_original_submodules():
    model = resnet18(weights=None)
    conv = model.layer1[0].conv1
    insert_psa(model, stages=(1,))
    assert model.layer1[0].conv1 is conv
    assert isinstance(model.layer1[0].psa, PolarizedSelfAttention)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_model_gets_cuda_psa():
    model = resnet18(weights=None).cuda()
    insert_psa(model, stages=(4,))
    assert model.layer4[0].psa.channel.conv_q.weight.device.type == "cuda"
    assert model(torch.randn(1, 3, 32, 32, device="cuda")).device.type == "cuda"


@pytest.mark.parametrize("stages", [(), [], (0,), (5,), (1, 7)])
def test_bad_stages_value(stages):
    with pytest.raises(ValueError, match="stages"):
        insert_psa(resnet18(weights=None), stages=stages)


@pytest.mark.parametrize("stages", [(1.5,), ("1",), 3])
def test_bad_stages_type(stages):
    with pytest.raises(TypeError, match="stages"):
        insert_psa(resnet18(weights=None), stages=stages)


def test_not_a_resnet():
    with pytest.raises(TypeError, match="ResNet"):
        insert_psa(nn.Sequential(nn.Conv2d(3, 8, 3)))
    model = resnet18(weights=None)
    model.layer2 = nn.Sequential(nn.Conv2d(64, 128, 3))
    with pytest.raises(TypeError, match="layer2"):
        insert_psa(model)


def test_twice_is_an_error_and_changes_nothing():
    model = resnet18(weights=None)
    insert_psa(model, stages=(2,))
    n = _count(model)
    with pytest.raises(ValueError, match="already has a psa"):
        insert_psa(model, stages=(1, 2))
    assert _count(model) == n and type(model.layer1[0]).__name__ == "BasicBlock"


def test_bad_psa_arguments_are_reported():
    with pytest.raises(ValueError, match="variant"):
        insert_psa(resnet18(weights=None), variant="nope")
