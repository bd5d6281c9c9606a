"""The exactly-once story: a producer writes while the stream job is killed again and again.

Run against any bus (the environment chooses it); afterwards every record must be in
the lake once, in its own event date, and every malformed one in quarantine.
"""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bdp.config import load_settings
from bdp.lake import open_lake
from bdp.lake.rawfiles import decode_lines
from bdp.stream.checkpoint import CheckpointStore

__all__ = [
    "PRODUCER",
    "KillRun",
    "assert_exactly_once",
    "bdp",
    "kill_while_producing",
    "lake_rows",
    "start_producer",
]

PRODUCER = """
import sys
import time
from bdp.bus import open_bus
from bdp.config import load_settings

settings = load_settings(home=sys.argv[1])
days = ["2024-04-15", "2024-04-16", "2024-04-17"]
template = ('{"id":"%d","ip":"192.168.0.1","datetime":"%sT10:00:00.000Z","account":"a%d",'
            '"method":"/","status":0,"gender":"male","age":"20-29"}')
with open_bus(settings) as bus, bus.producer() as producer:
    bus.create_topic("hotellogs")
    # Paced so that the producer is still writing while the stream job is being killed.
    for start in range(0, int(sys.argv[2]), 2000):
        time.sleep(float(sys.argv[3]))
        ids = range(start, start + 2000)
        values = [(template % (i, days[i % 3], i % 50)).encode() for i in ids]
        values += [b"not json %d" % i for i in ids if i % 1000 == 0]
        keys = [b"a%d" % (i % 50) for i in ids]
        producer.send_batch("hotellogs", values, keys + [None] * (len(values) - len(keys)))
        producer.flush()
"""
"""Writes `argv[2]` hotel events with ids 0.. over three days, plus one malformed record
per thousand, pausing `argv[3]` seconds between batches of 2,000."""


def bdp(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bdp", "--home", str(home), *args]


def start_producer(home: Path, records: int, pace_s: float, env: dict[str, str]):
    return subprocess.Popen(
        [sys.executable, "-c", PRODUCER, str(home), str(records), str(pace_s)], env=env
    )


@dataclass
class KillRun:
    progress: list[tuple[int, int]]
    """After each kill: offsets landed so far, batches caught between range and finish."""

    @property
    def landed_between_kills(self) -> int:
        return sum(b[0] > a[0] for a, b in itertools.pairwise(self.progress))

    @property
    def caught_mid_batch(self) -> int:
        return sum(pending for _, pending in self.progress)


def kill_while_producing(
    home: Path,
    env: dict[str, str],
    records: int,
    kills: int,
    window_s: tuple[float, float],
    pace_s: float,
    partitions: int = 4,
) -> KillRun:
    """Kill `bdp stream run` with SIGKILL `kills` times while the producer writes; then
    drain with `--until-idle`.

    Odd kills fall at a random moment (up to the window's width) after the run's first
    landed batch; even kills are aimed at a batch in flight: they strike as soon as a
    partition's checkpoint shows a pending range (or at the window's end if none shows), so
    the crash between recording a range and finishing it is exercised on every run rather
    than by luck.
    """
    producer = start_producer(home, records, pace_s, env)
    rng = random.Random(7)
    checkpoints = CheckpointStore(open_lake(load_settings(home=home, environ={})), "stream")

    def states():
        return [checkpoints.load("hotellogs", p) for p in range(partitions)]

    progress: list[tuple[int, int]] = []
    try:
        for kill in range(kills):
            job = subprocess.Popen(
                bdp(home, "stream", "run"),
                # Buffer briefly, so kills also fall on records read but not yet landed,
                # yet land often, so they fall between batches and inside them too.
                env={**env, "BDP_STREAM__BATCH_MAX_DELAY_MS": "100"},
                stdout=subprocess.DEVNULL,
            )
            if kill % 2:
                # A random moment once this run has landed something: a busy machine can
                # take longer than the window to start the job, and a kill that always
                # falls before the first batch would test nothing but start-up.
                before = progress[-1][0] if progress else 0
                deadline = time.monotonic() + 30 * window_s[1]
                while (
                    time.monotonic() < deadline
                    and job.poll() is None
                    and sum(c.next_offset or 0 for c in states()) <= before
                ):
                    time.sleep(0.005)  # polling the checkpoints, a few times per batch
                time.sleep(rng.uniform(0.0, window_s[1] - window_s[0]))  # a random moment
            else:
                # Give the job a moment to start before watching, then strike mid-batch.
                time.sleep(window_s[0] / 2)
                deadline = time.monotonic() + window_s[1]
                while time.monotonic() < deadline and all(c.pending is None for c in states()):
                    time.sleep(0.002)  # polling the checkpoints, a few times per batch
            job.send_signal(signal.SIGKILL)
            job.wait()
            landed = states()
            progress.append(
                (
                    sum(c.next_offset or 0 for c in landed),
                    sum(c.pending is not None for c in landed),
                )
            )
        assert producer.wait(timeout=300) == 0
        drained = subprocess.run(
            bdp(home, "stream", "run", "--until-idle", "--json"),
            env=env,
            capture_output=True,
            timeout=300,
            check=True,
        )
    finally:
        producer.kill()
    assert orjson.loads(drained.stdout)  # the final run reports its work as JSON
    return KillRun(progress)


def _lines(home: Path, zone: str):
    lake = open_lake(load_settings(home=home, environ={}))
    for info in lake.list_files(f"{zone}/hotellogs"):
        day = info.path.split("/")[2].removeprefix("dt=")
        for line in decode_lines(lake.read(info.path), info.path):
            yield day, line


def lake_rows(home: Path) -> int:
    return sum(1 for _ in _lines(home, "raw"))


def assert_exactly_once(home: Path, records: int) -> None:
    ids: list[int] = []
    for day, line in _lines(home, "raw"):
        record = orjson.loads(line)
        assert record["datetime"].startswith(day)  # landed in its own event date
        ids.append(int(record["id"]))
    assert len(ids) == records, (
        f"{len(ids) - len(set(ids))} duplicates, {records - len(set(ids))} lost"
    )
    assert sorted(ids) == list(range(records))
    assert sum(1 for _ in _lines(home, "quarantine")) == records // 1000
