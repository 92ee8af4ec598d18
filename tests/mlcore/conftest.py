"""Shared fixtures for mlcore tests (no Django, no database)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

try:
    import torch

    # The test networks are tiny: one thread is as fast, and it does not
    # spin-wait against other processes sharing the two cores.
    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a core dependency
    pass


def dataset_root() -> Path:
    return Path(os.environ.get("POSEREVIEW_DATASET", REPO / ".." / "shared" / "datasets" / "barbell-row"))


@pytest.fixture(scope="session")
def dataset() -> Path:
    root = dataset_root()
    if not (root / "annotations").is_dir():
        pytest.skip(f"barbell-row dataset not found at {root}")
    return root


@pytest.fixture(autouse=True)
def media_in_tmp(tmp_path):
    """Overrides the Django suite's autouse fixture of this name: mlcore tests run without Django settings."""
    yield tmp_path / "media"


@pytest.fixture(autouse=True)
def empty_cache():
    """Overrides the Django suite's autouse cache reset: mlcore tests use no Django cache."""
    yield
