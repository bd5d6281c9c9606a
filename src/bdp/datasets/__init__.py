"""The datasets bdp knows: the five built-in ones (SCENARIOS §3–§7) and any declared in
`bdp.toml` by a JSON Schema (`[datasets.<name>]`, `bdp.datasets.declared`).

`DATASETS` holds the built-in ones, the only ones with simulators; everything that must
see a user's datasets too (the stream job, the ETL, status, collectors) asks
`load_datasets(settings)` or `get_dataset(name, settings)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bdp.datasets import adlogs, gamelogs, hotellogs, lostarklogs, weblogs
from bdp.datasets.base import Dataset, format_timestamp
from bdp.errors import UnknownNameError

if TYPE_CHECKING:
    from bdp.config import Settings

__all__ = ["DATASETS", "Dataset", "format_timestamp", "get_dataset", "load_datasets"]

DATASETS: dict[str, Dataset] = {
    module.DATASET.name: module.DATASET
    for module in (gamelogs, hotellogs, lostarklogs, adlogs, weblogs)
}


def load_datasets(settings: Settings) -> dict[str, Dataset]:
    """Built-in and declared datasets by name; a declared one whose schema is invalid
    raises `SchemaError` (a `ConfigError`) naming it."""
    from bdp.datasets.declared import declared_datasets

    return {**DATASETS, **declared_datasets(settings)}


def get_dataset(name: str, settings: Settings | None = None) -> Dataset:
    """The dataset called `name`: a built-in one, or with `settings` a declared one too."""
    if name in DATASETS:
        return DATASETS[name]
    if settings is not None and name in settings.datasets:
        from bdp.datasets.declared import declared_datasets

        return declared_datasets(settings, only=name)[name]
    known = [*DATASETS, *(settings.datasets if settings is not None else ())]
    raise UnknownNameError("dataset", name, known)
