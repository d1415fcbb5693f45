"""ER-ZSAR (spec nn_psa_rsc_er 3.8): pooling, cosine scores, clamp rule, the three CE terms,
the ER loss on three logit sets, temperature, invariances, top-k, per-metric selection,
splits, gradcheck and eval determinism. References are loops, explicit formulas, or
closed forms written independently of the code."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from normgraph.nn.zeroshot import (
    GatedFusion,
    PrecomputedTextEncoder,
    TfidfTextEncoder,
    ZeroShotVideoTextModel,
    build_concept_vocab,
    elaborative_rehearsal_loss,
    gated_fusion,
    kinetics220_splits,
    masked_mean_pool,
    scale_by_temperature,
    select_per_metric,
    topk_accuracy,
    zsar_classification_loss,
    zsar_scores,
    zsar_split,
)

WORDS = "move left right up down spin grow shrink ball hoop box flag star wall floor".split()


class TinyTokenEncoder(torch.nn.Module):
    """Tiny random text encoder: word embeddings as token states, padded, with a mask."""

    def __init__(self, dim=6, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.vocab = {w: i for i, w in enumerate(WORDS)}
        self.emb = torch.nn.Parameter(torch.randn(len(WORDS), dim, generator=g))

    def forward(self, texts):
        ids = [[self.vocab[w] for w in t.replace(":", " ").split() if w in self.vocab] or [0]
               for t in texts]
        L = max(len(i) for i in ids)
        states = torch.full((len(texts), L, self.emb.shape[1]), 1e30, dtype=self.emb.dtype)
        mask = torch.zeros(len(texts), L)
        for r, row in enumerate(ids):
            states[r, :len(row)] = self.emb[row]
            mask[r, :len(row)] = 1
        return states, mask


CLASSES = ["move left", "move right", "spin", "grow", "shrink up"]
OBJECTS = ["ball hoop", "box flag", "star wall", "floor ball"]


def tiny_model(dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    model = ZeroShotVideoTextModel(5, TinyTokenEncoder(), 6, embed_dim=4, **kw)
    return model.to(dtype)


# 1. masked mean pooling ------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_masked_mean_pool_matches_loop(seed):
    rng = np.random.default_rng(seed)
    n, L, d = rng.integers(1, 5), rng.integers(1, 6), rng.integers(1, 4)
    states = rng.normal(size=(n, L, d))
    mask = rng.random((n, L)) < 0.6
    mask[np.arange(n), rng.integers(0, L, n)] = True
    states[~mask] = 1e300  # huge padding must not leak
    got = masked_mean_pool(torch.from_numpy(states), torch.from_numpy(mask)).numpy()
    for i in range(n):
        acc, cnt = np.zeros(d), 0
        for j in range(L):
            if mask[i, j]:
                acc += states[i, j]
                cnt += 1
        np.testing.assert_allclose(got[i], acc / cnt, rtol=1e-12, atol=1e-12)


def test_masked_mean_pool_all_masked_row_is_an_error():
    with pytest.raises(ValueError, match="no valid token"):
        masked_mean_pool(torch.ones(2, 3, 4), torch.tensor([[1, 0, 0], [0, 0, 0]]))


# 2. and 3. cosine scores and the clamp rule ------------------------------------------------
@torch.no_grad()
def test_scores_are_cosines_and_in_range():
    model = tiny_model().eval()
    video = torch.randn(7, 5, dtype=torch.float64)
    out = model(video, CLASSES, OBJECTS[:3] + OBJECTS[:3] + OBJECTS[:1])
    assert out.act.abs().max() <= 1 + 1e-12 and out.obj.abs().max() <= 1 + 1e-12
    assert out.logits.min() >= -1 - 1e-12 and out.logits.max() <= 2 + 1e-12
    t = model.encode_texts(CLASSES)
    for b in range(7):
        for k in range(len(CLASSES)):
            v, c = out.video_emb[b], t[k]
            cos = float((v * c).sum() / (v.norm() * c.norm()))
            assert math.isclose(float(out.act[b, k]), cos, abs_tol=1e-12)
            o = out.object_emb[b]
            assert math.isclose(float(out.obj[b, k]), float((o * c).sum() / o.norm() / c.norm()),
                                abs_tol=1e-12)


def test_clamp_rule():
    t = F.normalize(torch.randn(6, 4, dtype=torch.float64), dim=1)
    v = F.normalize(torch.randn(3, 4, dtype=torch.float64), dim=1)
    neg = zsar_scores(v, t, -t[:3])          # object embeddings opposite to classes 0..2
    pos_rows = neg.obj > 0
    expected = torch.where(pos_rows, neg.act + neg.obj, neg.act)
    assert torch.equal(neg.logits, expected)
    all_neg = zsar_scores(v, t[:1], -t[:1].expand(3, 4))
    assert torch.equal(all_neg.logits, all_neg.act)
    all_pos = zsar_scores(v, t[:1], t[:1].expand(3, 4))
    assert torch.equal(all_pos.logits, all_pos.act + all_pos.obj)
    unclamped = zsar_scores(v, t, -t[:3], clamp_object_logits=False)
    assert torch.equal(unclamped.logits, unclamped.act + unclamped.obj)


# 4. and 12. the ER loss -------------------------------------------------------------------
def _manual_multilabel(scores, targets, tau):
    total, count = 0.0, 0
    for b in range(scores.shape[0]):
        row = [s / tau for s in scores[b].tolist()]
        lse = math.log(sum(math.exp(x) for x in row))
        for m in range(scores.shape[1]):
            if targets[b][m]:
                total += -(row[m] - lse)
                count += 1
    return total / count


def test_er_loss_three_video_example():
    vocab, targets = build_concept_vocab([["a", "b"], ["b", "c"], ["a", "d"]])
    assert vocab == ["a", "b", "c", "d"]
    assert targets.int().tolist() == [[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 1]]
    g = torch.Generator().manual_seed(1)
    v = F.normalize(torch.randn(3, 5, generator=g, dtype=torch.float64), dim=1)
    E = F.normalize(torch.randn(4, 5, generator=g, dtype=torch.float64), dim=1)
    got = elaborative_rehearsal_loss([v], E, targets, 0.1)
    assert int(targets.sum()) == 6
    assert math.isclose(float(got), _manual_multilabel(v @ E.T, targets.tolist(), 0.1),
                        rel_tol=1e-12)


def test_er_loss_three_sets_no_clamp():
    _, targets = build_concept_vocab([["a", "b"], ["b", "c"], ["a", "d"]])
    g = torch.Generator().manual_seed(2)
    v = F.normalize(torch.randn(3, 5, generator=g, dtype=torch.float64), dim=1)
    E = F.normalize(torch.randn(4, 5, generator=g, dtype=torch.float64), dim=1)
    o = F.normalize(-E[[0, 1, 2]] + 0.1 * torch.randn(3, 5, generator=g,
                                                      dtype=torch.float64), dim=1)
    oE, vE = o @ E.T, v @ E.T
    assert (oE < 0).any()
    t = targets.tolist()
    manual = (_manual_multilabel(vE, t, 0.1) + _manual_multilabel(oE, t, 0.1)
              + _manual_multilabel(vE + oE, t, 0.1))
    got = float(elaborative_rehearsal_loss([v, o], E, targets, 0.1))
    assert math.isclose(got, manual, rel_tol=1e-12)
    clamped = (_manual_multilabel(vE, t, 0.1) + _manual_multilabel(oE, t, 0.1)
               + _manual_multilabel(vE + oE.clamp(min=0), t, 0.1))
    assert abs(got - clamped) > 1e-3


def test_er_loss_skips_rows_without_positives():
    targets = torch.tensor([[True, False], [False, False]])
    v = F.normalize(torch.randn(2, 3, dtype=torch.float64), dim=1)
    E = F.normalize(torch.randn(2, 3, dtype=torch.float64), dim=1)
    got = elaborative_rehearsal_loss([v], E, targets, 0.5)
    assert math.isclose(float(got), _manual_multilabel(v[:1] @ E.T, [[1, 0]], 0.5),
                        rel_tol=1e-12)


# 5. temperature ----------------------------------------------------------------------------
@pytest.mark.parametrize("tau,norm", [(0.05, 0.070), (0.1, 0.686), (0.2, 1.398),
                                      (0.5, 1.141), (1.0, 0.692)])
def test_temperature_exact_and_gradient(tau, norm):
    cos = torch.tensor([[0.5, 0.2, -0.1]], dtype=torch.float64, requires_grad=True)
    assert torch.equal(scale_by_temperature(cos, tau), cos / tau)
    loss = zsar_classification_loss(cos, targets=torch.tensor([0]), temperature=tau)
    loss.backward()
    z = [c / tau for c in (0.5, 0.2, -0.1)]
    soft = [math.exp(x) / sum(math.exp(y) for y in z) for x in z]
    expected = torch.tensor([[(soft[0] - 1) / tau, soft[1] / tau, soft[2] / tau]],
                            dtype=torch.float64)
    assert torch.allclose(cos.grad, expected, atol=1e-10, rtol=0)
    assert round(float(cos.grad.norm()), 3) == norm


# 6. and 7. zero-shot invariance and class permutation ----------------------------------------
@torch.no_grad()
def test_adding_an_unused_class_keeps_the_order_of_the_others():
    model = tiny_model().eval()
    video = torch.randn(6, 5, dtype=torch.float64)
    objs = OBJECTS + OBJECTS[:2]
    base = model(video, CLASSES[:4], objs).logits
    more = model(video, CLASSES[:4] + ["shrink up"], objs).logits
    assert torch.equal(more[:, :4], base)
    assert torch.equal(more[:, :4].argsort(dim=1), base.argsort(dim=1))
    new_wins = more.argmax(dim=1) == 4
    assert torch.equal(more.argmax(dim=1)[~new_wins], base.argmax(dim=1)[~new_wins])
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    for scores in (base, more):
        p = torch.softmax(scores / 0.1, dim=1)
        assert torch.allclose(p[:, :4] / p[:, :4].sum(1, keepdim=True),
                              torch.softmax(base / 0.1, dim=1), atol=1e-12)
    assert float(F.cross_entropy(more / 0.1, y)) >= float(F.cross_entropy(base / 0.1, y))


def test_class_permutation_equivariance():
    model = tiny_model().eval()
    video = torch.randn(8, 5, dtype=torch.float64)
    objs = OBJECTS * 2
    y = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    perm = [3, 0, 4, 1, 2]
    base = model(video, CLASSES, objs)
    permuted = model(video, [CLASSES[p] for p in perm], objs)
    assert torch.allclose(permuted.logits, base.logits[:, perm], atol=1e-14)
    inv = torch.tensor(np.argsort(perm))
    assert topk_accuracy(permuted.logits, inv[y], ks=(1, 2)) == \
        topk_accuracy(base.logits, y, ks=(1, 2))


# 8. split builder ---------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.integers(0, 1000), st.integers(1, 4))
def test_zsar_split_properties(n_unseen, seed, n_splits):
    seen, unseen = list(range(10)), list(range(100, 100 + n_unseen))
    n_val = 1 + seed % (n_unseen - 1)
    splits = zsar_split(seen, unseen, n_val, n_splits, seed)
    assert splits == zsar_split(seen, unseen, n_val, n_splits, seed)
    assert len(splits) == n_splits
    for s in splits:
        assert not set(s.val) & set(s.test)
        assert sorted(s.val + s.test) == unseen and len(s.val) == n_val
        assert not set(s.seen) & set(s.val + s.test)


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_kinetics_preset_400_60_160(tmp_path):
    rng = np.random.default_rng(0)
    vals, tests = [], []
    for _ in range(3):
        perm = (400 + rng.permutation(220)).tolist()
        vals.append(perm[:60])
        tests.append(perm[60:])
    splits = kinetics220_splits(_write(tmp_path / "val.json", vals),
                                _write(tmp_path / "tst.json", tests),
                                _write(tmp_path / "trn.json", [list(range(400))] * 3))
    assert len(splits) == 3
    for s, v, t in zip(splits, vals, tests):
        assert (len(s.seen), len(s.val), len(s.test)) == (400, 60, 160)
        assert s.seen == list(range(400)) and s.val == v and s.test == t
        assert sorted(s.val + s.test) == list(range(400, 620))


def test_kinetics_preset_rejects_overlapping_files(tmp_path):
    val = [list(range(400, 460))]
    test = [list(range(459, 619))]
    with pytest.raises(ValueError, match=r"overlap in the class ids \[459\]"):
        kinetics220_splits(_write(tmp_path / "v.json", val), _write(tmp_path / "t.json", test))


# 9. gradcheck ----------------------------------------------------------------------------------
def test_gradcheck_through_gates_and_losses():
    torch.manual_seed(0)
    fusion = GatedFusion(3, dropout=0.0).double()
    t = F.normalize(torch.randn(4, 3, dtype=torch.float64), dim=1)
    E = F.normalize(torch.randn(5, 3, dtype=torch.float64), dim=1)
    y = torch.tensor([0, 2])
    er_t = torch.tensor([[1, 1, 0, 0, 0], [0, 0, 1, 0, 1]], dtype=torch.bool)

    def f(v, o):
        v, o = F.normalize(v, dim=1), F.normalize(o, dim=1)
        vf, of = fusion(v, o)
        s = zsar_scores(vf, t, of)
        return (zsar_classification_loss(s.act, s.obj, s.logits, y, 0.5)
                + elaborative_rehearsal_loss([vf, of], E, er_t, 0.5))

    v = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    o = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (v, o))
    w = fusion.action_gate[0].weight
    assert torch.autograd.gradcheck(
        lambda w_: (gated_fusion(F.normalize(v, dim=1).detach(), F.normalize(o, dim=1).detach(),
                                 lambda u: torch.sigmoid(u @ w_.T), fusion.object_gate)[0]
                    * t[:1]).sum(), (w.detach().clone().requires_grad_(),))


# 10. eval mode ----------------------------------------------------------------------------
def test_eval_mode_is_deterministic_and_train_mode_uses_dropout():
    model = tiny_model(dtype=torch.float64, video_dropout=0.5)
    video = torch.randn(6, 5, dtype=torch.float64)
    objs = OBJECTS + OBJECTS[:2]
    model.eval()
    a, b = model(video, CLASSES, objs), model(video, CLASSES, objs)
    assert torch.equal(a.logits, b.logits)
    model.train()
    torch.manual_seed(1)
    c = model(video, CLASSES, objs)
    assert not torch.equal(c.logits, a.logits)


# 11. the three CE terms ----------------------------------------------------------------------
@torch.no_grad()
def test_three_ce_terms_on_unclamped_objects():
    model = tiny_model().eval()
    video = torch.randn(4, 5, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3])
    out = model(video, CLASSES, OBJECTS)
    assert (out.obj < 0).any()
    tau = model.temperature

    def ce(s):
        return sum(-(s[b, y[b]] / tau - math.log(sum(math.exp(x / tau) for x in s[b].tolist())))
                   for b in range(len(y))) / len(y)

    manual = float(ce(out.logits) + ce(out.act) + ce(out.obj))
    got = float(model.loss(out, y))
    assert math.isclose(got, manual, rel_tol=1e-12, abs_tol=1e-12)
    assert abs(got - float(ce(out.logits) + ce(out.act) + ce(out.obj.clamp(min=0)))) > 1e-6
    assert abs(got - float(ce(out.logits) + ce(out.act))) > 1e-6

    plain = tiny_model(use_objects=False).eval()
    out2 = plain(video, CLASSES)
    assert out2.obj is None
    assert math.isclose(float(plain.loss(out2, y)), float(ce(out2.act)), rel_tol=1e-12)


def test_model_loss_adds_the_er_term():
    model = tiny_model().eval()
    video = torch.randn(3, 5, dtype=torch.float64)
    out = model(video, CLASSES, OBJECTS[:3])
    y = torch.tensor([0, 1, 2])
    lists = [["ball", "hoop"], ["hoop", "box"], ["ball", "flag"]]
    vocab, t = build_concept_vocab(lists)
    E = model.encode_texts(vocab)
    expected = model.loss(out, y) + elaborative_rehearsal_loss(
        [out.video_emb, out.object_emb], E, t, 0.1)
    assert torch.allclose(model.loss(out, y, lists), expected, atol=1e-12)


# 13. top-k and per-metric selection -------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_topk_matches_loop(seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(12, 8))
    y = rng.integers(0, 8, 12)
    got = topk_accuracy(torch.from_numpy(scores), torch.from_numpy(y), ks=(1, 5))
    for k in (1, 5):
        hits = 0
        for b in range(12):
            order = sorted(range(8), key=lambda j: -scores[b, j])
            hits += int(y[b] in order[:k])
        assert got[k] == hits / 12


def test_select_per_metric_takes_each_metric_from_its_own_epoch():
    val = [{1: 0.30, 5: 0.60}, {1: 0.50, 5: 0.70}, {1: 0.40, 5: 0.80}]
    test = [{1: 0.25, 5: 0.55}, {1: 0.45, 5: 0.65}, {1: 0.41, 5: 0.79}]
    sel = select_per_metric(val, test)
    assert (sel[1].epoch, sel[1].test) == (1, 0.45)
    assert (sel[5].epoch, sel[5].test) == (2, 0.79)
    tie = select_per_metric([{1: 0.5}, {1: 0.5}], [{1: 0.1}, {1: 0.9}])
    assert tie[1].epoch == 0 and tie[1].test == 0.1


# text encoders ------------------------------------------------------------------------------------
def test_tfidf_encoder_matches_sklearn_and_drives_the_model():
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = ["move left: goes left", "spin: turns around", "ball: a small disc"]
    enc = TfidfTextEncoder().fit(corpus)
    ref = TfidfVectorizer().fit(corpus).transform(corpus[:2]).toarray()
    np.testing.assert_allclose(enc(corpus[:2]).numpy(), ref, rtol=1e-6)
    model = ZeroShotVideoTextModel(3, enc, enc.dim_, embed_dim=4, use_objects=False).double()
    assert model(torch.randn(2, 3, dtype=torch.float64), corpus[:2]).act.dtype == torch.float64


def test_precomputed_encoder_looks_up_rows():
    vecs = torch.arange(6.0).view(3, 2)
    enc = PrecomputedTextEncoder(["a", "b", "c"], vecs)
    assert torch.equal(enc(["c", "a"]), vecs[[2, 0]])
    assert enc.double()(["b"]).dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_forward_follows_device():
    model = tiny_model(dtype=torch.float32).cuda().eval()
    out = model(torch.randn(4, 5, device="cuda"), CLASSES, OBJECTS)
    assert out.logits.is_cuda
