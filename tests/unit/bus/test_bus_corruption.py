"""Damaged bytes in a segment: reported where they are, never a silent stall, repairable."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bdp.bus.local import LocalBus
from bdp.bus.local.appender import PartitionLock
from bdp.bus.local.frame import FrameHeader, encode_body
from bdp.bus.local.records import Records
from bdp.bus.local.segment import iter_frames, list_segments, log_path
from bdp.config import BusSettings, LocalBusSettings
from bdp.errors import CorruptSegmentError

TOPIC = "events"


def produce(bus: LocalBus, frames: int, start: int = 0, partition: int = 0) -> None:
    """`frames` frames of 10 keyed records each (values `value-<n>`), into `partition`."""
    bus.create_topic(TOPIC)
    key = _key_for(partition, bus.partitions(TOPIC))
    with bus.producer() as producer:
        for f in range(frames):
            first = start + f * 10
            values = [b"value-%d" % i for i in range(first, first + 10)]
            timestamps = np.full(10, 1000 + f)
            producer.send_batch(TOPIC, values, keys=[key] * 10, timestamps_ms=timestamps)
            producer.flush()


def _key_for(partition: int, partitions: int) -> bytes:
    from bdp.bus.base import partition_for_key

    return next(
        b"k%d" % i for i in range(1000) if partition_for_key(b"k%d" % i, partitions) == partition
    )


def frames_of(log: Path) -> list[tuple[int, FrameHeader]]:
    fd = os.open(log, os.O_RDONLY)
    try:
        return [(at, h) for at, h, _ in iter_frames(fd, 0, os.fstat(fd).st_size, None)]
    finally:
        os.close(fd)


def newest_log(bus: LocalBus, partition: int = 0) -> Path:
    directory = bus.root / TOPIC / str(partition)
    return log_path(directory, list_segments(directory)[-1])


def flip(path: Path, position: int, mask: int = 0x01) -> None:
    with open(path, "r+b") as handle:
        handle.seek(position)
        byte = handle.read(1)[0]
        handle.seek(position)
        handle.write(bytes([byte ^ mask]))


def consume(bus: LocalBus, partitions: list[int] | None = None) -> tuple[list[int], list[bytes]]:
    """Offsets and values of every record the partition(s) deliver before the end (or an
    error, which propagates after the records before it were returned)."""
    offsets: list[int] = []
    values: list[bytes] = []
    with bus.consumer("reader", TOPIC, partitions=partitions) as consumer:
        while batches := consumer.poll(1000):
            for batch in batches:
                offsets.extend(batch.offsets.tolist())
                values.extend(batch.values)
    return offsets, values


def values(first: int, last: int) -> list[bytes]:
    return [b"value-%d" % i for i in range(first, last + 1)]


def test_a_flipped_byte_in_a_frame_body_is_an_error_naming_where(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 3)
    log = newest_log(bus)
    (_, _), (middle, header), _ = frames_of(log)
    flip(log, middle + header.size - 7)

    delivered: list[int] = []
    with bus.consumer("reader", TOPIC) as consumer:
        delivered += consumer.poll(1000)[0].offsets.tolist()
        with pytest.raises(CorruptSegmentError) as raised:
            consumer.poll(1000)
        with pytest.raises(CorruptSegmentError):
            consumer.poll(1000, timeout_ms=10)  # and again: it never turns into "no more"
    assert delivered == list(range(10))
    error = raised.value
    assert (error.topic, error.partition, error.offset) == (TOPIC, 0, 10)
    assert (error.file, error.position) == (str(log), middle)
    assert "checksum" in error.reason
    assert "events" in str(error) and "offset 10" in str(error)
    assert "bdp bus repair events --partition 0" in str(error)
    # The records stuck behind the damage still count: lag shows them.
    assert bus.end_offsets(TOPIC) == {0: 30}
    assert bus.corrupt_partitions("reader", TOPIC) == {}  # nothing committed: reads from 0
    with bus.consumer("stuck", TOPIC) as consumer:
        consumer.commit({0: 10})
    assert bus.corrupt_partitions("stuck", TOPIC)[0].offset == 10


@pytest.mark.parametrize("segment_bytes", [1 << 20, 4096], ids=["one segment", "several"])
def test_a_time_seek_never_lands_silently_past_damage(
    make_bus: Callable[..., LocalBus], segment_bytes: int
) -> None:
    bus = make_bus(partitions=1, segment_bytes=segment_bytes)
    produce(bus, 40)  # frame f holds offsets 10f.. with timestamp 1000 + f
    directory = bus.root / TOPIC / "0"
    log = log_path(directory, list_segments(directory)[0])
    at, _ = frames_of(log)[1]
    flip(log, at + 45)

    with bus.consumer("seeker", TOPIC) as consumer:
        assert consumer.seek_to_timestamp(0, 1000) == 0
        assert consumer.seek_to_timestamp(0, 1030) == 300  # known to lie past the damage
        # The damaged frame may hold the answer: the seek stops there, and reading says why.
        assert consumer.seek_to_timestamp(0, 1001) == 10
        with pytest.raises(CorruptSegmentError):
            consumer.poll(10)


HEADER_FIELDS = {
    "magic": 0,
    "checksum": 4,
    "length": 8,
    "length high byte": 11,
    "flags": 12,
    "base offset": 16,
    "base offset sign": 23,
    "count": 24,
    "count high byte": 27,
    "reserved": 28,
    "max timestamp": 32,
}


@pytest.mark.parametrize("which", ["middle", "last"])
@pytest.mark.parametrize("field", list(HEADER_FIELDS), ids=list(HEADER_FIELDS))
def test_a_flipped_header_byte_is_caught(
    make_bus: Callable[..., LocalBus], field: str, which: str
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 3)
    log = newest_log(bus)
    at, header = frames_of(log)[1 if which == "middle" else 2]
    flip(log, at + HEADER_FIELDS[field], 0x40)

    with pytest.raises(CorruptSegmentError) as raised:
        consume(bus)
    assert raised.value.offset == header.base_offset
    assert raised.value.position == at


def test_other_partitions_keep_flowing_past_a_damaged_one(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=2)
    produce(bus, 2, partition=0)
    produce(bus, 3, partition=1)
    at, _ = frames_of(newest_log(bus, 0))[0]
    flip(newest_log(bus, 0), at + 50)

    by_partition: dict[int, list[int]] = {0: [], 1: []}
    with (
        bus.consumer("reader", TOPIC) as consumer,
        pytest.raises(CorruptSegmentError) as raised,
    ):
        while batches := consumer.poll(7):
            for batch in batches:
                by_partition[batch.partition] += batch.offsets.tolist()
    assert raised.value.partition == 0
    assert by_partition == {0: [], 1: list(range(30))}


def test_appends_go_on_after_damage_without_cutting_what_follows_it(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 3)
    log = newest_log(bus)
    at, header = frames_of(log)[1]
    flip(log, at + header.size - 1)

    produce(make_bus(partitions=1), 1, start=30)  # a new producer catches up over damage
    assert [h.base_offset for _, h in frames_of(log)] == [0]  # frames_of stops at damage
    assert bus.end_offsets(TOPIC) == {0: 40}
    bus.repair(TOPIC)
    offsets, delivered = consume(bus)
    assert offsets == [*range(10), *range(20, 40)]
    assert delivered == values(0, 9) + values(20, 39)


def test_repair_skips_the_damage_keeps_its_bytes_and_consumers_read_on(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 4)
    log = newest_log(bus)
    at, header = frames_of(log)[1]
    original = log.read_bytes()[at : at + header.size]
    flip(log, at + 60)
    size_before = log.stat().st_size

    planned = bus.repair(TOPIC, dry_run=True)
    assert log.stat().st_size == size_before
    assert not (log.parent / "corrupt").exists()
    (repair,) = bus.repair(TOPIC)
    assert planned[0].saved is None and planned[0].skipped == repair.skipped
    assert (repair.partition, repair.offset, repair.skipped) == (0, 10, 10)
    assert (repair.start, repair.end, repair.action) == (at, at + header.size, "skipped")
    damaged = bytearray(original)
    damaged[60] ^= 0x01
    assert Path(repair.saved).read_bytes() == bytes(damaged)
    (entry,) = [
        json.loads(line)
        for line in (log.parent / "corrupt" / "journal.jsonl").read_text().splitlines()
    ]
    assert (entry["offset"], entry["lost"], entry["action"]) == (10, 10, "skipped")
    assert entry["start"] == at and entry["file"] == log.name
    assert log.stat().st_size == size_before  # marked in place: no offset moved

    offsets, delivered = consume(bus)
    assert offsets == [*range(10), *range(20, 40)]
    assert delivered == values(0, 9) + values(20, 39)
    assert bus.skipped_offsets(TOPIC) == {0: 10}
    assert bus.end_offsets(TOPIC) == {0: 40}
    assert bus.repair(TOPIC) == []  # nothing left to do
    with bus.consumer("seeker", TOPIC) as consumer:
        consumer.seek(0, 13)  # inside the gap: reading resumes after it
        assert consumer.poll(5)[0].offsets.tolist() == [20, 21, 22, 23, 24]
        assert consumer.position(0) == 25
        assert consumer.seek_to_timestamp(0, 1001) == 20
    produce(bus, 1, start=40)
    assert consume(bus)[0] == [*range(10), *range(20, 50)]


def test_a_consumer_left_open_reads_on_once_a_repair_is_made(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 3)
    log = newest_log(bus)
    at, _ = frames_of(log)[1]
    flip(log, at + 70)
    with bus.consumer("reader", TOPIC) as consumer:
        assert consumer.poll(100)[0].offsets.tolist() == list(range(10))
        with pytest.raises(CorruptSegmentError):
            consumer.poll(100)
        bus.repair(TOPIC)
        assert consumer.poll(100)[0].offsets.tolist() == list(range(20, 30))


def test_a_torn_tail_is_reported_with_what_it_cut_and_appends_go_on(
    make_bus: Callable[..., LocalBus], caplog: pytest.LogCaptureFixture
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 3)
    log = newest_log(bus)
    at, header = frames_of(log)[2]
    os.truncate(log, at + header.size - 25)  # the last frame loses its end
    torn_bytes = header.size - 25

    with caplog.at_level(logging.WARNING, logger="bdp.bus"):
        assert consume(bus)[0] == list(range(20))
    (warned,) = [r.getMessage() for r in caplog.records if "no readable records" in r.getMessage()]
    assert f"{torn_bytes} bytes where offset 20 would start" in warned
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="bdp.bus"):
        produce(make_bus(partitions=1), 1, start=100)
    (cut,) = [r.getMessage() for r in caplog.records if "cut a torn tail" in r.getMessage()]
    assert f"cut a torn tail of {torn_bytes} bytes at byte {at}" in cut
    assert "offsets 20..29" in cut
    offsets, delivered = consume(bus)
    assert offsets == list(range(30))
    assert delivered == values(0, 19) + values(100, 109)
    (entry,) = [
        json.loads(line)
        for line in (log.parent / "corrupt" / "journal.jsonl").read_text().splitlines()
    ]
    assert (entry["action"], entry["offset"], entry["lost"]) == ("cut torn tail", 20, 10)
    assert (log.parent / entry["saved"]).stat().st_size == torn_bytes


def test_a_damaged_last_frame_is_corruption_and_blocks_appends_until_repaired(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 3)
    log = newest_log(bus)
    at, header = frames_of(log)[2]
    flip(log, at + header.size - 1)  # complete but failing its checksum: not a torn write

    with pytest.raises(CorruptSegmentError) as raised:
        consume(bus)
    assert raised.value.offset == 20
    with pytest.raises(CorruptSegmentError):
        produce(make_bus(partitions=1), 1, start=100)
    assert log.stat().st_size == at + header.size  # nothing cut

    with bus.consumer("landed", TOPIC) as consumer:
        consumer.commit({0: 30})  # a group had read the frame before it was damaged
    (repair,) = bus.repair(TOPIC)
    assert (repair.offset, repair.skipped) == (20, 10)
    produce(make_bus(partitions=1), 1, start=100)
    offsets, delivered = consume(bus)
    assert offsets == [*range(20), *range(30, 40)]
    assert delivered == values(0, 19) + values(100, 109)


def test_damage_in_a_sealed_segment_is_not_skipped_silently(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096)
    produce(bus, 40)
    directory = bus.root / TOPIC / "0"
    bases = list_segments(directory)
    assert len(bases) > 3
    sealed = log_path(directory, bases[1])
    at, header = frames_of(sealed)[-1]
    flip(sealed, at + header.size - 3)

    with pytest.raises(CorruptSegmentError) as raised:
        consume(bus)
    assert (raised.value.offset, raised.value.file) == (header.base_offset, str(sealed))
    bus.repair(TOPIC)
    offsets, _ = consume(bus)
    assert offsets == [o for o in range(400) if not header.base_offset <= o < bases[2]]


def test_a_missing_segment_is_not_skipped_silently(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096)
    produce(bus, 40)
    directory = bus.root / TOPIC / "0"
    bases = list_segments(directory)
    log_path(directory, bases[2]).unlink()

    with pytest.raises(CorruptSegmentError) as raised:
        consume(bus)
    assert raised.value.offset == bases[2]
    (repair,) = bus.repair(TOPIC)
    assert (repair.offset, repair.skipped) == (bases[2], bases[3] - bases[2])
    offsets, _ = consume(bus)
    assert offsets == [o for o in range(400) if not bases[2] <= o < bases[3]]


def test_a_reader_never_waits_for_a_writer_in_the_middle_of_a_frame(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1)
    produce(bus, 1)
    log = newest_log(bus)
    body = encode_body(Records.build([b"late"] * 5, None, np.zeros(5, np.int64)))
    whole = body.header(10) + b"".join(bytes(part) for part in body.parts)
    lock = PartitionLock(log.parent)
    try:
        with bus.consumer("reader", TOPIC) as consumer, lock:  # a writer at work
            assert consumer.poll(100)[0].offsets.tolist() == list(range(10))
            with open(log, "ab") as handle:
                handle.write(whole[:-3])
            assert consumer.poll(100) == []  # not there yet, and no wait for the lock
            with open(log, "ab") as handle:
                handle.write(whole[-3:])
            assert consumer.poll(100)[0].values == [b"late"] * 5
    finally:
        lock.close()


# -- any single flipped byte ------------------------------------------------------------


@pytest.fixture(scope="module", params=[1 << 20, 4096], ids=["one segment", "several"])
def pristine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[int], list[bytes]]:
    """A partition of keyed and unkeyed frames of varied sizes, and what it holds."""
    root = tmp_path_factory.mktemp("pristine")
    local = LocalBusSettings(segment_bytes=request.param)
    bus = LocalBus(root, BusSettings(partitions=1, local=local))
    with bus.producer() as producer:
        for f in range(12):
            count = 1 + 3 * (f % 6)
            values_ = [b"v%d-" % f + bytes(40 + f * 5) + b"%d" % i for i in range(count)]
            keys = [None if i % 3 else b"key%d" % i for i in range(count)] if f % 2 else None
            producer.send_batch(TOPIC, values_, keys=keys, timestamps_ms=np.arange(count) + f)
            producer.flush()
    offsets, delivered = consume(bus)
    bus.close()
    return root, offsets, delivered


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_flipped_byte_is_an_error_or_changes_nothing(
    pristine: tuple[Path, list[int], list[bytes]], data: st.DataObject
) -> None:
    root, offsets, delivered = pristine
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "bus"
        shutil.copytree(root, copy)
        directory = copy / TOPIC / "0"
        log = log_path(directory, data.draw(st.sampled_from(list_segments(directory))))
        position = data.draw(st.integers(0, log.stat().st_size - 1), label="position")
        flip(log, position, data.draw(st.integers(1, 255), label="mask"))
        bus = LocalBus(copy, BusSettings(partitions=1))
        try:
            try:
                got = consume(bus)
            except CorruptSegmentError as error:
                assert error.file == str(log) and error.position <= position
                damaged = True
            else:
                assert got == (offsets, delivered)
                damaged = False
            # An append never makes damage go away by cutting what follows it.
            try:
                with bus.producer() as producer:
                    producer.send(TOPIC, b"after", timestamp_ms=99)
            except CorruptSegmentError:
                assert damaged
                return
            try:
                got = consume(bus)
            except CorruptSegmentError:
                assert damaged
            else:
                assert not damaged
                assert got == ([*offsets, offsets[-1] + 1], [*delivered, b"after"])
        finally:
            bus.close()
