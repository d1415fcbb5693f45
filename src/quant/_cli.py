"""The ``normgraph quantize`` subcommand: fit a quantizer to a column of numbers and print it."""

from __future__ import annotations

__all__ = ["register"]

_METHODS = ("optimal", "lloyd", "uniform", "equal", "n2uq")


def register(subparsers):
    """Add the ``quantize`` subcommand to the ``normgraph`` parser.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The subparsers of the main parser.

    Examples
    --------
    >>> from normgraph.cli import build_parser
    >>> args = build_parser().parse_args(["quantize", "data.npy", "--method", "lloyd"])
    >>> args.method, args.levels, args.column
    ('lloyd', None, 0)
    """
    p = subparsers.add_parser(
        "quantize",
        help="fit a quantizer to a column of numbers and print its thresholds, levels and MSE",
        description=(
            "Fit a quantizer to one column of a .npy file (read without pickle) or of a "
            "CSV/text file, and print its decision thresholds, levels and mean squared error."
        ),
    )
    p.add_argument("file", help=".npy file, or a CSV/whitespace-separated text file (a header "
                                "line is skipped)")
    p.add_argument("--column", type=int, default=0,
                   help="column to quantize (0-based; default 0)")
    p.add_argument("--method", choices=_METHODS, default="optimal",
                   help="optimal: exact 1-D k-means (default); lloyd: Lloyd-Max; uniform: "
                        "MSE-optimal uniform; equal: equal-probability thresholds; n2uq: N2UQ "
                        "knots at the data quantiles")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--levels", type=int, default=None, help="number of levels (default 4)")
    size.add_argument("--bits", type=int, default=None, help="bit width: 2**bits levels")
    p.add_argument("--mode", choices=("affine", "midrise", "midtread"), default="affine",
                   help="level layout of --method uniform (default affine: free zero point)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="also save a plot of the quantizer over the data histogram")
    p.set_defaults(func=_cmd_quantize)


def _load_column(path, column):
    import numpy as np

    from ..datasets._files import read_array_file

    data = read_array_file(path, "FILE")
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise ValueError(f"FILE {path} holds a {data.ndim}-D array; expected 1-D or 2-D")
    if data.shape[0] == 0:
        raise ValueError(f"FILE {path} holds no samples (array of shape {data.shape})")
    if not 0 <= column < data.shape[1]:
        raise ValueError(f"--column {column} is out of range: {path} has {data.shape[1]} "
                         "column(s)")
    return np.ascontiguousarray(data[:, column], dtype=np.float64)


def _fit(x, method, n_levels, n_bits, mode):
    """Return (description, thresholds, levels, mse, quantizer-for-plotting)."""
    import numpy as np

    from . import _transformers as tr
    from ._equal_prob import equal_probability_thresholds
    from ._uniform import uniform_mse_quantizer

    if method in ("optimal", "lloyd"):
        if method == "optimal":
            q, desc = tr.OptimalQuantizer(n_levels=n_levels), "optimal k-level (exact 1-D k-means)"
        else:
            q, desc = tr.LloydMaxQuantizer(n_levels=n_levels), "Lloyd-Max"
        q.fit(x[:, None])
        return desc, q.thresholds_[0], q.levels_[0], float(q.mse_[0]), q
    if method == "uniform":
        uq = uniform_mse_quantizer(x, n_levels, mode=mode)
        desc = f"MSE-optimal uniform ({mode}, step {uq.step:.6g}, offset {uq.offset:.6g})"
        return desc, uq.thresholds, uq.levels, uq.mse, uq
    if method == "equal":
        thresholds, levels = equal_probability_thresholds(x, n_levels, return_levels=True)
        cells = np.searchsorted(thresholds, x, side="left")
        mse = float(np.mean((x - levels[cells]) ** 2))
        return "equal-probability (cell means as levels)", thresholds, levels, mse, thresholds
    q = tr.N2UQuantizer(n_bits=n_bits).fit(x[:, None])
    knots = q.knots_[0]
    cells = q.set_params(output="index").transform(x[:, None])[:, 0]
    mse = float(np.mean((x - knots[cells]) ** 2))
    desc = (f"N2UQ, {n_bits} bit(s), knots at the data quantiles: "
            + " ".join(f"{v:.6g}" for v in knots)
            + "\n  levels are the uniform outputs; MSE uses the knots as reconstruction values")
    return desc, q.thresholds_[0], q.levels_[0], mse, q


def _cmd_quantize(args):
    import numpy as np

    from ..datasets._files import check_output_path
    from ._validation import check_n_bits, check_n_levels

    # Errors are raised, and reported by normgraph.cli.main as one line with exit status 2;
    # everything the user gave is checked before the fit.
    if args.bits is not None:
        n_bits = check_n_bits(args.bits)
        n_levels = 2**n_bits
    else:
        n_levels = check_n_levels(4 if args.levels is None else args.levels)
        n_bits = int(np.log2(n_levels)) if n_levels >= 2 else 0
        if args.method == "n2uq" and 2**n_bits != n_levels:
            raise ValueError(f"--method n2uq needs a power of two of levels, got "
                             f"{n_levels}; use --bits")
    if args.plot:
        check_output_path(args.plot, "--plot", plot=True)
    x = _load_column(args.file, args.column)
    desc, thresholds, levels, mse, plotted = _fit(x, args.method, n_levels, n_bits, args.mode)

    def fmt(values):
        return " ".join(f"{v:.6g}" for v in values) if len(values) else "(none)"

    print(f"{args.file} column {args.column}: {x.size} samples, min {x.min():.6g}, "
          f"max {x.max():.6g}")
    print(f"method: {desc}")
    print(f"thresholds ({len(thresholds)}): {fmt(thresholds)}")
    print(f"levels ({len(levels)}): {fmt(levels)}")
    print(f"MSE: {mse:.6g}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from ._plotting import plot_quantizer

        ax = plot_quantizer(plotted, x)
        ax.figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"plot saved to {args.plot}")
    return 0
