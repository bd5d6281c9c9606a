"""DuckDB warehouse specifics: registry, messages, durability, additive schema change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bdp.config import load_settings
from bdp.errors import MissingExtraError, UnknownNameError
from bdp.warehouse import QueryError, WarehouseUnavailableError, open_warehouse
from bdp.warehouse.duckdb import DuckDBWarehouse

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


def test_mysql_needs_its_extra_or_is_not_available_yet(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, environ={"BDP_WAREHOUSE__BACKEND": "mysql"})
    with pytest.raises((MissingExtraError, WarehouseUnavailableError)) as raised:
        open_warehouse(settings)
    if isinstance(raised.value, MissingExtraError):
        assert raised.value.extra == "mysql"


def test_query_error_carries_duckdb_message(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse, pytest.raises(QueryError) as raised:
        warehouse.query("SELECT * FROM no_such_table")
    assert "no_such_table" in str(raised.value) and "Catalog Error" in str(raised.value)


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


def test_statements_without_results_return_an_empty_table(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        assert warehouse.query("CREATE VIEW v AS SELECT 1 AS one").num_rows == 0
        assert warehouse.query("SELECT one FROM v").to_pylist() == [{"one": 1}]
