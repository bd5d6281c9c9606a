"""The embedded stream job: bdp's own consumers poll the bus, the `Lander` lands.

One consumer per dataset topic, every partition this job owns in this process; with
`stream.workers` above one, worker processes split the partitions between them. Before
reading, each partition is leased (one lander at a time) and recovered: a range a crash
left pending is re-landed, then reading resumes after the last landed offset. After a
batch is landed its next offset is committed to the bus, for lag reports only: the
checkpoint in the lake, written by the `Lander`, is the source of truth.

A partition whose bus log is damaged stops there (its consumer raises
CorruptSegmentError once the partition's healthy neighbours are drained) while every
other partition and dataset keeps landing; the job then ends with that error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import numpy as np

from bdp.bus import Bus, Consumer, RecordBatch
from bdp.config import Settings
from bdp.datasets import Dataset
from bdp.errors import BdpError, CorruptSegmentError
from bdp.lake import Lake
from bdp.logs import fields
from bdp.retry import Retry
from bdp.stream import STREAM_ENGINES
from bdp.stream.base import (
    GROUP,
    BatchCallback,
    DatasetStats,
    StreamError,
    StreamJob,
)
from bdp.stream.buffers import PartitionBuffers, concat_batches
from bdp.stream.landing import LOG, Lander
from bdp.stream.lease import LEASE_TIMEOUT_S, PartitionLease

__all__ = ["JOB", "EmbeddedStreamJob"]

JOB = "stream"
"""Leases live under `<home>/locks/stream/`; checkpoints under `_checkpoints/stream/`
(the engine's `checkpoints` capability)."""
RECOVERY_TIMEOUT_S = 60.0
"""How long re-reading a pending range from the bus may take before the job gives up."""


class EmbeddedStreamJob(StreamJob):
    """Lands every dataset topic with bdp's consumers, in this process or in workers."""

    name = "embedded"
    capabilities = STREAM_ENGINES.capabilities(name)

    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        datasets: Iterable[str],
        *,
        bus: Bus | None = None,
        group: str = GROUP,
        partitions: Callable[[int], list[int]] | None = None,
        workers: int | None = None,
        retry: Retry | None = None,
    ) -> None:
        """`bus`: opened from the settings (and closed) by `run` when not given.
        `partitions`, given a topic's partition count, picks the ones this job lands
        (all of them by default); jobs with disjoint shares can run side by side.
        `workers` (default `stream.workers`) above one lands in that many processes,
        each opening the bus and the lake from the settings."""
        super().__init__(settings, lake, datasets)
        self.workers = settings.stream.workers if workers is None else workers
        if self.workers > 1 and (bus is not None or partitions is not None):
            raise ValueError("worker processes open their own bus and split the partitions")
        self.bus = bus
        self.group = group
        self.lander = Lander(settings, lake, self.capabilities.checkpoints, retry)
        self._consumers: dict[str, Consumer] = {}
        self._partitions = partitions
        self._leases: list[PartitionLease] = []
        self._corrupt: dict[tuple[str, int], CorruptSegmentError] = {}
        self._buffers = PartitionBuffers()
        self._max_delay_s = settings.stream.batch_max_delay_ms / 1000

    def run(
        self,
        until_idle: bool = False,
        stop: threading.Event | None = None,
        on_batch: BatchCallback | None = None,
    ) -> dict[str, DatasetStats]:
        if self.workers > 1:
            from bdp.stream.embedded.workers import run_in_workers

            names = [d.name for d in self.datasets]
            totals = run_in_workers(
                self.settings, names, self.workers, until_idle, stop, self.group
            )
            for name, stats in totals.items():
                self.stats[name].add(stats)
            return self.stats
        if self.bus is not None:
            return self._run(self.bus, until_idle, stop, on_batch)
        from bdp.bus import open_bus

        with open_bus(self.settings) as bus:
            return self._run(bus, until_idle, stop, on_batch)

    def _run(
        self,
        bus: Bus,
        until_idle: bool,
        stop: threading.Event | None,
        on_batch: BatchCallback | None,
    ) -> dict[str, DatasetStats]:
        stop = stop or threading.Event()
        began = time.perf_counter()
        try:
            self._open(bus)
            limit = self.settings.stream.batch_records
            while not stop.is_set():
                received = False
                for dataset in self.datasets:
                    consumer = self._consumers.get(dataset.name)
                    if consumer is None:
                        continue
                    try:
                        batches = consumer.poll(limit, timeout_ms=0)
                    except CorruptSegmentError as exc:
                        self._stuck(exc, say=not until_idle)
                        continue
                    for batch in batches:
                        self._buffers.add(dataset, batch)
                        received = True
                landed = self._land(self._buffers.due(limit, self._max_delay_s), on_batch)
                if not received:
                    # Nothing new: land what is buffered when the job stops at idle.
                    if until_idle:
                        if not self._land(self._buffers.take_all(), on_batch):
                            break
                    elif not landed:
                        stop.wait(self.settings.stream.poll_timeout_ms / 1000)
            # A requested stop drains: what was read is landed and committed first.
            self._land(self._buffers.take_all(), on_batch)
        finally:
            self._close()
        self.log_totals(began)
        if len(self._corrupt) == 1:
            raise next(iter(self._corrupt.values()))
        if self._corrupt:
            raise BdpError(" | ".join(str(exc) for exc in self._corrupt.values()))
        return self.stats

    def _land(self, due: list[tuple[Dataset, RecordBatch]], on_batch: BatchCallback | None) -> bool:
        for dataset, batch in due:
            outcome = self.lander.land(dataset, batch)
            self._consumers[dataset.name].commit({batch.partition: batch.last_offset + 1})
            self.stats[dataset.name].add(outcome)
            if on_batch is not None:
                on_batch(dataset.name, outcome)
        return bool(due)

    def _stuck(self, exc: CorruptSegmentError, say: bool) -> None:
        """Note a partition that damage stops; a job that runs on says so once, as it
        happens (one that stops when drained ends with the error anyway)."""
        if say and (exc.topic, exc.partition) not in self._corrupt:
            LOG.error("%s", exc)
        self._corrupt[(exc.topic, exc.partition)] = exc

    def _close(self) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()
        for lease in self._leases:
            lease.release()
        self._leases.clear()
        self.lander.close()

    def _open(self, bus: Bus) -> None:
        for dataset in self.datasets:
            bus.create_topic(dataset.topic)
            share = None
            if self._partitions is not None:
                share = self._partitions(bus.partitions(dataset.topic))
                if not share:
                    continue  # more jobs than partitions: nothing here for this one
            consumer = bus.consumer(
                self.group, dataset.topic, partitions=share, start="earliest", with_keys=True
            )
            self._consumers[dataset.name] = consumer
            for partition in consumer.assignment:
                lease = PartitionLease(
                    self.settings.paths.home / "locks" / JOB, dataset.topic, partition
                )
                lease.acquire(LEASE_TIMEOUT_S)
                self._leases.append(lease)
                self._recover(bus, dataset, consumer, partition)
            LOG.info(
                "started %s",
                fields(
                    engine=self.name,
                    dataset=dataset.name,
                    topic=dataset.topic,
                    group=self.group,
                    partitions=",".join(map(str, consumer.assignment)) or "-",
                ),
            )

    def _recover(self, bus: Bus, dataset: Dataset, consumer: Consumer, partition: int) -> None:
        """Finish a batch a crash interrupted, then resume after the last landed one."""
        checkpoint = self.lander.checkpoint(dataset.topic, partition)
        if checkpoint.pending is not None:
            first, last = checkpoint.pending
            LOG.info(
                "recovering %s",
                fields(
                    dataset=dataset.name,
                    partition=partition,
                    first_offset=first,
                    last_offset=last,
                ),
            )
            batch = self._read_range(bus, dataset.topic, partition, first, last)
            self.stats[dataset.name].add(self.lander.land(dataset, batch))
            checkpoint = self.lander.checkpoint(dataset.topic, partition)
        if checkpoint.next_offset is not None:
            consumer.seek(partition, checkpoint.next_offset)
            consumer.commit({partition: checkpoint.next_offset})

    def _read_range(
        self, bus: Bus, topic: str, partition: int, first: int, last: int
    ) -> RecordBatch:
        reader = bus.consumer(
            f"{self.group}-recovery", topic, partitions=[partition], with_keys=True
        )
        parts: list[RecordBatch] = []
        try:
            reader.seek(partition, first)
            deadline = time.monotonic() + RECOVERY_TIMEOUT_S
            while not parts or parts[-1].last_offset < last:
                if time.monotonic() > deadline:
                    raise StreamError(
                        f"{topic} partition {partition}: cannot re-read the pending range "
                        f"{first}..{last} from the bus within {RECOVERY_TIMEOUT_S:.0f} s"
                    )
                parts.extend(reader.poll(last - first + 1, timeout_ms=500))
        finally:
            reader.close()
        whole = concat_batches(parts)
        keep = int(np.count_nonzero(whole.offsets <= last))
        return RecordBatch(
            topic=topic,
            partition=partition,
            offsets=whole.offsets[:keep],
            timestamps_ms=whole.timestamps_ms[:keep],
            values=whole.values[:keep],
            keys=whole.keys[:keep],
        )
