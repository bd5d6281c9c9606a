"""Lake retention: days older than a dataset's retention go from every zone, with their
manifests; younger days, and batches still being landed, stay."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bdp.config import Settings, load_settings
from bdp.etl.runs import RunLog, stale_days
from bdp.lake import Lake
from bdp.lake.compaction import CompactionPolicy, compact_dataset
from bdp.lake.local import LocalLake
from bdp.lake.manifests import manifest_path
from bdp.lake.rawfiles import batch_stem
from bdp.lake.retention import expire_dataset, oldest_kept_day, retention_days
from bdp.status import dataset_rows

from .conftest import DATASET, Crash, CrashingLake, Landing, record_files

D1, D2, D3 = "2024-04-14", "2024-04-15", "2024-04-16"
TABLES = ("weblog_access_log", "weblog_url_daily")


def landed_days(landing: Landing) -> None:
    for partition in (0, 1):
        for _ in range(3):
            landing.land(partition, {D1: 2}, bad=1)
        landing.land(partition, {D1: 1, D2: 2})  # one batch, files in two days
        landing.land(partition, {D2: 3})
        landing.land(partition, {D3: 3})
    for table in TABLES:
        for day in (D1, D2, D3):
            landing.lake.publish(f"curated/{table}/dt={day}/part-0.parquet", b"x" * 10)


def files_under(lake: Lake, prefix: str) -> list[str]:
    return [f.path for f in lake.list_files(prefix)]


def test_days_before_the_oldest_kept_go_from_every_zone(landing: Landing) -> None:
    lake = landing.lake
    landed_days(landing)
    # D1's raw files merged (4 per partition), its quarantine files not (3 per partition).
    policy = CompactionPolicy(target_bytes=1 << 20, min_file_bytes=1 << 20, min_files=4)
    compact_dataset(lake, DATASET, dt.date(2024, 4, 15), policy, landing.landed(), "zstd")
    assert files_under(lake, f"_manifests/{DATASET}/merged/raw/dt={D1}")
    doomed = [f for f in lake.list_files(f"raw/{DATASET}/dt={D1}")]
    doomed += [f for f in lake.list_files(f"quarantine/{DATASET}/dt={D1}")]
    doomed += [f for table in TABLES for f in lake.list_files(f"curated/{table}/dt={D1}")]
    summary = expire_dataset(lake, DATASET, TABLES, dt.date(2024, 4, 15), landing.landed())
    assert summary.deleted == {
        "raw": [D1],
        "quarantine": [D1],
        "curated/weblog_access_log": [D1],
        "curated/weblog_url_daily": [D1],
    }
    assert (summary.files, summary.bytes_freed) == (len(doomed), sum(f.size for f in doomed))
    assert lake.partitions("raw", DATASET) == [D2, D3]
    assert lake.partitions("quarantine", DATASET) == []
    assert all(lake.partitions("curated", table) == [D2, D3] for table in TABLES)
    assert not files_under(lake, f"_manifests/{DATASET}/merged/raw/dt={D1}")
    # Manifests of batches with no file left go (those whose quarantined records were
    # in D1); the spanning batches' stay for their file in D2.
    manifests = {p for p in files_under(lake, f"_manifests/{DATASET}") if "/merged/" not in p}
    assert summary.deleted_manifests == 6
    assert manifests == {
        manifest_path(DATASET, p.rsplit("/", 1)[1].removesuffix(".jsonl.zst"))
        for p in record_files(lake)
    }
    # Once more: nothing left to delete.
    again = expire_dataset(lake, DATASET, TABLES, dt.date(2024, 4, 15), landing.landed())
    assert (again.deleted, again.files, again.deleted_manifests) == ({}, 0, 0)


def test_a_batch_being_landed_keeps_its_manifest(landing: Landing) -> None:
    lake = landing.lake
    landed_days(landing)
    # The stream job published the next batch's manifest and crashed before its files.
    batch = landing.batch(0, {D1: 2})
    landing.pending(batch)
    pending = manifest_path(DATASET, batch_stem(0, batch.first_offset, batch.last_offset))
    lake.publish(pending, b'{"files": {}}')
    expire_dataset(lake, DATASET, TABLES, dt.date(2024, 4, 17), landing.landed())
    assert lake.partitions("raw", DATASET) == []
    assert files_under(lake, f"_manifests/{DATASET}") == [pending]


def settings_with(tmp_path: Path, **maintenance: object) -> Settings:
    schema = tmp_path / "orders.json"
    schema.write_text('{"type": "object"}')
    return Settings.model_validate(
        {
            "home": str(tmp_path / "home"),
            "maintenance": maintenance,
            "datasets": {"orders": {"schema": str(schema), "event_time": "t", "retention_days": 7}},
        }
    )


def test_a_dataset_s_own_retention_comes_before_the_default(tmp_path: Path) -> None:
    day = dt.date(2024, 4, 16)
    forever = settings_with(tmp_path)
    assert (retention_days(forever, "orders"), retention_days(forever, "weblogs")) == (7, None)
    assert oldest_kept_day(forever, "weblogs", day) is None
    assert oldest_kept_day(forever, "orders", day) == dt.date(2024, 4, 10)  # 7 days kept
    monthly = settings_with(tmp_path, lake_retention_days=30)
    assert (retention_days(monthly, "orders"), retention_days(monthly, "weblogs")) == (7, 30)


def test_a_day_past_retention_is_never_stale(tmp_path: Path, landing: Landing) -> None:
    lake = landing.lake
    old = (dt.date.today() - dt.timedelta(days=400)).isoformat()
    landing.land(0, {old: 2})
    keep_all = load_settings(home=tmp_path / "home", environ={}, cwd=tmp_path)
    assert stale_days(keep_all, lake, DATASET) == [dt.date.fromisoformat(old)]
    # With a retention of 30 days, the old day is the lake's to delete, not to re-run (a
    # late record there would replace the warehouse's day with itself).
    monthly = load_settings(
        home=tmp_path / "home",
        environ={"BDP_MAINTENANCE__LAKE_RETENTION_DAYS": "30"},
        cwd=tmp_path,
    )
    assert stale_days(monthly, lake, DATASET) == []
    assert RunLog(monthly.paths.state).stale_days(lake, DATASET) == [dt.date.fromisoformat(old)]


def test_a_crash_at_any_step_leaves_no_file_without_its_record(
    landing: Landing, tmp_path: Path
) -> None:
    landed_days(landing)
    policy = CompactionPolicy(target_bytes=1 << 20, min_file_bytes=1 << 20, min_files=2)
    compact_dataset(landing.lake, DATASET, dt.date(2024, 4, 16), policy, landing.landed(), "zstd")
    template = Path(landing.lake.uri(""))
    oldest = dt.date(2024, 4, 16)
    clean = CrashingLake(shutil.copytree(template, tmp_path / "clean"), at=0)
    expire_dataset(clean, DATASET, TABLES, oldest, landing.landed())
    finished = sorted(f.path for f in clean.list_files(""))
    assert clean.changes > 8
    for at in range(1, clean.changes + 1):
        root = shutil.copytree(template, tmp_path / f"crash-{at}")
        with pytest.raises(Crash):
            expire_dataset(CrashingLake(root, at), DATASET, TABLES, oldest, landing.landed())
        stopped = LocalLake(root)
        rows = dataset_rows(stopped, DATASET, verify=True)
        assert rows.damaged == [], f"crash before change {at}"
        assert set(rows.zones["raw"]) <= {D1, D2, D3}
        assert rows.zones["raw"][D3] == 6
        expire_dataset(stopped, DATASET, TABLES, oldest, landing.landed())
        assert sorted(f.path for f in stopped.list_files("")) == finished, at
        shutil.rmtree(root)
