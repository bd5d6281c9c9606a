"""Each partition's watermark: the latest event time landed from it, kept in its checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest

from bdp.bus import RecordBatch
from bdp.config import Settings, load_settings
from bdp.datasets import get_dataset
from bdp.lake.local import LocalLake
from bdp.stream.checkpoint import Checkpoint, CheckpointStore
from bdp.stream.landing import Lander

WEB = (
    '{"ip":"192.168.0.1","datetime":"%s","method":"GET","url":"/","responseCode":200,'
    '"responseTime":%d,"sessionID":"s%d"}'
)
SENT_MS = 1_800_000_000_000
"""A bus timestamp later than every event time below: it caps none of them."""


def web(i: int, ts: str) -> bytes:
    return (WEB % (ts, i, i % 3)).encode()


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def batch(first: int, values: list[bytes], sent_ms: list[int] | None = None) -> RecordBatch:
    return RecordBatch(
        topic="weblogs",
        partition=0,
        offsets=np.arange(first, first + len(values), dtype=np.int64),
        timestamps_ms=np.array(sent_ms or [SENT_MS] * len(values), dtype=np.int64),
        values=values,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path, environ={"BDP_PLATFORM__TIMEZONE": "Asia/Seoul"})


@pytest.fixture
def lake(settings: Settings) -> LocalLake:
    return LocalLake(settings.paths.lake)


def land(settings: Settings, lake: LocalLake, *batches: RecordBatch) -> Checkpoint:
    """Land `batches` with a lander of their own (a job started afresh), and the
    partition's checkpoint as it reads back from the lake."""
    lander = Lander(settings, lake, "stream")
    for each in batches:
        lander.land(get_dataset("weblogs"), each)
    lander.close()
    return CheckpointStore(lake, "stream").load("weblogs", 0)


def test_the_watermark_is_the_latest_event_time_landed_and_never_goes_back(
    settings: Settings, lake: LocalLake
) -> None:
    first = batch(0, [web(0, "2024-04-16T10:00:00Z"), web(1, "2024-04-16T12:30:00.250Z")])
    older = batch(2, [web(2, "2024-04-15T08:00:00Z")])
    checkpoint = land(settings, lake, first, older)
    assert checkpoint.next_offset == 3 and checkpoint.pending is None
    assert checkpoint.watermark_ms == ms("2024-04-16T12:30:00.250+00:00")


def test_the_watermark_survives_a_restart(settings: Settings, lake: LocalLake) -> None:
    land(settings, lake, batch(0, [web(0, "2024-04-16T23:00:00Z")]))
    # A new job: what it lands now is older, and the watermark it read back stays.
    checkpoint = land(settings, lake, batch(1, [web(1, "2024-04-16T01:00:00Z")]))
    assert checkpoint.next_offset == 2
    assert checkpoint.watermark_ms == ms("2024-04-16T23:00:00+00:00")


class FailingRawLake(LocalLake):
    """Publishing a raw file fails: a crash in the middle of landing a batch."""

    def publish(self, path: str, data: bytes) -> None:
        if path.startswith("raw/"):
            raise RuntimeError("disk on fire")
        super().publish(path, data)


def test_a_batch_left_pending_keeps_the_watermark_landed_before(
    settings: Settings, lake: LocalLake
) -> None:
    land(settings, lake, batch(0, [web(0, "2024-04-16T23:00:00Z")]))
    failing = FailingRawLake(settings.paths.lake)
    with pytest.raises(RuntimeError):
        land(settings, failing, batch(1, [web(1, "2024-04-17T05:00:00Z")]))
    pending = CheckpointStore(lake, "stream").load("weblogs", 0)
    assert pending == Checkpoint(1, (1, 1), ms("2024-04-16T23:00:00+00:00"))
    # Re-landing the range (as recovery does) moves it on.
    assert land(settings, lake, batch(1, [web(1, "2024-04-17T05:00:00Z")])).watermark_ms == ms(
        "2024-04-17T05:00:00+00:00"
    )


def test_a_checkpoint_written_before_watermarks_reads_and_gains_one(
    settings: Settings, lake: LocalLake
) -> None:
    path = "_checkpoints/stream/weblogs/partition-00000.json"
    lake.publish(path, orjson.dumps({"next_offset": 5, "pending": None}))
    store = CheckpointStore(lake, "stream")
    assert store.load("weblogs", 0) == Checkpoint(5, None, None)
    checkpoint = land(settings, lake, batch(5, [web(5, "2024-04-16T02:00:00Z")]))
    assert checkpoint == Checkpoint(6, None, ms("2024-04-16T02:00:00+00:00"))


def test_only_valid_records_move_the_watermark(settings: Settings, lake: LocalLake) -> None:
    bad_then_good = [
        b'{"ip": "nope", "datetime": "2030-01-01T00:00:00Z"}',
        web(1, "2024-04-16T02:00:00Z"),
    ]
    assert land(settings, lake, batch(0, bad_then_good)).watermark_ms == ms(
        "2024-04-16T02:00:00+00:00"
    )
    # A batch with nothing valid lands (into quarantine) and leaves the watermark as is.
    checkpoint = land(settings, lake, batch(2, [b"{broken"]))
    assert checkpoint.next_offset == 3
    assert checkpoint.watermark_ms == ms("2024-04-16T02:00:00+00:00")


def test_an_event_dated_after_it_was_sent_counts_as_sent(
    settings: Settings, lake: LocalLake
) -> None:
    sent = ms("2024-04-16T10:00:00+00:00")
    # A clock a year ahead must not make the partition look a year further on.
    values = [web(0, "2025-04-16T10:00:00Z"), web(1, "2024-04-16T09:59:00Z")]
    assert land(settings, lake, batch(0, values, [sent, sent])).watermark_ms == sent
    # A producer that gave no timestamp (0 or less) caps nothing.
    unknown = batch(2, [web(2, "2024-04-17T00:00:00Z")], [0])
    assert land(settings, lake, unknown).watermark_ms == ms("2024-04-17T00:00:00+00:00")


def test_zone_less_event_times_are_platform_local(settings: Settings, lake: LocalLake) -> None:
    # 23:30 in Seoul (UTC+9) is 14:30 UTC.
    checkpoint = land(settings, lake, batch(0, [web(0, "2024-04-16T23:30:00.000")]))
    assert checkpoint.watermark_ms == int(
        datetime(2024, 4, 16, 14, 30, tzinfo=UTC).timestamp() * 1000
    )
