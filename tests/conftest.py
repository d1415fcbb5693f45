"""Shared test configuration: hypothesis profiles, the data home, a headless matplotlib."""

import os

# scikit-learn's estimator checks include an array-API check that SciPy only allows when this is
# set before SciPy is first imported (otherwise the check is skipped); our estimators pass it.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Derandomised so CI is reproducible; "dev" explores more when asked for.
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("MPLBACKEND", "Agg")

_REPO = Path(__file__).resolve().parents[1]
# The real data sets live beside the checkout (never inside it); $NORMGRAPH_DATA overrides.
os.environ.setdefault("NORMGRAPH_DATA", str((_REPO.parent / "shared" / "data").resolve()))


@pytest.fixture(scope="session")
def data_home():
    """The folder holding ``multiview/*.mat``; a missing folder is an error, not a skip."""
    home = Path(os.environ["NORMGRAPH_DATA"])
    if not (home / "multiview").is_dir():
        raise FileNotFoundError(
            f"real data not found under {home}; set NORMGRAPH_DATA to the folder that holds "
            "multiview/<name>.mat"
        )
    return home
