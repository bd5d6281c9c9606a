"""Shared runs of the simulators: each (dataset, settings) is simulated once per session."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pytest

from bdp.datasets import DATASETS
from bdp.simulate import SimulationParams, simulate

START_MS = 1_713_225_600_000  # 2024-04-16T00:00:00Z


@dataclass
class Run:
    dataset: str
    values: list[bytes]
    keys: list[bytes]
    event_ms: np.ndarray
    _decoded: list = field(default_factory=list)

    @property
    def events(self) -> list:
        """Every value decoded with the dataset's own decoder."""
        if not self._decoded:
            self._decoded = DATASETS[self.dataset].decoder().decode_lines(b"\n".join(self.values))
        return self._decoded


@functools.cache
def _run(dataset: str, legacy: bool, seed: int, users: int | None, minutes: float | None) -> Run:
    params = SimulationParams(
        start_ms=START_MS, seed=seed, users=users, minutes=minutes, legacy_wire_format=legacy
    )
    values: list[bytes] = []
    keys: list[bytes] = []
    times: list[np.ndarray] = []
    for block in simulate(dataset, params, block_size=50_000):
        values += block.values
        keys += block.keys
        times.append(block.event_ms)
    return Run(dataset, values, keys, np.concatenate(times))


@pytest.fixture(scope="session")
def start_ms() -> int:
    """When every shared run starts."""
    return START_MS


@pytest.fixture(scope="session")
def run():
    """`run(dataset, legacy=False, seed=0, users=None, minutes=None)`, cached."""

    def get(
        dataset: str,
        legacy: bool = False,
        seed: int = 0,
        users: int | None = None,
        minutes: float | None = None,
    ) -> Run:
        return _run(dataset, legacy, seed, users, minutes)

    return get
