"""Datasets declared in `bdp.toml` (`[datasets.<name>]`), each by a JSON Schema file.

A declared dataset is a `Dataset` like the built-in ones, so the stream job, the ETL and
the collectors handle it the same way; only its raw schema comes from a file instead of
code. Reading and converting a schema costs milliseconds but happens for every command,
so the result is kept per configuration and schema file version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from bdp.config import DatasetSettings, Settings
from bdp.datasets.base import Dataset, Leaf
from bdp.datasets.from_jsonschema import SchemaError, convert_schema

__all__ = ["declared_dataset", "declared_datasets"]


def declared_datasets(settings: Settings, only: str | None = None) -> dict[str, Dataset]:
    """Every dataset the settings declare (or `only` the one so named), by name; an
    invalid schema raises `SchemaError` naming its dataset."""
    return {
        name: _cached(name, declared, _version(declared.schema_path))
        for name, declared in settings.datasets.items()
        if only is None or name == only
    }


def _version(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)  # `declared_dataset` names the missing file
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=256)
def _cached(name: str, declared: DatasetSettings, version: tuple[int, int]) -> Dataset:
    return declared_dataset(name, declared)


def declared_dataset(name: str, declared: DatasetSettings) -> Dataset:
    """The dataset `[datasets.<name>]` declares; its schema file is read now."""
    document = _read_schema(name, declared.schema_path)
    converted = convert_schema(document, name)
    leaves = {leaf.path: leaf for leaf in converted.leaves}
    event_time = _field(name, leaves, declared.event_time, "event_time")
    if event_time.sql_type != "timestamp":
        raise SchemaError(
            f"dataset {name!r}: event_time field {declared.event_time!r} must be a string"
            " with format 'date-time'"
        )
    for option, path in (("key", declared.key), ("id_field", declared.id_field)):
        if path is not None and _field(name, leaves, path, option).sql_type == "json":
            raise SchemaError(f"dataset {name!r}: {option} field {path!r} is not a scalar")
    return Dataset(
        name=name,
        raw_type=converted.struct,
        event_time=_reader(declared.event_time),
        key_field=declared.key,
        description=declared.description or str(document.get("description", "")),
        # The event time is checked and parsed by the stream job as every event time is.
        iso_leaves=tuple(leaf for leaf in converted.iso_leaves if leaf[0] != event_time.path),
        event_time_field=declared.event_time,
        id_field=declared.id_field,
        retention_days=declared.retention_days,
        transform_ref=declared.transform,
        schema_file=declared.schema_path,
        schema_document=document,
        leaves=converted.leaves,
    )


def _read_schema(name: str, path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaError(f"dataset {name!r}: no schema file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"dataset {name!r}: cannot read schema file {path}: {exc}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise SchemaError(f"dataset {name!r}: schema file {path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SchemaError(f"dataset {name!r}: schema file {path} does not hold a JSON object")
    return document


def _field(dataset: str, leaves: dict[str, Leaf], path: str, option: str) -> Leaf:
    if path not in leaves:
        raise SchemaError(
            f"dataset {dataset!r}: {option} field {path!r} is not declared in the schema"
            " (a field outside arrays, as a dotted path)"
        )
    return leaves[path]


def _reader(path: str) -> Callable[[Any], str | None]:
    """Reads the field at a dotted path of a record; None when it or a parent is absent."""
    steps = path.split(".")

    def read(record: Any) -> str | None:
        value = record
        for step in steps:
            value = getattr(value, step, None)
            if value is None:
                return None
        return str(value)

    return read
