"""Package-level promises: the import layout, no torch on import, the CLI."""

import subprocess
import sys

import normgraph
from normgraph.cli import main


def test_subpackages_import_without_torch():
    code = (
        "import sys; import normgraph, normgraph.graphs, normgraph.norms, normgraph.quant, "
        "normgraph.datasets, normgraph.cli; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'dask' not in sys.modules, 'dask imported'; "
        "assert 'distributed' not in sys.modules, 'distributed imported'; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_in_memory_graphs_fit_does_not_import_dask():
    code = (
        "import sys, numpy as np; from normgraph.graphs import MultiViewGraphClusterer; "
        "rng = np.random.default_rng(0); views = [rng.normal(size=(60, 3)) for _ in range(2)]; "
        "MultiViewGraphClusterer(2, n_neighbors=5, random_state=0).fit(views); "
        "assert 'dask' not in sys.modules, 'dask imported'; print('ok')"
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
    # The report itself is checked in tests/test_demo.py; here: the module entry point works.
    out = subprocess.run([sys.executable, "-m", "normgraph.cli", "demo"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("digits, 1797 samples, 10 clusters: 4 embedded views")
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert lines[header].split() == ["method", "kind", "ACC", "NMI", "ARI", "fit", "(s)"]
    fused = [line for line in lines if line.startswith(("SGF (similarity)", "DGF ("))]
    assert len(fused) == 2
    for line in fused:
        acc, nmi, ari = (float(v) for v in line.split()[-4:-1])
        # sanity bounds: far above chance (0.1) on these ten balanced classes
        assert 0.6 < acc <= 1 and 0.6 < nmi <= 1 and 0.5 < ari <= 1


def test_datasets_command_lists_real_files(data_home, capsys):
    assert main(["datasets", "--data-home", str(data_home)]) == 0
    out = capsys.readouterr().out
    assert "UCI_Digits: 2000 samples, 6 views, 10 clusters" in out
    assert "CiteSeer: 3312 samples, 2 views, 6 clusters" in out
