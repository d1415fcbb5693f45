"""asv benchmarks of Polarized Self-Attention: forward + backward against a plain 3x3 conv block.

Shape (8, 64, 56, 56) float32 on one CPU thread (a ResNet stage-1 feature map). The reference
is a 3x3 conv (64 -> 64, no bias) + BatchNorm + ReLU, the block PSA is inserted into; the
quantity of interest is PSA's time as a ratio of it. Run as a script for a quick timing and
the ratios: ``python benchmarks/bench_nn_psa.py``.
"""

import time

import torch
from torch import nn

from normgraph.nn.attention import PolarizedSelfAttention

SHAPE = (8, 64, 56, 56)
BLOCKS = ["conv3x3", "psa_paper_sequential", "psa_paper_parallel",
          "psa_official_sequential", "psa_official_parallel"]


def _module(name):
    if name == "conv3x3":
        c = SHAPE[1]
        return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                             nn.ReLU())
    _, variant, layout = name.split("_")
    return PolarizedSelfAttention(SHAPE[1], layout=layout, variant=variant)


class TimePSA:
    """Forward + backward of one block on a (8, 64, 56, 56) float32 tensor, one thread."""

    params = (BLOCKS,)
    param_names = ["block"]
    timeout = 300

    def setup(self, block):
        torch.set_num_threads(1)
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(SHAPE, generator=gen).requires_grad_()
        self.g = torch.randn(SHAPE, generator=gen)
        self.module = _module(block)

    def time_forward_backward(self, block):
        self.x.grad = None
        self.module.zero_grad(set_to_none=True)
        self.module(self.x).backward(self.g)


def main(repeat=5):
    """Time every block round-robin (best of ``repeat``) and print the ratios to the conv."""
    benches = {}
    for name in BLOCKS:
        bench = TimePSA()
        bench.setup(name)
        bench.time_forward_backward(name)  # warm-up
        benches[name] = bench
    best = {name: float("inf") for name in BLOCKS}
    for _ in range(repeat):
        for name, bench in benches.items():
            start = time.perf_counter()
            bench.time_forward_backward(name)
            best[name] = min(best[name], time.perf_counter() - start)
    for name in BLOCKS:
        print(f"{name:24s} {1e3 * best[name]:8.1f} ms  ratio to conv3x3 "
              f"{best[name] / best['conv3x3']:.2f}")
    return best


if __name__ == "__main__":
    main()
