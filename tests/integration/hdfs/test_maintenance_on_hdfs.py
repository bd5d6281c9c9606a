"""Compaction and retention on an HDFS lake (a real NameNode and DataNode): the day's
small files merged, every record kept once for status and the ETL, then the day
deleted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from bdp.bus import open_bus
from bdp.config import Settings, load_settings
from bdp.etl import run_etl
from bdp.etl.runs import day_fingerprint
from bdp.lake import open_lake
from bdp.lake.hdfs import HdfsLake
from bdp.lake.rawfiles import RAW_SUFFIXES, merged_name
from bdp.orchestrate.dags import build_dags
from bdp.orchestrate.operations import TaskContext, run_operation
from bdp.status import dataset_rows
from bdp.stream.embedded import EmbeddedStreamJob

from .conftest import DATASET, DAY, cli

MAINTENANCE = {
    "BDP_STREAM__BATCH_RECORDS": "200",
    "BDP_MAINTENANCE__COMPACT_MIN_FILES": "2",
    "BDP_MAINTENANCE__LAKE_RETENTION_DAYS": "3",
}


def landed_in_small_batches(home: Path, env: dict[str, str]) -> Settings:
    env = {**env, **MAINTENANCE}
    cli(home, env, "simulate", DATASET, "--date", DAY, "--users", "300", "--json")
    settings = load_settings(home=home, environ=env)
    with open_bus(settings) as bus:
        EmbeddedStreamJob(settings, open_lake(settings), [DATASET], bus=bus).run(until_idle=True)
    return settings


def run(settings: Settings, dag_id: str, day: dt.date) -> dict:
    dag = build_dags(settings)[dag_id]
    now = dt.datetime.now(dt.UTC)
    summary = run_operation(TaskContext(settings, dag, dag.tasks[0], day, now))
    orjson.dumps(summary)
    return summary


@pytest.mark.service("hdfs")
def test_compaction_then_retention_on_hdfs(tmp_path: Path, hdfs_env: dict[str, str]) -> None:
    settings = landed_in_small_batches(tmp_path / "home", hdfs_env)
    lake = open_lake(settings)
    assert isinstance(lake, HdfsLake)
    day = dt.date.fromisoformat(DAY)
    files = [f for f in lake.list_files(f"raw/{DATASET}/dt={DAY}") if f.path.endswith(RAW_SUFFIXES)]
    assert len(files) > 8
    rows = dataset_rows(lake, DATASET, verify=True)
    fingerprint = day_fingerprint(lake, DATASET, day)
    before = run_etl(settings, DATASET, day)
    summary = run(settings, "raw_compaction", day + dt.timedelta(days=3))
    assert summary["source_files"] == len(files) and summary["damaged"] == []
    merged = lake.list_files(f"raw/{DATASET}/dt={DAY}")
    assert 0 < len(merged) <= 4 and all(merged_name(f.path) for f in merged)
    assert dataset_rows(lake, DATASET, verify=True) == rows
    assert day_fingerprint(lake, DATASET, day) == fingerprint
    after = run_etl(settings, DATASET, day)
    assert (after.raw_rows, after.tables) == (before.raw_rows, before.tables)
    assert after.raw_fingerprint == before.raw_fingerprint
    # Three days kept from D = DAY + 2: DAY stays; from DAY + 3 it goes, with its
    # manifests.
    assert run(settings, "lake_retention", day + dt.timedelta(days=2))["deleted_partitions"] == 0
    gone = run(settings, "lake_retention", day + dt.timedelta(days=3))
    assert gone["datasets"][DATASET]["deleted_partitions"]["raw"] == [DAY]
    assert lake.partitions("raw", DATASET) == []
    assert lake.list_files(f"_manifests/{DATASET}") == []
    assert all(lake.partitions("curated", table) == [] for table in before.tables)
