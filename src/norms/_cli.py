"""``normgraph norms``: the norm profile of a torchvision architecture or of saved weights.

torch and torchvision are imported only when the command runs.
"""

from __future__ import annotations

__all__ = ["register"]


def register(subparsers):
    """Add the ``norms`` subcommand to the ``normgraph`` command line.

    Examples
    --------
    >>> import argparse
    >>> from normgraph.norms._cli import register
    >>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
    >>> register(sub)
    >>> sub.choices["norms"].parse_args(["--model", "resnet18", "--p", "1", "inf"]).p
    ['1', 'inf']
    """
    p = subparsers.add_parser(
        "norms",
        help="print the per-layer operator norms (l1, l2 interval, l-inf) of a model",
        description="Per-layer operator norms of a torchvision architecture with random "
                    "weights (weights=None), or with the weights of a saved state dict "
                    "(loaded with torch.load(..., weights_only=True)).",
    )
    p.add_argument("--model", required=True,
                   help="torchvision model name, e.g. resnet18 (torchvision.models.get_model)")
    p.add_argument("--input-shape", type=int, nargs="+", default=[3, 224, 224],
                   metavar="N", help="shape of one input sample, default 3 224 224")
    p.add_argument("--p", nargs="+", default=["1", "2", "inf"], choices=["1", "2", "inf"],
                   help="norm orders (default: 1 2 inf)")
    p.add_argument("--state-dict", default=None, metavar="FILE",
                   help="weights to load (a state dict, or a dict holding one under "
                        "'state_dict'); loaded with weights_only=True")
    p.add_argument("--num-classes", type=int, default=None,
                   help="number of classes of the model head (to match a state dict)")
    p.add_argument("--l2-method", default="auto",
                   choices=["auto", "gram", "spatial_gram", "power", "holder"],
                   help="l2 method for conv layers (default auto)")
    p.add_argument("--include", nargs="+", default=["conv", "linear", "bn"],
                   choices=["conv", "linear", "bn", "pool"], help="layer kinds to report")
    p.add_argument("--plot", default=None, metavar="PNG", help="also save the profile plot")
    p.set_defaults(func=_cmd_norms)


def _check_args(args):
    """Everything the user gave, checked before torch is imported and the work starts."""
    from .._utils.validation import check_int
    from ..datasets._files import check_input_file, check_output_path

    for size in args.input_shape:
        check_int(size, "--input-shape", low=1)
    if args.num_classes is not None:
        check_int(args.num_classes, "--num-classes", low=1)
    if args.state_dict is not None:
        try:
            check_input_file(args.state_dict, "--state-dict")
        except FileNotFoundError:
            raise FileNotFoundError(f"state dict file not found: {args.state_dict}") from None
    if args.plot:
        check_output_path(args.plot, "--plot", plot=True)


def _load_state(torch, path):
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # an untrusted file: any unpickling failure is the file's fault
        raise ValueError(f"could not load {path} with weights_only=True: {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    return state


def _cmd_norms(args):
    # Errors are raised, and reported by normgraph.cli.main as one line with exit status 2.
    _check_args(args)
    try:
        import torch
        import torchvision
    except ImportError:  # pragma: no cover - the nn extra is missing
        raise ValueError("this command needs torch and torchvision "
                         "(pip install normgraph[nn])") from None
    from ._torch import layer_norms

    kwargs = {"weights": None}
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    try:
        model = torchvision.models.get_model(args.model, **kwargs)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unknown torchvision model {args.model!r} ({exc})") from None
    source = "random weights"
    if args.state_dict is not None:
        state = _load_state(torch, args.state_dict)
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ValueError(f"the state dict does not fit {args.model}: {exc}") from None
        source = f"weights from {args.state_dict}"
    model.eval()
    shape = tuple(args.input_shape)
    try:
        table = layer_norms(model, shape, p=tuple(args.p), include=tuple(args.include),
                            l2_method=args.l2_method)
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"could not run {args.model} on an input of shape {shape}: "
                         f"{exc}") from None
    print(f"{args.model} ({source}), input {shape}: operator norms of the linear parts "
          "(bias ignored; l1/l-inf exact, l2 a certified [lower, upper] interval)")
    print(table.to_markdown())
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from ._plotting import plot_norm_profile

        ax = plot_norm_profile(table)
        ax.set_title(f"{args.model}: per-layer operator norms")
        ax.figure.savefig(args.plot, dpi=120)
        print(f"plot saved to {args.plot}")
    return 0
