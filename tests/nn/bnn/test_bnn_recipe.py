"""The two-step recipe: strict weights_only hand-off, parameter groups, LR schedule, KD,
trackers per step and the errors of spec 6."""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from normgraph.nn import DistributionLoss, bnn_param_groups, linear_lr_lambda
from normgraph.nn.bnn import (
    BinaryConv2d,
    C2ITracker,
    FlipFlopTracker,
    evaluate_accuracy,
    reactnet_a,
    two_step_train,
)

D = torch.float64


def data(n=24, classes=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 8, 8, generator=gen)
    y = torch.randint(0, classes, (n,), generator=gen)
    return [(x[i:i + 8], y[i:i + 8]) for i in range(0, n, 8)]


def make_fn(record=None, stages=2):
    def model_fn(binary_weights):
        torch.manual_seed(len(record) if record is not None else 0)
        m = reactnet_a(1 / 8, 3, small_input=True, stages=stages, binary_weights=binary_weights)
        if record is not None:
            record.append(m)
        return m
    return model_fn


class OptimizerSpy:
    """A 'tracker' class that records the optimizer it is attached to (and counts steps)."""

    seen = []

    def __init__(self, model):
        self.model, self.steps = model, 0
        self.start = {k: v.clone() for k, v in model.state_dict().items()}

    def attach(self, optimizer):
        OptimizerSpy.seen.append(self)
        self.optimizer = optimizer
        optimizer.register_step_post_hook(lambda *a, **k: self.update())
        return self

    def update(self):
        self.steps += 1

    def end_epoch(self):
        pass

    def detach(self):
        pass

    def summary(self):
        return {"steps": self.steps}


def test_param_groups_of_reactnet_decay_exactly_the_conv_weights():
    net = reactnet_a(1 / 8, 3, small_input=True, stages=3)
    groups = bnn_param_groups(net, weight_decay=5e-6, lr=1e-3)
    assert [g["name"] for g in groups] == ["conv_weights", "other"]   # no quantizer modules
    convs = [m.weight for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in convs}
    assert any(isinstance(m, BinaryConv2d) for m in net.modules())
    assert groups[0]["weight_decay"] == 5e-6 and groups[1]["weight_decay"] == 0.0
    rest = {id(p) for p in net.parameters()} - {id(p) for p in convs}
    assert {id(p) for p in groups[1]["params"]} == rest
    assert all(p.dim() != 4 for p in groups[1]["params"])


def test_lr_lambda_and_distribution_loss_oracles():
    f = linear_lr_lambda(8)
    assert [f(e) for e in range(9)] == [1 - e / 8 for e in range(9)]
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(6, 5, dtype=D, generator=gen, requires_grad=True)
    t = torch.randn(6, 5, dtype=D, generator=gen, requires_grad=True)
    loss = DistributionLoss()(s, t)
    ref = F.cross_entropy(s, F.softmax(t, 1))
    assert abs(float(loss.detach()) - float(ref.detach())) <= 1e-12
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    hot = 1e4 * F.one_hot(y, 5).to(D)
    with torch.no_grad():
        assert abs(float(DistributionLoss()(s, hot)) - float(F.cross_entropy(s, y))) <= 1e-6
    loss.backward()
    assert t.grad is None and s.grad is not None


def test_two_step_hand_off_is_strict_and_weights_only(monkeypatch, tmp_path):
    calls = []
    real_load = torch.load

    def spy_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy_load)
    OptimizerSpy.seen = []
    models = []
    hist = two_step_train(make_fn(models), None, data(), data(seed=1), epochs=(2, 1),
                          trackers=(OptimizerSpy,), verbose=False, checkpoint_dir=tmp_path)
    assert calls == [True]
    step1, step2 = models
    assert not any(m.binary_weights for m in step1.modules() if isinstance(m, BinaryConv2d))
    assert all(m.binary_weights for m in step2.modules() if isinstance(m, BinaryConv2d))
    assert hist["model"] is step2
    saved = real_load(hist["checkpoint"], weights_only=True)
    spy1, spy2 = OptimizerSpy.seen
    for k, v in step1.state_dict().items():   # the step-1 result is what step 2 starts from
        assert torch.equal(saved[k], v)
        assert torch.equal(spy2.start[k], v)
    assert spy1.steps == 2 * 3 and spy2.steps == 1 * 3    # 3 batches per epoch
    assert len(hist["step1"]["val_acc"]) == 2 and len(hist["step2"]["train_loss"]) == 1


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_optimizer_groups_schedule_and_weight_decay(kind):
    OptimizerSpy.seen = []
    hist = two_step_train(make_fn(), None, data(), None, epochs=(4, 2), lr=(2e-3, 1e-3),
                          weight_decay=(1e-4, 0.0), optimizer=kind, trackers=(OptimizerSpy,),
                          verbose=False)
    spy1, spy2 = OptimizerSpy.seen
    opt = spy1.optimizer
    assert isinstance(opt, torch.optim.Adam if kind == "adam" else torch.optim.SGD)
    if kind == "adam":
        assert opt.defaults["betas"] == (0.9, 0.999)
    else:
        assert opt.defaults["momentum"] == 0.9
    decays = {g["name"]: g["weight_decay"] for g in opt.param_groups}
    assert decays == {"conv_weights": 1e-4, "other": 0.0}
    assert {g["name"]: g["weight_decay"] for g in spy2.optimizer.param_groups} == {
        "conv_weights": 0.0, "other": 0.0}
    conv_ids = {id(m.weight) for m in spy1.model.modules() if isinstance(m, nn.Conv2d)}
    assert {id(p) for p in opt.param_groups[0]["params"]} == conv_ids
    assert hist["step1"]["lr"] == pytest.approx([2e-3 * (1 - e / 4) for e in range(4)])
    assert hist["step2"]["lr"] == pytest.approx([1e-3 * (1 - e / 2) for e in range(2)])
    assert hist["step1"]["val_acc"] == []


def test_distillation_uses_teacher_in_eval_mode_with_warning():
    teacher = reactnet_a(1 / 8, 3, small_input=True, stages=1, binary_weights=False,
                         binary_activations=False)
    forward_modes = []
    teacher.register_forward_hook(lambda m, i, o: forward_modes.append(m.training))
    assert teacher.training
    with pytest.warns(UserWarning, match="teacher was in train mode"):
        two_step_train(make_fn(), teacher, data(), None, epochs=1, verbose=False)
    assert not teacher.training and forward_modes and not any(forward_modes)
    assert all(not p.requires_grad for p in teacher.parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        two_step_train(make_fn(), teacher, data(), None, epochs=1, verbose=False)


def test_kd_loss_is_distribution_loss_against_teacher():
    """With lr -> 0 nothing moves within an epoch: the logged loss is the KD loss of the
    initial step-1 model (train mode) against the teacher, averaged over the batches."""
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(192, 3)).eval()
    batches = data()
    models = []
    hist = two_step_train(make_fn(models), teacher, batches, None, epochs=1, lr=1e-30,
                          verbose=False)
    fresh = make_fn([])(binary_weights=False).train()   # same seed as models[0] was built with
    with torch.no_grad():
        ref = sum(float(DistributionLoss()(fresh(x), teacher(x))) * len(y)
                  for x, y in batches) / 24
    assert hist["step1"]["train_loss"][0] == pytest.approx(ref, rel=1e-5)


def test_trackers_are_fresh_per_step_and_c2i_is_relative_to_checkpoint():
    hist = two_step_train(make_fn(), None, data(), None, epochs=(2, 2),
                          trackers=(FlipFlopTracker, C2ITracker), verbose=False)
    for step in ("step1", "step2"):
        tr = hist[step]["trackers"]
        assert len(tr["FlipFlopTracker"]["per_step"]) == 6
        assert len(tr["FlipFlopTracker"]["epoch_means"]) == 2
        assert len(tr["C2ITracker"]["agreement"]) == 6
        assert all(0 <= v <= 1 for v in tr["C2ITracker"]["per_step"])
    # step 1 starts from all-positive weights; C2I there counts the weights now negative
    model = hist["model"]
    state = [m.weight for m in model.modules() if isinstance(m, BinaryConv2d)]
    assert len(hist["step2"]["trackers"]["C2ITracker"]["per_layer"]) == len(state)


def test_non_finite_loss_stops_training():
    bad = data()
    bad[1][0][0, 0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match=r"step 1, epoch 1, batch 2"):
        two_step_train(make_fn(), None, bad, None, epochs=1, verbose=False)
    with pytest.raises(FloatingPointError, match="non-finite|nan|inf"):
        two_step_train(make_fn(), None, data(), None, epochs=3, lr=1e30, verbose=False,
                       optimizer="sgd")


def test_step2_checkpoint_with_missing_keys_lists_them():
    def model_fn(binary_weights):
        return reactnet_a(1 / 8, 3, small_input=True, stages=2 if not binary_weights else 3,
                          binary_weights=binary_weights)
    with pytest.raises(ValueError, match=r"missing keys \['blocks\.2\."):
        two_step_train(model_fn, None, data(), None, epochs=1, verbose=False)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(epochs=(1, 2, 3)), ValueError, "epochs"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(weight_decay=(-1.0, 0.0)), ValueError, "weight_decay"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(verbose=1), TypeError, "verbose"),
    (dict(trackers=FlipFlopTracker), TypeError, "trackers"),
    (dict(trackers=(3,)), TypeError, "trackers"),
    (dict(teacher="resnet34"), TypeError, "teacher"),
    (dict(model_fn=3), TypeError, "model_fn"),
    (dict(train_loader=iter(data())), TypeError, "train_loader"),
    (dict(train_loader=[torch.ones(2)]), TypeError, "train_loader"),
    (dict(train_loader=[]), ValueError, "no samples"),
    (dict(val_loader=5), TypeError, "val_loader"),
])
def test_two_step_train_bad_inputs(kwargs, exc, match):
    args = dict(model_fn=make_fn(), teacher=None, train_loader=data(), val_loader=None,
                epochs=1, verbose=False)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        two_step_train(**args)


def test_evaluate_accuracy_restores_mode_and_checks_input():
    net = reactnet_a(1 / 8, 3, small_input=True, stages=1)
    acc = evaluate_accuracy(net, data())
    assert 0 <= acc <= 1 and net.training
    with pytest.raises(TypeError, match="model"):
        evaluate_accuracy("net", data())
    with pytest.raises(ValueError, match="no samples"):
        evaluate_accuracy(net, [])


def test_verbose_progress_bars_do_not_change_results(capsys):
    a = two_step_train(make_fn(), None, data(), None, epochs=1, verbose=True)
    b = two_step_train(make_fn(), None, data(), None, epochs=1, verbose=False)
    assert a["step2"]["train_loss"] == pytest.approx(b["step2"]["train_loss"])
    assert "step 1" in capsys.readouterr().err
