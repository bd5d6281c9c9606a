"""The landing job is exactly once under SIGKILL at random moments, with a live producer."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from bdp.config import load_settings
from bdp.lake import open_lake
from bdp.stream.checkpoint import CheckpointStore
from bdp.stream.files import decode_lines

RECORDS = 200_000
KILLS = 20

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


def _bdp(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bdp", "--home", str(home), *args]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, workers: int
) -> None:
    home = tmp_path / "home"
    # Workers are separate interpreters and take longer to start: kill later, produce slower.
    earliest, latest = (0.5, 1.5) if workers == 1 else (1.2, 2.8)
    pace = 0.12 if workers == 1 else 0.3
    env = {
        **os.environ,
        "BDP_STREAM__BATCH_RECORDS": "7000",
        "BDP_STREAM__POLL_TIMEOUT_MS": "20",
        "BDP_STREAM__WORKERS": str(workers),
    }
    producer = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, str(home), str(RECORDS), str(pace)], env=env
    )
    rng = random.Random(7)
    kills = 0
    checkpoints = CheckpointStore(open_lake(load_settings(home=home, environ={})), "stream")
    progress: list[tuple[int, int]] = []  # (landed offsets, batches caught mid-landing)
    try:
        while kills < KILLS:
            job = subprocess.Popen(_bdp(home, "stream", "run"), env=env, stdout=subprocess.DEVNULL)
            # A random moment to kill, not a wait for anything to happen.
            time.sleep(rng.uniform(earliest, latest))
            job.send_signal(signal.SIGKILL)
            job.wait()
            kills += 1
            states = [checkpoints.load("hotellogs", p) for p in range(4)]
            progress.append(
                (
                    sum(c.next_offset or 0 for c in states),
                    sum(c.pending is not None for c in states),
                )
            )
        assert producer.wait(timeout=300) == 0
        drained = subprocess.run(
            _bdp(home, "stream", "run", "--until-idle", "--json"),
            env=env,
            capture_output=True,
            timeout=300,
            check=True,
        )
    finally:
        producer.kill()
    assert orjson.loads(drained.stdout)  # the final run reports its work as JSON
    # The kills hit a job at work: progress was made between kills, and some kills
    # interrupted a batch between recording its range and finishing it.
    landed_between_kills = sum(b[0] > a[0] for a, b in itertools.pairwise(progress))
    assert landed_between_kills >= KILLS // 3, progress
    assert sum(pending for _, pending in progress) >= 1, progress

    lake = open_lake(load_settings(home=home, environ={}))
    ids: list[int] = []
    for info in lake.list_files("raw/hotellogs"):
        day = info.path.split("/")[2].removeprefix("dt=")
        for line in decode_lines(lake.read(info.path), info.path):
            record = orjson.loads(line)
            assert record["datetime"].startswith(day)  # landed in its own event date
            ids.append(int(record["id"]))
    assert len(ids) == RECORDS, (
        f"{len(ids) - len(set(ids))} duplicates, {RECORDS - len(set(ids))} lost"
    )
    assert sorted(ids) == list(range(RECORDS))
    quarantined = sum(
        len(decode_lines(lake.read(info.path), info.path))
        for info in lake.list_files("quarantine/hotellogs")
    )
    assert quarantined == RECORDS // 1000
