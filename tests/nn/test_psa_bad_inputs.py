"""Bad inputs of Polarized Self-Attention (spec §1.9): clear errors naming the parameter."""

import pytest
import torch

from normgraph.nn.attention import (
    ChannelOnlyPSA,
    PolarizedSelfAttention,
    SpatialOnlyPSA,
    polarized_self_attention,
    psa_spatial_pool,
)

MODULES = [PolarizedSelfAttention, ChannelOnlyPSA, SpatialOnlyPSA]


@pytest.mark.parametrize("cls", MODULES)
@pytest.mark.parametrize("shape", [(8,), (2, 8), (2, 8, 4), (1, 2, 8, 4, 4)])
def test_not_4d(cls, shape):
    with pytest.raises(ValueError, match=r"PSA expects \(N, C, H, W\), got shape"):
        cls(8)(torch.randn(shape))


@pytest.mark.parametrize("cls", MODULES)
def test_wrong_channel_count_names_both_numbers(cls):
    with pytest.raises(ValueError, match=r"6 channels.*channels=8"):
        cls(8)(torch.randn(1, 6, 3, 3))


@pytest.mark.parametrize("channels", [0, 1, -4])
def test_too_few_channels(channels):
    with pytest.raises(ValueError, match="channels"):
        PolarizedSelfAttention(channels)


@pytest.mark.parametrize("channels", [2.0, "8", None, True])
def test_channels_type(channels):
    with pytest.raises(TypeError, match="channels"):
        PolarizedSelfAttention(channels)


def test_inter_channels():
    with pytest.raises(ValueError, match="inter_channels"):
        PolarizedSelfAttention(8, inter_channels=0)
    with pytest.raises(TypeError, match="inter_channels"):
        PolarizedSelfAttention(8, inter_channels=2.5)
    assert PolarizedSelfAttention(8, inter_channels=3).spatial.conv_q.out_channels == 3


@pytest.mark.parametrize("channels", [2, 4, 6, 7])
def test_official_sequential_needs_eight_channels(channels):
    with pytest.raises(ValueError, match="official sequential variant needs channels >= 8"):
        PolarizedSelfAttention(channels, variant="official")
    PolarizedSelfAttention(channels, layout="parallel", variant="official")  # fine
    PolarizedSelfAttention(channels, variant="paper")  # fine


def test_official_sequential_small_inter_channels():
    with pytest.raises(ValueError, match="inter_channels >= 4"):
        PolarizedSelfAttention(64, variant="official", inter_channels=3)


@pytest.mark.parametrize("kw,allowed", [({"layout": "serial"}, "sequential"),
                                        ({"variant": "mmcv"}, "official")])
def test_unknown_strings_list_the_allowed_values(kw, allowed):
    for cls in MODULES:
        with pytest.raises(ValueError, match=allowed):
            cls(8, **kw)
    with pytest.raises(TypeError, match=list(kw)[0]):
        PolarizedSelfAttention(8, **{list(kw)[0]: 1})


def test_bias_with_official_variant():
    with pytest.raises(ValueError, match="bias"):
        PolarizedSelfAttention(8, variant="official", bias=True)
    with pytest.raises(TypeError, match="bias"):
        PolarizedSelfAttention(8, bias="yes")


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.uint8])
def test_non_floating_dtype(dtype):
    for cls in MODULES:
        with pytest.raises(TypeError, match="floating"):
            cls(8)(torch.zeros(1, 8, 2, 2, dtype=dtype))


def test_not_a_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        PolarizedSelfAttention(8)([[1.0]])


@pytest.mark.parametrize("shape", [(1, 8, 0, 4), (1, 8, 4, 0), (2, 8, 0, 0)])
def test_empty_spatial(shape):
    for cls in MODULES:
        with pytest.raises(ValueError, match=r"H\*W > 0"):
            cls(8)(torch.zeros(shape))


def test_functional_forms_check_their_choices():
    with pytest.raises(ValueError, match="softmax"):
        psa_spatial_pool(torch.ones(1, 2, 2, 2), torch.ones(1, 2, 2, 2), softmax="pixels")
    psa = PolarizedSelfAttention(8)
    with pytest.raises(ValueError, match="layout"):
        polarized_self_attention(torch.ones(1, 8, 2, 2), psa.channel, psa.spatial, "diagonal")


@pytest.mark.parametrize("cls", MODULES)
def test_input_dtype_must_match_the_parameters(cls):
    with pytest.raises(TypeError, match=r"x has dtype torch.float64.*torch.float32"):
        cls(8)(torch.zeros(1, 8, 2, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"x has dtype torch.float32.*torch.float64"):
        cls(8).double()(torch.zeros(1, 8, 2, 2))


@pytest.mark.parametrize("cls", MODULES)
def test_input_device_must_match_the_parameters(cls):
    with pytest.raises(ValueError, match=r"x is on meta"):
        cls(8)(torch.zeros(1, 8, 2, 2, device="meta"))
