"""Experiments E2 and E3 (spec nn_quant_bnn 7): a small ReActNet-A on scikit-learn's digits.

Net: ``reactnet_a(width_mult=1/8, small_input=True, stages=5, num_classes=10)`` (stem with
stride 1, blocks 1-5, channels 4 -> 8 -> 16 (s2) -> 16 -> 32 (s2) -> 32). Input: the 1797
digits, pixels / 16, upsampled bilinearly to 16x16 and repeated to 3 channels; stratified
80/20 split (split seed = run seed); batch 64 (23 optimizer steps per epoch).

Teacher (per seed): the same truncated net in full precision (``binary_weights=False,
binary_activations=False``), cross-entropy on the labels, Adam 1e-3, 20 epochs, linear decay.

E2, Adam vs SGD: ``two_step_train`` with 10 + 10 epochs, distillation from the teacher
(``DistributionLoss``, no label term), weight decay 5e-6 in step 1 and 0 in step 2; Adam
lr 1.25e-3 vs SGD(momentum 0.9) lr 0.05, same linear schedule. Reports the test accuracy after
step 1 and step 2, the flip-flop ratio (per-epoch means) and C2I at the end of each step.

E3, step-1 weight decay sweep (seeds 0..2, Adam): wd in {0, 5e-6, 1e-4, 1e-3} in step 1, each
followed by its own step 2 (wd 0) from its own step-1 checkpoint; reports the accuracies, the
step-1 FF ratio and C2I at the end of step 1. The E2 teacher of a seed is reused, and so is
the E2 Adam run for wd = 5e-6 (the same configuration and seed).

Tracker overhead: the time of a step-2 training step with both trackers attached over the
time without (round-robin blocks, medians), printed as a ratio (target < 1.05).

Measured once (defaults, one thread, on a 2-core machine shared with other jobs at load 7-8,
1294 s in all, over the spec's 10-minute estimate): teacher 99.00 +- 0.25 %; E2 Adam 93.2 +- 0.6
/ 86.4 +- 5.7 %, SGD 58.2 +- 27.9 / 84.0 +- 9.5 % after step 1 / step 2 (5 seeds); the
step-2 accuracy of the last epoch swings by several points from epoch to epoch. E3 (3 seeds)
step 1 / step 2: wd 0 93.2 / 90.0, 5e-6 93.0 / 83.1, 1e-4 94.0 / 88.5, 1e-3 92.9 / 91.2 %;
step-1 FF and C2I barely move with wd. Step-1 C2I is about 0.48-0.52 everywhere because the
reference initialization is all positive: C2I then counts the weights that turned negative.

Usage::

    python benchmarks/experiments/bnn_digits.py --out-prefix bnn_digits
"""

from __future__ import annotations

import argparse
import time

import numpy as np

#: ImageNet top-1 (%) of ReActNet-A from the reference repositories (spec 7).
IMAGENET = {"ReActNet-A (ReActNet recipe)": "69.4 (69.5 in the ReActNet README)",
            "ReActNet-A (AdamBNN recipe, Adam)": "70.5"}
#: The spec's prototype, seed 0, digits (step 1 / step 2 test accuracy, %).
PROTOTYPE = {"adam": "91.7 / 88.6", "sgd": "50.8 / 79.2"}
LR = {"adam": 1.25e-3, "sgd": 0.05}
WEIGHT_DECAYS = (0.0, 5e-6, 1e-4, 1e-3)


def load_data(seed):
    """Digits as (N, 3, 16, 16) float tensors in [0, 1] and int64 labels, split 80/20."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = torch.from_numpy((X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32))
    X = F.interpolate(X, size=(16, 16), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y,
                                      random_state=seed)
    y = torch.from_numpy(y).long()
    return X[idx_tr], X[idx_te], y[idx_tr], y[idx_te]


def loaders(data, seed, batch):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    Xtr, Xte, ytr, yte = data
    gen = torch.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(Xtr, ytr), batch_size=batch, shuffle=True, generator=gen)
    test = DataLoader(TensorDataset(Xte, yte), batch_size=512)
    return train, test


def make_net(binary_weights=True, binary_activations=True):
    from normgraph.nn.bnn import reactnet_a

    return reactnet_a(width_mult=1 / 8, num_classes=10, small_input=True, stages=5,
                      binary_weights=binary_weights, binary_activations=binary_activations)


def train_teacher(train, test, seed, epochs):
    import torch
    import torch.nn.functional as F

    from normgraph.nn import linear_lr_lambda
    from normgraph.nn.bnn import evaluate_accuracy

    torch.manual_seed(seed)
    net = make_net(False, False)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_lr_lambda(epochs))
    for _ in range(epochs):
        net.train()
        for x, y in train:
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        sched.step()
    net.eval()
    return net, evaluate_accuracy(net, test)


def run_student(teacher, train, test, seed, optimizer, wd1, epochs):
    import torch

    from normgraph.nn.bnn import C2ITracker, FlipFlopTracker, two_step_train

    torch.manual_seed(seed + 1000)
    hist = two_step_train(make_net, teacher, train, test, epochs=(epochs, epochs),
                          lr=LR[optimizer], weight_decay=(wd1, 0.0), optimizer=optimizer,
                          trackers=(FlipFlopTracker, C2ITracker), verbose=False)
    out = dict(history=hist)
    for step in ("step1", "step2"):
        rec = hist[step]
        out[f"acc_{step}"] = rec["val_acc"][-1]
        out[f"ff_{step}"] = rec["trackers"]["FlipFlopTracker"]["epoch_means"]
        out[f"c2i_{step}"] = rec["trackers"]["C2ITracker"]["final"]
    return out


def tracker_overhead(data, n_blocks=8, block=10):
    """Median seconds per training step with and without both trackers (round robin)."""
    import torch

    from normgraph.nn import DistributionLoss, bnn_param_groups
    from normgraph.nn.bnn import C2ITracker, FlipFlopTracker

    Xtr, _, ytr, _ = data
    torch.manual_seed(0)
    teacher = make_net(False, False).eval()
    kd = DistributionLoss()
    times = {False: [], True: []}
    nets = {}
    for tracked in (False, True):
        torch.manual_seed(0)
        net = make_net()
        opt = torch.optim.Adam(bnn_param_groups(net, weight_decay=0.0, lr=1.25e-3))
        if tracked:
            FlipFlopTracker(net).attach(opt)
            C2ITracker(net).attach(opt)
        nets[tracked] = (net, opt)
    gen = torch.Generator().manual_seed(0)
    for b in range(n_blocks + 1):
        for tracked in (False, True) if b % 2 == 0 else (True, False):
            net, opt = nets[tracked]
            idx = torch.randint(0, len(Xtr), (64,), generator=gen)
            x = Xtr[idx]
            t0 = time.perf_counter()
            for _ in range(block):
                with torch.no_grad():
                    target = teacher(x)
                loss = kd(net(x), target)
                opt.zero_grad()
                loss.backward()
                opt.step()
            if b > 0:  # block 0 warms up
                times[tracked].append((time.perf_counter() - t0) / block)
    return float(np.median(times[False])), float(np.median(times[True]))


def mean_std(values):
    v = 100 * np.asarray(values, dtype=float)
    return f"{v.mean():6.2f} +- {v.std(ddof=1) if len(v) > 1 else 0.0:5.2f}"


def plot_e2(results, path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for opt, color in (("adam", "C0"), ("sgd", "C3")):
        ff = np.array([r["ff_step1"] + r["ff_step2"] for r in results[opt]])
        c2i1 = np.mean([r["c2i_step1"] for r in results[opt]])
        c2i2 = np.mean([r["c2i_step2"] for r in results[opt]])
        epochs = np.arange(1, ff.shape[1] + 1)
        axes[0].plot(epochs, ff.mean(0), marker=".", color=color, label=opt)
        axes[0].fill_between(epochs, ff.min(0), ff.max(0), color=color, alpha=0.15)
        axes[1].bar([f"{opt}\nstep 1", f"{opt}\nstep 2"], [c2i1, c2i2], color=color)
    n1 = len(results["adam"][0]["ff_step1"])
    axes[0].axvline(n1 + 0.5, color="grey", linestyle="--", linewidth=0.8)
    axes[0].set_yscale("log")
    axes[0].set(title="flip-flop ratio, per-epoch mean (range over seeds)", xlabel="epoch",
                ylabel="FF ratio")
    axes[0].legend()
    axes[1].set(title="C2I at the end of each step (mean over seeds)", ylabel="C2I")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_e3(rows, path):
    import matplotlib.pyplot as plt

    labels = [f"{wd:g}" for wd in WEIGHT_DECAYS]
    pos = np.arange(len(WEIGHT_DECAYS))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for key, name in (("acc_step1", "after step 1"), ("acc_step2", "after step 2")):
        m = [100 * np.mean([r[key] for r in rows[wd]]) for wd in WEIGHT_DECAYS]
        axes[0].plot(pos, m, marker="o", label=name)
    axes[0].set(title="test accuracy (%)", ylabel="%")
    axes[0].legend()
    axes[1].plot(pos, [np.mean([np.mean(r["ff_step1"]) for r in rows[wd]])
                       for wd in WEIGHT_DECAYS], marker="o")
    axes[1].set(title="step-1 FF ratio (mean over epochs)")
    axes[2].plot(pos, [np.mean([r["c2i_step1"] for r in rows[wd]]) for wd in WEIGHT_DECAYS],
                 marker="o")
    axes[2].set(title="C2I at the end of step 1")
    for ax in axes:
        ax.set_xticks(pos, labels)
        ax.set_xlabel("step-1 weight decay")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="E2 seeds 0..n-1 (default 5)")
    parser.add_argument("--e3-seeds", type=int, default=3, help="E3 seeds (default 3)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each step")
    parser.add_argument("--teacher-epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--skip-e2", action="store_true")
    parser.add_argument("--skip-e3", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--out-prefix", default="bnn_digits", help="prefix of the saved PNGs")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import torch

    from normgraph.nn.bnn import plot_training_curves

    torch.set_num_threads(args.threads)
    t0 = time.time()
    n_seeds = max(0 if args.skip_e2 else args.seeds, 0 if args.skip_e3 else args.e3_seeds)
    teachers, e2 = {}, {"adam": [], "sgd": []}
    e3 = {wd: [] for wd in WEIGHT_DECAYS}
    for seed in range(n_seeds):
        data = load_data(seed)
        train, test = loaders(data, seed, args.batch)
        teacher, acc_t = train_teacher(train, test, seed, args.teacher_epochs)
        teachers[seed] = acc_t
        line = [f"seed {seed}: teacher {100 * acc_t:.1f}"]
        runs = []
        if not args.skip_e2 and seed < args.seeds:
            runs += [("sgd", 5e-6)]
        if (not args.skip_e2 and seed < args.seeds) or (not args.skip_e3
                                                        and seed < args.e3_seeds):
            runs += [("adam", 5e-6)]
        if not args.skip_e3 and seed < args.e3_seeds:
            runs += [("adam", wd) for wd in WEIGHT_DECAYS if wd != 5e-6]
        for opt, wd in runs:
            r = run_student(teacher, train, test, seed, opt, wd, args.epochs)
            if wd == 5e-6 and seed < args.seeds and not args.skip_e2:
                e2[opt].append(r)
            if opt == "adam" and seed < args.e3_seeds and not args.skip_e3:
                e3[wd].append(r)
            line.append(f"{opt} wd {wd:g} {100 * r['acc_step1']:.1f}/{100 * r['acc_step2']:.1f}")
            if seed == 0 and wd == 5e-6:
                fig, _ = plot_training_curves(r["history"])
                fig.savefig(f"{args.out_prefix}_curves_{opt}.png", dpi=110)
                matplotlib.pyplot.close(fig)
        print(", ".join(line) + f"  ({time.time() - t0:.0f} s)", flush=True)

    if teachers:
        print(f"\nFP teacher (same topology), digits test accuracy: "
              f"{mean_std(list(teachers.values()))} % over {len(teachers)} seeds")
    if not args.skip_e2 and e2["adam"]:
        print(f"\nE2, digits test accuracy (%), mean +- std over {len(e2['adam'])} seeds "
              f"({args.epochs} + {args.epochs} epochs):")
        print(f"{'optimizer':10s} {'after step 1':>16s} {'after step 2':>16s} "
              f"{'C2I end s1':>11s} {'C2I end s2':>11s} {'FF s1 ep1/last':>16s}  "
              "spec prototype (seed 0)")
        for opt in ("adam", "sgd"):
            rs = e2[opt]
            ff1 = np.mean([r["ff_step1"] for r in rs], axis=0)
            print(f"{opt:10s} {mean_std([r['acc_step1'] for r in rs]):>16s} "
                  f"{mean_std([r['acc_step2'] for r in rs]):>16s} "
                  f"{np.mean([r['c2i_step1'] for r in rs]):11.4f} "
                  f"{np.mean([r['c2i_step2'] for r in rs]):11.4f} "
                  f"{ff1[0]:.2e}/{ff1[-1]:.1e}  {PROTOTYPE[opt]}")
        print("FF ratio per-epoch means (seed mean), steps 1 | 2:")
        for opt in ("adam", "sgd"):
            rs = e2[opt]
            f1 = np.mean([r["ff_step1"] for r in rs], axis=0)
            f2 = np.mean([r["ff_step2"] for r in rs], axis=0)
            print(f"  {opt:5s} " + " ".join(f"{v:.1e}" for v in f1) + " | "
                  + " ".join(f"{v:.1e}" for v in f2))
        print("ImageNet top-1 (%), spec 7: " + "; ".join(f"{k} {v}" for k, v in IMAGENET.items())
              + " (AdamBNN: Adam > SGD)")
        plot_e2(e2, f"{args.out_prefix}_e2_ff_c2i.png")
        print(f"plots: {args.out_prefix}_e2_ff_c2i.png, {args.out_prefix}_curves_adam.png, "
              f"{args.out_prefix}_curves_sgd.png")
    if not args.skip_e3 and e3[0.0]:
        print(f"\nE3, step-1 weight decay (Adam), mean over {len(e3[0.0])} seeds:")
        print(f"{'wd step 1':>10s} {'acc step 1 %':>16s} {'acc step 2 %':>16s} "
              f"{'FF step 1':>10s} {'C2I end s1':>11s} {'agreement':>10s}")
        for wd in WEIGHT_DECAYS:
            rs = e3[wd]
            c2i = np.mean([r["c2i_step1"] for r in rs])
            print(f"{wd:10g} {mean_std([r['acc_step1'] for r in rs]):>16s} "
                  f"{mean_std([r['acc_step2'] for r in rs]):>16s} "
                  f"{np.mean([np.mean(r['ff_step1']) for r in rs]):10.2e} {c2i:11.4f} "
                  f"{1 - 2 * c2i:10.4f}")
        print("paper (recalled, spec 7): small wd best; large wd -> more flips, higher C2I")
        plot_e3(e3, f"{args.out_prefix}_e3_wd.png")
        print(f"plot: {args.out_prefix}_e3_wd.png")

    base, tracked = tracker_overhead(load_data(0))
    print(f"\ntracker overhead: {1e3 * base:.2f} ms/step without, {1e3 * tracked:.2f} ms/step "
          f"with FlipFlopTracker + C2ITracker: ratio {tracked / base:.3f} (target < 1.05)")
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
