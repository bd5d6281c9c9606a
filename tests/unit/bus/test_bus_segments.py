"""Segment rolling, segment names, frame splitting and seeking across segments."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bdp.bus.local import LocalBus
from bdp.bus.local import producer as producer_module
from bdp.bus.local.frame import NO_TIMESTAMP, parse_header
from bdp.bus.local.segment import (
    INDEX_INTERVAL_BYTES,
    SegmentIndex,
    index_path,
    list_segments,
    log_path,
)

TOPIC = "rolling"


def fill(bus: LocalBus, batches: int, per_batch: int, value_bytes: int) -> list[bytes]:
    sent = []
    with bus.producer() as producer:
        for b in range(batches):
            values = [b"%06d" % (b * per_batch + i) + bytes(value_bytes) for i in range(per_batch)]
            producer.send_batch(TOPIC, values)
            producer.flush()
            sent.extend(values)
    return sent


def test_segments_roll_at_the_size_limit_and_carry_their_base_offset(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096)
    sent = fill(bus, batches=40, per_batch=10, value_bytes=100)
    directory = bus.root / TOPIC / "0"
    bases = list_segments(directory)
    assert len(bases) >= 10
    names = sorted(n for n in os.listdir(directory) if n.endswith(".log"))
    assert names == [f"{base:020d}.log" for base in bases]
    assert bases[0] == 0
    for base, next_base in zip(bases, [*bases[1:], None], strict=True):
        data = log_path(directory, base).read_bytes()
        header = parse_header(data)
        assert header is not None and header.base_offset == base
        assert len(data) <= 4096
        if next_base is not None:
            # Walk the frames: the segment ends exactly where the next one begins.
            at, offset = 0, base
            while at < len(data):
                frame = parse_header(data, at)
                assert frame is not None and frame.base_offset == offset
                at, offset = at + frame.size, frame.next_offset
            assert offset == next_base
    everything = read_all(bus, TOPIC)
    assert everything.offsets.tolist() == list(range(400))
    assert everything.values == sent


def test_a_batch_larger_than_a_segment_gets_a_segment_of_its_own(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096)
    fill(bus, batches=1, per_batch=3, value_bytes=10)
    big = fill(bus, batches=1, per_batch=100, value_bytes=100)
    directory = bus.root / TOPIC / "0"
    assert list_segments(directory) == [0, 3]
    assert log_path(directory, 3).stat().st_size > 4096
    assert read_all(bus, TOPIC).values[3:] == big


def test_a_huge_batch_is_split_into_frames_but_stays_whole(
    make_bus: Callable[..., LocalBus], read_all: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(producer_module, "MAX_FRAME_BYTES", 1000)
    bus = make_bus(partitions=1)
    sent = fill(bus, batches=2, per_batch=120, value_bytes=50)
    data = log_path(bus.root / TOPIC / "0", 0).read_bytes()
    frames, at = 0, 0
    while at < len(data):
        header = parse_header(data, at)
        assert header is not None
        frames += 1
        at += header.size
    assert frames >= 2 * 7
    everything = read_all(bus, TOPIC)
    assert everything.values == sent
    assert everything.offsets.tolist() == list(range(240))


def test_seek_lands_on_any_offset_in_any_segment(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096)
    sent = fill(bus, batches=30, per_batch=7, value_bytes=120)
    rng = np.random.default_rng(11)
    with bus.consumer("seeker", TOPIC) as consumer:
        for offset in [0, 209, *rng.integers(0, 210, 25).tolist()]:
            consumer.seek(0, offset)
            (batch,) = consumer.poll(3)
            assert batch.first_offset == offset
            assert batch.values == sent[offset : offset + 3]
        consumer.seek(0, 210)
        assert consumer.poll(3) == []


def test_a_reader_follows_the_writer_into_new_segments(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096)
    seen: list[bytes] = []
    assert bus.create_topic(TOPIC)
    with bus.consumer("follower", TOPIC) as consumer:
        for round_ in range(12):
            with bus.producer() as producer:
                producer.send_batch(TOPIC, [b"r%d-%d" % (round_, i) + bytes(300) for i in range(9)])
            while batches := consumer.poll(1000):
                seen.extend(v for batch in batches for v in batch.values)
    assert len(list_segments(bus.root / TOPIC / "0")) > 5
    assert seen == [b"r%d-%d" % (r, i) + bytes(300) for r in range(12) for i in range(9)]


def test_the_index_is_written_sparsely_and_answers_lookups(
    make_bus: Callable[..., LocalBus], tmp_path: Path
) -> None:
    bus = make_bus(partitions=1)
    with bus.producer() as producer:
        for b in range(30):
            producer.send_batch(TOPIC, [bytes(100)] * 10, timestamps_ms=np.full(10, 50 * b))
            producer.flush()
    directory = bus.root / TOPIC / "0"
    index = SegmentIndex.load(index_path(directory, 0), 0)
    # One entry per 4 KiB of log (frames here are ~1.2 KiB), the first one always.
    size = log_path(directory, 0).stat().st_size
    assert len(index) == -(-size // INDEX_INTERVAL_BYTES)
    assert index.entry(0) == (0, 0, NO_TIMESTAMP)
    assert index.offsets.tolist() == sorted(index.offsets.tolist())
    position, offset, _ = index.for_offset(155, 0)
    assert offset <= 155 and position > 0
    header = parse_header(log_path(directory, 0).read_bytes(), position)
    assert header is not None and header.base_offset == offset
    position, offset, before = index.for_timestamp(700, 0)
    assert before < 700 and offset > 0


def test_a_torn_or_nonsense_index_keeps_only_its_sound_prefix(tmp_path: Path) -> None:
    good = [[5, 0, NO_TIMESTAMP], [15, 4100, 7], [25, 8300, 9]]
    raw = np.array([*good, [24, 9000, 10], [40, 12000, 11]], "<i8").tobytes()
    (tmp_path / "x.index").write_bytes(raw + b"\x01\x02")
    index = SegmentIndex.load(tmp_path / "x.index", 5)
    assert [index.entry(i) for i in range(len(index))] == [(p, o, t) for o, p, t in good]
    assert len(SegmentIndex.load(tmp_path / "x.index", 6)) == 0
    assert len(index.valid_before(8300)) == 2
    assert len(SegmentIndex.load(tmp_path / "missing.index", 0)) == 0
