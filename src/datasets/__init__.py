"""Data set loaders.

- :func:`load_multiview`: the six multi-view benchmark files (3Sources, BBCSport, CiteSeer,
  MSRC_v1, Reuters, UCI_Digits) read from ``<data_home>/multiview/<name>.mat``.
- :func:`load_digits_multiview`: the embedded default, scikit-learn's bundled handwritten
  digits turned into four genuinely different feature views computed here.
- :func:`load_multiview_mat`: any MATLAB file laid out the same way (``fea`` cells, ``gt``).
- :func:`list_multiview`: which benchmark files are found under a data home.

A file that cannot be read or is laid out wrongly is a ``ValueError`` naming the file and the
problem (never a SciPy internal error). The private module ``_files`` holds the safe readers
and output-path checks that the loaders and every ``normgraph`` subcommand share.
"""

from ._digits import load_digits_multiview
from ._multiview import MULTIVIEW_DATASETS, list_multiview, load_multiview, load_multiview_mat

__all__ = ["load_multiview", "load_multiview_mat", "load_digits_multiview", "list_multiview", "MULTIVIEW_DATASETS"]
