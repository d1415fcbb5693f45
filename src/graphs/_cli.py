"""The ``normgraph cluster`` command: fuse the views of a data set and print its metrics.

``normgraph cluster NAME_OR_PATH`` where NAME is one of the six benchmark data sets (read from
the data home), ``digits`` (the embedded digits views), or a path to a MATLAB file with the
same layout (a 1 x V cell ``fea`` of n x d_v feature matrices and the labels ``gt``).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

__all__ = ["register", "load_views", "cluster_table", "print_metrics_table"]

_COLUMNS = ("method", "ACC", "NMI", "ARI", "purity", "F", "iters", "fit (s)")


def load_views(name_or_path, data_home=None):
    """Load a data set by name (six benchmarks or ``"digits"``) or from a ``.mat`` path.

    Returns a :class:`sklearn.utils.Bunch` with ``views``, ``target``, ``n_clusters``,
    ``metric``, ``view_names`` and ``name``. A file's recommended metric is ``"cosine"``
    when any view is sparse (text-like) and ``"sqeuclidean"`` otherwise.
    """
    from ..datasets import (MULTIVIEW_DATASETS, load_digits_multiview, load_multiview,
                            load_multiview_mat)

    if name_or_path == "digits":
        return load_digits_multiview()
    if name_or_path in MULTIVIEW_DATASETS:
        return load_multiview(name_or_path, data_home=data_home)
    if not Path(name_or_path).is_file():
        raise FileNotFoundError(
            f"{name_or_path!r} is neither a data set name ({', '.join(MULTIVIEW_DATASETS)}, "
            "digits) nor an existing .mat file"
        )
    return load_multiview_mat(name_or_path)


def _row(label, y, result, seconds):
    from .metrics import clustering_report

    r = clustering_report(y, result.labels)
    return (label, r["acc"], r["nmi"], r["ari"], r["purity"], r["f_score"], result.n_iter,
            seconds)


def _timed_clustering(views, n_clusters, **params):
    from ._clusterer import multiview_graph_clustering

    t0 = time.perf_counter()
    result = multiview_graph_clustering(views, n_clusters, **params)
    return result, time.perf_counter() - t0


def cluster_table(data, *, fusions=("similarity", "dissimilarity"), metric=None, n_neighbors=20,
                  random_state=0, single_views=False):
    """Cluster with each fusion (and optionally each single view); return table rows.

    Calls :func:`normgraph.graphs.multiview_graph_clustering`, the function behind
    :class:`~normgraph.graphs.MultiViewGraphClusterer` (same defaults, same results).
    Each row: (method, ACC, NMI, ARI, purity, pairwise F, solver iterations, fit seconds).
    """
    metric = metric or data.metric
    rows = []
    for fusion in fusions:
        result, seconds = _timed_clustering(data.views, data.n_clusters, fusion=fusion,
                                            metric=metric, n_neighbors=n_neighbors,
                                            random_state=random_state)
        rows.append(_row(f"{'SGF' if fusion == 'similarity' else 'DGF'} ({fusion})",
                         data.target, result, seconds))
    if single_views:
        best = None
        for i, (name, X) in enumerate(zip(data.view_names, data.views)):
            view_metric = metric if isinstance(metric, str) else metric[i]
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="a single view was given")
                result, seconds = _timed_clustering([X], data.n_clusters, metric=view_metric,
                                                    n_neighbors=n_neighbors,
                                                    random_state=random_state)
            row = _row(f"best single view ({name})", data.target, result, seconds)
            if best is None or row[1] > best[1]:
                best = row
        rows.append(best)
    return rows


def print_metrics_table(rows):
    """Print rows of :func:`cluster_table` as an aligned table."""
    cells = [[r[0], *(f"{v:.4f}" for v in r[1:6]), str(r[6]), f"{r[7]:.2f}"] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(_COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def _cmd_cluster(args):
    from .._utils.validation import check_int

    # Errors are raised, and reported by normgraph.cli.main as one line with exit status 2.
    check_int(args.n_neighbors, "--n-neighbors", low=1)
    check_int(args.random_state, "--random-state", low=0, high=2**32 - 1)
    data = load_views(args.dataset, data_home=args.data_home)
    fusions = ("similarity", "dissimilarity") if args.fusion == "both" else (args.fusion,)
    n = data.views[0].shape[0]
    metric = args.metric or data.metric
    print(f"{data.name}: {n} samples, {len(data.views)} views, {data.n_clusters} clusters, "
          f"metric {metric}, n_neighbors {args.n_neighbors}")
    rows = cluster_table(data, fusions=fusions, metric=metric, n_neighbors=args.n_neighbors,
                         random_state=args.random_state, single_views=args.single_views)
    print_metrics_table(rows)
    return 0


def register(subparsers):
    """Add the ``cluster`` subcommand to the ``normgraph`` command line.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``normgraph`` parser's subcommands.

    Examples
    --------
    >>> from normgraph.cli import build_parser
    >>> args = build_parser().parse_args(["cluster", "MSRC_v1", "--fusion", "dissimilarity"])
    >>> args.dataset, args.fusion, args.n_neighbors
    ('MSRC_v1', 'dissimilarity', 20)
    """
    p = subparsers.add_parser(
        "cluster",
        help="multi-view graph learning (SGF/DGF) on a data set; prints ACC/NMI/ARI/purity/F",
        description="Fuse the views of a data set with MultiViewGraphClusterer and print the "
                    "clustering metrics against its labels.",
    )
    p.add_argument("dataset", metavar="NAME_OR_PATH",
                   help="3Sources, BBCSport, CiteSeer, MSRC_v1, Reuters, UCI_Digits (from the "
                        "data home), digits (embedded), or a .mat file with 'fea' and 'gt'")
    p.add_argument("--fusion", choices=("similarity", "dissimilarity", "both"), default="both",
                   help="SGF, DGF or both (default)")
    p.add_argument("--n-neighbors", type=int, default=20, help="k of the kNN graphs (20)")
    p.add_argument("--metric", choices=("sqeuclidean", "cosine"), default=None,
                   help="per-view distance (default: the data set's recommended one)")
    p.add_argument("--data-home", default=None,
                   help="folder holding multiview/<name>.mat (default: $NORMGRAPH_DATA, "
                        "then ~/normgraph_data)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.add_argument("--single-views", action="store_true",
                   help="also cluster every view alone and print the best one")
    p.set_defaults(func=_cmd_cluster)
