"""One transform per dataset, each written once with the PySpark DataFrame API.

A transform module exposes `TABLES` (the tables it builds, all partitioned by the
processed day `dt`) and two steps:

- `typed(raw, engine, options)`: exactly one row per raw record, every cast done, with
  every column any of its tables needs. The raw JSON is parsed and cast once per day.
- `build(events, engine, options)`: maps each table name to a DataFrame derived from
  the typed rows, without a `dt` column: the day is the directory partition.

and `EVENTS_TABLE`, the table that is `typed()` column for column, or None. When there
is one, the runner writes the typed rows straight into that table's Parquet and builds
the other tables from those files, so the day is encoded once on its way to them; when
there is none, it keeps the typed rows with `Engine.materialize`.

What the quality checks hold each transform to (`bdp.quality`) is declared beside it:

- `RECORDS_TABLE`: the table with one row per raw record, less the rows `DROPS` leave
  out (None when no table is: a user's own transform);
- `DROPS`: rule name → `DropRule`, the condition on typed rows that the records table
  leaves out. `build` applies them with `kept_rows`, and the ETL counts what each
  dropped with `dropped_rows`, so a rule is written once;
- `KEYS`: table → the columns that identify a row of it, where some do;
- `LEAF_COLUMNS`: raw leaf (dotted path) → its column in the records table, where it
  is not the path with `.` as `_`.

A dataset declared in `bdp.toml` has no module: `get_transform(name, settings)` gives it
a `DeclaredTransform` with the same surface (`bdp.etl.transforms.declared`).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from bdp.errors import UnknownNameError
from bdp.etl.transforms import adlogs, gamelogs, hotellogs, lostarklogs, weblogs
from bdp.etl.transforms.base import TransformOptions

if TYPE_CHECKING:
    from bdp.config import Settings
    from bdp.etl.transforms.declared import DeclaredTransform

__all__ = ["TRANSFORMS", "TransformOptions", "get_transform"]

TRANSFORMS: dict[str, ModuleType] = {
    "gamelogs": gamelogs,
    "hotellogs": hotellogs,
    "lostarklogs": lostarklogs,
    "adlogs": adlogs,
    "weblogs": weblogs,
}


def get_transform(dataset: str, settings: Settings | None = None) -> ModuleType | DeclaredTransform:
    """The transform of a built-in dataset, or with `settings` of a declared one too."""
    if dataset in TRANSFORMS:
        return TRANSFORMS[dataset]
    if settings is not None and dataset in settings.datasets:
        from bdp.datasets import get_dataset
        from bdp.etl.transforms.declared import DeclaredTransform

        return DeclaredTransform(get_dataset(dataset, settings))
    known = [*TRANSFORMS, *(settings.datasets if settings is not None else ())]
    raise UnknownNameError("transform", dataset, known)
