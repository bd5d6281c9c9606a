"""The distributed batch engine: a real SparkSession (the `spark` extra).

The same transforms that run on SQLFrame's DuckDB session run here unchanged. The
session runs in UTC, as the DuckDB engine does, writes Parquet timestamps as
microseconds adjusted to UTC (what DuckDB writes and reads back as `TIMESTAMPTZ`,
rather than Spark's legacy INT96), and binds its driver to the loopback address when
it runs locally.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from bdp.datasets import Dataset
from bdp.etl.engine import ENGINES
from bdp.etl.engine.base import DataFrame, Engine, EngineError
from bdp.etl.schema import RawField, raw_fields

__all__ = ["DEFAULT_CONF", "FIXED_CONF", "LOCAL_CONF", "SparkEngine", "spark_schema"]

DEFAULT_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "1g",
    "spark.sql.parquet.compression.codec": "zstd",
}
"""Settings for every session; `etl.spark_conf` overrides any of them."""

FIXED_CONF: dict[str, str] = {
    # Transforms turn zone-less local times into instants through a cast that reads the
    # session zone (`event_timestamp`); DuckDB runs in UTC, so Spark must too.
    "spark.sql.session.timeZone": "UTC",
    # Timestamps as INT64 microseconds adjusted to UTC, as DuckDB writes them (not
    # Spark's legacy INT96): the warehouse loads the same type from either engine.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
"""Settings the transforms' results depend on; `etl.spark_conf` cannot change them."""

LOCAL_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
"""A local session listens on the loopback address only."""


def spark_schema(fields: tuple[RawField, ...]) -> Any:
    """The raw schema as a Spark `StructType`: every leaf a string (an array or a free-form
    object too: Spark then reads its JSON text)."""
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType(
        [
            StructField(
                f.name, spark_schema(f.children) if f.nested else StringType(), nullable=True
            )
            for f in fields
        ]
    )


class SparkEngine(Engine):
    name = "spark"
    capabilities = ENGINES.capabilities(name)

    def __init__(
        self,
        *,
        master: str = "local[2]",
        conf: dict[str, str] | None = None,
        app_name: str = "bdp-etl",
    ) -> None:
        from pyspark.sql import SparkSession

        local = master.startswith("local")
        settings = {**DEFAULT_CONF, **(LOCAL_CONF if local else {}), **(conf or {}), **FIXED_CONF}
        builder = SparkSession.builder.master(master).appName(app_name)
        for key, value in settings.items():
            builder = builder.config(key, value)
        self._session = builder.getOrCreate()
        # getOrCreate hands back a running session as it is; the SQL settings still apply
        # (those that can change in a running session).
        for key, value in settings.items():
            if key.startswith("spark.sql.") and self._session.conf.isModifiable(key):
                self._session.conf.set(key, value)
        self._kept: dict[int, DataFrame] = {}

    @property
    def session(self) -> Any:
        return self._session

    @property
    def functions(self) -> ModuleType:
        from pyspark.sql import functions

        return functions

    @property
    def Window(self) -> Any:
        from pyspark.sql import Window

        return Window

    def read_raw(self, dataset: Dataset, uris: list[str]) -> DataFrame:
        schema = spark_schema(raw_fields(dataset))
        if not uris:
            return self._session.createDataFrame([], schema)
        # Compression follows each file's extension (Hadoop codecs: .gz, .zst, .bz2). A
        # malformed line fails the read, as it does on DuckDB, instead of becoming NULLs.
        return self._session.read.schema(schema).option("mode", "FAILFAST").json(uris)

    def materialize(self, df: DataFrame) -> DataFrame:
        from pyspark import StorageLevel

        kept = df.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            kept.count()
        except Exception as exc:
            kept.unpersist()
            raise EngineError(f"spark: {_reason(exc)}") from exc
        self._kept[id(kept)] = kept
        return kept

    def release(self, df: DataFrame) -> None:
        kept = self._kept.pop(id(df), None)
        if kept is not None:
            kept.unpersist()

    def read_parquet(self, uri: str) -> DataFrame:
        # Spark skips `_SUCCESS` and hidden files itself.
        try:
            return self._session.read.parquet(uri)
        except Exception as exc:
            raise EngineError(f"spark: {_reason(exc)}") from exc

    def write_parquet(self, df: DataFrame, uri: str) -> None:
        # A directory of part files, plus `_SUCCESS` and hidden `.crc` files, which the
        # runner skips: it loads only `*.parquet`.
        try:
            df.write.mode("overwrite").parquet(uri)
        except Exception as exc:
            raise EngineError(f"spark: {_reason(exc)}") from exc

    def close(self) -> None:
        for kept in self._kept.values():
            kept.unpersist()
        self._kept.clear()
        self._session.stop()


def _reason(exc: Exception) -> str:
    """The gist of a Spark error: its first lines, without the JVM stack trace."""
    lines = [line for line in str(exc).splitlines() if line.strip() and "\tat " not in line]
    return " ".join(lines[:3])[:1000]
