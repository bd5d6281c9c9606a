"""Settings are checked when a simulation is asked for (G1: fail fast)."""

from __future__ import annotations

import pytest

from bdp.errors import UnknownNameError
from bdp.simulate import SimulationParams, simulate


@pytest.mark.parametrize(
    "settings",
    [
        {"users": 0},
        {"users": -3},
        {"minutes": 0},
        {"minutes": -1.5},
        {"minutes": float("nan")},
        {"minutes": float("inf")},
        {"seed": -1},
        {"start_spread_seconds": -1},
    ],
)
def test_impossible_settings_raise_value_error(start_ms, settings):
    with pytest.raises(ValueError):
        SimulationParams(start_ms=start_ms, **settings)


def test_unknown_dataset_names_the_closest(start_ms):
    with pytest.raises(UnknownNameError, match="gamelogs"):
        simulate("gamelog", SimulationParams(start_ms=start_ms))


def test_block_size_must_be_positive(start_ms):
    with pytest.raises(ValueError, match="block_size"):
        simulate("weblogs", SimulationParams(start_ms=start_ms), block_size=0)


def test_more_users_than_ip_addresses_fail_before_any_work(start_ms):
    with pytest.raises(ValueError, match="IPs"):
        simulate("hotellogs", SimulationParams(start_ms=start_ms, users=70_000))


def test_a_session_without_events_yields_no_blocks(start_ms):
    # one ad viewer for 0.6 s: this seed neither clicks nor starts a view
    params = SimulationParams(start_ms=start_ms, users=1, minutes=0.01, seed=1)
    assert list(simulate("adlogs", params)) == []
