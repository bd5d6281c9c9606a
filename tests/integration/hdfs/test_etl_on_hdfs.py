"""The DuckDB ETL on an HDFS lake: through a local scratch copy, same rows as locally."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bdp.etl import run_etl
from bdp.etl.transforms import TRANSFORMS
from bdp.lake import open_lake
from bdp.warehouse import open_warehouse

from .conftest import DATASET, DAY


def warehouse_rows(settings, table: str) -> list[dict]:
    with open_warehouse(settings) as warehouse:
        return sorted(warehouse.query(f"SELECT * FROM {table}").to_pylist(), key=repr)


@pytest.mark.service("hdfs")
def test_duckdb_etl_on_hdfs_gives_the_rows_of_a_local_lake(on_hdfs, on_local, tmp_path) -> None:
    hdfs_settings, _, generated = on_hdfs()
    local_settings, _, _ = on_local()
    assert hdfs_settings.etl.engine == "duckdb"
    scratch_before = set(Path(tempfile.gettempdir()).glob("bdp-etl-*"))
    day = dt.date.fromisoformat(DAY)
    on_hdfs_result = run_etl(hdfs_settings, DATASET, day)
    # Run twice: a re-run replaces the day everywhere and duplicates nothing.
    on_hdfs_result = run_etl(hdfs_settings, DATASET, day)
    local_result = run_etl(local_settings, DATASET, day)
    assert on_hdfs_result.raw_rows == local_result.raw_rows == generated
    assert on_hdfs_result.tables == local_result.tables
    assert set(Path(tempfile.gettempdir()).glob("bdp-etl-*")) == scratch_before
    lake = open_lake(hdfs_settings)
    for table in TRANSFORMS[DATASET].TABLES:
        assert warehouse_rows(hdfs_settings, table) == warehouse_rows(local_settings, table)
        # The curated partition is on HDFS, one swapped-in directory of Parquet files.
        assert lake.list_dirs(f"curated/{table}") == [f"dt={DAY}"]
        files = lake.list_files(f"curated/{table}/dt={DAY}")
        assert files and all(f.path.endswith(".parquet") for f in files)
        copy = tmp_path / f"{table}.parquet"
        rows = 0
        for info in files:
            copy.write_bytes(lake.read(info.path))
            rows += pq.read_metadata(copy).num_rows
        assert rows == on_hdfs_result.tables[table]
