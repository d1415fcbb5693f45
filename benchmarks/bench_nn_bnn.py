"""asv benchmarks of a ReActNet-A training step with and without the FF/C2I trackers.

Target (spec nn_quant_bnn 2.6, 7): the trackers add under 5 % to a training step. The net is
the small one of experiments E2/E3 (``reactnet_a(1/8, stages=5, small_input=True)``, batch 64
of 3x16x16 inputs, Adam), on one CPU thread. Run as a script for the ratio:
``python benchmarks/bench_nn_bnn.py``.
"""

import time

import torch

from normgraph.nn import bnn_param_groups
from normgraph.nn.bnn import C2ITracker, FlipFlopTracker, reactnet_a


class TimeTrainingStep:
    """One forward + backward + Adam step, optionally with both trackers attached."""

    params = ([False, True],)
    param_names = ["tracked"]
    timeout = 120

    def setup(self, tracked):
        torch.set_num_threads(1)
        torch.manual_seed(0)
        self.net = reactnet_a(1 / 8, num_classes=10, small_input=True, stages=5)
        self.opt = torch.optim.Adam(bnn_param_groups(self.net, weight_decay=0.0, lr=1e-3))
        if tracked:
            FlipFlopTracker(self.net).attach(self.opt)
            C2ITracker(self.net).attach(self.opt)
        gen = torch.Generator().manual_seed(0)
        self.x = torch.rand(64, 3, 16, 16, generator=gen)
        self.y = torch.randint(0, 10, (64,), generator=gen)
        self.time_step(tracked)

    def time_step(self, tracked):
        loss = torch.nn.functional.cross_entropy(self.net(self.x), self.y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()


def main(repeat=60):
    """Time both settings round-robin (best of ``repeat``) and print the ratio."""
    benches = {t: TimeTrainingStep() for t in (False, True)}
    for t, b in benches.items():
        b.setup(t)
    times = {False: [], True: []}
    for i in range(repeat):
        for t in ((False, True) if i % 2 == 0 else (True, False)):
            t0 = time.perf_counter()
            benches[t].time_step(t)
            times[t].append(time.perf_counter() - t0)
    med = {t: min(v) for t, v in times.items()}  # best of: least disturbed by other load
    net = benches[False].net
    trackers = (FlipFlopTracker(net), C2ITracker(net))
    upd = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for tr in trackers:
            tr.update()
        upd.append(time.perf_counter() - t0)
    upd = sorted(upd)[len(upd) // 2]
    n_weights = sum(trackers[0].layer_sizes)
    print(f"tracker updates alone ({n_weights} latent weights): {1e3 * upd:.3f} ms, "
          f"{100 * upd / med[False]:.2f} % of a step")
    print(f"training step, 1 thread (best of {repeat}): {1e3 * med[False]:.2f} ms without, "
          f"{1e3 * med[True]:.2f} ms with both trackers: ratio {med[True] / med[False]:.3f} "
          f"(target < 1.05)")


if __name__ == "__main__":
    main()
