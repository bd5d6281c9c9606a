"""Landing records: every file's count known without opening it, damage seen by size."""

from __future__ import annotations

from pathlib import Path

import orjson

from bdp.lake import partition_dir
from bdp.lake.manifests import (
    BatchFiles,
    LandedFiles,
    MergedFile,
    SourceFile,
    manifest_path,
    merged_manifest_path,
)
from bdp.lake.rawfiles import decode_body, encode_lines, raw_file_name

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


def merge(lake, directory: str, paths: list[str]) -> str:
    """Merge landed files as compaction does (manifest, then file), sources left."""
    stem = MergedFile.stem_for(paths)
    merged = MergedFile("weblogs", directory, stem, "zstd")
    landed = LandedFiles(lake, "weblogs")
    for path in paths:
        info = by_path(lake)[path]
        body = decode_body(lake.read(path), path)
        held = landed.merged_sources(info) or (
            SourceFile(path.rsplit("/", 1)[1], body.count(b"\n"), info.size),
        )
        merged.add(body, held)
    merged.publish(lake)
    return merged.path


def three_batches(lake) -> tuple[str, list[str]]:
    day = partition_dir("raw", "weblogs", "2024-04-16")
    for n, first in enumerate((0, 10, 20)):
        files = BatchFiles("weblogs", 0, first, first + 9, 10, "zstd")
        files.add(day, LINES[first : first + 4 + n])
        files.publish(lake)
    return day, sorted(p for p in by_path(lake) if p.startswith(day))


def test_a_file_a_merged_file_beside_it_holds_is_left_out(recording_lake) -> None:
    day, sources = three_batches(recording_lake)
    merged = merge(recording_lake, day, sources[:2])
    landed = LandedFiles(recording_lake, "weblogs")
    current = landed.current(by_path(recording_lake).values())
    assert [info.path for info in current] == [merged, sources[2]]
    checks = [landed.check(info, verify=True) for info in current]
    assert [(c.records, c.problem) for c in checks] == [(9, None), (6, None)]
    assert landed.landed_as(current[0]) == [
        (p.rsplit("/", 1)[1], by_path(recording_lake)[p].size) for p in sources[:2]
    ]
    # Merged again with the last batch: the first merged file is held in turn.
    again = merge(recording_lake, day, [merged, sources[2]])
    current = LandedFiles(recording_lake, "weblogs").current(by_path(recording_lake).values())
    assert [info.path for info in current] == [again]
    record = orjson.loads(recording_lake.read(merged_manifest_path("weblogs", again)))
    assert [s["name"] for s in record["sources"]] == [p.rsplit("/", 1)[1] for p in sources]
    assert [s["records"] for s in record["sources"]] == [4, 5, 6] and record["records"] == 15


def test_a_merged_file_without_its_manifest_is_damaged_and_holds_nothing(recording_lake) -> None:
    day, sources = three_batches(recording_lake)
    merged = merge(recording_lake, day, sources)
    recording_lake.delete(merged_manifest_path("weblogs", merged))
    landed = LandedFiles(recording_lake, "weblogs")
    current = landed.current(by_path(recording_lake).values())
    assert len(current) == 4  # nothing tells what it holds: nothing is left out
    check = landed.check(by_path(recording_lake)[merged])
    assert check.problem is not None and "no manifest" in check.problem
    recording_lake.publish(merged_manifest_path("weblogs", merged), b"{")
    check = LandedFiles(recording_lake, "weblogs").check(by_path(recording_lake)[merged])
    assert check.problem is not None and "its manifest" in check.problem


def test_a_merged_file_newer_than_the_manifest_listing_is_found(recording_lake) -> None:
    day, sources = three_batches(recording_lake)
    landed = LandedFiles(recording_lake, "weblogs")
    landed.check(by_path(recording_lake)[sources[0]])  # lists the manifests
    merged = merge(recording_lake, day, sources)
    current = landed.current(by_path(recording_lake).values())
    assert [info.path for info in current] == [merged]
    assert landed.check(current[0]).problem is None
