"""`simulate`: a dataset's whole session as event blocks, deterministic for a seed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from bdp.datasets import get_dataset
from bdp.simulate import adlogs, gamelogs, hotellogs, lostarklogs, weblogs
from bdp.simulate.adlogs import simulate_adlogs
from bdp.simulate.base import EventBlock, EventTable, SimulationParams
from bdp.simulate.gamelogs import simulate_gamelogs
from bdp.simulate.hotellogs import simulate_hotellogs
from bdp.simulate.lostarklogs import simulate_lostarklogs
from bdp.simulate.options import GameOptions, RaidOptions
from bdp.simulate.weblogs import simulate_weblogs

__all__ = ["SIMULATORS", "reference_users", "simulate", "simulate_table"]

SIMULATORS: dict[str, Callable[[SimulationParams], EventTable]] = {
    "gamelogs": simulate_gamelogs,
    "hotellogs": simulate_hotellogs,
    "lostarklogs": simulate_lostarklogs,
    "adlogs": simulate_adlogs,
    "weblogs": simulate_weblogs,
}


def reference_users(dataset: str) -> int:
    """The reference platform's population of a dataset (what `users=None` simulates)."""
    populations = {
        "gamelogs": gamelogs.REFERENCE_ROOMS * GameOptions().room_size,
        "hotellogs": hotellogs.REFERENCE_USERS,
        "lostarklogs": lostarklogs.REFERENCE_ROOMS * RaidOptions().room_size,
        "adlogs": adlogs.REFERENCE_USERS_PER_AD * len(adlogs.CATALOG),
        "weblogs": weblogs.REFERENCE_CLIENTS,
    }
    return populations[get_dataset(dataset).name]


def simulate_table(dataset: str, params: SimulationParams) -> EventTable:
    """The session's events as columns in event-time order (rendered lazily)."""
    name = get_dataset(dataset).name  # UnknownNameError with a suggestion
    return SIMULATORS[name](params)


def simulate(
    dataset: str, params: SimulationParams, block_size: int = 100_000
) -> Iterator[EventBlock]:
    """Every event of the session in event-time order, `block_size` events per block.

    The session is drawn when this is called (bad settings fail here, not on the first
    `next`); each block's JSON is rendered as it is requested.
    """
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, got {block_size}")
    return simulate_table(dataset, params).blocks(block_size)
