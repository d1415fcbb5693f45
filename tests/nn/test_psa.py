"""Polarized Self-Attention (spec §1.8 tests 1-11): shapes, a loop transcription, identities,
equivariances, the official gate range, parameter counts, gradcheck, special inputs, dtypes,
channels-last memory and extreme magnitudes."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.nn.attention import (
    ChannelOnlyPSA,
    PolarizedSelfAttention,
    SpatialOnlyPSA,
    polarized_self_attention,
    psa_channel_pool,
    psa_spatial_pool,
)

D = torch.float64
COMBOS = [(v, lay) for v in ("paper", "official") for lay in ("sequential", "parallel")]
SIGMOID_ONE = 1.0 / (1.0 + math.exp(-1.0))  # 0.7310585...


def _psa(channels, variant, layout, seed=0, dtype=D, **kw):
    torch.manual_seed(seed)
    psa = PolarizedSelfAttention(channels, layout=layout, variant=variant, **kw).to(dtype)
    _randomise_affine(psa, seed)
    return psa


def _randomise_affine(module, seed):
    """LayerNorm weights/biases and conv biases away from their 1/0 init, so tests see them."""
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias") or ("norm" in name or ".1." in name):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=D) + (
                    1.0 if name.endswith("weight") else 0.0))


# ----------------------------------------------------------------------------------------------
# Loop transcription of spec §1.2/§1.3 (explicit Python sums, float64, math only)
# ----------------------------------------------------------------------------------------------


def _w(conv):
    """(out, in) weight and bias lists of a 1x1 conv."""
    weight = conv.weight.detach().double().reshape(conv.out_channels, conv.in_channels).tolist()
    bias = conv.bias.detach().double().tolist() if conv.bias is not None else [0.0] * len(weight)
    return weight, bias


def _conv(weight, bias, x):
    """1x1 conv of one image ``x[c][p]`` -> ``y[o][p]``."""
    n_pix = len(x[0])
    return [[bias[o] + sum(weight[o][c] * x[c][p] for c in range(len(x))) for p in range(n_pix)]
            for o in range(len(weight))]


def _softmax(values):
    top = max(values)
    e = [math.exp(v - top) for v in values]
    total = sum(e)
    return [t / total for t in e]


def _layer_norm(z, gamma, beta, eps):
    mu = sum(z) / len(z)
    var = sum((t - mu) ** 2 for t in z) / len(z)
    return [(t - mu) / math.sqrt(var + eps) * g + b for t, g, b in zip(z, gamma, beta)]


def _sigmoid(t):
    return 1.0 / (1.0 + math.exp(-t))


def channel_gate(branch, x):
    """``A_ch[c]`` for one image ``x[c][p]`` (a :class:`ChannelOnlyPSA`)."""
    q = _conv(*_w(branch.conv_q), x)[0]
    v = _conv(*_w(branch.conv_v), x)
    weights = _softmax(q)
    ctx = [sum(weights[p] * v[k][p] for p in range(len(q))) for k in range(len(v))]
    if branch.variant == "paper":
        wz, bz = _w(branch.conv_z)
        z = [bz[c] + sum(wz[c][k] * ctx[k] for k in range(len(ctx))) for c in range(len(wz))]
        norm = branch.norm
        z = _layer_norm(z, norm.weight.detach().double().tolist(),
                        norm.bias.detach().double().tolist(), norm.eps)
    elif branch.layout == "parallel":
        wz, bz = _w(branch.conv_z)
        z = [sum(wz[c][k] * ctx[k] for k in range(len(ctx))) for c in range(len(wz))]
    else:
        (w1, b1), ln, (w2, b2) = _w(branch.conv_z[0]), branch.conv_z[1], _w(branch.conv_z[3])
        m = [b1[j] + sum(w1[j][k] * ctx[k] for k in range(len(ctx))) for j in range(len(w1))]
        m = _layer_norm(m, ln.weight.detach().double().flatten().tolist(),
                        ln.bias.detach().double().flatten().tolist(), ln.eps)
        m = [max(t, 0.0) for t in m]
        z = [b2[c] + sum(w2[c][j] * m[j] for j in range(len(m))) for c in range(len(w2))]
    return [_sigmoid(t) for t in z]


def spatial_gate(branch, x):
    """``A_sp[p]`` for one image ``x[c][p]`` (a :class:`SpatialOnlyPSA`)."""
    q = _conv(*_w(branch.conv_q), x)
    v = _conv(*_w(branch.conv_v), x)
    n_pix, n_k = len(x[0]), len(q)
    qbar = [sum(q[k]) / n_pix for k in range(n_k)]
    if branch.variant == "paper":
        sm = _softmax(qbar)
        s = [sum(sm[k] * v[k][p] for k in range(n_k)) for p in range(n_pix)]
    elif branch.layout == "parallel":
        s = _softmax([sum(qbar[k] * v[k][p] for k in range(n_k)) for p in range(n_pix)])
    else:
        smv = [_softmax(v[k]) for k in range(n_k)]
        s = [sum(qbar[k] * smv[k][p] for k in range(n_k)) for p in range(n_pix)]
    return [_sigmoid(t) for t in s]


def psa_reference(psa, x):
    """``PolarizedSelfAttention`` output as nested lists ``[n][c][p]`` (pixels flattened)."""
    out = []
    for image in x.detach().double().flatten(2).tolist():
        a_ch = channel_gate(psa.channel, image)
        y = [[a_ch[c] * image[c][p] for p in range(len(image[c]))] for c in range(len(image))]
        if psa.layout == "parallel":
            a_sp = spatial_gate(psa.spatial, image)
            z = [[y[c][p] + a_sp[p] * image[c][p] for p in range(len(image[c]))]
                 for c in range(len(image))]
        else:
            a_sp = spatial_gate(psa.spatial, y)
            z = [[a_sp[p] * y[c][p] for p in range(len(y[c]))] for c in range(len(y))]
        out.append(z)
    return out


# ----------------------------------------------------------------------------------------------
# 1. shapes and gate ranges
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant,layout", COMBOS)
@pytest.mark.parametrize("shape", [(2, 8, 5, 7), (1, 16, 1, 1), (3, 64, 32, 24)])
def test_shapes_and_gate_ranges(shape, variant, layout):
    n, c, h, w = shape
    psa = _psa(c, variant, layout, dtype=torch.float32)
    x = torch.randn(shape)
    z, (a_ch, a_sp) = psa(x, return_attention=True)
    assert z.shape == x.shape and z.dtype == x.dtype
    assert a_ch.shape == (n, c, 1, 1) and a_sp.shape == (n, 1, h, w)
    for gate in (a_ch, a_sp):
        assert bool(((gate > 0) & (gate < 1)).all())
    assert psa(x).shape == x.shape


@pytest.mark.parametrize("variant,layout", COMBOS)
def test_branch_modules_return_gated_input_and_gate(variant, layout):
    x = torch.randn(2, 8, 3, 4, dtype=D)
    for cls, gate_shape in ((ChannelOnlyPSA, (2, 8, 1, 1)), (SpatialOnlyPSA, (2, 1, 3, 4))):
        branch = cls(8, variant=variant, layout=layout).to(D)
        y, gate = branch(x, return_attention=True)
        assert gate.shape == gate_shape
        assert torch.equal(y, gate * x) and torch.equal(branch(x), y)


# ----------------------------------------------------------------------------------------------
# 2. brute-force reference, float64, 1e-6
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("variant,layout", COMBOS)
def test_matches_loop_reference(variant, layout, bias):
    if bias and variant == "official":
        bias = False  # the official variant fixes its own biases
    psa = _psa(8, variant, layout, seed=3, bias=bias)
    x = torch.randn(2, 8, 5, 7, dtype=D, generator=torch.Generator().manual_seed(4))
    expected = torch.tensor(psa_reference(psa, x), dtype=D).reshape(x.shape)
    got = psa(x)
    assert torch.allclose(got, expected, rtol=0, atol=1e-6), float((got - expected).abs().max())
    _, (a_ch, a_sp) = psa(x, return_attention=True)
    image = x[1].flatten(1).tolist()
    assert np.allclose(a_ch[1].flatten().tolist(), channel_gate(psa.channel, image), atol=1e-6)
    if layout == "parallel":
        assert np.allclose(a_sp[1].flatten().tolist(), spatial_gate(psa.spatial, image),
                           atol=1e-6)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 2), half=st.integers(1, 6),
       h=st.integers(1, 4), w=st.integers(1, 4), combo=st.sampled_from(COMBOS),
       scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_matches_loop_reference_property(seed, n, half, h, w, combo, scale):
    variant, layout = combo
    c = max(2 * half, 8) if combo == ("official", "sequential") else 2 * half
    psa = _psa(c, variant, layout, seed=seed % 1000)
    x = scale * torch.randn(n, c, h, w, dtype=D, generator=torch.Generator().manual_seed(seed))
    expected = torch.tensor(psa_reference(psa, x), dtype=D).reshape(x.shape)
    assert torch.allclose(psa(x), expected, rtol=1e-9, atol=1e-9 * scale)


def test_pooling_kernels_against_closed_forms():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(2, 1, 3, 4, dtype=D, generator=gen)
    v = torch.randn(2, 5, 3, 4, dtype=D, generator=gen)
    wts = torch.exp(q.flatten(1)) / torch.exp(q.flatten(1)).sum(1, keepdim=True)
    expected = torch.einsum("np,nkp->nk", wts, v.flatten(2))
    assert torch.allclose(psa_channel_pool(q, v).flatten(1), expected, atol=1e-12)
    qk = torch.randn(2, 5, 3, 4, dtype=D, generator=gen)
    qbar = qk.mean(dim=(2, 3))
    sm_q = torch.exp(qbar) / torch.exp(qbar).sum(1, keepdim=True)
    query = torch.einsum("nk,nkp->np", sm_q, v.flatten(2))
    assert torch.allclose(psa_spatial_pool(qk, v, "query").flatten(1), query, atol=1e-12)
    raw = torch.einsum("nk,nkp->np", qbar, v.flatten(2))
    out = torch.exp(raw) / torch.exp(raw).sum(1, keepdim=True)
    assert torch.allclose(psa_spatial_pool(qk, v, "output").flatten(1), out, atol=1e-12)
    ev = torch.exp(v.flatten(2))
    value = torch.einsum("nk,nkp->np", qbar, ev / ev.sum(2, keepdim=True))
    assert torch.allclose(psa_spatial_pool(qk, v, "value").flatten(1), value, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# 3. composition identities (exact)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_layouts_compose_the_branches_exactly(variant):
    x = torch.randn(2, 16, 6, 5, dtype=D)
    par = _psa(16, variant, "parallel", seed=1)
    assert torch.equal(par(x), par.channel(x) + par.spatial(x))
    seq = _psa(16, variant, "sequential", seed=2)
    assert torch.equal(seq(x), seq.spatial(seq.channel(x)))
    z, a_ch, a_sp = polarized_self_attention(x, seq.channel, seq.spatial, "sequential")
    assert torch.equal(z, seq(x)) and torch.equal(a_sp, seq.spatial.attention(a_ch * x))


# ----------------------------------------------------------------------------------------------
# 4-6. equivariances and constancy
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant,layout", COMBOS)
def test_batch_permutation_equivariance(variant, layout):
    psa = _psa(16, variant, layout, seed=5)
    x = torch.randn(5, 16, 4, 6, dtype=D)
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(psa(x[perm]), psa(x)[perm], rtol=0, atol=1e-12)
    # each image alone gives its row of the batch result
    assert torch.allclose(psa(x[2:3]), psa(x)[2:3], rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant,layout", COMBOS)
def test_pixel_permutation_equivariance(variant, layout):
    psa = _psa(16, variant, layout, seed=6)
    x = torch.randn(2, 16, 5, 7, dtype=D)
    perm = torch.randperm(35, generator=torch.Generator().manual_seed(1))
    xp = x.flatten(2)[:, :, perm].reshape(x.shape)
    expected = psa(x).flatten(2)[:, :, perm].reshape(x.shape)
    assert torch.allclose(psa(xp), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant,layout", COMBOS)
def test_channel_gate_is_spatially_constant_and_pixel_gate_channel_constant(variant, layout):
    psa = _psa(16, variant, layout, seed=7)
    x = torch.rand(2, 16, 4, 5, dtype=D) + 0.5  # no zeros: ratios are defined
    ratio_ch = psa.channel(x) / x
    assert torch.allclose(ratio_ch, ratio_ch[:, :, :1, :1].expand_as(ratio_ch), atol=1e-14)
    ratio_sp = psa.spatial(x) / x
    assert torch.allclose(ratio_sp, ratio_sp[:, :1].expand_as(ratio_sp), atol=1e-14)


# ----------------------------------------------------------------------------------------------
# 7. official PSA_p spatial gate range
# ----------------------------------------------------------------------------------------------
@settings(max_examples=20)
@given(seed=st.integers(0, 2**31 - 1), h=st.integers(1, 6), w=st.integers(1, 6),
       scale=st.sampled_from([0.01, 1.0, 100.0]))
def test_official_parallel_pixel_gate_range(seed, h, w, scale):
    psa = _psa(8, "official", "parallel", seed=seed % 100)
    x = scale * torch.randn(2, 8, h, w, dtype=D, generator=torch.Generator().manual_seed(seed))
    gate = psa.spatial.attention(x)
    assert bool((gate >= 0.5).all()) and bool((gate <= SIGMOID_ONE + 1e-15).all())


def test_official_parallel_gate_is_half_on_large_maps_but_paper_gate_is_not():
    x = torch.randn(2, 32, 64, 64)
    official = _psa(32, "official", "parallel", dtype=torch.float32).spatial.attention(x)
    assert float(((official - 0.5).abs() < 1e-3).float().mean()) > 0.99
    paper = _psa(32, "paper", "parallel", dtype=torch.float32).spatial.attention(x)
    assert float(paper.detach().std()) > 0.05


# ----------------------------------------------------------------------------------------------
# 8. parameter counts
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant,layout,count", [
    ("official", "parallel", 8256), ("official", "sequential", 7064),
    ("paper", "parallel", 8384), ("paper", "sequential", 8384)])
def test_parameter_counts_at_64_channels(variant, layout, count):
    psa = PolarizedSelfAttention(64, layout=layout, variant=variant)
    assert sum(p.numel() for p in psa.parameters()) == count


@pytest.mark.parametrize("c", [2, 8, 64, 100])
def test_paper_parameter_formula(c):
    psa = PolarizedSelfAttention(c)
    # four C x C/2 convs, W_q^ch (C -> 1), the LayerNorm's weight and bias over C
    assert sum(p.numel() for p in psa.parameters()) == 4 * c * (c // 2) + c + 2 * c
    with_bias = PolarizedSelfAttention(c, bias=True)
    extra = c // 2 + 1 + c + c // 2 + c // 2
    assert sum(p.numel() for p in with_bias.parameters()) == \
        sum(p.numel() for p in psa.parameters()) + extra
    if c == 64:
        assert extra == 161


# ----------------------------------------------------------------------------------------------
# 9. gradcheck
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant,layout", COMBOS)
def test_gradcheck(variant, layout):
    psa = _psa(8, variant, layout, seed=9)
    x = torch.randn(1, 8, 3, 3, dtype=D, requires_grad=True)
    params = tuple(psa.parameters())
    assert torch.autograd.gradcheck(psa, (x,), eps=1e-6, atol=1e-6)
    # and with respect to every weight, through torch.func.functional_call
    names = [n for n, _ in psa.named_parameters()]
    leaves = tuple(p.detach().clone().requires_grad_() for p in params)

    def g(inp, *ps):
        return torch.func.functional_call(psa, dict(zip(names, ps)), (inp,))

    assert torch.autograd.gradcheck(g, (x.detach(), *leaves), eps=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# 10-11. constant input, 1x1 input
# ----------------------------------------------------------------------------------------------
def _conv_apply(conv, a):
    w = conv.weight.detach().reshape(conv.out_channels, conv.in_channels)
    return w @ a + (conv.bias.detach() if conv.bias is not None else 0.0)


@pytest.mark.parametrize("variant,layout", COMBOS)
def test_constant_input_closed_form(variant, layout):
    c, h, w = 16, 4, 6
    psa = _psa(c, variant, layout, seed=10, bias=variant == "paper")
    a = torch.randn(c, dtype=D)
    x = a.reshape(1, c, 1, 1).expand(1, c, h, w).contiguous()
    ch = psa.channel
    # uniform softmax over pixels: the context is v itself
    v = _conv_apply(ch.conv_v, a)
    assert torch.allclose(psa_channel_pool(ch.conv_q(x), ch.conv_v(x)).flatten(), v, atol=1e-12)
    if variant == "paper":
        z = _conv_apply(ch.conv_z, v)
        z = (z - z.mean()) / torch.sqrt(z.var(unbiased=False) + 1e-5)
        z = z * ch.norm.weight.detach() + ch.norm.bias.detach()
    elif layout == "parallel":
        z = _conv_apply(ch.conv_z, v)
    else:
        m = _conv_apply(ch.conv_z[0], v)
        m = (m - m.mean()) / torch.sqrt(m.var(unbiased=False) + 1e-5)
        m = m * ch.conv_z[1].weight.detach().flatten() + ch.conv_z[1].bias.detach().flatten()
        z = _conv_apply(ch.conv_z[3], torch.relu(m))
    a_ch = torch.sigmoid(z)
    assert torch.allclose(ch.attention(x).flatten(), a_ch, atol=1e-12)
    sp = psa.spatial
    a_in = a_ch * a if layout == "sequential" else a
    qbar, vs = _conv_apply(sp.conv_q, a_in), _conv_apply(sp.conv_v, a_in)
    if variant == "paper":
        s = torch.softmax(qbar, 0) @ vs
    elif layout == "parallel":
        s = torch.tensor(1.0 / (h * w), dtype=D)  # softmax of a constant map
    else:
        s = qbar.sum() / (h * w)
    expected = torch.sigmoid(s) * a_in.reshape(1, c, 1, 1) if layout == "sequential" else None
    z, (_, a_sp) = psa(x, return_attention=True)
    assert torch.allclose(a_sp, torch.sigmoid(s).expand(1, 1, h, w), atol=1e-12)
    if expected is None:
        expected = (a_ch + torch.sigmoid(s)) * a
        expected = expected.reshape(1, c, 1, 1)
    assert torch.allclose(z, expected.expand(1, c, h, w), atol=1e-12)


@pytest.mark.parametrize("variant,layout", COMBOS)
def test_one_pixel_input_is_finite(variant, layout):
    psa = _psa(16, variant, layout, seed=11)
    x = torch.randn(3, 16, 1, 1, dtype=D)
    z, (a_ch, a_sp) = psa(x, return_attention=True)
    assert bool(torch.isfinite(z).all()) and bool(torch.isfinite(a_ch).all())
    if (variant, layout) == ("official", "parallel"):
        assert torch.allclose(a_sp, torch.full_like(a_sp, SIGMOID_ONE), atol=1e-15)
    x.requires_grad_()
    psa(x).sum().backward()
    assert bool(torch.isfinite(x.grad).all())


# ----------------------------------------------------------------------------------------------
# dtypes, memory formats, devices, magnitudes
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant,layout", COMBOS)
def test_float32_agrees_with_float64_and_channels_last(variant, layout):
    psa64 = _psa(16, variant, layout, seed=12)
    psa32 = _psa(16, variant, layout, seed=12, dtype=torch.float32)
    x = torch.randn(2, 16, 7, 5, dtype=D)
    z32 = psa32(x.float())
    assert z32.dtype == torch.float32
    assert torch.allclose(z32.double(), psa64(x), atol=1e-5)
    for psa, xx in ((psa32, x.float()), (psa64, x)):
        cl = xx.to(memory_format=torch.channels_last)
        out = psa(cl)
        assert torch.allclose(out, psa(xx), atol=1e-6)
        assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("variant,layout", COMBOS)
def test_cuda_matches_cpu(variant, layout):
    psa = _psa(16, variant, layout, seed=13)
    x = torch.randn(2, 16, 9, 8, dtype=D)
    gpu = psa.to("cuda")(x.cuda())
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), _psa(16, variant, layout, seed=13)(x), atol=1e-10)


@pytest.mark.parametrize("variant,layout", COMBOS)
def test_extreme_magnitudes(variant, layout):
    psa = _psa(16, variant, layout, seed=14)
    x = torch.randn(2, 16, 4, 4, dtype=D)
    huge = [psa(x * s, return_attention=True) for s in (2.0**900, 2.0**1000)]
    for z, (a_ch, a_sp) in huge:
        assert bool(torch.isfinite(z).all()) and bool(torch.isfinite(a_ch).all())
    if variant == "paper":  # softmaxes saturate and LayerNorm is scale invariant
        assert torch.allclose(huge[0][1][0], huge[1][1][0], atol=1e-12)
    if (variant, layout) == ("official", "parallel"):  # pixel softmax -> one-hot
        a_sp = huge[1][1][1].flatten(1)
        assert torch.equal((a_sp > 0.6).sum(1), torch.tensor([1, 1]))
        assert torch.allclose(a_sp.amax(1), torch.full((2,), SIGMOID_ONE, dtype=D), atol=1e-15)
        assert torch.allclose(a_sp.amin(1), torch.full((2,), 0.5, dtype=D), atol=1e-15)
    tiny, (a_ch, _) = psa(x * 1e-300, return_attention=True)
    zero_gate = psa.channel.attention(torch.zeros_like(x))
    assert bool(torch.isfinite(tiny).all())
    assert torch.allclose(a_ch, zero_gate, atol=1e-12)
