"""seek_to_timestamp: the first offset whose timestamp is >= t, whatever the clock order."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bdp.bus.local import LocalBus

TOPIC = "clocks"


def brute_force(stamps: np.ndarray, t: int) -> int:
    hits = np.flatnonzero(stamps >= t)
    return int(hits[0]) if len(hits) else len(stamps)


@pytest.mark.parametrize("seed", range(4))
def test_time_seek_matches_a_full_scan(make_bus: Callable[..., LocalBus], seed: int) -> None:
    rng = np.random.default_rng(seed)
    bus = make_bus(partitions=1, segment_bytes=4096)
    stamps = []
    with bus.producer() as producer:
        for _ in range(60):
            size = int(rng.integers(1, 15))
            # A drifting clock with jitter: mostly rising, often going back.
            base = 1_000 * len(stamps) + int(rng.integers(-20_000, 20_000))
            batch = base + rng.integers(-5_000, 5_000, size)
            producer.send_batch(TOPIC, [bytes(90)] * size, timestamps_ms=batch)
            producer.flush()
            stamps.extend(batch.tolist())
    stamps_array = np.array(stamps)
    probes = [
        int(stamps_array.min()) - 1,
        int(stamps_array.max()),
        int(stamps_array.max()) + 1,
        *rng.integers(int(stamps_array.min()), int(stamps_array.max()), 40).tolist(),
    ]
    with bus.consumer("timer", TOPIC) as consumer:
        for t in probes:
            expected = brute_force(stamps_array, t)
            assert consumer.seek_to_timestamp(0, t) == expected, t
            assert consumer.position(0) == expected
            batches = consumer.poll(1)
            if expected < len(stamps):
                assert batches[0].first_offset == expected
                assert int(batches[0].timestamps_ms[0]) >= t
            else:
                assert batches == []


def test_time_seek_on_an_empty_partition_returns_its_end(make_bus: Callable[..., LocalBus]) -> None:
    bus = make_bus(partitions=2)
    assert bus.create_topic(TOPIC)
    with bus.consumer("timer", TOPIC) as consumer:
        assert consumer.seek_to_timestamp(1, 0) == 0
