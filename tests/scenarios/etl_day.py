"""A small real day of every built-in dataset: simulated, landed by the stream job and
transformed and loaded by the ETL, in a data home of its own."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import date, time
from pathlib import Path

import duckdb

from bdp.bus import open_bus
from bdp.clock import day_start_ms
from bdp.config import Settings, load_settings
from bdp.datasets import DATASETS
from bdp.etl import run_etl
from bdp.lake import open_lake
from bdp.simulate import RaidOptions, SimulationParams, reference_users, send_events, simulate
from bdp.stream.embedded import EmbeddedStreamJob

DAY = date(2024, 4, 16)
SCALE = 0.01
"""Of the reference population: a room or two per game, a few dozen users elsewhere."""


def home_settings(home: Path, timezone: str | None = None) -> Settings:
    """The settings of a data home with no configuration file."""
    environ = {"BDP_PLATFORM__TIMEZONE": timezone} if timezone else {}
    return load_settings(home=home, environ=environ, cwd=home)


def landed_day(
    settings: Settings,
    day: date = DAY,
    scale: float = SCALE,
    seed: int = 3,
    datasets: Sequence[str] = tuple(DATASETS),
) -> None:
    """Simulate `day` of `datasets` and land it in the lake of `settings` (no ETL)."""
    # Sessions start at noon, so every event falls on the day.
    start_ms = day_start_ms(day, settings.tz, time(12))
    with open_bus(settings) as bus:
        with bus.producer() as producer:
            for name in datasets:
                params = SimulationParams(
                    start_ms=start_ms,
                    seed=seed,
                    users=max(1, round(reference_users(name) * scale)),
                    raid=RaidOptions(tz=settings.platform.timezone),
                )
                bus.create_topic(name)
                send_events(producer, name, simulate(name, params))
        EmbeddedStreamJob(settings, open_lake(settings), list(datasets), bus=bus).run(
            until_idle=True
        )


def simulated_day(home: Path, day: date = DAY, scale: float = SCALE) -> Settings:
    """Land and load `day` of every built-in dataset under `home`; its settings."""
    settings = home_settings(home)
    landed_day(settings, day, scale)
    for name in DATASETS:
        run_etl(settings, name, day)
    return settings


def copied_day(built: Path, home: Path) -> Settings:
    """A copy of the data home `built` (from `simulated_day`) at `home`, to change freely."""
    shutil.copytree(built, home)
    return home_settings(home)


def change_warehouse(settings: Settings, sql: str, params: Sequence[object] = ()) -> None:
    """Change the warehouse behind bdp's back, as a user with a SQL client could."""
    con = duckdb.connect(str(settings.paths.warehouse))
    try:
        con.execute(sql, list(params))
    finally:
        con.close()
