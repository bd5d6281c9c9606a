"""The embedded warehouse: one DuckDB database file, loaded straight from Parquet."""

from __future__ import annotations

import contextlib
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from bdp.errors import NotFoundError
from bdp.warehouse.base import (
    PARTITION_COLUMN,
    QueryError,
    Warehouse,
    WarehouseCapabilities,
    WarehouseError,
    check_table_name,
)

__all__ = ["DuckDBWarehouse"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBWarehouse(Warehouse):
    capabilities = WarehouseCapabilities(reads_parquet=True, transactional_ddl=True)

    def __init__(self, path: str | Path, *, memory_limit_mb: int | None = None) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Rows of a table have no order to keep; letting DuckDB insert in parallel without
        # one also spares the checkpoint a rewrite of every loaded row group.
        config: dict[str, Any] = {
            "preserve_insertion_order": False,
            # Curated files are loaded once; caching them in DuckDB's pool only costs memory.
            "enable_external_file_cache": False,
        }
        if memory_limit_mb:
            config["memory_limit"] = f"{memory_limit_mb}MB"
        try:
            self._conn = duckdb.connect(str(path), config=config)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc
        # Timestamps are stored as instants; UTC keeps what queries show unambiguous.
        self._run("SET TimeZone = 'UTC'")
        self.path = str(path)

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        # Fetch everything: DuckDB refuses new work while a result is left unread.
        return self._conn.execute(sql).fetchall()

    def replace_partition(self, table: str, dt: date, parquet_uris: list[str]) -> int:
        check_table_name(table)
        exists = table in self.tables()
        if not parquet_uris and not exists:
            return 0  # nothing to take a schema from, and no rows to remove
        target, day = _quote(table), f"DATE {_literal(dt.isoformat())}"
        files = ", ".join(_literal(uri) for uri in parquet_uris)
        # The files sit under `dt=D/`: without this, DuckDB would add that as a column.
        source = f"read_parquet([{files}], hive_partitioning = false)"
        try:
            self._run("BEGIN TRANSACTION")
            if not exists:
                self._run(
                    f"CREATE TABLE {target} AS SELECT *, CAST(NULL AS DATE) AS "
                    f"{PARTITION_COLUMN} FROM {source} LIMIT 0"
                )
            elif parquet_uris:
                self._add_new_columns(table, source)
            self._run(f"DELETE FROM {target} WHERE {PARTITION_COLUMN} = {day}")
            loaded = 0
            if parquet_uris:
                [(loaded,)] = self._run(
                    f"INSERT INTO {target} BY NAME SELECT *, {day} AS {PARTITION_COLUMN} "
                    f"FROM {source}"
                )
            self._run("COMMIT")
        except duckdb.Error as exc:
            self._rollback()
            raise WarehouseError(f"loading {table} dt={dt}: {exc}") from exc
        return int(loaded)

    def _rollback(self) -> None:
        # The transaction may never have started, or DuckDB may have ended it already.
        with contextlib.suppress(duckdb.Error):
            self._run("ROLLBACK")

    def _add_new_columns(self, table: str, source: str) -> None:
        # Additive schema change (a transform gained a column): older days read NULL.
        have = {row[0] for row in self._run(f"DESCRIBE {_quote(table)}")}
        for name, kind, *_ in self._run(f"DESCRIBE SELECT * FROM {source}"):
            if name not in have:
                self._run(f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(name)} {kind}")

    def query(self, sql: str) -> pa.Table:
        try:
            relation = self._conn.sql(sql)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        except duckdb.Error as exc:
            raise QueryError(str(exc), sql) from exc

    def tables(self) -> list[str]:
        rows = self._run(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_catalog = current_database() "
            "ORDER BY table_name"
        )
        return [row[0] for row in rows]

    def row_count(self, table: str, dt: date | None = None) -> int:
        check_table_name(table)
        if table not in self.tables():
            raise NotFoundError(f"no table {table!r} in the warehouse")
        where = f" WHERE {PARTITION_COLUMN} = DATE {_literal(dt.isoformat())}" if dt else ""
        [(count,)] = self._run(f"SELECT count(*) FROM {_quote(table)}{where}")
        return int(count)

    def close(self) -> None:
        self._conn.close()
