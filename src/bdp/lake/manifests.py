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
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from bdp.lake.base import FileInfo, Lake
from bdp.lake.rawfiles import (
    EXTENSIONS,
    RawFileError,
    batch_name,
    batch_stem,
    count_lines,
    encode_lines,
)

__all__ = [
    "BatchFiles",
    "FileCheck",
    "FileRecord",
    "LandedFiles",
    "manifest_path",
    "refuse_damaged",
]

MANIFESTS = "_manifests"


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


def manifest_path(dataset: str, batch: str) -> str:
    return f"{MANIFESTS}/{dataset}/{batch}.json"


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


class LandedFiles:
    """The landing records of one dataset's files; each manifest is read once, when a
    file of its batch is first checked."""

    def __init__(self, lake: Lake, dataset: str) -> None:
        self.lake, self.dataset = lake, dataset
        self._present: set[str] | None = None
        self._manifests: dict[str, dict[str, FileRecord]] = {}

    def check(self, info: FileInfo, verify: bool = False) -> FileCheck:
        """Compare a raw or quarantine file with its record. Without `verify` only its
        size is compared, and only files without a record are read."""
        try:
            recorded = self._recorded(info.path)
        except RawFileError as exc:
            return FileCheck(info.path, 0, f"its batch's manifest {exc.path} {exc.reason}")
        if recorded is None or info.path not in recorded:
            counted, problem = self._count(info.path)
            if recorded is not None and problem is None:
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

    def _recorded(self, path: str) -> dict[str, FileRecord] | None:
        """The files recorded by the manifest of `path`'s batch; None without one."""
        batch = batch_name(path)
        if batch is None:
            return None
        if batch not in self._manifests:
            if self._present is None:
                # One listing tells which batches have a manifest, instead of asking for
                # each one (a round trip per batch on a remote lake).
                listed = self.lake.list_files(f"{MANIFESTS}/{self.dataset}")
                self._present = {info.path for info in listed}
            location = manifest_path(self.dataset, batch)
            if location not in self._present:
                return None
            self._manifests[batch] = _parse(self.lake.read(location), self.lake.uri(location))
        return self._manifests[batch]

    def _count(self, path: str) -> tuple[int, str | None]:
        try:
            return count_lines(self.lake.read(path), path), None
        except RawFileError as exc:
            return 0, exc.reason


def _parse(data: bytes, location: str) -> dict[str, FileRecord]:
    try:
        files = orjson.loads(data)["files"]
        return {path: FileRecord(int(f["records"]), int(f["bytes"])) for path, f in files.items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise RawFileError(location, "is unreadable") from None


def refuse_damaged(lake: Lake, checks: list[FileCheck]) -> None:
    """Raise a `RawFileError` naming the first damaged file, if any is."""
    damaged = [check for check in checks if check.problem]
    if damaged:
        more = f" (and {len(damaged) - 1} more damaged files)" if len(damaged) > 1 else ""
        raise RawFileError(lake.uri(damaged[0].path), f"{damaged[0].problem}{more}")
