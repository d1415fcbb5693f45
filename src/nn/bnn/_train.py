"""The AdamBNN two-step recipe: binary activations first, then binary weights as well."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils.progress import progress
from ..._utils.validation import check_bool, check_choice, check_int, check_real
from .._training import DistributionLoss, bnn_param_groups, linear_lr_lambda
from ._reactnet import load_checkpoint

__all__ = ["two_step_train", "evaluate_accuracy"]


def _pair(value, name, check):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be one value or a pair (step 1, step 2), got "
                             f"{len(value)} values")
        return tuple(check(v, name) for v in value)
    v = check(value, name)
    return (v, v)


def _check_loader(loader, name, allow_none=False):
    if loader is None and allow_none:
        return None
    if isinstance(loader, Iterator) or not hasattr(loader, "__iter__"):
        raise TypeError(f"{name} must be a re-iterable collection of (inputs, labels) batches "
                        f"(a DataLoader or a list), got {type(loader).__name__}")
    return loader


def _check_batch(batch, name):
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2
            and all(isinstance(t, torch.Tensor) for t in batch)):
        raise TypeError(f"{name} must yield (inputs, labels) pairs of tensors")
    return batch


def evaluate_accuracy(model, loader):
    """Top-1 accuracy of ``model`` (in eval mode) on a loader of ``(inputs, labels)`` batches.

    The model's train/eval mode is restored afterwards.

    Parameters
    ----------
    model : torch.nn.Module
    loader : iterable of (torch.Tensor, torch.Tensor)

    Returns
    -------
    accuracy : float
        In [0, 1].

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import evaluate_accuracy
    >>> model = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     model.weight.copy_(torch.eye(2)); model.bias.zero_()
    Parameter containing: ...
    >>> evaluate_accuracy(model, [(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))])
    0.5
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_loader(loader, "loader")
    was_training = model.training
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for batch in loader:
            x, y = _check_batch(batch, "loader")
            correct += int((model(x).argmax(1) == y).sum())
            total += int(y.numel())
    model.train(was_training)
    if total == 0:
        raise ValueError("loader yielded no samples")
    return correct / total


def _prepare_teacher(teacher):
    if teacher is None:
        return None
    if not isinstance(teacher, nn.Module):
        raise TypeError(f"teacher must be a torch.nn.Module or None, got "
                        f"{type(teacher).__name__}")
    if teacher.training:
        warnings.warn("teacher was in train mode; switched to eval mode for distillation",
                      UserWarning, stacklevel=3)
        teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def _make_optimizer(model, kind, lr, weight_decay, momentum):
    groups = bnn_param_groups(model, weight_decay=weight_decay, lr=lr)
    if kind == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.999))
    return torch.optim.SGD(groups, lr=lr, momentum=momentum)


def _train_step(model, teacher, x, y, optimizer, kd):
    logits = model(x)
    if teacher is not None:
        with torch.no_grad():
            target = teacher(x)
        loss = kd(logits, target)
    else:
        loss = F.cross_entropy(logits, y)
    if not torch.isfinite(loss):
        return loss, logits
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss, logits


def _run_step(step, model, teacher, train_loader, val_loader, epochs, lr, weight_decay, kind,
              momentum, tracker_classes, verbose):
    model.train()
    optimizer = _make_optimizer(model, kind, lr, weight_decay, momentum)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_lr_lambda(epochs))
    trackers = [cls(model).attach(optimizer) for cls in tracker_classes]
    kd = DistributionLoss()
    record = dict(train_loss=[], train_acc=[], val_acc=[], lr=[])
    bar = progress(range(epochs), verbose=verbose, desc=f"step {step}")
    for epoch in bar:
        total_loss = correct = seen = 0.0
        record["lr"].append(optimizer.param_groups[0]["lr"])
        for i, batch in enumerate(train_loader):
            x, y = _check_batch(batch, "train_loader")
            loss, logits = _train_step(model, teacher, x, y, optimizer, kd)
            if not torch.isfinite(loss):
                for t in trackers:
                    t.detach()
                raise FloatingPointError(
                    f"training stopped: the loss became {float(loss.detach())} in step {step}, epoch "
                    f"{epoch + 1}, batch {i + 1} (lower the learning rate or check the inputs "
                    f"for NaN/inf)")
            n = int(y.numel())
            total_loss += float(loss.detach()) * n
            correct += float((logits.detach().argmax(1) == y).sum())
            seen += n
        if seen == 0:
            raise ValueError("train_loader yielded no samples")
        scheduler.step()
        for t in trackers:
            t.end_epoch()
        record["train_loss"].append(total_loss / seen)
        record["train_acc"].append(correct / seen)
        if val_loader is not None:
            record["val_acc"].append(evaluate_accuracy(model, val_loader))
            model.train()
        bar.set_postfix(loss=record["train_loss"][-1])
    for t in trackers:
        t.detach()
    record["trackers"] = {type(t).__name__: t.summary() for t in trackers}
    return record


def two_step_train(model_fn, teacher, train_loader, val_loader=None, epochs=(256, 256),
                   lr=1.25e-3, weight_decay=(5e-6, 0.0), optimizer="adam", trackers=(),
                   verbose=True, momentum=0.9, checkpoint_dir=None):
    """Train a binary network with the AdamBNN two-step recipe.

    Step 1 trains ``model_fn(binary_weights=False)`` (binary activations, real weights) from
    scratch; its state dict is saved with ``torch.save`` and loaded with
    ``torch.load(..., weights_only=True)`` strictly (:func:`load_checkpoint`) into
    ``model_fn(binary_weights=True)``, which step 2 trains fully binary. Each step: optimizer
    groups of :func:`~normgraph.nn.bnn_param_groups` (weight decay on the convolution weights
    only), ``LambdaLR`` with :func:`~normgraph.nn.linear_lr_lambda` stepped once per epoch,
    and the distillation loss :class:`~normgraph.nn.DistributionLoss` from ``teacher`` (no
    ground-truth term; plain cross-entropy on the labels when ``teacher`` is None).

    Parameters
    ----------
    model_fn : callable
        ``model_fn(binary_weights=bool)`` returns a fresh model; both calls must give the same
        architecture (same state-dict keys and shapes).
    teacher : torch.nn.Module or None
        Distillation teacher. A teacher in train mode is switched to eval with a warning;
        its parameters are frozen.
    train_loader : re-iterable of (inputs, labels)
        A ``DataLoader`` or a list of batches (not a one-shot iterator).
    val_loader : re-iterable of (inputs, labels) or None, default=None
        Evaluated after every epoch.
    epochs : int or (int, int), default=(256, 256)
        Epochs of step 1 and step 2, each ``>= 1``.
    lr : float or (float, float), default=1.25e-3
        Learning rate, ``> 0``.
    weight_decay : float or (float, float), default=(5e-6, 0.0)
        Weight decay of the convolution weights in each step, ``>= 0``.
    optimizer : {"adam", "sgd"}, default="adam"
        ``Adam(betas=(0.9, 0.999))`` or ``SGD(momentum=momentum)``.
    trackers : sequence of classes, default=()
        Tracker classes (:class:`FlipFlopTracker`, :class:`C2ITracker`), instantiated on each
        step's model before its first optimizer step and attached to its optimizer.
    verbose : bool, default=True
        Show tqdm progress bars.
    momentum : float, default=0.9
        SGD momentum in ``[0, 1)``.
    checkpoint_dir : str or path-like or None, default=None
        Folder for the step-1 checkpoint ``step1.pt`` (kept); None uses a temporary folder.

    Returns
    -------
    history : dict
        ``"step1"`` and ``"step2"``: dicts of per-epoch lists ``train_loss``, ``train_acc``,
        ``val_acc``, ``lr`` and ``trackers`` (class name -> tracker ``summary()``);
        ``"model"``: the trained step-2 model; ``"checkpoint"``: the path of the step-1
        checkpoint when ``checkpoint_dir`` is given, else None.

    Raises
    ------
    FloatingPointError
        When the training loss becomes NaN or infinite (the step, epoch and batch are named).
    ValueError
        When the step-2 model does not accept the step-1 checkpoint (keys listed).

    Examples
    --------
    >>> import torch
    >>> from normgraph.nn.bnn import C2ITracker, FlipFlopTracker, reactnet_a, two_step_train
    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.rand(16, 3, 8, 8), torch.randint(0, 4, (16,))
    >>> batches = [(x[:8], y[:8]), (x[8:], y[8:])]
    >>> def model_fn(binary_weights):
    ...     return reactnet_a(1 / 8, 4, small_input=True, stages=2, binary_weights=binary_weights)
    >>> history = two_step_train(model_fn, None, batches, batches, epochs=(2, 2),
    ...                          trackers=(FlipFlopTracker, C2ITracker), verbose=False)
    >>> len(history["step2"]["val_acc"]), sorted(history["step1"]["trackers"])
    (2, ['C2ITracker', 'FlipFlopTracker'])
    """
    if not callable(model_fn):
        raise TypeError(f"model_fn must be callable, got {type(model_fn).__name__}")
    teacher = _prepare_teacher(teacher)
    train_loader = _check_loader(train_loader, "train_loader")
    val_loader = _check_loader(val_loader, "val_loader", allow_none=True)
    epochs = _pair(epochs, "epochs", lambda v, n: check_int(v, n, low=1))
    lr = _pair(lr, "lr", lambda v, n: check_real(v, n, low=0.0, low_inclusive=False))
    weight_decay = _pair(weight_decay, "weight_decay", lambda v, n: check_real(v, n, low=0.0))
    kind = check_choice(optimizer, "optimizer", ("adam", "sgd"))
    momentum = check_real(momentum, "momentum", low=0.0, high=1.0, high_inclusive=False)
    verbose = check_bool(verbose, "verbose")
    if isinstance(trackers, type) or not isinstance(trackers, (tuple, list)):
        raise TypeError(f"trackers must be a tuple or list of tracker classes, got {trackers!r}")
    for cls in trackers:
        if not (isinstance(cls, type) and hasattr(cls, "update") and hasattr(cls, "attach")):
            raise TypeError(f"trackers must hold tracker classes (such as FlipFlopTracker), "
                            f"got {cls!r}")
    history = {}
    model1 = model_fn(binary_weights=False)
    if not isinstance(model1, nn.Module):
        raise TypeError(f"model_fn must return a torch.nn.Module, got {type(model1).__name__}")
    history["step1"] = _run_step(1, model1, teacher, train_loader, val_loader, epochs[0], lr[0],
                                 weight_decay[0], kind, momentum, trackers, verbose)
    with tempfile.TemporaryDirectory() as tmp:
        folder = tmp if checkpoint_dir is None else os.fspath(checkpoint_dir)
        path = os.path.join(folder, "step1.pt")
        torch.save(model1.state_dict(), path)
        model2 = model_fn(binary_weights=True)
        if not isinstance(model2, nn.Module):
            raise TypeError(f"model_fn must return a torch.nn.Module, got "
                            f"{type(model2).__name__}")
        load_checkpoint(model2, path)
    history["step2"] = _run_step(2, model2, teacher, train_loader, val_loader, epochs[1], lr[1],
                                 weight_decay[1], kind, momentum, trackers, verbose)
    history["model"] = model2
    history["checkpoint"] = None if checkpoint_dir is None else path
    return history


