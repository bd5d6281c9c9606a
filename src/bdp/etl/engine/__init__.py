"""Batch engines behind one interface, chosen by `etl.engine` in the settings.

`duckdb` (embedded, the default) runs transforms through SQLFrame; `spark` will run
the same transforms on a SparkSession and needs the `spark` extra.
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
    raise EngineUnavailableError("the spark engine is not available yet; set etl.engine = 'duckdb'")


ENGINES: dict[str, Callable[[Settings], Engine]] = {"duckdb": _open_duckdb, "spark": _open_spark}


def open_engine(settings: Settings) -> Engine:
    try:
        factory = ENGINES[settings.etl.engine]
    except KeyError:
        raise UnknownNameError("engine", settings.etl.engine, list(ENGINES)) from None
    return factory(settings)
