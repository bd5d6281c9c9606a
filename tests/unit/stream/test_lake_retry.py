"""The stream job rides out a lake that fails transiently, and stops on one that won't work.

The lake is a `FlakyLake`: a local lake failing on purpose, before an operation or after
it took effect. Retries wait through an injected sleep that only records the delays.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from bdp.bus import open_bus
from bdp.config import Settings, load_settings
from bdp.errors import BdpError, TransientError
from bdp.lake import Lake, open_lake
from bdp.lake.rawfiles import decode_lines
from bdp.retry import Backoff, RetriesExhausted
from bdp.stream.checkpoint import CheckpointStore
from bdp.stream.embedded import EmbeddedStreamJob
from bdp.stream.landing import lake_retry
from tests.scenarios.flaky_lake import FlakyLake

RECORDS = 1200
WEB = (
    '{"ip":"10.0.0.%d","datetime":"2024-04-%02dT10:00:00Z","method":"GET","url":"/",'
    '"responseCode":200,"responseTime":%d,"sessionID":"s"}'
)


class Refused(BdpError):
    """A final failure: trying again cannot help."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        home=tmp_path,
        environ={"BDP_BUS__PARTITIONS": "3", "BDP_STREAM__BATCH_RECORDS": "50"},
    )


def produce(settings: Settings, first: int, count: int) -> list[bytes]:
    """Records over three days, with one malformed record in a hundred."""
    ids = range(first, first + count)
    values = [
        (WEB % (i % 250, 15 + i % 3, i)).encode() if i % 100 else b"{broken %d" % i for i in ids
    ]
    with open_bus(settings) as bus, bus.producer() as producer:
        bus.create_topic("weblogs")
        producer.send_batch("weblogs", values, [b"k%d" % (i % 7) for i in ids])
    return values


@pytest.fixture
def sent(settings: Settings) -> list[bytes]:
    return produce(settings, 0, RECORDS)


def land(settings: Settings, lake: Lake, sleeps: list[float], attempts: int = 30) -> dict:
    retry = dataclasses.replace(
        lake_retry(settings),
        backoff=Backoff(attempts=attempts, base_delay_seconds=0.5, max_delay_seconds=4),
        sleep=sleeps.append,
    )
    job = EmbeddedStreamJob(settings, lake, ["weblogs"], retry=retry)
    return job.run(until_idle=True)


def lines_in(settings: Settings, zone: str) -> list[bytes]:
    lake = open_lake(settings)
    return [
        line
        for info in lake.list_files(f"{zone}/weblogs")
        for line in decode_lines(lake.read(info.path), info.path)
    ]


def assert_landed_exactly_once(settings: Settings, sent: list[bytes]) -> None:
    good = [value for value in sent if not value.startswith(b"{broken")]
    assert sorted(lines_in(settings, "raw")) == sorted(good)
    assert len(lines_in(settings, "quarantine")) == len(sent) - len(good)
    store = CheckpointStore(open_lake(settings), "stream")
    with open_bus(settings) as bus:
        ends = bus.end_offsets("weblogs")
    loaded = {p: store.load("weblogs", p) for p in ends}
    assert {p: (c.next_offset, c.pending) for p, c in loaded.items()} == {
        p: (end, None) for p, end in ends.items()
    }


def test_transient_lake_failures_are_retried_and_everything_lands_once(
    settings: Settings, sent: list[bytes]
) -> None:
    sleeps: list[float] = []
    first = FlakyLake(open_lake(settings), probability=0.3, seed=5)
    stats = land(settings, first, sleeps)["weblogs"]
    assert (stats.read, stats.quarantined) == (RECORDS, RECORDS // 100)
    # A second run starts by loading the checkpoints the first one saved: fail those too.
    sent += produce(settings, RECORDS, 300)
    second = FlakyLake(open_lake(settings), fail_first=4, probability=0.3, seed=6)
    assert land(settings, second, sleeps)["weblogs"].read == 300
    # Failures struck every kind of operation, some after the write had happened.
    failures = first.failures + second.failures
    assert set(failures) == {"publish", "read", "exists"}
    assert first.failed_after["publish"] > 0
    # One wait per failure, each within the bounds.
    assert len(sleeps) == sum(failures.values())
    assert all(0.25 <= delay <= 4 for delay in sleeps)
    assert_landed_exactly_once(settings, sent)


def test_a_final_lake_error_is_not_retried(settings: Settings, sent: list[bytes]) -> None:
    lake = FlakyLake(
        open_lake(settings),
        operations=("publish",),
        fail_first=3,
        error=lambda what: Refused(f"refused: {what}"),
    )
    sleeps: list[float] = []
    with pytest.raises(Refused):
        land(settings, lake, sleeps)
    assert sleeps == [] and lake.calls["publish"] == 1
    # Nothing was lost: the next run, on a working lake, lands everything once.
    land(settings, open_lake(settings), sleeps)
    assert_landed_exactly_once(settings, sent)


def test_when_the_retries_run_out_the_job_stops_with_one_clear_error(
    settings: Settings, sent: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    # The lake answers reads, then fails every write, and after the range was recorded
    # pending (the first write) keeps failing.
    lake = FlakyLake(open_lake(settings), operations=("publish",), fail_first=10**6)
    sleeps: list[float] = []
    with (
        caplog.at_level(logging.WARNING, logger="bdp.stream"),
        pytest.raises(RetriesExhausted) as caught,
    ):
        land(settings, lake, sleeps, attempts=5)
    error = caught.value
    assert isinstance(error.last, TransientError) and not isinstance(error, TransientError)
    message = str(error)
    assert "\n" not in message
    assert message.startswith("publish _checkpoints/stream/weblogs/partition-")
    assert "gave up after 5 attempts" in message
    assert "injected failure" in message
    # Four waits, doubling from half a second up to the cap, each shortened by jitter.
    assert len(sleeps) == 4
    ceilings = [0.5, 1.0, 2.0, 4.0]
    assert all(c / 2 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retry ")]
    assert len(retries) == 4 and "attempt=5/5" in retries[-1]
    # The job released its partitions: a run on a working lake lands everything once.
    land(settings, open_lake(settings), sleeps)
    assert_landed_exactly_once(settings, sent)
