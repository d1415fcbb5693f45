"""RSC (spec nn_psa_rsc_er 2.8): scores, exact drop counts, batch selection, ties, schedule,
eval identity, gradient flow, side effects, DomainBed parity, determinism, non-square maps."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.nn.rsc import (RSCHead, RSCSchedule, rsc_forward, rsc_mask, rsc_preset,
                              rsc_scores)
from normgraph.nn.rsc._select import select_samples

OFFICIAL = rsc_preset("official_dg")
DEFAULTS = dict(mode="random", feature_drop=1 / 3, channel_drop=None, batch_drop=1 / 3,
                eps=1e-4, clamp=True, selection="strict_topk", drop_rounding="ceil")


def avg_linear(weight, bias=None):
    """The official head: average pool, then a linear layer (weight K x C)."""
    def logits_fn(f):
        pooled = f.mean(dim=(2, 3)) if f.dim() == 4 else f
        out = pooled @ weight.T
        return out if bias is None else out + bias
    return logits_fn


# ---------------------------------------------------------------------------- 1. scores

@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6), c=st.integers(1, 7),
       h=st.integers(1, 5), w=st.integers(1, 5), k=st.integers(2, 5))
def test_scores_closed_form_and_per_sample_autograd(seed, n, c, h, w, k):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(k, c, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=g)
    s = rsc_scores(feats, avg_linear(weight), y)
    # closed form: G[i, c, h, w] = W[y_i, c] / HW
    torch.testing.assert_close(s.channel, weight[y] / (h * w), rtol=0, atol=1e-12)
    cam = torch.einsum("nchw,nc->nhw", feats, weight[y]) / (h * w)
    torch.testing.assert_close(s.spatial, cam, rtol=1e-9, atol=1e-12)
    # brute force: one autograd.grad call per sample
    for i in range(n):
        fi = feats[i:i + 1].clone().requires_grad_(True)
        (gi,) = torch.autograd.grad(avg_linear(weight)(fi)[0, y[i]], fi)
        torch.testing.assert_close(s.grad[i], gi[0], rtol=0, atol=1e-12)


def test_scores_of_a_nonlinear_head_match_the_per_sample_loop():
    torch.manual_seed(1)
    head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 2 * 4, 5),
                               torch.nn.Tanh(), torch.nn.Linear(5, 4)).double()
    feats = torch.randn(6, 3, 2, 4, dtype=torch.float64)
    y = torch.tensor([0, 3, 2, 1, 1, 0])
    s = rsc_scores(feats, head, y)
    for i in range(6):
        fi = feats[i:i + 1].clone().requires_grad_(True)
        (gi,) = torch.autograd.grad(head(fi)[0, y[i]], fi)
        torch.testing.assert_close(s.grad[i], gi[0])
        torch.testing.assert_close(s.channel[i], gi[0].mean(dim=(1, 2)))
        torch.testing.assert_close(s.spatial[i], (feats[i] * gi[0].mean(dim=(1, 2))[:, None,
                                                                                   None]).sum(0))


# ------------------------------------------------------------------- 2. exact drop counts

def _ramp_batch(n, c, h, w):
    """F[i, c, h, w] = (i + 1) (h W + w) delta_{c, 0}; W[0, 0] = 1: CAM of sample i is the
    ramp h W + w (distinct), and larger samples lose more confidence when muted."""
    feats = torch.zeros(n, c, h, w, dtype=torch.float64)
    ramp = torch.arange(h * w, dtype=torch.float64).view(h, w)
    feats[:, 0] = (torch.arange(n, dtype=torch.float64) + 1)[:, None, None] * ramp / (h * w)
    weight = torch.zeros(2, c, dtype=torch.float64)
    weight[0, 0] = 1.0
    return feats, weight, torch.zeros(n, dtype=torch.int64)


@pytest.mark.parametrize("kwargs", [OFFICIAL, DEFAULTS], ids=["official_dg", "defaults"])
@pytest.mark.parametrize("h,w,expected", [(7, 7, 17), (4, 4, 6), (3, 5, 5), (2, 7, 5)])
def test_spatial_drop_count_and_positions(kwargs, h, w, expected):
    assert expected == math.ceil(h * w / 3)
    feats, weight, y = _ramp_batch(8, 3, h, w)
    mask, d = rsc_mask(feats, avg_linear(weight), y, **{**kwargs, "mode": "spatial",
                                                        "batch_drop": 0.5},
                       return_details=True)
    assert mask.shape == (8, 1, h, w)
    top = torch.zeros(h * w, dtype=torch.bool)
    top[h * w - expected:] = True                       # the ramp's top-k indices
    assert torch.equal(d.dropped, top.expand(8, -1))
    assert int(d.challenged.sum()) == 4
    for i in range(8):
        zeros = mask[i, 0].flatten() == 0
        assert torch.equal(zeros, top) if d.challenged[i] else not zeros.any()


@pytest.mark.parametrize("kwargs,counts", [
    (OFFICIAL, {512: 160, 2048: 640, 32: 10}),
    (DEFAULTS, {512: 171, 2048: 683, 32: 11}),
    (rsc_preset("paper_v1"), {512: 170, 2048: 682, 32: 10}),
], ids=["official_dg", "defaults", "paper_v1"])
def test_channel_drop_counts(kwargs, counts):
    gen = torch.Generator().manual_seed(0)
    for c, expected in counts.items():
        feats = torch.ones(4, c, 2, 2, dtype=torch.float64)
        feats *= torch.arange(1, 5, dtype=torch.float64)[:, None, None, None]
        weight = torch.zeros(2, c, dtype=torch.float64)
        weight[0] = (torch.randperm(c, generator=gen).double() + 1) * 4 / c**2  # distinct, > 0
        y = torch.zeros(4, dtype=torch.int64)
        mask, d = rsc_mask(feats, avg_linear(weight), y, **{**kwargs, "mode": "channel",
                                                            "batch_drop": 0.5},
                           return_details=True)
        assert mask.shape == (4, c, 1, 1)
        top = torch.zeros(c, dtype=torch.bool)
        top[weight[0].argsort(descending=True)[:expected]] = True
        assert torch.equal(d.dropped, top.expand(4, -1))
        zeros = (mask[:, :, 0, 0] == 0).sum(1)
        assert sorted(zeros.tolist()) == [0, 0, expected, expected]


def test_drop_count_equals_integer_arithmetic():
    from normgraph.nn.rsc._select import drop_count

    for n in range(1, 5000):
        assert drop_count(n, 1 / 3, "ceil") == -(-n // 3)
        assert drop_count(n, 1 / 3.2, "ceil") == -(-5 * n // 16)
        assert drop_count(n, 1 / 3, "floor") == n // 3


def test_vector_mode_drop_count():
    feats = torch.rand(5, 128, dtype=torch.float64) + 0.1
    weight = torch.rand(3, 128, dtype=torch.float64)
    _, d = rsc_mask(feats, avg_linear(weight), torch.tensor([0, 1, 2, 0, 1]), mode="vector",
                    return_details=True)
    assert d.dropped.sum(1).tolist() == [43] * 5        # ceil(128 / 3)
    assert torch.equal(d.scores, weight[[0, 1, 2, 0, 1]])  # the raw gradient


# --------------------------------------------------------------------- 3. batch fraction

def _vector_batch(n, n_positive):
    """Vector features whose confidence drops are distinct and positive for the first
    ``n_positive`` samples (increasing with the sample: the logits stay below 1.1, where
    sigmoid(21 a) - sigmoid(10 a) increases) and exactly zero (features 0) for the others."""
    feats = torch.zeros(n, 6, dtype=torch.float64)
    feats[:n_positive] = (torch.arange(n_positive, dtype=torch.float64) + 1)[:, None] / (20 * n)
    weight = torch.zeros(2, 6, dtype=torch.float64)
    weight[0] = torch.tensor([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    return feats, weight, torch.zeros(n, dtype=torch.int64)


@pytest.mark.parametrize("selection", ["threshold", "strict_topk"])
@pytest.mark.parametrize("n,n_positive,pct,expected",
                         [(128, 128, 0.3, 38), (128, 10, 0.3, 10), (64, 64, 0.5, 32)])
def test_batch_fraction(selection, n, n_positive, pct, expected):
    feats, weight, y = _vector_batch(n, n_positive)
    mask, d = rsc_mask(feats, avg_linear(weight), y, mode="vector", batch_drop=pct,
                       selection=selection, return_details=True)
    assert int(d.challenged.sum()) == expected
    trivial = (mask == 1).all(dim=1)
    assert int((~trivial).sum()) == expected and int(trivial.sum()) == n - expected
    # the challenged samples are those with the largest drops (here: the largest features)
    assert d.challenged[n_positive - expected:n_positive].all()
    assert d.change[d.challenged].min() > d.change[~d.challenged].max()
    p_before = F.softmax(avg_linear(weight)(feats), 1)[:, 0]
    p_after = F.softmax(avg_linear(weight)(feats * (~d.dropped).double()), 1)[:, 0]
    torch.testing.assert_close(d.change, (p_before - p_after - 1e-4).clamp_min(0))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 200),
       pct=st.floats(0.01, 0.99))
def test_batch_selection_counts_distinct_changes(seed, n, pct):
    rng = np.random.default_rng(seed)
    change = torch.from_numpy(rng.permutation(n) + 1.0)          # distinct, positive
    for selection in ("threshold", "strict_topk"):
        chosen = select_samples(change, pct, selection, clamp=True)
        assert int(chosen.sum()) == round(n * pct)
        if chosen.any():                                           # the largest ones
            assert change[chosen].min() > change[~chosen].max() if (~chosen).any() else True


# ------------------------------------------------------------------------------ 4. ties

def test_ties_threshold_drops_nothing_strict_topk_breaks_by_index():
    feats = torch.ones(4, 2, 3, 3, dtype=torch.float64)            # every CAM row is constant
    weight = torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    y = torch.zeros(4, dtype=torch.int64)
    kw = dict(mode="spatial", batch_drop=0.5, return_details=True)
    _, d = rsc_mask(feats, avg_linear(weight), y, selection="threshold", **kw)
    assert not d.dropped.any() and not d.challenged.any()          # official: strict '>'
    mask, d = rsc_mask(feats, avg_linear(weight), y, selection="strict_topk", **kw)
    first3 = torch.tensor([True] * 3 + [False] * 6)
    assert torch.equal(d.dropped, first3.expand(4, -1))            # ceil(9/3) = 3, by index
    assert d.challenged.tolist() == [True, True, False, False]     # tied drops: lower index
    assert int((mask == 0).sum()) == 6


def test_batch_ties_in_both_modes():
    change = torch.full((6,), 0.25, dtype=torch.float64)
    assert not select_samples(change, 0.5, "threshold", clamp=True).any()
    assert select_samples(change, 0.5, "strict_topk", clamp=True).tolist() == [True] * 3 + \
        [False] * 3


# --------------------------------------------------------------------------- 5. schedule

def test_schedule_values_and_clamp():
    s = RSCSchedule("official_curriculum")
    expected = {0: 0.3, 9: 0.3, 10: 0.5, 19: 0.5, 20: 0.7, 29: 0.7, 30: 0.9, 45: 0.9, 400: 0.9}
    for epoch, value in expected.items():
        assert s(epoch) == pytest.approx(value, abs=1e-12)
    imagenet = RSCSchedule("imagenet")
    for epoch, value in {0: 1 / 6, 18: 1 / 6, 19: 1 / 5.5, 38: 1 / 5.5, 39: 0.2, 58: 0.2,
                         59: 1 / 4.5, 78: 1 / 4.5, 79: 0.25, 89: 0.25}.items():
        assert imagenet(epoch) == pytest.approx(value, abs=1e-12)
    assert RSCSchedule("constant", 0.4)(7) == 0.4


def test_head_follows_the_schedule_at_epoch_45_without_index_error():
    head = RSCHead(torch.nn.Linear(4, 3), preset="official_dg").set_epoch(45)
    assert head.mask_kwargs()["batch_drop"] == pytest.approx(0.9)
    out = head(torch.randn(10, 4, 2, 2), torch.arange(10) % 3)
    assert out.shape == (10, 3)


# ---------------------------------------------------------------------- 6. eval identity

def test_eval_mode_is_identity_and_draws_nothing():
    torch.manual_seed(3)
    fc = torch.nn.Linear(5, 4)
    gen = torch.Generator().manual_seed(11)
    head = RSCHead(fc, preset="official_dg", rng=gen).eval()
    feats = torch.randn(7, 5, 3, 3)
    gen_state, global_state = gen.get_state(), torch.get_rng_state()
    out = head(feats, torch.arange(7) % 4)
    assert torch.equal(out, fc(feats.mean(dim=(2, 3))))
    assert torch.equal(gen.get_state(), gen_state)
    assert torch.equal(torch.get_rng_state(), global_state)


# ----------------------------------------------------------------------- 7. gradient flow

def test_gradient_flow_and_fc_gradient():
    torch.manual_seed(5)
    fc = torch.nn.Linear(6, 3).double()
    ref = torch.nn.Linear(6, 3).double()
    ref.load_state_dict(fc.state_dict())
    feats = torch.randn(16, 6, 4, 4, dtype=torch.float64, requires_grad=True)
    y = torch.arange(16) % 3
    kw = {**OFFICIAL, "batch_drop": 0.5}
    mask, d = rsc_mask(feats, avg_linear(fc.weight.detach(), fc.bias.detach()), y,
                       rng=torch.Generator().manual_seed(2), return_details=True, **kw)
    logits = rsc_forward(feats, lambda f: fc(f.mean(dim=(2, 3))), y,
                         rng=torch.Generator().manual_seed(2), **kw)
    F.cross_entropy(logits, y).backward()
    full_mask = mask.expand_as(feats)
    muted = full_mask == 0
    assert d.challenged.any() and muted.any()
    assert (feats.grad[muted] == 0).all()
    assert (feats.grad[~d.challenged] != 0).all()
    assert (feats.grad[~muted] != 0).all()
    F.cross_entropy(ref((feats.detach() * mask).mean(dim=(2, 3))), y).backward()
    torch.testing.assert_close(fc.weight.grad, ref.weight.grad)
    torch.testing.assert_close(fc.bias.grad, ref.bias.grad)


# ---------------------------------------------------------------------- 8. side effects

def test_scoring_leaves_grad_and_batchnorm_statistics_alone():
    torch.manual_seed(6)
    backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                                   torch.nn.ReLU())
    classifier = torch.nn.Sequential(torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 4))
    head = RSCHead(classifier, preset="official_dg")
    params = list(backbone.parameters()) + list(classifier.parameters())
    for p in params[::2]:
        p.grad = torch.full_like(p, 7.0)
    x, y = torch.randn(12, 3, 5, 5), torch.arange(12) % 4
    feats = backbone(x)
    mask = rsc_mask(feats, lambda f: classifier.eval()(f.mean((2, 3))), y, **OFFICIAL)
    classifier.train()
    assert mask.shape[0] == 12
    for i, p in enumerate(params):
        assert (p.grad is None) if i % 2 else torch.equal(p.grad, torch.full_like(p, 7.0))
    bn_stats = classifier[0].running_mean.clone()
    head(feats, y)
    # one BN update each: the backbone ran once, the head's scoring passes ran in eval mode
    assert int(backbone[1].num_batches_tracked) == 1
    assert int(classifier[0].num_batches_tracked) == 1
    assert not torch.equal(classifier[0].running_mean, bn_stats)
    assert classifier.training and head.training


# --------------------------------------------------------------------- 9. DomainBed parity

def _domainbed_numpy(feats, weight, bias, y, f_drop, b_drop):
    """DomainBed's RSC mask, transcribed with NumPy (np.percentile, no eps, no clamp)."""
    g = weight[y]                                                  # d logits[y] / d f
    thr = np.percentile(g, (1 - f_drop) * 100, axis=1)[:, None]
    mask_f = (g < thr).astype(float)

    def prob(z):
        logits = z @ weight.T + bias
        e = np.exp(logits - logits.max(1, keepdims=True))
        return (e / e.sum(1, keepdims=True))[np.arange(len(y)), y]

    changes = prob(feats) - prob(feats * mask_f)
    thr_b = np.percentile(changes, (1 - b_drop) * 100)
    mask_b = (changes < thr_b).astype(float)[:, None]
    return np.logical_or(mask_f, mask_b).astype(float)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 40), d=st.integers(2, 64),
       f_drop=st.floats(0.05, 0.5), b_drop=st.floats(0.05, 0.5))
def test_domainbed_parity(seed, n, d, f_drop, b_drop):
    rng = np.random.default_rng(seed)
    feats, weight = rng.standard_normal((n, d)), rng.standard_normal((5, d))
    bias, y = rng.standard_normal(5), rng.integers(0, 5, n)
    expected = _domainbed_numpy(feats, weight, bias, y, f_drop, b_drop)
    kw = {**rsc_preset("domainbed"), "feature_drop": f_drop, "batch_drop": b_drop}
    mask = rsc_mask(torch.from_numpy(feats), avg_linear(torch.from_numpy(weight),
                                                        torch.from_numpy(bias)),
                    torch.from_numpy(y), **kw)
    np.testing.assert_array_equal(mask.numpy(), expected)


# ---------------------------------------------------------------------- 10. determinism

def _mode_sequence(seed, steps=24):
    gen = torch.Generator().manual_seed(seed)
    fc = torch.nn.Linear(4, 3)
    feats, y = torch.randn(6, 4, 3, 3), torch.arange(6) % 3
    return [rsc_mask(feats, lambda f: fc(f.mean((2, 3))), y, rng=gen, return_details=True,
                     **OFFICIAL)[1].mode for _ in range(steps)]


def test_seeded_generator_reproduces_the_mode_sequence():
    first = _mode_sequence(123)
    assert first == _mode_sequence(123)
    assert set(first) == {"spatial", "channel"}
    assert first != _mode_sequence(321)


def test_imagenet_preset_draws_above_the_median_reproducibly():
    torch.manual_seed(0)
    feats = torch.rand(6, 8, 7, 7, dtype=torch.float64)
    weight = torch.rand(3, 8, dtype=torch.float64)
    y = torch.arange(6) % 3
    kw = {**rsc_preset("imagenet"), "batch_drop": 0.5}
    runs = [rsc_mask(feats, avg_linear(weight), y, rng=torch.Generator().manual_seed(9),
                     return_details=True, **kw)[1] for _ in range(2)]
    assert torch.equal(runs[0].dropped, runs[1].dropped)
    d = runs[0]
    assert d.dropped.sum(1).tolist() == [16] * 6                   # int(49 / 3)
    median = d.scores.sort(dim=1, descending=True).values[:, 24:25]
    assert (d.scores[d.dropped].view(6, 16) > median).all()


# --------------------------------------------------------------------- module and extras

def test_head_vector_mode_with_domainbed_preset():
    head = RSCHead(torch.nn.Linear(10, 4), preset="domainbed", pool="none")
    out = head(torch.randn(9, 10), torch.arange(9) % 4)
    assert out.shape == (9, 4)
    assert "preset='domainbed'" in repr(head)


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_extreme_magnitudes_give_the_same_spatial_choice(scale):
    torch.manual_seed(8)
    feats = torch.rand(6, 4, 4, 4, dtype=torch.float64)
    weight = torch.rand(3, 4, dtype=torch.float64)
    y = torch.arange(6) % 3
    kw = dict(mode="spatial", return_details=True)
    _, d1 = rsc_mask(feats, avg_linear(weight), y, **kw)
    _, d2 = rsc_mask(feats * scale, avg_linear(weight), y, **kw)
    assert torch.equal(d1.dropped, d2.dropped)
    assert torch.isfinite(d2.change).all()


def test_float32_near_its_largest_value_ranks_without_overflow():
    feats = torch.full((2, 4, 2, 2), 3e38)
    feats[:, :, 0, 0] = 1e38
    weight = torch.ones(2, 4)
    head = lambda f: avg_linear(weight)(f * 1e-30)                  # noqa: E731
    _, d = rsc_mask(feats, head, torch.tensor([0, 1]), mode="spatial", return_details=True)
    assert d.dropped[:, 0].logical_not().all() and d.dropped.sum(1).tolist() == [2, 2]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_mask_follows_the_input_device():
    fc = torch.nn.Linear(6, 3).cuda()
    feats = torch.randn(8, 6, 4, 4, device="cuda")
    y = (torch.arange(8) % 3).cuda()
    for preset in ("official_dg", "imagenet"):
        mask = rsc_mask(feats, lambda f: fc(f.mean((2, 3))), y, **rsc_preset(preset))
        assert mask.device.type == "cuda" and mask.dtype == feats.dtype
    head = RSCHead(fc, preset="official_dg")
    assert head(feats, y).device.type == "cuda"
