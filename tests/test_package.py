"""Package-level promises: the import layout, no torch on import, the CLI."""

import subprocess
import sys

import normgraph
from normgraph.cli import main


def test_subpackages_import_without_torch():
    code = (
        "import sys; import normgraph, normgraph.graphs, normgraph.norms, normgraph.quant, "
        "normgraph.datasets, normgraph.cli; "
        "assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_version_flag(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == f"normgraph {normgraph.__version__}"


def test_console_script_demo_runs():
    out = subprocess.run([sys.executable, "-m", "normgraph.cli", "demo"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "digits_multiview: 1797 samples, 4 views, 10 clusters" in out.stdout
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert lines[header].split() == ["method", "ACC", "NMI", "ARI", "purity", "F", "iters",
                                     "fit", "(s)"]
    rows = {line.split(" (")[0]: line.split(")", 1)[1].split() for line in lines[header + 2:]}
    assert set(rows) == {"SGF", "DGF", "best single view"}
    for values in rows.values():
        acc, nmi, ari = (float(v) for v in values[:3])
        # sanity bounds: far above chance (0.1) on these ten balanced classes
        assert 0.6 < acc <= 1 and 0.6 < nmi <= 1 and 0.5 < ari <= 1


def test_datasets_command_lists_real_files(data_home, capsys):
    assert main(["datasets", "--data-home", str(data_home)]) == 0
    out = capsys.readouterr().out
    assert "UCI_Digits: 2000 samples, 6 views, 10 clusters" in out
    assert "CiteSeer: 3312 samples, 2 views, 6 clusters" in out
