"""The landing job: bus topics → lake raw zone, exactly once, by event date.

For each polled batch of one partition: record the offset range as pending, validate,
publish one raw file per event date and one quarantine file per arrival date, mark
the range done, then commit the offset to the bus (for lag reporting). A crash at any
point is repaired on restart by re-landing the pending range, which rewrites the same
files; nothing is lost and nothing lands twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from bdp.bus import Bus, Consumer, RecordBatch
from bdp.config import Settings
from bdp.datasets import Dataset, get_dataset
from bdp.lake import Lake, partition_dir
from bdp.stream.checkpoint import Checkpoint, CheckpointStore
from bdp.stream.files import encode_lines, quarantine_line, raw_file_name
from bdp.stream.lease import PartitionLease
from bdp.stream.validate import Validated, validate_batch

__all__ = ["GROUP", "JOB", "DatasetStats", "StreamJob"]

GROUP = "bdp-stream"
JOB = "stream"
LEASE_TIMEOUT_S = 10.0
"""How long a starting job waits for a previous holder of a partition to go away."""


@dataclass
class DatasetStats:
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    files: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    dates: Counter[str] = field(default_factory=Counter)

    def add(self, other: DatasetStats) -> None:
        self.read += other.read
        self.landed += other.landed
        self.quarantined += other.quarantined
        self.files += other.files
        self.reasons.update(other.reasons)
        self.dates.update(other.dates)


class StreamJob:
    """Lands every dataset topic; one consumer per topic, all partitions in this process."""

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        lake: Lake,
        datasets: Iterable[str],
        group: str = GROUP,
        partitions: Callable[[int], list[int]] | None = None,
    ) -> None:
        """`partitions`, given a topic's partition count, picks the ones this job lands
        (all of them by default); jobs with disjoint shares can run side by side."""
        self.settings = settings
        self.bus = bus
        self.lake = lake
        self.group = group
        self.datasets: list[Dataset] = [get_dataset(name) for name in datasets]
        self.checkpoints = CheckpointStore(lake, JOB)
        self.compression = settings.lake.raw_compression
        self.stats: dict[str, DatasetStats] = {d.name: DatasetStats() for d in self.datasets}
        self._consumers: dict[str, Consumer] = {}
        self._partitions = partitions
        self._leases: list[PartitionLease] = []

    def run(
        self,
        until_idle: bool = False,
        stop: threading.Event | None = None,
        on_batch: Callable[[str, DatasetStats], None] | None = None,
    ) -> dict[str, DatasetStats]:
        """Land records until stopped, or until every topic is drained with `until_idle`."""
        stop = stop or threading.Event()
        try:
            self._open()
            limit = self.settings.stream.batch_records
            while not stop.is_set():
                landed_any = False
                for dataset in self.datasets:
                    consumer = self._consumers.get(dataset.name)
                    if consumer is None:
                        continue
                    for batch in consumer.poll(limit, timeout_ms=0):
                        outcome = self.land(dataset, batch)
                        consumer.commit({batch.partition: batch.last_offset + 1})
                        self.stats[dataset.name].add(outcome)
                        landed_any = True
                        if on_batch is not None:
                            on_batch(dataset.name, outcome)
                if not landed_any:
                    if until_idle:
                        break
                    stop.wait(self.settings.stream.poll_timeout_ms / 1000)
        finally:
            self.close()
        return self.stats

    def close(self) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()
        for lease in self._leases:
            lease.release()
        self._leases.clear()

    def _open(self) -> None:
        for dataset in self.datasets:
            self.bus.create_topic(dataset.topic)
            share = None
            if self._partitions is not None:
                share = self._partitions(self.bus.partitions(dataset.topic))
                if not share:
                    continue  # more jobs than partitions: nothing here for this one
            consumer = self.bus.consumer(
                self.group, dataset.topic, partitions=share, start="earliest"
            )
            self._consumers[dataset.name] = consumer
            for partition in consumer.assignment:
                lease = PartitionLease(
                    self.settings.paths.home / "locks" / JOB, dataset.topic, partition
                )
                lease.acquire(LEASE_TIMEOUT_S)
                self._leases.append(lease)
                self._recover(dataset, consumer, partition)

    def _recover(self, dataset: Dataset, consumer: Consumer, partition: int) -> None:
        """Finish a batch a crash interrupted, then resume after the last landed one."""
        checkpoint = self.checkpoints.load(dataset.topic, partition)
        if checkpoint.pending is not None:
            first, last = checkpoint.pending
            batch = self._read_range(dataset.topic, partition, first, last)
            self.stats[dataset.name].add(self.land(dataset, batch))
            checkpoint = self.checkpoints.load(dataset.topic, partition)
        if checkpoint.next_offset is not None:
            consumer.seek(partition, checkpoint.next_offset)
            consumer.commit({partition: checkpoint.next_offset})

    def _read_range(self, topic: str, partition: int, first: int, last: int) -> RecordBatch:
        reader = self.bus.consumer(f"{self.group}-recovery", topic, partitions=[partition])
        parts: list[RecordBatch] = []
        try:
            reader.seek(partition, first)
            deadline = time.monotonic() + 60
            while not parts or parts[-1].last_offset < last:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topic}/{partition}: cannot re-read {first}..{last}")
                parts.extend(reader.poll(last - first + 1, timeout_ms=500))
        finally:
            reader.close()
        offsets = np.concatenate([p.offsets for p in parts])
        keep = offsets <= last
        values = [v for p in parts for v in p.values]
        return RecordBatch(
            topic=topic,
            partition=partition,
            offsets=offsets[keep],
            timestamps_ms=np.concatenate([p.timestamps_ms for p in parts])[keep],
            values=[v for v, k in zip(values, keep, strict=True) if k],
        )

    def land(self, dataset: Dataset, batch: RecordBatch) -> DatasetStats:
        """Land one batch of one partition exactly once: record its range as pending,
        publish its raw and quarantine files, then record it done. Re-landing the same
        range rewrites the same files, which is what makes recovery safe."""
        first, last = batch.first_offset, batch.last_offset
        topic, partition = dataset.topic, batch.partition
        self.checkpoints.save(topic, partition, Checkpoint(first, (first, last)))
        stream = self.settings.stream
        checked = validate_batch(
            dataset,
            batch.values,
            stream.max_record_bytes,
            self.settings.tz,
            stream.max_nesting_depth,
        )
        name = raw_file_name(partition, first, last, self.compression)
        outcome = DatasetStats(read=len(batch), landed=len(checked.valid))
        valid = (
            batch.values
            if len(checked.valid) == len(batch)
            else [batch.values[i] for i in checked.valid]
        )
        for day, lines in _by_date(checked.dates, valid):
            self.lake.publish(
                f"{partition_dir('raw', dataset.name, day)}/{name}", self._encode(lines)
            )
            outcome.files += 1
            outcome.dates[day] += len(lines)
        for day, lines in self._rejections(dataset, batch, checked):
            path = f"{partition_dir('quarantine', dataset.name, day)}/{name}"
            self.lake.publish(path, self._encode(lines))
            outcome.files += 1
        outcome.quarantined = len(checked.rejected)
        outcome.reasons.update(rejection.reason for rejection in checked.rejected)
        self.checkpoints.save(topic, partition, Checkpoint(last + 1, None))
        return outcome

    def _rejections(
        self, dataset: Dataset, batch: RecordBatch, checked: Validated
    ) -> list[tuple[str, list[bytes]]]:
        if not checked.rejected:
            return []
        # Rejected records have no trustworthy event time: file them by arrival date.
        arrival = _local_dates(
            batch.timestamps_ms[[r.index for r in checked.rejected]], self.settings.tz
        )
        lines = [
            quarantine_line(
                r.reason,
                r.detail,
                dataset.topic,
                batch.partition,
                int(batch.offsets[r.index]),
                int(batch.timestamps_ms[r.index]),
                batch.values[r.index],
            )
            for r in checked.rejected
        ]
        return _by_date(arrival, lines)

    def _encode(self, lines: list[bytes]) -> bytes:
        return encode_lines(lines, self.compression)


def _by_date(dates: np.ndarray, lines: list[bytes]) -> list[tuple[str, list[bytes]]]:
    """Group lines by date, keeping offset order inside each group."""
    if not lines:
        return []
    if dates.min() == dates.max():
        return [(str(dates[0]), lines)]
    order = np.argsort(dates, kind="stable")
    ordered = dates[order]
    days, starts = np.unique(ordered, return_index=True)
    bounds = [*starts.tolist(), len(lines)]
    return [
        (str(day), [lines[i] for i in order[bounds[k] : bounds[k + 1]]])
        for k, day in enumerate(days)
    ]


def _local_dates(timestamps_ms: np.ndarray, tz) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    instants = pa.array(timestamps_ms.astype("int64"), pa.timestamp("ms", str(tz)))
    local = pc.cast(pc.local_timestamp(instants), pa.date32())
    return local.to_numpy(zero_copy_only=False).astype("datetime64[D]")
