"""Private helpers shared by every subpackage: validation, progress bars, plotting.

Each helper lives here once; subpackages import it rather than re-implementing it.

- :mod:`normgraph._utils.validation`: :func:`check_views` and scalar-parameter checks.
- :mod:`normgraph._utils.progress`: :func:`progress`, a tqdm wrapper honouring ``verbose``.
- :mod:`normgraph._utils.plotting`: :func:`get_axes`, lazy matplotlib access for plot helpers.
"""
