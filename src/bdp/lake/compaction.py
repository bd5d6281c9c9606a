"""Merging the small raw and quarantine files of finished days, without a record lost or
counted twice.

A trickle of traffic lands one file per batch per bus partition: hundreds of small
files a day, which cost a remote lake (HDFS's NameNode) and every reader dearly. For
each day before `before`, in each zone, the small files (below `min_file_bytes`) of each
bus partition are merged, in offset order, into files of about `target_bytes`. A merged
file is named after the offset range it covers, `part-<p>-<first>-<last>-merged`, and its
manifest lists the batch files it holds with their records and bytes
(`bdp.lake.manifests.MergedFile`): which offsets are in which file, and how many records
each batch put there, stays known.

Exactly once. Only batches that every stream job is done with are merged
(`LandingProgress.landed`): a pending range is landed again on restart under the same
names, so a batch still pending is left alone. Should a batch be landed again all the same
(a Spark micro-batch replayed), its file appears beside the merged file that holds it;
readers leave it out (`LandedFiles.current`) and the next compaction deletes it.

Crash safety. For each merged file: its manifest is published, then the file, then the
files it merged are deleted. Readers leave out any file whose batches a merged file beside
it holds, so at every step they count each record once: before the merged file exists
they read the sources, after it they read it alone. A compaction stopped part way is
finished by the next one, which first deletes the files that merged files hold (once it
has read the merged file whole and found the records its manifest records), then deletes
merged manifests whose file never appeared, then merges what is left. Batch manifests
whose files are all gone are deleted last (`sweep_batch_manifests`).
"""

from __future__ import annotations

import logging
import posixpath
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bdp.lake.base import FileInfo, Lake, partition_dir
from bdp.lake.manifests import (
    MANIFESTS,
    MERGED,
    Landed,
    LandedFiles,
    MergedFile,
    SourceFile,
    merged_manifest_path,
    sweep_batch_manifests,
)
from bdp.lake.rawfiles import (
    RAW_SUFFIXES,
    RawFileError,
    batch_name,
    decode_body,
    merged_name,
    stem_range,
)
from bdp.logs import fields

__all__ = ["ZONES", "CompactionPolicy", "CompactionSummary", "compact_dataset"]

LOG = logging.getLogger("bdp.lake.compaction")

ZONES = ("raw", "quarantine")


@dataclass(frozen=True)
class CompactionPolicy:
    target_bytes: int
    """Largest merged file, in bytes of the files merged into it."""
    min_file_bytes: int
    """Files smaller than this are merged."""
    min_files: int
    """A day's bus partition with fewer small files is left as it is."""


@dataclass
class CompactionSummary:
    """What one compaction did, JSON-ready through `as_dict`."""

    days: int = 0
    """Day partitions looked at (raw and quarantine)."""
    merged_files: int = 0
    source_files: int = 0
    """Files merged into them, and so deleted."""
    records: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    finished_files: int = 0
    """Files an earlier, interrupted compaction had merged but not deleted."""
    deleted_manifests: int = 0
    not_landed: int = 0
    """Small files left alone because a stream job may still land their batch again."""
    damaged: list[str] = field(default_factory=list)
    """Files left alone because they differ from their record (`bdp status` names them)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "merged_files": self.merged_files,
            "source_files": self.source_files,
            "records": self.records,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "finished_files": self.finished_files,
            "deleted_manifests": self.deleted_manifests,
            "not_landed": self.not_landed,
            "damaged": list(self.damaged),
        }


def compact_dataset(
    lake: Lake,
    dataset: str,
    before: date,
    policy: CompactionPolicy,
    landed: Landed,
    compression: str,
) -> CompactionSummary:
    """Merge the small files of every day of `dataset` before `before`, in both zones;
    new merged files are encoded with `compression`. Idempotent: a second run finds
    nothing left to do, and a run after an interrupted one finishes it."""
    summary = CompactionSummary()
    records = LandedFiles(lake, dataset)
    for zone in ZONES:
        for day in lake.partitions(zone, dataset):
            dt = _as_date(day)
            if dt is None or dt >= before:
                continue
            summary.days += 1
            _Directory(lake, dataset, zone, day, records, summary).compact(
                policy, landed, compression
            )
    summary.deleted_manifests += sweep_batch_manifests(lake, dataset, landed)
    return summary


class _Directory:
    """One zone's day partition of one dataset, as listed when its compaction began."""

    def __init__(
        self,
        lake: Lake,
        dataset: str,
        zone: str,
        day: str,
        records: LandedFiles,
        summary: CompactionSummary,
    ) -> None:
        self.lake, self.dataset, self.records, self.summary = lake, dataset, records, summary
        self.path = partition_dir(zone, dataset, day)
        self.manifests = posixpath.join(MANIFESTS, dataset, MERGED, zone, f"dt={day}")
        self.files = [f for f in lake.list_files(self.path) if f.path.endswith(RAW_SUFFIXES)]

    def compact(self, policy: CompactionPolicy, landed: Landed, compression: str) -> None:
        current = self.records.current(self.files)
        self._finish(current)
        self._drop_orphan_manifests()
        for chunk in self._plan(current, policy, landed):
            self._merge(chunk, compression)

    def _finish(self, current: list[FileInfo]) -> None:
        """Delete the files merged files hold (left by an interrupted compaction, or
        landed again since), once the merged file holding them reads back whole."""
        kept = {info.path for info in current}
        merged = [info for info in current if merged_name(info.path)]
        sound: dict[str, bool] = {}
        for info in self.files:
            if info.path in kept:
                continue
            mine = _held(self.records, info)
            holder = next(
                (m for m in merged if mine <= _held(self.records, m)),
                None,
            )
            if holder is None:
                continue  # no merged file left holds all of it: it stays
            if holder.path not in sound:
                check = self.records.check(holder, verify=True)
                sound[holder.path] = check.problem is None
                if check.problem:
                    self.summary.damaged.append(holder.path)
                    LOG.warning("not deleting what %s holds: it %s", holder.path, check.problem)
            if sound[holder.path]:
                self._delete(info)
                self.summary.finished_files += 1

    def _drop_orphan_manifests(self) -> None:
        """Merged manifests whose file was never published (a run stopped between the
        two), or whose file was merged again and deleted."""
        present = {merged_name(info.path) for info in self.files}
        for info in self.lake.list_files(self.manifests):
            stem = posixpath.basename(info.path).removesuffix(".json")
            if stem not in present:
                self.lake.delete(info.path)

    def _plan(
        self, current: list[FileInfo], policy: CompactionPolicy, landed: Landed
    ) -> list[list[FileInfo]]:
        """The groups of small files to merge: per bus partition, in offset order, cut
        where a group would outgrow the target; groups of one are left as they are."""
        small: dict[int, list[tuple[int, FileInfo]]] = defaultdict(list)
        for info in current:
            stem = batch_name(info.path) or merged_name(info.path)
            if stem is None or info.size >= policy.min_file_bytes:
                continue  # a file bdp did not name, or big enough
            partition, first, last = stem_range(stem)
            if batch_name(info.path) and not landed(partition, first, last):
                self.summary.not_landed += 1
                continue
            small[partition].append((first, info))
        taken = {merged_name(info.path) for info in current}
        chunks = []
        for partition in sorted(small):
            if len(small[partition]) < policy.min_files:
                continue
            ordered = [info for _, info in sorted(small[partition], key=lambda f: f[0])]
            for chunk in _cut(ordered, policy.target_bytes):
                stem = MergedFile.stem_for(info.path for info in chunk)
                if len(chunk) < 2:
                    continue
                if stem in taken:
                    # Only after a batch of a merged range was landed again: merging it
                    # would rewrite the merged file under its own name.
                    LOG.warning("not merging into %s/%s: the name is taken", self.path, stem)
                    continue
                chunks.append(chunk)
        return chunks

    def _merge(self, chunk: list[FileInfo], compression: str) -> None:
        stem = MergedFile.stem_for(info.path for info in chunk)
        merged = MergedFile(self.dataset, self.path, stem, compression)
        for info in chunk:
            problem = self._add(merged, info)
            if problem is not None:
                self.summary.damaged.append(info.path)
                LOG.warning("not merging %s into %s: it %s", info.path, merged.path, problem)
                return
        record = merged.publish(self.lake)
        for info in chunk:
            self._delete(info)
        self.summary.merged_files += 1
        self.summary.source_files += len(chunk)
        self.summary.records += record.records
        self.summary.bytes_before += sum(info.size for info in chunk)
        self.summary.bytes_after += record.bytes
        LOG.info(
            "merged %s",
            fields(path=merged.path, files=len(chunk), records=record.records, bytes=record.bytes),
        )

    def _add(self, merged: MergedFile, info: FileInfo) -> str | None:
        """Add one file's records, checked whole against its record; what is wrong with
        it otherwise."""
        check = self.records.check(info)
        if check.problem:
            return check.problem
        try:
            body = decode_body(self.lake.read(info.path), info.path)
        except RawFileError as exc:
            return exc.reason
        counted = body.count(b"\n")
        if counted != check.records:
            return f"holds {counted:,} records, but {check.records:,} were landed"
        holds = self.records.merged_sources(info) or (
            SourceFile(posixpath.basename(info.path), counted, info.size),
        )
        try:
            merged.add(body, holds)
        except ValueError:
            return "holds other records than its manifest's sources add up to"
        return None

    def _delete(self, info: FileInfo) -> None:
        self.lake.delete(info.path)
        if merged_name(info.path):
            # After the file: a merged file never stands without its manifest.
            self.lake.delete(merged_manifest_path(self.dataset, info.path))


def _held(records: LandedFiles, info: FileInfo) -> frozenset[str]:
    batch = batch_name(info.path)
    if batch is not None:
        return frozenset((batch,))
    return frozenset(source.batch for source in records.merged_sources(info))


def _cut(files: list[FileInfo], target_bytes: int) -> list[list[FileInfo]]:
    chunks: list[list[FileInfo]] = [[]]
    size = 0
    for info in files:
        if chunks[-1] and size + info.size > target_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(info)
        size += info.size
    return [chunk for chunk in chunks if chunk]


def _as_date(day: str) -> date | None:
    try:
        return date.fromisoformat(day)
    except ValueError:
        return None
