"""The embedded bus's consumer: positions per partition, polling, seeking, commits.

Nothing is committed implicitly. A position that retention has overtaken moves to the
partition's begin offset (Kafka's `auto.offset.reset = earliest` for that case).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bdp.bus.base import Consumer, RecordBatch, StartFrom
from bdp.bus.local.groups import OffsetStore
from bdp.bus.local.reader import PartitionReader, Slice

__all__ = ["LocalConsumer"]

_MAX_IDLE_WAIT_S = 0.05
"""Longest nap between looks at an idle log while `poll` waits: bounds the added latency."""


class LocalConsumer(Consumer):
    def __init__(
        self,
        root: Path,
        store: OffsetStore,
        group: str,
        topic: str,
        topic_partitions: int,
        partitions: list[int],
        start: StartFrom,
        with_keys: bool,
    ) -> None:
        if start not in ("earliest", "latest"):
            raise ValueError(f"start must be 'earliest' or 'latest', got {start!r}")
        self._store = store
        self._group = group
        self._topic = topic
        self._topic_partitions = topic_partitions
        self._with_keys = with_keys
        self._readers = {p: PartitionReader(root / topic / str(p)) for p in partitions}
        committed = store.committed(group, topic)
        self._positions: dict[int, int] = {}
        for p, reader in self._readers.items():
            if p in committed:
                self._positions[p] = committed[p]
            elif start == "earliest":
                self._positions[p] = reader.begin_offset()
            else:
                self._positions[p] = reader.end_offset()
        self._turn = 0
        self._closed = False

    @property
    def assignment(self) -> list[int]:
        return list(self._readers)

    def _poll(self, max_records: int, timeout_ms: int) -> list[RecordBatch]:
        deadline = time.monotonic() + timeout_ms / 1000
        nap = 0.001
        while True:
            batches = self._poll_once(max_records)
            left = deadline - time.monotonic()
            if batches or left <= 0:
                return batches
            # No change notification exists for a plain file: look again shortly.
            time.sleep(min(nap, left))
            nap = min(nap * 2, _MAX_IDLE_WAIT_S)

    def position(self, partition: int) -> int:
        return self._positions[self._assigned(partition)]

    def _seek(self, partition: int, offset: int) -> None:
        self._positions[partition] = offset

    def seek_to_timestamp(self, partition: int, timestamp_ms: int) -> int:
        self._check_open()
        reader = self._readers[self._assigned(partition)]
        offset = reader.offset_for_timestamp(int(timestamp_ms))
        self._positions[partition] = offset
        return offset

    def _commit(self, offsets: dict[int, int]) -> None:
        self._store.commit(self._group, self._topic, offsets)

    def committed(self) -> dict[int, int | None]:
        stored = self._store.committed(self._group, self._topic)
        return {p: stored.get(p) for p in self._readers}

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._closed = True

    # -- internals -------------------------------------------------------------------

    def _poll_once(self, max_records: int) -> list[RecordBatch]:
        order = list(self._readers)
        # Rotate the starting partition so one busy partition cannot starve the others.
        turn = self._turn % len(order) if order else 0
        self._turn += 1
        batches = []
        remaining = max_records
        for partition in order[turn:] + order[:turn]:
            if remaining == 0:
                break
            start, slices = self._readers[partition].read(self._positions[partition], remaining)
            if not slices:
                self._positions[partition] = max(self._positions[partition], start)
                continue
            batch = self._batch(partition, slices)
            batches.append(batch)
            remaining -= len(batch)
            self._positions[partition] = batch.last_offset + 1
        return batches

    def _batch(self, partition: int, slices: list[Slice]) -> RecordBatch:
        if len(slices) == 1:
            frame, start, stop = slices[0]
            base = frame.header.base_offset
            return RecordBatch(
                self._topic,
                partition,
                np.arange(base + start, base + stop, dtype=np.int64),
                frame.timestamps[start:stop].copy(),
                frame.values(start, stop),
                frame.keys(start, stop) if self._with_keys else [],
            )
        values: list[bytes] = []
        keys: list[bytes | None] = []
        for frame, start, stop in slices:
            values.extend(frame.values(start, stop))
            if self._with_keys:
                keys.extend(frame.keys(start, stop))
        return RecordBatch(
            self._topic,
            partition,
            np.concatenate(
                [
                    np.arange(f.header.base_offset + i, f.header.base_offset + j, dtype=np.int64)
                    for f, i, j in slices
                ]
            ),
            np.concatenate([f.timestamps[i:j] for f, i, j in slices]),
            values,
            keys,
        )
