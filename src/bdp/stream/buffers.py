"""Records read but not yet landed, per partition: what makes a trickle land in few files.

Each landed batch becomes at least one raw file, so landing every poll's few records
would leave thousands of tiny files under a trickle of traffic. A running job instead
keeps a partition's records until `stream.batch_records` of them have arrived or the
oldest has waited `stream.batch_max_delay_ms`, then lands them as one batch. A
record's wait counts from its bus timestamp (when it was sent), so a backlog lands at
once and only fresh records wait; and at most the delay from when it was read, should
a producer's clock run ahead. Nothing is at risk meanwhile: offsets are committed only
after landing, so a crash re-reads what was buffered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from bdp.bus import RecordBatch
from bdp.datasets import Dataset

__all__ = ["PartitionBuffers", "concat_batches"]


def concat_batches(parts: list[RecordBatch]) -> RecordBatch:
    """Consecutive batches of one partition as one."""
    if len(parts) == 1:
        return parts[0]
    keyed = all(len(p.keys) == len(p.values) for p in parts)
    return RecordBatch(
        topic=parts[0].topic,
        partition=parts[0].partition,
        offsets=np.concatenate([p.offsets for p in parts]),
        timestamps_ms=np.concatenate([p.timestamps_ms for p in parts]),
        values=[v for p in parts for v in p.values],
        keys=[k for p in parts for k in p.keys] if keyed else [],
    )


@dataclass
class _Buffer:
    dataset: Dataset
    read_at: float
    """When its oldest record was read (monotonic seconds)."""
    sent_ms: int
    """The oldest bus timestamp among its records (ms since the epoch)."""
    parts: list[RecordBatch] = field(default_factory=list)
    records: int = 0


class PartitionBuffers:
    def __init__(self) -> None:
        self._buffers: dict[tuple[str, int], _Buffer] = {}

    def add(self, dataset: Dataset, batch: RecordBatch) -> None:
        if not len(batch):
            return
        target = (dataset.name, batch.partition)
        buffer = self._buffers.get(target)
        oldest = int(batch.timestamps_ms.min())
        if buffer is None:
            buffer = self._buffers[target] = _Buffer(dataset, time.monotonic(), oldest)
        buffer.sent_ms = min(buffer.sent_ms, oldest)
        buffer.parts.append(batch)
        buffer.records += len(batch)

    def due(self, max_records: int, max_delay_s: float) -> list[tuple[Dataset, RecordBatch]]:
        """Take the partitions whose records are enough, or old enough, to land."""
        now, now_ms = time.monotonic(), time.time() * 1000
        ready = [
            target
            for target, buffer in self._buffers.items()
            if buffer.records >= max_records
            or now - buffer.read_at >= max_delay_s
            or now_ms - buffer.sent_ms >= max_delay_s * 1000
        ]
        return [self._take(target) for target in ready]

    def take_all(self) -> list[tuple[Dataset, RecordBatch]]:
        return [self._take(target) for target in list(self._buffers)]

    def _take(self, target: tuple[str, int]) -> tuple[Dataset, RecordBatch]:
        buffer = self._buffers.pop(target)
        return buffer.dataset, concat_batches(buffer.parts)

    def __len__(self) -> int:
        return sum(buffer.records for buffer in self._buffers.values())
