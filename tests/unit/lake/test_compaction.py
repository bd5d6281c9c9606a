"""Compaction: small files of finished days merged, every record kept exactly once, at
every moment a compaction can stop, and for every reader (status, the ETL, its
fingerprint)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from bdp.config import Settings
from bdp.etl import run_etl
from bdp.etl.engine.duckdb import DuckDBEngine
from bdp.etl.runs import RunLog, day_fingerprint
from bdp.lake import Lake
from bdp.lake.compaction import CompactionPolicy, CompactionSummary, compact_dataset
from bdp.lake.local import LocalLake
from bdp.lake.manifests import LandedFiles, manifest_path, merged_manifest_path
from bdp.lake.rawfiles import merged_name, raw_file_name
from bdp.status import dataset_rows

from .conftest import DATASET, Crash, CrashingLake, Landing, lines_of, record_files

D1, D2, D3 = "2024-04-14", "2024-04-15", "2024-04-16"
BEFORE = dt.date(2024, 4, 16)
"""Days before it are finished: D1 and D2 are merged, D3 is not."""
POLICY = CompactionPolicy(target_bytes=1 << 20, min_file_bytes=1 << 20, min_files=3)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    with DuckDBEngine(
        threads=1, memory_limit_mb=256, scratch_root=tmp_path_factory.mktemp("duckdb")
    ) as e:
        yield e


def trickle(landing: Landing) -> None:
    """A day of trickling traffic: small batches on two partitions over three days, a
    few records quarantined, one batch spanning two days."""
    for partition in (0, 1):
        for n in range(4):
            landing.land(partition, {D1: 3 + n}, bad=1 if n == 2 else 0)
        landing.land(partition, {D1: 2, D2: 2})
        for n in range(3):
            landing.land(partition, {D2: 4 + n})
        landing.land(partition, {D3: 5})
    landing.land(0, {D3: 1})


def compact(landing: Landing, lake: Lake | None = None, **policy: int) -> CompactionSummary:
    chosen = dataclasses.replace(POLICY, **policy)
    return compact_dataset(lake or landing.lake, DATASET, BEFORE, chosen, landing.landed(), "zstd")


def status(lake: Lake) -> tuple[dict[str, dict[str, int]], list[str]]:
    rows = dataset_rows(lake, DATASET, verify=True)
    return rows.zones, [f"{c.path}: {c.problem}" for c in rows.damaged]


def current_lines(lake: Lake, zone: str, day: str) -> Counter[bytes]:
    """What a reader reads of a day: each record with how many times it is there."""
    landed = LandedFiles(lake, DATASET)
    files = [f for f in lake.list_files(f"{zone}/{DATASET}/dt={day}") if "part-" in f.path]
    return Counter(lines_of(lake, [f.path for f in landed.current(files)]))


def everything(lake: Lake) -> dict[tuple[str, str], Counter[bytes]]:
    return {
        (zone, day): current_lines(lake, zone, day)
        for zone in ("raw", "quarantine")
        for day in lake.partitions(zone, DATASET)
    }


def test_small_files_of_finished_days_merge_into_one_per_partition(landing: Landing) -> None:
    lake = landing.lake
    trickle(landing)
    before, before_lines = status(lake), everything(lake)
    assert before[1] == []
    summary = compact(landing)
    # D1 and D2: one file per bus partition each; D3 (not finished) as it was.
    assert sorted(p.rsplit("/", 2)[1] for p in record_files(lake) if merged_name(p)) == [
        f"dt={D1}",
        f"dt={D1}",
        f"dt={D2}",
        f"dt={D2}",
    ]
    assert all(merged_name(p) for day in (D1, D2) for p in record_files(lake, day=day))
    assert len(record_files(lake, day=D3)) == 3
    assert (summary.merged_files, summary.source_files) == (4, 18)
    assert summary.records == sum(before[0]["raw"][d] for d in (D1, D2))
    # The same records, once each, in the same counts for status.
    assert status(lake) == before
    assert everything(lake) == before_lines
    # Quarantine files are a batch per arrival day: too few to merge here.
    assert len(record_files(lake, "quarantine")) == 2
    # A second run has nothing left to do.
    again = compact(landing)
    assert (again.merged_files, again.finished_files) == (0, 0)


def test_a_merged_file_records_which_batches_it_holds_in_offset_order(landing: Landing) -> None:
    lake = landing.lake
    trickle(landing)
    originals = {
        path.rsplit("/", 1)[1]: lake.read(path)
        for path in record_files(lake, day=D2)
        if "part-00001-" in path
    }
    compact(landing)
    [merged] = [p for p in record_files(lake, day=D2) if "part-00001-" in p]
    manifest = orjson.loads(lake.read(merged_manifest_path(DATASET, merged)))
    names = [source["name"] for source in manifest["sources"]]
    assert names == sorted(originals)  # offset order
    assert [s["bytes"] for s in manifest["sources"]] == [len(originals[n]) for n in names]
    # The merged file is the sources' records, source after source: each batch's
    # records are found by counting lines.
    lines, at = lines_of(lake, [merged]), 0
    for source in manifest["sources"]:
        expected = lines_of(_Files(originals), [source["name"]])
        assert lines[at : at + source["records"]] == expected
        at += source["records"]
    assert at == manifest["records"] == len(lines)
    first = int(names[0].split("-")[2])
    last = int(names[-1].split("-")[3].split(".")[0])
    assert (manifest["partition"], manifest["first"], manifest["last"]) == (1, first, last)
    assert merged.rsplit("/", 1)[1].startswith(f"part-00001-{first:020d}-{last:020d}-merged")


class _Files:
    """Just enough of a lake to decode files kept in memory."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def read(self, path: str) -> bytes:
        return self.files[path]


def test_batch_manifests_go_once_none_of_their_files_is_left(landing: Landing) -> None:
    lake = landing.lake
    trickle(landing)
    compact(landing)
    left = {f.path for f in lake.list_files(f"_manifests/{DATASET}") if "/merged/" not in f.path}
    # Batches with a file in D3 keep their manifest (it is read for that file); the
    # spanning batch D1+D2 had both its files merged.
    kept = {
        manifest_path(DATASET, p.rsplit("/", 1)[1].removesuffix(".jsonl.zst"))
        for zone in ("raw", "quarantine")
        for p in record_files(lake, zone)
        if not merged_name(p)
    }
    assert left == kept


def test_etl_reads_the_same_rows_and_stale_days_see_no_change(
    landing: Landing, settings: Settings, engine: DuckDBEngine
) -> None:
    lake = landing.lake
    trickle(landing)
    day = dt.date.fromisoformat(D1)

    def etl_rows() -> list[dict]:
        result = run_etl(settings, DATASET, day, lake=lake, engine=engine)
        files = lake.list_files(f"curated/weblog_access_log/dt={D1}")
        rows = [row for f in files for row in pq.read_table(lake.uri(f.path)).to_pylist()]
        assert result.raw_rows == len(rows)
        return sorted(rows, key=repr)

    before = etl_rows()
    log = RunLog(settings.paths.state)
    assert dt.date.fromisoformat(D1) not in log.stale_days(lake, DATASET)
    fingerprint = day_fingerprint(lake, DATASET, day)
    compact(landing)
    # Merging files is not late data: the day's fingerprint and stale days are as they were.
    assert day_fingerprint(lake, DATASET, day) == fingerprint
    assert day not in log.stale_days(lake, DATASET)
    assert etl_rows() == before
    # Late data after compaction is still caught, and lands in the day's rows.
    landing.land(1, {D1: 2})
    assert day in log.stale_days(lake, DATASET)
    after = etl_rows()
    assert len(after) == len(before) + 2
    assert day not in log.stale_days(lake, DATASET)
    # Merging the late batch with the merged file changes nothing either.
    summary = compact(landing, min_files=2)
    assert summary.merged_files == 1
    assert day not in log.stale_days(lake, DATASET)
    assert etl_rows() == after


def test_only_small_files_of_finished_days_with_enough_of_them(landing: Landing) -> None:
    lake = landing.lake
    trickle(landing)
    # Files as big as the smallest one are not small: none is.
    summary = compact(landing, min_file_bytes=min(f.size for f in lake.list_files("raw")))
    assert summary.merged_files == 0
    # Partition groups with fewer small files than asked are left alone: D2 has 4 per
    # partition, D1 has 5.
    summary = compact(landing, min_files=5)
    assert summary.merged_files == 2
    assert len(record_files(lake, day=D2)) == 8


def test_target_bytes_cuts_a_day_into_several_merged_files(landing: Landing) -> None:
    lake = landing.lake
    trickle(landing)
    expected = everything(lake)
    target = sum(f.size for f in lake.list_files(f"raw/{DATASET}/dt={D1}")) // 4
    compact(landing, target_bytes=target)
    merged = [p for p in record_files(lake, day=D1) if merged_name(p)]
    assert len(merged) >= 4
    for path in merged:
        sources = orjson.loads(lake.read(merged_manifest_path(DATASET, path)))["sources"]
        assert len(sources) >= 2 and sum(s["bytes"] for s in sources) <= target
    assert everything(lake) == expected


def test_a_pending_batch_is_not_merged_and_landing_it_again_duplicates_nothing(
    landing: Landing,
) -> None:
    lake = landing.lake
    trickle(landing)
    # The stream job crashed after publishing a batch with late records for D1: its
    # range is pending and it will be landed again, under the same names.
    late = landing.land(0, {D1: 3, D3: 1})
    landing.pending(late)
    expected = everything(lake)
    summary = compact(landing)
    assert summary.not_landed == 1
    [left] = [p for p in record_files(lake, day=D1) if not merged_name(p)]
    assert left.endswith(raw_file_name(0, late.first_offset, late.last_offset, "zstd"))
    # The job restarts and lands the pending range again.
    landing.lander.land(landing.dataset, late)
    assert everything(lake) == expected
    assert status(lake)[1] == []
    # Once done, the next compaction merges it.
    assert compact(landing, min_files=2).merged_files == 1
    assert everything(lake) == expected


def test_a_merged_batch_landed_again_is_not_counted_and_then_deleted(landing: Landing) -> None:
    lake = landing.lake
    trickle(landing)
    compact(landing)
    expected, counts = everything(lake), status(lake)
    # A replayed micro-batch (Spark) lands a batch again that was merged since.
    landing.replay(1, 0, {D1: 3})
    assert any(not merged_name(p) for p in record_files(lake, day=D1))
    assert everything(lake) == expected
    assert status(lake) == counts
    summary = compact(landing)
    assert summary.finished_files == 1
    assert all(merged_name(p) for p in record_files(lake, day=D1))
    assert everything(lake) == expected


def test_a_damaged_file_is_left_alone_and_named(landing: Landing) -> None:
    lake = landing.lake
    trickle(landing)
    victim = sorted(p for p in record_files(lake, day=D1) if "part-00000-" in p)[1]
    local = Path(lake.uri(victim))
    local.write_bytes(local.read_bytes()[:-3])
    summary = compact(landing)
    assert summary.damaged == [victim]
    assert lake.exists(victim)
    # Its partition's day is left as it was; the rest is merged.
    assert not any(merged_name(p) for p in record_files(lake, day=D1) if "part-00000-" in p)
    assert summary.merged_files == 3


def test_a_crash_at_any_step_leaves_a_consistent_lake_and_a_rerun_finishes(
    landing: Landing, tmp_path: Path
) -> None:
    trickle(landing)
    template = Path(landing.lake.uri(""))
    expected, counts = everything(landing.lake), status(landing.lake)
    # A run that does not crash: how many changes it makes, and where it ends.
    clean = CrashingLake(shutil.copytree(template, tmp_path / "clean"), at=0)
    compact(landing, clean)
    finished = sorted(f.path for f in clean.list_files(""))
    assert clean.changes > 20
    for at in range(1, clean.changes + 1):
        root = shutil.copytree(template, tmp_path / f"crash-{at}")
        with pytest.raises(Crash):
            compact(landing, CrashingLake(root, at))
        stopped = LocalLake(root)
        # Whatever the step, every record is there once, and nothing looks damaged.
        assert everything(stopped) == expected, f"crash before change {at}"
        assert status(stopped) == counts, f"crash before change {at}"
        # A run after it finishes the job: the lake the clean run left.
        compact(landing, stopped)
        assert sorted(f.path for f in stopped.list_files("")) == finished, at
        assert everything(stopped) == expected
        shutil.rmtree(root)
