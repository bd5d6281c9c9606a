"""Batch engines behind one interface, chosen by `etl.engine` in the settings (`ENGINES`).

`duckdb` (embedded, the default) runs transforms through SQLFrame; `spark` runs the
same transforms on a SparkSession (master `etl.spark_master`, extra settings
`etl.spark_conf`) and needs the `spark` extra.
"""

from __future__ import annotations

from bdp.config import Settings
from bdp.etl.engine.base import (
    DataFrame,
    Engine,
    EngineCapabilities,
    EngineError,
    EngineUnavailableError,
)
from bdp.registry import Registry

__all__ = [
    "ENGINES",
    "DataFrame",
    "Engine",
    "EngineCapabilities",
    "EngineError",
    "EngineUnavailableError",
    "open_engine",
]

ENGINES: Registry[Engine, EngineCapabilities] = Registry("engine")
"""Batch engines by name; each factory takes the `Settings`."""


@ENGINES.register("duckdb", EngineCapabilities(local_paths_only=True))
def _open_duckdb(settings: Settings) -> Engine:
    from bdp.etl.engine.duckdb import DuckDBEngine

    return DuckDBEngine(
        threads=settings.etl.threads,
        memory_limit_mb=settings.etl.memory_limit_mb,
        scratch_root=settings.paths.home / "tmp",
    )


@ENGINES.register(
    "spark", EngineCapabilities(local_paths_only=False), requires="pyspark", extra="spark"
)
def _open_spark(settings: Settings) -> Engine:
    from bdp.etl.engine.spark import SparkEngine
    from bdp.warehouse import spark_session_conf

    # One SparkSession per process: when the warehouse is a catalog of it, the engine
    # builds it with the warehouse's settings, whichever of the two comes first.
    conf = {**settings.etl.spark_conf, **spark_session_conf(settings)}
    return SparkEngine(master=settings.etl.spark_master, conf=conf)


def open_engine(settings: Settings) -> Engine:
    return ENGINES.open(settings.etl.engine, settings)
