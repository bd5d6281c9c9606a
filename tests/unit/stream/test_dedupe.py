"""Idempotency ids: a retried record lands once, and re-landing a range changes nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest

from bdp.bus import open_bus
from bdp.collect import Collected, Ingest
from bdp.config import Settings, load_settings
from bdp.datasets import get_dataset
from bdp.lake import open_lake
from bdp.lake.rawfiles import decode_lines
from bdp.stream.checkpoint import Checkpoint, CheckpointStore
from bdp.stream.dedupe import DedupeStore
from bdp.stream.embedded import EmbeddedStreamJob

WEB = (
    '{"ip":"10.0.0.1","datetime":"2024-04-16T09:00:00.000Z","method":"GET","url":"/%d",'
    '"responseCode":200,"responseTime":%d,"sessionID":"s%d"}'
)


def web(i: int) -> bytes:
    return (WEB % (i, i, i % 3)).encode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path, environ={"BDP_BUS__PARTITIONS": "3"})


def test_the_first_copy_of_an_id_is_kept_and_later_copies_are_repeats(tmp_path: Path) -> None:
    store = DedupeStore(tmp_path / "d.sqlite", window_hours=1)
    ids = [b"a", b"b", b"a", None, b"c"]
    assert store.claim("t", 0, ids, [10, 11, 12, 13, 14]) == [(2, 10)]
    # The same range again (a re-landing after a crash): the same answer.
    assert store.claim("t", 0, ids, [10, 11, 12, 13, 14]) == [(2, 10)]
    # A retry later in the partition is a repeat of the first copy.
    assert store.claim("t", 0, [b"b", b"d"], [20, 21]) == [(0, 11)]
    # Ids are per topic and partition.
    assert store.claim("t", 1, [b"a"], [5]) == []
    assert store.claim("u", 0, [b"a"], [5]) == []


def test_ids_are_forgotten_after_the_window(tmp_path: Path) -> None:
    store = DedupeStore(tmp_path / "d.sqlite", window_hours=1)
    store.claim("t", 0, [b"a"], [1], now_ms=0)
    assert store.claim("t", 0, [b"a"], [2], now_ms=3_600_001) == []


def send(settings: Settings, values: list[bytes], ids: list[bytes | None]) -> None:
    with open_bus(settings) as bus, Ingest(settings, bus) as ingest:
        keys = [b"s%d" % (i % 3) for i in range(len(values))]
        ingest.submit(Collected(get_dataset("weblogs"), values, keys, ids)).result(30)


def lake_lines(settings: Settings, zone: str) -> list[bytes]:
    lake = open_lake(settings)
    return [
        line
        for info in lake.list_files(f"{zone}/weblogs")
        for line in decode_lines(lake.read(info.path), info.path)
    ]


def land(settings: Settings) -> None:
    with open_bus(settings) as bus:
        EmbeddedStreamJob(settings, open_lake(settings), ["weblogs"], bus=bus).run(until_idle=True)


def test_a_retried_request_lands_once_and_its_repeats_are_quarantined(
    settings: Settings,
) -> None:
    values = [web(i) for i in range(30)]
    ids: list[bytes | None] = [b"req-1:%d" % i for i in range(30)]
    send(settings, values, ids)
    land(settings)
    send(settings, values, ids)  # the client never saw the answer, and sends again
    send(settings, [web(99)], [None])  # no id: never deduplicated
    send(settings, [web(99)], [None])
    land(settings)
    raw = lake_lines(settings, "raw")
    assert sorted(raw) == sorted([*values, web(99), web(99)])
    quarantined = [orjson.loads(line) for line in lake_lines(settings, "quarantine")]
    assert len(quarantined) == 30
    assert {q["reason"] for q in quarantined} == {"duplicate_id"}


def test_a_crash_before_publishing_keeps_the_first_copies(settings: Settings) -> None:
    values = [web(i) for i in range(12)]
    ids: list[bytes | None] = [b"x%d" % (i % 6) for i in range(12)]  # each id twice
    send(settings, values, ids)
    land(settings)
    first = sorted(lake_lines(settings, "raw"))
    assert len(first) == 6
    # Pretend every partition crashed after recording its ids, before publishing:
    # re-landing the range must keep the same six records.
    with open_bus(settings) as bus:
        ends = bus.end_offsets("weblogs")
    store = CheckpointStore(open_lake(settings), "stream")
    for partition, end in ends.items():
        if end:
            store.save("weblogs", partition, Checkpoint(0, (0, end - 1)))
    land(settings)
    assert sorted(lake_lines(settings, "raw")) == first


def test_a_running_job_keeps_a_trickle_until_the_delay_and_drains_on_stop(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        home=tmp_path,
        environ={"BDP_BUS__PARTITIONS": "1", "BDP_STREAM__BATCH_MAX_DELAY_MS": "3600000"},
    )
    stop = threading.Event()
    with open_bus(settings) as bus:
        bus.create_topic("weblogs")
        job = EmbeddedStreamJob(settings, open_lake(settings), ["weblogs"], bus=bus)
        runner = threading.Thread(target=job.run, kwargs={"stop": stop})
        runner.start()
        try:
            for i in range(5):  # a trickle: five small sends
                send(settings, [web(i)], [None])
            deadline = time.monotonic() + 30
            while len(job._buffers) < 5:
                assert time.monotonic() < deadline, "the job never read the records"
                time.sleep(0.01)
            assert lake_lines(settings, "raw") == []  # kept, not landed one by one
        finally:
            stop.set()
            runner.join(30)
    assert sorted(lake_lines(settings, "raw")) == sorted(web(i) for i in range(5))
    assert len(open_lake(settings).list_files("raw/weblogs")) == 1
