"""The landing job on Kafka: exactly once under SIGKILL, through a broker restart.

The SIGKILL scenario is the embedded bus's: a producer writes while the stream job is
killed again and again; the lake ends up with every record once. The broker restart
stops the real broker under a running producer and job; both ride it out.
"""

from __future__ import annotations

import itertools
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
PARTITIONS = 4

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


def bdp(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bdp", "--home", str(home), *args]


def lake_ids(home: Path) -> list[int]:
    """Every landed record's id, checking it sits in its own event date."""
    lake = open_lake(load_settings(home=home, environ={}))
    ids: list[int] = []
    for info in lake.list_files("raw/hotellogs"):
        day = info.path.split("/")[2].removeprefix("dt=")
        for line in decode_lines(lake.read(info.path), info.path):
            record = orjson.loads(line)
            assert record["datetime"].startswith(day)
            ids.append(int(record["id"]))
    return ids


def quarantined(home: Path) -> int:
    lake = open_lake(load_settings(home=home, environ={}))
    return sum(
        len(decode_lines(lake.read(info.path), info.path))
        for info in lake.list_files("quarantine/hotellogs")
    )


def assert_exactly_once(home: Path, records: int) -> None:
    ids = lake_ids(home)
    assert len(ids) == records, (
        f"{len(ids) - len(set(ids))} duplicates, {records - len(set(ids))} lost"
    )
    assert sorted(ids) == list(range(records))
    assert quarantined(home) == records // 1000


@pytest.mark.slow
@pytest.mark.service("kafka")
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, kafka_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    env = {**kafka_env, "BDP_STREAM__BATCH_RECORDS": "7000", "BDP_STREAM__POLL_TIMEOUT_MS": "20"}
    producer = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, str(home), str(RECORDS), "0.2"], env=env
    )
    rng = random.Random(7)
    kills = 0
    checkpoints = CheckpointStore(open_lake(load_settings(home=home, environ={})), "stream")
    progress: list[tuple[int, int]] = []  # (landed offsets, batches caught mid-landing)
    try:
        while kills < KILLS:
            job = subprocess.Popen(bdp(home, "stream", "run"), env=env, stdout=subprocess.DEVNULL)
            # A random moment to kill, not a wait for anything to happen. The window is
            # wider than on the embedded bus: opening five Kafka consumers takes longer.
            time.sleep(rng.uniform(0.8, 2.0))
            job.send_signal(signal.SIGKILL)
            job.wait()
            kills += 1
            states = [checkpoints.load("hotellogs", p) for p in range(PARTITIONS)]
            progress.append(
                (
                    sum(c.next_offset or 0 for c in states),
                    sum(c.pending is not None for c in states),
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
    assert orjson.loads(drained.stdout)
    landed_between_kills = sum(b[0] > a[0] for a, b in itertools.pairwise(progress))
    assert landed_between_kills >= KILLS // 3, progress
    assert sum(pending for _, pending in progress) >= 1, progress
    assert_exactly_once(home, RECORDS)


def lake_rows(home: Path) -> int:
    lake = open_lake(load_settings(home=home, environ={}))
    return sum(
        len(decode_lines(lake.read(info.path), info.path))
        for info in lake.list_files("raw/hotellogs")
    )


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


@pytest.mark.slow
@pytest.mark.service("kafka")
def test_a_broker_restart_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, kafka_env: dict[str, str], kafka_service
) -> None:
    records = 100_000
    home = tmp_path / "home"
    env = {**kafka_env, "BDP_STREAM__BATCH_RECORDS": "5000", "BDP_STREAM__POLL_TIMEOUT_MS": "20"}
    producer = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, str(home), str(records), "0.2"], env=env
    )
    job = subprocess.Popen(bdp(home, "stream", "run"), env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: lake_rows(home) > 0, 60, "the job to land something")
        kafka_service.run("stop")
        assert not kafka_service.is_up()
        landed_while_down = lake_rows(home)
        time.sleep(3)  # both clients are retrying against a closed port now
        kafka_service.run("start")
        assert producer.wait(timeout=300) == 0, "the producer did not ride out the restart"
        # The same job process, never restarted, lands everything written after.
        wait_for(lambda: lake_rows(home) >= records, 180, "the job to land every record")
        assert job.poll() is None, "the stream job died during the broker restart"
        assert lake_rows(home) > landed_while_down
        job.send_signal(signal.SIGTERM)
        assert job.wait(timeout=60) == 0
    finally:
        producer.kill()
        job.kill()
    assert_exactly_once(home, records)


@pytest.mark.service("kafka")
def test_a_job_pointed_at_no_broker_fails_fast_and_says_where(
    tmp_path: Path, kafka_env: dict[str, str], closed_address: str
) -> None:
    address = closed_address
    env = {
        **kafka_env,
        "BDP_BUS__BOOTSTRAP_SERVERS": address,
        "BDP_BUS__CONNECT_TIMEOUT_MS": "2000",
    }
    started = time.monotonic()
    result = subprocess.run(
        bdp(tmp_path / "home", "stream", "run", "--until-idle"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert time.monotonic() - started < 20
    assert address in result.stderr + result.stdout
