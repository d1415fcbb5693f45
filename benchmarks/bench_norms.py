"""asv benchmarks of the exact l1 / l-inf conv norms (the speed-test layers of spec section 7).

Peers timed beside them: the bare closed forms (sums of |K|), one torch power iteration
(conv2d + conv_transpose2d; multiply by 500 for the usual budget) and Sedghi et al.'s FFT+SVD
on a slice of 32 frequency blocks (of 544 for the 32x32 rfft grid; scale by 17).
"""

import numpy as np

from normgraph.norms import conv_norm

CONFIGS = ["3-32-32", "3-32-128", "3-128-256", "3-256-512", "5-256-128", "5-512-256"]
N = 32


def _weight(config):
    k, c_in, c_out = (int(v) for v in config.split("-"))
    rng = np.random.default_rng(0)
    return rng.standard_normal((c_out, c_in, k, k)) / np.sqrt(c_in * k * k), k


class TimeExactConvNorm:
    """conv_norm(p=1) and conv_norm(p=inf) on 32x32 inputs, stride 1, padding k//2."""

    params = (CONFIGS, ["float64", "float32"])
    param_names = ["k-cin-cout", "dtype"]

    def setup(self, config, dtype):
        K, self.k = _weight(config)
        self.K = K.astype(dtype)
        conv_norm(self.K, 1, (N, N), padding=self.k // 2)  # compile / warm the plan cache

    def time_l1(self, config, dtype):
        conv_norm(self.K, 1, (N, N), padding=self.k // 2)

    def time_linf(self, config, dtype):
        conv_norm(self.K, np.inf, (N, N), padding=self.k // 2)

    def time_closed_form_peer(self, config, dtype):
        A = np.abs(self.K)
        A.sum(axis=(0, 2, 3)).max(), A.sum(axis=(1, 2, 3)).max()


class TimeExactConvNormSettings:
    """The general pattern path: strides, dilation, non-zero padding modes, depthwise, 3-D."""

    params = ["stride2-reflect", "dilated-replicate", "depthwise-circular-small", "conv3d",
              "transposed"]
    param_names = ["setting"]

    def setup(self, setting):
        rng = np.random.default_rng(1)
        cases = {
            "stride2-reflect": (rng.standard_normal((128, 64, 3, 3)),
                                dict(input_shape=(56, 56), stride=2, padding=1,
                                     padding_mode="reflect")),
            "dilated-replicate": (rng.standard_normal((64, 64, 3, 3)),
                                  dict(input_shape=(64, 64), dilation=2, padding=2,
                                       padding_mode="replicate")),
            "depthwise-circular-small": (rng.standard_normal((256, 1, 5, 5)),
                                         dict(input_shape=(3, 3), padding=2, groups=256,
                                              padding_mode="circular")),
            "conv3d": (rng.standard_normal((64, 32, 3, 3, 3)),
                       dict(input_shape=(16, 32, 32), stride=(1, 2, 2), padding=1)),
            "transposed": (rng.standard_normal((128, 64, 4, 4)),
                           dict(input_shape=(16, 16), stride=2, padding=1, transposed=True)),
        }
        self.K, self.kw = cases[setting]
        conv_norm(self.K, 1, **self.kw)
        conv_norm(self.K, np.inf, **self.kw)

    def time_l1(self, setting):
        conv_norm(self.K, 1, **self.kw)

    def time_linf(self, setting):
        conv_norm(self.K, np.inf, **self.kw)


class TimePeers:
    """Torch peers on the same layers (one power iteration; FFT+SVD on 32 frequency blocks)."""

    params = CONFIGS
    param_names = ["k-cin-cout"]
    timeout = 300

    def setup(self, config):
        import torch

        K, k = _weight(config)
        torch.set_num_threads(1)  # ours is single-threaded; more threads thrash when shared
        self.torch = torch
        self.Kt = torch.from_numpy(K).float()
        self.pad = k // 2
        self.v = torch.randn(1, K.shape[1], N, N)
        padded = torch.zeros(K.shape[0], K.shape[1], N, N)
        padded[:, :, :k, :k] = self.Kt
        self.padded = padded

    def time_power_iteration_step(self, config):
        F = self.torch.nn.functional
        with self.torch.no_grad():
            u = F.conv2d(self.v, self.Kt, padding=self.pad)
            F.conv_transpose2d(u, self.Kt, padding=self.pad)

    def time_fft_svd_32_blocks(self, config):
        blocks = self.torch.fft.rfft2(self.padded).permute(2, 3, 0, 1).reshape(
            -1, *self.padded.shape[:2])
        self.torch.linalg.svdvals(blocks[:32])


class TimeResNet50Profile:
    """l1 + l-inf of every conv/linear/BN layer of ResNet-50 (random weights) at 224x224."""

    timeout = 300

    def setup(self):
        import torch
        import torchvision

        model = torchvision.models.resnet50(weights=None)
        shapes = {}
        hooks = [m.register_forward_hook(
            lambda mod, inp, out, name=name: shapes.__setitem__(name, tuple(inp[0].shape[1:])))
            for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, 224, 224))
        for h in hooks:
            h.remove()
        self.layers = [(m.weight.detach(), shapes[name], m.stride, m.padding)
                       for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
        self.time_conv_profile()

    def time_conv_profile(self):
        for w, shape, stride, padding in self.layers:
            conv_norm(w, 1, shape, stride, padding)
            conv_norm(w, np.inf, shape, stride, padding)
