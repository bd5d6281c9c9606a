"""Landing one batch exactly once: checkpoint, validate, publish files, checkpoint.

Every stream engine hands its batches — consecutive records of one partition — to a
`Lander`. For each batch: record the offset range as pending, validate, publish one raw
file per event date and one quarantine file per arrival date (after a manifest of them,
`bdp.lake.manifests`), then record the range done, with how far in event time the
partition has landed (its watermark). A crash at any point is repaired by
re-landing the pending range, which rewrites the same file names with the same content:
nothing is lost and nothing lands twice.

Every lake operation here is idempotent (an atomic replace, a read), so one that fails
transiently — the lake server restarting — is retried with backoff (`bdp.lake.retrying`)
rather than stopping the job; a terminal failure, or one that outlasts the retries,
stops it with the range still pending, to be re-landed on the next start.
"""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

import numpy as np

from bdp.bus import RecordBatch
from bdp.config import Settings
from bdp.datasets import Dataset
from bdp.lake import Lake, partition_dir
from bdp.lake.manifests import BatchFiles
from bdp.lake.rawfiles import quarantine_line
from bdp.lake.retrying import retrying
from bdp.logs import fields
from bdp.retry import Backoff, Retry
from bdp.stream.base import LOG, DatasetStats
from bdp.stream.checkpoint import Checkpoint, CheckpointStore
from bdp.stream.dedupe import DedupeStore, Repeat, record_id
from bdp.stream.validate import Rejection, Validated, validate_batch

__all__ = ["LOG", "Lander", "lake_retry"]


def lake_retry(settings: Settings) -> Retry:
    """The retry of lake operations the `[stream]` settings ask for, logging on `LOG`."""
    backoff = Backoff(
        attempts=settings.stream.retry_attempts,
        max_delay_seconds=settings.stream.retry_max_delay_seconds,
    )
    return Retry(backoff, log=LOG)


class Lander:
    """Lands batches into `lake`, keeping progress under `_checkpoints/<job>/`."""

    def __init__(
        self, settings: Settings, lake: Lake, job: str, retry: Retry | None = None
    ) -> None:
        self.settings = settings
        self.lake = retrying(lake, retry or lake_retry(settings))
        self.job = job
        self.checkpoints = CheckpointStore(self.lake, job)
        self.compression = settings.lake.raw_compression
        self._dedupe: DedupeStore | None = None
        self._watermarks: dict[tuple[str, int], int | None] = {}
        """Each partition's watermark as last saved: one lander at a time lands a
        partition, so the checkpoint is read once, not before every batch."""

    def checkpoint(self, topic: str, partition: int) -> Checkpoint:
        """Where landing stands for one partition."""
        found = self.checkpoints.load(topic, partition)
        self._watermarks[(topic, partition)] = found.watermark_ms
        return found

    def _watermark(self, topic: str, partition: int) -> int | None:
        if (topic, partition) not in self._watermarks:
            self.checkpoint(topic, partition)
        return self._watermarks[(topic, partition)]

    def land(self, dataset: Dataset, batch: RecordBatch) -> DatasetStats:
        """Land one batch of one partition exactly once: record its range as pending,
        publish its manifest, raw and quarantine files, then record it done. Re-landing
        the same range rewrites the same files, which is what makes recovery safe."""
        began = time.perf_counter()
        first, last = batch.first_offset, batch.last_offset
        topic, partition = dataset.topic, batch.partition
        watermark = self._watermark(topic, partition)
        self.checkpoints.save(topic, partition, Checkpoint(first, (first, last), watermark))
        stream = self.settings.stream
        checked = validate_batch(
            dataset,
            batch.values,
            stream.max_record_bytes,
            self.settings.tz,
            stream.max_nesting_depth,
        )
        repeats = self._repeats(batch)
        if repeats:
            checked = _without_repeats(checked, repeats)
        files = BatchFiles(dataset.name, partition, first, last, len(batch), self.compression)
        outcome = DatasetStats(read=len(batch), landed=len(checked.valid))
        valid = (
            batch.values
            if len(checked.valid) == len(batch)
            else [batch.values[i] for i in checked.valid]
        )
        for day, lines in _by_date(checked.dates, valid):
            files.add(partition_dir("raw", dataset.name, day), lines)
            outcome.files += 1
            outcome.dates[day] += len(lines)
        for day, lines in self._rejections(dataset, batch, checked):
            files.add(partition_dir("quarantine", dataset.name, day), lines)
            outcome.files += 1
        files.publish(self.lake)
        outcome.quarantined = len(checked.rejected)
        outcome.reasons.update(rejection.reason for rejection in checked.rejected)
        watermark = _later(watermark, _landed_watermark(batch, checked))
        self.checkpoints.save(topic, partition, Checkpoint(last + 1, None, watermark))
        self._watermarks[(topic, partition)] = watermark
        if LOG.isEnabledFor(logging.INFO):
            LOG.info(
                "batch %s",
                fields(
                    job=self.job,
                    dataset=dataset.name,
                    topic=topic,
                    partition=partition,
                    first_offset=first,
                    last_offset=last,
                    read=outcome.read,
                    landed=outcome.landed,
                    quarantined=outcome.quarantined,
                    files=outcome.files,
                    dates=",".join(sorted(outcome.dates)) or "-",
                    seconds=time.perf_counter() - began,
                ),
            )
        return outcome

    def _repeats(self, batch: RecordBatch) -> list[Repeat]:
        """Records a client sent again (same idempotency id, later offset)."""
        if not batch.keys:
            return []
        ids = [record_id(key) for key in batch.keys]
        if not any(rid is not None for rid in ids):
            return []
        if self._dedupe is None:
            self._dedupe = DedupeStore(
                self.settings.paths.home / "stream" / "dedupe.sqlite",
                self.settings.stream.dedupe_window_hours,
            )
        return self._dedupe.claim(batch.topic, batch.partition, ids, batch.offsets.tolist())

    def close(self) -> None:
        if self._dedupe is not None:
            self._dedupe.close()
            self._dedupe = None

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


def _without_repeats(checked: Validated, repeats: list[Repeat]) -> Validated:
    first_of = dict(repeats)
    keep = [i for i, index in enumerate(checked.valid) if index not in first_of]
    rejected = [r for r in checked.rejected if r.index not in first_of]
    rejected += [
        Rejection(index, "duplicate_id", f"a record with this id landed at offset {first}")
        for index, first in repeats
    ]
    rejected.sort(key=lambda r: r.index)
    return Validated(
        valid=[checked.valid[i] for i in keep],
        dates=checked.dates[keep],
        rejected=rejected,
        event_ms=checked.event_ms[keep],
    )


def _landed_watermark(batch: RecordBatch, checked: Validated) -> int | None:
    """The greatest event time among the batch's valid records, each capped at its bus
    timestamp (a record cannot have happened after it was sent; a timestamp of 0 or
    less is a producer's "unknown" and caps nothing)."""
    if not checked.valid:
        return None
    sent = batch.timestamps_ms
    if len(checked.valid) != len(batch):
        sent = sent[checked.valid]
    capped = np.where(sent > 0, np.minimum(checked.event_ms, sent), checked.event_ms)
    return int(capped.max())


def _later(known: int | None, found: int | None) -> int | None:
    if known is None:
        return found
    return known if found is None else max(known, found)


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


def _local_dates(timestamps_ms: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    instants = pa.array(timestamps_ms.astype("int64"), pa.timestamp("ms", str(tz)))
    local = pc.cast(pc.local_timestamp(instants), pa.date32())
    dates: np.ndarray = local.to_numpy(zero_copy_only=False)
    return dates.astype("datetime64[D]")
