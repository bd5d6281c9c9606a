"""What landing recorded about each batch's files: how many records, how many bytes.

One batch of one bus partition becomes several files, all named after its offset
range: one raw file per event date and one quarantine file per arrival date. So the
name alone cannot say how many records one file holds. Before publishing them, the
stream job publishes the batch's manifest, `_manifests/<dataset>/<batch>.json`
(`<batch>` being `part-<partition>-<first>-<last>`), which lists every file's path,
records and size; the files' records add up to the batch's, the offset range less any
gaps in the bus's offsets. Re-landing a batch rewrites its manifest with its files,
so both stay one per batch.

Readers thus know every file's count without opening it, and can tell a file cut
short or altered from its size alone (`LandedFiles.check`); `verify=True` also
decompresses the file and counts its records. Files landed before manifests existed
have none: they are counted by reading them, as they always were.

A merged file (`bdp.lake.compaction`) has a manifest of its own,
`_manifests/<dataset>/merged/<zone>/dt=<day>/<stem>.json`: its records and bytes, and the
batch files it holds (`sources`: name, records and bytes of each, in the order of their
records in it), so offsets stay traceable to files. It is published before the merged
file, and the merged file before its sources are deleted: for a while both are there.
Readers therefore take a day's files through `LandedFiles.current`, which leaves out a
file whose batches a merged file beside it holds, so no record is counted twice whatever
moment a compaction stopped at. Batch manifests of merged files stay until compaction or
retention deletes them; nothing counts records from a manifest whose file is gone.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

from bdp.lake.base import FileInfo, Lake
from bdp.lake.rawfiles import (
    EXTENSIONS,
    LinesEncoder,
    RawFileError,
    batch_name,
    batch_stem,
    count_lines,
    encode_lines,
    merged_name,
    merged_stem,
    stem_range,
)

__all__ = [
    "MANIFESTS",
    "BatchFiles",
    "FileCheck",
    "FileRecord",
    "Landed",
    "LandedFiles",
    "MergedFile",
    "SourceFile",
    "manifest_path",
    "merged_manifest_path",
    "refuse_damaged",
    "sweep_batch_manifests",
]

MANIFESTS = "_manifests"
MERGED = "merged"

Landed = Callable[[int, int, int], bool]
"""(partition, first, last) → whether the stream jobs landed that batch and none of them
will land it again (`bdp.stream.checkpoint.LandingProgress.landed`)."""


@dataclass(frozen=True)
class FileRecord:
    records: int
    bytes: int


@dataclass(frozen=True)
class FileCheck:
    """A landed file as a reader found it: its records (as recorded at landing, or as
    counted for a file without a record) and what is wrong with it, if anything."""

    path: str
    records: int
    problem: str | None = None


@dataclass(frozen=True)
class SourceFile:
    """A batch's file as landed, now held by a merged file."""

    name: str
    records: int
    bytes: int

    @property
    def batch(self) -> str:
        return batch_name(self.name) or self.name

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "records": self.records, "bytes": self.bytes}


@dataclass(frozen=True)
class _Manifest:
    files: dict[str, FileRecord]
    sources: tuple[SourceFile, ...] = ()
    """A merged file's: the batch files it holds."""


def manifest_path(dataset: str, batch: str) -> str:
    return f"{MANIFESTS}/{dataset}/{batch}.json"


def merged_manifest_path(dataset: str, path: str) -> str:
    """The manifest of the merged file at `path` (`<zone>/<dataset>/dt=<day>/<name>`)."""
    directory = posixpath.dirname(path)
    zone, _, *rest = directory.split("/")
    stem = merged_name(path) or posixpath.basename(path)
    return posixpath.join(MANIFESTS, dataset, MERGED, zone, *rest, f"{stem}.json")


class BatchFiles:
    """The files one batch lands, encoded, published together with their manifest."""

    def __init__(
        self, dataset: str, partition: int, first: int, last: int, records: int, compression: str
    ) -> None:
        """`records` is the batch's count: its offset range less the gaps in it."""
        self.dataset, self.compression = dataset, compression
        self.batch = batch_stem(partition, first, last)
        self.name = f"{self.batch}{EXTENSIONS[compression]}"
        self._batch = {"partition": partition, "first": first, "last": last, "records": records}
        self._files: dict[str, tuple[bytes, int]] = {}

    def add(self, directory: str, lines: list[bytes]) -> None:
        """The batch's file in `directory` (a zone's date partition) holds `lines`."""
        self._files[f"{directory}/{self.name}"] = (
            encode_lines(lines, self.compression),
            len(lines),
        )

    def publish(self, lake: Lake) -> None:
        """The manifest first, then the files: no file is ever visible without its record."""
        files = {
            path: {"records": count, "bytes": len(data)}
            for path, (data, count) in self._files.items()
        }
        manifest = orjson.dumps({**self._batch, "files": files})
        lake.publish(manifest_path(self.dataset, self.batch), manifest)
        for path, (data, _) in self._files.items():
            lake.publish(path, data)


class MergedFile:
    """One file merging small files of one bus partition in one directory, encoded as
    they are added, then published after its manifest."""

    def __init__(self, dataset: str, directory: str, stem: str, compression: str) -> None:
        self.dataset = dataset
        self.path = f"{directory}/{stem}{EXTENSIONS[compression]}"
        self.sources: list[SourceFile] = []
        self._encoder = LinesEncoder(compression)
        self._records = 0

    @staticmethod
    def stem_for(names: Iterable[str]) -> str:
        """The merged stem of files of one partition: the range their names cover."""
        ranges = [stem_range(posixpath.basename(name)) for name in names]
        partitions = {partition for partition, _, _ in ranges}
        if len(partitions) != 1:
            raise ValueError(f"files of partitions {sorted(partitions)} cannot be merged")
        first = min(first for _, first, _ in ranges)
        last = max(last for _, _, last in ranges)
        return merged_stem(partitions.pop(), first, last)

    def add(self, body: bytes, holds: Iterable[SourceFile]) -> None:
        """A file's records (`decode_body`), and the batch files whose records they are."""
        holds = list(holds)
        records = body.count(b"\n")
        if records != sum(source.records for source in holds):
            raise ValueError(f"{records} records added for {holds}")
        self._encoder.write(body)
        self.sources += holds
        self._records += records

    def publish(self, lake: Lake) -> FileRecord:
        """The manifest first, then the file (so it never stands without its record)."""
        data = self._encoder.finish()
        record = FileRecord(self._records, len(data))
        partition, first, last = stem_range(posixpath.basename(self.path))
        manifest = {
            "partition": partition,
            "first": first,
            "last": last,
            "records": record.records,
            "files": {self.path: {"records": record.records, "bytes": record.bytes}},
            "sources": [source.as_dict() for source in self.sources],
        }
        lake.publish(merged_manifest_path(self.dataset, self.path), orjson.dumps(manifest))
        lake.publish(self.path, data)
        return record


class LandedFiles:
    """The landing records of one dataset's files; each manifest is read once, when a
    file of its batch (or the merged file it describes) is first looked at."""

    def __init__(self, lake: Lake, dataset: str) -> None:
        self.lake, self.dataset = lake, dataset
        self._present: set[str] | None = None
        self._manifests: dict[str, _Manifest] = {}

    def current(self, files: Iterable[FileInfo]) -> list[FileInfo]:
        """`files` less those whose records a merged file among them, in the same
        directory, holds: the sources a compaction has not deleted yet, or a smaller
        merged file merged again. What every reader counts and reads."""
        files = list(files)
        holders: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
        for info in files:
            if merged_name(info.path):
                holders[posixpath.dirname(info.path)].append((info.path, self._held(info.path)))
        if not holders:
            return files
        kept = []
        for info in files:
            mine = self._held(info.path)
            around = holders.get(posixpath.dirname(info.path), [])
            if not (mine and any(_covers(other, held, info.path, mine) for other, held in around)):
                kept.append(info)
        return kept

    def landed_as(self, info: FileInfo) -> list[tuple[str, int]]:
        """Name and size of each batch file whose records `info` holds, as it was landed:
        the file itself, or a merged file's sources. Reads no batch manifest."""
        sources = self.merged_sources(info)
        if sources:
            return [(source.name, source.bytes) for source in sources]
        return [(posixpath.basename(info.path), info.size)]

    def merged_sources(self, info: FileInfo) -> tuple[SourceFile, ...]:
        """The batch files a merged file holds, in order; none for any other file, or
        for a merged file whose manifest is missing or unreadable (`check` says so)."""
        if merged_name(info.path) is None:
            return ()
        try:
            manifest = self._recorded(info.path)
        except RawFileError:
            return ()
        return () if manifest is None else manifest.sources

    def check(self, info: FileInfo, verify: bool = False) -> FileCheck:
        """Compare a raw or quarantine file with its record. Without `verify` only its
        size is compared, and only files without a record are read."""
        merged = merged_name(info.path) is not None
        try:
            manifest = self._recorded(info.path)
        except RawFileError as exc:
            whose = "its manifest" if merged else "its batch's manifest"
            return FileCheck(info.path, 0, f"{whose} {exc.path} {exc.reason}")
        recorded = None if manifest is None else manifest.files
        if recorded is None or info.path not in recorded:
            counted, problem = self._count(info.path)
            if problem is None and merged:
                problem = (
                    "was merged by compaction but has no manifest (its records cannot be told"
                    " apart from those of the files it merged)"
                    if recorded is None
                    else "is not the file its manifest records"
                )
            elif recorded is not None and problem is None:
                problem = (
                    "is not among the files its batch recorded at landing"
                    " (left over from an earlier landing of the same offsets?)"
                )
            return FileCheck(info.path, counted, problem)
        record = recorded[info.path]
        if info.size != record.bytes:
            return FileCheck(
                info.path,
                record.records,
                f"has {info.size:,} bytes, but {record.bytes:,} were landed (cut short or altered)",
            )
        if verify:
            counted, problem = self._count(info.path)
            if problem is None and counted != record.records:
                problem = f"holds {counted:,} records, but {record.records:,} were landed"
            return FileCheck(info.path, record.records, problem)
        return FileCheck(info.path, record.records)

    def _held(self, path: str) -> frozenset[str]:
        """The batches whose records the file at `path` holds, as far as it is known."""
        batch = batch_name(path)
        if batch is not None:
            return frozenset((batch,))
        # A merged file without a readable manifest stands for nothing (`check` says so).
        return frozenset(s.batch for s in self.merged_sources(FileInfo(path, 0, 0)))

    def _recorded(self, path: str) -> _Manifest | None:
        """The manifest of `path`'s batch, or of the merged file `path`; None without one."""
        batch = batch_name(path)
        if batch is not None:
            location = manifest_path(self.dataset, batch)
        elif merged_name(path) is not None:
            location = merged_manifest_path(self.dataset, path)
        else:
            return None
        if location not in self._manifests:
            if self._present is None:
                # One listing tells which batches have a manifest, instead of asking for
                # each one (a round trip per batch on a remote lake).
                listed = self.lake.list_files(f"{MANIFESTS}/{self.dataset}")
                self._present = {info.path for info in listed}
            if location not in self._present and (
                # A merged file newer than the listing: its manifest came before it.
                batch is not None or not self.lake.exists(location)
            ):
                return None
            self._manifests[location] = _parse(self.lake.read(location), self.lake.uri(location))
        return self._manifests[location]

    def _count(self, path: str) -> tuple[int, str | None]:
        try:
            return count_lines(self.lake.read(path), path), None
        except RawFileError as exc:
            return 0, exc.reason


def _covers(holder: str, held: frozenset[str], path: str, mine: frozenset[str]) -> bool:
    """Whether the merged file `holder` holds every batch of the file `path`: a merged
    file holding the same batches as another one is left out for the one named last."""
    if holder == path or not mine <= held:
        return False
    return mine != held or path < holder


def _parse(data: bytes, location: str) -> _Manifest:
    try:
        found = orjson.loads(data)
        files = {
            path: FileRecord(int(f["records"]), int(f["bytes"]))
            for path, f in found["files"].items()
        }
        sources = tuple(
            SourceFile(str(s["name"]), int(s["records"]), int(s["bytes"]))
            for s in found.get("sources", ())
        )
        return _Manifest(files, sources)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise RawFileError(location, "is unreadable") from None


def sweep_batch_manifests(lake: Lake, dataset: str, landed: Landed) -> int:
    """Delete the manifests of batches none of whose files is left in the raw and
    quarantine zones (merged, or deleted by retention); how many went.

    `landed(partition, first, last)` must say whether the stream jobs are done with a
    batch: a batch being landed has its manifest published before its files, and keeps
    it. Two listings and no manifest read, whatever the number of batches."""
    prefix = f"{MANIFESTS}/{dataset}"
    manifests = [
        info.path
        for info in lake.list_files(prefix)
        if posixpath.dirname(info.path) == prefix
        and batch_name(info.path.removesuffix(".json") + EXTENSIONS["none"])
    ]
    present = {
        batch
        for zone in ("raw", "quarantine")
        for info in lake.list_files(f"{zone}/{dataset}")
        if (batch := batch_name(info.path)) is not None
    }
    deleted = 0
    for path in manifests:
        batch = posixpath.basename(path).removesuffix(".json")
        if batch not in present and landed(*stem_range(batch)):
            lake.delete(path)
            deleted += 1
    return deleted


def refuse_damaged(lake: Lake, checks: list[FileCheck]) -> None:
    """Raise a `RawFileError` naming the first damaged file, if any is."""
    damaged = [check for check in checks if check.problem]
    if damaged:
        more = f" (and {len(damaged) - 1} more damaged files)" if len(damaged) > 1 else ""
        raise RawFileError(lake.uri(damaged[0].path), f"{damaged[0].problem}{more}")
