"""ER-ZSAR bad inputs (spec nn_psa_rsc_er 3.9): each gives the listed error or warning."""

import json
import warnings

import pytest
import torch

from normgraph.nn.zeroshot import (
    TfidfTextEncoder,
    ZeroShotVideoTextModel,
    build_concept_vocab,
    elaborative_rehearsal_loss,
    kinetics220_splits,
    topk_accuracy,
    zsar_classification_loss,
    zsar_split,
)

TEXTS = ["move left: the shape moves left", "spin: the shape turns", "ball: a small disc",
         "grow: the shape gets bigger"]


@pytest.fixture(scope="module")
def model():
    enc = TfidfTextEncoder().fit(TEXTS)
    torch.manual_seed(0)
    return ZeroShotVideoTextModel(6, enc, enc.dim_, embed_dim=4).eval()


@pytest.mark.parametrize("shape", [(3, 5), (3,), (3, 6, 1), (0, 7)])
def test_video_features_of_the_wrong_shape(model, shape):
    with pytest.raises(ValueError, match=r"video features must have shape \(B, 6\)"):
        model(torch.randn(*shape), TEXTS[:2], [TEXTS[2]] * (shape[0] or 1))


def test_video_features_not_a_float_tensor(model):
    with pytest.raises(TypeError, match="video"):
        model([[0.0] * 6], TEXTS[:2], [TEXTS[2]])


@pytest.mark.parametrize("classes,match", [([], "class_texts is empty"),
                                           (["move left", ""], r"class_texts\[1\] is an empty"),
                                           (["  "], r"class_texts\[0\] is an empty")])
def test_empty_class_list_or_empty_class_text(model, classes, match):
    with pytest.raises(ValueError, match=match):
        model(torch.randn(2, 6), classes, [TEXTS[2]] * 2)


def test_class_texts_of_the_wrong_type(model):
    with pytest.raises(TypeError, match="class_texts"):
        model(torch.randn(2, 6), "move left", [TEXTS[2]] * 2)


def test_duplicate_class_text_warns(model):
    with pytest.warns(UserWarning, match="duplicate texts.*ambiguous"):
        model(torch.randn(2, 6), [TEXTS[0], TEXTS[1], TEXTS[0]], [TEXTS[2]] * 2)


def test_target_out_of_range_is_an_index_error(model):
    out = model(torch.randn(2, 6), TEXTS[:3], [TEXTS[2]] * 2)
    with pytest.raises(IndexError, match="target index 3 is out of range for K=3"):
        model.loss(out, torch.tensor([0, 3]))
    with pytest.raises(IndexError, match="target index -1"):
        zsar_classification_loss(out.act, targets=torch.tensor([0, -1]))
    with pytest.raises(IndexError, match="target index 7"):
        topk_accuracy(out.logits, torch.tensor([7, 0]), ks=(1,))


@pytest.mark.parametrize("tau", [0.0, -0.1])
def test_nonpositive_temperature(tau):
    act = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        zsar_classification_loss(act, targets=torch.tensor([0]), temperature=tau)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        elaborative_rehearsal_loss([torch.eye(2)], torch.eye(2), torch.eye(2).bool(), tau)
    enc = TfidfTextEncoder().fit(TEXTS)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        ZeroShotVideoTextModel(6, enc, enc.dim_, temperature=tau)


def test_er_row_without_positive_is_skipped_and_empty_batch_is_zero_with_warning():
    v = torch.nn.functional.normalize(torch.randn(2, 3), dim=1)
    E = torch.nn.functional.normalize(torch.randn(2, 3), dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = elaborative_rehearsal_loss([v], E, torch.tensor([[True, False], [False, False]]), 1.0)
        alone = elaborative_rehearsal_loss([v[:1]], E, torch.tensor([[True, False]]), 1.0)
    assert torch.allclose(one, alone)
    with pytest.warns(UserWarning, match="no positive concept"):
        zero = elaborative_rehearsal_loss([v, v], E, torch.zeros(2, 2, dtype=torch.bool), 1.0)
    assert float(zero) == 0.0 and not torch.isnan(zero)
    with pytest.warns(UserWarning, match="no positive concept"):
        vocab, targets = build_concept_vocab([[], []])
        zero = elaborative_rehearsal_loss([v], E[:0], targets, 1.0)
    assert vocab == [] and float(zero) == 0.0


def test_model_loss_with_no_concepts_warns_and_adds_zero(model):
    out = model(torch.randn(2, 6), TEXTS[:2], [TEXTS[2]] * 2)
    y = torch.tensor([0, 1])
    with pytest.warns(UserWarning, match="no positive concept"):
        total = model.loss(out, y, [[], []])
    assert torch.allclose(total, model.loss(out, y))


def test_split_with_seen_unseen_overlap_lists_the_ids():
    with pytest.raises(ValueError, match=r"overlap in the class ids \[3, 4\]"):
        zsar_split([0, 1, 2, 3, 4], [3, 4, 5, 6], n_val=1)


@pytest.mark.parametrize("n_val", [0, 4])
def test_split_n_val_out_of_range(n_val):
    with pytest.raises(ValueError, match="n_val"):
        zsar_split([0, 1], [2, 3, 4, 5], n_val=n_val)


def test_kinetics_preset_sizes_must_add_up(tmp_path):
    val = tmp_path / "v.json"
    val.write_text(json.dumps([list(range(400, 460))]))
    tst = tmp_path / "t.json"
    tst.write_text(json.dumps([list(range(460, 620))]))
    with pytest.raises(ValueError, match=r"n_val \+ n_test must equal the 220"):
        kinetics220_splits(val, tst, n_val=60, n_test=150)
    with pytest.raises(ValueError, match="expected 50 val and 170 test"):
        kinetics220_splits(val, tst, n_val=50, n_test=170)
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"split": [1, 2]}))
    with pytest.raises(ValueError, match="JSON list"):
        kinetics220_splits(bad, tst)


def test_object_texts_required_and_counted(model):
    with pytest.raises(ValueError, match="object_texts is required"):
        model(torch.randn(2, 6), TEXTS[:2])
    with pytest.raises(ValueError, match="one text per video"):
        model(torch.randn(2, 6), TEXTS[:2], [TEXTS[2]] * 3)


def test_topk_k_larger_than_k_classes():
    with pytest.raises(ValueError, match="ks must be <= K=3"):
        topk_accuracy(torch.randn(2, 3), torch.tensor([0, 1]), ks=(1, 5))


def test_bad_constructor_parameters():
    enc = TfidfTextEncoder().fit(TEXTS)
    with pytest.raises(ValueError, match="fusion must be one of"):
        ZeroShotVideoTextModel(6, enc, enc.dim_, fusion="concat")
    with pytest.raises(TypeError, match="use_objects"):
        ZeroShotVideoTextModel(6, enc, enc.dim_, use_objects=1)
    with pytest.raises(TypeError, match="text_encoder"):
        ZeroShotVideoTextModel(6, "bert", 8)
    with pytest.raises(ValueError, match="text_dim"):
        ZeroShotVideoTextModel(6, enc, 0)


def test_unfitted_tfidf_encoder():
    with pytest.raises(RuntimeError, match="not fitted"):
        TfidfTextEncoder()(["a"])


@pytest.mark.parametrize("scale", [1e-300, 1e-100, 1e100, 1e300])
def test_extreme_magnitude_video_features_give_the_scaled_answer(scale):
    enc = TfidfTextEncoder().fit(TEXTS)
    torch.manual_seed(0)
    model = ZeroShotVideoTextModel(6, enc, enc.dim_, embed_dim=4).double().eval()
    with torch.no_grad():
        model.video_proj.linear.bias.zero_()  # without a bias the scores are scale-invariant
        x = torch.randn(3, 6, dtype=torch.float64)
        base = model(x, TEXTS[:3], [TEXTS[3]] * 3)
        out = model(x * scale, TEXTS[:3], [TEXTS[3]] * 3)
    assert torch.allclose(out.logits, base.logits, rtol=1e-12, atol=1e-12)
