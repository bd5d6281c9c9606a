"""Which changes a declared dataset's schema may go through once it holds data.

The first time the stream job or the ETL uses a declared dataset, its columns (path,
type, required) are recorded in the data home (`datasets/<name>.schema.json`). A later
schema may only add optional fields: older days then read NULL in the new column (the
warehouse adds it when a day first carries it). Removing a field, changing its type or
making a field required would leave landed days that the new schema cannot read, or a
warehouse column that no longer means one thing, so it is refused, naming the field,
before anything lands or loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bdp.config import Settings
from bdp.datasets.base import Dataset
from bdp.errors import BdpError
from bdp.localfs import atomic_write

__all__ = ["SchemaChangeError", "check_schema_change", "recorded_schema_path", "schema_changes"]


class SchemaChangeError(BdpError):
    """A declared dataset's schema changed in a way its landed data cannot follow."""


def recorded_schema_path(settings: Settings, dataset: str) -> Path:
    return settings.paths.home / "datasets" / f"{dataset}.schema.json"


def _columns(dataset: Dataset) -> dict[str, dict[str, Any]]:
    return {
        leaf.path: {"type": leaf.sql_type, "required": leaf.required} for leaf in dataset.leaves
    }


def schema_changes(
    recorded: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]
) -> list[str]:
    """What makes `current` columns an unacceptable successor of `recorded` ones."""
    problems = []
    for path, was in recorded.items():
        now = current.get(path)
        if now is None:
            problems.append(f"field {path!r} was removed")
        elif now["type"] != was["type"]:
            problems.append(f"field {path!r} changed type from {was['type']} to {now['type']}")
        elif now["required"] and not was["required"]:
            problems.append(f"field {path!r} became required")
    problems.extend(
        f"new field {path!r} is required (a new field must be optional)"
        for path, now in current.items()
        if path not in recorded and now["required"]
    )
    return problems


def check_schema_change(settings: Settings, dataset: Dataset) -> None:
    """Record the dataset's columns on first use; later, refuse a change other than
    new optional fields (`SchemaChangeError`), and record an accepted one."""
    path = recorded_schema_path(settings, dataset.name)
    current = _columns(dataset)
    if path.exists():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))["columns"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SchemaChangeError(
                f"dataset {dataset.name!r}: the recorded schema {path} is unreadable ({exc});"
                " remove it to record the current one"
            ) from None
        problems = schema_changes(recorded, current)
        if problems:
            raise SchemaChangeError(
                f"dataset {dataset.name!r}: schema change refused: {'; '.join(problems)}"
                f" (only new optional fields may be added to a dataset with data; the schema"
                f" it was first used with is recorded in {path})"
            )
        if recorded == current:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "dataset": dataset.name,
        "columns": current,
        "schema": dataset.schema_document,
    }
    atomic_write(path, json.dumps(record, indent=2).encode() + b"\n")
