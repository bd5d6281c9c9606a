"""The landing job on Kafka: exactly once under SIGKILL, through a broker restart.

The SIGKILL scenario is the embedded bus's: a producer writes while the stream job is
killed again and again; the lake ends up with every record once. The broker restart
stops the real broker under a running producer and job; both ride it out.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.scenarios.sigkill import (
    assert_exactly_once,
    bdp,
    kill_while_producing,
    lake_rows,
    start_producer,
)

RECORDS = 200_000
KILLS = 20


@pytest.mark.slow
@pytest.mark.service("kafka")
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, kafka_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    env = {**kafka_env, "BDP_STREAM__BATCH_RECORDS": "7000", "BDP_STREAM__POLL_TIMEOUT_MS": "20"}
    # The window is wider than on the embedded bus: opening Kafka consumers takes longer.
    run = kill_while_producing(home, env, RECORDS, KILLS, (1.0, 3.0), pace_s=0.25)
    assert run.landed_between_kills >= KILLS // 3, run.progress
    assert run.caught_mid_batch >= 1, run.progress
    assert_exactly_once(home, RECORDS)


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
    producer = start_producer(home, records, 0.2, env)
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
        "BDP_BUS__KAFKA__BOOTSTRAP_SERVERS": address,
        "BDP_BUS__KAFKA__CONNECT_TIMEOUT_MS": "2000",
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
