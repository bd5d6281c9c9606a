"""Shared steps of the HDFS lake tests: the same session landed on HDFS and locally."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from bdp.bus import open_bus
from bdp.config import Settings, load_settings
from bdp.lake import Lake, open_lake
from bdp.lake.rawfiles import decode_lines
from bdp.stream.embedded import EmbeddedStreamJob

DAY = "2024-04-16"
DATASET = "weblogs"
USERS = "300"


def cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run the `bdp` CLI as a user would, with `env` on top of a BDP_-free environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    result = subprocess.run(
        [sys.executable, "-m", "bdp", "--home", str(home), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"bdp {' '.join(args)} failed:\n{result.stderr}"
    return result


def land(home: Path, env: dict[str, str]) -> tuple[Settings, dict, int]:
    """Simulate the session into the embedded bus and land it with the stream job.

    Small batches: many files and many overwrites of the checkpoint.
    """
    env = {**env, "BDP_STREAM__BATCH_RECORDS": "500"}
    generated = orjson.loads(
        cli(home, env, "simulate", DATASET, "--date", DAY, "--users", USERS, "--json").stdout
    )["generated"]
    settings = load_settings(home=home, environ=env)
    with open_bus(settings) as bus:
        stats = EmbeddedStreamJob(settings, open_lake(settings), [DATASET], bus=bus).run(
            until_idle=True
        )
    return settings, stats, generated


def landed_lines(lake: Lake) -> dict[str, list[bytes]]:
    """Raw lines per dt partition, sorted."""
    found: dict[str, list[bytes]] = {}
    for info in lake.list_files(f"raw/{DATASET}"):
        day = info.path.split("/")[2].removeprefix("dt=")
        found.setdefault(day, []).extend(decode_lines(lake.read(info.path), info.path))
    return {day: sorted(lines) for day, lines in found.items()}


Landed = tuple[Settings, dict, int]


@pytest.fixture
def on_hdfs(tmp_path: Path, hdfs_env: dict[str, str]) -> Callable[[], Landed]:
    """Lands as the stack's lake user, an ordinary HDFS user: permissions apply."""
    return lambda: land(tmp_path / "hdfs-home", hdfs_env)


@pytest.fixture
def on_local(tmp_path: Path) -> Callable[[], Landed]:
    return lambda: land(tmp_path / "local-home", {})
