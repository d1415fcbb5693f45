"""Private helpers shared by every subpackage: validation, progress bars, plotting.

Each helper lives here once; subpackages import it rather than re-implementing it.

- :mod:`normgraph._utils.validation`: the one validation vocabulary (:func:`check_views`,
  :func:`check_int`, :func:`check_real`, :func:`check_bool`, :func:`check_choice`,
  :func:`check_numeric_dtype`, :func:`check_array_param`, :func:`check_allocation`): a wrong
  type is a ``TypeError``, a bad value a ``ValueError``, each naming the parameter.
- :mod:`normgraph._utils.numeric`: magnitude-safe helpers (:func:`power_of_two_scale`,
  :func:`scaled_norm`) so data at 1e-300..1e300 give the scaled answer.
- :mod:`normgraph._utils.progress`: :func:`progress`, a tqdm wrapper honouring ``verbose``.
- :mod:`normgraph._utils.plotting`: :func:`get_axes`, lazy matplotlib access for plot helpers.
"""
