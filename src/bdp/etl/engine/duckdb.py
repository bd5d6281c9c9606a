"""The embedded batch engine: SQLFrame's DuckDB session on an in-memory DuckDB.

Raw JSON lines are parsed once into a scratch Parquet file of string columns, so a
dataset that builds several tables from one day parses its JSON once, and later
reads touch only the columns they use. Scratch files live until the engine closes.
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
from bdp.etl.engine.base import DataFrame, Engine, EngineCapabilities, EngineError
from bdp.etl.schema import RawField, raw_fields

__all__ = ["DuckDBEngine", "duckdb_type"]

BUFFER_POOL_SHARE = 0.75
"""Share of the ETL's memory budget given to DuckDB's buffer pool. Its limit covers
only the pool; Python, query results and the warehouse load in the same process need
the rest, so the process as a whole stays within `etl.memory_limit_mb`."""

MAX_RECORD_BYTES = 16 * 1024 * 1024
"""Largest JSON line DuckDB will parse; above the collector's own limit."""


def duckdb_type(field: RawField) -> str:
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
    capabilities = EngineCapabilities(distributed=False, local_paths_only=True)

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

        _BaseSession._instance = self._session
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
            staged = self._scratch / f"{view}.parquet"
            self._run(
                f"COPY (SELECT * FROM read_json({files}, format = 'newline_delimited', "
                f"compression = 'auto', columns = {columns}, "
                f"maximum_object_size = {MAX_RECORD_BYTES})) "
                f"TO {_literal(str(staged))} (FORMAT parquet, COMPRESSION lz4_raw)"
            )
            source = f"SELECT * FROM read_parquet({_literal(str(staged))})"
        else:
            nulls = ", ".join(f"CAST(NULL AS {duckdb_type(f)}) AS {_quote(f.name)}" for f in fields)
            source = f"SELECT {nulls} WHERE false"
        self._run(f"CREATE TEMP VIEW {_quote(view)} AS {source}")
        # Naming every column gives the frame a known schema with the wire's spelling, as
        # Spark's reader does; `SELECT *` alone would leave it unresolved and lower-cased.
        F = self.functions
        frame = session.sql(f"SELECT * FROM {view}", qualify=False)
        return frame.select(*[F.col(f.name).alias(f.name) for f in fields])

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
