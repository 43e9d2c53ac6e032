"""Shared fixtures: where the Free Spoken Digit Dataset is, and skipping when it is absent."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Shared, noisy machines and numba compilation on first call: no per-example deadline.
settings.register_profile("fixedrnn", deadline=None, print_blob=True)
settings.load_profile("fixedrnn")

REPO = Path(__file__).resolve().parents[1]


def fsdd_path():
    """The FSDD folder: $FIXEDRNN_FSDD, else ../shared/data/fsdd beside the repository."""
    env = os.environ.get("FIXEDRNN_FSDD")
    return Path(env) if env else REPO.parent / "shared" / "data" / "fsdd"


@pytest.fixture(scope="session")
def fsdd_dir():
    path = fsdd_path()
    if not (path / "recordings").is_dir():
        pytest.skip(f"FSDD not found at {path} (set FIXEDRNN_FSDD or place it at ../shared/data/fsdd)")
    return path
