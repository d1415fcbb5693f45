"""The ``normgraph`` command line.

Subcommands
-----------
``datasets``
    List the multi-view data sets found under the data home, with their statistics.
``demo``
    The main job on embedded real data (scikit-learn's digits seen as four views).

Each subpackage may add subcommands: its private module ``_cli`` (``normgraph.graphs._cli``,
for instance) defines ``register(subparsers)``, which adds its parsers and sets ``func`` on
them. Those modules import their heavy dependencies (torch, for instance) only when their
command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._version import __version__

__all__ = ["main", "build_parser"]

# Subpackages that may contribute subcommands through a ``_cli`` module.
_SUBCOMMAND_PACKAGES = ("graphs", "norms", "quant", "nn")


def _subcommand_modules():
    import importlib.util

    for area in _SUBCOMMAND_PACKAGES:
        name = f"{__package__}.{area}._cli"
        if importlib.util.find_spec(name) is not None:
            yield name


def _describe_views(views, view_names):
    import scipy.sparse as sp

    lines = []
    for name, X in zip(view_names, views):
        if sp.issparse(X):
            density = X.nnz / max(1, X.shape[0] * X.shape[1])
            kind = f"sparse, {density:.1%} nonzero"
        else:
            kind = "dense"
        lines.append(f"    {name:<14s} {X.shape[1]:>6d} features ({kind})")
    return lines


def _summary(data):
    import numpy as np

    n = data.views[0].shape[0]
    counts = np.bincount(data.target)
    lines = [
        f"{data.name}: {n} samples, {len(data.views)} views, {data.n_clusters} clusters, "
        f"recommended metric {data.metric}",
        *_describe_views(data.views, data.view_names),
        f"    class sizes: {' '.join(str(int(c)) for c in counts)}",
    ]
    return "\n".join(lines)


def _cmd_datasets(args):
    from .datasets import list_multiview, load_multiview
    from ._utils.validation import check_data_home

    home = check_data_home(args.data_home)
    print(f"data home: {home}")
    found = list_multiview(home)
    for name, path in found.items():
        if path is None:
            print(f"{name}: not found (expected {home / 'multiview' / (name + '.mat')})")
        else:
            print(_summary(load_multiview(name, data_home=home)))
    return 0


def _cmd_demo(args):
    from .datasets import load_digits_multiview
    from .graphs._cli import cluster_table, print_metrics_table

    data = load_digits_multiview()
    print(_summary(data))
    print("Multi-view graph learning (defaults, k = 20) vs spectral clustering of each view "
          "alone:")
    rows = cluster_table(data, random_state=0, single_views=True)
    print_metrics_table(rows)
    return 0


def build_parser():
    """Build the argument parser of the ``normgraph`` command.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from normgraph.cli import build_parser
    >>> build_parser().parse_args(["datasets"]).command
    'datasets'
    """
    parser = argparse.ArgumentParser(
        prog="normgraph",
        description="Multi-view graph learning, exact layer norms and optimal quantizers.",
    )
    parser.add_argument("--version", action="version", version=f"normgraph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("datasets", help="list the multi-view data sets found and their statistics")
    p.add_argument("--data-home", default=None,
                   help="folder holding multiview/<name>.mat (default: $NORMGRAPH_DATA, "
                        "then ~/normgraph_data)")
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("demo", help="run the main job on embedded real data")
    p.set_defaults(func=_cmd_demo)

    for module_name in _subcommand_modules():
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv=None):
    """Run the ``normgraph`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status (0 on success).

    Examples
    --------
    >>> from normgraph.cli import main
    >>> main(["datasets", "--data-home", "/nonexistent"])  # doctest: +ELLIPSIS
    data home: /nonexistent
    3Sources: not found (expected /nonexistent/multiview/3Sources.mat)
    ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
