"""Torn and damaged tails: detected on open, never read, cut off before the next append."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bdp.bus.local import LocalBus
from bdp.bus.local.frame import encode_body
from bdp.bus.local.records import Records
from bdp.bus.local.segment import list_segments, log_path

TOPIC = "events"


def produce(bus: LocalBus, batches: int, size: int = 10, start: int = 0) -> None:
    with bus.producer() as producer:
        for b in range(batches):
            first = start + b * size
            producer.send_batch(TOPIC, [b"value-%d" % i for i in range(first, first + size)])
            producer.flush()


def newest_log(bus: LocalBus) -> Path:
    directory = bus.root / TOPIC / "0"
    return log_path(directory, list_segments(directory)[-1])


def frame_for(offset: int, values: list[bytes]) -> bytes:
    body = encode_body(Records.build(values, None, np.zeros(len(values), np.int64)))
    return body.header(offset) + b"".join(bytes(part) for part in body.parts)


def half_written_frame() -> bytes:
    whole = frame_for(30, [b"torn-%d" % i for i in range(10)])
    return whole[: len(whole) // 2]


def frame_with_bad_checksum() -> bytes:
    damaged = bytearray(frame_for(30, [b"torn-%d" % i for i in range(10)]))
    damaged[-3] ^= 0xFF
    return bytes(damaged)


TAILS: dict[str, Callable[[], bytes]] = {
    "partial header": lambda: frame_for(30, [b"x"])[:17],
    "half a frame": half_written_frame,
    "bad checksum": frame_with_bad_checksum,
    "zero fill": lambda: bytes(4096),
    "random garbage": lambda: np.random.default_rng(3).bytes(777),
    "frame with a wrong offset": lambda: frame_for(99, [b"stray"]),
}


@pytest.mark.parametrize("tail", list(TAILS), ids=list(TAILS))
def test_a_damaged_tail_is_ignored_then_cut_before_the_next_append(
    make_bus: Callable[..., LocalBus], read_all: Callable, tail: str
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 3)
    log = newest_log(bus)
    intact = log.stat().st_size
    with open(log, "ab") as handle:
        handle.write(TAILS[tail]())

    reopened = make_bus(partitions=1)
    assert reopened.end_offsets(TOPIC) == {0: 30}
    before = read_all(reopened, TOPIC)
    assert before.offsets.tolist() == list(range(30))
    assert before.values == [b"value-%d" % i for i in range(30)]

    produce(reopened, 1, start=30)
    assert reopened.end_offsets(TOPIC) == {0: 40}
    after = read_all(reopened, TOPIC)
    assert after.offsets.tolist() == list(range(40))
    assert after.values == [b"value-%d" % i for i in range(40)]
    appended = frame_for(30, [b"value-%d" % i for i in range(30, 40)])
    assert log.stat().st_size == intact + len(appended)


def test_a_frame_still_being_written_appears_only_once_complete(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 1)
    whole = frame_for(10, [b"late-%d" % i for i in range(5)])
    log = newest_log(bus)
    with bus.consumer("watcher", TOPIC) as consumer:
        assert sum(len(b) for b in consumer.poll(100)) == 10
        with open(log, "ab") as handle:
            handle.write(whole[:-1])
            handle.flush()
            assert consumer.poll(100) == []
            assert bus.end_offsets(TOPIC) == {0: 10}
            handle.write(whole[-1:])
        (batch,) = consumer.poll(100)
    assert batch.offsets.tolist() == [10, 11, 12, 13, 14]
    assert batch.values == [b"late-%d" % i for i in range(5)]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "stale", "missing"])
def test_a_damaged_index_never_changes_answers(
    make_bus: Callable[..., LocalBus], read_all: Callable, damage: str
) -> None:
    bus = make_bus(partitions=1)
    with bus.producer() as producer:
        for b in range(40):
            producer.send_batch(
                TOPIC,
                [b"v%d" % (b * 50 + i) + bytes(100) for i in range(50)],
                timestamps_ms=np.full(50, 1000 * b),
            )
            producer.flush()
    index = newest_log(bus).with_suffix(".index")
    raw = index.read_bytes()
    assert len(raw) > 48
    if damage == "garbage":
        index.write_bytes(np.random.default_rng(1).bytes(len(raw)))
    elif damage == "truncated":
        index.write_bytes(raw[: len(raw) // 2 + 5])
    elif damage == "stale":
        # Entries whose positions no longer hold the frames they name.
        entries = np.frombuffer(raw, "<i8").reshape(-1, 3).copy()
        entries[1:, 1] += 13
        index.write_bytes(entries.tobytes())
    else:
        index.unlink()
    reopened = make_bus(partitions=1)
    assert reopened.end_offsets(TOPIC) == {0: 2000}
    with reopened.consumer("seeker", TOPIC) as consumer:
        consumer.seek(0, 1234)
        assert consumer.poll(1)[0].values == [b"v1234" + bytes(100)]
        assert consumer.seek_to_timestamp(0, 25_500) == 26 * 50
    produce(reopened, 1, start=2000)
    assert read_all(reopened, TOPIC).offsets.tolist() == list(range(2010))


def test_reopening_keeps_offsets_dense_across_many_producers(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    for round_ in range(5):
        produce(make_bus(partitions=1, segment_bytes=4096), 4, start=round_ * 40)
    everything = read_all(make_bus(partitions=1), TOPIC)
    assert everything.offsets.tolist() == list(range(200))
    assert everything.values == [b"value-%d" % i for i in range(200)]
    directory = make_bus().root / TOPIC / "0"
    assert len(list_segments(directory)) > 1
    assert not [n for n in os.listdir(directory) if n.endswith(".tmp")]


def test_a_log_cut_inside_an_indexed_frame_recovers(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    """The index may outlive the log it describes (it is written after, synced never)."""
    bus = make_bus(partitions=1)
    with bus.producer() as producer:
        for b in range(4):
            producer.send_batch(TOPIC, [b"%d-%d" % (b, i) + bytes(600) for i in range(10)])
            producer.flush()
    log = newest_log(bus)
    index = log.with_suffix(".index")
    entries = np.frombuffer(index.read_bytes(), "<i8").reshape(-1, 3)
    assert entries[:, 0].tolist() == [0, 10, 20, 30]
    os.truncate(log, int(entries[3, 1]) + 100)

    reopened = make_bus(partitions=1)
    assert reopened.end_offsets(TOPIC) == {0: 30}
    with reopened.producer() as producer:
        producer.send_batch(TOPIC, [b"new-%d" % i for i in range(5)])
    # The entry of the lost frame is gone; the ones before it are kept.
    entries = np.frombuffer(index.read_bytes(), "<i8").reshape(-1, 3)
    assert entries[:, 0].tolist() == [0, 10, 20]
    with reopened.consumer("seeker", TOPIC) as consumer:
        consumer.seek(0, 31)
        assert consumer.poll(10)[0].values == [b"new-%d" % i for i in range(1, 5)]
    assert read_all(reopened, TOPIC).offsets.tolist() == list(range(35))
