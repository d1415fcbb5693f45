"""Every ``normgraph`` subcommand on bad input: one stderr line ``normgraph: error: ...``, exit 2.

Classes covered (issue 8): bad arguments, unreadable files (truncated ``.mat``, v7.3 ``.mat``,
malformed ``.npy``, an ``.npz`` named ``.npy``, a ``.npy`` header that claims terabytes),
mis-structured files, nonexistent files and folders, and unwritable ``--plot`` paths, which are
checked before the work starts.

The real processes (``python -m normgraph.cli`` and the installed ``normgraph`` script) are run
through ``subprocess`` for a few cases of each subcommand; each costs about two seconds of
start-up, so the full matrix runs in-process through :func:`normgraph.cli.main`, which is what
the process runs (an exception escaping ``main`` is exactly what would print a traceback).
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy.io import savemat

from normgraph.cli import build_parser, main


def _cell(*items):
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """A folder of bad inputs; returns a function that fills ``{d}`` in argument templates."""
    d = tmp_path_factory.mktemp("bad_inputs")
    rng = np.random.default_rng(0)
    savemat(d / "ok.mat", {"fea": _cell(rng.normal(size=(6, 3)), rng.normal(size=(6, 2))),
                           "gt": np.array([[1], [1], [1], [2], [2], [2]])})
    content = (d / "ok.mat").read_bytes()
    (d / "trunc.mat").write_bytes(content[: len(content) // 2])
    header = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116, b" ")
              + b"\x00" * 8 + b"\x00\x02IM")
    (d / "v73.mat").write_bytes(header.ljust(512, b"\x00") + b"\x89HDF\r\n\x1a\n" + bytes(64))
    savemat(d / "nan.mat", {"fea": _cell(np.ones((3, 2))), "gt": np.array([[1.0], [np.nan], [2]])})
    savemat(d / "emptycell.mat", {"fea": _cell(np.ones((3, 2)), np.zeros((0, 0))),
                                  "gt": np.array([[1], [2], [2]])})
    savemat(d / "nofea.mat", {"X": np.ones((3, 2))})
    savemat(d / "textcell.mat", {"fea": _cell("words"), "gt": np.array([[1]])})
    (d / "malformed.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{garbage}      \n")
    np.savez(d / "arrays.npz", a=np.ones(3))
    os.replace(d / "arrays.npz", d / "npz_named.npy")
    with open(d / "huge.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    np.save(d / "ok.npy", rng.normal(size=50))
    (d / "truncated.npy").write_bytes((d / "ok.npy").read_bytes()[:200])
    np.save(d / "nan.npy", np.array([1.0, np.nan, 2.0]))
    np.save(d / "empty.npy", np.zeros((0, 2)))
    np.save(d / "scalar.npy", np.float64(3.0))
    np.save(d / "object.npy", np.array([{"a": 1}, 2], dtype=object), allow_pickle=True)
    (d / "afile").write_text("not a folder")
    (d / "home" / "multiview").mkdir(parents=True)
    (d / "home" / "multiview" / "MSRC_v1.mat").write_bytes(content[:300])

    def fill(args):
        return [a.format(d=d) for a in args]

    return fill


CASES = {
    # no command, unknown command, unknown options of every built-in command
    "no-command": [],
    "unknown-command": ["bogus"],
    "datasets-option": ["datasets", "--bogus"],
    "demo-option": ["demo", "--bogus"],
    "cluster-missing-arg": ["cluster"],
    "norms-missing-model": ["norms"],
    "quantize-missing-file": ["quantize"],
    # datasets
    "datasets-home-is-a-file": ["datasets", "--data-home", "{d}/afile"],
    "datasets-corrupt-file-in-home": ["datasets", "--data-home", "{d}/home"],
    # demo: the figure path is refused before the minutes of work
    "demo-plot-no-folder": ["demo", "--plot", "{d}/nodir/demo.png"],
    "demo-plot-format": ["demo", "--plot", "{d}/demo.xyz"],
    "demo-plot-is-a-folder": ["demo", "--plot", "{d}"],
    # cluster: unreadable and mis-structured .mat files, nonexistent files, bad arguments
    "cluster-truncated-mat": ["cluster", "{d}/trunc.mat"],
    "cluster-v73-mat": ["cluster", "{d}/v73.mat"],
    "cluster-nan-label": ["cluster", "{d}/nan.mat"],
    "cluster-empty-view-cell": ["cluster", "{d}/emptycell.mat"],
    "cluster-missing-fea": ["cluster", "{d}/nofea.mat"],
    "cluster-text-cell": ["cluster", "{d}/textcell.mat"],
    "cluster-npy-instead-of-mat": ["cluster", "{d}/ok.npy"],
    "cluster-nonexistent": ["cluster", "{d}/missing.mat"],
    "cluster-folder": ["cluster", "{d}"],
    "cluster-missing-in-home": ["cluster", "MSRC_v1", "--data-home", "{d}/afile"],
    "cluster-corrupt-in-home": ["cluster", "MSRC_v1", "--data-home", "{d}/home"],
    "cluster-zero-neighbors": ["cluster", "{d}/ok.mat", "--n-neighbors", "0"],
    "cluster-too-many-neighbors": ["cluster", "{d}/ok.mat", "--n-neighbors", "50"],
    "cluster-float-neighbors": ["cluster", "{d}/ok.mat", "--n-neighbors", "2.5"],
    "cluster-bad-metric": ["cluster", "{d}/ok.mat", "--metric", "manhattan"],
    "cluster-negative-seed": ["cluster", "{d}/ok.mat", "--random-state", "-1"],
    # quantize: unreadable .npy files, unwritable plots, bad arguments
    "quantize-malformed-npy": ["quantize", "{d}/malformed.npy"],
    "quantize-npz-named-npy": ["quantize", "{d}/npz_named.npy"],
    "quantize-terabyte-header": ["quantize", "{d}/huge.npy"],
    "quantize-truncated-npy": ["quantize", "{d}/truncated.npy"],
    "quantize-object-npy": ["quantize", "{d}/object.npy"],
    "quantize-nan": ["quantize", "{d}/nan.npy"],
    "quantize-empty-array": ["quantize", "{d}/empty.npy"],
    "quantize-0d-array": ["quantize", "{d}/scalar.npy"],
    "quantize-binary-as-table": ["quantize", "{d}/trunc.mat"],
    "quantize-nonexistent": ["quantize", "{d}/missing.npy"],
    "quantize-folder": ["quantize", "{d}"],
    "quantize-plot-no-folder": ["quantize", "{d}/ok.npy", "--plot", "{d}/nodir/q.png"],
    "quantize-plot-under-a-file": ["quantize", "{d}/ok.npy", "--plot", "{d}/afile/q.png"],
    "quantize-plot-is-a-folder": ["quantize", "{d}/ok.npy", "--plot", "{d}"],
    "quantize-plot-format": ["quantize", "{d}/ok.npy", "--plot", "{d}/q.xyz"],
    "quantize-levels-zero": ["quantize", "{d}/ok.npy", "--levels", "0"],
    "quantize-levels-text": ["quantize", "{d}/ok.npy", "--levels", "four"],
    "quantize-column": ["quantize", "{d}/ok.npy", "--column", "3"],
    "quantize-levels-and-bits": ["quantize", "{d}/ok.npy", "--levels", "4", "--bits", "2"],
    # norms: checked before torch is even imported
    "norms-plot-no-folder": ["norms", "--model", "resnet18", "--plot", "{d}/nodir/n.png"],
    "norms-num-classes": ["norms", "--model", "resnet18", "--num-classes", "0"],
    "norms-input-shape": ["norms", "--model", "resnet18", "--input-shape", "3", "-1", "8"],
    "norms-state-dict-missing": ["norms", "--model", "resnet18", "--state-dict", "{d}/no.pt"],
    "norms-state-dict-folder": ["norms", "--model", "resnet18", "--state-dict", "{d}"],
    "norms-bad-order": ["norms", "--model", "resnet18", "--p", "3"],
}

# Cases that need torch (imported once, in-process): files torch cannot read, unknown models.
TORCH_CASES = {
    "norms-state-dict-not-torch": ["norms", "--model", "resnet18", "--state-dict",
                                   "{d}/ok.npy", "--p", "1"],
    "norms-unknown-model": ["norms", "--model", "no_such_net"],
}


def _assert_one_error_line(status, err):
    lines = err.splitlines()
    assert status == 2, (status, err)
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith("normgraph: error: "), err


def _run_main(args, capsys):
    capsys.readouterr()
    try:
        status = main(args)
    except SystemExit as exc:  # argparse's errors
        status = exc.code
    return status, capsys.readouterr()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_status_2(case, bad, capsys):
    status, captured = _run_main(bad(CASES[case]), capsys)
    _assert_one_error_line(status, captured.err)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_bad_input_read_by_torch(case, bad, capsys):
    status, captured = _run_main(bad(TORCH_CASES[case]), capsys)
    _assert_one_error_line(status, captured.err)


@pytest.mark.parametrize("case, words", [
    ("cluster-truncated-mat", ("trunc.mat", "truncated or corrupt")),
    ("cluster-v73-mat", ("v73.mat", "v7.3")),
    ("cluster-nan-label", ("nan.mat", "label nan")),
    ("cluster-empty-view-cell", ("emptycell.mat", "empty")),
    ("quantize-malformed-npy", ("malformed.npy", "malformed .npy header")),
    ("quantize-npz-named-npy", ("npz_named.npy", "zip archive")),
    ("quantize-terabyte-header", ("huge.npy", "claims an array of shape (1000000000000,)")),
    ("quantize-truncated-npy", ("truncated.npy", "truncated")),
    ("quantize-plot-no-folder", ("--plot", "does not exist")),
    ("cluster-bad-metric", ("cluster: argument --metric: invalid choice", "--help")),
    ("no-command", ("required: COMMAND",)),
])
def test_messages_name_the_problem(case, words, bad, capsys):
    _, captured = _run_main(bad(CASES[case]), capsys)
    for word in words:
        assert word in captured.err, captured.err


def test_arguments_are_checked_before_the_work(bad, capsys):
    # a bad seed is refused before the data set is loaded and its summary printed
    status, captured = _run_main(["cluster", "digits", "--random-state", "-1"], capsys)
    assert status == 2 and "--random-state must be >= 0" in captured.err
    assert captured.out == ""


def test_plot_path_is_checked_before_the_work(bad, capsys):
    # The input is unreadable too, but the unwritable plot is reported first: nothing ran.
    status, captured = _run_main(bad(["quantize", "{d}/huge.npy", "--plot", "{d}/no/q.png"]),
                                 capsys)
    assert status == 2 and "--plot" in captured.err and "huge.npy" not in captured.err
    # norms refuses the plot path before importing torch or building the model
    status, captured = _run_main(bad(["norms", "--model", "no_such_net", "--plot",
                                      "{d}/no/n.png"]), capsys)
    assert status == 2 and "--plot" in captured.err and "no_such_net" not in captured.err
    assert captured.out == ""


def test_every_registered_subcommand_refuses_unknown_options(capsys):
    # Covers subcommands added later by other subpackages' _cli modules too.
    commands = build_parser().commands
    assert {"datasets", "demo", "cluster", "norms", "quantize"} <= set(commands)
    for name in commands:
        status, captured = _run_main([name, "--no-such-option-xyz"], capsys)
        _assert_one_error_line(status, captured.err)
        assert f"see 'normgraph {name} --help'" in captured.err


def test_warnings_follow_a_success_and_are_dropped_on_failure(bad, capsys, monkeypatch):
    import warnings

    from normgraph.graphs import _cli as graphs_cli

    status, captured = _run_main(bad(["quantize", "{d}/ok.npy", "--levels", "1000"]), capsys)
    assert status == 0 and "levels" in captured.out
    assert captured.err.startswith("normgraph: warning: ") and "Traceback" not in captured.err

    def warn_then_fail(*args, **kwargs):
        warnings.warn("something looked odd", UserWarning)
        raise ValueError("and then it failed")

    monkeypatch.setattr(graphs_cli, "load_views", warn_then_fail)
    status, captured = _run_main(["cluster", "anything"], capsys)
    _assert_one_error_line(status, captured.err)
    assert "and then it failed" in captured.err and "odd" not in captured.err


def test_a_genuine_bug_keeps_its_traceback(monkeypatch):
    from normgraph.graphs import _cli as graphs_cli

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug, not a user error")

    monkeypatch.setattr(graphs_cli, "load_views", bug)
    with pytest.raises(ZeroDivisionError):
        main(["cluster", "anything"])


# ------------------------------------------------------------------------ real processes


def _process(args, cwd, script=None):
    command = [script] if script else [sys.executable, "-m", "normgraph.cli"]
    proc = subprocess.run(command + list(args), capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    return proc.returncode, proc.stderr


# Real processes: the bare command, cluster, quantize (and norms through the console script)
# in the quick set; datasets, demo and the other file classes in the slow set.
PROCESS_CASES = ["no-command", "cluster-v73-mat", "quantize-terabyte-header"]
SLOW_PROCESS_CASES = ["datasets-home-is-a-file", "demo-option", "cluster-truncated-mat",
                      "cluster-nan-label", "quantize-npz-named-npy", "quantize-plot-under-a-file"]


@pytest.mark.parametrize("case", PROCESS_CASES)
def test_process_prints_one_line_and_exits_2(case, bad, tmp_path):
    _assert_one_error_line(*_process(bad(CASES[case]), tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_PROCESS_CASES)
def test_more_process_cases(case, bad, tmp_path):
    _assert_one_error_line(*_process(bad(CASES[case]), tmp_path))


def test_installed_console_script(bad, tmp_path):
    script = shutil.which("normgraph", path=os.path.dirname(sys.executable))
    if script is None:  # pragma: no cover - the package is always installed for the tests
        pytest.fail("the normgraph console script is not installed beside this Python")
    _assert_one_error_line(*_process(bad(CASES["norms-plot-no-folder"]), tmp_path,
                                     script=script))


def test_missing_optional_dependency_drops_only_its_commands(monkeypatch):
    import importlib

    from normgraph import cli

    real_import = importlib.import_module

    def fake_import(name, *args):
        if name.endswith("norms._cli"):
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        if name.endswith("quant._cli"):
            raise ModuleNotFoundError("No module named 'normgraph.quant._gone'",
                                      name="normgraph.quant._gone")
        return real_import(name, *args)

    monkeypatch.setattr(cli.importlib, "import_module", fake_import)
    with pytest.raises(ModuleNotFoundError, match="normgraph.quant._gone"):  # our own bug
        cli.build_parser()
    monkeypatch.setattr(cli, "_SUBCOMMAND_PACKAGES", ("graphs", "norms"))
    commands = cli.build_parser().commands
    assert "cluster" in commands and "norms" not in commands


@pytest.mark.parametrize("exc, expected", [
    (PermissionError(13, "Permission denied", "out/q.png"), "out/q.png: Permission denied"),
    (MemoryError(), "not enough memory"),
    (TypeError("n_levels must be an integer, got 2.5"), "n_levels must be an integer"),
    (ValueError("a\nmulti-line\n  message"), "a multi-line message"),
    (FileNotFoundError(), "FileNotFoundError"),
])
def test_user_errors_raised_by_a_command(exc, expected, capsys, monkeypatch):
    from normgraph.graphs import _cli as graphs_cli

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(graphs_cli, "load_views", fail)
    status, captured = _run_main(["cluster", "anything"], capsys)
    _assert_one_error_line(status, captured.err)
    assert captured.err.startswith("normgraph: error: cluster: ") and expected in captured.err
