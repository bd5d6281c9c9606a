"""The embedded warehouse: one DuckDB database file, loaded straight from Parquet.

DuckDB lets one process write a database file, or several read it, never both at once.
So that queries can run between a day's loads (and an ETL can run while someone
queries), every operation opens the file for just as long as it takes: loads read-write,
everything else read-only. An operation that finds the file held by another process
waits for it, up to `lock_timeout_s`, then fails naming the holder.

A read-only connection is also shut off from everything outside the file: DuckDB
would otherwise let a query write files (`COPY ... TO`, `EXPORT DATABASE`), attach
other databases, read any file (`read_csv`, `read_parquet`), install or load
extensions, or change those settings back. Its configuration is locked once open.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from bdp.errors import NotFoundError
from bdp.warehouse import WAREHOUSES
from bdp.warehouse.base import (
    PARTITION_COLUMN,
    QueryError,
    Warehouse,
    WarehouseError,
    check_column_name,
    check_table_name,
)

__all__ = ["DuckDBWarehouse", "WarehouseLockedError"]

RETRY_FIRST_S = 0.05
RETRY_MAX_S = 1.0

# Queries read tables stored in the database file itself, never lake files, so a
# read-only connection needs no access outside it: no allowed paths or directories.
_READ_ONLY_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}


class WarehouseLockedError(WarehouseError):
    """Another process held the warehouse file for longer than the lock timeout."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    # Another process holds the file, or this one has it open the other way (a load
    # read-write while a thread queries read-only): either way, wait for it.
    return "Could not set lock on file" in str(exc) or (
        "with a different configuration than existing connections" in str(exc)
    )


def _holder(exc: duckdb.Error) -> str:
    """Who holds the file, from DuckDB's message: "PID 123 (/usr/bin/python3)"."""
    found = re.search(r"lock is held in (.+?) \(PID (\d+)\)", str(exc))
    if found:
        return f"PID {found[2]} ({found[1]})"
    return (
        "another connection of this process" if "different configuration" in str(exc) else str(exc)
    )


class DuckDBWarehouse(Warehouse):
    capabilities = WAREHOUSES.capabilities("duckdb")

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit_mb: int | None = None,
        lock_timeout_s: float = 60.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """`on_wait` is called once per operation that has to wait for another
        process, with who holds the file."""
        self.path = str(path)
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(
                f"cannot make the warehouse's folder {Path(path).parent}: {exc.strerror}"
            ) from None
        # Rows of a table have no order to keep; letting DuckDB insert in parallel without
        # one also spares the checkpoint a rewrite of every loaded row group.
        self._config: dict[str, Any] = {
            "preserve_insertion_order": False,
            # Curated files are loaded once; caching them in DuckDB's pool only costs memory.
            "enable_external_file_cache": False,
        }
        if memory_limit_mb:
            self._config["memory_limit"] = f"{memory_limit_mb}MB"
        self.lock_timeout_s = lock_timeout_s
        self._on_wait = on_wait

    @contextlib.contextmanager
    def _connection(self, *, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = self._open(write=write)
        try:
            # Timestamps are stored as instants; UTC keeps what queries show unambiguous.
            # (Set here, not in the config: DuckDB knows TimeZone only once it is open.)
            conn.execute("SET TimeZone = 'UTC'")
            if not write:
                # Last: from now on no statement can undo the restrictions.
                conn.execute("SET lock_configuration = true")
            yield conn
        finally:
            conn.close()

    def _open(self, *, write: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        pause, waited = RETRY_FIRST_S, False
        while True:
            try:
                config = self._config if write else {**self._config, **_READ_ONLY_CONFIG}
                return duckdb.connect(self.path, read_only=not write, config=config)
            except duckdb.Error as exc:
                if not _is_lock_conflict(exc):
                    raise WarehouseError(f"cannot open warehouse {self.path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise WarehouseLockedError(
                        f"warehouse {self.path} is in use by another process "
                        f"(waited {self.lock_timeout_s:g} s; "
                        f"`warehouse.lock_timeout_s` sets how long): {_holder(exc)}"
                    ) from exc
                if not waited and self._on_wait is not None:
                    self._on_wait(_holder(exc))
                waited = True
                # DuckDB offers no way to block on its file lock: poll, backing off.
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, RETRY_MAX_S)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection; before the first load, to a new, empty warehouse."""
        if not Path(self.path).exists():
            # DuckDB opens only existing files read-only: create the empty database.
            with self._connection(write=True):
                pass
        with self._connection(write=False) as conn:
            yield conn

    @staticmethod
    def _run(
        conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        # Fetch everything: DuckDB refuses new work while a result is left unread.
        return conn.execute(sql, params).fetchall()

    def replace_partition(
        self,
        table: str,
        dt: date,
        parquet_uris: list[str],
        *,
        where: Mapping[str, str] | None = None,
    ) -> int:
        check_table_name(table)
        # The slice's columns, quoted, each with its value as a parameter.
        slice_ = [
            (_quote(check_column_name(column)), value) for column, value in (where or {}).items()
        ]
        with self._connection(write=True) as conn:
            exists = table in self._tables(conn)
            if not parquet_uris and not exists:
                return 0  # nothing to take a schema from, and no rows to remove
            target, day = _quote(table), f"DATE {_literal(dt.isoformat())}"
            files = ", ".join(_literal(uri) for uri in parquet_uris)
            # The files sit under `dt=D/`: without this, DuckDB would add that as a column.
            source = f"read_parquet([{files}], hive_partitioning = false)"
            try:
                self._run(conn, "BEGIN TRANSACTION")
                if not exists:
                    self._run(
                        conn,
                        f"CREATE TABLE {target} AS SELECT *, CAST(NULL AS DATE) AS "
                        f"{PARTITION_COLUMN} FROM {source} LIMIT 0",
                    )
                elif parquet_uris:
                    self._add_new_columns(conn, table, source)
                if slice_ and parquet_uris:
                    self._refuse_rows_outside(conn, table, dt, source, slice_)
                in_slice = "".join(f" AND {column} = ?" for column, _ in slice_)
                self._run(
                    conn,
                    f"DELETE FROM {target} WHERE {PARTITION_COLUMN} = {day}{in_slice}",
                    [value for _, value in slice_],
                )
                loaded = 0
                if parquet_uris:
                    [(loaded,)] = self._run(
                        conn,
                        f"INSERT INTO {target} BY NAME SELECT *, {day} AS {PARTITION_COLUMN} "
                        f"FROM {source}",
                    )
                self._run(conn, "COMMIT")
            except duckdb.Error as exc:
                # The transaction may never have started, or DuckDB may have ended it.
                with contextlib.suppress(duckdb.Error):
                    self._run(conn, "ROLLBACK")
                raise WarehouseError(f"loading {table} dt={dt}: {exc}") from exc
            except WarehouseError:
                with contextlib.suppress(duckdb.Error):
                    self._run(conn, "ROLLBACK")
                raise
        return int(loaded)

    def _refuse_rows_outside(
        self,
        conn: duckdb.DuckDBPyConnection,
        table: str,
        dt: date,
        source: str,
        slice_: list[tuple[str, str]],
    ) -> None:
        """A slice's files must hold only its rows: any other would survive (or
        duplicate on) the next replace of the slice."""
        outside = " OR ".join(f"{column} IS DISTINCT FROM ?" for column, _ in slice_)
        [(count,)] = self._run(
            conn,
            f"SELECT count(*) FROM {source} WHERE {outside}",
            [value for _, value in slice_],
        )
        if count:
            wanted = ", ".join(f"{column} = {value!r}" for column, value in slice_)
            raise WarehouseError(
                f"loading {table} dt={dt}: {count} rows of the files are not in the slice "
                f"{wanted} being replaced"
            )

    def _add_new_columns(self, conn: duckdb.DuckDBPyConnection, table: str, source: str) -> None:
        # Additive schema change (a transform gained a column): older days read NULL. A
        # column whose type changed is refused rather than cast.
        have = {row[0]: row[1] for row in self._run(conn, f"DESCRIBE {_quote(table)}")}
        for name, kind, *_ in self._run(conn, f"DESCRIBE SELECT * FROM {source}"):
            if name not in have:
                self._run(conn, f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(name)} {kind}")
            elif have[name] != kind:
                raise WarehouseError(
                    f"loading {table}: column {name!r} is {have[name]} in the table but "
                    f"{kind} in the files; a column's type cannot change"
                )

    def query(self, sql: str) -> pa.Table:
        """Queries read the warehouse's tables, nothing else: the tables change only
        through loads, and files outside the database are out of reach."""
        with self._reading() as conn:
            try:
                statements = len(conn.extract_statements(sql))
                if statements == 0:
                    raise QueryError("the query holds no SQL statement", sql)
                if statements > 1:
                    # DuckDB would run them all and return only the last result.
                    raise QueryError(
                        f"the query holds {statements} SQL statements; run one at a time", sql
                    )
                relation = conn.sql(sql)
                return relation.to_arrow_table() if relation is not None else pa.table({})
            except duckdb.PermissionException as exc:
                raise QueryError(f"queries read only the warehouse's tables: {exc}", sql) from exc
            except duckdb.Error as exc:
                raise QueryError(str(exc), sql) from exc

    def tables(self) -> list[str]:
        with self._reading() as conn:
            return self._tables(conn)

    def _tables(self, conn: duckdb.DuckDBPyConnection) -> list[str]:
        rows = self._run(
            conn,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_catalog = current_database() "
            "ORDER BY table_name",
        )
        return [row[0] for row in rows]

    def row_count(self, table: str, dt: date | None = None) -> int:
        check_table_name(table)
        with self._reading() as conn:
            if table not in self._tables(conn):
                raise NotFoundError(f"no table {table!r} in the warehouse")
            where = f" WHERE {PARTITION_COLUMN} = DATE {_literal(dt.isoformat())}" if dt else ""
            [(count,)] = self._run(conn, f"SELECT count(*) FROM {_quote(table)}{where}")
        return int(count)

    def close(self) -> None:
        """Nothing stays open between operations."""
