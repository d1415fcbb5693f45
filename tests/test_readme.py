"""Every Python block of the README runs on its own, as a reader copies it into a fresh file.

Blocks that read the real data say ``data_home = "path/to/data"``; the test puts the data home
of the test suite ($NORMGRAPH_DATA) in its place. Each block runs in a fresh interpreter
(nothing leaks from one block to the next), with matplotlib's file-only backend.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
PLACEHOLDER = '"path/to/data"'


def python_blocks():
    text = README.read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def block_id(i_block):
    i, block = i_block
    first = next(line.strip() for line in block.splitlines()
                 if line.strip() and "import" not in line)
    return f"{i}:{first[:30]}"


BLOCKS = list(enumerate(python_blocks()))


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 6
    # a block that reads the real data does it through the placeholder the test replaces
    for _, block in BLOCKS:
        if "load_multiview(" in block and "data_home" in block:
            assert f"data_home = {PLACEHOLDER}" in block


@pytest.mark.parametrize("i_block", BLOCKS, ids=[block_id(b) for b in BLOCKS])
def test_readme_block_runs(i_block, data_home, tmp_path):
    _, block = i_block
    code = block.replace(PLACEHOLDER, repr(str(data_home)))
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"README block failed:\n{block}\n--- stderr ---\n{proc.stderr}"


def test_every_script_the_readme_names_exists():
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"benchmarks/[\w/]+\.py", text))
    table = text[text.index("| what | ours |"):]
    table = table[:table.index("\n\n")]
    named |= {f"benchmarks/{m}" for m in re.findall(r"`(\w+\.py)", table)}
    assert named
    root = README.parent
    missing = sorted(p for p in named if not (root / p).is_file())
    assert not missing, f"the README names scripts that do not exist: {missing}"


def test_every_measured_figure_names_its_script():
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| what | ours |"):]
    rows = [line for line in table[:table.index("\n\n")].splitlines()[2:]]
    assert rows
    for row in rows:
        assert re.search(r"`\w+\.py[^`]*`\s*\|$", row), f"no script named for: {row}"
