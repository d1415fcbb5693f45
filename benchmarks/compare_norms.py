"""Exact l1 / l-inf conv norms beside the usual ways of measuring a conv layer's norm.

For the six speed-test layers of Liang & Huang (32x32 input, stride 1, padding k//2, zeros)
it times, on the CPU:

* ours: ``conv_norm(K, 1)`` and ``conv_norm(K, inf)`` (exact, boundary classes);
* the bare closed forms of the norm_robustness repository (re-implemented here: sums of |K|),
  which are exact for these layers but not in general;
* power iteration with torch (``conv2d`` + ``conv_transpose2d``), 500 iterations. Only
  ``--power-its`` iterations are timed and the time is scaled to 500 (said in the table);
* Sedghi et al.'s FFT + SVD (circular model; re-implemented here with ``torch.fft.rfft2`` and
  ``torch.linalg.svdvals``). For the large layers only a slice of the frequency blocks is
  decomposed and the time scaled to all of them (said in the table);
* ``torch.nn.utils.parametrizations.spectral_norm``: one power step on the reshaped weight.

Then the full l1/l-inf profile of torchvision's ResNet-50 (random weights) at 224x224 and the
l2 interval width per layer of ResNet-18 (at 32x32 by default: the certified l2 intervals cost
power iterations and Gram iterations per layer; ``--r18-size 224`` for the ImageNet size).

``--l2-224`` prints the ResNet-18 l2 rows at 224x224 (layer, lower, upper, width %, method,
time); ``--l2-peers`` adds, per layer and run in full, 500 torch power iterations (a lower
estimate) and torch FFT+SVD of every frequency block of the strided circular embedding (its
exact norm, an upper end).

Run: ``python benchmarks/compare_norms.py`` (add ``--quick`` for fewer repeats).
Timings are wall-clock best-of-N on a shared machine; treat them as indicative.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from normgraph.norms import conv_norm, linear_norm, bn_norm

try:  # run as a script or as a module
    from benchmarks.common import best_time, print_table
except ImportError:  # pragma: no cover
    from common import best_time, print_table

CONFIGS = [(3, 32, 32), (3, 32, 128), (3, 128, 256), (3, 256, 512), (5, 256, 128), (5, 512, 256)]
N = 32


def closed_forms(K):
    """norm_robustness-style closed forms (exact for stride 1, padding k//2, n >= k)."""
    A = np.abs(K)
    return A.sum(axis=(0, 2, 3)).max(), A.sum(axis=(1, 2, 3)).max()


def torch_power_iteration(Kt, n_iter, pad):
    """sigma_max of the zero-padded conv by power iteration on T^T T (torch, CPU)."""
    g = torch.Generator().manual_seed(0)
    v = torch.randn(1, Kt.shape[1], N, N, generator=g, dtype=Kt.dtype)
    v /= v.norm()
    sigma = 0.0
    with torch.no_grad():
        for _ in range(n_iter):
            u = F.conv2d(v, Kt, padding=pad)
            sigma = u.norm().item()
            w = F.conv_transpose2d(u, Kt, padding=pad)
            v = w / w.norm()
    return sigma


def sedghi_fft_svd(Kt, block_limit=None):
    """Largest singular value of the circular conv on the N x N grid (Sedghi et al.)."""
    c_out, c_in, k, _ = Kt.shape
    padded = torch.zeros(c_out, c_in, N, N, dtype=Kt.dtype)
    padded[:, :, :k, :k] = Kt
    blocks = torch.fft.rfft2(padded).permute(2, 3, 0, 1).reshape(-1, c_out, c_in)
    if block_limit is not None:
        blocks = blocks[:block_limit]
    return torch.linalg.svdvals(blocks).max().item(), blocks.shape[0]


def spectral_norm_step(conv):
    """One power step of torch's spectral_norm parametrization (training mode)."""
    with torch.no_grad():
        conv.parametrizations.weight.original  # noqa: B018 - touch the parametrization
        conv.train()
        _ = conv.weight  # triggers one power-iteration step on the (out, -1) matrix
    sn = conv.parametrizations.weight[0]
    W = conv.parametrizations.weight.original.reshape(conv.out_channels, -1)
    return torch.dot(sn._u, W.mv(sn._v)).item()


def bench_configs(args):
    rows, notes = [], []
    for k, c_in, c_out in CONFIGS:
        rng = np.random.default_rng(0)
        K = rng.standard_normal((c_out, c_in, k, k)) / math.sqrt(c_in * k * k)
        Kt = torch.from_numpy(K).float()
        pad = k // 2
        conv_norm(K, 1, (N, N), padding=pad)  # compile / warm up
        t1, l1 = best_time(lambda: conv_norm(K, 1, (N, N), padding=pad), repeat=args.repeat,
                           min_time=0.2)
        ti, li = best_time(lambda: conv_norm(K, np.inf, (N, N), padding=pad),
                           repeat=args.repeat, min_time=0.2)
        tcf, (cf1, cfi) = best_time(lambda: closed_forms(K), repeat=args.repeat, min_time=0.2)
        assert abs(l1 - cf1) <= 1e-12 * cf1 and abs(li - cfi) <= 1e-12 * cfi
        ours = t1 + ti
        # torch power iteration: time a few iterations, scale to 500
        tp, _ = best_time(lambda: torch_power_iteration(Kt, args.power_its, pad), repeat=1)
        tp500 = tp * 500 / args.power_its
        # Sedghi FFT + SVD (circular model), slice of blocks for the large layers
        n_blocks = N * (N // 2 + 1)
        limit = None if c_in * c_out <= 32 * 128 or args.full_svd else args.svd_blocks
        tf, (sig_fft, used) = best_time(lambda: sedghi_fft_svd(Kt, limit), repeat=1)
        tf_all = tf * n_blocks / used
        conv = torch.nn.utils.parametrizations.spectral_norm(
            torch.nn.Conv2d(c_in, c_out, k, padding=pad, bias=False))
        with torch.no_grad():
            conv.parametrizations.weight.original.copy_(Kt)
        spectral_norm_step(conv)
        tsn, sn_est = best_time(lambda: spectral_norm_step(conv), repeat=args.repeat)
        name = f"k={k} {c_in}->{c_out}"
        rows.append((name, t1 * 1e3, ti * 1e3, tcf * 1e3, tp500, tp500 / ours,
                     tf_all, tf_all / ours, tsn * 1e3, l1, li, sig_fft, sn_est))
        if limit is not None:
            notes.append(f"{name}: FFT+SVD timed on {used} of {n_blocks} frequency blocks, "
                         "scaled linearly")
    print(f"Exact l1/l-inf vs peers, 32x32 input, stride 1, padding k//2, zeros; torch on "
          f"{torch.get_num_threads()} thread(s); power iteration: {args.power_its} iterations "
          "timed, scaled to 500; ratios = peer time / (our l1 time + our l-inf time)")
    print_table(rows, columns=("layer", "l1 (ms)", "linf (ms)", "closed form (ms)",
                               "power500 (s)", "power500/ours", "FFT+SVD (s)", "FFT/ours",
                               "spectral_norm step (ms)", "l1", "linf", "sigma circ.",
                               "SN estimate"))
    for note in notes:
        print("  note:", note)
    worst_p = min(r[5] for r in rows)
    worst_f = min(r[7] for r in rows)
    print(f"  smallest ratio vs power iteration: {worst_p:.3g} (goal >= 1e4); "
          f"vs FFT+SVD: {worst_f:.3g} (goal >= 1e3)")
    print(f"  ours / closed form: max {max((r[1] + r[2]) / r[3] for r in rows):.3g} "
          "(goal <= 5)")


def _walk_profile(model, input_shape, ps):
    """Fallback module walk: record input sizes with hooks, then the norm of every layer."""
    shapes, hooks = {}, []
    for name, m in model.named_modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d)):
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out, name=name: shapes.__setitem__(name, inp[0].shape[1:])))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    for h in hooks:
        h.remove()
    t0 = time.perf_counter()
    rows = []
    for name, m in model.named_modules():
        if name not in shapes:
            continue
        for p in ps:
            if isinstance(m, torch.nn.Conv2d):
                v = conv_norm(m.weight, p, tuple(shapes[name]), m.stride, m.padding, m.dilation,
                              m.groups, m.padding_mode)
            elif isinstance(m, torch.nn.Linear):
                v = linear_norm(m.weight, p)
            else:
                v = bn_norm(m)
            rows.append((name, p, v))
    return time.perf_counter() - t0, rows


def bench_resnet(args):
    import torchvision

    model = torchvision.models.resnet50(weights=None)
    try:
        from normgraph.norms import layer_norms
    except ImportError:
        layer_norms = None
    print()
    if layer_norms is not None:
        layer_norms(model, (3, 224, 224), p=(1, np.inf))  # warm up (Numba compile, caches)
        t, table = best_time(lambda: layer_norms(model, (3, 224, 224), p=(1, np.inf)),
                             repeat=args.repeat)
        n_rows = len(table)
        how = "layer_norms(model, (3, 224, 224), p=(1, inf)) incl. the hooked forward pass"
    else:
        _walk_profile(model, (3, 224, 224), (1, np.inf))
        best = math.inf
        for _ in range(args.repeat):
            t, rows = _walk_profile(model, (3, 224, 224), (1, np.inf))
            best = min(best, t)
        t, n_rows = best, len(rows)
        how = "own module walk (norm computations only, forward pass excluded)"
    print(f"ResNet-50 (random weights) l1 + l-inf profile at 224x224: {t:.4f} s for {n_rows} "
          f"rows [{how}] (goal < 0.1 s)")
    # the same, norm computations only (forward pass and hooks excluded)
    _walk_profile(model, (3, 224, 224), (1, np.inf))
    tw = min(_walk_profile(model, (3, 224, 224), (1, np.inf))[0] for _ in range(args.repeat))
    print(f"  norm computations alone (53 convs, 53 BN, 1 linear, two p each): {tw:.4f} s")

    if layer_norms is None:
        print("ResNet-18 l2 interval widths: layer_norms is not available in this checkout")
        return
    r18 = torchvision.models.resnet18(weights=None)
    size = args.r18_size
    t0 = time.perf_counter()
    table = layer_norms(r18, (3, size, size), p=(2,))
    t2 = time.perf_counter() - t0
    rows = []
    for row in table:
        if row.get("value") is None or row["type"] not in ("Conv2d", "Linear"):
            continue
        lo, up = row["lower"], row["upper"]
        rows.append((row["name"], lo, up, up - lo, (up - lo) / up if up else 0.0, row["method"]))
    print()
    print(f"ResNet-18 (random weights) certified l2 intervals at {size}x{size} ({t2:.1f} s; "
          "--r18-size 224 for the ImageNet size, which takes many minutes on 2 cores)")
    print_table(rows, columns=("layer", "lower", "upper", "width", "width/upper", "method"))


def _torch_power_500(conv, n, n_iter=500):
    """500 power iterations on T^T T with torch in float32, as usually run (zero padding,
    the layer's own conv); the best ||T v|| seen (a lower estimate, not certified)."""
    g = torch.Generator().manual_seed(0)
    W = conv.weight.detach().float()
    v = torch.randn((1, W.shape[1] * conv.groups) + n, generator=g, dtype=torch.float32)
    v /= v.norm()
    kw = dict(stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
              groups=conv.groups)
    best = 0.0
    with torch.no_grad():
        u = F.conv2d(v, W, **kw)
        op = tuple(n[t] - ((u.shape[2 + t] - 1) * conv.stride[t] - 2 * conv.padding[t]
                           + conv.dilation[t] * (W.shape[2 + t] - 1) + 1) for t in range(2))
        for _ in range(n_iter):
            u = F.conv2d(v, W, **kw)
            best = max(best, u.norm().item())
            w = F.conv_transpose2d(u, W, output_padding=op, **kw)
            v = w / w.norm()
    return best


def _torch_fft_svd(conv, n):
    """All singular values of every frequency block of the strided circular layer on the
    embedding grid (the exact circular norm, an upper bound of the zero-padded one), torch."""
    from normgraph.norms._l2 import _circular_blocks
    from normgraph.norms._l2_embed import embedding_grid
    from normgraph.norms._validation import normalize_conv_args

    w, geom = normalize_conv_args(conv.weight, n, conv.stride, conv.padding, conv.dilation,
                                  conv.groups)
    grid = embedding_grid(geom)
    blocks = _circular_blocks(w, grid, geom.stride, geom.dilation,
                              tuple(-pl for pl, _ in geom.padding), geom.groups)
    B = torch.from_numpy(blocks.reshape((-1,) + blocks.shape[-2:]))
    return torch.linalg.svdvals(B).max().item()


def bench_l2_224(args):
    """ResNet-18 at 224x224: our certified l2 intervals beside power iteration and FFT+SVD."""
    import torchvision

    from normgraph.norms import layer_norms

    torch.set_num_threads(args.l2_threads)
    torch.manual_seed(args.seed)  # the random weights, so that reruns measure the same layers
    r18 = torchvision.models.resnet18(weights=None).eval()
    layer_norms(torch.nn.Conv2d(4, 4, 3, padding=1), (4, 9, 9), p=(2,))  # imports, caches
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    table = layer_norms(r18, (3, 224, 224), p=(2,), include=("conv",))
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    shapes = {r["name"]: r["input_shape"] for r in table}
    mods = dict(r18.named_modules())
    rows = []
    for r in table:
        lo, up = r["lower"], r["upper"]
        row = [r["name"], lo, up, 100 * (up - lo) / up, r["method"], r["time"]]
        if args.l2_peers:
            m, n = mods[r["name"]], tuple(shapes[r["name"]])
            tp = time.perf_counter()
            sp_ = _torch_power_500(m, n)
            tp = time.perf_counter() - tp
            tf = time.perf_counter()
            sf = _torch_fft_svd(m, n)
            tf = time.perf_counter() - tf
            # power iteration: a lower estimate only (no upper end); FFT+SVD: the exact
            # circular norm, an upper end only; width against the other's end
            row += [sp_, tp, tp / r["time"], 100 * (up - sp_) / up, sf, tf, tf / r["time"],
                    100 * (sf - lo) / sf]
        rows.append(tuple(row))
    print()
    print(f"ResNet-18 (random weights, torch seed {args.seed}) certified l2 intervals at 224x224: "
          f"{total:.1f} s wall, {cpu:.1f} s CPU (process, all threads) in all "
          f"(layer_norms(..., p=2, include=('conv',)), torch threads {torch.get_num_threads()}; "
          f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)")
    cols = ["layer", "lower", "upper", "width %", "method", "time (s)"]
    if args.l2_peers:
        cols += ["power500", "power (s)", "power/ours", "width % vs our upper", "FFT+SVD",
                 "FFT+SVD (s)", "FFT/ours", "width % vs our lower"]
    print_table(rows, columns=tuple(cols))
    print(f"  widest interval: {max(r[3] for r in rows):.3f} % of the upper bound (goal <= 1 %); "
          f"layers above 1 %: {[r[0] for r in rows if r[3] > 1.0]}")
    if args.l2_peers:
        print(f"  peers in all: power500 {sum(r[7] for r in rows):.1f} s, FFT+SVD "
              f"{sum(r[11] for r in rows):.1f} s; ours {sum(r[5] for r in rows):.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (ours is single-threaded; >1 thrashes on a "
                             "shared machine)")
    parser.add_argument("--power-its", type=int, default=10,
                        help="power iterations actually timed (scaled to 500)")
    parser.add_argument("--svd-blocks", type=int, default=64,
                        help="frequency blocks decomposed for the large layers")
    parser.add_argument("--full-svd", action="store_true", help="decompose every block")
    parser.add_argument("--skip-resnet", action="store_true")
    parser.add_argument("--r18-size", type=int, default=32,
                        help="input size for the ResNet-18 l2 intervals (default 32)")
    parser.add_argument("--l2-224", action="store_true",
                        help="only the ResNet-18 l2 rows at 224x224")
    parser.add_argument("--l2-peers", action="store_true",
                        help="with --l2-224: also 500-step power iteration and FFT+SVD, in full")
    parser.add_argument("--l2-threads", type=int, default=2, help="torch threads for --l2-224")
    parser.add_argument("--seed", type=int, default=0, help="torch seed of the random weights")
    args = parser.parse_args(argv)
    args.repeat = 3 if args.quick else 7
    torch.set_num_threads(args.threads)
    if args.l2_224:
        bench_l2_224(args)
        return
    bench_configs(args)
    if not args.skip_resnet:
        bench_resnet(args)


if __name__ == "__main__":
    main()
