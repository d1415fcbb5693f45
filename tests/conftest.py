"""Shared test configuration: hypothesis profiles, the data home, a headless matplotlib."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

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
