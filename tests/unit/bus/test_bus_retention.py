"""Retention by age (with an injected clock) and by size: whole closed segments only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bdp.bus.local import LocalBus
from bdp.bus.local.segment import list_segments, log_path

TOPIC = "kept"
HOUR_MS = 3_600_000
T0 = 1_700_000_000_000


def fill_hourly(bus: LocalBus, hours: int, per_hour: int = 20) -> None:
    """One batch per hour of event time, each big enough to fill most of a segment."""
    with bus.producer() as producer:
        for hour in range(hours):
            producer.send_batch(
                TOPIC,
                [b"h%d-%d" % (hour, i) + bytes(150) for i in range(per_hour)],
                timestamps_ms=np.full(per_hour, T0 + hour * HOUR_MS),
            )
            producer.flush()


def segment_sizes(bus: LocalBus) -> dict[int, int]:
    directory = bus.root / TOPIC / "0"
    return {base: log_path(directory, base).stat().st_size for base in list_segments(directory)}


def test_age_retention_drops_closed_segments_older_than_the_limit(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096, retention_hours=10)
    fill_hourly(bus, 24)
    bases = list(segment_sizes(bus))
    assert len(bases) == 24  # each hourly batch outgrows what is left of a segment
    # At 23:00 the cut-off is 13:00: the segments of hours 0..12 go.
    assert bus.apply_retention(now_ms=T0 + 23 * HOUR_MS) == 13 * 20
    assert bus.begin_offsets(TOPIC) == {0: 260}
    assert bus.apply_retention(now_ms=T0 + 23 * HOUR_MS) == 0
    # At 30:00 the cut-off is 20:00; a segment whose newest record is exactly at the
    # cut-off stays.
    assert bus.apply_retention(now_ms=T0 + 30 * HOUR_MS) == 7 * 20
    assert bus.begin_offsets(TOPIC) == {0: 400}
    assert bus.end_offsets(TOPIC) == {0: 480}
    remaining = read_all(bus, TOPIC)
    assert remaining.offsets.tolist() == list(range(400, 480))
    assert remaining.values[0] == b"h20-0" + bytes(150)


def test_age_retention_never_removes_the_active_segment(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096, retention_hours=1)
    fill_hourly(bus, 5)
    assert bus.apply_retention(now_ms=T0 + 1000 * HOUR_MS) == 4 * 20
    assert list(segment_sizes(bus)) == [80]
    assert bus.begin_offsets(TOPIC) == {0: 80}
    assert bus.end_offsets(TOPIC) == {0: 100}
    with bus.producer() as producer:
        producer.send(TOPIC, b"after")
    assert bus.end_offsets(TOPIC) == {0: 101}


def test_retention_is_measured_against_the_newest_record_of_a_segment(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1, segment_bytes=1 << 20, retention_hours=1)
    with bus.producer() as producer:
        # One segment mixing an ancient and a fresh record stays whole.
        producer.send_batch(TOPIC, [b"old", b"new"], timestamps_ms=[T0, T0 + 10 * HOUR_MS])
    local = bus.settings.local.model_copy(update={"segment_bytes": 4096})
    bus.settings = bus.settings.model_copy(update={"local": local})
    with bus.producer() as producer:
        producer.send_batch(TOPIC, [bytes(5000)], timestamps_ms=[T0 + 10 * HOUR_MS])
    assert bus.apply_retention(now_ms=T0 + 10 * HOUR_MS + 1) == 0
    assert bus.apply_retention(now_ms=T0 + 12 * HOUR_MS) == 2


def test_size_retention_keeps_each_partition_within_its_limit(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    limit = 5 * 4096
    bus = make_bus(partitions=1, segment_bytes=4096, retention_bytes=limit)
    fill_hourly(bus, 24)
    total_before = sum(segment_sizes(bus).values())
    removed = bus.apply_retention(now_ms=T0)
    sizes = segment_sizes(bus)
    assert sum(sizes.values()) <= limit < total_before
    first = min(sizes)
    assert removed == first > 0
    assert bus.begin_offsets(TOPIC) == {0: first}
    assert read_all(bus, TOPIC).offsets.tolist() == list(range(first, 480))
    assert bus.apply_retention(now_ms=T0) == 0


def test_a_consumer_behind_the_begin_offset_moves_to_it(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096, retention_hours=2)
    fill_hourly(bus, 6)
    with bus.consumer("slow", TOPIC) as consumer:
        consumer.commit({0: 3})
    bus.apply_retention(now_ms=T0 + 6 * HOUR_MS)
    begin = bus.begin_offsets(TOPIC)[0]
    assert begin > 3
    with bus.consumer("slow", TOPIC) as consumer:
        assert consumer.position(0) == 3
        (batch,) = consumer.poll(5)
        assert batch.first_offset == begin
        assert consumer.position(0) == begin + 5


def test_topic_settings_override_the_bus_defaults(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096, retention_hours=1000)
    assert bus.create_topic(TOPIC, retention_hours=1)
    assert bus.create_topic("other", partitions=1)
    fill_hourly(bus, 4)
    with bus.producer() as producer:
        for hour in range(4):
            producer.send_batch("other", [bytes(3000)], timestamps_ms=[T0 + hour * HOUR_MS])
    assert bus.apply_retention(now_ms=T0 + 4 * HOUR_MS) == 3 * 20
    assert bus.begin_offsets("other") == {0: 0}


def test_segments_holding_records_not_landed_yet_are_held_back(
    make_bus: Callable[..., LocalBus], read_all: Callable
) -> None:
    bus = make_bus(partitions=1, segment_bytes=4096, retention_hours=10)
    fill_hourly(bus, 24)
    # Hours 0..12 are past the limit; the stream job landed offsets below 65 (hour 3).
    outcome = bus.enforce_retention(now_ms=T0 + 23 * HOUR_MS, keep_from={TOPIC: {0: 65}})
    assert (outcome.records, outcome.segments) == (3 * 20, 3)
    assert outcome.bytes > 0
    assert outcome.held_back == {TOPIC: {0: 10}}  # the segments of hours 3..12
    assert bus.begin_offsets(TOPIC) == {0: 60}
    assert read_all(bus, TOPIC).offsets.tolist() == list(range(60, 480))
    # Landed up to the end of hour 7 (offset 160 included): hours 3..7 go.
    outcome = bus.enforce_retention(now_ms=T0 + 23 * HOUR_MS, keep_from={TOPIC: {0: 161}})
    assert (outcome.records, outcome.held_back) == (5 * 20, {TOPIC: {0: 5}})
    # All landed: what is left past the limit goes, nothing is held back.
    outcome = bus.enforce_retention(now_ms=T0 + 23 * HOUR_MS, keep_from={TOPIC: {0: 480}})
    assert (outcome.records, outcome.held_back) == (5 * 20, {})
    assert bus.begin_offsets(TOPIC) == {0: 260}


def test_a_partition_without_landing_progress_keeps_everything(
    make_bus: Callable[..., LocalBus],
) -> None:
    bus = make_bus(partitions=2, segment_bytes=4096, retention_bytes=4096)
    assert bus.create_topic("other", partitions=1)
    fill_hourly(bus, 6)
    with bus.producer() as producer:
        for hour in range(6):
            producer.send_batch("other", [bytes(3000)], timestamps_ms=[T0 + hour * HOUR_MS])
            producer.flush()
    ends = bus.end_offsets(TOPIC)
    assert ends[0] > 20 and ends[1] > 20
    # The topic is guarded, but only partition 0 has progress (everything landed);
    # "other" is not guarded at all.
    outcome = bus.enforce_retention(now_ms=T0, keep_from={TOPIC: {0: ends[0]}})
    begins = bus.begin_offsets(TOPIC)
    assert begins[0] > 0 and begins[1] == 0
    assert bus.begin_offsets("other") == {0: 5}
    assert list(outcome.held_back) == [TOPIC]
    assert list(outcome.held_back[TOPIC]) == [1] and outcome.held_back[TOPIC][1] > 0
