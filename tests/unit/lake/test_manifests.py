"""Landing records: every file's count known without opening it, damage seen by size."""

from __future__ import annotations

from pathlib import Path

import orjson

from bdp.lake import partition_dir
from bdp.lake.manifests import BatchFiles, LandedFiles, manifest_path
from bdp.lake.rawfiles import encode_lines, raw_file_name

LINES = [b'{"n":%d}' % i for i in range(30)]


def land(lake, compression: str = "zstd") -> BatchFiles:
    """One batch of offsets 100..131 with gaps at 110 and 120: 20 raw records over two
    days and 10 quarantined."""
    files = BatchFiles("weblogs", 2, 100, 131, 30, compression)
    files.add(partition_dir("raw", "weblogs", "2024-04-16"), LINES[:12])
    files.add(partition_dir("raw", "weblogs", "2024-04-17"), LINES[12:20])
    files.add(partition_dir("quarantine", "weblogs", "2024-04-17"), LINES[20:])
    files.publish(lake)
    return files


def manifest(lake, files: BatchFiles) -> dict:
    return orjson.loads(lake.read(manifest_path("weblogs", files.batch)))


def by_path(lake) -> dict[str, object]:
    return {
        info.path: info
        for zone in ("raw", "quarantine")
        for info in lake.list_files(f"{zone}/weblogs")
    }


def test_a_batch_records_every_file_before_publishing_it(recording_lake) -> None:
    files = land(recording_lake)
    record = manifest(recording_lake, files)
    assert recording_lake.published[0] == manifest_path("weblogs", files.batch)
    assert sorted(recording_lake.published[1:]) == sorted(record["files"])
    assert (record["partition"], record["first"], record["last"]) == (2, 100, 131)
    # The files' counts add up to the batch's: its offset range less its two gaps.
    assert sum(f["records"] for f in record["files"].values()) == record["records"] == 30
    assert [f["records"] for f in record["files"].values()] == [12, 8, 10]
    for path, info in by_path(recording_lake).items():
        assert record["files"][path]["bytes"] == info.size


def test_counts_come_from_the_record_without_reading_the_files(recording_lake) -> None:
    files = land(recording_lake)
    landed = LandedFiles(recording_lake, "weblogs")
    recording_lake.reads.clear()
    checks = [landed.check(info) for info in by_path(recording_lake).values()]
    assert [(c.records, c.problem) for c in checks] == [(12, None), (8, None), (10, None)]
    assert recording_lake.reads == [manifest_path("weblogs", files.batch)]


def test_a_file_cut_short_is_seen_by_its_size(recording_lake) -> None:
    land(recording_lake, "gzip")
    path = next(p for p in by_path(recording_lake) if "2024-04-16" in p)
    local = Path(recording_lake.uri(path))
    local.write_bytes(local.read_bytes()[:-8])
    check = LandedFiles(recording_lake, "weblogs").check(by_path(recording_lake)[path])
    assert check.records == 12
    assert check.problem is not None and "bytes, but" in check.problem


def test_verify_counts_what_a_size_cannot_tell(recording_lake) -> None:
    files = land(recording_lake)
    # The record claims one record more than the file holds, at the same size.
    record = manifest(recording_lake, files)
    path = next(p for p in record["files"] if "2024-04-17" in p and p.startswith("raw/"))
    record["files"][path]["records"] += 1
    recording_lake.publish(manifest_path("weblogs", files.batch), orjson.dumps(record))
    info = by_path(recording_lake)[path]
    assert LandedFiles(recording_lake, "weblogs").check(info).problem is None
    verified = LandedFiles(recording_lake, "weblogs").check(info, verify=True)
    assert verified.problem == "holds 8 records, but 9 were landed"


def test_files_without_a_record_are_counted_by_reading_them(recording_lake) -> None:
    path = f"raw/weblogs/dt=2024-04-16/{raw_file_name(0, 0, 29, 'gzip')}"
    recording_lake.publish(path, encode_lines(LINES, "gzip"))
    check = LandedFiles(recording_lake, "weblogs").check(by_path(recording_lake)[path])
    assert (check.records, check.problem) == (30, None)
    recording_lake.publish(path, encode_lines(LINES, "gzip")[:-4])
    check = LandedFiles(recording_lake, "weblogs").check(by_path(recording_lake)[path])
    assert check.problem is not None and "cannot be decompressed" in check.problem


def test_a_file_its_batch_does_not_record_is_a_leftover(recording_lake) -> None:
    files = land(recording_lake)
    # An earlier landing of the same offsets put a file in another day.
    stray = f"raw/weblogs/dt=2024-04-15/{files.name}"
    recording_lake.publish(stray, encode_lines(LINES[:3], "zstd"))
    check = LandedFiles(recording_lake, "weblogs").check(by_path(recording_lake)[stray])
    assert check.records == 3
    assert check.problem is not None and "not among the files" in check.problem
