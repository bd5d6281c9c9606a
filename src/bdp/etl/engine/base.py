"""The batch engine interface: a PySpark-API session plus raw reading and Parquet writing.

Transforms are written once against the PySpark DataFrame API and take the
`functions` module and `Window` from the engine, never from an import, so the same
code runs on SQLFrame's DuckDB session (embedded) and on a real SparkSession
(distributed). What differs between engines — how raw JSON lines are read, how an
intermediate result is kept for several tables to reuse, and how Parquet is read and
written — lives behind `read_raw`, `materialize`, `read_parquet` and `write_parquet`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeAlias

from bdp.datasets import Dataset
from bdp.errors import BdpError

__all__ = ["DataFrame", "Engine", "EngineCapabilities", "EngineError", "EngineUnavailableError"]

DataFrame: TypeAlias = Any
"""A PySpark-API DataFrame (SQLFrame's or PySpark's); typed loosely on purpose, since
the two libraries share an API but no base class."""


class EngineError(BdpError):
    """The engine failed to read, transform or write."""


class EngineUnavailableError(BdpError):
    """The engine is configured but bdp cannot run on it yet."""


@dataclass(frozen=True)
class EngineCapabilities:
    local_paths_only: bool
    """Reads and writes only local file paths, so the lake must offer local paths."""


class Engine(abc.ABC):
    name: str
    capabilities: EngineCapabilities

    @property
    @abc.abstractmethod
    def session(self) -> Any:
        """The PySpark-API session (SparkSession or SQLFrame's equivalent)."""

    @property
    @abc.abstractmethod
    def functions(self) -> ModuleType:
        """The `pyspark.sql.functions`-compatible module of this engine (`F`)."""

    @property
    @abc.abstractmethod
    def Window(self) -> Any:
        """The `pyspark.sql.Window`-compatible class of this engine."""

    @abc.abstractmethod
    def read_raw(self, dataset: Dataset, uris: list[str]) -> DataFrame:
        """The raw records of `uris` (JSON lines, compression from the extension) with
        every leaf read as a string, shaped by the dataset's raw schema. No files
        gives an empty frame with the same columns."""

    @abc.abstractmethod
    def materialize(self, df: DataFrame) -> DataFrame:
        """Compute `df` once and return a frame over the result, with the same column
        names and types, that later queries read instead of recomputing `df`.

        The runner materialises each day's typed events, so the raw JSON is parsed once
        and every table of the dataset is derived from the kept rows. DuckDB keeps them
        in a temporary table (buffer-managed: it spills to the engine's scratch
        directory beyond the memory limit); Spark will `persist()` the frame
        (memory and disk) and `count()` it to force the computation. The result lives
        until `release` or until the engine closes.
        """

    @abc.abstractmethod
    def release(self, df: DataFrame) -> None:
        """Free what `materialize` kept for `df` (Spark: `unpersist()`), so an engine
        that runs many days does not pile results up. `df` is unusable after."""

    @abc.abstractmethod
    def read_parquet(self, uri: str) -> DataFrame:
        """The rows of the Parquet files (`*.parquet`) in the directory `uri`, with the
        column names and types they were written with."""

    @abc.abstractmethod
    def write_parquet(self, df: DataFrame, uri: str) -> None:
        """Write `df` as Parquet files into the directory `uri` (created if absent)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the session and any scratch space; the engine is unusable after."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
