"""Shared fixtures for the planning tests (no database needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def data_dir() -> Path:
    """The shared data directory: $FLOTILLA_DATA_DIR or ../shared/data from the project."""
    return Path(os.environ.get("FLOTILLA_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """Skip (with the reason) when the shared data is absent."""
    path = data_dir()
    if not (path / "nhse-winter-sitreps").is_dir():
        pytest.skip(f"shared data not found at {path}; set FLOTILLA_DATA_DIR to run this test")
    return path
