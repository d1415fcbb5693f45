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

Errors
------
A user error never prints a traceback: bad arguments (argparse) and the user errors a command
raises (``ValueError``, ``TypeError``, ``OSError``; also running out of memory) are reported by
:func:`main` as one line on stderr, ``normgraph: error: COMMAND: message``, with exit status 2.
Commands therefore raise instead of printing their own errors; they read input files and check
output paths (before the work) with the helpers of ``normgraph.datasets._files``. Warnings
raised while a command runs are printed after it succeeds (``normgraph: warning: ...``) and
dropped when it fails, so that a failure stays one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from ._version import __version__

__all__ = ["main", "build_parser"]

# Subpackages that may contribute subcommands through a ``_cli`` module.
_SUBCOMMAND_PACKAGES = ("graphs", "norms", "quant", "nn")

# What a command raises for bad user input; anything else is a bug and keeps its traceback.
_USER_ERRORS = (ValueError, TypeError, OSError, MemoryError)


def _one_line(text):
    return " ".join(str(text).split())


def _report_error(command, message):
    where = f"{command}: " if command else ""
    print(f"normgraph: error: {where}{_one_line(message)}", file=sys.stderr)


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``normgraph: error: COMMAND: ...`` and exit status 2."""

    def error(self, message):
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f"see '{self.prog} --help'"
        _report_error(command, f"{message}; {hint}")
        self.exit(2)


def _user_error_message(exc):
    if isinstance(exc, MemoryError):
        return "not enough memory for this input (MemoryError); try a smaller problem"
    if isinstance(exc, OSError) and exc.strerror and exc.filename:  # raised by the OS
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def _subcommand_modules():
    """The ``_cli`` modules present, found by file so that no subpackage is imported for it."""
    from pathlib import Path

    root = Path(__file__).resolve().parent
    for area in _SUBCOMMAND_PACKAGES:
        if (root / area / "_cli.py").is_file():
            yield f"{__package__}.{area}._cli"


def _register_subcommands(subparsers):
    for module_name in _subcommand_modules():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] == __package__:
                raise
            continue  # an optional dependency (the nn extra, say) is missing: no such commands
        module.register(subparsers)


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
    if home.exists() and not home.is_dir():
        raise NotADirectoryError(f"--data-home {home}: is a file, not a folder")
    print(f"data home: {home}")
    found = list_multiview(home)
    for name, path in found.items():
        if path is None:
            print(f"{name}: not found (expected {home / 'multiview' / (name + '.mat')})")
        else:
            print(_summary(load_multiview(name, data_home=home)))
    return 0


def _cmd_demo(args):
    from .graphs._demo import check_plot_path, format_demo, plot_demo, run_demo

    if args.plot is not None:
        check_plot_path(args.plot)   # refuse an unwritable path before minutes of work
    result = run_demo()
    print(format_demo(result))
    if args.plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        plot_demo(result).savefig(args.plot, dpi=110)
        print(f"figure saved to {args.plot}")
    return 0


def build_parser():
    """Build the argument parser of the ``normgraph`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        Its errors are one line, ``normgraph: error: COMMAND: ...``, with exit status 2; its
        attribute ``commands`` maps each subcommand's name to its parser.

    Examples
    --------
    >>> from normgraph.cli import build_parser
    >>> parser = build_parser()
    >>> parser.parse_args(["datasets"]).command
    'datasets'
    >>> sorted(parser.commands)[:3]
    ['cluster', 'datasets', 'demo']
    """
    parser = _ArgumentParser(
        prog="normgraph",
        description="Multi-view graph learning, exact layer norms and optimal quantizers.",
    )
    parser.add_argument("--version", action="version", version=f"normgraph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.commands = sub.choices  # name -> subparser, filled in below

    p = sub.add_parser("datasets", help="list the multi-view data sets found and their statistics")
    p.add_argument("--data-home", default=None,
                   help="folder holding multiview/<name>.mat (default: $NORMGRAPH_DATA, "
                        "then ~/normgraph_data)")
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("demo", help="multi-view fusion vs single views and naive combinations "
                                    "on the embedded digits, two of its views degraded")
    p.add_argument("--plot", default=None, metavar="FILE",
                   help="also save a figure (view coefficients, fused graph, accuracy per method)")
    p.set_defaults(func=_cmd_demo)

    _register_subcommands(sub)
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
        The exit status: 0 on success, 2 after a user error (a ``ValueError``,
        ``TypeError``, ``OSError`` or ``MemoryError`` raised by the command), which is printed
        as one line on stderr, ``normgraph: error: COMMAND: message``, never a traceback.

    Raises
    ------
    SystemExit
        With status 2 for bad arguments (after one such error line), and 0 for ``--help``
        and ``--version``, as argparse does.

    Examples
    --------
    >>> from normgraph.cli import main
    >>> main(["datasets", "--data-home", "/nonexistent"])  # doctest: +ELLIPSIS
    data home: /nonexistent
    3Sources: not found (expected /nonexistent/multiview/3Sources.mat)
    ...
    0
    >>> main(["quantize", "/nonexistent/x.npy"])  # stderr: normgraph: error: quantize: ...
    2
    """
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # as parse_args does, but the message points at the subcommand's help
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extras)}")
    if getattr(args, "func", None) is None:  # pragma: no cover - every command sets one
        parser.error("this command has nothing to run")
    with warnings.catch_warnings(record=True) as caught:
        try:
            status = args.func(args)
        except _USER_ERRORS as exc:
            _report_error(args.command, _user_error_message(exc))
            return 2
    for w in caught:
        print(f"normgraph: warning: {_one_line(w.message)}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
