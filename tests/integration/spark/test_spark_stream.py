"""The Spark Structured Streaming landing job (`bdp stream run --engine spark`) on Kafka.

A simulated day lands as the embedded job lands it, record for record; and SIGKILLs
of the job while a producer writes lose and duplicate nothing: a micro-batch replayed
from Spark's checkpoint rewrites the same files.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from bdp.bus import open_bus
from bdp.config import load_settings
from bdp.lake import open_lake
from bdp.lake.rawfiles import decode_lines
from bdp.stream.checkpoint import CheckpointStore
from tests.integration.spark.processes import descendants, wait_gone
from tests.scenarios.sigkill import assert_exactly_once, bdp, start_producer

DATASETS = ("hotellogs", "weblogs")
BAD = [
    b"not json at all",
    b'{"id": "1", "truncated',
    b"[1, 2, 3]",
    b'{"id": "x"}',
    b'{"pad": "' + b"z" * 5000 + b'"}',
]
"""Records the validation must quarantine, one of each kind (the last is oversize)."""
SESSION = ("--users", "200", "--minutes", "30", "--start", "23:50", "--seed")
"""A short session that runs past midnight, so it spans two event dates."""


def land(home: Path, env: dict[str, str], *engine: str) -> dict:
    done = subprocess.run(
        bdp(home, "stream", "run", "--until-idle", "--json", *engine),
        env=env,
        capture_output=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return orjson.loads(done.stdout)


def zone_lines(home: Path, zone: str, dataset: str) -> Counter[tuple[str, bytes]]:
    lake = open_lake(load_settings(home=home, environ={}))
    lines: Counter[tuple[str, bytes]] = Counter()
    for info in lake.list_files(f"{zone}/{dataset}"):
        day = info.path.split("/")[2].removeprefix("dt=")
        lines.update((day, line) for line in decode_lines(lake.read(info.path), info.path))
    return lines


@pytest.mark.service("kafka")
def test_a_simulated_day_lands_as_the_embedded_job_lands_it(
    tmp_path: Path, spark_env: dict[str, str]
) -> None:
    env = {**spark_env, "BDP_STREAM__MAX_RECORD_BYTES": "4096"}
    producer_home = tmp_path / "producer"
    sent = 0
    for index, dataset in enumerate(DATASETS):
        done = subprocess.run(
            bdp(producer_home, "simulate", dataset, "--date", "2024-04-16", *SESSION, str(index)),
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    settings = load_settings(home=producer_home, environ=env)
    with open_bus(settings) as bus, bus.producer() as producer:
        for dataset in DATASETS:
            producer.send_batch(dataset, BAD, [None] * len(BAD))
        producer.flush()
        for dataset in DATASETS:
            sent += sum(bus.end_offsets(dataset).values())

    # The embedded job first: it starts from the group's committed offsets, which the
    # Spark job (reading from its own checkpoint) would already have moved to the end.
    embedded = land(tmp_path / "embedded", env)
    spark = land(tmp_path / "spark", env, "--engine", "spark")

    assert sum(s["read"] for s in spark.values()) == sent
    for dataset in DATASETS:
        stats = spark[dataset]
        assert stats["read"] == embedded[dataset]["read"]
        assert stats["landed"] == embedded[dataset]["landed"] == stats["read"] - len(BAD)
        assert stats["quarantined"] == len(BAD)
        assert stats["reasons"] == embedded[dataset]["reasons"]
        assert len(stats["dates"]) >= 2  # the session runs past midnight
        raw = zone_lines(tmp_path / "spark", "raw", dataset)
        assert raw == zone_lines(tmp_path / "embedded", "raw", dataset)
        assert sum(raw.values()) == stats["landed"]
        assert max(raw.values()) == 1  # every record once
        for day, line in raw:
            assert orjson.loads(line)["datetime"][:10] == day  # in its own event date
        quarantined = [
            orjson.loads(line) for _, line in zone_lines(tmp_path / "spark", "quarantine", dataset)
        ]
        assert sorted(q["offset"] for q in quarantined) == sorted(
            q["offset"]
            for q in (
                orjson.loads(line)
                for _, line in zone_lines(tmp_path / "embedded", "quarantine", dataset)
            )
        )
        assert all(q["reason"] and q["topic"] == dataset for q in quarantined)
    # Its batches recorded their files as the embedded job's do: status counts from the
    # records and, decompressing every file, finds them all as recorded.
    lake = open_lake(load_settings(home=tmp_path / "spark", environ={}))
    assert all(lake.list_files(f"_manifests/{dataset}") for dataset in DATASETS)
    status = subprocess.run(
        bdp(tmp_path / "spark", "status", "--verify", "--json"),
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr.decode()[-2000:]
    seen = orjson.loads(status.stdout)
    assert seen["damaged_files"] == []
    for dataset in DATASETS:
        assert sum(seen["lake"][dataset]["raw"].values()) == spark[dataset]["landed"]
        assert sum(seen["lake"][dataset]["quarantine"].values()) == len(BAD)


RECORDS = 90_000
KILLS = 4


def progress_of(checkpoints: CheckpointStore) -> int:
    """Records the Spark job has landed, by its checkpoints."""
    return sum(checkpoints.load("hotellogs", p).next_offset or 0 for p in range(4))


@pytest.mark.slow
@pytest.mark.service("kafka")
def test_sigkill_of_the_spark_job_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, spark_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    env = {
        **spark_env,
        "BDP_STREAM__BATCH_RECORDS": "3000",
        "BDP_STREAM__TRIGGER_INTERVAL_MS": "100",
    }
    # 45 batches of 2,000, 1.5 s apart: the producer writes through most of the kills.
    producer = start_producer(home, RECORDS, 1.5, env)
    checkpoints = CheckpointStore(
        open_lake(load_settings(home=home, environ={})), "spark-stream/partitions"
    )
    rng = random.Random(11)
    landed: list[int] = []
    caught_mid_batch = 0
    try:
        for _ in range(KILLS):
            job = subprocess.Popen(
                bdp(home, "stream", "run", "--engine", "spark"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Spark takes from seconds to most of a minute to start, with the machine's
            # load: kill at a random moment once this run has landed something.
            before = landed[-1] if landed else 0
            deadline = time.monotonic() + 240
            while progress_of(checkpoints) <= before and job.poll() is None:
                assert time.monotonic() < deadline, "the Spark job landed nothing in 240 s"
                time.sleep(0.2)  # polling the checkpoints, not waiting for an outcome
            assert job.poll() is None, "the Spark job ended before it was killed"
            time.sleep(rng.uniform(0.0, 2.0))
            jvm = descendants(job.pid)
            job.send_signal(signal.SIGKILL)
            job.wait()
            wait_gone(jvm)  # the JVM exits when its Python driver is gone
            landed.append(progress_of(checkpoints))
            states = [checkpoints.load("hotellogs", p) for p in range(4)]
            caught_mid_batch += sum(c.pending is not None for c in states)
        assert producer.wait(timeout=300) == 0
    finally:
        producer.kill()
    drained = land(home, env, "--engine", "spark")
    progress = (landed, caught_mid_batch)
    assert sum(b > a for a, b in zip([0, *landed], landed, strict=False)) >= KILLS - 1, progress
    assert drained["hotellogs"]["read"] > 0, progress  # the last run had work left
    assert_exactly_once(home, RECORDS)
    # The Spark job commits its progress to the consumer group: nothing is left as lag.
    status = subprocess.run(
        bdp(home, "status", "--json"), env=env, capture_output=True, timeout=120
    )
    assert status.returncode == 0, status.stderr.decode()[-2000:]
    assert orjson.loads(status.stdout)["topics"]["hotellogs"]["lag"] == 0


@pytest.mark.service("kafka")
@pytest.mark.service("hdfs")
def test_the_spark_job_lands_into_an_hdfs_lake_as_into_a_local_one(
    tmp_path: Path, spark_env: dict[str, str], hdfs_lake_url: str
) -> None:
    dataset = "weblogs"
    producer_home = tmp_path / "producer"
    done = subprocess.run(
        bdp(producer_home, "simulate", dataset, "--date", "2024-04-16", *SESSION, "5"),
        env=spark_env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    local = land(tmp_path / "local", spark_env)
    on_hdfs = {**spark_env, "BDP_LAKE__URL": hdfs_lake_url}
    # Spark's own checkpoint goes to the lake too: on HDFS, through Hadoop's client.
    spark = land(tmp_path / "spark", on_hdfs, "--engine", "spark")
    assert spark[dataset]["landed"] == local[dataset]["landed"] > 0
    assert spark[dataset]["dates"] == local[dataset]["dates"]
    hdfs_lake = open_lake(load_settings(home=tmp_path / "spark", environ=on_hdfs))
    assert hdfs_lake.list_files("_checkpoints/spark-stream/query")
    landed: Counter[tuple[str, bytes]] = Counter()
    for info in hdfs_lake.list_files(f"raw/{dataset}"):
        day = info.path.split("/")[2].removeprefix("dt=")
        landed.update((day, line) for line in decode_lines(hdfs_lake.read(info.path), info.path))
    assert landed == zone_lines(tmp_path / "local", "raw", dataset)
    # `bdp status` reads the HDFS lake: its partitions hold what was landed.
    status = subprocess.run(
        bdp(tmp_path / "spark", "status", "--json"), env=on_hdfs, capture_output=True, timeout=120
    )
    assert status.returncode == 0, status.stderr.decode()[-2000:]
    partitions = orjson.loads(status.stdout)["lake"][dataset]["raw"]
    assert sum(partitions.values()) == spark[dataset]["landed"]
