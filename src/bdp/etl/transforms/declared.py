"""The transform of a dataset declared by a JSON Schema: no code, or one function.

Without code (the generic transform) a declared dataset has one curated table, named
after it: its typed events, one column per leaf (`Dataset.leaves`), each cast to its
declared type. With `transform = "package.module:function"` in its settings, the user's
function builds that table from the typed events:

    def function(events: DataFrame, F) -> DataFrame

where `F` is the engine's `pyspark.sql.functions`-compatible module. Written with the
PySpark DataFrame API, it runs on DuckDB (SQLFrame) and on Spark alike.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from bdp.datasets import Dataset
from bdp.datasets.base import Leaf
from bdp.errors import ConfigError
from bdp.etl.engine import DataFrame, Engine
from bdp.etl.transforms.base import Column, DropRule, TransformOptions, event_timestamp

__all__ = ["CustomTransform", "DeclaredTransform", "load_custom_transform", "typed_leaf"]

CustomTransform = Callable[[DataFrame, ModuleType], DataFrame]
"""A user's transform: the typed events and `F` in, the curated table out."""


class DeclaredTransform:
    """The same surface as a built-in transform module (`bdp.etl.transforms`)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.custom: CustomTransform | None = None
        if dataset.transform_ref is not None:
            self.custom = load_custom_transform(dataset.transform_ref, dataset)
        self.TABLES: tuple[str, ...] = (dataset.name,)
        # The generic table is the typed events as they are: written once, straight.
        self.EVENTS_TABLE: str | None = dataset.name if self.custom is None else None
        # A user's own transform may filter, aggregate or rename as it likes: only the
        # generic table is one row per record, and keyed by the dataset's `id_field`.
        self.RECORDS_TABLE: str | None = self.EVENTS_TABLE
        self.DROPS: dict[str, DropRule] = {}
        self.KEYS: dict[str, tuple[str, ...]] = {}
        if self.RECORDS_TABLE is not None:
            ids = [leaf.column for leaf in dataset.leaves if leaf.path == dataset.id_field]
            if ids:
                self.KEYS[self.RECORDS_TABLE] = (ids[0],)
        self.LEAF_COLUMNS: dict[str, str] = {}

    def typed(self, raw: DataFrame, engine: Engine, options: TransformOptions) -> DataFrame:
        F = engine.functions
        leaves = self.dataset.leaves
        zone = options.timezone
        return raw.select(*[typed_leaf(F, leaf, zone).alias(leaf.column) for leaf in leaves])

    def build(
        self, events: DataFrame, engine: Engine, options: TransformOptions
    ) -> dict[str, DataFrame]:
        if self.custom is None:
            return {self.dataset.name: events}
        return {self.dataset.name: self.custom(events, engine.functions)}


def typed_leaf(F: ModuleType, leaf: Leaf, timezone: str) -> Column:
    """The raw leaf (read as text) cast to its declared type. The stream job lands only
    values that type holds, so the cast cannot fail on a landed record."""
    text = F.col(leaf.path)
    kind = leaf.sql_type
    if kind == "timestamp":
        return event_timestamp(F, text, timezone)
    if kind == "json":
        return text.cast("string")
    if kind in ("int", "bigint"):
        # A whole number may come as `3.0` or `1e3` (DuckDB renders `1e3` as "1000.0"),
        # which Spark casts to an integer only by way of a double.
        as_float = text.contains(".") | text.contains("e") | text.contains("E")
        return F.when(as_float, text.cast("double").cast(kind)).otherwise(text.cast(kind))
    return text.cast(kind)


def load_custom_transform(ref: str, dataset: Dataset) -> CustomTransform:
    """The function `module:function` names; a module beside the dataset's schema file
    is found too. A missing module or function is a `ConfigError` naming `ref`."""
    module_name, _, function_name = ref.partition(":")
    extra = str(dataset.schema_file.parent) if dataset.schema_file is not None else None
    added = extra is not None and extra not in sys.path
    if added:
        sys.path.append(str(extra))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"dataset {dataset.name!r}: transform {ref!r}: cannot import {module_name!r}: {exc}"
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"dataset {dataset.name!r}: transform {ref!r}: importing {module_name!r} failed:"
            f" {type(exc).__name__}: {exc}"
        ) from None
    finally:
        if added:
            sys.path.remove(str(extra))
    function: Any = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(
            f"dataset {dataset.name!r}: transform {ref!r}: module {module_name!r} has no"
            f" function {function_name!r}"
        )
    custom: CustomTransform = function
    return custom
