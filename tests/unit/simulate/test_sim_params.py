"""Settings are checked when a simulation is asked for (G1: fail fast)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bdp.clock import PARTITION_DAYS, day_start_ms
from bdp.errors import UnknownNameError
from bdp.simulate import SimulationParams, simulate, simulate_table


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


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"users": 10**20}, "users must be within"),
        ({"minutes": float("inf")}, "finite"),
        ({"minutes": 10**9}, "at most"),
        ({"start_spread_seconds": float("inf")}, "start_spread_seconds"),
    ],
)
def test_settings_too_large_to_simulate_are_refused(start_ms, settings, message):
    with pytest.raises(ValueError, match=message):
        SimulationParams(start_ms=start_ms, **settings)


@pytest.mark.parametrize("day", [dt.date(1, 1, 1), dt.date(1677, 9, 20), dt.date(2262, 4, 12)])
def test_a_session_the_lake_could_not_date_is_refused(day):
    with pytest.raises(ValueError, match="the times the lake can partition"):
        SimulationParams(start_ms=day_start_ms(day, ZoneInfo("UTC"), dt.time(12)))


def test_the_first_and_last_days_the_lake_can_partition_are_simulated():
    first, last = PARTITION_DAYS
    for day, zone in ((first, "Pacific/Kiritimati"), (last, "Pacific/Pago_Pago")):
        start_ms = day_start_ms(day, ZoneInfo(zone), dt.time(12))
        assert len(simulate_table("weblogs", SimulationParams(start_ms=start_ms, users=2))) > 0
