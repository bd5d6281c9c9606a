"""Batch engines behind one interface, chosen by `etl.engine` in the settings.

`duckdb` (embedded, the default) runs transforms through SQLFrame; `spark` runs the
same transforms on a SparkSession (master `etl.spark_master`, extra settings
`etl.spark_conf`) and needs the `spark` extra.
"""

from __future__ import annotations

from collections.abc import Callable

from bdp.config import Settings
from bdp.errors import MissingExtraError, UnknownNameError
from bdp.etl.engine.base import (
    DataFrame,
    Engine,
    EngineCapabilities,
    EngineError,
    EngineUnavailableError,
)

__all__ = [
    "ENGINES",
    "DataFrame",
    "Engine",
    "EngineCapabilities",
    "EngineError",
    "EngineUnavailableError",
    "open_engine",
]


def _open_duckdb(settings: Settings) -> Engine:
    from bdp.etl.engine.duckdb import DuckDBEngine

    return DuckDBEngine(
        threads=settings.etl.threads,
        memory_limit_mb=settings.etl.memory_limit_mb,
        scratch_root=settings.paths.home / "tmp",
    )


def _open_spark(settings: Settings) -> Engine:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise MissingExtraError("pyspark", "spark") from None
    from bdp.etl.engine.spark import SparkEngine

    return SparkEngine(master=settings.etl.spark_master, conf=dict(settings.etl.spark_conf))


ENGINES: dict[str, Callable[[Settings], Engine]] = {"duckdb": _open_duckdb, "spark": _open_spark}


def open_engine(settings: Settings) -> Engine:
    try:
        factory = ENGINES[settings.etl.engine]
    except KeyError:
        raise UnknownNameError("engine", settings.etl.engine, list(ENGINES)) from None
    return factory(settings)
