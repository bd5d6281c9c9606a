"""The embedded bus's producer: partitioning, batching and the fsync policy.

Keyed records go to `partition_for_key` (Kafka's murmur2 partitioner); unkeyed ones are
"sticky": a whole `send_batch` call goes to one partition and the next call to the
next, so a batch stays one frame and load still spreads evenly over calls.

Small sends are coalesced per partition until `linger_bytes` pile up or `flush()` is
called; a large `send_batch` is written at once, as one gathered write per partition.
Either way a record is acknowledged only when `flush()` returns.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bdp.bus.base import Producer, partition_for_key
from bdp.bus.checks import is_arrow_array
from bdp.bus.local.appender import FsyncMode, IntervalSyncer, PartitionAppender
from bdp.bus.local.frame import encode_body
from bdp.bus.local.records import Records, concat_records
from bdp.bus.local.topics import TopicConfig

__all__ = ["LocalProducer"]

LINGER_BYTES = 1 << 20
"""Buffered bytes per partition that trigger a write before `flush()`."""
MAX_FRAME_BYTES = 32 << 20
"""Value bytes per frame; larger batches are written as several frames (one write)."""


class LocalProducer(Producer):
    def __init__(
        self,
        root: Path,
        topic_config: Callable[[str], TopicConfig],
        segment_bytes: int,
        fsync: FsyncMode,
        fsync_interval_ms: int,
    ) -> None:
        self._root = root
        self._topic_config = topic_config
        self._segment_bytes = segment_bytes
        self._fsync = fsync
        self._syncer = IntervalSyncer(fsync_interval_ms / 1000) if fsync == "interval" else None
        self._partitions: dict[str, int] = {}
        self._sticky: dict[str, int] = {}
        self._appenders: dict[tuple[str, int], PartitionAppender] = {}
        self._pending: dict[tuple[str, int], list[Records]] = {}
        self._pending_bytes: dict[tuple[str, int], int] = {}
        self._closed = False

    def _send_batch(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None,
        timestamps_ms: np.ndarray,
        partitions: np.ndarray | None = None,
    ) -> None:
        count = len(values)
        if keys is not None:
            keys = list(keys)
            if all(key is None for key in keys):
                keys = None
        available = self._partition_count(topic)
        if partitions is not None:
            if int(partitions.max()) >= available:
                raise ValueError(
                    f"partition {int(partitions.max())} of {topic!r}, which has {available}"
                )
            if keys is not None:
                for key in keys:
                    if key is not None:
                        _key_bytes(key)
            self._queue_by_partition(topic, values, keys, timestamps_ms, partitions)
            return
        sticky = self._next_sticky(topic, available)
        if keys is None:
            self._queue(topic, sticky, Records.build(values, None, timestamps_ms))
            return
        targets = np.fromiter(
            (
                sticky if key is None else partition_for_key(_key_bytes(key), available)
                for key in keys
            ),
            np.int64,
            count,
        )
        self._queue_by_partition(topic, values, keys, timestamps_ms, targets)

    def _queue_by_partition(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: list[bytes | None] | None,
        timestamps_ms: np.ndarray,
        targets: np.ndarray,
    ) -> None:
        count = len(values)
        chosen = np.unique(targets)
        if len(chosen) == 1:
            self._queue(topic, int(chosen[0]), Records.build(values, keys, timestamps_ms))
            return
        if not is_arrow_array(values) and not isinstance(values, list):
            values = list(values)
        order = np.argsort(targets, kind="stable")
        bounds = [*np.searchsorted(targets[order], chosen, side="left").tolist(), count]
        for i, partition in enumerate(chosen.tolist()):
            picked = order[bounds[i] : bounds[i + 1]]
            self._queue(topic, partition, Records.build(values, keys, timestamps_ms, picked))

    def flush(self, timeout_s: float | None = None) -> None:
        """Write everything buffered; with `fsync = "always"` it is on disk on return."""
        for target in list(self._pending):
            self._write(target)

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._syncer is not None:
                self._syncer.close()
            for appender in self._appenders.values():
                appender.close()
            self._appenders.clear()

    # -- internals -------------------------------------------------------------------

    def _partition_count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = self._topic_config(topic).partitions
        return count

    def _next_sticky(self, topic: str, partitions: int) -> int:
        # Start each producer at a random partition so several of them spread too.
        current = self._sticky.get(topic)
        current = random.randrange(partitions) if current is None else current + 1
        self._sticky[topic] = current % partitions
        return current % partitions

    def _queue(self, topic: str, partition: int, records: Records) -> None:
        target = (topic, partition)
        self._pending.setdefault(target, []).append(records)
        size = self._pending_bytes.get(target, 0) + records.nbytes
        self._pending_bytes[target] = size
        if size >= LINGER_BYTES:
            self._write(target)

    def _write(self, target: tuple[str, int]) -> None:
        chunks = self._pending.pop(target, None)
        self._pending_bytes.pop(target, None)
        if not chunks:
            return
        records = concat_records(chunks)
        bodies = [encode_body(piece) for piece in records.split(MAX_FRAME_BYTES)]
        appender = self._appenders.get(target)
        if appender is None:
            topic, partition = target
            appender = PartitionAppender(
                self._root / topic / str(partition), self._segment_bytes, self._fsync
            )
            self._appenders[target] = appender
        appender.append(bodies)
        if self._syncer is not None:
            self._syncer.note_write(appender)


def _key_bytes(key: object) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, bytearray | memoryview):
        return bytes(key)
    raise ValueError(f"keys must be bytes or None, got {type(key).__name__}")
