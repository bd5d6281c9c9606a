"""The embedded batch engine: SQLFrame's DuckDB session on an in-memory DuckDB.

The raw frame is a view over `read_json`: nothing is parsed until the runner
materialises the day's typed events, which parses the JSON once, straight into a
table of typed columns in a scratch database. Every table of the dataset is then
derived from that table. Scratch tables and spill files live until the engine closes.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

from bdp.datasets import Dataset
from bdp.etl.engine import ENGINES
from bdp.etl.engine.base import DataFrame, Engine, EngineError
from bdp.etl.schema import RawField, raw_fields

__all__ = ["DuckDBEngine", "duckdb_type"]

BUFFER_POOL_SHARE = 0.75
"""Share of the ETL's memory budget given to DuckDB's buffer pool. Its limit covers
only the pool; Python, query results and the warehouse load in the same process need
the rest, so the process as a whole stays within `etl.memory_limit_mb`."""

KEPT = "kept"
"""The scratch database that holds materialised results until the engine closes."""

MAX_RECORD_BYTES = 16 * 1024 * 1024
"""Largest JSON line DuckDB will parse; above the collector's own limit."""


def duckdb_type(field: RawField) -> str:
    if field.sql_type == "json":
        return "JSON"  # an array or free-form object, kept as its JSON text
    if not field.nested:
        return "VARCHAR"
    members = ", ".join(f"{_quote(child.name)} {duckdb_type(child)}" for child in field.children)
    return f"STRUCT({members})"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine(Engine):
    name = "duckdb"
    capabilities = ENGINES.capabilities(name)

    def __init__(
        self, *, threads: int = 0, memory_limit_mb: int = 2048, scratch_root: Path | None = None
    ) -> None:
        from sqlframe.base.session import _BaseSession
        from sqlframe.duckdb import DuckDBSession

        if scratch_root is not None:
            scratch_root.mkdir(parents=True, exist_ok=True)
        self._scratch = Path(tempfile.mkdtemp(prefix="bdp-etl-", dir=scratch_root))
        config: dict[str, Any] = {
            "memory_limit": f"{int(memory_limit_mb * BUFFER_POOL_SHARE)}MB",
            "temp_directory": str(self._scratch / "spill"),
            # Output row order is not part of any table's contract; dropping it lets
            # DuckDB stream writes in parallel with less memory.
            "preserve_insertion_order": False,
            # Each file is read a few times at most and the OS caches it anyway; keeping
            # copies in DuckDB's buffer pool would only crowd out the sorts.
            "enable_external_file_cache": False,
        }
        if threads:
            config["threads"] = threads
        self._conn = duckdb.connect(":memory:", config=config)
        self._run("SET TimeZone = 'UTC'")
        # Spark sorts NULL first ascending and last descending; DuckDB must agree, or a
        # window ordered over a nullable column sees rows in another order.
        self._run("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")
        # SQLFrame keeps one session per process and would hand back an older engine's
        # session (and connection); clearing the slot gives this engine its own.
        _BaseSession._instance = None
        self._session = DuckDBSession(conn=self._conn)
        self._views = itertools.count()
        # Materialised results go to a scratch database file rather than TEMP tables: its
        # rows are compressed (about 8x for typed events) and written out while the table
        # is built, so a 10M-event day takes ~200 MB of disk instead of ~1.7 GB of the
        # buffer pool that the window sorts need. Reads go through the same buffer pool.
        self._run(f"ATTACH {_literal(str(self._scratch / 'kept.duckdb'))} AS {KEPT}")
        self._kept: dict[int, str] = {}

    @property
    def session(self) -> Any:
        return self._activate()

    @property
    def functions(self) -> ModuleType:
        from sqlframe.duckdb import functions

        return functions

    @property
    def Window(self) -> Any:
        from sqlframe.duckdb import Window

        return Window

    def _activate(self) -> Any:
        from sqlframe.base.session import _BaseSession

        _BaseSession._instance = self._session  # type: ignore[assignment]  # a class-level singleton slot typed None
        return self._session

    def read_raw(self, dataset: Dataset, uris: list[str]) -> DataFrame:
        session = self._activate()
        fields = raw_fields(dataset)
        view = f"raw_{dataset.name}_{next(self._views)}"
        if uris:
            columns = (
                "{"
                + ", ".join(f"{_literal(f.name)}: {_literal(duckdb_type(f))}" for f in fields)
                + "}"
            )
            files = "[" + ", ".join(_literal(uri) for uri in uris) + "]"
            source = (
                f"SELECT * FROM read_json({files}, format = 'newline_delimited', "
                f"compression = 'auto', columns = {columns}, "
                f"maximum_object_size = {MAX_RECORD_BYTES})"
            )
        else:
            nulls = ", ".join(f"CAST(NULL AS {duckdb_type(f)}) AS {_quote(f.name)}" for f in fields)
            source = f"SELECT {nulls} WHERE false"
        self._run(f"CREATE TEMP VIEW {_quote(view)} AS {source}")
        return self._frame(session, view, [f.name for f in fields])

    def materialize(self, df: DataFrame) -> DataFrame:
        session = self._activate()
        columns = list(df.columns)
        table = f"{KEPT}.{_quote(f'{KEPT}_{next(self._views)}')}"
        *setup, query = df.sql(dialect="duckdb", optimize=False, pretty=False, as_list=True)
        for statement in setup:
            self._run(statement)
        self._run(f"CREATE TABLE {table} AS {query}")
        frame = self._frame(session, table, columns)
        self._kept[id(frame)] = table
        return frame

    def release(self, df: DataFrame) -> None:
        table = self._kept.pop(id(df), None)
        if table is not None:
            self._run(f"DROP TABLE IF EXISTS {table}")

    def _frame(self, session: Any, relation: str, columns: list[str]) -> DataFrame:
        # Naming every column gives the frame a known schema with its exact spelling, as
        # Spark's reader does; `SELECT *` alone would leave it unresolved and lower-cased.
        F = self.functions
        frame = session.sql(f"SELECT * FROM {relation}", qualify=False)
        return frame.select(*[F.col(name).alias(name) for name in columns])

    def read_parquet(self, uri: str) -> DataFrame:
        session = self._activate()
        view = f"parquet_{next(self._views)}"
        files = _literal(str(Path(uri) / "*.parquet"))
        # The directory's own `dt=D` is a partition of the lake, not a column of the rows.
        self._run(
            f"CREATE TEMP VIEW {_quote(view)} AS "
            f"SELECT * FROM read_parquet({files}, hive_partitioning = false)"
        )
        columns = [row[0] for row in self._conn.execute(f"DESCRIBE {_quote(view)}").fetchall()]
        return self._frame(session, view, columns)

    def write_parquet(self, df: DataFrame, uri: str) -> None:
        self._activate()
        Path(uri).mkdir(parents=True, exist_ok=True)
        statements = df.sql(dialect="duckdb", optimize=False, pretty=False, as_list=True)
        for statement in statements[:-1]:
            self._run(statement)
        target = _literal(str(Path(uri) / "part-00000.parquet"))
        self._run(f"COPY ({statements[-1]}) TO {target} (FORMAT parquet, COMPRESSION zstd)")

    def _run(self, sql: str) -> None:
        try:
            self._conn.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise EngineError(f"duckdb: {exc}") from exc

    def close(self) -> None:
        from sqlframe.base.session import _BaseSession

        if _BaseSession._instance is self._session:
            _BaseSession._instance = None
        self._conn.close()
        shutil.rmtree(self._scratch, ignore_errors=True)
