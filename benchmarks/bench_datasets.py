"""asv benchmarks of the data set loaders."""

import os

from normgraph.datasets import load_digits_multiview, load_multiview


class TimeEmbeddedDigits:
    """Computing the four embedded digits views from scikit-learn's images."""

    def time_load_digits_multiview(self):
        load_digits_multiview()


class TimeMultiviewFiles:
    """Reading the real MATLAB files (needs $NORMGRAPH_DATA; skipped by asv otherwise)."""

    params = ["MSRC_v1", "UCI_Digits", "Reuters"]
    param_names = ["dataset"]

    def setup(self, name):
        self.data_home = os.environ.get("NORMGRAPH_DATA")
        if not self.data_home:
            raise NotImplementedError("set NORMGRAPH_DATA to benchmark the file loaders")

    def time_load_multiview(self, name):
        load_multiview(name, data_home=self.data_home)
