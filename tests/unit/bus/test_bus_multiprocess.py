"""Several producer processes appending to the same partitions at once.

Children are forked (the test modules are not importable by name in a fresh
interpreter); each opens its own bus, so nothing but the files is shared.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from bdp.bus.local import LocalBus
from bdp.bus.local.segment import list_segments
from bdp.config import BusSettings, LocalBusSettings

TOPIC = "shared"
PRODUCERS = 3
BATCHES = 60
PER_BATCH = 25


def produce_in_child(root: str, partitions: int, worker: int, start: object) -> None:
    """Child process body: wait for the start signal, then append small batches."""
    local = LocalBusSettings(segment_bytes=8192)
    bus = LocalBus(Path(root), BusSettings(partitions=partitions, local=local))
    start.wait()  # type: ignore[attr-defined]
    with bus.producer() as producer:
        for b in range(BATCHES):
            values = [b"w%d-%04d" % (worker, b * PER_BATCH + i) for i in range(PER_BATCH)]
            producer.send_batch(TOPIC, values)
            producer.flush()


@pytest.mark.parametrize("partitions", [1, 3])
def test_concurrent_producers_keep_offsets_dense_and_records_unique(
    make_bus: Callable[..., LocalBus], partitions: int
) -> None:
    bus = make_bus(partitions=partitions, segment_bytes=8192)
    assert bus.create_topic(TOPIC)
    context = multiprocessing.get_context("fork")
    start = context.Event()
    children = [
        context.Process(target=produce_in_child, args=(str(bus.root), partitions, w, start))
        for w in range(PRODUCERS)
    ]
    for child in children:
        child.start()
    total = PRODUCERS * BATCHES * PER_BATCH
    seen: dict[int, list[tuple[int, bytes]]] = {p: [] for p in range(partitions)}
    try:
        start.set()
        # Read while they write: a reader must only ever see whole, valid batches.
        with bus.consumer("watcher", TOPIC) as consumer:
            while sum(len(v) for v in seen.values()) < total:
                for batch in consumer.poll(500, timeout_ms=100):
                    seen[batch.partition].extend(
                        zip(batch.offsets.tolist(), batch.values, strict=True)
                    )
                if not any(child.is_alive() for child in children):
                    for batch in consumer.poll(total, timeout_ms=0):
                        seen[batch.partition].extend(
                            zip(batch.offsets.tolist(), batch.values, strict=True)
                        )
                    break
    finally:
        for child in children:
            child.join(timeout=60)
    assert [child.exitcode for child in children] == [0] * PRODUCERS
    ends = bus.end_offsets(TOPIC)
    assert sum(ends.values()) == total
    values = Counter()
    for partition, records in seen.items():
        assert [offset for offset, _ in records] == list(range(ends[partition]))
        values.update(value for _, value in records)
        # Each producer's records stay in its own send order within a partition.
        for worker in range(PRODUCERS):
            mine = [v for _, v in records if v.startswith(b"w%d-" % worker)]
            assert mine == sorted(mine)
    expected = {b"w%d-%04d" % (w, i) for w in range(PRODUCERS) for i in range(BATCHES * PER_BATCH)}
    assert set(values) == expected
    assert set(values.values()) == {1}
    assert len(list_segments(bus.root / TOPIC / "0")) > 1
