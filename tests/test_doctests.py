"""Run the docstring examples of every normgraph module.

pytest's ``--doctest-modules`` would import ``src/`` files under the wrong module names
(``src`` is the package root of ``normgraph``), so doctests are collected by module name.
"""

import doctest
import importlib
import pkgutil

import pytest

import normgraph


def _module_names():
    names = ["normgraph"]
    for info in pkgutil.walk_packages(normgraph.__path__, prefix="normgraph."):
        names.append(info.name)
    return sorted(names)


MODULES = _module_names()


def test_modules_found():
    assert "normgraph.datasets._multiview" in MODULES
    assert "normgraph._utils.validation" in MODULES


@pytest.mark.parametrize("module_name", MODULES)
def test_doctests(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    for test in finder.find(module, module_name, globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {module_name}"


PUBLIC_PACKAGES = [
    "normgraph",
    "normgraph.datasets",
    "normgraph.graphs",
    "normgraph.norms",
    "normgraph.quant",
    "normgraph.nn",
    "normgraph.nn.quant",
    "normgraph.nn.bnn",
    "normgraph.nn.attention",
    "normgraph.nn.rsc",
    "normgraph.nn.zeroshot",
    "normgraph.nn.detection",
    "normgraph.nn.tracking",
]


@pytest.mark.parametrize("package_name", PUBLIC_PACKAGES)
def test_public_names_have_numpydoc_examples(package_name):
    package = importlib.import_module(package_name)
    missing = []
    for name in getattr(package, "__all__", []):
        obj = getattr(package, name)
        if not callable(obj) or name.startswith("__"):
            continue
        doc = obj.__doc__ or ""
        if "Examples" not in doc or ">>>" not in doc:
            missing.append(name)
    assert not missing, f"{package_name}: public names without a runnable example: {missing}"
