"""asv benchmarks of the torch quantizers: N2UQAct forward + backward against LSQAct and ReLU.

Target (spec nn_quant_bnn 7): N2UQAct within 3x the time of LSQAct on a (64, 64, 32, 32)
float32 tensor on one CPU thread; ReLU (one fused elementwise pass) is printed for reference.
Run as a script for a quick timing and the ratios: ``python benchmarks/bench_nn_quant.py``.
"""

import time

import torch

from normgraph.nn.quant import LSQAct, N2UQAct, PACTAct

SHAPE = (64, 64, 32, 32)


def _module(name):
    if name == "n2uq":
        return N2UQAct(n_bits=2)
    if name == "lsq":
        return LSQAct(n_bits=2)
    if name == "pact":
        return PACTAct(n_bits=2, alpha_init=2.0)
    return torch.nn.ReLU()


class TimeActQuantizers:
    """Forward + backward of one activation quantizer on a (64, 64, 32, 32) float32 tensor."""

    params = (["n2uq", "lsq", "pact", "relu"],)
    param_names = ["quantizer"]
    timeout = 120

    def setup(self, quantizer):
        torch.set_num_threads(1)
        gen = torch.Generator().manual_seed(0)
        self.x = (torch.randn(SHAPE, generator=gen) + 0.5).requires_grad_()
        self.g = torch.randn(SHAPE, generator=gen)
        self.module = _module(quantizer)
        self.time_forward_backward(quantizer)  # LSQ initialises its step on the first call

    def time_forward_backward(self, quantizer):
        self.x.grad = None
        self.module(self.x).backward(self.g)


def main(repeat=9):
    """Time every quantizer round-robin (best of ``repeat``), so load spikes hit all alike."""
    names = TimeActQuantizers.params[0]
    benches = {}
    for name in names:
        benches[name] = TimeActQuantizers()
        benches[name].setup(name)
    times = dict.fromkeys(names, float("inf"))
    for _ in range(repeat):
        for name in names:
            t0 = time.perf_counter()
            benches[name].time_forward_backward(name)
            times[name] = min(times[name], time.perf_counter() - t0)
    print(f"forward + backward on {SHAPE} float32, 1 thread (best of {repeat}):")
    for name, t in times.items():
        print(f"  {name:5s} {1e3 * t:8.1f} ms   {t / times['relu']:5.1f}x ReLU")
    print(f"N2UQAct / LSQAct = {times['n2uq'] / times['lsq']:.2f} (target <= 3)")


if __name__ == "__main__":
    main()
