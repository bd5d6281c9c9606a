"""A small real day of every built-in dataset, built once, and a copy of it per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from bdp.config import Settings
from tests.scenarios.etl_day import copied_day, simulated_day


@pytest.fixture(scope="session")
def built_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Its data home: read it, never change it (`day` is a copy to change)."""
    home = tmp_path_factory.mktemp("quality-day") / "home"
    simulated_day(home)
    return home


@pytest.fixture
def day(built_day: Path, tmp_path: Path) -> Settings:
    return copied_day(built_day, tmp_path / "home")
