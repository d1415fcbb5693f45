"""The ``normgraph norms`` subcommand, on random and on saved weights."""

import math

import numpy as np
import pytest
import torch
import torchvision

from normgraph.cli import main
from normgraph.norms import conv_norm, linear_norm


def parse_rows(text):
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| layer | type"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[(cells[0], cells[2])] = cells
    return rows


@pytest.fixture(scope="module")
def saved_resnet(tmp_path_factory):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=7)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pt"
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, path)
    return model, path


def test_profile_of_saved_weights(saved_resnet, capsys, tmp_path):
    model, path = saved_resnet
    png = tmp_path / "profile.png"
    rc = main(["norms", "--model", "resnet18", "--num-classes", "7", "--state-dict", str(path),
               "--input-shape", "3", "32", "32", "--p", "1", "inf", "--plot", str(png)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "weights from" in out and png.stat().st_size > 0
    rows = parse_rows(out)
    # 20 conv + 20 bn + 1 linear layers, two norm orders each
    assert len(rows) == 2 * (20 + 20 + 1)
    for name, (n, pad, stride) in {"conv1": (32, 3, 2), "layer2.0.conv1": (8, 1, 2),
                                   "layer4.1.conv2": (1, 1, 1)}.items():
        w = dict(model.named_modules())[name].weight
        for p in ("1", "inf"):
            ref = conv_norm(w, p, (n, n), stride=stride, padding=pad)
            assert math.isclose(float(rows[(name, p)][3]), ref, rel_tol=1e-3)
            assert rows[(name, p)][6] == "yes"
    assert math.isclose(float(rows[("fc", "1")][3]), linear_norm(model.fc.weight, 1),
                        rel_tol=1e-3)


def test_random_weights_default_orders(capsys):
    rc = main(["norms", "--model", "mobilenet_v3_small", "--input-shape", "3", "32", "32",
               "--include", "linear", "--p", "2", "inf"])
    out = capsys.readouterr().out
    assert rc == 0 and "random weights" in out
    rows = parse_rows(out)
    assert {k[0] for k in rows} == {"classifier.0", "classifier.3"}
    assert all(r[6] == "yes" for r in rows.values())


@pytest.mark.parametrize("args, message", [
    (["--model", "no_such_net"], "unknown torchvision model"),
    (["--model", "resnet18", "--state-dict", "missing.pt"], "not found"),
    (["--model", "resnet18", "--input-shape", "1", "32", "32", "--p", "1"], "could not run"),
])
def test_bad_inputs(args, message, capsys):
    assert main(["norms"] + args) == 2
    assert message in capsys.readouterr().err


def test_mismatched_and_unsafe_state_dicts(saved_resnet, tmp_path, capsys):
    _, path = saved_resnet
    assert main(["norms", "--model", "resnet18", "--state-dict", str(path), "--p", "1"]) == 2
    assert "does not fit resnet18" in capsys.readouterr().err
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"state_dict": np.ones(3, dtype=object)}, unsafe)  # needs full unpickling
    assert main(["norms", "--model", "resnet18", "--state-dict", str(unsafe), "--p", "1"]) == 2
    assert "weights_only=True" in capsys.readouterr().err
    not_a_dict = tmp_path / "tensor.pt"
    torch.save(torch.ones(3), not_a_dict)
    assert main(["norms", "--model", "resnet18", "--state-dict", str(not_a_dict), "--p", "1"]) == 2
    assert "does not hold a state dict" in capsys.readouterr().err
