"""Regenerate the README's plots: MSRC_v1 (fused graph as an ordered adjacency matrix and as a
spectral 2-D layout, learned view coefficients) and ResNet-18 (norm profile).

Run::

    NORMGRAPH_DATA=path/to/data python benchmarks/plot_gallery.py --out plots/

The folder must exist; four PNG files are written into it.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="output folder")
    parser.add_argument("--data-home", default=None, help="folder holding multiview/*.mat")
    args = parser.parse_args(argv)
    _msrc_plots(args.out, args.data_home)
    _resnet_plot(args.out)


def _msrc_plots(out, data_home):
    from normgraph.datasets import load_multiview
    from normgraph.graphs import MultiViewGraphClusterer, plot_graph, plot_view_coefficients

    data = load_multiview("MSRC_v1", data_home=data_home)
    sgf = MultiViewGraphClusterer(data.n_clusters, metric=data.metric,
                                  random_state=0).fit(data.views)
    dgf = MultiViewGraphClusterer(data.n_clusters, fusion="dissimilarity", metric=data.metric,
                                  random_state=0).fit(data.views)
    ax = plot_graph(sgf.graph_, labels=sgf.labels_)
    ax.figure.savefig(out / "msrc_graph_adjacency.png", dpi=120)
    ax = plot_graph(sgf.graph_, labels=data.target, kind="embedding")
    ax.figure.savefig(out / "msrc_graph_embedding.png", dpi=120)
    ax = plot_view_coefficients({"SGF": sgf, "DGF": dgf}, view_names=data.view_names)
    ax.figure.tight_layout()
    ax.figure.savefig(out / "msrc_view_coefficients.png", dpi=120)


def _resnet_plot(out):
    import torch
    from torchvision.models import resnet18

    from normgraph.norms import layer_norms, plot_norm_profile

    torch.manual_seed(0)
    table = layer_norms(resnet18(weights=None), (3, 32, 32))  # l1, l2 interval, l-inf
    ax = plot_norm_profile(table)
    ax.set_title("ResNet-18 (random weights), 32x32 input", loc="left")
    ax.figure.savefig(out / "resnet18_norm_profile.png", dpi=120)


if __name__ == "__main__":
    main()
