"""DuckDB warehouse specifics: registry, messages, durability, additive schema change."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bdp.config import load_settings
from bdp.errors import NotFoundError, UnknownNameError
from bdp.warehouse import QueryError, open_warehouse
from bdp.warehouse.duckdb import DuckDBWarehouse, WarehouseLockedError

DAY = dt.date(2024, 4, 16)


def write(path: Path, columns: dict[str, list]) -> list[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return [str(path)]


def test_open_by_backend_name(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, environ={})
    with open_warehouse(settings) as warehouse:
        assert isinstance(warehouse, DuckDBWarehouse)
        assert warehouse.path == settings.paths.warehouse
    with pytest.raises(UnknownNameError, match="duckdb"):
        open_warehouse(load_settings(home=tmp_path, environ={"BDP_WAREHOUSE__BACKEND": "duck"}))


def test_mysql_opens_without_connecting(tmp_path: Path) -> None:
    from bdp.warehouse.mysql import MysqlWarehouse

    # Nothing listens on port 1: opening must not connect (each operation does).
    environ = {"BDP_WAREHOUSE__BACKEND": "mysql", "BDP_WAREHOUSE__MYSQL__PORT": "1"}
    with open_warehouse(load_settings(home=tmp_path, environ=environ)) as warehouse:
        assert isinstance(warehouse, MysqlWarehouse)


def test_query_error_carries_duckdb_message(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        warehouse.replace_partition("t", DAY, write(tmp_path / "1.parquet", {"id": [1]}))
        with pytest.raises(QueryError) as raised:
            warehouse.query("SELECT * FROM no_such_table")
    assert "no_such_table" in str(raised.value) and "Catalog Error" in str(raised.value)


def test_before_the_first_load_the_warehouse_is_empty(tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    assert warehouse.tables() == []
    assert warehouse.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]
    with pytest.raises(NotFoundError, match="no table 't'"):
        warehouse.row_count("t")


def test_loaded_rows_survive_reopening(tmp_path: Path) -> None:
    files = write(tmp_path / "dt=2024-04-16" / "a.parquet", {"id": [1, 2]})
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        warehouse.replace_partition("t", DAY, files)
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        assert warehouse.row_count("t", DAY) == 2


def test_a_new_column_is_added_and_older_days_read_null(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        warehouse.replace_partition("t", DAY, write(tmp_path / "1.parquet", {"id": [1]}))
        later = write(tmp_path / "2.parquet", {"id": [2], "extra": ["x"]})
        warehouse.replace_partition("t", DAY + dt.timedelta(days=1), later)
        rows = warehouse.query("SELECT id, extra FROM t ORDER BY id").to_pylist()
    assert rows == [{"id": 1, "extra": None}, {"id": 2, "extra": "x"}]


def test_queries_read_and_statements_without_results_return_an_empty_table(
    tmp_path: Path,
) -> None:
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        warehouse.replace_partition("t", DAY, write(tmp_path / "1.parquet", {"id": [1]}))
        assert warehouse.query("CHECKPOINT").num_rows == 0
        # Tables change only through loads: a query cannot write.
        with pytest.raises(QueryError, match="read-only"):
            warehouse.query("CREATE VIEW v AS SELECT 1 AS one")
        with pytest.raises(QueryError, match="read-only"):
            warehouse.query("DELETE FROM t")
        assert warehouse.row_count("t") == 1


HOLDER = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.readline()
conn.close()
"""
"""Holds the warehouse file open for writing until a line arrives on stdin."""


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen]]:
    path = tmp_path / "w.duckdb"
    with DuckDBWarehouse(path) as warehouse:
        warehouse.replace_partition("t", DAY, write(tmp_path / "1.parquet", {"id": [1]}))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    try:
        yield path, holder
    finally:
        holder.kill()
        holder.wait()


def test_an_operation_waits_for_another_process_that_holds_the_file(held) -> None:
    path, holder = held
    waiting = threading.Event()
    warehouse = DuckDBWarehouse(path, lock_timeout_s=120, on_wait=lambda reason: waiting.set())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        count = pool.submit(warehouse.row_count, "t")
        assert waiting.wait(timeout=60), "the query never found the file held"
        assert not count.done()
        holder.communicate("release\n", timeout=60)  # the other process lets go
        assert count.result(timeout=60) == 1


def test_a_file_held_past_the_timeout_is_a_clear_error(held) -> None:
    path, _ = held
    warehouse = DuckDBWarehouse(path, lock_timeout_s=0.3)
    with pytest.raises(WarehouseLockedError, match=r"in use by another process \(waited 0.3 s"):
        warehouse.query("SELECT 1")
